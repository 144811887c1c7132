/*
 * fuzz_ndjson.c: libFuzzer target for NDJSON framing, the first thing that
 * touches every byte a peer process sends.
 *
 * Input: byte 0 picks maxline (small, so overlong lines are common), byte 1
 * seeds how the rest is cut into writes; the rest is the stream. It goes
 * through a real socketpair in those chunks, the reader drains after each
 * write, then the writer closes. Every outcome is checked against a
 * reference model computed from the whole stream at once, so a chunking
 * that changes the result is a finding, not only a crash.
 *
 * The send side: every line read goes out again through a writer whose
 * maxsend (it may differ from maxline: servers answer longer than they read)
 * and maxqueue come from byte 1. A line is queued whole or refused whole
 * (EINVAL over maxsend, ENOBUFS over the queue), and what arrives at the
 * other end is exactly the accepted lines.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ndjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Outcomes, in order: 'L' + line, or 'M' (EMSGSIZE) / 'N' (EILSEQ). */
struct outcomes {
	char	*buf;
	size_t	 len, cap;
};

static void
out_add(struct outcomes *o, char kind, const char *p, size_t len)
{
	size_t need = o->len + 1 + len + sizeof(size_t);

	if (need > o->cap) {
		o->cap = need * 2;
		if ((o->buf = realloc(o->buf, o->cap)) == NULL)
			abort();
	}
	o->buf[o->len++] = kind;
	memcpy(o->buf + o->len, &len, sizeof(len));
	o->len += sizeof(len);
	memcpy(o->buf + o->len, p, len);
	o->len += len;
}

/*
 * What a correct framer yields for the stream s: lines split on '\n',
 * empty ones skipped, longer than maxline an error, holding NUL an error;
 * an unterminated tail is an error if overlong (it was seen as such before
 * EOF), else silently dropped and counted.
 */
static void
reference(const char *s, size_t n, size_t maxline, struct outcomes *o,
    unsigned long *truncated)
{
	const char *p = s, *end = s + n, *nl;
	size_t l;

	*truncated = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		l = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		if (nl == NULL) {
			if (l > maxline)
				out_add(o, 'M', "", 0);
			else if (l > 0)
				(*truncated)++;
			break;
		}
		if (l > maxline)
			out_add(o, 'M', "", 0);
		else if (l > 0 && memchr(p, '\0', l) != NULL)
			out_add(o, 'N', "", 0);
		else if (l > 0)
			out_add(o, 'L', p, l);
		p = nl + 1;
	}
}

static void
drain(struct ndjson *n, struct outcomes *o)
{
	char *line;
	size_t len;
	int r;

	while ((r = ndjson_next(n, &line, &len)) != 0) {
		if (r == 1) {
			if (len > n->maxline || line[len] != '\0' ||
			    memchr(line, '\n', len) != NULL || memchr(line, '\0', len) != NULL)
				abort();
			out_add(o, 'L', line, len);
		} else if (errno == EMSGSIZE)
			out_add(o, 'M', "", 0);
		else if (errno == EILSEQ)
			out_add(o, 'N', "", 0);
		else
			abort();
	}
}

/* Append len bytes and a '\n' to o (a plain byte buffer here). */
static void
bytes_add(struct outcomes *o, const char *p, size_t len)
{
	if (o->len + len + 1 > o->cap) {
		o->cap = (o->len + len + 1) * 2;
		if ((o->buf = realloc(o->buf, o->cap)) == NULL)
			abort();
	}
	memcpy(o->buf + o->len, p, len);
	o->len += len;
	o->buf[o->len++] = '\n';
}

static void
resend(const struct outcomes *got, size_t maxsend, size_t maxqueue)
{
	struct outcomes sent = { NULL, 0, 0 };
	struct ndjson w;
	size_t off = 0, len, before, rlen = 0;
	char *line, *rbuf;
	ssize_t r;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1 ||
	    ndjson_init(&w, sv[0], sv[0], 0, maxqueue) == -1)
		abort();
	w.maxsend = maxsend;
	while (off < got->len) {
		memcpy(&len, got->buf + off + 1, sizeof(len));
		line = got->buf + off + 1 + sizeof(len);
		if (got->buf[off] == 'L') {
			before = w.qbytes;
			rc = ndjson_send(&w, line, len);
			if (len > maxsend ? rc != -1 || errno != EINVAL :
			    before + len + 1 > maxqueue ? rc != -1 || errno != ENOBUFS : rc != 0)
				abort();
			if (w.qbytes != (rc == 0 ? before + len + 1 : before))
				abort();
			if (rc == 0)
				bytes_add(&sent, line, len);
		}
		off += 1 + sizeof(len) + len;
	}
	/* maxqueue is below a socket buffer: one flush writes it all. */
	if (ndjson_flush(&w) == -1 || ndjson_pending(&w))
		abort();
	if ((rbuf = malloc(sent.len + 1)) == NULL)
		abort();
	while (rlen < sent.len && (r = read(sv[1], rbuf + rlen, sent.len - rlen)) > 0)
		rlen += (size_t)r;
	if (rlen != sent.len || (rlen > 0 && memcmp(rbuf, sent.buf, rlen) != 0))
		abort();
	free(rbuf);
	free(sent.buf);
	ndjson_free(&w);
	close(sv[0]);
	close(sv[1]);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcomes got = { NULL, 0, 0 }, want = { NULL, 0, 0 };
	const char *s;
	struct ndjson n;
	unsigned long truncated;
	uint32_t rng;
	size_t maxline, off = 0, chunk, len;
	ssize_t r;
	int sv[2];

	if (size < 2)
		return 0;
	maxline = 1 + data[0] % 48;
	rng = 0x9e3779b9u ^ data[1];
	s = (const char *)data + 2;
	len = size - 2;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == -1)
		abort();
	if (ndjson_init(&n, sv[0], sv[0], maxline, 0) == -1)
		abort();
	while (off < len) {
		rng ^= rng << 13;
		rng ^= rng >> 17;
		rng ^= rng << 5;
		chunk = 1 + rng % 97;
		if (chunk > len - off)
			chunk = len - off;
		if (write(sv[1], s + off, chunk) != (ssize_t)chunk)
			abort();
		off += chunk;
		while ((r = ndjson_read(&n)) > 0)
			drain(&n, &got);
		if (r == -1 && errno != EAGAIN)
			abort();
	}
	close(sv[1]);
	while ((r = ndjson_read(&n)) > 0)
		drain(&n, &got);
	if (r != 0 || !n.eof)
		abort();
	drain(&n, &got);
	reference(s, len, maxline, &want, &truncated);
	if (got.len != want.len || (got.len > 0 && memcmp(got.buf, want.buf, got.len) != 0))
		abort();
	if (n.truncated != truncated)
		abort();
	resend(&got, 1 + data[1] % 64, 16 + (size_t)data[1] * 8);
	ndjson_free(&n);
	close(sv[0]);
	free(got.buf);
	free(want.buf);
	return 0;
}

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
	ndjson_free(&n);
	close(sv[0]);
	free(got.buf);
	free(want.buf);
	return 0;
}

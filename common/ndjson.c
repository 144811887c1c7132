/*
 * ndjson.c: newline-delimited framing over non-blocking fds.
 *
 * Input: one buffer. Unconsumed bytes are rbuf[rstart, rlen); the bytes
 * [rstart, rscan) are known to hold no '\n', so a line that arrives one byte
 * per read is not rescanned from its start each time. A returned line is
 * terminated in place (its '\n' becomes NUL) and stays valid until the next
 * call; the consumed prefix is dropped by moving the (short) unconsumed tail
 * down only when the free space runs low, so the cost stays linear in the
 * bytes received however many lines one read brings.
 *
 * Output: a list of chunks, each filled with as many lines as fit, written
 * with writev/sendmsg so that many small lines cost few system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ndjson.h"
#include "sock.h"

#define NDJSON_READ_ROOM  (64 * 1024)	/* read at least this much at a time */
#define NDJSON_CHUNK      (64 * 1024)	/* output chunk size for small lines */
#define NDJSON_IOV        64		/* chunks per writev */

struct ndjson_chunk {
	struct ndjson_chunk *next;
	size_t	 len, cap;
	char	 data[];
};

int
ndjson_init(struct ndjson *n, int rfd, int wfd, size_t maxline, size_t maxqueue)
{
	memset(n, 0, sizeof(*n));
	n->rfd = rfd;
	n->wfd = wfd;
	n->maxline = maxline != 0 ? maxline : NDJSON_MAX_LINE;
	n->maxqueue = maxqueue != 0 ? maxqueue : NDJSON_MAX_QUEUE;
	n->maxsend = n->maxline;
	/* The arithmetic below adds small constants to maxline. */
	if (n->maxline > ((size_t)-1) / 4) {
		errno = EINVAL;
		return -1;
	}
	if (rfd >= 0 && fd_set_nonblock(rfd) == -1)
		return -1;
	if (wfd >= 0 && wfd != rfd && fd_set_nonblock(wfd) == -1)
		return -1;
	return 0;
}

void
ndjson_free(struct ndjson *n)
{
	struct ndjson_chunk *c, *next;

	for (c = n->qhead; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	free(n->rbuf);
	n->rbuf = NULL;
	n->qhead = n->qtail = NULL;
	n->rlen = n->rcap = n->rscan = n->rstart = 0;
	n->qbytes = n->qoff = 0;
}

/*
 * Make room at the end of rbuf: drop the consumed prefix when it pays, grow
 * up to one maximal line plus a read's worth. Returns the free bytes (0 when
 * the buffer is full of lines the caller has not taken yet), -1 on ENOMEM.
 */
static ssize_t
ndjson_make_room(struct ndjson *n)
{
	size_t maxcap = n->maxline + 1 + NDJSON_READ_ROOM;
	size_t want;
	char *p;

	if (n->rstart == n->rlen) {
		n->rstart = n->rscan = n->rlen = 0;
	} else if (n->rstart > 0 && n->rcap - n->rlen < NDJSON_READ_ROOM) {
		memmove(n->rbuf, n->rbuf + n->rstart, n->rlen - n->rstart);
		n->rlen -= n->rstart;
		n->rscan -= n->rstart;
		n->rstart = 0;
	}
	if (n->rcap - n->rlen < NDJSON_READ_ROOM && n->rcap < maxcap) {
		want = n->rcap == 0 ? 2 * NDJSON_READ_ROOM : 2 * n->rcap;
		if (want > maxcap)
			want = maxcap;
		if ((p = realloc(n->rbuf, want)) == NULL)
			return -1;
		n->rbuf = p;
		n->rcap = want;
	}
	return (ssize_t)(n->rcap - n->rlen);
}

/*
 * At EOF a line without its '\n' is incomplete: the peer died mid-write.
 * Drop it (counted) so it can never be taken for a whole message.
 */
static void
ndjson_drop_partial(struct ndjson *n)
{
	char *last;

	if (n->discarding) {
		n->discarding = 0;
		n->rstart = n->rscan = n->rlen;
		return;
	}
	if (n->rlen == n->rstart)
		return;
	last = memrchr(n->rbuf + n->rstart, '\n', n->rlen - n->rstart);
	if (last == NULL) {
		n->truncated++;
		n->rlen = n->rstart;
	} else if ((size_t)(last - n->rbuf) + 1 < n->rlen) {
		n->truncated++;
		n->rlen = (size_t)(last - n->rbuf) + 1;
	}
	if (n->rscan > n->rlen)
		n->rscan = n->rlen;
}

ssize_t
ndjson_read(struct ndjson *n)
{
	ssize_t room, r;

	if (n->eof)
		return 0;
	if ((room = ndjson_make_room(n)) == -1)
		return -1;
	if (room == 0) {
		errno = ENOBUFS;
		return -1;
	}
	do
		r = read(n->rfd, n->rbuf + n->rlen, (size_t)room);
	while (r == -1 && errno == EINTR);
	if (r == -1) {
		if (errno == EWOULDBLOCK)
			errno = EAGAIN;
		return -1;
	}
	if (r == 0) {
		n->eof = 1;
		ndjson_drop_partial(n);
		return 0;
	}
	n->rlen += (size_t)r;
	return r;
}

/* Skip to just past the next '\n'; 1 when found, 0 when more is needed. */
static int
ndjson_skip_overlong(struct ndjson *n)
{
	char *nl;

	nl = memchr(n->rbuf + n->rscan, '\n', n->rlen - n->rscan);
	if (nl == NULL) {
		n->rstart = n->rscan = n->rlen;
		return 0;
	}
	n->rstart = n->rscan = (size_t)(nl - n->rbuf) + 1;
	n->discarding = 0;
	return 1;
}

int
ndjson_next(struct ndjson *n, char **line, size_t *len)
{
	char *nl, *s;
	size_t l;

	for (;;) {
		if (n->discarding && !ndjson_skip_overlong(n))
			return 0;
		nl = n->rlen > n->rscan ?
		    memchr(n->rbuf + n->rscan, '\n', n->rlen - n->rscan) : NULL;
		if (nl == NULL) {
			n->rscan = n->rlen;
			if (n->rlen - n->rstart > n->maxline) {
				/* Report once, then eat the rest of it as it comes. */
				n->overlong++;
				n->discarding = 1;
				n->rstart = n->rscan = n->rlen;
				errno = EMSGSIZE;
				return -1;
			}
			return 0;
		}
		s = n->rbuf + n->rstart;
		l = (size_t)(nl - s);
		n->rstart = n->rscan = (size_t)(nl - n->rbuf) + 1;
		if (l == 0)
			continue;
		if (l > n->maxline) {
			n->overlong++;
			errno = EMSGSIZE;
			return -1;
		}
		if (memchr(s, '\0', l) != NULL) {
			n->badbytes++;
			errno = EILSEQ;
			return -1;
		}
		*nl = '\0';
		*line = s;
		*len = l;
		n->lines_in++;
		return 1;
	}
}

/* Append bytes to the queue tail, opening a new chunk when needed. */
static int
ndjson_append(struct ndjson *n, const char *p, size_t len, int newline)
{
	struct ndjson_chunk *c = n->qtail;
	size_t need = len + (newline ? 1 : 0), cap;

	if (c == NULL || c->cap - c->len < need) {
		cap = need > NDJSON_CHUNK ? need : NDJSON_CHUNK;
		if ((c = malloc(sizeof(*c) + cap)) == NULL)
			return -1;
		c->next = NULL;
		c->len = 0;
		c->cap = cap;
		if (n->qtail != NULL)
			n->qtail->next = c;
		else
			n->qhead = c;
		n->qtail = c;
	}
	memcpy(c->data + c->len, p, len);
	c->len += len;
	if (newline)
		c->data[c->len++] = '\n';
	n->qbytes += need;
	return 0;
}

int
ndjson_send(struct ndjson *n, const char *line, size_t len)
{
	if (len > n->maxsend || memchr(line, '\n', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (n->qbytes + len + 1 > n->maxqueue) {
		errno = ENOBUFS;
		return -1;
	}
	if (ndjson_append(n, line, len, 1) == -1)
		return -1;
	n->lines_out++;
	return 0;
}

int
ndjson_send_json(struct ndjson *n, const cJSON *j)
{
	char *s;
	int rc, saved;

	if ((s = cJSON_PrintUnformatted(j)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	rc = ndjson_send(n, s, strlen(s));
	saved = errno;
	cJSON_free(s);
	errno = saved;
	return rc;
}

/*
 * One gathered write. sendmsg with MSG_NOSIGNAL keeps a vanished socket
 * peer an EPIPE error instead of a signal; pipes (--stdio) take writev,
 * where the loop has SIGPIPE ignored.
 */
static ssize_t
ndjson_writev(struct ndjson *n, struct iovec *iov, int cnt)
{
	struct msghdr mh;
	ssize_t w;

	if (!n->wnotsock) {
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = iov;
		mh.msg_iovlen = (size_t)cnt;
		w = sendmsg(n->wfd, &mh, MSG_NOSIGNAL);
		if (w != -1 || errno != ENOTSOCK)
			return w;
		n->wnotsock = 1;
	}
	return writev(n->wfd, iov, cnt);
}

/* Drop w written bytes from the queue head. */
static void
ndjson_consume(struct ndjson *n, size_t w)
{
	struct ndjson_chunk *c;
	size_t left;

	n->qbytes -= w;
	while (w > 0 && (c = n->qhead) != NULL) {
		left = c->len - n->qoff;
		if (w < left) {
			n->qoff += w;
			return;
		}
		w -= left;
		n->qoff = 0;
		n->qhead = c->next;
		if (n->qhead == NULL)
			n->qtail = NULL;
		free(c);
	}
}

int
ndjson_flush(struct ndjson *n)
{
	struct iovec iov[NDJSON_IOV];
	struct ndjson_chunk *c;
	ssize_t w;
	int cnt;

	while (n->qhead != NULL) {
		cnt = 0;
		for (c = n->qhead; c != NULL && cnt < NDJSON_IOV; c = c->next) {
			iov[cnt].iov_base = c->data + (cnt == 0 ? n->qoff : 0);
			iov[cnt].iov_len = c->len - (cnt == 0 ? n->qoff : 0);
			cnt++;
		}
		w = ndjson_writev(n, iov, cnt);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -1;
		}
		ndjson_consume(n, (size_t)w);
	}
	return 0;
}

int
ndjson_pending(const struct ndjson *n)
{
	return n->qhead != NULL;
}

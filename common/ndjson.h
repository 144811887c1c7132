/*
 * ndjson.h: newline-delimited JSON framing over a non-blocking fd (socket
 * or pipe). Reading is partial-safe; every line has a hard maximum; output
 * is a bounded queue so a slow peer cannot make us grow without limit.
 */
#ifndef NDJSON_H
#define NDJSON_H

#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#define NDJSON_MAX_LINE  (1024 * 1024)		/* default per-line maximum */
#define NDJSON_MAX_QUEUE (16 * 1024 * 1024)	/* default output queue maximum */

struct ndjson_chunk;

struct ndjson {
	int	 rfd, wfd;	/* same fd for sockets; 0 and 1 for --stdio */
	size_t	 maxline, maxqueue;
	char	*rbuf;
	size_t	 rlen, rcap, rscan;
	int	 discarding;	/* inside an overlong line: drop to next '\n' */
	int	 eof;
	struct ndjson_chunk *qhead, *qtail;
	size_t	 qbytes, qoff;	/* bytes queued; offset into qhead */
	unsigned long lines_in, lines_out, overlong, badbytes;
	size_t	 rstart;	/* first unconsumed byte of rbuf */
	unsigned long truncated;	/* partial lines dropped at EOF */
	int	 wnotsock;	/* wfd is a pipe: writev, not sendmsg */
	size_t	 maxsend;	/* longest line ndjson_send takes; init: maxline */
};

/*
 * maxline/maxqueue of 0 take the defaults. Sets both fds non-blocking.
 * maxsend starts as maxline; a server whose answers may be longer than the
 * requests it reads raises it (up to maxqueue) after init.
 */
int	 ndjson_init(struct ndjson *, int rfd, int wfd, size_t maxline, size_t maxqueue);
/* Frees buffers; does not close the fds. */
void	 ndjson_free(struct ndjson *);

/*
 * Read what the fd has. Returns bytes read (>0), 0 on EOF (n->eof set;
 * a final line without its '\n' is dropped and counted in truncated),
 * -1 with errno EAGAIN when nothing is there, ENOBUFS when the buffer is
 * full of complete lines not yet taken with ndjson_next, -1 on error.
 * Take every line with ndjson_next after each read.
 */
ssize_t	 ndjson_read(struct ndjson *);

/*
 * Next complete line. Returns 1 with *line (NUL-terminated, no '\n',
 * valid until the next ndjson_* call) and *len; 0 when no full line is
 * buffered; -1 when a bad line was discarded: errno EMSGSIZE (longer than
 * maxline; the rest of it up to the next '\n' is skipped too) or EILSEQ
 * (contains a NUL byte). Call again after -1: the stream has resynchronised.
 * Empty lines are skipped.
 */
int	 ndjson_next(struct ndjson *, char **line, size_t *len);

/*
 * Queue one line (a '\n' is appended; line must not contain one).
 * Returns 0, or -1 with errno ENOBUFS when the queue would exceed maxqueue
 * (nothing queued) or EINVAL when the line holds '\n' or exceeds maxsend.
 */
int	 ndjson_send(struct ndjson *, const char *line, size_t len);
/* cJSON_PrintUnformatted + ndjson_send. */
int	 ndjson_send_json(struct ndjson *, const cJSON *);
/*
 * Write as much of the queue as the fd takes. 0 ok (maybe partial), -1 error
 * (EPIPE...). Sockets are written with MSG_NOSIGNAL; for pipes SIGPIPE must
 * be ignored (loop_new does that).
 */
int	 ndjson_flush(struct ndjson *);
/* Non-zero while output is queued (poll for POLLOUT). */
int	 ndjson_pending(const struct ndjson *);

#endif

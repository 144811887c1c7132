/*
 * srv.h: the one NDJSON server of the daemons: a listening Unix socket (or
 * stdin/stdout for --stdio), its clients with their read and write queues
 * (common/ndjson.c), POLLOUT asked only while output is queued, dead
 * clients reaped before the next poll, an end-of-input policy the caller
 * chooses, and each line's "op" dispatched through a {name, handler} table.
 *
 * A malformed line (too long, a NUL byte, not a JSON object, no string op,
 * an op not in the table) is counted, logged (rate-limited) and dropped;
 * the caller's on_bad hook may answer it. Handlers report their own bad
 * lines (a field missing or out of range) with srv_bad_line, the same way.
 *
 * A client is never freed under a caller: closing only marks it, and the
 * prepare pass frees it (after on_close), so pointers stay valid until the
 * loop polls again.
 */
#ifndef SRV_H
#define SRV_H

#include <stddef.h>
#include <sys/types.h>
#include <cjson/cJSON.h>

#include "ndjson.h"

#define SRV_MAX_CLIENTS	64	/* default cap on connections at once */

struct loop;
struct srv;
struct srv_client;

/* What the end of a client's input means. */
enum srv_eof {
	SRV_EOF_CLOSE,	/* close at once; output still queued is dropped */
	SRV_EOF_DRAIN,	/* stop reading; close once the queue is written and
			   the owed hook says nothing more is to come */
	SRV_EOF_EXIT,	/* --stdio: stop reading, keep writing; srv_input_ended
			   turns 1 so the daemon finishes its work and exits */
};

typedef void (*srv_op_fn)(struct srv_client *, const cJSON *msg, void *arg);

struct srv_op {
	const char	*name;
	srv_op_fn	 fn;
};

struct srv_conf {
	const struct srv_op *ops;	/* the ops this server takes */
	size_t		 nops;
	enum srv_eof	 eof;
	size_t		 maxline;	/* longest line read; 0: NDJSON_MAX_LINE */
	size_t		 maxsend;	/* longest line sent; 0: maxline */
	size_t		 maxqueue;	/* output queued per client; 0: NDJSON_MAX_QUEUE */
	size_t		 maxclients;	/* 0: SRV_MAX_CLIENTS */
	/* Optional hooks; each gets arg. */
	void		(*on_open)(struct srv_client *, void *arg);
	void		(*on_close)(struct srv_client *, void *arg);	/* before the free */
	int		(*owed)(const struct srv_client *, void *arg);	/* SRV_EOF_DRAIN */
	/* After a bad line was counted and logged; msg is NULL unless it was an object. */
	void		(*on_bad)(struct srv_client *, const cJSON *msg, const char *why,
			    void *arg);
	void		*arg;
};

/* The conf is copied (the ops table is not: it must outlive the server). */
struct srv	*srv_new(struct loop *, const struct srv_conf *);
/* Closes every client and the listening socket (removing its file). */
void		 srv_free(struct srv *);
/* Listen on path (sock_listen: a stale socket file is replaced). 0 or -1. */
int		 srv_listen(struct srv *, const char *path, mode_t mode);
/* Serve stdin/stdout as one client (never closed by us). 0 or -1. */
int		 srv_stdio(struct srv *);
/* No new clients (shutdown); the connected ones are still served. */
void		 srv_stop_listening(struct srv *);

/*
 * Queue a line or an object for a client. 0, or -1 when c is NULL or
 * closing, or when the line is longer than maxsend or the queue is full:
 * then the client is closed (logged), since it would miss an answer.
 */
int		 srv_send(struct srv_client *, const cJSON *);
int		 srv_send_line(struct srv_client *, const char *line, size_t len);
/* The protocol's job error: {"op":"error","job","code","message","retryable"}. */
int		 srv_send_error(struct srv_client *, const char *job, const char *code,
		    const char *message, int retryable);
/* Every live client. */
void		 srv_broadcast(struct srv *, const cJSON *);
/* Count, log (rate-limited) and hand to on_bad, as for the server's own. */
void		 srv_bad_line(struct srv_client *, const cJSON *msg, const char *why);
/* Close (from the next prepare pass); why, if not NULL, is logged. */
void		 srv_client_close(struct srv_client *, const char *why);

/* Ids are unique for the server's life: a client can be named after it is gone. */
unsigned	 srv_client_id(const struct srv_client *);
/* The client's socket (for SO_PEERCRED checks in on_open). */
int		 srv_client_fd(const struct srv_client *);
struct srv_client *srv_client_find(struct srv *, unsigned id);	/* NULL: gone */

size_t		 srv_clients(const struct srv *);
int		 srv_pending(const struct srv *);	/* output queued for anyone */
int		 srv_input_ended(const struct srv *);	/* SRV_EOF_EXIT: input over */
unsigned long	 srv_bad_lines(const struct srv *);

#endif

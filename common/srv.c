/*
 * srv.c: one NDJSON server (srv.h) over common/ndjson.c and common/loop.c.
 *
 * Each client is one struct with its framing state; a socket client has one
 * fd, the --stdio client two (stdin read, stdout written), each registered
 * with the loop. Closing marks a client dead and the prepare pass frees it,
 * so handlers, hooks and the caller's loops over clients never see one
 * freed under them. The same pass asks for POLLOUT only where output is
 * queued and applies the end-of-input policy.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "sock.h"
#include "srv.h"

#define SRV_ACCEPTS	64	/* accepts per wake-up: the other fds get their turn */

struct srv_client {
	struct srv	*srv;
	struct ndjson	 nd;
	unsigned	 id;
	int		 stdio;
	int		 dead;
	int		 in_eof;	/* no more input; answers may still go out */
	int		 rfd_off;	/* stdin at EOF: no longer polled */
	struct srv_client *next;
};

struct srv {
	struct loop	*loop;
	struct srv_conf	 cf;
	int		 lfd;
	char		*lpath;
	struct srv_client *clients;
	size_t		 nclients;	/* in the list, dead ones included */
	unsigned	 next_id;
	int		 input_ended;
	unsigned long	 bad_lines;
	struct log_limit lim_bad;
	struct log_limit lim_accept;
};

static void srv_prepare(struct loop *, void *);

struct srv *
srv_new(struct loop *l, const struct srv_conf *cf)
{
	struct srv *s;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->loop = l;
	s->cf = *cf;
	if (s->cf.maxline == 0)
		s->cf.maxline = NDJSON_MAX_LINE;
	if (s->cf.maxsend == 0)
		s->cf.maxsend = s->cf.maxline;
	if (s->cf.maxclients == 0)
		s->cf.maxclients = SRV_MAX_CLIENTS;
	s->lfd = -1;
	s->next_id = 1;
	s->lim_bad.burst = s->lim_accept.burst = 10;
	s->lim_bad.per_ms = s->lim_accept.per_ms = 10000;
	if (loop_add_prepare(l, srv_prepare, s) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

void
srv_client_close(struct srv_client *c, const char *why)
{
	if (c->dead)
		return;
	if (why != NULL)
		log_warnx("client %u: %s", c->id, why);
	c->dead = 1;
	if (c->stdio)
		c->srv->input_ended = 1;	/* nobody left to serve: finish up */
}

static void
srv_on_fd(struct loop *, int, short, void *);

static struct srv_client *
client_new(struct srv *s, int rfd, int wfd, int stdio)
{
	struct srv_client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if (ndjson_init(&c->nd, rfd, wfd, s->cf.maxline, s->cf.maxqueue) == -1 ||
	    loop_add_fd(s->loop, rfd, POLLIN, srv_on_fd, c) == -1) {
		ndjson_free(&c->nd);
		free(c);
		return NULL;
	}
	if (wfd != rfd && loop_add_fd(s->loop, wfd, 0, srv_on_fd, c) == -1) {
		loop_del_fd(s->loop, rfd);
		ndjson_free(&c->nd);
		free(c);
		return NULL;
	}
	c->nd.maxsend = s->cf.maxsend;
	c->srv = s;
	c->stdio = stdio;
	c->id = s->next_id++;
	if (s->next_id == 0)
		s->next_id = 1;
	c->next = s->clients;
	s->clients = c;
	s->nclients++;
	if (s->cf.on_open != NULL)
		s->cf.on_open(c, s->cf.arg);
	return c;
}

static void
client_free(struct srv_client *c)
{
	struct srv *s = c->srv;

	if (s->cf.on_close != NULL)
		s->cf.on_close(c, s->cf.arg);
	if (!c->rfd_off)
		loop_del_fd(s->loop, c->nd.rfd);
	if (c->nd.wfd != c->nd.rfd)
		loop_del_fd(s->loop, c->nd.wfd);
	if (!c->stdio)
		close(c->nd.rfd);
	ndjson_free(&c->nd);
	free(c);
}

void
srv_bad_line(struct srv_client *c, const cJSON *msg, const char *why)
{
	struct srv *s = c->srv;

	s->bad_lines++;
	if (log_limit_ok(&s->lim_bad))
		log_warnx("client %u: bad line: %s", c->id, why);
	if (s->cf.on_bad != NULL && !c->dead)
		s->cf.on_bad(c, msg, why, s->cf.arg);
}

/* One line: parse, find its op in the table, hand it over. */
static void
srv_dispatch(struct srv_client *c, const char *line, size_t len)
{
	struct srv *s = c->srv;
	cJSON *msg = cJSON_ParseWithLength(line, len);
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");
	size_t i;

	if (!cJSON_IsObject(msg)) {
		cJSON_Delete(msg);
		srv_bad_line(c, NULL, "not a JSON object");
		return;
	}
	if (!cJSON_IsString(op)) {
		srv_bad_line(c, msg, "op: missing or not a string");
		cJSON_Delete(msg);
		return;
	}
	for (i = 0; i < s->cf.nops; i++)
		if (strcmp(op->valuestring, s->cf.ops[i].name) == 0)
			break;
	if (i == s->cf.nops)
		srv_bad_line(c, msg, "unknown op");
	else
		s->cf.ops[i].fn(c, msg, s->cf.arg);
	cJSON_Delete(msg);
}

/*
 * The input is over. A pipe at EOF polls as always readable, so the stdio
 * client stops watching stdin; a socket's POLLIN is dropped by prepare.
 */
static void
client_eof(struct srv_client *c)
{
	struct srv *s = c->srv;

	c->in_eof = 1;
	log_debug("client %u: end of input", c->id);
	if (c->nd.rfd != c->nd.wfd && !c->rfd_off) {
		loop_del_fd(s->loop, c->nd.rfd);
		c->rfd_off = 1;
	}
	if (s->cf.eof == SRV_EOF_CLOSE)
		srv_client_close(c, NULL);
	else if (s->cf.eof == SRV_EOF_EXIT)
		s->input_ended = 1;
}

static void
client_read(struct srv_client *c)
{
	ssize_t n;
	char *line;
	size_t len;
	int rc;

	/* One read per wake-up, every line taken before the next: the buffer never fills. */
	n = ndjson_read(&c->nd);
	if (n == -1 && errno != EAGAIN && errno != ENOBUFS) {
		srv_client_close(c, c->stdio ? "stdin: read error" : "read error");
		return;
	}
	while (!c->dead && (rc = ndjson_next(&c->nd, &line, &len)) != 0) {
		if (rc == -1)
			srv_bad_line(c, NULL, errno == EMSGSIZE ? "too long" : "contains a NUL byte");
		else
			srv_dispatch(c, line, len);
	}
	if (n == 0 && !c->dead)
		client_eof(c);
	/* Answers go out now; what the fd does not take waits for POLLOUT. */
	if (!c->dead && ndjson_pending(&c->nd) && ndjson_flush(&c->nd) == -1)
		srv_client_close(c, "write error");
}

static void
srv_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	struct srv_client *c = arg;

	if (c->dead)
		return;
	if (fd == c->nd.wfd && (revents & POLLOUT) && ndjson_flush(&c->nd) == -1) {
		srv_client_close(c, c->stdio ? "stdout: write error" : "write error");
		return;
	}
	if (fd == c->nd.wfd && fd != c->nd.rfd && (revents & (POLLERR | POLLHUP))) {
		srv_client_close(c, "stdout closed");
		return;
	}
	if (fd == c->nd.rfd && c->in_eof && (revents & (POLLHUP | POLLERR))) {
		/* Fully closed, not half: nobody is left to answer (and it would poll forever). */
		srv_client_close(c, NULL);
		return;
	}
	if (fd == c->nd.rfd && !c->in_eof && (revents & (POLLIN | POLLHUP | POLLERR)))
		client_read(c);
}

/* Done with a draining client? Its queue is written and nothing more is owed. */
static int
client_drained(const struct srv_client *c)
{
	const struct srv *s = c->srv;

	return c->in_eof && s->cf.eof == SRV_EOF_DRAIN && !ndjson_pending(&c->nd) &&
	    (s->cf.owed == NULL || !s->cf.owed(c, s->cf.arg));
}

/* Before each poll: free the dead, ask for POLLOUT only where output waits. */
static void
srv_prepare(struct loop *l, void *arg)
{
	struct srv *s = arg;
	struct srv_client **pp = &s->clients, *c;
	short out;

	while ((c = *pp) != NULL) {
		if (!c->dead && client_drained(c))
			srv_client_close(c, NULL);
		if (c->dead) {
			*pp = c->next;
			s->nclients--;
			log_debug("client %u: gone", c->id);
			client_free(c);
			continue;
		}
		out = ndjson_pending(&c->nd) ? POLLOUT : 0;
		if (c->nd.wfd != c->nd.rfd) {
			if (!c->rfd_off)
				loop_set_events(l, c->nd.rfd, POLLIN);
			loop_set_events(l, c->nd.wfd, out);
		} else
			loop_set_events(l, c->nd.rfd, (short)((c->in_eof ? 0 : POLLIN) | out));
		pp = &c->next;
	}
}

static void
srv_on_accept(struct loop *l, int fd, short revents, void *arg)
{
	struct srv *s = arg;
	struct srv_client *c;
	int cfd, n;

	for (n = 0; n < SRV_ACCEPTS; n++) {
		if ((cfd = sock_accept(fd)) == -1) {
			if (errno != EAGAIN && errno != ECONNABORTED && log_limit_ok(&s->lim_accept))
				log_warn("accept");
			return;
		}
		if (s->nclients >= s->cf.maxclients) {
			if (log_limit_ok(&s->lim_accept))
				log_warnx("too many clients (%zu): refusing one", s->cf.maxclients);
			close(cfd);
			continue;
		}
		if ((c = client_new(s, cfd, cfd, 0)) == NULL) {
			log_warn("client: cannot set up");
			close(cfd);
			continue;
		}
		log_debug("client %u: connected", c->id);
	}
}

int
srv_listen(struct srv *s, const char *path, mode_t mode)
{
	int saved;

	if ((s->lfd = sock_listen(path, mode)) == -1)
		return -1;
	if ((s->lpath = strdup(path)) == NULL ||
	    loop_add_fd(s->loop, s->lfd, POLLIN, srv_on_accept, s) == -1) {
		saved = errno;
		srv_stop_listening(s);
		errno = saved;
		return -1;
	}
	return 0;
}

int
srv_stdio(struct srv *s)
{
	return client_new(s, STDIN_FILENO, STDOUT_FILENO, 1) == NULL ? -1 : 0;
}

/* The socket file goes with the socket: we made it, nobody else answers there. */
void
srv_stop_listening(struct srv *s)
{
	if (s->lfd == -1)
		return;
	loop_del_fd(s->loop, s->lfd);
	close(s->lfd);
	s->lfd = -1;
	if (s->lpath != NULL)
		unlink(s->lpath);
	free(s->lpath);
	s->lpath = NULL;
}

void
srv_free(struct srv *s)
{
	struct srv_client *c;

	if (s == NULL)
		return;
	while ((c = s->clients) != NULL) {
		s->clients = c->next;
		if (!c->dead)
			ndjson_flush(&c->nd);	/* a last try; nobody waits for it */
		client_free(c);
	}
	srv_stop_listening(s);
	loop_del_prepare(s->loop, srv_prepare, s);
	free(s);
}

int
srv_send_line(struct srv_client *c, const char *line, size_t len)
{
	if (c == NULL || c->dead)
		return -1;
	if (ndjson_send(&c->nd, line, len) == -1) {
		srv_client_close(c, errno == ENOBUFS ? "output queue full: disconnecting" :
		    errno == EINVAL ? "line too long to send: disconnecting" :
		    "out of memory: disconnecting");
		return -1;
	}
	return 0;
}

int
srv_send(struct srv_client *c, const cJSON *o)
{
	char *s;
	int rc;

	if (c == NULL || c->dead)
		return -1;
	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		return -1;
	rc = srv_send_line(c, s, strlen(s));
	cJSON_free(s);
	return rc;
}

int
srv_send_error(struct srv_client *c, const char *job, const char *code, const char *message,
    int retryable)
{
	cJSON *o = cJSON_CreateObject();
	int rc = -1;

	if (o != NULL && cJSON_AddStringToObject(o, "op", "error") &&
	    cJSON_AddStringToObject(o, "job", job) &&
	    cJSON_AddStringToObject(o, "code", code) &&
	    cJSON_AddStringToObject(o, "message", message) &&
	    cJSON_AddBoolToObject(o, "retryable", retryable))
		rc = srv_send(c, o);
	cJSON_Delete(o);
	return rc;
}

void
srv_broadcast(struct srv *s, const cJSON *o)
{
	struct srv_client *c;
	char *line;
	size_t len;

	if ((line = cJSON_PrintUnformatted(o)) == NULL)
		return;
	len = strlen(line);
	for (c = s->clients; c != NULL; c = c->next)
		if (!c->dead)
			srv_send_line(c, line, len);
	cJSON_free(line);
}

unsigned
srv_client_id(const struct srv_client *c)
{
	return c->id;
}

struct srv_client *
srv_client_find(struct srv *s, unsigned id)
{
	struct srv_client *c;

	for (c = s->clients; c != NULL; c = c->next)
		if (c->id == id && !c->dead)
			return c;
	return NULL;
}

size_t
srv_clients(const struct srv *s)
{
	const struct srv_client *c;
	size_t n = 0;

	for (c = s->clients; c != NULL; c = c->next)
		if (!c->dead)
			n++;
	return n;
}

int
srv_pending(const struct srv *s)
{
	const struct srv_client *c;

	for (c = s->clients; c != NULL; c = c->next)
		if (!c->dead && ndjson_pending(&c->nd))
			return 1;
	return 0;
}

int
srv_input_ended(const struct srv *s)
{
	return s->input_ended;
}

unsigned long
srv_bad_lines(const struct srv *s)
{
	return s->bad_lines;
}

int
srv_client_fd(const struct srv_client *c)
{
	return c->nd.rfd;
}

/*
 * ipc.c: the clients of inferd: connections on inferd.sock (jobd, dvmctl
 * tests) or, with --stdio, stdin/stdout. Every line is checked before it is
 * acted on; a bad line is logged (rate-limited), counted and dropped, and
 * answered with bad_request when it names a job, so nothing hangs.
 *
 * A client that fails or stops reading is only marked dead here; the
 * prepare pass frees it, so no caller ever holds a freed client.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "inferd.h"
#include "loop.h"
#include "sock.h"

struct client {
	struct inferd	*in;
	struct ndjson	 nd;
	int		 stdio;
	int		 dead;
	int		 in_eof;	/* no more input; answers still go out */
	int		 rfd_off;	/* stdin is no longer watched */
	struct client	*next;
};

static void client_on_fd(struct loop *, int, short, void *);

static void
client_kill(struct client *c, const char *why)
{
	if (c->dead)
		return;
	if (why)
		log_warnx("client %d: %s", c->nd.rfd, why);
	c->dead = 1;
	if (c->stdio)
		c->in->ipc.stdin_closed = 1;	/* --stdio: nobody left to serve; finish up */
}

int
ipc_send_line(struct client *c, const char *line, size_t len)
{
	if (c == NULL || c->dead)
		return -1;
	if (ndjson_send(&c->nd, line, len) == -1) {
		client_kill(c, errno == ENOBUFS ? "output queue full: disconnecting" :
		    "line too long to send");
		return -1;
	}
	return 0;
}

int
ipc_send(struct client *c, const cJSON *o)
{
	char *s;
	int rc;

	if (c == NULL || c->dead)
		return -1;
	if ((s = cJSON_PrintUnformatted(o)) == NULL)
		return -1;
	rc = ipc_send_line(c, s, strlen(s));
	free(s);
	return rc;
}

void
ipc_send_error(struct client *c, const char *job, const char *code, const char *message,
    int retryable)
{
	cJSON *o = cJSON_CreateObject();

	if (o && cJSON_AddStringToObject(o, "op", "error") &&
	    cJSON_AddStringToObject(o, "job", job) &&
	    cJSON_AddStringToObject(o, "code", code) &&
	    cJSON_AddStringToObject(o, "message", message) &&
	    cJSON_AddBoolToObject(o, "retryable", retryable))
		ipc_send(c, o);
	cJSON_Delete(o);
}

/* Log (rate-limited), count, and answer bad_request if a job id is there. */
static void
bad_line(struct client *c, const cJSON *msg, const char *why)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

	c->in->bad_lines++;
	if (log_limit_ok(&c->in->ipc.lim))
		log_warnx("client %d: bad line: %s", c->nd.rfd, why);
	if (cJSON_IsString(job) && strlen(job->valuestring) == JOB_ID_LEN &&
	    hex_is_lower(job->valuestring, JOB_ID_LEN))
		ipc_send_error(c, job->valuestring, "bad_request", why, 0);
}

static void
handle_infer(struct client *c, const cJSON *msg)
{
	struct infer_req r;
	char err[256];

	if (c->in->stopping) {
		const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

		if (cJSON_IsString(job) && strlen(job->valuestring) == JOB_ID_LEN)
			ipc_send_error(c, job->valuestring, "shutdown", "inferd is stopping", 1);
		return;
	}
	if (req_parse(msg, &r, err, sizeof(err)) == -1) {
		bad_line(c, msg, err);
		req_free(&r);
		return;
	}
	job_submit(c->in, c, &r);
}

static void
handle_cancel(struct client *c, const cJSON *msg)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

	if (!cJSON_IsString(job) || strlen(job->valuestring) != JOB_ID_LEN ||
	    !hex_is_lower(job->valuestring, JOB_ID_LEN)) {
		bad_line(c, msg, "cancel: job must be 64 lowercase hex digits");
		return;
	}
	job_cancel(c->in, job->valuestring);
}

static void
handle_health(struct client *c, const cJSON *msg)
{
	cJSON *o = cJSON_CreateObject(), *b = pool_health_json(c->in);

	if (o && b && cJSON_AddStringToObject(o, "op", "health") &&
	    cJSON_AddItemToObject(o, "backends", b)) {
		b = NULL;
		if (cJSON_AddNumberToObject(o, "jobs", (double)job_running(c->in)) &&
		    cJSON_AddNumberToObject(o, "bad_lines", (double)c->in->bad_lines))
			ipc_send(c, o);
	}
	cJSON_Delete(b);
	cJSON_Delete(o);
}

static const struct {
	const char *op;
	void (*fn)(struct client *, const cJSON *);
} handlers[] = {
	{ "infer", handle_infer },
	{ "cancel", handle_cancel },
	{ "health", handle_health },
};

static void
client_line(struct client *c, const char *line, size_t len)
{
	cJSON *msg = cJSON_ParseWithLength(line, len);
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");
	size_t i;

	if (msg == NULL || !cJSON_IsObject(msg)) {
		bad_line(c, NULL, "not a JSON object");
		cJSON_Delete(msg);
		return;
	}
	if (!cJSON_IsString(op)) {
		bad_line(c, msg, "op: missing or not a string");
		cJSON_Delete(msg);
		return;
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(op->valuestring, handlers[i].op) == 0)
			break;
	if (i == sizeof(handlers) / sizeof(handlers[0]))
		bad_line(c, msg, "unknown op");
	else
		handlers[i].fn(c, msg);
	cJSON_Delete(msg);
}

/*
 * No more input. For --stdio this is the signal to finish up: say so now,
 * not at the next prepare pass, or the loop may sleep until a timer first.
 */
static void
client_eof(struct client *c)
{
	c->in_eof = 1;
	if (c->stdio && !c->rfd_off) {
		/* At EOF a pipe polls as always ready: stop watching it. */
		loop_del_fd(c->in->loop, c->nd.rfd);
		c->rfd_off = 1;
		c->in->ipc.stdin_closed = 1;
		log_debug("stdin: end of input");
	}
}

static void
client_read(struct client *c)
{
	ssize_t n;
	char *line;
	size_t len;
	int rc;

	n = ndjson_read(&c->nd);
	if (n == -1 && errno != EAGAIN && errno != ENOBUFS) {
		client_kill(c, c->stdio ? NULL : "read error");
		client_eof(c);
		return;
	}
	/* Every buffered line now: no later wake-up is promised for them. */
	while (!c->dead && (rc = ndjson_next(&c->nd, &line, &len)) != 0) {
		if (rc == -1) {
			c->in->bad_lines++;
			if (log_limit_ok(&c->in->ipc.lim))
				log_warnx("client %d: bad line: %s", c->nd.rfd,
				    errno == EMSGSIZE ? "too long" : "contains NUL");
			continue;
		}
		client_line(c, line, len);
	}
	if (n == 0)
		client_eof(c);
}

static void
client_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	struct client *c = arg;

	if (c->dead)
		return;
	if (fd == c->nd.wfd && (revents & POLLOUT)) {
		if (ndjson_flush(&c->nd) == -1) {
			client_kill(c, c->stdio ? "stdout: write error" : "write error");
			return;
		}
	}
	if (fd == c->nd.wfd && fd != c->nd.rfd && (revents & (POLLERR | POLLHUP))) {
		client_kill(c, "stdout closed");
		return;
	}
	if (fd == c->nd.rfd && c->in_eof && (revents & (POLLHUP | POLLERR))) {
		/* Fully closed, not just half: nobody is left to answer (and it would poll forever). */
		client_kill(c, NULL);
		return;
	}
	if (fd == c->nd.rfd && (revents & (POLLIN | POLLHUP | POLLERR)) && !c->in_eof)
		client_read(c);
}

static struct client *
client_new(struct inferd *in, int rfd, int wfd, int stdio)
{
	struct client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->in = in;
	if (ndjson_init(&c->nd, rfd, wfd, 0, 0) == -1 ||
	    loop_add_fd(in->loop, rfd, POLLIN, client_on_fd, c) == -1) {
		ndjson_free(&c->nd);
		free(c);
		return NULL;
	}
	if (wfd != rfd && loop_add_fd(in->loop, wfd, 0, client_on_fd, c) == -1) {
		loop_del_fd(in->loop, rfd);
		ndjson_free(&c->nd);
		free(c);
		return NULL;
	}
	c->stdio = stdio;
	c->next = in->ipc.clients;
	in->ipc.clients = c;
	return c;
}

static void
client_free(struct client *c)
{
	job_client_gone(c->in, c);
	if (!c->rfd_off)
		loop_del_fd(c->in->loop, c->nd.rfd);
	if (c->nd.wfd != c->nd.rfd)
		loop_del_fd(c->in->loop, c->nd.wfd);
	if (!c->stdio)
		close(c->nd.rfd);
	else
		c->in->ipc.stdin_closed = 1;
	ndjson_free(&c->nd);
	free(c);
}

/*
 * Before each poll: free dead clients, stop reading at EOF, and ask for
 * POLLOUT only while output is queued. A socket client at EOF is done once
 * its queue is empty; the stdio client stays for its jobs' answers.
 */
static void
ipc_prepare(struct loop *l, void *arg)
{
	struct inferd *in = arg;
	struct client **pp = &in->ipc.clients, *c;

	while ((c = *pp) != NULL) {
		int pending = ndjson_pending(&c->nd);

		/* A half-closed socket client still gets its running jobs' answers. */
		if (c->in_eof && !c->stdio && !pending && job_count_for(in, c) == 0)
			client_kill(c, NULL);
		if (c->dead) {
			*pp = c->next;
			client_free(c);
			continue;
		}
		if (c->nd.wfd != c->nd.rfd) {
			if (!c->rfd_off)
				loop_set_events(in->loop, c->nd.rfd, POLLIN);
			loop_set_events(in->loop, c->nd.wfd, pending ? POLLOUT : 0);
		} else
			loop_set_events(in->loop, c->nd.rfd,
			    (c->in_eof ? 0 : POLLIN) | (pending ? POLLOUT : 0));
		pp = &c->next;
	}
}

static void
ipc_on_accept(struct loop *l, int fd, short revents, void *arg)
{
	struct inferd *in = arg;
	int cfd, n;

	for (n = 0; n < 64; n++) {
		if ((cfd = sock_accept(fd)) == -1) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED)
				log_warn("accept");
			return;
		}
		if (client_new(in, cfd, cfd, 0) == NULL) {
			log_warn("client: cannot set up");
			close(cfd);
			continue;
		}
		log_debug("client %d: connected", cfd);
	}
}

static int
ipc_prep_once(struct inferd *in)
{
	if (in->ipc.prep)
		return 0;
	in->ipc.prep = 1;
	in->ipc.lim.burst = 10;
	in->ipc.lim.per_ms = 10000;
	return loop_add_prepare(in->loop, ipc_prepare, in);
}

int
ipc_listen(struct inferd *in, const char *path)
{
	if ((in->ipc.lfd = sock_listen(path, 0660)) == -1)
		return -1;
	if (loop_add_fd(in->loop, in->ipc.lfd, POLLIN, ipc_on_accept, in) == -1)
		return -1;
	return ipc_prep_once(in);
}

int
ipc_stdio(struct inferd *in)
{
	if (client_new(in, STDIN_FILENO, STDOUT_FILENO, 1) == NULL)
		return -1;
	return ipc_prep_once(in);
}

/* 1 once --stdio input has ended (the daemon then drains and exits). */
int
ipc_stdin_closed(struct inferd *in)
{
	return in->ipc.stdin_closed;
}

/* Non-zero while any live client has output queued. */
int
ipc_pending(struct inferd *in)
{
	struct client *c;

	for (c = in->ipc.clients; c; c = c->next)
		if (!c->dead && ndjson_pending(&c->nd))
			return 1;
	return 0;
}

/* Shutdown: no new clients; the connected ones still get their answers. */
void
ipc_stop_listening(struct inferd *in)
{
	if (in->ipc.lfd != -1) {
		loop_del_fd(in->loop, in->ipc.lfd);
		close(in->ipc.lfd);
		in->ipc.lfd = -1;
	}
}

/* Exit: free every client. */
void
ipc_close_all(struct inferd *in)
{
	ipc_stop_listening(in);
	while (in->ipc.clients) {
		struct client *c = in->ipc.clients;

		in->ipc.clients = c->next;
		client_free(c);
	}
}

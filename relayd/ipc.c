/*
 * ipc.c: jobd's side. The Unix socket, its clients, stdin/stdout (--stdio)
 * and the signalfd are raw file descriptors adopted into the lws loop.
 * Lines are NDJSON (docs/PROTOCOL.md, relayd section), handled in cmd.c.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "loop.h"
#include "relayd.h"

#define PAUSE_AT	(4u * 1024 * 1024)	/* a client this far behind pauses relays */
#define RESUME_AT	(512u * 1024)

enum raw_kind { RAW_LISTEN, RAW_SIGNAL, RAW_CLIENT_R, RAW_CLIENT_W };

struct rawfd {
	enum raw_kind	 kind;
	struct client	*c;
};

/* Per-client raw descriptors live beside the client. */
struct client_raw {
	struct client	 c;
	struct rawfd	 r, w;
};

static struct rawfd listen_raw = { RAW_LISTEN, NULL };
static struct rawfd signal_raw = { RAW_SIGNAL, NULL };

static struct lws *
ipc_adopt(struct relayd *rd, int fd, struct rawfd *raw)
{
	lws_adopt_desc_t a;

	memset(&a, 0, sizeof(a));
	a.vh = rd->vh;
	a.type = LWS_ADOPT_RAW_FILE_DESC;
	a.fd.filefd = fd;
	a.vh_prot_name = ipc_protocol.name;
	a.opaque = raw;
	return lws_adopt_descriptor_vhost_via_info(&a);
}


/*
 * A new client learns the current state of every relay and any NIP-42
 * challenge still unanswered (it may have been sent before it connected).
 */
static void
ipc_greet(struct client *c)
{
	struct relayd *rd = c->rd;
	const struct relay *r;
	cJSON *o;

	for (r = rd->relays; r != NULL; r = r->next) {
		if (r->removing)
			continue;
		if ((o = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(o, "op", "relay");
			cJSON_AddStringToObject(o, "url", r->url);
			cJSON_AddStringToObject(o, "state", conn_state_name(r->state));
			ipc_send(c, o);
		}
		if (r->challenge[0] != '\0' && (o = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(o, "op", "auth_challenge");
			cJSON_AddStringToObject(o, "relay", r->url);
			cJSON_AddStringToObject(o, "challenge", r->challenge);
			ipc_send(c, o);
		}
	}
}

static struct client *
ipc_client_new(struct relayd *rd, int rfd, int wfd, int stdio)
{
	struct client_raw *cr;

	if (rd->nclients >= MAX_CLIENTS) {
		log_warnx("too many clients: refusing one");
		return NULL;
	}
	if ((cr = calloc(1, sizeof(*cr))) == NULL) {
		log_warn("client");
		return NULL;
	}
	if (ndjson_init(&cr->c.nj, rfd, wfd, 0, 0) == -1) {
		log_warn("client");
		free(cr);
		return NULL;
	}
	cr->c.rd = rd;
	cr->c.stdio = stdio;
	cr->r.kind = RAW_CLIENT_R;
	cr->r.c = &cr->c;
	cr->w.kind = RAW_CLIENT_W;
	cr->w.c = &cr->c;
	if ((cr->c.rwsi = ipc_adopt(rd, rfd, &cr->r)) == NULL) {
		ndjson_free(&cr->c.nj);
		free(cr);
		return NULL;
	}
	cr->c.wwsi = cr->c.rwsi;
	if (stdio && (cr->c.wwsi = ipc_adopt(rd, wfd, &cr->w)) == NULL) {
		log_warnx("cannot adopt stdout");
		lws_set_timeout(cr->c.rwsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		cr->c.dead = 1;
	}
	cr->c.next = rd->clients;
	rd->clients = &cr->c;
	rd->nclients++;
	ipc_greet(&cr->c);
	return &cr->c;
}

static void
ipc_stdin_eof(struct relayd *rd)
{
	if (rd->draining)
		return;
	log_info("stdin closed: finishing publishes and queries");
	rd->draining = 1;
	rd->deadline = now_ms() + 5000;
}

/* The client's wsi w is closing: forget it; free the client with its last one. */
static void
ipc_client_closed(struct client *c, struct lws *w)
{
	struct relayd *rd = c->rd;
	struct client **pp;

	int was_stdin = c->stdio && c->rwsi == w;

	if (c->rwsi == w)
		c->rwsi = NULL;
	if (c->wwsi == w)
		c->wwsi = NULL;
	/* stdin at EOF: stdout stays open for the answers still to come. */
	if (was_stdin && !c->dead && c->wwsi != NULL) {
		ipc_stdin_eof(rd);
		return;
	}
	if (!c->dead) {
		c->dead = 1;
		sub_client_gone(c);
	}
	if (c->rwsi != NULL)
		lws_set_timeout(c->rwsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	if (c->wwsi != NULL)
		lws_set_timeout(c->wwsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	if (c->rwsi != NULL || c->wwsi != NULL)
		return;
	for (pp = &rd->clients; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	rd->nclients--;
	if (c->stdio)
		relayd_stop(rd);
	lws_sul_cancel(&c->rearm);
	ndjson_free(&c->nj);
	free(c);
}

static void
ipc_kill(struct client *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	sub_client_gone(c);
	if (c->rwsi != NULL)
		lws_set_timeout(c->rwsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	if (c->wwsi != NULL && c->wwsi != c->rwsi)
		lws_set_timeout(c->wwsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

size_t
ipc_max_pending(struct relayd *rd)
{
	struct client *c;
	size_t m = 0;

	for (c = rd->clients; c != NULL; c = c->next)
		if (!c->dead && c->nj.qbytes > m)
			m = c->nj.qbytes;
	return m;
}

int
ipc_output_pending(struct relayd *rd)
{
	struct client *c;

	for (c = rd->clients; c != NULL; c = c->next)
		if (!c->dead && c->wwsi != NULL && ndjson_pending(&c->nj))
			return 1;
	return 0;
}

static void
ipc_queued(struct client *c, int rc)
{
	struct relayd *rd = c->rd;

	if (rc == -1) {
		if (errno == ENOBUFS) {
			log_warnx("client not reading (%zu bytes queued): disconnecting",
			    c->nj.qbytes);
			ipc_kill(c);
		}
		return;
	}
	if (c->wwsi != NULL)
		lws_callback_on_writable(c->wwsi);
	if (!rd->paused && c->nj.qbytes > PAUSE_AT) {
		rd->paused = 1;
		conn_pause_all(rd, 1);
	}
}

void
ipc_send(struct client *c, cJSON *o)
{
	if (c != NULL && !c->dead && c->wwsi != NULL)
		ipc_queued(c, ndjson_send_json(&c->nj, o));
	cJSON_Delete(o);
}

void
ipc_broadcast(struct relayd *rd, cJSON *o)
{
	struct client *c;
	char *s;

	if (rd->clients != NULL && (s = cJSON_PrintUnformatted(o)) != NULL) {
		for (c = rd->clients; c != NULL; c = c->next)
			if (!c->dead && c->wwsi != NULL)
				ipc_queued(c, ndjson_send(&c->nj, s, strlen(s)));
		cJSON_free(s);
	}
	cJSON_Delete(o);
}

/* The event line printed by cJSON: the general path. */
static int
ipc_send_event_json(struct client *c, const struct relay *r, const char *sub,
    cJSON *event)
{
	cJSON *o;
	char *s;
	int rc = -1;

	if ((o = cJSON_CreateObject()) == NULL)
		return -1;
	cJSON_AddStringToObject(o, "op", "event");
	cJSON_AddStringToObject(o, "relay", r->url);
	cJSON_AddStringToObject(o, "sub", sub);
	cJSON_AddItemReferenceToObject(o, "event", event);
	if ((s = cJSON_PrintUnformatted(o)) != NULL) {
		rc = ndjson_send(&c->nj, s, strlen(s));
		ipc_queued(c, rc);
		cJSON_free(s);
	}
	cJSON_Delete(o);
	return rc;
}

/*
 * {"op":"event","relay","sub","event"}; 0 once queued to c. The fast path
 * splices the event's own text (frame.c checked it is plain JSON) instead of
 * printing it again: most of relayd's work per event.
 */
int
ipc_send_event(struct client *c, const struct relay *r, const char *sub,
    const struct frame *f)
{
	static const char p1[] = "{\"op\":\"event\",\"relay\":", p2[] = ",\"sub\":\"",
	    p3[] = "\",\"event\":";
	char stackbuf[4096], *buf = stackbuf;
	size_t ul, sl, n;
	int rc;

	if (c == NULL || c->dead || c->wwsi == NULL)
		return -1;
	if (f->raw == NULL || r->url_json == NULL || strpbrk(sub, "\"\\") != NULL)
		return ipc_send_event_json(c, r, sub, f->event);
	ul = strlen(r->url_json);
	sl = strlen(sub);
	n = sizeof(p1) - 1 + ul + sizeof(p2) - 1 + sl + sizeof(p3) - 1 + f->rawlen + 1;
	if (n > sizeof(stackbuf) && (buf = malloc(n)) == NULL)
		return -1;
	memcpy(buf, p1, sizeof(p1) - 1);
	n = sizeof(p1) - 1;
	memcpy(buf + n, r->url_json, ul);
	n += ul;
	memcpy(buf + n, p2, sizeof(p2) - 1);
	n += sizeof(p2) - 1;
	memcpy(buf + n, sub, sl);
	n += sl;
	memcpy(buf + n, p3, sizeof(p3) - 1);
	n += sizeof(p3) - 1;
	memcpy(buf + n, f->raw, f->rawlen);
	n += f->rawlen;
	buf[n++] = '}';
	rc = ndjson_send(&c->nj, buf, n);
	ipc_queued(c, rc);
	if (buf != stackbuf)
		free(buf);
	return rc;
}

void
ipc_relay_state(const struct relay *r)
{
	struct relayd *rd = r->rd;
	cJSON *o;

	if (rd->done || (o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "op", "relay");
	cJSON_AddStringToObject(o, "url", r->url);
	cJSON_AddStringToObject(o, "state", conn_state_name(r->state));
	ipc_broadcast(rd, o);
}

/* Readable client: take every complete line. -1 closes this wsi. */
static int
ipc_read(struct client *c)
{
	char *line;
	size_t len;
	ssize_t n;
	int rc, rounds;

	/* Bounded: a client writing as fast as we read must not starve relays. */
	for (rounds = 0; rounds < 64; rounds++) {
		n = ndjson_read(&c->nj);
		if (n == -1 && errno != EAGAIN && errno != ENOBUFS) {
			log_warn("client read");
			return -1;
		}
		while (!c->dead && (rc = ndjson_next(&c->nj, &line, &len)) != 0) {
			if (rc == -1)
				cmd_bad(c, errno == EMSGSIZE ? "line too long" : "NUL in line");
			else
				cmd_line(c, line, len);
		}
		if (c->dead)
			return -1;
		if (n == 0)
			return -1;	/* stdin: ipc_client_closed starts the drain */
		if (n == -1)
			return 0;
	}
	return 0;	/* more may wait: poll says so again */
}

static void
ipc_rearm(lws_sorted_usec_list_t *sul)
{
	struct client *c = lws_container_of(sul, struct client, rearm);

	if (!c->dead && c->wwsi != NULL)
		lws_callback_on_writable(c->wwsi);
}

static int
ipc_write(struct client *c)
{
	struct relayd *rd = c->rd;

	if (c->dead)
		return -1;
	if (ndjson_flush(&c->nj) == -1) {
		log_warn("client write");
		return -1;
	}
	/*
	 * lws clears POLLOUT on a raw file after this callback returns, so a
	 * request made here would be lost: ask again from a timer.
	 */
	if (ndjson_pending(&c->nj))
		lws_sul_schedule(rd->ctx, 0, &c->rearm, ipc_rearm, 1);
	if (rd->paused && ipc_max_pending(rd) < RESUME_AT) {
		rd->paused = 0;
		conn_pause_all(rd, 0);
	}
	return 0;
}

static void
ipc_accept(struct relayd *rd)
{
	int fd;

	while ((fd = sock_accept(rd->lfd)) != -1)
		if (ipc_client_new(rd, fd, fd, 0) == NULL)
			close(fd);
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		log_warn("accept");
}

static void
ipc_signal(struct relayd *rd)
{
	struct signalfd_siginfo si;

	while (read(rd->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			relayd_reload(rd);
		else
			relayd_stop(rd);
	}
}

/* A client that is closing stays readable only for its own close. */
static int
ipc_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	const struct lws_protocols *p = wsi ? lws_get_protocol(wsi) : NULL;
	struct relayd *rd;
	struct rawfd *raw;

	if (p == NULL || p->callback != ipc_callback ||
	    (raw = lws_get_opaque_user_data(wsi)) == NULL)
		return 0;
	/* The daemon, as main gave it to lws_create_context. */
	rd = lws_context_user(lws_get_context(wsi));
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (raw->kind == RAW_LISTEN)
			ipc_accept(rd);
		else if (raw->kind == RAW_SIGNAL)
			ipc_signal(rd);
		else if (raw->kind == RAW_CLIENT_R)
			return ipc_read(raw->c);
		break;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		if (raw->kind == RAW_CLIENT_R || raw->kind == RAW_CLIENT_W)
			return ipc_write(raw->c);
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (raw->kind == RAW_CLIENT_R || raw->kind == RAW_CLIENT_W) {
			lws_set_opaque_user_data(wsi, NULL);
			ipc_client_closed(raw->c, wsi);
		}
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols ipc_protocol = {
	.name = "relayd-ipc",
	.callback = ipc_callback,
};

int
ipc_listen(struct relayd *rd, const char *path)
{
	if ((rd->lfd = sock_listen(path, 0660)) == -1)
		return -1;
	if (ipc_adopt(rd, rd->lfd, &listen_raw) == NULL) {
		close(rd->lfd);
		rd->lfd = -1;
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

int
ipc_stdio(struct relayd *rd)
{
	return ipc_client_new(rd, 0, 1, 1) == NULL ? -1 : 0;
}

int
ipc_adopt_signalfd(struct relayd *rd, int fd)
{
	rd->sigfd = fd;
	return ipc_adopt(rd, fd, &signal_raw) == NULL ? -1 : 0;
}

/*
 * spoke.c: the transport of jobd's client connections to relayd, inferd
 * and invoiced: connect, reconnect with backoff whenever one drops, send,
 * read lines and hand each to ops.c; a malformed one is logged
 * (rate-limited), counted and dropped. On every (re)connect the jobs'
 * states say what the spoke must be told again (job_resync).
 *
 * Nothing leaves for a spoke before the states it announces are on disk:
 * every write of queued lines is preceded by job_flush, and the lines of
 * one read batch are handled in one ledger transaction, committed before
 * the next poll can write what they queued.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "jsonx.h"
#include "log.h"
#include "loop.h"
#include "peer.h"

#define SPOKE_BACKOFF_MIN	200
#define SPOKE_BACKOFF_MAX	10000
#define SPOKE_READ_ROUNDS	64	/* reads (64 KB each) per wake-up */

static struct log_limit bad_limit = { 5, 10000, 0, 0, 0 };

static void spoke_connect(struct jobd *, struct spoke *);


void
spoke_init(struct jobd *jd)
{
	static const char *names[SPOKE__COUNT] = { "relayd", "inferd", "invoiced" };
	int i;

	for (i = 0; i < SPOKE__COUNT; i++) {
		struct spoke *s = &jd->spokes[i];

		memset(s, 0, sizeof(*s));
		s->name = names[i];
		s->fd = -1;
		conf_stage_sock_path(&jd->conf, names[i], s->path, sizeof(s->path));
		backoff_init(&s->bo, SPOKE_BACKOFF_MIN, SPOKE_BACKOFF_MAX, 20);
	}
}

/* Takes msg. -1 when the spoke is down: the ledger has what to re-send. */
int
spoke_send(struct jobd *jd, enum spoke_id id, cJSON *msg)
{
	struct spoke *s = &jd->spokes[id];
	int rc = -1;

	if (id == SPOKE_RELAYD)
		asked_note_msg(&jd->asked, msg, now_ms());	/* AUTH is signed only for these */
	if (s->connected && ndjson_send_json(&s->nd, msg) == 0)
		rc = 0;
	else if (s->connected)
		log_warnx("%s: output queue full, message dropped", s->name);
	cJSON_Delete(msg);
	return rc;
}

struct spoke_ref {
	struct jobd	*jd;
	int		 id;
};

static struct spoke_ref refs[SPOKE__COUNT];

static void
retry_cb(struct loop *l, void *arg)
{
	struct spoke_ref *r = arg;

	(void)l;
	r->jd->spokes[r->id].timer = 0;
	spoke_connect(r->jd, &r->jd->spokes[r->id]);
}

static void
spoke_down(struct jobd *jd, struct spoke *s, const char *why)
{
	int id = (int)(s - jd->spokes);

	if (s->fd != -1) {
		loop_del_fd(jd->loop, s->fd);
		close(s->fd);
		ndjson_free(&s->nd);
		s->fd = -1;
		log_warnx("%s: disconnected (%s)", s->name, why);
	}
	s->connected = 0;
	cJSON_Delete(s->health);
	s->health = NULL;
	s->health_asked_ms = 0;
	if (jd->stopping || s->timer)
		return;
	refs[id].jd = jd;
	refs[id].id = id;
	s->timer = loop_add_timer(jd->loop, backoff_next(&s->bo), retry_cb, &refs[id]);
}

static void
bad_line(struct spoke *s, const char *why)
{
	s->bad_lines++;
	if (log_limit_ok(&bad_limit))
		log_warnx("%s: malformed line dropped: %s", s->name, why);
}

static void
spoke_line(struct jobd *jd, struct spoke *s, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len);
	const char *op, *why;

	if (m == NULL || !cJSON_IsObject(m) || (op = jsonx_str(m, "op")) == NULL) {
		bad_line(s, "not a JSON object with op");
		cJSON_Delete(m);
		return;
	}
	backoff_reset(&s->bo);
	if ((why = ops_dispatch(jd, (enum spoke_id)(s - jd->spokes), op, m)) != NULL)
		bad_line(s, why);
	cJSON_Delete(m);
}

static void
spoke_io(struct loop *l, int fd, short revents, void *arg)
{
	struct spoke_ref *r = arg;
	struct jobd *jd = r->jd;
	struct spoke *s = &jd->spokes[r->id];
	char *line;
	size_t len;
	ssize_t n = -1;
	int rc, rerr = EAGAIN, rounds, batch;

	(void)l;
	(void)fd;
	if (revents & POLLOUT)
		job_flush(jd);
	if (revents & POLLOUT && ndjson_flush(&s->nd) == -1) {
		spoke_down(jd, s, strerror(errno));
		return;
	}
	if (!(revents & (POLLIN | POLLHUP | POLLERR)))
		return;
	/*
	 * Take the lines after every read: reading until EAGAIN first would
	 * fill the buffer under a flood (ENOBUFS) and drop the connection with
	 * everything relayd had queued for us. Bounded so one busy spoke cannot
	 * starve the others; poll says so again when more waits.
	 */
	batch = job_batch_begin(jd) == 0;
	for (rounds = 0; rounds < SPOKE_READ_ROUNDS; rounds++) {
		n = ndjson_read(&s->nd);
		rerr = errno;	/* handling the lines below may change errno */
		while (s->fd != -1 && (rc = ndjson_next(&s->nd, &line, &len)) != 0) {
			if (rc == -1) {
				bad_line(s, errno == EMSGSIZE ? "too long" : "NUL byte");
				continue;
			}
			spoke_line(jd, s, line, len);
		}
		if (s->fd == -1 || n <= 0)
			break;
	}
	job_flush(jd);		/* inside the batch: one commit for all */
	if (batch)
		job_batch_end(jd);
	if (s->fd != -1 && (n == 0 || (n == -1 && rerr != EAGAIN &&
	    rerr != EWOULDBLOCK && rerr != ENOBUFS)))
		spoke_down(jd, s, n == 0 ? "EOF" : strerror(rerr));
}

static void
spoke_connect(struct jobd *jd, struct spoke *s)
{
	int id = (int)(s - jd->spokes);
	int fd;

	refs[id].jd = jd;
	refs[id].id = id;
	if ((fd = sock_connect(s->path)) == -1) {
		log_debug("%s: connect %s: %s", s->name, s->path, strerror(errno));
		spoke_down(jd, s, "connect failed");
		return;
	}
	if (peer_check_uid(&jd->conf, s->name, fd) == -1) {	/* peer.c */
		close(fd);
		spoke_down(jd, s, "peer refused");
		return;
	}
	if (ndjson_init(&s->nd, fd, fd, 0, 0) == -1 ||
	    loop_add_fd(jd->loop, fd, POLLIN, spoke_io, &refs[id]) == -1) {
		close(fd);
		spoke_down(jd, s, "setup failed");
		return;
	}
	s->fd = fd;
	s->connected = 1;
	s->connected_ms = now_ms();
	log_info("%s: connected", s->name);
	if (id == SPOKE_RELAYD) {
		subscribe_jobs(jd);
		subscribe_cancel(jd);
		publish_replay(jd, 0);
		if (jd->online)
			publish_announce(jd);
	}
	if (id == SPOKE_INFERD)
		store_ask_catalog(jd);
	job_resync(jd, (enum spoke_id)id);
	health_poll(jd);
}

static void
spoke_prepare(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	int i;

	job_flush(jd);		/* what timers and other fds moved, once per wake-up */
	for (i = 0; i < SPOKE__COUNT; i++)
		if (jd->spokes[i].fd != -1)
			loop_set_events(l, jd->spokes[i].fd,
			    POLLIN | (ndjson_pending(&jd->spokes[i].nd) ? POLLOUT : 0));
}

/* First connection attempt to each spoke (failures retry with backoff). */
void
spoke_connect_all(struct jobd *jd)
{
	int i;

	loop_add_prepare(jd->loop, spoke_prepare, jd);
	for (i = 0; i < SPOKE__COUNT; i++)
		spoke_connect(jd, &jd->spokes[i]);
	health_start(jd);
}

/* Flush what we can (best effort, briefly) and close. */
void
spoke_close_all(struct jobd *jd)
{
	int i;

	health_stop(jd);
	job_flush(jd);
	for (i = 0; i < SPOKE__COUNT; i++) {
		struct spoke *s = &jd->spokes[i];

		if (s->timer)
			loop_cancel_timer(jd->loop, s->timer);
		s->timer = 0;
		s->health_asked_ms = 0;
		if (s->fd != -1) {
			ndjson_flush(&s->nd);
			loop_del_fd(jd->loop, s->fd);
			close(s->fd);
			ndjson_free(&s->nd);
			s->fd = -1;
		}
		s->connected = 0;
		cJSON_Delete(s->health);
		s->health = NULL;
	}
}

/*
 * spoke.c: jobd's client connections to relayd, inferd and invoiced.
 * Each reconnects with backoff whenever it drops; on every (re)connect the
 * jobs' states say what the spoke must be told again (job_resync). Lines
 * from a spoke are checked for shape before anything acts on them; a
 * malformed one is logged (rate-limited), counted and dropped.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobd.h"
#include "log.h"
#include "loop.h"
#include "peer.h"

#define SPOKE_BACKOFF_MIN	200
#define SPOKE_BACKOFF_MAX	10000
#define CANCEL_DEBOUNCE_MS	250
#define SPOKE_READ_ROUNDS	64	/* reads (64 KB each) per wake-up */
#define HEALTH_TROUBLE_MS	2000	/* re-ask a spoke in trouble this often */
#define HEALTH_OVERDUE_MS	30000	/* ask again if unanswered this long */

static struct log_limit bad_limit = { 5, 10000, 0, 0, 0 };

static void spoke_connect(struct jobd *, struct spoke *);

static const char *
str_field(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void health_tick(struct loop *, void *);

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
keep_health(struct spoke *s, cJSON *m)
{
	cJSON_Delete(s->health);
	s->health = cJSON_Duplicate(m, 1);
	s->health_asked_ms = 0;
}

static void
from_relayd(struct jobd *jd, struct spoke *s, const char *op, cJSON *m)
{
	const char *relay = str_field(m, "relay"), *sub = str_field(m, "sub");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "event");

	if (strcmp(op, "event") == 0) {
		if (sub == NULL || !cJSON_IsObject(ev)) {
			bad_line(s, "event without sub or event");
			return;
		}
		ingest_event(jd, relay ? relay : "", sub, ev);
	} else if (strcmp(op, "eose") == 0) {
		if (sub != NULL && sub[0] == 'f' && relay == NULL)
			ingest_fetch_eose(jd, sub);
	} else if (strcmp(op, "ok") == 0) {
		const char *id = str_field(m, "id");
		const cJSON *acc = cJSON_GetObjectItemCaseSensitive(m, "accepted");

		if (id == NULL || !cJSON_IsBool(acc)) {
			bad_line(s, "ok without id or accepted");
			return;
		}
		if (!cJSON_IsTrue(acc))
			log_info("relay %s refused %.12s: %s", relay ? relay : "?", id,
			    str_field(m, "message") ? str_field(m, "message") : "");
		job_on_ok(jd, id, cJSON_IsTrue(acc));
	} else if (strcmp(op, "auth_challenge") == 0) {
		const char *ch = str_field(m, "challenge");

		if (relay == NULL || ch == NULL || strlen(ch) > 512) {
			bad_line(s, "auth_challenge without relay or challenge");
			return;
		}
		publish_auth(jd, relay, ch);
	} else if (strcmp(op, "status") == 0)
		keep_health(s, m);
	else if (strcmp(op, "closed") == 0 || strcmp(op, "notice") == 0)
		log_info("relay %s: %s: %.200s", relay ? relay : "?", op,
		    str_field(m, "message") ? str_field(m, "message") : "");
	else if (strcmp(op, "relay") == 0)
		log_debug("relay %s: %s", str_field(m, "url") ? str_field(m, "url") : "?",
		    str_field(m, "state") ? str_field(m, "state") : "?");
	else
		bad_line(s, "unknown op");
}

static void
from_inferd(struct jobd *jd, struct spoke *s, const char *op, cJSON *m)
{
	if (strcmp(op, "health") == 0)
		keep_health(s, m);
	else if (strcmp(op, "chunk") == 0 || strcmp(op, "done") == 0 ||
	    strcmp(op, "error") == 0) {
		if (str_field(m, "job") == NULL) {
			bad_line(s, "no job");
			return;
		}
		job_on_infer(jd, op, m);
	} else
		bad_line(s, "unknown op");
}

static void
from_invoiced(struct jobd *jd, struct spoke *s, const char *op, cJSON *m)
{
	if (strcmp(op, "health") == 0)
		keep_health(s, m);
	else if (strcmp(op, "invoice") == 0 || strcmp(op, "paid") == 0 ||
	    strcmp(op, "expired") == 0 || strcmp(op, "error") == 0) {
		if (str_field(m, "job") == NULL) {
			bad_line(s, "no job");
			return;
		}
		job_on_invoice(jd, op, m);
	} else
		bad_line(s, "unknown op");
}

static void
spoke_line(struct jobd *jd, struct spoke *s, const char *line, size_t len)
{
	cJSON *m = cJSON_ParseWithLength(line, len);
	const char *op;

	if (m == NULL || !cJSON_IsObject(m) || (op = str_field(m, "op")) == NULL) {
		bad_line(s, "not a JSON object with op");
		cJSON_Delete(m);
		return;
	}
	backoff_reset(&s->bo);
	if (s == &jd->spokes[SPOKE_RELAYD])
		from_relayd(jd, s, op, m);
	else if (s == &jd->spokes[SPOKE_INFERD])
		from_inferd(jd, s, op, m);
	else
		from_invoiced(jd, s, op, m);
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
	batch = ledger_batch_begin(jd->db) == 0;
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
	if (batch)
		ledger_batch_end(jd->db);
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
		spoke_subscribe_jobs(jd);
		spoke_subscribe_cancel(jd);
		publish_replay(jd, 0);
		if (jd->online)
			publish_announce(jd);
	}
	job_resync(jd, (enum spoke_id)id);
	spoke_poll_health(jd);
}

static void
spoke_prepare(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	int i;

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
	jd->health_timer = loop_add_timer(jd->loop, HEALTH_TROUBLE_MS, health_tick, jd);
}

/* Flush what we can (best effort, briefly) and close. */
void
spoke_close_all(struct jobd *jd)
{
	int i;

	if (jd->health_timer)
		loop_cancel_timer(jd->loop, jd->health_timer);
	jd->health_timer = 0;
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

static void
unsubscribe(struct jobd *jd, const char *id)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "unsubscribe");
	cJSON_AddStringToObject(m, "id", id);
	spoke_send(jd, SPOKE_RELAYD, m);
}

static cJSON *
kinds_array(const int *k, size_t n)
{
	cJSON *a = cJSON_CreateArray();
	size_t i;

	for (i = 0; a != NULL && i < n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateNumber(k[i]));
	return a;
}

/*
 * The "jobs" subscription: our kinds, since now - max_request_age, #p us
 * when require_p_tag. Offline: unsubscribed. Nothing older than that
 * could pass the age check, whatever the ledger saw before a restart; and
 * starting later (at the newest request seen) could miss requests from
 * clocks behind that requester's. relayd moves since on its reconnects.
 */
void
spoke_subscribe_jobs(struct jobd *jd)
{
	cJSON *m, *filters, *f, *p;
	int64_t since = now_unix() - jd->conf.max_request_age;

	if (!jd->online) {
		unsubscribe(jd, "jobs");
		return;
	}
	if ((m = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "subscribe");
	cJSON_AddStringToObject(m, "id", "jobs");
	filters = cJSON_AddArrayToObject(m, "filters");
	f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "kinds", kinds_array(jd->conf.job_kinds, jd->conf.njob_kinds));
	cJSON_AddNumberToObject(f, "since", (double)since);
	if (jd->conf.require_p_tag) {
		p = cJSON_AddArrayToObject(f, "#p");
		cJSON_AddItemToArray(p, cJSON_CreateString(jd->kp.pkhex));
	}
	cJSON_AddItemToArray(filters, f);
	spoke_send(jd, SPOKE_RELAYD, m);
}

static int
cancellable(const struct job *j)
{
	return job_can_move(j->state, ST_CANCELLED);
}

/*
 * The "cancel" subscription: kind-5 deletions naming our cancellable jobs
 * (#e, up to JOBD_CANCEL_E_MAX ids); past that, deletions by those jobs'
 * authors (the same bound). Debounced: jobs open and close in bursts.
 */
static void
cancel_fire(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	cJSON *m, *filters, *f, *ids, *authors;
	struct job *j;
	int n = 0, na = 0;
	static const int five = 5;

	(void)l;
	jd->cancel_timer = 0;
	ids = cJSON_CreateArray();
	authors = cJSON_CreateArray();
	for (j = jd->jobs; j != NULL; j = j->next) {
		const cJSON *a;
		int seen = 0;

		if (!cancellable(j))
			continue;
		if (n++ < JOBD_CANCEL_E_MAX)
			cJSON_AddItemToArray(ids, cJSON_CreateString(j->id));
		cJSON_ArrayForEach(a, authors)
			if (strcmp(a->valuestring, j->pubkey) == 0)
				seen = 1;
		if (!seen && na < JOBD_CANCEL_E_MAX) {
			cJSON_AddItemToArray(authors, cJSON_CreateString(j->pubkey));
			na++;
		}
	}
	if (n == 0 || (m = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(ids);
		cJSON_Delete(authors);
		if (n == 0)
			unsubscribe(jd, "cancel");
		return;
	}
	cJSON_AddStringToObject(m, "op", "subscribe");
	cJSON_AddStringToObject(m, "id", "cancel");
	filters = cJSON_AddArrayToObject(m, "filters");
	f = cJSON_CreateObject();
	cJSON_AddItemToObject(f, "kinds", kinds_array(&five, 1));
	if (n <= JOBD_CANCEL_E_MAX) {
		cJSON_AddItemToObject(f, "#e", ids);
		cJSON_Delete(authors);
	} else {
		cJSON_AddItemToObject(f, "authors", authors);
		cJSON_Delete(ids);
	}
	cJSON_AddNumberToObject(f, "since", (double)(now_unix() - 60));
	cJSON_AddItemToArray(filters, f);
	spoke_send(jd, SPOKE_RELAYD, m);
}

void
spoke_subscribe_cancel(struct jobd *jd)
{
	if (jd->cancel_timer || jd->stopping || !jd->spokes[SPOKE_RELAYD].connected)
		return;
	jd->cancel_timer = loop_add_timer(jd->loop, CANCEL_DEBOUNCE_MS, cancel_fire, jd);
}

/* From inferd's health: is some backend up, and does some backend have the model? */
void
spoke_inference_ok(const cJSON *health, int *ok, int *model_ok)
{
	const cJSON *x;

	*ok = *model_ok = 0;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(health, "backends")) {
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "ok")))
			*ok = 1;
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "model_ok")))
			*model_ok = 1;
	}
}

/*
 * Is a spoke's last answer a reason to ask again soon: a relay not
 * connected, inference or the wallet not ok? Then dvmctl status shows a
 * recovery within HEALTH_TROUBLE_MS rather than at the next 15 s tick.
 */
static int
in_trouble(const struct spoke *s, enum spoke_id id)
{
	const cJSON *x, *st;
	int ok, model_ok;

	if (s->health == NULL)
		return 1;
	switch (id) {
	case SPOKE_INVOICED:
		return !cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s->health, "ok"));
	case SPOKE_INFERD:	/* as dvmctl status judges it */
		spoke_inference_ok(s->health, &ok, &model_ok);
		return !(ok && model_ok);
	default:
		cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(s->health, "relays")) {
			st = cJSON_GetObjectItemCaseSensitive(x, "state");
			if (!cJSON_IsString(st) || strcmp(st->valuestring, "connected") != 0)
				return 1;
		}
		return 0;
	}
}

/*
 * Ask connected spokes for their status/health (kept for dvmctl status):
 * every one (all), or only those in trouble. Never a second question
 * before the first is answered (invoiced's is a wallet request, which may
 * take its whole timeout), unless the answer is long overdue.
 */
static void
poll_health(struct jobd *jd, int all)
{
	static const char *ops[SPOKE__COUNT] = { "status", "health", "health" };
	uint64_t now = now_ms();
	int i;

	for (i = 0; i < SPOKE__COUNT; i++) {
		struct spoke *s = &jd->spokes[i];
		cJSON *m;

		if (!s->connected || (!all && !in_trouble(s, (enum spoke_id)i)))
			continue;
		if (s->health_asked_ms != 0 && now - s->health_asked_ms < HEALTH_OVERDUE_MS)
			continue;
		if ((m = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(m, "op", ops[i]);
		if (spoke_send(jd, (enum spoke_id)i, m) == 0)
			s->health_asked_ms = now;
	}
}

void
spoke_poll_health(struct jobd *jd)
{
	poll_health(jd, 1);
}

static void
health_tick(struct loop *l, void *arg)
{
	struct jobd *jd = arg;

	poll_health(jd, 0);
	jd->health_timer = loop_add_timer(l, HEALTH_TROUBLE_MS, health_tick, jd);
}

/*
 * sub.c: subscriptions (live, re-sent after every reconnect) and fetches
 * (one-shot queries ending in one eose).
 *
 * Gap-free resubscription: each relay keeps, per subscription, the time up
 * to which it was known to be caught up: its EOSE, then live until the
 * connection dropped. The REQ after a reconnect asks for since = that mark
 * minus relay_since_slack, so an event posted while the relay was away is
 * still delivered; what was already seen is removed by the dedupe set.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/sha.h>

#include "loop.h"
#include "relayd.h"

#define CLOSED_RETRY_MS	5000	/* first re-REQ after a CLOSED, doubling */

static size_t
sub_idx(const struct sub *s)
{
	struct relayd *rd = s->rd;

	return (size_t)(s - rd->subs);
}

struct sub *
sub_find(struct relayd *rd, const char *id)
{
	size_t i;

	for (i = 0; i < MAX_SUBS; i++)
		if (rd->subs[i].kind != SUB_NONE && strcmp(rd->subs[i].id, id) == 0)
			return &rd->subs[i];
	return NULL;
}

static struct sub *
sub_alloc(struct relayd *rd)
{
	size_t i;

	for (i = 0; i < MAX_SUBS; i++)
		if (rd->subs[i].kind == SUB_NONE)
			return &rd->subs[i];
	return NULL;
}

static int
sub_is_target(const struct sub *s, const struct relay *r)
{
	size_t i;

	if (r->removing)
		return 0;
	if (s->kind == SUB_LIVE || r->configured)
		return r->configured;
	for (i = 0; i < s->nextra; i++)
		if (s->extra[i] == r)
			return 1;
	return 0;
}

/* ["REQ", id, filters...], since raised to the relay's mark for live subs. */
static void
sub_send_req(struct relay *r, struct sub *s)
{
	struct relayd *rd = r->rd;
	struct relay_sub *rs = &r->subs[sub_idx(s)];
	cJSON *msg, *f, *dup, *since;
	int64_t want = 0;

	if (s->kind == SUB_LIVE && rs->mark > 0)
		want = rs->mark - rd->conf.relay_since_slack;
	if ((msg = cJSON_CreateArray()) == NULL)
		return;
	cJSON_AddItemToArray(msg, cJSON_CreateString("REQ"));
	cJSON_AddItemToArray(msg, cJSON_CreateString(s->id));
	cJSON_ArrayForEach(f, s->filters) {
		if ((dup = cJSON_Duplicate(f, 1)) == NULL)
			goto out;
		since = cJSON_GetObjectItemCaseSensitive(dup, "since");
		if (want > 0 && (!cJSON_IsNumber(since) || since->valuedouble < (double)want)) {
			cJSON_DeleteItemFromObjectCaseSensitive(dup, "since");
			cJSON_AddNumberToObject(dup, "since", (double)want);
		}
		cJSON_AddItemToArray(msg, dup);
	}
	if (conn_send_json(r, msg) == 0) {
		rs->sent = 1;
		rs->eose = 0;
		rs->retry_at = 0;
	}
out:
	cJSON_Delete(msg);
}

static void
sub_send_close(struct relay *r, struct sub *s)
{
	cJSON *msg;

	if (!r->subs[sub_idx(s)].sent || (msg = cJSON_CreateArray()) == NULL)
		return;
	cJSON_AddItemToArray(msg, cJSON_CreateString("CLOSE"));
	cJSON_AddItemToArray(msg, cJSON_CreateString(s->id));
	conn_send_json(r, msg);
	cJSON_Delete(msg);
}

static void
sub_reset_slot(struct sub *s)
{
	struct relayd *rd = s->rd;
	struct relay *r;
	size_t i = sub_idx(s);

	for (r = rd->relays; r != NULL; r = r->next)
		memset(&r->subs[i], 0, sizeof(r->subs[i]));
}

static void
sub_clear(struct sub *s)
{
	struct relayd *rd = s->rd;

	cJSON_Delete(s->filters);
	dedupe_free(s->seen);
	memset(s, 0, sizeof(*s));
	s->rd = rd;	/* the slot stays the daemon's */
}

static void
sub_report(struct sub *s, const char *op, const struct relay *r, const char *msg)
{
	cJSON *o;

	if (s->owner == NULL || (o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "op", op);
	if (r != NULL)
		cJSON_AddStringToObject(o, "relay", r->url);
	cJSON_AddStringToObject(o, "sub", s->id);
	if (msg != NULL)
		cJSON_AddStringToObject(o, "message", msg);
	ipc_send(s->owner, o);
}

/* Live subscription id on every configured relay; replaces one of the same id. */
int
sub_subscribe(struct client *c, const char *id, const cJSON *filters)
{
	struct relayd *rd = c->rd;
	struct sub *s = sub_find(rd, id);
	struct relay *r;

	if (s != NULL && s->kind != SUB_LIVE)
		return -1;
	if (s == NULL && (s = sub_alloc(rd)) == NULL)
		return -1;
	sub_clear(s);
	sub_reset_slot(s);
	if ((s->filters = cJSON_Duplicate(filters, 1)) == NULL)
		return -1;
	s->kind = SUB_LIVE;
	s->owner = c;
	snprintf(s->id, sizeof(s->id), "%s", id);
	for (r = rd->relays; r != NULL; r = r->next)
		if (sub_is_target(s, r) && r->state == RS_CONNECTED)
			sub_send_req(r, s);
	return 0;
}

void
sub_unsubscribe(struct client *c, const char *id)
{
	struct relayd *rd = c->rd;
	struct sub *s = sub_find(rd, id);
	struct relay *r;

	if (s == NULL || s->kind != SUB_LIVE || s->owner != c)
		return;
	for (r = rd->relays; r != NULL; r = r->next)
		if (r->state == RS_CONNECTED)
			sub_send_close(r, s);
	sub_reset_slot(s);
	sub_clear(s);
}

/* End a fetch: CLOSE everywhere, one eose to its owner, free the slot. */
static void
sub_fetch_finish(struct sub *s)
{
	struct relayd *rd = s->rd;
	struct relay *r, *extra[MAX_TRANSIENT];
	size_t i, n = s->nextra;

	for (r = rd->relays; r != NULL; r = r->next)
		if (r->state == RS_CONNECTED)
			sub_send_close(r, s);
	sub_report(s, "eose", NULL, NULL);
	memcpy(extra, s->extra, sizeof(extra));
	sub_reset_slot(s);
	sub_clear(s);
	/* After the slot is free: releasing may close relays and re-enter here. */
	for (i = 0; i < n; i++)
		conn_release(extra[i]);
}

/* Done when no target relay that is up (or coming up) still owes an answer. */
static void
sub_fetch_check(struct sub *s)
{
	struct relayd *rd = s->rd;
	struct relay *r;
	size_t i = sub_idx(s);

	if (s->kind != SUB_FETCH)
		return;
	for (r = rd->relays; r != NULL; r = r->next) {
		if (!sub_is_target(s, r))
			continue;
		if ((r->state == RS_CONNECTING || r->state == RS_CONNECTED) &&
		    r->wsi != NULL && !r->subs[i].eose)
			return;
	}
	sub_fetch_finish(s);
}

static int
sub_fetch_add_extra(struct sub *s, const char *url)
{
	struct relayd *rd = s->rd;
	char norm[RELAY_URL_MAX];
	struct relay *r;
	size_t i;

	if (url_normalize(url, norm, sizeof(norm)) == -1)
		return -1;
	if ((r = conn_find(rd, norm)) != NULL && r->configured)
		return 0;
	for (i = 0; i < s->nextra; i++)
		if (s->extra[i] == r)
			return 0;
	if (s->nextra == MAX_TRANSIENT)
		return -1;
	if (r == NULL) {
		if (conn_count_transient(rd) >= MAX_TRANSIENT || (r = conn_add(rd, norm, 0)) == NULL)
			return -1;
		conn_connect(r);
	}
	r->uses++;
	s->extra[s->nextra++] = r;
	return 0;
}

/* One-shot query on every configured relay plus the listed ones. */
int
sub_fetch(struct client *c, const char *id, const cJSON *filters,
    const cJSON *relays, int timeout_ms)
{
	struct relayd *rd = c->rd;
	struct sub *s;
	struct relay *r;
	const cJSON *u;

	if (sub_find(rd, id) != NULL || (s = sub_alloc(rd)) == NULL)
		return -1;
	sub_reset_slot(s);
	if ((s->filters = cJSON_Duplicate(filters, 1)) == NULL ||
	    (s->seen = dedupe_new(FETCH_MAX_EVENTS)) == NULL) {
		sub_clear(s);
		return -1;
	}
	s->kind = SUB_FETCH;
	s->owner = c;
	snprintf(s->id, sizeof(s->id), "%s", id);
	s->deadline = now_ms() + (uint64_t)timeout_ms;
	cJSON_ArrayForEach(u, relays)
		if (sub_fetch_add_extra(s, u->valuestring) == -1)
			log_warnx("fetch %s: relay %s skipped", id, u->valuestring);
	for (r = rd->relays; r != NULL; r = r->next)
		if (sub_is_target(s, r) && r->state == RS_CONNECTED)
			sub_send_req(r, s);
	sub_fetch_check(s);
	return 0;
}

void
sub_on_connect(struct relay *r)
{
	struct relayd *rd = r->rd;
	size_t i;

	for (i = 0; i < MAX_SUBS; i++) {
		struct sub *s = &rd->subs[i];

		r->subs[i].sent = r->subs[i].eose = r->subs[i].auth_wait = 0;
		r->subs[i].closed_n = 0;
		if (s->kind != SUB_NONE && sub_is_target(s, r))
			sub_send_req(r, s);
	}
}

/* The connection dropped: remember how far each subscription got. */
void
sub_on_down(struct relay *r)
{
	struct relayd *rd = r->rd;
	int64_t live_until = now_unix() - (int64_t)((now_ms() - r->last_rx) / 1000);
	size_t i;

	for (i = 0; i < MAX_SUBS; i++) {
		struct relay_sub *rs = &r->subs[i];

		if (rd->subs[i].kind == SUB_LIVE && rs->sent && rs->eose && live_until > rs->mark)
			rs->mark = live_until;
		rs->sent = 0;
		rs->eose = 0;
	}
	for (i = 0; i < MAX_SUBS; i++)
		if (rd->subs[i].kind == SUB_FETCH)
			sub_fetch_check(&rd->subs[i]);
}

/*
 * The dedupe key is sha256(id || sig), not the id: relayd does not verify
 * signatures, so a relay could race a copy of a real event with a broken
 * signature; keyed on the id alone, jobd would reject the copy and never see
 * the real one. A genuinely re-signed event may pass twice; jobd dedupes ids.
 */
static void
sub_dedupe_key(const struct event *ev, uint8_t key[32])
{
	uint8_t buf[32 + 64];

	memcpy(buf, ev->id, 32);
	memcpy(buf + 32, ev->sig, 64);
	SHA256(buf, sizeof(buf), key);
}

void
sub_on_event(struct relay *r, struct frame *f)
{
	struct relayd *rd = r->rd;
	struct sub *s = sub_find(rd, f->sub);
	struct dedupe *seen;
	uint8_t key[32];

	if (s == NULL || !r->subs[sub_idx(s)].sent) {
		conn_drop(r, DROP_UNKNOWN_SUB, NULL);
		return;
	}
	if (!filter_match_any(s->filters, &f->ev)) {
		conn_drop(r, DROP_NO_MATCH, f->ev.idhex);
		return;
	}
	r->c.events++;
	rd->c.events++;
	seen = s->kind == SUB_LIVE ? rd->seen : s->seen;
	sub_dedupe_key(&f->ev, key);
	if (dedupe_has(seen, key)) {
		r->c.duplicates++;
		rd->c.duplicates++;
		return;
	}
	if (s->kind == SUB_FETCH && s->forwarded >= FETCH_MAX_EVENTS)
		return;
	/* Remembered only once written: an event nobody took is not lost. */
	if (ipc_send_event(s->owner, r, s->id, f) == 0) {
		dedupe_add(seen, key);
		s->forwarded++;
		rd->forwarded++;
	}
}

void
sub_on_eose(struct relay *r, const char *id)
{
	struct relayd *rd = r->rd;
	struct sub *s = sub_find(rd, id);
	struct relay_sub *rs;

	if (s == NULL || !(rs = &r->subs[sub_idx(s)])->sent) {
		conn_drop(r, DROP_UNKNOWN_SUB, "EOSE");
		return;
	}
	if (rs->eose)
		return;
	rs->eose = 1;
	if (s->kind == SUB_FETCH) {
		sub_fetch_check(s);
		return;
	}
	if (now_unix() > rs->mark)
		rs->mark = now_unix();
	sub_report(s, "eose", r, NULL);
}

void
sub_on_closed(struct relay *r, const char *id, const char *msg)
{
	struct relayd *rd = r->rd;
	struct sub *s = sub_find(rd, id);
	struct relay_sub *rs;
	uint64_t delay;

	if (s == NULL || !(rs = &r->subs[sub_idx(s)])->sent) {
		log_debug("%s: CLOSED for unknown subscription", r->url);
		return;
	}
	log_info("%s: CLOSED %s: %.200s", r->url, s->id, msg);
	rs->sent = 0;
	sub_report(s, "closed", r, msg);
	if (s->kind == SUB_FETCH) {
		rs->eose = 1;
		sub_fetch_check(s);
		return;
	}
	if (strncmp(msg, "auth-required:", 14) == 0) {
		rs->auth_wait = 1;
		return;
	}
	delay = (uint64_t)CLOSED_RETRY_MS << (rs->closed_n < 10 ? rs->closed_n : 10);
	if (delay > (uint64_t)rd->conf.relay_backoff_max * 1000)
		delay = (uint64_t)rd->conf.relay_backoff_max * 1000;
	rs->closed_n++;
	rs->retry_at = now_ms() + delay;
}

void
sub_on_auth(struct relay *r)
{
	struct relayd *rd = r->rd;
	size_t i;

	for (i = 0; i < MAX_SUBS; i++)
		if (rd->subs[i].kind != SUB_NONE && r->subs[i].auth_wait) {
			r->subs[i].auth_wait = 0;
			sub_send_req(r, &rd->subs[i]);
		}
}

/* r is being removed: fetches stop waiting for it. */
void
sub_relay_gone(struct relay *r)
{
	struct relayd *rd = r->rd;
	size_t i, j;

	for (i = 0; i < MAX_SUBS; i++) {
		struct sub *s = &rd->subs[i];

		for (j = 0; j < s->nextra; j++)
			if (s->extra[j] == r) {
				s->extra[j] = s->extra[--s->nextra];
				break;
			}
	}
	for (i = 0; i < MAX_SUBS; i++)
		if (rd->subs[i].kind == SUB_FETCH)
			sub_fetch_check(&rd->subs[i]);
}

void
sub_client_gone(struct client *c)
{
	struct relayd *rd = c->rd;
	size_t i;

	for (i = 0; i < MAX_SUBS; i++) {
		struct sub *s = &rd->subs[i];

		if (s->kind == SUB_NONE || s->owner != c)
			continue;
		s->owner = NULL;
		if (s->kind == SUB_FETCH)
			sub_fetch_finish(s);
		else {
			struct relay *r;

			for (r = rd->relays; r != NULL; r = r->next)
				if (r->state == RS_CONNECTED)
					sub_send_close(r, s);
			sub_reset_slot(s);
			sub_clear(s);
		}
	}
}

/* Re-REQ after CLOSED backoff; fetch timeouts. */
void
sub_tick(struct relayd *rd, uint64_t now)
{
	struct relay *r;
	size_t i;

	for (i = 0; i < MAX_SUBS; i++) {
		struct sub *s = &rd->subs[i];

		if (s->kind == SUB_FETCH) {
			if (now >= s->deadline)
				sub_fetch_finish(s);
			else
				sub_fetch_check(s);
			continue;
		}
		if (s->kind != SUB_LIVE)
			continue;
		for (r = rd->relays; r != NULL; r = r->next) {
			struct relay_sub *rs = &r->subs[i];

			if (r->state == RS_CONNECTED && !rs->sent && !rs->auth_wait &&
			    rs->retry_at != 0 && now >= rs->retry_at && sub_is_target(s, r))
				sub_send_req(r, s);
		}
	}
}

/*
 * stdin closed (--stdio): done when no fetch is open and every live
 * subscription has its stored events (EOSE) from every relay that is up or
 * coming up, so `echo subscribe | relayd --stdio` prints what is stored.
 */
int
sub_drained(struct relayd *rd)
{
	const struct relay *r;
	size_t i;

	for (i = 0; i < MAX_SUBS; i++) {
		const struct sub *s = &rd->subs[i];

		if (s->kind == SUB_FETCH)
			return 0;
		if (s->kind != SUB_LIVE)
			continue;
		for (r = rd->relays; r != NULL; r = r->next) {
			const struct relay_sub *rs = &r->subs[i];

			if (!sub_is_target(s, r))
				continue;
			if (r->state == RS_CONNECTING)
				return 0;
			if (r->state == RS_CONNECTED && !rs->eose && !rs->auth_wait &&
			    rs->retry_at == 0)
				return 0;
		}
	}
	return 1;
}

void
sub_free_all(struct relayd *rd)
{
	size_t i;

	for (i = 0; i < MAX_SUBS; i++)
		sub_clear(&rd->subs[i]);
}

/*
 * publish.c: EVENT to every configured relay (and listed extra relays),
 * each relay's OK reported back with `ok`. A relay that is down gets the
 * event queued (publish_queue_max per relay) and sent on reconnect; a
 * refusal with rate-limited:/error: or a missing OK is retried
 * publish_retries times with backoff; auth-required: waits for AUTH.
 */
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "relayd.h"

enum pt_state { PT_QUEUED, PT_SENT, PT_RETRY, PT_WAIT_AUTH, PT_DONE };

struct pub_target {
	struct relay	*r;		/* NULL once done */
	enum pt_state	 st;
	int		 tries;		/* EVENTs sent */
	int		 transient;	/* holds a use of r */
	uint64_t	 at;		/* SENT: OK deadline; RETRY: when */
};

struct pub {
	struct relayd	*rd;
	struct pub	*next;
	char		 id[65];
	char		*frame;		/* ["EVENT",{...}] */
	size_t		 len, nt, ndone;
	uint64_t	 born;
	struct pub_target t[];
};

static void
pub_report(const struct pub *p, const struct relay *r, int accepted,
    const char *msg, int final)
{
	struct relayd *rd = r->rd;
	cJSON *o;

	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "op", "ok");
	cJSON_AddStringToObject(o, "relay", r->url);
	cJSON_AddStringToObject(o, "id", p->id);
	cJSON_AddBoolToObject(o, "accepted", accepted);
	cJSON_AddStringToObject(o, "message", msg);
	cJSON_AddBoolToObject(o, "final", final);
	ipc_broadcast(rd, o);
}

static void
pub_done(struct pub *p, struct pub_target *t, int accepted, const char *msg)
{
	struct relayd *rd = p->rd;
	struct relay *r = t->r;

	pub_report(p, r, accepted, msg, 1);
	if (accepted) {
		r->c.accepted++;
		rd->c.accepted++;
	}
	t->st = PT_DONE;
	t->r = NULL;
	p->ndone++;
	if (t->transient)
		conn_release(r);
}

static void
pub_send(struct pub *p, struct pub_target *t)
{
	struct relayd *rd = p->rd;

	if (conn_send(t->r, p->frame, p->len) == -1) {
		t->st = PT_QUEUED;
		return;
	}
	t->st = PT_SENT;
	t->tries++;
	t->at = now_ms() + OK_TIMEOUT_MS;
	t->r->c.published++;
	rd->c.published++;
}

static void
pub_unlink_free(struct pub *p)
{
	struct relayd *rd = p->rd;
	struct pub **pp;

	for (pp = &rd->pubs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	rd->npubs--;
	free(p->frame);
	free(p);
}

size_t
pub_queued_for(const struct relay *r)
{
	struct relayd *rd = r->rd;
	const struct pub *p;
	size_t i, n = 0;

	for (p = rd->pubs; p != NULL; p = p->next)
		for (i = 0; i < p->nt; i++)
			if (p->t[i].r == r && p->t[i].st != PT_DONE)
				n++;
	return n;
}

static void
pub_add_target(struct pub *p, struct relay *r, int transient)
{
	struct relayd *rd = r->rd;
	struct pub_target *t = &p->t[p->nt++];

	t->r = r;
	t->transient = transient;
	if (transient)
		r->uses++;
	if (r->state == RS_CONNECTED)
		pub_send(p, t);
	else if (pub_queued_for(r) > (size_t)rd->conf.publish_queue_max)
		pub_done(p, t, 0, "error: publish queue full");
	else
		t->st = PT_QUEUED;
}

/* A listed relay: configured ones are targets already; else transient. */
static void
pub_add_listed(struct pub *p, const char *url)
{
	struct relayd *rd = p->rd;
	char norm[RELAY_URL_MAX];
	struct relay *r;
	size_t i;

	if (url_normalize(url, norm, sizeof(norm)) == -1) {
		log_warnx("publish %s: bad relay URL skipped", p->id);
		return;
	}
	if ((r = conn_find(rd, norm)) != NULL && r->configured)
		return;
	for (i = 0; i < p->nt; i++)
		if (p->t[i].r == r && r != NULL)
			return;
	if (r == NULL) {
		if (conn_count_transient(rd) >= MAX_TRANSIENT || (r = conn_add(rd, norm, 0)) == NULL) {
			log_warnx("publish %s: relay %s skipped: too many extra relays", p->id, norm);
			return;
		}
		conn_connect(r);
	}
	pub_add_target(p, r, 1);
}

/*
 * Start publishing event (already validated as an object) to the configured
 * relays and the listed ones. -1 with a reason in err.
 */
int
pub_publish(struct client *c, const cJSON *event, const cJSON *relays,
    char *err, size_t errlen)
{
	struct relayd *rd = c->rd;
	struct event ev;
	struct relay *r;
	struct pub *p;
	cJSON *msg;
	const cJSON *u;
	size_t n = (size_t)cJSON_GetArraySize(relays);

	if (rd->npubs >= MAX_PUBS) {
		snprintf(err, errlen, "too many events being published");
		return -1;
	}
	if (event_from_cjson(&ev, event, err, errlen) == -1)
		return -1;
	for (r = rd->relays; r != NULL; r = r->next)
		n++;
	if ((p = calloc(1, sizeof(*p) + n * sizeof(p->t[0]))) == NULL ||
	    (msg = cJSON_CreateArray()) == NULL) {
		free(p);
		event_free(&ev);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->rd = rd;
	memcpy(p->id, ev.idhex, sizeof(p->id));
	event_free(&ev);
	cJSON_AddItemToArray(msg, cJSON_CreateString("EVENT"));
	cJSON_AddItemReferenceToArray(msg, (cJSON *)event);
	p->frame = cJSON_PrintUnformatted(msg);
	cJSON_Delete(msg);
	if (p->frame == NULL) {
		free(p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	p->len = strlen(p->frame);
	p->born = now_ms();
	p->next = rd->pubs;
	rd->pubs = p;
	rd->npubs++;
	for (r = rd->relays; r != NULL; r = r->next)
		if (r->configured && !r->removing)
			pub_add_target(p, r, 0);
	cJSON_ArrayForEach(u, relays)
		pub_add_listed(p, u->valuestring);
	if (p->nt == 0)
		log_warnx("publish %s: no relay to publish to", p->id);
	if (p->ndone == p->nt)
		pub_unlink_free(p);
	return 0;
}

static int
pub_retryable(const char *msg)
{
	return strncmp(msg, "rate-limited:", 13) == 0 || strncmp(msg, "error:", 6) == 0;
}

/* An OK from r. -1 if it answers nothing we are publishing there. */
int
pub_on_ok(struct relay *r, const char *id, int accepted, const char *msg)
{
	struct relayd *rd = r->rd;
	struct pub *p;
	struct pub_target *t = NULL;
	size_t i;

	for (p = rd->pubs; p != NULL && t == NULL; p = p->next) {
		if (strcmp(p->id, id) != 0)
			continue;
		for (i = 0; i < p->nt && t == NULL; i++)
			if (p->t[i].r == r && p->t[i].st != PT_DONE)
				t = &p->t[i];
		if (t != NULL)
			break;
	}
	if (t == NULL)
		return -1;
	if (accepted)
		pub_done(p, t, 1, msg);
	else {
		r->c.refused++;
		rd->c.refused++;
		if (t->tries > rd->conf.publish_retries)
			pub_done(p, t, 0, msg);
		else if (strncmp(msg, "auth-required:", 14) == 0) {
			t->st = PT_WAIT_AUTH;
			t->at = now_ms() + OK_TIMEOUT_MS * 3;
			pub_report(p, r, 0, msg, 0);
		} else if (pub_retryable(msg)) {
			t->st = PT_RETRY;
			t->at = now_ms() + (1000u << (t->tries < 6 ? t->tries : 6));
			pub_report(p, r, 0, msg, 0);
		} else
			pub_done(p, t, 0, msg);
	}
	if (p->ndone == p->nt)
		pub_unlink_free(p);
	return 0;
}

static void
pub_each_target(struct relay *r, enum pt_state from, int send)
{
	struct relayd *rd = r->rd;
	struct pub *p;
	size_t i;

	for (p = rd->pubs; p != NULL; p = p->next)
		for (i = 0; i < p->nt; i++) {
			struct pub_target *t = &p->t[i];

			if (t->r != r || t->st != from)
				continue;
			if (send)
				pub_send(p, t);
			else
				t->st = PT_QUEUED;
		}
}

void
pub_on_connect(struct relay *r)
{
	pub_each_target(r, PT_QUEUED, 1);
}

void
pub_on_down(struct relay *r)
{
	pub_each_target(r, PT_SENT, 0);
	pub_each_target(r, PT_WAIT_AUTH, 0);
}

void
pub_on_auth(struct relay *r)
{
	pub_each_target(r, PT_WAIT_AUTH, 1);
}

/* r is being removed: whatever it still owes is final now. */
void
pub_relay_gone(struct relay *r)
{
	struct relayd *rd = r->rd;
	struct pub *p, *next;
	size_t i;
	int changed;

	for (p = rd->pubs; p != NULL; p = next) {
		next = p->next;
		for (changed = 0, i = 0; i < p->nt; i++)
			if (p->t[i].r == r && p->t[i].st != PT_DONE) {
				p->t[i].transient = 0;	/* r is going anyway */
				pub_done(p, &p->t[i], 0, "error: relay removed");
				changed = 1;
			}
		/* Only pubs changed here: a caller may hold another finished one. */
		if (changed && p->ndone == p->nt)
			pub_unlink_free(p);
	}
}

static void
pub_tick_target(struct pub *p, struct pub_target *t, uint64_t now)
{
	struct relayd *rd = p->rd;

	if (t->transient && now - p->born >= TRANSIENT_MAX_MS) {
		pub_done(p, t, 0, "timeout: no OK");
		return;
	}
	switch (t->st) {
	case PT_SENT:
	case PT_WAIT_AUTH:
		if (now < t->at)
			break;
		if (t->tries > rd->conf.publish_retries) {
			pub_done(p, t, 0, "timeout: no OK");
			break;
		}
		/* FALLTHROUGH */
	case PT_RETRY:
		if (now < t->at)
			break;
		if (t->r->state == RS_CONNECTED)
			pub_send(p, t);
		else
			t->st = PT_QUEUED;
		break;
	default:
		break;
	}
}

void
pub_tick(struct relayd *rd, uint64_t now)
{
	struct pub *p, *next;
	size_t i;

	for (p = rd->pubs; p != NULL; p = next) {
		next = p->next;
		for (i = 0; i < p->nt; i++)
			if (p->t[i].st != PT_DONE)
				pub_tick_target(p, &p->t[i], now);
		if (p->ndone == p->nt)
			pub_unlink_free(p);
	}
}

void
pub_free_all(struct relayd *rd)
{
	struct pub *p;

	while ((p = rd->pubs) != NULL) {
		rd->pubs = p->next;
		free(p->frame);
		free(p);
	}
	rd->npubs = 0;
}

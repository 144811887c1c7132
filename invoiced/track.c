/*
 * track.c: checks every pending invoice until the backend says paid or the
 * invoice has expired.
 *
 * Rules that keep paid jobs from being lost (other DVMs drop them):
 *   - paid only when the backend says paid AND the amount received covers
 *     the amount asked;
 *   - a failed lookup is retried with backoff and changes nothing else;
 *   - expired only once the clock is past expires_at AND a successful
 *     lookup after that moment still says unpaid (a payment that arrived
 *     just before expiry is not missed because the wallet was down);
 *   - an untracked invoice (its job ended unpaid) gets one last lookup
 *     that starts after the untrack, so a payment that beat it is still
 *     reported paid; otherwise it is forgotten.
 *
 * The wallet API is not hammered: an invoice is looked up less often as
 * it ages (track_interval_ms, capped), at most TRACK_MAX_PER_TICK lookups
 * start per tick in all, and at most max_tracked invoices are tracked;
 * a full tracker is refused by the caller before an invoice is made.
 */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "invoiced.h"

#define TRACK_TICK_MS		250
#define TRACK_MAX_INFLIGHT	8
#define TRACK_BACKOFF_MAX_MS	60000
#define TRACK_BACKOFF_FAST_MS	10000	/* someone is waiting to pay: retry sooner */
#define TRACK_MAX_PER_TICK	5	/* lookups started per tick: 20 a second */
#define TRACK_AGE_SLOWDOWN	20	/* 1 ms more between lookups per 20 ms of age */
#define TRACK_INTERVAL_CAP_MS	60000

struct track_ent {
	struct inv_row	 row;
	uint64_t	 due_ms;
	unsigned	 fails;
	int		 inflight;
	uint64_t	 added_ms;
	int		 untrack;	/* 1: forget after the next lookup; 2: after the one after */
	struct tracker	*t;
	struct track_ent *next;
};

struct tracker {
	struct loop	*loop;
	struct backend	*be;
	struct store	*store;
	int		 fast_ms, slow_ms;
	track_event_cb	 cb;
	track_held_cb	 held_cb;
	void		*arg;
	struct track_ent *ents;
	size_t		 n, max;
	int		 inflight;
	uint64_t	 timer;
	struct log_limit lim;
};

static void track_tick(struct loop *, void *);

struct tracker *
track_new(struct loop *l, struct backend *be, struct store *s, int fast_ms, int slow_ms,
    track_event_cb cb, void *arg)
{
	struct tracker *t;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->loop = l;
	t->be = be;
	t->store = s;
	t->fast_ms = fast_ms > 0 ? fast_ms : 1500;
	t->slow_ms = slow_ms > 0 ? slow_ms : 15000;
	t->cb = cb;
	t->arg = arg;
	t->max = INV_MAX_TRACKED;
	t->lim.burst = 5;
	t->lim.per_ms = 10000;
	t->timer = loop_add_timer(l, TRACK_TICK_MS, track_tick, t);
	return t;
}

/* Call after the backend is freed: that runs every outstanding lookup callback. */
void
track_free(struct tracker *t)
{
	struct track_ent *e, *next;

	if (t == NULL)
		return;
	loop_cancel_timer(t->loop, t->timer);
	for (e = t->ents; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	free(t);
}

void
track_set_intervals(struct tracker *t, int fast_ms, int slow_ms)
{
	if (fast_ms > 0)
		t->fast_ms = fast_ms;
	if (slow_ms > 0)
		t->slow_ms = slow_ms;
}

size_t
track_count(const struct tracker *t)
{
	return t->n;
}

void
track_set_max(struct tracker *t, size_t max)
{
	t->max = max;
}

/* 1 if extra more invoices (creates in flight) would not all fit. */
int
track_full(const struct tracker *t, size_t extra)
{
	return t->n + extra >= t->max;
}

static struct track_ent *
track_find_job(struct tracker *t, const char *job)
{
	struct track_ent *e;

	for (e = t->ents; e != NULL; e = e->next)
		if (strcmp(e->row.job, job) == 0)
			return e;
	return NULL;
}

int
track_add(struct tracker *t, const struct inv_row *r)
{
	struct track_ent *e;

	if (track_find_job(t, r->job) != NULL)
		return 0;
	if (t->n >= t->max) {
		log_warnx("track: %zu invoices pending, not tracking %s", t->n, r->job);
		return -1;
	}
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return -1;
	e->row = *r;
	e->t = t;
	e->added_ms = now_ms();
	/* The first look comes soon: after a restart a payment may be waiting. */
	e->due_ms = now_ms() + (uint64_t)t->fast_ms;
	e->next = t->ents;
	t->ents = e;
	t->n++;
	return 0;
}

void
track_set_fast(struct tracker *t, const char *job)
{
	struct track_ent *e = track_find_job(t, job);
	uint64_t soon = now_ms() + (uint64_t)t->fast_ms;

	if (e == NULL)
		return;
	e->row.fast = 1;
	if (e->fails == 0 && e->due_ms > soon)
		e->due_ms = soon;
}

void
track_poke(struct tracker *t, const char *hash)
{
	struct track_ent *e;

	for (e = t->ents; e != NULL; e = e->next)
		if (strcmp(e->row.payment_hash, hash) == 0)
			e->due_ms = now_ms();
}

void
track_set_held(struct tracker *t, track_held_cb cb)
{
	t->held_cb = cb;
}

static void track_remove(struct tracker *, struct track_ent *);

void
track_drop(struct tracker *t, const char *job)
{
	struct track_ent *e = track_find_job(t, job);

	/* One in flight is left to its callback, which then finds it gone. */
	if (e != NULL && !e->inflight)
		track_remove(t, e);
	else if (e != NULL)
		e->row.escrow = ESC_CANCEL;
}

static void
track_remove(struct tracker *t, struct track_ent *e)
{
	struct track_ent **pp;

	for (pp = &t->ents; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			t->n--;
			break;
		}
	free(e);
}

/*
 * The wait between two lookups of an invoice tracked for age_ms: base at
 * first (a payer may be about to pay), longer as it ages, capped (but
 * never below base).
 */
uint64_t
track_interval_ms(uint64_t base, uint64_t age_ms)
{
	uint64_t ms = base + age_ms / TRACK_AGE_SLOWDOWN;
	uint64_t cap = base > TRACK_INTERVAL_CAP_MS ? base : TRACK_INTERVAL_CAP_MS;

	return ms < cap ? ms : cap;
}

static uint64_t
track_interval(struct tracker *t, struct track_ent *e)
{
	uint64_t ms = track_interval_ms((uint64_t)(e->row.fast ? t->fast_ms : t->slow_ms),
	    now_ms() - e->added_ms);
	int64_t left = e->row.expires_at - now_unix();

	/* Look again right after expiry, so "expired" is not late by a slow poll. */
	if (left >= 0 && (uint64_t)left * 1000 + 200 < ms)
		ms = (uint64_t)left * 1000 + 200;
	return ms;
}

static void
track_failed(struct tracker *t, struct track_ent *e, const char *why)
{
	uint64_t ms = (uint64_t)t->fast_ms;
	uint64_t cap = e->row.fast ? TRACK_BACKOFF_FAST_MS : TRACK_BACKOFF_MAX_MS;
	unsigned i;

	e->fails++;
	for (i = 1; i < e->fails && ms < cap; i++)
		ms *= 2;
	if (ms > cap)
		ms = cap;
	e->due_ms = now_ms() + ms;
	if (log_limit_ok(&t->lim))
		log_warnx("track: lookup of job %s failed (%u in a row), retry in %llu ms: %s",
		    e->row.job, e->fails, (unsigned long long)ms, why);
}

static void
track_looked_up(const struct lookup_result *res, void *arg)
{
	struct track_ent *e = arg;
	struct tracker *t = e->t;
	struct inv_row row;

	e->inflight = 0;
	t->inflight--;
	if (!res->ok) {
		track_failed(t, e, res->error);
		return;
	}
	e->fails = 0;
	if (e->row.escrow != ESC_NONE) {
		track_remove(t, e);	/* dropped meanwhile: escrow.c has it */
		return;
	}
	if (e->row.hold && res->state == LK_HELD && t->held_cb != NULL) {
		row = e->row;
		track_remove(t, e);
		t->held_cb(&row, res, t->arg);
		return;
	}
	if (res->state == LK_PAID && res->received_msat >= e->row.amount_msat) {
		if (store_set_paid(t->store, e->row.job, res->received_msat, res->settled_at) != 0) {
			track_failed(t, e, "cannot record paid in the store");
			return;
		}
		row = e->row;
		row.status = INV_PAID;
		row.received_msat = res->received_msat;
		row.settled_at = res->settled_at;
		log_info("job %s paid: %llu msat", row.job, (unsigned long long)row.received_msat);
		track_remove(t, e);
		t->cb(&row, t->arg);
		return;
	}
	if (res->state == LK_PAID)
		log_warnx("job %s: backend says paid but received %llu msat < %llu asked; not paid",
		    e->row.job, (unsigned long long)res->received_msat,
		    (unsigned long long)e->row.amount_msat);
	if (e->untrack == 2) {		/* begun before the untrack: look once more */
		e->untrack = 1;
		e->due_ms = now_ms();
		return;
	}
	if (e->untrack == 1 && res->state != LK_HELD) {	/* a held payment is hold's to end */
		if (store_set_expired(t->store, e->row.job) != 0) {
			track_failed(t, e, "cannot record untracked in the store");
			return;
		}
		log_info("job %s: invoice untracked unpaid (its job ended)", e->row.job);
		track_remove(t, e);
		return;
	}
	if (now_unix() >= e->row.expires_at) {
		if (store_set_expired(t->store, e->row.job) != 0) {
			track_failed(t, e, "cannot record expired in the store");
			return;
		}
		row = e->row;
		row.status = INV_EXPIRED;
		log_info("job %s: invoice expired unpaid", row.job);
		track_remove(t, e);
		t->cb(&row, t->arg);
		return;
	}
	e->due_ms = now_ms() + track_interval(t, e);
}

static void
track_tick(struct loop *l, void *arg)
{
	struct tracker *t = arg;
	struct track_ent *e;
	uint64_t now = now_ms();
	int started = 0;

	t->timer = loop_add_timer(l, TRACK_TICK_MS, track_tick, t);
	for (e = t->ents; e != NULL && t->inflight < TRACK_MAX_INFLIGHT &&
	    started < TRACK_MAX_PER_TICK; e = e->next) {
		if (e->inflight || e->due_ms > now)
			continue;
		started++;
		e->inflight = 1;
		t->inflight++;
		if (t->be->lookup(t->be, e->row.payment_hash, e->row.ref, track_looked_up, e) != 0) {
			e->inflight = 0;
			t->inflight--;
			track_failed(t, e, "cannot start a lookup");
		}
	}
}

/*
 * The job of this invoice ended unpaid: look it up once more (a lookup
 * that starts from now on) and forget it unless it was paid. 0, or -1 if
 * it is not tracked.
 */
int
track_untrack(struct tracker *t, const char *job)
{
	struct track_ent *e = track_find_job(t, job);

	if (e == NULL)
		return -1;
	e->untrack = e->inflight ? 2 : 1;
	if (e->fails == 0)
		e->due_ms = now_ms();
	return 0;
}

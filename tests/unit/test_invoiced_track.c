/*
 * test_invoiced_track.c: the tracker's rules, with a scripted backend in
 * the real poll loop: failed lookups back off and never expire an invoice
 * (not even past its expiry); an underpaid "paid" is not paid; expiry needs
 * a successful lookup after expires_at; lookups are rate-bounded; a full
 * tracker refuses; an untracked invoice is forgotten unless paid.
 */
/* LINK: invoiced/track.c invoiced/store.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "../../invoiced/invoiced.h"

/* The script: what the next lookups answer. */
static struct {
	int		 fail;		/* answer "lookup failed" */
	enum lookup_state state;
	uint64_t	 received;
	int		 lookups;
} script;

struct pending {
	lookup_cb	 cb;
	void		*arg;
};

static struct loop *lp;
static int npend;	/* answers not yet delivered */

/* Answers arrive on a later loop pass, as from a real backend. */
static void
answer(struct loop *l, void *arg)
{
	struct pending *p = arg;
	struct lookup_result r;

	memset(&r, 0, sizeof(r));
	if (script.fail)
		snprintf(r.error, sizeof(r.error), "scripted failure");
	else {
		r.ok = 1;
		r.state = script.state;
		r.received_msat = script.received;
		r.settled_at = 1700000000;
	}
	npend--;
	p->cb(&r, p->arg);
	free(p);
}

/* Free a tracker only with no answer in flight to it. */
static void
drain_and_free(struct tracker *t)
{
	while (npend > 0)
		loop_run_once(lp, 10);
	track_free(t);
}

static int
fake_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	struct pending *p = malloc(sizeof(*p));

	if (p == NULL)
		return -1;
	p->cb = cb;
	p->arg = arg;
	script.lookups++;
	npend++;
	loop_add_timer(lp, 5, answer, p);
	return 0;
}

static struct inv_row last;
static int events;

static void
on_event(const struct inv_row *r, void *arg)
{
	last = *r;
	events++;
}

static void
run_for(uint64_t ms)
{
	uint64_t end = now_ms() + ms;

	while (now_ms() < end)
		loop_run_once(lp, 20);
}

static struct store *st;
static struct backend be;
static char dir[64];

static void
add_invoice(struct tracker *t, char c, uint64_t msat, int64_t expires_in)
{
	struct inv_row r;

	memset(&r, 0, sizeof(r));
	memset(r.job, c, 64);
	memset(r.payment_hash, c, 64);
	r.amount_msat = msat;
	snprintf(r.bolt11, sizeof(r.bolt11), "lnbcrt1x");
	r.expires_at = now_unix() + expires_in;
	r.fast = 1;
	store_insert(st, &r);
	track_add(t, &r);
}

TEST(failures_back_off_and_never_expire)
{
	struct tracker *t = track_new(lp, &be, st, 100, 100, on_event, NULL);

	REQUIRE(t != NULL);
	memset(&script, 0, sizeof(script));
	events = 0;
	script.fail = 1;
	add_invoice(t, 'a', 5000, 1);
	run_for(2500);		/* well past expires_at, every lookup failing */
	CHECKF(events == 0, "an event (%d) while every lookup failed", events);
	CHECKF(script.lookups >= 3 && script.lookups <= 8,
	    "%d lookups in 2.5 s: no backoff (or none at all)", script.lookups);
	CHECK(track_count(t) == 1);
	script.fail = 0;
	script.state = LK_PENDING;
	run_for(2500);		/* the backoff may be up to 1.6 s by now */
	CHECK(events == 1 && last.status == INV_EXPIRED);
	CHECK(track_count(t) == 0);
	drain_and_free(t);
}

TEST(paid_needs_the_whole_amount)
{
	struct tracker *t = track_new(lp, &be, st, 100, 100, on_event, NULL);
	struct inv_row r;

	REQUIRE(t != NULL);
	memset(&script, 0, sizeof(script));
	events = 0;
	script.state = LK_PAID;
	script.received = 4999;
	add_invoice(t, 'b', 5000, 600);
	run_for(600);
	CHECK(events == 0);
	script.received = 5001;
	run_for(600);
	CHECK(events == 1 && last.status == INV_PAID && last.received_msat == 5001);
	memset(r.job, 'b', 64);
	r.job[64] = '\0';
	CHECK(store_get(st, r.job, &r) == 1 && r.status == INV_PAID && !r.acked);
	drain_and_free(t);
}

TEST(failed_state_before_expiry_keeps_tracking)
{
	struct tracker *t = track_new(lp, &be, st, 100, 100, on_event, NULL);

	REQUIRE(t != NULL);
	memset(&script, 0, sizeof(script));
	events = 0;
	script.state = LK_FAILED;	/* the wallet's word, but the clock says not yet */
	/*
	 * expires_at has one-second resolution: 3 s from now is at least 2 s
	 * away, so a 1 s look stays clear of it even on a slow, loaded machine.
	 */
	add_invoice(t, 'c', 5000, 3);
	run_for(1000);
	CHECK(events == 0 && track_count(t) == 1);
	run_for(3500);
	CHECK(events == 1 && last.status == INV_EXPIRED);
	drain_and_free(t);
}

/* Fifty invoices due at once: lookups start at a bounded rate, not all together. */
TEST(lookups_are_rate_bounded)
{
	struct tracker *t = track_new(lp, &be, st, 100, 100, on_event, NULL);
	char c;

	REQUIRE(t != NULL);
	memset(&script, 0, sizeof(script));
	script.state = LK_PENDING;
	for (c = 'A'; c < 'A' + 50; c++)
		add_invoice(t, c, 1000, 600);
	/* 5 per 250 ms tick: at most 15 in 3 ticks, whatever the machine's speed */
	run_for(700);
	CHECKF(script.lookups > 0 && script.lookups <= 15,
	    "%d lookups of 50 due invoices in 0.7 s", script.lookups);
	drain_and_free(t);
}

TEST(interval_grows_with_age_and_is_capped)
{
	CHECK(track_interval_ms(1500, 0) == 1500);
	CHECK(track_interval_ms(1500, 60000) > track_interval_ms(1500, 0));
	CHECK(track_interval_ms(1500, 600000) >= track_interval_ms(1500, 60000));
	CHECK(track_interval_ms(1500, 86400000) == 60000);
	CHECK(track_interval_ms(120000, 86400000) == 120000);	/* never below base */
}

/* A full tracker says so; nothing is stored and silently left unchecked. */
TEST(full_tracker_refuses)
{
	struct tracker *t = track_new(lp, &be, st, 100, 100, on_event, NULL);
	struct inv_row r;

	REQUIRE(t != NULL);
	track_set_max(t, 2);
	add_invoice(t, 'p', 1000, 600);
	CHECK(!track_full(t, 0));
	CHECK(track_full(t, 1));	/* one create in flight would fill it */
	add_invoice(t, 'q', 1000, 600);
	CHECK(track_full(t, 0));
	memset(&r, 0, sizeof(r));
	memset(r.job, 'r', 64);
	CHECK(track_add(t, &r) == -1 && track_count(t) == 2);
	drain_and_free(t);
}

/* untrack: one more lookup; unpaid it is forgotten, paid it is still reported. */
TEST(untrack_forgets_unpaid_reports_paid)
{
	struct tracker *t = track_new(lp, &be, st, 100, 10000, on_event, NULL);
	struct inv_row r;

	REQUIRE(t != NULL);
	memset(&script, 0, sizeof(script));
	events = 0;
	script.state = LK_PENDING;
	add_invoice(t, 'u', 5000, 600);
	add_invoice(t, 'v', 5000, 600);
	run_for(400);		/* the first look of each */
	memset(r.job, 'u', 64);
	r.job[64] = '\0';
	CHECK(track_untrack(t, r.job) == 0);
	CHECK(track_untrack(t, "unknown") == -1);
	run_for(600);
	CHECK(events == 0 && track_count(t) == 1);
	CHECK(store_get(st, r.job, &r) == 1 && r.status == INV_EXPIRED);
	memset(r.job, 'v', 64);
	r.job[64] = '\0';
	script.state = LK_PAID;
	script.received = 5000;
	CHECK(track_untrack(t, r.job) == 0);
	run_for(600);
	CHECK(events == 1 && last.status == INV_PAID && track_count(t) == 0);
	CHECK(store_get(st, r.job, &r) == 1 && r.status == INV_PAID);
	drain_and_free(t);
}

int
main(void)
{
	char err[256], db[128], cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/test-invoiced-track.XXXXXX");
	if (mkdtemp(dir) == NULL || (lp = loop_new()) == NULL)
		return 111;
	snprintf(db, sizeof(db), "%s/invoices.db", dir);
	if ((st = store_open(db, err, sizeof(err))) == NULL)
		return 111;
	be.name = "fake";
	be.lookup = fake_lookup;
	RUN(failures_back_off_and_never_expire);
	RUN(paid_needs_the_whole_amount);
	RUN(failed_state_before_expiry_keeps_tracking);
	RUN(lookups_are_rate_bounded);
	RUN(interval_grows_with_age_and_is_capped);
	RUN(full_tracker_refuses);
	RUN(untrack_forgets_unpaid_reports_paid);
	store_close(st);
	loop_free(lp);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	T_DONE();
}

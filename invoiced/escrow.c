/*
 * escrow.c: hold invoices once paid (payment_mode = hold; hold-invoices.md
 * §7). A held payment is settled only when jobd says the result is out,
 * cancelled when jobd says the job failed, and cancelled by invoiced itself
 * at hold_hard, the last safe moment before the HTLC's own deadline.
 *
 * Every decision is committed to invoices.db (store_set_escrow) before the
 * call it leads to leaves, and each is driven until the backend confirms
 * it: settle, then a lookup that says settled; cancel, then a lookup that
 * says cancelled. Once a settle was stored the row never goes to cancel
 * (store.c refuses it), so a crash anywhere ends in exactly one of the two.
 *
 * Deadlines: the HTLC that expires first, minus LND's auto-cancel delta (18
 * blocks) and a margin of 6, converted at ESC_BLOCK_S seconds a block, half
 * the 600 s average, so that a run of fast blocks still leaves time. jobd
 * is told min(held + hold_max_seconds, hard - ESC_JOBD_MARGIN_S).
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "log.h"
#include "invoiced.h"

#define ESC_TICK_MS		250
#define ESC_BLOCK_S		300
#define ESC_LND_DELTA		18
#define ESC_MARGIN_BLOCKS	6
#define ESC_JOBD_MARGIN_S	120
#define ESC_UNKNOWN_HARD_S	600	/* no block heights (NWC): this after jobd's deadline */
#define ESC_BACKOFF_MAX_MS	30000
#define ESC_EXPIRED_TRIES	10

struct esc_ent {
	struct inv_row	 row;
	uint64_t	 due_ms;
	unsigned	 fails;
	unsigned	 expired_seen;
	int		 inflight;
	int		 call_ok;	/* the settle or cancel call itself answered ok */
	struct escrow	*esc;
	struct esc_ent	*next;
};

struct escrow {
	struct loop	*loop;
	const struct conf *cf;
	struct store	*store;
	struct backend	*be;
	escrow_msg_cb	 cb;
	void		*arg;
	struct esc_ent	*ents;
	uint64_t	 timer;
	int		 need_hold;	/* payment_mode = hold: the backend must be able to */
};

static void escrow_tick(struct loop *, void *);

struct escrow *
escrow_new(struct loop *l, const struct conf *cf, struct store *s, struct backend *be,
    escrow_msg_cb cb, void *arg)
{
	struct escrow *e;

	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->loop = l;
	e->cf = cf;
	e->store = s;
	e->be = be;
	e->cb = cb;
	e->arg = arg;
	e->need_hold = cf->payment_mode == PAY_HOLD;
	e->timer = loop_add_timer(l, ESC_TICK_MS, escrow_tick, e);
	return e;
}

/* After the backend is freed (its callbacks have run). */
void
escrow_free(struct escrow *e)
{
	struct esc_ent *x;

	if (e == NULL)
		return;
	loop_cancel_timer(e->loop, e->timer);
	while ((x = e->ents) != NULL) {
		e->ents = x->next;
		free(x);
	}
	free(e);
}

static struct esc_ent *
escrow_find(struct escrow *e, const char *job)
{
	struct esc_ent *x;

	for (x = e->ents; x != NULL; x = x->next)
		if (strcmp(x->row.job, job) == 0)
			return x;
	return NULL;
}

static void
escrow_add(struct escrow *e, const struct inv_row *r)
{
	struct esc_ent *x = escrow_find(e, r->job);

	if (x != NULL) {
		x->row = *r;
		x->due_ms = now_ms();
		x->fails = 0;
		return;
	}
	if ((x = calloc(1, sizeof(*x))) == NULL) {
		log_warnx("escrow: out of memory for job %s (the next restart picks it up)", r->job);
		return;
	}
	x->row = *r;
	x->esc = e;
	x->due_ms = now_ms();
	x->next = e->ents;
	e->ents = x;
}

static void
escrow_remove(struct escrow *e, struct esc_ent *x)
{
	struct esc_ent **pp;

	for (pp = &e->ents; *pp != NULL; pp = &(*pp)->next)
		if (*pp == x) {
			*pp = x->next;
			break;
		}
	free(x);
}

static void
escrow_resume_one(const struct inv_row *r, void *arg)
{
	escrow_add(arg, r);
}

int
escrow_resume(struct escrow *e)
{
	return store_each_escrow(e->store, escrow_resume_one, e);
}

/* Store the row's new escrow state; 0, or -1 (nothing changed). */
static int
escrow_store(struct escrow *e, struct inv_row *r, enum inv_escrow to)
{
	enum inv_escrow was = r->escrow;
	enum inv_status st = r->status;

	r->escrow = to;
	if (to == ESC_CANCELLED)
		r->status = INV_EXPIRED;
	if (store_set_escrow(e->store, r) != 0) {
		r->escrow = was;
		r->status = st;
		return -1;
	}
	return 0;
}

/* The moment invoiced cancels on its own, from the lookup that saw the hold. */
static int64_t
escrow_hard(const struct lookup_result *res, int64_t now, int64_t hold_max)
{
	int64_t left, base;

	if (res->htlc_expiry_height == 0 || res->htlc_accept_height == 0 ||
	    res->htlc_expiry_height <= res->htlc_accept_height)
		return now + hold_max + ESC_UNKNOWN_HARD_S;
	left = (int64_t)res->htlc_expiry_height - res->htlc_accept_height - ESC_LND_DELTA -
	    ESC_MARGIN_BLOCKS;
	base = res->htlc_accept_time > 0 && res->htlc_accept_time <= now ? res->htlc_accept_time : now;
	return left <= 0 ? now : base + left * ESC_BLOCK_S;
}

/* The tracker saw a hold invoice held. */
void
escrow_held(struct escrow *e, const struct inv_row *in, const struct lookup_result *res)
{
	struct inv_row r = *in;
	int64_t now = now_unix();

	r.held_at = now;
	r.received_msat = res->received_msat;
	r.hold_hard = escrow_hard(res, now, e->cf->hold_max_seconds);
	r.hold_deadline = now + e->cf->hold_max_seconds;
	if (r.hold_deadline > r.hold_hard - ESC_JOBD_MARGIN_S)
		r.hold_deadline = r.hold_hard - ESC_JOBD_MARGIN_S;
	if (r.hold_deadline < now)
		r.hold_deadline = now;
	if (res->received_msat < r.amount_msat) {
		log_warnx("job %s: held %llu msat < %llu asked; returning it", r.job,
		    (unsigned long long)res->received_msat, (unsigned long long)r.amount_msat);
		if (escrow_store(e, &r, ESC_CANCEL) == 0)
			escrow_add(e, &r);
		return;
	}
	if (escrow_store(e, &r, ESC_HELD) != 0) {
		log_warnx("job %s: cannot record the held payment; looking again", r.job);
		return;
	}
	log_info("job %s: payment held (%llu msat); jobd must settle or cancel by %lld",
	    r.job, (unsigned long long)r.received_msat, (long long)r.hold_deadline);
	escrow_add(e, &r);
	e->cb(&r, e->arg);
}

/* An unpaid hold invoice's quote ended: cancel it, so it cannot be paid later. */
void
escrow_expired(struct escrow *e, const struct inv_row *in)
{
	struct inv_row r = *in;

	if (!r.hold || r.escrow != ESC_NONE)
		return;
	if (escrow_store(e, &r, ESC_CANCEL) == 0)
		escrow_add(e, &r);
}

/*
 * jobd's settle (cancel 0) or cancel (1). 1: r holds the final state to
 * answer now; 0: in progress, the answer is broadcast when confirmed; -1:
 * refused (why in why).
 */
int
escrow_ask(struct escrow *e, struct inv_row *r, int cancel, const char **why)
{
	if (!r->hold) {
		*why = "not a hold invoice";
		return -1;
	}
	if (r->escrow == ESC_SETTLED || r->escrow == ESC_CANCELLED)
		return 1;
	if (cancel && r->escrow == ESC_SETTLE) {
		log_warnx("job %s: cancel asked after the settle was sent; settling", r->job);
		return 0;
	}
	if (!cancel && r->escrow == ESC_CANCEL) {
		log_warnx("job %s: settle asked after the cancel was sent; cancelling", r->job);
		return 0;
	}
	if (!cancel && r->escrow == ESC_NONE) {
		*why = "the payment is not held";
		return -1;
	}
	if (r->escrow == ESC_NONE || r->escrow == ESC_HELD) {
		if (escrow_store(e, r, cancel ? ESC_CANCEL : ESC_SETTLE) != 0) {
			*why = "invoice store unavailable";
			return -1;
		}
		log_info("job %s: %s the held payment", r->job, cancel ? "cancelling" : "settling");
	}
	escrow_add(e, r);
	return 0;
}

void
escrow_poke(struct escrow *e, const char *hash)
{
	struct esc_ent *x;

	for (x = e->ents; x != NULL; x = x->next)
		if (strcmp(x->row.payment_hash, hash) == 0)
			x->due_ms = now_ms();
}

static void
escrow_retry(struct esc_ent *x, const char *why)
{
	uint64_t ms = 1000;
	unsigned i;

	x->fails++;
	for (i = 1; i < x->fails && ms < ESC_BACKOFF_MAX_MS; i++)
		ms *= 2;
	if (ms > ESC_BACKOFF_MAX_MS)
		ms = ESC_BACKOFF_MAX_MS;
	x->due_ms = now_ms() + ms;
	log_warnx("escrow: job %s (%s): %s; again in %llu ms", x->row.job,
	    x->row.escrow == ESC_SETTLE ? "settle" : x->row.escrow == ESC_CANCEL ? "cancel" :
	    "held", why, (unsigned long long)ms);
}

/* A final state reached: stored, jobd told, the entry gone. */
static void
escrow_final(struct esc_ent *x, enum inv_escrow to, const struct lookup_result *res)
{
	struct escrow *e = x->esc;
	struct inv_row r = x->row;

	if (to == ESC_SETTLED) {
		r.status = INV_PAID;
		r.received_msat = res->received_msat > 0 ? res->received_msat : r.received_msat;
		r.settled_at = res->settled_at > 0 ? res->settled_at : now_unix();
	}
	if (escrow_store(e, &r, to) != 0) {
		escrow_retry(x, "cannot record the outcome");
		return;
	}
	log_info("job %s: held payment %s", r.job, to == ESC_SETTLED ? "settled" : "returned");
	escrow_remove(e, x);
	e->cb(&r, e->arg);
}

static void
escrow_looked_up(const struct lookup_result *res, void *arg)
{
	struct esc_ent *x = arg;
	enum inv_escrow st = x->row.escrow;
	int held_before = x->row.held_at > 0;

	x->inflight = 0;
	if (!res->ok) {
		escrow_retry(x, res->error);
		return;
	}
	if (res->state == LK_PAID) {
		if (st != ESC_SETTLE)
			log_warnx("job %s: the wallet says settled though we %s; recorded as paid",
			    x->row.job, st == ESC_CANCEL ? "cancelled" : "did not settle");
		escrow_final(x, ESC_SETTLED, res);
		return;
	}
	/* Alby Hub reports an accepted hold past expires_at as "expired". */
	if (res->state == LK_EXPIRED && held_before && ++x->expired_seen < ESC_EXPIRED_TRIES) {
		if (st == ESC_HELD)
			x->due_ms = now_ms() + (uint64_t)x->esc->cf->invoice_poll_slow_ms;
		else
			escrow_retry(x, "the wallet says expired; asking again");
		return;
	}
	if (res->state == LK_FAILED || res->state == LK_EXPIRED || res->state == LK_UNKNOWN ||
	    (st == ESC_CANCEL && x->call_ok && res->state != LK_HELD) ||
	    (st == ESC_CANCEL && !held_before && res->state == LK_PENDING &&
	    now_unix() > x->row.expires_at)) {
		if (st == ESC_SETTLE)
			log_warnx("job %s: the wallet cancelled the hold before our settle: the result "
			    "went out unpaid", x->row.job);
		escrow_final(x, ESC_CANCELLED, res);
		return;
	}
	if (st == ESC_HELD)
		x->due_ms = now_ms() + (uint64_t)x->esc->cf->invoice_poll_slow_ms;
	else
		escrow_retry(x, x->call_ok ? "not confirmed yet" : "the call failed");
}

static void
escrow_lookup(struct esc_ent *x)
{
	struct backend *be = x->esc->be;

	x->inflight = 1;
	if (be->lookup(be, x->row.payment_hash, x->row.ref, escrow_looked_up, x) != 0) {
		x->inflight = 0;
		escrow_retry(x, "cannot start a lookup");
	}
}

static void
escrow_called(const struct hold_result *res, void *arg)
{
	struct esc_ent *x = arg;

	x->call_ok = res->ok;
	if (!res->ok)
		log_warnx("escrow: job %s: %s failed: %s", x->row.job,
		    x->row.escrow == ESC_SETTLE ? "settle" : "cancel", res->error);
	/* The lookup decides, also after an ok: paid only when the wallet says settled. */
	escrow_lookup(x);
}

static void
escrow_step(struct esc_ent *x)
{
	struct escrow *e = x->esc;
	uint8_t pre[32];
	int rc = -1;

	x->call_ok = 0;
	if (x->row.escrow == ESC_HELD) {
		if (now_unix() < x->row.hold_hard) {
			escrow_lookup(x);
			return;
		}
		log_warnx("job %s: held until its last safe moment without a word from jobd; "
		    "returning it", x->row.job);
		if (escrow_store(e, &x->row, ESC_CANCEL) != 0) {
			escrow_retry(x, "cannot record the cancel");
			return;
		}
	}
	x->inflight = 1;
	if (x->row.escrow == ESC_SETTLE) {
		if (hold_preimage_get(e->store, x->row.payment_hash, pre) == 1) {
			rc = e->be->hold_settle(e->be, pre, escrow_called, x);
			OPENSSL_cleanse(pre, sizeof(pre));
		}
	} else
		rc = e->be->hold_cancel(e->be, x->row.payment_hash, escrow_called, x);
	if (rc != 0) {
		x->inflight = 0;
		escrow_retry(x, "cannot start the call");
	}
}

static void
escrow_check_capable(struct escrow *e)
{
	char why[256];
	int rc;

	if (!e->need_hold)
		return;
	if ((rc = hold_capable(e->be, why, sizeof(why))) == 0)
		fatalx(EXIT_PERM, "payment_mode = hold needs a wallet that can hold payments: %s", why);
	if (rc == 1) {
		log_info("payment_mode = hold: the %s wallet can hold payments", e->be->name);
		e->need_hold = 0;
	}
}

static void
escrow_tick(struct loop *l, void *arg)
{
	struct escrow *e = arg;
	struct esc_ent *x, *next;
	uint64_t now = now_ms();

	e->timer = loop_add_timer(l, ESC_TICK_MS, escrow_tick, e);
	escrow_check_capable(e);
	for (x = e->ents; x != NULL; x = next) {
		next = x->next;
		if (!x->inflight && x->due_ms <= now)
			escrow_step(x);
	}
}

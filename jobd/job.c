/*
 * job.c: the job state machine, and the only writer of a job's state and
 * of the running count: every move goes through job_move, checked against
 * the table in state.c. A move reaches the ledger before the side effect
 * it leads to (feedback, an infer, an invoice, a result) leaves jobd:
 * job_move marks the job, job_flush writes each marked job's row once per
 * loop wake-up, and the transport (spoke.c) flushes before it writes a
 * line. After a crash the ledger says exactly which side effects may be
 * missing, and state_replay_action names the step to take again; the
 * spokes are idempotent by job, and a result is stored signed with its
 * move before it is sent, so every job ends with one result and at most
 * one invoice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"
#include "jsonx.h"
#include "log.h"
#include "loop.h"

#define FETCH_GIVE_UP_MS	30000	/* inputs not fetched by then: rejected */
#define UNACKED_GIVE_UP_MS	(24LL * 3600 * 1000)	/* result no relay took: error */
#define LOOKUP_AFTER_EXPIRY_S	30	/* ask invoiced about an invoice this late */

/*
 * The payment mode a job runs under: the one it started with (job_start
 * fixes it, the ledger keeps it: a SIGHUP to another mode or to wallet =
 * none changes new jobs only, never gives a started one away), else
 * pay-first once quoted, else the config's.
 */
enum payment_mode
job_mode(const struct jobd *jd, const struct job *j)
{
	if (j->pay_mode > 0)
		return (enum payment_mode)(j->pay_mode - 1);
	if (j->quote_msat > 0)
		return PAY_BEFORE;
	if (jd->conf.wallet == WALLET_NONE)
		return PAY_FREE;
	return jd->conf.payment_mode;
}

/*
 * j has changes its row does not have yet: job_flush writes them. heavy:
 * the change must reach the disk before what announces it leaves (a
 * payment, an invoice, an error...); a new job and a redoable move
 * (state_redoable) need not.
 */
static void
job_mark(struct jobd *jd, struct job *j, int heavy)
{
	if (!j->dirty) {
		j->dirty = 1;
		jd->ndirty++;
	}
	if (heavy)
		j->heavy = 1;
}

void
job_mark_changed(struct jobd *jd, struct job *j)
{
	job_mark(jd, j, 1);
}

/* A change derived from the request alone (its prompt, its params). */
void
job_mark_derived(struct jobd *jd, struct job *j)
{
	job_mark(jd, j, 0);
}

/*
 * A batch: one transaction around a wake-up's writes, synced at its end
 * unless every row it changed was declared redoable (job_batch_light).
 * Counting changed rows rather than listing the heavy writes means a
 * write nobody declared is synced.
 */
int
job_batch_begin(struct jobd *jd)
{
	if (ledger_batch_begin(jd->db) == -1)
		return -1;
	jd->batch_base = ledger_changes(jd->db);
	jd->batch_light = 0;
	return 0;
}

void
job_batch_end(struct jobd *jd)
{
	long long n = ledger_changes(jd->db) - jd->batch_base;

	ledger_batch_end(jd->db, n != jd->batch_light);
}

/* The rows changed since changes_before may be lost in a power cut. */
void
job_batch_light(struct jobd *jd, long long changes_before)
{
	jd->batch_light += ledger_changes(jd->db) - changes_before;
}

/*
 * Write j's row if it changed. A failed write leaves queued lines that
 * announce a state not on disk: stop before they are written (exit 111,
 * the supervisor restarts jobd, which replays the ledger as it is).
 */
static void
job_write(struct jobd *jd, struct job *j)
{
	long long before;

	if (!j->dirty)
		return;
	before = ledger_changes(jd->db);
	if (ledger_job_write(jd->db, j, NULL) == -1)
		fatalx(EXIT_TEMP, "job %.12s: ledger write failed (%s)", j->id,
		    state_name(j->state));
	if (!j->heavy)
		job_batch_light(jd, before);
	j->dirty = 0;
	j->heavy = 0;
	jd->ndirty--;
}

/*
 * The one door for a job's state. Moves j to s if the table allows it,
 * keeps the running count, and hands the ledger the move: with row (the
 * event the move announces, a result) the job's row and the event are
 * written at once, in one transaction; otherwise the job is marked and
 * its row written by job_flush, once per wake-up however many moves it
 * made. -1 (and no move) if illegal or, with row, not written.
 */
int
job_move(struct jobd *jd, struct job *j, enum job_state s, const struct outbox_row *row)
{
	enum job_state old = j->state;

	if (!state_can_move(old, s)) {
		log_warnx("job %.12s: refusing move %s -> %s", j->id, state_name(old),
		    state_name(s));
		return -1;
	}
	j->state = s;
	if (row != NULL) {
		if (ledger_job_write(jd->db, j, row) == -1) {
			j->state = old;
			log_error("job %.12s: ledger write failed; %s not entered", j->id,
			    state_name(s));
			return -1;
		}
		if (j->dirty) {
			j->dirty = 0;
			j->heavy = 0;
			jd->ndirty--;
		}
	} else
		job_mark(jd, j, !state_redoable(s));
	if (s == ST_QUEUED && j->queued_ms == 0)
		j->queued_ms = ledger_now_ms();	/* the inference deadline counts from here */
	if (old == ST_PROCESSING)
		jd->running--;
	if (s == ST_PROCESSING)
		jd->running++;
	/* its invoice is not to be paid any more (a hold invoice: the escrow cancels it) */
	if ((old == ST_QUOTED || old == ST_PAYMENT_REQUIRED) && state_closed(s) &&
	    j->escrow[0] == '\0')
		quote_untrack(jd, j);
	escrow_on_move(jd, j, s);
	log_debug("job %.12s: %s -> %s", j->id, state_name(old), state_name(s));
	return 0;
}

/*
 * Write every changed job, in one transaction (the open batch's, or its
 * own). Called before any line leaves for a spoke and once per wake-up.
 */
void
job_flush(struct jobd *jd)
{
	struct job *j;
	int own;

	if (jd->ndirty == 0)
		return;
	own = !ledger_batch_open(jd->db) && job_batch_begin(jd) == 0;
	for (j = jd->jobs; j != NULL && jd->ndirty > 0; j = j->next)
		job_write(jd, j);
	if (own)
		job_batch_end(jd);
}

/* A job in "received" from a verified request. NULL on ENOMEM. */
struct job *
job_new(const struct event *ev, const char *relay, enum job_enc enc)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	memcpy(j->id, ev->idhex, sizeof(j->id));
	memcpy(j->pubkey, ev->pubhex, sizeof(j->pubkey));
	memcpy(j->pk, ev->pubkey, 32);
	j->kind = ev->kind;
	j->created_at = ev->created_at;
	j->received_ms = ledger_now_ms();
	j->state = ST_RECEIVED;
	j->enc = enc;
	j->req.bid_msat = -1;
	snprintf(j->relay, sizeof(j->relay), "%s", relay ? relay : "");
	if ((j->request_json = event_to_json(ev)) == NULL) {
		free(j);
		return NULL;
	}
	return j;
}

/*
 * Hold a new job (from job_new, its id in neither the ledger nor memory)
 * open; jd owns it now. Its row is created by the flush of this wake-up,
 * with whatever moves it made meanwhile, before anything about it leaves
 * jobd: a crash before that loses only a request nothing answered yet,
 * which relayd's subscription delivers again.
 */
void
job_admit(struct jobd *jd, struct job *j)
{
	struct job **tail;

	for (tail = &jd->jobs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = j;
	job_index_add(&jd->index, j);
	job_mark(jd, j, 0);	/* a lost new row: relays deliver the request again */
	subscribe_cancel(jd);	/* its deletion must reach us from now on */
}

/*
 * Record a request refused before it became a job (from job_new): it
 * enters the ledger closed, so copies from other relays and restarts do
 * not answer it again. 1 if newly recorded (answer it), 0 known, -1.
 */
int
job_record_rejected(struct jobd *jd, struct job *j, const char *msg)
{
	j->state = ST_REJECTED;
	snprintf(j->error, sizeof(j->error), "%.*s",
	    (int)utf8_cut(msg, strlen(msg), sizeof(j->error) - 1), msg);
	return ledger_insert(jd->db, j);
}

/*
 * Jobs that waited longer than max_age_s (jobd was down) close through the
 * one door, each with error feedback: work nobody paid for and that never
 * started. A paid job is never expired: it runs, however late. An unpaid
 * quote is left to quote_expired (quote_ttl is at most a day), which waits
 * for its invoice's expiry, so that a payment made in time is served.
 */
static void
job_expire_stale(struct jobd *jd, int64_t max_age_s)
{
	struct job *j, *next;
	int64_t ms = ledger_now_ms();

	for (j = jd->jobs; j != NULL; j = next) {
		next = j->next;
		if (ms - j->received_ms <= max_age_s * 1000 || j->paid_msat > 0 ||
		    (j->state != ST_RECEIVED && j->state != ST_QUEUED))
			continue;
		job_fail(jd, j, ST_ERROR, "not started in time (the service was down); the job "
		    "is closed");
	}
}

/* Load the open jobs at start (appended to jd->jobs) and count the running ones. */
int
job_load_open(struct jobd *jd, int64_t max_age_s)
{
	struct job *j;
	int n = ledger_load_open(jd->db, &jd->jobs, max_age_s);

	jd->running = 0;
	for (j = jd->jobs; j != NULL; j = j->next) {
		job_index_add(&jd->index, j);
		if (j->state == ST_PROCESSING)
			jd->running++;
	}
	if (n > 0)
		job_expire_stale(jd, max_age_s);
	return n;
}

struct job *
job_find(struct jobd *jd, const char *id)
{
	struct job *j = job_index_get(&jd->index, id);

	if (j != NULL || jd->index.unindexed == 0)
		return j;
	for (j = jd->jobs; j != NULL; j = j->next)
		if (strcmp(j->id, id) == 0)
			return j;
	return NULL;
}

void
job_free(struct job *j)
{
	if (j == NULL)
		return;
	request_free(&j->req);
	free(j->request_json);
	free(j->prompt);
	free(j->bolt11);
	free(j->text);
	free(j->partial);
	free(j->sent);
	free(j->retry_arg);
	free(j->partial_arg);
	free(j);
}

/* Drop a closed job from memory (the ledger keeps it). */
void
job_close(struct jobd *jd, struct job *j)
{
	struct job **pp;

	for (pp = &jd->jobs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			job_index_remove(&jd->index, j);
			break;
		}
	if (j->retry_timer)
		loop_cancel_timer(jd->loop, j->retry_timer);
	if (j->partial_timer)
		loop_cancel_timer(jd->loop, j->partial_timer);
	job_write(jd, j);	/* its last move, before the record goes */
	job_free(j);
	subscribe_cancel(jd);
}

int
job_queue_depth(struct jobd *jd)
{
	struct job *j;
	int n = 0;

	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state != ST_PROCESSING && j->state < ST_INFERRED && !quote_is_open(j))
			n++;	/* unpaid quotes are bounded apart (quote.c) */
	return n;
}

/*
 * End a job with an error state and tell the requester why (the message
 * goes into the status tag). A job already closed is left alone.
 */
void
job_fail(struct jobd *jd, struct job *j, enum job_state s, const char *msg)
{
	snprintf(j->error, sizeof(j->error), "%.*s",
	    (int)utf8_cut(msg, strlen(msg), sizeof(j->error) - 1), msg);
	escrow_explain(j, j->error, sizeof(j->error));
	if (job_move(jd, j, s, NULL) == -1)
		return;
	log_info("job %.12s: %s: %s", j->id, state_name(s), msg);
	if (s != ST_CANCELLED || escrow_was_held(j))
		publish_feedback(jd, j, "error", j->error, 0, NULL);
	job_close(jd, j);
	job_schedule(jd);
}

static void
send_invoice(struct jobd *jd, struct job *j, int64_t msat, int fast)
{
	cJSON *m = cJSON_CreateObject();
	char memo[160];

	if (m == NULL)
		return;
	snprintf(memo, sizeof(memo), "%s: job %.16s (%d+%d tokens)", jd->conf.name, j->id,
	    j->prompt_tokens, j->completion_tokens);
	if (fast)
		snprintf(memo, sizeof(memo), "%s: job %.16s, up to %d tokens", jd->conf.name,
		    j->id, j->req.max_tokens);
	cJSON_AddStringToObject(m, "op", "invoice");
	cJSON_AddStringToObject(m, "job", j->id);
	cJSON_AddNumberToObject(m, "amount_msat", (double)msat);
	cJSON_AddStringToObject(m, "memo", memo);
	cJSON_AddNumberToObject(m, "expiry", fast ? quote_invoice_expiry(jd) :
	    jd->conf.invoice_expiry);
	cJSON_AddBoolToObject(m, "fast", fast);
	escrow_invoice_fields(j, m);
	spoke_send(jd, SPOKE_INVOICED, m);
}

static void
send_job_op(struct jobd *jd, enum spoke_id s, const char *op, const char *id)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", op);
	cJSON_AddStringToObject(m, "job", id);
	spoke_send(jd, s, m);
}

static void
send_infer(struct jobd *jd, struct job *j)
{
	cJSON *m = cJSON_CreateObject(), *msgs, *u, *o;

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "infer");
	cJSON_AddStringToObject(m, "job", j->id);
	cJSON_AddStringToObject(m, "model", j->req.model);
	msgs = cJSON_AddArrayToObject(m, "messages");
	u = cJSON_CreateObject();
	cJSON_AddStringToObject(u, "role", "user");
	cJSON_AddStringToObject(u, "content", j->prompt ? j->prompt : "");
	cJSON_AddItemToArray(msgs, u);
	o = cJSON_AddObjectToObject(m, "options");
	cJSON_AddNumberToObject(o, "max_tokens", j->req.max_tokens);
	cJSON_AddNumberToObject(o, "temperature", j->req.temperature);
	cJSON_AddNumberToObject(o, "top_k", j->req.top_k);
	cJSON_AddNumberToObject(o, "top_p", j->req.top_p);
	cJSON_AddNumberToObject(o, "frequency_penalty", j->req.frequency_penalty);
	cJSON_AddBoolToObject(m, "stream", jd->conf.partial_results != 0);
	spoke_send(jd, SPOKE_INFERD, m);
}

static void
processing_feedback(struct jobd *jd, struct job *j)
{
	char msg[JOBD_MAX_MODEL + 96];

	snprintf(msg, sizeof(msg), "processing with model %s", j->req.model);
	publish_feedback(jd, j, "processing", msg, 0, NULL);
}

/* Start queued jobs, oldest first, while there is room. */
void
job_schedule(struct jobd *jd)
{
	struct job *j;

	if (wait_holds_queue(jd))
		return;		/* an older paid job goes first (wait.c) */
	for (j = jd->jobs; j != NULL && jd->running < jd->conf.max_concurrent_jobs;
	    j = j->next) {
		if (j->state != ST_QUEUED)
			continue;
		/*
		 * Its model left the catalog (store.c). Unpaid: an error, no
		 * invoice. Paid: runs on and meets inferd's unknown_model (hook
		 * for the money-safety rules: wait for the model, then refund).
		 */
		if (!store_available(jd, j->req.model) && j->paid_msat == 0) {
			char gone[JOBD_MAX_MODEL + 48];

			snprintf(gone, sizeof(gone), "model %s is no longer available", j->req.model);
			job_fail(jd, j, ST_ERROR, gone);	/* schedules the rest */
			return;
		}
		if (job_move(jd, j, ST_PROCESSING, NULL) == -1)
			continue;
		processing_feedback(jd, j);
		send_infer(jd, j);
	}
}

/*
 * A request is parsed and its prompt resolved: quote it (pay-first) or
 * queue it (pay-after, free). A bid is a ceiling: pay-first refuses a bid
 * below the quote; pay-after caps max_tokens so the price stays within it.
 */
void
job_start(struct jobd *jd, struct job *j)
{
	enum payment_mode mode = job_mode(jd, j);
	size_t plen = strlen(j->prompt);
	int64_t covered;
	const char *why;
	char msg[256];

	if ((mode == PAY_BEFORE || mode == PAY_HOLD) && (why = quote_admit(jd, j)) != NULL) {
		jd->rejections[REJ_BUSY]++;
		job_fail(jd, j, ST_REJECTED, why);
		return;
	}
	j->pay_mode = (int)mode + 1;
	if (mode == PAY_BEFORE || mode == PAY_HOLD) {
		escrow_open(jd, j);
		j->quote_msat = price_quote_msat(store_price(jd, j->req.model), plen,
		    j->req.max_tokens);
		covered = price_tokens_covered(store_price(jd, j->req.model), j->quote_msat, plen);
		if (covered < j->req.max_tokens)
			j->req.max_tokens = (int)covered;
		if (j->req.bid_msat >= 0 && j->req.bid_msat < j->quote_msat) {
			snprintf(msg, sizeof(msg), "bid %lld msat is below the price: %lld sats "
			    "(%lld msat) for up to %d tokens", (long long)j->req.bid_msat,
			    (long long)(j->quote_msat / 1000), (long long)j->quote_msat,
			    j->req.max_tokens);
			j->quote_msat = 0;
			jd->rejections[REJ_BID_TOO_LOW]++;
			job_fail(jd, j, ST_REJECTED, msg);
			return;
		}
		if (job_move(jd, j, ST_QUOTED, NULL) == -1)
			return;
		send_invoice(jd, j, j->quote_msat, 1);
		return;
	}
	if (mode == PAY_AFTER && j->req.bid_msat >= 0) {
		covered = price_tokens_covered(store_price(jd, j->req.model), j->req.bid_msat, plen);
		if (covered < 1) {
			snprintf(msg, sizeof(msg), "bid %lld msat is below the minimum price of "
			    "%d sats for this input", (long long)j->req.bid_msat,
			    (int)(price_msat(store_price(jd, j->req.model),
			    price_estimate_tokens(plen), 1) / 1000));
			jd->rejections[REJ_BID_TOO_LOW]++;
			job_fail(jd, j, ST_REJECTED, msg);
			return;
		}
		if (covered < j->req.max_tokens)
			j->req.max_tokens = (int)covered;
	}
	if (job_move(jd, j, ST_QUEUED, NULL) == -1)
		return;
	job_schedule(jd);
}

/* Sign, store and publish the result, then say success. */
static void
job_deliver(struct jobd *jd, struct job *j)
{
	struct outbox_row row;
	char msg[160], id[65], *json = NULL, *rel = NULL;
	int truncated;

	if (escrow_too_late(jd, j))
		return;
	truncated = publish_result_build(jd, j, id, &json, &rel);
	if (truncated != -1) {
		memcpy(j->result_id, id, sizeof(j->result_id));
		row = (struct outbox_row){ j->result_id, j->kind + 1000, json, rel };
		if (job_move(jd, j, ST_PUBLISHED, &row) == -1) {
			j->result_id[0] = '\0';
			truncated = -1;
		}
	}
	if (truncated == -1) {
		free(json);
		free(rel);
		log_error("job %.12s: cannot build the result; will retry", j->id);
		return;
	}
	publish_send_stored(jd, json, rel);
	free(json);
	free(rel);
	if (truncated)
		snprintf(msg, sizeof(msg), "done (%d+%d tokens); %s", j->prompt_tokens,
		    j->completion_tokens, reason_size("result_cut"));
	else
		snprintf(msg, sizeof(msg), "done (%d+%d tokens)", j->prompt_tokens,
		    j->completion_tokens);
	publish_feedback(jd, j, "success", msg, j->bolt11 != NULL, NULL);
	log_info("job %.12s: result %.12s published", j->id, j->result_id);
}

static void
job_after_infer(struct jobd *jd, struct job *j)
{
	if (job_mode(jd, j) == PAY_AFTER) {
		if (j->price_msat == 0) {
			j->price_msat = price_msat(store_price(jd, j->req.model), j->prompt_tokens,
			    j->completion_tokens);
			/*
			 * A bid is a promise: max_tokens was cut to fit it, but the
			 * backend's prompt count (template included) may still top
			 * the estimate. The difference is ours, never the requester's.
			 */
			if (j->req.bid_msat > 0 && j->price_msat > j->req.bid_msat)
				j->price_msat = j->req.bid_msat / 1000 * 1000;
			job_mark_changed(jd, j);
		}
		send_invoice(jd, j, j->price_msat, 0);
		return;
	}
	job_deliver(jd, j);
}

struct retry {
	struct jobd	*jd;
	char		 id[65];
	int		 what;	/* 0 infer, 1 invoice */
};

static void
retry_cb(struct loop *l, void *arg)
{
	struct retry *r = arg;
	struct job *j = job_find(r->jd, r->id);

	(void)l;
	if (j != NULL) {
		j->retry_timer = 0;
		j->retry_arg = NULL;
		if (r->what == 0 && j->state == ST_PROCESSING) {
			send_infer(r->jd, j);
			job_schedule(r->jd);	/* it went first: the queue moves again */
		} else if (r->what == 1 && j->state == ST_QUOTED)
			send_invoice(r->jd, j, j->quote_msat, 1);
		else if (r->what == 1 && j->state == ST_INFERRED)
			send_invoice(r->jd, j, j->price_msat, 0);
	}
	free(r);
}

/*
 * Ask again later (retryable spoke errors). The timer's argument is a
 * copy of the id, so a job closed meanwhile is simply not found.
 */
static void
retry_in(struct jobd *jd, struct job *j, int what, uint64_t ms)
{
	struct retry *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return;
	r->jd = jd;
	r->what = what;
	memcpy(r->id, j->id, sizeof(r->id));
	j->retries++;
	if (j->retry_timer)
		loop_cancel_timer(jd->loop, j->retry_timer);
	free(j->retry_arg);
	j->retry_arg = r;
	j->retry_timer = loop_add_timer(jd->loop, ms, retry_cb, r);
	if (j->retry_timer == 0) {
		free(r);
		j->retry_arg = NULL;
	}
}

static void
retry_later(struct jobd *jd, struct job *j, int what)
{
	retry_in(jd, j, what, 1000ull << (j->retries < 6 ? j->retries : 6));
}

/* Send what partial.c allows of the buffered text; the rest stays buffered. */
static void
partial_flush(struct jobd *jd, struct job *j)
{
	size_t n = partial_allowed(jd, j);
	char keep;

	if (n == 0)
		return;
	keep = j->partial[n];
	j->partial[n] = '\0';
	publish_feedback(jd, j, "partial", "partial result", 0, j->partial);
	partial_keep_sent(j, j->partial, n);
	j->partial[n] = keep;
	memmove(j->partial, j->partial + n, j->partial_len - n + 1);
	j->partial_len -= n;
	j->partial_last_ms = now_ms();
}

struct partial_arg {
	struct jobd	*jd;
	char		 id[65];
};

static void
partial_cb(struct loop *l, void *arg)
{
	struct partial_arg *p = arg;
	struct job *j = job_find(p->jd, p->id);

	(void)l;
	if (j != NULL) {
		j->partial_timer = 0;
		j->partial_arg = NULL;
		if (j->state == ST_PROCESSING)
			partial_flush(p->jd, j);
	}
	free(p);
}

/* Streamed text: coalesce into partial feedback at most once per interval. */
static void
job_chunk(struct jobd *jd, struct job *j, const char *text)
{
	size_t n = strlen(text);
	uint64_t now = now_ms(), iv = (uint64_t)jd->conf.partial_interval_ms;
	char *p;
	struct partial_arg *pa;

	if (!jd->conf.partial_results || n == 0 || j->partial_off)
		return;
	j->streamed += n;
	if (j->partial_len + n > 60000)
		return;		/* a partial is a preview; the result has it all */
	if ((p = realloc(j->partial, j->partial_len + n + 1)) == NULL)
		return;
	memcpy(p + j->partial_len, text, n + 1);
	j->partial = p;
	j->partial_len += n;
	if (now - j->partial_last_ms >= iv) {
		partial_flush(jd, j);
		return;
	}
	if (j->partial_timer == 0 && (pa = calloc(1, sizeof(*pa))) != NULL) {
		pa->jd = jd;
		memcpy(pa->id, j->id, sizeof(pa->id));
		j->partial_arg = pa;
		j->partial_timer = loop_add_timer(jd->loop, iv - (now - j->partial_last_ms),
		    partial_cb, pa);
		if (j->partial_timer == 0) {
			free(pa);
			j->partial_arg = NULL;
		}
	}
}

static int
int_field(const cJSON *m, const char *k, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

static void
infer_done(struct jobd *jd, struct job *j, const cJSON *m)
{
	const char *text = jsonx_str(m, "text");
	int64_t pt = 0, ct = 0;

	if (text == NULL || int_field(m, "prompt_tokens", &pt) == -1 ||
	    int_field(m, "completion_tokens", &ct) == -1) {
		log_warnx("job %.12s: malformed done from inferd", j->id);
		return;
	}
	if (j->partial_timer) {
		loop_cancel_timer(jd->loop, j->partial_timer);
		j->partial_timer = 0;
		free(j->partial_arg);
		j->partial_arg = NULL;
	}
	/* the rest of the stream, so that the partials add up to the result
	 * (pay-after: only up to partial_max_percent of it) */
	partial_flush(jd, j);
	free(j->text);
	if ((j->text = strdup(text)) == NULL)
		return;
	j->prompt_tokens = (int)pt;
	j->completion_tokens = (int)ct;
	if (job_move(jd, j, ST_INFERRED, NULL) == -1)
		return;
	j->retries = 0;
	job_after_infer(jd, j);
	job_schedule(jd);
}

static void
infer_error(struct jobd *jd, struct job *j, const cJSON *m)
{
	const char *code = jsonx_str(m, "code"), *msg = jsonx_str(m, "message");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(m, "retryable");
	char why[JOBD_MAX_ERRMSG];
	int64_t ms;

	if (code == NULL)
		code = "unknown";
	if (strcmp(code, "cancelled") == 0)
		return;		/* we asked for it: the job is already cancelled */
	/* The spoke's message may name backends: the log gets it, the requester not. */
	log_warnx("job %.12s: inferd %s: %.300s", j->id, code, msg ? msg : "");
	if ((ms = wait_retry_ms(jd, j, code, cJSON_IsTrue(rt))) > 0) {
		partial_restart(j);
		retry_in(jd, j, 0, (uint64_t)ms);
		return;
	}
	if (ms == 0) {
		wait_fail(jd, j);
		return;
	}
	job_fail(jd, j, ST_ERROR, reason_paid_failure(why, sizeof(why), j, job_mode(jd, j),
	    reason_infer(code)));
}

/* chunk, done, error from inferd. */
void
job_on_infer(struct jobd *jd, const char *op, const cJSON *m)
{
	const char *id = jsonx_str(m, "job");
	struct job *j;

	if (id == NULL || (j = job_find(jd, id)) == NULL || j->state != ST_PROCESSING)
		return;		/* a late or repeated answer: the job moved on */
	if (strcmp(op, "chunk") == 0) {
		const char *t = jsonx_str(m, "text");

		if (t != NULL)
			job_chunk(jd, j, t);
	} else if (strcmp(op, "done") == 0)
		infer_done(jd, j, m);
	else if (strcmp(op, "error") == 0)
		infer_error(jd, j, m);
}

static void
invoice_got(struct jobd *jd, struct job *j, const cJSON *m)
{
	const char *bolt11 = jsonx_str(m, "bolt11");
	int64_t amt = 0, exp = 0, want = j->state == ST_QUOTED ? j->quote_msat : j->price_msat;
	char msg[256];

	if (bolt11 == NULL || int_field(m, "amount_msat", &amt) == -1 || amt != want) {
		log_warnx("job %.12s: invoice from invoiced does not match (%lld != %lld msat)",
		    j->id, (long long)amt, (long long)want);
		return;
	}
	int_field(m, "expires_at", &exp);
	free(j->bolt11);
	if ((j->bolt11 = strdup(bolt11)) == NULL)
		return;
	j->invoice_expires = exp;
	j->retries = 0;
	if (j->state == ST_QUOTED) {
		/*
		 * The feedback is stored before the state: a crash between the two
		 * at worst repeats it (same invoice); the other order could lose
		 * the only message that lets the requester pay.
		 */
		snprintf(msg, sizeof(msg), "pay %lld sats to run this job (up to %d tokens)",
		    (long long)(amt / 1000), j->req.max_tokens);
		if (j->escrow[0] != '\0')
			escrow_quote_msg(j, amt, msg, sizeof(msg));
		if (publish_feedback(jd, j, "payment-required", msg, 1, NULL) == -1)
			return;
		job_move(jd, j, ST_PAYMENT_REQUIRED, NULL);
	} else if (j->state == ST_INFERRED) {
		if (job_move(jd, j, ST_INVOICED, NULL) == -1)
			return;
		job_deliver(jd, j);
	}
}

/*
 * invoiced says paid. Record it, then ack (never the other way round: an
 * ack for an unrecorded payment would lose it). A pay-first job then runs.
 */
static void
invoice_paid(struct jobd *jd, const char *id, const cJSON *m)
{
	struct job *j = job_find(jd, id);
	int64_t amt = 0;

	if (int_field(m, "amount_msat", &amt) == -1 || amt <= 0)
		return;
	if (j != NULL && j->state == ST_PAYMENT_REQUIRED && amt < j->quote_msat) {
		/*
		 * invoiced checks the amount too, but jobd does not run work on
		 * its word alone: whatever came is recorded (for a refund), acked
		 * so it stops, and the job ends without running.
		 */
		log_warnx("job %.12s: paid %lld msat, below the quote of %lld; not run", id,
		    (long long)amt, (long long)j->quote_msat);
		j->paid_msat = amt;
		if (ledger_set_paid(jd->db, id, amt) == -1)
			return;		/* not acked: invoiced says it again */
		job_fail(jd, j, ST_ERROR, "payment below the quoted price; the job is closed");
		send_job_op(jd, SPOKE_INVOICED, "ack", id);
		return;
	}
	if (j != NULL && j->state == ST_PAYMENT_REQUIRED) {
		j->paid_msat = amt;
		j->price_msat = j->quote_msat;
		if (job_move(jd, j, ST_PAID, NULL) == -1)
			return;
		send_job_op(jd, SPOKE_INVOICED, "ack", id);
		log_info("job %.12s: paid %lld msat", id, (long long)amt);
		if (job_move(jd, j, ST_QUEUED, NULL) == 0)
			job_schedule(jd);
		return;
	}
	if (j != NULL)
		j->paid_msat = amt;
	if (ledger_set_paid(jd->db, id, amt) == -1)
		return;
	if (ledger_has(jd->db, id) != 1)
		log_warnx("paid for unknown job %.12s; acknowledged", id);
	else if (j == NULL && quote_paid_late(jd, id))
		log_warnx("job %.12s: paid %lld msat after its quote closed unpaid; recorded, "
		    "not run: refund it", id, (long long)amt);
	send_job_op(jd, SPOKE_INVOICED, "ack", id);
}

static void
invoice_error(struct jobd *jd, struct job *j, const cJSON *m)
{
	const char *code = jsonx_str(m, "code"), *msg = jsonx_str(m, "message");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(m, "retryable");
	char why[JOBD_MAX_ERRMSG];

	if (code == NULL)
		code = "unknown";
	if (j->state != ST_QUOTED && j->state != ST_INFERRED)
		return;
	if (cJSON_IsTrue(rt) && j->retries < JOBD_INVOICE_RETRIES) {
		log_warnx("job %.12s: invoiced %s, retrying", j->id, code);
		retry_later(jd, j, 1);
		return;
	}
	/*
	 * Pay-first: nothing ran. Pay-after: the work is done but is not
	 * given away unpriced; the text stays in the ledger.
	 */
	log_warnx("job %.12s: invoiced %s: %.300s", j->id, code, msg ? msg : "");
	snprintf(why, sizeof(why), "cannot create an invoice (%s); the job is closed",
	    reason_wallet(code));
	job_fail(jd, j, ST_ERROR, why);
}

/* invoice, paid, expired, error from invoiced. */
void
job_on_invoice(struct jobd *jd, const char *op, const cJSON *m)
{
	const char *id = jsonx_str(m, "job");
	struct job *j;

	if (id == NULL || escrow_on_op(jd, op, id, m))
		return;
	if (strcmp(op, "paid") == 0) {
		invoice_paid(jd, id, m);
		return;
	}
	if ((j = job_find(jd, id)) == NULL)
		return;
	if (strcmp(op, "invoice") == 0 && (j->state == ST_QUOTED || j->state == ST_INFERRED))
		invoice_got(jd, j, m);
	else if (strcmp(op, "expired") == 0 && (j->state == ST_PAYMENT_REQUIRED ||
	    j->state == ST_QUOTED)) {
		snprintf(j->error, sizeof(j->error), "invoice expired unpaid");
		if (job_move(jd, j, ST_EXPIRED, NULL) == 0) {
			publish_feedback(jd, j, "error", "invoice expired unpaid; the job is "
			    "closed", 0, NULL);
			job_close(jd, j);
		}
	} else if (strcmp(op, "error") == 0)
		invoice_error(jd, j, m);
}

/* A kind-5 deletion (verified) from the requester cancels an unfinished job. */
void
job_on_deletion(struct jobd *jd, const struct event *ev)
{
	const cJSON *t;
	struct job *j;

	cJSON_ArrayForEach(t, ev->tags) {
		const char *name = tag_item(t, 0), *id = tag_item(t, 1);

		if (name == NULL || id == NULL || strcmp(name, "e") != 0)
			continue;
		if ((j = job_find(jd, id)) == NULL || strcmp(j->pubkey, ev->pubhex) != 0)
			continue;
		if (!state_can_move(j->state, ST_CANCELLED))
			continue;
		if (j->state == ST_PROCESSING)
			send_job_op(jd, SPOKE_INFERD, "cancel", j->id);
		if (j->state == ST_PROCESSING && partial_bill_sent(jd, j) == 0 &&
		    job_move(jd, j, ST_INFERRED, NULL) == 0) {
			/* pay-after partials went out: invoiced for what was sent */
			log_info("job %.12s: stopped by its requester after partial results",
			    j->id);
			job_after_infer(jd, j);
			job_schedule(jd);
			continue;
		}
		log_info("job %.12s: cancelled by its requester", j->id);
		job_fail(jd, j, ST_CANCELLED, "cancelled by the requester");
	}
}

/* A relay accepted one of our events. */
void
job_on_ok(struct jobd *jd, const char *id, int accepted)
{
	struct job *j;

	long long before = ledger_changes(jd->db);

	if (!accepted)
		return;
	ledger_outbox_ack(jd->db, id);
	job_batch_light(jd, before);	/* a lost ack: the event is sent again, same id */
	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state == ST_PUBLISHED && strcmp(j->result_id, id) == 0) {
			if (job_move(jd, j, ST_ACKED, NULL) == 0)
				job_close(jd, j);
			return;
		}
}

/*
 * Re-send what a spoke needs after it (re)connected, from the jobs' states:
 * this is both crash replay and reconnect handling.
 */
void
job_resync(struct jobd *jd, enum spoke_id s)
{
	struct job *j, *next;

	for (j = jd->jobs; j != NULL; j = next) {
		enum replay_action a = state_replay_action(j->state, job_mode(jd, j));

		next = j->next;
		if (s == SPOKE_INFERD && a == ACT_INFER) {
			partial_restart(j);	/* inferd re-sends the text so far */
			send_infer(jd, j);
		} else if (s == SPOKE_INVOICED && a == ACT_INVOICE)
			send_invoice(jd, j, j->state == ST_QUOTED ? j->quote_msat :
			    j->price_msat, j->state == ST_QUOTED);
		else if (s == SPOKE_INVOICED && a == ACT_LOOKUP)
			send_job_op(jd, SPOKE_INVOICED, "lookup", j->id);
		else if (s == SPOKE_RELAYD && a == ACT_RESOLVE && j->pending > 0 &&
		    jd->resolve != NULL)
			jd->resolve(jd, j);	/* relayd came back: fetch again */
	}
	if (s == SPOKE_INVOICED)
		escrow_resync(jd);
}

/*
 * After loading the open jobs at start: take the steps that need no spoke
 * (a pay-first job recorded paid is queued: invoiced re-sends paid until
 * acked, the ack goes out then; a job with its text but no result gets
 * one), and start what can start (job_load_open counted the running). What a spoke
 * must be told again is sent when it connects (job_resync).
 */
void
job_replay_local(struct jobd *jd)
{
	struct job *j, *next;

	/* first the moves that scheduling below depends on */
	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state == ST_PAID)
			job_move(jd, j, ST_QUEUED, NULL);
	for (j = jd->jobs; j != NULL; j = next) {
		next = j->next;
		switch (state_replay_action(j->state, job_mode(jd, j))) {
		case ACT_RESOLVE:
			j->pending = 0;
			if (jd->resolve != NULL)	/* may start jobs: never a PROCESSING one */
				jd->resolve(jd, j);
			break;
		case ACT_RESULT:
			job_deliver(jd, j);
			break;
		default:
			break;
		}
	}
	job_schedule(jd);
}

/*
 * The 15 s tick's timeouts: inputs that could not be fetched, results no
 * relay accepted for a day (the outbox stopped retrying: keep memory
 * bounded), pay-first invoices past their expiry with no word from
 * invoiced (ask it), and waiting jobs past inference_deadline (wait.c).
 */
void
job_tick(struct jobd *jd)
{
	struct job *j, *next;
	int64_t now = now_unix(), ms = ledger_now_ms();

	for (j = jd->jobs; j != NULL; j = next) {
		next = j->next;
		if (j->state == ST_RECEIVED && j->pending > 0 &&
		    ms - j->received_ms > FETCH_GIVE_UP_MS) {
			jd->rejections[REJ_BAD_INPUT]++;
			job_fail(jd, j, ST_REJECTED, "inputs could not be fetched in time");
		} else if (quote_expired(jd, j, now, ms)) {
			job_fail(jd, j, ST_EXPIRED, "quote expired unpaid");
		} else if (j->state == ST_PUBLISHED && ledger_outbox_gave_up(jd->db, j->result_id)) {
			/* every re-send refused: say so now, not after a day in memory */
			log_warnx("job %.12s: no relay accepted the result", j->id);
			job_fail(jd, j, ST_ERROR, "no relay accepted the result");
		} else if (j->state == ST_PUBLISHED && ms - j->received_ms > UNACKED_GIVE_UP_MS) {
			snprintf(j->error, sizeof(j->error), "no relay accepted the result");
			if (job_move(jd, j, ST_ERROR, NULL) == 0) {
				log_warnx("job %.12s: %s", j->id, j->error);
				job_close(jd, j);
			}
		} else if (j->state == ST_PAYMENT_REQUIRED && j->invoice_expires > 0 &&
		    now > j->invoice_expires + LOOKUP_AFTER_EXPIRY_S)
			send_job_op(jd, SPOKE_INVOICED, "lookup", j->id);
		else if (j->state == ST_PROCESSING && (j->retry_timer != 0 ||
		    !jd->spokes[SPOKE_INFERD].connected) && wait_overdue(jd, j, ms))
			wait_fail(jd, j);	/* waiting, and no answer will come in time */
	}
	escrow_resync(jd);
}

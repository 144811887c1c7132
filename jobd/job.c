/*
 * job.c: the job state machine. Every transition is written to the
 * ledger (job_set_state) before the side effect it leads to: feedback,
 * an infer, an invoice, a result. After a crash the ledger says exactly
 * which side effects may be missing, and job_replay_action names the step
 * to take again; the spokes are idempotent by job, and a result is stored
 * signed before it is sent, so every job ends with one result and at most
 * one invoice.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"
#include "log.h"
#include "loop.h"

static const char *state_names[ST__COUNT] = {
	[ST_RECEIVED] = "received",
	[ST_QUOTED] = "quoted",
	[ST_PAYMENT_REQUIRED] = "payment-required",
	[ST_PAID] = "paid",
	[ST_QUEUED] = "queued",
	[ST_PROCESSING] = "processing",
	[ST_INFERRED] = "inferred",
	[ST_INVOICED] = "invoiced",
	[ST_PUBLISHED] = "published",
	[ST_ACKED] = "acked",
	[ST_REJECTED] = "rejected",
	[ST_ERROR] = "error",
	[ST_CANCELLED] = "cancelled",
	[ST_EXPIRED] = "expired",
};

#define B(s)	(1u << (s))
#define FAILS	(B(ST_ERROR) | B(ST_CANCELLED))

/* Which states each state may move to. */
static const unsigned moves[ST__COUNT] = {
	[ST_RECEIVED] = B(ST_QUOTED) | B(ST_QUEUED) | B(ST_REJECTED) | FAILS,
	[ST_QUOTED] = B(ST_PAYMENT_REQUIRED) | B(ST_EXPIRED) | FAILS,
	[ST_PAYMENT_REQUIRED] = B(ST_PAID) | B(ST_EXPIRED) | FAILS,
	[ST_PAID] = B(ST_QUEUED),
	[ST_QUEUED] = B(ST_PROCESSING) | FAILS,
	[ST_PROCESSING] = B(ST_INFERRED) | FAILS,
	[ST_INFERRED] = B(ST_INVOICED) | B(ST_PUBLISHED) | B(ST_ERROR),
	[ST_INVOICED] = B(ST_PUBLISHED),
	[ST_PUBLISHED] = B(ST_ACKED) | B(ST_ERROR),	/* error: never accepted */
};

const char *
job_state_name(enum job_state s)
{
	if ((int)s < 0 || s >= ST__COUNT)
		return "unknown";
	return state_names[s];
}

int
job_state_parse(const char *s)
{
	int i;

	for (i = 0; i < ST__COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

int
job_state_closed(enum job_state s)
{
	return s == ST_ACKED || s == ST_REJECTED || s == ST_ERROR ||
	    s == ST_CANCELLED || s == ST_EXPIRED;
}

int
job_can_move(enum job_state from, enum job_state to)
{
	if ((int)from < 0 || from >= ST__COUNT || (int)to < 0 || to >= ST__COUNT)
		return 0;
	return (moves[from] & B(to)) != 0;
}

/*
 * The step a job left in state s needs after a restart. mode is the
 * job's own payment mode (pay-first if it was quoted).
 */
enum replay_action
job_replay_action(enum job_state s, enum payment_mode mode)
{
	switch (s) {
	case ST_RECEIVED:
		return ACT_RESOLVE;
	case ST_QUOTED:
		return ACT_INVOICE;
	case ST_PAYMENT_REQUIRED:
		return ACT_LOOKUP;
	case ST_PAID:
		return ACT_ACK_PAID;
	case ST_QUEUED:
		return ACT_QUEUE;
	case ST_PROCESSING:
		return ACT_INFER;
	case ST_INFERRED:
		return mode == PAY_AFTER ? ACT_INVOICE : ACT_RESULT;
	case ST_INVOICED:
		return ACT_RESULT;
	case ST_PUBLISHED:
		return ACT_REPUBLISH;
	default:
		return ACT_NONE;
	}
}

/* The payment mode a job runs under: pay-first once quoted, else the config's. */
static enum payment_mode
job_mode(const struct jobd *jd, const struct job *j)
{
	if (j->quote_msat > 0)
		return PAY_BEFORE;
	if (jd->conf.wallet == WALLET_NONE)
		return PAY_FREE;
	return jd->conf.payment_mode;
}

/* Move j to state s, durably. -1 (and no move) if illegal or not written. */
int
job_set_state(struct jobd *jd, struct job *j, enum job_state s)
{
	enum job_state old = j->state;

	if (!job_can_move(old, s)) {
		log_warnx("job %.12s: refusing move %s -> %s", j->id, job_state_name(old),
		    job_state_name(s));
		return -1;
	}
	j->state = s;
	if (ledger_save(jd->db, j) == -1) {
		j->state = old;
		log_error("job %.12s: ledger write failed; %s not entered", j->id,
		    job_state_name(s));
		return -1;
	}
	log_debug("job %.12s: %s -> %s", j->id, job_state_name(old), job_state_name(s));
	return 0;
}

struct job *
job_find(struct jobd *jd, const char *id)
{
	struct job *j;

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
			break;
		}
	if (j->retry_timer)
		loop_cancel_timer(jd->loop, j->retry_timer);
	if (j->partial_timer)
		loop_cancel_timer(jd->loop, j->partial_timer);
	if (j->state == ST_PROCESSING && jd->running > 0)
		jd->running--;
	job_free(j);
	spoke_subscribe_cancel(jd);
}

int
job_queue_depth(struct jobd *jd)
{
	struct job *j;
	int n = 0;

	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state != ST_PROCESSING && j->state < ST_INFERRED)
			n++;
	return n;
}

/*
 * End a job with an error state and tell the requester why (the message
 * goes into the status tag). A job already closed is left alone.
 */
void
job_fail(struct jobd *jd, struct job *j, enum job_state s, const char *msg)
{
	int was_running = j->state == ST_PROCESSING;

	snprintf(j->error, sizeof(j->error), "%.*s",
	    (int)utf8_cut(msg, strlen(msg), sizeof(j->error) - 1), msg);
	if (job_set_state(jd, j, s) == -1)
		return;
	if (was_running && jd->running > 0)
		jd->running--;
	log_info("job %.12s: %s: %s", j->id, job_state_name(s), msg);
	if (s != ST_CANCELLED)
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
	cJSON_AddNumberToObject(m, "expiry", jd->conf.invoice_expiry);
	cJSON_AddBoolToObject(m, "fast", fast);
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
	char msg[JOBD_MAX_MODEL * 2 + 96];

	if (j->req.asked_model[0] && strcmp(j->req.asked_model, j->req.model) != 0)
		snprintf(msg, sizeof(msg), "processing with model %s (model %s is not "
		    "served here)", j->req.model, j->req.asked_model);
	else
		snprintf(msg, sizeof(msg), "processing with model %s", j->req.model);
	publish_feedback(jd, j, "processing", msg, 0, NULL);
}

/* Start queued jobs, oldest first, while there is room. */
void
job_schedule(struct jobd *jd)
{
	struct job *j;

	for (j = jd->jobs; j != NULL && jd->running < jd->conf.max_concurrent_jobs;
	    j = j->next) {
		if (j->state != ST_QUEUED)
			continue;
		if (job_set_state(jd, j, ST_PROCESSING) == -1)
			continue;
		jd->running++;
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
	char msg[256];

	if (mode == PAY_BEFORE) {
		j->quote_msat = price_quote_msat(&jd->conf, plen, j->req.max_tokens);
		covered = price_tokens_covered(&jd->conf, j->quote_msat, plen);
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
		if (job_set_state(jd, j, ST_QUOTED) == -1)
			return;
		send_invoice(jd, j, j->quote_msat, 1);
		return;
	}
	if (mode == PAY_AFTER && j->req.bid_msat >= 0) {
		covered = price_tokens_covered(&jd->conf, j->req.bid_msat, plen);
		if (covered < 1) {
			snprintf(msg, sizeof(msg), "bid %lld msat is below the minimum price of "
			    "%d sats for this input", (long long)j->req.bid_msat,
			    (int)(price_msat(&jd->conf, price_estimate_tokens(plen), 1) / 1000));
			jd->rejections[REJ_BID_TOO_LOW]++;
			job_fail(jd, j, ST_REJECTED, msg);
			return;
		}
		if (covered < j->req.max_tokens)
			j->req.max_tokens = (int)covered;
	}
	if (job_set_state(jd, j, ST_QUEUED) == -1)
		return;
	job_schedule(jd);
}

/* Sign, store and publish the result, then say success. */
static void
job_deliver(struct jobd *jd, struct job *j)
{
	char msg[160];
	int truncated;

	truncated = publish_result(jd, j);
	if (truncated == -1) {
		log_error("job %.12s: cannot build the result; will retry", j->id);
		return;
	}
	if (truncated)
		snprintf(msg, sizeof(msg), "done (%d+%d tokens); the encrypted result was "
		    "truncated to 65535 bytes (NIP-44 limit)", j->prompt_tokens,
		    j->completion_tokens);
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
			j->price_msat = price_msat(&jd->conf, j->prompt_tokens,
			    j->completion_tokens);
			/*
			 * A bid is a promise: max_tokens was cut to fit it, but the
			 * backend's prompt count (template included) may still top
			 * the estimate. The difference is ours, never the requester's.
			 */
			if (j->req.bid_msat > 0 && j->price_msat > j->req.bid_msat)
				j->price_msat = j->req.bid_msat / 1000 * 1000;
			if (ledger_save(jd->db, j) == -1)
				return;
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
		if (r->what == 0 && j->state == ST_PROCESSING)
			send_infer(r->jd, j);
		else if (r->what == 1 && j->state == ST_QUOTED)
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
retry_later(struct jobd *jd, struct job *j, int what)
{
	struct retry *r = calloc(1, sizeof(*r));
	uint64_t ms = 1000ull << (j->retries < 6 ? j->retries : 6);

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
partial_flush(struct jobd *jd, struct job *j)
{
	if (j->partial_len == 0)
		return;
	publish_feedback(jd, j, "partial", "partial result", 0, j->partial);
	j->partial_len = 0;
	j->partial[0] = '\0';
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

	if (!jd->conf.partial_results || n == 0)
		return;
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

static const char *
str_field(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
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
	const char *text = str_field(m, "text");
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
	/* the rest of the stream, so that the partials add up to the result */
	partial_flush(jd, j);
	free(j->text);
	if ((j->text = strdup(text)) == NULL)
		return;
	j->prompt_tokens = (int)pt;
	j->completion_tokens = (int)ct;
	if (job_set_state(jd, j, ST_INFERRED) == -1)
		return;
	jd->running--;
	j->retries = 0;
	job_after_infer(jd, j);
	job_schedule(jd);
}

static void
infer_error(struct jobd *jd, struct job *j, const cJSON *m)
{
	const char *code = str_field(m, "code"), *msg = str_field(m, "message");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(m, "retryable");

	if (code == NULL)
		code = "unknown";
	if (strcmp(code, "cancelled") == 0)
		return;		/* we asked for it: the job is already cancelled */
	if (cJSON_IsTrue(rt) && j->retries < JOBD_INFER_RETRIES) {
		log_warnx("job %.12s: inferd %s, retrying", j->id, code);
		retry_later(jd, j, 0);
		return;
	}
	/* The spoke's message may name backends: the log gets it, the requester not. */
	log_warnx("job %.12s: inferd %s: %.300s", j->id, code, msg ? msg : "");
	job_fail(jd, j, ST_ERROR, reason_infer(code));
}

/* chunk, done, error from inferd. */
void
job_on_infer(struct jobd *jd, const char *op, const cJSON *m)
{
	const char *id = str_field(m, "job");
	struct job *j;

	if (id == NULL || (j = job_find(jd, id)) == NULL || j->state != ST_PROCESSING)
		return;		/* a late or repeated answer: the job moved on */
	if (strcmp(op, "chunk") == 0) {
		const char *t = str_field(m, "text");

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
	const char *bolt11 = str_field(m, "bolt11");
	int64_t amt = 0, exp = 0, want = j->state == ST_QUOTED ? j->quote_msat : j->price_msat;
	char msg[128];

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
		if (publish_feedback(jd, j, "payment-required", msg, 1, NULL) == -1)
			return;
		job_set_state(jd, j, ST_PAYMENT_REQUIRED);
	} else if (j->state == ST_INFERRED) {
		if (job_set_state(jd, j, ST_INVOICED) == -1)
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
		if (job_set_state(jd, j, ST_PAID) == -1)
			return;
		send_job_op(jd, SPOKE_INVOICED, "ack", id);
		log_info("job %.12s: paid %lld msat", id, (long long)amt);
		if (job_set_state(jd, j, ST_QUEUED) == 0)
			job_schedule(jd);
		return;
	}
	if (j != NULL)
		j->paid_msat = amt;
	if (ledger_set_paid(jd->db, id, amt) == -1)
		return;
	if (ledger_has(jd->db, id) != 1)
		log_warnx("paid for unknown job %.12s; acknowledged", id);
	send_job_op(jd, SPOKE_INVOICED, "ack", id);
}

static void
invoice_error(struct jobd *jd, struct job *j, const cJSON *m)
{
	const char *code = str_field(m, "code"), *msg = str_field(m, "message");
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
	const char *id = str_field(m, "job");
	struct job *j;

	if (id == NULL)
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
		if (job_set_state(jd, j, ST_EXPIRED) == 0) {
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
		if (!job_can_move(j->state, ST_CANCELLED))
			continue;
		if (j->state == ST_PROCESSING)
			send_job_op(jd, SPOKE_INFERD, "cancel", j->id);
		log_info("job %.12s: cancelled by its requester", j->id);
		job_fail(jd, j, ST_CANCELLED, "cancelled by the requester");
	}
}

/* A relay accepted one of our events. */
void
job_on_ok(struct jobd *jd, const char *id, int accepted)
{
	struct job *j;

	if (!accepted)
		return;
	ledger_outbox_ack(jd->db, id);
	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state == ST_PUBLISHED && strcmp(j->result_id, id) == 0) {
			if (job_set_state(jd, j, ST_ACKED) == 0)
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
		enum replay_action a = job_replay_action(j->state, job_mode(jd, j));

		next = j->next;
		if (s == SPOKE_INFERD && a == ACT_INFER)
			send_infer(jd, j);
		else if (s == SPOKE_INVOICED && a == ACT_INVOICE)
			send_invoice(jd, j, j->state == ST_QUOTED ? j->quote_msat :
			    j->price_msat, j->state == ST_QUOTED);
		else if (s == SPOKE_INVOICED && a == ACT_LOOKUP)
			send_job_op(jd, SPOKE_INVOICED, "lookup", j->id);
		else if (s == SPOKE_RELAYD && a == ACT_RESOLVE && j->pending > 0)
			ingest_resolve(jd, j);
	}
}

/*
 * After loading the open jobs at start: take the steps that need no spoke
 * (a pay-first job recorded paid is queued: invoiced re-sends paid until
 * acked, the ack goes out then; a job with its text but no result gets
 * one), count the running ones, and start what can start. What a spoke
 * must be told again is sent when it connects (job_resync).
 */
void
job_replay_local(struct jobd *jd)
{
	struct job *j, *next;

	/* first the counts and moves that scheduling below depends on */
	for (j = jd->jobs; j != NULL; j = j->next) {
		if (j->state == ST_PROCESSING)
			jd->running++;
		else if (j->state == ST_PAID)
			job_set_state(jd, j, ST_QUEUED);
	}
	for (j = jd->jobs; j != NULL; j = next) {
		next = j->next;
		switch (job_replay_action(j->state, job_mode(jd, j))) {
		case ACT_RESOLVE:
			j->pending = 0;
			ingest_resolve(jd, j);	/* may start jobs: never a PROCESSING one */
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

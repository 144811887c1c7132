/*
 * escrow.c: payment_mode = hold, jobd's half (hold-invoices.md §7). The
 * buyer's payment is held by the wallet while the job runs; jobd decides
 * its fate and invoiced carries it out:
 *
 *   open    hold invoice asked for, not paid
 *   held    invoiced says the payment is held: the job runs
 *   settle  a relay accepted the result: settle (decided, durable)
 *   settled invoiced confirmed the wallet settled: the job is paid
 *   refund  the job closed any other way while held: cancel (decided)
 *   refunded the wallet returned the payment
 *   void    the job closed unpaid: cancel the invoice, so it stays unpaid
 *   voided  done
 *
 * The decision is made in job_move's hook (escrow_on_move), so every way a
 * held job can close is covered by one rule: acked settles, anything else
 * cancels. It is stored with the move (the row is written before any line
 * leaves jobd: spoke.c flushes first), and re-sent every tick until
 * invoiced confirms, also after a restart (the ledger lists them). A
 * settle decision is never turned into a cancel.
 */
#include <stdio.h>
#include <string.h>

#include "jobd.h"
#include "jsonx.h"
#include "log.h"
#include "loop.h"

static int
esc_is(const struct job *j, const char *s)
{
	return strcmp(j->escrow, s) == 0;
}

/* The buyer's money is (or was) held for this job. */
int
escrow_was_held(const struct job *j)
{
	return esc_is(j, "held") || esc_is(j, "refund") || esc_is(j, "refunded");
}

static void
escrow_send(struct jobd *jd, const char *op, const char *id)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", op);
	cJSON_AddStringToObject(m, "job", id);
	spoke_send(jd, SPOKE_INVOICED, m);
}

static void
escrow_send_inferd_cancel(struct jobd *jd, const struct job *j)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "cancel");
	cJSON_AddStringToObject(m, "job", j->id);
	spoke_send(jd, SPOKE_INFERD, m);
}

/* A new pay-first job under payment_mode = hold gets a hold invoice. */
void
escrow_open(struct jobd *jd, struct job *j)
{
	if (jd->conf.payment_mode == PAY_HOLD && j->escrow[0] == '\0')
		snprintf(j->escrow, sizeof(j->escrow), "open");
}

void
escrow_invoice_fields(const struct job *j, cJSON *m)
{
	if (j->escrow[0] != '\0')
		cJSON_AddTrueToObject(m, "hold");
}

/* The payment-required text: the money is held, and returned on failure. */
void
escrow_quote_msg(const struct job *j, int64_t msat, char *msg, size_t len)
{
	snprintf(msg, len, "pay %lld sats to run this job (up to %d tokens); the payment is "
	    "held and refunded if the job fails, and taken only when the result is published",
	    (long long)(msat / 1000), j->req.max_tokens);
}

/* A failure's public text says the held payment goes back. */
void
escrow_explain(const struct job *j, char *msg, size_t len)
{
	size_t n = strlen(msg);

	if (escrow_was_held(j) && n < len)
		snprintf(msg + n, len - n, "%s", reason_hold("refunded"));
}

/* job_move's hook: a held job that closes is settled (acked) or refunded. */
void
escrow_on_move(struct jobd *jd, struct job *j, enum job_state to)
{
	const char *decide = NULL, *op = "cancel";

	if (!state_closed(to))
		return;
	if (esc_is(j, "held") && to == ST_ACKED) {
		decide = "settle";
		op = "settle";
	} else if (esc_is(j, "held"))
		decide = "refund";
	else if (esc_is(j, "open"))
		decide = "void";
	if (decide == NULL)
		return;
	snprintf(j->escrow, sizeof(j->escrow), "%s", decide);
	job_mark_changed(jd, j);
	log_info("job %.12s: %s the held payment", j->id, op);
	escrow_send(jd, op, j->id);
}

/* The deadline passed with the result not out: fail, which refunds. */
int
escrow_too_late(struct jobd *jd, struct job *j)
{
	if (!esc_is(j, "held") || j->hold_deadline <= 0 || now_unix() < j->hold_deadline ||
	    j->state >= ST_PUBLISHED)
		return 0;
	if (j->state == ST_PROCESSING)
		escrow_send_inferd_cancel(jd, j);
	job_fail(jd, j, ST_ERROR, reason_hold("too_long"));
	return 1;
}

static void
escrow_deadlines(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	struct job *j, *next;

	jd->escrow_timer = 0;
	for (j = jd->jobs; j != NULL; j = next) {
		next = j->next;
		escrow_too_late(jd, j);
	}
	escrow_arm(jd);
}

/* One timer, for the earliest deadline of the held jobs. */
void
escrow_arm(struct jobd *jd)
{
	struct job *j;
	int64_t first = 0, now = now_unix();

	for (j = jd->jobs; j != NULL; j = j->next)
		if (esc_is(j, "held") && j->state < ST_PUBLISHED && j->hold_deadline > 0 &&
		    (first == 0 || j->hold_deadline < first))
			first = j->hold_deadline;
	if (jd->escrow_timer)
		loop_cancel_timer(jd->loop, jd->escrow_timer);
	jd->escrow_timer = 0;
	if (first > 0)
		jd->escrow_timer = loop_add_timer(jd->loop,
		    (uint64_t)(first > now ? first - now : 0) * 1000 + 100, escrow_deadlines, jd);
}

static void
escrow_held(struct jobd *jd, struct job *j, const char *id, const cJSON *m)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "amount_msat");
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(m, "deadline");

	if (!cJSON_IsNumber(a) || !cJSON_IsNumber(d))
		return;
	if (j == NULL) {
		/* Paid after its job closed: give it back. */
		if (ledger_escrow_move(jd->db, id, "open void voided", "refund", 0) == 1) {
			log_info("job %.12s: held payment for a closed job; returning it", id);
			escrow_send(jd, "cancel", id);
		}
		return;
	}
	if (!esc_is(j, "open") || (j->state != ST_PAYMENT_REQUIRED && j->state != ST_QUOTED))
		return;		/* a repeat: already held */
	if (j->state == ST_QUOTED && job_move(jd, j, ST_PAYMENT_REQUIRED, NULL) == -1)
		return;
	snprintf(j->escrow, sizeof(j->escrow), "held");
	j->hold_deadline = (int64_t)d->valuedouble;
	job_mark_changed(jd, j);
	if ((int64_t)a->valuedouble < j->quote_msat) {
		job_fail(jd, j, ST_ERROR, reason_hold("below_quote"));
		return;
	}
	j->price_msat = j->quote_msat;
	if (job_move(jd, j, ST_PAID, NULL) == -1)
		return;
	log_info("job %.12s: payment held (%lld msat)", id, (long long)a->valuedouble);
	publish_feedback(jd, j, "processing", "payment held: it is taken only when the result "
	    "is published, and returned if the job fails", 0, NULL);
	if (job_move(jd, j, ST_QUEUED, NULL) == 0)
		job_schedule(jd);
	escrow_arm(jd);
}

static void
escrow_settled(struct jobd *jd, struct job *j, const char *id, const cJSON *m)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(m, "amount_msat");
	int64_t amt = cJSON_IsNumber(a) ? (int64_t)a->valuedouble : 0;

	if (j != NULL && (esc_is(j, "settle") || esc_is(j, "held"))) {
		snprintf(j->escrow, sizeof(j->escrow), "settled");
		j->paid_msat = amt;
		job_mark_changed(jd, j);
	} else if (j == NULL && ledger_escrow_move(jd->db, id, "settle held", "settled", amt) == -1)
		return;		/* not acked: invoiced says it again */
	log_info("job %.12s: held payment settled (%lld msat)", id, (long long)amt);
	escrow_send(jd, "ack", id);
}

static void
escrow_refunded(struct jobd *jd, struct job *j, const char *id)
{
	int held;

	if (j == NULL) {
		if (ledger_escrow_move(jd->db, id, "refund held", "refunded", 0) == 0)
			ledger_escrow_move(jd->db, id, "void open", "voided", 0);
		return;
	}
	held = esc_is(j, "held");
	if (!held && !esc_is(j, "open"))
		return;
	snprintf(j->escrow, sizeof(j->escrow), "%s", held ? "refunded" : "voided");
	job_mark_changed(jd, j);
	if (j->state >= ST_PUBLISHED) {
		log_warnx("job %.12s: the wallet returned the held payment after the result "
		    "went out: unpaid", id);
		return;
	}
	if (j->state == ST_PROCESSING)
		escrow_send_inferd_cancel(jd, j);
	if (state_can_move(j->state, ST_ERROR))
		job_fail(jd, j, ST_ERROR, reason_hold(held ? "wallet_returned" : "invoice_cancelled"));
}

/* held, settled, refunded from invoiced: 1 if op was one of them. */
int
escrow_on_op(struct jobd *jd, const char *op, const char *id, const cJSON *m)
{
	struct job *j = job_find(jd, id);

	if (strcmp(op, "held") == 0)
		escrow_held(jd, j, id, m);
	else if (strcmp(op, "settled") == 0)
		escrow_settled(jd, j, id, m);
	else if (strcmp(op, "refunded") == 0)
		escrow_refunded(jd, j, id);
	else
		return 0;
	return 1;
}

static void
escrow_resend(void *arg, const char *id, const char *escrow)
{
	escrow_send(arg, strcmp(escrow, "settle") == 0 ? "settle" : "cancel", id);
}

/* Every decision not yet confirmed goes to invoiced again (tick, reconnect). */
void
escrow_resync(struct jobd *jd)
{
	if (!jd->spokes[SPOKE_INVOICED].connected)
		return;
	if (ledger_escrow_each(jd->db, escrow_resend, jd) == -1)
		log_warnx("escrow: cannot list the pending settles and cancels");
	escrow_arm(jd);
}

/*
 * quote.c: unpaid pay-first quotes. A quote costs its requester nothing,
 * so quotes must never take room that paying customers need: they do not
 * count as queued work (job_queue_depth), they have their own bounds (in
 * all and per requester), and a short life of their own (quote_ttl). The
 * invoice of a quote expires within that life, so a wallet that cannot
 * cancel an invoice cannot be paid for a job that jobd already closed.
 * job.c calls in here; every move still goes through job_move.
 */
#include <stdio.h>
#include <string.h>

#include "jobd.h"
#include "log.h"

/*
 * Seconds past an invoice's expiry before jobd closes its quote itself: a
 * payment made at the last second is seen by invoiced's look right after
 * the expiry (invoiced/track.c) and reaches jobd as "paid" first.
 */
#define QUOTE_LAST_CALL_S	10

int
quote_is_open(const struct job *j)
{
	return j->state == ST_QUOTED || j->state == ST_PAYMENT_REQUIRED;
}

/*
 * NULL if j may be quoted now, else the public reason it may not: the
 * requester's own quotes, then everyone's, are at their bound.
 */
const char *
quote_admit(struct jobd *jd, const struct job *j)
{
	const struct job *o;
	int all = 0, mine = 0;

	for (o = jd->jobs; o != NULL; o = o->next) {
		if (o == j || !quote_is_open(o))
			continue;
		all++;
		if (strcmp(o->pubkey, j->pubkey) == 0)
			mine++;
	}
	if (mine >= jd->conf.max_unpaid_per_requester)
		return reason_quote_limit(1);
	if (all >= jd->conf.max_unpaid_quotes)
		return reason_quote_limit(0);
	return NULL;
}

/* The expiry (s) to ask for a quote's invoice: never past the quote's life. */
int
quote_invoice_expiry(const struct jobd *jd)
{
	return jd->conf.invoice_expiry < jd->conf.quote_ttl ? jd->conf.invoice_expiry :
	    jd->conf.quote_ttl;
}

/*
 * 1 if j is an unpaid quote past its life at now (s) / ms: quote_ttl from
 * the request's arrival, and its invoice (if any) past expiry and the last
 * call, so that no payment can still arrive.
 */
int
quote_expired(const struct jobd *jd, const struct job *j, int64_t now, int64_t ms)
{
	if (!quote_is_open(j) || j->paid_msat > 0)
		return 0;
	if (ms - j->received_ms <= (int64_t)jd->conf.quote_ttl * 1000)
		return 0;
	return j->invoice_expires == 0 || now > j->invoice_expires + QUOTE_LAST_CALL_S;
}

/*
 * j just left an unpaid quote for a closed state (cancel, quote_ttl,
 * error): invoiced stops looking its invoice up and cancels it where the
 * wallet can. Harmless for an invoice that is unknown, expired or paid
 * (a paid one is still reported until acknowledged).
 */
void
quote_untrack(struct jobd *jd, const struct job *j)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL)
		return;
	cJSON_AddStringToObject(m, "op", "untrack");
	cJSON_AddStringToObject(m, "job", j->id);
	spoke_send(jd, SPOKE_INVOICED, m);
}

/*
 * 1 if the closed job id was a quote that ended unpaid (expired or
 * cancelled): a payment for it beat the untrack or the cancel, and is
 * recorded for a refund rather than run (a closed job never runs again).
 */
int
quote_paid_late(struct jobd *jd, const char *id)
{
	char st[32];

	if (ledger_job_state(jd->db, id, st, sizeof(st)) != 0)
		return 0;
	return strcmp(st, "expired") == 0 || strcmp(st, "cancelled") == 0;
}

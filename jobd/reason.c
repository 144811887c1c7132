/*
 * reason.c: what a requester is told when a spoke fails a job. Feedback is
 * public, and a spoke's message carries what only the operator should see:
 * curl's text with the backend's host and port, an infer_urls entry with
 * its user info, a wallet's raw error body. So the public text is picked
 * from a fixed vocabulary by the error's code alone; the spoke's message
 * goes to the log (docs/NOSTR.md lists the words).
 */
#include <stdio.h>
#include <string.h>

#include "jobd.h"

struct reason {
	const char	*code;
	const char	*text;
};

static const struct reason infer_reasons[] = {
	{ "unknown_model",	"model not available" },
	{ "backend_down",	"inference backend unavailable" },
	{ "timeout_connect",	"inference backend unavailable" },
	{ "incomplete",		"inference backend unavailable" },
	{ "shutdown",		"inference backend unavailable" },
	{ "busy",		"inference backend busy" },
	{ "timeout_first_byte",	"inference timed out" },
	{ "timeout_idle",	"inference timed out" },
	{ "timeout_total",	"inference timed out" },
	{ "backend_error",	"inference backend error" },
	{ "bad_request",	"request refused by the inference backend" },
	{ NULL,			"inference failed" },
};

static const struct reason wallet_reasons[] = {
	{ "wallet_down",	"wallet unavailable" },
	{ "disabled",		"payments disabled" },
	{ "tracker_full",	"too many invoices waiting; retry later" },
	{ NULL,			"wallet error" },
};

/* Size bounds (max_request_bytes, max_event_bytes). */
static const struct reason size_reasons[] = {
	{ "request_too_large",	"request too large" },
	{ "result_cut",		"the result was cut to fit in one event" },
	{ NULL,			"too large" },
};

static const char *
reason_find(const struct reason *r, const char *code)
{
	for (; r->code != NULL; r++)
		if (code != NULL && strcmp(r->code, code) == 0)
			break;
	return r->text;
}

/* The public words for an inferd error code (any string, or NULL). */
const char *
reason_infer(const char *code)
{
	return reason_find(infer_reasons, code);
}

/* The public words for an invoiced error code. */
const char *
reason_wallet(const char *code)
{
	return reason_find(wallet_reasons, code);
}

/* Said (status processing) while a paid or promised job waits for inference. */
const char *
reason_waiting(void)
{
	return "waiting for the inference backend";
}

/*
 * The words for a started job that fails (why: a reason_infer text, or
 * NULL when inference did not come back by inference_deadline), saying
 * what became of the payment. The one place for that wording: with hold
 * invoices a held payment is "refunded" here. Returns buf.
 */
const char *
reason_paid_failure(char *buf, size_t len, const struct job *j, enum payment_mode mode,
    const char *why)
{
	(void)j;	/* the escrow looks at the job's payment */
	if (why == NULL)
		why = "inference unavailable";
	if (mode == PAY_BEFORE)
		snprintf(buf, len, "%s; your payment was kept, contact the operator", why);
	else if (mode == PAY_AFTER)
		snprintf(buf, len, "%s; nothing was charged", why);
	else
		snprintf(buf, len, "%s", why);
	return buf;
}

/*
 * Why a pay-first request gets no quote: the requester's own unpaid quotes
 * (mine) or everyone's are at their bound (quote.c).
 */
const char *
reason_quote_limit(int mine)
{
	return mine ? "too many unpaid quotes from you; pay or cancel one first" :
	    "too many unpaid quotes waiting; retry later";
}

/* The public words for a size bound. */
const char *
reason_size(const char *code)
{
	return reason_find(size_reasons, code);
}

/*
 * payment_mode = hold (escrow.c): why a job whose payment was held ended,
 * and the words every such failure ends with.
 */
static const struct reason hold_reasons[] = {
	{ "too_long",		"the job did not finish in the time a payment may be held" },
	{ "wallet_returned",	"the wallet returned the held payment" },
	{ "invoice_cancelled",	"the invoice was cancelled; the job is closed" },
	{ "below_quote",	"payment below the quoted price" },
	{ "refunded",		"; your held payment was returned (refunded)" },
	{ NULL,			"the held payment was returned" },
};

const char *
reason_hold(const char *code)
{
	return reason_find(hold_reasons, code);
}

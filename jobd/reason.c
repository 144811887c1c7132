/*
 * reason.c: what a requester is told when a spoke fails a job. Feedback is
 * public, and a spoke's message carries what only the operator should see:
 * curl's text with the backend's host and port, an infer_urls entry with
 * its user info, a wallet's raw error body. So the public text is picked
 * from a fixed vocabulary by the error's code alone; the spoke's message
 * goes to the log (docs/NOSTR.md lists the words).
 */
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
	{ NULL,			"wallet error" },
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

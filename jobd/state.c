/*
 * state.c: the move table. A job may only move along it (job_move in
 * job.c checks every move here); a closed state has no way out, so a
 * closed job never runs, publishes or charges again.
 */
#include <string.h>

#include "state.h"

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
state_name(enum job_state s)
{
	if ((int)s < 0 || s >= ST__COUNT)
		return "unknown";
	return state_names[s];
}

int
state_parse(const char *s)
{
	int i;

	for (i = 0; i < ST__COUNT; i++)
		if (strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

int
state_closed(enum job_state s)
{
	return s == ST_ACKED || s == ST_REJECTED || s == ST_ERROR ||
	    s == ST_CANCELLED || s == ST_EXPIRED;
}

/*
 * Entering these needs no fsync of its own (ledger commit without sync, see
 * jobd.8.md "Durability"): what announces them can be done again after a
 * power cut with no money and no second result at stake. Queued and
 * processing send an infer (inferd answers a repeated job id from its
 * cache; after a power cut the model runs again, paid by nobody twice);
 * acked only closes a job whose result is on disk.
 */
int
state_redoable(enum job_state s)
{
	return s == ST_QUEUED || s == ST_PROCESSING || s == ST_ACKED;
}

int
state_can_move(enum job_state from, enum job_state to)
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
state_replay_action(enum job_state s, enum payment_mode mode)
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

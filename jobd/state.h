/*
 * state.h: a job's states, the moves between them and what each needs
 * after a restart. Data and pure functions only, so that the ledger
 * (which stores states by name) and the state machine (job.c, which
 * moves them) share one table without depending on each other.
 */
#ifndef JOBD_STATE_H
#define JOBD_STATE_H

#include "conf.h"

/* Job states, in the order a job normally passes them. Stored by name. */
enum job_state {
	ST_RECEIVED,		/* verified, in the ledger; inputs being resolved */
	ST_QUOTED,		/* pay-first: quote made, invoice asked for */
	ST_PAYMENT_REQUIRED,	/* pay-first: invoice sent to the requester */
	ST_PAID,		/* pay-first: invoiced says settled */
	ST_QUEUED,
	ST_PROCESSING,		/* infer sent */
	ST_INFERRED,		/* text and token counts stored */
	ST_INVOICED,		/* pay-after: invoice for the real price stored */
	ST_PUBLISHED,		/* result signed, stored, handed to relayd */
	ST_ACKED,		/* a relay accepted the result */
	ST_REJECTED,		/* invalid request, error feedback sent */
	ST_ERROR,		/* failed while running, error feedback sent */
	ST_CANCELLED,		/* kind-5 deletion from the requester */
	ST_EXPIRED,		/* pay-first invoice expired unpaid */
	ST__COUNT
};

/* What replaying a ledger row at start (or after a spoke reconnect) needs. */
enum replay_action {
	ACT_NONE,		/* closed: nothing to do */
	ACT_RESOLVE,		/* received: parse the request again, resolve inputs */
	ACT_INVOICE,		/* ask invoiced (idempotent) for the job's invoice */
	ACT_LOOKUP,		/* pay-first wait: ask invoiced for the state */
	ACT_ACK_PAID,		/* paid recorded: ack it, then queue */
	ACT_QUEUE,
	ACT_INFER,		/* re-send infer (idempotent) */
	ACT_RESULT,		/* build, store and publish the result */
	ACT_REPUBLISH		/* re-send the stored result event */
};

const char	*state_name(enum job_state);
int		 state_parse(const char *);
int		 state_closed(enum job_state);
int		 state_redoable(enum job_state);
int		 state_can_move(enum job_state from, enum job_state to);
enum replay_action state_replay_action(enum job_state, enum payment_mode);

#endif

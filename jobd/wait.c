/*
 * wait.c: a started job that is paid (pay-first) or promised (pay-after)
 * waits for inference to come back instead of failing on the first
 * backend trouble: a model loading, a backend restarting, every backend
 * busy. It keeps its place (it stays in processing, holding its slot, so
 * newer jobs do not pass it), is asked again with capped backoff, and the
 * requester hears once a minute at most that it waits. Only past
 * inference_deadline seconds since it was first queued (queued_ms, in the
 * ledger: a restart keeps the deadline) does it fail, saying what became
 * of the payment (reason_paid_failure). Errors that are the request's own
 * fault fail at once: waiting would not change the answer.
 *
 * A free job keeps the short rule (JOBD_INFER_RETRIES tries, a
 * non-retryable error at once): nothing was paid or promised, and a free
 * DVM should not hold its slots for minutes for nobody's money.
 */
#include <string.h>

#include "jobd.h"
#include "log.h"

#define WAIT_BACKOFF_MAX_MS	30000	/* longest pause between two tries */
#define WAIT_SAY_EVERY_MS	60000	/* "waiting" feedback at most this often */
#define WAIT_FREE_FIRST_MS	1000	/* free jobs: 1 s, 2 s, 4 s */

/* The request's own fault: trying again gives the same answer. */
static int
wait_permanent(const char *code, int retryable)
{
	if (strcmp(code, "bad_request") == 0)
		return 1;
	/* an HTTP 4xx other than 404/429: prompt too long for the model, say */
	return strcmp(code, "backend_error") == 0 && !retryable;
}

/* When a started job stops waiting for inference, wall-clock ms. */
int64_t
wait_deadline_ms(const struct jobd *jd, const struct job *j)
{
	int64_t from = j->queued_ms > 0 ? j->queued_ms : j->received_ms;

	return from + (int64_t)jd->conf.inference_deadline * 1000;
}

/* 1 if j waits for inference (not free) and its deadline has passed. */
int
wait_overdue(const struct jobd *jd, const struct job *j, int64_t now)
{
	return job_mode(jd, j) != PAY_FREE && now >= wait_deadline_ms(jd, j);
}

/* Tell the requester that its job waits, at most once a minute. */
static void
wait_say(struct jobd *jd, struct job *j, int64_t now)
{
	if (j->wait_said_ms != 0 && now - j->wait_said_ms < WAIT_SAY_EVERY_MS)
		return;
	j->wait_said_ms = now;
	publish_feedback(jd, j, "processing", reason_waiting(), 0, NULL);
}

/*
 * inferd failed j (in processing) with code: how long to wait before the
 * next try, in ms; 0 if its deadline has passed (wait_fail); -1 if the
 * error is final now (job_fail with reason_infer).
 */
int64_t
wait_retry_ms(struct jobd *jd, struct job *j, const char *code, int retryable)
{
	int64_t now = ledger_now_ms(), ms, left;

	if (job_mode(jd, j) == PAY_FREE) {
		if (!retryable || j->retries >= JOBD_INFER_RETRIES)
			return -1;
		return (int64_t)WAIT_FREE_FIRST_MS << j->retries;
	}
	if (wait_permanent(code, retryable))
		return -1;
	if ((left = wait_deadline_ms(jd, j) - now) <= 0)
		return 0;
	wait_say(jd, j, now);
	ms = j->retries < 5 ? 1000LL << j->retries : WAIT_BACKOFF_MAX_MS;
	if (ms > WAIT_BACKOFF_MAX_MS)
		ms = WAIT_BACKOFF_MAX_MS;
	/* one last try at the deadline itself; its error then ends the job */
	return ms < left ? ms : left;
}

/*
 * 1 while a paid or promised job waits for its next try: newer queued
 * jobs are not started meanwhile, so the waiting one is asked again
 * before them (FIFO), and a backend in trouble is not handed more work.
 */
int
wait_holds_queue(const struct jobd *jd)
{
	const struct job *j;

	for (j = jd->jobs; j != NULL; j = j->next)
		if (j->state == ST_PROCESSING && j->retry_timer != 0 &&
		    job_mode(jd, j) != PAY_FREE)
			return 1;
	return 0;
}

/*
 * The deadline failure: inference did not come back in time. Ends j in
 * error with the payment's fate in its words. The hold-invoice escrow
 * calls this too (and makes reason_paid_failure say "refunded").
 */
void
wait_fail(struct jobd *jd, struct job *j)
{
	char why[JOBD_MAX_ERRMSG];

	log_warnx("job %.12s: inference not back within inference_deadline (%d s)", j->id,
	    jd->conf.inference_deadline);
	job_fail(jd, j, ST_ERROR, reason_paid_failure(why, sizeof(why), j, job_mode(jd, j),
	    NULL));
}

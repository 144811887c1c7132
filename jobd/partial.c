/*
 * partial.c: how much streamed text partial feedback may give away. In
 * pay-after nothing is paid until the result comes with its invoice, so
 * partials carry at most partial_max_percent of the text streamed so far,
 * and never the rest at the end: the full answer exists only in the
 * result, after the invoice. Whatever was sent is kept (sent), so that a
 * requester who cancels after partials is invoiced for what it got.
 * Pay-first (paid) and free jobs stream everything.
 */
#include <stdlib.h>
#include <string.h>

#include "jobd.h"

#define PARTIAL_BYTES_PER_TOKEN	4	/* delivered text, when no count exists */

/* Bytes at the start of j's partial buffer that may go out now. */
size_t
partial_allowed(const struct jobd *jd, const struct job *j)
{
	size_t cap;

	if (j->partial_off || j->partial_len == 0)
		return 0;
	if (job_mode(jd, j) != PAY_AFTER)
		return utf8_cut(j->partial, j->partial_len, j->partial_len);
	cap = j->streamed / 100 * (size_t)jd->conf.partial_max_percent +
	    j->streamed % 100 * (size_t)jd->conf.partial_max_percent / 100;
	if (j->sent_len >= cap)
		return 0;
	return utf8_cut(j->partial, j->partial_len, cap - j->sent_len);
}

/* Keep a copy of text n bytes just sent as partial feedback. -1 on ENOMEM. */
int
partial_keep_sent(struct job *j, const char *text, size_t n)
{
	char *p = realloc(j->sent, j->sent_len + n + 1);

	if (p == NULL)
		return -1;
	memcpy(p + j->sent_len, text, n);
	p[j->sent_len + n] = '\0';
	j->sent = p;
	j->sent_len += n;
	return 0;
}

/*
 * The inference of j runs again (a retry) or is re-attached (inferd
 * reconnected): its stream repeats text, so the share can no longer be
 * counted. Partials stop; the result still comes.
 */
void
partial_restart(struct job *j)
{
	if (j->streamed == 0)
		return;
	j->partial_off = 1;
	j->partial_len = 0;
	if (j->partial != NULL)
		j->partial[0] = '\0';
}

/*
 * A pay-after job in processing is cancelled after partials went out:
 * its answer becomes the text sent, counted at PARTIAL_BYTES_PER_TOKEN
 * (an estimate in the requester's favour for dense text), for job.c to
 * price and invoice like any answer (the minimum price and a bid apply).
 * 0 if so, -1 if nothing was sent (a plain cancel) or on ENOMEM.
 */
int
partial_bill_sent(const struct jobd *jd, struct job *j)
{
	size_t plen = j->prompt ? strlen(j->prompt) : 0;
	int64_t ct;

	if (job_mode(jd, j) != PAY_AFTER || j->sent_len == 0)
		return -1;
	free(j->text);
	if ((j->text = strdup(j->sent)) == NULL)
		return -1;
	ct = (int64_t)((j->sent_len + PARTIAL_BYTES_PER_TOKEN - 1) / PARTIAL_BYTES_PER_TOKEN);
	if (j->req.max_tokens > 0 && ct > j->req.max_tokens)
		ct = j->req.max_tokens;
	j->prompt_tokens = (int)((plen + PARTIAL_BYTES_PER_TOKEN - 1) / PARTIAL_BYTES_PER_TOKEN);
	j->completion_tokens = (int)ct;
	return 0;
}

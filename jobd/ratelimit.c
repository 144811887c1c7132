/*
 * ratelimit.c: a token bucket per requester pubkey, refilled at
 * rate_limit_per_min per minute, holding at most that many. The table is
 * bounded: when it is full the entry idle longest is reused, which can
 * only make a limit more lenient for someone long quiet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobd.h"

struct rl_entry {
	char	 pubkey[65];
	double	 tokens;
	uint64_t last_ms;
};

int
ratelimit_init(struct ratelimit *rl, size_t cap)
{
	rl->n = 0;
	rl->cap = cap;
	rl->e = calloc(cap, sizeof(*rl->e));
	return rl->e == NULL ? -1 : 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	free(rl->e);
	rl->e = NULL;
	rl->n = rl->cap = 0;
}

static struct rl_entry *
rl_slot(struct ratelimit *rl, const char *pubkey, double full, uint64_t now)
{
	size_t i, oldest = 0;

	for (i = 0; i < rl->n; i++) {
		if (strcmp(rl->e[i].pubkey, pubkey) == 0)
			return &rl->e[i];
		if (rl->e[i].last_ms < rl->e[oldest].last_ms)
			oldest = i;
	}
	if (rl->n < rl->cap)
		i = rl->n++;
	else
		i = oldest;
	snprintf(rl->e[i].pubkey, sizeof(rl->e[i].pubkey), "%s", pubkey);
	rl->e[i].tokens = full;
	rl->e[i].last_ms = now;
	return &rl->e[i];
}

/* 1 if this pubkey may make a request now (a token is taken), else 0. */
int
ratelimit_take(struct ratelimit *rl, const char *pubkey, int per_min, uint64_t now)
{
	struct rl_entry *e;
	double full = per_min;

	if (per_min <= 0 || rl->cap == 0)
		return 1;
	e = rl_slot(rl, pubkey, full, now);
	if (now > e->last_ms) {
		e->tokens += (double)(now - e->last_ms) * full / 60000.0;
		if (e->tokens > full)
			e->tokens = full;
	}
	e->last_ms = now;
	if (e->tokens < 1.0)
		return 0;
	e->tokens -= 1.0;
	return 1;
}

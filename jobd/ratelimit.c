/*
 * ratelimit.c: a token bucket per requester pubkey, refilled at
 * rate_limit_per_min per minute, holding at most that many. The table is
 * bounded: when it is full the entry idle longest is reused, which can
 * only make a limit more lenient for someone long quiet.
 *
 * Every verified request takes a token, so the entry is found through an
 * open-addressing table on the pubkey (the walk of every entry it replaces
 * was a strcmp per known key per request); only reusing the idle-longest
 * entry of a full table still walks them.
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
	for (rl->nslot = 16; rl->nslot < 2 * cap; rl->nslot *= 2)
		;
	rl->e = calloc(cap ? cap : 1, sizeof(*rl->e));
	rl->slot = calloc(rl->nslot, sizeof(*rl->slot));
	if (rl->e == NULL || rl->slot == NULL) {
		ratelimit_free(rl);
		return -1;
	}
	return 0;
}

void
ratelimit_free(struct ratelimit *rl)
{
	free(rl->e);
	free(rl->slot);
	rl->e = NULL;
	rl->slot = NULL;
	rl->n = rl->cap = rl->nslot = 0;
}

/* Pubkeys are hex of curve points: their first characters spread well. */
static size_t
rl_hash(const struct ratelimit *rl, const char *pubkey)
{
	size_t h = 0;
	int i;

	for (i = 0; i < 16 && pubkey[i] != '\0'; i++)
		h = h * 31 + (unsigned char)pubkey[i];
	return h & (rl->nslot - 1);
}

/* The table slot holding pubkey, or the free slot where it would go. */
static size_t
rl_find(const struct ratelimit *rl, const char *pubkey)
{
	size_t s;

	for (s = rl_hash(rl, pubkey); rl->slot[s] != 0; s = (s + 1) & (rl->nslot - 1))
		if (strcmp(rl->e[rl->slot[s] - 1].pubkey, pubkey) == 0)
			break;
	return s;
}

/* Take slot s out, shifting back the later entries of its probe run. */
static void
rl_unslot(struct ratelimit *rl, size_t s)
{
	size_t i, home, mask = rl->nslot - 1;

	rl->slot[s] = 0;
	for (i = (s + 1) & mask; rl->slot[i] != 0; i = (i + 1) & mask) {
		home = rl_hash(rl, rl->e[rl->slot[i] - 1].pubkey);
		if (((i - home) & mask) >= ((i - s) & mask)) {
			rl->slot[s] = rl->slot[i];
			rl->slot[i] = 0;
			s = i;
		}
	}
}

static struct rl_entry *
rl_slot(struct ratelimit *rl, const char *pubkey, double full, uint64_t now)
{
	size_t i, oldest = 0, s = rl_find(rl, pubkey);

	if (rl->slot[s] != 0)
		return &rl->e[rl->slot[s] - 1];
	if (rl->n < rl->cap)
		i = rl->n++;
	else {
		for (i = 1; i < rl->n; i++)
			if (rl->e[i].last_ms < rl->e[oldest].last_ms)
				oldest = i;
		i = oldest;
		rl_unslot(rl, rl_find(rl, rl->e[i].pubkey));
		s = rl_find(rl, pubkey);	/* the run may have moved */
	}
	rl->slot[s] = i + 1;
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

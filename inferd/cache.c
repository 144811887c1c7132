/*
 * cache.c: the answers of finished jobs, so that an infer for a job that
 * already ended (jobd replaying its ledger after a restart, or a client
 * that lost its connection) gets the same done or error line again instead
 * of a second inference. Bounded: CACHE_MAX lines, each for CACHE_TTL_MS.
 * A list in arrival order: the oldest entry is always at the head.
 */
#include <stdlib.h>
#include <string.h>

#include "inferd.h"
#include "loop.h"

struct cached {
	char		 id[JOB_ID_LEN + 1];
	char		*line;
	uint64_t	 at;
	struct cached	*next;
};

/* Drop entries past their time or over the count. */
static void
cache_expire(struct cache *ca)
{
	uint64_t now = now_ms();

	while (ca->head && (ca->n > CACHE_MAX || now - ca->head->at > CACHE_TTL_MS)) {
		struct cached *c = ca->head;

		ca->head = c->next;
		if (ca->head == NULL)
			ca->tail = NULL;
		free(c->line);
		free(c);
		ca->n--;
	}
}

/* The stored line for job id, or NULL. Valid until the next cache_* call. */
const char *
cache_find(struct cache *ca, const char *id)
{
	struct cached *c;

	cache_expire(ca);
	for (c = ca->head; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c->line;
	return NULL;
}

/* Keep a copy of line (one NDJSON line, no '\n') for job id. */
void
cache_put(struct cache *ca, const char *id, const char *line)
{
	struct cached *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->line = strdup(line)) == NULL) {
		free(c);
		log_warnx("job %.12s: out of memory caching the result", id);
		return;
	}
	memcpy(c->id, id, JOB_ID_LEN + 1);
	c->at = now_ms();
	if (ca->tail)
		ca->tail->next = c;
	else
		ca->head = c;
	ca->tail = c;
	ca->n++;
	cache_expire(ca);
}

void
cache_free(struct cache *ca)
{
	while (ca->head) {
		struct cached *c = ca->head;

		ca->head = c->next;
		free(c->line);
		free(c);
	}
	ca->tail = NULL;
	ca->n = 0;
}

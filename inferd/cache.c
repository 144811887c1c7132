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

static struct {
	struct cached	*head, *tail;
	size_t		 n;
} C;

/* Drop entries past their time or over the count. */
static void
cache_expire(void)
{
	uint64_t now = now_ms();

	while (C.head && (C.n > CACHE_MAX || now - C.head->at > CACHE_TTL_MS)) {
		struct cached *c = C.head;

		C.head = c->next;
		if (C.head == NULL)
			C.tail = NULL;
		free(c->line);
		free(c);
		C.n--;
	}
}

/* The stored line for job id, or NULL. Valid until the next cache_* call. */
const char *
cache_find(const char *id)
{
	struct cached *c;

	cache_expire();
	for (c = C.head; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c->line;
	return NULL;
}

/* Keep a copy of line (one NDJSON line, no '\n') for job id. */
void
cache_put(const char *id, const char *line)
{
	struct cached *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->line = strdup(line)) == NULL) {
		free(c);
		log_warnx("job %.12s: out of memory caching the result", id);
		return;
	}
	memcpy(c->id, id, JOB_ID_LEN + 1);
	c->at = now_ms();
	if (C.tail)
		C.tail->next = c;
	else
		C.head = c;
	C.tail = c;
	C.n++;
	cache_expire();
}

void
cache_free(void)
{
	while (C.head) {
		struct cached *c = C.head;

		C.head = c->next;
		free(c->line);
		free(c);
	}
	C.tail = NULL;
	C.n = 0;
}

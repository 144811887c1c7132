/*
 * index.c: open jobs by id, so that job_find (every incoming event, every
 * spoke answer) costs a hash probe rather than a walk of every open job.
 * Linear probing with backward-shift removal, so no tombstones build up.
 *
 * The hash is the first 16 characters of the id. Ids are SHA-256 output,
 * and only verified requests are ever added, but a requester can grind ids
 * that collide here; the worst case is then a probe over every open job,
 * which is what the list walk always cost. Past JOB_INDEX_MAX open jobs a
 * new one is counted in "unindexed" and job_find (job.c) walks the list for
 * ids the table does not hold, so correctness never depends on the table's
 * size.
 */
#include <stddef.h>
#include <string.h>

#include "jobd.h"

static size_t
index_hash(const char *id)
{
	size_t h = 0;
	int i;

	for (i = 0; i < 16 && id[i] != '\0'; i++)
		h = h * 31 + (unsigned char)id[i];
	return h & (JOB_INDEX_SLOTS - 1);
}

void
job_index_add(struct job_index *x, struct job *j)
{
	size_t i;

	if (x->n >= JOB_INDEX_MAX) {
		x->unindexed++;
		return;
	}
	for (i = index_hash(j->id); x->slot[i] != NULL; i = (i + 1) & (JOB_INDEX_SLOTS - 1))
		if (x->slot[i] == j)
			return;
	x->slot[i] = j;
	x->n++;
}

static size_t
index_find_slot(const struct job_index *x, const char *id)
{
	size_t i;

	for (i = index_hash(id); x->slot[i] != NULL; i = (i + 1) & (JOB_INDEX_SLOTS - 1))
		if (strcmp(x->slot[i]->id, id) == 0)
			return i;
	return JOB_INDEX_SLOTS;
}

struct job *
job_index_get(const struct job_index *x, const char *id)
{
	size_t i;

	if (x->n == 0)
		return NULL;
	i = index_find_slot(x, id);
	return i < JOB_INDEX_SLOTS ? x->slot[i] : NULL;
}

void
job_index_remove(struct job_index *x, struct job *j)
{
	size_t i, hole, home;

	i = x->n > 0 ? index_find_slot(x, j->id) : JOB_INDEX_SLOTS;
	if (i == JOB_INDEX_SLOTS || x->slot[i] != j) {
		if (x->unindexed > 0)
			x->unindexed--;
		return;
	}
	x->slot[i] = NULL;
	x->n--;
	/* Shift back every later entry of the run that can now sit earlier. */
	hole = i;
	for (i = (i + 1) & (JOB_INDEX_SLOTS - 1); x->slot[i] != NULL;
	    i = (i + 1) & (JOB_INDEX_SLOTS - 1)) {
		home = index_hash(x->slot[i]->id);
		/* movable unless home lies cyclically in (hole, i] */
		if (((i - home) & (JOB_INDEX_SLOTS - 1)) >= ((i - hole) & (JOB_INDEX_SLOTS - 1))) {
			x->slot[hole] = x->slot[i];
			x->slot[i] = NULL;
			hole = i;
		}
	}
}

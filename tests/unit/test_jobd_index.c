/*
 * test_jobd_index.c: the open jobs by id (index.c). Every added job is
 * found and every removed one is not, including across colliding probe
 * runs that wrap the end of the table and removals from their middle
 * (backward shift), and past JOB_INDEX_MAX the overflow is counted so that
 * job_find knows to walk the list.
 */
/* LINK: jobd/index.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../jobd/jobd.h"
#include "t.h"

static struct job_index X;

static struct job *
mk(struct job *j, const char *prefix, int n)
{
	char digits[65];
	size_t p = strlen(prefix);

	memset(j, 0, sizeof(*j));
	/* prefix, then n zero-padded to fill the 64 hex digits */
	snprintf(digits, sizeof(digits), "%064d", n);
	memcpy(j->id, prefix, p);
	memcpy(j->id + p, digits + p, 64 - p);
	j->id[64] = '\0';
	return j;
}

TEST(add_find_remove)
{
	static struct job a[200];
	int i;

	memset(&X, 0, sizeof(X));
	CHECK(job_index_get(&X, "nope") == NULL);
	for (i = 0; i < 200; i++)
		job_index_add(&X, mk(&a[i], "", i * 7919));
	CHECK(X.n == 200 && X.unindexed == 0);
	for (i = 0; i < 200; i++)
		CHECKF(job_index_get(&X, a[i].id) == &a[i], "job %d", i);
	for (i = 0; i < 200; i += 2)
		job_index_remove(&X, &a[i]);
	for (i = 0; i < 200; i++)
		CHECKF(job_index_get(&X, a[i].id) == (i % 2 ? &a[i] : NULL), "job %d", i);
	job_index_add(&X, &a[1]);	/* twice: still one entry */
	CHECK(X.n == 100);
	CHECK(job_index_get(&X, "") == NULL && job_index_get(&X, "0") == NULL);
}

/*
 * Same first 16 characters: one probe run. The prefix is one whose home is
 * the last slot, so the run wraps to slot 0; remove from every place in it.
 */
TEST(collisions_and_wrap)
{
	static struct job a[40];
	char prefix[17];
	int i, k;

	for (i = 0; i < 100000; i++) {
		memset(&X, 0, sizeof(X));
		snprintf(prefix, sizeof(prefix), "%016x", i);
		job_index_add(&X, mk(&a[0], prefix, 0));
		if (X.slot[JOB_INDEX_SLOTS - 1] == &a[0])
			break;
	}
	REQUIRE(i < 100000);
	for (k = 0; k < 40; k++) {
		memset(&X, 0, sizeof(X));
		for (i = 0; i < 40; i++)
			job_index_add(&X, mk(&a[i], prefix, i));
		CHECK(X.slot[0] != NULL && X.slot[JOB_INDEX_SLOTS - 1] == &a[0]);
		job_index_remove(&X, &a[k]);
		for (i = 0; i < 40; i++)
			CHECKF(job_index_get(&X, a[i].id) == (i == k ? NULL : &a[i]),
			    "removed %d, looked up %d", k, i);
		job_index_remove(&X, &a[k]);	/* not there: no change */
		CHECK(X.n == 39 && X.unindexed == 0);
	}
}

TEST(overflow_counted)
{
	struct job *a = calloc(JOB_INDEX_MAX + 10, sizeof(*a));
	int i;

	REQUIRE(a != NULL);
	memset(&X, 0, sizeof(X));
	for (i = 0; i < JOB_INDEX_MAX + 10; i++)
		job_index_add(&X, mk(&a[i], "", i));
	CHECK(X.n == JOB_INDEX_MAX && X.unindexed == 10);
	CHECK(job_index_get(&X, a[JOB_INDEX_MAX + 5].id) == NULL);
	job_index_remove(&X, &a[JOB_INDEX_MAX + 5]);
	CHECK(X.unindexed == 9);
	for (i = 0; i < JOB_INDEX_MAX; i++)
		job_index_remove(&X, &a[i]);
	CHECK(X.n == 0);
	for (i = 0; i < JOB_INDEX_SLOTS; i++)
		CHECK(X.slot[i] == NULL);
	free(a);
}

int
main(void)
{
	RUN(add_find_remove);
	RUN(collisions_and_wrap);
	RUN(overflow_counted);
	T_DONE();
}

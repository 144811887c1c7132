/* LINK: relayd/dedupe.c */
/*
 * relayd's bounded id set: membership, eviction of the oldest when full,
 * probe chains intact after many evictions (checked against a reference).
 */
#include <stdint.h>
#include <string.h>

#include "t.h"
#include "../../relayd/relayd.h"

static void
mkid(uint8_t id[32], uint32_t n)
{
	uint32_t x = n * 2654435761u;
	size_t i;

	for (i = 0; i < 32; i++) {
		x ^= x << 13; x ^= x >> 17; x ^= x << 5;
		id[i] = (uint8_t)(x >> 8);
	}
	memcpy(id, &n, sizeof(n));	/* distinct in the key bytes */
}

TEST(add_and_has)
{
	struct dedupe *d = dedupe_new(100);
	uint8_t a[32], b[32];

	REQUIRE(d != NULL);
	mkid(a, 1);
	mkid(b, 2);
	CHECK(!dedupe_has(d, a));
	dedupe_add(d, a);
	CHECK(dedupe_has(d, a));
	CHECK(!dedupe_has(d, b));
	dedupe_add(d, a);
	CHECK(dedupe_count(d) == 1);
	dedupe_free(d);
}

TEST(oldest_evicted)
{
	struct dedupe *d = dedupe_new(3);
	uint8_t id[32];
	uint32_t i;

	REQUIRE(d != NULL);
	for (i = 1; i <= 4; i++) {
		mkid(id, i);
		dedupe_add(d, id);
	}
	CHECK(dedupe_count(d) == 3);
	mkid(id, 1);
	CHECK(!dedupe_has(d, id));
	for (i = 2; i <= 4; i++) {
		mkid(id, i);
		CHECK(dedupe_has(d, id));
	}
	dedupe_free(d);
}

/* Many wrap-arounds: exactly the last cap ids are members. */
TEST(window_exact_after_churn)
{
	const uint32_t cap = 1000, total = 25000;
	struct dedupe *d = dedupe_new(cap);
	uint8_t id[32];
	uint32_t i, bad = 0;

	REQUIRE(d != NULL);
	for (i = 0; i < total; i++) {
		mkid(id, i);
		dedupe_add(d, id);
	}
	for (i = 0; i < total; i++) {
		mkid(id, i);
		if (dedupe_has(d, id) != (i >= total - cap))
			bad++;
	}
	CHECKF(bad == 0, "%u ids misclassified", bad);
	CHECK(dedupe_count(d) == cap);
	dedupe_free(d);
}

TEST(bad_capacity)
{
	CHECK(dedupe_new(0) == NULL);
	CHECK(dedupe_new((size_t)1 << 40) == NULL);
}

int
main(void)
{
	RUN(add_and_has);
	RUN(oldest_evicted);
	RUN(window_exact_after_churn);
	RUN(bad_capacity);
	return t_failed_cases != 0;
}

/*
 * test_jobd_price.c: jobd's money arithmetic (price.c) and the per-pubkey
 * token bucket (ratelimit.c): the pricing formula with its rounding up to
 * whole sats, the minimum price, fractional rates, the pay-first quote and
 * the tokens a quote or a bid covers.
 */
/* LINK: jobd/price.c jobd/ratelimit.c */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "../../jobd/jobd.h"
#include "t.h"

static struct conf C;

TEST(price_formula)
{
	C.min_price_sats = 3;
	C.price_per_1k_tokens = 2;
	/* max(3, ceil(tokens / 1000 * 2)) sats, in msat */
	CHECK(price_msat(&C, 0, 0) == 3000);
	CHECK(price_msat(&C, 100, 400) == 3000);	/* 1 sat < minimum */
	CHECK(price_msat(&C, 1000, 500) == 3000);	/* exactly 3 */
	CHECK(price_msat(&C, 1000, 501) == 4000);	/* 3.002 -> 4 */
	CHECK(price_msat(&C, 5000, 5000) == 20000);
	CHECK(price_msat(&C, -5, -7) == 3000);		/* nonsense counts price as zero */
}

TEST(price_rounding_fractional_rates)
{
	C.min_price_sats = 0;
	C.price_per_1k_tokens = 0.5;
	CHECK(price_msat(&C, 1, 0) == 1000);		/* 0.0005 sat rounds up to 1 */
	CHECK(price_msat(&C, 2000, 0) == 1000);
	CHECK(price_msat(&C, 2001, 0) == 2000);
	C.price_per_1k_tokens = 0.001;			/* 1 msat per 1k tokens */
	CHECK(price_msat(&C, 1000000, 0) == 1000);
	CHECK(price_msat(&C, 1000001, 0) == 2000);
	C.price_per_1k_tokens = 0;
	CHECK(price_msat(&C, 123456, 0) == 0);
	C.min_price_sats = 7;
	CHECK(price_msat(&C, 123456, 0) == 7000);
	C.price_per_1k_tokens = 1e12;			/* capped, never overflows */
	CHECK(price_msat(&C, 1000000000000LL, 0) > 0);
}

TEST(quote_and_coverage)
{
	C.min_price_sats = 3;
	C.price_per_1k_tokens = 2;
	/* one token per byte: no tokenizer makes more (CJK, emoji are dense) */
	CHECK(price_estimate_tokens(0) == 0);
	CHECK(price_estimate_tokens(1) == 1);
	CHECK(price_estimate_tokens(3) == 3);
	CHECK(price_estimate_tokens(300) == 300);	/* 100 CJK characters: up to 300 tokens */
	/* 1000 bytes -> 1000 tokens; + 512 -> ceil(1512*2/1000) = 4 sats */
	CHECK(price_quote_msat(&C, 1000, 512) == 4000);
	/* 4 sats buy 2000 tokens, minus the 1000 of the prompt */
	CHECK(price_tokens_covered(&C, 4000, 1000) == 1000);
	/* whatever the tokenizer counts, a quote covers its prompt and max_tokens */
	CHECK(price_quote_msat(&C, 3000, 512) >= price_msat(&C, 3000, 512));
	/* the quote always covers what it was made for */
	CHECK(price_tokens_covered(&C, price_quote_msat(&C, 300, 512), 300) >= 512);
	/* below the minimum price covers nothing; fractions of a sat do not count */
	CHECK(price_tokens_covered(&C, 2999, 0) == 0);
	CHECK(price_tokens_covered(&C, 3999, 0) == 1500);
	CHECK(price_tokens_covered(&C, -1, 0) == 0);
	/* a bid smaller than the prompt's estimate covers nothing */
	CHECK(price_tokens_covered(&C, 3000, 30000) == 0);
	C.price_per_1k_tokens = 0;
	CHECK(price_tokens_covered(&C, 3000, 10) == INT64_MAX);
}

TEST(ratelimit_bucket)
{
	struct ratelimit rl;
	int i, ok = 0;

	REQUIRE(ratelimit_init(&rl, 4) == 0);
	for (i = 0; i < 20; i++)
		ok += ratelimit_take(&rl, "alice", 10, 1000);
	CHECK(ok == 10);				/* a burst of per_min, then nothing */
	CHECK(ratelimit_take(&rl, "alice", 10, 1000 + 5999) == 0);
	CHECK(ratelimit_take(&rl, "alice", 10, 1000 + 6000) == 1);	/* one per 6 s */
	CHECK(ratelimit_take(&rl, "bob", 10, 7000) == 1);	/* others unaffected */
	CHECK(ratelimit_take(&rl, "alice", 0, 7000) == 1);	/* 0 = no limit */
	ratelimit_free(&rl);
}

TEST(ratelimit_table_bounded)
{
	struct ratelimit rl;
	char key[16];
	int i;

	REQUIRE(ratelimit_init(&rl, 8) == 0);
	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECK(ratelimit_take(&rl, key, 1, (uint64_t)i) == 1);
	}
	CHECK(rl.n == 8);
	/* the most recent keys are still limited */
	CHECK(ratelimit_take(&rl, "k99", 1, 100) == 0);
	/* every kept key is still found after 92 reuses of the table's entries */
	for (i = 92; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		CHECKF(ratelimit_take(&rl, key, 1, 100) == 0, "%s", key);
	}
	CHECK(rl.n == 8);
	ratelimit_free(&rl);
}

int
main(void)
{
	char err[256];

	if (conf_load(&C, NULL, err, sizeof(err)) == -1) {
		printf("FAIL: test_jobd_price.c: setup: %s\n", err);
		return 1;
	}
	RUN(price_formula);
	RUN(price_rounding_fractional_rates);
	RUN(quote_and_coverage);
	RUN(ratelimit_bucket);
	RUN(ratelimit_table_bounded);
	conf_free(&C);
	T_DONE();
}

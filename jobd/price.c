/*
 * price.c: prices in integer arithmetic. The configured rate is sats per
 * 1000 tokens (a decimal); it is turned once into millisats per 1000
 * tokens so that every price is an exact integer computation:
 *
 *   sats = max(min_price_sats, ceil(tokens * rate_msat_per_1k / 10^6))
 *
 * and the wire carries sats * 1000 millisats (whole sats, because most
 * wallets cannot invoice fractions of a sat).
 */
#include <math.h>
#include <stdint.h>

#include "jobd.h"

#define MAX_TOKENS_PRICED	1000000000LL	/* keeps products inside int64 */
#define MAX_RATE_MSAT		1000000000LL

static int64_t
rate_msat_per_1k(const struct conf *c)
{
	double r = c->price_per_1k_tokens * 1000.0;

	if (!(r > 0))
		return 0;
	if (r > (double)MAX_RATE_MSAT)
		return MAX_RATE_MSAT;
	return llround(r);
}

/* The price of a job that used these tokens, in millisats (whole sats). */
int64_t
price_msat(const struct conf *c, int64_t prompt_tokens, int64_t completion_tokens)
{
	int64_t tokens, sats;

	if (prompt_tokens < 0)
		prompt_tokens = 0;
	if (completion_tokens < 0)
		completion_tokens = 0;
	tokens = prompt_tokens + completion_tokens;
	if (tokens > MAX_TOKENS_PRICED)
		tokens = MAX_TOKENS_PRICED;
	sats = (tokens * rate_msat_per_1k(c) + 999999) / 1000000;
	if (sats < c->min_price_sats)
		sats = c->min_price_sats;
	return sats * 1000;
}

/*
 * Tokens a prompt counts as, before we know: one per byte. A byte-level
 * tokenizer never makes more tokens than the text has bytes, while a
 * smaller ratio (English runs about 4 bytes a token) under-charges
 * token-dense text: CJK, emoji, base64. So a quote made from this covers
 * any prompt; the chat template's few tokens are the operator's.
 */
int64_t
price_estimate_tokens(size_t prompt_bytes)
{
	return (int64_t)prompt_bytes;
}

/* Pay-first quote: the price of the estimated prompt plus max_tokens. */
int64_t
price_quote_msat(const struct conf *c, size_t prompt_bytes, int max_tokens)
{
	return price_msat(c, price_estimate_tokens(prompt_bytes), max_tokens);
}

/*
 * Completion tokens that msat pays for after the estimated prompt; 0 when
 * it does not even reach the minimum price. INT64_MAX when tokens are free.
 */
int64_t
price_tokens_covered(const struct conf *c, int64_t msat, size_t prompt_bytes)
{
	int64_t sats = msat / 1000, rate = rate_msat_per_1k(c), tokens;

	if (msat < 0 || sats < c->min_price_sats)
		return 0;
	if (rate == 0)
		return INT64_MAX;
	if (sats > MAX_TOKENS_PRICED)
		sats = MAX_TOKENS_PRICED;
	tokens = sats * 1000000 / rate - price_estimate_tokens(prompt_bytes);
	return tokens < 0 ? 0 : tokens;
}

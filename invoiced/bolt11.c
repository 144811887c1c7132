/*
 * bolt11.c: BOLT11 invoice decoder and verifier.
 *
 * A backend (or whatever sits behind it) could hand us an invoice for the
 * wrong amount, network or payment hash; the requester would pay it and the
 * job would never be seen as paid. So nothing is passed on before this file
 * has decoded it and checked its signature (lightning/bolts 11-payment-encoding.md).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/sha.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include "bech32.h"
#include "encoding.h"
#include "event.h"
#include "keys.h"
#include "invoiced.h"

#define SIG_WORDS	104	/* 65 bytes: r, s, recovery id */
#define TS_WORDS	7	/* 35-bit timestamp */
#define MAX_WORDS	BOLT11_MAX_LEN
#define MAX_MSAT	2100000000000000000ULL	/* 21e6 BTC */

/* Feature bits BOLT 9 allows in invoices (context 9): even = required. */
static const int known_features[] = { 8, 14, 16, 24, 48 };

static const struct { const char *network, *currency; } networks[] = {
	{ "bitcoin", "bc" }, { "mainnet", "bc" }, { "testnet", "tb" },
	{ "signet", "tbs" }, { "regtest", "bcrt" },
};

const char *
bolt11_currency_for(const char *network)
{
	size_t i;

	for (i = 0; i < sizeof(networks) / sizeof(networks[0]); i++)
		if (strcmp(networks[i].network, network) == 0)
			return networks[i].currency;
	return NULL;
}

static int
fail(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -1;
}

/* "2500u" -> msat. Empty means no amount. */
static int
bolt11_parse_amount(const char *s, struct bolt11 *b, char *err, size_t errlen)
{
	size_t n = strlen(s), i;
	uint64_t v = 0, mult;
	char m = 0;

	if (n == 0)
		return 0;
	if (!isdigit((unsigned char)s[n - 1]))
		m = s[--n];
	if (n == 0 || n > 19)
		return fail(err, errlen, "bad amount");
	if (s[0] == '0')
		return fail(err, errlen, "amount has a leading zero");
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return fail(err, errlen, "bad amount");
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	switch (m) {
	case 0:   mult = 100000000000ULL; break;
	case 'm': mult = 100000000ULL; break;
	case 'u': mult = 100000ULL; break;
	case 'n': mult = 100ULL; break;
	case 'p':
		if (v % 10 != 0)
			return fail(err, errlen, "sub-millisatoshi amount");
		b->amount_msat = v / 10;
		b->has_amount = 1;
		return 0;
	default:
		return fail(err, errlen, "unknown amount multiplier");
	}
	if (v > MAX_MSAT / mult)
		return fail(err, errlen, "amount too large");
	b->amount_msat = v * mult;
	b->has_amount = 1;
	return 0;
}

/* hrp = "ln" currency [amount]. */
static int
bolt11_parse_hrp(const char *hrp, struct bolt11 *b, char *err, size_t errlen)
{
	size_t i = 2;

	if (strncmp(hrp, "ln", 2) != 0)
		return fail(err, errlen, "not a lightning invoice (hrp)");
	while (hrp[i] != '\0' && isalpha((unsigned char)hrp[i]))
		i++;
	if (i - 2 == 0 || i - 2 >= sizeof(b->currency))
		return fail(err, errlen, "bad currency prefix");
	memcpy(b->currency, hrp + 2, i - 2);
	b->currency[i - 2] = '\0';
	if (strcmp(b->currency, "bc") != 0 && strcmp(b->currency, "tb") != 0 &&
	    strcmp(b->currency, "tbs") != 0 && strcmp(b->currency, "bcrt") != 0) {
		/* Letters after the prefix are a multiplier without digits. */
		return fail(err, errlen, "unknown currency prefix");
	}
	return bolt11_parse_amount(hrp + i, b, err, errlen);
}

static uint64_t
words_to_uint(const uint8_t *w, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = (v << 5) | w[i];
	return v;
}

/* 5-bit words to exactly nbytes bytes (trailing pad bits must be zero). */
static int
words_to_bytes(const uint8_t *w, size_t n, uint8_t *out, size_t nbytes)
{
	uint8_t tmp[BOLT11_MAX_DESC + 8];
	size_t got;

	if (n * 5 / 8 > sizeof(tmp))
		return -1;
	if (bech32_convert_bits(w, n, 5, 8, 0, tmp, sizeof(tmp), &got) != 0 || got != nbytes)
		return -1;
	memcpy(out, tmp, nbytes);
	return 0;
}

/* Feature bit i is bit i%5 of word (n-1-i/5). */
static int
bolt11_check_features(const uint8_t *w, size_t n, char *err, size_t errlen)
{
	size_t bit, k;
	int known;

	for (bit = 0; bit < n * 5; bit++) {
		if (!(w[n - 1 - bit / 5] >> (bit % 5) & 1) || bit % 2 == 1)
			continue;
		known = 0;
		for (k = 0; k < sizeof(known_features) / sizeof(known_features[0]); k++)
			known |= (size_t)known_features[k] == bit;
		if (!known) {
			snprintf(err, errlen, "unknown required feature bit %zu", bit);
			return -1;
		}
	}
	return 0;
}

static int
bolt11_field(struct bolt11 *b, int type, const uint8_t *d, size_t len, char *err, size_t errlen)
{
	switch (type) {
	case 1:		/* p */
		if (len != 52)
			return 0;
		if (b->has_payment_hash)
			return fail(err, errlen, "two payment hashes");
		if (words_to_bytes(d, len, b->payment_hash, 32) != 0)
			return fail(err, errlen, "bad payment hash");
		b->has_payment_hash = 1;
		return 0;
	case 16:	/* s */
		if (len != 52 || b->has_payment_secret)
			return 0;
		if (words_to_bytes(d, len, b->payment_secret, 32) != 0)
			return fail(err, errlen, "bad payment secret");
		b->has_payment_secret = 1;
		return 0;
	case 13:	/* d */
		if (b->has_description)
			return fail(err, errlen, "two descriptions");
		if (len * 5 / 8 > BOLT11_MAX_DESC ||
		    words_to_bytes(d, len, (uint8_t *)b->description, len * 5 / 8) != 0)
			return fail(err, errlen, "bad description");
		b->description[len * 5 / 8] = '\0';
		if (!utf8_valid(b->description, len * 5 / 8))
			return fail(err, errlen, "description is not UTF-8");
		b->has_description = 1;
		return 0;
	case 23:	/* h */
		if (len != 52 || b->has_description_hash)
			return 0;
		if (words_to_bytes(d, len, b->description_hash, 32) != 0)
			return fail(err, errlen, "bad description hash");
		b->has_description_hash = 1;
		return 0;
	case 19:	/* n */
		if (len != 53 || b->has_payee)
			return 0;
		if (words_to_bytes(d, len, b->payee, 33) != 0)
			return fail(err, errlen, "bad payee node id");
		b->has_payee = 1;
		return 0;
	case 6:		/* x */
		if (len > 12)
			return fail(err, errlen, "expiry too large");
		b->expiry = words_to_uint(d, len);
		return 0;
	case 24:	/* c */
		if (len > 6)
			return fail(err, errlen, "min_final_cltv_expiry_delta too large");
		b->min_final_cltv = (uint32_t)words_to_uint(d, len);
		return 0;
	case 5:		/* 9 */
		return bolt11_check_features(d, len, err, errlen);
	default:	/* r, f, m and unknown fields: skipped */
		return 0;
	}
}

static int
bolt11_fields(struct bolt11 *b, const uint8_t *w, size_t n, char *err, size_t errlen)
{
	size_t i = TS_WORDS, len;
	int type;

	b->timestamp = (int64_t)words_to_uint(w, TS_WORDS);
	while (i < n) {
		if (n - i < 3)
			return fail(err, errlen, "truncated tagged field");
		type = w[i];
		len = (size_t)w[i + 1] * 32 + w[i + 2];
		i += 3;
		if (len > n - i)
			return fail(err, errlen, "tagged field overruns the data");
		if (bolt11_field(b, type, w + i, len, err, errlen) != 0)
			return -1;
		i += len;
	}
	if (!b->has_payment_hash)
		return fail(err, errlen, "no payment hash");
	if (!b->has_payment_secret)
		return fail(err, errlen, "no payment secret");
	if (b->has_description == b->has_description_hash)
		return fail(err, errlen, "need exactly one of description and description hash");
	return 0;
}

/* sha256(hrp bytes || data words before the signature, regrouped to bytes). */
static int
bolt11_sighash(const char *hrp, const uint8_t *w, size_t n, uint8_t out[32])
{
	static uint8_t buf[MAX_WORDS * 5 / 8 + 128];
	size_t hl = strlen(hrp), got;

	if (hl > 100)
		return -1;
	memcpy(buf, hrp, hl);
	if (bech32_convert_bits(w, n, 5, 8, 1, buf + hl, sizeof(buf) - hl, &got) != 0)
		return -1;
	SHA256(buf, hl + got, out);
	return 0;
}

static int
bolt11_signature(struct bolt11 *b, const uint8_t *sigw, char *err, size_t errlen)
{
	const secp256k1_context *ctx = secp_ctx();
	secp256k1_ecdsa_recoverable_signature rsig;
	secp256k1_ecdsa_signature sig, norm;
	secp256k1_pubkey pk;
	uint8_t sig65[65];
	size_t got, outlen = 33;

	if (bech32_convert_bits(sigw, SIG_WORDS, 5, 8, 0, sig65, sizeof(sig65), &got) != 0 ||
	    got != 65)
		return fail(err, errlen, "bad signature encoding");
	if (sig65[64] > 3)
		return fail(err, errlen, "bad recovery id");
	if (b->has_payee) {
		/* With n, BOLT11 asks for a plain verify, which requires low S. */
		if (!secp256k1_ec_pubkey_parse(ctx, &pk, b->payee, 33))
			return fail(err, errlen, "payee node id is not a valid key");
		if (!secp256k1_ecdsa_signature_parse_compact(ctx, &sig, sig65))
			return fail(err, errlen, "bad signature");
		if (secp256k1_ecdsa_signature_normalize(ctx, &norm, &sig))
			return fail(err, errlen, "high-S signature with a payee field");
		if (!secp256k1_ecdsa_verify(ctx, &sig, b->sighash, &pk))
			return fail(err, errlen, "signature does not match the payee node id");
		memcpy(b->node_id, b->payee, 33);
		return 0;
	}
	/*
	 * Without n, BOLT11 accepts high S: like CLN and LDK, bring S low and
	 * keep the recovery id (the spec's high-S vector recovers that way).
	 */
	if (!secp256k1_ecdsa_signature_parse_compact(ctx, &sig, sig65))
		return fail(err, errlen, "bad signature");
	secp256k1_ecdsa_signature_normalize(ctx, &norm, &sig);
	secp256k1_ecdsa_signature_serialize_compact(ctx, sig65, &norm);
	if (!secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &rsig, sig65, sig65[64]))
		return fail(err, errlen, "bad signature");
	if (!secp256k1_ecdsa_recover(ctx, &pk, &rsig, b->sighash))
		return fail(err, errlen, "signature is not recoverable");
	secp256k1_ec_pubkey_serialize(ctx, b->node_id, &outlen, &pk, SECP256K1_EC_COMPRESSED);
	return 0;
}

int
bolt11_decode(const char *str, struct bolt11 *b, char *err, size_t errlen)
{
	static uint8_t w[MAX_WORDS];
	char hrp[128];
	size_t n;

	memset(b, 0, sizeof(*b));
	b->expiry = 3600;
	b->min_final_cltv = 18;
	if (strncasecmp(str, "lightning:", 10) == 0)
		str += 10;
	if (bech32_decode(str, BOLT11_MAX_LEN, hrp, sizeof(hrp), w, sizeof(w), &n) != 0)
		return fail(err, errlen, "bad bech32 (checksum, case, characters or length)");
	if (n < TS_WORDS + SIG_WORDS)
		return fail(err, errlen, "too short");
	if (bolt11_parse_hrp(hrp, b, err, errlen) != 0)
		return -1;
	if (bolt11_fields(b, w, n - SIG_WORDS, err, errlen) != 0)
		return -1;
	if (bolt11_sighash(hrp, w, n - SIG_WORDS, b->sighash) != 0)
		return fail(err, errlen, "too long");
	return bolt11_signature(b, w + n - SIG_WORDS, err, errlen);
}

int
bolt11_check(const struct bolt11 *b, const char *currency, uint64_t amount_msat,
    const char *payment_hash_hex, int64_t now, char *err, size_t errlen)
{
	uint8_t h[32];

	if (strcmp(b->currency, currency) != 0) {
		snprintf(err, errlen, "invoice is for network ln%s, configured ln%s",
		    b->currency, currency);
		return -1;
	}
	if (!b->has_amount)
		return fail(err, errlen, "invoice has no amount");
	if (b->amount_msat != amount_msat) {
		snprintf(err, errlen, "invoice amount %llu msat, asked %llu msat",
		    (unsigned long long)b->amount_msat, (unsigned long long)amount_msat);
		return -1;
	}
	if (payment_hash_hex == NULL || hex_decode(payment_hash_hex, strlen(payment_hash_hex), h, 32) != 0)
		return fail(err, errlen, "backend gave no valid payment hash");
	if (memcmp(h, b->payment_hash, 32) != 0)
		return fail(err, errlen, "invoice payment hash differs from the backend's");
	/* Just minted: allow for clock skew between us and the wallet. */
	if (b->timestamp > now + 600 || b->timestamp < now - 3600)
		return fail(err, errlen, "invoice timestamp is far from now");
	if (b->expiry == 0 || b->expiry > INV_MAX_EXPIRY ||
	    b->timestamp + (int64_t)b->expiry <= now)
		return fail(err, errlen, "invoice expiry is not sane");
	return 0;
}

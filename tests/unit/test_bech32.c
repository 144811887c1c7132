/*
 * test_bech32.c: BIP-173 bech32 (the BIP's valid and invalid strings) and
 * NIP-19 (the npub/nsec examples of shared/docs/nostr-specs.md §7).
 */
#include <stdint.h>
#include <string.h>

#include "bech32.h"
#include "encoding.h"
#include "keys.h"
#include "t.h"

/* BIP-173 "valid bech32" strings: decode, then re-encode to the lowercase form. */
TEST(bip173_valid)
{
	static const char *const ok[] = {
		"A12UEL5L",
		"a12uel5l",
		"an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
		"abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
		"11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
		"split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
		"?1ezyfcl",
	};
	char hrp[100], out[100], low[100];
	uint8_t d5[100];
	size_t i, j, n5;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECKF(bech32_decode(ok[i], 90, hrp, sizeof(hrp), d5, sizeof(d5), &n5) == 0,
		    "refused %s", ok[i]);
		if (t_case_failed)
			return;
		CHECKF(bech32_encode(hrp, d5, n5, out, sizeof(out)) == 0, "encode %s", ok[i]);
		for (j = 0; ok[i][j]; j++)
			low[j] = (char)(ok[i][j] >= 'A' && ok[i][j] <= 'Z' ? ok[i][j] + 32 : ok[i][j]);
		low[j] = '\0';
		CHECKF(strcmp(out, low) == 0, "re-encoded %s as %s", ok[i], out);
	}
}

TEST(bip173_invalid)
{
	static const char *const bad[] = {
		" 1nwldj5",		/* space in hrp */
		"\x7f" "1axkwrx",	/* DEL in hrp */
		"\x80" "1eym55h",	/* non-ASCII */
		"an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
		"pzry9x0s0muk",		/* no separator */
		"1pzry9x0s0muk",	/* empty hrp */
		"x1b4n0q5v",		/* bad data char */
		"li1dgmt3",		/* checksum too short */
		"de1lg7wt\xff",		/* bad char in checksum */
		"A1G7SGD8",		/* checksum over uppercase hrp */
		"10a06t8",		/* empty hrp */
		"1qzzfhee",		/* empty hrp */
		"a12UEL5L",		/* mixed case */
		"a12uel5m",		/* bad checksum */
		"",
	};
	char hrp[100];
	uint8_t d5[100];
	size_t i, n5;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(bech32_decode(bad[i], 90, hrp, sizeof(hrp), d5, sizeof(d5), &n5) == -1,
		    "accepted case %zu", i);
	/* The limit is the caller's: the 90-char valid vector fails at 89. */
	CHECK(bech32_decode("an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
	    89, hrp, sizeof(hrp), d5, sizeof(d5), &n5) == -1);
	/* Small buffers are reported, not overrun. */
	CHECK(bech32_decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", 90, hrp, 4, d5, sizeof(d5), &n5) == -1);
	CHECK(bech32_decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw", 90, hrp, sizeof(hrp), d5, 5, &n5) == -1);
}

struct nip19 {
	const char	*hrp, *b32, *hex;
};

static const struct nip19 vec[] = {
	{ "npub", "npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6",
	  "3bf0c63fcb93463407af97a5e5ee64fa883d107ef9e558472c4eb9aaaefa459d" },
	{ "npub", "npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg",
	  "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e" },
	{ "nsec", "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5",
	  "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa" },
};

TEST(nip19_examples)
{
	uint8_t key[32];
	char hex[65], out[100];
	size_t i;

	for (i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		CHECKF(nip19_decode(vec[i].hrp, vec[i].b32, key) == 0, "decode %s", vec[i].b32);
		hex_encode(key, 32, hex);
		CHECKF(strcmp(hex, vec[i].hex) == 0, "%s -> %s", vec[i].b32, hex);
		CHECK(nip19_encode(vec[i].hrp, key, out, sizeof(out)) == 0 && strcmp(out, vec[i].b32) == 0);
		CHECK(strlen(out) == 63);
	}
}

/* The nsec example is the secret of the second npub: keygen agrees. */
TEST(nip19_nsec_is_npub_secret)
{
	uint8_t sk[32], pk[32];
	struct keypair kp;

	REQUIRE(keys_parse_secret(vec[2].b32, sk) == 0);
	REQUIRE(keys_from_secret(&kp, sk) == 0);
	CHECK(strcmp(kp.pkhex, vec[1].hex) == 0);
	REQUIRE(keys_parse_pubkey(vec[1].b32, pk) == 0);
	CHECK(memcmp(pk, kp.pk, 32) == 0);
	keys_wipe(&kp);
}

TEST(nip19_refusals)
{
	uint8_t key[32];
	char out[100];

	/* Wrong hrp, bad checksum, uppercase accepted per BIP-173, mixed refused. */
	CHECK(nip19_decode("nsec", vec[0].b32, key) == -1);
	CHECK(nip19_decode("npub", "npub180cvv07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w7", key) == -1);
	CHECK(nip19_decode("npub", "NPUB180CVV07TJDRRGPA0J7J7TMNYL2YR6YR7L8J4S3EVF6U64TH6GKWSYJH6W6", key) == 0);
	CHECK(nip19_decode("npub", "npub180CVV07tjdrrgpa0j7j7tmnyl2yr6yr7l8j4s3evf6u64th6gkwsyjh6w6", key) == -1);
	/* 31 bytes of payload (valid checksum) is not a key. */
	{
		uint8_t d5[60], raw[31] = { 0 };
		size_t n5;

		REQUIRE(bech32_convert_bits(raw, 31, 8, 5, 1, d5, sizeof(d5), &n5) == 0);
		REQUIRE(bech32_encode("npub", d5, n5, out, sizeof(out)) == 0);
		CHECK(nip19_decode("npub", out, key) == -1);
	}
	CHECK(nip19_encode("npub", key, out, 63) == -1);	/* no room for the NUL */
}

TEST(convert_bits)
{
	uint8_t in[3] = { 0xff, 0x00, 0x81 }, d5[10], back[10];
	size_t n5, n8;

	REQUIRE(bech32_convert_bits(in, 3, 8, 5, 1, d5, sizeof(d5), &n5) == 0 && n5 == 5);
	REQUIRE(bech32_convert_bits(d5, n5, 5, 8, 0, back, sizeof(back), &n8) == 0 && n8 == 3);
	CHECK(memcmp(in, back, 3) == 0);
	/* Non-zero padding bits are refused when converting back. */
	d5[4] |= 1;
	CHECK(bech32_convert_bits(d5, n5, 5, 8, 0, back, sizeof(back), &n8) == -1);
	/* A 5-bit value out of range. */
	d5[0] = 32;
	CHECK(bech32_convert_bits(d5, n5, 5, 8, 0, back, sizeof(back), &n8) == -1);
	CHECK(bech32_convert_bits(in, 3, 8, 5, 1, d5, 4, &n5) == -1);
}

int
main(void)
{
	RUN(bip173_valid);
	RUN(bip173_invalid);
	RUN(nip19_examples);
	RUN(nip19_nsec_is_npub_secret);
	RUN(nip19_refusals);
	RUN(convert_bits);
	T_DONE();
}

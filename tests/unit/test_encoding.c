/*
 * test_encoding.c: hex and strict base64 (RFC 4648 vectors; every
 * non-canonical or malformed input that OpenSSL's decoder alone would let
 * through).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "t.h"

TEST(hex)
{
	uint8_t b[4] = { 0x00, 0xab, 0xff, 0x10 }, o[4];
	char h[9];

	hex_encode(b, 4, h);
	CHECK(strcmp(h, "00abff10") == 0);
	CHECK(hex_decode("00ABff10", 8, o, 4) == 0 && memcmp(o, b, 4) == 0);
	CHECK(hex_decode("00abff1", 7, o, 4) == -1);
	CHECK(hex_decode("00abff100", 9, o, 4) == -1);
	CHECK(hex_decode("00abfg10", 8, o, 4) == -1);
	CHECK(hex_decode("00ab ff1", 8, o, 4) == -1);
	CHECK(hex_decode(NULL, 0, o, 0) == -1);
	CHECK(hex_decode("", 0, o, 0) == 0);
	CHECK(hex_is_lower("00abff10", 8));
	CHECK(!hex_is_lower("00ABff10", 8));
	CHECK(!hex_is_lower("00abff1", 8));
	CHECK(!hex_is_lower("00abff100", 8));	/* longer string is not exact */
	CHECK(!hex_is_lower("00abff1g", 8));
	CHECK(!hex_is_lower(NULL, 8));
}

/* RFC 4648 §10. */
/* Every byte value, as digit pair and as lower-case check (encoding.c decodes by table). */
TEST(hex_all_bytes)
{
	int c, digit, lower, v;
	char s[3];
	uint8_t o;

	for (c = 1; c < 256; c++) {
		digit = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		lower = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		s[0] = s[1] = (char)c;
		s[2] = '\0';
		CHECK((hex_decode(s, 2, &o, 1) == 0) == digit);
		CHECK(hex_is_lower(s, 2) == lower);
		if (digit) {
			v = c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
			CHECK(o == (uint8_t)(v * 17));
		}
	}
	s[0] = '\0';
	CHECK(hex_decode(s, 2, &o, 1) == -1);
}

TEST(b64_rfc4648)
{
	static const char *const plain[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy" };
	uint8_t *d;
	char *e;
	size_t i, n;

	for (i = 0; i < 7; i++) {
		REQUIRE(b64_encode((const uint8_t *)plain[i], strlen(plain[i]), &e) == 0);
		CHECKF(strcmp(e, enc[i]) == 0, "encode %s -> %s", plain[i], e);
		free(e);
		REQUIRE(b64_decode(enc[i], strlen(enc[i]), &d, &n) == 0);
		CHECKF(n == strlen(plain[i]) && memcmp(d, plain[i], n) == 0, "decode %s", enc[i]);
		free(d);
	}
}

TEST(b64_all_bytes)
{
	uint8_t in[256], *d;
	char *e;
	size_t i, n;

	for (i = 0; i < 256; i++)
		in[i] = (uint8_t)i;
	for (i = 0; i <= 256; i += 17) {
		REQUIRE(b64_encode(in, i, &e) == 0);
		REQUIRE(b64_decode(e, strlen(e), &d, &n) == 0);
		CHECK(n == i && memcmp(d, in, i) == 0);
		free(d);
		free(e);
	}
}

TEST(b64_strict)
{
	static const char *const bad[] = {
		"Zg", "Zg=", "Zm9", "Z===", "====", "Zg==Zg==", "Zm9v\n", " Zm9v", "Zm 9v",
		"Zm9v=", "Zh==", "Zm9=", "Zm-v", "Zm_v", "Zm9v\0\0\0\0", "=Zm9", "Zm=v", "Z=9v",
	};
	static const size_t len[] = { 2, 3, 3, 4, 4, 8, 5, 5, 5, 5, 4, 4, 4, 4, 8, 4, 4, 4 };
	uint8_t *d;
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		CHECKF(b64_decode(bad[i], len[i], &d, &n) == -1 && errno == EINVAL, "accepted case %zu", i);
	}
	CHECK(b64_decode(NULL, 0, &d, &n) == -1);
}

TEST(utf8_cut_boundaries)
{
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";	/* a é € 😀 */

	CHECK(utf8_cut(s, 10, 100) == 10);
	CHECK(utf8_cut(s, 10, 10) == 10);
	CHECK(utf8_cut(s, 10, 9) == 6);		/* never half an emoji */
	CHECK(utf8_cut(s, 10, 5) == 3);
	CHECK(utf8_cut(s, 10, 2) == 1);
	CHECK(utf8_cut(s, 10, 1) == 1);
	CHECK(utf8_cut(s, 10, 0) == 0);
	/* a text already cut inside a character loses the half */
	CHECK(utf8_cut(s, 8, 100) == 6);
	CHECK(utf8_cut(s, 5, 5) == 3);
	CHECK(utf8_cut(s, 2, 100) == 1);
}

int
main(void)
{
	RUN(hex);
	RUN(hex_all_bytes);
	RUN(b64_rfc4648);
	RUN(b64_all_bytes);
	RUN(b64_strict);
	RUN(utf8_cut_boundaries);
	T_DONE();
}

/*
 * test_nip44.c: every case of the official NIP-44 vectors
 * (paulmillr/nip44 nip44.vectors.json, sha256 269ed0f6...).
 *
 * Long-message policy: we follow the vectors, not the 2026 44.md text.
 * Plaintexts are 1..65535 bytes; invalid.encrypt_msg_lengths (0, 65536,
 * 100000, 10000000) must all be refused, and a payload using the newer
 * 6-byte length prefix is refused as bad padding (see nip44.h and
 * docs/PROTOCOL.md "NIP-44 and long messages").
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "encoding.h"
#include "keys.h"
#include "nip44.h"
#include "t.h"

static cJSON *v2;

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	if (n < 0 || (buf = malloc((size_t)n + 1)) == NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static const cJSON *
group(const char *validity, const char *name)
{
	return cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(v2, validity), name);
}

static const char *
str(const cJSON *o, const char *k)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(it) ? it->valuestring : "";
}

static int
hex32(const cJSON *o, const char *k, uint8_t out[32])
{
	const char *s = str(o, k);

	return hex_decode(s, strlen(s), out, 32);
}

static void
sha256hex(const void *p, size_t n, char out[65])
{
	uint8_t md[32];
	unsigned int l = 32;

	EVP_Digest(p, n, md, &l, EVP_sha256(), NULL);
	hex_encode(md, 32, out);
}

TEST(conversation_keys)
{
	const cJSON *c;
	uint8_t sk[32], pk[32], want[32], ck[32];
	int n = 0;

	cJSON_ArrayForEach(c, group("valid", "get_conversation_key")) {
		REQUIRE(hex32(c, "sec1", sk) == 0 && hex32(c, "pub2", pk) == 0 &&
		    hex32(c, "conversation_key", want) == 0);
		CHECKF(nip44_conversation_key(sk, pk, ck) == 0 && memcmp(ck, want, 32) == 0,
		    "case %d (%s)", n, str(c, "conversation_key"));
		n++;
	}
	CHECKF(n >= 30, "only %d cases", n);
}

TEST(message_keys)
{
	const cJSON *g = group("valid", "get_message_keys"), *c;
	uint8_t ck[32], nonce[32], k[32], cn[12], hk[32], wk[32], wcn[12], whk[32];
	const char *s;
	int n = 0;

	REQUIRE(hex32(g, "conversation_key", ck) == 0);
	cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(g, "keys")) {
		s = str(c, "chacha_nonce");
		REQUIRE(hex32(c, "nonce", nonce) == 0 && hex32(c, "chacha_key", wk) == 0 &&
		    hex_decode(s, strlen(s), wcn, 12) == 0 && hex32(c, "hmac_key", whk) == 0);
		REQUIRE(nip44_message_keys(ck, nonce, k, cn, hk) == 0);
		CHECKF(memcmp(k, wk, 32) == 0 && memcmp(cn, wcn, 12) == 0 && memcmp(hk, whk, 32) == 0,
		    "case %d", n);
		n++;
	}
	CHECKF(n >= 10, "only %d cases", n);
}

TEST(padded_len)
{
	const cJSON *c;
	int n = 0;

	cJSON_ArrayForEach(c, group("valid", "calc_padded_len")) {
		size_t len = (size_t)cJSON_GetArrayItem(c, 0)->valuedouble;
		size_t want = (size_t)cJSON_GetArrayItem(c, 1)->valuedouble;

		CHECKF(nip44_calc_padded_len(len) == want, "%zu -> %zu, want %zu",
		    len, nip44_calc_padded_len(len), want);
		n++;
	}
	CHECKF(n >= 20, "only %d cases", n);
	/* From the 44.md table (extended prefix rows). */
	CHECK(nip44_calc_padded_len(65537) == 81920);
}

/* Both directions: conv keys from each side, exact payload, decrypt. */
TEST(encrypt_decrypt)
{
	const cJSON *c;
	uint8_t s1[32], s2[32], ck[32], want[32], nonce[32];
	struct keypair k1, k2;
	char *out, *plain;
	size_t plen;
	int n = 0;

	cJSON_ArrayForEach(c, group("valid", "encrypt_decrypt")) {
		const char *pt = str(c, "plaintext");

		REQUIRE(hex32(c, "sec1", s1) == 0 && hex32(c, "sec2", s2) == 0 &&
		    hex32(c, "conversation_key", want) == 0 && hex32(c, "nonce", nonce) == 0);
		REQUIRE(keys_from_secret(&k1, s1) == 0 && keys_from_secret(&k2, s2) == 0);
		CHECKF(nip44_conversation_key(s1, k2.pk, ck) == 0 && memcmp(ck, want, 32) == 0,
		    "case %d: conv(a,B)", n);
		CHECKF(nip44_conversation_key(s2, k1.pk, ck) == 0 && memcmp(ck, want, 32) == 0,
		    "case %d: conv(b,A)", n);
		REQUIRE(nip44_encrypt(want, pt, strlen(pt), nonce, &out) == 0);
		CHECKF(strcmp(out, str(c, "payload")) == 0, "case %d: payload differs", n);
		free(out);
		REQUIRE(nip44_decrypt(want, str(c, "payload"), strlen(str(c, "payload")),
		    &plain, &plen) == 0);
		CHECKF(plen == strlen(pt) && memcmp(plain, pt, plen) == 0, "case %d: plaintext", n);
		free(plain);
		keys_wipe(&k1);
		keys_wipe(&k2);
		n++;
	}
	CHECKF(n >= 10, "only %d cases", n);
}

/* 65535-byte messages made by repeating `pattern`, checked by sha256. */
TEST(encrypt_decrypt_long_msg)
{
	const cJSON *c;
	uint8_t ck[32], nonce[32];
	char *pt, *out, *back, h[65];
	size_t plen, rep, i, blen;
	int n = 0;

	cJSON_ArrayForEach(c, group("valid", "encrypt_decrypt_long_msg")) {
		const char *pat = str(c, "pattern");

		rep = (size_t)cJSON_GetObjectItemCaseSensitive(c, "repeat")->valuedouble;
		plen = strlen(pat) * rep;
		REQUIRE(hex32(c, "conversation_key", ck) == 0 && hex32(c, "nonce", nonce) == 0);
		REQUIRE((pt = malloc(plen + 1)) != NULL);
		for (i = 0; i < rep; i++)
			memcpy(pt + i * strlen(pat), pat, strlen(pat));
		pt[plen] = '\0';
		sha256hex(pt, plen, h);
		CHECKF(strcmp(h, str(c, "plaintext_sha256")) == 0, "case %d: plaintext sha", n);
		REQUIRE(nip44_encrypt(ck, pt, plen, nonce, &out) == 0);
		sha256hex(out, strlen(out), h);
		CHECKF(strcmp(h, str(c, "payload_sha256")) == 0, "case %d: payload sha", n);
		REQUIRE(nip44_decrypt(ck, out, strlen(out), &back, &blen) == 0);
		CHECKF(blen == plen && memcmp(back, pt, plen) == 0, "case %d: round trip", n);
		free(back);
		free(out);
		free(pt);
		n++;
	}
	CHECKF(n >= 3, "only %d cases", n);
}

/* Our policy = the vectors': these lengths cannot be encrypted. */
TEST(invalid_encrypt_msg_lengths)
{
	const cJSON *c;
	uint8_t ck[32] = { 1 };
	char *out = NULL, *big;
	int n = 0;

	REQUIRE((big = calloc(1, 10000001)) != NULL);
	memset(big, 'a', 10000000);
	cJSON_ArrayForEach(c, group("invalid", "encrypt_msg_lengths")) {
		size_t len = (size_t)c->valuedouble;

		CHECKF(nip44_encrypt(ck, big, len, NULL, &out) == -1, "length %zu accepted", len);
		n++;
	}
	free(big);
	CHECKF(n == 4, "%d cases", n);
}

TEST(invalid_conversation_key)
{
	const cJSON *c;
	uint8_t sk[32], pk[32], ck[32];
	int n = 0;

	cJSON_ArrayForEach(c, group("invalid", "get_conversation_key")) {
		REQUIRE(hex32(c, "sec1", sk) == 0 && hex32(c, "pub2", pk) == 0);
		CHECKF(nip44_conversation_key(sk, pk, ck) == -1, "accepted: %s", str(c, "note"));
		n++;
	}
	CHECKF(n >= 8, "only %d cases", n);
}

TEST(invalid_decrypt)
{
	const cJSON *c;
	uint8_t ck[32];
	char *plain = NULL;
	size_t plen;
	int n = 0;

	cJSON_ArrayForEach(c, group("invalid", "decrypt")) {
		const char *p = str(c, "payload");

		REQUIRE(hex32(c, "conversation_key", ck) == 0);
		CHECKF(nip44_decrypt(ck, p, strlen(p), &plain, &plen) == -1,
		    "accepted: %s", str(c, "note"));
		n++;
	}
	CHECKF(n >= 12, "only %d cases", n);
}

/* The 2026 extended prefix (u16 0, then u32) is refused as bad padding. */
TEST(extended_prefix_refused)
{
	uint8_t ck[32];
	char *pt, *out, *back;
	size_t blen;

	REQUIRE(hex_decode("c41c775356fd92eadc63ff5a0dc1da211b268cbea22316767095b2871ea1412d",
	    64, ck, 32) == 0);
	REQUIRE((pt = malloc(65536)) != NULL);
	memset(pt, 'a', 65536);
	CHECK(nip44_encrypt(ck, pt, 65536, NULL, &out) == -1);
	REQUIRE(nip44_encrypt(ck, pt, 65535, NULL, &out) == 0);
	CHECK(strlen(out) == 87472);
	CHECK(nip44_decrypt(ck, out, strlen(out), &back, &blen) == 0 && blen == 65535);
	free(back);
	free(out);
	free(pt);
}

/* Fresh nonces: two encryptions differ, both decrypt; tampering fails. */
TEST(random_nonce_and_tamper)
{
	uint8_t ck[32] = { 7 };
	char *a, *b, *p;
	size_t n, i;

	REQUIRE(nip44_encrypt(ck, "hello", 5, NULL, &a) == 0);
	REQUIRE(nip44_encrypt(ck, "hello", 5, NULL, &b) == 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(nip44_decrypt(ck, b, strlen(b), &p, &n) == 0 && n == 5 && memcmp(p, "hello", 5) == 0);
	free(p);
	for (i = 0; i < strlen(a); i += 3) {
		char save = a[i];

		a[i] = a[i] == 'A' ? 'B' : 'A';
		p = NULL;
		CHECKF(nip44_decrypt(ck, a, strlen(a), &p, &n) == -1, "tampered at %zu accepted", i);
		a[i] = save;
	}
	free(a);
	free(b);
}

/* Plaintexts are UTF-8 strings (NUL allowed) both ways. */
TEST(utf8_only)
{
	uint8_t ck[32] = { 9 };
	char *out, *p;
	size_t n;

	CHECK(nip44_encrypt(ck, "\xff\xfe", 2, NULL, &out) == -1);
	CHECK(nip44_encrypt(ck, "\xed\xa0\x80", 3, NULL, &out) == -1);
	REQUIRE(nip44_encrypt(ck, "a\0b", 3, NULL, &out) == 0);
	CHECK(nip44_decrypt(ck, out, strlen(out), &p, &n) == 0 && n == 3 && memcmp(p, "a\0b", 4) == 0);
	free(p);
	free(out);
}

int
main(void)
{
	char path[512], *text;
	cJSON *root = NULL;

	snprintf(path, sizeof(path), "%s/nip44.vectors.json", t_vectors_dir());
	if ((text = slurp(path)) == NULL || (root = cJSON_Parse(text)) == NULL ||
	    (v2 = cJSON_GetObjectItemCaseSensitive(root, "v2")) == NULL) {
		printf("FAIL: test_nip44.c: load_vectors: cannot read %s\n", path);
		return 1;
	}
	RUN(conversation_keys);
	RUN(message_keys);
	RUN(padded_len);
	RUN(encrypt_decrypt);
	RUN(encrypt_decrypt_long_msg);
	RUN(invalid_encrypt_msg_lengths);
	RUN(invalid_conversation_key);
	RUN(invalid_decrypt);
	RUN(extended_prefix_refused);
	RUN(random_nonce_and_tamper);
	RUN(utf8_only);
	cJSON_Delete(root);
	free(text);
	T_DONE();
}

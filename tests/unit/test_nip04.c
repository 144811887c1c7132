/*
 * test_nip04.c: NIP-04 against the vectors of shared/docs/nostr-specs.md
 * §4 (nostr-tools' "decrypt message/big payload from go-nostr" and
 * go-nostr's TestNostrToolsCompatibility), both directions, plus every
 * malformed payload shape we refuse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "keys.h"
#include "nip04.h"
#include "t.h"

static const char sk1hex[] = "91ba716fa9e7ea2fcbad360cf4f8e0d312f73984da63d90f524ad61a6a1e7dbe";
static const char pk1hex[] = "b38ce15d3d9874ee710dfabb7ff9801b1e0e20aace6e9a1a05fa7482a04387d1";
static const char sk2hex[] = "96f6fa197aa07477ab88f6981118466ae3a982faab8ad5db9d5426870c73d220";
static const char pk2hex[] = "dcb33a629560280a0ee3b6b99b68c044fe8914ad8a984001ebf6099a9b474dc3";

/* nostr-tools nip04.test.ts "decrypt big payload from go-nostr": 800 x 'z'. */
static const char big[] =
    "6f8dMstm+udOu7yipSn33orTmwQpWbtfuY95NH+eTU1kArysWJIDkYgI2D25EAGIDJsNd45jOJ2N"
    "bVOhFiL3ZP/NWsTwXokk34iyHyA/lkjzugQ1bHXoMD1fP/Ay4hB4al1NHb8HXHKZaxPrErwdRDb8"
    "qa/I6dXb/1xxyVvNQBHHvmsM5yIFaPwnCN1DZqXf2KbTA/Ekz7Hy+7R+Sy3TXLQDFpWYqykppkXc"
    "7Fs0qSuPRyxz5+anuN0dxZa9GTwTEnBrZPbthKkNRrvZMdTGJ6WumOh9aUq8OJJWy9aOgsXvs7qj"
    "N1UqcCqQqYaVnEOhCaqWNDsVtsFrVDj+SaLIBvCiomwF4C4nIgngJ5I69tx0UNI0q+ZnvOGQZ7m1"
    "PpW2NYP7Yw43HJNdeUEQAmdCPnh/PJwzLTnIxHmQU7n7SPlMdV0SFa6H8y2HHvex697GAkyE5t8c"
    "2uO24OnqIwF1tR3blIqXzTSRl0GA6QvrSj2p4UtnWjvF7xT7RiIEyTtgU/AsihTrXyXzWWZaIBJo"
    "gpgw6erlZqWjCH7sZy/WoGYEiblobOAqMYxax6vRbeuGtoYksr/myX+x9rfLrYuoDRTw4woXOLmM"
    "rrj+Mf0TbAgc3SjdkqdsPU1553rlSqIEZXuFgoWmxvVQDtekgTYyS97G81TDSK9nTJT5ilku8NVq"
    "2LgtBXGwsNIw/xekcOUzJke3kpnFPutNaexR1VF3ohIuqRKYRGcd8ADJP2lfwMcaGRiplAmFoaVS"
    "1YUhQwYFNq9rMLf7YauRGV4BJg/t9srdGxf5RoKCvRo+XM/nLxxysTR9MVaEP/3lDqjwChMxs+eW"
    "fLHE5vRWV8hUEqdrWNZV29gsx5nQpzJ4PARGZVu310pQzc6JAlc2XAhhFk6RamkYJnmCSMnb/Rbl"
    "zIATBi2kNrCVAlaXIon188inB62rEpZGPkRIP7PUfu27S/elLQHBHeGDsxOXsBRo1gl3te+raoBH"
    "sxo6zvRnYbwdAQa5taDE63eh+fT6kFI+xYmXNAQkU8Dp0MVhEh4JQI06Ni/AKrvYpC95TXXIphZc"
    "F+/Pv/vaGkhG2X9S3uhugwWK?iv=2vWkOQQi0WynNJz/aZ4k2g=="
    ;

static void
h32(const char *h, uint8_t out[32])
{
	hex_decode(h, 64, out, 32);
}

TEST(shared_x)
{
	uint8_t sk1[32], sk2[32], pk1[32], pk2[32], x[32];
	char hx[65];
	struct keypair kp;

	h32(sk1hex, sk1);
	h32(sk2hex, sk2);
	h32(pk1hex, pk1);
	h32(pk2hex, pk2);
	REQUIRE(keys_from_secret(&kp, sk1) == 0);
	CHECK(strcmp(kp.pkhex, pk1hex) == 0);
	REQUIRE(keys_ecdh_x(sk2, pk1, x) == 0);
	hex_encode(x, 32, hx);
	CHECK(strcmp(hx, "7ce22696eb0e303ddaa491bdf2a56b79d249f2d861b8e012a933e01dc4beba81") == 0);
	REQUIRE(keys_ecdh_x(sk1, pk2, x) == 0);
	hex_encode(x, 32, hx);
	CHECK(strcmp(hx, "7ce22696eb0e303ddaa491bdf2a56b79d249f2d861b8e012a933e01dc4beba81") == 0);
	keys_wipe(&kp);
}

TEST(nanana_both_ways)
{
	static const char payload[] = "zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ==";
	uint8_t sk1[32], sk2[32], pk1[32], pk2[32], *iv;
	size_t ivlen, n;
	char *out, *plain;

	h32(sk1hex, sk1);
	h32(sk2hex, sk2);
	h32(pk1hex, pk1);
	h32(pk2hex, pk2);
	CHECK(nip04_is_payload(payload, strlen(payload)));
	REQUIRE(nip04_decrypt(sk2, pk1, payload, strlen(payload), &plain, &n) == 0);
	CHECK(n == 6 && strcmp(plain, "nanana") == 0);
	free(plain);
	REQUIRE(nip04_decrypt(sk1, pk2, payload, strlen(payload), &plain, &n) == 0);
	CHECK(n == 6 && strcmp(plain, "nanana") == 0);
	free(plain);
	/* Same IV gives the same bytes: a deterministic encryption vector. */
	REQUIRE(b64_decode("EV5bUjcc4OX2Km/zPp4ndQ==", 24, &iv, &ivlen) == 0 && ivlen == 16);
	REQUIRE(nip04_encrypt_iv(sk1, pk2, "nanana", 6, iv, &out) == 0);
	CHECK(strcmp(out, payload) == 0);
	free(out);
	free(iv);
}

TEST(big_payload)
{
	uint8_t sk2[32], pk1[32];
	char *plain, want[801];
	size_t n;

	h32(sk2hex, sk2);
	h32(pk1hex, pk1);
	CHECK(strlen(big) == 1116);
	memset(want, 'z', 800);
	want[800] = '\0';
	REQUIRE(nip04_decrypt(sk2, pk1, big, strlen(big), &plain, &n) == 0);
	CHECK(n == 800 && strcmp(plain, want) == 0);
	free(plain);
}

TEST(go_nostr_compat)
{
	static const char payload[] = "A+fRnU4aXS4kbTLfowqAww==?iv=QFYUrl5or/n/qamY79ze0A==";
	uint8_t ska[32], skb[32], pka[32], pkb[32], x[32];
	char *plain, hx[65];
	size_t n;

	h32("92996316beebf94171065a714cbf164d1f56d7ad9b35b329d9fc97535bf25352", ska);
	h32("591c0c249adfb9346f8d37dfeed65725e2eea1d7a6e99fa503342f367138de84", skb);
	h32("5f942a30f92748e1817236ae52920737f8ea46722e79b3fbf9ec1f758df6e2ed", pka);
	h32("8558e7b00718df21f6537d09e284ca35aa7a3d5f6c973e2f5f0410b1d17da5ac", pkb);
	REQUIRE(keys_ecdh_x(ska, pkb, x) == 0);
	hex_encode(x, 32, hx);
	CHECK(strcmp(hx, "4ce3fe601d8a7437a40005067790761a172e7b50d80d296cc7ee9e26cbad8dee") == 0);
	REQUIRE(nip04_decrypt(skb, pka, payload, strlen(payload), &plain, &n) == 0);
	CHECK(n == 5 && strcmp(plain, "hello") == 0);
	free(plain);
	REQUIRE(nip04_decrypt(ska, pkb, payload, strlen(payload), &plain, &n) == 0);
	CHECK(n == 5 && strcmp(plain, "hello") == 0);
	free(plain);
}

TEST(round_trip_sizes)
{
	struct keypair a, b;
	char *msg, *out, *plain;
	size_t len, n;

	REQUIRE(keys_generate(&a) == 0 && keys_generate(&b) == 0);
	REQUIRE((msg = malloc(70000)) != NULL);
	for (len = 0; len < 70000; len = len * 2 + 1) {
		memset(msg, 'a' + (int)(len % 26), len);
		REQUIRE(nip04_encrypt(a.sk, b.pk, msg, len, &out) == 0);
		CHECK(nip04_is_payload(out, strlen(out)));
		REQUIRE(nip04_decrypt(b.sk, a.pk, out, strlen(out), &plain, &n) == 0);
		CHECKF(n == len && memcmp(plain, msg, len) == 0, "len %zu", len);
		free(plain);
		free(out);
	}
	free(msg);
	keys_wipe(&a);
	keys_wipe(&b);
}

TEST(malformed_refused)
{
	static const char *const bad[] = {
		"",
		"?iv=",
		"zJxfaJ32rN5Dg1ODjOlEew==",				/* no iv */
		"zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ",	/* iv unpadded */
		"zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4n",	/* short iv */
		"zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ==x",
		"zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4nd!==",	/* bad char */
		"zJxfaJ32rN5Dg1ODjOlEe===?iv=EV5bUjcc4OX2Km/zPp4ndQ==",	/* bad b64 */
		"zJxfaJ32rN5Dg1ODjOlE?iv=EV5bUjcc4OX2Km/zPp4ndQ==",	/* 15 bytes */
		"?iv=EV5bUjcc4OX2Km/zPp4ndQ==",				/* empty ct */
		"zJxf aJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ==",	/* space */
		"zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ==?iv=EV5bUjcc4OX2Km/zPp4ndQ==",
	};
	uint8_t sk2[32], pk1[32];
	char *plain;
	size_t i, n;

	h32(sk2hex, sk2);
	h32(pk1hex, pk1);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECKF(nip04_decrypt(sk2, pk1, bad[i], strlen(bad[i]), &plain, &n) == -1,
		    "accepted case %zu", i);
	CHECK(!nip04_is_payload("abc", 3));
	CHECK(!nip04_is_payload(NULL, 0));
}

/* Wrong key: the padding check almost always fails; never a crash. */
TEST(wrong_key_fails)
{
	static const char payload[] = "zJxfaJ32rN5Dg1ODjOlEew==?iv=EV5bUjcc4OX2Km/zPp4ndQ==";
	struct keypair other;
	uint8_t pk1[32];
	char *plain;
	size_t n;
	int i, ok = 0;

	h32(pk1hex, pk1);
	for (i = 0; i < 20; i++) {
		REQUIRE(keys_generate(&other) == 0);
		if (nip04_decrypt(other.sk, pk1, payload, strlen(payload), &plain, &n) == 0) {
			CHECK(strcmp(plain, "nanana") != 0);
			free(plain);
			ok++;
		}
		keys_wipe(&other);
	}
	/* 1/256-ish chance each for a valid-looking pad byte: 20 tries rarely give > 3. */
	CHECKF(ok <= 3, "%d of 20 wrong keys decrypted", ok);
}

TEST(oversize_refused)
{
	uint8_t sk2[32], pk1[32];
	char *p, *plain, *out;
	size_t n;

	h32(sk2hex, sk2);
	h32(pk1hex, pk1);
	REQUIRE((p = malloc(NIP04_MAX_PAYLOAD + 64)) != NULL);
	memset(p, 'A', NIP04_MAX_PAYLOAD + 64);
	memcpy(p + NIP04_MAX_PAYLOAD + 64 - 28, "?iv=EV5bUjcc4OX2Km/zPp4ndQ==", 28);
	CHECK(nip04_decrypt(sk2, pk1, p, NIP04_MAX_PAYLOAD + 64, &plain, &n) == -1);
	CHECK(nip04_encrypt(sk2, pk1, p, NIP04_MAX_PAYLOAD, &out) == -1);
	free(p);
}

int
main(void)
{
	RUN(shared_x);
	RUN(nanana_both_ways);
	RUN(big_payload);
	RUN(go_nostr_compat);
	RUN(round_trip_sizes);
	RUN(malformed_refused);
	RUN(wrong_key_fails);
	RUN(oversize_refused);
	T_DONE();
}

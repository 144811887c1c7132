/*
 * fuzz_nip04.c: libFuzzer target for NIP-04 payloads (untrusted event
 * content). Decrypting any bytes must fail cleanly or yield a plaintext;
 * encrypting the input as a plaintext must round-trip.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "nip04.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* nostr-specs.md §4 vector keys: sk2 decrypts what pk1 sent. */
static const char sk1hex[] = "91ba716fa9e7ea2fcbad360cf4f8e0d312f73984da63d90f524ad61a6a1e7dbe";
static const char pk1hex[] = "b38ce15d3d9874ee710dfabb7ff9801b1e0e20aace6e9a1a05fa7482a04387d1";
static const char sk2hex[] = "96f6fa197aa07477ab88f6981118466ae3a982faab8ad5db9d5426870c73d220";
static const char pk2hex[] = "dcb33a629560280a0ee3b6b99b68c044fe8914ad8a984001ebf6099a9b474dc3";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sk1[32], pk1[32], sk2[32], pk2[32];
	char *plain, *out;
	size_t plen;

	hex_decode(sk1hex, 64, sk1, 32);
	hex_decode(pk1hex, 64, pk1, 32);
	hex_decode(sk2hex, 64, sk2, 32);
	hex_decode(pk2hex, 64, pk2, 32);
	(void)nip04_is_payload((const char *)data, size);
	if (nip04_decrypt(sk2, pk1, (const char *)data, size, &plain, &plen) == 0) {
		if (plain[plen] != '\0')
			abort();
		free(plain);
	}
	if (nip04_encrypt(sk1, pk2, (const char *)data, size, &out) == 0) {
		if (nip04_decrypt(sk2, pk1, out, strlen(out), &plain, &plen) != 0 ||
		    plen != size || memcmp(plain, data, size) != 0)
			abort();
		free(plain);
		free(out);
	}
	return 0;
}

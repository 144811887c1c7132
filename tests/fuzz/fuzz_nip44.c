/*
 * fuzz_nip44.c: libFuzzer target for NIP-44 v2 payloads (untrusted event
 * content). Decrypting any bytes must fail cleanly (almost always: bad
 * MAC) or yield valid UTF-8; encryption succeeds exactly for 1..65535
 * bytes of valid UTF-8, and then round-trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "nip44.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t ck[32] = { 0xc4, 0x1c, 0x77, 0x53, 0x56, 0xfd, 0x92, 0xea };
	uint8_t nonce[32] = { 0 };
	char *plain, *out;
	size_t plen;
	int ok;

	if (nip44_decrypt(ck, (const char *)data, size, &plain, &plen) == 0) {
		if (plen == 0 || plen > NIP44_MAX_PLAIN || !utf8_check(plain, plen, 1))
			abort();
		free(plain);
	}
	memcpy(nonce, data, size < 32 ? size : 32);
	ok = size >= 1 && size <= NIP44_MAX_PLAIN && utf8_check((const char *)data, size, 1);
	if (nip44_encrypt(ck, (const char *)data, size, nonce, &out) == 0) {
		if (!ok)
			abort();
		if (nip44_decrypt(ck, out, strlen(out), &plain, &plen) != 0 ||
		    plen != size || memcmp(plain, data, size) != 0)
			abort();
		free(plain);
		free(out);
	} else if (ok)
		abort();
	return 0;
}

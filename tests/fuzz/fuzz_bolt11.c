/*
 * fuzz_bolt11.c: libFuzzer target for invoiced's BOLT11 decoder (a wallet
 * backend's reply is untrusted input). Any bytes must decode or fail
 * cleanly; a decoded invoice must respect the limits the rest of invoiced
 * relies on. bolt11.c is compiled in here (run.sh builds one file per target).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../invoiced/bolt11.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct bolt11 b;
	char err[256], *s;

	if (size > BOLT11_MAX_LEN + 16 || (s = malloc(size + 1)) == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (bolt11_decode(s, &b, err, sizeof(err)) == 0) {
		if (strlen(b.description) > BOLT11_MAX_DESC || !b.has_payment_hash ||
		    !b.has_payment_secret || (b.has_amount && b.amount_msat > MAX_MSAT) ||
		    bolt11_currency_for("regtest") == NULL)
			abort();
		(void)bolt11_check(&b, "bc", b.amount_msat, "00", b.timestamp, err, sizeof(err));
	} else if (err[0] == '\0')
		abort();	/* every refusal carries a reason */
	free(s);
	return 0;
}

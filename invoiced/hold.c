/*
 * hold.c: the preimages of hold invoices (escrow, hold-invoices.md §0, §1).
 *
 * invoiced, not the wallet, owns the preimage: it is the payer's proof of
 * payment and the one thing that moves held money. So it is drawn here from
 * the OS CSPRNG, committed to invoices.db before any backend hears of its
 * hash (a crash after the invoice exists must not lose the means to settle
 * it), and read back only to settle. It is never logged and never leaves
 * this process except in the settle call to the wallet.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "encoding.h"
#include "log.h"
#include "invoiced.h"

int
hold_preimage_new(struct store *st, const char *job, uint8_t hash[32], char hash_hex[65])
{
	uint8_t pre[32];
	int rc;

	/* RAND_bytes seeds from getrandom(2) and fails rather than guess. */
	if (RAND_bytes(pre, sizeof(pre)) != 1) {
		log_warnx("job %s: no randomness for a preimage", job);
		return -1;
	}
	SHA256(pre, sizeof(pre), hash);
	hex_encode(hash, 32, hash_hex);
	rc = store_put_preimage(st, job, hash_hex, pre);
	OPENSSL_cleanse(pre, sizeof(pre));
	return rc;
}

int
hold_preimage_get(struct store *st, const char *payment_hash, uint8_t preimage[32])
{
	uint8_t hash[32];
	char hex[65];
	int rc;

	if ((rc = store_get_preimage(st, payment_hash, preimage)) != 1)
		return rc;
	/* A row that does not hash to its key would settle nothing: say so. */
	SHA256(preimage, 32, hash);
	hex_encode(hash, 32, hex);
	if (strcmp(hex, payment_hash) != 0) {
		OPENSSL_cleanse(preimage, 32);
		log_warnx("store: the preimage stored for %s does not match its hash", payment_hash);
		return -1;
	}
	return 1;
}

int
hold_capable(struct backend *be, char *why, size_t whylen)
{
	if (be == NULL) {
		snprintf(why, whylen, "wallet = none has no invoices at all");
		return 0;
	}
	if (be->hold_capable == NULL) {
		snprintf(why, whylen, "the %s backend has no hold invoices", be->name);
		return 0;
	}
	return be->hold_capable(be, why, whylen);
}

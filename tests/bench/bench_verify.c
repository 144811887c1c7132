/*
 * bench_verify: the raw limit. How many BIP-340 verifications per second
 * libsecp256k1 does on one core here, over realistic inputs: 200 keys,
 * distinct 32-byte messages, as jobd sees them; and how long one BIP-340
 * signature takes (jobd signs three events per job). Prints two lines:
 *   verify_per_s N
 *   sign_us N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>

#include "keys.h"

#define NKEYS	200
#define NSIGS	2000

struct sample {
	uint8_t			msg[32];
	uint8_t			sig[64];
	secp256k1_xonly_pubkey	pk;
};

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	const secp256k1_context *ctx = secp_ctx();
	double want = argc > 1 ? atof(argv[1]) : 2.0, t0, t;
	struct sample *s;
	struct keypair kp;
	unsigned long n = 0, bad = 0;
	uint8_t aux[32];

	if ((s = calloc(NSIGS, sizeof(*s))) == NULL)
		return 111;
	for (int i = 0; i < NSIGS; i++) {
		if (i % (NSIGS / NKEYS) == 0 && keys_generate(&kp) == -1)
			return 111;
		if (RAND_bytes(s[i].msg, 32) != 1 || RAND_bytes(aux, 32) != 1)
			return 111;
		if (!secp256k1_schnorrsig_sign32(ctx, s[i].sig, s[i].msg, &kp.kp, aux) ||
		    !secp256k1_keypair_xonly_pub(ctx, &s[i].pk, NULL, &kp.kp))
			return 111;
	}
	t0 = seconds();
	do {
		/* Parse the key each time: jobd gets it as hex on the wire. */
		for (int i = 0; i < NSIGS; i++) {
			uint8_t raw[32];
			secp256k1_xonly_pubkey pk;

			secp256k1_xonly_pubkey_serialize(ctx, raw, &s[i].pk);
			if (!secp256k1_xonly_pubkey_parse(ctx, &pk, raw) ||
			    !secp256k1_schnorrsig_verify(ctx, s[i].sig, s[i].msg, 32, &pk))
				bad++;
		}
		n += NSIGS;
		t = seconds() - t0;
	} while (t < want);
	printf("verify_per_s %.0f\n", (double)n / t);
	n = 0;
	t0 = seconds();
	do {
		for (int i = 0; i < NSIGS; i++)
			if (!secp256k1_schnorrsig_sign32(ctx, s[i].sig, s[i].msg, &kp.kp, aux))
				bad++;
		n += NSIGS;
		t = seconds() - t0;
	} while (t < want / 2);
	keys_wipe(&kp);
	free(s);
	printf("sign_us %.1f\n", t * 1e6 / (double)n);
	return bad ? 1 : 0;
}

/*
 * keys.h: secp256k1 context (one per process, randomised), Nostr keys.
 */
#ifndef KEYS_H
#define KEYS_H

#include <stddef.h>
#include <stdint.h>
#include <secp256k1.h>
#include <secp256k1_extrakeys.h>

struct keypair {
	uint8_t		  sk[32];
	uint8_t		  pk[32];	/* x-only public key */
	char		  pkhex[65];
	secp256k1_keypair kp;
};

/* The process-wide context, created and randomised on first use. Never NULL (fatal on failure). */
const secp256k1_context *secp_ctx(void);

/* Fill kp from a 32-byte secret; -1 if the secret is not a valid scalar. */
int	keys_from_secret(struct keypair *, const uint8_t sk[32]);
/* 64 hex digits or "nsec1..." (surrounding whitespace ignored) -> sk. */
int	keys_parse_secret(const char *text, uint8_t sk[32]);
/* 64 hex digits or "npub1..." -> x-only public key bytes (checked on-curve). */
int	keys_parse_pubkey(const char *text, uint8_t pk[32]);
/* A fresh random keypair (OpenSSL RAND_bytes). */
int	keys_generate(struct keypair *);
/*
 * Read a secret key file (hex or nsec). Refuses a file readable or
 * writable by group or others, or not a regular file, with a clear message
 * in err. Returns 0 or -1.
 */
int	keys_load_file(const char *path, struct keypair *, char *err, size_t errlen);
/* Write sk as hex to a new file with mode 0600 (O_EXCL). */
int	keys_save_file(const char *path, const struct keypair *, char *err, size_t errlen);
/* Wipe sk and the keypair (OPENSSL_cleanse). */
void	keys_wipe(struct keypair *);
/*
 * Check a secret file (wallet key, NWC URI) the same way keys_load_file does
 * and read at most max bytes of it, trailing whitespace stripped. *out malloc'd.
 */
int	secret_file_read(const char *path, size_t max, char **out, char *err, size_t errlen);
/* The same checks, the bytes as they are (a binary LND macaroon); *len > 0. */
int	secret_file_read_bin(const char *path, size_t max, uint8_t **out, size_t *len,
	    char *err, size_t errlen);

/*
 * BIP-340 with an explicit aux_rand (the test vectors need it; events use
 * event_sign, which draws fresh aux). Verifies its own output. 0 or -1.
 */
int	bip340_sign32(const uint8_t sk[32], const uint8_t msg[32], const uint8_t aux[32],
	    uint8_t sig[64]);
/* 0 if sig is a valid BIP-340 signature of msg (any length) by x-only pk, else -1. */
int	bip340_verify(const uint8_t pk[32], const uint8_t *msg, size_t msglen,
	    const uint8_t sig[64]);
/*
 * The unhashed x coordinate of sk * lift_x(pk) (NIP-04 and NIP-44 input).
 * -1 if sk is not a valid scalar or pk is not on the curve.
 */
int	keys_ecdh_x(const uint8_t sk[32], const uint8_t pk[32], uint8_t x[32]);

#endif

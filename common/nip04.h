/*
 * nip04.h: NIP-04 encryption: ECDH shared x (unhashed), AES-256-CBC with a
 * random 16-byte IV, payload "base64(ciphertext)?iv=base64(iv)".
 */
#ifndef NIP04_H
#define NIP04_H

#include <stddef.h>
#include <stdint.h>

#define NIP04_MAX_PAYLOAD (512 * 1024)

/* *out malloc'd, NUL-terminated. */
int	nip04_encrypt(const uint8_t sk[32], const uint8_t peer_pk[32],
	    const char *plain, size_t len, char **out);
/* Same with a given IV: for test vectors only (a reused IV leaks plaintext). */
int	nip04_encrypt_iv(const uint8_t sk[32], const uint8_t peer_pk[32],
	    const char *plain, size_t len, const uint8_t iv[16], char **out);
/*
 * *plain malloc'd, NUL-terminated, *plainlen set. -1 on malformed payload,
 * bad padding or oversize input (never crashes on any bytes).
 */
int	nip04_decrypt(const uint8_t sk[32], const uint8_t peer_pk[32],
	    const char *payload, size_t len, char **plain, size_t *plainlen);
/* 1 if payload has the NIP-04 shape ("...?iv=..."), for format detection. */
int	nip04_is_payload(const char *payload, size_t len);

#endif

/*
 * nip44.h: NIP-44 version 2 encryption exactly as specified: conversation
 * key = HKDF-extract(salt "nip44-v2", ECDH x), message keys = HKDF-expand
 * (ck, nonce, 76) -> chacha key 32 | chacha nonce 12 | hmac key 32,
 * padding, ChaCha20, HMAC-SHA256(hmac key, nonce || ciphertext),
 * payload base64(0x02 || nonce || ciphertext || mac).
 *
 * Plaintext length is 1..65535 bytes (the vectors' policy); longer
 * plaintexts are refused (see docs/PROTOCOL.md, "NIP-44 and long messages").
 */
#ifndef NIP44_H
#define NIP44_H

#include <stddef.h>
#include <stdint.h>

#define NIP44_MAX_PLAIN 65535

int	nip44_conversation_key(const uint8_t sk[32], const uint8_t peer_pk[32], uint8_t ck[32]);
int	nip44_message_keys(const uint8_t ck[32], const uint8_t nonce[32],
	    uint8_t chacha_key[32], uint8_t chacha_nonce[12], uint8_t hmac_key[32]);
/* Padded length for an unpadded length (exposed for the vectors). */
size_t	nip44_calc_padded_len(size_t len);
/*
 * nonce NULL = 32 fresh random bytes. *out malloc'd base64, NUL-terminated.
 * -1 (EINVAL) unless plain is 1..65535 bytes of valid UTF-8 (NUL allowed).
 */
int	nip44_encrypt(const uint8_t ck[32], const char *plain, size_t len,
	    const uint8_t *nonce, char **out);
/*
 * -1 on any malformed, unknown-version, bad-MAC or bad-padding payload, or
 * a plaintext that is not valid UTF-8. *plain is NUL-terminated.
 */
int	nip44_decrypt(const uint8_t ck[32], const char *payload, size_t len,
	    char **plain, size_t *plainlen);

#endif

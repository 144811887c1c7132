/*
 * nip04.c: NIP-04 (deprecated for DMs, still what NIP-90 names for
 * encrypted job requests). Key = raw ECDH x, AES-256-CBC with PKCS#7
 * padding (the spec's Node sample, go-nostr and nostr-tools all use it),
 * payload "base64(ciphertext)?iv=base64(iv)".
 *
 * There is no MAC: callers verify the event signature first, and every
 * failure here (shape, base64, padding) is the same -1.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "encoding.h"
#include "keys.h"
#include "nip04.h"

#define IV_B64_LEN 24	/* 16 bytes */
#define IV_SEP "?iv="

/* AES-256-CBC with PKCS#7 either way; out needs inlen + 16 bytes. */
static int
nip04_cipher(int enc, const uint8_t key[32], const uint8_t iv[16],
    const uint8_t *in, size_t inlen, uint8_t *out, size_t *outlen)
{
	EVP_CIPHER_CTX *c;
	int n1 = 0, n2 = 0, ok;

	if (inlen > (size_t)INT32_MAX - 32 || (c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_CipherInit_ex(c, EVP_aes_256_cbc(), NULL, key, iv, enc) == 1 &&
	    EVP_CipherUpdate(c, out, &n1, in, (int)inlen) == 1 &&
	    EVP_CipherFinal_ex(c, out + n1, &n2) == 1;
	EVP_CIPHER_CTX_free(c);
	if (!ok)
		return -1;
	*outlen = (size_t)n1 + (size_t)n2;
	return 0;
}

int
nip04_encrypt(const uint8_t sk[32], const uint8_t peer_pk[32],
    const char *plain, size_t len, char **out)
{
	uint8_t iv[16];

	if (RAND_bytes(iv, sizeof(iv)) != 1)
		return -1;
	return nip04_encrypt_iv(sk, peer_pk, plain, len, iv, out);
}

int
nip04_encrypt_iv(const uint8_t sk[32], const uint8_t peer_pk[32],
    const char *plain, size_t len, const uint8_t iv[16], char **out)
{
	uint8_t key[32], *ct = NULL;
	char *ctb64 = NULL, *ivb64 = NULL;
	size_t ctlen, olen;
	int rc = -1;

	/* The payload must stay decodable by our own limit. */
	if (len > NIP04_MAX_PAYLOAD / 4 * 3 - 64) {
		errno = EINVAL;
		return -1;
	}
	if (keys_ecdh_x(sk, peer_pk, key) == -1)
		goto out;
	if ((ct = malloc(len + 16)) == NULL)
		goto out;
	if (nip04_cipher(1, key, iv, (const uint8_t *)plain, len, ct, &ctlen) == -1 ||
	    b64_encode(ct, ctlen, &ctb64) == -1 || b64_encode(iv, 16, &ivb64) == -1)
		goto out;
	olen = strlen(ctb64) + strlen(IV_SEP) + strlen(ivb64);
	if ((*out = malloc(olen + 1)) == NULL)
		goto out;
	memcpy(*out, ctb64, strlen(ctb64));
	memcpy(*out + strlen(ctb64), IV_SEP, strlen(IV_SEP));
	memcpy(*out + strlen(ctb64) + strlen(IV_SEP), ivb64, strlen(ivb64) + 1);
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(ct);
	free(ctb64);
	free(ivb64);
	return rc;
}

int
nip04_is_payload(const char *payload, size_t len)
{
	/* Amethyst's rule: "?iv=" sits exactly 28 chars from the end. */
	return payload != NULL && len >= 28 + 4 &&
	    memcmp(payload + len - IV_B64_LEN - 4, IV_SEP, 4) == 0;
}

int
nip04_decrypt(const uint8_t sk[32], const uint8_t peer_pk[32],
    const char *payload, size_t len, char **plain, size_t *plainlen)
{
	uint8_t key[32], *iv = NULL, *ct = NULL, *pt = NULL;
	size_t ivlen, ctlen = 0, ptlen, b64len;
	int rc = -1;

	if (len > NIP04_MAX_PAYLOAD || !nip04_is_payload(payload, len) ||
	    memchr(payload, '\0', len) != NULL) {
		errno = EINVAL;
		return -1;
	}
	b64len = len - IV_B64_LEN - 4;
	if (b64_decode(payload + len - IV_B64_LEN, IV_B64_LEN, &iv, &ivlen) == -1)
		return -1;
	if (ivlen != 16 || b64_decode(payload, b64len, &ct, &ctlen) == -1)
		goto out;
	if (ctlen == 0 || ctlen % 16 != 0 || (pt = malloc(ctlen + 16 + 1)) == NULL)
		goto out;
	if (keys_ecdh_x(sk, peer_pk, key) == -1)
		goto out;
	if (nip04_cipher(0, key, iv, ct, ctlen, pt, &ptlen) == -1)
		goto out;
	pt[ptlen] = '\0';
	*plain = (char *)pt;
	*plainlen = ptlen;
	pt = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	free(iv);
	free(ct);
	if (pt != NULL)
		OPENSSL_cleanse(pt, ctlen + 17);
	free(pt);
	if (rc == -1)
		errno = EINVAL;
	return rc;
}

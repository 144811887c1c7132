/*
 * nip44.c: NIP-44 version 2, as in 44.md and paulmillr/nip44.
 *
 * Long messages: plaintexts are 1..65535 bytes, the limit of the official
 * vectors (which list 65536 and longer as invalid). The newer 44.md text
 * allows a 6-byte length prefix for longer ones; we neither produce nor
 * accept that form (a zero u16 length is "bad padding"), because older
 * clients cannot read it. See docs/PROTOCOL.md "NIP-44 and long messages".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "encoding.h"
#include "event.h"
#include "keys.h"
#include "nip44.h"

#define VERSION		2
#define NONCE_LEN	32
#define MAC_LEN		32
#define MIN_B64		132	/* 1-byte plaintext */
#define MAX_B64		87472	/* 65535-byte plaintext */
#define MIN_RAW		99
#define MAX_RAW		65603

static const char salt[] = "nip44-v2";

/* HKDF-SHA256 in one mode (extract-only or expand-only). */
static int
nip44_hkdf(int mode, const uint8_t *key, size_t keylen, const uint8_t *salt_or_info,
    size_t silen, uint8_t *out, size_t outlen)
{
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM p[5], *q = p;
	int ok;

	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL)
		return -1;
	kctx = EVP_KDF_CTX_new(kdf);
	EVP_KDF_free(kdf);
	if (kctx == NULL)
		return -1;
	*q++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*q++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	*q++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	*q++ = OSSL_PARAM_construct_octet_string(mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY ?
	    OSSL_KDF_PARAM_SALT : OSSL_KDF_PARAM_INFO, (void *)salt_or_info, silen);
	*q = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, p) == 1;
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : -1;
}

int
nip44_conversation_key(const uint8_t sk[32], const uint8_t peer_pk[32], uint8_t ck[32])
{
	uint8_t x[32];
	int rc;

	if (keys_ecdh_x(sk, peer_pk, x) == -1)
		return -1;
	rc = nip44_hkdf(EVP_KDF_HKDF_MODE_EXTRACT_ONLY, x, 32,
	    (const uint8_t *)salt, strlen(salt), ck, 32);
	OPENSSL_cleanse(x, sizeof(x));
	return rc;
}

int
nip44_message_keys(const uint8_t ck[32], const uint8_t nonce[32],
    uint8_t chacha_key[32], uint8_t chacha_nonce[12], uint8_t hmac_key[32])
{
	uint8_t k[76];

	if (nip44_hkdf(EVP_KDF_HKDF_MODE_EXPAND_ONLY, ck, 32, nonce, NONCE_LEN, k, sizeof(k)) == -1)
		return -1;
	memcpy(chacha_key, k, 32);
	memcpy(chacha_nonce, k + 32, 12);
	memcpy(hmac_key, k + 44, 32);
	OPENSSL_cleanse(k, sizeof(k));
	return 0;
}

size_t
nip44_calc_padded_len(size_t len)
{
	size_t np = 1, chunk;

	if (len <= 32)
		return 32;
	if (len > SIZE_MAX / 4)
		return 0;
	while (np <= len - 1)	/* np = 1 << bitlen(len - 1) */
		np <<= 1;
	chunk = np <= 256 ? 32 : np / 8;
	return chunk * ((len - 1) / chunk + 1);
}

/* RFC 8439 ChaCha20, counter 0 (EVP's IV is LE counter || 12-byte nonce). */
static int
nip44_chacha(const uint8_t key[32], const uint8_t nonce12[12], const uint8_t *in, size_t n,
    uint8_t *out)
{
	EVP_CIPHER_CTX *c;
	uint8_t iv[16] = { 0 };
	int outl = 0, ok;

	if (n > (size_t)INT32_MAX || (c = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	memcpy(iv + 4, nonce12, 12);
	ok = EVP_EncryptInit_ex(c, EVP_chacha20(), NULL, key, iv) == 1 &&
	    EVP_EncryptUpdate(c, out, &outl, in, (int)n) == 1 && (size_t)outl == n;
	EVP_CIPHER_CTX_free(c);
	return ok ? 0 : -1;
}

/* HMAC-SHA256(key, nonce || ct). */
static int
nip44_mac(const uint8_t key[32], const uint8_t nonce[32], const uint8_t *ct, size_t n,
    uint8_t mac[32])
{
	EVP_MAC *m;
	EVP_MAC_CTX *c;
	OSSL_PARAM p[2];
	size_t outl = 0;
	int ok;

	if ((m = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -1;
	c = EVP_MAC_CTX_new(m);
	EVP_MAC_free(m);
	if (c == NULL)
		return -1;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
	p[1] = OSSL_PARAM_construct_end();
	ok = EVP_MAC_init(c, key, 32, p) == 1 &&
	    EVP_MAC_update(c, nonce, NONCE_LEN) == 1 &&
	    EVP_MAC_update(c, ct, n) == 1 &&
	    EVP_MAC_final(c, mac, &outl, MAC_LEN) == 1 && outl == MAC_LEN;
	EVP_MAC_CTX_free(c);
	return ok ? 0 : -1;
}

int
nip44_encrypt(const uint8_t ck[32], const char *plain, size_t len,
    const uint8_t *nonce, char **out)
{
	uint8_t rnd[NONCE_LEN], key[32], cn[12], hk[32], *buf = NULL, *padded = NULL;
	size_t plen, rawlen;
	int rc = -1;

	/* Plaintexts are UTF-8 strings; decrypt refuses anything else too. */
	if (plain == NULL || len < 1 || len > NIP44_MAX_PLAIN || !utf8_check(plain, len, 1)) {
		errno = EINVAL;
		return -1;
	}
	if (nonce == NULL) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		nonce = rnd;
	}
	plen = 2 + nip44_calc_padded_len(len);
	rawlen = 1 + NONCE_LEN + plen + MAC_LEN;
	if ((padded = calloc(1, plen)) == NULL || (buf = malloc(rawlen)) == NULL)
		goto out;
	padded[0] = (uint8_t)(len >> 8);
	padded[1] = (uint8_t)len;
	memcpy(padded + 2, plain, len);
	buf[0] = VERSION;
	memcpy(buf + 1, nonce, NONCE_LEN);
	if (nip44_message_keys(ck, nonce, key, cn, hk) == -1 ||
	    nip44_chacha(key, cn, padded, plen, buf + 1 + NONCE_LEN) == -1 ||
	    nip44_mac(hk, nonce, buf + 1 + NONCE_LEN, plen, buf + 1 + NONCE_LEN + plen) == -1)
		goto out;
	rc = b64_encode(buf, rawlen, out);
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hk, sizeof(hk));
	if (padded != NULL)
		OPENSSL_cleanse(padded, plen);
	free(padded);
	free(buf);
	return rc;
}

/* Check the length prefix and padding; returns the plaintext length or 0. */
static size_t
nip44_unpad(const uint8_t *padded, size_t plen)
{
	size_t len;

	if (plen < 2)
		return 0;
	len = (size_t)padded[0] << 8 | padded[1];
	if (len == 0 || 2 + len > plen || plen != 2 + nip44_calc_padded_len(len))
		return 0;
	return len;
}

int
nip44_decrypt(const uint8_t ck[32], const char *payload, size_t len,
    char **plain, size_t *plainlen)
{
	uint8_t key[32], cn[12], hk[32], mac[32], *raw = NULL, *pt = NULL;
	size_t rawlen, ctlen, ptlen;
	const uint8_t *nonce, *ct;
	int rc = -1;

	errno = EINVAL;
	/* '#' marks a future, non-base64 version: unsupported, not malformed. */
	if (payload == NULL || len == 0 || payload[0] == '#')
		return -1;
	if (len < MIN_B64 || len > MAX_B64 || b64_decode(payload, len, &raw, &rawlen) == -1)
		return -1;
	if (rawlen < MIN_RAW || rawlen > MAX_RAW || raw[0] != VERSION)
		goto out;
	nonce = raw + 1;
	ct = raw + 1 + NONCE_LEN;
	ctlen = rawlen - 1 - NONCE_LEN - MAC_LEN;
	if (nip44_message_keys(ck, nonce, key, cn, hk) == -1 ||
	    nip44_mac(hk, nonce, ct, ctlen, mac) == -1 ||
	    CRYPTO_memcmp(mac, ct + ctlen, MAC_LEN) != 0)
		goto out;
	if ((pt = malloc(ctlen + 1)) == NULL || nip44_chacha(key, cn, ct, ctlen, pt) == -1)
		goto out;
	if ((ptlen = nip44_unpad(pt, ctlen)) == 0 || !utf8_check((char *)pt + 2, ptlen, 1))
		goto out;
	memmove(pt, pt + 2, ptlen);
	pt[ptlen] = '\0';
	*plain = (char *)pt;
	*plainlen = ptlen;
	pt = NULL;
	rc = 0;
out:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(hk, sizeof(hk));
	if (pt != NULL)
		OPENSSL_cleanse(pt, ctlen);
	free(pt);
	free(raw);
	if (rc == 0)
		errno = 0;
	return rc;
}

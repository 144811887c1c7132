/*
 * encoding.c: hex, base64, and cutting UTF-8 text on a character boundary.
 *
 * Base64 goes through OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock, but the
 * decoder accepts whitespace and junk and reports padding as zero bytes,
 * so every input is validated here first: standard alphabet, length a
 * multiple of 4, '=' only as the last one or two characters, and the
 * unused low bits of the last symbol zero (one canonical text per value,
 * as @scure/base, which nostr-tools uses, also demands).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "encoding.h"

static const char hexdig[] = "0123456789abcdef";

void
hex_encode(const uint8_t *in, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hexdig[in[i] >> 4];
		out[2 * i + 1] = hexdig[in[i] & 0x0f];
	}
	out[2 * n] = '\0';
}

/*
 * Digit values by byte, -1 for a non-digit; bit 4 (16) marks upper case.
 * A table because jobd decodes 256 hex digits per event it verifies and the
 * branchy version was 3.5 % of its time in the ingest benchmark.
 */
#define U(v) ((v) | 16)
static const signed char hexval[256] = {
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -1, -1, -1, -1, -1,
	-1, U(10), U(11), U(12), U(13), U(14), U(15), -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, 10, 11, 12, 13, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
	-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};
#undef U

static int
hex_val(char c)
{
	int v = hexval[(unsigned char)c];

	return v < 0 ? -1 : v & 15;
}

int
hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n)
{
	size_t i;
	int hi, lo;

	if (hex == NULL || hexlen != 2 * n)
		return -1;
	for (i = 0; i < n; i++) {
		hi = hex_val(hex[2 * i]);
		lo = hex_val(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int
hex_is_lower(const char *s, size_t n)
{
	size_t i;

	if (s == NULL)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)hexval[(unsigned char)s[i]] > 15)	/* -1 or upper */
			return 0;
	return s[n] == '\0';
}

int
b64_encode(const uint8_t *in, size_t n, char **out)
{
	size_t olen;
	char *o;

	/* EVP_EncodeBlock takes an int length. */
	if (n > (size_t)INT32_MAX / 4 * 3 - 3) {
		errno = EINVAL;
		return -1;
	}
	olen = (n + 2) / 3 * 4;
	if ((o = malloc(olen + 1)) == NULL)
		return -1;
	EVP_EncodeBlock((unsigned char *)o, in, (int)n);
	o[olen] = '\0';
	*out = o;
	return 0;
}

/* Value of a base64 symbol, or -1. */
static int
b64_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Number of '=' (0..2) if in[0..n) is canonical padded base64, else -1. */
static int
b64_check(const char *in, size_t n)
{
	size_t i, body;
	int pad = 0, last;

	if (n % 4 != 0)
		return -1;
	if (n == 0)
		return 0;
	if (in[n - 1] == '=')
		pad = in[n - 2] == '=' ? 2 : 1;
	body = n - (size_t)pad;
	for (i = 0; i < body; i++)
		if (b64_val((unsigned char)in[i]) < 0)
			return -1;
	last = b64_val((unsigned char)in[body - 1]);
	/* The bits past the last whole byte must be zero. */
	if ((pad == 1 && (last & 0x03)) || (pad == 2 && (last & 0x0f)))
		return -1;
	return pad;
}

int
b64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen)
{
	uint8_t *o;
	int pad, got;

	if (in == NULL || (pad = b64_check(in, n)) < 0 || n > (size_t)INT32_MAX) {
		errno = EINVAL;
		return -1;
	}
	/* +1 so an empty input still yields a valid allocation. */
	if ((o = malloc(n / 4 * 3 + 1)) == NULL)
		return -1;
	got = n ? EVP_DecodeBlock(o, (const unsigned char *)in, (int)n) : 0;
	if (got < 0 || (size_t)got != n / 4 * 3) {
		free(o);
		errno = EINVAL;
		return -1;
	}
	*out = o;
	*outlen = (size_t)got - (size_t)pad;
	return 0;
}

/*
 * The longest prefix of s[0..len) not over max bytes that ends on a UTF-8
 * boundary. The end of s itself is checked too: a text that snprintf
 * already cut may end in half a character, which must not reach a tag.
 */
size_t
utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len <= max ? len : max, k = n, need;
	unsigned char lead;

	while (k > 0 && ((unsigned char)s[k - 1] & 0xC0) == 0x80)
		k--;
	if (k == 0)
		return n;	/* no lead byte: not UTF-8 we made; leave it */
	lead = (unsigned char)s[k - 1];
	need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return k - 1 + need > n ? k - 1 : n;
}

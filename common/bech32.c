/*
 * bech32.c: BIP-173 bech32 (checksum constant 1, not bech32m) and the
 * NIP-19 key forms. The length limit is the caller's: NIP-19 allows 5000
 * characters for TLV forms and BOLT11 invoices are longer than 90.
 */
#include <string.h>

#include "bech32.h"

static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";

static uint32_t
bech32_polymod_step(uint32_t pre)
{
	uint8_t b = (uint8_t)(pre >> 25);

	return ((pre & 0x1ffffff) << 5) ^
	    (-((b >> 0) & 1) & 0x3b6a57b2UL) ^
	    (-((b >> 1) & 1) & 0x26508e6dUL) ^
	    (-((b >> 2) & 1) & 0x1ea119faUL) ^
	    (-((b >> 3) & 1) & 0x3d4233ddUL) ^
	    (-((b >> 4) & 1) & 0x2a1462b3UL);
}

/* Checksum state after the expanded hrp (hrp must be lowercase). */
static uint32_t
bech32_hrp_state(const char *hrp, size_t hlen)
{
	uint32_t chk = 1;
	size_t i;

	for (i = 0; i < hlen; i++)
		chk = bech32_polymod_step(chk) ^ ((unsigned char)hrp[i] >> 5);
	chk = bech32_polymod_step(chk);
	for (i = 0; i < hlen; i++)
		chk = bech32_polymod_step(chk) ^ ((unsigned char)hrp[i] & 0x1f);
	return chk;
}

static int
bech32_charval(char c)
{
	const char *p;

	if (c >= 'A' && c <= 'Z')
		c = (char)(c - 'A' + 'a');
	if (c == '\0' || (p = strchr(charset, c)) == NULL)
		return -1;
	return (int)(p - charset);
}

int
bech32_decode(const char *str, size_t maxlen, char *hrp, size_t hrpcap,
    uint8_t *data5, size_t cap5, size_t *n5)
{
	const char *one;
	size_t len, sep, i;
	int lower = 0, upper = 0, v;
	uint32_t chk;

	len = strnlen(str, maxlen + 1);
	if (len > maxlen || len < 8)
		return -1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)str[i];

		if (c < 33 || c > 126)
			return -1;
		lower |= c >= 'a' && c <= 'z';
		upper |= c >= 'A' && c <= 'Z';
	}
	if (lower && upper)
		return -1;
	if ((one = strrchr(str, '1')) == NULL)
		return -1;
	sep = (size_t)(one - str);
	/* hrp of 1+ chars, data of 6+ (the checksum). */
	if (sep == 0 || sep + 7 > len || sep + 1 > hrpcap || len - sep - 7 > cap5)
		return -1;
	for (i = 0; i < sep; i++) {
		char c = str[i];

		hrp[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	hrp[sep] = '\0';
	chk = bech32_hrp_state(hrp, sep);
	for (i = sep + 1; i < len; i++) {
		if ((v = bech32_charval(str[i])) < 0)
			return -1;
		chk = bech32_polymod_step(chk) ^ (uint32_t)v;
		if (i + 6 < len)
			data5[i - sep - 1] = (uint8_t)v;
	}
	if (chk != 1)
		return -1;
	*n5 = len - sep - 7;
	return 0;
}

int
bech32_encode(const char *hrp, const uint8_t *data5, size_t n5, char *out, size_t outcap)
{
	size_t hlen = strlen(hrp), i, o = 0;
	uint32_t chk;

	if (hlen == 0 || hlen + 1 + n5 + 6 + 1 > outcap)
		return -1;
	for (i = 0; i < hlen; i++) {
		unsigned char c = (unsigned char)hrp[i];

		if (c < 33 || c > 126 || (c >= 'A' && c <= 'Z'))
			return -1;
		out[o++] = (char)c;
	}
	out[o++] = '1';
	chk = bech32_hrp_state(hrp, hlen);
	for (i = 0; i < n5; i++) {
		if (data5[i] >> 5)
			return -1;
		chk = bech32_polymod_step(chk) ^ data5[i];
		out[o++] = charset[data5[i]];
	}
	for (i = 0; i < 6; i++)
		chk = bech32_polymod_step(chk);
	chk ^= 1;
	for (i = 0; i < 6; i++)
		out[o++] = charset[(chk >> ((5 - i) * 5)) & 0x1f];
	out[o] = '\0';
	return 0;
}

int
bech32_convert_bits(const uint8_t *in, size_t inlen, int frombits, int tobits, int pad,
    uint8_t *out, size_t outcap, size_t *outn)
{
	uint32_t acc = 0, maxv = (1u << tobits) - 1;
	size_t i, o = 0;
	int bits = 0;

	if (frombits < 1 || frombits > 8 || tobits < 1 || tobits > 8)
		return -1;
	for (i = 0; i < inlen; i++) {
		if (in[i] >> frombits)
			return -1;
		acc = ((acc << frombits) | in[i]) & 0xffffff;
		bits += frombits;
		while (bits >= tobits) {
			bits -= tobits;
			if (o >= outcap)
				return -1;
			out[o++] = (uint8_t)((acc >> bits) & maxv);
		}
	}
	if (pad) {
		if (bits) {
			if (o >= outcap)
				return -1;
			out[o++] = (uint8_t)((acc << (tobits - bits)) & maxv);
		}
	} else if (bits >= frombits || ((acc << (tobits - bits)) & maxv))
		return -1;
	*outn = o;
	return 0;
}

int
nip19_encode(const char *hrp, const uint8_t key[32], char *out, size_t outcap)
{
	uint8_t d5[52];
	size_t n5;

	if (bech32_convert_bits(key, 32, 8, 5, 1, d5, sizeof(d5), &n5) == -1)
		return -1;
	return bech32_encode(hrp, d5, n5, out, outcap);
}

int
nip19_decode(const char *hrp, const char *str, uint8_t key[32])
{
	char h[16];
	uint8_t d5[64], d8[40];
	size_t n5, n8;

	/* The 32-byte forms are 63 chars for a 4-letter hrp; allow a longer hrp. */
	if (bech32_decode(str, 90, h, sizeof(h), d5, sizeof(d5), &n5) == -1)
		return -1;
	if (strcmp(h, hrp) != 0)
		return -1;
	if (bech32_convert_bits(d5, n5, 5, 8, 0, d8, sizeof(d8), &n8) == -1 || n8 != 32)
		return -1;
	memcpy(key, d8, 32);
	return 0;
}

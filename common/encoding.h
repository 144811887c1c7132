/*
 * encoding.h: hex and base64 (OpenSSL EVP underneath for base64), UTF-8 cuts.
 */
#ifndef ENCODING_H
#define ENCODING_H

#include <stddef.h>
#include <stdint.h>

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void	hex_encode(const uint8_t *in, size_t n, char *out);
/*
 * Exactly 2n hex digits (either case) into n bytes. Returns 0 or -1 if the
 * length is not 2n or a digit is bad.
 */
int	hex_decode(const char *hex, size_t hexlen, uint8_t *out, size_t n);
/*
 * 1 if the C string s is exactly n lowercase hex digits (the Nostr
 * id/pubkey/sig form): a longer string fails (s[n] must be NUL).
 */
int	hex_is_lower(const char *s, size_t n);

/* Standard base64 with padding; *out malloc'd and NUL-terminated. -1 on ENOMEM. */
int	b64_encode(const uint8_t *in, size_t n, char **out);
/*
 * Strict standard base64 (padding required, no whitespace). *out malloc'd,
 * *outlen set. -1 on bad input (errno EINVAL) or ENOMEM.
 */
int	b64_decode(const char *in, size_t n, uint8_t **out, size_t *outlen);

/*
 * The longest prefix of s[0..len) not over max bytes that ends on a UTF-8
 * boundary (a character half cut off at the end of s is dropped too).
 */
size_t	utf8_cut(const char *s, size_t len, size_t max);

#endif

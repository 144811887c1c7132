/*
 * bech32.h: BIP-173 bech32 (not bech32m), with a caller-chosen length
 * limit (NIP-19 keys are short; BOLT11 invoices exceed BIP-173's 90), and
 * NIP-19 npub/nsec/note helpers.
 */
#ifndef BECH32_H
#define BECH32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Decode str (all lowercase or all uppercase) of at most maxlen chars.
 * hrp gets the lowercased human-readable part (hrpcap bytes incl. NUL);
 * data5 gets the 5-bit values without the checksum (*n5 set, at most cap5).
 * Returns 0 or -1 (bad char, mixed case, bad checksum, too long).
 */
int	bech32_decode(const char *str, size_t maxlen, char *hrp, size_t hrpcap,
	    uint8_t *data5, size_t cap5, size_t *n5);
/* Encode; out gets a NUL-terminated lowercase string. -1 if outcap is too small. */
int	bech32_encode(const char *hrp, const uint8_t *data5, size_t n5, char *out, size_t outcap);
/*
 * Regroup bits (8->5 with pad=1, 5->8 with pad=0). Returns 0 or -1 (bad
 * padding, output too small). *outn set.
 */
int	bech32_convert_bits(const uint8_t *in, size_t inlen, int frombits, int tobits, int pad,
	    uint8_t *out, size_t outcap, size_t *outn);

/* NIP-19: hrp "npub"/"nsec"/"note" over 32 bytes. out needs >= 64 bytes. */
int	nip19_encode(const char *hrp, const uint8_t key[32], char *out, size_t outcap);
/* Decode and require hrp to match and the payload to be exactly 32 bytes. */
int	nip19_decode(const char *hrp, const char *str, uint8_t key[32]);

#endif

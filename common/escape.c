/*
 * escape.c: printing what a stranger wrote. dvmctl shows requesters'
 * error texts and relay URLs; dvmreq shows a DVM's feedback and relays'
 * notices. A raw ESC or CSI byte in any of them would reach the operator's
 * terminal as a command (move the cursor, retitle the window, rewrite
 * what was shown), so nothing but printable text leaves unescaped.
 */
#include <stdio.h>
#include <string.h>

#include "escape.h"

/* Length of the valid UTF-8 sequence at s (1..4) that is not a C1 control, else 0. */
static size_t
printable_seq(const unsigned char *s)
{
	size_t n, i;
	unsigned cp;

	if (s[0] < 0x80)
		return s[0] >= 0x20 && s[0] != 0x7f;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f))
		return 0;
	return n;
}

/* Escape into out while the result fits with room bytes to spare; 1 if all of s fitted. */
static int
escape_into(const unsigned char *p, char *out, size_t outlen, int keep_lines, size_t room)
{
	size_t o = 0, n, adv;
	char piece[5];

	for (; *p != '\0'; p += adv) {
		adv = 1;
		if (*p == '\\' && !keep_lines)
			n = 2, memcpy(piece, "\\\\", 2);
		else if (keep_lines && (*p == '\n' || *p == '\t'))
			n = 1, piece[0] = (char)*p;
		else if ((n = printable_seq(p)) > 0)
			memcpy(piece, p, adv = n);
		else
			n = 4, snprintf(piece, sizeof(piece), "\\x%02x", *p);
		if (o + n + room >= outlen) {
			out[o] = '\0';
			return 0;
		}
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	return 1;
}

char *
escape_text(const char *s, char *out, size_t outlen, int keep_lines)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	if (outlen < 4) {
		if (outlen > 0)
			out[0] = '\0';
		return out;
	}
	if (!escape_into(p, out, outlen, keep_lines, 0)) {
		escape_into(p, out, outlen, keep_lines, 3);
		strcat(out, "...");
	}
	return out;
}

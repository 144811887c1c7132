/*
 * escape.h: text from the network made safe to print on a terminal.
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <stddef.h>

/*
 * Copy s into out (outlen bytes, always NUL-terminated) with every byte a
 * terminal could act on written as \xNN: C0 controls, DEL, the C1 controls
 * (U+0080..U+009F in UTF-8, and any byte that is not part of valid UTF-8,
 * since a terminal in an 8-bit mode reads 0x9b as CSI), and the backslash
 * itself as \\, so the output is unambiguous. With keep_lines (for long
 * texts such as an answer), \n and \t pass through and a backslash stays
 * one (code stays readable; only the controls matter there). A value too long for out
 * is cut on a whole escape and ends in "...". Returns out.
 */
char	*escape_text(const char *s, char *out, size_t outlen, int keep_lines);

#endif

/*
 * test_escape.c: what dvmctl and dvmreq print of a stranger's text.
 */
#include <string.h>

#include "escape.h"
#include "t.h"

TEST(controls_escaped)
{
	char o[256];

	CHECK(strcmp(escape_text("a\033[2Jb", o, sizeof(o), 0), "a\\x1b[2Jb") == 0);
	CHECK(strcmp(escape_text("t\x07\x7f", o, sizeof(o), 0), "t\\x07\\x7f") == 0);
	CHECK(strcmp(escape_text("l1\nl2\tx\r", o, sizeof(o), 0), "l1\\x0al2\\x09x\\x0d") == 0);
	CHECK(strcmp(escape_text("l1\nl2\tx\r", o, sizeof(o), 1), "l1\nl2\tx\\x0d") == 0);
	CHECK(strcmp(escape_text("back\\x1b", o, sizeof(o), 0), "back\\\\x1b") == 0);
	CHECK(strcmp(escape_text("back\\x1b", o, sizeof(o), 1), "back\\x1b") == 0);
	CHECK(strcmp(escape_text(NULL, o, sizeof(o), 0), "") == 0);
}

TEST(utf8_kept_c1_and_junk_escaped)
{
	char o[256];

	CHECK(strcmp(escape_text("\xc3\xa9t\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80", o,
	    sizeof(o), 0), "\xc3\xa9t\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80") == 0);
	/* U+009B, the one-byte CSI, in UTF-8 and raw */
	CHECK(strcmp(escape_text("\xc2\x9b" "31m", o, sizeof(o), 0), "\\xc2\\x9b31m") == 0);
	CHECK(strcmp(escape_text("\x9b" "31m", o, sizeof(o), 0), "\\x9b31m") == 0);
	CHECK(strcmp(escape_text("\xe4\xb8", o, sizeof(o), 0), "\\xe4\\xb8") == 0);
	CHECK(strcmp(escape_text("\xed\xa0\x80", o, sizeof(o), 0), "\\xed\\xa0\\x80") == 0);
	CHECK(strcmp(escape_text("\xc0\xaf", o, sizeof(o), 0), "\\xc0\\xaf") == 0);
}

TEST(cut_on_whole_escapes)
{
	char o[8];
	size_t i;

	CHECK(strcmp(escape_text("abcdefg", o, sizeof(o), 0), "abcdefg") == 0);
	CHECK(strcmp(escape_text("abcdefgh", o, sizeof(o), 0), "abcd...") == 0);
	CHECK(strcmp(escape_text("a\033\033\033", o, sizeof(o), 0), "a...") == 0);
	CHECK(strcmp(escape_text("\xf0\x9f\x98\x80\xf0\x9f\x98\x80", o, sizeof(o), 0),
	    "\xf0\x9f\x98\x80...") == 0);
	for (i = 0; i < 4; i++) {
		char small[4] = "zzz";

		escape_text("\033[31mred", small, i, 0);
		CHECK(i == 0 || small[0] == '\0');
	}
}

int
main(void)
{
	RUN(controls_escaped);
	RUN(utf8_kept_c1_and_junk_escaped);
	RUN(cut_on_whole_escapes);
	return t_failed_cases != 0;
}

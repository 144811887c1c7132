/* LINK: relayd/frame.c */
/*
 * relayd's classification of relay messages: each kind of garbage maps to
 * its drop reason; well-formed messages parse with exact field types.
 */
#include <string.h>

#include "t.h"
#include "../../relayd/relayd.h"

#define EV(id) "{\"id\":\"" id "\",\"pubkey\":\"" H64 "\",\"created_at\":1700000000," \
	"\"kind\":1,\"tags\":[[\"e\",\"x\"]],\"content\":\"hi\",\"sig\":\"" H128 "\"}"
#define H64 "abababababababababababababababababababababababababababababababab"
#define H128 H64 H64

static int
classify(const char *s)
{
	struct frame f;
	int r = frame_parse(&f, s, strlen(s));

	if (r == -1)
		frame_free(&f);
	return r;
}

TEST(valid_messages)
{
	struct frame f;
	const char *ev = "[\"EVENT\",\"sub\"," EV(H64) "]";
	const char *ok = "[\"OK\",\"" H64 "\",false,\"rate-limited: slow\"]";

	REQUIRE(frame_parse(&f, ev, strlen(ev)) == -1);
	CHECK(f.type == FR_EVENT && strcmp(f.sub, "sub") == 0);
	CHECK(f.ev.created_at == 1700000000 && f.ev.kind == 1);
	frame_free(&f);
	REQUIRE(frame_parse(&f, ok, strlen(ok)) == -1);
	CHECK(f.type == FR_OK && !f.accepted && strcmp(f.message, "rate-limited: slow") == 0);
	frame_free(&f);
	CHECK(classify("[\"EOSE\",\"s\"]") == -1);
	CHECK(classify("[\"NOTICE\",\"hello\"]") == -1);
	CHECK(classify("[\"CLOSED\",\"s\",\"auth-required: x\"]") == -1);
	CHECK(classify("[\"AUTH\",\"challenge\"]") == -1);
	CHECK(classify("[\"OK\",\"" H64 "\",true]") == -1);
}

TEST(malformed_and_non_arrays)
{
	CHECK(classify("not json") == DROP_MALFORMED);
	CHECK(classify("[\"EVENT\",") == DROP_MALFORMED);
	CHECK(classify("") == DROP_MALFORMED);
	CHECK(classify("{\"EVENT\":1}") == DROP_NOT_ARRAY);
	CHECK(classify("42") == DROP_NOT_ARRAY);
	CHECK(classify("null") == DROP_NOT_ARRAY);
}

TEST(wrong_types)
{
	CHECK(classify("[]") == DROP_BAD_TYPE);
	CHECK(classify("[1,2,3]") == DROP_BAD_TYPE);
	CHECK(classify("[\"EVENT\",5," EV(H64) "]") == DROP_BAD_TYPE);
	CHECK(classify("[\"EVENT\",\"s\",\"str\"]") == DROP_BAD_TYPE);
	CHECK(classify("[\"EVENT\",\"s\"]") == DROP_BAD_TYPE);
	CHECK(classify("[\"EOSE\",7]") == DROP_BAD_TYPE);
	CHECK(classify("[\"OK\",1,\"yes\",3]") == DROP_BAD_TYPE);
	CHECK(classify("[\"OK\",\"" H64 "\"]") == DROP_BAD_TYPE);
	CHECK(classify("[\"NOTICE\",{}]") == DROP_BAD_TYPE);
	CHECK(classify("[\"AUTH\",12]") == DROP_BAD_TYPE);
}

TEST(unknown_types)
{
	CHECK(classify("[\"FOO\",\"bar\"]") == DROP_UNKNOWN_TYPE);
	CHECK(classify("[\"COUNT\",\"s\",{\"count\":1}]") == DROP_UNKNOWN_TYPE);
}

TEST(bad_events)
{
	CHECK(classify("[\"EVENT\",\"s\"," EV("abab") "]") == DROP_BAD_EVENT);
	CHECK(classify("[\"EVENT\",\"s\"," EV(H64 "ab") "]") == DROP_BAD_EVENT);
	CHECK(classify("[\"EVENT\",\"s\",{\"id\":\"" H64 "\"}]") == DROP_BAD_EVENT);
	CHECK(classify("[\"EVENT\",\"s\",{\"id\":\"" H64 "\",\"pubkey\":\"" H64 "\","
	    "\"created_at\":\"1\",\"kind\":1,\"tags\":[],\"content\":\"\",\"sig\":\"" H128 "\"}]")
	    == DROP_BAD_EVENT);
	CHECK(classify("[\"EVENT\",\"s\"," EV("ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB") "]")
	    == DROP_BAD_EVENT);
}

TEST(deep_nesting_no_crash)
{
	static char buf[200001];

	memset(buf, '[', 100000);
	memset(buf + 100000, ']', 100000);
	CHECK(classify(buf) == DROP_MALFORMED);
}

/* The event's own text is kept for forwarding only when it is plain. */
TEST(raw_span)
{
	struct frame f;
	const char *plain = " [ \"EVENT\" , \"s\\\"q\" ,\t" EV(H64) " ] ";
	const char *nl = "[\"EVENT\",\"s\",\n" EV(H64) "\n]";
	const char *inner = "[\"EVENT\",\"s\",{\"id\":\"" H64 "\",\n\"pubkey\":\"" H64
	    "\",\"created_at\":1,\"kind\":1,\"tags\":[],\"content\":\"\",\"sig\":\"" H128 "\"}]";

	REQUIRE(frame_parse(&f, plain, strlen(plain)) == -1);
	CHECK(f.raw != NULL && f.rawlen == strlen(EV(H64)) &&
	    memcmp(f.raw, EV(H64), f.rawlen) == 0);
	frame_free(&f);
	REQUIRE(frame_parse(&f, nl, strlen(nl)) == -1);
	CHECK(f.raw != NULL && f.rawlen == strlen(EV(H64)));
	frame_free(&f);
	REQUIRE(frame_parse(&f, inner, strlen(inner)) == -1);
	CHECK(f.raw == NULL);	/* a newline inside: printed again instead */
	frame_free(&f);
}

TEST(trailing_garbage)
{
	CHECK(classify("[\"EOSE\",\"s\"] x") == DROP_MALFORMED);
	CHECK(classify("[\"EVENT\",\"s\"," EV(H64) "] ,{\"a\":1}]") == DROP_MALFORMED);
	CHECK(classify("[\"EOSE\",\"s\"] \n") == -1);
}

TEST(drop_names)
{
	CHECK(strcmp(frame_drop_name(DROP_OVERSIZE), "oversize") == 0);
	CHECK(strcmp(frame_drop_name(DROP_UNKNOWN_SUB), "unknown_sub") == 0);
}

int
main(void)
{
	RUN(valid_messages);
	RUN(malformed_and_non_arrays);
	RUN(wrong_types);
	RUN(unknown_types);
	RUN(bad_events);
	RUN(deep_nesting_no_crash);
	RUN(raw_span);
	RUN(trailing_garbage);
	RUN(drop_names);
	return t_failed_cases != 0;
}

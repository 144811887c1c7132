/*
 * test_inferd_stream.c: inferd's stream parsers. Every stream is also fed
 * one byte at a time and split in two at every offset, because a network
 * read may end anywhere: inside a JSON line, between '\r' and '\n', in the
 * middle of "data:" or of a UTF-8 sequence.
 */
/* LINK: inferd/stream.c inferd/ollama.c inferd/openai.c inferd/opts.c */
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "../../inferd/inferd.h"

struct sink {
	char	 text[4096];
	size_t	 len;
	int	 calls;
	size_t	 stop_after;	/* stop once this many bytes arrived; 0 = never */
};

static int
sink_text(void *arg, const char *s, size_t n)
{
	struct sink *k = arg;

	if (k->len + n < sizeof(k->text)) {
		memcpy(k->text + k->len, s, n);
		k->len += n;
		k->text[k->len] = '\0';
	}
	k->calls++;
	return k->stop_after && k->len >= k->stop_after;
}

/* How to cut the input: whole, byte by byte, or in two at `at`. */
enum cut { WHOLE, BYTES, SPLIT };

struct run {
	struct stream	 st;
	struct sink	 k;
	enum stream_end	 end;
	int		 feed_rc;
};

static void
run_stream(struct run *r, enum stream_kind kind, const char *in, enum cut cut, size_t at)
{
	size_t n = strlen(in), i;

	memset(r, 0, sizeof(*r));
	stream_init(&r->st, kind, sink_text, &r->k);
	if (cut == WHOLE)
		r->feed_rc = stream_feed(&r->st, in, n);
	else if (cut == BYTES) {
		for (i = 0; i < n && r->feed_rc == 0; i++)
			r->feed_rc = stream_feed(&r->st, in + i, 1);
	} else {
		r->feed_rc = stream_feed(&r->st, in, at);
		if (r->feed_rc == 0)
			r->feed_rc = stream_feed(&r->st, in + at, n - at);
	}
	r->end = stream_eof(&r->st);
}

/*
 * Feed in every way; each run must end as `want_end` with the same text,
 * counts and reason. Returns 0 or the offset + 1 of the first bad split.
 */
static size_t
all_cuts(enum stream_kind kind, const char *in, enum stream_end want_end, const char *want_text,
    long long pt, long long ct, const char *reason)
{
	size_t n = strlen(in), at;
	struct run r;

	for (at = 0; at <= n + 1; at++) {
		int ok;

		if (at == n + 1)
			run_stream(&r, kind, in, BYTES, 0);
		else if (at == 0)
			run_stream(&r, kind, in, WHOLE, 0);
		else
			run_stream(&r, kind, in, SPLIT, at);
		ok = r.end == want_end && strcmp(r.k.text, want_text) == 0;
		if (ok && want_end == SE_COMPLETE)
			ok = r.st.prompt_tokens == pt && r.st.completion_tokens == ct &&
			    strcmp(r.st.done_reason, reason) == 0;
		stream_free(&r.st);
		if (!ok)
			return at + 1;
	}
	return 0;
}

#define CHAT(c) "{\"model\":\"llama3.2\",\"created_at\":\"2026-01-01T00:00:00Z\"," \
	"\"message\":{\"role\":\"assistant\",\"content\":\"" c "\"},\"done\":false}\n"
#define CHAT_DONE(c, reason, pt, ct) "{\"model\":\"llama3.2\",\"created_at\":\"2026-01-01T00:00:00Z\"," \
	"\"message\":{\"role\":\"assistant\",\"content\":\"" c "\"},\"done_reason\":\"" reason "\"," \
	"\"done\":true,\"total_duration\":5,\"load_duration\":1,\"prompt_eval_count\":" #pt "," \
	"\"prompt_eval_duration\":1,\"eval_count\":" #ct ",\"eval_duration\":3}\n"

TEST(ollama_chat_all_cuts)
{
	const char *in = CHAT("Hel") CHAT("lo, w\\u00f6rld") CHAT_DONE("", "stop", 9, 3);
	size_t bad = all_cuts(SK_OLLAMA_CHAT, in, SE_COMPLETE, "Hello, w\xc3\xb6rld", 9, 3, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(ollama_final_chunk_carries_text)
{
	const char *in = CHAT("Hi") CHAT_DONE("!", "length", 2, 2);
	size_t bad = all_cuts(SK_OLLAMA_CHAT, in, SE_COMPLETE, "Hi!", 2, 2, "length");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(ollama_generate_response_field)
{
	const char *in =
	    "{\"model\":\"m\",\"created_at\":\"x\",\"response\":\"a\",\"done\":false}\n"
	    "{\"model\":\"m\",\"created_at\":\"x\",\"response\":\" b\",\"done\":false}\n"
	    "{\"model\":\"m\",\"created_at\":\"x\",\"response\":\"\",\"done\":true,\"done_reason\":\"stop\","
	    "\"context\":[1,2,3],\"prompt_eval_count\":4,\"eval_count\":2}\n";
	size_t bad = all_cuts(SK_OLLAMA_GENERATE, in, SE_COMPLETE, "a b", 4, 2, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(ollama_crlf_and_missing_counts)
{
	/* omitempty: absent counts are 0; "\r\n" line ends are tolerated. */
	const char *in = "{\"message\":{\"content\":\"x\"},\"done\":false}\r\n"
	    "{\"message\":{\"content\":\"\"},\"done\":true}\r\n";
	size_t bad = all_cuts(SK_OLLAMA_CHAT, in, SE_COMPLETE, "x", 0, 0, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(ollama_last_line_without_newline)
{
	const char *in = CHAT("ok") "{\"message\":{\"content\":\"\"},\"done\":true,\"eval_count\":1}";
	size_t bad = all_cuts(SK_OLLAMA_CHAT, in, SE_COMPLETE, "ok", 0, 1, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(ollama_error_line_mid_stream)
{
	const char *in = CHAT("par") "{\"error\":\"model runner has unexpectedly stopped\"}\n";
	size_t bad = all_cuts(SK_OLLAMA_CHAT, in, SE_FAILED, "par", 0, 0, "");
	struct run r;

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
	run_stream(&r, SK_OLLAMA_CHAT, in, BYTES, 0);
	CHECK(r.st.error_line == 1);
	CHECK(r.st.error && strstr(r.st.error, "unexpectedly stopped") != NULL);
	CHECK(r.feed_rc == -1);
	stream_free(&r.st);
}

TEST(ollama_error_checked_before_text)
{
	/* A line with both: the error wins and its text is not taken. */
	const char *in = "{\"error\":\"boom\",\"message\":{\"content\":\"zzz\"},\"done\":true}\n";
	struct run r;

	run_stream(&r, SK_OLLAMA_CHAT, in, WHOLE, 0);
	CHECK(r.end == SE_FAILED);
	CHECK(r.k.len == 0);
	stream_free(&r.st);
}

TEST(ollama_cut_without_done_is_incomplete)
{
	size_t bad = all_cuts(SK_OLLAMA_CHAT, CHAT("a") CHAT("b"), SE_INCOMPLETE, "ab", 0, 0, "");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(ollama_done_reason_without_done_completes_at_eof)
{
	const char *in = CHAT("a") "{\"message\":{\"content\":\"b\"},\"done_reason\":\"stop\"}\n";
	struct run r;

	run_stream(&r, SK_OLLAMA_CHAT, in, BYTES, 0);
	CHECK(r.end == SE_COMPLETE);
	CHECK(strcmp(r.k.text, "ab") == 0);
	stream_free(&r.st);
}

TEST(ollama_malformed_line_fails)
{
	struct run r;

	run_stream(&r, SK_OLLAMA_CHAT, CHAT("a") "{not json\n" CHAT_DONE("", "stop", 1, 1), WHOLE, 0);
	CHECK(r.end == SE_FAILED);
	CHECK(r.st.error_line == 0);
	stream_free(&r.st);
	run_stream(&r, SK_OLLAMA_CHAT, "[1,2]\n", WHOLE, 0);
	CHECK(r.end == SE_FAILED);
	stream_free(&r.st);
}

TEST(ollama_overlong_line_fails)
{
	size_t n = STREAM_MAX_LINE + 10;
	char *big = malloc(n);
	struct stream st;
	struct sink k = { 0 };

	REQUIRE(big != NULL);
	memset(big, 'a', n);
	stream_init(&st, SK_OLLAMA_CHAT, sink_text, &k);
	CHECK(stream_feed(&st, big, n) == -1);
	CHECK(st.failed == 1);
	CHECK(stream_eof(&st) == SE_FAILED);
	stream_free(&st);
	free(big);
}

TEST(ollama_stop_from_callback)
{
	struct run r;
	const char *in = CHAT("aaaa") CHAT("bbbb") CHAT_DONE("", "stop", 1, 2);

	memset(&r, 0, sizeof(r));
	r.k.stop_after = 4;
	stream_init(&r.st, SK_OLLAMA_CHAT, sink_text, &r.k);
	CHECK(stream_feed(&r.st, in, strlen(in)) == -1);
	CHECK(r.st.stopped == 1);
	CHECK(r.st.failed == 0);
	CHECK(strcmp(r.k.text, "aaaa") == 0);
	stream_free(&r.st);
}

#define SSE(json) "data: " json "\n\n"
#define OAI(delta, fin) "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1," \
	"\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" fin "}]}"
#define USAGE(p, c) "{\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[]," \
	"\"usage\":{\"prompt_tokens\":" #p ",\"completion_tokens\":" #c ",\"total_tokens\":0}}"

TEST(sse_standard_all_cuts)
{
	const char *in =
	    SSE(OAI("{\"role\":\"assistant\",\"content\":\"Hel\"}", "null"))
	    SSE(OAI("{\"content\":\"lo\"}", "null"))
	    SSE(OAI("{}", "\"stop\""))
	    SSE(USAGE(9, 2))
	    "data: [DONE]\n\n";
	size_t bad = all_cuts(SK_OPENAI, in, SE_COMPLETE, "Hello", 9, 2, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(sse_comments_and_other_fields)
{
	const char *in =
	    ": keep-alive\n\n"
	    ":ping\n"
	    "event: message\n"
	    "id: 7\n"
	    "retry: 1000\n"
	    SSE(OAI("{\"content\":\"a\"}", "null"))
	    ": keep-alive\n\n"
	    SSE(OAI("{\"content\":\"b\"}", "\"length\""))
	    ": keep-alive\n\n"
	    SSE(USAGE(3, 2))
	    "data: [DONE]\n\n";
	size_t bad = all_cuts(SK_OPENAI, in, SE_COMPLETE, "ab", 3, 2, "length");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(sse_crlf_and_bare_cr)
{
	const char *crlf =
	    "data: " OAI("{\"content\":\"x\"}", "null") "\r\n\r\n"
	    ": c\r\n"
	    "data: " OAI("{}", "\"stop\"") "\r\n\r\n"
	    "data: " USAGE(1, 1) "\r\n\r\n"
	    "data: [DONE]\r\n\r\n";
	const char *cr =
	    "data: " OAI("{\"content\":\"y\"}", "null") "\r\r"
	    "data: " OAI("{}", "\"stop\"") "\r\r"
	    "data: [DONE]\r\r";
	size_t bad = all_cuts(SK_OPENAI, crlf, SE_COMPLETE, "x", 1, 1, "stop");

	CHECKF(bad == 0, "crlf: failed when cut at %zu", bad - 1);
	bad = all_cuts(SK_OPENAI, cr, SE_COMPLETE, "y", 0, 0, "stop");
	CHECKF(bad == 0, "cr: failed when cut at %zu", bad - 1);
}

TEST(sse_multiline_data_and_no_space)
{
	/* Two data lines of one event are joined by '\n': still one JSON value. */
	const char *in =
	    "data: {\"choices\":[{\"index\":0,\n"
	    "data:\"delta\":{\"content\":\"joined\"},\"finish_reason\":\"stop\"}]}\n\n"
	    "data:[DONE]\n\n";
	size_t bad = all_cuts(SK_OPENAI, in, SE_COMPLETE, "joined", 0, 0, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(sse_error_event)
{
	const char *in =
	    SSE(OAI("{\"content\":\"part\"}", "null"))
	    SSE("{\"error\":{\"code\":500,\"message\":\"slot crashed\",\"type\":\"server_error\"}}");
	size_t bad = all_cuts(SK_OPENAI, in, SE_FAILED, "part", 0, 0, "");
	struct run r;

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
	run_stream(&r, SK_OPENAI, in, WHOLE, 0);
	CHECK(r.st.error_line == 1);
	CHECK(r.st.error && strcmp(r.st.error, "slot crashed") == 0);
	stream_free(&r.st);
}

TEST(sse_error_after_finish_still_fails)
{
	const char *in = SSE(OAI("{\"content\":\"a\"}", "\"stop\"")) SSE("{\"error\":\"late\"}");
	struct run r;

	run_stream(&r, SK_OPENAI, in, BYTES, 0);
	CHECK(r.end == SE_FAILED);
	stream_free(&r.st);
}

TEST(sse_completion_rules)
{
	struct run r;

	/* [DONE] alone completes. */
	run_stream(&r, SK_OPENAI, SSE(OAI("{\"content\":\"a\"}", "null")) "data: [DONE]\n\n", WHOLE, 0);
	CHECK(r.end == SE_COMPLETE);
	stream_free(&r.st);
	/* finish_reason then EOF (no [DONE]) completes. */
	run_stream(&r, SK_OPENAI, SSE(OAI("{\"content\":\"a\"}", "\"stop\"")), WHOLE, 0);
	CHECK(r.end == SE_COMPLETE);
	stream_free(&r.st);
	/* Neither: incomplete, never success. */
	run_stream(&r, SK_OPENAI, SSE(OAI("{\"content\":\"a\"}", "null")), BYTES, 0);
	CHECK(r.end == SE_INCOMPLETE);
	CHECK(strcmp(r.k.text, "a") == 0);
	stream_free(&r.st);
	/* The last event without its blank line still counts at EOF. */
	run_stream(&r, SK_OPENAI, SSE(OAI("{\"content\":\"a\"}", "null")) "data: [DONE]", BYTES, 0);
	CHECK(r.end == SE_COMPLETE);
	stream_free(&r.st);
	/* Nothing at all. */
	run_stream(&r, SK_OPENAI, "", WHOLE, 0);
	CHECK(r.end == SE_INCOMPLETE);
	stream_free(&r.st);
}

TEST(sse_usage_on_content_chunk)
{
	/* Some llama.cpp builds put usage on every chunk: the last one wins. */
	const char *in =
	    SSE("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}],"
		"\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}")
	    SSE("{\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":\"stop\"}],"
		"\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}")
	    "data: [DONE]\n\n";
	size_t bad = all_cuts(SK_OPENAI, in, SE_COMPLETE, "ab", 5, 2, "stop");

	CHECKF(bad == 0, "failed when cut at %zu", bad - 1);
}

TEST(sse_reasoning_is_not_answer)
{
	const char *in =
	    SSE(OAI("{\"reasoning_content\":\"hmm\"}", "null"))
	    SSE(OAI("{\"reasoning\":\"hmm\",\"content\":\"yes\"}", "\"stop\""))
	    "data: [DONE]\n\n";
	struct run r;

	run_stream(&r, SK_OPENAI, in, WHOLE, 0);
	CHECK(r.end == SE_COMPLETE);
	CHECK(strcmp(r.k.text, "yes") == 0);
	stream_free(&r.st);
}

TEST(sse_malformed_event_fails)
{
	struct run r;

	run_stream(&r, SK_OPENAI, "data: {oops\n\n" "data: [DONE]\n\n", WHOLE, 0);
	CHECK(r.end == SE_FAILED);
	CHECK(r.st.error_line == 0);
	stream_free(&r.st);
}

TEST(utf8_whole_len_holds_back_a_cut_character)
{
	CHECK(utf8_whole_len("abc", 3) == 3);
	CHECK(utf8_whole_len("", 0) == 0);
	CHECK(utf8_whole_len("a\xc3", 2) == 1);		/* é cut after 1 of 2 */
	CHECK(utf8_whole_len("a\xc3\xa9", 3) == 3);
	CHECK(utf8_whole_len("a\xe2\x82", 3) == 1);		/* € cut after 2 of 3 */
	CHECK(utf8_whole_len("a\xf0\x9f\x98", 4) == 1);	/* 😀 cut after 3 of 4 */
	CHECK(utf8_whole_len("a\xf0\x9f\x98\x80", 5) == 5);
	CHECK(utf8_whole_len("a\xff", 2) == 2);		/* invalid, not unfinished */
	CHECK(utf8_whole_len("a\xe0\x80", 3) == 3);		/* overlong start: invalid */
}

TEST(utf8_clean_replaces_only_bad_bytes)
{
	static const struct { const char *in; size_t n; const char *out; } v[] = {
		{ "plain", 5, "plain" },
		{ "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80" },
		{ "a\xff" "b", 3, "a\xef\xbf\xbd" "b" },
		{ "\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd" },		/* overlong '/' */
		{ "\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },	/* surrogate */
		{ "\xf4\x90\x80\x80", 4, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "x\xc3", 2, "x\xef\xbf\xbd" },			/* cut at the very end */
		{ "a\0b", 3, "a\xef\xbf\xbd" "b" },
	};
	size_t i, n;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char *o = utf8_clean(v[i].in, v[i].n, &n);

		REQUIRE(o != NULL);
		CHECKF(strcmp(o, v[i].out) == 0 && n == strlen(v[i].out), "vector %zu", i);
		free(o);
	}
}

TEST(utf8_clean_is_the_same_in_pieces)
{
	/* Chunks cut by utf8_whole_len and cleaned alone add up to the whole, cleaned. */
	const char *s = "ok \xc3\xa9t\xc3\xa9 \xff \xe2\x82\xac\xf0\x9f\x98\x80 end\xc3";
	size_t len = strlen(s), cut;
	char *whole = utf8_clean(s, len, NULL);

	REQUIRE(whole != NULL);
	for (cut = 0; cut <= len; cut++) {
		size_t a = utf8_whole_len(s, cut);
		char *p1 = utf8_clean(s, a, NULL), *p2 = utf8_clean(s + a, len - a, NULL);
		char buf[256];

		REQUIRE(p1 && p2);
		snprintf(buf, sizeof(buf), "%s%s", p1, p2);
		CHECKF(strcmp(buf, whole) == 0, "cut at %zu", cut);
		free(p1);
		free(p2);
	}
	free(whole);
}

int
main(void)
{
	RUN(ollama_chat_all_cuts);
	RUN(ollama_final_chunk_carries_text);
	RUN(ollama_generate_response_field);
	RUN(ollama_crlf_and_missing_counts);
	RUN(ollama_last_line_without_newline);
	RUN(ollama_error_line_mid_stream);
	RUN(ollama_error_checked_before_text);
	RUN(ollama_cut_without_done_is_incomplete);
	RUN(ollama_done_reason_without_done_completes_at_eof);
	RUN(ollama_malformed_line_fails);
	RUN(ollama_overlong_line_fails);
	RUN(ollama_stop_from_callback);
	RUN(sse_standard_all_cuts);
	RUN(sse_comments_and_other_fields);
	RUN(sse_crlf_and_bare_cr);
	RUN(sse_multiline_data_and_no_space);
	RUN(sse_error_event);
	RUN(sse_error_after_finish_still_fails);
	RUN(sse_completion_rules);
	RUN(sse_usage_on_content_chunk);
	RUN(sse_reasoning_is_not_answer);
	RUN(sse_malformed_event_fails);
	RUN(utf8_whole_len_holds_back_a_cut_character);
	RUN(utf8_clean_replaces_only_bad_bytes);
	RUN(utf8_clean_is_the_same_in_pieces);
	T_DONE();
}

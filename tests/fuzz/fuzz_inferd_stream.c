/* LINK: inferd/stream.c inferd/ollama.c inferd/openai.c inferd/opts.c */
/*
 * fuzz_inferd_stream.c: libFuzzer target for inferd's backend stream parsers
 * (Ollama NDJSON and OpenAI SSE), the bytes an inference server sends.
 * Input: byte 0 picks the parser, byte 1 a read size; the rest is the body.
 * Properties beyond "no crash, no leak": feeding the body in reads of any
 * size gives the same verdict, text and counts as feeding it whole (a
 * network read may end anywhere); utf8_clean always yields valid UTF-8 and
 * utf8_whole_len never grows the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"
#include "../../inferd/inferd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct out {
	char	*text;
	size_t	 len, cap;
	int	 stop_at;	/* stop after this many deltas; 0 = never */
	int	 n;
};

static int
on_text(void *arg, const char *s, size_t n)
{
	struct out *o = arg;

	if (stream_append(&o->text, &o->len, &o->cap, s, n, 1 << 24) == -1)
		abort();
	return o->stop_at && ++o->n >= o->stop_at;
}

struct result {
	enum stream_end end;
	struct out out;
	long long pt, ct;
	char reason[16];
	int stopped;
};

static void
run(enum stream_kind kind, const char *body, size_t len, size_t step, int stop_at, struct result *r)
{
	struct stream st;
	size_t i;

	memset(r, 0, sizeof(*r));
	r->out.stop_at = stop_at;
	stream_init(&st, kind, on_text, &r->out);
	for (i = 0; i < len; i += step) {
		size_t n = len - i < step ? len - i : step;

		if (stream_feed(&st, body + i, n) == -1)
			break;
	}
	r->end = stream_eof(&st);
	r->pt = st.prompt_tokens;
	r->ct = st.completion_tokens;
	r->stopped = st.stopped;
	memcpy(r->reason, st.done_reason, sizeof(r->reason));
	stream_free(&st);
}

static void
check_utf8(const char *s, size_t n)
{
	size_t outn, w = utf8_whole_len(s, n);
	char *c = utf8_clean(s, n, &outn);

	if (w > n || c == NULL || strlen(c) != outn || !utf8_valid(c, outn))
		abort();
	free(c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result whole, parts;
	enum stream_kind kind;
	size_t step, len;
	char *body;

	if (size < 2 || size > 200000)
		return 0;
	kind = (enum stream_kind)(data[0] % 3);
	step = (size_t)data[1] % 64 + 1;
	len = size - 2;
	if ((body = malloc(len ? len : 1)) == NULL)
		return 0;
	memcpy(body, data + 2, len);
	run(kind, body, len, len ? len : 1, 0, &whole);
	run(kind, body, len, step, 0, &parts);
	if (whole.end != parts.end || whole.out.len != parts.out.len ||
	    (whole.out.len && memcmp(whole.out.text, parts.out.text, whole.out.len) != 0) ||
	    (whole.end == SE_COMPLETE && (whole.pt != parts.pt || whole.ct != parts.ct ||
	    strcmp(whole.reason, parts.reason) != 0)))
		abort();
	check_utf8(body, len);
	if (whole.out.len)
		check_utf8(whole.out.text, whole.out.len);
	free(whole.out.text);
	free(parts.out.text);
	/* A stop from the callback stops the stream: nothing after it is taken. */
	run(kind, body, len, step, 1, &parts);
	if (parts.out.n > 1)
		abort();
	free(parts.out.text);
	free(body);
	return 0;
}

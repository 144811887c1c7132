/*
 * stream.c: the backend-neutral part of reading a response stream: bounded
 * buffers, the NDJSON line splitter, and the end-of-stream verdict.
 *
 * A stream is a success only when the backend said it was done (Ollama
 * done:true or a done_reason; OpenAI a finish_reason or [DONE]) and no
 * error appeared anywhere; EOF before that is "incomplete", never success.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "inferd.h"

void
stream_init(struct stream *s, enum stream_kind kind, stream_text_fn fn, void *arg)
{
	memset(s, 0, sizeof(*s));
	s->kind = kind;
	s->on_text = fn;
	s->arg = arg;
}

void
stream_free(struct stream *s)
{
	free(s->line);
	free(s->data);
	free(s->error);
	s->line = s->data = s->error = NULL;
	s->len = s->cap = s->dlen = s->dcap = 0;
}

/*
 * Append n bytes to a growable NUL-terminated buffer of at most max bytes.
 * Returns 0, or -1 (errno EMSGSIZE past max, ENOMEM).
 */
int
stream_append(char **buf, size_t *len, size_t *cap, const char *p, size_t n, size_t max)
{
	size_t need;
	char *nb;

	if (n > max || *len > max - n) {
		errno = EMSGSIZE;
		return -1;
	}
	need = *len + n + 1;
	if (need > *cap) {
		size_t nc = *cap ? *cap : 256;

		while (nc < need)
			nc *= 2;
		if ((nb = realloc(*buf, nc)) == NULL)
			return -1;
		*buf = nb;
		*cap = nc;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
	return 0;
}

/* Record the first failure; later ones add nothing. Returns -1. */
int
stream_fail(struct stream *s, int from_backend, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	if (s->failed)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	s->failed = 1;
	s->error_line = from_backend;
	s->error = strdup(msg);
	return -1;
}

/*
 * The text of an error value: Ollama's {"error":"..."} or the OpenAI
 * {"error":{"message":"..."}} shape. Never NULL.
 */
const char *
error_message_of(const cJSON *err)
{
	const cJSON *m;

	if (cJSON_IsString(err))
		return err->valuestring;
	m = cJSON_GetObjectItemCaseSensitive(err, "message");
	if (cJSON_IsString(m))
		return m->valuestring;
	return "(no message)";
}

/* NDJSON: cut at '\n'; a line may arrive split anywhere. */
static int
ndjson_stream_feed(struct stream *s, const char *buf, size_t n)
{
	while (n > 0 && !s->failed && !s->stopped) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) : n;

		if (stream_append(&s->line, &s->len, &s->cap, buf, take, STREAM_MAX_LINE) == -1)
			return stream_fail(s, 0, errno == EMSGSIZE ?
			    "stream line longer than %d bytes" : "out of memory", STREAM_MAX_LINE);
		if (nl == NULL)
			break;
		if (s->len > 0 && s->line[s->len - 1] == '\r')
			s->line[--s->len] = '\0';
		if (s->len > 0 && ollama_line(s, s->line, s->len) == -1 && s->failed)
			return -1;
		s->len = 0;
		buf += take + 1;
		n -= take + 1;
	}
	return s->failed || s->stopped ? -1 : 0;
}

/*
 * Feed response body bytes. Returns 0 to go on, -1 when the stream must
 * stop: it failed (s->failed, s->error) or on_text asked to (s->stopped).
 */
int
stream_feed(struct stream *s, const char *buf, size_t n)
{
	if (s->failed || s->stopped)
		return -1;
	if (s->kind == SK_OPENAI)
		return openai_feed(s, buf, n);
	return ndjson_stream_feed(s, buf, n);
}

/* The transfer ended cleanly at the HTTP level: judge the stream. */
enum stream_end
stream_eof(struct stream *s)
{
	s->last_cr = 0;	/* a trailing '\r' already ended its line */
	if (!s->failed && !s->stopped && s->len > 0) {
		/* A last line without its '\n' still counts. */
		if (s->kind == SK_OPENAI)
			openai_feed(s, "\n\n", 2);
		else if (ollama_line(s, s->line, s->len) != -1)
			s->len = 0;
	}
	if (s->kind == SK_OPENAI && !s->failed && s->dlen > 0)
		openai_feed(s, "\n", 1);
	if (s->failed)
		return SE_FAILED;
	if (s->kind == SK_OPENAI)
		return s->finished || s->done_marker ? SE_COMPLETE : SE_INCOMPLETE;
	return s->finished || s->has_reason ? SE_COMPLETE : SE_INCOMPLETE;
}

/*
 * Length of the UTF-8 sequence at s (1..4), 0 if the bytes there are not
 * valid UTF-8 (overlong forms, surrogates and values past U+10FFFF are
 * not), or -1 if they are a valid start cut short by the end at n.
 */
static int
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xBF;
	int need, k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		need = 1;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 2;
		if (s[0] == 0xE0)
			lo = 0xA0;
		else if (s[0] == 0xED)
			hi = 0x9F;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 3;
		if (s[0] == 0xF0)
			lo = 0x90;
		else if (s[0] == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	for (k = 1; k <= need; k++) {
		if ((size_t)k >= n)
			return -1;
		if (s[k] < lo || s[k] > hi)
			return 0;
		lo = 0x80;
		hi = 0xBF;
	}
	return need + 1;
}

/*
 * The longest prefix of s[0..n) that does not end inside a valid but
 * unfinished sequence: text from a stream may stop mid-character, and the
 * rest arrives with the next delta.
 */
size_t
utf8_whole_len(const char *s, size_t n)
{
	size_t i = n, back;

	for (back = 0; back < 4 && i > 0; back++) {
		i--;
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			return utf8_seq((const unsigned char *)s + i, n - i) == -1 ? i : n;
	}
	return n;
}

/*
 * A copy of s[0..n) in which every byte that is not part of valid UTF-8
 * (and every NUL) is replaced by U+FFFD, so the JSON inferd writes is
 * always valid. malloc'd, NUL-terminated; *outn set. NULL on ENOMEM.
 */
char *
utf8_clean(const char *s, size_t n, size_t *outn)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out, *o;
	size_t i = 0;

	if (n > ((size_t)-1 - 1) / 3 || (out = malloc(n * 3 + 1)) == NULL)
		return NULL;
	o = out;
	while (i < n) {
		int k = u[i] == 0 ? 0 : utf8_seq(u + i, n - i);

		if (k > 0) {
			memcpy(o, s + i, (size_t)k);
			o += k;
			i += (size_t)k;
		} else {
			memcpy(o, "\xEF\xBF\xBD", 3);
			o += 3;
			i++;
		}
	}
	*o = '\0';
	if (outn)
		*outn = (size_t)(o - out);
	return out;
}

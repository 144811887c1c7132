/*
 * openai.c: the OpenAI-compatible chat API of llama.cpp's llama-server,
 * vLLM and Ollama's /v1: the request body and the SSE stream.
 *
 * SSE as the WHATWG spec frames it: lines end in "\r\n", "\n" or "\r";
 * a line starting with ':' is a comment (llama.cpp's keep-alive pings);
 * "data:" lines of one event are joined with '\n'; a blank line ends the
 * event. Events may be split across reads anywhere, "\r\n" included.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "inferd.h"

/* Only what the request gave or the config defaulted; names per OpenAI. */
static int
openai_options(cJSON *b, const struct infer_opts *o)
{
	cJSON *stop;
	size_t i;

	if (((o->set & OPT_MAX_TOKENS) && !cJSON_AddNumberToObject(b, "max_tokens", (double)o->max_tokens)) ||
	    ((o->set & OPT_TEMPERATURE) && !cJSON_AddNumberToObject(b, "temperature", o->temperature)) ||
	    ((o->set & OPT_TOP_P) && !cJSON_AddNumberToObject(b, "top_p", o->top_p)) ||
	    ((o->set & OPT_FREQ_PEN) && !cJSON_AddNumberToObject(b, "frequency_penalty", o->frequency_penalty)) ||
	    ((o->set & OPT_PRES_PEN) && !cJSON_AddNumberToObject(b, "presence_penalty", o->presence_penalty)) ||
	    ((o->set & OPT_SEED) && !cJSON_AddNumberToObject(b, "seed", (double)o->seed)) ||
	    /* Extensions llama.cpp and vLLM accept; Ollama's /v1 ignores them. */
	    ((o->set & OPT_TOP_K) && !cJSON_AddNumberToObject(b, "top_k", (double)o->top_k)) ||
	    ((o->set & OPT_REPEAT_PEN) && !cJSON_AddNumberToObject(b, "repeat_penalty", o->repeat_penalty)))
		return -1;
	if (o->set & OPT_STOP) {
		if ((stop = cJSON_AddArrayToObject(b, "stop")) == NULL)
			return -1;
		for (i = 0; i < o->nstop; i++)
			if (!cJSON_AddItemToArray(stop, cJSON_CreateString(o->stop[i])))
				return -1;
	}
	return 0;
}

/* POST /v1/chat/completions body, malloc'd; a raw prompt becomes one user message. */
char *
openai_build_body(const struct infer_req *r)
{
	cJSON *b = cJSON_CreateObject(), *m = NULL, *so;
	char *out = NULL;

	if (b == NULL || cJSON_AddStringToObject(b, "model", r->model) == NULL)
		goto done;
	if (r->prompt != NULL) {
		cJSON *u;

		if ((m = cJSON_CreateArray()) == NULL || (u = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(m, u) ||
		    cJSON_AddStringToObject(u, "role", "user") == NULL ||
		    cJSON_AddStringToObject(u, "content", r->prompt) == NULL)
			goto done;
	} else if ((m = cJSON_Duplicate(r->messages, 1)) == NULL)
		goto done;
	if (!cJSON_AddItemToObject(b, "messages", m))
		goto done;
	m = NULL;
	if (cJSON_AddTrueToObject(b, "stream") == NULL ||
	    (so = cJSON_AddObjectToObject(b, "stream_options")) == NULL ||
	    cJSON_AddTrueToObject(so, "include_usage") == NULL ||
	    openai_options(b, &r->opts) == -1)
		goto done;
	out = cJSON_PrintUnformatted(b);
done:
	cJSON_Delete(m);
	cJSON_Delete(b);
	return out;
}

static void
usage_of(struct stream *s, const cJSON *u)
{
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(u, "prompt_tokens");
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(u, "completion_tokens");

	if (!cJSON_IsObject(u))
		return;
	if (cJSON_IsNumber(p) && p->valuedouble >= 0 && p->valuedouble < 1e15)
		s->prompt_tokens = (long long)p->valuedouble;
	if (cJSON_IsNumber(c) && c->valuedouble >= 0 && c->valuedouble < 1e15)
		s->completion_tokens = (long long)c->valuedouble;
	s->have_usage = 1;
}

/*
 * One event's data. Usage may come on any chunk, choices may be empty; the
 * reasoning deltas (reasoning, reasoning_content) are not part of the answer.
 */
int
openai_event(struct stream *s, const char *data, size_t len)
{
	cJSON *j;
	const cJSON *err, *choices, *c;
	int rc = 0;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		s->done_marker = 1;
		return 0;
	}
	if (s->done_marker)
		return 0;
	j = cJSON_ParseWithLength(data, len);
	if (j == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return stream_fail(s, 0, "malformed event from backend");
	}
	if ((err = cJSON_GetObjectItemCaseSensitive(j, "error")) != NULL && !cJSON_IsNull(err)) {
		rc = stream_fail(s, 1, "%s", error_message_of(err));
		cJSON_Delete(j);
		return rc;
	}
	usage_of(s, cJSON_GetObjectItemCaseSensitive(j, "usage"));
	choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
	cJSON_ArrayForEach(c, choices) {
		const cJSON *delta = cJSON_GetObjectItemCaseSensitive(c, "delta");
		const cJSON *text = cJSON_GetObjectItemCaseSensitive(delta, "content");
		const cJSON *fin = cJSON_GetObjectItemCaseSensitive(c, "finish_reason");

		if (cJSON_IsString(text) && text->valuestring[0] != '\0' && !s->finished && rc == 0) {
			s->deltas++;
			if (s->on_text(s->arg, text->valuestring, strlen(text->valuestring)) != 0) {
				s->stopped = 1;
				rc = -1;
			}
		}
		if (cJSON_IsString(fin) && fin->valuestring[0] != '\0' && !s->finished) {
			s->finished = 1;
			snprintf(s->done_reason, sizeof(s->done_reason), "%s", fin->valuestring);
		}
		break;	/* n = 1: only choice 0 is ours */
	}
	cJSON_Delete(j);
	return rc;
}

/* One complete SSE line (terminator removed). */
static int
openai_line(struct stream *s, const char *line, size_t len)
{
	const char *colon, *val;
	size_t flen, vlen;

	if (len == 0) {
		int rc = 0;

		if (s->dlen > 0) {
			/* The data buffer ends with the '\n' of its last line. */
			rc = openai_event(s, s->data, s->dlen - 1);
			s->dlen = 0;
		}
		return rc;
	}
	if (line[0] == ':')
		return 0;
	colon = memchr(line, ':', len);
	flen = colon ? (size_t)(colon - line) : len;
	val = colon ? colon + 1 : line + len;
	vlen = len - (size_t)(val - line);
	if (vlen > 0 && val[0] == ' ') {
		val++;
		vlen--;
	}
	if (flen != 4 || memcmp(line, "data", 4) != 0)
		return 0;	/* event, id, retry: nothing inferd needs */
	if (stream_append(&s->data, &s->dlen, &s->dcap, val, vlen, STREAM_MAX_LINE) == -1 ||
	    stream_append(&s->data, &s->dlen, &s->dcap, "\n", 1, STREAM_MAX_LINE) == -1)
		return stream_fail(s, 0, errno == EMSGSIZE ?
		    "event longer than %d bytes" : "out of memory", STREAM_MAX_LINE);
	return 0;
}

/* Feed body bytes; 0 to go on, -1 to stop (failed or stopped). */
int
openai_feed(struct stream *s, const char *buf, size_t n)
{
	size_t i = 0;

	while (i < n && !s->failed && !s->stopped) {
		size_t j = i;

		if (s->last_cr && buf[i] == '\n') {
			/* The '\n' of a "\r\n" split across reads. */
			s->last_cr = 0;
			i++;
			continue;
		}
		s->last_cr = 0;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (stream_append(&s->line, &s->len, &s->cap, buf + i, j - i, STREAM_MAX_LINE) == -1)
			return stream_fail(s, 0, errno == EMSGSIZE ?
			    "stream line longer than %d bytes" : "out of memory", STREAM_MAX_LINE);
		if (j == n)
			break;
		if (buf[j] == '\r') {
			if (j + 1 < n && buf[j + 1] == '\n')
				j++;
			else if (j + 1 == n)
				s->last_cr = 1;
		}
		openai_line(s, s->line ? s->line : "", s->len);
		s->len = 0;
		i = j + 1;
	}
	return s->failed || s->stopped ? -1 : 0;
}

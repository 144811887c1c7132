/*
 * ollama.c: Ollama's native API: the /api/chat or /api/generate request
 * body, and one NDJSON line of its streamed answer.
 *
 * The official client's order is kept (api/client.go): look for "error"
 * before anything else; append text before testing done, since the final
 * chunk may carry text too. Token counts come only from the final chunk.
 */
#include <stdio.h>
#include <string.h>

#include "inferd.h"

const char *
ollama_path(const struct infer_req *r)
{
	return r->prompt != NULL ? "/api/generate" : "/api/chat";
}

/*
 * Only per-request sampling options are sent. Load-time options (num_ctx,
 * num_gpu, ...) are never sent: any difference from the loaded runner makes
 * Ollama unload and reload the model.
 */
static cJSON *
ollama_options(const struct infer_opts *o)
{
	cJSON *j = cJSON_CreateObject(), *stop;
	size_t i;

	if (j == NULL)
		return NULL;
	if (((o->set & OPT_MAX_TOKENS) && !cJSON_AddNumberToObject(j, "num_predict", (double)o->max_tokens)) ||
	    ((o->set & OPT_TEMPERATURE) && !cJSON_AddNumberToObject(j, "temperature", o->temperature)) ||
	    ((o->set & OPT_TOP_K) && !cJSON_AddNumberToObject(j, "top_k", (double)o->top_k)) ||
	    ((o->set & OPT_TOP_P) && !cJSON_AddNumberToObject(j, "top_p", o->top_p)) ||
	    ((o->set & OPT_FREQ_PEN) && !cJSON_AddNumberToObject(j, "frequency_penalty", o->frequency_penalty)) ||
	    ((o->set & OPT_PRES_PEN) && !cJSON_AddNumberToObject(j, "presence_penalty", o->presence_penalty)) ||
	    ((o->set & OPT_REPEAT_PEN) && !cJSON_AddNumberToObject(j, "repeat_penalty", o->repeat_penalty)) ||
	    ((o->set & OPT_SEED) && !cJSON_AddNumberToObject(j, "seed", (double)o->seed)))
		goto fail;
	if (o->set & OPT_STOP) {
		if ((stop = cJSON_AddArrayToObject(j, "stop")) == NULL)
			goto fail;
		for (i = 0; i < o->nstop; i++)
			if (!cJSON_AddItemToArray(stop, cJSON_CreateString(o->stop[i])))
				goto fail;
	}
	return j;
fail:
	cJSON_Delete(j);
	return NULL;
}

/* The request body, malloc'd; NULL on ENOMEM. */
char *
ollama_build_body(const struct infer_req *r, const char *keep_alive)
{
	cJSON *b = cJSON_CreateObject(), *o;
	char *out = NULL;

	if (b == NULL || cJSON_AddStringToObject(b, "model", r->model) == NULL)
		goto done;
	if (r->prompt != NULL) {
		if (cJSON_AddStringToObject(b, "prompt", r->prompt) == NULL)
			goto done;
	} else {
		cJSON *m = cJSON_Duplicate(r->messages, 1);

		if (m == NULL || !cJSON_AddItemToObject(b, "messages", m)) {
			cJSON_Delete(m);
			goto done;
		}
	}
	/* Always stream: idle timeouts and cancel need the connection live. */
	if (cJSON_AddTrueToObject(b, "stream") == NULL || keep_alive_add(b, keep_alive) == -1)
		goto done;
	if ((o = ollama_options(&r->opts)) == NULL || !cJSON_AddItemToObject(b, "options", o)) {
		cJSON_Delete(o);
		goto done;
	}
	out = cJSON_PrintUnformatted(b);
done:
	cJSON_Delete(b);
	return out;
}

static long long
count_of(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	/* omitempty in Ollama: a missing count is 0. */
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15)
		return 0;
	return (long long)v->valuedouble;
}

/*
 * One complete line (no '\n'). Returns 0, or -1 when the stream must stop
 * (s->failed or s->stopped set).
 */
int
ollama_line(struct stream *s, const char *line, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	const cJSON *err, *done, *reason, *text = NULL;
	int rc = 0;

	if (j == NULL || !cJSON_IsObject(j)) {
		cJSON_Delete(j);
		return stream_fail(s, 0, "malformed line from backend");
	}
	if ((err = cJSON_GetObjectItemCaseSensitive(j, "error")) != NULL && !cJSON_IsNull(err)) {
		rc = stream_fail(s, 1, "%s", error_message_of(err));
		cJSON_Delete(j);
		return rc;
	}
	if (s->kind == SK_OLLAMA_CHAT) {
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

		text = cJSON_GetObjectItemCaseSensitive(m, "content");
	} else
		text = cJSON_GetObjectItemCaseSensitive(j, "response");
	if (cJSON_IsString(text) && text->valuestring[0] != '\0' && !s->finished) {
		s->deltas++;
		if (s->on_text(s->arg, text->valuestring, strlen(text->valuestring)) != 0) {
			s->stopped = 1;
			rc = -1;
		}
	}
	done = cJSON_GetObjectItemCaseSensitive(j, "done");
	reason = cJSON_GetObjectItemCaseSensitive(j, "done_reason");
	if (cJSON_IsString(reason) && reason->valuestring[0] != '\0') {
		snprintf(s->done_reason, sizeof(s->done_reason), "%s", reason->valuestring);
		s->has_reason = 1;
	}
	if (cJSON_IsTrue(done) && !s->finished) {
		s->finished = 1;
		s->prompt_tokens = count_of(j, "prompt_eval_count");
		s->completion_tokens = count_of(j, "eval_count");
		s->have_usage = 1;
		if (!s->has_reason)
			snprintf(s->done_reason, sizeof(s->done_reason), "stop");
	}
	cJSON_Delete(j);
	return rc;
}

/*
 * opts.c: validate an infer line into a struct infer_req, apply the
 * configured defaults, and the keep_alive encoding both backends share.
 *
 * Ollama ignores unknown option keys and fails the whole request on a value
 * of the wrong JSON type, so inferd checks names, types and ranges here and
 * only ever emits numbers as numbers.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "event.h"
#include "inferd.h"

#define MODEL_MAX	256
#define ROLE_MAX	16

static int
bad(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "%s", why);
	return -1;
}

/* An exact integer in [lo, hi]; JSON floats with a fraction are refused. */
static int
opt_int(const cJSON *o, const char *name, long long lo, long long hi, long long *out,
    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	double d;

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
		snprintf(err, errlen, "options.%s: not a number", name);
		return -1;
	}
	d = v->valuedouble;
	if (d != floor(d) || d < (double)lo || d > (double)hi) {
		snprintf(err, errlen, "options.%s: out of range", name);
		return -1;
	}
	*out = (long long)d;
	return 0;
}

static int
opt_real(const cJSON *o, const char *name, double lo, double hi, double *out,
    char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
		snprintf(err, errlen, "options.%s: not a number", name);
		return -1;
	}
	if (v->valuedouble < lo || v->valuedouble > hi) {
		snprintf(err, errlen, "options.%s: out of range", name);
		return -1;
	}
	*out = v->valuedouble;
	return 0;
}

static int
opt_stop(const cJSON *o, struct infer_opts *op, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "stop"), *s;

	if (!cJSON_IsArray(v))
		return bad(err, errlen, "options.stop: not an array");
	if (cJSON_GetArraySize(v) > INFER_MAX_STOP)
		return bad(err, errlen, "options.stop: too many strings");
	cJSON_ArrayForEach(s, v) {
		size_t n;

		if (!cJSON_IsString(s))
			return bad(err, errlen, "options.stop: not a string");
		n = strlen(s->valuestring);
		if (n == 0 || n > INFER_MAX_STOP_LEN || !utf8_valid(s->valuestring, n))
			return bad(err, errlen, "options.stop: bad length or UTF-8");
		if ((op->stop[op->nstop] = strdup(s->valuestring)) == NULL)
			return bad(err, errlen, "out of memory");
		op->nstop++;
	}
	return 0;
}

/* Every key must be known: a typo would silently do nothing at Ollama. */
static int
parse_options(const cJSON *o, struct infer_opts *op, char *err, size_t errlen)
{
	static const char *known[] = { "max_tokens", "temperature", "top_k", "top_p",
	    "frequency_penalty", "presence_penalty", "repeat_penalty", "seed", "stop" };
	const cJSON *it;

	if (!cJSON_IsObject(o))
		return bad(err, errlen, "options: not an object");
	cJSON_ArrayForEach(it, o) {
		size_t i;

		for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
			if (it->string != NULL && strcmp(it->string, known[i]) == 0)
				break;
		if (i == sizeof(known) / sizeof(known[0])) {
			snprintf(err, errlen, "options: unknown key \"%.32s\"",
			    it->string ? it->string : "");
			return -1;
		}
		if (cJSON_IsNull(it)) {
			snprintf(err, errlen, "options.%s: null", it->string);
			return -1;
		}
		if (!strcmp(it->string, "max_tokens")) {
			if (opt_int(o, "max_tokens", 1, 1000000, &op->max_tokens, err, errlen) == -1)
				return -1;
			op->set |= OPT_MAX_TOKENS;
		} else if (!strcmp(it->string, "temperature")) {
			if (opt_real(o, "temperature", 0, 10, &op->temperature, err, errlen) == -1)
				return -1;
			op->set |= OPT_TEMPERATURE;
		} else if (!strcmp(it->string, "top_k")) {
			if (opt_int(o, "top_k", 0, 100000, &op->top_k, err, errlen) == -1)
				return -1;
			op->set |= OPT_TOP_K;
		} else if (!strcmp(it->string, "top_p")) {
			if (opt_real(o, "top_p", 0, 1, &op->top_p, err, errlen) == -1)
				return -1;
			op->set |= OPT_TOP_P;
		} else if (!strcmp(it->string, "frequency_penalty")) {
			if (opt_real(o, "frequency_penalty", -2, 2, &op->frequency_penalty, err, errlen) == -1)
				return -1;
			op->set |= OPT_FREQ_PEN;
		} else if (!strcmp(it->string, "presence_penalty")) {
			if (opt_real(o, "presence_penalty", -2, 2, &op->presence_penalty, err, errlen) == -1)
				return -1;
			op->set |= OPT_PRES_PEN;
		} else if (!strcmp(it->string, "repeat_penalty")) {
			if (opt_real(o, "repeat_penalty", 0, 10, &op->repeat_penalty, err, errlen) == -1)
				return -1;
			op->set |= OPT_REPEAT_PEN;
		} else if (!strcmp(it->string, "seed")) {
			/* -1 is Ollama's "random"; 2^53 keeps it exact in a double. */
			if (opt_int(o, "seed", -1, 9007199254740991LL, &op->seed, err, errlen) == -1)
				return -1;
			op->set |= OPT_SEED;
		} else {
			if (opt_stop(o, op, err, errlen) == -1)
				return -1;
			op->set |= OPT_STOP;
		}
	}
	return 0;
}

/* Rebuild the messages so only role and content ever reach the backend. */
static int
parse_messages(const cJSON *m, struct infer_req *r, char *err, size_t errlen)
{
	const cJSON *it;

	if (!cJSON_IsArray(m))
		return bad(err, errlen, "messages: not an array");
	if (cJSON_GetArraySize(m) < 1 || cJSON_GetArraySize(m) > INFER_MAX_MESSAGES)
		return bad(err, errlen, "messages: need 1..1024 entries");
	if ((r->messages = cJSON_CreateArray()) == NULL)
		return bad(err, errlen, "out of memory");
	cJSON_ArrayForEach(it, m) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(it, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(it, "content");
		cJSON *o;

		if (!cJSON_IsObject(it) || !cJSON_IsString(role) || !cJSON_IsString(content))
			return bad(err, errlen, "messages: each needs string role and content");
		if (strcmp(role->valuestring, "system") && strcmp(role->valuestring, "user") &&
		    strcmp(role->valuestring, "assistant") && strcmp(role->valuestring, "tool"))
			return bad(err, errlen, "messages: role must be system, user, assistant or tool");
		if (!utf8_valid(content->valuestring, strlen(content->valuestring)))
			return bad(err, errlen, "messages: content is not valid UTF-8");
		if ((o = cJSON_CreateObject()) == NULL ||
		    !cJSON_AddItemToArray(r->messages, o) ||
		    cJSON_AddStringToObject(o, "role", role->valuestring) == NULL ||
		    cJSON_AddStringToObject(o, "content", content->valuestring) == NULL)
			return bad(err, errlen, "out of memory");
	}
	return 0;
}

/*
 * Validate an infer line. On success r owns copies of everything; on -1 err
 * says why (r->job is set if the line had a usable job id, for the answer)
 * and the caller still calls req_free.
 */
int
req_parse(const cJSON *msg, struct infer_req *r, char *err, size_t errlen)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");
	const cJSON *model = cJSON_GetObjectItemCaseSensitive(msg, "model");
	const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(msg, "messages");
	const cJSON *prompt = cJSON_GetObjectItemCaseSensitive(msg, "prompt");
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(msg, "options");
	const cJSON *stream = cJSON_GetObjectItemCaseSensitive(msg, "stream");

	memset(r, 0, sizeof(*r));
	r->stream = 1;
	if (!cJSON_IsString(job) || strlen(job->valuestring) != JOB_ID_LEN ||
	    !hex_is_lower(job->valuestring, JOB_ID_LEN))
		return bad(err, errlen, "job: need 64 lowercase hex digits");
	memcpy(r->job, job->valuestring, JOB_ID_LEN + 1);
	if (!cJSON_IsString(model) || model->valuestring[0] == '\0' ||
	    strlen(model->valuestring) > MODEL_MAX ||
	    !utf8_valid(model->valuestring, strlen(model->valuestring)))
		return bad(err, errlen, "model: need a non-empty string");
	if ((r->model = strdup(model->valuestring)) == NULL)
		return bad(err, errlen, "out of memory");
	if ((msgs != NULL) == (prompt != NULL))
		return bad(err, errlen, "need exactly one of messages and prompt");
	if (msgs != NULL && parse_messages(msgs, r, err, errlen) == -1)
		return -1;
	if (prompt != NULL) {
		if (!cJSON_IsString(prompt) || prompt->valuestring[0] == '\0' ||
		    !utf8_valid(prompt->valuestring, strlen(prompt->valuestring)))
			return bad(err, errlen, "prompt: need a non-empty UTF-8 string");
		if ((r->prompt = strdup(prompt->valuestring)) == NULL)
			return bad(err, errlen, "out of memory");
	}
	if (opts != NULL && parse_options(opts, &r->opts, err, errlen) == -1)
		return -1;
	if (stream != NULL) {
		if (!cJSON_IsBool(stream))
			return bad(err, errlen, "stream: not a boolean");
		r->stream = cJSON_IsTrue(stream);
	}
	return 0;
}

/*
 * The config's sampling values apply where the request is silent, and
 * max_tokens never exceeds the configured maximum: jobd clamps too, but a
 * hand-written --stdio line must not run away with the GPU either.
 */
void
req_apply_defaults(struct infer_req *r, const struct conf *c)
{
	struct infer_opts *o = &r->opts;

	if (!(o->set & OPT_MAX_TOKENS) || o->max_tokens > c->max_tokens)
		o->max_tokens = c->max_tokens;
	o->set |= OPT_MAX_TOKENS;
	if (!(o->set & OPT_TEMPERATURE))
		o->temperature = c->temperature;
	if (!(o->set & OPT_TOP_K))
		o->top_k = c->top_k;
	if (!(o->set & OPT_TOP_P))
		o->top_p = c->top_p;
	if (!(o->set & OPT_FREQ_PEN))
		o->frequency_penalty = c->frequency_penalty;
	o->set |= OPT_TEMPERATURE | OPT_TOP_K | OPT_TOP_P | OPT_FREQ_PEN;
}

void
req_free(struct infer_req *r)
{
	size_t i;

	free(r->model);
	free(r->prompt);
	cJSON_Delete(r->messages);
	for (i = 0; i < r->opts.nstop; i++)
		free(r->opts.stop[i]);
	memset(r, 0, sizeof(*r));
}

/*
 * Ollama reads a JSON number as seconds and a string as a Go duration, so
 * "300" and "-1" go out as numbers and "5m" as a string. Empty: not sent
 * (the server's own default applies).
 */
int
keep_alive_add(cJSON *body, const char *ka)
{
	char *end;
	double d;

	if (ka == NULL || ka[0] == '\0')
		return 0;
	d = strtod(ka, &end);
	if (end != ka && *end == '\0' && isfinite(d))
		return cJSON_AddNumberToObject(body, "keep_alive", d) ? 0 : -1;
	return cJSON_AddStringToObject(body, "keep_alive", ka) ? 0 : -1;
}

/*
 * catalog.c: the models each backend lists, and their union (the catalog
 * jobd sells from).
 *
 * A probe's list is debounced per backend: a model joins after two
 * consecutive probes list it and leaves after two consecutive probes miss
 * it (a failed probe misses everything), so one slow or odd answer moves
 * nothing. A backend's first good probe is taken as it is: there is
 * nothing to debounce against, and the first announcement should already
 * list the models. The union keeps a model while any backend has it.
 *
 * Ollama /api/tags entries carry details {family, parameter_size,
 * quantization_level, context_length} and, since v0.30, capabilities and,
 * for cloud models, remote_host; OpenAI-compatible /v1/models entries only
 * an id (vLLM adds max_model_len, llama.cpp meta.n_ctx_train).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "inferd.h"
#include "model.h"

#define CATALOG_MAX	1024	/* models per backend */
#define FIELD_MAX	64	/* bytes of family, parameter size, quantization */

static char *
dup_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	char buf[FIELD_MAX];

	if (!cJSON_IsString(v))
		return strdup("");
	/* Cut on a character: these go into signed public events. */
	snprintf(buf, sizeof(buf), "%.*s", (int)utf8_cut(v->valuestring,
	    strlen(v->valuestring), sizeof(buf) - 1), v->valuestring);
	return strdup(buf);
}

static long
ctx_field(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9)
		return 0;
	return (long)v->valuedouble;
}

static void
bmodel_free(struct bmodel *m)
{
	free(m->name);
	free(m->family);
	free(m->psize);
	free(m->quant);
	memset(m, 0, sizeof(*m));
}

void
catalog_clear(struct backend *b)
{
	size_t i;

	for (i = 0; i < b->nbm; i++)
		bmodel_free(&b->bm[i]);
	free(b->bm);
	b->bm = NULL;
	b->nbm = 0;
}

/* Capabilities absent (Ollama before v0.30): taken as a completion model. */
static int
can_complete(const cJSON *e)
{
	const cJSON *caps = cJSON_GetObjectItemCaseSensitive(e, "capabilities"), *c;

	if (!cJSON_IsArray(caps))
		return 1;
	cJSON_ArrayForEach(c, caps)
		if (cJSON_IsString(c) && strcmp(c->valuestring, "completion") == 0)
			return 1;
	return 0;
}

static int
is_cloud(const cJSON *e)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(e, "remote_host");
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, "remote_model");

	return (cJSON_IsString(h) && h->valuestring[0]) || (cJSON_IsString(m) && m->valuestring[0]);
}

/* One entry of the probe's array into m (name already checked). */
static int
entry_read(struct bmodel *m, enum infer_backend kind, const cJSON *e, const char *name)
{
	const cJSON *d = cJSON_GetObjectItemCaseSensitive(e, "details");
	const cJSON *meta = cJSON_GetObjectItemCaseSensitive(e, "meta");
	struct bmodel n = { 0 };

	n.name = strdup(name);
	if (kind == BACKEND_OPENAI) {
		n.family = strdup("");
		n.psize = strdup("");
		n.quant = strdup("");
		n.ctx = ctx_field(e, "max_model_len");
		if (n.ctx == 0)
			n.ctx = ctx_field(meta, "n_ctx_train");
		n.completion = 1;
	} else {
		n.family = dup_field(d, "family");
		n.psize = dup_field(d, "parameter_size");
		n.quant = dup_field(d, "quantization_level");
		n.ctx = ctx_field(d, "context_length");
		n.completion = can_complete(e);
		n.cloud = is_cloud(e);
	}
	if (!n.name || !n.family || !n.psize || !n.quant) {
		bmodel_free(&n);
		return -1;
	}
	n.hits = m->hits;
	n.misses = m->misses;
	n.confirmed = m->confirmed;
	bmodel_free(m);
	*m = n;
	return 0;
}

static struct bmodel *
bmodel_find(struct backend *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->nbm; i++)
		if (strcmp(b->bm[i].name, name) == 0)
			return &b->bm[i];
	return NULL;
}

/* Drop the models two probes in a row did not list. */
static void
catalog_compact(struct backend *b)
{
	size_t i, k = 0;

	for (i = 0; i < b->nbm; i++) {
		if (!b->bm[i].confirmed && b->bm[i].misses >= 2) {
			bmodel_free(&b->bm[i]);
			continue;
		}
		b->bm[k++] = b->bm[i];
	}
	b->nbm = k;
}

/*
 * A probe answered with arr (entries carrying key as the name), or
 * failed (arr NULL). -1 when arr is not an array or memory runs out.
 */
int
catalog_probe(struct backend *b, const cJSON *arr, const char *key)
{
	const cJSON *e;
	size_t i, cap;
	struct bmodel *nb;
	int first = !b->listed;

	for (i = 0; i < b->nbm; i++)
		b->bm[i].seen = 0;
	if (arr != NULL && !cJSON_IsArray(arr))
		arr = NULL;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(e, key);
		struct bmodel *m;

		if (!cJSON_IsString(name) || name->valuestring[0] == '\0' ||
		    strlen(name->valuestring) >= MODEL_NAME_MAX)
			continue;
		if ((m = bmodel_find(b, name->valuestring)) == NULL) {
			if (b->nbm >= CATALOG_MAX)
				continue;
			cap = b->nbm + 1;
			if ((nb = realloc(b->bm, cap * sizeof(*nb))) == NULL)
				return -1;
			b->bm = nb;
			m = &b->bm[b->nbm++];
			memset(m, 0, sizeof(*m));
		}
		if (m->seen)
			continue;	/* listed twice: the first entry counts */
		if (entry_read(m, b->kind, e, name->valuestring) == -1)
			return -1;
		m->seen = 1;
	}
	for (i = 0; i < b->nbm; i++) {
		struct bmodel *m = &b->bm[i];

		if (m->seen) {
			m->hits++;
			m->misses = 0;
			m->gone = 0;
			if (first || m->hits >= 2)
				m->confirmed = 1;
		} else {
			m->misses++;
			m->hits = 0;
			if (m->misses >= 2)
				m->confirmed = 0;
		}
	}
	if (arr != NULL)
		b->listed = 1;
	catalog_compact(b);
	return 0;
}

/*
 * The same model for routing: as model_find says, or (any backend kind)
 * "x" and "x:latest", which Ollama's OpenAI shim lists and accepts alike.
 */
static int
same_model(enum infer_backend kind, const char *have, const char *want)
{
	const char *names[1] = { have };
	size_t hl = strlen(have), wl = strlen(want);

	if (model_find(kind, want, names, 1) == 0)
		return 1;
	if (hl == wl + 7 && strncmp(have, want, wl) == 0 && strcmp(have + wl, ":latest") == 0)
		return 1;
	return wl == hl + 7 && strncmp(want, have, hl) == 0 && strcmp(want + hl, ":latest") == 0;
}

/* Does b have the model (confirmed, and no job found it missing since)? */
int
catalog_has(const struct backend *b, const char *model)
{
	size_t i;

	for (i = 0; i < b->nbm; i++)
		if (b->bm[i].confirmed && !b->bm[i].gone && same_model(b->kind, b->bm[i].name, model))
			return 1;
	return 0;
}

/* A job was told the model is not there: route around it until a probe lists it again. */
void
catalog_gone(struct backend *b, const char *model)
{
	size_t i;

	for (i = 0; i < b->nbm; i++)
		if (same_model(b->kind, b->bm[i].name, model))
			b->bm[i].gone = 1;
}

static cJSON *
entry_json(const struct bmodel *m)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddStringToObject(o, "name", m->name) ||
	    !cJSON_AddStringToObject(o, "family", m->family) ||
	    !cJSON_AddStringToObject(o, "parameter_size", m->psize) ||
	    !cJSON_AddStringToObject(o, "quantization", m->quant) ||
	    !cJSON_AddNumberToObject(o, "context_length", (double)m->ctx) ||
	    !cJSON_AddBoolToObject(o, "completion", m->completion) ||
	    !cJSON_AddBoolToObject(o, "cloud", m->cloud) ||
	    !cJSON_AddArrayToObject(o, "backends")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *
union_find(cJSON *arr, const char *name)
{
	cJSON *o;

	cJSON_ArrayForEach(o, arr)
		if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, name) == 0)
			return o;
	return NULL;
}

/* The union over backends, in the order the backends list them. */
cJSON *
catalog_json(struct inferd *in)
{
	cJSON *arr = cJSON_CreateArray(), *o;
	size_t i, k;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < in->pool.n; i++) {
		struct backend *b = &in->pool.b[i];

		for (k = 0; k < b->nbm; k++) {
			const struct bmodel *m = &b->bm[k];

			if (!m->confirmed)
				continue;
			if ((o = union_find(arr, m->name)) == NULL) {
				if ((o = entry_json(m)) == NULL || !cJSON_AddItemToArray(arr, o)) {
					cJSON_Delete(o);
					goto fail;
				}
			} else if (m->ctx > 0 && cJSON_GetObjectItemCaseSensitive(o,
			    "context_length")->valuedouble == 0)
				cJSON_SetNumberValue(cJSON_GetObjectItemCaseSensitive(o,
				    "context_length"), (double)m->ctx);
			if (!cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "backends"),
			    cJSON_CreateString(b->name)))
				goto fail;
		}
	}
	return arr;
fail:
	cJSON_Delete(arr);
	return NULL;
}

/* {"op":"catalog","models":[...]} */
cJSON *
catalog_message(struct inferd *in)
{
	cJSON *o = cJSON_CreateObject(), *arr = catalog_json(in);

	if (o == NULL || arr == NULL || !cJSON_AddStringToObject(o, "op", "catalog") ||
	    !cJSON_AddItemToObject(o, "models", arr)) {
		cJSON_Delete(arr);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* After a probe: tell every client when the union changed. */
void
catalog_publish(struct inferd *in)
{
	cJSON *o = catalog_message(in);
	char *s;

	if (o == NULL)
		return;
	if ((s = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(o, "models"))) == NULL) {
		cJSON_Delete(o);
		return;
	}
	if (in->pool.catalog_last == NULL || strcmp(s, in->pool.catalog_last) != 0) {
		free(in->pool.catalog_last);
		in->pool.catalog_last = s;
		s = NULL;
		log_info("catalog: %d model(s)", cJSON_GetArraySize(
		    cJSON_GetObjectItemCaseSensitive(o, "models")));
		if (in->ipc.srv != NULL)
			srv_broadcast(in->ipc.srv, o);
	}
	free(s);
	cJSON_Delete(o);
}

/*
 * backend.c: the pool of inference servers from infer_urls: periodic health
 * probes, a per-backend in-flight limit, and the least-loaded choice.
 *
 * Probes: Ollama GET /api/version then GET /api/tags (is the model
 * pulled?); OpenAI-compatible GET /v1/models. A probe never blocks a job:
 * jobs prefer backends that are healthy and have the model, and fall back to
 * the others rather than refuse (a probe result may be up to one interval old).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlm.h"
#include "inferd.h"
#include "loop.h"

#define PROBE_EXTRA_MS	10000	/* a probe may take connect timeout + this */

static void probe_start(struct backend *, int stage);

size_t
pool_size(struct inferd *in)
{
	return in->pool.n;
}

/* A reload may change the per-backend limit; running jobs keep their slots. */
void
pool_set_limits(struct inferd *in, int max_inflight)
{
	size_t i;

	for (i = 0; i < in->pool.n; i++)
		in->pool.b[i].max_inflight = max_inflight;
}

void
pool_mark(struct backend *b, int ok, const char *why)
{
	if (b->ok != ok || (why && (b->error == NULL || strcmp(b->error, why) != 0))) {
		if (ok)
			log_info("backend %s: up", b->name);
		else
			log_warnx("backend %s: down: %s", b->name, why ? why : "?");
	}
	b->ok = ok;
	free(b->error);
	b->error = NULL;
	if (!ok && why)
		b->error = strdup(why);
}

static void
models_clear(struct backend *b)
{
	size_t i;

	for (i = 0; i < b->nmodels; i++)
		free(b->models[i]);
	free(b->models);
	b->models = NULL;
	b->nmodels = 0;
}

/*
 * Collect arr[].key strings as the model list (at most 1024), and feed the
 * debounced catalog (catalog.c). Names match as Ollama matches them.
 */
static int
models_set(struct backend *b, const cJSON *arr, const char *key)
{
	const cJSON *it;
	size_t n = 0;

	models_clear(b);
	if (!cJSON_IsArray(arr))
		return -1;
	if ((b->models = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(char *))) == NULL)
		return -1;
	cJSON_ArrayForEach(it, arr) {
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(it, key);

		if (n >= 1024 || !cJSON_IsString(name))
			continue;
		if ((b->models[n] = strdup(name->valuestring)) == NULL)
			break;
		n++;
	}
	b->nmodels = n;
	if (catalog_probe(b, arr, key) == -1)
		return -1;
	b->model_ok = catalog_has(b, b->in->conf.model);
	return 0;
}

static void
probe_finished(struct backend *b)
{
	struct pool *pl = &b->in->pool;
	size_t i;

	b->hx = NULL;
	b->hlen = 0;
	if (!b->ok && catalog_probe(b, NULL, NULL) == 0)
		b->model_ok = catalog_has(b, b->in->conf.model);
	catalog_publish(b->in);
	if (!b->probed) {
		b->probed = 1;
		if (b->ok && !b->model_ok)
			log_warnx("backend %s: model %s is not there", b->name, b->in->conf.model);
	}
	if (pl->first_done)
		return;
	for (i = 0; i < pl->n; i++)
		if (!pl->b[i].probed)
			return;
	pl->first_done = 1;
	if (pl->on_first)
		pl->on_first(b->in);
}

static size_t
probe_data(void *arg, const char *p, size_t n)
{
	struct backend *b = arg;

	if (stream_append(&b->hbody, &b->hlen, &b->hcap, p, n, HEALTH_BODY_MAX) == -1)
		return 0;
	return n;
}

static void
probe_done(void *arg, struct curlm_xfer *x, const struct curlm_result *r)
{
	struct backend *b = arg;
	cJSON *j = NULL;
	char why[256];

	if (!r->ok) {
		snprintf(why, sizeof(why), "%s", r->detail);
		goto down;
	}
	if (r->status != 200) {
		snprintf(why, sizeof(why), "health probe: HTTP %ld", r->status);
		goto down;
	}
	j = cJSON_ParseWithLength(b->hbody ? b->hbody : "", b->hlen);
	if (b->kind == BACKEND_OPENAI) {
		if (models_set(b, cJSON_GetObjectItemCaseSensitive(j, "data"), "id") == -1) {
			snprintf(why, sizeof(why), "health probe: bad /v1/models answer");
			goto down;
		}
	} else if (b->hstage == 0) {
		if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "version"))) {
			snprintf(why, sizeof(why), "health probe: bad /api/version answer");
			goto down;
		}
		cJSON_Delete(j);
		b->hx = NULL;
		b->hlen = 0;
		probe_start(b, 1);
		return;
	} else if (models_set(b, cJSON_GetObjectItemCaseSensitive(j, "models"), "name") == -1) {
		snprintf(why, sizeof(why), "health probe: bad /api/tags answer");
		goto down;
	}
	cJSON_Delete(j);
	pool_mark(b, 1, NULL);
	probe_finished(b);
	return;
down:
	cJSON_Delete(j);
	pool_mark(b, 0, why);
	probe_finished(b);
}

static void
probe_start(struct backend *b, int stage)
{
	char url[CONF_MAX_STR + 32];
	struct curlm_req sp = { 0 };

	b->hstage = stage;
	b->hlen = 0;
	if (b->kind == BACKEND_OPENAI)
		snprintf(url, sizeof(url), "%s/v1/models", b->url);
	else
		snprintf(url, sizeof(url), "%s%s", b->url, stage == 0 ? "/api/version" : "/api/tags");
	sp.url = url;
	sp.accept = "application/json";
	sp.bearer = b->kind == BACKEND_OPENAI ? b->in->api_key : NULL;
	sp.connect_ms = (long)b->in->conf.infer_connect_timeout * 1000;
	sp.total_ms = sp.connect_ms + PROBE_EXTRA_MS;
	sp.on_data = probe_data;
	sp.on_done = probe_done;
	sp.arg = b;
	if ((b->hx = curlm_start(b->in->curlm, &sp)) == NULL) {
		pool_mark(b, 0, "cannot start health probe");
		probe_finished(b);
	}
}

void
pool_probe_all(struct inferd *in)
{
	size_t i;

	for (i = 0; i < in->pool.n; i++)
		if (in->pool.b[i].hx == NULL)
			probe_start(&in->pool.b[i], 0);
}

static void
pool_tick(struct loop *l, void *arg)
{
	struct inferd *in = arg;

	in->pool.timer = loop_add_timer(in->loop, (uint64_t)in->conf.infer_health_interval * 1000,
	    pool_tick, in);
	pool_probe_all(in);
}

/*
 * scheme://host... of url without "user:password@": the URL is a secret
 * when it carries credentials, its name is what logs and jobd see.
 */
static char *
backend_name(const char *url)
{
	const char *auth = strstr(url, "://"), *end, *at = NULL, *p;
	char *out;
	size_t n;

	if (auth == NULL)
		return strdup(url);
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (at == NULL)
		return strdup(url);
	n = strlen(url) - (size_t)(at + 1 - auth);
	if ((out = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(out, url, (size_t)(auth - url));
	strcpy(out + (auth - url), at + 1);
	return out;
}

/* Build the pool from the config and start the first probes. */
int
pool_init(struct inferd *in, void (*on_first)(struct inferd *))
{
	struct pool *pl = &in->pool;
	size_t i;

	pl->on_first = on_first;
	if (in->conf.infer_urls.n == 0)
		return -1;
	if ((pl->b = calloc(in->conf.infer_urls.n, sizeof(*pl->b))) == NULL)
		return -1;
	for (i = 0; i < in->conf.infer_urls.n; i++) {
		struct backend *b = &pl->b[i];
		size_t len;

		b->in = in;
		if ((b->url = strdup(in->conf.infer_urls.v[i])) == NULL)
			return -1;
		pl->n++;
		len = strlen(b->url);
		while (len > 0 && b->url[len - 1] == '/')
			b->url[--len] = '\0';
		if ((b->name = backend_name(b->url)) == NULL)
			return -1;
		b->kind = in->conf.infer_backend;
		b->max_inflight = in->conf.infer_max_inflight;
	}
	pool_probe_all(in);
	pl->timer = loop_add_timer(in->loop, (uint64_t)in->conf.infer_health_interval * 1000,
	    pool_tick, in);
	return 0;
}

void
pool_free(struct inferd *in)
{
	struct pool *pl = &in->pool;
	size_t i;

	if (pl->timer)
		loop_cancel_timer(in->loop, pl->timer);
	for (i = 0; i < pl->n; i++) {
		struct backend *b = &pl->b[i];

		curlm_abort(in->curlm, b->hx);
		models_clear(b);
		catalog_clear(b);
		free(b->url);
		free(b->name);
		free(b->error);
		free(b->hbody);
	}
	free(pl->b);
	free(pl->catalog_last);
	memset(pl, 0, sizeof(*pl));
}

/*
 * Least-loaded backend with room, preferring healthy ones that have the
 * model, then healthy ones, then any (a stale probe must not strand jobs).
 * *all_busy is set when every candidate was at its limit.
 */
struct backend *
pool_pick(struct inferd *in, const char *model, const struct backend *exclude, int *all_busy)
{
	struct backend *best = NULL;
	int best_rank = 0, candidates = 0;
	size_t i;

	*all_busy = 0;
	for (i = 0; i < in->pool.n; i++) {
		struct backend *b = &in->pool.b[i];
		int rank;

		if (b == exclude)
			continue;
		candidates++;
		if (b->inflight >= b->max_inflight)
			continue;
		rank = b->ok && catalog_has(b, model) ? 0 : b->ok ? 1 : 2;
		/* Compare load as a fraction of each backend's own limit. */
		if (best == NULL || rank < best_rank || (rank == best_rank &&
		    (long)b->inflight * best->max_inflight < (long)best->inflight * b->max_inflight)) {
			best = b;
			best_rank = rank;
		}
	}
	if (best == NULL && candidates > 0)
		*all_busy = 1;
	return best;
}

/* 1 if a backend other than b was probed ok and has the model. */
int
pool_model_elsewhere(const struct backend *b, const char *model)
{
	const struct pool *pl = &b->in->pool;
	size_t i;

	for (i = 0; i < pl->n; i++)
		if (&pl->b[i] != b && pl->b[i].ok && catalog_has(&pl->b[i], model))
			return 1;
	return 0;
}

cJSON *
pool_health_json(struct inferd *in)
{
	cJSON *arr = cJSON_CreateArray();
	size_t i, k;

	if (arr == NULL)
		return NULL;
	for (i = 0; i < in->pool.n; i++) {
		struct backend *b = &in->pool.b[i];
		cJSON *o = cJSON_CreateObject(), *m;

		if (o == NULL || !cJSON_AddItemToArray(arr, o))
			goto fail;
		if (!cJSON_AddStringToObject(o, "url", b->name) ||
		    !cJSON_AddStringToObject(o, "kind", conf_backend_name(b->kind)) ||
		    !cJSON_AddBoolToObject(o, "ok", b->ok) ||
		    (m = cJSON_AddArrayToObject(o, "models")) == NULL ||
		    !cJSON_AddBoolToObject(o, "model_ok", b->ok && b->model_ok) ||
		    !cJSON_AddNumberToObject(o, "inflight", b->inflight) ||
		    !cJSON_AddNumberToObject(o, "max_inflight", b->max_inflight))
			goto fail;
		for (k = 0; k < b->nmodels; k++)
			if (!cJSON_AddItemToArray(m, cJSON_CreateString(b->models[k])))
				goto fail;
		if (!b->ok && !cJSON_AddStringToObject(o, "error",
		    b->error ? b->error : b->probed ? "down" : "not probed yet"))
			goto fail;
	}
	return arr;
fail:
	cJSON_Delete(arr);
	return NULL;
}

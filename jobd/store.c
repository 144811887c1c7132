/*
 * store.c: the storefront. Which models we sell (the served set), at what
 * price, which one a request chose, and what a request for another model
 * gets.
 *
 * The catalog comes from inferd (op catalog: the union of the models its
 * healthy backends list, debounced there). The served set is the default
 * model first, then `models` in display order (or, for `models = *`,
 * every catalog model that can complete text and is not a cloud model),
 * less `models_exclude`. With `models` unset only the default is sold, as
 * before the storefront; with it set, a listed model no backend has is
 * logged and not served. Before the first catalog arrives the configured
 * names are served as written.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobd.h"
#include "log.h"

#define STORE_LIST_NAMES	10	/* models named in a "not served" error */
#define STORE_CATALOG_MAX	1024

static void
copy_str(char *dst, size_t len, const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	snprintf(dst, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

/* The catalog entry named name exactly, or NULL. */
static struct store_model *
cat_find(struct store *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->ncat; i++)
		if (strcmp(s->cat[i].name, name) == 0)
			return &s->cat[i];
	return NULL;
}

/* The catalog entry asked resolves to (Ollama/OpenAI rules), or NULL. */
static struct store_model *
cat_resolve(struct jobd *jd, const char *asked)
{
	struct store *s = &jd->store;
	const char *names[STORE_CATALOG_MAX];
	size_t i;
	int k;

	for (i = 0; i < s->ncat; i++)
		names[i] = s->cat[i].name;
	k = model_find(jd->conf.infer_backend, asked, names, s->ncat);
	return k < 0 ? NULL : &s->cat[k];
}

/* The served name for a configured one: the catalog's spelling when it has it. */
static int
served_name(struct jobd *jd, const char *conf_name, char *out, size_t len)
{
	struct store_model *m = jd->store.have ? cat_resolve(jd, conf_name) : NULL;

	if (m != NULL) {
		snprintf(out, len, "%s", m->name);
		return 0;
	}
	if (jd->store.have && jd->conf.models[0] != '\0')
		return -1;
	snprintf(out, len, "%s", conf_name);
	return 0;
}

static void
served_add(struct store *s, const char *name)
{
	size_t i;

	if (s->nserved >= STORE_SERVED_MAX)
		return;
	for (i = 0; i < s->nserved; i++)
		if (strcmp(s->served[i], name) == 0)
			return;
	snprintf(s->served[s->nserved++], MODEL_NAME_MAX, "%s", name);
}

/* Recompute the served set and the price table from the config and catalog. */
void
store_apply(struct jobd *jd)
{
	struct store *s = &jd->store;
	char name[MODEL_NAME_MAX], err[160], item[MODEL_NAME_MAX];
	const char *p = jd->conf.models, *e;
	size_t i, len;

	if (model_prices_parse(jd->conf.model_prices, s->prices, MODEL_PRICES_MAX, &s->nprices,
	    err, sizeof(err)) == -1)
		s->nprices = 0;		/* conf.c checked it: cannot happen */
	s->nserved = 0;
	if (served_name(jd, jd->conf.model, name, sizeof(name)) == 0)
		served_add(s, name);
	else
		log_warnx("store: default model %s: no backend has it", jd->conf.model);
	if (strcmp(jd->conf.models, "*") == 0) {
		for (i = 0; i < s->ncat; i++)
			if (s->cat[i].completion && !s->cat[i].cloud &&
			    !model_glob_any(s->cat[i].name, jd->conf.models_exclude))
				served_add(s, s->cat[i].name);
		return;
	}
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		len = (size_t)(e - p);
		if (len > 0 && len < sizeof(item)) {
			memcpy(item, p, len);
			item[len] = '\0';
			if (served_name(jd, item, name, sizeof(name)) == -1)
				log_warnx("store: model %s: no backend has it; not served", item);
			else if (!model_glob_any(name, jd->conf.models_exclude))
				served_add(s, name);
		}
		p = e;
	}
}

/* inferd's catalog: [{name, family, parameter_size, quantization, context_length, ...}]. */
const char *
store_on_catalog(struct jobd *jd, const cJSON *m)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(m, "models"), *e, *b;
	struct store *s = &jd->store;
	struct store_model *nc;
	size_t n = 0, off;

	if (!cJSON_IsArray(arr))
		return "catalog without models";
	if ((nc = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*nc))) == NULL)
		return NULL;
	cJSON_ArrayForEach(e, arr) {
		const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(e, "context_length");
		struct store_model *x = &nc[n];

		copy_str(x->name, sizeof(x->name), e, "name");
		if (x->name[0] == '\0' || n >= STORE_CATALOG_MAX)
			continue;
		copy_str(x->family, sizeof(x->family), e, "family");
		copy_str(x->psize, sizeof(x->psize), e, "parameter_size");
		copy_str(x->quant, sizeof(x->quant), e, "quantization");
		x->ctx = cJSON_IsNumber(ctx) && ctx->valuedouble > 0 && ctx->valuedouble < 1e9 ?
		    (long)ctx->valuedouble : 0;
		x->completion = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "completion"));
		x->cloud = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "cloud"));
		off = 0;
		cJSON_ArrayForEach(b, cJSON_GetObjectItemCaseSensitive(e, "backends"))
			if (cJSON_IsString(b) && off + strlen(b->valuestring) + 2 < sizeof(x->backends))
				off += (size_t)snprintf(x->backends + off, sizeof(x->backends) - off,
				    "%s%s", off ? " " : "", b->valuestring);
		n++;
	}
	free(s->cat);
	s->cat = nc;
	s->ncat = n;
	s->have = 1;
	store_apply(jd);
	log_info("store: catalog of %zu model(s), %zu served", s->ncat, s->nserved);
	announce_changed(jd);
	return NULL;
}

/* Ask inferd for its catalog (on connect; it also sends changes unasked). */
void
store_ask_catalog(struct jobd *jd)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL || !cJSON_AddStringToObject(m, "op", "catalog")) {
		cJSON_Delete(m);
		return;
	}
	spoke_send(jd, SPOKE_INFERD, m);
}

static const struct model_price *
price_of(struct jobd *jd, const char *model)
{
	const char *names[MODEL_PRICES_MAX];
	size_t i;
	int k;

	for (i = 0; i < jd->store.nprices; i++)
		names[i] = jd->store.prices[i].name;
	k = model_find(jd->conf.infer_backend, model, names, jd->store.nprices);
	return k < 0 ? NULL : &jd->store.prices[k];
}

/* A model's minimum price and rate, the defaults when model_prices has none. */
void
store_model_price(struct jobd *jd, const char *model, int64_t *min_sats, double *per1k)
{
	const struct model_price *p = price_of(jd, model);

	*min_sats = p ? p->min_sats : jd->conf.min_price_sats;
	*per1k = p ? p->per1k : jd->conf.price_per_1k_tokens;
}

/*
 * The config as price.c reads it (min_price_sats, price_per_1k_tokens)
 * with the model's pair in it. A view for one call: valid until the next
 * call or a reload.
 */
const struct conf *
store_price(struct jobd *jd, const char *model)
{
	int64_t min;
	double rate;

	store_model_price(jd, model, &min, &rate);
	jd->store.pconf = jd->conf;
	jd->store.pconf.min_price_sats = (int)min;
	jd->store.pconf.price_per_1k_tokens = rate;
	return &jd->store.pconf;
}

long
store_context_length(struct jobd *jd, const char *model)
{
	struct store_model *m = jd->store.have ? cat_find(&jd->store, model) : NULL;

	return m ? m->ctx : 0;
}

/* The most a job of this model may generate: max_tokens, and the context. */
int
store_max_tokens(struct jobd *jd, const char *model)
{
	long ctx = store_context_length(jd, model);

	return ctx > 0 && ctx < jd->conf.max_tokens ? (int)ctx : jd->conf.max_tokens;
}

static int
served_find(struct jobd *jd, const char *asked)
{
	const char *names[STORE_SERVED_MAX];
	size_t i;

	for (i = 0; i < jd->store.nserved; i++)
		names[i] = jd->store.served[i];
	return model_find(jd->conf.infer_backend, asked, names, jd->store.nserved);
}

static int
asks_default(const char *asked)
{
	return asked[0] == '\0' || strcasecmp(asked, "default") == 0;
}

/* Is asked (a model param) one we sell? No param and "default" are. */
int
store_serves(struct jobd *jd, const char *asked)
{
	return asks_default(asked) || served_find(jd, asked) >= 0;
}

static void
served_words(struct jobd *jd, char *buf, size_t len, size_t max, int priced)
{
	size_t i, off = 0;
	int64_t min;
	double rate;

	buf[0] = '\0';
	for (i = 0; i < jd->store.nserved && i < max && off < len; i++) {
		store_model_price(jd, jd->store.served[i], &min, &rate);
		if (priced)
			off += (size_t)snprintf(buf + off, len - off, "%s%s (%lld sats min + "
			    "%g/1k tok)", i ? ", " : "", jd->store.served[i], (long long)min, rate);
		else
			off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? ", " : "",
			    jd->store.served[i]);
	}
	if (jd->store.nserved > max && off < len)
		snprintf(buf + off, len - off, ", and %zu more in our announcement",
		    jd->store.nserved - max);
}

/* "a (3 sats min + 2/1k tok), b (...)": the served set in words, at most max names. */
void
store_served_words(struct jobd *jd, char *buf, size_t len, size_t max)
{
	served_words(jd, buf, len, max, 1);
}

/*
 * Set the job's model from what it asked. -1 with the public error (the
 * served set) when we do not sell it.
 */
int
store_choose(struct jobd *jd, struct job *j, char *err, size_t errlen)
{
	char list[JOBD_MAX_ERRMSG];
	int k, priced, n;
	size_t max;

	if (asks_default(j->req.asked_model)) {
		if (jd->store.nserved > 0)
			snprintf(j->req.model, sizeof(j->req.model), "%s", jd->store.served[0]);
		return 0;
	}
	if ((k = served_find(jd, j->req.asked_model)) >= 0) {
		snprintf(j->req.model, sizeof(j->req.model), "%s", jd->store.served[k]);
		return 0;
	}
	/* What fits: prices, else names only, else fewer names. */
	for (priced = 1; priced >= 0; priced--)
		for (max = STORE_LIST_NAMES; max > (priced ? STORE_LIST_NAMES - 1 : 0); max--) {
			served_words(jd, list, sizeof(list), max, priced);
			n = snprintf(err, errlen, "model \"%.*s\" is not served here; served: %s",
			    (int)utf8_cut(j->req.asked_model, strlen(j->req.asked_model), 48),
			    j->req.asked_model, list);
			if (n >= 0 && (size_t)n < errlen)
				return -1;
		}
	err[utf8_cut(err, strlen(err), errlen - 1)] = '\0';
	return -1;
}

/* Cap max_tokens by the model's context less the (estimated) prompt. */
void
store_cap_tokens(struct jobd *jd, struct job *j)
{
	long ctx = store_context_length(jd, j->req.model), room;

	if (ctx <= 0 || j->prompt == NULL)
		return;
	room = ctx - (long)price_estimate_tokens(strlen(j->prompt));
	if (room < 1)
		room = 1;
	if (j->req.max_tokens > room)
		j->req.max_tokens = (int)room;
}

/*
 * Can a job of this model still run? Always before the first catalog and
 * with `models` unset (the default model, as before the storefront).
 */
int
store_available(struct jobd *jd, const char *model)
{
	if (!jd->store.have || jd->conf.models[0] == '\0')
		return 1;
	return served_find(jd, model) >= 0 && cat_resolve(jd, model) != NULL;
}

/*
 * An untargeted plain request for a model we do not sell: another DVM
 * may sell it, so it is ignored (and counted), not answered. Encrypted
 * requests are addressed to us and are answered after decryption.
 */
int
store_skip_untargeted(struct jobd *jd, const struct event *ev)
{
	const cJSON *t;

	if (event_tag_find(ev, "p") != NULL || event_tag_find(ev, "encrypted") != NULL)
		return 0;
	cJSON_ArrayForEach(t, ev->tags) {
		const char *n = tag_item(t, 0), *p = tag_item(t, 1), *v = tag_item(t, 2);

		if (n && p && strcmp(n, "param") == 0 && strcmp(p, "model") == 0)
			return !store_serves(jd, v ? v : "");
	}
	return 0;
}

static cJSON *
model_json(struct jobd *jd, const char *name, const struct store_model *m, int served)
{
	cJSON *o = cJSON_CreateObject();
	int64_t min;
	double rate;

	if (o == NULL)
		return NULL;
	store_model_price(jd, name, &min, &rate);
	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddBoolToObject(o, "served", served);
	cJSON_AddBoolToObject(o, "default", served && jd->store.nserved &&
	    strcmp(jd->store.served[0], name) == 0);
	cJSON_AddNumberToObject(o, "min_price_sats", (double)min);
	cJSON_AddNumberToObject(o, "price_per_1k_tokens", rate);
	cJSON_AddNumberToObject(o, "max_tokens", store_max_tokens(jd, name));
	cJSON_AddNumberToObject(o, "context_length", m ? (double)m->ctx : 0);
	cJSON_AddStringToObject(o, "family", m ? m->family : "");
	cJSON_AddStringToObject(o, "parameter_size", m ? m->psize : "");
	cJSON_AddStringToObject(o, "quantization", m ? m->quant : "");
	cJSON_AddStringToObject(o, "backends", m ? m->backends : "");
	return o;
}

/* Served models first (display order), then the rest of the catalog. */
cJSON *
store_models_json(struct jobd *jd, int served_only)
{
	struct store *s = &jd->store;
	cJSON *arr = cJSON_CreateArray();
	size_t i;

	for (i = 0; arr != NULL && i < s->nserved; i++)
		cJSON_AddItemToArray(arr, model_json(jd, s->served[i],
		    s->have ? cat_find(s, s->served[i]) : NULL, 1));
	for (i = 0; arr != NULL && !served_only && i < s->ncat; i++)
		if (served_find(jd, s->cat[i].name) < 0)
			cJSON_AddItemToArray(arr, model_json(jd, s->cat[i].name, &s->cat[i], 0));
	return arr;
}

void
store_free(struct store *s)
{
	free(s->cat);
	s->cat = NULL;
	s->ncat = 0;
}

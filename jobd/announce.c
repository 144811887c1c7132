/*
 * announce.c: what tells clients we exist and what we sell.
 *
 * - The NIP-89 handler announcement (kind 31990, d "sellcompute", a k tag
 *   per job kind). Its content keeps the keys of the first version (name,
 *   about, model, pricing, max_tokens, max_prompt_bytes, encryption,
 *   encryptionSupported) and adds the storefront: default_model, models[],
 *   nip90Params (every entry with both required and values: nostrdvm's
 *   bot indexes both), amount "flexible" (Noogle and Amethyst disagree on
 *   the unit of a number), supportsEncryption (Amethyst, nostrdvm),
 *   picture and lud16. Kept under ANNOUNCE_MAX bytes by dropping the
 *   per-model details first, then models from the end of the list.
 * - When: at start and on going online (once the first catalog is in, or
 *   at once when only the default model is sold), after a SIGHUP or a
 *   catalog change that changes the content (a hash of it), at most once a
 *   minute for those, and once a day so created_at stays fresh.
 * - A kind-11998 heartbeat every heartbeat_interval while online (d links
 *   it to the announcement; expiration one interval ahead; queue depth and
 *   whether we take jobs), none while offline.
 * - A kind-7007 ping for us is answered with a kind-7000 "pong" feedback
 *   (nostrdvm's convention), through the requests' rate limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "encoding.h"
#include "jobd.h"
#include "log.h"
#include "loop.h"

#define ANNOUNCE_D		"sellcompute"
#define ANNOUNCE_MAX		8000	/* bytes of content (NIP-11's example limit is 8196) */
#define ANNOUNCE_MIN_GAP	60	/* s between republishes on changes */
#define ANNOUNCE_REFRESH	86400	/* s: republish anyway */
#define ANNOUNCE_WAIT_CATALOG	30	/* s to wait for inferd's catalog at start */
#define ANNOUNCE_TICK_MS	5000
#define ABOUT_MAX		1500

static void
param_entry(cJSON *params, const char *name, const char *desc)
{
	cJSON *o = cJSON_AddObjectToObject(params, name);

	cJSON_AddBoolToObject(o, "required", 0);
	cJSON_AddArrayToObject(o, "values");
	cJSON_AddStringToObject(o, "description", desc);
}

/* detail 2: every field; 1: names and prices; 0: names only. At most n models. */
static char *
content_build(struct jobd *jd, int detail, size_t n)
{
	cJSON *c = cJSON_CreateObject(), *p, *enc, *params, *mp, *vals, *models, *m, *arr;
	char about[ABOUT_MAX + CONF_MAX_STR + 64], words[ABOUT_MAX], desc[160];
	char *out;
	size_t i = 0;

	if (c == NULL || (arr = store_models_json(jd, 1)) == NULL) {
		cJSON_Delete(c);
		return NULL;
	}
	store_served_words(jd, words, sizeof(words), n < 20 ? n : 20);
	snprintf(about, sizeof(about), "%s. Models: %s. Choose one with "
	    "[\"param\",\"model\",NAME].", jd->conf.about, words);
	cJSON_AddStringToObject(c, "name", jd->conf.name);
	cJSON_AddStringToObject(c, "about", about);
	if (jd->conf.picture[0])
		cJSON_AddStringToObject(c, "picture", jd->conf.picture);
	if (jd->conf.lud16[0])
		cJSON_AddStringToObject(c, "lud16", jd->conf.lud16);
	cJSON_AddStringToObject(c, "amount", "flexible");
	cJSON_AddStringToObject(c, "model", jd->store.nserved ? jd->store.served[0] :
	    jd->conf.model);
	cJSON_AddStringToObject(c, "default_model", jd->store.nserved ? jd->store.served[0] :
	    jd->conf.model);
	p = cJSON_AddObjectToObject(c, "pricing");
	cJSON_AddStringToObject(p, "mode", jd->conf.wallet == WALLET_NONE ? "free" :
	    conf_payment_mode_name(jd->conf.payment_mode));
	cJSON_AddStringToObject(p, "unit", "sat");
	cJSON_AddNumberToObject(p, "min_price_sats", jd->conf.min_price_sats);
	cJSON_AddNumberToObject(p, "price_per_1k_tokens", jd->conf.price_per_1k_tokens);
	cJSON_AddNumberToObject(c, "max_tokens", jd->conf.max_tokens);
	cJSON_AddNumberToObject(c, "max_prompt_bytes", jd->conf.max_prompt_bytes);
	enc = cJSON_AddArrayToObject(c, "encryption");
	cJSON_AddItemToArray(enc, cJSON_CreateString("nip04"));
	cJSON_AddItemToArray(enc, cJSON_CreateString("nip44"));
	cJSON_AddBoolToObject(c, "encryptionSupported", 1);
	cJSON_AddBoolToObject(c, "supportsEncryption", 1);
	models = cJSON_AddArrayToObject(c, "models");
	params = cJSON_AddObjectToObject(c, "nip90Params");
	mp = cJSON_AddObjectToObject(params, "model");
	cJSON_AddBoolToObject(mp, "required", 0);
	vals = cJSON_AddArrayToObject(mp, "values");
	snprintf(desc, sizeof(desc), "default %s", cJSON_GetObjectItemCaseSensitive(c,
	    "default_model")->valuestring);
	cJSON_AddStringToObject(mp, "description", desc);
	cJSON_ArrayForEach(m, arr) {
		const char *name = cJSON_GetObjectItemCaseSensitive(m, "name")->valuestring;

		if (i++ >= n)
			break;
		cJSON_AddItemToArray(vals, cJSON_CreateString(name));
		cJSON_DeleteItemFromObjectCaseSensitive(m, "served");
		cJSON_DeleteItemFromObjectCaseSensitive(m, "default");
		cJSON_DeleteItemFromObjectCaseSensitive(m, "backends");
		if (detail < 2) {
			cJSON_DeleteItemFromObjectCaseSensitive(m, "family");
			cJSON_DeleteItemFromObjectCaseSensitive(m, "parameter_size");
			cJSON_DeleteItemFromObjectCaseSensitive(m, "quantization");
			cJSON_DeleteItemFromObjectCaseSensitive(m, "context_length");
		}
		if (detail < 1) {
			cJSON_DeleteItemFromObjectCaseSensitive(m, "max_tokens");
			cJSON_DeleteItemFromObjectCaseSensitive(m, "min_price_sats");
			cJSON_DeleteItemFromObjectCaseSensitive(m, "price_per_1k_tokens");
		}
		cJSON_AddItemReferenceToArray(models, m);
	}
	snprintf(desc, sizeof(desc), "1..%d", jd->conf.max_tokens);
	param_entry(params, "max_tokens", desc);
	param_entry(params, "temperature", "0..2");
	param_entry(params, "top_k", "0..100000");
	param_entry(params, "top_p", "0..1");
	param_entry(params, "frequency_penalty", "-2..2");
	out = cJSON_PrintUnformatted(c);
	cJSON_Delete(c);
	cJSON_Delete(arr);
	return out;
}

/* The content, trimmed to ANNOUNCE_MAX: details first, then the list's tail. */
char *
announce_content(struct jobd *jd)
{
	size_t n = jd->store.nserved ? jd->store.nserved : 1;
	int detail = 2;
	char *s;

	for (;;) {
		if ((s = content_build(jd, detail, n)) == NULL || strlen(s) <= ANNOUNCE_MAX)
			return s;
		free(s);
		if (detail > 0)
			detail--;
		else if (n > 1)
			n = n > 8 ? n * 3 / 4 : n - 1;
		else
			return NULL;
	}
}

static void
content_hash(const char *s, char hex[65])
{
	uint8_t md[32];
	unsigned mdlen = 0;

	if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
		hex[0] = '\0';
		return;
	}
	hex_encode(md, 32, hex);
}

static int
can_send(struct jobd *jd)
{
	return jd->online && jd->spokes[SPOKE_RELAYD].connected;
}

/* Sign and send the announcement now (when online and relayd is there). */
void
announce_now(struct jobd *jd)
{
	struct event ev;
	char *content, kind[16];
	size_t i;

	jd->ann.pending = 1;
	if (!can_send(jd))
		return;
	if ((content = announce_content(jd)) == NULL) {
		log_warnx("announce: cannot build the content");
		return;
	}
	if (event_init(&ev, 31990, content, 0) == -1) {
		free(content);
		return;
	}
	content_hash(content, jd->ann.hash);
	free(content);
	event_add_tagv(&ev, "d", ANNOUNCE_D, NULL, NULL);
	for (i = 0; i < jd->conf.njob_kinds; i++) {
		snprintf(kind, sizeof(kind), "%d", jd->conf.job_kinds[i]);
		event_add_tagv(&ev, "k", kind, NULL, NULL);
	}
	if (publish_signed(jd, &ev, 1) == 0) {
		jd->ann.pending = 0;
		jd->ann.last = now_unix();
		log_info("announce: published (%zu model(s))", jd->store.nserved);
	}
}

/* The content may have changed (catalog, SIGHUP): republish if it did. */
void
announce_changed(struct jobd *jd)
{
	char *content = announce_content(jd), hash[65];

	if (content == NULL)
		return;
	content_hash(content, hash);
	free(content);
	if (strcmp(hash, jd->ann.hash) != 0)
		jd->ann.pending = 1;
	if (jd->ann.pending && now_unix() - jd->ann.last >= ANNOUNCE_MIN_GAP)
		announce_now(jd);
}

/* Going online (or relayd back while online): announce, once the catalog is in. */
void
announce_online(struct jobd *jd)
{
	jd->ann.pending = 1;
	if (jd->store.have || jd->conf.models[0] == '\0' ||
	    now_unix() - jd->ann.started >= ANNOUNCE_WAIT_CATALOG)
		announce_now(jd);
}

static void
heartbeat(struct jobd *jd)
{
	struct event ev;
	char exp[32], q[32], content[96];
	int depth = job_queue_depth(jd), accepting = depth < jd->conf.max_queue;

	snprintf(exp, sizeof(exp), "%lld", (long long)(now_unix() + jd->conf.heartbeat_interval));
	snprintf(q, sizeof(q), "%d", depth);
	snprintf(content, sizeof(content), "{\"status\":\"online\",\"queue\":%d,\"accepting\":%s}",
	    depth, accepting ? "true" : "false");
	if (event_init(&ev, 11998, content, 0) == -1)
		return;
	event_add_tagv(&ev, "d", ANNOUNCE_D, NULL, NULL);
	event_add_tagv(&ev, "status", "online", NULL, NULL);
	event_add_tagv(&ev, "expiration", exp, NULL, NULL);
	event_add_tagv(&ev, "queue", q, NULL, NULL);
	event_add_tagv(&ev, "accepting", accepting ? "yes" : "no", NULL, NULL);
	/* Not stored: a beat re-sent after a restart would say something stale. */
	publish_signed(jd, &ev, 0);
}

static void
beat_tick(struct loop *l, void *arg)
{
	struct jobd *jd = arg;

	jd->ann.beat_timer = loop_add_timer(l, (uint64_t)jd->conf.heartbeat_interval * 1000,
	    beat_tick, jd);
	if (can_send(jd))
		heartbeat(jd);
}

static void
announce_tick(struct loop *l, void *arg)
{
	struct jobd *jd = arg;
	int64_t now = now_unix();

	jd->ann.timer = loop_add_timer(l, ANNOUNCE_TICK_MS, announce_tick, jd);
	if (!can_send(jd))
		return;
	if (jd->ann.last == 0 || now - jd->ann.last >= ANNOUNCE_REFRESH)
		announce_online(jd);
	else if (jd->ann.pending && now - jd->ann.last >= ANNOUNCE_MIN_GAP)
		announce_now(jd);
	if (jd->ann.beat_timer == 0) {	/* first beat as soon as we can send */
		heartbeat(jd);
		jd->ann.beat_timer = loop_add_timer(l, (uint64_t)jd->conf.heartbeat_interval *
		    1000, beat_tick, jd);
	}
}

void
announce_start(struct jobd *jd)
{
	jd->ann.started = now_unix();
	jd->ann.timer = loop_add_timer(jd->loop, ANNOUNCE_TICK_MS, announce_tick, jd);
}

void
announce_stop(struct jobd *jd)
{
	if (jd->ann.timer)
		loop_cancel_timer(jd->loop, jd->ann.timer);
	if (jd->ann.beat_timer)
		loop_cancel_timer(jd->loop, jd->ann.beat_timer);
	jd->ann.timer = jd->ann.beat_timer = 0;
}

/* A kind-7007 ping p-tagged to us: a 7000 pong, rate limited like requests. */
void
announce_on_ping(struct jobd *jd, const struct event *ev, const char *relay)
{
	struct event out;
	const cJSON *p = event_tag_find(ev, "p");

	if (!jd->online || p == NULL || tag_item(p, 1) == NULL ||
	    strcmp(tag_item(p, 1), jd->kp.pkhex) != 0)
		return;
	if (ev->created_at < now_unix() - jd->conf.max_request_age || event_verify(ev) == -1)
		return;
	if (!ratelimit_take(&jd->rl, ev->pubhex, jd->conf.rate_limit_per_min, now_ms()))
		return;
	if (event_init(&out, 7000, "alive and kicking", 0) == -1)
		return;
	event_add_tagv(&out, "status", "pong", "alive and kicking", NULL);
	event_add_tagv(&out, "e", ev->idhex, relay && relay[0] ? relay : NULL, NULL);
	event_add_tagv(&out, "p", ev->pubhex, NULL, NULL);
	publish_signed(jd, &out, 0);
}

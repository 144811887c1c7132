/*
 * request.c: the kind-5050 job request, plain or encrypted (NIP-90
 * "Encrypted params": the i and param tags move into an encrypted JSON
 * array in content; the outer tags are p and encrypted), and the two relay
 * messages that carry it: REQ for its replies, then EVENT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "nip04.h"
#include "nip44.h"
#include "dvmreq.h"

static cJSON *
tag_new(const char *a, const char *b, const char *c)
{
	cJSON *t = cJSON_CreateArray();

	if (t == NULL)
		return NULL;
	cJSON_AddItemToArray(t, cJSON_CreateString(a));
	cJSON_AddItemToArray(t, cJSON_CreateString(b));
	if (c != NULL)
		cJSON_AddItemToArray(t, cJSON_CreateString(c));
	if (cJSON_GetArraySize(t) != (c != NULL ? 3 : 2)) {
		cJSON_Delete(t);
		return NULL;
	}
	return t;
}

/* The input and params, as the tag list both forms start from. */
static cJSON *
request_inner_tags(const struct opts *o)
{
	cJSON *tags = cJSON_CreateArray(), *t;
	size_t i;

	if (tags == NULL || (t = tag_new("i", o->prompt, "text")) == NULL)
		goto fail;
	cJSON_AddItemToArray(tags, t);
	for (i = 0; i < o->nparams; i++) {
		if ((t = tag_new("param", o->params[i][0], o->params[i][1])) == NULL)
			goto fail;
		cJSON_AddItemToArray(tags, t);
	}
	return tags;
fail:
	cJSON_Delete(tags);
	return NULL;
}

static char *
request_encrypt(struct session *s, const char *plain)
{
	const struct opts *o = s->o;
	char *out = NULL;
	size_t len = strlen(plain);

	if (o->enc == ENC_NIP04) {
		if (nip04_encrypt(o->key.sk, o->to, plain, len, &out) == -1)
			return NULL;
		return out;
	}
	if (len > NIP44_MAX_PLAIN ||
	    nip44_conversation_key(o->key.sk, o->to, s->nip44_ck) == -1 ||
	    nip44_encrypt(s->nip44_ck, plain, len, NULL, &out) == -1)
		return NULL;
	return out;
}

static int
request_add_tags(struct event *ev, const cJSON *tags)
{
	const cJSON *t, *v;
	const char *vals[8];
	size_t n;

	cJSON_ArrayForEach(t, tags) {
		n = 0;
		cJSON_ArrayForEach(v, t)
			if (n < 8)
				vals[n++] = v->valuestring;
		if (event_add_tag(ev, vals, n) == -1)
			return -1;
	}
	return 0;
}

/* The outer tags every form carries: p, relays, bid. */
static int
request_add_outer(struct session *s)
{
	const struct opts *o = s->o;
	const char *vals[REQ_MAX_RELAYS + 1];
	char hex[65], bid[32];
	size_t i;

	if (o->has_to) {
		hex_encode(o->to, 32, hex);
		if (event_add_tagv(&s->req, "p", hex, NULL, NULL) == -1)
			return -1;
	}
	vals[0] = "relays";
	for (i = 0; i < o->nrelays; i++)
		vals[i + 1] = o->relays[i];
	if (event_add_tag(&s->req, vals, o->nrelays + 1) == -1)
		return -1;
	if (o->bid_sats >= 0) {
		snprintf(bid, sizeof(bid), "%lld", o->bid_sats * 1000);
		if (event_add_tagv(&s->req, "bid", bid, NULL, NULL) == -1)
			return -1;
	}
	return 0;
}

int
request_build(struct session *s, char *err, size_t errlen)
{
	const struct opts *o = s->o;
	static const char *const encrypted[] = { "encrypted" };
	cJSON *inner;
	char *plain = NULL, *content = NULL;
	int r = -1;

	if ((inner = request_inner_tags(o)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (o->enc != ENC_NONE) {
		if ((plain = cJSON_PrintUnformatted(inner)) == NULL ||
		    (content = request_encrypt(s, plain)) == NULL) {
			snprintf(err, errlen, "cannot encrypt the request (too long?)");
			goto done;
		}
	}
	if (event_init(&s->req, o->kind, content != NULL ? content : "", 0) == -1) {
		snprintf(err, errlen, "out of memory");
		goto done;
	}
	if ((o->enc == ENC_NONE ? request_add_tags(&s->req, inner) :
	    event_add_tag(&s->req, encrypted, 1)) == -1 ||
	    request_add_outer(s) == -1 || event_sign(&s->req, &o->key) == -1) {
		snprintf(err, errlen, "cannot build or sign the request");
		goto done;
	}
	r = 0;
done:
	free(plain);
	free(content);
	cJSON_Delete(inner);
	return r;
}

/* ["REQ", sub, {"kinds":[6050 (kind+1000), 7000], "#e":[id]}] */
char *
request_req_msg(const struct session *s)
{
	cJSON *m = cJSON_CreateArray(), *f = cJSON_CreateObject();
	cJSON *kinds = cJSON_CreateArray(), *e = cJSON_CreateArray();
	char *out = NULL;

	if (m == NULL || f == NULL || kinds == NULL || e == NULL) {
		cJSON_Delete(f);
		cJSON_Delete(kinds);
		cJSON_Delete(e);
		cJSON_Delete(m);
		return NULL;
	}
	cJSON_AddItemToArray(kinds, cJSON_CreateNumber(s->o->kind + 1000));
	cJSON_AddItemToArray(kinds, cJSON_CreateNumber(7000));
	cJSON_AddItemToArray(e, cJSON_CreateString(s->req.idhex));
	cJSON_AddItemToObject(f, "kinds", kinds);
	cJSON_AddItemToObject(f, "#e", e);
	cJSON_AddItemToArray(m, cJSON_CreateString("REQ"));
	cJSON_AddItemToArray(m, cJSON_CreateString("dvmreq"));
	cJSON_AddItemToArray(m, f);
	out = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return out;
}

char *
request_event_msg(const struct session *s)
{
	cJSON *m = cJSON_CreateArray(), *ev = event_to_cjson(&s->req);
	char *out;

	if (m == NULL || ev == NULL) {
		cJSON_Delete(m);
		cJSON_Delete(ev);
		return NULL;
	}
	cJSON_AddItemToArray(m, cJSON_CreateString("EVENT"));
	cJSON_AddItemToArray(m, ev);
	out = cJSON_PrintUnformatted(m);
	cJSON_Delete(m);
	return out;
}

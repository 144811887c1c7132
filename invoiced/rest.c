/*
 * rest.c: what every wallet backend with a JSON-over-HTTP API (LNbits, the
 * Spark bridge, LND) does alike: one request with the key header, the answer
 * parsed, a failure described in one line, the caller's callback run once
 * and its context freed, and the result's verdict from the HTTP status.
 * A backend (lnbits.c, spark.c) keeps only what differs: its paths, its
 * request bodies and the fields it reads (struct rest_kind).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlm.h"
#include "encoding.h"
#include "log.h"
#include "invoiced.h"

#define REST_CONNECT_MS		5000L
#define REST_TIMEOUT_MS		15000L

struct rest_pending {
	const struct rest *api;
	void		(*handler)(struct rest_pending *, const struct rest_answer *);
	create_cb	 ccb;
	lookup_cb	 lcb;
	balance_cb	 bcb;
	rest_cb		 rcb;
	void		*arg;
};

/* 5xx (LNbits' 520 is its funding source failing), 429, 408, no answer: try later. */
static int
rest_retryable(const struct rest *api, const struct curlm_result *r, const cJSON *j)
{
	if (r->ok && api->kind->refused != NULL && api->kind->refused(r->status, j))
		return 0;
	return !r->ok || r->status >= 500 || r->status == 429 || r->status == 408;
}

/* "WHO: <transport error>", or "WHO: HTTP <status>[: <the body's error field>]". */
static void
rest_describe(const struct rest *api, const struct curlm_result *r, const cJSON *j,
    char *err, size_t errlen)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, api->kind->err_field);

	if (!r->ok)
		snprintf(err, errlen, "%s: %.200s", api->kind->who, r->error);
	else if (cJSON_IsString(f))
		snprintf(err, errlen, "%s: HTTP %ld: %.200s", api->kind->who, r->status,
		    f->valuestring);
	else
		snprintf(err, errlen, "%s: HTTP %ld", api->kind->who, r->status);
}

static void
rest_done(void *arg, struct curlm_xfer *x, const struct curlm_result *r)
{
	struct rest_pending *p = arg;
	struct rest_answer rep;
	cJSON *j = NULL;

	memset(&rep, 0, sizeof(rep));
	rep.ok = r->ok;
	rep.status = r->status;
	if (r->ok)
		j = cJSON_ParseWithLength(r->body, r->len);
	rep.json = j;
	rep.retryable = rest_retryable(p->api, r, j);
	rest_describe(p->api, r, j, rep.error, sizeof(rep.error));
	p->handler(p, &rep);
	cJSON_Delete(j);
	free(p);
}

static int
rest_ok(const struct rest_answer *r, long a, long b)
{
	return r->ok && (r->status == a || r->status == b);
}

/* LND sends the hash as base64 bytes: the hex of exactly 32 of them, or "". */
static const char *
rest_hash_hex(const char *b64, char hex[65])
{
	uint8_t *raw = NULL;
	size_t n = 0;

	hex[0] = '\0';
	if (b64_decode(b64, strlen(b64), &raw, &n) == 0 && n == 32)
		hex_encode(raw, 32, hex);
	free(raw);
	return hex;
}

static void
rest_created(struct rest_pending *p, const struct rest_answer *r)
{
	struct create_result res;
	const char *hash, *bolt11, *ref;
	char hex[65];
	int parsed = 0;

	memset(&res, 0, sizeof(res));
	if (rest_ok(r, 201, 200) && p->api->kind->created(r->json, &hash, &bolt11, &ref) == 0) {
		parsed = 1;
		if (p->api->kind->hash_base64)
			hash = ref = rest_hash_hex(hash, hex);
	}
	if (!rest_ok(r, 201, 200)) {
		res.retryable = r->retryable;
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	} else if (!parsed || strlen(hash) != 64 || strlen(bolt11) > BOLT11_MAX_LEN ||
	    ref[0] == '\0' || strlen(ref) >= sizeof(res.ref)) {
		snprintf(res.error, sizeof(res.error), "%s: malformed create response",
		    p->api->kind->who);
		res.retryable = 1;
	} else {
		res.ok = 1;
		snprintf(res.payment_hash, sizeof(res.payment_hash), "%s", hash);
		snprintf(res.bolt11, sizeof(res.bolt11), "%s", bolt11);
		snprintf(res.ref, sizeof(res.ref), "%s", ref);
	}
	p->ccb(&res, p->arg);
}

static void
rest_looked_up(struct rest_pending *p, const struct rest_answer *r)
{
	struct lookup_result res;

	memset(&res, 0, sizeof(res));
	if (rest_ok(r, 404, 404)) {
		/* The wallet does not know it: it cannot be paid. */
		res.ok = 1;
		res.state = LK_UNKNOWN;
	} else if (!rest_ok(r, 200, 200))
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	else if (p->api->kind->looked_up(r->json, &res) == -1) {
		if (res.error[0] == '\0')
			snprintf(res.error, sizeof(res.error), "%s: malformed lookup response",
			    p->api->kind->who);
	} else {
		res.ok = 1;
		if (res.state == LK_PAID && res.settled_at == 0)
			res.settled_at = now_unix();
	}
	p->lcb(&res, p->arg);
}

static void
rest_balanced(struct rest_pending *p, const struct rest_answer *r)
{
	struct balance_result res;

	memset(&res, 0, sizeof(res));
	if (!rest_ok(r, 200, 200))
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	else if (!cJSON_IsObject(r->json))
		snprintf(res.error, sizeof(res.error), "%s: malformed balance response",
		    p->api->kind->who);
	else {
		res.ok = 1;
		res.has_balance = p->api->kind->balanced(r->json, &res.balance_msat) == 0;
	}
	p->bcb(&res, p->arg);
}

/* One request; p is the caller's, and freed here if the request cannot start. */
static int
rest_start(const struct rest *api, const char *method, const char *path, const char *body,
    long timeout_ms, struct rest_pending *p)
{
	struct curlm_req rq;
	char url[REST_URL_MAX + 600];

	if ((size_t)snprintf(url, sizeof(url), "%s%s", api->base, path) >= sizeof(url)) {
		free(p);
		return -1;
	}
	p->api = api;
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.unix_socket = api->unix_path;
	rq.body = body;
	rq.accept = "application/json";
	if (api->key != NULL) {
		rq.hdr_name = api->kind->key_header != NULL ? api->kind->key_header : "X-Api-Key";
		rq.hdr_value = api->key;
	}
	rq.ca_pem = api->ca_pem;
	rq.ca_len = api->ca_len;
	rq.user_agent = "sellcompute-invoiced/1";
	rq.connect_ms = REST_CONNECT_MS;
	rq.total_ms = timeout_ms > 0 ? timeout_ms : REST_TIMEOUT_MS;
	rq.on_done = rest_done;
	rq.arg = p;
	if (curlm_start(api->cm, &rq) == NULL) {
		free(p);
		return -1;
	}
	return 0;
}

static struct rest_pending *
rest_pending_new(void (*handler)(struct rest_pending *, const struct rest_answer *), void *arg)
{
	struct rest_pending *p = calloc(1, sizeof(*p));

	if (p != NULL) {
		p->handler = handler;
		p->arg = arg;
	}
	return p;
}

static int
rest_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    create_cb cb, void *arg)
{
	const struct rest *api = be->priv;
	const struct rest_kind *k = api->kind;
	struct rest_pending *p = rest_pending_new(rest_created, arg);
	cJSON *body = k->create_body(amount_msat, memo, expiry);
	char *s = body != NULL ? cJSON_PrintUnformatted(body) : NULL;
	int rc = -1;

	cJSON_Delete(body);
	if (p != NULL && s != NULL) {
		p->ccb = cb;
		rc = rest_start(api, "POST", k->create_path, s, k->create_timeout_ms, p);
	} else
		free(p);
	free(s);
	return rc;
}

static int
rest_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	const struct rest *api = be->priv;
	struct rest_pending *p;
	char path[600];

	if (api->kind->lookup_path(hash, ref, path, sizeof(path)) == -1)
		return -1;
	if ((p = rest_pending_new(rest_looked_up, arg)) == NULL)
		return -1;
	p->lcb = cb;
	return rest_start(api, "GET", path, NULL, api->kind->lookup_timeout_ms, p);
}

static int
rest_balance(struct backend *be, balance_cb cb, void *arg)
{
	const struct rest *api = be->priv;
	const struct rest_kind *k = api->kind;
	struct rest_pending *p = rest_pending_new(rest_balanced, arg);

	if (p == NULL)
		return -1;
	p->bcb = cb;
	/* A POST always carries a JSON object, if only an empty one. */
	return rest_start(api, k->balance_method, k->balance_path,
	    strcmp(k->balance_method, "POST") == 0 ? "{}" : NULL, k->balance_timeout_ms, p);
}

static void
rest_called(struct rest_pending *p, const struct rest_answer *r)
{
	p->rcb(p->arg, r);
}

int
rest_call(const struct rest *api, const char *method, const char *path, const char *body,
    long timeout_ms, rest_cb cb, void *arg)
{
	struct rest_pending *p = rest_pending_new(rest_called, arg);

	if (p == NULL)
		return -1;
	p->rcb = cb;
	return rest_start(api, method, path, body, timeout_ms, p);
}

void
rest_free(struct rest *api)
{
	if (api == NULL)
		return;
	free(api->ca_pem);
	if (api->key != NULL) {
		explicit_bzero(api->key, strlen(api->key));
		free(api->key);
	}
	free(api->base);
	free(api->unix_path);
	free(api);
}

static int
rest_no_hold(struct backend *be, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s", ((const struct rest *)be->priv)->kind->no_hold);
	return 0;
}

static void
rest_backend_free(struct backend *be)
{
	rest_free(be->priv);
	free(be);
}

struct backend *
rest_backend_new(struct rest *api, char *err, size_t errlen)
{
	struct backend *be;
	size_t n = strlen(api->base);

	while (n > 0 && api->base[n - 1] == '/')
		api->base[--n] = '\0';
	if ((be = calloc(1, sizeof(*be))) == NULL) {
		snprintf(err, errlen, "out of memory");
		rest_free(api);
		return NULL;
	}
	be->name = api->kind->name;
	be->create = rest_create;
	be->lookup = rest_lookup;
	be->balance = rest_balance;
	be->free = rest_backend_free;
	if (api->kind->no_hold != NULL)
		be->hold_capable = rest_no_hold;
	be->priv = api;
	return be;
}

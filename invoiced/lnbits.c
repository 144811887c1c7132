/*
 * lnbits.c: the LNbits backend (payments.md §2.1).
 *
 *   POST /api/v1/payments {"out":false,"amount":sats,"unit":"sat","memo","expiry"} -> 201
 *   GET  /api/v1/payments/{hash} -> {"paid", "status", "details": {"amount": msat}}
 *   GET  /api/v1/wallet -> {"balance": msat}
 *
 * The invoice key travels in X-Api-Key and is never logged. A preimage in a
 * lookup is not proof (LNbits knows it before payment): only "paid" is.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "log.h"
#include "invoiced.h"

/* Creating may wait on the funding node; a lookup is a database read. */
#define LNBITS_CREATE_TIMEOUT_MS 15000
#define LNBITS_LOOKUP_TIMEOUT_MS 5000

struct lnbits {
	struct http	*http;
	char		*url;		/* without a trailing '/' */
	char		*key;
};

struct lnbits_call {
	struct lnbits	*lb;
	create_cb	 ccb;
	lookup_cb	 lcb;
	balance_cb	 bcb;
	void		*arg;
};

int
json_get_u64(const cJSON *o, const char *name, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.0e15 &&
	    v->valuedouble == (double)(uint64_t)v->valuedouble) {
		*out = (uint64_t)v->valuedouble;
		return 0;
	}
	/* Some bridges send 64-bit amounts as decimal strings. */
	if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
	    strspn(v->valuestring, "0123456789") == strlen(v->valuestring) &&
	    strlen(v->valuestring) <= 19) {
		*out = strtoull(v->valuestring, NULL, 10);
		return 0;
	}
	return -1;
}

/* LNbits errors are FastAPI's {"detail": "..."}; quote it. */
static void
lnbits_error(const struct http_resp *r, char *err, size_t errlen)
{
	http_describe_error(r, "lnbits", "detail", err, errlen);
}

/* 5xx (LNbits' 520 is its funding source failing), 429, no answer: try later. */
static int
lnbits_retryable(const struct http_resp *r)
{
	return !r->ok || r->status >= 500 || r->status == 429 || r->status == 408;
}

/* One authenticated request to the instance; the path starts with '/'. */
static int
lnbits_start(struct lnbits *lb, const char *method, const char *path, const char *body,
    long timeout_ms, http_cb cb, struct lnbits_call *c)
{
	struct http_req req;
	char url[1200];

	snprintf(url, sizeof(url), "%s%s", lb->url, path);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.body = body;
	req.hdr_name = "X-Api-Key";
	req.hdr_value = lb->key;
	req.timeout_ms = timeout_ms;
	return http_start(lb->http, &req, cb, c);
}

static void
lnbits_created(const struct http_resp *r, void *arg)
{
	struct lnbits_call *c = arg;
	struct create_result res;
	cJSON *j = NULL;
	const cJSON *h, *b;

	memset(&res, 0, sizeof(res));
	if (!r->ok || (r->status != 201 && r->status != 200)) {
		res.retryable = lnbits_retryable(r);
		lnbits_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	h = cJSON_GetObjectItemCaseSensitive(j, "payment_hash");
	/* Newer LNbits sends bolt11; older ones payment_request. */
	b = cJSON_GetObjectItemCaseSensitive(j, "bolt11");
	if (!cJSON_IsString(b))
		b = cJSON_GetObjectItemCaseSensitive(j, "payment_request");
	if (!cJSON_IsString(h) || strlen(h->valuestring) != 64 || !cJSON_IsString(b) ||
	    strlen(b->valuestring) > BOLT11_MAX_LEN) {
		snprintf(res.error, sizeof(res.error), "lnbits: malformed create response");
		res.retryable = 1;
		goto out;
	}
	res.ok = 1;
	snprintf(res.payment_hash, sizeof(res.payment_hash), "%s", h->valuestring);
	snprintf(res.bolt11, sizeof(res.bolt11), "%s", b->valuestring);
	snprintf(res.ref, sizeof(res.ref), "%s", h->valuestring);
out:
	cJSON_Delete(j);
	c->ccb(&res, c->arg);
	free(c);
}

static int
lnbits_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    create_cb cb, void *arg)
{
	struct lnbits *lb = be->priv;
	struct lnbits_call *c;
	char *body;
	cJSON *o;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->lb = lb;
	c->ccb = cb;
	c->arg = arg;
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "out", 0);
	cJSON_AddNumberToObject(o, "amount", (double)(amount_msat / 1000));
	cJSON_AddStringToObject(o, "unit", "sat");
	cJSON_AddStringToObject(o, "memo", memo);
	cJSON_AddNumberToObject(o, "expiry", expiry);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = body != NULL ? lnbits_start(lb, "POST", "/api/v1/payments", body,
	    LNBITS_CREATE_TIMEOUT_MS, lnbits_created, c) : -1;
	free(body);
	if (rc != 0)
		free(c);
	return rc;
}

static void
lnbits_looked_up(const struct http_resp *r, void *arg)
{
	struct lnbits_call *c = arg;
	struct lookup_result res;
	cJSON *j = NULL;
	const cJSON *paid, *status, *details;

	memset(&res, 0, sizeof(res));
	if (r->ok && r->status == 404) {
		/* The wallet does not know it: it cannot be paid. */
		res.ok = 1;
		res.state = LK_UNKNOWN;
		goto out;
	}
	if (!r->ok || r->status != 200) {
		lnbits_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	paid = cJSON_GetObjectItemCaseSensitive(j, "paid");
	status = cJSON_GetObjectItemCaseSensitive(j, "status");
	details = cJSON_GetObjectItemCaseSensitive(j, "details");
	if (!cJSON_IsBool(paid)) {
		snprintf(res.error, sizeof(res.error), "lnbits: malformed lookup response");
		goto out;
	}
	res.ok = 1;
	res.state = LK_PENDING;
	if (cJSON_IsTrue(paid)) {
		/* Paid needs the amount too: without details we cannot compare. */
		if (json_get_u64(details, "amount", &res.received_msat) != 0) {
			res.ok = 0;
			snprintf(res.error, sizeof(res.error), "lnbits: paid without details.amount");
			goto out;
		}
		res.state = LK_PAID;
		res.settled_at = now_unix();
	} else if (cJSON_IsString(status) && strcmp(status->valuestring, "failed") == 0)
		res.state = LK_FAILED;
out:
	cJSON_Delete(j);
	c->lcb(&res, c->arg);
	free(c);
}

static int
lnbits_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	struct lnbits *lb = be->priv;
	struct lnbits_call *c;
	char path[96];

	if (strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
		return -1;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->lb = lb;
	c->lcb = cb;
	c->arg = arg;
	snprintf(path, sizeof(path), "/api/v1/payments/%s", hash);
	if (lnbits_start(lb, "GET", path, NULL, LNBITS_LOOKUP_TIMEOUT_MS, lnbits_looked_up, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}

static void
lnbits_balanced(const struct http_resp *r, void *arg)
{
	struct lnbits_call *c = arg;
	struct balance_result res;
	cJSON *j = NULL;

	memset(&res, 0, sizeof(res));
	if (!r->ok || r->status != 200) {
		lnbits_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	res.ok = cJSON_IsObject(j);
	res.has_balance = json_get_u64(j, "balance", &res.balance_msat) == 0;
	if (!res.ok)
		snprintf(res.error, sizeof(res.error), "lnbits: malformed wallet response");
out:
	cJSON_Delete(j);
	c->bcb(&res, c->arg);
	free(c);
}

static int
lnbits_balance(struct backend *be, balance_cb cb, void *arg)
{
	struct lnbits *lb = be->priv;
	struct lnbits_call *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->lb = lb;
	c->bcb = cb;
	c->arg = arg;
	if (lnbits_start(lb, "GET", "/api/v1/wallet", NULL, LNBITS_LOOKUP_TIMEOUT_MS,
	    lnbits_balanced, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}

/* hold-invoices.md §5: LNbits shows a held payment as pending. */
static int
lnbits_hold_capable(struct backend *be, char *why, size_t whylen)
{
	snprintf(why, whylen, "LNbits cannot tell that a payment is held (it reads \"pending\"), "
	    "and settles or cancels only with an admin key and an LND funding source: "
	    "use wallet = lnd against that node");
	return 0;
}

static void
lnbits_free(struct backend *be)
{
	struct lnbits *lb = be->priv;

	if (lb->key != NULL) {
		explicit_bzero(lb->key, strlen(lb->key));
		free(lb->key);
	}
	free(lb->url);
	free(lb);
	free(be);
}

struct backend *
lnbits_new(const struct conf *cf, struct http *http, char *err, size_t errlen)
{
	struct backend *be;
	struct lnbits *lb;
	size_t n;

	if (cf->lnbits_url == NULL || (strncmp(cf->lnbits_url, "http://", 7) != 0 &&
	    strncmp(cf->lnbits_url, "https://", 8) != 0)) {
		snprintf(err, errlen, "lnbits_url must be an http:// or https:// URL");
		return NULL;
	}
	if (cf->lnbits_api_key_file == NULL || cf->lnbits_api_key_file[0] == '\0') {
		snprintf(err, errlen, "wallet = lnbits needs lnbits_api_key_file");
		return NULL;
	}
	be = calloc(1, sizeof(*be));
	lb = calloc(1, sizeof(*lb));
	if (be == NULL || lb == NULL || (lb->url = strdup(cf->lnbits_url)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (secret_file_read(cf->lnbits_api_key_file, 256, &lb->key, err, errlen) != 0)
		goto fail;
	if (lb->key[0] == '\0' || strcspn(lb->key, "\r\n: ") != strlen(lb->key)) {
		snprintf(err, errlen, "%s: not an LNbits API key", cf->lnbits_api_key_file);
		goto fail;
	}
	n = strlen(lb->url);
	while (n > 0 && lb->url[n - 1] == '/')
		lb->url[--n] = '\0';
	if (strncmp(lb->url, "http://", 7) == 0 && strncmp(lb->url + 7, "127.", 4) != 0 &&
	    strncmp(lb->url + 7, "localhost", 9) != 0 && strncmp(lb->url + 7, "[::1]", 5) != 0)
		log_warnx("lnbits_url is plain http to another host: the API key crosses the network in clear");
	lb->http = http;
	be->name = "lnbits";
	be->create = lnbits_create;
	be->lookup = lnbits_lookup;
	be->balance = lnbits_balance;
	be->free = lnbits_free;
	be->hold_capable = lnbits_hold_capable;
	be->priv = lb;
	return be;
fail:
	if (lb != NULL) {
		free(lb->key);
		free(lb->url);
	}
	free(lb);
	free(be);
	return NULL;
}

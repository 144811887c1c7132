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

#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "invoiced.h"

/* Creating may wait on the funding node; a lookup is a database read. */
#define LNBITS_CREATE_TIMEOUT_MS 15000
#define LNBITS_LOOKUP_TIMEOUT_MS 5000

/* LNbits errors are FastAPI's {"detail": "..."}. */
static const char lnbits_who[] = "lnbits", lnbits_err_field[] = "detail";

/* 5xx (LNbits' 520 is its funding source failing), 429, no answer: try later. */
static int
lnbits_retryable(const struct rest_reply *r)
{
	return !r->ok || r->status >= 500 || r->status == 429 || r->status == 408;
}

static void
lnbits_created(const struct rest_reply *r, const struct rest_call *c)
{
	struct create_result res;
	const cJSON *h, *b;

	memset(&res, 0, sizeof(res));
	h = cJSON_GetObjectItemCaseSensitive(r->json, "payment_hash");
	/* Newer LNbits sends bolt11; older ones payment_request. */
	b = cJSON_GetObjectItemCaseSensitive(r->json, "bolt11");
	if (!cJSON_IsString(b))
		b = cJSON_GetObjectItemCaseSensitive(r->json, "payment_request");
	if (!rest_status_is(r, 201, 200)) {
		res.retryable = lnbits_retryable(r);
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	} else if (!cJSON_IsString(h) || strlen(h->valuestring) != 64 || !cJSON_IsString(b) ||
	    strlen(b->valuestring) > BOLT11_MAX_LEN) {
		snprintf(res.error, sizeof(res.error), "lnbits: malformed create response");
		res.retryable = 1;
	} else {
		res.ok = 1;
		snprintf(res.payment_hash, sizeof(res.payment_hash), "%s", h->valuestring);
		snprintf(res.bolt11, sizeof(res.bolt11), "%s", b->valuestring);
		snprintf(res.ref, sizeof(res.ref), "%s", h->valuestring);
	}
	c->ccb(&res, c->arg);
}

static int
lnbits_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    create_cb cb, void *arg)
{
	const struct rest_call c = { .ccb = cb, .arg = arg };
	char *body;
	cJSON *o;
	int rc;

	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "out", 0);
	cJSON_AddNumberToObject(o, "amount", (double)(amount_msat / 1000));
	cJSON_AddStringToObject(o, "unit", "sat");
	cJSON_AddStringToObject(o, "memo", memo);
	cJSON_AddNumberToObject(o, "expiry", expiry);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = body != NULL ? rest_request(be->priv, "POST", "/api/v1/payments", body,
	    LNBITS_CREATE_TIMEOUT_MS, lnbits_created, &c) : -1;
	free(body);
	return rc;
}

static void
lnbits_looked_up(const struct rest_reply *r, const struct rest_call *c)
{
	struct lookup_result res;
	const cJSON *paid, *status, *details;

	memset(&res, 0, sizeof(res));
	paid = cJSON_GetObjectItemCaseSensitive(r->json, "paid");
	status = cJSON_GetObjectItemCaseSensitive(r->json, "status");
	details = cJSON_GetObjectItemCaseSensitive(r->json, "details");
	if (rest_status_is(r, 404, 404)) {
		/* The wallet does not know it: it cannot be paid. */
		res.ok = 1;
		res.state = LK_UNKNOWN;
	} else if (!rest_status_is(r, 200, 200))
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	else if (!cJSON_IsBool(paid))
		snprintf(res.error, sizeof(res.error), "lnbits: malformed lookup response");
	else if (!cJSON_IsTrue(paid)) {
		res.ok = 1;
		res.state = cJSON_IsString(status) && strcmp(status->valuestring, "failed") == 0 ?
		    LK_FAILED : LK_PENDING;
	} else if (jsonx_get_u64(details, "amount", &res.received_msat) != 0)
		/* Paid needs the amount too: without details we cannot compare. */
		snprintf(res.error, sizeof(res.error), "lnbits: paid without details.amount");
	else {
		res.ok = 1;
		res.state = LK_PAID;
		res.settled_at = now_unix();
	}
	c->lcb(&res, c->arg);
}

static int
lnbits_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	const struct rest_call c = { .lcb = cb, .arg = arg };
	char path[96];

	if (strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
		return -1;
	snprintf(path, sizeof(path), "/api/v1/payments/%s", hash);
	return rest_request(be->priv, "GET", path, NULL, LNBITS_LOOKUP_TIMEOUT_MS,
	    lnbits_looked_up, &c);
}

static void
lnbits_balanced(const struct rest_reply *r, const struct rest_call *c)
{
	struct balance_result res;

	memset(&res, 0, sizeof(res));
	if (!rest_status_is(r, 200, 200))
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	else if (!cJSON_IsObject(r->json))
		snprintf(res.error, sizeof(res.error), "lnbits: malformed wallet response");
	else {
		res.ok = 1;
		res.has_balance = jsonx_get_u64(r->json, "balance", &res.balance_msat) == 0;
	}
	c->bcb(&res, c->arg);
}

static int
lnbits_balance(struct backend *be, balance_cb cb, void *arg)
{
	const struct rest_call c = { .bcb = cb, .arg = arg };

	return rest_request(be->priv, "GET", "/api/v1/wallet", NULL, LNBITS_LOOKUP_TIMEOUT_MS,
	    lnbits_balanced, &c);
}

static void
lnbits_free(struct backend *be)
{
	struct rest *lb = be->priv;

	if (lb->key != NULL) {
		explicit_bzero(lb->key, strlen(lb->key));
		free(lb->key);
	}
	free(lb->base);
	free(lb);
	free(be);
}

struct backend *
lnbits_new(const struct conf *cf, struct curlm *cm, char *err, size_t errlen)
{
	struct backend *be;
	struct rest *lb;
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
	if (be == NULL || lb == NULL || (lb->base = strdup(cf->lnbits_url)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (secret_file_read(cf->lnbits_api_key_file, 256, &lb->key, err, errlen) != 0)
		goto fail;
	if (lb->key[0] == '\0' || strcspn(lb->key, "\r\n: ") != strlen(lb->key)) {
		snprintf(err, errlen, "%s: not an LNbits API key", cf->lnbits_api_key_file);
		goto fail;
	}
	n = strlen(lb->base);
	while (n > 0 && lb->base[n - 1] == '/')
		lb->base[--n] = '\0';
	if (strncmp(lb->base, "http://", 7) == 0 && strncmp(lb->base + 7, "127.", 4) != 0 &&
	    strncmp(lb->base + 7, "localhost", 9) != 0 && strncmp(lb->base + 7, "[::1]", 5) != 0)
		log_warnx("lnbits_url is plain http to another host: the API key crosses the network in clear");
	lb->cm = cm;
	lb->who = lnbits_who;
	lb->err_field = lnbits_err_field;
	lb->key_header = "X-Api-Key";
	be->name = "lnbits";
	be->create = lnbits_create;
	be->lookup = lnbits_lookup;
	be->balance = lnbits_balance;
	be->free = lnbits_free;
	be->priv = lb;
	return be;
fail:
	if (lb != NULL) {
		free(lb->key);
		free(lb->base);
	}
	free(lb);
	free(be);
	return NULL;
}

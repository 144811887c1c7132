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

/* The payment hash is also what a lookup names. */
static int
lnbits_created(const cJSON *j, const char **hash, const char **bolt11, const char **ref)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "payment_hash");
	/* Newer LNbits sends bolt11; older ones payment_request. */
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "bolt11");

	if (!cJSON_IsString(b))
		b = cJSON_GetObjectItemCaseSensitive(j, "payment_request");
	if (!cJSON_IsString(h) || !cJSON_IsString(b))
		return -1;
	*hash = *ref = h->valuestring;
	*bolt11 = b->valuestring;
	return 0;
}

static int
lnbits_looked_up(const cJSON *j, struct lookup_result *res)
{
	const cJSON *paid = cJSON_GetObjectItemCaseSensitive(j, "paid");
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(j, "status");

	if (!cJSON_IsBool(paid))
		return -1;
	if (cJSON_IsTrue(paid)) {
		/* Paid needs the amount too: without details we cannot compare. */
		if (jsonx_get_u64(cJSON_GetObjectItemCaseSensitive(j, "details"), "amount",
		    &res->received_msat) != 0) {
			snprintf(res->error, sizeof(res->error), "lnbits: paid without details.amount");
			return -1;
		}
		res->state = LK_PAID;
	} else
		res->state = cJSON_IsString(status) && strcmp(status->valuestring, "failed") == 0 ?
		    LK_FAILED : LK_PENDING;
	return 0;
}

static int
lnbits_balanced(const cJSON *j, uint64_t *msat)
{
	return jsonx_get_u64(j, "balance", msat);
}

static cJSON *
lnbits_create_body(uint64_t amount_msat, const char *memo, int expiry)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddBoolToObject(o, "out", 0);
	cJSON_AddNumberToObject(o, "amount", (double)(amount_msat / 1000));
	cJSON_AddStringToObject(o, "unit", "sat");
	cJSON_AddStringToObject(o, "memo", memo);
	cJSON_AddNumberToObject(o, "expiry", expiry);
	return o;
}

static int
lnbits_lookup_path(const char *hash, const char *ref, char *path, size_t len)
{
	if (strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
		return -1;
	snprintf(path, len, "/api/v1/payments/%s", hash);
	return 0;
}

/* LNbits errors are FastAPI's {"detail": "..."}. */
static const struct rest_kind lnbits_kind = {
	.name = "lnbits", .who = "lnbits", .err_field = "detail",
	.create_path = "/api/v1/payments", .create_body = lnbits_create_body,
	.created = lnbits_created, .create_timeout_ms = LNBITS_CREATE_TIMEOUT_MS,
	.lookup_path = lnbits_lookup_path, .looked_up = lnbits_looked_up,
	.lookup_timeout_ms = LNBITS_LOOKUP_TIMEOUT_MS,
	.balance_method = "GET", .balance_path = "/api/v1/wallet", .balanced = lnbits_balanced,
	.balance_timeout_ms = LNBITS_LOOKUP_TIMEOUT_MS,
	.no_hold = "LNbits cannot tell that a payment is held (it reads \"pending\"), and settles "
	    "or cancels only with an admin key and an LND funding source: use wallet = lnd "
	    "against that node",
};

struct backend *
lnbits_new(const struct conf *cf, struct curlm *cm, char *err, size_t errlen)
{
	const char *u = cf->lnbits_url;
	struct rest *lb;

	if (u == NULL || (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0) ||
	    strlen(u) >= REST_URL_MAX) {
		snprintf(err, errlen, "lnbits_url must be an http:// or https:// URL");
		return NULL;
	}
	if (cf->lnbits_api_key_file == NULL || cf->lnbits_api_key_file[0] == '\0') {
		snprintf(err, errlen, "wallet = lnbits needs lnbits_api_key_file");
		return NULL;
	}
	if ((lb = calloc(1, sizeof(*lb))) == NULL || (lb->base = strdup(u)) == NULL) {
		snprintf(err, errlen, "out of memory");
		rest_free(lb);
		return NULL;
	}
	lb->cm = cm;
	lb->kind = &lnbits_kind;
	if (secret_file_read(cf->lnbits_api_key_file, 256, &lb->key, err, errlen) != 0) {
		rest_free(lb);
		return NULL;
	}
	if (lb->key[0] == '\0' || strcspn(lb->key, "\r\n: ") != strlen(lb->key)) {
		snprintf(err, errlen, "%s: not an LNbits API key", cf->lnbits_api_key_file);
		rest_free(lb);
		return NULL;
	}
	if (strncmp(u, "http://", 7) == 0 && strncmp(u + 7, "127.", 4) != 0 &&
	    strncmp(u + 7, "localhost", 9) != 0 && strncmp(u + 7, "[::1]", 5) != 0)
		log_warnx("lnbits_url is plain http to another host: the API key crosses the network in clear");
	return rest_backend_new(lb, err, errlen);
}

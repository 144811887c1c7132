/*
 * spark.c: the Spark backend, HTTP to a bridge that runs the official Spark
 * SDK (scripts/spark-bridge/) with the endpoints and shapes of LNbits' Spark
 * sidecar (payments.md §1.4), so the LNbits sidecar works here too:
 *
 *   POST /v1/invoices {"amount_sats","memo","expiry_seconds"}
 *        -> {"checking_id","payment_request","payment_hash","status",...}
 *   GET  /v1/invoices/{checking_id} -> {"status","amount_msat",...}; 404 {"error"}
 *   POST /v1/balance -> {"balance_sats","balance_msat"} (decimal strings)
 *
 * spark_url is http://host:port or unix:/path (HTTP over a Unix socket);
 * empty means STATE_DIR/run/spark-bridge.sock, where scripts/dvm runs the bridge.
 * Paid means a status in LNbits' paid set, which the bridge only reports
 * once the exact incoming transfer is complete, AND amount_msat.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "invoiced.h"

#define SPARK_TIMEOUT_MS 30000	/* the SDK talks to remote operators */

static const char *paid_statuses[] = {
	"TRANSFER_COMPLETED", "LIGHTNING_PAYMENT_RECEIVED", "PAYMENT_PREIMAGE_RECOVERED",
};
static const char *failed_statuses[] = {
	"TRANSFER_FAILED", "TRANSFER_CREATION_FAILED", "PAYMENT_PREIMAGE_RECOVERING_FAILED",
	"REFUND_SIGNING_FAILED", "REFUND_SIGNING_COMMITMENTS_QUERYING_FAILED",
	"PAYMENT_PREIMAGE_QUERYING_FAILED", "HTLC_FAILED", "TRANSFER_CANCELED",
};

static int
in_set(const char *s, const char **set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, set[i]) == 0)
			return 1;
	return 0;
}

/* Lookups go by the bridge's checking_id. */
static int
spark_created(const cJSON *j, const char **hash, const char **bolt11, const char **ref)
{
	const cJSON *id = cJSON_GetObjectItemCaseSensitive(j, "checking_id");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "payment_request");
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "payment_hash");

	if (!cJSON_IsString(id) || !cJSON_IsString(pr) || !cJSON_IsString(h))
		return -1;
	*hash = h->valuestring;
	*bolt11 = pr->valuestring;
	*ref = id->valuestring;
	return 0;
}

static int
spark_looked_up(const cJSON *j, struct lookup_result *res)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "status");

	if (!cJSON_IsString(st))
		return -1;
	if (in_set(st->valuestring, paid_statuses, sizeof(paid_statuses) / sizeof(paid_statuses[0]))) {
		if (jsonx_get_u64(j, "amount_msat", &res->received_msat) != 0) {
			snprintf(res->error, sizeof(res->error), "spark bridge: paid without amount_msat");
			return -1;
		}
		res->state = LK_PAID;
	} else
		res->state = in_set(st->valuestring, failed_statuses,
		    sizeof(failed_statuses) / sizeof(failed_statuses[0])) ? LK_FAILED : LK_PENDING;
	return 0;
}

static int
spark_balanced(const cJSON *j, uint64_t *msat)
{
	uint64_t sats;

	if (jsonx_get_u64(j, "balance_msat", msat) == 0)
		return 0;
	if (jsonx_get_u64(j, "balance_sats", &sats) == 0 && sats < UINT64_MAX / 1000) {
		*msat = sats * 1000;
		return 0;
	}
	return -1;
}

static cJSON *
spark_create_body(uint64_t amount_msat, const char *memo, int expiry)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "amount_sats", (double)(amount_msat / 1000));
	cJSON_AddStringToObject(o, "memo", memo);
	cJSON_AddNumberToObject(o, "expiry_seconds", expiry);
	return o;
}

/* The bridge's id may hold anything: escape it into the path. */
static int
spark_lookup_path(const char *hash, const char *ref, char *path, size_t len)
{
	char *esc;

	if ((esc = curl_easy_escape(NULL, ref, 0)) == NULL)
		return -1;
	snprintf(path, len, "/v1/invoices/%s", esc);
	curl_free(esc);
	return 0;
}

/* The bridge answers errors as {"error": "..."}, like LNbits' Spark sidecar. */
static const struct rest_kind spark_kind = {
	.name = "spark", .who = "spark bridge", .err_field = "error",
	.create_path = "/v1/invoices", .create_body = spark_create_body,
	.created = spark_created, .create_timeout_ms = SPARK_TIMEOUT_MS,
	.lookup_path = spark_lookup_path, .looked_up = spark_looked_up,
	.lookup_timeout_ms = SPARK_TIMEOUT_MS,
	.balance_method = "POST", .balance_path = "/v1/balance", .balanced = spark_balanced,
	.balance_timeout_ms = SPARK_TIMEOUT_MS,
	.no_hold = "Spark has no way to cancel a held payment (it returns to the payer only "
	    "when the HTLC expires), so a failed job could not refund at once",
};

struct backend *
spark_new(const struct conf *cf, struct curlm *cm, char *err, size_t errlen)
{
	struct rest *sp = calloc(1, sizeof(*sp));
	const char *u = cf->spark_url;
	char path[CONF_MAX_STR + 64];

	if (sp == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	sp->cm = cm;
	sp->kind = &spark_kind;
	if (u == NULL || u[0] == '\0') {
		/* The default: the bridge scripts/dvm runs beside the stages. */
		if (conf_sock_path(cf, "spark-bridge.sock", path, sizeof(path)) == -1) {
			snprintf(err, errlen, "state_dir too long for the spark-bridge socket");
			goto fail;
		}
		sp->unix_path = strdup(path);
		sp->base = strdup("http://localhost");
	} else if (strncmp(u, "unix:", 5) == 0) {
		if (u[5] != '/') {
			snprintf(err, errlen, "spark_url: unix: needs an absolute path");
			goto fail;
		}
		sp->unix_path = strdup(u + 5);
		sp->base = strdup("http://localhost");
	} else if ((strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) &&
	    strlen(u) < REST_URL_MAX) {
		sp->base = strdup(u);
	} else {
		snprintf(err, errlen, "spark_url must be http://, https:// or unix:/path");
		goto fail;
	}
	if (sp->base == NULL || (strcmp(sp->base, "http://localhost") == 0 && sp->unix_path == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cf->spark_api_key_file != NULL && cf->spark_api_key_file[0] != '\0' &&
	    secret_file_read(cf->spark_api_key_file, 256, &sp->key, err, errlen) != 0)
		goto fail;
	return rest_backend_new(sp, err, errlen);
fail:
	rest_free(sp);
	return NULL;
}

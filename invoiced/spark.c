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

#include "keys.h"
#include "log.h"
#include "invoiced.h"

#define SPARK_TIMEOUT_MS 30000	/* the SDK talks to remote operators */

struct spark {
	struct http	*http;
	char		*base;		/* http://... without a trailing '/' */
	char		*unix_path;	/* or NULL */
	char		*key;		/* X-Api-Key, or NULL */
};

struct spark_call {
	create_cb	 ccb;
	lookup_cb	 lcb;
	balance_cb	 bcb;
	void		*arg;
};

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

/* The bridge answers errors as {"error": "..."}, like LNbits' Spark sidecar. */
static void
spark_error(const struct http_resp *r, char *err, size_t errlen)
{
	http_describe_error(r, "spark bridge", "error", err, errlen);
}

static int
spark_start(struct spark *sp, const char *method, const char *path, const char *body,
    http_cb cb, struct spark_call *c)
{
	struct http_req req;
	char url[1400];

	snprintf(url, sizeof(url), "%s%s", sp->base, path);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.unix_socket = sp->unix_path;
	req.body = body;
	if (sp->key != NULL) {
		req.hdr_name = "X-Api-Key";
		req.hdr_value = sp->key;
	}
	req.timeout_ms = SPARK_TIMEOUT_MS;
	return http_start(sp->http, &req, cb, c);
}

static void
spark_created(const struct http_resp *r, void *arg)
{
	struct spark_call *c = arg;
	struct create_result res;
	cJSON *j = NULL;
	const cJSON *id, *pr, *h;

	memset(&res, 0, sizeof(res));
	if (!r->ok || (r->status != 200 && r->status != 201)) {
		res.retryable = !r->ok || r->status >= 500;
		spark_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	id = cJSON_GetObjectItemCaseSensitive(j, "checking_id");
	pr = cJSON_GetObjectItemCaseSensitive(j, "payment_request");
	h = cJSON_GetObjectItemCaseSensitive(j, "payment_hash");
	if (!cJSON_IsString(id) || strlen(id->valuestring) >= sizeof(res.ref) ||
	    id->valuestring[0] == '\0' || !cJSON_IsString(pr) ||
	    strlen(pr->valuestring) > BOLT11_MAX_LEN || !cJSON_IsString(h) ||
	    strlen(h->valuestring) != 64) {
		snprintf(res.error, sizeof(res.error), "spark bridge: malformed create response");
		res.retryable = 1;
		goto out;
	}
	res.ok = 1;
	snprintf(res.ref, sizeof(res.ref), "%s", id->valuestring);
	snprintf(res.bolt11, sizeof(res.bolt11), "%s", pr->valuestring);
	snprintf(res.payment_hash, sizeof(res.payment_hash), "%s", h->valuestring);
out:
	cJSON_Delete(j);
	c->ccb(&res, c->arg);
	free(c);
}

static int
spark_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    create_cb cb, void *arg)
{
	struct spark_call *c;
	cJSON *o;
	char *body;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->ccb = cb;
	c->arg = arg;
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "amount_sats", (double)(amount_msat / 1000));
	cJSON_AddStringToObject(o, "memo", memo);
	cJSON_AddNumberToObject(o, "expiry_seconds", expiry);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	rc = body != NULL ? spark_start(be->priv, "POST", "/v1/invoices", body, spark_created, c) : -1;
	free(body);
	if (rc != 0)
		free(c);
	return rc;
}

static void
spark_looked_up(const struct http_resp *r, void *arg)
{
	struct spark_call *c = arg;
	struct lookup_result res;
	cJSON *j = NULL;
	const cJSON *st;

	memset(&res, 0, sizeof(res));
	if (r->ok && r->status == 404) {
		res.ok = 1;
		res.state = LK_UNKNOWN;
		goto out;
	}
	if (!r->ok || r->status != 200) {
		spark_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	st = cJSON_GetObjectItemCaseSensitive(j, "status");
	if (!cJSON_IsString(st)) {
		snprintf(res.error, sizeof(res.error), "spark bridge: malformed lookup response");
		goto out;
	}
	res.ok = 1;
	res.state = LK_PENDING;
	if (in_set(st->valuestring, paid_statuses, sizeof(paid_statuses) / sizeof(paid_statuses[0]))) {
		if (json_get_u64(j, "amount_msat", &res.received_msat) != 0) {
			res.ok = 0;
			snprintf(res.error, sizeof(res.error), "spark bridge: paid without amount_msat");
			goto out;
		}
		res.state = LK_PAID;
		res.settled_at = now_unix();
	} else if (in_set(st->valuestring, failed_statuses,
	    sizeof(failed_statuses) / sizeof(failed_statuses[0])))
		res.state = LK_FAILED;
out:
	cJSON_Delete(j);
	c->lcb(&res, c->arg);
	free(c);
}

static int
spark_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	struct spark_call *c;
	char path[600], *esc;
	int rc;

	if ((esc = curl_easy_escape(NULL, ref, 0)) == NULL)
		return -1;
	snprintf(path, sizeof(path), "/v1/invoices/%s", esc);
	curl_free(esc);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->lcb = cb;
	c->arg = arg;
	if ((rc = spark_start(be->priv, "GET", path, NULL, spark_looked_up, c)) != 0)
		free(c);
	return rc;
}

static void
spark_balanced(const struct http_resp *r, void *arg)
{
	struct spark_call *c = arg;
	struct balance_result res;
	cJSON *j = NULL;
	uint64_t sats;

	memset(&res, 0, sizeof(res));
	if (!r->ok || r->status != 200) {
		spark_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	res.ok = cJSON_IsObject(j);
	if (json_get_u64(j, "balance_msat", &res.balance_msat) == 0)
		res.has_balance = 1;
	else if (json_get_u64(j, "balance_sats", &sats) == 0 && sats < UINT64_MAX / 1000) {
		res.balance_msat = sats * 1000;
		res.has_balance = 1;
	}
	if (!res.ok)
		snprintf(res.error, sizeof(res.error), "spark bridge: malformed balance response");
out:
	cJSON_Delete(j);
	c->bcb(&res, c->arg);
	free(c);
}

static int
spark_balance(struct backend *be, balance_cb cb, void *arg)
{
	struct spark_call *c;
	int rc;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->bcb = cb;
	c->arg = arg;
	if ((rc = spark_start(be->priv, "POST", "/v1/balance", "{}", spark_balanced, c)) != 0)
		free(c);
	return rc;
}

/* hold-invoices.md §4: the SDK can settle (claimHTLC) but has no cancel. */
static int
spark_hold_capable(struct backend *be, char *why, size_t whylen)
{
	snprintf(why, whylen, "Spark has no way to cancel a held payment (it returns to the payer "
	    "only when the HTLC expires), so a failed job could not refund at once");
	return 0;
}

static void
spark_free(struct backend *be)
{
	struct spark *sp = be->priv;

	if (sp->key != NULL) {
		explicit_bzero(sp->key, strlen(sp->key));
		free(sp->key);
	}
	free(sp->base);
	free(sp->unix_path);
	free(sp);
	free(be);
}

struct backend *
spark_new(const struct conf *cf, struct http *http, char *err, size_t errlen)
{
	struct backend *be = calloc(1, sizeof(*be));
	struct spark *sp = calloc(1, sizeof(*sp));
	const char *u = cf->spark_url;
	char path[CONF_MAX_STR + 64];
	size_t n;

	if (be == NULL || sp == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
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
	} else if (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) {
		sp->base = strdup(u);
	} else {
		snprintf(err, errlen, "spark_url must be http://, https:// or unix:/path");
		goto fail;
	}
	if (sp->base == NULL || (strcmp(sp->base, "http://localhost") == 0 && sp->unix_path == NULL)) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	n = strlen(sp->base);
	while (n > 0 && sp->base[n - 1] == '/')
		sp->base[--n] = '\0';
	if (cf->spark_api_key_file != NULL && cf->spark_api_key_file[0] != '\0' &&
	    secret_file_read(cf->spark_api_key_file, 256, &sp->key, err, errlen) != 0)
		goto fail;
	sp->http = http;
	be->name = "spark";
	be->create = spark_create;
	be->lookup = spark_lookup;
	be->balance = spark_balance;
	be->free = spark_free;
	be->hold_capable = spark_hold_capable;
	be->priv = sp;
	return be;
fail:
	if (sp != NULL) {
		free(sp->base);
		free(sp->unix_path);
		free(sp->key);
	}
	free(sp);
	free(be);
	return NULL;
}

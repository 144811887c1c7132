/*
 * lnd.c: the LND backend, LND's REST proxy (payments.md §2.2,
 * hold-invoices.md §3), on rest.c's request/answer skeleton:
 *
 *   POST /v1/invoices {"value_msat","memo","expiry","private"} -> {"r_hash"
 *        (base64), "payment_request", "add_index", "payment_addr"}
 *   GET  /v1/invoice/{hex hash} -> Invoice {"state": OPEN|ACCEPTED|SETTLED|
 *        CANCELED, "amt_paid_msat", "settle_date", "htlcs": [...]};
 *        unknown -> 404 {"code":5,"message":"unable to locate invoice"}
 *   GET  /v1/invoices?num_max_invoices=1&reversed=true (health)
 *   POST /v2/invoices/hodl {"hash","value_msat","memo","expiry","private"}
 *        -> {"payment_request","add_index","payment_addr"}
 *   POST /v2/invoices/settle {"preimage"} -> {}
 *   POST /v2/invoices/cancel {"payment_hash"} -> {}
 *
 * 64-bit integers travel as decimal strings and bytes as standard base64,
 * as LND's grpc-gateway marshals them. The macaroon goes hex-encoded in
 * Grpc-Metadata-macaroon and is never logged. It is meant to be an invoice
 * macaroon, which may not call getinfo or the balance endpoints, so health
 * lists the newest invoice instead (invoices:read) and reports no balance;
 * the network is checked on every invoice's prefix, as for every backend.
 * LND's self-signed tls.cert is the only CA trusted for lnd_url. Paid
 * means SETTLED and amt_paid_msat, never a preimage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "encoding.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "invoiced.h"

/* Creating may wait on the node's database; lookups are reads. */
#define LND_CREATE_TIMEOUT_MS	15000
#define LND_LOOKUP_TIMEOUT_MS	5000
/* LND's own macaroons are ~250 bytes; this leaves room for caveats. */
#define LND_MAX_MACAROON	512
#define LND_MAX_CERT		(64 * 1024)

/*
 * LND answers {"code","message","details"}, HTTP 500 for most of them
 * (code 2, a plain Go error), including a missing, wrong or too weak
 * macaroon (lnd#2332) and state errors. Retrying cannot fix those.
 */
static int
lnd_refused(long status, const cJSON *j)
{
	static const char *const perm[] = {
		"macaroon", "verification failed", "permission denied", "already exists",
		"invoice already", "unable to locate invoice", "invoice still open",
	};
	const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
	size_t i;

	if (status < 500 || !cJSON_IsString(m))
		return 0;
	for (i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
		if (strstr(m->valuestring, perm[i]) != NULL)
			return 1;
	return 0;
}

/*
 * int64s are strings on this API. "private": route hints, without which a
 * node with only private channels issues invoices nobody can pay (LNbits'
 * LND backend asks for them too).
 */
static cJSON *
lnd_create_body(uint64_t amount_msat, const char *memo, int expiry)
{
	cJSON *o = cJSON_CreateObject();
	char msat[24], exp[16];

	snprintf(msat, sizeof(msat), "%llu", (unsigned long long)amount_msat);
	snprintf(exp, sizeof(exp), "%d", expiry);
	cJSON_AddStringToObject(o, "value_msat", msat);
	cJSON_AddStringToObject(o, "memo", memo);
	cJSON_AddStringToObject(o, "expiry", exp);
	cJSON_AddTrueToObject(o, "private");
	return o;
}

/* r_hash is base64 (rest.c turns it into hex: kind.hash_base64). */
static int
lnd_created(const cJSON *j, const char **hash, const char **bolt11, const char **ref)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(j, "r_hash");
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(j, "payment_request");

	if (!cJSON_IsString(h) || !cJSON_IsString(pr))
		return -1;
	*hash = *ref = h->valuestring;
	*bolt11 = pr->valuestring;
	return 0;
}

static int
lnd_lookup_path(const char *hash, const char *ref, char *path, size_t len)
{
	if (!hex_is_lower(hash, 64))
		return -1;
	snprintf(path, len, "/v1/invoice/%s", hash);
	return 0;
}

static int
lnd_height(const cJSON *o, const char *name, uint32_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 4e9)
		return -1;
	*out = (uint32_t)v->valuedouble;
	return 0;
}

/* The held HTLC that expires first sets the hold's deadline. */
static void
lnd_htlc_expiry(const cJSON *inv, struct lookup_result *res)
{
	const cJSON *h, *st;
	uint32_t ex, acc;
	uint64_t at;

	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(inv, "htlcs")) {
		st = cJSON_GetObjectItemCaseSensitive(h, "state");
		if (!cJSON_IsString(st) || strcmp(st->valuestring, "ACCEPTED") != 0 ||
		    lnd_height(h, "expiry_height", &ex) != 0 || lnd_height(h, "accept_height", &acc) != 0)
			continue;
		if (res->htlc_expiry_height == 0 || ex < res->htlc_expiry_height) {
			res->htlc_expiry_height = ex;
			res->htlc_accept_height = acc;
			res->htlc_accept_time = jsonx_get_u64(h, "accept_time", &at) == 0 &&
			    at < (uint64_t)INT64_MAX ? (int64_t)at : 0;
		}
	}
}

static int
lnd_looked_up(const cJSON *j, struct lookup_result *res)
{
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(j, "state");
	uint64_t sd = 0;

	if (!cJSON_IsString(st) || jsonx_get_u64(j, "amt_paid_msat", &res->received_msat) != 0)
		return -1;
	if (strcmp(st->valuestring, "SETTLED") == 0) {
		res->state = LK_PAID;
		if (jsonx_get_u64(j, "settle_date", &sd) == 0 && sd < (uint64_t)INT64_MAX)
			res->settled_at = (int64_t)sd;
	} else if (strcmp(st->valuestring, "ACCEPTED") == 0) {
		res->state = LK_HELD;
		lnd_htlc_expiry(j, res);
	} else if (strcmp(st->valuestring, "CANCELED") == 0)
		res->state = LK_FAILED;
	else if (strcmp(st->valuestring, "OPEN") == 0)
		res->state = LK_PENDING;
	else {
		snprintf(res->error, sizeof(res->error), "lnd: unknown invoice state %.32s",
		    st->valuestring);
		return -1;
	}
	return 0;
}

/* The invoice list says the node answers; an invoice macaroon shows no balance. */
static int
lnd_balanced(const cJSON *j, uint64_t *msat)
{
	return -1;
}

static const struct rest_kind lnd_kind = {
	.name = "lnd", .who = "lnd", .err_field = "message",
	.create_path = "/v1/invoices", .create_body = lnd_create_body,
	.created = lnd_created, .create_timeout_ms = LND_CREATE_TIMEOUT_MS,
	.lookup_path = lnd_lookup_path, .looked_up = lnd_looked_up,
	.lookup_timeout_ms = LND_LOOKUP_TIMEOUT_MS,
	.balance_method = "GET", .balance_path = "/v1/invoices?num_max_invoices=1&reversed=true",
	.balanced = lnd_balanced, .balance_timeout_ms = LND_LOOKUP_TIMEOUT_MS,
	.key_header = "Grpc-Metadata-macaroon", .hash_base64 = 1, .refused = lnd_refused,
};

/* A hold call in flight. */
struct lnd_call {
	create_cb	 ccb;
	hold_cb		 hcb;
	void		*arg;
	char		 hash[65];	/* hold_create: our hash, hex */
};

static void
lnd_hold_created(void *arg, const struct rest_answer *r)
{
	struct lnd_call *c = arg;
	struct create_result res;
	const cJSON *pr = cJSON_GetObjectItemCaseSensitive(r->json, "payment_request");

	memset(&res, 0, sizeof(res));
	if (!r->ok || r->status != 200) {
		res.retryable = r->retryable;
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	} else if (!cJSON_IsString(pr) || strlen(pr->valuestring) > BOLT11_MAX_LEN) {
		/* The answer has no r_hash: the hash is ours. */
		snprintf(res.error, sizeof(res.error), "lnd: malformed hodl response");
		res.retryable = 1;
	} else {
		res.ok = 1;
		snprintf(res.bolt11, sizeof(res.bolt11), "%s", pr->valuestring);
		snprintf(res.payment_hash, sizeof(res.payment_hash), "%s", c->hash);
		snprintf(res.ref, sizeof(res.ref), "%s", c->hash);
	}
	c->ccb(&res, c->arg);
	free(c);
}

static int
lnd_hold_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    const uint8_t hash[32], create_cb cb, void *arg)
{
	struct lnd_call *c = calloc(1, sizeof(*c));
	char *b64 = NULL, *body = NULL;
	cJSON *o = NULL;
	int rc = -1;

	if (c == NULL)
		return -1;
	c->ccb = cb;
	c->arg = arg;
	hex_encode(hash, 32, c->hash);
	if ((o = lnd_create_body(amount_msat, memo, expiry)) != NULL &&
	    b64_encode(hash, 32, &b64) == 0 && cJSON_AddStringToObject(o, "hash", b64) != NULL &&
	    (body = cJSON_PrintUnformatted(o)) != NULL)
		rc = rest_call(be->priv, "POST", "/v2/invoices/hodl", body, LND_CREATE_TIMEOUT_MS,
		    lnd_hold_created, c);
	cJSON_Delete(o);
	free(b64);
	free(body);
	if (rc != 0)
		free(c);
	return rc;
}

/* settle and cancel answer {} on success, idempotently. */
static void
lnd_held_done(void *arg, const struct rest_answer *r)
{
	struct lnd_call *c = arg;
	struct hold_result res;

	memset(&res, 0, sizeof(res));
	if (r->ok && r->status == 200)
		res.ok = 1;
	else {
		res.retryable = r->retryable;
		snprintf(res.error, sizeof(res.error), "%s", r->error);
	}
	c->hcb(&res, c->arg);
	free(c);
}

static int
lnd_hold_post(struct backend *be, const char *path, const char *field,
    const uint8_t bytes[32], hold_cb cb, void *arg)
{
	struct lnd_call *c = calloc(1, sizeof(*c));
	char *b64 = NULL, *body = NULL;
	cJSON *o = cJSON_CreateObject();
	int rc = -1;

	if (c == NULL || o == NULL) {
		free(c);
		cJSON_Delete(o);
		return -1;
	}
	c->hcb = cb;
	c->arg = arg;
	/* A reference, not a copy: the preimage's copies are the ones wiped here. */
	if (b64_encode(bytes, 32, &b64) == 0 &&
	    cJSON_AddItemToObject(o, field, cJSON_CreateStringReference(b64)) &&
	    (body = cJSON_PrintUnformatted(o)) != NULL)
		rc = rest_call(be->priv, "POST", path, body, LND_CREATE_TIMEOUT_MS, lnd_held_done, c);
	cJSON_Delete(o);
	/* The settle body carries the preimage. */
	if (b64 != NULL) {
		OPENSSL_cleanse(b64, strlen(b64));
		free(b64);
	}
	if (body != NULL) {
		OPENSSL_cleanse(body, strlen(body));
		free(body);
	}
	if (rc != 0)
		free(c);
	return rc;
}

static int
lnd_hold_settle(struct backend *be, const uint8_t preimage[32], hold_cb cb, void *arg)
{
	return lnd_hold_post(be, "/v2/invoices/settle", "preimage", preimage, cb, arg);
}

static int
lnd_hold_cancel(struct backend *be, const char *payment_hash, hold_cb cb, void *arg)
{
	uint8_t hash[32];

	if (!hex_is_lower(payment_hash, 64) || hex_decode(payment_hash, 64, hash, 32) != 0)
		return -1;
	return lnd_hold_post(be, "/v2/invoices/cancel", "payment_hash", hash, cb, arg);
}

/* invoicesrpc is in every release build (hold-invoices.md §3.1). */
static int
lnd_hold_capable(struct backend *be, char *why, size_t whylen)
{
	return 1;
}

/*
 * LND writes macaroons as binary files; some tools store their hex. A v2
 * macaroon starts with byte 0x02, so a file of hex digits only is hex.
 * Only hex text loses a trailing newline: a binary macaroon ends in
 * signature bytes, and one in a hundred of those is a newline or a space.
 */
static int
lnd_read_macaroon(const char *path, char **hex, char *err, size_t errlen)
{
	uint8_t *raw;
	size_t n, i;
	int rc = -1;

	if (secret_file_read_bin(path, 2 * LND_MAX_MACAROON + 2, &raw, &n, err, errlen) != 0)
		return -1;
	while (n > 0 && raw[0] != 0x02 &&
	    (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
		n--;
	for (i = 0; i < n && raw[i] != 0 && strchr("0123456789abcdefABCDEF", raw[i]) != NULL; i++)
		;
	if (n > 0 && i == n && n % 2 == 0 && n <= 2 * LND_MAX_MACAROON) {
		if ((*hex = malloc(n + 1)) != NULL) {
			for (i = 0; i < n; i++)
				(*hex)[i] = (char)(raw[i] | 0x20);	/* lowercase */
			(*hex)[n] = '\0';
			rc = 0;
		}
	} else if (n > 0 && n <= LND_MAX_MACAROON && raw[0] == 0x02) {
		if ((*hex = malloc(2 * n + 1)) != NULL) {
			hex_encode(raw, n, *hex);
			rc = 0;
		}
	} else {
		snprintf(err, errlen, "%s: not an LND macaroon (binary v2 up to %d bytes, or its hex)",
		    path, LND_MAX_MACAROON);
		OPENSSL_cleanse(raw, 2 * LND_MAX_MACAROON + 3);
		free(raw);
		return -1;
	}
	if (rc != 0)
		snprintf(err, errlen, "out of memory");
	OPENSSL_cleanse(raw, 2 * LND_MAX_MACAROON + 3);
	free(raw);
	return rc;
}

/* tls.cert is public, but it is the only CA this connection trusts. */
static int
lnd_read_cert(const char *path, char **pem, size_t *len, char *err, size_t errlen)
{
	FILE *f;
	size_t n;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errlen, "lnd_tls_cert_file %s: cannot open", path);
		return -1;
	}
	if ((*pem = malloc(LND_MAX_CERT + 1)) == NULL) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = fread(*pem, 1, LND_MAX_CERT + 1, f);
	fclose(f);
	(*pem)[n > LND_MAX_CERT ? LND_MAX_CERT : n] = '\0';
	if (n > LND_MAX_CERT || strstr(*pem, "-----BEGIN CERTIFICATE-----") == NULL) {
		snprintf(err, errlen, "lnd_tls_cert_file %s: %s", path, n > LND_MAX_CERT ?
		    "larger than 64 KiB" : "not a PEM certificate (LND's tls.cert)");
		free(*pem);
		*pem = NULL;
		return -1;
	}
	*len = n;
	return 0;
}

static int
lnd_is_loopback(const char *url)
{
	const char *h = strstr(url, "://") + 3;

	return strncmp(h, "127.", 4) == 0 || strncmp(h, "localhost", 9) == 0 ||
	    strncmp(h, "[::1]", 5) == 0;
}

static int
lnd_setup(struct rest *ln, const struct conf *cf, char *err, size_t errlen)
{
	const char *u = cf->lnd_url;
	int https = strncmp(u, "https://", 8) == 0;

	if (!https && strncmp(u, "http://", 7) != 0) {
		snprintf(err, errlen, "lnd_url must be an https:// URL "
		    "(LND's REST port, e.g. https://127.0.0.1:8080)");
		return -1;
	}
	if (cf->lnd_macaroon_file[0] == '\0') {
		snprintf(err, errlen, "wallet = lnd needs lnd_macaroon_file (an invoice macaroon)");
		return -1;
	}
	if (https && cf->lnd_tls_cert_file[0] == '\0') {
		snprintf(err, errlen, "an https lnd_url needs lnd_tls_cert_file (LND's tls.cert)");
		return -1;
	}
	if (strlen(u) >= REST_URL_MAX || (ln->base = strdup(u)) == NULL) {
		snprintf(err, errlen, "lnd_url too long, or out of memory");
		return -1;
	}
	if (lnd_read_macaroon(cf->lnd_macaroon_file, &ln->key, err, errlen) != 0)
		return -1;
	if (https && lnd_read_cert(cf->lnd_tls_cert_file, &ln->ca_pem, &ln->ca_len, err, errlen) != 0)
		return -1;
	if (!https && !lnd_is_loopback(u))
		log_warnx("lnd_url is plain http to another host: the macaroon crosses the network in clear");
	return 0;
}

struct backend *
lnd_new(const struct conf *cf, struct curlm *cm, char *err, size_t errlen)
{
	struct rest *ln = calloc(1, sizeof(*ln));
	struct backend *be;

	if (ln == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ln->cm = cm;
	ln->kind = &lnd_kind;
	if (lnd_setup(ln, cf, err, errlen) != 0) {
		rest_free(ln);
		return NULL;
	}
	if ((be = rest_backend_new(ln, err, errlen)) == NULL)
		return NULL;
	be->hold_capable = lnd_hold_capable;
	be->hold_create = lnd_hold_create;
	be->hold_settle = lnd_hold_settle;
	be->hold_cancel = lnd_hold_cancel;
	return be;
}

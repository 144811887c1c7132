/*
 * lnd.c: the LND backend, LND's REST proxy (payments.md §2.2,
 * hold-invoices.md §3):
 *
 *   POST /v1/invoices {"value_msat","memo","expiry","private"} -> {"r_hash" (base64),
 *        "payment_request", "add_index", "payment_addr"}
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
 * lists the newest invoice instead (invoices:read) and checks its network;
 * it reports no balance. LND's self-signed tls.cert is the only CA trusted
 * for lnd_url. Paid means SETTLED and amt_paid_msat, never a preimage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "encoding.h"
#include "keys.h"
#include "log.h"
#include "invoiced.h"

/* Creating may wait on the node's database; lookups are reads. */
#define LND_CREATE_TIMEOUT_MS	15000
#define LND_LOOKUP_TIMEOUT_MS	5000
/* Hex of this fits http.c's header line; LND's own macaroons are ~250 bytes. */
#define LND_MAX_MACAROON	512
#define LND_MAX_CERT		(64 * 1024)

struct lnd {
	struct http	*http;
	char		*url;		/* without a trailing '/' */
	char		*macaroon;	/* hex */
	char		*cert;		/* PEM, or NULL for http:// */
	size_t		 certlen;
	const char	*currency;	/* the bolt11 prefix every invoice must carry */
};

struct lnd_call {
	struct lnd	*ln;
	create_cb	 ccb;
	lookup_cb	 lcb;
	balance_cb	 bcb;
	hold_cb		 hcb;
	void		*arg;
	char		 hash[65];	/* hold_create: our hash, hex */
};

/*
 * LND answers {"code","message","details"}, HTTP 500 for most of them
 * (code 2, a plain Go error), including a missing, wrong or too weak
 * macaroon (lnd#2332). Those are configuration errors: retrying cannot help.
 */
static int
lnd_retryable(const struct http_resp *r)
{
	cJSON *j;
	const cJSON *m;
	int perm = 0;

	if (!r->ok)
		return 1;
	if (r->status < 500)
		return r->status == 429 || r->status == 408;
	j = cJSON_ParseWithLength(r->body, r->len);
	m = cJSON_GetObjectItemCaseSensitive(j, "message");
	if (cJSON_IsString(m))
		perm = strstr(m->valuestring, "macaroon") != NULL ||
		    strstr(m->valuestring, "verification failed") != NULL ||
		    strstr(m->valuestring, "permission denied") != NULL ||
		    strstr(m->valuestring, "already exists") != NULL ||
		    strstr(m->valuestring, "invoice already") != NULL ||
		    strstr(m->valuestring, "unable to locate invoice") != NULL ||
		    strstr(m->valuestring, "invoice still open") != NULL;
	cJSON_Delete(j);
	return !perm;
}

static void
lnd_error(const struct http_resp *r, char *err, size_t errlen)
{
	http_describe_error(r, "lnd", "message", err, errlen);
}

static int
lnd_start(struct lnd *ln, const char *method, const char *path, const char *body,
    long timeout_ms, http_cb cb, struct lnd_call *c)
{
	struct http_req req;
	char url[1200];

	snprintf(url, sizeof(url), "%s%s", ln->url, path);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.body = body;
	req.hdr_name = "Grpc-Metadata-macaroon";
	req.hdr_value = ln->macaroon;
	req.ca_pem = ln->cert;
	req.ca_len = ln->certlen;
	req.timeout_ms = timeout_ms;
	return http_start(ln->http, &req, cb, c);
}

static struct lnd_call *
lnd_call_new(struct backend *be, void *arg)
{
	struct lnd_call *c = calloc(1, sizeof(*c));

	if (c != NULL) {
		c->ln = be->priv;
		c->arg = arg;
	}
	return c;
}

/*
 * A JSON body with every value a string (int64s are strings on this API),
 * plus "private": true when asked. The values are referenced, not copied,
 * so a preimage has one copy the caller wipes.
 */
static char *
lnd_body(const char *const *kv, int private)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	for (; o != NULL && kv[0] != NULL; kv += 2)
		cJSON_AddItemToObject(o, kv[0], cJSON_CreateStringReference(kv[1]));
	if (o != NULL && private)
		cJSON_AddTrueToObject(o, "private");
	s = o != NULL ? cJSON_PrintUnformatted(o) : NULL;
	cJSON_Delete(o);
	return s;
}

/* A base64 bytes field that must be exactly 32 bytes, into hex. */
static int
lnd_b64_hash(const cJSON *v, char hex[65])
{
	uint8_t *raw;
	size_t n;
	int rc = -1;

	if (!cJSON_IsString(v) ||
	    b64_decode(v->valuestring, strlen(v->valuestring), &raw, &n) != 0)
		return -1;
	if (n == 32) {
		hex_encode(raw, 32, hex);
		rc = 0;
	}
	free(raw);
	return rc;
}

static void
lnd_created(const struct http_resp *r, void *arg)
{
	struct lnd_call *c = arg;
	struct create_result res;
	cJSON *j = NULL;
	const cJSON *pr;

	memset(&res, 0, sizeof(res));
	if (!r->ok || r->status != 200) {
		res.retryable = lnd_retryable(r);
		lnd_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	pr = cJSON_GetObjectItemCaseSensitive(j, "payment_request");
	/* A hold invoice's answer has no r_hash: the hash is ours. */
	if (c->hash[0] != '\0')
		snprintf(res.payment_hash, sizeof(res.payment_hash), "%s", c->hash);
	else if (lnd_b64_hash(cJSON_GetObjectItemCaseSensitive(j, "r_hash"), res.payment_hash) != 0)
		res.payment_hash[0] = '\0';
	if (res.payment_hash[0] == '\0' || !cJSON_IsString(pr) ||
	    strlen(pr->valuestring) > BOLT11_MAX_LEN) {
		snprintf(res.error, sizeof(res.error), "lnd: malformed create response");
		res.retryable = 1;
		goto out;
	}
	res.ok = 1;
	snprintf(res.bolt11, sizeof(res.bolt11), "%s", pr->valuestring);
	snprintf(res.ref, sizeof(res.ref), "%s", res.payment_hash);
out:
	cJSON_Delete(j);
	c->ccb(&res, c->arg);
	free(c);
}

static int
lnd_create_common(struct backend *be, const char *path, const char *hash_b64,
    uint64_t amount_msat, const char *memo, int expiry, struct lnd_call *c)
{
	char msat[24], exp[16];
	const char *kv[] = { "value_msat", msat, "memo", memo, "expiry", exp,
	    hash_b64 != NULL ? "hash" : NULL, hash_b64, NULL };
	char *body;
	int rc;

	snprintf(msat, sizeof(msat), "%llu", (unsigned long long)amount_msat);
	snprintf(exp, sizeof(exp), "%d", expiry);
	/* Route hints for private channels: without them a node with only
	 * private channels issues invoices nobody can pay (LNbits does the same). */
	if ((body = lnd_body(kv, 1)) == NULL)
		return -1;
	rc = lnd_start(be->priv, "POST", path, body, LND_CREATE_TIMEOUT_MS, lnd_created, c);
	free(body);
	return rc;
}

static int
lnd_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    create_cb cb, void *arg)
{
	struct lnd_call *c;

	if ((c = lnd_call_new(be, arg)) == NULL)
		return -1;
	c->ccb = cb;
	if (lnd_create_common(be, "/v1/invoices", NULL, amount_msat, memo, expiry, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}

static int
lnd_hold_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    const uint8_t hash[32], create_cb cb, void *arg)
{
	struct lnd_call *c;
	char *b64 = NULL;
	int rc = -1;

	if ((c = lnd_call_new(be, arg)) == NULL)
		return -1;
	c->ccb = cb;
	hex_encode(hash, 32, c->hash);
	if (b64_encode(hash, 32, &b64) == 0)
		rc = lnd_create_common(be, "/v2/invoices/hodl", b64, amount_msat, memo, expiry, c);
	free(b64);
	if (rc != 0)
		free(c);
	return rc;
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

	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(inv, "htlcs")) {
		st = cJSON_GetObjectItemCaseSensitive(h, "state");
		if (!cJSON_IsString(st) || strcmp(st->valuestring, "ACCEPTED") != 0 ||
		    lnd_height(h, "expiry_height", &ex) != 0 || lnd_height(h, "accept_height", &acc) != 0)
			continue;
		if (res->htlc_expiry_height == 0 || ex < res->htlc_expiry_height) {
			res->htlc_expiry_height = ex;
			res->htlc_accept_height = acc;
		}
	}
}

static void
lnd_looked_up(const struct http_resp *r, void *arg)
{
	struct lnd_call *c = arg;
	struct lookup_result res;
	cJSON *j = NULL;
	const cJSON *st;
	const char *s;
	uint64_t sd = 0;

	memset(&res, 0, sizeof(res));
	if (r->ok && (r->status == 404 || (r->status == 500 &&
	    strstr(r->body, "unable to locate invoice") != NULL))) {
		/* Older LND says 500 where newer says 404 (lnd#4135). */
		res.ok = 1;
		res.state = LK_UNKNOWN;
		goto out;
	}
	if (!r->ok || r->status != 200) {
		lnd_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	st = cJSON_GetObjectItemCaseSensitive(j, "state");
	if (!cJSON_IsString(st) ||
	    json_get_u64(j, "amt_paid_msat", &res.received_msat) != 0) {
		snprintf(res.error, sizeof(res.error), "lnd: malformed lookup response");
		goto out;
	}
	res.ok = 1;
	s = st->valuestring;
	if (strcmp(s, "SETTLED") == 0) {
		res.state = LK_PAID;
		res.settled_at = json_get_u64(j, "settle_date", &sd) == 0 && sd > 0 &&
		    sd < (uint64_t)INT64_MAX ? (int64_t)sd : now_unix();
	} else if (strcmp(s, "ACCEPTED") == 0) {
		res.state = LK_HELD;
		lnd_htlc_expiry(j, &res);
	} else if (strcmp(s, "CANCELED") == 0)
		res.state = LK_FAILED;
	else if (strcmp(s, "OPEN") == 0)
		res.state = LK_PENDING;
	else {
		res.ok = 0;
		snprintf(res.error, sizeof(res.error), "lnd: unknown invoice state %.32s", s);
	}
out:
	cJSON_Delete(j);
	c->lcb(&res, c->arg);
	free(c);
}

static int
lnd_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	struct lnd_call *c;
	char path[96];

	if (!hex_is_lower(hash, 64) || (c = lnd_call_new(be, arg)) == NULL)
		return -1;
	c->lcb = cb;
	snprintf(path, sizeof(path), "/v1/invoice/%s", hash);
	if (lnd_start(be->priv, "GET", path, NULL, LND_LOOKUP_TIMEOUT_MS, lnd_looked_up, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}

/*
 * Health: the newest invoice, which the invoice macaroon may read. Its
 * prefix tells the node's network (getinfo would, but is not allowed).
 */
static void
lnd_listed(const struct http_resp *r, void *arg)
{
	struct lnd_call *c = arg;
	struct balance_result res;
	struct bolt11 b;
	char berr[128];
	cJSON *j = NULL;
	const cJSON *inv, *pr;

	memset(&res, 0, sizeof(res));
	if (!r->ok || r->status != 200) {
		lnd_error(r, res.error, sizeof(res.error));
		goto out;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	inv = cJSON_GetObjectItemCaseSensitive(j, "invoices");
	if (!cJSON_IsArray(inv)) {
		snprintf(res.error, sizeof(res.error), "lnd: malformed invoice list");
		goto out;
	}
	res.ok = 1;
	pr = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(inv, 0), "payment_request");
	if (cJSON_IsString(pr) && bolt11_decode(pr->valuestring, &b, berr, sizeof(berr)) == 0 &&
	    strcmp(b.currency, c->ln->currency) != 0) {
		res.ok = 0;
		snprintf(res.error, sizeof(res.error),
		    "lnd: the node makes ln%s invoices but lightning_network wants ln%s",
		    b.currency, c->ln->currency);
	}
out:
	cJSON_Delete(j);
	c->bcb(&res, c->arg);
	free(c);
}

static int
lnd_balance(struct backend *be, balance_cb cb, void *arg)
{
	struct lnd_call *c;

	if ((c = lnd_call_new(be, arg)) == NULL)
		return -1;
	c->bcb = cb;
	if (lnd_start(be->priv, "GET", "/v1/invoices?num_max_invoices=1&reversed=true", NULL,
	    LND_LOOKUP_TIMEOUT_MS, lnd_listed, c) != 0) {
		free(c);
		return -1;
	}
	return 0;
}

/* settle and cancel answer {} on success, idempotently. */
static void
lnd_held_done(const struct http_resp *r, void *arg)
{
	struct lnd_call *c = arg;
	struct hold_result res;

	memset(&res, 0, sizeof(res));
	if (r->ok && r->status == 200)
		res.ok = 1;
	else {
		res.retryable = lnd_retryable(r);
		lnd_error(r, res.error, sizeof(res.error));
	}
	c->hcb(&res, c->arg);
	free(c);
}

static int
lnd_hold_post(struct backend *be, const char *path, const char *field,
    const uint8_t bytes[32], hold_cb cb, void *arg)
{
	struct lnd_call *c;
	char *b64 = NULL, *body = NULL;
	const char *kv[] = { field, NULL, NULL };
	int rc = -1;

	if ((c = lnd_call_new(be, arg)) == NULL)
		return -1;
	c->hcb = cb;
	if (b64_encode(bytes, 32, &b64) == 0) {
		kv[1] = b64;
		if ((body = lnd_body(kv, 0)) != NULL)
			rc = lnd_start(be->priv, "POST", path, body, LND_CREATE_TIMEOUT_MS,
			    lnd_held_done, c);
	}
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

static void
lnd_free(struct backend *be)
{
	struct lnd *ln = be->priv;

	if (ln->macaroon != NULL) {
		OPENSSL_cleanse(ln->macaroon, strlen(ln->macaroon));
		free(ln->macaroon);
	}
	free(ln->cert);
	free(ln->url);
	free(ln);
	free(be);
}

/*
 * LND writes macaroons as binary files; some tools store their hex. A v2
 * macaroon starts with byte 0x02, so a file of hex digits only is hex.
 */
static int
lnd_read_macaroon(const char *path, char **hex, char *err, size_t errlen)
{
	uint8_t *raw;
	size_t n, i;
	int rc = -1;

	if (secret_file_read_bin(path, 2 * LND_MAX_MACAROON + 2, &raw, &n, err, errlen) != 0)
		return -1;
	while (n > 0 && (raw[n - 1] == '\n' || raw[n - 1] == '\r' || raw[n - 1] == ' '))
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
lnd_setup(struct lnd *ln, const struct conf *cf, char *err, size_t errlen)
{
	const char *u = cf->lnd_url;
	int https = strncmp(u, "https://", 8) == 0;
	size_t n;

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
	if ((ln->url = strdup(u)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	n = strlen(ln->url);
	while (n > 0 && ln->url[n - 1] == '/')
		ln->url[--n] = '\0';
	if (lnd_read_macaroon(cf->lnd_macaroon_file, &ln->macaroon, err, errlen) != 0)
		return -1;
	if (https && lnd_read_cert(cf->lnd_tls_cert_file, &ln->cert, &ln->certlen, err, errlen) != 0)
		return -1;
	if (!https && !lnd_is_loopback(ln->url))
		log_warnx("lnd_url is plain http to another host: the macaroon crosses the network in clear");
	return 0;
}

struct backend *
lnd_new(const struct conf *cf, struct http *http, char *err, size_t errlen)
{
	struct backend *be = calloc(1, sizeof(*be));
	struct lnd *ln = calloc(1, sizeof(*ln));

	if (be == NULL || ln == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	be->priv = ln;
	if (lnd_setup(ln, cf, err, errlen) != 0)
		goto fail;
	ln->http = http;
	ln->currency = bolt11_currency_for(cf->lightning_network);
	be->name = "lnd";
	be->create = lnd_create;
	be->lookup = lnd_lookup;
	be->balance = lnd_balance;
	be->free = lnd_free;
	be->hold_capable = lnd_hold_capable;
	be->hold_create = lnd_hold_create;
	be->hold_settle = lnd_hold_settle;
	be->hold_cancel = lnd_hold_cancel;
	return be;
fail:
	if (ln != NULL && be != NULL) {
		lnd_free(be);
		return NULL;
	}
	free(ln);
	free(be);
	return NULL;
}

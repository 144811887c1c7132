/*
 * nwc.c: the Nostr Wallet Connect backend (NIP-47; payments.md §2.5).
 *
 * The connection URI (nostr+walletconnect://<wallet pubkey>?relay=...&secret=...)
 * is read from nwc_uri_file and never logged. invoiced opens its own relay
 * connection (ws.c): relayd belongs to another privilege domain and must not
 * see wallet traffic. On every (re)connect we subscribe to the wallet's info
 * event and to responses and notifications addressed to us, and publish
 * requests only after both subscriptions reached EOSE: kinds 23194-23197 are
 * ephemeral, so a response sent before we listen would be lost.
 *
 * Encryption is NIP-44 v2; NIP-04 only when the wallet's info event offers
 * nothing newer (no encryption tag, or only nip04). payment_received
 * notifications are a fast path: they trigger an immediate lookup_invoice,
 * which stays the only proof of payment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "encoding.h"
#include "event.h"
#include "jsonx.h"
#include "keys.h"
#include "log.h"
#include "nip04.h"
#include "nip44.h"
#include "invoiced.h"

#define NWC_MAX_REQS		256
#define NWC_CREATE_TIMEOUT_MS	30000
#define NWC_LOOKUP_TIMEOUT_MS	10000
#define NWC_TICK_MS		500
#define NWC_MAX_URI		2048

enum nwc_kind { NWC_CREATE, NWC_LOOKUP, NWC_BALANCE, NWC_HOLD };

struct nwc_req {
	struct nwc_req	*next;
	enum nwc_kind	 kind;
	char		 id[65];	/* the request event id, once published */
	int		 published;
	char		*plain;		/* {"method","params"} */
	uint64_t	 deadline;
	int64_t		 expiration;	/* NIP-40 tag: a late delivery is ignored (0: none) */
	char		 hash[65];	/* make_hold_invoice: the hash we asked for */
	create_cb	 ccb;
	lookup_cb	 lcb;
	balance_cb	 bcb;
	hold_cb		 hcb;
	void		*arg;
};

struct nwc {
	struct backend	*be;
	struct loop	*loop;
	struct ws	*ws;
	struct keypair	 kp;
	uint8_t		 wallet[32];
	char		 wallet_hex[65];
	uint8_t		 ck[32];	/* NIP-44 conversation key */
	char		 relay[512];
	int		 info_eose, resp_eose;
	int		 nip04;		/* the wallet offers only NIP-04 */
	int		 hold;		/* -1 no info event yet, else nwc_hold_support */
	char		 hold_why[200];
	struct nwc_req	*reqs;
	size_t		 nreqs;
	uint64_t	 tick;
	struct log_limit lim;
};

static void
nwc_req_free(struct nwc_req *r)
{
	if (r->plain != NULL) {
		OPENSSL_cleanse(r->plain, strlen(r->plain));
		free(r->plain);
	}
	free(r);
}

/* Fail a request: its callback runs with ok = 0. */
static void
nwc_req_fail(struct nwc_req *r, int retryable, const char *why)
{
	struct create_result cr;
	struct lookup_result lr;
	struct balance_result br;
	struct hold_result hr;

	switch (r->kind) {
	case NWC_CREATE:
		memset(&cr, 0, sizeof(cr));
		cr.retryable = retryable;
		snprintf(cr.error, sizeof(cr.error), "nwc: %s", why);
		r->ccb(&cr, r->arg);
		break;
	case NWC_LOOKUP:
		memset(&lr, 0, sizeof(lr));
		snprintf(lr.error, sizeof(lr.error), "nwc: %s", why);
		r->lcb(&lr, r->arg);
		break;
	case NWC_BALANCE:
		memset(&br, 0, sizeof(br));
		snprintf(br.error, sizeof(br.error), "nwc: %s", why);
		r->bcb(&br, r->arg);
		break;
	case NWC_HOLD:
		memset(&hr, 0, sizeof(hr));
		hr.retryable = retryable;
		snprintf(hr.error, sizeof(hr.error), "nwc: %s", why);
		r->hcb(&hr, r->arg);
		break;
	}
	nwc_req_free(r);
}

static void
nwc_unlink(struct nwc *n, struct nwc_req *r)
{
	struct nwc_req **pp;

	for (pp = &n->reqs; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			n->nreqs--;
			return;
		}
}

static char *
nwc_encrypt(struct nwc *n, const char *plain)
{
	char *out = NULL;
	int rc;

	if (n->nip04)
		rc = nip04_encrypt(n->kp.sk, n->wallet, plain, strlen(plain), &out);
	else
		rc = nip44_encrypt(n->ck, plain, strlen(plain), NULL, &out);
	return rc == 0 ? out : NULL;
}

static char *
nwc_decrypt(struct nwc *n, const char *payload)
{
	char *plain = NULL;
	size_t len;
	int rc;

	/* NIP-04 is read only when the wallet said it speaks nothing newer. */
	if (nip04_is_payload(payload, strlen(payload))) {
		if (!n->nip04)
			return NULL;
		rc = nip04_decrypt(n->kp.sk, n->wallet, payload, strlen(payload), &plain, &len);
	} else
		rc = nip44_decrypt(n->ck, payload, strlen(payload), &plain, &len);
	return rc == 0 ? plain : NULL;
}

static void
nwc_send_json(struct nwc *n, cJSON *msg)
{
	char *s = cJSON_PrintUnformatted(msg);

	if (s != NULL && ws_send(n->ws, s, strlen(s)) != 0 && log_limit_ok(&n->lim))
		log_warnx("nwc: cannot queue a message to %s", n->relay);
	free(s);
	cJSON_Delete(msg);
}

static int
nwc_publish(struct nwc *n, struct nwc_req *r)
{
	struct event ev;
	char *content, exp[24];
	cJSON *msg;

	if ((content = nwc_encrypt(n, r->plain)) == NULL)
		return -1;
	if (event_init(&ev, 23194, content, 0) != 0) {
		free(content);
		return -1;
	}
	free(content);
	if (event_add_tagv(&ev, "p", n->wallet_hex, NULL, NULL) != 0 ||
	    (!n->nip04 && event_add_tagv(&ev, "encryption", "nip44_v2", NULL, NULL) != 0) ||
	    (r->expiration > 0 && (snprintf(exp, sizeof(exp), "%lld", (long long)r->expiration) < 0 ||
	    event_add_tagv(&ev, "expiration", exp, NULL, NULL) != 0)) ||
	    event_sign(&ev, &n->kp) != 0) {
		event_free(&ev);
		return -1;
	}
	snprintf(r->id, sizeof(r->id), "%s", ev.idhex);
	msg = cJSON_CreateArray();
	cJSON_AddItemToArray(msg, cJSON_CreateString("EVENT"));
	cJSON_AddItemToArray(msg, event_to_cjson(&ev));
	event_free(&ev);
	nwc_send_json(n, msg);
	r->published = 1;
	return 0;
}

static int
nwc_ready(const struct nwc *n)
{
	return ws_is_up(n->ws) && n->info_eose && n->resp_eose;
}

static void
nwc_flush(struct nwc *n)
{
	struct nwc_req *r, *next;

	if (!nwc_ready(n))
		return;
	for (r = n->reqs; r != NULL; r = next) {
		next = r->next;
		if (!r->published && nwc_publish(n, r) != 0) {
			nwc_unlink(n, r);
			nwc_req_fail(r, 1, "cannot build the request");
		}
	}
}

static void
nwc_subscribe(struct nwc *n)
{
	char buf[512];
	cJSON *msg;

	snprintf(buf, sizeof(buf), "[\"REQ\",\"nwc-info\",{\"kinds\":[13194],\"authors\":[\"%s\"],"
	    "\"limit\":1}]", n->wallet_hex);
	if ((msg = cJSON_Parse(buf)) != NULL)
		nwc_send_json(n, msg);
	snprintf(buf, sizeof(buf), "[\"REQ\",\"nwc-resp\",{\"kinds\":[23195,23196,23197],"
	    "\"authors\":[\"%s\"],\"#p\":[\"%s\"],\"since\":%lld}]", n->wallet_hex, n->kp.pkhex,
	    (long long)(now_unix() - 60));
	if ((msg = cJSON_Parse(buf)) != NULL)
		nwc_send_json(n, msg);
}

static void
nwc_on_state(int up, void *arg)
{
	struct nwc *n = arg;
	struct nwc_req *r, *next, **pp;

	n->info_eose = n->resp_eose = 0;
	if (up) {
		nwc_subscribe(n);
		return;
	}
	/* Answers to requests already sent are lost with the connection. */
	for (pp = &n->reqs; (r = *pp) != NULL; r = next) {
		next = r->next;
		if (!r->published) {
			pp = &r->next;
			continue;
		}
		*pp = next;
		n->nreqs--;
		nwc_req_fail(r, 1, "relay connection lost");
	}
}

/* Is word a whole space-separated item of list? */
static int
nwc_lists(const char *list, const char *word)
{
	size_t n = strlen(word);
	const char *p;

	for (p = list; p != NULL && (p = strstr(p, word)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == '\0' || p[n] == ' '))
			return 1;
	return 0;
}

int
nwc_hold_support(const char *methods, const char *notifications, char *why, size_t whylen)
{
	static const char *const need[] = {
		"make_hold_invoice", "settle_hold_invoice", "cancel_hold_invoice",
	};
	size_t i;

	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!nwc_lists(methods, need[i])) {
			snprintf(why, whylen, "the NWC wallet does not offer %s (its info event "
			    "lists: %.100s)", need[i], methods != NULL ? methods : "");
			return 0;
		}
	if (!nwc_lists(notifications, "hold_invoice_accepted")) {
		snprintf(why, whylen, "the NWC wallet does not send the hold_invoice_accepted notification");
		return 0;
	}
	return 1;
}

/* The info event says which encryption the wallet speaks, and what it can do. */
static void
nwc_info(struct nwc *n, const struct event *ev)
{
	const cJSON *t = event_tag_find(ev, "encryption");
	const char *v = tag_item(t, 1);

	if (t == NULL)
		n->nip04 = 1;	/* NIP-47: no tag means a NIP-04-only wallet */
	else
		n->nip04 = v != NULL && strstr(v, "nip44_v2") == NULL && strstr(v, "nip04") != NULL;
	if (strstr(ev->content, "make_invoice") == NULL || strstr(ev->content, "lookup_invoice") == NULL)
		log_warnx("nwc: the wallet does not list make_invoice and lookup_invoice: %.200s",
		    ev->content);
	n->hold = nwc_hold_support(ev->content, tag_item(event_tag_find(ev, "notifications"), 1),
	    n->hold_why, sizeof(n->hold_why));
	log_info("nwc: wallet %.16s... speaks %s%s", n->wallet_hex, n->nip04 ? "NIP-04 only" : "NIP-44",
	    n->hold ? ", offers hold invoices" : "");
}

static int
nwc_hold_capable(struct backend *be, char *why, size_t whylen)
{
	struct nwc *n = be->priv;

	if (n->hold == -1)
		snprintf(why, whylen, "the NWC wallet's info event has not arrived yet");
	else if (n->hold == 0)
		snprintf(why, whylen, "%s", n->hold_why);
	return n->hold;
}

static void
nwc_tx_lookup(const cJSON *tx, struct lookup_result *lr)
{
	const cJSON *state = cJSON_GetObjectItemCaseSensitive(tx, "state");
	uint64_t settled = 0;
	int has_settled = jsonx_get_u64(tx, "settled_at", &settled) == 0 && settled > 0;

	lr->ok = 1;
	lr->state = LK_PENDING;
	if (cJSON_IsString(state)) {
		if (strcmp(state->valuestring, "settled") == 0)
			lr->state = LK_PAID;
		else if (strcmp(state->valuestring, "expired") == 0)
			lr->state = LK_EXPIRED;
		else if (strcmp(state->valuestring, "failed") == 0)
			lr->state = LK_FAILED;
		else if (strcmp(state->valuestring, "accepted") == 0)
			lr->state = LK_HELD;	/* a hold invoice, paid but not settled */
	} else if (has_settled)
		lr->state = LK_PAID;	/* older services only set settled_at */
	if (lr->state == LK_HELD) {
		uint64_t h = 0;

		/* Alby Hub's block height; on LND the raw HTLC expiry (hold-invoices.md §2.2). */
		if (jsonx_get_u64(tx, "settle_deadline", &h) == 0 && h < UINT32_MAX)
			lr->htlc_expiry_height = (uint32_t)h;
		jsonx_get_u64(tx, "amount", &lr->received_msat);
	}
	if (lr->state == LK_PAID) {
		if (jsonx_get_u64(tx, "amount", &lr->received_msat) != 0) {
			lr->ok = 0;
			snprintf(lr->error, sizeof(lr->error), "nwc: settled without an amount");
			return;
		}
		lr->settled_at = has_settled ? (int64_t)settled : now_unix();
	}
}

static void
nwc_answer(struct nwc_req *r, const cJSON *body)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(body, "error");
	const cJSON *res = cJSON_GetObjectItemCaseSensitive(body, "result");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");
	const cJSON *inv, *hash;
	struct create_result cr;
	struct lookup_result lr;
	struct balance_result br;
	struct hold_result hr;
	char why[256];

	if (cJSON_IsObject(err)) {
		snprintf(why, sizeof(why), "%s: %.180s", cJSON_IsString(code) ? code->valuestring : "?",
		    cJSON_IsString(msg) ? msg->valuestring : "");
		if (r->kind == NWC_LOOKUP && cJSON_IsString(code) &&
		    strcmp(code->valuestring, "NOT_FOUND") == 0) {
			memset(&lr, 0, sizeof(lr));
			lr.ok = 1;
			lr.state = LK_UNKNOWN;
			r->lcb(&lr, r->arg);
			nwc_req_free(r);
			return;
		}
		nwc_req_fail(r, cJSON_IsString(code) && (strcmp(code->valuestring, "INTERNAL") == 0 ||
		    strcmp(code->valuestring, "RATE_LIMITED") == 0), why);
		return;
	}
	if (!cJSON_IsObject(res)) {
		nwc_req_fail(r, 1, "response without result or error");
		return;
	}
	switch (r->kind) {
	case NWC_CREATE:
		memset(&cr, 0, sizeof(cr));
		inv = cJSON_GetObjectItemCaseSensitive(res, "invoice");
		hash = cJSON_GetObjectItemCaseSensitive(res, "payment_hash");
		if (!cJSON_IsString(inv) || strlen(inv->valuestring) > BOLT11_MAX_LEN ||
		    !cJSON_IsString(hash) || strlen(hash->valuestring) != 64) {
			nwc_req_fail(r, 1, "make_invoice result without invoice or payment_hash");
			return;
		}
		if (r->hash[0] != '\0' && strcmp(hash->valuestring, r->hash) != 0) {
			nwc_req_fail(r, 0, "make_hold_invoice answered with another payment_hash");
			return;
		}
		cr.ok = 1;
		snprintf(cr.bolt11, sizeof(cr.bolt11), "%s", inv->valuestring);
		snprintf(cr.payment_hash, sizeof(cr.payment_hash), "%s", hash->valuestring);
		snprintf(cr.ref, sizeof(cr.ref), "%s", hash->valuestring);
		r->ccb(&cr, r->arg);
		break;
	case NWC_LOOKUP:
		memset(&lr, 0, sizeof(lr));
		nwc_tx_lookup(res, &lr);
		r->lcb(&lr, r->arg);
		break;
	case NWC_BALANCE:
		memset(&br, 0, sizeof(br));
		br.ok = 1;
		br.has_balance = jsonx_get_u64(res, "balance", &br.balance_msat) == 0;
		r->bcb(&br, r->arg);
		break;
	case NWC_HOLD:
		memset(&hr, 0, sizeof(hr));
		hr.ok = 1;
		r->hcb(&hr, r->arg);
		break;
	}
	nwc_req_free(r);
}

static void
nwc_response(struct nwc *n, const struct event *ev)
{
	const char *eid = tag_item(event_tag_find(ev, "e"), 1);
	struct nwc_req *r;
	char *plain;
	cJSON *body;

	if (eid == NULL)
		return;
	for (r = n->reqs; r != NULL; r = r->next)
		if (r->published && strcmp(r->id, eid) == 0)
			break;
	if (r == NULL)
		return;		/* an answer to someone else, or too late */
	if ((plain = nwc_decrypt(n, ev->content)) == NULL) {
		log_warnx("nwc: cannot decrypt the answer to %.16s", eid);
		return;
	}
	body = cJSON_Parse(plain);
	OPENSSL_cleanse(plain, strlen(plain));
	free(plain);
	nwc_unlink(n, r);
	nwc_answer(r, body);
	cJSON_Delete(body);
}

static void
nwc_notification(struct nwc *n, const struct event *ev)
{
	const cJSON *type, *tx, *hash;
	char *plain;
	cJSON *body;
	uint64_t amount = 0, settled = 0;

	if ((plain = nwc_decrypt(n, ev->content)) == NULL)
		return;
	body = cJSON_Parse(plain);
	free(plain);
	type = cJSON_GetObjectItemCaseSensitive(body, "notification_type");
	tx = cJSON_GetObjectItemCaseSensitive(body, "notification");
	hash = cJSON_GetObjectItemCaseSensitive(tx, "payment_hash");
	/* Either is only a reason to look the invoice up now. */
	if (cJSON_IsString(type) && (strcmp(type->valuestring, "payment_received") == 0 ||
	    strcmp(type->valuestring, "hold_invoice_accepted") == 0) &&
	    cJSON_IsString(hash) && hex_is_lower(hash->valuestring, 64) && n->be->on_paid != NULL) {
		jsonx_get_u64(tx, "amount", &amount);
		jsonx_get_u64(tx, "settled_at", &settled);
		log_debug("nwc: %s for %.16s...", type->valuestring, hash->valuestring);
		n->be->on_paid(hash->valuestring, amount, (int64_t)settled, n->be->on_paid_arg);
	}
	cJSON_Delete(body);
}

static void
nwc_event(struct nwc *n, const char *sub, const cJSON *obj)
{
	struct event ev;
	char err[128];

	if (event_from_cjson(&ev, obj, err, sizeof(err)) != 0)
		return;
	if (event_verify(&ev) != 0 || memcmp(ev.pubkey, n->wallet, 32) != 0) {
		if (log_limit_ok(&n->lim))
			log_warnx("nwc: dropped an event not signed by the wallet");
	} else if (strcmp(sub, "nwc-info") == 0 && ev.kind == 13194)
		nwc_info(n, &ev);
	else if (strcmp(sub, "nwc-resp") == 0 && ev.kind == 23195)
		nwc_response(n, &ev);
	else if (strcmp(sub, "nwc-resp") == 0 && (ev.kind == 23197 || ev.kind == 23196))
		nwc_notification(n, &ev);
	event_free(&ev);
}

/* A relay's OK false for a request: that request failed. */
static void
nwc_ok(struct nwc *n, const char *id, int accepted, const char *msg)
{
	struct nwc_req *r;

	if (accepted)
		return;
	for (r = n->reqs; r != NULL; r = r->next)
		if (r->published && strcmp(r->id, id) == 0) {
			nwc_unlink(n, r);
			nwc_req_fail(r, 1, msg);
			return;
		}
}

static void
nwc_on_msg(const char *text, size_t len, void *arg)
{
	struct nwc *n = arg;
	cJSON *m = cJSON_ParseWithLength(text, len);
	const cJSON *a = cJSON_GetArrayItem(m, 0), *b = cJSON_GetArrayItem(m, 1);
	const cJSON *c = cJSON_GetArrayItem(m, 2), *d = cJSON_GetArrayItem(m, 3);

	if (!cJSON_IsArray(m) || !cJSON_IsString(a) || !cJSON_IsString(b))
		goto out;
	if (strcmp(a->valuestring, "EVENT") == 0 && cJSON_IsObject(c))
		nwc_event(n, b->valuestring, c);
	else if (strcmp(a->valuestring, "EOSE") == 0) {
		if (strcmp(b->valuestring, "nwc-info") == 0)
			n->info_eose = 1;
		else if (strcmp(b->valuestring, "nwc-resp") == 0)
			n->resp_eose = 1;
		nwc_flush(n);
	} else if (strcmp(a->valuestring, "OK") == 0 && cJSON_IsBool(c))
		nwc_ok(n, b->valuestring, cJSON_IsTrue(c), cJSON_IsString(d) ? d->valuestring : "refused");
	else if (strcmp(a->valuestring, "CLOSED") == 0 || strcmp(a->valuestring, "NOTICE") == 0)
		log_warnx("nwc: relay says %s %.200s", a->valuestring, b->valuestring);
out:
	cJSON_Delete(m);
}

static void
nwc_on_tick(struct loop *l, void *arg)
{
	struct nwc *n = arg;
	struct nwc_req *r, *next, **pp;
	uint64_t now = now_ms();

	n->tick = loop_add_timer(l, NWC_TICK_MS, nwc_on_tick, n);
	for (pp = &n->reqs; (r = *pp) != NULL; r = next) {
		next = r->next;
		if (r->deadline > now) {
			pp = &r->next;
			continue;
		}
		*pp = next;
		n->nreqs--;
		nwc_req_fail(r, 1, r->published ? "no answer from the wallet" : "relay not reachable");
	}
}

static int
nwc_request(struct backend *be, enum nwc_kind kind, cJSON *params, const char *method,
    uint64_t timeout_ms, struct nwc_req **out)
{
	struct nwc *n = be->priv;
	struct nwc_req *r;
	cJSON *o;

	if (n->nreqs >= NWC_MAX_REQS || (r = calloc(1, sizeof(*r))) == NULL) {
		cJSON_Delete(params);
		return -1;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "method", method);
	cJSON_AddItemToObject(o, "params", params);
	r->plain = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (r->plain == NULL) {
		free(r);
		return -1;
	}
	r->kind = kind;
	r->deadline = now_ms() + timeout_ms;
	r->next = n->reqs;
	n->reqs = r;
	n->nreqs++;
	*out = r;
	return 0;
}

/* Publishing waits for the next loop pass: callbacks never run inside the call. */
static void
nwc_kick(struct loop *l, void *arg)
{
	nwc_flush(arg);
}

static int
nwc_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    create_cb cb, void *arg)
{
	struct nwc_req *r;
	cJSON *p = cJSON_CreateObject();

	cJSON_AddNumberToObject(p, "amount", (double)amount_msat);
	cJSON_AddStringToObject(p, "description", memo);
	cJSON_AddNumberToObject(p, "expiry", expiry);
	if (nwc_request(be, NWC_CREATE, p, "make_invoice", NWC_CREATE_TIMEOUT_MS, &r) != 0)
		return -1;
	r->ccb = cb;
	r->arg = arg;
	loop_add_timer(((struct nwc *)be->priv)->loop, 0, nwc_kick, be->priv);
	return 0;
}

static int
nwc_lookup(struct backend *be, const char *hash, const char *ref, lookup_cb cb, void *arg)
{
	struct nwc_req *r;
	cJSON *p = cJSON_CreateObject();

	cJSON_AddStringToObject(p, "payment_hash", hash);
	if (nwc_request(be, NWC_LOOKUP, p, "lookup_invoice", NWC_LOOKUP_TIMEOUT_MS, &r) != 0)
		return -1;
	r->lcb = cb;
	r->arg = arg;
	loop_add_timer(((struct nwc *)be->priv)->loop, 0, nwc_kick, be->priv);
	return 0;
}

static int
nwc_balance(struct backend *be, balance_cb cb, void *arg)
{
	struct nwc_req *r;

	if (nwc_request(be, NWC_BALANCE, cJSON_CreateObject(), "get_balance",
	    NWC_LOOKUP_TIMEOUT_MS, &r) != 0)
		return -1;
	/* Health should not wait out a timeout to say the relay is unreachable. */
	if (!ws_is_up(((struct nwc *)be->priv)->ws))
		r->deadline = now_ms();
	r->bcb = cb;
	r->arg = arg;
	loop_add_timer(((struct nwc *)be->priv)->loop, 0, nwc_kick, be->priv);
	return 0;
}

static int
nwc_hold_create(struct backend *be, uint64_t amount_msat, const char *memo, int expiry,
    const uint8_t hash[32], create_cb cb, void *arg)
{
	struct nwc_req *r;
	cJSON *p = cJSON_CreateObject();
	char hex[65];

	/* Lowercase: Alby Hub matches the hash as a string (hold-invoices.md §1). */
	hex_encode(hash, 32, hex);
	cJSON_AddNumberToObject(p, "amount", (double)amount_msat);
	cJSON_AddStringToObject(p, "description", memo);
	cJSON_AddNumberToObject(p, "expiry", expiry);
	cJSON_AddStringToObject(p, "payment_hash", hex);
	if (nwc_request(be, NWC_CREATE, p, "make_hold_invoice", NWC_CREATE_TIMEOUT_MS, &r) != 0)
		return -1;
	snprintf(r->hash, sizeof(r->hash), "%s", hex);
	r->ccb = cb;
	r->arg = arg;
	loop_add_timer(((struct nwc *)be->priv)->loop, 0, nwc_kick, be->priv);
	return 0;
}

/* settle and cancel expire on the relay, so one delivered late is not acted on. */
static int
nwc_hold_call(struct backend *be, const char *method, const char *field, const char *value,
    hold_cb cb, void *arg)
{
	struct nwc_req *r;
	cJSON *p = cJSON_CreateObject();

	/* A reference: the preimage's one copy is the caller's, which it wipes. */
	cJSON_AddItemToObject(p, field, cJSON_CreateStringReference(value));
	if (nwc_request(be, NWC_HOLD, p, method, NWC_CREATE_TIMEOUT_MS, &r) != 0)
		return -1;
	r->expiration = now_unix() + NWC_CREATE_TIMEOUT_MS / 1000;
	r->hcb = cb;
	r->arg = arg;
	loop_add_timer(((struct nwc *)be->priv)->loop, 0, nwc_kick, be->priv);
	return 0;
}

static int
nwc_hold_settle(struct backend *be, const uint8_t preimage[32], hold_cb cb, void *arg)
{
	char hex[65];
	int rc;

	hex_encode(preimage, 32, hex);
	rc = nwc_hold_call(be, "settle_hold_invoice", "preimage", hex, cb, arg);
	OPENSSL_cleanse(hex, sizeof(hex));
	return rc;
}

static int
nwc_hold_cancel(struct backend *be, const char *payment_hash, hold_cb cb, void *arg)
{
	if (!hex_is_lower(payment_hash, 64))
		return -1;
	return nwc_hold_call(be, "cancel_hold_invoice", "payment_hash", payment_hash, cb, arg);
}

static void
nwc_free(struct backend *be)
{
	struct nwc *n = be->priv;
	struct nwc_req *r;

	ws_free(n->ws);
	loop_cancel_timer(n->loop, n->tick);
	while ((r = n->reqs) != NULL) {
		n->reqs = r->next;
		nwc_req_fail(r, 1, "shutting down");
	}
	keys_wipe(&n->kp);
	OPENSSL_cleanse(n->ck, sizeof(n->ck));
	free(n);
	free(be);
}

/* %XX-decode src into dst (cap bytes). */
static int
url_decode(const char *src, size_t len, char *dst, size_t cap)
{
	size_t i, o = 0;
	uint8_t b;

	for (i = 0; i < len; i++) {
		if (o + 1 >= cap)
			return -1;
		if (src[i] == '%' && i + 2 < len && hex_decode(src + i + 1, 2, &b, 1) == 0) {
			dst[o++] = (char)b;
			i += 2;
		} else
			dst[o++] = src[i] == '+' ? ' ' : src[i];
	}
	dst[o] = '\0';
	return 0;
}

/* nostr+walletconnect://<pubkey>?relay=<url>&secret=<hex>[&...] */
static int
nwc_parse_uri(struct nwc *n, const char *uri, uint8_t secret[32], char *err, size_t errlen)
{
	const char *p, *q, *amp;
	int have_secret = 0;

	if (strncasecmp(uri, "nostr+walletconnect:", 20) != 0)
		goto bad;
	p = uri + 20;
	if (strncmp(p, "//", 2) == 0)
		p += 2;
	if ((q = strchr(p, '?')) == NULL || q - p != 64 ||
	    hex_decode(p, 64, n->wallet, 32) != 0)
		goto bad;
	hex_encode(n->wallet, 32, n->wallet_hex);
	for (p = q + 1; *p != '\0'; p = *amp ? amp + 1 : amp) {
		amp = p + strcspn(p, "&");
		if (strncmp(p, "relay=", 6) == 0 && n->relay[0] == '\0') {
			if (url_decode(p + 6, (size_t)(amp - p - 6), n->relay, sizeof(n->relay)) != 0)
				goto bad;
		} else if (strncmp(p, "secret=", 7) == 0) {
			if (amp - p - 7 != 64 || hex_decode(p + 7, 64, secret, 32) != 0)
				goto bad;
			have_secret = 1;
		}
	}
	if (n->relay[0] == '\0' || !have_secret)
		goto bad;
	return 0;
bad:
	snprintf(err, errlen, "not a nostr+walletconnect:// URI with a wallet pubkey, relay and secret");
	return -1;
}

struct backend *
nwc_new(const struct conf *cf, struct loop *l, char *err, size_t errlen)
{
	struct backend *be = calloc(1, sizeof(*be));
	struct nwc *n = calloc(1, sizeof(*n));
	uint8_t secret[32];
	char *uri = NULL, e2[256];
	int rc;

	if (be == NULL || n == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cf->nwc_uri_file == NULL || cf->nwc_uri_file[0] == '\0') {
		snprintf(err, errlen, "wallet = nwc needs nwc_uri_file");
		goto fail;
	}
	if (secret_file_read(cf->nwc_uri_file, NWC_MAX_URI, &uri, err, errlen) != 0)
		goto fail;
	rc = nwc_parse_uri(n, uri, secret, e2, sizeof(e2));
	OPENSSL_cleanse(uri, strlen(uri));
	free(uri);
	if (rc != 0 || keys_from_secret(&n->kp, secret) != 0 ||
	    nip44_conversation_key(n->kp.sk, n->wallet, n->ck) != 0) {
		OPENSSL_cleanse(secret, sizeof(secret));
		snprintf(err, errlen, "%s: %s", cf->nwc_uri_file, rc != 0 ? e2 : "bad secret or wallet key");
		goto fail;
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	n->be = be;
	n->hold = -1;
	n->loop = l;
	n->lim.burst = 5;
	n->lim.per_ms = 10000;
	be->name = "nwc";
	be->create = nwc_create;
	be->lookup = nwc_lookup;
	be->balance = nwc_balance;
	be->free = nwc_free;
	be->hold_capable = nwc_hold_capable;
	be->hold_create = nwc_hold_create;
	be->hold_settle = nwc_hold_settle;
	be->hold_cancel = nwc_hold_cancel;
	be->priv = n;
	if ((n->ws = ws_new(l, n->relay, nwc_on_msg, nwc_on_state, n, e2, sizeof(e2))) == NULL) {
		snprintf(err, errlen, "%s: relay %s: %s", cf->nwc_uri_file, n->relay, e2);
		goto fail;
	}
	n->tick = loop_add_timer(l, NWC_TICK_MS, nwc_on_tick, n);
	log_info("nwc: wallet %.16s... via %s", n->wallet_hex, n->relay);
	return be;
fail:
	if (n != NULL)
		keys_wipe(&n->kp);
	free(n);
	free(be);
	return NULL;
}

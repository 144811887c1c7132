/*
 * tool_hold: drive a wallet backend's hold-invoice calls the way the escrow
 * flow will, one command per stdin line, one JSON answer per stdout line,
 * for tests/integration/invoiced_hold.mjs:
 *
 *   capable                      -> {"op":"capable","capable":1|0|-1,"why"}
 *   create JOB MSAT EXPIRY       draw and store a preimage, hold_create on
 *                                its hash, verify the BOLT11 like ipc.c does
 *                                -> {"op":"create","ok","payment_hash","bolt11","error"?}
 *   recreate HASH MSAT EXPIRY    hold_create again on a known hash
 *   lookup HASH                  -> {"op":"lookup","ok","state","received_msat",
 *                                    "htlc_expiry_height","htlc_accept_height"}
 *   settle HASH                  the stored preimage -> {"op":"settle","ok","retryable","error"?}
 *   cancel HASH                  -> {"op":"cancel",...}
 *   wait MS                      run the loop for MS ms -> {"op":"wait","ok":true}
 * and, whenever the backend pushes: {"op":"push","payment_hash"}.
 *
 * Usage: tool_hold -c dvm.conf (wallet, state_dir, lightning_network and the
 * wallet's keys are read from it; invoices.db lives in state_dir).
 */
/* LINK: invoiced/hold.c invoiced/store.c invoiced/lnd.c invoiced/lnbits.c invoiced/spark.c invoiced/nwc.c invoiced/ws.c invoiced/rest.c invoiced/bolt11.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "curlm.h"
#include "encoding.h"
#include "log.h"
#include "../../invoiced/invoiced.h"

struct tool {
	struct loop	*loop;
	struct backend	*be;
	struct store	*store;
	const char	*currency;
	uint64_t	 amount;
	const char	*op;		/* the command in flight: one at a time */
	int		 done;
};

static const char *const state_names[] = {
	[LK_PENDING] = "pending", [LK_PAID] = "paid", [LK_FAILED] = "failed",
	[LK_EXPIRED] = "expired", [LK_UNKNOWN] = "unknown", [LK_HELD] = "held",
};

static void
emit(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	if (s != NULL)
		printf("%s\n", s);
	fflush(stdout);
	free(s);
	cJSON_Delete(o);
}

static cJSON *
answer(const char *op, int ok, const char *error)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", op);
	cJSON_AddBoolToObject(o, "ok", ok);
	if (error != NULL && error[0] != '\0')
		cJSON_AddStringToObject(o, "error", error);
	return o;
}

static void
created(const struct create_result *r, void *arg)
{
	struct tool *t = arg;
	struct bolt11 b;
	char err[256] = "";
	cJSON *o;
	int ok = r->ok;

	if (ok && (bolt11_decode(r->bolt11, &b, err, sizeof(err)) != 0 ||
	    bolt11_check(&b, t->currency, t->amount, r->payment_hash, now_unix(), err,
	    sizeof(err)) != 0))
		ok = 0;
	o = answer("create", ok, r->ok ? err : r->error);
	cJSON_AddBoolToObject(o, "retryable", r->retryable);
	if (r->ok) {
		cJSON_AddStringToObject(o, "payment_hash", r->payment_hash);
		cJSON_AddStringToObject(o, "bolt11", r->bolt11);
	}
	emit(o);
	t->done = 1;
}

static void
looked_up(const struct lookup_result *r, void *arg)
{
	struct tool *t = arg;
	cJSON *o = answer("lookup", r->ok, r->error);

	cJSON_AddStringToObject(o, "state", state_names[r->state]);
	cJSON_AddNumberToObject(o, "received_msat", (double)r->received_msat);
	cJSON_AddNumberToObject(o, "htlc_expiry_height", r->htlc_expiry_height);
	cJSON_AddNumberToObject(o, "htlc_accept_height", r->htlc_accept_height);
	emit(o);
	t->done = 1;
}

static void
held(const struct hold_result *r, void *arg)
{
	struct tool *t = arg;
	cJSON *o = answer(t->op, r->ok, r->error);

	cJSON_AddBoolToObject(o, "retryable", r->retryable);
	emit(o);
	t->done = 1;
}

/* A backend's push (NWC hold_invoice_accepted, payment_received). */
static void
pushed(const char *payment_hash, uint64_t msat, int64_t settled_at, void *arg)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", "push");
	cJSON_AddStringToObject(o, "payment_hash", payment_hash);
	emit(o);
}

/* Start one command; 0 when a callback will end it, -1 when answered here. */
static int
command(struct tool *t, char *line)
{
	char *op = strtok(line, " \n"), *a = strtok(NULL, " \n"), *b = strtok(NULL, " \n");
	char *c = strtok(NULL, " \n"), why[256] = "", hex[65];
	uint8_t hash[32], pre[32];
	cJSON *o;
	int rc;

	if (op == NULL)
		return -1;
	if (strcmp(op, "capable") == 0) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "capable");
		cJSON_AddNumberToObject(o, "capable", hold_capable(t->be, why, sizeof(why)));
		cJSON_AddStringToObject(o, "why", why);
		emit(o);
		return -1;
	}
	if ((strcmp(op, "create") == 0 || strcmp(op, "recreate") == 0) && c != NULL) {
		t->amount = strtoull(b, NULL, 10);
		if (strcmp(op, "create") == 0)
			rc = hold_preimage_new(t->store, a, hash, hex);
		else
			rc = hex_decode(a, strlen(a), hash, 32);
		if (rc == 0 && t->be->hold_create(t->be, t->amount, "sellcompute job", atoi(c), hash,
		    created, t) == 0)
			return 0;
		emit(answer("create", 0, "cannot start"));
		return -1;
	}
	if (strcmp(op, "lookup") == 0 && a != NULL &&
	    t->be->lookup(t->be, a, a, looked_up, t) == 0)
		return 0;
	if (strcmp(op, "settle") == 0 && a != NULL) {
		if (hold_preimage_get(t->store, a, pre) != 1) {
			emit(answer("settle", 0, "no stored preimage"));
			return -1;
		}
		t->op = "settle";
		rc = t->be->hold_settle(t->be, pre, held, t);
		OPENSSL_cleanse(pre, sizeof(pre));
		if (rc == 0)
			return 0;
	}
	t->op = "cancel";
	if (strcmp(op, "cancel") == 0 && a != NULL && t->be->hold_cancel(t->be, a, held, t) == 0)
		return 0;
	if (strcmp(op, "wait") == 0 && a != NULL) {
		/* Let the loop run (an NWC wallet's info event arriving, say). */
		uint64_t end = now_ms() + strtoull(a, NULL, 10);

		while (now_ms() < end)
			loop_run_once(t->loop, 50);
		emit(answer("wait", 1, NULL));
		return -1;
	}
	emit(answer(op, 0, "bad command or cannot start"));
	return -1;
}

int
main(int argc, char **argv)
{
	struct conf cf;
	struct tool t;
	struct curlm *cm;
	char err[512], db[1200], line[512];

	log_init("tool_hold", LOG_INFO);
	if (argc != 3 || strcmp(argv[1], "-c") != 0 || conf_load(&cf, argv[2], err, sizeof(err)) != 0) {
		fprintf(stderr, "usage: tool_hold -c dvm.conf\n");
		return 100;
	}
	memset(&t, 0, sizeof(t));
	mkdir(cf.state_dir, 0700);
	snprintf(db, sizeof(db), "%s/invoices.db", cf.state_dir);
	t.currency = bolt11_currency_for(cf.lightning_network);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0 || (t.loop = loop_new()) == NULL ||
	    (cm = curlm_new(t.loop)) == NULL || (t.store = store_open(db, err, sizeof(err))) == NULL)
		return 111;
	t.be = cf.wallet == WALLET_LND ? lnd_new(&cf, cm, err, sizeof(err)) :
	    cf.wallet == WALLET_NWC ? nwc_new(&cf, t.loop, err, sizeof(err)) :
	    cf.wallet == WALLET_LNBITS ? lnbits_new(&cf, cm, err, sizeof(err)) :
	    cf.wallet == WALLET_SPARK ? spark_new(&cf, cm, err, sizeof(err)) : NULL;
	if (t.be == NULL) {
		fprintf(stderr, "tool_hold: wallet: %s\n", err);
		return 100;
	}
	t.be->on_paid = pushed;
	printf("{\"op\":\"ready\"}\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL) {
		t.done = 0;
		if (command(&t, line) != 0)
			continue;
		while (!t.done)
			loop_run_once(t.loop, 100);
	}
	curlm_cancel_all(cm, "shutting down");
	curlm_free(cm);
	t.be->free(t.be);
	store_close(t.store);
	loop_free(t.loop);
	curl_global_cleanup();
	conf_free(&cf);
	return 0;
}

/*
 * ipc.c: the NDJSON side of invoiced (docs/PROTOCOL.md, "invoiced"): jobd's
 * connections on invoiced.sock, or stdin/stdout with --stdio.
 *
 * The connections are common/srv.c's: a socket client that hangs up is
 * closed at once (SRV_EOF_CLOSE: every answer invoiced owes is re-sent or
 * looked up again by the next jobd), --stdio ends at the end of stdin once
 * the creates and health checks in flight have answered (SRV_EOF_EXIT).
 *
 * A create for a job is in flight at most once: a second "invoice" for the
 * same job waits for the first one's answer instead of minting another
 * invoice. Waiters are client ids, so a client gone meanwhile is skipped.
 */
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "log.h"
#include "srv.h"
#include "invoiced.h"

#define MAX_WAITERS 32
#define MAX_CREATING 256	/* creates in flight at once */

struct creating {
	struct ipc	*ipc;
	char		 job[65];
	uint64_t	 amount_msat;
	int		 fast;
	int		 untrack;	/* the job ended while its invoice was being made */
	int		 hold;
	unsigned	 waiters[MAX_WAITERS];
	size_t		 nwait;
	struct creating	*next;
};

struct health_req {
	struct ipc	*ipc;
	unsigned	 client;
};

struct ipc {
	struct loop	*loop;
	const struct conf *cf;
	struct store	*store;
	struct backend	*be;
	struct tracker	*trk;
	struct escrow	*esc;
	int		 wallet_kind;
	const char	*currency;
	struct srv	*srv;		/* made by ipc_listen or ipc_stdio */
	struct creating	*creating;
	size_t		 ncreating;
	uint64_t	 resend_timer;
	int		 nhealth;	/* health answers still to come */
};

static void ipc_on_event(const struct inv_row *, void *);
static void ipc_resend(struct loop *, void *);
static void ipc_prepare(struct loop *, void *);
static void ipc_untrack_row(struct ipc *, const struct inv_row *);

/* A backend's push ("paid" notification): look it up now, the lookup decides. */
static void
ipc_on_push(const char *payment_hash, uint64_t received_msat, int64_t settled_at, void *arg)
{
	struct ipc *ipc = arg;

	track_poke(ipc->trk, payment_hash);
	escrow_poke(ipc->esc, payment_hash);
}

static void
ipc_on_held(const struct inv_row *r, const struct lookup_result *res, void *arg)
{
	struct ipc *ipc = arg;

	escrow_held(ipc->esc, r, res);
}

struct ipc *
ipc_new(struct loop *l, const struct conf *cf, struct store *s, struct backend *be, int wallet_kind)
{
	struct ipc *ipc;

	if ((ipc = calloc(1, sizeof(*ipc))) == NULL)
		return NULL;
	ipc->loop = l;
	ipc->cf = cf;
	ipc->store = s;
	ipc->be = be;
	ipc->wallet_kind = wallet_kind;
	ipc->currency = bolt11_currency_for(cf->lightning_network ? cf->lightning_network : "bitcoin");
	if (be != NULL && (ipc->trk = track_new(l, be, s, cf->invoice_poll_fast_ms,
	    cf->invoice_poll_slow_ms, ipc_on_event, ipc)) == NULL) {
		free(ipc);
		return NULL;
	}
	if (be != NULL && (ipc->esc = escrow_new(l, cf, s, be, ipc_on_event, ipc)) == NULL) {
		track_free(ipc->trk);
		free(ipc);
		return NULL;
	}
	if (be != NULL) {
		track_set_held(ipc->trk, ipc_on_held);
		be->on_paid = ipc_on_push;
		be->on_paid_arg = ipc;
	}
	loop_add_prepare(l, ipc_prepare, ipc);
	ipc->resend_timer = loop_add_timer(l, INV_PAID_RESEND_MS, ipc_resend, ipc);
	return ipc;
}

void
ipc_free(struct ipc *ipc)
{
	struct creating *cr;

	if (ipc == NULL)
		return;
	srv_free(ipc->srv);
	while ((cr = ipc->creating) != NULL) {
		ipc->creating = cr->next;
		free(cr);
	}
	loop_cancel_timer(ipc->loop, ipc->resend_timer);
	track_free(ipc->trk);
	escrow_free(ipc->esc);
	free(ipc);
}

void
ipc_set_intervals(struct ipc *ipc, int fast_ms, int slow_ms)
{
	if (ipc->trk != NULL)
		track_set_intervals(ipc->trk, fast_ms, slow_ms);
}

static cJSON *
msg_error(const char *job, const char *code, const char *message, int retryable)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "op", "error");
	cJSON_AddStringToObject(o, "job", job);
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddStringToObject(o, "message", message);
	cJSON_AddBoolToObject(o, "retryable", retryable);
	return o;
}

/*
 * A hold invoice's payment: held (with the deadline jobd must settle or
 * cancel by), settled, refunded; NULL while a cancel is unconfirmed.
 */
static cJSON *
msg_escrow(const struct inv_row *r)
{
	cJSON *o;

	if (r->escrow == ESC_CANCEL || (o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "job", r->job);
	switch (r->escrow) {
	case ESC_HELD:
	case ESC_SETTLE:
		cJSON_AddStringToObject(o, "op", "held");
		cJSON_AddNumberToObject(o, "amount_msat", (double)r->received_msat);
		cJSON_AddNumberToObject(o, "deadline", (double)r->hold_deadline);
		break;
	case ESC_SETTLED:
		cJSON_AddStringToObject(o, "op", "settled");
		cJSON_AddNumberToObject(o, "amount_msat", (double)r->received_msat);
		cJSON_AddNumberToObject(o, "settled_at", (double)r->settled_at);
		break;
	default:
		cJSON_AddStringToObject(o, "op", "refunded");
		break;
	}
	return o;
}

/* The message that tells a job's current state (NULL: nothing to say yet). */
static cJSON *
msg_state(const struct inv_row *r)
{
	cJSON *o;

	if (r->hold && r->escrow != ESC_NONE)
		return msg_escrow(r);
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "job", r->job);
	switch (r->status) {
	case INV_PENDING:
		cJSON_AddStringToObject(o, "op", "invoice");
		cJSON_AddStringToObject(o, "bolt11", r->bolt11);
		cJSON_AddStringToObject(o, "payment_hash", r->payment_hash);
		cJSON_AddNumberToObject(o, "amount_msat", (double)r->amount_msat);
		cJSON_AddNumberToObject(o, "expires_at", (double)r->expires_at);
		break;
	case INV_PAID:
		cJSON_AddStringToObject(o, "op", "paid");
		cJSON_AddNumberToObject(o, "amount_msat", (double)r->received_msat);
		cJSON_AddNumberToObject(o, "settled_at", (double)r->settled_at);
		break;
	case INV_EXPIRED:
		cJSON_AddStringToObject(o, "op", "expired");
		break;
	}
	return o;
}

static void
send_and_free(struct srv_client *c, cJSON *o)
{
	if (o == NULL)
		return;
	srv_send(c, o);
	cJSON_Delete(o);
}

/* paid or expired from the tracker, or a paid re-sent until acked: every client hears it. */
static void
ipc_on_event(const struct inv_row *r, void *arg)
{
	struct ipc *ipc = arg;
	cJSON *o = msg_state(r);

	if (r->hold && r->status == INV_EXPIRED && r->escrow == ESC_NONE)
		escrow_expired(ipc->esc, r);	/* the quote ended unpaid: it must stay unpaid */
	if (o != NULL)
		srv_broadcast(ipc->srv, o);
	cJSON_Delete(o);
}

static void
ipc_send_unacked(const struct inv_row *r, void *arg)
{
	send_and_free(arg, msg_state(r));
}

static void
ipc_resend(struct loop *l, void *arg)
{
	struct ipc *ipc = arg;

	ipc->resend_timer = loop_add_timer(l, INV_PAID_RESEND_MS, ipc_resend, ipc);
	if (ipc->srv != NULL && srv_clients(ipc->srv) > 0 &&
	    store_each_unacked(ipc->store, ipc_on_event, ipc) != 0)
		log_warnx("store: cannot list unacked paid invoices");
}

/* A bad line that names a job is answered, so the job does not hang. */
static void
ipc_bad(struct srv_client *c, const cJSON *msg, const char *why, void *arg)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

	if (cJSON_IsString(job) && hex_is_lower(job->valuestring, 64))
		send_and_free(c, msg_error(job->valuestring, "bad_request", why, 0));
}

static struct creating *
creating_find(struct ipc *ipc, const char *job)
{
	struct creating *cr;

	for (cr = ipc->creating; cr != NULL; cr = cr->next)
		if (strcmp(cr->job, job) == 0)
			return cr;
	return NULL;
}

static void
creating_answer(struct creating *cr, cJSON *o)
{
	size_t i;

	for (i = 0; i < cr->nwait; i++) {
		srv_send(srv_client_find(cr->ipc->srv, cr->waiters[i]), o);
	}
	cJSON_Delete(o);
}

static void
creating_unlink(struct ipc *ipc, struct creating *cr)
{
	struct creating **pp;

	for (pp = &ipc->creating; *pp != NULL; pp = &(*pp)->next)
		if (*pp == cr) {
			*pp = cr->next;
			ipc->ncreating--;
			return;
		}
}

static void
ipc_created(const struct create_result *res, void *arg)
{
	struct creating *cr = arg;
	struct ipc *ipc = cr->ipc;
	struct bolt11 b;
	struct inv_row row;
	char err[256], pinned[67];
	int rc;

	creating_unlink(ipc, cr);
	if (!res->ok) {
		log_warnx("job %s: invoice not created: %s", cr->job, res->error);
		creating_answer(cr, msg_error(cr->job, res->retryable ? "wallet_down" : "wallet_error",
		    res->error, res->retryable));
		goto out;
	}
	if (bolt11_decode(res->bolt11, &b, err, sizeof(err)) != 0 ||
	    bolt11_check(&b, ipc->currency, cr->amount_msat, res->payment_hash, now_unix(),
	    err, sizeof(err)) != 0) {
		log_warnx("job %s: the backend's invoice failed verification, not used: %s",
		    cr->job, err);
		creating_answer(cr, msg_error(cr->job, "bad_invoice", err, 0));
		goto out;
	}
	if ((rc = store_pin_payee(ipc->store, b.node_id, pinned, sizeof(pinned))) != 0) {
		if (rc == 1)
			log_warnx("job %s: the backend's invoice pays another node than the one "
			    "pinned (%s); refused (docs/invoiced.8.md: changing wallets)", cr->job, pinned);
		creating_answer(cr, rc == 1 ?
		    msg_error(cr->job, "bad_invoice", "invoice pays another node than this wallet's", 0) :
		    msg_error(cr->job, "wallet_down", "invoice store unavailable", 1));
		goto out;
	}
	memset(&row, 0, sizeof(row));
	snprintf(row.job, sizeof(row.job), "%s", cr->job);
	row.amount_msat = cr->amount_msat;
	snprintf(row.bolt11, sizeof(row.bolt11), "%s", res->bolt11);
	snprintf(row.payment_hash, sizeof(row.payment_hash), "%s", res->payment_hash);
	snprintf(row.ref, sizeof(row.ref), "%s", res->ref);
	row.expires_at = b.timestamp + (int64_t)b.expiry;
	row.status = INV_PENDING;
	row.fast = cr->fast;
	row.hold = cr->hold;
	if ((rc = store_insert(ipc->store, &row)) != 0) {
		creating_answer(cr, rc == -2 ? msg_error(cr->job, "bad_invoice",
		    "payment hash already used by another job's invoice", 0) :
		    msg_error(cr->job, "wallet_down", "cannot record the invoice", 1));
		goto out;
	}
	if (track_add(ipc->trk, &row) != 0) {
		/* never handed out, so nobody can pay it: closed, and jobd told */
		store_set_expired(ipc->store, row.job);
		creating_answer(cr, msg_error(cr->job, "tracker_full",
		    "too many invoices pending", 0));
		goto out;
	}
	log_info("job %s: invoice for %llu msat, expires at %lld", row.job,
	    (unsigned long long)row.amount_msat, (long long)row.expires_at);
	if (cr->untrack)
		ipc_untrack_row(ipc, &row);
	creating_answer(cr, msg_state(&row));
out:
	free(cr);
}

static int
get_int(const cJSON *o, const char *name, double min, double max, int64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (!cJSON_IsNumber(v) || v->valuedouble < min || v->valuedouble > max ||
	    v->valuedouble != (double)(int64_t)v->valuedouble)
		return -1;
	*out = (int64_t)v->valuedouble;
	return 0;
}

static void
op_invoice(struct ipc *ipc, struct srv_client *c, const cJSON *j, const char *job)
{
	const cJSON *memo = cJSON_GetObjectItemCaseSensitive(j, "memo");
	const cJSON *fastv = cJSON_GetObjectItemCaseSensitive(j, "fast");
	const cJSON *holdv = cJSON_GetObjectItemCaseSensitive(j, "hold");
	int64_t amount, expiry;
	struct inv_row row;
	struct creating *cr;
	uint8_t hash[32];
	char hash_hex[65], why[256];
	int fast, hold, rc;

	if (get_int(j, "amount_msat", 1, 9.0e15, &amount) != 0 ||
	    get_int(j, "expiry", 1, INV_MAX_EXPIRY, &expiry) != 0 ||
	    !cJSON_IsString(memo) || strlen(memo->valuestring) > INV_MAX_MEMO ||
	    (fastv != NULL && !cJSON_IsBool(fastv)) || (holdv != NULL && !cJSON_IsBool(holdv))) {
		srv_bad_line(c, j, "invoice needs amount_msat > 0, memo (<= 256 bytes), expiry (s), "
		    "fast? (bool), hold? (bool)");
		return;
	}
	fast = cJSON_IsTrue(fastv);
	hold = cJSON_IsTrue(holdv);
	if (ipc->be == NULL) {
		send_and_free(c, msg_error(job, "disabled", "wallet = none: invoices are disabled", 0));
		return;
	}
	if ((rc = store_get(ipc->store, job, &row)) == -1) {
		send_and_free(c, msg_error(job, "wallet_down", "invoice store unavailable", 1));
		return;
	}
	if (rc == 1 || (cr = creating_find(ipc, job)) != NULL) {
		uint64_t had = rc == 1 ? row.amount_msat : cr->amount_msat;

		if (had != (uint64_t)amount) {
			send_and_free(c, msg_error(job, "conflict",
			    "this job already has an invoice for another amount", 0));
			return;
		}
		if (rc == 1) {
			if (fast && row.status == INV_PENDING && !row.fast) {
				store_set_fast(ipc->store, job, 1);
				track_set_fast(ipc->trk, job);
			}
			send_and_free(c, msg_state(&row));
		} else if (cr->nwait < MAX_WAITERS)
			cr->waiters[cr->nwait++] = srv_client_id(c);
		return;
	}
	/* LNbits and the Spark bridge invoice in whole sats. */
	if (ipc->wallet_kind != WALLET_NWC && ipc->wallet_kind != WALLET_LND && amount % 1000 != 0) {
		send_and_free(c, msg_error(job, "bad_request",
		    "this wallet backend takes whole sats: amount_msat must be a multiple of 1000", 0));
		return;
	}
	if (track_full(ipc->trk, ipc->ncreating)) {
		log_warnx("job %s: %zu invoices pending: refused", job, track_count(ipc->trk));
		send_and_free(c, msg_error(job, "tracker_full", "too many invoices pending", 0));
		return;
	}
	if (ipc->ncreating >= MAX_CREATING || (cr = calloc(1, sizeof(*cr))) == NULL) {
		send_and_free(c, msg_error(job, "wallet_down", "too many invoices being created", 1));
		return;
	}
	cr->ipc = ipc;
	snprintf(cr->job, sizeof(cr->job), "%s", job);
	cr->amount_msat = (uint64_t)amount;
	cr->fast = fast;
	cr->hold = hold;
	cr->waiters[cr->nwait++] = srv_client_id(c);
	cr->next = ipc->creating;
	ipc->creating = cr;
	ipc->ncreating++;
	if (hold && (rc = hold_capable(ipc->be, why, sizeof(why))) != 1) {
		creating_unlink(ipc, cr);
		free(cr);
		send_and_free(c, msg_error(job, rc == 0 ? "hold_unsupported" : "wallet_down",
		    why, rc != 0));
		return;
	}
	/* The preimage is committed before the wallet hears of its hash (hold.c). */
	if (hold && hold_preimage_new(ipc->store, job, hash, hash_hex) != 0)
		rc = -1;
	else if (hold)
		rc = ipc->be->hold_create(ipc->be, (uint64_t)amount, memo->valuestring,
		    (int)expiry, hash, ipc_created, cr);
	else
		rc = ipc->be->create(ipc->be, (uint64_t)amount, memo->valuestring, (int)expiry,
		    ipc_created, cr);
	if (rc != 0) {
		creating_unlink(ipc, cr);
		free(cr);
		send_and_free(c, msg_error(job, "wallet_down", "cannot start the request", 1));
	}
}

static void
op_lookup(struct ipc *ipc, struct srv_client *c, const char *job)
{
	struct inv_row row;
	struct creating *cr;
	int rc = store_get(ipc->store, job, &row);

	if (rc == 1)
		send_and_free(c, msg_state(&row));
	else if (rc == 0 && (cr = creating_find(ipc, job)) != NULL) {
		if (cr->nwait < MAX_WAITERS)
			cr->waiters[cr->nwait++] = srv_client_id(c);
	} else if (rc == 0)
		send_and_free(c, msg_error(job, "unknown_job", "no invoice for this job", 0));
	else
		send_and_free(c, msg_error(job, "wallet_down", "invoice store unavailable", 1));
}

struct cancelling {
	struct ipc	*ipc;
	char		 job[65];
};

static void
ipc_cancelled(const struct hold_result *res, void *arg)
{
	struct cancelling *cc = arg;

	if (res->ok)
		log_info("job %s: invoice cancelled", cc->job);
	else
		log_warnx("job %s: invoice not cancelled: %s", cc->job, res->error);
	track_untrack(cc->ipc->trk, cc->job);	/* the last lookup decides */
	free(cc);
}

/*
 * The job of this pending invoice ended unpaid. Cancel it where the
 * wallet can (LND cancels any open invoice; hold invoices through the
 * hold backend), then look it up once more: paid after all, it is
 * reported paid as ever; else forgotten. A wallet that cannot cancel
 * (LNbits, NWC and Spark normal invoices) can still be paid until the
 * invoice's expiry, which jobd keeps within quote_ttl for quotes.
 */
static void
ipc_untrack_row(struct ipc *ipc, const struct inv_row *r)
{
	struct cancelling *cc;
	uint8_t pre[32];
	int hold = 0;

	if (track_untrack(ipc->trk, r->job) != 0) {
		if (track_add(ipc->trk, r) != 0 || track_untrack(ipc->trk, r->job) != 0) {
			log_warnx("job %s: cannot untrack its invoice now", r->job);
			return;
		}
	}
	if (ipc->be->hold_cancel != NULL && ipc->wallet_kind != WALLET_LND)
		hold = store_get_preimage(ipc->store, r->payment_hash, pre) == 1;
	memset(pre, 0, sizeof(pre));
	if (ipc->be->hold_cancel == NULL || (ipc->wallet_kind != WALLET_LND && !hold)) {
		log_info("job %s: invoice forgotten (%s cannot cancel it; it expires at %lld)",
		    r->job, ipc->be->name, (long long)r->expires_at);
		return;
	}
	if ((cc = calloc(1, sizeof(*cc))) == NULL)
		return;
	cc->ipc = ipc;
	snprintf(cc->job, sizeof(cc->job), "%s", r->job);
	if (ipc->be->hold_cancel(ipc->be, r->payment_hash, ipc_cancelled, cc) != 0) {
		log_warnx("job %s: cannot start the cancel of its invoice", r->job);
		free(cc);
	}
}

/* untrack: idempotent; unknown, expired and paid invoices are left as they are. */
static void
op_untrack(struct ipc *ipc, const char *job)
{
	struct inv_row row;
	struct creating *cr;
	int rc;

	if (ipc->be == NULL)
		return;
	if ((rc = store_get(ipc->store, job, &row)) == -1)
		log_warnx("job %s: untrack: invoice store unavailable", job);
	else if (rc == 0 && (cr = creating_find(ipc, job)) != NULL)
		cr->untrack = 1;
	else if (rc == 1 && row.status == INV_PENDING)
		ipc_untrack_row(ipc, &row);
}

static void
ipc_health_done(const struct balance_result *res, void *arg)
{
	struct health_req *h = arg;
	struct srv_client *c = srv_client_find(h->ipc->srv, h->client);
	cJSON *o;

	if (c != NULL) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "health");
		cJSON_AddStringToObject(o, "backend", h->ipc->be->name);
		cJSON_AddBoolToObject(o, "ok", res->ok);
		if (res->ok && res->has_balance)
			cJSON_AddNumberToObject(o, "balance_msat", (double)res->balance_msat);
		if (!res->ok)
			cJSON_AddStringToObject(o, "error", res->error);
		cJSON_AddNumberToObject(o, "pending", (double)track_count(h->ipc->trk));
		send_and_free(c, o);
	}
	h->ipc->nhealth--;
	free(h);
}

static void
op_health(struct srv_client *c, const cJSON *msg, void *arg)
{
	struct ipc *ipc = arg;
	struct health_req *h;
	struct balance_result res;
	cJSON *o;

	if (ipc->be == NULL) {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "op", "health");
		cJSON_AddStringToObject(o, "backend", "none");
		cJSON_AddBoolToObject(o, "ok", 1);
		cJSON_AddNumberToObject(o, "pending", 0);
		send_and_free(c, o);
		return;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return;
	h->ipc = ipc;
	h->client = srv_client_id(c);
	ipc->nhealth++;
	if (ipc->be->balance(ipc->be, ipc_health_done, h) != 0) {
		memset(&res, 0, sizeof(res));
		snprintf(res.error, sizeof(res.error), "cannot start the request");
		ipc_health_done(&res, h);
	}
}

/* The job an op is about; NULL (the line counted as bad) when it is not one. */
static const char *
job_of(struct srv_client *c, const cJSON *msg)
{
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(msg, "job");

	if (!cJSON_IsString(job) || !hex_is_lower(job->valuestring, 64)) {
		srv_bad_line(c, NULL, "job must be 64 lowercase hex digits");
		return NULL;
	}
	return job->valuestring;
}

static void
op_invoice_line(struct srv_client *c, const cJSON *msg, void *arg)
{
	const char *job = job_of(c, msg);

	if (job != NULL)
		op_invoice(arg, c, msg, job);
}

static void
op_lookup_line(struct srv_client *c, const cJSON *msg, void *arg)
{
	const char *job = job_of(c, msg);

	if (job != NULL)
		op_lookup(arg, c, job);
}

static void
op_untrack_line(struct srv_client *c, const cJSON *msg, void *arg)
{
	const char *job = job_of(c, msg);

	if (job != NULL)
		op_untrack(arg, job);
}

static void
op_ack(struct srv_client *c, const cJSON *msg, void *arg)
{
	struct ipc *ipc = arg;
	const char *job = job_of(c, msg);

	if (job != NULL && store_set_acked(ipc->store, job) != 0)
		log_warnx("job %s: cannot record the ack", job);
}

/* settle or cancel a hold invoice's payment (escrow.c decides what may be done). */
static void
op_escrow(struct srv_client *c, const cJSON *msg, struct ipc *ipc, int cancel)
{
	const char *job = job_of(c, msg), *why = NULL;
	struct inv_row row;
	int rc;

	if (job == NULL)
		return;
	if (ipc->esc == NULL || (rc = store_get(ipc->store, job, &row)) == 0) {
		send_and_free(c, msg_error(job, "unknown_job", "no invoice for this job", 0));
		return;
	}
	if (rc == -1) {
		send_and_free(c, msg_error(job, "wallet_down", "invoice store unavailable", 1));
		return;
	}
	if (cancel && row.escrow == ESC_NONE && row.status == INV_PENDING)
		track_drop(ipc->trk, job);
	if ((rc = escrow_ask(ipc->esc, &row, cancel, &why)) == 1)
		send_and_free(c, msg_state(&row));
	else if (rc == -1)
		send_and_free(c, msg_error(job, "bad_request", why, 0));
}

static void
op_settle(struct srv_client *c, const cJSON *msg, void *arg)
{
	op_escrow(c, msg, arg, 0);
}

static void
op_cancel(struct srv_client *c, const cJSON *msg, void *arg)
{
	op_escrow(c, msg, arg, 1);
}

static const struct srv_op ipc_ops[] = {
	{ "health", op_health },
	{ "invoice", op_invoice_line },
	{ "lookup", op_lookup_line },
	{ "ack", op_ack },
	{ "untrack", op_untrack_line },
	{ "settle", op_settle },
	{ "cancel", op_cancel },
};

/* A reconnecting jobd hears every paid it has not acknowledged. */
static void
ipc_on_open(struct srv_client *c, void *arg)
{
	struct ipc *ipc = arg;

	if (store_each_unacked(ipc->store, ipc_send_unacked, c) != 0)
		log_warnx("store: cannot list unacked paid invoices");
}

/* --stdio: stop once the input is over and everything asked is answered. */
static void
ipc_prepare(struct loop *l, void *arg)
{
	struct ipc *ipc = arg;

	if (ipc->srv != NULL && srv_input_ended(ipc->srv) && ipc->creating == NULL &&
	    ipc->nhealth == 0 && !srv_pending(ipc->srv))
		loop_stop(l);
}

static int
ipc_open(struct ipc *ipc, enum srv_eof eof)
{
	struct srv_conf cf = {
		.ops = ipc_ops, .nops = sizeof(ipc_ops) / sizeof(ipc_ops[0]), .eof = eof,
		.maxclients = INV_MAX_CLIENTS, .on_open = ipc_on_open, .on_bad = ipc_bad,
		.arg = ipc,
	};

	if ((ipc->srv = srv_new(ipc->loop, &cf)) == NULL)
		return -1;
	return 0;
}

int
ipc_listen(struct ipc *ipc, const char *path)
{
	if (ipc_open(ipc, SRV_EOF_CLOSE) == -1)
		return -1;
	return srv_listen(ipc->srv, path, 0660);
}

int
ipc_stdio(struct ipc *ipc)
{
	if (ipc_open(ipc, SRV_EOF_EXIT) == -1)
		return -1;
	return srv_stdio(ipc->srv);
}

static void
ipc_resume_one(const struct inv_row *r, void *arg)
{
	struct ipc *ipc = arg;

	track_add(ipc->trk, r);
}

int
ipc_resume(struct ipc *ipc)
{
	if (ipc->trk == NULL)
		return 0;
	if (store_each_pending(ipc->store, ipc_resume_one, ipc) != 0 ||
	    escrow_resume(ipc->esc) != 0)
		return -1;
	if (track_count(ipc->trk) > 0)
		log_info("resumed tracking %zu pending invoices", track_count(ipc->trk));
	return 0;
}

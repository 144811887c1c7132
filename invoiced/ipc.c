/*
 * ipc.c: the NDJSON side of invoiced (docs/PROTOCOL.md, "invoiced"): jobd's
 * connections on invoiced.sock, or stdin/stdout with --stdio.
 *
 * A create for a job is in flight at most once: a second "invoice" for the
 * same job waits for the first one's answer instead of minting another
 * invoice. Clients are closed only from the prepare pass, so no loop over
 * clients ever sees one freed under it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "encoding.h"
#include "log.h"
#include "sock.h"
#include "invoiced.h"

#define MAX_WAITERS 32
#define MAX_CREATING 256	/* creates in flight at once */

struct client {
	unsigned	 id;
	int		 rfd, wfd;
	int		 closing;
	int		 wreg;		/* wfd registered separately (stdio) */
	struct ndjson	 nj;
	struct ipc	*ipc;
	struct client	*next;
};

struct creating {
	struct ipc	*ipc;
	char		 job[65];
	uint64_t	 amount_msat;
	int		 fast;
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
	int		 wallet_kind;
	const char	*currency;
	int		 lfd;
	char		*lpath;		/* removed on exit */
	int		 stdio;
	int		 done;
	struct client	*clients;
	size_t		 nclients;
	unsigned	 next_id;
	struct creating	*creating;
	size_t		 ncreating;
	uint64_t	 resend_timer;
	int		 nhealth;	/* health answers still to come */
	unsigned long	 bad_lines;
	struct log_limit lim;
};

static void ipc_on_event(const struct inv_row *, void *);
static void ipc_resend(struct loop *, void *);
static void ipc_prepare(struct loop *, void *);

/* A backend's push ("paid" notification): look it up now, the lookup decides. */
static void
ipc_on_push(const char *payment_hash, uint64_t received_msat, int64_t settled_at, void *arg)
{
	struct ipc *ipc = arg;

	track_poke(ipc->trk, payment_hash);
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
	ipc->lfd = -1;
	ipc->next_id = 1;
	ipc->lim.burst = 10;
	ipc->lim.per_ms = 10000;
	ipc->currency = bolt11_currency_for(cf->lightning_network ? cf->lightning_network : "bitcoin");
	if (be != NULL && (ipc->trk = track_new(l, be, s, cf->invoice_poll_fast_ms,
	    cf->invoice_poll_slow_ms, ipc_on_event, ipc)) == NULL) {
		free(ipc);
		return NULL;
	}
	if (be != NULL) {
		be->on_paid = ipc_on_push;
		be->on_paid_arg = ipc;
	}
	loop_add_prepare(l, ipc_prepare, ipc);
	ipc->resend_timer = loop_add_timer(l, INV_PAID_RESEND_MS, ipc_resend, ipc);
	return ipc;
}

static void
client_free(struct client *c)
{
	struct ipc *ipc = c->ipc;

	loop_del_fd(ipc->loop, c->rfd);
	if (c->wreg)
		loop_del_fd(ipc->loop, c->wfd);
	ndjson_free(&c->nj);
	if (!ipc->stdio)
		close(c->rfd);
	free(c);
}

void
ipc_free(struct ipc *ipc)
{
	struct client *c;
	struct creating *cr;

	if (ipc == NULL)
		return;
	while ((c = ipc->clients) != NULL) {
		ipc->clients = c->next;
		ndjson_flush(&c->nj);
		client_free(c);
	}
	while ((cr = ipc->creating) != NULL) {
		ipc->creating = cr->next;
		free(cr);
	}
	if (ipc->lfd != -1) {
		loop_del_fd(ipc->loop, ipc->lfd);
		close(ipc->lfd);
		if (ipc->lpath != NULL)
			unlink(ipc->lpath);
	}
	free(ipc->lpath);
	loop_cancel_timer(ipc->loop, ipc->resend_timer);
	track_free(ipc->trk);
	free(ipc);
}

void
ipc_set_intervals(struct ipc *ipc, int fast_ms, int slow_ms)
{
	if (ipc->trk != NULL)
		track_set_intervals(ipc->trk, fast_ms, slow_ms);
}

static struct client *
client_by_id(struct ipc *ipc, unsigned id)
{
	struct client *c;

	for (c = ipc->clients; c != NULL; c = c->next)
		if (c->id == id && !c->closing)
			return c;
	return NULL;
}

static void
client_send(struct client *c, const cJSON *o)
{
	if (c->closing)
		return;
	if (ndjson_send_json(&c->nj, o) != 0) {
		log_warnx("client %u: output queue full or line too long; disconnecting", c->id);
		c->closing = 1;
	}
}

static void
broadcast(struct ipc *ipc, const cJSON *o)
{
	struct client *c;

	for (c = ipc->clients; c != NULL; c = c->next)
		client_send(c, o);
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

/* The message that tells a job's current state. */
static cJSON *
msg_state(const struct inv_row *r)
{
	cJSON *o = cJSON_CreateObject();

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
send_and_free(struct client *c, cJSON *o)
{
	if (c != NULL)
		client_send(c, o);
	cJSON_Delete(o);
}

/* paid or expired, from the tracker: every client hears it. */
static void
ipc_on_event(const struct inv_row *r, void *arg)
{
	struct ipc *ipc = arg;
	cJSON *o = msg_state(r);

	broadcast(ipc, o);
	cJSON_Delete(o);
}

static void
ipc_send_unacked(const struct inv_row *r, void *arg)
{
	struct client *c = arg;
	cJSON *o = msg_state(r);

	client_send(c, o);
	cJSON_Delete(o);
}

static void
ipc_send_unacked_all(const struct inv_row *r, void *arg)
{
	struct ipc *ipc = arg;
	cJSON *o = msg_state(r);

	broadcast(ipc, o);
	cJSON_Delete(o);
}

static void
ipc_resend(struct loop *l, void *arg)
{
	struct ipc *ipc = arg;

	ipc->resend_timer = loop_add_timer(l, INV_PAID_RESEND_MS, ipc_resend, ipc);
	if (ipc->clients != NULL && store_each_unacked(ipc->store, ipc_send_unacked_all, ipc) != 0)
		log_warnx("store: cannot list unacked paid invoices");
}

static void
bad_line(struct client *c, const cJSON *job, const char *why)
{
	struct ipc *ipc = c->ipc;

	ipc->bad_lines++;
	if (log_limit_ok(&ipc->lim))
		log_warnx("client %u: dropped a malformed line: %s", c->id, why);
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
		struct client *c = client_by_id(cr->ipc, cr->waiters[i]);

		if (c != NULL)
			client_send(c, o);
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
	char err[256];

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
	memset(&row, 0, sizeof(row));
	snprintf(row.job, sizeof(row.job), "%s", cr->job);
	row.amount_msat = cr->amount_msat;
	snprintf(row.bolt11, sizeof(row.bolt11), "%s", res->bolt11);
	snprintf(row.payment_hash, sizeof(row.payment_hash), "%s", res->payment_hash);
	snprintf(row.ref, sizeof(row.ref), "%s", res->ref);
	row.expires_at = b.timestamp + (int64_t)b.expiry;
	row.status = INV_PENDING;
	row.fast = cr->fast;
	if (store_insert(ipc->store, &row) != 0) {
		creating_answer(cr, msg_error(cr->job, "wallet_down", "cannot record the invoice", 1));
		goto out;
	}
	track_add(ipc->trk, &row);
	log_info("job %s: invoice for %llu msat, expires at %lld", row.job,
	    (unsigned long long)row.amount_msat, (long long)row.expires_at);
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
op_invoice(struct client *c, const cJSON *j, const char *job)
{
	struct ipc *ipc = c->ipc;
	const cJSON *memo = cJSON_GetObjectItemCaseSensitive(j, "memo");
	const cJSON *fastv = cJSON_GetObjectItemCaseSensitive(j, "fast");
	int64_t amount, expiry;
	struct inv_row row;
	struct creating *cr;
	int fast, rc;

	if (get_int(j, "amount_msat", 1, 9.0e15, &amount) != 0 ||
	    get_int(j, "expiry", 1, INV_MAX_EXPIRY, &expiry) != 0 ||
	    !cJSON_IsString(memo) || strlen(memo->valuestring) > INV_MAX_MEMO ||
	    (fastv != NULL && !cJSON_IsBool(fastv))) {
		bad_line(c, cJSON_GetObjectItemCaseSensitive(j, "job"),
		    "invoice needs amount_msat > 0, memo (<= 256 bytes), expiry (s), fast? (bool)");
		return;
	}
	fast = cJSON_IsTrue(fastv);
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
			cr->waiters[cr->nwait++] = c->id;
		return;
	}
	/* LNbits and the Spark bridge invoice in whole sats. */
	if (ipc->wallet_kind != WALLET_NWC && ipc->wallet_kind != WALLET_LND && amount % 1000 != 0) {
		send_and_free(c, msg_error(job, "bad_request",
		    "this wallet backend takes whole sats: amount_msat must be a multiple of 1000", 0));
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
	cr->waiters[cr->nwait++] = c->id;
	cr->next = ipc->creating;
	ipc->creating = cr;
	ipc->ncreating++;
	if (ipc->be->create(ipc->be, (uint64_t)amount, memo->valuestring, (int)expiry,
	    ipc_created, cr) != 0) {
		creating_unlink(ipc, cr);
		free(cr);
		send_and_free(c, msg_error(job, "wallet_down", "cannot start the request", 1));
	}
}

static void
op_lookup(struct client *c, const char *job)
{
	struct ipc *ipc = c->ipc;
	struct inv_row row;
	struct creating *cr;
	int rc = store_get(ipc->store, job, &row);

	if (rc == 1)
		send_and_free(c, msg_state(&row));
	else if (rc == 0 && (cr = creating_find(ipc, job)) != NULL) {
		if (cr->nwait < MAX_WAITERS)
			cr->waiters[cr->nwait++] = c->id;
	} else if (rc == 0)
		send_and_free(c, msg_error(job, "unknown_job", "no invoice for this job", 0));
	else
		send_and_free(c, msg_error(job, "wallet_down", "invoice store unavailable", 1));
}

static void
ipc_health_done(const struct balance_result *res, void *arg)
{
	struct health_req *h = arg;
	struct client *c = client_by_id(h->ipc, h->client);
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
op_health(struct client *c)
{
	struct ipc *ipc = c->ipc;
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
	h->client = c->id;
	ipc->nhealth++;
	if (ipc->be->balance(ipc->be, ipc_health_done, h) != 0) {
		memset(&res, 0, sizeof(res));
		snprintf(res.error, sizeof(res.error), "cannot start the request");
		ipc_health_done(&res, h);
	}
}

static void
ipc_line(struct client *c, const char *line, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(j, "op");
	const cJSON *job = cJSON_GetObjectItemCaseSensitive(j, "job");
	const char *o;

	if (!cJSON_IsObject(j) || !cJSON_IsString(op)) {
		bad_line(c, job, "not a JSON object with a string op");
		goto out;
	}
	o = op->valuestring;
	if (strcmp(o, "health") == 0) {
		op_health(c);
		goto out;
	}
	if (strcmp(o, "invoice") != 0 && strcmp(o, "lookup") != 0 && strcmp(o, "ack") != 0) {
		bad_line(c, job, "unknown op");
		goto out;
	}
	if (!cJSON_IsString(job) || !hex_is_lower(job->valuestring, 64)) {
		bad_line(c, NULL, "job must be 64 lowercase hex digits");
		goto out;
	}
	if (strcmp(o, "invoice") == 0)
		op_invoice(c, j, job->valuestring);
	else if (strcmp(o, "lookup") == 0)
		op_lookup(c, job->valuestring);
	else if (store_set_acked(c->ipc->store, job->valuestring) != 0)
		log_warnx("job %s: cannot record the ack", job->valuestring);
out:
	cJSON_Delete(j);
}

static void
client_read(struct client *c)
{
	char *line;
	size_t len;
	ssize_t n;
	int rc;

	n = ndjson_read(&c->nj);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
		if (c->ipc->stdio) {
			/* Input is over: finish what was asked, then exit. */
			loop_del_fd(c->ipc->loop, c->rfd);
			c->ipc->done = 1;
		} else
			c->closing = 1;
	}
	while (!c->closing && (rc = ndjson_next(&c->nj, &line, &len)) != 0) {
		if (rc < 0) {
			bad_line(c, NULL, errno == EMSGSIZE ? "line too long" : "NUL byte in line");
			continue;
		}
		ipc_line(c, line, len);
	}
}

static void
client_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	struct client *c = arg;

	if (c->closing)
		return;
	if (fd == c->rfd && (revents & (POLLIN | POLLHUP | POLLERR)))
		client_read(c);
	if (fd == c->wfd && (revents & POLLOUT) && ndjson_flush(&c->nj) != 0) {
		c->closing = 1;
		if (c->ipc->stdio)
			c->ipc->done = 1;
	}
	if (fd == c->wfd && fd != c->rfd && (revents & (POLLERR | POLLHUP)) && !(revents & POLLOUT)) {
		c->closing = 1;
		c->ipc->done = 1;
	}
}

static int
client_add(struct ipc *ipc, int rfd, int wfd)
{
	struct client *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (ndjson_init(&c->nj, rfd, wfd, 0, 0) != 0) {
		free(c);
		return -1;
	}
	c->id = ipc->next_id++;
	c->rfd = rfd;
	c->wfd = wfd;
	c->ipc = ipc;
	if (loop_add_fd(ipc->loop, rfd, POLLIN, client_on_fd, c) != 0 ||
	    (rfd != wfd && loop_add_fd(ipc->loop, wfd, 0, client_on_fd, c) != 0)) {
		loop_del_fd(ipc->loop, rfd);
		ndjson_free(&c->nj);
		free(c);
		return -1;
	}
	c->wreg = rfd != wfd;
	c->next = ipc->clients;
	ipc->clients = c;
	ipc->nclients++;
	/* A reconnecting jobd hears every paid it has not acknowledged. */
	if (store_each_unacked(ipc->store, ipc_send_unacked, c) != 0)
		log_warnx("store: cannot list unacked paid invoices");
	return 0;
}

/* Reap closed clients and ask for POLLOUT where output is queued. */
static void
ipc_prepare(struct loop *l, void *arg)
{
	struct ipc *ipc = arg;
	struct client **pp = &ipc->clients, *c;
	short out;

	while ((c = *pp) != NULL) {
		if (c->closing) {
			*pp = c->next;
			ipc->nclients--;
			log_debug("client %u gone", c->id);
			client_free(c);
			continue;
		}
		out = ndjson_pending(&c->nj) ? POLLOUT : 0;
		if (c->rfd == c->wfd)
			loop_set_events(l, c->rfd, (short)(POLLIN | out));
		else
			loop_set_events(l, c->wfd, out);
		pp = &c->next;
	}
	if (ipc->done && ipc->creating == NULL && ipc->nhealth == 0 &&
	    (ipc->clients == NULL || !ndjson_pending(&ipc->clients->nj)))
		loop_stop(l);
}

static void
ipc_accept(struct loop *l, int fd, short revents, void *arg)
{
	struct ipc *ipc = arg;
	int cfd;

	while ((cfd = sock_accept(fd)) != -1) {
		if (ipc->nclients >= INV_MAX_CLIENTS) {
			log_warnx("too many clients (%d); refusing one", INV_MAX_CLIENTS);
			close(cfd);
			continue;
		}
		if (client_add(ipc, cfd, cfd) != 0) {
			log_warn("cannot add a client");
			close(cfd);
		}
	}
}

int
ipc_listen(struct ipc *ipc, const char *path)
{
	if ((ipc->lfd = sock_listen(path, 0660)) == -1)
		return -1;
	ipc->lpath = strdup(path);
	return loop_add_fd(ipc->loop, ipc->lfd, POLLIN, ipc_accept, ipc);
}

int
ipc_stdio(struct ipc *ipc)
{
	ipc->stdio = 1;
	return client_add(ipc, 0, 1);
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
	if (store_each_pending(ipc->store, ipc_resume_one, ipc) != 0)
		return -1;
	if (track_count(ipc->trk) > 0)
		log_info("resumed tracking %zu pending invoices", track_count(ipc->trk));
	return 0;
}

/*
 * test_jobd_state.c: the state machine alone. It links job.c and the
 * state module; the ledger, the publisher and the spokes are fakes here
 * that record what job.c asks of them. Checks the move table, that the
 * door (job_move) refuses illegal moves and keeps the running count, that
 * a job's row is written once per flush however many moves it made, the
 * 15 s tick's timeouts, and that job.c resolves inputs only through the
 * callback it is given.
 */
/* LINK: jobd/job.c jobd/index.c jobd/state.c jobd/reason.c jobd/wait.c jobd/partial.c jobd/quote.c jobd/escrow.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "loop.h"
#include "../../jobd/jobd.h"
#include "t.h"

/* ---- fakes: what job.c needs from the rest of jobd ---- */

#define MAX_REC 64

static struct {
	char	 job[65];
	int	 state;
	int	 with_row;
} writes[MAX_REC];
static int nwrites, batch_open, batches, inserts, results_sent, resolves;
static char sent[MAX_REC][64];	/* "spoke:op" */
static char feedback[MAX_REC][32];
static int nsent, nfeedback;
static long long changes;	/* rows the fake ledger changed */
static int last_sync = -1;	/* what the last batch commit was told */
static int64_t fake_now_ms = 1000000000000LL;

int64_t
ledger_now_ms(void)
{
	return fake_now_ms;
}

int
ledger_insert(sqlite3 *db, const struct job *j)
{
	inserts++;
	changes++;
	return 1;
}

long long
ledger_changes(sqlite3 *db)
{
	return changes;
}

int
ledger_job_write(sqlite3 *db, const struct job *j, const struct outbox_row *row)
{
	if (nwrites < MAX_REC) {
		memcpy(writes[nwrites].job, j->id, sizeof(writes[0].job));
		writes[nwrites].state = j->state;
		writes[nwrites].with_row = row != NULL;
		nwrites++;
	}
	changes += row != NULL ? 2 : 1;
	return 0;
}

int
ledger_escrow_move(sqlite3 *db, const char *id, const char *from, const char *to,
    int64_t paid_msat)
{
	changes++;
	return 0;
}

int
ledger_escrow_each(sqlite3 *db, void (*fn)(void *, const char *, const char *), void *arg)
{
	return 0;
}

int
ledger_load_open(sqlite3 *db, struct job **head, int64_t max_age_s)
{
	return 0;
}

int
ledger_outbox_ack(sqlite3 *db, const char *id)
{
	changes++;
	return 1;
}

int
ledger_outbox_gave_up(sqlite3 *db, const char *id)
{
	return 0;
}

int
ledger_set_paid(sqlite3 *db, const char *id, int64_t msat)
{
	changes++;
	return 1;
}

int
ledger_has(sqlite3 *db, const char *id)
{
	return 1;
}

int
ledger_job_state(sqlite3 *db, const char *id, char *state, size_t len)
{
	return -1;
}

int
ledger_batch_open(sqlite3 *db)
{
	return batch_open;
}

int
ledger_batch_begin(sqlite3 *db)
{
	batch_open = 1;
	batches++;
	return 0;
}

void
ledger_batch_end(sqlite3 *db, int sync)
{
	batch_open = 0;
	last_sync = sync;
}

int
publish_feedback(struct jobd *jd, const struct job *j, const char *status,
    const char *msg, int with_amount, const char *content)
{
	if (nfeedback < MAX_REC)
		snprintf(feedback[nfeedback++], sizeof(feedback[0]), "%s", status);
	return 0;
}

int
publish_result_build(struct jobd *jd, const struct job *j, char id[65], char **json,
    char **relays_json)
{
	memset(id, 'r', 64);
	id[64] = '\0';
	*json = strdup("{}");
	*relays_json = NULL;
	return *json ? 0 : -1;
}

void
publish_send_stored(struct jobd *jd, const char *json, const char *relays_json)
{
	results_sent++;
}

int
spoke_send(struct jobd *jd, enum spoke_id id, cJSON *msg)
{
	static const char *names[] = { "relayd", "inferd", "invoiced" };
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(msg, "op");

	if (nsent < MAX_REC)
		snprintf(sent[nsent++], sizeof(sent[0]), "%s:%s", names[id],
		    cJSON_IsString(op) ? op->valuestring : "?");
	cJSON_Delete(msg);
	return 0;
}

void
subscribe_cancel(struct jobd *jd)
{
}

int64_t
price_msat(const struct conf *c, int64_t pt, int64_t ct)
{
	return 1000 * (pt + ct);
}

int64_t
price_estimate_tokens(size_t bytes)
{
	return (int64_t)bytes / 4 + 1;
}

int64_t
price_quote_msat(const struct conf *c, size_t bytes, int max_tokens)
{
	return 1000 * (price_estimate_tokens(bytes) + max_tokens);
}

int64_t
price_tokens_covered(const struct conf *c, int64_t msat, size_t bytes)
{
	return msat / 1000 - price_estimate_tokens(bytes);
}

/* store.c: one price for every model; every model stays available */
const struct conf *
store_price(struct jobd *d, const char *model)
{
	return &d->conf;
}

int
store_available(struct jobd *d, const char *model)
{
	return 1;
}

void
request_free(struct request *r)
{
	int i;

	for (i = 0; i < r->nin; i++)
		free(r->in[i].text);
	for (i = 0; i < r->nrelays; i++)
		free(r->relays[i]);
	r->nin = r->nrelays = 0;
}

/* ---- helpers ---- */

static struct jobd jd;

static void
fake_resolve(struct jobd *d, struct job *j)
{
	resolves++;
}

static void
setup(int max_running)
{
	char err[256];
	struct job *j;

	while ((j = jd.jobs) != NULL) {
		jd.jobs = j->next;
		job_free(j);
	}
	conf_free(&jd.conf);
	memset(&jd, 0, sizeof(jd));
	if (conf_load(&jd.conf, NULL, err, sizeof(err)) == -1)
		abort();
	jd.conf.max_concurrent_jobs = max_running;
	jd.resolve = fake_resolve;
	nwrites = nsent = nfeedback = batches = inserts = results_sent = resolves = 0;
	batch_open = 0;
	last_sync = -1;
}

/* An open job in state s with a prompt, appended to jd.jobs. */
static struct job *
add_job(int n, enum job_state s)
{
	struct job *j = calloc(1, sizeof(*j)), **tail;

	if (j == NULL)
		abort();
	snprintf(j->id, sizeof(j->id), "%064d", n);
	memset(j->pubkey, 'p', 64);
	j->kind = 5050;
	j->state = s;
	j->received_ms = fake_now_ms;
	j->req.bid_msat = -1;
	j->req.max_tokens = 50;
	j->prompt = strdup("a prompt");
	j->request_json = strdup("{}");
	for (tail = &jd.jobs; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = j;
	job_index_add(&jd.index, j);	/* as job_admit and job_load_open do */
	if (s == ST_PROCESSING)	/* as job_load_open counts them */
		jd.running++;
	return j;
}

/* A job as job_new leaves it: in no list yet, for job_admit. */
static struct job *
fresh_job(int n)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		abort();
	snprintf(j->id, sizeof(j->id), "%064d", n);
	j->prompt = strdup("new");
	j->req.max_tokens = 10;
	j->req.bid_msat = -1;
	return j;
}

/* Row writes of the job with this id (a closed job is freed: keep its id). */
static int
writes_of(const char *id)
{
	int i, n = 0;

	for (i = 0; i < nwrites; i++)
		if (strcmp(writes[i].job, id) == 0)
			n++;
	return n;
}

static int
was_sent(const char *what)
{
	int i;

	for (i = 0; i < nsent; i++)
		if (strcmp(sent[i], what) == 0)
			return 1;
	return 0;
}

static int
open_jobs(void)
{
	struct job *j;
	int n = 0;

	for (j = jd.jobs; j != NULL; j = j->next)
		n++;
	return n;
}

/* ---- cases ---- */

TEST(moves_table)
{
	static const struct { enum job_state a, b; } ok[] = {
		{ ST_RECEIVED, ST_QUOTED }, { ST_RECEIVED, ST_QUEUED }, { ST_RECEIVED, ST_REJECTED },
		{ ST_RECEIVED, ST_ERROR }, { ST_RECEIVED, ST_CANCELLED },
		{ ST_QUOTED, ST_PAYMENT_REQUIRED }, { ST_QUOTED, ST_EXPIRED }, { ST_QUOTED, ST_ERROR },
		{ ST_QUOTED, ST_CANCELLED },
		{ ST_PAYMENT_REQUIRED, ST_PAID }, { ST_PAYMENT_REQUIRED, ST_EXPIRED },
		{ ST_PAYMENT_REQUIRED, ST_ERROR }, { ST_PAYMENT_REQUIRED, ST_CANCELLED },
		{ ST_PAID, ST_QUEUED },
		{ ST_QUEUED, ST_PROCESSING }, { ST_QUEUED, ST_ERROR }, { ST_QUEUED, ST_CANCELLED },
		{ ST_PROCESSING, ST_INFERRED }, { ST_PROCESSING, ST_ERROR },
		{ ST_PROCESSING, ST_CANCELLED },
		{ ST_INFERRED, ST_INVOICED }, { ST_INFERRED, ST_PUBLISHED }, { ST_INFERRED, ST_ERROR },
		{ ST_INVOICED, ST_PUBLISHED },
		{ ST_PUBLISHED, ST_ACKED }, { ST_PUBLISHED, ST_ERROR },
	};
	int a, b, n = 0;
	size_t i;

	for (a = 0; a < ST__COUNT; a++)
		for (b = 0; b < ST__COUNT; b++) {
			int want = 0;

			for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
				if (ok[i].a == (enum job_state)a && ok[i].b == (enum job_state)b)
					want = 1;
			CHECKF(state_can_move(a, b) == want, "%s -> %s", state_name(a),
			    state_name(b));
			n += want;
		}
	CHECK(n == (int)(sizeof(ok) / sizeof(ok[0])));
	CHECK(!state_can_move(ST__COUNT, ST_ACKED) && !state_can_move(-1, ST_ACKED));
	for (a = 0; a < ST__COUNT; a++) {
		CHECK(state_parse(state_name(a)) == a);
		CHECK(state_closed(a) == (a >= ST_ACKED));
	}
	CHECK(state_parse("nonsense") == -1);
}

TEST(replay_actions)
{
	CHECK(state_replay_action(ST_RECEIVED, PAY_AFTER) == ACT_RESOLVE);
	CHECK(state_replay_action(ST_QUOTED, PAY_BEFORE) == ACT_INVOICE);
	CHECK(state_replay_action(ST_PAYMENT_REQUIRED, PAY_BEFORE) == ACT_LOOKUP);
	CHECK(state_replay_action(ST_PAID, PAY_BEFORE) == ACT_ACK_PAID);
	CHECK(state_replay_action(ST_QUEUED, PAY_FREE) == ACT_QUEUE);
	CHECK(state_replay_action(ST_PROCESSING, PAY_FREE) == ACT_INFER);
	CHECK(state_replay_action(ST_INFERRED, PAY_AFTER) == ACT_INVOICE);
	CHECK(state_replay_action(ST_INFERRED, PAY_BEFORE) == ACT_RESULT);
	CHECK(state_replay_action(ST_INFERRED, PAY_FREE) == ACT_RESULT);
	CHECK(state_replay_action(ST_INVOICED, PAY_AFTER) == ACT_RESULT);
	CHECK(state_replay_action(ST_PUBLISHED, PAY_AFTER) == ACT_REPUBLISH);
	CHECK(state_replay_action(ST_ACKED, PAY_AFTER) == ACT_NONE);
	CHECK(state_replay_action(ST_REJECTED, PAY_AFTER) == ACT_NONE);
	CHECK(state_replay_action(ST_ERROR, PAY_AFTER) == ACT_NONE);
	CHECK(state_replay_action(ST_CANCELLED, PAY_AFTER) == ACT_NONE);
	CHECK(state_replay_action(ST_EXPIRED, PAY_AFTER) == ACT_NONE);
}

TEST(door_refuses_illegal_moves)
{
	struct job *j;
	int s;

	setup(4);
	j = add_job(1, ST_PUBLISHED);
	CHECK(job_move(&jd, j, ST_PROCESSING, NULL) == -1 && j->state == ST_PUBLISHED);
	CHECK(job_move(&jd, j, ST_RECEIVED, NULL) == -1 && jd.ndirty == 0);
	CHECK(jd.running == 0);
	/* no way out of a closed state */
	for (s = 0; s < ST__COUNT; s++) {
		j->state = ST_ACKED;
		CHECK(job_move(&jd, j, s, NULL) == -1 && j->state == ST_ACKED);
	}
	job_flush(&jd);
	CHECK(nwrites == 0);
}

TEST(running_count_follows_the_moves)
{
	struct job *a, *b;
	cJSON *done;

	setup(1);
	a = add_job(1, ST_RECEIVED);
	b = add_job(2, ST_RECEIVED);
	job_start(&jd, a);
	job_start(&jd, b);
	CHECK(a->state == ST_PROCESSING && b->state == ST_QUEUED);
	CHECKF(jd.running == 1, "running %d", jd.running);
	CHECK(was_sent("inferd:infer"));
	/* a's answer frees the slot: a is published, b starts */
	done = cJSON_Parse("{\"op\":\"done\",\"text\":\"hi\",\"prompt_tokens\":1,"
	    "\"completion_tokens\":2}");
	REQUIRE(done != NULL);
	cJSON_AddStringToObject(done, "job", a->id);
	job_on_infer(&jd, "done", done);
	cJSON_Delete(done);
	CHECK(a->state == ST_PUBLISHED && results_sent == 1);
	CHECK(b->state == ST_PROCESSING && jd.running == 1);
	/* a cancel of a running job gives its slot back and closes it */
	job_fail(&jd, b, ST_CANCELLED, "cancelled by the requester");
	CHECK(jd.running == 0 && open_jobs() == 1 && job_find(&jd, a->id) == a);
	/* an error from processing does too */
	b = add_job(3, ST_QUEUED);
	job_schedule(&jd);
	CHECK(b->state == ST_PROCESSING && jd.running == 1);
	job_fail(&jd, b, ST_ERROR, "inference failed");
	CHECK(jd.running == 0 && open_jobs() == 1);
}

TEST(one_row_write_per_job_per_flush)
{
	struct job *a, *b, *n;
	char id[65];

	setup(4);
	a = add_job(1, ST_RECEIVED);
	b = add_job(2, ST_RECEIVED);
	job_mark_changed(&jd, a);		/* the prompt, as ingest does */
	job_start(&jd, a);			/* received -> queued -> processing */
	job_start(&jd, b);
	CHECK(a->state == ST_PROCESSING && b->state == ST_PROCESSING);
	CHECKF(nwrites == 0, "%d writes before the flush", nwrites);
	CHECK(jd.ndirty == 2);
	job_flush(&jd);
	CHECK(writes_of(a->id) == 1 && writes_of(b->id) == 1 && nwrites == 2);
	CHECK(writes[0].state == ST_PROCESSING && !writes[0].with_row);
	CHECK(batches == 1 && batch_open == 0);	/* both in one transaction */
	job_flush(&jd);
	CHECK(nwrites == 2 && jd.ndirty == 0);	/* nothing changed since */
	/* a new job reaches the ledger with its first wake-up's moves, once */
	n = fresh_job(9);
	job_admit(&jd, n);
	job_start(&jd, n);
	CHECK(n->state == ST_PROCESSING && writes_of(n->id) == 0 && inserts == 0);
	job_flush(&jd);
	CHECK(writes_of(n->id) == 1 && writes[nwrites - 1].state == ST_PROCESSING);
	/* inside an open batch the flush writes and leaves the commit to it */
	batches = 0;
	batch_open = 1;
	snprintf(id, sizeof(id), "%s", b->id);
	job_fail(&jd, b, ST_ERROR, "x");	/* closed: written before it is freed */
	CHECK(writes_of(id) == 2 && jd.ndirty == 0);
	job_move(&jd, a, ST_ERROR, NULL);
	job_flush(&jd);
	CHECK(writes_of(a->id) == 2 && batch_open == 1 && batches == 0);
}

/*
 * A batch commits without its own fsync only when every row it changed
 * can be redone after a power cut: a new job, queued/processing, an ack.
 */
TEST(only_redoable_batches_skip_the_sync)
{
	struct job *a, *n;
	cJSON *done;
	char rid[65];

	setup(4);
	a = add_job(1, ST_PROCESSING);
	n = fresh_job(9);
	REQUIRE(job_batch_begin(&jd) == 0);
	job_admit(&jd, n);			/* request in, processing, infer out */
	job_start(&jd, n);
	job_flush(&jd);
	job_batch_end(&jd);
	CHECKF(n->state == ST_PROCESSING && last_sync == 0, "sync %d", last_sync);
	REQUIRE(job_batch_begin(&jd) == 0);
	job_on_ok(&jd, "00ff", 1);		/* a relay's OK: the outbox ack */
	job_flush(&jd);
	job_batch_end(&jd);
	CHECK(last_sync == 0);
	REQUIRE(job_batch_begin(&jd) == 0);	/* the result: synced */
	done = cJSON_Parse("{\"op\":\"done\",\"text\":\"hi\",\"prompt_tokens\":1,"
	    "\"completion_tokens\":2}");
	REQUIRE(done != NULL);
	cJSON_AddStringToObject(done, "job", a->id);
	job_on_infer(&jd, "done", done);
	cJSON_Delete(done);
	job_flush(&jd);
	job_batch_end(&jd);
	CHECKF(a->state == ST_PUBLISHED && last_sync == 1, "%s, sync %d",
	    state_name(a->state), last_sync);
	snprintf(rid, sizeof(rid), "%s", a->result_id);
	REQUIRE(job_batch_begin(&jd) == 0);	/* its OK: acked and closed */
	job_on_ok(&jd, rid, 1);
	job_flush(&jd);
	job_batch_end(&jd);
	CHECK(open_jobs() == 1 && last_sync == 0);
	REQUIRE(job_batch_begin(&jd) == 0);	/* a change that is not a move */
	job_mark_changed(&jd, n);
	job_flush(&jd);
	job_batch_end(&jd);
	CHECK(last_sync == 1);
	REQUIRE(job_batch_begin(&jd) == 0);	/* a write nobody declared */
	ledger_set_paid(NULL, n->id, 1000);
	job_batch_end(&jd);
	CHECK(last_sync == 1);
	REQUIRE(job_batch_begin(&jd) == 0);	/* an error closes for good */
	job_fail(&jd, n, ST_ERROR, "x");
	job_flush(&jd);
	job_batch_end(&jd);
	CHECK(last_sync == 1);
}

TEST(result_written_with_its_move)
{
	struct job *a;
	cJSON *done;
	char id[65], rid[65];

	setup(4);
	a = add_job(1, ST_PROCESSING);
	done = cJSON_Parse("{\"op\":\"done\",\"text\":\"hi\",\"prompt_tokens\":1,"
	    "\"completion_tokens\":2}");
	REQUIRE(done != NULL);
	cJSON_AddStringToObject(done, "job", a->id);
	job_on_infer(&jd, "done", done);	/* processing -> inferred -> published */
	cJSON_Delete(done);
	CHECK(a->state == ST_PUBLISHED && a->result_id[0] == 'r');
	/* one write: the row with the result event, taking the earlier move along */
	CHECK(writes_of(a->id) == 1 && writes[0].with_row && writes[0].state == ST_PUBLISHED);
	CHECK(jd.ndirty == 0 && jd.running == 0);
	job_flush(&jd);
	CHECK(writes_of(a->id) == 1);
	snprintf(id, sizeof(id), "%s", a->id);
	snprintf(rid, sizeof(rid), "%s", a->result_id);
	job_on_ok(&jd, rid, 1);		/* a relay took it: acked and closed */
	CHECK(open_jobs() == 0 && writes_of(id) == 2);
}

TEST(tick_timeouts)
{
	struct job *fetching, *fresh, *unacked, *unpaid, *waiting;
	char fid[65], uid[65];

	setup(4);
	fetching = add_job(1, ST_RECEIVED);
	fetching->pending = 1;
	fetching->received_ms = fake_now_ms - 31000;
	fresh = add_job(2, ST_RECEIVED);
	fresh->pending = 1;
	fresh->received_ms = fake_now_ms - 1000;
	unacked = add_job(3, ST_PUBLISHED);
	unacked->received_ms = fake_now_ms - 25LL * 3600 * 1000;
	unpaid = add_job(4, ST_PAYMENT_REQUIRED);
	unpaid->quote_msat = 5000;
	unpaid->invoice_expires = now_unix() - 60;
	waiting = add_job(5, ST_PAYMENT_REQUIRED);
	waiting->quote_msat = 5000;
	waiting->invoice_expires = now_unix() + 600;
	snprintf(fid, sizeof(fid), "%s", fetching->id);
	snprintf(uid, sizeof(uid), "%s", unacked->id);
	job_tick(&jd);
	CHECK(job_find(&jd, fid) == NULL && jd.rejections[REJ_BAD_INPUT] == 1);
	CHECK(job_find(&jd, uid) == NULL);
	CHECK(writes_of(uid) == 1 && writes_of(fid) == 1);	/* both on disk, once */
	CHECK(fresh->state == ST_RECEIVED && unpaid->state == ST_PAYMENT_REQUIRED);
	CHECK(waiting->state == ST_PAYMENT_REQUIRED);
	CHECK(was_sent("invoiced:lookup") && nsent == 1);	/* only the expired one */
	CHECK(nfeedback == 1 && strcmp(feedback[0], "error") == 0);	/* the fetch */
	CHECK(open_jobs() == 3);
}

TEST(paid_then_queued_then_running)
{
	struct job *j;
	cJSON *m;

	setup(4);
	j = add_job(1, ST_PAYMENT_REQUIRED);
	j->quote_msat = 5000;
	m = cJSON_Parse("{\"op\":\"paid\",\"amount_msat\":5000}");
	REQUIRE(m != NULL);
	cJSON_AddStringToObject(m, "job", j->id);
	job_on_invoice(&jd, "paid", m);
	cJSON_Delete(m);
	CHECK(j->state == ST_PROCESSING && j->paid_msat == 5000 && jd.running == 1);
	CHECK(was_sent("invoiced:ack") && was_sent("inferd:infer"));
	job_flush(&jd);
	CHECK(writes_of(j->id) == 1 && writes[0].state == ST_PROCESSING);
}

/* wait.c: a paid job waits (once told), the request's fault and free jobs do not. */
TEST(paid_job_waits_for_inference)
{
	struct job *j, *f;
	int64_t ms;

	setup(4);
	jd.conf.inference_deadline = 300;
	j = add_job(1, ST_PROCESSING);
	j->pay_mode = PAY_BEFORE + 1;
	j->queued_ms = fake_now_ms - 1000;
	CHECK(wait_retry_ms(&jd, j, "timeout_first_byte", 0) == 1000);
	CHECK(nfeedback == 1 && strcmp(feedback[0], "processing") == 0);
	j->retries = 2;
	CHECK(wait_retry_ms(&jd, j, "busy", 1) == 4000);
	CHECK(nfeedback == 1);	/* told once, not on every retry */
	j->retries = 40;
	ms = wait_retry_ms(&jd, j, "unknown_model", 0);
	CHECK(ms > 0 && ms <= 30000);
	CHECK(wait_retry_ms(&jd, j, "bad_request", 0) == -1);
	CHECK(wait_retry_ms(&jd, j, "backend_error", 0) == -1);	/* an HTTP 4xx */
	CHECK(wait_retry_ms(&jd, j, "backend_error", 1) > 0);	/* a 5xx */
	j->queued_ms = fake_now_ms - 299500;	/* the last try is at the deadline */
	CHECK(wait_retry_ms(&jd, j, "busy", 1) == 500);
	j->queued_ms = fake_now_ms - 300000;
	CHECK(wait_retry_ms(&jd, j, "busy", 1) == 0);
	f = add_job(2, ST_PROCESSING);
	f->pay_mode = PAY_FREE + 1;
	CHECK(wait_retry_ms(&jd, f, "timeout_first_byte", 0) == -1);
	CHECK(wait_retry_ms(&jd, f, "busy", 1) == 1000);
	f->retries = JOBD_INFER_RETRIES;
	CHECK(wait_retry_ms(&jd, f, "busy", 1) == -1);
	CHECK(nfeedback == 1);
}

/* A started job keeps its payment mode whatever the config says now. */
TEST(job_keeps_its_payment_mode)
{
	struct job *j;

	setup(4);
	j = add_job(1, ST_QUEUED);
	jd.conf.wallet = WALLET_LNBITS;
	jd.conf.payment_mode = PAY_AFTER;
	CHECK(job_mode(&jd, j) == PAY_AFTER);	/* not started: the config's */
	j->pay_mode = PAY_AFTER + 1;
	jd.conf.wallet = WALLET_NONE;
	CHECK(job_mode(&jd, j) == PAY_AFTER);
	jd.conf.wallet = WALLET_LNBITS;
	jd.conf.payment_mode = PAY_BEFORE;
	CHECK(job_mode(&jd, j) == PAY_AFTER);
}

/* The tick ends a waiting job past its deadline, never a running healthy one. */
TEST(tick_ends_overdue_waiting_jobs)
{
	struct job *late, *young;
	char lid[65];

	setup(4);
	jd.conf.inference_deadline = 300;
	late = add_job(1, ST_PROCESSING);
	late->pay_mode = PAY_BEFORE + 1;
	late->queued_ms = fake_now_ms - 301000;
	young = add_job(2, ST_PROCESSING);
	young->pay_mode = PAY_BEFORE + 1;
	young->queued_ms = fake_now_ms - 1000;
	snprintf(lid, sizeof(lid), "%s", late->id);
	jd.spokes[SPOKE_INFERD].connected = 1;	/* inferd there, no retry pending: running */
	job_tick(&jd);
	CHECK(job_find(&jd, lid) == late && nfeedback == 0);
	jd.spokes[SPOKE_INFERD].connected = 0;	/* no answer can come */
	job_tick(&jd);
	CHECK(job_find(&jd, lid) == NULL && writes_of(lid) == 1);
	CHECK(nfeedback == 1 && strcmp(feedback[0], "error") == 0);
	CHECK(young->state == ST_PROCESSING && jd.running == 1);
}

/* While a paid job waits for its next try, newer queued jobs do not start. */
TEST(waiting_job_keeps_its_place)
{
	struct job *w, *q;

	setup(4);
	w = add_job(1, ST_PROCESSING);
	w->pay_mode = PAY_BEFORE + 1;
	w->retry_timer = 99;	/* a retry pending (never fires here) */
	q = add_job(2, ST_QUEUED);
	q->pay_mode = PAY_BEFORE + 1;
	job_schedule(&jd);
	CHECK(q->state == ST_QUEUED && !was_sent("inferd:infer"));
	w->pay_mode = PAY_FREE + 1;	/* a free job's retry holds nobody up */
	job_schedule(&jd);
	CHECK(q->state == ST_PROCESSING && jd.running == 2);
	w->retry_timer = 0;
}

TEST(resolving_goes_through_the_callback)
{
	struct job *j;

	setup(4);
	j = add_job(1, ST_RECEIVED);
	job_replay_local(&jd);
	CHECK(resolves == 1 && j->state == ST_RECEIVED);
	j->pending = 1;
	job_resync(&jd, SPOKE_RELAYD);		/* relayd came back: fetch again */
	CHECK(resolves == 2);
	job_resync(&jd, SPOKE_INFERD);
	CHECK(resolves == 2);
}

/*
 * Escrow: a held job that closes is settled only on the acked path; every
 * other close cancels, and the requester is told the payment was returned
 * (a kind-5 cancel too, which otherwise sends no feedback).
 */
TEST(held_jobs_settle_only_when_acked)
{
	struct job *j;
	char err[JOBD_MAX_ERRMSG];

	setup(4);
	j = add_job(1, ST_PUBLISHED);
	snprintf(j->escrow, sizeof(j->escrow), "held");
	snprintf(j->result_id, sizeof(j->result_id), "%064d", 9);
	job_on_ok(&jd, j->result_id, 1);
	CHECK(open_jobs() == 0 && was_sent("invoiced:settle") && !was_sent("invoiced:cancel"));

	setup(4);
	j = add_job(2, ST_PROCESSING);
	snprintf(j->escrow, sizeof(j->escrow), "held");
	snprintf(err, sizeof(err), "x");
	escrow_explain(j, err, sizeof(err));
	CHECK(strstr(err, "refunded") != NULL);
	job_fail(&jd, j, ST_CANCELLED, "cancelled by the requester");
	CHECK(was_sent("invoiced:cancel") && !was_sent("invoiced:settle"));
	CHECK(nfeedback == 1 && strcmp(feedback[0], "error") == 0);

	setup(4);
	j = add_job(3, ST_PAYMENT_REQUIRED);
	snprintf(j->escrow, sizeof(j->escrow), "open");
	job_fail(&jd, j, ST_EXPIRED, "invoice expired unpaid");
	CHECK(was_sent("invoiced:cancel") && !was_sent("invoiced:settle"));

	setup(4);
	j = add_job(4, ST_PROCESSING);		/* no escrow: nothing sent to invoiced */
	job_fail(&jd, j, ST_ERROR, "inference failed");
	CHECK(!was_sent("invoiced:cancel") && !was_sent("invoiced:settle"));
}

int
main(void)
{
	struct job *j;

	log_init("test_jobd_state", getenv("TDEBUG") ? LOG_DEBUG : LOG_ERROR);
	RUN(moves_table);
	RUN(replay_actions);
	RUN(door_refuses_illegal_moves);
	RUN(running_count_follows_the_moves);
	RUN(one_row_write_per_job_per_flush);
	RUN(only_redoable_batches_skip_the_sync);
	RUN(result_written_with_its_move);
	RUN(tick_timeouts);
	RUN(paid_then_queued_then_running);
	RUN(resolving_goes_through_the_callback);
	RUN(paid_job_waits_for_inference);
	RUN(job_keeps_its_payment_mode);
	RUN(tick_ends_overdue_waiting_jobs);
	RUN(waiting_job_keeps_its_place);
	RUN(held_jobs_settle_only_when_acked);
	while ((j = jd.jobs) != NULL) {
		jd.jobs = j->next;
		job_free(j);
	}
	conf_free(&jd.conf);
	T_DONE();
}

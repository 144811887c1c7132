/*
 * test_jobd_ledger.c: jobd's storage alone: dedupe, round trip of every
 * field, a job's row written with its outbox event, payments, the schema
 * version, expiry of old waiting jobs. It links the ledger and the state
 * module only: storage depends on nothing else of jobd.
 */
/* LINK: jobd/ledger.c jobd/state.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "conf.h"
#include "event.h"
#include "keys.h"
#include "log.h"
#include "loop.h"	/* now_unix */
#include "../../jobd/ledger.h"
#include "t.h"

static char dir[] = "/tmp/test_jobd_ledger.XXXXXX";
static char dbpath[256];
static struct keypair requester;

#include "jobd_jobs.h"

/* What job.c's job_free does, for records the ledger handed out. */
static void
free_job(struct job *j)
{
	int i;

	if (j == NULL)
		return;
	for (i = 0; i < j->req.nrelays; i++)
		free(j->req.relays[i]);
	free(j->request_json);
	free(j->prompt);
	free(j->bolt11);
	free(j->text);
	free(j);
}

TEST(ledger_round_trip_and_dedupe)
{
	sqlite3 *db;
	char err[256], st[32];
	struct job *j = mkjob(ST_RECEIVED, 1), *head = NULL, *k;

	unlink(dbpath);
	REQUIRE(j != NULL && ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	CHECK(ledger_insert(db, j) == 1);
	CHECK(ledger_insert(db, j) == 0);	/* the durable dedupe */
	CHECK(ledger_has(db, j->id) == 1 && ledger_has(db, "nope") == 0);
	j->state = ST_INVOICED;
	j->enc = ENC_NIP44;
	j->prompt = strdup("the prompt");
	j->text = strdup("the answer");
	j->bolt11 = strdup("lnbc1fake");
	j->quote_msat = 0;
	j->price_msat = 5000;
	j->prompt_tokens = 11;
	j->completion_tokens = 22;
	j->req.temperature = 0.25;
	j->req.relays[0] = strdup("wss://extra");
	j->req.nrelays = 1;
	REQUIRE(ledger_job_write(db, j, NULL) == 0);
	REQUIRE(ledger_load_open(db, &head, 3600) == 1);
	k = head;
	CHECK(strcmp(k->id, j->id) == 0 && k->state == ST_INVOICED && k->enc == ENC_NIP44);
	CHECK(strcmp(k->prompt, "the prompt") == 0 && strcmp(k->text, "the answer") == 0);
	CHECK(strcmp(k->bolt11, "lnbc1fake") == 0 && k->price_msat == 5000);
	CHECK(k->prompt_tokens == 11 && k->completion_tokens == 22);
	CHECK(k->req.temperature == 0.25 && k->req.max_tokens == 101);
	CHECK(strcmp(k->req.model, "m1") == 0 && strcmp(k->relay, "wss://r1") == 0);
	CHECK(k->req.nrelays == 1 && strcmp(k->req.relays[0], "wss://extra") == 0);
	CHECK(strcmp(k->request_json, j->request_json) == 0 && memcmp(k->pk, requester.pk, 32) == 0);
	free_job(k);
	CHECK(ledger_job_state(db, j->id, st, sizeof(st)) == 0 && strcmp(st, "invoiced") == 0);
	free_job(j);
	ledger_close(db);
}

static int outbox_seen;
static void
count_outbox(void *arg, const char *json, const char *relays)
{
	(void)arg;
	(void)relays;
	if (strstr(json, "\"id\"") != NULL)
		outbox_seen++;
}

/* An admitted job's first write creates its row, with every field. */
static int
sync_level(sqlite3 *db)
{
	sqlite3_stmt *st;
	int v = -1;

	if (sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &st, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/*
 * A batch runs at NORMAL and its end syncs the WAL or not; either way
 * every write outside a batch is at FULL again afterwards, and both
 * commits are there when the database is opened again.
 */
TEST(ledger_batch_sync_levels)
{
	sqlite3 *db;
	char err[256];
	struct job *a = mkjob(ST_PROCESSING, 5), *b = mkjob(ST_PROCESSING, 6);

	unlink(dbpath);
	REQUIRE(a != NULL && b != NULL && ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	CHECK(sync_level(db) == 2);
	REQUIRE(ledger_batch_begin(db) == 0);
	CHECK(sync_level(db) == 1 && ledger_batch_open(db));
	REQUIRE(ledger_job_write(db, a, NULL) == 0);
	ledger_batch_end(db, 0);		/* redoable: not synced */
	CHECK(sync_level(db) == 2 && !ledger_batch_open(db));
	REQUIRE(ledger_batch_begin(db) == 0);
	REQUIRE(ledger_job_write(db, b, NULL) == 0);
	CHECK(ledger_changes(db) >= 2);
	ledger_batch_end(db, 1);		/* synced through SQLite's WAL file */
	CHECK(sync_level(db) == 2);
	ledger_close(db);
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	CHECK(ledger_has(db, a->id) == 1 && ledger_has(db, b->id) == 1);
	ledger_close(db);
	free_job(a);
	free_job(b);
}

TEST(ledger_first_write_creates_the_row)
{
	sqlite3 *db;
	char err[256], st[32];
	struct job *j = mkjob(ST_PROCESSING, 4), *head = NULL;

	unlink(dbpath);
	REQUIRE(j != NULL && ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	CHECK(ledger_has(db, j->id) == 0);
	j->prompt = strdup("p4");
	REQUIRE(ledger_job_write(db, j, NULL) == 0);
	CHECK(ledger_has(db, j->id) == 1);
	CHECK(ledger_job_state(db, j->id, st, sizeof(st)) == 0 && strcmp(st, "processing") == 0);
	CHECK(ledger_insert(db, j) == 0);	/* the dedupe sees it */
	REQUIRE(ledger_load_open(db, &head, 3600) == 1);
	CHECK(strcmp(head->prompt, "p4") == 0 && strcmp(head->relay, "wss://r4") == 0);
	CHECK(strcmp(head->request_json, j->request_json) == 0 && head->kind == 5050);
	CHECK(head->received_ms == j->received_ms && head->created_at == j->created_at);
	free_job(head);
	free_job(j);
	ledger_close(db);
}

TEST(ledger_outbox_and_payments)
{
	sqlite3 *db;
	char err[256];
	struct job *j = mkjob(ST_INVOICED, 2);
	int n;

	unlink(dbpath);
	REQUIRE(j != NULL && ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	REQUIRE(ledger_insert(db, j) == 1);
	j->price_msat = 3000;
	j->state = ST_PUBLISHED;
	memset(j->result_id, 'a', 64);
	REQUIRE(ledger_job_write(db, j, &(struct outbox_row){ j->result_id, 6050,
	    "{\"id\":\"aaaa\"}", "[\"wss://x\"]" }) == 0);
	CHECK(ledger_unpaid_count(db, requester.pkhex) == 1);
	n = ledger_outbox_each(db, 60000, count_outbox, NULL);
	CHECK(n == 0 && outbox_seen == 0);	/* too recent for a retry pass */
	CHECK(ledger_outbox_ack(db, j->result_id) == 1);
	CHECK(ledger_outbox_ack(db, j->result_id) == 0);
	CHECK(ledger_set_paid(db, j->id, 3000) == 1);
	CHECK(ledger_set_paid(db, j->id, 3000) == 0);	/* recorded once */
	CHECK(ledger_unpaid_count(db, requester.pkhex) == 0);
	CHECK(ledger_meta_set(db, "online", "0") == 0);
	ledger_close(db);
	free_job(j);
}

TEST(ledger_outbox_replay_counts_tries)
{
	sqlite3 *db;
	char err[256];
	int i;

	unlink(dbpath);
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	REQUIRE(ledger_outbox_put(db, "e1", NULL, 7000, "{\"id\":\"e1\"}", NULL) == 0);
	REQUIRE(ledger_outbox_put(db, "e2", NULL, 7000, "{\"id\":\"e2\"}", NULL) == 0);
	ledger_outbox_ack(db, "e2");
	for (i = 0; i < 25; i++)
		ledger_outbox_each(db, 0, count_outbox, NULL);
	CHECK(outbox_seen == 20);	/* e1 tried at most 20 times, e2 never */
	/* job_tick closes a result's job once its re-sends are spent */
	CHECK(ledger_outbox_gave_up(db, "e1") == 1 && ledger_outbox_gave_up(db, "e2") == 0);
	REQUIRE(ledger_outbox_put(db, "e3", NULL, 6050, "{\"id\":\"e3\"}", NULL) == 0);
	CHECK(ledger_outbox_gave_up(db, "e3") == 0);
	ledger_close(db);
}

TEST(ledger_schema_version_checked)
{
	sqlite3 *db;
	char err[256];

	unlink(dbpath);
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	REQUIRE(ledger_meta_set(db, "schema_version", "99") == 0);
	ledger_close(db);
	CHECK(ledger_open(&db, dbpath, err, sizeof(err)) == -1 && strstr(err, "99") != NULL);
}

/*
 * A jobs.db made before pay_mode and queued_ms existed gains them on open
 * (added_columns), and both survive a write and a load: a started job keeps
 * its payment mode and its inference deadline across restarts.
 */
static const char *old_jobs = "CREATE TABLE jobs("
    " id TEXT PRIMARY KEY, pubkey TEXT NOT NULL, kind INTEGER NOT NULL,"
    " created_at INTEGER NOT NULL, received_ms INTEGER NOT NULL,"
    " updated_ms INTEGER NOT NULL, done_ms INTEGER NOT NULL DEFAULT 0,"
    " state TEXT NOT NULL, enc INTEGER NOT NULL DEFAULT 0,"
    " relay TEXT NOT NULL DEFAULT '', request TEXT NOT NULL, params TEXT,"
    " quote_msat INTEGER NOT NULL DEFAULT 0, price_msat INTEGER NOT NULL DEFAULT 0,"
    " paid_msat INTEGER NOT NULL DEFAULT 0, bolt11 TEXT,"
    " invoice_expires INTEGER NOT NULL DEFAULT 0,"
    " prompt_tokens INTEGER NOT NULL DEFAULT 0,"
    " completion_tokens INTEGER NOT NULL DEFAULT 0,"
    " text TEXT, result_id TEXT, error TEXT);";

TEST(ledger_old_db_gains_columns)
{
	sqlite3 *db;
	char err[256];
	struct job *j = mkjob(ST_PROCESSING, 5), *head = NULL;

	unlink(dbpath);
	REQUIRE(j != NULL && sqlite3_open(dbpath, &db) == SQLITE_OK);
	REQUIRE(sqlite3_exec(db, old_jobs, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(db);
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	j->prompt = strdup("p5");
	j->pay_mode = PAY_AFTER + 1;
	j->queued_ms = 1234567;
	REQUIRE(ledger_job_write(db, j, NULL) == 0);
	REQUIRE(ledger_load_open(db, &head, 3600) == 1);
	CHECK(head->pay_mode == PAY_AFTER + 1 && head->queued_ms == 1234567);
	free_job(head);
	free_job(j);
	ledger_close(db);
	/* and opening it again (the columns there now) changes nothing */
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	head = NULL;
	REQUIRE(ledger_load_open(db, &head, 3600) == 1);
	CHECK(head->pay_mode == PAY_AFTER + 1 && head->queued_ms == 1234567);
	free_job(head);
	ledger_close(db);
}

/* Storage does not expire waiting jobs behind the move table: job.c decides, with feedback. */
TEST(ledger_loads_old_waiting_jobs)
{
	sqlite3 *db;
	char err[256], st[32];
	struct job *j = mkjob(ST_PAYMENT_REQUIRED, 3), *head = NULL;

	unlink(dbpath);
	REQUIRE(j != NULL && ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	j->received_ms -= 7200 * 1000;
	REQUIRE(ledger_insert(db, j) == 1);
	CHECK(ledger_load_open(db, &head, 3600) == 1 && head != NULL);
	CHECK(ledger_job_state(db, j->id, st, sizeof(st)) == 0 &&
	    strcmp(st, "payment-required") == 0);
	free_job(head);
	free_job(j);
	ledger_close(db);
}

/* Age a row by hand: the ledger stamps updated_ms with the clock. */
static void
age_row(sqlite3 *db, const char *id, int64_t ms, int64_t created_at)
{
	char sql[256];

	snprintf(sql, sizeof(sql), "UPDATE jobs SET received_ms = received_ms - %lld, "
	    "updated_ms = updated_ms - %lld, created_at = %lld WHERE id = '%s'",
	    (long long)ms, (long long)ms, (long long)created_at, id);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
	snprintf(sql, sizeof(sql), "UPDATE outbox SET created_ms = created_ms - %lld "
	    "WHERE job = '%s'", (long long)ms, id);
	sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/*
 * Retention: old finished and rejected rows go with their outbox events;
 * an unpaid invoice not yet expired, an open job and a request still young
 * enough to pass the age check stay. Batches are bounded.
 */
TEST(ledger_prunes_old_rows_but_keeps_unsettled)
{
	sqlite3 *db;
	char err[256];
	struct job *done = mkjob(ST_ACKED, 7), *unpaid = mkjob(ST_ACKED, 8),
	    *rej = mkjob(ST_REJECTED, 9), *open = mkjob(ST_PAYMENT_REQUIRED, 10),
	    *young = mkjob(ST_ACKED, 11), *paid = mkjob(ST_ACKED, 12);
	struct ledger_retention r = { 30LL * 86400 * 1000, 24LL * 3600 * 1000, 300 };
	int64_t old = 40LL * 86400 * 1000, t = now_unix() - 40 * 86400;

	unlink(dbpath);
	REQUIRE(done && unpaid && rej && open && young && paid);
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	memset(done->result_id, 'd', 64);
	REQUIRE(ledger_job_write(db, done, &(struct outbox_row){ done->result_id, 6050,
	    "{}", NULL }) == 0);
	unpaid->bolt11 = strdup("lnbc1unpaid");
	unpaid->price_msat = 1000;
	unpaid->invoice_expires = now_unix() + 3600;	/* may still be paid */
	paid->bolt11 = strdup("lnbc1paid");
	paid->price_msat = paid->paid_msat = 1000;
	paid->invoice_expires = now_unix() + 3600;
	REQUIRE(ledger_job_write(db, unpaid, NULL) == 0 && ledger_job_write(db, paid, NULL) == 0);
	REQUIRE(ledger_insert(db, rej) == 1 && ledger_job_write(db, open, NULL) == 0);
	REQUIRE(ledger_job_write(db, young, NULL) == 0);
	age_row(db, done->id, old, t);
	age_row(db, unpaid->id, old, t);
	age_row(db, paid->id, old, t);
	age_row(db, rej->id, 2LL * 86400 * 1000, now_unix() - 2 * 86400);
	age_row(db, open->id, old, t);
	age_row(db, young->id, old, now_unix());	/* a request still fresh */
	CHECK(ledger_prune(db, &r, 1) == 1);		/* bounded */
	CHECK(ledger_prune(db, &r, 500) == 2);
	CHECK(ledger_prune(db, &r, 500) == 0);
	CHECK(ledger_has(db, done->id) == 0 && ledger_has(db, rej->id) == 0);
	CHECK(ledger_has(db, paid->id) == 0);		/* paid: settled */
	CHECK(ledger_has(db, unpaid->id) == 1 && ledger_has(db, open->id) == 1);
	CHECK(ledger_has(db, young->id) == 1);
	CHECK(ledger_outbox_ack(db, done->result_id) == 0);	/* its event went too */
	ledger_close(db);
	free_job(done);
	free_job(unpaid);
	free_job(rej);
	free_job(open);
	free_job(young);
	free_job(paid);
}

/*
 * A write that fails with SQLITE_FULL inside a batch makes SQLite roll the
 * whole batch back by itself: jobd must stop (exit 111) there, not carry
 * on in autocommit and let the batch's queued lines go out. The child
 * fills a capped database inside a batch; it reaches exit(0) only if the
 * rollback went unnoticed.
 */
TEST(ledger_stops_on_rollback_inside_a_batch)
{
	sqlite3 *db;
	char err[256], sql[64], *big;
	struct job *a = mkjob(ST_PROCESSING, 5), *b = mkjob(ST_PROCESSING, 6);
	sqlite3_stmt *st;
	int status = 0, pages = 0;
	pid_t pid;

	unlink(dbpath);
	REQUIRE(a != NULL && b != NULL && (big = malloc(200000)) != NULL);
	memset(big, 'x', 199999);
	big[199999] = '\0';
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	REQUIRE(sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		pages = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	ledger_close(db);
	REQUIRE(pages > 0);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (ledger_open(&db, dbpath, err, sizeof(err)) == -1)
			_exit(2);
		snprintf(sql, sizeof(sql), "PRAGMA max_page_count=%d", pages + 4);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
		if (ledger_batch_begin(db) == -1 || ledger_job_write(db, a, NULL) == -1)
			_exit(3);
		b->text = big;	/* does not fit: SQLITE_FULL */
		ledger_job_write(db, b, &(struct outbox_row){ "f1", 7000, "{}", NULL });
		ledger_batch_end(db, 1);
		_exit(0);
	}
	REQUIRE(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECKF(WIFEXITED(status) && WEXITSTATUS(status) == 111, "child status %d", status);
	REQUIRE(ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	CHECK(ledger_has(db, a->id) == 0);	/* the batch is not on disk */
	ledger_close(db);
	free(big);
	free_job(a);
	free_job(b);
}

int
main(void)
{
	log_init("test_jobd_ledger", getenv("TDEBUG") ? LOG_DEBUG : LOG_ERROR);
	if (mkdtemp(dir) == NULL || keys_generate(&requester) == -1) {
		printf("FAIL: test_jobd_ledger.c: setup\n");
		return 1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/jobs.db", dir);
	RUN(ledger_round_trip_and_dedupe);
	RUN(ledger_first_write_creates_the_row);
	RUN(ledger_batch_sync_levels);
	RUN(ledger_outbox_and_payments);
	RUN(ledger_outbox_replay_counts_tries);
	RUN(ledger_schema_version_checked);
	RUN(ledger_loads_old_waiting_jobs);
	RUN(ledger_old_db_gains_columns);
	RUN(ledger_stops_on_rollback_inside_a_batch);
	RUN(ledger_prunes_old_rows_but_keeps_unsettled);
	ledger_files_remove(dbpath, dir);
	T_DONE();
}

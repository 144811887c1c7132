/*
 * test_jobd_ledger.c: jobd's durable state: the state machine's legal
 * moves, the replay step for every state, the ledger (dedupe, round trip
 * of every field, outbox, payments, schema version), and a restart from a
 * ledger left with a job at every state (what each becomes with no spoke
 * connected yet).
 */
/* LINK: jobd/ledger.c jobd/job.c jobd/publish.c jobd/spoke.c jobd/ingest.c jobd/validate.c jobd/request.c jobd/price.c jobd/ratelimit.c jobd/control.c jobd/peer.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "event.h"
#include "keys.h"
#include "log.h"
#include "loop.h"
#include "../../jobd/jobd.h"
#include "t.h"

static char dir[] = "/tmp/test_jobd_ledger.XXXXXX";
static char dbpath[256];
static struct keypair requester;

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
			CHECKF(job_can_move(a, b) == want, "%s -> %s", job_state_name(a),
			    job_state_name(b));
			n += want;
		}
	CHECK(n == (int)(sizeof(ok) / sizeof(ok[0])));
	CHECK(!job_can_move(ST__COUNT, ST_ACKED) && !job_can_move(-1, ST_ACKED));
	for (a = 0; a < ST__COUNT; a++) {
		CHECK(job_state_parse(job_state_name(a)) == a);
		CHECK(job_state_closed(a) == (a >= ST_ACKED));
	}
	CHECK(job_state_parse("nonsense") == -1);
}

TEST(replay_actions)
{
	CHECK(job_replay_action(ST_RECEIVED, PAY_AFTER) == ACT_RESOLVE);
	CHECK(job_replay_action(ST_QUOTED, PAY_BEFORE) == ACT_INVOICE);
	CHECK(job_replay_action(ST_PAYMENT_REQUIRED, PAY_BEFORE) == ACT_LOOKUP);
	CHECK(job_replay_action(ST_PAID, PAY_BEFORE) == ACT_ACK_PAID);
	CHECK(job_replay_action(ST_QUEUED, PAY_FREE) == ACT_QUEUE);
	CHECK(job_replay_action(ST_PROCESSING, PAY_FREE) == ACT_INFER);
	CHECK(job_replay_action(ST_INFERRED, PAY_AFTER) == ACT_INVOICE);
	CHECK(job_replay_action(ST_INFERRED, PAY_BEFORE) == ACT_RESULT);
	CHECK(job_replay_action(ST_INFERRED, PAY_FREE) == ACT_RESULT);
	CHECK(job_replay_action(ST_INVOICED, PAY_AFTER) == ACT_RESULT);
	CHECK(job_replay_action(ST_PUBLISHED, PAY_AFTER) == ACT_REPUBLISH);
	CHECK(job_replay_action(ST_ACKED, PAY_AFTER) == ACT_NONE);
	CHECK(job_replay_action(ST_REJECTED, PAY_AFTER) == ACT_NONE);
	CHECK(job_replay_action(ST_ERROR, PAY_AFTER) == ACT_NONE);
	CHECK(job_replay_action(ST_CANCELLED, PAY_AFTER) == ACT_NONE);
	CHECK(job_replay_action(ST_EXPIRED, PAY_AFTER) == ACT_NONE);
}

/* A signed plain request "text" from requester; its JSON is malloc'd. */
static char *
signed_request(const char *text, char id[65])
{
	struct event ev;
	char *json;

	if (event_init(&ev, 5050, "", 0) == -1)
		return NULL;
	event_add_tagv(&ev, "i", text, "text", NULL);
	if (event_sign(&ev, &requester) == -1) {
		event_free(&ev);
		return NULL;
	}
	json = event_to_json(&ev);
	memcpy(id, ev.idhex, 65);
	event_free(&ev);
	return json;
}

static struct job *
mkjob(enum job_state s, int n)
{
	struct job *j = calloc(1, sizeof(*j));
	char text[32];

	if (j == NULL)
		return NULL;
	snprintf(text, sizeof(text), "text%d", n);
	j->request_json = signed_request(text, j->id);
	memcpy(j->pubkey, requester.pkhex, 65);
	memcpy(j->pk, requester.pk, 32);
	j->kind = 5050;
	j->created_at = now_unix();
	j->received_ms = ledger_now_ms() + n;	/* keeps the order */
	j->state = s;
	j->req.bid_msat = -1;
	snprintf(j->req.model, sizeof(j->req.model), "m%d", n);
	j->req.max_tokens = 100 + n;
	snprintf(j->relay, sizeof(j->relay), "wss://r%d", n);
	return j;
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
	REQUIRE(ledger_save(db, j) == 0);
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
	job_free(k);
	CHECK(ledger_job_state(db, j->id, st, sizeof(st)) == 0 && strcmp(st, "invoiced") == 0);
	job_free(j);
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
	REQUIRE(ledger_result_store(db, j, "{\"id\":\"aaaa\"}", "[\"wss://x\"]") == 0);
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
	job_free(j);
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

TEST(ledger_expires_old_waiting_jobs)
{
	sqlite3 *db;
	char err[256], st[32];
	struct job *j = mkjob(ST_PAYMENT_REQUIRED, 3), *head = NULL;

	unlink(dbpath);
	REQUIRE(j != NULL && ledger_open(&db, dbpath, err, sizeof(err)) == 0);
	j->received_ms -= 7200 * 1000;
	REQUIRE(ledger_insert(db, j) == 1);
	CHECK(ledger_load_open(db, &head, 3600) == 0 && head == NULL);
	CHECK(ledger_job_state(db, j->id, st, sizeof(st)) == 0 && strcmp(st, "expired") == 0);
	job_free(j);
	ledger_close(db);
}

TEST(utf8_cut_boundaries)
{
	const char *s = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80";	/* a é € 😀 */

	CHECK(utf8_cut(s, 10, 100) == 10);
	CHECK(utf8_cut(s, 10, 10) == 10);
	CHECK(utf8_cut(s, 10, 9) == 6);		/* never half an emoji */
	CHECK(utf8_cut(s, 10, 5) == 3);
	CHECK(utf8_cut(s, 10, 2) == 1);
	CHECK(utf8_cut(s, 10, 1) == 1);
	CHECK(utf8_cut(s, 10, 0) == 0);
}

static struct jobd jd;

static struct job *
by_model(const char *m)
{
	struct job *j;

	for (j = jd.jobs; j != NULL; j = j->next)
		if (strcmp(j->relay, m) == 0)
			return j;
	return NULL;
}

/*
 * A ledger left with one job at every state (as a kill -9 would leave it),
 * reopened: the open ones load, and with no spoke connected yet each takes
 * the step it can take alone.
 */
TEST(restart_from_every_state)
{
	char err[256], model[32];
	struct job *j;
	int s, n;

	unlink(dbpath);
	REQUIRE(conf_load(&jd.conf, NULL, err, sizeof(err)) == 0);
	jd.conf.max_concurrent_jobs = 10;
	REQUIRE((jd.loop = loop_new()) != NULL);
	REQUIRE(keys_generate(&jd.kp) == 0);
	REQUIRE(ledger_open(&jd.db, dbpath, err, sizeof(err)) == 0);
	spoke_init(&jd);
	for (s = 0; s < ST__COUNT; s++) {
		REQUIRE((j = mkjob(s, s)) != NULL);
		REQUIRE(ledger_insert(jd.db, j) == 1);
		if (s != ST_RECEIVED)
			j->prompt = strdup("p");
		if (s >= ST_INFERRED) {
			j->text = strdup("answer");
			j->prompt_tokens = 1;
			j->completion_tokens = 2;
		}
		if (s == ST_INVOICED) {
			j->bolt11 = strdup("lnbc30n1fake");
			j->price_msat = 3000;
		}
		if (s == ST_PUBLISHED)
			memset(j->result_id, 'b', 64);
		REQUIRE(ledger_save(jd.db, j) == 0);
		job_free(j);
	}
	ledger_close(jd.db);
	REQUIRE(ledger_open(&jd.db, dbpath, err, sizeof(err)) == 0);
	n = ledger_load_open(jd.db, &jd.jobs, 3600);
	CHECK(n == ST_ACKED);			/* every open state, none of the closed */
	job_replay_local(&jd);
#define STATE(s) (snprintf(model, sizeof(model), "wss://r%d", (s)), by_model(model))
	CHECKF(STATE(ST_RECEIVED) && STATE(ST_RECEIVED)->state == ST_PROCESSING &&
	    strcmp(STATE(ST_RECEIVED)->prompt, "text0") == 0, "received resolved and started");
	CHECK(STATE(ST_QUOTED)->state == ST_QUOTED);
	CHECK(STATE(ST_PAYMENT_REQUIRED)->state == ST_PAYMENT_REQUIRED);
	CHECK(STATE(ST_PAID)->state == ST_PROCESSING);
	CHECK(STATE(ST_QUEUED)->state == ST_PROCESSING);
	CHECK(STATE(ST_PROCESSING)->state == ST_PROCESSING);
	CHECKF(jd.running == 4, "running %d", jd.running);
	CHECK(STATE(ST_INFERRED)->state == ST_PUBLISHED);	/* free: result now */
	CHECK(STATE(ST_INVOICED)->state == ST_PUBLISHED);
	CHECK(STATE(ST_INVOICED)->result_id[0] != '\0');
	CHECK(STATE(ST_PUBLISHED)->state == ST_PUBLISHED);
	/* the invoiced job's stored result carries its invoice */
	{
		sqlite3_stmt *st;
		const char *q = "SELECT event FROM outbox WHERE id = ?";

		REQUIRE(sqlite3_prepare_v2(jd.db, q, -1, &st, NULL) == SQLITE_OK);
		sqlite3_bind_text(st, 1, STATE(ST_INVOICED)->result_id, -1, SQLITE_STATIC);
		REQUIRE(sqlite3_step(st) == SQLITE_ROW);
		CHECK(strstr((const char *)sqlite3_column_text(st, 0),
		    "[\"amount\",\"3000\",\"lnbc30n1fake\"]") != NULL);
		sqlite3_finalize(st);
	}
	/* illegal moves are refused and not written */
	j = STATE(ST_PUBLISHED);
	CHECK(job_set_state(&jd, j, ST_PROCESSING) == -1 && j->state == ST_PUBLISHED);
#undef STATE
	while ((j = jd.jobs) != NULL) {
		jd.jobs = j->next;
		job_free(j);
	}
	ledger_close(jd.db);
	loop_free(jd.loop);
	conf_free(&jd.conf);
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
	RUN(moves_table);
	RUN(replay_actions);
	RUN(ledger_round_trip_and_dedupe);
	RUN(ledger_outbox_and_payments);
	RUN(ledger_outbox_replay_counts_tries);
	RUN(ledger_schema_version_checked);
	RUN(ledger_expires_old_waiting_jobs);
	RUN(utf8_cut_boundaries);
	RUN(restart_from_every_state);
	unlink(dbpath);
	{
		char p[300];

		snprintf(p, sizeof(p), "%s-wal", dbpath);
		unlink(p);
		snprintf(p, sizeof(p), "%s-shm", dbpath);
		unlink(p);
	}
	rmdir(dir);
	T_DONE();
}

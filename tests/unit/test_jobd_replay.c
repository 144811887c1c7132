/*
 * test_jobd_replay.c: a restart from a ledger left with a job at every
 * state (as a kill -9 would leave it): the open ones load, and with no
 * spoke connected yet each takes the step it can take alone. Links all
 * of jobd but main.c: this is the modules working together.
 */
/* LINK: jobd/ledger.c jobd/state.c jobd/job.c jobd/index.c jobd/publish.c jobd/spoke.c jobd/peer.c jobd/ops.c jobd/subscribe.c jobd/health.c jobd/ingest.c jobd/validate.c jobd/request.c jobd/price.c jobd/ratelimit.c jobd/control.c jobd/reason.c jobd/asked.c jobd/store.c jobd/announce.c jobd/wait.c jobd/partial.c jobd/quote.c jobd/escrow.c jobd/pane.c jobd/prices.c */
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

static char dir[] = "/tmp/test_jobd_replay.XXXXXX";
static char dbpath[256];
static struct keypair requester;

#include "jobd_jobs.h"

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
	jd.resolve = ingest_resolve;
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
		REQUIRE(ledger_job_write(jd.db, j, NULL) == 0);
		job_free(j);
	}
	ledger_close(jd.db);
	REQUIRE(ledger_open(&jd.db, dbpath, err, sizeof(err)) == 0);
	n = job_load_open(&jd, 3600);
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
	CHECK(job_move(&jd, j, ST_PROCESSING, NULL) == -1 && j->state == ST_PUBLISHED);
#undef STATE
	while ((j = jd.jobs) != NULL) {
		jd.jobs = j->next;
		job_free(j);
	}
	ledger_close(jd.db);
	loop_free(jd.loop);
	conf_free(&jd.conf);
}

static int
outbox_rows(sqlite3 *db)
{
	sqlite3_stmt *st;
	int n = -1;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM outbox", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n;
}

/* Feedback whose status tag cannot be built is not stored or sent at all. */
TEST(feedback_never_without_status)
{
	struct jobd fj;
	struct job *j;
	char err[256];

	memset(&fj, 0, sizeof(fj));
	unlink(dbpath);
	REQUIRE(conf_load(&fj.conf, NULL, err, sizeof(err)) == 0);
	REQUIRE(keys_generate(&fj.kp) == 0);
	REQUIRE(ledger_open(&fj.db, dbpath, err, sizeof(err)) == 0);
	spoke_init(&fj);
	REQUIRE((j = mkjob(ST_PROCESSING, 1)) != NULL);
	/* half a euro sign: the status tag add fails */
	CHECK(publish_feedback(&fj, j, "error", "price: 3 \xe2\x82", 0, NULL) == -1);
	CHECK(outbox_rows(fj.db) == 0);
	CHECK(publish_feedback(&fj, j, "error", "price: 3 \xe2\x82\xac", 0, NULL) == 0);
	CHECK(outbox_rows(fj.db) == 1);
	job_free(j);
	ledger_close(fj.db);
	conf_free(&fj.conf);
}

int
main(void)
{
	log_init("test_jobd_replay", getenv("TDEBUG") ? LOG_DEBUG : LOG_ERROR);
	if (mkdtemp(dir) == NULL || keys_generate(&requester) == -1) {
		printf("FAIL: test_jobd_replay.c: setup\n");
		return 1;
	}
	snprintf(dbpath, sizeof(dbpath), "%s/jobs.db", dir);
	RUN(restart_from_every_state);
	RUN(feedback_never_without_status);
	ledger_files_remove(dbpath, dir);
	T_DONE();
}

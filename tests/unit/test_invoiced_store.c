/*
 * test_invoiced_store.c: invoices.db keeps one invoice per job across a
 * reopen, moves pending -> paid/expired only once, and lists what a
 * restarted invoiced must resume (pending) and re-send (paid, not acked).
 */
/* LINK: invoiced/store.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "t.h"
#include "../../invoiced/invoiced.h"

static char dir[64], db[128];

static void
row_init(struct inv_row *r, char c, uint64_t msat)
{
	memset(r, 0, sizeof(*r));
	memset(r->job, c, 64);
	memset(r->payment_hash, 'a', 64);
	r->amount_msat = msat;
	snprintf(r->bolt11, sizeof(r->bolt11), "lnbcrt1fake%c", c);
	snprintf(r->ref, sizeof(r->ref), "ref-%c", c);
	r->expires_at = 2000000000;
	r->status = INV_PENDING;
}

static int npending, nunacked;

static void
count_pending(const struct inv_row *r, void *arg)
{
	npending++;
}

static void
count_unacked(const struct inv_row *r, void *arg)
{
	nunacked++;
}

static struct store *
reopen(struct store *s)
{
	char err[256];

	store_close(s);
	return store_open(db, err, sizeof(err));
}

TEST(one_invoice_per_job_across_reopen)
{
	struct store *s;
	struct inv_row r, got;
	char err[256];

	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	row_init(&r, 'b', 5000);
	REQUIRE(store_insert(s, &r) == 0);
	CHECK(store_insert(s, &r) == -1);	/* the job is the primary key */
	REQUIRE((s = reopen(s)) != NULL);
	REQUIRE(store_get(s, r.job, &got) == 1);
	CHECK(got.amount_msat == 5000);
	CHECK(strcmp(got.bolt11, r.bolt11) == 0);
	CHECK(strcmp(got.ref, "ref-b") == 0);
	CHECK(got.status == INV_PENDING);
	memset(r.job, 'c', 64);
	CHECK(store_get(s, r.job, &got) == 0);
	store_close(s);
}

TEST(paid_once_then_acked)
{
	struct store *s;
	struct inv_row r, got;
	char err[256];

	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	row_init(&r, 'd', 7000);
	REQUIRE(store_insert(s, &r) == 0);
	npending = nunacked = 0;
	store_each_pending(s, count_pending, NULL);
	CHECK(npending == 2);	/* b from the case above, and d */
	REQUIRE(store_set_paid(s, r.job, 7000, 1700000000) == 0);
	/* expiring a paid invoice changes nothing */
	REQUIRE(store_set_expired(s, r.job) == 0);
	REQUIRE((s = reopen(s)) != NULL);
	REQUIRE(store_get(s, r.job, &got) == 1);
	CHECK(got.status == INV_PAID);
	CHECK(got.received_msat == 7000 && got.settled_at == 1700000000);
	npending = nunacked = 0;
	store_each_pending(s, count_pending, NULL);
	store_each_unacked(s, count_unacked, NULL);
	CHECK(npending == 1 && nunacked == 1);
	REQUIRE(store_set_acked(s, r.job) == 0);
	nunacked = 0;
	store_each_unacked(s, count_unacked, NULL);
	CHECK(nunacked == 0);
	store_close(s);
}

TEST(expired_is_final)
{
	struct store *s;
	struct inv_row r, got;
	char err[256];

	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	memset(r.job, 'b', 64);
	r.job[64] = '\0';
	REQUIRE(store_set_expired(s, r.job) == 0);
	REQUIRE(store_set_paid(s, r.job, 5000, 1) == 0);	/* too late: stays expired */
	REQUIRE(store_get(s, r.job, &got) == 1);
	CHECK(got.status == INV_EXPIRED);
	npending = 0;
	store_each_pending(s, count_pending, NULL);
	CHECK(npending == 0);
	store_close(s);
}

TEST(wal_mode)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	const unsigned char *mode;

	REQUIRE(sqlite3_open(db, &h) == SQLITE_OK);
	REQUIRE(sqlite3_prepare_v2(h, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	mode = sqlite3_column_text(st, 0);
	CHECK(mode != NULL && strcmp((const char *)mode, "wal") == 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/test-invoiced-store.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 111;
	snprintf(db, sizeof(db), "%s/invoices.db", dir);
	RUN(one_invoice_per_job_across_reopen);
	RUN(paid_once_then_acked);
	RUN(expired_is_final);
	RUN(wal_mode);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	T_DONE();
}

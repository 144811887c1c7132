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

#include "loop.h"	/* now_unix */
#include "t.h"
#include "../../invoiced/invoiced.h"

static char dir[64], db[128];

static void
row_init(struct inv_row *r, char c, uint64_t msat)
{
	memset(r, 0, sizeof(*r));
	memset(r->job, c, 64);
	memset(r->payment_hash, c, 64);
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

TEST(payment_hash_unique)
{
	struct store *s;
	struct inv_row a, b;
	char err[256];

	unlink(db);
	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	row_init(&a, 'a', 1000);
	row_init(&b, 'b', 1000);
	memcpy(b.payment_hash, a.payment_hash, sizeof(a.payment_hash));
	CHECK(store_insert(s, &a) == 0);
	CHECK(store_insert(s, &b) == -2);	/* one payment must not settle two jobs */
	store_close(s);
}

/* A database made before the unique index gets it; one with a duplicate is refused. */
TEST(payment_hash_migration)
{
	static const char old[] =
	    "CREATE TABLE invoices (job TEXT PRIMARY KEY, amount_msat INTEGER NOT NULL,"
	    " bolt11 TEXT NOT NULL, payment_hash TEXT NOT NULL, ref TEXT NOT NULL,"
	    " expires_at INTEGER NOT NULL, status TEXT NOT NULL, received_msat INTEGER NOT NULL"
	    " DEFAULT 0, settled_at INTEGER NOT NULL DEFAULT 0, acked INTEGER NOT NULL DEFAULT 0,"
	    " fast INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL,"
	    " updated_at INTEGER NOT NULL);"
	    "INSERT INTO invoices VALUES ('j1', 1000, 'lnbc', 'h1', 'r', 1, 'pending', 0, 0, 0, 0, 1, 1);";
	sqlite3 *raw;
	struct store *s;
	struct inv_row b;
	char err[256];

	unlink(db);
	REQUIRE(sqlite3_open(db, &raw) == SQLITE_OK);
	REQUIRE(sqlite3_exec(raw, old, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(raw);
	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	row_init(&b, 'b', 1000);
	snprintf(b.payment_hash, sizeof(b.payment_hash), "h1");
	CHECK(store_insert(s, &b) == -2);
	store_close(s);

	unlink(db);
	REQUIRE(sqlite3_open(db, &raw) == SQLITE_OK);
	REQUIRE(sqlite3_exec(raw, old, NULL, NULL, NULL) == SQLITE_OK);
	REQUIRE(sqlite3_exec(raw, "INSERT INTO invoices VALUES ('j2', 1000, 'lnbc', 'h1', 'r',"
	    " 1, 'pending', 0, 0, 0, 0, 1, 1);", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(raw);
	err[0] = '\0';
	CHECK(store_open(db, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "share a payment hash") != NULL, "err: %s", err);
}

TEST(payee_pinned_by_first_invoice)
{
	struct store *s;
	uint8_t n1[33], n2[33];
	char pinned[67], err[256];
	sqlite3 *raw;

	memset(n1, 0x02, sizeof(n1));
	memset(n2, 0x03, sizeof(n2));
	unlink(db);
	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	CHECK(store_pin_payee(s, n1, pinned, sizeof(pinned)) == 0);
	CHECK(store_pin_payee(s, n1, pinned, sizeof(pinned)) == 0);
	CHECK(store_pin_payee(s, n2, pinned, sizeof(pinned)) == 1);
	CHECK(strncmp(pinned, "020202", 6) == 0 && strlen(pinned) == 66);
	REQUIRE((s = reopen(s)) != NULL);	/* kept across restarts */
	CHECK(store_pin_payee(s, n2, pinned, sizeof(pinned)) == 1);
	store_close(s);
	/* the operator's reset (documented): delete the row, the next invoice pins */
	REQUIRE(sqlite3_open(db, &raw) == SQLITE_OK);
	REQUIRE(sqlite3_exec(raw, "DELETE FROM meta WHERE key = 'payee'", NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(raw);
	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	CHECK(store_pin_payee(s, n2, pinned, sizeof(pinned)) == 0);
	CHECK(store_pin_payee(s, n1, pinned, sizeof(pinned)) == 1);
	store_close(s);
}

/*
 * Retention: closed invoices (expired; paid and acknowledged) past the
 * horizon go, in bounded batches; pending, paid-not-acknowledged and hold
 * invoices (a preimage row) stay whatever their age.
 */
TEST(prune_keeps_unsettled_and_holds)
{
	struct store *s;
	struct inv_row r, got;
	char err[256], path[160];
	const char *keep = "puh", *gone = "xa";
	uint8_t pre[32] = { 1 };
	int64_t later = now_unix() + 10;
	const char *c;

	snprintf(path, sizeof(path), "%s/prune.db", dir);
	REQUIRE((s = store_open(path, err, sizeof(err))) != NULL);
	for (c = "pxauh"; *c; c++) {
		row_init(&r, *c, 1000);
		REQUIRE(store_insert(s, &r) == 0);
	}
	memset(r.job, 'x', 64);
	REQUIRE(store_set_expired(s, r.job) == 0);
	memset(r.job, 'a', 64);
	REQUIRE(store_set_paid(s, r.job, 1000, 1) == 0 && store_set_acked(s, r.job) == 0);
	memset(r.job, 'u', 64);
	REQUIRE(store_set_paid(s, r.job, 1000, 1) == 0);
	row_init(&r, 'h', 1000);
	REQUIRE(store_put_preimage(s, r.job, r.payment_hash, pre) == 0);
	REQUIRE(store_set_expired(s, r.job) == 0);
	CHECK(store_prune(s, now_unix() - 3600, 500) == 0);	/* not old enough */
	CHECK(store_prune(s, later, 1) == 1);			/* bounded */
	CHECK(store_prune(s, later, 500) == 1);
	CHECK(store_prune(s, later, 500) == 0);
	for (c = keep; *c; c++) {
		memset(r.job, *c, 64);
		CHECKF(store_get(s, r.job, &got) == 1, "%c pruned", *c);
	}
	for (c = gone; *c; c++) {
		memset(r.job, *c, 64);
		CHECKF(store_get(s, r.job, &got) == 0, "%c kept", *c);
	}
	CHECK(store_get_preimage(s, r.payment_hash, pre) != -1);
	store_close(s);
}

static int nescrow;

static void
count_escrow(const struct inv_row *r, void *arg)
{
	nescrow++;
}

/*
 * A hold invoice's escrow survives a reopen, leaves the pending list once
 * held, and a stored settle can never become a cancel, whoever asks.
 */
TEST(escrow_settle_never_cancelled)
{
	struct store *s;
	struct inv_row r, got;
	char err[256];

	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	row_init(&r, 'h', 7000);
	r.hold = 1;
	REQUIRE(store_insert(s, &r) == 0);
	r.escrow = ESC_HELD;
	r.held_at = 100;
	r.hold_deadline = 700;
	r.hold_hard = 9000;
	CHECK(store_set_escrow(s, &r) == 0);
	npending = nescrow = 0;
	REQUIRE(store_each_pending(s, count_pending, NULL) == 0);
	REQUIRE(store_each_escrow(s, count_escrow, NULL) == 0);
	CHECK(npending == 0 && nescrow == 1);
	r.escrow = ESC_SETTLE;
	CHECK(store_set_escrow(s, &r) == 0);
	r.escrow = ESC_CANCEL;
	CHECK(store_set_escrow(s, &r) == -1);
	REQUIRE((s = reopen(s)) != NULL);
	REQUIRE(store_get(s, r.job, &got) == 1);
	CHECK(got.hold == 1 && got.escrow == ESC_SETTLE && got.hold_deadline == 700 &&
	    got.hold_hard == 9000 && got.held_at == 100);
	got.escrow = ESC_SETTLED;
	got.status = INV_PAID;
	CHECK(store_set_escrow(s, &got) == 0);
	got.escrow = ESC_CANCELLED;
	CHECK(store_set_escrow(s, &got) == -1);
	row_init(&r, 'i', 7000);	/* not a hold invoice: no escrow at all */
	REQUIRE(store_insert(s, &r) == 0);
	r.escrow = ESC_HELD;
	CHECK(store_set_escrow(s, &r) == -1);
	store_close(s);
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
	RUN(payment_hash_unique);
	RUN(payment_hash_migration);
	RUN(payee_pinned_by_first_invoice);
	RUN(prune_keeps_unsettled_and_holds);
	RUN(escrow_settle_never_cancelled);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	T_DONE();
}

/*
 * store.c: invoices.db, one row per job. It is what makes "invoice" idempotent
 * across restarts and lets a restarted invoiced resume tracking and re-send
 * "paid" messages jobd has not acknowledged. WAL, synchronous=FULL: a paid
 * invoice must never be forgotten after we said so.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "invoiced.h"

struct store {
	sqlite3 *db;
};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS invoices ("
    " job TEXT PRIMARY KEY,"
    " amount_msat INTEGER NOT NULL,"
    " bolt11 TEXT NOT NULL,"
    " payment_hash TEXT NOT NULL,"
    " ref TEXT NOT NULL,"
    " expires_at INTEGER NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('pending','paid','expired')),"
    " received_msat INTEGER NOT NULL DEFAULT 0,"
    " settled_at INTEGER NOT NULL DEFAULT 0,"
    " acked INTEGER NOT NULL DEFAULT 0,"
    " fast INTEGER NOT NULL DEFAULT 0,"
    " hold INTEGER NOT NULL DEFAULT 0,"
    " escrow TEXT NOT NULL DEFAULT '',"
    " held_at INTEGER NOT NULL DEFAULT 0,"
    " hold_deadline INTEGER NOT NULL DEFAULT 0,"
    " hold_hard INTEGER NOT NULL DEFAULT 0,"
    " created_at INTEGER NOT NULL,"
    " updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS invoices_status ON invoices(status, acked);"
    /* settings invoiced keeps for itself: "payee", the wallet's node id */
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    /* Hold invoices: the secret that settles one, stored before it exists. */
    "CREATE TABLE IF NOT EXISTS preimages ("
    " payment_hash TEXT PRIMARY KEY,"
    " job TEXT NOT NULL,"
    " preimage BLOB NOT NULL CHECK (length(preimage) = 32),"
    " created_at INTEGER NOT NULL);";

/*
 * One payment settles one job: two jobs on the same payment hash would both
 * be marked paid by one payment. An index rather than a column constraint,
 * so that databases made before it get it too (CREATE TABLE IF NOT EXISTS
 * leaves an old table alone); it fails on a database that already holds a
 * duplicate, which the operator has to look at.
 */
static const char unique_hash[] =
    "CREATE UNIQUE INDEX IF NOT EXISTS invoices_payment_hash ON invoices(payment_hash);";

/*
 * Columns added after the first release: ALTER TABLE gives them to an old
 * database (CREATE TABLE IF NOT EXISTS leaves it alone). Escrow (hold
 * invoices, escrow.c): hold marks one; escrow is where its held payment
 * stands ('', held, settle, settled, cancel, cancelled); held_at, the
 * deadline jobd was told and invoiced's own last moment to cancel.
 */
static const struct { const char *name, *decl; } added_columns[] = {
	{ "hold", "INTEGER NOT NULL DEFAULT 0" },
	{ "escrow", "TEXT NOT NULL DEFAULT ''" },
	{ "held_at", "INTEGER NOT NULL DEFAULT 0" },
	{ "hold_deadline", "INTEGER NOT NULL DEFAULT 0" },
	{ "hold_hard", "INTEGER NOT NULL DEFAULT 0" },
};

static const char *status_names[] = { "pending", "paid", "expired" };
static const char *escrow_names[] = { "", "held", "settle", "settled", "cancel", "cancelled" };

static int
store_exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "%s", msg != NULL ? msg : "sqlite error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

static int
store_has_column(struct store *s, const char *name)
{
	sqlite3_stmt *st;
	int found = 0;

	if (sqlite3_prepare_v2(s->db, "PRAGMA table_info(invoices)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW)
		if (strcmp((const char *)sqlite3_column_text(st, 1), name) == 0)
			found = 1;
	sqlite3_finalize(st);
	return found;
}

static int
store_add_columns(struct store *s, char *err, size_t errlen)
{
	char sql[256];
	size_t i;

	for (i = 0; i < sizeof(added_columns) / sizeof(added_columns[0]); i++) {
		if (store_has_column(s, added_columns[i].name) != 0)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE invoices ADD COLUMN %s %s",
		    added_columns[i].name, added_columns[i].decl);
		if (store_exec(s, sql, err, errlen) != 0)
			return -1;
	}
	return 0;
}

struct store *
store_open(const char *path, char *err, size_t errlen)
{
	struct store *s;

	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, s->db ? sqlite3_errmsg(s->db) : "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 2000);
	if (store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;", err, errlen) != 0 ||
	    store_exec(s, schema, err, errlen) != 0 || store_add_columns(s, err, errlen) != 0)
		goto fail;
	if (store_exec(s, unique_hash, err, errlen) != 0) {
		snprintf(err, errlen, "%s: two invoices share a payment hash (%s); one payment "
		    "would settle both jobs: resolve it by hand", path, sqlite3_errmsg(s->db));
		goto fail;
	}
	return s;
fail:
	sqlite3_close(s->db);
	free(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

static void
store_copy(char *dst, size_t cap, const unsigned char *src)
{
	snprintf(dst, cap, "%s", src != NULL ? (const char *)src : "");
}

static void
store_escrow_parse(const char *name, enum inv_escrow *e)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(escrow_names) / sizeof(escrow_names[0]); i++)
		if (strcmp(name, escrow_names[i]) == 0)
			*e = (enum inv_escrow)i;
}

static void
store_row(sqlite3_stmt *st, struct inv_row *r)
{
	const char *status = (const char *)sqlite3_column_text(st, 6);

	memset(r, 0, sizeof(*r));
	store_copy(r->job, sizeof(r->job), sqlite3_column_text(st, 0));
	r->amount_msat = (uint64_t)sqlite3_column_int64(st, 1);
	store_copy(r->bolt11, sizeof(r->bolt11), sqlite3_column_text(st, 2));
	store_copy(r->payment_hash, sizeof(r->payment_hash), sqlite3_column_text(st, 3));
	store_copy(r->ref, sizeof(r->ref), sqlite3_column_text(st, 4));
	r->expires_at = sqlite3_column_int64(st, 5);
	r->status = INV_PENDING;
	if (status != NULL && strcmp(status, "paid") == 0)
		r->status = INV_PAID;
	else if (status != NULL && strcmp(status, "expired") == 0)
		r->status = INV_EXPIRED;
	r->received_msat = (uint64_t)sqlite3_column_int64(st, 7);
	r->settled_at = sqlite3_column_int64(st, 8);
	r->acked = sqlite3_column_int(st, 9);
	r->fast = sqlite3_column_int(st, 10);
	r->hold = sqlite3_column_int(st, 11);
	r->escrow = ESC_NONE;
	store_escrow_parse((const char *)sqlite3_column_text(st, 12), &r->escrow);
	r->held_at = sqlite3_column_int64(st, 13);
	r->hold_deadline = sqlite3_column_int64(st, 14);
	r->hold_hard = sqlite3_column_int64(st, 15);
}

#define COLS "job, amount_msat, bolt11, payment_hash, ref, expires_at, status, " \
	"received_msat, settled_at, acked, fast, hold, escrow, held_at, hold_deadline, hold_hard"

int
store_get(struct store *s, const char *job, struct inv_row *r)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT " COLS " FROM invoices WHERE job = ?",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, job, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		store_row(st, r);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

/* 1 if another job's invoice with this payment hash is stored. */
static int
store_hash_used(struct store *s, const char *hash, const char *job)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM invoices WHERE payment_hash = ? AND job != ?",
	    -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, job, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW;
}

int
store_insert(struct store *s, const struct inv_row *r)
{
	sqlite3_stmt *st;
	int rc;
	int64_t now = now_unix();

	if (sqlite3_prepare_v2(s->db, "INSERT INTO invoices (" COLS ", created_at, updated_at)"
	    " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, r->job, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->amount_msat);
	sqlite3_bind_text(st, 3, r->bolt11, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, r->payment_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, r->ref, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, r->expires_at);
	sqlite3_bind_text(st, 7, status_names[r->status], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)r->received_msat);
	sqlite3_bind_int64(st, 9, r->settled_at);
	sqlite3_bind_int(st, 10, r->acked);
	sqlite3_bind_int(st, 11, r->fast);
	sqlite3_bind_int(st, 12, r->hold);
	sqlite3_bind_text(st, 13, escrow_names[r->escrow], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 14, r->held_at);
	sqlite3_bind_int64(st, 15, r->hold_deadline);
	sqlite3_bind_int64(st, 16, r->hold_hard);
	sqlite3_bind_int64(st, 17, now);
	sqlite3_bind_int64(st, 18, now);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE)
		log_warnx("store: insert %s: %s", r->job, sqlite3_errmsg(s->db));
	sqlite3_finalize(st);
	if (rc == SQLITE_CONSTRAINT && store_hash_used(s, r->payment_hash, r->job))
		return -2;
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * The wallet's node id (33 bytes) is pinned by the first invoice: a later
 * invoice paying another node is refused, because it would be paid to
 * someone else while the job waits on a payment we never see. 0 if node is
 * the pinned one (or now pinned), 1 if another is, -1 on a store error.
 * Deleting the meta row "payee" (invoiced stopped) lets the next invoice
 * pin a new wallet.
 */
int
store_pin_payee(struct store *s, const uint8_t node[33], char *pinned, size_t pinlen)
{
	static const char hexd[] = "0123456789abcdef";
	sqlite3_stmt *st;
	char hex[67];
	const char *have;
	size_t i;
	int rc;

	for (i = 0; i < 33; i++) {
		hex[2 * i] = hexd[node[i] >> 4];
		hex[2 * i + 1] = hexd[node[i] & 15];
	}
	hex[66] = '\0';
	if (sqlite3_prepare_v2(s->db, "INSERT INTO meta (key, value) VALUES ('payee', ?) "
	    "ON CONFLICT (key) DO NOTHING", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_changes(s->db) > 0)
		log_info("store: wallet node %s pinned: invoices to any other node are refused", hex);
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'payee'", -1, &st,
	    NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	have = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
	snprintf(pinned, pinlen, "%s", have != NULL ? have : "");
	rc = have == NULL ? -1 : strcmp(have, hex) == 0 ? 0 : 1;
	sqlite3_finalize(st);
	return rc;
}

static int
store_update(struct store *s, const char *sql, const char *job, int64_t a, int64_t b)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
		log_warnx("store: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, a);
	sqlite3_bind_int64(st, 2, b);
	sqlite3_bind_int64(st, 3, now_unix());
	sqlite3_bind_text(st, 4, job, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("store: update %s: %s", job, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int
store_set_paid(struct store *s, const char *job, uint64_t received_msat, int64_t settled_at)
{
	return store_update(s, "UPDATE invoices SET status = 'paid', received_msat = ?1,"
	    " settled_at = ?2, updated_at = ?3 WHERE job = ?4 AND status = 'pending'",
	    job, (int64_t)received_msat, settled_at);
}

int
store_set_expired(struct store *s, const char *job)
{
	return store_update(s, "UPDATE invoices SET status = 'expired', updated_at = ?3"
	    " WHERE job = ?4 AND status = 'pending' AND ?1 = ?2", job, 0, 0);
}

int
store_set_acked(struct store *s, const char *job)
{
	return store_update(s, "UPDATE invoices SET acked = 1, updated_at = ?3"
	    " WHERE job = ?4 AND status = 'paid' AND ?1 = ?2", job, 0, 0);
}

int
store_set_fast(struct store *s, const char *job, int fast)
{
	return store_update(s, "UPDATE invoices SET fast = ?1, updated_at = ?3"
	    " WHERE job = ?4 AND ?2 = 0", job, fast, 0);
}

static int
store_each(struct store *s, const char *where, store_row_cb cb, void *arg)
{
	sqlite3_stmt *st;
	struct inv_row r;
	char sql[256];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT " COLS " FROM invoices WHERE %s ORDER BY created_at", where);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		store_row(st, &r);
		cb(&r, arg);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int
store_each_pending(struct store *s, store_row_cb cb, void *arg)
{
	return store_each(s, "status = 'pending' AND escrow = ''", cb, arg);
}

int
store_each_escrow(struct store *s, store_row_cb cb, void *arg)
{
	return store_each(s, "escrow IN ('held','settle','cancel')", cb, arg);
}

/*
 * Where a hold invoice's payment stands, committed before whatever it
 * leads to (a settle, a cancel, a message to jobd) happens. Settle and
 * settled are never left for a cancel: the SQL refuses it, whoever asks.
 */
int
store_set_escrow(struct store *s, const struct inv_row *r)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "UPDATE invoices SET escrow = ?1, held_at = ?2,"
	    " hold_deadline = ?3, hold_hard = ?4, status = ?5, received_msat = ?6,"
	    " settled_at = ?7, updated_at = ?8 WHERE job = ?9 AND hold = 1 AND"
	    " NOT (escrow IN ('settle','settled') AND ?1 IN ('cancel','cancelled'))",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, escrow_names[r->escrow], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, r->held_at);
	sqlite3_bind_int64(st, 3, r->hold_deadline);
	sqlite3_bind_int64(st, 4, r->hold_hard);
	sqlite3_bind_text(st, 5, status_names[r->status], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)r->received_msat);
	sqlite3_bind_int64(st, 7, r->settled_at);
	sqlite3_bind_int64(st, 8, now_unix());
	sqlite3_bind_text(st, 9, r->job, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("store: escrow of %s: %s", r->job, sqlite3_errmsg(s->db));
		return -1;
	}
	return sqlite3_changes(s->db) == 1 ? 0 : -1;
}

int
store_each_unacked(struct store *s, store_row_cb cb, void *arg)
{
	return store_each(s, "status = 'paid' AND acked = 0", cb, arg);
}

/*
 * Retention (retain_days): delete at most limit closed invoices last
 * changed before `before` (unix s): expired ones, and paid ones jobd has
 * acknowledged. Never a pending invoice, a paid one jobd has not
 * acknowledged, or a hold invoice (one with a preimage row: its money may
 * still be held, and the preimage is what settles or proves it). Called
 * from a timer, so a backlog goes in bounded steps. Returns rows deleted.
 */
int
store_prune(struct store *s, int64_t before, int limit)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "DELETE FROM invoices WHERE job IN (SELECT job FROM "
	    "invoices WHERE (status = 'expired' OR (status = 'paid' AND acked = 1)) AND "
	    "updated_at < ?1 AND payment_hash NOT IN (SELECT payment_hash FROM preimages) "
	    "ORDER BY updated_at LIMIT ?2)", -1, &st, NULL) != SQLITE_OK) {
		log_warnx("store: prune: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	sqlite3_bind_int64(st, 1, before);
	sqlite3_bind_int(st, 2, limit);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("store: prune: %s", sqlite3_errmsg(s->db));
		return -1;
	}
	return sqlite3_changes(s->db);
}

int
store_put_preimage(struct store *s, const char *job, const char *payment_hash,
    const uint8_t preimage[32])
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, "INSERT INTO preimages (payment_hash, job, preimage,"
	    " created_at) VALUES (?,?,?,?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, payment_hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, job, -1, SQLITE_STATIC);
	sqlite3_bind_blob(st, 3, preimage, 32, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, now_unix());
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_warnx("store: preimage for job %s: %s", job, sqlite3_errmsg(s->db));
		return -1;
	}
	return 0;
}

int
store_get_preimage(struct store *s, const char *payment_hash, uint8_t preimage[32])
{
	sqlite3_stmt *st;
	int rc, found = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT preimage FROM preimages WHERE payment_hash = ?",
	    -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, payment_hash, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(st, 0) == 32) {
		memcpy(preimage, sqlite3_column_blob(st, 0), 32);
		found = 1;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? (found ? 1 : -1) : rc == SQLITE_DONE ? 0 : -1;
}

/*
 * ledger.c: state_dir/jobs.db, the durable record of every job. SQLite in
 * WAL mode with synchronous=FULL, so a state written here survives a
 * kill -9 or a power cut before the side effect it announces (a publish,
 * an infer, an invoice) happens. On start jobd loads the open jobs and
 * replays them (job.c; the step per state is state_replay_action).
 * Storage only: it writes what it is handed and knows no move rules.
 *
 * Tables: meta (schema version, online flag), jobs
 * (one row per verified request), outbox (every signed event we publish,
 * until a relay accepts it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "bech32.h"
#include "encoding.h"
#include "ledger.h"
#include "log.h"

#define SCHEMA_VERSION	"1"
#define OUTBOX_MAX_TRIES 20
#define OUTBOX_MAX_AGE_MS (24LL * 3600 * 1000)

static const char *schema =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS jobs("
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
	" text TEXT, result_id TEXT, error TEXT,"
	" pay_mode INTEGER NOT NULL DEFAULT 0, queued_ms INTEGER NOT NULL DEFAULT 0,"
	" escrow TEXT NOT NULL DEFAULT '', hold_deadline INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);"
	"CREATE INDEX IF NOT EXISTS jobs_pubkey ON jobs(pubkey);"
	"CREATE INDEX IF NOT EXISTS jobs_received ON jobs(received_ms);"
	"CREATE TABLE IF NOT EXISTS outbox("
	" id TEXT PRIMARY KEY, job TEXT, kind INTEGER NOT NULL, event TEXT NOT NULL,"
	" relays TEXT, created_ms INTEGER NOT NULL, acked INTEGER NOT NULL DEFAULT 0,"
	" tries INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS outbox_acked ON outbox(acked, created_ms);";

/*
 * Columns added after the first release: ledger_open adds each one that an
 * older jobs.db lacks (SCHEMA_VERSION stays "1"; a default keeps old rows
 * meaning what they meant).
 */
static const struct {
	const char	*name;
	const char	*decl;
} added_columns[] = {
	/* the payment mode a job started with, + 1 (0: not started; job.c) */
	{ "pay_mode",	"INTEGER NOT NULL DEFAULT 0" },
	/* first queued, ms: the inference deadline counts from it (wait.c) */
	{ "queued_ms",	"INTEGER NOT NULL DEFAULT 0" },
	/* a held payment's state and deadline (escrow.c) */
	{ "escrow",	"TEXT NOT NULL DEFAULT ''" },
	{ "hold_deadline", "INTEGER NOT NULL DEFAULT 0" },
};

int64_t
ledger_now_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * After SQLITE_FULL, IOERR, BUSY or NOMEM SQLite may undo the whole open
 * transaction by itself (sqlite3_get_autocommit is true again). Inside a
 * batch that loses the writes of earlier lines while the lines they
 * announce are queued, and later writes would commit one by one: stop
 * (exit 111) before any line of that batch leaves jobd. The supervisor
 * restarts jobd, which replays the ledger as it is on disk.
 */
static void
rollback_check(sqlite3 *db, int in_txn)
{
	if (in_txn && sqlite3_get_autocommit(db))
		fatalx(EXIT_TEMP, "ledger: SQLite rolled the open transaction back (%s); "
		    "stopping before its lines leave", sqlite3_errmsg(db));
}

/* sqlite3_step, and stop if an error rolled the open transaction back. */
static int
step(sqlite3 *db, sqlite3_stmt *st)
{
	int in_txn = !sqlite3_get_autocommit(db);
	int rc = sqlite3_step(st);

	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rollback_check(db, in_txn);
	return rc;
}

static int
exec(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	int in_txn = !sqlite3_get_autocommit(db);

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_warnx("ledger: %s", msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		rollback_check(db, in_txn);
		return -1;
	}
	return 0;
}

/*
 * Prepared statements are kept for reuse: every job runs the same dozen,
 * and preparing one costs about as much as running it (a verified request
 * in a flood asks ledger_has thousands of times a second). An entry is
 * keyed by the connection and the SQL text's address (every caller passes
 * a literal). prep hands out an idle cached statement, or a fresh one when
 * the cache is full or that statement is in use further up the stack;
 * stmt_done resets a cached one and finalizes any other.
 */
#define STMT_CACHE 64

static struct stmt_slot {
	sqlite3		*db;
	const char	*sql;
	sqlite3_stmt	*st;
	int		 busy;
} stmts[STMT_CACHE];

static sqlite3_stmt *
prep(sqlite3 *db, const char *sql)
{
	struct stmt_slot *free_slot = NULL;
	sqlite3_stmt *st;
	int i;

	for (i = 0; i < STMT_CACHE; i++) {
		struct stmt_slot *e = &stmts[i];

		if (e->db == db && e->sql == sql && !e->busy) {
			e->busy = 1;
			return e->st;
		}
		if (e->db == NULL && free_slot == NULL)
			free_slot = e;
	}
	if (sqlite3_prepare_v3(db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0,
	    &st, NULL) != SQLITE_OK) {
		log_warnx("ledger: prepare: %s", sqlite3_errmsg(db));
		return NULL;
	}
	if (free_slot != NULL)
		*free_slot = (struct stmt_slot){ db, sql, st, 1 };
	return st;
}

/* Done with a statement from prep: ready it for the next use, or free it. */
static void
stmt_done(sqlite3_stmt *st)
{
	int i;

	for (i = 0; i < STMT_CACHE; i++)
		if (stmts[i].st == st && st != NULL) {
			sqlite3_reset(st);
			sqlite3_clear_bindings(st);
			stmts[i].busy = 0;
			return;
		}
	sqlite3_finalize(st);
}

/* Finalize every cached statement of db (before closing it). */
static void
stmt_forget(sqlite3 *db)
{
	int i;

	for (i = 0; i < STMT_CACHE; i++)
		if (stmts[i].db == db) {
			sqlite3_finalize(stmts[i].st);
			stmts[i] = (struct stmt_slot){ NULL, NULL, NULL, 0 };
		}
}

/* Step a statement that returns no rows, then release it. */
static int
step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = step(db, st);

	stmt_done(st);
	if (rc != SQLITE_DONE) {
		log_warnx("ledger: %s", sqlite3_errmsg(db));
		return -1;
	}
	return 0;
}

/*
 * A statement without parameters from the cache: the transaction control
 * every batch and job write runs (exec would parse it each time).
 */
static int
run(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = prep(db, sql);

	return st == NULL ? -1 : step_done(db, st);
}

static const char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	return s ? (const char *)s : "";
}

/* Give an older jobs.db the columns of added_columns it lacks. */
static int
add_columns(sqlite3 *db)
{
	sqlite3_stmt *st;
	char sql[256];
	size_t i;
	int have;

	for (i = 0; i < sizeof(added_columns) / sizeof(added_columns[0]); i++) {
		if (sqlite3_prepare_v2(db, "SELECT 1 FROM pragma_table_info('jobs') "
		    "WHERE name = ?", -1, &st, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_text(st, 1, added_columns[i].name, -1, SQLITE_STATIC);
		have = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (have)
			continue;
		snprintf(sql, sizeof(sql), "ALTER TABLE jobs ADD COLUMN %s %s;",
		    added_columns[i].name, added_columns[i].decl);
		if (exec(db, sql) == -1)
			return -1;
	}
	return 0;
}

/*
 * Open (creating) the ledger. Refuses a database written by a newer
 * schema: silently misreading job states would break exactly-once.
 */
int
ledger_open(sqlite3 **dbp, const char *path, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	char ver[32];

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, db ? sqlite3_errmsg(db) : "cannot open");
		ledger_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	if (exec(db, "PRAGMA journal_mode=WAL;") == -1 ||
	    exec(db, "PRAGMA synchronous=FULL;") == -1 ||
	    exec(db, schema) == -1 || add_columns(db) == -1) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		ledger_close(db);
		return -1;
	}
	if (add_columns(db) == -1) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		ledger_close(db);
		return -1;
	}
	if (ledger_meta_get(db, "schema_version", ver, sizeof(ver)) == 0) {
		if (strcmp(ver, SCHEMA_VERSION) != 0) {
			snprintf(err, errlen, "%s: schema version %s, this jobd knows %s",
			    path, ver, SCHEMA_VERSION);
			ledger_close(db);
			return -1;
		}
	} else if (ledger_meta_set(db, "schema_version", SCHEMA_VERSION) == -1) {
		snprintf(err, errlen, "%s: cannot write schema version", path);
		ledger_close(db);
		return -1;
	}
	*dbp = db;
	return 0;
}

void
ledger_close(sqlite3 *db)
{
	if (db != NULL) {
		stmt_forget(db);
		sqlite3_close(db);
	}
}

/* 0 and the value in buf, or -1 if the key is not there. */
int
ledger_meta_get(sqlite3 *db, const char *key, char *buf, size_t len)
{
	sqlite3_stmt *st = prep(db, "SELECT value FROM meta WHERE key = ?");
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (step(db, st) == SQLITE_ROW) {
		snprintf(buf, len, "%s", col_text(st, 0));
		rc = 0;
	}
	stmt_done(st);
	return rc;
}

int
ledger_meta_set(sqlite3 *db, const char *key, const char *val)
{
	sqlite3_stmt *st = prep(db, "INSERT INTO meta(key, value) VALUES(?, ?) "
	    "ON CONFLICT(key) DO UPDATE SET value = excluded.value");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, val, -1, SQLITE_STATIC);
	return step_done(db, st);
}

/* 1 if a job with this id is recorded, 0 if not, -1 on error. */
int
ledger_has(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = prep(db, "SELECT 1 FROM jobs WHERE id = ?");
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	rc = step(db, st);
	stmt_done(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int
ledger_job_state(sqlite3 *db, const char *id, char *state, size_t len)
{
	sqlite3_stmt *st = prep(db, "SELECT state FROM jobs WHERE id = ?");
	int rc = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (step(db, st) == SQLITE_ROW) {
		snprintf(state, len, "%s", col_text(st, 0));
		rc = 0;
	}
	stmt_done(st);
	return rc;
}

/* The parts of a job that are not columns: what it runs. malloc'd JSON. */
static char *
params_json(const struct job *j)
{
	cJSON *o = cJSON_CreateObject(), *rel;
	char *s;
	int i;

	if (o == NULL)
		return NULL;
	if (j->prompt != NULL)
		cJSON_AddStringToObject(o, "prompt", j->prompt);
	cJSON_AddStringToObject(o, "model", j->req.model);
	cJSON_AddStringToObject(o, "asked_model", j->req.asked_model);
	cJSON_AddNumberToObject(o, "max_tokens", j->req.max_tokens);
	cJSON_AddNumberToObject(o, "temperature", j->req.temperature);
	cJSON_AddNumberToObject(o, "top_k", j->req.top_k);
	cJSON_AddNumberToObject(o, "top_p", j->req.top_p);
	cJSON_AddNumberToObject(o, "frequency_penalty", j->req.frequency_penalty);
	cJSON_AddNumberToObject(o, "bid_msat", (double)j->req.bid_msat);
	if ((rel = cJSON_AddArrayToObject(o, "relays")) != NULL)
		for (i = 0; i < j->req.nrelays; i++)
			cJSON_AddItemToArray(rel, cJSON_CreateString(j->req.relays[i]));
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

static void
params_load(struct job *j, const char *json)
{
	cJSON *o = cJSON_Parse(json), *v, *rel;

	if (o == NULL)
		return;
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "prompt")))
		j->prompt = strdup(v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "model")))
		snprintf(j->req.model, sizeof(j->req.model), "%s", v->valuestring);
	if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(o, "asked_model")))
		snprintf(j->req.asked_model, sizeof(j->req.asked_model), "%s", v->valuestring);
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "max_tokens")))
		j->req.max_tokens = v->valueint;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "temperature")))
		j->req.temperature = v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "top_k")))
		j->req.top_k = v->valueint;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "top_p")))
		j->req.top_p = v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "frequency_penalty")))
		j->req.frequency_penalty = v->valuedouble;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(o, "bid_msat")))
		j->req.bid_msat = (int64_t)v->valuedouble;
	rel = cJSON_GetObjectItemCaseSensitive(o, "relays");
	cJSON_ArrayForEach(v, rel)
		if (cJSON_IsString(v) && j->req.nrelays < JOBD_MAX_RELAYS &&
		    (j->req.relays[j->req.nrelays] = strdup(v->valuestring)) != NULL)
			j->req.nrelays++;
	cJSON_Delete(o);
}

/*
 * Record a job unless its id is there (the durable dedupe): a request
 * refused before it became a job. Returns 1 if inserted, 0 if the id was
 * already there, -1 on error. An admitted job's row is created by its
 * first ledger_job_write.
 */
int
ledger_insert(sqlite3 *db, const struct job *j)
{
	sqlite3_stmt *st;
	int rc;

	st = prep(db, "INSERT OR IGNORE INTO jobs(id, pubkey, kind, created_at, "
	    "received_ms, updated_ms, state, enc, relay, request, error) "
	    "VALUES(?,?,?,?,?,?,?,?,?,?,?)");
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, j->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->pubkey, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, j->kind);
	sqlite3_bind_int64(st, 4, j->created_at);
	sqlite3_bind_int64(st, 5, j->received_ms);
	sqlite3_bind_int64(st, 6, ledger_now_ms());
	sqlite3_bind_text(st, 7, state_name(j->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 8, j->enc);
	sqlite3_bind_text(st, 9, j->relay, -1, SQLITE_STATIC);
	/* a rejected request keeps no body: its id is the dedupe, error the why */
	sqlite3_bind_text(st, 10, j->state == ST_REJECTED ? "" : j->request_json, -1,
	    SQLITE_STATIC);
	if (j->error[0])
		sqlite3_bind_text(st, 11, j->error, -1, SQLITE_STATIC);
	rc = step(db, st);
	stmt_done(st);
	if (rc != SQLITE_DONE) {
		log_warnx("ledger: insert %s: %s", j->id, sqlite3_errmsg(db));
		return -1;
	}
	return sqlite3_changes(db) > 0 ? 1 : 0;
}

/* The columns of added_columns, after row_update made the row. */
static int
row_added(sqlite3 *db, const struct job *j)
{
	sqlite3_stmt *st = prep(db, "UPDATE jobs SET pay_mode = ?1, queued_ms = ?2 "
	    "WHERE id = ?3");

	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, j->pay_mode);
	sqlite3_bind_int64(st, 2, j->queued_ms);
	sqlite3_bind_text(st, 3, j->id, -1, SQLITE_STATIC);
	return step_done(db, st);
}

/*
 * A job's whole row: created by its first write (a new job reaches the
 * ledger with the moves of its first wake-up), every mutable field after.
 */
static int
row_update(sqlite3 *db, const struct job *j)
{
	sqlite3_stmt *st;
	char *params = params_json(j);
	int rc;

	if (params == NULL)
		return -1;
	st = prep(db, "INSERT INTO jobs(id, pubkey, kind, created_at, received_ms, relay, "
	    "request, updated_ms, state, enc, params, quote_msat, price_msat, paid_msat, "
	    "bolt11, invoice_expires, prompt_tokens, completion_tokens, text, result_id, "
	    "error, escrow, hold_deadline, done_ms) VALUES(?15, ?16, ?17, ?18, ?19, ?20, ?21, "
	    "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?22, ?23, "
	    "CASE WHEN ?13 IS NOT NULL THEN ?1 "
	    "ELSE 0 END) ON CONFLICT(id) DO UPDATE SET updated_ms=?1, state=?2, enc=?3, "
	    "params=?4, quote_msat=?5, price_msat=?6, paid_msat=?7, bolt11=?8, "
	    "invoice_expires=?9, prompt_tokens=?10, completion_tokens=?11, text=?12, "
	    "result_id=?13, error=?14, escrow=?22, hold_deadline=?23, "
	    "done_ms = CASE WHEN ?13 IS NOT NULL AND done_ms = 0 THEN ?1 ELSE done_ms END");
	if (st == NULL) {
		free(params);
		return -1;
	}
	sqlite3_bind_int64(st, 1, ledger_now_ms());
	sqlite3_bind_text(st, 2, state_name(j->state), -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, j->enc);
	sqlite3_bind_text(st, 4, params, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, j->quote_msat);
	sqlite3_bind_int64(st, 6, j->price_msat);
	sqlite3_bind_int64(st, 7, j->paid_msat);
	if (j->bolt11)
		sqlite3_bind_text(st, 8, j->bolt11, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, j->invoice_expires);
	sqlite3_bind_int(st, 10, j->prompt_tokens);
	sqlite3_bind_int(st, 11, j->completion_tokens);
	if (j->text)
		sqlite3_bind_text(st, 12, j->text, -1, SQLITE_STATIC);
	if (j->result_id[0])
		sqlite3_bind_text(st, 13, j->result_id, -1, SQLITE_STATIC);
	if (j->error[0])
		sqlite3_bind_text(st, 14, j->error, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 15, j->id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 16, j->pubkey, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 17, j->kind);
	sqlite3_bind_int64(st, 18, j->created_at);
	sqlite3_bind_int64(st, 19, j->received_ms);
	sqlite3_bind_text(st, 20, j->relay, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 21, j->request_json, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 22, j->escrow, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 23, j->hold_deadline);
	rc = step_done(db, st);
	free(params);
	return rc == -1 ? -1 : row_added(db, j);
}

static struct job *
row_job(sqlite3_stmt *st)
{
	struct job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	snprintf(j->id, sizeof(j->id), "%s", col_text(st, 0));
	snprintf(j->pubkey, sizeof(j->pubkey), "%s", col_text(st, 1));
	hex_decode(j->pubkey, 64, j->pk, 32);
	j->kind = sqlite3_column_int(st, 2);
	j->created_at = sqlite3_column_int64(st, 3);
	j->received_ms = sqlite3_column_int64(st, 4);
	j->state = state_parse(col_text(st, 5));
	j->enc = sqlite3_column_int(st, 6);
	snprintf(j->relay, sizeof(j->relay), "%s", col_text(st, 7));
	j->req.bid_msat = -1;
	if ((int)j->state < 0 || (j->request_json = strdup(col_text(st, 8))) == NULL) {
		free(j);	/* nothing else is allocated yet */
		return NULL;
	}
	if (sqlite3_column_type(st, 9) != SQLITE_NULL)
		params_load(j, col_text(st, 9));
	j->quote_msat = sqlite3_column_int64(st, 10);
	j->price_msat = sqlite3_column_int64(st, 11);
	j->paid_msat = sqlite3_column_int64(st, 12);
	if (sqlite3_column_type(st, 13) != SQLITE_NULL)
		j->bolt11 = strdup(col_text(st, 13));
	j->invoice_expires = sqlite3_column_int64(st, 14);
	j->prompt_tokens = sqlite3_column_int(st, 15);
	j->completion_tokens = sqlite3_column_int(st, 16);
	if (sqlite3_column_type(st, 17) != SQLITE_NULL)
		j->text = strdup(col_text(st, 17));
	snprintf(j->result_id, sizeof(j->result_id), "%s", col_text(st, 18));
	snprintf(j->error, sizeof(j->error), "%s", col_text(st, 19));
	j->pay_mode = sqlite3_column_int(st, 20);
	j->queued_ms = sqlite3_column_int64(st, 21);
	snprintf(j->escrow, sizeof(j->escrow), "%s", col_text(st, 22));
	j->hold_deadline = sqlite3_column_int64(st, 23);
	return j;
}

/*
 * Load every open job, oldest first, appended to *head. Results no relay
 * accepted in max_age_s are closed as errors (the outbox gave up on them);
 * jobs still waiting are loaded whatever their age: job.c decides, with
 * feedback, which may still run. Returns the number loaded or -1.
 */
int
ledger_load_open(sqlite3 *db, struct job **head, int64_t max_age_s)
{
	sqlite3_stmt *st;
	struct job **tail = head, *j;
	int n = 0;

	while (*tail != NULL)
		tail = &(*tail)->next;
	/* unstarted jobs too old to run are closed by job.c, through job_move */
	st = prep(db, "UPDATE jobs SET state='error', updated_ms=?1, "
	    "error='no relay accepted the result' WHERE state = 'published' "
	    "AND received_ms < ?1 - ?2");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, ledger_now_ms());
	sqlite3_bind_int64(st, 2, max_age_s * 1000);
	if (step_done(db, st) == -1)
		return -1;
	st = prep(db, "SELECT id, pubkey, kind, created_at, received_ms, state, enc, "
	    "relay, request, params, quote_msat, price_msat, paid_msat, bolt11, "
	    "invoice_expires, prompt_tokens, completion_tokens, text, result_id, error, "
	    "pay_mode, queued_ms, escrow, hold_deadline FROM jobs WHERE state NOT IN ('acked','rejected','error','cancelled','expired') "
	    "ORDER BY received_ms, rowid");
	if (st == NULL)
		return -1;
	while (step(db, st) == SQLITE_ROW) {
		if ((j = row_job(st)) == NULL) {
			log_warnx("ledger: unreadable job row skipped");
			continue;
		}
		*tail = j;
		tail = &j->next;
		n++;
	}
	stmt_done(st);
	return n;
}

int
ledger_outbox_put(sqlite3 *db, const char *id, const char *job, int kind,
    const char *json, const char *relays_json)
{
	sqlite3_stmt *st = prep(db, "INSERT OR IGNORE INTO outbox(id, job, kind, event, "
	    "relays, created_ms) VALUES(?,?,?,?,?,?)");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (job)
		sqlite3_bind_text(st, 2, job, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, kind);
	sqlite3_bind_text(st, 4, json, -1, SQLITE_STATIC);
	if (relays_json)
		sqlite3_bind_text(st, 5, relays_json, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, ledger_now_ms());
	return step_done(db, st);
}

/* A relay accepted event id. Returns the number of rows changed. */
int
ledger_outbox_ack(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = prep(db, "UPDATE outbox SET acked = 1 WHERE id = ? AND acked = 0");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	if (step_done(db, st) == -1)
		return -1;
	return sqlite3_changes(db);
}

/*
 * Call fn for every event not yet accepted by a relay, created at least
 * older_than_ms ago (0: all), within the last day, tried fewer than
 * OUTBOX_MAX_TRIES times. Counts the try.
 */
int
ledger_outbox_each(sqlite3 *db, int64_t older_than_ms,
    void (*fn)(void *, const char *json, const char *relays), void *arg)
{
	sqlite3_stmt *st;
	int64_t now = ledger_now_ms();
	int n = 0;

	st = prep(db, "SELECT id, event, relays FROM outbox WHERE acked = 0 AND "
	    "created_ms <= ?1 AND created_ms > ?2 AND tries < ?3 ORDER BY created_ms LIMIT 500");
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, now - older_than_ms);
	sqlite3_bind_int64(st, 2, now - OUTBOX_MAX_AGE_MS);
	sqlite3_bind_int(st, 3, OUTBOX_MAX_TRIES);
	exec(db, "SAVEPOINT outbox_each");
	while (step(db, st) == SQLITE_ROW) {
		sqlite3_stmt *up = prep(db, "UPDATE outbox SET tries = tries + 1 WHERE id = ?");

		if (up != NULL) {
			sqlite3_bind_text(up, 1, col_text(st, 0), -1, SQLITE_TRANSIENT);
			step_done(db, up);
		}
		fn(arg, col_text(st, 1), sqlite3_column_type(st, 2) == SQLITE_NULL ?
		    NULL : col_text(st, 2));
		n++;
	}
	stmt_done(st);
	exec(db, "RELEASE outbox_each");
	return n;
}

/*
 * 1 if event id is in the outbox unaccepted and the retries are spent
 * (OUTBOX_MAX_TRIES re-sends, every one refused or unanswered), 0 if not.
 */
int
ledger_outbox_gave_up(sqlite3 *db, const char *id)
{
	sqlite3_stmt *st = prep(db, "SELECT 1 FROM outbox WHERE id = ? AND acked = 0 "
	    "AND tries >= ?");
	int rc;

	if (st == NULL)
		return 0;
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, OUTBOX_MAX_TRIES);
	rc = step(db, st);
	stmt_done(st);
	return rc == SQLITE_ROW;
}

/*
 * Write a job's row, and with it the event its move announces (row, may
 * be NULL), in one transaction: after a crash either both are there (the
 * same event is re-sent) or neither (it is built again; nothing was sent).
 */
int
ledger_job_write(sqlite3 *db, const struct job *j, const struct outbox_row *row)
{
	/* A savepoint, not BEGIN: it may run inside a batch (ledger_batch_begin). */
	if (run(db, "SAVEPOINT job_write") == -1)
		return -1;
	if ((row != NULL && ledger_outbox_put(db, row->id, j->id, row->kind, row->json,
	    row->relays) == -1) || row_update(db, j) == -1) {
		exec(db, "ROLLBACK TO job_write");
		exec(db, "RELEASE job_write");
		return -1;
	}
	return run(db, "RELEASE job_write");
}

/*
 * One transaction around everything a batch of spoke lines writes (a
 * request's received -> processing, an answer's inferred -> published...):
 * one fsync instead of one per transition. Durability is unchanged: lines
 * to the spokes are only queued while the batch is open and are written
 * after ledger_batch_end, from the next poll, so no side effect leaves jobd
 * before the state announcing it is on disk.
 */
int
ledger_batch_begin(sqlite3 *db)
{
	/* The safety level cannot change inside a transaction: ledger_batch_end
	 * syncs the WAL itself when the batch needs it, and restores FULL. */
	if (run(db, "PRAGMA synchronous=NORMAL") == -1)
		return -1;
	if (run(db, "BEGIN IMMEDIATE") == -1) {
		run(db, "PRAGMA synchronous=FULL");
		return -1;
	}
	return 0;
}

/*
 * fsync the WAL, as synchronous=FULL does after each commit (its one
 * difference from NORMAL in WAL mode): SQLite's own file object for it.
 */
static int
wal_sync(sqlite3 *db)
{
	sqlite3_file *f = NULL;

	if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &f) != SQLITE_OK ||
	    f == NULL || f->pMethods == NULL)
		return -1;
	return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL) == SQLITE_OK ? 0 : -1;
}

/* 1 while a batch is open (its writes reach the disk at ledger_batch_end). */
int
ledger_batch_open(sqlite3 *db)
{
	return !sqlite3_get_autocommit(db);
}

/*
 * Commit the batch. A failed commit leaves queued lines announcing states
 * that are not on disk: stop before they are written (exit 111, the
 * supervisor restarts jobd, which replays the ledger as it is).
 *
 * sync 0 leaves the commit unsynced: in WAL mode it is in the page cache,
 * so a kill -9 loses nothing; a power cut may lose it and the commits after
 * it up to the next synced one, never one before. The caller says when
 * that is safe (jobd.8.md "Durability"). sync 1 is synchronous=FULL's
 * commit: the WAL is synced before any line the batch queued can leave.
 */
void
ledger_batch_end(sqlite3 *db, int sync)
{
	/* the caller opened it: closed now means SQLite rolled it back */
	if (sqlite3_get_autocommit(db))
		fatalx(EXIT_TEMP, "ledger: the batch was rolled back by SQLite; "
		    "stopping before its lines leave");
	if (run(db, "COMMIT") == -1)
		fatalx(EXIT_TEMP, "ledger: commit failed: %s", sqlite3_errmsg(db));
	if (sync && wal_sync(db) == -1)
		fatalx(EXIT_TEMP, "ledger: cannot sync the write-ahead log");
	/* Every write outside a batch is synced by SQLite itself. */
	if (run(db, "PRAGMA synchronous=FULL") == -1)
		fatalx(EXIT_TEMP, "ledger: cannot restore synchronous=FULL");
}

/* Rows changed on this connection so far (job_batch_light counts with it). */
long long
ledger_changes(sqlite3 *db)
{
	return (long long)sqlite3_total_changes64(db);
}

/* Record a payment. Returns 1 if newly recorded, 0 if known or no such job, -1. */
int
ledger_set_paid(sqlite3 *db, const char *id, int64_t paid_msat)
{
	sqlite3_stmt *st = prep(db, "UPDATE jobs SET paid_msat = ?, updated_ms = ? "
	    "WHERE id = ? AND paid_msat = 0");

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, paid_msat);
	sqlite3_bind_int64(st, 2, ledger_now_ms());
	sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
	if (step_done(db, st) == -1)
		return -1;
	return sqlite3_changes(db) > 0 ? 1 : 0;
}

/*
 * The rows that may go: closed and past their horizon (a rejected request
 * after retain_rejected_hours, any other closed job after retain_days),
 * never one whose invoice may still be paid (an unpaid bolt11 before its
 * expiry) or whose held payment's settle or cancel is not confirmed yet, never an open job, and never a request young enough to pass the
 * max_request_age check again: a relay that re-sends a pruned request
 * finds it refused as stale, so its id needs no tombstone. Oldest first on
 * the received_ms index, so each pass reads only rows past the horizon.
 */
#define PRUNABLE "SELECT id FROM jobs WHERE received_ms < ?6 AND created_at < ?4 AND " \
	"((state = 'rejected' AND updated_ms < ?1) OR (state IN ('acked','error'," \
	"'cancelled','expired') AND updated_ms < ?2 AND (bolt11 IS NULL OR " \
	"paid_msat > 0 OR (invoice_expires > 0 AND invoice_expires < ?3))) AND " \
	"escrow NOT IN ('settle','refund','void')) " \
	"ORDER BY received_ms LIMIT ?5"

/* created_ms on the outbox_acked index: the outbox has no index by job */
static const char prune_outbox_sql[] = "DELETE FROM outbox WHERE acked IN (0, 1) AND "
	"created_ms < ?6 AND job IN (" PRUNABLE ")";
static const char prune_jobs_sql[] = "DELETE FROM jobs WHERE id IN (" PRUNABLE ")";
static const char prune_loose_sql[] = "DELETE FROM outbox WHERE rowid IN (SELECT rowid "
	"FROM outbox WHERE job IS NULL AND created_ms < ?1 ORDER BY created_ms LIMIT ?2)";

static int
prune_step(sqlite3 *db, const char *sql, const struct ledger_retention *r, int64_t now,
    int limit)
{
	sqlite3_stmt *st = prep(db, sql);
	int64_t nearest = r->rejected_ms < r->finished_ms ? r->rejected_ms : r->finished_ms;

	if (st == NULL)
		return -1;
	if (sql == prune_loose_sql) {
		sqlite3_bind_int64(st, 1, now - r->finished_ms);
		sqlite3_bind_int(st, 2, limit);
	} else {
		sqlite3_bind_int64(st, 1, now - r->rejected_ms);
		sqlite3_bind_int64(st, 2, now - r->finished_ms);
		sqlite3_bind_int64(st, 3, now / 1000);
		sqlite3_bind_int64(st, 4, now / 1000 - r->stale_s);
		sqlite3_bind_int(st, 5, limit);
		sqlite3_bind_int64(st, 6, now - nearest);
	}
	return step_done(db, st) == -1 ? -1 : sqlite3_changes(db);
}

/*
 * Delete at most limit old rows (jobs, with their outbox events, and our
 * own events of no job), in one transaction: the tick calls it, so a
 * large backlog goes in bounded steps, never in one long delete. Returns
 * the number of jobs deleted or -1.
 */
int
ledger_prune(sqlite3 *db, const struct ledger_retention *r, int limit)
{
	int64_t now = ledger_now_ms();
	int n;

	if (exec(db, "SAVEPOINT prune") == -1)
		return -1;
	if (prune_step(db, prune_outbox_sql, r, now, limit) == -1 ||
	    (n = prune_step(db, prune_jobs_sql, r, now, limit)) == -1 ||
	    prune_step(db, prune_loose_sql, r, now, limit) == -1) {
		exec(db, "ROLLBACK TO prune");
		exec(db, "RELEASE prune");
		return -1;
	}
	if (exec(db, "RELEASE prune") == -1)
		return -1;
	return n;
}

/* Results delivered to pubkey and still not paid (pay-after). */
int
ledger_unpaid_count(sqlite3 *db, const char *pubkey)
{
	sqlite3_stmt *st = prep(db, "SELECT count(*) FROM jobs WHERE pubkey = ? AND "
	    "state IN ('published','acked') AND price_msat > 0 AND paid_msat < price_msat");
	int n = -1;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, pubkey, -1, SQLITE_STATIC);
	if (step(db, st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	stmt_done(st);
	return n;
}

/*
 * The columns row_json reads, in its order: every query that hands rows to
 * it selects exactly these first, so a column added here cannot shift
 * another query's extra columns.
 */
#define ROW_JSON_COLS "id, state, pubkey, kind, enc, quote_msat, price_msat, " \
	"paid_msat, prompt_tokens, completion_tokens, created_at, received_ms, " \
	"updated_ms, result_id, error, escrow"
#define ROW_JSON_NCOLS 16

static cJSON *
row_json(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();
	uint8_t pk[32];
	char npub[100] = "";
	int64_t price = sqlite3_column_int64(st, 6), paid = sqlite3_column_int64(st, 7);

	if (o == NULL)
		return NULL;
	if (hex_decode(col_text(st, 2), 64, pk, 32) == 0)
		nip19_encode("npub", pk, npub, sizeof(npub));
	cJSON_AddStringToObject(o, "id", col_text(st, 0));
	cJSON_AddStringToObject(o, "state", col_text(st, 1));
	cJSON_AddStringToObject(o, "requester", col_text(st, 2));
	cJSON_AddStringToObject(o, "npub", npub);
	cJSON_AddNumberToObject(o, "kind", sqlite3_column_int(st, 3));
	cJSON_AddBoolToObject(o, "encrypted", sqlite3_column_int(st, 4) != 0);
	cJSON_AddStringToObject(o, "encryption", sqlite3_column_int(st, 4) == ENC_NIP04 ?
	    "nip04" : sqlite3_column_int(st, 4) == ENC_NIP44 ? "nip44" : "none");
	cJSON_AddNumberToObject(o, "quote_msat", (double)sqlite3_column_int64(st, 5));
	cJSON_AddNumberToObject(o, "price_msat", (double)price);
	cJSON_AddNumberToObject(o, "paid_msat", (double)paid);
	cJSON_AddBoolToObject(o, "paid", price > 0 && paid >= price);
	cJSON_AddNumberToObject(o, "prompt_tokens", sqlite3_column_int(st, 8));
	cJSON_AddNumberToObject(o, "completion_tokens", sqlite3_column_int(st, 9));
	cJSON_AddNumberToObject(o, "created_at", (double)sqlite3_column_int64(st, 10));
	cJSON_AddNumberToObject(o, "received_at", (double)(sqlite3_column_int64(st, 11) / 1000));
	cJSON_AddNumberToObject(o, "updated_at", (double)(sqlite3_column_int64(st, 12) / 1000));
	if (sqlite3_column_type(st, 13) != SQLITE_NULL)
		cJSON_AddStringToObject(o, "result_id", col_text(st, 13));
	else
		cJSON_AddNullToObject(o, "result_id");
	if (sqlite3_column_type(st, 14) != SQLITE_NULL)
		cJSON_AddStringToObject(o, "error", col_text(st, 14));
	else
		cJSON_AddNullToObject(o, "error");
	cJSON_AddStringToObject(o, "escrow", col_text(st, 15));
	return o;
}

/* The newest `limit` jobs, for dvmctl jobs. */
cJSON *
ledger_jobs_json(sqlite3 *db, int limit)
{
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray(), *o;

	if (arr == NULL)
		return NULL;
	st = prep(db, "SELECT " ROW_JSON_COLS " FROM jobs ORDER BY received_ms DESC, rowid DESC "
	    "LIMIT ?");
	if (st == NULL)
		return arr;
	sqlite3_bind_int(st, 1, limit);
	while (step(db, st) == SQLITE_ROW)
		if ((o = row_json(st)) != NULL)
			cJSON_AddItemToArray(arr, o);
	stmt_done(st);
	return arr;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Latency (request seen -> result published) percentiles of the last 1000 results. */
static void
stats_latency(sqlite3 *db, cJSON *out)
{
	sqlite3_stmt *st = prep(db, "SELECT done_ms - received_ms FROM jobs WHERE "
	    "done_ms > 0 ORDER BY received_ms DESC LIMIT 1000");
	int64_t v[1000];
	size_t n = 0;
	cJSON *lat = cJSON_AddObjectToObject(out, "latency_ms");

	if (st == NULL || lat == NULL) {
		stmt_done(st);
		return;
	}
	while (n < 1000 && step(db, st) == SQLITE_ROW)
		v[n++] = sqlite3_column_int64(st, 0);
	stmt_done(st);
	qsort(v, n, sizeof(v[0]), cmp_i64);
	cJSON_AddNumberToObject(lat, "p50", n ? (double)v[(n - 1) * 50 / 100] : 0);
	cJSON_AddNumberToObject(lat, "p90", n ? (double)v[(n - 1) * 90 / 100] : 0);
	cJSON_AddNumberToObject(lat, "p99", n ? (double)v[(n - 1) * 99 / 100] : 0);
	cJSON_AddNumberToObject(lat, "n", (double)n);
}

/* Jobs, tokens and sats per model (the model is in each job's params). */
static void
stats_models(sqlite3 *db, cJSON *out)
{
	sqlite3_stmt *st = prep(db, "SELECT coalesce(json_extract(params, '$.model'), ''), "
	    "count(*), total(prompt_tokens + completion_tokens), "
	    "total(CASE WHEN bolt11 IS NOT NULL THEN max(price_msat, quote_msat) ELSE 0 END), "
	    "total(paid_msat) FROM jobs WHERE json_valid(params) GROUP BY 1 ORDER BY 2 DESC "
	    "LIMIT 256");
	cJSON *by = cJSON_AddObjectToObject(out, "models"), *m;

	if (st == NULL || by == NULL) {
		stmt_done(st);
		return;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((m = cJSON_AddObjectToObject(by, col_text(st, 0))) == NULL)
			continue;
		cJSON_AddNumberToObject(m, "jobs", sqlite3_column_int(st, 1));
		cJSON_AddNumberToObject(m, "tokens", sqlite3_column_double(st, 2));
		cJSON_AddNumberToObject(m, "sats_invoiced",
		    (double)((int64_t)sqlite3_column_double(st, 3) / 1000));
		cJSON_AddNumberToObject(m, "sats_received",
		    (double)((int64_t)sqlite3_column_double(st, 4) / 1000));
	}
	stmt_done(st);
}

/* The ledger's part of dvmctl stats. */
cJSON *
ledger_stats_json(sqlite3 *db)
{
	cJSON *o = cJSON_CreateObject(), *by, *tok;
	sqlite3_stmt *st;

	if (o == NULL)
		return NULL;
	by = cJSON_AddObjectToObject(o, "jobs_by_state");
	if ((st = prep(db, "SELECT state, count(*) FROM jobs GROUP BY state")) != NULL) {
		while (step(db, st) == SQLITE_ROW)
			cJSON_AddNumberToObject(by, col_text(st, 0), sqlite3_column_int(st, 1));
		stmt_done(st);
	}
	tok = cJSON_AddObjectToObject(o, "tokens");
	if ((st = prep(db, "SELECT total(prompt_tokens), total(completion_tokens), "
	    "total(CASE WHEN bolt11 IS NOT NULL THEN max(price_msat, quote_msat) ELSE 0 END), "
	    "total(paid_msat) FROM jobs")) != NULL) {
		if (step(db, st) == SQLITE_ROW) {
			cJSON_AddNumberToObject(tok, "prompt", sqlite3_column_double(st, 0));
			cJSON_AddNumberToObject(tok, "completion", sqlite3_column_double(st, 1));
			cJSON_AddNumberToObject(o, "sats_invoiced",
			    (double)((int64_t)sqlite3_column_double(st, 2) / 1000));
			cJSON_AddNumberToObject(o, "sats_received",
			    (double)((int64_t)sqlite3_column_double(st, 3) / 1000));
		}
		stmt_done(st);
	}
	by = cJSON_AddObjectToObject(o, "escrow");
	if ((st = prep(db, "SELECT escrow, count(*) FROM jobs WHERE escrow != '' "
	    "GROUP BY escrow")) != NULL) {
		while (sqlite3_step(st) == SQLITE_ROW)
			cJSON_AddNumberToObject(by, col_text(st, 0), sqlite3_column_int(st, 1));
		stmt_done(st);
	}
	stats_latency(db, o);
	stats_models(db, o);
	return o;
}

/*
 * A closed job's escrow (escrow.c): the decision or outcome to, if the
 * job's escrow is now one of from (a space-separated list). 1 changed,
 * 0 not, -1 error.
 */
int
ledger_escrow_move(sqlite3 *db, const char *id, const char *from, const char *to,
    int64_t paid_msat)
{
	sqlite3_stmt *st = prep(db, "UPDATE jobs SET escrow = ?1, updated_ms = ?2, "
	    "paid_msat = CASE WHEN ?3 > 0 THEN ?3 ELSE paid_msat END "
	    "WHERE id = ?4 AND instr(' ' || ?5 || ' ', ' ' || escrow || ' ') > 0");

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, to, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, ledger_now_ms());
	sqlite3_bind_int64(st, 3, paid_msat);
	sqlite3_bind_text(st, 4, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, from, -1, SQLITE_STATIC);
	if (step_done(db, st) == -1)
		return -1;
	return sqlite3_changes(db) > 0 ? 1 : 0;
}

/* Every job whose settle or cancel is decided but not confirmed: fn(arg, id, escrow). */
int
ledger_escrow_each(sqlite3 *db, void (*fn)(void *, const char *id, const char *escrow),
    void *arg)
{
	sqlite3_stmt *st = prep(db, "SELECT id, escrow FROM jobs WHERE escrow IN "
	    "('settle','refund','void') LIMIT 1000");
	char id[65], esc[12];

	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(id, sizeof(id), "%s", col_text(st, 0));
		snprintf(esc, sizeof(esc), "%s", col_text(st, 1));
		fn(arg, id, esc);
	}
	stmt_done(st);
	return 0;
}

/*
 * A page of jobs for the pane: newest first, offset rows skipped, only
 * state (when not NULL) kept; each row as for dvmctl jobs plus done_at.
 */
cJSON *
ledger_jobs_page_json(sqlite3 *db, int offset, int limit, const char *state)
{
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray(), *o;

	if (arr == NULL)
		return NULL;
	st = prep(db, "SELECT " ROW_JSON_COLS ", done_ms FROM jobs WHERE (?1 IS NULL OR state = ?1) "
	    "ORDER BY received_ms DESC, rowid DESC LIMIT ?2 OFFSET ?3");
	if (st == NULL)
		return arr;
	if (state != NULL)
		sqlite3_bind_text(st, 1, state, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, limit);
	sqlite3_bind_int(st, 3, offset);
	while (sqlite3_step(st) == SQLITE_ROW)
		if ((o = row_json(st)) != NULL) {
			cJSON_AddNumberToObject(o, "done_ms",
			    (double)sqlite3_column_int64(st, ROW_JSON_NCOLS));
			cJSON_AddNumberToObject(o, "received_ms", (double)sqlite3_column_int64(st, 11));
			cJSON_AddItemToArray(arr, o);
		}
	stmt_done(st);
	return arr;
}

/*
 * Earnings bucketed by bucket_ms (a UTC day or hour) since since_ms: asked
 * (the price of every job that got an invoice), received, jobs completed
 * (a result published), failed (error) and unpaid (a result with its
 * invoice not paid). One object per bucket that has jobs, oldest first.
 */
cJSON *
ledger_buckets_json(sqlite3 *db, int64_t since_ms, int64_t bucket_ms)
{
	sqlite3_stmt *st;
	cJSON *arr = cJSON_CreateArray(), *o;

	if (arr == NULL)
		return NULL;
	st = prep(db, "SELECT received_ms / ?2 AS b, count(*), "
	    "total(CASE WHEN bolt11 IS NOT NULL THEN max(price_msat, quote_msat) ELSE 0 END), "
	    "total(paid_msat), total(state IN ('published', 'acked')), total(state = 'error'), "
	    "total(state IN ('published', 'acked') AND price_msat > 0 AND paid_msat < price_msat) "
	    "FROM jobs WHERE received_ms >= ?1 GROUP BY b ORDER BY b");
	if (st == NULL)
		return arr;
	sqlite3_bind_int64(st, 1, since_ms);
	sqlite3_bind_int64(st, 2, bucket_ms);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((o = cJSON_CreateObject()) == NULL)
			break;
		cJSON_AddNumberToObject(o, "start", (double)(sqlite3_column_int64(st, 0) *
		    (bucket_ms / 1000)));
		cJSON_AddNumberToObject(o, "jobs", sqlite3_column_int(st, 1));
		cJSON_AddNumberToObject(o, "asked_sats", (double)((int64_t)sqlite3_column_double(st, 2) / 1000));
		cJSON_AddNumberToObject(o, "received_sats", (double)((int64_t)sqlite3_column_double(st, 3) / 1000));
		cJSON_AddNumberToObject(o, "completed", sqlite3_column_double(st, 4));
		cJSON_AddNumberToObject(o, "failed", sqlite3_column_double(st, 5));
		cJSON_AddNumberToObject(o, "unpaid", sqlite3_column_double(st, 6));
		cJSON_AddItemToArray(arr, o);
	}
	stmt_done(st);
	return arr;
}

/*
 * ledger.h: state_dir/jobs.db, storage only. The ledger stores what it is
 * handed; which moves are legal is job.c's business (state.h the table).
 */
#ifndef JOBD_LEDGER_H
#define JOBD_LEDGER_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "jobrec.h"

/* A signed event stored with the move that announces it (a job's result). */
struct outbox_row {
	const char	*id;		/* event id */
	int		 kind;
	const char	*json;		/* the signed event */
	const char	*relays;	/* JSON array of extra relays, or NULL */
};

int		 ledger_open(sqlite3 **, const char *path, char *err, size_t errlen);
void		 ledger_close(sqlite3 *);
int		 ledger_has(sqlite3 *, const char *id);
int		 ledger_insert(sqlite3 *, const struct job *);
int		 ledger_job_write(sqlite3 *, const struct job *, const struct outbox_row *);
int		 ledger_load_open(sqlite3 *, struct job **head, int64_t max_age_s);
int		 ledger_meta_get(sqlite3 *, const char *key, char *buf, size_t len);
int		 ledger_meta_set(sqlite3 *, const char *key, const char *val);
int		 ledger_outbox_put(sqlite3 *, const char *id, const char *job, int kind,
		    const char *json, const char *relays_json);
int		 ledger_outbox_ack(sqlite3 *, const char *id);
int		 ledger_outbox_each(sqlite3 *, int64_t older_than_ms,
		    void (*fn)(void *, const char *json, const char *relays), void *arg);
int		 ledger_batch_begin(sqlite3 *);
int		 ledger_batch_open(sqlite3 *);
void		 ledger_batch_end(sqlite3 *, int sync);
long long	 ledger_changes(sqlite3 *);
int		 ledger_set_paid(sqlite3 *, const char *id, int64_t paid_msat);
int		 ledger_unpaid_count(sqlite3 *, const char *pubkey);
int		 ledger_outbox_gave_up(sqlite3 *, const char *id);

/* How long rows stay (retain_days, retain_rejected_hours, max_request_age). */
struct ledger_retention {
	int64_t	 finished_ms;	/* a closed job's row after its last update */
	int64_t	 rejected_ms;	/* a rejected request's row */
	int64_t	 stale_s;	/* a request this old is refused as stale anyway */
};
int		 ledger_prune(sqlite3 *, const struct ledger_retention *, int limit);
int		 ledger_job_state(sqlite3 *, const char *id, char *state, size_t len);
int		 ledger_escrow_move(sqlite3 *, const char *id, const char *from, const char *to,
		    int64_t paid_msat);
int		 ledger_escrow_each(sqlite3 *, void (*)(void *, const char *id, const char *escrow),
		    void *arg);
cJSON		*ledger_jobs_json(sqlite3 *, int limit);
cJSON		*ledger_stats_json(sqlite3 *);
/* The pane's pages of jobs (state NULL: every state) and earnings buckets. */
cJSON		*ledger_jobs_page_json(sqlite3 *, int offset, int limit, const char *state);
cJSON		*ledger_buckets_json(sqlite3 *, int64_t since_ms, int64_t bucket_ms);
int64_t		 ledger_now_ms(void);

#endif

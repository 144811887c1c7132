/*
 * jobd.h: the hub. Private interface of jobd's modules; prototypes are
 * grouped under the file that defines them.
 */
#ifndef JOBD_H
#define JOBD_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "conf.h"
#include "encoding.h"
#include "event.h"
#include "keys.h"
#include "ndjson.h"
#include "netaddr.h"
#include "sock.h"

#define JOBD_MAX_INPUTS		16	/* i tags per request */
#define JOBD_MAX_RELAYS		8	/* extra relays from a request's relays tag (relayd's limit) */
#define JOBD_MAX_URL		512
#define JOBD_MAX_MODEL		128
#define JOBD_MAX_CTL		16	/* control clients at once */
#define JOBD_MAX_ERRMSG		256
#define JOBD_INFER_RETRIES	3	/* retryable inferd errors before giving up */
#define JOBD_INVOICE_RETRIES	3	/* retryable invoiced errors before giving up */
#define JOBD_CANCEL_E_MAX	256	/* job ids in the "cancel" subscription's #e */

/* Job states, in the order a job normally passes them. Stored by name. */
enum job_state {
	ST_RECEIVED,		/* verified, in the ledger; inputs being resolved */
	ST_QUOTED,		/* pay-first: quote made, invoice asked for */
	ST_PAYMENT_REQUIRED,	/* pay-first: invoice sent to the requester */
	ST_PAID,		/* pay-first: invoiced says settled */
	ST_QUEUED,
	ST_PROCESSING,		/* infer sent */
	ST_INFERRED,		/* text and token counts stored */
	ST_INVOICED,		/* pay-after: invoice for the real price stored */
	ST_PUBLISHED,		/* result signed, stored, handed to relayd */
	ST_ACKED,		/* a relay accepted the result */
	ST_REJECTED,		/* invalid request, error feedback sent */
	ST_ERROR,		/* failed while running, error feedback sent */
	ST_CANCELLED,		/* kind-5 deletion from the requester */
	ST_EXPIRED,		/* pay-first invoice expired unpaid */
	ST__COUNT
};

/* Encryption of a request, mirrored in every reply to it. */
enum job_enc { ENC_NONE, ENC_NIP04, ENC_NIP44 };

/* What replaying a ledger row at start (or after a spoke reconnect) needs. */
enum replay_action {
	ACT_NONE,		/* closed: nothing to do */
	ACT_RESOLVE,		/* received: parse the request again, resolve inputs */
	ACT_INVOICE,		/* ask invoiced (idempotent) for the job's invoice */
	ACT_LOOKUP,		/* pay-first wait: ask invoiced for the state */
	ACT_ACK_PAID,		/* paid recorded: ack it, then queue */
	ACT_QUEUE,
	ACT_INFER,		/* re-send infer (idempotent) */
	ACT_RESULT,		/* build, store and publish the result */
	ACT_REPUBLISH		/* re-send the stored result event */
};

/* Why a request got no service. Counted; names in validate.c. */
enum reject_reason {
	REJ_MALFORMED,		/* not an event */
	REJ_KIND,		/* kind not in job_kinds */
	REJ_STALE,		/* older than max_request_age */
	REJ_FUTURE,		/* created_at too far ahead */
	REJ_EXPIRED,		/* NIP-40 expiration passed */
	REJ_NOT_FOR_US,		/* p tags name another provider */
	REJ_UNTARGETED,		/* no p tag and require_p_tag */
	REJ_BAD_SIG,		/* id or signature wrong */
	REJ_DUPLICATE,		/* already in the ledger */
	REJ_RATE_LIMITED,	/* per-pubkey bucket empty */
	REJ_TOO_MANY_TAGS,
	REJ_TOO_LARGE,		/* prompt or content over max_prompt_bytes */
	REJ_BUSY,		/* queue full */
	REJ_UNPAID,		/* refuse_unpaid_after reached */
	REJ_DECRYPT,		/* encrypted content unreadable */
	REJ_NO_INPUT,		/* no usable i tag */
	REJ_BAD_INPUT,		/* unsupported input type, unresolvable event/job */
	REJ_BAD_PARAM,
	REJ_BID_TOO_LOW,
	REJ__COUNT
};

struct spoke;
struct jobd;

/* One input of a request, in order. */
struct input {
	int	 ref;			/* 0 text; 1 event id; 2 job (request) id */
	char	*text;			/* text, or the resolved content */
	char	 id[65];		/* for refs */
	char	 relay[JOBD_MAX_URL];	/* hint for refs, may be empty */
	uint64_t fetch;			/* fetch number while pending, else 0 */
};

/* A request after parsing (and decryption): what the job will run. */
struct request {
	struct input in[JOBD_MAX_INPUTS];
	int	 nin;
	char	 model[JOBD_MAX_MODEL];		/* what we serve */
	char	 asked_model[JOBD_MAX_MODEL];	/* what was asked, "" if none */
	int	 max_tokens;
	double	 temperature;
	int	 top_k;
	double	 top_p;
	double	 frequency_penalty;
	int64_t	 bid_msat;			/* -1: no bid */
	char	*relays[JOBD_MAX_RELAYS];
	int	 nrelays;
};

/* A job held in memory while it is open (closed jobs live in the ledger only). */
struct job {
	struct job	*next;
	char		 id[65];
	char		 pubkey[65];
	uint8_t		 pk[32];
	int		 kind;
	int64_t		 created_at;
	int64_t		 received_ms;	/* wall-clock ms */
	enum job_state	 state;
	enum job_enc	 enc;
	char		 relay[JOBD_MAX_URL];	/* where the request was seen */
	char		*request_json;	/* the signed request as received */
	struct request	 req;
	char		*prompt;	/* joined inputs, once resolved */
	int		 pending;	/* inputs being fetched */
	int64_t		 quote_msat, price_msat, paid_msat;
	char		*bolt11;
	int64_t		 invoice_expires;
	int		 prompt_tokens, completion_tokens;
	char		*text;		/* the answer */
	char		 result_id[65];
	char		 error[JOBD_MAX_ERRMSG];
	int		 retries;	/* retryable spoke errors so far */
	uint64_t	 retry_timer;
	void		*retry_arg;	/* owned while retry_timer is set */
	/* partial results */
	char		*partial;	/* text since the last partial feedback */
	size_t		 partial_len;
	uint64_t	 partial_last_ms;
	uint64_t	 partial_timer;
	void		*partial_arg;	/* owned while partial_timer is set */
};

/* One token bucket per pubkey, in a bounded table. */
struct ratelimit {
	struct rl_entry	*e;
	size_t		 n, cap;
};

/* A connection to relayd, inferd or invoiced. */
enum spoke_id { SPOKE_RELAYD, SPOKE_INFERD, SPOKE_INVOICED, SPOKE__COUNT };

struct spoke {
	const char	*name;
	char		 path[512];
	int		 fd;
	int		 connected;	/* socket connected, ndjson set up */
	struct ndjson	 nd;
	struct backoff	 bo;
	uint64_t	 timer;
	uint64_t	 connected_ms;
	unsigned long	 bad_lines;
	cJSON		*health;	/* last status/health answer */
	uint64_t	 health_asked_ms; /* a status/health unanswered since; 0: none */
};

/* Relays named to relayd in a relays list, for NIP-42 (asked.c). */
#define JOBD_ASKED_MAX		64
struct asked {
	struct {
		char	 url[NETADDR_URL_MAX];	/* normalized */
		uint64_t at;		/* ms; 0: free */
	} v[JOBD_ASKED_MAX];
};

struct ctl_client {
	int		 fd;
	struct ndjson	 nd;
};

struct jobd {
	struct conf	 conf;
	const char	*conf_path;
	struct keypair	 kp;
	char		 npub[100];
	struct loop	*loop;
	sqlite3		*db;
	struct spoke	 spokes[SPOKE__COUNT];
	int		 ctl_fd;
	char		 ctl_path[512];
	struct ctl_client ctl[JOBD_MAX_CTL];
	int		 online;
	struct job	*jobs;		/* open jobs, oldest first */
	int		 running;	/* jobs in ST_PROCESSING */
	uint64_t	 next_fetch;
	struct ratelimit rl;
	unsigned long	 rejections[REJ__COUNT];
	unsigned long	 events_seen, events_verified;
	int64_t		 started;
	uint64_t	 cancel_timer;	/* debounced "cancel" re-subscribe */
	uint64_t	 tick_timer;
	uint64_t	 health_timer;	/* re-asks spokes that report trouble */
	struct asked	 asked;		/* relays we may sign AUTH for */
	int		 stopping;
};

/* validate.c: the checks of a request that need no state */
const char	*reject_name(enum reject_reason);
int		 validate_kind(const struct conf *, int kind);
int		 validate_pre(const struct conf *, const struct event *, const char *ourpk,
		    int64_t now, enum reject_reason *);
int		 validate_sizes(const struct conf *, const struct event *, enum reject_reason *);

/* request.c: tags -> struct request; encrypted content -> tags */
int		 request_decrypt(const struct event *, const struct keypair *, enum job_enc *,
		    cJSON **tags, char *err, size_t errlen);
int		 request_parse(const cJSON *tags, const struct conf *, struct request *,
		    enum reject_reason *, char *err, size_t errlen);
int		 request_join(const struct request *, size_t max, char **prompt,
		    char *err, size_t errlen);
void		 request_free(struct request *);

/* price.c: sats and msat arithmetic */
int64_t		 price_msat(const struct conf *, int64_t prompt_tokens, int64_t completion_tokens);
int64_t		 price_estimate_tokens(size_t prompt_bytes);
int64_t		 price_quote_msat(const struct conf *, size_t prompt_bytes, int max_tokens);
int64_t		 price_tokens_covered(const struct conf *, int64_t msat, size_t prompt_bytes);

/* ratelimit.c */
int		 ratelimit_init(struct ratelimit *, size_t cap);
void		 ratelimit_free(struct ratelimit *);
int		 ratelimit_take(struct ratelimit *, const char *pubkey, int per_min, uint64_t now_ms);

/* ledger.c: state_dir/jobs.db */
int		 ledger_open(sqlite3 **, const char *path, char *err, size_t errlen);
void		 ledger_close(sqlite3 *);
int		 ledger_has(sqlite3 *, const char *id);
int		 ledger_insert(sqlite3 *, const struct job *);
int		 ledger_save(sqlite3 *, const struct job *);
int		 ledger_load_open(sqlite3 *, struct job **head, int64_t max_age_s);
int		 ledger_meta_get(sqlite3 *, const char *key, char *buf, size_t len);
int		 ledger_meta_set(sqlite3 *, const char *key, const char *val);
int		 ledger_outbox_put(sqlite3 *, const char *id, const char *job, int kind,
		    const char *json, const char *relays_json);
int		 ledger_outbox_ack(sqlite3 *, const char *id);
int		 ledger_outbox_each(sqlite3 *, int64_t older_than_ms,
		    void (*fn)(void *, const char *json, const char *relays), void *arg);
int		 ledger_result_store(sqlite3 *, const struct job *, const char *json,
		    const char *relays_json);
int		 ledger_batch_begin(sqlite3 *);
void		 ledger_batch_end(sqlite3 *);
int		 ledger_set_paid(sqlite3 *, const char *id, int64_t paid_msat);
int		 ledger_unpaid_count(sqlite3 *, const char *pubkey);
int		 ledger_job_state(sqlite3 *, const char *id, char *state, size_t len);
cJSON		*ledger_jobs_json(sqlite3 *, int limit);
cJSON		*ledger_stats_json(sqlite3 *);
int64_t		 ledger_now_ms(void);

/* job.c: the state machine */
const char	*job_state_name(enum job_state);
int		 job_state_parse(const char *);
int		 job_state_closed(enum job_state);
int		 job_can_move(enum job_state from, enum job_state to);
enum replay_action job_replay_action(enum job_state, enum payment_mode);
int		 job_set_state(struct jobd *, struct job *, enum job_state);
struct job	*job_find(struct jobd *, const char *id);
void		 job_free(struct job *);
void		 job_close(struct jobd *, struct job *);
void		 job_start(struct jobd *, struct job *);
void		 job_fail(struct jobd *, struct job *, enum job_state, const char *msg);
void		 job_schedule(struct jobd *);
void		 job_resync(struct jobd *, enum spoke_id);
void		 job_replay_local(struct jobd *);
int		 job_queue_depth(struct jobd *);
void		 job_on_infer(struct jobd *, const char *op, const cJSON *msg);
void		 job_on_invoice(struct jobd *, const char *op, const cJSON *msg);
void		 job_on_deletion(struct jobd *, const struct event *);
void		 job_on_ok(struct jobd *, const char *id, int accepted);

/* ingest.c: an event from relayd through the validation pipeline */
void		 ingest_event(struct jobd *, const char *relay, const char *sub, const cJSON *ev);
void		 ingest_fetch_event(struct jobd *, const char *sub, const cJSON *ev);
void		 ingest_fetch_eose(struct jobd *, const char *sub);
void		 ingest_resolve(struct jobd *, struct job *);

/* publish.c: building, signing, storing and sending events */
int		 publish_feedback(struct jobd *, const struct job *, const char *status,
		    const char *msg, int with_amount, const char *content);
int		 publish_result(struct jobd *, struct job *);
int		 publish_announce(struct jobd *);
int		 publish_auth(struct jobd *, const char *relay, const char *challenge);
void		 publish_replay(struct jobd *, int64_t older_than_ms);

/* asked.c: the relays jobd named to relayd (NIP-42 AUTH only for those) */
void		 asked_note_msg(struct asked *, const cJSON *msg, uint64_t now);
int		 asked_has(const struct asked *, const struct conf *, const char *relay,
		    uint64_t now);

/* reason.c: the public words for a spoke's error code */
const char	*reason_infer(const char *code);
const char	*reason_wallet(const char *code);

/* spoke.c */
void		 spoke_init(struct jobd *);
void		 spoke_connect_all(struct jobd *);
void		 spoke_close_all(struct jobd *);
int		 spoke_send(struct jobd *, enum spoke_id, cJSON *msg);
void		 spoke_subscribe_jobs(struct jobd *);
void		 spoke_subscribe_cancel(struct jobd *);
void		 spoke_poll_health(struct jobd *);
void		 spoke_inference_ok(const cJSON *health, int *ok, int *model_ok);

/* control.c */
int		 control_open(struct jobd *);
void		 control_close(struct jobd *);

#endif

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
#include "ledger.h"
#include "model.h"
#include "index.h"

#define JOBD_MAX_CTL		16	/* control clients at once */
#define JOBD_INFER_RETRIES	3	/* retryable inferd errors before giving up */
#define JOBD_INVOICE_RETRIES	3	/* retryable invoiced errors before giving up */
#define JOBD_CANCEL_E_MAX	256	/* job ids in the "cancel" subscription's #e */

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
	REJ_MODEL_NOT_SERVED,	/* a model we do not sell (store.c) */
	REJ__COUNT
};

struct spoke;
struct jobd;
struct srv;
struct srv_client;

/* One token bucket per pubkey, in a bounded table. */
struct ratelimit {
	struct rl_entry	*e;
	size_t		 n, cap;
	size_t		*slot;		/* entry index + 1 by pubkey hash; 0 is free */
	size_t		 nslot;		/* a power of two, at least 2 * cap */
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

/* The storefront (store.c): inferd's catalog, the served set, prices. */
#define STORE_SERVED_MAX	256
struct store_model {
	char	 name[MODEL_NAME_MAX];
	char	 family[64], psize[64], quant[64];
	char	 backends[256];		/* names, space-separated */
	long	 ctx;			/* context length, 0: unknown */
	int	 completion, cloud;
};
struct store {
	struct store_model *cat;	/* inferd's last catalog */
	size_t		 ncat;
	int		 have;		/* a catalog came */
	char		 served[STORE_SERVED_MAX][MODEL_NAME_MAX];	/* default first */
	size_t		 nserved;
	struct model_price prices[MODEL_PRICES_MAX];
	size_t		 nprices;
	struct conf	 pconf;		/* store_price's view */
};

/* The announcement and liveness events (announce.c). */
struct announce {
	char		 hash[65];	/* of the last content published */
	int64_t		 last;		/* when (unix s), 0: never */
	int		 pending;	/* a republish is owed */
	uint64_t	 timer;		/* the pending republish */
	uint64_t	 beat_timer;
	int64_t		 started;	/* unix s: announce without a catalog after a while */
};

struct jobd {
	struct conf	 conf;
	const char	*conf_path;
	struct keypair	 kp;
	char		 npub[100];
	struct loop	*loop;
	sqlite3		*db;
	struct spoke	 spokes[SPOKE__COUNT];
	struct srv	*ctl;		/* control.sock (control.c) */
	struct srv	*pane;		/* run/pane/pane.sock (pane.c) */
	char		 ctl_path[512];
	int		 online;
	struct job	*jobs;		/* open jobs, oldest first */
	struct job_index index;		/* the same jobs by id (index.c) */
	int		 running;	/* jobs in ST_PROCESSING; job.c's alone */
	int		 ndirty;	/* jobs whose row job_flush must write */
	/* the open batch (job_batch_begin): its row changes so far at the
	 * start, and how many of them were declared redoable (job_batch_light) */
	long long	 batch_base;
	long long	 batch_light;
	/* parse and resolve a received job's request (ingest_resolve) */
	void		(*resolve)(struct jobd *, struct job *);
	uint64_t	 next_fetch;
	struct ratelimit rl;
	unsigned long	 rejections[REJ__COUNT];
	unsigned long	 events_seen, events_verified;
	int64_t		 started;
	uint64_t	 cancel_timer;	/* debounced "cancel" re-subscribe */
	uint64_t	 tick_timer;
	uint64_t	 health_timer;	/* re-asks spokes that report trouble */
	uint64_t	 escrow_timer;	/* the earliest hold deadline (escrow.c) */
	struct asked	 asked;		/* relays we may sign AUTH for */
	int		 stopping;
	struct store	 store;		/* store.c */
	struct announce	 ann;		/* announce.c */
};

/* validate.c: the checks of a request that need no state */
const char	*reject_name(enum reject_reason);
int		 validate_kind(const struct conf *, int kind);
int		 validate_pre(const struct conf *, const struct event *, const char *ourpk,
		    int64_t now, enum reject_reason *);
int		 validate_sizes(const struct conf *, const struct event *, enum reject_reason *);
int		 validate_request_bytes(const struct conf *, size_t n, enum reject_reason *);

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

/* job.c: the state machine; the only writer of a job's state and of running */
enum payment_mode job_mode(const struct jobd *, const struct job *);
int		 job_move(struct jobd *, struct job *, enum job_state,
		    const struct outbox_row *);
void		 job_mark_changed(struct jobd *, struct job *);
void		 job_mark_derived(struct jobd *, struct job *);
void		 job_flush(struct jobd *);
int		 job_batch_begin(struct jobd *);
void		 job_batch_end(struct jobd *);
void		 job_batch_light(struct jobd *, long long changes_before);
struct job	*job_new(const struct event *, const char *relay, enum job_enc);
void		 job_admit(struct jobd *, struct job *);
int		 job_record_rejected(struct jobd *, struct job *, const char *msg);
int		 job_load_open(struct jobd *, int64_t max_age_s);
struct job	*job_find(struct jobd *, const char *id);
void		 job_free(struct job *);
void		 job_close(struct jobd *, struct job *);
void		 job_start(struct jobd *, struct job *);
void		 job_fail(struct jobd *, struct job *, enum job_state, const char *msg);
void		 job_schedule(struct jobd *);
void		 job_resync(struct jobd *, enum spoke_id);
void		 job_replay_local(struct jobd *);
void		 job_tick(struct jobd *);

/* escrow.c: payment_mode = hold, the held payment's fate */
int		 escrow_was_held(const struct job *);
void		 escrow_open(struct jobd *, struct job *);
void		 escrow_invoice_fields(const struct job *, cJSON *);
void		 escrow_quote_msg(const struct job *, int64_t msat, char *msg, size_t len);
void		 escrow_explain(const struct job *, char *msg, size_t len);
void		 escrow_on_move(struct jobd *, struct job *, enum job_state to);
int		 escrow_too_late(struct jobd *, struct job *);
void		 escrow_arm(struct jobd *);
int		 escrow_on_op(struct jobd *, const char *op, const char *id, const cJSON *);
void		 escrow_resync(struct jobd *);
int		 job_queue_depth(struct jobd *);
void		 job_on_infer(struct jobd *, const char *op, const cJSON *msg);
void		 job_on_invoice(struct jobd *, const char *op, const cJSON *msg);
void		 job_on_deletion(struct jobd *, const struct event *);
void		 job_on_ok(struct jobd *, const char *id, int accepted);

/* wait.c: a paid or promised job waits for inference, up to inference_deadline */
int64_t		 wait_retry_ms(struct jobd *, struct job *, const char *code, int retryable);
int64_t		 wait_deadline_ms(const struct jobd *, const struct job *);
int		 wait_overdue(const struct jobd *, const struct job *, int64_t now_ms);
int		 wait_holds_queue(const struct jobd *);
void		 wait_fail(struct jobd *, struct job *);

/* partial.c: what partial feedback may give away before an invoice exists */
size_t		 partial_allowed(const struct jobd *, const struct job *);
int		 partial_keep_sent(struct job *, const char *text, size_t n);
void		 partial_restart(struct job *);
int		 partial_bill_sent(const struct jobd *, struct job *);

/* ingest.c: an event from relayd through the validation pipeline */
void		 ingest_event(struct jobd *, const char *relay, const char *sub, const cJSON *ev);
void		 ingest_fetch_event(struct jobd *, const char *sub, const cJSON *ev);
void		 ingest_fetch_eose(struct jobd *, const char *sub);
void		 ingest_resolve(struct jobd *, struct job *);

/* publish.c: building, signing, storing and sending events */
int		 publish_feedback(struct jobd *, const struct job *, const char *status,
		    const char *msg, int with_amount, const char *content);
int		 publish_result_build(struct jobd *, const struct job *, char id[65],
		    char **json, char **relays_json);
void		 publish_send_stored(struct jobd *, const char *json, const char *relays_json);
int		 publish_announce(struct jobd *);
int		 publish_auth(struct jobd *, const char *relay, const char *challenge);
int		 publish_signed(struct jobd *, struct event *, int store);
void		 publish_replay(struct jobd *, int64_t older_than_ms);

/* asked.c: the relays jobd named to relayd (NIP-42 AUTH only for those) */
void		 asked_note_msg(struct asked *, const cJSON *msg, uint64_t now);
int		 asked_has(const struct asked *, const struct conf *, const char *relay,
		    uint64_t now);

/* reason.c: the public words for a spoke's error code */
const char	*reason_infer(const char *code);
const char	*reason_wallet(const char *code);
const char	*reason_waiting(void);
const char	*reason_paid_failure(char *buf, size_t len, const struct job *,
		    enum payment_mode, const char *why);
const char	*reason_quote_limit(int mine);

/* quote.c: unpaid pay-first quotes: bounds, life, untrack */
int		 quote_is_open(const struct job *);
const char	*quote_admit(struct jobd *, const struct job *);
int		 quote_invoice_expiry(const struct jobd *);
int		 quote_expired(const struct jobd *, const struct job *, int64_t now, int64_t ms);
void		 quote_untrack(struct jobd *, const struct job *);
int		 quote_paid_late(struct jobd *, const char *id);
const char	*reason_size(const char *code);
const char	*reason_hold(const char *code);

/* spoke.c: the transport (connect, backoff, send, read) */
void		 spoke_init(struct jobd *);
void		 spoke_connect_all(struct jobd *);
void		 spoke_close_all(struct jobd *);
int		 spoke_send(struct jobd *, enum spoke_id, cJSON *msg);

/* ops.c: what each spoke may send us, {op, handler} */
const char	*ops_dispatch(struct jobd *, enum spoke_id, const char *op, const cJSON *msg);

/* subscribe.c: jobd's subscriptions on relayd ("jobs", "cancel") */
void		 subscribe_jobs(struct jobd *);
void		 subscribe_cancel(struct jobd *);

/* health.c: the spokes' last status/health and when to ask again */
void		 health_keep(struct spoke *, const cJSON *msg);
void		 health_inference_ok(const cJSON *health, int *ok, int *model_ok);
void		 health_poll(struct jobd *);
void		 health_start(struct jobd *);
void		 health_stop(struct jobd *);

/* store.c: the served models, their prices, the model a request chose */
void		 store_apply(struct jobd *);
const char	*store_on_catalog(struct jobd *, const cJSON *msg);
void		 store_ask_catalog(struct jobd *);
void		 store_model_price(struct jobd *, const char *model, int64_t *min_sats,
		    double *per1k);
const struct conf *store_price(struct jobd *, const char *model);
long		 store_context_length(struct jobd *, const char *model);
int		 store_max_tokens(struct jobd *, const char *model);
int		 store_serves(struct jobd *, const char *asked);
void		 store_served_words(struct jobd *, char *buf, size_t len, size_t max);
int		 store_choose(struct jobd *, struct job *, char *err, size_t errlen);
void		 store_cap_tokens(struct jobd *, struct job *);
int		 store_available(struct jobd *, const char *model);
int		 store_skip_untargeted(struct jobd *, const struct event *);
cJSON		*store_models_json(struct jobd *, int served_only);
void		 store_free(struct store *);

/* announce.c: NIP-89 announcement, kind-11998 heartbeat, kind-7007 ping */
char		*announce_content(struct jobd *);
void		 announce_now(struct jobd *);
void		 announce_changed(struct jobd *);
void		 announce_start(struct jobd *);
void		 announce_stop(struct jobd *);
void		 announce_online(struct jobd *);
void		 announce_on_ping(struct jobd *, const struct event *, const char *relay);

/* control.c */
int		 control_open(struct jobd *);
void		 control_close(struct jobd *);
/* Shared with pane.c, whose socket serves a subset of the same ops. */
cJSON		*ctl_status(struct jobd *);
cJSON		*ctl_stats(struct jobd *);
void		 control_set_online(struct jobd *, int online);
void		 ctl_error(struct srv_client *, const char *why);
void		 ctl_reply(struct srv_client *, cJSON *);

/* pane.c: run/pane/pane.sock, only the ops the pane needs (docs/SECURITY.md) */
int		 pane_open(struct jobd *);
void		 pane_close(struct jobd *);
void		 pane_op_stats_daily(struct srv_client *, const cJSON *, void *jd);

/* prices.c: prices_get / prices_set, persisted in state_dir/overrides.conf */
void		 prices_op_get(struct srv_client *, const cJSON *, void *jd);
void		 prices_op_set(struct srv_client *, const cJSON *, void *jd);

#endif

/*
 * invoiced.h: the Lightning invoice daemon's private interfaces.
 *
 * invoiced is the only process that holds wallet credentials. It creates
 * invoices through one backend (LNbits, NWC, a Spark bridge), verifies every
 * BOLT11 string it is given before passing it on, keeps one invoice per job
 * in invoices.db and tracks each until the backend says paid or it expires.
 */
#ifndef INVOICED_H
#define INVOICED_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "conf.h"
#include "daemon.h"
#include "loop.h"
#include "ndjson.h"

#define INV_MAX_MEMO		256
#define INV_MAX_EXPIRY		(30 * 86400)
#define INV_MAX_TRACKED		10000	/* pending invoices tracked at once */
#define INV_MAX_CLIENTS		16
#define INV_PAID_RESEND_MS	30000

/* bolt11.c */
#define BOLT11_MAX_LEN		7089	/* the largest QR code; far above real invoices */
#define BOLT11_MAX_DESC		639

struct bolt11 {
	char	 currency[8];		/* "bc", "tb", "tbs", "bcrt" */
	int	 has_amount;
	uint64_t amount_msat;
	int64_t	 timestamp;
	uint64_t expiry;		/* seconds; 3600 when absent */
	uint32_t min_final_cltv;	/* 18 when absent */
	int	 has_payment_hash, has_payment_secret, has_description;
	int	 has_description_hash, has_payee;
	uint8_t	 payment_hash[32];
	uint8_t	 payment_secret[32];
	uint8_t	 description_hash[32];
	char	 description[BOLT11_MAX_DESC + 1];
	uint8_t	 payee[33];		/* the n field, if present */
	uint8_t	 node_id[33];		/* n, or the key recovered from the signature */
	uint8_t	 sighash[32];
};

/*
 * Decode and check one invoice: bech32 checksum, hrp (prefix, amount with
 * multiplier, no sub-msat p amounts), tagged fields (wrong fixed lengths
 * skipped, unknown even feature bits rejected), and the signature (against
 * n with low S required, or by recovery). Returns 0, or -1 with the reason
 * in err.
 */
int	bolt11_decode(const char *str, struct bolt11 *, char *err, size_t errlen);
/* "bitcoin" -> "bc" ... ; NULL if the network name is unknown. */
const char *bolt11_currency_for(const char *network);
/*
 * What invoiced demands of a backend's invoice: the configured currency,
 * exactly amount_msat, the backend's payment hash (hex), a timestamp near
 * now and an expiry still ahead. 0 or -1 with the reason in err.
 */
int	bolt11_check(const struct bolt11 *, const char *currency, uint64_t amount_msat,
	    const char *payment_hash_hex, int64_t now, char *err, size_t errlen);

/* ws.c: a WebSocket client connection in the loop (reconnects by itself) */
struct ws;
typedef void (*ws_msg_cb)(const char *text, size_t len, void *arg);
typedef void (*ws_state_cb)(int up, void *arg);
struct ws *ws_new(struct loop *, const char *url, ws_msg_cb, ws_state_cb, void *arg,
	    char *err, size_t errlen);
/* Queue one text message; -1 when not connected or the queue is full. */
int	ws_send(struct ws *, const char *text, size_t len);
int	ws_is_up(const struct ws *);
void	ws_free(struct ws *);

/* backends: one interface, four implementations */
/*
 * LK_HELD: a hold invoice whose payment is locked in but not settled (LND
 * ACCEPTED, NWC "accepted"); the money moves only on hold_settle. For a
 * hold invoice LK_PAID means settled and LK_FAILED cancelled.
 */
enum lookup_state { LK_PENDING, LK_PAID, LK_FAILED, LK_EXPIRED, LK_UNKNOWN, LK_HELD };

struct create_result {
	int	 ok;
	int	 retryable;	/* when !ok: wallet_down (1) or wallet_error (0) */
	char	 error[256];
	char	 bolt11[BOLT11_MAX_LEN + 1];
	char	 payment_hash[65];
	char	 ref[128];	/* backend's id for lookups (Spark request id) */
};
struct lookup_result {
	int	 ok;		/* the lookup itself worked */
	enum lookup_state state;
	uint64_t received_msat;
	int64_t	 settled_at;
	uint32_t htlc_expiry_height;	/* LK_HELD: lowest HTLC expiry block; 0 unknown */
	/*
	 * LK_HELD, LND: the block at which that HTLC arrived. An invoice
	 * macaroon may not ask getinfo for the height, so expiry - accept is
	 * what the hold had left then (LND cancels 18 blocks before expiry).
	 */
	uint32_t htlc_accept_height;
	int64_t	 htlc_accept_time;	/* LK_HELD, LND: when that HTLC arrived; 0 unknown */
	char	 error[256];
};
struct balance_result {
	int	 ok;
	int	 has_balance;
	uint64_t balance_msat;
	char	 error[256];
};
typedef void (*create_cb)(const struct create_result *, void *arg);
typedef void (*lookup_cb)(const struct lookup_result *, void *arg);
typedef void (*balance_cb)(const struct balance_result *, void *arg);
typedef void (*paid_push_cb)(const char *payment_hash, uint64_t received_msat,
	    int64_t settled_at, void *arg);
/* hold_settle and hold_cancel: ok, or why not (retryable: ask again later). */
struct hold_result {
	int	 ok;
	int	 retryable;
	char	 error[256];
};
typedef void (*hold_cb)(const struct hold_result *, void *arg);

struct backend {
	const char *name;
	/*
	 * amount_msat, memo, expiry. On 0 the callback runs exactly once,
	 * later (never from inside the call); on -1 it never runs.
	 */
	int	(*create)(struct backend *, uint64_t amount_msat, const char *memo,
		    int expiry, create_cb, void *arg);
	int	(*lookup)(struct backend *, const char *payment_hash, const char *ref,
		    lookup_cb, void *arg);
	int	(*balance)(struct backend *, balance_cb, void *arg);
	void	(*free)(struct backend *);
	/*
	 * Hold invoices (escrow). hold_capable: 1 yes; 0 no, why in why; -1 not
	 * known yet (NWC before the wallet's info event). The other three are
	 * NULL unless the backend can ever do it. hold_create makes an invoice
	 * on our payment hash (the preimage never leaves invoiced: see hold.c);
	 * its create_result.payment_hash is that hash in hex. lookup reports
	 * LK_HELD. Callbacks follow create's rule: on 0 exactly once, later.
	 */
	int	(*hold_capable)(struct backend *, char *why, size_t whylen);
	int	(*hold_create)(struct backend *, uint64_t amount_msat, const char *memo,
		    int expiry, const uint8_t hash[32], create_cb, void *arg);
	int	(*hold_settle)(struct backend *, const uint8_t preimage[32], hold_cb, void *arg);
	int	(*hold_cancel)(struct backend *, const char *payment_hash, hold_cb, void *arg);
	/*
	 * Backends with notifications (NWC: payment_received,
	 * hold_invoice_accepted) call this as a fast path: something happened
	 * to this hash, look it up now. The lookup decides, never the push.
	 */
	paid_push_cb	 on_paid;
	void		*on_paid_arg;
	void		*priv;
};

/*
 * rest.c: the part of a JSON-over-HTTP wallet backend (LNbits, the Spark
 * bridge, LND) that is the same for each: requests, answers, verdicts.
 */
#define REST_URL_MAX	(CONF_MAX_STR + 64)
struct curlm;
/*
 * What one such API is: its requests and how to read its answers. The
 * parsers return 0, or -1 for a malformed answer.
 */
struct rest_kind {
	const char	*name;		/* the backend's name: "lnbits" */
	const char	*who;		/* the prefix of every error: "lnbits" */
	const char	*err_field;	/* the string member its error bodies carry */
	/* create: POST path, body, expecting 201 or 200 */
	const char	*create_path;
	cJSON		*(*create_body)(uint64_t amount_msat, const char *memo, int expiry);
	int		(*created)(const cJSON *, const char **payment_hash, const char **bolt11,
			    const char **ref);	/* rest.c checks their lengths */
	long		 create_timeout_ms;
	/* lookup: GET the path this writes (-1: not a valid id), 404 meaning unknown */
	int		(*lookup_path)(const char *payment_hash, const char *ref, char *path,
			    size_t len);
	int		(*looked_up)(const cJSON *, struct lookup_result *);	/* state, received_msat */
	long		 lookup_timeout_ms;
	/* balance: GET, or POST of {} */
	const char	*balance_method;
	const char	*balance_path;
	int		(*balanced)(const cJSON *, uint64_t *balance_msat);
	long		 balance_timeout_ms;
	const char	*key_header;	/* the header the key travels in; NULL: X-Api-Key */
	int		 hash_base64;	/* created's payment hash is base64 bytes (LND), not hex */
	/* Optional: 1 if this failed answer is a refusal that retrying cannot fix. */
	int		(*refused)(long status, const cJSON *);
	/* Why this API cannot escrow (hold_capable says it), or NULL. */
	const char	*no_hold;
};
struct rest {
	struct curlm	*cm;
	const struct rest_kind *kind;
	char		*base;		/* http(s)://host[:port][/prefix] (< REST_URL_MAX) */
	char		*unix_path;	/* HTTP over this Unix socket, or NULL */
	char		*key;		/* sent as X-Api-Key, or NULL; never logged */
	char		*ca_pem;	/* the only CA trusted for base, or NULL: the system's */
	size_t		 ca_len;
};
/* One answer, for the calls a backend makes beyond create, lookup and balance. */
struct rest_answer {
	int		 ok;		/* the transfer completed (any HTTP status) */
	long		 status;
	const cJSON	*json;		/* the body parsed, NULL if not JSON */
	int		 retryable;	/* as a failure: worth asking again */
	char		 error[256];	/* as a failure, one line: "WHO: HTTP 500: message" */
};
typedef void (*rest_cb)(void *arg, const struct rest_answer *);
/* One request with the key (and CA); 0 and cb runs once, later; -1 and it never runs. */
int	rest_call(const struct rest *, const char *method, const char *path, const char *body,
	    long timeout_ms, rest_cb, void *arg);
/*
 * The backend api->kind describes, owning api (NULL: api is freed). Its
 * create, lookup and balance each make one request: 0 and the callback
 * runs once, later (also at shutdown, as a failure); -1 and it never runs.
 */
struct backend *rest_backend_new(struct rest *api, char *err, size_t errlen);
void	rest_free(struct rest *);

/* lnbits.c */
struct backend *lnbits_new(const struct conf *, struct curlm *, char *err, size_t errlen);
/* spark.c */
struct backend *spark_new(const struct conf *, struct curlm *, char *err, size_t errlen);
/* nwc.c */
struct backend *nwc_new(const struct conf *, struct loop *, char *err, size_t errlen);
/*
 * 1 if an NWC info event's methods (its content) and notifications tag offer
 * hold invoices (all three methods and hold_invoice_accepted); else 0 and
 * what is missing in why.
 */
int	nwc_hold_support(const char *methods, const char *notifications, char *why, size_t whylen);
/* lnd.c */
struct backend *lnd_new(const struct conf *, struct curlm *, char *err, size_t errlen);

/*
 * hold.c: the preimages of hold invoices. hold_preimage_new draws 32 bytes
 * from the OS CSPRNG and stores them for the job in invoices.db (committed,
 * fsynced) before it returns the SHA-256 the backend is to use; only
 * hold_preimage_get reads one back, for the settle. Neither logs it.
 */
struct store;
int	hold_preimage_new(struct store *, const char *job, uint8_t hash[32], char hash_hex[65]);
int	hold_preimage_get(struct store *, const char *payment_hash, uint8_t preimage[32]);
/* be->hold_capable, or 0 with a reason for a backend without it. */
int	hold_capable(struct backend *, char *why, size_t whylen);

/* store.c: invoices.db */
enum inv_status { INV_PENDING, INV_PAID, INV_EXPIRED };
/* A hold invoice's payment (escrow.c); stored by name. */
enum inv_escrow { ESC_NONE, ESC_HELD, ESC_SETTLE, ESC_SETTLED, ESC_CANCEL, ESC_CANCELLED };

struct inv_row {
	char	 job[65];
	uint64_t amount_msat;
	char	 bolt11[BOLT11_MAX_LEN + 1];
	char	 payment_hash[65];
	char	 ref[128];
	int64_t	 expires_at;
	enum inv_status status;
	uint64_t received_msat;
	int64_t	 settled_at;
	int	 acked;
	int	 fast;
	int	 hold;			/* a hold invoice (payment_mode = hold) */
	enum inv_escrow escrow;
	int64_t	 held_at;		/* first seen held */
	int64_t	 hold_deadline;		/* jobd is to settle or cancel by then */
	int64_t	 hold_hard;		/* invoiced cancels by then, asked or not */
};
struct store;
struct store *store_open(const char *path, char *err, size_t errlen);
void	store_close(struct store *);
/* 1 found, 0 not found, -1 error. */
int	store_get(struct store *, const char *job, struct inv_row *);
/* 0, -1 on error, -2 if another job's invoice has the same payment hash. */
int	store_insert(struct store *, const struct inv_row *);
/*
 * Pin the wallet's node id on the first invoice: 0 if node is the pinned
 * one, 1 if another is (its hex in pinned), -1 on error.
 */
int	store_pin_payee(struct store *, const uint8_t node[33], char *pinned, size_t pinlen);
int	store_set_paid(struct store *, const char *job, uint64_t received_msat, int64_t settled_at);
int	store_set_expired(struct store *, const char *job);
int	store_set_acked(struct store *, const char *job);
int	store_set_fast(struct store *, const char *job, int fast);
int	store_prune(struct store *, int64_t before, int limit);
/* Hold-invoice preimages, by payment hash (hex). 1 found, 0 not, -1 error. */
int	store_put_preimage(struct store *, const char *job, const char *payment_hash,
	    const uint8_t preimage[32]);
int	store_get_preimage(struct store *, const char *payment_hash, uint8_t preimage[32]);
typedef void (*store_row_cb)(const struct inv_row *, void *arg);
/* Every pending invoice; every paid one not yet acked. */
int	store_each_pending(struct store *, store_row_cb, void *arg);
int	store_each_unacked(struct store *, store_row_cb, void *arg);
/* Hold invoices whose payment is held, being settled or being cancelled. */
int	store_each_escrow(struct store *, store_row_cb, void *arg);
/* Write r's escrow, held_at, deadlines, status, received_msat, settled_at. */
int	store_set_escrow(struct store *, const struct inv_row *);

/* track.c: the polling schedule */
struct tracker;
typedef void (*track_event_cb)(const struct inv_row *, void *arg);	/* paid or expired */
struct tracker *track_new(struct loop *, struct backend *, struct store *,
	    int fast_ms, int slow_ms, track_event_cb, void *arg);
void	track_free(struct tracker *);
int	track_add(struct tracker *, const struct inv_row *);
void	track_set_fast(struct tracker *, const char *job);
void	track_set_intervals(struct tracker *, int fast_ms, int slow_ms);
size_t	track_count(const struct tracker *);
/* At most max invoices (INV_MAX_TRACKED); track_full: extra more would not fit. */
void	track_set_max(struct tracker *, size_t max);
int	track_full(const struct tracker *, size_t extra);
/* The job ended unpaid: one last lookup, then forgotten unless paid. -1 if untracked. */
int	track_untrack(struct tracker *, const char *job);
/* The wait between lookups of an invoice tracked for age_ms. */
uint64_t track_interval_ms(uint64_t base, uint64_t age_ms);
/* The backend pushed "paid" for this hash: look it up now. */
void	track_poke(struct tracker *, const char *payment_hash);
/* Hold invoices seen held leave the tracker through this callback. */
typedef void (*track_held_cb)(const struct inv_row *, const struct lookup_result *, void *arg);
void	track_set_held(struct tracker *, track_held_cb);
/* Stop tracking a job's invoice (its escrow is cancelling it). */
void	track_drop(struct tracker *, const char *job);

/* escrow.c: held payments, settled or cancelled until the wallet confirms */
struct escrow;
typedef void (*escrow_msg_cb)(const struct inv_row *, void *arg);	/* held, settled, cancelled */
struct escrow *escrow_new(struct loop *, const struct conf *, struct store *, struct backend *,
	    escrow_msg_cb, void *arg);
void	escrow_free(struct escrow *);
int	escrow_resume(struct escrow *);
void	escrow_held(struct escrow *, const struct inv_row *, const struct lookup_result *);
void	escrow_expired(struct escrow *, const struct inv_row *);
int	escrow_ask(struct escrow *, struct inv_row *, int cancel, const char **why);
void	escrow_poke(struct escrow *, const char *payment_hash);

/* ipc.c: the NDJSON side */
struct ipc;
struct ipc *ipc_new(struct loop *, const struct conf *, struct store *, struct backend *,
	    int wallet_kind);
void	ipc_free(struct ipc *);
int	ipc_listen(struct ipc *, const char *path);
int	ipc_stdio(struct ipc *);
/* Pending invoices from the store into the tracker (restart). */
int	ipc_resume(struct ipc *);
/* SIGHUP: new poll intervals. */
void	ipc_set_intervals(struct ipc *, int fast_ms, int slow_ms);

/* main.c: the daemon's state, built in main and passed down. */
struct invoiced {
	struct daemon_args args;
	int		 opt_wallet;	/* --wallet, or -1 */
	struct conf	 conf;
	struct loop	*loop;
	struct curlm	*curlm;
	struct backend	*be;		/* NULL for wallet = none */
	struct store	*store;
	struct ipc	*ipc;
	char		 sock[1200], db[1200];
};

#endif

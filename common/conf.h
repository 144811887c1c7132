/*
 * conf.h: the one config file every stage reads (dvm.conf).
 *
 *   key = value        # comment
 *   relays = wss://a wss://b      (lists are space-separated)
 *
 * Every key can be overridden by the environment variable DVM_<KEY> in
 * upper case (DVM_MODEL=llama3.1). An unknown key or a bad value is an error
 * naming the file, the line and the key; daemons exit EXIT_PERM on it.
 * Each key, its type, default and meaning is in dvm.conf.example; the table
 * in conf.c is the single source of truth for names and defaults.
 */
#ifndef CONF_H
#define CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_MAX_LIST	64	/* entries in any list key */
#define CONF_MAX_STR	1024	/* bytes in any string value */
#define CONF_MAX_LINE	4096	/* bytes in one line of the file */

enum infer_backend { BACKEND_OLLAMA, BACKEND_OPENAI };
enum payment_mode { PAY_AFTER, PAY_BEFORE, PAY_FREE, PAY_HOLD };
enum wallet_kind { WALLET_NONE, WALLET_LNBITS, WALLET_NWC, WALLET_SPARK, WALLET_LND };

struct conf_list {
	size_t	 n;
	char	*v[CONF_MAX_LIST];
};

struct conf {
	/* where things live */
	char	*state_dir;		/* ./var */
	char	*secret_key_file;	/* state_dir/key */
	char	*log_level;		/* info */

	/* relays (relayd, and jobd for relay hints) */
	struct conf_list relays;	/* a default public list */
	int	 relay_idle_timeout;	/* s without a frame before reconnect: 90 */
	int	 relay_ping_interval;	/* s between pings: 30 */
	int	 relay_backoff_max;	/* s, reconnect backoff cap: 60 */
	int	 relay_since_slack;	/* s subtracted from since on re-REQ: 60 */
	int	 relay_max_frame;	/* bytes: 262144 */
	int	 dedupe_size;		/* ids remembered: 100000 */
	int	 publish_queue_max;	/* events queued per down relay: 256 */
	int	 publish_retries;	/* 3 */
	int	 relay_allow_private;	/* no: hints may not reach private addresses */

	/* requests (jobd) */
	int	 job_kinds[CONF_MAX_LIST];	/* 5050 */
	size_t	 njob_kinds;
	int	 require_p_tag;		/* no */
	int	 max_request_age;	/* s: 120 */
	int	 max_future_skew;	/* s a request may be ahead of our clock: 60 */
	int	 max_prompt_bytes;	/* 16384 */
	int	 max_request_bytes;	/* a request event, serialized: 49152 */
	int	 max_event_bytes;	/* any event we publish, serialized: 65536 */
	int	 max_tags;		/* tags in a request: 64 */
	int	 rate_limit_per_min;	/* per pubkey: 10 */
	int	 max_concurrent_jobs;	/* 4 */
	int	 max_queue;		/* 64 */
	int	 partial_results;	/* no */
	int	 partial_interval_ms;	/* 1000 */
	int	 partial_max_percent;	/* pay-after: share of the streamed text partials carry: 50 */
	int	 inference_deadline;	/* s from first queued that a started job waits for inference: 300 */
	int	 start_online;		/* yes */
	int	 retain_days;		/* finished jobs and settled invoices kept: 30 */
	int	 retain_rejected_hours;	/* rejected requests kept: 24 */
	char	*name;			/* "sellcompute" */
	char	*about;			/* a sentence */
	char	*picture;		/* "": none; announcement picture URL */
	char	*lud16;			/* "": none; announcement lightning address */
	int	 heartbeat_interval;	/* s between kind-11998 beats while online: 300 */

	/* inference (inferd; jobd for defaults and clamps) */
	enum infer_backend infer_backend;	/* ollama */
	struct conf_list infer_urls;	/* http://127.0.0.1:11434 */
	char	*model;			/* llama3.2: the default model */
	char	*models;		/* "": just model; "*": all completion models; else names */
	char	*models_exclude;	/* "": none; shell globs taken out of models */
	char	*model_prices;		/* "": none; NAME=MIN/PER1K ... */
	int	 max_tokens;		/* 512: default and maximum */
	double	 temperature;		/* 0.7 */
	int	 top_k;			/* 40 */
	double	 top_p;			/* 0.9 */
	double	 frequency_penalty;	/* 0.5 */
	char	*keep_alive;		/* "5m" */
	char	*openai_api_key_file;	/* "" : bearer token for OpenAI-compatible servers */
	int	 infer_max_inflight;	/* per backend: 4 */
	int	 infer_connect_timeout;	/* s: 10 */
	int	 infer_first_byte_timeout; /* s: 300 (cold model load) */
	int	 infer_idle_timeout;	/* s between chunks: 60 */
	int	 infer_total_timeout;	/* s per job: 900 */
	int	 infer_max_output;	/* bytes of text per job: 262144 */
	int	 infer_health_interval;	/* s: 30 */
	int	 chunk_interval_ms;	/* coalescing of chunk messages: 100 */

	/* payment (jobd prices; invoiced talks to the wallet) */
	enum payment_mode payment_mode;	/* after; free when wallet = none */
	int	 min_price_sats;	/* 3 */
	double	 price_per_1k_tokens;	/* sats: 2 */
	int	 invoice_expiry;	/* s: 3600 */
	int	 quote_ttl;		/* s: 600, an unpaid pay-first quote's life */
	int	 max_unpaid_quotes;	/* 200 open unpaid quotes in all */
	int	 max_unpaid_per_requester;	/* 3 per pubkey */
	int	 hold_max_seconds;	/* s a payment may be held (payment_mode = hold): 600 */
	int	 refuse_unpaid_after;	/* 0 = never */
	enum wallet_kind wallet;	/* none */
	char	*lightning_network;	/* bitcoin | testnet | signet | regtest */
	char	*lnbits_url;
	char	*lnbits_api_key_file;
	char	*nwc_uri_file;
	char	*spark_url;		/* "" = unix:STATE_DIR/run/spark-bridge.sock */
	char	*spark_api_key_file;
	char	*spark_mnemonic_file;	/* set: scripts/dvm runs the bridge */
	char	*lnd_url;		/* https://127.0.0.1:8080 (LND REST) */
	char	*lnd_macaroon_file;	/* an invoice macaroon, binary or hex */
	char	*lnd_tls_cert_file;	/* LND's tls.cert: the only CA for lnd_url */
	int	 invoice_poll_fast_ms;	/* 1500: someone is waiting to pay */
	int	 invoice_poll_slow_ms;	/* 15000 */

	/* launcher */
	char	*privsep;		/* auto | yes | no: separate users when root */
	/* the user jobd expects behind each spoke's socket; "": its own or root */
	char	*relayd_user;
	char	*inferd_user;
	char	*invoiced_user;
	char	*paned_user;		/* the user jobd lets on run/pane/pane.sock */

	/* the operator's pane (paned) */
	int	 pane;			/* yes: the launcher runs paned */
	int	 pane_port;		/* 127.0.0.1:8090 */
};

/*
 * Load defaults, then path (NULL: defaults only; a missing file named
 * explicitly is an error), then DVM_* environment overrides; derived
 * defaults last (secret_key_file under state_dir; payment_mode free when
 * wallet = none). On error returns -1 with a message "file:line: key: why"
 * in err. conf_free releases strings and lists.
 *
 * The struct is overwritten, not freed first: load into a fresh one (on
 * SIGHUP, load a second and swap on success). On error nothing needs
 * freeing. After a successful load every string is non-NULL ("" if unset).
 *
 * Value syntax: a '#' starts a comment only at the start of a line or after
 * a blank, so URL fragments survive; a value may be "double-quoted" (with
 * \" and \\ escapes) to hold '#' or leading/trailing blanks. Lists must
 * not be empty. Environment values are taken literally (no quotes, no
 * comments).
 *
 * payment_mode = after or before with wallet = none is not an error: it
 * becomes free, so a first start with no wallet still serves; the daemons
 * warn that nothing is earned.
 */
int	conf_load(struct conf *, const char *path, char *err, size_t errlen);
/* The same with the file's text in buf (len bytes) named name in errors. */
int	conf_load_buffer(struct conf *, const char *name, const char *buf,
	    size_t len, char *err, size_t errlen);
void	conf_free(struct conf *);

/*
 * state_dir/overrides.conf: values changed at run time (prices, through
 * jobd's prices_set), which conf_load reads after the file and the
 * environment; only the keys conf_override_keys() names may be in it.
 * conf_override_set sets one of them from text with the same parsing and
 * range checks as the file; -1 with "key: why" in err.
 */
int	conf_overrides_path(const struct conf *, char *buf, size_t len);
const char *const *conf_override_keys(void);
int	conf_override_set(struct conf *, const char *key, const char *value,
	    char *err, size_t errlen);

/*
 * Print one key's resolved value and a newline (lists space-separated,
 * booleans yes/no, enums by name): `dvmctl conf KEY` for the shell
 * launcher, so shell and C read the config the same way. -1: unknown key.
 */
int	conf_print(const struct conf *, const char *key, FILE *out);
/* Every key name, NULL-terminated, in the table's order. */
const char *const *conf_keys(void);

/* state_dir/run/<name>: the path of a socket in run/ ("control.sock"...). */
int	conf_sock_path(const struct conf *, const char *name, char *buf, size_t len);
/*
 * state_dir/run/<stage>/<stage>.sock: a spoke's socket ("relayd", "inferd",
 * "invoiced"), in a directory of its own so that only that stage's user can
 * create it (docs/SECURITY.md).
 */
int	conf_stage_sock_path(const struct conf *, const char *stage, char *buf, size_t len);

const char *conf_payment_mode_name(enum payment_mode);
const char *conf_wallet_name(enum wallet_kind);
const char *conf_backend_name(enum infer_backend);

#endif

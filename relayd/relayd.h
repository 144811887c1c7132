/*
 * relayd.h: private interface of relayd, the relay I/O daemon.
 *
 * One libwebsockets context runs the only loop: relay websockets are lws
 * clients; the Unix socket, its clients, stdin/stdout and the signalfd are
 * adopted into it as raw file descriptors. Timers are lws "sul" entries.
 */
#ifndef RELAYD_H
#define RELAYD_H

#include <netdb.h>
#include <stddef.h>
#include <stdint.h>
#include <libwebsockets.h>
#include <cjson/cJSON.h>

#include "conf.h"
#include "event.h"
#include "log.h"
#include "ndjson.h"
#include "netaddr.h"
#include "sock.h"

#define RELAY_URL_MAX	NETADDR_URL_MAX	/* bytes of a relay URL */
#define MAX_RELAYS	CONF_MAX_LIST
#define MAX_SUBS	64	/* subscriptions and fetches at once */
#define SUB_ID_MAX	64	/* bytes of a subscription id (NIP-01 relays cap it) */
#define MAX_FILTERS	8
#define MAX_FILTER_JSON	(64 * 1024)	/* bytes of one subscribe's filters */
#define MAX_TRANSIENT	8	/* relays connected only for a publish/fetch */
#define MAX_PUBS	4096	/* events being published at once */
#define MAX_CLIENTS	16
#define FETCH_MAX_EVENTS 2000	/* distinct events one fetch forwards */
#define RELAY_OUTQ_MAX	(8 * 1024 * 1024)	/* bytes queued to one relay */
#define NOTICE_MAX	512
#define OK_TIMEOUT_MS	10000	/* publish: no OK this long -> retry */
#define TRANSIENT_MAX_MS 30000	/* a transient relay lives at most this */
#define TICK_MS		250
#define RESOLVE_TIMEOUT_MS 10000

enum relay_state { RS_CONNECTING, RS_CONNECTED, RS_BACKOFF, RS_CLOSED };

enum drop_reason {
	DROP_OVERSIZE,		/* message longer than relay_max_frame */
	DROP_MALFORMED,		/* not JSON */
	DROP_NOT_ARRAY,		/* JSON, but not an array */
	DROP_BAD_TYPE,		/* known message with wrong field types/count */
	DROP_UNKNOWN_TYPE,	/* ["FOO", ...] */
	DROP_BAD_EVENT,		/* event failed the shape checks */
	DROP_UNKNOWN_SUB,	/* EVENT/EOSE for a subscription we did not ask */
	DROP_BINARY,		/* binary websocket message */
	DROP_NO_MATCH,		/* event outside the subscription's filters */
	DROP_NREASONS
};

struct counters {
	unsigned long	frames_in, events, duplicates, published, accepted, refused;
	unsigned long	dropped[DROP_NREASONS];
};

/* One queued websocket message to a relay; LWS_PRE bytes of headroom. */
struct outmsg {
	struct outmsg	*next;
	size_t		 len;
	unsigned char	 buf[];
};

/* What one relay knows of one subscription slot. */
struct relay_sub {
	int		 sent;		/* REQ sent on this connection */
	int		 eose;		/* EOSE (or CLOSED) received */
	int		 auth_wait;	/* CLOSED auth-required: wait for AUTH */
	unsigned	 closed_n;	/* CLOSED answers in a row (retry backoff) */
	uint64_t	 retry_at;	/* ms: re-send REQ after a CLOSED */
	int64_t		 mark;		/* unix s: caught up to here on this relay */
};

/* A host name lookup in progress (resolve.c). */
struct resolve {
	struct gaicb	 cb;
	struct addrinfo	 hints;
	struct gaicb	*list[1];
	uint64_t	 started;
	int		 busy;
};

struct relayd;

struct relay {
	struct relayd	*rd;
	struct relay	*next;
	char		 url[RELAY_URL_MAX];
	char		 host[RELAY_URL_MAX], path[RELAY_URL_MAX], hosthdr[RELAY_URL_MAX];
	int		 port, tls;
	int		 configured;	/* in the relays list (else transient) */
	int		 uses;		/* transient: publishes/fetches holding it */
	uint64_t	 born;		/* ms */
	int		 removing;	/* free once the connection is gone */
	enum relay_state state;
	struct lws	*wsi;
	struct resolve	 res;		/* busy while the host name resolves */
	char		 ip[64];	/* its address, handed to lws */
	struct backoff	 bo;
	uint64_t	 retry_at, last_rx, last_ping, up_ms;
	int64_t		 connected_since;
	int		 want_ping, want_close;
	struct outmsg	*qhead, *qtail;
	size_t		 qbytes;
	char		*rx;		/* message being reassembled */
	size_t		 rxlen, rxcap;
	int		 rx_skip;	/* dropping the rest of an oversize message */
	struct relay_sub subs[MAX_SUBS];
	char		 auth_id[65];	/* id of the AUTH event we sent */
	char		 challenge[NOTICE_MAX + 1];	/* unanswered NIP-42 challenge */
	char		*url_json;	/* url as a JSON string, for event lines */
	struct counters	 c;
	struct log_limit ll;
	struct log_limit ll_auth;	/* challenges passed on to jobd */
};

enum sub_kind { SUB_NONE, SUB_LIVE, SUB_FETCH };

struct client;
struct dedupe;
struct pub;

struct sub {
	struct relayd	*rd;
	enum sub_kind	 kind;
	char		 id[SUB_ID_MAX + 1];
	struct client	*owner;
	cJSON		*filters;	/* array of filter objects; owned */
	/* fetch only */
	uint64_t	 deadline;
	struct dedupe	*seen;
	unsigned	 forwarded;
	struct relay	*extra[MAX_TRANSIENT];	/* transient relays held */
	size_t		 nextra;
};

struct client {
	struct relayd	*rd;
	struct client	*next;
	struct ndjson	 nj;
	struct lws	*rwsi, *wwsi;	/* same wsi for a socket; 0/1 for stdio */
	int		 stdio;
	int		 dead;
	lws_sorted_usec_list_t rearm;	/* ask for POLLOUT again, outside lws */
};

struct relayd {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	struct conf	 conf;
	const char	*conf_path;
	const char	*cli_relays[MAX_RELAYS];
	size_t		 ncli_relays;
	struct relay	*relays;
	struct sub	 subs[MAX_SUBS];
	struct pub	*pubs;
	size_t		 npubs;
	struct client	*clients;
	size_t		 nclients;
	struct dedupe	*seen;
	struct counters	 c;
	unsigned long	 forwarded, bad_lines;
	int64_t		 started;
	int		 stdio;
	int		 sigfd, lfd;
	char		 sock_path[512];	/* unlinked at a clean exit */
	int		 draining;	/* stdin EOF: finish publishes, then stop */
	int		 stopping;	/* closing relays */
	int		 done;		/* leave the loop */
	uint64_t	 deadline;	/* ms: for draining / stopping */
	int		 paused;	/* relay reads paused: a client is slow */
	lws_sorted_usec_list_t tick;
	uint64_t	 stats_next;	/* when the next stats line may go out */
	unsigned long	 stats_frames;	/* frames_in at the last one */
	struct log_limit ll_ipc, ll_relay;
};


/* main.c */
void	 relayd_stop(struct relayd *rd);
void	 relayd_reload(struct relayd *rd);

/* conn.c */
extern const struct lws_protocols conn_protocol;
struct relay *conn_find(struct relayd *rd, const char *url);
struct relay *conn_add(struct relayd *rd, const char *url, int configured);
void	 conn_remove(struct relay *);
void	 conn_connect(struct relay *);
void	 conn_close(struct relay *);
int	 conn_busy(const struct relay *);
int	 conn_send(struct relay *, const char *text, size_t len);
int	 conn_send_json(struct relay *, const cJSON *);
void	 conn_tick(struct relayd *rd, uint64_t now);
void	 conn_pause_all(struct relayd *rd, int pause);
const char *conn_state_name(enum relay_state);
void	 conn_set_relays(struct relayd *rd, const char *const *urls, size_t n);
size_t	 conn_count_transient(struct relayd *rd);
void	 conn_release(struct relay *);
void	 conn_drop(struct relay *, enum drop_reason, const char *detail);
void	 conn_free_all(struct relayd *rd);

/* filter.c */
int	 filter_match(const cJSON *filter, const struct event *);
int	 filter_match_any(const cJSON *filters, const struct event *);

/* url.c */
int	 url_parse(const char *url, struct relay *r);

/* resolve.c */
int	 resolve_is_literal(const char *host);
int	 resolve_start(struct resolve *, const char *host);
int	 resolve_poll(struct resolve *, int public_only, char *ip, size_t iplen,
	    const char **why);
int	 resolve_cancel(struct resolve *);
int	 resolve_wait(struct resolve *, int ms);

/* frame.c */
enum frame_type { FR_EVENT, FR_EOSE, FR_OK, FR_NOTICE, FR_CLOSED, FR_AUTH };
struct frame {
	enum frame_type	 type;
	cJSON		*root;		/* the whole message; owned */
	const char	*sub;		/* EVENT, EOSE, CLOSED */
	cJSON		*event;		/* EVENT: the object inside root */
	struct event	 ev;		/* EVENT: parsed */
	const char	*raw;		/* EVENT: the object's text, if plain */
	size_t		 rawlen;
	const char	*id;		/* OK */
	int		 accepted;	/* OK */
	const char	*message;	/* OK, NOTICE, CLOSED ("" if absent) */
	const char	*challenge;	/* AUTH */
	char		 err[64];	/* why an event was refused */
};
/* -1 and *f filled (free with frame_free), or the drop reason. */
int	 frame_parse(struct frame *f, const char *buf, size_t len);
void	 frame_free(struct frame *f);
const char *frame_drop_name(enum drop_reason);

/* dedupe.c */
struct dedupe *dedupe_new(size_t cap);
void	 dedupe_free(struct dedupe *);
int	 dedupe_has(const struct dedupe *, const uint8_t id[32]);
void	 dedupe_add(struct dedupe *, const uint8_t id[32]);
size_t	 dedupe_count(const struct dedupe *);

/* sub.c */
struct sub *sub_find(struct relayd *rd, const char *id);
int	 sub_subscribe(struct client *, const char *id, const cJSON *filters);
void	 sub_unsubscribe(struct client *, const char *id);
int	 sub_fetch(struct client *, const char *id, const cJSON *filters,
	     const cJSON *relays, int timeout_ms);
void	 sub_on_connect(struct relay *);
void	 sub_on_down(struct relay *);
void	 sub_on_event(struct relay *, struct frame *);
void	 sub_on_eose(struct relay *, const char *sub);
void	 sub_on_closed(struct relay *, const char *sub, const char *msg);
void	 sub_on_auth(struct relay *);
void	 sub_relay_gone(struct relay *);
void	 sub_client_gone(struct client *);
void	 sub_tick(struct relayd *rd, uint64_t now);
int	 sub_drained(struct relayd *rd);
void	 sub_free_all(struct relayd *rd);

/* publish.c */
int	 pub_publish(struct client *, const cJSON *event, const cJSON *relays,
	     char *err, size_t errlen);
void	 pub_on_connect(struct relay *);
void	 pub_on_down(struct relay *);
int	 pub_on_ok(struct relay *, const char *id, int accepted, const char *msg);
void	 pub_on_auth(struct relay *);
void	 pub_relay_gone(struct relay *);
void	 pub_tick(struct relayd *rd, uint64_t now);
size_t	 pub_queued_for(const struct relay *);
void	 pub_free_all(struct relayd *rd);

/* ipc.c */
extern const struct lws_protocols ipc_protocol;
int	 ipc_listen(struct relayd *rd, const char *path);
int	 ipc_stdio(struct relayd *rd);
int	 ipc_adopt_signalfd(struct relayd *rd, int fd);
void	 ipc_send(struct client *, cJSON *);	/* takes the object */
void	 ipc_broadcast(struct relayd *rd, cJSON *);		/* takes the object */
int	 ipc_send_event(struct client *, const struct relay *, const char *sub,
	     const struct frame *);
size_t	 ipc_max_pending(struct relayd *rd);
int	 ipc_output_pending(struct relayd *rd);
void	 ipc_relay_state(const struct relay *);

/* cmd.c */
void	 cmd_line(struct client *, const char *line, size_t len);
void	 cmd_bad(struct client *, const char *why);

/* status.c */
cJSON	*status_json(struct relayd *rd);

#endif

/*
 * conn.c: one websocket connection per relay. States connecting ->
 * connected -> backoff (exponential, jittered, capped at relay_backoff_max)
 * -> connecting...; a ping every relay_ping_interval; a connection silent
 * (no frame, no pong) for relay_idle_timeout is dropped and redialled.
 * Messages are reassembled up to relay_max_frame; a longer one is skipped to
 * its end and counted, the connection stays. Each relay has its own bounded
 * output queue, so one slow or dead relay never holds up another.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "loop.h"
#include "netaddr.h"
#include "relayd.h"

#define HEALTHY_MS	30000	/* a connection this old resets the backoff */
#define RX_KEEP_CAP	(64 * 1024)	/* larger reassembly buffers are freed */

static const char *state_names[] = {
	[RS_CONNECTING] = "connecting",
	[RS_CONNECTED] = "connected",
	[RS_BACKOFF] = "backoff",
	[RS_CLOSED] = "closed",
};

const char *
conn_state_name(enum relay_state s)
{
	return state_names[s];
}

struct relay *
conn_find(struct relayd *rd, const char *url)
{
	struct relay *r;

	for (r = rd->relays; r != NULL; r = r->next)
		if (!r->removing && strcmp(r->url, url) == 0)
			return r;
	return NULL;
}

size_t
conn_count_transient(struct relayd *rd)
{
	struct relay *r;
	size_t n = 0;

	for (r = rd->relays; r != NULL; r = r->next)
		if (!r->configured && !r->removing)
			n++;
	return n;
}

static void
conn_set_state(struct relay *r, enum relay_state s)
{
	if (r->state == s)
		return;
	r->state = s;
	ipc_relay_state(r);
}

/* s as a JSON string literal (malloc'd), or NULL. */
static char *
conn_json_string(const char *s)
{
	cJSON *it = cJSON_CreateString(s);
	char *out = it ? cJSON_PrintUnformatted(it) : NULL;

	cJSON_Delete(it);
	return out;
}

/* A new relay (url already normalized), not yet connected. */
struct relay *
conn_add(struct relayd *rd, const char *url, int configured)
{
	struct relay *r;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		log_warn("relay %s", url);
		return NULL;
	}
	r->rd = rd;
	snprintf(r->url, sizeof(r->url), "%s", url);
	if (url_parse(url, r) == -1) {
		log_warnx("relay %s: bad URL", url);
		free(r);
		return NULL;
	}
	r->url_json = conn_json_string(r->url);
	r->configured = configured;
	r->born = now_ms();
	r->state = RS_CLOSED;
	r->ll.burst = 5;
	r->ll.per_ms = 10000;
	/* Each challenge makes jobd sign an event: a relay gets 3 a minute. */
	r->ll_auth.burst = 3;
	r->ll_auth.per_ms = 60000;
	backoff_init(&r->bo, 1000, (unsigned)rd->conf.relay_backoff_max * 1000, 30);
	r->next = rd->relays;
	rd->relays = r;
	return r;
}

static void
conn_unlink_free(struct relay *r)
{
	struct relayd *rd = r->rd;
	struct relay **pp;

	for (pp = &rd->relays; *pp != NULL; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	free(r->rx);
	cJSON_free(r->url_json);
	free(r);
}

/* Free removed relays whose connection is gone. */
static void
conn_reap(struct relayd *rd)
{
	struct relay *r, *next;

	for (r = rd->relays; r != NULL; r = next) {
		next = r->next;
		if (r->removing && !r->res.busy &&
		    (r->state == RS_CLOSED || r->state == RS_BACKOFF))
			conn_unlink_free(r);
	}
}

static void
conn_flush_queue(struct relay *r)
{
	struct outmsg *m;

	while ((m = r->qhead) != NULL) {
		r->qhead = m->next;
		free(m);
	}
	r->qtail = NULL;
	r->qbytes = 0;
}

/* A dial that failed before lws had a connection: back off (or close). */
static void
conn_fail(struct relay *r, const char *why)
{
	struct relayd *rd = r->rd;

	if (log_limit_ok(&r->ll))
		log_info("%s: connect failed (%s)", r->url, why);
	if (r->removing || rd->stopping) {
		conn_set_state(r, RS_CLOSED);
		return;
	}
	r->retry_at = now_ms() + backoff_next(&r->bo);
	conn_set_state(r, RS_BACKOFF);
}

/* Open the websocket to addr (an address literal). */
static void
conn_dial(struct relay *r, const char *addr)
{
	struct relayd *rd = r->rd;
	struct lws_client_connect_info i;
	struct lws *wsi;

	memset(&i, 0, sizeof(i));
	i.context = rd->ctx;
	i.vhost = rd->vh;
	i.address = addr;
	i.port = r->port;
	i.path = r->path;
	i.host = r->hosthdr;	/* also the name for SNI and the certificate */
	i.origin = r->hosthdr;
	i.ssl_connection = r->tls ? LCCSCF_USE_SSL : 0;
	i.local_protocol_name = conn_protocol.name;
	i.userdata = r;
	i.opaque_user_data = r;
	wsi = lws_client_connect_via_info(&i);
	if (r->state != RS_CONNECTING)
		return;		/* failed inside: conn_down has run */
	if (wsi == NULL) {
		conn_fail(r, "cannot start the connection");
		return;
	}
	r->wsi = wsi;
}

/*
 * A relay outside the config came from a requester: it may be dialled
 * only at a public address (unless relay_allow_private says otherwise).
 */
static int
conn_public_only(const struct relay *r, const struct conf *c)
{
	return !r->configured && !c->relay_allow_private;
}

/* Dial the relay, resolving its name first. Failures end in backoff. */
void
conn_connect(struct relay *r)
{
	r->want_ping = r->want_close = 0;
	r->rxlen = 0;
	r->rx_skip = 0;
	conn_set_state(r, RS_CONNECTING);
	log_debug("%s: connecting", r->url);
	if (resolve_is_literal(r->host)) {
		if (conn_public_only(r, &r->rd->conf) && netaddr_host_private(r->host, strlen(r->host)))
			conn_fail(r, "private address");
		else
			conn_dial(r, r->host);
	} else if (resolve_start(&r->res, r->host) == -1)
		conn_fail(r, "cannot resolve");
}

/* A lookup in progress: dial once it answered, give up after 10 s. */
static void
conn_resolving(struct relay *r, uint64_t now)
{
	struct relayd *rd = r->rd;
	const char *why = "?";
	int rc = resolve_poll(&r->res, conn_public_only(r, &r->rd->conf), r->ip, sizeof(r->ip), &why);

	if (rc == 0) {
		if (now - r->res.started >= RESOLVE_TIMEOUT_MS && resolve_cancel(&r->res) == 0)
			conn_fail(r, "name lookup timed out");
		return;
	}
	if (rc == -1)
		conn_fail(r, why);
	else if (r->removing || rd->stopping)
		conn_set_state(r, RS_CLOSED);
	else
		conn_dial(r, r->ip);
}

/* The connection is gone (failed or closed): schedule the next attempt. */
static void
conn_down(struct relay *r, struct lws *wsi, const char *why)
{
	struct relayd *rd = r->rd;
	uint64_t now = now_ms();
	unsigned delay;

	/* Later callbacks on this wsi must not find r: it may be freed below. */
	lws_set_opaque_user_data(wsi, NULL);
	if (r->state != RS_CONNECTING && r->state != RS_CONNECTED)
		return;
	if (r->state == RS_CONNECTED) {
		log_info("%s: disconnected (%s)", r->url, why);
		if (now - r->up_ms >= HEALTHY_MS)
			backoff_reset(&r->bo);
	} else if (log_limit_ok(&r->ll))
		log_info("%s: connect failed (%s)", r->url, why);
	r->wsi = NULL;
	conn_flush_queue(r);
	r->rxlen = 0;
	r->connected_since = 0;
	r->challenge[0] = '\0';
	sub_on_down(r);
	pub_on_down(r);
	if (r->removing || rd->stopping) {
		conn_set_state(r, RS_CLOSED);
		return;
	}
	delay = backoff_next(&r->bo);
	r->retry_at = now + delay;
	log_debug("%s: retry in %u ms", r->url, delay);
	conn_set_state(r, RS_BACKOFF);
}

static void
conn_up(struct relay *r)
{
	struct relayd *rd = r->rd;
	uint64_t now = now_ms();

	r->up_ms = r->last_rx = r->last_ping = now;
	r->connected_since = now_unix();
	r->auth_id[0] = '\0';
	r->challenge[0] = '\0';
	log_info("%s: connected", r->url);
	conn_set_state(r, RS_CONNECTED);
	if (rd->paused)
		lws_rx_flow_control(r->wsi, 0);
	sub_on_connect(r);
	pub_on_connect(r);
}

void
conn_drop(struct relay *r, enum drop_reason why, const char *detail)
{
	struct relayd *rd = r->rd;

	r->c.dropped[why]++;
	rd->c.dropped[why]++;
	if (log_limit_ok(&r->ll))
		log_warnx("%s: dropped %s%s%s", r->url, frame_drop_name(why),
		    detail ? ": " : "", detail ? detail : "");
}

/* Queue a text message for the relay. -1 if it is not connected or stuck. */
int
conn_send(struct relay *r, const char *text, size_t len)
{
	struct outmsg *m;

	if (r->state != RS_CONNECTED || r->wsi == NULL)
		return -1;
	if (r->qbytes + len > RELAY_OUTQ_MAX) {
		log_warnx("%s: output queue full: reconnecting", r->url);
		lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return -1;
	}
	if ((m = malloc(sizeof(*m) + LWS_PRE + len)) == NULL) {
		log_warn("%s: queue", r->url);
		return -1;
	}
	m->next = NULL;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	if (r->qtail != NULL)
		r->qtail->next = m;
	else
		r->qhead = m;
	r->qtail = m;
	r->qbytes += len;
	lws_callback_on_writable(r->wsi);
	return 0;
}

int
conn_send_json(struct relay *r, const cJSON *msg)
{
	char *s;
	int rc;

	if ((s = cJSON_PrintUnformatted(msg)) == NULL)
		return -1;
	rc = conn_send(r, s, strlen(s));
	cJSON_free(s);
	return rc;
}

/* Close with a websocket close frame (lws kills it if that stalls). */
void
conn_close(struct relay *r)
{
	if (r->res.busy) {
		if (resolve_cancel(&r->res) == 0)
			conn_set_state(r, RS_CLOSED);
		return;		/* else conn_resolving closes it when it ends */
	}
	if (r->wsi == NULL)
		return;
	if (r->state != RS_CONNECTED) {
		lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return;
	}
	r->want_close = 1;
	lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, 2);
	lws_callback_on_writable(r->wsi);
}

/*
 * Forget a relay: close it. It is freed by conn_tick once its connection is
 * gone, never here: callers may be walking the relay list.
 */
void
conn_remove(struct relay *r)
{
	if (r->removing)
		return;
	r->removing = 1;
	sub_relay_gone(r);
	pub_relay_gone(r);
	if (r->state == RS_CONNECTING || r->state == RS_CONNECTED) {
		conn_close(r);
		return;
	}
	conn_set_state(r, RS_CLOSED);
}

/* Still busy with the network: an open connection or a name lookup. */
int
conn_busy(const struct relay *r)
{
	return r->wsi != NULL || r->res.busy;
}

/* A publish or fetch no longer needs this transient relay. */
void
conn_release(struct relay *r)
{
	if (r->uses > 0)
		r->uses--;
	if (r->uses == 0 && !r->configured)
		conn_remove(r);
}

static void
conn_on_ok(struct relay *r, const struct frame *f)
{
	struct relayd *rd = r->rd;
	cJSON *o;

	if (r->auth_id[0] != '\0' && strcmp(f->id, r->auth_id) == 0) {
		r->auth_id[0] = '\0';
		log_info("%s: AUTH %s%s%s", r->url, f->accepted ? "accepted" : "refused",
		    *f->message ? ": " : "", f->message);
		if ((o = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(o, "op", "ok");
			cJSON_AddStringToObject(o, "relay", r->url);
			cJSON_AddStringToObject(o, "id", f->id);
			cJSON_AddBoolToObject(o, "accepted", f->accepted);
			cJSON_AddStringToObject(o, "message", f->message);
			cJSON_AddBoolToObject(o, "final", 1);
			ipc_broadcast(rd, o);
		}
		if (f->accepted) {
			r->challenge[0] = '\0';
			sub_on_auth(r);
			pub_on_auth(r);
		}
		return;
	}
	if (pub_on_ok(r, f->id, f->accepted, f->message) == -1)
		log_debug("%s: OK for an event we are not publishing", r->url);
}

/* Forward a NOTICE/AUTH-style line: {op, relay, key: value(truncated)}. */
static void
conn_report(struct relay *r, const char *op, const char *key, const char *val)
{
	struct relayd *rd = r->rd;
	char buf[NOTICE_MAX + 1];
	cJSON *o;

	snprintf(buf, sizeof(buf), "%s", val);
	if ((o = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(o, "op", op);
	cJSON_AddStringToObject(o, "relay", r->url);
	/* Truncation may split a UTF-8 sequence; cJSON would then emit bad UTF-8. */
	while (!utf8_valid(buf, strlen(buf)))
		buf[strlen(buf) - 1] = '\0';
	cJSON_AddStringToObject(o, key, buf);
	ipc_broadcast(rd, o);
}

static void
conn_message(struct relay *r, const char *buf, size_t len)
{
	struct frame f;
	int rc;

	if ((rc = frame_parse(&f, buf, len)) != -1) {
		conn_drop(r, rc, rc == DROP_BAD_EVENT ? f.err : NULL);
		return;
	}
	switch (f.type) {
	case FR_EVENT:
		sub_on_event(r, &f);
		break;
	case FR_EOSE:
		sub_on_eose(r, f.sub);
		break;
	case FR_OK:
		conn_on_ok(r, &f);
		break;
	case FR_NOTICE:
		if (log_limit_ok(&r->ll)) {
			log_info("%s: NOTICE %.200s", r->url, f.message);
			conn_report(r, "notice", "message", f.message);
		}
		break;
	case FR_CLOSED:
		sub_on_closed(r, f.sub, f.message);
		break;
	case FR_AUTH:
		if (strlen(f.challenge) > NOTICE_MAX || !utf8_valid(f.challenge, strlen(f.challenge)))
			conn_drop(r, DROP_BAD_TYPE, "AUTH challenge");
		else if (strcmp(f.challenge, r->challenge) == 0 || !log_limit_ok(&r->ll_auth))
			log_debug("%s: AUTH challenge not passed on (repeated)", r->url);
		else {
			/* Kept for jobd connections that come later. */
			snprintf(r->challenge, sizeof(r->challenge), "%s", f.challenge);
			conn_report(r, "auth_challenge", "challenge", f.challenge);
		}
		break;
	}
	frame_free(&f);
}

static int
conn_rx_append(struct relay *r, const void *in, size_t len)
{
	struct relayd *rd = r->rd;
	size_t max = (size_t)rd->conf.relay_max_frame, ncap;
	char *p;

	if (r->rxlen + len > max) {
		r->rx_skip = DROP_OVERSIZE + 1;
		return 0;
	}
	if (r->rxlen + len > r->rxcap) {
		ncap = r->rxcap ? r->rxcap : 4096;
		while (ncap < r->rxlen + len)
			ncap *= 2;
		if (ncap > max)
			ncap = max;
		if ((p = realloc(r->rx, ncap)) == NULL) {
			log_warn("%s: receive buffer", r->url);
			return -1;
		}
		r->rx = p;
		r->rxcap = ncap;
	}
	memcpy(r->rx + r->rxlen, in, len);
	r->rxlen += len;
	return 0;
}

static int
conn_receive(struct relay *r, struct lws *wsi, const void *in, size_t len)
{
	struct relayd *rd = r->rd;

	r->last_rx = now_ms();
	if (lws_frame_is_binary(wsi))
		r->rx_skip = DROP_BINARY + 1;
	if (!r->rx_skip && conn_rx_append(r, in, len) == -1)
		return -1;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
		return 0;
	r->c.frames_in++;
	rd->c.frames_in++;
	if (r->rx_skip)
		conn_drop(r, (enum drop_reason)(r->rx_skip - 1), NULL);
	else
		conn_message(r, r->rx, r->rxlen);
	r->rxlen = 0;
	r->rx_skip = 0;
	if (r->rxcap > RX_KEEP_CAP) {
		free(r->rx);
		r->rx = NULL;
		r->rxcap = 0;
	}
	return 0;
}

static int
conn_writeable(struct relay *r, struct lws *wsi)
{
	unsigned char ping[LWS_PRE + 1];
	struct outmsg *m;

	if (r->want_close) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_NORMAL, (unsigned char *)"bye", 3);
		return -1;
	}
	if (r->want_ping) {
		r->want_ping = 0;
		if (lws_write(wsi, ping + LWS_PRE, 0, LWS_WRITE_PING) < 0)
			return -1;
	} else if ((m = r->qhead) != NULL) {
		if (lws_write(wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT) < (int)m->len)
			return -1;
		r->qhead = m->next;
		if (r->qhead == NULL)
			r->qtail = NULL;
		r->qbytes -= m->len;
		free(m);
	}
	if (r->qhead != NULL || r->want_ping)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
conn_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	const struct lws_protocols *p = wsi ? lws_get_protocol(wsi) : NULL;
	struct relay *r;

	/* lws also calls here for wsis of other protocols (WSI_DESTROY). */
	if (p == NULL || p->callback != conn_callback ||
	    (r = lws_get_opaque_user_data(wsi)) == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		conn_down(r, wsi, in ? (const char *)in : "connection error");
		break;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		r->wsi = wsi;
		conn_up(r);
		break;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		return conn_receive(r, wsi, in, len);
	case LWS_CALLBACK_CLIENT_RECEIVE_PONG:
		r->last_rx = now_ms();
		break;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return conn_writeable(r, wsi);
	case LWS_CALLBACK_CLIENT_CLOSED:
		conn_down(r, wsi, "closed");
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		conn_down(r, wsi, "gone");
		break;
	default:
		break;
	}
	return 0;
}

const struct lws_protocols conn_protocol = {
	.name = "relayd-ws",
	.callback = conn_callback,
	.rx_buffer_size = 16384,
};

/* Timers of every relay: reconnects, pings, idle timeouts. */
void
conn_tick(struct relayd *rd, uint64_t now)
{
	struct relay *r, *next;
	uint64_t idle = (uint64_t)rd->conf.relay_idle_timeout * 1000;
	uint64_t ping = (uint64_t)rd->conf.relay_ping_interval * 1000;

	conn_reap(rd);
	for (r = rd->relays; r != NULL; r = next) {
		next = r->next;
		if (r->res.busy)
			conn_resolving(r, now);
		else if (r->state == RS_BACKOFF && now >= r->retry_at && !rd->stopping &&
		    !r->removing)
			conn_connect(r);
		else if (r->state == RS_CONNECTED && r->wsi != NULL) {
			if (rd->paused)
				r->last_rx = now;	/* we stopped reading, not them */
			if (now - r->last_rx >= idle) {
				log_info("%s: silent for %d s: reconnecting", r->url,
				    rd->conf.relay_idle_timeout);
				lws_set_timeout(r->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
			} else if (now - r->last_ping >= ping) {
				r->last_ping = now;
				r->want_ping = 1;
				lws_callback_on_writable(r->wsi);
			}
		}
	}
}

void
conn_pause_all(struct relayd *rd, int pause)
{
	struct relay *r;

	for (r = rd->relays; r != NULL; r = r->next)
		if (r->state == RS_CONNECTED && r->wsi != NULL)
			lws_rx_flow_control(r->wsi, !pause);
}

/* SIGHUP / start: make the configured set equal to urls (normalized). */
void
conn_set_relays(struct relayd *rd, const char *const *urls, size_t n)
{
	struct relay *r, *next;
	size_t i;
	int keep;

	for (r = rd->relays; r != NULL; r = next) {
		next = r->next;
		if (!r->configured || r->removing)
			continue;
		for (keep = 0, i = 0; i < n && !keep; i++)
			keep = strcmp(urls[i], r->url) == 0;
		if (!keep) {
			log_info("%s: removed from the relay list", r->url);
			conn_remove(r);
		}
	}
	for (i = 0; i < n; i++) {
		if ((r = conn_find(rd, urls[i])) != NULL) {
			r->configured = 1;
			continue;
		}
		if ((r = conn_add(rd, urls[i], 1)) != NULL)
			conn_connect(r);
	}
}

/* After the lws context is gone: free what is left. */
void
conn_free_all(struct relayd *rd)
{
	struct relay *r;

	while ((r = rd->relays) != NULL) {
		rd->relays = r->next;
		if (resolve_wait(&r->res, 2000) == -1) {
			/* glibc's helper still writes into r: leave it to exit. */
			log_warnx("%s: name lookup still running at exit", r->url);
			continue;
		}
		conn_flush_queue(r);
		free(r->rx);
		cJSON_free(r->url_json);
		free(r);
	}
}

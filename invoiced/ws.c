/*
 * ws.c: one WebSocket client connection (libwebsockets 4.1) living inside
 * invoiced's poll loop, for the NWC backend's own relay connection.
 *
 * lws keeps its own fd table; its ADD/DEL/CHANGE_MODE_POLL_FD callbacks
 * mirror those fds into our loop so poll() wakes for them, and every wakeup
 * (plus a short tick for lws's timers) runs one non-blocking lws_service
 * pass. Reconnects back off exponentially; messages are reassembled up to
 * WS_MAX_MSG and queued for writing up to WS_MAX_QUEUE.
 */
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "sock.h"
#include "invoiced.h"

#define WS_MAX_MSG	(256 * 1024)
#define WS_MAX_QUEUE	256
#define WS_TICK_MS	100

struct ws_out {
	struct ws_out	*next;
	size_t		 len;
	unsigned char	 buf[];	/* LWS_PRE bytes, then the text */
};

struct ws {
	struct loop		*loop;
	struct lws_context	*ctx;
	struct lws		*wsi;
	char			 url[512];
	char			 host[256], path[256];
	int			 port, tls;
	int			 up, dying;
	ws_msg_cb		 on_msg;
	ws_state_cb		 on_state;
	void			*arg;
	char			*rbuf;
	size_t			 rlen;
	int			 rdrop;
	struct ws_out		*qhead, *qtail;
	size_t			 qn;
	struct backoff		 bo;
	uint64_t		 tick, retry;
};

static void ws_connect(struct ws *);

static void
ws_service(struct ws *w)
{
	/* A negative timeout makes lws poll its fds without blocking. */
	lws_service(w->ctx, -1);
}

static void
ws_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	ws_service(arg);
}

static void
ws_on_tick(struct loop *l, void *arg)
{
	struct ws *w = arg;

	w->tick = loop_add_timer(l, WS_TICK_MS, ws_on_tick, w);
	ws_service(w);
}

static void
ws_on_retry(struct loop *l, void *arg)
{
	struct ws *w = arg;

	w->retry = 0;
	ws_connect(w);
}

static void
ws_queue_clear(struct ws *w)
{
	struct ws_out *o;

	while ((o = w->qhead) != NULL) {
		w->qhead = o->next;
		free(o);
	}
	w->qtail = NULL;
	w->qn = 0;
}

static void
ws_down(struct ws *w, const char *why)
{
	int was = w->up;
	unsigned ms;

	w->wsi = NULL;
	w->up = 0;
	w->rlen = 0;
	ws_queue_clear(w);
	if (w->dying)
		return;
	ms = backoff_next(&w->bo);
	log_warnx("nwc: relay %s: %s; reconnecting in %u ms", w->url, why, ms);
	if (w->retry == 0)
		w->retry = loop_add_timer(w->loop, ms, ws_on_retry, w);
	if (was)
		w->on_state(0, w->arg);
}

static void
ws_receive(struct ws *w, struct lws *wsi, const char *in, size_t len)
{
	char *nb;

	if (!w->rdrop && w->rlen + len > WS_MAX_MSG) {
		log_warnx("nwc: relay %s: message over %d bytes dropped", w->url, WS_MAX_MSG);
		w->rdrop = 1;
	}
	if (!w->rdrop) {
		if ((nb = realloc(w->rbuf, w->rlen + len + 1)) == NULL) {
			w->rdrop = 1;
		} else {
			w->rbuf = nb;
			memcpy(w->rbuf + w->rlen, in, len);
			w->rlen += len;
			w->rbuf[w->rlen] = '\0';
		}
	}
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) != 0)
		return;
	if (!w->rdrop && w->rlen > 0)
		w->on_msg(w->rbuf, w->rlen, w->arg);
	w->rlen = 0;
	w->rdrop = 0;
}

static int
ws_writeable(struct ws *w, struct lws *wsi)
{
	struct ws_out *o = w->qhead;

	if (o == NULL)
		return 0;
	w->qhead = o->next;
	if (w->qhead == NULL)
		w->qtail = NULL;
	w->qn--;
	if (lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len) {
		free(o);
		return -1;
	}
	free(o);
	if (w->qhead != NULL)
		lws_callback_on_writable(wsi);
	return 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct lws_context *ctx = lws_get_context(wsi);
	struct ws *w = ctx != NULL ? lws_context_user(ctx) : NULL;
	struct lws_pollargs *pa = in;

	if (w == NULL)
		return 0;
	switch (reason) {
	case LWS_CALLBACK_ADD_POLL_FD:
		loop_add_fd(w->loop, pa->fd, (short)pa->events, ws_on_fd, w);
		return 0;
	case LWS_CALLBACK_DEL_POLL_FD:
		loop_del_fd(w->loop, pa->fd);
		return 0;
	case LWS_CALLBACK_CHANGE_MODE_POLL_FD:
		loop_set_events(w->loop, pa->fd, (short)pa->events);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		w->up = 1;
		backoff_reset(&w->bo);
		log_info("nwc: connected to %s", w->url);
		w->on_state(1, w->arg);
		return 0;
	case LWS_CALLBACK_CLIENT_RECEIVE:
		ws_receive(w, wsi, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return ws_writeable(w, wsi);
	/*
	 * There is only ever one connection; lws may already have cleared
	 * w->wsi (pwsi) when it reports the failure, so do not compare.
	 */
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		ws_down(w, in != NULL ? (const char *)in : "connection error");
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		ws_down(w, "closed");
		return 0;
	default:
		return 0;
	}
}

static const struct lws_protocols ws_protocols[] = {
	{ "nwc", ws_callback, 0, WS_MAX_MSG, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 },
};

static void
ws_connect(struct ws *w)
{
	struct lws_client_connect_info ci;

	if (w->dying || w->wsi != NULL)
		return;
	memset(&ci, 0, sizeof(ci));
	ci.context = w->ctx;
	ci.address = w->host;
	ci.port = w->port;
	ci.path = w->path;
	ci.host = w->host;
	ci.origin = w->host;
	ci.ssl_connection = w->tls ? LCCSCF_USE_SSL : 0;
	ci.local_protocol_name = "nwc";
	ci.pwsi = &w->wsi;
	if (lws_client_connect_via_info(&ci) == NULL) {
		w->wsi = NULL;
		ws_down(w, "cannot start connecting");
	}
}

static int
ws_parse_url(struct ws *w, const char *url, char *err, size_t errlen)
{
	char tmp[512];
	const char *prot, *addr, *path;
	int port;

	if (strlen(url) >= sizeof(tmp) || strlen(url) >= sizeof(w->url)) {
		snprintf(err, errlen, "relay URL too long");
		return -1;
	}
	snprintf(w->url, sizeof(w->url), "%s", url);
	snprintf(tmp, sizeof(tmp), "%s", url);
	if (lws_parse_uri(tmp, &prot, &addr, &port, &path) != 0 || *addr == '\0' ||
	    (strcmp(prot, "ws") != 0 && strcmp(prot, "wss") != 0)) {
		snprintf(err, errlen, "relay URL must be ws:// or wss://");
		return -1;
	}
	w->tls = strcmp(prot, "wss") == 0;
	w->port = port;
	snprintf(w->host, sizeof(w->host), "%s", addr);
	/* lws_parse_uri drops the leading '/'. */
	snprintf(w->path, sizeof(w->path), "/%s", path);
	return 0;
}

static void
ws_lws_log(int level, const char *line)
{
	log_debug("lws: %.*s", (int)strcspn(line, "\n"), line);
}

struct ws *
ws_new(struct loop *l, const char *url, ws_msg_cb on_msg, ws_state_cb on_state, void *arg,
    char *err, size_t errlen)
{
	struct lws_context_creation_info info;
	struct ws *w;

	if ((w = calloc(1, sizeof(*w))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->loop = l;
	w->on_msg = on_msg;
	w->on_state = on_state;
	w->arg = arg;
	if (ws_parse_url(w, url, err, errlen) != 0) {
		free(w);
		return NULL;
	}
	backoff_init(&w->bo, 500, 30000, 20);
	lws_set_log_level(LLL_ERR | LLL_WARN, ws_lws_log);
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.user = w;
	info.gid = -1;
	info.uid = -1;
	if ((w->ctx = lws_create_context(&info)) == NULL) {
		snprintf(err, errlen, "cannot create the websocket context");
		free(w);
		return NULL;
	}
	w->tick = loop_add_timer(l, WS_TICK_MS, ws_on_tick, w);
	ws_connect(w);
	return w;
}

int
ws_send(struct ws *w, const char *text, size_t len)
{
	struct ws_out *o;

	if (!w->up || w->wsi == NULL || w->qn >= WS_MAX_QUEUE)
		return -1;
	if ((o = malloc(sizeof(*o) + LWS_PRE + len)) == NULL)
		return -1;
	o->next = NULL;
	o->len = len;
	memcpy(o->buf + LWS_PRE, text, len);
	if (w->qtail != NULL)
		w->qtail->next = o;
	else
		w->qhead = o;
	w->qtail = o;
	w->qn++;
	lws_callback_on_writable(w->wsi);
	return 0;
}

int
ws_is_up(const struct ws *w)
{
	return w->up;
}

void
ws_free(struct ws *w)
{
	if (w == NULL)
		return;
	w->dying = 1;
	loop_cancel_timer(w->loop, w->tick);
	if (w->retry)
		loop_cancel_timer(w->loop, w->retry);
	lws_context_destroy(w->ctx);
	ws_queue_clear(w);
	free(w->rbuf);
	free(w);
}

/*
 * ws.c: one websocket client connection per relay (libwebsockets 4.1 API).
 * Each connection sends exactly two messages, REQ for the replies and
 * then EVENT with the request, so the subscription is in place before any
 * DVM can answer; everything received goes to reply_handle.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

#include "dvmreq.h"

struct relay {
	struct session	*s;
	const char	*url;
	char		 buf[512];	/* lws_parse_uri cuts the URL up in here */
	char		 path[512];
	const char	*host;
	int		 port, tls;
	char		*out[2];	/* REQ, EVENT */
	int		 next;
	char		*rx;
	size_t		 rxlen;
	int		 overlong, failed;
};

static int timed_out;
static struct lws_context *timeout_ctx;

static void
relay_fail(struct relay *r, const char *why)
{
	if (r->failed)
		return;
	r->failed = 1;
	r->s->relays_failed++;
	if (!r->s->done)
		fprintf(stderr, "dvmreq: %s: %s\n", r->url, why);
}

static int
relay_write(struct lws *wsi, struct relay *r)
{
	unsigned char *b;
	size_t n;
	int w;

	if (r->next >= 2)
		return 0;
	n = strlen(r->out[r->next]);
	if ((b = malloc(LWS_PRE + n)) == NULL)
		return -1;
	memcpy(b + LWS_PRE, r->out[r->next], n);
	w = lws_write(wsi, b + LWS_PRE, n, LWS_WRITE_TEXT);
	free(b);
	if (w < (int)n)
		return -1;
	if (++r->next < 2)
		lws_callback_on_writable(wsi);
	return 0;
}

/* Collect fragments up to REQ_MAX_MSG; an overlong message is dropped whole. */
static void
relay_receive(struct lws *wsi, struct relay *r, const void *in, size_t len)
{
	char *nb;

	if (!r->overlong && r->rxlen + len <= REQ_MAX_MSG) {
		if ((nb = realloc(r->rx, r->rxlen + len + 1)) == NULL)
			r->overlong = 1;
		else {
			r->rx = nb;
			memcpy(r->rx + r->rxlen, in, len);
			r->rxlen += len;
		}
	} else
		r->overlong = 1;
	if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
		return;
	if (r->overlong)
		fprintf(stderr, "dvmreq: %s: message over %d bytes dropped\n", r->url, REQ_MAX_MSG);
	else if (r->rxlen > 0 && reply_handle(r->s, r->url, r->rx, r->rxlen))
		relay_fail(r, "relay refused the request");
	r->rxlen = 0;
	r->overlong = 0;
}

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct relay *r = lws_get_opaque_user_data(wsi);
	char why[256];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		snprintf(why, sizeof(why), "cannot connect: %s", in != NULL ? (const char *)in : "?");
		relay_fail(r, why);
		return 0;
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (r->s->o->verbose)
			fprintf(stderr, "dvmreq: %s: connected\n", r->url);
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		return relay_write(wsi, r);
	case LWS_CALLBACK_CLIENT_RECEIVE:
		relay_receive(wsi, r, in, len);
		return 0;
	case LWS_CALLBACK_CLIENT_CLOSED:
		relay_fail(r, "connection closed");
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "dvmreq", ws_callback, 0, 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static int
relay_connect(struct lws_context *ctx, struct relay *r)
{
	struct lws_client_connect_info i;
	const char *prot, *ads, *path;

	if (snprintf(r->buf, sizeof(r->buf), "%s", r->url) >= (int)sizeof(r->buf) ||
	    lws_parse_uri(r->buf, &prot, &ads, &r->port, &path) != 0 ||
	    (strcmp(prot, "ws") != 0 && strcmp(prot, "wss") != 0)) {
		fprintf(stderr, "dvmreq: %s: not a ws:// or wss:// URL\n", r->url);
		return -1;
	}
	r->tls = strcmp(prot, "wss") == 0;
	r->host = ads;
	snprintf(r->path, sizeof(r->path), "/%s", path);
	memset(&i, 0, sizeof(i));
	i.context = ctx;
	i.address = ads;
	i.port = r->port;
	i.path = r->path;
	i.host = ads;
	i.origin = ads;
	i.ssl_connection = r->tls ? LCCSCF_USE_SSL : 0;
	i.local_protocol_name = "dvmreq";	/* our callback, no subprotocol header */
	i.opaque_user_data = r;
	if (lws_client_connect_via_info(&i) == NULL) {
		relay_fail(r, "cannot start the connection");
		return 0;
	}
	return 0;
}

static void
ws_timeout(lws_sorted_usec_list_t *sul)
{
	timed_out = 1;
	/* The sul runs before lws's poll; without this the poll sleeps on. */
	lws_cancel_service(timeout_ctx);
}

static void
relays_free(struct relay *rs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rs[i].out[0]);
		free(rs[i].out[1]);
		free(rs[i].rx);
	}
}

int
ws_run(struct session *s)
{
	struct lws_context_creation_info info;
	struct lws_context *ctx;
	struct relay rs[REQ_MAX_RELAYS];
	lws_sorted_usec_list_t sul;
	size_t i, n = s->o->nrelays;

	lws_set_log_level(s->o->verbose ? LLL_ERR | LLL_WARN : 0, NULL);
	memset(&info, 0, sizeof(info));
	info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = protocols;
	if ((ctx = lws_create_context(&info)) == NULL) {
		fprintf(stderr, "dvmreq: cannot create the websocket context\n");
		return -1;
	}
	memset(rs, 0, sizeof(rs));
	for (i = 0; i < n; i++) {
		rs[i].s = s;
		rs[i].url = s->o->relays[i];
		if ((rs[i].out[0] = request_req_msg(s)) == NULL ||
		    (rs[i].out[1] = request_event_msg(s)) == NULL ||
		    relay_connect(ctx, &rs[i]) == -1) {
			lws_context_destroy(ctx);
			relays_free(rs, n);
			return -1;
		}
	}
	memset(&sul, 0, sizeof(sul));
	timeout_ctx = ctx;
	lws_sul_schedule(ctx, 0, &sul, ws_timeout, (lws_usec_t)s->o->timeout * LWS_US_PER_SEC);
	while (!s->done && !timed_out && s->relays_failed < n)
		if (lws_service(ctx, 0) < 0)
			break;
	if (!s->done && timed_out) {
		fprintf(stderr, "dvmreq: no result within %d s\n", s->o->timeout);
		s->code = XIT_TIMEOUT;
	} else if (!s->done) {
		fprintf(stderr, "dvmreq: no relay took the request\n");
		s->code = XIT_ERROR;
	}
	s->done = 1;	/* the closes during teardown are not news */
	lws_context_destroy(ctx);
	relays_free(rs, n);
	return 0;
}

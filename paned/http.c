/*
 * http.c: the pane's HTTP server (libwebsockets 4.1, 127.0.0.1 only).
 *
 * Every request, files included, passes the exact Host check first (403).
 * GET /?token=T trades the login token for a session cookie (303 to /).
 * GET /api/status|stats|daily|jobs|prices need the cookie; POST
 * /api/online|offline|prices need the cookie, "X-Pane: 1", the pane's own
 * Origin and, when sent, Sec-Fetch-Site: same-origin; bodies are capped
 * (413). Every answer carries the strict CSP and its friends. Static files
 * are a fixed list read at start-up: no path from a request reaches open().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

#include "log.h"
#include "paned.h"

#define HDR_MAX	512

static const char csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'";

struct http_req {
	unsigned char	*out;		/* LWS_PRE + body */
	size_t		 outlen;
	int		 status;
	const char	*mime;
	char		 cookie[160];	/* Set-Cookie */
	int		 redirect;	/* 303 to / */
	char		 path[64];
	char		 body[PANE_MAX_BODY + 1];
	size_t		 bodylen;
	int		 toolong;
};

static int
hdr(struct lws *wsi, enum lws_token_indexes t, char *buf, size_t len)
{
	buf[0] = '\0';
	if (lws_hdr_total_length(wsi, t) >= (int)len)
		return -1;
	return lws_hdr_copy(wsi, buf, (int)len, t) < 0 ? -1 : 0;
}

static int
custom_hdr(struct lws *wsi, const char *name, char *buf, size_t len)
{
	int n;

	buf[0] = '\0';
	n = lws_hdr_custom_copy(wsi, buf, (int)len, name, (int)strlen(name));
	return n < 0 ? -1 : 0;
}

/* Queue an answer; it is written when the socket is writable. */
static void
http_answer(struct lws *wsi, struct http_req *r, int status, const char *mime,
    const char *body, size_t len)
{
	free(r->out);
	r->out = malloc(LWS_PRE + len + 1);
	r->outlen = r->out != NULL ? len : 0;
	if (r->out != NULL && len > 0)
		memcpy(r->out + LWS_PRE, body, len);
	r->status = status;
	r->mime = mime;
	lws_callback_on_writable(wsi);
}

static void
http_json_error(struct lws *wsi, struct http_req *r, int status, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char *s;

	cJSON_AddStringToObject(o, "error", msg);
	s = cJSON_PrintUnformatted(o);
	http_answer(wsi, r, status, "application/json", s ? s : "{}", s ? strlen(s) : 2);
	cJSON_free(s);
	cJSON_Delete(o);
}

/* Ask jobd and hand its answer (op error: 502 with its message) to the browser. */
static void
http_relay(struct lws *wsi, struct http_req *r, struct paned *p, const char *line,
    const char *want)
{
	char err[256], *s;
	const cJSON *m;
	cJSON *o = ctl_ask(p, line, want, err, sizeof(err));

	if (o == NULL) {
		http_json_error(wsi, r, 502, err);
		return;
	}
	m = cJSON_GetObjectItemCaseSensitive(o, "op");
	if (strcmp(m->valuestring, "error") == 0) {
		m = cJSON_GetObjectItemCaseSensitive(o, "message");
		http_json_error(wsi, r, 400, cJSON_IsString(m) ? m->valuestring : "jobd refused it");
	} else if ((s = cJSON_PrintUnformatted(o)) != NULL) {
		http_answer(wsi, r, 200, "application/json", s, strlen(s));
		cJSON_free(s);
	} else
		http_json_error(wsi, r, 500, "out of memory");
	cJSON_Delete(o);
}

static int
http_session(struct lws *wsi, struct paned *p)
{
	char c[HDR_MAX];

	return hdr(wsi, WSI_TOKEN_HTTP_COOKIE, c, sizeof(c)) == 0 && auth_session_ok(p, c);
}

/* The CSRF rules for a change (docs/SECURITY.md). NULL if it may go ahead. */
static const char *
http_change_refused(struct lws *wsi, struct paned *p)
{
	char v[HDR_MAX];

	if (!http_session(wsi, p))
		return "not logged in";
	if (custom_hdr(wsi, "x-pane:", v, sizeof(v)) == -1 || strcmp(v, "1") != 0)
		return "missing X-Pane header";
	if (hdr(wsi, WSI_TOKEN_ORIGIN, v, sizeof(v)) == -1 || !auth_origin_ok(v, p->conf.pane_port))
		return "cross-origin request";
	if (custom_hdr(wsi, "sec-fetch-site:", v, sizeof(v)) == 0 && v[0] != '\0' &&
	    strcmp(v, "same-origin") != 0)
		return "cross-site request";
	return NULL;
}

static void
http_get_api(struct lws *wsi, struct http_req *r, struct paned *p)
{
	char ob[24], lb[24], sb[48], *line;
	const char *off, *lim, *st;

	if (!http_session(wsi, p)) {
		http_json_error(wsi, r, 401, "not logged in: open the URL that dvmctl pane prints");
		return;
	}
	if (strcmp(r->path, "/api/status") == 0)
		http_relay(wsi, r, p, "{\"op\":\"status\"}", "status");
	else if (strcmp(r->path, "/api/stats") == 0)
		http_relay(wsi, r, p, "{\"op\":\"stats\"}", "stats");
	else if (strcmp(r->path, "/api/daily") == 0)
		http_relay(wsi, r, p, "{\"op\":\"stats_daily\"}", "stats_daily");
	else if (strcmp(r->path, "/api/prices") == 0)
		http_relay(wsi, r, p, "{\"op\":\"prices_get\"}", "prices");
	else if (strcmp(r->path, "/api/jobs") == 0) {
		/* lws returns a pointer to the value inside the buffer (past "name="). */
		off = lws_get_urlarg_by_name(wsi, "offset=", ob, sizeof(ob));
		lim = lws_get_urlarg_by_name(wsi, "limit=", lb, sizeof(lb));
		st = lws_get_urlarg_by_name(wsi, "state=", sb, sizeof(sb));
		if ((line = api_jobs_request(off, lim, st)) == NULL) {
			http_json_error(wsi, r, 500, "out of memory");
			return;
		}
		http_relay(wsi, r, p, line, "jobs");
		cJSON_free(line);
	} else
		http_json_error(wsi, r, 404, "no such API");
}

static void
http_get(struct lws *wsi, struct http_req *r, struct paned *p)
{
	char tb[PANE_TOKEN_HEX + 16], sess[PANE_TOKEN_HEX + 1];
	const char *tok;
	size_t i;

	if (strncmp(r->path, "/api/", 5) == 0) {
		http_get_api(wsi, r, p);
		return;
	}
	if (strcmp(r->path, "/") == 0 &&
	    (tok = lws_get_urlarg_by_name(wsi, "token=", tb, sizeof(tb))) != NULL) {
		if (!auth_equal(tok, p->token) || auth_session_new(p, sess) == -1) {
			log_warnx("login refused: a wrong token");
			http_answer(wsi, r, 403, "text/plain", "wrong token\n", 12);
			return;
		}
		snprintf(r->cookie, sizeof(r->cookie), "%s=%s; HttpOnly; SameSite=Strict; Path=/",
		    PANE_COOKIE, sess);
		r->redirect = 1;
		log_info("login: a new session");
		http_answer(wsi, r, 303, "text/plain", "", 0);
		return;
	}
	if (strcmp(r->path, "/favicon.ico") == 0) {	/* none: say so without an error */
		http_answer(wsi, r, 204, "text/plain", "", 0);
		return;
	}
	for (i = 0; i < sizeof(p->files) / sizeof(p->files[0]) && p->files[i].name; i++) {
		if (strcmp(r->path, p->files[i].name) == 0 ||
		    (strcmp(r->path, "/") == 0 && strcmp(p->files[i].name, "/index.html") == 0)) {
			http_answer(wsi, r, 200, p->files[i].mime, p->files[i].data, p->files[i].len);
			return;
		}
	}
	http_answer(wsi, r, 404, "text/plain", "not found\n", 10);
}

static void
http_post(struct lws *wsi, struct http_req *r, struct paned *p)
{
	const char *why = http_change_refused(wsi, p);
	char err[256], *line;

	if (why != NULL) {
		log_warnx("refused a change (%s): %s", r->path, why);
		http_json_error(wsi, r, 403, why);
		return;
	}
	if (r->toolong) {
		http_json_error(wsi, r, 413, "request body too long");
		return;
	}
	if (strcmp(r->path, "/api/online") == 0)
		http_relay(wsi, r, p, "{\"op\":\"online\"}", "ok");
	else if (strcmp(r->path, "/api/offline") == 0)
		http_relay(wsi, r, p, "{\"op\":\"offline\"}", "ok");
	else if (strcmp(r->path, "/api/prices") == 0) {
		if ((line = api_prices_request(r->body, r->bodylen, err, sizeof(err))) == NULL) {
			http_json_error(wsi, r, 400, err);
			return;
		}
		http_relay(wsi, r, p, line, "prices");
		cJSON_free(line);
	} else
		http_json_error(wsi, r, 404, "no such API");
}

static int
http_write(struct lws *wsi, struct http_req *r)
{
	unsigned char hbuf[LWS_PRE + 2048], *start = hbuf + LWS_PRE, *q = start,
	    *end = hbuf + sizeof(hbuf) - 1;

	if (lws_add_http_common_headers(wsi, (unsigned)r->status, r->mime,
	    (lws_filepos_t)r->outlen, &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
	    (const unsigned char *)csp, (int)strlen(csp), &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
	    (const unsigned char *)"nosniff", 7, &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"x-frame-options:",
	    (const unsigned char *)"DENY", 4, &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"referrer-policy:",
	    (const unsigned char *)"no-referrer", 11, &q, end) ||
	    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	    (const unsigned char *)"no-store", 8, &q, end))
		return -1;
	if (r->cookie[0] != '\0' && lws_add_http_header_by_name(wsi,
	    (const unsigned char *)"set-cookie:", (const unsigned char *)r->cookie,
	    (int)strlen(r->cookie), &q, end))
		return -1;
	if (r->redirect && lws_add_http_header_by_name(wsi, (const unsigned char *)"location:",
	    (const unsigned char *)"/", 1, &q, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &q, end))
		return -1;
	if (r->outlen > 0 && lws_write(wsi, r->out + LWS_PRE, r->outlen, LWS_WRITE_HTTP_FINAL) !=
	    (int)r->outlen)
		return -1;
	free(r->out);
	r->out = NULL;
	return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A POST: refuse a declared body over the cap now; one with none is handled now. */
static void
http_post_begin(struct lws *wsi, struct http_req *r, struct paned *p)
{
	char cl[32];
	long n = 0;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0) {
		http_answer(wsi, r, 411, "text/plain", "Content-Length required\n", 24);
		return;
	}
	if (hdr(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH, cl, sizeof(cl)) == -1)
		n = PANE_MAX_BODY + 1;
	else if (cl[0] != '\0')
		n = strtol(cl, NULL, 10);
	if (n > PANE_MAX_BODY) {
		r->toolong = 1;
		http_post(wsi, r, p);
	} else if (n <= 0)
		http_post(wsi, r, p);
}

static int
http_begin(struct lws *wsi, struct http_req *r, struct paned *p)
{
	char host[HDR_MAX];

	memset(r, 0, sizeof(*r));
	if (hdr(wsi, WSI_TOKEN_HOST, host, sizeof(host)) == -1 ||
	    !auth_host_ok(host, p->conf.pane_port)) {
		log_warnx("refused a request with a bad Host header (DNS rebinding?)");
		http_answer(wsi, r, 403, "text/plain", "bad Host\n", 9);
		return 0;
	}
	/* The whole path (lws hands the callback only what follows the mount). */
	if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
		if (hdr(wsi, WSI_TOKEN_POST_URI, r->path, sizeof(r->path)) == -1)
			r->path[0] = '\0';
		return 1;	/* the body comes next */
	}
	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) > 0) {
		if (hdr(wsi, WSI_TOKEN_GET_URI, r->path, sizeof(r->path)) == -1)
			r->path[0] = '\0';
		http_get(wsi, r, p);
	}
	else
		http_answer(wsi, r, 405, "text/plain", "GET or POST\n", 12);
	return 0;
}

static int
http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	struct http_req *r = user;
	struct paned *p = lws_context_user(lws_get_context(wsi));

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		if (r == NULL)
			return -1;
		if (http_begin(wsi, r, p) == 1)
			http_post_begin(wsi, r, p);
		return 0;
	case LWS_CALLBACK_HTTP_BODY:
		if (r == NULL)
			return -1;
		if (r->bodylen + len > PANE_MAX_BODY)
			r->toolong = 1;
		else if (len > 0) {
			memcpy(r->body + r->bodylen, in, len);
			r->bodylen += len;
		}
		return 0;
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		if (r != NULL && r->status == 0)
			http_post(wsi, r, p);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return r != NULL && r->out != NULL ? http_write(wsi, r) : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		if (r != NULL) {
			free(r->out);
			r->out = NULL;
		}
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ "http", http_cb, sizeof(struct http_req), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static const struct lws_http_mount mount = {
	.mountpoint = "/", .origin = "http", .origin_protocol = LWSMPRO_CALLBACK,
	.mountpoint_len = 1, .protocol = "http",
};

int
http_start(struct paned *p)
{
	struct lws_context_creation_info info;

	memset(&info, 0, sizeof(info));
	info.iface = "127.0.0.1";
	info.port = p->conf.pane_port;
	info.protocols = protocols;
	info.mounts = &mount;
	info.user = p;
	info.options = LWS_SERVER_OPTION_DISABLE_IPV6 |
	    LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND;
	info.max_http_header_data = 4096;
	info.timeout_secs = 10;
	lws_set_log_level(LLL_ERR, NULL);
	p->lws = lws_create_context(&info);
	return p->lws != NULL ? 0 : -1;
}

void
http_stop(struct paned *p)
{
	if (p->lws != NULL)
		lws_context_destroy(p->lws);
	p->lws = NULL;
}

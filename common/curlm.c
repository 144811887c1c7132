/*
 * curlm.c: libcurl's multi interface in the poll loop (see curlm.h).
 * CURLMOPT_SOCKETFUNCTION registers curl's sockets with the loop,
 * CURLMOPT_TIMERFUNCTION arms one loop timer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "curlm.h"
#include "log.h"
#include "loop.h"

#define CURLM_HDR_MAX	4096

struct curlm_xfer {
	struct curlm		*cm;
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*reqbody;
	char			*buf;		/* buffered mode */
	size_t			 len, cap, max;
	int			 toobig;
	curlm_data_fn		 on_data, on_header;
	curlm_done_fn		 on_done;
	void			*arg;
	char			 errbuf[CURL_ERROR_SIZE];
	struct curlm_xfer	*prev, *next;
};

struct curlm {
	struct loop		*loop;
	CURLM			*multi;
	uint64_t		 timer;
	struct curlm_xfer	*list;
	int			 n;
	int			 in_check;
};

static void curlm_check_done(struct curlm *);

static void
curlm_unlink(struct curlm_xfer *x)
{
	struct curlm *cm = x->cm;

	if (x->prev)
		x->prev->next = x->next;
	else
		cm->list = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	cm->n--;
}

static void
curlm_xfer_free(struct curlm_xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(x->cm->multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->hdrs);
	/* A request body may carry a secret (a hold invoice's preimage). */
	if (x->reqbody != NULL)
		explicit_bzero(x->reqbody, strlen(x->reqbody));
	free(x->reqbody);
	free(x->buf);
	free(x);
}

static void
curlm_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	struct curlm *cm = arg;
	int flags = 0, running;

	if (revents & POLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(cm->multi, fd, flags, &running);
	curlm_check_done(cm);
}

/* curl tells which sockets to watch; socketp marks those already in the loop. */
static int
curlm_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct curlm *cm = userp;
	short ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (socketp != NULL) {
			loop_del_fd(cm->loop, s);
			curl_multi_assign(cm->multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= POLLIN;
	if (what & CURL_POLL_OUT)
		ev |= POLLOUT;
	if (socketp != NULL)
		return loop_set_events(cm->loop, s, ev) == -1 ? -1 : 0;
	if (loop_add_fd(cm->loop, s, ev, curlm_on_fd, cm) == -1) {
		log_warn("curl: cannot watch socket %d", (int)s);
		return -1;
	}
	curl_multi_assign(cm->multi, s, cm);
	return 0;
}

static void
curlm_on_timer(struct loop *l, void *arg)
{
	struct curlm *cm = arg;
	int running;

	cm->timer = 0;
	curl_multi_socket_action(cm->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	curlm_check_done(cm);
}

static int
curlm_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct curlm *cm = userp;

	if (cm->timer) {
		loop_cancel_timer(cm->loop, cm->timer);
		cm->timer = 0;
	}
	if (timeout_ms < 0)
		return 0;
	/* Run from the loop, never from inside curl: no re-entry. */
	if ((cm->timer = loop_add_timer(cm->loop, (uint64_t)timeout_ms, curlm_on_timer, cm)) == 0)
		return -1;
	return 0;
}

/* Unlinked and removed from the multi first: on_done may start new transfers. */
static void
curlm_finish(struct curlm_xfer *x, CURLcode rc)
{
	struct curlm_result r;
	curl_off_t conn = 0;

	memset(&r, 0, sizeof(r));
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &conn);
	curlm_unlink(x);
	curl_multi_remove_handle(x->cm->multi, x->easy);
	r.ok = rc == CURLE_OK;
	r.curlcode = (int)rc;
	r.connected = conn > 0;
	r.error = x->toobig ? "response too large" : curl_easy_strerror(rc);
	r.detail = x->toobig || x->errbuf[0] == '\0' ? r.error : x->errbuf;
	r.body = x->buf != NULL ? x->buf : "";
	r.len = x->len;
	x->on_done(x->arg, x, &r);
	curlm_xfer_free(x);
}

/* Hand finished transfers to their owners, one at a time. */
static void
curlm_check_done(struct curlm *cm)
{
	struct curlm_xfer *x;
	CURLMsg *m;
	int left;

	if (cm->in_check)
		return;
	cm->in_check = 1;
	while ((m = curl_multi_info_read(cm->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		/* m is invalid once the handle is removed: pass the code by value. */
		if (x != NULL)
			curlm_finish(x, m->data.result);
	}
	cm->in_check = 0;
}

struct curlm *
curlm_new(struct loop *l)
{
	struct curlm *cm;

	if ((cm = calloc(1, sizeof(*cm))) == NULL)
		return NULL;
	cm->loop = l;
	if ((cm->multi = curl_multi_init()) == NULL) {
		free(cm);
		return NULL;
	}
	curl_multi_setopt(cm->multi, CURLMOPT_SOCKETFUNCTION, curlm_socket_cb);
	curl_multi_setopt(cm->multi, CURLMOPT_SOCKETDATA, cm);
	curl_multi_setopt(cm->multi, CURLMOPT_TIMERFUNCTION, curlm_timer_cb);
	curl_multi_setopt(cm->multi, CURLMOPT_TIMERDATA, cm);
	return cm;
}

void
curlm_cancel_all(struct curlm *cm, const char *why)
{
	struct curlm_result r;
	struct curlm_xfer *x;

	while ((x = cm->list) != NULL) {
		curlm_unlink(x);
		memset(&r, 0, sizeof(r));
		r.curlcode = CURLE_ABORTED_BY_CALLBACK;
		r.error = r.detail = why;
		r.body = "";
		x->on_done(x->arg, x, &r);
		curlm_xfer_free(x);
	}
}

void
curlm_free(struct curlm *cm)
{
	if (cm == NULL)
		return;
	while (cm->list != NULL)
		curlm_abort(cm, cm->list);
	if (cm->timer)
		loop_cancel_timer(cm->loop, cm->timer);
	curl_multi_cleanup(cm->multi);
	free(cm);
}

static size_t
curlm_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct curlm_xfer *x = arg;
	size_t add = size * nmemb, ncap;
	char *nb;

	if (x->on_data != NULL)
		return x->on_data(x->arg, p, add);
	if (add > x->max - x->len) {
		x->toobig = 1;
		return 0;	/* aborts the transfer */
	}
	if (x->len + add + 1 > x->cap) {
		ncap = (x->len + add + 1) * 2;
		if (ncap > x->max + 1)
			ncap = x->max + 1;
		if ((nb = realloc(x->buf, ncap)) == NULL)
			return 0;
		x->buf = nb;
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, p, add);
	x->len += add;
	x->buf[x->len] = '\0';
	return add;
}

static size_t
curlm_header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct curlm_xfer *x = arg;

	if (x->on_header)
		return x->on_header(x->arg, p, size * nmemb);
	return size * nmemb;
}

static int
curlm_add_header(struct curlm_xfer *x, const char *name, const char *value)
{
	char h[CURLM_HDR_MAX];
	struct curl_slist *t;
	int n;

	n = snprintf(h, sizeof(h), "%s: %s", name, value);
	t = n >= 0 && (size_t)n < sizeof(h) ? curl_slist_append(x->hdrs, h) : NULL;
	/* The value may be a key. */
	explicit_bzero(h, sizeof(h));
	if (t == NULL)
		return -1;
	x->hdrs = t;
	return 0;
}

static int
curlm_headers(struct curlm_xfer *x, const struct curlm_req *rq)
{
	if (rq->accept && curlm_add_header(x, "Accept", rq->accept) == -1)
		return -1;
	if (rq->body) {
		if (curlm_add_header(x, "Content-Type", "application/json") == -1)
			return -1;
		/* "Expect:" off: a 100-continue round trip would only add latency. */
		if ((x->hdrs = curl_slist_append(x->hdrs, "Expect:")) == NULL)
			return -1;
	}
	if (rq->bearer) {
		char v[CURLM_HDR_MAX];
		int rc;

		snprintf(v, sizeof(v), "Bearer %s", rq->bearer);
		rc = curlm_add_header(x, "Authorization", v);
		explicit_bzero(v, sizeof(v));
		if (rc == -1)
			return -1;
	}
	if (rq->hdr_name && curlm_add_header(x, rq->hdr_name, rq->hdr_value) == -1)
		return -1;
	return 0;
}

static void
curlm_setopts(struct curlm_xfer *x, const struct curlm_req *rq)
{
	CURL *e = x->easy;
	const char *method = rq->method ? rq->method : rq->body ? "POST" : "GET";

	curl_easy_setopt(e, CURLOPT_URL, rq->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* An http_proxy in the environment must not capture a local server. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, rq->connect_ms > 0 ? rq->connect_ms :
	    CURLM_CONNECT_MS);
	if (rq->total_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, rq->total_ms);
	if (rq->unix_socket)
		curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, rq->unix_socket);
	if (rq->user_agent)
		curl_easy_setopt(e, CURLOPT_USERAGENT, rq->user_agent);
	if (rq->ca_pem) {
		/* libcurl copies the blob; neither the system bundle nor CAPATH is consulted. */
		struct curl_blob ca = { (void *)rq->ca_pem, rq->ca_len, CURL_BLOB_COPY };

		curl_easy_setopt(e, CURLOPT_CAINFO_BLOB, &ca);
		curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
	}
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->reqbody);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->reqbody));
	} else if (strcmp(method, "GET") != 0)
		curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, curlm_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, curlm_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	if (rq->bufsize > 0)
		curl_easy_setopt(e, CURLOPT_BUFFERSIZE, rq->bufsize);
}

struct curlm_xfer *
curlm_start(struct curlm *cm, const struct curlm_req *rq)
{
	struct curlm_xfer *x = calloc(1, sizeof(*x));
	const char *method = rq->method ? rq->method : rq->body ? "POST" : "GET";

	if (x == NULL)
		return NULL;
	x->cm = cm;
	x->on_data = rq->on_data;
	x->on_header = rq->on_header;
	x->on_done = rq->on_done;
	x->arg = rq->arg;
	x->max = rq->max_body > 0 ? rq->max_body : CURLM_MAX_BODY;
	if ((x->easy = curl_easy_init()) == NULL || curlm_headers(x, rq) == -1)
		goto fail;
	if (strcmp(method, "POST") == 0 &&
	    (x->reqbody = strdup(rq->body != NULL ? rq->body : "{}")) == NULL)
		goto fail;
	curlm_setopts(x, rq);
	if (curl_multi_add_handle(cm->multi, x->easy) != CURLM_OK)
		goto fail;
	x->next = cm->list;
	if (cm->list)
		cm->list->prev = x;
	cm->list = x;
	cm->n++;
	return x;
fail:
	if (x->easy)
		curl_easy_cleanup(x->easy);
	x->easy = NULL;
	curlm_xfer_free(x);
	return NULL;
}

void
curlm_abort(struct curlm *cm, struct curlm_xfer *x)
{
	if (x == NULL)
		return;
	curlm_unlink(x);
	curlm_xfer_free(x);
}

long
curlm_status(struct curlm_xfer *x)
{
	long st = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
	return st;
}

int
curlm_active(const struct curlm *cm)
{
	return cm->n;
}

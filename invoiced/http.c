/*
 * http.c: HTTP requests for the wallet backends, libcurl's multi interface
 * driven by the daemon's one poll loop (socket and timer callbacks), so a
 * slow wallet never blocks the NDJSON side.
 */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "log.h"
#include "invoiced.h"

#define HTTP_MAX_BODY	(1024 * 1024)

struct http_call {
	struct http	 *h;
	CURL		 *easy;
	struct curl_slist *hdrs;
	char		 *reqbody;
	char		 *buf;
	size_t		  len, cap;
	int		  toobig;
	http_cb		  cb;
	void		 *arg;
	struct http_call *next;
};

struct http {
	struct loop	 *loop;
	CURLM		 *multi;
	uint64_t	  timer;
	struct http_call *calls;
	int		  ncalls;
};

static void http_check_done(struct http *);

static size_t
http_write(char *p, size_t sz, size_t n, void *arg)
{
	struct http_call *c = arg;
	size_t add = sz * n;
	char *nb;

	if (c->len + add > HTTP_MAX_BODY) {
		c->toobig = 1;
		return 0;	/* aborts the transfer */
	}
	if (c->len + add + 1 > c->cap) {
		size_t ncap = (c->len + add + 1) * 2;

		if (ncap > HTTP_MAX_BODY + 1)
			ncap = HTTP_MAX_BODY + 1;
		if ((nb = realloc(c->buf, ncap)) == NULL)
			return 0;
		c->buf = nb;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, p, add);
	c->len += add;
	c->buf[c->len] = '\0';
	return add;
}

static void
http_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	struct http *h = arg;
	int flags = 0, running;

	if (revents & POLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	http_check_done(h);
}

static int
http_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct http *h = userp;
	short ev = 0;

	if (what == CURL_POLL_REMOVE) {
		loop_del_fd(h->loop, s);
		curl_multi_assign(h->multi, s, NULL);
		return 0;
	}
	if (what & CURL_POLL_IN)
		ev |= POLLIN;
	if (what & CURL_POLL_OUT)
		ev |= POLLOUT;
	if (socketp == NULL) {
		if (loop_add_fd(h->loop, s, ev, http_on_fd, h) != 0)
			return -1;
		curl_multi_assign(h->multi, s, h);
	} else
		loop_set_events(h->loop, s, ev);
	return 0;
}

static void
http_on_timer(struct loop *l, void *arg)
{
	struct http *h = arg;
	int running;

	h->timer = 0;
	curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	http_check_done(h);
}

static int
http_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	struct http *h = userp;

	if (h->timer)
		loop_cancel_timer(h->loop, h->timer);
	h->timer = 0;
	if (timeout_ms >= 0)
		h->timer = loop_add_timer(h->loop, (uint64_t)timeout_ms, http_on_timer, h);
	return 0;
}

struct http *
http_new(struct loop *l)
{
	struct http *h;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NULL;
	h->loop = l;
	if ((h->multi = curl_multi_init()) == NULL) {
		free(h);
		return NULL;
	}
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, http_sock_cb);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, http_timer_cb);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	return h;
}

static void
http_unlink(struct http *h, struct http_call *c)
{
	struct http_call **pp;

	for (pp = &h->calls; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			h->ncalls--;
			return;
		}
}

static void
http_call_free(struct http_call *c)
{
	curl_multi_remove_handle(c->h->multi, c->easy);
	curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	/* A settle body carries a preimage. */
	if (c->reqbody != NULL)
		explicit_bzero(c->reqbody, strlen(c->reqbody));
	free(c->reqbody);
	free(c->buf);
	free(c);
}

/* Unlink first: the callback may start new requests. */
static void
http_finish(struct http_call *c, CURLcode rc)
{
	struct http_resp r;

	memset(&r, 0, sizeof(r));
	http_unlink(c->h, c);
	r.ok = rc == CURLE_OK;
	curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &r.status);
	r.body = c->buf != NULL ? c->buf : "";
	r.len = c->len;
	if (!r.ok)
		snprintf(r.error, sizeof(r.error), "%s", c->toobig ? "response too large" :
		    curl_easy_strerror(rc));
	c->cb(&r, c->arg);
	http_call_free(c);
}

static void
http_check_done(struct http *h)
{
	CURLMsg *m;
	int left;
	struct http_call *c;

	while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		c = NULL;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&c);
		if (c != NULL)
			http_finish(c, m->data.result);
	}
}

void
http_free(struct http *h)
{
	struct http_call *c;
	struct http_resp r;

	if (h == NULL)
		return;
	/* Every caller gets its one callback, so its context is freed too. */
	while ((c = h->calls) != NULL) {
		http_unlink(h, c);
		memset(&r, 0, sizeof(r));
		r.body = "";
		snprintf(r.error, sizeof(r.error), "shutting down");
		c->cb(&r, c->arg);
		http_call_free(c);
	}
	if (h->timer)
		loop_cancel_timer(h->loop, h->timer);
	curl_multi_cleanup(h->multi);
	free(h);
}

int
http_inflight(const struct http *h)
{
	return h->ncalls;
}

int
http_start(struct http *h, const struct http_req *req, http_cb cb, void *arg)
{
	struct http_call *c;
	char hdr[1200];

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->h = h;
	c->cb = cb;
	c->arg = arg;
	if ((c->easy = curl_easy_init()) == NULL)
		goto fail;
	curl_easy_setopt(c->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(c->easy, CURLOPT_PRIVATE, c);
	curl_easy_setopt(c->easy, CURLOPT_WRITEFUNCTION, http_write);
	curl_easy_setopt(c->easy, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(c->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->easy, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 15000L);
	curl_easy_setopt(c->easy, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
	curl_easy_setopt(c->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c->easy, CURLOPT_USERAGENT, "sellcompute-invoiced/1");
	if (req->unix_socket != NULL)
		curl_easy_setopt(c->easy, CURLOPT_UNIX_SOCKET_PATH, req->unix_socket);
	if (req->ca_pem != NULL) {
		/* libcurl copies the blob; the system CAs are not consulted. */
		struct curl_blob ca = { (void *)req->ca_pem, req->ca_len, CURL_BLOB_COPY };

		curl_easy_setopt(c->easy, CURLOPT_CAINFO_BLOB, &ca);
		curl_easy_setopt(c->easy, CURLOPT_CAPATH, NULL);
	}
	c->hdrs = curl_slist_append(NULL, "Accept: application/json");
	if (req->hdr_name != NULL) {
		snprintf(hdr, sizeof(hdr), "%s: %s", req->hdr_name, req->hdr_value);
		c->hdrs = curl_slist_append(c->hdrs, hdr);
		explicit_bzero(hdr, sizeof(hdr));
	}
	if (strcmp(req->method, "POST") == 0) {
		if ((c->reqbody = strdup(req->body != NULL ? req->body : "{}")) == NULL)
			goto fail;
		c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
		curl_easy_setopt(c->easy, CURLOPT_POSTFIELDS, c->reqbody);
	}
	curl_easy_setopt(c->easy, CURLOPT_HTTPHEADER, c->hdrs);
	if (curl_multi_add_handle(h->multi, c->easy) != CURLM_OK)
		goto fail;
	c->next = h->calls;
	h->calls = c;
	h->ncalls++;
	return 0;
fail:
	if (c->easy != NULL)
		curl_easy_cleanup(c->easy);
	curl_slist_free_all(c->hdrs);
	free(c->reqbody);
	free(c);
	return -1;
}

void
http_describe_error(const struct http_resp *r, const char *who, const char *field,
    char *err, size_t errlen)
{
	cJSON *j;
	const cJSON *f;

	if (!r->ok) {
		snprintf(err, errlen, "%s: %.200s", who, r->error);
		return;
	}
	j = cJSON_ParseWithLength(r->body, r->len);
	f = cJSON_GetObjectItemCaseSensitive(j, field);
	if (cJSON_IsString(f))
		snprintf(err, errlen, "%s: HTTP %ld: %.200s", who, r->status, f->valuestring);
	else
		snprintf(err, errlen, "%s: HTTP %ld", who, r->status);
	cJSON_Delete(j);
}

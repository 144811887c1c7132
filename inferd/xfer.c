/*
 * xfer.c: every HTTP transfer of the daemon runs in one libcurl multi
 * handle driven by the poll loop (CURLMOPT_SOCKETFUNCTION registers curl's
 * sockets with the loop, CURLMOPT_TIMERFUNCTION arms one loop timer, and
 * curl_multi_socket_action does the work). No thread per job.
 *
 * Rule for callers: on_data/on_header run inside curl and must not call
 * xfer_abort or xfer_start; they return 0 to stop the transfer instead.
 * on_done runs outside curl and may start or abort other transfers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "inferd.h"
#include "loop.h"

struct xfer {
	CURL			*easy;
	struct curl_slist	*hdrs;
	char			*body;
	struct xfer_spec	 spec;
	char			 errbuf[CURL_ERROR_SIZE];
	struct xfer		*prev, *next;
};

static struct {
	struct loop	*loop;
	CURLM		*multi;
	uint64_t	 timer;
	struct xfer	*list;
	int		 in_check;
} X;

static void xfer_check_done(void);

static void
xfer_unlink(struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		X.list = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

static void
xfer_free(struct xfer *x)
{
	if (x->easy) {
		curl_multi_remove_handle(X.multi, x->easy);
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->hdrs);
	free(x->body);
	free(x);
}

static void
xfer_on_fd(struct loop *l, int fd, short revents, void *arg)
{
	int flags = 0, running;

	if (revents & POLLIN)
		flags |= CURL_CSELECT_IN;
	if (revents & POLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (revents & (POLLERR | POLLHUP | POLLNVAL))
		flags |= CURL_CSELECT_ERR;
	curl_multi_socket_action(X.multi, fd, flags, &running);
	xfer_check_done();
}

/* curl tells which sockets to watch; socketp marks those already in the loop. */
static int
xfer_socket_cb(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
	short ev = 0;

	if (what == CURL_POLL_REMOVE) {
		if (socketp != NULL) {
			loop_del_fd(X.loop, s);
			curl_multi_assign(X.multi, s, NULL);
		}
		return 0;
	}
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= POLLIN;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= POLLOUT;
	if (socketp != NULL)
		return loop_set_events(X.loop, s, ev) == -1 ? -1 : 0;
	if (loop_add_fd(X.loop, s, ev, xfer_on_fd, NULL) == -1) {
		log_warn("xfer: cannot watch socket %d", (int)s);
		return -1;
	}
	curl_multi_assign(X.multi, s, &X);
	return 0;
}

static void
xfer_on_timer(struct loop *l, void *arg)
{
	int running;

	X.timer = 0;
	curl_multi_socket_action(X.multi, CURL_SOCKET_TIMEOUT, 0, &running);
	xfer_check_done();
}

static int
xfer_timer_cb(CURLM *m, long timeout_ms, void *userp)
{
	if (X.timer) {
		loop_cancel_timer(X.loop, X.timer);
		X.timer = 0;
	}
	if (timeout_ms < 0)
		return 0;
	/* Run from the loop, never from inside curl: no re-entry. */
	if ((X.timer = loop_add_timer(X.loop, (uint64_t)timeout_ms, xfer_on_timer, NULL)) == 0)
		return -1;
	return 0;
}

/* Hand finished transfers to their owners, one at a time. */
static void
xfer_check_done(void)
{
	CURLMsg *m;
	int left;

	if (X.in_check)
		return;
	X.in_check = 1;
	while ((m = curl_multi_info_read(X.multi, &left)) != NULL) {
		struct xfer *x = NULL;
		long status = 0;
		curl_off_t conn = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
		if (x == NULL)
			continue;
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
		curl_easy_getinfo(x->easy, CURLINFO_CONNECT_TIME_T, &conn);
		xfer_unlink(x);
		{
			CURLcode rc = m->data.result;
			const char *msg = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);

			/* m is invalid once the handle is removed: copy first. */
			curl_multi_remove_handle(X.multi, x->easy);
			x->spec.on_done(x->spec.arg, x, (int)rc, status, conn > 0, msg);
		}
		xfer_free(x);
	}
	X.in_check = 0;
}

int
xfer_init(struct loop *l)
{
	X.loop = l;
	if ((X.multi = curl_multi_init()) == NULL)
		return -1;
	curl_multi_setopt(X.multi, CURLMOPT_SOCKETFUNCTION, xfer_socket_cb);
	curl_multi_setopt(X.multi, CURLMOPT_TIMERFUNCTION, xfer_timer_cb);
	return 0;
}

void
xfer_cleanup(void)
{
	while (X.list)
		xfer_abort(X.list);
	if (X.timer)
		loop_cancel_timer(X.loop, X.timer);
	X.timer = 0;
	if (X.multi)
		curl_multi_cleanup(X.multi);
	X.multi = NULL;
}

static size_t
xfer_write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;

	return x->spec.on_data(x->spec.arg, p, size * nmemb);
}

static size_t
xfer_header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;

	if (x->spec.on_header)
		return x->spec.on_header(x->spec.arg, p, size * nmemb);
	return size * nmemb;
}

static int
xfer_headers(struct xfer *x, const struct xfer_spec *sp)
{
	char h[CONF_MAX_STR + 64];
	struct curl_slist *t;

	/* "Expect:" off: a 100-continue round trip would only add latency. */
	const char *fixed[] = { "Content-Type: application/json", "Expect:" };
	size_t i;

	for (i = 0; i < 2; i++) {
		if ((t = curl_slist_append(x->hdrs, fixed[i])) == NULL)
			return -1;
		x->hdrs = t;
	}
	if (sp->accept) {
		snprintf(h, sizeof(h), "Accept: %s", sp->accept);
		if ((t = curl_slist_append(x->hdrs, h)) == NULL)
			return -1;
		x->hdrs = t;
	}
	if (sp->bearer) {
		snprintf(h, sizeof(h), "Authorization: Bearer %s", sp->bearer);
		t = curl_slist_append(x->hdrs, h);
		memset(h, 0, sizeof(h));
		if (t == NULL)
			return -1;
		x->hdrs = t;
	}
	return 0;
}

/* Start a transfer; NULL on failure (nothing is called back then). */
struct xfer *
xfer_start(const struct xfer_spec *sp)
{
	struct xfer *x = calloc(1, sizeof(*x));
	CURL *e;

	if (x == NULL)
		return NULL;
	x->spec = *sp;
	if ((e = x->easy = curl_easy_init()) == NULL || xfer_headers(x, sp) == -1)
		goto fail;
	if (sp->body && (x->body = strdup(sp->body)) == NULL)
		goto fail;
	curl_easy_setopt(e, CURLOPT_URL, sp->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	/* An http_proxy in the environment must not capture a local Ollama. */
	curl_easy_setopt(e, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->hdrs);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, sp->connect_ms);
	if (sp->total_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, sp->total_ms);
	if (x->body) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->body);
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(x->body));
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, xfer_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, xfer_header_cb);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_PRIVATE, x);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Streams are lines of a few hundred bytes: a small buffer per transfer keeps 100 cheap. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 4096L);
	if (curl_multi_add_handle(X.multi, e) != CURLM_OK)
		goto fail;
	x->next = X.list;
	if (X.list)
		X.list->prev = x;
	X.list = x;
	return x;
fail:
	if (x->easy)
		curl_easy_cleanup(x->easy);
	x->easy = NULL;
	xfer_free(x);
	return NULL;
}

/*
 * Stop now and free; on_done is not called. Removing the handle closes its
 * connection, which is how Ollama learns to stop generating.
 */
void
xfer_abort(struct xfer *x)
{
	if (x == NULL)
		return;
	xfer_unlink(x);
	xfer_free(x);
}

long
xfer_status(struct xfer *x)
{
	long st = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &st);
	return st;
}

int
xfer_active(void)
{
	return X.list != NULL;
}

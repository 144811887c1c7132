/*
 * rest.c: one request to a wallet's JSON-over-HTTP API (LNbits, the Spark
 * bridge) and the part of answering it every backend shares: the body
 * parsed, a failure described in one line, the caller's callback context
 * kept and freed. The backends keep only what differs: the paths, the
 * statuses they accept and the fields they read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlm.h"
#include "log.h"
#include "invoiced.h"

struct rest_pending {
	rest_handler	 handler;
	struct rest_call call;
	const char	*who;
	const char	*err_field;
};

/*
 * "WHO: <transport error>", or "WHO: HTTP <status>[: <the body's
 * err_field>]" (quoted, cut at 200 bytes).
 */
static void
rest_describe(const struct curlm_result *r, const cJSON *j, const char *who,
    const char *field, char *err, size_t errlen)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, field);

	if (!r->ok)
		snprintf(err, errlen, "%s: %.200s", who, r->error);
	else if (cJSON_IsString(f))
		snprintf(err, errlen, "%s: HTTP %ld: %.200s", who, r->status, f->valuestring);
	else
		snprintf(err, errlen, "%s: HTTP %ld", who, r->status);
}

static void
rest_done(void *arg, struct curlm_xfer *x, const struct curlm_result *r)
{
	struct rest_pending *p = arg;
	struct rest_reply rep;
	cJSON *j = NULL;

	memset(&rep, 0, sizeof(rep));
	rep.ok = r->ok;
	rep.status = r->status;
	if (r->ok)
		j = cJSON_ParseWithLength(r->body, r->len);
	rep.json = j;
	rest_describe(r, j, p->who, p->err_field, rep.error, sizeof(rep.error));
	p->handler(&rep, &p->call);
	cJSON_Delete(j);
	free(p);
}

int
rest_request(const struct rest *api, const char *method, const char *path, const char *body,
    long timeout_ms, rest_handler h, const struct rest_call *call)
{
	struct rest_pending *p;
	struct curlm_req rq;
	char url[REST_URL_MAX + 600];

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	p->handler = h;
	p->call = *call;
	p->who = api->who;
	p->err_field = api->err_field;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", api->base, path) >= sizeof(url)) {
		free(p);
		return -1;
	}
	memset(&rq, 0, sizeof(rq));
	rq.method = method;
	rq.url = url;
	rq.unix_socket = api->unix_path;
	/* A POST always carries a JSON object, if only an empty one. */
	rq.body = body != NULL ? body : strcmp(method, "POST") == 0 ? "{}" : NULL;
	rq.accept = "application/json";
	if (api->key != NULL) {
		rq.hdr_name = api->key_header;
		rq.hdr_value = api->key;
	}
	rq.user_agent = "sellcompute-invoiced/1";
	rq.connect_ms = REST_CONNECT_MS;
	rq.total_ms = timeout_ms > 0 ? timeout_ms : REST_TIMEOUT_MS;
	rq.on_done = rest_done;
	rq.arg = p;
	if (curlm_start(api->cm, &rq) == NULL) {
		free(p);
		return -1;
	}
	return 0;
}

int
rest_status_is(const struct rest_reply *r, long a, long b)
{
	return r->ok && (r->status == a || r->status == b);
}

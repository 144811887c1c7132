/*
 * job.c: the job table. One job is one infer request: it runs as one
 * transfer at a time (a second attempt on another backend only when the
 * first failed before any text), streams coalesced chunk lines to the client
 * that last asked for it, and ends in exactly one done or error line.
 *
 * Idempotence: an infer for a running job attaches to it; an infer for a
 * job finished in the last CACHE_TTL_MS gets the stored answer (cache.c).
 *
 * Timeouts, each its own error code: connect (curl), first byte (from the
 * start of an attempt to the first response byte, headers included: Ollama
 * sends nothing while the model loads), idle (between any two bytes after
 * that; SSE comments count), total (from the job's arrival).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curlm.h"
#include "inferd.h"
#include "loop.h"

enum fail_kind {
	F_UNKNOWN_MODEL, F_BACKEND_DOWN, F_BUSY, F_TIMEOUT_CONNECT, F_TIMEOUT_FIRST_BYTE,
	F_TIMEOUT_IDLE, F_TIMEOUT_TOTAL, F_BACKEND_ERROR, F_BACKEND_ERROR_FINAL,
	F_INCOMPLETE, F_CANCELLED, F_SHUTDOWN
};

static const struct {
	const char	*code;
	int		 retryable;	/* for jobd: worth asking again later */
	int		 failover;	/* before the first token: try another backend */
} fails[] = {
	[F_UNKNOWN_MODEL]	= { "unknown_model", 0, 1 },
	[F_BACKEND_DOWN]	= { "backend_down", 1, 1 },
	[F_BUSY]		= { "busy", 1, 1 },
	[F_TIMEOUT_CONNECT]	= { "timeout_connect", 1, 1 },
	/* Both are long and would only repeat: jobd should not ask again. */
	[F_TIMEOUT_FIRST_BYTE]	= { "timeout_first_byte", 0, 1 },
	[F_TIMEOUT_IDLE]	= { "timeout_idle", 1, 0 },
	[F_TIMEOUT_TOTAL]	= { "timeout_total", 0, 0 },
	[F_BACKEND_ERROR]	= { "backend_error", 1, 1 },
	[F_BACKEND_ERROR_FINAL]	= { "backend_error", 0, 0 },
	[F_INCOMPLETE]		= { "incomplete", 1, 1 },
	[F_CANCELLED]		= { "cancelled", 0, 0 },
	[F_SHUTDOWN]		= { "shutdown", 1, 0 },
};

struct job {
	struct inferd	*in;
	struct infer_req req;
	struct srv_client	*client;	/* NULL while no one listens */
	char		*body;		/* the backend request, built once */
	struct backend	*be, *failed_be;
	struct curlm_xfer *x;
	struct stream	 st;
	int		 attempts;
	int		 truncated;
	int		 got_byte;	/* any byte of this attempt */
	char		*text;		/* the answer so far */
	size_t		 tlen, tcap, sent;	/* sent: bytes already in chunk lines */
	char		*errbody;	/* an HTTP error's body */
	size_t		 elen, ecap;
	uint64_t	 start_ms, attempt_ms, activity_ms, last_chunk_ms;
	uint64_t	 t_total, t_progress, t_chunk;
	struct job	*prev, *next;
};

static void job_attempt(struct job *);

size_t
job_running(struct inferd *in)
{
	return in->jobs.n;
}

static struct job *
job_find(struct inferd *in, const char *id)
{
	struct job *j;

	for (j = in->jobs.head; j; j = j->next)
		if (strcmp(j->req.job, id) == 0)
			return j;
	return NULL;
}

/* Stop the current transfer, if any, and give its backend slot back. */
static void
job_stop_xfer(struct job *j)
{
	if (j->x) {
		curlm_abort(j->in->curlm, j->x);
		j->x = NULL;
	}
	if (j->be) {
		j->be->inflight--;
		j->be = NULL;
	}
	loop_cancel_timer(j->in->loop, j->t_progress);
	j->t_progress = 0;
}

static void
job_unlink_free(struct job *j)
{
	job_stop_xfer(j);
	loop_cancel_timer(j->in->loop, j->t_total);
	loop_cancel_timer(j->in->loop, j->t_chunk);
	if (j->prev)
		j->prev->next = j->next;
	else
		j->in->jobs.head = j->next;
	if (j->next)
		j->next->prev = j->prev;
	j->in->jobs.n--;
	stream_free(&j->st);
	req_free(&j->req);
	free(j->body);
	free(j->text);
	free(j->errbody);
	free(j);
}

/* One chunk line of text[from..to), cleaned to valid UTF-8. */
static void
job_send_chunk(struct job *j, size_t from, size_t to)
{
	char *t = utf8_clean(j->text + from, to - from, NULL);
	cJSON *o = cJSON_CreateObject();

	if (t && o && cJSON_AddStringToObject(o, "op", "chunk") &&
	    cJSON_AddStringToObject(o, "job", j->req.job) &&
	    cJSON_AddStringToObject(o, "text", t))
		srv_send(j->client, o);
	cJSON_Delete(o);
	free(t);
}

/*
 * Send the unsent text as chunk lines of at most CHUNK_PIECE_MAX bytes.
 * Unless final, a character cut short at the end waits for its rest.
 */
static void
job_flush_chunks(struct job *j, int final)
{
	size_t end = final ? j->tlen : j->sent + utf8_whole_len(j->text + j->sent, j->tlen - j->sent);

	loop_cancel_timer(j->in->loop, j->t_chunk);
	j->t_chunk = 0;
	while (j->client && j->req.stream && j->sent < end) {
		size_t n = end - j->sent;

		if (n > CHUNK_PIECE_MAX) {
			n = CHUNK_PIECE_MAX;
			/* Never split a UTF-8 sequence. */
			while (n > 1 && ((unsigned char)j->text[j->sent + n] & 0xC0) == 0x80)
				n--;
		}
		job_send_chunk(j, j->sent, j->sent + n);
		j->sent += n;
	}
	j->sent = end;
	j->last_chunk_ms = now_ms();
}

static void
job_chunk_timer(struct loop *l, void *arg)
{
	struct job *j = arg;

	j->t_chunk = 0;
	job_flush_chunks(j, 0);
}

/* At most one chunk line per job per chunk_interval_ms. */
static void
job_chunk_schedule(struct job *j)
{
	uint64_t now = now_ms(), iv = (uint64_t)j->in->conf.chunk_interval_ms;

	if (!j->client || !j->req.stream || j->t_chunk)
		return;
	if (now - j->last_chunk_ms >= iv)
		job_flush_chunks(j, 0);
	else
		j->t_chunk = loop_add_timer(j->in->loop, iv - (now - j->last_chunk_ms), job_chunk_timer, j);
}

/* Deliver the final line to the client (if any) and maybe cache it. */
static void
job_deliver(struct job *j, cJSON *o, int cache)
{
	char *line = cJSON_PrintUnformatted(o);

	if (line == NULL) {
		log_warnx("job %.12s: out of memory for the answer", j->req.job);
		return;
	}
	if (j->client)
		srv_send_line(j->client, line, strlen(line));
	if (cache)
		cache_put(&j->in->cache, j->req.job, line);
	free(line);
}

static void
job_fail(struct job *j, enum fail_kind k, const char *why)
{
	cJSON *o = cJSON_CreateObject();
	/* Backend words end up in here: keep the JSON valid UTF-8. */
	char *msg = utf8_clean(why, strlen(why), NULL);

	log_info("job %.12s: error %s: %s", j->req.job, fails[k].code, msg ? msg : why);
	job_stop_xfer(j);
	if (o && msg && cJSON_AddStringToObject(o, "op", "error") &&
	    cJSON_AddStringToObject(o, "job", j->req.job) &&
	    cJSON_AddStringToObject(o, "code", fails[k].code) &&
	    cJSON_AddStringToObject(o, "message", msg) &&
	    cJSON_AddBoolToObject(o, "retryable", fails[k].retryable))
		/* Retryable outcomes and cancels are not final: a new infer runs again. */
		job_deliver(j, o, !fails[k].retryable && k != F_CANCELLED);
	cJSON_Delete(o);
	free(msg);
	job_unlink_free(j);
}

/* Cut the text so the done line fits one NDJSON line; UTF-8 safe. */
static void
job_shrink_text(struct job *j, size_t to)
{
	while (to > 0 && ((unsigned char)j->text[to] & 0xC0) == 0x80)
		to--;
	j->tlen = to;
	j->text[to] = '\0';
	if (j->sent > to)
		j->sent = to;
	j->truncated = 1;
}

static cJSON *
job_done_json(struct job *j, const char *reason, long long pt, long long ct, const char *url)
{
	cJSON *o = cJSON_CreateObject();
	char *t = utf8_clean(j->text ? j->text : "", j->tlen, NULL);
	int ok;

	ok = t && o && cJSON_AddStringToObject(o, "op", "done") &&
	    cJSON_AddStringToObject(o, "job", j->req.job) &&
	    cJSON_AddStringToObject(o, "text", t) &&
	    cJSON_AddNumberToObject(o, "prompt_tokens", (double)pt) &&
	    cJSON_AddNumberToObject(o, "completion_tokens", (double)ct) &&
	    cJSON_AddStringToObject(o, "done_reason", reason) &&
	    cJSON_AddStringToObject(o, "model", j->req.model) &&
	    cJSON_AddStringToObject(o, "backend", url) &&
	    cJSON_AddNumberToObject(o, "ms", (double)(now_ms() - j->start_ms));
	free(t);
	if (ok)
		return o;
	cJSON_Delete(o);
	return NULL;
}

static void
job_succeed(struct job *j)
{
	const struct stream *s = &j->st;
	long long pt = s->prompt_tokens, ct = s->completion_tokens;
	char url[CONF_MAX_STR];
	const char *reason;
	cJSON *o;
	char *line;

	snprintf(url, sizeof(url), "%s", j->be ? j->be->name : "");
	if (j->be)
		pool_mark(j->be, 1, NULL);
	job_stop_xfer(j);
	/* Cut short by inferd: the final chunk never came, so count deltas. */
	if (j->truncated && !s->have_usage)
		ct = (long long)s->deltas;
	for (;;) {
		reason = j->truncated ? "truncated" :
		    strcmp(s->done_reason, "length") == 0 ? "length" : "stop";
		if ((o = job_done_json(j, reason, pt, ct, url)) == NULL) {
			job_fail(j, F_BACKEND_ERROR_FINAL, "out of memory");
			return;
		}
		if ((line = cJSON_PrintUnformatted(o)) == NULL ||
		    strlen(line) < NDJSON_MAX_LINE - 1 || j->tlen == 0)
			break;
		free(line);
		cJSON_Delete(o);
		job_shrink_text(j, j->tlen / 2);
	}
	free(line);
	job_flush_chunks(j, 1);
	log_info("job %.12s: done %s, %lld+%lld tokens, %zu bytes, %llu ms, %s", j->req.job,
	    reason, pt, ct, j->tlen, (unsigned long long)(now_ms() - j->start_ms), url);
	job_deliver(j, o, 1);
	cJSON_Delete(o);
	job_unlink_free(j);
}

/* Text from the stream: keep it within infer_max_output. */
static int
job_on_text(void *arg, const char *s, size_t n)
{
	struct job *j = arg;
	size_t max = (size_t)j->in->conf.infer_max_output, room;

	room = j->tlen < max ? max - j->tlen : 0;
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
			n--;
		j->truncated = 1;
	}
	if (n > 0 && stream_append(&j->text, &j->tlen, &j->tcap, s, n, max) == -1) {
		j->truncated = 1;
		return 1;
	}
	if (n > 0)
		job_chunk_schedule(j);
	return j->truncated;
}

static void job_progress_timer(struct loop *, void *);

/*
 * Any byte is progress. The first one swaps the first-byte deadline for the
 * idle one; later ones only move activity_ms (the timer re-arms lazily).
 */
static void
job_activity(struct job *j)
{
	j->activity_ms = now_ms();
	if (j->got_byte)
		return;
	j->got_byte = 1;
	loop_cancel_timer(j->in->loop, j->t_progress);
	j->t_progress = loop_add_timer(j->in->loop, (uint64_t)j->in->conf.infer_idle_timeout * 1000,
	    job_progress_timer, j);
}

static size_t
job_on_header(void *arg, const char *p, size_t n)
{
	job_activity(arg);
	return n;
}

static size_t
job_on_data(void *arg, const char *p, size_t n)
{
	struct job *j = arg;

	job_activity(j);
	if (curlm_status(j->x) >= 300) {
		/* Keep the error body (bounded) for the message. */
		if (j->elen < ERRBODY_MAX)
			stream_append(&j->errbody, &j->elen, &j->ecap, p,
			    n < ERRBODY_MAX - j->elen ? n : ERRBODY_MAX - j->elen, ERRBODY_MAX);
		return n;
	}
	if (stream_feed(&j->st, p, n) == -1)
		return 0;	/* stop: curl ends with CURLE_WRITE_ERROR */
	return n;
}

/* Either fail, or (before any text, once) try another backend. */
static void
job_attempt_failed(struct job *j, enum fail_kind k, const char *msg)
{
	log_info("job %.12s: attempt %d on %s failed: %s: %s", j->req.job, j->attempts,
	    j->be ? j->be->name : "-", fails[k].code, msg);
	/* A missing model is only worth another try where the model is known to be. */
	if (fails[k].failover && j->tlen == 0 && j->attempts < 2 && pool_size(j->in) > 1 &&
	    (k != F_UNKNOWN_MODEL || pool_model_elsewhere(j->be, j->req.model))) {
		int busy;
		struct backend *nb;

		j->failed_be = j->be;
		nb = pool_pick(j->in, j->req.model, j->failed_be, &busy);
		if (nb != NULL) {
			job_stop_xfer(j);
			job_attempt(j);
			return;
		}
	}
	job_fail(j, k, msg);
}

/* The error's text from an HTTP error body, for the message. */
static void
job_http_error(struct job *j, long status)
{
	char msg[768];
	const char *said = "";
	cJSON *b = j->errbody ? cJSON_ParseWithLength(j->errbody, j->elen) : NULL;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(b, "error");
	const char *url = j->be->name;	/* for messages: no user info */

	if (e != NULL)
		said = error_message_of(e);
	else if (j->errbody)
		said = j->errbody;
	if (status == 404) {
		snprintf(msg, sizeof(msg), "model %s not found on backend %s (%.300s)",
		    j->req.model, url, said);
		catalog_gone(j->be, j->req.model);
		job_attempt_failed(j, F_UNKNOWN_MODEL, msg);
	} else {
		snprintf(msg, sizeof(msg), "backend %s: HTTP %ld: %.300s", url, status, said);
		if (status == 503 || status == 429)
			job_attempt_failed(j, F_BUSY, msg);
		else if (status >= 500)
			job_attempt_failed(j, F_BACKEND_ERROR, msg);
		else
			job_attempt_failed(j, F_BACKEND_ERROR_FINAL, msg);
	}
	cJSON_Delete(b);
}

static void
job_on_done(void *arg, struct curlm_xfer *x, const struct curlm_result *r)
{
	struct job *j = arg;
	char msg[768];
	const char *url = j->be->name;	/* for messages: no user info */

	j->x = NULL;	/* curlm frees it */
	if (j->st.stopped) {
		job_succeed(j);	/* the output cap stopped it */
		return;
	}
	if (r->status >= 300 && j->st.failed == 0) {
		job_http_error(j, r->status);
		return;
	}
	if (j->st.failed) {
		snprintf(msg, sizeof(msg), "backend %s: %s", url, j->st.error ? j->st.error : "stream error");
		job_attempt_failed(j, j->st.error_line ? F_BACKEND_ERROR : F_BACKEND_ERROR_FINAL, msg);
		return;
	}
	if (!r->ok) {
		snprintf(msg, sizeof(msg), "backend %s: %s", url, r->detail);
		if (!r->connected) {
			pool_mark(j->be, 0, r->detail);
			job_attempt_failed(j, r->curlcode == 28 /* CURLE_OPERATION_TIMEDOUT */ ?
			    F_TIMEOUT_CONNECT : F_BACKEND_DOWN, msg);
		} else if (!j->got_byte)
			job_attempt_failed(j, F_BACKEND_DOWN, msg);
		else
			job_attempt_failed(j, F_INCOMPLETE, msg);
		return;
	}
	switch (stream_eof(&j->st)) {
	case SE_COMPLETE:
		if (j->tlen == 0) {
			/* A requester would pay for nothing (Ollama does this when its tool-call parser fails). */
			snprintf(msg, sizeof(msg), "backend %s: empty answer (done_reason %s)", url,
			    j->st.done_reason[0] ? j->st.done_reason : "none");
			job_attempt_failed(j, F_BACKEND_ERROR, msg);
		} else
			job_succeed(j);
		break;
	case SE_FAILED:
		snprintf(msg, sizeof(msg), "backend %s: %s", url, j->st.error ? j->st.error : "stream error");
		job_attempt_failed(j, j->st.error_line ? F_BACKEND_ERROR : F_BACKEND_ERROR_FINAL, msg);
		break;
	case SE_INCOMPLETE:
		snprintf(msg, sizeof(msg), "backend %s: stream ended without done", url);
		job_attempt_failed(j, F_INCOMPLETE, msg);
		break;
	}
}

/* First-byte then idle deadline, re-armed lazily rather than per byte. */
static void
job_progress_timer(struct loop *l, void *arg)
{
	struct job *j = arg;
	uint64_t now = now_ms(), deadline;
	char msg[256];

	j->t_progress = 0;
	if (j->got_byte)
		deadline = j->activity_ms + (uint64_t)j->in->conf.infer_idle_timeout * 1000;
	else
		deadline = j->attempt_ms + (uint64_t)j->in->conf.infer_first_byte_timeout * 1000;
	if (now < deadline) {
		j->t_progress = loop_add_timer(j->in->loop, deadline - now, job_progress_timer, j);
		return;
	}
	if (j->got_byte) {
		snprintf(msg, sizeof(msg), "backend %s: no data for %d s", j->be->name,
		    j->in->conf.infer_idle_timeout);
		job_attempt_failed(j, F_TIMEOUT_IDLE, msg);
	} else {
		snprintf(msg, sizeof(msg), "backend %s: no answer within %d s", j->be->name,
		    j->in->conf.infer_first_byte_timeout);
		job_attempt_failed(j, F_TIMEOUT_FIRST_BYTE, msg);
	}
}

static void
job_total_timer(struct loop *l, void *arg)
{
	struct job *j = arg;
	char msg[128];

	j->t_total = 0;
	snprintf(msg, sizeof(msg), "job took longer than %d s", j->in->conf.infer_total_timeout);
	job_fail(j, F_TIMEOUT_TOTAL, msg);
}

/* Start one attempt on the best backend other than the one that failed. */
static void
job_attempt(struct job *j)
{
	char url[CONF_MAX_STR + 32];
	struct curlm_req sp = { 0 };
	struct backend *b;
	int busy;

	if ((b = pool_pick(j->in, j->req.model, j->failed_be, &busy)) == NULL) {
		job_fail(j, busy ? F_BUSY : F_BACKEND_DOWN, busy ?
		    "every backend is at its in-flight limit" : "no backend available");
		return;
	}
	j->attempts++;
	j->be = b;
	b->inflight++;
	j->got_byte = 0;
	j->elen = 0;
	stream_free(&j->st);
	stream_init(&j->st, b->kind == BACKEND_OPENAI ? SK_OPENAI :
	    j->req.prompt ? SK_OLLAMA_GENERATE : SK_OLLAMA_CHAT, job_on_text, j);
	snprintf(url, sizeof(url), "%s%s", b->url,
	    b->kind == BACKEND_OPENAI ? "/v1/chat/completions" : ollama_path(&j->req));
	sp.url = url;
	sp.body = j->body;
	sp.accept = b->kind == BACKEND_OPENAI ? "text/event-stream" : "application/x-ndjson";
	sp.bearer = b->kind == BACKEND_OPENAI ? j->in->api_key : NULL;
	sp.connect_ms = (long)j->in->conf.infer_connect_timeout * 1000;
	/* Streams are lines of a few hundred bytes: a small buffer per transfer keeps 100 cheap. */
	sp.bufsize = 4096;
	sp.on_data = job_on_data;
	sp.on_header = job_on_header;
	sp.on_done = job_on_done;
	sp.arg = j;
	j->attempt_ms = j->activity_ms = now_ms();
	if ((j->x = curlm_start(j->in->curlm, &sp)) == NULL) {
		job_fail(j, F_BACKEND_ERROR_FINAL, "cannot start the transfer");
		return;
	}
	j->t_progress = loop_add_timer(j->in->loop, (uint64_t)j->in->conf.infer_first_byte_timeout * 1000,
	    job_progress_timer, j);
	log_debug("job %.12s: attempt %d on %s", j->req.job, j->attempts, b->name);
}

/*
 * An infer line, validated. Takes over r (its contents are moved or freed).
 */
void
job_submit(struct inferd *in, struct srv_client *c, struct infer_req *r)
{
	const char *cached;
	struct job *j;

	if ((j = job_find(in, r->job)) != NULL) {
		/* Attach: the newcomer gets what it missed as one chunk. */
		log_info("job %.12s: attached to the running job", r->job);
		if (j->client != c) {
			j->client = c;
			j->sent = 0;
		}
		j->req.stream = r->stream;
		if (j->tlen > j->sent)
			job_flush_chunks(j, 0);
		req_free(r);
		return;
	}
	if ((cached = cache_find(&in->cache, r->job)) != NULL) {
		log_info("job %.12s: answered from the cache", r->job);
		srv_send_line(c, cached, strlen(cached));
		req_free(r);
		return;
	}
	if ((j = calloc(1, sizeof(*j))) == NULL) {
		srv_send_error(c, r->job, "busy", "out of memory", 1);
		req_free(r);
		return;
	}
	j->in = in;
	j->req = *r;
	memset(r, 0, sizeof(*r));
	j->client = c;
	j->start_ms = now_ms();
	req_apply_defaults(&j->req, &j->in->conf);
	j->body = j->in->conf.infer_backend == BACKEND_OPENAI ? openai_build_body(&j->req) :
	    ollama_build_body(&j->req, j->in->conf.keep_alive);
	j->next = in->jobs.head;
	if (in->jobs.head)
		in->jobs.head->prev = j;
	in->jobs.head = j;
	in->jobs.n++;
	if (j->body == NULL) {
		job_fail(j, F_BACKEND_ERROR_FINAL, "out of memory building the request");
		return;
	}
	log_info("job %.12s: model %s, %s", j->req.job, j->req.model,
	    j->req.prompt ? "prompt" : "chat");
	j->t_total = loop_add_timer(j->in->loop, (uint64_t)j->in->conf.infer_total_timeout * 1000,
	    job_total_timer, j);
	job_attempt(j);
}

void
job_cancel(struct inferd *in, const char *id)
{
	struct job *j = job_find(in, id);

	if (j == NULL) {
		log_debug("cancel %.12s: no such job", id);
		return;
	}
	job_fail(j, F_CANCELLED, "cancelled");
}

size_t
job_count_for(struct inferd *in, const struct srv_client *c)
{
	const struct job *j;
	size_t n = 0;

	for (j = in->jobs.head; j; j = j->next)
		n += j->client == c;
	return n;
}

/* The client went away: the jobs run on, their answers wait in the cache. */
void
job_client_gone(struct inferd *in, struct srv_client *c)
{
	struct job *j;

	for (j = in->jobs.head; j; j = j->next)
		if (j->client == c) {
			j->client = NULL;
			loop_cancel_timer(j->in->loop, j->t_chunk);
			j->t_chunk = 0;
		}
}

void
job_shutdown_all(struct inferd *in)
{
	while (in->jobs.head)
		job_fail(in->jobs.head, F_SHUTDOWN, "inferd is stopping");
}

void
job_free_all(struct inferd *in)
{
	while (in->jobs.head)
		job_unlink_free(in->jobs.head);
	cache_free(&in->cache);
}

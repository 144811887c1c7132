/*
 * ingest.c: a request from relayd through the validation pipeline, in
 * order, cheapest first:
 *
 *   parse; kind, age, future skew, NIP-40 expiration, p-tag targeting
 *   (silent, need no signature, change no state); already open in memory;
 *   id and signature; already in the ledger; per-pubkey rate limit
 *   (silent: only verified events count against a key, and floods get
 *   nothing back); tag and size caps; unpaid results; queue room; then,
 *   once recorded, decryption, tags, params and inputs (answered).
 *
 * The rate limit sits before the answered checks so that no key can make
 * us sign an unbounded number of error replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "jobd.h"
#include "log.h"
#include "loop.h"
#include "nip04.h"

#define FETCH_TIMEOUT_MS 5000

static struct log_limit drop_limit = { 10, 10000, 0, 0, 0 };

static enum job_enc
enc_by_shape(const struct event *ev)
{
	if (event_tag_find(ev, "encrypted") == NULL)
		return ENC_NONE;
	return nip04_is_payload(ev->content, ev->content_len) ? ENC_NIP04 : ENC_NIP44;
}

/*
 * Count a rejection. With answer set (the request is verified and ours to
 * answer), record it as rejected, so that copies from other relays and
 * restarts do not answer again, and send error feedback with msg.
 */
static void
ingest_reject(struct jobd *jd, const struct event *ev, const char *relay,
    enum reject_reason why, const char *msg, int answer)
{
	struct job *j;

	jd->rejections[why]++;
	if (!answer) {
		if (log_limit_ok(&drop_limit))
			log_debug("dropped %.12s: %s", ev ? ev->idhex : "?", reject_name(why));
		return;
	}
	log_info("rejected %.12s: %s: %s", ev->idhex, reject_name(why), msg);
	if ((j = job_new(ev, relay, enc_by_shape(ev))) == NULL)
		return;
	if (job_record_rejected(jd, j, msg) == 1)
		publish_feedback(jd, j, "error", msg, 0, NULL);
	job_free(j);
}

/* The answered checks of a verified request before it becomes a job. */
static int
ingest_admit(struct jobd *jd, const struct event *ev, const char *relay)
{
	enum reject_reason why;
	char msg[160];
	int n;

	if (validate_sizes(&jd->conf, ev, &why) == -1) {
		snprintf(msg, sizeof(msg), why == REJ_TOO_MANY_TAGS ?
		    "too many tags (at most %d)" : "request too large (at most %d bytes of input)",
		    why == REJ_TOO_MANY_TAGS ? jd->conf.max_tags : jd->conf.max_prompt_bytes);
		ingest_reject(jd, ev, relay, why, msg, 1);
		return -1;
	}
	if (jd->conf.refuse_unpaid_after > 0 && jd->conf.wallet != WALLET_NONE &&
	    jd->conf.payment_mode == PAY_AFTER &&
	    (n = ledger_unpaid_count(jd->db, ev->pubhex)) >= jd->conf.refuse_unpaid_after) {
		snprintf(msg, sizeof(msg), "you have %d unpaid results; pay them first", n);
		ingest_reject(jd, ev, relay, REJ_UNPAID, msg, 1);
		return -1;
	}
	if (job_queue_depth(jd) >= jd->conf.max_queue) {
		ingest_reject(jd, ev, relay, REJ_BUSY, "busy, retry later", 1);
		return -1;
	}
	return 0;
}

static void
ingest_job(struct jobd *jd, const struct event *ev, const char *relay)
{
	struct job *j;
	enum reject_reason why;
	char msg[160];

	if (ledger_has(jd->db, ev->idhex) != 0) {
		ingest_reject(jd, ev, relay, REJ_DUPLICATE, NULL, 0);
		return;
	}
	if (store_skip_untargeted(jd, ev)) {	/* another DVM may sell that model */
		ingest_reject(jd, ev, relay, REJ_MODEL_NOT_SERVED, NULL, 0);
		return;
	}
	if (!ratelimit_take(&jd->rl, ev->pubhex, jd->conf.rate_limit_per_min, now_ms())) {
		ingest_reject(jd, ev, relay, REJ_RATE_LIMITED, NULL, 0);
		return;
	}
	if (ingest_admit(jd, ev, relay) == -1)
		return;
	if ((j = job_new(ev, relay, enc_by_shape(ev))) == NULL)
		return;
	if (validate_request_bytes(&jd->conf, strlen(j->request_json), &why) == -1) {
		snprintf(msg, sizeof(msg), "%s: %zu bytes (at most %d)",
		    reason_size("request_too_large"), strlen(j->request_json),
		    jd->conf.max_request_bytes);
		job_free(j);
		ingest_reject(jd, ev, relay, why, msg, 1);
		return;
	}
	job_admit(jd, j);
	log_info("job %.12s: received from %.16s (kind %d%s) via %s", j->id, j->pubkey,
	    j->kind, j->enc == ENC_NONE ? "" : j->enc == ENC_NIP04 ? ", nip04" : ", nip44",
	    relay);
	ingest_resolve(jd, j);
}

static void
ingest_deletion(struct jobd *jd, const cJSON *obj)
{
	struct event ev;
	char err[64];

	if (event_from_cjson(&ev, obj, err, sizeof(err)) == -1)
		return;
	if (ev.kind == 5 && event_verify(&ev) == 0)
		job_on_deletion(jd, &ev);
	event_free(&ev);
}

/* An event relayd delivered on one of our subscriptions. */
void
ingest_event(struct jobd *jd, const char *relay, const char *sub, const cJSON *obj)
{
	struct event ev;
	enum reject_reason why;
	char err[64];

	jd->events_seen++;
	if (strcmp(sub, "cancel") == 0) {
		ingest_deletion(jd, obj);
		return;
	}
	if (sub[0] == 'f') {
		ingest_fetch_event(jd, sub, obj);
		return;
	}
	if (strcmp(sub, "jobs") != 0 || !jd->online)
		return;
	/* a view: obj outlives ev here, and job_new copies what it keeps */
	if (event_view_cjson(&ev, obj, err, sizeof(err)) == -1) {
		ingest_reject(jd, NULL, relay, REJ_MALFORMED, NULL, 0);
		return;
	}
	if (ev.kind == 7007) {			/* a ping (announce.c) */
		announce_on_ping(jd, &ev, relay);
		event_free(&ev);
		return;
	}
	if (validate_pre(&jd->conf, &ev, jd->kp.pkhex, now_unix(), &why) == -1)
		ingest_reject(jd, &ev, relay, why, NULL, 0);
	else if (job_find(jd, ev.idhex) != NULL)
		ingest_reject(jd, &ev, relay, REJ_DUPLICATE, NULL, 0);
	else if (event_verify(&ev) == -1)
		ingest_reject(jd, &ev, relay, REJ_BAD_SIG, NULL, 0);
	else {
		jd->events_verified++;
		ingest_job(jd, &ev, relay);
	}
	event_free(&ev);
}

/* Reject a recorded job that turned out invalid while being resolved. */
static void
resolve_fail(struct jobd *jd, struct job *j, enum reject_reason why, const char *msg)
{
	jd->rejections[why]++;
	job_fail(jd, j, ST_REJECTED, msg);
}

static void
send_fetch(struct jobd *jd, struct job *j, struct input *in)
{
	cJSON *m = cJSON_CreateObject(), *f, *filt, *arr;
	char id[32];

	if (m == NULL)
		return;
	if (in->fetch == 0)
		in->fetch = ++jd->next_fetch;
	snprintf(id, sizeof(id), "f%llu", (unsigned long long)in->fetch);
	cJSON_AddStringToObject(m, "op", "fetch");
	cJSON_AddStringToObject(m, "id", id);
	f = cJSON_AddArrayToObject(m, "filters");
	filt = cJSON_CreateObject();
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateString(in->id));
	/* event: the event itself; job: results whose e tag names the request */
	cJSON_AddItemToObject(filt, in->ref == 1 ? "ids" : "#e", arr);
	cJSON_AddNumberToObject(filt, "limit", 10);
	cJSON_AddItemToArray(f, filt);
	if (in->relay[0]) {
		arr = cJSON_AddArrayToObject(m, "relays");
		cJSON_AddItemToArray(arr, cJSON_CreateString(in->relay));
	}
	cJSON_AddNumberToObject(m, "timeout_ms", FETCH_TIMEOUT_MS);
	spoke_send(jd, SPOKE_RELAYD, m);
}

static void
resolve_finish(struct jobd *jd, struct job *j)
{
	char err[JOBD_MAX_ERRMSG] = "";

	if (request_join(&j->req, (size_t)jd->conf.max_prompt_bytes, &j->prompt, err,
	    sizeof(err)) == -1) {
		resolve_fail(jd, j, REJ_TOO_LARGE, err);
		return;
	}
	store_cap_tokens(jd, j);
	job_mark_derived(jd, j);	/* the prompt and params: parsed again after a loss */
	job_start(jd, j);
}

/*
 * Decrypt and parse the request of a recorded job and resolve its inputs
 * (event/job inputs through relayd's fetch). Also resumes a job left
 * "received" by a crash, or whose fetches were lost with relayd.
 */
void
ingest_resolve(struct jobd *jd, struct job *j)
{
	struct event ev;
	enum reject_reason why = REJ_BAD_PARAM;
	cJSON *tags = NULL;
	char err[JOBD_MAX_ERRMSG] = "";
	int i;

	if (j->pending > 0) {		/* relayd came back: ask again */
		for (i = 0; i < j->req.nin; i++)
			if (j->req.in[i].fetch != 0)
				send_fetch(jd, j, &j->req.in[i]);
		return;
	}
	if (event_parse(&ev, j->request_json, strlen(j->request_json), err,
	    sizeof(err)) == -1) {
		resolve_fail(jd, j, REJ_MALFORMED, "unreadable request");
		return;
	}
	request_free(&j->req);
	if (request_decrypt(&ev, &jd->kp, &j->enc, &tags, err, sizeof(err)) == -1) {
		event_free(&ev);
		resolve_fail(jd, j, REJ_DECRYPT, err);
		return;
	}
	event_free(&ev);
	if (cJSON_GetArraySize(tags) > jd->conf.max_tags) {
		cJSON_Delete(tags);
		snprintf(err, sizeof(err), "too many tags (at most %d)", jd->conf.max_tags);
		resolve_fail(jd, j, REJ_TOO_MANY_TAGS, err);
		return;
	}
	if (request_parse(tags, &jd->conf, &j->req, &why, err, sizeof(err)) == -1) {
		cJSON_Delete(tags);
		resolve_fail(jd, j, why, err);
		return;
	}
	cJSON_Delete(tags);
	if (store_choose(jd, j, err, sizeof(err)) == -1) {
		resolve_fail(jd, j, REJ_MODEL_NOT_SERVED, err);
		return;
	}
	for (i = 0; i < j->req.nin; i++)
		if (j->req.in[i].ref) {
			j->pending++;
			send_fetch(jd, j, &j->req.in[i]);
		}
	if (j->pending == 0)
		resolve_finish(jd, j);
}

static struct input *
input_by_fetch(struct jobd *jd, const char *sub, struct job **jp)
{
	unsigned long long n;
	char *end;
	struct job *j;
	int i;

	n = strtoull(sub + 1, &end, 10);
	if (*end != '\0' || n == 0)
		return NULL;
	for (j = jd->jobs; j != NULL; j = j->next)
		for (i = 0; i < j->req.nin; i++)
			if (j->req.in[i].fetch == n) {
				*jp = j;
				return &j->req.in[i];
			}
	return NULL;
}

/*
 * An event answering an input fetch. It must be signed, and be the event
 * named (event input) or a result (kind 6000-6999) whose e tag names the
 * request (job input). Encrypted results cannot be inputs.
 */
void
ingest_fetch_event(struct jobd *jd, const char *sub, const cJSON *obj)
{
	struct job *j;
	struct input *in = input_by_fetch(jd, sub, &j);
	struct event ev;
	const cJSON *t;
	char err[64];
	int match = 0;

	if (in == NULL || in->text != NULL)
		return;
	if (event_from_cjson(&ev, obj, err, sizeof(err)) == -1)
		return;
	if (event_verify(&ev) == 0 && event_tag_find(&ev, "encrypted") == NULL) {
		if (in->ref == 1)
			match = strcmp(ev.idhex, in->id) == 0;
		else if (ev.kind >= 6000 && ev.kind <= 6999)
			cJSON_ArrayForEach(t, ev.tags)
				if (tag_item(t, 1) && strcmp(tag_item(t, 0), "e") == 0 &&
				    strcmp(tag_item(t, 1), in->id) == 0)
					match = 1;
	}
	if (match)
		in->text = strdup(ev.content);
	event_free(&ev);
}

/* A fetch ended: the input is resolved or the job fails with a clear reason. */
void
ingest_fetch_eose(struct jobd *jd, const char *sub)
{
	struct job *j;
	struct input *in = input_by_fetch(jd, sub, &j);
	char msg[JOBD_MAX_ERRMSG];

	if (in == NULL)
		return;
	in->fetch = 0;
	j->pending--;
	if (in->text == NULL) {
		snprintf(msg, sizeof(msg), "input %s %s: not found on the relays%s",
		    in->ref == 1 ? "event" : "job", in->id,
		    in->ref == 2 ? " (no unencrypted result)" : "");
		resolve_fail(jd, j, REJ_BAD_INPUT, msg);
		return;
	}
	if (j->pending == 0 && j->state == ST_RECEIVED)
		resolve_finish(jd, j);
}

/*
 * publish.c: the events jobd signs. Results (kind+1000) and feedback
 * (7000) for jobs, the NIP-89 handler announcement (31990) and NIP-42
 * auth (22242). Every event except partial feedback and auth is stored in
 * the ledger's outbox, signed, before it goes to relayd, and re-sent until
 * a relay accepts it: after a crash the same event (same id) goes out,
 * never a second, different one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "jobd.h"
#include "log.h"
#include "loop.h"
#include "nip04.h"
#include "nip44.h"

/* Encrypt plain for pk in the scheme enc. malloc'd payload or NULL. */
static char *
publish_encrypt(struct jobd *jd, const uint8_t pk[32], enum job_enc enc,
    const char *plain, size_t len)
{
	uint8_t ck[32];
	char *out = NULL;
	int rc;

	if (enc == ENC_NIP04) {
		if (nip04_encrypt(jd->kp.sk, pk, plain, len, &out) == -1)
			return NULL;
		return out;
	}
	if (len == 0 || len > NIP44_MAX_PLAIN)
		return NULL;
	if (nip44_conversation_key(jd->kp.sk, pk, ck) == -1)
		return NULL;
	rc = nip44_encrypt(ck, plain, len, NULL, &out);
	memset(ck, 0, sizeof(ck));
	return rc == -1 ? NULL : out;
}

static const char *enc_tag[1] = { "encrypted" };

static int sign_fit_send(struct jobd *, struct event *, const struct job *, int, size_t *);

static cJSON *
relays_array(const struct job *j)
{
	cJSON *a = cJSON_CreateArray();
	int i;

	for (i = 0; a != NULL && j != NULL && i < j->req.nrelays; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(j->req.relays[i]));
	return a;
}

static void
send_publish(struct jobd *jd, cJSON *event, cJSON *relays)
{
	cJSON *m = cJSON_CreateObject();

	if (m == NULL) {
		cJSON_Delete(event);
		cJSON_Delete(relays);
		return;
	}
	cJSON_AddStringToObject(m, "op", "publish");
	cJSON_AddItemToObject(m, "event", event);
	if (relays != NULL && cJSON_GetArraySize(relays) > 0)
		cJSON_AddItemToObject(m, "relays", relays);
	else
		cJSON_Delete(relays);
	spoke_send(jd, SPOKE_RELAYD, m);
}

/*
 * Sign ev, store it in the outbox (unless store is 0), send it. The job
 * gives the extra relays. Frees ev. Returns 0 or -1 (nothing sent).
 */
static int
sign_store_send(struct jobd *jd, struct event *ev, const struct job *j, int store)
{
	return sign_fit_send(jd, ev, j, store, NULL);
}

/*
 * sign_store_send, and nothing stored or sent if the signed event is over
 * max_event_bytes: then -1 and, with over, by how many bytes.
 */
static int
sign_fit_send(struct jobd *jd, struct event *ev, const struct job *j, int store,
    size_t *over)
{
	char *json = NULL, *rel = NULL;
	cJSON *relays = relays_array(j), *obj;
	size_t n;
	int rc = -1;

	if (event_sign(ev, &jd->kp) == -1 || (json = event_to_json(ev)) == NULL)
		goto out;
	if ((n = strlen(json)) > (size_t)jd->conf.max_event_bytes) {
		if (over != NULL)
			*over = n - (size_t)jd->conf.max_event_bytes;
		else
			log_warnx("kind %d event of %zu bytes is over max_event_bytes; not sent",
			    ev->kind, n);
		goto out;
	}
	if (store) {
		rel = relays ? cJSON_PrintUnformatted(relays) : NULL;
		if (ledger_outbox_put(jd->db, ev->idhex, j ? j->id : NULL, ev->kind, json,
		    rel) == -1)
			goto out;
	}
	if ((obj = event_to_cjson(ev)) == NULL)
		goto out;
	send_publish(jd, obj, relays);
	relays = NULL;
	rc = 0;
out:
	cJSON_Delete(relays);
	free(json);
	free(rel);
	event_free(ev);
	return rc;
}

static int
amount_tag(struct event *ev, const struct job *j)
{
	char msat[32];
	int64_t a = j->quote_msat > 0 ? j->quote_msat : j->price_msat;

	snprintf(msat, sizeof(msat), "%lld", (long long)a);
	return event_add_tagv(ev, "amount", msat, j->bolt11, NULL);
}

/* Encrypted feedback: status, amount and content go inside (NDVM's layout). */
static char *
feedback_secret(struct jobd *jd, const struct job *j, const char *status,
    const char *msg, int with_amount, const char *content)
{
	cJSON *a = cJSON_CreateArray(), *t;
	char *plain, *out = NULL, msat[32];
	size_t n;

	if (a == NULL)
		return NULL;
	t = cJSON_CreateArray();
	cJSON_AddItemToArray(t, cJSON_CreateString("status"));
	cJSON_AddItemToArray(t, cJSON_CreateString(status));
	cJSON_AddItemToArray(t, cJSON_CreateString(msg ? msg : ""));
	cJSON_AddItemToArray(a, t);
	if (with_amount && j->bolt11) {
		snprintf(msat, sizeof(msat), "%lld", (long long)(j->quote_msat > 0 ?
		    j->quote_msat : j->price_msat));
		t = cJSON_CreateArray();
		cJSON_AddItemToArray(t, cJSON_CreateString("amount"));
		cJSON_AddItemToArray(t, cJSON_CreateString(msat));
		cJSON_AddItemToArray(t, cJSON_CreateString(j->bolt11));
		cJSON_AddItemToArray(a, t);
	}
	if (content != NULL) {
		t = cJSON_CreateArray();
		cJSON_AddItemToArray(t, cJSON_CreateString("content"));
		cJSON_AddItemToArray(t, cJSON_CreateString(content));
		cJSON_AddItemToArray(a, t);
	}
	plain = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	if (plain == NULL)
		return NULL;
	n = strlen(plain);
	if (j->enc == ENC_NIP44 && n > NIP44_MAX_PLAIN)
		log_warnx("job %.12s: feedback too long to encrypt", j->id);
	else
		out = publish_encrypt(jd, j->pk, j->enc, plain, n);
	free(plain);
	return out;
}

/*
 * Kind-7000 feedback. Plain: status (with msg), e, p, amount when asked
 * for; content is the partial text or empty. Encrypted like the request:
 * outer tags e, p, encrypted; the rest inside the content.
 */
static int feedback_once(struct jobd *, const struct job *, const char *, const char *,
    int, const char *, size_t *);

/*
 * Every feedback fits max_event_bytes: a status text is short, and a
 * partial's text (content) is cut on a UTF-8 boundary until the signed,
 * encrypted event fits; partials are a preview, the result has it all.
 */
int
publish_feedback(struct jobd *jd, const struct job *j, const char *status,
    const char *msg, int with_amount, const char *content)
{
	size_t over = 0, len = content ? strlen(content) : 0;
	long long before = ledger_changes(jd->db);
	char *cut = NULL;
	int rc, tries;

	for (tries = 0; tries < 32; tries++) {
		rc = feedback_once(jd, j, status, msg, with_amount, cut ? cut : content,
		    content ? &over : NULL);
		if (rc == 0 || content == NULL || over == 0 || len == 0)
			break;
		len = utf8_cut(content, len > over ? len - over : 0, (size_t)-1);
		free(cut);
		if ((cut = strndup(content, len)) == NULL)
			return -1;
		over = 0;
	}
	free(cut);
	if (rc == -1 && content != NULL)
		log_warnx("job %.12s: %s feedback does not fit max_event_bytes; not sent",
		    j->id, status);
	/* Lost in a power cut, "processing" is said again, in a new event. */
	if (strcmp(status, "processing") == 0)
		job_batch_light(jd, before);
	return rc;
}

static int
feedback_once(struct jobd *jd, const struct job *j, const char *status,
    const char *msg, int with_amount, const char *content, size_t *over)
{
	struct event ev;
	char *secret = NULL;

	if (j->enc != ENC_NONE &&
	    (secret = feedback_secret(jd, j, status, msg, with_amount, content)) == NULL)
		return -1;
	if (event_init(&ev, 7000, secret ? secret : content ? content : "", 0) == -1) {
		free(secret);
		return -1;
	}
	free(secret);
	/* Feedback without its status (or its invoice) would say nothing: all or none. */
	if ((j->enc == ENC_NONE &&
	    event_add_tagv(&ev, "status", status, msg ? msg : "", NULL) == -1) ||
	    event_add_tagv(&ev, "e", j->id, j->relay[0] ? j->relay : NULL, NULL) == -1 ||
	    event_add_tagv(&ev, "p", j->pubkey, NULL, NULL) == -1 ||
	    (j->enc != ENC_NONE && event_add_tag(&ev, enc_tag, 1) == -1) ||
	    (j->enc == ENC_NONE && with_amount && j->bolt11 && amount_tag(&ev, j) == -1)) {
		log_warnx("job %.12s: cannot build %s feedback; not sent", j->id, status);
		event_free(&ev);
		return -1;
	}
	return sign_fit_send(jd, &ev, j, strcmp(status, "partial") != 0, over);
}

/* The request's own i tags, for a plain result. */
static void
copy_i_tags(struct event *ev, const struct job *j)
{
	struct event req;
	const cJSON *t, *s;
	char err[64];

	if (event_parse(&req, j->request_json, strlen(j->request_json), err,
	    sizeof(err)) == -1)
		return;
	cJSON_ArrayForEach(t, req.tags) {
		const char *vals[EVENT_MAX_TAG_ITEMS];
		size_t n = 0;

		if (tag_item(t, 0) == NULL || strcmp(tag_item(t, 0), "i") != 0)
			continue;
		cJSON_ArrayForEach(s, t)
			if (n < EVENT_MAX_TAG_ITEMS)
				vals[n++] = s->valuestring;
		event_add_tag(ev, vals, n);
	}
	event_free(&req);
}

/*
 * What a plain result carries beside its answer, given up in this order
 * when the signed event would be over max_event_bytes: the request tag
 * (NIP-90's stringified request; e and p still name it), then the i tags.
 * Then the answer is cut on a UTF-8 boundary.
 */
enum result_extras { RES_REQUEST_AND_INPUTS, RES_INPUTS, RES_BARE };

/* One try at the result with the first cut bytes of text: signed, in *json. */
static int
result_once(struct jobd *jd, const struct job *j, const char *text, size_t cut,
    enum result_extras extras, char id[65], char **json)
{
	struct event ev;
	char *secret = NULL, *plain;
	int rc;

	if (j->enc != ENC_NONE &&
	    (secret = publish_encrypt(jd, j->pk, j->enc, cut ? text : " ", cut ? cut : 1)) == NULL)
		return -1;
	if ((plain = secret ? secret : strndup(text, cut)) == NULL)
		return -1;
	rc = event_init(&ev, j->kind + 1000, plain, 0);
	free(plain);
	if (rc == -1)
		return -1;
	if ((j->enc == ENC_NONE && extras == RES_REQUEST_AND_INPUTS &&
	    event_add_tagv(&ev, "request", j->request_json, NULL, NULL) == -1) ||
	    event_add_tagv(&ev, "e", j->id, j->relay[0] ? j->relay : NULL, NULL) == -1 ||
	    event_add_tagv(&ev, "p", j->pubkey, NULL, NULL) == -1 ||
	    (j->enc != ENC_NONE && event_add_tag(&ev, enc_tag, 1) == -1)) {
		log_warnx("job %.12s: cannot build the result; not sent", j->id);
		event_free(&ev);
		return -1;
	}
	if (j->enc == ENC_NONE && extras != RES_BARE)
		copy_i_tags(&ev, j);
	if (j->bolt11 && (j->quote_msat > 0 || j->price_msat > 0) && amount_tag(&ev, j) == -1) {
		log_warnx("job %.12s: cannot add the amount to the result; not sent", j->id);
		event_free(&ev);
		return -1;
	}
	if (event_sign(&ev, &jd->kp) == -1 || (*json = event_to_json(&ev)) == NULL) {
		event_free(&ev);
		return -1;
	}
	memcpy(id, ev.idhex, 65);
	event_free(&ev);
	return 0;
}

/*
 * Build and sign the result: its id, the event's JSON and the extra relays
 * (JSON, may be NULL), malloc'd, for job.c to store with the job's move to
 * published and then send (publish_send_stored). The serialized event,
 * encrypted or not, is at most max_event_bytes (see result_extras).
 * Returns 1 if the answer had to be cut (to that, or to the NIP-44
 * maximum), 0 otherwise, -1 on failure.
 */
int
publish_result_build(struct jobd *jd, const struct job *j, char id[65], char **json,
    char **relays_json)
{
	const char *text = j->text ? j->text : "";
	size_t len = strlen(text), cut = len, n, max = (size_t)jd->conf.max_event_bytes;
	enum result_extras extras = j->enc == ENC_NONE ? RES_REQUEST_AND_INPUTS : RES_BARE;
	cJSON *relays;
	int tries;

	*json = *relays_json = NULL;
	if (j->enc == ENC_NIP44)
		cut = utf8_cut(text, len, NIP44_MAX_PLAIN);
	for (tries = 0; ; tries++) {
		if (result_once(jd, j, text, cut, extras, id, json) == -1)
			return -1;
		if ((n = strlen(*json)) <= max)
			break;
		free(*json);
		*json = NULL;
		if ((cut == 0 && extras == RES_BARE) || tries == 64) {
			log_warnx("job %.12s: no result fits max_event_bytes (%zu)", j->id, max);
			return -1;
		}
		if (extras != RES_BARE)
			extras++;	/* what the result can lose before its answer */
		else		/* escaping and encryption only grow: n - max is enough */
			cut = utf8_cut(text, cut > n - max ? cut - (n - max) : 0, (size_t)-1);
	}
	if (extras != (j->enc == ENC_NONE ? RES_REQUEST_AND_INPUTS : RES_BARE))
		log_info("job %.12s: result sent without %s (max_event_bytes)", j->id,
		    extras == RES_INPUTS ? "its request tag" : "its request and i tags");
	if ((relays = relays_array(j)) != NULL) {
		*relays_json = cJSON_PrintUnformatted(relays);
		cJSON_Delete(relays);
	}
	return cut < len ? 1 : 0;
}

/*
 * NIP-89 handler information (announce.c builds it and decides when);
 * here for the callers that announce on connect and on going online.
 */
int
publish_announce(struct jobd *jd)
{
	announce_online(jd);
	return 0;
}

/* Sign and send an event built elsewhere (announce.c); stored when store is set. */
int
publish_signed(struct jobd *jd, struct event *ev, int store)
{
	return sign_store_send(jd, ev, NULL, store);
}

/* NIP-42: answer a challenge through relayd, only from a relay we asked for. */
int
publish_auth(struct jobd *jd, const char *relay, const char *challenge)
{
	struct event ev;
	cJSON *m, *obj;

	if (!asked_has(&jd->asked, &jd->conf, relay, now_ms())) {
		log_warnx("auth challenge from %.200s: not a relay we asked relayd to use; "
		    "not signed", relay);
		return -1;
	}
	if (event_init(&ev, 22242, "", 0) == -1)
		return -1;
	event_add_tagv(&ev, "relay", relay, NULL, NULL);
	event_add_tagv(&ev, "challenge", challenge, NULL, NULL);
	if (event_sign(&ev, &jd->kp) == -1 || (obj = event_to_cjson(&ev)) == NULL) {
		event_free(&ev);
		return -1;
	}
	event_free(&ev);
	if ((m = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(obj);
		return -1;
	}
	cJSON_AddStringToObject(m, "op", "auth");
	cJSON_AddStringToObject(m, "relay", relay);
	cJSON_AddItemToObject(m, "event", obj);
	return spoke_send(jd, SPOKE_RELAYD, m);
}

/* Send a stored event (its JSON, and the extra relays' JSON or NULL). */
void
publish_send_stored(struct jobd *jd, const char *json, const char *relays)
{
	cJSON *ev = cJSON_Parse(json), *rel = relays ? cJSON_Parse(relays) : NULL;

	if (ev == NULL) {
		cJSON_Delete(rel);
		return;
	}
	send_publish(jd, ev, rel);
}

static void
replay_one(void *arg, const char *json, const char *relays)
{
	publish_send_stored(arg, json, relays);
}

/* Re-send every stored event no relay accepted yet (older than older_than_ms). */
void
publish_replay(struct jobd *jd, int64_t older_than_ms)
{
	int n;

	if (!jd->spokes[SPOKE_RELAYD].connected)
		return;
	n = ledger_outbox_each(jd->db, older_than_ms, replay_one, jd);
	if (n > 0)
		log_info("re-sent %d stored event(s) not yet accepted by a relay", n);
}

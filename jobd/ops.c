/*
 * ops.c: every op a spoke may send jobd, one {op, handler} table per
 * spoke, and the shape checks a line must pass before anything acts on
 * it. A handler returns NULL, or why the line is malformed: the transport
 * (spoke.c) counts and logs it and drops the line.
 */
#include <string.h>

#include "jobd.h"
#include "jsonx.h"
#include "log.h"

struct op {
	const char	*name;
	const char	*(*fn)(struct jobd *, enum spoke_id, const char *op, const cJSON *m);
};

static const char *
op_health(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	health_keep(&jd->spokes[id], m);
	return NULL;
}

static const char *
op_event(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	const char *relay = jsonx_str(m, "relay"), *sub = jsonx_str(m, "sub");
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(m, "event");

	if (sub == NULL || !cJSON_IsObject(ev))
		return "event without sub or event";
	ingest_event(jd, relay ? relay : "", sub, ev);
	return NULL;
}

static const char *
op_eose(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	const char *sub = jsonx_str(m, "sub");

	/* only the end of a whole fetch (no relay) resolves an input */
	if (sub != NULL && sub[0] == 'f' && jsonx_str(m, "relay") == NULL)
		ingest_fetch_eose(jd, sub);
	return NULL;
}

static const char *
op_ok(struct jobd *jd, enum spoke_id sid, const char *op, const cJSON *m)
{
	const char *id = jsonx_str(m, "id"), *relay = jsonx_str(m, "relay");
	const char *msg = jsonx_str(m, "message");
	const cJSON *acc = cJSON_GetObjectItemCaseSensitive(m, "accepted");

	if (id == NULL || !cJSON_IsBool(acc))
		return "ok without id or accepted";
	if (!cJSON_IsTrue(acc))
		log_info("relay %s refused %.12s: %s", relay ? relay : "?", id, msg ? msg : "");
	job_on_ok(jd, id, cJSON_IsTrue(acc));
	return NULL;
}

static const char *
op_auth_challenge(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	const char *relay = jsonx_str(m, "relay"), *ch = jsonx_str(m, "challenge");

	if (relay == NULL || ch == NULL || strlen(ch) > 512)
		return "auth_challenge without relay or challenge";
	publish_auth(jd, relay, ch);
	return NULL;
}

/* closed, notice: a relay's words, logged. */
static const char *
op_relay_message(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	const char *relay = jsonx_str(m, "relay"), *msg = jsonx_str(m, "message");

	log_info("relay %s: %s: %.200s", relay ? relay : "?", op, msg ? msg : "");
	return NULL;
}

static const char *
op_relay_state(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	const char *url = jsonx_str(m, "url"), *state = jsonx_str(m, "state");

	log_debug("relay %s: %s", url ? url : "?", state ? state : "?");
	return NULL;
}

/* inferd's chunk, done, error; invoiced's invoice, paid, expired, error */
static const char *
op_job(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	if (jsonx_str(m, "job") == NULL)
		return "no job";
	if (id == SPOKE_INFERD)
		job_on_infer(jd, op, m);
	else
		job_on_invoice(jd, op, m);
	return NULL;
}

/* inferd's catalog of models (sent on request and whenever it changes) */
static const char *
op_catalog(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	return store_on_catalog(jd, m);
}

static const struct op relayd_ops[] = {
	{ "event", op_event },
	{ "eose", op_eose },
	{ "ok", op_ok },
	{ "auth_challenge", op_auth_challenge },
	{ "status", op_health },
	{ "closed", op_relay_message },
	{ "notice", op_relay_message },
	{ "relay", op_relay_state },
	{ NULL, NULL }
};

static const struct op inferd_ops[] = {
	{ "health", op_health },
	{ "catalog", op_catalog },
	{ "chunk", op_job },
	{ "done", op_job },
	{ "error", op_job },
	{ NULL, NULL }
};

static const struct op invoiced_ops[] = {
	{ "health", op_health },
	{ "invoice", op_job },
	{ "paid", op_job },
	{ "expired", op_job },
	{ "error", op_job },
	{ "held", op_job },
	{ "settled", op_job },
	{ "refunded", op_job },
	{ NULL, NULL }
};

static const struct op *const ops_by_spoke[SPOKE__COUNT] = {
	[SPOKE_RELAYD] = relayd_ops,
	[SPOKE_INFERD] = inferd_ops,
	[SPOKE_INVOICED] = invoiced_ops,
};

/* Act on one line (op) from spoke id: NULL, or why it was dropped. */
const char *
ops_dispatch(struct jobd *jd, enum spoke_id id, const char *op, const cJSON *m)
{
	const struct op *o;

	for (o = ops_by_spoke[id]; o->name != NULL; o++)
		if (strcmp(o->name, op) == 0)
			return o->fn(jd, id, op, m);
	return "unknown op";
}

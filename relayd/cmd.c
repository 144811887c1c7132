/*
 * cmd.c: the messages jobd sends (docs/PROTOCOL.md, relayd section). Every
 * field is type-checked and bounded before anything acts on it; a bad line
 * is counted in bad_lines, logged (rate-limited) and dropped.
 */
#include <string.h>

#include "relayd.h"

#define MAX_FETCH_MS	30000
#define MAX_LISTED	8	/* relays named in one publish/fetch */

void
cmd_bad(struct client *c, const char *why)
{
	struct relayd *rd = c->rd;

	rd->bad_lines++;
	if (log_limit_ok(&rd->ll_ipc))
		log_warnx("client: bad line dropped: %s", why);
}

static const char *
get_str(const cJSON *o, const char *key, size_t max)
{
	const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
	size_t n, i;

	if (!cJSON_IsString(it) || it->valuestring == NULL)
		return NULL;
	n = strlen(it->valuestring);
	if (n == 0 || n > max)
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)it->valuestring[i] < 0x20)
			return NULL;
	return it->valuestring;
}

/* filters: array of 1..8 objects, bounded in size. */
static const cJSON *
get_filters(const cJSON *o)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, "filters"), *it;
	char *s;
	size_t n;

	if (!cJSON_IsArray(f) || cJSON_GetArraySize(f) < 1 ||
	    cJSON_GetArraySize(f) > MAX_FILTERS)
		return NULL;
	cJSON_ArrayForEach(it, f)
		if (!cJSON_IsObject(it))
			return NULL;
	if ((s = cJSON_PrintUnformatted(f)) == NULL)
		return NULL;
	n = strlen(s);
	cJSON_free(s);
	return n <= MAX_FILTER_JSON ? f : NULL;
}

/* relays?: absent (empty array returned as NULL ok) or array of <= 8 URLs. */
static int
get_relays(const cJSON *o, const cJSON **out)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "relays"), *it;

	*out = NULL;
	if (a == NULL)
		return 0;
	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) > MAX_LISTED)
		return -1;
	cJSON_ArrayForEach(it, a)
		if (!cJSON_IsString(it) || strlen(it->valuestring) >= RELAY_URL_MAX)
			return -1;
	*out = a;
	return 0;
}

static void
handle_subscribe(struct client *c, const cJSON *o)
{
	const char *id = get_str(o, "id", SUB_ID_MAX);
	const cJSON *f = get_filters(o);

	if (id == NULL || f == NULL)
		return cmd_bad(c, "subscribe: bad id or filters");
	if (sub_subscribe(c, id, f) == -1)
		log_warnx("subscribe %s: refused (id in use by a fetch, or %d subscriptions)",
		    id, MAX_SUBS);
}

static void
handle_unsubscribe(struct client *c, const cJSON *o)
{
	const char *id = get_str(o, "id", SUB_ID_MAX);

	if (id == NULL)
		return cmd_bad(c, "unsubscribe: bad id");
	sub_unsubscribe(c, id);
}

static void
handle_fetch(struct client *c, const cJSON *o)
{
	const char *id = get_str(o, "id", SUB_ID_MAX);
	const cJSON *f = get_filters(o), *relays, *to;
	int timeout = 5000;
	cJSON *e;

	to = cJSON_GetObjectItemCaseSensitive(o, "timeout_ms");
	if (to != NULL) {
		if (!cJSON_IsNumber(to) || to->valuedouble != (double)to->valueint ||
		    to->valueint < 1 || to->valueint > MAX_FETCH_MS)
			return cmd_bad(c, "fetch: bad timeout_ms");
		timeout = to->valueint;
	}
	if (id == NULL || f == NULL || get_relays(o, &relays) == -1)
		return cmd_bad(c, "fetch: bad id, filters or relays");
	if (sub_fetch(c, id, f, relays, timeout) == -1) {
		log_warnx("fetch %s: refused (id in use or too many queries)", id);
		if ((e = cJSON_CreateObject()) != NULL) {
			cJSON_AddStringToObject(e, "op", "eose");
			cJSON_AddStringToObject(e, "sub", id);
			ipc_send(c, e);
		}
	}
}

static void
handle_publish(struct client *c, const cJSON *o)
{
	struct relayd *rd = c->rd;
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event"), *relays;
	char err[128];

	if (!cJSON_IsObject(ev) || get_relays(o, &relays) == -1)
		return cmd_bad(c, "publish: bad event or relays");
	if (pub_publish(c, ev, relays, err, sizeof(err)) == -1) {
		rd->bad_lines++;
		if (log_limit_ok(&rd->ll_ipc))
			log_warnx("publish refused: %s", err);
	}
}

static void
handle_auth(struct client *c, const cJSON *o)
{
	struct relayd *rd = c->rd;
	const char *url = get_str(o, "relay", RELAY_URL_MAX - 1);
	const cJSON *ev = cJSON_GetObjectItemCaseSensitive(o, "event");
	char norm[RELAY_URL_MAX], err[64];
	struct relay *r;
	struct event e;
	cJSON *msg;

	if (url == NULL || !cJSON_IsObject(ev) ||
	    url_normalize(url, norm, sizeof(norm)) == -1 ||
	    event_from_cjson(&e, ev, err, sizeof(err)) == -1)
		return cmd_bad(c, "auth: bad relay or event");
	if (e.kind != 22242 || (r = conn_find(rd, norm)) == NULL || r->state != RS_CONNECTED) {
		log_warnx("auth for %s: not a kind-22242 event or relay not connected", norm);
		event_free(&e);
		return;
	}
	memcpy(r->auth_id, e.idhex, sizeof(r->auth_id));
	event_free(&e);
	if ((msg = cJSON_CreateArray()) == NULL)
		return;
	cJSON_AddItemToArray(msg, cJSON_CreateString("AUTH"));
	cJSON_AddItemReferenceToArray(msg, (cJSON *)ev);
	conn_send_json(r, msg);
	cJSON_Delete(msg);
}

static void
handle_status(struct client *c, const cJSON *o)
{
	struct relayd *rd = c->rd;
	cJSON *s = status_json(rd);

	(void)o;
	if (s != NULL)
		ipc_send(c, s);
}

static const struct {
	const char *op;
	void (*fn)(struct client *, const cJSON *);
} handlers[] = {
	{ "subscribe", handle_subscribe },
	{ "unsubscribe", handle_unsubscribe },
	{ "fetch", handle_fetch },
	{ "publish", handle_publish },
	{ "auth", handle_auth },
	{ "status", handle_status },
};

/* One line from a client: parse, check, dispatch. */
void
cmd_line(struct client *c, const char *line, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(line, len);
	const cJSON *op;
	size_t i;

	if (o == NULL || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return cmd_bad(c, "not a JSON object");
	}
	op = cJSON_GetObjectItemCaseSensitive(o, "op");
	if (!cJSON_IsString(op)) {
		cJSON_Delete(o);
		return cmd_bad(c, "no op");
	}
	for (i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++)
		if (strcmp(handlers[i].op, op->valuestring) == 0) {
			handlers[i].fn(c, o);
			cJSON_Delete(o);
			return;
		}
	cJSON_Delete(o);
	cmd_bad(c, "unknown op");
}

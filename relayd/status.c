/*
 * status.c: the answer to `status`: per-relay state and counters, global
 * counters, uptime.
 */
#include "loop.h"
#include "relayd.h"

static cJSON *
status_dropped(const unsigned long *d, unsigned long *total)
{
	cJSON *o = cJSON_CreateObject();
	int i;

	*total = 0;
	for (i = 0; i < DROP_NREASONS; i++) {
		*total += d[i];
		if (o != NULL && d[i] > 0)
			cJSON_AddNumberToObject(o, frame_drop_name(i), (double)d[i]);
	}
	return o;
}

static cJSON *
status_relay(const struct relay *r)
{
	cJSON *o = cJSON_CreateObject();
	unsigned long total;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "url", r->url);
	cJSON_AddStringToObject(o, "state", conn_state_name(r->state));
	cJSON_AddNumberToObject(o, "connected_since", (double)r->connected_since);
	cJSON_AddNumberToObject(o, "frames_in", (double)r->c.frames_in);
	cJSON_AddNumberToObject(o, "events", (double)r->c.events);
	cJSON_AddNumberToObject(o, "duplicates", (double)r->c.duplicates);
	cJSON_AddItemToObject(o, "dropped", status_dropped(r->c.dropped, &total));
	cJSON_AddNumberToObject(o, "published", (double)r->c.published);
	cJSON_AddNumberToObject(o, "accepted", (double)r->c.accepted);
	cJSON_AddNumberToObject(o, "refused", (double)r->c.refused);
	cJSON_AddNumberToObject(o, "queued", (double)pub_queued_for(r));
	cJSON_AddBoolToObject(o, "configured", r->configured);
	return o;
}

cJSON *
status_json(struct relayd *rd)
{
	cJSON *o = cJSON_CreateObject(), *list, *c, *drops;
	const struct relay *r;
	unsigned long total;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "op", "status");
	list = cJSON_AddArrayToObject(o, "relays");
	for (r = rd->relays; r != NULL; r = r->next)
		if (!r->removing)
			cJSON_AddItemToArray(list, status_relay(r));
	cJSON_AddNumberToObject(o, "uptime", (double)(now_unix() - rd->started));
	c = cJSON_AddObjectToObject(o, "counters");
	drops = status_dropped(rd->c.dropped, &total);
	cJSON_AddNumberToObject(c, "frames_in", (double)rd->c.frames_in);
	cJSON_AddNumberToObject(c, "events", (double)rd->c.events);
	cJSON_AddNumberToObject(c, "events_forwarded", (double)rd->forwarded);
	cJSON_AddNumberToObject(c, "duplicates", (double)rd->c.duplicates);
	cJSON_AddNumberToObject(c, "dropped", (double)total);
	cJSON_AddItemToObject(c, "dropped_by_reason", drops);
	cJSON_AddNumberToObject(c, "published", (double)rd->c.published);
	cJSON_AddNumberToObject(c, "accepted", (double)rd->c.accepted);
	cJSON_AddNumberToObject(c, "refused", (double)rd->c.refused);
	cJSON_AddNumberToObject(c, "bad_lines", (double)rd->bad_lines);
	cJSON_AddNumberToObject(c, "dedupe_ids", (double)dedupe_count(rd->seen));
	cJSON_AddNumberToObject(c, "publishing", (double)rd->npubs);
	return o;
}

/*
 * filter.c: NIP-01 filter matching, so relayd forwards only events that
 * match what was asked. Relays are not trusted to filter (some ignore tag
 * filters on live events; a hostile one sends anything), and every event
 * forwarded costs jobd a signature check.
 *
 * Semantics (NIP-01): within a filter every condition must hold; a
 * subscription matches when any of its filters does. ids, authors: exact
 * lowercase hex; kinds: integers; #<letter>: some tag named <letter> has its
 * first value in the list. Other keys (limit, search...) do not restrict a
 * live event. since/until are not applied here on purpose: the time window
 * is jobd's policy (max_request_age, max_future_skew), which it counts in
 * its rejections; dropping old events here would hide them from that count,
 * and a sender can put any created_at on junk anyway.
 */
#include <string.h>

#include "relayd.h"

static int
str_in(const cJSON *list, const char *s)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list)
		if (cJSON_IsString(it) && strcmp(it->valuestring, s) == 0)
			return 1;
	return 0;
}

static int
kind_in(const cJSON *list, int kind)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, list)
		if (cJSON_IsNumber(it) && it->valuedouble == (double)kind)
			return 1;
	return 0;
}

/* Some tag named name[0] whose value is in list. */
static int
tag_in(const struct event *ev, char name, const cJSON *list)
{
	const cJSON *tag;
	const char *n, *v;

	cJSON_ArrayForEach(tag, ev->tags) {
		if ((n = tag_item(tag, 0)) == NULL || n[0] != name || n[1] != '\0')
			continue;
		if ((v = tag_item(tag, 1)) != NULL && str_in(list, v))
			return 1;
	}
	return 0;
}

/* 1 if ev matches the filter object f. */
int
filter_match(const cJSON *f, const struct event *ev)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, f) {
		const char *k = it->string;

		if (k == NULL)
			continue;
		if (strcmp(k, "ids") == 0) {
			if (cJSON_IsArray(it) && !str_in(it, ev->idhex))
				return 0;
		} else if (strcmp(k, "authors") == 0) {
			if (cJSON_IsArray(it) && !str_in(it, ev->pubhex))
				return 0;
		} else if (strcmp(k, "kinds") == 0) {
			if (cJSON_IsArray(it) && !kind_in(it, ev->kind))
				return 0;
		} else if (k[0] == '#' && k[1] != '\0' && k[2] == '\0') {
			if (cJSON_IsArray(it) && !tag_in(ev, k[1], it))
				return 0;
		}
	}
	return 1;
}

/* 1 if ev matches any filter of the array filters. */
int
filter_match_any(const cJSON *filters, const struct event *ev)
{
	const cJSON *f;

	cJSON_ArrayForEach(f, filters)
		if (cJSON_IsObject(f) && filter_match(f, ev))
			return 1;
	return 0;
}

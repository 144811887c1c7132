/*
 * validate.c: the checks of a request that depend only on the event, the
 * config and the clock. The ones that need no valid signature (and change
 * no state) run before the signature check because they are cheap and
 * silent; the size caps run after it because they are answered.
 */
#include <stdlib.h>
#include <string.h>

#include "jobd.h"

static const char *reject_names[REJ__COUNT] = {
	[REJ_MALFORMED] = "malformed",
	[REJ_KIND] = "kind",
	[REJ_STALE] = "stale",
	[REJ_FUTURE] = "future",
	[REJ_EXPIRED] = "expired",
	[REJ_NOT_FOR_US] = "not_for_us",
	[REJ_UNTARGETED] = "untargeted",
	[REJ_BAD_SIG] = "bad_signature",
	[REJ_DUPLICATE] = "duplicate",
	[REJ_RATE_LIMITED] = "rate_limited",
	[REJ_TOO_MANY_TAGS] = "too_many_tags",
	[REJ_TOO_LARGE] = "too_large",
	[REJ_BUSY] = "busy",
	[REJ_UNPAID] = "unpaid",
	[REJ_DECRYPT] = "decrypt",
	[REJ_NO_INPUT] = "no_input",
	[REJ_BAD_INPUT] = "bad_input",
	[REJ_BAD_PARAM] = "bad_param",
	[REJ_BID_TOO_LOW] = "bid_too_low",
	[REJ_MODEL_NOT_SERVED] = "model_not_served",
};

const char *
reject_name(enum reject_reason r)
{
	if ((int)r < 0 || r >= REJ__COUNT)
		return "unknown";
	return reject_names[r];
}

/* 1 if kind is one of the configured job kinds. */
int
validate_kind(const struct conf *c, int kind)
{
	size_t i;

	for (i = 0; i < c->njob_kinds; i++)
		if (c->job_kinds[i] == kind)
			return 1;
	return 0;
}

/* A decimal unix time from a tag value; -1 if it is not one. */
static int64_t
parse_unix(const char *s)
{
	int64_t v = 0;

	if (s == NULL || *s == '\0' || strlen(s) > 15)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
	}
	return v;
}

/*
 * Is the request addressed so that we should answer? Returns 0 or the
 * reason to ignore it silently. An encrypted request not addressed to us
 * is someone else's: we could not read it anyway.
 */
static int
validate_target(const struct conf *c, const struct event *ev, const char *ourpk,
    enum reject_reason *why)
{
	const cJSON *t;
	int np = 0, ours = 0, enc = 0;

	cJSON_ArrayForEach(t, ev->tags) {
		const char *name = tag_item(t, 0);
		const char *v = tag_item(t, 1);

		if (name == NULL)
			continue;
		if (strcmp(name, "p") == 0 && v != NULL) {
			np++;
			if (strcmp(v, ourpk) == 0)
				ours = 1;
		} else if (strcmp(name, "encrypted") == 0)
			enc = 1;
	}
	if (ours)
		return 0;
	if (np > 0 || enc) {
		*why = REJ_NOT_FOR_US;
		return -1;
	}
	if (c->require_p_tag) {
		*why = REJ_UNTARGETED;
		return -1;
	}
	return 0;
}

/*
 * The silent checks: kind, age, future skew, NIP-40 expiration, p-tag
 * targeting. Returns 0 to go on, -1 with *why set to drop the event.
 */
int
validate_pre(const struct conf *c, const struct event *ev, const char *ourpk,
    int64_t now, enum reject_reason *why)
{
	const cJSON *t;

	if (!validate_kind(c, ev->kind)) {
		*why = REJ_KIND;
		return -1;
	}
	if (ev->created_at < now - c->max_request_age) {
		*why = REJ_STALE;
		return -1;
	}
	if (ev->created_at > now + c->max_future_skew) {
		*why = REJ_FUTURE;
		return -1;
	}
	cJSON_ArrayForEach(t, ev->tags) {
		const char *name = tag_item(t, 0);
		int64_t exp;

		if (name == NULL || strcmp(name, "expiration") != 0)
			continue;
		exp = parse_unix(tag_item(t, 1));
		if (exp >= 0 && exp <= now) {
			*why = REJ_EXPIRED;
			return -1;
		}
	}
	return validate_target(c, ev, ourpk, why);
}

/*
 * Caps answered with an error: number of tags, and the size of the content
 * (an encrypted request carries its inputs there: base64 and padding make
 * the payload up to about 4/3 of twice the plaintext, so allow 3x).
 */
int
validate_sizes(const struct conf *c, const struct event *ev, enum reject_reason *why)
{
	if (cJSON_GetArraySize(ev->tags) > c->max_tags) {
		*why = REJ_TOO_MANY_TAGS;
		return -1;
	}
	if (ev->content_len > (size_t)c->max_prompt_bytes * 3 + 1024) {
		*why = REJ_TOO_LARGE;
		return -1;
	}
	return 0;
}

/*
 * The request event as stored and quoted in a result (its JSON, n bytes)
 * is at most max_request_bytes: it bounds what jobs.db and memory hold per
 * job, and its default leaves room for the answer in max_event_bytes.
 */
int
validate_request_bytes(const struct conf *c, size_t n, enum reject_reason *why)
{
	if (n > (size_t)c->max_request_bytes) {
		*why = REJ_TOO_LARGE;
		return -1;
	}
	return 0;
}

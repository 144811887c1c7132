/*
 * request.c: what a job request asks for. Decrypts an encrypted request's
 * content into tags (NIP-04 or NIP-44 v2, told apart by the payload's
 * shape), then reads i, param, bid and relays tags into a struct request
 * with every value checked and clamped.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "jobd.h"
#include "netaddr.h"
#include "nip04.h"
#include "nip44.h"

#define MAX_DECRYPTED_TAGS	256

/* A tag list must be an array of non-empty arrays of strings. */
static int
tags_ok(const cJSON *tags)
{
	const cJSON *t, *s;

	if (!cJSON_IsArray(tags) || cJSON_GetArraySize(tags) > MAX_DECRYPTED_TAGS)
		return 0;
	cJSON_ArrayForEach(t, tags) {
		if (!cJSON_IsArray(t) || cJSON_GetArraySize(t) < 1 ||
		    cJSON_GetArraySize(t) > EVENT_MAX_TAG_ITEMS)
			return 0;
		cJSON_ArrayForEach(s, t)
			if (!cJSON_IsString(s))
				return 0;
	}
	return 1;
}

static int
has_tag(const struct event *ev, const char *name)
{
	return event_tag_find(ev, name) != NULL;
}

/* Decrypt content with the scheme its shape says. *plain malloc'd. */
static int
decrypt_content(const struct event *ev, const struct keypair *kp, enum job_enc *enc,
    char **plain, size_t *plainlen)
{
	uint8_t ck[32];
	int rc;

	if (nip04_is_payload(ev->content, ev->content_len)) {
		*enc = ENC_NIP04;
		return nip04_decrypt(kp->sk, ev->pubkey, ev->content, ev->content_len,
		    plain, plainlen);
	}
	*enc = ENC_NIP44;
	if (nip44_conversation_key(kp->sk, ev->pubkey, ck) == -1)
		return -1;
	rc = nip44_decrypt(ck, ev->content, ev->content_len, plain, plainlen);
	memset(ck, 0, sizeof(ck));
	return rc;
}

/*
 * The request's tag list, with an encrypted request's content decrypted
 * and its tags appended after the clear ones. *tags is a new cJSON array
 * the caller frees. Returns 0, or -1 with a message for the requester.
 */
int
request_decrypt(const struct event *ev, const struct keypair *kp, enum job_enc *enc,
    cJSON **tags, char *err, size_t errlen)
{
	char *plain = NULL;
	size_t plainlen = 0;
	cJSON *inner, *t;

	*enc = ENC_NONE;
	*tags = cJSON_Duplicate(ev->tags, 1);
	if (*tags == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!has_tag(ev, "encrypted"))
		return 0;
	if (decrypt_content(ev, kp, enc, &plain, &plainlen) == -1) {
		snprintf(err, errlen, "cannot decrypt the request (%s)",
		    *enc == ENC_NIP04 ? "NIP-04" : "NIP-44");
		goto fail;
	}
	inner = cJSON_ParseWithLength(plain, plainlen);
	free(plain);
	if (inner == NULL || !tags_ok(inner)) {
		cJSON_Delete(inner);
		snprintf(err, errlen, "decrypted content is not a JSON array of tags");
		goto fail;
	}
	while ((t = cJSON_DetachItemFromArray(inner, 0)) != NULL)
		cJSON_AddItemToArray(*tags, t);
	cJSON_Delete(inner);
	return 0;
fail:
	cJSON_Delete(*tags);
	*tags = NULL;
	return -1;
}

/* A finite number written in full in s; *ok = 0 otherwise. */
static double
request_number(const char *s, int *ok)
{
	char *end;
	double v;

	*ok = 0;
	if (s == NULL || *s == '\0' || strlen(s) > 64 || isspace((unsigned char)*s))
		return 0;
	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v))
		return 0;
	*ok = 1;
	return v;
}

static double
clampd(double v, double lo, double hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static int
param_set(struct request *r, const struct conf *c, const char *name, const char *val,
    char *err, size_t errlen)
{
	double v;
	int ok;

	if (val == NULL)
		val = "";
	if (strcmp(name, "model") == 0) {
		snprintf(r->asked_model, sizeof(r->asked_model), "%.*s",
		    (int)utf8_cut(val, strlen(val), sizeof(r->asked_model) - 1), val);
		return 0;
	}
	if (strcmp(name, "max_tokens") != 0 && strcmp(name, "temperature") != 0 &&
	    strcmp(name, "top_k") != 0 && strcmp(name, "top-k") != 0 &&
	    strcmp(name, "top_p") != 0 && strcmp(name, "top-p") != 0 &&
	    strcmp(name, "frequency_penalty") != 0)
		return 0;	/* unknown params are ignored */
	v = request_number(val, &ok);
	if (!ok) {
		/* Cut on a character: a split one would make the status tag invalid. */
		snprintf(err, errlen, "param %s: \"%.*s\" is not a number", name,
		    (int)utf8_cut(val, strlen(val), 32), val);
		return -1;
	}
	if (strcmp(name, "max_tokens") == 0)
		r->max_tokens = (int)clampd(floor(v), 1, c->max_tokens);
	else if (strcmp(name, "temperature") == 0)
		r->temperature = clampd(v, 0, 2);
	else if (name[4] == 'k')
		r->top_k = (int)clampd(floor(v), 1, 1000);
	else if (name[4] == 'p')
		r->top_p = clampd(v, 0, 1);
	else
		r->frequency_penalty = clampd(v, -2, 2);
	return 0;
}

/*
 * Is a wss:// URL's host this machine or a private network, written as an
 * address or a local name (netaddr_host_private: 127.1, [::127.0.0.1],
 * [64:ff9b::a00:1], localhost.localdomain, our own host name...)? A public
 * name that resolves to a private address is relayd's to refuse: it
 * checks the address it is about to dial.
 */
static int
host_is_private(const char *url, size_t len)
{
	const char *h = url + 6, *end = url + len, *p;

	for (p = h; p < end && *p != '/' && *p != '?' && *p != '#'; p++)
		if (*p == '@')
			return 1;	/* userinfo: no relay needs it; do not guess */
	end = p;
	if (h < end && *h == '[') {
		for (p = h + 1; p < end && *p != ']'; p++)
			;
		if (p == end)
			return 1;
		return netaddr_host_private(h + 1, (size_t)(p - h - 1));
	}
	for (p = h; p < end && *p != ':'; p++)
		;
	return netaddr_host_private(h, (size_t)(p - h));
}

/*
 * May a requester make us connect to url? A relay of our own config, or a
 * wss:// relay on the public network: a requester must not point relayd at
 * services on this machine or our own network, by plain ws:// or by a
 * private address.
 */
static int
relay_allowed(const struct conf *c, const char *url, size_t len)
{
	size_t i;

	for (i = 0; i < c->relays.n; i++)
		if (strlen(c->relays.v[i]) == len && memcmp(c->relays.v[i], url, len) == 0)
			return 1;
	return len > 6 && strncmp(url, "wss://", 6) == 0 &&
	    (c->relay_allow_private || !host_is_private(url, len));
}

static int
relay_add(struct request *r, const struct conf *c, const char *url, size_t len)
{
	int i;

	while (len > 0 && isspace((unsigned char)*url))
		url++, len--;
	while (len > 0 && isspace((unsigned char)url[len - 1]))
		len--;
	if (len == 0 || len >= JOBD_MAX_URL || r->nrelays >= JOBD_MAX_RELAYS)
		return 0;
	if (!relay_allowed(c, url, len))
		return 0;
	for (i = 0; i < r->nrelays; i++)
		if (strlen(r->relays[i]) == len && memcmp(r->relays[i], url, len) == 0)
			return 0;
	if ((r->relays[r->nrelays] = strndup(url, len)) == NULL)
		return -1;
	r->nrelays++;
	return 0;
}

/* ["relays", a, b, ...]; one value may hold several URLs joined by commas. */
static int
relays_tag(struct request *r, const struct conf *c, const cJSON *t)
{
	int i, n = cJSON_GetArraySize(t);

	for (i = 1; i < n; i++) {
		const char *v = tag_item(t, i), *comma;

		while (v != NULL && (comma = strchr(v, ',')) != NULL) {
			if (relay_add(r, c, v, (size_t)(comma - v)) == -1)
				return -1;
			v = comma + 1;
		}
		if (v != NULL && relay_add(r, c, v, strlen(v)) == -1)
			return -1;
	}
	return 0;
}

static int
input_tag(struct request *r, const struct conf *c, const cJSON *t, enum reject_reason *why,
    char *err, size_t errlen)
{
	const char *val = tag_item(t, 1), *type = tag_item(t, 2), *relay = tag_item(t, 3);
	struct input *in;

	if (val == NULL)
		return 0;
	if (type == NULL || *type == '\0')
		type = "text";
	if (r->nin >= JOBD_MAX_INPUTS) {
		*why = REJ_BAD_INPUT;
		snprintf(err, errlen, "too many inputs (at most %d)", JOBD_MAX_INPUTS);
		return -1;
	}
	in = &r->in[r->nin];
	memset(in, 0, sizeof(*in));
	if (strcmp(type, "text") == 0 || strcmp(type, "prompt") == 0) {
		if ((in->text = strdup(val)) == NULL)
			return -1;
	} else if (strcmp(type, "event") == 0 || strcmp(type, "job") == 0) {
		if (!hex_is_lower(val, 64)) {
			*why = REJ_BAD_INPUT;
			snprintf(err, errlen, "input of type %s: not a 64-hex event id", type);
			return -1;
		}
		in->ref = type[0] == 'e' ? 1 : 2;
		memcpy(in->id, val, 65);
		if (relay != NULL && strlen(relay) < sizeof(in->relay) &&
		    relay_allowed(c, relay, strlen(relay)))
			snprintf(in->relay, sizeof(in->relay), "%s", relay);
	} else {
		*why = REJ_BAD_INPUT;
		snprintf(err, errlen, "input type \"%.*s\" is not supported "
		    "(use text, prompt, event or job)", (int)utf8_cut(type, strlen(type), 32), type);
		return -1;
	}
	r->nin++;
	return 0;
}

static int
bid_tag(struct request *r, const cJSON *t, char *err, size_t errlen)
{
	const char *v = tag_item(t, 1);
	int64_t b = 0;

	if (v == NULL || *v == '\0' || strlen(v) > 15)
		goto bad;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			goto bad;
		b = b * 10 + (*v - '0');
	}
	r->bid_msat = b;
	return 0;
bad:
	snprintf(err, errlen, "bid: not an amount in millisats");
	return -1;
}

static void
request_defaults(struct request *r, const struct conf *c)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->model, sizeof(r->model), "%s", c->model);
	r->max_tokens = c->max_tokens;
	r->temperature = c->temperature;
	r->top_k = c->top_k;
	r->top_p = c->top_p;
	r->frequency_penalty = c->frequency_penalty;
	r->bid_msat = -1;
}

/*
 * Read a (decrypted) tag list into r. Returns 0, or -1 with *why and a
 * message for the requester in err; r is freed on failure.
 */
int
request_parse(const cJSON *tags, const struct conf *c, struct request *r,
    enum reject_reason *why, char *err, size_t errlen)
{
	const cJSON *t;

	request_defaults(r, c);
	*why = REJ_BAD_PARAM;
	cJSON_ArrayForEach(t, tags) {
		const char *name = tag_item(t, 0);
		int rc = 0;

		if (name == NULL)
			continue;
		if (strcmp(name, "i") == 0)
			rc = input_tag(r, c, t, why, err, errlen);
		else if (strcmp(name, "param") == 0 && tag_item(t, 1) != NULL)
			rc = param_set(r, c, tag_item(t, 1), tag_item(t, 2), err, errlen);
		else if (strcmp(name, "bid") == 0)
			rc = bid_tag(r, t, err, errlen);
		else if (strcmp(name, "relays") == 0)
			rc = relays_tag(r, c, t);
		if (rc == -1) {
			if (*err == '\0')
				snprintf(err, errlen, "out of memory");
			request_free(r);
			return -1;
		}
	}
	if (r->nin == 0) {
		*why = REJ_NO_INPUT;
		snprintf(err, errlen, "no input: add an [\"i\", <text>, \"text\"] tag");
		request_free(r);
		return -1;
	}
	return 0;
}

/*
 * The prompt: every input's text in order, joined by a blank line. All
 * references must be resolved. Fails when the whole exceeds max bytes.
 */
int
request_join(const struct request *r, size_t max, char **prompt, char *err, size_t errlen)
{
	size_t total = 0, off = 0, n;
	int i;
	char *p;

	for (i = 0; i < r->nin; i++) {
		if (r->in[i].text == NULL) {
			snprintf(err, errlen, "input %d was not resolved", i + 1);
			return -1;
		}
		total += strlen(r->in[i].text) + (i > 0 ? 2 : 0);
	}
	if (total > max) {
		snprintf(err, errlen, "input too large: %zu bytes (at most %zu)", total, max);
		return -1;
	}
	if (total == 0) {
		snprintf(err, errlen, "empty input");
		return -1;
	}
	if ((p = malloc(total + 1)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < r->nin; i++) {
		if (i > 0) {
			memcpy(p + off, "\n\n", 2);
			off += 2;
		}
		n = strlen(r->in[i].text);
		memcpy(p + off, r->in[i].text, n);
		off += n;
	}
	p[off] = '\0';
	*prompt = p;
	return 0;
}

void
request_free(struct request *r)
{
	int i;

	for (i = 0; i < r->nin; i++) {
		free(r->in[i].text);
		r->in[i].text = NULL;
	}
	for (i = 0; i < r->nrelays; i++) {
		free(r->relays[i]);
		r->relays[i] = NULL;
	}
	r->nin = r->nrelays = 0;
}

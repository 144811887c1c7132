/*
 * frame.c: classify one complete text message from a relay (NIP-01, NIP-42
 * relay-to-client messages). Everything is checked for exact types before
 * anything else looks at it; an event must pass event_from_cjson's shape
 * checks (hex formats, field types, UTF-8). Signatures are jobd's business.
 */
#include <string.h>

#include "relayd.h"

static const char *drop_names[DROP_NREASONS] = {
	[DROP_OVERSIZE] = "oversize",
	[DROP_MALFORMED] = "malformed_json",
	[DROP_NOT_ARRAY] = "not_array",
	[DROP_BAD_TYPE] = "bad_type",
	[DROP_UNKNOWN_TYPE] = "unknown_type",
	[DROP_BAD_EVENT] = "bad_event",
	[DROP_UNKNOWN_SUB] = "unknown_sub",
	[DROP_BINARY] = "binary",
	[DROP_NO_MATCH] = "no_match",
};

const char *
frame_drop_name(enum drop_reason r)
{
	return (unsigned)r < DROP_NREASONS ? drop_names[r] : "?";
}

/* Item i as a string, or NULL. */
static const char *
item_str(const cJSON *a, int i)
{
	const cJSON *it = cJSON_GetArrayItem(a, i);

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static const char *
skip_ws(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static const char *
skip_string(const char *p, const char *e)
{
	if (p >= e || *p != '"')
		return NULL;
	for (p++; p < e; p++) {
		if (*p == '\\')
			p++;
		else if (*p == '"')
			return p + 1;
	}
	return NULL;
}

static const char *
skip_token(const char *p, const char *e, char c)
{
	p = skip_ws(p, e);
	return p < e && *p == c ? skip_ws(p + 1, e) : NULL;
}

/*
 * The event object's text inside ["EVENT","sub",{...}] (already parsed,
 * nothing after it), so it can be forwarded without printing it again. Only
 * when it is plain: no control byte (a raw newline would break NDJSON),
 * valid UTF-8. Otherwise raw stays NULL and the caller prints the object.
 */
static void
frame_event_span(struct frame *f, const char *buf, size_t len)
{
	const char *e = buf + len, *p, *q;
	size_t i;

	if ((p = skip_token(buf, e, '[')) == NULL || (p = skip_string(p, e)) == NULL ||
	    (p = skip_token(p, e, ',')) == NULL || (p = skip_string(p, e)) == NULL ||
	    (p = skip_token(p, e, ',')) == NULL || p >= e || *p != '{')
		return;
	for (q = e; q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n' || q[-1] == '\r'); q--)
		;
	if (q <= p || q[-1] != ']')
		return;
	for (q--; q > p && (q[-1] == ' ' || q[-1] == '\t' || q[-1] == '\n' || q[-1] == '\r'); q--)
		;
	if (q <= p || q[-1] != '}')
		return;
	for (i = 0; i < (size_t)(q - p); i++)
		if ((unsigned char)p[i] < 0x20)
			return;
	if (!utf8_valid(p, (size_t)(q - p)))
		return;
	f->raw = p;
	f->rawlen = (size_t)(q - p);
}

static int
frame_event(struct frame *f, int n, const char *buf, size_t len)
{
	f->type = FR_EVENT;
	f->sub = item_str(f->root, 1);
	f->event = cJSON_GetArrayItem(f->root, 2);
	if (n != 3 || f->sub == NULL || !cJSON_IsObject(f->event))
		return DROP_BAD_TYPE;
	if (event_from_cjson(&f->ev, f->event, f->err, sizeof(f->err)) == -1)
		return DROP_BAD_EVENT;
	frame_event_span(f, buf, len);
	return -1;
}

static int
frame_ok(struct frame *f, int n)
{
	const cJSON *acc = cJSON_GetArrayItem(f->root, 2);

	f->type = FR_OK;
	f->id = item_str(f->root, 1);
	f->message = n >= 4 ? item_str(f->root, 3) : "";
	if (n < 3 || n > 4 || f->id == NULL || !cJSON_IsBool(acc) || f->message == NULL)
		return DROP_BAD_TYPE;
	f->accepted = cJSON_IsTrue(acc);
	return -1;
}

static int
frame_classify(struct frame *f, const char *type, int n, const char *buf, size_t len)
{
	if (strcmp(type, "EVENT") == 0)
		return frame_event(f, n, buf, len);
	if (strcmp(type, "OK") == 0)
		return frame_ok(f, n);
	if (strcmp(type, "EOSE") == 0) {
		f->type = FR_EOSE;
		f->sub = item_str(f->root, 1);
		return n == 2 && f->sub ? -1 : DROP_BAD_TYPE;
	}
	if (strcmp(type, "NOTICE") == 0) {
		f->type = FR_NOTICE;
		f->message = item_str(f->root, 1);
		return n == 2 && f->message ? -1 : DROP_BAD_TYPE;
	}
	if (strcmp(type, "CLOSED") == 0) {
		f->type = FR_CLOSED;
		f->sub = item_str(f->root, 1);
		f->message = n >= 3 ? item_str(f->root, 2) : "";
		return (n == 2 || n == 3) && f->sub && f->message ? -1 : DROP_BAD_TYPE;
	}
	if (strcmp(type, "AUTH") == 0) {
		f->type = FR_AUTH;
		f->challenge = item_str(f->root, 1);
		return n == 2 && f->challenge ? -1 : DROP_BAD_TYPE;
	}
	return DROP_UNKNOWN_TYPE;
}

/*
 * Parse buf[0..len). Returns -1 with *f filled (the caller frees it with
 * frame_free) or a drop reason (nothing to free).
 */
int
frame_parse(struct frame *f, const char *buf, size_t len)
{
	const char *type, *end = NULL;
	int n, r;

	memset(f, 0, sizeof(*f));
	if ((f->root = cJSON_ParseWithLengthOpts(buf, len, &end, 0)) == NULL)
		return DROP_MALFORMED;
	if (end == NULL || skip_ws(end, buf + len) != buf + len) {
		r = DROP_MALFORMED;	/* something after the JSON value */
		goto bad;
	}
	if (!cJSON_IsArray(f->root)) {
		r = DROP_NOT_ARRAY;
		goto bad;
	}
	n = cJSON_GetArraySize(f->root);
	if (n < 1 || (type = item_str(f->root, 0)) == NULL) {
		r = DROP_BAD_TYPE;
		goto bad;
	}
	if ((r = frame_classify(f, type, n, buf, len)) == -1)
		return -1;
bad:
	frame_free(f);
	return r;
}

void
frame_free(struct frame *f)
{
	event_free(&f->ev);	/* harmless on the zeroed struct of a non-EVENT */
	cJSON_Delete(f->root);
	f->root = NULL;
	f->event = NULL;
	memset(&f->ev, 0, sizeof(f->ev));
}

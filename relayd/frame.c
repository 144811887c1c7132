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

static int
frame_event(struct frame *f, int n, char *err, size_t errlen)
{
	f->type = FR_EVENT;
	f->sub = item_str(f->root, 1);
	f->event = cJSON_GetArrayItem(f->root, 2);
	if (n != 3 || f->sub == NULL || !cJSON_IsObject(f->event))
		return DROP_BAD_TYPE;
	if (event_from_cjson(&f->ev, f->event, err, errlen) == -1)
		return DROP_BAD_EVENT;
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
frame_classify(struct frame *f, const char *type, int n)
{
	if (strcmp(type, "EVENT") == 0)
		return frame_event(f, n, f->err, sizeof(f->err));
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
	const char *type;
	int n, r;

	memset(f, 0, sizeof(*f));
	if ((f->root = cJSON_ParseWithLength(buf, len)) == NULL)
		return DROP_MALFORMED;
	if (!cJSON_IsArray(f->root)) {
		r = DROP_NOT_ARRAY;
		goto bad;
	}
	n = cJSON_GetArraySize(f->root);
	if (n < 1 || (type = item_str(f->root, 0)) == NULL) {
		r = DROP_BAD_TYPE;
		goto bad;
	}
	if ((r = frame_classify(f, type, n)) == -1)
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

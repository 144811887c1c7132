/*
 * event.h: Nostr events (NIP-01). Strict parsing, canonical serialization,
 * id, BIP-340 sign and verify.
 *
 * Tags are kept as a cJSON array of arrays of strings, owned by the event.
 * Content is raw UTF-8; it may not contain NUL (events with "\u0000" in any
 * string are rejected: they cannot be carried as C strings and no DVM needs them).
 */
#ifndef EVENT_H
#define EVENT_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "keys.h"

#define EVENT_MAX_JSON		(256 * 1024)	/* bytes of one event's JSON */
#define EVENT_MAX_TAGS		2000
#define EVENT_MAX_TAG_ITEMS	64

struct event {
	uint8_t	 id[32];
	uint8_t	 pubkey[32];
	uint8_t	 sig[64];
	char	 idhex[65];
	char	 pubhex[65];
	int64_t	 created_at;
	int	 kind;		/* 0..65535 */
	cJSON	*tags;		/* array of arrays of strings; owned */
	char	*content;	/* owned, NUL-terminated */
	size_t	 content_len;
	int	 view;		/* tags and content belong to a cJSON tree (event_view_cjson) */
};

/*
 * Parse one event object from JSON text (at most EVENT_MAX_JSON bytes).
 * Checks: object with exactly-typed fields id (64 lowercase hex), pubkey
 * (64 lowercase hex), sig (128 lowercase hex), created_at (integer >= 0,
 * < 2^53), kind (integer 0..65535), tags (array of non-empty arrays of
 * strings, limits above), content (string); valid UTF-8, no lone
 * surrogates, no NUL. Does not check the id or the signature (event_verify).
 * The text must be strict JSON: no raw control characters in strings, and
 * every number in it a plain non-negative integer (no sign, fraction,
 * exponent or leading zero: created_at and kind are the only numbers of a
 * NIP-01 event). Unknown keys are ignored; a known key given twice is
 * refused (readers that keep the first and the last would disagree).
 * Returns 0, or -1 with a short reason in err ("bad id", "tags: not an array"...).
 */
int	event_parse(struct event *, const char *json, size_t len, char *err, size_t errlen);
/*
 * Same, from an already parsed cJSON object (not taken over). cJSON cannot
 * show an embedded "\u0000" (it cuts the string there) and accepts invalid
 * UTF-8 and raw control characters: run json_text_check over the whole
 * message text before cJSON_Parse (event_parse does this itself).
 * Numbers must be integral here; event_parse also rejects 1.0 and 1e3.
 */
int	event_from_cjson(struct event *, const cJSON *obj, char *err, size_t errlen);
/*
 * The same checks, without copying: the event's tags and content point into
 * obj, which must outlive it and not change (event_free then frees
 * nothing). For the hot path, where every event is read from a tree that
 * is freed right after. Never pass a view to event_add_tag or event_sign.
 */
int	event_view_cjson(struct event *, const cJSON *obj, char *err, size_t errlen);
/*
 * 0 if JSON text is valid UTF-8 with no raw control characters in strings,
 * no "\u0000" and no lone surrogate escapes; -1 with the reason in err.
 */
int	json_text_check(const char *json, size_t len, char *err, size_t errlen);
void	event_free(struct event *);

/*
 * Canonical serialization [0,pubkey,created_at,kind,tags,content] per
 * NIP-01 (escapes \n \" \\ \r \t \b \f, other C0 as lowercase \u00xx, all
 * else verbatim). *out malloc'd, NUL-terminated, *len set.
 */
int	event_serialize(const struct event *, char **out, size_t *len);
/* sha256 of the serialization into id (does not touch ev->id). */
int	event_compute_id(const struct event *, uint8_t id[32]);
/* 0 if the id matches the content and the signature is valid, else -1. */
int	event_verify(const struct event *);
/* 1 if only the id matches (cheaper check, used by tests/fuzz). */
int	event_id_ok(const struct event *);

/*
 * Initialise an event to be built: kind, content (copied), created_at
 * (0 = now), empty tags. Then event_add_tag ..., then event_sign.
 */
int	event_init(struct event *, int kind, const char *content, int64_t created_at);
/* Append a tag of n strings. */
int	event_add_tag(struct event *, const char *const *vals, size_t n);
/* Convenience: append a tag of 2..4 strings (NULLs end the list). */
int	event_add_tagv(struct event *, const char *a, const char *b, const char *c, const char *d);
/*
 * event_init and event_add_tag refuse (-1, EINVAL) strings that are not
 * valid UTF-8 or contain NUL: such an event could not be serialized.
 */
/* Set pubkey from kp, compute id, sign with fresh aux randomness, verify. */
int	event_sign(struct event *, const struct keypair *);

/* Compact JSON of the whole event (id, pubkey, created_at, kind, tags, content, sig). malloc'd. */
char	*event_to_json(const struct event *);
cJSON	*event_to_cjson(const struct event *);

/* The first tag whose name is `name`, or NULL. */
const cJSON *event_tag_find(const struct event *, const char *name);
/* Item idx (0 = name) of a tag array as a string, or NULL. */
const char *tag_item(const cJSON *tag, int idx);

/* 1 if s[0..len) is valid UTF-8 without surrogates, overlongs or NUL. */
int	utf8_valid(const char *s, size_t len);
/* Same, NUL bytes allowed if allow_nul (decrypted plaintexts). */
int	utf8_check(const char *s, size_t len, int allow_nul);

#endif

/*
 * event.c: Nostr events (NIP-01): strict parsing, canonical serialization,
 * id, BIP-340 sign and verify, building.
 *
 * cJSON 1.7.15 gives the structure but does not validate raw UTF-8, cuts
 * strings at "\u0000" and accepts raw control characters and numbers like
 * 1e3 or 01, so event_parse first scans the raw text itself (json_scan).
 *
 * Policy: a known key appearing twice is rejected (cJSON would silently
 * keep the first, and another implementation might keep the last: two
 * readers must never see two different events). Unknown keys are ignored,
 * as NIP-01 relays and clients do.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>
#include <secp256k1_schnorrsig.h>

#include "encoding.h"
#include "event.h"

#define MAX_SAFE_INT 9007199254740992.0	/* 2^53: beyond it doubles lose integers */

/* ---- UTF-8 ---- */

/* Length (1..4) of the valid UTF-8 sequence at s, or 0. NUL counts as valid. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	if (c < 0xe0)
		return (n >= 2 && s[1] >= 0x80 && s[1] <= 0xbf) ? 2 : 0;
	if (c == 0xe0)
		lo = 0xa0;		/* overlong */
	else if (c == 0xed)
		hi = 0x9f;		/* UTF-16 surrogates */
	else if (c == 0xf0)
		lo = 0x90;		/* overlong */
	else if (c == 0xf4)
		hi = 0x8f;		/* beyond U+10FFFF */
	if (c < 0xf0)
		return (n >= 3 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80) ? 3 : 0;
	return (n >= 4 && s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
	    (s[3] & 0xc0) == 0x80) ? 4 : 0;
}

int
utf8_check(const char *str, size_t len, int allow_nul)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, k;

	while (i < len) {
		if (s[i] >= 0x80) {
			if ((k = utf8_seq(s + i, len - i)) == 0)
				return 0;
			i += k;
		} else if (s[i] == 0 && !allow_nul)
			return 0;
		else
			i++;
	}
	return 1;
}

int
utf8_valid(const char *s, size_t len)
{
	return utf8_check(s, len, 0);
}

/* ---- raw JSON text checks ---- */

static int
json_hex4(const char *s, size_t n, size_t i, unsigned *v)
{
	size_t k;
	int d;

	if (i + 4 > n)
		return -1;
	*v = 0;
	for (k = 0; k < 4; k++) {
		char c = s[i + k];

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v << 4 | (unsigned)d;
	}
	return 0;
}

/* One escape at s[i] == '\\': its length in *k, or the reason it is refused. */
static const char *
json_escape_len(const char *s, size_t n, size_t i, size_t *k)
{
	unsigned v, w;

	if (i + 1 >= n)
		return "JSON: truncated escape";
	*k = 2;
	if (s[i + 1] != 'u')
		return NULL;	/* cJSON checks the escape letter itself */
	if (json_hex4(s, n, i + 2, &v) == -1)
		return "JSON: bad \\u escape";
	if (v == 0)
		return "JSON: \\u0000 not allowed";
	if (v >= 0xdc00 && v <= 0xdfff)
		return "JSON: lone surrogate";
	*k = 6;
	if (v < 0xd800 || v > 0xdbff)
		return NULL;
	if (i + 7 >= n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
	    json_hex4(s, n, i + 8, &w) == -1 || w < 0xdc00 || w > 0xdfff)
		return "JSON: lone surrogate";
	*k = 12;
	return NULL;
}

/* A number token at s[i]: its length in *k, or the reason it is refused. */
static const char *
json_number_len(const char *s, size_t n, size_t i, int int_only, size_t *k)
{
	size_t j = i;
	int plain = 1;

	while (j < n && ((s[j] >= '0' && s[j] <= '9') || s[j] == '-' || s[j] == '+' ||
	    s[j] == '.' || s[j] == 'e' || s[j] == 'E')) {
		if (s[j] < '0' || s[j] > '9')
			plain = 0;
		j++;
	}
	if (int_only && (!plain || (s[i] == '0' && j - i > 1)))
		return "JSON: number is not a plain non-negative integer";
	*k = j - i;
	return NULL;
}

/* Outside strings: the reason a byte is refused, or NULL; advances *i. */
static const char *
json_scan_outside(const char *json, size_t n, int int_only, size_t *i, int *instr)
{
	unsigned char c = (unsigned char)json[*i];
	const char *why;
	size_t k;

	if (c == '"') {
		*instr = 1;
		(*i)++;
	} else if ((c >= '0' && c <= '9') || c == '-') {
		if ((why = json_number_len(json, n, *i, int_only, &k)) != NULL)
			return why;
		*i += k;
	} else if (c >= 0x80 || c == 0)
		return "JSON: bad byte outside a string";
	else
		(*i)++;
	return NULL;
}

/* Inside a string: the reason a byte is refused, or NULL; advances *i. */
static const char *
json_scan_inside(const char *json, size_t n, size_t *i, int *instr)
{
	const unsigned char *s = (const unsigned char *)json;
	unsigned char c = s[*i];
	const char *why;
	size_t k;

	if (c == '"') {
		*instr = 0;
		k = 1;
	} else if (c == '\\') {
		if ((why = json_escape_len(json, n, *i, &k)) != NULL)
			return why;
	} else if (c < 0x20)
		return "JSON: control character in a string";
	else if (c < 0x80)
		k = 1;
	else if ((k = utf8_seq(s + *i, n - *i)) == 0)
		return "JSON: invalid UTF-8";
	*i += k;
	return NULL;
}

/*
 * What cJSON does not check: valid UTF-8, no raw control characters in
 * strings, no "\u0000", no lone surrogates; with int_only, numbers are
 * plain digits without leading zeros (no sign, fraction or exponent).
 * Returns NULL or the reason.
 */
static const char *
json_scan(const char *json, size_t n, int int_only)
{
	const char *why;
	size_t i = 0;
	int instr = 0;

	while (i < n) {
		why = instr ? json_scan_inside(json, n, &i, &instr) :
		    json_scan_outside(json, n, int_only, &i, &instr);
		if (why != NULL)
			return why;
	}
	return NULL;
}

int
json_text_check(const char *json, size_t len, char *err, size_t errlen)
{
	const char *why;

	if ((why = json_scan(json, len, 0)) == NULL)
		return 0;
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", why);
	return -1;
}

/* ---- parsing ---- */

static int
event_fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", why);
	errno = EINVAL;
	return -1;
}

enum { F_ID, F_PUBKEY, F_SIG, F_CREATED, F_KIND, F_TAGS, F_CONTENT, F_N };
static const char *const event_fields[F_N] = {
	"id", "pubkey", "sig", "created_at", "kind", "tags", "content"
};

/* Collect the known fields; refuse duplicates and missing ones. */
static int
event_fields_get(const cJSON *obj, const cJSON *f[F_N], char *err, size_t errlen)
{
	const cJSON *it;
	char why[40];
	int k;

	memset(f, 0, sizeof(*f) * F_N);
	for (it = obj->child; it != NULL; it = it->next) {
		if (it->string == NULL)
			return event_fail(err, errlen, "not an object");
		for (k = 0; k < F_N; k++) {
			if (strcmp(it->string, event_fields[k]) != 0)
				continue;
			if (f[k] != NULL) {
				snprintf(why, sizeof(why), "duplicate key %s", event_fields[k]);
				return event_fail(err, errlen, why);
			}
			f[k] = it;
		}
	}
	for (k = 0; k < F_N; k++)
		if (f[k] == NULL) {
			snprintf(why, sizeof(why), "missing %s", event_fields[k]);
			return event_fail(err, errlen, why);
		}
	return 0;
}

static int
event_get_hex(const cJSON *it, uint8_t *out, size_t n)
{
	if (!cJSON_IsString(it) || !hex_is_lower(it->valuestring, 2 * n))
		return -1;
	return hex_decode(it->valuestring, 2 * n, out, n);
}

/* An integral number in [0, max]. */
static int
event_get_int(const cJSON *it, double max, int64_t *out)
{
	double d;

	if (!cJSON_IsNumber(it))
		return -1;
	d = it->valuedouble;
	if (!isfinite(d) || d < 0 || d > max || floor(d) != d)
		return -1;
	*out = (int64_t)d;
	return 0;
}

static const char *
event_check_tags(const cJSON *tags)
{
	const cJSON *tag, *item;
	int ntags = 0, nitems;

	if (!cJSON_IsArray(tags))
		return "tags: not an array";
	cJSON_ArrayForEach(tag, tags) {
		if (++ntags > EVENT_MAX_TAGS)
			return "tags: too many";
		if (!cJSON_IsArray(tag))
			return "tags: tag not an array";
		nitems = 0;
		cJSON_ArrayForEach(item, tag) {
			if (++nitems > EVENT_MAX_TAG_ITEMS)
				return "tags: tag too long";
			if (!cJSON_IsString(item) || item->valuestring == NULL)
				return "tags: item not a string";
			if (!utf8_valid(item->valuestring, strlen(item->valuestring)))
				return "tags: invalid UTF-8";
		}
		if (nitems == 0)
			return "tags: empty tag";
	}
	return NULL;
}

/* The checks of event_from_cjson; on success f[] holds the fields. */
static int
event_check_cjson(struct event *ev, const cJSON *obj, const cJSON *f[F_N], char *err,
    size_t errlen)
{
	const char *why;
	int64_t kind;
	size_t clen;

	memset(ev, 0, sizeof(*ev));
	if (!cJSON_IsObject(obj))
		return event_fail(err, errlen, "not an object");
	if (event_fields_get(obj, f, err, errlen) == -1)
		return -1;
	if (event_get_hex(f[F_ID], ev->id, 32) == -1)
		return event_fail(err, errlen, "bad id");
	if (event_get_hex(f[F_PUBKEY], ev->pubkey, 32) == -1)
		return event_fail(err, errlen, "bad pubkey");
	if (event_get_hex(f[F_SIG], ev->sig, 64) == -1)
		return event_fail(err, errlen, "bad sig");
	if (event_get_int(f[F_CREATED], MAX_SAFE_INT - 1, &ev->created_at) == -1)
		return event_fail(err, errlen, "bad created_at");
	if (event_get_int(f[F_KIND], 65535, &kind) == -1)
		return event_fail(err, errlen, "bad kind");
	ev->kind = (int)kind;
	if ((why = event_check_tags(f[F_TAGS])) != NULL)
		return event_fail(err, errlen, why);
	if (!cJSON_IsString(f[F_CONTENT]) || f[F_CONTENT]->valuestring == NULL)
		return event_fail(err, errlen, "content: not a string");
	clen = strlen(f[F_CONTENT]->valuestring);
	if (!utf8_valid(f[F_CONTENT]->valuestring, clen))
		return event_fail(err, errlen, "content: invalid UTF-8");
	ev->content_len = clen;
	hex_encode(ev->id, 32, ev->idhex);
	hex_encode(ev->pubkey, 32, ev->pubhex);
	return 0;
}

int
event_from_cjson(struct event *ev, const cJSON *obj, char *err, size_t errlen)
{
	const cJSON *f[F_N];
	size_t clen;

	if (event_check_cjson(ev, obj, f, err, errlen) == -1)
		return -1;
	clen = ev->content_len;
	if ((ev->tags = cJSON_Duplicate(f[F_TAGS], 1)) == NULL ||
	    (ev->content = malloc(clen + 1)) == NULL) {
		event_free(ev);
		return event_fail(err, errlen, "out of memory");
	}
	memcpy(ev->content, f[F_CONTENT]->valuestring, clen + 1);
	return 0;
}

int
event_view_cjson(struct event *ev, const cJSON *obj, char *err, size_t errlen)
{
	const cJSON *f[F_N];

	if (event_check_cjson(ev, obj, f, err, errlen) == -1)
		return -1;
	/* cJSON's API is not const-correct; a view never changes the tree. */
	ev->tags = (cJSON *)(uintptr_t)f[F_TAGS];
	ev->content = f[F_CONTENT]->valuestring;
	ev->view = 1;
	return 0;
}

int
event_parse(struct event *ev, const char *json, size_t len, char *err, size_t errlen)
{
	const char *why, *end = NULL;
	cJSON *root;
	size_t i;
	int rc;

	memset(ev, 0, sizeof(*ev));
	if (json == NULL)
		return event_fail(err, errlen, "no input");
	if (len > EVENT_MAX_JSON)
		return event_fail(err, errlen, "too large");
	if ((why = json_scan(json, len, 1)) != NULL)
		return event_fail(err, errlen, why);
	if ((root = cJSON_ParseWithLengthOpts(json, len, &end, 0)) == NULL)
		return event_fail(err, errlen, "invalid JSON");
	for (i = (size_t)(end - json); i < len; i++)
		if (json[i] != ' ' && json[i] != '\t' && json[i] != '\n' && json[i] != '\r') {
			cJSON_Delete(root);
			return event_fail(err, errlen, "trailing data after the event");
		}
	rc = event_from_cjson(ev, root, err, errlen);
	cJSON_Delete(root);
	return rc;
}

void
event_free(struct event *ev)
{
	if (ev == NULL)
		return;
	if (!ev->view) {
		cJSON_Delete(ev->tags);
		free(ev->content);
	}
	ev->view = 0;
	ev->tags = NULL;
	ev->content = NULL;
	ev->content_len = 0;
}

/* ---- canonical serialization ---- */

/*
 * A growing output buffer; err sticks after the first allocation failure.
 * It may start in the caller's buffer (ext), and moves to the heap only
 * if it outgrows it.
 */
struct sbuf {
	char	*p;
	size_t	 len, cap;
	int	 err;
	char	*ext;
};

static int
sb_reserve(struct sbuf *b, size_t more)
{
	size_t want;
	char *np;

	if (b->err)
		return -1;
	if (more <= b->cap - b->len)
		return 0;
	if (more > SIZE_MAX / 2 - b->len) {
		b->err = 1;
		return -1;
	}
	want = b->cap ? b->cap : 256;
	while (want - b->len < more)
		want *= 2;
	if ((np = realloc(b->p == b->ext ? NULL : b->p, want)) == NULL) {
		b->err = 1;
		return -1;
	}
	if (b->p != NULL && b->p == b->ext)
		memcpy(np, b->p, b->len);
	b->p = np;
	b->cap = want;
	return 0;
}

static void
sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (sb_reserve(b, n) == -1)
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void
sb_int(struct sbuf *b, int64_t v)
{
	char tmp[24];
	size_t i = sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		tmp[--i] = '-';
	sb_put(b, tmp + i, sizeof(tmp) - i);
}

/*
 * NIP-01 escaping: the seven short escapes, other C0 controls as \u00xx
 * (lowercase, as JSON.stringify and go-nostr write them), everything else
 * (UTF-8, '/', DEL) verbatim.
 */
static const char esc_short[256] = {
	['\n'] = 'n', ['"'] = '"', ['\\'] = '\\', ['\r'] = 'r',
	['\t'] = 't', ['\b'] = 'b', ['\f'] = 'f',
};

static inline size_t
esc_len(unsigned char c)
{
	if (c >= 0x20 && c != '"' && c != '\\')
		return 1;
	return esc_short[c] ? 2 : 6;
}

/* A quoted, escaped JSON string. */
static void
sb_str(struct sbuf *b, const char *str, size_t n)
{
	static const char hexd[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)str;
	size_t i, need = 2;
	char *o;

	for (i = 0; i < n; i++)
		need += esc_len(s[i]);
	if (sb_reserve(b, need) == -1)
		return;
	o = b->p + b->len;
	*o++ = '"';
	if (need == n + 2) {	/* nothing to escape, the usual case: one copy */
		memcpy(o, s, n);
		o[n] = '"';
		b->len += need;
		return;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = s[i];

		if (c >= 0x20 && !esc_short[c])
			*o++ = (char)c;
		else if (esc_short[c]) {
			*o++ = '\\';
			*o++ = esc_short[c];
		} else {
			memcpy(o, "\\u00", 4);
			o[4] = hexd[c >> 4];
			o[5] = hexd[c & 0xf];
			o += 6;
		}
	}
	*o++ = '"';
	b->len += need;
}

static void
sb_tags(struct sbuf *b, const cJSON *tags)
{
	const cJSON *tag, *item;

	sb_put(b, "[", 1);
	cJSON_ArrayForEach(tag, tags) {
		if (tag != tags->child)
			sb_put(b, ",", 1);
		sb_put(b, "[", 1);
		cJSON_ArrayForEach(item, tag) {
			const char *v = cJSON_IsString(item) && item->valuestring ? item->valuestring : "";

			if (item != tag->child)
				sb_put(b, ",", 1);
			sb_str(b, v, strlen(v));
		}
		sb_put(b, "]", 1);
	}
	sb_put(b, "]", 1);
}

static int
sb_finish(struct sbuf *b, char **out, size_t *len)
{
	sb_put(b, "", 1);
	if (b->err) {
		if (b->p != b->ext)
			free(b->p);
		errno = ENOMEM;
		return -1;
	}
	*out = b->p;
	if (len != NULL)
		*len = b->len - 1;
	return 0;
}

static int
event_serialize_into(const struct event *ev, struct sbuf *bp, char **out, size_t *len)
{
	struct sbuf b = *bp;

	/* One guess big enough for most events avoids regrowing. */
	sb_reserve(&b, 160 + ev->content_len + ev->content_len / 8);
	sb_puts(&b, "[0,\"");
	sb_put(&b, ev->pubhex, 64);
	sb_puts(&b, "\",");
	sb_int(&b, ev->created_at);
	sb_put(&b, ",", 1);
	sb_int(&b, ev->kind);
	sb_put(&b, ",", 1);
	sb_tags(&b, ev->tags);
	sb_put(&b, ",", 1);
	sb_str(&b, ev->content ? ev->content : "", ev->content_len);
	sb_put(&b, "]", 1);
	return sb_finish(&b, out, len);
}

int
event_serialize(const struct event *ev, char **out, size_t *len)
{
	struct sbuf b = { NULL, 0, 0, 0, NULL };

	return event_serialize_into(ev, &b, out, len);
}

/*
 * SHA-256, fetched once: EVP_sha256() makes every EVP_Digest look the
 * algorithm up in the provider store again (a lock and a hash lookup,
 * a third of the hashing cost of a small event). The handle is immutable
 * and lives until exit.
 */
static const EVP_MD *
sha256_md(void)
{
	static EVP_MD *md;

	if (md == NULL)
		md = EVP_MD_fetch(NULL, "SHA256", NULL);
	return md != NULL ? md : EVP_sha256();
}

int
event_compute_id(const struct event *ev, uint8_t id[32])
{
	/* Most events fit on the stack: no malloc per verified event. */
	char stack[4096], *ser;
	struct sbuf b = { stack, 0, sizeof(stack), 0, stack };
	size_t len;
	unsigned int mdlen = 32;
	int ok;

	if (event_serialize_into(ev, &b, &ser, &len) == -1)
		return -1;
	ok = EVP_Digest(ser, len, id, &mdlen, sha256_md(), NULL);
	if (ser != stack)
		free(ser);
	return ok ? 0 : -1;
}

int
event_id_ok(const struct event *ev)
{
	uint8_t id[32];

	return event_compute_id(ev, id) == 0 && memcmp(id, ev->id, 32) == 0;
}

int
event_verify(const struct event *ev)
{
	if (!event_id_ok(ev))
		return -1;
	return bip340_verify(ev->pubkey, ev->id, 32, ev->sig);
}

char *
event_to_json(const struct event *ev)
{
	struct sbuf b = { NULL, 0, 0, 0, NULL };
	char sighex[129], *out;

	hex_encode(ev->sig, 64, sighex);
	sb_reserve(&b, 400 + ev->content_len + ev->content_len / 8);
	sb_puts(&b, "{\"id\":\"");
	sb_put(&b, ev->idhex, 64);
	sb_puts(&b, "\",\"pubkey\":\"");
	sb_put(&b, ev->pubhex, 64);
	sb_puts(&b, "\",\"created_at\":");
	sb_int(&b, ev->created_at);
	sb_puts(&b, ",\"kind\":");
	sb_int(&b, ev->kind);
	sb_puts(&b, ",\"tags\":");
	sb_tags(&b, ev->tags);
	sb_puts(&b, ",\"content\":");
	sb_str(&b, ev->content ? ev->content : "", ev->content_len);
	sb_puts(&b, ",\"sig\":\"");
	sb_put(&b, sighex, 128);
	sb_puts(&b, "\"}");
	return sb_finish(&b, &out, NULL) == 0 ? out : NULL;
}

cJSON *
event_to_cjson(const struct event *ev)
{
	char sighex[129];
	cJSON *o, *tags;

	hex_encode(ev->sig, 64, sighex);
	if ((o = cJSON_CreateObject()) == NULL)
		return NULL;
	if (cJSON_AddStringToObject(o, "id", ev->idhex) == NULL ||
	    cJSON_AddStringToObject(o, "pubkey", ev->pubhex) == NULL ||
	    cJSON_AddNumberToObject(o, "created_at", (double)ev->created_at) == NULL ||
	    cJSON_AddNumberToObject(o, "kind", ev->kind) == NULL ||
	    (tags = cJSON_Duplicate(ev->tags, 1)) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(o, "tags", tags);
	if (cJSON_AddStringToObject(o, "content", ev->content ? ev->content : "") == NULL ||
	    cJSON_AddStringToObject(o, "sig", sighex) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* ---- building and signing ---- */

int
event_init(struct event *ev, int kind, const char *content, int64_t created_at)
{
	size_t clen;

	memset(ev, 0, sizeof(*ev));
	if (content == NULL)
		content = "";
	clen = strlen(content);
	if (kind < 0 || kind > 65535 || created_at < 0 || created_at >= (int64_t)MAX_SAFE_INT ||
	    !utf8_valid(content, clen)) {
		errno = EINVAL;
		return -1;
	}
	ev->kind = kind;
	ev->created_at = created_at ? created_at : (int64_t)time(NULL);
	if ((ev->content = malloc(clen + 1)) == NULL || (ev->tags = cJSON_CreateArray()) == NULL) {
		event_free(ev);
		errno = ENOMEM;
		return -1;
	}
	memcpy(ev->content, content, clen + 1);
	ev->content_len = clen;
	return 0;
}

int
event_add_tag(struct event *ev, const char *const *vals, size_t n)
{
	cJSON *tag, *s;
	size_t i;

	if (ev->tags == NULL || ev->view || n == 0 || n > EVENT_MAX_TAG_ITEMS ||
	    cJSON_GetArraySize(ev->tags) >= EVENT_MAX_TAGS) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (vals[i] == NULL || !utf8_valid(vals[i], strlen(vals[i]))) {
			errno = EINVAL;
			return -1;
		}
	if ((tag = cJSON_CreateArray()) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if ((s = cJSON_CreateString(vals[i])) == NULL) {
			cJSON_Delete(tag);
			errno = ENOMEM;
			return -1;
		}
		cJSON_AddItemToArray(tag, s);
	}
	cJSON_AddItemToArray(ev->tags, tag);
	return 0;
}

int
event_add_tagv(struct event *ev, const char *a, const char *b, const char *c, const char *d)
{
	const char *v[4] = { a, b, c, d };
	size_t n = 0;

	while (n < 4 && v[n] != NULL)
		n++;
	return event_add_tag(ev, v, n);
}

int
event_sign(struct event *ev, const struct keypair *kp)
{
	uint8_t aux[32];
	int ok;

	memcpy(ev->pubkey, kp->pk, 32);
	memcpy(ev->pubhex, kp->pkhex, sizeof(ev->pubhex));
	if (event_compute_id(ev, ev->id) == -1)
		return -1;
	hex_encode(ev->id, 32, ev->idhex);
	if (RAND_bytes(aux, sizeof(aux)) != 1)
		return -1;
	ok = secp256k1_schnorrsig_sign32(secp_ctx(), ev->sig, ev->id, &kp->kp, aux);
	OPENSSL_cleanse(aux, sizeof(aux));
	/* libsecp256k1 does not check its own output; a fault must not go out. */
	if (!ok || bip340_verify(ev->pubkey, ev->id, 32, ev->sig) == -1) {
		memset(ev->sig, 0, sizeof(ev->sig));
		return -1;
	}
	return 0;
}

/* ---- tags ---- */

const cJSON *
event_tag_find(const struct event *ev, const char *name)
{
	const cJSON *tag;
	const char *n;

	if (ev->tags == NULL)
		return NULL;
	cJSON_ArrayForEach(tag, ev->tags)
		if ((n = tag_item(tag, 0)) != NULL && strcmp(n, name) == 0)
			return tag;
	return NULL;
}

const char *
tag_item(const cJSON *tag, int idx)
{
	const cJSON *it;

	if (!cJSON_IsArray(tag) || idx < 0)
		return NULL;
	it = cJSON_GetArrayItem(tag, idx);
	return cJSON_IsString(it) ? it->valuestring : NULL;
}

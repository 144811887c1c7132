/*
 * conf.c: dvm.conf. One table names every key, its type, where it lives in
 * struct conf, its default and its limits; the defaults go through the same
 * parser as the file, so a default can never be a value the file could not
 * hold. Adding a key is one line in conf_table (and a field in conf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "model.h"

#define CONF_MAX_FILE	(1024 * 1024)
#define STR_(x)		#x
#define STR(x)		STR_(x)
#define TOO_LONG	"value longer than " STR(CONF_MAX_STR) " bytes"

enum conf_type { CT_STR, CT_CHOICE, CT_INT, CT_DOUBLE, CT_BOOL, CT_ENUM,
	CT_LIST, CT_INTLIST };

/* A check returns NULL when v is acceptable, else the reason. */
typedef const char *(*conf_check)(const char *v);

struct conf_key {
	const char	*name;
	enum conf_type	 type;
	size_t		 off;
	size_t		 offn;		/* CT_INTLIST: offset of the count */
	const char	*def;
	double		 min, max;	/* CT_INT, CT_DOUBLE, items of CT_INTLIST */
	const char *const *names;	/* CT_ENUM, CT_CHOICE: index = value */
	conf_check	 check;		/* CT_STR and items of CT_LIST */
};

static const char *const backend_names[] = { "ollama", "openai", NULL };
static const char *const payment_names[] = { "after", "before", "free", "hold", NULL };
static const char *const wallet_names[] = { "none", "lnbits", "nwc", "spark", "lnd", NULL };
static const char *const level_names[] = { "debug", "info", "warn", "error", NULL };
static const char *const network_names[] = { "bitcoin", "testnet", "signet",
	"regtest", NULL };
static const char *const privsep_names[] = { "auto", "yes", "no", NULL };

static int
has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

static const char *
check_nonempty(const char *v)
{
	return *v == '\0' ? "must not be empty" : NULL;
}

static const char *
check_ws_url(const char *v)
{
	if ((has_prefix(v, "wss://") && v[6] != '\0') ||
	    (has_prefix(v, "ws://") && v[5] != '\0'))
		return NULL;
	return "not a ws:// or wss:// URL";
}

static const char *
check_http_url(const char *v)
{
	if ((has_prefix(v, "https://") && v[8] != '\0') ||
	    (has_prefix(v, "http://") && v[7] != '\0'))
		return NULL;
	return "not an http:// or https:// URL";
}

static const char *
check_http_url_or_empty(const char *v)
{
	return *v == '\0' ? NULL : check_http_url(v);
}

static const char *
check_spark_url(const char *v)
{
	if (*v == '\0' || (has_prefix(v, "unix:/") && v[6] != '\0'))
		return NULL;
	return check_http_url(v) == NULL ? NULL :
	    "not an http:// or https:// URL or unix:/path";
}

/* Ollama's keep_alive: "5m", "1h30m", "-1", "0". */
static const char *
check_duration(const char *v)
{
	const char *p;

	if (*v == '\0')
		return "must not be empty";
	for (p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
			return "not a duration like 5m or -1";
	return NULL;
}

#define OFF(f) offsetof(struct conf, f)
#define K_STR(k, def, chk)	{ #k, CT_STR, OFF(k), 0, def, 0, 0, NULL, chk }
#define K_CHOICE(k, def, nm)	{ #k, CT_CHOICE, OFF(k), 0, def, 0, 0, nm, NULL }
#define K_INT(k, def, lo, hi)	{ #k, CT_INT, OFF(k), 0, #def, lo, hi, NULL, NULL }
#define K_DBL(k, def, lo, hi)	{ #k, CT_DOUBLE, OFF(k), 0, #def, lo, hi, NULL, NULL }
#define K_BOOL(k, def)		{ #k, CT_BOOL, OFF(k), 0, def, 0, 0, NULL, NULL }
#define K_ENUM(k, def, nm)	{ #k, CT_ENUM, OFF(k), 0, def, 0, 0, nm, NULL }
#define K_LIST(k, def, chk)	{ #k, CT_LIST, OFF(k), 0, def, 0, 0, NULL, chk }

static const struct conf_key conf_table[] = {
	K_STR(state_dir, "./var", check_nonempty),
	K_STR(secret_key_file, "", NULL),
	K_CHOICE(log_level, "info", level_names),
	K_CHOICE(privsep, "auto", privsep_names),
	K_STR(relayd_user, "", NULL),
	K_STR(inferd_user, "", NULL),
	K_STR(invoiced_user, "", NULL),
	K_STR(paned_user, "", NULL),
	K_BOOL(pane, "yes"),
	K_INT(pane_port, 8090, 1, 65535),

	K_LIST(relays, "wss://relay.damus.io wss://nos.lol wss://relay.primal.net "
	    "wss://relay.nostr.band", check_ws_url),
	K_INT(relay_idle_timeout, 90, 5, 86400),
	K_INT(relay_ping_interval, 30, 1, 3600),
	K_INT(relay_backoff_max, 60, 1, 3600),
	K_INT(relay_since_slack, 60, 0, 86400),
	K_INT(relay_max_frame, 262144, 4096, 16777216),
	K_INT(dedupe_size, 100000, 16, 10000000),
	K_INT(publish_queue_max, 256, 0, 100000),
	K_INT(publish_retries, 3, 0, 100),
	K_BOOL(relay_allow_private, "no"),

	{ "job_kinds", CT_INTLIST, OFF(job_kinds), OFF(njob_kinds), "5050",
	    5000, 5999, NULL, NULL },
	K_BOOL(require_p_tag, "no"),
	K_INT(max_request_age, 120, 1, 31536000),
	K_INT(max_future_skew, 60, 0, 86400),
	K_INT(max_prompt_bytes, 16384, 1, 524288),
	K_INT(max_request_bytes, 49152, 1024, 16777216),
	K_INT(max_event_bytes, 65536, 4096, 16777216),
	K_INT(max_tags, 64, 1, 10000),
	K_INT(rate_limit_per_min, 10, 0, 1000000),
	K_INT(max_concurrent_jobs, 4, 1, 1024),
	K_INT(max_queue, 64, 0, 100000),
	K_BOOL(partial_results, "no"),
	K_INT(partial_interval_ms, 1000, 50, 600000),
	K_INT(partial_max_percent, 50, 0, 90),
	K_INT(inference_deadline, 300, 5, 86400),
	K_BOOL(start_online, "yes"),
	K_INT(retain_days, 30, 1, 36500),
	K_INT(retain_rejected_hours, 24, 1, 876000),
	K_STR(name, "sellcompute", check_nonempty),
	K_STR(about, "LLM text generation (kind 5050) served by sellcompute", NULL),
	K_STR(picture, "", check_http_url_or_empty),
	K_STR(lud16, "", NULL),
	K_INT(heartbeat_interval, 300, 10, 86400),

	K_ENUM(infer_backend, "ollama", backend_names),
	K_LIST(infer_urls, "http://127.0.0.1:11434", check_http_url),
	K_STR(model, "llama3.2", check_nonempty),
	K_STR(models, "", NULL),
	K_STR(models_exclude, "", NULL),
	K_STR(model_prices, "", model_prices_check),
	K_INT(max_tokens, 512, 1, 1000000),
	K_DBL(temperature, 0.7, 0, 2),
	K_INT(top_k, 40, 0, 100000),
	K_DBL(top_p, 0.9, 0, 1),
	K_DBL(frequency_penalty, 0.5, -2, 2),
	K_STR(keep_alive, "5m", check_duration),
	K_STR(openai_api_key_file, "", NULL),
	K_INT(infer_max_inflight, 4, 1, 256),
	K_INT(infer_connect_timeout, 10, 1, 600),
	K_INT(infer_first_byte_timeout, 300, 1, 86400),
	K_INT(infer_idle_timeout, 60, 1, 86400),
	K_INT(infer_total_timeout, 900, 1, 86400),
	K_INT(infer_max_output, 262144, 1, 16777216),
	K_INT(infer_health_interval, 30, 1, 86400),
	K_INT(chunk_interval_ms, 100, 0, 60000),

	K_ENUM(payment_mode, "after", payment_names),
	K_INT(min_price_sats, 3, 0, 100000000),
	K_DBL(price_per_1k_tokens, 2, 0, 100000000),
	K_INT(invoice_expiry, 3600, 60, 604800),
	K_INT(quote_ttl, 600, 5, 86400),
	K_INT(max_unpaid_quotes, 200, 1, 100000),
	K_INT(max_unpaid_per_requester, 3, 1, 1000),
	K_INT(hold_max_seconds, 600, 30, 3600),
	K_INT(refuse_unpaid_after, 0, 0, 1000000),
	K_ENUM(wallet, "none", wallet_names),
	K_CHOICE(lightning_network, "bitcoin", network_names),
	K_STR(lnbits_url, "", check_http_url_or_empty),
	K_STR(lnbits_api_key_file, "", NULL),
	K_STR(nwc_uri_file, "", NULL),
	K_STR(spark_url, "", check_spark_url),
	K_STR(spark_api_key_file, "", NULL),
	K_STR(spark_mnemonic_file, "", NULL),
	K_STR(lnd_url, "", check_http_url_or_empty),
	K_STR(lnd_macaroon_file, "", NULL),
	K_STR(lnd_tls_cert_file, "", NULL),
	K_INT(invoice_poll_fast_ms, 1500, 100, 600000),
	K_INT(invoice_poll_slow_ms, 15000, 100, 3600000),
};
#define NKEYS (sizeof(conf_table) / sizeof(conf_table[0]))

/* Where a value came from, for error messages. */
struct conf_src {
	const char *file;	/* NULL: the environment */
	unsigned line;
	const char *envname;
	char	*err;
	size_t	 errlen;
	const char *const *only;	/* not NULL: the only keys allowed (overrides) */
};

/*
 * The keys state_dir/overrides.conf may set (jobd's prices_set writes it;
 * the pane edits prices): read after dvm.conf and the environment, so the
 * operator's last change through the pane wins and survives a restart.
 */
static const char *const override_keys[] = { "min_price_sats", "price_per_1k_tokens",
    "model_prices", NULL };

static int
conf_fail(const struct conf_src *src, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "file:line: key: why" or "environment DVM_KEY: why"; always -1. */
static int
conf_fail(const struct conf_src *src, const char *key, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	if (src->err == NULL || src->errlen == 0)
		return -1;
	if (src->file == NULL && src->envname != NULL)
		snprintf(src->err, src->errlen, "environment %s: %s", src->envname, why);
	else if (src->file == NULL)
		snprintf(src->err, src->errlen, "built-in default: %s: %s", key, why);
	else if (src->line == 0)	/* a value set at run time (conf_override_set) */
		snprintf(src->err, src->errlen, "%s: %s", key, why);
	else if (key != NULL)
		snprintf(src->err, src->errlen, "%s:%u: %s: %s", src->file, src->line, key, why);
	else
		snprintf(src->err, src->errlen, "%s:%u: %s", src->file, src->line, why);
	return -1;
}

static const struct conf_key *
conf_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(conf_table[i].name, name) == 0)
			return &conf_table[i];
	return NULL;
}

static void
conf_list_clear(struct conf_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static int
parse_int(const char *v, double lo, double hi, int *out)
{
	char *end;
	long x;

	if (*v == '\0' || isspace((unsigned char)*v))
		return -1;
	errno = 0;
	x = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || x < lo || x > hi)
		return -1;
	*out = (int)x;
	return 0;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "yes", "true", "1", "on" };
	static const char *const no[] = { "no", "false", "0", "off" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
parse_name(const char *v, const char *const *names)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (strcmp(v, names[i]) == 0)
			return i;
	return -1;
}

/* "a|b|c" for an error message. */
static const char *
names_joined(const char *const *names, char *buf, size_t len)
{
	size_t o = 0;
	int i, n;

	buf[0] = '\0';
	for (i = 0; names[i] != NULL && o < len; i++) {
		n = snprintf(buf + o, len - o, "%s%s", i > 0 ? "|" : "", names[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return buf;
}

/*
 * Split v on blanks into items, check each, and replace the list only when
 * all are good. 0, or -1 with the reason in src->err.
 */
static int
conf_set_list(const struct conf_key *k, struct conf *c, const char *v,
    const struct conf_src *src)
{
	struct conf_list nl = { 0, { 0 } };
	int ints[CONF_MAX_LIST];
	const char *p = v, *e, *why;
	char item[CONF_MAX_STR + 1];
	size_t len, n = 0, i;

	for (;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0')
			break;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		len = (size_t)(e - p);
		memcpy(item, p, len);	/* len <= strlen(v) <= CONF_MAX_STR */
		item[len] = '\0';
		p = e;
		if (n == CONF_MAX_LIST) {
			conf_list_clear(&nl);
			return conf_fail(src, k->name, "more than %d items", CONF_MAX_LIST);
		}
		if (k->type == CT_INTLIST) {
			if (parse_int(item, k->min, k->max, &ints[n]) == -1)
				return conf_fail(src, k->name, "bad item \"%s\" "
				    "(an integer %.0f..%.0f)", item, k->min, k->max);
		} else {
			if (k->check != NULL && (why = k->check(item)) != NULL) {
				conf_list_clear(&nl);
				return conf_fail(src, k->name, "bad item \"%s\": %s",
				    item, why);
			}
			if ((nl.v[n] = strdup(item)) == NULL) {
				conf_list_clear(&nl);
				return conf_fail(src, k->name, "out of memory");
			}
			nl.n = n + 1;
		}
		n++;
	}
	if (n == 0)
		return conf_fail(src, k->name, "empty list");
	if (k->type == CT_INTLIST) {
		for (i = 0; i < n; i++)
			((int *)((char *)c + k->off))[i] = ints[i];
		*(size_t *)((char *)c + k->offn) = n;
	} else {
		conf_list_clear((struct conf_list *)((char *)c + k->off));
		*(struct conf_list *)((char *)c + k->off) = nl;
	}
	return 0;
}

static int
conf_set_scalar(const struct conf_key *k, struct conf *c, const char *v,
    const struct conf_src *src)
{
	char *field = (char *)c + k->off, *dup, *end, buf[128];
	const char *why;
	double d;
	int x;

	switch (k->type) {
	case CT_INT:
		if (parse_int(v, k->min, k->max, &x) == -1)
			return conf_fail(src, k->name, "bad value \"%s\" "
			    "(an integer %.0f..%.0f)", v, k->min, k->max);
		*(int *)field = x;
		return 0;
	case CT_DOUBLE:
		errno = 0;
		d = strtod(v, &end);
		if (*v == '\0' || isspace((unsigned char)*v) || *end != '\0' ||
		    errno != 0 || !isfinite(d) || d < k->min || d > k->max)
			return conf_fail(src, k->name, "bad value \"%s\" "
			    "(a number %g..%g)", v, k->min, k->max);
		/* field is the address of a double member (the key table's offsetof). */
		/* cppcheck-suppress invalidPointerCast */
		*(double *)field = d;
		return 0;
	case CT_BOOL:
		if (parse_bool(v, &x) == -1)
			return conf_fail(src, k->name, "bad value \"%s\" "
			    "(yes or no)", v);
		*(int *)field = x;
		return 0;
	case CT_ENUM:
	case CT_CHOICE:
		if ((x = parse_name(v, k->names)) == -1)
			return conf_fail(src, k->name, "bad value \"%s\" (%s)", v,
			    names_joined(k->names, buf, sizeof(buf)));
		if (k->type == CT_ENUM) {
			*(int *)field = x;
			return 0;
		}
		break;
	default:
		if (k->check != NULL && (why = k->check(v)) != NULL)
			return conf_fail(src, k->name, "bad value \"%s\": %s", v, why);
		break;
	}
	if ((dup = strdup(v)) == NULL)
		return conf_fail(src, k->name, "out of memory");
	free(*(char **)field);
	*(char **)field = dup;
	return 0;
}

/* Set key k from the unquoted value v (checked for length and bytes). */
static int
conf_set(const struct conf_key *k, struct conf *c, const char *v,
    const struct conf_src *src)
{
	const unsigned char *p;

	if (strlen(v) > CONF_MAX_STR)
		return conf_fail(src, k->name, TOO_LONG);
	for (p = (const unsigned char *)v; *p != '\0'; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
			return conf_fail(src, k->name, "control character in value");
	if (k->type == CT_LIST || k->type == CT_INTLIST)
		return conf_set_list(k, c, v, src);
	return conf_set_scalar(k, c, v, src);
}

/*
 * Unquote "..." at *pp into out (\" and \\ are the only escapes). On
 * return *pp is past the closing quote. NULL on success, else the reason.
 */
static const char *
conf_unquote(const char **pp, char *out, size_t outlen)
{
	const char *p = *pp + 1;
	size_t o = 0;

	for (;;) {
		if (*p == '\0')
			return "unterminated quote";
		if (*p == '"')
			break;
		if (*p == '\\') {
			p++;
			if (*p != '"' && *p != '\\')
				return *p == '\0' ? "unterminated quote" :
				    "bad escape (only \\\" and \\\\)";
		}
		if (o + 1 >= outlen)
			return TOO_LONG;
		out[o++] = *p++;
	}
	out[o] = '\0';
	*pp = p + 1;
	return NULL;
}

/*
 * The value part of a line: quoted, or up to a '#' that follows a blank
 * (so "http://h/#frag" keeps its fragment), with trailing blanks trimmed.
 */
static const char *
conf_value(const char *p, char *out, size_t outlen)
{
	const char *why, *e;
	size_t len;

	if (*p == '"') {
		if ((why = conf_unquote(&p, out, outlen)) != NULL)
			return why;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '\0' && *p != '#')
			return "text after the closing quote";
		return NULL;
	}
	for (e = p; *e != '\0'; e++)
		if (*e == '#' && (e == p || e[-1] == ' ' || e[-1] == '\t'))
			break;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	len = (size_t)(e - p);
	if (len >= outlen)
		return TOO_LONG;
	memcpy(out, p, len);
	out[len] = '\0';
	return NULL;
}

/* One line, NUL-terminated without its '\n'. */
static int
conf_line(struct conf *c, char *line, const struct conf_src *src,
    unsigned char *seen)
{
	char key[64], value[CONF_MAX_STR + 2];
	const struct conf_key *k;
	const char *p = line, *why;
	size_t len;

	/* Tolerate a file edited on Windows. */
	len = strlen(line);
	if (len > 0 && line[len - 1] == '\r')
		line[len - 1] = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	for (len = 0; p[len] == '_' || isalnum((unsigned char)p[len]); len++)
		;
	if (len == 0)
		return conf_fail(src, NULL, "expected key = value");
	if (len >= sizeof(key))
		return conf_fail(src, NULL, "key too long");
	memcpy(key, p, len);
	key[len] = '\0';
	p += len;
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p != '=')
		return conf_fail(src, key, "missing '='");
	if ((k = conf_find(key)) == NULL)
		return conf_fail(src, key, "unknown key");
	if (src->only != NULL && parse_name(key, src->only) == -1)
		return conf_fail(src, key, "not allowed in an overrides file");
	if (seen[k - conf_table])
		return conf_fail(src, key, "duplicate key");
	seen[k - conf_table] = 1;
	p++;
	while (*p == ' ' || *p == '\t')
		p++;
	if ((why = conf_value(p, value, sizeof(value))) != NULL)
		return conf_fail(src, key, "%s", why);
	return conf_set(k, c, value, src);
}

static int
conf_parse(struct conf *c, const char *name, const char *buf, size_t len,
    char *err, size_t errlen, const char *const *only)
{
	struct conf_src src = { name, 0, NULL, err, errlen, only };
	unsigned char seen[NKEYS];
	char line[CONF_MAX_LINE + 1];
	const char *p = buf, *end = buf + len, *nl;
	size_t l;

	memset(seen, 0, sizeof(seen));
	while (p < end) {
		src.line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		l = (size_t)(nl - p);
		if (l > CONF_MAX_LINE)
			return conf_fail(&src, NULL, "line longer than %d bytes",
			    CONF_MAX_LINE);
		if (memchr(p, '\0', l) != NULL)
			return conf_fail(&src, NULL, "NUL byte");
		memcpy(line, p, l);
		line[l] = '\0';
		if (conf_line(c, line, &src, seen) == -1)
			return -1;
		p = nl + 1;
	}
	return 0;
}

static int
conf_defaults(struct conf *c, char *err, size_t errlen)
{
	struct conf_src src = { NULL, 0, NULL, err, errlen, NULL };
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (conf_set(&conf_table[i], c, conf_table[i].def, &src) == -1)
			return -1;
	return 0;
}

static int
conf_env(struct conf *c, char *err, size_t errlen)
{
	struct conf_src src = { NULL, 0, NULL, err, errlen, NULL };
	char envname[80];
	const char *v;
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		snprintf(envname, sizeof(envname), "DVM_%s", conf_table[i].name);
		for (j = 4; envname[j] != '\0'; j++)
			envname[j] = (char)toupper((unsigned char)envname[j]);
		if ((v = getenv(envname)) == NULL)
			continue;
		src.envname = envname;
		if (conf_set(&conf_table[i], c, v, &src) == -1)
			return -1;
	}
	return 0;
}

/*
 * Values that follow from others. A paid mode without a wallet becomes free
 * here rather than an error, so a first start with no wallet still serves;
 * the daemons warn loudly that nothing is being earned.
 */
static int
conf_derive(struct conf *c, char *err, size_t errlen)
{
	struct conf_src src = { NULL, 0, NULL, err, errlen, NULL };
	char path[CONF_MAX_STR + 8];

	if (c->secret_key_file[0] == '\0') {
		if ((size_t)snprintf(path, sizeof(path), "%s/key", c->state_dir)
		    >= sizeof(path))
			return conf_fail(&src, "secret_key_file", "path too long");
		free(c->secret_key_file);
		if ((c->secret_key_file = strdup(path)) == NULL)
			return conf_fail(&src, "secret_key_file", "out of memory");
	}
	if (c->wallet == WALLET_NONE)
		c->payment_mode = PAY_FREE;
	return 0;
}

static int
conf_read_file(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	size_t o = 0;
	ssize_t r;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail_fd;
	if (!S_ISREG(st.st_mode) || st.st_size > CONF_MAX_FILE) {
		snprintf(err, errlen, "%s: %s", path, !S_ISREG(st.st_mode) ?
		    "not a regular file" : "larger than 1 MiB");
		close(fd);
		return -1;
	}
	if ((*buf = malloc((size_t)st.st_size + 1)) == NULL)
		goto fail_fd;
	while (o < (size_t)st.st_size) {
		r = read(fd, *buf + o, (size_t)st.st_size - o);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(*buf);
			goto fail_fd;
		}
		if (r == 0)
			break;
		o += (size_t)r;
	}
	close(fd);
	*len = o;
	return 0;
fail_fd:
	close(fd);
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

int
conf_overrides_path(const struct conf *c, char *buf, size_t len)
{
	return (size_t)snprintf(buf, len, "%s/overrides.conf", c->state_dir) >= len ? -1 : 0;
}

/* state_dir/overrides.conf, if there is one: only override_keys[]. */
static int
conf_overrides(struct conf *c, char *err, size_t errlen)
{
	struct conf_src src = { NULL, 0, NULL, err, errlen, NULL };
	char path[CONF_MAX_STR + 32], *buf = NULL;
	struct stat st;
	size_t len = 0;
	int rc;

	if (conf_overrides_path(c, path, sizeof(path)) == -1)
		return conf_fail(&src, "state_dir", "path too long");
	if (stat(path, &st) == -1 && errno == ENOENT)
		return 0;
	if (conf_read_file(path, &buf, &len, err, errlen) == -1)
		return -1;
	rc = conf_parse(c, path, buf, len, err, errlen, override_keys);
	free(buf);
	return rc;
}

static int
conf_build(struct conf *c, const char *name, const char *buf, size_t len,
    char *err, size_t errlen, int overrides)
{
	memset(c, 0, sizeof(*c));
	if (conf_defaults(c, err, errlen) == -1 ||
	    (buf != NULL && conf_parse(c, name, buf, len, err, errlen, NULL) == -1) ||
	    conf_env(c, err, errlen) == -1 ||
	    (overrides && conf_overrides(c, err, errlen) == -1) ||
	    conf_derive(c, err, errlen) == -1) {
		conf_free(c);
		return -1;
	}
	return 0;
}

int
conf_load_buffer(struct conf *c, const char *name, const char *buf, size_t len,
    char *err, size_t errlen)
{
	return conf_build(c, name, buf, len, err, errlen, 0);
}

const char *const *
conf_override_keys(void)
{
	return override_keys;
}

int
conf_override_set(struct conf *c, const char *key, const char *value, char *err,
    size_t errlen)
{
	struct conf_src src = { "", 0, NULL, err, errlen, override_keys };
	const struct conf_key *k;

	if (parse_name(key, override_keys) == -1 || (k = conf_find(key)) == NULL)
		return conf_fail(&src, key, "not a key that can be changed at run time");
	return conf_set(k, c, value, &src);
}

int
conf_load(struct conf *c, const char *path, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	if (path != NULL && conf_read_file(path, &buf, &len, err, errlen) == -1)
		return -1;
	rc = conf_build(c, path, buf, len, err, errlen, 1);
	free(buf);
	return rc;
}

void
conf_free(struct conf *c)
{
	const struct conf_key *k;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		k = &conf_table[i];
		if (k->type == CT_STR || k->type == CT_CHOICE) {
			free(*(char **)((char *)c + k->off));
			*(char **)((char *)c + k->off) = NULL;
		} else if (k->type == CT_LIST)
			conf_list_clear((struct conf_list *)((char *)c + k->off));
	}
}

int
conf_sock_path(const struct conf *c, const char *name, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/run/%s", c->state_dir, name);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

int
conf_stage_sock_path(const struct conf *c, const char *stage, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/run/%s/%s.sock", c->state_dir, stage, stage);
	if (n < 0 || (size_t)n >= len) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

static const char *
name_of(const char *const *names, int v)
{
	int i;

	for (i = 0; names[i] != NULL; i++)
		if (i == v)
			return names[i];
	return "?";
}

const char *
conf_payment_mode_name(enum payment_mode m)
{
	return name_of(payment_names, (int)m);
}

const char *
conf_wallet_name(enum wallet_kind w)
{
	return name_of(wallet_names, (int)w);
}

const char *
conf_backend_name(enum infer_backend b)
{
	return name_of(backend_names, (int)b);
}

/* Shortest form that reads back as the same double. */
static void
print_double(double d, FILE *out)
{
	char buf[64];
	int prec;

	for (prec = 1; prec < 17; prec++) {
		snprintf(buf, sizeof(buf), "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(buf, sizeof(buf), "%.17g", d);
	fputs(buf, out);
}

int
conf_print(const struct conf *c, const char *key, FILE *out)
{
	const struct conf_key *k;
	const char *field;
	const struct conf_list *l;
	size_t i, n;

	if ((k = conf_find(key)) == NULL)
		return -1;
	field = (const char *)c + k->off;
	switch (k->type) {
	case CT_STR:
	case CT_CHOICE:
		fputs(*(char *const *)field != NULL ? *(char *const *)field : "", out);
		break;
	case CT_INT:
		fprintf(out, "%d", *(const int *)field);
		break;
	case CT_DOUBLE:
		/* cppcheck-suppress invalidPointerCast ; a double member, as above */
		print_double(*(const double *)field, out);
		break;
	case CT_BOOL:
		fputs(*(const int *)field ? "yes" : "no", out);
		break;
	case CT_ENUM:
		fputs(name_of(k->names, *(const int *)field), out);
		break;
	case CT_LIST:
		l = (const struct conf_list *)field;
		for (i = 0; i < l->n; i++)
			fprintf(out, "%s%s", i > 0 ? " " : "", l->v[i]);
		break;
	case CT_INTLIST:
		n = *(const size_t *)((const char *)c + k->offn);
		for (i = 0; i < n; i++)
			fprintf(out, "%s%d", i > 0 ? " " : "", ((const int *)field)[i]);
		break;
	}
	fputc('\n', out);
	return 0;
}

const char *const *
conf_keys(void)
{
	static const char *names[NKEYS + 1];
	size_t i;

	for (i = 0; i < NKEYS; i++)
		names[i] = conf_table[i].name;
	names[NKEYS] = NULL;
	return names;
}

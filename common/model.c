/*
 * model.c: model names and the model_prices list (model.h).
 *
 * Ollama's rule (types/model/name.go): host registry.ollama.ai, namespace
 * library and tag latest are the defaults, and every part compares
 * case-insensitively; so "llama3.2", "library/llama3.2" and
 * "LLAMA3.2:latest" are one model, and "llama3.2" is not "llama3.2:3b".
 * OpenAI-compatible ids are arbitrary strings with no defaults. Nothing
 * looser: a wrong match would bill one model's price for another.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model.h"

#define PRICE_MAX_SATS	100000000	/* as min_price_sats and price_per_1k_tokens */

static const char *
skip_prefix_ci(const char *s, const char *p)
{
	size_t n = strlen(p);

	return strncasecmp(s, p, n) == 0 ? s + n : s;
}

int
model_norm_ollama(const char *in, char *out, size_t outlen)
{
	const char *s = skip_prefix_ci(in, "registry.ollama.ai/"), *slash;
	size_t i, n;

	s = skip_prefix_ci(s, "library/");
	n = strlen(s);
	if (n == 0 || n >= outlen)
		return -1;
	for (i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[n] = '\0';
	slash = strrchr(out, '/');
	if (strchr(slash ? slash : out, ':') == NULL) {
		if (n + sizeof(":latest") > outlen)
			return -1;
		memcpy(out + n, ":latest", sizeof(":latest"));
	}
	return 0;
}

int
model_find(enum infer_backend kind, const char *asked, const char *const *names, size_t n)
{
	char a[MODEL_NAME_MAX], b[MODEL_NAME_MAX];
	size_t i;
	int found = -1;

	if (kind == BACKEND_OLLAMA) {
		if (model_norm_ollama(asked, a, sizeof(a)) == -1)
			return -1;
		for (i = 0; i < n; i++)
			if (model_norm_ollama(names[i], b, sizeof(b)) == 0 && strcmp(a, b) == 0)
				return (int)i;
		return -1;
	}
	for (i = 0; i < n; i++)
		if (strcmp(asked, names[i]) == 0)
			return (int)i;
	for (i = 0; i < n; i++)
		if (strcasecmp(asked, names[i]) == 0) {
			if (found != -1)
				return -1;	/* two ids differ only in case: ask exactly */
			found = (int)i;
		}
	return found;
}

int
model_glob_any(const char *name, const char *patterns)
{
	char pat[CONF_MAX_STR + 1];
	const char *p = patterns, *e;
	size_t len;

	if (p == NULL)
		return 0;
	while (*p != '\0') {
		while (*p == ' ' || *p == '\t')
			p++;
		for (e = p; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		len = (size_t)(e - p);
		if (len > 0 && len < sizeof(pat)) {
			memcpy(pat, p, len);
			pat[len] = '\0';
			if (fnmatch(pat, name, FNM_CASEFOLD) == 0)
				return 1;
		}
		p = e;
	}
	return 0;
}

/* A decimal 0..PRICE_MAX_SATS of exactly len bytes; whole when integral is set. */
static int
price_number(const char *s, size_t len, int integral, double *out)
{
	char buf[32], *end;
	double v;
	size_t i;

	if (len == 0 || len >= sizeof(buf))
		return -1;
	for (i = 0; i < len; i++)
		if (!isdigit((unsigned char)s[i]) && (integral || s[i] != '.'))
			return -1;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < 0 || v > PRICE_MAX_SATS)
		return -1;
	*out = v;
	return 0;
}

/* One "NAME=MIN/PER1K" of len bytes into p. */
static int
price_entry(const char *s, size_t len, struct model_price *p)
{
	const char *eq = memchr(s, '=', len), *sl;
	double min;

	if (eq == NULL || eq == s || (size_t)(eq - s) >= sizeof(p->name))
		return -1;
	if ((sl = memchr(eq, '/', len - (size_t)(eq - s))) == NULL)
		return -1;
	if (price_number(eq + 1, (size_t)(sl - eq - 1), 1, &min) == -1 ||
	    price_number(sl + 1, len - (size_t)(sl + 1 - s), 0, &p->per1k) == -1)
		return -1;
	memcpy(p->name, s, (size_t)(eq - s));
	p->name[eq - s] = '\0';
	p->min_sats = (int64_t)min;
	return 0;
}

int
model_prices_parse(const char *s, struct model_price *out, size_t max, size_t *n,
    char *err, size_t errlen)
{
	const char *e;
	size_t len;

	*n = 0;
	if (s == NULL)
		return 0;
	while (*s != '\0') {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0')
			break;
		for (e = s; *e != '\0' && *e != ' ' && *e != '\t'; e++)
			;
		len = (size_t)(e - s);
		if (*n == max) {
			snprintf(err, errlen, "more than %zu entries", max);
			return -1;
		}
		if (price_entry(s, len, &out[*n]) == -1) {
			snprintf(err, errlen, "bad entry \"%.*s\": want NAME=MIN/PER1K (sats, "
			    "MIN whole, PER1K may have a fraction)", (int)(len > 64 ? 64 : len), s);
			return -1;
		}
		(*n)++;
		s = e;
	}
	return 0;
}

const char *
model_prices_check(const char *v)
{
	struct model_price p[MODEL_PRICES_MAX];
	char err[160];
	size_t n;

	if (model_prices_parse(v, p, MODEL_PRICES_MAX, &n, err, sizeof(err)) == -1)
		return "want NAME=MIN/PER1K ... (sats; MIN whole, PER1K may have a fraction, "
		    "e.g. qwen2.5:7b=5/4 mistral=3/1.5)";
	return NULL;
}

/*
 * model.h: model names as Ollama and OpenAI-compatible servers spell them,
 * matched the way those servers match them, and the model_prices list.
 * Pure code: no daemon, no I/O.
 */
#ifndef MODEL_H
#define MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "conf.h"

#define MODEL_NAME_MAX		128	/* bytes of a model name, NUL included */
#define MODEL_PRICES_MAX	CONF_MAX_LIST

struct model_price {
	char	 name[MODEL_NAME_MAX];	/* as written in the config */
	int64_t	 min_sats;
	double	 per1k;			/* sats per 1000 tokens */
};

/*
 * Ollama's canonical short name: lowercase, without "registry.ollama.ai/"
 * and "library/", with ":latest" when there is no tag. -1 when it does not
 * fit out.
 */
int	 model_norm_ollama(const char *in, char *out, size_t outlen);
/*
 * The entry of names[0..n) that asked names: Ollama names compare in
 * canonical form; OpenAI ids exactly, then by a unique case-insensitive
 * match. No prefix or fuzzy matching. -1 when none (or not unique).
 */
int	 model_find(enum infer_backend, const char *asked, const char *const *names, size_t n);
/* Does name match one of the space-separated shell globs in patterns? */
int	 model_glob_any(const char *name, const char *patterns);
/*
 * "NAME=MIN/PER1K ..." into out (at most max). 0, or -1 with why in err
 * (the entry named).
 */
int	 model_prices_parse(const char *s, struct model_price *out, size_t max, size_t *n,
	    char *err, size_t errlen);
/* conf_check for model_prices: NULL when it parses, else a fixed reason. */
const char *model_prices_check(const char *v);

#endif

/*
 * models.c: `dvmctl models` (jobd's catalog with prices and what is
 * served) and the per-model part of `dvmctl stats`. Names come from
 * backends and requesters, so every one passes through escape_text.
 */
#include <stdio.h>

#include "dvmctl.h"
#include "escape.h"

static const char *
mstr(const cJSON *o, const char *k, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return escape_text(cJSON_IsString(v) ? v->valuestring : "?", buf, len, 0);
}

static double
mnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

int
show_models(FILE *out, const cJSON *a)
{
	const cJSON *m;
	char name[256], be[512], price[64];

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "catalog")))
		fprintf(out, "(no catalog from inferd yet: the configured names)\n");
	fprintf(out, "%-32s %-7s %-14s %10s %10s  %s\n", "MODEL", "SERVED", "PRICE",
	    "MAX_TOKENS", "CONTEXT", "BACKENDS");
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(a, "models")) {
		snprintf(price, sizeof(price), "%.0f+%g/1k", mnum(m, "min_price_sats"),
		    mnum(m, "price_per_1k_tokens"));
		fprintf(out, "%-32s %-7s %-14s %10.0f %10.0f  %s\n",
		    mstr(m, "name", name, sizeof(name)),
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "default")) ? "default" :
		    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "served")) ? "yes" : "no",
		    price, mnum(m, "max_tokens"), mnum(m, "context_length"),
		    mstr(m, "backends", be, sizeof(be)));
	}
	if (mnum(a, "omitted") > 0)
		fprintf(out, "(%.0f more not shown)\n", mnum(a, "omitted"));
	return 0;
}

/* stats: jobs, tokens and sats per model. */
void
show_stats_models(FILE *out, const cJSON *a)
{
	const cJSON *m;
	char name[256];

	fprintf(out, "models\n");
	if (cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(a, "models")) == 0)
		fprintf(out, "  (none)\n");
	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(a, "models"))
		fprintf(out, "  %-32s jobs %.0f  tokens %.0f  sats %.0f invoiced, %.0f received\n",
		    escape_text(m->string ? m->string : "?", name, sizeof(name), 0),
		    mnum(m, "jobs"), mnum(m, "tokens"), mnum(m, "sats_invoiced"),
		    mnum(m, "sats_received"));
}

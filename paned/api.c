/*
 * api.c: the pane's HTTP input turned into jobd requests, every value
 * bounded, and jobd's answers checked before they reach a browser. The
 * answers of pane.sock carry no secret (jobd never has the wallet's, and
 * pane.sock has no op that reads the Nostr key); what comes from Nostr
 * (requester keys, errors) is shown by the page as text only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "paned.h"

/* A decimal in [lo, hi], else def. */
static long
api_num(const char *s, long def, long lo, long hi)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0' || strlen(s) > 9)
		return def;
	v = strtol(s, &end, 10);
	if (*end != '\0')
		return def;
	return v < lo ? lo : v > hi ? hi : v;
}

char *
api_jobs_request(const char *offset, const char *limit, const char *state)
{
	cJSON *o = cJSON_CreateObject();
	char *line = NULL;
	const char *p;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "op", "jobs");
	cJSON_AddNumberToObject(o, "offset", (double)api_num(offset, 0, 0, 10000000));
	cJSON_AddNumberToObject(o, "limit", (double)api_num(limit, 20, 1, 200));
	if (state != NULL && *state != '\0' && strlen(state) <= 32) {
		for (p = state; *p != '\0' && ((*p >= 'a' && *p <= 'z') || *p == '-'); p++)
			;
		if (*p == '\0')
			cJSON_AddStringToObject(o, "state", state);
	}
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return line;
}

/*
 * {"min_price_sats": 5, "price_per_1k_tokens": 2.5, "model_prices": "a=1/2"}
 * -> a prices_set line; jobd checks each key and value (conf.c).
 */
char *
api_prices_request(const char *body, size_t len, char *err, size_t errlen)
{
	cJSON *in = NULL, *o, *pr;
	const cJSON *v;
	char *line;
	int n = 0;

	if (len > PANE_MAX_BODY || (in = cJSON_ParseWithLength(body, len)) == NULL ||
	    !cJSON_IsObject(in)) {
		snprintf(err, errlen, "the body must be a JSON object of at most %d bytes",
		    PANE_MAX_BODY);
		cJSON_Delete(in);
		return NULL;
	}
	if ((o = cJSON_CreateObject()) == NULL) {
		cJSON_Delete(in);
		return NULL;
	}
	cJSON_AddStringToObject(o, "op", "prices_set");
	pr = cJSON_AddObjectToObject(o, "prices");
	cJSON_ArrayForEach(v, in) {
		/* model_prices is the one string (NAME=MIN/PER1K ...); the rest are numbers */
		if (strlen(v->string) > 64 || ++n > 16 ||
		    (strcmp(v->string, "model_prices") == 0 ? !cJSON_IsString(v) : !cJSON_IsNumber(v))) {
			snprintf(err, errlen, "each price is a key (a name) with a number "
			    "or, for model_prices, a string");
			cJSON_Delete(in);
			cJSON_Delete(o);
			return NULL;
		}
		if (cJSON_IsString(v))
			cJSON_AddStringToObject(pr, v->string, v->valuestring);
		else
			cJSON_AddNumberToObject(pr, v->string, v->valuedouble);
	}
	cJSON_Delete(in);
	line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return line;
}

cJSON *
api_parse_answer(const char *line, size_t len, const char *want, char *err, size_t errlen)
{
	cJSON *o;
	const cJSON *op;

	if (len > PANE_MAX_ANSWER || (o = cJSON_ParseWithLength(line, len)) == NULL) {
		snprintf(err, errlen, "jobd's answer is not JSON");
		return NULL;
	}
	op = cJSON_GetObjectItemCaseSensitive(o, "op");
	if (!cJSON_IsObject(o) || !cJSON_IsString(op) ||
	    (strcmp(op->valuestring, want) != 0 && strcmp(op->valuestring, "error") != 0)) {
		snprintf(err, errlen, "jobd's answer is not a %s answer", want);
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/*
 * fuzz_paned_answer.c: libFuzzer target for paned's parsers: jobd's answer
 * lines (api_parse_answer) and the browser's request bodies and URL
 * arguments (api_prices_request, api_jobs_request). Nothing may crash or
 * leak; an accepted answer is an object whose op is the one asked for or
 * "error"; a built request is one JSON line within its bounds.
 */
/* LINK: paned/api.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../paned/paned.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const ops[] = { "status", "jobs", "prices", "ok" };
	const char *want = ops[size > 0 ? data[0] % 4 : 0];
	char err[256], a[16], b[16], c[40], *line;
	const cJSON *op;
	cJSON *o;

	if ((o = api_parse_answer((const char *)data, size, want, err, sizeof(err))) != NULL) {
		op = cJSON_GetObjectItemCaseSensitive(o, "op");
		if (!cJSON_IsString(op) || (strcmp(op->valuestring, want) != 0 &&
		    strcmp(op->valuestring, "error") != 0))
			abort();
		cJSON_Delete(o);
	}
	if ((line = api_prices_request((const char *)data, size, err, sizeof(err))) != NULL) {
		if (size > PANE_MAX_BODY || strchr(line, '\n') != NULL)
			abort();
		cJSON_free(line);
	}
	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	memset(c, 0, sizeof(c));
	memcpy(a, data, size < sizeof(a) - 1 ? size : sizeof(a) - 1);
	if (size > 15)
		memcpy(b, data + 15, size - 15 < sizeof(b) - 1 ? size - 15 : sizeof(b) - 1);
	if (size > 30)
		memcpy(c, data + 30, size - 30 < sizeof(c) - 1 ? size - 30 : sizeof(c) - 1);
	if ((line = api_jobs_request(a, b, c)) != NULL) {
		if ((o = cJSON_Parse(line)) == NULL)
			abort();
		cJSON_Delete(o);
		cJSON_free(line);
	}
	return 0;
}

/*
 * jsonx.c: typed readers over cJSON (see jsonx.h).
 */
#include <stdlib.h>
#include <string.h>

#include "jsonx.h"

const char *
jsonx_str(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
jsonx_get_u64(const cJSON *o, const char *name, uint64_t *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9.0e15 &&
	    v->valuedouble == (double)(uint64_t)v->valuedouble) {
		*out = (uint64_t)v->valuedouble;
		return 0;
	}
	if (cJSON_IsString(v) && v->valuestring[0] != '\0' &&
	    strspn(v->valuestring, "0123456789") == strlen(v->valuestring) &&
	    strlen(v->valuestring) <= 19) {
		*out = strtoull(v->valuestring, NULL, 10);
		return 0;
	}
	return -1;
}

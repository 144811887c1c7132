/*
 * jsonx.c: typed lookups in cJSON objects (see jsonx.h).
 */
#include "jsonx.h"

const char *
jsonx_str(const cJSON *m, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(m, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

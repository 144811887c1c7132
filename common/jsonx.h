/*
 * jsonx.h: small typed lookups in a cJSON object, exact (case-sensitive)
 * key match, as every NDJSON message is read.
 */
#ifndef JSONX_H
#define JSONX_H

#include <cjson/cJSON.h>

/* The string value of key k in m, or NULL if absent or not a string. */
const char	*jsonx_str(const cJSON *m, const char *k);

#endif

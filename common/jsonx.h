/*
 * jsonx.h: small typed readers over cJSON that more than one stage needs.
 * Exact (case-sensitive) member names, like every lookup in this project.
 */
#ifndef JSONX_H
#define JSONX_H

#include <stdint.h>
#include <cjson/cJSON.h>

/* The string value of key k in m, or NULL if absent or not a string. */
const char	*jsonx_str(const cJSON *m, const char *k);

/*
 * o.name as an unsigned integer: a whole JSON number below 9e15 (exact in a
 * double) or a string of 1..19 decimal digits (some wallets send 64-bit
 * amounts so). 0, or -1 when missing or anything else.
 */
int		 jsonx_get_u64(const cJSON *o, const char *name, uint64_t *out);

#endif

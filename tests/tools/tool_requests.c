/*
 * tool_requests: N signed, valid, fresh kind-5050 requests from K keys, one
 * JSON event per line, addressed (p tag) to PUBKEY, about 500 bytes each.
 * For flood tests, which need thousands of distinct valid events faster than
 * nostr-tools signs them in JavaScript (~3 ms each); the ingest benchmark
 * uses it too.
 *   tool_requests N K [PUBKEY] > events.ndjson
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "event.h"
#include "keys.h"

int
main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000, k = argc > 2 ? atol(argv[2]) : 200;
	struct keypair *keys, other;
	char prompt[320], idx[32];

	if (n <= 0 || k <= 0 || k > 100000)
		return 100;
	if ((keys = calloc((size_t)k, sizeof(*keys))) == NULL)
		return 111;
	for (long i = 0; i < k; i++)
		if (keys_generate(&keys[i]) == -1)
			return 111;
	if (keys_generate(&other) == -1)
		return 111;
	if (argc > 3 && (strlen(argv[3]) != 64 || !hex_is_lower(argv[3], 64)))
		return 100;
	if (argc > 3)
		memcpy(other.pkhex, argv[3], 65);
	for (long i = 0; i < n; i++) {
		struct event ev;
		char *json;

		snprintf(prompt, sizeof(prompt), "Benchmark prompt %ld: write a short poem "
		    "about relays, signatures and lightning payments, in the style of a "
		    "limerick, and keep it under fifty words please.", i);
		snprintf(idx, sizeof(idx), "%ld", i);
		if (event_init(&ev, 5050, "", 0) == -1 ||
		    event_add_tagv(&ev, "i", prompt, "text", NULL) == -1 ||
		    event_add_tagv(&ev, "param", "max_tokens", "64", NULL) == -1 ||
		    event_add_tagv(&ev, "p", other.pkhex, NULL, NULL) == -1 ||
		    event_add_tagv(&ev, "t", idx, NULL, NULL) == -1 ||
		    event_sign(&ev, &keys[i % k]) == -1 ||
		    (json = event_to_json(&ev)) == NULL)
			return 111;
		puts(json);
		free(json);
		event_free(&ev);
	}
	for (long i = 0; i < k; i++)
		keys_wipe(&keys[i]);
	free(keys);
	return fflush(stdout) == 0 ? 0 : 111;
}

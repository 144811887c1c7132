/*
 * fuzz_event.c: libFuzzer target for event_parse (relay input) and
 * json_text_check. Properties beyond "no crash, no leak": an accepted
 * event serializes, its JSON output parses back to the same serialization,
 * and event_verify and event_id_ok agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
roundtrip(const struct event *ev)
{
	struct event back;
	char *json, *s1, *s2, err[128];
	size_t l1, l2;

	if (event_serialize(ev, &s1, &l1) == -1)
		abort();
	if ((json = event_to_json(ev)) == NULL)
		abort();
	if (event_parse(&back, json, strlen(json), err, sizeof(err)) == -1)
		abort();
	if (event_serialize(&back, &s2, &l2) == -1)
		abort();
	if (l1 != l2 || memcmp(s1, s2, l1) != 0 || strlen(s1) != l1)
		abort();
	if (event_verify(ev) == 0 && !event_id_ok(ev))
		abort();
	free(s1);
	free(s2);
	free(json);
	event_free(&back);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event ev;
	char err[128];

	(void)json_text_check((const char *)data, size, err, sizeof(err));
	if (event_parse(&ev, (const char *)data, size, err, sizeof(err)) == 0) {
		roundtrip(&ev);
		event_free(&ev);
	}
	return 0;
}

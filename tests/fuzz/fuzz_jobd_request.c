/*
 * fuzz_jobd_request.c: libFuzzer target for what a requester controls in
 * jobd: the tag list of a request (clear or decrypted) through
 * request_parse and request_join, and the event itself through
 * validate_pre and validate_sizes. Nothing may crash or leak; a parsed
 * request must respect every bound (inputs, relays, clamped params).
 */
/* LINK: jobd/request.c jobd/validate.c */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "event.h"
#include "../../jobd/jobd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct conf C;
static int loaded;

static void
check_request(const struct request *r)
{
	int i;

	if (r->nin < 1 || r->nin > JOBD_MAX_INPUTS || r->nrelays > JOBD_MAX_RELAYS)
		abort();
	if (r->max_tokens < 1 || r->max_tokens > C.max_tokens)
		abort();
	if (r->temperature < 0 || r->temperature > 2 || r->top_p < 0 || r->top_p > 1)
		abort();
	if (r->frequency_penalty < -2 || r->frequency_penalty > 2)
		abort();
	for (i = 0; i < r->nin; i++)
		if ((r->in[i].ref == 0) != (r->in[i].text != NULL))
			abort();
	for (i = 0; i < r->nrelays; i++)
		if (strncmp(r->relays[i], "ws", 2) != 0)
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256], *prompt;
	cJSON *tags;
	struct request r;
	struct event ev;
	enum reject_reason why;

	if (!loaded) {
		if (conf_load(&C, NULL, err, sizeof(err)) == -1)
			abort();
		loaded = 1;
	}
	if ((tags = cJSON_ParseWithLength((const char *)data, size)) != NULL) {
		err[0] = '\0';
		if (cJSON_IsArray(tags) &&
		    request_parse(tags, &C, &r, &why, err, sizeof(err)) == 0) {
			check_request(&r);
			if (request_join(&r, (size_t)C.max_prompt_bytes, &prompt, err,
			    sizeof(err)) == 0) {
				if (strlen(prompt) > (size_t)C.max_prompt_bytes)
					abort();
				free(prompt);
			}
			request_free(&r);
		}
		cJSON_Delete(tags);
	}
	if (event_parse(&ev, (const char *)data, size, err, sizeof(err)) == 0) {
		validate_pre(&C, &ev, "0000000000000000000000000000000000000000000000000000000000000001",
		    1700000000, &why);
		validate_sizes(&C, &ev, &why);
		event_free(&ev);
	}
	return 0;
}

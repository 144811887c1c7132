/* LINK: inferd/stream.c inferd/ollama.c inferd/openai.c inferd/opts.c */
/*
 * fuzz_inferd_request.c: libFuzzer target for inferd's check of infer lines
 * (what a client sends). Properties beyond "no crash, no leak": an accepted
 * request has a 64-hex job, a model and exactly one of messages/prompt, and
 * both request bodies built from it parse back as JSON objects whose only
 * options are the mapped names.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../inferd/inferd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_body(char *b, int ollama)
{
	static const char *ok[] = { "num_predict", "temperature", "top_k", "top_p",
	    "frequency_penalty", "presence_penalty", "repeat_penalty", "seed", "stop" };
	cJSON *j, *o, *it;

	if (b == NULL)
		abort();
	if ((j = cJSON_Parse(b)) == NULL || !cJSON_IsObject(j))
		abort();
	if (ollama) {
		o = cJSON_GetObjectItemCaseSensitive(j, "options");
		cJSON_ArrayForEach(it, o) {
			size_t i;

			for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
				if (strcmp(it->string, ok[i]) == 0)
					break;
			if (i == sizeof(ok) / sizeof(ok[0]))
				abort();
		}
	}
	cJSON_Delete(j);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct infer_req r;
	char err[256];
	cJSON *j;

	if (size > 100000)
		return 0;
	if ((j = cJSON_ParseWithLength((const char *)data, size)) == NULL)
		return 0;
	if (req_parse(j, &r, err, sizeof(err)) == 0) {
		if (strlen(r.job) != 64 || r.model == NULL || (r.messages == NULL) == (r.prompt == NULL))
			abort();
		check_body(ollama_build_body(&r, "5m"), 1);
		check_body(openai_build_body(&r), 0);
	} else if (err[0] == '\0')
		abort();
	req_free(&r);
	cJSON_Delete(j);
	return 0;
}

/*
 * test_inferd_opts.c: validation of infer lines and the exact mapping of
 * their options onto Ollama's and the OpenAI-compatible request bodies.
 */
/* LINK: inferd/stream.c inferd/ollama.c inferd/openai.c inferd/opts.c */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "t.h"
#include "../../inferd/inferd.h"

#define JOB "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define MSGS "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"hi\",\"extra\":1}]"

static int
parse(const char *json, struct infer_req *r, char *err, size_t errlen)
{
	cJSON *j = cJSON_Parse(json);
	int rc;

	if (j == NULL) {
		memset(r, 0, sizeof(*r));
		snprintf(err, errlen, "test JSON does not parse");
		return -2;
	}
	rc = req_parse(j, r, err, errlen);
	cJSON_Delete(j);
	return rc;
}

static double
num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

TEST(ollama_options_exact)
{
	struct infer_req r;
	char err[256], *body;
	cJSON *b, *o, *stop, *m;

	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"llama3.2\"," MSGS ","
	    "\"options\":{\"max_tokens\":64,\"temperature\":0.25,\"top_k\":7,\"top_p\":0.5,"
	    "\"frequency_penalty\":0.1,\"presence_penalty\":-0.2,\"repeat_penalty\":1.1,"
	    "\"seed\":42,\"stop\":[\"\\n\\n\",\"END\"]}}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	body = ollama_build_body(&r, "5m");
	REQUIRE(body != NULL);
	b = cJSON_Parse(body);
	REQUIRE(b != NULL);
	CHECK(strcmp(ollama_path(&r), "/api/chat") == 0);
	CHECK(strcmp(cJSON_GetObjectItem(b, "model")->valuestring, "llama3.2") == 0);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
	CHECK(strcmp(cJSON_GetObjectItem(b, "keep_alive")->valuestring, "5m") == 0);
	o = cJSON_GetObjectItem(b, "options");
	REQUIRE(cJSON_IsObject(o));
	CHECK(num(o, "num_predict") == 64);
	CHECK(cJSON_GetObjectItem(o, "max_tokens") == NULL);
	CHECK(num(o, "temperature") == 0.25);
	CHECK(num(o, "top_k") == 7);
	CHECK(num(o, "top_p") == 0.5);
	CHECK(num(o, "frequency_penalty") == 0.1);
	CHECK(num(o, "presence_penalty") == -0.2);
	CHECK(num(o, "repeat_penalty") == 1.1);
	CHECK(num(o, "seed") == 42);
	stop = cJSON_GetObjectItem(o, "stop");
	CHECK(cJSON_GetArraySize(stop) == 2);
	CHECK(strcmp(cJSON_GetArrayItem(stop, 0)->valuestring, "\n\n") == 0);
	/* Load-time options would make Ollama reload the model. */
	CHECK(cJSON_GetObjectItem(o, "num_ctx") == NULL);
	CHECK(cJSON_GetArraySize(o) == 9);
	/* Only role and content reach the backend. */
	m = cJSON_GetObjectItem(b, "messages");
	CHECK(cJSON_GetArraySize(m) == 2);
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 1), "extra") == NULL);
	CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 1), "content")->valuestring, "hi") == 0);
	cJSON_Delete(b);
	free(body);
	req_free(&r);
}

TEST(ollama_generate_and_keep_alive_forms)
{
	struct infer_req r;
	char err[256], *body;
	cJSON *b;

	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"m\",\"prompt\":\"Once\"}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	CHECK(strcmp(ollama_path(&r), "/api/generate") == 0);
	body = ollama_build_body(&r, "300");
	b = cJSON_Parse(body);
	REQUIRE(b != NULL);
	CHECK(strcmp(cJSON_GetObjectItem(b, "prompt")->valuestring, "Once") == 0);
	CHECK(cJSON_GetObjectItem(b, "messages") == NULL);
	CHECK(num(b, "keep_alive") == 300);	/* a number means seconds */
	/* Nothing given, no defaults applied: an empty options object. */
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(b, "options")) == 0);
	cJSON_Delete(b);
	free(body);
	body = ollama_build_body(&r, "-1");
	b = cJSON_Parse(body);
	CHECK(num(b, "keep_alive") == -1);
	cJSON_Delete(b);
	free(body);
	body = ollama_build_body(&r, "");
	b = cJSON_Parse(body);
	CHECK(cJSON_GetObjectItem(b, "keep_alive") == NULL);
	cJSON_Delete(b);
	free(body);
	req_free(&r);
}

TEST(defaults_and_clamp)
{
	struct infer_req r;
	struct conf c;
	char err[256];

	memset(&c, 0, sizeof(c));
	c.max_tokens = 512;
	c.temperature = 0.7;
	c.top_k = 40;
	c.top_p = 0.9;
	c.frequency_penalty = 0.5;
	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ","
	    "\"options\":{\"max_tokens\":100000,\"temperature\":0}}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	req_apply_defaults(&r, &c);
	CHECK(r.opts.max_tokens == 512);		/* clamped */
	CHECK(r.opts.temperature == 0);			/* given: kept */
	CHECK(r.opts.top_k == 40 && r.opts.top_p == 0.9 && r.opts.frequency_penalty == 0.5);
	CHECK(!(r.opts.set & (OPT_SEED | OPT_STOP | OPT_PRES_PEN | OPT_REPEAT_PEN)));
	req_free(&r);
	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ","
	    "\"options\":{\"max_tokens\":3}}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	req_apply_defaults(&r, &c);
	CHECK(r.opts.max_tokens == 3);
	req_free(&r);
}

TEST(openai_body_exact)
{
	struct infer_req r;
	char err[256], *body;
	cJSON *b, *so, *m;

	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"qwen\",\"prompt\":\"p\","
	    "\"options\":{\"max_tokens\":9,\"temperature\":1.5,\"seed\":3,\"stop\":[\"x\"],"
	    "\"presence_penalty\":0.5}}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	body = openai_build_body(&r);
	b = cJSON_Parse(body);
	REQUIRE(b != NULL);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(b, "stream")));
	so = cJSON_GetObjectItem(b, "stream_options");
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(so, "include_usage")));
	CHECK(num(b, "max_tokens") == 9);
	CHECK(num(b, "temperature") == 1.5);
	CHECK(num(b, "seed") == 3);
	CHECK(num(b, "presence_penalty") == 0.5);
	CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(b, "stop")) == 1);
	CHECK(cJSON_GetObjectItem(b, "num_predict") == NULL);
	CHECK(cJSON_GetObjectItem(b, "top_k") == NULL);
	m = cJSON_GetObjectItem(b, "messages");
	CHECK(cJSON_GetArraySize(m) == 1);
	CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 0), "role")->valuestring, "user") == 0);
	CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(m, 0), "content")->valuestring, "p") == 0);
	cJSON_Delete(b);
	free(body);
	req_free(&r);
}

TEST(stream_flag)
{
	struct infer_req r;
	char err[256];

	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"m\"," MSGS "}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	CHECK(r.stream == 1);
	req_free(&r);
	{
		static const char in[] = "{\"op\":\"infer\",\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"stream\":false}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == 0);
	}
	CHECK(r.stream == 0);
	req_free(&r);
}

TEST(rejects_bad_lines)
{
	static const char *bad[] = {
		/* job */
		"{\"job\":\"abc\",\"model\":\"m\"," MSGS "}",
		"{\"job\":\"" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef" "\",\"model\":\"m\"," MSGS "}",
		"{\"job\":5,\"model\":\"m\"," MSGS "}",
		/* model */
		"{\"job\":\"" JOB "\"," MSGS "}",
		"{\"job\":\"" JOB "\",\"model\":\"\"," MSGS "}",
		"{\"job\":\"" JOB "\",\"model\":7," MSGS "}",
		/* messages / prompt */
		"{\"job\":\"" JOB "\",\"model\":\"m\"}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"prompt\":\"x\"}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"messages\":[]}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"messages\":{}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":3}]}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"messages\":[\"hi\"]}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"prompt\":\"\"}",
		"{\"job\":\"" JOB "\",\"model\":\"m\",\"prompt\":[\"x\"]}",
		/* options: wrong type, unknown key, range, fraction, null */
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"temperature\":\"0.7\"}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"num_ctx\":4096}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"tfs_z\":1}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"max_tokens\":1.5}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"max_tokens\":0}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"top_p\":1.5}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"seed\":-2}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"top_k\":null}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"stop\":\"x\"}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"stop\":[\"\"]}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"stop\":[1]}}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":[]}",
		"{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"stream\":\"yes\"}",
	};
	struct infer_req r;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = parse(bad[i], &r, err, sizeof(err));

		CHECKF(rc == -1, "line %zu accepted: %s", i, bad[i]);
		CHECKF(rc != -1 || err[0] != '\0', "line %zu: no reason", i);
		req_free(&r);
	}
}

TEST(job_id_kept_for_the_answer)
{
	struct infer_req r;
	char err[256];

	{
		static const char in[] = "{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"bogus\":1}}";

		REQUIRE(parse(in, &r, err, sizeof(err)) == -1);
	}
	CHECK(strcmp(r.job, JOB) == 0);
	CHECK(strstr(err, "bogus") != NULL);
	req_free(&r);
}

TEST(too_many_stops)
{
	struct infer_req r;
	char err[256], line[2048];
	int n = 0, i;

	n += snprintf(line + n, sizeof(line) - (size_t)n,
	    "{\"job\":\"" JOB "\",\"model\":\"m\"," MSGS ",\"options\":{\"stop\":[");
	for (i = 0; i < INFER_MAX_STOP + 1; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s\"s%d\"", i ? "," : "", i);
	snprintf(line + n, sizeof(line) - (size_t)n, "]}}");
	CHECK(parse(line, &r, err, sizeof(err)) == -1);
	req_free(&r);
}

int
main(void)
{
	RUN(ollama_options_exact);
	RUN(ollama_generate_and_keep_alive_forms);
	RUN(defaults_and_clamp);
	RUN(openai_body_exact);
	RUN(stream_flag);
	RUN(rejects_bad_lines);
	RUN(job_id_kept_for_the_answer);
	RUN(too_many_stops);
	T_DONE();
}

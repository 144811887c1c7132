/*
 * test_model.c: model names as Ollama and OpenAI-compatible servers match
 * them (common/model.c), shell-glob exclusion, and model_prices parsing.
 */
#include <string.h>

#include "model.h"
#include "t.h"

static int
norm_is(const char *in, const char *want)
{
	char out[MODEL_NAME_MAX];

	return model_norm_ollama(in, out, sizeof(out)) == 0 && strcmp(out, want) == 0;
}

TEST(ollama_names)
{
	char small[8];

	CHECK(norm_is("llama3.2", "llama3.2:latest"));
	CHECK(norm_is("LLAMA3.2:Latest", "llama3.2:latest"));
	CHECK(norm_is("library/llama3.2", "llama3.2:latest"));
	CHECK(norm_is("registry.ollama.ai/library/llama3.2:3b", "llama3.2:3b"));
	CHECK(norm_is("hf.co/org/repo:Q4_K_M", "hf.co/org/repo:q4_k_m"));
	CHECK(norm_is("host:11434/ns/model", "host:11434/ns/model:latest"));	/* a port is no tag */
	CHECK(model_norm_ollama("", small, sizeof(small)) == -1);
	CHECK(model_norm_ollama("llama3.2", small, sizeof(small)) == -1);
}

TEST(ollama_find)
{
	const char *names[] = { "llama3.2:latest", "llama3.2:3b", "qwen2.5:7b" };

	CHECK(model_find(BACKEND_OLLAMA, "llama3.2", names, 3) == 0);
	CHECK(model_find(BACKEND_OLLAMA, "Llama3.2:3B", names, 3) == 1);
	CHECK(model_find(BACKEND_OLLAMA, "qwen2.5:7b", names, 3) == 2);
	CHECK(model_find(BACKEND_OLLAMA, "qwen2.5", names, 3) == -1);	/* not :7b */
	CHECK(model_find(BACKEND_OLLAMA, "llama3", names, 3) == -1);	/* no prefixes */
	CHECK(model_find(BACKEND_OLLAMA, "llama3.2", names + 1, 2) == -1);	/* :latest only */
}

TEST(openai_find)
{
	const char *names[] = { "Qwen/Qwen2.5-7B-Instruct", "gpt-x", "GPT-X", "mistral" };

	CHECK(model_find(BACKEND_OPENAI, "Qwen/Qwen2.5-7B-Instruct", names, 4) == 0);
	CHECK(model_find(BACKEND_OPENAI, "qwen/qwen2.5-7b-instruct", names, 4) == 0);
	CHECK(model_find(BACKEND_OPENAI, "GPT-X", names, 4) == 2);	/* exact first */
	CHECK(model_find(BACKEND_OPENAI, "Gpt-X", names, 4) == -1);	/* two case-insensitive */
	CHECK(model_find(BACKEND_OPENAI, "mistral:latest", names, 4) == -1);	/* no tags */
	CHECK(model_find(BACKEND_OPENAI, "Qwen", names, 4) == -1);
}

TEST(globs)
{
	CHECK(model_glob_any("nomic-embed-text:latest", "*embed* *-cloud"));
	CHECK(model_glob_any("gpt-oss:120b-CLOUD", "*embed* *-cloud"));
	CHECK(!model_glob_any("llama3.2:latest", "*embed* *-cloud"));
	CHECK(!model_glob_any("llama3.2:latest", ""));
}

TEST(prices)
{
	struct model_price p[4];
	char err[160];
	size_t n;

	REQUIRE(model_prices_parse("qwen2.5:7b=5/4 mistral=3/1.5", p, 4, &n, err, sizeof(err)) == 0);
	REQUIRE(n == 2);
	CHECK(strcmp(p[0].name, "qwen2.5:7b") == 0 && p[0].min_sats == 5 && p[0].per1k == 4);
	CHECK(strcmp(p[1].name, "mistral") == 0 && p[1].min_sats == 3 && p[1].per1k == 1.5);
	REQUIRE(model_prices_parse("", p, 4, &n, err, sizeof(err)) == 0);
	CHECK(n == 0);
	REQUIRE(model_prices_parse("  free=0/0  ", p, 4, &n, err, sizeof(err)) == 0);
	CHECK(n == 1 && p[0].min_sats == 0 && p[0].per1k == 0);
}

TEST(bad_prices)
{
	static const char *bad[] = {
		"mistral", "mistral=3", "=3/1", "mistral=3/", "mistral=/1", "mistral=-3/1",
		"mistral=3/-1", "mistral=1.5/1", "mistral=3/1x", "mistral=3/1/2",
		"mistral=3/1e3", "mistral=200000000/1", "a=1/1 b", NULL,
	};
	struct model_price p[4];
	char err[160];
	size_t n, i;

	for (i = 0; bad[i] != NULL; i++) {
		err[0] = '\0';
		CHECKF(model_prices_parse(bad[i], p, 4, &n, err, sizeof(err)) == -1, "%s", bad[i]);
		CHECKF(strstr(err, "bad entry") != NULL, "%s: %s", bad[i], err);
		CHECKF(model_prices_check(bad[i]) != NULL, "%s", bad[i]);
	}
	CHECK(model_prices_parse("a=1/1 b=1/1 c=1/1", p, 2, &n, err, sizeof(err)) == -1);
	CHECK(strstr(err, "more than 2") != NULL);
	CHECK(model_prices_check("a=1/1 b=2/0.5") == NULL);
}

int
main(void)
{
	RUN(ollama_names);
	RUN(ollama_find);
	RUN(openai_find);
	RUN(globs);
	RUN(prices);
	RUN(bad_prices);
	T_DONE();
}

/*
 * test_inferd_catalog.c: inferd's debounced catalog (inferd/catalog.c):
 * a backend's first listing counts at once, later additions and removals
 * only after two consecutive probes agree, a failed probe is a miss, the
 * union keeps a model while any backend has it, and Ollama's capability
 * and cloud fields come through.
 */
/* LINK: inferd/catalog.c */
#include <string.h>

#include "../../inferd/inferd.h"
#include "t.h"

static struct inferd in;
static struct backend be[2];

static cJSON *
tags(const char *json)
{
	return cJSON_Parse(json);
}

static int
probe(struct backend *b, const char *json)
{
	cJSON *j = json ? tags(json) : NULL;
	int rc = catalog_probe(b, j ? cJSON_GetObjectItemCaseSensitive(j, "models") : NULL, "name");

	cJSON_Delete(j);
	return rc;
}

static void
setup(void)
{
	memset(&in, 0, sizeof(in));
	memset(be, 0, sizeof(be));
	be[0].in = be[1].in = &in;
	be[0].name = "http://a";
	be[1].name = "http://b";
	in.pool.b = be;
	in.pool.n = 2;
}

static void
teardown(void)
{
	catalog_clear(&be[0]);
	catalog_clear(&be[1]);
}

/* The union's entry for name, or NULL; *arr must be freed. */
static const cJSON *
entry(cJSON **arr, const char *name)
{
	const cJSON *o;

	*arr = catalog_json(&in);
	cJSON_ArrayForEach(o, *arr)
		if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "name")->valuestring, name) == 0)
			return o;
	return NULL;
}

static int
listed(const char *name)
{
	cJSON *arr;
	int r = entry(&arr, name) != NULL;

	cJSON_Delete(arr);
	return r;
}

#define AB "{\"models\":[{\"name\":\"a:latest\"},{\"name\":\"b:latest\"}]}"
#define A "{\"models\":[{\"name\":\"a:latest\"}]}"

TEST(first_probe_counts)
{
	setup();
	REQUIRE(probe(&be[0], AB) == 0);
	CHECK(listed("a:latest") && listed("b:latest"));
	CHECK(catalog_has(&be[0], "a") && catalog_has(&be[0], "B:latest"));
	CHECK(!catalog_has(&be[1], "a"));
	teardown();
}

TEST(removal_needs_two_probes)
{
	setup();
	REQUIRE(probe(&be[0], AB) == 0);
	REQUIRE(probe(&be[0], A) == 0);
	CHECK(listed("b:latest"));		/* one miss: still there */
	REQUIRE(probe(&be[0], AB) == 0);
	REQUIRE(probe(&be[0], A) == 0);
	CHECK(listed("b:latest"));		/* misses were not consecutive */
	REQUIRE(probe(&be[0], A) == 0);
	CHECK(!listed("b:latest") && listed("a:latest"));
	teardown();
}

TEST(addition_needs_two_probes)
{
	setup();
	REQUIRE(probe(&be[0], A) == 0);
	REQUIRE(probe(&be[0], AB) == 0);
	CHECK(!listed("b:latest"));
	REQUIRE(probe(&be[0], AB) == 0);
	CHECK(listed("b:latest"));
	teardown();
}

TEST(failed_probe_is_a_miss)
{
	setup();
	REQUIRE(probe(&be[0], A) == 0);
	REQUIRE(probe(&be[0], NULL) == 0);
	CHECK(listed("a:latest"));
	REQUIRE(probe(&be[0], NULL) == 0);
	CHECK(!listed("a:latest"));
	teardown();
}

TEST(union_over_backends)
{
	cJSON *arr;
	const cJSON *e;

	setup();
	REQUIRE(probe(&be[0], A) == 0);
	REQUIRE(probe(&be[1], AB) == 0);
	e = entry(&arr, "a:latest");
	CHECK(e && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(e, "backends")) == 2);
	cJSON_Delete(arr);
	REQUIRE(probe(&be[1], NULL) == 0);
	REQUIRE(probe(&be[1], NULL) == 0);
	CHECK(listed("a:latest") && !listed("b:latest"));	/* a stays: backend a has it */
	teardown();
}

TEST(ollama_fields)
{
	cJSON *arr;
	const cJSON *e;

	setup();
	REQUIRE(probe(&be[0], "{\"models\":[{\"name\":\"q:7b\",\"capabilities\":[\"completion\"],"
	    "\"details\":{\"family\":\"qwen2\",\"parameter_size\":\"7.6B\",\"quantization_level\":"
	    "\"Q4_K_M\",\"context_length\":32768}},{\"name\":\"e:latest\",\"capabilities\":"
	    "[\"embedding\"]},{\"name\":\"c:cloud\",\"capabilities\":[\"completion\"],"
	    "\"remote_host\":\"https://ollama.com:443\"},{\"name\":\"old:latest\"},{\"name\":7}]}") == 0);
	e = entry(&arr, "q:7b");
	REQUIRE(e != NULL);
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(e, "family")->valuestring, "qwen2") == 0);
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(e, "parameter_size")->valuestring, "7.6B") == 0);
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(e, "quantization")->valuestring, "Q4_K_M") == 0);
	CHECK(cJSON_GetObjectItemCaseSensitive(e, "context_length")->valuedouble == 32768);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "completion")));
	CHECK(cJSON_GetArraySize(arr) == 4);	/* the entry without a name string is skipped */
	cJSON_Delete(arr);
	e = entry(&arr, "e:latest");
	CHECK(e && cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(e, "completion")));
	cJSON_Delete(arr);
	e = entry(&arr, "c:cloud");
	CHECK(e && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "cloud")));
	cJSON_Delete(arr);
	e = entry(&arr, "old:latest");	/* before v0.30: no capabilities, taken as completion */
	CHECK(e && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "completion")));
	cJSON_Delete(arr);
	teardown();
}

TEST(gone_until_listed_again)
{
	setup();
	REQUIRE(probe(&be[0], A) == 0);
	catalog_gone(&be[0], "a");
	CHECK(!catalog_has(&be[0], "a:latest"));
	REQUIRE(probe(&be[0], A) == 0);
	CHECK(catalog_has(&be[0], "a:latest"));
	teardown();
}

int
main(void)
{
	RUN(first_probe_counts);
	RUN(removal_needs_two_probes);
	RUN(addition_needs_two_probes);
	RUN(failed_probe_is_a_miss);
	RUN(union_over_backends);
	RUN(ollama_fields);
	RUN(gone_until_listed_again);
	T_DONE();
}

/*
 * test_jobd_store.c: the storefront's decisions (jobd/store.c): the served
 * set from models / models = * / models_exclude and inferd's catalog, the
 * model a request chose, per-model prices, the context cap, what is still
 * available, and which untargeted requests are left to other DVMs.
 */
/* LINK: jobd/store.c jobd/price.c */
#include <string.h>

#include "../../jobd/jobd.h"
#include "t.h"

static struct jobd jd;
static int announced;

void
announce_changed(struct jobd *d)
{
	announced++;
}

int
spoke_send(struct jobd *d, enum spoke_id id, cJSON *m)
{
	cJSON_Delete(m);
	return 0;
}

#define CATALOG "{\"op\":\"catalog\",\"models\":[" \
	"{\"name\":\"llama3.2:latest\",\"context_length\":131072,\"completion\":true,\"backends\":[\"http://a\"]}," \
	"{\"name\":\"qwen2.5:7b\",\"family\":\"qwen2\",\"context_length\":32768,\"completion\":true}," \
	"{\"name\":\"mistral:latest\",\"context_length\":100,\"completion\":true}," \
	"{\"name\":\"nomic-embed-text:latest\",\"completion\":false}," \
	"{\"name\":\"gpt-oss:120b-cloud\",\"completion\":true,\"cloud\":true}]}"

static int
setup(const char *conftext, int with_catalog)
{
	char err[256];
	cJSON *m;

	store_free(&jd.store);
	conf_free(&jd.conf);
	memset(&jd, 0, sizeof(jd));
	if (conf_load_buffer(&jd.conf, "t.conf", conftext, strlen(conftext), err, sizeof(err)) == -1)
		return -1;
	store_apply(&jd);
	if (!with_catalog)
		return 0;
	m = cJSON_Parse(CATALOG);
	store_on_catalog(&jd, m);
	cJSON_Delete(m);
	return 0;
}

static int
served(const char *want)
{
	char got[1024] = "";
	size_t i;

	for (i = 0; i < jd.store.nserved; i++) {
		strcat(got, i ? " " : "");
		strcat(got, jd.store.served[i]);
	}
	if (strcmp(got, want) != 0)
		fprintf(stderr, "served: got \"%s\", want \"%s\"\n", got, want);
	return strcmp(got, want) == 0;
}

static int
choose(const char *asked, char *err, size_t errlen)
{
	static struct job j;

	memset(&j, 0, sizeof(j));
	snprintf(j.req.asked_model, sizeof(j.req.asked_model), "%s", asked);
	snprintf(j.req.model, sizeof(j.req.model), "%s", jd.conf.model);
	err[0] = '\0';
	if (store_choose(&jd, &j, err, errlen) == -1)
		return -1;
	snprintf(err, errlen, "%s", j.req.model);
	return 0;
}

TEST(served_sets)
{
	REQUIRE(setup("", 0) == 0);
	CHECK(served("llama3.2"));			/* no catalog yet: as configured */
	REQUIRE(setup("", 1) == 0);
	CHECK(served("llama3.2:latest"));		/* the catalog's spelling */
	REQUIRE(setup("models = qwen2.5:7b mistral llama3.1:70b\n", 1) == 0);
	CHECK(served("llama3.2:latest qwen2.5:7b mistral:latest"));	/* 70b: no backend */
	REQUIRE(setup("models = *\n", 1) == 0);
	CHECK(served("llama3.2:latest qwen2.5:7b mistral:latest"));	/* no embedding, no cloud */
	REQUIRE(setup("models = *\nmodels_exclude = mistral*\n", 1) == 0);
	CHECK(served("llama3.2:latest qwen2.5:7b"));
	CHECK(announced > 0);
}

TEST(choosing)
{
	char m[512];

	REQUIRE(setup("models = qwen2.5:7b mistral\n", 1) == 0);
	CHECK(choose("", m, sizeof(m)) == 0 && strcmp(m, "llama3.2:latest") == 0);
	CHECK(choose("Default", m, sizeof(m)) == 0 && strcmp(m, "llama3.2:latest") == 0);
	CHECK(choose("llama3.2", m, sizeof(m)) == 0 && strcmp(m, "llama3.2:latest") == 0);
	CHECK(choose("QWEN2.5:7B", m, sizeof(m)) == 0 && strcmp(m, "qwen2.5:7b") == 0);
	CHECK(choose("qwen2.5", m, sizeof(m)) == -1);
	CHECK(strstr(m, "model \"qwen2.5\" is not served here; served: llama3.2:latest (3 sats min "
	    "+ 2/1k tok), qwen2.5:7b") != NULL);
	CHECK(choose("nomic-embed-text", m, sizeof(m)) == -1);
	CHECK(!store_serves(&jd, "gpt-oss:120b-cloud") && store_serves(&jd, "mistral"));
}

TEST(long_list_is_cut)
{
	char conf[2048] = "models = *\n", m[JOBD_MAX_ERRMSG];
	cJSON *cat = cJSON_CreateArray(), *msg = cJSON_CreateObject(), *o;
	int i;

	REQUIRE(setup(conf, 0) == 0);
	for (i = 0; i < 15; i++) {
		char name[32];

		snprintf(name, sizeof(name), "model%02d:latest", i);
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddItemToArray(cat, o);
	}
	cJSON_AddItemToObject(msg, "models", cat);
	store_on_catalog(&jd, msg);
	cJSON_Delete(msg);
	CHECK(jd.store.nserved == 15);	/* the default has no backend: not served */
	CHECK(choose("nope", m, sizeof(m)) == -1);
	/* ten with prices do not fit 255 bytes: names only, then the count */
	CHECKF(strstr(m, "served: model00:latest, model01:latest,") != NULL, "%s", m);
	CHECK(strstr(m, ", and 5 more in our announcement") != NULL);
}

TEST(prices_and_context)
{
	static struct job j;
	int64_t min;
	double rate;

	REQUIRE(setup("models = qwen2.5:7b mistral\nmodel_prices = qwen2.5:7b=5/4 MISTRAL=3/1.5\n"
	    "max_tokens = 512\n", 1) == 0);
	store_model_price(&jd, "qwen2.5:7b", &min, &rate);
	CHECK(min == 5 && rate == 4);
	store_model_price(&jd, "mistral:latest", &min, &rate);
	CHECK(min == 3 && rate == 1.5);
	store_model_price(&jd, "llama3.2:latest", &min, &rate);
	CHECK(min == 3 && rate == 2);		/* the defaults */
	/* 1000 tokens at 4/1k = 4 sats, below qwen's minimum of 5 */
	CHECK(price_msat(store_price(&jd, "qwen2.5:7b"), 500, 500) == 5000);
	CHECK(price_msat(store_price(&jd, "mistral:latest"), 2000, 2000) == 6000);
	CHECK(store_max_tokens(&jd, "mistral:latest") == 100 && store_max_tokens(&jd, "qwen2.5:7b") == 512);
	memset(&j, 0, sizeof(j));
	snprintf(j.req.model, sizeof(j.req.model), "mistral:latest");
	j.req.max_tokens = 512;
	j.prompt = "forty bytes of prompt, exactly forty ok.";
	store_cap_tokens(&jd, &j);
	CHECK(j.req.max_tokens == 100 - 40);
	j.prompt = NULL;
}

TEST(availability)
{
	cJSON *m;

	REQUIRE(setup("models = qwen2.5:7b mistral\n", 1) == 0);
	CHECK(store_available(&jd, "mistral:latest"));
	m = cJSON_Parse("{\"models\":[{\"name\":\"llama3.2:latest\"},{\"name\":\"qwen2.5:7b\"}]}");
	store_on_catalog(&jd, m);
	cJSON_Delete(m);
	CHECK(!store_available(&jd, "mistral:latest") && store_available(&jd, "qwen2.5:7b"));
	REQUIRE(setup("", 1) == 0);
	CHECK(store_available(&jd, "anything"));	/* models unset: as before */
}

static int
skips(const char *tags_json)
{
	struct event ev;
	int r;

	memset(&ev, 0, sizeof(ev));
	ev.tags = cJSON_Parse(tags_json);
	r = store_skip_untargeted(&jd, &ev);
	cJSON_Delete(ev.tags);
	return r;
}

TEST(untargeted)
{
	REQUIRE(setup("models = qwen2.5:7b\n", 1) == 0);
	CHECK(skips("[[\"i\",\"x\",\"text\"],[\"param\",\"model\",\"gpt-4o\"]]"));
	CHECK(!skips("[[\"i\",\"x\",\"text\"],[\"param\",\"model\",\"qwen2.5:7b\"]]"));
	CHECK(!skips("[[\"i\",\"x\",\"text\"]]"));
	CHECK(!skips("[[\"p\",\"" "00" "\"],[\"param\",\"model\",\"gpt-4o\"]]"));	/* targeted: answered */
	CHECK(!skips("[[\"encrypted\"],[\"param\",\"model\",\"gpt-4o\"]]"));
}

int
main(void)
{
	RUN(served_sets);
	RUN(choosing);
	RUN(long_list_is_cut);
	RUN(prices_and_context);
	RUN(availability);
	RUN(untargeted);
	store_free(&jd.store);
	conf_free(&jd.conf);
	T_DONE();
}

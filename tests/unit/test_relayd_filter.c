/* LINK: relayd/filter.c */
/*
 * relayd's NIP-01 filter matching: each condition, AND within a filter,
 * OR across filters, tag filters on the first value only, since/until left
 * to jobd.
 */
#include <string.h>

#include "t.h"
#include "../../relayd/relayd.h"

#define ID "1111111111111111111111111111111111111111111111111111111111111111"
#define PK "2222222222222222222222222222222222222222222222222222222222222222"
#define SG ID ID

static struct event ev;

static void
load(void)
{
	static const char *json = "{\"id\":\"" ID "\",\"pubkey\":\"" PK "\",\"created_at\":1000,"
	    "\"kind\":5050,\"tags\":[[\"p\",\"" PK "\"],[\"e\",\"aa\",\"wss://r\"],[\"param\",\"x\"]],"
	    "\"content\":\"\",\"sig\":\"" SG "\"}";
	char err[64];

	if (ev.tags == NULL && event_parse(&ev, json, strlen(json), err, sizeof(err)) == -1) {
		printf("FAIL: test_relayd_filter.c: setup: %s\n", err);
		exit(1);
	}
}

static int
m(const char *filters)
{
	cJSON *f = cJSON_Parse(filters);
	int r;

	if (f == NULL)
		return -1;
	r = filter_match_any(f, &ev);
	cJSON_Delete(f);
	return r;
}

TEST(single_conditions)
{
	load();
	CHECK(m("[{}]") == 1);
	CHECK(m("[{\"kinds\":[1,5050]}]") == 1);
	CHECK(m("[{\"kinds\":[1]}]") == 0);
	CHECK(m("[{\"ids\":[\"" ID "\"]}]") == 1);
	CHECK(m("[{\"ids\":[\"1111\"]}]") == 0);
	CHECK(m("[{\"authors\":[\"" PK "\"]}]") == 1);
	CHECK(m("[{\"authors\":[\"" ID "\"]}]") == 0);
	/* Time windows are jobd's to judge (and count). */
	CHECK(m("[{\"since\":1001}]") == 1);
	CHECK(m("[{\"until\":999}]") == 1);
	CHECK(m("[{\"limit\":1,\"search\":\"x\"}]") == 1);
}

TEST(tag_conditions)
{
	load();
	CHECK(m("[{\"#p\":[\"" PK "\"]}]") == 1);
	CHECK(m("[{\"#p\":[\"" ID "\"]}]") == 0);
	CHECK(m("[{\"#e\":[\"aa\"]}]") == 1);
	CHECK(m("[{\"#e\":[\"wss://r\"]}]") == 0);	/* first value only */
	CHECK(m("[{\"#t\":[\"x\"]}]") == 0);
	CHECK(m("[{\"#param\":[\"x\"]}]") == 1);	/* not a single letter: ignored */
}

TEST(and_within_or_across)
{
	load();
	CHECK(m("[{\"kinds\":[5050],\"#p\":[\"x\"]}]") == 0);
	CHECK(m("[{\"kinds\":[1]},{\"#p\":[\"" PK "\"]}]") == 1);
	CHECK(m("[{\"kinds\":[1]},{\"authors\":[\"x\"]}]") == 0);
	CHECK(m("[]") == 0);
}

int
main(void)
{
	RUN(single_conditions);
	RUN(tag_conditions);
	RUN(and_within_or_across);
	event_free(&ev);
	return t_failed_cases != 0;
}

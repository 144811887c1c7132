/*
 * test_paned_auth.c: paned's request checks: the exact Host and Origin
 * rules (DNS rebinding, CSRF), the token compare, the session cookie, the
 * token file (0600, kept across restarts) and the bounds on what a browser
 * may send (bodies, URL arguments).
 */
/* LINK: paned/auth.c paned/api.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../paned/paned.h"
#include "t.h"

TEST(host_exact)
{
	CHECK(auth_host_ok("127.0.0.1:8090", 8090));
	CHECK(auth_host_ok("localhost:8090", 8090));
	CHECK(!auth_host_ok("127.0.0.1:8091", 8090));
	CHECK(!auth_host_ok("127.0.0.1", 8090));
	CHECK(!auth_host_ok("evil.example:8090", 8090));
	CHECK(!auth_host_ok("127.0.0.1:8090.evil.example", 8090));
	CHECK(!auth_host_ok("", 8090));
	CHECK(!auth_host_ok(NULL, 8090));
}

TEST(origin_exact)
{
	CHECK(auth_origin_ok("http://127.0.0.1:8090", 8090));
	CHECK(auth_origin_ok("http://localhost:8090", 8090));
	CHECK(!auth_origin_ok("http://127.0.0.1:8090/", 8090));
	CHECK(!auth_origin_ok("https://127.0.0.1:8090", 8090));
	CHECK(!auth_origin_ok("null", 8090));
	CHECK(!auth_origin_ok(NULL, 8090));
}

TEST(token_compare)
{
	CHECK(auth_equal("abc", "abc"));
	CHECK(!auth_equal("abc", "abd"));
	CHECK(!auth_equal("abc", "ab"));
	CHECK(!auth_equal("", ""));
}

TEST(cookie_and_sessions)
{
	static struct paned p;
	char v[80], s[PANE_TOKEN_HEX + 1], h[200];
	int i;

	CHECK(auth_cookie_value("a=1; pane_session=xyz; b=2", "pane_session", v, sizeof(v)) == 0);
	CHECK(strcmp(v, "xyz") == 0);
	CHECK(auth_cookie_value("xpane_session=1", "pane_session", v, sizeof(v)) == -1);
	CHECK(auth_cookie_value("pane_session=0123456789", "pane_session", v, 4) == -1);
	CHECK(!auth_session_ok(&p, "pane_session="));
	REQUIRE(auth_session_new(&p, s) == 0);
	CHECK(strlen(s) == PANE_TOKEN_HEX);
	snprintf(h, sizeof(h), "pane_session=%s", s);
	CHECK(auth_session_ok(&p, h));
	h[strlen(h) - 1] ^= 1;
	CHECK(!auth_session_ok(&p, h));
	CHECK(!auth_session_ok(&p, NULL));
	/* The oldest session is forgotten once every slot is used. */
	for (i = 0; i < PANE_MAX_SESSIONS; i++)
		REQUIRE(auth_session_new(&p, v) == 0);
	snprintf(h, sizeof(h), "pane_session=%s", s);
	CHECK(!auth_session_ok(&p, h));
}

TEST(token_file)
{
	static struct paned p, q;
	char dir[] = "/tmp/test_paned.XXXXXX", path[128], err[256];
	struct stat st;

	REQUIRE(mkdtemp(dir) != NULL);
	p.conf.state_dir = dir;
	q.conf.state_dir = dir;
	REQUIRE(auth_token_load(&p, err, sizeof(err)) == 0);
	CHECK(strlen(p.token) == PANE_TOKEN_HEX);
	snprintf(path, sizeof(path), "%s/pane/token", dir);
	REQUIRE(stat(path, &st) == 0);
	CHECK((st.st_mode & 0777) == 0600);
	REQUIRE(auth_token_load(&q, err, sizeof(err)) == 0);
	CHECK(strcmp(p.token, q.token) == 0);	/* kept: a printed URL stays good */
	unlink(path);
	snprintf(path, sizeof(path), "%s/pane", dir);
	rmdir(path);
	rmdir(dir);
}

TEST(request_limits)
{
	char big[PANE_MAX_BODY + 64], err[256], *l;

	l = api_jobs_request("5", "100000", "acked");
	REQUIRE(l != NULL);
	CHECKF(strcmp(l, "{\"op\":\"jobs\",\"offset\":5,\"limit\":200,\"state\":\"acked\"}") == 0, "%s", l);
	free(l);
	l = api_jobs_request("-3", "x", "a\"b");
	REQUIRE(l != NULL);
	CHECKF(strcmp(l, "{\"op\":\"jobs\",\"offset\":0,\"limit\":20}") == 0, "%s", l);
	free(l);
	l = api_prices_request("{\"min_price_sats\":5}", 20, err, sizeof(err));
	REQUIRE(l != NULL);
	CHECKF(strcmp(l, "{\"op\":\"prices_set\",\"prices\":{\"min_price_sats\":5}}") == 0, "%s", l);
	free(l);
	CHECK(api_prices_request("{\"min_price_sats\":\"5\"}", 22, err, sizeof(err)) == NULL);
	/* model_prices is the one string; a number there, or a string elsewhere, is refused */
	l = api_prices_request("{\"model_prices\":\"llama3.2=7/1\"}", 31, err, sizeof(err));
	REQUIRE(l != NULL);
	CHECKF(strcmp(l, "{\"op\":\"prices_set\",\"prices\":{\"model_prices\":\"llama3.2=7/1\"}}") == 0, "%s", l);
	free(l);
	CHECK(api_prices_request("{\"model_prices\":5}", 18, err, sizeof(err)) == NULL);
	CHECK(api_prices_request("[1]", 3, err, sizeof(err)) == NULL);
	memset(big, ' ', sizeof(big));
	big[0] = '{';
	big[sizeof(big) - 1] = '}';
	CHECK(api_prices_request(big, sizeof(big), err, sizeof(err)) == NULL);
	CHECK(strstr(err, "at most 1024 bytes") != NULL);
}

TEST(answers)
{
	char err[128];
	cJSON *o;

	o = api_parse_answer("{\"op\":\"status\"}", 15, "status", err, sizeof(err));
	CHECK(o != NULL);
	cJSON_Delete(o);
	o = api_parse_answer("{\"op\":\"error\",\"message\":\"x\"}", 29, "status", err, sizeof(err));
	CHECK(o != NULL);
	cJSON_Delete(o);
	CHECK(api_parse_answer("{\"op\":\"jobs\"}", 13, "status", err, sizeof(err)) == NULL);
	CHECK(api_parse_answer("[]", 2, "status", err, sizeof(err)) == NULL);
	CHECK(api_parse_answer("{\"op\":1}", 8, "status", err, sizeof(err)) == NULL);
	CHECK(api_parse_answer("{", 1, "status", err, sizeof(err)) == NULL);
}

int
main(void)
{
	RUN(host_exact);
	RUN(origin_exact);
	RUN(token_compare);
	RUN(cookie_and_sessions);
	RUN(token_file);
	RUN(request_limits);
	RUN(answers);
	T_DONE();
}

/* LINK: relayd/url.c */
/*
 * relayd's relay URL checks: normalization (scheme and host lower-cased,
 * bare trailing slash dropped), parsing into host/port/path/Host header,
 * and refusal of everything else (relay hints come from strangers).
 */
#include <string.h>

#include "t.h"
#include "../../relayd/relayd.h"

static int
parse(const char *in, struct relay *r)
{
	char norm[RELAY_URL_MAX];

	memset(r, 0, sizeof(*r));
	if (url_normalize(in, norm, sizeof(norm)) == -1)
		return -1;
	return url_parse(norm, r);
}

TEST(normalize)
{
	char out[RELAY_URL_MAX];

	REQUIRE(url_normalize("WSS://Relay.Example.COM/", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "wss://relay.example.com") == 0);
	REQUIRE(url_normalize("ws://a.b/Path/", out, sizeof(out)) == 0);
	CHECK(strcmp(out, "ws://a.b/Path/") == 0);
	CHECK(url_normalize("http://a.b", out, sizeof(out)) == -1);
	CHECK(url_normalize("wss://", out, sizeof(out)) == -1);
	CHECK(url_normalize("wss://a b", out, sizeof(out)) == -1);
	CHECK(url_normalize("wss://a.b/#x", out, sizeof(out)) == -1);
	CHECK(url_normalize("", out, sizeof(out)) == -1);
	CHECK(url_normalize("wss://caf\xc3\xa9.example", out, sizeof(out)) == -1);
}

TEST(parse_defaults_and_ports)
{
	struct relay r;

	REQUIRE(parse("wss://relay.example.com", &r) == 0);
	CHECK(r.tls && r.port == 443 && strcmp(r.host, "relay.example.com") == 0);
	CHECK(strcmp(r.path, "/") == 0 && strcmp(r.hosthdr, "relay.example.com") == 0);
	REQUIRE(parse("ws://127.0.0.1:7447", &r) == 0);
	CHECK(!r.tls && r.port == 7447 && strcmp(r.host, "127.0.0.1") == 0);
	CHECK(strcmp(r.hosthdr, "127.0.0.1:7447") == 0);
	REQUIRE(parse("wss://a.b:444/nostr?x=1", &r) == 0);
	CHECK(r.port == 444 && strcmp(r.path, "/nostr?x=1") == 0);
	REQUIRE(parse("ws://a.b?x=1", &r) == 0);
	CHECK(r.port == 80 && strcmp(r.path, "/?x=1") == 0 && strcmp(r.host, "a.b") == 0);
	REQUIRE(parse("ws://[::1]:7000/r", &r) == 0);
	CHECK(strcmp(r.host, "::1") == 0 && r.port == 7000 && strcmp(r.hosthdr, "[::1]:7000") == 0);
}

TEST(parse_refusals)
{
	struct relay r;

	CHECK(parse("ws://a.b:0", &r) == -1);
	CHECK(parse("ws://a.b:65536", &r) == -1);
	CHECK(parse("ws://a.b:12x", &r) == -1);
	CHECK(parse("ws://a.b:", &r) == -1);
	CHECK(parse("ws://a:b:c", &r) == -1);
	CHECK(parse("ws://user@a.b", &r) == -1);
	CHECK(parse("ws://[::1", &r) == -1);
	CHECK(parse("ws://[zz]:1", &r) == -1);
	CHECK(parse("ws://:80", &r) == -1);
}

int
main(void)
{
	RUN(normalize);
	RUN(parse_defaults_and_ports);
	RUN(parse_refusals);
	return t_failed_cases != 0;
}

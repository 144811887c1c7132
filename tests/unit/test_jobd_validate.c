/*
 * test_jobd_validate.c: every rejection reason of jobd's request checks
 * (validate.c) and request parsing (request.c): targeting, age, expiry,
 * sizes, inputs, params with clamping, bids, relays, encrypted requests
 * in both schemes, and joining inputs into one prompt.
 */
/* LINK: jobd/validate.c jobd/request.c */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "event.h"
#include "../../jobd/jobd.h"
#include "keys.h"
#include "nip04.h"
#include "nip44.h"
#include "t.h"

static struct conf C;
static struct keypair us, them;
static const int64_t NOW = 1700000000;

/* A signed request with the given tags (a JSON array) and content. */
static int
mkreq(struct event *ev, int kind, int64_t created, const char *tags_json, const char *content)
{
	cJSON *tags = cJSON_Parse(tags_json), *t, *s;

	if (tags == NULL || event_init(ev, kind, content, created) == -1)
		return -1;
	cJSON_ArrayForEach(t, tags) {
		const char *v[16];
		size_t n = 0;

		cJSON_ArrayForEach(s, t)
			v[n++] = s->valuestring;
		event_add_tag(ev, v, n);
	}
	cJSON_Delete(tags);
	return event_sign(ev, &them);
}

static enum reject_reason
pre(const char *tags, int kind, int64_t created)
{
	struct event ev;
	enum reject_reason why = REJ__COUNT;

	if (mkreq(&ev, kind, created, tags, "") == -1)
		return REJ_MALFORMED;
	if (validate_pre(&C, &ev, us.pkhex, NOW, &why) == 0)
		why = REJ__COUNT;	/* accepted */
	event_free(&ev);
	return why;
}

TEST(accepts_plain_request)
{
	CHECK(pre("[[\"i\",\"hi\",\"text\"]]", 5050, NOW) == REJ__COUNT);
}

TEST(rejects_other_kind)
{
	CHECK(pre("[[\"i\",\"hi\",\"text\"]]", 5100, NOW) == REJ_KIND);
	CHECK(validate_kind(&C, 5050) && !validate_kind(&C, 6050));
}

TEST(rejects_stale_and_future)
{
	CHECK(pre("[]", 5050, NOW - C.max_request_age - 1) == REJ_STALE);
	CHECK(pre("[]", 5050, NOW - C.max_request_age) == REJ__COUNT);
	CHECK(pre("[]", 5050, NOW + C.max_future_skew + 1) == REJ_FUTURE);
	CHECK(pre("[]", 5050, NOW + C.max_future_skew) == REJ__COUNT);
}

TEST(rejects_expired)
{
	CHECK(pre("[[\"expiration\",\"1699999999\"]]", 5050, NOW) == REJ_EXPIRED);
	CHECK(pre("[[\"expiration\",\"1700000000\"]]", 5050, NOW) == REJ_EXPIRED);
	CHECK(pre("[[\"expiration\",\"1700000001\"]]", 5050, NOW) == REJ__COUNT);
	CHECK(pre("[[\"expiration\",\"soon\"]]", 5050, NOW) == REJ__COUNT);
}

TEST(targeting)
{
	char tags[256];

	snprintf(tags, sizeof(tags), "[[\"p\",\"%s\"]]", them.pkhex);
	CHECK(pre(tags, 5050, NOW) == REJ_NOT_FOR_US);
	snprintf(tags, sizeof(tags), "[[\"p\",\"%s\"],[\"p\",\"%s\"]]", them.pkhex, us.pkhex);
	CHECK(pre(tags, 5050, NOW) == REJ__COUNT);
	CHECK(pre("[[\"encrypted\"]]", 5050, NOW) == REJ_NOT_FOR_US);
	C.require_p_tag = 1;
	CHECK(pre("[]", 5050, NOW) == REJ_UNTARGETED);
	snprintf(tags, sizeof(tags), "[[\"p\",\"%s\"]]", us.pkhex);
	CHECK(pre(tags, 5050, NOW) == REJ__COUNT);
	C.require_p_tag = 0;
}

TEST(size_caps)
{
	struct event ev;
	enum reject_reason why = REJ__COUNT;
	char *big;

	C.max_tags = 3;
	REQUIRE(mkreq(&ev, 5050, NOW, "[[\"a\"],[\"b\"],[\"c\"],[\"d\"]]", "") == 0);
	CHECK(validate_sizes(&C, &ev, &why) == -1 && why == REJ_TOO_MANY_TAGS);
	event_free(&ev);
	REQUIRE(mkreq(&ev, 5050, NOW, "[[\"a\"],[\"b\"],[\"c\"]]", "") == 0);
	CHECK(validate_sizes(&C, &ev, &why) == 0);
	event_free(&ev);
	C.max_tags = 64;
	big = malloc((size_t)C.max_prompt_bytes * 3 + 2000);
	REQUIRE(big != NULL);
	memset(big, 'x', (size_t)C.max_prompt_bytes * 3 + 1025);
	big[C.max_prompt_bytes * 3 + 1025] = '\0';
	REQUIRE(mkreq(&ev, 5050, NOW, "[]", big) == 0);
	CHECK(validate_sizes(&C, &ev, &why) == -1 && why == REJ_TOO_LARGE);
	event_free(&ev);
	free(big);
}

static int
parse(const char *tags_json, struct request *r, enum reject_reason *why, char *err)
{
	cJSON *tags = cJSON_Parse(tags_json);
	int rc;

	err[0] = '\0';
	rc = request_parse(tags, &C, r, why, err, 256);
	cJSON_Delete(tags);
	return rc;
}

TEST(params_clamped_and_defaults)
{
	struct request r;
	enum reject_reason why;
	char err[256];

	REQUIRE(parse("[[\"i\",\"q\",\"text\"]]", &r, &why, err) == 0);
	CHECK(r.max_tokens == C.max_tokens && r.temperature == C.temperature);
	CHECK(r.top_k == C.top_k && r.bid_msat == -1 && strcmp(r.model, C.model) == 0);
	request_free(&r);
	REQUIRE(parse("[[\"i\",\"q\",\"prompt\"],[\"param\",\"max_tokens\",\"100000\"],"
	    "[\"param\",\"temperature\",\"9\"],[\"param\",\"top-k\",\"0\"],"
	    "[\"param\",\"top-p\",\"1.5\"],[\"param\",\"frequency_penalty\",\"-7\"],"
	    "[\"param\",\"model\",\"gpt-99\"],[\"param\",\"unknown\",\"zzz\"]]", &r, &why, err) == 0);
	CHECK(r.max_tokens == C.max_tokens);
	CHECK(r.temperature == 2 && r.top_k == 1 && r.top_p == 1 && r.frequency_penalty == -2);
	CHECK(strcmp(r.asked_model, "gpt-99") == 0 && strcmp(r.model, C.model) == 0);
	request_free(&r);
	REQUIRE(parse("[[\"i\",\"q\"],[\"param\",\"max_tokens\",\"7\"],[\"param\",\"top_k\",\"5\"]]",
	    &r, &why, err) == 0);
	CHECK(r.max_tokens == 7 && r.top_k == 5 && r.nin == 1 && strcmp(r.in[0].text, "q") == 0);
	request_free(&r);
}

TEST(bad_params_and_bids)
{
	struct request r;
	enum reject_reason why;
	char err[256];

	CHECK(parse("[[\"i\",\"q\"],[\"param\",\"temperature\",\"warm\"]]", &r, &why, err) == -1);
	CHECK(why == REJ_BAD_PARAM && strstr(err, "temperature") != NULL);
	CHECK(parse("[[\"i\",\"q\"],[\"param\",\"max_tokens\",\"1e999\"]]", &r, &why, err) == -1);
	CHECK(parse("[[\"i\",\"q\"],[\"param\",\"top_p\",\" 1\"]]", &r, &why, err) == -1);
	CHECK(parse("[[\"i\",\"q\"],[\"bid\",\"-5\"]]", &r, &why, err) == -1 && why == REJ_BAD_PARAM);
	CHECK(parse("[[\"i\",\"q\"],[\"bid\",\"12abc\"]]", &r, &why, err) == -1);
	REQUIRE(parse("[[\"i\",\"q\"],[\"bid\",\"21000\"]]", &r, &why, err) == 0);
	CHECK(r.bid_msat == 21000);
	request_free(&r);
}

TEST(inputs)
{
	struct request r;
	enum reject_reason why;
	char err[256], tags[512];
	int i;

	CHECK(parse("[[\"param\",\"model\",\"x\"]]", &r, &why, err) == -1 && why == REJ_NO_INPUT);
	CHECK(parse("[[\"i\",\"https://x\",\"url\"]]", &r, &why, err) == -1 && why == REJ_BAD_INPUT);
	CHECK(strstr(err, "url") != NULL);
	CHECK(parse("[[\"i\",\"nothex\",\"event\"]]", &r, &why, err) == -1 && why == REJ_BAD_INPUT);
	snprintf(tags, sizeof(tags), "[[\"i\",\"%s\",\"job\",\"wss://r.example\"],[\"i\",\"t\",\"text\"]]",
	    them.pkhex);
	REQUIRE(parse(tags, &r, &why, err) == 0);
	CHECK(r.nin == 2 && r.in[0].ref == 2 && strcmp(r.in[0].relay, "wss://r.example") == 0);
	CHECK(r.in[0].text == NULL && r.in[1].ref == 0);
	request_free(&r);
	strcpy(tags, "[");
	for (i = 0; i <= JOBD_MAX_INPUTS; i++)
		strcat(tags, i ? ",[\"i\",\"x\"]" : "[\"i\",\"x\"]");
	strcat(tags, "]");
	CHECK(parse(tags, &r, &why, err) == -1 && why == REJ_BAD_INPUT);
}

TEST(relays_tag_multi_and_comma)
{
	struct request r;
	enum reject_reason why;
	char err[256];

	REQUIRE(parse("[[\"i\",\"q\"],[\"relays\",\"wss://a.example\",\"wss://b.example, "
	    "wss://c.example\",\"http://no\",\"wss://a.example\"]]", &r, &why, err) == 0);
	CHECK(r.nrelays == 3);
	CHECK(r.nrelays == 3 && strcmp(r.relays[0], "wss://a.example") == 0 &&
	    strcmp(r.relays[1], "wss://b.example") == 0 && strcmp(r.relays[2], "wss://c.example") == 0);
	request_free(&r);
}

TEST(relays_no_plain_ws_to_strangers)
{
	struct request r;
	enum reject_reason why;
	char err[256], *saved = C.relays.v[0], tags[400];
	char ours[] = "ws://127.0.0.1:7777";

	C.relays.v[0] = ours;
	REQUIRE(parse("[[\"i\",\"q\"],[\"relays\",\"ws://127.0.0.1:6379\",\"ws://10.0.0.1\","
	    "\"ws://127.0.0.1:7777\",\"wss://ok.example\"]]", &r, &why, err) == 0);
	CHECK(r.nrelays == 2 && strcmp(r.relays[0], "ws://127.0.0.1:7777") == 0 &&
	    strcmp(r.relays[1], "wss://ok.example") == 0);
	request_free(&r);
	snprintf(tags, sizeof(tags), "[[\"i\",\"%s\",\"event\",\"ws://192.168.1.1\"],"
	    "[\"i\",\"%s\",\"event\",\"ws://127.0.0.1:7777\"]]", them.pkhex, them.pkhex);
	REQUIRE(parse(tags, &r, &why, err) == 0);
	CHECK(r.in[0].relay[0] == '\0' && strcmp(r.in[1].relay, "ws://127.0.0.1:7777") == 0);
	request_free(&r);
	C.relays.v[0] = saved;
}

/* wss:// hints naming this machine or a private network by address are dropped. */
TEST(relays_no_private_addresses)
{
	static const char *const refused[] = {
		"wss://127.0.0.1", "wss://127.0.0.1:6379/x", "wss://10.1.2.3", "wss://172.16.0.1",
		"wss://172.31.255.255", "wss://192.168.1.1", "wss://169.254.169.254/latest",
		"wss://100.64.0.1", "wss://0.0.0.0", "wss://224.0.0.1", "wss://198.18.0.1",
		"wss://localhost", "wss://LocalHost.:443", "wss://db.localhost", "wss://2130706433",
		"wss://127.1", "wss://0x7f.0.0.1", "wss://[::1]", "wss://[::1]:8080/",
		"wss://[fd00::1]", "wss://[fe80::1]", "wss://[::ffff:127.0.0.1]", "wss://[::]",
		"wss://user@relay.example", "wss://[::1", "wss://:443",
		/* local names and IPv6 forms that embed a private IPv4 address */
		"wss://localhost.localdomain", "wss://ip6-localhost", "wss://localhost6",
		"wss://ip6-loopback", "wss://localhost6.localdomain6", "wss://relay",
		"wss://printer.local", "wss://db.internal", "wss://nas.home.arpa",
		"wss://[::127.0.0.1]", "wss://[64:ff9b::a00:1]", "wss://[2002:7f00:1::]",
		"wss://[2002:c0a8:101::1]:443", "wss://[::ffff:a00:1]", "wss://[64:ff9b:1::8.8.8.8]",
		"wss://[2001::1]", "wss://[2001:db8::1]:443/", "wss://[ff02::1]", "wss://[fe80::1%25eth0]",
		"wss://[fec0::1]", "wss://192.0.2.1", "wss://203.0.113.9",
	};
	static const char *const allowed[] = {
		"wss://relay.example", "wss://8.8.8.8", "wss://172.32.0.1", "wss://100.128.0.1",
		"wss://[2606:4700::1111]:443/", "wss://localhost.example", "wss://10.example",
		"wss://relay.example/path?q=@x", "wss://[64:ff9b::808:808]", "wss://[2002:808:808::1]",
		"wss://[::ffff:8.8.8.8]", "wss://local.example",
	};
	struct request r;
	enum reject_reason why;
	char err[256], tags[256], me[200];
	size_t i;

	/* this machine's own name, however it is written */
	if (gethostname(me, sizeof(me) - 1) == 0 && strchr(me, '.') == NULL)
		strcat(me, ".");	/* a bare label is refused anyway; test the dotted form */
	me[sizeof(me) - 1] = '\0';
	snprintf(tags, sizeof(tags), "[[\"i\",\"q\"],[\"relays\",\"wss://%s:443\"]]", me);
	REQUIRE(parse(tags, &r, &why, err) == 0);
	CHECKF(r.nrelays == 0, "our own host name %s was allowed", me);
	request_free(&r);

	for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		snprintf(tags, sizeof(tags), "[[\"i\",\"q\"],[\"relays\",\"%s\"]]", refused[i]);
		REQUIRE(parse(tags, &r, &why, err) == 0);
		CHECKF(r.nrelays == 0, "%s was allowed", refused[i]);
		request_free(&r);
	}
	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		snprintf(tags, sizeof(tags), "[[\"i\",\"q\"],[\"relays\",\"%s\"]]", allowed[i]);
		REQUIRE(parse(tags, &r, &why, err) == 0);
		CHECKF(r.nrelays == 1, "%s was refused", allowed[i]);
		request_free(&r);
	}
}

TEST(join_inputs)
{
	struct request r;
	enum reject_reason why;
	char err[256], *p = NULL;

	REQUIRE(parse("[[\"i\",\"one\"],[\"i\",\"two\",\"text\"]]", &r, &why, err) == 0);
	REQUIRE(request_join(&r, 100, &p, err, sizeof(err)) == 0);
	CHECK(strcmp(p, "one\n\ntwo") == 0);
	free(p);
	CHECK(request_join(&r, 7, &p, err, sizeof(err)) == -1 && strstr(err, "too large"));
	request_free(&r);
	REQUIRE(parse("[[\"i\",\"\"]]", &r, &why, err) == 0);
	CHECK(request_join(&r, 100, &p, err, sizeof(err)) == -1);
	request_free(&r);
}

static int
decrypt_with(const char *content, enum job_enc *enc, cJSON **tags, char *err)
{
	struct event ev;
	char t[200];
	int rc;

	snprintf(t, sizeof(t), "[[\"p\",\"%s\"],[\"encrypted\"]]", us.pkhex);
	if (mkreq(&ev, 5050, NOW, t, content) == -1)
		return -2;
	rc = request_decrypt(&ev, &us, enc, tags, err, 256);
	event_free(&ev);
	return rc;
}

TEST(encrypted_nip04_and_nip44)
{
	const char *inner = "[[\"i\",\"secret\",\"text\"],[\"param\",\"max_tokens\",\"9\"]]";
	char *payload = NULL, err[256];
	uint8_t ck[32];
	enum job_enc enc;
	cJSON *tags = NULL;
	struct request r;
	enum reject_reason why;

	REQUIRE(nip04_encrypt(them.sk, us.pk, inner, strlen(inner), &payload) == 0);
	REQUIRE(decrypt_with(payload, &enc, &tags, err) == 0);
	CHECK(enc == ENC_NIP04 && cJSON_GetArraySize(tags) == 4);
	REQUIRE(request_parse(tags, &C, &r, &why, err, sizeof(err)) == 0);
	CHECK(r.nin == 1 && strcmp(r.in[0].text, "secret") == 0 && r.max_tokens == 9);
	request_free(&r);
	cJSON_Delete(tags);
	free(payload);

	REQUIRE(nip44_conversation_key(them.sk, us.pk, ck) == 0);
	REQUIRE(nip44_encrypt(ck, inner, strlen(inner), NULL, &payload) == 0);
	REQUIRE(decrypt_with(payload, &enc, &tags, err) == 0);
	CHECK(enc == ENC_NIP44 && cJSON_GetArraySize(tags) == 4);
	cJSON_Delete(tags);
	free(payload);

	/* garbage, and a readable payload that is not a tag array */
	CHECK(decrypt_with("bm90IGEgcGF5bG9hZA==", &enc, &tags, err) == -1 && tags == NULL);
	REQUIRE(nip44_encrypt(ck, "{\"i\":1}", 7, NULL, &payload) == 0);
	CHECK(decrypt_with(payload, &enc, &tags, err) == -1 && strstr(err, "array of tags"));
	free(payload);
	REQUIRE(nip04_encrypt(them.sk, us.pk, "[[1,2]]", 7, &payload) == 0);
	CHECK(decrypt_with(payload, &enc, &tags, err) == -1);
	free(payload);
}

TEST(reason_names_unique)
{
	int i, k;

	for (i = 0; i < REJ__COUNT; i++) {
		CHECK(strcmp(reject_name(i), "unknown") != 0);
		for (k = 0; k < i; k++)
			CHECK(strcmp(reject_name(i), reject_name(k)) != 0);
	}
}

int
main(void)
{
	char err[256];

	if (conf_load(&C, NULL, err, sizeof(err)) == -1 || keys_generate(&us) == -1 ||
	    keys_generate(&them) == -1) {
		printf("FAIL: test_jobd_validate.c: setup: %s\n", err);
		return 1;
	}
	RUN(accepts_plain_request);
	RUN(rejects_other_kind);
	RUN(rejects_stale_and_future);
	RUN(rejects_expired);
	RUN(targeting);
	RUN(size_caps);
	RUN(params_clamped_and_defaults);
	RUN(bad_params_and_bids);
	RUN(inputs);
	RUN(relays_tag_multi_and_comma);
	RUN(relays_no_plain_ws_to_strangers);
	RUN(relays_no_private_addresses);
	RUN(join_inputs);
	RUN(encrypted_nip04_and_nip44);
	RUN(reason_names_unique);
	conf_free(&C);
	T_DONE();
}

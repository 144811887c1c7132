/*
 * test_event.c: NIP-01 events: the id/signature vectors of
 * shared/docs/nostr-specs.md §1.2 (the NIP-13 example and the escaping
 * vector), strict parsing (every malformed shape we know of is refused
 * with a reason), building and signing, and output JSON round trips.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "event.h"
#include "keys.h"
#include "t.h"

static const char nip13_json[] =
    "{\"id\":\"000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358\","
    "\"pubkey\":\"a48380f4cfcc1ad5378294fcac36439770f9c878dd880ffa94bb74ea54a6f243\","
    "\"created_at\":1651794653,\"kind\":1,\"tags\":[[\"nonce\",\"776797\",\"20\"]],"
    "\"content\":\"It's just me mining my own business\","
    "\"sig\":\"284622fc0a3f4f1303455d5175f7ba962a3300d136085b9566801bc2e0699de0"
    "c7e31e44c81fb40ad9049173742e904713c3594a1da0fc5d2382a25c11aba977\"}";

static const char nip13_ser[] =
    "[0,\"a48380f4cfcc1ad5378294fcac36439770f9c878dd880ffa94bb74ea54a6f243\",1651794653,1,"
    "[[\"nonce\",\"776797\",\"20\"]],\"It's just me mining my own business\"]";

/* The escaping vector: content and its expected serialization (hex). */
static const char esc_content[] =
    "l1\nl2\t\"q\" \\ \r\b\f \xc3\xa9 \xf0\x9f\x98\x80 \x01\x1f /\x7f";
static const char esc_ser_hex[] =
    "5b302c2237396265363637656639646362626163353561303632393563653837306230373032396266"
    "636462326463653238643935396632383135623136663831373938222c313730303030303030302c"
    "353035302c5b5b2269222c227768617420697320746865206361706974616c206f66204672616e63"
    "653f20222c2274657874225d2c5b22706172616d222c226d61785f746f6b656e73222c2235313222"
    "5d2c5b226f7574707574222c22746578742f706c61696e225d5d2c226c315c6e6c325c745c22715c"
    "22205c5c205c725c625c6620c3a920f09f9880205c75303030315c7530303166202f7f225d";
static const char esc_id[] = "d0d154197abf8dad39713a4360ed2be37e498471804067df38423e673b7f2eaa";
static const char esc_sig[] =
    "30dad9f7baebaea1f76e459e4106f1caa6bb59eb6a2f0fa6f1d4e58e093bfda9"
    "82efadcfe4e47793255f6f8a31b202f8ab71efb6e5d8e5ea067b67fc091a1488";

static int
parse(struct event *ev, const char *json, char *err)
{
	return event_parse(ev, json, strlen(json), err, 128);
}

TEST(nip13_vector)
{
	struct event ev;
	char err[128], *ser;
	size_t len;

	REQUIRE(parse(&ev, nip13_json, err) == 0);
	REQUIRE(event_serialize(&ev, &ser, &len) == 0);
	CHECK(len == strlen(nip13_ser) && strcmp(ser, nip13_ser) == 0);
	free(ser);
	CHECK(event_id_ok(&ev));
	CHECK(event_verify(&ev) == 0);
	CHECK(strcmp(ev.idhex, "000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358") == 0);
	/* A changed content breaks the id; a changed sig breaks the signature. */
	ev.content[0] = 'i';
	CHECK(!event_id_ok(&ev) && event_verify(&ev) == -1);
	ev.content[0] = 'I';
	ev.sig[5] ^= 1;
	CHECK(event_id_ok(&ev) && event_verify(&ev) == -1);
	event_free(&ev);
}

/* Build the escaping vector, check the bytes, id and zero-aux signature. */
TEST(escaping_vector)
{
	uint8_t sk[32] = { 0 }, aux[32] = { 0 }, sig[64], want[400];
	struct keypair kp;
	struct event ev;
	char *ser, hex[129];
	size_t len, wlen = strlen(esc_ser_hex) / 2;

	sk[31] = 1;
	REQUIRE(keys_from_secret(&kp, sk) == 0);
	REQUIRE(hex_decode(esc_ser_hex, strlen(esc_ser_hex), want, wlen) == 0);
	REQUIRE(event_init(&ev, 5050, esc_content, 1700000000) == 0);
	REQUIRE(event_add_tagv(&ev, "i", "what is the capital of France? ", "text", NULL) == 0);
	REQUIRE(event_add_tagv(&ev, "param", "max_tokens", "512", NULL) == 0);
	REQUIRE(event_add_tagv(&ev, "output", "text/plain", NULL, NULL) == 0);
	REQUIRE(event_sign(&ev, &kp) == 0);
	REQUIRE(event_serialize(&ev, &ser, &len) == 0);
	CHECK(len == wlen && memcmp(ser, want, wlen) == 0);
	free(ser);
	CHECK(strcmp(ev.idhex, esc_id) == 0);
	CHECK(event_verify(&ev) == 0);
	REQUIRE(bip340_sign32(sk, ev.id, aux, sig) == 0);
	hex_encode(sig, 64, hex);
	CHECK(strcmp(hex, esc_sig) == 0);
	event_free(&ev);
	keys_wipe(&kp);
}

/* event_to_json output parses back to the same event, still valid. */
TEST(json_round_trip)
{
	struct keypair kp;
	struct event ev, back;
	char *json, err[128];
	cJSON *o;

	REQUIRE(keys_generate(&kp) == 0);
	REQUIRE(event_init(&ev, 7000, esc_content, 0) == 0);
	REQUIRE(event_add_tagv(&ev, "status", "processing", "w\xc3\xa4it \"\\\x01", NULL) == 0);
	REQUIRE(event_sign(&ev, &kp) == 0);
	REQUIRE((json = event_to_json(&ev)) != NULL);
	CHECKF(parse(&back, json, err) == 0, "%s", err);
	CHECK(event_verify(&back) == 0);
	CHECK(strcmp(back.content, esc_content) == 0 && back.created_at == ev.created_at);
	CHECK(strcmp(tag_item(event_tag_find(&back, "status"), 2), "w\xc3\xa4it \"\\\x01") == 0);
	event_free(&back);
	free(json);
	REQUIRE((o = event_to_cjson(&ev)) != NULL);
	CHECKF(event_from_cjson(&back, o, err, sizeof(err)) == 0, "%s", err);
	CHECK(event_verify(&back) == 0);
	event_free(&back);
	cJSON_Delete(o);
	event_free(&ev);
	keys_wipe(&kp);
}

struct bad {
	const char	*why;
	const char	*json;
};

#define ID "\"id\":\"000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd358\""
#define PK "\"pubkey\":\"a48380f4cfcc1ad5378294fcac36439770f9c878dd880ffa94bb74ea54a6f243\""
#define SG "\"sig\":\"284622fc0a3f4f1303455d5175f7ba962a3300d136085b9566801bc2e0699de0" \
	   "c7e31e44c81fb40ad9049173742e904713c3594a1da0fc5d2382a25c11aba977\""
#define CA "\"created_at\":1651794653"
#define KI "\"kind\":1"
#define TG "\"tags\":[]"
#define CO "\"content\":\"x\""
#define EV(a, b, c, d, e, f, g) "{" a "," b "," c "," d "," e "," f "," g "}"

static const struct bad bads[] = {
	{ "bad id: uppercase", EV("\"id\":\"000006D8C378AF1779D2FEEBC7603A125D99ECA0CCF1085959B307F64E5DD358\"", PK, SG, CA, KI, TG, CO) },
	{ "bad id: short", EV("\"id\":\"000006d8\"", PK, SG, CA, KI, TG, CO) },
	{ "bad id: 65 chars", EV("\"id\":\"000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd3580\"", PK, SG, CA, KI, TG, CO) },
	{ "bad id: not hex", EV("\"id\":\"000006d8c378af1779d2feebc7603a125d99eca0ccf1085959b307f64e5dd35g\"", PK, SG, CA, KI, TG, CO) },
	{ "bad id: number", EV("\"id\":1", PK, SG, CA, KI, TG, CO) },
	{ "bad pubkey: 63", EV(ID, "\"pubkey\":\"a48380f4cfcc1ad5378294fcac36439770f9c878dd880ffa94bb74ea54a6f24\"", SG, CA, KI, TG, CO) },
	{ "bad sig: 64 chars", EV(ID, PK, "\"sig\":\"284622fc0a3f4f1303455d5175f7ba962a3300d136085b9566801bc2e0699de0\"", CA, KI, TG, CO) },
	{ "bad created_at: float", EV(ID, PK, SG, "\"created_at\":1651794653.5", KI, TG, CO) },
	{ "bad created_at: 1.0", EV(ID, PK, SG, "\"created_at\":1651794653.0", KI, TG, CO) },
	{ "bad created_at: exponent", EV(ID, PK, SG, "\"created_at\":1e9", KI, TG, CO) },
	{ "bad created_at: negative", EV(ID, PK, SG, "\"created_at\":-1", KI, TG, CO) },
	{ "bad created_at: leading zero", EV(ID, PK, SG, "\"created_at\":0123", KI, TG, CO) },
	{ "bad created_at: 2^53", EV(ID, PK, SG, "\"created_at\":9007199254740992", KI, TG, CO) },
	{ "bad created_at: huge", EV(ID, PK, SG, "\"created_at\":99999999999999999999999", KI, TG, CO) },
	{ "bad created_at: string", EV(ID, PK, SG, "\"created_at\":\"1651794653\"", KI, TG, CO) },
	{ "bad kind: 70000", EV(ID, PK, SG, CA, "\"kind\":70000", TG, CO) },
	{ "bad kind: 65536", EV(ID, PK, SG, CA, "\"kind\":65536", TG, CO) },
	{ "bad kind: float", EV(ID, PK, SG, CA, "\"kind\":1.5", TG, CO) },
	{ "bad kind: negative", EV(ID, PK, SG, CA, "\"kind\":-1", TG, CO) },
	{ "bad kind: null", EV(ID, PK, SG, CA, "\"kind\":null", TG, CO) },
	{ "tags: object", EV(ID, PK, SG, CA, KI, "\"tags\":{}", CO) },
	{ "tags: not arrays", EV(ID, PK, SG, CA, KI, "\"tags\":[\"e\"]", CO) },
	{ "tags: item number", EV(ID, PK, SG, CA, KI, "\"tags\":[[\"e\",1]]", CO) },
	{ "tags: item null", EV(ID, PK, SG, CA, KI, "\"tags\":[[\"e\",null]]", CO) },
	{ "tags: nested array", EV(ID, PK, SG, CA, KI, "\"tags\":[[[\"e\"]]]", CO) },
	{ "tags: empty tag", EV(ID, PK, SG, CA, KI, "\"tags\":[[]]", CO) },
	{ "content: number", EV(ID, PK, SG, CA, KI, TG, "\"content\":5") },
	{ "content: null", EV(ID, PK, SG, CA, KI, TG, "\"content\":null") },
	{ "content: \\u0000", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"a\\u0000b\"") },
	{ "tag: \\u0000", EV(ID, PK, SG, CA, KI, "\"tags\":[[\"a\\u0000\"]]", CO) },
	{ "content: lone high surrogate", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\\ud800\"") },
	{ "content: lone low surrogate", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\\udc00x\"") },
	{ "content: high then non-low", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\\ud800\\u0041\"") },
	{ "content: invalid UTF-8", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\xff\"") },
	{ "content: overlong UTF-8", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\xc0\xaf\"") },
	{ "content: raw surrogate UTF-8", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\xed\xa0\x80\"") },
	{ "content: truncated UTF-8", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\xe2\x82\"") },
	{ "content: raw control char", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"a\nb\"") },
	{ "content: bad escape", EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\\x\"") },
	{ "missing sig", "{" ID "," PK "," CA "," KI "," TG "," CO "}" },
	{ "missing content", "{" ID "," PK "," SG "," CA "," KI "," TG "}" },
	{ "duplicate id", "{" ID "," ID "," PK "," SG "," CA "," KI "," TG "," CO "}" },
	{ "duplicate content", "{" ID "," PK "," SG "," CA "," KI "," TG "," CO ",\"content\":\"y\"}" },
	{ "duplicate kind", "{" ID "," PK "," SG "," CA "," KI "," TG "," CO ",\"kind\":2}" },
	{ "array not object", "[" ID "]" },
	{ "float in an unknown key", "{\"x\":1.5," ID "," PK "," SG "," CA "," KI "," TG "," CO "}" },
	{ "trailing garbage", EV(ID, PK, SG, CA, KI, TG, CO) "x" },
	{ "two objects", EV(ID, PK, SG, CA, KI, TG, CO) EV(ID, PK, SG, CA, KI, TG, CO) },
	{ "truncated", "{" ID "," PK },
	{ "empty", "" },
};

TEST(parse_rejections)
{
	struct event ev;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		err[0] = '\0';
		CHECKF(parse(&ev, bads[i].json, err) == -1, "accepted: %s", bads[i].why);
		CHECKF(err[0] != '\0', "no reason for: %s", bads[i].why);
	}
}

/* Shapes that must be accepted: unknown keys, escapes, any key order, whitespace. */
TEST(parse_accepts)
{
	static const char *const goods[] = {
		EV(ID, PK, SG, CA, KI, TG, CO),
		"{\"extra\":{\"x\":[1,\"y\",true,null]}," ID "," PK "," SG "," CA "," KI "," TG "," CO "}",
		"\r\n {" CO " , " TG "," KI "," CA "," SG "," PK "," ID "}\n",
		EV(ID, PK, SG, "\"created_at\":0", "\"kind\":65535", TG, CO),
		EV(ID, PK, SG, CA, KI, TG, "\"content\":\"\\ud83d\\ude00 \\u00e9 \\/ \\\" \\\\ \\b\\f\\n\\r\\t\\u001f\""),
		EV(ID, PK, SG, CA, KI, "\"tags\":[[\"e\"],[\"p\",\"\",\"\\u00e9\"]]", "\"content\":\"\""),
	};
	struct event ev;
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		CHECKF(parse(&ev, goods[i], err) == 0, "case %zu refused: %s", i, err);
		event_free(&ev);
	}
	REQUIRE(parse(&ev, goods[4], err) == 0);
	CHECK(strcmp(ev.content, "\xf0\x9f\x98\x80 \xc3\xa9 / \" \\ \b\f\n\r\t\x1f") == 0);
	event_free(&ev);
}

TEST(limits)
{
	struct event ev;
	char err[128], *big;
	size_t i, n;

	/* One byte over EVENT_MAX_JSON is refused before parsing. */
	n = EVENT_MAX_JSON + 1;
	REQUIRE((big = malloc(n + 1)) != NULL);
	memset(big, ' ', n);
	big[n] = '\0';
	CHECK(event_parse(&ev, big, n, err, sizeof(err)) == -1);
	free(big);
	/* EVENT_MAX_TAGS + 1 tags. */
	REQUIRE((big = malloc(8 * (EVENT_MAX_TAGS + 1) + 1024)) != NULL);
	strcpy(big, "{" ID "," PK "," SG "," CA "," KI "," CO ",\"tags\":[");
	for (i = 0; i <= EVENT_MAX_TAGS; i++)
		strcat(big, i ? ",[\"a\"]" : "[\"a\"]");
	strcat(big, "]}");
	CHECK(parse(&ev, big, err) == -1 && strstr(err, "tags") != NULL);
	free(big);
	/* A tag of EVENT_MAX_TAG_ITEMS + 1 items. */
	REQUIRE((big = malloc(8 * (EVENT_MAX_TAG_ITEMS + 1) + 1024)) != NULL);
	strcpy(big, "{" ID "," PK "," SG "," CA "," KI "," CO ",\"tags\":[[");
	for (i = 0; i <= EVENT_MAX_TAG_ITEMS; i++)
		strcat(big, i ? ",\"a\"" : "\"a\"");
	strcat(big, "]]}");
	CHECK(parse(&ev, big, err) == -1 && strstr(err, "tags") != NULL);
	free(big);
}

TEST(build_refuses_bad_input)
{
	struct event ev;
	const char *bad_item[] = { "e", "\xff" };
	const char *null_item[] = { "e", NULL };

	CHECK(event_init(&ev, 70000, "x", 1) == -1);
	CHECK(event_init(&ev, -1, "x", 1) == -1);
	CHECK(event_init(&ev, 1, "\xc3", 1) == -1);
	REQUIRE(event_init(&ev, 1, "ok", 1) == 0);
	CHECK(event_add_tag(&ev, bad_item, 2) == -1);
	CHECK(event_add_tag(&ev, null_item, 2) == -1);
	CHECK(event_add_tag(&ev, bad_item, 0) == -1);
	CHECK(event_add_tagv(&ev, "e", "x", NULL, NULL) == 0);
	CHECK(cJSON_GetArraySize(ev.tags) == 1);
	CHECK(event_tag_find(&ev, "e") != NULL && event_tag_find(&ev, "p") == NULL);
	CHECK(tag_item(event_tag_find(&ev, "e"), 1) != NULL && tag_item(event_tag_find(&ev, "e"), 2) == NULL);
	event_free(&ev);
	event_free(&ev);	/* idempotent */
}

TEST(utf8)
{
	CHECK(utf8_valid("", 0));
	CHECK(utf8_valid("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 14));
	CHECK(!utf8_valid("a\0b", 3));
	CHECK(utf8_check("a\0b", 3, 1));
	CHECK(!utf8_valid("\xc1\xbf", 2));		/* overlong */
	CHECK(!utf8_valid("\xe0\x9f\xbf", 3));		/* overlong */
	CHECK(!utf8_valid("\xf0\x8f\xbf\xbf", 4));	/* overlong */
	CHECK(!utf8_valid("\xed\xbf\xbf", 3));		/* surrogate */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4));	/* > U+10FFFF */
	CHECK(!utf8_valid("\xf5\x80\x80\x80", 4));
	CHECK(!utf8_valid("\x80", 1));
	CHECK(!utf8_valid("\xf0\x9f\x98", 3));		/* truncated */
	CHECK(json_text_check("[\"\\u0000\"]", 10, NULL, 0) == -1);
	CHECK(json_text_check("[\"a\",1.5e3]", 11, NULL, 0) == 0);
}

/* event_from_cjson gets objects built by callers: numbers must still be integral. */
TEST(from_cjson_checks)
{
	struct event ev;
	char err[128];
	cJSON *o, *root;

	REQUIRE((root = cJSON_Parse(nip13_json)) != NULL);
	CHECKF(event_from_cjson(&ev, root, err, sizeof(err)) == 0, "%s", err);
	CHECK(event_verify(&ev) == 0);
	event_free(&ev);
	REQUIRE((o = cJSON_Duplicate(root, 1)) != NULL);
	cJSON_ReplaceItemInObject(o, "kind", cJSON_CreateNumber(1.5));
	CHECK(event_from_cjson(&ev, o, err, sizeof(err)) == -1 && strcmp(err, "bad kind") == 0);
	cJSON_ReplaceItemInObject(o, "kind", cJSON_CreateNumber(1));
	cJSON_ReplaceItemInObject(o, "created_at", cJSON_CreateNumber(1e300));
	CHECK(event_from_cjson(&ev, o, err, sizeof(err)) == -1 && strcmp(err, "bad created_at") == 0);
	cJSON_ReplaceItemInObject(o, "created_at", cJSON_CreateNumber(-0.5));
	CHECK(event_from_cjson(&ev, o, err, sizeof(err)) == -1);
	cJSON_ReplaceItemInObject(o, "created_at", cJSON_CreateNumber(1651794653));
	cJSON_ReplaceItemInObject(o, "tags", cJSON_CreateObject());
	CHECK(event_from_cjson(&ev, o, err, sizeof(err)) == -1 && strstr(err, "tags") != NULL);
	cJSON_ReplaceItemInObject(o, "tags", cJSON_CreateArray());
	cJSON_AddItemToObject(o, "id", cJSON_CreateString("x"));	/* a second id */
	CHECK(event_from_cjson(&ev, o, err, sizeof(err)) == -1 && strstr(err, "duplicate") != NULL);
	CHECK(event_from_cjson(&ev, cJSON_GetObjectItem(o, "tags"), err, sizeof(err)) == -1);
	CHECK(event_from_cjson(&ev, NULL, err, sizeof(err)) == -1);
	cJSON_Delete(o);
	cJSON_Delete(root);
}

/* json_text_check: what relayd must run over a whole relay message. */
TEST(json_text_check_messages)
{
	static const char *const ok[] = {
		"[\"EVENT\",\"s\",{\"content\":\"\\ud83d\\ude00 \\n\",\"kind\":1.5e3}]",
		"[\"OK\",\"ab\",true,\"\"]",
		"[\"NOTICE\",\"caf\xc3\xa9\"]",
	};
	static const char *const bad[] = {
		"[\"EVENT\",\"s\",{\"content\":\"a\\u0000\"}]",
		"[\"NOTICE\",\"\\udfff\"]",
		"[\"NOTICE\",\"\\ud83d\"]",
		"[\"NOTICE\",\"caf\xe9\"]",
		"[\"NOTICE\",\"a\tb\"]",
		"[\"NOTICE\",\"\\u12\"]",
		"[\"NOTICE\"]\xc3\xa9",
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		CHECKF(json_text_check(ok[i], strlen(ok[i]), err, sizeof(err)) == 0, "ok %zu: %s", i, err);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CHECKF(json_text_check(bad[i], strlen(bad[i]), err, sizeof(err)) == -1 && err[0] != '\0',
		    "bad %zu accepted", i);
	}
	/* Length-bounded: a NUL byte inside the given length is refused. */
	CHECK(json_text_check("[\"a\"]\0", 6, err, sizeof(err)) == -1);
}

int
main(void)
{
	RUN(nip13_vector);
	RUN(escaping_vector);
	RUN(json_round_trip);
	RUN(parse_rejections);
	RUN(parse_accepts);
	RUN(limits);
	RUN(build_refuses_bad_input);
	RUN(utf8);
	RUN(from_cjson_checks);
	RUN(json_text_check_messages);
	T_DONE();
}

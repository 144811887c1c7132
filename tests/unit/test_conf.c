/*
 * test_conf.c: dvm.conf parsing: defaults, every error path (each naming
 * file, line and key), environment overrides, derived values, comments
 * and quoting, and the example file against the key table.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conf.h"
#include "t.h"

static char tmpl[] = "/tmp/test_conf.XXXXXX";
static char path[64];

/* Write text to a fresh temp file and load it. */
static int
load(struct conf *c, const char *text, char *err, size_t errlen)
{
	FILE *f;
	int fd, rc;

	snprintf(path, sizeof(path), "%s", tmpl);
	if ((fd = mkstemp(path)) == -1 || (f = fdopen(fd, "w")) == NULL)
		return -2;
	fputs(text, f);
	fclose(f);
	err[0] = '\0';
	rc = conf_load(c, path, err, errlen);
	unlink(path);
	return rc;
}

/* Loading text fails, and err is "PATH:line: want". */
static int
fails_with(const char *text, const char *want)
{
	struct conf c;
	char err[512], full[600];

	if (load(&c, text, err, sizeof(err)) != -1) {
		conf_free(&c);
		return 0;
	}
	snprintf(full, sizeof(full), "%s:%s", path, want);
	if (strcmp(err, full) != 0) {
		fprintf(stderr, "got  %s\nwant %s\n", err, full);
		return 0;
	}
	return 1;
}

TEST(defaults)
{
	struct conf c;
	char err[256];

	REQUIRE(conf_load(&c, NULL, err, sizeof(err)) == 0);
	CHECK(strcmp(c.state_dir, "./var") == 0);
	CHECK(strcmp(c.log_level, "info") == 0);
	CHECK(c.relays.n == 4 && strcmp(c.relays.v[0], "wss://relay.damus.io") == 0 &&
	    strcmp(c.relays.v[3], "wss://relay.nostr.band") == 0);
	CHECK(c.njob_kinds == 1 && c.job_kinds[0] == 5050);
	CHECK(c.require_p_tag == 0 && c.start_online == 1 && c.partial_results == 0);
	CHECK(c.max_request_age == 120 && c.max_prompt_bytes == 16384);
	CHECK(c.infer_backend == BACKEND_OLLAMA);
	CHECK(c.infer_urls.n == 1 && strcmp(c.infer_urls.v[0], "http://127.0.0.1:11434") == 0);
	CHECK(strcmp(c.model, "llama3.2") == 0 && c.max_tokens == 512);
	CHECK(c.temperature == 0.7 && c.top_k == 40 && c.top_p == 0.9);
	CHECK(c.frequency_penalty == 0.5 && strcmp(c.keep_alive, "5m") == 0);
	CHECK(c.min_price_sats == 3 && c.price_per_1k_tokens == 2 && c.invoice_expiry == 3600);
	CHECK(c.quote_ttl == 600 && c.max_unpaid_quotes == 200 && c.max_unpaid_per_requester == 3);
	CHECK(c.wallet == WALLET_NONE && strcmp(c.lightning_network, "bitcoin") == 0);
	CHECK(strcmp(c.name, "sellcompute") == 0);
	CHECK(strcmp(c.about, "LLM text generation (kind 5050) served by sellcompute") == 0);
	CHECK(strcmp(c.privsep, "auto") == 0);
	CHECK(c.relay_max_frame == 262144 && c.dedupe_size == 100000);
	CHECK(strcmp(c.lnbits_url, "") == 0);
	CHECK(c.max_request_bytes == 49152 && c.max_event_bytes == 65536);
	CHECK(c.retain_days == 30 && c.retain_rejected_hours == 24);
	conf_free(&c);
}

/* Storage and size bounds (issue 13 point 6): set, and refused out of range. */
TEST(size_and_retention_keys)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c, "max_request_bytes = 300000\nmax_event_bytes = 131072\n"
	    "retain_days = 7\nretain_rejected_hours = 2\n", err, sizeof(err)) == 0);
	CHECK(c.max_request_bytes == 300000 && c.max_event_bytes == 131072);
	CHECK(c.retain_days == 7 && c.retain_rejected_hours == 2);
	conf_free(&c);
	CHECK(fails_with("max_event_bytes = 4095\n",
	    "1: max_event_bytes: bad value \"4095\" (an integer 4096..16777216)"));
	CHECK(fails_with("max_request_bytes = 1023\n",
	    "1: max_request_bytes: bad value \"1023\" (an integer 1024..16777216)"));
	CHECK(fails_with("retain_days = 0\n",
	    "1: retain_days: bad value \"0\" (an integer 1..36500)"));
	CHECK(fails_with("retain_rejected_hours = 0\n",
	    "1: retain_rejected_hours: bad value \"0\" (an integer 1..876000)"));
}

TEST(derived_defaults)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c, "state_dir = /srv/dvm\npayment_mode = before\n", err, sizeof(err)) == 0);
	CHECK(strcmp(c.secret_key_file, "/srv/dvm/key") == 0);
	CHECK(c.payment_mode == PAY_FREE);	/* wallet = none */
	conf_free(&c);
	REQUIRE(load(&c, "secret_key_file = /k\nwallet = lnbits\n"
	    "lnbits_url = https://lnbits.example\npayment_mode = before\n",
	    err, sizeof(err)) == 0);
	CHECK(strcmp(c.secret_key_file, "/k") == 0);
	CHECK(c.payment_mode == PAY_BEFORE && c.wallet == WALLET_LNBITS);
	conf_free(&c);
	REQUIRE(load(&c, "wallet = nwc\n", err, sizeof(err)) == 0);
	CHECK(c.payment_mode == PAY_AFTER);
	conf_free(&c);
	REQUIRE(load(&c, "wallet = lnd\nlnd_url = https://127.0.0.1:8080\n"
	    "lnd_macaroon_file = /m\nlnd_tls_cert_file = /c\n", err, sizeof(err)) == 0);
	CHECK(c.wallet == WALLET_LND && c.payment_mode == PAY_AFTER);
	CHECK(strcmp(c.lnd_url, "https://127.0.0.1:8080") == 0);
	CHECK(strcmp(c.lnd_macaroon_file, "/m") == 0 && strcmp(c.lnd_tls_cert_file, "/c") == 0);
	conf_free(&c);
	REQUIRE(load(&c, "wallet = lnd\nlnd_url = https://127.0.0.1:8080\npayment_mode = hold\n"
	    "hold_max_seconds = 120\n", err, sizeof(err)) == 0);
	CHECK(c.payment_mode == PAY_HOLD && c.hold_max_seconds == 120);
	conf_free(&c);
	REQUIRE(load(&c, "payment_mode = hold\n", err, sizeof(err)) == 0);
	CHECK(c.payment_mode == PAY_FREE && c.hold_max_seconds == 600);	/* wallet = none */
	conf_free(&c);
	CHECK(fails_with("hold_max_seconds = 29\n",
	    "1: hold_max_seconds: bad value \"29\" (an integer 30..3600)"));
	CHECK(fails_with("lnd_url = 127.0.0.1:8080\n",
	    "1: lnd_url: bad value \"127.0.0.1:8080\": not an http:// or https:// URL"));
}

TEST(values_of_every_type)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c,
	    "relays = wss://a.example ws://127.0.0.1:7000\n"
	    "job_kinds = 5050 5100\n"
	    "require_p_tag = TRUE\n"
	    "partial_results = on\n"
	    "start_online = 0\n"
	    "temperature = 1.25\n"
	    "frequency_penalty = -1\n"
	    "max_tokens = 2048\n"
	    "infer_backend = openai\n"
	    "wallet = spark\n"
	    "spark_url = unix:/run/spark.sock\n"
	    "lightning_network = regtest\n"
	    "privsep = no\n"
	    "log_level = debug\n", err, sizeof(err)) == 0);
	CHECK(c.relays.n == 2 && strcmp(c.relays.v[1], "ws://127.0.0.1:7000") == 0);
	CHECK(c.njob_kinds == 2 && c.job_kinds[1] == 5100);
	CHECK(c.require_p_tag == 1 && c.partial_results == 1 && c.start_online == 0);
	CHECK(c.temperature == 1.25 && c.frequency_penalty == -1 && c.max_tokens == 2048);
	CHECK(c.infer_backend == BACKEND_OPENAI && c.wallet == WALLET_SPARK);
	CHECK(strcmp(c.spark_url, "unix:/run/spark.sock") == 0);
	CHECK(strcmp(c.lightning_network, "regtest") == 0 && strcmp(c.privsep, "no") == 0);
	CHECK(strcmp(c.log_level, "debug") == 0);
	conf_free(&c);
}

TEST(comments_and_quoting)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c,
	    "# a comment line\n"
	    "   # an indented one\n"
	    "\n"
	    "   \t\n"
	    "model = mistral   # trailing comment\n"
	    "lnbits_url = https://h.example/path#frag\n"
	    "about = \"Fast #1 \\\"LLM\\\" \\\\ service \" # why quote\n"
	    "keep_alive=10m\r\n"
	    "name =    spaced name   \n", err, sizeof(err)) == 0);
	CHECK(strcmp(c.model, "mistral") == 0);
	CHECK(strcmp(c.lnbits_url, "https://h.example/path#frag") == 0);
	CHECK(strcmp(c.about, "Fast #1 \"LLM\" \\ service ") == 0);
	CHECK(strcmp(c.keep_alive, "10m") == 0);
	CHECK(strcmp(c.name, "spaced name") == 0);
	conf_free(&c);
}

TEST(error_unknown_key)
{
	CHECK(fails_with("model = x\nmodle = y\n", "2: modle: unknown key"));
}

TEST(error_bad_int)
{
	CHECK(fails_with("max_tokens = 12x\n",
	    "1: max_tokens: bad value \"12x\" (an integer 1..1000000)"));
	CHECK(fails_with("max_tokens =\n",
	    "1: max_tokens: bad value \"\" (an integer 1..1000000)"));
	CHECK(fails_with("max_tokens = 99999999999999999999\n",
	    "1: max_tokens: bad value \"99999999999999999999\" (an integer 1..1000000)"));
}

TEST(error_out_of_range)
{
	CHECK(fails_with("\nmax_tokens = 0\n",
	    "2: max_tokens: bad value \"0\" (an integer 1..1000000)"));
	CHECK(fails_with("quote_ttl = 4\n",
	    "1: quote_ttl: bad value \"4\" (an integer 5..86400)"));
	CHECK(fails_with("max_unpaid_quotes = 0\n",
	    "1: max_unpaid_quotes: bad value \"0\" (an integer 1..100000)"));
	CHECK(fails_with("max_unpaid_per_requester = 1001\n",
	    "1: max_unpaid_per_requester: bad value \"1001\" (an integer 1..1000)"));
	CHECK(fails_with("top_p = 1.5\n", "1: top_p: bad value \"1.5\" (a number 0..1)"));
	CHECK(fails_with("temperature = nan\n",
	    "1: temperature: bad value \"nan\" (a number 0..2)"));
}

TEST(error_bad_bool)
{
	CHECK(fails_with("require_p_tag = maybe\n",
	    "1: require_p_tag: bad value \"maybe\" (yes or no)"));
}

TEST(error_bad_enum)
{
	CHECK(fails_with("wallet = paypal\n",
	    "1: wallet: bad value \"paypal\" (none|lnbits|nwc|spark|lnd)"));
	CHECK(fails_with("payment_mode = later\n",
	    "1: payment_mode: bad value \"later\" (after|before|free|hold)"));
	CHECK(fails_with("infer_backend = vllm\n",
	    "1: infer_backend: bad value \"vllm\" (ollama|openai)"));
	CHECK(fails_with("privsep = maybe\n",
	    "1: privsep: bad value \"maybe\" (auto|yes|no)"));
}

TEST(error_bad_list_item)
{
	CHECK(fails_with("job_kinds = 5050 6050\n",
	    "1: job_kinds: bad item \"6050\" (an integer 5000..5999)"));
	CHECK(fails_with("relays = wss://ok.example https://no.example\n",
	    "1: relays: bad item \"https://no.example\": not a ws:// or wss:// URL"));
	CHECK(fails_with("infer_urls = \n", "1: infer_urls: empty list"));
}

/* The storefront keys (issue 15): defaults, values, and each bad value. */
TEST(storefront_keys)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c, "", err, sizeof(err)) == 0);
	CHECK(strcmp(c.models, "") == 0 && strcmp(c.models_exclude, "") == 0);
	CHECK(strcmp(c.model_prices, "") == 0 && strcmp(c.picture, "") == 0);
	CHECK(strcmp(c.lud16, "") == 0 && c.heartbeat_interval == 300);
	conf_free(&c);
	REQUIRE(load(&c, "models = llama3.2 qwen2.5:7b mistral\nmodels_exclude = *embed* *-cloud\n"
	    "model_prices = qwen2.5:7b=5/4 mistral=3/1.5\npicture = https://x.example/a.png\n"
	    "lud16 = dvm@x.example\nheartbeat_interval = 60\n", err, sizeof(err)) == 0);
	CHECK(strcmp(c.models, "llama3.2 qwen2.5:7b mistral") == 0);
	CHECK(strcmp(c.models_exclude, "*embed* *-cloud") == 0);
	CHECK(strcmp(c.model_prices, "qwen2.5:7b=5/4 mistral=3/1.5") == 0);
	CHECK(strcmp(c.picture, "https://x.example/a.png") == 0 && strcmp(c.lud16, "dvm@x.example") == 0);
	CHECK(c.heartbeat_interval == 60);
	conf_free(&c);
	CHECK(fails_with("\nmodel_prices = a=1/2 mistral=3\n",
	    "2: model_prices: bad value \"a=1/2 mistral=3\": want NAME=MIN/PER1K ... (sats; MIN whole, PER1K may have a fraction, "
	    "e.g. qwen2.5:7b=5/4 mistral=3/1.5)"));
	CHECK(fails_with("model_prices = a=1.5/2\n",
	    "1: model_prices: bad value \"a=1.5/2\": want NAME=MIN/PER1K ... (sats; MIN whole, PER1K may have a fraction, "
	    "e.g. qwen2.5:7b=5/4 mistral=3/1.5)"));
	CHECK(fails_with("heartbeat_interval = 5\n",
	    "1: heartbeat_interval: bad value \"5\" (an integer 10..86400)"));
	CHECK(fails_with("picture = ftp://x\n",
	    "1: picture: bad value \"ftp://x\": not an http:// or https:// URL"));
}

TEST(error_too_many_list_items)
{
	char buf[CONF_MAX_LINE];
	size_t o;
	int i;

	o = (size_t)snprintf(buf, sizeof(buf), "job_kinds =");
	for (i = 0; i <= CONF_MAX_LIST; i++)
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, " %d", 5000 + i);
	snprintf(buf + o, sizeof(buf) - o, "\n");
	CHECK(fails_with(buf, "1: job_kinds: more than 64 items"));
}

TEST(error_duplicate_key)
{
	CHECK(fails_with("model = a\n# x\nmodel = b\n", "3: model: duplicate key"));
}

TEST(error_missing_equals)
{
	CHECK(fails_with("model llama3\n", "1: model: missing '='"));
	CHECK(fails_with("= x\n", "1: expected key = value"));
}

TEST(error_line_too_long)
{
	char *buf = malloc(CONF_MAX_LINE + 64);

	REQUIRE(buf != NULL);
	memcpy(buf, "about = ", 8);
	memset(buf + 8, 'a', CONF_MAX_LINE);
	strcpy(buf + 8 + CONF_MAX_LINE, "\n");
	CHECK(fails_with(buf, "1: line longer than 4096 bytes"));
	free(buf);
}

TEST(error_value_too_long)
{
	char buf[CONF_MAX_STR + 64];

	memcpy(buf, "about = ", 8);
	memset(buf + 8, 'a', CONF_MAX_STR + 1);
	strcpy(buf + 8 + CONF_MAX_STR + 1, "\n");
	CHECK(fails_with(buf, "1: about: value longer than 1024 bytes"));
}

TEST(error_unterminated_quote)
{
	CHECK(fails_with("about = \"open\n", "1: about: unterminated quote"));
	CHECK(fails_with("about = \"a\\q\"\n", "1: about: bad escape (only \\\" and \\\\)"));
	CHECK(fails_with("about = \"a\" b\n", "1: about: text after the closing quote"));
}

TEST(error_missing_file)
{
	struct conf c;
	char err[256];

	CHECK(conf_load(&c, "/nonexistent/dvm.conf", err, sizeof(err)) == -1);
	CHECK(strcmp(err, "/nonexistent/dvm.conf: No such file or directory") == 0);
}

TEST(error_control_char)
{
	CHECK(fails_with("about = a\x01z\n", "1: about: control character in value"));
}

TEST(env_override)
{
	struct conf c;
	char err[256];

	setenv("DVM_MODEL", "qwen2.5", 1);
	setenv("DVM_RELAYS", "ws://127.0.0.1:1 ws://127.0.0.1:2", 1);
	setenv("DVM_REQUIRE_P_TAG", "yes", 1);
	CHECK(load(&c, "model = mistral\n", err, sizeof(err)) == 0);
	unsetenv("DVM_MODEL");
	unsetenv("DVM_RELAYS");
	unsetenv("DVM_REQUIRE_P_TAG");
	CHECK(strcmp(c.model, "qwen2.5") == 0);
	CHECK(c.relays.n == 2 && strcmp(c.relays.v[1], "ws://127.0.0.1:2") == 0);
	CHECK(c.require_p_tag == 1);
	conf_free(&c);
}

TEST(env_error)
{
	struct conf c;
	char err[256];

	setenv("DVM_MAX_QUEUE", "lots", 1);
	CHECK(conf_load(&c, NULL, err, sizeof(err)) == -1);
	unsetenv("DVM_MAX_QUEUE");
	CHECK(strcmp(err, "environment DVM_MAX_QUEUE: bad value \"lots\" "
	    "(an integer 0..100000)") == 0);
}

TEST(print_values)
{
	struct conf c;
	char err[256], *buf = NULL;
	size_t len = 0;
	FILE *f;

	REQUIRE(load(&c, "job_kinds = 5050 5001\ntop_p = 0.95\n", err, sizeof(err)) == 0);
	REQUIRE((f = open_memstream(&buf, &len)) != NULL);
	CHECK(conf_print(&c, "job_kinds", f) == 0);
	CHECK(conf_print(&c, "top_p", f) == 0);
	CHECK(conf_print(&c, "relays", f) == 0);
	CHECK(conf_print(&c, "require_p_tag", f) == 0);
	CHECK(conf_print(&c, "wallet", f) == 0);
	CHECK(conf_print(&c, "payment_mode", f) == 0);
	CHECK(conf_print(&c, "no_such_key", f) == -1);
	fclose(f);
	CHECK(buf != NULL && strcmp(buf, "5050 5001\n0.95\n"
	    "wss://relay.damus.io wss://nos.lol wss://relay.primal.net wss://relay.nostr.band\n"
	    "no\nnone\nfree\n") == 0);
	free(buf);
	conf_free(&c);
}

/* Every listed key is printable, settable, unique; privsep is there. */
TEST(keys_complete)
{
	const char *const *k, *const *j;
	struct conf c;
	char err[256], line[128];
	FILE *f;
	int privsep = 0;

	REQUIRE(conf_load(&c, NULL, err, sizeof(err)) == 0);
	REQUIRE((f = fopen("/dev/null", "w")) != NULL);
	for (k = conf_keys(); *k != NULL; k++) {
		CHECKF(conf_print(&c, *k, f) == 0, "%s not printable", *k);
		for (j = k + 1; *j != NULL; j++)
			CHECKF(strcmp(*k, *j) != 0, "%s twice", *k);
		privsep += strcmp(*k, "privsep") == 0;
	}
	fclose(f);
	conf_free(&c);
	CHECK(privsep == 1);
	/* An unknown key is refused, so every listed one must be accepted. */
	snprintf(line, sizeof(line), "%s = %s\n", conf_keys()[0], "/tmp/x");
	CHECK(load(&c, line, err, sizeof(err)) == 0);
	conf_free(&c);
}

/* Is key documented in text as a line "key = ..." or "#key = ..."? */
static int
documented(const char *text, const char *key)
{
	const char *p = text;
	size_t kl = strlen(key);

	for (; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *q = p;
		if (*q == '#')
			q++;
		while (*q == ' ')
			q++;
		if (strncmp(q, key, kl) == 0 && (q[kl] == ' ' || q[kl] == '='))
			return 1;
	}
	return 0;
}

/*
 * dvm.conf.example documents every key of the table, commented out or not,
 * and the file as shipped loads.
 */
TEST(example_file_matches_table)
{
	const char *const *k;
	struct conf c;
	char err[256], *text;
	FILE *f;
	long len;

	REQUIRE((f = fopen("dvm.conf.example", "r")) != NULL);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	REQUIRE(len > 0 && (text = calloc(1, (size_t)len + 1)) != NULL);
	CHECK(fread(text, 1, (size_t)len, f) == (size_t)len);
	fclose(f);
	for (k = conf_keys(); *k != NULL; k++)
		CHECKF(documented(text, *k), "%s not in dvm.conf.example", *k);
	free(text);
	CHECKF(conf_load(&c, "dvm.conf.example", err, sizeof(err)) == 0, "%s", err);
	conf_free(&c);
}

TEST(sock_path)
{
	struct conf c;
	char err[256], buf[64];

	REQUIRE(load(&c, "state_dir = /srv/x\n", err, sizeof(err)) == 0);
	CHECK(conf_sock_path(&c, "jobd.sock", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/srv/x/run/jobd.sock") == 0);
	CHECK(conf_sock_path(&c, "jobd.sock", buf, 10) == -1 && errno == ENAMETOOLONG);
	CHECK(conf_stage_sock_path(&c, "inferd", buf, sizeof(buf)) == 0);
	CHECK(strcmp(buf, "/srv/x/run/inferd/inferd.sock") == 0);
	CHECK(conf_stage_sock_path(&c, "inferd", buf, 20) == -1 && errno == ENAMETOOLONG);
	conf_free(&c);
}

/* inference_deadline and partial_max_percent (issue 13 points 3, 11): defaults and ranges. */
TEST(wait_and_partial_keys)
{
	struct conf c;
	char err[256];

	REQUIRE(conf_load(&c, NULL, err, sizeof(err)) == 0);
	CHECK(c.inference_deadline == 300 && c.partial_max_percent == 50);
	conf_free(&c);
	REQUIRE(load(&c, "inference_deadline = 5\npartial_max_percent = 0\n", err,
	    sizeof(err)) == 0);
	CHECK(c.inference_deadline == 5 && c.partial_max_percent == 0);
	conf_free(&c);
	CHECK(fails_with("inference_deadline = 4\n",
	    "1: inference_deadline: bad value \"4\" (an integer 5..86400)"));
	CHECK(fails_with("inference_deadline = 86401\n",
	    "1: inference_deadline: bad value \"86401\" (an integer 5..86400)"));
	CHECK(fails_with("partial_max_percent = 91\n",
	    "1: partial_max_percent: bad value \"91\" (an integer 0..90)"));
}

/* pane, pane_port, paned_user: defaults, values, range. */
TEST(pane_keys)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c, "", err, sizeof(err)) == 0);
	CHECK(c.pane == 1 && c.pane_port == 8090 && strcmp(c.paned_user, "") == 0);
	conf_free(&c);
	REQUIRE(load(&c, "pane = no\npane_port = 9123\npaned_user = sellcompute-pane\n",
	    err, sizeof(err)) == 0);
	CHECK(c.pane == 0 && c.pane_port == 9123);
	CHECK(strcmp(c.paned_user, "sellcompute-pane") == 0);
	conf_free(&c);
	CHECK(fails_with("pane_port = 0\n", "1: pane_port: bad value \"0\" (an integer 1..65535)"));
	CHECK(fails_with("pane_port = 65536\n", "1: pane_port: bad value \"65536\" (an integer 1..65535)"));
	CHECK(fails_with("pane = maybe\n", "1: pane: bad value \"maybe\" (yes or no)"));
}

/* Write text to state_dir/overrides.conf (dir made here). */
static void
write_overrides(const char *dir, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/overrides.conf", dir);
	if ((f = fopen(p, "w")) != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/*
 * state_dir/overrides.conf wins over dvm.conf and the environment, may set
 * only the price keys, and is checked like the file.
 */
TEST(overrides_file)
{
	char dir[] = "/tmp/test_conf_ov.XXXXXX", text[256], err[256], want[600], p[256];
	struct conf c;

	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(text, sizeof(text), "state_dir = %s\nmin_price_sats = 7\n", dir);
	REQUIRE(load(&c, text, err, sizeof(err)) == 0);
	CHECK(c.min_price_sats == 7);	/* no overrides file: dvm.conf's value */
	conf_free(&c);
	write_overrides(dir, "min_price_sats = 11\nprice_per_1k_tokens = 2.5\n");
	setenv("DVM_MIN_PRICE_SATS", "9", 1);
	REQUIRE(load(&c, text, err, sizeof(err)) == 0);
	unsetenv("DVM_MIN_PRICE_SATS");
	CHECK(c.min_price_sats == 11 && c.price_per_1k_tokens == 2.5);
	conf_free(&c);
	/* conf_load_buffer (no state on disk) does not read it. */
	REQUIRE(conf_load_buffer(&c, "buf", text, strlen(text), err, sizeof(err)) == 0);
	CHECK(c.min_price_sats == 7);
	conf_free(&c);
	write_overrides(dir, "wallet = lnbits\n");
	CHECK(load(&c, text, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "%s/overrides.conf:1: wallet: not allowed in an overrides file", dir);
	CHECKF(strcmp(err, want) == 0, "%s", err);
	write_overrides(dir, "min_price_sats = -1\n");
	CHECK(load(&c, text, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "%s/overrides.conf:1: min_price_sats: bad value \"-1\" (an integer 0..100000000)", dir);
	CHECKF(strcmp(err, want) == 0, "%s", err);
	/* model_prices (the pane's per-model prices), checked by common/model.c's parser */
	write_overrides(dir, "model_prices = llama3.2=700/0.5 mistral=3/1\n");
	REQUIRE(load(&c, text, err, sizeof(err)) == 0);
	CHECKF(strcmp(c.model_prices, "llama3.2=700/0.5 mistral=3/1") == 0, "%s", c.model_prices);
	conf_free(&c);
	write_overrides(dir, "min_price_sats = 11\nmodel_prices = llama3.2=7\n");
	CHECK(load(&c, text, err, sizeof(err)) == -1);
	snprintf(want, sizeof(want), "%s/overrides.conf:2: model_prices: bad value \"llama3.2=7\": want NAME=MIN/PER1K ... "
	    "(sats; MIN whole, PER1K may have a fraction, e.g. qwen2.5:7b=5/4 mistral=3/1.5)", dir);
	CHECKF(strcmp(err, want) == 0, "%s", err);
	snprintf(p, sizeof(p), "%s/overrides.conf", dir);
	unlink(p);
	rmdir(dir);
}

/* conf_override_set: the same checks, only the price keys, "key: why". */
TEST(override_set)
{
	struct conf c;
	char err[256];

	REQUIRE(load(&c, "", err, sizeof(err)) == 0);
	CHECK(conf_override_set(&c, "min_price_sats", "42", err, sizeof(err)) == 0);
	CHECK(c.min_price_sats == 42);
	CHECK(conf_override_set(&c, "price_per_1k_tokens", "0.5", err, sizeof(err)) == 0);
	CHECK(c.price_per_1k_tokens == 0.5);
	CHECK(conf_override_set(&c, "min_price_sats", "x", err, sizeof(err)) == -1);
	CHECKF(strcmp(err, "min_price_sats: bad value \"x\" (an integer 0..100000000)") == 0, "%s", err);
	CHECK(conf_override_set(&c, "min_price_sats", "100000001", err, sizeof(err)) == -1);
	CHECKF(strcmp(err, "min_price_sats: bad value \"100000001\" (an integer 0..100000000)") == 0, "%s", err);
	CHECK(conf_override_set(&c, "model_prices", "a=1/2", err, sizeof(err)) == 0);
	CHECK(strcmp(c.model_prices, "a=1/2") == 0);
	CHECK(conf_override_set(&c, "model_prices", "a=1/2 b", err, sizeof(err)) == -1);
	CHECKF(strcmp(err, "model_prices: bad value \"a=1/2 b\": want NAME=MIN/PER1K ... (sats; MIN whole, "
	    "PER1K may have a fraction, e.g. qwen2.5:7b=5/4 mistral=3/1.5)") == 0, "%s", err);
	CHECK(strcmp(c.model_prices, "a=1/2") == 0);
	CHECK(conf_override_set(&c, "model_prices", "", err, sizeof(err)) == 0);
	CHECK(strcmp(c.model_prices, "") == 0);
	CHECK(conf_override_set(&c, "model", "x", err, sizeof(err)) == -1);
	CHECKF(strcmp(err, "model: not a key that can be changed at run time") == 0, "%s", err);
	CHECK(c.min_price_sats == 42);
	conf_free(&c);
}

int
main(void)
{
	/* A developer's environment must not leak into the expectations. */
	extern char **environ;
	char **e;

	for (e = environ; *e != NULL;) {
		if (strncmp(*e, "DVM_", 4) == 0) {
			char name[128];
			size_t n = strcspn(*e, "=");
			snprintf(name, sizeof(name), "%.*s", (int)n, *e);
			unsetenv(name);
		} else
			e++;
	}
	RUN(defaults);
	RUN(derived_defaults);
	RUN(size_and_retention_keys);
	RUN(values_of_every_type);
	RUN(comments_and_quoting);
	RUN(error_unknown_key);
	RUN(error_bad_int);
	RUN(error_out_of_range);
	RUN(wait_and_partial_keys);
	RUN(error_bad_bool);
	RUN(error_bad_enum);
	RUN(error_bad_list_item);
	RUN(error_too_many_list_items);
	RUN(storefront_keys);
	RUN(error_duplicate_key);
	RUN(error_missing_equals);
	RUN(error_line_too_long);
	RUN(error_value_too_long);
	RUN(error_unterminated_quote);
	RUN(error_missing_file);
	RUN(error_control_char);
	RUN(env_override);
	RUN(env_error);
	RUN(print_values);
	RUN(keys_complete);
	if (access("dvm.conf.example", R_OK) == 0)
		RUN(example_file_matches_table);
	else
		printf("SKIP: test_conf.c: example_file_matches_table: "
		    "no dvm.conf.example in the current directory\n");
	RUN(sock_path);
	RUN(pane_keys);
	RUN(overrides_file);
	RUN(override_set);
	T_DONE();
}

/*
 * test_invoiced_hold.c: the preimage store of hold invoices (32 fresh random
 * bytes per invoice, durable across a reopen, hashing to the key they are
 * stored under, a tampered row refused) and each backend's hold capability
 * (lnd yes; lnbits and spark no, with the reason; nwc only when its info
 * event lists the three methods and the accepted notification).
 */
/* LINK: invoiced/hold.c invoiced/store.c invoiced/lnd.c invoiced/lnbits.c invoiced/spark.c invoiced/nwc.c invoiced/ws.c invoiced/rest.c invoiced/bolt11.c */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/sha.h>
#include <sqlite3.h>

#include "encoding.h"
#include "t.h"
#include "../../invoiced/invoiced.h"

static char dir[64], db[128];

static const char job_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

TEST(preimage_fresh_durable_and_matching)
{
	struct store *s;
	uint8_t h1[32], h2[32], p1[32], p2[32], zero[32] = { 0 }, check[32];
	char x1[65], x2[65], err[256];

	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	REQUIRE(hold_preimage_new(s, job_a, h1, x1) == 0);
	REQUIRE(hold_preimage_new(s, job_a, h2, x2) == 0);	/* a retry gets a new one */
	CHECK(memcmp(h1, h2, 32) != 0);
	CHECK(hex_is_lower(x1, 64));
	store_close(s);
	/* What was committed before the invoice existed survives a restart. */
	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	REQUIRE(hold_preimage_get(s, x1, p1) == 1);
	REQUIRE(hold_preimage_get(s, x2, p2) == 1);
	SHA256(p1, 32, check);
	CHECK(memcmp(check, h1, 32) == 0);
	SHA256(p2, 32, check);
	CHECK(memcmp(check, h2, 32) == 0);
	CHECK(memcmp(p1, p2, 32) != 0 && memcmp(p1, zero, 32) != 0);
	memset(x1, 'f', 64);
	CHECK(hold_preimage_get(s, x1, p1) == 0);
	store_close(s);
}

TEST(preimage_tampered_row_refused)
{
	struct store *s;
	sqlite3 *raw;
	uint8_t h[32], p[32];
	char x[65], err[256], sql[256];

	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	REQUIRE(hold_preimage_new(s, job_a, h, x) == 0);
	store_close(s);
	REQUIRE(sqlite3_open(db, &raw) == SQLITE_OK);
	snprintf(sql, sizeof(sql), "UPDATE preimages SET preimage = zeroblob(32)"
	    " WHERE payment_hash = '%s'", x);
	CHECK(sqlite3_exec(raw, sql, NULL, NULL, NULL) == SQLITE_OK);
	/* The schema itself refuses a preimage that is not 32 bytes. */
	snprintf(sql, sizeof(sql), "UPDATE preimages SET preimage = zeroblob(31)"
	    " WHERE payment_hash = '%s'", x);
	CHECK(sqlite3_exec(raw, sql, NULL, NULL, NULL) != SQLITE_OK);
	sqlite3_close(raw);
	REQUIRE((s = store_open(db, err, sizeof(err))) != NULL);
	CHECK(hold_preimage_get(s, x, p) == -1);
	store_close(s);
}

static int
load_conf(struct conf *c, const char *text)
{
	char err[256];

	if (conf_load_buffer(c, "t.conf", text, strlen(text), err, sizeof(err)) != 0) {
		fprintf(stderr, "conf: %s\n", err);
		return -1;
	}
	return 0;
}

static void
write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fwrite(text, 1, len, f);
		fclose(f);
	}
	chmod(path, mode);
}

static const char pem[] = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
static const char mac[] = "\x02\x01\x03lnd-test-macaroon-bytes";

static struct backend *
lnd_with(const char *macfile, char *err, size_t errlen)
{
	struct conf c;
	struct backend *be;
	char text[512];

	snprintf(text, sizeof(text), "wallet = lnd\nlightning_network = regtest\n"
	    "lnd_url = https://127.0.0.1:8080\nlnd_macaroon_file = %s\nlnd_tls_cert_file = %s/tls.cert\n",
	    macfile, dir);
	if (load_conf(&c, text) != 0)
		return NULL;
	be = lnd_new(&c, NULL, err, errlen);
	conf_free(&c);
	return be;
}

TEST(capability_lnd)
{
	struct backend *be;
	char path[160], why[256] = "", err[256] = "";

	snprintf(path, sizeof(path), "%s/tls.cert", dir);
	write_file(path, pem, strlen(pem), 0644);
	snprintf(path, sizeof(path), "%s/invoice.macaroon", dir);
	write_file(path, mac, sizeof(mac) - 1, 0600);
	REQUIRE((be = lnd_with(path, err, sizeof(err))) != NULL);
	CHECK(hold_capable(be, why, sizeof(why)) == 1);
	CHECK(be->hold_create != NULL && be->hold_settle != NULL && be->hold_cancel != NULL);
	be->free(be);
	/* The macaroon is a secret file: group or other bits refuse it. */
	chmod(path, 0644);
	CHECK(lnd_with(path, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "accessible by group or others") != NULL, "%s", err);
	snprintf(path, sizeof(path), "%s/junk.macaroon", dir);
	write_file(path, "not a macaroon", 14, 0600);
	CHECK(lnd_with(path, err, sizeof(err)) == NULL);
	CHECKF(strstr(err, "not an LND macaroon") != NULL, "%s", err);
}

TEST(capability_lnbits_spark_none)
{
	struct conf c;
	struct backend *be;
	char path[160], text[512], why[256] = "", err[256] = "";

	snprintf(path, sizeof(path), "%s/lnbits.key", dir);
	write_file(path, "k1", 2, 0600);
	snprintf(text, sizeof(text), "wallet = lnbits\nlnbits_url = http://127.0.0.1:5000\n"
	    "lnbits_api_key_file = %s\n", path);
	REQUIRE(load_conf(&c, text) == 0);
	REQUIRE((be = lnbits_new(&c, NULL, err, sizeof(err))) != NULL);
	CHECK(hold_capable(be, why, sizeof(why)) == 0);
	CHECKF(strstr(why, "held") != NULL, "%s", why);
	CHECK(be->hold_create == NULL && be->hold_settle == NULL && be->hold_cancel == NULL);
	be->free(be);
	conf_free(&c);
	REQUIRE(load_conf(&c, "wallet = spark\nspark_url = unix:/nonexistent.sock\n") == 0);
	REQUIRE((be = spark_new(&c, NULL, err, sizeof(err))) != NULL);
	CHECK(hold_capable(be, why, sizeof(why)) == 0);
	CHECKF(strstr(why, "cancel") != NULL, "%s", why);
	CHECK(be->hold_create == NULL);
	be->free(be);
	conf_free(&c);
	CHECK(hold_capable(NULL, why, sizeof(why)) == 0);
}

TEST(capability_nwc_from_info_event)
{
	char why[256];
	const char *all = "pay_invoice make_invoice lookup_invoice make_hold_invoice "
	    "settle_hold_invoice cancel_hold_invoice get_info";

	CHECK(nwc_hold_support(all, "payment_received hold_invoice_accepted", why, sizeof(why)) == 1);
	CHECK(nwc_hold_support("make_invoice lookup_invoice make_hold_invoice settle_hold_invoice",
	    "payment_received hold_invoice_accepted", why, sizeof(why)) == 0);
	CHECKF(strstr(why, "cancel_hold_invoice") != NULL, "%s", why);
	CHECK(nwc_hold_support(all, "payment_received", why, sizeof(why)) == 0);
	CHECKF(strstr(why, "hold_invoice_accepted") != NULL, "%s", why);
	CHECK(nwc_hold_support(all, NULL, why, sizeof(why)) == 0);
	/* Whole words only: a longer method name is not the method. */
	CHECK(nwc_hold_support("xmake_hold_invoice settle_hold_invoice cancel_hold_invoices",
	    "hold_invoice_accepted", why, sizeof(why)) == 0);
	CHECK(nwc_hold_support(NULL, NULL, why, sizeof(why)) == 0);
}

int
main(void)
{
	char cmd[128];

	snprintf(dir, sizeof(dir), "/tmp/test-invoiced-hold.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 111;
	snprintf(db, sizeof(db), "%s/invoices.db", dir);
	RUN(preimage_fresh_durable_and_matching);
	RUN(preimage_tampered_row_refused);
	RUN(capability_lnd);
	RUN(capability_lnbits_spark_none);
	RUN(capability_nwc_from_info_event);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	T_DONE();
}

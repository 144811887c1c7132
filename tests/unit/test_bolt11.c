/*
 * test_bolt11.c: invoiced's BOLT11 decoder against every vector of
 * lightning/bolts 11-payment-encoding.md (as listed in payments.md §3),
 * the two CLN regtest invoices, and two invoices built for the n-field
 * rules (see the comment at high_s_with_n).
 */
/* LINK: invoiced/bolt11.c */
#include <stdint.h>
#include <string.h>

#include "t.h"
#include "encoding.h"
#include "../../invoiced/invoiced.h"

#define NODE_ID "03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad"
#define HASH0 "0001020304050607080900010203040506070809000102030405060708090102"
#define SECRET11 "1111111111111111111111111111111111111111111111111111111111111111"

static const char *vec_a =
    "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql";
static const char *vec_b =
    "lnbc2500u1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpu9qrsgquk0rl77nj30yxdy8j9vdx85fkpmdla2087ne0xh8nhedh8w27kyke0lp53ut353s06fv3qfegext0eh0ymjpf39tuven09sam30g4vgpfna3rh";
static const char *vec_c =
    "lnbc2500u1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpu9qrsgqhtjpauu9ur7fw2thcl4y9vfvh4m9wlfyz2gem29g5ghe2aak2pm3ps8fdhtceqsaagty2vph7utlgj48u0ged6a337aewvraedendscp573dxr";
static const char *vec_d =
    "lnbc20m1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqs9qrsgq7ea976txfraylvgzuxs8kgcw23ezlrszfnh8r6qtfpr6cxga50aj6txm9rxrydzd06dfeawfk6swupvz4erwnyutnjq7x39ymw6j38gp7ynn44";
static const char *vec_e =
    "lnbc9678785340p1pwmna7lpp5gc3xfm08u9qy06djf8dfflhugl6p7lgza6dsjxq454gxhj9t7a0sd8dgfkx7cmtwd68yetpd5s9xar0wfjn5gpc8qhrsdfq24f5ggrxdaezqsnvda3kkum5wfjkzmfqf3jkgem9wgsyuctwdus9xgrcyqcjcgpzgfskx6eqf9hzqnteypzxz7fzypfhg6trddjhygrcyqezcgpzfysywmm5ypxxjemgw3hxjmn8yptk7untd9hxwg3q2d6xjcmtv4ezq7pqxgsxzmnyyqcjqmt0wfjjq6t5v4khxsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygsxqyjw5qcqp2rzjq0gxwkzc8w6323m55m4jyxcjwmy7stt9hwkwe2qxmy8zpsgg7jcuwz87fcqqeuqqqyqqqqlgqqqqn3qq9q9qrsgqrvgkpnmps664wgkp43l22qsgdw4ve24aca4nymnxddlnp8vh9v2sdxlu5ywdxefsfvm0fq3sesf08uf6q9a2ke0hc9j6z6wlxg5z5kqpu2v9wz";
static const char *vec_f =
    "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqqsgq2a25dxl5hrntdtn6zvydt7d66hyzsyhqs4wdynavys42xgl6sgx9c4g7me86a27t07mdtfry458rtjr0v92cnmswpsjscgt2vcse3sgpz3uapa";
static const char *vec_f_upper =
    "LNBC25M1PVJLUEZPP5QQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQQQSYQCYQ5RQWZQFQYPQDQ5VDHKVEN9V5SXYETPDEESSP5ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYG3ZYGS9Q5SQQQQQQQQQQQQQQQQSGQ2A25DXL5HRNTDTN6ZVYDT7D66HYZSYHQS4WDYNAVYS42XGL6SGX9C4G7ME86A27T07MDTFRY458RTJR0V92CNMSWPSJSCGT2VCSE3SGPZ3UAPA";
static const char *vec_f_ignored =
    "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqqsgq2qrqqqfppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqpp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhpnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqspnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnpkqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqz599y53s3ujmcfjp5xrdap68qxymkqphwsexhmhr8wdz5usdzkzrse33chw6dlp3jhuhge9ley7j2ayx36kawe7kmgg8sv5ugdyusdcqzn8z9x";
static const char *vec_metadata =
    "lnbc10m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdp9wpshjmt9de6zqmt9w3skgct5vysxjmnnd9jx2mq8q8a04uqsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q2gqqqqqqsgq7hf8he7ecf7n4ffphs6awl9t6676rrclv9ckg3d3ncn7fct63p6s365duk5wrk202cfy3aj5xnnp5gs3vrdvruverwwq7yzhkf5a3xqpd05wjc";
static const char *vec_g =
    "lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap2r09nt4ndd0unm3z9u5t48y6ucv4r5sg7lk98c77ctvjczkspk5qprc90gx";
static const char *vec_cln1 =
    "lnbcrt110u1pjmr5lzsp5sfjyj3xn7ux592k36hmmt4ax98n6lgct22wvj54yck0upcmep63qpp5qu436g855lr40ftdt7csatk5pdvtdzzfmfqluwtvm0fds95jsadqdpq0pzk7s6j8y69xjt6xe25j5j4g44hsatdxqyjw5qcqp99qxpqysgquwma3zrw4cd8e8j4u9uh4gxukaacckse64kx2l9dqv8rvrysdq5r5dt38t9snqj9u5ar07h2exr4fg56wpudkhkk7gtxlyt72ku5fpqqd4fnlk";
static const char *vec_cln2 =
    "lnbcrt1n1pja0z07sp5n8fk890nrq7zlcue0lgu7cduaaz765u5rg0kcud4amphuppu8wxspp57kdwqgzdl68fzvs8agmxgcj4h8fv0jpzn6rf85c9gl7xytkak66qdq9d9h8vxqyjw5qcqp99qxpqysgqrneaxh0plvjft457yv3q92rak57a6xw33m6phr0mrsy69sudzgez3adkzdsgwzy32z5usjpxm4rjgcg70h047wf0pgc4l9gyaj2h9ssqcrtv32";
/*
 * Built for this test (the spec's high-S-with-n vector is not in our copy):
 * vector B plus an n field, signed by the spec key (npm bolt11, low S), and
 * the same with s replaced by N - s and the recovery id flipped, which still
 * recovers to the node id but must be refused because n is present.
 */
static const char *low_s_with_n =
    "lnbc2500u1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpunp4q0n326hr8v9zprg8gsvezcch06gfaqqhde2aj730yg0durunfhv669qypqsqcqpfz94tdm0h6n32s2kk79twta0v6ypfkj5d7en0fp9vqafsq08jxfdxazst3t4td7cs06j3lzw9sgktk2syey26ynk29k0pgrj0d8af7ssqn56p9n";
static const char *high_s_with_n =
    "lnbc2500u1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpunp4q0n326hr8v9zprg8gsvezcch06gfaqqhde2aj730yg0durunfhv669qypqsqcqpfz94tdm0h6n32s2kk79twta0v6ypfkj5d7en0fp9vqafsq08jxfdfza05w525jp80s9dwqa360hf58y92z0gse7wkpcsmu5pavca6rlcpu424st";

static int
hex_eq(const uint8_t *b, size_t n, const char *hex)
{
	char buf[200];

	if (n * 2 + 1 > sizeof(buf))
		return 0;
	hex_encode(b, n, buf);
	return strcmp(buf, hex) == 0;
}

static struct bolt11 inv;
static char err[256];

static int
dec(const char *s)
{
	err[0] = '\0';
	return bolt11_decode(s, &inv, err, sizeof(err));
}

TEST(valid_a_donation)
{
	REQUIRE(dec(vec_a) == 0);
	CHECK(strcmp(inv.currency, "bc") == 0);
	CHECK(!inv.has_amount);
	CHECK(inv.timestamp == 1496314658);
	CHECK(hex_eq(inv.payment_hash, 32, HASH0));
	CHECK(hex_eq(inv.payment_secret, 32, SECRET11));
	CHECK(strcmp(inv.description, "Please consider supporting this project") == 0);
	CHECK(inv.expiry == 3600);
	CHECK(!inv.has_payee);
	CHECK(hex_eq(inv.sighash, 32, "6daf4d488be41ce7cbb487cab1ef2975e5efcea879b20d421f0ef86b07cbb987"));
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_b_coffee)
{
	REQUIRE(dec(vec_b) == 0);
	CHECK(inv.has_amount && inv.amount_msat == 250000000);
	CHECK(strcmp(inv.description, "1 cup coffee") == 0);
	CHECK(inv.expiry == 60);
	CHECK(hex_eq(inv.sighash, 32, "047e24bf270b25d42a56d57b2578faa3a10684641bab817c2851a871cb41dbc0"));
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_c_utf8)
{
	REQUIRE(dec(vec_c) == 0);
	CHECK(inv.amount_msat == 250000000);
	CHECK(strcmp(inv.description, "\xe3\x83\x8a\xe3\x83\xb3\xe3\x82\xbb\xe3\x83\xb3\xe3\x82\xb9 1\xe6\x9d\xaf") == 0);
	CHECK(inv.expiry == 60);
	CHECK(hex_eq(inv.sighash, 32, "f140d992ba419578ba9cfe1af85f92df90a76f442fb5e6e09b1f0582534ba87d"));
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_d_description_hash)
{
	REQUIRE(dec(vec_d) == 0);
	CHECK(inv.amount_msat == 2000000000ULL);
	CHECK(!inv.has_description && inv.has_description_hash);
	CHECK(hex_eq(inv.description_hash, 32, "3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1"));
	CHECK(hex_eq(inv.sighash, 32, "e2ffa444e2979edb639fbdaa384638683ba1a5240b14dd7a150e45a04eea261d"));
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_e_pico_amount)
{
	REQUIRE(dec(vec_e) == 0);
	CHECK(inv.amount_msat == 967878534ULL);
	CHECK(inv.timestamp == 1572468703);
	CHECK(hex_eq(inv.payment_hash, 32, "462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f"));
	CHECK(strncmp(inv.description, "Blockstream Store: 88.85 USD", 28) == 0);
	CHECK(strlen(inv.description) == 148);
	CHECK(inv.expiry == 604800);
	CHECK(inv.min_final_cltv == 10);
	CHECK(hex_eq(inv.sighash, 32, "0c76a7b2c2c8571ece175e3581953c5b16bd9cd13317230131673fa61924c8ff"));
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_f_odd_features_and_upper_case)
{
	REQUIRE(dec(vec_f) == 0);
	CHECK(inv.amount_msat == 2500000000ULL);
	CHECK(strcmp(inv.description, "coffee beans") == 0);
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
	REQUIRE(dec(vec_f_upper) == 0);
	CHECK(strcmp(inv.currency, "bc") == 0);
	CHECK(inv.amount_msat == 2500000000ULL);
	CHECK(strcmp(inv.description, "coffee beans") == 0);
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_fields_to_ignore)
{
	REQUIRE(dec(vec_f_ignored) == 0);
	CHECK(hex_eq(inv.payment_hash, 32, HASH0));
	CHECK(hex_eq(inv.payment_secret, 32, SECRET11));
	CHECK(!inv.has_description_hash && !inv.has_payee);
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_metadata)
{
	REQUIRE(dec(vec_metadata) == 0);
	CHECK(inv.amount_msat == 1000000000ULL);
	CHECK(strcmp(inv.description, "payment metadata inside") == 0);
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_g_high_s_recovers)
{
	REQUIRE(dec(vec_g) == 0);
	CHECK(strcmp(inv.description, "Please consider supporting this project") == 0);
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

TEST(valid_lightning_uri_prefix)
{
	char buf[1024];

	snprintf(buf, sizeof(buf), "lightning:%s", vec_b);
	REQUIRE(dec(buf) == 0);
	CHECK(inv.amount_msat == 250000000);
}

TEST(valid_cln_regtest)
{
	REQUIRE(dec(vec_cln1) == 0);
	CHECK(strcmp(inv.currency, "bcrt") == 0);
	CHECK(inv.amount_msat == 11000000ULL);
	CHECK(hex_eq(inv.payment_hash, 32, "072b1d20f4a7c757a56d5fb10eaed40b58b68849da41fe396cdbd2d81692875a"));
	CHECK(hex_eq(inv.payment_secret, 32, "82644944d3f70d42aad1d5f7b5d7a629e7afa30b529cc952a4c59fc0e3790ea2"));
	CHECK(inv.timestamp == 1706152930);
	CHECK(inv.expiry == 604800);
	CHECK(hex_eq(inv.node_id, 33, "022d223620a359a47ff7f7ac447c85c46c923da53389221a0054c11c1e3ca31d59"));
	REQUIRE(dec(vec_cln2) == 0);
	CHECK(inv.amount_msat == 100);
	CHECK(hex_eq(inv.payment_hash, 32, "f59ae0204dfe8e913207ea36646255b9d2c7c8229e8693d30547fc622eddb6b4"));
	CHECK(strcmp(inv.description, "inv") == 0);
	CHECK(hex_eq(inv.node_id, 33, "0266e4598d1d3c415f572a8488830b60f7e744ed9235eb0b1ba93283b315c03518"));
}

TEST(valid_low_s_with_n)
{
	REQUIRE(dec(low_s_with_n) == 0);
	CHECK(inv.has_payee);
	CHECK(hex_eq(inv.payee, 33, NODE_ID));
	CHECK(hex_eq(inv.node_id, 33, NODE_ID));
}

/* Each invalid vector must fail, and for the reason the spec names. */
static void
expect_reject(const char *s, const char *why)
{
	int rc = dec(s);

	CHECKF(rc == -1, "accepted; wanted rejection for %s", why);
	CHECKF(rc != -1 || strstr(err, why) != NULL, "rejected for \"%s\", wanted \"%s\"", err, why);
}

TEST(invalid_unknown_even_feature_100)
{
	expect_reject("lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q4psqqqqqqqqqqqqqqqqsgqtqyx5vggfcsll4wu246hz02kp85x4katwsk9639we5n5yngc3yhqkm35jnjw4len8vrnqnf5ejh0mzj9n3vz2px97evektfm2l6wqccp3y7372",
	    "unknown required feature bit 100");
}

TEST(invalid_checksum)
{
	expect_reject("lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrnt",
	    "bad bech32");
}

TEST(invalid_no_separator)
{
	expect_reject("pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
	    "bad bech32");
}

TEST(invalid_mixed_case)
{
	expect_reject("LNBC2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpquwpc4curk03c9wlrswe78q4eyqc7d8d0xqzpuyk0sg5g70me25alkluzd2x62aysf2pyy8edtjeevuv4p2d5p76r4zkmneet7uvyakky2zr4cusd45tftc9c5fh0nnqpnl2jfll544esqchsrny",
	    "bad bech32");
}

TEST(invalid_signature_not_recoverable)
{
	expect_reject("lnbc2500u1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpusp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qrsgqwgt7mcn5yqw3yx0w94pswkpq6j9uh6xfqqqtsk4tnarugeektd4hg5975x9am52rz4qskukxdmjemg92vvqz8nvmsye63r5ykel43pgz7zq0g2",
	    "signature");
}

TEST(invalid_too_short)
{
	expect_reject("lnbc1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6na6hlh",
	    "too short");
}

TEST(invalid_multiplier)
{
	expect_reject("lnbc2500x1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpusp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qrsgqrrzc4cvfue4zp3hggxp47ag7xnrlr8vgcmkjxk3j5jqethnumgkpqp23z9jclu3v0a7e0aruz366e9wqdykw6dxhdzcjjhldxq0w6wgqcnu43j",
	    "multiplier");
}

TEST(invalid_sub_msat)
{
	expect_reject("lnbc2500000001p1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5xysxxatsyp3k7enxv4jsxqzpusp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9qrsgq0lzc236j96a95uv0m3umg28gclm5lqxtqqwk32uuk4k6673k6n5kfvx3d2h8s295fad45fdhmusm8sjudfhlf6dcsxmfvkeywmjdkxcp99202x",
	    "sub-millisatoshi");
}

TEST(invalid_missing_s)
{
	expect_reject("lnbc20m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqhp58yjmdan79s6qqdhdzgynm4zwqd5d7xmw5fk98klysy043l2ahrqs9qrsgq7ea976txfraylvgzuxs8kgcw23ezlrszfnh8r6qtfpr6cxga50aj6txm9rxrydzd06dfeawfk6swupvz4erwnyutnjq7x39ymw6j38gp49qdkj",
	    "no payment secret");
}

TEST(invalid_high_s_with_n)
{
	expect_reject(high_s_with_n, "high-S");
}

TEST(invalid_garbage)
{
	expect_reject("", "bad bech32");
	expect_reject("lnbc1", "bad bech32");
	expect_reject("hello world", "bad bech32");
}

/* bolt11_check: what invoiced demands of a backend's invoice. */
TEST(check_rules)
{
	int64_t now = 1496314658 + 5;

	REQUIRE(dec(vec_b) == 0);
	CHECK(bolt11_check(&inv, "bc", 250000000, HASH0, now, err, sizeof(err)) == 0);
	CHECK(bolt11_check(&inv, "bcrt", 250000000, HASH0, now, err, sizeof(err)) == -1);
	CHECK(strstr(err, "network") != NULL);
	CHECK(bolt11_check(&inv, "bc", 250000001, HASH0, now, err, sizeof(err)) == -1);
	CHECK(strstr(err, "amount") != NULL);
	CHECK(bolt11_check(&inv, "bc", 250000000,
	    "f59ae0204dfe8e913207ea36646255b9d2c7c8229e8693d30547fc622eddb6b4", now, err, sizeof(err)) == -1);
	CHECK(strstr(err, "payment hash") != NULL);
	CHECK(bolt11_check(&inv, "bc", 250000000, "zz", now, err, sizeof(err)) == -1);
	/* expiry 60 s: expired one minute after the timestamp */
	CHECK(bolt11_check(&inv, "bc", 250000000, HASH0, 1496314658 + 61, err, sizeof(err)) == -1);
	CHECK(strstr(err, "expiry") != NULL);
	CHECK(bolt11_check(&inv, "bc", 250000000, HASH0, 1496314658 + 86400, err, sizeof(err)) == -1);
	REQUIRE(dec(vec_a) == 0);
	CHECK(bolt11_check(&inv, "bc", 1000, HASH0, 1496314658, err, sizeof(err)) == -1);
	CHECK(strstr(err, "no amount") != NULL);
}

TEST(currency_names)
{
	CHECK(strcmp(bolt11_currency_for("bitcoin"), "bc") == 0);
	CHECK(strcmp(bolt11_currency_for("testnet"), "tb") == 0);
	CHECK(strcmp(bolt11_currency_for("signet"), "tbs") == 0);
	CHECK(strcmp(bolt11_currency_for("regtest"), "bcrt") == 0);
	CHECK(bolt11_currency_for("litecoin") == NULL);
}

int
main(void)
{
	RUN(valid_a_donation);
	RUN(valid_b_coffee);
	RUN(valid_c_utf8);
	RUN(valid_d_description_hash);
	RUN(valid_e_pico_amount);
	RUN(valid_f_odd_features_and_upper_case);
	RUN(valid_fields_to_ignore);
	RUN(valid_metadata);
	RUN(valid_g_high_s_recovers);
	RUN(valid_lightning_uri_prefix);
	RUN(valid_cln_regtest);
	RUN(valid_low_s_with_n);
	RUN(invalid_unknown_even_feature_100);
	RUN(invalid_checksum);
	RUN(invalid_no_separator);
	RUN(invalid_mixed_case);
	RUN(invalid_signature_not_recoverable);
	RUN(invalid_too_short);
	RUN(invalid_multiplier);
	RUN(invalid_sub_msat);
	RUN(invalid_missing_s);
	RUN(invalid_high_s_with_n);
	RUN(invalid_garbage);
	RUN(check_rules);
	RUN(currency_names);
	T_DONE();
}

/*
 * test_keys.c: key parsing (hex, nsec/npub, whitespace, range), key files
 * and secret files (permission and file-type refusals, size limits,
 * messages that name the fix and never the key), save/load round trip.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "encoding.h"
#include "keys.h"
#include "t.h"

static char dir[] = "/tmp/test_keys.XXXXXX";

static const char skhex[] = "67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ffa";
static const char pkhex[] = "7e7e9c42a91bfef19fa929e5fda1b72e0ebc1a4c1141673e2794234d86addf4e";

static const char *
put(const char *name, const char *text, mode_t mode)
{
	static char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		return NULL;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fchmod(fd, mode) == -1) {
		close(fd);
		return NULL;
	}
	close(fd);
	return path;
}

TEST(parse_secret)
{
	uint8_t sk[32];
	char h[65];

	CHECK(keys_parse_secret(skhex, sk) == 0);
	hex_encode(sk, 32, h);
	CHECK(strcmp(h, skhex) == 0);
	CHECK(keys_parse_secret("  nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5\n", sk) == 0);
	hex_encode(sk, 32, h);
	CHECK(strcmp(h, skhex) == 0);
	CHECK(keys_parse_secret("\t67DEA2ED018072D675F5415ECFAED7D2597555E202D85B3D65EA4E58D2D92FFA ", sk) == 0);
	/* zero, n, > n, wrong lengths, npub given as secret, junk */
	CHECK(keys_parse_secret("0000000000000000000000000000000000000000000000000000000000000000", sk) == -1);
	CHECK(keys_parse_secret("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", sk) == -1);
	CHECK(keys_parse_secret("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff", sk) == -1);
	CHECK(keys_parse_secret("67dea2ed018072d675f5415ecfaed7d2597555e202d85b3d65ea4e58d2d92ff", sk) == -1);
	CHECK(keys_parse_secret("npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg", sk) == -1);
	CHECK(keys_parse_secret("", sk) == -1);
	CHECK(keys_parse_secret(NULL, sk) == -1);
}

TEST(parse_pubkey)
{
	uint8_t pk[32];
	char h[65];

	CHECK(keys_parse_pubkey(pkhex, pk) == 0);
	CHECK(keys_parse_pubkey("npub10elfcs4fr0l0r8af98jlmgdh9c8tcxjvz9qkw038js35mp4dma8qzvjptg", pk) == 0);
	hex_encode(pk, 32, h);
	CHECK(strcmp(h, pkhex) == 0);
	/* Not on the curve (BIP-340 row 5's key), >= p, nsec given as pubkey. */
	CHECK(keys_parse_pubkey("eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34", pk) == -1);
	CHECK(keys_parse_pubkey("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc30", pk) == -1);
	CHECK(keys_parse_pubkey("nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5", pk) == -1);
}

TEST(generate)
{
	struct keypair a, b;
	uint8_t pk[32];

	REQUIRE(keys_generate(&a) == 0 && keys_generate(&b) == 0);
	CHECK(memcmp(a.sk, b.sk, 32) != 0);
	CHECK(strlen(a.pkhex) == 64 && hex_is_lower(a.pkhex, 64));
	CHECK(keys_parse_pubkey(a.pkhex, pk) == 0 && memcmp(pk, a.pk, 32) == 0);
	keys_wipe(&a);
	CHECK(a.sk[0] == 0 && a.sk[31] == 0 && a.pkhex[0] == 0);
	keys_wipe(&b);
}

TEST(load_file_ok)
{
	struct keypair kp;
	char err[512];
	const char *p;

	REQUIRE((p = put("k1", skhex, 0600)) != NULL);
	CHECKF(keys_load_file(p, &kp, err, sizeof(err)) == 0, "%.200s", err);
	CHECK(strcmp(kp.pkhex, pkhex) == 0);
	keys_wipe(&kp);
	REQUIRE((p = put("k2", "nsec1vl029mgpspedva04g90vltkh6fvh240zqtv9k0t9af8935ke9laqsnlfe5\n\n", 0400)) != NULL);
	CHECKF(keys_load_file(p, &kp, err, sizeof(err)) == 0, "%.200s", err);
	CHECK(strcmp(kp.pkhex, pkhex) == 0);
	keys_wipe(&kp);
}

/* Group/other bits: refused, message names the path and the fix, not the key. */
TEST(load_file_modes_refused)
{
	static const mode_t modes[] = { 0640, 0604, 0660, 0644, 0610, 0601, 0700 | 0004 };
	struct keypair kp;
	char err[512], fix[300];
	const char *p;
	size_t i;

	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		REQUIRE((p = put("kperm", skhex, modes[i])) != NULL);
		snprintf(fix, sizeof(fix), "chmod 600 %s", p);
		err[0] = '\0';
		CHECKF(keys_load_file(p, &kp, err, sizeof(err)) == -1, "mode %o accepted", (unsigned)modes[i]);
		CHECKF(strstr(err, fix) != NULL, "message lacks the fix: %.200s", err);
		CHECK(strstr(err, skhex) == NULL && strstr(err, "67dea2ed") == NULL);
	}
}

TEST(load_file_types_refused)
{
	struct keypair kp;
	char err[512], link[300], sub[300];
	const char *p;

	REQUIRE((p = put("ktarget", skhex, 0600)) != NULL);
	snprintf(link, sizeof(link), "%s/klink", dir);
	unlink(link);
	REQUIRE(symlink(p, link) == 0);
	CHECK(keys_load_file(link, &kp, err, sizeof(err)) == -1 && strstr(err, "symbolic link") != NULL);
	snprintf(sub, sizeof(sub), "%s/kdir", dir);
	rmdir(sub);
	REQUIRE(mkdir(sub, 0700) == 0);
	CHECK(keys_load_file(sub, &kp, err, sizeof(err)) == -1 && strstr(err, "not a regular file") != NULL);
	rmdir(sub);
	CHECK(keys_load_file("/dev/null", &kp, err, sizeof(err)) == -1);
	/* A FIFO with no writer must be refused at once, not block the daemon. */
	snprintf(sub, sizeof(sub), "%s/kfifo", dir);
	unlink(sub);
	REQUIRE(mkfifo(sub, 0600) == 0);
	alarm(5);
	CHECK(keys_load_file(sub, &kp, err, sizeof(err)) == -1 && strstr(err, "not a regular file") != NULL);
	alarm(0);
	unlink(sub);
	snprintf(sub, sizeof(sub), "%s/nonexistent", dir);
	CHECK(keys_load_file(sub, &kp, err, sizeof(err)) == -1 && strstr(err, sub) != NULL);
	/* Content errors never echo the content. */
	REQUIRE((p = put("kjunk", "0000000000000000000000000000000000000000000000000000000000000000", 0600)) != NULL);
	CHECK(keys_load_file(p, &kp, err, sizeof(err)) == -1 && strstr(err, "0000000000") == NULL);
	REQUIRE((p = put("kempty", "", 0600)) != NULL);
	CHECK(keys_load_file(p, &kp, err, sizeof(err)) == -1);
}

TEST(secret_file)
{
	char err[512], *s, big[300];
	const char *p;

	REQUIRE((p = put("s1", "nostr+walletconnect://abc?secret=xyz \n\t\n", 0600)) != NULL);
	REQUIRE(secret_file_read(p, 100, &s, err, sizeof(err)) == 0);
	CHECK(strcmp(s, "nostr+walletconnect://abc?secret=xyz") == 0);
	free(s);
	/* Exactly max is fine, max + 1 is not. */
	memset(big, 'x', 200);
	big[200] = '\0';
	REQUIRE((p = put("s2", big, 0600)) != NULL);
	REQUIRE(secret_file_read(p, 200, &s, err, sizeof(err)) == 0);
	CHECK(strlen(s) == 200);
	free(s);
	CHECK(secret_file_read(p, 199, &s, err, sizeof(err)) == -1 && strstr(err, "longer") != NULL);
	REQUIRE((p = put("s3", "secret", 0644)) != NULL);
	CHECK(secret_file_read(p, 100, &s, err, sizeof(err)) == -1 && strstr(err, "chmod 600") != NULL);
}

TEST(save_load_round_trip)
{
	struct keypair a, b;
	char path[300], err[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/saved", dir);
	unlink(path);
	REQUIRE(keys_generate(&a) == 0);
	REQUIRE(keys_save_file(path, &a, err, sizeof(err)) == 0);
	REQUIRE(stat(path, &st) == 0);
	CHECK((st.st_mode & 0777) == 0600);
	CHECK(keys_load_file(path, &b, err, sizeof(err)) == 0 && memcmp(a.sk, b.sk, 32) == 0);
	/* O_EXCL: never overwrite an existing key. */
	CHECK(keys_save_file(path, &a, err, sizeof(err)) == -1);
	keys_wipe(&a);
	keys_wipe(&b);
}

int
main(void)
{
	if (mkdtemp(dir) == NULL) {
		printf("FAIL: test_keys.c: mkdtemp\n");
		return 1;
	}
	RUN(parse_secret);
	RUN(parse_pubkey);
	RUN(generate);
	RUN(load_file_ok);
	RUN(load_file_modes_refused);
	RUN(load_file_types_refused);
	RUN(secret_file);
	RUN(save_load_round_trip);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("warning: could not remove %s\n", dir);
	}
	T_DONE();
}

/*
 * keys.c: the process-wide secp256k1 context, Nostr keys, BIP-340 and the
 * ECDH x coordinate shared by NIP-04 and NIP-44, and secret files.
 *
 * Secret material never reaches a log line or an error message; buffers
 * that held it are wiped with OPENSSL_cleanse.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_schnorrsig.h>

#include "bech32.h"
#include "encoding.h"
#include "keys.h"
#include "log.h"

/* Key files hold 64 hex digits or a 63-char nsec, plus whitespace. */
#define KEYFILE_MAX 256

static secp256k1_context *ctx;

const secp256k1_context *
secp_ctx(void)
{
	uint8_t seed[32];

	if (ctx != NULL)
		return ctx;
	if ((ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE)) == NULL)
		fatalx(EXIT_TEMP, "secp256k1_context_create failed");
	/* Blinding against side channels; needs fresh randomness. */
	if (RAND_bytes(seed, sizeof(seed)) != 1 ||
	    !secp256k1_context_randomize(ctx, seed))
		fatalx(EXIT_TEMP, "cannot randomise the secp256k1 context");
	OPENSSL_cleanse(seed, sizeof(seed));
	return ctx;
}

int
keys_from_secret(struct keypair *kp, const uint8_t sk[32])
{
	secp256k1_xonly_pubkey xpk;

	memset(kp, 0, sizeof(*kp));
	if (!secp256k1_keypair_create(secp_ctx(), &kp->kp, sk) ||
	    !secp256k1_keypair_xonly_pub(secp_ctx(), &xpk, NULL, &kp->kp) ||
	    !secp256k1_xonly_pubkey_serialize(secp_ctx(), kp->pk, &xpk)) {
		keys_wipe(kp);
		return -1;
	}
	memcpy(kp->sk, sk, 32);
	hex_encode(kp->pk, 32, kp->pkhex);
	return 0;
}

/* Trim surrounding whitespace: *s and *n describe the inner span. */
static void
keys_trim(const char **s, size_t *n)
{
	while (*n > 0 && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

/* 64 hex digits or a NIP-19 string with the given hrp. */
static int
keys_parse32(const char *text, const char *hrp, uint8_t out[32])
{
	char buf[100];
	const char *s = text;
	size_t n;
	int rc;

	if (text == NULL)
		return -1;
	n = strlen(text);
	keys_trim(&s, &n);
	if (n == 64)
		return hex_decode(s, n, out, 32);
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	rc = nip19_decode(hrp, buf, out);
	OPENSSL_cleanse(buf, sizeof(buf));
	return rc;
}

int
keys_parse_secret(const char *text, uint8_t sk[32])
{
	if (keys_parse32(text, "nsec", sk) == -1 ||
	    !secp256k1_ec_seckey_verify(secp_ctx(), sk)) {
		OPENSSL_cleanse(sk, 32);
		return -1;
	}
	return 0;
}

int
keys_parse_pubkey(const char *text, uint8_t pk[32])
{
	secp256k1_xonly_pubkey xpk;

	if (keys_parse32(text, "npub", pk) == -1 ||
	    !secp256k1_xonly_pubkey_parse(secp_ctx(), &xpk, pk))
		return -1;
	return 0;
}

int
keys_generate(struct keypair *kp)
{
	uint8_t sk[32];
	int tries, rc = -1;

	/* A random 256-bit value is out of range with probability ~2^-128. */
	for (tries = 0; tries < 8 && rc == -1; tries++) {
		if (RAND_bytes(sk, sizeof(sk)) != 1)
			break;
		rc = keys_from_secret(kp, sk);
	}
	OPENSSL_cleanse(sk, sizeof(sk));
	return rc;
}

void
keys_wipe(struct keypair *kp)
{
	OPENSSL_cleanse(kp, sizeof(*kp));
}

int
bip340_sign32(const uint8_t sk[32], const uint8_t msg[32], const uint8_t aux[32],
    uint8_t sig[64])
{
	secp256k1_keypair kp;
	secp256k1_xonly_pubkey xpk;
	uint8_t pk[32];
	int ok;

	ok = secp256k1_keypair_create(secp_ctx(), &kp, sk) &&
	    secp256k1_schnorrsig_sign32(secp_ctx(), sig, msg, &kp, aux) &&
	    secp256k1_keypair_xonly_pub(secp_ctx(), &xpk, NULL, &kp) &&
	    secp256k1_xonly_pubkey_serialize(secp_ctx(), pk, &xpk);
	OPENSSL_cleanse(&kp, sizeof(kp));
	/* libsecp256k1 does not check its own output; the BIP advises it. */
	if (!ok || bip340_verify(pk, msg, 32, sig) == -1) {
		memset(sig, 0, 64);
		return -1;
	}
	return 0;
}

int
bip340_verify(const uint8_t pk[32], const uint8_t *msg, size_t msglen, const uint8_t sig[64])
{
	secp256k1_xonly_pubkey xpk;

	if (!secp256k1_xonly_pubkey_parse(secp_ctx(), &xpk, pk))
		return -1;
	return secp256k1_schnorrsig_verify(secp_ctx(), sig, msg, msglen, &xpk) ? 0 : -1;
}

/* ECDH "hash" that keeps the raw x coordinate, as NIP-04 and NIP-44 need. */
static int
keys_ecdh_copy_x(unsigned char *out, const unsigned char *x32, const unsigned char *y32,
    void *data)
{
	memcpy(out, x32, 32);
	return 1;
}

int
keys_ecdh_x(const uint8_t sk[32], const uint8_t pk[32], uint8_t x[32])
{
	secp256k1_pubkey pub;
	uint8_t comp[33];

	/* x-only keys stand for the even-y point; y's sign cannot change x of the product. */
	comp[0] = 0x02;
	memcpy(comp + 1, pk, 32);
	if (!secp256k1_ec_seckey_verify(secp_ctx(), sk) ||
	    !secp256k1_ec_pubkey_parse(secp_ctx(), &pub, comp, sizeof(comp)) ||
	    !secp256k1_ecdh(secp_ctx(), x, &pub, sk, keys_ecdh_copy_x, NULL)) {
		memset(x, 0, 32);
		return -1;
	}
	return 0;
}

/*
 * Open a secret file and check it: a regular file (no symlink followed)
 * with no group or other permission bits. Returns the fd or -1 with err set.
 */
static int
secret_file_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ELOOP)
			snprintf(err, errlen, "%s: is a symbolic link; point the config at the real file",
			    path);
		else
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen,
		    "%s: secret file is accessible by group or others (mode %04o); fix with: chmod 600 %s",
		    path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Read up to cap bytes (the caller tells "full" from "too long"). */
static ssize_t
secret_file_slurp(int fd, char *buf, size_t cap)
{
	size_t got = 0;
	ssize_t r;

	for (;;) {
		if (got == cap)
			return (ssize_t)got;
		r = read(fd, buf + got, cap - got);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return -1;
		if (r == 0)
			return (ssize_t)got;
		got += (size_t)r;
	}
}

int
secret_file_read(const char *path, size_t max, char **out, char *err, size_t errlen)
{
	char *buf;
	ssize_t n;
	int fd, saved;

	if ((fd = secret_file_open(path, err, errlen)) == -1)
		return -1;
	/* One spare byte tells "exactly max" from "too long", one for the NUL. */
	if (max > SIZE_MAX - 2 || (buf = malloc(max + 2)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	n = secret_file_slurp(fd, buf, max + 1);
	saved = errno;
	close(fd);
	if (n < 0 || (size_t)n > max) {
		if (n < 0)
			snprintf(err, errlen, "%s: %s", path, strerror(saved));
		else
			snprintf(err, errlen, "%s: longer than %zu bytes", path, max);
		OPENSSL_cleanse(buf, max + 2);
		free(buf);
		return -1;
	}
	while (n > 0 && isspace((unsigned char)buf[n - 1]))
		n--;
	buf[n] = '\0';
	if (memchr(buf, '\0', (size_t)n) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		OPENSSL_cleanse(buf, max + 2);
		free(buf);
		return -1;
	}
	*out = buf;
	return 0;
}

int
secret_file_read_bin(const char *path, size_t max, uint8_t **out, size_t *len,
    char *err, size_t errlen)
{
	uint8_t *buf;
	ssize_t n;
	int fd, saved;

	if ((fd = secret_file_open(path, err, errlen)) == -1)
		return -1;
	if (max > SIZE_MAX - 1 || (buf = malloc(max + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	n = secret_file_slurp(fd, (char *)buf, max + 1);
	saved = errno;
	close(fd);
	if (n <= 0 || (size_t)n > max) {
		if (n < 0)
			snprintf(err, errlen, "%s: %s", path, strerror(saved));
		else if (n == 0)
			snprintf(err, errlen, "%s: empty", path);
		else
			snprintf(err, errlen, "%s: longer than %zu bytes", path, max);
		OPENSSL_cleanse(buf, max + 1);
		free(buf);
		return -1;
	}
	*out = buf;
	*len = (size_t)n;
	return 0;
}

int
keys_load_file(const char *path, struct keypair *kp, char *err, size_t errlen)
{
	char *text;
	uint8_t sk[32];
	int rc = -1;

	if (secret_file_read(path, KEYFILE_MAX, &text, err, errlen) == -1)
		return -1;
	if (keys_parse_secret(text, sk) == -1)
		snprintf(err, errlen, "%s: not a secret key (want 64 hex digits or nsec1...)", path);
	else if ((rc = keys_from_secret(kp, sk)) == -1)
		snprintf(err, errlen, "%s: not a valid secret key", path);
	OPENSSL_cleanse(text, strlen(text));
	free(text);
	OPENSSL_cleanse(sk, sizeof(sk));
	return rc;
}

int
keys_save_file(const char *path, const struct keypair *kp, char *err, size_t errlen)
{
	char line[66];
	size_t off = 0;
	ssize_t w;
	int fd;

	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	hex_encode(kp->sk, 32, line);
	line[64] = '\n';
	while (off < 65) {
		w = write(fd, line + off, 65 - off);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	OPENSSL_cleanse(line, sizeof(line));
	if (off != 65 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s: write failed: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "%s: close failed: %s", path, strerror(errno));
		unlink(path);
		return -1;
	}
	return 0;
}

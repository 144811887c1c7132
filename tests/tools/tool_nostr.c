/*
 * tool_nostr: a small CLI over common/ crypto, for interop tests against
 * nostr-tools (tests/integration/crypto_interop.mjs). Input on stdin,
 * output on stdout, exit 0 on success, 1 on a refused input (reason on
 * stderr), 2 on usage.
 *
 *   tool_nostr verify              < event.json     prints the id
 *   tool_nostr serialize           < event.json     prints the NIP-01 serialization
 *   tool_nostr sign SK             < unsigned.json  {kind,created_at,tags,content}
 *   tool_nostr pubkey SK                            prints the x-only pubkey hex
 *   tool_nostr nip19 SK                             prints npub and nsec, one a line
 *   tool_nostr nip04-encrypt SK PK < plaintext
 *   tool_nostr nip04-decrypt SK PK < payload
 *   tool_nostr nip44-encrypt SK PK < plaintext
 *   tool_nostr nip44-decrypt SK PK < payload
 *   tool_nostr nip44-key SK PK                      prints the conversation key
 *
 * SK and PK: 64 hex digits, nsec1/npub1 also accepted.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bech32.h"
#include "encoding.h"
#include "event.h"
#include "keys.h"
#include "nip04.h"
#include "nip44.h"

#define MAX_INPUT (16 * 1024 * 1024)

static char *
read_stdin(size_t *len)
{
	size_t cap = 65536, n = 0;
	char *buf = malloc(cap + 1), *nb;
	ssize_t r;

	if (buf == NULL)
		return NULL;
	while ((r = read(0, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap) {
			if (cap >= MAX_INPUT || (nb = realloc(buf, cap * 2 + 1)) == NULL) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (r < 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

static void
chomp(char *s, size_t *n)
{
	while (*n > 0 && (s[*n - 1] == '\n' || s[*n - 1] == '\r' || s[*n - 1] == ' '))
		s[--*n] = '\0';
}

static int
fail(const char *what)
{
	fprintf(stderr, "tool_nostr: %s\n", what);
	return 1;
}

static int
cmd_verify(int serialize_only)
{
	struct event ev;
	char err[128], *in, *ser;
	size_t n, slen;
	int rc;

	if ((in = read_stdin(&n)) == NULL)
		return fail("cannot read stdin");
	rc = event_parse(&ev, in, n, err, sizeof(err));
	free(in);
	if (rc == -1)
		return fail(err);
	if (serialize_only) {
		if (event_serialize(&ev, &ser, &slen) == -1) {
			event_free(&ev);
			return fail("serialize failed");
		}
		fwrite(ser, 1, slen, stdout);
		free(ser);
		rc = 0;
	} else if (!event_id_ok(&ev))
		rc = fail("id does not match");
	else if (event_verify(&ev) == -1)
		rc = fail("bad signature");
	else
		printf("%s\n", ev.idhex);
	event_free(&ev);
	return rc;
}

/* Build from {kind, created_at, tags, content} and sign. */
static int
cmd_sign(const uint8_t sk[32])
{
	struct keypair kp;
	struct event ev;
	const cJSON *tag, *it, *kind, *ca;
	const char *vals[EVENT_MAX_TAG_ITEMS];
	char err[128], *in, *out;
	cJSON *o;
	size_t n, k;
	int rc = 1;

	if ((in = read_stdin(&n)) == NULL)
		return fail("cannot read stdin");
	if (json_text_check(in, n, err, sizeof(err)) == -1 || (o = cJSON_ParseWithLength(in, n)) == NULL) {
		free(in);
		return fail("bad JSON");
	}
	free(in);
	kind = cJSON_GetObjectItem(o, "kind");
	ca = cJSON_GetObjectItem(o, "created_at");
	if (!cJSON_IsNumber(kind) || !cJSON_IsNumber(ca) || kind->valuedouble < 0 ||
	    kind->valuedouble > 65535 || ca->valuedouble < 0 || ca->valuedouble > 1e15 ||
	    keys_from_secret(&kp, sk) == -1 ||
	    event_init(&ev, (int)kind->valuedouble,
	    cJSON_GetStringValue(cJSON_GetObjectItem(o, "content")), (int64_t)ca->valuedouble) == -1) {
		cJSON_Delete(o);
		keys_wipe(&kp);
		return fail("bad unsigned event");
	}
	cJSON_ArrayForEach(tag, cJSON_GetObjectItem(o, "tags")) {
		k = 0;
		cJSON_ArrayForEach(it, tag)
			if (k < EVENT_MAX_TAG_ITEMS)
				vals[k++] = cJSON_GetStringValue(it);
		if (event_add_tag(&ev, vals, k) == -1)
			goto done;
	}
	if (event_sign(&ev, &kp) == -1 || (out = event_to_json(&ev)) == NULL)
		goto done;
	printf("%s\n", out);
	free(out);
	rc = 0;
done:
	if (rc)
		fail("cannot build or sign");
	event_free(&ev);
	cJSON_Delete(o);
	keys_wipe(&kp);
	return rc;
}

static int
cmd_crypt(const char *cmd, const uint8_t sk[32], const uint8_t pk[32])
{
	uint8_t ck[32];
	char *in, *out = NULL;
	size_t n, outlen = 0;
	int rc;

	if ((in = read_stdin(&n)) == NULL)
		return fail("cannot read stdin");
	if (strstr(cmd, "decrypt") != NULL)
		chomp(in, &n);
	if (strcmp(cmd, "nip04-encrypt") == 0)
		rc = nip04_encrypt(sk, pk, in, n, &out);
	else if (strcmp(cmd, "nip04-decrypt") == 0)
		rc = nip04_decrypt(sk, pk, in, n, &out, &outlen);
	else if (nip44_conversation_key(sk, pk, ck) == -1)
		rc = -1;
	else if (strcmp(cmd, "nip44-encrypt") == 0)
		rc = nip44_encrypt(ck, in, n, NULL, &out);
	else
		rc = nip44_decrypt(ck, in, n, &out, &outlen);
	free(in);
	if (rc == -1)
		return fail("refused");
	if (strstr(cmd, "encrypt") != NULL)
		outlen = strlen(out);
	fwrite(out, 1, outlen, stdout);
	free(out);
	return 0;
}

static int
usage(void)
{
	fprintf(stderr, "usage: tool_nostr verify|serialize < event.json\n"
	    "       tool_nostr sign SK < unsigned.json\n"
	    "       tool_nostr pubkey|nip19 SK\n"
	    "       tool_nostr nip04-encrypt|nip04-decrypt|nip44-encrypt|nip44-decrypt|nip44-key SK PK\n");
	return 2;
}

int
main(int argc, char **argv)
{
	uint8_t sk[32], pk[32], ck[32];
	struct keypair kp;
	char hex[65];

	if (argc < 2)
		return usage();
	if (strcmp(argv[1], "verify") == 0 || strcmp(argv[1], "serialize") == 0)
		return cmd_verify(strcmp(argv[1], "serialize") == 0);
	if (argc < 3 || keys_parse_secret(argv[2], sk) == -1)
		return usage();
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(sk);
	if (strcmp(argv[1], "pubkey") == 0) {
		if (keys_from_secret(&kp, sk) == -1)
			return fail("bad secret");
		printf("%s\n", kp.pkhex);
		keys_wipe(&kp);
		return 0;
	}
	if (strcmp(argv[1], "nip19") == 0) {
		char npub[100], nsec[100];

		if (keys_from_secret(&kp, sk) == -1 || nip19_encode("npub", kp.pk, npub, sizeof(npub)) == -1 ||
		    nip19_encode("nsec", kp.sk, nsec, sizeof(nsec)) == -1)
			return fail("bad secret");
		printf("%s\n%s\n", npub, nsec);
		keys_wipe(&kp);
		return 0;
	}
	if (argc < 4 || keys_parse_pubkey(argv[3], pk) == -1)
		return usage();
	if (strcmp(argv[1], "nip44-key") == 0) {
		if (nip44_conversation_key(sk, pk, ck) == -1)
			return fail("bad key pair");
		hex_encode(ck, 32, hex);
		printf("%s\n", hex);
		return 0;
	}
	if (strncmp(argv[1], "nip04-", 6) == 0 || strncmp(argv[1], "nip44-", 6) == 0)
		return cmd_crypt(argv[1], sk, pk);
	return usage();
}

/*
 * keys.c: the DVM's Nostr identity, for scripts/dvm. Generation and the
 * npub live in C so the launcher depends on no other tool, and so the key
 * file is written exactly as jobd reads it (common/keys.c: hex, 0600).
 */
#include <stdio.h>

#include "bech32.h"
#include "keys.h"
#include "dvmctl.h"

static int
keyfile_show(const struct keypair *kp)
{
	char npub[128];

	if (nip19_encode("npub", kp->pk, npub, sizeof(npub)) == -1) {
		fprintf(stderr, "dvmctl: cannot encode the npub\n");
		return -1;
	}
	printf("%s\n", npub);
	return 0;
}

/* Create a fresh key at path (never overwriting one) and print its npub. */
int
keyfile_generate(const char *path)
{
	struct keypair kp;
	char err[256];
	int r;

	if (keys_generate(&kp) == -1) {
		fprintf(stderr, "dvmctl: cannot generate a key\n");
		return -1;
	}
	if (keys_save_file(path, &kp, err, sizeof(err)) == -1) {
		keys_wipe(&kp);
		fprintf(stderr, "dvmctl: %s: %s\n", path, err);
		return -1;
	}
	r = keyfile_show(&kp);
	keys_wipe(&kp);
	return r;
}

int
keyfile_print_npub(const char *path)
{
	struct keypair kp;
	char err[256];
	int r;

	if (keys_load_file(path, &kp, err, sizeof(err)) == -1) {
		fprintf(stderr, "dvmctl: %s: %s\n", path, err);
		return -1;
	}
	r = keyfile_show(&kp);
	keys_wipe(&kp);
	return r;
}

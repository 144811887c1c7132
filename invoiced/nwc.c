/*
 * nwc.c: Nostr Wallet Connect (NIP-47) backend. Work in progress: until the
 * relay client lands, wallet = nwc is refused at startup (exit 100).
 */
#include <stdio.h>

#include "invoiced.h"

struct backend *
nwc_new(const struct conf *cf, struct loop *l, char *err, size_t errlen)
{
	snprintf(err, errlen, "the nwc backend is not implemented yet");
	return NULL;
}

/*
 * dvmreq.h: the requester side of a NIP-90 text-generation job, for trying
 * a DVM (ours or anyone's) from a shell: build and sign a kind-5050
 * request, subscribe to its feedback and result on every relay, publish
 * it, and print what comes back, trusting nothing a relay says without
 * checking the signature.
 */
#ifndef DVMREQ_H
#define DVMREQ_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "event.h"
#include "keys.h"

#define REQ_MAX_RELAYS	16
#define REQ_MAX_PARAMS	32
#define REQ_MAX_MSG	(1024 * 1024)	/* one websocket message from a relay */

/* Exit codes (documented in --help and docs/dvmreq.1.md). */
#define XIT_OK		0
#define XIT_ERROR		1	/* error feedback, or no relay would take the request */
#define XIT_TIMEOUT	2
#define XIT_USAGE		100

enum enc { ENC_NONE, ENC_NIP04, ENC_NIP44 };

struct opts {
	const char	*relays[REQ_MAX_RELAYS];
	size_t		 nrelays;
	const char	*params[REQ_MAX_PARAMS][2];
	size_t		 nparams;
	uint8_t		 to[32];
	int		 has_to;
	enum enc	 enc;
	long long	 bid_sats;	/* -1: no bid tag */
	int		 kind;
	struct keypair	 key;
	int		 timeout;	/* s */
	int		 json;
	int		 verbose;
	const char	*prompt;
};

/* What the run has come to; main turns it into the exit code. */
struct session {
	const struct opts *o;
	struct event	 req;
	uint8_t		 nip44_ck[32];	/* with the --to key, for ENC_NIP44 */
	char		 seen[64][65];	/* event ids already shown (several relays) */
	size_t		 nseen;
	int		 done;		/* 1 when the exit code below is final */
	int		 code;
	size_t		 relays_failed;	/* unreachable or refused the request */
	unsigned	 forged;
};

/* request.c */
int	request_build(struct session *, char *err, size_t errlen);
char	*request_req_msg(const struct session *);
char	*request_event_msg(const struct session *);

/* reply.c */
/* One text message from relay url; 1 if it says the relay refused the request. */
int	reply_handle(struct session *, const char *url, const char *msg, size_t len);
/* Decrypt a payload from the DVM in the request's scheme; *out malloc'd. */
int	reply_decrypt(const struct session *, const uint8_t peer[32], const char *in,
	    char **out);

/* ws.c */
/* Connect to every relay, send REQ then EVENT, feed messages to reply_handle until done or timeout. */
int	ws_run(struct session *);

#endif

/*
 * jobrec.h: what a job is: the record the ledger stores and the state
 * machine (job.c) works on. Types only.
 */
#ifndef JOBD_JOBREC_H
#define JOBD_JOBREC_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"

#define JOBD_MAX_INPUTS		16	/* i tags per request */
#define JOBD_MAX_RELAYS		8	/* extra relays from a request's relays tag (relayd's limit) */
#define JOBD_MAX_URL		512
#define JOBD_MAX_MODEL		128
#define JOBD_MAX_ERRMSG		256

/* Encryption of a request, mirrored in every reply to it. */
enum job_enc { ENC_NONE, ENC_NIP04, ENC_NIP44 };

/* One input of a request, in order. */
struct input {
	int	 ref;			/* 0 text; 1 event id; 2 job (request) id */
	char	*text;			/* text, or the resolved content */
	char	 id[65];		/* for refs */
	char	 relay[JOBD_MAX_URL];	/* hint for refs, may be empty */
	uint64_t fetch;			/* fetch number while pending, else 0 */
};

/* A request after parsing (and decryption): what the job will run. */
struct request {
	struct input in[JOBD_MAX_INPUTS];
	int	 nin;
	char	 model[JOBD_MAX_MODEL];		/* what we serve */
	char	 asked_model[JOBD_MAX_MODEL];	/* what was asked, "" if none */
	int	 max_tokens;
	double	 temperature;
	int	 top_k;
	double	 top_p;
	double	 frequency_penalty;
	int64_t	 bid_msat;			/* -1: no bid */
	char	*relays[JOBD_MAX_RELAYS];
	int	 nrelays;
};

/* A job held in memory while it is open (closed jobs live in the ledger only). */
struct job {
	struct job	*next;
	char		 id[65];
	char		 pubkey[65];
	uint8_t		 pk[32];
	int		 kind;
	int64_t		 created_at;
	int64_t		 received_ms;	/* wall-clock ms */
	enum job_state	 state;
	enum job_enc	 enc;
	char		 relay[JOBD_MAX_URL];	/* where the request was seen */
	char		*request_json;	/* the signed request as received */
	struct request	 req;
	char		*prompt;	/* joined inputs, once resolved */
	int		 pending;	/* inputs being fetched */
	int64_t		 quote_msat, price_msat, paid_msat;
	char		*bolt11;
	int64_t		 invoice_expires;
	int		 prompt_tokens, completion_tokens;
	char		*text;		/* the answer */
	char		 result_id[65];
	char		 error[JOBD_MAX_ERRMSG];
	int		 retries;	/* retryable spoke errors so far */
	uint64_t	 retry_timer;
	void		*retry_arg;	/* owned while retry_timer is set */
	/* partial results */
	char		*partial;	/* text since the last partial feedback */
	size_t		 partial_len;
	uint64_t	 partial_last_ms;
	uint64_t	 partial_timer;
	void		*partial_arg;	/* owned while partial_timer is set */
	char		*sent;		/* every partial text sent: a cancel is invoiced for it */
	size_t		 sent_len;
	size_t		 streamed;	/* bytes of text streamed by inferd so far */
	int		 partial_off;	/* no more partials (the inference was run again) */
	int		 pay_mode;	/* enum payment_mode + 1, fixed at job_start; 0: not yet */
	int64_t		 queued_ms;	/* first queued, wall-clock ms (the inference deadline) */
	int64_t		 wait_said_ms;	/* last "waiting" feedback (wait.c); 0: none */
	int		 dirty;		/* moved or changed since its row was written */
	int		 heavy;		/* ... and that change must be synced (job_mark) */
	/* payment_mode = hold (escrow.c): where the held payment stands, "" if none */
	char		 escrow[12];
	int64_t		 hold_deadline;	/* unix s: settle or cancel by then */
};

#endif

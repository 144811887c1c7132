/*
 * curlm.h: every HTTP transfer of a daemon in one libcurl multi handle
 * driven by its poll loop (curl's sockets and its one timer live in the
 * loop; curl_multi_socket_action does the work). No thread per request.
 *
 * Two ways to take the answer: on_data streams the body as it comes
 * (inferd's token streams); without on_data the body is buffered, up to
 * max_body, and handed whole to on_done (the wallet APIs).
 *
 * Rule for callers: on_data/on_header run inside curl and must not call
 * curlm_start or curlm_abort; they return less than n to stop the
 * transfer. on_done runs outside curl and may start or abort others.
 */
#ifndef CURLM_H
#define CURLM_H

#include <stddef.h>

#define CURLM_MAX_BODY		(1024 * 1024)
#define CURLM_CONNECT_MS	5000L

struct loop;
struct curlm;
struct curlm_xfer;

struct curlm_result {
	int		 ok;		/* the transfer completed (any HTTP status) */
	int		 curlcode;	/* CURLE_*; 0 when ok */
	long		 status;	/* HTTP status, 0 if none arrived */
	int		 connected;	/* a connection was made */
	const char	*error;		/* when !ok: curl's short reason, "response too large" or curlm_cancel_all's */
	const char	*detail;	/* when !ok: curl's own message (may name host and port: logs only) */
	const char	*body;		/* buffered mode: NUL-terminated, "" if none */
	size_t		 len;
};

typedef size_t (*curlm_data_fn)(void *arg, const char *p, size_t n);
typedef void (*curlm_done_fn)(void *arg, struct curlm_xfer *, const struct curlm_result *);

struct curlm_req {
	const char	*url;
	const char	*method;	/* NULL: POST with a body, else GET */
	const char	*body;		/* JSON (Content-Type: application/json), or NULL */
	const char	*unix_socket;	/* HTTP over this Unix socket, or NULL */
	const char	*accept;	/* Accept:, or NULL */
	const char	*bearer;	/* Authorization: Bearer ..., or NULL */
	const char	*hdr_name;	/* one more (secret) header, or NULL */
	const char	*hdr_value;
	const char	*user_agent;	/* or NULL */
	const char	*ca_pem;	/* PEM: the only CA trusted for this transfer; NULL: the system's */
	size_t		 ca_len;
	long		 connect_ms;	/* 0: CURLM_CONNECT_MS */
	long		 total_ms;	/* 0: no limit at curl's level */
	long		 bufsize;	/* curl's receive buffer; 0: its default */
	size_t		 max_body;	/* buffered mode; 0: CURLM_MAX_BODY */
	curlm_data_fn	 on_data;	/* NULL: buffer the body */
	curlm_data_fn	 on_header;	/* header bytes (liveness), or NULL */
	curlm_done_fn	 on_done;	/* exactly once, unless curlm_abort */
	void		*arg;
};

struct curlm	*curlm_new(struct loop *);
/* Cancel every transfer without calling back, then free. NULL is a no-op. */
void		 curlm_free(struct curlm *);
/* Every transfer's on_done runs now, once, with !ok and error = why. */
void		 curlm_cancel_all(struct curlm *, const char *why);
/* The request is copied (secret headers wiped after use); NULL on failure, then nothing calls back. */
struct curlm_xfer *curlm_start(struct curlm *, const struct curlm_req *);
/* Stop now and free; on_done is not called. Closing the connection is how a backend learns to stop. */
void		 curlm_abort(struct curlm *, struct curlm_xfer *);
/* The HTTP status received so far (0 before the status line). */
long		 curlm_status(struct curlm_xfer *);
int		 curlm_active(const struct curlm *);

#endif

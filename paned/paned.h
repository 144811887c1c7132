/*
 * paned.h: the operator's pane, a local web dashboard on 127.0.0.1 only.
 * It holds no Nostr key and no wallet secret; its only rights are the ops
 * of jobd's run/pane/pane.sock (docs/SECURITY.md, "The pane").
 */
#ifndef PANED_H
#define PANED_H

#include <stddef.h>
#include <cjson/cJSON.h>

#include "conf.h"

#define PANE_TOKEN_HEX		64	/* 32 random bytes */
#define PANE_MAX_SESSIONS	16
#define PANE_MAX_BODY		1024	/* a POST body */
#define PANE_MAX_ANSWER		(1024 * 1024)	/* jobd's answer */
#define PANE_CTL_TIMEOUT_MS	3000
#define PANE_COOKIE		"pane_session"

struct pane_file {
	const char	*name;		/* "/pane.js" */
	const char	*mime;
	char		*data;
	size_t		 len;
};

struct paned {
	struct conf	 conf;
	char		 token[PANE_TOKEN_HEX + 1];
	char		 sessions[PANE_MAX_SESSIONS][PANE_TOKEN_HEX + 1];
	unsigned	 next_session;
	char		 ctl_path[640];
	char		 www[1024];
	struct pane_file files[4];
	struct lws_context *lws;
	int		 stop;
};

/* auth.c: pure checks (unit-tested) and the token file */
int	auth_host_ok(const char *host, int port);
int	auth_origin_ok(const char *origin, int port);
int	auth_equal(const char *a, const char *b);	/* constant time for equal lengths */
int	auth_token_load(struct paned *, char *err, size_t errlen);
int	auth_session_new(struct paned *, char *out);	/* out: PANE_TOKEN_HEX + 1 */
int	auth_session_ok(const struct paned *, const char *cookie_header);
int	auth_cookie_value(const char *header, const char *name, char *out, size_t len);
int	auth_token_path(const struct conf *, char *buf, size_t len);

/* api.c: requests to jobd from HTTP input, and jobd's answers checked */
char	*api_jobs_request(const char *offset, const char *limit, const char *state);
char	*api_prices_request(const char *body, size_t len, char *err, size_t errlen);
/* Parse one answer line of jobd; NULL (with err) unless an object whose op is want or "error". */
cJSON	*api_parse_answer(const char *line, size_t len, const char *want, char *err,
	    size_t errlen);

/* ctl.c: one request, one answer over pane.sock (blocking, bounded) */
cJSON	*ctl_ask(const struct paned *, const char *line, const char *want, char *err,
	    size_t errlen);

/* http.c */
int	http_start(struct paned *);
void	http_stop(struct paned *);

#endif

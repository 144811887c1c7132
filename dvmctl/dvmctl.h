/*
 * dvmctl.h: the operator's tool. Talks to jobd's control socket (one
 * request line, one answer line), shows the answer as a table or as jobd's
 * JSON, and carries the small helpers scripts/dvm needs so that shell and C
 * read the config and the key the same way (conf KEY, keygen FILE, npub).
 */
#ifndef DVMCTL_H
#define DVMCTL_H

#include <stdio.h>
#include <cjson/cJSON.h>
#include "conf.h"

/* Longest answer we accept from jobd: 1000 jobs of a few hundred bytes fit easily. */
#define CTL_MAX_ANSWER	(16 * 1024 * 1024)
#define CTL_TIMEOUT_MS	10000

/* ctl.c */
/*
 * Send req to jobd's control socket and wait for one line. Returns the
 * parsed object (caller frees) and sets *raw to the line (malloc'd), or
 * NULL after printing why on stderr; *code gets the exit code to use.
 */
cJSON	*ctl_call(const struct conf *, const cJSON *req, char **raw, int *code);
/* 0 if state_dir/run/<name>.sock accepts a connection, else EXIT_TEMP. */
int	 ctl_probe(const struct conf *, const char *name);

/* show.c */
void	 show_init(FILE *out);
int	 show_status(const cJSON *);
int	 show_ok(const cJSON *);
int	 show_jobs(const cJSON *);
int	 show_stats(const cJSON *);

/* models.c */
int	 show_models(FILE *, const cJSON *);
void	 show_stats_models(FILE *, const cJSON *);
/* pane.c */
int	 pane_print_url(const struct conf *);

/* keys.c */
int	 keyfile_generate(const char *path);
int	 keyfile_print_npub(const char *path);

#endif

/*
 * inferd.h: private interface of the inference daemon.
 *
 * jobd (or a human on --stdio) sends infer/cancel/health lines; inferd runs
 * each job as one streaming HTTP transfer to an Ollama or OpenAI-compatible
 * backend, all transfers in one libcurl multi handle driven by the poll loop.
 * Stream parsers (ollama.c, openai.c) and the request mapping (opts.c) are
 * pure code with no loop or curl, so the unit tests link them alone.
 */
#ifndef INFERD_H
#define INFERD_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "conf.h"
#include "daemon.h"
#include "log.h"
#include "ndjson.h"
#include "srv.h"

#define JOB_ID_LEN		64
#define INFER_MAX_STOP		16	/* stop strings per request */
#define INFER_MAX_STOP_LEN	255	/* bytes per stop string */
#define INFER_MAX_MESSAGES	1024
#define STREAM_MAX_LINE		(8 * 1024 * 1024)	/* Ollama's own client allows 8 MiB */
#define ERRBODY_MAX		(64 * 1024)	/* bytes of an HTTP error body kept */
#define HEALTH_BODY_MAX		(4 * 1024 * 1024)
#define CHUNK_PIECE_MAX		(128 * 1024)	/* text per chunk line: escaped it stays < 1 MiB */
#define CACHE_MAX		1000	/* finished jobs remembered */
#define CACHE_TTL_MS		(10 * 60 * 1000)
#define SHUTDOWN_GRACE_MS	3000

/* Sampling options of an infer request; `set` says which were given. */
enum {
	OPT_MAX_TOKENS	= 1 << 0,
	OPT_TEMPERATURE	= 1 << 1,
	OPT_TOP_K	= 1 << 2,
	OPT_TOP_P	= 1 << 3,
	OPT_FREQ_PEN	= 1 << 4,
	OPT_PRES_PEN	= 1 << 5,
	OPT_REPEAT_PEN	= 1 << 6,
	OPT_SEED	= 1 << 7,
	OPT_STOP	= 1 << 8,
};

struct infer_opts {
	unsigned	 set;
	long long	 max_tokens, top_k, seed;
	double		 temperature, top_p;
	double		 frequency_penalty, presence_penalty, repeat_penalty;
	size_t		 nstop;
	char		*stop[INFER_MAX_STOP];
};

/* One validated infer request. Owns every pointer. */
struct infer_req {
	char		 job[JOB_ID_LEN + 1];
	char		*model;
	cJSON		*messages;	/* array of {role, content}: rebuilt, not the peer's */
	char		*prompt;	/* or a raw prompt (/api/generate) */
	int		 stream;	/* send chunk lines */
	struct infer_opts opts;
};

/* What a backend stream has said so far (ollama.c, openai.c, stream.c). */
enum stream_kind { SK_OLLAMA_CHAT, SK_OLLAMA_GENERATE, SK_OPENAI };

/* Text delta; return non-zero to stop the stream (output cap reached). */
typedef int (*stream_text_fn)(void *arg, const char *s, size_t n);

struct stream {
	enum stream_kind kind;
	stream_text_fn	 on_text;
	void		*arg;
	char		*line;		/* the partial line being assembled */
	size_t		 len, cap;
	int		 last_cr;	/* SSE: a '\r' ended the previous byte run */
	char		*data;		/* SSE: data lines of the current event */
	size_t		 dlen, dcap;
	int		 finished;	/* done:true, or a finish_reason */
	int		 has_reason;	/* a non-empty done_reason without done:true */
	int		 done_marker;	/* SSE "[DONE]" */
	int		 stopped;	/* on_text asked to stop */
	int		 failed;	/* error line, malformed line, or overlong line */
	int		 error_line;	/* failed because the backend said so */
	char		*error;		/* malloc'd reason when failed */
	char		 done_reason[16];
	long long	 prompt_tokens, completion_tokens;
	int		 have_usage;
	unsigned long	 deltas;	/* text deltas seen: a token count of last resort */
};

/* A finished stream's verdict. */
enum stream_end { SE_COMPLETE, SE_FAILED, SE_INCOMPLETE };

/* opts.c */
int	 req_parse(const cJSON *msg, struct infer_req *, char *err, size_t errlen);
void	 req_apply_defaults(struct infer_req *, const struct conf *);
void	 req_free(struct infer_req *);
int	 keep_alive_add(cJSON *body, const char *keep_alive);

/* ollama.c */
const char *ollama_path(const struct infer_req *);
char	*ollama_build_body(const struct infer_req *, const char *keep_alive);
int	 ollama_line(struct stream *, const char *line, size_t len);

/* openai.c */
char	*openai_build_body(const struct infer_req *);
int	 openai_feed(struct stream *, const char *buf, size_t n);
int	 openai_event(struct stream *, const char *data, size_t len);

/* stream.c */
void	 stream_init(struct stream *, enum stream_kind, stream_text_fn, void *arg);
void	 stream_free(struct stream *);
int	 stream_feed(struct stream *, const char *buf, size_t n);
enum stream_end stream_eof(struct stream *);
int	 stream_fail(struct stream *, int from_backend, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
int	 stream_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n, size_t max);
const char *error_message_of(const cJSON *err);
size_t	 utf8_whole_len(const char *, size_t);
char	*utf8_clean(const char *, size_t, size_t *outn);

/*
 * Everything below needs the running daemon (loop, curl, sockets).
 */
struct inferd;
struct loop;
struct curlm;
struct curlm_xfer;
struct srv;
struct srv_client;
struct backend;
struct job;

/* One model a backend lists (catalog.c). */
struct bmodel {
	char		*name, *family, *psize, *quant;
	long		 ctx;		/* context length, 0: unknown */
	int		 completion;	/* can complete text */
	int		 cloud;		/* an Ollama cloud model */
	int		 seen;		/* in the last probe */
	int		 hits, misses;	/* consecutive probes with, without it */
	int		 confirmed;	/* in the catalog */
	int		 gone;		/* a job was told it is not there */
};

/* backend.c: the pool. */
struct backend {
	struct inferd	*in;
	char		*url;		/* without a trailing '/' */
	char		*name;		/* url without its user info: for logs and messages */
	enum infer_backend kind;
	int		 ok, model_ok, probed;
	char		*error;		/* why not ok; malloc'd or NULL */
	char		**models;
	size_t		 nmodels;
	struct bmodel	*bm;		/* debounced listing (catalog.c) */
	size_t		 nbm;
	int		 listed;	/* a probe has listed models once */
	int		 inflight, max_inflight;
	struct curlm_xfer *hx;		/* health probe in progress */
	int		 hstage;	/* 0 version/models, 1 tags */
	char		*hbody;
	size_t		 hlen, hcap;
};
struct pool {
	struct backend	*b;
	size_t		 n;
	void		(*on_first)(struct inferd *);
	int		 first_done;
	uint64_t	 timer;
	char		*catalog_last;	/* the last catalog sent, to send only changes */
};
int	 pool_init(struct inferd *, void (*on_first_probe)(struct inferd *));
void	 pool_free(struct inferd *);
struct backend *pool_pick(struct inferd *, const char *model, const struct backend *exclude,
	    int *all_busy);
void	 pool_mark(struct backend *, int ok, const char *why);
cJSON	*pool_health_json(struct inferd *);
void	 pool_probe_all(struct inferd *);
size_t	 pool_size(struct inferd *);
int	 pool_model_elsewhere(const struct backend *, const char *model);

/* catalog.c: each backend's models, debounced, and their union */
int	 catalog_probe(struct backend *, const cJSON *arr, const char *key);
void	 catalog_clear(struct backend *);
int	 catalog_has(const struct backend *, const char *model);
void	 catalog_gone(struct backend *, const char *model);
cJSON	*catalog_json(struct inferd *);
cJSON	*catalog_message(struct inferd *);
void	 catalog_publish(struct inferd *);
void	 pool_set_limits(struct inferd *, int max_inflight);

/* cache.c: a list in arrival order, the oldest at the head. */
struct cached;
struct cache {
	struct cached	*head, *tail;
	size_t		 n;
};
const char *cache_find(struct cache *, const char *id);
void	 cache_put(struct cache *, const char *id, const char *line);
void	 cache_free(struct cache *);

/* job.c */
struct jobs {
	struct job	*head;
	size_t		 n;
};
void	 job_submit(struct inferd *, struct srv_client *, struct infer_req *);
void	 job_cancel(struct inferd *, const char *id);
void	 job_client_gone(struct inferd *, struct srv_client *);
size_t	 job_count_for(struct inferd *, const struct srv_client *);
void	 job_shutdown_all(struct inferd *);
void	 job_free_all(struct inferd *);
size_t	 job_running(struct inferd *);

/* ipc.c */
struct ipc {
	struct srv	*srv;
};
int	 ipc_listen(struct inferd *, const char *path);
int	 ipc_stdio(struct inferd *);
void	 ipc_stop_listening(struct inferd *);
void	 ipc_close_all(struct inferd *);
int	 ipc_pending(struct inferd *);
int	 ipc_stdin_closed(struct inferd *);

/* bearer.c: the API key over plain http to another machine is warned about */
void	bearer_warn_plaintext(const struct conf *, const char *key);

/* main.c: the daemon's state, passed to every module. */
struct inferd {
	struct daemon_args args;	/* the shared options */
	const char	*opt_backend;	/* --backend, --model, --url: over the config */
	const char	*opt_model;
	const char	*opt_urls[CONF_MAX_LIST];
	size_t		 nopt_urls;
	struct conf	 conf;
	struct loop	*loop;
	struct curlm	*curlm;		/* every HTTP transfer */
	char		*api_key;	/* bearer for OpenAI-compatible servers, or NULL */
	char		 sock_path[512];
	int		 stdio;
	int		 stopping;	/* SIGTERM: answer open jobs, flush, exit */
	uint64_t	 grace_timer;	/* SIGTERM: how long clients get to read */
	struct pool	 pool;
	struct cache	 cache;
	struct jobs	 jobs;
	struct ipc	 ipc;
};

#endif

/*
 * bearer.c: where the OpenAI API key goes. inferd sends it as a bearer
 * token to every OpenAI-compatible backend; over plain http to another
 * machine anyone on the path reads it. That can be deliberate (a GPU box on
 * a private LAN), so it is allowed, but never silently: inferd says so at
 * start and on every reload that reads the key.
 */
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

#include "inferd.h"

/* 1 if host (n bytes, no brackets) is this machine's loopback. */
static int
bearer_host_loopback(const char *host, size_t n)
{
	char h[256];
	struct in_addr a4;
	struct in6_addr a6;

	if (n == 0 || n >= sizeof(h))
		return 0;
	memcpy(h, host, n);
	h[n] = '\0';
	if (strcasecmp(h, "localhost") == 0 ||
	    (n > 10 && strcasecmp(h + n - 10, ".localhost") == 0))
		return 1;
	if (inet_pton(AF_INET, h, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, h, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		    (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

/*
 * For url = http://[userinfo@]host[:port]/...: 1 with host in *h, *hn if
 * it is plain http. The user info is skipped: it is a secret too.
 */
static int
bearer_plain_host(const char *url, const char **h, size_t *hn)
{
	const char *p, *end, *at;

	if (strncasecmp(url, "http://", 7) != 0)
		return 0;
	p = url + 7;
	end = p + strcspn(p, "/?#");
	for (at = p; at < end; at++)
		if (*at == '@')
			p = at + 1;
	if (p < end && *p == '[') {
		const char *close = memchr(p, ']', (size_t)(end - p));

		if (close == NULL)
			return 0;
		*h = p + 1;
		*hn = (size_t)(close - p - 1);
		return 1;
	}
	*h = p;
	*hn = strcspn(p, ":/?#");
	if (*h + *hn > end)
		*hn = (size_t)(end - p);
	return 1;
}

/* Warn once per backend that would get key over plain http off this machine. */
void
bearer_warn_plaintext(const struct conf *c, const char *key)
{
	const char *h;
	size_t i, hn;

	if (key == NULL || c->infer_backend != BACKEND_OPENAI)
		return;
	for (i = 0; i < c->infer_urls.n; i++)
		if (bearer_plain_host(c->infer_urls.v[i], &h, &hn) && !bearer_host_loopback(h, hn))
			log_warnx("openai_api_key_file: the API key goes to %.*s over plain "
			    "http: anyone on the network path can read it (use https, or a "
			    "backend on this machine)", (int)(hn > 200 ? 200 : hn), h);
}

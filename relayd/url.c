/*
 * url.c: relay URLs. They come from the config and from jobd (relay hints
 * found in requests), so they are checked strictly (url_normalize, in
 * common/netaddr.c, gives the canonical form): ws:// or wss://, printable
 * ASCII, a host, a port in range, bounded lengths.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "relayd.h"

static int
url_host_ok(const char *h, size_t n, int bracketed)
{
	size_t i;

	if (n == 0 || n >= RELAY_URL_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (bracketed ? !(isxdigit(c) || c == ':' || c == '.') :
		    !(isalnum(c) || c == '-' || c == '.' || c == '_'))
			return 0;
	}
	return 1;
}

/*
 * Split a normalized URL into host (brackets removed), port (default 80 or
 * 443), path (with the query; "/" if none) and Host header. -1 if malformed.
 */
int
url_parse(const char *url, struct relay *r)
{
	const char *p, *auth, *hend, *pend;
	size_t hl;
	long port;
	char *end;
	int n, br;

	r->tls = strncmp(url, "wss://", 6) == 0;
	if (!r->tls && strncmp(url, "ws://", 5) != 0)
		return -1;
	auth = url + (r->tls ? 6 : 5);
	pend = auth + strcspn(auth, "/?");
	if ((br = *auth == '[')) {
		if ((hend = memchr(auth, ']', (size_t)(pend - auth))) == NULL)
			return -1;
		p = hend + 1;
		auth++;
	} else {
		hend = memchr(auth, ':', (size_t)(pend - auth));
		if (hend == NULL)
			hend = pend;
		p = hend;
	}
	hl = (size_t)(hend - auth);
	if (!url_host_ok(auth, hl, br))
		return -1;
	port = r->tls ? 443 : 80;
	if (p < pend) {
		if (*p != ':' || p + 1 == pend || !isdigit((unsigned char)p[1]))
			return -1;
		port = strtol(p + 1, &end, 10);
		if (end != pend || port < 1 || port > 65535)
			return -1;
	}
	r->port = (int)port;
	memcpy(r->host, auth, hl);
	r->host[hl] = '\0';
	n = snprintf(r->path, sizeof(r->path), "%s%s", *pend == '/' ? "" : "/", pend);
	if (n < 0 || (size_t)n >= sizeof(r->path))
		return -1;
	if (port == (r->tls ? 443 : 80))
		n = snprintf(r->hosthdr, sizeof(r->hosthdr), br ? "[%s]" : "%s", r->host);
	else
		n = snprintf(r->hosthdr, sizeof(r->hosthdr), br ? "[%s]:%ld" : "%s:%ld",
		    r->host, port);
	return n < 0 || (size_t)n >= sizeof(r->hosthdr) ? -1 : 0;
}

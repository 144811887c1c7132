/*
 * resolve.c: host name lookups that do not block the loop. libwebsockets
 * 4.1 as built by Debian resolves with a blocking getaddrinfo inside
 * lws_client_connect_via_info, so one relay whose DNS hangs would stall all
 * the others. relayd resolves first with glibc's getaddrinfo_a (its own
 * helper thread does the waiting), polls the answer from the tick, then
 * hands lws an address literal (Host header, SNI and the certificate check
 * still use the name).
 *
 * For a relay outside the config (a requester's hint) only public
 * addresses are taken: a public name with a private A or AAAA record must
 * not make relayd dial into this machine or its network (DNS rebinding).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "loop.h"
#include "netaddr.h"
#include "relayd.h"

/* 1 if host is an IPv4 or IPv6 literal (lws connects to those directly). */
int
resolve_is_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Start looking up host (kept by pointer until done). -1 on failure. */
int
resolve_start(struct resolve *rs, const char *host)
{
	int rc;

	memset(rs, 0, sizeof(*rs));
	rs->hints.ai_family = AF_UNSPEC;
	rs->hints.ai_socktype = SOCK_STREAM;
	rs->cb.ar_name = host;
	rs->cb.ar_request = &rs->hints;
	rs->list[0] = &rs->cb;
	if ((rc = getaddrinfo_a(GAI_NOWAIT, rs->list, 1, NULL)) != 0) {
		log_warnx("resolve %s: %s", host, gai_strerror(rc));
		return -1;
	}
	rs->busy = 1;
	rs->started = now_ms();
	return 0;
}

/*
 * 1 with the first address in ip (with public_only, the first public one),
 * 0 while in progress, -1 if it failed (why set to a static message).
 */
int
resolve_poll(struct resolve *rs, int public_only, char *ip, size_t iplen, const char **why)
{
	const struct addrinfo *ai;
	int rc, pass, skipped = 0;

	if (!rs->busy)
		return -1;
	if ((rc = gai_error(&rs->cb)) == EAI_INPROGRESS)
		return 0;
	rs->busy = 0;
	*why = rc == 0 ? "no address" : gai_strerror(rc);
	if (rc != 0)
		return -1;
	/* IPv4 first: more often reachable than a host's advertised IPv6. */
	for (pass = 0; pass < 2; pass++)
		for (ai = rs->cb.ar_result; ai != NULL; ai = ai->ai_next) {
			const void *a;

			if (ai->ai_family != (pass == 0 ? AF_INET : AF_INET6))
				continue;
			if (public_only && netaddr_private_sa(ai->ai_addr)) {
				skipped = 1;
				continue;
			}
			a = ai->ai_family == AF_INET ?
			    (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr :
			    (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
			if (inet_ntop(ai->ai_family, a, ip, (socklen_t)iplen) != NULL) {
				freeaddrinfo(rs->cb.ar_result);
				rs->cb.ar_result = NULL;
				return 1;
			}
		}
	freeaddrinfo(rs->cb.ar_result);
	rs->cb.ar_result = NULL;
	if (skipped)
		*why = "resolves only to private addresses";
	return -1;
}

/*
 * Give up on a lookup. 0 once it is no longer running (the struct may be
 * freed), -1 if glibc could not cancel it yet (poll again later).
 */
int
resolve_cancel(struct resolve *rs)
{
	const char *why;
	char ip[64];

	if (!rs->busy)
		return 0;
	if (gai_cancel(&rs->cb) == EAI_NOTCANCELED) {
		if (resolve_poll(rs, 0, ip, sizeof(ip), &why) == 0)
			return -1;
		return 0;
	}
	/* Cancelled (or already done): collect whatever result there is. */
	(void)resolve_poll(rs, 0, ip, sizeof(ip), &why);
	rs->busy = 0;
	return 0;
}

/* At exit: wait (bounded) for lookups glibc could not cancel. */
int
resolve_wait(struct resolve *rs, int ms)
{
	const struct gaicb *list[1] = { &rs->cb };
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	if (!rs->busy)
		return 0;
	if (resolve_cancel(rs) == 0)
		return 0;
	(void)gai_suspend(list, 1, &ts);
	return resolve_cancel(rs);
}

/*
 * netaddr.c: the private-address rule. A requester's relay hint makes
 * relayd open a connection; pointed at this machine or our own network it
 * would reach services that trust their neighbours. So a hint must name a
 * public host, checked twice: by name and literal in jobd (nothing leaves
 * for a bad one) and by the resolved address in relayd (a public name
 * with a private A record is not dialled).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "netaddr.h"

int
netaddr_private4(uint32_t ip)
{
	return (ip >> 24) == 0 || (ip >> 24) == 10 || (ip >> 24) == 127 ||
	    (ip >> 22) == (100u << 2 | 1) ||		/* 100.64/10, shared */
	    (ip >> 16) == (169u << 8 | 254) ||		/* link-local */
	    (ip >> 20) == (172u << 4 | 1) ||		/* 172.16/12 */
	    (ip >> 16) == (192u << 8 | 168) ||
	    (ip >> 8) == (192u << 16 | 0 << 8 | 0) ||	/* 192.0.0/24 */
	    (ip >> 8) == (192u << 16 | 0 << 8 | 2) ||	/* 192.0.2/24, documentation */
	    (ip >> 8) == (192u << 16 | 88 << 8 | 99) ||	/* 6to4 relays */
	    (ip >> 17) == (198u << 7 | 18 >> 1) ||	/* 198.18/15, benchmarking */
	    (ip >> 8) == (198u << 16 | 51 << 8 | 100) ||	/* documentation */
	    (ip >> 8) == (203u << 16 | 0 << 8 | 113) ||	/* documentation */
	    (ip >> 28) >= 14;				/* multicast, reserved */
}

static uint32_t
v4_at(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int
netaddr_private6(const struct in6_addr *a)
{
	const uint8_t *b = a->s6_addr;
	static const uint8_t zero[12], mapped[12] = { [10] = 0xff, [11] = 0xff };
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };

	/* ::a.b.c.d (compatible, with :: and ::1), ::ffff:a.b.c.d, 64:ff9b::a.b.c.d */
	if (memcmp(b, zero, 12) == 0 || memcmp(b, mapped, 12) == 0 ||
	    memcmp(b, nat64, 12) == 0)
		return netaddr_private4(v4_at(b + 12));	/* :: and ::1 fall in 0/8 */
	if (b[0] == 0x20 && b[1] == 0x02)		/* 6to4: 2002:a.b.c.d::/48 */
		return netaddr_private4(v4_at(b + 2));
	if ((b[0] & 0xe0) != 0x20)
		return 1;	/* outside global unicast: ULA, link-local, multicast, 64:ff9b:1::... */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02)
		return 1;	/* 2001::/23: Teredo, ORCHID, benchmarking */
	if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
		return 1;	/* 2001:db8::/32, documentation */
	if (b[0] == 0x3f && b[1] == 0xff && b[2] < 0x10)
		return 1;	/* 3fff::/20, documentation */
	return 0;
}

int
netaddr_private_sa(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return netaddr_private4(ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr));
	if (sa->sa_family == AF_INET6)
		return netaddr_private6(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return 1;
}

/* 1 if name (lower case, n bytes) is s or ends in "." s. */
static int
name_is_or_under(const char *name, size_t n, const char *s)
{
	size_t k = strlen(s);

	return (n == k && memcmp(name, s, k) == 0) ||
	    (n > k && name[n - k - 1] == '.' && memcmp(name + n - k, s, k) == 0);
}

static int
name_is_this_host(const char *name, size_t n)
{
	char me[256];
	size_t k;

	if (gethostname(me, sizeof(me)) == -1)
		return 0;
	me[sizeof(me) - 1] = '\0';
	for (k = 0; me[k] != '\0'; k++)
		me[k] = (char)tolower((unsigned char)me[k]);
	while (k > 0 && me[k - 1] == '.')
		k--;
	return k > 0 && k == n && memcmp(me, name, n) == 0;
}

int
netaddr_host_private(const char *host, size_t n)
{
	static const char *const loopback[] = {
		"localhost.localdomain", "localhost6", "localhost6.localdomain6",
		"ip6-localhost", "ip6-loopback", "ip6-localnet", NULL
	};
	static const char *const local_zones[] = {
		"localhost", "local", "internal", "lan", "home.arpa", "localdomain", NULL
	};
	char name[256];
	struct in_addr a4;
	struct in6_addr a6;
	size_t i;

	if (n == 0 || n >= sizeof(name))
		return 1;
	for (i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)host[i]);
	while (n > 0 && name[n - 1] == '.')
		n--;
	name[n] = '\0';
	if (n == 0 || memchr(name, '\0', n) != NULL)
		return 1;
	if (strchr(name, ':') != NULL)
		return inet_pton(AF_INET6, name, &a6) != 1 || netaddr_private6(&a6);
	if (inet_aton(name, &a4) != 0)
		return netaddr_private4(ntohl(a4.s_addr));
	if (strchr(name, '.') == NULL)
		return 1;	/* single label: the search list makes it a local name */
	for (i = 0; loopback[i] != NULL; i++)
		if (strcmp(name, loopback[i]) == 0)
			return 1;
	for (i = 0; local_zones[i] != NULL; i++)
		if (name_is_or_under(name, n, local_zones[i]))
			return 1;
	return name_is_this_host(name, n);
}

/*
 * Canonical form of a relay URL: ws:// or wss://, lower-case scheme and
 * host, no trailing "/" when the path is just "/". -1 if it is not one.
 */
int
url_normalize(const char *in, char *out, size_t len)
{
	size_t n = strlen(in), i, hostend;
	const char *p;

	if (n == 0 || n >= len || n >= NETADDR_URL_MAX)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)in[i] <= ' ' || (unsigned char)in[i] >= 0x7f)
			return -1;
	if (strncasecmp(in, "ws://", 5) != 0 && strncasecmp(in, "wss://", 6) != 0)
		return -1;
	if (strchr(in, '#') != NULL)
		return -1;	/* a fragment names nothing on a relay */
	memcpy(out, in, n + 1);
	p = strstr(out, "://") + 3;
	hostend = (size_t)(p - out) + strcspn(p, "/?#");
	if (hostend == (size_t)(p - out))
		return -1;
	for (i = 0; i < hostend; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	if (strcmp(out + hostend, "/") == 0)
		out[hostend] = '\0';
	return 0;
}

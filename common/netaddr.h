/*
 * netaddr.h: is an address or a host name this machine or a private
 * network? jobd asks it of the relay hints a requester writes, relayd of
 * the address a name resolves to, before it dials a relay outside the
 * config; and the canonical form of a relay URL both compare.
 */
#ifndef NETADDR_H
#define NETADDR_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* 1 if the IPv4 address (host byte order) is not on the public Internet. */
int	netaddr_private4(uint32_t ip);
/*
 * 1 if the IPv6 address is not public: anything outside 2000::/3, the
 * special ranges inside it, and every form that embeds an IPv4 address
 * (mapped, compatible, NAT64, 6to4) whose IPv4 address is private.
 */
int	netaddr_private6(const struct in6_addr *);
/* netaddr_private4/6 of a sockaddr_in or sockaddr_in6; 1 for other families. */
int	netaddr_private_sa(const struct sockaddr *);
/*
 * 1 if host (n bytes, no brackets, no port) names this machine or a local
 * network: an IPv4 literal in any form inet_aton takes (127.1, 0x7f.0.0.1,
 * 2130706433), an IPv6 literal (netaddr_private6; a zone id or a bad one
 * counts as private), a loopback name (localhost, localhost.localdomain,
 * ip6-localhost, localhost6, ...), a name under .localhost, .local,
 * .internal, .lan, .home.arpa, a single-label name (the resolver's search
 * list makes it local), and this machine's own host name. Case and
 * trailing dots are ignored. A public name is 0 whatever it resolves to:
 * that is the dialler's check.
 */
int	netaddr_host_private(const char *host, size_t n);

#define NETADDR_URL_MAX	256	/* bytes of a relay URL, NUL included */

/*
 * Canonical form of a relay URL: ws:// or wss://, lower-case scheme and
 * host, no trailing "/" when the path is just "/". -1 if it is not one
 * (also: not printable ASCII, a fragment, no host, too long). relayd names
 * relays by this form; jobd compares what relayd names with it.
 */
int	url_normalize(const char *in, char *out, size_t len);

#endif

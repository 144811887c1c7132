/*
 * test_netaddr.c: the private-address rule shared by jobd (relay hints as
 * written) and relayd (the address a hint's name resolves to).
 */
#include <arpa/inet.h>
#include <string.h>
#include <unistd.h>

#include "netaddr.h"
#include "t.h"

static int
p6(const char *s)
{
	struct in6_addr a;

	if (inet_pton(AF_INET6, s, &a) != 1)
		return -1;
	return netaddr_private6(&a);
}

static int
host(const char *s)
{
	return netaddr_host_private(s, strlen(s));
}

TEST(ipv6_forms)
{
	static const char *const priv[] = {
		"::", "::1", "::127.0.0.1", "::10.0.0.1", "::ffff:127.0.0.1", "::ffff:192.168.0.1",
		"64:ff9b::a00:1", "64:ff9b::7f00:1", "64:ff9b:1::1", "2002:7f00:1::", "2002:a00:1::1",
		"2002:c0a8::1", "fc00::1", "fd12:3456::1", "fe80::1", "fec0::1", "ff02::1",
		"2001::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::1", "3fff::1", "100::1",
	};
	static const char *const pub[] = {
		"2606:4700:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8", "64:ff9b::808:808",
		"2002:808:808::1", "2400:cb00::1",
	};
	size_t i;

	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		CHECKF(p6(priv[i]) == 1, "%s counted public", priv[i]);
	for (i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		CHECKF(p6(pub[i]) == 0, "%s counted private", pub[i]);
}

TEST(ipv4_and_sockaddr)
{
	struct sockaddr_in s4 = { .sin_family = AF_INET };
	struct sockaddr_in6 s6 = { .sin6_family = AF_INET6 };
	struct sockaddr other = { .sa_family = AF_UNIX };

	CHECK(netaddr_private4(0x7f000001) && netaddr_private4(0x0a000001) &&
	    netaddr_private4(0xc0000201) && netaddr_private4(0xcb007101) && netaddr_private4(0xe0000001));
	CHECK(!netaddr_private4(0x08080808) && !netaddr_private4(0xac200001));
	inet_pton(AF_INET, "127.0.0.1", &s4.sin_addr);
	CHECK(netaddr_private_sa((struct sockaddr *)&s4) == 1);
	inet_pton(AF_INET, "1.1.1.1", &s4.sin_addr);
	CHECK(netaddr_private_sa((struct sockaddr *)&s4) == 0);
	inet_pton(AF_INET6, "::ffff:10.0.0.1", &s6.sin6_addr);
	CHECK(netaddr_private_sa((struct sockaddr *)&s6) == 1);
	inet_pton(AF_INET6, "2606:4700::1", &s6.sin6_addr);
	CHECK(netaddr_private_sa((struct sockaddr *)&s6) == 0);
	CHECK(netaddr_private_sa(&other) == 1);
}

TEST(host_names)
{
	static const char *const priv[] = {
		"localhost", "LOCALHOST.", "a.localhost", "localhost.localdomain", "ip6-localhost",
		"ip6-loopback", "localhost6", "localhost6.localdomain6", "relay", "printer.local",
		"x.internal", "nas.home.arpa", "box.lan", "127.1", "0x7f.0.0.1", "2130706433",
		"10.0.0.1", "::1", "fe80::1%eth0", "", ".", "a\0b",
	};
	static const char *const pub[] = {
		"relay.example", "8.8.8.8", "localhost.example", "local.example", "2606:4700::1",
	};
	char me[256];
	size_t i;

	for (i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
		CHECKF(host(priv[i]) == 1, "%s counted public", priv[i]);
	CHECK(netaddr_host_private("a\0b", 3) == 1);
	for (i = 0; i < sizeof(pub) / sizeof(pub[0]); i++)
		CHECKF(host(pub[i]) == 0, "%s counted private", pub[i]);
	REQUIRE(gethostname(me, sizeof(me) - 1) == 0);
	me[sizeof(me) - 1] = '\0';
	CHECKF(host(me) == 1, "our own name %s counted public", me);
}

int
main(void)
{
	RUN(ipv6_forms);
	RUN(ipv4_and_sockaddr);
	RUN(host_names);
	return t_failed_cases != 0;
}

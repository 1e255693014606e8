/* Upstream connects: the address classes (every embedded IPv4 form judged
 * by the address it embeds), and connect() refusing what the route does not
 * name, allowing what it does, and saying why it failed.  Everything runs on
 * loopback: there is no other network here. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* The statics too: the refusal message's list and route_allows_address. */
#include "../../sidecar/egress/upstream.c"

struct class_case {
	const char *addr;
	enum upstream_address_class class;
};

#define PUB UPSTREAM_ADDRESS_PUBLIC
#define LOOP UPSTREAM_ADDRESS_LOOPBACK
#define PRIV UPSTREAM_ADDRESS_PRIVATE
#define LINK UPSTREAM_ADDRESS_LINK_LOCAL
#define META UPSTREAM_ADDRESS_METADATA
#define MCAST UPSTREAM_ADDRESS_MULTICAST
#define UNSPEC UPSTREAM_ADDRESS_UNSPECIFIED
#define RSVD UPSTREAM_ADDRESS_RESERVED

static const struct class_case class_cases[] = {
	/* IPv4, each range and both of its edges */
	{ "0.0.0.0", UNSPEC },
	{ "0.255.255.255", UNSPEC },
	{ "1.0.0.0", PUB },
	{ "1.1.1.1", PUB },
	{ "8.8.8.8", PUB },
	{ "9.255.255.255", PUB },
	{ "10.0.0.0", PRIV },
	{ "10.255.255.255", PRIV },
	{ "11.0.0.0", PUB },
	{ "100.63.255.255", PUB },
	{ "100.64.0.0", PRIV },
	{ "100.100.100.200", META },
	{ "100.100.100.201", PRIV },
	{ "100.127.255.255", PRIV },
	{ "100.128.0.0", PUB },
	{ "126.255.255.255", PUB },
	{ "127.0.0.1", LOOP },
	{ "127.255.255.255", LOOP },
	{ "128.0.0.0", PUB },
	{ "169.253.255.255", PUB },
	{ "169.254.0.1", LINK },
	{ "169.254.169.254", META },
	{ "169.254.169.253", LINK },
	{ "169.254.170.2", META },
	{ "169.254.170.3", LINK },
	{ "169.255.0.0", PUB },
	{ "172.15.255.255", PUB },
	{ "172.16.0.0", PRIV },
	{ "172.31.255.255", PRIV },
	{ "172.32.0.0", PUB },
	{ "192.0.0.8", RSVD },
	{ "192.0.1.1", PUB },
	{ "192.0.2.1", RSVD },
	{ "192.0.3.1", PUB },
	{ "192.167.255.255", PUB },
	{ "192.168.0.1", PRIV },
	{ "192.168.255.255", PRIV },
	{ "192.169.0.0", PUB },
	{ "198.17.255.255", PUB },
	{ "198.18.0.0", RSVD },
	{ "198.19.255.255", RSVD },
	{ "198.20.0.0", PUB },
	{ "198.51.100.7", RSVD },
	{ "203.0.113.7", RSVD },
	{ "203.0.114.7", PUB },
	{ "223.255.255.255", PUB },
	{ "224.0.0.1", MCAST },
	{ "239.255.255.255", MCAST },
	{ "240.0.0.0", RSVD },
	{ "255.255.255.254", RSVD },
	{ "255.255.255.255", RSVD },
	/* IPv6 */
	{ "::", UNSPEC },
	{ "::1", LOOP },
	{ "::2", UNSPEC },          /* compatible form of 0.0.0.2 */
	{ "2606:4700::1111", PUB },
	{ "2a00:1450:4001:82a::200e", PUB },
	{ "fe80::1", LINK },
	{ "febf:ffff::1", LINK },
	{ "fec0::1", PRIV },
	{ "fc00::1", PRIV },
	{ "fdff:ffff::1", PRIV },
	{ "fd00:ec2::254", META },
	{ "fd00:ec2::253", PRIV },
	{ "ff02::1", MCAST },
	{ "ff0e::1", MCAST },
	{ "2001:db8::1", RSVD },
	{ "2001:db9::1", PUB },
	{ "2001:2::1", RSVD },
	{ "3fff::1", RSVD },
	{ "100::1", RSVD },
	{ "100:0:0:1::1", RSVD },   /* outside 100::/64, still unallocated */
	{ "4000::1", RSVD },        /* outside 2000::/3 */
	{ "::ffff:0:127.0.0.1", RSVD }, /* SIIT, unallocated here */
	/* mapped */
	{ "::ffff:127.0.0.1", LOOP },
	{ "::ffff:10.1.2.3", PRIV },
	{ "::ffff:169.254.169.254", META },
	{ "::ffff:0.0.0.0", UNSPEC },
	{ "::ffff:8.8.8.8", PUB },
	/* compatible */
	{ "::127.0.0.1", LOOP },
	{ "::192.168.1.1", PRIV },
	{ "::8.8.8.8", PUB },
	/* NAT64 */
	{ "64:ff9b::127.0.0.1", LOOP },
	{ "64:ff9b::169.254.169.254", META },
	{ "64:ff9b::8.8.8.8", PUB },
	{ "64:ff9b:1::8.8.8.8", PRIV },
	{ "64:ff9b:0:1::8.8.8.8", RSVD }, /* neither NAT64 prefix */
	/* 6to4: the address is in bytes 2..5 */
	{ "2002:7f00:1::1", LOOP },
	{ "2002:a9fe:a9fe::", META },
	{ "2002:c0a8:101::1", PRIV },
	{ "2002:808:808::1", PUB },
};

/* Teredo addresses are computed from the client address they embed (stored
 * inverted in the last 32 bits) rather than written by hand. */
static void teredo_for(const char *v4, char *out, size_t len)
{
	uint8_t a[4];

	assert_int_equal(inet_pton(AF_INET, v4, a), 1);
	snprintf(out, len, "2001:0:4136:e378:8000:63bf:%02x%02x:%02x%02x", (uint8_t)~a[0],
		 (uint8_t)~a[1], (uint8_t)~a[2], (uint8_t)~a[3]);
}

static void expect_class(const char *s, enum upstream_address_class want)
{
	uint8_t a[16];
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;
	enum upstream_address_class got;

	assert_int_equal(inet_pton(family, s, a), 1);
	got = upstream_address_classify(family, a);
	if (got != want)
		fail_msg("%s: %s, expected %s", s, upstream_address_class_name(got),
			 upstream_address_class_name(want));
}

static void test_classify_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(class_cases) / sizeof(class_cases[0]); i++) {
		expect_class(class_cases[i].addr, class_cases[i].class);
	}
}

static void test_classify_teredo(void **state)
{
	static const struct class_case v4[] = {
		{ "127.0.0.1", LOOP }, { "169.254.169.254", META }, { "10.0.0.5", PRIV },
		{ "192.0.2.45", RSVD }, { "8.8.8.8", PUB },   { "0.0.0.0", UNSPEC },
	};
	char t[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v4) / sizeof(v4[0]); i++) {
		teredo_for(v4[i].addr, t, sizeof(t));
		expect_class(t, v4[i].class);
	}
	/* The same bytes not inverted are a different client. */
	expect_class("2001:0:4136:e378:8000:63bf:7f00:1", PUB); /* ~ = 128.255.255.254 */
	expect_class("2001:0:4136:e378:8000:63bf:7fff:fffe", PUB);
}

static void test_classify_other_family(void **state)
{
	uint8_t a[16] = { 0 };

	(void)state;
	assert_int_equal(upstream_address_classify(AF_UNIX, a), RSVD);
	assert_string_equal(upstream_address_class_name(META), "cloud metadata");
	assert_string_equal(upstream_address_class_name(PUB), "public");
	assert_string_equal(upstream_address_class_name((enum upstream_address_class)99), "unknown");
}

static struct route_address ra(const char *s, uint8_t prefix)
{
	struct route_address r = { 0 };

	r.family = strchr(s, ':') ? AF_INET6 : AF_INET;
	assert_int_equal(inet_pton(r.family, s, r.bytes), 1);
	r.prefix_len = prefix;
	return r;
}

static bool allows(const struct route *rt, const char *s)
{
	uint8_t a[16];
	int family = strchr(s, ':') ? AF_INET6 : AF_INET;

	assert_int_equal(inet_pton(family, s, a), 1);
	return route_allows_address(rt, family, a);
}

static void test_route_allows(void **state)
{
	struct route_address addrs[4];
	struct route rt = { 0 };

	(void)state;
	assert_false(allows(NULL, "127.0.0.1"));
	rt.host = "example.org";
	rt.host_kind = HTTP1_HOST_NAME;
	assert_false(allows(&rt, "127.0.0.1"));
	addrs[0] = ra("10.1.0.0", 16);
	addrs[1] = ra("127.0.0.1", 32);
	addrs[2] = ra("fd00::", 8);
	addrs[3] = ra("10.2.3.4", 33); /* impossible prefix: never matches */
	rt.addresses = addrs;
	rt.naddresses = 4;
	assert_true(allows(&rt, "10.1.255.255"));
	assert_false(allows(&rt, "10.2.0.0"));
	assert_false(allows(&rt, "10.2.3.4"));
	assert_true(allows(&rt, "127.0.0.1"));
	assert_false(allows(&rt, "127.0.0.2"));
	assert_false(allows(&rt, "::ffff:127.0.0.1")); /* families are not mixed */
	assert_true(allows(&rt, "fd12::1"));
	assert_false(allows(&rt, "fe12::1"));
	addrs[0] = ra("0.0.0.0", 0);
	assert_true(allows(&rt, "192.168.7.7"));
	assert_false(allows(&rt, "::1"));

	/* An IP-literal host names its own address, and only that. */
	rt.naddresses = 0;
	rt.host = "127.0.0.1";
	rt.host_kind = HTTP1_HOST_IPV4;
	assert_true(allows(&rt, "127.0.0.1"));
	assert_false(allows(&rt, "127.0.0.2"));
	rt.host = "::1";
	rt.host_kind = HTTP1_HOST_IPV6;
	assert_true(allows(&rt, "::1"));
	assert_false(allows(&rt, "127.0.0.1"));
	rt.host = "[fe80::1]";
	assert_true(allows(&rt, "fe80::1"));
	/* A name that looks like a literal but was not parsed as one. */
	rt.host = "127.0.0.1";
	rt.host_kind = HTTP1_HOST_NAME;
	assert_false(allows(&rt, "127.0.0.1"));
}

static void test_refusal_text(void **state)
{
	struct upstream_refusals rf = { .shown = 0 };
	char reason[512];

	(void)state;
	upstream_refusals_add(&rf, "10.0.0.5", PRIV);
	upstream_refusals_reason(&rf, "example.org", false, reason, sizeof(reason));
	assert_string_equal(reason, "example.org resolves only to 10.0.0.5 (private): "
				    "name the address in the route's addresses to allow it");
	upstream_refusals_add(&rf, "10.0.0.5", PRIV); /* duplicates are listed once */
	upstream_refusals_add(&rf, "fe80::1", LINK);
	upstream_refusals_add(&rf, "169.254.169.254", META);
	upstream_refusals_add(&rf, "127.0.0.1", LOOP);
	upstream_refusals_add(&rf, "127.0.0.2", LOOP);
	upstream_refusals_reason(&rf, "example.org", false, reason, sizeof(reason));
	assert_string_equal(reason,
			    "example.org resolves only to 10.0.0.5 (private), fe80::1 (link-local), "
			    "169.254.169.254 (cloud metadata) and 2 more: "
			    "name the address in the route's addresses to allow it");
	/* A too small buffer truncates, never overflows. */
	upstream_refusals_reason(&rf, "example.org", false, reason, 10);
	assert_string_equal(reason, "example.o");
}

/* ---- connecting on loopback ---- */

static int listener(int family, int backlog, uint16_t *port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		len = sizeof(*sin6);
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0) {
		close(fd);
		return -errno;
	}
	assert_int_equal(listen(fd, backlog), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					: ((struct sockaddr_in6 *)&ss)->sin6_port);
	return fd;
}

/* The socket is what the header promises: blocking, close-on-exec, no Nagle. */
static void expect_good_socket(int fd)
{
	int flags, one = 0;
	socklen_t len = sizeof(one);

	assert_true(fd >= 0);
	flags = fcntl(fd, F_GETFL);
	assert_true(flags >= 0);
	assert_false(flags & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, &len), 0);
	assert_true(one != 0);
}

static void test_connect_loopback(void **state)
{
	struct route_address addrs[1];
	struct route rt = { .host = "example.org", .host_kind = HTTP1_HOST_NAME };
	char reason[256], addr[64];
	uint16_t port;
	int l = listener(AF_INET, 8, &port), fd, a;

	(void)state;
	/* Not named: refused, and the reason says what to do. */
	fd = upstream_connect("127.0.0.1", port, &rt, 2000, addr, sizeof(addr), reason,
			      sizeof(reason));
	assert_int_equal(fd, -EACCES);
	assert_string_equal(addr, "");
	assert_string_equal(reason, "127.0.0.1 (loopback) is not a public address: "
				    "name it in the route's addresses to allow it");
	fd = upstream_connect("127.0.0.1", port, NULL, 2000, NULL, 0, NULL, 0);
	assert_int_equal(fd, -EACCES);

	/* Named under addresses: allowed. */
	addrs[0] = ra("127.0.0.1", 32);
	rt.addresses = addrs;
	rt.naddresses = 1;
	fd = upstream_connect("127.0.0.1", port, &rt, 2000, addr, sizeof(addr), reason,
			      sizeof(reason));
	expect_good_socket(fd);
	assert_string_equal(addr, "127.0.0.1");
	assert_string_equal(reason, "");
	a = accept(l, NULL, NULL);
	assert_true(a >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	assert_int_equal(read(a, reason, 1), 1);
	close(a);
	close(fd);

	/* A covering network works too; one that does not cover does not. */
	addrs[0] = ra("127.0.0.0", 8);
	fd = upstream_connect("127.0.0.1", port, &rt, 2000, NULL, 0, NULL, 0);
	expect_good_socket(fd);
	close(fd);
	close(accept(l, NULL, NULL));
	addrs[0] = ra("10.0.0.0", 8);
	fd = upstream_connect("127.0.0.1", port, &rt, 2000, NULL, 0, NULL, 0);
	assert_int_equal(fd, -EACCES);

	/* An IP-literal route host names its address. */
	rt.naddresses = 0;
	rt.host = "127.0.0.1";
	rt.host_kind = HTTP1_HOST_IPV4;
	fd = upstream_connect("127.0.0.1", port, &rt, 2000, addr, sizeof(addr), NULL, 0);
	expect_good_socket(fd);
	assert_string_equal(addr, "127.0.0.1");
	close(fd);
	close(accept(l, NULL, NULL));
	close(l);
}

static void test_connect_ipv6_loopback(void **state)
{
	struct route_address addrs[1];
	struct route rt = { .host = "example.org", .host_kind = HTTP1_HOST_NAME };
	char reason[256], addr[64];
	uint16_t port;
	int l = listener(AF_INET6, 8, &port), fd;

	(void)state;
	if (l < 0)
		skip(); /* no IPv6 loopback in this sandbox */
	fd = upstream_connect("[::1]", port, &rt, 2000, addr, sizeof(addr), reason,
			      sizeof(reason));
	assert_int_equal(fd, -EACCES);
	assert_string_equal(reason, "::1 (loopback) is not a public address: "
				    "name it in the route's addresses to allow it");
	addrs[0] = ra("::1", 128);
	rt.addresses = addrs;
	rt.naddresses = 1;
	fd = upstream_connect("::1", port, &rt, 2000, addr, sizeof(addr), reason, sizeof(reason));
	expect_good_socket(fd);
	assert_string_equal(addr, "::1");
	close(fd);
	close(l);
}

static void test_connect_refused_port(void **state)
{
	struct route rt = { .host = "127.0.0.1", .host_kind = HTTP1_HOST_IPV4 };
	char reason[256], want[256];
	uint16_t port;
	int l = listener(AF_INET, 1, &port), fd;

	(void)state;
	close(l); /* nothing listens on port now */
	fd = upstream_connect("127.0.0.1", port, &rt, 2000, NULL, 0, reason, sizeof(reason));
	assert_int_equal(fd, -ECONNREFUSED);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%u failed: %s", (unsigned)port,
		 strerror(ECONNREFUSED));
	assert_string_equal(reason, want);
}

/* A listener whose accept queue is full drops further SYNs, so a connect
 * to it hangs until our deadline. */
static void test_connect_timeout(void **state)
{
	struct route rt = { .host = "127.0.0.1", .host_kind = HTTP1_HOST_IPV4 };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char reason[256], want[256];
	int fillers[8], nfill = 0, fd, i;
	int64_t t0, took;
	uint16_t port;
	int l = listener(AF_INET, 0, &port);

	(void)state;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons(port);
	for (i = 0; i < 8; i++) {
		fillers[nfill] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fillers[nfill] >= 0);
		connect(fillers[nfill], (struct sockaddr *)&sin, sizeof(sin));
		nfill++;
	}
	usleep(100 * 1000);
	t0 = upstream_now_ms();
	fd = upstream_connect("127.0.0.1", port, &rt, 300, NULL, 0, reason, sizeof(reason));
	took = upstream_now_ms() - t0;
	for (i = 0; i < nfill; i++)
		close(fillers[i]);
	close(l);
	if (fd >= 0) {
		close(fd);
		skip(); /* this kernel queued the connection anyway */
	}
	assert_int_equal(fd, -ETIMEDOUT);
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%u timed out after 300ms",
		 (unsigned)port);
	assert_string_equal(reason, want);
	assert_true(took >= 250 && took < 2000);
}

static void test_connect_localhost_name(void **state)
{
	struct route rt = { .host = "localhost", .host_kind = HTTP1_HOST_NAME };
	char reason[256];
	int fd;

	(void)state;
	/* musl reads /etc/hosts: no DNS needed. */
	fd = upstream_connect("localhost", 443, &rt, 2000, NULL, 0, reason, sizeof(reason));
	assert_int_equal(fd, -EACCES);
	assert_true(strncmp(reason, "localhost resolves only to ", 27) == 0);
	assert_non_null(strstr(reason, " (loopback)"));
	assert_non_null(strstr(reason, ": name the address in the route's addresses to allow it"));
}

static void test_connect_bad_input(void **state)
{
	char reason[256], longname[300];
	int fd;

	(void)state;
	assert_int_equal(upstream_connect("", 443, NULL, 1000, NULL, 0, reason, sizeof(reason)),
			 -EINVAL);
	assert_string_equal(reason, "invalid upstream (empty host) port 443");
	assert_int_equal(upstream_connect(NULL, 443, NULL, 1000, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(upstream_connect("example.org", 0, NULL, 1000, NULL, 0, NULL, 0), -EINVAL);
	assert_int_equal(upstream_connect("example.org", 443, NULL, 0, NULL, 0, NULL, 0), -EINVAL);
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(upstream_connect(longname, 443, NULL, 1000, NULL, 0, NULL, 0), -EINVAL);
	/* Not a valid host name: the resolver refuses it without asking DNS. */
	fd = upstream_connect("bad name!", 443, NULL, 1000, NULL, 0, reason, sizeof(reason));
	assert_int_equal(fd, -ENOENT);
	assert_true(strncmp(reason, "cannot resolve bad name!: ", 26) == 0);
	/* Metadata literals are refused without a connect attempt. */
	fd = upstream_connect("169.254.169.254", 80, NULL, 1000, NULL, 0, reason, sizeof(reason));
	assert_int_equal(fd, -EACCES);
	assert_string_equal(reason, "169.254.169.254 (cloud metadata) is not a public address: "
				    "name it in the route's addresses to allow it");
	fd = upstream_connect("[::ffff:169.254.169.254]", 80, NULL, 1000, NULL, 0, reason,
			      sizeof(reason));
	assert_int_equal(fd, -EACCES);
	assert_string_equal(reason, "::ffff:169.254.169.254 (cloud metadata) is not a public "
				    "address: name it in the route's addresses to allow it");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify_table),
		cmocka_unit_test(test_classify_teredo),
		cmocka_unit_test(test_classify_other_family),
		cmocka_unit_test(test_route_allows),
		cmocka_unit_test(test_refusal_text),
		cmocka_unit_test(test_connect_loopback),
		cmocka_unit_test(test_connect_ipv6_loopback),
		cmocka_unit_test(test_connect_refused_port),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_connect_localhost_name),
		cmocka_unit_test(test_connect_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

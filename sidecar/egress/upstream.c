/* Connecting to an upstream safely: see upstream.h.
 *
 * Each candidate address is copied into the sockaddr that connect() will
 * receive, and that copy is what gets classified and compared with the
 * route, so nothing can change between the check and the connect. */
#include "upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A network and what an address inside it is.  Tables are searched in
 * order, so a specific entry (a metadata address) precedes the range that
 * contains it. */
struct upstream_net {
	uint8_t bytes[16];
	uint8_t prefix_len;
	enum upstream_address_class class;
};

static const struct upstream_net upstream_v4_nets[] = {
	{ { 0 }, 8, UPSTREAM_ADDRESS_UNSPECIFIED },
	{ { 10 }, 8, UPSTREAM_ADDRESS_PRIVATE },
	{ { 100, 100, 100, 200 }, 32, UPSTREAM_ADDRESS_METADATA }, /* Alibaba Cloud */
	{ { 100, 64 }, 10, UPSTREAM_ADDRESS_PRIVATE },              /* carrier-grade NAT */
	{ { 127 }, 8, UPSTREAM_ADDRESS_LOOPBACK },
	{ { 169, 254, 169, 254 }, 32, UPSTREAM_ADDRESS_METADATA },  /* AWS, GCP, Azure ... */
	{ { 169, 254, 170, 2 }, 32, UPSTREAM_ADDRESS_METADATA },    /* AWS ECS task metadata */
	{ { 169, 254 }, 16, UPSTREAM_ADDRESS_LINK_LOCAL },
	{ { 172, 16 }, 12, UPSTREAM_ADDRESS_PRIVATE },
	{ { 192, 0, 0 }, 24, UPSTREAM_ADDRESS_RESERVED },           /* IETF protocol assignments */
	{ { 192, 0, 2 }, 24, UPSTREAM_ADDRESS_RESERVED },           /* TEST-NET-1 */
	{ { 192, 168 }, 16, UPSTREAM_ADDRESS_PRIVATE },
	{ { 198, 18 }, 15, UPSTREAM_ADDRESS_RESERVED },             /* benchmarking */
	{ { 198, 51, 100 }, 24, UPSTREAM_ADDRESS_RESERVED },        /* TEST-NET-2 */
	{ { 203, 0, 113 }, 24, UPSTREAM_ADDRESS_RESERVED },         /* TEST-NET-3 */
	{ { 224 }, 4, UPSTREAM_ADDRESS_MULTICAST },
	{ { 240 }, 4, UPSTREAM_ADDRESS_RESERVED },                  /* and 255.255.255.255 */
};

/* Only the forms that embed no IPv4 address; those are handled first. */
static const struct upstream_net upstream_v6_nets[] = {
	{ { 0x01, 0x00 }, 64, UPSTREAM_ADDRESS_RESERVED },          /* 100::/64 discard */
	{ { 0x00, 0x64, 0xff, 0x9b, 0x00, 0x01 }, 48, UPSTREAM_ADDRESS_PRIVATE }, /* local NAT64 */
	{ { 0x20, 0x01, 0x00, 0x02, 0x00, 0x00 }, 48, UPSTREAM_ADDRESS_RESERVED }, /* benchmarking */
	{ { 0x20, 0x01, 0x0d, 0xb8 }, 32, UPSTREAM_ADDRESS_RESERVED },  /* documentation */
	{ { 0x3f, 0xff }, 20, UPSTREAM_ADDRESS_RESERVED },          /* documentation (RFC 9637) */
	{ { 0xfd, 0x00, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54 }, 128,
	  UPSTREAM_ADDRESS_METADATA },                              /* AWS IMDS over IPv6 */
	{ { 0xfc }, 7, UPSTREAM_ADDRESS_PRIVATE },                  /* unique local */
	{ { 0xfe, 0x80 }, 10, UPSTREAM_ADDRESS_LINK_LOCAL },
	{ { 0xfe, 0xc0 }, 10, UPSTREAM_ADDRESS_PRIVATE },           /* deprecated site-local */
	{ { 0xff }, 8, UPSTREAM_ADDRESS_MULTICAST },
	{ { 0x20 }, 3, UPSTREAM_ADDRESS_PUBLIC },                   /* global unicast */
};

static bool upstream_prefix_match(const uint8_t *addr, const uint8_t *net, unsigned prefix_len)
{
	unsigned whole = prefix_len / 8, rest = prefix_len % 8;
	uint8_t mask;

	if (memcmp(addr, net, whole) != 0)
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff << (8 - rest));
	return (addr[whole] & mask) == (net[whole] & mask);
}

static enum upstream_address_class upstream_classify_v4(const uint8_t *a)
{
	size_t i;

	for (i = 0; i < sizeof(upstream_v4_nets) / sizeof(upstream_v4_nets[0]); i++)
		if (upstream_prefix_match(a, upstream_v4_nets[i].bytes, upstream_v4_nets[i].prefix_len))
			return upstream_v4_nets[i].class;
	return UPSTREAM_ADDRESS_PUBLIC;
}

static bool upstream_all_zero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return false;
	return true;
}

static enum upstream_address_class upstream_classify_v6(const uint8_t *a)
{
	static const uint8_t nat64[12] = { 0x00, 0x64, 0xff, 0x9b };
	static const uint8_t teredo[4] = { 0x20, 0x01, 0x00, 0x00 };
	uint8_t v4[4];
	size_t i;

	if (upstream_all_zero(a, 15) && a[15] <= 1)
		return a[15] ? UPSTREAM_ADDRESS_LOOPBACK : UPSTREAM_ADDRESS_UNSPECIFIED;
	/* ::/96 (compatible) and ::ffff:0:0/96 (mapped) */
	if (upstream_all_zero(a, 10) &&
	    ((a[10] == 0 && a[11] == 0) || (a[10] == 0xff && a[11] == 0xff)))
		return upstream_classify_v4(a + 12);
	if (memcmp(a, nat64, sizeof(nat64)) == 0)
		return upstream_classify_v4(a + 12);
	if (a[0] == 0x20 && a[1] == 0x02) /* 6to4 */
		return upstream_classify_v4(a + 2);
	if (memcmp(a, teredo, sizeof(teredo)) == 0) {
		/* The client's address is stored inverted in the last 32 bits. */
		for (i = 0; i < 4; i++)
			v4[i] = (uint8_t)~a[12 + i];
		return upstream_classify_v4(v4);
	}
	for (i = 0; i < sizeof(upstream_v6_nets) / sizeof(upstream_v6_nets[0]); i++)
		if (upstream_prefix_match(a, upstream_v6_nets[i].bytes, upstream_v6_nets[i].prefix_len))
			return upstream_v6_nets[i].class;
	/* Outside 2000::/3 nothing is allocated for unicast: no origin lives there. */
	return UPSTREAM_ADDRESS_RESERVED;
}

enum upstream_address_class upstream_address_classify(int family, const uint8_t *addr)
{
	if (family == AF_INET)
		return upstream_classify_v4(addr);
	if (family == AF_INET6)
		return upstream_classify_v6(addr);
	return UPSTREAM_ADDRESS_RESERVED;
}

const char *upstream_address_class_name(enum upstream_address_class c)
{
	switch (c) {
	case UPSTREAM_ADDRESS_PUBLIC:
		return "public";
	case UPSTREAM_ADDRESS_LOOPBACK:
		return "loopback";
	case UPSTREAM_ADDRESS_PRIVATE:
		return "private";
	case UPSTREAM_ADDRESS_LINK_LOCAL:
		return "link-local";
	case UPSTREAM_ADDRESS_METADATA:
		return "cloud metadata";
	case UPSTREAM_ADDRESS_MULTICAST:
		return "multicast";
	case UPSTREAM_ADDRESS_UNSPECIFIED:
		return "unspecified";
	case UPSTREAM_ADDRESS_RESERVED:
		return "reserved";
	}
	return "unknown";
}

/* Parse an IP literal, with or without the brackets of a URL authority.
 * Returns the family, or 0 when s is not a literal. */
static int upstream_parse_literal(const char *s, uint8_t *bytes)
{
	char tmp[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(s);

	if (inet_pton(AF_INET, s, bytes) == 1)
		return AF_INET;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof(tmp))
			return 0;
		memcpy(tmp, s + 1, n - 2);
		tmp[n - 2] = '\0';
		s = tmp;
	}
	if (inet_pton(AF_INET6, s, bytes) == 1)
		return AF_INET6;
	return 0;
}

/* Whether the route names this address: in `addresses:`, or as its host.
 * Families are compared as they are: naming 127.0.0.1 does not allow
 * ::ffff:127.0.0.1. */
static bool route_allows_address(const struct route *route, int family, const uint8_t *addr)
{
	uint8_t lit[16];
	unsigned bits = family == AF_INET ? 32 : 128;
	size_t i;

	if (!route)
		return false;
	for (i = 0; i < route->naddresses; i++) {
		const struct route_address *ra = &route->addresses[i];

		if (ra->family == family && ra->prefix_len <= bits &&
		    upstream_prefix_match(addr, ra->bytes, ra->prefix_len))
			return true;
	}
	if (route->host && !route->wildcard &&
	    (route->host_kind == HTTP1_HOST_IPV4 || route->host_kind == HTTP1_HOST_IPV6) &&
	    upstream_parse_literal(route->host, lit) == family &&
	    memcmp(lit, addr, bits / 8) == 0)
		return true;
	return false;
}

static void upstream_reason(char *reason, size_t reason_len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void upstream_reason(char *reason, size_t reason_len, const char *fmt, ...)
{
	va_list ap;

	if (!reason || !reason_len)
		return;
	va_start(ap, fmt);
	vsnprintf(reason, reason_len, fmt, ap);
	va_end(ap);
}

/* The network-order address bytes inside a sockaddr of family AF_INET(6). */
static const uint8_t *upstream_sockaddr_bytes(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (const uint8_t *)&((const struct sockaddr_in *)ss)->sin_addr;
	return (const uint8_t *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static int64_t upstream_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One attempt: a connected, blocking socket, or a negative errno. */
static int upstream_try(const struct sockaddr_storage *ss, socklen_t len, int timeout_ms)
{
	int64_t deadline = upstream_now_ms() + timeout_ms, left;
	struct pollfd pfd;
	socklen_t elen = sizeof(int);
	int fd, flags, err = 0, one = 1, ret = -EINVAL, r;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0) {
		if (errno != EINPROGRESS) {
			ret = -errno;
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		for (;;) {
			left = deadline - upstream_now_ms();
			if (left <= 0) {
				ret = -ETIMEDOUT;
				goto out;
			}
			r = poll(&pfd, 1, (int)left);
			if (r > 0)
				break;
			if (r == 0) {
				ret = -ETIMEDOUT;
				goto out;
			}
			if (errno != EINTR) {
				ret = -errno;
				goto out;
			}
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) {
			ret = -errno;
			goto out;
		}
		if (err) {
			ret = -err;
			goto out;
		}
	}
	flags = fcntl(fd, F_GETFL);
	if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		ret = -errno;
		goto out;
	}
	return fd;
out:
	close(fd);
	return ret;
}

/* Addresses the route does not name, for the refusal message. */
#define UPSTREAM_REFUSED_SHOWN 3

struct upstream_refusals {
	char text[UPSTREAM_REFUSED_SHOWN][INET6_ADDRSTRLEN + 24];
	size_t shown, more;
};

static void upstream_refusals_add(struct upstream_refusals *rf, const char *addr,
				  enum upstream_address_class c)
{
	char t[sizeof(rf->text[0])];
	size_t i;

	snprintf(t, sizeof(t), "%s (%s)", addr, upstream_address_class_name(c));
	for (i = 0; i < rf->shown; i++)
		if (strcmp(rf->text[i], t) == 0)
			return;
	if (rf->shown == UPSTREAM_REFUSED_SHOWN) {
		rf->more++;
		return;
	}
	memcpy(rf->text[rf->shown++], t, sizeof(t));
}

static void upstream_refusals_reason(const struct upstream_refusals *rf, const char *host,
				     bool literal, char *reason, size_t reason_len)
{
	char list[sizeof(rf->text) + 64];
	size_t i, off = 0;

	list[0] = '\0';
	for (i = 0; i < rf->shown; i++)
		off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s", i ? ", " : "",
					rf->text[i]);
	if (rf->more)
		snprintf(list + off, sizeof(list) - off, " and %zu more", rf->more);
	if (literal)
		upstream_reason(reason, reason_len,
				"%s is not a public address: name it in the route's addresses to allow it",
				list);
	else
		upstream_reason(reason, reason_len,
				"%s resolves only to %s: name the address in the route's addresses to allow it",
				host, list);
}

static void upstream_connect_failed(int err, const char *addr, int family, uint16_t port,
				    int timeout_ms, char *reason, size_t reason_len)
{
	char where[INET6_ADDRSTRLEN + 16];

	snprintf(where, sizeof(where), family == AF_INET6 ? "[%s]:%u" : "%s:%u", addr,
		 (unsigned)port);
	if (err == -ETIMEDOUT && timeout_ms % 1000 == 0)
		upstream_reason(reason, reason_len, "connect to %s timed out after %ds", where,
				timeout_ms / 1000);
	else if (err == -ETIMEDOUT)
		upstream_reason(reason, reason_len, "connect to %s timed out after %dms", where,
				timeout_ms);
	else
		upstream_reason(reason, reason_len, "connect to %s failed: %s", where,
				strerror(-err));
}

static int upstream_gai_errno(int gai)
{
	switch (gai) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
		return -ENOENT;
	case EAI_MEMORY:
		return -ENOMEM;
	case EAI_SYSTEM:
		return errno ? -errno : -EHOSTUNREACH;
	default:
		return -EHOSTUNREACH;
	}
}

int upstream_connect(const char *host, uint16_t port, const struct route *route,
		     int timeout_ms, char *connected_addr, size_t connected_addr_len,
		     char *reason, size_t reason_len)
{
	struct upstream_refusals refused = { .shown = 0 };
	struct addrinfo hints, *res = NULL, *ai, literal_ai;
	struct sockaddr_storage ss, literal_ss;
	char text[INET6_ADDRSTRLEN];
	const uint8_t *bytes;
	enum upstream_address_class class;
	uint8_t lit[16];
	int family, ret = -EINVAL, gai, fd, tried = 0;
	socklen_t len;

	if (connected_addr && connected_addr_len)
		connected_addr[0] = '\0';
	upstream_reason(reason, reason_len, "%s", "");
	if (!host || !*host || strlen(host) > 255 || timeout_ms <= 0 || port == 0) {
		upstream_reason(reason, reason_len, "invalid upstream %s port %u",
				host && *host ? "host" : "(empty host)", (unsigned)port);
		return -EINVAL;
	}

	/* A literal is never looked up: it is the address. */
	family = upstream_parse_literal(host, lit);
	if (family) {
		memset(&literal_ss, 0, sizeof(literal_ss));
		memset(&literal_ai, 0, sizeof(literal_ai));
		literal_ss.ss_family = (sa_family_t)family;
		if (family == AF_INET) {
			memcpy(&((struct sockaddr_in *)&literal_ss)->sin_addr, lit, 4);
			literal_ai.ai_addrlen = sizeof(struct sockaddr_in);
		} else {
			memcpy(&((struct sockaddr_in6 *)&literal_ss)->sin6_addr, lit, 16);
			literal_ai.ai_addrlen = sizeof(struct sockaddr_in6);
		}
		literal_ai.ai_family = family;
		literal_ai.ai_addr = (struct sockaddr *)&literal_ss;
		ai = &literal_ai;
	} else {
		memset(&hints, 0, sizeof(hints));
		hints.ai_family = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		hints.ai_protocol = IPPROTO_TCP;
		errno = 0;
		gai = getaddrinfo(host, NULL, &hints, &res);
		if (gai != 0) {
			ret = upstream_gai_errno(gai);
			upstream_reason(reason, reason_len, "cannot resolve %s: %s", host,
					gai_strerror(gai));
			goto out;
		}
		ai = res;
	}

	ret = -ENOENT;
	upstream_reason(reason, reason_len, "cannot resolve %s: no IPv4 or IPv6 address", host);
	for (; ai; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (ai->ai_addrlen > sizeof(ss))
			continue;
		/* From here on ss is both what is checked and what connect() gets. */
		memset(&ss, 0, sizeof(ss));
		memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
		if (ss.ss_family != ai->ai_family)
			continue;
		len = ai->ai_addrlen;
		if (ss.ss_family == AF_INET)
			((struct sockaddr_in *)&ss)->sin_port = htons(port);
		else
			((struct sockaddr_in6 *)&ss)->sin6_port = htons(port);
		bytes = upstream_sockaddr_bytes(&ss);
		if (!inet_ntop(ss.ss_family, bytes, text, sizeof(text)))
			continue;
		class = upstream_address_classify(ss.ss_family, bytes);
		if (class != UPSTREAM_ADDRESS_PUBLIC &&
		    !route_allows_address(route, ss.ss_family, bytes)) {
			upstream_refusals_add(&refused, text, class);
			continue;
		}
		tried++;
		fd = upstream_try(&ss, len, timeout_ms);
		if (fd >= 0) {
			if (connected_addr && connected_addr_len)
				snprintf(connected_addr, connected_addr_len, "%s", text);
			upstream_reason(reason, reason_len, "%s", "");
			ret = fd;
			goto out;
		}
		ret = fd;
		upstream_connect_failed(ret, text, ss.ss_family, port, timeout_ms, reason,
					reason_len);
	}
	if (!tried && refused.shown) {
		ret = -EACCES;
		upstream_refusals_reason(&refused, host, family != 0, reason, reason_len);
	}
out:
	if (res)
		freeaddrinfo(res);
	return ret;
}

/* Connecting to an upstream safely.
 *
 * The proxy resolves upstream names itself and checks the address it is
 * about to connect to (not a name, not an earlier lookup): loopback, private,
 * link-local, carrier-grade NAT, multicast, broadcast, unspecified,
 * documentation/benchmark ranges, cloud metadata addresses, and IPv6 forms
 * that embed an IPv4 address (mapped, compatible, NAT64, 6to4, Teredo) judged
 * by that address, are refused unless the route names the address
 * (`addresses:` in routes.yaml, or an IP-literal host).  There is no
 * DNS-rebinding gap: the checked address is the one connect() receives. */
#ifndef SIDECAR_EGRESS_UPSTREAM_H
#define SIDECAR_EGRESS_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../shared/routes.h"

enum upstream_address_class {
	UPSTREAM_ADDRESS_PUBLIC = 0,
	UPSTREAM_ADDRESS_LOOPBACK,
	UPSTREAM_ADDRESS_PRIVATE,      /* RFC 1918, fc00::/7, CGNAT 100.64/10 */
	UPSTREAM_ADDRESS_LINK_LOCAL,   /* 169.254/16, fe80::/10 */
	UPSTREAM_ADDRESS_METADATA,     /* 169.254.169.254, fd00:ec2::254, 100.100.100.200 ... */
	UPSTREAM_ADDRESS_MULTICAST,
	UPSTREAM_ADDRESS_UNSPECIFIED,  /* 0.0.0.0/8, :: */
	UPSTREAM_ADDRESS_RESERVED,     /* broadcast, 240/4, documentation, benchmarking ... */
};

/* Classify an address (AF_INET: 4 bytes, AF_INET6: 16 bytes, network
 * order); IPv6 forms that embed IPv4 are classified by the embedded address.
 * IPv6 outside 2000::/3 that is no other class is RESERVED (unallocated). */
enum upstream_address_class upstream_address_classify(int family, const uint8_t *addr);
/* "loopback", "private", ... for messages. */
const char *upstream_address_class_name(enum upstream_address_class c);

/* Resolve host (name or IP literal) and connect to the first address that
 * the route permits, trying the next on failure, each attempt bounded by
 * timeout_ms.  Returns a connected, blocking, close-on-exec socket fd with
 * TCP_NODELAY, or a negative errno with a one-line reason in reason
 * ("example.org resolves only to 10.0.0.5 (private): name the address in
 * the route's addresses to allow it", "connect to 203.0.113.7:443 timed out
 * after 10s", "cannot resolve example.org: name not found").  The address
 * connected to is written to connected_addr ("203.0.113.7" / "2001:db8::1")
 * when it is not NULL.  Errors: -EACCES when every address was refused,
 * -ENOENT when the name does not exist, -EHOSTUNREACH when resolving failed
 * otherwise, the connect errno of the last address tried (-ETIMEDOUT,
 * -ECONNREFUSED ...), -EINVAL for an empty host, port 0 or timeout_ms <= 0.
 * A route names an address in the same family only: `127.0.0.1/32` does not
 * allow ::ffff:127.0.0.1.  route may be NULL (it names nothing). */
int upstream_connect(const char *host, uint16_t port, const struct route *route,
		     int timeout_ms, char *connected_addr, size_t connected_addr_len,
		     char *reason, size_t reason_len);

#endif

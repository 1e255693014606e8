/* Reading the server name (SNI) from a TLS ClientHello without terminating
 * TLS: egress uses it for tls_passthrough routes, where the bytes are
 * spliced to the origin but the name the client asks for must still be the
 * CONNECT host.  The input is untrusted: a cursor parser over (p, end) that
 * never reads past end, fuzzed by tests/fuzz/fuzz_client_hello.c. */
#ifndef SIDECAR_EGRESS_CLIENT_HELLO_H
#define SIDECAR_EGRESS_CLIENT_HELLO_H

#include <stddef.h>
#include <stdint.h>

/* The most bytes egress buffers while waiting for a whole ClientHello
 * (it may span several TLS records). */
#define CLIENT_HELLO_MAX 16384

enum {
	CLIENT_HELLO_MORE = 0,   /* valid so far; need more bytes */
	CLIENT_HELLO_DONE = 1,   /* parsed; sni holds the name or "" if none */
	CLIENT_HELLO_EINVAL = -1, /* not a TLS handshake / malformed ClientHello */
	CLIENT_HELLO_ETOOBIG = -2, /* the ClientHello would exceed CLIENT_HELLO_MAX */
	CLIENT_HELLO_ESNI = -3,   /* server_name extension malformed or not a host name */
};

/* Parse the TLS records at [p, end) (the first bytes the client sent) and
 * extract the host_name of the server_name extension into sni (NUL
 * terminated, lower case).  Returns CLIENT_HELLO_*. */
int client_hello_sni(const uint8_t *p, const uint8_t *end, char *sni, size_t sni_len);

#endif

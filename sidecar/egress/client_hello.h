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
 * terminated, lower case).  Returns CLIENT_HELLO_*.
 *
 * Call it again with all the bytes so far each time more arrive: a prefix
 * of the input answers MORE or the verdict the whole input gets, never a
 * DONE the whole would not.  Fields are checked in wire order against
 * their enclosing length before their bytes are awaited.  Bytes after the
 * ClientHello (early data) are not looked at.  Only the first
 * CLIENT_HELLO_MAX bytes count: a hello whose records need more, or whose
 * declared length cannot fit, is ETOOBIG.
 *
 * Refused as EINVAL: records other than handshake (22) or with a version
 * outside 0x0301..0x0304, empty or longer than 2^14 + 2048; a first message
 * that is not a ClientHello; legacy_version outside 0x0301..0x0304; a
 * session id over 32 bytes; an empty or odd cipher suite list; no
 * compression method; bytes after the extensions; any extension twice;
 * more than 128 extensions; any length overrunning its container.
 * ESNI: a server_name whose list is not exactly one host_name entry, or a
 * name that is not 1..253 bytes of labels (1..63 of letters, digits, '-'
 * and '_') joined by single dots: a trailing dot is refused, not stripped,
 * so the name compared is the name the origin sees.  Also ESNI when the
 * name does not fit in sni_len (254 always suffices).  No server_name, or
 * no extensions at all (very old clients), is DONE with sni "". */
int client_hello_sni(const uint8_t *p, const uint8_t *end, char *sni, size_t sni_len);

#endif

/* TLS for egress: the agent-facing side of a bump (leaf certificates minted
 * on demand, signed by the per-bottle CA, kept in a bounded LRU cache) and the
 * upstream side (chain and hostname verified against a CA bundle, sessions
 * resumed).  Thread-safe: one struct egress_tls serves every connection
 * thread; mbedTLS is built with MBEDTLS_THREADING_C.
 *
 * Crypto budget (docs/egress.md): one shared P-256 leaf key for every minted
 * leaf (a leaf costs one ECDSA signature, ~0.5 ms), leaves cached per host,
 * upstream sessions resumed per host:port, X25519/P-256 and AES-GCM /
 * ChaCha20-Poly1305 preferred. */
#ifndef SIDECAR_EGRESS_TLS_H
#define SIDECAR_EGRESS_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <mbedtls/ssl.h>

struct egress_tls_options {
	const char *ca_cert_path;     /* PEM: the per-bottle CA certificate */
	const char *ca_key_path;      /* PEM: its private key (EC P-256 or RSA) */
	const char *upstream_ca_path; /* PEM bundle that upstream chains must reach */
	size_t leaf_cache_size;       /* minted leaves kept; 0: 1024 */
	unsigned leaf_validity_hours; /* 0: 24; not-before is backdated 1 hour */
};

struct egress_tls;

/* Load the CA and the bundle, make the shared leaf key and both mbedTLS
 * configurations.  On error returns a negative code and writes a one-line
 * reason naming the file to err. */
int egress_tls_create(const struct egress_tls_options *options, struct egress_tls **out,
		      char *err, size_t err_len);
void egress_tls_destroy(struct egress_tls *tls);

/* Per-connection state of the agent-facing handshake.  Zero it, then call
 * egress_tls_server_setup(); release it when the connection ends. */
struct egress_tls_server {
	mbedtls_ssl_context ssl;
	struct egress_tls *tls;
	char connect_host[256];   /* the CONNECT target's host, lower-cased, no [] */
	char sni[256];            /* the client's SNI, "" when it sent none */
	bool sni_mismatch;        /* SNI present and not equal to connect_host */
	void *leaf;               /* the cache entry in use (a reference) */
};

/* Prepare ssl to terminate TLS for a CONNECT to `connect_host`: the leaf is
 * chosen (minted or taken from the cache) during the handshake, for the
 * CONNECT host whatever the SNI says; a different SNI sets sni_mismatch
 * (egress then answers 403).  The caller sets the BIO and runs the
 * handshake. */
int egress_tls_server_setup(struct egress_tls *tls, struct egress_tls_server *server,
			    const char *connect_host);
void egress_tls_server_release(struct egress_tls_server *server);

/* Per-connection state of an upstream (re-originated) TLS connection. */
struct egress_tls_client {
	mbedtls_ssl_context ssl;
	struct egress_tls *tls;
	char host[256];
	uint16_t port;
	/* Filled in by egress_tls_client_setup() and the handshake. */
	unsigned char ip[16];
	size_t ip_len;            /* 4 or 16 when host is an IP literal, else 0 */
	bool offered;             /* a cached session was offered */
	bool verified;            /* a certificate was verified in this handshake */
	bool looked;              /* the finished handshake was counted */
	bool resumed;             /* it resumed the offered session */
};

/* Prepare ssl to connect to host:port: SNI and hostname check for host (an IP
 * literal is checked against the certificate's IP SANs and sends no SNI),
 * ALPN http/1.1, a cached session offered for resumption. */
int egress_tls_client_setup(struct egress_tls *tls, struct egress_tls_client *client,
			    const char *host, uint16_t port);
/* After a successful handshake (and again later: TLS 1.3 tickets arrive
 * after it), remember the session for the next connection to host:port.
 * Cheap to call repeatedly: a session already saved is not copied again.
 * TLS 1.3 tickets are signalled: mbedtls_ssl_read() returns
 * MBEDTLS_ERR_SSL_WANT_READ (even on a blocking socket) while one starts,
 * then MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET; the caller reads again
 * on both, and calls this on the second. */
void egress_tls_client_save_session(struct egress_tls_client *client);
/* Whether the finished handshake resumed a cached session (it exchanged no
 * certificate); counted once in sessions_resumed. */
bool egress_tls_client_resumed(struct egress_tls_client *client);
/* Releasing a client whose handshake failed after offering a session
 * forgets that session: mbedTLS pins a resumption to the session's TLS
 * version, so a server that dropped TLS 1.3 would fail every retry. */
void egress_tls_client_release(struct egress_tls_client *client);

/* Why an upstream handshake failed, in one line for a 502 body: the
 * certificate verification flags in words ("certificate is not trusted by
 * the upstream CA bundle", "certificate name does not match example.org",
 * "certificate expired") or the mbedTLS error text.  Writes to out. */
const char *egress_tls_client_failure(struct egress_tls_client *client, int handshake_ret,
				      char *out, size_t out_len);

/* Counters for logs and the benchmark. */
struct egress_tls_stats {
	uint64_t leaves_minted, leaf_cache_hits, sessions_resumed;
};
void egress_tls_stats(struct egress_tls *tls, struct egress_tls_stats *out);

#endif

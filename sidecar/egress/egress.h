/* sidecar egress: the agent's only way out.  An HTTP/1.1 forward proxy that
 * allows a request only when a route in routes.yaml does, bumps CONNECTs to
 * read the requests inside, injects credentials, and logs one JSON line per
 * decision.  docs/egress.md describes the behaviour; docs/routes.md the
 * policy file.
 *
 * Concurrency: one thread per client connection, blocking sockets whose
 * every wait is bounded by a timeout (poll).  Shared state is the routes
 * table (swapped under a mutex on reload, reference-counted by requests), the
 * TLS context (thread-safe), the counters (atomics) and the log (one write
 * per line). */
#ifndef SIDECAR_EGRESS_H
#define SIDECAR_EGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <mbedtls/ssl.h>

#include "../../shared/buf.h"
#include "../../shared/http1.h"
#include "../../shared/routes.h"

struct egress_tls;

/* The reserved name of the introspection endpoint (`http://_egress.local/routes`),
 * answered only to clients inside the bundle (loopback). */
#define EGRESS_INTROSPECTION_HOST "_egress.local"

struct egress_options {
	const char *listen;           /* "[host]:port", default ":9099" */
	const char *routes_path;
	const char *ca_cert_path, *ca_key_path, *upstream_ca_path;
	int ready_fd;                 /* -1: none */
	unsigned max_connections;     /* beyond it: 503 and close */
	int io_timeout_ms;            /* one read or write, and connect */
	int idle_timeout_ms;          /* keep-alive wait for the next request */
	int tunnel_idle_timeout_ms;   /* websocket / passthrough with no bytes either way */
};

struct egress {
	struct egress_options options;
	struct egress_tls *tls;
	pthread_mutex_t routes_lock;
	struct routes *routes;        /* the live table; take egress_routes_get() */
	pthread_mutex_t log_lock;
	unsigned active_connections;  /* atomically updated */
	uint64_t connection_serial;   /* atomically updated */
};

/* The live routes with a reference the caller drops with routes_unref(). */
struct routes *egress_routes_get(struct egress *egress);
/* Re-read the routes file; on error the old table stays and err says why. */
int egress_routes_reload(struct egress *egress, char *err, size_t err_len);

/* ---- streams: a socket, optionally under TLS, with bounded waits ---- */

struct stream {
	int fd;
	mbedtls_ssl_context *ssl; /* NULL: plain */
	int timeout_ms;           /* each wait for the peer */
	bool eof;                 /* the peer closed (or close_notify) */
};

void stream_init(struct stream *s, int fd, int timeout_ms);
/* Route ssl's I/O through s (poll-bounded send/recv on s->fd). */
void stream_attach_tls(struct stream *s, mbedtls_ssl_context *ssl);
/* Read at most len bytes: > 0 bytes read, 0 at end of stream, or -ETIMEDOUT,
 * -ECONNRESET, -EPROTO (a TLS error; see stream_tls_error). */
ssize_t stream_read(struct stream *s, void *data, size_t len);
/* Write all len bytes: 0 or a negative errno. */
int stream_write(struct stream *s, const void *data, size_t len);
/* Whether bytes are ready without waiting (TLS has decrypted bytes buffered). */
bool stream_has_buffered(const struct stream *s);
/* Run the TLS handshake: 0, or the negative mbedTLS code. */
int stream_handshake(struct stream *s);
/* Send close_notify (TLS) and shut down writing. */
void stream_shutdown_write(struct stream *s);

/* ---- one client connection ---- */

struct egress_connection {
	struct egress *egress;
	uint64_t id;
	struct stream client;
	char client_address[64];      /* "10.89.0.3:51234" for logs */
	bool client_is_loopback;
	struct buf in;                /* bytes read from the client, not yet used */

	/* After a CONNECT: the tunnel's target and how it is handled. */
	bool in_tunnel;
	char connect_host[256];
	uint16_t connect_port;
	struct egress_tls_server *tls_server; /* bumped: the agent-facing TLS */

	/* The upstream kept alive between requests (same host, port, scheme). */
	struct stream upstream;
	struct egress_tls_client *tls_client;
	char upstream_host[256];
	uint16_t upstream_port;
	bool upstream_tls;
	char upstream_address[64];
};

/* Thread entry: serves the connection accepted on fd until it ends; frees
 * everything.  arg is a heap-allocated struct egress_connection with egress,
 * id, client and the addresses filled in. */
void *egress_connection_main(void *arg);

/* Serve requests on the connection's client stream (plain, or inside a
 * bumped tunnel) until it closes or must close. */
void egress_serve_requests(struct egress_connection *c);
/* Handle a CONNECT request whose head is parsed (and consumed from c->in). */
void egress_handle_connect(struct egress_connection *c, const struct http1_request *req);
/* Relay bytes both ways until both sides closed or the idle timeout:
 * websocket after a 101, and tls_passthrough. Returns bytes moved each way. */
void egress_relay(struct egress_connection *c, struct stream *a, struct stream *b,
		  uint64_t *a_to_b, uint64_t *b_to_a);

/* Answer the client with a short error response (body: reason + "\n") and
 * mark the connection for closing. */
int egress_send_error(struct egress_connection *c, int status, const char *reason);

/* ---- decision log: one JSON line per decision on stdout ---- */

struct egress_decision {
	const char *client;
	const char *method;
	const char *host;
	uint16_t port;
	struct str path;       /* without the query */
	const struct route *route;
	const char *decision;  /* "allow", "deny", "error" */
	int status;
	const char *reason;    /* NULL when allowed */
	uint64_t bytes_sent, bytes_received; /* body bytes to and from upstream */
	uint64_t started_ms;
	bool bumped, passthrough;
};

/* Write the line if the table's log mode wants it. */
void egress_log_decision(struct egress *egress, enum routes_log mode,
			 const struct egress_decision *d);
uint64_t egress_now_ms(void);

#endif

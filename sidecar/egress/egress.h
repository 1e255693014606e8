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

struct egress;
struct egress_tls;
struct dlp_engine;
struct dlp_findings;
struct egress_dlp_request;

/* The reserved name of the introspection endpoint (`http://_egress.local/routes`),
 * answered only to clients inside the bundle (loopback). */
#define EGRESS_INTROSPECTION_HOST "_egress.local"

struct egress_options {
	const char *listen;           /* "[host]:port", default ":9099" */
	const char *routes_path;
	const char *ca_cert_path, *ca_key_path, *upstream_ca_path;
	int ready_fd;                 /* -1: none */
	unsigned max_connections;     /* beyond it: 503 and close */
	unsigned upstream_pool_max;   /* idle upstream connections kept for reuse */
	int io_timeout_ms;            /* a whole request head; one write; connect */
	int upstream_timeout_ms;      /* waiting for upstream bytes (a model may think for minutes) */
	int idle_timeout_ms;          /* keep-alive wait for the next request */
	int tunnel_idle_timeout_ms;   /* websocket / passthrough with no bytes either way */

	/* DLP (egress_dlp.h, docs/dlp.md).  Secret values come from the
	 * environment, never from argv. */
	bool dlp_off;                 /* --no-dlp: for measurements only */
	const char **secret_envs;     /* --secret-env NAME... */
	size_t nsecret_envs;
	const char **secret_prefixes; /* --secret-env-prefix P..., NULL-terminated */
	size_t nsecret_prefixes;
	const char *canary_env;
	const char *dlp_rules_path;   /* NULL: the built-in rules */
	const char *queue_dir;        /* NULL: supervise fails closed */
	const char *bottle;           /* names proposals */
	int hold_timeout_ms;
	size_t dlp_body_max;          /* held bodies (redact, supervise, compressed) */
	const char **provider_hosts;  /* --provider-host: default to redact */
	size_t nprovider_hosts;
};

/* Idle upstream connections, shared by all client connections
 * (upstream_pool.c). */
#define EGRESS_UPSTREAM_IDLE_MS (30 * 1000)

struct upstream_pool_entry;
struct upstream_pool {
	pthread_mutex_t lock;
	struct upstream_pool_entry *head; /* most recently idle first */
	unsigned count;
	unsigned max_idle;            /* 0: no reuse across requests */
	int idle_timeout_ms;
};

/* Why egress refused what a client sent, besides the HTTP parser's own
 * codes (counted by code): the keys of "rejected" in GET /stats next to
 * http1_error_name()'s (stats.c). */
enum egress_reject {
	EGRESS_REJECT_HEAD_TIMEOUT,      /* the head did not arrive within io_timeout */
	EGRESS_REJECT_BODY_TIMEOUT,      /* the body stalled for io_timeout */
	EGRESS_REJECT_TLS_ON_PROXY_PORT, /* a TLS handshake where a request belongs */
	EGRESS_REJECT_TLS_HANDSHAKE,     /* a bumped tunnel's handshake failed */
	EGRESS_REJECT_CLIENT_HELLO,      /* a passthrough tunnel's ClientHello was bad */
	EGRESS_REJECT_COUNT
};

/* Counters for the introspection endpoint, all updated atomically. */
struct egress_stats {
	uint64_t connections_accepted;
	uint64_t connections_refused;    /* over max_connections (or no thread) */
	uint64_t refusal_logged_ms;      /* the last "refusing" line, monotonic */
	uint64_t http1[1 - HTTP1_ELAST]; /* indexed by -code */
	uint64_t rejects[EGRESS_REJECT_COUNT];
	uint64_t decisions_allow, decisions_deny, decisions_error;
	uint64_t dlp_body_threads;       /* streamed bodies scanned on a second thread */
};

/* Count a request or body the parser rejected with code (< 0). */
void egress_stats_http1(struct egress *egress, int code);
void egress_stats_reject(struct egress *egress, enum egress_reject why);
/* Count a connection refused over the cap; a line on stderr at most every
 * few seconds says so, so a flood cannot flood the log. */
void egress_stats_refused(struct egress *egress);
/* Count a decision line ("allow", "deny", "error"). */
void egress_stats_decision(struct egress *egress, const char *decision);
/* Count a streamed body whose scan moved to a second thread. */
void egress_stats_dlp_body_thread(struct egress *egress);
/* {"connections": {...}, "rejected": {...}, "decisions": {...}, "dlp": {...}} */
int egress_stats_to_json(struct egress *egress, struct buf *out);

/* The ledger of bounded grants (grants.c). */
struct egress_grants;

struct egress {
	struct egress_options options;
	struct upstream_pool upstream_pool;
	struct egress_tls *tls;
	pthread_mutex_t routes_lock;
	struct routes *routes;        /* the live table; take egress_routes_get() */
	pthread_mutex_t log_lock;
	struct dlp_engine *dlp;       /* NULL: DLP off; survives reloads (approvals kept) */
	pthread_mutex_t hold_lock;    /* one proposal per held value */
	struct egress_grants *grants; /* counts survive reloads */
	struct egress_stats stats;
	unsigned active_connections;  /* atomically updated */
	uint64_t connection_serial;   /* atomically updated */
};

/* The live routes with a reference the caller drops with routes_unref(). */
struct routes *egress_routes_get(struct egress *egress);
/* Re-read the routes file; on error the old table stays and err says why. */
int egress_routes_reload(struct egress *egress, char *err, size_t err_len);

/* ---- bounded grants (grants.c) ---- */

/* The ledger, keeping counts under queue_dir/grants (NULL: bounded routes
 * never match). */
int egress_grants_create(const char *queue_dir, struct egress_grants **out);
/* Close the count files and free the ledger (tests; egress keeps its own). */
void egress_grants_free(struct egress_grants *g);
/* What routes_request.grants points at. */
struct routes_grants *egress_grants_ledger(struct egress_grants *g);
/* Learn the table's grants (read their counts, notice ends): at start and
 * after each reload. */
void egress_grants_sync(struct egress_grants *g, const struct routes *r);
/* End the grants whose time ran out with no request to notice it: the
 * signal thread calls it every few seconds. */
void egress_grants_tick(struct egress_grants *g);

/* Route mbedTLS's allocations through tls_memory.c; before any mbedTLS use. */
void egress_tls_memory_install(void);
/* Hand the calling thread's cache of freed small blocks back to malloc:
 * when its connection idles or ends. */
void egress_tls_memory_thread_release(void);

/* ---- streams: a socket, optionally under TLS, with bounded waits ---- */

struct stream {
	int fd;
	mbedtls_ssl_context *ssl; /* NULL: plain */
	int timeout_ms;           /* each wait for the peer */
	/* While >= 0, a wait on this stream gives up with -ECONNABORTED when
	 * the peer of hangup_fd closes or resets: the client that asked for
	 * an upstream's answer went away, so waiting on has no one to serve. */
	int hangup_fd;
	bool hangup_seen;         /* under TLS: why the last call failed */
	bool eof;                 /* the peer closed (or close_notify) */
	/* Set while a write's records other than its last are sent: they go
	 * with MSG_MORE, so the kernel joins them into one segment and the
	 * peer is woken once per write, not once per 16 KiB record. */
	bool more_follows;
	/* A failure met by stream_read_batch() after it already had bytes:
	 * those are returned first, this on every later read. */
	int read_error;
	/* Bytes read from fd before TLS started (a ClientHello that came in
	 * the same packet as the CONNECT), handed out before the socket's. */
	char *readahead;
	size_t readahead_len, readahead_pos;
};

void stream_init(struct stream *s, int fd, int timeout_ms);
/* Route ssl's I/O through s (poll-bounded send/recv on s->fd). */
void stream_attach_tls(struct stream *s, mbedtls_ssl_context *ssl);
/* Read at most len bytes: > 0 bytes read, 0 at end of stream, or -ETIMEDOUT,
 * -ECONNRESET, -EPROTO (a TLS error).  With timeout_ms 0 it only takes what
 * is there: -ETIMEDOUT (plain) or -EAGAIN (a TLS record not complete yet). */
ssize_t stream_read(struct stream *s, void *data, size_t len);
/* As stream_read(), then, under TLS, the records that are already there
 * too, up to len, without waiting for more: a bulk reader gets several
 * records per call instead of one. */
ssize_t stream_read_batch(struct stream *s, void *data, size_t len);
/* Write all len bytes: 0 or a negative errno. */
int stream_write(struct stream *s, const void *data, size_t len);
/* The same, telling the kernel that more follows at once (MSG_MORE): the
 * caller's next write must come without waiting for the peer, and must be
 * a plain stream_write(), which pushes everything out. */
int stream_write_more(struct stream *s, const void *data, size_t len);
/* Whether bytes are ready without waiting (TLS has decrypted bytes buffered). */
bool stream_has_buffered(const struct stream *s);
/* Wait until the peer's next bytes are there (1: a TLS record's start
 * counts, the rest follows) or other_fd (-1: none) is readable (0),
 * whichever comes first; -ETIMEDOUT after timeout_ms.  Nothing is read. */
int stream_wait_readable_or(const struct stream *s, int other_fd, int timeout_ms);
/* Run the TLS handshake: 0, or the negative mbedTLS code. */
int stream_handshake(struct stream *s);
/* Send close_notify (TLS) and shut down writing. */
void stream_shutdown_write(struct stream *s);
/* Put bytes already read from the socket back in front of it. */
int stream_unread(struct stream *s, const void *data, size_t len);
/* Free the read-ahead copy and the TLS binding; does not close fd. */
void stream_release(struct stream *s);

/* ---- message bodies: read framed, write framed, never whole ---- */

/* Reads a body from a stream, through the bytes already in buf (which the
 * head was consumed from).  Each call yields a slice of buf that stays
 * valid until the next call. */
struct body_reader {
	struct stream *stream;
	struct buf *buf;
	size_t pos;                 /* bytes of buf already handed out */
	enum http1_body kind;       /* LENGTH, CHUNKED or CLOSE */
	uint64_t remaining;         /* LENGTH: bytes still to come */
	struct http1_chunked chunked;
	bool done;
	bool stalled;               /* the peer sent nothing for the stream's timeout */
	uint64_t total;             /* body bytes handed out */
	/* If set, called just before the reader waits for the peer: a relay
	 * sends what it holds then, so a streamed body (server-sent events,
	 * a model's tokens) is never held back for bytes that have not come.
	 * Only there: what is buffered may be framing alone (a chunk's CRLF),
	 * so "nothing buffered" cannot be told from outside.  A negative
	 * return ends the read with that error. */
	int (*before_wait)(void *ctx);
	void *before_wait_ctx;
};

void body_reader_init(struct body_reader *r, struct stream *stream, struct buf *buf,
		      enum http1_body kind, int64_t content_length);
/* 1 with *data set, 0 at the end of the body, or a negative errno /
 * HTTP1_E* code (-EPIPE: the peer closed before the body ended). */
int body_reader_next(struct body_reader *r, struct str *data);
/* Count why a request body from the client failed (a chunked error, a
 * stall) in egress's stats; other failures (the client left) are not
 * rejections.  Returns the status to answer: 408 for a stall, else 0. */
int egress_stats_body_error(struct egress *egress, const struct body_reader *r);
/* Drop the bytes handed out from buf, keeping what follows the body (a
 * pipelined request) at its start. */
void body_reader_compact(struct body_reader *r);

/* Writes through a buffer (one TLS record for a head and a small body),
 * chunk-encoding when asked. */
struct body_writer {
	struct stream *stream;
	struct buf *out;            /* may already hold a head */
	bool chunked;
	uint64_t total;             /* body bytes accepted */
};

void body_writer_init(struct body_writer *w, struct stream *stream, struct buf *out, bool chunked);
int body_writer_put(struct body_writer *w, const void *data, size_t len);
int body_writer_flush(struct body_writer *w);
/* The last chunk when chunked, then flush. */
int body_writer_finish(struct body_writer *w);
/* Copy a whole body from r to w, flushing whenever r would wait. */
int body_relay(struct body_reader *r, struct body_writer *w);

/* ---- one client connection ---- */

struct egress_connection {
	struct egress *egress;
	uint64_t id;
	struct stream client;
	char client_address[64];      /* "10.89.0.3:51234" for logs */
	bool client_is_loopback;
	struct buf in;                /* read from the client, not yet used */
	struct buf client_out;        /* to the client, not yet written */

	/* After a CONNECT: the tunnel's target and how it is handled. */
	bool in_tunnel;
	bool tunnel_tls;              /* bumped: requests arrive under TLS */
	char connect_host[256];       /* lower case */
	uint16_t connect_port;
	struct egress_tls_server *tls_server;

	/* The upstream kept alive between requests (same host, port, scheme). */
	struct stream upstream;
	struct egress_tls_client *tls_client;
	char upstream_host[256];
	uint16_t upstream_port;
	bool upstream_tls;
	char upstream_address[64];
	struct buf upstream_in;       /* read from upstream, not yet used */
	struct buf upstream_out;      /* to upstream, not yet written */

	/* An error answer went out while the client may still be sending:
	 * read and drop its bytes for a moment before closing, or the close
	 * resets the connection and the client never reads why. */
	bool drain_before_close;

	/* DLP's per-request state (the scan is ~60 KiB): kept between the
	 * requests of a busy connection, given back when it idles. */
	struct egress_dlp_request *dlp;
};


/* ---- the connection's upstream, and the pool of idle ones ---- */

void upstream_pool_init(struct upstream_pool *pool, unsigned max_idle, int idle_timeout_ms);
/* Close the idle upstreams that have been idle too long; the signal
 * thread calls it every few seconds so a quiet proxy holds no stale sockets. */
void egress_upstream_pool_expire(struct upstream_pool *pool);
/* Close every idle upstream not allowed under keep (all when keep is NULL):
 * after a reload, and at exit. */
void egress_upstream_pool_flush(struct upstream_pool *pool, const struct routes *keep);
/* Hand c's upstream, idle after a complete exchange that route (in routes)
 * allowed, to the pool (or close it when it has unread bytes). */
void egress_upstream_put(struct egress_connection *c, struct routes *routes,
			 const struct route *route);
/* Give c an idle upstream to host:port over tls (or plain) that the same
 * route of the same table allowed, if the pool has one still open.
 * Returns whether it did. */
bool egress_upstream_take(struct egress_connection *c, const struct routes *routes,
			  const struct route *route, const char *host, uint16_t port, bool tls);
/* Close c's upstream (if any) and free its TLS state. */
void egress_upstream_close(struct egress_connection *c);

/* Thread entry: serves the connection accepted on fd until it ends; frees
 * everything.  arg is a heap-allocated struct egress_connection with egress,
 * id, client and the addresses filled in. */
void *egress_connection_main(void *arg);
/* Serve c on a thread of its own: a spare one whose connection ended, or a
 * new one.  0, or a negative errno (no thread: c is still the caller's). */
int egress_workers_start(struct egress_connection *c);
/* Threads waiting for a connection now, and connections served by one so
 * far (for the stats endpoint). */
void egress_workers_counts(unsigned *spare, uint64_t *reused);

/* The connection waits for its next request: give back what it does not
 * need while idle (empty buffers, the deeper pages of its thread's stack). */
void egress_connection_idle(struct egress_connection *c);
/* Serve requests on the connection's client stream (plain, or inside a
 * bumped tunnel) until it closes or must close. */
void egress_serve_requests(struct egress_connection *c);
/* Handle a CONNECT to c->connect_host:connect_port whose head is the first
 * head_len bytes of c->in. */
void egress_handle_connect(struct egress_connection *c, size_t head_len);
/* What a relay does with the bytes of its a-to-b side instead of writing
 * them to b: 0, or negative to end the relay. */
struct egress_relay_filter {
	int (*fn)(void *ctx, struct stream *to, const char *p, size_t n);
	void *ctx;
};

/* Relay bytes both ways until both sides closed or the idle timeout:
 * websocket after a 101, and tls_passthrough. Returns bytes moved each way.
 * filter (may be NULL) takes what a sends. */
void egress_relay(struct egress_connection *c, struct stream *a, struct stream *b,
		  uint64_t *a_to_b, uint64_t *b_to_a, const struct egress_relay_filter *filter);

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
	uint64_t started_ms;   /* egress_start_clock() when the request began */
	bool bumped, passthrough;
	/* DLP: the findings (never a value) and what they led to, or NULL. */
	const struct dlp_findings *dlp;
	const char *dlp_action;
	const char *dlp_proposal; /* the supervise proposal it waited on, or NULL */
};

/* started_ms of a decision: a monotonic clock, for durations. */
uint64_t egress_start_clock(void);

/* Write the line if the table's log mode wants it. */
void egress_log_decision(struct egress *egress, enum routes_log mode,
			 const struct egress_decision *d);
uint64_t egress_now_ms(void);

#endif

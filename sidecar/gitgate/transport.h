/* The transports: each turns a client into a struct gitgate_session.
 *
 *   transport_stdio.c    one service over stdin/stdout (--stdio)
 *   transport_http.c     smart-HTTP (:9420)
 *   transport_daemon.c   git:// (:9418)
 *   transport_session.c  what they share: find the repository, ask the
 *                        access hook, refresh the mirror, run the service
 *   transport_socket.c   a client socket whose every wait is bounded
 *   transport_parse.c    the request parsers (the HTTP target, the git:// line) */
#ifndef SIDECAR_GITGATE_TRANSPORT_H
#define SIDECAR_GITGATE_TRANSPORT_H

#include <stdint.h>
#include <sys/socket.h>

#include "gitgate.h"

/* "version=2" (GIT_PROTOCOL, Git-Protocol, git:// extra parameters,
 * colon-separated): the highest version asked for, 0 when none. */
int transport_protocol_parse(const char *value);

/* One service over stdin/stdout.  0 or a negative errno (logged). */
int transport_stdio_serve(struct gitgate *gate, enum gitgate_service service,
			  const char *repo_name);

/* ---- shared by the network transports (transport_session.c) ---- */

/* The service's git name: "git-upload-pack" or "git-receive-pack". */
const char *transport_service_name(enum gitgate_service service);

/* Between naming a repository and running the service: s->repo from
 * name[0..len), the access hook, and the mirror brought up to date (for
 * a repository with an upstream).  0, or -ENOENT (no such repository),
 * -EACCES (the hook said no, or could not run: fail closed) or -EAGAIN
 * (there is no mirror to serve), with what the client is shown in
 * message. */
int transport_session_open(struct gitgate_session *s, const char *name, size_t len,
			   char *message, size_t message_len);
/* Run s->service: upload_pack_serve() or receive_pack_serve(). */
int transport_session_run(struct gitgate_session *s);

/* ---- a client socket (transport_socket.c) ---- */

/* Every wait for the client is at most io_timeout_ms, and none goes past
 * deadline_ms (monotonic, 0: none), which the transports set to the
 * operation timeout while a service runs: a silent or slow client costs a
 * thread for a bounded time, never forever. */
struct transport_socket {
	int fd;
	int io_timeout_ms;
	int64_t deadline_ms;
};

/* Before closing a connection whose client may still be sending (a
 * refusal, an error answer): stop writing, then read and drop what comes
 * until the client closes, for at most TRANSPORT_DRAIN_MS and
 * TRANSPORT_DRAIN_MAX bytes.  Closing with unread bytes sends a reset,
 * and the client's kernel then drops the answer unread. */
#define TRANSPORT_DRAIN_MS 1000
#define TRANSPORT_DRAIN_MAX (16 * 1024 * 1024)
void transport_socket_drain(struct transport_socket *t);

/* Milliseconds on the monotonic clock. */
int64_t transport_now_ms(void);
/* Up to len bytes: count, 0 at the client's end, -ETIMEDOUT or another
 * negative errno. */
ssize_t transport_socket_read(struct transport_socket *t, void *p, size_t len);
/* All len bytes, or a negative errno. */
int transport_socket_write(struct transport_socket *t, const void *p, size_t len);
/* "192.0.2.1" and "192.0.2.1:4711" ("[2001:db8::1]:4711" for IPv6; an
 * IPv4-mapped IPv6 address as IPv4). */
void transport_address_format(const struct sockaddr_storage *ss, char *ip, size_t ip_len,
			      char *ip_port, size_t ip_port_len);

/* ---- smart-HTTP (transport_http.c) ---- */

enum transport_http_kind {
	TRANSPORT_HTTP_INFO_REFS,    /* GET /<repo>.git/info/refs?service=... */
	TRANSPORT_HTTP_RPC,          /* POST /<repo>.git/git-upload-pack, -receive-pack */
	TRANSPORT_HTTP_DUMB,         /* a dumb-HTTP path (info/refs without a service,
	                                objects/, HEAD): not served */
};

struct transport_http_target {
	enum transport_http_kind kind;
	enum gitgate_service service;
	char repo[101];              /* the repository name, decoded, NUL-terminated */
	size_t repo_len;
};

/* The request-target's path and query (as http1_target holds them,
 * percent-encoded) -> which repository and endpoint.  0; -EINVAL when
 * malformed or a traversal attempt (400); -ENOENT when it names no git
 * endpoint (404).  err says why, one line for the client. */
int transport_http_target_parse(struct str path, struct str query, bool has_query,
				struct transport_http_target *out, char *err, size_t err_len);

/* Serve one accepted connection until it closes (keep-alive); closes fd.
 * peer_ip / peer_addr: the socket's peer, from accept(). */
void transport_http_serve(struct gitgate *gate, int fd, const char *peer_ip,
			  const char *peer_addr, int io_timeout_ms);
/* A connection over the cap: a 503, sent before the request is read; the
 * caller closes fd. */
void transport_http_refuse(int fd, const char *reason);

/* ---- git:// (transport_daemon.c) ---- */

struct transport_daemon_request {
	enum gitgate_service service;
	struct str repo;   /* the name, without the leading '/' and a ".git" */
	struct str host;   /* the host= parameter, empty when absent */
	int protocol;      /* from the extra parameters ("version=2") */
};

/* The first pkt-line's payload, "git-upload-pack /repo.git\0host=h:p\0\0
 * version=2\0".  0, or -EINVAL with err saying what is wrong (sent to the
 * client as "ERR ...").  repo and host point into line. */
int transport_daemon_request_parse(struct str line, struct transport_daemon_request *out,
				   char *err, size_t err_len);

/* Serve one accepted connection: one request, one service; closes fd. */
void transport_daemon_serve(struct gitgate *gate, int fd, const char *peer_ip,
			    const char *peer_addr, int io_timeout_ms);
/* A connection over the cap: an ERR packet; the caller closes fd. */
void transport_daemon_refuse(int fd, const char *reason);

#endif

/* CONNECT: decide the tunnel, then either splice it (tls_passthrough: the
 * agent talks TLS with the origin itself, we only check the server name it
 * asks for) or bump it (we terminate TLS with a leaf for the CONNECT host and
 * every request inside goes through the routes like a plain one). */
#include "egress.h"
#include "egress_dlp.h"
#include "client_hello.h"
#include "egress_tls.h"
#include "upstream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>

#define RELAY_CHUNK 16384
#define CONNECT_ESTABLISHED "HTTP/1.1 200 Connection established\r\n\r\n"

static void tunnel_log(struct egress_connection *c, struct routes *routes,
		       const struct route *route, uint64_t started, const char *decision,
		       int status, const char *reason, uint64_t sent, uint64_t received,
		       bool passthrough)
{
	struct egress_decision d = {
		.client = c->client_address,
		.method = "CONNECT",
		.host = c->connect_host,
		.port = c->connect_port,
		.path = STR_LITERAL(""),
		.route = route,
		.decision = decision,
		.status = status,
		.reason = reason,
		.bytes_sent = sent,
		.bytes_received = received,
		.started_ms = started,
		.bumped = c->tunnel_tls,
		.passthrough = passthrough,
	};

	egress_log_decision(c->egress, routes ? routes->log : ROUTES_LOG_BLOCKS, &d);
}

/* Read from the client into c->in until a whole ClientHello is there.
 * Returns 0 with the SNI in sni, or a negative code with reason set. */
static int read_client_hello(struct egress_connection *c, char *sni, size_t sni_len,
			     char *reason, size_t reason_len)
{
	uint64_t deadline = egress_start_clock() + (uint64_t)c->egress->options.io_timeout_ms;

	for (;;) {
		int ret;
		ssize_t n;

		if (c->in.len > 0) {
			ret = client_hello_sni((const uint8_t *)c->in.p,
					       (const uint8_t *)c->in.p + c->in.len, sni, sni_len);
			if (ret == CLIENT_HELLO_DONE)
				return 0;
			if (ret < 0) {
				snprintf(reason, reason_len, "the tunnel did not start with a valid TLS ClientHello%s",
					 ret == CLIENT_HELLO_ESNI ? " (bad server_name)" : "");
				return -EPROTO;
			}
		}
		if (c->in.len >= CLIENT_HELLO_MAX) {
			snprintf(reason, reason_len, "the TLS ClientHello exceeds %d bytes", CLIENT_HELLO_MAX);
			return -EMSGSIZE;
		}
		if ((ret = buf_grow(&c->in, 4096)) < 0)
			return ret;
		{
			uint64_t now = egress_start_clock();

			c->client.timeout_ms = now >= deadline ? 0 : (int)(deadline - now);
		}
		n = stream_read(&c->client, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
		if (n <= 0) {
			snprintf(reason, reason_len, "the client closed the tunnel before its TLS ClientHello");
			return n == 0 ? -EPIPE : (int)n;
		}
		c->in.len += (size_t)n;
		c->in.p[c->in.len] = '\0';
	}
}

static void connect_passthrough(struct egress_connection *c, struct routes *routes,
				const struct route *route, uint64_t started)
{
	const struct egress_options *o = &c->egress->options;
	char reason[768], sni[256];
	uint64_t sent = 0, received = 0;
	struct stream upstream;
	int fd;

	if (stream_write(&c->client, CONNECT_ESTABLISHED, sizeof(CONNECT_ESTABLISHED) - 1) < 0)
		return;
	if (read_client_hello(c, sni, sizeof(sni), reason, sizeof(reason)) < 0) {
		if (c->in.len > 0)
			egress_stats_reject(c->egress, EGRESS_REJECT_CLIENT_HELLO);
		tunnel_log(c, routes, route, started, "deny", 403, reason, 0, 0, true);
		return;
	}
	/* No SNI: the CONNECT host is the only name the client claims. */
	if (sni[0] && strcmp(sni, c->connect_host) != 0) {
		snprintf(reason, sizeof(reason), "the TLS server name %s does not match the CONNECT target %s",
			 sni, c->connect_host);
		tunnel_log(c, routes, route, started, "deny", 403, reason, 0, 0, true);
		return;
	}
	/* Connected only now: a tunnel refused above never reached the origin. */
	fd = upstream_connect(c->connect_host, c->connect_port, route, o->io_timeout_ms,
			      c->upstream_address, sizeof(c->upstream_address), reason, sizeof(reason));
	if (fd < 0) {
		tunnel_log(c, routes, route, started, fd == -EACCES ? "deny" : "error",
			   fd == -EACCES ? 403 : 502, reason, 0, 0, true);
		return;
	}
	stream_init(&upstream, fd, o->io_timeout_ms);
	if (stream_write(&upstream, c->in.p, c->in.len) == 0) {
		sent = c->in.len;
		buf_clear(&c->in);
		egress_relay(c, &c->client, &upstream, &sent, &received, NULL);
	}
	close(fd);
	tunnel_log(c, routes, route, started, "allow", 200, NULL, sent, received, true);
}

/* Wait for the tunnel's first byte without taking it from the socket. */
static int peek_first_byte(struct egress_connection *c, unsigned char *byte)
{
	struct pollfd pfd = { .fd = c->client.fd, .events = POLLIN };
	ssize_t n;
	int ready;

	if (c->in.len > 0) {
		*byte = (unsigned char)c->in.p[0];
		return 0;
	}
	do
		ready = poll(&pfd, 1, c->egress->options.idle_timeout_ms);
	while (ready < 0 && errno == EINTR);
	if (ready <= 0)
		return -ETIMEDOUT;
	n = recv(c->client.fd, byte, 1, MSG_PEEK);
	return n == 1 ? 0 : -EPIPE;
}

static void connect_bump(struct egress_connection *c, struct routes *routes,
			 const struct route *route, uint64_t started)
{
	char reason[256], why[160];
	unsigned char first;
	int ret;

	if (stream_write(&c->client, CONNECT_ESTABLISHED, sizeof(CONNECT_ESTABLISHED) - 1) < 0)
		return;
	if (peek_first_byte(c, &first) < 0)
		return;
	c->in_tunnel = true;
	/* 0x16: a TLS handshake record.  Anything else is plain HTTP sent
	 * through the tunnel (ws:// clients do that): served as it is. */
	if (first != 0x16) {
		tunnel_log(c, routes, route, started, "allow", 200, NULL, 0, 0, false);
		routes_unref(routes);
		egress_serve_requests(c);
		return;
	}
	c->tls_server = calloc(1, sizeof(*c->tls_server));
	if (!c->tls_server)
		return;
	ret = egress_tls_server_setup(c->egress->tls, c->tls_server, c->connect_host);
	if (ret == 0) {
		/* Bytes that arrived with the CONNECT belong to the handshake. */
		ret = stream_unread(&c->client, c->in.p, c->in.len);
		buf_clear(&c->in);
	}
	if (ret == 0) {
		stream_attach_tls(&c->client, &c->tls_server->ssl);
		c->client.timeout_ms = c->egress->options.io_timeout_ms;
		ret = stream_handshake(&c->client);
	}
	if (ret != 0) {
		egress_stats_reject(c->egress, EGRESS_REJECT_TLS_HANDSHAKE);
		mbedtls_strerror(ret, why, sizeof(why));
		snprintf(reason, sizeof(reason),
			 "TLS handshake with the client failed (does it trust the bottle CA?): %s", why);
		tunnel_log(c, routes, route, started, "error", 0, reason, 0, 0, false);
		return;
	}
	c->tunnel_tls = true;
	tunnel_log(c, routes, route, started, "allow", 200, NULL, 0, 0, false);
	routes_unref(routes);
	egress_serve_requests(c);
}

void egress_handle_connect(struct egress_connection *c, size_t head_len)
{
	struct routes *routes = egress_routes_get(c->egress);
	struct route_decision d;
	uint64_t started = egress_start_clock();
	const struct route *route;

	{
		struct routes_request rq = {
			.host = str_from_cstr(c->connect_host),
			.port = c->connect_port,
			.method = STR_LITERAL("CONNECT"),
			.path = STR_LITERAL(""),
			.grants = egress_grants_ledger(c->egress->grants),
		};

		if (routes_decide(routes, &rq, &d) < 0) {
			d.allowed = false;
			snprintf(d.reason, sizeof(d.reason), "the CONNECT could not be checked against the routes");
			d.route = NULL;
		}
	}
	/* A name can carry a secret out by itself (to a wildcard route's
	 * resolver and its logs): no redaction or approval reaches it. */
	if (d.allowed && c->egress->dlp &&
	    egress_dlp_host_blocked(c, c->connect_host, d.reason, sizeof(d.reason))) {
		d.allowed = false;
		/* The log line must not carry it either. */
		snprintf(c->connect_host, sizeof(c->connect_host), "%s", DLP_REDACTED);
	}
	if (!d.allowed) {
		(void)egress_send_error(c, 403, d.reason);
		tunnel_log(c, routes, d.route, started, "deny", 403, d.reason, 0, 0, false);
		goto out;
	}
	route = d.route;
	/* The CONNECT head is done with; what follows is the tunnel's. */
	memmove(c->in.p, c->in.p + head_len, c->in.len - head_len);
	c->in.len -= head_len;
	c->in.p[c->in.len] = '\0';
	if (route->tls_passthrough) {
		/* Nothing of a passthrough tunnel is scanned: no state held. */
		egress_dlp_connection_release(c);
		connect_passthrough(c, routes, route, started);
		goto out;
	}
	connect_bump(c, routes, route, started);
	return; /* connect_bump dropped the reference before serving requests */
out:
	routes_unref(routes);
}

/* ---- relaying a tunnel both ways ---- */

struct relay_side {
	struct stream *from, *to;
	const struct egress_relay_filter *filter;
	uint64_t *count;
	bool done; /* from reached its end; to was shut for writing */
};

/* Move what `side->from` has to `side->to`: 0, or negative to stop. */
static int relay_move(struct relay_side *side, char *chunk)
{
	ssize_t n;
	int saved = side->from->timeout_ms;

	side->from->timeout_ms = 0;
	n = stream_read(side->from, chunk, RELAY_CHUNK);
	side->from->timeout_ms = saved;
	if (n == -ETIMEDOUT || n == -EAGAIN)
		return 0; /* nothing yet, or a TLS record not complete yet */
	if (n <= 0) {
		side->done = true;
		stream_shutdown_write(side->to);
		return n == 0 ? 0 : (int)n;
	}
	*side->count += (uint64_t)n;
	if (side->filter)
		return side->filter->fn(side->filter->ctx, side->to, chunk, (size_t)n);
	return stream_write(side->to, chunk, (size_t)n);
}

void egress_relay(struct egress_connection *c, struct stream *a, struct stream *b,
		  uint64_t *a_to_b, uint64_t *b_to_a, const struct egress_relay_filter *filter)
{
	struct relay_side sides[2] = {
		{ .from = a, .to = b, .count = a_to_b, .filter = filter },
		{ .from = b, .to = a, .count = b_to_a },
	};
	char *chunk = malloc(RELAY_CHUNK);

	if (!chunk)
		return;
	while (!sides[0].done || !sides[1].done) {
		struct pollfd pfd[2];
		int i, n, ret = 0;
		bool buffered = false;

		for (i = 0; i < 2; i++) {
			pfd[i].fd = sides[i].done ? -1 : sides[i].from->fd;
			pfd[i].events = POLLIN;
			pfd[i].revents = 0;
			if (!sides[i].done && stream_has_buffered(sides[i].from))
				buffered = true;
		}
		do
			n = poll(pfd, 2, buffered ? 0 : c->egress->options.tunnel_idle_timeout_ms);
		while (n < 0 && errno == EINTR);
		if (n < 0 || (n == 0 && !buffered))
			break; /* idle for too long */
		for (i = 0; i < 2 && ret == 0; i++) {
			if (sides[i].done)
				continue;
			if ((pfd[i].revents & (POLLIN | POLLHUP | POLLERR)) ||
			    stream_has_buffered(sides[i].from))
				ret = relay_move(&sides[i], chunk);
		}
		if (ret < 0)
			break;
	}
	free(chunk);
}

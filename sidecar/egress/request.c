/* One request through the proxy: read its head, decide it against the
 * routes, forward it (injecting the route's credential), relay the response,
 * log the decision.  Plain absolute-form requests and the requests inside a
 * bumped CONNECT take the same path; only where the upstream is and how it
 * is reached differ. */
#include "egress.h"
#include "egress_dlp.h"
#include "egress_tls.h"
#include "upstream.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../shared/log.h"

/* What outlives the parsed head (which points into c->in, consumed before
 * the body is relayed). */
struct request_summary {
	enum http1_method method;
	char method_name[32];
	char host[256];
	uint16_t port;
	char path[512];          /* for the log: without the query, truncated */
	uint8_t version_minor;
	bool keep_alive;
	bool expect_continue;
	bool websocket;
	enum http1_body body;
	int64_t content_length;
	bool body_held;          /* DLP read the body whole: sent with our Content-Length */
	bool strip_ws_extensions; /* DLP reads frames: no extension may change them */
};

static void copy_str(char *out, size_t out_len, struct str s)
{
	size_t n = s.len < out_len - 1 ? s.len : out_len - 1;

	memcpy(out, s.p, n);
	out[n] = '\0';
}

static void lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool upgrade_asks_websocket(struct str upgrade)
{
	struct http1_list list;
	struct str element;

	http1_list_init(&list, upgrade);
	while (http1_list_next(&list, &element)) {
		struct str protocol = element;
		const char *slash = memchr(element.p, '/', element.len);

		if (slash)
			protocol.len = (size_t)(slash - element.p);
		if (http1_str_ieq_cstr(protocol, "websocket"))
			return true;
	}
	return false;
}

int egress_send_error(struct egress_connection *c, int status, const char *reason)
{
	const char *text;
	struct buf *out = &c->client_out;
	int ret;

	switch (status) {
	case 400: text = "Bad Request"; break;
	case 403: text = "Forbidden"; break;
	case 404: text = "Not Found"; break;
	case 405: text = "Method Not Allowed"; break;
	case 408: text = "Request Timeout"; break;
	case 413: text = "Content Too Large"; break;
	case 414: text = "URI Too Long"; break;
	case 417: text = "Expectation Failed"; break;
	case 431: text = "Request Header Fields Too Large"; break;
	case 502: text = "Bad Gateway"; break;
	case 503: text = "Service Unavailable"; break;
	case 504: text = "Gateway Timeout"; break;
	case 505: text = "HTTP Version Not Supported"; break;
	default: text = "Error"; break;
	}
	buf_clear(out);
	ret = buf_appendf(out,
			  "HTTP/1.1 %d %s\r\n"
			  "Content-Type: text/plain; charset=utf-8\r\n"
			  "Content-Length: %zu\r\n"
			  "Connection: close\r\n"
			  "X-Bottle-Egress: %s\r\n"
			  "\r\n"
			  "egress: %s\n",
			  status, text, strlen(reason) + 9, status == 403 ? "denied" : "error", reason);
	if (ret == 0)
		ret = stream_write(&c->client, out->p, out->len);
	buf_clear(out);
	c->drain_before_close = true;
	return ret;
}

/* ---- reading the request head ---- */

static int remaining_ms(uint64_t deadline)
{
	uint64_t now = egress_start_clock();

	return now >= deadline ? 0 : (int)(deadline - now);
}

/* A keep-alive connection that stays quiet for this long gives back its
 * idle memory; busy connections (a next request within it) keep theirs. */
#define EGRESS_IDLE_TRIM_MS 1000

static void wait_idle(struct egress_connection *c)
{
	struct pollfd pfd = { .fd = c->client.fd, .events = POLLIN };
	int n;

	do
		n = poll(&pfd, 1, EGRESS_IDLE_TRIM_MS);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		egress_connection_idle(c);
}

/* Read until req's head is complete.  Returns the head length, 0 when the
 * client closed (or idled out) between requests, or a negative code after
 * answering the client. */
static int read_request_head(struct egress_connection *c, struct http1_request *req,
			     const struct http1_limits *limits, int *http1_error)
{
	const struct egress_options *o = &c->egress->options;
	uint64_t deadline = 0;

	*http1_error = 0;
	for (;;) {
		ssize_t n;
		int ret;

		if (c->in.len > 0) {
			if (deadline == 0)
				deadline = egress_start_clock() + (uint64_t)o->io_timeout_ms;
			ret = http1_request_parse(req, c->in.p, c->in.p + c->in.len, limits);
			if (ret != 0) {
				*http1_error = ret < 0 ? ret : 0;
				return ret;
			}
		}
		ret = buf_grow(&c->in, 4096);
		if (ret < 0)
			return ret; /* the parser's head cap is far below in's */
		/* The whole head must arrive within io_timeout of its first
		 * byte: one byte every few seconds (slowloris) does not
		 * keep a thread forever. */
		c->client.timeout_ms = deadline ? remaining_ms(deadline) : o->idle_timeout_ms;
		if (deadline && c->client.timeout_ms == 0)
			return -ETIMEDOUT;
		n = stream_read(&c->client, c->in.p + c->in.len, c->in.cap - c->in.len - 1);
		if (n == 0 || (n < 0 && c->in.len == 0))
			return 0;
		if (n < 0)
			return (int)n;
		c->in.len += (size_t)n;
		c->in.p[c->in.len] = '\0';
	}
}

static void consume_in(struct buf *b, size_t n)
{
	/* After DLP took the head there is nothing to consume, and musl's
	 * memmove copies a buffer onto itself backwards, a byte at a time. */
	if (n == 0)
		return;
	if (n >= b->len) {
		buf_clear(b);
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
	b->p[b->len] = '\0';
}

/* ---- the upstream connection ---- */

/* Connect a new upstream for host:port.  Returns 0, or an HTTP
 * status with reason filled. */
static int upstream_open_once(struct egress_connection *c, const struct route *route,
			      const char *host, uint16_t port, bool tls, bool *offered_session,
			      char *reason, size_t reason_len)
{
	const struct egress_options *o = &c->egress->options;
	int fd, ret;

	*offered_session = false;
	fd = upstream_connect(host, port, route, o->io_timeout_ms, c->upstream_address,
			      sizeof(c->upstream_address), reason, reason_len);
	if (fd < 0)
		return fd == -EACCES ? 403 : fd == -ETIMEDOUT ? 504 : 502;
	stream_init(&c->upstream, fd, o->io_timeout_ms);
	snprintf(c->upstream_host, sizeof(c->upstream_host), "%s", host);
	c->upstream_port = port;
	c->upstream_tls = tls;
	if (!tls)
		return 0;
	c->tls_client = calloc(1, sizeof(*c->tls_client));
	if (!c->tls_client) {
		snprintf(reason, reason_len, "out of memory");
		egress_upstream_close(c);
		return 502;
	}
	ret = egress_tls_client_setup(c->egress->tls, c->tls_client, host, port);
	if (ret == 0) {
		stream_attach_tls(&c->upstream, &c->tls_client->ssl);
		ret = stream_handshake(&c->upstream);
	}
	if (ret != 0) {
		*offered_session = c->tls_client->offered;
		egress_tls_client_failure(c->tls_client, ret, reason, reason_len);
		egress_upstream_close(c); /* also forgets the cached session */
		return 502;
	}
	egress_tls_client_save_session(c->tls_client);
	return 0;
}

static int upstream_open(struct egress_connection *c, const struct routes *routes,
			 const struct route *route, const char *host, uint16_t port, bool tls,
			 char *reason, size_t reason_len)
{
	bool offered_session;
	int status;

	egress_upstream_close(c);
	if (egress_upstream_take(c, routes, route, host, port, tls))
		return 0;
	status = upstream_open_once(c, route, host, port, tls, &offered_session, reason, reason_len);
	/* A resumed session pins the TLS version it was made with; an upstream
	 * that changed versions refuses it once.  Retry with a full handshake
	 * so the agent never sees that. */
	if (status == 502 && offered_session)
		status = upstream_open_once(c, route, host, port, tls, &offered_session, reason,
					    reason_len);
	return status;
}

/* ---- building the forwarded request ---- */

static bool is_field(struct str name, const char *want)
{
	return http1_str_ieq_cstr(name, want);
}

/* The head that goes upstream: origin-form target, our Host, the client's
 * end-to-end fields minus the credential we replace, our framing. */
static int build_upstream_head(struct buf *out, const struct http1_request *req,
			       const struct request_summary *s, bool tls, const struct route_auth *auth,
			       const char *token)
{
	const struct http1_target *t = &req->target;
	uint16_t default_port = tls ? 443 : 80;
	int ret;
	size_t i;

	ret = buf_appendf(out, "%.*s ", (int)req->method_name.len, req->method_name.p);
	if (ret == 0)
		ret = buf_append(out, t->path.len ? t->path.p : "/", t->path.len ? t->path.len : 1);
	if (ret == 0 && t->has_query)
		ret = buf_appendf(out, "?%.*s", (int)t->query.len, t->query.p);
	if (ret == 0)
		ret = buf_appendf(out, " HTTP/1.1\r\nHost: %s%s%s", strchr(s->host, ':') ? "[" : "",
				  s->host, strchr(s->host, ':') ? "]" : "");
	if (ret == 0 && s->port != default_port)
		ret = buf_appendf(out, ":%u", s->port);
	if (ret == 0)
		ret = buf_append_str(out, "\r\n");
	for (i = 0; ret == 0 && i < req->fields.n; i++) {
		const struct http1_field *f = &req->fields.v[i];

		if (is_field(f->name, "host") || http1_fields_is_hop_by_hop(&req->fields, f->name))
			continue;
		/* The agent holds a dummy; the real credential is ours. */
		if (auth && is_field(f->name, auth->header))
			continue;
		/* A held body was checked whole and goes with its own length;
		 * the client's Expect was answered already. */
		if (s->body_held && (is_field(f->name, "content-length") || is_field(f->name, "expect")))
			continue;
		if (s->strip_ws_extensions && is_field(f->name, "sec-websocket-extensions"))
			continue;
		ret = buf_appendf(out, "%.*s: %.*s\r\n", (int)f->name.len, f->name.p,
				  (int)f->value.len, f->value.p);
	}
	if (ret == 0 && auth)
		ret = buf_appendf(out, "%s: %s%s%s\r\n", auth->header, auth->scheme ? auth->scheme : "",
				  auth->scheme ? " " : "", token);
	if (ret == 0 && s->body == HTTP1_BODY_CHUNKED)
		ret = buf_append_str(out, "Transfer-Encoding: chunked\r\n");
	if (ret == 0 && s->body_held)
		ret = buf_appendf(out, "Content-Length: %lld\r\n", (long long)s->content_length);
	if (ret == 0 && s->websocket)
		ret = buf_append_str(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n");
	if (ret == 0)
		ret = buf_append_str(out, "\r\n");
	return ret;
}

/* ---- the response ---- */

/* Read a response head from upstream.  Returns its length, or an HTTP
 * status (502/504) with reason filled. */
static int read_response_head(struct egress_connection *c, struct http1_response *resp,
			      enum http1_method method, char *reason, size_t reason_len)
{
	const struct egress_options *o = &c->egress->options;
	struct buf *in = &c->upstream_in;

	http1_response_init(resp);
	c->upstream.timeout_ms = o->upstream_timeout_ms;
	for (;;) {
		ssize_t n;
		int ret;

		if (in->len > 0) {
			ret = http1_response_parse(resp, in->p, in->p + in->len, NULL, method);
			if (ret > 0)
				return ret;
			if (ret < 0) {
				char why[160];

				snprintf(reason, reason_len, "upstream %s:%u sent an invalid response: %s",
					 c->upstream_host, c->upstream_port,
					 http1_error_message(ret, NULL, why, sizeof(why)));
				return -502;
			}
		}
		if ((ret = buf_grow(in, 4096)) < 0) {
			snprintf(reason, reason_len, "upstream response head too large");
			return -502;
		}
		n = stream_read(&c->upstream, in->p + in->len, in->cap - in->len - 1);
		if (n <= 0) {
			if (n == -ETIMEDOUT) {
				snprintf(reason, reason_len, "upstream %s:%u sent no response within %ds",
					 c->upstream_host, c->upstream_port, o->upstream_timeout_ms / 1000);
				return -504;
			}
			if (n == -ECONNABORTED) {
				snprintf(reason, reason_len,
					 "the client went away while upstream %s:%u was answering",
					 c->upstream_host, c->upstream_port);
				return -499;
			}
			snprintf(reason, reason_len, "upstream %s:%u closed the connection without a response",
				 c->upstream_host, c->upstream_port);
			return -502;
		}
		in->len += (size_t)n;
		in->p[in->len] = '\0';
	}
}

static int build_client_head(struct buf *out, const struct http1_response *resp,
			     bool client_chunked, bool close_client)
{
	size_t i;
	int ret;

	ret = buf_appendf(out, "HTTP/1.1 %d %.*s\r\n", resp->status, (int)resp->reason.len,
			  resp->reason.p);
	for (i = 0; ret == 0 && i < resp->fields.n; i++) {
		const struct http1_field *f = &resp->fields.v[i];

		if (http1_fields_is_hop_by_hop(&resp->fields, f->name))
			continue;
		ret = buf_appendf(out, "%.*s: %.*s\r\n", (int)f->name.len, f->name.p,
				  (int)f->value.len, f->value.p);
	}
	if (ret == 0 && resp->status == 101)
		ret = buf_append_str(out, "Connection: Upgrade\r\nUpgrade: websocket\r\n");
	if (ret == 0 && client_chunked)
		ret = buf_append_str(out, "Transfer-Encoding: chunked\r\n");
	if (ret == 0 && close_client && resp->status != 101)
		ret = buf_append_str(out, "Connection: close\r\n");
	if (ret == 0)
		ret = buf_append_str(out, "\r\n");
	return ret;
}

/* ---- one request ---- */

struct request {
	struct egress_connection *c;
	struct request_summary s;
	struct routes *routes;
	struct route_decision decision;
	struct egress_decision log;
	char reason[768];
	bool close_client;
	struct egress_dlp_request *dlp; /* while DLP checks the request */
	enum route_outbound policy;
};

static void request_finish(struct request *r, const char *decision, int status, const char *reason)
{
	struct egress_connection *c = r->c;

	r->log.client = c->client_address;
	r->log.method = r->s.method_name;
	r->log.host = r->s.host;
	r->log.port = r->s.port;
	r->log.path = str_from_cstr(r->s.path);
	r->log.decision = decision;
	r->log.status = status;
	r->log.reason = reason;
	r->log.bumped = c->tunnel_tls;
	if (r->dlp && r->dlp->scan_live) {
		r->log.dlp = &r->dlp->scan.findings;
		r->log.dlp_action = egress_dlp_action_name(r->dlp->verdict.action);
		if (r->dlp->redacted && r->dlp->verdict.action == EGRESS_DLP_PASS)
			r->log.dlp_action = "redacted";
		if (r->dlp->proposal_id[0]) {
			r->log.dlp_proposal = r->dlp->proposal_id;
			if (r->dlp->verdict.action == EGRESS_DLP_PASS)
				r->log.dlp_action = "approved";
		}
	}
	egress_log_decision(c->egress, r->routes ? r->routes->log : ROUTES_LOG_BLOCKS, &r->log);
}

/* Deny or fail before anything went upstream: answer, log, close. */
static void request_refuse(struct request *r, int status, const char *reason)
{
	(void)egress_send_error(r->c, status, reason);
	r->close_client = true;
	request_finish(r, status == 403 ? "deny" : "error", status, reason);
}

static void serve_introspection(struct request *r, const struct http1_request *req,
				size_t head_len)
{
	struct egress_connection *c = r->c;
	struct buf body;
	int ret;

	if (!c->client_is_loopback) {
		request_refuse(r, 403, "the introspection endpoint " EGRESS_INTROSPECTION_HOST
				       " answers only inside the bundle");
		return;
	}
	if (req->method != HTTP1_M_GET || (!str_equal_cstr(req->target.path, "/routes") &&
					   !str_equal_cstr(req->target.path, "/stats"))) {
		request_refuse(r, 404, "the introspection endpoint serves only GET /routes and GET /stats");
		return;
	}
	consume_in(&c->in, head_len);
	buf_init(&body, 16 * 1024 * 1024);
	if (str_equal_cstr(req->target.path, "/stats")) {
		ret = egress_stats_to_json(c->egress, &body);
	} else {
		ret = routes_to_json_with_grants(r->routes, egress_grants_ledger(c->egress->grants),
						 &body);
		if (ret == 0)
			ret = buf_append_str(&body, "\n");
	}
	if (ret < 0) {
		buf_release(&body);
		request_refuse(r, 503, "cannot render the introspection answer");
		return;
	}
	buf_clear(&c->client_out);
	ret = buf_appendf(&c->client_out,
			  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			  "Content-Length: %zu\r\nCache-Control: no-store\r\n%s\r\n",
			  body.len, req->keep_alive ? "" : "Connection: close\r\n");
	if (ret == 0)
		ret = buf_append(&c->client_out, body.p, body.len);
	if (ret == 0)
		ret = stream_write(&c->client, c->client_out.p, c->client_out.len);
	buf_clear(&c->client_out);
	buf_release(&body);
	r->close_client = ret < 0 || !req->keep_alive;
	r->decision.route = NULL;
	request_finish(r, "allow", 200, NULL);
}

/* Wait for whichever comes first: the upstream's answer to Expect:
 * 100-continue, or the client sending its body anyway.  1: upstream
 * spoke, 0: the client did (or neither within the timeout: send the body,
 * as RFC 9110 §10.1.1 lets a client do). */
static int wait_for_continue(struct egress_connection *c)
{
	struct pollfd pfd[2] = {
		{ .fd = c->upstream.fd, .events = POLLIN },
		{ .fd = c->client.fd, .events = POLLIN },
	};
	int n;

	if (c->in.len > 0 || stream_has_buffered(&c->client))
		return 0;
	if (c->upstream_in.len > 0 || stream_has_buffered(&c->upstream))
		return 1;
	do
		n = poll(pfd, 2, c->egress->options.io_timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n > 0 && (pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
		return 1;
	return 0;
}

static int ws_filter(void *ctx, struct stream *to, const char *p, size_t n)
{
	return egress_ws_scan_filter(ctx, to, p, n);
}

/* A websocket the agent's side of which DLP reads ended on a finding or a
 * protocol error: tell the client why (close 1008, policy violation), log
 * it. */
static void ws_refused(struct request *r, struct egress_ws_scan *ws)
{
	static const char prefix[] = "egress: ";
	const char *why = egress_ws_scan_reason(ws);
	unsigned char frame[2 + 2 + 123];
	size_t len = strlen(why);

	if (len > sizeof(frame) - 4 - (sizeof(prefix) - 1))
		len = sizeof(frame) - 4 - (sizeof(prefix) - 1);
	frame[0] = 0x88;
	frame[1] = (unsigned char)(2 + sizeof(prefix) - 1 + len);
	frame[2] = 1008 >> 8;
	frame[3] = 1008 & 0xff;
	memcpy(frame + 4, prefix, sizeof(prefix) - 1);
	memcpy(frame + 4 + sizeof(prefix) - 1, why, len);
	(void)stream_write(&r->c->client, frame, 4 + sizeof(prefix) - 1 + len);
	r->log.dlp = egress_ws_scan_findings(ws);
	r->log.dlp_action = "block";
	snprintf(r->reason, sizeof(r->reason), "%s", why);
	snprintf(r->s.method_name, sizeof(r->s.method_name), "WEBSOCKET");
	request_finish(r, "deny", 1008, r->reason);
}

/* Relay bytes already read past the heads, then the two streams, until the
 * websocket ends. */
static void relay_upgraded(struct request *r)
{
	struct egress_connection *c = r->c;
	struct egress_ws_scan *ws = NULL;
	struct egress_relay_filter filter = { ws_filter, NULL };
	uint64_t up = 0, down = 0;
	int ret = 0;

	if (c->egress->dlp) {
		ws = egress_ws_scan_new(c->egress, r->policy, r->s.host, r->s.path);
		if (!ws)
			return;
		filter.ctx = ws;
	}
	if (c->in.len)
		ret = ws ? egress_ws_scan_filter(ws, &c->upstream, c->in.p, c->in.len) :
			   stream_write(&c->upstream, c->in.p, c->in.len);
	if (ret < 0)
		goto out;
	if (c->upstream_in.len && stream_write(&c->client, c->upstream_in.p, c->upstream_in.len) < 0)
		goto out;
	up = c->in.len;
	down = c->upstream_in.len;
	buf_clear(&c->in);
	buf_clear(&c->upstream_in);
	egress_relay(c, &c->client, &c->upstream, &up, &down, ws ? &filter : NULL);
	r->log.bytes_sent += up;
	r->log.bytes_received += down;
out:
	if (ws && egress_ws_scan_reason(ws))
		ws_refused(r, ws);
	egress_ws_scan_free(ws);
}

/* The route's credential, or NULL with the request refused. */
static bool request_credential(struct request *r, const struct route_auth *auth, const char **token)
{
	*token = NULL;
	if (!auth)
		return true;
	if (!r->c->tunnel_tls) {
		snprintf(r->reason, sizeof(r->reason),
			 "the route for %s injects a credential, which is never sent in clear: use https",
			 r->s.host);
		request_refuse(r, 403, r->reason);
		return false;
	}
	*token = getenv(auth->env);
	if (!*token || !**token) {
		snprintf(r->reason, sizeof(r->reason),
			 "the route for %s injects a credential from %s, which is not set in the sidecar",
			 r->s.host, auth->env);
		request_refuse(r, 502, r->reason);
		return false;
	}
	return true;
}

/* Read response heads until a final one (or a 101), relaying 1xx to
 * HTTP/1.1 clients.  Returns the head length or -status with reason set. */
static int response_read_final(struct request *r, struct http1_response *resp)
{
	struct egress_connection *c = r->c;

	for (;;) {
		int len = read_response_head(c, resp, r->s.method, r->reason, sizeof(r->reason));

		if (len < 0 || resp->status >= 200 || resp->status == 101)
			return len;
		if (r->s.version_minor == 1 && stream_write(&c->client, c->upstream_in.p, (size_t)len) < 0) {
			snprintf(r->reason, sizeof(r->reason), "the client went away");
			return -499;
		}
		consume_in(&c->upstream_in, (size_t)len);
	}
}

/* Send the request body (the head is batched in upstream_out).  With
 * Expect: 100-continue the upstream may answer before the body: then
 * *early holds that final response's head length and the body stays with
 * the client.  Returns 0, or -status with r->reason set. */
static int request_send_body(struct request *r, struct http1_response *resp, int *early)
{
	struct egress_connection *c = r->c;
	struct body_reader reader, *from;
	struct body_writer writer;
	int ret;

	*early = 0;
	body_reader_init(&reader, &c->client, &c->in, r->s.body, r->s.content_length);
	body_writer_init(&writer, &c->upstream, &c->upstream_out, r->s.body == HTTP1_BODY_CHUNKED);
	c->client.timeout_ms = c->egress->options.io_timeout_ms;

	if (r->s.expect_continue && !reader.done) {
		if ((ret = body_writer_flush(&writer)) < 0)
			goto lost;
		if (wait_for_continue(c) == 1) {
			int len = read_response_head(c, resp, r->s.method, r->reason, sizeof(r->reason));

			if (len < 0)
				return len;
			if (resp->status != 100) {
				*early = len;
				return 0;
			}
			consume_in(&c->upstream_in, (size_t)len);
			if (stream_write(&c->client, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
				goto lost;
		}
	}
	if (r->s.body_held) {
		ret = body_writer_put(&writer, r->dlp->body.p, r->dlp->body.len);
		if (ret == 0)
			ret = body_writer_finish(&writer);
		r->log.bytes_sent = r->dlp->body.len;
		goto sent;
	}
	ret = r->dlp ? egress_dlp_body_relay(r->dlp, &reader, &writer) : body_relay(&reader, &writer);
	/* A body that outgrew DLP's hold went on with DLP's reader. */
	from = r->dlp && r->dlp->spilled ? &r->dlp->reader : &reader;
	r->log.bytes_sent = from->total;
	if (ret == -EACCES) {
		snprintf(r->reason, sizeof(r->reason), "%s", r->dlp->verdict.reason);
		return -403;
	}
	if (ret == -EMSGSIZE && r->dlp) {
		snprintf(r->reason, sizeof(r->reason),
			 "dlp: the body holds a run of more than %zu KiB without a separator, which "
			 "egress cannot check while streaming: it was cut short",
			 c->egress->options.dlp_body_max / 1024);
		return -413;
	}
	if (ret < 0 && egress_stats_body_error(c->egress, from) == 408) {
		snprintf(r->reason, sizeof(r->reason),
			 "the request body stalled: nothing arrived for %ds",
			 c->egress->options.io_timeout_ms / 1000);
		return -408;
	}
	if (ret < 0 && from->chunked.err) {
		char why[160];

		snprintf(r->reason, sizeof(r->reason), "invalid chunked request body: %s",
			 http1_error_message(from->chunked.err, NULL, why, sizeof(why)));
		return -400;
	}
	if (ret < 0) {
		snprintf(r->reason, sizeof(r->reason), "request body relay failed: %s", strerror(-ret));
		return -502;
	}
	body_reader_compact(&reader);
sent:
	if (ret < 0) {
		snprintf(r->reason, sizeof(r->reason), "request body relay failed: %s", strerror(-ret));
		return -502;
	}
	return 0;
lost:
	snprintf(r->reason, sizeof(r->reason), "connection lost while sending the request");
	return -502;
}

/* Relay the response whose head is in upstream_in: its head rewritten for
 * the client, its body re-framed when needed, a 101 into a tunnel. */
static void response_relay(struct request *r, const struct http1_response *resp, int head_len,
			   bool body_was_sent)
{
	struct egress_connection *c = r->c;
	bool client_chunked, upstream_reusable;
	struct body_reader down;
	struct body_writer to_client;
	int ret;

	if (resp->status == 101 && !(r->s.websocket && upgrade_asks_websocket(resp->upgrade))) {
		snprintf(r->reason, sizeof(r->reason),
			 "upstream %s switched protocols without a websocket upgrade being asked for",
			 r->s.host);
		request_refuse(r, 502, r->reason);
		egress_upstream_close(c);
		return;
	}
	/* A body delimited by the upstream closing is re-chunked for HTTP/1.1
	 * clients, so their connection survives; HTTP/1.0 clients get it
	 * delimited by our close. */
	client_chunked = r->s.version_minor == 1 &&
			 (resp->body == HTTP1_BODY_CHUNKED || resp->body == HTTP1_BODY_CLOSE);
	if (!body_was_sent || !r->s.keep_alive || resp->status == 101 ||
	    (r->s.version_minor == 0 &&
	     (resp->body == HTTP1_BODY_CHUNKED || resp->body == HTTP1_BODY_CLOSE)))
		r->close_client = true;
	upstream_reusable = resp->keep_alive && resp->body != HTTP1_BODY_CLOSE &&
			    resp->status != 101 && body_was_sent;

	buf_clear(&c->client_out);
	if (build_client_head(&c->client_out, resp, client_chunked, r->close_client) < 0) {
		request_refuse(r, 502, "the upstream response head is too large to forward");
		egress_upstream_close(c);
		return;
	}
	consume_in(&c->upstream_in, (size_t)head_len);
	body_reader_init(&down, &c->upstream, &c->upstream_in, resp->body, resp->content_length);
	if (resp->body == HTTP1_BODY_TUNNEL)
		down.done = true;
	body_writer_init(&to_client, &c->client, &c->client_out, client_chunked);
	c->upstream.timeout_ms = c->egress->options.upstream_timeout_ms;
	ret = body_relay(&down, &to_client);
	r->log.bytes_received = down.total;
	if (ret < 0) {
		if (ret == -ECONNABORTED)
			snprintf(r->reason, sizeof(r->reason), "the client went away during the response");
		else
			snprintf(r->reason, sizeof(r->reason), "response relay failed: %s",
				 down.chunked.err ? http1_strerror(down.chunked.err) : strerror(-ret));
		r->close_client = true;
		egress_upstream_close(c);
		request_finish(r, "error", resp->status, r->reason);
		return;
	}
	body_reader_compact(&down);
	if (c->tls_client)
		egress_tls_client_save_session(c->tls_client);
	if (resp->status == 101) {
		request_finish(r, "allow", 101, NULL);
		c->upstream.hangup_fd = -1; /* the relay handles half-closes itself */
		relay_upgraded(r);
		egress_upstream_close(c);
		return;
	}
	/* The pool refuses an upstream with bytes after the response (a
	 * protocol error of the upstream's). */
	if (upstream_reusable)
		egress_upstream_put(c, r->routes, r->decision.route);
	else
		egress_upstream_close(c);
	request_finish(r, "allow", resp->status, NULL);
}

/* DLP on what the agent sent, before the credential is injected: the head
 * now, the body held or streamed.  Returns the request to forward (the
 * agent's or its redacted copy; the head is consumed from c->in either
 * way), or NULL with the request refused. */
static const struct http1_request *request_dlp(struct request *r, const struct http1_request *req,
					       size_t head_len)
{
	struct egress_connection *c = r->c;
	int status;

	if (!c->dlp)
		c->dlp = calloc(1, sizeof(*c->dlp));
	if (!c->dlp) {
		request_refuse(r, 503, "out of memory");
		return NULL;
	}
	/* egress_dlp_request_begin() sets up the scan in it. */
	r->dlp = c->dlp;
	r->policy = egress_dlp_policy(&c->egress->options, r->decision.route, r->s.host);
	status = egress_dlp_request_begin(r->dlp, c, req, head_len, r->policy, r->s.host);
	consume_in(&c->in, head_len);
	if (r->dlp->req)
		egress_dlp_request_log_path(r->dlp, r->s.path, sizeof(r->s.path));
	if (status == 0)
		status = egress_dlp_request_settle(r->dlp, c);
	if (status) {
		if (r->dlp->scan_live && egress_dlp_request_host_tainted(r->dlp))
			snprintf(r->s.host, sizeof(r->s.host), "%s", DLP_REDACTED);
		if (status == 499) {
			r->close_client = true;
			request_finish(r, "error", 499, r->dlp->verdict.reason);
		} else {
			request_refuse(r, status, r->dlp->verdict.reason);
		}
		return NULL;
	}
	if (r->dlp->body_held) {
		r->s.body_held = true;
		r->s.body = HTTP1_BODY_LENGTH;
		r->s.content_length = (int64_t)r->dlp->body.len;
		r->s.expect_continue = false;
	}
	r->s.strip_ws_extensions = r->s.websocket;
	return r->dlp->req;
}

/* Forward an allowed request and relay the response.  Returns with
 * r->close_client set when the client connection cannot go on. */
static void request_forward(struct request *r, const struct http1_request *req, size_t head_len)
{
	struct egress_connection *c = r->c;
	const struct route *route = r->decision.route;
	struct http1_response resp;
	const char *token;
	int status, len, early;

	/* Pushes go through the git gate, which checks what they hold. */
	if (egress_dlp_is_git_push(req->target.path, req->target.query, &req->fields)) {
		request_refuse(r, 403, "git push (git-receive-pack) is not allowed through egress: "
				       "push through the git gate");
		return;
	}
	if (c->egress->dlp) {
		req = request_dlp(r, req, head_len);
		if (!req)
			return;
		head_len = 0;
	}
	if (!request_credential(r, route->auth, &token))
		return;
	buf_clear(&c->upstream_out);
	if (build_upstream_head(&c->upstream_out, req, &r->s, c->tunnel_tls, route->auth, token) < 0) {
		request_refuse(r, 431, "the forwarded request head would be too large");
		return;
	}
	/* The parsed head points into c->in: from here on only r->s is used. */
	consume_in(&c->in, head_len);

	status = upstream_open(c, r->routes, route, r->s.host, r->s.port, c->tunnel_tls, r->reason,
			       sizeof(r->reason));
	if (status) {
		request_refuse(r, status, r->reason);
		return;
	}
	status = request_send_body(r, &resp, &early);
	if (status < 0) {
		request_refuse(r, -status, r->reason);
		egress_upstream_close(c);
		return;
	}
	/* A model may think for minutes before answering: if the agent gives
	 * up meanwhile, so do we, instead of holding both sockets. */
	c->upstream.hangup_fd = c->client.fd;
	len = early ? early : response_read_final(r, &resp);
	if (len < 0) {
		request_refuse(r, -len, r->reason);
		egress_upstream_close(c);
		return;
	}
	response_relay(r, &resp, len, early == 0);
}

/* Whether the request's own target agrees with the tunnel it arrived in. */
static bool tunnel_target_agrees(const struct egress_connection *c, const struct http1_request *req)
{
	const struct http1_authority *a = &req->authority;

	if (!http1_host_equal(a->host, str_from_cstr(c->connect_host)))
		return false;
	return !a->has_port || a->port == c->connect_port;
}

enum serve_next {
	SERVE_CLOSE,   /* the client connection ends */
	SERVE_NEXT,    /* read the next request */
	SERVE_CONNECT, /* a CONNECT whose target is in c->connect_host/port */
};

/* Read, check and answer one request.  A CONNECT is left to the caller, so
 * that this function's large frame is not on the stack for the tunnel's
 * life (a held connection's memory is mostly its touched stack). */
static enum serve_next serve_one(struct egress_connection *c, size_t *connect_head_len)
{
	/* Host is never forwarded (build_upstream_head writes it from the
	 * target), so a client's disagreeing Host is harmless here. */
	static const struct http1_limits plain_limits = { .flags = HTTP1_ALLOW_HOST_MISMATCH };
	static const struct http1_limits tunnel_limits = {
		.flags = HTTP1_ALLOW_HTTPS_ABSOLUTE | HTTP1_ALLOW_HOST_MISMATCH,
	};
	struct http1_request req;
	struct request r;
	int head_len, parse_error;

	memset(&r, 0, sizeof(r));
	r.c = c;
	http1_request_init(&req);
	head_len = read_request_head(c, &req, c->in_tunnel ? &tunnel_limits : &plain_limits,
				     &parse_error);
	if (head_len == 0)
		return false;
	r.log.started_ms = egress_start_clock();
	r.routes = egress_routes_get(c->egress);
	if (head_len < 0) {
		char why[200];

		/* Nothing of the head can be trusted; in a tunnel its target can. */
		if (c->in_tunnel) {
			snprintf(r.s.host, sizeof(r.s.host), "%s", c->connect_host);
			r.s.port = c->connect_port;
		}

		if (parse_error == 0) {
			if (head_len == -ETIMEDOUT) {
				egress_stats_reject(c->egress, EGRESS_REJECT_HEAD_TIMEOUT);
				request_refuse(&r, 408, "the request head did not arrive in time");
			} else {
				r.close_client = true;
			}
		} else if (!c->in_tunnel && (unsigned char)c->in.p[0] == 0x16) {
			/* A client that took the proxy for a TLS server (an
			 * https:// proxy URL): say so rather than "bad method". */
			egress_stats_reject(c->egress, EGRESS_REJECT_TLS_ON_PROXY_PORT);
			request_refuse(&r, 400, "a TLS handshake arrived on the proxy port: this is a plain "
						"HTTP proxy (use an http:// proxy URL; https goes through CONNECT)");
		} else {
			egress_stats_http1(c->egress, parse_error);
			request_refuse(&r, http1_error_status(parse_error),
				       http1_error_message(parse_error, NULL, why, sizeof(why)));
		}
		goto out;
	}

	r.s.method = req.method;
	copy_str(r.s.method_name, sizeof(r.s.method_name), req.method_name);
	copy_str(r.s.host, sizeof(r.s.host), req.authority.host);
	lowercase(r.s.host);
	copy_str(r.s.path, sizeof(r.s.path), req.target.path.len ? req.target.path : STR_LITERAL("/"));
	r.s.version_minor = req.version_minor;
	r.s.keep_alive = req.keep_alive;
	r.s.expect_continue = req.expect_continue;
	r.s.websocket = req.upgrade.len && upgrade_asks_websocket(req.upgrade);
	r.s.body = req.body;
	r.s.content_length = req.content_length;

	if (req.method == HTTP1_M_CONNECT) {
		if (c->in_tunnel) {
			request_refuse(&r, 400, "CONNECT inside a CONNECT tunnel is not supported");
			goto out;
		}
		routes_unref(r.routes);
		copy_str(c->connect_host, sizeof(c->connect_host), req.target.authority.host);
		lowercase(c->connect_host);
		c->connect_port = req.target.authority.port;
		*connect_head_len = req.head_len;
		return SERVE_CONNECT;
	}
	if (c->in_tunnel) {
		r.s.port = req.authority.port ? req.authority.port : c->connect_port;
		if (!tunnel_target_agrees(c, &req)) {
			snprintf(r.reason, sizeof(r.reason),
				 "the request's host %s does not match the CONNECT target %s:%u",
				 r.s.host, c->connect_host, c->connect_port);
			request_refuse(&r, 403, r.reason);
			goto out;
		}
		if (c->tls_server && c->tls_server->sni_mismatch) {
			snprintf(r.reason, sizeof(r.reason),
				 "the TLS server name %s does not match the CONNECT target %s",
				 c->tls_server->sni, c->connect_host);
			request_refuse(&r, 403, r.reason);
			goto out;
		}
	} else {
		if (req.target.form != HTTP1_FORM_ABSOLUTE) {
			request_refuse(&r, 400, "this is a forward proxy: send absolute-form requests "
						"(http://host/path), or CONNECT host:443 for https");
			goto out;
		}
		r.s.port = req.authority.port ? req.authority.port : 80;
		if (http1_str_ieq_cstr(req.authority.host, EGRESS_INTROSPECTION_HOST)) {
			serve_introspection(&r, &req, (size_t)head_len);
			goto out;
		}
	}

	{
		struct routes_request rq = {
			.host = str_from_cstr(r.s.host),
			.port = r.s.port,
			.method = req.method_name,
			.path = req.target.path.len ? req.target.path : STR_LITERAL("/"),
			.query = req.target.query,
			.fields = &req.fields,
			.upgrade_websocket = r.s.websocket,
			.grants = egress_grants_ledger(c->egress->grants),
		};

		if (routes_decide(r.routes, &rq, &r.decision) < 0) {
			request_refuse(&r, 403, "the request could not be checked against the routes");
			goto out;
		}
	}
	r.log.route = r.decision.route;
	if (!r.decision.allowed) {
		request_refuse(&r, 403, r.decision.reason);
		goto out;
	}
	request_forward(&r, &req, (size_t)head_len);
out:
	if (r.dlp)
		egress_dlp_request_end(r.dlp);
	routes_unref(r.routes);
	return r.close_client ? SERVE_CLOSE : SERVE_NEXT;
}

void egress_serve_requests(struct egress_connection *c)
{
	size_t connect_head_len;

	for (;;) {
		if (c->in.len == 0 && !stream_has_buffered(&c->client))
			wait_idle(c);
		switch (serve_one(c, &connect_head_len)) {
		case SERVE_NEXT:
			continue;
		case SERVE_CONNECT:
			egress_handle_connect(c, connect_head_len);
			return;
		case SERVE_CLOSE:
			return;
		}
	}
}

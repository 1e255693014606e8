/* A client connection's thread: read each request with the strict HTTP/1.1
 * parser, apply the transport's rules (endpoint, Host, Origin, token,
 * method, size, media types) and hand POST bodies to the MCP layer.
 *
 * Every wait is bounded by poll: the head and body within --io-timeout, the
 * next request on a kept-alive connection within --idle-timeout. */
#include "supervise.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../shared/log.h"

#define SUPERVISE_HEAD_MAX (32 * 1024)
#define SUPERVISE_READ_CHUNK (16 * 1024)

unsigned supervise_active_connections;

int supervise_wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return r == 0 ? -ETIMEDOUT : 0;
}

int supervise_write_all(int fd, const void *data, size_t len, int timeout_ms)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n;
		int r = supervise_wait_fd(fd, POLLOUT, timeout_ms);

		if (r < 0)
			return r;
		n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Up to len bytes within timeout_ms: > 0, 0 at EOF, or negative. */
static ssize_t read_some(int fd, void *data, size_t len, int timeout_ms)
{
	ssize_t n;
	int r = supervise_wait_fd(fd, POLLIN, timeout_ms);

	if (r < 0)
		return r;
	do
		n = recv(fd, data, len, 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static const char *status_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 202: return "Accepted";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* One whole response.  body may be empty; extra is more header lines, each
 * ending in CRLF. */
static int send_response(struct supervise_connection *c, int status, const char *content_type,
			 const char *body, size_t body_len, const char *extra, bool close_after)
{
	struct buf head;
	int ret;

	buf_init(&head, 8192);
	ret = buf_appendf(&head, "HTTP/1.1 %d %s\r\n", status, status_reason(status));
	if (ret == 0 && body_len > 0)
		ret = buf_appendf(&head, "Content-Type: %s\r\n", content_type);
	if (ret == 0)
		ret = buf_appendf(&head, "Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
				  body_len, extra ? extra : "",
				  close_after ? "Connection: close\r\n" : "");
	if (ret == 0)
		ret = supervise_write_all(c->fd, head.p, head.len, c->options->io_timeout_ms);
	if (ret == 0 && body_len > 0)
		ret = supervise_write_all(c->fd, body, body_len, c->options->io_timeout_ms);
	buf_release(&head);
	return ret;
}

/* A transport-level refusal: a JSON-RPC error without an id, as the spec
 * allows, so MCP clients can show the reason. */
static int send_refusal(struct supervise_connection *c, int status, int code, const char *reason,
			const char *extra, bool close_after)
{
	struct buf body;
	int ret;

	buf_init(&body, 4096);
	ret = jsonrpc_error_json(&body, NULL, code, reason, NULL);
	if (ret == 0)
		ret = send_response(c, status, "application/json", body.p, body.len, extra,
				    close_after);
	buf_release(&body);
	return ret;
}

static struct str field(const struct http1_request *req, const char *name)
{
	const struct http1_field *f = http1_fields_find(&req->fields, name);

	return f ? f->value : (struct str){ "", 0 };
}

/* Read the rest of the head.  Returns the head length, 0 at a clean EOF
 * before any byte, or negative (an HTTP1_E* code, or -errno). */
static int read_head(struct supervise_connection *c, bool first)
{
	char chunk[SUPERVISE_READ_CHUNK];
	int n;

	http1_request_init(&c->req);
	for (;;) {
		ssize_t got;

		if (c->in.len > 0) {
			n = http1_request_parse(&c->req, c->in.p, c->in.p + c->in.len, NULL);
			if (n != 0)
				return n;
		}
		got = read_some(c->fd, chunk, sizeof(chunk),
				c->in.len == 0 && !first ? c->options->idle_timeout_ms
							 : c->options->io_timeout_ms);
		if (got == 0)
			return c->in.len == 0 ? 0 : -ECONNRESET;
		if (got < 0)
			return got == -ETIMEDOUT ? -ETIMEDOUT : -ECONNRESET;
		if (buf_append(&c->in, chunk, (size_t)got) < 0)
			return HTTP1_EHEAD_TOO_LARGE;
	}
}

/* Read the body into `body`; bytes after it go to `rest`.  Returns 0,
 * -EMSGSIZE (too large), an HTTP1_E* code, or -errno. */
static int read_body(struct supervise_connection *c, int head_len, struct buf *body,
		     struct buf *rest)
{
	char chunk[SUPERVISE_READ_CHUNK];
	const char *p = c->in.p + head_len, *end = c->in.p + c->in.len;
	struct http1_chunked ck;
	bool chunked = c->req.body == HTTP1_BODY_CHUNKED;
	int ret = 0;

	if (!http1_request_has_body(&c->req))
		return buf_append(rest, p, (size_t)(end - p)) < 0 ? -ENOBUFS : 0;
	if (chunked)
		http1_chunked_init(&ck, NULL);
	for (;;) {
		ssize_t got;

		if (chunked) {
			struct str data;
			int r;

			while ((r = http1_chunked_decode(&ck, &p, end, &data)) == HTTP1_CHUNKED_DATA)
				if ((ret = buf_append(body, data.p, data.len)) < 0)
					return ret == -EMSGSIZE ? ret : -ENOBUFS;
			if (r < 0)
				return r;
			if (r == HTTP1_CHUNKED_DONE)
				return buf_append(rest, p, (size_t)(end - p)) < 0 ? -ENOBUFS : 0;
		} else {
			size_t want = (size_t)c->req.content_length - body->len;
			size_t have = (size_t)(end - p);

			if ((ret = buf_append(body, p, have < want ? have : want)) < 0)
				return ret == -EMSGSIZE ? ret : -ENOBUFS;
			if (have >= want)
				return buf_append(rest, p + want, have - want) < 0 ? -ENOBUFS : 0;
		}
		got = read_some(c->fd, chunk, sizeof(chunk), c->options->io_timeout_ms);
		if (got <= 0)
			return -ECONNRESET;
		p = chunk;
		end = chunk + got;
	}
}

static bool media_type_is_json(struct str ct)
{
	size_t n = 0;

	while (n < ct.len && ct.p[n] != ';' && ct.p[n] != ' ')
		n++;
	return http1_str_ieq_cstr((struct str){ ct.p, n }, "application/json");
}

/* Serve one request.  Returns 1 to keep the connection, 0 to close it. */
static int serve_one(struct supervise_connection *c, int head_len, struct buf *rest)
{
	const struct supervise_options *o = c->options;
	struct http1_request *req = &c->req;
	struct mcp_reply reply = { .status = 0 };
	struct mcp_request mreq;
	struct buf body;
	struct str origin, auth;
	int ret = 0, r;

	buf_init(&body, SUPERVISE_BODY_MAX);
	buf_init(&reply.body, 4 * SUPERVISE_BODY_MAX);
	if (req->target.form != HTTP1_FORM_ORIGIN || !str_equal_cstr(req->target.path, "/mcp")) {
		(void)send_refusal(c, 404, JSONRPC_INVALID_REQUEST,
				   "not found: the MCP endpoint is /mcp", NULL, true);
		goto out;
	}
	/* DNS rebinding: a browser tricked into sending here names the
	 * attacker's host in Host and its page in Origin. */
	if (!protocol_host_allowed(o, req->host_header)) {
		(void)send_refusal(c, 403, JSONRPC_INVALID_REQUEST,
				   "forbidden: Host is not one this server answers to", NULL, true);
		goto out;
	}
	origin = field(req, "origin");
	if (http1_fields_find(&req->fields, "origin") && !protocol_origin_allowed(o, origin)) {
		(void)send_refusal(c, 403, JSONRPC_INVALID_REQUEST,
				   "forbidden: Origin is not allowed", NULL, true);
		goto out;
	}
	auth = field(req, "authorization");
	if (o->token && !protocol_bearer_ok(auth, o->token)) {
		(void)send_refusal(c, 401, JSONRPC_INVALID_REQUEST,
				   "unauthorized: a valid bearer token is required",
				   "WWW-Authenticate: Bearer realm=\"supervise\"\r\n", true);
		goto out;
	}
	if (req->method == HTTP1_M_DELETE) {
		struct str sid = field(req, "mcp-session-id");

		if (sid.len == 0)
			r = send_refusal(c, 400, JSONRPC_INVALID_REQUEST,
					 "bad request: DELETE needs an Mcp-Session-Id", NULL, false);
		else if (session_end(sid) < 0)
			r = send_refusal(c, 404, JSONRPC_INVALID_REQUEST,
					 "session not found: it ended or never existed", NULL, false);
		else
			r = send_response(c, 200, "", "", 0, NULL, false);
		ret = r == 0 && req->keep_alive && !http1_request_has_body(req);
		goto out;
	}
	if (req->method != HTTP1_M_POST) {
		/* GET would open a server-to-client stream; this server sends
		 * nothing unasked, so it offers none (allowed by every revision). */
		(void)send_refusal(c, 405, JSONRPC_INVALID_REQUEST,
				   "method not allowed: POST JSON-RPC messages to /mcp",
				   "Allow: POST, DELETE\r\n", true);
		goto out;
	}
	if (req->body == HTTP1_BODY_LENGTH && req->content_length > SUPERVISE_BODY_MAX) {
		(void)send_refusal(c, 413, JSONRPC_INVALID_REQUEST,
				   "request body over 1 MiB", NULL, true);
		goto out;
	}
	if (!media_type_is_json(field(req, "content-type"))) {
		(void)send_refusal(c, 415, JSONRPC_INVALID_REQUEST,
				   "unsupported media type: send Content-Type: application/json",
				   NULL, true);
		goto out;
	}
	if (!protocol_accept_ok(field(req, "accept"))) {
		(void)send_refusal(c, 406, JSONRPC_INVALID_REQUEST,
				   "not acceptable: Accept must list application/json and text/event-stream",
				   NULL, true);
		goto out;
	}
	if (req->expect_continue &&
	    supervise_write_all(c->fd, "HTTP/1.1 100 Continue\r\n\r\n", 25, o->io_timeout_ms) < 0)
		goto out;
	r = read_body(c, head_len, &body, rest);
	if (r == -EMSGSIZE) {
		(void)send_refusal(c, 413, JSONRPC_INVALID_REQUEST, "request body over 1 MiB",
				   NULL, true);
		goto out;
	}
	if (r < 0) {
		if (r <= HTTP1_EINTERNAL && r >= HTTP1_ELAST)
			(void)send_refusal(c, http1_error_status(r), JSONRPC_INVALID_REQUEST,
					   http1_strerror(r), NULL, true);
		goto out;
	}
	mreq = (struct mcp_request){
		.options = o, .http = req, .body = body.p, .body_len = body.len, .fd = c->fd,
	};
	r = mcp_handle_post(&mreq, &reply);
	if (r != 0)
		goto out; /* streamed (then closed) or failed */
	{
		char extra[128] = "";

		if (reply.session_id[0])
			snprintf(extra, sizeof(extra), "Mcp-Session-Id: %s\r\n", reply.session_id);
		r = send_response(c, reply.status, "application/json", reply.body.p, reply.body.len,
				  extra, !req->keep_alive);
	}
	ret = r == 0 && req->keep_alive;
out:
	buf_release(&body);
	buf_release(&reply.body);
	return ret;
}

static void serve(struct supervise_connection *c)
{
	struct buf rest;
	bool first = true;

	buf_init(&rest, SUPERVISE_HEAD_MAX + SUPERVISE_READ_CHUNK);
	for (;;) {
		int n = read_head(c, first);

		first = false;
		if (n == 0 || n == -ECONNRESET || n == -ETIMEDOUT || n == -ECONNABORTED)
			break;
		if (n < 0) {
			char reason[160];

			if (n >= HTTP1_ELAST) {
				http1_error_message(n, NULL, reason, sizeof(reason));
				(void)send_refusal(c, http1_error_status(n), JSONRPC_INVALID_REQUEST,
						   reason, NULL, true);
			}
			break;
		}
		buf_clear(&rest);
		if (serve_one(c, n, &rest) != 1)
			break;
		/* Pipelined bytes become the start of the next request. */
		buf_clear(&c->in);
		if (buf_append(&c->in, rest.p, rest.len) < 0)
			break;
	}
	buf_release(&rest);
}

void *supervise_connection_main(void *arg)
{
	struct supervise_connection *c = arg;

	buf_init(&c->in, SUPERVISE_HEAD_MAX + SUPERVISE_READ_CHUNK);
	serve(c);
	close(c->fd);
	buf_release(&c->in);
	free(c);
	__atomic_sub_fetch(&supervise_active_connections, 1, __ATOMIC_RELAXED);
	return NULL;
}

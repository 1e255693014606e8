/* git's smart-HTTP protocol (gitprotocol-http(5)) on the project's strict
 * HTTP/1.1 parser (shared/http1.h), one thread per connection, keep-alive.
 *
 *   GET  /<repo>.git/info/refs?service=git-upload-pack   the advertisement
 *   POST /<repo>.git/git-upload-pack                     one round of fetch
 *   POST /<repo>.git/git-receive-pack                    a push
 *
 * and the same without ".git".  A request body may be chunked and gzip'd;
 * it is streamed to the service as it arrives, bounded by request_max
 * (before and after decompression).  The response is streamed too, in
 * chunks, with caching turned off.  An error before the response started
 * is a status with a one-line text/plain body, which git prints as
 * "remote: <line>"; after it started, the response is cut short and the
 * connection closed, which git reports as a failed RPC. */
#include "transport.h"
#include "pkt_line.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "../../shared/http1.h"
#include "../../shared/log.h"

#define HTTP_IN_MAX (64 * 1024)   /* a head (32 KiB at most) and some body behind it */
#define HTTP_OUT_MAX (128 * 1024) /* one chunk of the response */
#define CHUNK_RESERVE 24          /* room before the data for "<hex>\r\n" */

/* ---- one connection ---- */

struct http_conn {
	struct gitgate *gate;
	struct transport_socket socket;
	const char *peer_ip, *peer_addr;
	struct buf in;              /* received; in.p[in_pos..in.len) not yet used */
	size_t in_pos;
	struct http1_request req;

	/* the request body, as the service reads it */
	bool body_done;
	int64_t length_left;        /* HTTP1_BODY_LENGTH */
	struct http1_chunked chunked;
	struct str pending;         /* decoded chunk bytes not yet handed out */
	uint64_t body_raw, body_decoded;
	bool continue_due;          /* Expect: 100-continue, not answered yet */
	bool gzip, gzip_ready, gzip_end, raw_end;
	z_stream z;
	unsigned char *zin;         /* compressed bytes for inflate */
	char body_err[160];

	/* the response */
	const char *content_type;
	bool head_sent, chunked_out;
	struct buf out;             /* CHUNK_RESERVE bytes, then the chunk's data */
};

/* Read more bytes into c->in (after what is there): count, 0 at the
 * client's end, or a negative errno. */
static ssize_t in_fill(struct http_conn *c)
{
	size_t room;
	ssize_t n;
	int ret;

	if (c->in_pos == c->in.len) {
		buf_clear(&c->in);
		c->in_pos = 0;
	}
	room = c->in.max - c->in.len;
	if (room == 0)
		return -EMSGSIZE;
	ret = buf_grow(&c->in, room);
	if (ret < 0)
		return ret;
	n = transport_socket_read(&c->socket, c->in.p + c->in.len, room);
	if (n > 0) {
		c->in.len += (size_t)n;
		c->in.p[c->in.len] = '\0';
	}
	return n;
}

static size_t in_take(struct http_conn *c, void *p, size_t len)
{
	size_t n = c->in.len - c->in_pos;

	if (n > len)
		n = len;
	memcpy(p, c->in.p + c->in_pos, n);
	c->in_pos += n;
	return n;
}

static int send_continue(struct http_conn *c)
{
	static const char line[] = "HTTP/1.1 100 Continue\r\n\r\n";

	c->continue_due = false;
	return transport_socket_write(&c->socket, line, sizeof(line) - 1);
}

/* The body with its framing (Content-Length or chunked) removed. */
static ssize_t body_read_framed(struct http_conn *c, void *p, size_t len)
{
	ssize_t n;

	if (c->req.body == HTTP1_BODY_LENGTH) {
		if (c->length_left == 0)
			return 0;
		if ((uint64_t)len > (uint64_t)c->length_left)
			len = (size_t)c->length_left;
		if (c->in_pos < c->in.len)
			n = (ssize_t)in_take(c, p, len);
		else
			n = transport_socket_read(&c->socket, p, len);
		if (n == 0) {
			error_format(c->body_err, sizeof(c->body_err),
				     "the request body ended before its Content-Length");
			return -EPROTO;
		}
		if (n > 0)
			c->length_left -= n;
		return n;
	}
	for (;;) {
		const char *at, *end;
		struct str data;
		int ret;

		if (c->pending.len > 0) {
			size_t take = c->pending.len < len ? c->pending.len : len;

			memcpy(p, c->pending.p, take);
			c->pending.p += take;
			c->pending.len -= take;
			return (ssize_t)take;
		}
		if (c->in_pos == c->in.len) {
			n = in_fill(c);
			if (n == 0) {
				error_format(c->body_err, sizeof(c->body_err),
					     "the request body ended inside a chunk");
				return -EPROTO;
			}
			if (n < 0)
				return n;
		}
		at = c->in.p + c->in_pos;
		end = c->in.p + c->in.len;
		ret = http1_chunked_decode(&c->chunked, &at, end, &data);
		c->in_pos = (size_t)(at - c->in.p);
		if (ret == HTTP1_CHUNKED_DONE)
			return 0;
		if (ret == HTTP1_CHUNKED_DATA)
			c->pending = data;
		if (ret < 0) {
			error_format(c->body_err, sizeof(c->body_err), "bad chunked body: %s",
				     http1_strerror(ret));
			return -EPROTO;
		}
	}
}

static ssize_t body_read_raw(struct http_conn *c, void *p, size_t len)
{
	ssize_t n = body_read_framed(c, p, len);

	if (n > 0) {
		c->body_raw += (uint64_t)n;
		if (c->body_raw > c->gate->config.request_max) {
			error_format(c->body_err, sizeof(c->body_err),
				     "the request body is over the gate's %llu-byte limit",
				     (unsigned long long)c->gate->config.request_max);
			return -EMSGSIZE;
		}
	}
	return n;
}

#define GZIP_IN_SIZE (16 * 1024)

static ssize_t body_read_gzip(struct http_conn *c, void *p, size_t len)
{
	for (;;) {
		int ret;

		if (c->gzip_end)
			return 0;
		if (c->z.avail_in == 0 && !c->raw_end) {
			ssize_t n = body_read_raw(c, c->zin, GZIP_IN_SIZE);

			if (n < 0)
				return n;
			if (n == 0)
				c->raw_end = true;
			c->z.next_in = c->zin;
			c->z.avail_in = (uInt)n;
		}
		c->z.next_out = p;
		c->z.avail_out = (uInt)(len > 1u << 30 ? 1u << 30 : len);
		ret = inflate(&c->z, Z_NO_FLUSH);
		if (ret == Z_STREAM_END)
			c->gzip_end = true;
		else if (ret != Z_OK && ret != Z_BUF_ERROR) {
			error_format(c->body_err, sizeof(c->body_err), "the gzip body is corrupt");
			return -EPROTO;
		}
		size_t produced = len - c->z.avail_out;
		if (produced > 0) {
			c->body_decoded += produced;
			if (c->body_decoded > c->gate->config.request_max) {
				error_format(c->body_err, sizeof(c->body_err),
					     "the decompressed request body is over the gate's "
					     "%llu-byte limit",
					     (unsigned long long)c->gate->config.request_max);
				return -EMSGSIZE;
			}
			return (ssize_t)produced;
		}
		if (c->raw_end && !c->gzip_end) {
			error_format(c->body_err, sizeof(c->body_err), "the gzip body is cut short");
			return -EPROTO;
		}
	}
}

/* gitgate_io.read for the service. */
static ssize_t http_body_read(void *ctx, void *p, size_t len)
{
	struct http_conn *c = ctx;
	ssize_t n;

	if (c->body_done || len == 0)
		return 0;
	if (c->continue_due) {
		int ret = send_continue(c);
		if (ret < 0)
			return ret;
	}
	n = c->gzip ? body_read_gzip(c, p, len) : body_read_raw(c, p, len);
	if (n == 0)
		c->body_done = true;
	return n;
}

/* ---- the response ---- */

static int send_head(struct http_conn *c)
{
	char head[512];
	int n;

	c->chunked_out = c->req.version_minor >= 1;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 200 OK\r\n"
		     "Content-Type: %s\r\n"
		     "Cache-Control: no-cache, max-age=0, must-revalidate\r\n"
		     "Pragma: no-cache\r\n"
		     "Expires: Fri, 01 Jan 1980 00:00:00 GMT\r\n"
		     "%s\r\n",
		     c->content_type,
		     c->chunked_out ? "Transfer-Encoding: chunked\r\n" : "Connection: close\r\n");
	c->head_sent = true;
	return transport_socket_write(&c->socket, head, (size_t)n);
}

static void out_reset(struct http_conn *c)
{
	static const char reserve[CHUNK_RESERVE];

	buf_clear(&c->out);
	buf_append(&c->out, reserve, sizeof(reserve));
}

/* gitgate_io.flush: the head once, then what is gathered as one chunk. */
static int http_out_flush(void *ctx)
{
	struct http_conn *c = ctx;
	size_t data_len = c->out.len - CHUNK_RESERVE;
	char header[HTTP1_CHUNK_HEADER_MAX];
	size_t header_len;
	int ret;

	if (!c->head_sent) {
		ret = send_head(c);
		if (ret < 0)
			return ret;
	}
	if (data_len == 0)
		return 0;
	if (!c->chunked_out) {
		ret = transport_socket_write(&c->socket, c->out.p + CHUNK_RESERVE, data_len);
	} else {
		header_len = http1_chunked_encode_header(data_len, header);
		ret = buf_append(&c->out, "\r\n", 2);
		if (ret < 0)
			return ret;
		memcpy(c->out.p + CHUNK_RESERVE - header_len, header, header_len);
		ret = transport_socket_write(&c->socket, c->out.p + CHUNK_RESERVE - header_len,
					     header_len + data_len + 2);
	}
	out_reset(c);
	return ret;
}

/* gitgate_io.write: gathered until a flush or until a chunk is full. */
static int http_out_write(void *ctx, const void *p, size_t len)
{
	struct http_conn *c = ctx;
	const char *at = p;

	while (len > 0) {
		size_t room = HTTP_OUT_MAX - 2 - c->out.len, n;
		int ret;

		if (room == 0) {
			ret = http_out_flush(c);
			if (ret < 0)
				return ret;
			continue;
		}
		n = len < room ? len : room;
		ret = buf_append(&c->out, at, n);
		if (ret < 0)
			return ret;
		at += n;
		len -= n;
	}
	return 0;
}

static int finish_response(struct http_conn *c)
{
	int ret = http_out_flush(c);

	if (ret == 0 && c->chunked_out)
		ret = transport_socket_write(&c->socket, HTTP1_CHUNKED_LAST,
					     sizeof(HTTP1_CHUNKED_LAST) - 1);
	return ret;
}

static const char *status_reason(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Content Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	}
	return "Error";
}

/* An error response with a one-line text body git shows as "remote: ...";
 * extra holds more header lines ("Allow: GET\r\n") or is "". */
static int send_error(struct http_conn *c, int status, const char *extra, bool close_after,
		      const char *message)
{
	char response[1024];
	int n;

	n = snprintf(response, sizeof(response),
		     "HTTP/1.1 %d %s\r\n"
		     "Content-Type: text/plain; charset=utf-8\r\n"
		     "Cache-Control: no-cache\r\n"
		     "Content-Length: %zu\r\n"
		     "%s%s\r\n"
		     "%s\n",
		     status, status_reason(status), strlen(message) + 1, extra,
		     close_after ? "Connection: close\r\n" : "", message);
	if (n < 0 || (size_t)n >= sizeof(response))
		return -EMSGSIZE;
	c->head_sent = true;
	return transport_socket_write(&c->socket, response, (size_t)n);
}

void transport_http_refuse(int fd, const char *reason)
{
	char response[512];
	int n = snprintf(response, sizeof(response),
			 "HTTP/1.1 503 Service Unavailable\r\n"
			 "Content-Type: text/plain; charset=utf-8\r\n"
			 "Content-Length: %zu\r\nConnection: close\r\nRetry-After: 1\r\n\r\n%s\n",
			 strlen(reason) + 1, reason);

	if (n > 0 && (size_t)n < sizeof(response))
		(void)!send(fd, response, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* ---- one request ---- */

/* The client's address as the protocol reports it: the last address in
 * X-Forwarded-For when the socket's peer is this host (a reverse proxy
 * beside the gate added it), else the peer's address.  A client further
 * away could write any X-Forwarded-For, so it counts only from loopback. */
static void remote_address(struct http_conn *c, char *out, size_t out_len)
{
	const struct http1_field *f = http1_fields_find(&c->req.fields, "X-Forwarded-For");
	bool loopback = strncmp(c->peer_ip, "127.", 4) == 0 || strcmp(c->peer_ip, "::1") == 0;
	unsigned char binary[16];
	char last[64];

	snprintf(out, out_len, "%s", c->peer_ip);
	if (!f || !loopback || http1_fields_count(&c->req.fields, "X-Forwarded-For") != 1)
		return;
	const char *comma = NULL;
	for (size_t i = 0; i < f->value.len; i++)
		if (f->value.p[i] == ',')
			comma = f->value.p + i;
	struct str tail = comma ? (struct str){ comma + 1,
						(size_t)(f->value.p + f->value.len - comma - 1) } :
				  f->value;
	while (tail.len > 0 && (tail.p[0] == ' ' || tail.p[0] == '\t')) {
		tail.p++;
		tail.len--;
	}
	if (tail.len == 0 || tail.len >= sizeof(last))
		return;
	memcpy(last, tail.p, tail.len);
	last[tail.len] = '\0';
	if (inet_pton(AF_INET, last, binary) == 1 || inet_pton(AF_INET6, last, binary) == 1)
		snprintf(out, out_len, "%s", last);
}

static bool field_is(const struct http1_request *req, const char *name, const char *value)
{
	const struct http1_field *f = http1_fields_find(&req->fields, name);

	return f && http1_str_ieq_cstr(f->value, value);
}

/* Checks of a POST before the service reads its body: 0, or the status
 * already sent (the connection then closes: the body was not read). */
static int check_rpc_request(struct http_conn *c, const struct transport_http_target *t)
{
	const struct http1_field *encoding = http1_fields_find(&c->req.fields, "Content-Encoding");
	char expected[64], message[160];

	snprintf(expected, sizeof(expected), "application/x-%s-request",
		 transport_service_name(t->service));
	if (!field_is(&c->req, "Content-Type", expected)) {
		snprintf(message, sizeof(message), "expected Content-Type: %s", expected);
		send_error(c, 415, "", true, message);
		return 415;
	}
	if (encoding && (http1_fields_count(&c->req.fields, "Content-Encoding") != 1 ||
			 !(http1_str_ieq_cstr(encoding->value, "gzip") ||
			   http1_str_ieq_cstr(encoding->value, "x-gzip") ||
			   http1_str_ieq_cstr(encoding->value, "identity")))) {
		send_error(c, 415, "", true, "unsupported Content-Encoding (gzip or none)");
		return 415;
	}
	if (c->req.body == HTTP1_BODY_LENGTH &&
	    (uint64_t)c->req.content_length > c->gate->config.request_max) {
		snprintf(message, sizeof(message), "the request body is over the gate's %llu-byte "
			 "limit", (unsigned long long)c->gate->config.request_max);
		send_error(c, 413, "", true, message);
		return 413;
	}
	c->gzip = encoding && !http1_str_ieq_cstr(encoding->value, "identity");
	return 0;
}

static void body_start(struct http_conn *c)
{
	c->body_done = !http1_request_has_body(&c->req);
	c->length_left = c->req.body == HTTP1_BODY_LENGTH ? c->req.content_length : 0;
	http1_chunked_init(&c->chunked, NULL);
	c->pending = (struct str){ "", 0 };
	c->body_raw = c->body_decoded = 0;
	c->continue_due = c->req.expect_continue && !c->body_done;
	c->gzip_end = c->raw_end = false;
	c->body_err[0] = '\0';
}

/* Read what is left of a request body the service did not need (git's
 * 4-byte "0000" probe before a large push: receive-pack stops at the flush
 * without asking past its last byte): whether it ended within a small
 * bound.  Closing instead, after a head that promised keep-alive, made
 * curl sometimes send the push itself on the dead connection ("RPC
 * failed; curl 55 Send failure"). */
static bool body_drain(struct http_conn *c)
{
	char scratch[4096];
	size_t left = 64 * 1024;

	if (c->continue_due)
		return false; /* the client is still waiting to send it */
	while (!c->body_done && left > 0) {
		ssize_t n = http_body_read(c, scratch, sizeof(scratch) < left ? sizeof(scratch) : left);
		if (n < 0)
			return false;
		left -= (size_t)n;
	}
	return c->body_done;
}

/* Answer one request: whether the connection can carry another. */
static bool handle_request(struct http_conn *c)
{
	struct gitgate_io in = { .ctx = c, .read = http_body_read };
	struct gitgate_io out = { .ctx = c, .write = http_out_write, .flush = http_out_flush };
	struct transport_http_target target;
	char message[256], remote[64], protocol[64];
	const struct http1_field *git_protocol;
	struct gitgate_session s;
	bool reusable = c->req.keep_alive && !http1_request_has_body(&c->req);
	int64_t started;
	int ret;

	c->head_sent = false;
	body_start(c);
	if (c->req.target.form != HTTP1_FORM_ORIGIN) {
		send_error(c, 400, "", !reusable, "the gate takes origin-form request targets");
		return reusable;
	}
	ret = transport_http_target_parse(c->req.target.path, c->req.target.query,
					  c->req.target.has_query, &target, message, sizeof(message));
	if (ret < 0 || target.kind == TRANSPORT_HTTP_DUMB) {
		log_info("http %s: %.*s %.*s: %s", c->peer_addr, (int)c->req.method_name.len,
			 c->req.method_name.p, (int)(c->req.target.raw.len > 200 ? 200 :
						      c->req.target.raw.len),
			 c->req.target.raw.p, message);
		send_error(c, ret == -EINVAL ? 400 : 404, "", !reusable, message);
		return reusable;
	}
	if (target.kind == TRANSPORT_HTTP_INFO_REFS && c->req.method != HTTP1_M_GET) {
		send_error(c, 405, "Allow: GET\r\n", !reusable, "info/refs takes GET");
		return reusable;
	}
	if (target.kind == TRANSPORT_HTTP_RPC && c->req.method != HTTP1_M_POST) {
		send_error(c, 405, "Allow: POST\r\n", !reusable, "git-upload-pack and "
			   "git-receive-pack take POST");
		return reusable;
	}
	if (target.kind == TRANSPORT_HTTP_RPC && check_rpc_request(c, &target) != 0)
		return false;

	remote_address(c, remote, sizeof(remote));
	git_protocol = http1_fields_find(&c->req.fields, "Git-Protocol");
	protocol[0] = '\0';
	if (git_protocol && git_protocol->value.len < sizeof(protocol)) {
		memcpy(protocol, git_protocol->value.p, git_protocol->value.len);
		protocol[git_protocol->value.len] = '\0';
	}
	s = (struct gitgate_session){
		.gate = c->gate,
		.service = target.service,
		.in = &in,
		.out = &out,
		.protocol = transport_protocol_parse(protocol),
		.stateless_rpc = true,
		.advertise_refs = target.kind == TRANSPORT_HTTP_INFO_REFS,
		.remote_addr = remote,
		.peer_addr = c->peer_addr,
	};
	ret = transport_session_open(&s, target.repo, target.repo_len, message, sizeof(message));
	if (ret < 0) {
		log_info("http %s: %s %s refused: %s", c->peer_addr,
			 transport_service_name(target.service), target.repo, message);
		send_error(c, ret == -ENOENT ? 404 : ret == -EACCES ? 403 : 503, "",
			   !reusable, message);
		return reusable;
	}

	char content_type[64];
	snprintf(content_type, sizeof(content_type), "application/x-%s-%s",
		 transport_service_name(target.service),
		 s.advertise_refs ? "advertisement" : "result");
	c->content_type = content_type;
	out_reset(c);
	if (s.advertise_refs && s.protocol != 2) {
		/* As git http-backend: v2 starts with its capabilities instead. */
		pkt_writef(&out, "# service=%s\n", transport_service_name(target.service));
		pkt_write_flush(&out);
	}
	started = transport_now_ms();
	c->socket.deadline_ms = started + (int64_t)c->gate->config.operation_timeout_ms;
	ret = transport_session_run(&s);
	if (ret < 0 && !c->head_sent) {
		/* Nothing went out yet: a proper error instead. */
		const char *why = c->body_err[0] ? c->body_err : s.err[0] ? s.err : strerror(-ret);

		log_error("http %s: %s %s: %s", c->peer_addr, transport_service_name(s.service),
			  target.repo, why);
		error_format(message, sizeof(message), "%s: %s", transport_service_name(s.service),
			     why);
		send_error(c, ret == -EMSGSIZE ? 413 : ret == -EPROTO ? 400 : 500, "", true, message);
		c->socket.deadline_ms = 0;
		return false;
	}
	if (ret < 0) {
		/* Whatever the service said in band reaches the client; the
		 * response then ends and so does the connection. */
		log_error("http %s: %s %s: %s", c->peer_addr, transport_service_name(s.service),
			  target.repo, c->body_err[0] ? c->body_err : s.err[0] ? s.err :
			  strerror(-ret));
		finish_response(c);
		c->socket.deadline_ms = 0;
		return false;
	}
	ret = finish_response(c);
	c->socket.deadline_ms = 0;
	log_info("http %s: %s %s%s: done in %lld ms", c->peer_addr,
		 transport_service_name(s.service), target.repo,
		 s.advertise_refs ? " (advertisement)" : "",
		 (long long)(transport_now_ms() - started));
	/* A body the service left unread would be taken for the next request. */
	return ret == 0 && c->req.keep_alive && c->req.version_minor >= 1 &&
	       (!http1_request_has_body(&c->req) || body_drain(c));
}

/* Read and parse the next request head: 1 when there is one, 0 when the
 * client is done, negative after an error (answered when it can be). */
static int read_head(struct http_conn *c)
{
	char message[160];
	int ret;

	if (c->in_pos > 0) {
		memmove(c->in.p, c->in.p + c->in_pos, c->in.len - c->in_pos);
		c->in.len -= c->in_pos;
		c->in.p[c->in.len] = '\0';
		c->in_pos = 0;
	}
	http1_request_init(&c->req);
	/* The whole head within one io timeout: no slowloris. */
	c->socket.deadline_ms = transport_now_ms() + c->socket.io_timeout_ms;
	for (;;) {
		ssize_t n;

		ret = http1_request_parse(&c->req, c->in.p, c->in.p + c->in.len, NULL);
		if (ret > 0)
			break;
		if (ret < 0) {
			http1_error_message(ret, NULL, message, sizeof(message));
			log_info("http %s: rejected request: %s", c->peer_addr, message);
			send_error(c, http1_error_status(ret), "", true, message);
			return -EPROTO;
		}
		n = in_fill(c);
		if (n == 0 && c->in.len == 0)
			return 0;
		if (n == 0)
			return -EPROTO;
		if (n < 0) {
			if (n == -ETIMEDOUT && c->in.len > 0)
				send_error(c, 408, "", true, "the request head did not arrive in time");
			return (int)n;
		}
	}
	c->in_pos = (size_t)ret;
	c->socket.deadline_ms = 0;
	return 1;
}

void transport_http_serve(struct gitgate *gate, int fd, const char *peer_ip,
			  const char *peer_addr, int io_timeout_ms)
{
	struct http_conn *c = calloc(1, sizeof(*c));

	if (!c) {
		close(fd);
		return;
	}
	c->gate = gate;
	c->socket = (struct transport_socket){ .fd = fd, .io_timeout_ms = io_timeout_ms };
	c->peer_ip = peer_ip;
	c->peer_addr = peer_addr;
	buf_init(&c->in, HTTP_IN_MAX);
	buf_init(&c->out, HTTP_OUT_MAX);
	c->zin = malloc(GZIP_IN_SIZE);
	if (!c->zin || inflateInit2(&c->z, 15 + 16) != Z_OK)
		goto out;
	c->gzip_ready = true;
	for (;;) {
		int ret = read_head(c);
		bool keep = false;

		if (ret == 0)
			break; /* the client closed between requests */
		if (ret > 0) {
			inflateReset(&c->z);
			c->z.avail_in = 0;
			keep = handle_request(c);
		}
		if (!keep) {
			/* After an error answer, or a request whose body was
			 * left unread, the client may still be sending. */
			transport_socket_drain(&c->socket);
			break;
		}
	}
out:
	if (c->gzip_ready)
		inflateEnd(&c->z);
	free(c->zin);
	buf_release(&c->in);
	buf_release(&c->out);
	close(fd);
	free(c);
}

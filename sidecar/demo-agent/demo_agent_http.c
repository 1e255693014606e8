/* The demo agent's HTTP/1.1 client: one request per connection, plain or
 * TLS after a proxy CONNECT; responses read with the project's parser. */
#include "demo_agent.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "../../shared/http1.h"

#define HEAD_MAX (64 * 1024)
#define BODY_MAX (1024 * 1024)
#define IO_TIMEOUT_SECONDS 30

struct connection {
	mbedtls_net_context net;
	mbedtls_ssl_context *ssl; /* NULL: plain */
};

void demo_answer_init(struct demo_answer *a)
{
	memset(a, 0, sizeof(*a));
	buf_init(&a->body, BODY_MAX);
}

void demo_answer_release(struct demo_answer *a)
{
	buf_release(&a->body);
}

static int conn_write(struct connection *c, const char *p, size_t len)
{
	while (len > 0) {
		int n = c->ssl ? mbedtls_ssl_write(c->ssl, (const unsigned char *)p, len)
			       : mbedtls_net_send(&c->net, (const unsigned char *)p, len);

		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* > 0 bytes, 0 at the end of the stream, -EIO. */
static int conn_read(struct connection *c, char *p, size_t len)
{
	for (;;) {
		int n = c->ssl ? mbedtls_ssl_read(c->ssl, (unsigned char *)p, len)
			       : mbedtls_net_recv(&c->net, (unsigned char *)p, len);

		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    n == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
			return 0;
		return n < 0 ? -EIO : n;
	}
}

static int connect_to(struct connection *c, const char *host, int port, struct demo_answer *a)
{
	char service[16];
	struct timeval timeout = { .tv_sec = IO_TIMEOUT_SECONDS };
	int code;

	snprintf(service, sizeof(service), "%d", port);
	mbedtls_net_init(&c->net);
	code = mbedtls_net_connect(&c->net, host, service, MBEDTLS_NET_PROTO_TCP);
	if (code != 0) {
		snprintf(a->error, sizeof(a->error), "cannot connect to %s:%d: %s", host, port,
			 code == MBEDTLS_ERR_NET_UNKNOWN_HOST ? "unknown host" : "refused or unreachable");
		return -ECONNREFUSED;
	}
	setsockopt(c->net.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(c->net.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	return 0;
}

static void copy_field(const struct http1_response *resp, const char *name, char *out, size_t len)
{
	const struct http1_field *f = http1_fields_find(&resp->fields, name);

	if (f)
		snprintf(out, len, "%.*s", (int)f->value.len, f->value.p);
}

/* The body's first line, printable. */
static void first_line(struct demo_answer *a)
{
	size_t i, n = 0;

	for (i = 0; i < a->body.len && n + 1 < sizeof(a->line); i++) {
		unsigned char ch = (unsigned char)a->body.p[i];

		if (ch == '\n')
			break;
		if (ch == '\r')
			continue;
		a->line[n++] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	a->line[n] = '\0';
}

/* Read one response: its head into `a`, its body into a->body. */
static int read_response(struct connection *c, enum http1_method method, struct demo_answer *a)
{
	struct http1_response resp;
	struct http1_chunked chunked;
	struct buf in;
	char chunk[8192];
	const char *p;
	struct str data;
	int parsed = 0, n, ret = -EIO, step;

	buf_init(&in, HEAD_MAX + BODY_MAX);
	http1_response_init(&resp);
	while (parsed == 0) {
		n = conn_read(c, chunk, sizeof(chunk));
		if (n <= 0) {
			snprintf(a->error, sizeof(a->error), "the connection ended before an answer");
			goto out;
		}
		if (buf_append(&in, chunk, (size_t)n) < 0)
			goto out;
		parsed = http1_response_parse(&resp, in.p, in.p + in.len, NULL, method);
	}
	if (parsed < 0) {
		snprintf(a->error, sizeof(a->error), "unreadable answer: %s", http1_strerror(parsed));
		goto out;
	}
	a->status = resp.status;
	copy_field(&resp, "X-Bottle-Egress", a->egress, sizeof(a->egress));
	copy_field(&resp, "Mcp-Session-Id", a->session, sizeof(a->session));
	p = in.p + resp.head_len;
	if (resp.body == HTTP1_BODY_CHUNKED)
		http1_chunked_init(&chunked, NULL);
	for (;;) {
		const char *end = in.p + in.len;

		if (resp.body == HTTP1_BODY_NONE || resp.body == HTTP1_BODY_TUNNEL)
			break;
		if (resp.body == HTTP1_BODY_LENGTH) {
			size_t have = (size_t)(end - p);
			size_t want = (size_t)resp.content_length - a->body.len;

			if (buf_append(&a->body, p, have < want ? have : want) < 0)
				break;
			p += have < want ? have : want;
			if (a->body.len == (size_t)resp.content_length)
				break;
		} else if (resp.body == HTTP1_BODY_CHUNKED) {
			while ((step = http1_chunked_decode(&chunked, &p, end, &data)) ==
			       HTTP1_CHUNKED_DATA)
				if (buf_append(&a->body, data.p, data.len) < 0)
					break;
			if (step != HTTP1_CHUNKED_MORE)
				break;
		} else {
			if (buf_append(&a->body, p, (size_t)(end - p)) < 0)
				break;
			p = end;
		}
		n = conn_read(c, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		/* Keep p valid across the buffer's growth. */
		{
			size_t off = (size_t)(p - in.p);

			if (buf_append(&in, chunk, (size_t)n) < 0)
				break;
			p = in.p + off;
		}
	}
	first_line(a);
	ret = 0;
out:
	buf_release(&in);
	return ret;
}

static int tls_start(struct connection *c, mbedtls_ssl_context *ssl, mbedtls_ssl_config *conf,
		     mbedtls_x509_crt *ca, const char *ca_file, const char *host,
		     struct demo_answer *a)
{
	char reason[160];
	int code;

	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(a->error, sizeof(a->error), "cannot initialise PSA crypto");
		return -EIO;
	}
	/* A system bundle may hold certificates mbedTLS cannot read; those
	 * are skipped (a positive count), as curl's OpenSSL skips them. */
	code = mbedtls_x509_crt_parse_file(ca, ca_file);
	if (code < 0) {
		snprintf(a->error, sizeof(a->error), "cannot read the CA bundle %s", ca_file);
		return -EIO;
	}
	code = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
					   MBEDTLS_SSL_PRESET_DEFAULT);
	if (code == 0) {
		mbedtls_ssl_conf_rng(conf, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
		mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_chain(conf, ca, NULL);
		code = mbedtls_ssl_setup(ssl, conf);
	}
	if (code == 0)
		code = mbedtls_ssl_set_hostname(ssl, host);
	if (code != 0) {
		mbedtls_strerror(code, reason, sizeof(reason));
		snprintf(a->error, sizeof(a->error), "TLS set-up: %s", reason);
		return -EIO;
	}
	mbedtls_ssl_set_bio(ssl, &c->net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((code = mbedtls_ssl_handshake(ssl)) != 0) {
		if (code == MBEDTLS_ERR_SSL_WANT_READ || code == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		mbedtls_strerror(code, reason, sizeof(reason));
		snprintf(a->error, sizeof(a->error), "TLS with %s failed: %s", host, reason);
		return -EIO;
	}
	c->ssl = ssl;
	return 0;
}

/* "http://HOST:PORT[/PATH]" into its parts (path "/" when absent). */
static int url_split(const char *url, char *host, size_t host_len, int *port, const char **path)
{
	const char *p, *colon, *slash;
	char *end;
	long n;

	if (strncmp(url, "http://", 7) != 0)
		return -EINVAL;
	p = url + 7;
	slash = strchr(p, '/');
	colon = strchr(p, ':');
	if (!colon || (slash && colon > slash) || (size_t)(colon - p) >= host_len)
		return -EINVAL;
	snprintf(host, host_len, "%.*s", (int)(colon - p), p);
	n = strtol(colon + 1, &end, 10);
	if (n <= 0 || n > 65535 || (*end && *end != '/'))
		return -EINVAL;
	*port = (int)n;
	*path = slash ? slash : "/";
	return 0;
}

int demo_https_get(const char *proxy_url, const char *ca_file, const char *host, int port,
		   const char *target, struct demo_answer *a)
{
	struct connection c = { .ssl = NULL };
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca;
	char proxy_host[256];
	const char *ignored;
	struct buf req;
	int proxy_port, ret = -EINVAL;

	mbedtls_net_init(&c.net);
	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&ca);
	buf_init(&req, 4096);
	if (!proxy_url || url_split(proxy_url, proxy_host, sizeof(proxy_host), &proxy_port,
				    &ignored) < 0) {
		snprintf(a->error, sizeof(a->error), "HTTPS_PROXY is not http://HOST:PORT");
		goto out;
	}
	ret = connect_to(&c, proxy_host, proxy_port, a);
	if (ret < 0)
		goto out;
	ret = -EIO;
	if (buf_appendf(&req, "CONNECT %s:%d HTTP/1.1\r\nHost: %s:%d\r\n\r\n", host, port, host,
			port) < 0 ||
	    conn_write(&c, req.p, req.len) < 0 || read_response(&c, HTTP1_M_CONNECT, a) < 0)
		goto out;
	/* The proxy refused the tunnel: that is its answer. */
	if (a->status != 200) {
		a->connect_refused = true;
		ret = 0;
		goto out;
	}
	a->status = 0;
	if (tls_start(&c, &ssl, &conf, &ca, ca_file, host, a) < 0)
		goto out;
	buf_clear(&req);
	if (buf_appendf(&req,
			"GET %s HTTP/1.1\r\nHost: %s:%d\r\nUser-Agent: bottle-demo-agent\r\n"
			"Connection: close\r\n\r\n",
			target, host, port) < 0 ||
	    conn_write(&c, req.p, req.len) < 0 || read_response(&c, HTTP1_M_GET, a) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&req);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&ca);
	mbedtls_net_free(&c.net);
	return ret;
}

int demo_mcp_post(const char *url, const char *session, const char *version, const char *json,
		  struct demo_answer *a)
{
	struct connection c = { .ssl = NULL };
	char host[256];
	const char *path;
	struct buf req;
	int port, ret = -EINVAL;

	mbedtls_net_init(&c.net);
	buf_init(&req, 64 * 1024);
	if (!url || url_split(url, host, sizeof(host), &port, &path) < 0) {
		snprintf(a->error, sizeof(a->error), "BOTTLE_MCP_URL is not http://HOST:PORT/PATH");
		goto out;
	}
	ret = connect_to(&c, host, port, a);
	if (ret < 0)
		goto out;
	ret = -EIO;
	if (buf_appendf(&req,
			"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
			"Accept: application/json, text/event-stream\r\nConnection: close\r\n"
			"Content-Length: %zu\r\n",
			path, host, port, strlen(json)) < 0 ||
	    (session && session[0] && buf_appendf(&req, "Mcp-Session-Id: %s\r\n", session) < 0) ||
	    (version && buf_appendf(&req, "MCP-Protocol-Version: %s\r\n", version) < 0) ||
	    buf_appendf(&req, "\r\n%s", json) < 0)
		goto out;
	if (conn_write(&c, req.p, req.len) < 0 || read_response(&c, HTTP1_M_POST, a) < 0)
		goto out;
	ret = 0;
out:
	buf_release(&req);
	mbedtls_net_free(&c.net);
	return ret;
}

/* One connection to the demo origin: a TLS handshake, then either one
 * web request answered or the bytes of a git connection passed to the
 * loopback gate and back. */
#include "demo_origin.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

#include "../../shared/buf.h"
#include "../../shared/http1.h"
#include "../../shared/log.h"

/* A request head larger than this is not one the demo agent sends. */
#define WEB_HEAD_MAX (16 * 1024)
#define PUMP_CHUNK (16 * 1024)

static int tls_write_all(mbedtls_ssl_context *ssl, const char *p, size_t len)
{
	while (len > 0) {
		int n = mbedtls_ssl_write(ssl, (const unsigned char *)p, len);

		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fd_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Read one request head and answer it: the agent sees which request
 * reached the origin. */
static int serve_web(mbedtls_ssl_context *ssl)
{
	struct http1_request req;
	struct buf in, out, body;
	unsigned char chunk[4096];
	int ret = -EIO, parsed = 0, n;

	buf_init(&in, WEB_HEAD_MAX);
	buf_init(&out, 4096);
	buf_init(&body, 1024);
	http1_request_init(&req);
	while (parsed == 0) {
		n = mbedtls_ssl_read(ssl, chunk, sizeof(chunk));
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE ||
		    n == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		if (n <= 0 || buf_append(&in, chunk, (size_t)n) < 0)
			goto out;
		parsed = http1_request_parse(&req, in.p, in.p + in.len, NULL);
	}
	if (parsed < 0) {
		log_warn("web: a request the parser refused: %s", http1_strerror(parsed));
		goto out;
	}
	log_info("web: %.*s %.*s", (int)req.method_name.len, req.method_name.p,
		 (int)req.target.raw.len, req.target.raw.p);
	if (buf_appendf(&body, "demo origin: %.*s %.*s reached the origin\n",
			(int)req.method_name.len, req.method_name.p, (int)req.target.raw.len,
			req.target.raw.p) < 0 ||
	    buf_appendf(&out,
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
			"Content-Length: %zu\r\n\r\n%s",
			body.len, body.p) < 0)
		goto out;
	ret = tls_write_all(ssl, out.p, out.len);
	mbedtls_ssl_close_notify(ssl);
out:
	buf_release(&in);
	buf_release(&out);
	buf_release(&body);
	return ret;
}

static int connect_backend(const struct demo_origin *o)
{
	struct sockaddr_in addr;
	int fd;

	memset(&addr, 0, sizeof(addr));
	addr.sin_family = AF_INET;
	addr.sin_port = htons((uint16_t)o->backend_port);
	if (inet_pton(AF_INET, o->backend_host, &addr.sin_addr) != 1)
		return -EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* TLS in front of the loopback gate: bytes both ways until the gate
 * closes, or the client does and the gate has answered. */
static int serve_git(const struct demo_origin *o, mbedtls_ssl_context *ssl, int client)
{
	char chunk[PUMP_CHUNK];
	bool client_open = true;
	int backend, ret = -EIO;

	backend = connect_backend(o);
	if (backend < 0) {
		log_error("git: cannot reach the loopback gate %s:%d: %s", o->backend_host,
			  o->backend_port, strerror(-backend));
		return backend;
	}
	for (;;) {
		struct pollfd p[2] = { { client, POLLIN, 0 }, { backend, POLLIN, 0 } };
		ssize_t n;

		/* Bytes TLS already decrypted are not visible to poll. */
		if (client_open && mbedtls_ssl_get_bytes_avail(ssl) == 0) {
			if (poll(p, 2, 60 * 1000) <= 0)
				goto out;
		} else if (client_open) {
			p[0].revents = POLLIN;
			p[1].revents = 0;
		} else if (poll(&p[1], 1, 60 * 1000) <= 0) {
			goto out;
		}
		if (client_open && p[0].revents) {
			int r = mbedtls_ssl_read(ssl, (unsigned char *)chunk, sizeof(chunk));

			if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
				continue;
			if (r <= 0) {
				client_open = false;
				shutdown(backend, SHUT_WR);
			} else if (fd_write_all(backend, chunk, (size_t)r) < 0) {
				goto out;
			}
		}
		if (p[1].revents) {
			n = read(backend, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			if (tls_write_all(ssl, chunk, (size_t)n) < 0)
				goto out;
		}
	}
	mbedtls_ssl_close_notify(ssl);
	ret = 0;
out:
	close(backend);
	return ret;
}

void demo_origin_serve(const struct demo_origin *o, enum demo_origin_kind kind, int fd)
{
	mbedtls_net_context net = { .fd = fd };
	mbedtls_ssl_context ssl;
	struct timeval timeout = { .tv_sec = 60 };
	int n;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
	mbedtls_ssl_init(&ssl);
	if (mbedtls_ssl_setup(&ssl, &o->tls) != 0)
		goto out;
	mbedtls_ssl_set_bio(&ssl, &net, mbedtls_net_send, mbedtls_net_recv, NULL);
	while ((n = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (n != MBEDTLS_ERR_SSL_WANT_READ && n != MBEDTLS_ERR_SSL_WANT_WRITE) {
			char reason[128];

			mbedtls_strerror(n, reason, sizeof(reason));
			log_warn("%s: TLS handshake failed: %s", kind == DEMO_ORIGIN_WEB ? "web" : "git",
				 reason);
			goto out;
		}
	}
	if (kind == DEMO_ORIGIN_WEB)
		serve_web(&ssl);
	else
		serve_git(o, &ssl, fd);
out:
	mbedtls_ssl_free(&ssl);
	close(fd);
}

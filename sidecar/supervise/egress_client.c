/* The live routes, read from egress's introspection endpoint
 * (docs/egress.md "Introspection"): one GET through the proxy on loopback,
 * every step bounded by --egress-timeout. */
#include "supervise.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../shared/config_yaml.h"
#include "../../shared/routes.h"

#define EGRESS_REPLY_MAX (16 * 1024 * 1024)

static const char introspection_request[] =
	"GET http://_egress.local/routes HTTP/1.1\r\nHost: _egress.local\r\n"
	"Accept: application/json\r\nConnection: close\r\n\r\n";

/* "host:port" or "[v6]:port" into a socket address. */
static int parse_address(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[64];
	const char *colon = strrchr(spec, ':');
	long long port;
	size_t hlen;

	if (!colon || config_parse_integer(colon + 1, &port) < 0 || port < 1 || port > 65535)
		return -EINVAL;
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		spec++;
		hlen -= 2;
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return -EINVAL;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) == 1) {
		((struct sockaddr_in *)ss)->sin_family = AF_INET;
		((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
		((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
		((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
		*len = sizeof(struct sockaddr_in6);
		return 0;
	}
	return -EINVAL;
}

static int connect_bounded(const struct sockaddr_storage *ss, socklen_t len, int timeout_ms)
{
	int fd, ret, soerr = 0;
	socklen_t elen = sizeof(soerr);

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)ss, len) < 0 && errno != EINPROGRESS) {
		ret = -errno;
		goto fail;
	}
	ret = supervise_wait_fd(fd, POLLOUT, timeout_ms);
	if (ret < 0)
		goto fail;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &elen) < 0 || soerr != 0) {
		ret = soerr ? -soerr : -errno;
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return ret;
}

/* The whole reply (egress closes after it: Connection: close). */
static int read_reply(int fd, struct buf *raw, int timeout_ms)
{
	char chunk[16 * 1024];

	for (;;) {
		ssize_t n;
		int ret = supervise_wait_fd(fd, POLLIN, timeout_ms);

		if (ret < 0)
			return ret;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if ((ret = buf_append(raw, chunk, (size_t)n)) < 0)
			return ret;
	}
}

int egress_client_routes(const struct supervise_options *o, struct buf *json, char *err,
			 size_t err_len)
{
	struct sockaddr_storage ss;
	struct http1_response resp;
	struct buf raw;
	socklen_t len;
	int fd = -1, ret, head;

	buf_init(&raw, EGRESS_REPLY_MAX);
	ret = parse_address(o->egress_proxy, &ss, &len);
	if (ret < 0) {
		snprintf(err, err_len, "--egress-proxy '%s' is not an IP address and port",
			 o->egress_proxy);
		goto out;
	}
	fd = connect_bounded(&ss, len, o->egress_timeout_ms);
	if (fd < 0) {
		ret = fd;
		snprintf(err, err_len,
			 "egress is not answering on %s (%s): it is probably restarting or "
			 "reloading; try again in a few seconds",
			 o->egress_proxy, strerror(-ret));
		goto out;
	}
	ret = supervise_write_all(fd, introspection_request, sizeof(introspection_request) - 1,
				  o->egress_timeout_ms);
	if (ret == 0)
		ret = read_reply(fd, &raw, o->egress_timeout_ms);
	if (ret < 0) {
		snprintf(err, err_len,
			 "egress did not answer on %s within the timeout (%s): it may be "
			 "restarting; try again in a few seconds",
			 o->egress_proxy, strerror(-ret));
		goto out;
	}
	http1_response_init(&resp);
	head = http1_response_parse(&resp, raw.p, raw.p + raw.len, NULL, HTTP1_M_GET);
	ret = -EPROTO;
	if (head <= 0) {
		snprintf(err, err_len, "egress sent an incomplete or malformed answer; try again");
		goto out;
	}
	if (resp.status != 200) {
		snprintf(err, err_len, "egress answered %d to the introspection request", resp.status);
		goto out;
	}
	if (resp.body == HTTP1_BODY_LENGTH &&
	    (size_t)resp.content_length != raw.len - (size_t)head) {
		snprintf(err, err_len, "egress's answer was cut short; try again");
		goto out;
	}
	if (resp.body != HTTP1_BODY_LENGTH && resp.body != HTTP1_BODY_CLOSE) {
		snprintf(err, err_len, "egress's answer has an unexpected framing");
		goto out;
	}
	buf_clear(json);
	ret = buf_append(json, raw.p + head, raw.len - (size_t)head);
	while (ret == 0 && json->len > 0 && (json->p[json->len - 1] == '\n'))
		json->p[--json->len] = '\0';
	if (ret < 0)
		snprintf(err, err_len, "the routes are too large to return");
out:
	if (fd >= 0)
		close(fd);
	buf_release(&raw);
	return ret;
}

int egress_client_routes_canonical(const struct supervise_options *o, struct buf *json,
				   char *err, size_t err_len)
{
	struct routes *r = NULL;
	struct buf raw;
	char lerr[512];
	int ret;

	buf_init(&raw, 16 * 1024 * 1024);
	ret = egress_client_routes(o, &raw, err, err_len);
	if (ret < 0)
		goto out;
	ret = routes_load_string("egress's routes", raw.p, raw.len, &r, lerr, sizeof(lerr));
	if (ret < 0) {
		snprintf(err, err_len, "egress serves routes that do not load: %s", lerr);
		goto out;
	}
	buf_clear(json);
	ret = routes_to_json(r, json);
	if (ret < 0)
		snprintf(err, err_len, "the routes are too large to return");
out:
	if (r)
		routes_unref(r);
	buf_release(&raw);
	return ret;
}

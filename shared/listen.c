/* A listening TCP socket from a daemon's --listen option (egress and
 * supervise take the same syntax). */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config_yaml.h"
#include "log.h"

/* Split spec into host (brackets removed) and port: 0 or -EINVAL. */
static int listen_spec_parse(const char *spec, char *host, size_t host_len, uint16_t *port)
{
	const char *colon = strrchr(spec, ':');
	long long n;
	size_t hlen;

	if (!colon || config_parse_integer(colon + 1, &n) < 0 || n < 1 || n > 65535)
		return -EINVAL;
	hlen = (size_t)(colon - spec);
	if (hlen >= 2 && spec[0] == '[' && spec[hlen - 1] == ']') {
		spec++;
		hlen -= 2;
	}
	if (hlen >= host_len)
		return -EINVAL;
	memcpy(host, spec, hlen);
	host[hlen] = '\0';
	*port = (uint16_t)n;
	return 0;
}

int listen_tcp(const char *spec, int backlog, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	char host[INET6_ADDRSTRLEN];
	socklen_t len;
	uint16_t port;
	int fd = -1, one = 1, zero = 0, ret = -EINVAL;

	if (listen_spec_parse(spec, host, sizeof(host), &port) < 0) {
		error_format(err, err_len, "expected [HOST]:PORT with an IP address, got '%s'", spec);
		goto out;
	}
	memset(&ss, 0, sizeof(ss));
	if (host[0] == '\0' || inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		if (host[0] == '\0')
			a6->sin6_addr = in6addr_any;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		len = sizeof(*a6);
	} else if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		len = sizeof(*a4);
	} else {
		error_format(err, err_len, "'%s' is not an IP address (in '%s')", host, spec);
		goto out;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 && host[0] == '\0') {
		/* No IPv6 in this kernel: every IPv4 address then. */
		memset(&ss, 0, sizeof(ss));
		a4->sin_family = AF_INET;
		a4->sin_addr.s_addr = htonl(INADDR_ANY);
		a4->sin_port = htons(port);
		len = sizeof(*a4);
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	}
	if (fd < 0) {
		ret = -errno;
		error_format(err, err_len, "cannot create a socket for %s: %s", spec, strerror(errno));
		goto out;
	}
	if (ss.ss_family == AF_INET6 && host[0] == '\0')
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, backlog) < 0) {
		ret = -errno;
		error_format(err, err_len, "cannot listen on %s: %s", spec, strerror(errno));
		goto out;
	}
	ret = fd;
	fd = -1;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

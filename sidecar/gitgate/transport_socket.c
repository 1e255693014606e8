/* A client socket whose every wait is bounded (transport.h).  The socket
 * stays blocking; each recv and send is tried without waiting first and
 * polls only when the socket has nothing, or no room, so a busy transfer
 * skips the poll and no step can block past its bound. */
#include "transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <time.h>

int64_t transport_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* 0 when the socket is ready for events, -ETIMEDOUT, or a negative errno. */
static int socket_wait(const struct transport_socket *t, short events)
{
	struct pollfd pfd = { .fd = t->fd, .events = events };
	int timeout = t->io_timeout_ms, n;

	if (t->deadline_ms > 0) {
		int64_t left = t->deadline_ms - transport_now_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		if (left < timeout)
			timeout = (int)left;
	}
	do
		n = poll(&pfd, 1, timeout);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == 0 ? -ETIMEDOUT : 0;
}

ssize_t transport_socket_read(struct transport_socket *t, void *p, size_t len)
{
	for (;;) {
		ssize_t n = recv(t->fd, p, len, MSG_DONTWAIT);
		int ret;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = socket_wait(t, POLLIN);
		if (ret < 0)
			return ret;
	}
}

int transport_socket_write(struct transport_socket *t, const void *p, size_t len)
{
	const char *at = p;

	while (len > 0) {
		ssize_t n = send(t->fd, at, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		int ret;

		if (n >= 0) {
			at += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = socket_wait(t, POLLOUT);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void transport_address_format(const struct sockaddr_storage *ss, char *ip, size_t ip_len,
			      char *ip_port, size_t ip_port_len)
{
	char text[INET6_ADDRSTRLEN] = "unknown";
	unsigned port = 0;
	bool v6 = false;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		port = ntohs(a->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof(text));
		} else {
			inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
			v6 = true;
		}
		port = ntohs(a->sin6_port);
	}
	snprintf(ip, ip_len, "%s", text);
	snprintf(ip_port, ip_port_len, v6 ? "[%s]:%u" : "%s:%u", text, port);
}

void transport_socket_drain(struct transport_socket *t)
{
	char discard[4096];
	size_t total = 0;

	if (shutdown(t->fd, SHUT_WR) < 0)
		return;
	t->io_timeout_ms = TRANSPORT_DRAIN_MS;
	t->deadline_ms = transport_now_ms() + TRANSPORT_DRAIN_MS;
	while (total < TRANSPORT_DRAIN_MAX) {
		ssize_t n = transport_socket_read(t, discard, sizeof(discard));
		if (n <= 0)
			return;
		total += (size_t)n;
	}
}

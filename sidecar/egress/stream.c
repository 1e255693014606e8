/* Streams: a connected socket, optionally under TLS, where every wait for the
 * peer is bounded.  The sockets stay blocking; poll() before each send/recv
 * gives the timeout, so a silent peer (slowloris, a stalled upstream) costs a
 * thread for at most timeout_ms per step, never forever. */
#include "egress.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>

void stream_init(struct stream *s, int fd, int timeout_ms)
{
	s->fd = fd;
	s->ssl = NULL;
	s->timeout_ms = timeout_ms;
	s->hangup_fd = -1;
	s->hangup_seen = false;
	s->eof = false;
	s->more_follows = false;
	s->read_error = 0;
	s->readahead = NULL;
	s->readahead_len = s->readahead_pos = 0;
}

int stream_unread(struct stream *s, const void *data, size_t len)
{
	char *copy;

	if (len == 0)
		return 0;
	if (s->readahead_pos < s->readahead_len)
		return -EBUSY;
	copy = malloc(len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, data, len);
	free(s->readahead);
	s->readahead = copy;
	s->readahead_len = len;
	s->readahead_pos = 0;
	return 0;
}

void stream_release(struct stream *s)
{
	free(s->readahead);
	s->readahead = NULL;
	s->readahead_len = s->readahead_pos = 0;
	s->ssl = NULL;
}

/* Hand out read-ahead bytes first; 0 when there are none. */
static size_t stream_take_readahead(struct stream *s, void *data, size_t len)
{
	size_t n = s->readahead_len - s->readahead_pos;

	if (n == 0)
		return 0;
	if (n > len)
		n = len;
	memcpy(data, s->readahead + s->readahead_pos, n);
	s->readahead_pos += n;
	if (s->readahead_pos == s->readahead_len) {
		free(s->readahead);
		s->readahead = NULL;
		s->readahead_len = s->readahead_pos = 0;
	}
	return n;
}

/* 0 when fd is ready for `events`, -ETIMEDOUT, -ECONNABORTED (hangup_fd's
 * peer left), or another negative errno. */
static int stream_wait(const struct stream *s, short events)
{
	struct pollfd pfd[2] = {
		{ .fd = s->fd, .events = events },
		{ .fd = s->hangup_fd, .events = POLLRDHUP },
	};
	int n;

	do
		n = poll(pfd, s->hangup_fd >= 0 ? 2 : 1, s->timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if (s->hangup_fd >= 0 && (pfd[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
		return -ECONNABORTED;
	return 0;
}

/* Every send and recv is tried first without waiting (MSG_DONTWAIT) and
 * polls only when the socket has nothing, or no room: no step can block
 * past timeout_ms (a blocking send of a large buffer to a stalled peer
 * could, even after poll said there was some room), and a busy connection
 * skips the poll.  Throughput measured the same within noise. */
static ssize_t stream_plain_read(struct stream *s, void *data, size_t len)
{
	ssize_t n = (ssize_t)stream_take_readahead(s, data, len);
	int ret;

	if (n > 0)
		return n;
	for (;;) {
		n = recv(s->fd, data, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = stream_wait(s, POLLIN);
		if (ret < 0)
			return ret;
	}
}

/* Send once, waiting for room as needed: bytes sent, or a negative errno. */
static ssize_t stream_send_some(const struct stream *s, const void *data, size_t len)
{
	int flags = MSG_NOSIGNAL | MSG_DONTWAIT | (s->more_follows ? MSG_MORE : 0);
	ssize_t n;
	int ret;

	for (;;) {
		n = send(s->fd, data, len, flags);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		ret = stream_wait(s, POLLOUT);
		if (ret < 0)
			return ret;
	}
}

static int stream_plain_write(const struct stream *s, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = stream_send_some(s, p, len);

		if (n < 0)
			return (int)n;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* mbedTLS BIO callbacks: the same bounded waits, in mbedTLS's error codes. */
static int stream_bio_send(void *ctx, const unsigned char *data, size_t len)
{
	struct stream *s = ctx;
	ssize_t n = stream_send_some(s, data, len);

	if (n == -ETIMEDOUT)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	if (n == -ECONNABORTED)
		s->hangup_seen = true;
	if (n == -EPIPE || n == -ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	if (n < 0)
		return MBEDTLS_ERR_NET_SEND_FAILED;
	return (int)n;
}

static int stream_bio_recv(void *ctx, unsigned char *data, size_t len)
{
	struct stream *s = ctx;
	ssize_t n = stream_plain_read(s, data, len);

	/* A zero timeout is a poll for what is there (the tunnel relay):
	 * mbedTLS keeps a partial record and resumes on the next call. */
	if (n == -ETIMEDOUT && s->timeout_ms == 0)
		return MBEDTLS_ERR_SSL_WANT_READ;
	if (n == -ETIMEDOUT)
		return MBEDTLS_ERR_SSL_TIMEOUT;
	if (n == -ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	if (n == -ECONNABORTED)
		s->hangup_seen = true;
	if (n < 0)
		return MBEDTLS_ERR_NET_RECV_FAILED;
	return (int)n;
}

void stream_attach_tls(struct stream *s, mbedtls_ssl_context *ssl)
{
	s->ssl = ssl;
	mbedtls_ssl_set_bio(ssl, s, stream_bio_send, stream_bio_recv, NULL);
}

static int stream_errno_from_tls(const struct stream *s, int ret)
{
	if (s->hangup_seen)
		return -ECONNABORTED;
	switch (ret) {
	case MBEDTLS_ERR_SSL_TIMEOUT:
		return -ETIMEDOUT;
	case MBEDTLS_ERR_NET_CONN_RESET:
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

ssize_t stream_read(struct stream *s, void *data, size_t len)
{
	ssize_t n;

	if (s->read_error)
		return s->read_error;
	if (s->eof)
		return 0;
	if (!s->ssl) {
		n = stream_plain_read(s, data, len);
		if (n == 0)
			s->eof = true;
		return n;
	}
	for (;;) {
		int ret = mbedtls_ssl_read(s->ssl, data, len);

		if (ret > 0)
			return ret;
		if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			s->eof = true;
			return 0;
		}
		/* TLS 1.3 post-handshake messages (session tickets) and
		 * retries carry no application data: read on. */
		if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET)
			continue;
		/* WANT_READ also follows a record that carried no data
		 * (TLS 1.3 post-handshake messages), so it means "nothing
		 * yet" only when the caller asked not to wait. */
		if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
			if (s->timeout_ms == 0)
				return -EAGAIN;
			continue;
		}
		/* A peer that drops TCP without close_notify: the end of
		 * the stream to us (truncation matters only for bodies
		 * delimited by close, which the caller checks). */
		if (ret == MBEDTLS_ERR_NET_CONN_RESET) {
			s->eof = true;
			return -ECONNRESET;
		}
		return stream_errno_from_tls(s, ret);
	}
}

ssize_t stream_read_batch(struct stream *s, void *data, size_t len)
{
	unsigned char *p = data;
	ssize_t n = stream_read(s, p, len);
	int timeout_ms = s->timeout_ms;
	size_t got;

	/* A plain read already took all the socket had, up to len. */
	if (n <= 0 || !s->ssl)
		return n;
	got = (size_t)n;
	/* A zero timeout takes only what is there (stream_read). */
	s->timeout_ms = 0;
	while (got < len && !s->eof) {
		n = stream_read(s, p + got, len - got);
		if (n <= 0) {
			if (n < 0 && n != -EAGAIN)
				s->read_error = (int)n;
			break;
		}
		got += (size_t)n;
	}
	s->timeout_ms = timeout_ms;
	return (ssize_t)got;
}

/* more: the caller writes again at once (stream_write_more). */
static int stream_write_records(struct stream *s, const void *data, size_t len, bool more)
{
	const unsigned char *p = data;
	int record_max, ret = 0;

	if (!s->ssl) {
		s->more_follows = more;
		ret = stream_plain_write(s, data, len);
		goto out;
	}
	record_max = mbedtls_ssl_get_max_out_record_payload(s->ssl);
	while (len > 0) {
		/* mbedtls_ssl_write() sends at most one record a call: every
		 * record but the write's last goes with MSG_MORE. */
		s->more_follows = more || (record_max > 0 && len > (size_t)record_max);
		ret = mbedtls_ssl_write(s->ssl, p, len);
		if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (ret < 0) {
			ret = stream_errno_from_tls(s, ret);
			goto out;
		}
		p += ret;
		len -= (size_t)ret;
	}
	ret = 0;
out:
	s->more_follows = false;
	return ret;
}

int stream_write(struct stream *s, const void *data, size_t len)
{
	return stream_write_records(s, data, len, false);
}

int stream_write_more(struct stream *s, const void *data, size_t len)
{
	return stream_write_records(s, data, len, true);
}

bool stream_has_buffered(const struct stream *s)
{
	return s->readahead_pos < s->readahead_len ||
	       (s->ssl && mbedtls_ssl_get_bytes_avail(s->ssl) > 0);
}

int stream_wait_readable_or(const struct stream *s, int other_fd, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = s->fd, .events = POLLIN },
		{ .fd = other_fd, .events = POLLIN }, /* poll skips a negative fd */
	};
	int n;

	if (stream_has_buffered(s))
		return 1;
	do
		n = poll(pfd, 2, timeout_ms);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	return pfd[0].revents ? 1 : 0;
}

int stream_handshake(struct stream *s)
{
	int ret;

	do
		ret = mbedtls_ssl_handshake(s->ssl);
	while (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE);
	return ret;
}

void stream_shutdown_write(struct stream *s)
{
	if (s->fd < 0)
		return;
	if (s->ssl)
		(void)mbedtls_ssl_close_notify(s->ssl);
	(void)shutdown(s->fd, SHUT_WR);
}

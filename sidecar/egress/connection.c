/* A client connection's thread: set up its buffers, serve it, and release
 * everything it held, whatever path it ended on. */
#include "egress.h"
#include "egress_dlp.h"
#include "egress_tls.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

/* Buffer caps: a request or response head is at most 32 KiB (the parser's
 * limit), plus one read of body bytes behind it; an outgoing buffer holds a
 * head and a batch of body. */
#define EGRESS_IN_MAX (64 * 1024)
#define EGRESS_OUT_MAX (96 * 1024)

/* Drop the pages of this thread's stack below the current frame: a TLS
 * handshake and a request reach some tens of KiB deep, an idle wait a few
 * hundred bytes.  Nothing lives below the stack pointer (signals are
 * blocked on connection threads), and the kernel gives back zero pages if
 * the stack grows again. */
static void trim_stack(void)
{
	pthread_attr_t attr;
	void *low;
	size_t size, page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t here = (uintptr_t)__builtin_frame_address(0), keep_from;

	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return;
	if (pthread_attr_getstack(&attr, &low, &size) == 0) {
		/* Leave two pages under this frame for madvise's own call. */
		keep_from = (here - 2 * page) & ~(uintptr_t)(page - 1);
		if (keep_from > (uintptr_t)low)
			(void)madvise(low, keep_from - (uintptr_t)low, MADV_DONTNEED);
	}
	pthread_attr_destroy(&attr);
}

void egress_connection_idle(struct egress_connection *c)
{
	egress_dlp_connection_release(c);
	if (c->in.len == 0)
		buf_release(&c->in);
	if (c->upstream_in.len == 0)
		buf_release(&c->upstream_in);
	if (c->client_out.len == 0)
		buf_release(&c->client_out);
	if (c->upstream_out.len == 0)
		buf_release(&c->upstream_out);
	egress_tls_memory_thread_release();
	trim_stack();
}

/* How long and how much an error answer's connection is drained for. */
#define EGRESS_DRAIN_MS 1000
#define EGRESS_DRAIN_MAX (16 * 1024 * 1024)

/* Closing a socket with unread bytes sends a reset, and the client's kernel
 * then drops our answer unread: a client refused while it still sends (a
 * 1 MiB header) would never see why.  Stop writing, then read and drop
 * what it sends until it closes, for a bounded time and amount. */
static void drain_client(int fd)
{
	uint64_t deadline = egress_start_clock() + EGRESS_DRAIN_MS;
	size_t total = 0;
	char sink[4096];

	if (shutdown(fd, SHUT_WR) < 0)
		return;
	while (total < EGRESS_DRAIN_MAX) {
		uint64_t now = egress_start_clock();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0)
			return;
		n = recv(fd, sink, sizeof(sink), MSG_DONTWAIT);
		if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR)))
			return;
		if (n > 0)
			total += (size_t)n;
	}
}

void *egress_connection_main(void *arg)
{
	struct egress_connection *c = arg;
	struct egress *egress = c->egress;

	buf_init(&c->in, EGRESS_IN_MAX);
	buf_init(&c->client_out, EGRESS_OUT_MAX);
	buf_init(&c->upstream_in, EGRESS_IN_MAX);
	buf_init(&c->upstream_out, EGRESS_OUT_MAX);
	stream_init(&c->upstream, -1, 0);

	egress_serve_requests(c);

	egress_upstream_close(c);
	egress_dlp_connection_release(c);
	if (c->tls_server) {
		if (c->tunnel_tls)
			stream_shutdown_write(&c->client);
		egress_tls_server_release(c->tls_server);
		free(c->tls_server);
	}
	stream_release(&c->client);
	if (c->drain_before_close)
		drain_client(c->client.fd);
	close(c->client.fd);
	buf_release(&c->in);
	buf_release(&c->client_out);
	buf_release(&c->upstream_in);
	buf_release(&c->upstream_out);
	free(c);
	egress_tls_memory_thread_release();
	__atomic_sub_fetch(&egress->active_connections, 1, __ATOMIC_RELAXED);
	return NULL;
}

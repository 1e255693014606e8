/* git:// (the git daemon protocol, gitprotocol-pack(5)): one pkt-line
 * naming the service and the repository, then the service itself on the
 * same connection.
 *
 *   git-upload-pack /repo.git\0host=gate:9418\0\0version=2\0
 *
 * The request is checked strictly (transport_daemon_request_parse) and a
 * refusal is an "ERR <reason>" packet, which git shows as "fatal: remote
 * error: <reason>".  git:// carries no identity: REMOTE and PEER of the
 * access hook are both the socket's peer (the address, and the address
 * with its port); the host parameter is checked and logged only. */
#include "transport.h"
#include "pkt_line.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../shared/log.h"

/* The session's streams: reads straight from the socket, writes gathered
 * and sent at each flush (or when the buffer fills). */
struct daemon_stream {
	struct transport_socket socket;
	struct buf out;
	bool sent; /* bytes went out: too late for an ERR packet */
};

static ssize_t daemon_read(void *ctx, void *p, size_t len)
{
	struct daemon_stream *st = ctx;

	return transport_socket_read(&st->socket, p, len);
}

static int daemon_flush(void *ctx)
{
	struct daemon_stream *st = ctx;
	int ret = transport_socket_write(&st->socket, st->out.p, st->out.len);

	st->sent = st->sent || st->out.len > 0;
	buf_clear(&st->out);
	return ret;
}

static int daemon_write(void *ctx, const void *p, size_t len)
{
	struct daemon_stream *st = ctx;
	int ret;

	if (st->out.len + len > 64 * 1024) {
		ret = daemon_flush(st);
		if (ret < 0)
			return ret;
		if (len > 64 * 1024) {
			st->sent = true;
			return transport_socket_write(&st->socket, p, len);
		}
	}
	return buf_append(&st->out, p, len);
}

static void send_error(struct gitgate_io *out, const char *reason)
{
	/* ERR packets are for before the service starts; the client shows
	 * the reason as it is. */
	if (pkt_writef(out, "ERR %s\n", reason) == 0)
		gitgate_io_flush(out);
}

void transport_daemon_refuse(int fd, const char *reason)
{
	struct daemon_stream st = { .socket = { .fd = fd, .io_timeout_ms = 1000 } };
	struct gitgate_io out = { .ctx = &st, .write = daemon_write, .flush = daemon_flush };

	buf_init(&st.out, 1024);
	send_error(&out, reason);
	buf_release(&st.out);
}

void transport_daemon_serve(struct gitgate *gate, int fd, const char *peer_ip,
			    const char *peer_addr, int io_timeout_ms)
{
	struct daemon_stream st = { .socket = { .fd = fd, .io_timeout_ms = io_timeout_ms } };
	struct gitgate_io in = { .ctx = &st, .read = daemon_read };
	struct gitgate_io out = { .ctx = &st, .write = daemon_write, .flush = daemon_flush };
	struct gitgate_session s = {
		.gate = gate,
		.in = &in,
		.out = &out,
		.remote_addr = peer_ip,
		.peer_addr = peer_addr,
	};
	struct transport_daemon_request request;
	struct pkt_reader *reader = NULL;
	struct pkt pkt;
	char message[256];
	int64_t started;
	int ret;

	buf_init(&st.out, 128 * 1024);
	/* The request line must arrive within one io timeout, however slowly
	 * it trickles in. */
	st.socket.deadline_ms = transport_now_ms() + io_timeout_ms;
	reader = malloc(sizeof(*reader));
	if (!reader)
		goto out;
	pkt_reader_init(reader, &in);
	ret = pkt_read(reader, &pkt);
	if (ret == -ENODATA)
		goto out; /* a probe that connected and left */
	if (ret < 0 || pkt.kind != PKT_DATA) {
		log_warn("git://%s: %s", peer_addr, ret < 0 ? reader->err : "a flush before the request");
		send_error(&out, ret == -ETIMEDOUT ? "timed out waiting for the request" :
			   "malformed request: expected one pkt-line naming the service and path");
		goto out;
	}
	if (transport_daemon_request_parse(pkt.data, &request, message, sizeof(message)) < 0) {
		log_warn("git://%s: %s", peer_addr, message);
		send_error(&out, message);
		goto out;
	}
	if (reader->len > 0) {
		/* The client waits for our answer before it says more. */
		log_warn("git://%s: bytes after the request line", peer_addr);
		send_error(&out, "malformed request: bytes after the request line");
		goto out;
	}
	s.service = request.service;
	s.protocol = request.protocol;
	ret = transport_session_open(&s, request.repo.p, request.repo.len, message, sizeof(message));
	if (ret < 0) {
		log_info("git://%s: %s %.*s refused: %s", peer_addr,
			 transport_service_name(s.service), (int)request.repo.len, request.repo.p,
			 message);
		send_error(&out, message);
		goto out;
	}
	started = transport_now_ms();
	st.socket.deadline_ms = started + (int64_t)gate->config.operation_timeout_ms;
	ret = transport_session_run(&s);
	if (ret < 0 && !st.sent) {
		/* Nothing went out: the reason as an ERR packet, which git shows. */
		buf_clear(&st.out);
		error_format(message, sizeof(message), "%s: %s", transport_service_name(s.service),
			     s.err[0] ? s.err : strerror(-ret));
		send_error(&out, message);
	} else if (gitgate_io_flush(&out) < 0 && ret == 0) {
		ret = -EPIPE;
	}
	if (ret < 0)
		log_error("git://%s: %s %s: %s", peer_addr, transport_service_name(s.service),
			  s.repo->config->name, s.err[0] ? s.err : strerror(-ret));
	else
		log_info("git://%s: %s %s: done in %lld ms", peer_addr,
			 transport_service_name(s.service), s.repo->config->name,
			 (long long)(transport_now_ms() - started));
out:
	free(reader);
	buf_release(&st.out);
	close(fd);
}

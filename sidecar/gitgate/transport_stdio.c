/* One service over stdin and stdout, as git-upload-pack and
 * git-receive-pack run under ssh: `sidecar gitgate --stdio SERVICE REPO`.
 * The protocol version comes from GIT_PROTOCOL ("version=2"), which git
 * sets for its ssh and ext:: transports. */
#include "gitgate.h"
#include "transport.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../shared/log.h"

struct stdio_stream {
	int in_fd, out_fd;
	struct buf out; /* written at each flush */
};

static ssize_t stdio_read(void *ctx, void *p, size_t len)
{
	struct stdio_stream *st = ctx;
	for (;;) {
		ssize_t n = read(st->in_fd, p, len);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

static int stdio_flush(void *ctx)
{
	struct stdio_stream *st = ctx;
	size_t done = 0;

	while (done < st->out.len) {
		ssize_t n = write(st->out_fd, st->out.p + done, st->out.len - done);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	buf_clear(&st->out);
	return 0;
}

static int stdio_write(void *ctx, const void *p, size_t len)
{
	struct stdio_stream *st = ctx;
	int ret;

	if (st->out.len + len > 64 * 1024) {
		ret = stdio_flush(st);
		if (ret < 0)
			return ret;
	}
	return buf_append(&st->out, p, len);
}

int transport_protocol_parse(const char *value)
{
	/* "version=2", possibly among other colon-separated parameters. */
	int version = 0;

	if (!value)
		return 0;
	for (const char *p = value; *p;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == 9 && strncmp(p, "version=", 8) == 0 && p[8] >= '0' && p[8] <= '2')
			version = p[8] - '0';
		p += len;
		if (*p == ':')
			p++;
	}
	return version;
}

/* Under sshd, SSH_CONNECTION is "client-ip client-port server-ip
 * server-port": the remote is the client's address and the peer its
 * address and port; otherwise both are "stdio". */
static void stdio_addresses(char *remote, size_t remote_len, char *peer, size_t peer_len)
{
	const char *ssh = getenv("SSH_CONNECTION");
	char ip[64], port[8];

	snprintf(remote, remote_len, "stdio");
	snprintf(peer, peer_len, "stdio");
	if (!ssh || sscanf(ssh, "%63s %7s", ip, port) != 2)
		return;
	snprintf(remote, remote_len, "%s", ip);
	snprintf(peer, peer_len, strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, port);
}

int transport_stdio_serve(struct gitgate *gate, enum gitgate_service service,
			  const char *repo_name)
{
	struct stdio_stream st = { .in_fd = 0, .out_fd = 1 };
	struct gitgate_io in = { .ctx = &st, .read = stdio_read };
	struct gitgate_io out = { .ctx = &st, .write = stdio_write, .flush = stdio_flush };
	char remote[64], peer[80], message[256];
	struct gitgate_session s = {
		.gate = gate,
		.service = service,
		.in = &in,
		.out = &out,
		.protocol = transport_protocol_parse(getenv("GIT_PROTOCOL")),
		.remote_addr = remote,
		.peer_addr = peer,
	};
	int ret;

	stdio_addresses(remote, sizeof(remote), peer, sizeof(peer));
	buf_init(&st.out, 128 * 1024);
	ret = transport_session_open(&s, repo_name, strlen(repo_name), message, sizeof(message));
	if (ret < 0) {
		log_error("%s: %s", repo_name, message);
		goto out;
	}
	ret = transport_session_run(&s);
	if (ret < 0)
		log_error("%s: %s", repo_name, s.err[0] ? s.err : strerror(-ret));
	stdio_flush(&st);
out:
	buf_release(&st.out);
	return ret;
}

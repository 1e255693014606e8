/* One service over stdin and stdout, as git-upload-pack and
 * git-receive-pack run under ssh: `sidecar gitgate --stdio SERVICE REPO`.
 * The protocol version comes from GIT_PROTOCOL ("version=2"), which git
 * sets for its ssh and ext:: transports. */
#include "gitgate.h"
#include "transport.h"

#include <errno.h>
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

int transport_stdio_serve(struct gitgate *gate, enum gitgate_service service,
			  const char *repo_name)
{
	struct stdio_stream st = { .in_fd = 0, .out_fd = 1 };
	struct gitgate_io in = { .ctx = &st, .read = stdio_read };
	struct gitgate_io out = { .ctx = &st, .write = stdio_write, .flush = stdio_flush };
	struct gitgate_session s = {
		.gate = gate,
		.service = service,
		.in = &in,
		.out = &out,
		.protocol = transport_protocol_parse(getenv("GIT_PROTOCOL")),
		.remote_addr = "stdio",
		.peer_addr = "stdio",
	};
	char message[256];
	int ret;

	buf_init(&st.out, 128 * 1024);
	s.repo = gitgate_repo_find(gate, repo_name, strlen(repo_name));
	if (!s.repo) {
		log_error("%s: no such repository", repo_name);
		ret = -ENOENT;
		goto out;
	}
	ret = access_hook_check(&s, s.repo->config->name, message, sizeof(message));
	if (ret < 0) {
		log_error("%s: %s", repo_name, message);
		goto out;
	}
	ret = service == GITGATE_UPLOAD_PACK ? upload_pack_serve(&s) : receive_pack_serve(&s);
	if (ret < 0)
		log_error("%s: %s", repo_name, s.err[0] ? s.err : strerror(-ret));
	stdio_flush(&st);
out:
	buf_release(&st.out);
	return ret;
}

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

#include "../../shared/http1.h"
#include "../../shared/log.h"

#define DAEMON_EXTRA_MAX 16  /* extra parameters after the host */
#define DAEMON_PARAM_MAX 128 /* bytes of one */

/* The next NUL-terminated field at *p: 0 and *field, or -EINVAL when the
 * bytes end without a NUL. */
static int next_field(const char **p, const char *end, struct str *field)
{
	const char *nul = memchr(*p, '\0', (size_t)(end - *p));

	if (!nul)
		return -EINVAL;
	*field = (struct str){ *p, (size_t)(nul - *p) };
	*p = nul + 1;
	return 0;
}

/* An extra parameter: "key" or "key=value", printable, no ':' (git joins
 * them with colons into GIT_PROTOCOL) and no space. */
static bool extra_parameter_valid(struct str param)
{
	if (param.len == 0 || param.len > DAEMON_PARAM_MAX || param.p[0] == '=')
		return false;
	for (size_t i = 0; i < param.len; i++) {
		unsigned char ch = (unsigned char)param.p[i];
		if (ch <= ' ' || ch >= 0x7f || ch == ':')
			return false;
	}
	return true;
}

static int parse_service(struct str line, struct transport_daemon_request *out, size_t *used,
			 char *err, size_t err_len)
{
	static const struct {
		const char *prefix;
		enum gitgate_service service;
	} services[] = {
		{ "git-upload-pack ", GITGATE_UPLOAD_PACK },
		{ "git-receive-pack ", GITGATE_RECEIVE_PACK },
	};

	for (size_t i = 0; i < sizeof(services) / sizeof(services[0]); i++) {
		size_t n = strlen(services[i].prefix);

		if (line.len >= n && memcmp(line.p, services[i].prefix, n) == 0) {
			out->service = services[i].service;
			*used = n;
			return 0;
		}
	}
	error_format(err, err_len, "unknown service (the gate serves git-upload-pack and "
		     "git-receive-pack)");
	return -EINVAL;
}

/* "/name" or "/name.git" -> name. */
static int parse_path(struct str path, struct transport_daemon_request *out, char *err,
		      size_t err_len)
{
	struct str name;

	if (path.len < 2 || path.p[0] != '/') {
		error_format(err, err_len, "the repository path must be /<name>.git");
		return -EINVAL;
	}
	name = (struct str){ path.p + 1, path.len - 1 };
	if (name.len > 4 && memcmp(name.p + name.len - 4, ".git", 4) == 0)
		name.len -= 4;
	if (!gitgate_repo_name_valid(name.p, name.len)) {
		error_format(err, err_len, "not a repository name: the path must be /<name>.git");
		return -EINVAL;
	}
	out->repo = name;
	return 0;
}

int transport_daemon_request_parse(struct str line, struct transport_daemon_request *out,
				   char *err, size_t err_len)
{
	const char *p, *end = line.p + line.len;
	struct str path, field;
	size_t used;
	int ret;

	*out = (struct transport_daemon_request){ .host = { "", 0 } };
	ret = parse_service(line, out, &used, err, err_len);
	if (ret < 0)
		return ret;
	p = line.p + used;
	if (!memchr(p, '\0', (size_t)(end - p))) {
		/* The oldest clients send no parameters, maybe with a LF. */
		path = (struct str){ p, (size_t)(end - p) };
		if (path.len > 0 && path.p[path.len - 1] == '\n')
			path.len--;
		return parse_path(path, out, err, err_len);
	}
	next_field(&p, end, &path);
	ret = parse_path(path, out, err, err_len);
	if (ret < 0)
		return ret;
	if (p == end)
		return 0;
	if (*p != '\0') {
		struct http1_authority authority;

		if (next_field(&p, end, &field) < 0 || field.len < 5 ||
		    memcmp(field.p, "host=", 5) != 0) {
			error_format(err, err_len, "malformed request: expected host=<name>[:port]");
			return -EINVAL;
		}
		out->host = (struct str){ field.p + 5, field.len - 5 };
		if (out->host.len == 0 || out->host.len > 255 ||
		    http1_authority_parse(out->host, &authority) < 0) {
			error_format(err, err_len, "malformed request: the host parameter is not "
				     "<name>[:port]");
			return -EINVAL;
		}
		if (p == end)
			return 0;
	}
	/* Extra parameters follow one more NUL. */
	if (*p != '\0' || p + 1 == end) {
		error_format(err, err_len, "malformed request: bytes after the host parameter");
		return -EINVAL;
	}
	p++;
	for (size_t n = 0; p < end; n++) {
		char param[DAEMON_PARAM_MAX + 1];

		if (n == DAEMON_EXTRA_MAX) {
			error_format(err, err_len, "malformed request: more than %d extra parameters",
				     DAEMON_EXTRA_MAX);
			return -EINVAL;
		}
		if (next_field(&p, end, &field) < 0 || !extra_parameter_valid(field)) {
			error_format(err, err_len, "malformed request: an extra parameter is not "
				     "key[=value]");
			return -EINVAL;
		}
		memcpy(param, field.p, field.len);
		param[field.len] = '\0';
		if (strncmp(param, "version=", 8) == 0) {
			int version = transport_protocol_parse(param);

			if (version == 0 && strcmp(param, "version=0") != 0) {
				error_format(err, err_len, "unsupported protocol %s", param);
				return -EINVAL;
			}
			if (version > out->protocol)
				out->protocol = version;
		}
	}
	return 0;
}

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

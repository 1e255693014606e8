/* The transports' request parsers, apart from any socket so that the unit
 * tests and the fuzzers reach them alone (transport.h): the smart-HTTP
 * request-target and the git:// request line.  Both are pure: a (p, len)
 * in, a verdict out, and a one-line reason for the client. */
#include "transport.h"

#include <errno.h>
#include <string.h>

#include "../../shared/http1.h"
#include "../../shared/log.h"

#define PATH_MAX_DECODED 512

/* ---- the request-target ---- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Percent-decode s into out (NUL-terminated): the length, or -EINVAL for
 * a bad escape, a control byte or a backslash after decoding, or a path
 * too long. */
static int percent_decode(struct str s, char *out, size_t out_len)
{
	size_t n = 0;

	for (size_t i = 0; i < s.len; i++) {
		unsigned char ch = (unsigned char)s.p[i];

		if (ch == '%') {
			int high, low;

			if (i + 2 >= s.len)
				return -EINVAL;
			high = hex_value(s.p[i + 1]);
			low = hex_value(s.p[i + 2]);
			if (high < 0 || low < 0)
				return -EINVAL;
			ch = (unsigned char)(high * 16 + low);
			i += 2;
		}
		if (ch < 0x20 || ch == 0x7f || ch == '\\' || n + 1 >= out_len)
			return -EINVAL;
		out[n++] = (char)ch;
	}
	out[n] = '\0';
	return (int)n;
}

/* The value of ?service=, which git sends alone. */
static int query_service(struct str query, bool *found, enum gitgate_service *service)
{
	struct str rest = query;

	*found = false;
	while (rest.len > 0) {
		const char *amp = memchr(rest.p, '&', rest.len);
		struct str param = { rest.p, amp ? (size_t)(amp - rest.p) : rest.len };

		rest = amp ? (struct str){ amp + 1, rest.len - param.len - 1 } : (struct str){ "", 0 };
		if (param.len < 8 || memcmp(param.p, "service=", 8) != 0)
			continue;
		if (*found)
			return -EINVAL; /* given twice: which one would count? */
		*found = true;
		param.p += 8;
		param.len -= 8;
		if (str_equal_cstr(param, "git-upload-pack"))
			*service = GITGATE_UPLOAD_PACK;
		else if (str_equal_cstr(param, "git-receive-pack"))
			*service = GITGATE_RECEIVE_PACK;
		else
			return -EINVAL;
	}
	return 0;
}

/* Paths of git's dumb protocol (files of the repository), answered 404
 * with a reason. */
static bool dumb_path(const char *rest)
{
	return strcmp(rest, "HEAD") == 0 || strcmp(rest, "info/refs") == 0 ||
	       strncmp(rest, "objects/", 8) == 0 || strcmp(rest, "info/packs") == 0 ||
	       strcmp(rest, "info/alternates") == 0 || strcmp(rest, "info/http-alternates") == 0;
}

int transport_http_target_parse(struct str path, struct str query, bool has_query,
				struct transport_http_target *out, char *err, size_t err_len)
{
	char decoded[PATH_MAX_DECODED];
	const char *name, *slash, *rest;
	size_t name_len;
	bool found = false;
	int len;

	memset(out, 0, sizeof(*out));
	len = percent_decode(path, decoded, sizeof(decoded));
	if (len < 0 || decoded[0] != '/') {
		error_format(err, err_len, "malformed path");
		return -EINVAL;
	}
	/* No empty, "." or ".." segment anywhere: nothing can climb out of
	 * the repository or name another by a second route. */
	for (const char *segment = decoded + 1;;) {
		const char *end = strchr(segment, '/');
		size_t n = end ? (size_t)(end - segment) : strlen(segment);

		if (n == 0 || (n == 1 && segment[0] == '.') ||
		    (n == 2 && segment[0] == '.' && segment[1] == '.')) {
			error_format(err, err_len, "malformed path: an empty, '.' or '..' segment");
			return -EINVAL;
		}
		if (!end)
			break;
		segment = end + 1;
	}
	name = decoded + 1;
	slash = strchr(name, '/');
	if (!slash) {
		error_format(err, err_len, "not a git path: expected /<repo>.git/info/refs, "
			     "/<repo>.git/git-upload-pack or /<repo>.git/git-receive-pack");
		return -ENOENT;
	}
	name_len = (size_t)(slash - name);
	if (name_len > 4 && memcmp(name + name_len - 4, ".git", 4) == 0)
		name_len -= 4;
	if (!gitgate_repo_name_valid(name, name_len)) {
		error_format(err, err_len, "not a repository name");
		return -ENOENT;
	}
	memcpy(out->repo, name, name_len);
	out->repo[name_len] = '\0';
	out->repo_len = name_len;
	rest = slash + 1;
	if (strcmp(rest, "git-upload-pack") == 0 || strcmp(rest, "git-receive-pack") == 0) {
		out->kind = TRANSPORT_HTTP_RPC;
		out->service = rest[4] == 'u' ? GITGATE_UPLOAD_PACK : GITGATE_RECEIVE_PACK;
		return 0;
	}
	if (strcmp(rest, "info/refs") == 0 && has_query) {
		if (query_service(query, &found, &out->service) < 0) {
			error_format(err, err_len, "unsupported service: the gate serves "
				     "git-upload-pack and git-receive-pack");
			return -EINVAL;
		}
	}
	if (found) {
		out->kind = TRANSPORT_HTTP_INFO_REFS;
		return 0;
	}
	if (dumb_path(rest)) {
		out->kind = TRANSPORT_HTTP_DUMB;
		error_format(err, err_len, "the gate speaks git's smart HTTP protocol only, not "
			     "dumb HTTP");
		return 0;
	}
	error_format(err, err_len, "not a git path: expected /<repo>.git/info/refs, "
		     "/<repo>.git/git-upload-pack or /<repo>.git/git-receive-pack");
	return -ENOENT;
}

/* ---- git:// ---- */

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
		if (field.len >= 8 && memcmp(field.p, "version=", 8) == 0) {
			if (field.len != 9 || field.p[8] < '0' || field.p[8] > '2') {
				error_format(err, err_len, "unsupported protocol %.*s",
					     (int)field.len, field.p);
				return -EINVAL;
			}
			if (field.p[8] - '0' > out->protocol)
				out->protocol = field.p[8] - '0';
		}
	}
	return 0;
}

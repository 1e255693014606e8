/* The gate's transports: the smart-HTTP request-target, the git:// request
 * line, the protocol version, and the access hook every transport asks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/gitgate/transport.h"

/* ---- smart-HTTP paths ---- */

static int target(const char *path, const char *query, struct transport_http_target *t,
		  char *err, size_t err_len)
{
	return transport_http_target_parse(str_from_cstr(path), str_from_cstr(query ? query : ""),
					   query != NULL, t, err, err_len);
}

static void test_http_targets(void **state)
{
	struct transport_http_target t;
	char err[256];

	(void)state;
	assert_int_equal(target("/app.git/info/refs", "service=git-upload-pack", &t, err,
				sizeof(err)), 0);
	assert_int_equal(t.kind, TRANSPORT_HTTP_INFO_REFS);
	assert_int_equal(t.service, GITGATE_UPLOAD_PACK);
	assert_string_equal(t.repo, "app");
	assert_int_equal(t.repo_len, 3);

	assert_int_equal(target("/app/info/refs", "service=git-receive-pack", &t, err,
				sizeof(err)), 0);
	assert_int_equal(t.service, GITGATE_RECEIVE_PACK);
	assert_string_equal(t.repo, "app");

	assert_int_equal(target("/lib.core.git/git-upload-pack", NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, TRANSPORT_HTTP_RPC);
	assert_int_equal(t.service, GITGATE_UPLOAD_PACK);
	assert_string_equal(t.repo, "lib.core");

	assert_int_equal(target("/app/git-receive-pack", NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.service, GITGATE_RECEIVE_PACK);

	/* Percent-encoded letters are the letters. */
	assert_int_equal(target("/%61pp.git/info/refs", "service=git-upload-pack", &t, err,
				sizeof(err)), 0);
	assert_string_equal(t.repo, "app");
}

static void test_http_dumb_paths(void **state)
{
	struct transport_http_target t;
	char err[256];

	(void)state;
	assert_int_equal(target("/app.git/info/refs", NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, TRANSPORT_HTTP_DUMB);
	assert_string_equal(err, "the gate speaks git's smart HTTP protocol only, not dumb HTTP");
	assert_int_equal(target("/app.git/HEAD", NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, TRANSPORT_HTTP_DUMB);
	assert_int_equal(target("/app.git/objects/12/3456", NULL, &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, TRANSPORT_HTTP_DUMB);
	assert_int_equal(target("/app.git/info/refs", "other=1", &t, err, sizeof(err)), 0);
	assert_int_equal(t.kind, TRANSPORT_HTTP_DUMB);
}

static void test_http_bad_targets(void **state)
{
	static const char *const traversal[] = {
		"/../etc/passwd", "/%2e%2e/info/refs", "/app.git/../other.git/info/refs",
		"/app.git/./info/refs", "//etc/passwd", "/app.git//info/refs",
		"/%2E%2e/x", "/app.git/%2e/info/refs", "/app.git%2f..%2finfo/refs",
	};
	struct transport_http_target t;
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(traversal) / sizeof(traversal[0]); i++) {
		if (target(traversal[i], NULL, &t, err, sizeof(err)) != -EINVAL)
			fail_msg("%s: not refused as malformed", traversal[i]);
		assert_string_equal(err, "malformed path: an empty, '.' or '..' segment");
	}
	assert_int_equal(target("/app%00.git/info/refs", NULL, &t, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "malformed path");
	assert_int_equal(target("/app%0a/info/refs", NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(target("/app%5c/info/refs", NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(target("/app%zz/info/refs", NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(target("/app%4", NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(target("app/info/refs", NULL, &t, err, sizeof(err)), -EINVAL);

	assert_int_equal(target("/", NULL, &t, err, sizeof(err)), -EINVAL);
	assert_int_equal(target("/app.git", NULL, &t, err, sizeof(err)), -ENOENT);
	assert_int_equal(target("/app.git/info", NULL, &t, err, sizeof(err)), -ENOENT);
	assert_int_equal(target("/app.git/git-upload-archive", NULL, &t, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(target("/-app/info/refs", "service=git-upload-pack", &t, err,
				sizeof(err)), -ENOENT);
	assert_string_equal(err, "not a repository name");
	assert_int_equal(target("/.git/info/refs", "service=git-upload-pack", &t, err,
				sizeof(err)), -ENOENT);
	assert_int_equal(target("/a.git.git/info/refs", "service=git-upload-pack", &t, err,
				sizeof(err)), -ENOENT);

	assert_int_equal(target("/app/info/refs", "service=git-upload-archive", &t, err,
				sizeof(err)), -EINVAL);
	assert_string_equal(err, "unsupported service: the gate serves git-upload-pack and "
			    "git-receive-pack");
	assert_int_equal(target("/app/info/refs", "service=git-upload-pack&service=git-receive-pack",
				&t, err, sizeof(err)), -EINVAL);
}

static void test_http_long_path(void **state)
{
	struct transport_http_target t;
	char path[2048], err[256];

	(void)state;
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(target(path, NULL, &t, err, sizeof(err)), -EINVAL);
}

/* ---- git:// request lines ---- */

static int daemon_line(const char *line, size_t len, struct transport_daemon_request *r,
		       char *err, size_t err_len)
{
	return transport_daemon_request_parse((struct str){ line, len }, r, err, err_len);
}

#define LINE(s) s, sizeof(s) - 1

static void test_daemon_requests(void **state)
{
	struct transport_daemon_request r;
	char err[256];

	(void)state;
	assert_int_equal(daemon_line(LINE("git-upload-pack /app.git\0host=gate:9418\0"), &r, err,
				     sizeof(err)), 0);
	assert_int_equal(r.service, GITGATE_UPLOAD_PACK);
	assert_true(str_equal_cstr(r.repo, "app"));
	assert_true(str_equal_cstr(r.host, "gate:9418"));
	assert_int_equal(r.protocol, 0);

	assert_int_equal(daemon_line(LINE("git-upload-pack /app\0host=gate\0\0version=2\0"), &r,
				     err, sizeof(err)), 0);
	assert_true(str_equal_cstr(r.repo, "app"));
	assert_int_equal(r.protocol, 2);

	assert_int_equal(daemon_line(LINE("git-receive-pack /app.git\0host=[::1]:9418\0\0"
					  "version=1\0object-format=sha1\0"), &r, err,
				     sizeof(err)), 0);
	assert_int_equal(r.service, GITGATE_RECEIVE_PACK);
	assert_int_equal(r.protocol, 1);

	/* No host, extra parameters only. */
	assert_int_equal(daemon_line(LINE("git-upload-pack /app.git\0\0version=2\0"), &r, err,
				     sizeof(err)), 0);
	assert_int_equal(r.host.len, 0);
	assert_int_equal(r.protocol, 2);

	/* The oldest form: no parameters at all, perhaps a LF. */
	assert_int_equal(daemon_line(LINE("git-upload-pack /app.git\n"), &r, err, sizeof(err)), 0);
	assert_true(str_equal_cstr(r.repo, "app"));
	assert_int_equal(daemon_line(LINE("git-upload-pack /app.git\0"), &r, err, sizeof(err)), 0);
}

static void expect_daemon_error(const char *line, size_t len, const char *message)
{
	struct transport_daemon_request r;
	char err[256];

	if (daemon_line(line, len, &r, err, sizeof(err)) != -EINVAL)
		fail_msg("accepted: %.*s", (int)len, line);
	if (strcmp(err, message) != 0)
		fail_msg("expected\n  %s\ngot\n  %s", message, err);
}

static void test_daemon_bad_requests(void **state)
{
	(void)state;
	expect_daemon_error(LINE("git-upload-archive /app.git\0host=x\0"),
			    "unknown service (the gate serves git-upload-pack and git-receive-pack)");
	expect_daemon_error(LINE("git-upload-pack  /app.git\0host=x\0"),
			    "the repository path must be /<name>.git");
	expect_daemon_error(LINE("git-upload-pack app.git\0host=x\0"),
			    "the repository path must be /<name>.git");
	expect_daemon_error(LINE("git-upload-pack /../etc\0host=x\0"),
			    "not a repository name: the path must be /<name>.git");
	expect_daemon_error(LINE("git-upload-pack /a/b.git\0host=x\0"),
			    "not a repository name: the path must be /<name>.git");
	expect_daemon_error(LINE("git-upload-pack ~user/app.git\0host=x\0"),
			    "the repository path must be /<name>.git");
	expect_daemon_error(LINE("git-upload-pack /app.git\0hots=x\0"),
			    "malformed request: expected host=<name>[:port]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x"),
			    "malformed request: expected host=<name>[:port]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=\0"),
			    "malformed request: the host parameter is not <name>[:port]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=a b\0"),
			    "malformed request: the host parameter is not <name>[:port]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x:99999\0"),
			    "malformed request: the host parameter is not <name>[:port]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0junk"),
			    "malformed request: bytes after the host parameter");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0\0"),
			    "malformed request: bytes after the host parameter");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0\0version=2"),
			    "malformed request: an extra parameter is not key[=value]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0\0a:b\0"),
			    "malformed request: an extra parameter is not key[=value]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0\0\0"),
			    "malformed request: an extra parameter is not key[=value]");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0\0version=9\0"),
			    "unsupported protocol version=9");
	expect_daemon_error(LINE("git-upload-pack /app.git\0host=x\0\0a\0a\0a\0a\0a\0a\0a\0a\0"
				 "a\0a\0a\0a\0a\0a\0a\0a\0a\0"),
			    "malformed request: more than 16 extra parameters");
}

static void test_protocol_parse(void **state)
{
	(void)state;
	assert_int_equal(transport_protocol_parse(NULL), 0);
	assert_int_equal(transport_protocol_parse(""), 0);
	assert_int_equal(transport_protocol_parse("version=2"), 2);
	assert_int_equal(transport_protocol_parse("version=1"), 1);
	assert_int_equal(transport_protocol_parse("object-format=sha1:version=2"), 2);
	assert_int_equal(transport_protocol_parse("version=3"), 0);
	assert_int_equal(transport_protocol_parse("version=22"), 0);
}

/* ---- the access hook ---- */

static char hook_dir[] = "/tmp/test_gitgate_hook.XXXXXX";

static const char *write_hook(const char *name, const char *body)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", hook_dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	chmod(path, 0755);
	return path;
}

static int run_hook(const char *hook, uint64_t timeout_ms, enum gitgate_service service,
		    char *message, size_t message_len)
{
	struct gitgate gate = { 0 };
	struct gitgate_session s = {
		.gate = &gate,
		.service = service,
		.remote_addr = "192.0.2.7",
		.peer_addr = "192.0.2.7:40000",
	};

	gate.config.hook = (char *)hook;
	gate.config.hook_timeout_ms = timeout_ms;
	return access_hook_check(&s, "app", message, message_len);
}

static void test_hook_allows_and_denies(void **state)
{
	char message[256], expected[1024], path[300];
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(hook_dir));
	/* No hook: the built-in policy allows. */
	assert_int_equal(run_hook(NULL, 1000, GITGATE_RECEIVE_PACK, message, sizeof(message)), 0);

	/* The arguments, in order, and a clean environment. */
	snprintf(path, sizeof(path), "%s/args", hook_dir);
	snprintf(expected, sizeof(expected), "printf '%%s|' \"$@\" >%s; env | sort >>%s; exit 0",
		 path, path);
	assert_int_equal(run_hook(write_hook("allow", expected), 5000, GITGATE_UPLOAD_PACK,
				  message, sizeof(message)), 0);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(expected, sizeof(expected), f));
	fclose(f);
	/* sh adds PWD (and maybe SHLVL) itself; nothing of ours leaks. */
	assert_true(strncmp(expected, "upload-pack|app|192.0.2.7|192.0.2.7:40000|", 42) == 0);
	assert_null(strstr(expected, "HOME="));

	assert_int_equal(run_hook(write_hook("deny", "echo; echo '  no pushes on Sundays  '; "
					     "echo second line; exit 3"), 5000,
				  GITGATE_RECEIVE_PACK, message, sizeof(message)), -EACCES);
	assert_string_equal(message, "no pushes on Sundays");

	assert_int_equal(run_hook(write_hook("silent", "exit 1"), 5000, GITGATE_RECEIVE_PACK,
				  message, sizeof(message)), -EACCES);
	assert_string_equal(message, "access denied by the access hook (exit 1)");

	/* Control bytes never reach the client. */
	assert_int_equal(run_hook(write_hook("control", "printf 'a\\033[31mb\\n'; exit 1"), 5000,
				  GITGATE_RECEIVE_PACK, message, sizeof(message)), -EACCES);
	assert_string_equal(message, "a?[31mb");

	/* Lots of output neither blocks the hook nor overflows. */
	assert_int_equal(run_hook(write_hook("chatty", "yes denied | head -c 200000; exit 1"),
				  5000, GITGATE_RECEIVE_PACK, message, sizeof(message)), -EACCES);
	assert_string_equal(message, "denied");
}

static void test_hook_fails_closed(void **state)
{
	char message[256], path[300];
	int64_t started;

	(void)state;
	/* A hook that hangs, with a child holding its output open too. */
	started = transport_now_ms();
	assert_int_equal(run_hook(write_hook("hang", "sleep 30 & sleep 30"), 300,
				  GITGATE_UPLOAD_PACK, message, sizeof(message)), -ETIMEDOUT);
	assert_string_equal(message, "the access hook did not answer within 300 ms");
	assert_true(transport_now_ms() - started < 10000);

	/* One that closes its output and goes on running. */
	assert_int_equal(run_hook(write_hook("linger", "exec >/dev/null 2>&1; sleep 30"), 300,
				  GITGATE_UPLOAD_PACK, message, sizeof(message)), -ETIMEDOUT);
	assert_string_equal(message, "the access hook did not answer within 300 ms");

	/* valgrind runs posix_spawn()'s vfork-like clone as a plain fork, so
	 * a failed exec comes back as exit 127 instead of posix_spawn's error
	 * (make valgrind sets BOTTLE_SANITIZER; docs/testing.md). */
	snprintf(path, sizeof(path), "%s/missing", hook_dir);
	if (!getenv("BOTTLE_SANITIZER") || strcmp(getenv("BOTTLE_SANITIZER"), "valgrind") != 0) {
		assert_int_equal(run_hook(path, 1000, GITGATE_UPLOAD_PACK, message,
					  sizeof(message)), -ENOENT);
		assert_string_equal(message, "the access hook cannot run: No such file or directory");
	}

	assert_int_equal(run_hook(write_hook("killed", "kill -9 $$"), 1000, GITGATE_UPLOAD_PACK,
				  message, sizeof(message)), -ECANCELED);
	assert_string_equal(message, "the access hook was killed by signal 9");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_http_targets),
		cmocka_unit_test(test_http_dumb_paths),
		cmocka_unit_test(test_http_bad_targets),
		cmocka_unit_test(test_http_long_path),
		cmocka_unit_test(test_daemon_requests),
		cmocka_unit_test(test_daemon_bad_requests),
		cmocka_unit_test(test_protocol_parse),
		cmocka_unit_test(test_hook_allows_and_denies),
		cmocka_unit_test(test_hook_fails_closed),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	char command[300];

	snprintf(command, sizeof(command), "rm -rf %s", hook_dir);
	(void)!system(command);
	return failed;
}

/* gitgate.yaml: a full config reads as written, defaults fill the rest,
 * and every invalid case fails with its message and position. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../sidecar/gitgate/gitgate_config.c"

static int parse(const char *text, struct gitgate_config *c, char *err, size_t err_len)
{
	struct config_yaml cy;

	config_yaml_init(&cy);
	return config_finish(&cy, config_yaml_load_string(&cy, "gitgate.yaml", text, strlen(text)),
			     "gitgate.yaml", c, err, err_len);
}

/* Parse text, expect -EINVAL with exactly message. */
static void expect_error(const char *text, const char *message)
{
	struct gitgate_config c;
	char err[1024];
	int ret = parse(text, &c, err, sizeof(err));

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", ret, text);
	if (strcmp(err, message) != 0)
		fail_msg("expected message\n  %s\ngot\n  %s", message, err);
	/* A failed parse leaves nothing to free. */
	assert_null(c.repos);
	assert_null(c.path);
	assert_null(c.data_dir);
}

static void test_full_config(void **state)
{
	struct gitgate_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("listen: {http: '127.0.0.1:8080', git: off}\n"
			       "data_dir: /srv/git\n"
			       "mirror_max_age: 5m\n"
			       "hook: /usr/local/bin/hook\n"
			       "hook_timeout: 3s\n"
			       "operation_timeout: 1h\n"
			       "request_max: 64M\n"
			       "user: {name: Agent, email: agent@example.test}\n"
			       "scan: {max_commits: 50, max_blob: 512K}\n"
			       "repos:\n"
			       "  - name: app\n"
			       "    upstream: https://forge.test/team/app.git\n"
			       "    token_env: FORGE_TOKEN\n"
			       "    protected: [refs/heads/main, 'refs/heads/release/*']\n"
			       "    allow_force_push: true\n"
			       "    allow_delete: false\n"
			       "  - name: lib.core\n"
			       "    upstream: git@forge.test:team/lib.git\n"
			       "    deploy_key: /etc/keys/lib\n"
			       "    known_hosts: /etc/keys/known_hosts\n"
			       "  - name: scratch\n",
			       &c, err, sizeof(err)), 0);
	assert_string_equal(c.path, "gitgate.yaml");
	assert_string_equal(c.http_listen, "127.0.0.1:8080");
	assert_null(c.git_listen);
	assert_string_equal(c.data_dir, "/srv/git");
	assert_int_equal(c.mirror_max_age_ms, 5 * 60 * 1000);
	assert_string_equal(c.hook, "/usr/local/bin/hook");
	assert_int_equal(c.hook_timeout_ms, 3000);
	assert_int_equal(c.operation_timeout_ms, 3600 * 1000);
	assert_int_equal(c.request_max, 64 * 1024 * 1024);
	assert_string_equal(c.user_name, "Agent");
	assert_string_equal(c.user_email, "agent@example.test");
	assert_int_equal(c.scan_max_commits, 50);
	assert_int_equal(c.scan_max_blob, 512 * 1024);
	assert_int_equal(c.nrepos, 3);
	assert_string_equal(c.repos[0].name, "app");
	assert_string_equal(c.repos[0].upstream, "https://forge.test/team/app.git");
	assert_string_equal(c.repos[0].token_env, "FORGE_TOKEN");
	assert_string_equal(c.repos[0].protected_refs[0], "refs/heads/main");
	assert_string_equal(c.repos[0].protected_refs[1], "refs/heads/release/*");
	assert_null(c.repos[0].protected_refs[2]);
	assert_true(c.repos[0].allow_force_push);
	assert_false(c.repos[0].allow_delete);
	assert_int_equal(c.repos[0].line, 11);
	assert_string_equal(c.repos[1].deploy_key, "/etc/keys/lib");
	assert_string_equal(c.repos[1].known_hosts, "/etc/keys/known_hosts");
	assert_null(c.repos[2].upstream);
	gitgate_config_release(&c);
}

static void test_defaults(void **state)
{
	struct gitgate_config c;
	char err[1024];

	(void)state;
	assert_int_equal(parse("repos:\n  - name: app\n", &c, err, sizeof(err)), 0);
	assert_string_equal(c.http_listen, ":9420");
	assert_string_equal(c.git_listen, ":9418");
	assert_string_equal(c.data_dir, "/var/lib/gitgate");
	assert_int_equal(c.mirror_max_age_ms, 60 * 1000);
	assert_null(c.hook);
	assert_int_equal(c.hook_timeout_ms, 10 * 1000);
	assert_int_equal(c.operation_timeout_ms, 10 * 60 * 1000);
	assert_int_equal(c.request_max, 512ULL * 1024 * 1024);
	assert_null(c.user_name);
	assert_null(c.user_email);
	assert_int_equal(c.scan_max_commits, 1000);
	assert_int_equal(c.scan_max_blob, 10 * 1024 * 1024);
	assert_false(c.repos[0].allow_force_push);
	assert_true(c.repos[0].allow_delete);
	assert_non_null(c.repos[0].protected_refs);
	assert_null(c.repos[0].protected_refs[0]);
	gitgate_config_release(&c);

	assert_int_equal(parse("repos: []\n", &c, err, sizeof(err)), 0);
	assert_int_equal(c.nrepos, 0);
	gitgate_config_release(&c);
}

static void test_top_level_errors(void **state)
{
	(void)state;
	expect_error("data_dir: /x\n",
		     "gitgate.yaml:1:1: config: missing key 'repos'");
	expect_error("repos: []\nrepo: []\n",
		     "gitgate.yaml:2:1: config: unknown key 'repo' (allowed: listen, data_dir, "
		     "mirror_max_age, hook, hook_timeout, operation_timeout, request_max, user, "
		     "scan, repos)");
	expect_error("repos: []\nlisten: {http: 9420}\n",
		     "gitgate.yaml:2:16: listen.http: '9420' is not an address ([HOST]:PORT, :PORT "
		     "or off)");
	expect_error("repos: []\nlisten: {ssh: ':22'}\n",
		     "gitgate.yaml:2:10: listen: unknown key 'ssh' (allowed: http, git)");
	expect_error("repos: []\ndata_dir: data\n",
		     "gitgate.yaml:2:11: data_dir: must be an absolute path, got 'data'");
	expect_error("repos: []\nrequest_max: 10\n",
		     "gitgate.yaml:2:14: request_max: '10' is not a size from 65536 to "
		     "68719476736 bytes (e.g. 512K, 100M, 1G)");
	expect_error("repos: []\nrequest_max: 12X\n",
		     "gitgate.yaml:2:14: request_max: '12X' is not a size from 65536 to "
		     "68719476736 bytes (e.g. 512K, 100M, 1G)");
	expect_error("repos: []\nuser: {email: 'A <a@b>'}\n",
		     "gitgate.yaml:2:15: user.email: 'A <a@b>' is not an address (name@host, "
		     "without <>)");
	expect_error("repos: []\nscan: {max_commits: 0}\n",
		     "gitgate.yaml:2:21: scan.max_commits: 0 is out of range (1 to 1000000)");
	expect_error("repos: {}\n", "gitgate.yaml:1:8: repos: expected a sequence, got a mapping");
}

static void test_repo_errors(void **state)
{
	(void)state;
	expect_error("repos:\n  - upstream: /x\n",
		     "gitgate.yaml:2:5: repos[0]: missing key 'name'");
	expect_error("repos:\n  - name: ../etc\n",
		     "gitgate.yaml:2:11: repos[0].name: '../etc' is not a repository name "
		     "(letters, digits, '.', '_', '-', starting with a letter or digit, no '..', "
		     "not ending in .git, at most 100)");
	expect_error("repos:\n  - name: app.git\n",
		     "gitgate.yaml:2:11: repos[0].name: 'app.git' is not a repository name "
		     "(letters, digits, '.', '_', '-', starting with a letter or digit, no '..', "
		     "not ending in .git, at most 100)");
	expect_error("repos:\n  - name: app\n  - name: app\n",
		     "gitgate.yaml:3:11: repos[1].name: 'app' is already the name of the "
		     "repository at line 2");
	expect_error("repos:\n  - name: app\n    branch: main\n",
		     "gitgate.yaml:3:5: repos[0]: unknown key 'branch' (allowed: name, upstream, "
		     "token_env, deploy_key, known_hosts, protected, allow_force_push, "
		     "allow_delete)");
	expect_error("repos:\n  - name: app\n    protected: [main]\n",
		     "gitgate.yaml:3:17: repos[0].protected[0]: 'main' is not a ref name or prefix "
		     "(e.g. refs/heads/main or refs/heads/release/*)");
	expect_error("repos:\n  - name: app\n    protected: ['refs/*/x']\n",
		     "gitgate.yaml:3:17: repos[0].protected[0]: 'refs/*/x' is not a ref name or "
		     "prefix (e.g. refs/heads/main or refs/heads/release/*)");
	expect_error("repos:\n  - name: app\n    allow_delete: maybe\n",
		     "gitgate.yaml:3:19: repos[0].allow_delete: expected true or false, got 'maybe'");
}

static void test_credential_errors(void **state)
{
	(void)state;
	expect_error("repos:\n  - name: a\n    upstream: ftp://x/y\n",
		     "gitgate.yaml:3:15: repos[0].upstream: not an upstream URL the gate can fetch "
		     "(https://, ssh://, user@host:path, git://, http:// or an absolute path)");
	expect_error("repos:\n  - name: a\n    upstream: https://user:hunter2@x/y\n",
		     "gitgate.yaml:3:15: repos[0].upstream: a user or password in the URL; put the "
		     "token in the variable named by token_env");
	expect_error("repos:\n  - name: a\n    upstream: ssh://git@x/y\n",
		     "gitgate.yaml:2:5: repos[0]: an ssh upstream needs deploy_key (the private key "
		     "file)");
	expect_error("repos:\n  - name: a\n    upstream: git@x:y\n    deploy_key: /k\n",
		     "gitgate.yaml:2:5: repos[0]: an ssh upstream needs known_hosts (its host key, "
		     "pinned)");
	expect_error("repos:\n  - name: a\n    upstream: https://x/y\n    token_env: T\n"
		     "    deploy_key: /k\n",
		     "gitgate.yaml:2:5: repos[0]: token_env and deploy_key both set; an upstream "
		     "takes one credential");
	expect_error("repos:\n  - name: a\n    upstream: https://x/y\n    known_hosts: /k\n",
		     "gitgate.yaml:2:5: repos[0]: deploy_key and known_hosts are for ssh upstreams; "
		     "https uses token_env");
	expect_error("repos:\n  - name: a\n    upstream: http://x/y\n    token_env: T\n",
		     "gitgate.yaml:2:5: repos[0]: token_env with an http:// upstream would send the "
		     "token in clear; use https://");
	expect_error("repos:\n  - name: a\n    token_env: T\n",
		     "gitgate.yaml:2:5: repos[0]: a repository without upstream takes no credential "
		     "(token_env, deploy_key, known_hosts)");
	expect_error("repos:\n  - name: a\n    upstream: /srv/a.git\n    deploy_key: /k\n",
		     "gitgate.yaml:2:5: repos[0]: this upstream takes no credential (token_env, "
		     "deploy_key, known_hosts)");
	expect_error("repos:\n  - name: a\n    upstream: https://x/y\n    token_env: 1BAD\n",
		     "gitgate.yaml:4:16: repos[0].token_env: '1BAD' is not a variable name");
}

static void test_load_missing_file(void **state)
{
	struct gitgate_config c;
	char err[1024];

	(void)state;
	assert_int_equal(gitgate_config_load("/nonexistent/gitgate.yaml", &c, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "unable to open '/nonexistent/gitgate.yaml': No such file or "
			    "directory");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_top_level_errors),
		cmocka_unit_test(test_repo_errors),
		cmocka_unit_test(test_credential_errors),
		cmocka_unit_test(test_load_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

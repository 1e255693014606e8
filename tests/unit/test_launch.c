/* The launcher's pieces that need no engine: slugs and state files, the
 * minted CA (parsed and verified by mbedTLS), the rendered init.yaml
 * (loaded by init's own config loader), MCP client configs, env-file
 * lines, the credential names handed to the bundle, and running argv
 * arrays without a shell. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/x509_crt.h>
#include <yyjson.h>

#include "../../host/launch.h"
#include "../../shared/config_yaml.h"
#include "../../sidecar/init/init.h"

struct fixture {
	char root[64];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/test-launch.XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	launch_remove_tree(f->root);
	free(f);
	return 0;
}

static void path_in(const struct fixture *f, const char *rel, char *out, size_t len)
{
	snprintf(out, len, "%s/%s", f->root, rel);
}

static void write_text(const struct fixture *f, const char *rel, const char *text)
{
	char path[256];

	path_in(f, rel, path, sizeof(path));
	assert_int_equal(launch_write_file(path, text, strlen(text), 0644), 0);
}

static void test_slugs(void **state)
{
	char a[LAUNCH_SLUG_MAX], b[LAUNCH_SLUG_MAX];
	char long_name[MANIFEST_NAME_MAX + 1];
	struct launch_names n;
	size_t i;

	(void)state;
	assert_int_equal(launch_slug_make("claude-dev", a, sizeof(a)), 0);
	assert_int_equal(launch_slug_make("claude-dev", b, sizeof(b)), 0);
	assert_true(launch_slug_valid(a));
	assert_int_equal(strlen(a), strlen("claude-dev-") + 8);
	assert_memory_equal(a, "claude-dev-", strlen("claude-dev-"));
	for (i = strlen("claude-dev-"); a[i]; i++)
		assert_non_null(strchr("0123456789abcdef", a[i]));
	/* Two bottles of one agent at once must not share names. */
	assert_string_not_equal(a, b);

	memset(long_name, 'x', MANIFEST_NAME_MAX);
	long_name[MANIFEST_NAME_MAX] = '\0';
	assert_int_equal(launch_slug_make(long_name, a, sizeof(a)), 0);
	assert_true(launch_slug_valid(a));
	assert_int_equal(strlen(a), 40 + 1 + 8);

	assert_false(launch_slug_valid(""));
	assert_false(launch_slug_valid("-x"));
	assert_false(launch_slug_valid("../x"));
	assert_false(launch_slug_valid("a/b"));
	assert_false(launch_slug_valid("Upper"));
	assert_false(launch_slug_valid(".hidden"));
	memset(long_name, 'a', LAUNCH_SLUG_MAX);
	long_name[LAUNCH_SLUG_MAX] = '\0';
	assert_false(launch_slug_valid(long_name));

	launch_names_init(&n, "dev-0011aabb");
	assert_string_equal(n.bundle, "bottle-dev-0011aabb-bundle");
	assert_string_equal(n.agent, "bottle-dev-0011aabb-agent");
	assert_string_equal(n.net_internal, "bottle-dev-0011aabb-internal");
	assert_string_equal(n.net_egress, "bottle-dev-0011aabb-egress");
}

static void test_state_file(void **state)
{
	struct fixture *f = *state;
	struct launch_state in = { 0 }, out;
	char path[256], err[512];
	struct stat st;

	snprintf(in.slug, sizeof(in.slug), "dev-0011aabb");
	snprintf(in.agent, sizeof(in.agent), "dev");
	snprintf(in.engine, sizeof(in.engine), "podman");
	in.created = 1790000000;
	in.pid = getpid();
	in.pid_start = launch_pid_start(in.pid);
	in.keep = true;
	assert_int_equal(launch_state_write(f->root, &in, err, sizeof(err)), 0);
	path_in(f, "state", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Rewriting replaces it (the launcher does at the end with --keep). */
	assert_int_equal(launch_state_write(f->root, &in, err, sizeof(err)), 0);

	assert_int_equal(launch_state_read(f->root, &out, err, sizeof(err)), 0);
	assert_string_equal(out.slug, in.slug);
	assert_string_equal(out.agent, in.agent);
	assert_string_equal(out.engine, in.engine);
	assert_int_equal(out.created, in.created);
	assert_int_equal(out.pid, in.pid);
	assert_true(out.pid_start != 0);
	assert_int_equal(out.pid_start, in.pid_start);
	assert_true(out.keep);
	assert_true(launch_state_alive(&out));

	/* A reused pid has another start time: not our launcher. */
	out.pid_start++;
	assert_false(launch_state_alive(&out));
	out.pid = 0;
	assert_false(launch_state_alive(&out));

	unlink(path);
	write_text(f, "state", "slug ../../etc\nengine podman\n");
	assert_int_equal(launch_state_read(f->root, &out, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "is not a bottle state file"));
	unlink(path);
	write_text(f, "state", "slug dev-1\nengine podman\npid 12x\n");
	assert_int_equal(launch_state_read(f->root, &out, err, sizeof(err)), -EINVAL);
	unlink(path);
	write_text(f, "state", "slug dev-1\nengine podman");
	assert_int_equal(launch_state_read(f->root, &out, err, sizeof(err)), -EINVAL);
	unlink(path);
	assert_int_equal(launch_state_read(f->root, &out, err, sizeof(err)), -ENOENT);
}

static void test_files_and_trees(void **state)
{
	struct fixture *f = *state;
	char dir[256], path[256], outside[256];
	struct stat st;

	path_in(f, "a/b/c", dir, sizeof(dir));
	assert_int_equal(launch_mkdirs(dir, 0700), 0);
	assert_int_equal(launch_mkdirs(dir, 0700), 0);
	path_in(f, "a/b/c/key", path, sizeof(path));
	assert_int_equal(launch_write_file(path, "k", 1, 0600), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* Never over an existing file, so never through a planted symlink. */
	assert_int_equal(launch_write_file(path, "k", 1, 0600), -EEXIST);

	path_in(f, "outside", outside, sizeof(outside));
	assert_int_equal(mkdir(outside, 0700), 0);
	write_text(f, "outside/keep", "x");
	path_in(f, "a/b/link", path, sizeof(path));
	assert_int_equal(symlink(outside, path), 0);
	path_in(f, "a", dir, sizeof(dir));
	assert_int_equal(launch_remove_tree(dir), 0);
	assert_int_equal(stat(dir, &st), -1);
	path_in(f, "outside/keep", path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(launch_remove_tree(dir), 0);
}

static void test_ca(void **state)
{
	struct fixture *f = *state;
	char crt_path[256], key_path[256], err[512];
	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	uint32_t flags = 0;
	struct stat st;

	path_in(f, "ca.crt", crt_path, sizeof(crt_path));
	path_in(f, "ca.key", key_path, sizeof(key_path));
	assert_int_equal(launch_ca_mint(crt_path, key_path, "dev-0011aabb", 30, err, sizeof(err)), 0);
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);

	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, crt_path), 0);
	assert_int_equal(mbedtls_pk_parse_keyfile(&key, key_path, NULL, mbedtls_psa_get_random,
						  MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(mbedtls_pk_get_type(&key), MBEDTLS_PK_ECKEY);
	assert_int_equal(mbedtls_pk_ec(key)->MBEDTLS_PRIVATE(grp).id, MBEDTLS_ECP_DP_SECP256R1);
	assert_int_equal(mbedtls_pk_check_pair(&crt.pk, &key, mbedtls_psa_get_random,
					       MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(crt.MBEDTLS_PRIVATE(ca_istrue), 1);
	/* mbedTLS stores pathlen + 1. */
	assert_int_equal(crt.MBEDTLS_PRIVATE(max_pathlen), 1);
	assert_true(mbedtls_x509_crt_check_key_usage(&crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) == 0);
	assert_false(mbedtls_x509_time_is_future(&crt.valid_from));
	assert_false(mbedtls_x509_time_is_past(&crt.valid_to));
	/* Self-signed and valid as its own trust anchor. */
	assert_int_equal(mbedtls_x509_crt_verify(&crt, &crt, NULL, NULL, &flags, NULL, NULL), 0);
	mbedtls_x509_crt_free(&crt);
	mbedtls_pk_free(&key);

	/* A second mint never overwrites a CA. */
	assert_int_equal(launch_ca_mint(crt_path, key_path, "x", 30, err, sizeof(err)), -EEXIST);
	assert_non_null(strstr(err, "ca.key"));
}

static const char *find_in(char **list, const char *want)
{
	for (; list && *list; list++)
		if (strcmp(*list, want) == 0)
			return *list;
	return NULL;
}

/* The argument after `flag`, or "" when flag is missing or last. */
static const char *find_after(char **list, const char *flag)
{
	for (; list && *list; list++)
		if (strcmp(*list, flag) == 0)
			return list[1] ? list[1] : "";
	return "";
}

static void test_render_init(void **state)
{
	const char *secrets[] = { "ANTHROPIC_API_KEY", "GH_TOKEN" };
	struct launch_bundle_opts o = { .slug = "dev-0011aabb",
					.secret_names = secrets,
					.nsecret_names = 2,
					.upstream_ca = true,
					.supervise = true,
					.provider_host = "api.anthropic.com" };
	struct init_config config;
	struct config_yaml cy;
	const struct daemon_config *egress, *supervise;
	struct buf text;

	(void)state;
	buf_init(&text, (size_t)-1);
	assert_int_equal(launch_render_init(&o, &text), 0);
	config_yaml_init(&cy);
	init_config_init(&config);
	assert_int_equal(config_yaml_load_string(&cy, "init.yaml", text.p, text.len), 0);
	if (init_config_parse(&config, &cy) < 0)
		fail_msg("%s", cy.message);
	assert_int_equal(config.daemon_count, 2);
	egress = &config.daemons[0];
	supervise = &config.daemons[1];
	assert_string_equal(egress->name, "egress");
	assert_string_equal(egress->argv[0], "/bin/sidecar");
	assert_non_null(find_in(egress->argv, "--upstream-ca"));
	assert_non_null(find_in(egress->argv, "/run/supervise/queue/routes.yaml"));
	assert_int_equal(egress->ready_fd, 3);
	assert_int_equal(egress->uid, LAUNCH_SIDECAR_UID);
	assert_true(egress->required);
	/* The credentials and the canary reach egress by name, never by value. */
	assert_non_null(find_in(egress->env_inherit, "ANTHROPIC_API_KEY"));
	assert_non_null(find_in(egress->env_inherit, "GH_TOKEN"));
	assert_non_null(find_in(egress->env_inherit, "BOTTLE_CANARY"));
	assert_null(egress->env);
	/* Its DLP knows each secret and the canary by name, holds requests in
	 * the bottle's queue and redacts on the provider's route. */
	assert_string_equal(find_after(egress->argv, "--canary-env"), "BOTTLE_CANARY");
	assert_non_null(find_in(egress->argv, "ANTHROPIC_API_KEY"));
	assert_non_null(find_in(egress->argv, "GH_TOKEN"));
	assert_string_equal(find_after(egress->argv, "--queue"), "/run/supervise/queue");
	assert_string_equal(find_after(egress->argv, "--bottle"), "dev-0011aabb");
	assert_string_equal(find_after(egress->argv, "--provider-host"), "api.anthropic.com");
	assert_string_equal(supervise->name, "supervise");
	assert_non_null(find_in(supervise->argv, "dev-0011aabb"));
	assert_false(supervise->required);
	assert_null(supervise->env_inherit);
	init_config_release(&config);
	config_yaml_release(&cy);

	buf_clear(&text);
	o.upstream_ca = false;
	o.supervise = false;
	o.nsecret_names = 0;
	assert_int_equal(launch_render_init(&o, &text), 0);
	config_yaml_init(&cy);
	init_config_init(&config);
	assert_int_equal(config_yaml_load_string(&cy, "init.yaml", text.p, text.len), 0);
	assert_int_equal(init_config_parse(&config, &cy), 0);
	assert_int_equal(config.daemon_count, 1);
	assert_null(find_in(config.daemons[0].argv, "--upstream-ca"));
	assert_null(find_in(config.daemons[0].argv, "/etc/sidecar/upstream-ca.crt"));
	assert_null(find_in(config.daemons[0].argv, "--queue"));
	init_config_release(&config);
	config_yaml_release(&cy);
	buf_release(&text);
}

static void test_mcp_configs(void **state)
{
	yyjson_val *server;
	yyjson_doc *doc;
	struct buf text;

	(void)state;
	buf_init(&text, (size_t)-1);
	assert_int_equal(launch_render_mcp_claude("http://sidecar:9100/mcp", &text), 0);
	doc = yyjson_read(text.p, text.len, 0);
	assert_non_null(doc);
	server = yyjson_ptr_get(yyjson_doc_get_root(doc), "/mcpServers/bottle");
	assert_non_null(server);
	assert_string_equal(yyjson_get_str(yyjson_obj_get(server, "type")), "http");
	assert_string_equal(yyjson_get_str(yyjson_obj_get(server, "url")),
			    "http://sidecar:9100/mcp");
	yyjson_doc_free(doc);

	buf_clear(&text);
	assert_int_equal(launch_render_mcp_codex("http://sidecar:9100/mcp", &text), 0);
	assert_non_null(strstr(text.p, "\n[mcp_servers.bottle]\nurl = \"http://sidecar:9100/mcp\"\n"));
	assert_non_null(strstr(text.p, "\ntool_timeout_sec = 900\n"));
	buf_clear(&text);
	/* A quote cannot end the TOML string early. */
	assert_int_equal(launch_render_mcp_codex("http://x/\"\n[evil]", &text), 0);
	assert_non_null(strstr(text.p, "url = \"http://x/\\\"\\u000a[evil]\"\n"));
	assert_null(strstr(text.p, "\n[evil]"));
	buf_release(&text);
}

static void test_env_lines(void **state)
{
	struct buf text;

	(void)state;
	buf_init(&text, (size_t)-1);
	assert_int_equal(launch_env_line(&text, "A", "x=y z"), 0);
	assert_int_equal(launch_env_line(&text, "B", ""), 0);
	assert_int_equal(launch_env_line(&text, "C", "one\nD=two"), -EINVAL);
	assert_int_equal(launch_env_line(&text, "C", "one\rtwo"), -EINVAL);
	assert_string_equal(text.p, "A=x=y z\nB=\n");
	buf_release(&text);
}

static void test_secret_names(void **state)
{
	struct fixture *f = *state;
	struct manifest_dirs dirs = { 0 };
	struct manifest_agent a;
	const char **names;
	char home[256], dir[256], err[1024];
	size_t n;

	path_in(f, "home", home, sizeof(home));
	path_in(f, "home/agents", dir, sizeof(dir));
	assert_int_equal(launch_mkdirs(dir, 0700), 0);
	path_in(f, "home/bottles", dir, sizeof(dir));
	assert_int_equal(launch_mkdirs(dir, 0700), 0);
	write_text(f, "home/agents/dev.md", "---\nbottle: dev\nprovider: codex\n---\n");
	write_text(f, "home/bottles/dev.md",
		   "---\n"
		   "egress:\n"
		   "  routes:\n"
		   "    - host: api.github.com\n"
		   "      auth: {header: Authorization, scheme: Bearer, env: GH_TOKEN}\n"
		   "    - host: uploads.github.com\n"
		   "      auth: {header: Authorization, scheme: Bearer, env: GH_TOKEN}\n"
		   "    - host: example.com\n"
		   "git:\n"
		   "  repos:\n"
		   "    - name: engine\n"
		   "      upstream: https://github.com/acme/engine.git\n"
		   "      token_env: ACME_PUSH\n"
		   "---\n");
	dirs.home = home;
	if (manifest_agent_load(&dirs, "dev", &a, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(launch_secret_names(&a, &names, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[0], "ACME_PUSH");
	assert_string_equal(names[1], "GH_TOKEN");
	assert_string_equal(names[2], "OPENAI_API_KEY");
	assert_null(names[3]);
	free(names);
	manifest_agent_release(&a);

	/* A custom agent with no auth holds no credential. */
	path_in(f, "home/agents/dev.md", dir, sizeof(dir));
	unlink(dir);
	write_text(f, "home/agents/dev.md", "---\nbottle: plain\nprovider: {image: x}\n---\n");
	write_text(f, "home/bottles/plain.md", "---\nsupervise: false\n---\n");
	if (manifest_agent_load(&dirs, "dev", &a, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(launch_secret_names(&a, &names, &n), 0);
	assert_int_equal(n, 0);
	assert_null(names[0]);
	free(names);
	manifest_agent_release(&a);
}

static void test_exec(void **state)
{
	struct fixture *f = *state;
	struct launch_argv a = { 0 };
	char marker[256];
	struct buf out;
	struct stat st;

	buf_init(&out, 4096);
	launch_argv_add(&a, "sh");
	launch_argv_add(&a, "-c");
	launch_argv_add(&a, "echo out; echo err >&2; exit 3");
	assert_int_equal(launch_exec(&a, &out, LAUNCH_EXEC_QUIET), 3);
	assert_string_equal(out.p, "out\n");
	launch_argv_release(&a);

	buf_clear(&out);
	launch_argv_add(&a, "sh");
	launch_argv_add(&a, "-c");
	launch_argv_add(&a, "echo err >&2");
	assert_int_equal(launch_exec(&a, &out, LAUNCH_EXEC_MERGE), 0);
	assert_string_equal(out.p, "err\n");
	launch_argv_release(&a);

	/* An argument is one argument: no shell ever reads it. */
	path_in(f, "marker", marker, sizeof(marker));
	buf_clear(&out);
	launch_argv_add(&a, "echo");
	launch_argv_addf(&a, "x; touch %s", marker);
	assert_int_equal(launch_exec(&a, &out, 0), 0);
	launch_argv_release(&a);
	assert_int_equal(stat(marker, &st), -1);
	assert_non_null(strstr(out.p, "; touch "));

	launch_argv_add(&a, "sh");
	launch_argv_add(&a, "-c");
	launch_argv_add(&a, "kill -KILL $$");
	assert_int_equal(launch_exec(&a, NULL, 0), 128 + SIGKILL);
	launch_argv_release(&a);

	launch_argv_add(&a, "/nonexistent/engine");
	assert_int_equal(launch_exec(&a, NULL, LAUNCH_EXEC_QUIET), 127);
	launch_argv_release(&a);

	/* Output past the cap is drained (the child finishes) and reported. */
	buf_init(&out, 16);
	launch_argv_add(&a, "sh");
	launch_argv_add(&a, "-c");
	launch_argv_add(&a, "i=0; while [ $i -lt 2000 ]; do echo 0123456789; i=$((i+1)); done");
	assert_int_equal(launch_exec(&a, &out, 0), -EMSGSIZE);
	launch_argv_release(&a);
	buf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slugs),
		cmocka_unit_test_setup_teardown(test_state_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_files_and_trees, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ca, setup, teardown),
		cmocka_unit_test(test_render_init),
		cmocka_unit_test(test_mcp_configs),
		cmocka_unit_test(test_env_lines),
		cmocka_unit_test_setup_teardown(test_secret_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

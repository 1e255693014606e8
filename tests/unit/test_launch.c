/* The launcher's pieces that need no engine: slugs and state files, the
 * minted CA (parsed and verified by mbedTLS), the rendered init.yaml
 * (loaded by init's own config loader), the git gate's gitgate.yaml
 * (loaded by the gate's) and the agent's git configuration, MCP client
 * configs, env-file lines, the credential names handed to the bundle, and
 * running argv arrays without a shell. */
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
#include "../../sidecar/gitgate/gitgate.h"
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

/* The demo origin's certificate: a leaf for its name, signed by its CA,
 * verified as egress verifies an upstream. */
static void test_leaf(void **state)
{
	struct fixture *f = *state;
	char ca_crt[256], ca_key[256], crt_path[256], key_path[256], err[512];
	mbedtls_x509_crt ca, crt;
	mbedtls_pk_context key;
	uint32_t flags = 0;
	struct stat st;

	path_in(f, "ca.crt", ca_crt, sizeof(ca_crt));
	path_in(f, "ca.key", ca_key, sizeof(ca_key));
	path_in(f, "origin.crt", crt_path, sizeof(crt_path));
	path_in(f, "origin.key", key_path, sizeof(key_path));
	assert_int_equal(launch_ca_mint(ca_crt, ca_key, "demo CA", 2, err, sizeof(err)), 0);
	assert_int_equal(launch_leaf_mint(ca_crt, ca_key, "origin.demo.test", 2, crt_path, key_path,
					  0640, err, sizeof(err)),
			 0);
	assert_int_equal(stat(key_path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0640);

	mbedtls_x509_crt_init(&ca);
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	assert_int_equal(mbedtls_x509_crt_parse_file(&ca, ca_crt), 0);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, crt_path), 0);
	assert_int_equal(mbedtls_pk_parse_keyfile(&key, key_path, NULL, mbedtls_psa_get_random,
						  MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(mbedtls_pk_check_pair(&crt.pk, &key, mbedtls_psa_get_random,
					       MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(crt.MBEDTLS_PRIVATE(ca_istrue), 0);
	assert_int_equal(mbedtls_x509_crt_verify(&crt, &ca, NULL, "origin.demo.test", &flags, NULL,
						 NULL),
			 0);
	/* The name is in the subjectAltName: another name fails. */
	assert_int_not_equal(mbedtls_x509_crt_verify(&crt, &ca, NULL, "other.demo.test", &flags,
						     NULL, NULL),
			     0);
	assert_true(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	mbedtls_x509_crt_free(&ca);
	mbedtls_x509_crt_free(&crt);
	mbedtls_pk_free(&key);

	/* A missing CA is a message, not a crash. */
	assert_int_equal(launch_leaf_mint("/nonexistent/ca.crt", ca_key, "x.test", 2, crt_path,
					  key_path, 0600, err, sizeof(err)),
			 -EIO);
	assert_non_null(strstr(err, "read the CA"));
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

static void load_init(const struct launch_bundle_opts *o, struct init_config *config)
{
	struct config_yaml cy;
	struct buf text;

	buf_init(&text, (size_t)-1);
	assert_int_equal(launch_render_init(o, &text), 0);
	config_yaml_init(&cy);
	init_config_init(config);
	assert_int_equal(config_yaml_load_string(&cy, "init.yaml", text.p, text.len), 0);
	if (init_config_parse(config, &cy) < 0)
		fail_msg("%s", cy.message);
	config_yaml_release(&cy);
	buf_release(&text);
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
	const struct daemon_config *egress, *supervise;

	(void)state;
	load_init(&o, &config);
	assert_int_equal(config.daemon_count, 2);
	egress = &config.daemons[0];
	supervise = &config.daemons[1];
	assert_string_equal(egress->name, "egress");
	assert_string_equal(egress->argv[0], "/bin/sidecar");
	assert_non_null(find_in(egress->argv, "--upstream-ca"));
	assert_non_null(find_in(egress->argv, "/run/supervise/queue/routes.yaml"));
	assert_int_equal(egress->ready_fd, 3);
	/* Each daemon as its own uid in the bundle's group, no other group. */
	assert_true(egress->has_user);
	assert_int_equal(egress->uid, LAUNCH_EGRESS_UID);
	assert_int_equal(egress->gid, LAUNCH_BUNDLE_GID);
	assert_int_equal(egress->group_count, 0);
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
	assert_int_equal(supervise->uid, LAUNCH_SUPERVISE_UID);
	assert_int_equal(supervise->gid, LAUNCH_BUNDLE_GID);
	assert_int_equal(supervise->group_count, 0);
	assert_null(supervise->env_inherit);
	init_config_release(&config);

	o.upstream_ca = false;
	o.supervise = false;
	o.nsecret_names = 0;
	load_init(&o, &config);
	assert_int_equal(config.daemon_count, 1);
	assert_string_equal(config.daemons[0].name, "egress");
	assert_null(find_in(config.daemons[0].argv, "--upstream-ca"));
	assert_null(find_in(config.daemons[0].argv, "/etc/sidecar/upstream-ca.crt"));
	assert_null(find_in(config.daemons[0].argv, "--queue"));
	init_config_release(&config);
}

/* The gate runs beside egress with the same DLP inputs. */
static void test_render_init_gitgate(void **state)
{
	const char *secrets[] = { "ANTHROPIC_API_KEY", "APP_TOKEN" };
	struct launch_bundle_opts o = { .slug = "dev-0011aabb",
					.secret_names = secrets,
					.nsecret_names = 2,
					.upstream_ca = true,
					.supervise = true,
					.provider_host = "api.anthropic.com",
					.gitgate = true };
	const struct daemon_config *gate;
	struct init_config config;

	(void)state;
	load_init(&o, &config);
	assert_int_equal(config.daemon_count, 3);
	gate = &config.daemons[1];
	assert_string_equal(gate->name, "gitgate");
	assert_string_equal(gate->argv[1], "gitgate");
	assert_string_equal(find_after(gate->argv, "--config"), LAUNCH_GITGATE_CONFIG);
	assert_int_equal(gate->ready_fd, 3);
	assert_string_equal(find_after(gate->argv, "--ready-fd"), "3");
	assert_int_equal(gate->uid, LAUNCH_GITGATE_UID);
	assert_int_equal(gate->gid, LAUNCH_BUNDLE_GID);
	assert_int_equal(gate->group_count, 0);
	assert_true(gate->required);
	/* Every secret by name, the canary, the queue for its proposals. */
	assert_string_equal(find_after(gate->argv, "--canary-env"), "BOTTLE_CANARY");
	assert_string_equal(find_after(gate->argv, "--secret-env"), "ANTHROPIC_API_KEY");
	assert_non_null(find_in(gate->argv, "APP_TOKEN"));
	assert_string_equal(find_after(gate->argv, "--queue"), "/run/supervise/queue");
	assert_string_equal(find_after(gate->argv, "--bottle"), "dev-0011aabb");
	assert_null(find_in(gate->argv, "--provider-host"));
	assert_non_null(find_in(gate->env_inherit, "APP_TOKEN"));
	assert_non_null(find_in(gate->env_inherit, "ANTHROPIC_API_KEY"));
	assert_non_null(find_in(gate->env_inherit, "BOTTLE_CANARY"));
	/* Its https upstreams are checked with the operator's upstream CA. */
	assert_non_null(find_in(gate->env, "SSL_CERT_FILE=/etc/sidecar/upstream-ca.crt"));
	/* egress's argv is what it was without the gate. */
	assert_string_equal(config.daemons[0].name, "egress");
	assert_string_equal(find_after(config.daemons[0].argv, "--provider-host"),
			    "api.anthropic.com");
	assert_string_equal(config.daemons[2].name, "supervise");
	init_config_release(&config);

	o.upstream_ca = false;
	o.supervise = false;
	load_init(&o, &config);
	assert_int_equal(config.daemon_count, 2);
	gate = &config.daemons[1];
	assert_null(gate->env);
	assert_null(find_in(gate->argv, "--queue"));
	assert_null(find_in(gate->argv, "--bottle"));
	init_config_release(&config);
}

static void load_bottle_text(struct fixture *f, const char *text, struct manifest_bottle *b)
{
	struct manifest_dirs dirs = { 0 };
	char home[256], dir[256], err[1024];

	path_in(f, "home", home, sizeof(home));
	path_in(f, "home/bottles", dir, sizeof(dir));
	assert_int_equal(launch_mkdirs(dir, 0700), 0);
	path_in(f, "home/bottles/b.md", dir, sizeof(dir));
	unlink(dir);
	write_text(f, "home/bottles/b.md", text);
	dirs.home = home;
	if (manifest_bottle_load(&dirs, "b", b, err, sizeof(err)) < 0)
		fail_msg("%s", err);
}

/* gitgate.yaml as the gate itself loads it. */
static void load_gitgate(struct fixture *f, const struct manifest_bottle *b, const char *host,
			 struct gitgate_config *config)
{
	char path[256], err[1024];
	struct buf text;

	buf_init(&text, (size_t)-1);
	assert_int_equal(launch_render_gitgate(b, host, &text), 0);
	path_in(f, "gitgate.yaml", path, sizeof(path));
	unlink(path);
	assert_int_equal(launch_write_file(path, text.p, text.len, 0644), 0);
	if (gitgate_config_load(path, config, err, sizeof(err)) < 0)
		fail_msg("%s\n%s", err, text.p);
	buf_release(&text);
}

static void test_render_gitgate(void **state)
{
	struct fixture *f = *state;
	struct gitgate_config config;
	struct manifest_bottle b;
	char path[256];

	load_bottle_text(f,
			 "---\n"
			 "git:\n"
			 "  user: {name: Bottle Agent, email: agent@example.com}\n"
			 "  repos:\n"
			 "    - name: webapp\n"
			 "      upstream: git@github.com:acme/webapp.git\n"
			 "      deploy_key: ~/.ssh/webapp\n"
			 "      known_hosts: /etc/ssh/github_known_hosts\n"
			 "    - name: engine\n"
			 "      upstream: https://github.com/acme/engine.git\n"
			 "      token_env: ENGINE_TOKEN\n"
			 "---\n",
			 &b);
	memset(&config, 0, sizeof(config));
	load_gitgate(f, &b, "10.89.3.254", &config);
	assert_string_equal(config.http_listen, "10.89.3.254:9420");
	assert_string_equal(config.git_listen, "10.89.3.254:9418");
	assert_string_equal(config.data_dir, LAUNCH_GITGATE_DATA);
	assert_string_equal(config.user_name, "Bottle Agent");
	assert_string_equal(config.user_email, "agent@example.com");
	assert_int_equal(config.nrepos, 2);
	assert_string_equal(config.repos[0].name, "webapp");
	assert_string_equal(config.repos[0].upstream, "git@github.com:acme/webapp.git");
	/* The keys by their place in the bundle, never the operator's path. */
	assert_string_equal(config.repos[0].deploy_key, "/etc/sidecar/gitgate/webapp.key");
	assert_string_equal(config.repos[0].known_hosts,
			    "/etc/sidecar/gitgate/webapp.known_hosts");
	assert_null(config.repos[0].token_env);
	assert_string_equal(config.repos[1].token_env, "ENGINE_TOKEN");
	assert_null(config.repos[1].deploy_key);
	assert_null(config.hook);
	gitgate_config_release(&config);

	/* Every address (no internal one known), IPv6 bracketed, no user. */
	manifest_bottle_release(&b);
	load_bottle_text(f,
			 "---\ngit:\n  repos:\n    - {name: x, upstream: 'https://h/x', "
			 "token_env: T}\n---\n",
			 &b);
	memset(&config, 0, sizeof(config));
	load_gitgate(f, &b, NULL, &config);
	assert_string_equal(config.http_listen, ":9420");
	assert_string_equal(config.git_listen, ":9418");
	assert_null(config.user_name);
	gitgate_config_release(&config);
	memset(&config, 0, sizeof(config));
	load_gitgate(f, &b, "fd00::2", &config);
	assert_string_equal(config.http_listen, "[fd00::2]:9420");
	gitgate_config_release(&config);
	manifest_bottle_release(&b);

	assert_int_equal(launch_gitgate_file("/host/dir", "webapp", ".key.pub", path, sizeof(path)),
			 0);
	assert_string_equal(path, "/host/dir/webapp.key.pub");
	assert_int_equal(launch_gitgate_file("/host/dir", "webapp", ".key", path, 10),
			 -ENAMETOOLONG);
}

static void expect_spellings(const char *upstream, const char *want)
{
	struct buf text;

	buf_init(&text, (size_t)-1);
	assert_int_equal(launch_git_spellings(upstream, &text), 0);
	assert_string_equal(text.p, want);
	buf_release(&text);
}

static void test_git_spellings(void **state)
{
	(void)state;
	expect_spellings("https://github.com/acme/engine.git",
			 "https://github.com/acme/engine.git\n"
			 "git@github.com:acme/engine.git\n"
			 "ssh://git@github.com/acme/engine.git\n"
			 "https://github.com/acme/engine\n"
			 "git@github.com:acme/engine\n"
			 "ssh://git@github.com/acme/engine\n");
	/* The upstream as written comes first, even without .git. */
	expect_spellings("https://gitlab.example/g/sub/app",
			 "https://gitlab.example/g/sub/app\n"
			 "https://gitlab.example/g/sub/app.git\n"
			 "git@gitlab.example:g/sub/app.git\n"
			 "ssh://git@gitlab.example/g/sub/app.git\n"
			 "git@gitlab.example:g/sub/app\n"
			 "ssh://git@gitlab.example/g/sub/app\n");
	/* An ssh upstream keeps its user. */
	expect_spellings("forge@h.example:team/lib.git",
			 "forge@h.example:team/lib.git\n"
			 "https://h.example/team/lib.git\n"
			 "ssh://forge@h.example/team/lib.git\n"
			 "https://h.example/team/lib\n"
			 "forge@h.example:team/lib\n"
			 "ssh://forge@h.example/team/lib\n");
	expect_spellings("ssh://h.example/srv/lib",
			 "ssh://h.example/srv/lib\n"
			 "https://h.example/srv/lib.git\n"
			 "h.example:srv/lib.git\n"
			 "ssh://h.example/srv/lib.git\n"
			 "https://h.example/srv/lib\n"
			 "h.example:srv/lib\n");
	/* A port belongs to its protocol. */
	expect_spellings("ssh://git@h.example:2222/lib.git",
			 "ssh://git@h.example:2222/lib.git\n"
			 "ssh://git@h.example:2222/lib\n");
	expect_spellings("https://h.example:8443/lib",
			 "https://h.example:8443/lib\n"
			 "https://h.example:8443/lib.git\n");
}

static void test_git_env(void **state)
{
	struct fixture *f = *state;
	struct manifest_bottle b;
	struct buf env;

	load_bottle_text(f,
			 "---\n"
			 "git:\n"
			 "  user: {name: Bottle Agent, email: agent@example.com}\n"
			 "  repos:\n"
			 "    - {name: app, upstream: 'ssh://git@h.example:2222/app.git', "
			 "deploy_key: /k, known_hosts: /kh}\n"
			 "---\n",
			 &b);
	buf_init(&env, (size_t)-1);
	assert_int_equal(launch_render_git_env(&b, "http://sidecar:9420", &env), 0);
	assert_string_equal(env.p,
			    "GIT_CONFIG_KEY_0=user.name\n"
			    "GIT_CONFIG_VALUE_0=Bottle Agent\n"
			    "GIT_CONFIG_KEY_1=user.email\n"
			    "GIT_CONFIG_VALUE_1=agent@example.com\n"
			    "GIT_CONFIG_KEY_2=url.http://sidecar:9420/app.git.insteadOf\n"
			    "GIT_CONFIG_VALUE_2=ssh://git@h.example:2222/app.git\n"
			    "GIT_CONFIG_KEY_3=url.http://sidecar:9420/app.git.insteadOf\n"
			    "GIT_CONFIG_VALUE_3=ssh://git@h.example:2222/app\n"
			    "GIT_CONFIG_COUNT=4\n");
	manifest_bottle_release(&b);

	/* Nothing to configure: no line at all (no GIT_CONFIG_COUNT=0 that
	 * would hide the agent's own). */
	buf_clear(&env);
	load_bottle_text(f, "---\nsupervise: false\n---\n", &b);
	assert_int_equal(launch_render_git_env(&b, "http://sidecar:9420", &env), 0);
	assert_int_equal(env.len, 0);
	manifest_bottle_release(&b);
	buf_release(&env);
}

/* The launcher's ids are the image's: rootfs/etc/passwd gives each daemon
 * the uid the launcher hands files to, in the group it shares the queue
 * with, and no two daemons (nor the group) share an id. */
static void test_daemon_users(void **state)
{
	const char *names[] = { "egress", "supervise", "gitgate" };
	char line[256], user[64];
	unsigned uid, gid, found = 0, i;
	FILE *f;

	(void)state;
	assert_int_equal(launch_daemon_uid("egress"), LAUNCH_EGRESS_UID);
	assert_int_equal(launch_daemon_uid("supervise"), LAUNCH_SUPERVISE_UID);
	assert_int_equal(launch_daemon_uid("gitgate"), LAUNCH_GITGATE_UID);
	assert_int_equal(launch_daemon_uid("agent"), -ENOENT);
	assert_true(LAUNCH_EGRESS_UID != LAUNCH_SUPERVISE_UID);
	assert_true(LAUNCH_EGRESS_UID != LAUNCH_GITGATE_UID);
	assert_true(LAUNCH_SUPERVISE_UID != LAUNCH_GITGATE_UID);
	f = fopen("rootfs/etc/passwd", "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63[^:]:x:%u:%u:", user, &uid, &gid) != 3)
			continue;
		for (i = 0; i < 3; i++)
			if (strcmp(user, names[i]) == 0) {
				assert_int_equal(uid, launch_daemon_uid(names[i]));
				assert_int_equal(gid, LAUNCH_BUNDLE_GID);
				found |= 1u << i;
			}
		/* Nobody else holds a daemon's uid. */
		for (i = 0; i < 3; i++)
			if (strcmp(user, names[i]) != 0)
				assert_int_not_equal(uid, launch_daemon_uid(names[i]));
	}
	fclose(f);
	assert_int_equal(found, 7);
}

static void test_privilege_args(void **state)
{
	const char *expected[] = { "--read-only", "--tmpfs=/run/sidecar:mode=0755", "--ipc=none",
				   "--tmpfs=/dev/mqueue:ro", "--cap-drop=all", "--cap-add=setuid",
				   "--cap-add=setgid", "--cap-add=kill",
				   "--security-opt=no-new-privileges" };
	struct launch_argv a = { 0 };
	size_t i, adds = 0, drop_at = 0;

	(void)state;
	launch_bundle_privilege_args(&a, "podman");
	assert_false(a.failed);
	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_non_null(find_in(a.v, expected[i]));
	assert_non_null(find_in(a.v, "--read-only-tmpfs=false"));
	/* Exactly three capabilities come back, after the drop of all. */
	for (i = 0; i < a.n; i++) {
		if (strcmp(a.v[i], "--cap-drop=all") == 0)
			drop_at = i;
		if (strncmp(a.v[i], "--cap-add=", 10) == 0) {
			assert_true(i > drop_at && drop_at > 0);
			adds++;
		}
	}
	assert_int_equal(adds, 3);
	launch_argv_release(&a);

	/* docker has no --read-only-tmpfs (it adds no writable tmpfs). */
	memset(&a, 0, sizeof(a));
	launch_bundle_privilege_args(&a, "docker");
	assert_null(find_in(a.v, "--read-only-tmpfs=false"));
	for (i = 0; i < sizeof(expected) / sizeof(expected[0]); i++)
		assert_non_null(find_in(a.v, expected[i]));
	launch_argv_release(&a);
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
	buf_release(&out);
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
		cmocka_unit_test_setup_teardown(test_leaf, setup, teardown),
		cmocka_unit_test(test_render_init),
		cmocka_unit_test(test_render_init_gitgate),
		cmocka_unit_test_setup_teardown(test_render_gitgate, setup, teardown),
		cmocka_unit_test(test_git_spellings),
		cmocka_unit_test_setup_teardown(test_git_env, setup, teardown),
		cmocka_unit_test(test_daemon_users),
		cmocka_unit_test(test_privilege_args),
		cmocka_unit_test(test_mcp_configs),
		cmocka_unit_test(test_env_lines),
		cmocka_unit_test_setup_teardown(test_secret_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

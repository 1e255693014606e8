/* Manifests on disk: lookup (./.bottle over ~/.bottle per file name),
 * `extends` (fold order, every merge rule, diamonds, cycles, unknown and
 * self parents), the checks on the folded bottle, the credential guard on
 * the agent's env, and routes.yaml rendering loaded back by the routes
 * loader. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

#include "../../host/manifest.h"

/* Each test gets fresh local and home directories. */
struct fixture {
	char root[64];
	char local[128];
	char home[128];
	struct manifest_dirs dirs;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	static const char *const subdirs[] = { "local", "local/agents", "local/bottles", "home",
					       "home/agents", "home/bottles" };
	char path[256];
	size_t i;

	if (!f)
		return -1;
	snprintf(f->root, sizeof(f->root), "/tmp/test-manifest.XXXXXX");
	if (!mkdtemp(f->root))
		return -1;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->root, subdirs[i]);
		if (mkdir(path, 0700) < 0)
			return -1;
	}
	snprintf(f->local, sizeof(f->local), "%s/local", f->root);
	snprintf(f->home, sizeof(f->home), "%s/home", f->root);
	f->dirs.local = f->local;
	f->dirs.home = f->home;
	*state = f;
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* write_file(f, "home/bottles/base.md", "---\n...") */
static void write_file(struct fixture *f, const char *rel, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->root, rel);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, strlen(text), fp), strlen(text));
	assert_int_equal(fclose(fp), 0);
}

static void load_agent(struct fixture *f, const char *name, struct manifest_agent *a)
{
	char err[1024];

	if (manifest_agent_load(&f->dirs, name, a, err, sizeof(err)) < 0)
		fail_msg("agent %s failed: %s", name, err);
	assert_string_equal(err, "");
}

static void load_bottle(struct fixture *f, const char *name, struct manifest_bottle *b)
{
	char err[1024];

	if (manifest_bottle_load(&f->dirs, name, b, err, sizeof(err)) < 0)
		fail_msg("bottle %s failed: %s", name, err);
}

/* The error, with the fixture's root shown as "@". */
static int agent_error(struct fixture *f, const char *name, char *out, size_t size)
{
	struct manifest_agent a;
	char err[1024], *p, *at;
	int ret = manifest_agent_load(&f->dirs, name, &a, err, sizeof(err));
	size_t len = 0;

	assert_true(ret < 0);
	assert_null(a.name);
	for (p = err; (at = strstr(p, f->root)) && len < size; p = at + strlen(f->root))
		len += (size_t)snprintf(out + len, size - len, "%.*s@", (int)(at - p), p);
	if (len < size)
		snprintf(out + len, size - len, "%s", p);
	return ret;
}

static void expect_agent_error(struct fixture *f, const char *name, const char *message)
{
	char err[1024];

	agent_error(f, name, err, sizeof(err));
	if (strcmp(err, message) != 0)
		fail_msg("expected\n  %s\ngot\n  %s", message, err);
}

static const struct manifest_env *env_named(const struct manifest_bottle *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->nenv; i++)
		if (strcmp(b->env[i].name, name) == 0)
			return &b->env[i];
	return NULL;
}

/* ---- lookup ---- */

/* The built-in demo resolves from nothing on disk, and a file of the same
 * name in either directory replaces the built-in one, per file name. */
static void test_builtin_demo(void **state)
{
	struct fixture *f = *state;
	struct manifest_agent a;
	char err[1024], *path = NULL;

	load_agent(f, "demo", &a);
	assert_string_equal(a.path, MANIFEST_BUILTIN_DEMO_AGENT);
	assert_string_equal(a.bottle.path, MANIFEST_BUILTIN_DIR "/bottles/demo.md");
	assert_int_equal(a.provider, MANIFEST_PROVIDER_CUSTOM);
	assert_string_equal(a.provider_image, "bottle-sidecar");
	assert_string_equal(a.provider_command[1], "demo-agent");
	assert_int_equal(a.bottle.nrepos, 1);
	assert_string_equal(a.bottle.repos[0].token_env, "BOTTLE_DEMO_GIT_TOKEN");
	assert_int_equal(a.bottle.negress, 1);
	assert_int_equal(a.bottle.supervise, 1);
	manifest_agent_release(&a);

	/* Only the names built in: others are still "no agent named". */
	assert_int_equal(manifest_find(&f->dirs, MANIFEST_AGENT, "demo2", &path, err, sizeof(err)),
			 -ENOENT);
	assert_int_equal(manifest_find(&f->dirs, MANIFEST_AGENT, "demo", &path, err, sizeof(err)),
			 0);
	assert_string_equal(path, MANIFEST_BUILTIN_DEMO_AGENT);
	free(path);

	write_file(f, "local/bottles/demo.md", "---\nsupervise: false\n---\n");
	load_agent(f, "demo", &a);
	assert_string_equal(a.path, MANIFEST_BUILTIN_DEMO_AGENT);
	assert_int_equal(a.bottle.nrepos, 0);
	assert_int_equal(a.bottle.supervise, 0);
	manifest_agent_release(&a);

	write_file(f, "home/agents/demo.md", "---\nbottle: demo\nprovider: claude\n---\n");
	load_agent(f, "demo", &a);
	assert_non_null(strstr(a.path, "/home/agents/demo.md"));
	assert_int_equal(a.provider, MANIFEST_PROVIDER_CLAUDE);
	manifest_agent_release(&a);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(manifest_name_valid("a"));
	assert_true(manifest_name_valid("claude-dev-2"));
	assert_true(manifest_name_valid("0"));
	assert_false(manifest_name_valid(""));
	assert_false(manifest_name_valid("-a"));
	assert_false(manifest_name_valid("A"));
	assert_false(manifest_name_valid("a_b"));
	assert_false(manifest_name_valid("a.md"));
	assert_false(manifest_name_valid("../a"));
	assert_true(manifest_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
	assert_false(manifest_name_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
}

static void test_default_dirs(void **state)
{
	struct manifest_dirs dirs;
	char *saved = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	(void)state;
	setenv("HOME", "/srv/op", 1);
	manifest_dirs_default(&dirs);
	assert_string_equal(dirs.local, "./.bottle");
	assert_string_equal(dirs.home, "/srv/op/.bottle");
	setenv("HOME", "/", 1);
	manifest_dirs_default(&dirs);
	assert_string_equal(dirs.home, "/.bottle");
	/* Unset or relative: the password database's home, never a relative path. */
	setenv("HOME", "relative", 1);
	manifest_dirs_default(&dirs);
	assert_true(!dirs.home || dirs.home[0] == '/');
	unsetenv("HOME");
	manifest_dirs_default(&dirs);
	assert_true(!dirs.home || dirs.home[0] == '/');
	if (saved)
		setenv("HOME", saved, 1);
	free(saved);
}

static void test_local_overrides_home_per_file(void **state)
{
	struct fixture *f = *state;
	struct manifest_agent a;

	write_file(f, "home/agents/dev.md", "---\nbottle: dev\nprovider: claude\n---\nhome\n");
	write_file(f, "home/bottles/dev.md", "---\nextends: base\nenv: {WHERE: home}\n---\n");
	write_file(f, "home/bottles/base.md", "---\nenv: {BASE: home}\n---\n");
	write_file(f, "local/bottles/dev.md", "---\nextends: base\nenv: {WHERE: local}\n---\n");

	load_agent(f, "dev", &a);
	assert_string_equal(a.prompt, "home\n");
	assert_non_null(strstr(a.path, "/home/agents/dev.md"));
	/* dev from ./.bottle, its parent base from ~/.bottle. */
	assert_non_null(strstr(a.bottle.path, "/local/bottles/dev.md"));
	assert_string_equal(env_named(&a.bottle, "WHERE")->value, "local");
	assert_string_equal(env_named(&a.bottle, "BASE")->value, "home");
	assert_non_null(strstr(env_named(&a.bottle, "BASE")->origin.path, "/home/bottles/base.md"));
	manifest_agent_release(&a);

	write_file(f, "local/agents/dev.md", "---\nbottle: dev\nprovider: codex\n---\nlocal\n");
	load_agent(f, "dev", &a);
	assert_string_equal(a.prompt, "local\n");
	assert_int_equal(a.provider, MANIFEST_PROVIDER_CODEX);
	manifest_agent_release(&a);
}

static void test_lookup_errors(void **state)
{
	struct fixture *f = *state;
	char err[1024];

	expect_agent_error(f, "nope",
			   "no agent named 'nope' (looked for @/local/agents/nope.md and "
			   "@/home/agents/nope.md)");
	expect_agent_error(f, "Bad_Name",
			   "'Bad_Name' is not a valid agent name (1 to 64 of a-z, 0-9 and '-', "
			   "not starting with '-')");
	expect_agent_error(f, "../x", "'../x' is not a valid agent name (1 to 64 of a-z, 0-9 and "
				      "'-', not starting with '-')");
	write_file(f, "home/agents/a.md", "---\nbottle: missing\nprovider: claude\n---\n");
	expect_agent_error(f, "a",
			   "@/home/agents/a.md:2:9: bottle: no bottle named 'missing' (looked for "
			   "@/local/bottles/missing.md and @/home/bottles/missing.md)");
	/* A directory is not a manifest. */
	snprintf(err, sizeof(err), "%s/local/agents/d.md", f->root);
	assert_int_equal(mkdir(err, 0700), 0);
	expect_agent_error(f, "d", "@/local/agents/d.md: not a regular file");
	write_file(f, "home/agents/p.md", "You are an agent without frontmatter.\n");
	agent_error(f, "p", err, sizeof(err));
	assert_non_null(strstr(err, "@/home/agents/p.md:1:1: frontmatter: missing: start the file "
				    "with a line '---'"));
}

/* ---- merge rules ---- */

static void test_fold_order_and_every_rule(void **state)
{
	struct fixture *f = *state;
	struct manifest_bottle b;

	write_file(f, "home/bottles/p1.md",
		   "---\n"
		   "env: {A: p1, B: p1, ONLY1: x}\n"
		   "egress: {log: all, routes: [{host: p1.test}]}\n"
		   "git:\n"
		   "  user: {name: One, email: one@example.com}\n"
		   "  repos:\n"
		   "    - {name: r, upstream: 'git@h:r.git', deploy_key: /k1, known_hosts: /kh1}\n"
		   "    - {name: s, upstream: 'https://h/s', token_env: S_TOKEN}\n"
		   "supervise: false\n"
		   "image: img-1\n"
		   "---\n");
	write_file(f, "home/bottles/p2.md",
		   "---\n"
		   "env: {A: p2, B: '${HOST_B}'}\n"
		   "egress: {routes: [{host: p2.test}, {host: p2b.test}]}\n"
		   "git:\n"
		   "  user: {email: two@example.com}\n"
		   "  repos:\n"
		   "    - {name: r, upstream: 'ssh://h/r2.git', known_hosts: ~/kh2}\n"
		   "containerfile: /ctx/Containerfile\n"
		   "---\n");
	write_file(f, "home/bottles/child.md",
		   "---\n"
		   "extends: [p1, p2]\n"
		   "env: {A: child, C: child}\n"
		   "egress: {log: off, routes: [{host: child.test}]}\n"
		   "git:\n"
		   "  repos:\n"
		   "    - {name: s, upstream: 'https://h/s2', token_env: S2_TOKEN}\n"
		   "    - {name: t, upstream: 'git@h:t', deploy_key: ~/.ssh/t, known_hosts: /kh}\n"
		   "---\n");
	load_bottle(f, "child", &b);
	assert_string_equal(b.name, "child");
	assert_string_equal(b.chain[0], "p1");
	assert_string_equal(b.chain[1], "p2");
	assert_string_equal(b.chain[2], "child");
	assert_null(b.chain[3]);
	/* env: by name, later wins, child over all; first-seen order. */
	assert_int_equal(b.nenv, 4);
	assert_string_equal(b.env[0].name, "A");
	assert_string_equal(b.env[0].value, "child");
	assert_int_equal(b.env[0].origin.line, 3);
	assert_string_equal(b.env[1].name, "B");
	assert_null(b.env[1].value);
	assert_string_equal(b.env[1].host_var, "HOST_B");
	assert_non_null(strstr(b.env[1].origin.path, "p2.md"));
	assert_string_equal(b.env[2].name, "ONLY1");
	assert_string_equal(b.env[3].name, "C");
	/* routes: child's first, then the last parent's, then the first's. */
	assert_int_equal(b.negress, 3);
	assert_string_equal(b.egress[0].bottle, "child");
	assert_string_equal(b.egress[1].bottle, "p2");
	assert_int_equal(b.egress[1].routes->n, 2);
	assert_string_equal(b.egress[2].bottle, "p1");
	/* log: last writer wins. */
	assert_true(b.log_set);
	assert_int_equal(b.log, ROUTES_LOG_OFF);
	/* git user: per field. */
	assert_string_equal(b.git_user_name, "One");
	assert_string_equal(b.git_user_email, "two@example.com");
	/* repos: by name, per field; a credential replaces the other kind. */
	assert_int_equal(b.nrepos, 3);
	assert_string_equal(b.repos[0].name, "r");
	assert_string_equal(b.repos[0].upstream, "ssh://h/r2.git");
	assert_string_equal(b.repos[0].deploy_key, "/k1");
	assert_string_equal(b.repos[0].known_hosts, "~/kh2");
	assert_non_null(strstr(b.repos[0].origin.path, "p2.md"));
	assert_string_equal(b.repos[1].name, "s");
	assert_string_equal(b.repos[1].upstream, "https://h/s2");
	assert_string_equal(b.repos[1].token_env, "S2_TOKEN");
	assert_null(b.repos[1].known_hosts);
	assert_string_equal(b.repos[2].deploy_key, "~/.ssh/t");
	/* scalars: last wins; image and containerfile are one choice. */
	assert_int_equal(b.supervise, 0);
	assert_null(b.image);
	assert_string_equal(b.containerfile, "/ctx/Containerfile");
	manifest_bottle_release(&b);

	/* Defaults when nobody says: supervise true, log blocks. */
	write_file(f, "home/bottles/bare.md", "---\n---\n");
	load_bottle(f, "bare", &b);
	assert_int_equal(b.supervise, 1);
	assert_false(b.log_set);
	assert_int_equal(b.log, ROUTES_LOG_BLOCKS);
	assert_int_equal(b.negress, 0);
	assert_null(b.image);
	manifest_bottle_release(&b);
}

static void test_credential_swap(void **state)
{
	struct manifest_bottle dst, src;

	(void)state;
	memset(&dst, 0, sizeof(dst));
	memset(&src, 0, sizeof(src));
	dst.supervise = src.supervise = -1;
	dst.repos = calloc(1, sizeof(*dst.repos));
	src.repos = calloc(1, sizeof(*src.repos));
	assert_non_null(dst.repos);
	assert_non_null(src.repos);
	dst.nrepos = src.nrepos = 1;
	dst.repos[0].name = strdup("r");
	dst.repos[0].upstream = strdup("git@h:r");
	dst.repos[0].deploy_key = strdup("/k");
	dst.repos[0].known_hosts = strdup("/kh");
	src.repos[0].name = strdup("r");
	src.repos[0].upstream = strdup("https://h/r");
	src.repos[0].token_env = strdup("T");
	src.image = strdup("img");
	dst.containerfile = strdup("/c");
	src.supervise = 1;
	assert_int_equal(manifest_bottle_merge(&dst, &src), 0);
	assert_null(dst.repos[0].deploy_key);
	/* The host key pin went with the ssh credential. */
	assert_null(dst.repos[0].known_hosts);
	assert_string_equal(dst.repos[0].token_env, "T");
	assert_string_equal(dst.repos[0].upstream, "https://h/r");
	assert_string_equal(dst.image, "img");
	assert_null(dst.containerfile);
	assert_int_equal(dst.supervise, 1);
	manifest_bottle_release(&dst);
	manifest_bottle_release(&src);
}

/* A shared grandparent is parsed once and its routes appear once, at the
 * place of its first (highest precedence) appearance. */
static void test_diamond(void **state)
{
	struct fixture *f = *state;
	struct manifest_bottle b;

	write_file(f, "home/bottles/base.md",
		   "---\nenv: {X: base}\negress: {routes: [{host: base.test}]}\n---\n");
	write_file(f, "home/bottles/left.md",
		   "---\nextends: base\nenv: {X: left}\negress: {routes: [{host: left.test}]}\n---\n");
	write_file(f, "home/bottles/right.md", "---\nextends: base\n---\n");
	write_file(f, "home/bottles/top.md", "---\nextends: [left, right]\n---\n");
	load_bottle(f, "top", &b);
	assert_string_equal(b.chain[0], "base");
	assert_string_equal(b.chain[1], "left");
	assert_string_equal(b.chain[2], "right");
	assert_string_equal(b.chain[3], "top");
	assert_null(b.chain[4]);
	assert_int_equal(b.negress, 2);
	assert_string_equal(b.egress[0].bottle, "base");
	assert_string_equal(b.egress[1].bottle, "left");
	/* Folded literally: right (which holds base's X) comes after left. */
	assert_string_equal(env_named(&b, "X")->value, "base");
	manifest_bottle_release(&b);
}

static void test_extends_errors(void **state)
{
	struct fixture *f = *state;

	write_file(f, "home/agents/a.md", "---\nbottle: one\nprovider: claude\n---\n");
	write_file(f, "home/bottles/one.md", "---\nextends: [two]\n---\n");
	write_file(f, "home/bottles/two.md", "---\nextends:\n  - three\n---\n");
	write_file(f, "home/bottles/three.md", "---\nextends: [ok, one]\n---\n");
	write_file(f, "home/bottles/ok.md", "---\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/three.md:2:15: extends: cycle: one -> two -> "
				   "three -> one");
	write_file(f, "home/bottles/three.md", "---\nextends: [ok, gone]\n---\n");
	expect_agent_error(f, "a",
			   "@/home/bottles/three.md:2:15: extends: no bottle named 'gone' (looked "
			   "for @/local/bottles/gone.md and @/home/bottles/gone.md)");
	write_file(f, "home/bottles/three.md", "---\nextends: three\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/three.md:2:10: extends: bottle 'three' extends "
				   "itself");
	/* A parse error anywhere in the graph is that file's. */
	write_file(f, "home/bottles/three.md", "---\nextends: ok\nsupervise: maybe\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/three.md:3:12: supervise: expected true or "
				   "false, got 'maybe'");
}

/* Lists of parents cannot make the work exponential: each bottle is read
 * once. */
static void test_wide_graph(void **state)
{
	struct fixture *f = *state;
	struct manifest_bottle b;
	char rel[64], text[128];
	int i;

	write_file(f, "home/bottles/l0.md", "---\negress: {routes: [{host: l0.test}]}\n---\n");
	for (i = 1; i < 40; i++) {
		snprintf(rel, sizeof(rel), "home/bottles/l%d.md", i);
		snprintf(text, sizeof(text), "---\nextends: [l%d, l%d]\n---\n", i - 1,
			 i > 1 ? i - 2 : 0);
		if (i == 1)
			snprintf(text, sizeof(text), "---\nextends: l0\n---\n");
		write_file(f, rel, text);
	}
	load_bottle(f, "l39", &b);
	assert_int_equal(b.negress, 1);
	manifest_bottle_release(&b);
	for (i = 40; i < 70; i++) {
		snprintf(rel, sizeof(rel), "home/bottles/l%d.md", i);
		snprintf(text, sizeof(text), "---\nextends: l%d\n---\n", i - 1);
		write_file(f, rel, text);
	}
	write_file(f, "home/agents/deep.md", "---\nbottle: l69\nprovider: claude\n---\n");
	{
		char err[1024];

		agent_error(f, "deep", err, sizeof(err));
		assert_non_null(strstr(err, "extends: more than 64 bottles in the extends graph"));
	}
}

/* Merging by name is linear per entry: a folded bottle is bounded. */
static void test_fold_bounds(void **state)
{
	struct fixture *f = *state;
	struct buf text;
	char rel[64], err[1024];
	int i, j;

	for (i = 0; i < 5; i++) {
		buf_init(&text, 1 << 20);
		buf_appendf(&text, "---\n");
		if (i > 0)
			buf_appendf(&text, "extends: b%d\n", i - 1);
		buf_appendf(&text, "env:\n");
		for (j = 0; j < 1000; j++)
			buf_appendf(&text, "  V%d_%d: x\n", i, j);
		buf_appendf(&text, "---\n");
		snprintf(rel, sizeof(rel), "home/bottles/b%d.md", i);
		write_file(f, rel, text.p);
		buf_release(&text);
	}
	write_file(f, "home/agents/a.md", "---\nbottle: b4\nprovider: claude\n---\n");
	assert_int_equal(agent_error(f, "a", err, sizeof(err)), -E2BIG);
	assert_string_equal(err, "@/home/bottles/b4.md:1:1: extends: the folded bottle holds more "
				 "than 4096 env variables or 1000 repos");
	write_file(f, "home/agents/a.md", "---\nbottle: b3\nprovider: claude\n---\n");
	{
		struct manifest_agent a;

		load_agent(f, "a", &a);
		assert_int_equal(a.bottle.nenv, 4000);
		manifest_agent_release(&a);
	}
}

/* ---- checks on the folded bottle ---- */

static void test_repo_checks(void **state)
{
	struct fixture *f = *state;

	write_file(f, "home/agents/a.md", "---\nbottle: b\nprovider: claude\n---\n");
	write_file(f, "home/bottles/parent.md",
		   "---\ngit: {repos: [{name: r, upstream: 'git@h:r', deploy_key: /k, known_hosts: /kh}]}\n---\n");
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - name: x\n      deploy_key: /k\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:7: git.repos.x.upstream: missing: give "
				   "the URL here or in a bottle this one extends");
	write_file(f, "home/bottles/parent.md",
		   "---\ngit: {repos: [{name: r, upstream: 'git@h:r', known_hosts: /kh}]}\n---\n");
	/* A child completes what its parent started. */
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - name: r\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:7: git.repos.r: no credential: give "
				   "deploy_key: PATH (the private key of a deploy key)");
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - {name: r, token_env: T}\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:7: git.repos.r.token_env: an ssh "
				   "upstream takes deploy_key; a token needs an https upstream");
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - {name: r, upstream: 'https://h/r', "
		   "deploy_key: /k}\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:7: git.repos.r.deploy_key: an https "
				   "upstream takes token_env; a deploy key needs an ssh upstream");
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - {name: r, upstream: 'https://h/r', "
		   "token_env: T, known_hosts: /kh}\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:69: git.repos[0].known_hosts: pins an ssh "
				   "host: it goes with deploy_key, not token_env");
	/* A token inherited with a pin written on top: the pin does not fit. */
	write_file(f, "home/bottles/parent.md",
		   "---\ngit: {repos: [{name: r, upstream: 'https://h/r', token_env: T}]}\n---\n");
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - {name: r, known_hosts: /kh}\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:7: git.repos.r.known_hosts: an https "
				   "upstream is checked with certificates; known_hosts pins an ssh host");
	/* An ssh upstream without a pin. */
	write_file(f, "home/bottles/parent.md",
		   "---\ngit: {repos: [{name: r, upstream: 'git@h:r'}]}\n---\n");
	write_file(f, "home/bottles/b.md",
		   "---\nextends: parent\ngit:\n  repos:\n    - {name: r, deploy_key: /k}\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:5:7: git.repos.r.known_hosts: missing: an "
				   "ssh upstream needs the server's host key pinned (a known_hosts "
				   "file: ssh-keyscan -t ecdsa,rsa HOST > FILE)");
	/* The parent's pin and the child's key make one credential. */
	write_file(f, "home/bottles/parent.md",
		   "---\ngit: {repos: [{name: r, upstream: 'git@h:r', known_hosts: /kh}]}\n---\n");
	{
		struct manifest_agent a;

		load_agent(f, "a", &a);
		assert_string_equal(a.bottle.repos[0].upstream, "git@h:r");
		assert_string_equal(a.bottle.repos[0].deploy_key, "/k");
		assert_string_equal(a.bottle.repos[0].known_hosts, "/kh");
		manifest_agent_release(&a);
	}
}

/* The agent holds placeholders; egress and the gate hold the credentials. */
static void test_credential_guard(void **state)
{
	struct fixture *f = *state;

	write_file(f, "home/agents/a.md", "---\nbottle: b\nprovider: claude\n---\n");
	write_file(f, "home/agents/c.md", "---\nbottle: b\nprovider: codex\n---\n");
	write_file(f, "home/bottles/b.md", "---\nenv:\n  ANTHROPIC_API_KEY: sk-literal\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:3:3: env.ANTHROPIC_API_KEY: egress injects "
				   "the claude key on requests to api.anthropic.com: the agent gets a "
				   "placeholder, not the key; remove it");
	write_file(f, "home/bottles/b.md", "---\nenv:\n  KEY: ${OPENAI_API_KEY}\n---\n");
	expect_agent_error(f, "c", "@/home/bottles/b.md:3:3: env.KEY: ${OPENAI_API_KEY} is a "
				   "credential the sidecar holds for the agent (an injected API key "
				   "or a git token): the agent must not see it");
	write_file(f, "home/bottles/b.md",
		   "---\nenv:\n  GH: ${GH_PUSH}\ngit:\n  repos: [{name: r, upstream: 'https://h/r', "
		   "token_env: GH_PUSH}]\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:3:3: env.GH: ${GH_PUSH} is a credential "
				   "the sidecar holds for the agent (an injected API key or a git "
				   "token): the agent must not see it");
	write_file(f, "home/bottles/b.md",
		   "---\nenv:\n  X: ${SVC_KEY}\negress:\n  routes:\n    - host: svc.test\n      auth: "
		   "{header: x-key, env: SVC_KEY}\n---\n");
	expect_agent_error(f, "a", "@/home/bottles/b.md:3:3: env.X: ${SVC_KEY} is a credential the "
				   "sidecar holds for the agent (an injected API key or a git token): "
				   "the agent must not see it");
	/* The other provider's variable is an ordinary one. */
	write_file(f, "home/bottles/b.md", "---\nenv:\n  OPENAI_API_KEY: ${OPENAI_API_KEY}\n---\n");
	{
		struct manifest_agent a;

		load_agent(f, "a", &a);
		assert_string_equal(a.bottle.env[0].host_var, "OPENAI_API_KEY");
		manifest_agent_release(&a);
	}
}

/* ---- rendering ---- */

static struct routes *render_and_load(struct manifest_agent *a)
{
	struct routes *r = NULL;
	struct buf text;
	char err[512];

	buf_init(&text, 1 << 20);
	assert_int_equal(render_routes(a, &text), 0);
	if (routes_load_string("routes.yaml", text.p, text.len, &r, err, sizeof(err)) < 0)
		fail_msg("rendered routes do not load: %s\n%s", err, text.p);
	buf_release(&text);
	return r;
}

static bool allowed(const struct routes *r, const char *host, const char *path)
{
	struct routes_request req = {
		.host = str_from_cstr(host),
		.port = 443,
		.method = STR_LITERAL("GET"),
		.path = str_from_cstr(path),
		.query = STR_LITERAL(""),
	};
	static struct http1_fields none;
	struct route_decision d;

	req.fields = &none;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	return d.allowed;
}

static void test_render_routes(void **state)
{
	struct fixture *f = *state;
	struct manifest_agent a;
	struct routes *r;

	write_file(f, "home/bottles/base.md",
		   "---\negress:\n  log: all\n  routes:\n    - host: github.com\n      ports: [443]\n"
		   "    - host: '*.githubusercontent.com'\n      tls_passthrough: true\n---\n");
	write_file(f, "home/bottles/dev.md",
		   "---\nextends: base\negress:\n  routes:\n    - host: registry.npmjs.org\n"
		   "      matches: [{path_prefix: /pkg, methods: [GET]}]\n"
		   "      outbound_on_match: block\n---\n");
	write_file(f, "home/agents/cl.md", "---\nbottle: dev\nprovider: claude\n---\n");
	write_file(f, "home/agents/cx.md", "---\nbottle: dev\nprovider: codex\n---\n");
	write_file(f, "home/agents/cu.md", "---\nbottle: dev\nprovider: {image: x}\n---\n");

	load_agent(f, "cl", &a);
	r = render_and_load(&a);
	assert_int_equal(r->log, ROUTES_LOG_ALL);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->v[0].host, "api.anthropic.com");
	assert_int_equal(r->v[0].nports, 1);
	assert_int_equal(r->v[0].ports[0], 443);
	assert_non_null(r->v[0].auth);
	assert_string_equal(r->v[0].auth->header, "x-api-key");
	assert_null(r->v[0].auth->scheme);
	assert_string_equal(r->v[0].auth->env, "ANTHROPIC_API_KEY");
	assert_string_equal(r->v[1].host, "registry.npmjs.org");
	assert_int_equal(r->v[1].outbound_on_match, ROUTE_OUTBOUND_BLOCK);
	assert_string_equal(r->v[2].host, "github.com");
	assert_true(r->v[3].wildcard);
	assert_true(r->v[3].tls_passthrough);
	assert_true(allowed(r, "api.anthropic.com", "/v1/messages"));
	assert_true(allowed(r, "registry.npmjs.org", "/pkg/x"));
	assert_false(allowed(r, "registry.npmjs.org", "/other"));
	assert_true(allowed(r, "github.com", "/me/repo"));
	assert_false(allowed(r, "example.com", "/"));
	routes_unref(r);
	manifest_agent_release(&a);

	load_agent(f, "cx", &a);
	r = render_and_load(&a);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->v[0].host, "api.openai.com");
	assert_string_equal(r->v[0].auth->header, "Authorization");
	assert_string_equal(r->v[0].auth->scheme, "Bearer");
	assert_string_equal(r->v[0].auth->env, "OPENAI_API_KEY");
	routes_unref(r);
	manifest_agent_release(&a);

	load_agent(f, "cu", &a);
	r = render_and_load(&a);
	assert_int_equal(r->n, 3);
	assert_string_equal(r->v[0].host, "registry.npmjs.org");
	routes_unref(r);
	manifest_agent_release(&a);

	/* No egress at all: the provider's route only, log blocks. */
	write_file(f, "home/bottles/dev.md", "---\n---\n");
	load_agent(f, "cl", &a);
	r = render_and_load(&a);
	assert_int_equal(r->n, 1);
	assert_int_equal(r->log, ROUTES_LOG_BLOCKS);
	routes_unref(r);
	manifest_agent_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_default_dirs),
		cmocka_unit_test_setup_teardown(test_local_overrides_home_per_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_builtin_demo, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold_order_and_every_rule, setup, teardown),
		cmocka_unit_test(test_credential_swap),
		cmocka_unit_test_setup_teardown(test_diamond, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extends_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wide_graph, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fold_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repo_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credential_guard, setup, teardown),
		cmocka_unit_test_setup_teardown(test_render_routes, setup, teardown),
	};

	return cmocka_run_group_tests_name("manifest_resolve", tests, NULL, NULL);
}

/* One manifest file at a time: the frontmatter split (LF, CRLF, BOM), every
 * key of agents and bottles read or refused with file:line:col and the key,
 * and a bottle's egress checked by the routes loader at the manifest's own
 * positions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../host/manifest.h"

static int parse_bottle(const char *text, struct manifest_layer *layer, char *err, size_t len)
{
	return manifest_parse_bottle("b", "b.md", text, strlen(text), layer, err, len);
}

static void load_bottle(const char *text, struct manifest_layer *layer)
{
	char err[1024];

	if (parse_bottle(text, layer, err, sizeof(err)) < 0)
		fail_msg("bottle failed: %s\nfor:\n%s", err, text);
	assert_string_equal(err, "");
}

/* A failure whose message starts with `position` and holds `part`; the
 * layer must come back empty. */
static void bottle_error(const char *text, const char *position, const char *part)
{
	struct manifest_layer layer;
	char err[1024];
	int ret = parse_bottle(text, &layer, err, sizeof(err));

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d (%s) for:\n%s", ret, err, text);
	assert_null(layer.b.name);
	assert_null(layer.b.env);
	assert_null(layer.extends);
	if (strncmp(err, position, strlen(position)) != 0 || !strstr(err, part))
		fail_msg("expected a message at '%s' with '%s', got\n  %s\nfor:\n%s", position,
			 part, err, text);
}

static int parse_agent(const char *text, struct manifest_agent *a, char *err, size_t len)
{
	return manifest_parse_agent("a", "a.md", text, strlen(text), a, err, len);
}

static void agent_error(const char *text, const char *position, const char *part)
{
	struct manifest_agent a;
	char err[1024];
	int ret = parse_agent(text, &a, err, sizeof(err));

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d (%s) for:\n%s", ret, err, text);
	assert_null(a.name);
	assert_null(a.bottle_name);
	if (strncmp(err, position, strlen(position)) != 0 || !strstr(err, part))
		fail_msg("expected a message at '%s' with '%s', got\n  %s\nfor:\n%s", position,
			 part, err, text);
}

/* ---- frontmatter ---- */

static void expect_split(const char *text, size_t yaml_len, const char *body)
{
	size_t got_yaml = 0, got_body = 0;
	char err[256];

	assert_int_equal(manifest_split("f", text, strlen(text), &got_yaml, &got_body, err,
					sizeof(err)),
			 0);
	assert_int_equal(got_yaml, yaml_len);
	assert_string_equal(text + got_body, body);
}

static void test_split(void **state)
{
	size_t y, b;
	char err[256];

	(void)state;
	expect_split("---\na: 1\n---\nbody\n", 9, "body\n");
	expect_split("---\r\na: 1\r\n---\r\nbody\r\n", 11, "body\r\n");
	expect_split("\xef\xbb\xbf---\na: 1\n---\nx", 12, "x");
	expect_split("---  \na: 1\n--- \t\n", 11, "");
	expect_split("---\na: 1\n---", 9, "");
	expect_split("---\n---\n", 4, "");
	/* Only a line of its own closes: "----" and "--- x" are YAML. */
	expect_split("---\na: |\n  ----\n  --- x\n---\nb", 24, "b");
	/* The first closing line ends it; a later one is body. */
	expect_split("---\na: 1\n---\n---\n", 9, "---\n");

	assert_int_equal(manifest_split("f", "a: 1\n", 5, &y, &b, err, sizeof(err)), -ENODATA);
	assert_int_equal(manifest_split("f", "", 0, &y, &b, err, sizeof(err)), -ENODATA);
	assert_int_equal(manifest_split("f", " ---\n---\n", 9, &y, &b, err, sizeof(err)), -ENODATA);
	assert_int_equal(manifest_split("f", "---x\n---\n", 9, &y, &b, err, sizeof(err)), -ENODATA);
	assert_int_equal(manifest_split("f", "---\na: 1\n", 9, &y, &b, err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f:1:1: frontmatter: the '---' line opening it has no closing "
				 "'---' line: end the YAML keys with a line holding only '---'");
}

static void test_no_frontmatter(void **state)
{
	(void)state;
	agent_error("You are a helpful agent.\n", "a.md:1:1: frontmatter: missing: ",
		    "start the file with a line '---', then the YAML keys (bottle: NAME and "
		    "provider: claude), then a line '---'");
	bottle_error("env: {A: b}\n", "b.md:1:1: frontmatter: missing: ", "extends, env, egress");
	agent_error("---\nbottle: x\n", "a.md:1:1: frontmatter: ", "no closing '---' line");
	agent_error("---\n---\nprompt\n", "a.md:1:1: frontmatter: empty: ", "bottle: NAME");
	agent_error("---\n- a\n---\n", "a.md:2:1: frontmatter: ", "expected a mapping");
	agent_error("---\na: [\n---\n", "a.md:", "flow");
}

/* ---- agents ---- */

static void test_agent(void **state)
{
	struct manifest_agent a;
	char err[256];
	static const char text[] = "---\r\n"
				   "name: reviewer\r\n"
				   "description: Reviews code\r\n"
				   "model: opus\r\n"
				   "color: blue\r\n"
				   "tools: [Read, Grep]\r\n"
				   "x-anything: {nested: [1, 2]}\r\n"
				   "bottle: dev-1\r\n"
				   "provider: codex\r\n"
				   "---\r\n"
				   "You review.\r\n\r\nCarefully.\r\n";

	(void)state;
	assert_int_equal(parse_agent(text, &a, err, sizeof(err)), 0);
	assert_string_equal(a.name, "a");
	assert_string_equal(a.path, "a.md");
	assert_string_equal(a.bottle_name, "dev-1");
	assert_int_equal(a.bottle_line, 8);
	assert_int_equal(a.bottle_column, 9);
	assert_int_equal(a.provider, MANIFEST_PROVIDER_CODEX);
	assert_null(a.provider_image);
	assert_string_equal(a.prompt, "You review.\r\n\r\nCarefully.\r\n");
	assert_int_equal(a.prompt_len, strlen(a.prompt));
	manifest_agent_release(&a);

	assert_int_equal(parse_agent("---\nbottle: b\nprovider: claude\n---\n", &a, err,
				     sizeof(err)),
			 0);
	assert_int_equal(a.provider, MANIFEST_PROVIDER_CLAUDE);
	assert_string_equal(a.prompt, "");
	manifest_agent_release(&a);

	assert_int_equal(parse_agent("---\nbottle: b\nprovider:\n  image: "
				     "ghcr.io/me/agent:1.2@sha256:ab\n  command: [agent, --yes, ''"
				     "]\n---\n",
				     &a, err, sizeof(err)),
			 0);
	assert_int_equal(a.provider, MANIFEST_PROVIDER_CUSTOM);
	assert_string_equal(a.provider_image, "ghcr.io/me/agent:1.2@sha256:ab");
	assert_string_equal(a.provider_command[0], "agent");
	assert_string_equal(a.provider_command[1], "--yes");
	assert_string_equal(a.provider_command[2], "");
	assert_null(a.provider_command[3]);
	manifest_agent_release(&a);

	/* The body is kept byte for byte, NUL included. */
	assert_int_equal(manifest_parse_agent("a", "a.md", "---\nbottle: b\nprovider: claude\n---\nx\0y",
					      38, &a, err, sizeof(err)),
			 0);
	assert_int_equal(a.prompt_len, 3);
	assert_memory_equal(a.prompt, "x\0y", 4);
	manifest_agent_release(&a);

	assert_int_equal(parse_agent("---\nbottle: b\nprovider: {image: busybox}\n---\n", &a, err,
				     sizeof(err)),
			 0);
	assert_null(a.provider_command);
	manifest_agent_release(&a);
}

static void test_agent_errors(void **state)
{
	(void)state;
	agent_error("---\nname: x\nprovider: claude\n---\n", "a.md:2:1: bottle: missing: ",
		    "bottle: NAME");
	agent_error("---\nbottle: b\n---\n", "a.md:2:1: provider: missing: ",
		    "provider: claude, provider: codex");
	agent_error("---\nbottle: Dev\nprovider: claude\n---\n", "a.md:2:9: bottle: ",
		    "'Dev' is not a bottle name");
	agent_error("---\nbottle: -x\nprovider: claude\n---\n", "a.md:2:9: bottle: ",
		    "not a bottle name");
	agent_error("---\nbottle: ''\nprovider: claude\n---\n", "a.md:2:9: bottle: ",
		    "must not be empty");
	agent_error("---\nbottle: [a]\nprovider: claude\n---\n", "a.md:2:9: bottle: ",
		    "expected a scalar");
	agent_error("---\nbottle: a\nbottle: b\nprovider: claude\n---\n", "a.md:3:1: bottle: ",
		    "given twice");
	agent_error("---\nbottle: a\nprovider: gemini\n---\n", "a.md:3:11: provider: ",
		    "'gemini' is not claude or codex");
	agent_error("---\nbottle: a\nprovider: {command: [x]}\n---\n", "a.md:3:11: provider: ",
		    "missing key 'image'");
	agent_error("---\nbottle: a\nprovider: {image: x, cmd: [x]}\n---\n", "a.md:3:22: provider: ",
		    "unknown key 'cmd'");
	agent_error("---\nbottle: a\nprovider: {image: --privileged}\n---\n",
		    "a.md:3:19: provider.image: ", "not an image reference");
	agent_error("---\nbottle: a\nprovider: {image: x, command: []}\n---\n",
		    "a.md:3:31: provider.command: ", "give 1 to 256 arguments");
	agent_error("---\nbottle: a\nprovider: {image: x, command: ['']}\n---\n",
		    "a.md:3:31: provider.command[0]: ", "the program must not be empty");
	agent_error("---\nbottle: a\nprovider: {image: x, command: [[1]]}\n---\n",
		    "a.md:3:32: provider.command[0]: ", "expected a scalar");
}

/* ---- bottles ---- */

static void test_bottle_every_key(void **state)
{
	struct manifest_layer layer;
	static const char text[] = "---\n"
				   "extends: [base, py-3]\n"
				   "env:\n"
				   "  LANG: C.UTF-8\n"
				   "  EMPTY: ''\n"
				   "  TOKEN: ${HOST_TOKEN}\n"
				   "  PRICE: $5 and $HOME\n"
				   "egress:\n"
				   "  log: all\n"
				   "  routes:\n"
				   "    - host: example.com\n"
				   "git:\n"
				   "  user: {name: Agent Smith, email: smith@example.com}\n"
				   "  repos:\n"
				   "    - name: app\n"
				   "      upstream: git@github.com:me/app.git\n"
				   "      deploy_key: ~/.ssh/app\n"
				   "      known_hosts: /etc/ssh/github_known_hosts\n"
				   "    - name: lib.x_y-z\n"
				   "      upstream: https://github.com/me/lib\n"
				   "      token_env: LIB_TOKEN\n"
				   "    - name: partial\n"
				   "supervise: false\n"
				   "image: docker.io/library/node:22\n"
				   "---\n"
				   "Notes for humans.\n";

	(void)state;
	load_bottle(text, &layer);
	assert_string_equal(layer.b.name, "b");
	assert_string_equal(layer.extends[0], "base");
	assert_string_equal(layer.extends[1], "py-3");
	assert_null(layer.extends[2]);
	assert_int_equal(layer.extends_line[1], 2);
	assert_int_equal(layer.extends_column[1], 17);
	assert_int_equal(layer.b.nenv, 4);
	assert_string_equal(layer.b.env[0].name, "LANG");
	assert_string_equal(layer.b.env[0].value, "C.UTF-8");
	assert_null(layer.b.env[0].host_var);
	assert_string_equal(layer.b.env[1].value, "");
	assert_null(layer.b.env[2].value);
	assert_string_equal(layer.b.env[2].host_var, "HOST_TOKEN");
	assert_string_equal(layer.b.env[2].origin.path, "b.md");
	assert_int_equal(layer.b.env[2].origin.line, 6);
	assert_string_equal(layer.b.env[3].value, "$5 and $HOME");
	assert_int_equal(layer.b.negress, 1);
	assert_string_equal(layer.b.egress[0].bottle, "b");
	assert_int_equal(layer.b.egress[0].routes->n, 1);
	assert_string_equal(layer.b.egress[0].routes->v[0].host, "example.com");
	/* Positions inside egress are the manifest's. */
	assert_int_equal(layer.b.egress[0].routes->v[0].line, 11);
	assert_true(layer.b.log_set);
	assert_int_equal(layer.b.log, ROUTES_LOG_ALL);
	assert_string_equal(layer.b.git_user_name, "Agent Smith");
	assert_string_equal(layer.b.git_user_email, "smith@example.com");
	assert_int_equal(layer.b.nrepos, 3);
	assert_string_equal(layer.b.repos[0].deploy_key, "~/.ssh/app");
	assert_null(layer.b.repos[0].token_env);
	assert_string_equal(layer.b.repos[0].known_hosts, "/etc/ssh/github_known_hosts");
	assert_null(layer.b.repos[1].known_hosts);
	assert_string_equal(layer.b.repos[1].name, "lib.x_y-z");
	assert_string_equal(layer.b.repos[1].token_env, "LIB_TOKEN");
	assert_null(layer.b.repos[2].upstream);
	assert_int_equal(layer.b.supervise, 0);
	assert_string_equal(layer.b.image, "docker.io/library/node:22");
	assert_null(layer.b.containerfile);
	manifest_layer_release(&layer);

	/* An empty frontmatter is a bottle that sets nothing. */
	load_bottle("---\n---\n", &layer);
	assert_null(layer.extends);
	assert_int_equal(layer.b.supervise, -1);
	assert_false(layer.b.log_set);
	assert_int_equal(layer.b.negress, 0);
	manifest_layer_release(&layer);

	load_bottle("---\nextends: base\nsupervise: true\negress: {routes: []}\n---\n", &layer);
	assert_string_equal(layer.extends[0], "base");
	assert_null(layer.extends[1]);
	assert_int_equal(layer.b.supervise, 1);
	assert_false(layer.b.log_set); /* absent: a parent's log stays */
	assert_int_equal(layer.b.egress[0].routes->n, 0);
	manifest_layer_release(&layer);
}

static void test_containerfile(void **state)
{
	struct manifest_layer layer;
	char err[256], cwd[4096], expected[4200];

	(void)state;
	assert_int_equal(manifest_parse_bottle("b", "/etc/bottles/b.md",
					       "---\ncontainerfile: ctx/Containerfile\n---\n", 42,
					       &layer, err, sizeof(err)),
			 0);
	assert_string_equal(layer.b.containerfile, "/etc/bottles/ctx/Containerfile");
	manifest_layer_release(&layer);
	assert_int_equal(manifest_parse_bottle("b", "/etc/bottles/b.md",
					       "---\ncontainerfile: /srv/Cf\n---\n", 30, &layer, err,
					       sizeof(err)),
			 0);
	assert_string_equal(layer.b.containerfile, "/srv/Cf");
	manifest_layer_release(&layer);
	/* Relative file names are made absolute against the working directory. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(manifest_parse_bottle("b", "./.bottle/bottles/b.md",
					       "---\ncontainerfile: Cf\n---\n", 25, &layer, err,
					       sizeof(err)),
			 0);
	snprintf(expected, sizeof(expected), "%s/.bottle/bottles/Cf", cwd);
	assert_string_equal(layer.b.containerfile, expected);
	manifest_layer_release(&layer);
}

static void test_bottle_errors(void **state)
{
	(void)state;
	bottle_error("---\nenvs: {}\n---\n", "b.md:2:1: frontmatter: ",
		     "unknown key 'envs' (allowed: extends, env, egress, git, supervise, image, "
		     "containerfile)");
	bottle_error("---\nenv: {}\nenv: {}\n---\n", "b.md:3:1: frontmatter: ", "key 'env' given twice");
	/* extends */
	bottle_error("---\nextends: []\n---\n", "b.md:2:10: extends: ", "empty list");
	bottle_error("---\nextends: b\n---\n", "b.md:2:10: extends: ", "bottle 'b' extends itself");
	bottle_error("---\nextends: [a, b]\n---\n", "b.md:2:14: extends[1]: ", "extends itself");
	bottle_error("---\nextends: [a, a]\n---\n", "b.md:2:14: extends[1]: ", "'a' listed twice");
	bottle_error("---\nextends: Base\n---\n", "b.md:2:10: extends: ", "'Base' is not a bottle name");
	bottle_error("---\nextends: {a: 1}\n---\n", "b.md:2:10: extends: ", "expected a scalar");
	bottle_error("---\nextends: [a, [b]]\n---\n", "b.md:2:14: extends[1]: ", "expected a scalar");
	/* env */
	bottle_error("---\nenv: [A]\n---\n", "b.md:2:6: env: ", "expected a mapping");
	bottle_error("---\nenv:\n  1A: x\n---\n", "b.md:3:3: env: ", "'1A' is not a variable name");
	bottle_error("---\nenv:\n  A-B: x\n---\n", "b.md:3:3: env: ", "not a variable name");
	bottle_error("---\nenv:\n  A: x\n  A: y\n---\n", "b.md:4:3: env.A: ", "given twice (first at line 3)");
	bottle_error("---\nenv:\n  A:\n---\n", "b.md:3:5: env.A: ", "no value: write '' for an empty string, or ${A}");
	bottle_error("---\nenv:\n  A: [x]\n---\n", "b.md:3:6: env.A: ", "expected a scalar");
	bottle_error("---\nenv:\n  A: pre-${B}\n---\n", "b.md:3:6: env.A: ", "whole value");
	bottle_error("---\nenv:\n  A: ${B-C}\n---\n", "b.md:3:6: env.A: ", "${NAME}");
	bottle_error("---\nenv:\n  A: ${}\n---\n", "b.md:3:6: env.A: ", "${NAME}");
	bottle_error("---\nenv:\n  A: ${B}${C}\n---\n", "b.md:3:6: env.A: ", "${NAME}");
	/* git */
	bottle_error("---\ngit: {users: {}}\n---\n", "b.md:2:7: git: ", "unknown key 'users'");
	bottle_error("---\ngit: {user: {name: 'A <a>'}}\n---\n", "b.md:2:20: git.user.name: ", "without '<' or '>'");
	bottle_error("---\ngit: {user: {email: nobody}}\n---\n", "b.md:2:21: git.user.email: ", "not an email address");
	bottle_error("---\ngit: {repos: {a: 1}}\n---\n", "b.md:2:14: git.repos: ", "expected a sequence");
	bottle_error("---\ngit:\n  repos:\n    - upstream: https://h/p\n---\n", "b.md:4:7: git.repos[0]: ", "missing key 'name'");
	bottle_error("---\ngit:\n  repos:\n    - name: .hidden\n---\n", "b.md:4:13: git.repos[0].name: ", "not a repository name");
	bottle_error("---\ngit:\n  repos:\n    - name: a/b\n---\n", "b.md:4:13: git.repos[0].name: ", "not a repository name");
	bottle_error("---\ngit:\n  repos:\n    - name: a\n    - name: a\n---\n", "b.md:5:13: git.repos[1].name: ", "repository 'a' listed twice");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, upstream: 'http://h/p'}\n---\n", "b.md:4:27: git.repos[0].upstream: ", "not https://, ssh://");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, upstream: 'file:///srv/x'}\n---\n", "b.md:4:27: git.repos[0].upstream: ", "not https://");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, upstream: 'https://t@h/p'}\n---\n", "b.md:4:27: git.repos[0].upstream: ", "holds credentials");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, upstream: 'https://h'}\n---\n", "b.md:4:27: git.repos[0].upstream: ", "needs a host and a repository path");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, upstream: 'h/x:y'}\n---\n", "b.md:4:27: git.repos[0].upstream: ", "is not https://host/path");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, upstream: 'h :p'}\n---\n", "b.md:4:27: git.repos[0].upstream: ", "holds a space");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, deploy_key: k, token_env: T}\n---\n", "b.md:4:7: git.repos[0]: ", "not both");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, deploy_key: keys/k}\n---\n", "b.md:4:29: git.repos[0].deploy_key: ", "absolute or start with ~/");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, known_hosts: kh}\n---\n", "b.md:4:30: git.repos[0].known_hosts: ", "a known_hosts file's path must be absolute or start with ~/");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, known_hosts: ''}\n---\n", "b.md:4:30: git.repos[0].known_hosts: ", "must not be empty");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, token_env: T, known_hosts: /kh}\n---\n", "b.md:4:44: git.repos[0].known_hosts: ", "pins an ssh host: it goes with deploy_key, not token_env");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, token_env: $T}\n---\n", "b.md:4:28: git.repos[0].token_env: ", "not a variable name");
	bottle_error("---\ngit:\n  repos:\n    - {name: a, tokenenv: T}\n---\n", "b.md:4:17: git.repos[0]: ", "unknown key 'tokenenv'");
	/* scalars */
	bottle_error("---\nsupervise: yes\n---\n", "b.md:2:12: supervise: ", "expected true or false, got 'yes'");
	bottle_error("---\nimage: 'a b'\n---\n", "b.md:2:8: image: ", "not an image reference");
	bottle_error("---\nimage: -v/:/host\n---\n", "b.md:2:8: image: ", "not an image reference");
	bottle_error("---\nimage: x\ncontainerfile: y\n---\n", "b.md:3:16: containerfile: ", "give image or containerfile, not both");
	bottle_error("---\ncontainerfile: ''\n---\n", "b.md:2:16: containerfile: ", "must not be empty");
}

/* The routes loader's messages at the manifest's lines and columns, with
 * the key under egress. */
static void test_egress_positions(void **state)
{
	(void)state;
	bottle_error("---\nenv: {A: b}\negress:\n  routes:\n    - host: 'x.com:80'\n---\n",
		     "b.md:5:13: egress.routes[0].host: ", "names a port");
	bottle_error("---\r\nenv: {A: b}\r\negress:\r\n  routes:\r\n    - host: a.com\r\n"
		     "      ports: [1, 1]\r\n---\r\n",
		     "b.md:6:18: egress.routes[0].ports[1]: ", "port 1 listed twice");
	bottle_error("\xef\xbb\xbf---\nenv: {A: b}\negress: {log: all, routes: [{host: a.com, "
		     "ports: [0]}]}\n---\n",
		     "b.md:3:51: egress.routes[0].ports[0]: ", "out of range");
	/* Non-ASCII before the section: columns count characters, as libyaml does. */
	bottle_error("---\n# \xc3\xa9t\xc3\xa9\nenv: {\"\xc3\x89\": x}\n---\n", "b.md:3:7: env: ",
		     "not a variable name");
	bottle_error("---\nenv: {A: \"\xc3\xa9\xc3\xa9\"}\negress: {routes: [{host: "
		     "\"\xc3\xbc.com\"}]}\n---\n",
		     "b.md:3:26: egress.routes[0].host: ", "not a valid host name");
	/* NEL ends a line for libyaml: the blanked copy keeps it. */
	bottle_error("---\n# c\xc2\x85" "egress:\n  routes:\n    - host: 'x:1'\n---\n",
		     "b.md:5:13: egress.routes[0].host: ", "names a port");
	bottle_error("---\negress:\n  log: loud\n  routes: []\n---\n", "b.md:3:8: egress.log: ",
		     "'loud' is not one of off, blocks, all");
	bottle_error("---\negress:\n  logs: all\n---\n", "b.md:3:3: egress: ",
		     "unknown key 'logs' (allowed: log, routes)");
	bottle_error("---\negress:\n  log: all\n---\n", "b.md:3:3: egress: ", "missing key 'routes'");
	bottle_error("---\negress: [a]\n---\n", "b.md:2:9: egress: ", "expected a mapping");
	bottle_error("---\negress:\n---\n", "b.md:2:8: egress: ", "empty: give a routes.yaml document");
	bottle_error("---\negress: &e\n  routes:\n  - host: [1]\n---\n",
		     "b.md:4:11: egress.routes[0].host: ", "expected a scalar");
	bottle_error("---\negress:\n  routes:\n    - host: a.com\n      matches:\n        - "
		     "path_regex: '(x'\n---\n",
		     "b.md:6:23: egress.routes[0].matches[0].path_regex: ", "missing closing parenthesis");
	/* An anchor outside the section is not visible inside it. */
	bottle_error("---\nenv: {A: &h a.com}\negress:\n  routes: [{host: *h}]\n---\n",
		     "b.md:4:19: egress: ", "undefined alias");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_no_frontmatter),
		cmocka_unit_test(test_agent),
		cmocka_unit_test(test_agent_errors),
		cmocka_unit_test(test_bottle_every_key),
		cmocka_unit_test(test_containerfile),
		cmocka_unit_test(test_bottle_errors),
		cmocka_unit_test(test_egress_positions),
	};

	return cmocka_run_group_tests_name("manifest_parse", tests, NULL, NULL);
}

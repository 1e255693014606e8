/* init's config: a full config reads as written, defaults fill the rest,
 * and every invalid case fails with its exact message and position. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/config_yaml.h"
#include "../../sidecar/init/init.h"

static int parse(struct init_config *config, struct config_yaml *cy, const char *text)
{
	config_yaml_init(cy);
	init_config_init(config);
	if (config_yaml_load_string(cy, "init.yaml", text, strlen(text)) < 0)
		return -1000; /* not a config error: a YAML one */
	return init_config_parse(config, cy);
}

/* Parse `text`, expect failure with exactly `message`. */
static void expect_error(const char *text, const char *message)
{
	struct init_config config;
	struct config_yaml cy;
	int ret = parse(&config, &cy, text);

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", ret, text);
	if (strcmp(config_yaml_message(&cy), message) != 0)
		fail_msg("expected message\n  %s\ngot\n  %s", message, config_yaml_message(&cy));
	/* A failed parse leaves nothing to free. */
	assert_int_equal(config.daemon_count, 0);
	assert_null(config.daemons);
	assert_null(config.control_socket);
	config_yaml_release(&cy);
}

static void test_full_config(void **state)
{
	struct init_config config;
	struct config_yaml cy;
	struct daemon_config *d;

	(void)state;
	assert_int_equal(parse(&config, &cy,
			       "grace_period: 2m\n"
			       "control_socket: /run/x/init.sock\n"
			       "daemons:\n"
			       "  - name: egress\n"
			       "    argv: [/bin/sidecar, egress, --config, /etc/sidecar/routes.yaml]\n"
			       "    env: {MODE: strict, EMPTY: ''}\n"
			       "    env_inherit: [HOME, TERM]\n"
			       "    user: '1000:2000'\n"
			       "    workdir: /var/lib/egress\n"
			       "    restart: on-failure\n"
			       "    ready_fd: 3\n"
			       "    reload_signal: SIGUSR1\n"
			       "    required: false\n"
			       "    backoff: {initial: 500ms, max: 1m}\n"
			       "    give_up: {failures: 7, within: 2m}\n"
			       "  - name: gitgate-2\n"
			       "    argv: [/bin/true]\n"
			       "    user: nobody\n"
			       "    restart: never\n"
			       "    reload_signal: TERM\n"),
			 0);
	assert_int_equal(config.grace_period_ms, 120000);
	assert_string_equal(config.control_socket, "/run/x/init.sock");
	assert_int_equal(config.daemon_count, 2);

	d = &config.daemons[0];
	assert_string_equal(d->name, "egress");
	assert_string_equal(d->argv[0], "/bin/sidecar");
	assert_string_equal(d->argv[3], "/etc/sidecar/routes.yaml");
	assert_null(d->argv[4]);
	assert_string_equal(d->env[0], "MODE=strict");
	assert_string_equal(d->env[1], "EMPTY=");
	assert_null(d->env[2]);
	assert_string_equal(d->env_inherit[0], "HOME");
	assert_string_equal(d->env_inherit[1], "TERM");
	assert_null(d->env_inherit[2]);
	assert_true(d->has_user);
	assert_int_equal(d->uid, 1000);
	assert_int_equal(d->gid, 2000);
	assert_int_equal(d->group_count, 0);
	assert_string_equal(d->workdir, "/var/lib/egress");
	assert_int_equal(d->restart, RESTART_ON_FAILURE);
	assert_int_equal(d->ready_fd, 3);
	assert_int_equal(d->reload_signal, SIGUSR1);
	assert_false(d->required);
	assert_int_equal(d->backoff_initial_ms, 500);
	assert_int_equal(d->backoff_max_ms, 60000);
	assert_int_equal(d->give_up_failures, 7);
	assert_int_equal(d->give_up_within_ms, 120000);

	d = &config.daemons[1];
	assert_string_equal(d->name, "gitgate-2");
	assert_true(d->has_user);
	assert_int_equal(d->uid, 65534);
	assert_int_equal(d->gid, 65534);
	assert_true(d->group_count >= 1); /* nobody's groups, from /etc/group */
	assert_int_equal(d->restart, RESTART_NEVER);
	assert_int_equal(d->reload_signal, SIGTERM);

	init_config_release(&config);
	assert_null(config.daemons);
	config_yaml_release(&cy);
}

static void test_defaults(void **state)
{
	struct init_config config;
	struct config_yaml cy;
	struct daemon_config *d;

	(void)state;
	assert_int_equal(parse(&config, &cy, "daemons:\n  - {name: a, argv: [/bin/a]}\n"), 0);
	assert_int_equal(config.grace_period_ms, 10000);
	assert_string_equal(config.control_socket, INIT_DEFAULT_SOCKET);
	assert_string_equal(config.control_socket, "/run/sidecar/init.sock");
	d = &config.daemons[0];
	assert_null(d->env);
	assert_null(d->env_inherit);
	assert_false(d->has_user);
	assert_string_equal(d->workdir, "/");
	assert_int_equal(d->restart, RESTART_ALWAYS);
	assert_int_equal(d->ready_fd, -1);
	assert_int_equal(d->reload_signal, SIGHUP);
	assert_true(d->required);
	assert_int_equal(d->backoff_initial_ms, 100);
	assert_int_equal(d->backoff_max_ms, 30000);
	assert_int_equal(d->give_up_failures, 5);
	assert_int_equal(d->give_up_within_ms, 60000);
	init_config_release(&config);
	config_yaml_release(&cy);
}

static void test_empty_daemon_list(void **state)
{
	struct init_config config;
	struct config_yaml cy;

	(void)state;
	assert_int_equal(parse(&config, &cy, "grace_period: 0\ndaemons: []\n"), 0);
	assert_int_equal(config.daemon_count, 0);
	assert_int_equal(config.grace_period_ms, 0);
	init_config_release(&config);
	config_yaml_release(&cy);
}

static void test_top_level_errors(void **state)
{
	(void)state;
	expect_error("daemons: []\nfoo: 1\n",
		     "init.yaml:2:1: config: unknown key 'foo' (allowed: grace_period, control_socket, daemons)");
	expect_error("grace_period: 10s\n", "init.yaml:1:1: config: missing key 'daemons'");
	expect_error("- a\n", "init.yaml:1:1: config: expected a mapping, got a sequence");
	expect_error("daemons: {}\n", "init.yaml:1:10: daemons: expected a sequence, got a mapping");
	expect_error("daemons:\n", "init.yaml:1:9: daemons: expected a sequence, got a scalar");
	expect_error("grace_period: soon\ndaemons: []\n",
		     "init.yaml:1:15: grace_period: expected a duration such as 500ms, 10s, 2m or 1h, got 'soon'");
	expect_error("grace_period: 2h\ndaemons: []\n",
		     "init.yaml:1:15: grace_period: 2h is out of range (0s to 1h)");
	expect_error("control_socket: init.sock\ndaemons: []\n",
		     "init.yaml:1:17: control_socket: must be an absolute path, got 'init.sock'");
	expect_error("control_socket: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n"
		     "daemons: []\n",
		     "init.yaml:1:17: control_socket: longer than 107 bytes");
	expect_error("daemons: []\ndaemons: []\n",
		     "init.yaml:2:1: config: key 'daemons' given twice (first at line 1)");
}

static void test_daemon_errors(void **state)
{
	(void)state;
	expect_error("daemons:\n  - name: a\n    argv: [/bin/a]\n    restrat: always\n",
		     "init.yaml:4:5: daemons[0]: unknown key 'restrat' (allowed: name, argv, env, "
		     "env_inherit, user, workdir, restart, ready_fd, reload_signal, required, "
		     "backoff, give_up)");
	expect_error("daemons:\n  - argv: [/bin/a]\n",
		     "init.yaml:2:5: daemons[0]: missing key 'name'");
	expect_error("daemons:\n  - name: a\n",
		     "init.yaml:2:5: daemons[0]: missing key 'argv'");
	expect_error("daemons:\n  - /bin/a\n",
		     "init.yaml:2:5: daemons[0]: expected a mapping, got a scalar");
	expect_error("daemons:\n  - name: Egress\n    argv: [/bin/a]\n",
		     "init.yaml:2:11: daemons[0].name: 'Egress' is not a daemon name (1 to 32 of a-z, 0-9 and -)");
	expect_error("daemons:\n  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n    argv: [/bin/a]\n",
		     "init.yaml:2:11: daemons[0].name: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' is not a daemon name (1 to 32 of a-z, 0-9 and -)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a]}\n  - {name: a, argv: [/bin/b]}\n",
		     "init.yaml:3:12: daemons[1].name: a daemon named 'a' is already listed");
	expect_error("daemons:\n  - name: a\n    argv: []\n",
		     "init.yaml:3:11: daemons[0].argv: must name a program to run");
	expect_error("daemons:\n  - name: a\n    argv: /bin/a\n",
		     "init.yaml:3:11: daemons[0].argv: expected a sequence, got a scalar");
	expect_error("daemons:\n  - name: a\n    argv: [sleep, 1]\n",
		     "init.yaml:3:12: daemons[0].argv[0]: must be an absolute path, got 'sleep'");
	expect_error("daemons:\n  - name: a\n    argv: [/bin/a, [x]]\n",
		     "init.yaml:3:20: daemons[0].argv[1]: expected a scalar, got a sequence");
}

static void test_daemon_value_errors(void **state)
{
	(void)state;
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], env: [A=1]}\n",
		     "init.yaml:2:36: daemons[0].env: expected a mapping, got a sequence");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], env: {1A: x}}\n",
		     "init.yaml:2:37: daemons[0].env: '1A' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], env: {A: {b: c}}}\n",
		     "init.yaml:2:40: daemons[0].env.A: expected a scalar, got a mapping");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], env: {A: x}, env_inherit: [A]}\n",
		     "init.yaml:2:58: daemons[0].env_inherit[0]: 'A' is both set in env and inherited");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], env_inherit: [B, B]}\n",
		     "init.yaml:2:48: daemons[0].env_inherit[1]: 'B' is listed twice");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], user: no-such-user-here}\n",
		     "init.yaml:2:37: daemons[0].user: no user 'no-such-user-here' in /etc/passwd");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], user: '1000:x'}\n",
		     "init.yaml:2:37: daemons[0].user: expected a user name or uid:gid, got '1000:x'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], user: root}\n",
		     "init.yaml:2:37: daemons[0].user: 'root' has uid 0 and gid 0: a daemon's user "
		     "must not be root or in root's group (leave user out to run as init's user)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], user: '0:1000'}\n",
		     "init.yaml:2:37: daemons[0].user: '0:1000' has uid 0 and gid 1000: a daemon's "
		     "user must not be root or in root's group (leave user out to run as init's "
		     "user)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], user: '1000:0'}\n",
		     "init.yaml:2:37: daemons[0].user: '1000:0' has uid 1000 and gid 0: a daemon's "
		     "user must not be root or in root's group (leave user out to run as init's "
		     "user)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], user: '-1:0'}\n",
		     "init.yaml:2:37: daemons[0].user: expected a user name or uid:gid, got '-1:0'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], workdir: var}\n",
		     "init.yaml:2:40: daemons[0].workdir: must be an absolute path, got 'var'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], restart: sometimes}\n",
		     "init.yaml:2:40: daemons[0].restart: expected always, on-failure or never, got 'sometimes'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], ready_fd: 2}\n",
		     "init.yaml:2:41: daemons[0].ready_fd: 2 is out of range (3 to 255)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], ready_fd: three}\n",
		     "init.yaml:2:41: daemons[0].ready_fd: expected an integer, got 'three'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], reload_signal: SIGFOO}\n",
		     "init.yaml:2:46: daemons[0].reload_signal: expected a signal name such as SIGHUP or SIGUSR1, got 'SIGFOO'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], required: yes}\n",
		     "init.yaml:2:41: daemons[0].required: expected true or false, got 'yes'");
}

static void test_backoff_and_give_up_errors(void **state)
{
	(void)state;
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], backoff: {initial: 1s, maximum: 2s}}\n",
		     "init.yaml:2:54: daemons[0].backoff: unknown key 'maximum' (allowed: initial, max)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], backoff: {initial: 0ms}}\n",
		     "init.yaml:2:50: daemons[0].backoff.initial: 0ms is out of range (1ms to 1h)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], backoff: {initial: 5s, max: 1s}}\n",
		     "init.yaml:2:59: daemons[0].backoff: max (1s) is shorter than initial (5s)");
	/* The default max (30s) is below an initial of 1m. */
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], backoff: {initial: 1m}}\n",
		     "init.yaml:2:40: daemons[0].backoff: max (30s) is shorter than initial (1m)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], give_up: {failures: 0}}\n",
		     "init.yaml:2:51: daemons[0].give_up.failures: 0 is out of range (1 to 100)");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], give_up: {within: forever}}\n",
		     "init.yaml:2:49: daemons[0].give_up.within: expected a duration such as 500ms, 10s, 2m or 1h, got 'forever'");
	expect_error("daemons:\n  - {name: a, argv: [/bin/a], give_up: 5}\n",
		     "init.yaml:2:40: daemons[0].give_up: expected a mapping, got a scalar");
}

static void test_errors_point_into_later_daemons(void **state)
{
	(void)state;
	expect_error("daemons:\n"
		     "  - name: one\n"
		     "    argv: [/bin/one]\n"
		     "  - name: two\n"
		     "    argv: [/bin/two]\n"
		     "    backoff:\n"
		     "      initial: 1s\n"
		     "      max: 10 minutes\n",
		     "init.yaml:8:12: daemons[1].backoff.max: expected a duration such as 500ms, 10s, 2m or 1h, got '10 minutes'");
}

static void test_env_values_stay_out_of_messages(void **state)
{
	struct init_config config;
	struct config_yaml cy;

	(void)state;
	/* A type error in env says where, never the value. */
	assert_int_equal(parse(&config, &cy,
			       "daemons:\n  - {name: a, argv: [/bin/a], env: {TOKEN: [sk-secret-value]}}\n"),
			 -EINVAL);
	assert_null(strstr(config_yaml_message(&cy), "sk-secret"));
	config_yaml_release(&cy);
}

static void test_signal_names(void **state)
{
	char scratch[32];

	(void)state;
	assert_int_equal(init_signal_from_name("SIGHUP"), SIGHUP);
	assert_int_equal(init_signal_from_name("HUP"), SIGHUP);
	assert_int_equal(init_signal_from_name("USR2"), SIGUSR2);
	assert_int_equal(init_signal_from_name("sighup"), -EINVAL);
	assert_int_equal(init_signal_from_name("SIG"), -EINVAL);
	assert_string_equal(init_signal_name(SIGKILL, scratch, sizeof(scratch)), "SIGKILL");
	assert_string_equal(init_signal_name(SIGSEGV, scratch, sizeof(scratch)), "SIGSEGV");
	assert_string_equal(init_signal_name(40, scratch, sizeof(scratch)), "signal 40");
}

static void test_load_missing_file(void **state)
{
	struct init_config config;
	struct config_yaml cy;

	(void)state;
	config_yaml_init(&cy);
	assert_int_equal(init_config_load(&config, &cy, "/nonexistent/init.yaml"), -ENOENT);
	assert_string_equal(config_yaml_message(&cy),
			    "unable to open '/nonexistent/init.yaml': No such file or directory");
	config_yaml_release(&cy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_config),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_daemon_list),
		cmocka_unit_test(test_top_level_errors),
		cmocka_unit_test(test_daemon_errors),
		cmocka_unit_test(test_daemon_value_errors),
		cmocka_unit_test(test_backoff_and_give_up_errors),
		cmocka_unit_test(test_errors_point_into_later_daemons),
		cmocka_unit_test(test_env_values_stay_out_of_messages),
		cmocka_unit_test(test_signal_names),
		cmocka_unit_test(test_load_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

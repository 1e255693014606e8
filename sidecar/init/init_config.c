/* init's config file (docs/init.md, "Configuration"): YAML into
 * struct init_config, every value checked, every error at file:line:col. */
#include "init.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "../../shared/config_yaml.h"

#define MS_PER_HOUR (60ull * 60 * 1000)

static const char *const top_keys[] = { "grace_period", "control_socket", "daemons", NULL };
static const char *const backoff_keys[] = { "initial", "max", NULL };
static const char *const give_up_keys[] = { "failures", "within", NULL };

static const struct {
	const char *name;
	int number;
} signal_names[] = {
	{ "HUP", SIGHUP },     { "INT", SIGINT },       { "QUIT", SIGQUIT },   { "ILL", SIGILL },
	{ "TRAP", SIGTRAP },   { "ABRT", SIGABRT },     { "BUS", SIGBUS },     { "FPE", SIGFPE },
	{ "KILL", SIGKILL },   { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },   { "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE },   { "ALRM", SIGALRM },     { "TERM", SIGTERM },   { "CHLD", SIGCHLD },
	{ "CONT", SIGCONT },   { "STOP", SIGSTOP },     { "TSTP", SIGTSTP },   { "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU },   { "URG", SIGURG },       { "XCPU", SIGXCPU },   { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },   { "WINCH", SIGWINCH }, { "IO", SIGIO },
	{ "PWR", SIGPWR },     { "SYS", SIGSYS },
};

#define SIGNAL_NAME_COUNT (sizeof(signal_names) / sizeof(signal_names[0]))

int init_signal_from_name(const char *name)
{
	size_t i;

	if (strncmp(name, "SIG", 3) == 0)
		name += 3;
	for (i = 0; i < SIGNAL_NAME_COUNT; i++)
		if (strcmp(name, signal_names[i].name) == 0)
			return signal_names[i].number;
	return -EINVAL;
}

const char *init_signal_name(int sig, char *scratch, size_t size)
{
	size_t i;

	for (i = 0; i < SIGNAL_NAME_COUNT; i++) {
		if (signal_names[i].number == sig) {
			snprintf(scratch, size, "SIG%s", signal_names[i].name);
			return scratch;
		}
	}
	snprintf(scratch, size, "signal %d", sig);
	return scratch;
}

const char *init_restart_policy_name(enum restart_policy policy)
{
	switch (policy) {
	case RESTART_ALWAYS:
		return "always";
	case RESTART_ON_FAILURE:
		return "on-failure";
	case RESTART_NEVER:
		return "never";
	}
	return "?";
}

static void strv_free(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

void init_config_init(struct init_config *config)
{
	memset(config, 0, sizeof(*config));
}

static void daemon_config_release(struct daemon_config *d)
{
	free(d->name);
	strv_free(d->argv);
	strv_free(d->env);
	strv_free(d->env_inherit);
	free(d->user);
	free(d->groups);
	free(d->workdir);
	memset(d, 0, sizeof(*d));
}

void init_config_release(struct init_config *config)
{
	size_t i;

	for (i = 0; i < config->daemon_count; i++)
		daemon_config_release(&config->daemons[i]);
	free(config->daemons);
	free(config->control_socket);
	init_config_init(config);
}

static int out_of_memory(struct config_yaml *cy)
{
	config_yaml_error(cy, NULL, "out of memory");
	return -ENOMEM;
}

static int copy_string(struct config_yaml *cy, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : out_of_memory(cy);
}

static bool valid_daemon_name(const char *s)
{
	size_t len = strlen(s), i;

	if (len < 1 || len > INIT_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

static bool valid_env_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static int parse_absolute_path(struct config_yaml *cy, const yaml_node_t *node,
			       const char *what, char **out)
{
	const char *s;
	int ret;

	ret = config_yaml_nonempty_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	if (s[0] != '/')
		return config_yaml_error(cy, node, "%s: must be an absolute path, got '%s'", what, s);
	return copy_string(cy, s, out);
}

static int parse_argv(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct daemon_config *d)
{
	char item_what[96];
	size_t i, n;
	const char *s;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n == 0)
		return config_yaml_error(cy, node, "%s: must name a program to run", what);
	d->argv = calloc(n + 1, sizeof(*d->argv));
	if (!d->argv)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = config_yaml_item(cy, node, i);

		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		ret = config_yaml_string(cy, item, item_what, &s);
		if (ret < 0)
			return ret;
		if (i == 0 && s[0] != '/')
			return config_yaml_error(cy, item, "%s: must be an absolute path, got '%s'",
						 item_what, s);
		ret = copy_string(cy, s, &d->argv[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_env(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		     struct daemon_config *d)
{
	yaml_node_t *key, *value;
	char pair_what[96];
	const char *k, *v;
	struct buf pair;
	size_t i, n;
	int ret;

	ret = config_yaml_expect_mapping(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	d->env = calloc(n + 1, sizeof(*d->env));
	if (!d->env)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		if (config_yaml_pair(cy, node, i, &key, &value) < 0)
			return config_yaml_error(cy, node, "%s: malformed mapping", what);
		ret = config_yaml_nonempty_string(cy, key, what, &k);
		if (ret < 0)
			return ret;
		if (!valid_env_name(k))
			return config_yaml_error(cy, key,
						 "%s: '%s' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
						 what, k);
		for (size_t j = 0; j < i; j++)
			if (strncmp(d->env[j], k, strlen(k)) == 0 && d->env[j][strlen(k)] == '=')
				return config_yaml_error(cy, key, "%s: '%s' is set twice", what, k);
		config_yaml_describe(pair_what, sizeof(pair_what), "%s.%s", what, k);
		/* The value may be a secret: only its type is checked, and it
		 * never appears in a message. */
		ret = config_yaml_string(cy, value, pair_what, &v);
		if (ret < 0)
			return ret;
		buf_init(&pair, (size_t)-1);
		if (buf_appendf(&pair, "%s=%s", k, v) < 0) {
			buf_release(&pair);
			return out_of_memory(cy);
		}
		d->env[i] = buf_detach(&pair, NULL);
		if (!d->env[i])
			return out_of_memory(cy);
	}
	return 0;
}

static bool env_sets(char **env, const char *name)
{
	size_t len = strlen(name), i;

	for (i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return true;
	return false;
}

static int parse_env_inherit(struct config_yaml *cy, const yaml_node_t *node,
			     const char *what, struct daemon_config *d)
{
	char item_what[96];
	size_t i, j, n;
	const char *s;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	d->env_inherit = calloc(n + 1, sizeof(*d->env_inherit));
	if (!d->env_inherit)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = config_yaml_item(cy, node, i);

		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		ret = config_yaml_nonempty_string(cy, item, item_what, &s);
		if (ret < 0)
			return ret;
		if (!valid_env_name(s))
			return config_yaml_error(cy, item,
						 "%s: '%s' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
						 item_what, s);
		if (env_sets(d->env, s))
			return config_yaml_error(cy, item,
						 "%s: '%s' is both set in env and inherited", item_what, s);
		for (j = 0; j < i; j++)
			if (strcmp(d->env_inherit[j], s) == 0)
				return config_yaml_error(cy, item, "%s: '%s' is listed twice",
							 item_what, s);
		ret = copy_string(cy, s, &d->env_inherit[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_id(const char *s, unsigned long *out)
{
	long long v;

	/* (uid_t)-1 means "unchanged" to setuid(): refuse it. */
	if (config_parse_integer(s, &v) < 0 || v < 0 || v >= 0xffffffffLL)
		return -EINVAL;
	*out = (unsigned long)v;
	return 0;
}

/* `user` exists to drop privileges: a daemon configured to run as root, or
 * with root's group (which can read root's group-readable files), is a
 * mistake that would silently keep them.  Leaving `user` out runs the
 * daemon as init's own user, which says so plainly. */
static int refuse_root(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       const struct daemon_config *d)
{
	if (d->uid == 0 || d->gid == 0)
		return config_yaml_error(cy, node,
					 "%s: '%s' has uid %u and gid %u: a daemon's user must not "
					 "be root or in root's group (leave user out to run as "
					 "init's user)",
					 what, d->user, (unsigned)d->uid, (unsigned)d->gid);
	return 0;
}

static int parse_user(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct daemon_config *d)
{
	const char *s, *colon;
	struct passwd *pw;
	unsigned long uid, gid;
	char uid_text[16];
	int ret, n;

	ret = config_yaml_nonempty_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	ret = copy_string(cy, s, &d->user);
	if (ret < 0)
		return ret;
	d->has_user = true;
	colon = strchr(s, ':');
	if (colon) {
		n = snprintf(uid_text, sizeof(uid_text), "%.*s", (int)(colon - s), s);
		if (n < 0 || (size_t)n >= sizeof(uid_text) || parse_id(uid_text, &uid) < 0 ||
		    parse_id(colon + 1, &gid) < 0)
			return config_yaml_error(cy, node,
						 "%s: expected a user name or uid:gid, got '%s'", what, s);
		d->uid = (uid_t)uid;
		d->gid = (gid_t)gid;
		/* no supplementary groups */
		return refuse_root(cy, node, what, d);
	}
	errno = 0;
	pw = getpwnam(s);
	if (!pw)
		return config_yaml_error(cy, node, "%s: no user '%s' in /etc/passwd%s%s", what, s,
					 errno ? ": " : "", errno ? strerror(errno) : "");
	d->uid = pw->pw_uid;
	d->gid = pw->pw_gid;
	ret = refuse_root(cy, node, what, d);
	if (ret < 0)
		return ret;
	n = 16;
	for (;;) {
		int want = n;
		gid_t *groups = realloc(d->groups, (size_t)n * sizeof(*groups));

		if (!groups)
			return out_of_memory(cy);
		d->groups = groups;
		if (getgrouplist(s, d->gid, d->groups, &want) >= 0) {
			d->group_count = (size_t)want;
			break;
		}
		if (want <= n || want > 65536)
			return config_yaml_error(cy, node, "%s: unable to list the groups of '%s'",
						 what, s);
		n = want;
	}
	return 0;
}

static int parse_restart(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct daemon_config *d)
{
	enum restart_policy *out = &d->restart;
	const char *s;
	int ret;

	ret = config_yaml_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	if (strcmp(s, "always") == 0)
		*out = RESTART_ALWAYS;
	else if (strcmp(s, "on-failure") == 0)
		*out = RESTART_ON_FAILURE;
	else if (strcmp(s, "never") == 0)
		*out = RESTART_NEVER;
	else
		return config_yaml_error(cy, node,
					 "%s: expected always, on-failure or never, got '%.40s'", what, s);
	return 0;
}

static int parse_reload_signal(struct config_yaml *cy, const yaml_node_t *node,
			       const char *what, struct daemon_config *d)
{
	int *out = &d->reload_signal;
	const char *s;
	int ret, sig;

	ret = config_yaml_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	sig = init_signal_from_name(s);
	if (sig < 0)
		return config_yaml_error(cy, node,
					 "%s: expected a signal name such as SIGHUP or SIGUSR1, got '%.40s'",
					 what, s);
	*out = sig;
	return 0;
}

static int parse_backoff(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct daemon_config *d)
{
	char key_what[96], initial_text[32], max_text[32];
	yaml_node_t *value;
	int ret;

	ret = config_yaml_check_keys(cy, node, what, backoff_keys);
	if (ret < 0)
		return ret;
	value = config_yaml_get(cy, node, "initial");
	if (value) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.initial", what);
		ret = config_yaml_duration_ms(cy, value, key_what, 1, MS_PER_HOUR,
					      &d->backoff_initial_ms);
		if (ret < 0)
			return ret;
	}
	value = config_yaml_get(cy, node, "max");
	if (value) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.max", what);
		ret = config_yaml_duration_ms(cy, value, key_what, 1, 24 * MS_PER_HOUR,
					      &d->backoff_max_ms);
		if (ret < 0)
			return ret;
	}
	if (d->backoff_max_ms < d->backoff_initial_ms) {
		config_format_duration(d->backoff_initial_ms, initial_text, sizeof(initial_text));
		config_format_duration(d->backoff_max_ms, max_text, sizeof(max_text));
		return config_yaml_error(cy, value ? value : node,
					 "%s: max (%s) is shorter than initial (%s)", what,
					 max_text, initial_text);
	}
	return 0;
}

static int parse_give_up(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct daemon_config *d)
{
	char key_what[96];
	yaml_node_t *value;
	long long failures;
	int ret;

	ret = config_yaml_check_keys(cy, node, what, give_up_keys);
	if (ret < 0)
		return ret;
	value = config_yaml_get(cy, node, "failures");
	if (value) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.failures", what);
		ret = config_yaml_integer(cy, value, key_what, 1, INIT_GIVE_UP_MAX, &failures);
		if (ret < 0)
			return ret;
		d->give_up_failures = (unsigned)failures;
	}
	value = config_yaml_get(cy, node, "within");
	if (value) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.within", what);
		ret = config_yaml_duration_ms(cy, value, key_what, 1, 24 * MS_PER_HOUR,
					      &d->give_up_within_ms);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_workdir(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct daemon_config *d)
{
	free(d->workdir); /* the default set before the keys are read */
	d->workdir = NULL;
	return parse_absolute_path(cy, node, what, &d->workdir);
}

static int parse_ready_fd(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			  struct daemon_config *d)
{
	long long number;
	int ret;

	ret = config_yaml_integer(cy, node, what, 3, INIT_READY_FD_MAX, &number);
	if (ret < 0)
		return ret;
	d->ready_fd = (int)number;
	return 0;
}

static int parse_required(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			  struct daemon_config *d)
{
	return config_yaml_boolean(cy, node, what, &d->required);
}

/* The optional keys of a daemon, one row each, read in this order after the
 * required `name` and `argv`.  `daemon_key_names` (for the unknown-key
 * check) is built from this table, so a key cannot be allowed yet unread. */
static const struct {
	const char *key;
	int (*parse)(struct config_yaml *cy, const yaml_node_t *value, const char *what,
		     struct daemon_config *d);
} daemon_optional_keys[] = {
	{ "env", parse_env },
	{ "env_inherit", parse_env_inherit },
	{ "user", parse_user },
	{ "workdir", parse_workdir },
	{ "restart", parse_restart },
	{ "ready_fd", parse_ready_fd },
	{ "reload_signal", parse_reload_signal },
	{ "required", parse_required },
	{ "backoff", parse_backoff },
	{ "give_up", parse_give_up },
};

#define DAEMON_OPTIONAL_KEY_COUNT (sizeof(daemon_optional_keys) / sizeof(daemon_optional_keys[0]))

static int check_daemon_keys(struct config_yaml *cy, const yaml_node_t *node, const char *what)
{
	const char *names[2 + DAEMON_OPTIONAL_KEY_COUNT + 1] = { "name", "argv" };
	size_t i;

	for (i = 0; i < DAEMON_OPTIONAL_KEY_COUNT; i++)
		names[2 + i] = daemon_optional_keys[i].key;
	names[2 + i] = NULL;
	return config_yaml_check_keys(cy, node, what, names);
}

static int parse_daemon(struct config_yaml *cy, const yaml_node_t *node, size_t index,
			struct init_config *config)
{
	struct daemon_config *d = &config->daemons[index];
	char what[64], key_what[96];
	yaml_node_t *value;
	const char *s;
	size_t i;
	int ret;

	config_yaml_describe(what, sizeof(what), "daemons[%zu]", index);
	d->ready_fd = -1;
	d->restart = RESTART_ALWAYS;
	d->reload_signal = SIGHUP;
	d->required = true;
	d->backoff_initial_ms = 100;
	d->backoff_max_ms = 30 * 1000;
	d->give_up_failures = 5;
	d->give_up_within_ms = 60 * 1000;

	ret = check_daemon_keys(cy, node, what);
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, node, what, "name");
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, node, what, "argv");
	if (ret < 0)
		return ret;

	value = config_yaml_get(cy, node, "name");
	config_yaml_describe(key_what, sizeof(key_what), "%s.name", what);
	ret = config_yaml_string(cy, value, key_what, &s);
	if (ret < 0)
		return ret;
	if (!valid_daemon_name(s))
		return config_yaml_error(cy, value,
					 "%s: '%.40s' is not a daemon name (1 to 32 of a-z, 0-9 and -)",
					 key_what, s);
	for (i = 0; i < index; i++)
		if (strcmp(config->daemons[i].name, s) == 0)
			return config_yaml_error(cy, value, "%s: a daemon named '%s' is already listed",
						 key_what, s);
	ret = copy_string(cy, s, &d->name);
	if (ret < 0)
		return ret;

	config_yaml_describe(key_what, sizeof(key_what), "%s.argv", what);
	ret = parse_argv(cy, config_yaml_get(cy, node, "argv"), key_what, d);
	if (ret < 0)
		return ret;

	ret = copy_string(cy, "/", &d->workdir);
	if (ret < 0)
		return ret;
	for (i = 0; i < DAEMON_OPTIONAL_KEY_COUNT; i++) {
		value = config_yaml_get(cy, node, daemon_optional_keys[i].key);
		if (!value)
			continue;
		config_yaml_describe(key_what, sizeof(key_what), "%s.%s", what, daemon_optional_keys[i].key);
		ret = daemon_optional_keys[i].parse(cy, value, key_what, d);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int init_config_parse(struct init_config *config, struct config_yaml *cy)
{
	yaml_node_t *root = config_yaml_root(cy), *value, *daemons;
	struct sockaddr_un addr;
	size_t i, n;
	int ret;

	init_config_init(config);
	config->grace_period_ms = 10 * 1000;

	ret = config_yaml_check_keys(cy, root, "config", top_keys);
	if (ret < 0)
		goto out;
	ret = config_yaml_require_key(cy, root, "config", "daemons");
	if (ret < 0)
		goto out;

	value = config_yaml_get(cy, root, "grace_period");
	if (value) {
		ret = config_yaml_duration_ms(cy, value, "grace_period", 0, MS_PER_HOUR,
					      &config->grace_period_ms);
		if (ret < 0)
			goto out;
	}

	value = config_yaml_get(cy, root, "control_socket");
	ret = value ? parse_absolute_path(cy, value, "control_socket", &config->control_socket)
		    : copy_string(cy, INIT_DEFAULT_SOCKET, &config->control_socket);
	if (ret < 0)
		goto out;
	if (strlen(config->control_socket) >= sizeof(addr.sun_path)) {
		ret = config_yaml_error(cy, value, "control_socket: longer than %zu bytes",
					sizeof(addr.sun_path) - 1);
		goto out;
	}

	daemons = config_yaml_get(cy, root, "daemons");
	ret = config_yaml_expect_sequence(cy, daemons, "daemons");
	if (ret < 0)
		goto out;
	n = config_yaml_length(daemons);
	if (n > INIT_MAX_DAEMONS) {
		ret = config_yaml_error(cy, daemons, "daemons: more than %d daemons",
					INIT_MAX_DAEMONS);
		goto out;
	}
	if (n) {
		config->daemons = calloc(n, sizeof(*config->daemons));
		if (!config->daemons) {
			ret = out_of_memory(cy);
			goto out;
		}
		config->daemon_count = n;
	}
	for (i = 0; i < n; i++) {
		ret = parse_daemon(cy, config_yaml_item(cy, daemons, i), i, config);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	if (ret < 0)
		init_config_release(config);
	return ret;
}

int init_config_load(struct init_config *config, struct config_yaml *cy, const char *path)
{
	int ret;

	init_config_init(config);
	ret = config_yaml_load_file(cy, path);
	if (ret < 0)
		return ret;
	return init_config_parse(config, cy);
}

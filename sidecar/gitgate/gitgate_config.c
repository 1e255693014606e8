/* gitgate.yaml -> struct gitgate_config (docs/gitgate.md, "Configuration").
 *
 * Strict: an unknown key, a wrong type, a duplicate repository or a
 * credential that does not fit its upstream is an error naming
 * file:line:col, so a typo never silently weakens the gate.  Every key is
 * one row of a table (top_keys, repo_keys), and the list of keys allowed
 * is built from the table, so a key cannot be accepted yet unread. */
#include "gitgate.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/config_yaml.h"
#include "../../shared/log.h"

#define MS_PER_HOUR (3600ULL * 1000)

/* The defaults, as docs/gitgate.md lists them. */
#define GITGATE_DEFAULT_HTTP_LISTEN ":9420"
#define GITGATE_DEFAULT_GIT_LISTEN ":9418"
#define GITGATE_DEFAULT_DATA_DIR "/var/lib/gitgate"
#define GITGATE_DEFAULT_MIRROR_MAX_AGE_MS (60 * 1000)
#define GITGATE_DEFAULT_HOOK_TIMEOUT_MS (10 * 1000)
#define GITGATE_DEFAULT_OPERATION_TIMEOUT_MS (10 * 60 * 1000)
#define GITGATE_DEFAULT_REQUEST_MAX (512ULL * 1024 * 1024)
#define GITGATE_DEFAULT_SCAN_MAX_COMMITS 1000
#define GITGATE_DEFAULT_SCAN_MAX_BLOB (10 * 1024 * 1024)
#define PROTECTED_MAX 256 /* refs listed under one repository's protected */

/* A value the file holds, fit for a one-line message: at most 80 bytes,
 * control bytes as '?'.  Only values that are not secrets are shown. */
static const char *shown(const char *s, char out[84])
{
	size_t n = 0;

	for (; s[n] && n < 80; n++)
		out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
	out[n] = '\0';
	return out;
}

static int copy_string(struct config_yaml *cy, const char *s, char **out)
{
	free(*out);
	*out = strdup(s);
	if (*out)
		return 0;
	config_yaml_error(cy, NULL, "out of memory");
	return -ENOMEM;
}

static bool env_name_valid(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static int parse_absolute_path(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			       char **out)
{
	char value[84];
	const char *s;
	int ret = config_yaml_nonempty_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	if (s[0] != '/')
		return config_yaml_error(cy, node, "%s: must be an absolute path, got '%s'", what,
					 shown(s, value));
	return copy_string(cy, s, out);
}

/* A byte count: an integer, or one with a K, M or G suffix (powers of 1024). */
static int parse_size(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      uint64_t min, uint64_t max, uint64_t *out)
{
	char value[84];
	char digits[32];
	const char *s;
	uint64_t unit = 1;
	long long number;
	size_t len;
	int ret = config_yaml_nonempty_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	len = strlen(s);
	if (len >= sizeof(digits))
		return config_yaml_error(cy, node, "%s: '%s' is not a size (e.g. 512K, 100M, 1G)",
					 what, shown(s, value));
	memcpy(digits, s, len + 1);
	switch (digits[len - 1]) {
	case 'K': case 'k': unit = 1024; break;
	case 'M': case 'm': unit = 1024 * 1024; break;
	case 'G': case 'g': unit = 1024 * 1024 * 1024; break;
	default: break;
	}
	if (unit > 1)
		digits[len - 1] = '\0';
	if (config_parse_integer(digits, &number) < 0 || number < 0 ||
	    (uint64_t)number > max / unit || (uint64_t)number * unit < min)
		return config_yaml_error(cy, node,
					 "%s: '%s' is not a size from %llu to %llu bytes (e.g. 512K, "
					 "100M, 1G)", what, shown(s, value), (unsigned long long)min,
					 (unsigned long long)max);
	*out = (uint64_t)number * unit;
	return 0;
}

/* ---- listen ---- */

/* "[addr]:port" as shared/listen.h takes it, or "off".  The full check
 * happens when listening; here only what makes a typo obvious. */
static int parse_listen_address(struct config_yaml *cy, const yaml_node_t *node, const char *what,
				char **out)
{
	char value[84];
	const char *s, *colon;
	int ret = config_yaml_nonempty_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	if (strcmp(s, "off") == 0) {
		free(*out);
		*out = NULL;
		return 0;
	}
	colon = strrchr(s, ':');
	if (!colon || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return config_yaml_error(cy, node,
					 "%s: '%s' is not an address ([HOST]:PORT, :PORT or off)",
					 what, shown(s, value));
	return copy_string(cy, s, out);
}

static int parse_listen(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			struct gitgate_config *c)
{
	static const char *const keys[] = { "http", "git", NULL };
	yaml_node_t *value;
	int ret;

	(void)what;
	ret = config_yaml_expect_mapping(cy, node, "listen");
	if (ret == 0)
		ret = config_yaml_check_keys(cy, node, "listen", keys);
	if (ret == 0 && (value = config_yaml_get(cy, node, "http")))
		ret = parse_listen_address(cy, value, "listen.http", &c->http_listen);
	if (ret == 0 && (value = config_yaml_get(cy, node, "git")))
		ret = parse_listen_address(cy, value, "listen.git", &c->git_listen);
	return ret;
}

/* ---- the other top-level keys ---- */

static int parse_data_dir(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			  struct gitgate_config *c)
{
	return parse_absolute_path(cy, node, what, &c->data_dir);
}

static int parse_mirror_max_age(struct config_yaml *cy, const yaml_node_t *node, const char *what,
				struct gitgate_config *c)
{
	return config_yaml_duration_ms(cy, node, what, 0, 24 * MS_PER_HOUR, &c->mirror_max_age_ms);
}

static int parse_hook(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct gitgate_config *c)
{
	return parse_absolute_path(cy, node, what, &c->hook);
}

static int parse_hook_timeout(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			      struct gitgate_config *c)
{
	return config_yaml_duration_ms(cy, node, what, 100, MS_PER_HOUR, &c->hook_timeout_ms);
}

static int parse_operation_timeout(struct config_yaml *cy, const yaml_node_t *node,
				   const char *what, struct gitgate_config *c)
{
	return config_yaml_duration_ms(cy, node, what, 1000, 24 * MS_PER_HOUR,
				       &c->operation_timeout_ms);
}

static int parse_request_max(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			     struct gitgate_config *c)
{
	return parse_size(cy, node, what, 64 * 1024, 64ULL << 30, &c->request_max);
}

static int parse_user(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct gitgate_config *c)
{
	char shown_value[84];
	static const char *const keys[] = { "name", "email", NULL };
	yaml_node_t *value;
	const char *s;
	int ret;

	(void)what;
	ret = config_yaml_expect_mapping(cy, node, "user");
	if (ret == 0)
		ret = config_yaml_check_keys(cy, node, "user", keys);
	if (ret == 0 && (value = config_yaml_get(cy, node, "name"))) {
		ret = config_yaml_nonempty_string(cy, value, "user.name", &s);
		if (ret == 0)
			ret = copy_string(cy, s, &c->user_name);
	}
	if (ret == 0 && (value = config_yaml_get(cy, node, "email"))) {
		ret = config_yaml_nonempty_string(cy, value, "user.email", &s);
		if (ret == 0 && (!strchr(s, '@') || strpbrk(s, "<> \t")))
			ret = config_yaml_error(cy, value, "user.email: '%s' is not an address "
					       "(name@host, without <>)", shown(s, shown_value));
		if (ret == 0)
			ret = copy_string(cy, s, &c->user_email);
	}
	return ret;
}

static int parse_scan(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct gitgate_config *c)
{
	static const char *const keys[] = { "max_commits", "max_blob", NULL };
	yaml_node_t *value;
	long long number;
	int ret;

	(void)what;
	ret = config_yaml_expect_mapping(cy, node, "scan");
	if (ret == 0)
		ret = config_yaml_check_keys(cy, node, "scan", keys);
	if (ret == 0 && (value = config_yaml_get(cy, node, "max_commits"))) {
		ret = config_yaml_integer(cy, value, "scan.max_commits", 1, 1000000, &number);
		if (ret == 0)
			c->scan_max_commits = (uint64_t)number;
	}
	if (ret == 0 && (value = config_yaml_get(cy, node, "max_blob")))
		ret = parse_size(cy, value, "scan.max_blob", 1024, 1ULL << 30, &c->scan_max_blob);
	return ret;
}

/* ---- repos ---- */

enum upstream_kind { UPSTREAM_NONE, UPSTREAM_HTTPS, UPSTREAM_HTTP, UPSTREAM_SSH, UPSTREAM_GIT,
		     UPSTREAM_PATH };

/* Which credential an upstream URL takes.  -1: not a URL the gate can
 * fetch from. */
static int upstream_kind_of(const char *url)
{
	const char *colon, *slash;

	if (strncmp(url, "https://", 8) == 0)
		return url[8] ? UPSTREAM_HTTPS : -1;
	if (strncmp(url, "http://", 7) == 0)
		return url[7] ? UPSTREAM_HTTP : -1;
	if (strncmp(url, "ssh://", 6) == 0)
		return url[6] ? UPSTREAM_SSH : -1;
	if (strncmp(url, "git://", 6) == 0)
		return url[6] ? UPSTREAM_GIT : -1;
	if (url[0] == '/')
		return UPSTREAM_PATH;
	/* scp-like: user@host:path, with no slash before the colon. */
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (colon && colon > url && colon[1] && (!slash || slash > colon) && strchr(url, '@') &&
	    strchr(url, '@') < colon)
		return UPSTREAM_SSH;
	return -1;
}

/* A protected ref: a full name ("refs/heads/main"), or a prefix ending in
 * "*" (refs/heads/release/ then a star); no other wildcard. */
static bool protected_ref_valid(const char *s)
{
	size_t len = strlen(s);

	if (strncmp(s, "refs/", 5) != 0 || len <= 5 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch <= ' ' || ch == 0x7f || ch == '~' || ch == '^' || ch == ':' || ch == '?' ||
		    ch == '[' || ch == '\\')
			return false;
		if (ch == '*' && i != len - 1)
			return false;
	}
	return strstr(s, "..") == NULL && strstr(s, "//") == NULL;
}

static int parse_repo_name(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			   struct gitgate_repo_config *r)
{
	char value[84];
	const char *s;
	int ret = config_yaml_nonempty_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	if (!gitgate_repo_name_valid(s, strlen(s)))
		return config_yaml_error(cy, node,
					 "%s: '%s' is not a repository name (letters, digits, "
					 "'.', '_', '-', starting with a letter or digit, no '..', not "
					 "ending in .git, at most 100)", what, shown(s, value));
	return copy_string(cy, s, &r->name);
}

static int parse_upstream(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			  struct gitgate_repo_config *r)
{
	const char *s;
	int ret = config_yaml_nonempty_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	if (upstream_kind_of(s) < 0)
		/* Not echoed: a URL may carry a password. */
		return config_yaml_error(cy, node, "%s: not an upstream URL the gate can fetch "
				       "(https://, ssh://, user@host:path, git://, http:// or an "
				       "absolute path)", what);
	if (strstr(s, "://") && strchr(strstr(s, "://") + 3, '@') &&
	    strncmp(s, "ssh://", 6) != 0)
		return config_yaml_error(cy, node, "%s: a user or password in the URL; put the "
				       "token in the variable named by token_env", what);
	return copy_string(cy, s, &r->upstream);
}

static int parse_token_env(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			   struct gitgate_repo_config *r)
{
	char value[84];
	const char *s;
	int ret = config_yaml_nonempty_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	if (!env_name_valid(s))
		return config_yaml_error(cy, node, "%s: '%s' is not a variable name", what,
					 shown(s, value));
	return copy_string(cy, s, &r->token_env);
}

static int parse_deploy_key(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			    struct gitgate_repo_config *r)
{
	return parse_absolute_path(cy, node, what, &r->deploy_key);
}

static int parse_known_hosts(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			     struct gitgate_repo_config *r)
{
	return parse_absolute_path(cy, node, what, &r->known_hosts);
}

static int parse_protected(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			   struct gitgate_repo_config *r)
{
	char value[84];
	char item_what[96];
	size_t n, i;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n > PROTECTED_MAX)
		return config_yaml_error(cy, node, "%s: more than %d refs", what, PROTECTED_MAX);
	r->protected_refs = calloc(n + 1, sizeof(*r->protected_refs));
	if (!r->protected_refs)
		return config_yaml_error(cy, NULL, "out of memory");
	for (i = 0; i < n; i++) {
		yaml_node_t *item = config_yaml_item(cy, node, i);
		const char *s;

		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		ret = config_yaml_nonempty_string(cy, item, item_what, &s);
		if (ret < 0)
			return ret;
		if (!protected_ref_valid(s))
			return config_yaml_error(cy, item,
						 "%s: '%s' is not a ref name or prefix (e.g. "
						 "refs/heads/main or refs/heads/release/*)", item_what,
						 shown(s, value));
		ret = copy_string(cy, s, &r->protected_refs[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_allow_force_push(struct config_yaml *cy, const yaml_node_t *node,
				  const char *what, struct gitgate_repo_config *r)
{
	return config_yaml_boolean(cy, node, what, &r->allow_force_push);
}

static int parse_allow_delete(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			      struct gitgate_repo_config *r)
{
	return config_yaml_boolean(cy, node, what, &r->allow_delete);
}

/* One row per key of a repository, read in this order. */
static const struct {
	const char *key;
	int (*parse)(struct config_yaml *cy, const yaml_node_t *value, const char *what,
		     struct gitgate_repo_config *r);
} repo_keys[] = {
	{ "name", parse_repo_name },
	{ "upstream", parse_upstream },
	{ "token_env", parse_token_env },
	{ "deploy_key", parse_deploy_key },
	{ "known_hosts", parse_known_hosts },
	{ "protected", parse_protected },
	{ "allow_force_push", parse_allow_force_push },
	{ "allow_delete", parse_allow_delete },
};

#define REPO_KEY_COUNT (sizeof(repo_keys) / sizeof(repo_keys[0]))

/* The credentials must fit the upstream: an ssh upstream takes a deploy key
 * and the pinned host key, an https one a token (or none, for a public
 * repository read-only), the others none. */
static int check_repo_credentials(struct config_yaml *cy, const yaml_node_t *node,
				  const char *what, const struct gitgate_repo_config *r)
{
	int kind = r->upstream ? upstream_kind_of(r->upstream) : UPSTREAM_NONE;

	if (r->token_env && r->deploy_key)
		return config_yaml_error(cy, node, "%s: token_env and deploy_key both set; an "
				       "upstream takes one credential", what);
	switch (kind) {
	case UPSTREAM_SSH:
		if (!r->deploy_key)
			return config_yaml_error(cy, node, "%s: an ssh upstream needs deploy_key "
					       "(the private key file)", what);
		if (!r->known_hosts)
			return config_yaml_error(cy, node, "%s: an ssh upstream needs known_hosts "
					       "(its host key, pinned)", what);
		if (r->token_env)
			return config_yaml_error(cy, node, "%s: token_env is for https upstreams; "
					       "ssh uses deploy_key", what);
		return 0;
	case UPSTREAM_HTTPS:
		if (r->deploy_key || r->known_hosts)
			return config_yaml_error(cy, node, "%s: deploy_key and known_hosts are for "
					       "ssh upstreams; https uses token_env", what);
		return 0;
	case UPSTREAM_HTTP:
		if (r->token_env)
			return config_yaml_error(cy, node, "%s: token_env with an http:// upstream "
					       "would send the token in clear; use https://", what);
		break;
	default:
		break;
	}
	if (r->token_env || r->deploy_key || r->known_hosts)
		return config_yaml_error(cy, node, "%s: %s takes no credential (token_env, "
				       "deploy_key, known_hosts)", what,
				       r->upstream ? "this upstream" : "a repository without upstream");
	return 0;
}

static int parse_repo(struct config_yaml *cy, const yaml_node_t *node, size_t index,
		      struct gitgate_config *c)
{
	struct gitgate_repo_config *r = &c->repos[index];
	const char *names[REPO_KEY_COUNT + 1];
	char what[64], key_what[96];
	size_t i;
	int ret;

	config_yaml_describe(what, sizeof(what), "repos[%zu]", index);
	r->allow_delete = true;
	r->line = config_yaml_line(node);
	ret = config_yaml_expect_mapping(cy, node, what);
	if (ret < 0)
		return ret;
	for (i = 0; i < REPO_KEY_COUNT; i++)
		names[i] = repo_keys[i].key;
	names[i] = NULL;
	ret = config_yaml_check_keys(cy, node, what, names);
	if (ret == 0)
		ret = config_yaml_require_key(cy, node, what, "name");
	for (i = 0; ret == 0 && i < REPO_KEY_COUNT; i++) {
		yaml_node_t *value = config_yaml_get(cy, node, repo_keys[i].key);

		if (!value)
			continue;
		config_yaml_describe(key_what, sizeof(key_what), "%s.%s", what, repo_keys[i].key);
		ret = repo_keys[i].parse(cy, value, key_what, r);
	}
	if (ret < 0)
		return ret;
	if (!r->protected_refs) {
		r->protected_refs = calloc(1, sizeof(*r->protected_refs));
		if (!r->protected_refs)
			return config_yaml_error(cy, NULL, "out of memory");
	}
	for (i = 0; i < index; i++)
		if (strcmp(c->repos[i].name, r->name) == 0)
			return config_yaml_error(cy, config_yaml_get(cy, node, "name"),
						 "%s.name: '%s' is already the name of the repository "
						 "at line %lu", what, r->name, c->repos[i].line);
	return check_repo_credentials(cy, node, what, r);
}

static int parse_repos(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       struct gitgate_config *c)
{
	size_t n, i;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n > 1000)
		return config_yaml_error(cy, node, "%s: more than 1000 repositories", what);
	c->repos = calloc(n ? n : 1, sizeof(*c->repos));
	if (!c->repos)
		return config_yaml_error(cy, NULL, "out of memory");
	for (i = 0; i < n; i++) {
		/* Counted as it goes, so a failure releases what was read. */
		c->nrepos = i + 1;
		ret = parse_repo(cy, config_yaml_item(cy, node, i), i, c);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static const struct {
	const char *key;
	int (*parse)(struct config_yaml *cy, const yaml_node_t *value, const char *what,
		     struct gitgate_config *c);
} top_keys[] = {
	{ "listen", parse_listen },
	{ "data_dir", parse_data_dir },
	{ "mirror_max_age", parse_mirror_max_age },
	{ "hook", parse_hook },
	{ "hook_timeout", parse_hook_timeout },
	{ "operation_timeout", parse_operation_timeout },
	{ "request_max", parse_request_max },
	{ "user", parse_user },
	{ "scan", parse_scan },
	{ "repos", parse_repos },
};

#define TOP_KEY_COUNT (sizeof(top_keys) / sizeof(top_keys[0]))

/* The defaults (docs/gitgate.md); strings are duplicated so that release
 * frees every one alike. */
static int config_set_defaults(struct config_yaml *cy, struct gitgate_config *c)
{
	int ret;

	c->mirror_max_age_ms = GITGATE_DEFAULT_MIRROR_MAX_AGE_MS;
	c->hook_timeout_ms = GITGATE_DEFAULT_HOOK_TIMEOUT_MS;
	c->operation_timeout_ms = GITGATE_DEFAULT_OPERATION_TIMEOUT_MS;
	c->request_max = GITGATE_DEFAULT_REQUEST_MAX;
	c->scan_max_commits = GITGATE_DEFAULT_SCAN_MAX_COMMITS;
	c->scan_max_blob = GITGATE_DEFAULT_SCAN_MAX_BLOB;
	ret = copy_string(cy, GITGATE_DEFAULT_HTTP_LISTEN, &c->http_listen);
	if (ret == 0)
		ret = copy_string(cy, GITGATE_DEFAULT_GIT_LISTEN, &c->git_listen);
	if (ret == 0)
		ret = copy_string(cy, GITGATE_DEFAULT_DATA_DIR, &c->data_dir);
	return ret;
}

/* The document in cy -> c (zeroed by the caller); c is left for the
 * caller to release on failure. */
static int config_parse_document(struct config_yaml *cy, struct gitgate_config *c)
{
	yaml_node_t *root = config_yaml_root(cy);
	const char *names[TOP_KEY_COUNT + 1];
	size_t i;
	int ret;

	ret = config_set_defaults(cy, c);
	if (ret < 0)
		return ret;
	ret = config_yaml_expect_mapping(cy, root, "config");
	if (ret < 0)
		return ret;
	for (i = 0; i < TOP_KEY_COUNT; i++)
		names[i] = top_keys[i].key;
	names[i] = NULL;
	ret = config_yaml_check_keys(cy, root, "config", names);
	if (ret == 0)
		ret = config_yaml_require_key(cy, root, "config", "repos");
	for (i = 0; ret == 0 && i < TOP_KEY_COUNT; i++) {
		yaml_node_t *value = config_yaml_get(cy, root, top_keys[i].key);

		if (value)
			ret = top_keys[i].parse(cy, value, top_keys[i].key, c);
	}
	return ret;
}

/* Shared by the file loader and the tests: parse whatever cy loaded. */
static int config_finish(struct config_yaml *cy, int loaded, const char *path,
			 struct gitgate_config *out, char *err, size_t err_len)
{
	int ret = loaded;

	memset(out, 0, sizeof(*out));
	if (ret == 0)
		ret = config_parse_document(cy, out);
	if (ret == 0) {
		out->path = strdup(path);
		if (!out->path)
			ret = config_yaml_error(cy, NULL, "out of memory");
	}
	if (ret < 0) {
		error_format(err, err_len, "%s", config_yaml_message(cy));
		gitgate_config_release(out);
		/* Every failure is a bad file to the caller but for memory. */
		ret = ret == -ENOMEM ? -ENOMEM : -EINVAL;
	}
	config_yaml_release(cy);
	return ret;
}

int gitgate_config_load(const char *path, struct gitgate_config *out, char *err, size_t err_len)
{
	struct config_yaml cy;

	config_yaml_init(&cy);
	return config_finish(&cy, config_yaml_load_file(&cy, path), path, out, err, err_len);
}

void gitgate_config_release(struct gitgate_config *c)
{
	size_t i;

	for (i = 0; i < c->nrepos; i++) {
		struct gitgate_repo_config *r = &c->repos[i];

		free(r->name);
		free(r->upstream);
		free(r->token_env);
		free(r->deploy_key);
		free(r->known_hosts);
		for (char **p = r->protected_refs; p && *p; p++)
			free(*p);
		free(r->protected_refs);
	}
	free(c->repos);
	free(c->path);
	free(c->http_listen);
	free(c->git_listen);
	free(c->data_dir);
	free(c->hook);
	free(c->user_name);
	free(c->user_email);
	memset(c, 0, sizeof(*c));
}

/* One manifest file: the frontmatter split off the Markdown, then every key
 * checked with its position (docs/manifests.md).  A bottle's `egress` is
 * handed to the routes.yaml loader itself, over a copy of the file in which
 * everything before the section is blanked, so its errors carry the
 * manifest's own line and column. */
#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../shared/config_yaml.h"

#define MANIFEST_MAX_ENV 1000
#define MANIFEST_MAX_REPOS 200
#define MANIFEST_MAX_EXTENDS 32
#define MANIFEST_MAX_COMMAND 256
#define MANIFEST_IMAGE_MAX 255

static const char *const bottle_keys[] = {
	"extends", "env", "egress", "git", "supervise", "image", "containerfile", NULL
};
static const char *const git_keys[] = { "user", "repos", NULL };
static const char *const git_user_keys[] = { "name", "email", NULL };
static const char *const repo_keys[] = { "name", "upstream", "deploy_key", "known_hosts",
					 "token_env", NULL };
static const char *const custom_provider_keys[] = { "image", "command", NULL };

static int out_of_memory(struct config_yaml *cy)
{
	config_yaml_error(cy, NULL, "out of memory");
	return -ENOMEM;
}

static int copy_to(struct config_yaml *cy, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : out_of_memory(cy);
}

static int origin_set(struct config_yaml *cy, struct manifest_origin *o, const char *path,
		      const yaml_node_t *node)
{
	free(o->path);
	o->line = config_yaml_line(node);
	o->column = config_yaml_column(node);
	return copy_to(cy, path, &o->path);
}

static void finish(struct config_yaml *cy, int ret, char *err, size_t err_len)
{
	if (ret < 0)
		snprintf(err, err_len, "%s", config_yaml_message(cy));
	else if (err_len)
		err[0] = '\0';
}

/* ---- frontmatter ---- */

/* A delimiter line: "---", optional blanks, then LF, CRLF or the end. */
static bool delimiter_at(const char *p, const char *end, const char **next)
{
	if (end - p < 3 || memcmp(p, "---", 3) != 0)
		return false;
	p += 3;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
		p++;
	if (p < end && *p != '\n')
		return false;
	*next = p < end ? p + 1 : p;
	return true;
}

int manifest_split(const char *name, const char *text, size_t len, size_t *yaml_len,
		   size_t *body, char *err, size_t err_len)
{
	const char *p = text, *end = text + len, *next;

	/* A UTF-8 byte order mark is tolerated: editors on some systems add
	 * one, and libyaml skips it too. */
	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	if (!delimiter_at(p, end, &next))
		return -ENODATA;
	p = next;
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (delimiter_at(p, end, &next)) {
			*yaml_len = (size_t)(p - text);
			*body = (size_t)(next - text);
			return 0;
		}
		if (!eol)
			break;
		p = eol + 1;
	}
	snprintf(err, err_len,
		 "%s:1:1: frontmatter: the '---' line opening it has no closing '---' line: "
		 "end the YAML keys with a line holding only '---'",
		 name);
	return -EINVAL;
}

/* Load the frontmatter as the document of `cy`.  An empty frontmatter
 * reads as an empty mapping (*root NULL). */
static int load_frontmatter(struct config_yaml *cy, const char *path, const char *text,
			    size_t len, const char *hint, yaml_node_t **root, size_t *body,
			    char *err, size_t err_len)
{
	size_t yaml_len;
	int ret;

	ret = manifest_split(path, text, len, &yaml_len, body, err, err_len);
	if (ret == -ENODATA) {
		snprintf(err, err_len,
			 "%s:1:1: frontmatter: missing: start the file with a line '---', then "
			 "the YAML keys (%s), then a line '---'; the Markdown follows",
			 path, hint);
		return -EINVAL;
	}
	if (ret < 0)
		return ret;
	ret = config_yaml_load_string(cy, path, text, yaml_len);
	if (ret < 0) {
		finish(cy, ret, err, err_len);
		return ret;
	}
	*root = config_yaml_root(cy);
	if ((*root)->type == YAML_SCALAR_NODE && (*root)->data.scalar.length == 0 &&
	    (*root)->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
		*root = NULL;
		return 0;
	}
	ret = config_yaml_expect_mapping(cy, *root, "frontmatter");
	finish(cy, ret, err, err_len);
	return ret;
}

/* ---- values ---- */

static bool env_name_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Container image references go to the engine's argv: a conservative
 * alphabet, and never a leading '-' that would read as an option. */
static bool image_valid(const char *s)
{
	size_t i;

	if (!s[0] || s[0] == '-')
		return false;
	for (i = 0; s[i]; i++) {
		if (i >= MANIFEST_IMAGE_MAX)
			return false;
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._/:@-", s[i])))
			return false;
	}
	return true;
}

static bool has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

int manifest_upstream_kind(const char *url, const char **why)
{
	const char *authority, *slash, *colon, *at;

	*why = NULL;
	if (has_control(url) || strpbrk(url, " \t")) {
		*why = "holds a space or a control byte";
		return -EINVAL;
	}
	if (strncmp(url, "https://", 8) == 0 || strncmp(url, "ssh://", 6) == 0) {
		authority = strchr(url, ':') + 3;
		slash = strchr(authority, '/');
		at = memchr(authority, '@', slash ? (size_t)(slash - authority) : strlen(authority));
		if (!slash || slash == authority || !slash[1]) {
			*why = "needs a host and a repository path";
			return -EINVAL;
		}
		if (url[1] == 't') {
			if (at) {
				*why = "holds credentials: put the token's variable in token_env "
				       "and leave the URL without them";
				return -EINVAL;
			}
			return MANIFEST_UPSTREAM_HTTPS;
		}
		return MANIFEST_UPSTREAM_SSH;
	}
	if (strstr(url, "://")) {
		*why = "is not https://, ssh:// or user@host:path (the gate pushes over TLS "
		       "or SSH only)";
		return -EINVAL;
	}
	/* scp-like: [user@]host:path, with no '/' before the ':' */
	colon = strchr(url, ':');
	slash = strchr(url, '/');
	if (!colon || colon == url || (slash && slash < colon) || !colon[1] || url[0] == '-') {
		*why = "is not https://host/path, ssh://host/path or user@host:path";
		return -EINVAL;
	}
	return MANIFEST_UPSTREAM_SSH;
}

/* `what: '<value>'` pieces of messages are never env values: only names,
 * paths, URLs and image references, which are not secrets. */
static int parse_env(struct config_yaml *cy, const char *path, const yaml_node_t *node,
		     struct manifest_bottle *b)
{
	yaml_node_t *k, *v;
	char what[MANIFEST_NAME_MAX + 96];
	const char *name, *value;
	size_t i, j, n, len;
	int ret;

	ret = config_yaml_expect_mapping(cy, node, "env");
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n > MANIFEST_MAX_ENV)
		return config_yaml_error(cy, node, "env: more than %d variables", MANIFEST_MAX_ENV);
	if (n == 0)
		return 0;
	b->env = calloc(n, sizeof(*b->env));
	if (!b->env)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		struct manifest_env *e = &b->env[i];

		if (config_yaml_pair(cy, node, i, &k, &v) < 0)
			return config_yaml_error(cy, node, "env: malformed mapping");
		ret = config_yaml_string(cy, k, "env: a variable name", &name);
		if (ret < 0)
			return ret;
		len = k->data.scalar.length;
		if (!env_name_valid(name, len))
			return config_yaml_error(cy, k,
						 "env: '%.64s' is not a variable name "
						 "([A-Za-z_][A-Za-z0-9_]*)",
						 has_control(name) ? "?" : name);
		snprintf(what, sizeof(what), "env.%.80s", name);
		for (j = 0; j < i; j++)
			if (strcmp(b->env[j].name, name) == 0)
				return config_yaml_error(cy, k, "%s: given twice (first at line %lu)",
							 what, b->env[j].origin.line);
		ret = copy_to(cy, name, &e->name);
		if (ret < 0)
			return ret;
		b->nenv = i + 1;
		ret = origin_set(cy, &e->origin, path, k);
		if (ret < 0)
			return ret;
		ret = config_yaml_string(cy, v, what, &value);
		if (ret < 0)
			return ret;
		len = v->data.scalar.length;
		if (len == 0 && v->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			return config_yaml_error(cy, v,
						 "%s: no value: write '' for an empty string, or "
						 "${%s} to pass the variable from your environment",
						 what, name);
		if (len >= 3 && value[0] == '$' && value[1] == '{' && value[len - 1] == '}') {
			if (!env_name_valid(value + 2, len - 3))
				return config_yaml_error(cy, v,
							 "%s: a reference names a variable as "
							 "${NAME} ([A-Za-z_][A-Za-z0-9_]*)",
							 what);
			e->host_var = strndup(value + 2, len - 3);
			if (!e->host_var)
				return out_of_memory(cy);
			continue;
		}
		if (strstr(value, "${"))
			return config_yaml_error(cy, v,
						 "%s: '${' may only start a reference that is the "
						 "whole value, as ${NAME}",
						 what);
		ret = copy_to(cy, value, &e->value);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- egress: the routes.yaml loader over the manifest's own text ---- */

/* Bytes of the UTF-8 character at p (libyaml has validated the text). */
static size_t utf8_width(unsigned char c)
{
	return c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
}

static bool line_break_at(const char *p, const char *end, size_t *width)
{
	if (*p == '\n' || *p == '\r') {
		*width = 1;
		return true;
	}
	/* NEL, LS and PS also end a line for libyaml. */
	if (end - p >= 2 && memcmp(p, "\xc2\x85", 2) == 0) {
		*width = 2;
		return true;
	}
	if (end - p >= 3 && (memcmp(p, "\xe2\x80\xa8", 3) == 0 || memcmp(p, "\xe2\x80\xa9", 3) == 0)) {
		*width = 3;
		return true;
	}
	return false;
}

/* Build the text the routes loader reads: every character before the
 * section's start becomes a space (line breaks kept), so positions in it
 * are positions in the manifest.  libyaml marks count characters. */
static int egress_text(const char *text, size_t len, const yaml_node_t *node, struct buf *out)
{
	const char *p = text, *end = text + len;
	size_t index = 0, width;
	int ret = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (p < end && index < node->start_mark.index && ret == 0) {
		if (line_break_at(p, end, &width)) {
			ret = buf_append(out, p, width);
		} else {
			width = utf8_width((unsigned char)*p);
			ret = buf_append(out, " ", 1);
		}
		p += width;
		index++;
	}
	while (p < end && index < node->end_mark.index && ret == 0) {
		width = utf8_width((unsigned char)*p);
		if (width > (size_t)(end - p))
			width = (size_t)(end - p);
		ret = buf_append(out, p, width);
		p += width;
		index++;
	}
	return ret;
}

/* "path:L:C: routes[0].host: ..." -> "path:L:C: egress.routes[0].host: ..." */
static void egress_message(const char *path, const char *routes_err, char *out, size_t size)
{
	size_t plen = strlen(path), pos;
	const char *rest;

	if (strncmp(routes_err, path, plen) != 0) {
		snprintf(out, size, "%s: egress: %s", path, routes_err);
		return;
	}
	rest = routes_err + plen;
	while (*rest == ':' || (*rest >= '0' && *rest <= '9'))
		rest++;
	if (*rest == ' ')
		rest++;
	pos = (size_t)(rest - routes_err);
	if (strncmp(rest, "top level: ", 11) == 0)
		snprintf(out, size, "%.*segress: %s", (int)pos, routes_err, rest + 11);
	else if (strncmp(rest, "routes", 6) == 0 || strncmp(rest, "log", 3) == 0)
		snprintf(out, size, "%.*segress.%s", (int)pos, routes_err, rest);
	else
		snprintf(out, size, "%.*segress: %s", (int)pos, routes_err, rest);
}

static int parse_egress(struct config_yaml *cy, const char *path, const char *text, size_t len,
			const yaml_node_t *node, struct manifest_bottle *b)
{
	char routes_err[768];
	struct buf slice;
	yaml_node_t *log;
	struct routes *r = NULL;
	int ret;

	if (node->type == YAML_SCALAR_NODE && node->data.scalar.length == 0)
		return config_yaml_error(cy, node,
					 "egress: empty: give a routes.yaml document "
					 "(`routes: []` denies everything)");
	buf_init(&slice, MANIFEST_MAX_FILE);
	ret = egress_text(text, len, node, &slice);
	if (ret < 0) {
		buf_release(&slice);
		return out_of_memory(cy);
	}
	ret = routes_load_string(path, slice.p, slice.len, &r, routes_err, sizeof(routes_err));
	buf_release(&slice);
	if (ret < 0) {
		egress_message(path, routes_err, cy->message, sizeof(cy->message));
		return ret == -ENOMEM ? ret : -EINVAL;
	}
	b->egress = calloc(1, sizeof(*b->egress));
	if (!b->egress) {
		routes_unref(r);
		return out_of_memory(cy);
	}
	b->egress[0].routes = r;
	b->negress = 1;
	ret = copy_to(cy, b->name, &b->egress[0].bottle);
	if (ret < 0)
		return ret;
	log = config_yaml_get(cy, node, "log");
	if (log) {
		b->log_set = true;
		b->log = r->log;
	}
	return 0;
}

/* ---- git ---- */

/* A file on the operator's machine: absolute, or ~/ for their home
 * (expanded by whoever reads it). */
static int parse_host_path(struct config_yaml *cy, const yaml_node_t *v, const char *what,
			   const char *noun, char **out)
{
	const char *s;
	int ret;

	ret = config_yaml_nonempty_string(cy, v, what, &s);
	if (ret < 0)
		return ret;
	if (has_control(s) || !(s[0] == '/' || (s[0] == '~' && s[1] == '/')))
		return config_yaml_error(cy, v, "%s: %s's path must be absolute or start with ~/",
					 what, noun);
	return copy_to(cy, s, out);
}

static int parse_repo(struct config_yaml *cy, const char *path, const yaml_node_t *node,
		      size_t index, struct manifest_bottle *b)
{
	struct manifest_repo *repo = &b->repos[index];
	char what[64], key_what[96];
	const char *s, *why;
	yaml_node_t *v;
	size_t i;
	int ret;

	snprintf(what, sizeof(what), "git.repos[%zu]", index);
	ret = config_yaml_check_keys(cy, node, what, repo_keys);
	if (ret == 0)
		ret = config_yaml_require_key(cy, node, what, "name");
	if (ret < 0)
		return ret;
	v = config_yaml_get(cy, node, "name");
	snprintf(key_what, sizeof(key_what), "%s.name", what);
	ret = config_yaml_nonempty_string(cy, v, key_what, &s);
	if (ret < 0)
		return ret;
	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])) ||
		    i >= 100)
			break;
	if (s[i] || s[0] == '.' || s[0] == '-')
		return config_yaml_error(cy, v,
					 "%s: '%.100s' is not a repository name (up to 100 of "
					 "A-Z, a-z, 0-9, '.', '_', '-', not starting with '.' or '-')",
					 key_what, has_control(s) ? "?" : s);
	for (i = 0; i < index; i++)
		if (strcmp(b->repos[i].name, s) == 0)
			return config_yaml_error(cy, v, "%s: repository '%s' listed twice",
						 key_what, s);
	ret = copy_to(cy, s, &repo->name);
	if (ret == 0)
		ret = origin_set(cy, &repo->origin, path, node);
	if (ret < 0)
		return ret;
	b->nrepos = index + 1;

	v = config_yaml_get(cy, node, "upstream");
	if (v) {
		snprintf(key_what, sizeof(key_what), "%s.upstream", what);
		ret = config_yaml_nonempty_string(cy, v, key_what, &s);
		if (ret < 0)
			return ret;
		if (manifest_upstream_kind(s, &why) < 0)
			return config_yaml_error(cy, v, "%s: the URL %s", key_what, why);
		ret = copy_to(cy, s, &repo->upstream);
		if (ret < 0)
			return ret;
	}
	if (config_yaml_get(cy, node, "deploy_key") && config_yaml_get(cy, node, "token_env"))
		return config_yaml_error(cy, node,
					 "%s: give deploy_key (ssh) or token_env (https), not both",
					 what);
	if (config_yaml_get(cy, node, "known_hosts") && config_yaml_get(cy, node, "token_env"))
		return config_yaml_error(cy, config_yaml_get(cy, node, "known_hosts"),
					 "%s.known_hosts: pins an ssh host: it goes with deploy_key, "
					 "not token_env",
					 what);
	v = config_yaml_get(cy, node, "known_hosts");
	if (v) {
		snprintf(key_what, sizeof(key_what), "%s.known_hosts", what);
		ret = parse_host_path(cy, v, key_what, "a known_hosts file", &repo->known_hosts);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "deploy_key");
	if (v) {
		snprintf(key_what, sizeof(key_what), "%s.deploy_key", what);
		return parse_host_path(cy, v, key_what, "the private key", &repo->deploy_key);
	}
	v = config_yaml_get(cy, node, "token_env");
	if (v) {
		snprintf(key_what, sizeof(key_what), "%s.token_env", what);
		ret = config_yaml_nonempty_string(cy, v, key_what, &s);
		if (ret < 0)
			return ret;
		if (!env_name_valid(s, v->data.scalar.length))
			return config_yaml_error(cy, v,
						 "%s: '%.64s' is not a variable name "
						 "([A-Za-z_][A-Za-z0-9_]*): name the variable of your "
						 "environment that holds the token",
						 key_what, has_control(s) ? "?" : s);
		return copy_to(cy, s, &repo->token_env);
	}
	return 0;
}

static int parse_git_user(struct config_yaml *cy, const yaml_node_t *node,
			  struct manifest_bottle *b)
{
	static const char *const fields[] = { "name", "email" };
	char **targets[] = { &b->git_user_name, &b->git_user_email };
	char what[32];
	const char *s;
	yaml_node_t *v;
	size_t i;
	int ret;

	ret = config_yaml_check_keys(cy, node, "git.user", git_user_keys);
	if (ret < 0)
		return ret;
	for (i = 0; i < 2; i++) {
		v = config_yaml_get(cy, node, fields[i]);
		if (!v)
			continue;
		snprintf(what, sizeof(what), "git.user.%s", fields[i]);
		ret = config_yaml_nonempty_string(cy, v, what, &s);
		if (ret < 0)
			return ret;
		/* These go into commit headers: one line, no angle brackets. */
		if (has_control(s) || strpbrk(s, "<>"))
			return config_yaml_error(cy, v, "%s: must be one line without '<' or '>'",
						 what);
		if (i == 1 && !strchr(s, '@'))
			return config_yaml_error(cy, v, "%s: '%.100s' is not an email address",
						 what, s);
		ret = copy_to(cy, s, targets[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_git(struct config_yaml *cy, const char *path, const yaml_node_t *node,
		     struct manifest_bottle *b)
{
	yaml_node_t *v;
	size_t i, n;
	int ret;

	ret = config_yaml_check_keys(cy, node, "git", git_keys);
	if (ret < 0)
		return ret;
	v = config_yaml_get(cy, node, "user");
	if (v) {
		ret = parse_git_user(cy, v, b);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "repos");
	if (!v)
		return 0;
	ret = config_yaml_expect_sequence(cy, v, "git.repos");
	if (ret < 0)
		return ret;
	n = config_yaml_length(v);
	if (n > MANIFEST_MAX_REPOS)
		return config_yaml_error(cy, v, "git.repos: more than %d repositories",
					 MANIFEST_MAX_REPOS);
	if (n == 0)
		return 0;
	b->repos = calloc(n, sizeof(*b->repos));
	if (!b->repos)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		ret = parse_repo(cy, path, config_yaml_item(cy, v, i), i, b);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* ---- bottles ---- */

static int parse_extends(struct config_yaml *cy, const yaml_node_t *node,
			 struct manifest_layer *layer)
{
	bool list = node->type == YAML_SEQUENCE_NODE;
	size_t i, j, n = list ? config_yaml_length(node) : 1;
	char what[48];
	const char *s;
	int ret;

	if (list && n == 0)
		return config_yaml_error(cy, node, "extends: empty list: omit the key for none");
	if (n > MANIFEST_MAX_EXTENDS)
		return config_yaml_error(cy, node, "extends: more than %d parents",
					 MANIFEST_MAX_EXTENDS);
	layer->extends = calloc(n + 1, sizeof(*layer->extends));
	layer->extends_line = calloc(n, sizeof(*layer->extends_line));
	layer->extends_column = calloc(n, sizeof(*layer->extends_column));
	if (!layer->extends || !layer->extends_line || !layer->extends_column)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = list ? config_yaml_item(cy, node, i) : (yaml_node_t *)node;

		if (list)
			snprintf(what, sizeof(what), "extends[%zu]", i);
		else
			snprintf(what, sizeof(what), "extends");
		ret = config_yaml_nonempty_string(cy, item, what, &s);
		if (ret < 0)
			return ret;
		if (!manifest_name_valid(s))
			return config_yaml_error(cy, item,
						 "%s: '%.64s' is not a bottle name (1 to %d of a-z, "
						 "0-9 and '-')",
						 what, has_control(s) ? "?" : s, MANIFEST_NAME_MAX);
		if (strcmp(s, layer->b.name) == 0)
			return config_yaml_error(cy, item, "%s: bottle '%s' extends itself", what, s);
		for (j = 0; j < i; j++)
			if (strcmp(layer->extends[j], s) == 0)
				return config_yaml_error(cy, item, "%s: '%s' listed twice", what, s);
		ret = copy_to(cy, s, &layer->extends[i]);
		if (ret < 0)
			return ret;
		layer->extends_line[i] = config_yaml_line(item);
		layer->extends_column[i] = config_yaml_column(item);
	}
	return 0;
}

/* A relative containerfile is relative to the bottle's file, made absolute
 * now so it keeps its meaning in a bottle that extends this one. */
static int parse_containerfile(struct config_yaml *cy, const char *path,
			       const yaml_node_t *node, struct manifest_bottle *b)
{
	const char *s, *slash;
	char cwd[4096];
	struct buf full;
	int ret;

	ret = config_yaml_nonempty_string(cy, node, "containerfile", &s);
	if (ret < 0)
		return ret;
	if (has_control(s))
		return config_yaml_error(cy, node, "containerfile: holds a control byte");
	buf_init(&full, 8192);
	if (s[0] != '/') {
		if (path[0] != '/') {
			if (!getcwd(cwd, sizeof(cwd)))
				return config_yaml_error(cy, node,
							 "containerfile: unable to resolve the "
							 "relative path: %s",
							 strerror(errno));
			buf_appendf(&full, "%s/", cwd);
			if (strncmp(path, "./", 2) == 0)
				path += 2;
		}
		slash = strrchr(path, '/');
		if (slash)
			buf_append(&full, path, (size_t)(slash - path) + 1);
	}
	ret = buf_append_str(&full, s);
	if (ret < 0) {
		buf_release(&full);
		return config_yaml_error(cy, node, "containerfile: path too long");
	}
	b->containerfile = buf_detach(&full, NULL);
	return 0;
}

static int parse_bottle_keys(struct config_yaml *cy, const char *path, const char *text,
			     size_t len, const yaml_node_t *root, struct manifest_layer *layer)
{
	struct manifest_bottle *b = &layer->b;
	const char *s;
	yaml_node_t *v;
	bool flag;
	int ret;

	ret = config_yaml_check_keys(cy, root, "frontmatter", bottle_keys);
	if (ret < 0)
		return ret;
	if ((v = config_yaml_get(cy, root, "extends")) && (ret = parse_extends(cy, v, layer)) < 0)
		return ret;
	if ((v = config_yaml_get(cy, root, "env")) && (ret = parse_env(cy, path, v, b)) < 0)
		return ret;
	if ((v = config_yaml_get(cy, root, "egress")) &&
	    (ret = parse_egress(cy, path, text, len, v, b)) < 0)
		return ret;
	if ((v = config_yaml_get(cy, root, "git")) && (ret = parse_git(cy, path, v, b)) < 0)
		return ret;
	v = config_yaml_get(cy, root, "supervise");
	if (v) {
		ret = config_yaml_boolean(cy, v, "supervise", &flag);
		if (ret < 0)
			return ret;
		b->supervise = flag;
	}
	if (config_yaml_get(cy, root, "image") && config_yaml_get(cy, root, "containerfile"))
		return config_yaml_error(cy, config_yaml_get(cy, root, "containerfile"),
					 "containerfile: give image or containerfile, not both");
	v = config_yaml_get(cy, root, "image");
	if (v) {
		ret = config_yaml_nonempty_string(cy, v, "image", &s);
		if (ret < 0)
			return ret;
		if (!image_valid(s))
			return config_yaml_error(cy, v,
						 "image: not an image reference (up to %d of A-Z, "
						 "a-z, 0-9 and ._/:@-, not starting with '-')",
						 MANIFEST_IMAGE_MAX);
		return copy_to(cy, s, &b->image);
	}
	v = config_yaml_get(cy, root, "containerfile");
	if (v)
		return parse_containerfile(cy, path, v, b);
	return 0;
}

void manifest_layer_release(struct manifest_layer *layer)
{
	size_t i;

	manifest_bottle_release(&layer->b);
	for (i = 0; layer->extends && layer->extends[i]; i++)
		free(layer->extends[i]);
	free(layer->extends);
	free(layer->extends_line);
	free(layer->extends_column);
	memset(layer, 0, sizeof(*layer));
	layer->b.supervise = -1;
}

int manifest_parse_bottle(const char *name, const char *path, const char *text, size_t len,
			  struct manifest_layer *out, char *err, size_t err_len)
{
	struct config_yaml cy;
	yaml_node_t *root;
	size_t body;
	int ret;

	memset(out, 0, sizeof(*out));
	out->b.supervise = -1;
	config_yaml_init(&cy);
	ret = load_frontmatter(&cy, path, text, len, "extends, env, egress, git, ...", &root,
			       &body, err, err_len);
	if (ret < 0)
		goto out;
	ret = copy_to(&cy, name, &out->b.name);
	if (ret == 0)
		ret = copy_to(&cy, path, &out->b.path);
	if (ret == 0 && root)
		ret = parse_bottle_keys(&cy, path, text, len, root, out);
	finish(&cy, ret, err, err_len);
out:
	if (ret < 0)
		manifest_layer_release(out);
	config_yaml_release(&cy);
	return ret;
}

/* ---- agents ---- */

static int parse_provider(struct config_yaml *cy, const yaml_node_t *node,
			  struct manifest_agent *a)
{
	yaml_node_t *v;
	const char *s;
	char what[48];
	size_t i, n;
	int ret;

	if (node->type == YAML_SCALAR_NODE) {
		ret = config_yaml_string(cy, node, "provider", &s);
		if (ret < 0)
			return ret;
		if (strcmp(s, "claude") == 0)
			a->provider = MANIFEST_PROVIDER_CLAUDE;
		else if (strcmp(s, "codex") == 0)
			a->provider = MANIFEST_PROVIDER_CODEX;
		else
			return config_yaml_error(cy, node,
						 "provider: '%.40s' is not claude or codex (or a "
						 "mapping {image: IMAGE, command: [ARGV...]} for "
						 "another agent)",
						 has_control(s) ? "?" : s);
		return 0;
	}
	a->provider = MANIFEST_PROVIDER_CUSTOM;
	ret = config_yaml_check_keys(cy, node, "provider", custom_provider_keys);
	if (ret == 0)
		ret = config_yaml_require_key(cy, node, "provider", "image");
	if (ret < 0)
		return ret;
	v = config_yaml_get(cy, node, "image");
	ret = config_yaml_nonempty_string(cy, v, "provider.image", &s);
	if (ret < 0)
		return ret;
	if (!image_valid(s))
		return config_yaml_error(cy, v,
					 "provider.image: not an image reference (up to %d of A-Z, "
					 "a-z, 0-9 and ._/:@-, not starting with '-')",
					 MANIFEST_IMAGE_MAX);
	ret = copy_to(cy, s, &a->provider_image);
	if (ret < 0)
		return ret;
	v = config_yaml_get(cy, node, "command");
	if (!v)
		return 0;
	ret = config_yaml_expect_sequence(cy, v, "provider.command");
	if (ret < 0)
		return ret;
	n = config_yaml_length(v);
	if (n == 0 || n > MANIFEST_MAX_COMMAND)
		return config_yaml_error(cy, v,
					 "provider.command: give 1 to %d arguments, or omit it for "
					 "the image's own command",
					 MANIFEST_MAX_COMMAND);
	a->provider_command = calloc(n + 1, sizeof(*a->provider_command));
	if (!a->provider_command)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "provider.command[%zu]", i);
		ret = config_yaml_string(cy, config_yaml_item(cy, v, i), what, &s);
		if (ret < 0)
			return ret;
		if (i == 0 && !s[0])
			return config_yaml_error(cy, v, "%s: the program must not be empty", what);
		ret = copy_to(cy, s, &a->provider_command[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Our keys are checked; every other key belongs to Claude Code (name,
 * description, model, color, tools, ...) and passes through unread so the
 * file can double as ~/.claude/agents/<name>.md. */
static int parse_agent_keys(struct config_yaml *cy, const yaml_node_t *root,
			    struct manifest_agent *a)
{
	yaml_node_t *k, *v, *bottle = NULL, *provider = NULL, **slot;
	const char *s;
	size_t i, n = config_yaml_length(root);
	int ret;

	for (i = 0; i < n; i++) {
		if (config_yaml_pair(cy, root, i, &k, &v) < 0 || k->type != YAML_SCALAR_NODE)
			continue;
		if (strcmp((const char *)k->data.scalar.value, "bottle") == 0)
			slot = &bottle;
		else if (strcmp((const char *)k->data.scalar.value, "provider") == 0)
			slot = &provider;
		else
			continue;
		if (*slot)
			return config_yaml_error(cy, k, "%s: given twice",
						 (const char *)k->data.scalar.value);
		*slot = v;
	}
	if (!bottle)
		return config_yaml_error(cy, root,
					 "bottle: missing: name the bottle this agent runs in "
					 "(bottle: NAME, a file .bottle/bottles/NAME.md)");
	if (!provider)
		return config_yaml_error(cy, root,
					 "provider: missing: write provider: claude, provider: "
					 "codex, or provider: {image: IMAGE, command: [ARGV...]}");
	ret = config_yaml_nonempty_string(cy, bottle, "bottle", &s);
	if (ret < 0)
		return ret;
	if (!manifest_name_valid(s))
		return config_yaml_error(cy, bottle,
					 "bottle: '%.64s' is not a bottle name (1 to %d of a-z, 0-9 "
					 "and '-')",
					 has_control(s) ? "?" : s, MANIFEST_NAME_MAX);
	ret = copy_to(cy, s, &a->bottle_name);
	a->bottle_line = config_yaml_line(bottle);
	a->bottle_column = config_yaml_column(bottle);
	if (ret < 0)
		return ret;
	return parse_provider(cy, provider, a);
}

int manifest_parse_agent(const char *name, const char *path, const char *text, size_t len,
			 struct manifest_agent *out, char *err, size_t err_len)
{
	struct config_yaml cy;
	yaml_node_t *root;
	size_t body;
	int ret;

	memset(out, 0, sizeof(*out));
	out->bottle.supervise = -1;
	config_yaml_init(&cy);
	ret = load_frontmatter(&cy, path, text, len, "bottle: NAME and provider: claude", &root,
			       &body, err, err_len);
	if (ret < 0)
		goto out;
	if (!root) {
		ret = -EINVAL;
		snprintf(err, err_len,
			 "%s:1:1: frontmatter: empty: an agent needs bottle: NAME and provider: "
			 "claude (or codex)",
			 path);
		goto out;
	}
	ret = copy_to(&cy, name, &out->name);
	if (ret == 0)
		ret = copy_to(&cy, path, &out->path);
	if (ret == 0)
		ret = parse_agent_keys(&cy, root, out);
	if (ret == 0) {
		/* The body as is, NUL bytes included: prompt_len is its length. */
		out->prompt_len = len - body;
		out->prompt = malloc(out->prompt_len + 1);
		if (!out->prompt) {
			ret = out_of_memory(&cy);
		} else {
			memcpy(out->prompt, text + body, out->prompt_len);
			out->prompt[out->prompt_len] = '\0';
		}
	}
	finish(&cy, ret, err, err_len);
out:
	if (ret < 0)
		manifest_agent_release(out);
	config_yaml_release(&cy);
	return ret;
}

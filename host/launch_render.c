/* What `start` writes for the bundle and the agent besides routes.yaml:
 * init's config, the agent's MCP client configs, env-file lines.  Every
 * structured file is built with yyjson (JSON is YAML), never by pasting
 * strings into a template, so no value can break out of its field. */
#include "launch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yyjson.h>

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int names_add(const char ***v, size_t *n, size_t *cap, const char *name)
{
	const char **grown;

	if (*n + 1 >= *cap) {
		*cap = *cap ? *cap * 2 : 8;
		grown = realloc(*v, *cap * sizeof(**v));
		if (!grown)
			return -ENOMEM;
		*v = grown;
	}
	(*v)[(*n)++] = name;
	(*v)[*n] = NULL;
	return 0;
}

int launch_secret_names(const struct manifest_agent *a, const char ***names, size_t *n)
{
	const struct manifest_bottle *b = &a->bottle;
	struct manifest_provider_route api;
	const struct routes *r;
	const char **v = NULL;
	size_t i, j, count = 0, cap = 0, kept;
	int ret = 0;

	manifest_provider_route(a->provider, &api);
	if (api.env)
		ret = names_add(&v, &count, &cap, api.env);
	for (i = 0; i < b->negress && ret == 0; i++) {
		r = b->egress[i].routes;
		for (j = 0; j < r->n && ret == 0; j++)
			if (r->v[j].auth)
				ret = names_add(&v, &count, &cap, r->v[j].auth->env);
	}
	for (i = 0; i < b->nrepos && ret == 0; i++)
		if (b->repos[i].token_env)
			ret = names_add(&v, &count, &cap, b->repos[i].token_env);
	if (ret == 0 && !v) {
		v = calloc(1, sizeof(*v));
		ret = v ? 0 : -ENOMEM;
	}
	if (ret < 0) {
		free(v);
		return ret;
	}
	qsort(v, count, sizeof(*v), compare_names);
	for (i = 0, kept = 0; i < count; i++)
		if (kept == 0 || strcmp(v[kept - 1], v[i]) != 0)
			v[kept++] = v[i];
	v[kept] = NULL;
	*names = v;
	*n = kept;
	return 0;
}

static yyjson_mut_val *add_argv(yyjson_mut_doc *doc, yyjson_mut_val *daemon,
				const char *const *argv)
{
	yyjson_mut_val *arr = yyjson_mut_obj_add_arr(doc, daemon, "argv");
	size_t i;

	for (i = 0; arr && argv[i]; i++)
		if (!yyjson_mut_arr_add_str(doc, arr, argv[i]))
			return NULL;
	return arr;
}

int launch_daemon_uid(const char *name)
{
	if (strcmp(name, "egress") == 0)
		return LAUNCH_EGRESS_UID;
	if (strcmp(name, "supervise") == 0)
		return LAUNCH_SUPERVISE_UID;
	if (strcmp(name, "gitgate") == 0)
		return LAUNCH_GITGATE_UID;
	return -ENOENT;
}

static yyjson_mut_val *add_daemon(yyjson_mut_doc *doc, yyjson_mut_val *daemons,
				  const char *name, const char *const *argv)
{
	yyjson_mut_val *d = yyjson_mut_arr_add_obj(doc, daemons);
	int uid = launch_daemon_uid(name);
	/* By number, the ids the launcher hands the CA key and the queue to:
	 * the daemon's own uid, the bundle's shared group, no other groups. */
	char user[32];

	if (uid < 0)
		return NULL;
	snprintf(user, sizeof(user), "%d:%d", uid, LAUNCH_BUNDLE_GID);
	if (!d || !yyjson_mut_obj_add_str(doc, d, "name", name) || !add_argv(doc, d, argv) ||
	    !yyjson_mut_obj_add_strcpy(doc, d, "user", user) ||
	    !yyjson_mut_obj_add_int(doc, d, "ready_fd", 3))
		return NULL;
	return d;
}

/* A document whose root is an empty object, or NULL. */
static yyjson_mut_doc *doc_new(yyjson_mut_val **root)
{
	yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);

	*root = doc ? yyjson_mut_obj(doc) : NULL;
	if (!*root) {
		yyjson_mut_doc_free(doc);
		return NULL;
	}
	yyjson_mut_doc_set_root(doc, *root);
	return doc;
}

static int write_doc(yyjson_mut_doc *doc, const char *comment, struct buf *out)
{
	char *text;
	size_t len;
	int ret;

	text = yyjson_mut_write(doc, YYJSON_WRITE_PRETTY_TWO_SPACES, &len);
	if (!text)
		return -ENOMEM;
	ret = comment ? buf_append_str(out, comment) : 0;
	if (ret == 0)
		ret = buf_append(out, text, len);
	if (ret == 0)
		ret = buf_append(out, "\n", 1);
	free(text);
	return ret;
}

/* The routes file lives in the queue directory, which the bundle mounts
 * read-write: supervise writes approved routes there and egress reloads
 * them, while the rest of /etc/sidecar stays read-only. */
#define ROUTES_PATH "/run/supervise/queue/routes.yaml"

#define UPSTREAM_CA_PATH "/etc/sidecar/upstream-ca.crt"

/* A daemon's argv: the fixed words, then what DLP needs, the same for
 * egress and the gate: every secret the bundle holds (by name: the values
 * stay in the environment), the canary, and with supervise the queue its
 * findings are proposed in.  Room for `extra` more words.  NULL-terminated;
 * the caller frees the array (not the strings). */
static const char **dlp_argv_new(const struct launch_bundle_opts *o, const char *const *fixed,
				 size_t nfixed, size_t extra, size_t *n)
{
	/* --canary-env, --queue and --bottle: 6 words, and the NULL. */
	const char **v = calloc(nfixed + 2 * o->nsecret_names + 6 + extra + 1, sizeof(*v));
	size_t i;

	if (!v)
		return NULL;
	*n = 0;
	for (i = 0; i < nfixed; i++)
		v[(*n)++] = fixed[i];
	v[(*n)++] = "--canary-env";
	v[(*n)++] = "BOTTLE_CANARY";
	for (i = 0; i < o->nsecret_names; i++) {
		v[(*n)++] = "--secret-env";
		v[(*n)++] = o->secret_names[i];
	}
	if (o->supervise) {
		v[(*n)++] = "--queue";
		v[(*n)++] = "/run/supervise/queue";
		v[(*n)++] = "--bottle";
		v[(*n)++] = o->slug;
	}
	v[*n] = NULL;
	return v;
}

/* egress's argv: the routes and the CA, its DLP, the upstream CA and the
 * provider's host (where DLP redacts instead of blocking). */
static const char **egress_argv_new(const struct launch_bundle_opts *o)
{
	static const char *const fixed[] = {
		"/bin/sidecar", "egress", "--listen", ":9099", "--routes", ROUTES_PATH,
		"--ca-cert", "/etc/sidecar/ca.crt", "--ca-key", "/etc/sidecar/ca.key",
		"--ready-fd", "3",
	};
	size_t n;
	const char **v = dlp_argv_new(o, fixed, sizeof(fixed) / sizeof(fixed[0]), 4, &n);

	if (!v)
		return NULL;
	if (o->upstream_ca) {
		v[n++] = "--upstream-ca";
		v[n++] = UPSTREAM_CA_PATH;
	}
	if (o->provider_host) {
		v[n++] = "--provider-host";
		v[n++] = o->provider_host;
	}
	v[n] = NULL;
	return v;
}

/* The credentials reach a daemon by name from init's environment (the
 * env file), never on an argv; the canary goes along so DLP can recognise
 * it leaving. */
static int add_env_inherit(yyjson_mut_doc *doc, yyjson_mut_val *daemon,
			   const struct launch_bundle_opts *o)
{
	yyjson_mut_val *inherit = yyjson_mut_obj_add_arr(doc, daemon, "env_inherit");
	size_t i;

	if (!inherit || !yyjson_mut_arr_add_str(doc, inherit, "BOTTLE_CANARY"))
		return -ENOMEM;
	for (i = 0; i < o->nsecret_names; i++)
		if (!yyjson_mut_arr_add_str(doc, inherit, o->secret_names[i]))
			return -ENOMEM;
	return 0;
}

/* The gate: its config, its DLP like egress's (a push carrying a secret of
 * the bundle is a leak too), and the upstream CA for its https upstreams
 * (libgit2 reads SSL_CERT_FILE, docs/gitgate.md). */
static int add_gitgate(yyjson_mut_doc *doc, yyjson_mut_val *daemons,
		       const struct launch_bundle_opts *o)
{
	static const char *const fixed[] = {
		"/bin/sidecar", "gitgate", "--config", LAUNCH_GITGATE_CONFIG, "--ready-fd", "3",
	};
	yyjson_mut_val *gate, *env;
	const char **argv;
	size_t n;
	int ret = -ENOMEM;

	argv = dlp_argv_new(o, fixed, sizeof(fixed) / sizeof(fixed[0]), 0, &n);
	gate = argv ? add_daemon(doc, daemons, "gitgate", argv) : NULL;
	if (!gate || add_env_inherit(doc, gate, o) < 0)
		goto out;
	if (o->upstream_ca) {
		env = yyjson_mut_obj_add_obj(doc, gate, "env");
		if (!env || !yyjson_mut_obj_add_str(doc, env, "SSL_CERT_FILE", UPSTREAM_CA_PATH))
			goto out;
	}
	ret = 0;
out:
	free(argv);
	return ret;
}

int launch_render_init(const struct launch_bundle_opts *o, struct buf *out)
{
	const char **egress_argv = NULL;
	const char *supervise_argv[] = { "/bin/sidecar", "supervise", "--listen", ":9100",
					 "--routes", ROUTES_PATH, "--queue",
					 "/run/supervise/queue", "--bottle", o->slug,
					 "--ready-fd", "3", NULL };
	yyjson_mut_val *root, *daemons, *egress, *supervise;
	yyjson_mut_doc *doc;
	int ret = -ENOMEM;

	doc = doc_new(&root);
	if (!doc)
		return -ENOMEM;
	if (!yyjson_mut_obj_add_str(doc, root, "grace_period", "10s") ||
	    !yyjson_mut_obj_add_str(doc, root, "control_socket", "/run/sidecar/init.sock"))
		goto out;
	egress_argv = egress_argv_new(o);
	daemons = egress_argv ? yyjson_mut_obj_add_arr(doc, root, "daemons") : NULL;
	egress = daemons ? add_daemon(doc, daemons, "egress", egress_argv) : NULL;
	if (!egress || add_env_inherit(doc, egress, o) < 0)
		goto out;
	if (o->gitgate && add_gitgate(doc, daemons, o) < 0)
		goto out;
	if (o->supervise) {
		supervise = add_daemon(doc, daemons, "supervise", supervise_argv);
		/* The bundle serves the agent without the human loop too. */
		if (!supervise || !yyjson_mut_obj_add_bool(doc, supervise, "required", false))
			goto out;
	}
	ret = write_doc(doc, "# init.yaml rendered by bottle-host start (docs/launcher.md)\n", out);
out:
	free(egress_argv);
	yyjson_mut_doc_free(doc);
	return ret;
}

int launch_render_mcp_claude(const char *url, struct buf *out)
{
	yyjson_mut_val *root, *servers, *server;
	yyjson_mut_doc *doc;
	int ret = -ENOMEM;

	doc = doc_new(&root);
	if (!doc)
		return -ENOMEM;
	/* Without these Claude Code asks about the folder and the key before
	 * the agent can start unattended. */
	if (!yyjson_mut_obj_add_bool(doc, root, "hasCompletedOnboarding", true))
		goto out;
	servers = yyjson_mut_obj_add_obj(doc, root, "mcpServers");
	server = servers ? yyjson_mut_obj_add_obj(doc, servers, "bottle") : NULL;
	if (!server || !yyjson_mut_obj_add_str(doc, server, "type", "http") ||
	    !yyjson_mut_obj_add_str(doc, server, "url", url))
		goto out;
	ret = write_doc(doc, NULL, out);
out:
	yyjson_mut_doc_free(doc);
	return ret;
}

/* A TOML basic string: the URL is ours, but quote it properly anyway. */
static int toml_string(struct buf *out, const char *s)
{
	int ret = buf_append(out, "\"", 1);

	for (; *s && ret == 0; s++) {
		if (*s == '"' || *s == '\\')
			ret = buf_appendf(out, "\\%c", *s);
		else if ((unsigned char)*s < 0x20 || *s == 0x7f)
			ret = buf_appendf(out, "\\u%04x", (unsigned char)*s);
		else
			ret = buf_append(out, s, 1);
	}
	return ret == 0 ? buf_append(out, "\"", 1) : ret;
}

int launch_render_mcp_codex(const char *url, struct buf *out)
{
	int ret;

	ret = buf_append_str(out, "# rendered by bottle-host start (docs/launcher.md)\n"
				  "[mcp_servers.bottle]\nurl = ");
	if (ret == 0)
		ret = toml_string(out, url);
	/* A proposal waits for the operator up to supervise's approval timeout. */
	if (ret == 0)
		ret = buf_appendf(out, "\ntool_timeout_sec = %d\nstartup_timeout_sec = 30\n",
				  LAUNCH_MCP_TOOL_TIMEOUT_SEC);
	return ret;
}

int launch_env_line(struct buf *out, const char *name, const char *value)
{
	/* An env file is line-based: a newline would start a variable of the
	 * value's choosing. */
	if (strpbrk(value, "\n\r"))
		return -EINVAL;
	return buf_appendf(out, "%s=%s\n", name, value);
}

int launch_gitgate_file(const char *dir, const char *repo, const char *suffix, char *out,
			size_t len)
{
	int n = snprintf(out, len, "%s/%s%s", dir, repo, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static yyjson_mut_val *add_listen(yyjson_mut_doc *doc, yyjson_mut_val *listen, const char *key,
				  const char *host, int port)
{
	char spec[128];

	/* An IPv6 literal is bracketed; no host is every address. */
	snprintf(spec, sizeof(spec), "%s%s%s:%d", host && strchr(host, ':') ? "[" : "",
		 host ? host : "", host && strchr(host, ':') ? "]" : "", port);
	return yyjson_mut_obj_add_strcpy(doc, listen, key, spec) ? listen : NULL;
}

static int add_repo(yyjson_mut_doc *doc, yyjson_mut_val *repos, const struct manifest_repo *r)
{
	yyjson_mut_val *entry = yyjson_mut_arr_add_obj(doc, repos);
	char key[512], known[512];

	if (!entry || !yyjson_mut_obj_add_str(doc, entry, "name", r->name) ||
	    !yyjson_mut_obj_add_str(doc, entry, "upstream", r->upstream))
		return -ENOMEM;
	if (r->token_env)
		return yyjson_mut_obj_add_str(doc, entry, "token_env", r->token_env) ? 0 : -ENOMEM;
	if (!r->deploy_key)
		return 0;
	/* The launcher copies the operator's files to these names. */
	if (launch_gitgate_file(LAUNCH_GITGATE_KEYS, r->name, ".key", key, sizeof(key)) < 0 ||
	    launch_gitgate_file(LAUNCH_GITGATE_KEYS, r->name, ".known_hosts", known,
				sizeof(known)) < 0)
		return -ENAMETOOLONG;
	if (!yyjson_mut_obj_add_strcpy(doc, entry, "deploy_key", key) ||
	    (r->known_hosts && !yyjson_mut_obj_add_strcpy(doc, entry, "known_hosts", known)))
		return -ENOMEM;
	return 0;
}

int launch_render_gitgate(const struct manifest_bottle *b, const char *listen_host,
			  struct buf *out)
{
	yyjson_mut_val *root, *listen, *user, *repos;
	yyjson_mut_doc *doc;
	size_t i;
	int ret = -ENOMEM;

	doc = doc_new(&root);
	if (!doc)
		return -ENOMEM;
	listen = yyjson_mut_obj_add_obj(doc, root, "listen");
	if (!listen || !add_listen(doc, listen, "http", listen_host, LAUNCH_GITGATE_HTTP_PORT) ||
	    !add_listen(doc, listen, "git", listen_host, LAUNCH_GITGATE_GIT_PORT) ||
	    !yyjson_mut_obj_add_str(doc, root, "data_dir", LAUNCH_GITGATE_DATA))
		goto out;
	if (b->git_user_name || b->git_user_email) {
		user = yyjson_mut_obj_add_obj(doc, root, "user");
		if (!user || (b->git_user_name &&
			      !yyjson_mut_obj_add_str(doc, user, "name", b->git_user_name)) ||
		    (b->git_user_email &&
		     !yyjson_mut_obj_add_str(doc, user, "email", b->git_user_email)))
			goto out;
	}
	repos = yyjson_mut_obj_add_arr(doc, root, "repos");
	if (!repos)
		goto out;
	for (i = 0; i < b->nrepos; i++) {
		ret = add_repo(doc, repos, &b->repos[i]);
		if (ret < 0)
			goto out;
	}
	ret = write_doc(doc, "# gitgate.yaml rendered by bottle-host start (docs/launcher.md)\n",
			out);
out:
	yyjson_mut_doc_free(doc);
	return ret;
}

/* Append `url` as a line unless it is one already. */
static int spelling_add(struct buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int spelling_add(struct buf *out, const char *fmt, ...)
{
	char url[2048];
	const char *p;
	size_t len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(url, sizeof(url), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(url))
		return -ENAMETOOLONG;
	len = (size_t)n;
	/* Every line ends with '\n': the loop stops at the terminating NUL. */
	for (p = out->p; *p; p = strchr(p, '\n') + 1)
		if (strncmp(p, url, len) == 0 && p[len] == '\n')
			return 0;
	return buf_appendf(out, "%s\n", url);
}

/* An upstream taken apart: `[user@]host[:port]` and the repository path
 * without its leading '/' and trailing ".git". */
struct upstream_parts {
	bool https;
	char user[256], host[512], port[16], path[1024];
};

static int upstream_split(const char *url, struct upstream_parts *u)
{
	const char *authority, *slash, *at, *colon;
	size_t len;

	memset(u, 0, sizeof(*u));
	if (strncmp(url, "https://", 8) == 0 || strncmp(url, "ssh://", 6) == 0) {
		u->https = url[1] == 't';
		authority = strstr(url, "://") + 3;
		slash = strchr(authority, '/');
		if (!slash)
			return -EINVAL;
		at = memchr(authority, '@', (size_t)(slash - authority));
		if (at) {
			snprintf(u->user, sizeof(u->user), "%.*s", (int)(at - authority), authority);
			authority = at + 1;
		}
		colon = memchr(authority, ':', (size_t)(slash - authority));
		len = (size_t)((colon ? colon : slash) - authority);
		snprintf(u->host, sizeof(u->host), "%.*s", (int)len, authority);
		if (colon)
			snprintf(u->port, sizeof(u->port), "%.*s", (int)(slash - colon - 1),
				 colon + 1);
		url = slash + 1;
	} else {
		/* scp-like [user@]host:path */
		colon = strchr(url, ':');
		if (!colon)
			return -EINVAL;
		at = memchr(url, '@', (size_t)(colon - url));
		if (at)
			snprintf(u->user, sizeof(u->user), "%.*s", (int)(at - url), url);
		authority = at ? at + 1 : url;
		snprintf(u->host, sizeof(u->host), "%.*s", (int)(colon - authority), authority);
		url = colon + 1;
	}
	while (*url == '/')
		url++;
	len = strlen(url);
	while (len && url[len - 1] == '/')
		len--;
	if (len > 4 && strncmp(url + len - 4, ".git", 4) == 0)
		len -= 4;
	if (len == 0 || len >= sizeof(u->path))
		return -EINVAL;
	memcpy(u->path, url, len);
	u->path[len] = '\0';
	return 0;
}

int launch_git_spellings(const char *upstream, struct buf *out)
{
	static const char *const suffixes[] = { ".git", "" };
	struct upstream_parts u;
	const char *user, *at;
	size_t i;
	int ret;

	ret = spelling_add(out, "%s", upstream);
	if (ret < 0 || upstream_split(upstream, &u) < 0)
		return ret;
	/* An ssh upstream keeps its user; forges take ssh as `git`. */
	user = u.https ? "git" : u.user;
	at = user[0] ? "@" : "";
	for (i = 0; i < 2 && ret == 0; i++) {
		const char *git = suffixes[i];

		if (u.port[0]) {
			/* A port belongs to one protocol: no other form is the
			 * same server. */
			ret = u.https ? spelling_add(out, "https://%s:%s/%s%s", u.host, u.port,
						     u.path, git)
				      : spelling_add(out, "ssh://%s%s%s:%s/%s%s", user, at, u.host,
						     u.port, u.path, git);
			continue;
		}
		ret = spelling_add(out, "https://%s/%s%s", u.host, u.path, git);
		if (ret == 0)
			ret = spelling_add(out, "%s%s%s:%s%s", user, at, u.host, u.path, git);
		if (ret == 0)
			ret = spelling_add(out, "ssh://%s%s%s/%s%s", user, at, u.host, u.path, git);
	}
	return ret;
}

static int git_config_add(struct buf *out, size_t *count, const char *key, const char *value)
{
	char name[64];
	int ret;

	snprintf(name, sizeof(name), "GIT_CONFIG_KEY_%zu", *count);
	ret = launch_env_line(out, name, key);
	snprintf(name, sizeof(name), "GIT_CONFIG_VALUE_%zu", *count);
	if (ret == 0)
		ret = launch_env_line(out, name, value);
	if (ret == 0)
		(*count)++;
	return ret;
}

int launch_render_git_env(const struct manifest_bottle *b, const char *gate_url,
			  struct buf *out)
{
	struct buf spellings;
	char key[1024], *line, *end;
	size_t count = 0, i;
	int ret = 0;

	if (b->git_user_name)
		ret = git_config_add(out, &count, "user.name", b->git_user_name);
	if (ret == 0 && b->git_user_email)
		ret = git_config_add(out, &count, "user.email", b->git_user_email);
	buf_init(&spellings, 64 * 1024);
	for (i = 0; i < b->nrepos && ret == 0; i++) {
		buf_clear(&spellings);
		snprintf(key, sizeof(key), "url.%s/%s.git.insteadOf", gate_url, b->repos[i].name);
		ret = launch_git_spellings(b->repos[i].upstream, &spellings);
		for (line = spellings.p; ret == 0 && *line; line = end + 1) {
			end = strchr(line, '\n');
			*end = '\0';
			ret = git_config_add(out, &count, key, line);
		}
	}
	buf_release(&spellings);
	if (ret == 0 && count)
		ret = buf_appendf(out, "GIT_CONFIG_COUNT=%zu\n", count);
	return ret;
}

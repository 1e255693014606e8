/* What `start` writes for the bundle and the agent besides routes.yaml:
 * init's config, the agent's MCP client configs, env-file lines.  Every
 * structured file is built with yyjson (JSON is YAML), never by pasting
 * strings into a template, so no value can break out of its field. */
#include "launch.h"

#include <errno.h>
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

static yyjson_mut_val *add_daemon(yyjson_mut_doc *doc, yyjson_mut_val *daemons,
				  const char *name, const char *const *argv)
{
	yyjson_mut_val *d = yyjson_mut_arr_add_obj(doc, daemons);
	/* By number: the image's sidecar user, whose ids the launcher hands
	 * the CA key and the queue to. */
	char user[32];

	snprintf(user, sizeof(user), "%d:%d", LAUNCH_SIDECAR_UID, LAUNCH_SIDECAR_GID);
	if (!d || !yyjson_mut_obj_add_str(doc, d, "name", name) || !add_argv(doc, d, argv) ||
	    !yyjson_mut_obj_add_strcpy(doc, d, "user", user) ||
	    !yyjson_mut_obj_add_int(doc, d, "ready_fd", 3))
		return NULL;
	return d;
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

/* egress's argv: the routes and the CA, and what its DLP needs: every
 * secret the bundle holds (by name: the values stay in the environment),
 * the canary, the queue its held requests wait in, the provider's host.
 * NULL-terminated; the caller frees the array (not the strings). */
static const char **egress_argv_new(const struct launch_bundle_opts *o)
{
	static const char *const fixed[] = {
		"/bin/sidecar", "egress", "--listen", ":9099", "--routes", ROUTES_PATH,
		"--ca-cert", "/etc/sidecar/ca.crt", "--ca-key", "/etc/sidecar/ca.key",
		"--ready-fd", "3", "--canary-env", "BOTTLE_CANARY",
	};
	size_t nfixed = sizeof(fixed) / sizeof(fixed[0]), n = 0, i;
	/* The optional flags below: at most 8 words, and the NULL. */
	const char **v = calloc(nfixed + 2 * o->nsecret_names + 8 + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (i = 0; i < nfixed; i++)
		v[n++] = fixed[i];
	for (i = 0; i < o->nsecret_names; i++) {
		v[n++] = "--secret-env";
		v[n++] = o->secret_names[i];
	}
	if (o->upstream_ca) {
		v[n++] = "--upstream-ca";
		v[n++] = "/etc/sidecar/upstream-ca.crt";
	}
	if (o->supervise) {
		v[n++] = "--queue";
		v[n++] = "/run/supervise/queue";
		v[n++] = "--bottle";
		v[n++] = o->slug;
	}
	if (o->provider_host) {
		v[n++] = "--provider-host";
		v[n++] = o->provider_host;
	}
	v[n] = NULL;
	return v;
}

int launch_render_init(const struct launch_bundle_opts *o, struct buf *out)
{
	const char **egress_argv = NULL;
	const char *supervise_argv[] = { "/bin/sidecar", "supervise", "--listen", ":9100",
					 "--routes", ROUTES_PATH, "--queue",
					 "/run/supervise/queue", "--bottle", o->slug,
					 "--ready-fd", "3", NULL };
	yyjson_mut_val *root, *daemons, *egress, *inherit, *supervise;
	yyjson_mut_doc *doc;
	size_t i;
	int ret = -ENOMEM;

	doc = yyjson_mut_doc_new(NULL);
	if (!doc)
		return -ENOMEM;
	root = yyjson_mut_obj(doc);
	if (!root)
		goto out;
	yyjson_mut_doc_set_root(doc, root);
	if (!yyjson_mut_obj_add_str(doc, root, "grace_period", "10s") ||
	    !yyjson_mut_obj_add_str(doc, root, "control_socket", "/run/sidecar/init.sock"))
		goto out;
	egress_argv = egress_argv_new(o);
	daemons = egress_argv ? yyjson_mut_obj_add_arr(doc, root, "daemons") : NULL;
	egress = daemons ? add_daemon(doc, daemons, "egress", egress_argv) : NULL;
	if (!egress)
		goto out;
	/* The real credentials reach egress alone; the canary goes along so
	 * DLP can recognise it leaving. */
	inherit = yyjson_mut_obj_add_arr(doc, egress, "env_inherit");
	if (!inherit || !yyjson_mut_arr_add_str(doc, inherit, "BOTTLE_CANARY"))
		goto out;
	for (i = 0; i < o->nsecret_names; i++)
		if (!yyjson_mut_arr_add_str(doc, inherit, o->secret_names[i]))
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

	doc = yyjson_mut_doc_new(NULL);
	if (!doc)
		return -ENOMEM;
	root = yyjson_mut_obj(doc);
	if (!root)
		goto out;
	yyjson_mut_doc_set_root(doc, root);
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

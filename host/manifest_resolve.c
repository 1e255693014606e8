/* `extends`: every bottle of the graph parsed once, parents folded left to
 * right, the child last; then the checks that only make sense on the whole
 * (a repo's URL and credential may come from different files). */
#include "manifest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *manifest_provider_name(enum manifest_provider p)
{
	switch (p) {
	case MANIFEST_PROVIDER_CLAUDE:
		return "claude";
	case MANIFEST_PROVIDER_CODEX:
		return "codex";
	case MANIFEST_PROVIDER_CUSTOM:
		return "custom";
	}
	return "?";
}

/* ---- lifetime ---- */

static void strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void manifest_bottle_release(struct manifest_bottle *b)
{
	size_t i;

	free(b->name);
	free(b->path);
	strv_free(b->chain);
	for (i = 0; i < b->nenv; i++) {
		free(b->env[i].name);
		free(b->env[i].value);
		free(b->env[i].host_var);
		free(b->env[i].origin.path);
	}
	free(b->env);
	for (i = 0; i < b->negress; i++) {
		free(b->egress[i].bottle);
		routes_unref(b->egress[i].routes);
	}
	free(b->egress);
	free(b->git_user_name);
	free(b->git_user_email);
	for (i = 0; i < b->nrepos; i++) {
		free(b->repos[i].name);
		free(b->repos[i].upstream);
		free(b->repos[i].deploy_key);
		free(b->repos[i].token_env);
		free(b->repos[i].known_hosts);
		free(b->repos[i].origin.path);
	}
	free(b->repos);
	free(b->image);
	free(b->containerfile);
	memset(b, 0, sizeof(*b));
	b->supervise = -1;
}

void manifest_agent_release(struct manifest_agent *a)
{
	free(a->name);
	free(a->path);
	free(a->provider_image);
	strv_free(a->provider_command);
	free(a->bottle_name);
	free(a->prompt);
	manifest_bottle_release(&a->bottle);
	memset(a, 0, sizeof(*a));
	a->bottle.supervise = -1;
}

/* ---- the merge rule ---- */

/* Replace *dst with a copy of src (NULL stays NULL). */
static int replace(char **dst, const char *src)
{
	char *copy = NULL;

	if (src && !(copy = strdup(src)))
		return -ENOMEM;
	free(*dst);
	*dst = copy;
	return 0;
}

static int origin_copy(struct manifest_origin *dst, const struct manifest_origin *src)
{
	dst->line = src->line;
	dst->column = src->column;
	return replace(&dst->path, src->path);
}

static int merge_env(struct manifest_bottle *dst, const struct manifest_bottle *src)
{
	struct manifest_env *grown, *e;
	size_t i, j;
	int ret = 0;

	for (i = 0; i < src->nenv && ret == 0; i++) {
		for (j = 0; j < dst->nenv; j++)
			if (strcmp(dst->env[j].name, src->env[i].name) == 0)
				break;
		if (j == dst->nenv) {
			if (dst->nenv == MANIFEST_MAX_ENV_TOTAL)
				return -EOVERFLOW;
			grown = realloc(dst->env, (dst->nenv + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			dst->env = grown;
			memset(&grown[j], 0, sizeof(*grown));
			dst->nenv++;
			ret = replace(&grown[j].name, src->env[i].name);
		}
		e = &dst->env[j];
		if (ret == 0)
			ret = replace(&e->value, src->env[i].value);
		if (ret == 0)
			ret = replace(&e->host_var, src->env[i].host_var);
		if (ret == 0)
			ret = origin_copy(&e->origin, &src->env[i].origin);
	}
	return ret;
}

static int merge_repos(struct manifest_bottle *dst, const struct manifest_bottle *src)
{
	struct manifest_repo *grown, *r;
	const struct manifest_repo *s;
	size_t i, j;
	int ret = 0;

	for (i = 0; i < src->nrepos && ret == 0; i++) {
		s = &src->repos[i];
		for (j = 0; j < dst->nrepos; j++)
			if (strcmp(dst->repos[j].name, s->name) == 0)
				break;
		if (j == dst->nrepos) {
			if (dst->nrepos == MANIFEST_MAX_REPOS_TOTAL)
				return -EOVERFLOW;
			grown = realloc(dst->repos, (dst->nrepos + 1) * sizeof(*grown));
			if (!grown)
				return -ENOMEM;
			dst->repos = grown;
			memset(&grown[j], 0, sizeof(*grown));
			dst->nrepos++;
			ret = replace(&grown[j].name, s->name);
		}
		r = &dst->repos[j];
		if (ret == 0 && s->upstream)
			ret = replace(&r->upstream, s->upstream);
		/* The two credentials are one field: naming either drops the other.
		 * A host key pin belongs to the ssh one: a token drops it, a new
		 * deploy key alone keeps it (the host is the same). */
		if (ret == 0 && (s->deploy_key || s->token_env)) {
			ret = replace(&r->deploy_key, s->deploy_key);
			if (ret == 0)
				ret = replace(&r->token_env, s->token_env);
			if (ret == 0 && s->token_env)
				ret = replace(&r->known_hosts, NULL);
		}
		if (ret == 0 && s->known_hosts)
			ret = replace(&r->known_hosts, s->known_hosts);
		if (ret == 0)
			ret = origin_copy(&r->origin, &s->origin);
	}
	return ret;
}

/* src's tables go first (it wins), then dst's that src does not hold. */
static int merge_egress(struct manifest_bottle *dst, const struct manifest_bottle *src)
{
	struct manifest_egress *merged;
	size_t i, j, n = 0;

	if (src->negress == 0)
		return 0;
	merged = calloc(src->negress + dst->negress, sizeof(*merged));
	if (!merged)
		return -ENOMEM;
	for (i = 0; i < src->negress; i++) {
		merged[n].bottle = strdup(src->egress[i].bottle);
		if (!merged[n].bottle)
			goto fail;
		merged[n++].routes = routes_ref(src->egress[i].routes);
	}
	for (i = 0; i < dst->negress; i++) {
		for (j = 0; j < src->negress; j++)
			if (strcmp(dst->egress[i].bottle, src->egress[j].bottle) == 0)
				break;
		if (j < src->negress) {
			free(dst->egress[i].bottle);
			routes_unref(dst->egress[i].routes);
			continue;
		}
		merged[n++] = dst->egress[i];
	}
	free(dst->egress);
	dst->egress = merged;
	dst->negress = n;
	return 0;
fail:
	for (i = 0; i < n; i++) {
		free(merged[i].bottle);
		routes_unref(merged[i].routes);
	}
	free(merged);
	return -ENOMEM;
}

static int merge_chain(struct manifest_bottle *dst, const struct manifest_bottle *src)
{
	size_t n = 0, i, j;
	char **grown;

	while (dst->chain && dst->chain[n])
		n++;
	for (i = 0; src->chain && src->chain[i]; i++) {
		for (j = 0; j < n; j++)
			if (strcmp(dst->chain[j], src->chain[i]) == 0)
				break;
		if (j < n)
			continue;
		grown = realloc(dst->chain, (n + 2) * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		dst->chain = grown;
		grown[n + 1] = NULL;
		grown[n] = strdup(src->chain[i]);
		if (!grown[n])
			return -ENOMEM;
		n++;
	}
	return 0;
}

int manifest_bottle_merge(struct manifest_bottle *dst, const struct manifest_bottle *src)
{
	int ret;

	ret = merge_env(dst, src);
	if (ret == 0)
		ret = merge_repos(dst, src);
	if (ret == 0)
		ret = merge_egress(dst, src);
	if (ret == 0)
		ret = merge_chain(dst, src);
	if (ret < 0)
		return ret;
	if (src->log_set) {
		dst->log_set = true;
		dst->log = src->log;
	}
	if (src->git_user_name && (ret = replace(&dst->git_user_name, src->git_user_name)) < 0)
		return ret;
	if (src->git_user_email && (ret = replace(&dst->git_user_email, src->git_user_email)) < 0)
		return ret;
	if (src->supervise >= 0)
		dst->supervise = src->supervise;
	/* image and containerfile are one choice: naming either drops the other. */
	if (src->image || src->containerfile) {
		ret = replace(&dst->image, src->image);
		if (ret == 0)
			ret = replace(&dst->containerfile, src->containerfile);
	}
	return ret;
}

/* ---- resolution ---- */

struct resolver {
	const struct manifest_dirs *dirs;
	struct {
		char *name;
		bool done;
		struct manifest_bottle b;
	} v[MANIFEST_MAX_BOTTLES];
	size_t n;
	char *err;
	size_t err_len;
};

static void resolver_release(struct resolver *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->v[i].name);
		manifest_bottle_release(&r->v[i].b);
	}
}

/* "a -> b -> c -> a" from the bottles in progress, starting at `from`. */
static void cycle_text(const struct resolver *r, size_t from, const char *again, char *out,
		       size_t size)
{
	size_t i, len = 0;
	int n;

	out[0] = '\0';
	for (i = from; i < r->n && len < size; i++) {
		if (r->v[i].done)
			continue;
		n = snprintf(out + len, size - len, "%s -> ", r->v[i].name);
		if (n < 0)
			return;
		len += (size_t)n;
	}
	if (len < size)
		snprintf(out + len, size - len, "%s", again);
}

static int resolve(struct resolver *r, const char *name, const char *from, unsigned long line,
		   unsigned long column, const char *key, struct manifest_bottle **out)
{
	struct manifest_layer layer;
	struct manifest_bottle *parent;
	char where[4200] = "", why[1024], cycle[512];
	struct buf text;
	char *path = NULL;
	size_t i, slot;
	int ret;

	/* The agent's `bottle` or a bottle's `extends` named it; a bottle
	 * asked for by name alone has no such place. */
	if (from)
		snprintf(where, sizeof(where), "%s:%lu:%lu: %s: ", from, line, column, key);
	for (i = 0; i < r->n; i++) {
		if (strcmp(r->v[i].name, name) != 0)
			continue;
		if (r->v[i].done) {
			*out = &r->v[i].b;
			return 0;
		}
		cycle_text(r, i, name, cycle, sizeof(cycle));
		snprintf(r->err, r->err_len, "%scycle: %s", where, cycle);
		return -ELOOP;
	}
	if (r->n == MANIFEST_MAX_BOTTLES) {
		snprintf(r->err, r->err_len, "%smore than %d bottles in the extends graph",
			 where, MANIFEST_MAX_BOTTLES);
		return -E2BIG;
	}
	ret = manifest_find(r->dirs, MANIFEST_BOTTLE, name, &path, why, sizeof(why));
	if (ret < 0) {
		snprintf(r->err, r->err_len, "%s%s", where, why);
		return ret;
	}
	ret = manifest_read_file(path, &text, r->err, r->err_len);
	if (ret < 0) {
		free(path);
		return ret;
	}
	ret = manifest_parse_bottle(name, path, text.p, text.len, &layer, r->err, r->err_len);
	buf_release(&text);
	free(path);
	if (ret < 0)
		return ret;

	slot = r->n++;
	memset(&r->v[slot].b, 0, sizeof(r->v[slot].b));
	r->v[slot].b.supervise = -1;
	r->v[slot].done = false;
	r->v[slot].name = strdup(name);
	ret = -ENOMEM;
	if (!r->v[slot].name || !(r->v[slot].b.name = strdup(name)) ||
	    !(r->v[slot].b.path = strdup(layer.b.path)))
		goto out;
	layer.b.chain = calloc(2, sizeof(char *));
	if (!layer.b.chain || !(layer.b.chain[0] = strdup(name)))
		goto out;
	for (i = 0; layer.extends && layer.extends[i]; i++) {
		ret = resolve(r, layer.extends[i], layer.b.path, layer.extends_line[i],
			      layer.extends_column[i], "extends", &parent);
		if (ret < 0)
			goto out;
		ret = manifest_bottle_merge(&r->v[slot].b, parent);
		if (ret < 0)
			goto out;
	}
	ret = manifest_bottle_merge(&r->v[slot].b, &layer.b);
	if (ret < 0)
		goto out;
	r->v[slot].done = true;
	*out = &r->v[slot].b;
out:
	if (ret == -ENOMEM)
		snprintf(r->err, r->err_len, "out of memory");
	if (ret == -EOVERFLOW) {
		/* Said here, where the file is known; callers up the graph keep it. */
		snprintf(r->err, r->err_len,
			 "%s:1:1: extends: the folded bottle holds more than %d env variables or "
			 "%d repos",
			 layer.b.path, MANIFEST_MAX_ENV_TOTAL, MANIFEST_MAX_REPOS_TOTAL);
		ret = -E2BIG;
	}
	manifest_layer_release(&layer);
	return ret;
}

/* Checks on the folded bottle: what one file may leave to another. */
static int finish_bottle(struct manifest_bottle *b, char *err, size_t err_len)
{
	const struct manifest_repo *repo;
	const char *why;
	size_t i;
	int kind;

	if (b->supervise < 0)
		b->supervise = 1;
	if (!b->log_set)
		b->log = ROUTES_LOG_BLOCKS;
	for (i = 0; i < b->nrepos; i++) {
		repo = &b->repos[i];
		if (!repo->upstream) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: git.repos.%s.upstream: missing: give the URL here "
				 "or in a bottle this one extends",
				 repo->origin.path, repo->origin.line, repo->origin.column, repo->name);
			return -EINVAL;
		}
		kind = manifest_upstream_kind(repo->upstream, &why);
		if (!repo->deploy_key && !repo->token_env) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: git.repos.%s: no credential: give %s",
				 repo->origin.path, repo->origin.line, repo->origin.column, repo->name,
				 kind == MANIFEST_UPSTREAM_HTTPS
					 ? "token_env: VAR (the variable of your environment "
					   "holding a token)"
					 : "deploy_key: PATH (the private key of a deploy key)");
			return -EINVAL;
		}
		if (kind == MANIFEST_UPSTREAM_HTTPS && repo->deploy_key) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: git.repos.%s.deploy_key: an https upstream takes "
				 "token_env; a deploy key needs an ssh upstream",
				 repo->origin.path, repo->origin.line, repo->origin.column, repo->name);
			return -EINVAL;
		}
		if (kind == MANIFEST_UPSTREAM_SSH && repo->token_env) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: git.repos.%s.token_env: an ssh upstream takes "
				 "deploy_key; a token needs an https upstream",
				 repo->origin.path, repo->origin.line, repo->origin.column, repo->name);
			return -EINVAL;
		}
		/* The gate refuses an ssh upstream it cannot authenticate: say so
		 * here, at the manifest, not in the bundle's log. */
		if (kind == MANIFEST_UPSTREAM_SSH && !repo->known_hosts) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: git.repos.%s.known_hosts: missing: an ssh upstream "
				 "needs the server's host key pinned (a known_hosts file: "
				 "ssh-keyscan -t ecdsa,rsa HOST > FILE)",
				 repo->origin.path, repo->origin.line, repo->origin.column, repo->name);
			return -EINVAL;
		}
		if (kind == MANIFEST_UPSTREAM_HTTPS && repo->known_hosts) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: git.repos.%s.known_hosts: an https upstream is "
				 "checked with certificates; known_hosts pins an ssh host",
				 repo->origin.path, repo->origin.line, repo->origin.column, repo->name);
			return -EINVAL;
		}
	}
	if (err_len)
		err[0] = '\0';
	return 0;
}

static int resolve_top(const struct manifest_dirs *dirs, const char *name, const char *from,
		       unsigned long line, unsigned long column, const char *key,
		       struct manifest_bottle *out, char *err, size_t err_len)
{
	struct manifest_dirs defaults;
	struct manifest_bottle *found;
	struct resolver *r;
	int ret;

	memset(out, 0, sizeof(*out));
	out->supervise = -1;
	if (!dirs) {
		manifest_dirs_default(&defaults);
		dirs = &defaults;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	r->dirs = dirs;
	r->err = err;
	r->err_len = err_len;
	ret = resolve(r, name, from, line, column, key, &found);
	if (ret == 0) {
		/* Take the result over; the resolver frees the rest. */
		*out = *found;
		memset(found, 0, sizeof(*found));
		ret = finish_bottle(out, err, err_len);
	}
	resolver_release(r);
	free(r);
	if (ret < 0)
		manifest_bottle_release(out);
	return ret;
}

int manifest_bottle_load(const struct manifest_dirs *dirs, const char *name,
			 struct manifest_bottle *out, char *err, size_t err_len)
{
	return resolve_top(dirs, name, NULL, 0, 0, NULL, out, err, err_len);
}

/* A variable the agent's environment must not get: the agent holds
 * dummies, egress and the git gate hold the credentials. */
static int check_credential_env(const struct manifest_agent *a, char *err, size_t err_len)
{
	const struct manifest_bottle *b = &a->bottle;
	struct manifest_provider_route api;
	const struct manifest_env *e;
	const struct route *route;
	size_t i, j, k;

	manifest_provider_route(a->provider, &api);
	for (i = 0; i < b->nenv; i++) {
		e = &b->env[i];
		if (api.env && strcmp(e->name, api.env) == 0) {
			snprintf(err, err_len,
				 "%s:%lu:%lu: env.%s: egress injects the %s key on requests to "
				 "%s: the agent gets a placeholder, not the key; remove it",
				 e->origin.path, e->origin.line, e->origin.column, e->name,
				 manifest_provider_name(a->provider), api.host);
			return -EINVAL;
		}
		if (!e->host_var)
			continue;
		if (api.env && strcmp(e->host_var, api.env) == 0)
			goto credential;
		for (j = 0; j < b->nrepos; j++)
			if (b->repos[j].token_env && strcmp(e->host_var, b->repos[j].token_env) == 0)
				goto credential;
		for (j = 0; j < b->negress; j++) {
			for (k = 0; k < b->egress[j].routes->n; k++) {
				route = &b->egress[j].routes->v[k];
				if (route->auth && strcmp(route->auth->env, e->host_var) == 0)
					goto credential;
			}
		}
		continue;
credential:
		snprintf(err, err_len,
			 "%s:%lu:%lu: env.%s: ${%s} is a credential the sidecar holds for the "
			 "agent (an injected API key or a git token): the agent must not see it",
			 e->origin.path, e->origin.line, e->origin.column, e->name, e->host_var);
		return -EINVAL;
	}
	return 0;
}

int manifest_agent_load(const struct manifest_dirs *dirs, const char *name,
			struct manifest_agent *out, char *err, size_t err_len)
{
	struct manifest_dirs defaults;
	struct buf text;
	char *path = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	out->bottle.supervise = -1;
	if (!dirs) {
		manifest_dirs_default(&defaults);
		dirs = &defaults;
	}
	ret = manifest_find(dirs, MANIFEST_AGENT, name, &path, err, err_len);
	if (ret < 0)
		return ret;
	ret = manifest_read_file(path, &text, err, err_len);
	if (ret == 0) {
		ret = manifest_parse_agent(name, path, text.p, text.len, out, err, err_len);
		buf_release(&text);
	}
	free(path);
	if (ret < 0)
		return ret;
	ret = resolve_top(dirs, out->bottle_name, out->path, out->bottle_line, out->bottle_column,
			  "bottle", &out->bottle, err, err_len);
	if (ret == 0)
		ret = check_credential_env(out, err, err_len);
	if (ret < 0)
		manifest_agent_release(out);
	return ret;
}

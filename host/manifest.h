/* Agent and bottle manifests (docs/manifests.md): Markdown files with YAML
 * frontmatter under ~/.bottle/{agents,bottles}/ and, overriding per file
 * name, ./.bottle/{agents,bottles}/.
 *
 * Loading an agent finds its file, parses its frontmatter, then resolves
 * its bottle: every bottle of the `extends` graph is parsed once, parents
 * are folded left to right and the child applied last.  The result is a
 * struct manifest_agent holding everything `bottle-host start` renders
 * from: env names and how to get each value (never a value read from the
 * operator's environment: references are stored, resolved at start), the
 * egress route tables in the order egress tries them, git identity and
 * repos, supervise, image overrides.
 *
 * Errors are one line, "file:line:col: key: message", written to the
 * caller's buffer; functions return 0 or a negative errno and never exit
 * or print.
 *
 *     struct manifest_agent a;
 *     char err[1024];
 *     if (manifest_agent_load(NULL, "claude-dev", &a, err, sizeof(err)) < 0)
 *             fprintf(stderr, "%s\n", err);
 *     ...
 *     manifest_agent_release(&a);
 */
#ifndef BOTTLE_MANIFEST_H
#define BOTTLE_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

#include "../shared/buf.h"
#include "../shared/routes.h"

#define MANIFEST_NAME_MAX 64      /* agent and bottle names, [a-z0-9-] */
#define MANIFEST_MAX_BOTTLES 64   /* distinct bottles one agent may pull in */
#define MANIFEST_MAX_FILE (1024 * 1024)
/* Bounds on a folded bottle: merging is by name, linear per entry. */
#define MANIFEST_MAX_ENV_TOTAL 4096
#define MANIFEST_MAX_REPOS_TOTAL 1000

/* Where manifests are looked up: `local` (./.bottle) before `home`
 * (~/.bottle), per file name.  NULL fields are skipped. */
struct manifest_dirs {
	const char *local; /* e.g. "./.bottle" */
	const char *home;  /* e.g. "/home/me/.bottle" */
};

enum manifest_kind {
	MANIFEST_AGENT,
	MANIFEST_BOTTLE,
};

enum manifest_provider {
	MANIFEST_PROVIDER_CLAUDE,
	MANIFEST_PROVIDER_CODEX,
	MANIFEST_PROVIDER_CUSTOM,
};

/* Where a value was (last) set, for messages and `info`. */
struct manifest_origin {
	char *path;
	unsigned long line, column;
};

/* One variable of the agent container's environment.  Exactly one of
 * `value` (a literal from the manifest) and `host_var` (a `${NAME}`
 * reference to the operator's environment, read at start) is set. */
struct manifest_env {
	char *name;
	char *value;
	char *host_var;
	struct manifest_origin origin;
};

/* A repository the git gate serves.  Exactly one credential after
 * resolution: `deploy_key` (a path on the host, absolute or ~/, for ssh
 * upstreams, with `known_hosts` pinning the server's host key, required
 * too) or `token_env` (an operator's environment variable name, for https
 * upstreams). */
struct manifest_repo {
	char *name;
	char *upstream;
	char *deploy_key;
	char *token_env;
	char *known_hosts;
	struct manifest_origin origin; /* the last entry that set a field */
};

/* One bottle's egress section: a routes.yaml document loaded with the
 * egress loader. */
struct manifest_egress {
	char *bottle;          /* the bottle whose file it came from */
	struct routes *routes; /* one reference held */
};

struct manifest_bottle {
	char *name;
	char *path;             /* the file of the bottle itself */
	char **chain;           /* NULL-terminated: every bottle folded in, in fold
	                           order, the bottle itself last */
	struct manifest_env *env;
	size_t nenv;
	bool log_set;           /* some layer wrote egress.log */
	enum routes_log log;
	/* In the order egress tries them: the bottle's own routes first, then
	 * the last parent's (with its own parents), ...; a bottle reached twice
	 * appears once, at its first (highest precedence) place. */
	struct manifest_egress *egress;
	size_t negress;
	char *git_user_name;
	char *git_user_email;
	struct manifest_repo *repos;
	size_t nrepos;
	int supervise;          /* -1 unset (resolved: true), 0, 1 */
	char *image;            /* at most one of image and containerfile */
	char *containerfile;    /* absolute path */
};

struct manifest_agent {
	char *name;
	char *path;
	enum manifest_provider provider;
	char *provider_image;   /* CUSTOM only */
	char **provider_command; /* CUSTOM only; NULL-terminated, or NULL */
	char *bottle_name;
	unsigned long bottle_line, bottle_column; /* of the `bottle` value */
	char *prompt;           /* the Markdown body after the frontmatter */
	size_t prompt_len;
	struct manifest_bottle bottle; /* resolved */
};

/* ---- finding files (manifest_find.c) ---- */

/* Names are file stems: 1..64 of [a-z0-9-], starting with a letter or digit. */
bool manifest_name_valid(const char *name);
/* The search directories of this process: ./.bottle and $HOME/.bottle (or
 * the password database's home when HOME is unset).  The strings live in
 * static storage. */
void manifest_dirs_default(struct manifest_dirs *dirs);
/* The path of <dir>/{agents,bottles}/<name>.md in the first directory that
 * has it, else of the built-in manifest of that name (below): 0 with *path
 * (caller frees), -ENOENT, or another negative errno.
 * `err` says which files were tried when none exists. */
int manifest_find(const struct manifest_dirs *dirs, enum manifest_kind kind,
		  const char *name, char **path, char *err, size_t err_len);

/* Built-in manifests (manifest_builtin.c): manifest_find() falls back to
 * them after both directories, per file name, and manifest_read_file()
 * reads them; their paths start with MANIFEST_BUILTIN_DIR. */
#define MANIFEST_BUILTIN_DIR "(built-in)"
#define MANIFEST_BUILTIN_DEMO_AGENT MANIFEST_BUILTIN_DIR "/agents/demo.md"
/* The text of the built-in manifest at `path`, or NULL. */
const char *manifest_builtin_text(const char *path);

/* ---- parsing one file (manifest_parse.c) ---- */

/* The frontmatter of a manifest's text: the YAML is text[0 .. *yaml_len)
 * (starting with the opening "---" line, which YAML reads as a document
 * start), the body starts at text + *body.  0, or -EINVAL with the reason
 * in err as "name:line:col: message". */
int manifest_split(const char *name, const char *text, size_t len, size_t *yaml_len,
		   size_t *body, char *err, size_t err_len);

/* A bottle file as written, before `extends` is resolved: what it sets
 * and the parents it names. */
struct manifest_layer {
	struct manifest_bottle b;  /* only what this file sets */
	char **extends;            /* NULL-terminated parent names, or NULL */
	unsigned long *extends_line, *extends_column;
};

int manifest_parse_bottle(const char *name, const char *path, const char *text,
			  size_t len, struct manifest_layer *out, char *err, size_t err_len);
int manifest_parse_agent(const char *name, const char *path, const char *text,
			 size_t len, struct manifest_agent *out, char *err, size_t err_len);
void manifest_layer_release(struct manifest_layer *layer);

/* What kind of git upstream a URL is: MANIFEST_UPSTREAM_HTTPS or _SSH
 * (ssh:// or scp-like user@host:path), or -EINVAL with *why completing
 * "the URL ...". */
enum { MANIFEST_UPSTREAM_HTTPS = 1, MANIFEST_UPSTREAM_SSH = 2 };
int manifest_upstream_kind(const char *url, const char **why);

/* Read a manifest file whole (at most MANIFEST_MAX_FILE bytes). */
int manifest_read_file(const char *path, struct buf *out, char *err, size_t err_len);

/* ---- resolving (manifest_resolve.c) ---- */

/* Load agent `name` and resolve its bottle.  dirs NULL: the defaults. */
int manifest_agent_load(const struct manifest_dirs *dirs, const char *name,
			struct manifest_agent *out, char *err, size_t err_len);
/* Load bottle `name` alone, resolved. */
int manifest_bottle_load(const struct manifest_dirs *dirs, const char *name,
			 struct manifest_bottle *out, char *err, size_t err_len);
void manifest_agent_release(struct manifest_agent *a);
void manifest_bottle_release(struct manifest_bottle *b);

/* Fold `src` over `dst` (src wins): the merge rule of `extends`.  0,
 * -ENOMEM, or -EOVERFLOW past MANIFEST_MAX_ENV_TOTAL / _REPOS_TOTAL. */
int manifest_bottle_merge(struct manifest_bottle *dst, const struct manifest_bottle *src);

const char *manifest_provider_name(enum manifest_provider p);

/* ---- rendering (render_routes.c) ---- */

/* The provider's API route with credential injection: claude ->
 * api.anthropic.com x-api-key from ANTHROPIC_API_KEY, codex ->
 * api.openai.com "Authorization: Bearer" from OPENAI_API_KEY.  Fields are
 * NULL for a custom provider. */
struct manifest_provider_route {
	const char *host;
	const char *header;
	const char *scheme;
	const char *env;
};
void manifest_provider_route(enum manifest_provider p, struct manifest_provider_route *out);

/* The bundle's routes.yaml for this agent: the provider's API route first,
 * then every route of the resolved egress in order; `log` as resolved.
 * Written as JSON, which is YAML.  Appends to out. */
int render_routes(const struct manifest_agent *a, struct buf *out);

#endif

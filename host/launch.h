/* The launcher behind `bottle-host start|stop|list` (docs/launcher.md).
 *
 * A running bottle is a slug (`<agent>-<8 hex>`), a state directory
 * `~/.bottle/state/<slug>/` (0700: the CA key, the rendered configs, the
 * `state` file naming the engine and the launcher's pid) and four engine
 * objects (five for the demo: its origin) whose names follow from the
 * slug alone, so `stop` can remove them after a launcher that crashed
 * mid-start.  The queue directory
 * `~/.bottle/queue/<slug>/` outlives the bottle.
 *
 * Functions return 0 or a negative errno with a one-line reason in `err`;
 * none exits or prints, except launch_exec(), whose child inherits stderr. */
#ifndef BOTTLE_LAUNCH_H
#define BOTTLE_LAUNCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "../shared/buf.h"
#include "manifest.h"

#define LAUNCH_SLUG_MAX 64
#define LAUNCH_NAME_MAX 96

/* Where the agent reaches the bundle, and the bundle's ports (DESIGN.md
 * "Ports and names inside the bundle"). */
#define LAUNCH_BUNDLE_HOST "sidecar"
#define LAUNCH_EGRESS_PORT 9099
#define LAUNCH_SUPERVISE_PORT 9100
#define LAUNCH_GITGATE_GIT_PORT 9418
#define LAUNCH_GITGATE_HTTP_PORT 9420
/* The git gate in the bundle: its config, the directory of the deploy keys
 * and known_hosts files (under /etc/sidecar, read-only) and its data
 * directory (a host directory mounted read-write, docs/launcher.md). */
#define LAUNCH_GITGATE_CONFIG "/etc/sidecar/gitgate.yaml"
#define LAUNCH_GITGATE_KEYS "/etc/sidecar/gitgate"
#define LAUNCH_GITGATE_DATA "/var/lib/gitgate"
/* The image's daemon users (rootfs/etc/passwd): one uid per daemon, so a
 * compromised daemon cannot touch another's files, and one shared group,
 * the only one that may write the queue (docs/security.md). */
#define LAUNCH_BUNDLE_GID 10001
#define LAUNCH_SIDECAR_UID 10001
#define LAUNCH_EGRESS_UID 10002
#define LAUNCH_SUPERVISE_UID 10003
#define LAUNCH_GITGATE_UID 10004
/* The agent waits for the operator up to supervise's approval timeout
 * (10 min); its MCP client must wait longer than that. */
#define LAUNCH_MCP_TOOL_TIMEOUT_SEC 900
/* A provider image of this name runs the host's own userland read-only
 * overlaid (`--rootfs /:O`): a test agent with curl, git and node.  Only
 * honoured when BOTTLE_TEST_HOST_ROOTFS=1. */
#define LAUNCH_HOST_ROOTFS_IMAGE "host-rootfs"
/* A provider image of this name is the sidecar image start builds, with
 * the provider's command as its entrypoint, run as nobody: an agent made
 * of our own binaries (the demo's: `sidecar demo-agent`). */
#define LAUNCH_SIDECAR_IMAGE "bottle-sidecar"
/* The demo's stand-in origin (docs/demo.md): the name the bundle reaches
 * it by (its /etc/hosts), and where its files are mounted in it. */
#define LAUNCH_DEMO_ORIGIN_HOST "origin.demo.test"
#define LAUNCH_DEMO_ORIGIN_DIR "/etc/demo-origin"

struct launch_names {
	char slug[LAUNCH_SLUG_MAX];
	char bundle[LAUNCH_NAME_MAX];
	char agent[LAUNCH_NAME_MAX];
	char net_internal[LAUNCH_NAME_MAX];
	char net_egress[LAUNCH_NAME_MAX];
	char origin[LAUNCH_NAME_MAX]; /* the demo's stand-in origin (start demo only) */
};

/* What the `state` file of a bottle records. */
struct launch_state {
	char slug[LAUNCH_SLUG_MAX];
	char agent[MANIFEST_NAME_MAX + 1];
	char engine[64];
	time_t created;
	pid_t pid;                    /* the launcher */
	unsigned long long pid_start; /* its start time, against pid reuse */
	bool keep;
};

/* ---- names and state (launch_state.c) ---- */

bool launch_slug_valid(const char *slug);
/* `<agent>-<8 random hex>`, the agent part cut to fit. */
int launch_slug_make(const char *agent, char *out, size_t len);
void launch_names_init(struct launch_names *n, const char *slug);
/* $HOME/.bottle/<sub>, or BOTTLE_STATE_ROOT / BOTTLE_QUEUE_ROOT. */
int launch_state_root(char *out, size_t len);
int launch_queue_root(char *out, size_t len);
/* mkdir -p with this mode for each component created. */
int launch_mkdirs(const char *path, mode_t mode);
/* Remove a directory tree (no symlink is followed). */
int launch_remove_tree(const char *path);
int launch_state_write(const char *dir, const struct launch_state *s, char *err, size_t len);
int launch_state_read(const char *dir, struct launch_state *s, char *err, size_t len);
/* The start time of a process (/proc/PID/stat field 22), 0 if gone. */
unsigned long long launch_pid_start(pid_t pid);
/* The launcher that wrote `s` still runs. */
bool launch_state_alive(const struct launch_state *s);
/* Write a file of `len` bytes created with `mode` (O_EXCL: never an
 * existing file, never through a symlink). */
int launch_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* ---- the bottle CA (launch_ca.c) ---- */

/* Mint a self-signed ECDSA P-256 CA valid for `days`; the key is written
 * 0600, the certificate 0644. */
int launch_ca_mint(const char *cert_path, const char *key_path, const char *cn, int days,
		   char *err, size_t len);
/* Mint a server certificate for `dns_name` (ECDSA P-256, subjectAltName
 * DNS) signed by the CA in ca_cert_path / ca_key_path; the key is written
 * with key_mode.  The demo's origin (docs/demo.md). */
int launch_leaf_mint(const char *ca_cert_path, const char *ca_key_path, const char *dns_name,
		     int days, const char *cert_path, const char *key_path, mode_t key_mode,
		     char *err, size_t len);

/* ---- rendering (launch_render.c) ---- */

/* The names of every credential the bundle holds for this agent: the
 * provider key, each route's auth.env, each repo's token_env; sorted,
 * unique.  NULL-terminated array of borrowed strings; free the array. */
int launch_secret_names(const struct manifest_agent *a, const char ***names, size_t *n);

struct launch_bundle_opts {
	const char *slug;
	const char *const *secret_names; /* env_inherit of egress */
	size_t nsecret_names;
	bool upstream_ca;  /* pass /etc/sidecar/upstream-ca.crt */
	bool supervise;    /* run `sidecar supervise` too */
	const char *provider_host; /* the agent's LLM API: DLP redacts there */
	bool gitgate;      /* run `sidecar gitgate` with LAUNCH_GITGATE_CONFIG */
};
/* The uid init runs the bundle daemon NAME as (egress, supervise,
 * gitgate: a LAUNCH_*_UID), -ENOENT for a name the image has no user for. */
int launch_daemon_uid(const char *name);
/* The bundle's init.yaml (JSON, which is YAML); each daemon runs as its
 * own uid (launch_daemon_uid) in the group LAUNCH_BUNDLE_GID. */
int launch_render_init(const struct launch_bundle_opts *o, struct buf *out);

/* The git gate's files in LAUNCH_GITGATE_KEYS for a repo: the deploy key
 * `<name>.key` (its public half is `<name>.key.pub`) and the pinned host
 * keys `<name>.known_hosts`.  `suffix` is ".key", ".key.pub" or
 * ".known_hosts"; `dir` is LAUNCH_GITGATE_KEYS in the bundle, or where the
 * launcher writes them on the host. */
int launch_gitgate_file(const char *dir, const char *repo, const char *suffix, char *out,
			size_t len);
/* The gate's gitgate.yaml for this bottle: listening on `listen_host` (an
 * IP literal: the bundle's address on the internal network) or on every
 * address when NULL; data in LAUNCH_GITGATE_DATA; the bottle's git.user as
 * the identity rule; each repo with its upstream and credential (keys by
 * their path in the bundle, tokens by variable name). */
int launch_render_gitgate(const struct manifest_bottle *b, const char *listen_host,
			  struct buf *out);
/* The agent's env-file lines that send git to the gate without the agent
 * knowing: GIT_CONFIG_COUNT, GIT_CONFIG_KEY_<n>, GIT_CONFIG_VALUE_<n> with
 * user.name and user.email from git.user and, for every repo, one
 * `url.<gate_url>/<name>.git.insteadOf` per spelling of its upstream
 * (launch_git_spellings).  Nothing when the bottle has neither. */
int launch_render_git_env(const struct manifest_bottle *b, const char *gate_url,
			  struct buf *out);
/* The URLs an agent may write for `upstream`, each on its own line in
 * `out`: the URL itself, with and without `.git`, and the same repository
 * in the other common forms of its forge (https://HOST/PATH,
 * git@HOST:PATH, ssh://git@HOST/PATH; an ssh upstream keeps its user, and
 * one with a port has no other form).  No duplicates. */
int launch_git_spellings(const char *upstream, struct buf *out);
/* Claude Code's .claude.json with the supervise server under mcpServers. */
int launch_render_mcp_claude(const char *url, struct buf *out);
/* Codex's config.toml with the server under [mcp_servers.bottle]. */
int launch_render_mcp_codex(const char *url, struct buf *out);
/* An --env-file line NAME=VALUE; -EINVAL for a value no env file can
 * carry (a newline or NUL). */
int launch_env_line(struct buf *out, const char *name, const char *value);
/* Random lowercase hex, 2 * nbytes characters. */
int launch_random_hex(char *out, size_t nbytes);

/* ---- the demo's origin (launch_demo.c) ---- */

struct launch_argv;
/* Create `dir` (0755) with the origin's files: its CA certificate
 * `ca.crt` (the bundle's upstream CA for the demo; the CA key is deleted
 * once it signed), `origin.crt` and `origin.key` for
 * LAUNCH_DEMO_ORIGIN_HOST (the key handed to the image's sidecar user when
 * we are root), and `init.yaml` running `sidecar demo-origin`. */
int launch_demo_origin_files(const char *dir, char *err, size_t len);
/* `ENGINE run ...` of the origin container: named names->origin, on the
 * egress network, confined as the bundle is, `dir` mounted read-only at
 * LAUNCH_DEMO_ORIGIN_DIR. */
void launch_demo_origin_args(struct launch_argv *a, const char *engine,
			     const struct launch_names *n, const char *dir, const char *image);

/* ---- running programs (launch_exec.c) ---- */

/* A growing NULL-terminated argv of owned strings. */
struct launch_argv {
	char **v;
	size_t n, cap;
	bool failed; /* an add ran out of memory; launch_exec refuses it */
};
void launch_argv_add(struct launch_argv *a, const char *s);
void launch_argv_addf(struct launch_argv *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void launch_argv_release(struct launch_argv *a);

enum {
	LAUNCH_EXEC_QUIET = 1,      /* the child's stderr goes to /dev/null */
	LAUNCH_EXEC_TERMINAL = 2,   /* the child keeps stdin and its process group */
	LAUNCH_EXEC_MERGE = 4,      /* the child's stderr goes where its stdout goes */
	LAUNCH_EXEC_PROGRESS = 8,   /* the child's stdout goes to our stderr */
};
/* fork/exec argv (PATH search), never a shell.  stdout goes to `out` when
 * given (capped), else to /dev/null unless LAUNCH_EXEC_TERMINAL.  The
 * child's exit status (128+signal when killed), or a negative errno. */
int launch_exec(struct launch_argv *a, struct buf *out, int flags);
/* The same with stdout appended to the file at `path`. */
int launch_exec_to_file(struct launch_argv *a, const char *path, int flags);
/* The same, with the child's pid reported through *child as soon as it
 * runs (for signal forwarding); *child is 0 again once it was reaped. */
int launch_exec_tracked(struct launch_argv *a, struct buf *out, int flags,
			volatile pid_t *child);

/* ---- the engine (launch_engine.c) ---- */

/* `flag` (--engine), else $BOTTLE_ENGINE, else podman when on PATH, else
 * docker.  Only podman and docker are accepted. */
int launch_engine_pick(const char *flag, char *out, size_t len, char *err, size_t errlen);
bool launch_on_path(const char *program);
/* Remove what a bottle made in the engine: the agent, the bundle (stopped
 * with its grace period, its log appended to <queue_dir>/bundle.log when
 * queue_dir is given), the demo's origin, both networks.  Missing objects are fine: this
 * runs after crashes too.  0, or the number of objects left behind. */
int launch_teardown(const char *engine, const struct launch_names *n, const char *queue_dir);
/* The bundle's `run` arguments that confine it (docs/security.md): a
 * read-only root with no writable tmpfs but init's socket folder, no
 * shared memory, no capabilities but the three init needs, and
 * no-new-privileges.  Appended to `a`. */
void launch_bundle_privilege_args(struct launch_argv *a, const char *engine);
/* Run `engine ARGS...` (NULL-terminated) quietly; its status. */
int launch_engine(const char *engine, struct buf *out, ...) __attribute__((sentinel));

#endif

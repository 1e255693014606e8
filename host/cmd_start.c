/* bottle-host start: resolve an agent, mint its bottle's CA, render the
 * bundle's configs, start the bundle and the agent on their networks,
 * attach the terminal, and remove everything when the agent exits. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "launch.h"
#include "manifest.h"
#include "../shared/exit_codes.h"

static const char start_usage[] =
	"usage: bottle-host start <agent> [--cwd DIR] [--engine podman|docker] [--keep]\n"
	"\n"
	"Run an agent in its bottle: the agent container reaches nothing but the\n"
	"sidecar bundle, whose egress proxy holds the real credentials.\n"
	"\n"
	"  --cwd DIR        the workspace mounted at /workspace (default: the current\n"
	"                   directory)\n"
	"  --engine NAME    podman or docker (default: $BOTTLE_ENGINE, else podman when\n"
	"                   installed, else docker)\n"
	"  --keep           keep the state directory (CA, rendered configs) afterwards\n"
	"\n"
	"Steps: resolve the manifests (bottle-host info shows the result); mint a CA\n"
	"for this bottle under ~/.bottle/state/<slug>/; build the sidecar image if\n"
	"the sidecar binary changed; create an internal network (agent and bundle)\n"
	"and an egress network (bundle only); start the bundle and wait until every\n"
	"daemon is ready; start the agent with the proxy, the CA, the MCP server and\n"
	"git's URL rewrites to the git gate (for the bottle's git repos) configured,\n"
	"and attach the terminal.  When the agent exits (or on Ctrl-C,\n"
	"or `bottle-host stop <slug>`) containers and networks are removed; the\n"
	"queue and logs stay under ~/.bottle/queue/<slug>/.\n"
	"\n"
	"`bottle-host start demo` runs the built-in demo agent (unless a manifest\n"
	"agents/demo.md replaces it) against a stand-in internet it starts on the\n"
	"bundle's egress network, and prints what the sidecar decided for each of\n"
	"its requests, clones and pushes (docs/demo.md).\n"
	"\n"
	"Credentials: the provider's key (ANTHROPIC_API_KEY, OPENAI_API_KEY), every\n"
	"route's auth.env and repo's token_env are read from your environment now\n"
	"and handed to the bundle alone, through a 0600 file removed once it\n"
	"started.  The agent gets a placeholder key and BOTTLE_CANARY.  Each repo's\n"
	"deploy_key (with KEY.pub) and known_hosts are copied to the bundle for the\n"
	"git gate alone.\n"
	"\n"
	"Environment: BOTTLE_SIDECAR (the sidecar binary; default: next to\n"
	"bottle-host), BOTTLE_UPSTREAM_CA (a PEM bundle egress verifies upstreams\n"
	"with instead of the system's), BOTTLE_READY_TIMEOUT (seconds, default 60),\n"
	"BOTTLE_STATE_ROOT, BOTTLE_QUEUE_ROOT.  docs/launcher.md has the details.\n"
	"\n"
	"Exit status: the agent's; 3 a manifest is missing or invalid; 2 bad\n"
	"arguments; 1 the bottle could not be started (nothing is left behind).\n";

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"
#define MCP_URL "http://" LAUNCH_BUNDLE_HOST ":9100/mcp"
#define PROXY_URL "http://" LAUNCH_BUNDLE_HOST ":9099"
#define GATE_URL "http://" LAUNCH_BUNDLE_HOST ":9420"
#define DEMO_TOKEN_ENV "BOTTLE_DEMO_GIT_TOKEN"

struct start {
	const char *agent_name, *cwd_flag, *engine_flag;
	bool keep;
	char engine[64];
	char cwd[PATH_MAX];
	char sidecar[PATH_MAX];
	char state_root[PATH_MAX], state_dir[PATH_MAX];
	char queue_root[PATH_MAX], queue_dir[PATH_MAX];
	char image[256];
	char bundle_ip[64];
	char canary[65];
	struct manifest_agent agent;
	struct launch_names names;
	struct launch_state state;
	const char **secrets;
	size_t nsecrets;
	bool supervise;
	bool gitgate;      /* the bottle has repos: the bundle runs the git gate */
	char gate_ip[64];  /* its address on the internal network; "": every address */
	bool host_rootfs;
	bool sidecar_agent; /* the agent runs in the sidecar image (the demo's) */
	bool demo;          /* the built-in demo: its origin runs too */
	char origin_ip[64]; /* the demo origin's address on the egress network */
	bool created; /* the state directory is ours to remove */
};

static volatile sig_atomic_t stop_requested;
static volatile pid_t attached_child;

/* A signal the terminal sent reaches the engine too (same process group);
 * one sent to the launcher alone (kill, `bottle-host stop`) is passed on
 * so the engine stops the agent. */
static void on_signal(int sig, siginfo_t *info, void *context)
{
	pid_t child = attached_child;

	(void)context;
	stop_requested = sig;
	if (child > 0 && (sig != SIGINT || info->si_code == SI_USER))
		kill(child, sig);
}

static void signals_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	fputs("bottle-host: start: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return -1;
}

static void progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void progress(const char *fmt, ...)
{
	va_list ap;

	fputs("bottle-host: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int interrupted(void)
{
	return stop_requested ? fail("interrupted by signal %d; cleaning up", (int)stop_requested)
			      : 0;
}

static int path_join(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? fail("path too long: %s/%s", dir, name) : 0;
}

/* BOTTLE_SIDECAR, else `sidecar` next to this bottle-host. */
static int find_sidecar(struct start *s)
{
	const char *env = getenv("BOTTLE_SIDECAR");
	char self[PATH_MAX], *slash;
	ssize_t n;

	if (env && env[0]) {
		if (!realpath(env, s->sidecar))
			return fail("BOTTLE_SIDECAR: '%s': %s", env, strerror(errno));
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n <= 0)
			return fail("cannot find bottle-host's own path: %s", strerror(errno));
		self[n] = '\0';
		slash = strrchr(self, '/');
		*slash = '\0';
		if (path_join(s->sidecar, sizeof(s->sidecar), self, "sidecar") < 0)
			return -1;
	}
	if (access(s->sidecar, X_OK) < 0)
		return fail("no sidecar binary at '%s' (build it, or set BOTTLE_SIDECAR)",
			    s->sidecar);
	return 0;
}

/* Whether the sidecar binary has the `supervise` applet (`sidecar
 * --list`): the image is built from this very binary. */
static bool sidecar_has_applet(const struct start *s, const char *applet)
{
	struct launch_argv a = { 0 };
	struct buf out;
	const char *p;
	size_t n = strlen(applet);
	bool found = false;

	buf_init(&out, 64 * 1024);
	launch_argv_add(&a, s->sidecar);
	launch_argv_add(&a, "--list");
	if (launch_exec(&a, &out, LAUNCH_EXEC_QUIET) == 0)
		for (p = out.p; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
			if (strncmp(p, applet, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
				found = true;
	launch_argv_release(&a);
	buf_release(&out);
	return found;
}

/* scripts/build-image.sh tags the image with a hash of its content and
 * skips the build when that tag exists; one build at a time per machine
 * (it assembles its context in one place). */
static int build_image(struct start *s)
{
	char build_dir[PATH_MAX], script[PATH_MAX], tag_path[PATH_MAX], lock_path[PATH_MAX];
	struct launch_argv a = { 0 };
	char *slash;
	int fd, lock, ret;
	ssize_t n;

	snprintf(build_dir, sizeof(build_dir), "%s", s->sidecar);
	slash = strrchr(build_dir, '/');
	*slash = '\0';
	if (path_join(script, sizeof(script), build_dir, "../scripts/build-image.sh") < 0 ||
	    path_join(tag_path, sizeof(tag_path), build_dir, "image/tag") < 0 ||
	    path_join(lock_path, sizeof(lock_path), s->state_root, ".image.lock") < 0)
		return -1;
	if (access(script, X_OK) < 0)
		return fail("no '%s' to build the sidecar image with", script);
	lock = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lock < 0 || flock(lock, LOCK_EX) < 0)
		return fail("unable to lock '%s': %s", lock_path, strerror(errno));
	if (setenv("BOTTLE_ENGINE", s->engine, 1) < 0 || setenv("SIDECAR", s->sidecar, 1) < 0) {
		close(lock);
		return fail("out of memory");
	}
	progress("checking the sidecar image (%s)", script);
	launch_argv_add(&a, script);
	launch_argv_add(&a, build_dir);
	/* Its progress lines go to the operator's terminal. */
	ret = launch_exec(&a, NULL, LAUNCH_EXEC_PROGRESS);
	launch_argv_release(&a);
	if (ret != 0) {
		close(lock);
		return fail("building the sidecar image failed (status %d)", ret);
	}
	fd = open(tag_path, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, s->image, sizeof(s->image) - 1) : -1;
	if (fd >= 0)
		close(fd);
	close(lock);
	if (n <= 0)
		return fail("no image tag in '%s'", tag_path);
	s->image[n] = '\0';
	s->image[strcspn(s->image, "\n")] = '\0';
	return 0;
}

/* Every credential the bundle holds must be set now: fail closed before
 * anything is created. */
static int check_secrets(struct start *s)
{
	const char *value;
	size_t i;

	if (launch_secret_names(&s->agent, &s->secrets, &s->nsecrets) < 0)
		return fail("out of memory");
	for (i = 0; i < s->nsecrets; i++) {
		value = getenv(s->secrets[i]);
		if (!value || !value[0])
			return fail("%s is not set in your environment; the bundle injects it "
				    "(bottle-host info %s shows where it is needed)",
				    s->secrets[i], s->agent_name);
		if (strpbrk(value, "\n\r"))
			return fail("%s holds a line break; it cannot be passed to the bundle",
				    s->secrets[i]);
	}
	return 0;
}

/* A path of the manifest, absolute or ~/ for the operator's home. */
static int expand_home(const char *path, char *out, size_t len)
{
	const char *home = getenv("HOME");
	int n;

	if (path[0] == '~' && !(home && home[0]))
		return fail("'%s': HOME is not set", path);
	n = snprintf(out, len, "%s%s", path[0] == '~' ? home : "", path + (path[0] == '~'));
	return n < 0 || (size_t)n >= len ? fail("path too long: %s", path) : 0;
}

static int check_readable(const char *path, const char *what, const struct manifest_repo *r,
			  const char *hint)
{
	if (access(path, R_OK) == 0)
		return 0;
	return fail("git repo %s: %s '%s': %s (%s:%lu)%s", r->name, what, path, strerror(errno),
		    r->origin.path, r->origin.line, hint);
}

/* The gate needs each deploy key, its public half and the pinned host
 * keys: all must be readable now, before anything is created. */
static int check_repo_files(struct start *s)
{
	const struct manifest_bottle *b = &s->agent.bottle;
	char key[PATH_MAX], pub[PATH_MAX + 8], known[PATH_MAX];
	size_t i;

	for (i = 0; i < b->nrepos; i++) {
		const struct manifest_repo *r = &b->repos[i];

		if (!r->deploy_key)
			continue;
		if (expand_home(r->deploy_key, key, sizeof(key)) < 0 ||
		    check_readable(key, "deploy_key", r, "") < 0)
			return -1;
		snprintf(pub, sizeof(pub), "%s.pub", key);
		if (check_readable(pub, "the deploy key's public half", r,
				   "; make it with ssh-keygen -y -f KEY > KEY.pub") < 0)
			return -1;
		if (expand_home(r->known_hosts, known, sizeof(known)) < 0 ||
		    check_readable(known, "known_hosts", r, "") < 0)
			return -1;
	}
	return 0;
}

static int pick_agent_image(struct start *s)
{
	const struct manifest_bottle *b = &s->agent.bottle;
	const char *image = b->image ? b->image : s->agent.provider_image;

	if (b->containerfile)
		return fail("bottle %s: containerfile is not supported by start yet; build the "
			    "image and name it with image:", b->name);
	if (image && strcmp(image, LAUNCH_HOST_ROOTFS_IMAGE) == 0) {
		const char *ok = getenv("BOTTLE_TEST_HOST_ROOTFS");

		if (!ok || strcmp(ok, "1") != 0)
			return fail("image %s runs your own userland and is for tests only "
				    "(BOTTLE_TEST_HOST_ROOTFS=1)", LAUNCH_HOST_ROOTFS_IMAGE);
		if (strcmp(s->engine, "podman") != 0)
			return fail("image %s needs podman (--rootfs)", LAUNCH_HOST_ROOTFS_IMAGE);
		s->host_rootfs = true;
	}
	if (image && strcmp(image, LAUNCH_SIDECAR_IMAGE) == 0) {
		if (!s->agent.provider_command || !s->agent.provider_command[0])
			return fail("image %s needs a command: the program in the image to run "
				    "(e.g. [/bin/sidecar, demo-agent])", LAUNCH_SIDECAR_IMAGE);
		s->sidecar_agent = true;
	}
	return 0;
}

static int write_text(const char *dir, const char *name, const struct buf *b, mode_t mode)
{
	char path[PATH_MAX];
	int ret;

	if (path_join(path, sizeof(path), dir, name) < 0)
		return -1;
	ret = launch_write_file(path, b->p, b->len, mode);
	return ret < 0 ? fail("unable to write '%s': %s", path, strerror(-ret)) : 0;
}

static int copy_file(const char *from, const char *dir, const char *name, mode_t mode)
{
	struct buf b;
	char err[512];
	int ret;

	buf_init(&b, 16 * 1024 * 1024);
	ret = manifest_read_file(from, &b, err, sizeof(err));
	if (ret < 0)
		ret = fail("%s", err);
	else
		ret = write_text(dir, name, &b, mode);
	buf_release(&b);
	return ret;
}

/* init drops each daemon to its own uid in the bundle's group: the files
 * a daemon must read (the CA key: egress alone) or write (the queue: the
 * group) are handed to those ids.  Only root can; a rootless engine maps
 * ids itself (docs/security.md). */
static int hand_over(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
	if (geteuid() != 0)
		return 0;
	if (chown(path, uid, gid) < 0 || chmod(path, mode) < 0)
		return fail("unable to hand '%s' to the bundle's users: %s", path, strerror(errno));
	return 0;
}

/* The queue is the one path the daemons share for writing: the folder
 * and its subfolders belong to the bundle's group (setgid, so what the
 * daemons and the operator create there stays in it), writable by the
 * group; queue files themselves are 0644, and renaming or archiving one
 * needs only its folder's write permission. */
static int share_queue(const char *dir)
{
	static const char *const subs[] = { "pending", "responses", "processed", "grants" };
	char path[PATH_MAX];
	size_t i;

	if (mkdir(dir, 0750) < 0)
		return fail("unable to create '%s': %s", dir, strerror(errno));
	if (hand_over(dir, (uid_t)-1, LAUNCH_BUNDLE_GID, 02770) < 0)
		return -1;
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		if (path_join(path, sizeof(path), dir, subs[i]) < 0)
			return -1;
		if (mkdir(path, 0750) < 0)
			return fail("unable to create '%s': %s", path, strerror(errno));
		if (hand_over(path, (uid_t)-1, LAUNCH_BUNDLE_GID, 02770) < 0)
			return -1;
	}
	return 0;
}

/* The gate's keys, copied into the bundle's config directory (mounted
 * read-only) and handed to the gate's user, since the operator's own
 * files are theirs and 0600; and the gate's data directory, on disk in
 * the state directory (mirrors can be large: not a tmpfs). */
static int gitgate_files(struct start *s, const char *bundle_dir)
{
	const struct manifest_bottle *b = &s->agent.bottle;
	char dir[PATH_MAX], from[PATH_MAX], to[PATH_MAX], data[PATH_MAX];
	size_t i, j;
	static const struct {
		const char *suffix;
		mode_t mode;
	} files[] = { { ".key", 0400 }, { ".key.pub", 0644 }, { ".known_hosts", 0644 } };

	if (path_join(dir, sizeof(dir), bundle_dir, "gitgate") < 0 ||
	    path_join(data, sizeof(data), s->state_dir, "gitgate-data") < 0)
		return -1;
	if (mkdir(dir, 0755) < 0 || mkdir(data, 0700) < 0)
		return fail("unable to create '%s' or '%s': %s", dir, data, strerror(errno));
	if (hand_over(data, LAUNCH_GITGATE_UID, LAUNCH_BUNDLE_GID, 0700) < 0)
		return -1;
	for (i = 0; i < b->nrepos; i++) {
		const struct manifest_repo *r = &b->repos[i];

		for (j = 0; r->deploy_key && j < sizeof(files) / sizeof(files[0]); j++) {
			const char *source = j == 2 ? r->known_hosts : r->deploy_key;

			if (expand_home(source, from, sizeof(from)) < 0)
				return -1;
			if (j == 1)
				strncat(from, ".pub", sizeof(from) - strlen(from) - 1);
			if (launch_gitgate_file(dir, r->name, files[j].suffix, to, sizeof(to)) < 0)
				return fail("path too long: %s/%s", dir, r->name);
			/* The deploy key for the gate alone, as the CA key is
			 * for egress alone. */
			if (copy_file(from, dir, strrchr(to, '/') + 1, files[j].mode) < 0 ||
			    hand_over(to, LAUNCH_GITGATE_UID, LAUNCH_BUNDLE_GID, files[j].mode) < 0)
				return -1;
		}
	}
	return 0;
}

static int render_bundle(struct start *s)
{
	struct launch_bundle_opts o = { 0 };
	struct manifest_provider_route api;
	char dir[PATH_MAX], path[PATH_MAX], ca_key[PATH_MAX], ca_crt[PATH_MAX], err[512];
	const char *upstream = getenv("BOTTLE_UPSTREAM_CA");
	struct buf b;
	int ret;

	if (path_join(dir, sizeof(dir), s->state_dir, "bundle") < 0 ||
	    path_join(ca_key, sizeof(ca_key), s->state_dir, "ca.key") < 0 ||
	    path_join(ca_crt, sizeof(ca_crt), s->state_dir, "ca.crt") < 0)
		return -1;
	if (mkdir(dir, 0755) < 0)
		return fail("unable to create '%s': %s", dir, strerror(errno));
	if (launch_ca_mint(ca_crt, ca_key, s->names.slug, 30, err, sizeof(err)) < 0)
		return fail("%s", err);
	if (copy_file(ca_crt, dir, "ca.crt", 0644) < 0 || copy_file(ca_key, dir, "ca.key", 0400) < 0)
		return -1;
	/* egress alone: not supervise, not the git gate, not init itself
	 * (root in the bundle, but without CAP_DAC_OVERRIDE). */
	if (path_join(path, sizeof(path), dir, "ca.key") < 0 ||
	    hand_over(path, LAUNCH_EGRESS_UID, LAUNCH_BUNDLE_GID, 0400) < 0)
		return -1;
	if (upstream && upstream[0] && copy_file(upstream, dir, "upstream-ca.crt", 0644) < 0)
		return -1;

	if (s->gitgate && gitgate_files(s, dir) < 0)
		return -1;

	buf_init(&b, (size_t)-1);
	o.slug = s->names.slug;
	o.secret_names = s->secrets;
	o.nsecret_names = s->nsecrets;
	o.upstream_ca = upstream && upstream[0];
	o.supervise = s->supervise;
	manifest_provider_route(s->agent.provider, &api);
	o.provider_host = api.host;
	o.gitgate = s->gitgate;
	ret = launch_render_init(&o, &b) < 0 ? fail("out of memory") : write_text(dir, "init.yaml", &b, 0644);
	buf_clear(&b);
	if (ret == 0 && render_routes(&s->agent, &b) < 0)
		ret = fail("out of memory");
	/* supervise replaces it (a rename in the queue folder), egress reads it. */
	if (ret == 0)
		ret = write_text(s->queue_dir, "routes.yaml", &b, 0644);
	buf_release(&b);
	return ret;
}

/* The agent's view: the bottle CA alone (Node adds it to its own), the
 * system bundle plus the bottle CA (OpenSSL, curl, git, Python), and the
 * MCP client configs of the two known providers. */
static int render_agent(struct start *s)
{
	char dir[PATH_MAX], sub[PATH_MAX], ca_crt[PATH_MAX], err[512];
	struct buf b;
	int ret = -1;

	buf_init(&b, 16 * 1024 * 1024);
	if (path_join(dir, sizeof(dir), s->state_dir, "agent") < 0 ||
	    path_join(ca_crt, sizeof(ca_crt), s->state_dir, "ca.crt") < 0)
		goto out;
	if (mkdir(dir, 0755) < 0) {
		fail("unable to create '%s': %s", dir, strerror(errno));
		goto out;
	}
	if (copy_file(ca_crt, dir, "ca.crt", 0644) < 0)
		goto out;
	if (access(SYSTEM_CA_BUNDLE, R_OK) == 0 &&
	    manifest_read_file(SYSTEM_CA_BUNDLE, &b, err, sizeof(err)) < 0) {
		fail("%s", err);
		goto out;
	}
	if (b.len && b.p[b.len - 1] != '\n' && buf_append(&b, "\n", 1) < 0)
		goto out;
	if (manifest_read_file(ca_crt, &b, err, sizeof(err)) < 0) {
		fail("%s", err);
		goto out;
	}
	if (write_text(dir, "ca-bundle.crt", &b, 0644) < 0)
		goto out;
	if (s->supervise && s->agent.provider != MANIFEST_PROVIDER_CUSTOM) {
		bool claude = s->agent.provider == MANIFEST_PROVIDER_CLAUDE;

		if (path_join(sub, sizeof(sub), dir, claude ? "claude" : "codex") < 0)
			goto out;
		if (mkdir(sub, 0777) < 0) {
			fail("unable to create '%s': %s", sub, strerror(errno));
			goto out;
		}
		/* The agent's user writes its own state next to the config. */
		chmod(sub, 0777);
		buf_clear(&b);
		if ((claude ? launch_render_mcp_claude(MCP_URL, &b)
			    : launch_render_mcp_codex(MCP_URL, &b)) < 0 ||
		    write_text(sub, claude ? ".claude.json" : "config.toml", &b, 0666) < 0)
			goto out;
	}
	ret = 0;
out:
	buf_release(&b);
	return ret;
}

static int inspect(const struct start *s, const char *format, const char *object, char *out,
		   size_t len);

/* The last host address of an IPv4 "a.b.c.d/len", or -EINVAL. */
static int subnet_last_host(const char *cidr, char *out, size_t len)
{
	char net[INET_ADDRSTRLEN];
	struct in_addr addr;
	const char *slash = strchr(cidr, '/');
	long bits = slash ? strtol(slash + 1, NULL, 10) : -1;
	uint32_t host, mask;

	if (!slash || (size_t)(slash - cidr) >= sizeof(net) || bits < 8 || bits > 30)
		return -EINVAL;
	snprintf(net, sizeof(net), "%.*s", (int)(slash - cidr), cidr);
	if (inet_pton(AF_INET, net, &addr) != 1)
		return -EINVAL;
	mask = 0xffffffffu << (32 - bits);
	host = (ntohl(addr.s_addr) & mask) | (~mask - 1);
	addr.s_addr = htonl(host);
	return inet_ntop(AF_INET, &addr, out, (socklen_t)len) ? 0 : -EINVAL;
}

/* The gate listens on the internal network only: nothing on the egress
 * network (or beyond, routed by the host) may push through its deploy
 * keys.  With podman the bundle is given a fixed address there (the last
 * of the new network's subnet; the bundle joins it first), which the gate's
 * config names.  docker takes a fixed address only on networks created
 * with an explicit subnet: there the gate listens on every address of the
 * bundle (docs/launcher.md). */
static int render_gitgate(struct start *s)
{
	char subnets[256], dir[PATH_MAX], *space;
	struct buf b;
	int ret;

	if (strcmp(s->engine, "podman") == 0) {
		if (inspect(s, "{{range .Subnets}}{{.Subnet}} {{end}}", s->names.net_internal,
			    subnets, sizeof(subnets)) != 0)
			return fail("%s network inspect %s failed", s->engine,
				    s->names.net_internal);
		space = strchr(subnets, ' ');
		if (space)
			*space = '\0';
		if (subnet_last_host(subnets, s->gate_ip, sizeof(s->gate_ip)) < 0)
			return fail("network %s: cannot place the git gate in its subnet '%s' "
				    "(an IPv4 subnet of /8 to /30 is needed)",
				    s->names.net_internal, subnets);
	}
	if (path_join(dir, sizeof(dir), s->state_dir, "bundle") < 0)
		return -1;
	buf_init(&b, (size_t)-1);
	ret = launch_render_gitgate(&s->agent.bottle, s->gate_ip[0] ? s->gate_ip : NULL, &b);
	ret = ret < 0 ? fail("out of memory") : write_text(dir, "gitgate.yaml", &b, 0644);
	buf_release(&b);
	return ret;
}

static int create_networks(struct start *s)
{
	char label[128];

	snprintf(label, sizeof(label), "bottle.slug=%s", s->names.slug);
	progress("creating networks %s (internal) and %s", s->names.net_internal,
		 s->names.net_egress);
	if (launch_engine(s->engine, NULL, "network", "create", "--internal", "--label", label,
			  s->names.net_internal, NULL) != 0)
		return fail("%s network create %s failed", s->engine, s->names.net_internal);
	if (launch_engine(s->engine, NULL, "network", "create", "--label", label,
			  s->names.net_egress, NULL) != 0)
		return fail("%s network create %s failed", s->engine, s->names.net_egress);
	return 0;
}

/* Write an env file (0600), run `a`, remove the file whatever happened:
 * the values never appear on an argv and do not outlive the start. */
static int exec_with_env_file(const char *path, const struct buf *env, struct launch_argv *a,
			      struct buf *out)
{
	int ret = launch_write_file(path, env->p, env->len, 0600);

	if (ret < 0)
		return fail("unable to write '%s': %s", path, strerror(-ret));
	ret = launch_exec(a, out, LAUNCH_EXEC_QUIET);
	unlink(path);
	return ret;
}

static int add_secret_env(struct buf *env, const char *name, const char *value)
{
	return launch_env_line(env, name, value) < 0 ? fail("%s: cannot be passed (line break)", name)
						     : 0;
}

static int start_bundle(struct start *s)
{
	char conf[PATH_MAX], env_path[PATH_MAX], label[128];
	struct launch_argv a = { 0 };
	struct buf env, out;
	size_t i;
	int ret = -1;

	buf_init(&env, (size_t)-1);
	buf_init(&out, 64 * 1024);
	if (path_join(conf, sizeof(conf), s->state_dir, "bundle") < 0 ||
	    path_join(env_path, sizeof(env_path), s->state_dir, "bundle.env") < 0)
		goto out;
	if (add_secret_env(&env, "BOTTLE_CANARY", s->canary) < 0 ||
	    add_secret_env(&env, "BOTTLE_NAME", s->names.slug) < 0)
		goto out;
	for (i = 0; i < s->nsecrets; i++)
		if (add_secret_env(&env, s->secrets[i], getenv(s->secrets[i])) < 0)
			goto out;
	snprintf(label, sizeof(label), "bottle.slug=%s", s->names.slug);
	launch_argv_add(&a, s->engine);
	launch_argv_add(&a, "run");
	launch_argv_add(&a, "--detach");
	launch_argv_addf(&a, "--name=%s", s->names.bundle);
	launch_argv_addf(&a, "--label=%s", label);
	launch_argv_addf(&a, "--hostname=%s", LAUNCH_BUNDLE_HOST);
	launch_argv_addf(&a, "--network=%s", s->names.net_egress);
	if (s->demo)
		launch_argv_addf(&a, "--add-host=%s:%s", LAUNCH_DEMO_ORIGIN_HOST, s->origin_ip);
	launch_bundle_privilege_args(&a, s->engine);
	launch_argv_addf(&a, "--env-file=%s", env_path);
	launch_argv_addf(&a, "--volume=%s:/etc/sidecar:ro", conf);
	launch_argv_addf(&a, "--volume=%s:/run/supervise/queue:rw", s->queue_dir);
	if (s->gitgate)
		launch_argv_addf(&a, "--volume=%s/gitgate-data:%s:rw", s->state_dir,
				 LAUNCH_GITGATE_DATA);
	launch_argv_add(&a, s->image);
	launch_argv_add(&a, "--config");
	launch_argv_add(&a, "/etc/sidecar/init.yaml");
	progress("starting the bundle %s (%s)", s->names.bundle, s->image);
	ret = exec_with_env_file(env_path, &env, &a, &out);
	if (ret != 0) {
		ret = fail("%s run %s failed (status %d)", s->engine, s->names.bundle, ret);
		goto out;
	}
	ret = s->gate_ip[0]
		? launch_engine(s->engine, NULL, "network", "connect", "--alias", LAUNCH_BUNDLE_HOST,
				"--ip", s->gate_ip, s->names.net_internal, s->names.bundle, NULL)
		: launch_engine(s->engine, NULL, "network", "connect", "--alias", LAUNCH_BUNDLE_HOST,
				s->names.net_internal, s->names.bundle, NULL);
	if (ret != 0)
		ret = fail("%s network connect %s failed", s->engine, s->names.net_internal);
out:
	launch_argv_release(&a);
	buf_release(&env);
	buf_release(&out);
	return ret;
}

static int inspect(const struct start *s, const char *format, const char *object, char *out,
		   size_t len)
{
	struct buf b;
	int ret;

	buf_init(&b, 4096);
	ret = launch_engine(s->engine, &b, "inspect", "--format", format, object, NULL);
	if (ret == 0) {
		b.p[strcspn(b.p, "\n")] = '\0';
		snprintf(out, len, "%s", b.p);
	}
	buf_release(&b);
	return ret;
}

/* Ready means `sidecar initctl status` says every daemon is: init's own
 * health check, asked inside the container (the bundle, or the demo's
 * origin, which runs the same image). */
static int wait_init_ready(struct start *s, const char *container, const char *what)
{
	const char *env = getenv("BOTTLE_READY_TIMEOUT");
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	long timeout = env ? strtol(env, NULL, 10) : 60;
	time_t deadline = time(NULL) + (timeout > 0 ? timeout : 60);
	char running[16];
	struct launch_argv logs = { 0 };

	progress("waiting for the %s's daemons to be ready", what);
	for (;;) {
		if (launch_engine(s->engine, NULL, "exec", container, "/bin/sidecar", "initctl",
				  "--timeout", "5", "status", NULL) == 0)
			return 0;
		if (interrupted() < 0)
			return -1;
		if (inspect(s, "{{.State.Running}}", container, running, sizeof(running)) != 0 ||
		    strcmp(running, "true") != 0) {
			fail("the %s exited before it was ready; its log:", what);
			launch_argv_add(&logs, s->engine);
			launch_argv_add(&logs, "logs");
			launch_argv_add(&logs, container);
			launch_exec(&logs, NULL, LAUNCH_EXEC_TERMINAL);
			launch_argv_release(&logs);
			return -1;
		}
		if (time(NULL) >= deadline)
			return fail("the %s was not ready after %lds (see %s logs %s)", what, timeout,
				    s->engine, container);
		nanosleep(&pause, NULL);
	}
}

static int wait_ready(struct start *s)
{
	char format[256];

	if (wait_init_ready(s, s->names.bundle, "bundle") < 0)
		return -1;
	snprintf(format, sizeof(format), "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}",
		 s->names.net_internal);
	if (inspect(s, format, s->names.bundle, s->bundle_ip, sizeof(s->bundle_ip)) != 0 ||
	    !s->bundle_ip[0])
		return fail("cannot find the bundle's address on %s", s->names.net_internal);
	return 0;
}

static int agent_env(struct start *s, struct buf *env)
{
	const struct manifest_bottle *b = &s->agent.bottle;
	struct manifest_provider_route api;
	char no_proxy[256];
	const char *value;
	size_t i;
	int ret = 0;
	static const char *const proxies[] = { "HTTPS_PROXY", "https_proxy", "HTTP_PROXY",
					       "http_proxy" };
	static const char *const bundles[] = { "SSL_CERT_FILE", "CURL_CA_BUNDLE",
					       "GIT_SSL_CAINFO", "REQUESTS_CA_BUNDLE" };

	snprintf(no_proxy, sizeof(no_proxy), "%s,%s,localhost,127.0.0.1,::1", LAUNCH_BUNDLE_HOST,
		 s->bundle_ip);
	for (i = 0; i < sizeof(proxies) / sizeof(proxies[0]) && ret == 0; i++)
		ret = launch_env_line(env, proxies[i], PROXY_URL);
	if (ret == 0)
		ret = launch_env_line(env, "NO_PROXY", no_proxy);
	if (ret == 0)
		ret = launch_env_line(env, "no_proxy", no_proxy);
	for (i = 0; i < sizeof(bundles) / sizeof(bundles[0]) && ret == 0; i++)
		ret = launch_env_line(env, bundles[i], "/etc/bottle/ca-bundle.crt");
	if (ret == 0)
		ret = launch_env_line(env, "NODE_EXTRA_CA_CERTS", "/etc/bottle/ca.crt");
	if (ret == 0)
		ret = launch_env_line(env, "BOTTLE_CANARY", s->canary);
	if (ret == 0)
		ret = launch_env_line(env, "BOTTLE_NAME", s->names.slug);
	if (ret == 0 && s->supervise)
		ret = launch_env_line(env, "BOTTLE_MCP_URL", MCP_URL);
	/* The provider's client needs a key to start; egress swaps in the real
	 * one on the provider's route, so this one is worth nothing. */
	manifest_provider_route(s->agent.provider, &api);
	if (ret == 0 && api.env)
		ret = launch_env_line(env, api.env, "bottle-placeholder-key-injected-by-egress");
	if (ret == 0 && s->supervise && s->agent.provider == MANIFEST_PROVIDER_CLAUDE) {
		ret = launch_env_line(env, "CLAUDE_CONFIG_DIR", "/etc/bottle/claude");
		if (ret == 0)
			ret = buf_appendf(env, "MCP_TOOL_TIMEOUT=%d\n",
					  LAUNCH_MCP_TOOL_TIMEOUT_SEC * 1000);
	}
	if (ret == 0 && s->supervise && s->agent.provider == MANIFEST_PROVIDER_CODEX)
		ret = launch_env_line(env, "CODEX_HOME", "/etc/bottle/codex");
	if (ret == 0 && b->git_user_name) {
		ret = launch_env_line(env, "GIT_AUTHOR_NAME", b->git_user_name);
		if (ret == 0)
			ret = launch_env_line(env, "GIT_COMMITTER_NAME", b->git_user_name);
	}
	if (ret == 0 && b->git_user_email) {
		ret = launch_env_line(env, "GIT_AUTHOR_EMAIL", b->git_user_email);
		if (ret == 0)
			ret = launch_env_line(env, "GIT_COMMITTER_EMAIL", b->git_user_email);
	}
	/* git reaches the gate for the bottle's repos by their usual URLs. */
	if (ret == 0)
		ret = launch_render_git_env(b, GATE_URL, env);
	if (ret < 0)
		return fail("out of memory");
	/* The bottle's own env last: it may override a default above, never
	 * a credential (the manifest loader refused those). */
	for (i = 0; i < b->nenv; i++) {
		const struct manifest_env *e = &b->env[i];

		value = e->host_var ? getenv(e->host_var) : e->value;
		if (!value)
			return fail("env %s: ${%s} is not set in your environment (%s:%lu)", e->name,
				    e->host_var, e->origin.path, e->origin.line);
		if (launch_env_line(env, e->name, value) < 0)
			return fail("env %s: the value holds a line break (%s:%lu)", e->name,
				    e->origin.path, e->origin.line);
	}
	return 0;
}

static int create_agent(struct start *s, bool tty)
{
	char env_path[PATH_MAX], agent_dir[PATH_MAX], label[128];
	struct launch_argv a = { 0 };
	struct buf env;
	size_t i;
	int ret = -1;

	buf_init(&env, (size_t)-1);
	if (path_join(env_path, sizeof(env_path), s->state_dir, "agent.env") < 0 ||
	    path_join(agent_dir, sizeof(agent_dir), s->state_dir, "agent") < 0 ||
	    agent_env(s, &env) < 0)
		goto out;
	snprintf(label, sizeof(label), "bottle.slug=%s", s->names.slug);
	launch_argv_add(&a, s->engine);
	launch_argv_add(&a, "create");
	launch_argv_add(&a, "--interactive");
	if (tty)
		launch_argv_add(&a, "--tty");
	launch_argv_addf(&a, "--name=%s", s->names.agent);
	launch_argv_addf(&a, "--label=%s", label);
	launch_argv_addf(&a, "--network=%s", s->names.net_internal);
	launch_argv_addf(&a, "--add-host=%s:%s", LAUNCH_BUNDLE_HOST, s->bundle_ip);
	launch_argv_add(&a, "--cap-drop=NET_RAW");
	/* The internal network's bridge on the host has an IPv6 link-local
	 * address even with no IPv4 gateway: an agent with IPv6 reaches every
	 * host service listening on [::] through it (t4200).  The bundle is
	 * reached over IPv4, so the agent gets no IPv6 at all. */
	launch_argv_add(&a, "--sysctl=net.ipv6.conf.all.disable_ipv6=1");
	launch_argv_add(&a, "--sysctl=net.ipv6.conf.default.disable_ipv6=1");
	launch_argv_add(&a, "--security-opt=no-new-privileges");
	launch_argv_addf(&a, "--env-file=%s", env_path);
	launch_argv_addf(&a, "--volume=%s:/workspace", s->cwd);
	launch_argv_add(&a, "--workdir=/workspace");
	launch_argv_addf(&a, "--volume=%s:/etc/bottle", agent_dir);
	if (s->host_rootfs) {
		launch_argv_add(&a, "--rootfs");
		launch_argv_add(&a, "/:O");
	} else if (s->sidecar_agent) {
		/* Our own binary as the agent: not init, and not root. */
		launch_argv_addf(&a, "--entrypoint=%s", s->agent.provider_command[0]);
		launch_argv_add(&a, "--user=65534:65534");
		launch_argv_add(&a, s->image);
	} else {
		launch_argv_add(&a, s->agent.bottle.image ? s->agent.bottle.image
				    : s->agent.provider_image ? s->agent.provider_image
				    : s->agent.provider == MANIFEST_PROVIDER_CLAUDE
					    ? "localhost/bottle-claude"
					    : "localhost/bottle-codex");
	}
	for (i = s->sidecar_agent ? 1 : 0;
	     s->agent.provider_command && s->agent.provider_command[i]; i++)
		launch_argv_add(&a, s->agent.provider_command[i]);
	ret = exec_with_env_file(env_path, &env, &a, NULL);
	if (ret != 0)
		ret = fail("%s create %s failed (status %d)", s->engine, s->names.agent, ret);
out:
	launch_argv_release(&a);
	buf_release(&env);
	return ret;
}

/* Attach until the agent exits; its exit code is the engine's record of
 * it, not the attach client's status. */
static int run_agent(struct start *s, bool tty)
{
	struct launch_argv a = { 0 };
	char code[32];
	long status;
	int ret;

	launch_argv_add(&a, s->engine);
	launch_argv_add(&a, "start");
	launch_argv_add(&a, "--attach");
	launch_argv_add(&a, "--interactive");
	launch_argv_add(&a, s->names.agent);
	progress("starting the agent %s%s", s->names.agent, tty ? "" : " (no terminal)");
	if (stop_requested) {
		launch_argv_release(&a);
		return interrupted();
	}
	ret = launch_exec_tracked(&a, NULL, LAUNCH_EXEC_TERMINAL, &attached_child);
	launch_argv_release(&a);
	if (ret < 0)
		return fail("cannot run %s: %s", s->engine, strerror(-ret));
	if (inspect(s, "{{.State.ExitCode}}", s->names.agent, code, sizeof(code)) != 0)
		return ret;
	status = strtol(code, NULL, 10);
	return status >= 0 && status <= 255 ? (int)status : ret;
}

/* The demo bottle's repo names a token variable, as an https upstream
 * must; its origin asks for none, so any value does. */
static int demo_token(void)
{
	char token[33];

	if (getenv(DEMO_TOKEN_ENV))
		return 0;
	if (launch_random_hex(token, 16) < 0)
		return fail("cannot read /dev/urandom");
	return setenv(DEMO_TOKEN_ENV, token, 1) < 0 ? fail("out of memory") : 0;
}

/* The origin's CA is the bundle's upstream CA for this run: egress and
 * the git gate verify the origin with it (and trust nothing else). */
static int demo_files(struct start *s)
{
	char dir[PATH_MAX], ca[PATH_MAX], err[512];

	if (path_join(dir, sizeof(dir), s->state_dir, "demo-origin") < 0 ||
	    path_join(ca, sizeof(ca), dir, "ca.crt") < 0)
		return -1;
	if (launch_demo_origin_files(dir, err, sizeof(err)) < 0)
		return fail("%s", err);
	return setenv("BOTTLE_UPSTREAM_CA", ca, 1) < 0 ? fail("out of memory") : 0;
}

/* The origin joins the egress network before the bundle, which then
 * finds it by name in its /etc/hosts (no DNS server is needed). */
static int start_origin(struct start *s)
{
	struct launch_argv a = { 0 };
	char dir[PATH_MAX], format[256];
	int ret;

	if (path_join(dir, sizeof(dir), s->state_dir, "demo-origin") < 0)
		return -1;
	launch_demo_origin_args(&a, s->engine, &s->names, dir, s->image);
	progress("starting the demo's origin %s (%s, on %s)", s->names.origin,
		 LAUNCH_DEMO_ORIGIN_HOST, s->names.net_egress);
	ret = launch_exec(&a, NULL, LAUNCH_EXEC_QUIET);
	launch_argv_release(&a);
	if (ret != 0)
		return fail("%s run %s failed (status %d)", s->engine, s->names.origin, ret);
	if (wait_init_ready(s, s->names.origin, "demo origin") < 0)
		return -1;
	snprintf(format, sizeof(format), "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}",
		 s->names.net_egress);
	if (inspect(s, format, s->names.origin, s->origin_ip, sizeof(s->origin_ip)) != 0 ||
	    !s->origin_ip[0])
		return fail("cannot find the origin's address on %s", s->names.net_egress);
	return 0;
}

static int prepare(struct start *s, int argc, char **argv)
{
	char err[2048];
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(start_usage, stdout);
			exit(EXIT_OK);
		} else if (strcmp(argv[i], "--keep") == 0) {
			s->keep = true;
		} else if ((strcmp(argv[i], "--cwd") == 0 || strcmp(argv[i], "--engine") == 0) &&
			   i + 1 < argc) {
			*(argv[i][2] == 'c' ? &s->cwd_flag : &s->engine_flag) = argv[i + 1];
			i++;
		} else if (argv[i][0] == '-' || s->agent_name) {
			fputs(start_usage, stderr);
			exit(EXIT_USAGE);
		} else {
			s->agent_name = argv[i];
		}
	}
	if (!s->agent_name) {
		fputs(start_usage, stderr);
		exit(EXIT_USAGE);
	}
	if (manifest_agent_load(NULL, s->agent_name, &s->agent, err, sizeof(err)) < 0) {
		fprintf(stderr, "bottle-host: start: %s\n", err);
		exit(EXIT_CONFIG);
	}
	s->demo = strcmp(s->agent.path, MANIFEST_BUILTIN_DEMO_AGENT) == 0;
	if (s->demo && demo_token() < 0)
		return -1;
	if (launch_engine_pick(s->engine_flag, s->engine, sizeof(s->engine), err, sizeof(err)) < 0)
		return fail("%s", err);
	if (!realpath(s->cwd_flag ? s->cwd_flag : ".", s->cwd))
		return fail("--cwd '%s': %s", s->cwd_flag ? s->cwd_flag : ".", strerror(errno));
	if (find_sidecar(s) < 0 || pick_agent_image(s) < 0 || check_secrets(s) < 0 ||
	    check_repo_files(s) < 0)
		return -1;
	s->supervise = s->agent.bottle.supervise != 0;
	s->gitgate = s->agent.bottle.nrepos > 0;
	if (s->gitgate && !sidecar_has_applet(s, "gitgate"))
		return fail("the bottle has git repos but this sidecar has no gitgate applet; "
			    "rebuild it (make all)");
	if (s->supervise && !sidecar_has_applet(s, "supervise")) {
		progress("warning: this sidecar has no supervise applet; starting without the "
			 "MCP server");
		s->supervise = false;
	}
	if (launch_random_hex(s->canary, 32) < 0)
		return fail("cannot read /dev/urandom");
	return 0;
}

/* The state directory first, so that from here on `list` shows the
 * bottle and `stop` can clean whatever the next steps create. */
static int make_state(struct start *s)
{
	char err[512], slug[LAUNCH_SLUG_MAX];
	int ret;

	if (launch_state_root(s->state_root, sizeof(s->state_root)) < 0 ||
	    launch_queue_root(s->queue_root, sizeof(s->queue_root)) < 0)
		return fail("cannot find your home directory (set HOME)");
	ret = launch_mkdirs(s->state_root, 0700);
	if (ret == 0)
		ret = launch_mkdirs(s->queue_root, 0750);
	if (ret < 0)
		return fail("unable to create '%s' or '%s': %s", s->state_root, s->queue_root,
			    strerror(-ret));
	if (launch_slug_make(s->agent_name, slug, sizeof(slug)) < 0)
		return fail("cannot make a bottle name for '%s'", s->agent_name);
	launch_names_init(&s->names, slug);
	if (path_join(s->state_dir, sizeof(s->state_dir), s->state_root, slug) < 0 ||
	    path_join(s->queue_dir, sizeof(s->queue_dir), s->queue_root, slug) < 0)
		return -1;
	if (mkdir(s->state_dir, 0700) < 0)
		return fail("unable to create '%s': %s", s->state_dir, strerror(errno));
	s->created = true;
	if (share_queue(s->queue_dir) < 0)
		return -1;
	snprintf(s->state.slug, sizeof(s->state.slug), "%s", slug);
	snprintf(s->state.agent, sizeof(s->state.agent), "%s", s->agent_name);
	snprintf(s->state.engine, sizeof(s->state.engine), "%s", s->engine);
	s->state.created = time(NULL);
	s->state.pid = getpid();
	s->state.pid_start = launch_pid_start(s->state.pid);
	s->state.keep = s->keep;
	if (launch_state_write(s->state_dir, &s->state, err, sizeof(err)) < 0)
		return fail("%s", err);
	progress("bottle %s (state %s, queue %s)", slug, s->state_dir, s->queue_dir);
	return 0;
}

static void finish(struct start *s)
{
	char err[512];
	int left;

	if (!s->created)
		return;
	left = launch_teardown(s->engine, &s->names, s->queue_dir);
	if (left)
		fail("%d engine object%s of %s could not be removed; run bottle-host stop %s", left,
		     left == 1 ? "" : "s", s->names.slug, s->names.slug);
	if (s->keep) {
		/* No launcher runs it any more: `list` must not think so. */
		s->state.pid = 0;
		s->state.pid_start = 0;
		if (launch_state_write(s->state_dir, &s->state, err, sizeof(err)) < 0)
			fail("%s", err);
	} else if (!left && launch_remove_tree(s->state_dir) < 0) {
		fail("unable to remove '%s'", s->state_dir);
	}
}

int cmd_start(int argc, char **argv)
{
	struct start s;
	bool tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
	int status = EXIT_FAILURE_GENERIC, ret;

	memset(&s, 0, sizeof(s));
	signals_install();
	ret = prepare(&s, argc, argv);
	if (ret == 0)
		ret = make_state(&s);
	if (ret == 0)
		ret = interrupted();
	if (ret == 0)
		ret = build_image(&s);
	if (ret == 0)
		ret = interrupted();
	if (ret == 0 && s.demo)
		ret = demo_files(&s);
	if (ret == 0)
		ret = render_bundle(&s);
	if (ret == 0)
		ret = render_agent(&s);
	if (ret == 0)
		ret = create_networks(&s);
	if (ret == 0 && s.gitgate)
		ret = render_gitgate(&s);
	if (ret == 0 && s.demo)
		ret = start_origin(&s);
	if (ret == 0)
		ret = interrupted();
	if (ret == 0)
		ret = start_bundle(&s);
	if (ret == 0)
		ret = wait_ready(&s);
	if (ret == 0)
		ret = create_agent(&s, tty);
	if (ret == 0) {
		ret = run_agent(&s, tty);
		if (ret >= 0)
			status = ret;
	}
	finish(&s);
	free(s.secrets);
	manifest_agent_release(&s.agent);
	return status;
}

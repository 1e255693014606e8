/* Choosing the engine and removing a bottle's engine objects.  Teardown
 * works from names alone (launch_names_init), so `stop` can clean after a
 * launcher that died at any step of `start`. */
#include "launch.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool launch_on_path(const char *program)
{
	const char *path = getenv("PATH"), *p, *colon;
	char candidate[PATH_MAX];
	size_t n;

	if (strchr(program, '/'))
		return access(program, X_OK) == 0;
	for (p = path ? path : "/usr/bin:/bin"; *p; p = *colon ? colon + 1 : colon) {
		colon = strchrnul(p, ':');
		n = (size_t)(colon - p);
		if (n && snprintf(candidate, sizeof(candidate), "%.*s/%s", (int)n, p, program) <
				 (int)sizeof(candidate) &&
		    access(candidate, X_OK) == 0)
			return true;
	}
	return false;
}

int launch_engine_pick(const char *flag, char *out, size_t len, char *err, size_t errlen)
{
	const char *want = flag ? flag : getenv("BOTTLE_ENGINE");

	if (want && want[0]) {
		if (strcmp(want, "podman") != 0 && strcmp(want, "docker") != 0) {
			snprintf(err, errlen, "%s: the engine is podman or docker",
				 flag ? "--engine" : "BOTTLE_ENGINE");
			return -EINVAL;
		}
	} else if (launch_on_path("podman")) {
		want = "podman";
	} else if (launch_on_path("docker")) {
		want = "docker";
	} else {
		snprintf(err, errlen, "no container engine: install podman or docker");
		return -ENOENT;
	}
	if (!launch_on_path(want)) {
		snprintf(err, errlen, "%s is not on PATH", want);
		return -ENOENT;
	}
	snprintf(out, len, "%s", want);
	return 0;
}

int launch_engine(const char *engine, struct buf *out, ...)
{
	struct launch_argv a = { 0 };
	const char *arg;
	va_list ap;
	int ret;

	launch_argv_add(&a, engine);
	va_start(ap, out);
	while ((arg = va_arg(ap, const char *)))
		launch_argv_add(&a, arg);
	va_end(ap);
	ret = launch_exec(&a, out, LAUNCH_EXEC_QUIET);
	launch_argv_release(&a);
	return ret;
}

static bool exists(const char *engine, const char *kind, const char *name)
{
	return launch_engine(engine, NULL, kind, "inspect", name, NULL) == 0;
}

int launch_teardown(const char *engine, const struct launch_names *n, const char *queue_dir)
{
	struct launch_argv a = { 0 };
	char log_path[PATH_MAX];
	int left = 0;

	if (exists(engine, "container", n->agent)) {
		launch_engine(engine, NULL, "rm", "--force", n->agent, NULL);
		left += exists(engine, "container", n->agent);
	}
	if (exists(engine, "container", n->bundle)) {
		/* The grace period lets egress finish its decision lines. */
		launch_engine(engine, NULL, "stop", "--time", "10", n->bundle, NULL);
		if (queue_dir &&
		    snprintf(log_path, sizeof(log_path), "%s/bundle.log", queue_dir) <
			    (int)sizeof(log_path)) {
			launch_argv_add(&a, engine);
			launch_argv_add(&a, "logs");
			launch_argv_add(&a, n->bundle);
			/* Decision lines are on stdout, init's on stderr: keep both. */
			launch_exec_to_file(&a, log_path, LAUNCH_EXEC_MERGE);
			launch_argv_release(&a);
		}
		launch_engine(engine, NULL, "rm", "--force", n->bundle, NULL);
		left += exists(engine, "container", n->bundle);
	}
	/* The demo's origin is on the egress network: gone before it. */
	if (exists(engine, "container", n->origin)) {
		launch_engine(engine, NULL, "rm", "--force", n->origin, NULL);
		left += exists(engine, "container", n->origin);
	}
	if (exists(engine, "network", n->net_internal)) {
		launch_engine(engine, NULL, "network", "rm", n->net_internal, NULL);
		left += exists(engine, "network", n->net_internal);
	}
	if (exists(engine, "network", n->net_egress)) {
		launch_engine(engine, NULL, "network", "rm", n->net_egress, NULL);
		left += exists(engine, "network", n->net_egress);
	}
	return left;
}

void launch_bundle_privilege_args(struct launch_argv *a, const char *engine)
{
	launch_argv_add(a, "--read-only");
	/* podman alone mounts writable tmpfs on /tmp, /var/tmp and /run of a
	 * read-only container, each a path every daemon could write. */
	if (strcmp(engine, "podman") == 0)
		launch_argv_add(a, "--read-only-tmpfs=false");
	/* init's control socket; only init (root) creates files there. */
	launch_argv_add(a, "--tmpfs=/run/sidecar:mode=0755");
	/* No /dev/shm, and no message queues: neither is a path the daemons
	 * could share. */
	launch_argv_add(a, "--ipc=none");
	launch_argv_add(a, "--tmpfs=/dev/mqueue:ro");
	launch_argv_add(a, "--cap-drop=all");
	/* init (root in the bundle) needs exactly these: SETUID and SETGID to
	 * drop each daemon to its user, KILL to signal daemons that no longer
	 * run as its uid.  The daemons keep none (setuid clears them), and
	 * with no-new-privileges no exec gives any back. */
	launch_argv_add(a, "--cap-add=setuid");
	launch_argv_add(a, "--cap-add=setgid");
	launch_argv_add(a, "--cap-add=kill");
	launch_argv_add(a, "--security-opt=no-new-privileges");
}

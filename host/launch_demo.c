/* The demo's stand-in internet (docs/demo.md): the files and the `run`
 * arguments of the origin container `bottle-host start demo` runs on the
 * bundle's egress network.  It is the sidecar image again, its init
 * running `sidecar demo-origin`: an HTTPS origin and, behind TLS, a git
 * upstream, with a certificate of a CA minted for this one run. */
#include "launch.h"

#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../shared/log.h"

/* The origin's init config: one daemon, as the image's unprivileged
 * `sidecar` user; its data on the container's /tmp tmpfs. */
static const char origin_init[] =
	"grace_period: 2s\n"
	"control_socket: /run/sidecar/init.sock\n"
	"daemons:\n"
	"  - name: demo-origin\n"
	"    argv: [/bin/sidecar, demo-origin, --cert, " LAUNCH_DEMO_ORIGIN_DIR "/origin.crt,\n"
	"           --key, " LAUNCH_DEMO_ORIGIN_DIR "/origin.key, --data, /tmp/demo-origin,\n"
	"           --ready-fd, \"3\"]\n"
	"    user: sidecar\n"
	"    ready_fd: 3\n";

static int path_in(char *out, size_t len, const char *dir, const char *name)
{
	int n = snprintf(out, len, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int launch_demo_origin_files(const char *dir, char *err, size_t len)
{
	char ca_crt[PATH_MAX], ca_key[PATH_MAX], crt[PATH_MAX], key[PATH_MAX], init[PATH_MAX];
	bool root = geteuid() == 0;
	int ret;

	if (path_in(ca_crt, sizeof(ca_crt), dir, "ca.crt") < 0 ||
	    path_in(ca_key, sizeof(ca_key), dir, "ca.key") < 0 ||
	    path_in(crt, sizeof(crt), dir, "origin.crt") < 0 ||
	    path_in(key, sizeof(key), dir, "origin.key") < 0 ||
	    path_in(init, sizeof(init), dir, "init.yaml") < 0) {
		error_format(err, len, "path too long: %s", dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(dir, 0755) < 0) {
		ret = -errno;
		error_format(err, len, "unable to create '%s': %s", dir, strerror(errno));
		return ret;
	}
	ret = launch_ca_mint(ca_crt, ca_key, "bottle demo origin CA", 2, err, len);
	/* The key for the origin's daemon (uid 10001) alone when we can give
	 * it away; a rootless engine maps ids, so there it is readable to all
	 * (a key minted for this run, guarding nothing but the demo). */
	if (ret == 0)
		ret = launch_leaf_mint(ca_crt, ca_key, LAUNCH_DEMO_ORIGIN_HOST, 2, crt, key,
				       root ? 0400 : 0644, err, len);
	if (ret == 0 && root && chown(key, LAUNCH_SIDECAR_UID, LAUNCH_BUNDLE_GID) < 0) {
		ret = -errno;
		error_format(err, len, "unable to hand '%s' to the origin's user: %s", key,
			     strerror(errno));
	}
	if (ret == 0) {
		ret = launch_write_file(init, origin_init, strlen(origin_init), 0644);
		if (ret < 0)
			error_format(err, len, "unable to write '%s': %s", init, strerror(-ret));
	}
	/* Nothing signs with the CA again. */
	unlink(ca_key);
	return ret;
}

void launch_demo_origin_args(struct launch_argv *a, const char *engine,
			     const struct launch_names *n, const char *dir, const char *image)
{
	launch_argv_add(a, engine);
	launch_argv_add(a, "run");
	launch_argv_add(a, "--detach");
	launch_argv_addf(a, "--name=%s", n->origin);
	launch_argv_addf(a, "--label=bottle.slug=%s", n->slug);
	launch_argv_addf(a, "--network=%s", n->net_egress);
	/* Confined as the bundle is, with a /tmp for the repository. */
	launch_bundle_privilege_args(a, engine);
	launch_argv_add(a, "--tmpfs=/tmp:mode=1777");
	launch_argv_addf(a, "--volume=%s:%s:ro", dir, LAUNCH_DEMO_ORIGIN_DIR);
	launch_argv_add(a, image);
	launch_argv_add(a, "--config");
	launch_argv_add(a, LAUNCH_DEMO_ORIGIN_DIR "/init.yaml");
}

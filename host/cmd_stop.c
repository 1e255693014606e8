/* bottle-host stop: end a running bottle from another terminal, or clean
 * up after a launcher that died.  The launcher is asked first (it removes
 * what it made and exits with the agent's code); whatever is left after
 * that, or after a crash, is removed here by name. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "launch.h"
#include "../shared/exit_codes.h"

static const char stop_usage[] =
	"usage: bottle-host stop [--time SECONDS] <slug>...\n"
	"\n"
	"Stop bottles by the slug `bottle-host list` shows (agent-xxxxxxxx).  The\n"
	"agent container is stopped (SIGTERM, then SIGKILL after --time seconds,\n"
	"default 10); its launcher then removes both containers and both networks\n"
	"and exits with the agent's code.  When the launcher is gone (it crashed or\n"
	"was killed) or has not finished 20 seconds later, stop removes the\n"
	"containers, networks and state itself.  The queue and the bundle's log\n"
	"stay in ~/.bottle/queue/<slug>/.\n"
	"\n"
	"  --time SECONDS   the agent's grace period before SIGKILL (default 10)\n"
	"\n"
	"Exit status: 0 every bottle is gone; 1 something could not be removed or\n"
	"no such bottle; 2 bad arguments.\n";

#define LAUNCHER_WAIT_SECONDS 20

static int stop_one(const char *slug, const char *grace)
{
	char root[PATH_MAX], dir[PATH_MAX], queue_root[PATH_MAX], queue_dir[PATH_MAX], err[512];
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	struct launch_state st;
	struct launch_names names;
	time_t deadline;
	int left;

	if (!launch_slug_valid(slug)) {
		fprintf(stderr, "bottle-host: stop: not a bottle slug (see bottle-host list)\n");
		return EXIT_FAILURE_GENERIC;
	}
	if (launch_state_root(root, sizeof(root)) < 0 ||
	    launch_queue_root(queue_root, sizeof(queue_root)) < 0) {
		fprintf(stderr, "bottle-host: stop: cannot find your home directory (set HOME)\n");
		return EXIT_FAILURE_GENERIC;
	}
	if (snprintf(dir, sizeof(dir), "%s/%s", root, slug) >= (int)sizeof(dir) ||
	    snprintf(queue_dir, sizeof(queue_dir), "%s/%s", queue_root, slug) >=
		    (int)sizeof(queue_dir)) {
		fprintf(stderr, "bottle-host: stop: the state path is too long\n");
		return EXIT_FAILURE_GENERIC;
	}
	if (launch_state_read(dir, &st, err, sizeof(err)) < 0) {
		fprintf(stderr, "bottle-host: stop: no bottle %s: %s\n", slug, err);
		return EXIT_FAILURE_GENERIC;
	}
	launch_names_init(&names, slug);
	if (launch_state_alive(&st)) {
		/* Stopping the agent ends the launcher's attach: it then tears
		 * down and exits with the agent's code, as on a normal exit. */
		fprintf(stderr, "bottle-host: stop: stopping the agent of %s (launcher pid %d)\n",
			slug, (int)st.pid);
		launch_engine(st.engine, NULL, "stop", "--time", grace, names.agent, NULL);
		deadline = time(NULL) + LAUNCHER_WAIT_SECONDS;
		while (launch_state_alive(&st) && time(NULL) < deadline)
			nanosleep(&pause, NULL);
		if (launch_state_alive(&st))
			kill(st.pid, SIGTERM);
	}
	left = launch_teardown(st.engine, &names, queue_dir);
	if (left) {
		fprintf(stderr, "bottle-host: stop: %d engine object%s of %s could not be removed\n",
			left, left == 1 ? "" : "s", slug);
		return EXIT_FAILURE_GENERIC;
	}
	if (launch_remove_tree(dir) < 0) {
		fprintf(stderr, "bottle-host: stop: unable to remove '%s'\n", dir);
		return EXIT_FAILURE_GENERIC;
	}
	fprintf(stderr, "bottle-host: stop: %s stopped\n", slug);
	return EXIT_OK;
}

static bool seconds_valid(const char *text)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	return errno == 0 && end != text && *end == '\0' && v >= 0 && v <= 3600;
}

int cmd_stop(int argc, char **argv)
{
	const char *grace = "10";
	int i, first = 0, status = EXIT_OK;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(stop_usage, stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[i], "--time") == 0 && i + 1 < argc && seconds_valid(argv[i + 1]) &&
		    !first) {
			grace = argv[++i];
			continue;
		}
		if (argv[i][0] == '-') {
			fputs(stop_usage, stderr);
			return EXIT_USAGE;
		}
		if (!first)
			first = i;
	}
	if (!first) {
		fputs(stop_usage, stderr);
		return EXIT_USAGE;
	}
	for (i = first; i < argc; i++)
		if (stop_one(argv[i], grace) != EXIT_OK)
			status = EXIT_FAILURE_GENERIC;
	return status;
}

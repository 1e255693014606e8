/* bottle-host stop: end a running bottle from another terminal, or clean
 * up after a launcher that died.  The launcher is asked first (it removes
 * what it made and exits with the agent's code); whatever is left after
 * that, or after a crash, is removed here by name. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "launch.h"
#include "../shared/exit_codes.h"

static const char stop_usage[] =
	"usage: bottle-host stop <slug>...\n"
	"\n"
	"Stop bottles by the slug `bottle-host list` shows (agent-xxxxxxxx).  A\n"
	"running launcher is sent SIGTERM: the agent gets it, then the launcher\n"
	"removes both containers and both networks and exits with the agent's\n"
	"code.  After 20 seconds, or when the launcher is gone (it crashed or was\n"
	"killed), stop removes the containers, networks and state itself.  The\n"
	"queue and the bundle's log stay in ~/.bottle/queue/<slug>/.\n"
	"\n"
	"Exit status: 0 every bottle is gone; 1 something could not be removed or\n"
	"no such bottle; 2 bad arguments.\n";

#define LAUNCHER_WAIT_SECONDS 20

static int stop_one(const char *slug)
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
	if (launch_state_alive(&st)) {
		fprintf(stderr, "bottle-host: stop: asking the launcher of %s (pid %d) to stop\n",
			slug, (int)st.pid);
		kill(st.pid, SIGTERM);
		deadline = time(NULL) + LAUNCHER_WAIT_SECONDS;
		while (launch_state_alive(&st) && time(NULL) < deadline)
			nanosleep(&pause, NULL);
	}
	launch_names_init(&names, slug);
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

int cmd_stop(int argc, char **argv)
{
	int i, status = EXIT_OK;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(stop_usage, stdout);
			return EXIT_OK;
		}
		if (argv[i][0] == '-') {
			fputs(stop_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc < 2) {
		fputs(stop_usage, stderr);
		return EXIT_USAGE;
	}
	for (i = 1; i < argc; i++)
		if (stop_one(argv[i]) != EXIT_OK)
			status = EXIT_FAILURE_GENERIC;
	return status;
}

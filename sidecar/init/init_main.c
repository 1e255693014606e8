/* sidecar init: PID 1 of the bundle.  Start-up only: arguments, config,
 * then the supervisor runs until every process has exited.
 *
 * usage: sidecar init [--config PATH] [--check]
 *
 * (The usage text below is the reference; docs/init.md has the rest.) */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../applet.h"
#include "../../shared/config_yaml.h"
#include "../../shared/log.h"

static const char init_usage[] =
	"usage: sidecar init [--config PATH] [--check]\n"
	"\n"
	"Run as PID 1 of the bundle (or as a child subreaper anywhere else): start\n"
	"the daemons listed in the config, restart crashed ones with exponential\n"
	"backoff, give up on one that crash-loops, reap every zombie, pass SIGHUP,\n"
	"SIGUSR1 and SIGUSR2 on to the daemons, and on SIGTERM, SIGINT or SIGQUIT\n"
	"stop everything: that signal to every daemon's process group, SIGKILL\n"
	"after the grace period, and exit only once no process is left.\n"
	"\n"
	"  --config PATH  the config file (default " INIT_DEFAULT_CONFIG ")\n"
	"  --check        load and check the config, print a summary, exit\n"
	"  --help         this text\n"
	"\n"
	"`sidecar initctl` talks to the control socket (status, reload NAME,\n"
	"restart NAME, stop).\n"
	"\n"
	"Exit status: 0 clean shutdown; 2 usage; 3 config error; 4 a required\n"
	"daemon crash-looped and was given up on; 5 processes outlived the grace\n"
	"period and were killed; 111 init itself failed; otherwise the status of\n"
	"the daemon that ended the bundle (its exit code, or 128+signal).\n"
	"See docs/init.md.\n";

/* A daemon inherits fds 0-2: they must be open, or the first pipe init
 * opens could become some daemon's stdout. */
static void ensure_std_fds(void)
{
	int fd;

	while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd <= 2)
		;
	if (fd > 2)
		close(fd);
}

int init_main(int argc, char **argv)
{
	const char *config_path = INIT_DEFAULT_CONFIG;
	struct init_config config;
	struct supervisor sv;
	struct config_yaml cy;
	bool check = false;
	int i, status;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(init_usage, stdout);
			return INIT_EXIT_OK;
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			config_path = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			config_path = argv[i] + 9;
		} else if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else {
			fprintf(stderr, "init: unknown argument '%s'\n\n%s", argv[i], init_usage);
			return INIT_EXIT_USAGE;
		}
	}

	ensure_std_fds();
	config_yaml_init(&cy);
	if (init_config_load(&config, &cy, config_path) < 0) {
		log_error("%s", config_yaml_message(&cy));
		config_yaml_release(&cy);
		return INIT_EXIT_CONFIG;
	}
	config_yaml_release(&cy);
	if (check) {
		printf("%s: ok, %zu daemon%s\n", config_path, config.daemon_count,
		       config.daemon_count == 1 ? "" : "s");
		init_config_release(&config);
		return INIT_EXIT_OK;
	}

	log_info("starting as pid %d with %zu daemon%s from %s", (int)getpid(),
		 config.daemon_count, config.daemon_count == 1 ? "" : "s", config_path);
	if (supervisor_init(&sv, &config) < 0) {
		supervisor_release(&sv);
		init_config_release(&config);
		log_error("exiting with status %d", INIT_EXIT_SYSTEM);
		return INIT_EXIT_SYSTEM;
	}
	status = supervisor_run(&sv);
	supervisor_release(&sv);
	init_config_release(&config);
	return status;
}

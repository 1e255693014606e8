/* sidecar: one static multi-call binary for the whole bundle.
 *
 * `sidecar <applet> [args]` runs an applet; so does a link named after it
 * (`/bin/init` -> `sidecar`).  Every applet is one row of applets.h. */
#include "applet.h"

#include <stdio.h>
#include <string.h>

#include "../shared/exit_codes.h"
#include "../shared/log.h"

struct applet {
	const char *name;
	int (*main_function)(int argc, char **argv);
	const char *summary;
};

static const struct applet applets[] = {
#define APPLET(name, main_function, summary) { #name, main_function, summary },
#include "applets.h"
#undef APPLET
};

#define APPLET_COUNT (sizeof(applets) / sizeof(applets[0]))

static const struct applet *applet_find(const char *name)
{
	size_t i;

	for (i = 0; i < APPLET_COUNT; i++)
		if (strcmp(applets[i].name, name) == 0)
			return &applets[i];
	return NULL;
}

static void print_usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"usage: sidecar <applet> [arguments]\n"
		"   or: <applet> [arguments]   (through a link named after the applet)\n"
		"   or: sidecar --list          (applet names, one per line)\n"
		"\n"
		"Applets:\n");
	for (i = 0; i < APPLET_COUNT; i++)
		fprintf(out, "  %-10s %s\n", applets[i].name, applets[i].summary);
	fprintf(out, "\nRun 'sidecar <applet> --help' for an applet's own usage.\n");
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static int run_applet(const struct applet *applet, int argc, char **argv)
{
	log_set_program(applet->name);
	return applet->main_function(argc, argv);
}

int main(int argc, char **argv)
{
	const char *invoked_as = argc > 0 ? base_name(argv[0]) : "sidecar";
	const struct applet *applet;

	log_set_program("sidecar");

	/* Called through a link named after an applet. */
	applet = applet_find(invoked_as);
	if (applet)
		return run_applet(applet, argc, argv);

	if (argc < 2) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		print_usage(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0)
		return run_applet(applet_find("version"), argc - 1, argv + 1);
	if (strcmp(argv[1], "--list") == 0) {
		/* One name per line, for scripts that create the applet links. */
		for (size_t i = 0; i < APPLET_COUNT; i++)
			puts(applets[i].name);
		return EXIT_OK;
	}

	applet = applet_find(argv[1]);
	if (!applet) {
		fprintf(stderr,
			"sidecar: '%s' is not an applet; run 'sidecar --help' for the list\n",
			argv[1]);
		return EXIT_USAGE;
	}
	return run_applet(applet, argc - 1, argv + 1);
}

/* bottle-host: start, supervise and inspect bottles from the operator's
 * machine.  Commands are rows of commands.h, dispatched git-style. */
#include "host.h"

#include <stdio.h>
#include <string.h>

#include "../shared/exit_codes.h"
#include "../shared/log.h"

struct command {
	const char *name;
	int (*function)(int argc, char **argv);
	const char *summary;
};

static const struct command commands[] = {
#define COMMAND(name, function, summary) { #name, function, summary },
#include "commands.h"
#undef COMMAND
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void print_usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"usage: bottle-host <command> [arguments]\n"
		"\n"
		"Run AI coding agents in a container whose only network peer is the\n"
		"bottle sidecar bundle.\n"
		"\n"
		"Commands:\n");
	for (i = 0; i < COMMAND_COUNT; i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nRun 'bottle-host <command> --help' for a command's own usage.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	log_set_program("bottle-host");
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
		return cmd_version(argc - 1, argv + 1);

	for (i = 0; i < COMMAND_COUNT; i++)
		if (strcmp(commands[i].name, argv[1]) == 0)
			return commands[i].function(argc - 1, argv + 1);

	fprintf(stderr,
		"bottle-host: '%s' is not a command; run 'bottle-host --help' for the list\n",
		argv[1]);
	return EXIT_USAGE;
}

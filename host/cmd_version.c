/* bottle-host version: what this binary is and what it was linked with. */
#include <stdio.h>
#include <string.h>

#include <mbedtls/version.h>
#include <yaml.h>

#include "host.h"
#include "../shared/exit_codes.h"
#include "../shared/version.h"

static const char version_usage[] =
	"usage: bottle-host version\n"
	"\n"
	"Print bottle-host's version, then one line per linked library with the\n"
	"version that library reports at run time.\n";

int cmd_version(int argc, char **argv)
{
	char mbedtls_version[32] = "";

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(version_usage, stdout);
			return EXIT_OK;
		}
		fputs(version_usage, stderr);
		return EXIT_USAGE;
	}
	printf("bottle-host %s (commit %s)\n", BOTTLE_VERSION, BOTTLE_COMMIT);
	mbedtls_version_get_string(mbedtls_version);
	printf("mbedtls %s\n", mbedtls_version);
	printf("libyaml %s\n", yaml_get_version_string());
	return EXIT_OK;
}

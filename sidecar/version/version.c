/* sidecar version: what this binary is and what it was linked with.
 *
 * The library versions are asked of the libraries themselves at run time, so
 * the output proves which code is inside the static binary, not which
 * headers it was compiled against. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <git2.h>
#include <http_parser.h>
#include <libssh2.h>
#include <mbedtls/version.h>
#include <yaml.h>
#include <yyjson.h>
#include <zlib.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "../applet.h"
#include "../../shared/exit_codes.h"
#include "../../shared/version.h"

static const char version_usage[] =
	"usage: sidecar version\n"
	"\n"
	"Print the bundle's version, then one line per linked library with the\n"
	"version that library reports at run time.\n";

static void print_libgit2(void)
{
	int major = 0, minor = 0, revision = 0;
	int features;

	git_libgit2_version(&major, &minor, &revision);
	features = git_libgit2_features();
	printf("libgit2 %d.%d.%d (%s%s%s)\n", major, minor, revision,
	       features & GIT_FEATURE_HTTPS ? "https" : "no-https",
	       features & GIT_FEATURE_SSH ? " ssh" : " no-ssh",
	       features & GIT_FEATURE_THREADS ? " threads" : "");
}

static void print_pcre2(void)
{
	char version[64] = "";
	uint32_t jit = 0;

	pcre2_config(PCRE2_CONFIG_VERSION, version);
	pcre2_config(PCRE2_CONFIG_JIT, &jit);
	printf("pcre2 %s (%s)\n", version, jit ? "jit" : "no-jit");
}

int version_main(int argc, char **argv)
{
	char mbedtls_version[32] = "";
	unsigned long parser_version;
	uint32_t yyjson_packed;

	if (argc > 1) {
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			fputs(version_usage, stdout);
			return EXIT_OK;
		}
		fputs(version_usage, stderr);
		return EXIT_USAGE;
	}

	printf("sidecar %s (commit %s)\n", BOTTLE_VERSION, BOTTLE_COMMIT);
	mbedtls_version_get_string(mbedtls_version);
	printf("mbedtls %s\n", mbedtls_version);
	print_libgit2();
	printf("libssh2 %s\n", libssh2_version(0));
	printf("libyaml %s\n", yaml_get_version_string());
	print_pcre2();
	yyjson_packed = yyjson_version();
	printf("yyjson %u.%u.%u\n", (unsigned)(yyjson_packed >> 16) & 0xff,
	       (unsigned)(yyjson_packed >> 8) & 0xff, (unsigned)yyjson_packed & 0xff);
	printf("zlib %s\n", zlibVersion());
	parser_version = http_parser_version();
	printf("http-parser %lu.%lu.%lu\n", (parser_version >> 16) & 255,
	       (parser_version >> 8) & 255, parser_version & 255);
	return EXIT_OK;
}

/* The engine's per-request cost alone, without the proxy around it: a
 * request head like bench/dlp/egress.sh's POST and the first SIZE bytes of
 * FILE as its body (egress_post's 4 KiB JSON body, for that figure),
 * scanned the way egress scans them (one struct dlp_scan reused, reset per
 * request), N times, with the engine egress builds (the variables named by
 * a prefix, a canary, the default rules).
 *
 *   body_time [-n N] [-s SIZE] FILE PREFIX CANARY_ENV
 *
 * Prints the CPU time per body and per head in nanoseconds; under `perf
 * record` this is the loop to profile.  Not part of the build or the tests:
 * bench/dlp/body.sh builds it against build/libbottle-testable.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlp.h"
#include "dlp_setup.h"

extern char **environ;

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct str str_of(const char *p)
{
	return (struct str){ p, strlen(p) };
}

int main(int argc, char **argv)
{
	const char *file, *prefixes[2] = { NULL, NULL };
	struct http1_field fields[3];
	struct dlp_setup setup = { 0 };
	struct dlp_engine *e;
	struct dlp_scan s;
	size_t size = 4096, n = 100000, i;
	char err[256], *body;
	double t0, t1, t2;
	int c;

	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		if (c == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (c == 's')
			size = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (argc - optind != 3 || size == 0) {
		fprintf(stderr, "usage: body_time [-n N] [-s SIZE] FILE PREFIX CANARY_ENV\n");
		return 2;
	}
	file = argv[optind];
	prefixes[0] = argv[optind + 1];
	setup.secret_prefixes = prefixes;
	setup.canary_env = argv[optind + 2];
	if (dlp_setup_engine(&setup, environ, &e, err, sizeof(err)) < 0) {
		fprintf(stderr, "body_time: %s\n", err);
		return 1;
	}
	body = malloc(size);
	if (!body)
		return 1;
	{
		FILE *f = fopen(file, "rb");

		if (!f || fread(body, 1, size, f) != size) {
			fprintf(stderr, "body_time: %s: shorter than %zu bytes\n", file, size);
			return 1;
		}
		fclose(f);
	}
	fields[0] = (struct http1_field){ str_of("Host"), str_of("127.0.0.1:20000") };
	fields[1] = (struct http1_field){ str_of("Content-Type"), str_of("application/json") };
	fields[2] = (struct http1_field){ str_of("Content-Length"), str_of("4096") };
	if (dlp_scan_init(&s, e) < 0)
		return 1;
	t0 = cpu_now();
	for (i = 0; i < n; i++) {
		dlp_scan_reset(&s);
		dlp_scan_head(&s, str_of("/supervise"), str_of(""), fields, 3);
		dlp_scan_part(&s, DLP_WHERE_HEADER, "host", "127.0.0.1", 9);
	}
	t1 = cpu_now();
	for (i = 0; i < n; i++) {
		dlp_scan_reset(&s);
		dlp_scan_begin(&s, DLP_WHERE_BODY, NULL, DLP_ENCODING_IDENTITY, 0);
		dlp_scan_feed(&s, body, body + size);
		dlp_scan_end(&s);
	}
	t2 = cpu_now();
	printf("body %zu bytes: %.0f ns  (%.0f MB/s)  head: %.0f ns  findings %zu\n", size,
	       (t2 - t1) / (double)n * 1e9, (double)size * (double)n / (t2 - t1) / 1e6,
	       (t1 - t0) / (double)n * 1e9, s.findings.n);
	dlp_scan_release(&s);
	dlp_engine_free(e);
	free(body);
	return 0;
}

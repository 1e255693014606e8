/* The engine's per-request cost alone, without the proxy around it: the
 * head and the 4 KiB JSON body of bench/dlp/egress.sh's POST, scanned the
 * way egress scans them (one struct dlp_scan reused, reset per request),
 * N times, with the engine egress builds (the variables named by a prefix,
 * a canary, the default rules).
 *
 *   body_time [-n N] [-s SIZE] [-f FILE] PREFIX CANARY_ENV
 *
 * Prints the CPU time per body and per head in nanoseconds.  With -f, the
 * body is FILE's first SIZE bytes instead of the built-in JSON; under
 * `perf record` this is the loop to profile.  Not part of the build or the
 * tests: bench/dlp/scan.sh builds it against build/libbottle-testable.a. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dlp.h"
#include "dlp_setup.h"

extern char **environ;

/* The body bench/dlp/egress_post.c sends: prose, code, a git SHA, a UUID. */
static void fill_body(char *body, size_t size)
{
	static const char words[] =
		"the function returns the parsed value; see src/parse.c line 120 for why "
		"{\"role\":\"user\",\"content\":\"fix the failing test in tests/unit\"} "
		"commit 3f786850e387550fdab836ed7e6dc881de23001b id 4b825dc6-42c4-4a0c ";
	size_t at, n = sizeof(words) - 1, i;

	memcpy(body, "{\"messages\":\"", 13);
	at = 13;
	while (at < size - 2) {
		size_t take = size - 2 - at < n ? size - 2 - at : n;

		memcpy(body + at, words, take);
		at += take;
	}
	for (i = 13; i < at; i++)
		if (body[i] == '"')
			body[i] = '\'';
	memcpy(body + at, "\"}", 2);
}

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
	const char *file = NULL, *prefixes[2] = { NULL, NULL };
	struct http1_field fields[3];
	struct dlp_setup setup = { 0 };
	struct dlp_engine *e;
	struct dlp_scan s;
	size_t size = 4096, n = 100000, i;
	char err[256], *body;
	double t0, t1, t2;
	int c;

	while ((c = getopt(argc, argv, "n:s:f:")) != -1) {
		if (c == 'n')
			n = strtoul(optarg, NULL, 10);
		else if (c == 's')
			size = strtoul(optarg, NULL, 10);
		else if (c == 'f')
			file = optarg;
		else
			return 2;
	}
	if (argc - optind != 2 || size < 16) {
		fprintf(stderr, "usage: body_time [-n N] [-s SIZE] [-f FILE] PREFIX CANARY_ENV\n");
		return 2;
	}
	prefixes[0] = argv[optind];
	setup.secret_prefixes = prefixes;
	setup.canary_env = argv[optind + 1];
	if (dlp_setup_engine(&setup, environ, &e, err, sizeof(err)) < 0) {
		fprintf(stderr, "body_time: %s\n", err);
		return 1;
	}
	body = malloc(size);
	if (!body)
		return 1;
	if (file) {
		FILE *f = fopen(file, "rb");

		if (!f || fread(body, 1, size, f) != size) {
			fprintf(stderr, "body_time: %s: shorter than %zu bytes\n", file, size);
			return 1;
		}
		fclose(f);
	} else {
		fill_body(body, size);
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

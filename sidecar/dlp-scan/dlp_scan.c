/* sidecar dlp-scan: run the DLP engine over a file and print its findings,
 * for operators and for the git gate's tests.  Known secrets come from the
 * environment only (variables named on the command line), never from argv
 * values. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../applet.h"
#include "../../shared/dlp.h"
#include "../../shared/exit_codes.h"
#include "../../shared/log.h"

extern char **environ;

#define DLP_SCAN_READ (64 * 1024)
#define DLP_SCAN_MAX_NAMES 256

static const char dlp_scan_usage[] =
	"usage: sidecar dlp-scan [options] FILE|-\n"
	"\n"
	"Scan FILE (or standard input) with the DLP engine and print one line per\n"
	"finding: detector, rule, where, span and a redacted preview.  Exits 0 when\n"
	"nothing blocking was found, 1 when something was, 2 on bad usage, 3 when a\n"
	"rules file is invalid, 111 when FILE cannot be read.\n"
	"\n"
	"  --rules FILE             load rules from FILE (repeatable) besides the defaults\n"
	"  --no-default-rules       do not load the built-in rules\n"
	"  --secret-env NAME        the value of environment variable NAME is a known\n"
	"                           secret (repeatable)\n"
	"  --secret-env-prefix P    so is every variable whose name starts with P\n"
	"  --canary-env NAME        the value of NAME is the canary\n"
	"  --encoding ENC           FILE is compressed: gzip, deflate or br\n"
	"  --entropy                high-entropy tokens block (default: warn only)\n"
	"  --partial-min N          shortest window of a known secret found alone (16)\n"
	"  --stats                  print bytes scanned and MB/s on standard error\n";

struct dlp_scan_args {
	const char *rules[16];
	size_t nrules;
	const char *names[DLP_SCAN_MAX_NAMES + 1];
	size_t nnames;
	const char *prefixes[DLP_SCAN_MAX_NAMES + 1];
	size_t nprefixes;
	const char *canary;
	const char *file;
	enum dlp_encoding encoding;
	bool defaults, entropy, stats;
	long partial_min;
};

static double now_seconds(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "dlp-scan: <what><arg><after>" then the usage. */
static int usage_error(const char *what, const char *arg, const char *after)
{
	fprintf(stderr, "dlp-scan: %s%s%s\n%s", what, arg, after, dlp_scan_usage);
	return EXIT_USAGE;
}

/* 0, or an exit code. */
static int parse_args(int argc, char **argv, struct dlp_scan_args *a)
{
	int i;

	memset(a, 0, sizeof(*a));
	a->defaults = true;
	a->partial_min = -1;
	for (i = 1; i < argc; i++) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			fputs(dlp_scan_usage, stdout);
			return -1;
		}
		if (strcmp(o, "--no-default-rules") == 0) {
			a->defaults = false;
		} else if (strcmp(o, "--entropy") == 0) {
			a->entropy = true;
		} else if (strcmp(o, "--stats") == 0) {
			a->stats = true;
		} else if (strcmp(o, "--rules") == 0 || strcmp(o, "--secret-env") == 0 ||
			   strcmp(o, "--secret-env-prefix") == 0 ||
			   strcmp(o, "--canary-env") == 0 || strcmp(o, "--encoding") == 0 ||
			   strcmp(o, "--partial-min") == 0) {
			if (!v || !v[0])
				return usage_error("", o, " needs a value");
			i++;
			if (strcmp(o, "--rules") == 0) {
				if (a->nrules == sizeof(a->rules) / sizeof(a->rules[0]))
					return usage_error("too many ", o, "");
				a->rules[a->nrules++] = v;
			} else if (strcmp(o, "--secret-env") == 0) {
				if (a->nnames == DLP_SCAN_MAX_NAMES)
					return usage_error("too many ", o, "");
				a->names[a->nnames++] = v;
			} else if (strcmp(o, "--secret-env-prefix") == 0) {
				if (a->nprefixes == DLP_SCAN_MAX_NAMES)
					return usage_error("too many ", o, "");
				a->prefixes[a->nprefixes++] = v;
			} else if (strcmp(o, "--canary-env") == 0) {
				a->canary = v;
			} else if (strcmp(o, "--partial-min") == 0) {
				errno = 0;
				a->partial_min = strtol(v, &end, 10);
				if (errno || *end || a->partial_min < 0 || a->partial_min > 4096)
					return usage_error("--partial-min: '", v, "' is not 0..4096");
			} else {
				a->encoding = dlp_encoding_parse(str_from_cstr(v));
				if (a->encoding == DLP_ENCODING_UNKNOWN ||
				    a->encoding == DLP_ENCODING_IDENTITY)
					return usage_error("--encoding: '", v,
							   "' is not gzip, deflate or br");
			}
		} else if (o[0] == '-' && o[1]) {
			return usage_error("unknown option '", o, "'");
		} else if (a->file) {
			return usage_error("one FILE only, not '", o, "' too");
		} else {
			a->file = o;
		}
	}
	if (!a->file)
		return usage_error("no FILE given (use - for standard input)", "", "");
	return 0;
}

static int build_engine(const struct dlp_scan_args *a, struct dlp_engine **out)
{
	struct dlp_options opt;
	struct dlp_engine *e;
	char err[1024];
	const char *canary;
	size_t i, skipped = 0;

	dlp_options_default(&opt);
	if (a->partial_min >= 0)
		opt.partial_min = (size_t)a->partial_min;
	opt.entropy_enforce = a->entropy;
	e = dlp_engine_new(&opt);
	if (!e)
		die(EXIT_SYSTEM, "out of memory");
	if (dlp_engine_add_env(e, environ, a->names, a->prefixes, &skipped) < 0)
		die(EXIT_SYSTEM, "out of memory");
	if (skipped)
		log_warn("%zu secret variable(s) not used: shorter than %zu or longer than %d bytes",
			 skipped, opt.secret_min, DLP_SECRET_MAX);
	for (i = 0; i < a->nnames; i++)
		if (!getenv(a->names[i]))
			log_warn("--secret-env %s: no such variable", a->names[i]);
	if (a->canary) {
		canary = getenv(a->canary);
		if (!canary || dlp_engine_add_secret(e, a->canary, canary, strlen(canary), true) < 0)
			log_warn("--canary-env %s: unset or too short, not used", a->canary);
	}
	if (a->defaults && dlp_engine_load_default_rules(e, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	for (i = 0; i < a->nrules; i++)
		if (dlp_engine_load_rules_file(e, a->rules[i], err, sizeof(err)) < 0) {
			log_error("%s", err);
			dlp_engine_free(e);
			return EXIT_CONFIG;
		}
	if (dlp_engine_build(e, err, sizeof(err)) < 0)
		die(EXIT_SYSTEM, "%s", err);
	*out = e;
	return 0;
}

static int scan_file(const struct dlp_scan_args *a, struct dlp_scan *s, uint64_t *total)
{
	char *block = malloc(DLP_SCAN_READ);
	int fd = 0, ret = EXIT_SYSTEM;
	ssize_t n;

	*total = 0;
	if (!block)
		die(EXIT_SYSTEM, "out of memory");
	if (strcmp(a->file, "-") != 0 && (fd = open(a->file, O_RDONLY | O_CLOEXEC)) < 0) {
		log_error_errno("unable to open '%s'", a->file);
		goto out;
	}
	if (dlp_scan_begin(s, DLP_WHERE_TEXT, NULL, a->encoding, 0) < 0)
		goto out;
	for (;;) {
		n = read(fd, block, DLP_SCAN_READ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_error_errno("unable to read '%s'", a->file);
			goto out;
		}
		if (n == 0)
			break;
		*total += (uint64_t)n;
		if (dlp_scan_feed(s, block, block + n) < 0)
			goto out;
	}
	if (dlp_scan_end(s) < 0)
		goto out;
	ret = 0;
out:
	if (fd > 0)
		close(fd);
	free(block);
	return ret;
}

int dlp_scan_main(int argc, char **argv)
{
	struct dlp_scan_args a;
	struct dlp_engine *e = NULL;
	struct dlp_scan s;
	uint64_t total;
	double t0, t1, t2, c1, c2;
	char line[512];
	size_t i;
	int ret;

	ret = parse_args(argc, argv, &a);
	if (ret)
		return ret < 0 ? EXIT_OK : ret;
	t0 = now_seconds(CLOCK_MONOTONIC);
	if ((ret = build_engine(&a, &e)) != 0)
		return ret;
	if (dlp_scan_init(&s, e) < 0)
		die(EXIT_SYSTEM, "out of memory");
	s.entropy_enforce = a.entropy;
	t1 = now_seconds(CLOCK_MONOTONIC);
	c1 = now_seconds(CLOCK_PROCESS_CPUTIME_ID);
	ret = scan_file(&a, &s, &total);
	t2 = now_seconds(CLOCK_MONOTONIC);
	c2 = now_seconds(CLOCK_PROCESS_CPUTIME_ID);
	if (ret == 0) {
		for (i = 0; i < s.findings.n; i++) {
			dlp_finding_format(&s.findings.v[i], line, sizeof(line));
			printf("%s: %s\n", a.file, line);
		}
		if (s.findings.dropped)
			printf("%s: %zu more findings not shown\n", a.file, s.findings.dropped);
		ret = dlp_findings_blocking(&s.findings) ? EXIT_FAILURE_GENERIC : EXIT_OK;
	}
	/* CPU time says what one core does when the machine is shared. */
	if (a.stats)
		fprintf(stderr,
			"dlp-scan: %llu bytes in %.3f s: %.1f MB/s, %.1f MB/s of CPU time "
			"(engine built in %.1f ms: %zu secrets, %zu rules)\n",
			(unsigned long long)total, t2 - t1,
			t2 > t1 ? (double)total / 1e6 / (t2 - t1) : 0.0,
			c2 > c1 ? (double)total / 1e6 / (c2 - c1) : 0.0, (t1 - t0) * 1e3,
			dlp_engine_secret_count(e), dlp_engine_rule_count(e));
	dlp_scan_release(&s);
	dlp_engine_free(e);
	return ret;
}

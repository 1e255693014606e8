/* The differential check's scanner (bench/dlp/diff.sh): scans every input
 * file with three engines, in every way a caller can feed the engine, and
 * prints every finding (detector, where, rule, name, offset, length,
 * preview) and every dlp_scan_settled() answer.  diff.sh builds it once
 * against the engine of a base commit and once against the working tree:
 * the two outputs must be identical.
 *
 *   diff_scan SECRETS_ENV EXEMPT_FILE FILE...
 *
 * The engines, each with every secret of SECRETS_ENV (NAME=value lines,
 * CANARY* is the canary):
 *   plain    the default rules
 *   exempt   the default rules and the approvals of EXEMPT_FILE (a line each)
 *   options  partial_min 20, entropy enforced, the default rules plus rules
 *            without keywords and with allowlists (the paths the default
 *            set does not take)
 * One struct dlp_scan per engine serves every file, part after part, the
 * way a keep-alive connection reuses it: what one part leaves behind must
 * not change the next.  A FILE ending in .gz is scanned as a gzip body.
 *
 * Built as one unit with the engine's sources #included (diff.sh writes the
 * list), so that the old engine needs no build system of its own. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include DIFF_UNITY

#define ENGINES 3

static const char extra_rules[] =
	"rules:\n"
	"  - id: no-keywords\n"
	"    regex: '\\b(tok[0-9a-f]{12,40})\\b'\n"
	"  - id: no-keywords-entropy\n"
	"    regex: '([A-Za-z0-9]{24})'\n"
	"    entropy: 4.2\n"
	"    max_len: 64\n"
	"  - id: allowlisted\n"
	"    regex: '(?i)secret[=:] ?([a-z0-9]{8,64})'\n"
	"    keywords: [secret]\n"
	"    allowlist: ['^example', '0000$']\n"
	"    warn_only: true\n";

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *p = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (p = malloc((size_t)n + 1)) && fread(p, 1, (size_t)n, f) == (size_t)n) {
		p[n] = '\0';
		*len = (size_t)n;
	} else {
		free(p);
		p = NULL;
	}
	fclose(f);
	return p;
}

static void die(const char *what)
{
	fprintf(stderr, "diff_scan: %s\n", what);
	exit(1);
}

static struct dlp_engine *engine_make(int which, const char *secrets, size_t secrets_len,
				      const char *exempt, size_t exempt_len)
{
	struct dlp_options o;
	struct dlp_engine *e;
	const char *p = secrets, *end = secrets + secrets_len;
	char err[512];

	dlp_options_default(&o);
	if (which == 2) {
		o.partial_min = 20;
		o.entropy_enforce = true;
	}
	if (!(e = dlp_engine_new(&o)))
		die("out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *eq;
		char name[64];

		if (!nl)
			nl = end;
		eq = memchr(p, '=', (size_t)(nl - p));
		if (eq && (size_t)(eq - p) < sizeof(name)) {
			memcpy(name, p, (size_t)(eq - p));
			name[eq - p] = '\0';
			if (dlp_engine_add_secret(e, name, eq + 1, (size_t)(nl - eq - 1),
						  strncmp(name, "CANARY", 6) == 0) < 0)
				die("a secret was refused");
		}
		p = nl + 1;
	}
	if (dlp_engine_load_default_rules(e, err, sizeof(err)) < 0)
		die(err);
	if (which == 2 && dlp_engine_load_rules_string(e, "extra", extra_rules,
							sizeof(extra_rules) - 1, err, sizeof(err)) < 0)
		die(err);
	if (dlp_engine_build(e, err, sizeof(err)) < 0)
		die(err);
	for (p = exempt, end = exempt + exempt_len; which == 1 && p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			nl = end;
		if (nl > p && dlp_engine_exempt(e, p, (size_t)(nl - p)) < 0)
			die("an approval was refused");
		p = nl + 1;
	}
	return e;
}

static void print_findings(const struct dlp_findings *f)
{
	size_t i;

	for (i = 0; i < f->n; i++) {
		const struct dlp_finding *x = &f->v[i];

		printf("  %s %s%s %s [%s] %llu+%llu %s\n", dlp_detector_name(x->detector),
		       dlp_where_name(x->where), x->warn_only ? " warn" : "", x->rule, x->name,
		       (unsigned long long)x->offset, (unsigned long long)x->len, x->preview);
	}
	printf("  n %zu dropped %zu\n", f->n, f->dropped);
}

/* One body fed in batches of `batch` (0: at once), printing what
 * dlp_scan_settled() says after each. */
static void scan_body(struct dlp_scan *s, enum dlp_encoding enc, const char *p, size_t len,
		      size_t batch, bool enforce)
{
	size_t at = 0;

	printf(" body enc %d batch %zu%s\n", (int)enc, batch, enforce ? " enforce" : "");
	dlp_scan_reset(s);
	s->entropy_enforce = enforce;
	if (dlp_scan_begin(s, DLP_WHERE_BODY, NULL, enc, 0) < 0)
		die("begin");
	if (batch == 0)
		batch = len ? len : 1;
	printf("  settled");
	while (at < len) {
		size_t n = len - at < batch ? len - at : batch;

		if (dlp_scan_feed(s, p + at, p + at + n) < 0)
			die("feed");
		at += n;
		printf(" %llu", (unsigned long long)dlp_scan_settled(s));
	}
	printf("\n");
	if (dlp_scan_end(s) < 0)
		die("end");
	print_findings(&s->findings);
}

/* The input as each part of a head, one after the other in one scan (the
 * findings accumulate, as they do over one request's head). */
static void scan_parts(struct dlp_scan *s, const char *p, size_t len)
{
	static const enum dlp_where wheres[] = { DLP_WHERE_PATH, DLP_WHERE_QUERY,
						 DLP_WHERE_HEADER, DLP_WHERE_HEADER_NAME,
						 DLP_WHERE_TEXT };
	struct http1_field fields[2];
	size_t i;

	printf(" parts\n");
	dlp_scan_reset(s);
	for (i = 0; i < sizeof(wheres) / sizeof(wheres[0]); i++)
		if (dlp_scan_part(s, wheres[i], wheres[i] == DLP_WHERE_HEADER ? "x-h" : NULL, p,
				  len) < 0)
			die("part");
	print_findings(&s->findings);
	printf(" head\n");
	dlp_scan_reset(s);
	fields[0] = (struct http1_field){ { "Host", 4 }, { "example.test", 12 } };
	fields[1] = (struct http1_field){ { p, len < 20 ? len : 20 }, { p, len } };
	if (dlp_scan_head(s, (struct str){ p, len / 2 }, (struct str){ p + len / 2, len - len / 2 },
			  fields, 2) < 0)
		die("head");
	print_findings(&s->findings);
}

int main(int argc, char **argv)
{
	static const size_t batches[] = { 1, 3, 64, 777, 4096 };
	struct dlp_engine *e[ENGINES];
	struct dlp_scan s[ENGINES];
	char *secrets, *exempt;
	size_t secrets_len, exempt_len, i;
	int k, which;

	if (argc < 3)
		die("usage: diff_scan SECRETS_ENV EXEMPT_FILE FILE...");
	if (!(secrets = read_file(argv[1], &secrets_len)) ||
	    !(exempt = read_file(argv[2], &exempt_len)))
		die("cannot read the secrets or the approvals");
	for (which = 0; which < ENGINES; which++) {
		e[which] = engine_make(which, secrets, secrets_len, exempt, exempt_len);
		if (dlp_scan_init(&s[which], e[which]) < 0)
			die("scan init");
	}
	for (k = 3; k < argc; k++) {
		size_t len, n = strlen(argv[k]);
		char *p = read_file(argv[k], &len);
		bool gz = n > 3 && strcmp(argv[k] + n - 3, ".gz") == 0;

		if (!p)
			die(argv[k]);
		for (which = 0; which < ENGINES; which++) {
			printf("%s engine %d\n", argv[k], which);
			if (gz) {
				scan_body(&s[which], DLP_ENCODING_GZIP, p, len, 0, false);
				scan_body(&s[which], DLP_ENCODING_GZIP, p, len, 5, false);
				continue;
			}
			scan_body(&s[which], DLP_ENCODING_IDENTITY, p, len, 0, which == 2);
			if (which == 0)
				for (i = 0; i < sizeof(batches) / sizeof(batches[0]); i++)
					if (batches[i] < len)
						scan_body(&s[which], DLP_ENCODING_IDENTITY, p, len,
							  batches[i], false);
			if (which == 1)
				scan_body(&s[which], DLP_ENCODING_IDENTITY, p, len, 7, true);
			if (len <= 4096)
				scan_parts(&s[which], p, len);
		}
		free(p);
	}
	for (which = 0; which < ENGINES; which++) {
		dlp_scan_release(&s[which]);
		dlp_engine_free(e[which]);
	}
	free(secrets);
	free(exempt);
	return 0;
}

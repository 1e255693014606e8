/* Shared by the test_dlp*.c programs: build an engine, scan a buffer, look
 * findings up, make token-shaped test values (generated, so no real-looking
 * credential sits in the repository). */
#ifndef TEST_DLP_HELPERS_H
#define TEST_DLP_HELPERS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../shared/dlp.h"

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* `prefix` then n characters of `alphabet` (NULL: alnum), deterministic in
 * seed; out must hold strlen(prefix) + n + 1. */
static inline void make_token(char *out, const char *prefix, size_t n, uint32_t seed,
		       const char *alphabet)
{
	size_t i, k = strlen(prefix), m;

	if (!alphabet)
		alphabet = alnum;
	m = strlen(alphabet);
	memcpy(out, prefix, k);
	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		out[k + i] = alphabet[(seed >> 16) % m];
	}
	out[k + n] = '\0';
}

/* An engine with secrets (NULL-terminated names/values), the default rules
 * when `rules`, built. */
static inline struct dlp_engine *engine_new(const char *const *names, const char *const *values,
				     bool rules, const struct dlp_options *o)
{
	struct dlp_engine *e = dlp_engine_new(o);
	char err[512];
	size_t i;

	assert_non_null(e);
	for (i = 0; names && names[i]; i++)
		assert_int_equal(dlp_engine_add_secret(e, names[i], values[i], strlen(values[i]),
						       strncmp(names[i], "CANARY", 6) == 0),
				 0);
	if (rules) {
		int ret = dlp_engine_load_default_rules(e, err, sizeof(err));

		if (ret < 0)
			fail_msg("default rules: %s", err);
	}
	if (dlp_engine_build(e, err, sizeof(err)) < 0)
		fail_msg("build: %s", err);
	return e;
}

/* One part fed in batches of `batch` bytes (0: all at once). */
static inline void scan_batches(struct dlp_scan *s, enum dlp_where where, enum dlp_encoding enc,
			 const char *p, size_t len, size_t batch)
{
	size_t at = 0;

	assert_int_equal(dlp_scan_begin(s, where, NULL, enc, 0), 0);
	if (batch == 0)
		batch = len ? len : 1;
	while (at < len) {
		size_t n = len - at < batch ? len - at : batch;

		assert_int_equal(dlp_scan_feed(s, p + at, p + at + n), 0);
		at += n;
	}
	assert_int_equal(dlp_scan_end(s), 0);
}

static inline void scan_text(struct dlp_scan *s, const char *p, size_t len)
{
	scan_batches(s, DLP_WHERE_TEXT, DLP_ENCODING_IDENTITY, p, len, 0);
}

/* The first finding of detector d whose rule starts with `rule` (NULL: any). */
static inline const struct dlp_finding *finding(const struct dlp_findings *f, enum dlp_detector d,
					 const char *rule)
{
	size_t i;

	for (i = 0; i < f->n; i++)
		if (f->v[i].detector == d &&
		    (!rule || strncmp(f->v[i].rule, rule, strlen(rule)) == 0))
			return &f->v[i];
	return NULL;
}

static inline size_t count_detector(const struct dlp_findings *f, enum dlp_detector d)
{
	size_t i, n = 0;

	for (i = 0; i < f->n; i++)
		n += f->v[i].detector == d;
	return n;
}

/* Print the findings (for a failing assertion's context). */
static inline void dump(const struct dlp_findings *f)
{
	char line[256];
	size_t i;

	for (i = 0; i < f->n; i++) {
		dlp_finding_format(&f->v[i], line, sizeof(line));
		fprintf(stderr, "  finding: %s\n", line);
	}
}

/* No finding holds more than 4 characters of `secret` in a row. */
static inline void assert_no_value(const struct dlp_findings *f, const char *secret)
{
	size_t i, j, n = strlen(secret);

	for (i = 0; i < f->n; i++) {
		const char *raw = (const char *)&f->v[i];

		for (j = 0; j + 5 <= n; j++)
			if (memmem(raw, sizeof(f->v[i]), secret + j, 5))
				fail_msg("finding %zu holds part of the secret", i);
	}
}

#endif

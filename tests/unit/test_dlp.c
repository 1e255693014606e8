/* The DLP engine's known-secret detectors, the exempt set, the structural
 * head checks, entropy, findings and redaction (shared/dlp_*.c). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/dlp.h"
#include "../../shared/dlp_internal.h"
#include "test_dlp_helpers.h"

#define SECRET "Zq8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1Aa" /* 32 characters */

static const char *const one_name[] = { "GITHUB_TOKEN", NULL };
static const char *const one_value[] = { SECRET, NULL };

struct fixture {
	struct dlp_engine *e;
	struct dlp_scan s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->e = engine_new(one_name, one_value, true, NULL);
	assert_int_equal(dlp_scan_init(&f->s, f->e), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	dlp_scan_release(&f->s);
	dlp_engine_free(f->e);
	free(f);
	return 0;
}

/* Scan text and return the one known-secret finding it must produce. */
static const struct dlp_finding *one_known(struct fixture *f, const char *text, size_t len)
{
	const struct dlp_finding *x;

	dlp_scan_reset(&f->s);
	scan_text(&f->s, text, len);
	if (count_detector(&f->s.findings, DLP_DETECTOR_KNOWN) != 1) {
		dump(&f->s.findings);
		fail_msg("expected one known-secret finding in '%.*s'", (int)len, text);
	}
	assert_no_value(&f->s.findings, SECRET);
	x = finding(&f->s.findings, DLP_DETECTOR_KNOWN, NULL);
	assert_string_equal(x->name, "GITHUB_TOKEN");
	return x;
}

static void test_exact(void **state)
{
	struct fixture *f = *state;
	const char text[] = "curl -H 'x-token: " SECRET "' https://example.test/";
	const struct dlp_finding *x = one_known(f, text, sizeof(text) - 1);

	assert_string_equal(x->rule, "known:exact");
	assert_int_equal(x->offset, 18);
	assert_int_equal(x->len, 32);
	assert_int_equal(x->where, DLP_WHERE_TEXT);
	assert_false(x->warn_only);
	/* Two characters and the length, nothing more. */
	assert_string_equal(x->preview, "Zq\xe2\x80\xa6(32)");
}

static void base64_encode(const unsigned char *in, size_t len, bool url, bool pad, char *out)
{
	const char *a = url ? "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
			      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, n = 0;

	for (i = 0; i < len; i += 3) {
		unsigned v = (unsigned)in[i] << 16;

		v |= i + 1 < len ? (unsigned)in[i + 1] << 8 : 0;
		v |= i + 2 < len ? in[i + 2] : 0;
		out[n++] = a[v >> 18 & 63];
		out[n++] = a[v >> 12 & 63];
		if (i + 1 < len)
			out[n++] = a[v >> 6 & 63];
		else if (pad)
			out[n++] = '=';
		if (i + 2 < len)
			out[n++] = a[v & 63];
		else if (pad)
			out[n++] = '=';
	}
	out[n] = '\0';
}

/* Base64 in both alphabets, with and without padding, and inside a longer
 * encoded value at each of the three alignments. */
static void test_base64(void **state)
{
	struct fixture *f = *state;
	unsigned char plain[64];
	char enc[128], text[200];
	size_t shift;
	int url, pad;

	for (shift = 0; shift < 3; shift++)
		for (url = 0; url < 2; url++)
			for (pad = 0; pad < 2; pad++) {
				const struct dlp_finding *x;

				/* "user:" + secret, shifted by a prefix, then more. */
				memcpy(plain, "ab:", shift);
				memcpy(plain + shift, SECRET, 32);
				memcpy(plain + shift + 32, "\x01\xfe\x7f", 3);
				base64_encode(plain, shift + 35, url, pad, enc);
				snprintf(text, sizeof(text), "Authorization: Basic %s\r\n", enc);
				x = one_known(f, text, strlen(text));
				assert_string_equal(x->rule, "known:base64");
				assert_true(x->offset >= 21 && x->offset <= 21 + 4);
				assert_true(x->len >= 40 && x->len <= 44);
			}
}

static void test_hex_and_percent(void **state)
{
	struct fixture *f = *state;
	char text[256], *p;
	const struct dlp_finding *x;
	size_t i;
	int upper;

	for (upper = 0; upper < 2; upper++) {
		p = text + snprintf(text, sizeof(text), "id=");
		for (i = 0; i < 32; i++)
			p += snprintf(p, 3, upper ? "%02X" : "%02x", (unsigned char)SECRET[i]);
		x = one_known(f, text, strlen(text));
		assert_string_equal(x->rule, "known:hex");
		assert_int_equal(x->offset, 3);
		assert_int_equal(x->len, 64);

		/* Every byte percent-encoded. */
		p = text + snprintf(text, sizeof(text), "/q?t=");
		for (i = 0; i < 32; i++)
			p += snprintf(p, 4, upper ? "%%%02X" : "%%%02x", (unsigned char)SECRET[i]);
		x = one_known(f, text, strlen(text));
		assert_string_equal(x->rule, "known:percent");
		assert_int_equal(x->offset, 5);
		assert_int_equal(x->len, 96);
	}
	/* Some bytes encoded, as a URL encoder leaves letters alone. */
	snprintf(text, sizeof(text), "t=Zq8x%%54%%34vLp2Rm9WcY7bN3kHs6Jd5Fg1A%%61&x=1");
	x = one_known(f, text, strlen(text));
	assert_string_equal(x->rule, "known:percent");
	assert_int_equal(x->offset, 2);
}

/* JSON \uXXXX escapes are decoded; a backslash that starts no escape (a
 * Windows path) is text. */
static void test_json_escape(void **state)
{
	struct fixture *f = *state;
	char text[300], *p = text;
	const struct dlp_finding *x;
	size_t i;

	p += snprintf(p, sizeof(text), "{\"t\":\"");
	for (i = 0; i < 32; i++)
		p += snprintf(p, 7, "\\u%04X", (unsigned char)SECRET[i]);
	snprintf(p, 4, "\"}");
	x = one_known(f, text, strlen(text));
	assert_string_equal(x->rule, "known:escape");
	assert_int_equal(x->offset, 6);
	assert_int_equal(x->len, 32 * 6);

	snprintf(text, sizeof(text), "C:\\users\\u\\%s\\x\\\\u0041", SECRET);
	x = one_known(f, text, strlen(text));
	assert_string_equal(x->rule, "known:exact");
	assert_int_equal(x->offset, 11);
}

/* Separators between the characters: the alnum projection. */
static void test_projection(void **state)
{
	struct fixture *f = *state;
	char text[256], *p = text;
	const struct dlp_finding *x;
	size_t i;

	p += snprintf(p, sizeof(text), "x ");
	for (i = 0; i < 32; i++)
		p += snprintf(p, 3, "%c%c", SECRET[i], i % 2 ? '-' : ' ');
	x = one_known(f, text, strlen(text));
	assert_string_equal(x->rule, "known:projection");
	assert_int_equal(x->offset, 2);
	assert_int_equal(x->len, 63);

	/* Split into two string literals (no letters between them). */
	snprintf(text, sizeof(text), "x = \"Zq8xT4vLp2Rm\" +\n    \"9WcY7bN3kHs6Jd5Fg1Aa\";");
	x = one_known(f, text, strlen(text));
	assert_string_equal(x->rule, "known:projection");
	assert_int_equal(x->offset, 5);
	assert_int_equal(x->len, 41);
}

/* A secret sent in pieces: each piece of partial_min (16) characters is
 * found alone; a shorter one is not. */
static void test_partial_windows(void **state)
{
	struct fixture *f = *state;
	char text[128];
	const struct dlp_finding *x;
	size_t start;

	for (start = 0; start + 16 <= 32; start++) {
		snprintf(text, sizeof(text), "-->=%.16s;", SECRET + start);
		x = one_known(f, text, strlen(text));
		assert_string_equal(x->rule, "known:partial");
		/* The span lies inside the piece and covers most of it. */
		assert_true(x->offset >= 4 && x->offset + x->len <= 4 + 16);
		assert_true(x->len >= 13);
	}
	snprintf(text, sizeof(text), "-->=%.12s;", SECRET + 7);
	dlp_scan_reset(&f->s);
	scan_text(&f->s, text, strlen(text));
	assert_null(finding(&f->s.findings, DLP_DETECTOR_KNOWN, NULL));
	/* The whole secret is one finding, not its windows too. */
	x = one_known(f, "a " SECRET " b", 36);
	assert_string_equal(x->rule, "known:exact");
}

/* Invisible characters and confusables inside a known secret are evasion:
 * reported as unicode, which every policy blocks. */
static void test_unicode_evasion(void **state)
{
	struct fixture *f = *state;
	static const char *const texts[] = {
		"Zq8xT4vL\xe2\x80\x8bp2Rm9WcY7bN3kHs6Jd5Fg1Aa",        /* zero-width space */
		"Zq8xT4vL%E2%80%8Bp2Rm9WcY7bN3kHs6Jd5Fg1Aa",            /* ... percent-encoded */
		"Zq8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1A\xd0\xb0",              /* Cyrillic a */
		"Z\xef\xbd\x91" "8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1Aa",       /* fullwidth q */
		"Zq8xT4vLp2Rm9WcY7bN3kHs6\xe2\x80\xaeJd5Fg1Aa",         /* bidi override */
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const struct dlp_finding *x;

		dlp_scan_reset(&f->s);
		scan_text(&f->s, texts[i], strlen(texts[i]));
		x = finding(&f->s.findings, DLP_DETECTOR_UNICODE, "unicode:known-secret");
		if (!x) {
			dump(&f->s.findings);
			fail_msg("text %zu: no unicode finding", i);
		}
		assert_string_equal(x->name, "GITHUB_TOKEN");
		assert_int_equal(x->offset, 0);
		assert_int_equal(x->len, strlen(texts[i]));
		assert_true(dlp_finding_is_structural(x));
	}
}

/* A secret inside binary data, NUL bytes and all, is found byte-exact. */
static void test_binary_body(void **state)
{
	struct fixture *f = *state;
	unsigned char body[4096];
	const struct dlp_finding *x;
	uint32_t seed = 7;
	size_t i;

	for (i = 0; i < sizeof(body); i++) {
		seed = seed * 1103515245u + 12345u;
		body[i] = (unsigned char)(seed >> 16);
	}
	body[1000] = 0;
	memcpy(body + 1001, SECRET, 32);
	body[1033] = 0xff;
	x = one_known(f, (const char *)body, sizeof(body));
	assert_string_equal(x->rule, "known:exact");
	assert_int_equal(x->offset, 1001);
	assert_int_equal(x->len, 32);
}

/* Fed in batches of every size from 1 byte up, a secret that straddles
 * them is found at the same absolute offset; so is a rule match. */
static void test_streaming_batches(void **state)
{
	struct fixture *f = *state;
	char token[48], text[400];
	size_t batch, len;

	make_token(token, "ghp_", 36, 99, NULL);
	len = (size_t)snprintf(text, sizeof(text),
			       "%0100d the token %s and the secret %s, then %0150d", 0, token,
			       SECRET, 0);
	for (batch = 1; batch <= len; batch += batch < 40 ? 1 : 37) {
		const struct dlp_finding *known, *rule;

		dlp_scan_reset(&f->s);
		scan_batches(&f->s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, text, len, batch);
		known = finding(&f->s.findings, DLP_DETECTOR_KNOWN, "known:exact");
		rule = finding(&f->s.findings, DLP_DETECTOR_RULE, "github-token");
		if (!known || !rule || f->s.findings.n != 2) {
			dump(&f->s.findings);
			fail_msg("batch %zu: expected one known and one rule finding", batch);
		}
		assert_int_equal(rule->offset, 111);
		assert_int_equal(rule->len, 40);
		assert_int_equal(known->offset, 167);
		assert_int_equal(known->where, DLP_WHERE_BODY);
	}
}

/* A body far longer than the engine's history: offsets stay absolute and
 * the scan state does not grow. */
static void test_long_body(void **state)
{
	struct fixture *f = *state;
	size_t len = 3 * 1024 * 1024, i;
	char *body = malloc(len);
	const struct dlp_finding *x;
	size_t memory = dlp_scan_memory(&f->s);

	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = "lorem ipsum dolor sit amet, "[i % 28];
	memcpy(body + 2 * 1024 * 1024 + 5, SECRET, 32);
	dlp_scan_reset(&f->s);
	scan_batches(&f->s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, body, len, 16384);
	x = finding(&f->s.findings, DLP_DETECTOR_KNOWN, NULL);
	assert_non_null(x);
	assert_int_equal(x->offset, 2 * 1024 * 1024 + 5);
	assert_int_equal(dlp_scan_memory(&f->s), memory);
	assert_true(memory < 256 * 1024);
	free(body);
}

/* Bytes before the settled offset can be forwarded: no finding that
 * starts there can still appear. */
static void test_settled(void **state)
{
	struct fixture *f = *state;
	size_t len = 200000, at, i;
	char *body = malloc(len);
	uint64_t last = 0;

	for (i = 0; i < len; i++)
		body[i] = "lorem ipsum, dolor sit amet "[i % 28];
	memcpy(body + 100000, SECRET, 32);
	memcpy(body + 150000, "Z-q-8-x-T-4-v-L-p-2-R-m-9-W-c-Y-7-b-N-3-k-H-s-6-J-d-5-F-g-1-A-a", 63);
	dlp_scan_reset(&f->s);
	assert_int_equal(dlp_scan_begin(&f->s, DLP_WHERE_BODY, NULL, DLP_ENCODING_IDENTITY, 0), 0);
	for (at = 0; at < len; at += 1000) {
		size_t before = f->s.findings.n, n;
		uint64_t settled;

		assert_int_equal(dlp_scan_feed(&f->s, body + at, body + at + 1000), 0);
		/* What was found now starts after what was settled before. */
		for (n = before; n < f->s.findings.n; n++)
			assert_true(f->s.findings.v[n].offset >= last);
		settled = dlp_scan_settled(&f->s);
		assert_true(settled >= last && settled <= at + 1000);
		/* Not far behind either: the engine holds little back. */
		assert_true(settled + 8192 >= at + 1000);
		last = settled;
	}
	i = f->s.findings.n;
	assert_int_equal(dlp_scan_end(&f->s), 0);
	for (; i < f->s.findings.n; i++)
		assert_true(f->s.findings.v[i].offset >= last);
	assert_int_equal(f->s.findings.n, 2);
	assert_int_equal(f->s.findings.v[1].offset, 150000);
	free(body);
}

/* The canary is reported as such, and no approval exempts it. */
static void test_canary(void **state)
{
	static const char *const names[] = { "CANARY", NULL };
	static const char *const values[] = { "cAn4ryV4lu3-9f8e7d6c5b4a", NULL };
	struct dlp_engine *e = engine_new(names, values, false, NULL);
	struct dlp_scan s;
	const char text[] = "echo cAn4ryV4lu3-9f8e7d6c5b4a | curl -d @- x";
	const struct dlp_finding *x;

	(void)state;
	assert_int_equal(dlp_scan_init(&s, e), 0);
	assert_int_equal(dlp_engine_exempt(e, values[0], strlen(values[0])), 0);
	scan_text(&s, text, sizeof(text) - 1);
	x = finding(&s.findings, DLP_DETECTOR_CANARY, NULL);
	assert_non_null(x);
	assert_int_equal(x->offset, 5);
	assert_true(dlp_finding_is_structural(x));
	dlp_scan_release(&s);
	dlp_engine_free(e);
}

/* An approved value passes every detector: exact, every variant, the
 * projection and partial windows, and the rule it matched; a different
 * secret in the same text is still found. */
static void test_exempt_every_detector(void **state)
{
	static const char *const names[] = { "A_TOKEN", "B_TOKEN", NULL };
	char b[40], gh[48], text[1024], *p;
	const char *values[3] = { SECRET, b, NULL };
	struct dlp_engine *e;
	struct dlp_scan s;
	size_t i;

	(void)state;
	make_token(b, "", 28, 5, NULL);
	make_token(gh, "ghp_", 36, 11, NULL);
	e = engine_new(names, values, true, NULL);
	assert_int_equal(dlp_scan_init(&s, e), 0);
	p = text + snprintf(text, sizeof(text), "exact %s base64 WnE4eFQ0dkxwMlJtOVdjWTdiTjNrSHM2SmQ1RmcxQWE hex ",
			    SECRET);
	for (i = 0; i < 32; i++)
		p += snprintf(p, 3, "%02x", (unsigned char)SECRET[i]);
	p += snprintf(p, 64, " sep ");
	for (i = 0; i < 32; i++)
		p += snprintf(p, 3, "%c.", SECRET[i]);
	p += snprintf(p, 200, " piece %.20s gh %s other %s", SECRET + 6, gh, b);

	scan_text(&s, text, strlen(text));
	assert_int_equal(count_detector(&s.findings, DLP_DETECTOR_KNOWN), 6);
	assert_non_null(finding(&s.findings, DLP_DETECTOR_RULE, "github-token"));

	/* Approve the secret (as an operator would, after supervise) and the
	 * GitHub token. */
	assert_int_equal(dlp_engine_exempt(e, SECRET, 32), 0);
	assert_int_equal(dlp_engine_exempt(e, gh, strlen(gh)), 0);
	dlp_scan_reset(&s);
	scan_text(&s, text, strlen(text));
	if (s.findings.n != 1) {
		dump(&s.findings);
		fail_msg("only B_TOKEN should remain");
	}
	assert_string_equal(s.findings.v[0].name, "B_TOKEN");
	assert_string_equal(s.findings.v[0].rule, "known:exact");

	/* Copied to a rebuilt engine, the approvals still hold. */
	{
		struct dlp_engine *e2 = engine_new(names, values, true, NULL);
		struct dlp_scan s2;

		assert_int_equal(dlp_engine_exempt_copy(e2, e), 0);
		assert_int_equal(dlp_scan_init(&s2, e2), 0);
		scan_text(&s2, text, strlen(text));
		assert_int_equal(s2.findings.n, 1);
		dlp_scan_release(&s2);
		dlp_engine_free(e2);
	}
	dlp_scan_release(&s);
	dlp_engine_free(e);
}

/* Approving a piece of a secret approves that piece, not the secret. */
static void test_exempt_piece_only(void **state)
{
	struct fixture *f = *state;
	char text[128];

	assert_int_equal(dlp_engine_exempt(f->e, SECRET + 4, 18), 0);
	snprintf(text, sizeof(text), "piece %.18s", SECRET + 4);
	dlp_scan_reset(&f->s);
	scan_text(&f->s, text, strlen(text));
	assert_int_equal(f->s.findings.n, 0);
	one_known(f, "whole " SECRET, 38);
}

static void test_exempt_bounds(void **state)
{
	struct fixture *f = *state;
	char v[32];
	size_t i;

	assert_int_equal(dlp_engine_exempt(f->e, "x", 0), -E2BIG);
	for (i = 0; i < DLP_EXEMPT_MAX; i++) {
		snprintf(v, sizeof(v), "value-%zu", i);
		assert_int_equal(dlp_engine_exempt(f->e, v, strlen(v)), 0);
	}
	assert_int_equal(dlp_engine_exempt(f->e, "one-too-many", 12), -E2BIG);
	/* The same value again is not a new entry. */
	assert_int_equal(dlp_engine_exempt(f->e, "value-3", 7), 0);
}

static void test_add_secret_refuses(void **state)
{
	struct dlp_engine *e = dlp_engine_new(NULL);
	char *env[] = { "A_TOKEN=short", "A_OTHER=long-enough-value", "UNRELATED=abcdefghijkl",
			"EXACT=exact-name-value", "NOEQUALS", NULL };
	static const char *const names[] = { "EXACT", NULL };
	static const char *const prefixes[] = { "A_", NULL };
	char long_value[DLP_SECRET_MAX + 2];
	size_t skipped;

	(void)state;
	memset(long_value, 'k', sizeof(long_value) - 1);
	long_value[sizeof(long_value) - 1] = '\0';
	assert_int_equal(dlp_engine_add_secret(e, "X", "1234567", 7, false), -EINVAL);
	assert_int_equal(dlp_engine_add_secret(e, "X", long_value, DLP_SECRET_MAX + 1, false),
			 -E2BIG);
	/* The same value twice is one secret. */
	assert_int_equal(dlp_engine_add_secret(e, "FIRST", "same-value-1234", 15, false), 0);
	assert_int_equal(dlp_engine_add_secret(e, "SECOND", "same-value-1234", 15, false), 0);
	assert_int_equal(dlp_engine_add_secret(e, "X", "--------++++", 12, false), -EINVAL);
	assert_int_equal(dlp_engine_add_env(e, env, names, prefixes, &skipped), 0);
	assert_int_equal(skipped, 1);
	assert_int_equal(dlp_engine_secret_count(e), 3);
	assert_int_equal(dlp_engine_build(e, NULL, 0), 0);
	assert_int_equal(dlp_engine_add_secret(e, "Y", "late-secret-value", 17, false), -EINVAL);
	dlp_engine_free(e);
}

/* Things that look like tokens and are not: a UUID, a git SHA, base64
 * image data, a form body with CRLF in it. */
static void test_no_false_positives(void **state)
{
	struct fixture *f = *state;
	static const char uuid_sha[] =
		"{\"id\":\"123e4567-e89b-12d3-a456-426614174000\","
		"\"commit\":\"3f786850e387550fdab836ed7e6dc881de23001b\","
		"\"tree\":\"4b825dc642cb6eb9a060e54bf8d69288fbee4904\"}";
	static const char form[] = "name=a%0D%0AHost:%20evil&text=line1\r\nline2\r\n\r\nend";
	unsigned char raw[3000];
	char image[4200], body[4300];
	uint32_t seed = 3;
	size_t i;

	dlp_scan_reset(&f->s);
	scan_text(&f->s, uuid_sha, sizeof(uuid_sha) - 1);
	if (f->s.findings.n) {
		dump(&f->s.findings);
		fail_msg("a UUID or a SHA was flagged");
	}

	/* A form body: CRLF there cannot split the request. */
	dlp_scan_reset(&f->s);
	assert_int_equal(dlp_scan_part(&f->s, DLP_WHERE_BODY, NULL, form, sizeof(form) - 1), 0);
	assert_int_equal(f->s.findings.n, 0);

	for (i = 0; i < sizeof(raw); i++) {
		seed = seed * 1103515245u + 12345u;
		raw[i] = (unsigned char)(seed >> 16);
	}
	memcpy(raw, "\x89PNG\r\n\x1a\n", 8);
	base64_encode(raw, sizeof(raw), false, true, image);
	snprintf(body, sizeof(body), "{\"image\":\"data:image/png;base64,%s\"}", image);
	dlp_scan_reset(&f->s);
	assert_int_equal(dlp_scan_part(&f->s, DLP_WHERE_BODY, NULL, body, strlen(body)), 0);
	if (dlp_findings_blocking(&f->s.findings)) {
		dump(&f->s.findings);
		fail_msg("base64 image data was flagged");
	}
}

/* CRLF and invisible controls in the head are structural findings. */
static void test_structural_head(void **state)
{
	struct fixture *f = *state;
	struct http1_field fields[3] = {
		{ STR_LITERAL("Accept"), STR_LITERAL("*/*") },
		{ STR_LITERAL("X-Note"), STR_LITERAL("a%0d%0aSet-Cookie: x") },
		{ STR_LITERAL("X-Dir"), STR_LITERAL("\xe2\x80\xae" "txt.exe") },
	};
	const struct dlp_finding *x;

	dlp_scan_reset(&f->s);
	assert_int_equal(dlp_scan_head(&f->s, STR_LITERAL("/a%0Ab"), STR_LITERAL("q=%E2%80%8B1"),
				       fields, 3),
			 0);
	if (f->s.findings.n != 4) {
		dump(&f->s.findings);
		fail_msg("expected four structural findings");
	}
	x = &f->s.findings.v[0];
	assert_int_equal(x->detector, DLP_DETECTOR_CRLF);
	assert_int_equal(x->where, DLP_WHERE_PATH);
	assert_string_equal(x->rule, "crlf:percent-encoded");
	assert_int_equal(x->offset, 2);
	x = &f->s.findings.v[1];
	assert_int_equal(x->detector, DLP_DETECTOR_UNICODE);
	assert_int_equal(x->where, DLP_WHERE_QUERY);
	assert_int_equal(x->offset, 2);
	assert_int_equal(x->len, 9);
	x = &f->s.findings.v[2];
	assert_int_equal(x->detector, DLP_DETECTOR_CRLF);
	assert_int_equal(x->where, DLP_WHERE_HEADER);
	assert_string_equal(x->name, "X-Note");
	x = &f->s.findings.v[3];
	assert_int_equal(x->detector, DLP_DETECTOR_UNICODE);
	assert_string_equal(x->name, "X-Dir");
	assert_true(dlp_finding_is_structural(x));

	/* A raw CR in a value (a parser let it through) is found too. */
	dlp_scan_reset(&f->s);
	assert_int_equal(dlp_scan_part(&f->s, DLP_WHERE_HEADER, "X-A", "v\rw", 3), 0);
	x = finding(&f->s.findings, DLP_DETECTOR_CRLF, "crlf:raw");
	assert_non_null(x);
	assert_int_equal(x->offset, 1);
}

/* A secret in a header value and one in a header name. */
static void test_head_secrets(void **state)
{
	struct fixture *f = *state;
	struct http1_field fields[2] = {
		{ STR_LITERAL("Authorization"), STR_LITERAL("Bearer " SECRET) },
		{ STR_LITERAL("X-" SECRET), STR_LITERAL("1") },
	};
	const struct dlp_finding *x;

	dlp_scan_reset(&f->s);
	assert_int_equal(dlp_scan_head(&f->s, STR_LITERAL("/"), STR_LITERAL(""), fields, 2), 0);
	assert_int_equal(f->s.findings.n, 2);
	x = &f->s.findings.v[0];
	assert_int_equal(x->where, DLP_WHERE_HEADER);
	assert_int_equal(x->offset, 7);
	x = &f->s.findings.v[1];
	assert_int_equal(x->where, DLP_WHERE_HEADER_NAME);
	assert_int_equal(x->offset, 2);
	assert_string_equal(x->name, "GITHUB_TOKEN");
}

static void test_entropy(void **state)
{
	struct fixture *f = *state;
	char token[64], text[160];
	const struct dlp_finding *x;

	make_token(token, "", 40, 1234, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/");
	snprintf(text, sizeof(text), "key: %s and the identifier ThisIsAVeryLongCamelCaseName ok",
		 token);
	dlp_scan_reset(&f->s);
	scan_text(&f->s, text, strlen(text));
	assert_int_equal(f->s.findings.n, 1);
	x = &f->s.findings.v[0];
	assert_int_equal(x->detector, DLP_DETECTOR_ENTROPY);
	assert_int_equal(x->offset, 5);
	assert_int_equal(x->len, 40);
	assert_true(x->warn_only);
	assert_false(dlp_findings_blocking(&f->s.findings));

	/* A route that opted in. */
	dlp_scan_reset(&f->s);
	f->s.entropy_enforce = true;
	scan_text(&f->s, text, strlen(text));
	f->s.entropy_enforce = false;
	assert_int_equal(f->s.findings.n, 1);
	assert_false(f->s.findings.v[0].warn_only);
	assert_true(dlp_findings_blocking(&f->s.findings));
}

static void test_findings_cap(void **state)
{
	struct fixture *f = *state;
	size_t n = 100, i, len = n * 34;
	char *text = malloc(len + 1);

	for (i = 0; i < n; i++)
		memcpy(text + i * 34, SECRET "  ", 34);
	dlp_scan_reset(&f->s);
	scan_text(&f->s, text, len);
	assert_int_equal(f->s.findings.n, DLP_FINDINGS_MAX);
	assert_int_equal(f->s.findings.dropped, n - DLP_FINDINGS_MAX);
	assert_true(dlp_findings_blocking(&f->s.findings));
	free(text);
}

/* Every span replaced, overlapping ones merged, the re-scan is clean. */
static void test_redact(void **state)
{
	struct fixture *f = *state;
	char gh[48], text[256];
	struct buf out;
	int n;

	make_token(gh, "ghp_", 36, 77, NULL);
	snprintf(text, sizeof(text), "{\"a\":\"%s\",\"b\":\"%s\",\"c\":\"%s\"}", SECRET, gh, SECRET);
	dlp_scan_reset(&f->s);
	scan_batches(&f->s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, text, strlen(text), 7);
	assert_int_equal(f->s.findings.n, 3);
	buf_init(&out, 4096);
	n = dlp_redact(&f->s.findings, DLP_WHERE_BODY, NULL, 0, text, strlen(text), &out);
	assert_int_equal(n, 3);
	assert_string_equal(out.p, "{\"a\":\"[REDACTED]\",\"b\":\"[REDACTED]\",\"c\":\"[REDACTED]\"}");
	dlp_scan_reset(&f->s);
	scan_text(&f->s, out.p, out.len);
	assert_int_equal(f->s.findings.n, 0);

	/* Part of a body (base offset), a span cut at its edge. */
	buf_clear(&out);
	dlp_scan_reset(&f->s);
	scan_batches(&f->s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, text, strlen(text), 0);
	n = dlp_redact(&f->s.findings, DLP_WHERE_BODY, NULL, 10, text + 10, 40, &out);
	assert_int_equal(n, 2);
	assert_string_equal(out.p, "[REDACTED]\",\"b\":\"[REDACTED]");
	/* Findings on other parts are left alone. */
	buf_clear(&out);
	n = dlp_redact(&f->s.findings, DLP_WHERE_HEADER, "Authorization", 0, text, 5, &out);
	assert_int_equal(n, 0);
	assert_string_equal(out.p, "{\"a\":");
	buf_release(&out);
}

static void test_redact_merges_overlaps(void **state)
{
	struct dlp_findings f;
	struct buf out;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.n = 3;
	f.v[0] = (struct dlp_finding){ .where = DLP_WHERE_HEADER, .offset = 2, .len = 4 };
	f.v[1] = (struct dlp_finding){ .where = DLP_WHERE_HEADER, .offset = 4, .len = 4 };
	f.v[2] = (struct dlp_finding){ .where = DLP_WHERE_HEADER, .offset = 12, .len = 2 };
	snprintf(f.v[0].name, sizeof(f.v[0].name), "X-A");
	snprintf(f.v[1].name, sizeof(f.v[1].name), "x-a");
	snprintf(f.v[2].name, sizeof(f.v[2].name), "X-B");
	buf_init(&out, 64);
	assert_int_equal(dlp_redact(&f, DLP_WHERE_HEADER, "X-A", 0, "0123456789abcdef", 16, &out),
			 1);
	assert_string_equal(out.p, "01[REDACTED]89abcdef");
	/* A cap too small for the result is an error, not a cut. */
	buf_release(&out);
	buf_init(&out, 8);
	assert_int_equal(dlp_redact(&f, DLP_WHERE_HEADER, "X-A", 0, "0123456789abcdef", 16, &out),
			 -EMSGSIZE);
	buf_release(&out);
}

/* The matcher against a naive search over random patterns and text. */
static void test_aho_corasick(void **state)
{
	struct dlp_ac a;
	char pats[200][8], text[3000];
	uint32_t seed = 42, s = 0, pat;
	size_t i, j, hits = 0, expected = 0;

	(void)state;
	dlp_ac_init(&a, "abc", false);
	for (i = 0; i < 200; i++) {
		size_t len = 1 + i % 7;

		for (j = 0; j < len; j++) {
			seed = seed * 1103515245u + 12345u;
			pats[i][j] = "abc"[(seed >> 16) % 3];
		}
		pats[i][len] = '\0';
		assert_int_equal(dlp_ac_add(&a, pats[i], len, (uint32_t)i), 0);
	}
	assert_int_equal(dlp_ac_add(&a, "abx", 3, 999), -EINVAL);
	assert_int_equal(dlp_ac_build(&a), 0);
	for (i = 0; i < sizeof(text); i++) {
		seed = seed * 1103515245u + 12345u;
		text[i] = "abcd"[(seed >> 16) % 4];
	}
	for (i = 0; i < sizeof(text); i++) {
		s = dlp_ac_step(&a, s, a.cls[(unsigned char)text[i]]);
		if (!dlp_ac_has_out(&a, s))
			continue;
		DLP_AC_FOREACH_OUT(&a, s, pat)
		{
			size_t len = strlen(pats[pat]);

			assert_true(len <= i + 1);
			assert_memory_equal(text + i + 1 - len, pats[pat], len);
			hits++;
		}
	}
	/* Every occurrence of every distinct pattern (duplicates count once
	 * per id, so count by id). */
	for (i = 0; i < 200; i++) {
		size_t len = strlen(pats[i]);

		for (j = 0; j + len <= sizeof(text); j++)
			expected += memcmp(text + j, pats[i], len) == 0;
	}
	assert_int_equal(hits, expected);
	dlp_ac_release(&a);
}

struct thread_arg {
	struct dlp_engine *e;
	const char *text;
	size_t len, found;
};

static void *scan_thread(void *p)
{
	struct thread_arg *t = p;
	struct dlp_scan s;
	int i;

	if (dlp_scan_init(&s, t->e) < 0)
		return NULL;
	for (i = 0; i < 200; i++) {
		dlp_scan_reset(&s);
		if (dlp_scan_part(&s, DLP_WHERE_BODY, NULL, t->text, t->len) == 0)
			t->found += s.findings.n;
	}
	dlp_scan_release(&s);
	return NULL;
}

/* One engine, several threads scanning at once, each with its own state. */
static void test_threads(void **state)
{
	struct fixture *f = *state;
	char gh[48], text[200];
	struct thread_arg args[3];
	pthread_t th[3];
	size_t i;

	make_token(gh, "ghp_", 36, 3, NULL);
	snprintf(text, sizeof(text), "a %s b %s c", SECRET, gh);
	for (i = 0; i < 3; i++) {
		args[i] = (struct thread_arg){ f->e, text, strlen(text), 0 };
		assert_int_equal(pthread_create(&th[i], NULL, scan_thread, &args[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].found, 400);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_base64, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hex_and_percent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_projection, setup, teardown),
		cmocka_unit_test_setup_teardown(test_json_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_windows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unicode_evasion, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_streaming_batches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_body, setup, teardown),
		cmocka_unit_test_setup_teardown(test_settled, setup, teardown),
		cmocka_unit_test(test_canary),
		cmocka_unit_test(test_exempt_every_detector),
		cmocka_unit_test_setup_teardown(test_exempt_piece_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exempt_bounds, setup, teardown),
		cmocka_unit_test(test_add_secret_refuses),
		cmocka_unit_test_setup_teardown(test_no_false_positives, setup, teardown),
		cmocka_unit_test_setup_teardown(test_structural_head, setup, teardown),
		cmocka_unit_test_setup_teardown(test_head_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_entropy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_findings_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_redact, setup, teardown),
		cmocka_unit_test(test_redact_merges_overlaps),
		cmocka_unit_test(test_aho_corasick),
		cmocka_unit_test_setup_teardown(test_threads, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* DLP in egress: what each policy decides for each kind of finding, which
 * policy a route gets, and the git-push check however it is spelled.  The
 * decisions are pure functions of findings, so each case is a handful of
 * hand-made findings; one case scans a real head to tie the two together. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "../../sidecar/egress/egress_dlp.h"

static struct dlp_finding finding(enum dlp_detector d, enum dlp_where w, const char *name)
{
	struct dlp_finding f;

	memset(&f, 0, sizeof(f));
	f.detector = d;
	f.where = w;
	snprintf(f.rule, sizeof(f.rule), "%s", d == DLP_DETECTOR_KNOWN ? "known:exact" : "x");
	snprintf(f.name, sizeof(f.name), "%s", name ? name : "");
	f.offset = 3;
	f.len = 20;
	snprintf(f.preview, sizeof(f.preview), "ab…(20)");
	return f;
}

/* The verdict points into these: they live until the next decide(). */
static struct dlp_findings decided;

static enum egress_dlp_action decide(const struct dlp_finding *v, size_t n,
				     enum route_outbound policy, bool queue,
				     struct egress_dlp_verdict *out)
{
	memset(&decided, 0, sizeof(decided));
	if (n)
		memcpy(decided.v, v, n * sizeof(*v));
	decided.n = n;
	egress_dlp_decide(&decided, policy, queue, out);
	return out->action;
}

static void test_nothing_or_warnings_pass(void **state)
{
	struct dlp_finding w = finding(DLP_DETECTOR_ENTROPY, DLP_WHERE_BODY, NULL);
	struct egress_dlp_verdict v;

	(void)state;
	w.warn_only = true;
	assert_int_equal(decide(NULL, 0, ROUTE_OUTBOUND_BLOCK, true, &v), EGRESS_DLP_PASS);
	assert_int_equal(decide(&w, 1, ROUTE_OUTBOUND_BLOCK, true, &v), EGRESS_DLP_PASS);
	assert_int_equal(decide(&w, 1, ROUTE_OUTBOUND_SUPERVISE, false, &v), EGRESS_DLP_PASS);
}

static void test_each_policy_on_a_known_secret(void **state)
{
	struct dlp_finding k = finding(DLP_DETECTOR_KNOWN, DLP_WHERE_QUERY, "GITHUB_TOKEN");
	struct egress_dlp_verdict v;

	(void)state;
	assert_int_equal(decide(&k, 1, ROUTE_OUTBOUND_BLOCK, true, &v), EGRESS_DLP_BLOCK);
	assert_non_null(strstr(v.reason, "known:exact GITHUB_TOKEN"));
	assert_non_null(strstr(v.reason, "in the query"));
	assert_non_null(strstr(v.reason, "outbound_on_match is block"));
	assert_int_equal(decide(&k, 1, ROUTE_OUTBOUND_REDACT, true, &v), EGRESS_DLP_REDACT);
	assert_int_equal(decide(&k, 1, ROUTE_OUTBOUND_SUPERVISE, true, &v), EGRESS_DLP_HOLD);
	assert_ptr_equal(v.finding, &decided.v[0]);
	/* Without the operator loop, supervise fails closed and says why. */
	assert_int_equal(decide(&k, 1, ROUTE_OUTBOUND_SUPERVISE, false, &v), EGRESS_DLP_BLOCK);
	assert_non_null(strstr(v.reason, "operator loop is not configured"));
}

static void test_structural_blocks_under_every_policy(void **state)
{
	static const enum dlp_detector structural[] = { DLP_DETECTOR_CANARY, DLP_DETECTOR_CRLF,
							DLP_DETECTOR_UNICODE,
							DLP_DETECTOR_UNDECODABLE };
	static const enum route_outbound policies[] = { ROUTE_OUTBOUND_BLOCK, ROUTE_OUTBOUND_REDACT,
							ROUTE_OUTBOUND_SUPERVISE };
	struct dlp_finding f[2];
	struct egress_dlp_verdict v;
	size_t i, j;

	(void)state;
	for (i = 0; i < 4; i++) {
		/* Listed after an ordinary finding: the structural one wins. */
		f[0] = finding(DLP_DETECTOR_KNOWN, DLP_WHERE_BODY, "T");
		f[1] = finding(structural[i], DLP_WHERE_HEADER, "x-a");
		for (j = 0; j < 3; j++) {
			assert_int_equal(decide(f, 2, policies[j], true, &v), EGRESS_DLP_BLOCK);
			assert_ptr_equal(v.finding, &decided.v[1]);
			assert_int_equal(v.finding->detector, structural[i]);
		}
	}
}

static void test_unreachable_places_block_redact_and_supervise(void **state)
{
	struct dlp_finding f[3];
	struct egress_dlp_verdict v;

	(void)state;
	f[0] = finding(DLP_DETECTOR_KNOWN, DLP_WHERE_HEADER, "Host");
	f[1] = finding(DLP_DETECTOR_RULE, DLP_WHERE_BODY_DECODED, NULL);
	f[2] = finding(DLP_DETECTOR_RULE, DLP_WHERE_HEADER_NAME, "x-ghp_abc");
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(decide(&f[i], 1, ROUTE_OUTBOUND_REDACT, true, &v), EGRESS_DLP_BLOCK);
		assert_non_null(strstr(v.reason, "cannot be redacted"));
		assert_int_equal(decide(&f[i], 1, ROUTE_OUTBOUND_SUPERVISE, true, &v), EGRESS_DLP_BLOCK);
		assert_non_null(strstr(v.reason, "held for approval"));
	}
	/* The same finding in an ordinary header is redacted. */
	f[0] = finding(DLP_DETECTOR_KNOWN, DLP_WHERE_HEADER, "X-Note");
	assert_int_equal(decide(&f[0], 1, ROUTE_OUTBOUND_REDACT, true, &v), EGRESS_DLP_REDACT);
	/* A rule that ran out of steps has no span to redact. */
	f[0] = finding(DLP_DETECTOR_RULE, DLP_WHERE_BODY, NULL);
	f[0].len = 0;
	assert_int_equal(decide(&f[0], 1, ROUTE_OUTBOUND_REDACT, true, &v), EGRESS_DLP_BLOCK);
}

static void test_dropped_findings_block(void **state)
{
	struct dlp_findings *f = calloc(1, sizeof(*f));
	struct egress_dlp_verdict v;

	(void)state;
	assert_non_null(f);
	f->dropped = 3;
	egress_dlp_decide(f, ROUTE_OUTBOUND_SUPERVISE, true, &v);
	assert_int_equal(v.action, EGRESS_DLP_BLOCK);
	free(f);
}

static void test_reasons_never_hold_the_value(void **state)
{
	static const char value[] = "ghp_0123456789abcdefghijklmnopqrstuvwxyz";
	struct dlp_engine *e = dlp_engine_new(NULL);
	struct egress_dlp_verdict v;
	struct dlp_scan s;
	struct http1_field fields[1] = { { STR_LITERAL("X-Key"), STR_LITERAL("") } };
	char err[256];

	(void)state;
	assert_non_null(e);
	assert_int_equal(dlp_engine_add_secret(e, "TOKEN", value, strlen(value), false), 0);
	assert_int_equal(dlp_engine_load_default_rules(e, err, sizeof(err)), 0);
	assert_int_equal(dlp_engine_build(e, err, sizeof(err)), 0);
	assert_int_equal(dlp_scan_init(&s, e), 0);
	fields[0].value = (struct str){ value, strlen(value) };
	assert_int_equal(dlp_scan_head(&s, STR_LITERAL("/x"), STR_LITERAL(""), fields, 1), 0);
	egress_dlp_decide(&s.findings, ROUTE_OUTBOUND_BLOCK, false, &v);
	assert_int_equal(v.action, EGRESS_DLP_BLOCK);
	assert_non_null(strstr(v.reason, "in the header X-Key"));
	assert_null(strstr(v.reason, value + 4));
	assert_null(strstr(v.reason, "0123"));
	dlp_scan_release(&s);
	dlp_engine_free(e);
}

static void test_route_policy(void **state)
{
	const char *providers[] = { "api.anthropic.com", NULL };
	struct egress_options o = { .provider_hosts = providers, .nprovider_hosts = 1 };
	struct route r = { .host = "x" };

	(void)state;
	assert_int_equal(egress_dlp_policy(&o, &r, "example.org"), ROUTE_OUTBOUND_SUPERVISE);
	assert_int_equal(egress_dlp_policy(&o, &r, "API.anthropic.com"), ROUTE_OUTBOUND_REDACT);
	/* What the route says wins, provider or not. */
	r.outbound_set = true;
	r.outbound_on_match = ROUTE_OUTBOUND_BLOCK;
	assert_int_equal(egress_dlp_policy(&o, &r, "api.anthropic.com"), ROUTE_OUTBOUND_BLOCK);
	r.outbound_on_match = ROUTE_OUTBOUND_SUPERVISE;
	assert_int_equal(egress_dlp_policy(&o, &r, "example.org"), ROUTE_OUTBOUND_SUPERVISE);
}

static bool push(const char *path, const char *query, const char *header)
{
	struct http1_fields *f = calloc(1, sizeof(*f));
	bool yes;

	assert_non_null(f);
	if (header) {
		f->v[0].name = STR_LITERAL("Content-Type");
		f->v[0].value = str_from_cstr(header);
		f->n = 1;
	}
	yes = egress_dlp_is_git_push(str_from_cstr(path), str_from_cstr(query), f);
	free(f);
	return yes;
}

static void test_git_push_however_spelled(void **state)
{
	(void)state;
	assert_true(push("/o/r.git/git-receive-pack", "", NULL));
	assert_true(push("/o/r.git/GIT-Receive-PACK", "", NULL));
	assert_true(push("/o/r.git/info/refs", "service=git-receive-pack", NULL));
	assert_true(push("/o/r.git/git-%72eceive-pack", "", NULL));
	assert_true(push("/o/r.git/git%2Dreceive%2dpack", "", NULL));
	assert_true(push("/o/r.git/git-%2572eceive-pack", "", NULL)); /* twice encoded */
	assert_true(push("/o/r.git/x", "", "application/x-git-receive-pack-request"));
	/* Fetches and look-alikes are not pushes. */
	assert_false(push("/o/r.git/git-upload-pack", "", NULL));
	assert_false(push("/o/r.git/info/refs", "service=git-upload-pack", NULL));
	assert_false(push("/o/r.git/git-receive", "pack", NULL));
	assert_false(push("/%", "%zz", "text/plain"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nothing_or_warnings_pass),
		cmocka_unit_test(test_each_policy_on_a_known_secret),
		cmocka_unit_test(test_structural_blocks_under_every_policy),
		cmocka_unit_test(test_unreachable_places_block_redact_and_supervise),
		cmocka_unit_test(test_dropped_findings_block),
		cmocka_unit_test(test_reasons_never_hold_the_value),
		cmocka_unit_test(test_route_policy),
		cmocka_unit_test(test_git_push_however_spelled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

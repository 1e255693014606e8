/* DLP rules: the loader (every error at file:line:col, all of a file or
 * none), the streaming windows around keywords, and each default rule
 * against a generated sample and a placeholder it must leave alone. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/dlp.h"
#include "test_dlp_helpers.h"

#define HEX "0123456789abcdef"
#define B64 "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
#define URLSAFE "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"

/* A sample: text before the secret, the secret (prefix + n generated
 * characters of alphabet), text after; the finding must span the secret. */
struct sample {
	const char *rule;
	const char *before;
	const char *prefix;
	size_t n;
	const char *alphabet;
	const char *after;
};

static const struct sample samples[] = {
	{ "aws-access-key-id", "id=", "AKIA", 16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "\n" },
	{ "aws-secret-access-key", "aws_secret_access_key = \"", "", 40,
	  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", "\"" },
	{ "gcp-service-account-key", "{\"private_key_id\": \"", "", 40, HEX, "\"}" },
	{ "google-api-key", "key=", "AIza", 35, URLSAFE, "&x=1" },
	{ "github-token", "token ", "ghp_", 36, NULL, "\n" },
	{ "github-token", "GH_TOKEN=", "ghs_", 36, NULL, "" },
	{ "github-fine-grained-pat", "", "github_pat_", 82,
	  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_", " " },
	{ "gitlab-token", "PRIVATE-TOKEN: ", "glpat-", 20, URLSAFE, "\r\n" },
	{ "anthropic-api-key", "x-api-key: ", "sk-ant-api03-", 95, URLSAFE, "\r\n" },
	{ "openai-api-key", "Bearer ", "sk-proj-", 100, URLSAFE, "\"" },
	{ "huggingface-token", "", "hf_", 34, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
	  "" },
	{ "groq-api-key", "GROQ_API_KEY=", "gsk_", 52, NULL, "\n" },
	{ "xai-api-key", "", "xai-", 80, NULL, "" },
	{ "slack-token", "SLACK_BOT_TOKEN=", "xoxb-1234567890-", 24, NULL, "\n" },
	{ "slack-app-token", "", "xapp-1-A0123BCDEFG-1234567890123-", 64, HEX, "" },
	{ "slack-webhook", "url: https://hooks.slack.com/services/", "T0A1B2C3D/B4E5F6G7H/", 24,
	  NULL, "\n" },
	{ "stripe-key", "", "sk_live_", 24, NULL, "" },
	{ "stripe-webhook-secret", "", "whsec_", 32, NULL, "" },
	{ "npm-token", "//registry.npmjs.org/:_authToken=", "npm_", 36, NULL, "\n" },
	{ "pypi-token", "password = ", "pypi-AgEIcHlwaS5vcmc", 60, URLSAFE, "\n" },
	{ "docker-hub-pat", "", "dckr_pat_", 27, URLSAFE, " " },
	{ "digitalocean-token", "", "dop_v1_", 64, HEX, "" },
	{ "shopify-token", "", "shpat_", 32, HEX, "" },
	{ "linear-api-key", "", "lin_api_", 40, NULL, "" },
	{ "private-key", "", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA", 60,
	  B64, "\n-----END OPENSSH PRIVATE KEY-----\n" },
	{ "private-key", "{\"key\": \"", "-----BEGIN RSA PRIVATE KEY-----\\nMIIE", 60, B64,
	  "\\n\"}" },
	{ "jwt", "Authorization: Bearer ",
	  "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkphbmUifQ.", 43, URLSAFE,
	  "\r\n" },
	{ "database-url-password", "DATABASE_URL=postgres://app:", "", 16, NULL,
	  "@db.internal:5432/app\n" },
	{ "database-url-password", "mongodb+srv://admin:", "", 20, NULL, "@cluster0.example.net/" },
};

struct fixture {
	struct dlp_engine *e;
	struct dlp_scan s;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->e = engine_new(NULL, NULL, true, NULL);
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

static void test_default_rules_find_samples(void **state)
{
	struct fixture *f = *state;
	char secret[512], text[1024];
	size_t i, batch;

	assert_true(dlp_engine_rule_count(f->e) >= 25);
	for (i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		const struct sample *x = &samples[i];
		size_t before = strlen(x->before), len;

		make_token(secret, x->prefix, x->n, (uint32_t)i + 1, x->alphabet);
		len = (size_t)snprintf(text, sizeof(text), "%s%s%s", x->before, secret, x->after);
		/* Whole, and in batches that cut the keyword and the match. */
		for (batch = 0; batch < 8; batch += 3) {
			const struct dlp_finding *hit;

			dlp_scan_reset(&f->s);
			scan_batches(&f->s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, text, len, batch);
			hit = finding(&f->s.findings, DLP_DETECTOR_RULE, x->rule);
			if (!hit || f->s.findings.n != 1 || strcmp(hit->rule, x->rule) != 0) {
				dump(&f->s.findings);
				fail_msg("sample %zu (%s), batch %zu: not found alone", i, x->rule,
					 batch);
			}
			if (strcmp(x->rule, "database-url-password") == 0 ||
			    strcmp(x->rule, "slack-webhook") == 0) {
				/* The secret is a part of the match: the password, the
				 * webhook's path. */
				assert_int_equal(hit->offset, before);
				assert_int_equal(hit->len, strlen(secret));
			} else if (strcmp(x->rule, "private-key") == 0) {
				assert_int_equal(hit->offset, before);
				assert_true(hit->len >= 40 && hit->len <= strlen(secret));
			} else {
				assert_int_equal(hit->offset, before);
				assert_int_equal(hit->len, strlen(secret));
			}
			assert_false(hit->warn_only);
			assert_no_value(&f->s.findings, secret + strlen(x->prefix));
		}
	}
}

/* Placeholders and documentation: no finding. */
static void test_default_rules_leave_placeholders(void **state)
{
	struct fixture *f = *state;
	static const char *const texts[] = {
		"token ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n",
		"AKIAXXXXXXXXXXXXXXXX is the shape of a key id",
		"DATABASE_URL=postgres://app:password@localhost:5432/app",
		"DATABASE_URL=postgres://app:${DB_PASSWORD}@localhost/app",
		"redis://:<password>@cache:6379/0 and mysql://root:%MYSQL_PW%@db/x",
		"the header -----BEGIN RSA PRIVATE KEY----- starts a PEM key",
		"sk_live_ alone, hf_ alone, eyJ alone, xoxb- alone",
		"see https://docs.example.com/aws/secret/keys for details",
	};
	size_t i;

	for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		dlp_scan_reset(&f->s);
		scan_text(&f->s, texts[i], strlen(texts[i]));
		if (f->s.findings.n) {
			dump(&f->s.findings);
			fail_msg("placeholder %zu flagged", i);
		}
	}
}

static int load(struct dlp_engine *e, const char *yaml, char *err, size_t err_len)
{
	return dlp_engine_load_rules_string(e, "rules.yaml", yaml, strlen(yaml), err, err_len);
}

static void expect_error(const char *yaml, const char *message)
{
	struct dlp_engine *e = dlp_engine_new(NULL);
	char err[512];

	assert_int_equal(load(e, yaml, err, sizeof(err)), -EINVAL);
	if (!strstr(err, message))
		fail_msg("error '%s' does not say '%s'", err, message);
	assert_int_equal(dlp_engine_rule_count(e), 0);
	dlp_engine_free(e);
}

static void test_loader_errors(void **state)
{
	(void)state;
	expect_error("rules:\n  - id: a\n    regex: x\n    keyword: [x]\n",
		     "rules.yaml:4:5: rules[0]: unknown key 'keyword'");
	expect_error("rule: []\n", "rules.yaml:1:1: rules file: unknown key 'rule'");
	expect_error("rules:\n  - id: a\n    regex: 'a(b'\n",
		     "rules.yaml:3:12: a.regex: invalid regex at offset 3: missing closing parenthesis");
	expect_error("rules:\n  - id: a\n    regex: x\n  - id: a\n    regex: y\n",
		     "rules.yaml:4:9: rules[1].id: 'a' is defined twice");
	expect_error("rules:\n  - id: Bad Id\n    regex: x\n", "rules.yaml:2:9: rules[0].id:");
	expect_error("rules:\n  - id: a\n    regex: '(x)'\n    secret_group: 2\n",
		     "rules.yaml:4:19: a.secret_group:");
	expect_error("rules:\n  - id: a\n    regex: x\n    entropy: lots\n",
		     "rules.yaml:4:14: a.entropy: 'lots' is not a number of bits from 0 to 8");
	expect_error("rules:\n  - id: a\n    regex: x\n    keywords: x\n", "rules.yaml:4:15:");
	expect_error("rules:\n  - id: a\n    regex: x\n    max_len: 100000\n", "a.max_len");
	expect_error("rules:\n  - id: a\n    regex: x\n    allowlist: ['(']\n",
		     "rules.yaml:4:17: a.allowlist[0]: invalid regex");
	expect_error("rules:\n  - id: a\n", "rules.yaml:2:5: rules[0]:");
}

/* A file with an error adds none of its rules; another file adds its own. */
static void test_loader_all_or_nothing(void **state)
{
	struct dlp_engine *e = dlp_engine_new(NULL);
	char err[512];

	(void)state;
	assert_int_equal(load(e, "rules:\n  - id: one\n    regex: one\n", err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(load(e, "rules:\n  - id: two\n    regex: two\n  - id: three\n    regex: '('\n",
			      err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dlp_engine_rule_count(e), 1);
	assert_int_equal(load(e, "rules:\n  - id: one\n    regex: again\n", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(dlp_engine_build(e, err, sizeof(err)), 0);
	assert_int_equal(load(e, "rules:\n  - id: four\n    regex: x\n", err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "after the engine was built"));
	dlp_engine_free(e);
}

static struct dlp_engine *engine_rules(const char *yaml)
{
	struct dlp_engine *e = dlp_engine_new(NULL);
	char err[512];

	if (load(e, yaml, err, sizeof(err)) < 0)
		fail_msg("%s", err);
	assert_int_equal(dlp_engine_build(e, err, sizeof(err)), 0);
	return e;
}

/* A rule without keywords runs over every batch, with an overlap that
 * keeps a match cut by a batch boundary whole. */
static void test_keywordless_rule_streams(void **state)
{
	struct dlp_engine *e = engine_rules("rules:\n  - id: order\n    regex: '\\bORD-[0-9]{8}\\b'\n"
					    "    max_len: 16\n");
	struct dlp_scan s;
	char text[40000];
	size_t batch, i;

	(void)state;
	memset(text, '.', sizeof(text));
	memcpy(text + 16380, "ORD-12345678", 12);
	memcpy(text + 30000, "ORD-87654321", 12);
	assert_int_equal(dlp_scan_init(&s, e), 0);
	for (batch = 1000; batch <= 17000; batch += 4000) {
		dlp_scan_reset(&s);
		scan_batches(&s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, text, sizeof(text), batch);
		if (s.findings.n != 2) {
			dump(&s.findings);
			fail_msg("batch %zu", batch);
		}
		for (i = 0; i < 2; i++) {
			assert_string_equal(s.findings.v[i].rule, "order");
			assert_int_equal(s.findings.v[i].len, 12);
		}
		assert_int_equal(s.findings.v[0].offset, 16380);
		assert_int_equal(s.findings.v[1].offset, 30000);
	}
	dlp_scan_release(&s);
	dlp_engine_free(e);
}

/* Keywords close together make one window; a match is reported once. */
static void test_keyword_windows(void **state)
{
	struct dlp_engine *e = engine_rules(
		"rules:\n  - id: kv\n    regex: 'secret=([a-z]{6,})'\n    keywords: [secret, SECRET=]\n"
		"    max_len: 32\n  - id: warn\n    regex: 'maybe-[0-9]+'\n    keywords: [maybe]\n"
		"    warn_only: true\n    secret_group: 0\n"
		"  - id: allowed\n    regex: 'pw:([a-z]+)'\n    keywords: ['pw:']\n"
		"    allowlist: ['^example$']\n"
		"  - id: random\n    regex: 'rnd:([A-Za-z0-9]{12})'\n    keywords: ['rnd:']\n"
		"    entropy: 3.2\n");
	const char text[] = "a secret=abcdefg SECRET=hijklmn secret secret=op pw:example pw:hunter "
			    "maybe-42 rnd:aaaaaaaaaaaa rnd:k3J9xQ2mP7vL";
	const struct dlp_finding *x;
	struct dlp_scan s;
	size_t batch;

	(void)state;
	assert_int_equal(dlp_scan_init(&s, e), 0);
	for (batch = 0; batch < 5; batch++) {
		dlp_scan_reset(&s);
		scan_batches(&s, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, text, sizeof(text) - 1, batch);
		if (s.findings.n != 4) {
			dump(&s.findings);
			fail_msg("batch %zu", batch);
		}
		x = finding(&s.findings, DLP_DETECTOR_RULE, "kv");
		assert_non_null(x);
		assert_int_equal(x->offset, 9);
		assert_int_equal(x->len, 7);
		x = finding(&s.findings, DLP_DETECTOR_RULE, "allowed");
		assert_non_null(x);
		assert_int_equal(x->offset, 63);
		x = finding(&s.findings, DLP_DETECTOR_RULE, "warn");
		assert_non_null(x);
		assert_true(x->warn_only);
		assert_int_equal(x->len, 8);
		x = finding(&s.findings, DLP_DETECTOR_RULE, "random");
		assert_non_null(x);
		assert_int_equal(x->offset, 100);
	}
	dlp_scan_release(&s);
	dlp_engine_free(e);
}

/* A pathological regex hits the match limit and fails closed. */
static void test_match_limit_fails_closed(void **state)
{
	struct dlp_engine *e = engine_rules("rules:\n  - id: slow\n    regex: '(a|aa)+$'\n"
					    "    keywords: [aaaa]\n    max_len: 4096\n");
	struct dlp_scan s;
	char text[3000];

	(void)state;
	memset(text, 'a', sizeof(text));
	text[sizeof(text) - 1] = 'b';
	assert_int_equal(dlp_scan_init(&s, e), 0);
	scan_text(&s, text, sizeof(text));
	assert_non_null(finding(&s.findings, DLP_DETECTOR_RULE, "slow"));
	assert_true(dlp_findings_blocking(&s.findings));
	dlp_scan_release(&s);
	dlp_engine_free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_default_rules_find_samples, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_rules_leave_placeholders, setup,
						teardown),
		cmocka_unit_test(test_loader_errors),
		cmocka_unit_test(test_loader_all_or_nothing),
		cmocka_unit_test(test_keywordless_rule_streams),
		cmocka_unit_test(test_keyword_windows),
		cmocka_unit_test(test_match_limit_fails_closed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

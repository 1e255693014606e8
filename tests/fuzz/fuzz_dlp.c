/* libFuzzer target: the DLP scan (shared/dlp_*.c) over an arbitrary body.
 *
 * Input: byte 0 picks the batch size (1..64, or 0: all at once), byte 1
 * the Content-Encoding (identity, gzip, deflate, br), the rest is the body.
 * The engine holds three known secrets, a canary and the default rules.
 * Invariants checked:
 * - every finding lies inside what was scanned (identity), has a preview
 *   of at most 4 printable characters plus the length, and holds no 5
 *   characters of a secret in a row;
 * - known-secret findings (known, canary, unicode) are the same whether
 *   the body is fed at once or in small batches;
 * - redacting every finding and scanning again leaves no known secret;
 * - the scan state's memory does not change, whatever was fed;
 * - a finding never starts before an offset dlp_scan_settled() gave;
 * - the head checks (dlp_scan_head) accept any bytes as path and value.
 */
#include "../../shared/buf.h"
#include "../../shared/config_yaml.h"
#include "../../shared/dlp_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static const char *const secrets[] = {
	"Zq8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1Aa",
	"sk-test-0123456789abcdefABCDEF",
	"p@ss w0rd/with+symbols=",
	"cAn4ryV4lu3-9f8e7d6c5b4a", /* the canary */
};

static struct dlp_engine *engine;
static struct dlp_scan scan_a, scan_b;

static void setup(void)
{
	char err[512];
	size_t i;

	engine = dlp_engine_new(NULL);
	CHECK(engine);
	for (i = 0; i < 4; i++)
		CHECK(dlp_engine_add_secret(engine, i == 3 ? "CANARY" : "TOKEN", secrets[i],
					    strlen(secrets[i]), i == 3) == 0);
	CHECK(dlp_engine_load_default_rules(engine, err, sizeof(err)) == 0);
	CHECK(dlp_engine_build(engine, err, sizeof(err)) == 0);
	CHECK(dlp_scan_init(&scan_a, engine) == 0);
	CHECK(dlp_scan_init(&scan_b, engine) == 0);
}

/* Fed in batches; for a plain body, what is found after a batch never
 * starts before what dlp_scan_settled() said before it. */
static void scan(struct dlp_scan *s, enum dlp_encoding enc, const char *p, size_t len,
		 size_t batch)
{
	size_t at = 0, before, i;
	uint64_t settled = 0;

	dlp_scan_reset(s);
	CHECK(dlp_scan_begin(s, DLP_WHERE_BODY, NULL, enc, 0) == 0);
	if (batch == 0)
		batch = len ? len : 1;
	while (at < len) {
		size_t n = len - at < batch ? len - at : batch;

		before = s->findings.n;
		CHECK(dlp_scan_feed(s, p + at, p + at + n) == 0);
		at += n;
		if (enc != DLP_ENCODING_IDENTITY)
			continue;
		for (i = before; i < s->findings.n; i++)
			CHECK(s->findings.v[i].offset >= settled);
		CHECK(dlp_scan_settled(s) >= settled);
		settled = dlp_scan_settled(s);
		CHECK(settled <= at);
	}
	before = s->findings.n;
	CHECK(dlp_scan_end(s) == 0);
	if (enc == DLP_ENCODING_IDENTITY)
		for (i = before; i < s->findings.n; i++)
			CHECK(s->findings.v[i].offset >= settled);
}

static void check_finding(const struct dlp_finding *f, enum dlp_encoding enc, size_t len)
{
	size_t i, j, plen = strlen(f->preview);
	const char *ellipsis = strstr(f->preview, "\xe2\x80\xa6(");

	if (enc == DLP_ENCODING_IDENTITY)
		CHECK(f->offset + f->len <= len);
	CHECK(ellipsis && ellipsis - f->preview <= 4);
	CHECK(f->preview[plen - 1] == ')');
	for (i = 0; i < (size_t)(ellipsis - f->preview); i++)
		CHECK(f->preview[i] > 0x20 && f->preview[i] < 0x7f);
	for (i = 0; i < 4; i++)
		for (j = 0; j + 5 <= strlen(secrets[i]); j++)
			CHECK(!memmem(f, sizeof(*f), secrets[i] + j, 5));
}

static bool is_known(const struct dlp_finding *f)
{
	return f->detector == DLP_DETECTOR_KNOWN || f->detector == DLP_DETECTOR_CANARY ||
	       (f->detector == DLP_DETECTOR_UNICODE && strcmp(f->rule, "unicode:known-secret") == 0);
}

static bool has_known(const struct dlp_findings *fs, const struct dlp_finding *f)
{
	size_t i;

	for (i = 0; i < fs->n; i++)
		if (is_known(&fs->v[i]) && fs->v[i].detector == f->detector &&
		    fs->v[i].offset == f->offset && fs->v[i].len == f->len &&
		    strcmp(fs->v[i].rule, f->rule) == 0)
			return true;
	return false;
}

static void check_same_known(const struct dlp_findings *a, const struct dlp_findings *b)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		if (is_known(&a->v[i]))
			CHECK(has_known(b, &a->v[i]));
	for (i = 0; i < b->n; i++)
		if (is_known(&b->v[i]))
			CHECK(has_known(a, &b->v[i]));
}

static void check_redaction(const char *p, size_t len)
{
	struct buf out;
	size_t i;

	buf_init(&out, len * 4 + 1024);
	CHECK(dlp_redact(&scan_a.findings, DLP_WHERE_BODY, NULL, 0, p, len, &out) >= 0);
	scan(&scan_b, DLP_ENCODING_IDENTITY, out.p, out.len, 0);
	for (i = 0; i < 4; i++)
		CHECK(!memmem(out.p, out.len, secrets[i], strlen(secrets[i])));
	buf_release(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dlp_encoding encs[] = { DLP_ENCODING_IDENTITY, DLP_ENCODING_GZIP,
						  DLP_ENCODING_DEFLATE, DLP_ENCODING_BR };
	struct http1_field field;
	enum dlp_encoding enc;
	const char *body;
	size_t len, batch, i, memory;

	if (!engine)
		setup();
	if (size < 2)
		return 0;
	batch = data[0] % 65;
	enc = encs[data[1] % 4];
	body = (const char *)data + 2;
	len = size - 2;
	memory = dlp_scan_memory(&scan_a);

	scan(&scan_a, enc, body, len, 0);
	for (i = 0; i < scan_a.findings.n; i++)
		check_finding(&scan_a.findings.v[i], enc, len);
	CHECK(dlp_scan_memory(&scan_a) == memory);
	if (batch && scan_a.findings.n < DLP_FINDINGS_MAX) {
		scan(&scan_b, enc, body, len, batch);
		if (scan_b.findings.n < DLP_FINDINGS_MAX)
			check_same_known(&scan_a.findings, &scan_b.findings);
	}
	if (enc == DLP_ENCODING_IDENTITY && scan_a.findings.n < DLP_FINDINGS_MAX)
		check_redaction(body, len);

	field.name = (struct str){ body, len < 16 ? len : 16 };
	field.value = (struct str){ body, len };
	dlp_scan_reset(&scan_b);
	CHECK(dlp_scan_head(&scan_b, (struct str){ body, len }, (struct str){ body, len / 2 },
			    &field, 1) == 0);
	for (i = 0; i < scan_b.findings.n; i++)
		CHECK(scan_b.findings.v[i].offset + scan_b.findings.v[i].len <= len);
	return 0;
}

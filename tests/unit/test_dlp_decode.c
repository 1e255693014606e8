/* Compressed request bodies: gzip and deflate (zlib-wrapped and raw) are
 * decoded and scanned, in batches, within a bound; a corrupt, truncated,
 * oversized or br body is an undecodable finding, never waved through. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "../../shared/dlp.h"
#include "test_dlp_helpers.h"

#define SECRET "Zq8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1Aa"

static const char *const names[] = { "API_TOKEN", NULL };
static const char *const values[] = { SECRET, NULL };

/* windowBits: 31 gzip, 15 zlib, -15 raw deflate. */
static size_t compress_to(const char *in, size_t len, int bits, unsigned char *out, size_t cap)
{
	z_stream z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, bits, 8, Z_DEFAULT_STRATEGY), Z_OK);
	z.next_in = (unsigned char *)(uintptr_t)in;
	z.avail_in = (uInt)len;
	z.next_out = out;
	z.avail_out = (uInt)cap;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	deflateEnd(&z);
	return cap - z.avail_out;
}

static char *body_with_secret(size_t len, size_t at)
{
	static const char filler[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]} ";
	char *body = malloc(len);
	size_t i;

	assert_non_null(body);
	for (i = 0; i < len; i++)
		body[i] = filler[i % (sizeof(filler) - 1)];
	memcpy(body + at, SECRET, 32);
	return body;
}

static void test_gzip_deflate_raw(void **state)
{
	static const int bits[] = { 31, 15, -15 };
	static const enum dlp_encoding encs[] = { DLP_ENCODING_GZIP, DLP_ENCODING_DEFLATE,
						  DLP_ENCODING_DEFLATE };
	struct dlp_engine *e = engine_new(names, values, true, NULL);
	size_t len = 300000, clen, i, batch;
	char *body = body_with_secret(len, 200001);
	unsigned char *c = malloc(len);
	struct dlp_scan s;

	(void)state;
	assert_int_equal(dlp_scan_init(&s, e), 0);
	for (i = 0; i < 3; i++) {
		clen = compress_to(body, len, bits[i], c, len);
		for (batch = 1; batch <= 16384; batch *= 8) {
			const struct dlp_finding *x;

			dlp_scan_reset(&s);
			scan_batches(&s, DLP_WHERE_BODY, encs[i], (const char *)c, clen, batch);
			if (s.findings.n != 1) {
				dump(&s.findings);
				fail_msg("encoding %zu batch %zu", i, batch);
			}
			x = &s.findings.v[0];
			assert_int_equal(x->detector, DLP_DETECTOR_KNOWN);
			assert_int_equal(x->where, DLP_WHERE_BODY_DECODED);
			/* Offsets are the decoded body's. */
			assert_int_equal(x->offset, 200001);
		}
	}
	dlp_scan_release(&s);
	dlp_engine_free(e);
	free(body);
	free(c);
}

static const struct dlp_finding *undecodable(struct dlp_scan *s, enum dlp_encoding enc,
					     const void *p, size_t len)
{
	dlp_scan_reset(s);
	scan_batches(s, DLP_WHERE_BODY, enc, p, len, 1000);
	return finding(&s->findings, DLP_DETECTOR_UNDECODABLE, NULL);
}

static void test_undecodable(void **state)
{
	struct dlp_options o;
	struct dlp_engine *e;
	struct dlp_scan s;
	size_t len = 200000, clen;
	char *body = body_with_secret(len, 50);
	unsigned char *c = malloc(len);
	const struct dlp_finding *x;

	(void)state;
	dlp_options_default(&o);
	o.decode_max = 100000;
	e = engine_new(names, values, false, &o);
	assert_int_equal(dlp_scan_init(&s, e), 0);
	clen = compress_to(body, len, 31, c, len);

	/* Over the bound: what was decoded is scanned, the rest is not. */
	x = undecodable(&s, DLP_ENCODING_GZIP, c, clen);
	assert_non_null(x);
	assert_string_equal(x->rule, "decode:over-bound");
	assert_non_null(finding(&s.findings, DLP_DETECTOR_KNOWN, NULL));
	assert_true(dlp_findings_blocking(&s.findings));

	/* Truncated. */
	x = undecodable(&s, DLP_ENCODING_GZIP, c, 200);
	assert_non_null(x);
	assert_string_equal(x->rule, "decode:corrupt");

	/* Corrupt. */
	clen = compress_to(body, 5000, 31, c, len);
	c[clen / 2] ^= 0x55;
	c[clen / 2 + 1] ^= 0xaa;
	x = undecodable(&s, DLP_ENCODING_GZIP, c, clen);
	assert_non_null(x);
	assert_string_equal(x->rule, "decode:corrupt");

	/* Not compressed at all. */
	x = undecodable(&s, DLP_ENCODING_DEFLATE, body, 5000);
	assert_non_null(x);

	/* br: no decoder; the bytes are still scanned as they are. */
	x = undecodable(&s, DLP_ENCODING_BR, body, 5000);
	assert_non_null(x);
	assert_string_equal(x->rule, "decode:br-unsupported");
	assert_non_null(finding(&s.findings, DLP_DETECTOR_KNOWN, NULL));
	x = undecodable(&s, dlp_encoding_parse(STR_LITERAL("gzip, br")), body, 100);
	assert_string_equal(x->rule, "decode:unknown-encoding");

	/* An empty compressed body is an empty body. */
	assert_null(undecodable(&s, DLP_ENCODING_GZIP, "", 0));
	dlp_scan_release(&s);
	dlp_engine_free(e);
	free(body);
	free(c);
}

/* A zip bomb costs a finding, not memory. */
static void test_zip_bomb(void **state)
{
	struct dlp_engine *e = engine_new(names, values, false, NULL);
	size_t len = 80u << 20, clen;
	char *zeros = calloc(1, len);
	unsigned char *c = malloc(1 << 20);
	struct dlp_scan s;
	size_t memory;

	(void)state;
	assert_non_null(zeros);
	clen = compress_to(zeros, len, 31, c, 1 << 20);
	free(zeros);
	assert_true(clen < 200000);
	assert_int_equal(dlp_scan_init(&s, e), 0);
	memory = dlp_scan_memory(&s);
	assert_non_null(undecodable(&s, DLP_ENCODING_GZIP, c, clen));
	assert_string_equal(finding(&s.findings, DLP_DETECTOR_UNDECODABLE, NULL)->rule,
			    "decode:over-bound");
	assert_int_equal(dlp_scan_memory(&s), memory);
	dlp_scan_release(&s);
	dlp_engine_free(e);
	free(c);
}

static void test_encoding_parse(void **state)
{
	(void)state;
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("")), DLP_ENCODING_IDENTITY);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL(" Identity ")), DLP_ENCODING_IDENTITY);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("GZIP")), DLP_ENCODING_GZIP);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("x-gzip")), DLP_ENCODING_GZIP);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("deflate")), DLP_ENCODING_DEFLATE);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("br")), DLP_ENCODING_BR);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("zstd")), DLP_ENCODING_UNKNOWN);
	assert_int_equal(dlp_encoding_parse(STR_LITERAL("gzip,gzip")), DLP_ENCODING_UNKNOWN);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gzip_deflate_raw),
		cmocka_unit_test(test_undecodable),
		cmocka_unit_test(test_zip_bomb),
		cmocka_unit_test(test_encoding_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

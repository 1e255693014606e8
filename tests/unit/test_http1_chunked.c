/* The chunked codec: strict sizes and extensions, CRLF after data, bounded
 * trailers with the header rules, decoding in any pieces gives the same
 * bytes, and encode/decode round trips. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/http1.h"

struct result {
	int status;        /* DONE, MORE or an error */
	size_t consumed;   /* input bytes consumed when it stopped */
	char data[4096];
	size_t len;
};

/* Feed s in pieces of `step` bytes (0: all at once), each piece in its own
 * heap buffer so ASan sees a slice that outlives its piece. */
static void decode_in_steps(const char *s, size_t n, size_t step, const struct http1_limits *l,
			    struct result *res)
{
	struct http1_chunked c;
	size_t off = 0, piece;
	const char *p, *end;
	struct str d;
	char *buf;
	int r = HTTP1_CHUNKED_MORE;

	memset(res, 0, sizeof(*res));
	http1_chunked_init(&c, l);
	while (off < n || n == 0) {
		piece = step && n - off > step ? step : n - off;
		buf = malloc(piece + 1);
		assert_non_null(buf);
		memcpy(buf, s + off, piece);
		p = buf;
		end = buf + piece;
		while ((r = http1_chunked_decode(&c, &p, end, &d)) == HTTP1_CHUNKED_DATA) {
			assert_true(d.len > 0);
			assert_true(d.p >= buf && d.p + d.len <= end);
			assert_true(res->len + d.len <= sizeof(res->data));
			memcpy(res->data + res->len, d.p, d.len);
			res->len += d.len;
		}
		if (r == HTTP1_CHUNKED_MORE)
			assert_true(p == end);
		off += (size_t)(p - buf);
		free(buf);
		if (r != HTTP1_CHUNKED_MORE || n == 0)
			break;
	}
	res->status = r;
	res->consumed = off;
}

/* All at once, byte by byte and in 3s: the same bytes, status and stop. */
static void decode_checked(const char *s, size_t n, const struct http1_limits *l, struct result *res)
{
	static struct result other;
	size_t steps[] = { 1, 3, 7 };
	size_t i;

	decode_in_steps(s, n, 0, l, res);
	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		decode_in_steps(s, n, steps[i], l, &other);
		assert_int_equal(other.status, res->status);
		assert_int_equal(other.len, res->len);
		assert_memory_equal(other.data, res->data, res->len);
		if (res->status == HTTP1_CHUNKED_DONE)
			assert_int_equal(other.consumed, res->consumed);
	}
}

static struct result res;

static void expect_body(const char *s, const char *want, size_t rest)
{
	decode_checked(s, strlen(s), NULL, &res);
	if (res.status != HTTP1_CHUNKED_DONE)
		fail_msg("got %d (%s) for: %s", res.status, http1_strerror(res.status), s);
	assert_int_equal(res.len, strlen(want));
	assert_memory_equal(res.data, want, res.len);
	assert_int_equal(strlen(s) - res.consumed, rest);
}

static void expect_err_n(const char *s, size_t n, int code)
{
	decode_checked(s, n, NULL, &res);
	if (res.status != code)
		fail_msg("want %d (%s), got %d (%s) for: %s", code, http1_strerror(code), res.status,
			 res.status < 0 ? http1_strerror(res.status) : "not an error", s);
}

static void expect_err(const char *s, int code)
{
	expect_err_n(s, strlen(s), code);
}

static void test_decode_basic(void **state)
{
	(void)state;
	expect_body("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", "hello world", 0);
	expect_body("0\r\n\r\n", "", 0);
	expect_body("000\r\n\r\n", "", 0);
	expect_body("A\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0);
	expect_body("00000a\r\n0123456789\r\n0\r\n\r\n", "0123456789", 0);
	/* Data may hold CR, LF and NUL: only the size frames it. */
	expect_body("4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", 0);
	/* The next message is left alone. */
	expect_body("1\r\nx\r\n0\r\n\r\nGET / HTTP/1.1\r\n", "x", 16);
}

static void test_decode_extensions_and_trailers(void **state)
{
	(void)state;
	expect_body("5;name=value\r\nhello\r\n0\r\n\r\n", "hello", 0);
	expect_body("5 ; a ; b = \"q\\\"uoted; \" ;c\r\nhello\r\n0;last\r\n\r\n", "hello", 0);
	expect_body("5;a=\"\"\r\nhello\r\n0\r\n\r\n", "hello", 0);
	expect_body("5\r\nhello\r\n0\r\nX-Checksum: abc\r\nX-Empty:\r\n\r\n", "hello", 0);
}

static void test_size_rejections(void **state)
{
	(void)state;
	expect_err("\r\nhello\r\n0\r\n\r\n", HTTP1_ECHUNK_SIZE);
	expect_err("g\r\n", HTTP1_ECHUNK_SIZE);
	expect_err("-1\r\n", HTTP1_ECHUNK_SIZE);
	expect_err("+5\r\nhello\r\n", HTTP1_ECHUNK_SIZE);
	expect_err("0x5\r\nhello\r\n", HTTP1_ECHUNK_SIZE);
	expect_err(" 5\r\nhello\r\n", HTTP1_ECHUNK_SIZE);
	expect_err("5,5\r\nhello\r\n", HTTP1_ECHUNK_SIZE);
	/* Whitespace after the size may only lead to an extension. */
	expect_err("5 \r\nhello\r\n0\r\n\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5\t\r\nhello\r\n0\r\n\r\n", HTTP1_ECHUNK_EXT);
	expect_err("4000000000000000\r\n", HTTP1_ECHUNK_TOO_LARGE);
	expect_err("ffffffffffffffffff\r\n", HTTP1_ECHUNK_TOO_LARGE);
	/* Regression (differential fuzzing against http-parser): these used
	 * to wrap to 0 in 64 bits and end the body: a smuggling hole. */
	expect_err("20000000000000000\r\n\r\nGET /smuggled HTTP/1.1\r\n", HTTP1_ECHUNK_TOO_LARGE);
	expect_err("10000000000000000\r\n\r\n", HTTP1_ECHUNK_TOO_LARGE);
	expect_err("10000000000000005\r\nhello\r\n0\r\n\r\n", HTTP1_ECHUNK_TOO_LARGE);
	expect_err("00000000000000000000000000000010000000000000000\r\n\r\n", HTTP1_ECHUNK_TOO_LARGE);
}

static void test_big_size_needs_more(void **state)
{
	(void)state;
	/* 2^62 - 1 is allowed: the decoder just wants the bytes. */
	decode_checked("3fffffffffffffff\r\nabc", 21, NULL, &res);
	assert_int_equal(res.status, HTTP1_CHUNKED_MORE);
	assert_int_equal(res.len, 3);
}

static void test_extension_rejections(void **state)
{
	(void)state;
	expect_err("5;\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;=x\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a b\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a \r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=b c\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=\"unterminated\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=\"x\"y\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=\"\x01\"\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=\"\\\x01\"\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	expect_err("5;a=b\x7f\r\nhello\r\n", HTTP1_ECHUNK_EXT);
	/* A bare LF inside an extension: the TERM.EXT smuggling shape. */
	expect_err("5;a=b\nhello\r\n0\r\n\r\n", HTTP1_EBARE_LF);
	expect_err("5;a=\"x\nhello\r\n", HTTP1_EBARE_LF);
}

static void test_line_endings(void **state)
{
	(void)state;
	expect_err("5\nhello\r\n0\r\n\r\n", HTTP1_EBARE_LF);
	expect_err("5\rhello\r\n", HTTP1_EBARE_CR);
	expect_err("5\r\nhelloX\r\n0\r\n\r\n", HTTP1_ECHUNK_CRLF);
	expect_err("5\r\nhello\n0\r\n\r\n", HTTP1_ECHUNK_CRLF);
	expect_err("5\r\nhello\rX0\r\n\r\n", HTTP1_ECHUNK_CRLF);
	expect_err("5\r\nhello\r\n0\r\n\n", HTTP1_EBARE_LF);
	expect_err("5\r\nhello\r\n0\r\n\rX", HTTP1_EBARE_CR);
	expect_err("0\n\r\n", HTTP1_EBARE_LF);
	/* Length too short for the data: the TE.CL shape seen from the
	 * chunked side. */
	expect_err("3\r\nhello\r\n0\r\n\r\n", HTTP1_ECHUNK_CRLF);
}

static void test_trailer_rejections(void **state)
{
	static char big[20000];
	struct http1_limits l = { .max_trailers = 2 };
	size_t n, i;

	(void)state;
	expect_err("0\r\n X: folded\r\n\r\n", HTTP1_EOBS_FOLD);
	expect_err("0\r\nX : y\r\n\r\n", HTTP1_ESPACE_BEFORE_COLON);
	expect_err("0\r\nNoColon\r\n\r\n", HTTP1_ENO_COLON);
	expect_err("0\r\n: v\r\n\r\n", HTTP1_EFIELD_NAME);
	expect_err("0\r\nX: a\nY: b\r\n\r\n", HTTP1_EBARE_LF);
	expect_err("0\r\nX: a\rY: b\r\n\r\n", HTTP1_EBARE_CR);
	expect_err_n("0\r\nX: a\0\r\n\r\n", 12, HTTP1_EFIELD_VALUE);

	decode_checked("0\r\nA: 1\r\nB: 2\r\n\r\n", 17, &l, &res);
	assert_int_equal(res.status, HTTP1_CHUNKED_DONE);
	decode_checked("0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", 23, &l, &res);
	assert_int_equal(res.status, HTTP1_ETOO_MANY_TRAILERS);

	n = (size_t)snprintf(big, sizeof(big), "0\r\n");
	for (i = 0; i < 30; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%02zu: %0300d\r\n", i, 0);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	expect_err_n(big, n, HTTP1_ETRAILER_TOO_LARGE);

	/* One long line: the section limit (8 KiB) comes first, unless the
	 * section may be larger than a line. */
	n = (size_t)snprintf(big, sizeof(big), "0\r\nX: ");
	memset(big + n, 'v', 8300);
	n += 8300;
	decode_in_steps(big, n, 0, NULL, &res);
	assert_int_equal(res.status, HTTP1_ETRAILER_TOO_LARGE);
	l.max_trailer = 16384;
	decode_in_steps(big, n, 0, &l, &res);
	assert_int_equal(res.status, HTTP1_EFIELD_LINE_TOO_LONG);
}

static void test_chunk_line_limit(void **state)
{
	static char big[5000];
	struct http1_limits l = { .max_chunk_line = 8 };
	size_t n;

	(void)state;
	/* "5;abcdef" is 8 bytes: allowed; one more is not. */
	decode_checked("5;abcdef\r\nhello\r\n0\r\n\r\n", 22, &l, &res);
	assert_int_equal(res.status, HTTP1_CHUNKED_DONE);
	decode_checked("5;abcdefg\r\nhello\r\n0\r\n\r\n", 23, &l, &res);
	assert_int_equal(res.status, HTTP1_ECHUNK_LINE_TOO_LONG);
	decode_checked("000000005\r\nhello\r\n0\r\n\r\n", 23, &l, &res);
	assert_int_equal(res.status, HTTP1_ECHUNK_LINE_TOO_LONG);

	n = (size_t)snprintf(big, sizeof(big), "1;x=");
	memset(big + n, 'a', 4200);
	n += 4200;
	decode_in_steps(big, n, 0, NULL, &res);
	assert_int_equal(res.status, HTTP1_ECHUNK_LINE_TOO_LONG);
}

static void test_errors_are_sticky(void **state)
{
	struct http1_chunked c;
	const char *s = "5\nhello", *p = s;
	struct str d;

	(void)state;
	http1_chunked_init(&c, NULL);
	assert_int_equal(http1_chunked_decode(&c, &p, s + strlen(s), &d), HTTP1_EBARE_LF);
	s = "5\r\nhello\r\n0\r\n\r\n";
	p = s;
	assert_int_equal(http1_chunked_decode(&c, &p, s + strlen(s), &d), HTTP1_EBARE_LF);
	/* Done stays done and consumes nothing more. */
	http1_chunked_init(&c, NULL);
	s = "0\r\n\r\nrest";
	p = s;
	assert_int_equal(http1_chunked_decode(&c, &p, s + strlen(s), &d), HTTP1_CHUNKED_DONE);
	assert_string_equal(p, "rest");
	assert_int_equal(http1_chunked_decode(&c, &p, s + strlen(s), &d), HTTP1_CHUNKED_DONE);
	assert_string_equal(p, "rest");
	assert_int_equal(http1_chunked_decode(&c, &p, p, &d), HTTP1_CHUNKED_DONE);
}

static void test_encode(void **state)
{
	char out[HTTP1_CHUNK_HEADER_MAX];

	(void)state;
	assert_int_equal(http1_chunked_encode_header(0, out), 3);
	assert_string_equal(out, "0\r\n");
	assert_int_equal(http1_chunked_encode_header(255, out), 4);
	assert_string_equal(out, "ff\r\n");
	assert_int_equal(http1_chunked_encode_header(UINT64_MAX, out), 18);
	assert_string_equal(out, "ffffffffffffffff\r\n");
}

static void test_round_trip(void **state)
{
	static char payload[3000], wire[8000];
	char hdr[HTTP1_CHUNK_HEADER_MAX];
	size_t sizes[] = { 1, 2, 15, 16, 17, 255, 256, 1000, 1711 };
	size_t i, off = 0, n = 0, len, hl;

	(void)state;
	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (char)(i * 7 + 3);
	for (i = 0; off < sizeof(payload); i++) {
		len = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
		if (len > sizeof(payload) - off)
			len = sizeof(payload) - off;
		hl = http1_chunked_encode_header(len, hdr);
		assert_int_equal(hl, strlen(hdr));
		memcpy(wire + n, hdr, hl);
		n += hl;
		memcpy(wire + n, payload + off, len);
		n += len;
		memcpy(wire + n, "\r\n", 2);
		n += 2;
		off += len;
	}
	memcpy(wire + n, HTTP1_CHUNKED_LAST, 5);
	n += 5;
	decode_checked(wire, n, NULL, &res);
	assert_int_equal(res.status, HTTP1_CHUNKED_DONE);
	assert_int_equal(res.consumed, n);
	assert_int_equal(res.len, sizeof(payload));
	assert_memory_equal(res.data, payload, sizeof(payload));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_basic),
		cmocka_unit_test(test_decode_extensions_and_trailers),
		cmocka_unit_test(test_size_rejections),
		cmocka_unit_test(test_big_size_needs_more),
		cmocka_unit_test(test_extension_rejections),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_trailer_rejections),
		cmocka_unit_test(test_chunk_line_limit),
		cmocka_unit_test(test_errors_are_sticky),
		cmocka_unit_test(test_encode),
		cmocka_unit_test(test_round_trip),
	};

	return cmocka_run_group_tests_name("http1_chunked", tests, NULL, NULL);
}

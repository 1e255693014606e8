/* http1 response heads: the status line, body framing per RFC 9112 §6.3
 * (HEAD, 1xx/204/304, CONNECT tunnels, chunked, length, until-close), the
 * shared field rules, and split feeding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/http1.h"

static struct http1_response one, two;

static int parse_n(struct http1_response *r, const char *s, size_t len, enum http1_method m)
{
	http1_response_init(r);
	return http1_response_parse(r, s, s + len, NULL, m);
}

/* One-shot, then every split point finished in a moved buffer, then byte
 * by byte: all must agree. */
static int parse_checked_n(const char *s, size_t len, enum http1_method m)
{
	int want = parse_n(&one, s, len, m), r;
	char *a, *b;
	size_t k, i;

	for (k = 0; k <= len; k++) {
		a = malloc(k + 1);
		assert_non_null(a);
		memcpy(a, s, k);
		r = parse_n(&two, a, k, m);
		if (r != 0) {
			assert_int_equal(r, want);
			free(a);
			continue;
		}
		b = malloc(len + 1);
		assert_non_null(b);
		memcpy(b, s, len);
		free(a);
		r = http1_response_parse(&two, b, b + len, NULL, m);
		assert_int_equal(r, want);
		if (r > 0) {
			assert_int_equal(two.status, one.status);
			assert_int_equal(two.reason.len, one.reason.len);
			assert_int_equal(two.body, one.body);
			assert_int_equal(two.content_length, one.content_length);
			assert_int_equal(two.keep_alive, one.keep_alive);
			assert_int_equal(two.fields.n, one.fields.n);
			for (i = 0; i < one.fields.n; i++) {
				assert_int_equal(two.fields.v[i].name.p - b, one.fields.v[i].name.p - s);
				assert_int_equal(two.fields.v[i].value.len, one.fields.v[i].value.len);
			}
		}
		free(b);
	}
	http1_response_init(&two);
	for (k = 0; k <= len; k++) {
		r = http1_response_parse(&two, s, s + k, NULL, m);
		if (r != 0)
			break;
	}
	assert_int_equal(r, k > len ? 0 : want);
	return want;
}

static void expect_ok_m(const char *s, enum http1_method m)
{
	int r = parse_checked_n(s, strlen(s), m);

	if (r != (int)strlen(s))
		fail_msg("want %zu, got %d (%s) for: %s", strlen(s), r, http1_strerror(r), s);
}

static void expect_ok(const char *s)
{
	expect_ok_m(s, HTTP1_M_GET);
}

static void expect_err(const char *s, int code)
{
	int r = parse_checked_n(s, strlen(s), HTTP1_M_GET);

	if (r != code)
		fail_msg("want %d (%s), got %d (%s) for: %s", code, http1_strerror(code), r,
			 r < 0 ? http1_strerror(r) : "ok", s);
}

static bool str_is(struct str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

static void test_status_line(void **state)
{
	(void)state;
	expect_ok("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(one.status, 200);
	assert_true(str_is(one.reason, "OK"));
	assert_int_equal(one.version_minor, 1);
	expect_ok("HTTP/1.1 404 Not Found At All\r\nContent-Length: 0\r\n\r\n");
	assert_true(str_is(one.reason, "Not Found At All"));
	/* Empty reason, with and without the SP. */
	expect_ok("HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(one.reason.len, 0);
	expect_ok("HTTP/1.1 204\r\n\r\n");
	assert_int_equal(one.status, 204);
	assert_int_equal(one.reason.len, 0);
	/* obs-text and HTAB in the reason. */
	expect_ok("HTTP/1.1 200 D\xc3\xa9j\xc3\xa0\tvu\r\nContent-Length: 0\r\n\r\n");
	expect_ok("HTTP/1.0 599 Edge\r\n\r\n");
	expect_ok("HTTP/1.1 100 Continue\r\n\r\n");
}

static void test_status_line_rejections(void **state)
{
	(void)state;
	expect_err("HTTP/1.1 20 OK\r\n\r\n", HTTP1_ESTATUS_LINE);
	expect_err("HTTP/1.1 2000 OK\r\n\r\n", HTTP1_ESTATUS_LINE);
	expect_err("HTTP/1.1  200 OK\r\n\r\n", HTTP1_ESTATUS_LINE);
	expect_err("HTTP/1.1 200OK\r\n\r\n", HTTP1_ESTATUS_LINE);
	expect_err("ICY 200 OK\r\n\r\n", HTTP1_ESTATUS_LINE);
	expect_err("\r\nHTTP/1.1 200 OK\r\n\r\n", HTTP1_ESTATUS_LINE);
	expect_err("HTTP/1.1 099 Low\r\n\r\n", HTTP1_ESTATUS);
	expect_err("HTTP/1.1 600 High\r\n\r\n", HTTP1_ESTATUS);
	expect_err("HTTP/2 200\r\n\r\n", HTTP1_EVERSION);
	expect_err("HTTP/1.2 200 OK\r\n\r\n", HTTP1_EVERSION);
	expect_err("HTTP/1.11 200 OK\r\n\r\n", HTTP1_EVERSION);
	expect_err("HTTP/1.1 200 O\x01K\r\n\r\n", HTTP1_EREASON);
	expect_err("HTTP/1.1 200 OK\x7f\r\n\r\n", HTTP1_EREASON);
	expect_err("HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n", HTTP1_EBARE_LF);
	expect_err("HTTP/1.1 200 OK\rX\r\n\r\n", HTTP1_EBARE_CR);
	expect_err("HTTP/1.1 200\n\r\n", HTTP1_EBARE_LF);
}

static void test_framing(void **state)
{
	(void)state;
	expect_ok("HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_LENGTH);
	assert_int_equal(one.content_length, 12);
	assert_true(one.keep_alive);
	expect_ok("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_CHUNKED);
	expect_ok("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_CLOSE);
	assert_false(one.keep_alive);
	expect_ok("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n");
	assert_false(one.keep_alive);
	expect_ok("HTTP/1.0 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n");
	assert_true(one.keep_alive);
	expect_ok("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
	assert_true(one.connection_close);
	assert_false(one.keep_alive);

	/* No body whatever the fields say. */
	expect_ok_m("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", HTTP1_M_HEAD);
	assert_int_equal(one.body, HTTP1_BODY_NONE);
	assert_int_equal(one.content_length, 1234);
	assert_true(one.keep_alive);
	expect_ok_m("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_M_HEAD);
	assert_int_equal(one.body, HTTP1_BODY_NONE);
	expect_ok("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_NONE);
	expect_ok("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_NONE);
	expect_ok("HTTP/1.1 100 Continue\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_NONE);
	expect_ok("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_NONE);

	/* Tunnels. */
	expect_ok("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_TUNNEL);
	assert_true(str_is(one.upgrade, "websocket"));
	assert_false(one.keep_alive);
	expect_ok_m("HTTP/1.1 200 Connection established\r\n\r\n", HTTP1_M_CONNECT);
	assert_int_equal(one.body, HTTP1_BODY_TUNNEL);
	expect_ok_m("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", HTTP1_M_CONNECT);
	assert_int_equal(one.body, HTTP1_BODY_TUNNEL);
	expect_ok_m("HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\n",
		    HTTP1_M_CONNECT);
	assert_int_equal(one.body, HTTP1_BODY_LENGTH);
}

static void test_field_rules(void **state)
{
	const char *s = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n";

	(void)state;
	expect_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		   HTTP1_EDUP_CONTENT_LENGTH);
	expect_err("HTTP/1.1 200 OK\r\nContent-Length: 5,5\r\n\r\n", HTTP1_EDUP_CONTENT_LENGTH);
	expect_err("HTTP/1.1 200 OK\r\nContent-Length: five\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
		   HTTP1_ECL_AND_TE);
	expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", HTTP1_ETRANSFER_ENCODING);
	expect_err("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n", HTTP1_ETRANSFER_ENCODING);
	expect_err("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_ETE_HTTP10);
	expect_err("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", HTTP1_EOBS_FOLD);
	expect_err("HTTP/1.1 200 OK\r\nSet-Cookie : a=b\r\n\r\n", HTTP1_ESPACE_BEFORE_COLON);
	expect_err("HTTP/1.1 200 OK\r\nX-Bad\r\n\r\n", HTTP1_ENO_COLON);
	expect_err("HTTP/1.1 200 OK\r\nLocation: /a\x01\r\n\r\n", HTTP1_EFIELD_VALUE);
	expect_err("HTTP/1.1 200 OK\r\nConnection: content-length\r\n\r\n", HTTP1_ECONNECTION);
	expect_err("HTTP/1.1 101 Switching\r\nUpgrade: a\r\nUpgrade: b\r\n\r\n", HTTP1_EUPGRADE_DUP);
	/* Host and Expect mean nothing in a response: accepted as plain fields. */
	expect_ok("HTTP/1.1 200 OK\r\nHost: a\r\nHost: b\r\nExpect: x\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(one.fields.n, 4);
	/* The head ends at the empty line; the body and next response wait. */
	assert_int_equal(parse_checked_n(s, strlen(s), HTTP1_M_GET), 38);
}

static void test_size_limits(void **state)
{
	static char big[40000];
	size_t n, i;

	(void)state;
	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 ");
	memset(big + n, 'r', 8300);
	n += 8300;
	assert_int_equal(parse_n(&one, big, n, HTTP1_M_GET), HTTP1_ESTART_LINE_TOO_LONG);

	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\n");
	for (i = 0; i < 101; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "Set-Cookie: c%zu=v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(parse_checked_n(big, n, HTTP1_M_GET), HTTP1_ETOO_MANY_FIELDS);

	n = (size_t)snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nX: ");
	memset(big + n, 'v', 33000);
	n += 33000;
	assert_int_equal(parse_n(&one, big, n, HTTP1_M_GET), HTTP1_EFIELD_LINE_TOO_LONG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_line),
		cmocka_unit_test(test_status_line_rejections),
		cmocka_unit_test(test_framing),
		cmocka_unit_test(test_field_rules),
		cmocka_unit_test(test_size_limits),
	};

	return cmocka_run_group_tests_name("http1_response", tests, NULL, NULL);
}

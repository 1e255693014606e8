/* http1 request heads: every accepted form, every rejection code pinned
 * with a realistic (often smuggling-shaped) input, and split feeding: any
 * prefix gives 0 or the final error, and finishing from any prefix, in a
 * moved buffer, gives the one-shot result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/http1.h"

/* Large structs: keep them off the stack. */
static struct http1_request one, two;

static ptrdiff_t off_of(const char *base, struct str s)
{
	return s.len ? s.p - base : -1;
}

/* Same result, slice offsets compared relative to each buffer. */
static void assert_same_request(const struct http1_request *a, const char *abase,
				const struct http1_request *b, const char *bbase)
{
	size_t i;

	assert_int_equal(a->head_len, b->head_len);
	assert_int_equal(a->method, b->method);
	assert_int_equal(off_of(abase, a->method_name), off_of(bbase, b->method_name));
	assert_int_equal(a->target.form, b->target.form);
	assert_int_equal(off_of(abase, a->target.raw), off_of(bbase, b->target.raw));
	assert_int_equal(a->target.raw.len, b->target.raw.len);
	assert_int_equal(off_of(abase, a->target.path), off_of(bbase, b->target.path));
	assert_int_equal(a->target.path.len, b->target.path.len);
	assert_int_equal(a->target.query.len, b->target.query.len);
	assert_int_equal(off_of(abase, a->authority.host), off_of(bbase, b->authority.host));
	assert_int_equal(a->authority.host.len, b->authority.host.len);
	assert_int_equal(a->authority.port, b->authority.port);
	assert_int_equal(a->version_minor, b->version_minor);
	assert_int_equal(a->fields.n, b->fields.n);
	for (i = 0; i < a->fields.n; i++) {
		assert_int_equal(off_of(abase, a->fields.v[i].name), off_of(bbase, b->fields.v[i].name));
		assert_int_equal(a->fields.v[i].name.len, b->fields.v[i].name.len);
		assert_int_equal(off_of(abase, a->fields.v[i].value), off_of(bbase, b->fields.v[i].value));
		assert_int_equal(a->fields.v[i].value.len, b->fields.v[i].value.len);
	}
	assert_int_equal(a->body, b->body);
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->keep_alive, b->keep_alive);
	assert_int_equal(a->connection_close, b->connection_close);
	assert_int_equal(a->expect_continue, b->expect_continue);
	assert_int_equal(a->upgrade.len, b->upgrade.len);
}

static int parse_n(struct http1_request *r, const char *s, size_t len, const struct http1_limits *l)
{
	http1_request_init(r);
	return http1_request_parse(r, s, s + len, l);
}

/* One-shot result, then the same through every split point with the
 * buffer moved (and the old one freed: ASan sees stale slices). */
static int parse_checked_n(const char *s, size_t len, const struct http1_limits *l)
{
	int want = parse_n(&one, s, len, l), r;
	char *a, *b;
	size_t k;

	for (k = 0; k <= len; k++) {
		a = malloc(k + 1);
		assert_non_null(a);
		memcpy(a, s, k);
		r = parse_n(&two, a, k, l);
		if (r != 0) {
			/* Early: only the final answer may come out, and a
			 * complete head only once all of it is there. */
			assert_int_equal(r, want);
			free(a);
			continue;
		}
		b = malloc(len + 1);
		assert_non_null(b);
		memcpy(b, s, len);
		free(a);
		r = http1_request_parse(&two, b, b + len, l);
		assert_int_equal(r, want);
		if (r > 0)
			assert_same_request(&one, s, &two, b);
		free(b);
	}
	/* Byte by byte in one growing buffer. */
	http1_request_init(&two);
	for (k = 0; k <= len; k++) {
		r = http1_request_parse(&two, s, s + k, l);
		if (r != 0)
			break;
	}
	assert_int_equal(r, k > len ? 0 : want);
	return want;
}

static int parse_checked(const char *s)
{
	return parse_checked_n(s, strlen(s), NULL);
}

static void expect_ok(const char *s)
{
	int r = parse_checked(s);

	if (r != (int)strlen(s))
		fail_msg("want %zu, got %d (%s) for: %s", strlen(s), r, http1_strerror(r), s);
	/* parse_checked left `one` holding the one-shot result of s. */
}

static void expect_err(const char *s, int code)
{
	int r = parse_checked(s);

	if (r != code)
		fail_msg("want %d (%s), got %d (%s) for: %s", code, http1_strerror(code), r,
			 r < 0 ? http1_strerror(r) : "ok", s);
}

static bool str_is(struct str s, const char *want)
{
	return s.len == strlen(want) && memcmp(s.p, want, s.len) == 0;
}

#define assert_str(s, want) assert_true(str_is((s), (want)))

/* ---- accepted ---- */

static void test_origin_form(void **state)
{
	const char *s = "GET /search?q=a%20b&x=[1]|{2} HTTP/1.1\r\n"
			"Host: Example.COM:8080\r\n"
			"User-Agent:   curl/8.5.0  \r\n"
			"X-Empty:\r\n"
			"X-Obs: caf\xc3\xa9\r\n"
			"\r\n";

	(void)state;
	expect_ok(s);
	assert_int_equal(one.method, HTTP1_M_GET);
	assert_str(one.method_name, "GET");
	assert_int_equal(one.target.form, HTTP1_FORM_ORIGIN);
	assert_str(one.target.path, "/search");
	assert_true(one.target.has_query);
	assert_str(one.target.query, "q=a%20b&x=[1]|{2}");
	assert_int_equal(one.version_minor, 1);
	assert_str(one.authority.host, "Example.COM");
	assert_int_equal(one.authority.port, 8080);
	assert_int_equal(one.authority.kind, HTTP1_HOST_NAME);
	assert_str(one.host_header, "Example.COM:8080");
	assert_int_equal(one.fields.n, 4);
	assert_str(one.fields.v[1].name, "User-Agent");
	assert_str(one.fields.v[1].value, "curl/8.5.0");
	assert_str(one.fields.v[2].value, "");
	assert_str(one.fields.v[3].value, "caf\xc3\xa9");
	assert_int_equal(one.body, HTTP1_BODY_NONE);
	assert_int_equal(one.content_length, -1);
	assert_false(http1_request_has_body(&one));
	assert_true(one.keep_alive);
	assert_false(one.connection_close);
	assert_int_equal(one.upgrade.len, 0);
}

static void test_absolute_form(void **state)
{
	(void)state;
	expect_ok("GET http://Example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n");
	assert_int_equal(one.target.form, HTTP1_FORM_ABSOLUTE);
	assert_int_equal(one.target.scheme, HTTP1_SCHEME_HTTP);
	assert_str(one.authority.host, "Example.com");
	assert_int_equal(one.authority.port, 8080);
	assert_true(one.authority.has_port);
	assert_str(one.target.path, "/a/b");
	assert_str(one.target.query, "c=d");

	/* Default port on both sides, HTTP scheme in capitals. */
	expect_ok("GET HTTP://example.com/ HTTP/1.1\r\nHost: example.com:80\r\n\r\n");
	assert_int_equal(one.authority.port, 80);
	assert_false(one.authority.has_port);
	expect_ok("GET http://example.com:80/ HTTP/1.1\r\nHost: example.com\r\n\r\n");

	/* No path: "" stands for "/". */
	expect_ok("GET http://example.com HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_int_equal(one.target.path.len, 0);
	assert_false(one.target.has_query);
	expect_ok("GET http://example.com?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_int_equal(one.target.path.len, 0);
	assert_str(one.target.query, "x=1");

	/* IPv4 and IPv6 literals. */
	expect_ok("GET http://192.168.0.1:3128/ HTTP/1.1\r\nHost: 192.168.0.1:3128\r\n\r\n");
	assert_int_equal(one.authority.kind, HTTP1_HOST_IPV4);
	expect_ok("GET http://[2001:db8::1]/x HTTP/1.1\r\nHost: [2001:DB8::1]\r\n\r\n");
	assert_int_equal(one.authority.kind, HTTP1_HOST_IPV6);
	assert_str(one.authority.host, "2001:db8::1");
	assert_int_equal(one.authority.port, 80);

	/* HTTP/1.0 through a proxy needs no Host. */
	expect_ok("GET http://example.com/ HTTP/1.0\r\n\r\n");
	assert_int_equal(one.host_header.len, 0);
	assert_false(one.keep_alive);
}

static void test_authority_form(void **state)
{
	(void)state;
	expect_ok("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
		  "Proxy-Connection: Keep-Alive\r\nUser-Agent: node\r\n\r\n");
	assert_int_equal(one.method, HTTP1_M_CONNECT);
	assert_int_equal(one.target.form, HTTP1_FORM_AUTHORITY);
	assert_str(one.authority.host, "api.example.com");
	assert_int_equal(one.authority.port, 443);
	/* Host without a port names the same tunnel. */
	expect_ok("CONNECT api.example.com:443 HTTP/1.1\r\nHost: api.example.com\r\n\r\n");
	expect_ok("CONNECT [::1]:8443 HTTP/1.1\r\nHost: [::1]:8443\r\n\r\n");
	assert_str(one.authority.host, "::1");
	expect_ok("CONNECT 10.0.0.7:22 HTTP/1.0\r\n\r\n");
	assert_int_equal(one.authority.kind, HTTP1_HOST_IPV4);
}

static void test_asterisk_form(void **state)
{
	(void)state;
	expect_ok("OPTIONS * HTTP/1.1\r\nHost: example.com\r\n\r\n");
	assert_int_equal(one.target.form, HTTP1_FORM_ASTERISK);
	assert_int_equal(one.method, HTTP1_M_OPTIONS);
}

static void test_methods(void **state)
{
	(void)state;
	expect_ok("PROPFIND /dav HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(one.method, HTTP1_M_OTHER);
	assert_str(one.method_name, "PROPFIND");
	/* Methods are case-sensitive. */
	expect_ok("get / HTTP/1.1\r\nHost: a\r\n\r\n");
	assert_int_equal(one.method, HTTP1_M_OTHER);
	assert_string_equal(http1_method_str(HTTP1_M_PATCH), "PATCH");
	assert_int_equal(http1_method_from_str(STR_LITERAL("DELETE")), HTTP1_M_DELETE);
	assert_int_equal(http1_method_from_str(STR_LITERAL("DELETEX")), HTTP1_M_OTHER);
}

static void test_body_framing(void **state)
{
	(void)state;
	expect_ok("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_LENGTH);
	assert_int_equal(one.content_length, 7);
	assert_true(http1_request_has_body(&one));
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_LENGTH);
	assert_false(http1_request_has_body(&one));
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387903\r\n\r\n");
	assert_int_equal(one.content_length, INT64_C(4611686018427387903));

	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_CHUNKED);
	assert_int_equal(one.content_length, -1);
	/* HTAB is OWS: this one is valid. */
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\tchunked\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_CHUNKED);
	expect_ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  \t CHUNKED\r\n\r\n");
	assert_int_equal(one.body, HTTP1_BODY_CHUNKED);
}

static void test_connection_options(void **state)
{
	(void)state;
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
	assert_true(one.connection_close);
	assert_false(one.keep_alive);
	expect_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
	assert_true(one.keep_alive);
	expect_ok("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n");
	assert_false(one.keep_alive);
	expect_ok("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Upgrade\r\n"
		  "Upgrade: websocket\r\n\r\n");
	assert_str(one.upgrade, "websocket");
	/* Upgrade without the connection option is not an upgrade. */
	expect_ok("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n");
	assert_int_equal(one.upgrade.len, 0);
	/* Nor in HTTP/1.0. */
	expect_ok("GET /ws HTTP/1.0\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n");
	assert_int_equal(one.upgrade.len, 0);
	/* Empty list elements are allowed (RFC 9110 §5.6.1). */
	expect_ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: , close ,\r\n\r\n");
	assert_true(one.connection_close);

	expect_ok("PUT /f HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-Continue\r\n\r\n");
	assert_true(one.expect_continue);
	expect_ok("PUT /f HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n");
	assert_false(one.expect_continue);
}

static void test_find_and_hop_by_hop(void **state)
{
	const struct http1_field *f;

	(void)state;
	expect_ok("GET http://a/ HTTP/1.1\r\nHost: a\r\nconnection: X-Trace, keep-alive\r\n"
		  "Connection: x-second\r\nX-Trace: 1\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n"
		  "Proxy-Authorization: Basic eA==\r\nContent-Type: text/plain\r\nX-Second: 2\r\n\r\n");
	f = http1_fields_find(&one.fields, "CONTENT-type");
	assert_non_null(f);
	assert_str(f->value, "text/plain");
	assert_null(http1_fields_find(&one.fields, "content-length"));
	assert_int_equal(http1_fields_count(&one.fields, "connection"), 2);
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("x-trace")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("X-Second")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Keep-Alive")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("te")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Proxy-Authorization")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Proxy-Connection")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Transfer-Encoding")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Upgrade")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Trailer")));
	assert_true(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("proxy-authenticate")));
	assert_false(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Content-Type")));
	assert_false(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("Host")));
	assert_false(http1_fields_is_hop_by_hop(&one.fields, STR_LITERAL("X-Trac")));
}

static void test_head_then_body_and_pipelining(void **state)
{
	const char *s = "POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\n";
	size_t head = strlen("POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n");

	(void)state;
	assert_int_equal(parse_checked_n(s, strlen(s), NULL), (int)head);
	assert_int_equal(one.content_length, 5);
	/* Parsing again after completion gives the same answer. */
	assert_int_equal(http1_request_parse(&one, s, s + strlen(s), NULL), (int)head);
}

static void test_https_absolute_when_allowed(void **state)
{
	const char *s = "GET https://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n";
	struct http1_limits l = { .flags = HTTP1_ALLOW_HTTPS_ABSOLUTE };

	(void)state;
	assert_int_equal(parse_checked_n(s, strlen(s), &l), (int)strlen(s));
	assert_int_equal(one.target.scheme, HTTP1_SCHEME_HTTPS);
	assert_int_equal(one.authority.port, 443);
	assert_int_equal(parse_checked(s), HTTP1_EHTTPS_ABSOLUTE);
}

/* With HTTP1_ALLOW_HOST_MISMATCH the target names the destination and a
 * disagreeing Host (Node sends the proxy's own) is ignored, in absolute-form
 * and CONNECT only: in origin-form Host is the only authority there is. */
static void test_host_mismatch_when_allowed(void **state)
{
	const char *plain = "GET http://a.example:8080/x HTTP/1.1\r\nHost: proxy:9099\r\n\r\n";
	const char *connect = "CONNECT a.example:443 HTTP/1.1\r\nHost: proxy:9099\r\n\r\n";
	const char *origin = "GET /x HTTP/1.1\r\nHost: b.example\r\n\r\n";
	struct http1_limits l = { .flags = HTTP1_ALLOW_HOST_MISMATCH };

	(void)state;
	assert_int_equal(parse_checked_n(plain, strlen(plain), &l), (int)strlen(plain));
	assert_true(str_is(one.authority.host, "a.example"));
	assert_int_equal(one.authority.port, 8080);
	assert_true(str_is(one.host_header, "proxy:9099"));
	assert_int_equal(parse_checked_n(connect, strlen(connect), &l), (int)strlen(connect));
	assert_true(str_is(one.authority.host, "a.example"));
	assert_int_equal(one.authority.port, 443);
	assert_int_equal(parse_checked_n(origin, strlen(origin), &l), (int)strlen(origin));
	assert_true(str_is(one.authority.host, "b.example"));
	/* Host is still required, single and well-formed. */
	expect_err("GET http://a/ HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", HTTP1_EHOST_DUP);
	assert_int_equal(parse_checked_n("GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n", 37, &l),
			 HTTP1_EHOST_HEADER);
	assert_int_equal(parse_checked(plain), HTTP1_EHOST_MISMATCH);
}

static void test_limits_exactly_at_the_edge(void **state)
{
	struct http1_limits l = { .max_start_line = 20, .max_field_line = 10, .max_fields = 2,
				  .max_head = 60 };
	/* "GET /1234567 HTTP/1.1" is 21 bytes. */
	const char *rl20 = "GET /123456 HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *rl21 = "GET /1234567 HTTP/1.1\r\nHost: a\r\n\r\n";
	const char *f10 = "GET / HTTP/1.1\r\nHost: abcd\r\n\r\n";
	const char *f11 = "GET / HTTP/1.1\r\nHost: abcde\r\n\r\n";
	const char *n2 = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n";
	const char *n3 = "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\nZ: w\r\n\r\n";

	(void)state;
	assert_int_equal(parse_checked_n(rl20, strlen(rl20), &l), (int)strlen(rl20));
	assert_int_equal(parse_checked_n(rl21, strlen(rl21), &l), HTTP1_ESTART_LINE_TOO_LONG);
	assert_int_equal(parse_checked_n(f10, strlen(f10), &l), (int)strlen(f10));
	assert_int_equal(parse_checked_n(f11, strlen(f11), &l), HTTP1_EFIELD_LINE_TOO_LONG);
	assert_int_equal(parse_checked_n(n2, strlen(n2), &l), (int)strlen(n2));
	assert_int_equal(parse_checked_n(n3, strlen(n3), &l), HTTP1_ETOO_MANY_FIELDS);
	l.max_head = (size_t)strlen(n2);
	assert_int_equal(parse_checked_n(n2, strlen(n2), &l), (int)strlen(n2));
	l.max_head--;
	assert_int_equal(parse_checked_n(n2, strlen(n2), &l), HTTP1_EHEAD_TOO_LARGE);
}

/* ---- rejected, one code at a time ---- */

static void test_line_endings(void **state)
{
	(void)state;
	expect_err("GET / HTTP/1.1\nHost: a\r\n\r\n", HTTP1_EBARE_LF);
	expect_err("GET / HTTP/1.1\r\nHost: a\n\r\n", HTTP1_EBARE_LF);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\n\n", HTTP1_EBARE_LF);
	expect_err("GET /\nX HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EBARE_LF);
	expect_err("GET / HTTP/1.1\r\nX-A: 1\nTransfer-Encoding: chunked\r\nHost: a\r\n\r\n",
		   HTTP1_EBARE_LF);
	expect_err("GET / HTTP/1.1\r\nHost: a\rX-Injected: 1\r\n\r\n", HTTP1_EBARE_CR);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", HTTP1_EBARE_CR);
	expect_err("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", HTTP1_EBARE_CR);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\n\rX", HTTP1_EBARE_CR);
	expect_err("GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EBARE_CR);
	expect_err("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ELEADING_EMPTY_LINE);
	expect_err("\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EBARE_LF);
}

static void test_request_line_shape(void **state)
{
	(void)state;
	expect_err("GET  / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EREQUEST_LINE);
	expect_err(" GET / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EREQUEST_LINE);
	expect_err("GET /\r\n\r\n", HTTP1_EREQUEST_LINE);
	expect_err("GET\r\n\r\n", HTTP1_EREQUEST_LINE);
	expect_err("GET / HTTP/1.1 \r\nHost: a\r\n\r\n", HTTP1_EREQUEST_LINE);
	expect_err("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EREQUEST_LINE);
	expect_err("GET / HTTP/1.1\r\n\r\n", HTTP1_EHOST_MISSING);
	expect_err("G(T / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EMETHOD);
	expect_err("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EMETHOD);
	expect_err("G\xc3\x89T / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EMETHOD);
	assert_int_equal(parse_checked_n("GE\0T / HTTP/1.1\r\nHost: a\r\n\r\n", 28, NULL), HTTP1_EMETHOD);
	expect_err("GET / HTTP/2.0\r\nHost: a\r\n\r\n", HTTP1_EVERSION);
	expect_err("GET / HTTP/1.2\r\nHost: a\r\n\r\n", HTTP1_EVERSION);
	expect_err("GET / HTTP/1.10\r\nHost: a\r\n\r\n", HTTP1_EVERSION);
	expect_err("GET / http/1.1\r\nHost: a\r\n\r\n", HTTP1_EVERSION);
	expect_err("GET / HTTP/1\r\nHost: a\r\n\r\n", HTTP1_EVERSION);
	expect_err("GET / HTTP/0.9\r\n\r\n", HTTP1_EVERSION);
}

static void test_target_bytes(void **state)
{
	(void)state;
	expect_err("GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET_CHAR);
	expect_err("GET /a\x7f HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET_CHAR);
	expect_err("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET_CHAR);
	expect_err("GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET_CHAR);
	expect_err("GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET_CHAR);
	assert_int_equal(parse_checked_n("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n", 30, NULL),
			 HTTP1_ETARGET_CHAR);
	expect_err("GET /page#frag HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EFRAGMENT);
	expect_err("GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EPERCENT);
	expect_err("GET /%4 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EPERCENT);
	expect_err("GET /% HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EPERCENT);
	expect_ok("GET /%0d%0A%2f HTTP/1.1\r\nHost: a\r\n\r\n");
}

static void test_target_forms(void **state)
{
	(void)state;
	expect_err("GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET);
	expect_err("GET http:/x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ETARGET);
	expect_err("GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ESCHEME);
	expect_err("GET file:///etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ESCHEME);
	expect_err("GET mailto:x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ESCHEME);
	expect_err("GET https://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
		   HTTP1_EHTTPS_ABSOLUTE);
	expect_err("GET http://user:pw@example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
		   HTTP1_EUSERINFO);
	expect_err("GET http://allowed.com@evil.com/ HTTP/1.1\r\nHost: evil.com\r\n\r\n",
		   HTTP1_EUSERINFO);
	expect_err("CONNECT user@example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n",
		   HTTP1_EUSERINFO);
	expect_err("GET example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", HTTP1_EAUTHORITY_FORM);
	expect_err("POST [::1]:80 HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EAUTHORITY_FORM);
	expect_err("GET * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_EASTERISK_FORM);
	expect_err("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ECONNECT_TARGET);
	expect_err("CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", HTTP1_ECONNECT_TARGET);
	expect_err("CONNECT http://example.com:443/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
		   HTTP1_ECONNECT_TARGET);
	expect_err("CONNECT * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP1_ECONNECT_TARGET);
}

static void test_target_hosts_and_ports(void **state)
{
	static const char *const bad_hosts[] = {
		"127.1", "0x7f.0.0.1", "2130706433", "127.0.0.01", "256.0.0.1", "1.2.3.4.5",
		"example.com.", ".example.com", "a..b", "exa%6dple.com", "a,b", "a~b",
		"[::1%25eth0]", "[v1.x]", "[::1", "[:::]", "[1.2.3.4]", "a.0x10",
		"xn--e1afmkfd.xn--p1ai.123", "",
	};
	static const char *const bad_ports[] = { "a:0", "a:65536", "a:080", "a:", "a:8x", "a:123456" };
	char buf[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad_hosts) / sizeof(bad_hosts[0]); i++) {
		snprintf(buf, sizeof(buf), "GET http://%s/ HTTP/1.1\r\nHost: x\r\n\r\n", bad_hosts[i]);
		expect_err(buf, HTTP1_EHOST);
		snprintf(buf, sizeof(buf), "CONNECT %s:443 HTTP/1.1\r\nHost: x\r\n\r\n", bad_hosts[i]);
		expect_err(buf, HTTP1_EHOST);
	}
	for (i = 0; i < sizeof(bad_ports) / sizeof(bad_ports[0]); i++) {
		snprintf(buf, sizeof(buf), "GET http://%s/ HTTP/1.1\r\nHost: a\r\n\r\n", bad_ports[i]);
		expect_err(buf, HTTP1_EPORT);
	}
	/* Good ones: underscore, digits in labels, a numeric-looking but named last label. */
	expect_ok("GET http://my_host-1.example/ HTTP/1.1\r\nHost: my_host-1.example\r\n\r\n");
	expect_ok("GET http://1e100.net:65535/ HTTP/1.1\r\nHost: 1e100.net:65535\r\n\r\n");
	expect_ok("GET http://0.0.0.0/ HTTP/1.1\r\nHost: 0.0.0.0\r\n\r\n");
	expect_ok("GET http://[::ffff:10.0.0.1]/ HTTP/1.1\r\nHost: [::ffff:10.0.0.1]:80\r\n\r\n");
}

static void test_field_syntax(void **state)
{
	(void)state;
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX-Long: a\r\n b\r\n\r\n", HTTP1_EOBS_FOLD);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tTransfer-Encoding: chunked\r\n\r\n",
		   HTTP1_EOBS_FOLD);
	expect_err("GET / HTTP/1.1\r\n Host: a\r\n\r\n", HTTP1_EOBS_FOLD);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked\r\n\r\n",
		   HTTP1_ESPACE_BEFORE_COLON);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length\t: 5\r\n\r\n",
		   HTTP1_ESPACE_BEFORE_COLON);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\n: empty\r\n\r\n", HTTP1_EFIELD_NAME);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX(Y): z\r\n\r\n", HTTP1_EFIELD_NAME);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nTr\xc3\xa1nsfer-Encoding: chunked\r\n\r\n",
		   HTTP1_EFIELD_NAME);
	assert_int_equal(parse_checked_n("GET / HTTP/1.1\r\nHost: a\r\nContent-Length\0: 5\r\n\r\n", 46, NULL),
			 HTTP1_EFIELD_NAME);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nNoColonHere\r\n\r\n", HTTP1_ENO_COLON);
	assert_int_equal(parse_checked_n("GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n", 29, NULL), HTTP1_EFIELD_VALUE);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\x7f\r\n\r\n", HTTP1_EFIELD_VALUE);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: a\x0b" "b\r\n\r\n", HTTP1_EFIELD_VALUE);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[31m\r\n\r\n", HTTP1_EFIELD_VALUE);
}

static void test_content_length(void **state)
{
	(void)state;
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
		   HTTP1_EDUP_CONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
		   HTTP1_EDUP_CONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n", HTTP1_EDUP_CONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	/* A peer reading C literals would see 8: egress forwards the field. */
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 010\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 00\r\n\r\n", HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4611686018427387904\r\n\r\n",
		   HTTP1_ECONTENT_LENGTH);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999999\r\n\r\n",
		   HTTP1_ECONTENT_LENGTH);
}

static void test_transfer_encoding_smuggling(void **state)
{
	static const char *const bad_te[] = {
		"xchunked", "chunkedx", "chunked, chunked", "gzip, chunked", "chunked, gzip",
		"identity", "chunked;x=1", "\"chunked\"", "chunked,", ", chunked", "", "chu nked",
		/* RFC-valid (trailing OWS is trimmed) but read as "not chunked"
		 * by http-parser 2.9: found by differential fuzzing. */
		"chunked\t\t", "chunked ",
	};
	char buf[256];
	size_t i;

	(void)state;
	/* CL.TE and TE.CL */
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
		   HTTP1_ECL_AND_TE);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n\r\n",
		   HTTP1_ECL_AND_TE);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n",
		   HTTP1_ECL_AND_TE);
	/* TE.TE obfuscations */
	for (i = 0; i < sizeof(bad_te) / sizeof(bad_te[0]); i++) {
		snprintf(buf, sizeof(buf), "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: %s\r\n\r\n",
			 bad_te[i]);
		expect_err(buf, HTTP1_ETRANSFER_ENCODING);
	}
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n\r\n",
		   HTTP1_ETRANSFER_ENCODING);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
		   "Transfer-Encoding: chunked\r\n\r\n",
		   HTTP1_ETRANSFER_ENCODING);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding:\r\n\r\n",
		   HTTP1_ETRANSFER_ENCODING);
	expect_err("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0b" "chunked\r\n\r\n",
		   HTTP1_EFIELD_VALUE);
	expect_err("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", HTTP1_ETE_HTTP10);
}

static void test_host_rules(void **state)
{
	(void)state;
	expect_err("GET / HTTP/1.1\r\nUser-Agent: x\r\n\r\n", HTTP1_EHOST_MISSING);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", HTTP1_EHOST_DUP);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", HTTP1_EHOST_DUP);
	expect_err("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", HTTP1_EHOST_HEADER);
	expect_err("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", HTTP1_EHOST_HEADER);
	expect_err("GET / HTTP/1.1\r\nHost:\r\n\r\n", HTTP1_EHOST_HEADER);
	expect_err("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", HTTP1_EHOST_HEADER);
	expect_err("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", HTTP1_EHOST_HEADER);
	expect_err("GET / HTTP/1.1\r\nHost: 127.1\r\n\r\n", HTTP1_EHOST_HEADER);
	expect_err("GET http://allowed.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n",
		   HTTP1_EHOST_MISMATCH);
	expect_err("GET http://a.example/ HTTP/1.1\r\nHost: a.example:8080\r\n\r\n", HTTP1_EHOST_MISMATCH);
	expect_err("GET http://a.example:8080/ HTTP/1.1\r\nHost: a.example\r\n\r\n", HTTP1_EHOST_MISMATCH);
	expect_err("CONNECT a.example:443 HTTP/1.1\r\nHost: b.example:443\r\n\r\n", HTTP1_EHOST_MISMATCH);
	expect_err("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:444\r\n\r\n", HTTP1_EHOST_MISMATCH);
	expect_err("GET http://a/ HTTP/1.0\r\nHost: b\r\n\r\n", HTTP1_EHOST_MISMATCH);
}

static void test_connection_expect_upgrade(void **state)
{
	(void)state;
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nConnection: close, Content-Length\r\n\r\n",
		   HTTP1_ECONNECTION);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nConnection: host\r\n\r\n", HTTP1_ECONNECTION);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep alive\r\n\r\n", HTTP1_ECONNECTION);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nConnection: \"close\"\r\n\r\n", HTTP1_ECONNECTION);
	expect_err("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue-ish\r\n\r\n", HTTP1_EEXPECT);
	expect_err("PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nExpect: 100-continue\r\n\r\n",
		   HTTP1_EEXPECT);
	expect_err("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nUpgrade: h2c\r\n\r\n",
		   HTTP1_EUPGRADE_DUP);
}

static void test_size_limits(void **state)
{
	static char big[70000];
	size_t n, i;

	(void)state;
	/* Request line over 8 KiB: rejected before its CRLF arrives. */
	n = (size_t)snprintf(big, sizeof(big), "GET /");
	memset(big + n, 'a', 8200);
	n += 8200;
	http1_request_init(&one);
	assert_int_equal(http1_request_parse(&one, big, big + n, NULL), HTTP1_ESTART_LINE_TOO_LONG);
	memcpy(big + n, " HTTP/1.1\r\nHost: a\r\n\r\n", 22);
	assert_int_equal(parse_n(&one, big, n + 22, NULL), HTTP1_ESTART_LINE_TOO_LONG);

	/* A field line over 8 KiB. */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\nCookie: ");
	memset(big + n, 'c', 8200);
	n += 8200;
	assert_int_equal(parse_n(&one, big, n, NULL), HTTP1_EFIELD_LINE_TOO_LONG);

	/* Many 4 KiB fields: over 32 KiB in total. */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < 9; i++) {
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%zu: ", i);
		memset(big + n, 'v', 4000);
		n += 4000;
		memcpy(big + n, "\r\n", 2);
		n += 2;
	}
	memcpy(big + n, "\r\n", 2);
	assert_int_equal(parse_n(&one, big, n + 2, NULL), HTTP1_EHEAD_TOO_LARGE);
	/* Early: 32768 bytes without the end of the head are enough to know. */
	assert_int_equal(parse_n(&one, big, 32768, NULL), HTTP1_EHEAD_TOO_LARGE);
	assert_int_equal(parse_n(&one, big, 32767, NULL), 0);

	/* 101 header lines. */
	n = (size_t)snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: a\r\n");
	for (i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "X-%zu: v\r\n", i);
	n += (size_t)snprintf(big + n, sizeof(big) - n, "\r\n");
	assert_int_equal(parse_n(&one, big, n, NULL), HTTP1_ETOO_MANY_FIELDS);
	assert_int_equal(parse_checked_n(big, n, NULL), HTTP1_ETOO_MANY_FIELDS);
}

/* ---- API details ---- */

static void test_errors_are_sticky_and_init_resets(void **state)
{
	const char *bad = "GET / HTTP/1.1\nHost: a\r\n\r\n";
	const char *good = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

	(void)state;
	http1_request_init(&one);
	assert_int_equal(http1_request_parse(&one, bad, bad + strlen(bad), NULL), HTTP1_EBARE_LF);
	assert_int_equal(http1_request_parse(&one, good, good + strlen(good), NULL), HTTP1_EBARE_LF);
	http1_request_init(&one);
	assert_int_equal(http1_request_parse(&one, good, good + strlen(good), NULL), (int)strlen(good));
	/* Empty input: need more. */
	http1_request_init(&one);
	assert_int_equal(http1_request_parse(&one, good, good, NULL), 0);
	assert_int_equal(http1_request_parse(&one, NULL, NULL, NULL), 0);
}

static void test_every_code_has_a_reason(void **state)
{
	char msg[128];
	int code;

	(void)state;
	for (code = HTTP1_EINTERNAL; code >= HTTP1_ELAST; code--) {
		int other;

		assert_string_not_equal(http1_strerror(code), "unknown error");
		assert_string_not_equal(http1_error_name(code), "unknown");
		for (other = code - 1; other >= HTTP1_ELAST; other--)
			assert_string_not_equal(http1_error_name(code), http1_error_name(other));
		assert_true(strlen(http1_error_message(code, NULL, msg, sizeof(msg))) > 0);
	}
	assert_string_equal(http1_strerror(HTTP1_ELAST - 1), "unknown error");
	assert_string_equal(http1_strerror(5), "unknown error");
	assert_string_equal(http1_error_name(0), "unknown");
	assert_string_equal(http1_error_name(HTTP1_ELAST - 1), "unknown");
	assert_string_equal(http1_error_name(HTTP1_ECL_AND_TE), "cl_and_te");
	assert_string_equal(http1_error_message(HTTP1_EHEAD_TOO_LARGE, NULL, msg, sizeof(msg)),
			    "header block exceeds 32768 bytes");
	assert_string_equal(http1_error_message(HTTP1_ECL_AND_TE, NULL, msg, sizeof(msg)),
			    "both Content-Length and Transfer-Encoding present");
	assert_int_equal(http1_error_status(HTTP1_ECL_AND_TE), 403);
	assert_int_equal(http1_error_status(HTTP1_EBARE_LF), 403);
	assert_int_equal(http1_error_status(HTTP1_EHEAD_TOO_LARGE), 431);
	assert_int_equal(http1_error_status(HTTP1_ESTART_LINE_TOO_LONG), 414);
	assert_int_equal(http1_error_status(HTTP1_EVERSION), 505);
	assert_int_equal(http1_error_status(HTTP1_EHOST_MISSING), 400);
}

static bool in(const char *set, int c)
{
	return c && strchr(set, c);
}

/* The table in http1_headers.c against the definitions it encodes. */
static void test_ctype_table(void **state)
{
	int c;

	(void)state;
	for (c = 0; c < 256; c++) {
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
		bool digit = c >= '0' && c <= '9';
		bool vchar = c >= 0x21 && c <= 0x7e;
		unsigned want = 0;

		if (alpha || digit || in("!#$%&'*+-.^_`|~", c))
			want |= HTTP1_C_TCHAR;
		if (c == '\t' || c == ' ' || vchar || c >= 0x80)
			want |= HTTP1_C_FVALUE;
		if (alpha || digit || in("-._~!$&'()*+,;=:@/?%[]\"<>^`{|}", c))
			want |= HTTP1_C_TARGET;
		if (digit || in("abcdefABCDEF", c))
			want |= HTTP1_C_HEX;
		if (digit)
			want |= HTTP1_C_DIGIT;
		if (alpha || digit || in("-._", c))
			want |= HTTP1_C_HOST;
		if (c == '\t' || c == ' ' || c == '!' || (c >= 0x23 && c <= 0x5b) ||
		    (c >= 0x5d && c <= 0x7e) || c >= 0x80)
			want |= HTTP1_C_QDTEXT;
		if (http1_ctype[c] != want)
			fail_msg("class of 0x%02x: table 0x%02x, want 0x%02x", c, http1_ctype[c], want);
	}
}

static void test_list_walker(void **state)
{
	struct http1_list l;
	struct str e;
	int n = 0;

	(void)state;
	http1_list_init(&l, STR_LITERAL(" a ,\tb,, c  "));
	while (http1_list_next(&l, &e)) {
		static const char *const want[] = { "a", "b", "", "c" };

		assert_true(n < 4);
		assert_true(str_is(e, want[n]));
		n++;
	}
	assert_int_equal(n, 4);
	assert_true(http1_str_ieq_cstr(STR_LITERAL("Content-LENGTH"), "content-length"));
	assert_false(http1_str_ieq_cstr(STR_LITERAL("Content-Lengt"), "content-length"));
	assert_true(http1_host_equal(STR_LITERAL("EXAMPLE.com"), STR_LITERAL("example.COM")));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_origin_form),
		cmocka_unit_test(test_absolute_form),
		cmocka_unit_test(test_authority_form),
		cmocka_unit_test(test_asterisk_form),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_body_framing),
		cmocka_unit_test(test_connection_options),
		cmocka_unit_test(test_find_and_hop_by_hop),
		cmocka_unit_test(test_head_then_body_and_pipelining),
		cmocka_unit_test(test_https_absolute_when_allowed),
		cmocka_unit_test(test_host_mismatch_when_allowed),
		cmocka_unit_test(test_limits_exactly_at_the_edge),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_request_line_shape),
		cmocka_unit_test(test_target_bytes),
		cmocka_unit_test(test_target_forms),
		cmocka_unit_test(test_target_hosts_and_ports),
		cmocka_unit_test(test_field_syntax),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_transfer_encoding_smuggling),
		cmocka_unit_test(test_host_rules),
		cmocka_unit_test(test_connection_expect_upgrade),
		cmocka_unit_test(test_size_limits),
		cmocka_unit_test(test_errors_are_sticky_and_init_resets),
		cmocka_unit_test(test_every_code_has_a_reason),
		cmocka_unit_test(test_ctype_table),
		cmocka_unit_test(test_list_walker),
	};

	return cmocka_run_group_tests_name("http1_request", tests, NULL, NULL);
}

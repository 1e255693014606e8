/* libFuzzer target: http1_request_parse().
 *
 * The first input byte picks the limits (defaults or tiny ones, so limit
 * paths are reached); the rest is the request.  Invariants checked:
 * - the result is 0, a known error code, or a head length within the input
 *   that ends at the first CRLFCRLF, with only CRLF line endings before it;
 * - every slice lies inside the head, names are tokens, values hold no
 *   CTL but HTAB and no edge whitespace, framing fields agree;
 * - two pieces (fresh parse of a prefix, then the rest in a moved buffer)
 *   at every split point (inputs up to 512 bytes; a sample above), and
 *   byte-by-byte feeding, give the one-piece result;
 * - re-serialising the parsed head and parsing it again gives the same.
 */
#include "../../shared/buf.h"
#include "../../shared/http1.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static struct http1_request one, two, three;

static void check_slice(struct str s, const char *base, size_t len)
{
	if (!s.len)
		return;
	CHECK(s.p >= base && s.p + s.len <= base + len);
}

static bool no_ctl(struct str s)
{
	size_t i;

	for (i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.p[i];

		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return false;
	}
	return true;
}

static void check_request(const struct http1_request *r, const char *base, size_t head_len,
			  const struct http1_limits *lim)
{
	const char *crlf2 = memmem(base, head_len, "\r\n\r\n", 4);
	size_t i;

	CHECK(r->head_len == head_len);
	CHECK(crlf2 == base + head_len - 4);
	for (i = 0; i < head_len; i++) {
		CHECK(base[i] != '\0');
		if (base[i] == '\n')
			CHECK(i > 0 && base[i - 1] == '\r');
		if (base[i] == '\r')
			CHECK(i + 1 < head_len && base[i + 1] == '\n');
	}
	check_slice(r->method_name, base, head_len);
	CHECK(http1_is_token(r->method_name));
	CHECK(r->method == http1_method_from_str(r->method_name));
	check_slice(r->target.raw, base, head_len);
	check_slice(r->target.path, base, head_len);
	check_slice(r->target.query, base, head_len);
	check_slice(r->authority.host, base, head_len);
	check_slice(r->host_header, base, head_len);
	check_slice(r->upgrade, base, head_len);
	CHECK(r->target.raw.len > 0);
	CHECK(memchr(r->target.raw.p, '#', r->target.raw.len) == NULL);
	CHECK(memchr(r->target.raw.p, ' ', r->target.raw.len) == NULL);
	CHECK(no_ctl(r->target.raw));
	CHECK(r->version_minor <= 1);
	CHECK((r->method == HTTP1_M_CONNECT) == (r->target.form == HTTP1_FORM_AUTHORITY));
	if (r->target.form == HTTP1_FORM_ASTERISK)
		CHECK(r->method == HTTP1_M_OPTIONS);
	if (r->target.form == HTTP1_FORM_ABSOLUTE) {
		CHECK(r->target.scheme == HTTP1_SCHEME_HTTP ||
		      (lim->flags & HTTP1_ALLOW_HTTPS_ABSOLUTE));
		CHECK(r->authority.host.len > 0 && r->authority.port > 0);
	}
	if (r->target.form == HTTP1_FORM_AUTHORITY)
		CHECK(r->authority.has_port && r->authority.port > 0);
	if (r->target.form == HTTP1_FORM_ORIGIN)
		CHECK(r->target.path.len > 0 && r->target.path.p[0] == '/');
	if (r->version_minor == 1)
		CHECK(r->host_header.len > 0);
	if (r->authority.host.len)
		CHECK(r->authority.kind != HTTP1_HOST_NONE);
	CHECK(r->fields.n <= lim->max_fields);
	for (i = 0; i < r->fields.n; i++) {
		struct str n = r->fields.v[i].name, v = r->fields.v[i].value;

		check_slice(n, base, head_len);
		check_slice(v, base, head_len);
		CHECK(http1_is_token(n));
		CHECK(no_ctl(v));
		if (v.len) {
			CHECK(v.p[0] != ' ' && v.p[0] != '\t');
			CHECK(v.p[v.len - 1] != ' ' && v.p[v.len - 1] != '\t');
		}
	}
	/* Hop-by-hop: the fixed list always, Host and Content-Length never
	 * (Connection may not name them), Connection's options always. */
	for (i = 0; i < r->fields.n; i++) {
		struct str n = r->fields.v[i].name;
		bool hop = http1_fields_is_hop_by_hop(&r->fields, n);

		if (http1_str_ieq_cstr(n, "host") || http1_str_ieq_cstr(n, "content-length"))
			CHECK(!hop);
		if (http1_str_ieq_cstr(n, "connection") || http1_str_ieq_cstr(n, "transfer-encoding") ||
		    http1_str_ieq_cstr(n, "upgrade") || http1_str_ieq_cstr(n, "te") ||
		    http1_str_ieq_cstr(n, "proxy-authorization") || http1_str_ieq_cstr(n, "keep-alive"))
			CHECK(hop);
		if (http1_str_ieq_cstr(n, "connection")) {
			struct http1_list l;
			struct str e;

			http1_list_init(&l, r->fields.v[i].value);
			while (http1_list_next(&l, &e))
				CHECK(!e.len || http1_fields_is_hop_by_hop(&r->fields, e));
		}
	}
	CHECK(http1_fields_count(&r->fields, "host") <= 1);
	CHECK(http1_fields_count(&r->fields, "content-length") <= 1);
	/* Framing against an independent reading of the fields. */
	if (r->body == HTTP1_BODY_LENGTH) {
		const struct http1_field *f = http1_fields_find(&r->fields, "content-length");
		char digits[32];
		char *endp;

		CHECK(f && f->value.len > 0);
		if (f->value.len < sizeof(digits)) {
			memcpy(digits, f->value.p, f->value.len);
			digits[f->value.len] = '\0';
			CHECK(strspn(digits, "0123456789") == f->value.len);
			CHECK((int64_t)strtoull(digits, &endp, 10) == r->content_length && *endp == '\0');
		}
	}
	if (r->body == HTTP1_BODY_CHUNKED) {
		const struct http1_field *f = http1_fields_find(&r->fields, "transfer-encoding");

		CHECK(f && http1_str_ieq_cstr(f->value, "chunked"));
		CHECK(http1_fields_count(&r->fields, "transfer-encoding") == 1);
	}
	switch (r->body) {
	case HTTP1_BODY_NONE:
		CHECK(r->content_length == -1);
		CHECK(!http1_fields_find(&r->fields, "transfer-encoding"));
		break;
	case HTTP1_BODY_LENGTH:
		CHECK(r->content_length >= 0 && r->content_length < HTTP1_MAX_LENGTH);
		CHECK(!http1_fields_find(&r->fields, "transfer-encoding"));
		break;
	case HTTP1_BODY_CHUNKED:
		CHECK(r->content_length == -1 && r->version_minor == 1);
		CHECK(!http1_fields_find(&r->fields, "content-length"));
		break;
	default:
		CHECK(0);
	}
	if (r->connection_close)
		CHECK(!r->keep_alive);
}

static size_t off(const char *base, struct str s)
{
	return s.len ? (size_t)(s.p - base) : (size_t)-1;
}

static void check_same(const struct http1_request *a, const char *ab, const struct http1_request *b,
		       const char *bb)
{
	size_t i;

	CHECK(a->head_len == b->head_len);
	CHECK(a->method == b->method && a->version_minor == b->version_minor);
	CHECK(off(ab, a->target.raw) == off(bb, b->target.raw) && a->target.raw.len == b->target.raw.len);
	CHECK(a->target.form == b->target.form && a->target.scheme == b->target.scheme);
	CHECK(off(ab, a->target.path) == off(bb, b->target.path) && a->target.path.len == b->target.path.len);
	CHECK(off(ab, a->target.query) == off(bb, b->target.query) &&
	      a->target.query.len == b->target.query.len);
	CHECK(off(ab, a->authority.host) == off(bb, b->authority.host));
	CHECK(a->authority.host.len == b->authority.host.len && a->authority.port == b->authority.port);
	CHECK(a->fields.n == b->fields.n);
	for (i = 0; i < a->fields.n; i++) {
		CHECK(off(ab, a->fields.v[i].name) == off(bb, b->fields.v[i].name));
		CHECK(a->fields.v[i].name.len == b->fields.v[i].name.len);
		CHECK(off(ab, a->fields.v[i].value) == off(bb, b->fields.v[i].value));
		CHECK(a->fields.v[i].value.len == b->fields.v[i].value.len);
	}
	CHECK(a->body == b->body && a->content_length == b->content_length);
	CHECK(a->keep_alive == b->keep_alive && a->connection_close == b->connection_close);
	CHECK(a->expect_continue == b->expect_continue && a->upgrade.len == b->upgrade.len);
}

/* Prefix [0, k) in its own buffer, then all n bytes in another one. */
static void check_split(const char *s, size_t n, size_t k, int want, const struct http1_limits *lim)
{
	char *a = malloc(k + 1), *b;
	int r;

	CHECK(a);
	memcpy(a, s, k);
	http1_request_init(&two);
	r = http1_request_parse(&two, a, a + k, lim);
	if (r != 0) {
		CHECK(r == want);
		free(a);
		return;
	}
	b = malloc(n + 1);
	CHECK(b);
	memcpy(b, s, n);
	free(a);
	r = http1_request_parse(&two, b, b + n, lim);
	CHECK(r == want);
	if (r > 0)
		check_same(&one, s, &two, b);
	free(b);
}

static void check_reserialised(const struct http1_request *r, const struct http1_limits *lim)
{
	size_t cap = r->head_len + 1, n = 0, i;
	char *out = malloc(cap);
	int got;

#define PUT(ptr, len)                                   \
	do {                                            \
		CHECK(n + (len) <= cap);                \
		memcpy(out + n, (ptr), (len));          \
		n += (len);                             \
	} while (0)

	CHECK(out);
	PUT(r->method_name.p, r->method_name.len);
	PUT(" ", 1);
	PUT(r->target.raw.p, r->target.raw.len);
	PUT(r->version_minor ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n", 11);
	for (i = 0; i < r->fields.n; i++) {
		PUT(r->fields.v[i].name.p, r->fields.v[i].name.len);
		PUT(":", 1);
		PUT(r->fields.v[i].value.p, r->fields.v[i].value.len);
		PUT("\r\n", 2);
	}
	PUT("\r\n", 2);
#undef PUT
	http1_request_init(&three);
	got = http1_request_parse(&three, out, out + n, lim);
	CHECK(got == (int)n);
	CHECK(three.method == r->method && three.version_minor == r->version_minor);
	CHECK(str_equal(three.target.raw, r->target.raw));
	CHECK(str_equal(three.target.path, r->target.path));
	CHECK(str_equal(three.target.query, r->target.query));
	CHECK(str_equal(three.authority.host, r->authority.host));
	CHECK(three.authority.port == r->authority.port);
	CHECK(three.fields.n == r->fields.n);
	for (i = 0; i < r->fields.n; i++) {
		CHECK(str_equal(three.fields.v[i].name, r->fields.v[i].name));
		CHECK(str_equal(three.fields.v[i].value, r->fields.v[i].value));
	}
	CHECK(three.body == r->body && three.content_length == r->content_length);
	CHECK(three.keep_alive == r->keep_alive && three.expect_continue == r->expect_continue);
	CHECK(str_equal(three.upgrade, r->upgrade));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_limits lim = { 0 };
	uint32_t seed = 2166136261u;
	char *s;
	size_t n, k, i;
	int want, r;

	if (size < 1)
		return 0;
	if (data[0] & 1) {
		lim.max_head = 300;
		lim.max_start_line = 80;
		lim.max_field_line = 60;
		lim.max_fields = 5;
	}
	if (data[0] & 2)
		lim.flags |= HTTP1_ALLOW_HTTPS_ABSOLUTE;
	lim = http1_limits_resolve(&lim);
	n = size - 1;
	s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);

	http1_request_init(&one);
	want = http1_request_parse(&one, s, s + n, &lim);
	CHECK(want >= HTTP1_ELAST && want <= (int)n);
	CHECK(want != HTTP1_EINTERNAL);
	CHECK(strcmp(http1_strerror(want < 0 ? want : 0), "unknown error") != 0);
	if (want < 0) {
		char msg[160];

		CHECK(strlen(http1_error_message(want, &lim, msg, sizeof(msg))) > 0);
		CHECK(http1_error_status(want) >= 400 && http1_error_status(want) <= 505);
	}
	if (want > 0) {
		check_request(&one, s, (size_t)want, &lim);
		check_reserialised(&one, &lim);
	}

	/* Every split point for small inputs, a sample for large ones. */
	if (n <= 512) {
		for (k = 0; k <= n; k++)
			check_split(s, n, k, want, &lim);
	} else {
		for (i = 0; i < n; i++)
			seed = (seed ^ (unsigned char)s[i]) * 16777619u;
		for (i = 0; i < 16; i++) {
			seed = seed * 1103515245u + 12345u;
			check_split(s, n, seed % (n + 1), want, &lim);
		}
	}

	/* Byte by byte in one growing buffer. */
	http1_request_init(&two);
	r = 0;
	for (k = 0; k <= n && r == 0; k++)
		r = http1_request_parse(&two, s, s + k, &lim);
	CHECK(r == want);
	if (r > 0)
		check_same(&one, s, &two, s);

	free(s);
	return 0;
}

/* libFuzzer target: http1_response_parse().
 *
 * The first input byte picks the request method (which decides framing)
 * and the limits; the rest is the response.  Invariants: the result is 0,
 * a known error or a head length ending at the first CRLFCRLF; slices lie
 * in the head; framing follows RFC 9112 §6.3; two-piece feeding at every
 * split point (up to 512 bytes, a sample above) and byte-by-byte feeding
 * give the one-piece result; re-serialising gives the same fields.
 */
#include "../../shared/buf.h"
#include "../../shared/http1.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static struct http1_response one, two, three;

static const enum http1_method methods[] = { HTTP1_M_GET, HTTP1_M_HEAD, HTTP1_M_CONNECT, HTTP1_M_POST };

static void check_slice(struct str s, const char *base, size_t len)
{
	if (s.len)
		CHECK(s.p >= base && s.p + s.len <= base + len);
}

static void check_response(const struct http1_response *r, const char *base, size_t head_len,
			   const struct http1_limits *lim, enum http1_method m)
{
	size_t i;

	CHECK(r->head_len == head_len);
	CHECK(memmem(base, head_len, "\r\n\r\n", 4) == base + head_len - 4);
	for (i = 0; i < head_len; i++) {
		if (base[i] == '\n')
			CHECK(i > 0 && base[i - 1] == '\r');
		if (base[i] == '\r')
			CHECK(i + 1 < head_len && base[i + 1] == '\n');
	}
	CHECK(memcmp(base, "HTTP/1.", 7) == 0);
	CHECK(r->version_minor <= 1);
	CHECK(r->status >= 100 && r->status <= 599);
	check_slice(r->reason, base, head_len);
	check_slice(r->upgrade, base, head_len);
	CHECK(r->fields.n <= lim->max_fields);
	for (i = 0; i < r->fields.n; i++) {
		check_slice(r->fields.v[i].name, base, head_len);
		check_slice(r->fields.v[i].value, base, head_len);
		CHECK(http1_is_token(r->fields.v[i].name));
	}
	CHECK(http1_fields_count(&r->fields, "content-length") <= 1);
	if (r->status == 101) {
		CHECK(r->body == HTTP1_BODY_TUNNEL);
	} else if (m == HTTP1_M_HEAD || r->status < 200 || r->status == 204 || r->status == 304) {
		CHECK(r->body == HTTP1_BODY_NONE);
	} else if (m == HTTP1_M_CONNECT && r->status < 300) {
		CHECK(r->body == HTTP1_BODY_TUNNEL);
	} else if (http1_fields_find(&r->fields, "transfer-encoding")) {
		CHECK(r->body == HTTP1_BODY_CHUNKED);
		CHECK(!http1_fields_find(&r->fields, "content-length"));
	} else if (http1_fields_find(&r->fields, "content-length")) {
		CHECK(r->body == HTTP1_BODY_LENGTH);
		CHECK(r->content_length >= 0 && r->content_length < HTTP1_MAX_LENGTH);
	} else {
		CHECK(r->body == HTTP1_BODY_CLOSE);
	}
	if (r->body == HTTP1_BODY_CLOSE || r->body == HTTP1_BODY_TUNNEL || r->connection_close)
		CHECK(!r->keep_alive);
}

static void check_same(const struct http1_response *a, const char *ab, const struct http1_response *b,
		       const char *bb)
{
	size_t i;

	CHECK(a->head_len == b->head_len && a->status == b->status);
	CHECK(a->version_minor == b->version_minor && a->reason.len == b->reason.len);
	CHECK(a->body == b->body && a->content_length == b->content_length);
	CHECK(a->keep_alive == b->keep_alive && a->upgrade.len == b->upgrade.len);
	CHECK(a->fields.n == b->fields.n);
	for (i = 0; i < a->fields.n; i++) {
		CHECK(a->fields.v[i].name.p - ab == b->fields.v[i].name.p - bb);
		CHECK(a->fields.v[i].name.len == b->fields.v[i].name.len);
		CHECK(a->fields.v[i].value.len == b->fields.v[i].value.len);
		if (a->fields.v[i].value.len)
			CHECK(a->fields.v[i].value.p - ab == b->fields.v[i].value.p - bb);
	}
}

static void check_split(const char *s, size_t n, size_t k, int want, const struct http1_limits *lim,
			enum http1_method m)
{
	char *a = malloc(k + 1), *b;
	int r;

	CHECK(a);
	memcpy(a, s, k);
	http1_response_init(&two);
	r = http1_response_parse(&two, a, a + k, lim, m);
	if (r != 0) {
		CHECK(r == want);
		free(a);
		return;
	}
	b = malloc(n + 1);
	CHECK(b);
	memcpy(b, s, n);
	free(a);
	r = http1_response_parse(&two, b, b + n, lim, m);
	CHECK(r == want);
	if (r > 0)
		check_same(&one, s, &two, b);
	free(b);
}

static void check_reserialised(const struct http1_response *r, const char *base, const struct http1_limits *lim,
			       enum http1_method m)
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
	/* "HTTP/1.x NNN" then the reason as received (SP included or not). */
	PUT(base, 12);
	if (r->reason.len) {
		PUT(" ", 1);
		PUT(r->reason.p, r->reason.len);
	}
	PUT("\r\n", 2);
	for (i = 0; i < r->fields.n; i++) {
		PUT(r->fields.v[i].name.p, r->fields.v[i].name.len);
		PUT(":", 1);
		PUT(r->fields.v[i].value.p, r->fields.v[i].value.len);
		PUT("\r\n", 2);
	}
	PUT("\r\n", 2);
#undef PUT
	http1_response_init(&three);
	got = http1_response_parse(&three, out, out + n, lim, m);
	CHECK(got == (int)n);
	CHECK(three.status == r->status && three.version_minor == r->version_minor);
	CHECK(str_equal(three.reason, r->reason));
	CHECK(three.fields.n == r->fields.n);
	for (i = 0; i < r->fields.n; i++) {
		CHECK(str_equal(three.fields.v[i].name, r->fields.v[i].name));
		CHECK(str_equal(three.fields.v[i].value, r->fields.v[i].value));
	}
	CHECK(three.body == r->body && three.content_length == r->content_length);
	CHECK(three.keep_alive == r->keep_alive && str_equal(three.upgrade, r->upgrade));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http1_limits lim = { 0 };
	enum http1_method m;
	uint32_t seed = 2166136261u;
	char *s;
	size_t n, k, i;
	int want, r;

	if (size < 1)
		return 0;
	m = methods[data[0] & 3];
	if (data[0] & 4) {
		lim.max_head = 300;
		lim.max_start_line = 60;
		lim.max_field_line = 60;
		lim.max_fields = 5;
	}
	lim = http1_limits_resolve(&lim);
	n = size - 1;
	s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);

	http1_response_init(&one);
	want = http1_response_parse(&one, s, s + n, &lim, m);
	CHECK(want >= HTTP1_ELAST && want <= (int)n && want != HTTP1_EINTERNAL);
	if (want > 0) {
		check_response(&one, s, (size_t)want, &lim, m);
		check_reserialised(&one, s, &lim, m);
	}

	if (n <= 512) {
		for (k = 0; k <= n; k++)
			check_split(s, n, k, want, &lim, m);
	} else {
		for (i = 0; i < n; i++)
			seed = (seed ^ (unsigned char)s[i]) * 16777619u;
		for (i = 0; i < 16; i++) {
			seed = seed * 1103515245u + 12345u;
			check_split(s, n, seed % (n + 1), want, &lim, m);
		}
	}

	http1_response_init(&two);
	r = 0;
	for (k = 0; k <= n && r == 0; k++)
		r = http1_response_parse(&two, s, s + k, &lim, m);
	CHECK(r == want);
	if (r > 0)
		check_same(&one, s, &two, s);

	free(s);
	return 0;
}

/* The ClientHello SNI reader: real hellos captured from openssl s_client
 * and node on loopback, every truncation of them (MORE, never a wrong
 * DONE), every split into records, and one test per refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../sidecar/egress/client_hello.h"

/* Captured with a listener on 127.0.0.1 that saved the first bytes of:
 * `openssl s_client -tls1_3 -servername api.Example.COM` (OpenSSL 3.0),
 * `tls.connect({servername: 'objects.githubusercontent.com',
 * maxVersion: 'TLSv1.2'})` (node 20) and
 * `openssl s_client -tls1_2 -noservername`. */
/* openssl-tls13-sni: 249 bytes */
static const uint8_t hello_openssl_tls13[] = {
	0x16, 0x03, 0x01, 0x00, 0xf4, 0x01, 0x00, 0x00, 0xf0, 0x03, 0x03, 0x45,
	0xeb, 0xcc, 0xcb, 0x2b, 0xae, 0xa4, 0x91, 0xe6, 0xc5, 0xb1, 0x11, 0x9f,
	0x22, 0x25, 0x0d, 0xae, 0x8b, 0xce, 0xcb, 0x85, 0x66, 0xab, 0x04, 0x17,
	0x71, 0xec, 0x50, 0x3a, 0x10, 0x5a, 0xeb, 0x20, 0x5e, 0x7b, 0x4a, 0x6f,
	0x56, 0xfb, 0xe6, 0x76, 0x1c, 0x81, 0xc2, 0x51, 0x30, 0x33, 0x77, 0xdf,
	0xb3, 0x14, 0xd5, 0x95, 0xd3, 0xd6, 0x2f, 0xda, 0x19, 0xed, 0x6d, 0xb1,
	0xf9, 0x13, 0x71, 0x1e, 0x00, 0x08, 0x13, 0x02, 0x13, 0x03, 0x13, 0x01,
	0x00, 0xff, 0x01, 0x00, 0x00, 0x9f, 0x00, 0x00, 0x00, 0x14, 0x00, 0x12,
	0x00, 0x00, 0x0f, 0x61, 0x70, 0x69, 0x2e, 0x45, 0x78, 0x61, 0x6d, 0x70,
	0x6c, 0x65, 0x2e, 0x43, 0x4f, 0x4d, 0x00, 0x0b, 0x00, 0x04, 0x03, 0x00,
	0x01, 0x02, 0x00, 0x0a, 0x00, 0x16, 0x00, 0x14, 0x00, 0x1d, 0x00, 0x17,
	0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x01, 0x00, 0x01, 0x01, 0x01, 0x02,
	0x01, 0x03, 0x01, 0x04, 0x00, 0x23, 0x00, 0x00, 0x00, 0x16, 0x00, 0x00,
	0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x1e, 0x00, 0x1c, 0x04, 0x03,
	0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08, 0x08, 0x09, 0x08, 0x0a,
	0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06, 0x04, 0x01, 0x05, 0x01,
	0x06, 0x01, 0x00, 0x2b, 0x00, 0x03, 0x02, 0x03, 0x04, 0x00, 0x2d, 0x00,
	0x02, 0x01, 0x01, 0x00, 0x33, 0x00, 0x26, 0x00, 0x24, 0x00, 0x1d, 0x00,
	0x20, 0xa5, 0xaf, 0xc2, 0x56, 0x22, 0x2f, 0x50, 0x71, 0x62, 0xde, 0x61,
	0x5a, 0x39, 0xd6, 0x4b, 0x04, 0x7d, 0xec, 0xbd, 0x6d, 0x34, 0x5f, 0x0c,
	0xcf, 0x90, 0x33, 0x14, 0x2b, 0x26, 0x88, 0xad, 0x5d,
};

/* node-tls12: 282 bytes */
static const uint8_t hello_node_tls12[] = {
	0x16, 0x03, 0x01, 0x01, 0x15, 0x01, 0x00, 0x01, 0x11, 0x03, 0x03, 0x25,
	0x9a, 0x86, 0x6e, 0xa1, 0x8b, 0x82, 0x93, 0x19, 0x53, 0x61, 0x88, 0x09,
	0x31, 0x68, 0x16, 0xc5, 0xe0, 0xab, 0xd5, 0x5d, 0x99, 0xc6, 0xde, 0x91,
	0x6b, 0xbc, 0x80, 0xb6, 0x97, 0xac, 0x5e, 0x00, 0x00, 0x70, 0xc0, 0x2f,
	0xc0, 0x2b, 0xc0, 0x30, 0xc0, 0x2c, 0x00, 0x9e, 0xc0, 0x27, 0x00, 0x67,
	0xc0, 0x28, 0x00, 0x6b, 0x00, 0xa3, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8,
	0xcc, 0xaa, 0xc0, 0xaf, 0xc0, 0xad, 0xc0, 0xa3, 0xc0, 0x9f, 0xc0, 0x5d,
	0xc0, 0x61, 0xc0, 0x57, 0xc0, 0x53, 0x00, 0xa2, 0xc0, 0xae, 0xc0, 0xac,
	0xc0, 0xa2, 0xc0, 0x9e, 0xc0, 0x5c, 0xc0, 0x60, 0xc0, 0x56, 0xc0, 0x52,
	0xc0, 0x24, 0x00, 0x6a, 0xc0, 0x23, 0x00, 0x40, 0xc0, 0x0a, 0xc0, 0x14,
	0x00, 0x39, 0x00, 0x38, 0xc0, 0x09, 0xc0, 0x13, 0x00, 0x33, 0x00, 0x32,
	0x00, 0x9d, 0xc0, 0xa1, 0xc0, 0x9d, 0xc0, 0x51, 0x00, 0x9c, 0xc0, 0xa0,
	0xc0, 0x9c, 0xc0, 0x50, 0x00, 0x3d, 0x00, 0x3c, 0x00, 0x35, 0x00, 0x2f,
	0x00, 0xff, 0x01, 0x00, 0x00, 0x78, 0x00, 0x00, 0x00, 0x22, 0x00, 0x20,
	0x00, 0x00, 0x1d, 0x6f, 0x62, 0x6a, 0x65, 0x63, 0x74, 0x73, 0x2e, 0x67,
	0x69, 0x74, 0x68, 0x75, 0x62, 0x75, 0x73, 0x65, 0x72, 0x63, 0x6f, 0x6e,
	0x74, 0x65, 0x6e, 0x74, 0x2e, 0x63, 0x6f, 0x6d, 0x00, 0x0b, 0x00, 0x04,
	0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a, 0x00, 0x1d,
	0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23, 0x00, 0x00,
	0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d, 0x00, 0x2a,
	0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07, 0x08, 0x08,
	0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05, 0x08, 0x06,
	0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01, 0x03, 0x02,
	0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
};

/* openssl-tls12-nosni: 188 bytes */
static const uint8_t hello_openssl_tls12_nosni[] = {
	0x16, 0x03, 0x01, 0x00, 0xb7, 0x01, 0x00, 0x00, 0xb3, 0x03, 0x03, 0x25,
	0x47, 0xc0, 0x2b, 0x91, 0xda, 0xc5, 0x1c, 0xe9, 0x41, 0xea, 0x39, 0x23,
	0xfd, 0x35, 0x8e, 0xf2, 0x8b, 0x22, 0xd2, 0x1c, 0xd0, 0xdd, 0xdc, 0xf0,
	0xff, 0x65, 0x93, 0xd5, 0xc8, 0x67, 0x5d, 0x00, 0x00, 0x38, 0xc0, 0x2c,
	0xc0, 0x30, 0x00, 0x9f, 0xcc, 0xa9, 0xcc, 0xa8, 0xcc, 0xaa, 0xc0, 0x2b,
	0xc0, 0x2f, 0x00, 0x9e, 0xc0, 0x24, 0xc0, 0x28, 0x00, 0x6b, 0xc0, 0x23,
	0xc0, 0x27, 0x00, 0x67, 0xc0, 0x0a, 0xc0, 0x14, 0x00, 0x39, 0xc0, 0x09,
	0xc0, 0x13, 0x00, 0x33, 0x00, 0x9d, 0x00, 0x9c, 0x00, 0x3d, 0x00, 0x3c,
	0x00, 0x35, 0x00, 0x2f, 0x00, 0xff, 0x01, 0x00, 0x00, 0x52, 0x00, 0x0b,
	0x00, 0x04, 0x03, 0x00, 0x01, 0x02, 0x00, 0x0a, 0x00, 0x0c, 0x00, 0x0a,
	0x00, 0x1d, 0x00, 0x17, 0x00, 0x1e, 0x00, 0x19, 0x00, 0x18, 0x00, 0x23,
	0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0x00, 0x0d,
	0x00, 0x2a, 0x00, 0x28, 0x04, 0x03, 0x05, 0x03, 0x06, 0x03, 0x08, 0x07,
	0x08, 0x08, 0x08, 0x09, 0x08, 0x0a, 0x08, 0x0b, 0x08, 0x04, 0x08, 0x05,
	0x08, 0x06, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x03, 0x03, 0x03, 0x01,
	0x03, 0x02, 0x04, 0x02, 0x05, 0x02, 0x06, 0x02,
};

struct capture {
	const uint8_t *bytes;
	size_t len;
	const char *sni;
};

static const struct capture captures[] = {
	{ hello_openssl_tls13, sizeof(hello_openssl_tls13), "api.example.com" },
	{ hello_node_tls12, sizeof(hello_node_tls12), "objects.githubusercontent.com" },
	{ hello_openssl_tls12_nosni, sizeof(hello_openssl_tls12_nosni), "" },
};

#define NCAPTURES (sizeof(captures) / sizeof(captures[0]))

/* Parse from an exact-size heap copy, so a read past end is an ASan error
 * in a sanitized build and garbage (not a neighbour's bytes) otherwise. */
static int parse(const uint8_t *p, size_t n, char *sni, size_t sni_len)
{
	uint8_t *copy = malloc(n ? n : 1);
	int r;

	assert_non_null(copy);
	memcpy(copy, p, n);
	r = client_hello_sni(copy, copy + n, sni, sni_len);
	free(copy);
	return r;
}

static void expect_at(int line, const uint8_t *p, size_t n, int want, const char *want_sni)
{
	char sni[256];
	int r = parse(p, n, sni, sizeof(sni));

	if (r != want)
		fail_msg("line %d: got %d, expected %d", line, r, want);
	assert_string_equal(sni, want == CLIENT_HELLO_DONE ? want_sni : "");
}

/* The line of the failing case, not of this helper. */
#define expect(...) expect_at(__LINE__, __VA_ARGS__)

/* ---- building hellos ---- */

struct bytes {
	uint8_t b[80000];
	size_t n;
};

static void put(struct bytes *o, const void *p, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	if (n)
		memcpy(o->b + o->n, p, n);
	o->n += n;
}

static void put8(struct bytes *o, size_t v)
{
	uint8_t b = (uint8_t)v;

	put(o, &b, 1);
}

static void put16(struct bytes *o, size_t v)
{
	put8(o, v >> 8);
	put8(o, v);
}

static void put24(struct bytes *o, size_t v)
{
	put8(o, v >> 16);
	put16(o, v);
}

static void fill(struct bytes *o, uint8_t c, size_t n)
{
	assert_true(o->n + n <= sizeof(o->b));
	memset(o->b + o->n, c, n);
	o->n += n;
}

/* The handshake bytes of a capture (its records unwrapped). */
static void unwrap(const uint8_t *p, size_t n, struct bytes *hs)
{
	size_t i = 0, len;

	hs->n = 0;
	while (i + 5 <= n) {
		len = (size_t)p[i + 3] << 8 | p[i + 4];
		put(hs, p + i + 5, len);
		i += 5 + len;
	}
}

/* Wrap handshake bytes in records: the first `first` bytes in one record
 * (0: no such split), then records of at most `step` bytes. */
static void wrap(const struct bytes *hs, size_t first, size_t step, struct bytes *out)
{
	size_t off = 0, len;

	out->n = 0;
	while (off < hs->n) {
		len = off == 0 && first ? first : step;
		if (len > hs->n - off)
			len = hs->n - off;
		put8(out, 22);
		put16(out, 0x0301);
		put16(out, len);
		put(out, hs->b + off, len);
		off += len;
	}
}

struct spec {
	size_t version;      /* legacy_version */
	size_t sid_len;
	size_t ciphers_len;
	size_t comp_len;
	bool no_extensions;  /* omit the extensions block entirely */
	long ext_delta;      /* added to the extensions block length */
	const struct bytes *ext;
};

static const struct spec good = { 0x0303, 32, 4, 1, false, 0, NULL };

static void hello(const struct spec *s, struct bytes *hs)
{
	static struct bytes body;
	size_t ext_len = s->ext ? s->ext->n : 0;

	body.n = 0;
	put16(&body, s->version);
	fill(&body, 0xaa, 32);
	put8(&body, s->sid_len);
	fill(&body, 0x55, s->sid_len);
	put16(&body, s->ciphers_len);
	fill(&body, 0x13, s->ciphers_len);
	put8(&body, s->comp_len);
	fill(&body, 0, s->comp_len);
	if (!s->no_extensions) {
		put16(&body, (size_t)((long)ext_len + s->ext_delta));
		if (s->ext)
			put(&body, s->ext->b, s->ext->n);
	}
	hs->n = 0;
	put8(hs, 1);
	put24(hs, body.n);
	put(hs, body.b, body.n);
}

static void ext_raw(struct bytes *e, size_t type, const void *body, size_t len)
{
	put16(e, type);
	put16(e, len);
	put(e, body, len);
}

/* A server_name extension with one host_name entry. */
static void ext_sni(struct bytes *e, const char *name, size_t len)
{
	put16(e, 0);
	put16(e, len + 5);
	put16(e, len + 3);
	put8(e, 0);
	put16(e, len);
	put(e, name, len);
}

static struct bytes hs, wire, ext;

/* The verdict on handshake bytes in one record, and in 1- and 7-byte
 * records; each truncation of the one-record form is MORE or the same. */
static void expect_hs(const struct bytes *h, int want, const char *want_sni)
{
	static struct bytes w;
	size_t steps[] = { 16384, 1, 7 }, i, k;
	char sni[256];
	int r;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		wrap(h, 0, steps[i], &w);
		if (w.n > CLIENT_HELLO_MAX)
			continue;
		expect(w.b, w.n, want, want_sni);
		if (i == 0)
			for (k = 0; k < w.n; k++) {
				r = parse(w.b, k, sni, sizeof(sni));
				assert_true(r == CLIENT_HELLO_MORE || r == want);
				assert_true(r != CLIENT_HELLO_DONE);
			}
	}
}

static void expect_ext(const struct bytes *e, int want, const char *want_sni)
{
	struct spec s = good;

	s.ext = e;
	hello(&s, &hs);
	expect_hs(&hs, want, want_sni);
}

static void expect_name(const char *name, size_t len, int want, const char *want_sni)
{
	ext.n = 0;
	ext_sni(&ext, name, len);
	expect_ext(&ext, want, want_sni);
}

/* ---- tests ---- */

static void test_captures(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < NCAPTURES; i++)
		expect(captures[i].bytes, captures[i].len, CLIENT_HELLO_DONE, captures[i].sni);
}

/* Every prefix is MORE: never DONE with what a later byte could change,
 * never an error for what is merely incomplete. */
static void test_truncations(void **state)
{
	char sni[256];
	size_t i, k;

	(void)state;
	for (i = 0; i < NCAPTURES; i++)
		for (k = 0; k < captures[i].len; k++) {
			memset(sni, 'x', sizeof(sni));
			if (parse(captures[i].bytes, k, sni, sizeof(sni)) != CLIENT_HELLO_MORE)
				fail_msg("capture %zu cut at %zu is not MORE", i, k);
			assert_string_equal(sni, "");
		}
}

/* The same hello split into two records at every offset, and into records
 * of every size from 1 to 40 bytes; each truncation of a two-record split
 * is MORE. */
static void test_split_records(void **state)
{
	char sni[256];
	size_t i, k, cut;

	(void)state;
	for (i = 0; i < NCAPTURES; i++) {
		unwrap(captures[i].bytes, captures[i].len, &hs);
		for (cut = 1; cut < hs.n; cut++) {
			wrap(&hs, cut, 16384, &wire);
			expect(wire.b, wire.n, CLIENT_HELLO_DONE, captures[i].sni);
			if (cut % 16 == 1)
				for (k = 0; k < wire.n; k++)
					assert_int_equal(parse(wire.b, k, sni, sizeof(sni)),
							 CLIENT_HELLO_MORE);
		}
		for (cut = 1; cut <= 40; cut++) {
			wrap(&hs, 0, cut, &wire);
			expect(wire.b, wire.n, CLIENT_HELLO_DONE, captures[i].sni);
		}
	}
}

/* Whatever follows the hello (0-RTT data, junk) is not looked at. */
static void test_bytes_after(void **state)
{
	static const uint8_t after[] = { 20, 3, 3, 0, 1, 1, 23, 3, 3, 0, 2, 'h', 'i', 0xff };

	(void)state;
	wire.n = 0;
	put(&wire, hello_openssl_tls13, sizeof(hello_openssl_tls13));
	put(&wire, after, sizeof(after));
	expect(wire.b, wire.n, CLIENT_HELLO_DONE, "api.example.com");
}

static void test_record_layer(void **state)
{
	static const struct {
		uint8_t b[3];
		size_t n;
	} early[] = {
		{ { 23 }, 1 },        { { 0x80 }, 1 },       { { 'G' }, 1 },       { { 22, 2 }, 2 },
		{ { 22, 3, 0 }, 3 }, { { 22, 3, 5 }, 3 }, { { 21, 3, 3 }, 3 },
	};
	size_t i;

	(void)state;
	expect((const uint8_t *)"", 0, CLIENT_HELLO_MORE, "");
	expect((const uint8_t *)"\x16", 1, CLIENT_HELLO_MORE, "");
	expect((const uint8_t *)"\x16\x03\x04\x00", 4, CLIENT_HELLO_MORE, "");
	/* Not TLS: said as soon as the first bytes show it. */
	for (i = 0; i < sizeof(early) / sizeof(early[0]); i++)
		expect(early[i].b, early[i].n, CLIENT_HELLO_EINVAL, "");
	expect((const uint8_t *)"GET / HTTP/1.1\r\n\r\n", 18, CLIENT_HELLO_EINVAL, "");

	wire.n = 0;
	put(&wire, hello_openssl_tls13, sizeof(hello_openssl_tls13));
	wire.b[0] = 23;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	wire.b[0] = 22;
	wire.b[2] = 4; /* 0x0304 is accepted in the record layer */
	expect(wire.b, wire.n, CLIENT_HELLO_DONE, "api.example.com");
	wire.b[2] = 0;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	wire.b[2] = 1;
	wire.b[1] = 2;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	wire.b[1] = 3;
	/* Empty and oversized records. */
	wire.b[3] = 0;
	wire.b[4] = 0;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	wire.b[3] = (16384 + 2048 + 1) >> 8;
	wire.b[4] = (16384 + 2048 + 1) & 0xff;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	wire.b[3] = (16384 + 2048) >> 8;
	wire.b[4] = (16384 + 2048) & 0xff;
	expect(wire.b, wire.n, CLIENT_HELLO_DONE, "api.example.com"); /* longer is fine */

	/* A second record that is not handshake, or is empty, mid-hello. */
	unwrap(hello_openssl_tls13, sizeof(hello_openssl_tls13), &hs);
	wrap(&hs, 100, 16384, &wire);
	wire.b[105] = 23;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	wire.b[105] = 22;
	wire.b[108] = 0;
	wire.b[109] = 0;
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	/* Judged before the rest of the second record header arrives. */
	wire.b[105] = 23;
	expect(wire.b, 106, CLIENT_HELLO_EINVAL, "");
	wire.b[105] = 22;
	expect(wire.b, 106, CLIENT_HELLO_MORE, "");
	wire.b[106] = 9;
	expect(wire.b, 107, CLIENT_HELLO_EINVAL, "");
}

static void test_handshake_header(void **state)
{
	struct spec s = good;

	(void)state;
	hello(&good, &hs);
	expect_hs(&hs, CLIENT_HELLO_DONE, "");
	hs.b[0] = 2; /* ServerHello */
	expect_hs(&hs, CLIENT_HELLO_EINVAL, "");
	/* Declared one byte longer than its extensions block: a mismatch
	 * known before the missing byte arrives. */
	hs.b[0] = 1;
	hs.b[3]++;
	wrap(&hs, 0, 16384, &wire);
	expect(wire.b, wire.n, CLIENT_HELLO_EINVAL, "");
	/* Without extensions, longer means their block is still to come. */
	s.no_extensions = true;
	hello(&s, &hs);
	expect_hs(&hs, CLIENT_HELLO_DONE, "");
	hs.b[3] += 2;
	wrap(&hs, 0, 16384, &wire);
	expect(wire.b, wire.n, CLIENT_HELLO_MORE, "");
	hs.b[3] -= 1;
	expect_hs(&hs, CLIENT_HELLO_EINVAL, "");
	/* Shorter: a field overruns the message. */
	hs.b[3] -= 2;
	expect_hs(&hs, CLIENT_HELLO_EINVAL, "");
	hs.b[3] = 10;
	expect_hs(&hs, CLIENT_HELLO_EINVAL, "");
	hs.b[3] = 0;
	expect_hs(&hs, CLIENT_HELLO_EINVAL, "");
}

static void test_too_big(void **state)
{
	static const uint8_t huge[] = { 22, 3, 1, 0x40, 0x00, 1, 0xff, 0xff, 0xff };
	const size_t fit = CLIENT_HELLO_MAX - 9; /* record and message headers */
	uint8_t head[9] = { 22, 3, 1, 0x40, 0x00, 1 };
	struct spec s = good;
	size_t i, pad;

	(void)state;
	expect(huge, sizeof(huge), CLIENT_HELLO_ETOOBIG, "");
	/* The largest message that fits in one record within the limit. */
	head[6] = (uint8_t)(fit >> 16);
	head[7] = (uint8_t)(fit >> 8);
	head[8] = (uint8_t)fit;
	expect(head, sizeof(head), CLIENT_HELLO_MORE, "");
	head[8]++;
	expect(head, sizeof(head), CLIENT_HELLO_ETOOBIG, "");

	/* A padding extension that makes it fit exactly, then one byte over. */
	for (i = 0; i < 2; i++) {
		ext.n = 0;
		ext_sni(&ext, "big.example", 11);
		s.ext = &ext;
		hello(&s, &hs);
		pad = fit - hs.n + 4 - 4 + i; /* what is left after the padding header */
		put16(&ext, 21);
		put16(&ext, pad);
		fill(&ext, 0, pad);
		hello(&s, &hs);
		assert_int_equal(hs.n, fit + 4 + i);
		wrap(&hs, 0, 16384, &wire);
		assert_int_equal(wire.n, CLIENT_HELLO_MAX + i);
		expect(wire.b, wire.n, i ? CLIENT_HELLO_ETOOBIG : CLIENT_HELLO_DONE, "big.example");
		expect(wire.b, 9, i ? CLIENT_HELLO_ETOOBIG : CLIENT_HELLO_MORE, "");
		expect(wire.b, wire.n - 1, i ? CLIENT_HELLO_ETOOBIG : CLIENT_HELLO_MORE, "");
	}

	/* Small records: the hello fits, its records do not. */
	ext.n = 0;
	ext_sni(&ext, "small.example", 13);
	put16(&ext, 21);
	put16(&ext, 8000);
	fill(&ext, 0, 8000);
	s.ext = &ext;
	hello(&s, &hs);
	wrap(&hs, 0, 4, &wire); /* 9 bytes on the wire for each 4 */
	assert_true(wire.n > CLIENT_HELLO_MAX);
	expect(wire.b, wire.n, CLIENT_HELLO_ETOOBIG, "");
	expect(wire.b, CLIENT_HELLO_MAX, CLIENT_HELLO_ETOOBIG, "");
	expect(wire.b, CLIENT_HELLO_MAX - 1, CLIENT_HELLO_MORE, "");
	wrap(&hs, 0, 16384, &wire);
	expect(wire.b, wire.n, CLIENT_HELLO_DONE, "small.example");
}

static void test_hello_fields(void **state)
{
	struct spec s;

	(void)state;
	ext.n = 0;
	ext_sni(&ext, "a.example", 9);
#define TRY(field, value, want)                                \
	do {                                                   \
		s = good;                                      \
		s.ext = &ext;                                  \
		s.field = value;                               \
		hello(&s, &hs);                                \
		expect_hs(&hs, want, "a.example");             \
	} while (0)
	TRY(version, 0x0303, CLIENT_HELLO_DONE);
	TRY(version, 0x0301, CLIENT_HELLO_DONE);
	TRY(version, 0x0300, CLIENT_HELLO_EINVAL);
	TRY(version, 0x0305, CLIENT_HELLO_EINVAL);
	TRY(version, 0x0203, CLIENT_HELLO_EINVAL);
	TRY(version, 0x7f1c, CLIENT_HELLO_EINVAL);
	TRY(sid_len, 0, CLIENT_HELLO_DONE);
	TRY(sid_len, 33, CLIENT_HELLO_EINVAL);
	TRY(sid_len, 255, CLIENT_HELLO_EINVAL);
	TRY(ciphers_len, 2, CLIENT_HELLO_DONE);
	TRY(ciphers_len, 0, CLIENT_HELLO_EINVAL);
	TRY(ciphers_len, 3, CLIENT_HELLO_EINVAL);
	TRY(ciphers_len, 1, CLIENT_HELLO_EINVAL);
	TRY(comp_len, 0, CLIENT_HELLO_EINVAL);
	TRY(comp_len, 2, CLIENT_HELLO_DONE);
	/* The extensions block must end exactly where the message does. */
	TRY(ext_delta, 1, CLIENT_HELLO_EINVAL);
	TRY(ext_delta, -1, CLIENT_HELLO_EINVAL);
	TRY(ext_delta, -(long)ext.n, CLIENT_HELLO_EINVAL);
	/* No extensions at all: a very old client, no name. */
	s = good;
	s.no_extensions = true;
	hello(&s, &hs);
	expect_hs(&hs, CLIENT_HELLO_DONE, "");
	/* One stray byte where the block length would be. */
	put8(&hs, 0);
	hs.b[3]++;
	expect_hs(&hs, CLIENT_HELLO_EINVAL, "");
	/* An empty block. */
	ext.n = 0;
	expect_ext(&ext, CLIENT_HELLO_DONE, "");
#undef TRY
}

static void test_extensions(void **state)
{
	static const uint8_t body[4] = { 1, 2, 3, 4 };
	size_t i;

	(void)state;
	/* Other extensions around the name are skipped. */
	ext.n = 0;
	ext_raw(&ext, 0x0a0a, NULL, 0); /* GREASE */
	ext_raw(&ext, 10, body, 4);
	ext_sni(&ext, "mid.example", 11);
	ext_raw(&ext, 0xfe0d, body, 4);
	expect_ext(&ext, CLIENT_HELLO_DONE, "mid.example");
	/* Any extension twice, the name or another. */
	ext_raw(&ext, 10, body, 2);
	expect_ext(&ext, CLIENT_HELLO_EINVAL, "");
	ext.n = 0;
	ext_sni(&ext, "one.example", 11);
	ext_raw(&ext, 43, body, 2);
	ext_sni(&ext, "two.example", 11);
	expect_ext(&ext, CLIENT_HELLO_EINVAL, "");
	/* An extension longer than the block. */
	ext.n = 0;
	ext_raw(&ext, 10, body, 4);
	ext.b[3] = 5;
	expect_ext(&ext, CLIENT_HELLO_EINVAL, "");
	/* A block ending inside an extension header. */
	ext.n = 0;
	ext_raw(&ext, 10, body, 4);
	put8(&ext, 0);
	expect_ext(&ext, CLIENT_HELLO_EINVAL, "");
	ext.n--;
	put16(&ext, 11);
	put8(&ext, 0);
	expect_ext(&ext, CLIENT_HELLO_EINVAL, "");
	/* 128 extensions are read; 129 are refused. */
	ext.n = 0;
	for (i = 0; i < 127; i++)
		ext_raw(&ext, 100 + i, NULL, 0);
	ext_sni(&ext, "many.example", 12);
	expect_ext(&ext, CLIENT_HELLO_DONE, "many.example");
	ext_raw(&ext, 99, NULL, 0);
	expect_ext(&ext, CLIENT_HELLO_EINVAL, "");
}

static void test_server_name(void **state)
{
	static const char label63[] = "a23456789012345678901234567890123456789012345678901234567890123";
	char name[300];
	size_t i;

	(void)state;
	expect_name("Mixed.CASE-host_x.Example", 25, CLIENT_HELLO_DONE, "mixed.case-host_x.example");
	expect_name("x", 1, CLIENT_HELLO_DONE, "x");
	expect_name("", 0, CLIENT_HELLO_ESNI, "");
	expect_name("example.org.", 12, CLIENT_HELLO_ESNI, "");
	expect_name(".example.org", 12, CLIENT_HELLO_ESNI, "");
	expect_name("a..b", 4, CLIENT_HELLO_ESNI, "");
	expect_name(".", 1, CLIENT_HELLO_ESNI, "");
	expect_name("a b", 3, CLIENT_HELLO_ESNI, "");
	expect_name("a/b", 3, CLIENT_HELLO_ESNI, "");
	expect_name("a\0b", 3, CLIENT_HELLO_ESNI, "");
	expect_name("ex:443", 6, CLIENT_HELLO_ESNI, "");
	expect_name("caf\xc3\xa9.example", 13, CLIENT_HELLO_ESNI, "");
	expect_name("xn--caf-dma.example", 19, CLIENT_HELLO_DONE, "xn--caf-dma.example");
	/* Labels up to 63, names up to 253. */
	snprintf(name, sizeof(name), "%s.example", label63);
	expect_name(name, strlen(name), CLIENT_HELLO_DONE, name);
	snprintf(name, sizeof(name), "%sx.example", label63);
	expect_name(name, strlen(name), CLIENT_HELLO_ESNI, "");
	for (i = 0; i < 253; i++)
		name[i] = i % 2 ? '.' : 'a';
	name[252] = 'b';
	name[253] = '\0';
	expect_name(name, 253, CLIENT_HELLO_DONE, name);
	name[253] = 'c';
	expect_name(name, 254, CLIENT_HELLO_ESNI, "");
}

static void test_server_name_list(void **state)
{
	(void)state;
	/* Empty extension and empty list. */
	ext.n = 0;
	ext_raw(&ext, 0, NULL, 0);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	ext.n = 0;
	ext_raw(&ext, 0, "\0\0", 2);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	/* List length short of or beyond the extension. */
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x05\0\0\x01x", 6);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x03\0\0\x01x", 6);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	/* A byte in the extension after a well-formed list. */
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x04\0\0\x01xz", 7);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	/* The entry as given: ok. */
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x04\0\0\x01x", 6);
	expect_ext(&ext, CLIENT_HELLO_DONE, "x");
	/* An entry header cut short, a name longer or shorter than the entry. */
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x02\0\0", 4);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x04\0\0\x02x", 6);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x05\0\0\x01xy", 7);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	/* Another name type, and two entries. */
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x04\x01\0\x01x", 6);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x08\0\0\x01x\0\0\x01y", 10);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
	ext.n = 0;
	ext_raw(&ext, 0, "\0\x08\0\0\x01x\x01\0\x01y", 10);
	expect_ext(&ext, CLIENT_HELLO_ESNI, "");
}

static void test_arguments(void **state)
{
	char sni[16];

	(void)state;
	assert_int_equal(client_hello_sni(NULL, NULL, sni, sizeof(sni)), CLIENT_HELLO_EINVAL);
	assert_int_equal(client_hello_sni(hello_openssl_tls13, hello_openssl_tls13, NULL, 0),
			 CLIENT_HELLO_EINVAL);
	assert_int_equal(client_hello_sni(hello_openssl_tls13 + 1, hello_openssl_tls13, sni,
					  sizeof(sni)),
			 CLIENT_HELLO_EINVAL);
	/* The name must fit, NUL included. */
	assert_int_equal(parse(hello_openssl_tls13, sizeof(hello_openssl_tls13), sni, 15),
			 CLIENT_HELLO_ESNI);
	assert_string_equal(sni, "");
	assert_int_equal(parse(hello_openssl_tls13, sizeof(hello_openssl_tls13), sni, 16),
			 CLIENT_HELLO_DONE);
	assert_string_equal(sni, "api.example.com");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_captures),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_split_records),
		cmocka_unit_test(test_bytes_after),
		cmocka_unit_test(test_record_layer),
		cmocka_unit_test(test_handshake_header),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_hello_fields),
		cmocka_unit_test(test_extensions),
		cmocka_unit_test(test_server_name),
		cmocka_unit_test(test_server_name_list),
		cmocka_unit_test(test_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

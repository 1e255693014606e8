/* libFuzzer target: the chunked codec.
 *
 * Decode: the input (after one control byte) is decoded all at once and in
 * pieces of 1..16 bytes, each piece in its own heap buffer; the status, the
 * decoded bytes and the bytes consumed must agree, every data slice must
 * lie in its piece, MORE must mean every byte was consumed.
 * Encode: the same input is taken as a payload, cut into chunks whose
 * sizes come from the control byte, framed with
 * http1_chunked_encode_header() (plus extensions and a trailer when the
 * control byte says so), decoded back: the payload must come out whole.
 */
#include "../../shared/buf.h"
#include "../../shared/http1.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

struct outcome {
	int status;
	size_t consumed;
	char *data;
	size_t len;
};

static void decode_pieces(const char *s, size_t n, size_t step, const struct http1_limits *lim,
			  struct outcome *o)
{
	struct http1_chunked c;
	size_t off = 0, piece;
	const char *p, *end;
	struct str d;
	char *buf;
	int r = HTTP1_CHUNKED_MORE;

	o->data = malloc(n + 1);
	CHECK(o->data);
	o->len = 0;
	http1_chunked_init(&c, lim);
	do {
		piece = step && n - off > step ? step : n - off;
		buf = malloc(piece + 1);
		CHECK(buf);
		memcpy(buf, s + off, piece);
		p = buf;
		end = buf + piece;
		while ((r = http1_chunked_decode(&c, &p, end, &d)) == HTTP1_CHUNKED_DATA) {
			CHECK(d.len > 0 && d.p >= buf && d.p + d.len <= end && d.p + d.len == p);
			CHECK(o->len + d.len <= n);
			memcpy(o->data + o->len, d.p, d.len);
			o->len += d.len;
		}
		CHECK(p >= buf && p <= end);
		if (r == HTTP1_CHUNKED_MORE)
			CHECK(p == end);
		off += (size_t)(p - buf);
		free(buf);
	} while (r == HTTP1_CHUNKED_MORE && off < n);
	CHECK(r == HTTP1_CHUNKED_MORE || r == HTTP1_CHUNKED_DONE || (r < 0 && r >= HTTP1_ELAST));
	CHECK(r != HTTP1_EINTERNAL);
	o->status = r;
	o->consumed = off;
}

static unsigned ref_hexval(unsigned char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	return (unsigned)(ch | 0x20) - 'a' + 10;
}

/* An independent, lax, non-streaming reference decoder: sizes are hex
 * digits below 2^62 (computed in 128 bits), anything up to CRLF after them
 * is skipped, trailers are skipped line by line.  Returns the body length
 * on the wire when complete, 0 when incomplete, -1 when invalid. */
static long ref_decode(const char *s, size_t n, char *out, size_t *olen)
{
	const char *crlf;
	size_t i = 0;

	*olen = 0;
	for (;;) {
		unsigned __int128 size = 0;
		size_t digits = 0;

		while (i < n && http1_is((unsigned char)s[i], HTTP1_C_HEX)) {
			size = size * 16 + ref_hexval((unsigned char)s[i]);
			if (size >> 64)
				size = (unsigned __int128)1 << 64; /* saturate */
			i++;
			digits++;
		}
		if (i == n)
			return 0;
		if (!digits || size >= ((unsigned __int128)1 << 62))
			return -1;
		crlf = memmem(s + i, n - i, "\r\n", 2);
		if (!crlf)
			return 0;
		i = (size_t)(crlf - s) + 2;
		if (size == 0)
			break;
		if (n - i < (size_t)size + 2)
			return 0;
		memcpy(out + *olen, s + i, (size_t)size);
		*olen += (size_t)size;
		i += (size_t)size;
		if (s[i] != '\r' || s[i + 1] != '\n')
			return -1;
		i += 2;
	}
	for (;;) {
		crlf = memmem(s + i, n - i, "\r\n", 2);
		if (!crlf)
			return 0;
		if (crlf == s + i)
			return (long)(i + 2);
		i = (size_t)(crlf - s) + 2;
	}
}

static void check_decode(const char *s, size_t n, unsigned ctl)
{
	char *ref = malloc(n + 1);
	size_t ref_len;
	long ref_end;
	struct http1_limits lim = { 0 };
	struct outcome a, b;

	if (ctl & 0x10) {
		lim.max_chunk_line = 12;
		lim.max_trailer = 40;
		lim.max_trailers = 2;
		lim.max_field_line = 20;
	}
	decode_pieces(s, n, 0, &lim, &a);
	decode_pieces(s, n, (ctl & 15) + 1, &lim, &b);
	CHECK(a.status == b.status);
	CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
	/* Framing agrees with the reference: where it ends and what it holds.
	 * The reference is laxer, so it may finish where we refuse, never
	 * the other way round, and never elsewhere. */
	CHECK(ref);
	ref_end = ref_decode(s, n, ref, &ref_len);
	if (a.status == HTTP1_CHUNKED_DONE) {
		CHECK(ref_end > 0 && (size_t)ref_end == a.consumed);
		CHECK(ref_len == a.len && memcmp(ref, a.data, a.len) == 0);
	}
	if (ref_end > 0)
		CHECK(a.status == HTTP1_CHUNKED_DONE || a.status < 0);
	free(ref);
	if (a.status == HTTP1_CHUNKED_DONE) {
		CHECK(a.consumed == b.consumed);
		/* A finished body ends with the final CRLF. */
		CHECK(a.consumed >= 5 && memcmp(s + a.consumed - 2, "\r\n", 2) == 0);
	}
	free(a.data);
	free(b.data);
}

static void check_round_trip(const char *payload, size_t n, unsigned ctl)
{
	size_t cap = n * 3 + 4096, w = 0, off = 0, len, hl, i = 0;
	char *wire = malloc(cap), hdr[HTTP1_CHUNK_HEADER_MAX];
	struct outcome o;

	CHECK(wire);
	while (off < n) {
		len = 1 + ((ctl * 31 + i * 17 + (unsigned char)payload[off]) % 97);
		if (len > n - off)
			len = n - off;
		hl = http1_chunked_encode_header(len, hdr);
		CHECK(hl >= 3 && hl < HTTP1_CHUNK_HEADER_MAX && memcmp(hdr + hl - 2, "\r\n", 2) == 0);
		if (ctl & 0x20) {
			/* Re-frame with an extension between size and CRLF. */
			memcpy(wire + w, hdr, hl - 2);
			w += hl - 2;
			memcpy(wire + w, " ;ext=\"v\\\"x\"", 12);
			w += 12;
			memcpy(wire + w, "\r\n", 2);
			w += 2;
		} else {
			memcpy(wire + w, hdr, hl);
			w += hl;
		}
		memcpy(wire + w, payload + off, len);
		w += len;
		memcpy(wire + w, "\r\n", 2);
		w += 2;
		off += len;
		i++;
	}
	if (ctl & 0x40) {
		memcpy(wire + w, "0\r\nX-Sum: 1\r\n\r\n", 15);
		w += 15;
	} else {
		memcpy(wire + w, HTTP1_CHUNKED_LAST, 5);
		w += 5;
	}
	CHECK(w <= cap);
	decode_pieces(wire, w, (ctl & 7) + 1, NULL, &o);
	CHECK(o.status == HTTP1_CHUNKED_DONE);
	CHECK(o.consumed == w);
	CHECK(o.len == n && memcmp(o.data, payload, n) == 0);
	free(o.data);
	free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	size_t n;
	unsigned ctl;

	if (size < 1)
		return 0;
	ctl = data[0];
	n = size - 1;
	s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);
	check_decode(s, n, ctl);
	check_round_trip(s, n, ctl);
	free(s);
	return 0;
}

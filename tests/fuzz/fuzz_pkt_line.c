/* libFuzzer target: pkt_parse(), the pkt_reader and capability_find().
 *
 * The first input byte picks the reader's chunk size (1..256 bytes a
 * read), the rest is a client's stream.  Invariants checked:
 * - pkt_parse never reads past end: every packet lies inside the input,
 *   a data packet's length is its prefix's, at most PKT_DATA_MAX;
 * - the reader, fed in chunks, gives the same packets and the same
 *   verdict (-ENODATA at a clean end, -EPROTO otherwise) as one parse of
 *   the whole input;
 * - writing the packets back with pkt_write*() gives the bytes they came
 *   from (hex digits compared without case);
 * - capability_find() on each packet's data only hands out slices of it.
 */
#include "../../shared/buf.h"
#include "../../shared/log.h"
#include "../../sidecar/gitgate/gitgate.h"
#include "../../sidecar/gitgate/pkt_line.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

struct chunked {
	const char *p;
	size_t len, at, chunk;
};

static ssize_t chunked_read(void *ctx, void *p, size_t len)
{
	struct chunked *c = ctx;
	size_t n = c->len - c->at;

	if (n > c->chunk)
		n = c->chunk;
	if (n > len)
		n = len;
	memcpy(p, c->p + c->at, n);
	c->at += n;
	return (ssize_t)n;
}

struct sink {
	char *p;
	size_t len, cap;
};

static int sink_write(void *ctx, const void *p, size_t len)
{
	struct sink *s = ctx;

	CHECK(s->len + len <= s->cap);
	memcpy(s->p + s->len, p, len);
	s->len += len;
	return 0;
}

static const char *const capability_names[] = { "agent", "side-band-64k", "side-band",
						 "ofs-delta", "symref", "" };

static struct pkt_reader reader;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct chunked c;
	struct gitgate_io in = { .ctx = &c, .read = chunked_read };
	struct sink out = { 0 };
	struct gitgate_io io_out = { .ctx = &out, .write = sink_write };
	const char *s, *p, *end;
	char err[160];
	int whole = 0;

	if (size < 1)
		return 0;
	c = (struct chunked){ .p = (const char *)data + 1, .len = size - 1, .chunk = data[0] + 1u };
	s = c.p;
	p = s;
	end = s + c.len;
	out.cap = c.len + 16;
	out.p = malloc(out.cap);
	CHECK(out.p);
	pkt_reader_init(&reader, &in);
	for (;;) {
		struct pkt one, two;
		const char *before = p;
		int got;

		whole = pkt_parse(&p, end, &one, err, sizeof(err));
		if (whole == -EAGAIN)
			whole = p == end ? -ENODATA : -EPROTO; /* as the reader says at the end */
		got = pkt_read(&reader, &two);
		CHECK(got == whole);
		if (whole != 0) {
			CHECK(p == before);
			if (whole == -EPROTO)
				CHECK(reader.err[0] != '\0');
			break;
		}
		CHECK(p > before && p <= end);
		CHECK(one.kind == two.kind);
		CHECK(one.data.len == two.data.len);
		CHECK(memcmp(one.data.p, two.data.p, one.data.len) == 0);
		if (one.kind == PKT_DATA) {
			CHECK(one.data.p == before + 4);
			CHECK((size_t)(p - before) == one.data.len + 4);
			CHECK(one.data.len <= PKT_DATA_MAX);
			CHECK(pkt_write(&io_out, one.data.p, one.data.len) == 0);
			for (size_t i = 0; i < sizeof(capability_names) / sizeof(capability_names[0]); i++) {
				struct str value;
				if (capability_find(one.data, capability_names[i], &value))
					CHECK(value.len == 0 ||
					      (value.p >= one.data.p &&
					       value.p + value.len <= one.data.p + one.data.len));
			}
		} else {
			CHECK(p - before == 4);
			CHECK((one.kind == PKT_FLUSH ? pkt_write_flush(&io_out) :
			       one.kind == PKT_DELIM ? pkt_write_delim(&io_out) :
						       pkt_write_response_end(&io_out)) == 0);
		}
	}
	/* Written back: the same bytes (hex in either case on the way in). */
	CHECK(out.len == (size_t)(p - s));
	for (size_t i = 0; i < out.len; i++)
		CHECK(tolower((unsigned char)out.p[i]) == tolower((unsigned char)s[i]));
	free(out.p);
	return 0;
}

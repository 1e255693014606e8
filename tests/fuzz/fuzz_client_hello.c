/* libFuzzer target: the ClientHello SNI reader.
 *
 * Raw: the input is the client's first bytes.  The verdict is one of the
 * CLIENT_HELLO_* values; DONE gives a lower-case host name of 0..253 bytes
 * with no empty label; every prefix answers MORE or the same verdict (and
 * the same name), and bytes appended after a final verdict change nothing.
 * Framed: the input after one control byte is taken as handshake bytes and
 * wrapped in TLS records twice, once in as few records as possible and once
 * in records of 1..16 bytes chosen by the control byte: both framings must
 * give the same verdict and name unless the small records pushed the
 * input past CLIENT_HELLO_MAX.  Each parse reads its own exact-size heap
 * copy so ASan sees any read past end.
 */
#include "../../sidecar/egress/client_hello.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

struct verdict {
	int status;
	char sni[256];
};

static void parse(const uint8_t *data, size_t n, struct verdict *v)
{
	uint8_t *copy = malloc(n ? n : 1);
	size_t i, len, label = 0;

	CHECK(copy);
	if (n)
		memcpy(copy, data, n);
	memset(v->sni, 'x', sizeof(v->sni));
	v->status = client_hello_sni(copy, copy + n, v->sni, sizeof(v->sni));
	free(copy);
	CHECK(v->status == CLIENT_HELLO_MORE || v->status == CLIENT_HELLO_DONE ||
	      v->status == CLIENT_HELLO_EINVAL || v->status == CLIENT_HELLO_ETOOBIG ||
	      v->status == CLIENT_HELLO_ESNI);
	len = strnlen(v->sni, sizeof(v->sni));
	CHECK(len < sizeof(v->sni));
	if (v->status != CLIENT_HELLO_DONE) {
		CHECK(len == 0);
		return;
	}
	CHECK(len <= 253);
	/* Only a complete record header and message can be DONE. */
	CHECK(n >= 5 + 4 + 2 + 32 + 1 + 2 + 2 + 1 + 1);
	for (i = 0; i < len; i++) {
		char c = v->sni[i];

		if (c == '.') {
			CHECK(label > 0);
			label = 0;
			continue;
		}
		CHECK((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_');
		label++;
		CHECK(label <= 63);
	}
	CHECK(len == 0 || label > 0);
}

static void same(const struct verdict *a, const struct verdict *b)
{
	CHECK(a->status == b->status);
	if (a->status == CLIENT_HELLO_DONE)
		CHECK(strcmp(a->sni, b->sni) == 0);
}

static void check_raw(const uint8_t *data, size_t n, unsigned ctl)
{
	struct verdict full, part;
	size_t cuts[4], i;
	uint8_t *more;

	parse(data, n, &full);
	cuts[0] = n ? n - 1 : 0;
	cuts[1] = n / 2;
	cuts[2] = n ? (ctl * 131u) % n : 0;
	cuts[3] = n > 9 ? 9 : n;
	for (i = 0; i < 4; i++) {
		parse(data, cuts[i], &part);
		if (full.status == CLIENT_HELLO_MORE)
			CHECK(part.status == CLIENT_HELLO_MORE);
		else if (part.status != CLIENT_HELLO_MORE)
			same(&part, &full);
	}
	if (full.status != CLIENT_HELLO_MORE && n + 3 <= CLIENT_HELLO_MAX) {
		more = malloc(n + 3);
		CHECK(more);
		memcpy(more, data, n);
		memcpy(more + n, "\x17\x03\x03", 3);
		parse(more, n + 3, &part);
		same(&part, &full);
		free(more);
	}
}

/* Wrap handshake bytes in records of at most `step` bytes. */
static uint8_t *frame(const uint8_t *hs, size_t n, size_t step, unsigned minor, size_t *out_len)
{
	size_t records = n ? (n + step - 1) / step : 0, w = 0, off, len;
	uint8_t *out = malloc(n + 5 * records + 1);

	CHECK(out);
	for (off = 0; off < n; off += len) {
		len = n - off < step ? n - off : step;
		out[w++] = 22;
		out[w++] = 3;
		out[w++] = (uint8_t)minor;
		out[w++] = (uint8_t)(len >> 8);
		out[w++] = (uint8_t)len;
		memcpy(out + w, hs + off, len);
		w += len;
	}
	*out_len = w;
	return out;
}

static void check_framed(const uint8_t *hs, size_t n, unsigned ctl)
{
	struct verdict big, small;
	size_t big_len, small_len;
	uint8_t *a = frame(hs, n, 16384, 1 + (ctl >> 6), &big_len);
	uint8_t *b = frame(hs, n, (ctl & 15) + 1, 1 + ((ctl >> 4) & 3), &small_len);

	parse(a, big_len, &big);
	parse(b, small_len, &small);
	/* Smaller records carry fewer handshake bytes within the limit: they
	 * may run out (ETOOBIG) where the big ones did not, nothing else. */
	if (small_len <= CLIENT_HELLO_MAX || small.status != CLIENT_HELLO_ETOOBIG)
		same(&big, &small);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	check_raw(data, size, data[0]);
	check_framed(data + 1, size - 1, data[0]);
	return 0;
}

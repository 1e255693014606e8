/* libFuzzer target: the websocket frame reader (sidecar/egress/ws_frame.c).
 *
 * Input: byte 0 picks a batch size (1..32, or 0: all at once), byte 1 the
 * message cap (0..255 bytes, or 64 KiB for 0), the rest is what a client
 * sent.  Invariants checked:
 * - the frames read, their opcodes, FIN bits and payloads, and the final
 *   verdict (an error or "need more") are the same at any batch size;
 * - no data message's payload exceeds the cap, no control frame 125 bytes;
 * - a frame that ended is masked-and-valid: its opcode is a known one, a
 *   control frame has FIN;
 * - nothing is read past the input (ASan: each batch is its own copy).
 */
#include "../../shared/buf.h"
#include "../../sidecar/egress/ws_frame.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define EVENTS_MAX 4096

struct run {
	int result;
	size_t n;
	uint8_t opcode[EVENTS_MAX];
	bool fin[EVENTS_MAX];
	uint64_t hash[EVENTS_MAX]; /* of the frame's payload */
};

static uint64_t fnv(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	while (len--)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static void read_in_batches(const uint8_t *data, size_t len, size_t step, uint64_t cap,
			    struct run *out)
{
	struct ws_reader r;
	struct buf payload;
	uint64_t message = 0;
	size_t at = 0;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	ws_reader_init(&r, cap);
	buf_init(&payload, 1 << 20);
	while (at < len && ret >= 0) {
		size_t take = step && len - at > step ? step : len - at;
		char *copy = malloc(take ? take : 1);
		const char *p = copy, *end;

		memcpy(copy, data + at, take);
		end = copy + take;
		while ((ret = ws_reader_next(&r, &p, end, &payload)) == WS_FRAME) {
			CHECK(r.opcode <= 2 || (r.opcode >= 8 && r.opcode <= 10));
			if (ws_opcode_is_control(r.opcode)) {
				CHECK(r.fin);
				CHECK(payload.len <= 125);
			} else {
				message = (r.opcode == WS_OP_CONTINUATION ? message : 0) + payload.len;
				CHECK(message <= cap);
			}
			if (out->n < EVENTS_MAX) {
				out->opcode[out->n] = r.opcode;
				out->fin[out->n] = r.fin;
				out->hash[out->n] = fnv(payload.p, payload.len);
			}
			out->n++;
			buf_clear(&payload);
		}
		CHECK(ret < 0 || p == end);
		at += take;
		free(copy);
	}
	out->result = ret;
	buf_release(&payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run whole, split;
	size_t step, i, n;
	uint64_t cap;

	if (size < 2)
		return 0;
	step = data[0] % 33;
	cap = data[1] ? data[1] : 65536;
	read_in_batches(data + 2, size - 2, 0, cap, &whole);
	read_in_batches(data + 2, size - 2, step ? step : 1, cap, &split);
	CHECK(whole.result == split.result);
	CHECK(whole.n == split.n);
	n = whole.n < EVENTS_MAX ? whole.n : EVENTS_MAX;
	for (i = 0; i < n; i++) {
		CHECK(whole.opcode[i] == split.opcode[i]);
		CHECK(whole.fin[i] == split.fin[i]);
		CHECK(whole.hash[i] == split.hash[i]);
	}
	return 0;
}

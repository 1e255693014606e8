/* A strict, capped reader of RFC 6455 frames in the client-to-server
 * direction: every frame masked, no reserved bits (egress strips
 * Sec-WebSocket-Extensions, so no extension can be in use), known opcodes,
 * control frames unfragmented and at most 125 bytes, continuation frames
 * only inside a fragmented message, a new data frame only outside one,
 * lengths in their shortest encoding, and a message's payload at most
 * `max_message` bytes.
 *
 *     struct ws_reader r;
 *     ws_reader_init(&r, 1 << 20);
 *     while ((ret = ws_reader_next(&r, &p, end, &payload)) == WS_FRAME) {
 *             // r.opcode, r.fin: the frame just ended; payload holds its
 *             // unmasked bytes appended to what was there
 *     }
 *     // 0: all of [p, end) consumed, feed more; < 0: a WS_E* error
 */
#ifndef SIDECAR_WS_FRAME_H
#define SIDECAR_WS_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../shared/buf.h"

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa,
};

#define WS_FRAME 1 /* ws_reader_next(): a frame ended */

enum ws_error {
	WS_E_UNMASKED = -1000, /* a client frame without a mask */
	WS_E_RESERVED,         /* RSV1-3 set */
	WS_E_OPCODE,           /* a reserved opcode */
	WS_E_CONTROL,          /* a fragmented or over-long control frame */
	WS_E_CONTINUATION,     /* a continuation outside a message */
	WS_E_INTERLEAVED,      /* a new data message inside a fragmented one */
	WS_E_LENGTH,           /* a non-minimal or 2^63+ length */
	WS_E_TOO_BIG,          /* the message is over max_message */
	WS_E_CLOSED,           /* a frame after the close frame */
};

struct ws_reader {
	uint64_t max_message;
	/* the frame being read */
	unsigned char head[14];
	size_t head_len, head_need;
	bool fin;
	uint8_t opcode;
	uint64_t remaining;   /* payload bytes still to come */
	unsigned char mask[4];
	unsigned mask_at;
	bool in_payload;
	/* the message around it */
	bool in_message;      /* a data message whose last frame is still to come */
	uint8_t message_opcode;
	uint64_t message_len;
	bool closed;          /* a close frame was read */
};

void ws_reader_init(struct ws_reader *r, uint64_t max_message);
/* Consume bytes from *p, appending unmasked payload to payload (control
 * frames' too).  Returns WS_FRAME when a frame ended (r->opcode, r->fin
 * describe it; for a continuation, r->message_opcode is the message's),
 * 0 when [p, end) is used up, a WS_E* error, or -EMSGSIZE when payload's
 * cap is reached. */
int ws_reader_next(struct ws_reader *r, const char **p, const char *end, struct buf *payload);
bool ws_opcode_is_control(uint8_t opcode);
const char *ws_strerror(int err);

#endif

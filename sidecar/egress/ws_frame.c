/* RFC 6455 frames from the client (ws_frame.h).  The reader is a byte-wise
 * state machine over any split of the input, so a frame header cut between
 * two TLS records reads as one; nothing of a frame is trusted before its
 * header is complete and checked. */
#include "ws_frame.h"

#include <errno.h>
#include <string.h>

void ws_reader_init(struct ws_reader *r, uint64_t max_message)
{
	memset(r, 0, sizeof(*r));
	r->max_message = max_message;
	r->head_need = 2;
}

bool ws_opcode_is_control(uint8_t opcode)
{
	return (opcode & 0x8) != 0;
}

const char *ws_strerror(int err)
{
	switch (err) {
	case WS_E_UNMASKED: return "a client frame was not masked";
	case WS_E_RESERVED: return "a frame set reserved bits (no extension is negotiated)";
	case WS_E_OPCODE: return "a frame used a reserved opcode";
	case WS_E_CONTROL: return "a control frame was fragmented or longer than 125 bytes";
	case WS_E_CONTINUATION: return "a continuation frame came outside a message";
	case WS_E_INTERLEAVED: return "a data frame started a message inside another";
	case WS_E_LENGTH: return "a frame length was not in its shortest form or too large";
	case WS_E_TOO_BIG: return "a message was larger than egress checks";
	case WS_E_CLOSED: return "a frame came after the close frame";
	case -EMSGSIZE: return "a message was larger than egress checks";
	default: return "invalid websocket frame";
	}
}

/* The first two bytes are in: check them and say how long the header is. */
static int head_start(struct ws_reader *r)
{
	unsigned char b0 = r->head[0], b1 = r->head[1];
	uint8_t opcode = b0 & 0x0f;
	unsigned len7 = b1 & 0x7f;

	if (r->closed)
		return WS_E_CLOSED;
	if (b0 & 0x70)
		return WS_E_RESERVED;
	if (!(b1 & 0x80))
		return WS_E_UNMASKED;
	switch (opcode) {
	case WS_OP_CONTINUATION:
	case WS_OP_TEXT:
	case WS_OP_BINARY:
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		break;
	default:
		return WS_E_OPCODE;
	}
	if (ws_opcode_is_control(opcode) && (!(b0 & 0x80) || len7 > 125))
		return WS_E_CONTROL;
	if (opcode == WS_OP_CONTINUATION && !r->in_message)
		return WS_E_CONTINUATION;
	if ((opcode == WS_OP_TEXT || opcode == WS_OP_BINARY) && r->in_message)
		return WS_E_INTERLEAVED;
	r->head_need = 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
	return 0;
}

/* The whole header is in: decode the length and the mask. */
static int head_finish(struct ws_reader *r)
{
	unsigned len7 = r->head[1] & 0x7f;
	uint64_t len = len7;
	size_t at = 2, i;

	if (len7 == 126) {
		len = (uint64_t)r->head[2] << 8 | r->head[3];
		at = 4;
		if (len < 126)
			return WS_E_LENGTH;
	} else if (len7 == 127) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = len << 8 | r->head[2 + i];
		at = 10;
		if (len >> 63 || len <= 0xffff)
			return WS_E_LENGTH;
	}
	r->fin = (r->head[0] & 0x80) != 0;
	r->opcode = r->head[0] & 0x0f;
	memcpy(r->mask, r->head + at, 4);
	r->mask_at = 0;
	r->remaining = len;
	if (!ws_opcode_is_control(r->opcode)) {
		if (r->opcode != WS_OP_CONTINUATION) {
			r->message_opcode = r->opcode;
			r->message_len = 0;
		}
		if (len > r->max_message - r->message_len)
			return WS_E_TOO_BIG;
		r->message_len += len;
	}
	r->in_payload = true;
	return 0;
}

/* The frame's payload is all read. */
static void frame_end(struct ws_reader *r)
{
	r->in_payload = false;
	r->head_len = 0;
	r->head_need = 2;
	if (r->opcode == WS_OP_CLOSE)
		r->closed = true;
	else if (!ws_opcode_is_control(r->opcode))
		r->in_message = !r->fin;
}

int ws_reader_next(struct ws_reader *r, const char **p, const char *end, struct buf *payload)
{
	int ret;

	while (*p < end || (r->in_payload && r->remaining == 0)) {
		if (!r->in_payload) {
			r->head[r->head_len++] = (unsigned char)*(*p)++;
			if (r->head_len == 2 && (ret = head_start(r)) < 0)
				return ret;
			if (r->head_len == r->head_need && (ret = head_finish(r)) < 0)
				return ret;
			continue;
		}
		if (r->remaining > 0) {
			size_t take = (size_t)(end - *p), i;

			if (take > r->remaining)
				take = (size_t)r->remaining;
			if ((ret = buf_grow(payload, take)) < 0)
				return ret;
			for (i = 0; i < take; i++)
				payload->p[payload->len + i] =
					(char)((unsigned char)(*p)[i] ^ r->mask[r->mask_at++ & 3]);
			payload->len += take;
			payload->p[payload->len] = '\0';
			*p += take;
			r->remaining -= take;
		}
		if (r->remaining == 0) {
			frame_end(r);
			return WS_FRAME;
		}
	}
	return 0;
}

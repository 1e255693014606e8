/* Websocket frames from the agent (sidecar/egress/ws_frame.c): every rule
 * of RFC 6455's client side that the reader enforces, any split of the
 * input read the same, and the DLP filter (egress_ws.c) forwarding a clean
 * message byte for byte and nothing of one that holds a secret. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/egress/egress_dlp.h"
#include "../../sidecar/egress/ws_frame.h"

/* A client frame: FIN/RSV/opcode byte, the payload masked with a fixed key,
 * the length in the form `form` picks (0: shortest, 126, 127). */
static size_t frame(unsigned char *out, unsigned b0, const char *payload, size_t len, int form)
{
	static const unsigned char key[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t at = 0, i;

	out[at++] = (unsigned char)b0;
	if (form == 0 && len < 126) {
		out[at++] = (unsigned char)(0x80 | len);
	} else if (form == 126 || (form == 0 && len <= 0xffff)) {
		out[at++] = 0x80 | 126;
		out[at++] = (unsigned char)(len >> 8);
		out[at++] = (unsigned char)len;
	} else {
		out[at++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			out[at++] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(out + at, key, 4);
	at += 4;
	for (i = 0; i < len; i++)
		out[at + i] = (unsigned char)payload[i] ^ key[i & 3];
	return at + len;
}

/* Read all of [p, p+len) in batches of `step`; returns the last result
 * (the number of frames through *frames). */
static int read_all(struct ws_reader *r, const unsigned char *p, size_t len, size_t step,
		    struct buf *payload, int *frames)
{
	const char *at = (const char *)p, *end = at + len;
	int ret = 0;

	*frames = 0;
	while (at < end) {
		const char *stop = (size_t)(end - at) > step ? at + step : end;

		while ((ret = ws_reader_next(r, &at, stop, payload)) == WS_FRAME)
			(*frames)++;
		if (ret < 0)
			return ret;
	}
	return ret;
}

static void test_one_text_frame(void **state)
{
	unsigned char wire[64];
	struct ws_reader r;
	struct buf payload;
	size_t n = frame(wire, 0x81, "hello", 5, 0);
	int frames;

	(void)state;
	ws_reader_init(&r, 1024);
	buf_init(&payload, 1024);
	assert_int_equal(read_all(&r, wire, n, n, &payload, &frames), 0);
	assert_int_equal(frames, 1);
	assert_int_equal(r.opcode, WS_OP_TEXT);
	assert_true(r.fin);
	assert_string_equal(payload.p, "hello");
	buf_release(&payload);
}

static void test_any_split_reads_the_same(void **state)
{
	static char big[70000];
	static unsigned char wire[80000];
	struct ws_reader r;
	struct buf payload;
	size_t n = 0, step;
	int frames;

	(void)state;
	memset(big, 'q', sizeof(big));
	/* 16-bit and 64-bit lengths, an empty frame, fragments with a ping. */
	n += frame(wire + n, 0x02, big, 300, 0);
	n += frame(wire + n, 0x89, "pi", 2, 0);
	n += frame(wire + n, 0x00, "", 0, 0);
	n += frame(wire + n, 0x80, big, sizeof(big), 0);
	n += frame(wire + n, 0x81, "", 0, 0);
	for (step = 1; step < 20; step += 6) {
		ws_reader_init(&r, 100000);
		buf_init(&payload, 100000);
		assert_int_equal(read_all(&r, wire, n, step, &payload, &frames), 0);
		assert_int_equal(frames, 5);
		assert_int_equal(payload.len, 300 + 2 + sizeof(big));
		assert_false(r.in_message);
		buf_release(&payload);
	}
}

/* Read wire at once with a message cap and a payload buffer cap: the
 * result. */
static int read_capped(const unsigned char *wire, size_t n, uint64_t max, size_t payload_max)
{
	struct ws_reader r;
	struct buf payload;
	int frames, ret;

	ws_reader_init(&r, max);
	buf_init(&payload, payload_max);
	ret = read_all(&r, wire, n, n, &payload, &frames);
	buf_release(&payload);
	return ret;
}

static int one_error(const unsigned char *wire, size_t n, uint64_t max)
{
	return read_capped(wire, n, max, 1 << 20);
}

static void test_protocol_errors(void **state)
{
	unsigned char wire[300];
	size_t n;

	(void)state;
	n = frame(wire, 0x81, "x", 1, 0);
	wire[1] &= 0x7f; /* unmasked */
	assert_int_equal(one_error(wire, n, 100), WS_E_UNMASKED);
	n = frame(wire, 0xc1, "x", 1, 0); /* RSV1: permessage-deflate was stripped */
	assert_int_equal(one_error(wire, n, 100), WS_E_RESERVED);
	n = frame(wire, 0x83, "x", 1, 0);
	assert_int_equal(one_error(wire, n, 100), WS_E_OPCODE);
	n = frame(wire, 0x09, "x", 1, 0); /* a fragmented ping */
	assert_int_equal(one_error(wire, n, 100), WS_E_CONTROL);
	n = frame(wire, 0x89, (const char *)wire, 126, 0);
	assert_int_equal(one_error(wire, n, 1000), WS_E_CONTROL);
	n = frame(wire, 0x80, "x", 1, 0);
	assert_int_equal(one_error(wire, n, 100), WS_E_CONTINUATION);
	n = frame(wire, 0x01, "x", 1, 0);
	n += frame(wire + n, 0x81, "y", 1, 0);
	assert_int_equal(one_error(wire, n, 100), WS_E_INTERLEAVED);
	n = frame(wire, 0x81, "xy", 2, 126); /* 2 in the 16-bit form */
	assert_int_equal(one_error(wire, n, 100), WS_E_LENGTH);
	n = frame(wire, 0x81, "xy", 2, 127);
	assert_int_equal(one_error(wire, n, 100), WS_E_LENGTH);
	n = frame(wire, 0x81, "", 0, 127);
	wire[2] = 0x80; /* 2^63 and more */
	assert_int_equal(one_error(wire, n, 100), WS_E_LENGTH);
	n = frame(wire, 0x01, "abcdef", 6, 0);
	n += frame(wire + n, 0x80, "ghijkl", 6, 0);
	assert_int_equal(one_error(wire, n, 10), WS_E_TOO_BIG);
	n = frame(wire, 0x88, "", 0, 0);
	n += frame(wire + n, 0x81, "late", 4, 0);
	assert_int_equal(one_error(wire, n, 100), WS_E_CLOSED);
	assert_non_null(ws_strerror(WS_E_CLOSED));
}

static void test_payload_cap(void **state)
{
	unsigned char wire[64];
	size_t n = frame(wire, 0x81, "0123456789", 10, 0);

	(void)state;
	assert_int_equal(read_capped(wire, n, 100, 8), -EMSGSIZE);
	assert_int_equal(read_capped(wire, n, 100, 64), 0);
}

/* ---- the DLP filter ---- */

static const char secret[] = "wsSecret0123456789abcdefABCDEF";

static void filter_setup(struct egress *e)
{
	char err[256];

	memset(e, 0, sizeof(*e));
	e->dlp = dlp_engine_new(NULL);
	assert_non_null(e->dlp);
	assert_int_equal(dlp_engine_add_secret(e->dlp, "WS_SECRET", secret, strlen(secret), false), 0);
	assert_int_equal(dlp_engine_build(e->dlp, err, sizeof(err)), 0);
}

static void test_filter_forwards_clean_and_stops_secrets(void **state)
{
	unsigned char wire[512], got[1024];
	struct egress e;
	struct egress_ws_scan *w;
	struct stream to;
	char text[128];
	size_t n, i;
	ssize_t k;
	int fds[2];

	(void)state;
	filter_setup(&e);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	stream_init(&to, fds[0], 1000);
	w = egress_ws_scan_new(&e, ROUTE_OUTBOUND_REDACT, "h", "/p");
	assert_non_null(w);
	/* A clean fragmented message with a ping inside, fed a byte at a
	 * time: the ping goes at once, the message whole at its end, both
	 * exactly as sent. */
	n = frame(wire, 0x01, "hello ", 6, 0);
	n += frame(wire + n, 0x89, "p", 1, 0);
	n += frame(wire + n, 0x80, "world", 5, 0);
	for (i = 0; i < n; i++)
		assert_int_equal(egress_ws_scan_filter(w, &to, (const char *)wire + i, 1), 0);
	k = read(fds[1], got, sizeof(got));
	assert_int_equal(k, (ssize_t)n);
	assert_memory_equal(got, wire + 12, 7);        /* the ping first */
	assert_memory_equal(got + 7, wire, 12);        /* then the message */
	assert_memory_equal(got + 19, wire + 19, n - 19);
	assert_null(egress_ws_scan_reason(w));
	/* The secret split over two fragments: nothing of it goes. */
	snprintf(text, sizeof(text), "key=%s", secret);
	n = frame(wire, 0x01, text, 12, 0);
	n += frame(wire + n, 0x80, text + 12, strlen(text) - 12, 0);
	assert_int_equal(egress_ws_scan_filter(w, &to, (const char *)wire, n), -EACCES);
	assert_non_null(strstr(egress_ws_scan_reason(w), "websocket"));
	assert_null(strstr(egress_ws_scan_reason(w), secret + 4));
	assert_int_equal(egress_ws_scan_findings(w)->v[0].detector, DLP_DETECTOR_KNOWN);
	close(fds[0]);
	k = read(fds[1], got, sizeof(got));
	assert_int_equal(k, 0);
	close(fds[1]);
	egress_ws_scan_free(w);
	dlp_engine_free(e.dlp);
}

static void test_filter_ends_on_a_protocol_error(void **state)
{
	unsigned char wire[64];
	struct egress e;
	struct egress_ws_scan *w;
	struct stream to;
	size_t n;

	(void)state;
	filter_setup(&e);
	stream_init(&to, -1, 1000);
	w = egress_ws_scan_new(&e, ROUTE_OUTBOUND_BLOCK, "h", "/p");
	assert_non_null(w);
	n = frame(wire, 0xc1, "x", 1, 0);
	assert_int_equal(egress_ws_scan_filter(w, &to, (const char *)wire, n), -EPROTO);
	assert_non_null(strstr(egress_ws_scan_reason(w), "reserved bits"));
	egress_ws_scan_free(w);
	dlp_engine_free(e.dlp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_text_frame),
		cmocka_unit_test(test_any_split_reads_the_same),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_payload_cap),
		cmocka_unit_test(test_filter_forwards_clean_and_stops_secrets),
		cmocka_unit_test(test_filter_ends_on_a_protocol_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

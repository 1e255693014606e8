/* pkt-line framing: the parser's edge cases (flush, delimiter, response
 * end, the malformed 0003, empty data, non-hex, over the limit, cut
 * short), the reader over a stream delivered a byte at a time, the
 * writers (side-band splitting), and capability lists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../sidecar/gitgate/gitgate.h"
#include "../../sidecar/gitgate/pkt_line.h"

static int parse(const char *s, size_t len, struct pkt *out, size_t *used)
{
	const char *p = s;
	char err[160];
	int ret = pkt_parse(&p, s + len, out, err, sizeof(err));

	*used = (size_t)(p - s);
	return ret;
}

static void test_special_packets(void **state)
{
	struct pkt pkt;
	size_t used;

	(void)state;
	assert_int_equal(parse("0000rest", 8, &pkt, &used), 0);
	assert_int_equal(pkt.kind, PKT_FLUSH);
	assert_int_equal(used, 4);
	assert_int_equal(parse("0001", 4, &pkt, &used), 0);
	assert_int_equal(pkt.kind, PKT_DELIM);
	assert_int_equal(parse("0002", 4, &pkt, &used), 0);
	assert_int_equal(pkt.kind, PKT_RESPONSE_END);
	assert_int_equal(pkt.data.len, 0);
}

static void test_malformed_lengths(void **state)
{
	struct pkt pkt;
	size_t used;
	char err[160];
	const char *p = "0003x";

	(void)state;
	assert_int_equal(pkt_parse(&p, p + 5, &pkt, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "0003"));
	assert_int_equal(parse("00g5x", 5, &pkt, &used), -EPROTO);
	assert_int_equal(used, 0);
	assert_int_equal(parse(" 005x", 5, &pkt, &used), -EPROTO);
	assert_int_equal(parse("-004", 4, &pkt, &used), -EPROTO);
	/* 65521 is one over the limit; 65520 is fine once all there. */
	assert_int_equal(parse("fff1", 4, &pkt, &used), -EPROTO);
	assert_int_equal(parse("ffff", 4, &pkt, &used), -EPROTO);
	assert_int_equal(parse("fff0", 4, &pkt, &used), -EAGAIN);
}

static void test_data_packets(void **state)
{
	struct pkt pkt;
	size_t used;

	(void)state;
	/* 0004: a data packet with nothing in it, not a flush. */
	assert_int_equal(parse("0004", 4, &pkt, &used), 0);
	assert_int_equal(pkt.kind, PKT_DATA);
	assert_int_equal(pkt.data.len, 0);
	assert_int_equal(used, 4);
	assert_int_equal(parse("0009done\nNEXT", 13, &pkt, &used), 0);
	assert_int_equal(pkt.kind, PKT_DATA);
	assert_int_equal(used, 9);
	assert_true(str_equal_cstr(pkt.data, "done\n"));
	assert_true(str_equal_cstr(pkt_chomp(pkt.data), "done"));
	/* Upper-case hex is accepted too. */
	assert_int_equal(parse("000Aabcdef", 10, &pkt, &used), 0);
	assert_int_equal(pkt.data.len, 6);
	/* A NUL inside the data is data (v0 capabilities follow one). */
	assert_int_equal(parse("0007a\0b", 7, &pkt, &used), 0);
	assert_int_equal(pkt.data.len, 3);
}

static void test_cut_short(void **state)
{
	struct pkt pkt;
	size_t used;

	(void)state;
	assert_int_equal(parse("", 0, &pkt, &used), -EAGAIN);
	assert_int_equal(parse("00", 2, &pkt, &used), -EAGAIN);
	assert_int_equal(parse("000", 3, &pkt, &used), -EAGAIN);
	assert_int_equal(parse("0009don", 7, &pkt, &used), -EAGAIN);
	assert_int_equal(used, 0);
}

static void test_chomp_only_one_newline(void **state)
{
	(void)state;
	assert_true(str_equal_cstr(pkt_chomp(STR_LITERAL("a\n\n")), "a\n"));
	assert_true(str_equal_cstr(pkt_chomp(STR_LITERAL("")), ""));
	assert_true(str_equal_cstr(pkt_chomp(STR_LITERAL("a")), "a"));
}

/* ---- the reader and writers over a memory stream ---- */

struct memory_stream {
	const char *in;
	size_t in_len, in_at, chunk; /* chunk: bytes per read, 0 for all */
	int read_error;
	char out[200000];
	size_t out_len;
};

static ssize_t memory_read(void *ctx, void *p, size_t len)
{
	struct memory_stream *m = ctx;
	size_t n = m->in_len - m->in_at;

	if (m->read_error)
		return m->read_error;
	if (m->chunk && n > m->chunk)
		n = m->chunk;
	if (n > len)
		n = len;
	memcpy(p, m->in + m->in_at, n);
	m->in_at += n;
	return (ssize_t)n;
}

static int memory_write(void *ctx, const void *p, size_t len)
{
	struct memory_stream *m = ctx;

	if (m->out_len + len > sizeof(m->out))
		return -ENOSPC;
	memcpy(m->out + m->out_len, p, len);
	m->out_len += len;
	return 0;
}

static void test_reader_byte_by_byte(void **state)
{
	static const char input[] = "000ahello\n00010000000eagent=x y\n0002";
	static struct memory_stream m;
	static struct pkt_reader r;
	struct gitgate_io io = { .ctx = &m, .read = memory_read };
	struct pkt pkt;

	(void)state;
	m = (struct memory_stream){ .in = input, .in_len = sizeof(input) - 1, .chunk = 1 };
	pkt_reader_init(&r, &io);
	assert_int_equal(pkt_read(&r, &pkt), 0);
	assert_true(str_equal_cstr(pkt.data, "hello\n"));
	assert_int_equal(pkt_read(&r, &pkt), 0);
	assert_int_equal(pkt.kind, PKT_DELIM);
	assert_int_equal(pkt_read(&r, &pkt), 0);
	assert_int_equal(pkt.kind, PKT_FLUSH);
	assert_int_equal(pkt_read(&r, &pkt), 0);
	assert_true(str_equal_cstr(pkt.data, "agent=x y\n"));
	assert_int_equal(pkt_read(&r, &pkt), 0);
	assert_int_equal(pkt.kind, PKT_RESPONSE_END);
	assert_int_equal(pkt_read(&r, &pkt), -ENODATA);
}

static void test_reader_input_ends_inside_a_packet(void **state)
{
	static struct memory_stream m;
	static struct pkt_reader r;
	struct gitgate_io io = { .ctx = &m, .read = memory_read };
	struct pkt pkt;

	(void)state;
	m = (struct memory_stream){ .in = "0009do", .in_len = 6 };
	pkt_reader_init(&r, &io);
	assert_int_equal(pkt_read(&r, &pkt), -EPROTO);
	assert_non_null(strstr(r.err, "ended inside a pkt-line"));
}

static void test_reader_passes_io_errors_and_bad_lengths(void **state)
{
	static struct memory_stream m;
	static struct pkt_reader r;
	struct gitgate_io io = { .ctx = &m, .read = memory_read };
	struct pkt pkt;

	(void)state;
	m = (struct memory_stream){ .read_error = -ECONNRESET };
	pkt_reader_init(&r, &io);
	assert_int_equal(pkt_read(&r, &pkt), -ECONNRESET);
	m = (struct memory_stream){ .in = "xyzw", .in_len = 4 };
	pkt_reader_init(&r, &io);
	assert_int_equal(pkt_read(&r, &pkt), -EPROTO);
	assert_non_null(strstr(r.err, "non-hex"));
}

static void test_reader_largest_packet_and_raw_rest(void **state)
{
	static struct memory_stream m;
	static struct pkt_reader r;
	static char input[PKT_LINE_MAX + 8];
	struct gitgate_io io = { .ctx = &m, .read = memory_read };
	struct pkt pkt;
	char raw[16];

	(void)state;
	memcpy(input, "fff0", 4);
	memset(input + 4, 'x', PKT_LINE_MAX - 4);
	memcpy(input + PKT_LINE_MAX, "PACKdata", 8);
	m = (struct memory_stream){ .in = input, .in_len = sizeof(input), .chunk = 4096 };
	pkt_reader_init(&r, &io);
	assert_int_equal(pkt_read(&r, &pkt), 0);
	assert_int_equal(pkt.data.len, PKT_DATA_MAX);
	assert_int_equal(pkt_reader_read_raw(&r, raw, sizeof(raw)), 8);
	assert_memory_equal(raw, "PACKdata", 8);
}

static void test_writers(void **state)
{
	static struct memory_stream m;
	struct gitgate_io io = { .ctx = &m, .write = memory_write };
	static char big[PKT_DATA_MAX + 1];

	(void)state;
	m = (struct memory_stream){ 0 };
	assert_int_equal(pkt_write(&io, "abc\n", 4), 0);
	assert_int_equal(pkt_writef(&io, "ACK %s %s\n", "1234", "common"), 0);
	assert_int_equal(pkt_write_flush(&io), 0);
	assert_int_equal(pkt_write_delim(&io), 0);
	assert_int_equal(pkt_write_response_end(&io), 0);
	assert_int_equal(m.out_len, strlen("0008abc\n0014ACK 1234 common\n000000010002"));
	assert_memory_equal(m.out, "0008abc\n0014ACK 1234 common\n000000010002", m.out_len);
	assert_int_equal(pkt_write(&io, big, sizeof(big)), -EMSGSIZE);
	/* A formatted line longer than the small stack buffer. */
	m.out_len = 0;
	memset(big, 'y', 2000);
	big[2000] = '\0';
	assert_int_equal(pkt_writef(&io, "%s", big), 0);
	assert_int_equal(m.out_len, 2004);
	assert_memory_equal(m.out, "07d4", 4);
}

static void test_sideband_splits_at_the_limit(void **state)
{
	static struct memory_stream m;
	struct gitgate_io io = { .ctx = &m, .write = memory_write };
	static char data[2500];

	(void)state;
	m = (struct memory_stream){ 0 };
	memset(data, 'p', sizeof(data));
	assert_int_equal(pkt_write_sideband(&io, 1, data, sizeof(data), PKT_SIDEBAND_SMALL_MAX), 0);
	/* 995 + 995 + 510 bytes: three packets of at most 1000 bytes. */
	assert_int_equal(m.out_len, sizeof(data) + 3 * 5);
	assert_memory_equal(m.out, "03e8\1", 5);
	assert_memory_equal(m.out + 1000, "03e8\1", 5);
	assert_memory_equal(m.out + 2000, "0203\1", 5);
	m.out_len = 0;
	assert_int_equal(pkt_write_sideband(&io, 2, "progress\r", 9, PKT_SIDEBAND_MAX), 0);
	assert_memory_equal(m.out, "000e\2progress\r", 14);
	assert_int_equal(pkt_write_sideband(&io, 4, "x", 1, PKT_SIDEBAND_MAX), -EINVAL);
	assert_int_equal(pkt_write_sideband(&io, 1, "x", 1, PKT_SIDEBAND_MAX + 1), -EINVAL);
}

static void test_capability_find(void **state)
{
	struct str list = STR_LITERAL("multi_ack_detailed side-band-64k agent=git/2.39.5 ofs-delta "
				      "symref=HEAD:refs/heads/main no-done");
	struct str value;

	(void)state;
	assert_true(capability_find(list, "side-band-64k", NULL));
	assert_true(capability_find(list, "no-done", NULL));
	/* Whole words only: a prefix of one is not it. */
	assert_false(capability_find(list, "side-band", NULL));
	assert_false(capability_find(list, "multi_ack", NULL));
	assert_false(capability_find(list, "done", NULL));
	assert_true(capability_find(list, "agent", &value));
	assert_true(str_equal_cstr(value, "git/2.39.5"));
	assert_true(capability_find(list, "symref", &value));
	assert_true(str_equal_cstr(value, "HEAD:refs/heads/main"));
	assert_true(capability_find(list, "ofs-delta", &value));
	assert_int_equal(value.len, 0);
	assert_false(capability_find(STR_LITERAL(""), "ofs-delta", NULL));
	assert_true(capability_find(STR_LITERAL("a  b"), "b", NULL));
	assert_false(capability_find(STR_LITERAL("agentx=1"), "agent", &value));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_special_packets),
		cmocka_unit_test(test_malformed_lengths),
		cmocka_unit_test(test_data_packets),
		cmocka_unit_test(test_cut_short),
		cmocka_unit_test(test_chomp_only_one_newline),
		cmocka_unit_test(test_reader_byte_by_byte),
		cmocka_unit_test(test_reader_input_ends_inside_a_packet),
		cmocka_unit_test(test_reader_passes_io_errors_and_bad_lengths),
		cmocka_unit_test(test_reader_largest_packet_and_raw_rest),
		cmocka_unit_test(test_writers),
		cmocka_unit_test(test_sideband_splits_at_the_limit),
		cmocka_unit_test(test_capability_find),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

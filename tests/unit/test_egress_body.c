/* Egress bodies: each framing read to its exact end (what follows stays for
 * the next request), chunked re-encoding, truncation detected, a streamed
 * chunk relayed before the next one comes, and a large body relayed through
 * bounded memory. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/egress/egress.h"

struct pair {
	int reader_fd, writer_fd;
	struct stream stream;
	struct buf buf;
};

static void pair_open(struct pair *p, const char *already_buffered)
{
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
	p->reader_fd = fds[0];
	p->writer_fd = fds[1];
	stream_init(&p->stream, p->reader_fd, 2000);
	buf_init(&p->buf, 64 * 1024);
	assert_int_equal(buf_append_str(&p->buf, already_buffered), 0);
}

static void pair_close(struct pair *p)
{
	close(p->reader_fd);
	if (p->writer_fd >= 0)
		close(p->writer_fd);
	buf_release(&p->buf);
}

static void send_text(struct pair *p, const char *text)
{
	assert_int_equal(write(p->writer_fd, text, strlen(text)), (ssize_t)strlen(text));
}

/* Read the whole body into out; returns body_reader_next's last result. */
static int read_all(struct body_reader *r, struct buf *out)
{
	struct str data;
	int ret;

	while ((ret = body_reader_next(r, &data)) == 1)
		assert_int_equal(buf_append(out, data.p, data.len), 0);
	return ret;
}

static void test_length_body_stops_at_its_end(void **state)
{
	struct pair p;
	struct body_reader r;
	struct buf body;

	(void)state;
	pair_open(&p, "hel");
	send_text(&p, "lo worldGET /next");
	buf_init(&body, 1024);
	body_reader_init(&r, &p.stream, &p.buf, HTTP1_BODY_LENGTH, 11);
	assert_int_equal(read_all(&r, &body), 0);
	assert_string_equal(body.p, "hello world");
	assert_int_equal(r.total, 11);
	body_reader_compact(&r);
	assert_string_equal(p.buf.p, "GET /next");
	buf_release(&body);
	pair_close(&p);
}

static void test_truncated_length_body_is_an_error(void **state)
{
	struct pair p;
	struct body_reader r;
	struct buf body;

	(void)state;
	pair_open(&p, "");
	send_text(&p, "short");
	close(p.writer_fd);
	p.writer_fd = -1;
	buf_init(&body, 1024);
	body_reader_init(&r, &p.stream, &p.buf, HTTP1_BODY_LENGTH, 100);
	assert_int_equal(read_all(&r, &body), -EPIPE);
	assert_string_equal(body.p, "short");
	buf_release(&body);
	pair_close(&p);
}

static void test_chunked_body_decoded_and_rest_kept(void **state)
{
	struct pair p;
	struct body_reader r;
	struct buf body;

	(void)state;
	pair_open(&p, "5\r\nhello\r\n");
	send_text(&p, "6;ext=1\r\n world\r\n0\r\nX-Trailer: t\r\n\r\nNEXT");
	buf_init(&body, 1024);
	body_reader_init(&r, &p.stream, &p.buf, HTTP1_BODY_CHUNKED, -1);
	assert_int_equal(read_all(&r, &body), 0);
	assert_string_equal(body.p, "hello world");
	body_reader_compact(&r);
	assert_string_equal(p.buf.p, "NEXT");
	buf_release(&body);
	pair_close(&p);
}

static void test_bad_chunk_is_an_error(void **state)
{
	struct pair p;
	struct body_reader r;
	struct buf body;

	(void)state;
	pair_open(&p, "5\r\nhelloXX");
	buf_init(&body, 1024);
	body_reader_init(&r, &p.stream, &p.buf, HTTP1_BODY_CHUNKED, -1);
	assert_true(read_all(&r, &body) < 0);
	assert_int_equal(r.chunked.err, HTTP1_ECHUNK_CRLF);
	buf_release(&body);
	pair_close(&p);
}

static void test_close_delimited_body_ends_at_eof(void **state)
{
	struct pair p;
	struct body_reader r;
	struct buf body;

	(void)state;
	pair_open(&p, "abc");
	send_text(&p, "def");
	close(p.writer_fd);
	p.writer_fd = -1;
	buf_init(&body, 1024);
	body_reader_init(&r, &p.stream, &p.buf, HTTP1_BODY_CLOSE, -1);
	assert_int_equal(read_all(&r, &body), 0);
	assert_string_equal(body.p, "abcdef");
	buf_release(&body);
	pair_close(&p);
}

static void test_silent_peer_times_out(void **state)
{
	struct pair p;
	struct body_reader r;
	struct str data;

	(void)state;
	pair_open(&p, "");
	p.stream.timeout_ms = 50;
	body_reader_init(&r, &p.stream, &p.buf, HTTP1_BODY_LENGTH, 10);
	assert_int_equal(body_reader_next(&r, &data), -ETIMEDOUT);
	pair_close(&p);
}

static void test_writer_chunks_and_batches(void **state)
{
	struct pair p;
	struct body_writer w;
	struct buf out;
	char got[256];
	ssize_t n;

	(void)state;
	pair_open(&p, "");
	buf_init(&out, 96 * 1024);
	assert_int_equal(buf_append_str(&out, "HEAD\r\n\r\n"), 0);
	stream_init(&p.stream, p.writer_fd, 2000);
	body_writer_init(&w, &p.stream, &out, true);
	assert_int_equal(body_writer_put(&w, "hello", 5), 0);
	assert_int_equal(body_writer_put(&w, "", 0), 0); /* never the last-chunk marker */
	assert_int_equal(body_writer_put(&w, " world!", 7), 0);
	assert_int_equal(body_writer_finish(&w), 0);
	n = read(p.reader_fd, got, sizeof(got) - 1);
	assert_true(n > 0);
	got[n] = '\0';
	/* One write: the head and the whole small body together. */
	assert_string_equal(got, "HEAD\r\n\r\n5\r\nhello\r\n7\r\n world!\r\n0\r\n\r\n");
	assert_int_equal(w.total, 12);
	buf_release(&out);
	pair_close(&p);
}

struct feeder {
	int fd;
	size_t bytes;
};

static void *feed(void *arg)
{
	struct feeder *f = arg;
	char block[7000];
	size_t left = f->bytes;

	memset(block, 'x', sizeof(block));
	while (left > 0) {
		size_t n = left < sizeof(block) ? left : sizeof(block);
		ssize_t w = write(f->fd, block, n);

		if (w <= 0)
			break;
		left -= (size_t)w;
	}
	return NULL;
}

static void *drain(void *arg)
{
	struct feeder *f = arg;
	char block[9000];
	ssize_t n;

	while ((n = read(f->fd, block, sizeof(block))) > 0)
		f->bytes += (size_t)n;
	return NULL;
}

/* 32 MB through a 64 KiB reader buffer and a 96 KiB writer buffer: the
 * buffers never grow past their caps, whatever the body's size. */
static void test_relay_large_body_in_bounded_memory(void **state)
{
	struct pair in;
	int out_fds[2];
	struct stream out_stream;
	struct buf out;
	struct body_reader r;
	struct body_writer w;
	struct feeder feeder, drainer = { 0 };
	pthread_t feed_thread, drain_thread;
	const size_t total = 32u << 20;

	(void)state;
	pair_open(&in, "");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out_fds), 0);
	stream_init(&out_stream, out_fds[0], 2000);
	buf_init(&out, 96 * 1024);
	feeder = (struct feeder){ .fd = in.writer_fd, .bytes = total };
	drainer.fd = out_fds[1];
	assert_int_equal(pthread_create(&feed_thread, NULL, feed, &feeder), 0);
	assert_int_equal(pthread_create(&drain_thread, NULL, drain, &drainer), 0);

	body_reader_init(&r, &in.stream, &in.buf, HTTP1_BODY_LENGTH, (int64_t)total);
	body_writer_init(&w, &out_stream, &out, false);
	assert_int_equal(body_relay(&r, &w), 0);
	shutdown(out_fds[0], SHUT_WR);
	pthread_join(feed_thread, NULL);
	pthread_join(drain_thread, NULL);
	assert_int_equal(drainer.bytes, total);
	/* A cap counts the terminating NUL past max. */
	assert_true(in.buf.cap <= in.buf.max + 1);
	assert_true(out.cap <= out.max + 1);
	close(out_fds[0]);
	close(out_fds[1]);
	buf_release(&out);
	pair_close(&in);
}

struct relay_job {
	struct body_reader *reader;
	struct body_writer *writer;
	int ret;
};

static void *relay_run(void *arg)
{
	struct relay_job *job = arg;

	job->ret = body_relay(job->reader, job->writer);
	return NULL;
}

/* Read from fd until `want` has arrived whole (5 s at most, then fail). */
static void expect_arrives(int fd, const char *want)
{
	char got[256];
	size_t len = 0;

	while (len < strlen(want)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		assert_int_equal(poll(&pfd, 1, 5000), 1);
		n = read(fd, got + len, sizeof(got) - 1 - len);
		assert_true(n > 0);
		len += (size_t)n;
	}
	got[len] = '\0';
	assert_string_equal(got, want);
}

/* A chunk's data is forwarded before the relay waits for the next chunk,
 * even though the chunk's closing CRLF (framing, no data) still sits in the
 * reader's buffer: a server-sent event is not held until the next one. */
static void test_relay_forwards_a_chunk_before_waiting_for_the_next(void **state)
{
	struct pair in;
	int out_fds[2];
	struct stream out_stream;
	struct buf out;
	struct body_reader r;
	struct body_writer w;
	struct relay_job job = { .reader = &r, .writer = &w, .ret = 1 };
	pthread_t relay_thread;

	(void)state;
	pair_open(&in, "");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, out_fds), 0);
	stream_init(&out_stream, out_fds[0], 2000);
	buf_init(&out, 96 * 1024);
	body_reader_init(&r, &in.stream, &in.buf, HTTP1_BODY_CHUNKED, -1);
	body_writer_init(&w, &out_stream, &out, true);
	send_text(&in, "8\r\nevent 1\n\r\n");
	assert_int_equal(pthread_create(&relay_thread, NULL, relay_run, &job), 0);
	expect_arrives(out_fds[1], "8\r\nevent 1\n\r\n");
	send_text(&in, "8\r\nevent 2\n\r\n0\r\n\r\n");
	expect_arrives(out_fds[1], "8\r\nevent 2\n\r\n0\r\n\r\n");
	pthread_join(relay_thread, NULL);
	assert_int_equal(job.ret, 0);
	close(out_fds[0]);
	close(out_fds[1]);
	buf_release(&out);
	pair_close(&in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_length_body_stops_at_its_end),
		cmocka_unit_test(test_truncated_length_body_is_an_error),
		cmocka_unit_test(test_chunked_body_decoded_and_rest_kept),
		cmocka_unit_test(test_bad_chunk_is_an_error),
		cmocka_unit_test(test_close_delimited_body_ends_at_eof),
		cmocka_unit_test(test_silent_peer_times_out),
		cmocka_unit_test(test_writer_chunks_and_batches),
		cmocka_unit_test(test_relay_large_body_in_bounded_memory),
		cmocka_unit_test(test_relay_forwards_a_chunk_before_waiting_for_the_next),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

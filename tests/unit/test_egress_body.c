/* Egress bodies: each framing read to its exact end (what follows stays for
 * the next request), chunked re-encoding, truncation detected, a large
 * body relayed through bounded memory, and the two-thread relay of large
 * bodies: whole and in order, cut by the upstream, left by the agent. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
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
	assert_true(in.buf.cap <= 64 * 1024);
	assert_true(out.cap <= 96 * 1024);
	close(out_fds[0]);
	close(out_fds[1]);
	buf_release(&out);
	pair_close(&in);
}

/* A large body sent by a second thread (body_pipeline.c).  Byte i of a
 * body is pattern_byte(i), so a lost, doubled or reordered slot is seen. */
static unsigned char pattern_byte(size_t i)
{
	return (unsigned char)(i * 7 + i / 4093);
}

struct patterned {
	int fd;
	size_t bytes;        /* feeder: bytes to send; checker: bytes seen */
	size_t hold_after;   /* feeder: stop sending here and wait for release */
	int release_fd;      /* feeder: read from it before closing */
	size_t close_after;  /* checker: close after this many bytes (0: never) */
	bool in_order;       /* checker: every byte was pattern_byte(i) */
};

static void *feed_pattern(void *arg)
{
	struct patterned *f = arg;
	unsigned char block[5000];
	size_t sent = 0, end = f->hold_after ? f->hold_after : f->bytes;
	char byte;

	while (sent < end) {
		size_t n = end - sent < sizeof(block) ? end - sent : sizeof(block), i;
		ssize_t w;

		for (i = 0; i < n; i++)
			block[i] = pattern_byte(sent + i);
		/* The relay shuts this connection down when the agent leaves. */
		w = send(f->fd, block, n, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		sent += (size_t)w;
	}
	if (f->hold_after)
		(void)read(f->release_fd, &byte, 1);
	else
		shutdown(f->fd, SHUT_WR); /* the upstream's end of the body */
	return NULL;
}

static void *check_pattern(void *arg)
{
	struct patterned *c = arg;
	unsigned char block[9000];
	ssize_t n, i;

	c->in_order = true;
	if (c->close_after == 1) {
		close(c->fd); /* the agent is gone before the body starts */
		return NULL;
	}
	while ((n = read(c->fd, block, sizeof(block))) > 0) {
		for (i = 0; i < n; i++)
			if (block[i] != pattern_byte(c->bytes + (size_t)i))
				c->in_order = false;
		c->bytes += (size_t)n;
		if (c->close_after && c->bytes >= c->close_after) {
			close(c->fd);
			break;
		}
	}
	return NULL;
}

struct pipeline_run {
	struct pair in;
	int out_fds[2], release_fds[2];
	struct stream out_stream;
	struct buf out;
	struct body_reader r;
	struct body_writer w;
	struct patterned feeder, checker;
	pthread_t feed_thread, check_thread;
	bool had_sender;
};

/* Relay a Content-Length body of `length` bytes of which the upstream sends
 * `sent` (then closes, or holds the connection open when `hold`); the agent
 * side reads `close_after` bytes and leaves (0: reads all). */
static int pipeline_run(struct pipeline_run *t, size_t length, size_t upstream_sends, bool hold,
			size_t close_after)
{
	int ret, sent;

	memset(t, 0, sizeof(*t));
	pair_open(&t->in, "");
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, t->out_fds), 0);
	assert_int_equal(pipe(t->release_fds), 0);
	stream_init(&t->out_stream, t->out_fds[0], 2000);
	buf_init(&t->out, 96 * 1024);
	/* A feeder the relay stopped reading gives up rather than hang the test. */
	assert_int_equal(setsockopt(t->in.writer_fd, SOL_SOCKET, SO_SNDTIMEO,
				    &(struct timeval){ .tv_sec = 5 }, sizeof(struct timeval)), 0);
	t->feeder = (struct patterned){ .fd = t->in.writer_fd, .bytes = upstream_sends,
					.hold_after = hold ? upstream_sends : 0,
					.release_fd = t->release_fds[0] };
	t->checker = (struct patterned){ .fd = t->out_fds[1], .close_after = close_after };
	assert_int_equal(pthread_create(&t->feed_thread, NULL, feed_pattern, &t->feeder), 0);
	assert_int_equal(pthread_create(&t->check_thread, NULL, check_pattern, &t->checker), 0);
	/* As egress waits on an upstream: it stops when the agent leaves. */
	t->in.stream.hangup_fd = t->out_fds[0];
	body_reader_init(&t->r, &t->in.stream, &t->in.buf, HTTP1_BODY_LENGTH, (int64_t)length);
	body_writer_init(&t->w, &t->out_stream, &t->out, false);
	body_writer_send_behind(&t->w, &t->r);
	t->had_sender = t->w.pipeline != NULL;
	ret = body_relay(&t->r, &t->w);
	sent = body_writer_send_end(&t->w);
	if (ret == 0)
		ret = sent;
	assert_null(t->w.pipeline);
	/* egress closes the upstream after a failed relay: so does the test,
	 * which also ends a feeder still sending. */
	shutdown(t->in.reader_fd, SHUT_RDWR);
	shutdown(t->out_fds[0], SHUT_WR);
	assert_int_equal(write(t->release_fds[1], "x", 1), 1);
	pthread_join(t->feed_thread, NULL);
	pthread_join(t->check_thread, NULL);
	return ret;
}

static void pipeline_done(struct pipeline_run *t)
{
	close(t->out_fds[0]);
	if (!t->checker.close_after)
		close(t->out_fds[1]);
	close(t->release_fds[0]);
	close(t->release_fds[1]);
	buf_release(&t->out);
	pair_close(&t->in);
}

static void test_large_body_two_threads_arrives_whole_in_order(void **state)
{
	struct pipeline_run t;
	const size_t total = (24u << 20) + 12345;

	(void)state;
	assert_int_equal(pipeline_run(&t, total, total, false, 0), 0);
	assert_true(t.had_sender);
	assert_int_equal(t.checker.bytes, total);
	assert_true(t.checker.in_order);
	assert_int_equal(t.r.total, total);
	assert_true(t.in.buf.cap <= 64 * 1024);
	pipeline_done(&t);
}

static void test_large_body_cut_by_upstream_is_an_error(void **state)
{
	struct pipeline_run t;

	(void)state;
	/* The feeder closes after 3 MiB of a promised 8 MiB. */
	assert_int_equal(pipeline_run(&t, 8u << 20, 3u << 20, false, 0), -EPIPE);
	assert_int_equal(t.checker.bytes, 3u << 20);
	assert_true(t.checker.in_order);
	pipeline_done(&t);
}

/* A body under 1 MiB is sent on the caller's thread, as before. */
static void test_small_body_has_no_sender(void **state)
{
	struct pipeline_run t;

	(void)state;
	assert_int_equal(pipeline_run(&t, 1000000, 1000000, false, 0), 0);
	assert_false(t.had_sender);
	assert_int_equal(t.checker.bytes, 1000000);
	assert_true(t.checker.in_order);
	pipeline_done(&t);
}

static void test_large_body_agent_leaving_stops_the_reader(void **state)
{
	struct pipeline_run t;

	(void)state;
	/* The upstream sends 4 MiB of 16 and then keeps the connection open
	 * without a byte; the agent leaves after 1 MiB: the sender's failure
	 * stops the relay. */
	assert_true(pipeline_run(&t, 16u << 20, 4u << 20, true, 1u << 20) < 0);
	assert_true(t.had_sender);
	assert_false(t.r.stalled);
	assert_true(t.checker.in_order);
	pipeline_done(&t);

	/* The agent is gone before the first write; the upstream sends
	 * 100 KiB and goes silent, so the reader ends up waiting in a read.
	 * It must stop when the agent leaves, not when the read times out
	 * (which would mark the body stalled). */
	assert_true(pipeline_run(&t, 16u << 20, 100u << 10, true, 1) < 0);
	assert_false(t.r.stalled);
	pipeline_done(&t);
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
		cmocka_unit_test(test_large_body_two_threads_arrives_whole_in_order),
		cmocka_unit_test(test_large_body_cut_by_upstream_is_an_error),
		cmocka_unit_test(test_small_body_has_no_sender),
		cmocka_unit_test(test_large_body_agent_leaving_stops_the_reader),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

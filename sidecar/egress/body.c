/* Message bodies streamed between the two sides of a request.  Nothing here
 * holds a whole body: a reader hands out slices of one capped buffer and a
 * writer batches at most one buffer's worth, so a 1 GB upload costs the
 * same memory as a 1 KB one. */
#include "egress.h"

#include <errno.h>
#include <string.h>

/* How much a reader takes at once: up to four TLS records, when they are
 * already there (stream_read_batch), so a bulk transfer is forwarded in
 * writes of 64 KiB, which the kernel delivers as one segment. */
#define BODY_READ_SIZE 65536
/* A writer sends once it holds this much. */
#define BODY_WRITE_BATCH 16384

void body_reader_init(struct body_reader *r, struct stream *stream, struct buf *buf,
		      enum http1_body kind, int64_t content_length)
{
	memset(r, 0, sizeof(*r));
	r->stream = stream;
	r->buf = buf;
	r->kind = kind;
	r->remaining = content_length > 0 ? (uint64_t)content_length : 0;
	if (kind == HTTP1_BODY_CHUNKED)
		http1_chunked_init(&r->chunked, NULL);
	if (kind == HTTP1_BODY_NONE || (kind == HTTP1_BODY_LENGTH && r->remaining == 0))
		r->done = true;
}

void body_reader_compact(struct body_reader *r)
{
	struct buf *b = r->buf;

	if (r->pos == 0)
		return;
	if (r->pos < b->len)
		memmove(b->p, b->p + r->pos, b->len - r->pos);
	b->len -= r->pos;
	b->p[b->len] = '\0';
	r->pos = 0;
}

/* Read more bytes from the stream into buf: > 0, 0 at its end, or < 0. */
static ssize_t body_reader_fill(struct body_reader *r)
{
	struct buf *b = r->buf;
	size_t room;
	ssize_t n;
	int ret;

	body_reader_compact(r);
	ret = buf_grow(b, BODY_READ_SIZE);
	if (ret < 0 && b->cap - b->len <= 1)
		return ret;
	room = b->cap - b->len - 1;
	if (room > BODY_READ_SIZE)
		room = BODY_READ_SIZE;
	n = stream_read_batch(r->stream, b->p + b->len, room);
	if (n > 0) {
		b->len += (size_t)n;
		b->p[b->len] = '\0';
	}
	return n;
}

int body_reader_next(struct body_reader *r, struct str *data)
{
	for (;;) {
		struct buf *b = r->buf;
		size_t avail = b->len - r->pos;
		ssize_t n;

		if (r->done)
			return 0;
		if (r->kind == HTTP1_BODY_LENGTH && r->remaining == 0) {
			r->done = true;
			return 0;
		}
		if (avail > 0) {
			if (r->kind == HTTP1_BODY_CHUNKED) {
				const char *cursor = b->p + r->pos;
				int ret = http1_chunked_decode(&r->chunked, &cursor, b->p + b->len, data);

				r->pos = (size_t)(cursor - b->p);
				if (ret == HTTP1_CHUNKED_DATA) {
					r->total += data->len;
					return 1;
				}
				if (ret == HTTP1_CHUNKED_DONE) {
					r->done = true;
					return 0;
				}
				if (ret < 0)
					return ret;
				/* HTTP1_CHUNKED_MORE: all consumed, read on */
			} else {
				size_t take = avail;

				if (r->kind == HTTP1_BODY_LENGTH && take > r->remaining)
					take = (size_t)r->remaining;
				data->p = b->p + r->pos;
				data->len = take;
				r->pos += take;
				if (r->kind == HTTP1_BODY_LENGTH)
					r->remaining -= take;
				r->total += take;
				return 1;
			}
		}
		if (r->before_wait && !stream_has_buffered(r->stream)) {
			int ret = r->before_wait(r->before_wait_ctx);

			if (ret < 0)
				return ret;
		}
		n = body_reader_fill(r);
		if (n == 0) {
			if (r->kind == HTTP1_BODY_CLOSE) {
				r->done = true;
				return 0;
			}
			return -EPIPE;
		}
		if (n < 0) {
			r->stalled = n == -ETIMEDOUT;
			return (int)n;
		}
	}
}

void body_writer_init(struct body_writer *w, struct stream *stream, struct buf *out, bool chunked)
{
	w->stream = stream;
	w->out = out;
	w->chunked = chunked;
	w->total = 0;
}

int body_writer_flush(struct body_writer *w)
{
	int ret;

	if (w->out->len == 0)
		return 0;
	ret = stream_write(w->stream, w->out->p, w->out->len);
	buf_clear(w->out);
	return ret;
}

int body_writer_put(struct body_writer *w, const void *data, size_t len)
{
	char header[HTTP1_CHUNK_HEADER_MAX];
	size_t header_len = 0;
	int ret;

	if (len == 0)
		return 0;
	w->total += len;
	if (w->chunked)
		header_len = http1_chunked_encode_header(len, header);
	if (w->out->len + header_len + len + 2 > BODY_WRITE_BATCH + HTTP1_CHUNK_HEADER_MAX + 2) {
		ret = body_writer_flush(w);
		if (ret < 0)
			return ret;
	}
	if (header_len + len + 2 > BODY_WRITE_BATCH + HTTP1_CHUNK_HEADER_MAX + 2) {
		/* Larger than a batch: straight through, no copy; a chunk's
		 * header, data and CRLF leave as one segment. */
		if (header_len && (ret = stream_write_more(w->stream, header, header_len)) < 0)
			return ret;
		if (!w->chunked)
			return stream_write(w->stream, data, len);
		if ((ret = stream_write_more(w->stream, data, len)) < 0)
			return ret;
		return stream_write(w->stream, "\r\n", 2);
	}
	if ((ret = buf_append(w->out, header, header_len)) < 0 ||
	    (ret = buf_append(w->out, data, len)) < 0 ||
	    (w->chunked && (ret = buf_append(w->out, "\r\n", 2)) < 0))
		return ret;
	if (w->out->len >= BODY_WRITE_BATCH)
		return body_writer_flush(w);
	return 0;
}

int body_writer_finish(struct body_writer *w)
{
	int ret;

	if (w->chunked && (ret = buf_append(w->out, HTTP1_CHUNKED_LAST,
					    sizeof(HTTP1_CHUNKED_LAST) - 1)) < 0)
		return ret;
	return body_writer_flush(w);
}

static int body_relay_before_wait(void *writer)
{
	return body_writer_flush(writer);
}

int body_relay(struct body_reader *r, struct body_writer *w)
{
	/* Whatever is batched goes out before we wait: a streamed response
	 * (server-sent events, a model's tokens) must reach the agent as it
	 * arrives. */
	r->before_wait = body_relay_before_wait;
	r->before_wait_ctx = w;
	for (;;) {
		struct str data;
		int ret;

		ret = body_reader_next(r, &data);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return body_writer_finish(w);
		ret = body_writer_put(w, data.p, data.len);
		if (ret < 0)
			return ret;
	}
}

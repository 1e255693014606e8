/* A streamed request body under DLP (egress_dlp_body_relay): only what
 * the scan has settled is forwarded, and nothing once a finding blocks.
 *
 * The bytes read and not yet forwarded wait in `pending`.  Once a body has
 * grown past SCAN_WORKER_AFTER it is a bulk upload, and its scan moves to a
 * second thread (scan_worker.h): this thread goes on reading, decrypting
 * and forwarding what the worker has settled. */
#include "egress_dlp.h"
#include "egress_dlp_internal.h"
#include "scan_worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Smaller bodies are scanned on the connection's thread: starting a thread
 * costs about what scanning 30 KiB does. */
#define SCAN_WORKER_AFTER (256 * 1024)

struct stream_state {
	struct egress_dlp_request *d;
	struct body_writer *writer;
	struct body_reader *reader;
	struct buf *pending;        /* read, not forwarded: from head */
	size_t head;                /* pending's first bytes, already forwarded */
	uint64_t forwarded;         /* body offset of pending's byte at head */
	uint64_t read;              /* body bytes read from the client */
	struct scan_worker *worker; /* scanning, once the body is large */
	bool worker_failed;         /* none could start: this thread scans */
};

static bool stream_decide_blocks(struct egress_dlp_request *d, const struct dlp_scan *scan,
				 struct egress_dlp_verdict *v)
{
	egress_dlp_decide(&scan->findings, d->policy, d->egress->options.queue_dir != NULL, v);
	return v->action != EGRESS_DLP_PASS;
}

static const char *pending_bytes(const struct stream_state *st)
{
	return st->pending->p + st->head;
}

static size_t pending_len(const struct stream_state *st)
{
	return st->pending->len - st->head;
}

/* Room for len more pending bytes within the cap on what is not yet
 * forwarded.  The forwarded head is dropped when it is most of the buffer
 * or in the way: a bulk upload moves each byte once, not once a slice. */
static int pending_reserve(struct stream_state *st, size_t len)
{
	struct buf *pending = st->pending;

	if (st->head && (st->head >= pending->len / 2 || pending->len + len >= pending->cap)) {
		memmove(pending->p, pending->p + st->head, pending->len - st->head);
		pending->len -= st->head;
		pending->p[pending->len] = '\0';
		st->head = 0;
	}
	return buf_grow(pending, len);
}

/* Forward what is settled up to body offset `settled`. */
static int forward_settled(struct stream_state *st, uint64_t settled)
{
	uint64_t n = settled > st->forwarded ? settled - st->forwarded : 0;
	int ret;

	if (n > pending_len(st))
		n = pending_len(st);
	if (n == 0)
		return 0;
	if ((ret = body_writer_put(st->writer, pending_bytes(st), (size_t)n)) < 0)
		return ret;
	st->head += (size_t)n;
	st->forwarded += n;
	if (st->head == st->pending->len) {
		buf_clear(st->pending);
		st->head = 0;
	}
	return 0;
}

/* A streamed body's finding: on a supervise route the value is proposed
 * for the retry (its bytes are unsettled, so still pending). */
static void stream_stopped(struct stream_state *st)
{
	struct egress_dlp_request *d = st->d;
	const struct dlp_finding *f = d->verdict.finding;
	struct egress_dlp_hold h;
	char method[32], path[512];

	if (d->verdict.action != EGRESS_DLP_HOLD)
		return;
	d->verdict.action = EGRESS_DLP_BLOCK;
	if (f->where != DLP_WHERE_BODY || f->offset < st->forwarded ||
	    f->offset + f->len > st->forwarded + pending_len(st)) {
		snprintf(d->verdict.reason, sizeof(d->verdict.reason),
			 "dlp: %s %s in the streamed body: it was not sent", dlp_detector_name(f->detector),
			 f->rule);
		return;
	}
	snprintf(method, sizeof(method), "%.*s", (int)d->req->method_name.len, d->req->method_name.p);
	egress_dlp_request_log_path(d, path, sizeof(path));
	h = (struct egress_dlp_hold){
		.finding = f,
		.value = pending_bytes(st) + (f->offset - st->forwarded),
		.value_len = (size_t)f->len,
		.method = method,
		.host = d->host,
		.path = path,
		.client_fd = -1,
		.no_wait = true,
	};
	(void)egress_dlp_hold_value(d->egress, &h, d->proposal_id, d->verdict.reason,
				    sizeof(d->verdict.reason));
}

/* Whether the findings so far stop the body (d->verdict then says why). */
static bool stream_blocked(struct stream_state *st)
{
	if (!stream_decide_blocks(st->d, &st->d->scan, &st->d->verdict))
		return false;
	stream_stopped(st);
	return true;
}

/* On this thread: scan the body's next bytes and forward what is
 * settled. */
static int stream_feed(struct stream_state *st, const char *p, size_t len)
{
	struct egress_dlp_request *d = st->d;
	uint64_t settled, n;
	int ret;

	/* Room for the whole slice (the appends below then cannot fail).  The
	 * cap is on what is not forwarded: a run of token characters longer
	 * than it cannot be checked in flight. */
	if ((ret = pending_reserve(st, len)) < 0)
		return ret;
	if ((ret = dlp_scan_feed(&d->scan, p, p + len)) < 0)
		return ret;
	if (stream_decide_blocks(d, &d->scan, &d->verdict)) {
		/* A proposal takes the value from pending. */
		(void)buf_append(st->pending, p, len);
		stream_stopped(st);
		return -EACCES;
	}
	settled = dlp_scan_settled(&d->scan);
	if (pending_len(st) > 0) {
		(void)buf_append(st->pending, p, len);
		return forward_settled(st, settled);
	}
	/* Nothing held back (a small body, read in one piece): the settled
	 * start goes to the writer straight from the reader's buffer and only
	 * the unsettled tail is kept, one copy of the body less. */
	n = settled > st->forwarded ? settled - st->forwarded : 0;
	if (n > len)
		n = len;
	if (n > 0 && (ret = body_writer_put(st->writer, p, (size_t)n)) < 0)
		return ret;
	st->forwarded += n;
	(void)buf_append(st->pending, p + n, len - (size_t)n);
	return 0;
}

/* Before the reader waits for the client, what is settled goes out.  But
 * the head waits with the body's first settled bytes: a small body with a
 * secret never shows the upstream even its head. */
static int stream_flush(struct stream_state *st)
{
	return st->forwarded > 0 ? body_writer_flush(st->writer) : 0;
}

/* The worker's question after every batch, on its thread: d->verdict is
 * this thread's, so the answer goes to a verdict of its own. */
static bool worker_blocks(void *ctx, const struct dlp_scan *scan)
{
	struct egress_dlp_verdict v;

	return stream_decide_blocks(ctx, scan, &v);
}

/* Forward what the worker has settled; with `all`, once it has scanned
 * everything handed over.  A worker that stopped (a finding, or its
 * scan's error) gives the scan back: -EACCES with d->verdict set, or the
 * error. */
static int worker_catch_up(struct stream_state *st, bool all)
{
	struct scan_worker_progress p;

	scan_worker_progress(st->worker, all, &p);
	if (!p.stopped && !p.error)
		return forward_settled(st, p.settled);
	scan_worker_stop(st->worker);
	st->worker = NULL;
	if (p.error)
		return p.error;
	return stream_blocked(st) ? -EACCES : 0;
}

/* Read, to the worker: keep the slice until it is settled, hand it over,
 * forward what is settled so far. */
static int worker_feed(struct stream_state *st, const char *p, size_t len)
{
	int ret;

	/* The cap is on what is not forwarded: settle what the worker has
	 * before calling a body over it. */
	ret = pending_reserve(st, len);
	if (ret == -EMSGSIZE) {
		if ((ret = worker_catch_up(st, true)) < 0)
			return ret;
		ret = pending_reserve(st, len);
	}
	if (ret < 0)
		return ret;
	(void)buf_append(st->pending, p, len);
	if ((ret = scan_worker_feed(st->worker, p, len)) < 0 && ret != -EACCES)
		return ret;
	return worker_catch_up(st, false);
}

/* The next slice the client sent: scanned here, or by the worker once the
 * body is large. */
static int stream_take(struct stream_state *st, const char *p, size_t len)
{
	st->read += len;
	if (!st->worker && !st->worker_failed && st->read > SCAN_WORKER_AFTER) {
		st->worker_failed = !scan_worker_useful() ||
				    scan_worker_start(&st->worker, &st->d->scan, worker_blocks, st->d,
						      dlp_scan_settled(&st->d->scan)) < 0;
		if (st->worker)
			egress_stats_dlp_body_thread(st->d->egress);
	}
	return st->worker ? worker_feed(st, p, len) : stream_feed(st, p, len);
}

/* Before the reader waits for the client, what is settled goes out.  With
 * a worker still scanning, wait for whichever comes first: the client's
 * next bytes (read them while the worker scans: waiting for the worker at
 * every read would make the two threads take turns) or the worker's end
 * (forward what it settled, then wait for the client).  A bulk upload
 * comes here before every read, and its next bytes are mostly there
 * already: that is one poll, asked first. */
static int stream_before_wait(void *state)
{
	struct stream_state *st = state;
	struct stream *client = st->reader->stream;
	int ret;

	while (st->worker) {
		if (stream_wait_readable_or(client, -1, 0) == 1)
			return worker_catch_up(st, false);
		if (scan_worker_idle(st->worker))
			break;
		ret = stream_wait_readable_or(client, scan_worker_idle_fd(st->worker),
					      client->timeout_ms);
		if (ret < 0)
			return ret;
	}
	if (st->worker && (ret = worker_catch_up(st, true)) < 0)
		return ret;
	return stream_flush(st);
}

int egress_dlp_body_relay(struct egress_dlp_request *d, struct body_reader *r,
			  struct body_writer *w)
{
	struct stream_state st = { .d = d, .writer = w };
	struct buf spill_pending;
	int ret;

	/* The settle lag is a rule window, or a run of token characters (a
	 * secret may start anywhere in it): a run longer than the hold cap
	 * cannot be checked in flight.  The body buffer, idle when nothing is
	 * held, is reused request after request (no allocation each time),
	 * except when it holds a spilled body's start. */
	buf_init(&spill_pending, d->egress->options.dlp_body_max);
	st.pending = d->spilled ? &spill_pending : &d->body;
	buf_clear(st.pending);
	if ((ret = dlp_scan_begin(&d->scan, DLP_WHERE_BODY, NULL, DLP_ENCODING_IDENTITY, 0)) < 0)
		goto out;
	if (d->spilled) {
		r = &d->reader;
		if ((ret = stream_take(&st, d->body.p, d->body.len)) < 0 ||
		    (ret = stream_take(&st, d->spill.p, d->spill.len)) < 0)
			goto out;
		buf_release(&d->body);
	}
	st.reader = r;
	r->before_wait = stream_before_wait;
	r->before_wait_ctx = &st;
	for (;;) {
		struct str data;

		ret = body_reader_next(r, &data);
		if (ret < 0)
			goto out;
		if (ret == 0)
			break;
		if ((ret = stream_take(&st, data.p, data.len)) < 0)
			goto out;
	}
	if (st.worker) {
		if ((ret = worker_catch_up(&st, true)) < 0)
			goto out;
		scan_worker_stop(st.worker);
		st.worker = NULL;
	}
	if ((ret = dlp_scan_end(&d->scan)) < 0)
		goto out;
	if (stream_blocked(&st)) {
		ret = -EACCES;
		goto out;
	}
	if ((ret = body_writer_put(w, pending_bytes(&st), pending_len(&st))) == 0)
		ret = body_writer_finish(w);
out:
	/* Only an error leaves with a worker running: what it has not
	 * scanned is dropped, never forwarded. */
	scan_worker_stop(st.worker);
	r->before_wait = NULL;
	if (d->spilled)
		body_reader_compact(&d->reader);
	buf_clear(st.pending);
	buf_release(&spill_pending);
	return ret;
}

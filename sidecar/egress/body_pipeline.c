/* A large body relayed on two threads.
 *
 * A bumped transfer pays two ciphers for every byte: it decrypts what one
 * side sent and encrypts it again for the other.  On one thread the sum of
 * the two is the ceiling (docs/egress-bench.md, "crypto ceiling").  Here a
 * reader thread reads (and decrypts) the body from its stream into a small
 * ring of slots while the connection's own thread writes (and encrypts)
 * them, so the two ciphers run on two cores at once.
 *
 * Only bodies whose length is known and large take this path: for a small
 * one a thread costs more than it saves.  The number of relays running at
 * once is capped near the number of cores, past which a second thread only
 * competes for the same cores; over the cap, or when no thread can be made,
 * the body is relayed on one thread as usual.
 *
 * Each stream is used by one thread only: the reader thread owns the
 * reader's stream and buffer until it ends, the calling thread the
 * writer's.  Memory stays bounded: BODY_PIPELINE_SLOTS slots of
 * BODY_PIPELINE_SLOT_SIZE bytes, freed when the relay ends. */
#include "egress.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define BODY_PIPELINE_MIN_BODY (1024 * 1024)
#define BODY_PIPELINE_SLOTS 4
#define BODY_PIPELINE_SLOT_SIZE (64 * 1024)
#define BODY_PIPELINE_THREAD_STACK (256 * 1024) /* as a connection's thread */

struct body_pipeline {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct body_reader *reader;
	char *slot[BODY_PIPELINE_SLOTS];
	size_t slot_len[BODY_PIPELINE_SLOTS];
	unsigned first;        /* the oldest filled slot */
	unsigned filled;       /* slots holding body bytes, from first on */
	bool reader_finished;  /* no more slots will be filled */
	int reader_result;     /* body_reader_next's last result: 0 (end) or < 0 */
	bool writer_stopped;   /* the writer failed: the reader must stop */
};

static unsigned running_pipelines;

/* How many relays may run two threads at once: twice the cores, so a
 * second large transfer still overlaps while the first waits on its
 * peer. */
static unsigned body_pipeline_max(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	return cores > 1 ? 2 * (unsigned)cores : 0;
}

/* Fill one free slot: take slices from the reader until the slot is full
 * or the reader would have to wait for its peer (what arrived so far must
 * reach the writer now: a slow upstream's bytes are not held back). */
static int body_pipeline_fill(struct body_pipeline *p, unsigned index, struct str *pending)
{
	char *slot = p->slot[index];
	size_t len = 0;
	int ret = 1;

	for (;;) {
		size_t take;

		if (pending->len == 0) {
			if (len > 0 && !body_reader_has_buffered(p->reader))
				break;
			ret = body_reader_next(p->reader, pending);
			if (ret <= 0)
				break;
		}
		take = pending->len < BODY_PIPELINE_SLOT_SIZE - len ?
			       pending->len : BODY_PIPELINE_SLOT_SIZE - len;
		memcpy(slot + len, pending->p, take);
		len += take;
		pending->p += take;
		pending->len -= take;
		if (len == BODY_PIPELINE_SLOT_SIZE)
			break;
	}
	p->slot_len[index] = len;
	return ret;
}

static void *body_pipeline_reader_main(void *arg)
{
	struct body_pipeline *p = arg;
	struct str pending = { NULL, 0 };
	int ret = 1;

	while (ret > 0) {
		unsigned index;

		pthread_mutex_lock(&p->lock);
		while (p->filled == BODY_PIPELINE_SLOTS && !p->writer_stopped)
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->writer_stopped) {
			pthread_mutex_unlock(&p->lock);
			ret = -EPIPE;
			break;
		}
		index = (p->first + p->filled) % BODY_PIPELINE_SLOTS;
		pthread_mutex_unlock(&p->lock);

		/* A free slot is the reader's alone until it is counted. */
		ret = body_pipeline_fill(p, index, &pending);

		pthread_mutex_lock(&p->lock);
		if (p->slot_len[index] > 0)
			p->filled++;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	pthread_mutex_lock(&p->lock);
	p->reader_finished = true;
	p->reader_result = ret;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	/* mbedTLS blocks this thread freed are cached per thread. */
	egress_tls_memory_thread_release();
	return NULL;
}

/* The writer's side, on the calling thread: send each filled slot in turn.
 * Returns 0 when the whole body went out, else a negative code. */
static int body_pipeline_write(struct body_pipeline *p, struct body_writer *w)
{
	int ret;

	for (;;) {
		unsigned index;

		pthread_mutex_lock(&p->lock);
		if (p->filled == 0 && !p->reader_finished) {
			/* Nothing to send: what is batched goes out before we
			 * wait, as in body_relay. */
			pthread_mutex_unlock(&p->lock);
			ret = body_writer_flush(w);
			if (ret < 0)
				return ret;
			pthread_mutex_lock(&p->lock);
			while (p->filled == 0 && !p->reader_finished)
				pthread_cond_wait(&p->changed, &p->lock);
		}
		if (p->filled == 0) {
			ret = p->reader_result;
			pthread_mutex_unlock(&p->lock);
			if (ret == 0)
				return body_writer_finish(w);
			/* Cut short: what arrived still goes out first, as
			 * body_relay would have sent it before its failing
			 * read. */
			(void)body_writer_flush(w);
			return ret;
		}
		index = p->first;
		pthread_mutex_unlock(&p->lock);

		ret = body_writer_put(w, p->slot[index], p->slot_len[index]);
		if (ret < 0)
			return ret;

		pthread_mutex_lock(&p->lock);
		p->first = (p->first + 1) % BODY_PIPELINE_SLOTS;
		p->filled--;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
}

/* Start the reader thread; < 0 when the relay should run on one thread. */
static int body_pipeline_start(struct body_pipeline *p, pthread_t *thread)
{
	pthread_attr_t attr;
	int ret = -ENOMEM;
	unsigned i;

	for (i = 0; i < BODY_PIPELINE_SLOTS; i++) {
		p->slot[i] = malloc(BODY_PIPELINE_SLOT_SIZE);
		if (!p->slot[i])
			goto out;
	}
	if (pthread_attr_init(&attr) != 0)
		goto out;
	pthread_attr_setstacksize(&attr, BODY_PIPELINE_THREAD_STACK);
	ret = -pthread_create(thread, &attr, body_pipeline_reader_main, p);
	pthread_attr_destroy(&attr);
out:
	return ret;
}

static void body_pipeline_free(struct body_pipeline *p)
{
	unsigned i;

	for (i = 0; i < BODY_PIPELINE_SLOTS; i++)
		free(p->slot[i]);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
}

int body_relay_large(struct body_reader *r, struct body_writer *w)
{
	struct body_pipeline p;
	pthread_t thread;
	int ret;

	if (r->kind != HTTP1_BODY_LENGTH || r->remaining < BODY_PIPELINE_MIN_BODY)
		return body_relay(r, w);
	if (__atomic_add_fetch(&running_pipelines, 1, __ATOMIC_RELAXED) > body_pipeline_max()) {
		__atomic_sub_fetch(&running_pipelines, 1, __ATOMIC_RELAXED);
		return body_relay(r, w);
	}
	memset(&p, 0, sizeof(p));
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.changed, NULL);
	p.reader = r;
	if (body_pipeline_start(&p, &thread) < 0) {
		body_pipeline_free(&p);
		__atomic_sub_fetch(&running_pipelines, 1, __ATOMIC_RELAXED);
		return body_relay(r, w);
	}

	ret = body_pipeline_write(&p, w);
	if (ret < 0) {
		pthread_mutex_lock(&p.lock);
		p.writer_stopped = true;
		pthread_cond_broadcast(&p.changed);
		pthread_mutex_unlock(&p.lock);
		/* The reader may be waiting on its peer: end that wait.  The
		 * caller closes this stream after a failed relay anyway. */
		shutdown(r->stream->fd, SHUT_RDWR);
	}
	pthread_join(thread, NULL);
	body_pipeline_free(&p);
	__atomic_sub_fetch(&running_pipelines, 1, __ATOMIC_RELAXED);
	return ret;
}

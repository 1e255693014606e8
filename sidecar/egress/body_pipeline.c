/* A large body sent by a second thread.
 *
 * A bumped transfer pays two ciphers for every byte: it decrypts what one
 * side sent and encrypts it again for the other.  On one thread the sum of
 * the two is the ceiling (docs/egress-bench.md, "crypto ceiling").  While a
 * large body flows, a sender thread takes over a body_writer's sends (and
 * so the encryption for the receiving side), and the connection's thread
 * only reads, decrypts and, for a request body, scans.  The two ciphers
 * then run on two cores at once.
 *
 * The connection's thread hands the bytes over through a ring of
 * BODY_PIPELINE_SLOTS slots of BODY_PIPELINE_SLOT_SIZE bytes (so memory
 * stays bounded, and the reader waits when the receiving side is slow, as
 * it would on one thread).  Each stream is used by one thread only: the
 * writer's stream belongs to the sender until body_writer_send_end().
 *
 * Only bodies whose length is known and large take this path: for a small
 * one the thread costs more than it saves.  The relays running a sender at
 * once are capped near the number of cores, past which a second thread
 * only competes for them; over the cap, or when no thread can be made,
 * the writer sends on the connection's thread as usual. */
#include "egress.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BODY_PIPELINE_MIN_BODY (1024 * 1024)
#define BODY_PIPELINE_SLOTS 4
#define BODY_PIPELINE_SLOT_SIZE (64 * 1024)
#define BODY_PIPELINE_THREAD_STACK (256 * 1024) /* as a connection's thread */

struct body_pipeline {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_t sender;
	struct stream *stream;
	char *slot[BODY_PIPELINE_SLOTS];
	size_t slot_len[BODY_PIPELINE_SLOTS];
	unsigned first;        /* the oldest filled slot */
	unsigned filled;       /* slots waiting to be sent, from first on */
	bool ending;           /* nothing more will be handed over */
	int send_result;       /* the first failed send's code, else 0 */
};

static unsigned running_pipelines;

/* How many bodies may have a sender at once: twice the cores, so that a
 * second large transfer still overlaps while the first waits on its
 * peer. */
static unsigned body_pipeline_max(void)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	return cores > 1 ? 2 * (unsigned)cores : 0;
}

static void *body_pipeline_sender_main(void *arg)
{
	struct body_pipeline *p = arg;
	int ret = 0;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		unsigned index;

		while (p->filled == 0 && !p->ending)
			pthread_cond_wait(&p->changed, &p->lock);
		if (p->filled == 0)
			break;
		index = p->first;
		pthread_mutex_unlock(&p->lock);

		/* A filled slot is the sender's alone until it is released. */
		ret = stream_write(p->stream, p->slot[index], p->slot_len[index]);

		pthread_mutex_lock(&p->lock);
		if (ret < 0) {
			p->send_result = ret;
			break;
		}
		p->first = (p->first + 1) % BODY_PIPELINE_SLOTS;
		p->filled--;
		pthread_cond_broadcast(&p->changed);
	}
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	/* mbedTLS blocks this thread freed are cached per thread. */
	egress_tls_memory_thread_release();
	return NULL;
}

int body_pipeline_send(struct body_pipeline *p, const void *data, size_t len)
{
	const char *cursor = data;
	int ret = 0;

	while (len > 0) {
		size_t take = len < BODY_PIPELINE_SLOT_SIZE ? len : BODY_PIPELINE_SLOT_SIZE;
		unsigned index;

		pthread_mutex_lock(&p->lock);
		while (p->filled == BODY_PIPELINE_SLOTS && p->send_result == 0)
			pthread_cond_wait(&p->changed, &p->lock);
		ret = p->send_result;
		index = (p->first + p->filled) % BODY_PIPELINE_SLOTS;
		pthread_mutex_unlock(&p->lock);
		if (ret < 0)
			break;

		/* A free slot is ours alone until it is counted. */
		memcpy(p->slot[index], cursor, take);
		p->slot_len[index] = take;
		cursor += take;
		len -= take;

		pthread_mutex_lock(&p->lock);
		p->filled++;
		pthread_cond_broadcast(&p->changed);
		pthread_mutex_unlock(&p->lock);
	}
	return ret;
}

static void body_pipeline_free(struct body_pipeline *p)
{
	unsigned i;

	for (i = 0; i < BODY_PIPELINE_SLOTS; i++)
		free(p->slot[i]);
	pthread_cond_destroy(&p->changed);
	pthread_mutex_destroy(&p->lock);
	free(p);
	__atomic_sub_fetch(&running_pipelines, 1, __ATOMIC_RELAXED);
}

void body_writer_send_behind(struct body_writer *w, const struct body_reader *r)
{
	struct body_pipeline *p;
	pthread_attr_t attr;
	unsigned i;
	int ret;

	if (w->pipeline || r->kind != HTTP1_BODY_LENGTH || r->remaining < BODY_PIPELINE_MIN_BODY)
		return;
	if (__atomic_add_fetch(&running_pipelines, 1, __ATOMIC_RELAXED) > body_pipeline_max()) {
		__atomic_sub_fetch(&running_pipelines, 1, __ATOMIC_RELAXED);
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		__atomic_sub_fetch(&running_pipelines, 1, __ATOMIC_RELAXED);
		return;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->changed, NULL);
	p->stream = w->stream;
	for (i = 0; i < BODY_PIPELINE_SLOTS; i++)
		if (!(p->slot[i] = malloc(BODY_PIPELINE_SLOT_SIZE)))
			goto fail;
	if (pthread_attr_init(&attr) != 0)
		goto fail;
	pthread_attr_setstacksize(&attr, BODY_PIPELINE_THREAD_STACK);
	ret = pthread_create(&p->sender, &attr, body_pipeline_sender_main, p);
	pthread_attr_destroy(&attr);
	if (ret != 0)
		goto fail;
	w->pipeline = p;
	return;
fail:
	body_pipeline_free(p);
}

int body_writer_send_end(struct body_writer *w)
{
	struct body_pipeline *p = w->pipeline;
	int ret;

	if (!p)
		return 0;
	/* Everything handed over is sent (or the send failed) before the
	 * caller reads the answer or reuses the stream. */
	pthread_mutex_lock(&p->lock);
	p->ending = true;
	pthread_cond_broadcast(&p->changed);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->sender, NULL);
	ret = p->send_result;
	w->pipeline = NULL;
	body_pipeline_free(p);
	return ret;
}

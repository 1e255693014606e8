/* Connection threads: one per connection, kept a moment for the next.
 *
 * Each connection is served by a thread of its own (blocking I/O with
 * bounded waits, stream.c).  Starting and ending a thread for every
 * connection cost about a tenth of egress's CPU per CONNECT+handshake
 * (docs/egress-bench.md): clone, the stack's mmap and munmap (whose TLB
 * shootdown interrupts the other core) and the page faults of a fresh stack.
 * So a thread whose connection ended waits up to WORKER_SPARE_WAIT_MS for
 * the next one, and at most WORKER_SPARE_MAX threads wait: a burst of
 * connections leaves a few stacks behind, for two seconds, not a thread
 * per connection it ever had. */
#include "egress.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define WORKER_SPARE_MAX 8
#define WORKER_SPARE_WAIT_MS 2000
/* mbedTLS handshakes and our request path fit well within this; only the
 * pages touched count towards RSS. */
#define WORKER_STACK_SIZE (256 * 1024)

/* A thread waiting for a connection. */
struct worker_spare {
	pthread_cond_t wake;
	struct egress_connection *next; /* set by egress_workers_start() */
	struct worker_spare *below;     /* the next spare on the stack */
};

static pthread_mutex_t spares_lock = PTHREAD_MUTEX_INITIALIZER;
static struct worker_spare *spares; /* the last to wait is taken first */
static unsigned spare_count;
static uint64_t reused; /* connections served by a spare */

static void spares_remove(struct worker_spare *spare)
{
	struct worker_spare **at = &spares;

	while (*at && *at != spare)
		at = &(*at)->below;
	if (*at) {
		*at = spare->below;
		spare_count--;
	}
}

/* Wait as a spare: the next connection handed over, or NULL (the wait ran
 * out, or enough threads wait already). */
static struct egress_connection *worker_wait(struct worker_spare *spare)
{
	struct egress_connection *c = NULL;
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += WORKER_SPARE_WAIT_MS / 1000;
	deadline.tv_nsec += (long)(WORKER_SPARE_WAIT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&spares_lock);
	if (spare_count >= WORKER_SPARE_MAX)
		goto out;
	spare->next = NULL;
	spare->below = spares;
	spares = spare;
	spare_count++;
	while (!spare->next) {
		if (pthread_cond_timedwait(&spare->wake, &spares_lock, &deadline) == ETIMEDOUT)
			break;
	}
	/* Handed a connection: egress_workers_start() took us off the stack. */
	if (!spare->next)
		spares_remove(spare);
	c = spare->next;
out:
	pthread_mutex_unlock(&spares_lock);
	return c;
}

static void *worker_main(void *arg)
{
	struct egress_connection *c = arg;
	struct worker_spare spare;
	pthread_condattr_t attr;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&spare.wake, &attr);
	pthread_condattr_destroy(&attr);
	while (c) {
		egress_connection_main(c);
		c = worker_wait(&spare);
	}
	pthread_cond_destroy(&spare.wake);
	return NULL;
}

void egress_workers_counts(unsigned *spare, uint64_t *reused_total)
{
	pthread_mutex_lock(&spares_lock);
	*spare = spare_count;
	*reused_total = reused;
	pthread_mutex_unlock(&spares_lock);
}

int egress_workers_start(struct egress_connection *c)
{
	static pthread_attr_t attr;
	static bool attr_ready;
	struct worker_spare *spare;
	pthread_t thread;
	int ret;

	pthread_mutex_lock(&spares_lock);
	spare = spares;
	if (spare) {
		spares = spare->below;
		spare_count--;
		spare->next = c;
		reused++;
		pthread_cond_signal(&spare->wake);
	}
	pthread_mutex_unlock(&spares_lock);
	if (spare)
		return 0;

	/* Only the accept loop starts threads: no race on attr. */
	if (!attr_ready) {
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, WORKER_STACK_SIZE);
		attr_ready = true;
	}
	ret = pthread_create(&thread, &attr, worker_main, c);
	return ret == 0 ? 0 : -ret;
}

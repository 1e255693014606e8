/* A streamed request body's DLP scan on a second thread (scan_worker.h).
 *
 * The reader and the worker share a ring of bytes: the reader copies in at
 * `fed`, the worker scans from `scanned`, and each touches only its own
 * part of the ring, so the lock guards the counters, never a copy or a
 * scan.  Each side sleeps only when it must (ring full, ring empty) and is
 * woken only when the other has made enough room or work to be worth a
 * wake-up. */
#include "scan_worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Sixteen of the reader's batches (BODY_READ_SIZE): the reader can run
 * ahead while the upstream or the client makes it wait. */
#define SCAN_WORKER_RING (1024 * 1024)
/* What the worker scans before it says how far the body is settled. */
#define SCAN_WORKER_BATCH (64 * 1024)
/* A reader that found the ring full sleeps until this much is free. */
#define SCAN_WORKER_REFILL (SCAN_WORKER_RING / 4)
/* The scan needs little stack (pcre2's JIT brings its own); only the
 * pages touched count. */
#define SCAN_WORKER_STACK (256 * 1024)

enum scan_worker_wait {
	WAIT_NOTHING,
	WAIT_ROOM, /* the reader: SCAN_WORKER_REFILL free in the ring */
	WAIT_ALL,  /* the reader: everything fed scanned */
};

struct scan_worker {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t to_worker; /* bytes to scan, or quit */
	pthread_cond_t to_reader; /* what it waits for, or a stop */
	struct dlp_scan *scan;
	scan_worker_blocks_fn *blocks;
	void *blocks_ctx;
	char *ring;
	uint64_t fed, scanned; /* bytes into the ring and scanned, ever */
	struct scan_worker_progress progress;
	bool worker_waiting, quit;
	enum scan_worker_wait reader_waits;
	int idle_fd;      /* an eventfd: readable once idle, when idle_wanted */
	bool idle_wanted;
	bool idle_written; /* idle_fd holds a wake-up not read yet */
};

/* Workers running now, across connections: at most one per CPU, so many
 * uploads at once cost no more threads (or rings) than can run. */
static unsigned workers_running;

static unsigned cpus_online(void)
{
	static unsigned cpus;
	unsigned n = __atomic_load_n(&cpus, __ATOMIC_RELAXED);

	if (!n) {
		long online = sysconf(_SC_NPROCESSORS_ONLN);

		n = online > 0 ? (unsigned)online : 1;
		__atomic_store_n(&cpus, n, __ATOMIC_RELAXED);
	}
	return n;
}

bool scan_worker_useful(void)
{
	return cpus_online() > 1;
}

/* Why the worker takes no more bytes: 0 while it scans on. */
static int scan_worker_refuses(const struct scan_worker *w)
{
	if (w->progress.error)
		return w->progress.error;
	return w->progress.stopped ? -EACCES : 0;
}

/* Whether the reader, asleep, has what it waits for. */
static bool reader_may_go(const struct scan_worker *w)
{
	if (scan_worker_refuses(w))
		return true;
	if (w->reader_waits == WAIT_ALL)
		return w->scanned == w->fed;
	return SCAN_WORKER_RING - (w->fed - w->scanned) >= SCAN_WORKER_REFILL;
}

static void *scan_worker_main(void *arg)
{
	struct scan_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->quit) {
		uint64_t settled = 0;
		bool stop = false;
		size_t at, n;
		int ret;

		if (w->scanned == w->fed) {
			w->worker_waiting = true;
			pthread_cond_wait(&w->to_worker, &w->lock);
			w->worker_waiting = false;
			continue;
		}
		at = (size_t)(w->scanned % SCAN_WORKER_RING);
		n = (size_t)(w->fed - w->scanned);
		if (n > SCAN_WORKER_RING - at)
			n = SCAN_WORKER_RING - at;
		if (n > SCAN_WORKER_BATCH)
			n = SCAN_WORKER_BATCH;
		pthread_mutex_unlock(&w->lock);

		ret = dlp_scan_feed(w->scan, w->ring + at, w->ring + at + n);
		if (ret == 0) {
			stop = w->blocks(w->blocks_ctx, w->scan);
			if (!stop)
				settled = dlp_scan_settled(w->scan);
		}

		pthread_mutex_lock(&w->lock);
		w->scanned += n;
		if (ret < 0)
			w->progress.error = ret;
		else if (stop)
			w->progress.stopped = true;
		else
			w->progress.settled = settled;
		if (w->reader_waits != WAIT_NOTHING && reader_may_go(w))
			pthread_cond_signal(&w->to_reader);
		if (w->idle_wanted && (w->scanned == w->fed || scan_worker_refuses(w))) {
			uint64_t one = 1;

			w->idle_wanted = false;
			w->idle_written = true;
			/* An eventfd's counter cannot be full here: the reader
			 * reads it before it asks again. */
			(void)!write(w->idle_fd, &one, sizeof(one));
		}
		/* Nothing after a stop is scanned: the findings stay those the
		 * decision was made on. */
		if (ret < 0 || stop)
			break;
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int scan_worker_start(struct scan_worker **out, struct dlp_scan *scan,
		      scan_worker_blocks_fn *blocks, void *blocks_ctx, uint64_t settled)
{
	struct scan_worker *w;
	pthread_attr_t attr;
	int ret = -ENOMEM;

	*out = NULL;
	if (__atomic_add_fetch(&workers_running, 1, __ATOMIC_RELAXED) > cpus_online()) {
		__atomic_sub_fetch(&workers_running, 1, __ATOMIC_RELAXED);
		return -EBUSY;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		__atomic_sub_fetch(&workers_running, 1, __ATOMIC_RELAXED);
		return -ENOMEM;
	}
	w->idle_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	w->ring = malloc(SCAN_WORKER_RING);
	if (!w->ring || w->idle_fd < 0)
		goto out;
	w->scan = scan;
	w->blocks = blocks;
	w->blocks_ctx = blocks_ctx;
	w->progress.settled = settled;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->to_worker, NULL);
	pthread_cond_init(&w->to_reader, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, SCAN_WORKER_STACK);
	ret = -pthread_create(&w->thread, &attr, scan_worker_main, w);
	pthread_attr_destroy(&attr);
	if (ret < 0) {
		pthread_cond_destroy(&w->to_reader);
		pthread_cond_destroy(&w->to_worker);
		pthread_mutex_destroy(&w->lock);
		goto out;
	}
	*out = w;
	ret = 0;
out:
	if (ret < 0) {
		if (w->idle_fd >= 0)
			close(w->idle_fd);
		free(w->ring);
		free(w);
		__atomic_sub_fetch(&workers_running, 1, __ATOMIC_RELAXED);
	}
	return ret;
}

/* Sleep until reader_may_go() for `what`; the lock is held. */
static void reader_wait(struct scan_worker *w, enum scan_worker_wait what)
{
	w->reader_waits = what;
	while (!reader_may_go(w))
		pthread_cond_wait(&w->to_reader, &w->lock);
	w->reader_waits = WAIT_NOTHING;
}

int scan_worker_feed(struct scan_worker *w, const char *p, size_t len)
{
	int ret;

	pthread_mutex_lock(&w->lock);
	while (len > 0 && !(ret = scan_worker_refuses(w))) {
		size_t at, room = SCAN_WORKER_RING - (size_t)(w->fed - w->scanned);

		if (room == 0) {
			reader_wait(w, WAIT_ROOM);
			continue;
		}
		at = (size_t)(w->fed % SCAN_WORKER_RING);
		if (room > SCAN_WORKER_RING - at)
			room = SCAN_WORKER_RING - at;
		if (room > len)
			room = len;
		/* The worker reads only [scanned, fed): this part is ours. */
		pthread_mutex_unlock(&w->lock);
		memcpy(w->ring + at, p, room);
		pthread_mutex_lock(&w->lock);
		w->fed += room;
		p += room;
		len -= room;
		if (w->worker_waiting)
			pthread_cond_signal(&w->to_worker);
	}
	ret = len > 0 ? scan_worker_refuses(w) : 0;
	pthread_mutex_unlock(&w->lock);
	return ret;
}

void scan_worker_progress(struct scan_worker *w, bool all, struct scan_worker_progress *p)
{
	pthread_mutex_lock(&w->lock);
	if (all)
		reader_wait(w, WAIT_ALL);
	*p = w->progress;
	pthread_mutex_unlock(&w->lock);
}

bool scan_worker_idle(struct scan_worker *w)
{
	uint64_t count;
	bool idle;

	pthread_mutex_lock(&w->lock);
	idle = w->scanned == w->fed || scan_worker_refuses(w);
	w->idle_wanted = !idle;
	/* A wake-up of an earlier wait, not read yet: it says nothing now. */
	if (w->idle_written)
		(void)!read(w->idle_fd, &count, sizeof(count));
	w->idle_written = false;
	pthread_mutex_unlock(&w->lock);
	return idle;
}

int scan_worker_idle_fd(const struct scan_worker *w)
{
	return w->idle_fd;
}

void scan_worker_stop(struct scan_worker *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_signal(&w->to_worker);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	pthread_cond_destroy(&w->to_reader);
	pthread_cond_destroy(&w->to_worker);
	pthread_mutex_destroy(&w->lock);
	close(w->idle_fd);
	free(w->ring);
	free(w);
	__atomic_sub_fetch(&workers_running, 1, __ATOMIC_RELAXED);
}

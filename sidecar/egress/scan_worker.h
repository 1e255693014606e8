/* A streamed request body's DLP scan on a second thread.
 *
 * On a bulk upload the scan is most of egress's work: on the connection's
 * thread alone it bounds the transfer to what one core scans while the
 * other core idles.  So once a streamed body is large, the connection's
 * thread reads, decrypts and forwards, and a worker thread scans: it takes
 * the body's bytes from a ring the reader fills and answers how far the
 * body is settled.  The reader forwards what the scan settled, and nothing
 * once a finding blocks: what leaves is what one thread would have sent.
 *
 * The dlp_scan belongs to the worker from scan_worker_start() until
 * scan_worker_stop() returns: the caller does not touch it in between. */
#ifndef SIDECAR_EGRESS_SCAN_WORKER_H
#define SIDECAR_EGRESS_SCAN_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../shared/dlp.h"

struct scan_worker;

/* Whether the findings so far stop the body (the caller's policy).  Called
 * on the worker's thread after every batch: it must only read. */
typedef bool scan_worker_blocks_fn(void *ctx, const struct dlp_scan *scan);

struct scan_worker_progress {
	uint64_t settled; /* body offset up to which the body may be forwarded */
	bool stopped;     /* a finding blocks: the worker scans no more */
	int error;        /* dlp_scan_feed() failed (negative errno), else 0 */
};

/* Whether a second thread can help: more than one CPU is online. */
bool scan_worker_useful(void);

/* Start a worker on `scan`, whose part is begun and fed up to now, settled
 * up to body offset `settled`.  0, or a negative errno (-EBUSY: as many
 * run as there are CPUs; no memory, no thread): the caller scans on by
 * itself. */
int scan_worker_start(struct scan_worker **out, struct dlp_scan *scan,
		      scan_worker_blocks_fn *blocks, void *blocks_ctx, uint64_t settled);

/* Hand the worker the body's next bytes (copied: p may be reused at once),
 * waiting while its ring is full.  0; or -EACCES once it stopped on a
 * finding, or its scan's error: then the bytes were not all taken. */
int scan_worker_feed(struct scan_worker *w, const char *p, size_t len);

/* How far the worker got.  With `all`, first wait until it has scanned
 * every byte fed (or stopped); without, answer at once. */
void scan_worker_progress(struct scan_worker *w, bool all, struct scan_worker_progress *p);

/* Whether it has scanned every byte fed (or stopped).  When not, the next
 * time it is makes scan_worker_idle_fd() readable: a reader can wait for
 * whichever comes first, its client's bytes or the worker. */
bool scan_worker_idle(struct scan_worker *w);
int scan_worker_idle_fd(const struct scan_worker *w);

/* End the worker's thread and free it (NULL: nothing).  The scan is the
 * caller's again, fed with the bytes the worker scanned: all of them after
 * scan_worker_progress(all), unless it stopped. */
void scan_worker_stop(struct scan_worker *w);

#endif

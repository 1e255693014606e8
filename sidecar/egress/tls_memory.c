/* mbedTLS's allocations: cheap for handshakes, and nothing kept by an idle
 * connection that it does not use.
 *
 * Large blocks.  Every TLS context allocates two record buffers of ~16.7
 * KiB.  From the heap they would be resident in full for the connection's
 * life, although an idle keep-alive connection has touched a few KiB of
 * each.  Blocks of TLS_MEMORY_MAP_MIN bytes or more are mapped instead:
 * fresh anonymous pages read as zero (calloc's promise) and cost no memory
 * until written.
 *
 * Small blocks.  mbedTLS's big-number code allocates and frees constantly
 * during a handshake, and musl's malloc takes one process-wide lock per
 * call: with a few handshakes at once that lock was a third of egress's CPU
 * (docs/egress-bench.md).  Freed small blocks therefore go to a cache of
 * the freeing thread, by power-of-two size class, and that thread's next
 * allocation of the class takes one back without a lock.  The cache is
 * bounded (TLS_MEMORY_CACHE_MAX bytes a thread) and handed back to malloc
 * when a connection goes idle or ends (egress_tls_memory_thread_release),
 * so a held connection keeps none of it. */
#include "egress.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mbedtls/platform.h>

#define TLS_MEMORY_MAP_MIN (8 * 1024)
#define TLS_MEMORY_CLASS_MIN 32          /* bytes, header included */
#define TLS_MEMORY_CLASSES 9             /* 32, 64, ... 8192 */
#define TLS_MEMORY_CACHE_MAX (128 * 1024) /* bytes cached by one thread */

/* Sits in front of every block; 16 bytes keep the block's alignment. */
struct tls_memory_header {
	size_t mapped_len; /* mapped: its length; else 0 */
	size_t size_class; /* from the heap: 1 + its class, or 0 (not cached) */
};

struct tls_memory_free_block {
	struct tls_memory_free_block *next;
};

static __thread struct tls_memory_free_block *cache[TLS_MEMORY_CLASSES];
static __thread size_t cache_bytes;

static size_t class_bytes(unsigned size_class)
{
	return (size_t)TLS_MEMORY_CLASS_MIN << size_class;
}

static unsigned class_of(size_t total)
{
	unsigned c = 0;

	while (class_bytes(c) < total)
		c++;
	return c;
}

static void *tls_memory_calloc(size_t count, size_t size)
{
	struct tls_memory_header *h;
	size_t total, page, mapped_len;
	unsigned c;

	if (size && count > (SIZE_MAX - 2 * sizeof(*h)) / size)
		return NULL;
	total = count * size + sizeof(*h);
	if (total < TLS_MEMORY_MAP_MIN) {
		c = class_of(total);
		if (cache[c]) {
			h = (struct tls_memory_header *)cache[c];
			cache[c] = cache[c]->next;
			cache_bytes -= class_bytes(c);
		} else {
			h = malloc(class_bytes(c));
			if (!h)
				return NULL;
		}
		memset(h, 0, total);
		h->size_class = c + 1;
		return h + 1;
	}
	page = (size_t)sysconf(_SC_PAGESIZE);
	if (total > SIZE_MAX - page)
		return NULL;
	mapped_len = (total + page - 1) & ~(page - 1);
	h = mmap(NULL, mapped_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h == MAP_FAILED)
		return NULL;
	h->mapped_len = mapped_len;
	return h + 1;
}

static void tls_memory_free(void *block)
{
	struct tls_memory_header *h;
	struct tls_memory_free_block *f;
	unsigned c;

	if (!block)
		return;
	h = (struct tls_memory_header *)block - 1;
	if (h->mapped_len) {
		munmap(h, h->mapped_len);
		return;
	}
	c = (unsigned)h->size_class - 1;
	if (cache_bytes + class_bytes(c) > TLS_MEMORY_CACHE_MAX) {
		free(h);
		return;
	}
	f = (struct tls_memory_free_block *)h;
	f->next = cache[c];
	cache[c] = f;
	cache_bytes += class_bytes(c);
}

void egress_tls_memory_thread_release(void)
{
	unsigned c;

	for (c = 0; c < TLS_MEMORY_CLASSES; c++) {
		while (cache[c]) {
			struct tls_memory_free_block *f = cache[c];

			cache[c] = f->next;
			free(f);
		}
	}
	cache_bytes = 0;
}

void egress_tls_memory_install(void)
{
	mbedtls_platform_set_calloc_free(tls_memory_calloc, tls_memory_free);
}

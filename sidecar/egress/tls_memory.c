/* mbedTLS's allocations, for memory an idle connection does not use.
 *
 * Every TLS context allocates two record buffers of ~16.7 KiB.  From the
 * heap they would be resident in full for the connection's life, although
 * an idle keep-alive connection has touched a few KiB of each.  Blocks of
 * TLS_MEMORY_MAP_MIN bytes or more are mapped instead: fresh anonymous pages
 * read as zero (calloc's promise) and cost no memory until written.  A
 * bumped connection holds four such buffers (agent side and upstream), so
 * this is most of what a held connection costs. */
#include "egress.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <mbedtls/platform.h>

#define TLS_MEMORY_MAP_MIN (8 * 1024)

/* Sits in front of every block; 16 bytes keep the block's alignment. */
struct tls_memory_header {
	size_t mapped_len; /* 0: from the heap */
	size_t reserved;
};

static void *tls_memory_calloc(size_t count, size_t size)
{
	struct tls_memory_header *h;
	size_t total, page, mapped_len;

	if (size && count > (SIZE_MAX - 2 * sizeof(*h)) / size)
		return NULL;
	total = count * size + sizeof(*h);
	if (total < TLS_MEMORY_MAP_MIN) {
		h = calloc(1, total);
		if (!h)
			return NULL;
		h->mapped_len = 0;
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

	if (!block)
		return;
	h = (struct tls_memory_header *)block - 1;
	if (h->mapped_len)
		munmap(h, h->mapped_len);
	else
		free(h);
}

void egress_tls_memory_install(void)
{
	mbedtls_platform_set_calloc_free(tls_memory_calloc, tls_memory_free);
}

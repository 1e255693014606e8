/* Packs written from the repository's packs (pack_reuse.h).  The formats
 * are gitformat-pack(5): an index v2 (fan-out, sorted ids, CRC-32s,
 * offsets) beside each pack, and pack entries whose header holds a type
 * and a size, then for OFS_DELTA a backwards offset and for REF_DELTA
 * the base's id, then zlib data. */
#include "pack_reuse.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/sha1.h>
#include <zlib.h>

#include "upload_pack.h"
#include "../../shared/log.h"

#define OID_LEN 20
#define IDX_HEADER (8 + 256 * 4)
#define PACK_HEADER 12
/* Packs one reader maps.  Each is two mappings (no descriptor: a pack's
 * file is closed once mapped), and 64 sessions at this bound stay far
 * under the kernel's 65530 mappings a process.  Past it, objects of the
 * packs left out are compressed afresh: slower, still right.  Merging
 * (pack_merge.h) keeps a repository well under it. */
#define MAX_PACKS 128

enum entry_type { ENTRY_OFS_DELTA = 6, ENTRY_REF_DELTA = 7 };

struct pack_file {
	const unsigned char *idx, *pack;
	size_t idx_len, pack_len;
	uint32_t count;
	const unsigned char *ids, *crcs, *offsets, *large_offsets;
	size_t nlarge;
	/* Built on first use: the offsets in order, the entry at each, and
	 * each entry's place in that order (to find where it ends). */
	uint64_t *sorted_offsets;
	uint32_t *by_offset;
	uint32_t *rank;
};

struct pack_reuse {
	struct pack_file *packs;
	size_t npacks;
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void *map_file(const char *path, size_t *len)
{
	struct stat st;
	void *p = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0 && st.st_size > 0) {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED)
			p = NULL;
		else
			*len = (size_t)st.st_size;
	}
	close(fd);
	return p;
}

static void pack_unmap(struct pack_file *f)
{
	if (f->idx)
		munmap((void *)f->idx, f->idx_len);
	if (f->pack)
		munmap((void *)f->pack, f->pack_len);
	free(f->sorted_offsets);
	free(f->by_offset);
	free(f->rank);
	*f = (struct pack_file){ 0 };
}

/* Map one pack and its index, checking the index's shape: 0, or -EINVAL
 * for a file that is not what it says (skipped by the caller). */
static int pack_map(struct pack_file *f, const char *idx_path)
{
	char pack_path[4096];
	size_t len = strlen(idx_path), table;

	*f = (struct pack_file){ 0 };
	if (len < 4 || len >= sizeof(pack_path))
		return -EINVAL;
	memcpy(pack_path, idx_path, len - 4);
	memcpy(pack_path + len - 4, ".pack", 6);
	f->idx = map_file(idx_path, &f->idx_len);
	f->pack = map_file(pack_path, &f->pack_len);
	if (!f->idx || !f->pack || f->idx_len < IDX_HEADER + 2 * OID_LEN ||
	    memcmp(f->idx, "\377tOc", 4) != 0 || be32(f->idx + 4) != 2)
		goto bad;
	f->count = be32(f->idx + 8 + 255 * 4);
	table = (size_t)f->count * (OID_LEN + 4 + 4);
	if (table > f->idx_len - IDX_HEADER - 2 * OID_LEN)
		goto bad;
	f->ids = f->idx + IDX_HEADER;
	f->crcs = f->ids + (size_t)f->count * OID_LEN;
	f->offsets = f->crcs + (size_t)f->count * 4;
	f->large_offsets = f->offsets + (size_t)f->count * 4;
	f->nlarge = (f->idx_len - IDX_HEADER - 2 * OID_LEN - table) / 8;
	if (f->pack_len < PACK_HEADER + OID_LEN || memcmp(f->pack, "PACK", 4) != 0 ||
	    be32(f->pack + 4) != 2 || be32(f->pack + 8) != f->count ||
	    memcmp(f->pack + f->pack_len - OID_LEN, f->idx + f->idx_len - 2 * OID_LEN, OID_LEN) != 0)
		goto bad;
	return 0;
bad:
	pack_unmap(f);
	return -EINVAL;
}

/* Map <dir_path>/<name> (an .idx) and its pack into r: 0, -EINVAL when
 * it is not a usable pack, -ENOMEM or -ENAMETOOLONG. */
static int pack_add(struct pack_reuse *r, const char *dir_path, const char *name)
{
	char path[4096];
	struct pack_file *packs;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir_path, name) >= sizeof(path))
		return -ENAMETOOLONG;
	packs = realloc(r->packs, (r->npacks + 1) * sizeof(*packs));
	if (!packs)
		return -ENOMEM;
	r->packs = packs;
	if (pack_map(&r->packs[r->npacks], path) < 0)
		return -EINVAL;
	r->npacks++;
	return 0;
}

int pack_reuse_open(struct pack_reuse **out, const char *repo_path, char *err, size_t err_len)
{
	struct pack_reuse *r = NULL;
	char dir_path[4096];
	struct dirent *d;
	DIR *dir;
	int ret = -ENOMEM;

	*out = NULL;
	if ((size_t)snprintf(dir_path, sizeof(dir_path), "%s/objects/pack", repo_path) >=
	    sizeof(dir_path)) {
		error_format(err, err_len, "the repository path is too long");
		return -ENAMETOOLONG;
	}
	dir = opendir(dir_path);
	if (!dir)
		return 0; /* no packs: nothing to reuse */
	r = calloc(1, sizeof(*r));
	if (!r)
		goto out;
	while ((d = readdir(dir)) != NULL && r->npacks < MAX_PACKS) {
		size_t len = strlen(d->d_name);

		if (len < 5 || strcmp(d->d_name + len - 4, ".idx") != 0)
			continue;
		/* A pack being written or removed meanwhile is simply not used. */
		if (pack_add(r, dir_path, d->d_name) == -ENOMEM)
			goto out;
	}
	ret = 0;
out:
	closedir(dir);
	if (ret < 0 || (r && r->npacks == 0)) {
		pack_reuse_close(r);
		r = NULL;
	}
	if (ret < 0)
		error_format(err, err_len, "out of memory reading the packs");
	*out = r;
	return ret;
}

int pack_reuse_open_packs(struct pack_reuse **out, const char *pack_dir, char *const *names,
			  size_t n, char *err, size_t err_len)
{
	struct pack_reuse *r = calloc(1, sizeof(*r));
	int ret = -ENOMEM;

	*out = NULL;
	if (!r) {
		error_format(err, err_len, "out of memory");
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		ret = pack_add(r, pack_dir, names[i]);
		if (ret < 0) {
			error_format(err, err_len, "cannot read the pack %s: %s", names[i],
				     ret == -EINVAL ? "not a pack with a v2 index" : strerror(-ret));
			pack_reuse_close(r);
			return ret;
		}
	}
	*out = r;
	return 0;
}

int pack_reuse_ids(struct pack_reuse *r, struct oid_array *out)
{
	struct oid_map seen = OID_MAP_INIT;
	int ret = 0;

	for (size_t i = 0; i < r->npacks && ret == 0; i++) {
		const struct pack_file *f = &r->packs[i];

		for (uint32_t e = 0; e < f->count && ret == 0; e++) {
			git_oid oid;
			bool added;

			memcpy(oid.id, f->ids + (size_t)e * OID_LEN, OID_LEN);
			ret = oid_map_put(&seen, &oid, 0, &added);
			if (ret == 0 && added)
				ret = oid_array_push(out, &oid);
		}
	}
	oid_map_release(&seen);
	return ret;
}

void pack_reuse_close(struct pack_reuse *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->npacks; i++)
		pack_unmap(&r->packs[i]);
	free(r->packs);
	free(r);
}

static bool entry_find(const struct pack_file *f, const git_oid *oid, uint32_t *entry)
{
	uint32_t lo = oid->id[0] ? be32(f->idx + 8 + (oid->id[0] - 1) * 4) : 0;
	uint32_t hi = be32(f->idx + 8 + oid->id[0] * 4);

	if (hi > f->count || lo > hi)
		return false;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = memcmp(f->ids + (size_t)mid * OID_LEN, oid->id, OID_LEN);

		if (c == 0) {
			*entry = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* The first pack holding oid: always the same one for the same id. */
static bool object_find(const struct pack_reuse *r, const git_oid *oid, size_t *pack,
			uint32_t *entry)
{
	for (size_t i = 0; i < r->npacks; i++) {
		if (entry_find(&r->packs[i], oid, entry)) {
			*pack = i;
			return true;
		}
	}
	return false;
}

size_t pack_reuse_found(struct pack_reuse *r, const struct oid_array *objects)
{
	size_t found = 0, pack;
	uint32_t entry;

	for (size_t i = 0; i < objects->n; i++)
		found += object_find(r, &objects->v[i], &pack, &entry);
	return found;
}

/* An entry's offset in its pack, or UINT64_MAX when the index is bad. */
static uint64_t entry_offset(const struct pack_file *f, uint32_t entry)
{
	uint32_t off = be32(f->offsets + (size_t)entry * 4);
	const unsigned char *p;

	if (!(off & 0x80000000u))
		return off;
	off &= 0x7fffffffu;
	if (off >= f->nlarge)
		return UINT64_MAX;
	p = f->large_offsets + (size_t)off * 8;
	return (uint64_t)be32(p) << 32 | be32(p + 4);
}

struct offset_entry {
	uint64_t offset;
	uint32_t entry;
};

static int offset_compare(const void *a, const void *b)
{
	uint64_t x = ((const struct offset_entry *)a)->offset;
	uint64_t y = ((const struct offset_entry *)b)->offset;
	return x < y ? -1 : x > y;
}

/* Entries in offset order, to know where each ends. */
static int pack_sort_offsets(struct pack_file *f)
{
	struct offset_entry *sorted;

	if (f->by_offset)
		return 0;
	sorted = malloc((size_t)f->count * sizeof(*sorted) + 1);
	f->sorted_offsets = malloc((size_t)f->count * sizeof(*f->sorted_offsets) + 1);
	f->by_offset = malloc((size_t)f->count * sizeof(*f->by_offset) + 1);
	f->rank = malloc((size_t)f->count * sizeof(*f->rank) + 1);
	if (!sorted || !f->sorted_offsets || !f->by_offset || !f->rank) {
		free(sorted);
		free(f->sorted_offsets);
		free(f->by_offset);
		free(f->rank);
		f->sorted_offsets = NULL;
		f->by_offset = f->rank = NULL;
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < f->count; i++)
		sorted[i] = (struct offset_entry){ entry_offset(f, i), i };
	qsort(sorted, f->count, sizeof(*sorted), offset_compare);
	for (uint32_t i = 0; i < f->count; i++) {
		f->sorted_offsets[i] = sorted[i].offset;
		f->by_offset[i] = sorted[i].entry;
		f->rank[sorted[i].entry] = i;
	}
	free(sorted);
	return 0;
}

/* The entry starting at offset, by binary search over the sorted offsets. */
static bool entry_at_offset(const struct pack_file *f, uint64_t offset, uint32_t *entry)
{
	uint32_t lo = 0, hi = f->count;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		uint64_t at = f->sorted_offsets[mid];

		if (at == offset) {
			*entry = f->by_offset[mid];
			return true;
		}
		if (at < offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

struct entry {
	const unsigned char *start, *end; /* the whole entry */
	const unsigned char *data;        /* its zlib data */
	int type;
	uint64_t size;
	git_oid base;                     /* a delta's base */
	bool has_base;
};

/* Parse the entry's header, find its end and check its CRC-32: 0, or
 * -EINVAL when anything is off (the caller then sends the object whole). */
static int entry_read(const struct pack_file *f, uint32_t number, struct entry *e)
{
	uint64_t offset = entry_offset(f, number), end_offset;
	uint32_t rank = f->rank[number];
	const unsigned char *p, *limit = f->pack + f->pack_len - OID_LEN;
	unsigned shift = 4;

	end_offset = rank + 1 < f->count ? f->sorted_offsets[rank + 1] : f->pack_len - OID_LEN;
	if (offset < PACK_HEADER || offset >= end_offset || end_offset > f->pack_len - OID_LEN)
		return -EINVAL;
	*e = (struct entry){ .start = f->pack + offset, .end = f->pack + end_offset };
	p = e->start;
	e->type = (*p >> 4) & 7;
	e->size = *p & 15;
	while (*p++ & 0x80) {
		if (p >= e->end || shift > 57)
			return -EINVAL;
		e->size |= (uint64_t)(*p & 0x7f) << shift;
		shift += 7;
	}
	if (e->type == ENTRY_OFS_DELTA) {
		uint64_t back, base_offset;
		uint32_t base;

		if (p >= e->end)
			return -EINVAL;
		back = *p & 0x7f;
		while (*p++ & 0x80) {
			if (p >= e->end || back > (UINT64_MAX >> 8))
				return -EINVAL;
			back = ((back + 1) << 7) | (*p & 0x7f);
		}
		if (back == 0 || back > offset)
			return -EINVAL;
		base_offset = offset - back;
		if (!entry_at_offset(f, base_offset, &base))
			return -EINVAL;
		memcpy(e->base.id, f->ids + (size_t)base * OID_LEN, OID_LEN);
		e->has_base = true;
	} else if (e->type == ENTRY_REF_DELTA) {
		if ((size_t)(e->end - p) < OID_LEN)
			return -EINVAL;
		memcpy(e->base.id, p, OID_LEN);
		p += OID_LEN;
		e->has_base = true;
	} else if (e->type < GIT_OBJECT_COMMIT || e->type > GIT_OBJECT_TAG) {
		return -EINVAL;
	}
	if (p >= e->end || e->end > limit)
		return -EINVAL;
	e->data = p;
	if (crc32(0, e->start, (uInt)(e->end - e->start)) != be32(f->crcs + (size_t)number * 4))
		return -EINVAL;
	return 0;
}

struct writer {
	const struct pack_reuse_sink *sink;
	mbedtls_sha1_context sha;
	uint64_t offset; /* bytes written so far */
	uint32_t crc;    /* of the current entry, when the sink indexes */
};

static int out_write(struct writer *w, const void *p, size_t len)
{
	mbedtls_sha1_update(&w->sha, p, len);
	if (w->sink->entry)
		w->crc = (uint32_t)crc32(w->crc, p, (uInt)len);
	w->offset += len;
	return w->sink->write(w->sink->ctx, p, len);
}

/* OFS_DELTA's distance back to the base: big-endian 7-bit groups, each
 * but the last meaning one more than it says (gitformat-pack(5)). */
static int distance_write(struct writer *w, uint64_t distance)
{
	unsigned char b[16];
	size_t at = sizeof(b) - 1;

	b[at] = distance & 0x7f;
	while (distance >>= 7)
		b[--at] = 0x80 | (--distance & 0x7f);
	return out_write(w, b + at, sizeof(b) - at);
}

/* Where each object comes from, to write them in the packs' own order:
 * a delta's base then always comes first, as OFS_DELTA needs, and the
 * packs are read front to back. */
struct source {
	size_t object;  /* index in the object list */
	size_t pack;    /* SIZE_MAX: not in a pack */
	uint32_t entry;
	uint64_t offset;
};

static int source_compare(const void *a, const void *b)
{
	const struct source *x = a, *y = b;

	if (x->pack != y->pack)
		return x->pack < y->pack ? -1 : 1;
	if (x->offset != y->offset)
		return x->offset < y->offset ? -1 : 1;
	return x->object < y->object ? -1 : x->object > y->object;
}

static int header_write(struct writer *w, int type, uint64_t size)
{
	unsigned char h[16];
	size_t n = 0;

	h[n] = (unsigned char)(type << 4 | (size & 15));
	size >>= 4;
	while (size) {
		h[n++] |= 0x80;
		h[n] = size & 0x7f;
		size >>= 7;
	}
	return out_write(w, h, n + 1);
}

/* The object read whole and compressed, streamed in 16 KiB pieces. */
static int whole_write(struct writer *w, git_odb *odb, const git_oid *oid, char *err,
		       size_t err_len)
{
	git_odb_object *object = NULL;
	unsigned char out[16384]; /* a session thread has a 1 MiB stack */
	z_stream z = { 0 };
	int ret = -EIO, flush = Z_NO_FLUSH;

	if (git_odb_read(&object, odb, oid) < 0) {
		error_format(err, err_len, "cannot read object: %s", upload_git_error());
		return -EIO;
	}
	ret = header_write(w, git_odb_object_type(object), git_odb_object_size(object));
	if (ret < 0)
		goto out;
	if (deflateInit(&z, Z_DEFAULT_COMPRESSION) != Z_OK) {
		ret = -ENOMEM;
		goto out;
	}
	z.next_in = (unsigned char *)git_odb_object_data(object);
	z.avail_in = (uInt)git_odb_object_size(object);
	for (;;) {
		int z_ret;

		flush = z.avail_in == 0 ? Z_FINISH : Z_NO_FLUSH;
		z.next_out = out;
		z.avail_out = sizeof(out);
		z_ret = deflate(&z, flush);
		if (z_ret == Z_STREAM_ERROR) {
			error_format(err, err_len, "compressing an object failed");
			ret = -EIO;
			break;
		}
		ret = out_write(w, out, sizeof(out) - z.avail_out);
		if (ret < 0 || z_ret == Z_STREAM_END)
			break;
	}
	deflateEnd(&z);
out:
	git_odb_object_free(object);
	return ret;
}

/* One object at the writer's offset: its entry copied (a delta as an
 * OFS_DELTA or REF_DELTA against the same base) or written whole. */
static int object_write(struct pack_reuse *r, struct writer *w, git_odb *odb,
			const struct oid_map *index, const uint64_t *written_at,
			const struct source *src, const git_oid *oid, bool ofs_delta,
			struct pack_reuse_stats *stats, char *err, size_t err_len)
{
	size_t base_pack = 0;
	uint32_t base_entry;
	int *base, ret;
	struct entry e;

	if (src->pack == SIZE_MAX || entry_read(&r->packs[src->pack], src->entry, &e) < 0) {
		stats->compressed++;
		return whole_write(w, odb, oid, err, err_len);
	}
	if (!e.has_base) {
		/* Stored whole: its header and data as they are. */
		stats->reused_whole++;
		return out_write(w, e.start, (size_t)(e.end - e.start));
	}
	/* A delta only when its base goes too, from this same pack:
	 * then the pack's own delta graph (which has no cycles) is
	 * all the client has to resolve. */
	base = oid_map_get(index, &e.base);
	if (!base || !object_find(r, &e.base, &base_pack, &base_entry) ||
	    base_pack != src->pack) {
		stats->compressed++;
		return whole_write(w, odb, oid, err, err_len);
	}
	stats->reused_deltas++;
	if (ofs_delta && written_at[*base] != UINT64_MAX) {
		uint64_t distance = written_at[src->object] - written_at[*base];
		ret = header_write(w, ENTRY_OFS_DELTA, e.size);
		if (ret == 0)
			ret = distance_write(w, distance);
	} else {
		ret = header_write(w, ENTRY_REF_DELTA, e.size);
		if (ret == 0)
			ret = out_write(w, e.base.id, OID_LEN);
	}
	if (ret == 0)
		ret = out_write(w, e.data, (size_t)(e.end - e.data));
	return ret;
}

int pack_reuse_write(struct pack_reuse *r, git_repository *repo, const struct oid_array *objects,
		     bool ofs_delta, int (*write)(void *ctx, const void *p, size_t len), void *ctx,
		     struct pack_reuse_stats *stats, char *err, size_t err_len)
{
	const struct pack_reuse_sink sink = { .write = write, .ctx = ctx };

	return pack_reuse_write_sink(r, repo, objects, ofs_delta, &sink, stats, err, err_len);
}

int pack_reuse_write_sink(struct pack_reuse *r, git_repository *repo,
			  const struct oid_array *objects, bool ofs_delta,
			  const struct pack_reuse_sink *sink, struct pack_reuse_stats *stats,
			  char *err, size_t err_len)
{
	struct writer w = { .sink = sink };
	unsigned char header[PACK_HEADER] = { 'P', 'A', 'C', 'K', 0, 0, 0, 2 };
	unsigned char trailer[OID_LEN];
	struct oid_map index = OID_MAP_INIT; /* id -> its place in objects */
	struct source *sources = NULL;
	uint64_t *written_at = NULL;         /* UINT64_MAX: not yet */
	git_odb *odb = NULL;
	int ret = -ENOMEM;

	*stats = (struct pack_reuse_stats){ .objects = objects->n };
	if (objects->n > INT32_MAX) {
		error_format(err, err_len, "too many objects for one pack");
		return -E2BIG;
	}
	if (git_repository_odb(&odb, repo) < 0) {
		error_format(err, err_len, "cannot open the object store: %s", upload_git_error());
		return -EIO;
	}
	sources = malloc(objects->n * sizeof(*sources) + 1);
	written_at = malloc(objects->n * sizeof(*written_at) + 1);
	if (!sources || !written_at)
		goto out;
	for (size_t i = 0; i < objects->n; i++) {
		struct source *src = &sources[i];

		*src = (struct source){ .object = i, .pack = SIZE_MAX };
		written_at[i] = UINT64_MAX;
		ret = oid_map_put(&index, &objects->v[i], (int)i, NULL);
		if (ret < 0)
			goto out;
		if (object_find(r, &objects->v[i], &src->pack, &src->entry)) {
			if (pack_sort_offsets(&r->packs[src->pack]) < 0) {
				ret = -ENOMEM;
				goto out;
			}
			src->offset = entry_offset(&r->packs[src->pack], src->entry);
		} else {
			src->pack = SIZE_MAX;
		}
	}
	qsort(sources, objects->n, sizeof(*sources), source_compare);

	mbedtls_sha1_init(&w.sha);
	mbedtls_sha1_starts(&w.sha);
	header[8] = (unsigned char)(objects->n >> 24);
	header[9] = (unsigned char)(objects->n >> 16);
	header[10] = (unsigned char)(objects->n >> 8);
	header[11] = (unsigned char)objects->n;
	ret = out_write(&w, header, sizeof(header));
	for (size_t i = 0; i < objects->n && ret == 0; i++) {
		const struct source *src = &sources[i];

		written_at[src->object] = w.offset;
		w.crc = 0;
		ret = object_write(r, &w, odb, &index, written_at, src, &objects->v[src->object],
				   ofs_delta, stats, err, err_len);
		if (ret == 0 && sink->entry)
			ret = sink->entry(sink->ctx, &objects->v[src->object],
					  written_at[src->object], w.crc);
	}
	if (ret == 0) {
		mbedtls_sha1_finish(&w.sha, trailer);
		ret = sink->write(sink->ctx, trailer, sizeof(trailer));
	}
	mbedtls_sha1_free(&w.sha);
out:
	if (ret == -ENOMEM && !*err)
		error_format(err, err_len, "out of memory");
	free(sources);
	free(written_at);
	oid_map_release(&index);
	git_odb_free(odb);
	return ret;
}

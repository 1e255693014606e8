/* Merging a repository's packs (pack_merge.h).
 *
 * Which packs: sorted by size, the smallest ones whose sizes do not yet
 * grow geometrically (each kept pack at least twice all the smaller ones
 * together), and at least enough to bring the count to half the
 * threshold.  The big pack a mirror starts with stays as it is, so a
 * merge copies roughly what was pushed since the last one, and a
 * repository holds about log2(its size) packs plus what came since.
 *
 * The new pack is written by pack_reuse_write_sink(): each object once,
 * from the first merged pack holding it, in the packs' own order; an entry
 * stored whole is copied as it is, a delta kept when its base comes from
 * the same pack (so the merged delta graph has no cycles: each pack's has
 * none and none crosses packs) as an OFS_DELTA when the base is already
 * written, else a REF_DELTA; anything else is written whole.  Every base
 * is then in the new pack itself.  The index (v2, gitformat-pack(5)) is
 * written from the offsets and CRC-32s the writer reports, so nothing is
 * inflated or hashed twice.
 *
 * On disk, in order: the pack and index as tmp_gitgate_merge_* files,
 * synced; renamed to pack-<checksum>.pack, then .idx (readers find packs
 * by their index); the directory synced; then each old pack marked
 * retired; then removed if no reader is left.  A kill -9 at any point
 * leaves every object in some live pack: at worst temporary files, a
 * .pack without its index, or objects in two packs, which the next run
 * (under the same lock) removes or merges. */
#include "pack_merge.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <mbedtls/sha1.h>

#include "pack_reuse.h"
#include "upload_pack.h"
#include "../../shared/log.h"

#define OID_LEN 20
#define LOCK_NAME "gitgate-packs.lock"
#define RETIRED_DIR "gitgate-retired"
#define TEMP_PREFIX "tmp_gitgate_merge_"
/* What libgit2's indexer names its files while a fetch writes them. */
#define LIBGIT2_TEMP_PREFIX "pack_git2_"
#define PACK_NAME_MAX 80 /* "pack-" and a SHA-256 in hex, with room */
#define WRITE_CHUNK (64 * 1024)
/* Each kept pack is at least this many times all smaller ones together. */
#define GEOMETRIC_FACTOR 2

/* ---- the readers lock ---- */

/* Open <repo>/<name> and flock it with operation: the descriptor, or a
 * negative errno (-EWOULDBLOCK for LOCK_NB when someone holds it). */
static int lock_take(const char *repo_path, const char *name, int open_flags, int operation)
{
	char path[4096];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", repo_path, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, open_flags | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, operation) < 0) {
		int ret = -errno;

		if (ret != -EINTR) {
			close(fd);
			return ret;
		}
	}
	return fd;
}

int pack_readers_lock(const char *repo_path)
{
	return lock_take(repo_path, LOCK_NAME, O_RDONLY, LOCK_SH);
}

void pack_readers_unlock(const char *repo_path, int fd)
{
	if (fd < 0)
		return;
	close(fd); /* drops this session's share of the lock */
	pack_retired_sweep(repo_path);
}

/* "pack-" then lowercase hex: a name this module may act on. */
static bool pack_name_valid(const char *name, size_t len)
{
	if (len <= 5 || len >= PACK_NAME_MAX || strncmp(name, "pack-", 5) != 0)
		return false;
	for (size_t i = 5; i < len; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* Remove a pack's files, the index first so nobody lists it meanwhile:
 * 0, or the first failure's negative errno (not ENOENT). */
static int pack_files_remove(const char *repo_path, const char *name)
{
	static const char *const extensions[] = { ".idx", ".pack", ".rev", ".bitmap" };
	char path[4096];
	int ret = 0;

	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/objects/pack/%s%s", repo_path, name,
				     extensions[i]) >= sizeof(path))
			return -ENAMETOOLONG;
		if (unlink(path) < 0 && errno != ENOENT && ret == 0)
			ret = -errno;
	}
	return ret;
}

size_t pack_retired_sweep(const char *repo_path)
{
	char dir_path[4096], path[4096];
	size_t removed = 0;
	struct dirent *d;
	DIR *dir;
	int fd;

	if ((size_t)snprintf(dir_path, sizeof(dir_path), "%s/" RETIRED_DIR, repo_path) >=
	    sizeof(dir_path))
		return 0;
	dir = opendir(dir_path);
	if (!dir)
		return 0; /* the common case: nothing retired */
	/* A reader still there sweeps when it leaves. */
	fd = lock_take(repo_path, LOCK_NAME, O_RDONLY, LOCK_EX | LOCK_NB);
	if (fd < 0)
		goto out;
	while ((d = readdir(dir)) != NULL) {
		if (!pack_name_valid(d->d_name, strlen(d->d_name)))
			continue;
		if (pack_files_remove(repo_path, d->d_name) < 0) {
			log_warn("%s: cannot remove the retired pack %s: %s", repo_path, d->d_name,
				 strerror(errno));
			continue;
		}
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir_path, d->d_name) <
		    sizeof(path))
			unlink(path);
		removed++;
	}
	/* Empty again: readers find no directory and skip all this.  Fails
	 * (harmlessly) while a merge is adding markers. */
	rmdir(dir_path);
out:
	if (fd >= 0)
		close(fd);
	closedir(dir);
	return removed;
}

/* Mark a pack retired (its objects are in a newer pack): 0 or -errno. */
static int pack_retire(const char *repo_path, const char *name)
{
	char dir_path[4096], path[4096];
	int fd = -1, ret = 0;

	if ((size_t)snprintf(dir_path, sizeof(dir_path), "%s/" RETIRED_DIR, repo_path) >=
		    sizeof(dir_path) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", dir_path, name) >= sizeof(path))
		return -ENAMETOOLONG;
	/* A sweeper may remove the directory between the two: try again. */
	for (int attempt = 0; attempt < 3 && fd < 0; attempt++) {
		if (mkdir(dir_path, 0700) < 0 && errno != EEXIST)
			return -errno;
		fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
		ret = fd < 0 ? -errno : 0;
		if (ret < 0 && ret != -ENOENT)
			break;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

static bool pack_is_retired(const char *repo_path, const char *name)
{
	char path[4096];

	return (size_t)snprintf(path, sizeof(path), "%s/" RETIRED_DIR "/%s", repo_path, name) <
		       sizeof(path) &&
	       access(path, F_OK) == 0;
}

/* ---- what an interrupted merge or fetch left ---- */

/* Temporary files, and a .pack (or .rev) whose index never arrived.  Only
 * under the push lock: every writer of objects/pack holds it. */
static size_t leftovers_remove(const char *pack_dir)
{
	char path[4096], idx[4096];
	size_t removed = 0;
	struct dirent *d;
	DIR *dir = opendir(pack_dir);

	if (!dir)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		const char *name = d->d_name;
		size_t len = strlen(name), base = 0;
		bool stale = strncmp(name, TEMP_PREFIX, strlen(TEMP_PREFIX)) == 0 ||
			     strncmp(name, LIBGIT2_TEMP_PREFIX, strlen(LIBGIT2_TEMP_PREFIX)) == 0;

		if (!stale && len > 5 && strcmp(name + len - 5, ".pack") == 0)
			base = len - 5;
		else if (!stale && len > 4 && strcmp(name + len - 4, ".rev") == 0)
			base = len - 4;
		if (base && pack_name_valid(name, base) &&
		    (size_t)snprintf(idx, sizeof(idx), "%s/%.*s.idx", pack_dir, (int)base, name) <
			    sizeof(idx))
			stale = access(idx, F_OK) < 0 && errno == ENOENT;
		if (!stale ||
		    (size_t)snprintf(path, sizeof(path), "%s/%s", pack_dir, name) >= sizeof(path))
			continue;
		if (unlink(path) == 0) {
			log_info("removed %s, left by an interrupted merge or fetch", path);
			removed++;
		}
	}
	closedir(dir);
	return removed;
}

/* ---- choosing ---- */

struct pack_info {
	char name[PACK_NAME_MAX]; /* "pack-<hex>" */
	uint64_t size;            /* of the .pack */
};

static int pack_info_compare(const void *a, const void *b)
{
	const struct pack_info *x = a, *y = b;

	if (x->size != y->size)
		return x->size < y->size ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The live packs: indexed, not retired, not kept (.keep, as git). */
static int packs_list(const char *repo_path, const char *pack_dir, struct pack_info **out,
		      size_t *n)
{
	struct pack_info *packs = NULL;
	size_t count = 0, cap = 0;
	char path[4096];
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir(pack_dir);
	int ret = 0;

	*out = NULL;
	*n = 0;
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	while ((d = readdir(dir)) != NULL) {
		size_t len = strlen(d->d_name);
		struct pack_info info = { 0 };

		if (len <= 4 || strcmp(d->d_name + len - 4, ".idx") != 0 ||
		    !pack_name_valid(d->d_name, len - 4))
			continue;
		memcpy(info.name, d->d_name, len - 4);
		if (pack_is_retired(repo_path, info.name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.keep", pack_dir, info.name) <
			    sizeof(path) &&
		    access(path, F_OK) == 0)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s.pack", pack_dir, info.name) >=
			    sizeof(path) ||
		    stat(path, &st) < 0)
			continue;
		info.size = (uint64_t)st.st_size;
		if (count == cap) {
			size_t grown = cap ? cap * 2 : 32;
			struct pack_info *more = realloc(packs, grown * sizeof(*packs));

			if (!more) {
				ret = -ENOMEM;
				break;
			}
			packs = more;
			cap = grown;
		}
		packs[count++] = info;
	}
	closedir(dir);
	if (ret < 0) {
		free(packs);
		return ret;
	}
	if (count > 0) /* no packs: packs is NULL, which qsort may not take */
		qsort(packs, count, sizeof(*packs), pack_info_compare);
	*out = packs;
	*n = count;
	return 0;
}

/* How many of the smallest packs (sorted ascending) to merge: 0 when there
 * are no more than threshold. */
static size_t merge_count(const struct pack_info *packs, size_t n, size_t threshold)
{
	uint64_t below = 0; /* all packs smaller than the one looked at */
	size_t count = 0, least;

	if (n <= threshold || n < 2)
		return 0;
	/* The last pack that breaks the progression, and all below it. */
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && packs[i].size / GEOMETRIC_FACTOR < below)
			count = i + 1;
		below += packs[i].size;
	}
	/* Down to half the threshold at least, so the next merge is a few
	 * pushes away rather than the next one. */
	least = n - threshold / 2 + 1;
	if (count < least)
		count = least;
	if (count < 2)
		count = 2;
	return count > n ? n : count;
}

/* ---- writing ---- */

struct merged_entry {
	git_oid oid;
	uint64_t offset;
	uint32_t crc;
};

/* A file written through a buffer, hashed when it is the index. */
struct file_out {
	int fd;
	unsigned char *buf;
	size_t len;
	uint64_t written;
	unsigned char tail[OID_LEN]; /* the last bytes written: a pack's trailer */
	bool hash;
	mbedtls_sha1_context sha;
	/* The pack's entries, in the order written. */
	struct merged_entry *entries;
	size_t nentries, entries_cap;
};

static int file_flush(struct file_out *f)
{
	size_t at = 0;

	while (at < f->len) {
		ssize_t n = write(f->fd, f->buf + at, f->len - at);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		at += (size_t)n;
	}
	f->len = 0;
	return 0;
}

static int file_write(void *ctx, const void *p, size_t len)
{
	struct file_out *f = ctx;
	const unsigned char *bytes = p;
	int ret;

	if (f->hash)
		mbedtls_sha1_update(&f->sha, bytes, len);
	f->written += len;
	if (len >= OID_LEN) {
		memcpy(f->tail, bytes + len - OID_LEN, OID_LEN);
	} else {
		memmove(f->tail, f->tail + len, OID_LEN - len);
		memcpy(f->tail + OID_LEN - len, bytes, len);
	}
	while (len > 0) {
		size_t n = WRITE_CHUNK - f->len < len ? WRITE_CHUNK - f->len : len;

		memcpy(f->buf + f->len, bytes, n);
		f->len += n;
		bytes += n;
		len -= n;
		if (f->len == WRITE_CHUNK && (ret = file_flush(f)) < 0)
			return ret;
	}
	return 0;
}

static int entry_add(void *ctx, const git_oid *oid, uint64_t offset, uint32_t crc)
{
	struct file_out *f = ctx;

	if (f->nentries == f->entries_cap)
		return -E2BIG; /* more objects than listed: cannot happen */
	f->entries[f->nentries++] = (struct merged_entry){ *oid, offset, crc };
	return 0;
}

static int entry_compare(const void *a, const void *b)
{
	return memcmp(((const struct merged_entry *)a)->oid.id,
		      ((const struct merged_entry *)b)->oid.id, OID_LEN);
}

static int be32_write(struct file_out *f, uint32_t v)
{
	unsigned char b[4] = { (unsigned char)(v >> 24), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 8), (unsigned char)v };
	return file_write(f, b, sizeof(b));
}

/* The index v2 of the entries (sorted here) for the pack whose trailer is
 * pack_checksum. */
static int index_write(struct file_out *f, struct merged_entry *entries, size_t n,
		       const unsigned char *pack_checksum)
{
	static const unsigned char header[8] = { 0xff, 't', 'O', 'c', 0, 0, 0, 2 };
	unsigned char checksum[OID_LEN];
	uint32_t large = 0;
	size_t at = 0;
	int ret;

	qsort(entries, n, sizeof(*entries), entry_compare);
	f->hash = true;
	mbedtls_sha1_init(&f->sha);
	mbedtls_sha1_starts(&f->sha);
	ret = file_write(f, header, sizeof(header));
	for (unsigned first = 0; first < 256 && ret == 0; first++) {
		while (at < n && entries[at].oid.id[0] <= first)
			at++;
		ret = be32_write(f, (uint32_t)at);
	}
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = file_write(f, entries[i].oid.id, OID_LEN);
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = be32_write(f, entries[i].crc);
	/* Offsets from 2^31 up go to the table of 8-byte ones. */
	for (size_t i = 0; i < n && ret == 0; i++)
		ret = be32_write(f, entries[i].offset < 0x80000000u ?
					    (uint32_t)entries[i].offset :
					    0x80000000u | large++);
	for (size_t i = 0; i < n && ret == 0; i++)
		if (entries[i].offset >= 0x80000000u) {
			ret = be32_write(f, (uint32_t)(entries[i].offset >> 32));
			if (ret == 0)
				ret = be32_write(f, (uint32_t)entries[i].offset);
		}
	if (ret == 0)
		ret = file_write(f, pack_checksum, OID_LEN);
	if (ret == 0) {
		mbedtls_sha1_finish(&f->sha, checksum);
		f->hash = false;
		ret = file_write(f, checksum, OID_LEN);
	}
	mbedtls_sha1_free(&f->sha);
	if (ret == 0)
		ret = file_flush(f);
	return ret;
}

static int fsync_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

struct merge {
	const char *repo_path, *pack_dir;
	char pack_tmp[4096], idx_tmp[4096]; /* empty once renamed */
	char new_name[PACK_NAME_MAX];
	uint64_t bytes;                     /* of the new pack */
	struct file_out out;
	struct oid_array objects;
	struct pack_reuse *reuse;
	git_repository *repo;
	char **idx_names;
	size_t nidx;
};

static void merge_release(struct merge *m)
{
	if (m->out.fd >= 0)
		close(m->out.fd);
	if (m->pack_tmp[0])
		unlink(m->pack_tmp);
	if (m->idx_tmp[0])
		unlink(m->idx_tmp);
	free(m->out.buf);
	free(m->out.entries);
	oid_array_release(&m->objects);
	pack_reuse_close(m->reuse);
	git_repository_free(m->repo);
	for (size_t i = 0; i < m->nidx; i++)
		free(m->idx_names[i]);
	free(m->idx_names);
}

static int temp_open(struct merge *m, char *path, size_t path_len)
{
	if ((size_t)snprintf(path, path_len, "%s/" TEMP_PREFIX "XXXXXX", m->pack_dir) >= path_len)
		return -ENAMETOOLONG;
	m->out.fd = mkostemp(path, O_CLOEXEC);
	if (m->out.fd < 0) {
		path[0] = '\0';
		return -errno;
	}
	return 0;
}

/* Close the file being written, synced. */
static int temp_close(struct merge *m)
{
	int ret = fsync(m->out.fd) < 0 ? -errno : 0;

	if (close(m->out.fd) < 0 && ret == 0)
		ret = -errno;
	m->out.fd = -1;
	return ret;
}

/* Rename a written temporary file to the new pack's name with extension;
 * tmp is emptied once it is no longer there to remove.  0 or -errno. */
static int temp_rename(struct merge *m, char *tmp, const char *extension)
{
	char path[4096];

	if ((size_t)snprintf(path, sizeof(path), "%s/%s%s", m->pack_dir, m->new_name,
			     extension) >= sizeof(path))
		return -ENAMETOOLONG;
	if (rename(tmp, path) < 0)
		return -errno;
	tmp[0] = '\0';
	return 0;
}

/* Write the new pack and its index, synced, under their final names. */
static int merge_write(struct merge *m, const struct pack_info *packs, size_t count,
		       char *err, size_t err_len)
{
	struct pack_reuse_sink sink = { file_write, entry_add, &m->out };
	struct pack_reuse_stats stats;
	char hex[2 * OID_LEN + 1];
	unsigned char checksum[OID_LEN];
	int ret = -ENOMEM;

	m->idx_names = calloc(count, sizeof(*m->idx_names));
	if (!m->idx_names)
		goto out;
	for (; m->nidx < count; m->nidx++)
		if (asprintf(&m->idx_names[m->nidx], "%s.idx", packs[m->nidx].name) < 0)
			goto out;
	ret = pack_reuse_open_packs(&m->reuse, m->pack_dir, m->idx_names, count, err, err_len);
	if (ret < 0)
		return ret;
	m->objects.max = SIZE_MAX / sizeof(git_oid);
	ret = pack_reuse_ids(m->reuse, &m->objects);
	if (ret < 0)
		goto out;
	m->out.buf = malloc(WRITE_CHUNK);
	m->out.entries = malloc(m->objects.n * sizeof(*m->out.entries) + 1);
	m->out.entries_cap = m->objects.n;
	if (!m->out.buf || !m->out.entries) {
		ret = -ENOMEM;
		goto out;
	}
	if (git_repository_open_bare(&m->repo, m->repo_path) < 0) {
		error_format(err, err_len, "cannot open the repository: %s", upload_git_error());
		return -EIO;
	}
	ret = temp_open(m, m->pack_tmp, sizeof(m->pack_tmp));
	if (ret < 0) {
		error_format(err, err_len, "cannot create a file in %s: %s", m->pack_dir,
			     strerror(-ret));
		return ret;
	}
	ret = pack_reuse_write_sink(m->reuse, m->repo, &m->objects, true, &sink, &stats, err,
				    err_len);
	if (ret == 0)
		ret = file_flush(&m->out);
	if (ret == 0)
		ret = temp_close(m);
	if (ret < 0) {
		if (!err[0])
			error_format(err, err_len, "writing the pack: %s", strerror(-ret));
		return ret;
	}
	memcpy(checksum, m->out.tail, OID_LEN);
	m->bytes = m->out.written;
	ret = temp_open(m, m->idx_tmp, sizeof(m->idx_tmp));
	if (ret == 0)
		ret = index_write(&m->out, m->out.entries, m->out.nentries, checksum);
	if (ret == 0)
		ret = temp_close(m);
	if (ret < 0) {
		error_format(err, err_len, "writing the index: %s", strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < OID_LEN; i++)
		snprintf(hex + 2 * i, 3, "%02x", checksum[i]);
	snprintf(m->new_name, sizeof(m->new_name), "pack-%s", hex);
	/* The pack first: an index found is an index whose pack is there. */
	ret = temp_rename(m, m->pack_tmp, ".pack");
	if (ret == 0)
		ret = temp_rename(m, m->idx_tmp, ".idx");
	if (ret < 0) {
		error_format(err, err_len, "cannot move the new pack in: %s", strerror(-ret));
		return ret;
	}
	/* Durable before any old pack may go. */
	ret = fsync_path(m->pack_dir);
	if (ret < 0)
		error_format(err, err_len, "cannot sync %s: %s", m->pack_dir, strerror(-ret));
out:
	if (ret == -ENOMEM)
		error_format(err, err_len, "out of memory");
	return ret;
}

int pack_merge_run(const char *repo_path, size_t threshold, struct pack_merge_stats *stats,
		   char *err, size_t err_len)
{
	struct merge m = { .repo_path = repo_path, .out = { .fd = -1 } };
	struct pack_info *packs = NULL;
	char pack_dir[4096];
	size_t n = 0, count;
	int ret, readers;

	*stats = (struct pack_merge_stats){ 0 };
	if ((size_t)snprintf(pack_dir, sizeof(pack_dir), "%s/objects/pack", repo_path) >=
	    sizeof(pack_dir)) {
		error_format(err, err_len, "the repository path is too long");
		return -ENAMETOOLONG;
	}
	m.pack_dir = pack_dir;
	stats->leftovers = leftovers_remove(pack_dir);
	stats->removed = pack_retired_sweep(repo_path);
	ret = packs_list(repo_path, pack_dir, &packs, &n);
	if (ret < 0) {
		error_format(err, err_len, "cannot list the packs: %s", strerror(-ret));
		return ret;
	}
	stats->packs_before = n;
	count = merge_count(packs, n, threshold);
	if (count == 0)
		goto out;
	/* A reader ourselves while the old packs are read: a sweep by the
	 * last reader of another session must not remove what we read. */
	readers = pack_readers_lock(repo_path);
	ret = merge_write(&m, packs, count, err, err_len);
	if (ret == 0) {
		stats->packs_merged = count;
		stats->objects = m.out.nentries;
		stats->bytes = m.bytes;
		for (size_t i = 0; i < count; i++) {
			int r;

			if (strcmp(packs[i].name, m.new_name) == 0)
				continue; /* the same objects in the same order: kept */
			r = pack_retire(repo_path, packs[i].name);
			if (r < 0)
				log_warn("%s: cannot mark %s retired (%s); it stays, its objects "
					 "twice", repo_path, packs[i].name, strerror(-r));
		}
	}
	if (readers >= 0)
		close(readers);
	if (ret < 0)
		goto out;
	stats->removed += pack_retired_sweep(repo_path);
out:
	merge_release(&m);
	free(packs);
	return ret;
}

void pack_merge_after_write(const char *name, const char *repo_path)
{
	struct pack_merge_stats stats;
	char err[256] = "";

	if (pack_merge_run(repo_path, PACK_MERGE_THRESHOLD, &stats, err, sizeof(err)) < 0) {
		log_warn("%s: merging the packs failed (%s); the old packs stay", name, err);
		return;
	}
	if (stats.packs_merged)
		log_info("%s: merged %zu of %zu packs into one (%zu objects, %llu bytes); "
			 "%zu old packs removed", name, stats.packs_merged, stats.packs_before,
			 stats.objects, (unsigned long long)stats.bytes, stats.removed);
}

int pack_push_flock(const char *repo_path)
{
	return lock_take(repo_path, "gitgate-push.lock", O_RDWR, LOCK_EX);
}

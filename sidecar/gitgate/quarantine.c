/* The pushed pack: followed to its end, indexed into a quarantine object
 * directory inside the repository, seen by the checks through a disk
 * alternate, and moved into objects/pack only when every check passed
 * (git's receive-pack does the same with its tmp_objdir).
 *
 * A push killed mid-way (kill -9, a crash, the machine going down) leaves
 * its quarantine behind.  Each quarantine holds an flock on its directory
 * for as long as its push lives (the kernel drops it when the process
 * dies), and every new quarantine first removes the ones nobody holds.
 * Creating and sweeping take turns under an flock on the objects
 * directory, so a sweep never sees a quarantine made but not yet locked. */
#include "receive_pack.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../shared/log.h"

#define READ_CHUNK (64 * 1024)
#define VARINT_MAX_BYTES 10 /* 64 bits in 7-bit groups */

enum pack_state {
	PACK_HEADER,
	PACK_OBJECT_HEADER,
	PACK_OBJECT_OFFSET, /* ofs-delta: the base's distance */
	PACK_OBJECT_BASE,   /* ref-delta: the base's id */
	PACK_OBJECT_DATA,   /* one zlib stream */
	PACK_TRAILER,
	PACK_DONE,
};

enum { OBJ_OFS_DELTA = 6, OBJ_REF_DELTA = 7 };

int64_t receive_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pack_stream_init(struct pack_stream *ps)
{
	memset(ps, 0, sizeof(*ps));
	ps->state = PACK_HEADER;
}

void pack_stream_release(struct pack_stream *ps)
{
	if (ps->zlib_ready)
		inflateEnd(&ps->zlib);
	ps->zlib_ready = false;
}

static int pack_header_check(struct pack_stream *ps, char *err, size_t err_len)
{
	const unsigned char *h = ps->header;
	uint32_t version = (uint32_t)h[4] << 24 | (uint32_t)h[5] << 16 | (uint32_t)h[6] << 8 | h[7];

	if (memcmp(h, "PACK", 4) != 0) {
		error_format(err, err_len, "the data after the commands is not a pack");
		return -EPROTO;
	}
	if (version != 2 && version != 3) {
		error_format(err, err_len, "pack version %u is not supported", version);
		return -EPROTO;
	}
	ps->objects_left = (uint32_t)h[8] << 24 | (uint32_t)h[9] << 16 | (uint32_t)h[10] << 8 | h[11];
	ps->state = ps->objects_left ? PACK_OBJECT_HEADER : PACK_TRAILER;
	ps->got = 0;
	return 0;
}

/* One zlib stream's worth of the bytes at p: how many it used, and whether
 * the stream ended.  The inflated bytes are thrown away; the indexer
 * inflates them again for itself. */
static int pack_object_data(struct pack_stream *ps, const unsigned char *p, size_t len,
			    size_t *used, char *err, size_t err_len)
{
	int zret;

	if (!ps->zlib_ready) {
		memset(&ps->zlib, 0, sizeof(ps->zlib));
		if (inflateInit(&ps->zlib) != Z_OK)
			return -ENOMEM;
		ps->zlib_ready = true;
	}
	ps->zlib.next_in = (unsigned char *)p;
	ps->zlib.avail_in = (uInt)(len > UINT32_MAX ? UINT32_MAX : len);
	do {
		ps->zlib.next_out = ps->sink;
		ps->zlib.avail_out = sizeof(ps->sink);
		zret = inflate(&ps->zlib, Z_NO_FLUSH);
	} while (zret == Z_OK && (ps->zlib.avail_in > 0 || ps->zlib.avail_out == 0));
	*used = (size_t)(ps->zlib.next_in - p);
	if (zret == Z_STREAM_END) {
		inflateEnd(&ps->zlib);
		ps->zlib_ready = false;
		ps->objects_left--;
		ps->state = ps->objects_left ? PACK_OBJECT_HEADER : PACK_TRAILER;
		ps->got = 0;
		return 0;
	}
	if (zret == Z_OK || zret == Z_BUF_ERROR)
		return 0; /* more input wanted */
	error_format(err, err_len, "a pack object's compressed data is corrupt");
	return -EPROTO;
}

int pack_stream_feed(struct pack_stream *ps, const unsigned char *p, size_t len, size_t *used,
		     char *err, size_t err_len)
{
	size_t i = 0;
	int ret;

	while (i < len && ps->state != PACK_DONE) {
		unsigned char c = p[i];

		switch (ps->state) {
		case PACK_HEADER:
			ps->header[ps->got++] = c;
			i++;
			if (ps->got == sizeof(ps->header)) {
				ret = pack_header_check(ps, err, err_len);
				if (ret < 0)
					return ret;
			}
			break;
		case PACK_OBJECT_HEADER:
			if (ps->got == 0) {
				ps->object_type = (c >> 4) & 7;
				if (ps->object_type == 0 || ps->object_type == 5) {
					error_format(err, err_len, "a pack object of unknown type %d",
						     ps->object_type);
					return -EPROTO;
				}
			}
			i++;
			if (++ps->got > VARINT_MAX_BYTES) {
				error_format(err, err_len, "a pack object's size is too long");
				return -EPROTO;
			}
			if (c & 0x80)
				break;
			ps->got = 0;
			ps->state = ps->object_type == OBJ_OFS_DELTA ? PACK_OBJECT_OFFSET :
				    ps->object_type == OBJ_REF_DELTA ? PACK_OBJECT_BASE :
				    PACK_OBJECT_DATA;
			break;
		case PACK_OBJECT_OFFSET:
			i++;
			if (++ps->got > VARINT_MAX_BYTES) {
				error_format(err, err_len, "a delta's base offset is too long");
				return -EPROTO;
			}
			if (!(c & 0x80)) {
				ps->got = 0;
				ps->state = PACK_OBJECT_DATA;
			}
			break;
		case PACK_OBJECT_BASE:
		case PACK_TRAILER: {
			size_t want = GIT_OID_SHA1_SIZE - ps->got;
			size_t n = len - i < want ? len - i : want;
			i += n;
			ps->got += n;
			if (ps->got == GIT_OID_SHA1_SIZE) {
				ps->got = 0;
				ps->state = ps->state == PACK_TRAILER ? PACK_DONE : PACK_OBJECT_DATA;
			}
			break;
		}
		case PACK_OBJECT_DATA: {
			size_t n = 0;
			ret = pack_object_data(ps, p + i, len - i, &n, err, err_len);
			if (ret < 0)
				return ret;
			if (n == 0 && ps->state == PACK_OBJECT_DATA) {
				/* zlib neither ended nor took a byte: cannot go on */
				error_format(err, err_len, "a pack object's compressed data is corrupt");
				return -EPROTO;
			}
			i += n;
			break;
		}
		}
	}
	*used = i;
	return ps->state == PACK_DONE ? 1 : 0;
}

void quarantine_init(struct quarantine *q)
{
	memset(q, 0, sizeof(*q));
	q->lock_fd = -1;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st; (void)ftw;
	if (type == FTW_DP)
		rmdir(path);
	else
		unlink(path);
	return 0;
}

void quarantine_release(struct quarantine *q)
{
	if (q->dir && nftw(q->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		log_warn("unable to remove the quarantine '%s': %s", q->dir, strerror(errno));
	/* Unlocked only once removed: a sweep never races the removal. */
	if (q->lock_fd >= 0)
		close(q->lock_fd);
	free(q->objects_dir);
	free(q->dir);
	free(q->pack_name);
	quarantine_init(q);
}

/* Remove every quarantine in objects_dir (open as objects_fd, its flock
 * held) whose push is gone: the one whose directory lock is free. */
static void quarantine_sweep(int objects_fd, const char *objects_dir)
{
	struct dirent *entry;
	struct buf path;
	DIR *dir;
	int dup_fd, fd;

	/* fdopendir() owns the descriptor it is given; the caller keeps its own. */
	dup_fd = fcntl(objects_fd, F_DUPFD_CLOEXEC, 0);
	dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	if (!dir) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	buf_init(&path, 4096);
	while ((entry = readdir(dir))) {
		if (strncmp(entry->d_name, "incoming-", 9) != 0)
			continue;
		fd = openat(objects_fd, entry->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			continue;
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			buf_clear(&path);
			if (buf_appendf(&path, "%s/%s", objects_dir, entry->d_name) == 0 &&
			    nftw(path.p, remove_entry, 8, FTW_DEPTH | FTW_PHYS) == 0)
				log_info("removed %s, left by an interrupted push", path.p);
		}
		close(fd);
	}
	buf_release(&path);
	closedir(dir);
}

static int quarantine_create(struct quarantine *q, const char *objects_dir, char *err,
			     size_t err_len)
{
	struct buf path;
	int ret = -ENOMEM, objects_fd = -1;

	buf_init(&path, 4096);
	q->objects_dir = strdup(objects_dir);
	if (!q->objects_dir || buf_appendf(&path, "%s/incoming-XXXXXX", objects_dir) < 0)
		goto out;
	objects_fd = open(objects_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ret = objects_fd < 0 ? -errno : 0;
	while (ret == 0 && flock(objects_fd, LOCK_EX) < 0)
		ret = errno == EINTR ? 0 : -errno;
	if (ret < 0) {
		error_format(err, err_len, "unable to lock the objects directory: %s",
			     strerror(-ret));
		goto out;
	}
	ret = -ENOMEM;
	quarantine_sweep(objects_fd, objects_dir);
	if (!mkdtemp(path.p)) {
		ret = -errno;
		error_format(err, err_len, "unable to create a quarantine directory: %s",
			     strerror(errno));
		goto out;
	}
	q->dir = strdup(path.p);
	if (!q->dir) {
		rmdir(path.p);
		goto out;
	}
	q->lock_fd = open(q->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->lock_fd < 0 || flock(q->lock_fd, LOCK_EX) < 0) {
		ret = -errno;
		error_format(err, err_len, "unable to lock the quarantine directory: %s",
			     strerror(errno));
		goto out;
	}
	if (buf_append_str(&path, "/pack") < 0)
		goto out;
	if (mkdir(path.p, 0700) < 0) {
		ret = -errno;
		error_format(err, err_len, "unable to create a quarantine directory: %s",
			     strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (ret == -ENOMEM)
		error_format(err, err_len, "out of memory");
	if (objects_fd >= 0)
		close(objects_fd);
	buf_release(&path);
	return ret;
}

static const char *libgit2_message(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown error";
}

int quarantine_receive(struct quarantine *q, const char *objects_dir, git_odb *odb,
		       struct quarantine_source *src, char *err, size_t err_len)
{
	git_indexer_options options;
	git_indexer_progress stats = { 0 };
	git_indexer *indexer = NULL;
	struct pack_stream *ps = NULL;
	unsigned char *chunk = NULL;
	uint64_t total = 0;
	struct buf pack_dir;
	int ret, done = 0;

	buf_init(&pack_dir, 4096);
	ret = quarantine_create(q, objects_dir, err, err_len);
	if (ret < 0)
		goto out;
	ret = -ENOMEM;
	chunk = malloc(READ_CHUNK);
	ps = malloc(sizeof(*ps));
	if (!chunk || !ps || buf_appendf(&pack_dir, "%s/pack", q->dir) < 0) {
		error_format(err, err_len, "out of memory");
		goto out;
	}
	pack_stream_init(ps);
	git_indexer_options_init(&options, GIT_INDEXER_OPTIONS_VERSION);
	if (git_indexer_new(&indexer, pack_dir.p, 0, odb, &options) < 0) {
		ret = -EIO;
		error_format(err, err_len, "index-pack: %s", libgit2_message());
		goto out;
	}
	while (!done) {
		ssize_t n = pkt_reader_read_raw(src->reader, chunk, READ_CHUNK);
		size_t used = 0;

		if (n < 0) {
			ret = (int)n;
			error_format(err, err_len, "reading the pack: %s", strerror((int)-n));
			goto out;
		}
		if (n == 0) {
			ret = -EPROTO;
			error_format(err, err_len, "the pack ended early (%llu bytes)",
				     (unsigned long long)total);
			goto out;
		}
		done = pack_stream_feed(ps, chunk, (size_t)n, &used, err, err_len);
		if (done < 0) {
			ret = done;
			goto out;
		}
		total += used;
		if (total > src->max_bytes) {
			ret = -EFBIG;
			error_format(err, err_len, "the pack is over the gate's limit of %llu bytes",
				     (unsigned long long)src->max_bytes);
			goto out;
		}
		if (src->deadline_ms && receive_now_ms() > src->deadline_ms) {
			ret = -ETIMEDOUT;
			error_format(err, err_len, "the push took longer than the gate allows");
			goto out;
		}
		if (git_indexer_append(indexer, chunk, used, &stats) < 0) {
			ret = -EPROTO;
			error_format(err, err_len, "index-pack: %s", libgit2_message());
			goto out;
		}
	}
	if (ps->header[8] == 0 && ps->header[9] == 0 && ps->header[10] == 0 &&
	    ps->header[11] == 0) {
		/* An empty pack: every new id is already here (a branch made at
		 * an existing commit).  Nothing to index or move. */
		ret = 0;
		goto out;
	}
	if (git_indexer_commit(indexer, &stats) < 0) {
		ret = -EPROTO;
		error_format(err, err_len, "index-pack: %s", libgit2_message());
		goto out;
	}
	q->objects = stats.total_objects;
	q->thin_bases = stats.local_objects;
	ret = -ENOMEM;
	if (asprintf(&q->pack_name, "pack-%s", git_indexer_name(indexer)) < 0) {
		q->pack_name = NULL;
		error_format(err, err_len, "out of memory");
		goto out;
	}
	ret = 0;
out:
	git_indexer_free(indexer);
	if (ps)
		pack_stream_release(ps);
	free(ps);
	free(chunk);
	buf_release(&pack_dir);
	return ret;
}

int quarantine_attach(struct quarantine *q, git_odb *odb, char *err, size_t err_len)
{
	if (!q->pack_name)
		return 0;
	if (git_odb_add_disk_alternate(odb, q->dir) < 0) {
		error_format(err, err_len, "unable to read the quarantine: %s", libgit2_message());
		return -EIO;
	}
	return 0;
}

int quarantine_migrate(struct quarantine *q, char *err, size_t err_len)
{
	/* The .idx last: git and libgit2 find packs by their index. */
	static const char *const extensions[] = { ".pack", ".rev", ".idx" };
	struct buf from, to;
	int ret = 0;

	if (!q->pack_name)
		return 0;
	buf_init(&from, 4096);
	buf_init(&to, 4096);
	for (size_t i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		buf_clear(&from);
		buf_clear(&to);
		if (buf_appendf(&from, "%s/pack/%s%s", q->dir, q->pack_name, extensions[i]) < 0 ||
		    buf_appendf(&to, "%s/pack/%s%s", q->objects_dir, q->pack_name,
				extensions[i]) < 0) {
			ret = -ENOMEM;
			error_format(err, err_len, "out of memory");
			break;
		}
		if (rename(from.p, to.p) < 0 && errno != ENOENT) {
			ret = -errno;
			error_format(err, err_len, "unable to move the pack into the repository: %s",
				     strerror(errno));
			break;
		}
	}
	buf_release(&from);
	buf_release(&to);
	return ret;
}

/* Writing a pack from the repository's own packs, the way git's
 * pack-objects reuses what is already packed: an object stored whole is
 * copied as it is (still compressed); one stored as a delta is copied
 * when its base is in the same pack and is being sent too (as a
 * REF_DELTA naming that base); anything else is read whole and
 * compressed afresh.  Objects go out in the packs' order, so a base
 * precedes its deltas and those can be OFS_DELTAs.  No delta is searched for, which is what makes a
 * clone cost about what it costs git.  Every copied entry is checked
 * against the CRC-32 the pack's index keeps for it; the client checks
 * the rest (ids, the trailer) as it indexes the pack. */
#ifndef SIDECAR_GITGATE_PACK_REUSE_H
#define SIDECAR_GITGATE_PACK_REUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "oid_map.h"

struct pack_reuse;
struct oid_array;

struct pack_reuse_stats {
	size_t objects, reused_whole, reused_deltas, compressed;
};

/* Map the packs under <repo_path>/objects/pack.  0 (with *out NULL when
 * there are none), or a negative errno with err saying why. */
int pack_reuse_open(struct pack_reuse **out, const char *repo_path, char *err, size_t err_len);
void pack_reuse_close(struct pack_reuse *r);
/* Map exactly the named packs (index file names, "pack-<id>.idx") in
 * pack_dir: 0, or a negative errno with err when any of them cannot be
 * read (a merge must see every object of each pack it replaces). */
int pack_reuse_open_packs(struct pack_reuse **out, const char *pack_dir, char *const *names,
			  size_t n, char *err, size_t err_len);
/* Append to out every id the packs hold, each once.  0 or -ENOMEM. */
int pack_reuse_ids(struct pack_reuse *r, struct oid_array *out);
/* How many of the objects some pack holds. */
size_t pack_reuse_found(struct pack_reuse *r, const struct oid_array *objects);

/* Write the pack of objects (each listed once) through write: header,
 * entries, SHA-1 trailer.  A reused delta is an OFS_DELTA when ofs_delta
 * (the client asked for them), else a REF_DELTA.  0 or a negative errno
 * (the write's own, or another with err). */
int pack_reuse_write(struct pack_reuse *r, git_repository *repo, const struct oid_array *objects,
		     bool ofs_delta, int (*write)(void *ctx, const void *p, size_t len), void *ctx,
		     struct pack_reuse_stats *stats, char *err, size_t err_len);

/* Where a written pack goes: write takes the bytes in order; entry, when
 * set, is told each object's id, offset and the CRC-32 of its entry's
 * bytes once written (what an index needs), returning 0 or a negative
 * errno that stops the write. */
struct pack_reuse_sink {
	int (*write)(void *ctx, const void *p, size_t len);
	int (*entry)(void *ctx, const git_oid *oid, uint64_t offset, uint32_t crc);
	void *ctx;
};

int pack_reuse_write_sink(struct pack_reuse *r, git_repository *repo,
			  const struct oid_array *objects, bool ofs_delta,
			  const struct pack_reuse_sink *sink, struct pack_reuse_stats *stats,
			  char *err, size_t err_len);

#endif

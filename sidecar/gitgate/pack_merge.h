/* Merging a repository's packs, so they do not grow without bound.
 *
 * Every push and every mirror fetch adds a pack, and every upload-pack
 * session opens every pack: left alone, a busy repository ends up with
 * hundreds (docs/soak.md).  After a push or fetch has moved its pack in,
 * still under the repository's push lock, pack_merge_run() merges the
 * small packs into one when there are more than PACK_MERGE_THRESHOLD:
 * their entries are copied as they are (pack_reuse.h, CRC-checked, no
 * delta search), the new pack is indexed, synced and renamed into place,
 * and only then are the old ones retired.
 *
 * Readers and removal.  A session reading objects holds the repository's
 * readers lock shared (pack_readers_lock()) while it does.  A retired
 * pack is only marked (<repo>/gitgate-retired/<name>); its files are
 * removed by whoever finds no reader left (pack_retired_sweep(), with the
 * lock taken exclusive without waiting): the merge itself, or the last
 * reader out.  So no reader ever has a pack it listed vanish under it,
 * and nobody waits for anybody.  docs/gitgate.md, "Pack merging". */
#ifndef SIDECAR_GITGATE_PACK_MERGE_H
#define SIDECAR_GITGATE_PACK_MERGE_H

#include <stddef.h>
#include <stdint.h>

/* More packs than this (retired ones not counted) start a merge.  A clone
 * opens every pack: 16 keeps that a few descriptors per session, and a
 * merge then happens once every 8 or so pushes, each copying only the
 * small packs (the geometric rule in pack_merge.c keeps the big ones). */
#define PACK_MERGE_THRESHOLD 16

/* Pack files libgit2 keeps open in the whole process, set at start with
 * GIT_OPT_SET_MWINDOW_FILE_LIMIT: beyond it the least recently used is
 * closed (and reopened when needed; the readers lock keeps it there).
 * Four repositories at the threshold fit without closing any. */
#define PACK_OPEN_FILES_MAX 64

struct pack_merge_stats {
	size_t packs_before;   /* live packs found */
	size_t packs_merged;   /* how many went into the new one; 0: no merge */
	size_t objects;        /* in the new pack */
	uint64_t bytes;        /* of the new pack */
	size_t removed;        /* retired packs whose files were removed */
	size_t leftovers;      /* temporary files of an interrupted merge or fetch removed */
};

/* The readers lock, shared: a descriptor to give pack_readers_unlock(), or
 * a negative errno (the caller reads anyway; it is then not protected). */
int pack_readers_lock(const char *repo_path);
/* Drop it, then remove the retired packs if no reader is left. */
void pack_readers_unlock(const char *repo_path, int fd);

/* With the repository's push lock held: remove what an interrupted merge
 * or fetch left, remove retired packs when no reader is left, and merge
 * when there are more than threshold live packs.  0 (merged or not), or
 * a negative errno with err; the repository is usable either way. */
int pack_merge_run(const char *repo_path, size_t threshold, struct pack_merge_stats *stats,
		   char *err, size_t err_len);
/* pack_merge_run() with PACK_MERGE_THRESHOLD, its outcome logged under
 * the repository's name: what a push or a fetch calls once its pack is
 * in, with the push lock still held.  Never fails the caller's work. */
void pack_merge_after_write(const char *name, const char *repo_path);
/* The push lock's half between processes: a descriptor holding an flock
 * on <repo>/gitgate-push.lock (closing it unlocks), or a negative errno.
 * The other half is struct gitgate_repo's push_lock mutex, taken first. */
int pack_push_flock(const char *repo_path);
/* Remove the files of retired packs when no reader holds the lock: how
 * many packs were removed. */
size_t pack_retired_sweep(const char *repo_path);

#endif

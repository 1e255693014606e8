/* The pack upload-pack sends: which objects, then libgit2's packbuilder
 * streams it to the client through git_packbuilder_foreach(), side-banded
 * when the client asked (band 1 data, band 2 progress), never held whole
 * in memory.
 *
 * Which objects: the commits reachable from the wants and not from the
 * common haves, then every tree and blob of theirs that the client cannot
 * already have.  What it has is known from the "edges": the trees of the
 * common commits just below the ones sent (git's mark_edges_uninteresting).
 * With a shallow boundary (upload_shallow.c) our own walk treats boundary
 * commits as parentless, as the client will; otherwise libgit2's revwalk
 * does the commit part.
 *
 * Packs are never thin and use REF_DELTA (libgit2 writes no OFS_DELTA);
 * both are valid for every client whatever it asked for. */
#include "upload_pack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pack_reuse.h"
#include "../../shared/log.h"

struct pack_send {
	struct upload_pack *u;
	git_packbuilder *pb;       /* only when the packs cannot be reused */
	struct oid_array objects;  /* what the pack holds, in order */
	struct oid_map in_pack;    /* the same, for lookups */
	struct oid_array commits;  /* to send, newest first */
	struct oid_map sent;       /* the same, for lookups */
	struct oid_map seen;       /* trees and blobs inserted or known to the client */
	struct oid_array heads;    /* commits the wants stand for */
	struct oid_array stack;    /* trees still to list */
	size_t last_percent;
	int stage;
	int write_error;           /* the client's side failed during foreach */
	char chunk[PKT_SIDEBAND_MAX]; /* pack bytes not yet sent */
	size_t chunk_len;
};

static int progress(struct pack_send *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int progress(struct pack_send *ps, const char *fmt, ...)
{
	struct upload_pack *u = ps->u;
	char line[160];
	va_list args;
	int n;

	if (u->no_progress || u->sideband_max == 0)
		return 0;
	va_start(args, fmt);
	n = vsnprintf(line, sizeof(line), fmt, args);
	va_end(args);
	if (n < 0)
		return 0;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	return pkt_write_sideband(u->s->out, 2, line, (size_t)n, u->sideband_max);
}

static int git_failed(struct pack_send *ps, const char *what)
{
	return upload_fail(ps->u, -EIO, "%s: %s", what, upload_git_error());
}

static int object_add(struct pack_send *ps, const git_oid *oid)
{
	bool added;
	int ret = oid_map_put(&ps->in_pack, oid, 0, &added);

	if (ret == 0 && added)
		ret = oid_array_push(&ps->objects, oid);
	return ret;
}

/* ---- commits ---- */

/* The commit behind id (tags peeled): 1 with out set, 0 when it is not a
 * committish (a tag of a tree, say), negative on error. */
static int peel_to_commit(git_repository *repo, const git_oid *id, git_oid *out)
{
	git_object *object = NULL, *commit = NULL;
	int ret;

	if (git_object_lookup(&object, repo, id, GIT_OBJECT_ANY) < 0)
		return -EIO;
	ret = git_object_peel(&commit, object, GIT_OBJECT_COMMIT) == 0;
	if (ret)
		git_oid_cpy(out, git_object_id(commit));
	git_object_free(commit);
	git_object_free(object);
	return ret;
}

static int commits_by_revwalk(struct pack_send *ps)
{
	struct upload_pack *u = ps->u;
	git_revwalk *walk = NULL;
	git_oid oid;
	int ret = -EIO;

	if (git_revwalk_new(&walk, u->repo) < 0)
		goto git_error;
	for (size_t i = 0; i < ps->heads.n; i++)
		if (git_revwalk_push(walk, &ps->heads.v[i]) < 0)
			goto git_error;
	for (size_t i = 0; i < u->commons.n; i++) {
		git_oid commit;
		int peeled = peel_to_commit(u->repo, &u->commons.v[i], &commit);
		if (peeled < 0)
			goto git_error;
		if (peeled && git_revwalk_hide(walk, &commit) < 0)
			goto git_error;
	}
	for (;;) {
		int next = git_revwalk_next(&oid, walk);
		if (next == GIT_ITEROVER)
			break;
		if (next < 0)
			goto git_error;
		ret = oid_map_put(&ps->sent, &oid, 0, NULL);
		if (ret == 0)
			ret = oid_array_push(&ps->commits, &oid);
		if (ret < 0)
			goto out;
	}
	ret = 0;
	goto out;
git_error:
	ret = git_failed(ps, "walking the history failed");
out:
	git_revwalk_free(walk);
	return ret;
}

/* Everything reachable from starts, a commit on u->shallow taken as
 * parentless and one in stop not entered: into set (and list, if given). */
static int walk_with_boundary(struct pack_send *ps, const struct oid_array *starts,
			      const struct oid_map *stop, struct oid_map *set,
			      struct oid_array *list)
{
	struct upload_pack *u = ps->u;
	struct oid_array stack = { .max = SIZE_MAX / sizeof(git_oid) };
	int ret = 0;

	for (size_t i = 0; i < starts->n && ret == 0; i++) {
		bool added;

		if (oid_map_has(stop, &starts->v[i]))
			continue;
		ret = oid_map_put(set, &starts->v[i], 0, &added);
		if (ret == 0 && added)
			ret = oid_array_push(&stack, &starts->v[i]);
	}
	while (ret == 0 && stack.n > 0) {
		git_oid oid = stack.v[--stack.n];
		git_commit *commit = NULL;

		if (list)
			ret = oid_array_push(list, &oid);
		if (ret < 0 || oid_map_has(&u->shallow, &oid))
			continue;
		if (git_commit_lookup(&commit, u->repo, &oid) < 0) {
			ret = git_failed(ps, "cannot read a commit");
			break;
		}
		for (unsigned p = 0; ret == 0 && p < git_commit_parentcount(commit); p++) {
			const git_oid *parent = git_commit_parent_id(commit, p);
			bool added;

			if (oid_map_has(stop, parent))
				continue;
			ret = oid_map_put(set, parent, 0, &added);
			if (ret == 0 && added)
				ret = oid_array_push(&stack, parent);
		}
		git_commit_free(commit);
	}
	oid_array_release(&stack);
	return ret;
}

static int commits_by_boundary(struct pack_send *ps, struct oid_map *uninteresting)
{
	struct upload_pack *u = ps->u;
	struct oid_array haves = { .max = SIZE_MAX / sizeof(git_oid) };
	struct oid_map none = OID_MAP_INIT;
	int ret = 0;

	for (size_t i = 0; i < u->commons.n && ret == 0; i++) {
		git_oid commit;
		int peeled = peel_to_commit(u->repo, &u->commons.v[i], &commit);
		if (peeled < 0)
			ret = git_failed(ps, "cannot read a have");
		else if (peeled)
			ret = oid_array_push(&haves, &commit);
	}
	if (ret == 0)
		ret = walk_with_boundary(ps, &haves, &none, uninteresting, NULL);
	if (ret == 0)
		ret = walk_with_boundary(ps, &ps->heads, uninteresting, &ps->sent, &ps->commits);
	oid_array_release(&haves);
	return ret;
}

/* ---- trees and blobs ---- */

/* List the tree at root: each tree and blob not yet seen is marked seen,
 * and inserted into the pack when insert is set (else the client has it). */
static int tree_list(struct pack_send *ps, const git_oid *root, bool insert)
{
	bool added;
	int ret = oid_map_put(&ps->seen, root, 0, &added);

	if (ret < 0 || !added)
		return ret;
	if (insert && (ret = object_add(ps, root)) < 0)
		return ret;
	ps->stack.n = 0;
	ret = oid_array_push(&ps->stack, root);
	while (ret == 0 && ps->stack.n > 0) {
		git_oid oid = ps->stack.v[--ps->stack.n];
		git_tree *tree = NULL;
		size_t n;

		if (git_tree_lookup(&tree, ps->u->repo, &oid) < 0)
			return git_failed(ps, "cannot read a tree");
		n = git_tree_entrycount(tree);
		for (size_t i = 0; i < n && ret == 0; i++) {
			const git_tree_entry *entry = git_tree_entry_byindex(tree, i);
			git_object_t type = git_tree_entry_type(entry);
			const git_oid *id = git_tree_entry_id(entry);

			/* A submodule's commit lives in another repository. */
			if (type != GIT_OBJECT_TREE && type != GIT_OBJECT_BLOB)
				continue;
			ret = oid_map_put(&ps->seen, id, 0, &added);
			if (ret < 0 || !added)
				continue;
			if (insert)
				ret = object_add(ps, id);
			if (ret == 0 && type == GIT_OBJECT_TREE)
				ret = oid_array_push(&ps->stack, id);
		}
		git_tree_free(tree);
	}
	return ret;
}

static int commit_tree(struct pack_send *ps, const git_oid *commit_id, git_oid *tree)
{
	git_commit *commit = NULL;

	if (git_commit_lookup(&commit, ps->u->repo, commit_id) < 0)
		return git_failed(ps, "cannot read a commit");
	git_oid_cpy(tree, git_commit_tree_id(commit));
	git_commit_free(commit);
	return 0;
}

/* What the client has below the commits sent: the trees of their parents
 * that are not sent (and, deepening, of the commits it had as shallow). */
static int edges_mark(struct pack_send *ps, const struct oid_map *uninteresting)
{
	struct upload_pack *u = ps->u;
	git_oid tree;
	int ret = 0;

	for (size_t i = 0; i < ps->commits.n && ret == 0; i++) {
		git_commit *commit = NULL;

		if (u->shallow_mode && oid_map_has(&u->shallow, &ps->commits.v[i]))
			continue;
		if (git_commit_lookup(&commit, u->repo, &ps->commits.v[i]) < 0)
			return git_failed(ps, "cannot read a commit");
		for (unsigned p = 0; ret == 0 && p < git_commit_parentcount(commit); p++) {
			const git_oid *parent = git_commit_parent_id(commit, p);

			if (oid_map_has(&ps->sent, parent))
				continue;
			/* Shallow: only a parent the client is known to have. */
			if (u->shallow_mode && !oid_map_has(uninteresting, parent))
				continue;
			ret = commit_tree(ps, parent, &tree);
			if (ret == 0)
				ret = tree_list(ps, &tree, false);
		}
		git_commit_free(commit);
	}
	for (size_t i = 0; i < u->unshallowed.n && ret == 0; i++) {
		ret = commit_tree(ps, &u->unshallowed.v[i], &tree);
		if (ret == 0)
			ret = tree_list(ps, &tree, false);
	}
	return ret;
}

/* ---- what the wants stand for ---- */

/* A want's tag chain goes in as it is; the commit it ends at becomes a
 * head of the walk, a tree or blob goes in whole. */
static int want_resolve(struct pack_send *ps, const git_oid *want)
{
	git_object *object = NULL;
	git_oid id;
	int ret = 0;

	git_oid_cpy(&id, want);
	for (int hops = 0; ret == 0; hops++) {
		git_object_t type;

		if (hops > 64)
			return upload_fail(ps->u, -ELOOP, "a tag chain longer than 64");
		if (git_object_lookup(&object, ps->u->repo, &id, GIT_OBJECT_ANY) < 0)
			return git_failed(ps, "cannot read a wanted object");
		type = git_object_type(object);
		if (type == GIT_OBJECT_TAG) {
			ret = object_add(ps, &id);
			git_oid_cpy(&id, git_tag_target_id((git_tag *)object));
		} else if (type == GIT_OBJECT_COMMIT) {
			ret = oid_array_push(&ps->heads, &id);
			break;
		} else if (type == GIT_OBJECT_TREE) {
			ret = tree_list(ps, &id, true);
			break;
		} else {
			ret = object_add(ps, &id);
			break;
		}
		git_object_free(object);
		object = NULL;
	}
	git_object_free(object);
	return ret;
}

/* include-tag: an annotated tag whose commit is being sent goes too. */
static int tags_include(struct pack_send *ps)
{
	struct upload_pack *u = ps->u;

	for (size_t i = 0; i < u->nrefs; i++) {
		const struct upload_ref *r = &u->refs[i];
		git_oid id;

		if (!r->has_peeled || strncmp(r->name, "refs/tags/", 10) != 0 ||
		    !oid_map_has(&ps->sent, &r->peeled))
			continue;
		/* Every tag object on the way to the commit. */
		git_oid_cpy(&id, &r->oid);
		for (int hops = 0; hops <= 64; hops++) {
			git_tag *tag = NULL;

			if (git_tag_lookup(&tag, u->repo, &id) < 0)
				break;
			int ret = object_add(ps, &id);

			git_oid_cpy(&id, git_tag_target_id(tag));
			git_tag_free(tag);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

/* ---- streaming ---- */

static int on_progress(int stage, uint32_t current, uint32_t total, void *payload)
{
	struct pack_send *ps = payload;
	size_t percent;

	if (stage != GIT_PACKBUILDER_DELTAFICATION || total == 0)
		return 0;
	percent = (size_t)current * 100 / total;
	if (ps->stage == stage && percent == ps->last_percent && current != total)
		return 0;
	ps->stage = stage;
	ps->last_percent = percent;
	/* A failed progress write is found again by the pack's own writes. */
	if (current == total)
		progress(ps, "Compressing objects: 100%% (%u/%u), done.\n", current, total);
	else
		progress(ps, "Compressing objects: %3zu%% (%u/%u)\r", percent, current, total);
	return 0;
}

/* Pack bytes gather into whole side-band packets: a packet per write
 * would cost five bytes of framing per object header. */
static int chunk_flush(struct pack_send *ps)
{
	struct upload_pack *u = ps->u;
	int ret;

	if (ps->chunk_len == 0)
		return 0;
	if (u->sideband_max)
		ret = pkt_write_sideband(u->s->out, 1, ps->chunk, ps->chunk_len, u->sideband_max);
	else
		ret = u->s->out->write(u->s->out->ctx, ps->chunk, ps->chunk_len);
	ps->chunk_len = 0;
	return ret;
}

static int on_pack_data(void *data, size_t size, void *payload)
{
	struct pack_send *ps = payload;
	const char *p = data;
	int ret = 0;

	while (size > 0 && ret == 0) {
		size_t n = sizeof(ps->chunk) - ps->chunk_len;

		if (n > size)
			n = size;
		memcpy(ps->chunk + ps->chunk_len, p, n);
		ps->chunk_len += n;
		p += n;
		size -= n;
		if (ps->chunk_len == sizeof(ps->chunk))
			ret = chunk_flush(ps);
	}
	if (ret < 0) {
		ps->write_error = ret;
		return -1; /* stops libgit2 */
	}
	return 0;
}

static int pack_fill(struct pack_send *ps)
{
	struct upload_pack *u = ps->u;
	struct oid_map uninteresting = OID_MAP_INIT;
	git_oid tree;
	int ret = 0;

	for (size_t i = 0; i < u->wants.n && ret == 0; i++)
		ret = want_resolve(ps, &u->wants.v[i]);
	/* Deepening: the parents below the old boundary are wanted too. */
	for (size_t i = 0; i < u->unshallowed.n && ret == 0; i++) {
		git_commit *commit = NULL;

		if (git_commit_lookup(&commit, u->repo, &u->unshallowed.v[i]) < 0)
			return git_failed(ps, "cannot read a commit");
		for (unsigned p = 0; ret == 0 && p < git_commit_parentcount(commit); p++)
			ret = oid_array_push(&ps->heads, git_commit_parent_id(commit, p));
		git_commit_free(commit);
	}
	if (ret < 0)
		goto out;
	ret = u->shallow_mode ? commits_by_boundary(ps, &uninteresting) : commits_by_revwalk(ps);
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < ps->commits.n && ret == 0; i++)
		ret = object_add(ps, &ps->commits.v[i]);
	if (ret < 0)
		goto out;
	if (u->include_tag) {
		ret = tags_include(ps);
		if (ret < 0)
			goto out;
	}
	ret = edges_mark(ps, &uninteresting);
	for (size_t i = 0; i < ps->commits.n && ret == 0; i++) {
		ret = commit_tree(ps, &ps->commits.v[i], &tree);
		if (ret == 0)
			ret = tree_list(ps, &tree, true);
	}
out:
	oid_map_release(&uninteresting);
	return ret;
}

static int pack_data_write(void *ctx, const void *data, size_t len)
{
	return on_pack_data((void *)data, len, ctx) < 0 ? ((struct pack_send *)ctx)->write_error : 0;
}

/* The mirror's packs, reused (pack_reuse.h): the common case. */
static int pack_stream_reused(struct pack_send *ps, struct pack_reuse *reuse)
{
	struct upload_pack *u = ps->u;
	struct pack_reuse_stats stats;
	char err[200] = "";
	int ret = pack_reuse_write(reuse, u->repo, &ps->objects, u->ofs_delta, pack_data_write, ps,
				   &stats, err, sizeof(err));

	if (ret < 0 && ps->write_error)
		return ret;
	if (ret < 0)
		return upload_fail(u, ret, "writing the pack failed: %s", err);
	return progress(ps, "Total %zu (delta %zu), reused %zu, compressed %zu\n", stats.objects,
			stats.reused_deltas, stats.reused_deltas + stats.reused_whole,
			stats.compressed);
}

/* libgit2's packbuilder, which searches deltas afresh: for a repository
 * whose objects are mostly loose, where there is little to reuse. */
static int pack_stream_built(struct pack_send *ps)
{
	struct upload_pack *u = ps->u;

	if (git_packbuilder_new(&ps->pb, u->repo) < 0)
		return git_failed(ps, "cannot start a pack");
	/* 0: one delta-search thread per CPU. */
	git_packbuilder_set_threads(ps->pb, 0);
	for (size_t i = 0; i < ps->objects.n; i++)
		if (git_packbuilder_insert(ps->pb, &ps->objects.v[i], NULL) < 0)
			return git_failed(ps, "packing an object");
	git_packbuilder_set_callbacks(ps->pb, on_progress, ps);
	if (git_packbuilder_foreach(ps->pb, on_pack_data, ps) < 0) {
		if (ps->write_error)
			return ps->write_error;
		return git_failed(ps, "writing the pack failed");
	}
	return progress(ps, "Total %zu\n", ps->objects.n);
}

int upload_pack_send(struct upload_pack *u)
{
	/* On the heap: a session may run on a thread's small stack. */
	struct pack_send *ps = calloc(1, sizeof(*ps));
	struct pack_reuse *reuse = NULL;
	char err[200] = "";
	int ret;

	if (!ps)
		return upload_fail(u, -ENOMEM, "out of memory");
	ps->u = u;
	ps->objects.max = ps->commits.max = ps->heads.max = ps->stack.max =
		SIZE_MAX / sizeof(git_oid);
	ps->last_percent = (size_t)-1;

	if (u->sideband_max)
		u->sideband_active = true;
	ret = pack_fill(ps);
	if (ret < 0)
		goto out;
	ret = progress(ps, "Enumerating objects: %zu, done.\n", ps->objects.n);
	if (ret == 0)
		ret = gitgate_io_flush(u->s->out);
	if (ret < 0)
		goto out;
	ret = pack_reuse_open(&reuse, u->s->repo->path, err, sizeof(err));
	if (ret < 0) {
		ret = upload_fail(u, ret, "%s", err);
		goto out;
	}
	/* Reuse when most objects are packed; what is loose is sent whole. */
	if (reuse && pack_reuse_found(reuse, &ps->objects) * 4 >= ps->objects.n * 3)
		ret = pack_stream_reused(ps, reuse);
	else
		ret = pack_stream_built(ps);
	if (ret == 0)
		ret = chunk_flush(ps);
	if (ret < 0) {
		if (ps->write_error)
			error_format(u->s->err, sizeof(u->s->err), "sending the pack: %s",
				     strerror(-ret));
		goto out;
	}
	if (u->sideband_max)
		ret = pkt_write_flush(u->s->out);
	if (ret == 0)
		ret = gitgate_io_flush(u->s->out);
out:
	pack_reuse_close(reuse);
	git_packbuilder_free(ps->pb);
	oid_array_release(&ps->objects);
	oid_map_release(&ps->in_pack);
	oid_array_release(&ps->commits);
	oid_array_release(&ps->heads);
	oid_array_release(&ps->stack);
	oid_map_release(&ps->sent);
	oid_map_release(&ps->seen);
	free(ps);
	return ret;
}

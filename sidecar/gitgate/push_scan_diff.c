/* One commit of a push against the DLP engine: the files it adds or
 * changes (against its first parent; a root against the empty tree) and
 * its message.  Each blob is scanned whole, byte-exact, once per push;
 * what it holds is remembered by blob id, so the same file in several
 * commits (or branches) is read once.  A finding counts where the commit
 * added the line it sits on: a secret already in the parent's version of
 * the file was there before this push and is not blamed on it. */
#include "push_scan_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/log.h"

/* ---- blobs scanned in this push ---- */

static size_t blob_slot(const struct push_scan *ps, const git_oid *id)
{
	size_t hash;

	/* The id is a cryptographic hash already: its bytes are uniform. */
	memcpy(&hash, id->id, sizeof(hash));
	return hash & (ps->blobs_cap - 1);
}

static struct scanned_blob *blob_find(struct push_scan *ps, const git_oid *id)
{
	size_t i;

	if (!ps->blobs_cap)
		return NULL;
	for (i = blob_slot(ps, id); ps->blobs[i].used; i = (i + 1) & (ps->blobs_cap - 1))
		if (git_oid_equal(&ps->blobs[i].id, id))
			return &ps->blobs[i];
	return NULL;
}

/* A fresh entry for id, or NULL when the table is at its bound (or out
 * of memory): the caller then scans into a scratch entry. */
static struct scanned_blob *blob_remember(struct push_scan *ps, const git_oid *id)
{
	size_t i;

	if (ps->nblobs >= PUSH_SCAN_BLOBS_MAX)
		return NULL;
	/* Kept at most half full so probes stay short. */
	if (2 * (ps->nblobs + 1) > ps->blobs_cap) {
		size_t cap = ps->blobs_cap ? ps->blobs_cap * 2 : 256;
		struct scanned_blob *old = ps->blobs, *grown = calloc(cap, sizeof(*grown));
		size_t old_cap = ps->blobs_cap;

		if (!grown)
			return NULL;
		ps->blobs = grown;
		ps->blobs_cap = cap;
		for (i = 0; i < old_cap; i++)
			if (old[i].used) {
				size_t j = blob_slot(ps, &old[i].id);

				while (grown[j].used)
					j = (j + 1) & (cap - 1);
				grown[j] = old[i];
			}
		free(old);
	}
	for (i = blob_slot(ps, id); ps->blobs[i].used; i = (i + 1) & (ps->blobs_cap - 1))
		;
	ps->blobs[i].used = true;
	ps->blobs[i].id = *id;
	ps->nblobs++;
	return &ps->blobs[i];
}

void push_scan_blobs_release(struct push_scan *ps)
{
	size_t i;

	for (i = 0; i < ps->blobs_cap; i++)
		free(ps->blobs[i].hits);
	free(ps->blobs);
	ps->blobs = NULL;
	ps->blobs_cap = ps->nblobs = 0;
	git_odb_free(ps->odb);
	ps->odb = NULL;
}

/* ---- findings into hits ---- */

static int hit_by_offset(const void *a, const void *b)
{
	const struct scan_hit *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static uint64_t count_newlines(const char *p, const char *end)
{
	uint64_t n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
		n++;
		p++;
	}
	return n;
}

/* The engine's findings over p[0..len) into b's hits, with their lines
 * and value hashes; one pass over the text for the line numbers. */
static int keep_hits(struct push_scan *ps, const char *p, size_t len, struct scanned_blob *b)
{
	const struct dlp_findings *f = &ps->dlp.findings;
	uint64_t line = 1, at = 0;
	size_t i;

	b->hits = NULL;
	b->nhits = 0;
	b->overflow = f->dropped > 0;
	if (!f->n)
		return 0;
	b->hits = calloc(f->n, sizeof(*b->hits));
	if (!b->hits)
		return -ENOMEM;
	for (i = 0; i < f->n; i++) {
		const struct dlp_finding *d = &f->v[i];
		struct scan_hit *h = &b->hits[i];
		uint64_t offset = d->offset < len ? d->offset : len;
		uint64_t span = d->len < len - offset ? d->len : len - offset;

		h->detector = d->detector;
		h->warn_only = d->warn_only;
		h->structural = dlp_finding_is_structural(d);
		push_scan_clean(h->rule, sizeof(h->rule), d->rule, strlen(d->rule));
		push_scan_clean(h->name, sizeof(h->name), d->name, strlen(d->name));
		push_scan_clean(h->preview, sizeof(h->preview), d->preview, strlen(d->preview));
		h->offset = offset;
		h->len = span;
		if (queue_sha256_hex(p + offset, span, h->value_hash) < 0)
			return -EIO;
	}
	b->nhits = (uint16_t)f->n;
	qsort(b->hits, b->nhits, sizeof(*b->hits), hit_by_offset);
	for (i = 0; i < b->nhits; i++) {
		struct scan_hit *h = &b->hits[i];

		line += count_newlines(p + at, p + h->offset);
		at = h->offset;
		h->first_line = line;
		h->last_line = line + count_newlines(p + h->offset,
						     p + h->offset + (h->len ? h->len - 1 : 0));
	}
	return 0;
}

static int scan_bytes(struct push_scan *ps, const char *p, size_t len, struct scanned_blob *b)
{
	int ret;

	dlp_scan_reset(&ps->dlp);
	ret = dlp_scan_part(&ps->dlp, DLP_WHERE_TEXT, NULL, p, len);
	if (ret == 0)
		ret = keep_hits(ps, p, len, b);
	if (ret < 0)
		error_format(ps->session->err, sizeof(ps->session->err),
			     "scan: out of memory scanning a file");
	return ret;
}

/* What blob id holds: *out points into the push's table, or at scratch
 * when the table is full (the caller frees scratch->hits).  1 with *size
 * set when the blob is over the bound and was not read. */
static int scan_blob(struct push_scan *ps, const git_oid *id, struct scanned_blob *scratch,
		     struct scanned_blob **out, uint64_t *size)
{
	uint64_t max = ps->session->gate->config.scan_max_blob;
	struct scanned_blob *b = blob_find(ps, id);
	git_object_t type;
	git_blob *blob = NULL;
	size_t len;
	int ret;

	if (b) {
		ps->stats.blobs_reused++;
		*out = b;
		return 0;
	}
	if (!ps->odb && git_repository_odb(&ps->odb, ps->repo) < 0)
		return push_scan_git_failure(ps, "cannot open the object store");
	/* The header only: a blob over the bound is never inflated. */
	if (git_odb_read_header(&len, &type, ps->odb, id) < 0)
		return push_scan_git_failure(ps, "a new file cannot be read");
	if (max && len > max) {
		*size = len;
		return 1;
	}
	if (git_blob_lookup(&blob, ps->repo, id) < 0)
		return push_scan_git_failure(ps, "a new file cannot be read");
	b = blob_remember(ps, id);
	if (!b) {
		memset(scratch, 0, sizeof(*scratch));
		b = scratch;
	}
	ps->stats.blobs_scanned++;
	ret = scan_bytes(ps, git_blob_rawcontent(blob), (size_t)git_blob_rawsize(blob), b);
	git_blob_free(blob);
	*out = b;
	return ret;
}

/* ---- the lines a commit added ---- */

struct added_lines {
	bool all;                 /* a new file, a binary: every byte is new */
	uint64_t (*ranges)[2];    /* first and last line of each addition */
	size_t n;
};

/* With no context lines, each hunk's new side is exactly what it added. */
static int added_lines_of(struct push_scan *ps, git_diff *diff, size_t index,
			  struct added_lines *out)
{
	const git_diff_hunk *hunk;
	git_patch *patch = NULL;
	size_t i, nhunks, lines;
	int ret = -EIO;

	if (git_patch_from_diff(&patch, diff, index) < 0 || !patch) {
		ret = push_scan_git_failure(ps, "a changed file cannot be compared");
		goto out;
	}
	if (git_patch_get_delta(patch)->flags & GIT_DIFF_FLAG_BINARY) {
		out->all = true;
		ret = 0;
		goto out;
	}
	nhunks = git_patch_num_hunks(patch);
	out->ranges = calloc(nhunks ? nhunks : 1, sizeof(*out->ranges));
	if (!out->ranges) {
		error_format(ps->session->err, sizeof(ps->session->err), "scan: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nhunks; i++) {
		if (git_patch_get_hunk(&hunk, &lines, patch, i) < 0) {
			ret = push_scan_git_failure(ps, "a changed file cannot be compared");
			goto out;
		}
		if (hunk->new_lines > 0) {
			out->ranges[out->n][0] = (uint64_t)hunk->new_start;
			out->ranges[out->n][1] = (uint64_t)hunk->new_start + hunk->new_lines - 1;
			out->n++;
		}
	}
	ret = 0;
out:
	git_patch_free(patch);
	return ret;
}

static bool hit_is_new(const struct scan_hit *h, const struct added_lines *added)
{
	size_t i;

	if (added->all)
		return true;
	for (i = 0; i < added->n; i++)
		if (h->first_line <= added->ranges[i][1] && h->last_line >= added->ranges[i][0])
			return true;
	return false;
}

/* Each hit of b on a new line: warn-only ones logged, the others told. */
static void report_hits(struct push_scan *ps, const struct scan_place *place,
			const struct scanned_blob *b, const struct added_lines *added)
{
	size_t i;

	for (i = 0; i < b->nhits; i++) {
		const struct scan_hit *h = &b->hits[i];

		if (!hit_is_new(h, added))
			continue;
		if (h->warn_only) {
			log_warn("scan: %s %s commit %s: warn-only %s in %s line %llu, let through",
				 ps->session->repo->config->name, place->cmd->ref, place->commit_hex,
				 h->rule, place->path, (unsigned long long)h->first_line);
			continue;
		}
		push_scan_finding(ps, place, h);
	}
	if (b->overflow) {
		push_scan_fail(place->cmd, "too many secrets in %s of commit %s", place->path,
			       place->commit_short);
		push_scan_say(ps, "%s in commit %s holds more than %d secrets: not proposed one by "
				  "one; remove them and push again", place->path,
			      place->commit_short, DLP_FINDINGS_MAX);
	}
}

static bool has_hits(const struct scanned_blob *b)
{
	return b->nhits || b->overflow;
}

/* ---- a commit ---- */

/* Text that is new as a whole (a commit's or a tag's message). */
static int scan_message(struct push_scan *ps, const struct scan_place *place, const char *text)
{
	struct scanned_blob b = { 0 };
	struct added_lines all = { .all = true };
	int ret;

	if (!text || !*text)
		return 0;
	ret = scan_bytes(ps, text, strlen(text), &b);
	if (ret == 0 && has_hits(&b))
		report_hits(ps, place, &b, &all);
	free(b.hits);
	return ret;
}

static bool delta_brings_content(const git_diff_delta *d)
{
	switch (d->status) {
	case GIT_DELTA_ADDED:
	case GIT_DELTA_MODIFIED:
	case GIT_DELTA_TYPECHANGE:
		break;
	case GIT_DELTA_RENAMED:
	case GIT_DELTA_COPIED:
		/* Found by exact match only: the same bytes under a new name. */
		return !git_oid_equal(&d->old_file.id, &d->new_file.id);
	default:
		return false;
	}
	/* A submodule's commit is in another repository. */
	return d->new_file.mode != GIT_FILEMODE_COMMIT && d->new_file.mode != GIT_FILEMODE_TREE;
}

static int scan_delta(struct push_scan *ps, struct scan_place *place, git_diff *diff,
		      size_t index)
{
	const git_diff_delta *d = git_diff_get_delta(diff, index);
	struct scanned_blob scratch = { 0 }, *b = NULL;
	struct added_lines added = { 0 };
	char path[PUSH_SCAN_PATH_MAX];
	uint64_t size = 0;
	int ret;

	if (!delta_brings_content(d))
		return 0;
	push_scan_clean(path, sizeof(path), d->new_file.path, strlen(d->new_file.path));
	place->path = path;
	ret = scan_blob(ps, &d->new_file.id, &scratch, &b, &size);
	if (ret == 1) {
		uint64_t max = ps->session->gate->config.scan_max_blob;

		push_scan_fail(place->cmd, "%s in commit %s is over the scan bound (%llu bytes)", path,
			       place->commit_short, (unsigned long long)max);
		push_scan_say(ps, "%s in commit %s is %llu bytes, more than the %llu the gate scans: "
				  "leave it out of the push, or ask the operator to raise "
				  "scan_max_blob", path, place->commit_short,
			      (unsigned long long)size, (unsigned long long)max);
		ret = 0;
		goto out;
	}
	if (ret < 0 || !has_hits(b))
		goto out;
	if (d->status == GIT_DELTA_ADDED || d->status == GIT_DELTA_COPIED ||
	    d->status == GIT_DELTA_RENAMED)
		added.all = true;
	else if ((ret = added_lines_of(ps, diff, index, &added)) < 0)
		goto out;
	report_hits(ps, place, b, &added);
	ret = 0;
out:
	free(scratch.hits);
	free(added.ranges);
	place->path = NULL;
	return ret;
}

int push_scan_commit(struct push_scan *ps, struct push_command *cmd, git_commit *commit)
{
	git_diff_options options;
	git_diff_find_options find;
	char hex[GIT_OID_SHA1_HEXSIZE + 1], short_id[13];
	struct scan_place place = { .cmd = cmd, .commit_hex = hex, .commit_short = short_id };
	git_tree *tree = NULL, *parent_tree = NULL;
	git_commit *parent = NULL;
	git_diff *diff = NULL;
	size_t i, n;
	int ret;

	git_oid_tostr(hex, sizeof(hex), git_commit_id(commit));
	git_oid_tostr(short_id, sizeof(short_id), git_commit_id(commit));
	place.path = PUSH_SCAN_COMMIT_MESSAGE;
	ret = scan_message(ps, &place, git_commit_message(commit));
	if (ret < 0)
		goto out;
	if (git_commit_tree(&tree, commit) < 0 ||
	    (git_commit_parentcount(commit) > 0 &&
	     (git_commit_parent(&parent, commit, 0) < 0 ||
	      git_commit_tree(&parent_tree, parent) < 0))) {
		ret = push_scan_git_failure(ps, "a new commit's tree cannot be read");
		goto out;
	}
	if (git_diff_options_init(&options, GIT_DIFF_OPTIONS_VERSION) < 0 ||
	    git_diff_find_options_init(&find, GIT_DIFF_FIND_OPTIONS_VERSION) < 0) {
		ret = push_scan_git_failure(ps, "diff options");
		goto out;
	}
	options.context_lines = 0;
	options.interhunk_lines = 0;
	/* Past the bound a file is never diffed: scan_blob() refuses it. */
	options.max_size = (git_off_t)ps->session->gate->config.scan_max_blob;
	find.flags = GIT_DIFF_FIND_RENAMES | GIT_DIFF_FIND_COPIES | GIT_DIFF_FIND_EXACT_MATCH_ONLY;
	if (git_diff_tree_to_tree(&diff, ps->repo, parent_tree, tree, &options) < 0 ||
	    git_diff_find_similar(diff, &find) < 0) {
		ret = push_scan_git_failure(ps, "a new commit cannot be compared with its parent");
		goto out;
	}
	n = git_diff_num_deltas(diff);
	for (i = 0; i < n; i++)
		if ((ret = scan_delta(ps, &place, diff, i)) < 0)
			goto out;
	ret = 0;
out:
	git_diff_free(diff);
	git_tree_free(parent_tree);
	git_tree_free(tree);
	git_commit_free(parent);
	return ret;
}

int push_scan_tag(struct push_scan *ps, struct push_command *cmd, git_tag *tag)
{
	char hex[GIT_OID_SHA1_HEXSIZE + 1], short_id[13];
	struct scan_place place = { .cmd = cmd, .commit_hex = hex, .commit_short = short_id,
				    .path = PUSH_SCAN_TAG_MESSAGE };

	git_oid_tostr(hex, sizeof(hex), git_tag_id(tag));
	git_oid_tostr(short_id, sizeof(short_id), git_tag_id(tag));
	return scan_message(ps, &place, git_tag_message(tag));
}

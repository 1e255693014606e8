/* The checks every ref update passes before policy and scanning: a
 * complete object graph behind the new id, and the ref still where the
 * client saw it. */
#include "receive_pack.h"

#include <errno.h>
#include <string.h>

#include "../../shared/log.h"

/* Deeper trees than this are refused rather than walked: the walk
 * recurses and a hostile pack could nest trees without end. */
#define TREE_DEPTH_MAX 512

bool receive_ref_name_valid(const char *ref)
{
	int valid = 0;

	if (strncmp(ref, "refs/", 5) != 0)
		return false;
	return git_reference_name_is_valid(&valid, ref) == 0 && valid;
}

static void fail_missing(struct push_command *cmd, const git_oid *id)
{
	char hex[GIT_OID_SHA1_HEXSIZE + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	push_command_fail(cmd, "missing necessary objects (%s is not in the pack or the repository)",
			  hex);
}

/* Every object of tree `id` that tree `hint` (complete, or NULL) does not
 * hold at the same path exists.  Walking against the parent's tree keeps
 * the cost to what the commit changed, as git's rev-list --objects does
 * by marking the parents' trees uninteresting. */
static int check_tree(git_repository *repo, git_odb *odb, const git_oid *id, const git_oid *hint,
		      struct push_command *cmd, int depth)
{
	git_tree *tree = NULL, *hint_tree = NULL;
	int ret = 0;

	if (hint && git_oid_equal(id, hint))
		return 0;
	if (depth > TREE_DEPTH_MAX) {
		push_command_fail(cmd, "trees nested deeper than %d levels", TREE_DEPTH_MAX);
		return 0;
	}
	if (git_tree_lookup(&tree, repo, id) < 0) {
		fail_missing(cmd, id);
		goto out;
	}
	if (hint && git_tree_lookup(&hint_tree, repo, hint) < 0)
		hint_tree = NULL; /* walk without it: slower, still right */
	for (size_t i = 0, n = git_tree_entrycount(tree); i < n && !cmd->failed; i++) {
		const git_tree_entry *entry = git_tree_entry_byindex(tree, i);
		const git_tree_entry *before =
			hint_tree ? git_tree_entry_byname(hint_tree, git_tree_entry_name(entry)) : NULL;
		const git_oid *entry_id = git_tree_entry_id(entry);

		if (git_tree_entry_filemode(entry) == GIT_FILEMODE_COMMIT)
			continue; /* a submodule's commit lives in another repository */
		if (before && git_oid_equal(entry_id, git_tree_entry_id(before)))
			continue;
		if (git_tree_entry_type(entry) == GIT_OBJECT_TREE) {
			const git_oid *sub_hint = before && git_tree_entry_type(before) == GIT_OBJECT_TREE ?
							  git_tree_entry_id(before) : NULL;
			ret = check_tree(repo, odb, entry_id, sub_hint, cmd, depth + 1);
			if (ret < 0)
				goto out;
		} else if (!git_odb_exists(odb, entry_id)) {
			fail_missing(cmd, entry_id);
		}
	}
out:
	git_tree_free(hint_tree);
	git_tree_free(tree);
	return ret;
}

/* The commits reachable from id and from no ref, parents first, each
 * tree checked against its first parent's (complete: either behind a ref
 * or checked just before). */
static int check_commits(git_repository *repo, git_odb *odb, const git_oid *id,
			 struct push_command *cmd)
{
	git_revwalk *walk = NULL;
	git_oid next;
	int ret = -ENOMEM, walked;

	if (git_revwalk_new(&walk, repo) < 0)
		goto out;
	git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE);
	if (git_revwalk_push(walk, id) < 0) {
		fail_missing(cmd, id);
		ret = 0;
		goto out;
	}
	/* Refs to non-commits are skipped by a glob, as they should be. */
	if (git_revwalk_hide_glob(walk, "refs/*") < 0) {
		ret = -EIO;
		goto out;
	}
	while ((walked = git_revwalk_next(&next, walk)) == 0 && !cmd->failed) {
		git_commit *commit = NULL, *parent = NULL;
		const git_oid *hint = NULL;

		if (git_commit_lookup(&commit, repo, &next) < 0) {
			fail_missing(cmd, &next);
			break;
		}
		if (git_commit_parentcount(commit) > 0 && git_commit_parent(&parent, commit, 0) == 0)
			hint = git_commit_tree_id(parent);
		ret = check_tree(repo, odb, git_commit_tree_id(commit), hint, cmd, 0);
		git_commit_free(parent);
		git_commit_free(commit);
		if (ret < 0)
			goto out;
	}
	if (walked < 0 && walked != GIT_ITEROVER && !cmd->failed)
		push_command_fail(cmd, "missing necessary objects (the history behind it is "
				  "incomplete: %s)", git_error_last() ? git_error_last()->message : "?");
	ret = 0;
out:
	git_revwalk_free(walk);
	return ret;
}

int receive_check_connected(git_repository *repo, struct push_command *cmd)
{
	git_object *object = NULL;
	git_odb *odb = NULL;
	git_oid id = cmd->new_id;
	int ret = -EIO;

	if (git_oid_is_zero(&cmd->new_id))
		return 0;
	if (git_repository_odb(&odb, repo) < 0)
		goto out;
	/* An annotated tag: its target (maybe another tag) must be here too. */
	for (int tags = 0;; tags++) {
		if (git_object_lookup(&object, repo, &id, GIT_OBJECT_ANY) < 0) {
			fail_missing(cmd, &id);
			ret = 0;
			goto out;
		}
		if (git_object_type(object) != GIT_OBJECT_TAG)
			break;
		if (tags == 16) {
			push_command_fail(cmd, "tags nested more than 16 deep");
			ret = 0;
			goto out;
		}
		id = *git_tag_target_id((git_tag *)object);
		git_object_free(object);
		object = NULL;
	}
	switch (git_object_type(object)) {
	case GIT_OBJECT_COMMIT:
		ret = check_commits(repo, odb, &id, cmd);
		break;
	case GIT_OBJECT_TREE:
		ret = check_tree(repo, odb, &id, NULL, cmd, 0);
		break;
	default:
		ret = 0; /* a blob: it is here */
		break;
	}
out:
	git_object_free(object);
	git_odb_free(odb);
	return ret;
}

int receive_check_old_id(git_repository *repo, struct push_command *cmd)
{
	char have[GIT_OID_SHA1_HEXSIZE + 1];
	git_oid current;
	int ret = git_reference_name_to_id(&current, repo, cmd->ref);

	if (ret == GIT_ENOTFOUND) {
		memset(&current, 0, sizeof(current));
	} else if (ret < 0) {
		push_command_fail(cmd, "unable to read the ref: %s",
				  git_error_last() ? git_error_last()->message : "?");
		return 0;
	}
	if (git_oid_equal(&current, &cmd->old_id))
		return 0;
	git_oid_tostr(have, 8, &current);
	if (git_oid_is_zero(&cmd->old_id))
		push_command_fail(cmd, "stale info: the ref already exists (at %s); fetch first", have);
	else if (git_oid_is_zero(&current))
		push_command_fail(cmd, "stale info: the ref no longer exists; fetch first");
	else
		push_command_fail(cmd, "stale info: the ref moved to %s; fetch first", have);
	return 0;
}

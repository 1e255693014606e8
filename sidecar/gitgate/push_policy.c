/* A repository's push rules (gitgate.yaml): protected refs are never
 * created, updated or deleted through the gate; other refs may be deleted
 * only with allow_delete and rewound only with allow_force_push. */
#include "receive_pack.h"

#include <errno.h>
#include <string.h>

static bool pattern_matches(const char *pattern, const char *ref)
{
	size_t len = strlen(pattern);

	if (len > 0 && pattern[len - 1] == '*')
		return strncmp(pattern, ref, len - 1) == 0;
	return strcmp(pattern, ref) == 0;
}

bool push_policy_protected(const struct gitgate_repo_config *config, const char *ref)
{
	if (!config->protected_refs)
		return false;
	for (char **p = config->protected_refs; *p; p++) {
		const char *pattern = *p;
		if (strncmp(pattern, "refs/", 5) == 0) {
			if (pattern_matches(pattern, ref))
				return true;
		} else if (strncmp(ref, "refs/heads/", 11) == 0 &&
			   pattern_matches(pattern, ref + 11)) {
			return true;
		}
	}
	return false;
}

/* Whether moving the ref from old to new only adds history: both are
 * commits, new descends from old, and the ref is not a tag.  1 yes, 0 no,
 * negative: unknown. */
static int fast_forward(git_repository *repo, const char *ref, const git_oid *old_id,
			const git_oid *new_id)
{
	git_odb *odb = NULL;
	git_object_t old_type, new_type;
	size_t size;
	int ret = -EIO;

	if (git_oid_equal(old_id, new_id))
		return 1;
	/* A tag names one release: moving it rewrites what it meant, even
	 * onto a descendant (git's client, too, wants --force for it). */
	if (strncmp(ref, "refs/tags/", 10) == 0)
		return 0;
	if (git_repository_odb(&odb, repo) < 0)
		goto out;
	if (git_odb_read_header(&size, &old_type, odb, old_id) < 0 ||
	    git_odb_read_header(&size, &new_type, odb, new_id) < 0)
		goto out;
	/* A moved tag object or a ref to a tree is a replacement, never a
	 * fast-forward. */
	if (old_type != GIT_OBJECT_COMMIT || new_type != GIT_OBJECT_COMMIT) {
		ret = 0;
		goto out;
	}
	ret = git_graph_descendant_of(repo, new_id, old_id);
	if (ret < 0)
		ret = -EIO;
out:
	git_odb_free(odb);
	return ret;
}

int push_policy_check(const struct gitgate_repo_config *config, git_repository *repo,
		      struct push_command *cmd)
{
	bool deleting = git_oid_is_zero(&cmd->new_id);
	int ff;

	if (cmd->failed)
		return 0;
	if (push_policy_protected(config, cmd->ref)) {
		push_command_fail(cmd, deleting ? "protected ref: the gate never deletes it" :
				  "protected ref: the gate does not accept pushes to it");
		return 0;
	}
	if (deleting) {
		if (!config->allow_delete)
			push_command_fail(cmd, "deleting refs is not allowed on this gate");
		return 0;
	}
	if (git_oid_is_zero(&cmd->old_id))
		return 0; /* a new ref */
	ff = fast_forward(repo, cmd->ref, &cmd->old_id, &cmd->new_id);
	if (ff < 0) {
		push_command_fail(cmd, "unable to tell whether the update is a fast-forward");
		return ff;
	}
	if (!ff && !config->allow_force_push)
		push_command_fail(cmd, "non-fast-forward: force pushes are not allowed on this gate "
				  "(fetch, then merge or rebase)");
	return 0;
}

/* Scratch repositories for the git gate's unit tests, built with libgit2:
 * a bare repository in /tmp and commits of one file each. */
#ifndef TEST_GITGATE_HELPERS_H
#define TEST_GITGATE_HELPERS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "../../sidecar/gitgate/gitgate.h"

struct scratch_repo {
	char path[64];
	git_repository *repo;
};

static inline int scratch_repo_open(struct scratch_repo *s)
{
	git_libgit2_init();
	snprintf(s->path, sizeof(s->path), "/tmp/test_gitgate.XXXXXX");
	if (!mkdtemp(s->path))
		return -1;
	return git_repository_init(&s->repo, s->path, 1);
}

static inline void scratch_repo_close(struct scratch_repo *s)
{
	char command[128];

	git_repository_free(s->repo);
	snprintf(command, sizeof(command), "rm -rf '%s'", s->path);
	if (system(command) != 0)
		fprintf(stderr, "could not remove %s\n", s->path);
	git_libgit2_shutdown();
}

/* A commit holding one file, "file", with content, on parent (or none). */
static inline git_oid scratch_commit(git_repository *repo, const char *content,
				     const git_oid *parent_id)
{
	git_oid blob_id, tree_id, commit_id;
	git_treebuilder *builder = NULL;
	git_signature *sig = NULL;
	git_commit *parent = NULL;
	git_tree *tree = NULL;

	memset(&commit_id, 0, sizeof(commit_id));
	if (git_blob_create_from_buffer(&blob_id, repo, content, strlen(content)) < 0 ||
	    git_treebuilder_new(&builder, repo, NULL) < 0 ||
	    git_treebuilder_insert(NULL, builder, "file", &blob_id, GIT_FILEMODE_BLOB) < 0 ||
	    git_treebuilder_write(&tree_id, builder) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0 ||
	    git_signature_new(&sig, "Test", "test@example.invalid", 1700000000, 0) < 0 ||
	    (parent_id && git_commit_lookup(&parent, repo, parent_id) < 0))
		goto out;
	const git_commit *parents[1] = { parent };
	if (git_commit_create(&commit_id, repo, NULL, sig, sig, NULL, content, tree,
			      parent ? 1 : 0, parents) < 0)
		memset(&commit_id, 0, sizeof(commit_id));
out:
	git_commit_free(parent);
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(builder);
	return commit_id;
}

static inline int scratch_ref(git_repository *repo, const char *name, const git_oid *id)
{
	git_reference *ref = NULL;
	int ret = git_reference_create(&ref, repo, name, id, 1, NULL);

	git_reference_free(ref);
	return ret;
}

/* A command as the parser would make it; ref is borrowed. */
static inline struct push_command scratch_command(const char *ref, const git_oid *old_id,
						  const git_oid *new_id)
{
	struct push_command cmd;

	memset(&cmd, 0, sizeof(cmd));
	cmd.ref = (char *)ref;
	if (old_id)
		cmd.old_id = *old_id;
	if (new_id)
		cmd.new_id = *new_id;
	return cmd;
}

#endif

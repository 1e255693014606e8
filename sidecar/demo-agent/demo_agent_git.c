/* The demo agent's git: a clone and pushes with libgit2, sent to the
 * bottle's git gate by the same GIT_CONFIG_* rewrites the launcher gives
 * every agent's git. */
#include "demo_agent.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#define PROGRESS_MAX 400

static void git_reason(char *out, size_t len, const char *what)
{
	const git_error *e = git_error_last();

	snprintf(out, len, "%s: %s", what, e && e->message ? e->message : "unknown error");
}

/* git reads GIT_CONFIG_COUNT, GIT_CONFIG_KEY_<n> and GIT_CONFIG_VALUE_<n>
 * as configuration; libgit2 does not, so the clone's own config gets them
 * (multi-valued: one upstream has several insteadOf spellings). */
static int config_from_environment(git_repository *repo)
{
	const char *count = getenv("GIT_CONFIG_COUNT");
	long n = count ? strtol(count, NULL, 10) : 0;
	git_config *config = NULL;
	char name[64];
	long i;
	int ret = -1;

	if (git_repository_config(&config, repo) < 0)
		return -1;
	for (i = 0; i < n; i++) {
		const char *key, *value;

		snprintf(name, sizeof(name), "GIT_CONFIG_KEY_%ld", i);
		key = getenv(name);
		snprintf(name, sizeof(name), "GIT_CONFIG_VALUE_%ld", i);
		value = getenv(name);
		/* A regexp matching no value: add, never replace. */
		if (!key || !value || git_config_set_multivar(config, key, "$^", value) < 0)
			goto out;
	}
	ret = 0;
out:
	git_config_free(config);
	return ret;
}

static int repository_create(git_repository **out, const char *path, int bare, void *payload)
{
	(void)payload;
	if (git_repository_init(out, path, bare) < 0)
		return -1;
	if (config_from_environment(*out) < 0) {
		git_repository_free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int demo_git_clone(const char *upstream, const char *dir, struct demo_git_result *r)
{
	git_clone_options options;
	git_repository *repo = NULL;
	git_remote *origin = NULL;
	git_reference *head = NULL;
	char readme[4096];
	FILE *f;
	int ret = -EIO;

	memset(r, 0, sizeof(*r));
	git_clone_options_init(&options, GIT_CLONE_OPTIONS_VERSION);
	options.repository_cb = repository_create;
	if (git_clone(&repo, upstream, dir, &options) < 0) {
		git_reason(r->detail, sizeof(r->detail), "clone failed");
		goto out;
	}
	if (git_remote_lookup(&origin, repo, "origin") == 0)
		snprintf(r->url, sizeof(r->url), "%s", git_remote_url(origin));
	if (git_repository_head(&head, repo) < 0) {
		git_reason(r->detail, sizeof(r->detail), "no HEAD after the clone");
		goto out;
	}
	snprintf(readme, sizeof(readme), "%s/README.md", dir);
	f = fopen(readme, "r");
	if (!f || !fgets(readme, sizeof(readme), f))
		readme[0] = '\0';
	if (f)
		fclose(f);
	readme[strcspn(readme, "\n")] = '\0';
	snprintf(r->detail, sizeof(r->detail), "%s at %.7s, README.md starts \"%s\"",
		 git_reference_shorthand(head), git_oid_tostr_s(git_reference_target(head)), readme);
	r->ok = true;
	ret = 0;
out:
	git_reference_free(head);
	git_remote_free(origin);
	git_repository_free(repo);
	return ret;
}

/* What the gate said per ref: NULL status is accepted. */
static int push_update(const char *ref, const char *status, void *payload)
{
	struct demo_git_result *r = payload;

	(void)ref;
	if (status)
		snprintf(r->refused, sizeof(r->refused), "%s", status);
	else
		r->ok = true;
	return 0;
}

/* The gate's "remote:" lines: the first one that names a finding says
 * more than the ref's short reason. */
static int push_progress(const char *text, int len, void *payload)
{
	struct demo_git_result *r = payload;
	size_t used = strlen(r->detail);

	if (used < PROGRESS_MAX && used + 1 < sizeof(r->detail))
		snprintf(r->detail + used, sizeof(r->detail) - used, "%.*s", len, text);
	return 0;
}

static int commit_file(git_repository *repo, const char *dir, const char *branch,
		       const char *path, const char *content, git_oid *commit,
		       struct demo_git_result *r)
{
	char full[4096], ref[256];
	git_signature *who = NULL;
	git_index *index = NULL;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	git_oid tree_id;
	FILE *f;
	int ret = -EIO;

	snprintf(full, sizeof(full), "%s/%s", dir, path);
	f = fopen(full, "w");
	if (!f || fputs(content, f) < 0 || fclose(f) != 0) {
		snprintf(r->detail, sizeof(r->detail), "cannot write %.400s", full);
		return -EIO;
	}
	snprintf(ref, sizeof(ref), "refs/heads/%s", branch);
	if (git_revparse_single((git_object **)&parent, repo, "HEAD^{commit}") < 0 ||
	    git_repository_index(&index, repo) < 0 || git_index_add_bypath(index, path) < 0 ||
	    git_index_write(index) < 0 || git_index_write_tree(&tree_id, index) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0) {
		git_reason(r->detail, sizeof(r->detail), "commit failed");
		goto out;
	}
	/* The author is the bottle's git.user (GIT_AUTHOR_* from the
	 * launcher): the gate's identity rule checks it. */
	if (git_signature_now(&who, getenv("GIT_AUTHOR_NAME") ? getenv("GIT_AUTHOR_NAME") : "demo",
			      getenv("GIT_AUTHOR_EMAIL") ? getenv("GIT_AUTHOR_EMAIL")
							 : "demo@bottle.test") < 0 ||
	    git_commit_create(commit, repo, ref, who, who, NULL, "demo: a change from the agent\n",
			      tree, 1, (const git_commit **)&parent) < 0) {
		git_reason(r->detail, sizeof(r->detail), "commit failed");
		goto out;
	}
	ret = 0;
out:
	git_signature_free(who);
	git_tree_free(tree);
	git_index_free(index);
	git_commit_free(parent);
	return ret;
}

int demo_git_commit_push(const char *dir, const char *branch, const char *path,
			 const char *content, struct demo_git_result *r)
{
	git_repository *repo = NULL;
	git_remote *origin = NULL;
	git_push_options options;
	git_oid commit;
	char refspec[512];
	char *specs[] = { refspec };
	git_strarray refspecs = { specs, 1 };
	int ret = -EIO;

	memset(r, 0, sizeof(*r));
	if (git_repository_open(&repo, dir) < 0 || git_remote_lookup(&origin, repo, "origin") < 0) {
		git_reason(r->detail, sizeof(r->detail), "no clone to push from");
		goto out;
	}
	snprintf(r->url, sizeof(r->url), "%s", git_remote_url(origin));
	if (commit_file(repo, dir, branch, path, content, &commit, r) < 0)
		goto out;
	snprintf(refspec, sizeof(refspec), "refs/heads/%s:refs/heads/%s", branch, branch);
	git_push_options_init(&options, GIT_PUSH_OPTIONS_VERSION);
	options.callbacks.push_update_reference = push_update;
	options.callbacks.sideband_progress = push_progress;
	options.callbacks.payload = r;
	if (git_remote_push(origin, &refspecs, &options) < 0 && !r->refused[0]) {
		git_reason(r->refused, sizeof(r->refused), "push failed");
		goto out;
	}
	if (r->ok)
		snprintf(r->detail, sizeof(r->detail), "%s at %.7s", branch, git_oid_tostr_s(&commit));
	ret = 0;
out:
	git_remote_free(origin);
	git_repository_free(repo);
	return ret;
}

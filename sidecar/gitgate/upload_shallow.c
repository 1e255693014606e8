/* Shallow clones and fetches: the client's "shallow", "deepen N",
 * "deepen-since", "deepen-not" and deepen-relative, the boundary they
 * give, and the "shallow" / "unshallow" lines that tell the client
 * (gitprotocol-pack(5), "Shallow clone and fetch").  The rules follow git's
 * get_shallow_commits(): a want is at depth 0, its parents at 1, and a
 * commit reached at depth N-1 becomes shallow (its parents are not sent).
 * The boundary ends up in u->shallow, which pack_send.c's walk treats as
 * parentless commits, as git's upload-pack registers them as grafts. */
#include "upload_pack.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* A positive decimal number; false when line is anything else. */
static bool number_parse(struct str s, int64_t max, int64_t *out)
{
	int64_t n = 0;

	if (s.len == 0 || s.len > 19)
		return false;
	for (size_t i = 0; i < s.len; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return false;
		/* Checked before it is computed: n * 10 may not fit. */
		if (n > (max - (s.p[i] - '0')) / 10)
			return false;
		n = n * 10 + (s.p[i] - '0');
	}
	*out = n;
	return n > 0;
}

static int shallow_add(struct upload_pack *u, struct str hex)
{
	char text[GIT_OID_SHA1_HEXSIZE + 1], shown[64];
	git_object *object = NULL;
	git_oid oid;
	bool added;
	int ret;

	if (hex.len != GIT_OID_SHA1_HEXSIZE)
		return upload_fail(u, -EPROTO, "invalid shallow line");
	memcpy(text, hex.p, hex.len);
	text[hex.len] = '\0';
	/* The client's bytes go to the log: shown without control bytes. */
	if (git_oid_fromstr(&oid, text) < 0)
		return upload_fail(u, -EPROTO, "invalid shallow line: %s",
				   upload_line_for_message(hex, shown, sizeof(shown)));
	/* One we do not have says nothing about what to send (as in git). */
	if (git_object_lookup(&object, u->repo, &oid, GIT_OBJECT_ANY) < 0)
		return 0;
	if (git_object_type(object) != GIT_OBJECT_COMMIT) {
		git_object_free(object);
		return upload_fail(u, -EPROTO, "invalid shallow object %s", text);
	}
	git_object_free(object);
	ret = oid_map_put(&u->client_shallow_set, &oid, 0, &added);
	if (ret == 0 && added)
		ret = oid_array_push(&u->client_shallows, &oid);
	if (ret == -EMSGSIZE)
		return upload_fail(u, ret, "more than %d shallow lines", UPLOAD_SHALLOWS_MAX);
	return ret;
}

static int deepen_not_add(struct upload_pack *u, struct str name)
{
	char text[1024], shown[80];
	git_reference *ref = NULL;
	git_object *commit = NULL;
	int ret;

	if (name.len == 0 || name.len >= sizeof(text) || memchr(name.p, '\0', name.len))
		return upload_fail(u, -EPROTO, "invalid deepen-not");
	memcpy(text, name.p, name.len);
	text[name.len] = '\0';
	if (git_reference_dwim(&ref, u->repo, text) < 0)
		return upload_fail(u, -EINVAL, "deepen-not: no such ref '%s'",
				   upload_line_for_message(name, shown, sizeof(shown)));
	if (git_reference_peel(&commit, ref, GIT_OBJECT_COMMIT) < 0) {
		git_reference_free(ref);
		return upload_fail(u, -EINVAL, "deepen-not: '%s' is not a commit",
				   upload_line_for_message(name, shown, sizeof(shown)));
	}
	ret = oid_array_push(&u->deepen_not, git_object_id(commit));
	git_object_free(commit);
	git_reference_free(ref);
	if (ret == -EMSGSIZE)
		return upload_fail(u, ret, "more than %d deepen-not lines", UPLOAD_DEEPEN_NOT_MAX);
	return ret;
}

int upload_shallow_line(struct upload_pack *u, struct str line, bool *matched)
{
	struct str arg = line;
	char shown[48];
	int64_t n;

	*matched = true;
	if (upload_skip_prefix(&arg, "shallow "))
		return shallow_add(u, arg);
	if (upload_skip_prefix(&arg, "deepen ")) {
		/* Up to INT_MAX: git's INFINITE_DEPTH, what `git fetch
		 * --unshallow` sends; every commit is then within reach. */
		if (!number_parse(arg, INT_MAX, &n))
			return upload_fail(u, -EPROTO, "invalid deepen: '%s'",
					   upload_line_for_message(arg, shown, sizeof(shown)));
		u->depth = (int)n;
		return 0;
	}
	if (upload_skip_prefix(&arg, "deepen-since ")) {
		if (!number_parse(arg, INT64_MAX / 2, &n))
			return upload_fail(u, -EPROTO, "invalid deepen-since");
		u->deepen_since = n;
		return 0;
	}
	if (upload_skip_prefix(&arg, "deepen-not "))
		return deepen_not_add(u, arg);
	if (str_equal_cstr(line, "deepen-relative")) {
		u->deepen_relative = true;
		return 0;
	}
	*matched = false;
	return 0;
}

bool upload_shallow_requested(const struct upload_pack *u)
{
	return u->depth > 0 || u->deepen_since > 0 || u->deepen_not.n > 0;
}

static int commit_parents(git_repository *repo, const git_oid *oid, git_commit **out)
{
	return git_commit_lookup(out, repo, oid) < 0 ? -EIO : 0;
}

/* The commits a want (or tag) stands for, as the heads of a walk. */
static int wants_as_commits(struct upload_pack *u, struct oid_array *heads)
{
	for (size_t i = 0; i < u->wants.n; i++) {
		git_object *object = NULL, *commit = NULL;
		int ret = 0;

		if (git_object_lookup(&object, u->repo, &u->wants.v[i], GIT_OBJECT_ANY) < 0)
			return -EIO;
		if (git_object_peel(&commit, object, GIT_OBJECT_COMMIT) == 0)
			ret = oid_array_push(heads, git_object_id(commit));
		git_object_free(commit);
		git_object_free(object);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* git's get_shallow_commits(): depth-first from the heads, a commit
 * revisited only when reached by a shorter path.  Commits reached within
 * depth go to not_shallow; those at the limit to candidates. */
static int boundary_by_depth(struct upload_pack *u, const struct oid_array *heads, int depth,
			     struct oid_map *candidates, struct oid_map *not_shallow)
{
	struct oid_map depths = OID_MAP_INIT;
	struct oid_array stack = { .max = SIZE_MAX / sizeof(git_oid) };
	int ret = 0;

	for (size_t h = 0; h < heads->n && ret == 0; h++) {
		ret = oid_map_put(&depths, &heads->v[h], 0, NULL);
		if (ret == 0)
			ret = oid_array_push(&stack, &heads->v[h]);
		while (ret == 0 && stack.n > 0) {
			git_oid oid = stack.v[--stack.n];
			int current = *oid_map_get(&depths, &oid) + 1;
			git_commit *commit = NULL;

			if (current >= depth) {
				ret = oid_map_put(candidates, &oid, 0, NULL);
				continue;
			}
			ret = oid_map_put(not_shallow, &oid, 0, NULL);
			if (ret == 0 && commit_parents(u->repo, &oid, &commit) < 0)
				ret = upload_fail(u, -EIO, "cannot read a commit: %s",
						  upload_git_error());
			for (unsigned p = 0; ret == 0 && p < git_commit_parentcount(commit); p++) {
				const git_oid *parent = git_commit_parent_id(commit, p);
				int *seen = oid_map_get(&depths, parent);

				if (seen && current >= *seen)
					continue;
				ret = oid_map_put(&depths, parent, current, NULL);
				if (ret == 0)
					ret = oid_array_push(&stack, parent);
			}
			git_commit_free(commit);
		}
	}
	oid_array_release(&stack);
	oid_map_release(&depths);
	return ret;
}

/* git's get_shallow_commits_by_rev_list(): the commits reachable from the
 * wants, not from the deepen-not refs, and not older than deepen-since;
 * those with a parent left out are the boundary. */
static int boundary_by_rev_list(struct upload_pack *u, const struct oid_array *heads,
				struct oid_map *candidates, struct oid_map *not_shallow)
{
	struct oid_array included = { .max = SIZE_MAX / sizeof(git_oid) };
	git_revwalk *walk = NULL;
	git_oid oid;
	int ret = -EIO;

	if (git_revwalk_new(&walk, u->repo) < 0)
		goto git_error;
	for (size_t i = 0; i < heads->n; i++)
		if (git_revwalk_push(walk, &heads->v[i]) < 0)
			goto git_error;
	for (size_t i = 0; i < u->deepen_not.n; i++)
		if (git_revwalk_hide(walk, &u->deepen_not.v[i]) < 0)
			goto git_error;
	for (;;) {
		git_commit *commit = NULL;
		int next = git_revwalk_next(&oid, walk);

		if (next == GIT_ITEROVER)
			break;
		if (next < 0 || git_commit_lookup(&commit, u->repo, &oid) < 0)
			goto git_error;
		if (u->deepen_since == 0 || git_commit_time(commit) >= u->deepen_since) {
			ret = oid_map_put(not_shallow, &oid, 0, NULL);
			if (ret == 0)
				ret = oid_array_push(&included, &oid);
		} else {
			ret = 0;
		}
		git_commit_free(commit);
		if (ret < 0)
			goto out;
	}
	if (included.n == 0) {
		ret = upload_fail(u, -EINVAL, "no commits selected for shallow requests");
		goto out;
	}
	for (size_t i = 0; i < included.n; i++) {
		git_commit *commit = NULL;

		if (git_commit_lookup(&commit, u->repo, &included.v[i]) < 0)
			goto git_error;
		for (unsigned p = 0; p < git_commit_parentcount(commit); p++) {
			if (!oid_map_has(not_shallow, git_commit_parent_id(commit, p))) {
				ret = oid_map_put(candidates, &included.v[i], 0, NULL);
				break;
			}
		}
		git_commit_free(commit);
		if (ret < 0)
			goto out;
	}
	/* A boundary commit is shallow, not "not shallow". */
	for (size_t i = 0; i < candidates->cap; i++) {
		if (!candidates->slots[i].used)
			continue;
		int *value = oid_map_get(not_shallow, &candidates->slots[i].oid);
		if (value)
			*value = -1;
	}
	ret = 0;
	goto out;
git_error:
	ret = upload_fail(u, -EIO, "walking the history failed: %s", upload_git_error());
out:
	git_revwalk_free(walk);
	oid_array_release(&included);
	return ret;
}

static bool not_shallow_has(const struct oid_map *not_shallow, const git_oid *oid)
{
	int *value = oid_map_get(not_shallow, oid);
	return value && *value >= 0;
}

int upload_shallow_send(struct upload_pack *u)
{
	struct oid_map candidates = OID_MAP_INIT, not_shallow = OID_MAP_INIT;
	struct oid_array heads = { .max = UPLOAD_WANTS_MAX + UPLOAD_SHALLOWS_MAX };
	struct gitgate_io *out = u->s->out;
	char hex[GIT_OID_SHA1_HEXSIZE + 1];
	int ret = 0;

	u->shallow_mode = true;
	if (u->depth > 0 && (u->deepen_since > 0 || u->deepen_not.n > 0)) {
		ret = upload_fail(u, -EINVAL,
				  "deepen and deepen-since (or deepen-not) cannot be used together");
		goto out;
	}
	if (u->depth > 0 && u->deepen_relative) {
		/* --deepen=N: N more below the client's current boundary. */
		for (size_t i = 0; i < u->client_shallows.n && ret == 0; i++)
			if (u->ntip_commits > 0 &&
			    git_graph_reachable_from_any(u->repo, &u->client_shallows.v[i],
							 u->tip_commits, u->ntip_commits) == 1)
				ret = oid_array_push(&heads, &u->client_shallows.v[i]);
		if (ret == 0 && u->depth < INT_MAX - 1)
			ret = boundary_by_depth(u, &heads, u->depth + 1, &candidates, &not_shallow);
	} else if (u->depth > 0) {
		ret = wants_as_commits(u, &heads);
		if (ret == 0)
			ret = boundary_by_depth(u, &heads, u->depth, &candidates, &not_shallow);
	} else if (upload_shallow_requested(u)) {
		ret = wants_as_commits(u, &heads);
		if (ret == 0)
			ret = boundary_by_rev_list(u, &heads, &candidates, &not_shallow);
	}
	if (ret < 0)
		goto out;
	for (size_t i = 0; i < candidates.cap; i++) {
		const git_oid *oid = &candidates.slots[i].oid;

		if (!candidates.slots[i].used || not_shallow_has(&not_shallow, oid) ||
		    oid_map_has(&u->client_shallow_set, oid))
			continue;
		ret = pkt_writef(out, "shallow %s\n", git_oid_tostr(hex, sizeof(hex), oid));
		if (ret == 0)
			ret = oid_map_put(&u->shallow, oid, 0, NULL);
		if (ret < 0)
			goto out;
	}
	/* The client's own boundary stays in force for the walk; where it
	 * moves down, the old boundary's parents become wants of the pack. */
	for (size_t i = 0; i < u->client_shallows.n; i++) {
		const git_oid *oid = &u->client_shallows.v[i];

		ret = oid_map_put(&u->shallow, oid, 0, NULL);
		if (ret == 0 && not_shallow_has(&not_shallow, oid)) {
			ret = pkt_writef(out, "unshallow %s\n", git_oid_tostr(hex, sizeof(hex), oid));
			if (ret == 0)
				ret = oid_array_push(&u->unshallowed, oid);
		}
		if (ret < 0)
			goto out;
	}
out:
	oid_array_release(&heads);
	oid_map_release(&candidates);
	oid_map_release(&not_shallow);
	return ret;
}

/* Push scanning (gitgate.h, docs/gitgate.md "Push scanning"): for each
 * command, the commits it brings that no ref of the repository already
 * reaches, within a bound; the identity rule over all of them, then the
 * DLP engine over each (push_scan_diff.c) and the operator's answers
 * (push_approval.c).  Everything the client sees is one `remote:` line
 * per fact, and never a matched value. */
#include "push_scan_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../shared/log.h"

void push_scan_fail(struct push_command *cmd, const char *fmt, ...)
{
	va_list ap;

	if (cmd->failed)
		return;
	cmd->failed = true;
	va_start(ap, fmt);
	vsnprintf(cmd->reason, sizeof(cmd->reason), fmt, ap);
	va_end(ap);
}

void push_scan_say(struct push_scan *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* A full buffer drops the line whole: the `ng` reason still tells. */
	if (buf_vappendf(ps->messages, fmt, ap) == 0)
		buf_append(ps->messages, "\n", 1);
	va_end(ap);
}

void push_scan_clean(char *dst, size_t size, const char *src, size_t len)
{
	size_t i;

	if (size == 0)
		return;
	if (len > size - 1)
		len = size - 1;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	dst[len] = '\0';
}

static const char *repo_name(const struct push_scan *ps)
{
	return ps->session->repo->config->name;
}

void push_scan_finding(struct push_scan *ps, const struct scan_place *place,
		       const struct scan_hit *hit)
{
	struct gitgate *gate = ps->session->gate;
	bool shown = ps->lines_shown < PUSH_SCAN_LINES_MAX;
	size_t mark = ps->messages->len;
	enum approval verdict = APPROVAL_BLOCK;

	ps->stats.findings++;
	log_warn("scan: %s %s commit %s: %s%s%s in %s line %llu (%s)", repo_name(ps),
		 place->cmd->ref, place->commit_hex, hit->rule, hit->name[0] ? " " : "", hit->name,
		 place->path, (unsigned long long)hit->first_line, dlp_detector_name(hit->detector));
	push_scan_say(ps, "secret in %s line %llu of commit %s: %s%s%s (%s)", place->path,
		      (unsigned long long)hit->first_line, place->commit_short, hit->rule,
		      hit->name[0] ? " " : "", hit->name, hit->preview);
	if (hit->structural && hit->detector == DLP_DETECTOR_CANARY)
		push_scan_say(ps, "  this is the bottle's canary: it never passes; remove it and push again");
	else if (hit->structural)
		/* A known secret disguised (confusables, invisible characters):
		 * nothing to approve. */
		push_scan_say(ps, "  a disguised secret never passes; remove it and push again");
	else if (gate->queue_dir)
		verdict = push_approval_check(ps, place, hit);
	else
		push_scan_say(ps, "  remove it from the commit and push again");
	if (!shown) {
		/* Past the bound the lines are counted, not kept: the log
		 * and the proposals still have every one. */
		ps->messages->len = mark;
		ps->messages->p[mark] = '\0';
		ps->lines_hidden++;
	} else {
		ps->lines_shown++;
	}
	if (verdict == APPROVAL_BLOCK) {
		ps->blocked = true;
		push_scan_fail(place->cmd, "secret found: see the remote: lines");
	}
}

/* "Name <email>", "Name" or "<email>": what the identity rule asks. */
static void wanted_identity(const struct gitgate_config *c, char *out, size_t size)
{
	if (c->user_name && c->user_email)
		snprintf(out, size, "%s <%s>", c->user_name, c->user_email);
	else if (c->user_name)
		snprintf(out, size, "%s", c->user_name);
	else
		snprintf(out, size, "<%s>", c->user_email);
}

static bool identity_matches(const git_signature *sig, const struct gitgate_config *c)
{
	if (c->user_name && strcmp(sig->name, c->user_name) != 0)
		return false;
	/* The domain of an address is case-blind, and users mix cases. */
	return !c->user_email || strcasecmp(sig->email, c->user_email) == 0;
}

/* true when commit's author and committer are the configured user. */
static bool check_identity(struct push_scan *ps, struct push_command *cmd, git_commit *commit,
			   const char *short_id)
{
	const struct gitgate_config *c = &ps->session->gate->config;
	const git_signature *who[2] = { git_commit_author(commit), git_commit_committer(commit) };
	static const char *const role[2] = { "author", "committer" };
	char wanted[256], name[128], email[128];
	size_t i;

	if (!c->user_name && !c->user_email)
		return true;
	for (i = 0; i < 2; i++) {
		if (identity_matches(who[i], c))
			continue;
		wanted_identity(c, wanted, sizeof(wanted));
		push_scan_clean(name, sizeof(name), who[i]->name, strlen(who[i]->name));
		push_scan_clean(email, sizeof(email), who[i]->email, strlen(who[i]->email));
		push_scan_fail(cmd, "commit %s: %s %s <%s> is not %s", short_id, role[i], name, email,
			       wanted);
		push_scan_say(ps, "commit %s has %s %s <%s>, but this gate takes commits by %s only",
			      short_id, role[i], name, email, wanted);
		push_scan_say(ps, "  set user.name and user.email, rewrite the commits "
				  "(git commit --amend --reset-author, or git rebase -i with "
				  "--exec 'git commit --amend --no-edit --reset-author') and push again");
		return false;
	}
	return true;
}

int push_scan_git_failure(struct push_scan *ps, const char *what)
{
	const git_error *e = git_error_last();

	error_format(ps->session->err, sizeof(ps->session->err), "scan: %s: %s", what,
		     e && e->message ? e->message : "unknown error");
	return -EIO;
}

/* The new commits reaching target, oldest first, into *ids: 0, 1 when
 * there are more than the bound, negative when the walk failed. */
static int new_commits(struct push_scan *ps, const git_oid *target, git_oid **ids, size_t *n)
{
	uint64_t max = ps->session->gate->config.scan_max_commits;
	size_t cap = 0;
	git_revwalk *walk = NULL;
	git_oid id;
	int ret;

	*ids = NULL;
	*n = 0;
	if (git_revwalk_new(&walk, ps->repo) < 0 ||
	    git_revwalk_sorting(walk, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0 ||
	    git_revwalk_push(walk, target) < 0 ||
	    /* Every ref, not only the pushed one: a commit another branch
	     * already holds was scanned when it came in (or came from
	     * upstream). */
	    git_revwalk_hide_glob(walk, "refs/*") < 0) {
		ret = push_scan_git_failure(ps, "cannot walk the new commits");
		goto out;
	}
	while ((ret = git_revwalk_next(&id, walk)) == 0) {
		if (max && *n >= max) {
			ret = 1;
			goto out;
		}
		if (*n == cap) {
			size_t grown_cap = cap ? cap * 2 : 64;
			git_oid *grown = realloc(*ids, grown_cap * sizeof(*grown));

			if (!grown) {
				error_format(ps->session->err, sizeof(ps->session->err),
					     "scan: out of memory");
				ret = -ENOMEM;
				goto out;
			}
			*ids = grown;
			cap = grown_cap;
		}
		(*ids)[(*n)++] = id;
	}
	ret = ret == GIT_ITEROVER ? 0 : push_scan_git_failure(ps, "cannot walk the new commits");
out:
	git_revwalk_free(walk);
	return ret;
}

/* The pushed object as a commit to walk from, and the tags on the way
 * scanned for their messages.  0 with *commit_id set, 1 when cmd failed,
 * negative when the scan cannot run. */
static int pushed_commit(struct push_scan *ps, struct push_command *cmd, git_oid *commit_id)
{
	git_object *object = NULL, *next = NULL;
	char hex[GIT_OID_SHA1_HEXSIZE + 1];
	int ret = 0, depth;

	git_oid_tostr(hex, sizeof(hex), &cmd->new_id);
	if (git_object_lookup(&object, ps->repo, &cmd->new_id, GIT_OBJECT_ANY) < 0)
		return push_scan_git_failure(ps, "the pushed object is missing");
	/* A tag of a tag of ...: each message is new text. */
	for (depth = 0; git_object_type(object) == GIT_OBJECT_TAG; depth++) {
		if (depth == 16) {
			push_scan_fail(cmd, "tag %s nests more than 16 tags deep", hex);
			ret = 1;
			goto out;
		}
		if (ps->dlp_ready && (ret = push_scan_tag(ps, cmd, (git_tag *)object)) < 0)
			goto out;
		if (git_tag_target(&next, (git_tag *)object) < 0) {
			ret = push_scan_git_failure(ps, "a pushed tag's target is missing");
			goto out;
		}
		git_object_free(object);
		object = next;
	}
	if (git_object_type(object) != GIT_OBJECT_COMMIT) {
		/* A blob or tree under a ref has no history to walk and no
		 * path to report; nothing the agent needs pushes one. */
		push_scan_fail(cmd, "%s points at a %s: the gate takes commits and tags of commits",
			       cmd->ref, git_object_type2string(git_object_type(object)));
		push_scan_say(ps, "%s: only commits and tags of commits can be pushed here", cmd->ref);
		ret = 1;
		goto out;
	}
	*commit_id = *git_object_id(object);
	ret = 0;
out:
	git_object_free(object);
	return ret;
}

static int scan_command(struct push_scan *ps, struct push_command *cmd)
{
	const struct gitgate_config *c = &ps->session->gate->config;
	git_commit **commits = NULL;
	git_oid *ids = NULL, target;
	char short_id[13];
	size_t n = 0, i;
	int ret;

	ret = pushed_commit(ps, cmd, &target);
	if (ret != 0)
		return ret < 0 ? ret : 0;
	ret = new_commits(ps, &target, &ids, &n);
	if (ret < 0)
		goto out;
	if (ret == 1) {
		push_scan_fail(cmd, "more than %llu new commits to scan: push in smaller steps",
			       (unsigned long long)c->scan_max_commits);
		push_scan_say(ps, "%s brings more than %llu new commits, the most the gate scans in "
				  "one push: push an older commit of it first (git push origin "
				  "<commit>:%s), or ask the operator to raise scan_max_commits",
			      cmd->ref, (unsigned long long)c->scan_max_commits, cmd->ref);
		ret = 0;
		goto out;
	}
	commits = calloc(n ? n : 1, sizeof(*commits));
	if (!commits) {
		error_format(ps->session->err, sizeof(ps->session->err), "scan: out of memory");
		ret = -ENOMEM;
		goto out;
	}
	ps->stats.commits += n;
	for (i = 0; i < n; i++)
		if (git_commit_lookup(&commits[i], ps->repo, &ids[i]) < 0) {
			ret = push_scan_git_failure(ps, "a new commit cannot be read");
			goto out;
		}
	/* Identity first: it is cheap, and a push it fails would only make
	 * proposals nobody can use. */
	for (i = 0; i < n; i++) {
		git_oid_tostr(short_id, sizeof(short_id), &ids[i]);
		if (!check_identity(ps, cmd, commits[i], short_id)) {
			ret = 0;
			goto out;
		}
	}
	for (i = 0; i < n && ps->dlp_ready; i++)
		if ((ret = push_scan_commit(ps, cmd, commits[i])) < 0)
			goto out;
	ret = 0;
out:
	for (i = 0; commits && i < n; i++)
		git_commit_free(commits[i]);
	free(commits);
	free(ids);
	return ret;
}

int push_scan_run(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
		  size_t n, struct buf *messages, struct push_scan_stats *stats)
{
	struct push_scan ps = { .session = s, .repo = repo, .messages = messages };
	size_t i;
	int ret = 0;

	if (s->gate->dlp) {
		ret = dlp_scan_init(&ps.dlp, s->gate->dlp);
		if (ret < 0) {
			error_format(s->err, sizeof(s->err), "scan: out of memory");
			goto out;
		}
		ps.dlp_ready = true;
	}
	for (i = 0; i < n; i++) {
		if (cmds[i].failed || git_oid_is_zero(&cmds[i].new_id))
			continue;
		ret = scan_command(&ps, &cmds[i]);
		if (ret < 0)
			goto out;
	}
	if (ps.lines_hidden)
		push_scan_say(&ps, "... and %zu more finding(s), in the gate's log and the "
				   "operator's queue", ps.lines_hidden);
	if (ps.blocked)
		push_scan_say(&ps, "to drop a secret instead: remove it, rewrite the commits that "
				   "hold it (git commit --amend, git rebase -i) and push again");
	if (ps.stats.findings || ps.stats.commits)
		log_info("scan: %s: %zu new commit(s), %zu blob(s) scanned, %zu reused, "
			 "%zu finding(s), %zu proposal(s)", s->repo->config->name, ps.stats.commits,
			 ps.stats.blobs_scanned, ps.stats.blobs_reused, ps.stats.findings,
			 ps.stats.proposals);
	ret = 0;
out:
	if (stats)
		*stats = ps.stats;
	push_scan_blobs_release(&ps);
	push_approval_release(&ps);
	if (ps.dlp_ready)
		dlp_scan_release(&ps.dlp);
	return ret;
}

int push_scan(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
	      size_t n, struct buf *messages)
{
	return push_scan_run(s, repo, cmds, n, messages, NULL);
}

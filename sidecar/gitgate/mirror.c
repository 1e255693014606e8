/* The bare mirror of an upstream, <data_dir>/<name>.git: fetched with
 * libgit2 when older than the configured age (or when forced), branches
 * and tags force-updated and pruned, HEAD following the upstream's default
 * branch.  The remote is anonymous, so neither the URL nor a credential is
 * ever written to the mirror's config.  A failed fetch keeps serving the
 * last good mirror and says so in the log. */
#include "mirror.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pack_merge.h"
#include "../../shared/log.h"

static int64_t monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

bool mirror_fetch_due(int64_t now_ms, int64_t fetched_at_ms, int64_t attempted_at_ms,
		      uint64_t max_age_ms, bool force)
{
	int64_t last = fetched_at_ms > attempted_at_ms ? fetched_at_ms : attempted_at_ms;

	if (force || last == 0 || now_ms < last)
		return true;
	return (uint64_t)(now_ms - last) >= max_age_ms;
}

/* Open the bare mirror, creating it (and its parents) the first time. */
static int mirror_open(const char *path, git_repository **out)
{
	git_repository_init_options options;
	int r = git_repository_open_bare(out, path);

	if (r != GIT_ENOTFOUND)
		return r;
	git_repository_init_options_init(&options, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	options.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	return git_repository_init_ext(out, path, &options);
}

/* A mirror worth serving has at least one ref (an empty upstream's mirror
 * has none, but then there is nothing to lose by failing either). */
static bool mirror_has_refs(git_repository *git)
{
	git_reference_iterator *refs = NULL;
	git_reference *ref = NULL;
	bool has = false;

	if (git_reference_iterator_new(&refs, git) == 0 && git_reference_next(&ref, refs) == 0)
		has = true;
	git_reference_free(ref);
	git_reference_iterator_free(refs);
	return has;
}

/* Point HEAD at the upstream's default branch, as a clone would. */
static int mirror_follow_head(git_repository *git, const char *branch)
{
	git_reference *head = NULL;
	int r;

	if (git_reference_lookup(&head, git, "HEAD") == 0 &&
	    git_reference_type(head) == GIT_REFERENCE_SYMBOLIC &&
	    strcmp(git_reference_symbolic_target(head), branch) == 0) {
		git_reference_free(head);
		return 0;
	}
	git_reference_free(head);
	head = NULL;
	r = git_reference_symbolic_create(&head, git, "HEAD", branch, 1, "gitgate: upstream HEAD");
	git_reference_free(head);
	return r;
}

/* One fetch: 0, or -EIO with the reason (never a secret) in reason. */
static int mirror_fetch(git_repository *git, const struct gitgate_repo_config *config, char *reason,
			size_t reason_len)
{
	static char *specs[] = { "+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*" };
	const git_strarray refspecs = { specs, sizeof(specs) / sizeof(specs[0]) };
	git_fetch_options options;
	git_remote_connect_options connect;
	git_remote *remote = NULL;
	git_buf head = GIT_BUF_INIT;
	struct mirror_auth auth;
	int ret = -EIO, r;

	/* The _init() functions: the INIT macros leave fields unnamed. */
	git_fetch_options_init(&options, GIT_FETCH_OPTIONS_VERSION);
	git_remote_connect_options_init(&connect, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	mirror_auth_init(&auth, config);
	mirror_auth_set_callbacks(&auth, &options.callbacks);
	options.prune = GIT_FETCH_PRUNE;
	options.update_fetchhead = 0;
	/* The tags refspec brings every tag; auto-following adds nothing. */
	options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	connect.callbacks = options.callbacks;
	if (git_remote_create_anonymous(&remote, git, config->upstream) < 0 ||
	    git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &connect) < 0) {
		mirror_failure_reason(&auth, reason, reason_len);
		goto out;
	}
	/* Read on the same connection the fetch then uses; an empty upstream
	 * has no default branch and leaves HEAD as it is. */
	r = git_remote_default_branch(&head, remote);
	if (r < 0 && r != GIT_ENOTFOUND) {
		mirror_failure_reason(&auth, reason, reason_len);
		goto out;
	}
	if (git_remote_fetch(remote, &refspecs, &options, "gitgate: fetch from upstream") < 0) {
		mirror_failure_reason(&auth, reason, reason_len);
		goto out;
	}
	if (head.size > 0 && mirror_follow_head(git, head.ptr) < 0) {
		error_format(reason, reason_len, "cannot point HEAD at %s: %s", head.ptr,
			     git_error_last()->message);
		goto out;
	}
	ret = 0;
out:
	git_buf_dispose(&head);
	git_remote_free(remote);
	return ret;
}

/* "12 s", "5 min", "3 h 20 min": how old the served mirror is. */
static void age_format(int64_t ms, char *out, size_t out_len)
{
	int64_t s = ms / 1000;

	if (s < 120)
		snprintf(out, out_len, "%" PRId64 " s", s);
	else if (s < 7200)
		snprintf(out, out_len, "%" PRId64 " min", s / 60);
	else
		snprintf(out, out_len, "%" PRId64 " h %" PRId64 " min", s / 3600, s / 60 % 60);
}

int mirror_refresh(struct gitgate *gate, struct gitgate_repo *repo, bool force, char *err,
		   size_t err_len)
{
	const struct gitgate_repo_config *config = repo->config;
	int64_t arrived = monotonic_ms(), started;
	git_repository *git = NULL;
	char reason[256], url[256], age[64];
	bool busy, good, waited_on;
	int ret = -EIO, r, lock_fd;

	/* The gate's own repository (no upstream) is always current. */
	if (!config->upstream)
		return 0;
	mirror_libgit2_setup();
	mirror_redact_userinfo(config->upstream, url, sizeof(url));
	/* Found busy: another caller is checking or fetching right now. */
	busy = pthread_mutex_trylock(&repo->fetch_lock) != 0;
	if (busy)
		pthread_mutex_lock(&repo->fetch_lock);
	if (mirror_open(repo->path, &git) < 0) {
		error_format(err, err_len, "cannot open or create the mirror %s: %s", repo->path,
			     git_error_last()->message);
		goto out;
	}
	good = repo->fetched_at_ms > 0 || mirror_has_refs(git);
	/* Callers that queued behind a fetch (one that ended after they
	 * arrived) take its result rather than fetching again, forced or not. */
	waited_on = busy && repo->fetch_attempted_at_ms >= arrived;
	if (good && (waited_on || !mirror_fetch_due(arrived, repo->fetched_at_ms,
						    repo->fetch_attempted_at_ms,
						    gate->config.mirror_max_age_ms, force))) {
		ret = 0;
		goto out;
	}
	started = monotonic_ms();
	/* Not while a push is being forwarded: a fetch that read the
	 * upstream's refs before the push landed there would set the
	 * mirror's refs back.  Lock order: fetch_lock, then push_lock;
	 * receive-pack never refreshes while it holds push_lock.  The
	 * flock too: another process (--stdio) may push or fetch, and the
	 * merge after the fetch must be alone in objects/pack. */
	pthread_mutex_lock(&repo->push_lock);
	lock_fd = pack_push_flock(repo->path);
	if (lock_fd < 0)
		log_warn("%s: unable to take the push lock file: %s", config->name,
			 strerror(-lock_fd));
	r = mirror_fetch(git, config, reason, sizeof(reason));
	if (r == 0 && lock_fd >= 0)
		pack_merge_after_write(config->name, repo->path);
	if (lock_fd >= 0)
		close(lock_fd);
	pthread_mutex_unlock(&repo->push_lock);
	repo->fetch_attempted_at_ms = monotonic_ms();
	if (r == 0) {
		/* The mirror is as fresh as the upstream's refs were when read. */
		repo->fetched_at_ms = started;
		repo->fetch_failed = false;
		ret = 0;
		goto out;
	}
	repo->fetch_failed = true;
	if (!good) {
		error_format(err, err_len, "fetch from %s failed (%s); no mirror to serve yet", url,
			     reason);
		goto out;
	}
	if (repo->fetched_at_ms > 0) {
		age_format(started - repo->fetched_at_ms, age, sizeof(age));
		log_warn("%s: fetch from %s failed (%s); serving the mirror from %s ago", config->name,
			 url, reason, age);
	} else {
		log_warn("%s: fetch from %s failed (%s); serving the mirror as it was before the gate "
			 "started", config->name, url, reason);
	}
	ret = 0;
out:
	git_repository_free(git);
	pthread_mutex_unlock(&repo->fetch_lock);
	return ret;
}

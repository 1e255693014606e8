/* Drive the git gate's mirror_refresh() and mirror_forward() without a
 * gate config, for the integration tests (tests/integration/t5070-t5089):
 *
 *   gitgate-mirror [options] refresh DIR UPSTREAM [STEP]...
 *       STEP: "refresh" (the default, once), "force": one mirror_refresh()
 *       each, printing "fetched", "fresh" (no fetch was due) or
 *       "stale: serving the last good mirror"; failure exits 1.  "wait"
 *       reads a line from stdin first: the test changes the world between
 *       two refreshes of one process (the mirror's age lives in memory).
 *       "parallel:N": N threads force a refresh at once; each prints
 *       "calling" first and the step ends with "parallel: N ok".
 *   gitgate-mirror [options] forward DIR UPSTREAM OLD NEW REF [OLD NEW REF]...
 *       push from the repository DIR; OLD / NEW are object ids, "-" for
 *       none (create / delete).  Prints the messages, then "ok REF" or
 *       "ng REF reason" per command; an unreachable upstream exits 1.
 *
 * Options: --token-env VAR, --deploy-key FILE, --known-hosts FILE,
 * --max-age MS (default 0: every refresh fetches). */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "../../sidecar/gitgate/gitgate.h"
#include "../../shared/buf.h"
#include "../../shared/exit_codes.h"
#include "../../shared/log.h"

#define USAGE "usage: gitgate-mirror [options] refresh DIR UPSTREAM [refresh|force]... | " \
	      "forward DIR UPSTREAM OLD NEW REF..."

struct parallel {
	struct gitgate *gate;
	struct gitgate_repo *repo;
	pthread_barrier_t *start;
	pthread_mutex_t *print_lock;
	int ret;
};

static void *parallel_refresh(void *arg)
{
	struct parallel *p = arg;
	char err[256];

	pthread_barrier_wait(p->start);
	pthread_mutex_lock(p->print_lock);
	puts("calling");
	fflush(stdout);
	pthread_mutex_unlock(p->print_lock);
	p->ret = mirror_refresh(p->gate, p->repo, true, err, sizeof(err));
	if (p->ret < 0)
		log_error("%s", err);
	return NULL;
}

/* N forced refreshes at once: one fetches, the rest take its result. */
static int run_parallel(struct gitgate *gate, struct gitgate_repo *repo, const char *count)
{
	pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;
	struct parallel threads[16];
	pthread_t ids[16];
	pthread_barrier_t start;
	long n = strtol(count, NULL, 10);
	int failed = 0;

	if (n < 1 || n > 16)
		die(EXIT_USAGE, "parallel:N takes 1 to 16 threads");
	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (long i = 0; i < n; i++) {
		threads[i] = (struct parallel){ gate, repo, &start, &print_lock, 0 };
		if (pthread_create(&ids[i], NULL, parallel_refresh, &threads[i]) != 0)
			die(EXIT_FAILURE, "cannot start a thread");
	}
	for (long i = 0; i < n; i++) {
		pthread_join(ids[i], NULL);
		failed += threads[i].ret < 0;
	}
	pthread_barrier_destroy(&start);
	if (failed)
		return 1;
	printf("parallel: %ld ok\n", n);
	fflush(stdout);
	return 0;
}

static int run_refresh(struct gitgate *gate, struct gitgate_repo *repo, char **steps, int nsteps)
{
	static char *once[] = { "refresh" };
	char err[256];

	if (nsteps == 0) {
		steps = once;
		nsteps = 1;
	}
	for (int i = 0; i < nsteps; i++) {
		int64_t tried;
		bool force = strcmp(steps[i], "force") == 0;
		char line[64];

		if (strncmp(steps[i], "parallel:", 9) == 0) {
			if (run_parallel(gate, repo, steps[i] + 9) != 0)
				return 1;
			continue;
		}
		if (strcmp(steps[i], "wait") == 0) {
			if (!fgets(line, sizeof(line), stdin))
				die(EXIT_FAILURE, "wait: no line on stdin");
			continue;
		}
		if (!force && strcmp(steps[i], "refresh") != 0)
			die(EXIT_USAGE, "unknown step '%s'", steps[i]);
		/* Two failed attempts can end in the same millisecond: back the
		 * last one off by 1 ms so a new attempt always shows. */
		if (repo->fetch_attempted_at_ms > 0)
			repo->fetch_attempted_at_ms--;
		tried = repo->fetch_attempted_at_ms;
		if (mirror_refresh(gate, repo, force, err, sizeof(err)) < 0) {
			log_error("%s", err);
			return 1;
		}
		if (repo->fetch_attempted_at_ms == tried)
			puts("fresh");
		else if (repo->fetch_failed)
			puts("stale: serving the last good mirror");
		else
			puts("fetched");
		fflush(stdout);
	}
	return 0;
}

static int parse_id(const char *text, git_oid *id)
{
	if (strcmp(text, "-") == 0) {
		memset(id, 0, sizeof(*id));
		return 0;
	}
	return git_oid_fromstr(id, text);
}

static int run_forward(struct gitgate *gate, struct gitgate_repo *repo, char **args, int nargs)
{
	struct gitgate_session s = { .gate = gate, .repo = repo, .service = GITGATE_RECEIVE_PACK };
	struct push_command cmds[32];
	size_t n = (size_t)nargs / 3;
	git_repository *git = NULL;
	struct buf messages;
	char err[256];
	int ret = 1;

	if (nargs == 0 || nargs % 3 != 0 || n > sizeof(cmds) / sizeof(cmds[0]))
		die(EXIT_USAGE, USAGE);
	memset(cmds, 0, sizeof(cmds));
	for (size_t i = 0; i < n; i++) {
		if (parse_id(args[3 * i], &cmds[i].old_id) < 0 ||
		    parse_id(args[3 * i + 1], &cmds[i].new_id) < 0)
			die(EXIT_USAGE, "not an object id in command %zu", i + 1);
		cmds[i].ref = args[3 * i + 2];
	}
	if (git_repository_open_bare(&git, repo->path) < 0)
		die(EXIT_FAILURE, "cannot open %s: %s", repo->path, git_error_last()->message);
	buf_init(&messages, 64 * 1024);
	if (mirror_forward(&s, git, cmds, n, &messages, err, sizeof(err)) < 0) {
		log_error("%s", err);
		goto out;
	}
	fputs(messages.p, stdout);
	for (size_t i = 0; i < n; i++) {
		if (cmds[i].failed)
			printf("ng %s %s\n", cmds[i].ref, cmds[i].reason);
		else
			printf("ok %s\n", cmds[i].ref);
	}
	ret = 0;
out:
	buf_release(&messages);
	git_repository_free(git);
	return ret;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "token-env", required_argument, NULL, 't' },
		{ "deploy-key", required_argument, NULL, 'k' },
		{ "known-hosts", required_argument, NULL, 'h' },
		{ "max-age", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct gitgate_repo_config repo_config = { .name = "mirror" };
	struct gitgate_repo repo = { .config = &repo_config };
	struct gitgate gate = { .repos = &repo, .nrepos = 1 };
	char *end;
	int c;

	log_set_program("gitgate-mirror");
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 't': repo_config.token_env = optarg; break;
		case 'k': repo_config.deploy_key = optarg; break;
		case 'h': repo_config.known_hosts = optarg; break;
		case 'a':
			gate.config.mirror_max_age_ms = strtoull(optarg, &end, 10);
			if (*end)
				die(EXIT_USAGE, "--max-age takes milliseconds");
			break;
		default: die(EXIT_USAGE, USAGE);
		}
	}
	if (argc - optind < 3)
		die(EXIT_USAGE, USAGE);
	repo.path = argv[optind + 1];
	repo_config.upstream = argv[optind + 2];
	pthread_mutex_init(&repo.push_lock, NULL);
	pthread_mutex_init(&repo.fetch_lock, NULL);
	git_libgit2_init();
	if (strcmp(argv[optind], "refresh") == 0)
		return run_refresh(&gate, &repo, argv + optind + 3, argc - optind - 3);
	if (strcmp(argv[optind], "forward") == 0)
		return run_forward(&gate, &repo, argv + optind + 3, argc - optind - 3);
	die(EXIT_USAGE, USAGE);
}

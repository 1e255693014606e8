/* Serve one git-upload-pack or git-receive-pack over stdin/stdout for a
 * bare repository directory, without a gate config: the git gate's
 * services driven by the real git client in tests, through git's ssh
 * transport with a fake ssh (GIT_SSH_COMMAND):
 *
 *   gitgate-serve [--protected REF]... [--allow-force-push] [--allow-delete]
 *                 [--user NAME --email EMAIL] [--request-max BYTES]
 *                 upload-pack|receive-pack DIR
 *
 * GIT_PROTOCOL ("version=2") selects the protocol, as git sets it.
 *
 * Push scanning (push_scan.c): --secret-env NAME (repeatable) and
 * --canary-env NAME turn the DLP engine on with the default rules, or
 * --dlp-rules FILE; --queue DIR and --bottle NAME make findings
 * gitleaks-allow proposals; --scan-max-commits N and --scan-max-blob N
 * set the bounds.
 *
 * Upstream (mirror.c, mirror_forward.c): --upstream URL makes the
 * repository a mirror (upload-pack refreshes it, receive-pack forwards);
 * --token-env VAR, --deploy-key FILE and --known-hosts FILE as in
 * gitgate.yaml.  Without a config the mirror's max age is 0: every
 * upload-pack fetches. */
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "../../sidecar/gitgate/gitgate.h"
#include "../../shared/dlp.h"
#include "../../shared/queue.h"
#include "../../sidecar/gitgate/transport.h"
#include "../../shared/exit_codes.h"
#include "../../shared/log.h"

/* The scan options: the engine as the gate builds it from the same
 * variables (no engine when none is named). */
struct scan_options {
	const char *secret_envs[16];
	size_t nsecret_envs;
	const char *canary_env;
	const char *rules;
};

static struct dlp_engine *scan_engine(const struct scan_options *o)
{
	struct dlp_engine *e;
	char err[512];
	size_t i;

	if (!o->nsecret_envs && !o->canary_env && !o->rules)
		return NULL;
	e = dlp_engine_new(NULL);
	if (!e)
		die(EXIT_SYSTEM, "out of memory");
	for (i = 0; i <= o->nsecret_envs; i++) {
		const char *name = i < o->nsecret_envs ? o->secret_envs[i] : o->canary_env;
		const char *value = name ? getenv(name) : NULL;

		if (name && (!value || dlp_engine_add_secret(e, name, value, strlen(value),
							     i == o->nsecret_envs) < 0))
			die(EXIT_USAGE, "%s: unset, or not usable as a secret", name);
	}
	if ((o->rules ? dlp_engine_load_rules_file(e, o->rules, err, sizeof(err))
		      : dlp_engine_load_default_rules(e, err, sizeof(err))) < 0 ||
	    dlp_engine_build(e, err, sizeof(err)) < 0)
		die(EXIT_USAGE, "%s", err);
	return e;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "secret-env", required_argument, NULL, 'S' },
		{ "canary-env", required_argument, NULL, 'C' },
		{ "dlp-rules", required_argument, NULL, 'R' },
		{ "queue", required_argument, NULL, 'Q' },
		{ "bottle", required_argument, NULL, 'B' },
		{ "scan-max-commits", required_argument, NULL, 'M' },
		{ "scan-max-blob", required_argument, NULL, 'X' },
		{ "protected", required_argument, NULL, 'p' },
		/* The repository's upstream (mirror_refresh, mirror_forward). */
		{ "upstream", required_argument, NULL, 'U' },
		{ "token-env", required_argument, NULL, 'T' },
		{ "deploy-key", required_argument, NULL, 'K' },
		{ "known-hosts", required_argument, NULL, 'H' },
		{ "allow-force-push", no_argument, NULL, 'f' },
		{ "allow-delete", no_argument, NULL, 'd' },
		{ "user", required_argument, NULL, 'u' },
		{ "email", required_argument, NULL, 'e' },
		{ "request-max", required_argument, NULL, 'm' },
		{ NULL, 0, NULL, 0 },
	};
	static char *protected_refs[64];
	size_t nprotected = 0;
	struct gitgate_repo_config repo_config = { .protected_refs = protected_refs };
	struct gitgate_repo repo = { .config = &repo_config };
	struct gitgate gate = { .repos = &repo, .nrepos = 1 };
	struct scan_options scan = { .nsecret_envs = 0 };
	enum gitgate_service service;
	char *path_copy;
	int c, ret;

	log_set_program("gitgate-serve");
	gate.config.scan_max_commits = 1000;
	gate.config.scan_max_blob = 10 * 1024 * 1024;
	gate.config.operation_timeout_ms = 600 * 1000;
	while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (c) {
		case 'S':
			if (scan.nsecret_envs >= sizeof(scan.secret_envs) / sizeof(scan.secret_envs[0]))
				die(EXIT_USAGE, "too many --secret-env");
			scan.secret_envs[scan.nsecret_envs++] = optarg;
			break;
		case 'C': scan.canary_env = optarg; break;
		case 'R': scan.rules = optarg; break;
		case 'Q': gate.queue_dir = optarg; break;
		case 'B': gate.bottle = optarg; break;
		case 'M': gate.config.scan_max_commits = strtoull(optarg, NULL, 10); break;
		case 'X': gate.config.scan_max_blob = strtoull(optarg, NULL, 10); break;
		case 'p':
			if (nprotected + 1 >= sizeof(protected_refs) / sizeof(protected_refs[0]))
				die(EXIT_USAGE, "too many --protected");
			protected_refs[nprotected++] = optarg;
			break;
		case 'U': repo_config.upstream = optarg; break;
		case 'T': repo_config.token_env = optarg; break;
		case 'K': repo_config.deploy_key = optarg; break;
		case 'H': repo_config.known_hosts = optarg; break;
		case 'f': repo_config.allow_force_push = true; break;
		case 'd': repo_config.allow_delete = true; break;
		case 'u': gate.config.user_name = optarg; break;
		case 'e': gate.config.user_email = optarg; break;
		case 'm': gate.config.request_max = strtoull(optarg, NULL, 10); break;
		default: die(EXIT_USAGE, "usage: gitgate-serve [options] upload-pack|receive-pack DIR");
		}
	}
	if (argc - optind != 2)
		die(EXIT_USAGE, "usage: gitgate-serve [options] upload-pack|receive-pack DIR");
	if (strcmp(argv[optind], "upload-pack") == 0 || strcmp(argv[optind], "git-upload-pack") == 0)
		service = GITGATE_UPLOAD_PACK;
	else if (strcmp(argv[optind], "receive-pack") == 0 ||
		 strcmp(argv[optind], "git-receive-pack") == 0)
		service = GITGATE_RECEIVE_PACK;
	else
		die(EXIT_USAGE, "unknown service '%s'", argv[optind]);
	repo.path = argv[optind + 1];
	path_copy = strdup(repo.path);
	if (!path_copy)
		die(EXIT_SYSTEM, "out of memory");
	repo_config.name = basename(path_copy);
	size_t len = strlen(repo_config.name);
	if (len > 4 && strcmp(repo_config.name + len - 4, ".git") == 0)
		repo_config.name[len - 4] = '\0';
	pthread_mutex_init(&repo.push_lock, NULL);
	pthread_mutex_init(&repo.fetch_lock, NULL);
	gate.dlp = scan_engine(&scan);
	/* As a daemon does at start-up: proposals go into these directories. */
	if (gate.queue_dir) {
		char err[512];

		if (queue_prepare(gate.queue_dir, err, sizeof(err)) < 0)
			die(EXIT_SYSTEM, "%s", err);
	}
	git_libgit2_init();
	ret = transport_stdio_serve(&gate, service, repo_config.name) < 0 ? 1 : 0;
	/* Freed so that `make asan` finds what a session itself leaks. */
	dlp_engine_free(gate.dlp);
	free(path_copy);
	git_libgit2_shutdown();
	return ret;
}

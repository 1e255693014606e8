/* sidecar demo-origin: start-up.  Seeds the demo repository, starts the
 * loopback gate that serves it, listens on the web and git ports, and
 * hands each connection to a thread (demo_origin.c). */
#include "demo_origin.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <git2.h>
#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/x509_crt.h>

#include "../applet.h"
#include "../../shared/buf.h"
#include "../../shared/exit_codes.h"
#include "../../shared/listen.h"
#include "../../shared/log.h"

static const char demo_origin_usage[] =
	"usage: sidecar demo-origin --cert FILE --key FILE --data DIR [--web ADDR]\n"
	"                           [--git ADDR] [--ready-fd N]\n"
	"\n"
	"The stand-in for the internet in `bottle-host start demo` (docs/demo.md).\n"
	"Over TLS with the certificate FILE (PEM, the chain the clients verify) and\n"
	"its key:\n"
	"\n"
	"  --web ADDR    answers every request 200 with the method and target it\n"
	"                received (default :8443)\n"
	"  --git ADDR    git over smart-HTTP: the repository `demo` (/demo.git),\n"
	"                served by a `sidecar gitgate` on 127.0.0.1:9420 that this\n"
	"                command starts, without upstream (default :9443)\n"
	"  --data DIR    where that repository lives; created with one commit\n"
	"                (README.md on main) when absent\n"
	"  --ready-fd N  write one line on fd N once everything listens\n"
	"\n"
	"SIGTERM or SIGINT stops the gate and exits 0.\n";

#define BACKEND_HOST "127.0.0.1"
#define BACKEND_PORT 9420
#define GATE_READY_SECONDS 30

static const char demo_readme[] =
	"# demo\n"
	"\n"
	"The repository of bottle's demo origin.  The demo agent clones it\n"
	"through the bottle's git gate and pushes a commit back.\n";

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

/* The demo repository: bare, HEAD on main, one commit.  An existing one
 * is kept (a restart by init). */
static void seed_repository(const char *path)
{
	git_repository_init_options init;
	git_repository *repo = NULL;
	git_treebuilder *builder = NULL;
	git_signature *who = NULL;
	git_tree *tree = NULL;
	git_oid blob, tree_id, commit;
	const git_error *e;

	git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
	init.initial_head = "main";
	if (git_repository_init_ext(&repo, path, &init) < 0)
		goto fail;
	/* HEAD names main from the start: seeded when main is unborn. */
	if (git_repository_head_unborn(repo) != 1) {
		git_repository_free(repo);
		return;
	}
	if (git_blob_create_from_buffer(&blob, repo, demo_readme, strlen(demo_readme)) < 0 ||
	    git_treebuilder_new(&builder, repo, NULL) < 0 ||
	    git_treebuilder_insert(NULL, builder, "README.md", &blob, GIT_FILEMODE_BLOB) < 0 ||
	    git_treebuilder_write(&tree_id, builder) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0 ||
	    git_signature_now(&who, "Demo Origin", "origin@demo.test") < 0 ||
	    git_commit_create(&commit, repo, "refs/heads/main", who, who, NULL,
			      "The demo repository\n", tree, 0, NULL) < 0)
		goto fail;
	git_signature_free(who);
	git_tree_free(tree);
	git_treebuilder_free(builder);
	git_repository_free(repo);
	log_info("seeded %s", path);
	return;
fail:
	e = git_error_last();
	die(EXIT_SYSTEM, "%s: cannot create the demo repository: %s", path,
	    e ? e->message : "unknown error");
}

/* The loopback gate: `sidecar gitgate` without DLP (this is the
 * internet's side, not the bottle's) serving the demo repository. */
static pid_t start_gate(const char *data)
{
	char config[4096], ready[4];
	struct buf yaml;
	int pipe_fds[2], fd;
	pid_t pid;
	struct pollfd p;

	if ((size_t)snprintf(config, sizeof(config), "%s/gitgate.yaml", data) >= sizeof(config))
		die(EXIT_USAGE, "--data: path too long");
	buf_init(&yaml, 8192);
	if (buf_appendf(&yaml,
			"listen: {http: \"%s:%d\", git: \"off\"}\n"
			"data_dir: \"%s\"\n"
			"repos:\n"
			"  - name: demo\n",
			BACKEND_HOST, BACKEND_PORT, data) < 0)
		die(EXIT_SYSTEM, "out of memory");
	fd = open(config, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, yaml.p, yaml.len) != (ssize_t)yaml.len || close(fd) < 0)
		die(EXIT_SYSTEM, "cannot write %s: %s", config, strerror(errno));
	buf_release(&yaml);
	if (pipe2(pipe_fds, O_CLOEXEC) < 0)
		die(EXIT_SYSTEM, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die(EXIT_SYSTEM, "fork: %s", strerror(errno));
	if (pid == 0) {
		char *argv[] = { "sidecar", "gitgate", "--config", config, "--no-dlp",
				 "--ready-fd", "3", NULL };

		if (dup2(pipe_fds[1], 3) < 0)
			_exit(EXIT_SYSTEM);
		execv("/proc/self/exe", argv);
		_exit(EXIT_SYSTEM);
	}
	close(pipe_fds[1]);
	p.fd = pipe_fds[0];
	p.events = POLLIN;
	if (poll(&p, 1, GATE_READY_SECONDS * 1000) != 1 || read(pipe_fds[0], ready, 1) != 1)
		die(EXIT_FAILURE_GENERIC, "the loopback gate did not become ready (its log is above)");
	close(pipe_fds[0]);
	return pid;
}

static void tls_setup(struct demo_origin *o, mbedtls_x509_crt *cert, mbedtls_pk_context *key,
		      const char *cert_path, const char *key_path)
{
	char reason[128];
	int code;

	if (psa_crypto_init() != PSA_SUCCESS)
		die(EXIT_SYSTEM, "cannot initialise PSA crypto");
	code = mbedtls_x509_crt_parse_file(cert, cert_path);
	if (code != 0) {
		mbedtls_strerror(code, reason, sizeof(reason));
		die(EXIT_CONFIG, "--cert %s: %s", cert_path, reason);
	}
	code = mbedtls_pk_parse_keyfile(key, key_path, NULL, mbedtls_psa_get_random,
					MBEDTLS_PSA_RANDOM_STATE);
	if (code != 0) {
		mbedtls_strerror(code, reason, sizeof(reason));
		die(EXIT_CONFIG, "--key %s: %s", key_path, reason);
	}
	mbedtls_ssl_config_init(&o->tls);
	code = mbedtls_ssl_config_defaults(&o->tls, MBEDTLS_SSL_IS_SERVER,
					   MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (code == 0) {
		mbedtls_ssl_conf_rng(&o->tls, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
		code = mbedtls_ssl_conf_own_cert(&o->tls, cert, key);
	}
	if (code != 0) {
		mbedtls_strerror(code, reason, sizeof(reason));
		die(EXIT_SYSTEM, "TLS set-up: %s", reason);
	}
}

struct connection {
	const struct demo_origin *origin;
	enum demo_origin_kind kind;
	int fd;
};

static void *connection_thread(void *arg)
{
	struct connection c = *(struct connection *)arg;

	free(arg);
	demo_origin_serve(c.origin, c.kind, c.fd);
	return NULL;
}

static void accept_one(const struct demo_origin *o, enum demo_origin_kind kind, int listener)
{
	struct connection *c;
	pthread_attr_t attr;
	pthread_t thread;
	int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	c = malloc(sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	*c = (struct connection){ o, kind, fd };
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&thread, &attr, connection_thread, c) != 0) {
		close(fd);
		free(c);
	}
	pthread_attr_destroy(&attr);
}

int demo_origin_main(int argc, char **argv)
{
	const char *cert_path = NULL, *key_path = NULL, *data = NULL;
	const char *web = ":8443", *git = ":9443";
	static struct demo_origin origin;
	mbedtls_x509_crt cert;
	mbedtls_pk_context key;
	char repo[4096], err[256];
	struct sigaction sa;
	int ready_fd = -1, web_fd, git_fd, i, status;
	pid_t gate;

	for (i = 1; i < argc; i++) {
		const char *value = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(demo_origin_usage, stdout);
			return EXIT_OK;
		}
		if (!value || argv[i][0] != '-')
			goto usage;
		if (strcmp(argv[i], "--cert") == 0)
			cert_path = value;
		else if (strcmp(argv[i], "--key") == 0)
			key_path = value;
		else if (strcmp(argv[i], "--data") == 0)
			data = value;
		else if (strcmp(argv[i], "--web") == 0)
			web = value;
		else if (strcmp(argv[i], "--git") == 0)
			git = value;
		else if (strcmp(argv[i], "--ready-fd") == 0)
			ready_fd = (int)strtol(value, NULL, 10);
		else
			goto usage;
		i++;
	}
	if (!cert_path || !key_path || !data || data[0] != '/')
		goto usage;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (git_libgit2_init() < 0)
		die(EXIT_SYSTEM, "cannot initialise libgit2");
	if ((size_t)snprintf(repo, sizeof(repo), "%s/demo.git", data) >= sizeof(repo))
		die(EXIT_USAGE, "--data: path too long");
	seed_repository(repo);
	mbedtls_x509_crt_init(&cert);
	mbedtls_pk_init(&key);
	tls_setup(&origin, &cert, &key, cert_path, key_path);
	snprintf(origin.backend_host, sizeof(origin.backend_host), "%s", BACKEND_HOST);
	origin.backend_port = BACKEND_PORT;
	gate = start_gate(data);
	web_fd = listen_tcp(web, 64, err, sizeof(err));
	if (web_fd < 0)
		die(EXIT_CONFIG, "--web: %s", err);
	git_fd = listen_tcp(git, 64, err, sizeof(err));
	if (git_fd < 0)
		die(EXIT_CONFIG, "--git: %s", err);
	log_info("serving web on %s and git on %s (the gate on %s:%d)", web, git, BACKEND_HOST,
		 BACKEND_PORT);
	if (ready_fd >= 0) {
		(void)!write(ready_fd, "\n", 1);
		close(ready_fd);
	}
	while (!stop_signal) {
		struct pollfd p[2] = { { web_fd, POLLIN, 0 }, { git_fd, POLLIN, 0 } };

		if (poll(p, 2, 1000) <= 0)
			continue;
		if (p[0].revents)
			accept_one(&origin, DEMO_ORIGIN_WEB, web_fd);
		if (p[1].revents)
			accept_one(&origin, DEMO_ORIGIN_GIT, git_fd);
	}
	kill(gate, SIGTERM);
	waitpid(gate, &status, 0);
	log_info("stopped by signal %d", (int)stop_signal);
	return EXIT_OK;

usage:
	fputs(demo_origin_usage, stderr);
	return EXIT_USAGE;
}

/* sidecar gitgate: start-up, the listeners, a thread per connection, and
 * shutdown.  Signals are taken by one thread with sigwait, so no
 * connection thread is ever interrupted by them. */
#include "gitgate.h"
#include "pack_merge.h"
#include "transport.h"

#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../applet.h"
#include "../../shared/config_yaml.h"
#include "../../shared/dlp.h"
#include "../../shared/dlp_setup.h"
#include "../../shared/exit_codes.h"
#include "../../shared/listen.h"
#include "../../shared/log.h"
#include "../../shared/options.h"
#include "../../shared/queue.h"

static const char gitgate_usage[] =
	"usage: sidecar gitgate [options]\n"
	"       sidecar gitgate [options] --stdio upload-pack|receive-pack REPO\n"
	"\n"
	"The git gate: serves the repositories of gitgate.yaml over git's smart-HTTP\n"
	"protocol and git://, mirrors each from its upstream, scans every push with\n"
	"the DLP engine and forwards clean pushes upstream (docs/gitgate.md).  With\n"
	"--stdio it serves one service over stdin and stdout instead, as\n"
	"git-upload-pack does under ssh.\n"
	"\n"
	"options:\n"
	"  --config FILE            the configuration (default /etc/sidecar/gitgate.yaml)\n"
	"  --http [HOST]:PORT|off   smart-HTTP address, over the config's listen.http\n"
	"  --git [HOST]:PORT|off    git:// address, over the config's listen.git\n"
	"  --data DIR               where the repositories live, over the config's data_dir\n"
	"  --ready-fd N             write a newline to fd N once listening\n"
	"  --max-connections N      connections served at once; more get a 503 or an ERR\n"
	"                           packet (default 64)\n"
	"  --io-timeout DURATION    one wait for the client, and a whole request head or\n"
	"                           git:// request line (default 30s)\n"
	"  --stdio SERVICE REPO     serve SERVICE (upload-pack or receive-pack) for REPO on\n"
	"                           stdin/stdout and exit\n"
	"\n"
	"DLP (docs/dlp.md): every commit pushed is scanned; a finding rejects its ref.\n"
	"  --secret-env NAME        the variable NAME holds a secret to find (repeatable); the\n"
	"                           variables named by repos' token_env are secrets too\n"
	"  --secret-env-prefix P    every variable whose name starts with P holds one (repeatable)\n"
	"  --canary-env NAME        the variable holding the bottle's canary\n"
	"  --dlp-rules FILE         regex rules, gitleaks-style YAML (default: the built-in rules)\n"
	"  --queue DIR              the bottle's supervise queue, for gitleaks-allow proposals;\n"
	"                           without it a finding only rejects\n"
	"  --bottle NAME            the bottle named in proposals (default: the queue's directory name)\n"
	"  --no-dlp                 scan nothing (for measuring what DLP costs)\n"
	"  --help                   show this text\n"
	"\n"
	"signals: SIGTERM and SIGINT stop the gate (connections get a few seconds to end).\n";

struct gitgate_options {
	const char *config_path;
	const char *http_listen, *git_listen, *data_dir; /* NULL: the config's */
	int ready_fd;
	unsigned max_connections;
	int io_timeout_ms;
	bool stdio;
	enum gitgate_service stdio_service;
	const char *stdio_repo;
	bool dlp_off;
	const char **secret_envs;
	size_t nsecret_envs;
	const char **secret_prefixes;
	size_t nsecret_prefixes;
	const char *canary_env;
	const char *dlp_rules_path;
	const char *queue_dir;
	const char *bottle;
};

static struct gitgate gate;
static struct gitgate_options options;
static unsigned active_connections;
static bool stopping;

#define STOP_GRACE_MS 5000

static enum gitgate_service parse_service(const char *text)
{
	if (strcmp(text, "upload-pack") == 0 || strcmp(text, "git-upload-pack") == 0)
		return GITGATE_UPLOAD_PACK;
	if (strcmp(text, "receive-pack") == 0 || strcmp(text, "git-receive-pack") == 0)
		return GITGATE_RECEIVE_PACK;
	die(EXIT_USAGE, "--stdio: unknown service '%s' (upload-pack or receive-pack)", text);
}

static void parse_options(int argc, char **argv, struct gitgate_options *o)
{
	enum { OPT_CONFIG = 1, OPT_HTTP, OPT_GIT, OPT_DATA, OPT_READY_FD, OPT_MAX_CONNECTIONS,
	       OPT_IO_TIMEOUT, OPT_STDIO, OPT_SECRET_ENV, OPT_SECRET_PREFIX, OPT_CANARY_ENV,
	       OPT_DLP_RULES, OPT_QUEUE, OPT_BOTTLE, OPT_NO_DLP, OPT_HELP };
	static const struct option long_options[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "http", required_argument, NULL, OPT_HTTP },
		{ "git", required_argument, NULL, OPT_GIT },
		{ "data", required_argument, NULL, OPT_DATA },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "stdio", required_argument, NULL, OPT_STDIO },
		{ "secret-env", required_argument, NULL, OPT_SECRET_ENV },
		{ "secret-env-prefix", required_argument, NULL, OPT_SECRET_PREFIX },
		{ "canary-env", required_argument, NULL, OPT_CANARY_ENV },
		{ "dlp-rules", required_argument, NULL, OPT_DLP_RULES },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "bottle", required_argument, NULL, OPT_BOTTLE },
		{ "no-dlp", no_argument, NULL, OPT_NO_DLP },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct gitgate_options){
		.config_path = "/etc/sidecar/gitgate.yaml",
		.ready_fd = -1,
		.max_connections = 64,
		.io_timeout_ms = 30 * 1000,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_CONFIG: o->config_path = optarg; break;
		case OPT_HTTP: o->http_listen = optarg; break;
		case OPT_GIT: o->git_listen = optarg; break;
		case OPT_DATA:
			if (optarg[0] != '/')
				die(EXIT_USAGE, "--data: must be an absolute path, got '%s'", optarg);
			o->data_dir = optarg;
			break;
		case OPT_READY_FD:
			o->ready_fd = (int)option_count("ready-fd", optarg, 1, 1023);
			break;
		case OPT_MAX_CONNECTIONS:
			o->max_connections = option_count("max-connections", optarg, 1, 100000);
			break;
		case OPT_IO_TIMEOUT:
			o->io_timeout_ms = option_duration_ms("io-timeout", optarg, OPTION_DAY_MS);
			break;
		case OPT_STDIO:
			/* Two arguments: the service here, the repository next. */
			o->stdio = true;
			o->stdio_service = parse_service(optarg);
			if (optind >= argc || argv[optind][0] == '-')
				die(EXIT_USAGE, "--stdio: expected a repository after the service");
			o->stdio_repo = argv[optind++];
			break;
		case OPT_SECRET_ENV: option_list_add(&o->secret_envs, &o->nsecret_envs, optarg); break;
		case OPT_SECRET_PREFIX:
			option_list_add(&o->secret_prefixes, &o->nsecret_prefixes, optarg);
			break;
		case OPT_CANARY_ENV: o->canary_env = optarg; break;
		case OPT_DLP_RULES: o->dlp_rules_path = optarg; break;
		case OPT_QUEUE: o->queue_dir = optarg; break;
		case OPT_BOTTLE: o->bottle = optarg; break;
		case OPT_NO_DLP: o->dlp_off = true; break;
		case OPT_HELP:
			fputs(gitgate_usage, stdout);
			exit(EXIT_OK);
		default:
			die(EXIT_USAGE, "unknown or incomplete option '%s'; run 'sidecar gitgate --help'",
			    argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'; run 'sidecar gitgate --help'", argv[optind]);
	o->bottle = option_bottle_name(o->queue_dir, o->bottle);
}

/* An option's address over the config's: "off" turns the listener off. */
static void override_listen(char **config_value, const char *option)
{
	if (!option)
		return;
	free(*config_value);
	*config_value = NULL;
	if (strcmp(option, "off") != 0 && !(*config_value = strdup(option)))
		die(EXIT_SYSTEM, "out of memory");
}

static void setup_dlp(void)
{
	struct dlp_setup setup = {
		.canary_env = options.canary_env,
		.secret_prefixes = options.secret_prefixes,
		.rules_path = options.dlp_rules_path,
	};
	const char **names;
	size_t n = 0, i;
	char err[1024];

	if (options.dlp_off)
		return;
	/* The upstream tokens the gate holds must never leave in a push. */
	names = calloc(options.nsecret_envs + gate.config.nrepos + 1, sizeof(*names));
	if (!names)
		die(EXIT_SYSTEM, "out of memory");
	for (i = 0; i < options.nsecret_envs; i++)
		names[n++] = options.secret_envs[i];
	for (i = 0; i < gate.config.nrepos; i++)
		if (gate.config.repos[i].token_env)
			names[n++] = gate.config.repos[i].token_env;
	setup.secret_names = names;
	if (dlp_setup_engine(&setup, environ, &gate.dlp, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	free(names);
}

static void make_directory(const char *path)
{
	char copy[4096];

	if (snprintf(copy, sizeof(copy), "%s", path) >= (int)sizeof(copy))
		die(EXIT_CONFIG, "data_dir: the path is too long");
	for (char *p = copy + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(copy, 0750) < 0 && errno != EEXIST)
			die_errno(EXIT_SYSTEM, "cannot create %s", copy);
		*p = saved;
		if (!saved)
			break;
	}
}

/* The gate's own bare repository for a repo without upstream. */
static void init_own_repository(struct gitgate_repo *repo)
{
	git_repository_init_options init;
	git_repository *r = NULL;
	struct stat st;

	if (stat(repo->path, &st) == 0)
		return;
	git_repository_init_options_init(&init, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	init.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
		     GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(&r, repo->path, &init) < 0) {
		const git_error *e = git_error_last();

		die(EXIT_SYSTEM, "%s: cannot create the repository: %s", repo->path,
		    e ? e->message : "unknown error");
	}
	git_repository_free(r);
	log_info("%s: created %s", repo->config->name, repo->path);
}

static void setup_repositories(void)
{
	char err[512];

	make_directory(gate.config.data_dir);
	gate.nrepos = gate.config.nrepos;
	gate.repos = calloc(gate.nrepos ? gate.nrepos : 1, sizeof(*gate.repos));
	if (!gate.repos)
		die(EXIT_SYSTEM, "out of memory");
	for (size_t i = 0; i < gate.nrepos; i++) {
		struct gitgate_repo *repo = &gate.repos[i];

		repo->config = &gate.config.repos[i];
		if (asprintf(&repo->path, "%s/%s.git", gate.config.data_dir, repo->config->name) < 0)
			die(EXIT_SYSTEM, "out of memory");
		pthread_mutex_init(&repo->push_lock, NULL);
		pthread_mutex_init(&repo->fetch_lock, NULL);
		if (!repo->config->upstream) {
			init_own_repository(repo);
			continue;
		}
		/* A repository whose first fetch failed is listed but refused,
		 * with the reason, until a later fetch works. */
		if (mirror_refresh(&gate, repo, true, err, sizeof(err)) < 0)
			log_error("%s: no mirror of the upstream yet: %s", repo->config->name, err);
	}
}

static void signal_ready(int fd)
{
	if (fd >= 0)
		(void)!write(fd, "\n", 1);
}

/* SIGTERM/SIGINT: stop taking connections, give those running a moment,
 * then end the process. */
static void *signal_thread(void *arg)
{
	static const struct timespec step = { .tv_nsec = 50 * 1000 * 1000 };
	sigset_t *set = arg;
	int sig = 0;

	while (sigwait(set, &sig) != 0 || (sig != SIGTERM && sig != SIGINT))
		;
	log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	__atomic_store_n(&stopping, true, __ATOMIC_RELAXED);
	for (int waited = 0; waited < STOP_GRACE_MS; waited += 50) {
		if (__atomic_load_n(&active_connections, __ATOMIC_RELAXED) == 0)
			break;
		nanosleep(&step, NULL);
	}
	exit(EXIT_OK);
	return NULL;
}

enum listener_kind { LISTENER_HTTP, LISTENER_GIT };

struct connection {
	enum listener_kind kind;
	int fd;
	char peer_ip[64], peer_addr[80];
};

static void *connection_main(void *arg)
{
	struct connection *c = arg;

	if (c->kind == LISTENER_HTTP)
		transport_http_serve(&gate, c->fd, c->peer_ip, c->peer_addr, options.io_timeout_ms);
	else
		transport_daemon_serve(&gate, c->fd, c->peer_ip, c->peer_addr, options.io_timeout_ms);
	free(c);
	__atomic_sub_fetch(&active_connections, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* A refusal has its own small thread: the answer goes out, then the
 * client's request is read and dropped until it closes (or a second
 * passes).  Closing with the request unread would reset the connection,
 * and the client could lose the answer with it. */
#define REFUSALS_MAX 16

static unsigned active_refusals;

struct refusal {
	enum listener_kind kind;
	int fd;
	const char *reason;
};

static void *refusal_main(void *arg)
{
	struct refusal *r = arg;
	struct transport_socket socket = { .fd = r->fd };

	if (r->kind == LISTENER_HTTP)
		transport_http_refuse(r->fd, r->reason);
	else
		transport_daemon_refuse(r->fd, r->reason);
	transport_socket_drain(&socket);
	close(r->fd);
	free(r);
	__atomic_sub_fetch(&active_refusals, 1, __ATOMIC_RELAXED);
	return NULL;
}

static void refuse(enum listener_kind kind, int fd, const char *reason, pthread_attr_t *attr)
{
	struct refusal *r;
	pthread_t thread;

	if (__atomic_add_fetch(&active_refusals, 1, __ATOMIC_RELAXED) > REFUSALS_MAX ||
	    !(r = malloc(sizeof(*r)))) {
		__atomic_sub_fetch(&active_refusals, 1, __ATOMIC_RELAXED);
		close(fd);
		return;
	}
	*r = (struct refusal){ .kind = kind, .fd = fd, .reason = reason };
	if (pthread_create(&thread, attr, refusal_main, r) != 0) {
		__atomic_sub_fetch(&active_refusals, 1, __ATOMIC_RELAXED);
		close(fd);
		free(r);
	}
}

static void accept_one(int listen_fd, enum listener_kind kind, pthread_attr_t *attr)
{
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	struct connection *c;
	pthread_t thread;
	int fd, one = 1;

	fd = accept4(listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN)
			log_error_errno("accept");
		if (errno == EMFILE || errno == ENFILE)
			usleep(100 * 1000);
		return;
	}
	if (__atomic_load_n(&stopping, __ATOMIC_RELAXED)) {
		refuse(kind, fd, "gitgate: the gate is stopping; retry in a moment", attr);
		return;
	}
	if (__atomic_load_n(&active_connections, __ATOMIC_RELAXED) >= options.max_connections) {
		refuse(kind, fd, "gitgate: too many connections at once; retry in a moment", attr);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->kind = kind;
	c->fd = fd;
	transport_address_format(&peer, c->peer_ip, sizeof(c->peer_ip), c->peer_addr,
				 sizeof(c->peer_addr));
	__atomic_add_fetch(&active_connections, 1, __ATOMIC_RELAXED);
	if (pthread_create(&thread, attr, connection_main, c) != 0) {
		__atomic_sub_fetch(&active_connections, 1, __ATOMIC_RELAXED);
		close(fd);
		free(c);
	}
}

static int listen_on(const char *spec, const char *what)
{
	char err[512];
	int fd = listen_tcp(spec, 128, err, sizeof(err));

	if (fd < 0)
		die(fd == -EINVAL ? EXIT_USAGE : EXIT_SYSTEM, "%s: %s", what, err);
	return fd;
}

static noreturn void serve(void)
{
	struct pollfd fds[2];
	enum listener_kind kinds[2];
	pthread_attr_t attr;
	size_t n = 0;

	if (gate.config.http_listen) {
		fds[n] = (struct pollfd){ .fd = listen_on(gate.config.http_listen, "listen.http"),
					  .events = POLLIN };
		kinds[n++] = LISTENER_HTTP;
	}
	if (gate.config.git_listen) {
		fds[n] = (struct pollfd){ .fd = listen_on(gate.config.git_listen, "listen.git"),
					  .events = POLLIN };
		kinds[n++] = LISTENER_GIT;
	}
	if (n == 0)
		die(EXIT_CONFIG, "%s: both listeners are off", gate.config.path);
	log_info("listening: http %s, git %s; %zu repositories from %s",
		 gate.config.http_listen ? gate.config.http_listen : "off",
		 gate.config.git_listen ? gate.config.git_listen : "off", gate.nrepos,
		 gate.config.path);
	signal_ready(options.ready_fd);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* libgit2's packbuilder and the DLP scan fit well within this. */
	pthread_attr_setstacksize(&attr, 1024 * 1024);
	for (;;) {
		if (poll(fds, n, -1) < 0) {
			if (errno != EINTR)
				die_errno(EXIT_SYSTEM, "poll");
			continue;
		}
		for (size_t i = 0; i < n; i++)
			if (fds[i].revents & POLLIN)
				accept_one(fds[i].fd, kinds[i], &attr);
	}
}

int gitgate_main(int argc, char **argv)
{
	static sigset_t signals;
	pthread_t thread;
	char err[1024];

	log_set_program("gitgate");
	parse_options(argc, argv, &options);
	if (gitgate_config_load(options.config_path, &gate.config, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	override_listen(&gate.config.http_listen, options.http_listen);
	override_listen(&gate.config.git_listen, options.git_listen);
	if (options.data_dir) {
		free(gate.config.data_dir);
		gate.config.data_dir = strdup(options.data_dir);
		if (!gate.config.data_dir)
			die(EXIT_SYSTEM, "out of memory");
	}
	gate.queue_dir = options.queue_dir;
	gate.bottle = options.bottle;
	if (git_libgit2_init() < 0)
		die(EXIT_SYSTEM, "cannot initialise libgit2");
	/* A bound on the pack files libgit2 holds open, whatever the packs. */
	if (git_libgit2_opts(GIT_OPT_SET_MWINDOW_FILE_LIMIT, (size_t)PACK_OPEN_FILES_MAX) < 0)
		die(EXIT_SYSTEM, "cannot limit libgit2's open pack files");
	setup_dlp();
	if (options.queue_dir && queue_prepare(options.queue_dir, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);

	/* Every thread inherits this mask; only signal_thread takes them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);

	setup_repositories();
	if (options.stdio) {
		/* One service for git-over-ssh style callers: no listeners. */
		pthread_sigmask(SIG_UNBLOCK, &signals, NULL);
		return transport_stdio_serve(&gate, options.stdio_service, options.stdio_repo) < 0 ?
			       EXIT_FAILURE_GENERIC : EXIT_OK;
	}
	if (pthread_create(&thread, NULL, signal_thread, &signals) != 0)
		die(EXIT_SYSTEM, "cannot start the signal thread");
	serve();
}

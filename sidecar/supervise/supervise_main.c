/* sidecar supervise: start-up, the accept loop and shutdown.  Each client
 * connection gets a detached thread (connection.c). */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../applet.h"
#include "../../shared/config_yaml.h"
#include "../../shared/exit_codes.h"
#include "../../shared/listen.h"
#include "../../shared/log.h"
#include "../../shared/options.h"
#include "../../shared/queue.h"
#include "proposal.h"

#define SUPERVISE_SESSION_IDLE_MS (60ULL * 60 * 1000)

static const char supervise_usage[] =
	"usage: sidecar supervise [options]\n"
	"\n"
	"The bundle's MCP server (Streamable HTTP at /mcp; revisions 2025-06-18,\n"
	"2025-11-25 and 2026-07-28): tools that show the live egress routes and ask\n"
	"the operator to allow or block egress (docs/supervise.md).\n"
	"\n"
	"options:\n"
	"  --listen [HOST]:PORT       address to listen on (default :9100, every address)\n"
	"  --egress-proxy HOST:PORT   egress on loopback, for its introspection endpoint\n"
	"                             (default 127.0.0.1:9099)\n"
	"  --routes FILE              where approved routes are written, the file egress\n"
	"                             reads (default /etc/sidecar/routes.yaml)\n"
	"  --reload-command CMD       run after writing them, split on spaces, no shell\n"
	"                             (default 'sidecar initctl reload egress')\n"
	"  --queue DIR                the proposal queue (default /run/supervise/queue)\n"
	"  --bottle NAME              this bottle's name in proposals (default: $BOTTLE_NAME,\n"
	"                             else 'bottle')\n"
	"  --allow-host NAME          a Host/Origin name clients may use; repeat for more\n"
	"                             (default localhost, 127.0.0.1, ::1, supervise, sidecar)\n"
	"  --token-file FILE          require 'Authorization: Bearer <the file's first line>'\n"
	"                             ($SUPERVISE_TOKEN works too; never on the command line)\n"
	"  --approval-timeout DURATION  how long a tool call waits for the operator (default 10m)\n"
	"  --progress-interval DURATION progress notifications while waiting (default 15s)\n"
	"  --queue-poll DURATION      how often the queue is checked (default 500ms)\n"
	"  --egress-timeout DURATION  one introspection exchange; a reload to show (default 10s)\n"
	"  --io-timeout DURATION      a request head and body, one write (default 30s)\n"
	"  --idle-timeout DURATION    keep-alive wait for the next request (default 2m)\n"
	"  --max-connections N        client connections at once; more get a 503 (default 256)\n"
	"  --max-sessions N           sessions at once (default 1024)\n"
	"  --ready-fd N               write a newline to fd N when listening\n"
	"  --help                     show this text\n"
	"\n"
	"signals: SIGTERM and SIGINT stop the server.\n";

static struct supervise_options options;

/* The token's first line; the file, not argv, so it never shows in ps. */
static char *read_token(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		die_errno(EXIT_CONFIG, "cannot open the token file '%s'", path);
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	if (n < 16)
		die(EXIT_CONFIG, "the token in '%s' is shorter than 16 characters", path);
	return strdup(line);
}

static void parse_options(int argc, char **argv, struct supervise_options *o)
{
	enum { OPT_LISTEN = 1, OPT_EGRESS_PROXY, OPT_ROUTES, OPT_RELOAD, OPT_QUEUE, OPT_BOTTLE,
	       OPT_ALLOW_HOST, OPT_TOKEN_FILE, OPT_APPROVAL_TIMEOUT, OPT_PROGRESS, OPT_QUEUE_POLL,
	       OPT_EGRESS_TIMEOUT, OPT_IO_TIMEOUT, OPT_IDLE_TIMEOUT, OPT_MAX_CONNECTIONS,
	       OPT_MAX_SESSIONS, OPT_READY_FD, OPT_HELP };
	static const struct option long_options[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "egress-proxy", required_argument, NULL, OPT_EGRESS_PROXY },
		{ "routes", required_argument, NULL, OPT_ROUTES },
		{ "reload-command", required_argument, NULL, OPT_RELOAD },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "bottle", required_argument, NULL, OPT_BOTTLE },
		{ "allow-host", required_argument, NULL, OPT_ALLOW_HOST },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "approval-timeout", required_argument, NULL, OPT_APPROVAL_TIMEOUT },
		{ "progress-interval", required_argument, NULL, OPT_PROGRESS },
		{ "queue-poll", required_argument, NULL, OPT_QUEUE_POLL },
		{ "egress-timeout", required_argument, NULL, OPT_EGRESS_TIMEOUT },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "max-sessions", required_argument, NULL, OPT_MAX_SESSIONS },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const default_hosts[] = { "localhost", "127.0.0.1", "::1", "supervise",
						     "sidecar" };
	const char *token = getenv("SUPERVISE_TOKEN");
	int opt;
	size_t i;

	*o = (struct supervise_options){
		.listen = ":9100",
		.egress_proxy = "127.0.0.1:9099",
		.routes_path = "/etc/sidecar/routes.yaml",
		.reload_command = "sidecar initctl reload egress",
		.queue_dir = "/run/supervise/queue",
		.bottle = getenv("BOTTLE_NAME") ? getenv("BOTTLE_NAME") : "bottle",
		.ready_fd = -1,
		.max_connections = 256,
		.max_sessions = 1024,
		.io_timeout_ms = 30 * 1000,
		.idle_timeout_ms = 2 * 60 * 1000,
		.egress_timeout_ms = 10 * 1000,
		.approval_timeout_ms = 10 * 60 * 1000,
		.progress_interval_ms = 15 * 1000,
		.queue_poll_ms = 500,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_EGRESS_PROXY: o->egress_proxy = optarg; break;
		case OPT_ROUTES: o->routes_path = optarg; break;
		case OPT_RELOAD: o->reload_command = optarg; break;
		case OPT_QUEUE: o->queue_dir = optarg; break;
		case OPT_BOTTLE: o->bottle = optarg; break;
		case OPT_ALLOW_HOST:
			if (o->nallowed_hosts == SUPERVISE_MAX_HOSTS)
				die(EXIT_USAGE, "--allow-host: at most %d names", SUPERVISE_MAX_HOSTS);
			o->allowed_hosts[o->nallowed_hosts++] = optarg;
			break;
		case OPT_TOKEN_FILE: o->token = read_token(optarg); break;
		case OPT_APPROVAL_TIMEOUT:
			o->approval_timeout_ms = option_duration_ms("approval-timeout", optarg, 7 * OPTION_DAY_MS);
			break;
		case OPT_PROGRESS:
			o->progress_interval_ms =
				(int)option_duration_ms("progress-interval", optarg, 7 * OPTION_DAY_MS);
			if (o->progress_interval_ms > 30 * 1000)
				die(EXIT_USAGE, "--progress-interval: at most 30s (clients give up "
						"on silent calls)");
			break;
		case OPT_QUEUE_POLL:
			o->queue_poll_ms = (int)option_duration_ms("queue-poll", optarg, 7 * OPTION_DAY_MS);
			break;
		case OPT_EGRESS_TIMEOUT:
			o->egress_timeout_ms = (int)option_duration_ms("egress-timeout", optarg, 7 * OPTION_DAY_MS);
			break;
		case OPT_IO_TIMEOUT:
			o->io_timeout_ms = (int)option_duration_ms("io-timeout", optarg, 7 * OPTION_DAY_MS);
			break;
		case OPT_IDLE_TIMEOUT:
			o->idle_timeout_ms = (int)option_duration_ms("idle-timeout", optarg, 7 * OPTION_DAY_MS);
			break;
		case OPT_MAX_CONNECTIONS:
			o->max_connections = option_count("max-connections", optarg, 1, 100000);
			break;
		case OPT_MAX_SESSIONS:
			o->max_sessions = option_count("max-sessions", optarg, 1, 100000);
			break;
		case OPT_READY_FD:
			o->ready_fd = (int)option_count("ready-fd", optarg, 1, 1023);
			break;
		case OPT_HELP:
			fputs(supervise_usage, stdout);
			exit(EXIT_OK);
		default:
			fprintf(stderr, "supervise: unknown or incomplete option '%s'\n\n%s",
				argv[optind - 1], supervise_usage);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "supervise: unexpected argument '%s'\n\n%s", argv[optind],
			supervise_usage);
		exit(EXIT_USAGE);
	}
	if (o->nallowed_hosts == 0)
		for (i = 0; i < sizeof(default_hosts) / sizeof(default_hosts[0]); i++)
			o->allowed_hosts[o->nallowed_hosts++] = default_hosts[i];
	if (!o->token && token && token[0]) {
		if (strlen(token) < 16)
			die(EXIT_CONFIG, "SUPERVISE_TOKEN is shorter than 16 characters");
		o->token = strdup(token);
	}
	if (!queue_bottle_valid(o->bottle))
		die(EXIT_USAGE, "--bottle: '%s' is not a bottle name", o->bottle);
}

/* SIGTERM/SIGINT end the process; between signals, idle sessions expire
 * and answers no call waits for are acted on. */
static void *signal_thread(void *arg)
{
	static const struct timespec sweep_every = { .tv_sec = 5 };
	sigset_t *set = arg;

	for (;;) {
		int sig = sigtimedwait(set, NULL, &sweep_every);

		if (sig < 0) {
			session_expire(SUPERVISE_SESSION_IDLE_MS);
			proposal_sweep(&options);
			continue;
		}
		log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		exit(EXIT_OK);
	}
	return NULL;
}

static void refuse_connection(int fd)
{
	static const char busy[] =
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
		"Content-Length: 61\r\nConnection: close\r\nRetry-After: 1\r\n\r\n"
		"supervise: too many connections at once; retry in a moment\n";

	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	close(fd);
}

static void accept_loop(int listen_fd)
{
	pthread_attr_t attr;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	for (;;) {
		struct supervise_connection *c;
		pthread_t thread;
		int fd, one = 1;

		fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				log_error_errno("accept");
			if (errno == EMFILE || errno == ENFILE)
				usleep(100 * 1000);
			continue;
		}
		if (__atomic_load_n(&supervise_active_connections, __ATOMIC_RELAXED) >=
		    options.max_connections) {
			refuse_connection(fd);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->options = &options;
		__atomic_add_fetch(&supervise_active_connections, 1, __ATOMIC_RELAXED);
		if (pthread_create(&thread, &attr, supervise_connection_main, c) != 0) {
			__atomic_sub_fetch(&supervise_active_connections, 1, __ATOMIC_RELAXED);
			refuse_connection(fd);
			free(c);
		}
	}
}

int supervise_main(int argc, char **argv)
{
	static sigset_t signals;
	pthread_t thread;
	char err[512];
	int listen_fd;

	log_set_program("supervise");
	parse_options(argc, argv, &options);
	if (queue_prepare(options.queue_dir, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	session_table_init(options.max_sessions);
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	sigdelset(&signals, SIGPIPE);
	listen_fd = listen_tcp(options.listen, 1024, err, sizeof(err));
	if (listen_fd < 0)
		die(listen_fd == -EINVAL ? EXIT_USAGE : EXIT_SYSTEM, "--listen: %s", err);
	if (pthread_create(&thread, NULL, signal_thread, &signals) != 0)
		die(EXIT_SYSTEM, "cannot start the signal thread");
	log_info("listening on %s (MCP endpoint /mcp)%s", options.listen,
		 options.token ? ", bearer token required" : "");
	if (options.ready_fd >= 0) {
		(void)!write(options.ready_fd, "\n", 1);
		close(options.ready_fd);
	}
	accept_loop(listen_fd);
	return EXIT_OK;
}

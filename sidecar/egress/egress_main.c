/* sidecar egress: start-up, the accept loop, reload and shutdown.  Each
 * accepted connection gets its own thread (connection.c); signals are
 * taken by one thread with sigwait so that no connection thread is ever
 * interrupted by them. */
#include "egress.h"
#include "egress_dlp.h"
#include "egress_tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <psa/crypto.h>

#include "../applet.h"
#include "../../shared/config_yaml.h"
#include "../../shared/exit_codes.h"
#include "../../shared/listen.h"
#include "../../shared/log.h"
#include "../../shared/options.h"

static const char egress_usage[] =
	"usage: sidecar egress [options]\n"
	"\n"
	"The bundle's egress proxy: an HTTP/1.1 forward proxy that lets a request\n"
	"out only when a route in routes.yaml allows it (docs/routes.md), bumps\n"
	"CONNECT tunnels to check the requests inside, injects credentials, and\n"
	"writes one JSON line per decision on stdout (docs/egress.md).\n"
	"\n"
	"options:\n"
	"  --listen [HOST]:PORT     address to listen on (default :9099, every address)\n"
	"  --routes FILE            the routes (default /etc/sidecar/routes.yaml)\n"
	"  --ca-cert FILE           the bottle CA certificate, PEM (default /etc/sidecar/ca/ca.crt)\n"
	"  --ca-key FILE            its private key, PEM (default /etc/sidecar/ca/ca.key)\n"
	"  --upstream-ca FILE       CA bundle upstream certificates must chain to\n"
	"                           (default /etc/ssl/certs/ca-certificates.crt)\n"
	"  --ready-fd N             write a newline to fd N when listening, and after each reload\n"
	"  --max-connections N      client connections served at once; more get a 503 (default 4096)\n"
	"  --upstream-pool N        idle upstream connections kept for reuse by any client\n"
	"                           connection, each for at most 30s (default 64; 0: none)\n"
	"  --io-timeout DURATION    a request head, a write, a connect (default 30s)\n"
	"  --upstream-timeout DURATION  waiting for upstream bytes (default 5m)\n"
	"  --idle-timeout DURATION  keep-alive wait for the next request (default 2m)\n"
	"  --tunnel-timeout DURATION  websocket/passthrough tunnel with no traffic (default 10m)\n"
	"\n"
	"DLP (docs/dlp.md): every request the agent sends is scanned for secrets before\n"
	"credentials are injected; a route's outbound_on_match says what a finding does\n"
	"(block, redact, supervise: the default).\n"
	"  --secret-env NAME        the variable NAME holds a secret to find (repeatable); the\n"
	"                           variables named by routes' auth are secrets too\n"
	"  --secret-env-prefix P    every variable whose name starts with P holds one (repeatable)\n"
	"  --canary-env NAME        the variable holding the bottle's canary (blocks everywhere)\n"
	"  --dlp-rules FILE         regex rules, gitleaks-style YAML (default: the built-in rules)\n"
	"  --queue DIR              the bottle's supervise queue; without it supervise routes\n"
	"                           block and bounded (grant:) routes never match (fail closed)\n"
	"  --bottle NAME            the bottle named in proposals (default: the queue's directory name)\n"
	"  --hold-timeout DURATION  how long a held request waits for the operator (default 300s)\n"
	"  --dlp-body-max BYTES     largest body held to scan (redact and supervise routes,\n"
	"                           compressed bodies): more is a 413, but streams on supervise\n"
	"                           routes (default 8388608)\n"
	"  --provider-host HOST     the agent's LLM provider: routes to HOST that set no\n"
	"                           outbound_on_match redact (repeatable)\n"
	"  --no-dlp                 scan nothing (for measuring what DLP costs)\n"
	"  --help                   show this text\n"
	"\n"
	"signals: SIGHUP re-reads the routes (a bad file is rejected and the old routes\n"
	"stay; the DLP engine and the operator's approvals stay too); SIGTERM and SIGINT\n"
	"stop the proxy.\n";

static struct egress egress;

struct routes *egress_routes_get(struct egress *e)
{
	struct routes *r;

	pthread_mutex_lock(&e->routes_lock);
	r = routes_ref(e->routes);
	pthread_mutex_unlock(&e->routes_lock);
	return r;
}

int egress_routes_reload(struct egress *e, char *err, size_t err_len)
{
	struct routes *fresh, *old;
	int ret = routes_load_file(e->options.routes_path, &fresh, err, err_len);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&e->routes_lock);
	old = e->routes;
	e->routes = fresh;
	pthread_mutex_unlock(&e->routes_lock);
	egress_grants_sync(e->grants, fresh);
	/* Requests in flight hold their own references to the old table. */
	routes_unref(old);
	/* Upstreams connected under the old routes are not reused. */
	egress_upstream_pool_flush(&e->upstream_pool, fresh);
	return 0;
}

static void parse_options(int argc, char **argv, struct egress_options *o)
{
	enum { OPT_LISTEN = 1, OPT_ROUTES, OPT_CA_CERT, OPT_CA_KEY, OPT_UPSTREAM_CA, OPT_READY_FD,
	       OPT_MAX_CONNECTIONS, OPT_IO_TIMEOUT, OPT_UPSTREAM_TIMEOUT, OPT_IDLE_TIMEOUT,
	       OPT_TUNNEL_TIMEOUT, OPT_UPSTREAM_POOL, OPT_SECRET_ENV, OPT_SECRET_PREFIX, OPT_CANARY_ENV,
	       OPT_DLP_RULES, OPT_QUEUE, OPT_BOTTLE, OPT_HOLD_TIMEOUT, OPT_DLP_BODY_MAX,
	       OPT_PROVIDER_HOST, OPT_NO_DLP, OPT_HELP };
	static const struct option options[] = {
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "routes", required_argument, NULL, OPT_ROUTES },
		{ "ca-cert", required_argument, NULL, OPT_CA_CERT },
		{ "ca-key", required_argument, NULL, OPT_CA_KEY },
		{ "upstream-ca", required_argument, NULL, OPT_UPSTREAM_CA },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS },
		{ "io-timeout", required_argument, NULL, OPT_IO_TIMEOUT },
		{ "upstream-timeout", required_argument, NULL, OPT_UPSTREAM_TIMEOUT },
		{ "idle-timeout", required_argument, NULL, OPT_IDLE_TIMEOUT },
		{ "tunnel-timeout", required_argument, NULL, OPT_TUNNEL_TIMEOUT },
		{ "upstream-pool", required_argument, NULL, OPT_UPSTREAM_POOL },
		{ "secret-env", required_argument, NULL, OPT_SECRET_ENV },
		{ "secret-env-prefix", required_argument, NULL, OPT_SECRET_PREFIX },
		{ "canary-env", required_argument, NULL, OPT_CANARY_ENV },
		{ "dlp-rules", required_argument, NULL, OPT_DLP_RULES },
		{ "queue", required_argument, NULL, OPT_QUEUE },
		{ "bottle", required_argument, NULL, OPT_BOTTLE },
		{ "hold-timeout", required_argument, NULL, OPT_HOLD_TIMEOUT },
		{ "dlp-body-max", required_argument, NULL, OPT_DLP_BODY_MAX },
		{ "provider-host", required_argument, NULL, OPT_PROVIDER_HOST },
		{ "no-dlp", no_argument, NULL, OPT_NO_DLP },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*o = (struct egress_options){
		.listen = ":9099",
		.routes_path = "/etc/sidecar/routes.yaml",
		.ca_cert_path = "/etc/sidecar/ca/ca.crt",
		.ca_key_path = "/etc/sidecar/ca/ca.key",
		.upstream_ca_path = "/etc/ssl/certs/ca-certificates.crt",
		.ready_fd = -1,
		.max_connections = 4096,
		.upstream_pool_max = 64,
		.io_timeout_ms = 30 * 1000,
		.upstream_timeout_ms = 5 * 60 * 1000,
		.idle_timeout_ms = 2 * 60 * 1000,
		.tunnel_idle_timeout_ms = 10 * 60 * 1000,
		.hold_timeout_ms = EGRESS_DLP_HOLD_TIMEOUT_DEFAULT_MS,
		.dlp_body_max = EGRESS_DLP_BODY_MAX_DEFAULT,
	};
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case OPT_LISTEN: o->listen = optarg; break;
		case OPT_ROUTES: o->routes_path = optarg; break;
		case OPT_CA_CERT: o->ca_cert_path = optarg; break;
		case OPT_CA_KEY: o->ca_key_path = optarg; break;
		case OPT_UPSTREAM_CA: o->upstream_ca_path = optarg; break;
		case OPT_READY_FD:
			o->ready_fd = (int)option_count("ready-fd", optarg, 1, 1023);
			break;
		case OPT_MAX_CONNECTIONS:
			o->max_connections = option_count("max-connections", optarg, 1, 1000000);
			break;
		case OPT_UPSTREAM_POOL:
			o->upstream_pool_max = option_count("upstream-pool", optarg, 0, 4096);
			break;
		case OPT_IO_TIMEOUT:
			o->io_timeout_ms = option_duration_ms("io-timeout", optarg, OPTION_DAY_MS);
			break;
		case OPT_UPSTREAM_TIMEOUT:
			o->upstream_timeout_ms = option_duration_ms("upstream-timeout", optarg, OPTION_DAY_MS);
			break;
		case OPT_IDLE_TIMEOUT:
			o->idle_timeout_ms = option_duration_ms("idle-timeout", optarg, OPTION_DAY_MS);
			break;
		case OPT_TUNNEL_TIMEOUT:
			o->tunnel_idle_timeout_ms = option_duration_ms("tunnel-timeout", optarg, OPTION_DAY_MS);
			break;
		case OPT_SECRET_ENV:
			option_list_add(&o->secret_envs, &o->nsecret_envs, optarg);
			break;
		case OPT_SECRET_PREFIX:
			option_list_add(&o->secret_prefixes, &o->nsecret_prefixes, optarg);
			break;
		case OPT_CANARY_ENV: o->canary_env = optarg; break;
		case OPT_DLP_RULES: o->dlp_rules_path = optarg; break;
		case OPT_QUEUE: o->queue_dir = optarg; break;
		case OPT_BOTTLE: o->bottle = optarg; break;
		case OPT_HOLD_TIMEOUT:
			o->hold_timeout_ms = option_duration_ms("hold-timeout", optarg, OPTION_DAY_MS);
			break;
		case OPT_DLP_BODY_MAX:
			o->dlp_body_max = option_count("dlp-body-max", optarg, 1024, 1024 * 1024 * 1024);
			break;
		case OPT_PROVIDER_HOST:
			option_list_add(&o->provider_hosts, &o->nprovider_hosts, optarg);
			break;
		case OPT_NO_DLP: o->dlp_off = true; break;
		case OPT_HELP:
			fputs(egress_usage, stdout);
			exit(EXIT_OK);
		default:
			die(EXIT_USAGE, "unknown or incomplete option '%s'; run 'sidecar egress --help'",
				  argv[optind - 1]);
		}
	}
	if (optind < argc)
		die(EXIT_USAGE, "unexpected argument '%s'; run 'sidecar egress --help'", argv[optind]);
	o->bottle = option_bottle_name(o->queue_dir, o->bottle);
}

static void signal_ready(int fd)
{
	if (fd >= 0)
		(void)!write(fd, "\n", 1);
}

/* The signal thread: SIGHUP reloads, SIGTERM/SIGINT end the process, and
 * between signals it closes upstreams idle in the pool for too long and
 * ends grants whose time ran out. */
static void *signal_thread(void *arg)
{
	static const struct timespec sweep_every = { .tv_sec = 5 };
	sigset_t *set = arg;

	for (;;) {
		char err[1024];
		int sig;

		sig = sigtimedwait(set, NULL, &sweep_every);
		if (sig < 0) {
			egress_upstream_pool_expire(&egress.upstream_pool);
			egress_grants_tick(egress.grants);
			continue;
		}
		if (sig == SIGHUP) {
			if (egress_routes_reload(&egress, err, sizeof(err)) < 0) {
				log_error("reload rejected, the previous routes stay: %s", err);
				continue;
			}
			log_info("routes reloaded from %s", egress.options.routes_path);
			signal_ready(egress.options.ready_fd);
			continue;
		}
		log_info("stopping on %s", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		exit(EXIT_OK);
	}
	return NULL;
}

static void format_peer(const struct sockaddr_storage *ss, char *out, size_t len, bool *loopback)
{
	char text[INET6_ADDRSTRLEN];

	*loopback = false;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
		*loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
		snprintf(out, len, "%s:%u", text, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], text, sizeof(text));
			*loopback = a->sin6_addr.s6_addr[12] == 127;
			snprintf(out, len, "%s:%u", text, ntohs(a->sin6_port));
		} else {
			inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
			*loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
			snprintf(out, len, "[%s]:%u", text, ntohs(a->sin6_port));
		}
	} else {
		snprintf(out, len, "unknown");
	}
}

/* Over the cap: a short 503 straight from the accept loop, no thread. */
#define EGRESS_BUSY_BODY "egress: too many connections at once; retry in a moment\n"
/* The length is written out in the head below: keep the two in step. */
_Static_assert(sizeof(EGRESS_BUSY_BODY) - 1 == 56, "EGRESS_BUSY_BODY's Content-Length");

static void refuse_connection(int fd)
{
	static const char busy[] =
		"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
		"Content-Length: 56\r\nConnection: close\r\nRetry-After: 1\r\n"
		"X-Bottle-Egress: error\r\n\r\n" EGRESS_BUSY_BODY;

	char sink[4096];
	int n = 16;

	(void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	/* A close with unread bytes resets the connection and the client
	 * loses the answer: drop what already arrived (never waiting). */
	(void)shutdown(fd, SHUT_WR);
	while (n-- > 0 && recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(fd);
}

/* Each connection holds up to two descriptors (client, upstream); keep a
 * reserve for the listener, logs, the CA and routes files and the pool.
 * Raise the soft limit as far as the hard one allows, and lower the cap if
 * the descriptors cannot cover it: over the cap a client gets a 503, where
 * running out of descriptors would fail accept() for everyone. */
#define EGRESS_FD_RESERVE 64

static void fit_connections_to_fd_limit(struct egress_options *o)
{
	struct rlimit limit;
	rlim_t need = (rlim_t)o->max_connections * 2 + EGRESS_FD_RESERVE;
	unsigned fit;

	if (getrlimit(RLIMIT_NOFILE, &limit) < 0)
		return;
	if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < need) {
		limit.rlim_cur = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > need ?
					 need : limit.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &limit);
		(void)getrlimit(RLIMIT_NOFILE, &limit);
	}
	if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= need)
		return;
	fit = limit.rlim_cur > 2 * EGRESS_FD_RESERVE ?
		      (unsigned)((limit.rlim_cur - EGRESS_FD_RESERVE) / 2) : 1;
	log_warn("--max-connections %u needs %llu file descriptors and the limit is %llu: "
		 "serving at most %u connections at once",
		 o->max_connections, (unsigned long long)need, (unsigned long long)limit.rlim_cur, fit);
	o->max_connections = fit;
}

static void accept_loop(int listen_fd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peer_len = sizeof(peer);
		struct egress_connection *c;
		int fd, one = 1;

		fd = accept4(listen_fd, (struct sockaddr *)&peer, &peer_len, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != ECONNABORTED)
				log_error_errno("accept");
			if (errno == EMFILE || errno == ENFILE)
				usleep(100 * 1000);
			continue;
		}
		if (__atomic_load_n(&egress.active_connections, __ATOMIC_RELAXED) >=
		    egress.options.max_connections) {
			refuse_connection(fd);
			egress_stats_refused(&egress);
			continue;
		}
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->egress = &egress;
		c->id = __atomic_add_fetch(&egress.connection_serial, 1, __ATOMIC_RELAXED);
		stream_init(&c->client, fd, egress.options.io_timeout_ms);
		format_peer(&peer, c->client_address, sizeof(c->client_address), &c->client_is_loopback);
		__atomic_add_fetch(&egress.active_connections, 1, __ATOMIC_RELAXED);
		if (egress_workers_start(c) < 0) {
			__atomic_sub_fetch(&egress.active_connections, 1, __ATOMIC_RELAXED);
			refuse_connection(fd);
			egress_stats_refused(&egress);
			free(c);
			continue;
		}
		__atomic_add_fetch(&egress.stats.connections_accepted, 1, __ATOMIC_RELAXED);
	}
}

int egress_main(int argc, char **argv)
{
	struct egress_tls_options tls_options;
	static sigset_t signals;
	pthread_t thread;
	char err[1024];
	int listen_fd;

	log_set_program("egress");
	parse_options(argc, argv, &egress.options);
	fit_connections_to_fd_limit(&egress.options);

	pthread_mutex_init(&egress.routes_lock, NULL);
	pthread_mutex_init(&egress.log_lock, NULL);
	pthread_mutex_init(&egress.hold_lock, NULL);
	if (routes_load_file(egress.options.routes_path, &egress.routes, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	if (egress_dlp_setup(&egress, environ, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	if (egress.options.queue_dir &&
	    queue_prepare(egress.options.queue_dir, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);
	if (egress_grants_create(egress.options.queue_dir, &egress.grants) < 0)
		die(EXIT_SYSTEM, "out of memory");
	egress_grants_sync(egress.grants, egress.routes);
	upstream_pool_init(&egress.upstream_pool, egress.options.upstream_pool_max,
			   EGRESS_UPSTREAM_IDLE_MS);
	egress_tls_memory_install();
	if (psa_crypto_init() != PSA_SUCCESS)
		die(EXIT_SYSTEM, "cannot initialise the crypto library");
	tls_options = (struct egress_tls_options){
		.ca_cert_path = egress.options.ca_cert_path,
		.ca_key_path = egress.options.ca_key_path,
		.upstream_ca_path = egress.options.upstream_ca_path,
	};
	if (egress_tls_create(&tls_options, &egress.tls, err, sizeof(err)) < 0)
		die(EXIT_CONFIG, "%s", err);

	/* Every thread inherits this mask; only signal_thread takes them. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &signals, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (pthread_create(&thread, NULL, signal_thread, &signals) != 0)
		die(EXIT_SYSTEM, "cannot start the signal thread");

	listen_fd = listen_tcp(egress.options.listen, 1024, err, sizeof(err));
	if (listen_fd < 0)
		die(listen_fd == -EINVAL ? EXIT_USAGE : EXIT_SYSTEM, "--listen: %s", err);
	log_info("listening on %s with %zu routes from %s", egress.options.listen,
		 egress.routes->n, egress.options.routes_path);
	signal_ready(egress.options.ready_fd);
	accept_loop(listen_fd);
	return EXIT_OK;
}

/*
 * loadgen: the egress benchmark's load client (bench/egress/run.sh).
 *
 * Speaks HTTPS to an origin either directly or through an HTTP proxy with
 * CONNECT, so the same client measures egress, squid, mitmproxy and the
 * origin alone.  One thread per connection on blocking sockets: with at
 * most 16 busy connections that is cheaper than an event loop would be to
 * write, and the figures it prints include the client's own CPU share so a
 * run shows whether the client was the bottleneck.
 *
 * Output is one line of key=value pairs, for the script to pick apart.
 * Built with the host's OpenSSL (libssl-dev); it is a bench tool, never
 * shipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum mode { MODE_GET, MODE_HANDSHAKE, MODE_DOWNLOAD, MODE_UPLOAD, MODE_HOLD };

struct options {
	enum mode mode;
	const char *host;      /* TLS name and Host header */
	const char *port;      /* origin port */
	const char *addr;      /* where to connect when there is no proxy */
	const char *proxy_host;
	const char *proxy_port;
	const char *ca;
	const char *path;
	long upload_size;
	int conns;
	double seconds;
};

static struct options opt = {
	.host = "localhost",
	.port = "443",
	.addr = "127.0.0.1",
	.path = "/small",
	.upload_size = 10L * 1024 * 1024,
	.conns = 1,
	.seconds = 5,
};

static SSL_CTX *ctx;
static struct addrinfo *target;
static atomic_int stop;
static atomic_long errors;
static char cipher_seen[96];
static pthread_mutex_t cipher_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start_line;

struct conn {
	int fd;
	SSL *ssl;
	char in[64 * 1024];
	size_t pos, len;
};

struct worker {
	pthread_t thread;
	uint64_t *lat; /* nanoseconds per request (get mode) */
	size_t nlat, cap;
	uint64_t count;     /* requests, handshakes or bodies */
	uint64_t bytes;     /* body bytes moved (download/upload) */
	double first, last; /* when the measured work started and ended */
	struct conn *held;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail_fatal(const char *what)
{
	fprintf(stderr, "loadgen: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(2);
}

static int write_all_fd(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Says why the first few TLS reads or writes failed: a peer that closes a
 * keep-alive connection is not the same finding as a broken record. */
static void io_failed(SSL *ssl, int r, const char *what)
{
	static atomic_int told;
	int e = SSL_get_error(ssl, r);

	if (atomic_fetch_add(&told, 1) < 3)
		fprintf(stderr, "loadgen: TLS %s failed: %s\n", what,
			e == SSL_ERROR_ZERO_RETURN ? "the peer closed (close_notify)"
			: e == SSL_ERROR_SYSCALL ? (errno ? strerror(errno) : "the peer closed")
			: ERR_reason_error_string(ERR_peek_error()) ? ERR_reason_error_string(ERR_peek_error())
			: "unknown error");
	ERR_clear_error();
}

static int write_all_ssl(SSL *ssl, const char *p, size_t n)
{
	while (n > 0) {
		int w = SSL_write(ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);

		if (w <= 0) {
			if (!atomic_load(&stop))
				io_failed(ssl, w, "write");
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The proxy's answer to CONNECT is peeked at and only its head consumed,
 * so no TLS byte that might follow it is swallowed (none should: the proxy
 * waits for our ClientHello). */
static int proxy_connect(int fd)
{
	char req[512], head[4096];
	size_t n = 0;
	int len;

	len = snprintf(req, sizeof(req),
		       "CONNECT %s:%s HTTP/1.1\r\nHost: %s:%s\r\n"
		       "User-Agent: loadgen\r\n\r\n",
		       opt.host, opt.port, opt.host, opt.port);
	if (write_all_fd(fd, req, (size_t)len) < 0)
		return -1;
	for (;;) {
		ssize_t r = recv(fd, head, sizeof(head) - 1, MSG_PEEK);
		char *end;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		head[r] = '\0';
		end = strstr(head, "\r\n\r\n");
		if (end) {
			n = (size_t)(end + 4 - head);
			break;
		}
		if ((size_t)r == sizeof(head) - 1)
			return -1;
		/* Partial head: wait for more rather than spin on the peek. */
		usleep(100);
	}
	if (recv(fd, head, n, MSG_WAITALL) != (ssize_t)n)
		return -1;
	head[n] = '\0';
	if (strncmp(head, "HTTP/1.1 200", 12) != 0 &&
	    strncmp(head, "HTTP/1.0 200", 12) != 0) {
		static atomic_int told;

		if (atomic_fetch_add(&told, 1) < 3)
			fprintf(stderr, "loadgen: CONNECT refused: %.*s\n",
				(int)strcspn(head, "\r\n"), head);
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->ssl) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int conn_open(struct conn *c)
{
	int one = 1;

	c->pos = c->len = 0;
	c->ssl = NULL;
	c->fd = socket(target->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(c->fd, target->ai_addr, target->ai_addrlen) < 0)
		goto fail;
	if (opt.proxy_host && proxy_connect(c->fd) < 0)
		goto fail;
	c->ssl = SSL_new(ctx);
	if (!c->ssl)
		goto fail;
	SSL_set_fd(c->ssl, c->fd);
	SSL_set_tlsext_host_name(c->ssl, opt.host);
	SSL_set1_host(c->ssl, opt.host);
	if (SSL_connect(c->ssl) != 1)
		goto fail;
	if (!cipher_seen[0]) {
		pthread_mutex_lock(&cipher_lock);
		snprintf(cipher_seen, sizeof(cipher_seen), "%s/%s",
			 SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
		pthread_mutex_unlock(&cipher_lock);
	}
	return 0;
fail:
	ERR_clear_error();
	conn_close(c);
	return -1;
}

static int conn_fill(struct conn *c)
{
	int r;

	if (c->pos > 0 && c->pos == c->len)
		c->pos = c->len = 0;
	if (c->len == sizeof(c->in)) {
		memmove(c->in, c->in + c->pos, c->len - c->pos);
		c->len -= c->pos;
		c->pos = 0;
	}
	r = SSL_read(c->ssl, c->in + c->len, (int)(sizeof(c->in) - c->len));
	if (r <= 0) {
		if (!atomic_load(&stop))
			io_failed(c->ssl, r, "read");
		return -1;
	}
	c->len += (size_t)r;
	return 0;
}

/* Reads one line ending in CRLF; the line must fit in the buffer. */
static int conn_line(struct conn *c, char *out, size_t cap)
{
	for (;;) {
		char *nl = memchr(c->in + c->pos, '\n', c->len - c->pos);

		if (nl) {
			size_t n = (size_t)(nl - (c->in + c->pos)) + 1;

			if (n >= cap)
				return -1;
			memcpy(out, c->in + c->pos, n);
			out[n] = '\0';
			c->pos += n;
			return 0;
		}
		if (c->pos > 0) {
			memmove(c->in, c->in + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
		if (conn_fill(c) < 0)
			return -1;
	}
}

static int conn_skip(struct conn *c, uint64_t n)
{
	while (n > 0) {
		size_t have = c->len - c->pos;

		if (have == 0) {
			if (conn_fill(c) < 0)
				return -1;
			continue;
		}
		if (have > n)
			have = (size_t)n;
		c->pos += have;
		n -= have;
	}
	return 0;
}

/* Reads a response and drops its body; returns the body length or -1.
 * Content-Length and chunked framing are both handled because a proxy may
 * re-frame what the origin sent. */
static int64_t conn_response(struct conn *c)
{
	char line[8192];
	int64_t clen = -1, total = 0;
	int chunked = 0, status;

	do {
		if (conn_line(c, line, sizeof(line)) < 0)
			return -1;
		if (sscanf(line, "HTTP/1.%*d %d", &status) != 1)
			return -1;
		for (;;) {
			if (conn_line(c, line, sizeof(line)) < 0)
				return -1;
			if (strcmp(line, "\r\n") == 0)
				break;
			if (strncasecmp(line, "content-length:", 15) == 0)
				clen = strtoll(line + 15, NULL, 10);
			else if (strncasecmp(line, "transfer-encoding:", 18) == 0 &&
				 strcasestr(line, "chunked"))
				chunked = 1;
		}
	} while (status >= 100 && status < 200);
	if (status != 200) {
		static atomic_int told;

		if (atomic_fetch_add(&told, 1) < 3)
			fprintf(stderr, "loadgen: status %d\n", status);
		return -1;
	}
	if (!chunked) {
		if (clen < 0 || conn_skip(c, (uint64_t)clen) < 0)
			return -1;
		return clen;
	}
	for (;;) {
		long long n;

		if (conn_line(c, line, sizeof(line)) < 0)
			return -1;
		n = strtoll(line, NULL, 16);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (conn_skip(c, (uint64_t)n + 2) < 0)
			return -1;
		total += n;
	}
	do { /* trailers */
		if (conn_line(c, line, sizeof(line)) < 0)
			return -1;
	} while (strcmp(line, "\r\n") != 0);
	return total;
}

static int conn_get(struct conn *c, const char *path, int64_t *body)
{
	char req[512];
	int len = snprintf(req, sizeof(req),
			   "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
			   "User-Agent: loadgen\r\nAccept: */*\r\n\r\n",
			   path, opt.host, opt.port);

	if (write_all_ssl(c->ssl, req, (size_t)len) < 0)
		return -1;
	*body = conn_response(c);
	return *body < 0 ? -1 : 0;
}

/* Text-like body so the regex-scanning mitmproxy addon does real work. */
static char upload_chunk[64 * 1024];

static int conn_upload(struct conn *c)
{
	char req[512];
	long left = opt.upload_size;
	int len = snprintf(req, sizeof(req),
			   "POST /upload HTTP/1.1\r\nHost: %s:%s\r\n"
			   "User-Agent: loadgen\r\nContent-Type: text/plain\r\n"
			   "Content-Length: %ld\r\n\r\n",
			   opt.host, opt.port, opt.upload_size);

	if (write_all_ssl(c->ssl, req, (size_t)len) < 0)
		return -1;
	while (left > 0) {
		size_t n = left > (long)sizeof(upload_chunk) ? sizeof(upload_chunk) : (size_t)left;

		if (write_all_ssl(c->ssl, upload_chunk, n) < 0)
			return -1;
		left -= (long)n;
	}
	return conn_response(c) < 0 ? -1 : 0;
}

static void lat_push(struct worker *w, uint64_t ns)
{
	if (w->nlat == w->cap) {
		w->cap = w->cap ? w->cap * 2 : 65536;
		w->lat = realloc(w->lat, w->cap * sizeof(*w->lat));
		if (!w->lat)
			fail_fatal("out of memory");
	}
	w->lat[w->nlat++] = ns;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct conn *c = calloc(1, sizeof(*c));
	int64_t body;

	if (!c)
		fail_fatal("out of memory");
	c->fd = -1;
	/* Keep-alive modes connect before the clock starts: the figure is
	 * the steady state, handshakes have their own mode. */
	if (opt.mode != MODE_HANDSHAKE) {
		while (conn_open(c) < 0) {
			atomic_fetch_add(&errors, 1);
			if (atomic_load(&stop))
				goto out;
			usleep(10000);
		}
	}
	pthread_barrier_wait(&start_line);
	w->first = now();
	while (!atomic_load(&stop)) {
		double t0 = now();
		int r;

		switch (opt.mode) {
		case MODE_GET:
			r = conn_get(c, opt.path, &body);
			if (r == 0)
				lat_push(w, (uint64_t)((now() - t0) * 1e9));
			break;
		case MODE_HANDSHAKE:
			r = conn_open(c);
			if (r == 0)
				r = conn_get(c, opt.path, &body);
			conn_close(c);
			break;
		case MODE_DOWNLOAD:
			r = conn_get(c, opt.path, &body);
			if (r == 0)
				w->bytes += (uint64_t)body;
			break;
		case MODE_UPLOAD:
			r = conn_upload(c);
			if (r == 0)
				w->bytes += (uint64_t)opt.upload_size;
			break;
		default:
			r = -1;
		}
		if (r == 0) {
			w->count++;
			w->last = now();
			continue;
		}
		atomic_fetch_add(&errors, 1);
		if (opt.mode != MODE_HANDSHAKE) {
			conn_close(c);
			if (conn_open(c) < 0)
				usleep(10000);
		}
	}
out:
	conn_close(c);
	free(c);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, 1);
}

/* Opens opt.conns connections, one GET each, and holds them idle until
 * SIGTERM/SIGINT, so the script can read the proxy's memory meanwhile.
 * The opening is spread over a few threads only to keep it short. */
struct hold_part {
	pthread_t thread;
	struct conn *conns;
	int from, to;
	int ok;
};

static void *hold_open(void *arg)
{
	struct hold_part *p = arg;
	int64_t body;

	for (int i = p->from; i < p->to; i++) {
		struct conn *c = &p->conns[i];
		int tries = 0;

		while (tries++ < 5) {
			if (conn_open(c) == 0 && conn_get(c, opt.path, &body) == 0) {
				p->ok++;
				break;
			}
			conn_close(c);
			atomic_fetch_add(&errors, 1);
		}
	}
	return NULL;
}

static int run_hold(void)
{
	struct conn *conns = calloc((size_t)opt.conns, sizeof(*conns));
	struct hold_part parts[8];
	int nparts = opt.conns < 8 ? opt.conns : 8, held = 0;
	double t0 = now();
	sigset_t set;
	int sig;

	if (!conns)
		fail_fatal("out of memory");
	for (int i = 0; i < opt.conns; i++)
		conns[i].fd = -1;
	for (int i = 0; i < nparts; i++) {
		parts[i] = (struct hold_part){ .conns = conns,
			.from = opt.conns * i / nparts,
			.to = opt.conns * (i + 1) / nparts };
		pthread_create(&parts[i].thread, NULL, hold_open, &parts[i]);
	}
	for (int i = 0; i < nparts; i++) {
		pthread_join(parts[i].thread, NULL);
		held += parts[i].ok;
	}
	printf("mode=hold held=%d wanted=%d open_secs=%.2f errors=%ld tls=%s\n",
	       held, opt.conns, now() - t0, atomic_load(&errors), cipher_seen);
	fflush(stdout);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &sig);
	for (int i = 0; i < opt.conns; i++)
		conn_close(&conns[i]);
	free(conns);
	return held == opt.conns ? 0 : 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: loadgen MODE [options]\n"
		"modes: get handshake download upload hold\n"
		"  --host NAME        TLS name and Host (default localhost)\n"
		"  --port PORT        origin port (default 443)\n"
		"  --addr ADDR        address to connect to without a proxy (default 127.0.0.1)\n"
		"  --proxy HOST:PORT  go through an HTTP proxy with CONNECT\n"
		"  --ca FILE          CA the TLS server must chain to\n"
		"  --path PATH        what to GET (default /small)\n"
		"  --size BYTES       upload size (default 10 MiB)\n"
		"  -c N               connections (default 1)\n"
		"  -d SECONDS         duration (default 5)\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "addr", required_argument, NULL, 'a' },
		{ "proxy", required_argument, NULL, 'x' },
		{ "ca", required_argument, NULL, 'C' },
		{ "path", required_argument, NULL, 'P' },
		{ "size", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *names[] = { "get", "handshake", "download", "upload", "hold" };
	int ch;

	if (argc < 2)
		usage();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(argv[1], names[i]) == 0) {
			opt.mode = (enum mode)i;
			goto found;
		}
	usage();
found:
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:d:", longs, NULL)) != -1) {
		switch (ch) {
		case 'H': opt.host = optarg; break;
		case 'p': opt.port = optarg; break;
		case 'a': opt.addr = optarg; break;
		case 'C': opt.ca = optarg; break;
		case 'P': opt.path = optarg; break;
		case 's': opt.upload_size = strtol(optarg, NULL, 10); break;
		case 'c': opt.conns = (int)strtol(optarg, NULL, 10); break;
		case 'd': opt.seconds = strtod(optarg, NULL); break;
		case 'x': {
			const char *colon = strrchr(optarg, ':');

			if (!colon)
				usage();
			opt.proxy_host = strndup(optarg, (size_t)(colon - optarg));
			opt.proxy_port = colon + 1;
			if (!opt.proxy_host)
				fail_fatal("out of memory");
			break;
		}
		default:
			usage();
		}
	}
	if (!opt.ca || opt.conns < 1 || opt.seconds <= 0 || opt.upload_size < 0)
		usage();
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
	struct worker *ws;
	struct rlimit rl;
	double t0, cpu0, wall, cpu, first = 1e300, last = 0;
	uint64_t count = 0, bytes = 0, nlat = 0, *lat;
	sigset_t set;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	for (size_t i = 0; i < sizeof(upload_chunk); i++)
		upload_chunk[i] = (i % 61 == 60) ? '\n' : (char)('a' + (i * 7) % 26);
	if (getaddrinfo(opt.proxy_host ? opt.proxy_host : opt.addr,
			opt.proxy_host ? opt.proxy_port : opt.port, &hints, &target) != 0)
		fail_fatal("cannot resolve the target");

	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		fail_fatal("SSL_CTX_new failed");
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1)
		fail_fatal("cannot load the CA");
	/* Every handshake is a full one: the figure is what a fresh client
	 * costs the proxy, as with a tool run once per request. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)"\x08http/1.1", 9);

	if (opt.mode == MODE_HOLD) {
		/* Blocked here so sigwait() in run_hold() gets them. */
		sigemptyset(&set);
		sigaddset(&set, SIGTERM);
		sigaddset(&set, SIGINT);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		return run_hold();
	}
	signal(SIGINT, on_signal);

	ws = calloc((size_t)opt.conns, sizeof(*ws));
	if (!ws)
		fail_fatal("out of memory");
	pthread_barrier_init(&start_line, NULL, (unsigned)opt.conns + 1);
	for (int i = 0; i < opt.conns; i++)
		if (pthread_create(&ws[i].thread, NULL, worker_run, &ws[i]) != 0)
			fail_fatal("pthread_create failed");
	pthread_barrier_wait(&start_line);
	t0 = now();
	cpu0 = cpu_seconds();
	while (!atomic_load(&stop) && now() - t0 < opt.seconds)
		usleep(10000);
	atomic_store(&stop, 1);
	for (int i = 0; i < opt.conns; i++) {
		pthread_join(ws[i].thread, NULL);
		count += ws[i].count;
		bytes += ws[i].bytes;
		nlat += ws[i].nlat;
		if (ws[i].count && ws[i].first < first)
			first = ws[i].first;
		if (ws[i].last > last)
			last = ws[i].last;
	}
	cpu = cpu_seconds() - cpu0;
	/* Bodies finish after the deadline; the rate is over the span in
	 * which complete bodies were counted. */
	wall = count && last > first ? last - first : now() - t0;

	switch (opt.mode) {
	case MODE_GET:
		lat = malloc((nlat ? nlat : 1) * sizeof(*lat));
		if (!lat)
			fail_fatal("out of memory");
		nlat = 0;
		for (int i = 0; i < opt.conns; i++) {
			memcpy(lat + nlat, ws[i].lat, ws[i].nlat * sizeof(*lat));
			nlat += ws[i].nlat;
		}
		qsort(lat, nlat, sizeof(*lat), cmp_u64);
		printf("mode=get conns=%d secs=%.2f reqs=%llu rps=%.0f p50_us=%.0f p99_us=%.0f",
		       opt.conns, wall, (unsigned long long)count, count / wall,
		       nlat ? lat[nlat / 2] / 1e3 : 0, nlat ? lat[nlat * 99 / 100] / 1e3 : 0);
		free(lat);
		break;
	case MODE_HANDSHAKE:
		printf("mode=handshake conns=%d secs=%.2f count=%llu hps=%.0f", opt.conns,
		       wall, (unsigned long long)count, count / wall);
		break;
	default:
		printf("mode=%s conns=%d secs=%.2f count=%llu mbps=%.1f",
		       opt.mode == MODE_UPLOAD ? "upload" : "download", opt.conns, wall,
		       (unsigned long long)count, bytes / wall / 1e6);
	}
	printf(" errors=%ld client_cpu=%.0f%% tls=%s\n", atomic_load(&errors),
	       100 * cpu / wall, cipher_seen);
	for (int i = 0; i < opt.conns; i++)
		free(ws[i].lat);
	free(ws);
	freeaddrinfo(target);
	SSL_CTX_free(ctx);
	return count > 0 ? 0 : 1;
}

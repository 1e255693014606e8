/* A streamed request body under DLP, through real sockets: a large body's
 * scan on the second thread finds what one thread finds, a clean body
 * arrives whole, a secret deep in a body stops it before the secret, and a
 * client that pauses mid-body (waiting for the upstream to see the start)
 * is not left waiting for a scan nobody forwards. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/egress/egress_dlp.h"
#include "../../sidecar/egress/scan_worker.h"
#include "test_dlp_helpers.h"

#define MIB (1024 * 1024)

static char secret[41];

/* Text lines (what every byte of a real upload steps the matchers with),
 * with the secret at `secret_at` unless that is past the end. */
static char *body_make(size_t len, size_t secret_at)
{
	static const char line[] = "the quick brown fox jumps over the lazy dog 0123456789\n";
	char *p = malloc(len);
	size_t i;

	assert_non_null(p);
	for (i = 0; i < len; i++)
		p[i] = line[i % (sizeof(line) - 1)];
	if (secret_at + strlen(secret) <= len) {
		p[secret_at - 1] = ' ';
		memcpy(p + secret_at, secret, strlen(secret));
		p[secret_at + strlen(secret)] = ' ';
	}
	return p;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- the worker alone ---- */

static bool never_blocks(void *ctx, const struct dlp_scan *scan)
{
	(void)ctx;
	(void)scan;
	return false;
}

static bool blocks_on_any(void *ctx, const struct dlp_scan *scan)
{
	(void)ctx;
	return scan->findings.n > 0;
}

static void assert_same_findings(const struct dlp_findings *a, const struct dlp_findings *b)
{
	size_t i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_string_equal(a->v[i].rule, b->v[i].rule);
		assert_int_equal(a->v[i].offset, b->v[i].offset);
		assert_int_equal(a->v[i].len, b->v[i].len);
		assert_string_equal(a->v[i].preview, b->v[i].preview);
	}
}

/* Fed in uneven slices through the worker, then ended by the caller: the
 * same findings as one thread scanning the same bytes. */
static void test_worker_finds_what_one_thread_finds(void **state)
{
	const char *names[] = { "API_TOKEN", NULL }, *values[] = { secret, NULL };
	struct dlp_engine *e = engine_new(names, values, true, NULL);
	size_t len = 3 * MIB, at = 0, slice = 1;
	char *body = body_make(len, 2 * MIB + 7);
	struct scan_worker_progress p;
	struct dlp_scan alone, shared;
	struct scan_worker *w;
	char github[41];

	(void)state;
	/* Rule hits too: an AWS key id and a GitHub token shape. */
	memcpy(body + 100000, " AKIAABCDEFGHIJKLMNOP ", 22);
	make_token(github, "ghp_", 36, 77, NULL);
	memcpy(body + 700000, github, strlen(github));
	assert_int_equal(dlp_scan_init(&alone, e), 0);
	assert_int_equal(dlp_scan_init(&shared, e), 0);
	scan_batches(&alone, DLP_WHERE_BODY, DLP_ENCODING_IDENTITY, body, len, 65536);

	assert_int_equal(dlp_scan_begin(&shared, DLP_WHERE_BODY, NULL, DLP_ENCODING_IDENTITY, 0), 0);
	assert_int_equal(scan_worker_start(&w, &shared, never_blocks, NULL, 0), 0);
	while (at < len) {
		size_t n = len - at < slice ? len - at : slice;

		assert_int_equal(scan_worker_feed(w, body + at, n), 0);
		scan_worker_progress(w, false, &p);
		assert_true(p.settled <= at + n);
		at += n;
		slice = slice * 7 % 200003 + 1;
	}
	scan_worker_progress(w, true, &p);
	assert_false(p.stopped);
	assert_int_equal(p.error, 0);
	assert_true(scan_worker_idle(w));
	scan_worker_stop(w);
	assert_int_equal(dlp_scan_end(&shared), 0);
	assert_true(alone.findings.n >= 3);
	assert_same_findings(&alone.findings, &shared.findings);

	dlp_scan_release(&alone);
	dlp_scan_release(&shared);
	dlp_engine_free(e);
	free(body);
}

/* A worker that stops on a finding: never settled past it, takes no more. */
static void test_worker_stops_on_a_finding(void **state)
{
	const char *names[] = { "API_TOKEN", NULL }, *values[] = { secret, NULL };
	struct dlp_engine *e = engine_new(names, values, false, NULL);
	size_t len = 2 * MIB, secret_at = MIB + 3, at = 0;
	char *body = body_make(len, secret_at);
	struct scan_worker_progress p;
	struct dlp_scan scan;
	struct scan_worker *w;
	int ret = 0;

	(void)state;
	assert_int_equal(dlp_scan_init(&scan, e), 0);
	assert_int_equal(dlp_scan_begin(&scan, DLP_WHERE_BODY, NULL, DLP_ENCODING_IDENTITY, 0), 0);
	assert_int_equal(scan_worker_start(&w, &scan, blocks_on_any, NULL, 0), 0);
	while (at < len && (ret = scan_worker_feed(w, body + at, 65536)) == 0)
		at += 65536;
	scan_worker_progress(w, true, &p);
	assert_true(p.stopped);
	assert_true(p.settled <= secret_at);
	assert_int_equal(scan_worker_feed(w, body, 10), -EACCES);
	scan_worker_stop(w);
	assert_int_equal(scan.findings.n, 1);
	assert_int_equal(scan.findings.v[0].offset, secret_at);

	dlp_scan_release(&scan);
	dlp_engine_free(e);
	free(body);
}

/* As many workers run at once as there are CPUs: one more is refused and
 * its caller scans by itself; a stopped one makes room. */
static void test_workers_are_capped_at_the_cpus(void **state)
{
	struct dlp_engine *e = engine_new(NULL, NULL, false, NULL);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct scan_worker *w[64], *extra;
	struct dlp_scan scans[64];
	long i;

	(void)state;
	assert_true(cpus > 0 && cpus < 64);
	for (i = 0; i <= cpus; i++)
		assert_int_equal(dlp_scan_init(&scans[i], e), 0);
	for (i = 0; i < cpus; i++)
		assert_int_equal(scan_worker_start(&w[i], &scans[i], never_blocks, NULL, 0), 0);
	assert_int_equal(scan_worker_start(&extra, &scans[cpus], never_blocks, NULL, 0), -EBUSY);
	assert_null(extra);
	scan_worker_stop(w[0]);
	assert_int_equal(scan_worker_start(&w[0], &scans[cpus], never_blocks, NULL, 0), 0);
	for (i = 0; i < cpus; i++)
		scan_worker_stop(w[i]);
	for (i = 0; i <= cpus; i++)
		dlp_scan_release(&scans[i]);
	dlp_engine_free(e);
}

/* ---- the relay, through sockets ---- */

struct client {
	int fd;
	const char *data;
	size_t len, pause_at;      /* send [0, pause_at), wait, send the rest */
	size_t wait_until;         /* ... until the upstream has seen this much */
	const size_t *upstream_seen;
	bool gave_up;              /* the upstream never saw it: the relay held it */
};

static void *client_main(void *arg)
{
	struct client *c = arg;
	size_t at = 0;

	while (at < c->len) {
		size_t end = at < c->pause_at ? c->pause_at : c->len;
		ssize_t n = write(c->fd, c->data + at, end - at);

		if (n <= 0)
			return NULL;
		at += (size_t)n;
		if (at == c->pause_at) {
			uint64_t deadline = now_ms() + 5000;

			while (__atomic_load_n(c->upstream_seen, __ATOMIC_ACQUIRE) < c->wait_until) {
				if (now_ms() > deadline) {
					c->gave_up = true;
					break;
				}
				poll(NULL, 0, 1);
			}
		}
	}
	return NULL;
}

struct upstream {
	int fd;
	struct buf got;
	size_t seen;
};

static void *upstream_main(void *arg)
{
	struct upstream *u = arg;
	char chunk[65536];
	ssize_t n;

	while ((n = read(u->fd, chunk, sizeof(chunk))) > 0) {
		assert_int_equal(buf_append(&u->got, chunk, (size_t)n), 0);
		__atomic_store_n(&u->seen, u->got.len, __ATOMIC_RELEASE);
	}
	return NULL;
}

struct relay_result {
	int ret;
	struct buf got;    /* what the upstream received */
	bool client_gave_up;
	uint64_t body_threads;
	char reason[640];
};

/* Relay `body` on a block route from a client socket to an upstream socket
 * with a Content-Length, the client pausing as told. */
static void relay(const char *body, size_t len, size_t pause_at, size_t wait_until,
		  struct relay_result *out)
{
	const char *names[] = { "API_TOKEN", NULL }, *values[] = { secret, NULL };
	struct egress egress;
	struct egress_dlp_request d;
	struct client client = { .data = body, .len = len, .pause_at = pause_at,
				 .wait_until = wait_until };
	struct upstream upstream;
	struct stream from_client, to_upstream;
	struct body_reader reader;
	struct body_writer writer;
	struct buf in, out_buf;
	pthread_t client_thread, upstream_thread;
	int client_fds[2], upstream_fds[2];

	memset(&egress, 0, sizeof(egress));
	egress.options.dlp_body_max = 8 * MIB;
	egress.dlp = engine_new(names, values, true, NULL);
	memset(&d, 0, sizeof(d));
	d.egress = &egress;
	d.policy = ROUTE_OUTBOUND_BLOCK;
	d.host = "upstream.test";
	buf_init(&d.body, egress.options.dlp_body_max);
	assert_int_equal(dlp_scan_init(&d.scan, egress.dlp), 0);
	d.scan_live = true;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, client_fds), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, upstream_fds), 0);
	client.fd = client_fds[1];
	client.upstream_seen = &upstream.seen;
	memset(&upstream, 0, sizeof(upstream));
	upstream.fd = upstream_fds[1];
	buf_init(&upstream.got, 16 * MIB);
	stream_init(&from_client, client_fds[0], 10000);
	stream_init(&to_upstream, upstream_fds[0], 10000);
	buf_init(&in, 256 * 1024);
	buf_init(&out_buf, 256 * 1024);
	body_reader_init(&reader, &from_client, &in, HTTP1_BODY_LENGTH, (int64_t)len);
	body_writer_init(&writer, &to_upstream, &out_buf, false);
	assert_int_equal(pthread_create(&upstream_thread, NULL, upstream_main, &upstream), 0);
	assert_int_equal(pthread_create(&client_thread, NULL, client_main, &client), 0);

	out->ret = egress_dlp_body_relay(&d, &reader, &writer);
	snprintf(out->reason, sizeof(out->reason), "%s", d.verdict.reason);

	/* Unblock a client still writing into a relay that stopped. */
	shutdown(client_fds[0], SHUT_RDWR);
	assert_int_equal(pthread_join(client_thread, NULL), 0);
	close(upstream_fds[0]);
	assert_int_equal(pthread_join(upstream_thread, NULL), 0);
	out->got = upstream.got;
	out->client_gave_up = client.gave_up;
	out->body_threads = egress.stats.dlp_body_threads;

	close(client_fds[0]);
	close(client_fds[1]);
	close(upstream_fds[1]);
	buf_release(&in);
	buf_release(&out_buf);
	egress_dlp_request_release(&d);
	dlp_engine_free(egress.dlp);
}

static void test_large_clean_body_arrives_whole(void **state)
{
	size_t len = 3 * MIB;
	char *body = body_make(len, len);
	struct relay_result r;

	(void)state;
	relay(body, len, 0, 0, &r);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.got.len, len);
	assert_memory_equal(r.got.p, body, len);
	/* The scan ran on the second thread wherever there is a second CPU. */
	assert_int_equal(r.body_threads, scan_worker_useful() ? 1 : 0);
	buf_release(&r.got);
	free(body);
}

static void test_secret_deep_in_a_large_body_stops_it(void **state)
{
	size_t len = 3 * MIB, secret_at = 2 * MIB + 11;
	char *body = body_make(len, secret_at);
	struct relay_result r;

	(void)state;
	relay(body, len, 0, 0, &r);
	assert_int_equal(r.ret, -EACCES);
	assert_non_null(strstr(r.reason, "API_TOKEN"));
	assert_null(strstr(r.reason, secret));
	/* What went out is the body's start, short of the secret. */
	assert_true(r.got.len <= secret_at);
	assert_memory_equal(r.got.p, body, r.got.len);
	buf_release(&r.got);
	free(body);
}

/* The client sends 1 MiB and waits for the upstream to see half of it
 * before sending the rest: the relay must forward while the client waits,
 * although the worker was still scanning when the client went quiet. */
static void test_a_paused_client_sees_its_start_forwarded(void **state)
{
	size_t len = 2 * MIB;
	char *body = body_make(len, len);
	struct relay_result r;

	(void)state;
	relay(body, len, MIB, MIB / 2, &r);
	assert_false(r.client_gave_up);
	assert_int_equal(r.ret, 0);
	assert_int_equal(r.got.len, len);
	assert_memory_equal(r.got.p, body, len);
	buf_release(&r.got);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_finds_what_one_thread_finds),
		cmocka_unit_test(test_worker_stops_on_a_finding),
		cmocka_unit_test(test_workers_are_capped_at_the_cpus),
		cmocka_unit_test(test_large_clean_body_arrives_whole),
		cmocka_unit_test(test_secret_deep_in_a_large_body_stops_it),
		cmocka_unit_test(test_a_paused_client_sees_its_start_forwarded),
	};

	/* A client writing into a relay that stopped gets EPIPE, as egress's
	 * own threads do. */
	signal(SIGPIPE, SIG_IGN);
	make_token(secret, "tok_", 36, 4242, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}

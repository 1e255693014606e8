/* The pool of idle upstreams: an upstream is handed back only to a request
 * for the same host, port and scheme that the same route of the same routes
 * table allowed; closed, expired, surplus and pre-reload upstreams are
 * closed, never handed out.  Upstreams here are plain socketpairs: whether
 * the pool closed one is seen from the other end (end of stream). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/egress/egress.h"

static const char two_routes[] =
	"routes:\n"
	"  - host: a.example\n"
	"    matches:\n"
	"      - path_prefix: /one\n"
	"  - host: a.example\n"
	"    addresses: [10.0.0.1]\n";

struct fixture {
	struct egress egress;
	struct egress_connection c;
	struct routes *routes;
	int peers[8];   /* the far ends of the upstreams handed to the pool */
	int npeers;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char err[256];

	assert_non_null(f);
	assert_int_equal(routes_load_string("test", two_routes, strlen(two_routes), &f->routes,
					    err, sizeof(err)), 0);
	assert_int_equal(f->routes->n, 2);
	f->egress.options.io_timeout_ms = 1000;
	upstream_pool_init(&f->egress.upstream_pool, 4, 60 * 1000);
	f->c.egress = &f->egress;
	buf_init(&f->c.upstream_in, 4096);
	stream_init(&f->c.upstream, -1, 0);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	int i;

	egress_upstream_close(&f->c);
	egress_upstream_pool_flush(&f->egress.upstream_pool, NULL);
	assert_int_equal(f->egress.upstream_pool.count, 0);
	for (i = 0; i < f->npeers; i++)
		close(f->peers[i]);
	buf_release(&f->c.upstream_in);
	routes_unref(f->routes);
	free(f);
	return 0;
}

/* Give the connection a fresh plain upstream to host:port, as if connected. */
static int connect_fake(struct fixture *f, const char *host, uint16_t port)
{
	int fds[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
	assert_true(f->npeers < 8);
	f->peers[f->npeers++] = fds[1];
	stream_init(&f->c.upstream, fds[0], 1000);
	snprintf(f->c.upstream_host, sizeof(f->c.upstream_host), "%s", host);
	f->c.upstream_port = port;
	f->c.upstream_tls = false;
	snprintf(f->c.upstream_address, sizeof(f->c.upstream_address), "10.0.0.1:%u", port);
	return fds[0];
}

/* Whether the pool closed the upstream whose far end is peer. */
static bool peer_sees_close(int peer)
{
	struct pollfd pfd = { .fd = peer, .events = POLLIN };
	char byte;
	ssize_t n;

	if (poll(&pfd, 1, 0) != 1)
		return false;
	/* Closed with our bytes unread, the end is a reset, not an EOF. */
	n = recv(peer, &byte, 1, MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_taken_back_by_the_same_route(void **state)
{
	struct fixture *f = *state;
	const struct route *route = &f->routes->v[1];
	int fd = connect_fake(f, "a.example", 443);

	egress_upstream_put(&f->c, f->routes, route);
	assert_int_equal(f->c.upstream.fd, -1);
	assert_int_equal(f->egress.upstream_pool.count, 1);

	assert_true(egress_upstream_take(&f->c, f->routes, route, "a.example", 443, false));
	assert_int_equal(f->c.upstream.fd, fd);
	assert_string_equal(f->c.upstream_host, "a.example");
	assert_string_equal(f->c.upstream_address, "10.0.0.1:443");
	assert_int_equal(f->c.upstream.timeout_ms, 1000);
	assert_int_equal(f->egress.upstream_pool.count, 0);
	assert_false(peer_sees_close(f->peers[0]));
}

static void test_not_handed_to_another_key(void **state)
{
	struct fixture *f = *state;
	const struct route *by_path = &f->routes->v[0], *by_address = &f->routes->v[1];

	connect_fake(f, "a.example", 443);
	egress_upstream_put(&f->c, f->routes, by_address);

	/* The other route for the same host may not allow 10.0.0.1. */
	assert_false(egress_upstream_take(&f->c, f->routes, by_path, "a.example", 443, false));
	assert_false(egress_upstream_take(&f->c, f->routes, by_address, "b.example", 443, false));
	assert_false(egress_upstream_take(&f->c, f->routes, by_address, "a.example", 8443, false));
	assert_false(egress_upstream_take(&f->c, f->routes, by_address, "a.example", 443, true));
	assert_int_equal(f->c.upstream.fd, -1);
	assert_int_equal(f->egress.upstream_pool.count, 1);
	assert_false(peer_sees_close(f->peers[0]));
}

static void test_not_reused_after_a_reload(void **state)
{
	struct fixture *f = *state;
	struct routes *reloaded;
	char err[256];

	connect_fake(f, "a.example", 443);
	egress_upstream_put(&f->c, f->routes, &f->routes->v[1]);
	assert_int_equal(routes_load_string("test", two_routes, strlen(two_routes), &reloaded, err,
					    sizeof(err)), 0);
	assert_false(egress_upstream_take(&f->c, reloaded, &reloaded->v[1], "a.example", 443,
					  false));
	egress_upstream_pool_flush(&f->egress.upstream_pool, reloaded);
	assert_int_equal(f->egress.upstream_pool.count, 0);
	assert_true(peer_sees_close(f->peers[0]));
	routes_unref(reloaded);
}

static void test_an_upstream_that_closed_is_dropped(void **state)
{
	struct fixture *f = *state;
	const struct route *route = &f->routes->v[1];

	connect_fake(f, "a.example", 443);
	egress_upstream_put(&f->c, f->routes, route);
	close(f->peers[0]);
	f->peers[0] = open("/dev/null", O_RDONLY); /* teardown closes something */
	assert_false(egress_upstream_take(&f->c, f->routes, route, "a.example", 443, false));
	assert_int_equal(f->c.upstream.fd, -1);
	assert_int_equal(f->egress.upstream_pool.count, 0);
}

static void test_an_upstream_that_spoke_first_is_dropped(void **state)
{
	struct fixture *f = *state;
	const struct route *route = &f->routes->v[1];

	connect_fake(f, "a.example", 443);
	egress_upstream_put(&f->c, f->routes, route);
	assert_int_equal(send(f->peers[0], "HTTP/1.1 200 OK\r\n", 17, 0), 17);
	assert_false(egress_upstream_take(&f->c, f->routes, route, "a.example", 443, false));
	assert_true(peer_sees_close(f->peers[0]));
}

static void test_unread_bytes_are_not_pooled(void **state)
{
	struct fixture *f = *state;

	connect_fake(f, "a.example", 443);
	assert_int_equal(buf_append_str(&f->c.upstream_in, "leftover"), 0);
	egress_upstream_put(&f->c, f->routes, &f->routes->v[1]);
	assert_int_equal(f->egress.upstream_pool.count, 0);
	assert_int_equal(f->c.upstream.fd, -1);
	assert_true(peer_sees_close(f->peers[0]));
}

static void test_the_oldest_goes_over_the_cap(void **state)
{
	struct fixture *f = *state;
	const struct route *route = &f->routes->v[1];
	int i;

	for (i = 0; i < 5; i++) {
		connect_fake(f, "a.example", (uint16_t)(1000 + i));
		egress_upstream_put(&f->c, f->routes, route);
	}
	assert_int_equal(f->egress.upstream_pool.count, 4);
	assert_true(peer_sees_close(f->peers[0]));
	for (i = 1; i < 5; i++)
		assert_false(peer_sees_close(f->peers[i]));
	assert_false(egress_upstream_take(&f->c, f->routes, route, "a.example", 1000, false));
	assert_true(egress_upstream_take(&f->c, f->routes, route, "a.example", 1004, false));
}

static void test_expired_upstreams_are_closed(void **state)
{
	struct fixture *f = *state;
	const struct route *route = &f->routes->v[1];
	struct timespec pause = { .tv_nsec = 20 * 1000 * 1000 };

	f->egress.upstream_pool.idle_timeout_ms = 5;
	connect_fake(f, "a.example", 443);
	egress_upstream_put(&f->c, f->routes, route);
	nanosleep(&pause, NULL);
	egress_upstream_pool_expire(&f->egress.upstream_pool);
	assert_int_equal(f->egress.upstream_pool.count, 0);
	assert_true(peer_sees_close(f->peers[0]));
}

static void test_a_pool_of_zero_keeps_nothing(void **state)
{
	struct fixture *f = *state;

	f->egress.upstream_pool.max_idle = 0;
	connect_fake(f, "a.example", 443);
	egress_upstream_put(&f->c, f->routes, &f->routes->v[1]);
	assert_int_equal(f->egress.upstream_pool.count, 0);
	assert_true(peer_sees_close(f->peers[0]));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_taken_back_by_the_same_route, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_not_handed_to_another_key, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_not_reused_after_a_reload, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_an_upstream_that_closed_is_dropped,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_an_upstream_that_spoke_first_is_dropped,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_unread_bytes_are_not_pooled, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_the_oldest_goes_over_the_cap, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_expired_upstreams_are_closed, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_a_pool_of_zero_keeps_nothing, fixture_setup,
						fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

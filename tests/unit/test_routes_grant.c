/* `grant:` on routes: the loader's checks, the JSON view with and without
 * a ledger, and decisions against a ledger (a test double here; egress's
 * own is tested through the integration scripts): an ended grant's route
 * does not match, the next route is tried, the denial names the grant, and
 * only an allowed request is counted. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/routes.h"

static struct routes *load(const char *text)
{
	struct routes *r = NULL;
	char err[512];

	if (routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err)) < 0)
		fail_msg("load failed: %s\nfor:\n%s", err, text);
	return r;
}

static void expect_error(const char *text, const char *message)
{
	struct routes *r = NULL;
	char err[512];
	int ret = routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err));

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", ret, text);
	assert_null(r);
	if (strcmp(err, message) != 0)
		fail_msg("expected message\n  %s\ngot\n  %s", message, err);
}

/* A ledger whose grants are all in one state; counts what it is asked to
 * take. */
struct fake_ledger {
	struct routes_grants ledger;
	enum route_grant_state state;
	uint64_t used;
	unsigned takes, checks;
	char last_id[64];
};

static int fake_use(struct routes_grants *self, const struct route_grant *grant, bool take,
		    struct route_grant_status *status)
{
	struct fake_ledger *f = (struct fake_ledger *)self;

	snprintf(f->last_id, sizeof(f->last_id), "%s", grant->id);
	if (take && f->state == ROUTE_GRANT_ACTIVE) {
		f->takes++;
		f->used++;
		if (grant->max_requests && f->used >= grant->max_requests) {
			status->state = ROUTE_GRANT_ACTIVE;
			status->used = f->used;
			f->state = ROUTE_GRANT_USED_UP;
			return 0;
		}
	} else if (!take) {
		f->checks++;
	}
	status->state = f->state;
	status->used = f->used;
	return 0;
}

static struct fake_ledger fake(enum route_grant_state state)
{
	return (struct fake_ledger){ .ledger = { .use = fake_use }, .state = state };
}

static struct route_decision decide(const struct routes *r, struct fake_ledger *f,
				    const char *host, uint16_t port, const char *method,
				    const char *path)
{
	static struct http1_fields none;
	struct routes_request req = {
		.host = str_from_cstr(host),
		.port = port,
		.method = str_from_cstr(method),
		.path = str_from_cstr(path),
		.query = STR_LITERAL(""),
		.fields = &none,
		.grants = f ? &f->ledger : NULL,
	};
	struct route_decision d;

	assert_int_equal(routes_decide(r, &req, &d), 0);
	return d;
}

static const char bounded_yaml[] =
	"routes:\n"
	"  - host: api.test\n"
	"    matches: [{path_prefix: /v2}]\n"
	"    grant: {id: 20261129T194700Z-0123abcd, expires_at: \"2026-11-29T20:47:00Z\",\n"
	"            max_requests: 2}\n"
	"  - host: api.test\n"
	"    matches: [{path_prefix: /v1}]\n";

/* ---- loading ---- */

static void test_grant_keys_load(void **state)
{
	struct routes *r = load(bounded_yaml);
	const struct route_grant *g = r->v[0].grant;

	(void)state;
	assert_non_null(g);
	assert_string_equal(g->id, "20261129T194700Z-0123abcd");
	assert_int_equal(g->expires_at, 1795985220);
	assert_int_equal(g->max_requests, 2);
	assert_null(r->v[1].grant);
	routes_unref(r);

	/* Either bound alone; the view's informational keys are accepted. */
	r = load("routes:\n  - host: a.test\n    grant: {id: x-1, max_requests: 5}\n"
		 "  - host: b.test\n    tls_passthrough: true\n"
		 "    grant: {id: x-2, expires_at: \"2030-01-01T00:00:00Z\", state: active,"
		 " requests_used: 0}\n");
	assert_int_equal(r->v[0].grant->expires_at, 0);
	assert_int_equal(r->v[1].grant->max_requests, 0);
	routes_unref(r);
}

static void test_grant_errors(void **state)
{
	(void)state;
	expect_error("routes:\n  - host: a.test\n    grant: x\n",
		     "routes.yaml:3:12: routes[0].grant: expected a mapping, got a scalar");
	expect_error("routes:\n  - host: a.test\n    grant: {max_requests: 2}\n",
		     "routes.yaml:3:12: routes[0].grant: missing key 'id'");
	expect_error("routes:\n  - host: a.test\n    grant: {id: x, max: 2}\n",
		     "routes.yaml:3:20: routes[0].grant: unknown key 'max' (allowed: id, "
		     "expires_at, max_requests, state, requests_used)");
	expect_error("routes:\n  - host: a.test\n    grant: {id: a/b, max_requests: 2}\n",
		     "routes.yaml:3:17: routes[0].grant.id: 'a/b' is not a proposal id (letters, "
		     "digits and '-', at most 63)");
	expect_error("routes:\n  - host: a.test\n    grant: {id: x, expires_at: tomorrow}\n",
		     "routes.yaml:3:32: routes[0].grant.expires_at: 'tomorrow' is not a UTC time "
		     "such as 2026-11-29T19:47:00Z");
	expect_error("routes:\n  - host: a.test\n    grant: {id: x, max_requests: 0}\n",
		     "routes.yaml:3:34: routes[0].grant.max_requests: 0 is out of range (1 to "
		     "1000000000)");
	expect_error("routes:\n  - host: a.test\n    grant: {id: x}\n",
		     "routes.yaml:3:12: routes[0].grant: a grant needs expires_at, max_requests "
		     "or both (without a bound, drop the grant key)");
	expect_error("routes:\n  - host: a.test\n    grant: {id: x, max_requests: 1, state: "
		     "forever}\n",
		     "routes.yaml:3:44: routes[0].grant.state: 'forever' is not a state egress "
		     "reports (it is informational: omit it)");
	expect_error("routes:\n  - host: a.test\n    grant: {id: x, max_requests: 1}\n"
		     "  - host: b.test\n    grant: {id: x, max_requests: 2}\n",
		     "routes.yaml:5:12: routes[1].grant: grant 'x' is on routes[0] too, with "
		     "other bounds: one grant has one set of bounds");
}

/* ---- the JSON view ---- */

static void test_grant_json(void **state)
{
	struct routes *r = load(bounded_yaml), *again;
	struct fake_ledger f = fake(ROUTE_GRANT_USED_UP);
	struct buf out;

	(void)state;
	buf_init(&out, 1 << 20);
	assert_int_equal(routes_to_json(r, &out), 0);
	assert_non_null(strstr(out.p, "\"grant\":{\"id\":\"20261129T194700Z-0123abcd\","
				      "\"expires_at\":\"2026-11-29T20:47:00Z\",\"max_requests\":2}"));
	/* The view loads as routes.yaml and gives the same table. */
	again = load(out.p);
	assert_string_equal(again->v[0].grant->id, r->v[0].grant->id);
	routes_unref(again);

	buf_clear(&out);
	f.used = 2;
	assert_int_equal(routes_to_json_with_grants(r, &f.ledger, &out), 0);
	assert_non_null(strstr(out.p, "\"max_requests\":2,\"state\":\"ended: max_requests used\","
				      "\"requests_used\":2}"));
	assert_int_equal(f.takes, 0);
	again = load(out.p);
	routes_unref(again);
	buf_release(&out);
	routes_unref(r);
}

/* ---- decisions ---- */

static void test_active_grant_counts_allowed_requests_only(void **state)
{
	struct routes *r = load(bounded_yaml);
	struct fake_ledger f = fake(ROUTE_GRANT_ACTIVE);
	struct route_decision d;

	(void)state;
	d = decide(r, &f, "api.test", 443, "GET", "/v2/x");
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[0]);
	assert_int_equal(f.takes, 1);
	/* /v1 is the unbounded route's: the grant is not asked to count. */
	d = decide(r, &f, "api.test", 443, "GET", "/v1/x");
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[1]);
	assert_int_equal(f.takes, 1);
	/* The second request uses the last one up; the third is denied. */
	d = decide(r, &f, "api.test", 443, "GET", "/v2/y");
	assert_true(d.allowed);
	assert_int_equal(f.takes, 2);
	d = decide(r, &f, "api.test", 443, "GET", "/v2/z");
	assert_false(d.allowed);
	assert_int_equal(f.takes, 2);
	assert_string_equal(d.reason,
			    "grant 20261129T194700Z-0123abcd on the route for api.test "
			    "(routes.yaml line 2) has ended: its 2 requests (max_requests) are "
			    "used; ask the operator again with the egress-allow tool");
	routes_unref(r);
}

static void test_ended_grant_falls_through_to_the_old_route(void **state)
{
	static const char changed[] =
		"routes:\n"
		"  - host: api.test\n"
		"    grant: {id: g-1, expires_at: \"2026-11-29T20:47:00Z\"}\n"
		"  - host: api.test\n"
		"    matches: [{path: /v1/ok}]\n";
	struct routes *r = load(changed);
	struct fake_ledger f = fake(ROUTE_GRANT_EXPIRED);
	struct route_decision d;

	(void)state;
	d = decide(r, &f, "api.test", 443, "GET", "/v1/ok");
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[1]);
	d = decide(r, &f, "api.test", 443, "GET", "/v2");
	assert_false(d.allowed);
	assert_string_equal(d.reason, "grant g-1 on the route for api.test (routes.yaml line 2) "
				      "has ended: it expired at 2026-11-29T20:47:00Z; ask the "
				      "operator again with the egress-allow tool");
	routes_unref(r);
}

static void test_no_ledger_fails_closed(void **state)
{
	struct routes *r = load(bounded_yaml);
	struct route_decision d;

	(void)state;
	d = decide(r, NULL, "api.test", 443, "GET", "/v2/x");
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "is closed: egress cannot count its requests"));
	routes_unref(r);
	r = load("routes:\n  - host: a.test\n    grant: {id: x, max_requests: 1}\n");
	assert_null(routes_find_host(r, STR_LITERAL("a.test"), 443));
	routes_unref(r);
}

static void test_connect_counts_passthrough_only(void **state)
{
	static const char yaml[] =
		"routes:\n"
		"  - host: bump.test\n"
		"    grant: {id: g-bump, max_requests: 1}\n"
		"  - host: pass.test\n"
		"    tls_passthrough: true\n"
		"    grant: {id: g-pass, max_requests: 1}\n";
	struct routes *r = load(yaml);
	struct fake_ledger f = fake(ROUTE_GRANT_ACTIVE);
	struct route_decision d;

	(void)state;
	/* A bumped tunnel is checked, its requests are counted inside. */
	d = decide(r, &f, "bump.test", 443, "CONNECT", "");
	assert_true(d.allowed);
	assert_int_equal(f.takes, 0);
	d = decide(r, &f, "pass.test", 443, "CONNECT", "");
	assert_true(d.allowed);
	assert_int_equal(f.takes, 1);
	assert_string_equal(f.last_id, "g-pass");
	d = decide(r, &f, "pass.test", 443, "CONNECT", "");
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "grant g-pass on the route for pass.test"));
	routes_unref(r);
}

static void test_websocket_on_a_grant_route_is_not_counted(void **state)
{
	struct routes *r = load(bounded_yaml);
	struct fake_ledger f = fake(ROUTE_GRANT_ACTIVE);
	static struct http1_fields none;
	struct routes_request req = {
		.host = STR_LITERAL("api.test"),
		.port = 443,
		.method = STR_LITERAL("GET"),
		.path = STR_LITERAL("/v2/socket"),
		.fields = &none,
		.upgrade_websocket = true,
		.grants = &f.ledger,
	};
	struct route_decision d;

	(void)state;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "does not allow WebSocket upgrades"));
	assert_int_equal(f.takes, 0);
	routes_unref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grant_keys_load),
		cmocka_unit_test(test_grant_errors),
		cmocka_unit_test(test_grant_json),
		cmocka_unit_test(test_active_grant_counts_allowed_requests_only),
		cmocka_unit_test(test_ended_grant_falls_through_to_the_old_route),
		cmocka_unit_test(test_no_ledger_fails_closed),
		cmocka_unit_test(test_connect_counts_passthrough_only),
		cmocka_unit_test(test_websocket_on_a_grant_route_is_not_counted),
	};

	return cmocka_run_group_tests_name("routes_grant", tests, NULL, NULL);
}

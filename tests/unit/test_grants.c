/* Bounded grants outside the routes table: the queue's records of their
 * ends and the audit entries for them (shared/queue_grant.c), egress's
 * ledger and its counts on disk (sidecar/egress/grants.c), and the
 * overlay supervise writes for a bounded approval (sidecar/supervise/grant.c). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../shared/queue.h"
#include "../../shared/routes.h"
#include "../../sidecar/egress/egress.h"
#include "../../sidecar/supervise/supervise.h"

struct fixture {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_grants.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *out = fopen(path, "w");

	assert_non_null(out);
	fputs(text, out);
	fclose(out);
}

static char *read_text(const char *path)
{
	static char text[4096];
	FILE *in = fopen(path, "r");
	size_t n;

	if (!in)
		return NULL;
	n = fread(text, 1, sizeof(text) - 1, in);
	fclose(in);
	text[n] = '\0';
	return text;
}

static struct routes *load(const char *text)
{
	struct routes *r = NULL;
	char err[512];

	if (routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err)) < 0)
		fail_msg("load failed: %s", err);
	return r;
}

/* ---- the queue's records ---- */

static void test_end_records_and_audit(void **state)
{
	struct fixture *f = *state;
	struct queue_grant_end e = { .id = "g-1", .reason = QUEUE_GRANT_MAX_REQUESTS,
				     .ended = "2026-11-29T20:00:00Z", .requests = 2 };
	struct queue_grant_ends ends;
	char err[512], log_path[128], path[160];
	size_t logged, entries;

	assert_int_equal(queue_grant_end_write(f->dir, &e, err, sizeof(err)), 0);
	/* Once per grant. */
	assert_int_equal(queue_grant_end_write(f->dir, &e, err, sizeof(err)), -EEXIST);
	e = (struct queue_grant_end){ .id = "g-0", .reason = QUEUE_GRANT_EXPIRED,
				      .ended = "2026-11-29T19:00:00Z" };
	assert_int_equal(queue_grant_end_write(f->dir, &e, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/grants/bad.ended.json", f->dir);
	write_text(path, "{\"id\":\"other\",\"reason\":\"expired\",\"ended\":\"2026-11-29T19:00:00Z\","
			 "\"requests\":0}");

	assert_int_equal(queue_grant_ends_list(f->dir, &ends, err, sizeof(err)), 0);
	assert_int_equal(ends.n, 2);
	assert_string_equal(ends.v[0].id, "g-0"); /* oldest end first */
	assert_int_equal(ends.v[0].reason, QUEUE_GRANT_EXPIRED);
	assert_string_equal(ends.v[1].id, "g-1");
	assert_int_equal(ends.v[1].requests, 2);
	assert_false(ends.v[1].logged);
	assert_int_equal(ends.nproblems, 1);
	assert_non_null(strstr(ends.problems[0], "its id does not name the file"));
	queue_grant_ends_release(&ends);

	snprintf(log_path, sizeof(log_path), "%s/audit.log", f->dir);
	assert_int_equal(queue_grant_ends_log(f->dir, "dev", log_path, &logged, err, sizeof(err)), 0);
	assert_int_equal(logged, 2);
	assert_int_equal(queue_grant_ends_log(f->dir, "dev", log_path, &logged, err, sizeof(err)), 0);
	assert_int_equal(logged, 0);
	assert_int_equal(queue_audit_verify(log_path, &entries, err, sizeof(err)), 0);
	assert_int_equal(entries, 2);
	assert_non_null(strstr(read_text(log_path), "\"event\":\"grant-ended\",\"bottle\":\"dev\","
						    "\"id\":\"g-0\",\"reason\":\"expired\""));

	/* Found by fuzz_queue: a key holding a NUL ("reason\u0000") counted as
	 * "reason", and the lookup by name then read a NULL. */
	write_text(log_path, "{\"seq\":1,\"time\":\"2026-11-30T01:16:57Z\",\"event\":\"grant-ended\","
			     "\"bottle\":\"dev\",\"id\":\"g-0\",\"reason\\u0000\":\"expired\","
			     "\"ended\":\"2026-11-29T19:00:00Z\",\"requests\":0,\"prev\":\"00\"}\n");
	assert_int_equal(queue_audit_verify(log_path, &entries, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "unknown or repeated key"));
}

static int parse(const char *name, const char *text, struct queue_grant_end *e)
{
	char err[256];

	return queue_grant_end_parse(name, text, strlen(text), e, err, sizeof(err));
}

static void test_end_parse_is_strict(void **state)
{
	struct queue_grant_end e;

	(void)state;
	assert_int_equal(parse("g/x.ended.json",
			       "{\"id\":\"x\",\"reason\":\"expired\",\"ended\":"
			       "\"2026-11-29T19:00:00Z\",\"requests\":3}",
			       &e),
			 0);
	assert_int_equal(e.requests, 3);
	assert_int_equal(parse("x.ended.json",
			       "{\"id\":\"x\",\"reason\":\"bored\",\"ended\":"
			       "\"2026-11-29T19:00:00Z\",\"requests\":3}",
			       &e),
			 -EBADMSG);
	assert_int_equal(parse("x.ended.json",
			       "{\"id\":\"x\",\"reason\":\"expired\",\"ended\":\"yesterday\","
			       "\"requests\":3}",
			       &e),
			 -EBADMSG);
	assert_int_equal(parse("x.ended.json",
			       "{\"id\":\"x\",\"reason\":\"expired\",\"ended\":"
			       "\"2026-11-29T19:00:00Z\",\"requests\":3,\"more\":1}",
			       &e),
			 -EBADMSG);
	assert_int_equal(parse("x.ended.json", "[]", &e), -EBADMSG);
	/* Found by fuzz_queue: "id\u0000" counted as "id", and the lookup by
	 * name then read a NULL. */
	assert_int_equal(parse("x.ended.json",
			       "{\"id\\u0000\":\"x\",\"reason\":\"expired\",\"ended\":"
			       "\"2026-11-29T19:00:00Z\",\"requests\":3}",
			       &e),
			 -EBADMSG);
}

/* ---- egress's ledger ---- */

static enum route_grant_state use(struct egress_grants *g, const struct route_grant *grant,
				  bool take, uint64_t *used)
{
	struct routes_grants *ledger = egress_grants_ledger(g);
	struct route_grant_status status;

	assert_int_equal(ledger->use(ledger, grant, take, &status), 0);
	if (used)
		*used = status.used;
	return status.state;
}

static void test_ledger_counts_survive_a_restart(void **state)
{
	struct fixture *f = *state;
	struct route_grant grant = { .id = "g-2", .max_requests = 2 };
	struct egress_grants *g;
	char path[160];
	uint64_t used;

	assert_int_equal(egress_grants_create(f->dir, &g), 0);
	assert_int_equal(use(g, &grant, true, &used), ROUTE_GRANT_ACTIVE);
	assert_int_equal(used, 1);
	/* A check counts nothing. */
	assert_int_equal(use(g, &grant, false, &used), ROUTE_GRANT_ACTIVE);
	assert_int_equal(used, 1);
	snprintf(path, sizeof(path), "%s/grants/g-2.count", f->dir);
	assert_string_equal(read_text(path), "1\n");

	/* A second ledger (egress restarted) reads the count back. */
	egress_grants_free(g);
	assert_int_equal(egress_grants_create(f->dir, &g), 0);
	assert_int_equal(use(g, &grant, false, &used), ROUTE_GRANT_ACTIVE);
	assert_int_equal(used, 1);
	/* The last request is allowed, and the grant ends with it. */
	assert_int_equal(use(g, &grant, true, &used), ROUTE_GRANT_ACTIVE);
	assert_int_equal(used, 2);
	assert_int_equal(use(g, &grant, true, &used), ROUTE_GRANT_USED_UP);
	assert_int_equal(used, 2);
	snprintf(path, sizeof(path), "%s/grants/g-2.ended.json", f->dir);
	assert_non_null(strstr(read_text(path), "\"reason\": \"max_requests\""));
	egress_grants_free(g);
}

static void test_ledger_expiry_and_failing_closed(void **state)
{
	struct fixture *f = *state;
	struct route_grant past = { .id = "g-3", .expires_at = time(NULL) - 1 };
	struct route_grant later = { .id = "g-4", .expires_at = time(NULL) + 3600 };
	struct routes *r = load("routes:\n  - host: a.test\n    grant: {id: g-5, expires_at: "
				"\"2020-01-01T00:00:00Z\"}\n");
	struct egress_grants *g, *none;
	char path[160];

	assert_int_equal(egress_grants_create(f->dir, &g), 0);
	assert_int_equal(use(g, &later, true, NULL), ROUTE_GRANT_ACTIVE);
	assert_int_equal(use(g, &past, false, NULL), ROUTE_GRANT_EXPIRED);
	/* Learning a table ends what already ran out, with no request. */
	egress_grants_sync(g, r);
	snprintf(path, sizeof(path), "%s/grants/g-5.ended.json", f->dir);
	assert_non_null(strstr(read_text(path), "\"reason\": \"expired\""));
	egress_grants_tick(g);
	assert_int_equal(use(g, &later, false, NULL), ROUTE_GRANT_ACTIVE);

	/* A count file that holds no count closes the grant. */
	snprintf(path, sizeof(path), "%s/grants/g-6.count", f->dir);
	write_text(path, "lots\n");
	assert_int_equal(use(g, &(struct route_grant){ .id = "g-6", .max_requests = 5 }, true, NULL),
			 ROUTE_GRANT_UNUSABLE);

	/* Without a queue nothing can be counted. */
	assert_int_equal(egress_grants_create(NULL, &none), 0);
	assert_int_equal(use(none, &later, true, NULL), ROUTE_GRANT_UNUSABLE);
	egress_grants_free(none);
	egress_grants_free(g);
	routes_unref(r);
}

/* ---- supervise's overlay ---- */

static void test_overlay_bounds_only_what_is_new(void **state)
{
	struct fixture *f = *state;
	struct supervise_options o = { 0 };
	struct route_grant grant = { .id = "20261129T194700Z-0123abcd", .max_requests = 3 };
	struct routes *r;
	char *out = NULL, err[512];
	size_t len, bounded;

	snprintf(f->path, sizeof(f->path), "%s/routes.yaml", f->dir);
	o.routes_path = f->path;
	write_text(f->path, "log: all\nroutes:\n  - host: keep.test\n"
			    "  - host: api.test\n    matches: [{path: /old}]\n"
			    "  - host: gone.test\n");
	/* keep.test as it was (other layout), api.test widened, new.test
	 * added, gone.test dropped. */
	static const char approved[] =
		"log: all\nroutes:\n  - {host: new.test}\n  - host: KEEP.test\n  - host: api.test\n";
	assert_int_equal(grant_bound_routes(&o, approved, strlen(approved), &grant, &out, &len,
					    &bounded, err, sizeof(err)),
			 0);
	assert_int_equal(bounded, 2);
	r = load(out);
	assert_int_equal(r->n, 4);
	assert_string_equal(r->v[0].host, "new.test");
	assert_string_equal(r->v[0].grant->id, grant.id);
	assert_int_equal(r->v[0].grant->max_requests, 3);
	assert_string_equal(r->v[1].host, "keep.test");
	assert_null(r->v[1].grant);
	assert_string_equal(r->v[2].host, "api.test");
	assert_non_null(r->v[2].grant);
	assert_null(r->v[2].matches);
	/* The route it changed, kept unbounded after it. */
	assert_string_equal(r->v[3].host, "api.test");
	assert_null(r->v[3].grant);
	assert_string_equal(r->v[3].matches[0].path, "/old");
	routes_unref(r);
	free(out);

	/* An approval that adds nothing bounds nothing. */
	static const char narrower[] = "log: all\nroutes:\n  - host: keep.test\n";
	assert_int_equal(grant_bound_routes(&o, narrower, strlen(narrower), &grant, &out, &len,
					    &bounded, err, sizeof(err)),
			 0);
	assert_int_equal(bounded, 0);
	free(out);
}

static void test_proposals_may_not_write_grants(void **state)
{
	static const char live[] =
		"{\"log\":\"blocks\",\"routes\":[{\"host\":\"a.test\",\"grant\":{\"id\":\"g-1\","
		"\"max_requests\":2}}]}";
	struct routes *r;
	char msg[512];

	(void)state;
	/* Kept as it is (in another layout): fine. */
	r = load("routes:\n  - host: a.test\n    grant:\n      max_requests: 2\n      id: g-1\n"
		 "  - host: b.test\n");
	assert_int_equal(grant_check_proposal(r, live, msg, sizeof(msg)), 0);
	routes_unref(r);
	/* Raised, or invented: refused. */
	r = load("routes:\n  - host: a.test\n    grant: {id: g-1, max_requests: 200}\n");
	assert_int_equal(grant_check_proposal(r, live, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "routes[0] has a grant: key the live routes do not have"));
	routes_unref(r);
	r = load("routes:\n  - host: b.test\n    grant: {id: mine, max_requests: 1}\n");
	assert_int_equal(grant_check_proposal(r, live, msg, sizeof(msg)), -EINVAL);
	routes_unref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_end_records_and_audit, setup, teardown),
		cmocka_unit_test(test_end_parse_is_strict),
		cmocka_unit_test_setup_teardown(test_ledger_counts_survive_a_restart, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_ledger_expiry_and_failing_closed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_overlay_bounds_only_what_is_new, setup,
						teardown),
		cmocka_unit_test(test_proposals_may_not_write_grants),
	};

	return cmocka_run_group_tests_name("grants", tests, NULL, NULL);
}

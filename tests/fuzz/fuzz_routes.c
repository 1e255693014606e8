/* libFuzzer target: routes_load_string(), routes_decide(), routes_to_json().
 *
 * Input: a routes.yaml text, optionally followed by a NUL byte and a request
 * path (with an optional ?query) decided against the loaded table.
 * Invariants checked:
 * - a load returns 0 with a table or a negative errno without one, and an
 *   error message that starts with the file name and holds no control byte;
 * - every loaded host is non-empty and lower case, every port non-zero;
 * - JSON of the table loads again as routes.yaml and gives the same JSON;
 * - each route allows a plain GET / and a CONNECT to its own host and port
 *   when it has no matches (an earlier route may allow it first, none can
 *   deny it), and every route allows a CONNECT to its host;
 * - a decision's reason is printable ASCII of at most 380 bytes, empty
 *   exactly when allowed, and a path holding git-receive-pack is denied.
 */
#include "../../shared/buf.h"
#include "../../shared/config_yaml.h"
#include "../../shared/http1.h"
#include "../../shared/log.h"
#include "../../shared/queue.h"
#include "../../shared/routes.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void check_decision(const struct route_decision *d)
{
	size_t i, len = strlen(d->reason);

	CHECK(len <= 380);
	CHECK(d->allowed == (len == 0));
	for (i = 0; i < len; i++)
		CHECK(d->reason[i] >= 0x20 && d->reason[i] < 0x7f);
	if (d->match)
		CHECK(d->route && d->match >= d->route->matches &&
		      d->match < d->route->matches + d->route->nmatches);
}

static void check_table(const struct routes *r)
{
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		const struct route *route = &r->v[i];

		CHECK(route->host && route->host[0]);
		for (j = 0; route->host[j]; j++)
			CHECK(!(route->host[j] >= 'A' && route->host[j] <= 'Z'));
		for (j = 0; j < route->nports; j++)
			CHECK(route->ports[j] != 0);
		CHECK(!route->tls_passthrough || (!route->matches && !route->auth));
	}
}

/* Every route's own host and port: CONNECT is allowed, and a plain GET /
 * is when the route has no conditions. */
static void check_own_hosts(const struct routes *r)
{
	struct routes_request req;
	struct route_decision d;
	char host[300];
	size_t i;

	for (i = 0; i < r->n; i++) {
		const struct route *route = &r->v[i];

		snprintf(host, sizeof(host), "%s%s", route->wildcard ? "x." : "", route->host);
		memset(&req, 0, sizeof(req));
		req.host = str_from_cstr(host);
		req.port = route->ports ? route->ports[0] : 443;
		req.method = STR_LITERAL("CONNECT");
		CHECK(routes_decide(r, &req, &d) == 0);
		check_decision(&d);
		CHECK(d.allowed);
		req.method = STR_LITERAL("GET");
		req.path = STR_LITERAL("/");
		CHECK(routes_decide(r, &req, &d) == 0);
		check_decision(&d);
		if (!route->matches)
			CHECK(d.allowed);
	}
}

static void check_json(const struct routes *r)
{
	struct routes *again = NULL;
	struct buf one, two;
	char err[512];
	int ret;

	buf_init(&one, 1 << 24);
	buf_init(&two, 1 << 24);
	CHECK(routes_to_json(r, &one) == 0);
	ret = routes_load_string("json", one.p, one.len, &again, err, sizeof(err));
	if (ret < 0)
		fprintf(stderr, "json did not load: %s\n%s\n", err, one.p);
	CHECK(ret == 0);
	CHECK(routes_to_json(again, &two) == 0);
	CHECK(one.len == two.len && memcmp(one.p, two.p, one.len) == 0);
	routes_unref(again);
	buf_release(&one);
	buf_release(&two);
}

static void check_request_path(const struct routes *r, const char *p, size_t len)
{
	const char *q = memchr(p, '?', len);
	struct routes_request req;
	struct route_decision d;
	size_t i;
	bool push = false;

	memset(&req, 0, sizeof(req));
	req.method = STR_LITERAL("POST");
	req.path = (struct str){ p, q ? (size_t)(q - p) : len };
	if (q)
		req.query = (struct str){ q + 1, len - (size_t)(q - p) - 1 };
	req.port = 443;
	for (i = 0; i <= r->n; i++) {
		/* Each route's host, then one no route names. */
		req.host = i < r->n ? str_from_cstr(r->v[i].host) : STR_LITERAL("unnamed.test");
		req.upgrade_websocket = (i & 1) != 0;
		CHECK(routes_decide(r, &req, &d) == 0);
		check_decision(&d);
		if (i == r->n && d.allowed)
			CHECK(d.route != NULL);
	}
	for (i = 0; i + 16 <= len && !push; i++)
		push = strncasecmp(p + i, "git-receive-pack", 16) == 0;
	if (push)
		CHECK(!d.allowed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data, *nul = memchr(data, 0, size);
	size_t text_len = nul ? (size_t)(nul - text) : size;
	struct routes *r = (struct routes *)&r;
	char err[512];
	size_t i;
	int ret;

	ret = routes_load_string("fuzz.yaml", text, text_len, &r, err, sizeof(err));
	for (i = 0; err[i]; i++)
		CHECK((unsigned char)err[i] >= 0x20);
	if (ret < 0) {
		CHECK(r == NULL);
		CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
		return 0;
	}
	CHECK(ret == 0 && r && err[0] == '\0');
	check_table(r);
	check_own_hosts(r);
	check_json(r);
	if (nul)
		check_request_path(r, nul + 1, size - text_len - 1);
	CHECK(routes_ref(r) == r);
	routes_unref(r);
	routes_unref(r);
	return 0;
}

/* routes.yaml: every key read as written and refused when wrong (with its
 * position), and every decision the policy makes, with the reasons an
 * agent sees. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../shared/config_yaml.h"
#include "../../shared/routes.h"

/* The schema's example in docs/routes.md, every key used. */
static const char full_yaml[] =
	"log: all\n"
	"routes:\n"
	"  - host: API.Anthropic.com\n"
	"    ports: [443]\n"
	"    outbound_on_match: redact\n"
	"    auth:\n"
	"      header: x-api-key\n"
	"      scheme: Bearer\n"
	"      env: ANTHROPIC_API_KEY\n"
	"    matches:\n"
	"      - path: /v1/messages\n"
	"        methods: [POST]\n"
	"        headers: {anthropic-version: \"2023-06-01\"}\n"
	"      - path_prefix: /v1/models\n"
	"      - path_regex: '^/v1/files/[a-z0-9_-]+$'\n"
	"  - host: \"*.githubusercontent.com\"\n"
	"    tls_passthrough: true\n"
	"  - host: echo.test\n"
	"    ports: [80, 8080]\n"
	"    outbound_on_match: block\n"
	"    websocket: true\n"
	"    addresses: [127.0.0.1, \"10.0.0.0/8\", \"::1\", \"fd00::/12\"]\n"
	"  - host: \"::1\"\n"
	"  - host: 192.0.2.7\n"
	"    ports: [8443]\n";

static struct routes *load(const char *text)
{
	struct routes *r = NULL;
	char err[512];
	int ret = routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err));

	if (ret < 0)
		fail_msg("load failed (%d): %s\nfor:\n%s", ret, err, text);
	assert_string_equal(err, "");
	assert_non_null(r);
	return r;
}

/* Expect a load to fail with exactly `message`. */
static void expect_error(const char *text, const char *message)
{
	struct routes *r = (struct routes *)&r;
	char err[512];
	int ret = routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err));

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", ret, text);
	assert_null(r);
	if (strcmp(err, message) != 0)
		fail_msg("expected message\n  %s\ngot\n  %s", message, err);
}

/* Expect a load to fail with a message starting with `position` and
 * holding `part`. */
static void expect_error_part(const char *text, const char *position, const char *part)
{
	struct routes *r = NULL;
	char err[512];
	int ret = routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err));

	if (ret != -EINVAL)
		fail_msg("expected -EINVAL, got %d for:\n%s", ret, text);
	assert_null(r);
	if (strncmp(err, position, strlen(position)) != 0 || !strstr(err, part))
		fail_msg("expected a message at %s with '%s', got\n  %s", position, part, err);
}

/* One route's worth of YAML under "routes:". */
static void expect_route_error(const char *route_body, const char *position, const char *part)
{
	char text[2048];

	snprintf(text, sizeof(text), "routes:\n  - %s", route_body);
	expect_error_part(text, position, part);
}

static struct http1_fields fields_storage;

static const struct http1_fields *fields(int n, ...)
{
	va_list args;
	int i;

	va_start(args, n);
	fields_storage.n = (size_t)n;
	for (i = 0; i < n; i++) {
		fields_storage.v[i].name = str_from_cstr(va_arg(args, const char *));
		fields_storage.v[i].value = str_from_cstr(va_arg(args, const char *));
	}
	va_end(args);
	return &fields_storage;
}

static struct routes_request request(const char *host, uint16_t port, const char *method,
				     const char *path, const char *query)
{
	struct routes_request req;

	memset(&req, 0, sizeof(req));
	req.host = str_from_cstr(host);
	req.port = port;
	req.method = str_from_cstr(method);
	req.path = str_from_cstr(path);
	req.query = str_from_cstr(query ? query : "");
	req.fields = fields(0);
	return req;
}

static bool allowed(const struct routes *r, const char *host, uint16_t port, const char *method,
		    const char *path)
{
	struct routes_request req = request(host, port, method, path, NULL);
	struct route_decision d;

	assert_int_equal(routes_decide(r, &req, &d), 0);
	if (d.allowed)
		assert_string_equal(d.reason, "");
	else
		assert_true(d.reason[0] != '\0');
	return d.allowed;
}

/* ---- loading: the full example and defaults ---- */

static void test_full_example_reads_as_written(void **state)
{
	struct routes *r = load(full_yaml);
	const struct route *a, *g, *e;

	(void)state;
	assert_int_equal(r->refcount, 1);
	assert_int_equal(r->log, ROUTES_LOG_ALL);
	assert_string_equal(r->source, "routes.yaml");
	assert_int_equal(r->n, 5);

	a = &r->v[0];
	assert_string_equal(a->host, "api.anthropic.com");
	assert_false(a->wildcard);
	assert_int_equal(a->host_kind, HTTP1_HOST_NAME);
	assert_int_equal(a->nports, 1);
	assert_int_equal(a->ports[0], 443);
	assert_int_equal(a->outbound_on_match, ROUTE_OUTBOUND_REDACT);
	assert_true(a->outbound_set);
	assert_string_equal(a->auth->header, "x-api-key");
	assert_string_equal(a->auth->scheme, "Bearer");
	assert_string_equal(a->auth->env, "ANTHROPIC_API_KEY");
	assert_int_equal(a->line, 3);
	assert_int_equal(a->nmatches, 3);
	assert_int_equal(a->matches[0].path_kind, ROUTE_PATH_EXACT);
	assert_string_equal(a->matches[0].path, "/v1/messages");
	assert_string_equal(a->matches[0].methods[0], "POST");
	assert_null(a->matches[0].methods[1]);
	assert_int_equal(a->matches[0].nheaders, 1);
	assert_string_equal(a->matches[0].headers[0].name, "anthropic-version");
	assert_string_equal(a->matches[0].headers[0].value, "2023-06-01");
	assert_int_equal(a->matches[0].line, 11);
	assert_int_equal(a->matches[1].path_kind, ROUTE_PATH_PREFIX);
	assert_null(a->matches[1].methods);
	assert_int_equal(a->matches[2].path_kind, ROUTE_PATH_REGEX);
	assert_string_equal(a->matches[2].path, "^/v1/files/[a-z0-9_-]+$");
	assert_non_null(a->matches[2].path_regex);
	assert_false(a->tls_passthrough);
	assert_false(a->websocket);

	g = &r->v[1];
	assert_string_equal(g->host, "githubusercontent.com");
	assert_true(g->wildcard);
	assert_true(g->tls_passthrough);
	assert_null(g->ports);
	assert_null(g->auth);
	assert_null(g->matches);
	assert_false(g->outbound_set);
	assert_int_equal(g->outbound_on_match, ROUTE_OUTBOUND_SUPERVISE);

	e = &r->v[2];
	assert_true(e->websocket);
	assert_int_equal(e->nports, 2);
	assert_int_equal(e->naddresses, 4);
	assert_int_equal(e->addresses[0].family, AF_INET);
	assert_int_equal(e->addresses[0].prefix_len, 32);
	assert_int_equal(e->addresses[1].prefix_len, 8);
	assert_int_equal(e->addresses[2].family, AF_INET6);
	assert_int_equal(e->addresses[2].prefix_len, 128);
	assert_int_equal(e->addresses[3].prefix_len, 12);

	assert_int_equal(r->v[3].host_kind, HTTP1_HOST_IPV6);
	assert_string_equal(r->v[3].host, "::1");
	assert_int_equal(r->v[4].host_kind, HTTP1_HOST_IPV4);
	routes_unref(r);
}

static void test_defaults_and_empty_table(void **state)
{
	struct routes *r = load("routes: []\n");

	(void)state;
	assert_int_equal(r->log, ROUTES_LOG_BLOCKS);
	assert_int_equal(r->n, 0);
	assert_false(allowed(r, "example.com", 443, "GET", "/"));
	routes_unref(r);

	r = load("routes:\n  - host: example.com\n");
	assert_null(r->v[0].ports);
	assert_int_equal(r->v[0].nports, 0);
	assert_false(r->v[0].outbound_set);
	assert_int_equal(r->v[0].outbound_on_match, ROUTE_OUTBOUND_SUPERVISE);
	assert_int_equal(r->v[0].line, 2);
	routes_unref(r);
}

static void test_log_values(void **state)
{
	struct routes *r;

	(void)state;
	r = load("log: off\nroutes: []\n");
	assert_int_equal(r->log, ROUTES_LOG_OFF);
	routes_unref(r);
	r = load("log: blocks\nroutes: []\n");
	assert_int_equal(r->log, ROUTES_LOG_BLOCKS);
	routes_unref(r);
	expect_error("log: some\nroutes: []\n",
		     "routes.yaml:1:6: log: 'some' is not one of off, blocks, all");
	expect_error("log: [all]\nroutes: []\n",
		     "routes.yaml:1:6: log: expected a scalar, got a sequence");
	assert_string_equal(routes_log_name(ROUTES_LOG_ALL), "all");
	assert_string_equal(route_outbound_name(ROUTE_OUTBOUND_REDACT), "redact");
}

/* ---- loading: errors, with their positions ---- */

static void test_top_level_errors(void **state)
{
	(void)state;
	expect_error("log: all\n", "routes.yaml:1:1: top level: missing key 'routes'");
	expect_error("routes: []\nrotes: []\n",
		     "routes.yaml:2:1: top level: unknown key 'rotes' (allowed: log, routes)");
	expect_error("- host: a.com\n", "routes.yaml:1:1: top level: expected a mapping, got a sequence");
	expect_error("routes:\n", "routes.yaml:1:8: routes: expected a sequence, got a scalar");
	expect_error("routes: [a.com]\n",
		     "routes.yaml:1:10: routes[0]: expected a mapping, got a scalar");
	expect_error_part("routes: [\n", "routes.yaml:2:1: ", "");
	expect_error("", "routes.yaml:1:1: empty document");
}

static void test_route_key_errors(void **state)
{
	(void)state;
	expect_error("routes:\n  - host: a.com\n    hots: x\n",
		     "routes.yaml:3:5: routes[0]: unknown key 'hots' (allowed: host, ports, "
		     "outbound_on_match, auth, matches, tls_passthrough, websocket, addresses, grant)");
	expect_error("routes:\n  - ports: [443]\n",
		     "routes.yaml:2:5: routes[0]: missing key 'host'");
	expect_error("routes:\n  - host: a.com\n  - host: b.com\n    host: c.com\n",
		     "routes.yaml:4:5: routes[1]: key 'host' given twice (first at line 3)");
	expect_error("routes:\n  - host: a.com\n    auth: {header: x-key, env: K, sheme: B}\n",
		     "routes.yaml:3:35: routes[0].auth: unknown key 'sheme' (allowed: header, "
		     "scheme, env)");
	expect_error("routes:\n  - host: a.com\n    matches:\n      - pth: /x\n",
		     "routes.yaml:4:9: routes[0].matches[0]: unknown key 'pth' (allowed: path, "
		     "path_prefix, path_regex, methods, headers)");
}

static void test_host_errors(void **state)
{
	(void)state;
	expect_route_error("host: example.com:443\n", "routes.yaml:2:11: ",
			   "routes[0].host: 'example.com:443' names a port: list ports under "
			   "'ports', not in the host");
	expect_route_error("host: \"[::1]:443\"\n", "routes.yaml:2:11: ", "names a port");
	expect_route_error("host: a.*.com\n", "routes.yaml:2:11: ",
			   "'a.*.com': a wildcard is allowed only as a leading '*.'");
	expect_route_error("host: \"*\"\n", "routes.yaml:2:11: ", "a wildcard is allowed only");
	expect_route_error("host: \"*.\"\n", "routes.yaml:2:11: ", "is not a valid host name");
	expect_route_error("host: \"*.*.a.com\"\n", "routes.yaml:2:11: ", "a wildcard is allowed only");
	expect_route_error("host: \"*.192.0.2.1\"\n", "routes.yaml:2:11: ",
			   "a wildcard needs a domain name after '*.'");
	expect_route_error("host: exa mple.com\n", "routes.yaml:2:11: ", "is not a valid host name");
	expect_route_error("host: example.com.\n", "routes.yaml:2:11: ", "is not a valid host name");
	expect_route_error("host: 127.1\n", "routes.yaml:2:11: ", "is not a valid host name");
	expect_route_error("host: user@a.com\n", "routes.yaml:2:11: ", "is not a valid host name");
	expect_route_error("host: \"::g\"\n", "routes.yaml:2:11: ", "is not a valid host name");
	expect_route_error("host: \"\"\n", "routes.yaml:2:11: ", "routes[0].host");
	expect_route_error("host: [a.com]\n", "routes.yaml:2:11: ", "expected a scalar");
}

static void test_ports_errors(void **state)
{
	(void)state;
	expect_route_error("host: a.com\n    ports: [0]\n", "routes.yaml:3:13: ",
			   "routes[0].ports[0]");
	expect_route_error("host: a.com\n    ports: [443, 65536]\n", "routes.yaml:3:18: ",
			   "routes[0].ports[1]");
	expect_route_error("host: a.com\n    ports: [https]\n", "routes.yaml:3:13: ",
			   "routes[0].ports[0]");
	expect_route_error("host: a.com\n    ports: []\n", "routes.yaml:3:12: ",
			   "routes[0].ports: empty list; omit the key for the default (80 and 443)");
	expect_route_error("host: a.com\n    ports: [443, 443]\n", "routes.yaml:3:18: ",
			   "routes[0].ports[1]: port 443 listed twice");
	expect_route_error("host: a.com\n    ports: 443\n", "routes.yaml:3:12: ",
			   "routes[0].ports: expected a sequence, got a scalar");
}

static void test_outbound_and_bool_errors(void **state)
{
	(void)state;
	expect_route_error("host: a.com\n    outbound_on_match: allow\n", "routes.yaml:3:24: ",
			   "routes[0].outbound_on_match: 'allow' is not one of supervise, redact, "
			   "block");
	expect_route_error("host: a.com\n    websocket: yes\n", "routes.yaml:3:16: ",
			   "routes[0].websocket: expected true or false, got 'yes'");
	expect_route_error("host: a.com\n    tls_passthrough: 1\n", "routes.yaml:3:22: ",
			   "routes[0].tls_passthrough: expected true or false");
}

static void test_auth_errors(void **state)
{
	(void)state;
	expect_route_error("host: a.com\n    auth: {env: K}\n", "routes.yaml:3:11: ",
			   "routes[0].auth: missing key 'header'");
	expect_route_error("host: a.com\n    auth: {header: x-key}\n", "routes.yaml:3:11: ",
			   "routes[0].auth: missing key 'env'");
	expect_route_error("host: a.com\n    auth: {header: \"x key\", env: K}\n",
			   "routes.yaml:3:20: ",
			   "routes[0].auth.header: 'x key' is not a valid header field name");
	expect_route_error("host: a.com\n    auth: {header: Host, env: K}\n", "routes.yaml:3:20: ",
			   "routes[0].auth.header: 'Host' cannot carry a credential");
	expect_route_error("host: a.com\n    auth: {header: transfer-encoding, env: K}\n",
			   "routes.yaml:3:20: ", "cannot carry a credential");
	expect_route_error("host: a.com\n    auth: {header: x-key, env: 1TOKEN}\n",
			   "routes.yaml:3:32: ",
			   "routes[0].auth.env: '1TOKEN' is not a variable name");
	expect_route_error("host: a.com\n    auth: {header: x-key, env: A-B}\n",
			   "routes.yaml:3:32: ", "is not a variable name");
	expect_route_error("host: a.com\n    auth: {header: x, scheme: \"Bearer x\", env: K}\n",
			   "routes.yaml:3:31: ",
			   "routes[0].auth.scheme: 'Bearer x' is not a valid scheme");
	expect_route_error("host: a.com\n    auth: x-key\n", "routes.yaml:3:11: ",
			   "routes[0].auth: expected a mapping, got a scalar");
}

static void test_match_errors(void **state)
{
	(void)state;
	expect_route_error("host: a.com\n    matches: []\n", "routes.yaml:3:14: ",
			   "routes[0].matches: empty list would read as 'any request'");
	expect_route_error("host: a.com\n    matches:\n      - path: /a\n        path_prefix: /b\n",
			   "routes.yaml:5:9: ",
			   "routes[0].matches[0].path_prefix: give at most one of path, "
			   "path_prefix, path_regex in one entry (another is at line 4)");
	expect_route_error("host: a.com\n    matches:\n      - path: v1/x\n", "routes.yaml:4:15: ",
			   "routes[0].matches[0].path: 'v1/x' must start with '/'");
	expect_route_error("host: a.com\n    matches:\n      - path_prefix: /a?b=1\n",
			   "routes.yaml:4:22: ", "holds '?' at offset 2");
	expect_route_error("host: a.com\n    matches:\n      - path: \"/a b\"\n",
			   "routes.yaml:4:15: ", "holds 'a space, control or non-ASCII byte' at offset 2");
	expect_route_error("host: a.com\n    matches:\n      - methods: [get]\n",
			   "routes.yaml:4:19: ",
			   "routes[0].matches[0].methods[0]: 'get' must be upper case");
	expect_route_error("host: a.com\n    matches:\n      - methods: [\"GE T\"]\n",
			   "routes.yaml:4:19: ", "'GE T' is not a method name");
	expect_route_error("host: a.com\n    matches:\n      - methods: []\n", "routes.yaml:4:18: ",
			   "routes[0].matches[0].methods: empty list would allow no request");
	expect_route_error("host: a.com\n    matches:\n      - headers: {X-A: 1, x-a: 2}\n",
			   "routes.yaml:4:27: ",
			   "routes[0].matches[0].headers: header 'x-a' given twice");
	expect_route_error("host: a.com\n    matches:\n      - headers: {\"x a\": 1}\n",
			   "routes.yaml:4:19: ", "'x a' is not a valid header field name");
	expect_route_error("host: a.com\n    matches:\n      - headers: {x-a: \"b\\nc\"}\n",
			   "routes.yaml:4:24: ",
			   "routes[0].matches[0].headers.x-a: the value holds a control byte at "
			   "offset 1, so it can never match");
	expect_route_error("host: a.com\n    matches:\n      - headers: {x-a: \" b\"}\n",
			   "routes.yaml:4:24: ", "starts or ends with whitespace");
	expect_route_error("host: a.com\n    matches:\n      - headers: [x-a]\n",
			   "routes.yaml:4:18: ", "expected a mapping, got a sequence");
	expect_route_error("host: a.com\n    matches: /x\n", "routes.yaml:3:14: ",
			   "routes[0].matches: expected a sequence, got a scalar");
}

static void test_regex_compile_error_names_position(void **state)
{
	(void)state;
	expect_error("routes:\n"
		     "  - host: a.com\n"
		     "    matches:\n"
		     "      - path_regex: '^/v1/(a'\n",
		     "routes.yaml:4:21: routes[0].matches[0].path_regex: missing closing "
		     "parenthesis at offset 7 of the pattern");
	expect_route_error("host: a.com\n    matches:\n      - path_regex: '[z-a]'\n",
			   "routes.yaml:4:21: ", "range out of order in character class at offset");
}

static void test_passthrough_conflicts(void **state)
{
	(void)state;
	expect_route_error("host: a.com\n    tls_passthrough: true\n    matches: [{path: /}]\n",
			   "routes.yaml:4:5: ",
			   "routes[0]: 'matches' cannot be used with tls_passthrough");
	expect_route_error("host: a.com\n    auth: {header: x, env: K}\n    tls_passthrough: true\n",
			   "routes.yaml:3:5: ", "'auth' cannot be used with tls_passthrough");
	expect_route_error("host: a.com\n    tls_passthrough: true\n    websocket: true\n",
			   "routes.yaml:4:5: ", "'websocket' cannot be used with tls_passthrough");
	expect_route_error("host: a.com\n    tls_passthrough: true\n    outbound_on_match: block\n",
			   "routes.yaml:4:5: ",
			   "'outbound_on_match' cannot be used with tls_passthrough");
	/* Saying what is already so is fine. */
	routes_unref(load("routes:\n  - host: a.com\n    tls_passthrough: true\n    websocket: false\n"));
}

static void test_address_errors(void **state)
{
	(void)state;
	expect_route_error("host: a.com\n    addresses: [localhost]\n", "routes.yaml:3:17: ",
			   "routes[0].addresses[0]: 'localhost' is not an IP address or network");
	expect_route_error("host: a.com\n    addresses: [\"10.0.0.0/33\"]\n", "routes.yaml:3:17: ",
			   "'10.0.0.0/33': the prefix length must be 0 to 32");
	expect_route_error("host: a.com\n    addresses: [\"::/129\"]\n", "routes.yaml:3:17: ",
			   "the prefix length must be 0 to 128");
	expect_route_error("host: a.com\n    addresses: [\"10.0.0.0/\"]\n", "routes.yaml:3:17: ",
			   "the prefix length is not a number");
	expect_route_error("host: a.com\n    addresses: [\"10.0.0.0/08\"]\n", "routes.yaml:3:17: ",
			   "the prefix length is not a number");
	expect_route_error("host: a.com\n    addresses: [\"10.1.2.3/8\"]\n", "routes.yaml:3:17: ",
			   "'10.1.2.3/8' has bits set after the /8 prefix");
	expect_route_error("host: a.com\n    addresses: [\"fd08::/4\"]\n", "routes.yaml:3:17: ",
			   "has bits set after the /4 prefix");
	expect_route_error("host: a.com\n    addresses: []\n", "routes.yaml:3:16: ",
			   "routes[0].addresses: empty list; omit the key instead");
}

static void test_messages_quote_safely(void **state)
{
	const char *text = "routes:\n  - host: \"a\\u001b[2J.com\"\n";
	struct routes *r = NULL;
	char err[512];

	(void)state;
	/* A control byte in a bad value does not reach the message. */
	assert_int_equal(routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err)),
			 -EINVAL);
	assert_null(strchr(err, 0x1b));
	assert_non_null(strstr(err, "'a?[2J.com'"));
	/* Header values are never echoed. */
	expect_route_error("host: a.com\n    matches:\n      - headers: {x-a: \"s3cr3t\\u0001\"}\n",
			   "routes.yaml:4:24: ", "control byte");
	text = "routes:\n  - host: a.com\n    matches:\n"
	       "      - headers: {x-a: \"s3cr3t\\u0001\"}\n";
	assert_int_equal(routes_load_string("routes.yaml", text, strlen(text), &r, err, sizeof(err)),
			 -EINVAL);
	assert_null(strstr(err, "s3cr3t"));
}

static void test_load_file_and_size_limit(void **state)
{
	char path[] = "/tmp/test_routes.XXXXXX", err[512];
	struct routes *r = NULL;
	char *big;
	int fd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, full_yaml, strlen(full_yaml)), (ssize_t)strlen(full_yaml));
	close(fd);
	assert_int_equal(routes_load_file(path, &r, err, sizeof(err)), 0);
	assert_string_equal(r->source, path);
	assert_int_equal(r->n, 5);
	routes_unref(r);

	/* Over 1 MiB: refused before parsing, from a file or from a string. */
	big = malloc(CONFIG_YAML_MAX_FILE + 2);
	assert_non_null(big);
	memset(big, '#', CONFIG_YAML_MAX_FILE + 1);
	memcpy(big, "routes: []\n", 11);
	big[CONFIG_YAML_MAX_FILE + 1] = '\0';
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, big, CONFIG_YAML_MAX_FILE + 1), CONFIG_YAML_MAX_FILE + 1);
	close(fd);
	assert_int_equal(routes_load_file(path, &r, err, sizeof(err)), -EMSGSIZE);
	assert_null(r);
	assert_non_null(strstr(err, "larger than 1 MiB"));
	assert_int_equal(routes_load_string("big.yaml", big, CONFIG_YAML_MAX_FILE + 1, &r, err,
					    sizeof(err)),
			 -EMSGSIZE);
	assert_string_equal(err, "big.yaml: larger than 1 MiB");
	free(big);
	unlink(path);

	assert_int_equal(routes_load_file(path, &r, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "unable to open"));
	assert_int_equal(routes_load_string("x", NULL, 1, &r, err, sizeof(err)), -EINVAL);
}

static void test_alias_bomb_is_refused(void **state)
{
	struct buf text;
	int i;

	(void)state;
	/* One list of 200 matches named 200 times by aliases: 40000 entries
	 * from a few kilobytes. */
	buf_init(&text, 1 << 20);
	buf_append_str(&text, "routes:\n  - host: a.com\n    matches: &m\n");
	for (i = 0; i < 200; i++)
		buf_appendf(&text, "      - path: /p%d\n", i);
	for (i = 0; i < 200; i++)
		buf_append_str(&text, "  - host: a.com\n    matches: *m\n");
	expect_error_part(text.p, "routes.yaml:", "the table holds more than 20000 entries");
	buf_clear(&text);

	buf_append_str(&text, "routes:\n  - host: a.com\n    matches: &m\n");
	for (i = 0; i < 100; i++)
		buf_appendf(&text, "      - path_regex: ^/p%d$\n", i);
	for (i = 0; i < 10; i++)
		buf_append_str(&text, "  - host: a.com\n    matches: *m\n");
	expect_error_part(text.p, "routes.yaml:", "more than 1000 path_regex entries");
	buf_release(&text);
}

/* The example in docs/routes.md loads, and denies as the page says. */
static void test_docs_example(void **state)
{
	static const char open_fence[] = "```yaml\n";
	struct routes_request req = request("echo.test", 80, "GET", "/", NULL);
	struct route_decision d;
	char *doc, *start, *end;
	struct routes *r;
	FILE *f;
	long size;

	(void)state;
	f = fopen("docs/routes.md", "r");
	if (!f)
		skip(); /* run from somewhere other than the tree's root */
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	size = ftell(f);
	rewind(f);
	doc = calloc(1, (size_t)size + 1);
	assert_non_null(doc);
	assert_int_equal(fread(doc, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	start = strstr(doc, open_fence);
	assert_non_null(start);
	start += strlen(open_fence);
	end = strstr(start, "```");
	assert_non_null(end);
	*end = '\0';
	r = load(start);
	assert_int_equal(r->n, 3);
	req.upgrade_websocket = true;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	req.host = STR_LITERAL("api.anthropic.com");
	req.port = 443;
	req.path = STR_LITERAL("/v1/x");
	req.method = STR_LITERAL("POST");
	req.upgrade_websocket = false;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_non_null(strstr(end + 1, d.reason));
	routes_unref(r);
	free(doc);
}

/* ---- matching hosts and ports ---- */

static void test_host_case_and_exactness(void **state)
{
	struct routes *r = load("routes:\n  - host: Example.COM\n");

	(void)state;
	assert_true(allowed(r, "example.com", 443, "GET", "/"));
	assert_true(allowed(r, "EXAMPLE.com", 80, "GET", "/"));
	assert_false(allowed(r, "www.example.com", 443, "GET", "/"));
	assert_false(allowed(r, "example.co", 443, "GET", "/"));
	assert_false(allowed(r, "example.com.evil", 443, "GET", "/"));
	routes_unref(r);
}

static void test_wildcard_is_not_the_apex(void **state)
{
	struct routes *r = load("routes:\n  - host: \"*.example.com\"\n");

	(void)state;
	assert_true(allowed(r, "a.example.com", 443, "GET", "/"));
	assert_true(allowed(r, "a.b.EXAMPLE.com", 443, "GET", "/"));
	assert_false(allowed(r, "example.com", 443, "GET", "/"));
	assert_false(allowed(r, ".example.com", 443, "GET", "/"));
	assert_false(allowed(r, "badexample.com", 443, "GET", "/"));
	assert_false(allowed(r, "a.example.com.evil.net", 443, "GET", "/"));
	routes_unref(r);
}

static void test_ip_literals(void **state)
{
	struct routes *r = load("routes:\n  - host: \"::1\"\n  - host: \"[2001:DB8::a]\"\n"
				"  - host: 192.0.2.7\n");

	(void)state;
	assert_string_equal(r->v[1].host, "2001:db8::a");
	assert_true(allowed(r, "::1", 443, "GET", "/"));
	assert_true(allowed(r, "[::1]", 443, "GET", "/"));
	assert_true(allowed(r, "0:0:0:0:0:0:0:1", 443, "GET", "/"));
	assert_true(allowed(r, "2001:db8:0::A", 80, "GET", "/"));
	assert_false(allowed(r, "::2", 443, "GET", "/"));
	assert_false(allowed(r, "::ffff:192.0.2.7", 443, "GET", "/"));
	assert_true(allowed(r, "192.0.2.7", 443, "GET", "/"));
	assert_false(allowed(r, "192.0.2.70", 443, "GET", "/"));
	assert_false(allowed(r, "localhost", 443, "GET", "/"));
	routes_unref(r);
}

static void test_ports(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n  - host: b.com\n    ports: [8080, 443]\n");

	(void)state;
	assert_true(allowed(r, "a.com", 80, "GET", "/"));
	assert_true(allowed(r, "a.com", 443, "GET", "/"));
	assert_false(allowed(r, "a.com", 8080, "GET", "/"));
	assert_false(allowed(r, "a.com", 0, "GET", "/"));
	assert_true(allowed(r, "b.com", 8080, "GET", "/"));
	assert_true(allowed(r, "b.com", 443, "GET", "/"));
	assert_false(allowed(r, "b.com", 80, "GET", "/"));
	routes_unref(r);
}

static void test_first_match_wins_in_order(void **state)
{
	struct routes *r = load("routes:\n"
				"  - host: a.com\n"
				"    matches: [{path: /one}]\n"
				"  - host: a.com\n"
				"    websocket: true\n"
				"  - host: a.com\n");
	struct routes_request req = request("a.com", 443, "GET", "/one", NULL);
	struct route_decision d;

	(void)state;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[0]);
	assert_ptr_equal(d.match, &r->v[0].matches[0]);

	req.path = STR_LITERAL("/two");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[1]);
	assert_null(d.match);

	/* The first route that allows it decides, websocket included. */
	req.path = STR_LITERAL("/one");
	req.upgrade_websocket = true;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_ptr_equal(d.route, &r->v[0]);
	routes_unref(r);
}

/* ---- matching requests ---- */

static void test_methods(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n"
				"    matches: [{methods: [GET, HEAD]}, {path: /w, methods: [PUT]}]\n");

	(void)state;
	assert_true(allowed(r, "a.com", 443, "GET", "/anything"));
	assert_true(allowed(r, "a.com", 443, "HEAD", "/"));
	assert_false(allowed(r, "a.com", 443, "get", "/"));
	assert_false(allowed(r, "a.com", 443, "POST", "/"));
	assert_true(allowed(r, "a.com", 443, "PUT", "/w"));
	assert_false(allowed(r, "a.com", 443, "PUT", "/x"));
	routes_unref(r);
}

static void test_headers(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n"
				"    matches: [{headers: {X-Version: \"2023-06-01\", accept: \"*/*\"}}]\n");
	struct routes_request req = request("a.com", 443, "POST", "/", NULL);
	struct route_decision d;

	(void)state;
	req.fields = fields(2, "x-version", "2023-06-01", "Accept", "*/*");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_ptr_equal(d.match, &r->v[0].matches[0]);

	req.fields = fields(2, "X-VERSION", "2023-06-01", "accept", "text/*");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);

	req.fields = fields(1, "x-version", "2023-06-01");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);

	/* Values compare exactly. */
	req.fields = fields(2, "x-version", "2023-06-0", "accept", "*/*");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);

	/* A second copy with another value is not vouched for. */
	req.fields = fields(3, "x-version", "2023-06-01", "accept", "*/*", "X-Version", "evil");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);

	req.fields = NULL;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	routes_unref(r);
}

static void test_exact_path_is_raw(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n    matches: [{path: /v1/messages}]\n");

	(void)state;
	assert_true(allowed(r, "a.com", 443, "POST", "/v1/messages"));
	assert_false(allowed(r, "a.com", 443, "POST", "/v1/messages/"));
	assert_false(allowed(r, "a.com", 443, "POST", "/v1/%6Dessages"));
	assert_false(allowed(r, "a.com", 443, "POST", "/V1/messages"));
	assert_false(allowed(r, "a.com", 443, "POST", ""));
	routes_unref(r);
}

static void test_path_prefix_boundary(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n    matches: [{path_prefix: /v1}]\n"
				"  - host: b.com\n    matches: [{path_prefix: /v1/}]\n"
				"  - host: c.com\n    matches: [{path_prefix: /}]\n");

	(void)state;
	assert_true(allowed(r, "a.com", 443, "GET", "/v1"));
	assert_true(allowed(r, "a.com", 443, "GET", "/v1/"));
	assert_true(allowed(r, "a.com", 443, "GET", "/v1/models"));
	assert_false(allowed(r, "a.com", 443, "GET", "/v1x"));
	assert_false(allowed(r, "a.com", 443, "GET", "/v"));
	assert_true(allowed(r, "b.com", 443, "GET", "/v1/x"));
	assert_true(allowed(r, "b.com", 443, "GET", "/v1/"));
	assert_false(allowed(r, "b.com", 443, "GET", "/v1x"));
	assert_false(allowed(r, "b.com", 443, "GET", "/v1"));
	assert_true(allowed(r, "c.com", 443, "GET", "/"));
	assert_true(allowed(r, "c.com", 443, "GET", "/anything/at/all"));
	routes_unref(r);
}

static void test_path_regex(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n"
				"    matches: [{path_regex: '^/v1/files/[a-z0-9_-]+$'}]\n"
				"  - host: b.com\n    matches: [{path_regex: '(a|aa)+$'}]\n");
	char slow[4096];
	struct timespec t0, t1;

	(void)state;
	assert_true(allowed(r, "a.com", 443, "GET", "/v1/files/file_01"));
	assert_false(allowed(r, "a.com", 443, "GET", "/v1/files/"));
	assert_false(allowed(r, "a.com", 443, "GET", "/v1/files/a/b"));
	assert_false(allowed(r, "a.com", 443, "GET", "/x/v1/files/a"));
	/* Catastrophic backtracking fails closed, quickly. */
	memset(slow, 'a', sizeof(slow) - 2);
	slow[0] = '/';
	slow[sizeof(slow) - 2] = 'b';
	slow[sizeof(slow) - 1] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(allowed(r, "b.com", 443, "GET", slow));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	assert_true(allowed(r, "b.com", 443, "GET", "/aaa"));
	routes_unref(r);
}

static void test_websocket(void **state)
{
	struct routes *r = load("routes:\n  - host: ws.test\n    websocket: true\n"
				"  - host: plain.test\n");
	struct routes_request req = request("ws.test", 80, "GET", "/socket", NULL);
	struct route_decision d;

	(void)state;
	req.upgrade_websocket = true;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);

	req.host = STR_LITERAL("plain.test");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_ptr_equal(d.route, &r->v[1]);
	assert_string_equal(d.reason,
			    "route for plain.test (routes.yaml line 4) does not allow WebSocket "
			    "upgrades: set `websocket: true` on it (ask the operator with the "
			    "egress-allow tool)");

	req.upgrade_websocket = false;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	routes_unref(r);
}

/* ---- the built-in git push rule ---- */

static void test_git_receive_pack_in_every_encoding(void **state)
{
	static const char *const paths[] = {
		"/o/r.git/git-receive-pack",
		"/o/r.git/GIT-RECEIVE-PACK",
		"/o/r.git/git%2Dreceive-pack",
		"/o/r.git/git%2dreceive%2dpack",
		"/o/r.git/%67it-receive-pack",
		"/o/r.git/%2567it-receive-pack",       /* twice encoded */
		"/o/r.git/%252567it-receive-pack",     /* three times */
		"/o/r.git/%25%367it-receive-pack",     /* the inner %36 first gives %67 */
		"/o/r.git/%%367it-receive-pack",       /* %36 -> 6, then %67 -> g */
		"/o/r.git/%6%37it-receive-pack",       /* %37 -> 7 completes %67 */
		"/o/r.git/%2%35%36%37it-receive-pack", /* %25 -> %, %36 -> 6, %37 -> 7, %67 */
		"/o/r.git/g%69t-r%65c%65iv%65-p%61ck",
		"/o/r.git/%47%49%54%2D%52%45%43%45%49%56%45%2D%50%41%43%4B",
		"/git-receive-pack/x",
	};
	static const char *const queries[] = {
		"service=git-receive-pack",
		"service=git%2Dreceive%2Dpack",
		"a=1&service=Git-Receive-Pack&b=2",
		"service=%2567%2569%2574-receive-pack",
	};
	struct routes *r = load("routes:\n  - host: github.com\n");
	struct routes_request req;
	struct route_decision d;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		req = request("github.com", 443, "POST", paths[i], NULL);
		assert_int_equal(routes_decide(r, &req, &d), 0);
		if (d.allowed)
			fail_msg("allowed %s", paths[i]);
		assert_null(d.route);
		assert_string_equal(d.reason,
				    "git pushes (git-receive-pack) never go out directly: push "
				    "through the sidecar's git gate, which scans and forwards them");
	}
	for (i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		req = request("github.com", 443, "GET", "/o/r.git/info/refs", queries[i]);
		assert_int_equal(routes_decide(r, &req, &d), 0);
		if (d.allowed)
			fail_msg("allowed ?%s", queries[i]);
	}
	/* Denied before the table: also for a host with no route. */
	req = request("nowhere.test", 443, "POST", "/git-receive-pack", NULL);
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_non_null(strstr(d.reason, "git gate"));

	/* Fetches and near misses go through. */
	req = request("github.com", 443, "GET", "/o/r.git/info/refs", "service=git-upload-pack");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_true(allowed(r, "github.com", 443, "POST", "/o/r.git/git-upload-pack"));
	assert_true(allowed(r, "github.com", 443, "POST", "/git-receive-pac"));
	assert_true(allowed(r, "github.com", 443, "POST", "/git-receive%2Gpack"));
	assert_true(allowed(r, "github.com", 443, "POST", "/git_receive_pack"));
	routes_unref(r);
}

/* ---- CONNECT ---- */

static void test_connect(void **state)
{
	struct routes *r = load("routes:\n"
				"  - host: api.test\n    matches: [{path: /only}]\n"
				"  - host: \"*.pinned.test\"\n    tls_passthrough: true\n"
				"  - host: \"::1\"\n    ports: [8443]\n");
	struct routes_request req = request("api.test", 443, "CONNECT", "", NULL);
	struct route_decision d;

	(void)state;
	req.fields = NULL;
	/* Conditions are for the inner requests. */
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[0]);
	assert_null(d.match);

	req.host = STR_LITERAL("x.pinned.test");
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_true(d.route->tls_passthrough);

	req.host = STR_LITERAL("[::1]");
	req.port = 8443;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_true(d.allowed);
	assert_ptr_equal(d.route, &r->v[2]);

	req.port = 443;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_null(d.route);
	assert_string_equal(d.reason,
			    "no route allows host [::1] port 443: add a route for [::1] to "
			    "routes.yaml (ask the operator with the egress-allow tool)");

	assert_ptr_equal(routes_find_host(r, STR_LITERAL("API.test"), 80), &r->v[0]);
	assert_null(routes_find_host(r, STR_LITERAL("pinned.test"), 443));
	assert_null(routes_find_host(r, STR_LITERAL("api.test"), 8443));
	routes_unref(r);
}

/* ---- reasons ---- */

static void test_reason_no_route(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n");
	struct routes_request req = request("example.org", 443, "GET", "/", NULL);
	struct route_decision d;

	(void)state;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_null(d.route);
	assert_null(d.match);
	assert_string_equal(d.reason,
			    "no route allows host example.org port 443: add a route for "
			    "example.org to routes.yaml (ask the operator with the egress-allow "
			    "tool)");
	routes_unref(r);
}

static void test_reason_no_entry(void **state)
{
	struct routes *r = load(full_yaml);
	struct routes_request req = request("api.anthropic.com", 443, "POST", "/v1/x", NULL);
	struct route_decision d;

	(void)state;
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_ptr_equal(d.route, &r->v[0]);
	assert_null(d.match);
	assert_string_equal(d.reason,
			    "route for api.anthropic.com (routes.yaml line 3) does not allow "
			    "POST /v1/x: its matches allow only POST /v1/messages with header "
			    "anthropic-version; /v1/models and below; paths matching "
			    "^/v1/files/[a-z0-9_-]+$");
	routes_unref(r);
}

static void test_reason_is_bounded_and_printable(void **state)
{
	struct routes *r = load("routes:\n  - host: a.com\n    matches: [{path: /a}, {path: /b}, "
				"{path: /c}, {path: /d}, {path: /e}, {path: /f}, {path: /g}, "
				"{path_prefix: /hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh}, "
				"{path_prefix: /iiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiiii}, "
				"{path_prefix: /jjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjjj}]\n");
	char path[600];
	struct routes_request req;
	struct route_decision d;

	(void)state;
	memset(path, 'p', sizeof(path) - 1);
	path[0] = '/';
	path[5] = '\x1b';
	path[6] = '\n';
	path[sizeof(path) - 1] = '\0';
	req = request("a.com", 443, "GET\r\n", path, NULL);
	assert_int_equal(routes_decide(r, &req, &d), 0);
	assert_false(d.allowed);
	assert_true(strlen(d.reason) <= 380);
	assert_non_null(strstr(d.reason, "GET?? /pppp??ppp"));
	assert_non_null(strstr(d.reason, "ppp...: its matches"));
	assert_string_equal(d.reason + strlen(d.reason) - 3, "...");
	for (size_t i = 0; d.reason[i]; i++)
		assert_true(d.reason[i] >= 0x20 && d.reason[i] < 0x7f);
	routes_unref(r);
}

/* ---- addresses, JSON, lifetime ---- */

static void test_route_names_address(void **state)
{
	struct routes *r = load(full_yaml);
	const struct route *e = &r->v[2];
	uint8_t a[16];

	(void)state;
	inet_pton(AF_INET, "127.0.0.1", a);
	assert_true(route_names_address(e, AF_INET, a));
	inet_pton(AF_INET, "127.0.0.2", a);
	assert_false(route_names_address(e, AF_INET, a));
	inet_pton(AF_INET, "10.255.3.4", a);
	assert_true(route_names_address(e, AF_INET, a));
	inet_pton(AF_INET, "11.0.0.1", a);
	assert_false(route_names_address(e, AF_INET, a));
	inet_pton(AF_INET6, "::1", a);
	assert_true(route_names_address(e, AF_INET6, a));
	assert_false(route_names_address(e, AF_INET, a));
	inet_pton(AF_INET6, "fd0f:ffff::1", a);
	assert_true(route_names_address(e, AF_INET6, a));
	inet_pton(AF_INET6, "fd10::1", a);
	assert_false(route_names_address(e, AF_INET6, a));
	assert_false(route_names_address(&r->v[0], AF_INET6, a));
	routes_unref(r);

	r = load("routes:\n  - host: a.com\n    addresses: [\"0.0.0.0/0\"]\n");
	inet_pton(AF_INET, "169.254.169.254", a);
	assert_true(route_names_address(&r->v[0], AF_INET, a));
	routes_unref(r);
}

static void test_json_exact(void **state)
{
	struct routes *r = load("routes:\n  - host: \"*.A.com\"\n    ports: [8080]\n"
				"    matches: [{path_prefix: /x, methods: [GET]}]\n"
				"    addresses: [\"10.0.0.0/8\", \"::1\"]\n");
	struct buf out;

	(void)state;
	buf_init(&out, 4096);
	buf_append_str(&out, ">");
	assert_int_equal(routes_to_json(r, &out), 0);
	assert_string_equal(out.p, ">{\"log\":\"blocks\",\"routes\":[{\"host\":\"*.a.com\","
				   "\"ports\":[8080],\"matches\":[{\"path_prefix\":\"/x\","
				   "\"methods\":[\"GET\"]}],\"addresses\":[\"10.0.0.0/8\",\"::1\"]}]}");
	buf_release(&out);

	/* A capped buffer reports the overflow. */
	buf_init(&out, 10);
	assert_int_equal(routes_to_json(r, &out), -EMSGSIZE);
	buf_release(&out);
	routes_unref(r);
}

static void test_json_round_trip(void **state)
{
	struct routes *r = load(full_yaml), *again;
	struct buf one, two;
	char err[512];

	(void)state;
	buf_init(&one, 65536);
	buf_init(&two, 65536);
	assert_int_equal(routes_to_json(r, &one), 0);
	/* JSON is YAML: the output loads as a routes file and says the same. */
	assert_int_equal(routes_load_string("json", one.p, one.len, &again, err, sizeof(err)), 0);
	assert_int_equal(routes_to_json(again, &two), 0);
	assert_string_equal(one.p, two.p);
	assert_non_null(strstr(one.p, "\"auth\":{\"header\":\"x-api-key\",\"scheme\":\"Bearer\","
				      "\"env\":\"ANTHROPIC_API_KEY\"}"));
	assert_non_null(strstr(one.p, "\"headers\":{\"anthropic-version\":\"2023-06-01\"}"));
	assert_non_null(strstr(one.p, "{\"host\":\"*.githubusercontent.com\","
				      "\"tls_passthrough\":true}"));
	assert_non_null(strstr(one.p, "\"outbound_on_match\":\"block\",\"websocket\":true"));
	assert_non_null(strstr(one.p, "{\"host\":\"::1\"}"));
	assert_int_equal(again->v[0].matches[2].path_kind, ROUTE_PATH_REGEX);
	assert_true(allowed(again, "api.anthropic.com", 443, "GET", "/v1/files/abc"));
	buf_release(&one);
	buf_release(&two);
	routes_unref(again);
	routes_unref(r);
}

static void test_refcount(void **state)
{
	struct routes *r = load(full_yaml);

	(void)state;
	assert_ptr_equal(routes_ref(r), r);
	assert_int_equal(r->refcount, 2);
	routes_unref(r);
	assert_int_equal(r->refcount, 1);
	/* Still usable by the last holder. */
	assert_true(allowed(r, "api.anthropic.com", 443, "GET", "/v1/models"));
	routes_unref(r);
	assert_null(routes_ref(NULL));
	routes_unref(NULL);
}

static void test_invalid_arguments(void **state)
{
	struct routes *r = load("routes: []\n");
	struct routes_request req = request("a.com", 443, "GET", "/", NULL);
	struct route_decision d;

	(void)state;
	d.allowed = true;
	assert_int_equal(routes_decide(NULL, &req, &d), -EINVAL);
	assert_false(d.allowed);
	assert_int_equal(routes_decide(r, NULL, &d), -EINVAL);
	assert_int_equal(routes_decide(r, &req, NULL), -EINVAL);
	assert_int_equal(routes_to_json(NULL, NULL), -EINVAL);
	assert_null(routes_find_host(NULL, STR_LITERAL("a.com"), 443));
	assert_false(route_names_address(NULL, AF_INET, (const uint8_t *)"\0\0\0\0"));
	routes_unref(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_example_reads_as_written),
		cmocka_unit_test(test_defaults_and_empty_table),
		cmocka_unit_test(test_log_values),
		cmocka_unit_test(test_top_level_errors),
		cmocka_unit_test(test_route_key_errors),
		cmocka_unit_test(test_host_errors),
		cmocka_unit_test(test_ports_errors),
		cmocka_unit_test(test_outbound_and_bool_errors),
		cmocka_unit_test(test_auth_errors),
		cmocka_unit_test(test_match_errors),
		cmocka_unit_test(test_regex_compile_error_names_position),
		cmocka_unit_test(test_passthrough_conflicts),
		cmocka_unit_test(test_address_errors),
		cmocka_unit_test(test_messages_quote_safely),
		cmocka_unit_test(test_load_file_and_size_limit),
		cmocka_unit_test(test_alias_bomb_is_refused),
		cmocka_unit_test(test_docs_example),
		cmocka_unit_test(test_host_case_and_exactness),
		cmocka_unit_test(test_wildcard_is_not_the_apex),
		cmocka_unit_test(test_ip_literals),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_first_match_wins_in_order),
		cmocka_unit_test(test_methods),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_exact_path_is_raw),
		cmocka_unit_test(test_path_prefix_boundary),
		cmocka_unit_test(test_path_regex),
		cmocka_unit_test(test_websocket),
		cmocka_unit_test(test_git_receive_pack_in_every_encoding),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_reason_no_route),
		cmocka_unit_test(test_reason_no_entry),
		cmocka_unit_test(test_reason_is_bounded_and_printable),
		cmocka_unit_test(test_route_names_address),
		cmocka_unit_test(test_json_exact),
		cmocka_unit_test(test_json_round_trip),
		cmocka_unit_test(test_refcount),
		cmocka_unit_test(test_invalid_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

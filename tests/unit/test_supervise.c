/* sidecar supervise: JSON-RPC framing, the transport's header rules, the
 * session and version rules of the MCP layer (driven through
 * mcp_handle_post with parsed HTTP heads, no sockets), tool argument
 * validation, and the session / waiting-call tables. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/supervise/proposal.h"
#include "../../sidecar/supervise/supervise.h"

/* ---- JSON-RPC ---- */

static int parse(const char *text, struct jsonrpc_message *m, char *id_text)
{
	char err[256];

	return jsonrpc_parse(text, text + strlen(text), m, err, sizeof(err), id_text, 96);
}

static void test_jsonrpc_valid_messages(void **state)
{
	struct jsonrpc_message m;
	char id[96];

	(void)state;
	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}", &m, id), 0);
	assert_int_equal(m.kind, JSONRPC_REQUEST);
	assert_string_equal(m.method, "ping");
	assert_int_equal(jsonrpc_id_text(m.id, id, sizeof(id)), 0);
	assert_string_equal(id, "7");
	jsonrpc_release(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":\"a\\\"b\",\"method\":\"x\",\"params\":{}}",
			       &m, id), 0);
	assert_int_equal(jsonrpc_id_text(m.id, id, sizeof(id)), 0);
	assert_string_equal(id, "\"a\\\"b\"");
	assert_non_null(m.params);
	jsonrpc_release(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &m, id), 0);
	assert_int_equal(m.kind, JSONRPC_NOTIFICATION);
	assert_null(m.id);
	jsonrpc_release(&m);

	assert_int_equal(parse("{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", &m, id), 0);
	assert_int_equal(m.kind, JSONRPC_RESPONSE);
	jsonrpc_release(&m);
}

static void test_jsonrpc_invalid_messages(void **state)
{
	static const struct {
		const char *text;
		int code;
		const char *id;
	} cases[] = {
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":", JSONRPC_PARSE_ERROR, "null" },
		{ "", JSONRPC_PARSE_ERROR, "null" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\xff\"}", JSONRPC_PARSE_ERROR, "null" },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]", JSONRPC_INVALID_REQUEST, "null" },
		{ "42", JSONRPC_INVALID_REQUEST, "null" },
		{ "{\"id\":5,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "5" },
		{ "{\"jsonrpc\":\"1.0\",\"id\":\"x\",\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "\"x\"" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":true,\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}", JSONRPC_INVALID_REQUEST, "null" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":7}", JSONRPC_INVALID_REQUEST, "2" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"\"}", JSONRPC_INVALID_REQUEST, "2" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"a\\u0000b\"}", JSONRPC_INVALID_REQUEST, "2" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x\",\"params\":[1]}", JSONRPC_INVALID_REQUEST, "2" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2}", JSONRPC_INVALID_REQUEST, "2" },
		{ "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{},\"error\":{}}", JSONRPC_INVALID_REQUEST, "2" },
	};
	struct jsonrpc_message m;
	char id[96];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = parse(cases[i].text, &m, id);

		if (r != cases[i].code || strcmp(id, cases[i].id) != 0)
			fail_msg("case %zu '%s': got %d id %s", i, cases[i].text, r, id);
		assert_null(m.doc);
	}
}

static void test_jsonrpc_depth_limit(void **state)
{
	struct jsonrpc_message m;
	char id[96], *deep = malloc(20000);
	size_t i, n = 0;

	(void)state;
	n += (size_t)snprintf(deep, 20000, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":");
	for (i = 0; i < 5000; i++)
		deep[n++] = '[';
	for (i = 0; i < 5000; i++)
		deep[n++] = ']';
	memcpy(deep + n, "}}", 3);
	assert_int_equal(parse(deep, &m, id), JSONRPC_PARSE_ERROR);
	/* Brackets inside strings do not count. */
	n = (size_t)snprintf(deep, 20000, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":{\"a\":\"");
	for (i = 0; i < 5000; i++)
		deep[n++] = '[';
	memcpy(deep + n, "\"}}", 4);
	assert_int_equal(parse(deep, &m, id), 0);
	jsonrpc_release(&m);
	free(deep);
}

static void test_jsonrpc_error_round_trip(void **state)
{
	struct buf b;
	yyjson_doc *d;
	yyjson_val *e;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(jsonrpc_error_json(&b, "\"q\"", -32601, "no \"such\"\n\x01 method", "{\"x\":1}"), 0);
	d = yyjson_read(b.p, b.len, 0);
	assert_non_null(d);
	e = yyjson_obj_get(yyjson_doc_get_root(d), "error");
	assert_int_equal(yyjson_get_sint(yyjson_obj_get(e, "code")), -32601);
	assert_string_equal(yyjson_get_str(yyjson_obj_get(e, "message")), "no \"such\"\n\x01 method");
	assert_string_equal(yyjson_get_str(yyjson_obj_get(yyjson_doc_get_root(d), "id")), "q");
	yyjson_doc_free(d);
	/* Bytes that are not UTF-8 (obs-text from a header) become U+FFFD. */
	buf_clear(&b);
	assert_int_equal(json_append_string(&b, "a\xff\xc3\xa9\xed\xa0\x80\xf0\x9f\x98\x80z", 12), 0);
	assert_string_equal(b.p, "\"a\\ufffd\xc3\xa9\\ufffd\\ufffd\\ufffd\xf0\x9f\x98\x80z\"");
	d = yyjson_read(b.p, b.len, 0);
	assert_non_null(d);
	yyjson_doc_free(d);
	buf_release(&b);
}

/* ---- header rules ---- */

static struct supervise_options options = {
	.allowed_hosts = { "localhost", "127.0.0.1", "::1" },
	.nallowed_hosts = 3,
	.egress_proxy = "127.0.0.1:1",
	.queue_dir = "/nonexistent",
	.bottle = "b",
	.io_timeout_ms = 1000,
	.egress_timeout_ms = 200,
	.approval_timeout_ms = 1000,
	.progress_interval_ms = 1000,
	.queue_poll_ms = 100,
};

static struct str S(const char *s)
{
	return (struct str){ s, strlen(s) };
}

static void test_accept(void **state)
{
	(void)state;
	assert_true(protocol_accept_ok(S("application/json, text/event-stream")));
	assert_true(protocol_accept_ok(S("text/event-stream;q=0.5,application/json;q=1")));
	assert_true(protocol_accept_ok(S("*/*")));
	assert_true(protocol_accept_ok(S("Application/JSON, TEXT/*")));
	assert_false(protocol_accept_ok(S("application/json")));
	assert_false(protocol_accept_ok(S("text/event-stream")));
	assert_false(protocol_accept_ok(S("")));
	assert_false(protocol_accept_ok(S("application/jsonx, text/event-streams")));
}

static void test_host_and_origin(void **state)
{
	(void)state;
	assert_true(protocol_host_allowed(&options, S("localhost:9100")));
	assert_true(protocol_host_allowed(&options, S("LOCALHOST")));
	assert_true(protocol_host_allowed(&options, S("127.0.0.1:9100")));
	assert_true(protocol_host_allowed(&options, S("[::1]:9100")));
	assert_false(protocol_host_allowed(&options, S("evil.example:9100")));
	assert_false(protocol_host_allowed(&options, S("localhost.evil.example")));
	assert_false(protocol_host_allowed(&options, S("")));
	assert_false(protocol_host_allowed(&options, S("127.1")));
	assert_true(protocol_host_allowed(&options, S("10.89.0.2:9100")));
	assert_true(protocol_host_allowed(&options, S("[fd00::2]")));
	assert_false(protocol_host_allowed(&options, S("10.89.0.2.evil.example")));
	assert_false(protocol_host_allowed(&options, S("user@localhost")));
	assert_true(protocol_origin_allowed(&options, S("http://localhost:6274")));
	assert_true(protocol_origin_allowed(&options, S("https://127.0.0.1")));
	assert_false(protocol_origin_allowed(&options, S("http://evil.example")));
	assert_false(protocol_origin_allowed(&options, S("null")));
	assert_false(protocol_origin_allowed(&options, S("file://localhost")));
	assert_false(protocol_origin_allowed(&options, S("http://localhost/path")));
	assert_false(protocol_origin_allowed(&options, S("http://")));
	assert_false(protocol_origin_allowed(&options, S("http://10.0.0.5:8080")));
	assert_true(protocol_origin_allowed(&options, S("http://[::1]:6274")));
}

static void test_bearer(void **state)
{
	const char *token = "0123456789abcdef";

	(void)state;
	assert_true(protocol_bearer_ok(S("Bearer 0123456789abcdef"), token));
	assert_true(protocol_bearer_ok(S("bearer 0123456789abcdef"), token));
	assert_false(protocol_bearer_ok(S("Bearer 0123456789abcdeX"), token));
	assert_false(protocol_bearer_ok(S("Bearer 0123456789abcdef0"), token));
	assert_false(protocol_bearer_ok(S("Basic 0123456789abcdef"), token));
	assert_false(protocol_bearer_ok(S(""), token));
}

static void test_versions(void **state)
{
	(void)state;
	assert_true(protocol_version_supported("2026-07-28", 10));
	assert_true(protocol_version_supported("2025-06-18", 10));
	assert_false(protocol_version_supported("2025-03-26", 10));
	assert_false(protocol_version_supported("2025-11-2", 9));
	assert_string_equal(protocol_negotiate("2025-06-18"), "2025-06-18");
	assert_string_equal(protocol_negotiate("2025-11-25"), "2025-11-25");
	assert_string_equal(protocol_negotiate("2026-07-28"), "2025-11-25");
	assert_string_equal(protocol_negotiate("1999-01-01"), "2025-11-25");
	assert_string_equal(protocol_negotiate(NULL), "2025-11-25");
}

/* ---- the MCP layer, through mcp_handle_post ---- */

struct exchange {
	char head[4096];
	struct http1_request req;
	struct mcp_reply reply;
	yyjson_doc *doc;
};

/* POST body with extra header lines ("Name: value\r\n"...). */
static int post(struct exchange *x, const char *headers, const char *body)
{
	struct mcp_request mr;
	int n, ret;

	snprintf(x->head, sizeof(x->head),
		 "POST /mcp HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
		 "Accept: application/json, text/event-stream\r\nContent-Length: %zu\r\n%s\r\n",
		 strlen(body), headers);
	http1_request_init(&x->req);
	n = http1_request_parse(&x->req, x->head, x->head + strlen(x->head), NULL);
	assert_true(n > 0);
	buf_init(&x->reply.body, 1 << 20);
	x->reply.status = 0;
	x->reply.session_id[0] = '\0';
	mr = (struct mcp_request){ .options = &options, .http = &x->req, .body = body,
				   .body_len = strlen(body), .fd = -1 };
	ret = mcp_handle_post(&mr, &x->reply);
	x->doc = x->reply.body.len ? yyjson_read(x->reply.body.p, x->reply.body.len, 0) : NULL;
	return ret;
}

static void done(struct exchange *x)
{
	yyjson_doc_free(x->doc);
	buf_release(&x->reply.body);
}

static long error_code(struct exchange *x)
{
	yyjson_val *e = yyjson_obj_get(yyjson_doc_get_root(x->doc), "error");

	return e ? (long)yyjson_get_sint(yyjson_obj_get(e, "code")) : 0;
}

static yyjson_val *result(struct exchange *x)
{
	return yyjson_obj_get(yyjson_doc_get_root(x->doc), "result");
}

static const char init_body[] =
	"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":"
	"\"2025-06-18\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}";

static void new_session(char sid_header[80])
{
	struct exchange x;

	assert_int_equal(post(&x, "", init_body), 0);
	assert_int_equal(x.reply.status, 200);
	assert_int_equal(strlen(x.reply.session_id), 32);
	assert_string_equal(yyjson_get_str(yyjson_obj_get(result(&x), "protocolVersion")), "2025-06-18");
	snprintf(sid_header, 80, "Mcp-Session-Id: %s\r\n", x.reply.session_id);
	done(&x);
}

static void test_mcp_session_rules(void **state)
{
	struct exchange x;
	char sid[80], hdr[200];

	(void)state;
	session_table_init(16);
	new_session(sid);
	assert_int_equal(post(&x, "", "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}"), 0);
	assert_int_equal(x.reply.status, 400);
	done(&x);
	assert_int_equal(post(&x, "Mcp-Session-Id: 00000000000000000000000000000000\r\n",
			      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}"), 0);
	assert_int_equal(x.reply.status, 404);
	done(&x);
	assert_int_equal(post(&x, sid, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}"), 0);
	assert_int_equal(x.reply.status, 200);
	assert_int_equal(yyjson_arr_size(yyjson_obj_get(result(&x), "tools")), 4);
	assert_null(yyjson_obj_get(result(&x), "resultType"));
	done(&x);
	/* initialize again inside a session is refused */
	assert_int_equal(post(&x, sid, init_body), 0);
	assert_int_equal(x.reply.status, 400);
	done(&x);
	assert_int_equal(post(&x, sid, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}"), 0);
	assert_int_equal(x.reply.status, 202);
	assert_int_equal(x.reply.body.len, 0);
	done(&x);
	assert_int_equal(post(&x, sid, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}"), 0);
	assert_int_equal(x.reply.status, 200);
	assert_int_equal(error_code(&x), JSONRPC_METHOD_NOT_FOUND);
	done(&x);
	snprintf(hdr, sizeof(hdr), "%sMCP-Protocol-Version: 2024-01-01\r\n", sid);
	assert_int_equal(post(&x, hdr, "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\"}"), 0);
	assert_int_equal(x.reply.status, 400);
	assert_int_equal(error_code(&x), MCP_UNSUPPORTED_VERSION);
	done(&x);
	assert_int_equal(post(&x, sid, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{}}"), 0);
	assert_int_equal(error_code(&x), JSONRPC_INVALID_PARAMS);
	done(&x);
	assert_int_equal(post(&x, sid, "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\","
				       "\"params\":{\"name\":\"list-egress-routes\",\"arguments\":{}}}"), 0);
	assert_int_equal(x.reply.status, 200);
	assert_true(yyjson_get_bool(yyjson_obj_get(result(&x), "isError")));
	done(&x);
	assert_int_equal(session_end((struct str){ sid + 16, 32 }), 0);
	assert_int_equal(post(&x, sid, "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"ping\"}"), 0);
	assert_int_equal(x.reply.status, 404);
	done(&x);
}

static void test_mcp_modern_rules(void **state)
{
	static const char meta[] = "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
				   "\"io.modelcontextprotocol/clientCapabilities\":{}}";
	char body[1024];
	struct exchange x;

	(void)state;
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{%s}}", meta);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n", body), 0);
	assert_int_equal(x.reply.status, 200);
	assert_string_equal(yyjson_get_str(yyjson_obj_get(result(&x), "resultType")), "complete");
	assert_int_equal(x.reply.session_id[0], '\0');
	done(&x);
	/* Mcp-Method missing, or different */
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\n", body), 0);
	assert_int_equal(x.reply.status, 400);
	assert_int_equal(error_code(&x), MCP_HEADER_MISMATCH);
	done(&x);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: ping\r\n", body), 0);
	assert_int_equal(error_code(&x), MCP_HEADER_MISMATCH);
	done(&x);
	/* _meta without the header */
	assert_int_equal(post(&x, "Mcp-Method: tools/list\r\n", body), 0);
	assert_int_equal(x.reply.status, 400);
	assert_int_equal(error_code(&x), MCP_HEADER_MISMATCH);
	done(&x);
	/* header and _meta disagree */
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2025-11-25\r\nMcp-Method: tools/list\r\n", body), 0);
	assert_int_equal(error_code(&x), MCP_HEADER_MISMATCH);
	done(&x);
	/* _meta missing, or without the client's capabilities: invalid params */
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n",
			      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}"), 0);
	assert_int_equal(x.reply.status, 400);
	assert_int_equal(error_code(&x), JSONRPC_INVALID_PARAMS);
	done(&x);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/list\r\n",
			      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{\"_meta\":"
			      "{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}"), 0);
	assert_int_equal(x.reply.status, 400);
	assert_int_equal(error_code(&x), JSONRPC_INVALID_PARAMS);
	done(&x);
	/* methods this revision removed: 404 */
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\",\"params\":{%s}}", meta);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: ping\r\n", body), 0);
	assert_int_equal(x.reply.status, 404);
	assert_int_equal(error_code(&x), JSONRPC_METHOD_NOT_FOUND);
	done(&x);
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"initialize\",\"params\":{%s}}", meta);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: initialize\r\n", body), 0);
	assert_int_equal(x.reply.status, 404);
	assert_int_equal(x.reply.session_id[0], '\0');
	done(&x);
	/* unknown method: 404 and -32601 at once */
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"x/y\",\"params\":{%s}}", meta);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: x/y\r\n", body), 0);
	assert_int_equal(x.reply.status, 404);
	assert_int_equal(error_code(&x), JSONRPC_METHOD_NOT_FOUND);
	done(&x);
	/* server/discover lists every version */
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"server/discover\",\"params\":{%s}}", meta);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: server/discover\r\n", body), 0);
	assert_int_equal(yyjson_arr_size(yyjson_obj_get(result(&x), "supportedVersions")), 3);
	done(&x);
	/* Mcp-Name must match params.name, plain or base64 */
	snprintf(body, sizeof(body), "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":"
				     "{\"name\":\"egress-allow\",\"arguments\":{},%s}}", meta);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n"
				  "Mcp-Name: egress-block\r\n", body), 0);
	assert_int_equal(error_code(&x), MCP_HEADER_MISMATCH);
	done(&x);
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\n"
				  "Mcp-Name: =?base64?ZWdyZXNzLWFsbG93?=\r\n", body), 0);
	assert_int_equal(x.reply.status, 200);
	assert_true(yyjson_get_bool(yyjson_obj_get(result(&x), "isError")));
	done(&x);
	/* _meta naming an unknown version */
	assert_int_equal(post(&x, "MCP-Protocol-Version: 2030-01-01\r\nMcp-Method: tools/list\r\n",
			      "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\",\"params\":{\"_meta\":"
			      "{\"io.modelcontextprotocol/protocolVersion\":\"2030-01-01\"}}}"), 0);
	assert_int_equal(x.reply.status, 400);
	assert_int_equal(error_code(&x), MCP_UNSUPPORTED_VERSION);
	done(&x);
}

/* ---- tool arguments ---- */

static int validate(const char *args_json, bool allow, struct tool_proposal *p, char *msg)
{
	yyjson_doc *d = yyjson_read(args_json, strlen(args_json), 0);
	int r;

	assert_non_null(d);
	r = tools_validate_proposal(yyjson_doc_get_root(d), allow, p, msg, 512);
	if (p->routes)
		routes_unref(p->routes);
	yyjson_doc_free(d);
	return r;
}

static void test_proposal_arguments(void **state)
{
	struct tool_proposal p;
	char msg[512];

	(void)state;
	assert_int_equal(validate("{\"routes_yaml\":\"routes:\\n  - host: a.example\\n\",\"justification\":\"j\","
				  "\"expires_in\":60,\"max_requests\":5}", true, &p, msg), 0);
	assert_int_equal(p.expires_in, 60);
	assert_int_equal(p.max_requests, 5);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":60.0}",
				  true, &p, msg), 0);
	assert_int_equal(p.expires_in, 60);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\"}", true, &p, msg), -EINVAL);
	assert_non_null(strstr(msg, "justification"));
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"\"}", true, &p, msg), -EINVAL);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"why\":1}", true, &p, msg), -EINVAL);
	assert_non_null(strstr(msg, "unknown argument 'why'"));
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"max_requests\":5}",
				  false, &p, msg), -EINVAL);
	assert_non_null(strstr(msg, "max_requests"));
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":0}", true, &p, msg), -EINVAL);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":-3}", true, &p, msg), -EINVAL);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":1.5}", true, &p, msg), -EINVAL);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":\"60\"}", true, &p, msg), -EINVAL);
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":99999999}", true, &p, msg), -EINVAL);
	assert_int_equal(validate("{\"routes_yaml\":\"routes:\\n  - hots: a\\n\",\"justification\":\"j\"}", true, &p, msg), -EINVAL);
	assert_non_null(strstr(msg, "routes_yaml:2:"));
	assert_int_equal(validate("{\"routes_yaml\":\"routes: []\\u0000x\",\"justification\":\"j\"}", true, &p, msg), -EINVAL);
	assert_non_null(strstr(msg, "NUL"));
	assert_int_equal(validate("{\"routes_yaml\":7,\"justification\":\"j\"}", true, &p, msg), -EINVAL);
}

/* ---- sessions and waiting calls ---- */

static void test_sessions_and_cancel(void **state)
{
	struct session *a, *b, *found;
	struct waiting_call w;
	struct pollfd pfd;

	(void)state;
	session_table_init(2);
	assert_int_equal(session_create("2025-11-25", &a), 0);
	assert_int_equal(session_create("2025-06-18", &b), 0);
	found = session_find(S(session_id(a)));
	assert_ptr_equal(found, a);
	session_put(found);
	assert_int_equal(waiting_call_register(&w, a, "7"), 0);
	assert_int_equal(waiting_call_cancel(b, "7"), -ENOENT);
	assert_int_equal(waiting_call_cancel(a, "8"), -ENOENT);
	assert_false(waiting_call_is_cancelled(&w));
	assert_int_equal(waiting_call_cancel(a, "7"), 0);
	assert_true(waiting_call_is_cancelled(&w));
	pfd = (struct pollfd){ .fd = w.wake_fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 0), 1);
	waiting_call_unregister(&w);
	/* ending a session cancels its calls */
	assert_int_equal(waiting_call_register(&w, b, "1"), 0);
	assert_int_equal(session_end(S(session_id(b))), 0);
	assert_true(waiting_call_is_cancelled(&w));
	waiting_call_unregister(&w);
	session_put(a);
	session_put(b);
	assert_null(session_find(S("ffffffffffffffffffffffffffffffff")));
	session_expire(0);
	session_table_init(1024);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonrpc_valid_messages),
		cmocka_unit_test(test_jsonrpc_invalid_messages),
		cmocka_unit_test(test_jsonrpc_depth_limit),
		cmocka_unit_test(test_jsonrpc_error_round_trip),
		cmocka_unit_test(test_accept),
		cmocka_unit_test(test_host_and_origin),
		cmocka_unit_test(test_bearer),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_mcp_session_rules),
		cmocka_unit_test(test_mcp_modern_rules),
		cmocka_unit_test(test_proposal_arguments),
		cmocka_unit_test(test_sessions_and_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

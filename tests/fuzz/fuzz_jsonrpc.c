/* libFuzzer target: the supervise server's MCP layer on one POST.
 *
 * Input: extra header lines ("Name: value", one per line) up to the first
 * empty line, then the request body.  The harness wraps them in a POST /mcp
 * head, parses it with the HTTP/1.1 parser (inputs it rejects stop there:
 * fuzz_http1_request covers it) and hands head and body to mcp_handle_post()
 * with no socket, so no call can stream or wait.
 * Invariants checked:
 * - jsonrpc_parse() returns 0 with a consistent message or a JSON-RPC error
 *   code, and an id text that is JSON;
 * - every reply has a known status; a 202 has no body; any other body is
 *   one JSON-RPC response object with "jsonrpc":"2.0" and exactly one of
 *   result and error, whose code is an integer;
 * - the header helpers never read past their input (ASan).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sidecar/supervise/supervise.h"
#include "fuzz.h"

static struct supervise_options options = {
	.allowed_hosts = { "localhost", "127.0.0.1" },
	.nallowed_hosts = 2,
	.egress_proxy = "127.0.0.1:1", /* refused at once: no tool reaches the queue */
	.queue_dir = "/nonexistent/fuzz",
	.routes_path = "/nonexistent/fuzz/routes.yaml",
	.reload_command = "false",
	.bottle = "fuzz",
	.io_timeout_ms = 100,
	.egress_timeout_ms = 100,
	.approval_timeout_ms = 100,
	.progress_interval_ms = 100,
	.queue_poll_ms = 10,
};

static void check_parse(const char *body, size_t len)
{
	struct jsonrpc_message m;
	char err[256], id[96];
	int r = jsonrpc_parse(body, body + len, &m, err, sizeof(err), id, sizeof(id));
	yyjson_doc *d = yyjson_read(id, strlen(id), 0);

	CHECK(d != NULL);
	yyjson_doc_free(d);
	if (r == 0) {
		CHECK(m.doc != NULL);
		CHECK((m.kind == JSONRPC_NOTIFICATION) == (m.id == NULL));
		CHECK((m.kind == JSONRPC_RESPONSE) == (m.method == NULL));
		jsonrpc_release(&m);
	} else {
		CHECK(r == JSONRPC_PARSE_ERROR || r == JSONRPC_INVALID_REQUEST);
		CHECK(m.doc == NULL);
		CHECK(err[0] != '\0');
	}
}

static void check_reply(const struct mcp_reply *reply)
{
	yyjson_doc *d;
	yyjson_val *root, *error;

	CHECK(reply->status == 200 || reply->status == 202 || reply->status == 400 ||
	      reply->status == 404 || reply->status == 500 || reply->status == 503);
	if (reply->status == 202) {
		CHECK(reply->body.len == 0);
		return;
	}
	d = yyjson_read(reply->body.p, reply->body.len, 0);
	CHECK(d != NULL);
	root = yyjson_doc_get_root(d);
	CHECK(yyjson_is_obj(root));
	CHECK(yyjson_equals_str(yyjson_obj_get(root, "jsonrpc"), "2.0"));
	error = yyjson_obj_get(root, "error");
	CHECK((error != NULL) != (yyjson_obj_get(root, "result") != NULL));
	if (error)
		CHECK(yyjson_is_int(yyjson_obj_get(error, "code")));
	yyjson_doc_free(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	const char *p = (const char *)data, *split = NULL;
	struct http1_request *req;
	struct mcp_request mr;
	struct mcp_reply reply;
	struct buf head;
	size_t i, hlen;
	int n;

	if (!ready) {
		session_table_init(64);
		ready = true;
	}
	for (i = 0; i + 1 < size; i++) {
		if (p[i] == '\n' && p[i + 1] == '\n') {
			split = p + i;
			break;
		}
	}
	hlen = split ? (size_t)(split - p) : 0;
	const char *body = split ? split + 2 : p;
	size_t blen = size - (size_t)(body - p);

	check_parse(body, blen);
	(void)protocol_accept_ok((struct str){ p, hlen });
	(void)protocol_host_allowed(&options, (struct str){ p, hlen });
	(void)protocol_origin_allowed(&options, (struct str){ p, hlen });
	(void)protocol_bearer_ok((struct str){ p, hlen }, "0123456789abcdef");

	buf_init(&head, 64 * 1024);
	if (buf_append_str(&head, "POST /mcp HTTP/1.1\r\nHost: localhost\r\n"
				  "Content-Type: application/json\r\n"
				  "Accept: application/json, text/event-stream\r\n") < 0)
		goto out;
	for (i = 0; i < hlen; i++) {
		if (p[i] == '\n' ? buf_append(&head, "\r\n", 2) < 0 : buf_append(&head, &p[i], 1) < 0)
			goto out;
	}
	if (hlen > 0 && buf_append(&head, "\r\n", 2) < 0)
		goto out;
	if (buf_appendf(&head, "Content-Length: %zu\r\n\r\n", blen) < 0)
		goto out;
	req = calloc(1, sizeof(*req));
	http1_request_init(req);
	n = http1_request_parse(req, head.p, head.p + head.len, NULL);
	if (n > 0) {
		buf_init(&reply.body, 8 << 20);
		reply.status = 0;
		reply.session_id[0] = '\0';
		mr = (struct mcp_request){ .options = &options, .http = req, .body = body,
					   .body_len = blen, .fd = -1 };
		CHECK(mcp_handle_post(&mr, &reply) == 0);
		check_reply(&reply);
		buf_release(&reply.body);
	}
	free(req);
out:
	buf_release(&head);
	return 0;
}

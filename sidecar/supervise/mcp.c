/* The MCP layer: which revision a POST speaks, the session and header rules
 * of that revision, and the methods.
 *
 * Two eras on one endpoint (docs/supervise.md):
 * - legacy (2025-06-18, 2025-11-25): initialize opens a session whose id
 *   every later request carries in Mcp-Session-Id;
 * - modern (2026-07-28): no session; each request names its version in
 *   MCP-Protocol-Version and in params._meta, and mirrors its method (and
 *   tool name) in Mcp-Method / Mcp-Name.
 * An unknown method is answered at once, in both eras. */
#include "supervise.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bottle_version.h"
#include "fixtures.h"
#include "tasks.h"
#include "../../shared/log.h"

#define META_VERSION "io.modelcontextprotocol/protocolVersion"
#define META_CLIENT_INFO "io.modelcontextprotocol/clientInfo"
#define META_CLIENT_CAPS "io.modelcontextprotocol/clientCapabilities"

static const char server_instructions[] =
	"This server is the bottle's supervisor: the only way to change what the sandbox may "
	"reach on the network. Call list-egress-routes first to see the routes egress enforces "
	"now. When a request is refused by egress (HTTP 403 with X-Bottle-Egress: denied), call "
	"egress-allow with the whole routes.yaml you want (the current routes plus yours) and a "
	"justification; a human operator approves, edits or rejects it, and the call returns "
	"their answer. Use egress-block to remove access.";

/* Everything about one POST that the handlers share. */
struct mcp_call {
	struct mcp_request *req;
	struct mcp_reply *reply;
	struct jsonrpc_message msg;
	struct session *session;  /* legacy requests */
	bool modern;
	char version[16];
	char id_text[96];
};

static struct str header(const struct mcp_request *req, const char *name)
{
	const struct http1_field *f = http1_fields_find(&req->http->fields, name);

	return f ? f->value : (struct str){ "", 0 };
}

static bool has_header(const struct mcp_request *req, const char *name)
{
	return http1_fields_find(&req->http->fields, name) != NULL;
}

static int reply_error(struct mcp_call *c, int status, int code, const char *message,
		       const char *data_json)
{
	c->reply->status = status;
	buf_clear(&c->reply->body);
	return jsonrpc_error_json(&c->reply->body, c->id_text, code, message, data_json);
}

static int reply_result(struct mcp_call *c, const char *result_json)
{
	c->reply->status = 200;
	buf_clear(&c->reply->body);
	return jsonrpc_result_json(&c->reply->body, c->id_text, result_json);
}

/* A result object: modern results carry resultType (2026-07-28 §Result). */
static int result_open(const struct mcp_call *c, struct buf *out)
{
	return buf_append_str(out, c->modern ? "{\"resultType\":\"complete\"" : "{");
}

/* 2026-07-28 caching hints on listings, discovery and reads: what this
 * server lists changes only with a new binary, and is the same for every
 * client. */
static int cache_hints(const struct mcp_call *c, struct buf *out)
{
	return c->modern ? buf_append_str(out, ",\"ttlMs\":3600000,\"cacheScope\":\"public\"") : 0;
}

static const char *comma(const struct buf *out)
{
	return out->len > 1 ? "," : "";
}

static int unsupported_version(struct mcp_call *c, struct str requested)
{
	struct buf data;
	int ret;

	buf_init(&data, 512);
	ret = buf_appendf(&data, "{\"supported\":%s,\"requested\":", protocol_versions_json());
	if (ret == 0)
		ret = json_append_string(&data, requested.p, requested.len > 64 ? 64 : requested.len);
	if (ret == 0)
		ret = buf_append_str(&data, "}");
	if (ret == 0)
		ret = reply_error(c, 400, MCP_UNSUPPORTED_VERSION, "Unsupported protocol version",
				  data.p);
	buf_release(&data);
	return ret;
}

/* Tasks are offered to legacy sessions whose client declared them. */
static bool session_offers_tasks(const struct mcp_call *c)
{
	return !c->modern && c->session && session_client_has_tasks(c->session);
}

static int server_capabilities(const struct mcp_call *c, struct buf *out)
{
	int ret;

	ret = buf_append_str(out, "{\"tools\":{\"listChanged\":false}");
	if (ret == 0 && session_offers_tasks(c))
		ret = buf_append_str(out, ",\"tasks\":{\"list\":{},\"cancel\":{},"
					  "\"requests\":{\"tools\":{\"call\":{}}}}");
	if (ret == 0)
		ret = fixtures_capabilities(out);
	if (ret == 0)
		ret = buf_append_str(out, "}");
	return ret;
}

/* The conformance fixtures' methods (test build only). */
static int handle_fixture(struct mcp_call *c)
{
	struct buf result, full;
	int ret;

	buf_init(&result, 64 * 1024);
	buf_init(&full, 64 * 1024);
	ret = result_open(c, &full);
	if (ret == 0)
		ret = fixtures_method(c->msg.method, c->msg.params, &result);
	if (ret == FIXTURES_NOT_MINE) {
		/* fall through to "method not found" */
	} else if (ret == JSONRPC_INVALID_PARAMS) {
		ret = reply_error(c, 200, JSONRPC_INVALID_PARAMS, "invalid params", NULL);
	} else if (ret == 0) {
		const char *m = c->msg.method;
		size_t mlen = strlen(m);

		if ((mlen > 5 && strcmp(m + mlen - 5, "/list") == 0) ||
		    strcmp(m, "resources/read") == 0)
			ret = cache_hints(c, &full);
		/* Splice the fixture's members after resultType when modern. */
		if (ret == 0)
			ret = buf_appendf(&full, "%s%s", full.len > 1 && result.len > 2 ? "," : "",
					  result.p + 1);
		if (ret == 0)
			ret = reply_result(c, full.p);
	}
	buf_release(&result);
	buf_release(&full);
	return ret;
}

static int server_info(struct buf *out)
{
	return buf_append_str(out, "{\"name\":\"bottle-supervise\",\"title\":\"bottle supervisor\","
				   "\"version\":\"" BOTTLE_VERSION "\"}");
}

/* The end that initialize and server/discover share: capabilities, server
 * info and instructions, then the reply. */
static int reply_identity(struct mcp_call *c, struct buf *result)
{
	int ret = server_capabilities(c, result);

	if (ret == 0)
		ret = buf_append_str(result, ",\"serverInfo\":");
	if (ret == 0)
		ret = server_info(result);
	if (ret == 0)
		ret = buf_append_str(result, ",\"instructions\":");
	if (ret == 0)
		ret = json_append_string(result, server_instructions, strlen(server_instructions));
	if (ret == 0)
		ret = buf_append_str(result, "}");
	if (ret == 0)
		ret = reply_result(c, result->p);
	return ret;
}

static int handle_initialize(struct mcp_call *c)
{
	yyjson_val *params = c->msg.params, *pv, *caps;
	const char *version;
	struct buf result;
	int ret;

	pv = yyjson_obj_get(params, "protocolVersion");
	caps = yyjson_obj_get(params, "capabilities");
	if (!yyjson_is_str(pv) || (caps && !yyjson_is_obj(caps)))
		return reply_error(c, 200, JSONRPC_INVALID_PARAMS,
				   "initialize needs params.protocolVersion (a string) and "
				   "params.capabilities (an object)", NULL);
	version = protocol_negotiate(yyjson_get_str(pv));
	ret = session_create(version, &c->session);
	if (ret == -EUSERS)
		return reply_error(c, 503, JSONRPC_INTERNAL_ERROR,
				   "too many sessions: end one with DELETE or retry later", NULL);
	if (ret < 0)
		return reply_error(c, 500, JSONRPC_INTERNAL_ERROR, "cannot create a session", NULL);
	session_set_client_tasks(c->session, yyjson_obj_get(caps, "tasks") != NULL);
	snprintf(c->reply->session_id, sizeof(c->reply->session_id), "%s",
		 session_id(c->session));
	buf_init(&result, 8192);
	ret = buf_appendf(&result, "{\"protocolVersion\":\"%s\",\"capabilities\":", version);
	if (ret == 0)
		ret = reply_identity(c, &result);
	buf_release(&result);
	return ret;
}

static int handle_discover(struct mcp_call *c)
{
	struct buf result;
	int ret;

	buf_init(&result, 8192);
	ret = result_open(c, &result);
	if (ret == 0)
		ret = cache_hints(c, &result);
	if (ret == 0)
		ret = buf_appendf(&result, ",\"supportedVersions\":%s,\"capabilities\":",
				  protocol_versions_json());
	if (ret == 0)
		ret = reply_identity(c, &result);
	buf_release(&result);
	return ret;
}

static int handle_ping(struct mcp_call *c)
{
	return reply_result(c, c->modern ? "{\"resultType\":\"complete\"}" : "{}");
}

static int handle_tools_list(struct mcp_call *c)
{
	struct buf result;
	int ret;

	buf_init(&result, 64 * 1024);
	ret = result_open(c, &result);
	if (ret == 0)
		ret = cache_hints(c, &result);
	if (ret == 0)
		ret = buf_appendf(&result, "%s\"tools\":", comma(&result));
	if (ret == 0)
		ret = tools_list_json(&result, session_offers_tasks(c));
	if (ret == 0)
		ret = buf_append_str(&result, "}");
	if (ret == 0)
		ret = reply_result(c, result.p);
	buf_release(&result);
	return ret;
}

/* ---- tools/call, which may stream ---- */

struct stream_context {
	struct tool_context tool;
	struct mcp_call *call;
	bool started;
	int io_timeout_ms;
};

static int stream_start(struct stream_context *s)
{
	struct buf head;
	int ret;

	if (s->started)
		return 0;
	buf_init(&head, 1024);
	ret = buf_append_str(&head, "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
				    "Cache-Control: no-store\r\nX-Accel-Buffering: no\r\n"
				    "Connection: close\r\n\r\n");
	if (ret == 0)
		ret = supervise_write_all(s->tool.fd, head.p, head.len, s->io_timeout_ms);
	buf_release(&head);
	if (ret == 0)
		s->started = true;
	return ret;
}

static int stream_event(struct tool_context *t, const char *json)
{
	struct stream_context *s = (struct stream_context *)t;
	struct buf ev;
	int ret;

	if (t->fd < 0)
		return 0;
	ret = stream_start(s);
	if (ret < 0)
		return ret;
	buf_init(&ev, 8 * SUPERVISE_BODY_MAX);
	ret = buf_appendf(&ev, "event: message\ndata: %s\n\n", json);
	if (ret == 0)
		ret = supervise_write_all(t->fd, ev.p, ev.len, s->io_timeout_ms);
	buf_release(&ev);
	return ret;
}

static int stream_keepalive(struct tool_context *t)
{
	struct stream_context *s = (struct stream_context *)t;
	int ret;

	if (t->fd < 0)
		return 0;
	ret = stream_start(s);
	if (ret == 0)
		ret = supervise_write_all(t->fd, ": waiting for the operator\n\n", 28,
					  s->io_timeout_ms);
	return ret;
}

static const char *client_name(yyjson_val *params)
{
	yyjson_val *meta = yyjson_obj_get(params, "_meta");
	yyjson_val *name = yyjson_obj_get(yyjson_obj_get(meta, META_CLIENT_INFO), "name");

	return yyjson_is_str(name) ? yyjson_get_str(name) : NULL;
}

static int handle_tools_call(struct mcp_call *c)
{
	yyjson_val *params = c->msg.params, *name, *args, *meta, *token;
	struct stream_context s = { .call = c, .io_timeout_ms = c->req->options->io_timeout_ms };
	struct waiting_call waiting = { .wake_fd = -1 };
	char err[256], token_text[96];
	struct buf result, response;
	bool registered = false;
	int ret;

	name = yyjson_obj_get(params, "name");
	args = yyjson_obj_get(params, "arguments");
	if (!yyjson_is_str(name))
		return reply_error(c, 200, JSONRPC_INVALID_PARAMS,
				   "tools/call needs params.name (a string)", NULL);
	if (args && !yyjson_is_obj(args))
		return reply_error(c, 200, JSONRPC_INVALID_PARAMS,
				   "params.arguments must be an object", NULL);
	if (!tools_exists(yyjson_get_str(name))) {
		snprintf(err, sizeof(err), "unknown tool '%.64s': see tools/list",
			 yyjson_get_str(name));
		return reply_error(c, 200, JSONRPC_INVALID_PARAMS, err, NULL);
	}
	meta = yyjson_obj_get(params, "_meta");
	token = yyjson_obj_get(meta, "progressToken");
	s.tool = (struct tool_context){
		.options = c->req->options,
		.fd = -1,
		.client_name = client_name(params),
		.send_event = stream_event,
		.keepalive = stream_keepalive,
	};
	if (token && jsonrpc_id_text(token, token_text, sizeof(token_text)) == 0)
		s.tool.progress_token = token_text;
	if (tools_waits(yyjson_get_str(name)) && yyjson_is_obj(yyjson_obj_get(params, "task")) &&
	    session_offers_tasks(c) && !fixtures_tool_exists(yyjson_get_str(name))) {
		buf_init(&result, 64 * 1024);
		ret = tasks_create(c->session, c->req->options, yyjson_get_str(name), args,
				   client_name(params), yyjson_obj_get(params, "task"), &result);
		ret = ret < 0 ? reply_error(c, 500, JSONRPC_INTERNAL_ERROR, "cannot create a task", NULL)
			      : reply_result(c, result.p);
		buf_release(&result);
		return ret;
	}
	if (tools_waits(yyjson_get_str(name))) {
		/* Only the calls that wait for a person stream; the others
		 * answer in one JSON body. */
		s.tool.fd = c->req->fd;
		ret = waiting_call_register(&waiting, c->session, c->id_text);
		if (ret < 0)
			return reply_error(c, 500, JSONRPC_INTERNAL_ERROR, "cannot register the call",
					   NULL);
		registered = true;
		s.tool.waiting = &waiting;
	}
	buf_init(&result, 4 * SUPERVISE_BODY_MAX);
	buf_init(&response, 4 * SUPERVISE_BODY_MAX);
	ret = tools_call(&s.tool, yyjson_get_str(name), args, &result, err, sizeof(err));
	if (ret == -ECANCELED) {
		ret = 1; /* the client went away or cancelled: nothing to send */
		goto out;
	}
	if (ret == JSONRPC_INVALID_PARAMS) {
		ret = reply_error(c, 200, JSONRPC_INVALID_PARAMS, err, NULL);
		goto out;
	}
	if (ret < 0) {
		ret = reply_error(c, 500, JSONRPC_INTERNAL_ERROR, "internal error", NULL);
		goto out;
	}
	if (c->modern && result.len > 1 && result.p[0] == '{') {
		/* Modern results carry resultType. */
		buf_clear(&response);
		ret = buf_appendf(&response, "{\"resultType\":\"complete\",%s", result.p + 1);
		if (ret == 0) {
			buf_clear(&result);
			ret = buf_append(&result, response.p, response.len);
		}
		buf_clear(&response);
	}
	if (!s.started) {
		ret = reply_result(c, result.p);
		goto out;
	}
	ret = jsonrpc_result_json(&response, c->id_text, result.p);
	if (ret == 0)
		ret = stream_event(&s.tool, response.p);
	ret = ret < 0 ? ret : 1;
out:
	if (registered)
		waiting_call_unregister(&waiting);
	if (s.started && ret == 0)
		ret = 1;
	buf_release(&result);
	buf_release(&response);
	return ret;
}

/* ---- tasks ---- */

static int handle_tasks(struct mcp_call *c)
{
	const char *m = c->msg.method + 6;
	yyjson_val *id = yyjson_obj_get(c->msg.params, "taskId");
	struct buf result;
	char err[128];
	int ret;

	if (strcmp(m, "list") != 0 && !yyjson_is_str(id))
		return reply_error(c, 200, JSONRPC_INVALID_PARAMS, "params.taskId (a string) is required",
				   NULL);
	buf_init(&result, 4 * SUPERVISE_BODY_MAX);
	if (strcmp(m, "get") == 0)
		ret = tasks_get(c->session, yyjson_get_str(id), &result);
	else if (strcmp(m, "result") == 0)
		ret = tasks_result(c->session, yyjson_get_str(id), &result);
	else if (strcmp(m, "cancel") == 0)
		ret = tasks_cancel(c->session, yyjson_get_str(id), &result);
	else if (strcmp(m, "list") == 0)
		ret = tasks_list(c->session, &result);
	else
		ret = -ENOSYS;
	if (ret == 0) {
		ret = reply_result(c, result.p);
	} else {
		snprintf(err, sizeof(err), "%s",
			 ret == -ENOENT    ? "unknown task"
			 : ret == -EALREADY ? "the task has already ended"
			 : ret == -ECANCELED ? "the task was cancelled"
			 : ret == -ENOSYS ? "method not found"
					  : "the task failed");
		ret = reply_error(c, 200, ret == -ENOSYS ? JSONRPC_METHOD_NOT_FOUND
				  : ret == -ECANCELED || ret == -EIO ? JSONRPC_INTERNAL_ERROR
								  : JSONRPC_INVALID_PARAMS, err, NULL);
	}
	buf_release(&result);
	return ret;
}

/* ---- dispatch ---- */

static int dispatch_request(struct mcp_call *c)
{
	const char *m = c->msg.method;
	char err[256];

	if (c->modern && (strcmp(m, "initialize") == 0 || strcmp(m, "ping") == 0 ||
			  strcmp(m, "logging/setLevel") == 0 || strcmp(m, "resources/subscribe") == 0 ||
			  strcmp(m, "resources/unsubscribe") == 0)) {
		/* Removed in 2026-07-28; initialize's error names the versions, so
		 * a legacy client can tell the user what to use. */
		snprintf(err, sizeof(err), "method not found: %s is not a method of " MCP_V2026_07_28
			 " (this server also speaks " MCP_V2025_11_25 " and " MCP_V2025_06_18
			 " with initialize)", m);
		return reply_error(c, 404, JSONRPC_METHOD_NOT_FOUND, err, NULL);
	}
	if (strcmp(m, "ping") == 0)
		return handle_ping(c);
	if (strcmp(m, "tools/list") == 0)
		return handle_tools_list(c);
	if (strcmp(m, "tools/call") == 0)
		return handle_tools_call(c);
	if (strcmp(m, "server/discover") == 0 && c->modern)
		return handle_discover(c);
	if (strncmp(m, "tasks/", 6) == 0 && session_offers_tasks(c))
		return handle_tasks(c);
	if (strcmp(m, "initialize") == 0)
		return reply_error(c, 400, JSONRPC_INVALID_REQUEST,
				   "this session is already initialized", NULL);
	if (fixtures_enabled()) {
		int r = handle_fixture(c);

		if (r != FIXTURES_NOT_MINE)
			return r;
	}
	snprintf(err, sizeof(err), "method not found: %.100s", m);
	/* 2026-07-28 answers an unknown method with 404 (its body tells it
	 * from a missing endpoint); earlier revisions in a 200. */
	return reply_error(c, c->modern ? 404 : 200, JSONRPC_METHOD_NOT_FOUND, err, NULL);
}

static int handle_notification(struct mcp_call *c)
{
	const char *m = c->msg.method;

	if (strcmp(m, "notifications/initialized") == 0 && c->session) {
		session_set_initialized(c->session);
	} else if (strcmp(m, "notifications/cancelled") == 0) {
		yyjson_val *rid = yyjson_obj_get(c->msg.params, "requestId");
		char rid_text[96];

		if (rid && jsonrpc_id_text(rid, rid_text, sizeof(rid_text)) == 0)
			(void)waiting_call_cancel(c->session, rid_text);
	}
	/* Any other notification is accepted and ignored, as JSON-RPC wants. */
	c->reply->status = 202;
	buf_clear(&c->reply->body);
	return 0;
}

/* Decode an Mcp-Name value (plain, or the =?base64?...?= sentinel) and
 * compare it with the body's name. */
static bool mcp_name_matches(struct str h, const char *name)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[512];
	size_t n = 0, i;
	unsigned acc = 0, bits = 0;

	if (h.len < 11 || memcmp(h.p, "=?base64?", 9) != 0 || memcmp(h.p + h.len - 2, "?=", 2) != 0)
		return strlen(name) == h.len && memcmp(name, h.p, h.len) == 0;
	for (i = 9; i < h.len - 2; i++) {
		const char *pos;

		if (h.p[i] == '=')
			break;
		pos = memchr(b64, h.p[i], 64);
		if (!pos)
			return false;
		acc = (acc << 6) | (unsigned)(pos - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == sizeof(out))
				return false;
			out[n++] = (char)((acc >> bits) & 0xff);
		}
	}
	return strlen(name) == n && memcmp(name, out, n) == 0;
}

/* The 2026-07-28 rules: the version in the header and in _meta (with the
 * client's capabilities), Mcp-Method, Mcp-Name.  Returns 1 when the request
 * may proceed, else 0 with the reply set. */
static int modern_checks(struct mcp_call *c, struct str pv, yyjson_val *meta)
{
	yyjson_val *meta_version = yyjson_obj_get(meta, META_VERSION);
	struct str mh = header(c->req, "mcp-method");
	char err[256];
	int ret;

	if (pv.len == 0) {
		ret = reply_error(c, 400, MCP_HEADER_MISMATCH,
				  "Header mismatch: MCP-Protocol-Version header is required", NULL);
		return ret < 0 ? ret : 0;
	}
	if (c->msg.kind != JSONRPC_REQUEST)
		return 1;
	if (!yyjson_is_str(meta_version)) {
		ret = reply_error(c, 400, JSONRPC_INVALID_PARAMS,
				  "Invalid params: params._meta[\"" META_VERSION "\"] is required", NULL);
		return ret < 0 ? ret : 0;
	}
	if (!str_equal_cstr(pv, yyjson_get_str(meta_version))) {
		ret = reply_error(c, 400, MCP_HEADER_MISMATCH,
				  "Header mismatch: MCP-Protocol-Version must equal "
				  "params._meta[\"" META_VERSION "\"]", NULL);
		return ret < 0 ? ret : 0;
	}
	if (!protocol_version_supported(pv.p, pv.len)) {
		ret = unsupported_version(c, pv);
		return ret < 0 ? ret : 0;
	}
	if (!yyjson_is_obj(yyjson_obj_get(meta, META_CLIENT_CAPS))) {
		ret = reply_error(c, 400, JSONRPC_INVALID_PARAMS,
				  "Invalid params: params._meta[\"" META_CLIENT_CAPS "\"] (an object) "
				  "is required", NULL);
		return ret < 0 ? ret : 0;
	}
	if (!has_header(c->req, "mcp-method") || !str_equal_cstr(mh, c->msg.method)) {
		snprintf(err, sizeof(err), "Header mismatch: Mcp-Method must be '%.100s'",
			 c->msg.method);
		ret = reply_error(c, 400, MCP_HEADER_MISMATCH, err, NULL);
		return ret < 0 ? ret : 0;
	}
	if (strcmp(c->msg.method, "tools/call") == 0 || strcmp(c->msg.method, "prompts/get") == 0 ||
	    strcmp(c->msg.method, "resources/read") == 0) {
		yyjson_val *name = yyjson_obj_get(c->msg.params, "name");

		if (!name)
			name = yyjson_obj_get(c->msg.params, "uri");
		if (yyjson_is_str(name) && (!has_header(c->req, "mcp-name") ||
		    !mcp_name_matches(header(c->req, "mcp-name"), yyjson_get_str(name)))) {
			ret = reply_error(c, 400, MCP_HEADER_MISMATCH,
					  "Header mismatch: Mcp-Name must equal params.name (or "
					  "params.uri)", NULL);
			return ret < 0 ? ret : 0;
		}
	}
	return 1;
}

static int route(struct mcp_call *c)
{
	struct str sid = header(c->req, "mcp-session-id");
	struct str pv = header(c->req, "mcp-protocol-version");
	yyjson_val *meta = NULL, *meta_version;
	bool is_initialize = c->msg.kind == JSONRPC_REQUEST && strcmp(c->msg.method, "initialize") == 0;
	int r;

	if (c->msg.params)
		meta = yyjson_obj_get(c->msg.params, "_meta");
	meta_version = yyjson_obj_get(meta, META_VERSION);
	c->modern = str_equal_cstr(pv, MCP_V2026_07_28) || meta_version != NULL ||
		    (sid.len == 0 && c->msg.kind == JSONRPC_REQUEST &&
		     strcmp(c->msg.method, "server/discover") == 0);
	if (c->modern) {
		/* Mcp-Session-Id is ignored: this revision has no sessions. */
		r = modern_checks(c, pv, meta);
		if (r <= 0)
			return r;
		snprintf(c->version, sizeof(c->version), "%s", MCP_V2026_07_28);
		if (c->msg.kind != JSONRPC_REQUEST) {
			c->reply->status = 202;
			return 0;
		}
		return dispatch_request(c);
	}
	/* 2025-03-26 is not negotiated, but clients of a session send it in
	 * the header (the session's version decides; the SDKs do the same). */
	if (pv.len > 0 && !protocol_version_supported(pv.p, pv.len) &&
	    !str_equal_cstr(pv, MCP_V2025_03_26))
		return unsupported_version(c, pv);
	if (is_initialize) {
		if (sid.len > 0)
			return reply_error(c, 400, JSONRPC_INVALID_REQUEST,
					   "initialize opens a new session: send it without "
					   "Mcp-Session-Id", NULL);
		return handle_initialize(c);
	}
	if (sid.len == 0)
		return reply_error(c, 400, JSONRPC_INVALID_REQUEST,
				   "Bad Request: Mcp-Session-Id header is required (send initialize "
				   "first, or use protocol version " MCP_V2026_07_28 ")", NULL);
	c->session = session_find(sid);
	if (!c->session)
		return reply_error(c, 404, JSONRPC_INVALID_REQUEST,
				   "Session not found: initialize a new session", NULL);
	snprintf(c->version, sizeof(c->version), "%s", session_version(c->session));
	if (c->msg.kind == JSONRPC_NOTIFICATION)
		return handle_notification(c);
	if (c->msg.kind == JSONRPC_RESPONSE) {
		c->reply->status = 202; /* this server sends no requests to answer */
		return 0;
	}
	return dispatch_request(c);
}

int mcp_handle_post(struct mcp_request *req, struct mcp_reply *reply)
{
	struct mcp_call c = { .req = req, .reply = reply };
	char err[256];
	int ret;

	ret = jsonrpc_parse(req->body, req->body + req->body_len, &c.msg, err, sizeof(err),
			    c.id_text, sizeof(c.id_text));
	if (ret != 0) {
		ret = reply_error(&c, 400, ret, err, NULL);
		goto out;
	}
	if (c.msg.kind == JSONRPC_REQUEST && jsonrpc_id_text(c.msg.id, c.id_text, sizeof(c.id_text)) < 0) {
		snprintf(c.id_text, sizeof(c.id_text), "null");
		ret = reply_error(&c, 400, JSONRPC_INVALID_REQUEST, "id too long", NULL);
		goto out;
	}
	ret = route(&c);
out:
	session_put(c.session);
	jsonrpc_release(&c.msg);
	return ret;
}

/* sidecar supervise: the MCP server through which the agent asks the
 * operator for egress changes.  docs/supervise.md describes the behaviour.
 *
 * Concurrency: one thread per client connection (blocking sockets, every
 * wait bounded by poll), like egress.  Shared state is the session table and
 * the table of waiting calls (one mutex each) and the options (read-only
 * after start-up).  A tool call waiting for the operator holds only its own
 * connection's thread. */
#ifndef SIDECAR_SUPERVISE_H
#define SIDECAR_SUPERVISE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yyjson.h>

#include "../../shared/buf.h"
#include "../../shared/http1.h"

/* Request bodies above this are refused (413) before they are read. */
#define SUPERVISE_BODY_MAX (1024 * 1024)
#define SUPERVISE_MAX_HOSTS 16
#define SUPERVISE_ID_LEN 32 /* hex characters of a session or proposal id */

/* Protocol revisions, oldest first.  The last one is session-less. */
#define MCP_V2025_03_26 "2025-03-26" /* accepted in the header only */
#define MCP_V2025_06_18 "2025-06-18"
#define MCP_V2025_11_25 "2025-11-25"
#define MCP_V2026_07_28 "2026-07-28"
#define MCP_LATEST_LEGACY MCP_V2025_11_25

/* JSON-RPC 2.0 and MCP error codes. */
enum {
	JSONRPC_PARSE_ERROR = -32700,
	JSONRPC_INVALID_REQUEST = -32600,
	JSONRPC_METHOD_NOT_FOUND = -32601,
	JSONRPC_INVALID_PARAMS = -32602,
	JSONRPC_INTERNAL_ERROR = -32603,
	MCP_HEADER_MISMATCH = -32020,
	MCP_UNSUPPORTED_VERSION = -32022,
};

struct supervise_options {
	const char *listen;            /* "[host]:port", default ":9100" */
	const char *egress_proxy;      /* "host:port" of egress on loopback */
	const char *routes_path;       /* where approved routes are written */
	const char *reload_command;    /* run after writing them; split on spaces */
	const char *queue_dir;         /* the proposal queue (shared/queue.h) */
	const char *bottle;            /* this bottle's name, recorded in proposals */
	const char *allowed_hosts[SUPERVISE_MAX_HOSTS]; /* Host/Origin names */
	size_t nallowed_hosts;
	char *token;                   /* bearer token or NULL; never logged */
	int ready_fd;
	unsigned max_connections;
	unsigned max_sessions;
	int io_timeout_ms;             /* a request head and body, one write */
	int idle_timeout_ms;           /* keep-alive wait */
	int egress_timeout_ms;         /* one introspection exchange, one reload */
	uint64_t approval_timeout_ms;  /* how long a tool call waits for the operator */
	int progress_interval_ms;      /* progress notifications while waiting */
	int queue_poll_ms;             /* how often the queue is checked */
};

/* ---- JSON-RPC (jsonrpc.c) ---- */

enum jsonrpc_kind {
	JSONRPC_REQUEST = 1,
	JSONRPC_NOTIFICATION,
	JSONRPC_RESPONSE,  /* a client's answer to a server request */
};

/* One parsed message.  doc owns everything; id and params point into it. */
struct jsonrpc_message {
	yyjson_doc *doc;
	enum jsonrpc_kind kind;
	yyjson_val *id;      /* string or integer; NULL for notifications */
	const char *method;  /* NULL for responses */
	yyjson_val *params;  /* object or NULL */
};

/* Parse one JSON-RPC message from [p, end).  Returns 0, or a JSON-RPC error
 * code (JSONRPC_PARSE_ERROR, JSONRPC_INVALID_REQUEST) with a one-line reason
 * in err; on an invalid request whose id could be read, *id_text holds the
 * id as JSON (else "null"). */
int jsonrpc_parse(const char *p, const char *end, struct jsonrpc_message *msg,
		  char *err, size_t err_len, char *id_text, size_t id_text_len);
void jsonrpc_release(struct jsonrpc_message *msg);
/* The id as JSON text ("7", "\"a\""), for tables and replies. */
int jsonrpc_id_text(yyjson_val *id, char *out, size_t out_len);
/* {"jsonrpc":"2.0","id":<id_text>,"error":{"code":..,"message":..[,"data":..]}} */
int jsonrpc_error_json(struct buf *out, const char *id_text, int code, const char *message,
		       const char *data_json);
/* {"jsonrpc":"2.0","id":<id_text>,"result":<result_json>} */
int jsonrpc_result_json(struct buf *out, const char *id_text, const char *result_json);
/* Append `s` as a JSON string literal. */
int json_append_string(struct buf *out, const char *s, size_t len);

/* ---- sessions (session.c) ---- */

/* CLOCK_MONOTONIC in milliseconds. */
uint64_t supervise_now_ms(void);

struct session;

void session_table_init(unsigned max_sessions);
/* A new session for a negotiated legacy version; *out holds a reference. */
int session_create(const char *version, struct session **out);
/* NULL when unknown or ended; else a reference. */
struct session *session_find(struct str id);
void session_put(struct session *s);
/* End it (DELETE): later lookups fail, waiting calls are cancelled. */
int session_end(struct str id);
const char *session_id(const struct session *s);
const char *session_version(const struct session *s);
void session_set_initialized(struct session *s);
bool session_client_has_tasks(const struct session *s);
void session_set_client_tasks(struct session *s, bool supported);
/* Sessions idle for longer than this are dropped. */
void session_expire(uint64_t idle_ms);

/* ---- waiting calls: what notifications/cancelled finds (session.c) ---- */

struct waiting_call {
	struct waiting_call *next;
	const struct session *session; /* NULL for a session-less request */
	char id_text[80];
	int wake_fd;                   /* eventfd written on cancel */
	bool cancelled;
};

int waiting_call_register(struct waiting_call *w, const struct session *s, const char *id_text);
void waiting_call_unregister(struct waiting_call *w);
/* Cancel the call with that id in that session; 0 or -ENOENT. */
int waiting_call_cancel(const struct session *s, const char *id_text);
bool waiting_call_is_cancelled(struct waiting_call *w);

/* ---- versions and header rules (protocol.c) ---- */

bool protocol_version_supported(const char *v, size_t len);
bool protocol_version_is_legacy(const char *v, size_t len);
/* The version initialize answers to a client asking for `requested`. */
const char *protocol_negotiate(const char *requested);
/* JSON array of the supported versions, newest first. */
const char *protocol_versions_json(void);

/* Whether Accept lists both application/json and text/event-stream
 * (wildcards count). */
bool protocol_accept_ok(struct str accept);
/* Whether `host` (a Host value, port allowed) is an allowed name or an IP
 * literal. */
bool protocol_host_allowed(const struct supervise_options *o, struct str host);
/* Whether an Origin value is allowed: http(s)://<allowed name>[:port]. */
bool protocol_origin_allowed(const struct supervise_options *o, struct str origin);
/* Constant-time comparison of "Bearer <token>" with the expected token. */
bool protocol_bearer_ok(struct str authorization, const char *token);

/* ---- the MCP layer (mcp.c) ---- */

/* What one POST produced.  The connection code writes it. */
struct mcp_reply {
	int status;               /* HTTP status */
	struct buf body;          /* JSON, or empty for 202 */
	char session_id[SUPERVISE_ID_LEN + 1]; /* set on initialize */
};

/* Everything a handler may need about the HTTP request. */
struct mcp_request {
	const struct supervise_options *options;
	const struct http1_request *http;
	const char *body;
	size_t body_len;
	/* The connection, for calls that stream (SSE) and watch for the
	 * client going away. */
	int fd;
	bool wants_sse_ok;        /* Accept allows text/event-stream */
};

/* Handle one POSTed body.  Returns 0 when *reply is complete, or 1 when the
 * handler already wrote the whole HTTP response (an SSE stream); negative
 * on an I/O error. */
int mcp_handle_post(struct mcp_request *req, struct mcp_reply *reply);

/* ---- tools (tools.c, proposal.c) ---- */

/* The tools/list result's "tools" array, as JSON. */
int tools_list_json(struct buf *out, bool with_tasks);
bool tools_exists(const char *name);
bool tools_waits(const char *name);

/* What a tool call needs to report progress and notice cancellation. */
struct tool_context {
	const struct supervise_options *options;
	int fd;                        /* the client connection (SSE) or -1 */
	const char *progress_token;    /* JSON text of _meta.progressToken, or NULL */
	struct waiting_call *waiting;  /* registered while the call waits */
	const char *client_name;       /* clientInfo.name, for the proposal */
	/* One SSE message, an SSE comment; NULL when nobody listens (tasks). */
	int (*send_event)(struct tool_context *t, const char *json);
	int (*keepalive)(struct tool_context *t);
	uint64_t progress_sent;
};

/* Run a tool.  *result gets a CallToolResult JSON object (isError set for
 * tool failures the agent can act on).  Returns 0, JSONRPC_INVALID_PARAMS
 * with err set for an unknown tool, or -ECANCELED when the client went away
 * or cancelled (nothing is to be sent then). */
int tools_call(struct tool_context *t, const char *name, yyjson_val *args, struct buf *result,
	       char *err, size_t err_len);

/* CallToolResult {"content":[{"type":"text","text":...}],"isError":..}. */
int tools_text_result(struct buf *out, bool is_error, const char *text);

/* ---- egress (egress_client.c) ---- */

/* GET http://_egress.local/routes through the egress proxy; *json gets the
 * body.  Errors are one line in err that says what to do. */
int egress_client_routes(const struct supervise_options *o, struct buf *json, char *err,
			 size_t err_len);
/* The same without what egress adds to the view (the state of grants):
 * loaded and rendered again, so it compares byte for byte with
 * routes_to_json() of a file. */
int egress_client_routes_canonical(const struct supervise_options *o, struct buf *json,
				   char *err, size_t err_len);

/* ---- applying an approved proposal (apply.c) ---- */

struct route_grant;
struct routes;

struct apply_result {
	size_t bounded; /* routes the grant was put on */
	char *written;  /* the file written when bounded (caller frees), else NULL */
};

/* Write `yaml` to the routes file atomically, run the reload command, and
 * wait until egress serves exactly those routes.  With a grant (a bounded
 * approval) the file written is grant_bound_routes()'s.  0 or negative
 * with err. */
int apply_routes(const struct supervise_options *o, const char *yaml, size_t len,
		 const struct route_grant *grant, struct apply_result *result, char *err,
		 size_t err_len);

/* ---- bounded approvals (grant.c) ---- */

/* The approved file with `grant:` on the routes the current routes file
 * (o->routes_path) lacks, and the current routes they change kept after
 * them, unbounded; *out (caller frees) as pretty JSON, *bounded the routes
 * bounded (0: nothing new, *out is still the whole file). */
int grant_bound_routes(const struct supervise_options *o, const char *yaml, size_t len,
		       const struct route_grant *grant, char **out, size_t *out_len,
		       size_t *bounded, char *err, size_t err_len);
/* A proposal may keep a live route with a grant as it is, or drop it, but
 * not write or edit a grant: 0, or negative with msg for the agent. */
int grant_check_proposal(const struct routes *proposed, const char *live_json, char *msg,
			 size_t msg_len);

/* ---- the connection (connection.c) ---- */

struct supervise_connection {
	int fd;
	const struct supervise_options *options;
	struct buf in;
	struct http1_request req;
};

void *supervise_connection_main(void *arg);
/* 0 when fd is ready for events within timeout_ms, -ETIMEDOUT, or -errno. */
int supervise_wait_fd(int fd, short events, int timeout_ms);
/* Write all of data to fd within timeout_ms per wait. */
int supervise_write_all(int fd, const void *data, size_t len, int timeout_ms);

extern unsigned supervise_active_connections;

#endif

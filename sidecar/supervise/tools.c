/* The tools: their descriptions and input schemas (written for an LLM to
 * use right the first time), argument validation, and list-egress-routes.
 * egress-allow, egress-block and egress-proposal-status wait for the
 * operator in proposal.c. */
#include "supervise.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "../../shared/queue.h"
#include "../../shared/routes.h"
#include "fixtures.h"
#include "proposal.h"

#define ROUTES_KEYS                                                                               \
	"routes.yaml keys: top level `log` (off | blocks | all; must stay as it is now) and "     \
	"`routes` (a list, tried in order). A route: `host` (required: exact name "              \
	"api.example.com, wildcard \\\"*.example.com\\\" (quoted; not the apex), or an IP "       \
	"literal; never a port), `ports` (list, default [80, 443]), `matches` (list of entries, " \
	"any may match; an entry has at most one of `path`, `path_prefix`, `path_regex`, plus "   \
	"`methods` [GET, POST] and `headers` {name: exact value}), `tls_passthrough` (true: no "  \
	"TLS inspection; then no matches/auth/websocket), `websocket` (true to allow Upgrade: "   \
	"websocket), `outbound_on_match` (supervise | redact | block), `auth` {header, scheme, "  \
	"env} (credential injection from an environment variable), `addresses` (IPs or CIDRs "    \
	"the host may resolve to even if private), `grant` {id, expires_at, max_requests, "      \
	"state, requests_used} (written by supervise on routes a bounded approval added: keep "  \
	"such a route exactly as listed, or drop it; never write one). Example:\\nlog: blocks\\nroutes:\\n  - host: " \
	"api.github.com\\n    ports: [443]\\n    matches:\\n      - path_prefix: /repos/\\n     " \
	"   methods: [GET]\\n  - host: pypi.org\\n"

static const char tools_json[] =
	"["
	"{\"name\":\"list-egress-routes\",\"title\":\"List egress routes\","
	"\"description\":\"Return the routes egress enforces right now, as JSON with the "
	"routes.yaml keys (log, routes: host, ports, matches, ...). Call it before egress-allow or "
	"egress-block, and whenever a request was refused by egress (HTTP 403 with "
	"X-Bottle-Egress: denied), to build your proposal from the live file. Takes no "
	"arguments.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{},\"additionalProperties\":false},"
	"\"annotations\":{\"readOnlyHint\":true,\"idempotentHint\":true,\"openWorldHint\":false}},"

	"{\"name\":\"egress-allow\",\"title\":\"Ask the operator to allow egress\","
	"\"description\":\"Ask the human operator to let the sandbox reach more of the network. "
	"Call it when egress refused a request the task needs. Send the COMPLETE routes.yaml you "
	"want in force: the live routes from list-egress-routes plus the narrowest route that "
	"lets your request through (exact host, port, path_prefix and methods). The call waits "
	"(up to about 10 minutes, with progress notifications) and returns the decision as text: "
	"approved (egress already reloaded: retry your request), approved with changes (the "
	"final file is shown), rejected (with the operator's note: do not resubmit the same "
	"thing), or timed out (the proposal stays pending: call egress-proposal-status with its "
	"id; do not resubmit). " ROUTES_KEYS "\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"routes_yaml\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":262144,"
	"\"description\":\"The whole proposed routes.yaml (it replaces the file). Keep `log` "
	"as it is now and keep every route you did not mean to change.\"},"
	"\"justification\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
	"\"description\":\"For the operator: what you are doing, which request was refused, "
	"and why this access is needed.\"},"
	"\"expires_in\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":2592000,"
	"\"description\":\"Optional: the access is needed only for this many seconds. Egress "
	"then removes the routes this proposal adds by itself (routes you had before stay).\"},"
	"\"max_requests\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000000,"
	"\"description\":\"Optional: the access is needed only for this many requests (counted "
	"across the routes this proposal adds). Ask for bounds when the need is one-off: the "
	"operator approves bounded access more readily.\"}},"
	"\"required\":[\"routes_yaml\",\"justification\"],\"additionalProperties\":false},"
	"@EXEC@"
	"\"annotations\":{\"readOnlyHint\":false,\"destructiveHint\":false,"
	"\"openWorldHint\":false}},"

	"{\"name\":\"egress-block\",\"title\":\"Ask the operator to remove egress\","
	"\"description\":\"Ask the human operator to take access away: send the COMPLETE "
	"routes.yaml with the routes (or matches) removed or narrowed. It may not add a host "
	"that is not in the live routes (use egress-allow for that). Waits for the decision "
	"and returns it as text, like egress-allow. " ROUTES_KEYS "\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"routes_yaml\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":262144,"
	"\"description\":\"The whole proposed routes.yaml (it replaces the file).\"},"
	"\"justification\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":4096,"
	"\"description\":\"For the operator: why this access should go.\"}},"
	"\"required\":[\"routes_yaml\",\"justification\"],\"additionalProperties\":false},"
	"@EXEC@"
	"\"annotations\":{\"readOnlyHint\":false,\"destructiveHint\":true,"
	"\"openWorldHint\":false}},"

	"{\"name\":\"egress-proposal-status\",\"title\":\"Wait again for a proposal\","
	"\"description\":\"Check on a proposal that an earlier egress-allow or egress-block call "
	"left pending when it timed out, and wait for the operator's decision again (same "
	"answers and timeout as egress-allow). Use it instead of resubmitting.\","
	"\"inputSchema\":{\"type\":\"object\",\"properties\":{"
	"\"proposal_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":63,"
	"\"pattern\":\"^[A-Za-z0-9-]+$\","
	"\"description\":\"The id the timed-out call returned.\"}},"
	"\"required\":[\"proposal_id\"],\"additionalProperties\":false},"
	"@EXEC@"
	"\"annotations\":{\"readOnlyHint\":false,\"openWorldHint\":false}}"
	"]";

/* The waiting tools carry "@EXEC@" where, in sessions with tasks, their
 * execution.taskSupport goes. */
int tools_list_json(struct buf *out, bool with_tasks)
{
	static const char marker[] = "@EXEC@";
	const char *p = tools_json, *end = tools_json + sizeof(tools_json) - 2; /* no ']' */
	int ret = 0;

	while (ret == 0 && p < end) {
		const char *m = strstr(p, marker);

		if (!m || m >= end)
			m = end;
		ret = buf_append(out, p, (size_t)(m - p));
		if (ret == 0 && m < end && with_tasks)
			ret = buf_append_str(out, "\"execution\":{\"taskSupport\":\"optional\"},");
		p = m < end ? m + sizeof(marker) - 1 : end;
	}
	if (ret == 0)
		ret = fixtures_tools_json(out);
	if (ret == 0)
		ret = buf_append_str(out, "]");
	return ret;
}

static const char *const waiting_tools[] = { "egress-allow", "egress-block",
					     "egress-proposal-status" };

bool tools_waits(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(waiting_tools) / sizeof(waiting_tools[0]); i++)
		if (strcmp(name, waiting_tools[i]) == 0)
			return true;
	return fixtures_tool_streams(name);
}

bool tools_exists(const char *name)
{
	return strcmp(name, "list-egress-routes") == 0 || tools_waits(name) ||
	       fixtures_tool_exists(name);
}

int tools_text_result(struct buf *out, bool is_error, const char *text)
{
	int ret;

	buf_clear(out);
	ret = buf_append_str(out, "{\"content\":[{\"type\":\"text\",\"text\":");
	if (ret == 0)
		ret = json_append_string(out, text, strlen(text));
	if (ret == 0)
		ret = buf_appendf(out, "}],\"isError\":%s}", is_error ? "true" : "false");
	return ret;
}

/* ---- argument validation ---- */

/* Each key of args must be one of `allowed`; each `required` one present. */
static int check_keys(yyjson_val *args, const char *const *allowed, size_t nallowed,
		      const char *const *required, size_t nrequired, char *msg, size_t msg_len)
{
	yyjson_obj_iter it;
	yyjson_val *key;
	size_t i;

	if (args) {
		yyjson_obj_iter_init(args, &it);
		while ((key = yyjson_obj_iter_next(&it))) {
			bool known = false;

			for (i = 0; i < nallowed; i++)
				known |= strcmp(yyjson_get_str(key), allowed[i]) == 0;
			if (!known) {
				snprintf(msg, msg_len, "unknown argument '%.64s'", yyjson_get_str(key));
				return -EINVAL;
			}
		}
	}
	for (i = 0; i < nrequired; i++) {
		yyjson_val *v = yyjson_obj_get(args, required[i]);

		if (!yyjson_is_str(v) || yyjson_get_len(v) == 0) {
			snprintf(msg, msg_len, "argument '%s' is required (a non-empty string)",
				 required[i]);
			return -EINVAL;
		}
	}
	return 0;
}

static int optional_bound(yyjson_val *args, const char *name, uint64_t max, uint64_t *out,
			  char *msg, size_t msg_len)
{
	yyjson_val *v = yyjson_obj_get(args, name);

	*out = 0;
	if (!v || yyjson_is_null(v))
		return 0;
	/* Some clients send integral numbers as 30.0. */
	if (yyjson_is_real(v) && yyjson_get_real(v) == (double)(int64_t)yyjson_get_real(v) &&
	    yyjson_get_real(v) >= 1 && yyjson_get_real(v) <= (double)max) {
		*out = (uint64_t)yyjson_get_real(v);
		return 0;
	}
	if (!yyjson_is_int(v) || (yyjson_is_sint(v) && yyjson_get_sint(v) < 1) ||
	    (yyjson_is_uint(v) && (yyjson_get_uint(v) < 1 || yyjson_get_uint(v) > max))) {
		snprintf(msg, msg_len, "argument '%s' must be an integer from 1 to %" PRIu64, name,
			 max);
		return -EINVAL;
	}
	*out = yyjson_is_uint(v) ? yyjson_get_uint(v) : (uint64_t)yyjson_get_sint(v);
	return 0;
}

int tools_validate_proposal(yyjson_val *args, bool allow, struct tool_proposal *p, char *msg,
			    size_t msg_len)
{
	static const char *const allow_keys[] = { "routes_yaml", "justification", "expires_in",
						  "max_requests" };
	static const char *const required[] = { "routes_yaml", "justification" };
	struct routes *r = NULL;
	char err[512];
	int ret;

	memset(p, 0, sizeof(*p));
	ret = check_keys(args, allow_keys, allow ? 4 : 2, required, 2, msg, msg_len);
	if (ret < 0)
		return ret;
	p->routes_yaml = yyjson_get_str(yyjson_obj_get(args, "routes_yaml"));
	p->routes_len = yyjson_get_len(yyjson_obj_get(args, "routes_yaml"));
	p->justification = yyjson_get_str(yyjson_obj_get(args, "justification"));
	if (strlen(p->routes_yaml) != p->routes_len) {
		snprintf(msg, msg_len, "routes_yaml holds a NUL character");
		return -EINVAL;
	}
	if (yyjson_get_len(yyjson_obj_get(args, "justification")) > QUEUE_TEXT_MAX - 1) {
		snprintf(msg, msg_len, "justification is over %d bytes", QUEUE_TEXT_MAX - 1);
		return -EINVAL;
	}
	if (allow) {
		ret = optional_bound(args, "expires_in", 30ULL * 24 * 3600, &p->expires_in, msg,
				     msg_len);
		if (ret == 0)
			ret = optional_bound(args, "max_requests", 1000000000ULL, &p->max_requests,
					     msg, msg_len);
		if (ret < 0)
			return ret;
	}
	/* The same loader egress uses: a file that loads here loads there. */
	ret = routes_load_string("routes_yaml", p->routes_yaml, p->routes_len, &r, err, sizeof(err));
	if (ret < 0) {
		snprintf(msg, msg_len, "routes_yaml does not load: %s", err);
		return -EINVAL;
	}
	p->routes = r;
	return 0;
}

/* ---- list-egress-routes ---- */

static int tool_list_routes(struct tool_context *t, yyjson_val *args, struct buf *result)
{
	struct buf json, text;
	char err[512];
	int ret;

	if (args && yyjson_obj_size(args) > 0)
		return tools_text_result(result, true,
					 "list-egress-routes takes no arguments: call it with {}");
	buf_init(&json, 16 * 1024 * 1024);
	buf_init(&text, 16 * 1024 * 1024 + 1024);
	ret = egress_client_routes(t->options, &json, err, sizeof(err));
	if (ret < 0) {
		ret = tools_text_result(result, true, err);
		goto out;
	}
	ret = buf_appendf(&text,
			  "Live egress routes (JSON with the routes.yaml keys). To change them, "
			  "send the whole file as YAML to egress-allow or egress-block.\n%s",
			  json.p);
	if (ret == 0)
		ret = tools_text_result(result, false, text.p);
out:
	buf_release(&json);
	buf_release(&text);
	return ret;
}

int tools_call(struct tool_context *t, const char *name, yyjson_val *args, struct buf *result,
	       char *err, size_t err_len)
{
	if (strcmp(name, "list-egress-routes") == 0)
		return tool_list_routes(t, args, result);
	if (strcmp(name, "egress-allow") == 0)
		return proposal_tool(t, QUEUE_EGRESS_ALLOW, args, result);
	if (strcmp(name, "egress-block") == 0)
		return proposal_tool(t, QUEUE_EGRESS_BLOCK, args, result);
	if (strcmp(name, "egress-proposal-status") == 0)
		return proposal_status_tool(t, args, result);
	if (fixtures_tool_exists(name))
		return fixtures_tool_call(t, name, result);
	snprintf(err, err_len, "unknown tool '%.64s': see tools/list", name);
	return JSONRPC_INVALID_PARAMS;
}

/* The live table as JSON, keyed as routes.yaml is (docs/routes.md): the
 * supervise server shows it to the agent, who proposes edits in the same
 * shape.  Absent optionals stay absent; defaults are not spelled out. */
#include "routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <yyjson.h>

#include "queue.h"

static bool add_address(yyjson_mut_doc *doc, yyjson_mut_val *arr, const struct route_address *a)
{
	char text[INET6_ADDRSTRLEN + 8];
	unsigned full = a->family == AF_INET ? 32 : 128;
	size_t len;

	if (!inet_ntop(a->family, a->bytes, text, sizeof(text)))
		return false;
	len = strlen(text);
	if (a->prefix_len != full)
		snprintf(text + len, sizeof(text) - len, "/%u", (unsigned)a->prefix_len);
	return yyjson_mut_arr_add_strcpy(doc, arr, text);
}

static bool add_match(yyjson_mut_doc *doc, yyjson_mut_val *arr, const struct route_match *m)
{
	static const char *const path_keys[] = { NULL, "path", "path_prefix", "path_regex" };
	yyjson_mut_val *obj = yyjson_mut_arr_add_obj(doc, arr), *list;
	size_t i;

	if (!obj)
		return false;
	if (m->path_kind != ROUTE_PATH_ANY &&
	    !yyjson_mut_obj_add_str(doc, obj, path_keys[m->path_kind], m->path))
		return false;
	if (m->methods) {
		list = yyjson_mut_obj_add_arr(doc, obj, "methods");
		if (!list)
			return false;
		for (i = 0; m->methods[i]; i++)
			if (!yyjson_mut_arr_add_str(doc, list, m->methods[i]))
				return false;
	}
	if (m->nheaders) {
		list = yyjson_mut_obj_add_obj(doc, obj, "headers");
		if (!list)
			return false;
		for (i = 0; i < m->nheaders; i++)
			if (!yyjson_mut_obj_add_str(doc, list, m->headers[i].name,
						    m->headers[i].value))
				return false;
	}
	return true;
}

/* The grant as routes.yaml writes it, and with a ledger its state too. */
static bool add_grant(yyjson_mut_doc *doc, yyjson_mut_val *route_obj, const struct route_grant *g,
		      struct routes_grants *grants)
{
	yyjson_mut_val *obj = yyjson_mut_obj_add_obj(doc, route_obj, "grant");
	struct route_grant_status status = { .state = ROUTE_GRANT_UNUSABLE };
	char when[QUEUE_TIME_MAX];

	if (!obj || !yyjson_mut_obj_add_strcpy(doc, obj, "id", g->id))
		return false;
	if (g->expires_at) {
		queue_format_time(g->expires_at, when);
		if (!yyjson_mut_obj_add_strcpy(doc, obj, "expires_at", when))
			return false;
	}
	if (g->max_requests && !yyjson_mut_obj_add_uint(doc, obj, "max_requests", g->max_requests))
		return false;
	if (!grants)
		return true;
	if (grants->use(grants, g, false, &status) < 0)
		status = (struct route_grant_status){ .state = ROUTE_GRANT_UNUSABLE };
	return yyjson_mut_obj_add_str(doc, obj, "state", route_grant_state_name(status.state)) &&
	       yyjson_mut_obj_add_uint(doc, obj, "requests_used", status.used);
}

static bool add_route(yyjson_mut_doc *doc, yyjson_mut_val *arr, const struct route *route,
		      struct routes_grants *grants)
{
	yyjson_mut_val *obj = yyjson_mut_arr_add_obj(doc, arr), *list;
	char host[300];
	size_t i;

	if (!obj)
		return false;
	snprintf(host, sizeof(host), "%s%s", route->wildcard ? "*." : "", route->host);
	if (!yyjson_mut_obj_add_strcpy(doc, obj, "host", host))
		return false;
	if (route->ports) {
		list = yyjson_mut_obj_add_arr(doc, obj, "ports");
		if (!list)
			return false;
		for (i = 0; i < route->nports; i++)
			if (!yyjson_mut_arr_add_uint(doc, list, route->ports[i]))
				return false;
	}
	if (route->outbound_set &&
	    !yyjson_mut_obj_add_str(doc, obj, "outbound_on_match",
				    route_outbound_name(route->outbound_on_match)))
		return false;
	if (route->auth) {
		list = yyjson_mut_obj_add_obj(doc, obj, "auth");
		if (!list || !yyjson_mut_obj_add_str(doc, list, "header", route->auth->header) ||
		    (route->auth->scheme &&
		     !yyjson_mut_obj_add_str(doc, list, "scheme", route->auth->scheme)) ||
		    !yyjson_mut_obj_add_str(doc, list, "env", route->auth->env))
			return false;
	}
	if (route->matches) {
		list = yyjson_mut_obj_add_arr(doc, obj, "matches");
		if (!list)
			return false;
		for (i = 0; i < route->nmatches; i++)
			if (!add_match(doc, list, &route->matches[i]))
				return false;
	}
	if (route->tls_passthrough && !yyjson_mut_obj_add_bool(doc, obj, "tls_passthrough", true))
		return false;
	if (route->websocket && !yyjson_mut_obj_add_bool(doc, obj, "websocket", true))
		return false;
	if (route->addresses) {
		list = yyjson_mut_obj_add_arr(doc, obj, "addresses");
		if (!list)
			return false;
		for (i = 0; i < route->naddresses; i++)
			if (!add_address(doc, list, &route->addresses[i]))
				return false;
	}
	return !route->grant || add_grant(doc, obj, route->grant, grants);
}

int routes_to_json_with_grants(const struct routes *r, struct routes_grants *grants,
			       struct buf *out)
{
	yyjson_mut_doc *doc = NULL;
	yyjson_mut_val *root, *arr;
	char *text = NULL;
	size_t len = 0, i;
	int ret = -EINVAL;

	if (!r || !out)
		goto out;
	ret = -ENOMEM;
	doc = yyjson_mut_doc_new(NULL);
	if (!doc)
		goto out;
	root = yyjson_mut_obj(doc);
	if (!root)
		goto out;
	yyjson_mut_doc_set_root(doc, root);
	if (!yyjson_mut_obj_add_str(doc, root, "log", routes_log_name(r->log)))
		goto out;
	arr = yyjson_mut_obj_add_arr(doc, root, "routes");
	if (!arr)
		goto out;
	for (i = 0; i < r->n; i++)
		if (!add_route(doc, arr, &r->v[i], grants))
			goto out;
	/* ASCII only: the text goes into logs, MCP answers and YAML editors,
	 * where a raw U+2028 or NEL in a header value would read as a line break. */
	text = yyjson_mut_write(doc, YYJSON_WRITE_ESCAPE_UNICODE, &len);
	if (!text)
		goto out;
	ret = buf_append(out, text, len);
out:
	free(text);
	yyjson_mut_doc_free(doc);
	return ret;
}

int routes_to_json(const struct routes *r, struct buf *out)
{
	return routes_to_json_with_grants(r, NULL, out);
}

/* The bundle's routes.yaml from a resolved agent.  Each bottle's table was
 * loaded by the routes loader; routes_to_json() gives it back with the
 * schema's keys, so the rendered file is those arrays spliced in order
 * behind the provider's API route, and loads with the same loader. */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <yyjson.h>

void manifest_provider_route(enum manifest_provider p, struct manifest_provider_route *out)
{
	memset(out, 0, sizeof(*out));
	switch (p) {
	case MANIFEST_PROVIDER_CLAUDE:
		out->host = "api.anthropic.com";
		out->header = "x-api-key";
		out->env = "ANTHROPIC_API_KEY";
		break;
	case MANIFEST_PROVIDER_CODEX:
		out->host = "api.openai.com";
		out->header = "Authorization";
		out->scheme = "Bearer";
		out->env = "OPENAI_API_KEY";
		break;
	case MANIFEST_PROVIDER_CUSTOM:
		break;
	}
}

static int add_provider_route(yyjson_mut_doc *doc, yyjson_mut_val *routes,
			      enum manifest_provider p)
{
	struct manifest_provider_route api;
	yyjson_mut_val *route, *ports, *auth;

	manifest_provider_route(p, &api);
	if (!api.host)
		return 0;
	route = yyjson_mut_arr_add_obj(doc, routes);
	if (!route || !yyjson_mut_obj_add_str(doc, route, "host", api.host))
		return -ENOMEM;
	ports = yyjson_mut_obj_add_arr(doc, route, "ports");
	if (!ports || !yyjson_mut_arr_add_uint(doc, ports, 443))
		return -ENOMEM;
	auth = yyjson_mut_obj_add_obj(doc, route, "auth");
	if (!auth || !yyjson_mut_obj_add_str(doc, auth, "header", api.header) ||
	    (api.scheme && !yyjson_mut_obj_add_str(doc, auth, "scheme", api.scheme)) ||
	    !yyjson_mut_obj_add_str(doc, auth, "env", api.env))
		return -ENOMEM;
	return 0;
}

/* Append the routes of one loaded table to `routes`. */
static int add_table(yyjson_mut_doc *doc, yyjson_mut_val *routes, const struct routes *table)
{
	yyjson_val *list, *item;
	yyjson_doc *parsed;
	size_t i, n;
	struct buf json;
	int ret = -ENOMEM;

	buf_init(&json, (size_t)-1);
	if (routes_to_json(table, &json) < 0)
		goto out;
	parsed = yyjson_read(json.p, json.len, 0);
	if (!parsed) {
		ret = -EINVAL;
		goto out;
	}
	list = yyjson_obj_get(yyjson_doc_get_root(parsed), "routes");
	n = yyjson_arr_size(list);
	for (i = 0; i < n; i++) {
		item = yyjson_arr_get(list, i);
		if (!yyjson_mut_arr_append(routes, yyjson_val_mut_copy(doc, item)))
			break;
	}
	yyjson_doc_free(parsed);
	if (i == n)
		ret = 0;
out:
	buf_release(&json);
	return ret;
}

int render_routes(const struct manifest_agent *a, struct buf *out)
{
	const struct manifest_bottle *b = &a->bottle;
	yyjson_mut_val *root, *routes;
	yyjson_mut_doc *doc;
	char *text = NULL;
	size_t i, len;
	int ret = -ENOMEM;

	doc = yyjson_mut_doc_new(NULL);
	if (!doc)
		return -ENOMEM;
	root = yyjson_mut_obj(doc);
	if (!root)
		goto out;
	yyjson_mut_doc_set_root(doc, root);
	if (!yyjson_mut_obj_add_str(doc, root, "log", routes_log_name(b->log)))
		goto out;
	routes = yyjson_mut_obj_add_arr(doc, root, "routes");
	if (!routes)
		goto out;
	/* First: egress tries routes in order, and the provider's API must
	 * always get its key injected, whatever a bottle says about the host. */
	ret = add_provider_route(doc, routes, a->provider);
	for (i = 0; i < b->negress && ret == 0; i++)
		ret = add_table(doc, routes, b->egress[i].routes);
	if (ret < 0)
		goto out;
	ret = -ENOMEM;
	text = yyjson_mut_write(doc, YYJSON_WRITE_PRETTY_TWO_SPACES, &len);
	if (!text)
		goto out;
	ret = buf_appendf(out, "# routes.yaml for agent %s (bottle %s), rendered by bottle-host\n",
			  a->name, b->name);
	if (ret == 0)
		ret = buf_append(out, text, len);
	if (ret == 0)
		ret = buf_append(out, "\n", 1);
out:
	free(text);
	yyjson_mut_doc_free(doc);
	return ret;
}

/* Bounded approvals: the `grant:` key on the routes an approval adds
 * (docs/supervise.md, "Grant bounds"; docs/routes.md, "Grants").
 *
 * A bounded approval is an overlay on the routes in force: the routes of
 * the approved file that the current file lacks get the grant, and a
 * current route the approval changed stays too, unbounded, right after
 * the bounded routes for its host.  Egress skips a route whose grant ended,
 * so the end of a grant takes away only what it added, with no rewrite of
 * the file.  Routes are compared structurally: as routes_to_json() renders
 * them, which ignores layout, comments and the order of keys. */
#include "supervise.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/queue.h"
#include "../../shared/routes.h"

/* The routes of a table as JSON values: 0 with *doc set (the caller frees
 * it), or negative with err. */
static int routes_doc(const struct routes *r, yyjson_doc **doc, char *err, size_t err_len)
{
	struct buf json;
	int ret;

	buf_init(&json, 16 * 1024 * 1024);
	ret = routes_to_json(r, &json);
	*doc = ret == 0 ? yyjson_read(json.p, json.len, 0) : NULL;
	buf_release(&json);
	if (!*doc) {
		snprintf(err, err_len, "cannot render the routes");
		return -ENOMEM;
	}
	return 0;
}

static yyjson_val *doc_routes(yyjson_doc *doc)
{
	return yyjson_obj_get(yyjson_doc_get_root(doc), "routes");
}

/* Whether `route` is one of the routes in `list`, exactly. */
static bool list_holds(yyjson_val *list, yyjson_val *route)
{
	yyjson_val *x;
	size_t i, n;

	yyjson_arr_foreach(list, i, n, x)
		if (yyjson_equals(x, route))
			return true;
	return false;
}

int grant_check_proposal(const struct routes *proposed, const char *live_json, char *msg,
			 size_t msg_len)
{
	yyjson_doc *mine = NULL, *live = yyjson_read(live_json, strlen(live_json), 0);
	yyjson_val *route;
	size_t i, n;
	int ret;

	if (!live) {
		snprintf(msg, msg_len, "egress returned routes that are not JSON");
		return -EPROTO;
	}
	ret = routes_doc(proposed, &mine, msg, msg_len);
	if (ret < 0)
		goto out;
	yyjson_arr_foreach(doc_routes(mine), i, n, route) {
		if (!yyjson_obj_get(route, "grant") || list_holds(doc_routes(live), route))
			continue;
		snprintf(msg, msg_len,
			 "routes[%zu] has a grant: key the live routes do not have in that form. "
			 "Grant keys are written by supervise: keep a live route that has one "
			 "exactly as it is (or remove the whole route), and ask for bounds with "
			 "expires_in and max_requests instead.",
			 i);
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	yyjson_doc_free(mine);
	yyjson_doc_free(live);
	return ret;
}

static bool add_grant(yyjson_mut_doc *doc, yyjson_mut_val *route, const struct route_grant *g)
{
	yyjson_mut_val *obj = yyjson_mut_obj_add_obj(doc, route, "grant");
	char when[QUEUE_TIME_MAX];

	if (!obj || !yyjson_mut_obj_add_strcpy(doc, obj, "id", g->id))
		return false;
	if (g->expires_at) {
		queue_format_time(g->expires_at, when);
		if (!yyjson_mut_obj_add_strcpy(doc, obj, "expires_at", when))
			return false;
	}
	return !g->max_requests || yyjson_mut_obj_add_uint(doc, obj, "max_requests", g->max_requests);
}

/* Build the file: approved routes in order, new ones bounded, each
 * followed by the changed current routes of its host. */
static int overlay(yyjson_doc *approved, yyjson_doc *current, const struct route_grant *g,
		   yyjson_mut_doc *out, size_t *bounded)
{
	yyjson_val *a_list = doc_routes(approved), *c_list = current ? doc_routes(current) : NULL;
	yyjson_val *a, *c;
	yyjson_mut_val *root, *list, *copy;
	size_t i, n, j, m;
	bool *placed;
	int ret = -ENOMEM;

	placed = calloc(yyjson_arr_size(c_list) + 1, sizeof(*placed));
	root = yyjson_mut_obj(out);
	if (!placed || !root)
		goto out;
	yyjson_mut_doc_set_root(out, root);
	if (!yyjson_mut_obj_add_val(out, root, "log",
				    yyjson_val_mut_copy(out, yyjson_obj_get(yyjson_doc_get_root(approved), "log"))))
		goto out;
	list = yyjson_mut_obj_add_arr(out, root, "routes");
	if (!list)
		goto out;
	/* Current routes the approval keeps as they are are not "changed". */
	yyjson_arr_foreach(c_list, j, m, c)
		placed[j] = list_holds(a_list, c);
	yyjson_arr_foreach(a_list, i, n, a) {
		bool fresh = !list_holds(c_list, a) && !yyjson_obj_get(a, "grant");

		copy = yyjson_val_mut_copy(out, a);
		if (!copy || !yyjson_mut_arr_append(list, copy) || (fresh && !add_grant(out, copy, g)))
			goto out;
		if (!fresh)
			continue;
		(*bounded)++;
		yyjson_arr_foreach(c_list, j, m, c) {
			if (placed[j] || !yyjson_equals(yyjson_obj_get(a, "host"), yyjson_obj_get(c, "host")))
				continue;
			placed[j] = true;
			copy = yyjson_val_mut_copy(out, c);
			if (!copy || !yyjson_mut_arr_append(list, copy))
				goto out;
		}
	}
	ret = 0;
out:
	free(placed);
	return ret;
}

int grant_bound_routes(const struct supervise_options *o, const char *yaml, size_t len,
		       const struct route_grant *g, char **out, size_t *out_len, size_t *bounded,
		       char *err, size_t err_len)
{
	struct routes *approved = NULL, *current = NULL;
	yyjson_doc *a_doc = NULL, *c_doc = NULL;
	yyjson_mut_doc *doc = NULL;
	char lerr[512];
	int ret;

	*out = NULL;
	*bounded = 0;
	ret = routes_load_string("routes.yaml", yaml, len, &approved, lerr, sizeof(lerr));
	if (ret < 0) {
		snprintf(err, err_len, "the approved routes do not load: %s", lerr);
		goto out;
	}
	ret = routes_doc(approved, &a_doc, err, err_len);
	if (ret < 0)
		goto out;
	/* No current file (a first approval): every route is new. */
	if (routes_load_file(o->routes_path, &current, lerr, sizeof(lerr)) == 0) {
		ret = routes_doc(current, &c_doc, err, err_len);
		if (ret < 0)
			goto out;
	}
	ret = -ENOMEM;
	doc = yyjson_mut_doc_new(NULL);
	if (!doc || overlay(a_doc, c_doc, g, doc, bounded) < 0) {
		snprintf(err, err_len, "out of memory bounding the approved routes");
		goto out;
	}
	/* The same layout bottle-host renders routes.yaml in: JSON is YAML. */
	*out = yyjson_mut_write(doc, YYJSON_WRITE_PRETTY_TWO_SPACES | YYJSON_WRITE_ESCAPE_UNICODE,
				out_len);
	if (!*out) {
		snprintf(err, err_len, "out of memory bounding the approved routes");
		goto out;
	}
	ret = 0;
out:
	yyjson_mut_doc_free(doc);
	yyjson_doc_free(a_doc);
	yyjson_doc_free(c_doc);
	if (approved)
		routes_unref(approved);
	if (current)
		routes_unref(current);
	return ret;
}

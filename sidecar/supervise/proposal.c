/* egress-allow, egress-block and egress-proposal-status: queue a proposal
 * (shared/queue.h), wait for the operator's answer within
 * --approval-timeout while telling the client we are alive, act on it, and
 * say what happened in text an agent can act on.
 *
 * The wait polls the queue every --queue-poll and sleeps in poll() on the
 * client socket (a hang-up means the client went away) and the call's
 * eventfd (notifications/cancelled, DELETE of the session). */
#include "proposal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../shared/config_yaml.h"
#include "../../shared/log.h"

/* Proposals a call is waiting on in this process; the sweeper leaves
 * them to their waiter. */
struct active_proposal {
	struct active_proposal *next;
	char id[QUEUE_ID_MAX];
};

static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static struct active_proposal *active;

/* false when someone already waits on id. */
static bool active_add(struct active_proposal *a, const char *id)
{
	struct active_proposal *x;

	pthread_mutex_lock(&active_lock);
	for (x = active; x; x = x->next) {
		if (strcmp(x->id, id) == 0) {
			pthread_mutex_unlock(&active_lock);
			return false;
		}
	}
	snprintf(a->id, sizeof(a->id), "%s", id);
	a->next = active;
	active = a;
	pthread_mutex_unlock(&active_lock);
	return true;
}

static void active_remove(struct active_proposal *a)
{
	struct active_proposal **pp;

	pthread_mutex_lock(&active_lock);
	for (pp = &active; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&active_lock);
}

/* The hosts of a routes JSON (routes_to_json's shape), for egress-block's
 * "adds no host" rule. */
static bool hosts_subset(const char *proposed_json, const char *live_json)
{
	yyjson_doc *a = yyjson_read(proposed_json, strlen(proposed_json), 0);
	yyjson_doc *b = yyjson_read(live_json, strlen(live_json), 0);
	yyjson_val *ra, *rb, *x, *y;
	yyjson_arr_iter ia, ib;
	bool ok = a && b;

	if (!ok)
		goto out;
	ra = yyjson_obj_get(yyjson_doc_get_root(a), "routes");
	rb = yyjson_obj_get(yyjson_doc_get_root(b), "routes");
	yyjson_arr_iter_init(ra, &ia);
	while (ok && (x = yyjson_arr_iter_next(&ia))) {
		bool found = false;

		yyjson_arr_iter_init(rb, &ib);
		while (!found && (y = yyjson_arr_iter_next(&ib)))
			found = yyjson_equals(yyjson_obj_get(x, "host"), yyjson_obj_get(y, "host"));
		ok = found;
	}
out:
	yyjson_doc_free(a);
	yyjson_doc_free(b);
	return ok;
}

static const char *live_log(yyjson_doc *doc)
{
	yyjson_val *v = yyjson_obj_get(yyjson_doc_get_root(doc), "log");

	return yyjson_is_str(v) ? yyjson_get_str(v) : "";
}

/* Tell the client we are alive: a progress notification when it gave a
 * token, else an SSE comment.  Negative when the client is gone. */
static int send_progress(struct tool_context *t, const char *id, uint64_t elapsed_ms)
{
	uint64_t total = t->options->approval_timeout_ms / 1000, progress = elapsed_ms / 1000;
	struct buf msg;
	int ret;

	if (!t->progress_token)
		return t->keepalive ? t->keepalive(t) : 0;
	/* Progress must increase with every notification. */
	if (progress <= t->progress_sent && t->progress_sent > 0)
		progress = t->progress_sent + 1;
	if (progress == 0)
		progress = t->progress_sent == 0 ? 0 : 1;
	buf_init(&msg, 1024);
	ret = buf_appendf(&msg,
			  "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":"
			  "{\"progressToken\":%s,\"progress\":%" PRIu64 ",\"total\":%" PRIu64
			  ",\"message\":\"waiting for the operator to decide proposal %s "
			  "(%" PRIu64 "s of %" PRIu64 "s)\"}}",
			  t->progress_token, progress, total > progress ? total : progress + 1, id,
			  elapsed_ms / 1000, total);
	if (ret == 0 && t->send_event)
		ret = t->send_event(t, msg.p);
	buf_release(&msg);
	t->progress_sent = progress;
	return ret;
}

/* 1 when the client hung up or cancelled, else 0 after at most wait_ms. */
static int wait_client_gone(struct tool_context *t, int wait_ms)
{
	struct pollfd pfd[2];
	nfds_t n = 0;
	int r;

	if (t->waiting) {
		pfd[n++] = (struct pollfd){ .fd = t->waiting->wake_fd, .events = POLLIN };
		if (waiting_call_is_cancelled(t->waiting))
			return 1;
	}
	if (t->fd >= 0)
		pfd[n++] = (struct pollfd){ .fd = t->fd, .events = POLLRDHUP };
	do
		r = poll(pfd, n, wait_ms);
	while (r < 0 && errno == EINTR);
	if (r <= 0)
		return 0;
	if (t->waiting && waiting_call_is_cancelled(t->waiting))
		return 1;
	return t->fd >= 0 && (pfd[n - 1].revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

/* The grant a bounded egress-allow approval puts on the routes it adds;
 * false when the answer carries no bounds. */
static bool grant_of(const struct queue_proposal *p, const struct queue_response *r,
		     struct route_grant *g)
{
	time_t decided;

	memset(g, 0, sizeof(*g));
	if (p->kind != QUEUE_EGRESS_ALLOW || (!r->bounds.expires_in && !r->bounds.max_requests))
		return false;
	snprintf(g->id, sizeof(g->id), "%s", p->id);
	/* The bound runs from the operator's decision, as the tool promises. */
	if (r->bounds.expires_in) {
		if (queue_parse_time(r->decided, &decided) < 0)
			decided = time(NULL);
		g->expires_at = decided + (time_t)r->bounds.expires_in;
	}
	g->max_requests = r->bounds.max_requests;
	return true;
}

static int append_grant(struct buf *text, const struct route_grant *g, size_t bounded)
{
	char when[QUEUE_TIME_MAX];
	int ret;

	if (!bounded)
		return buf_append_str(text, "\nThe approval was bounded, but it adds no route, so "
					    "nothing is bounded.");
	ret = buf_appendf(text, "\nThis is grant %s, on the %zu route%s it adds: egress allows "
				"them", g->id, bounded, bounded == 1 ? "" : "s");
	if (ret == 0 && g->expires_at) {
		queue_format_time(g->expires_at, when);
		ret = buf_appendf(text, " until %s", when);
	}
	if (ret == 0 && g->max_requests)
		ret = buf_appendf(text, "%s for %" PRIu64 " request%s in all",
				  g->expires_at ? " and at most" : "", g->max_requests,
				  g->max_requests == 1 ? "" : "s");
	if (ret == 0)
		ret = buf_append_str(text, ", then removes them by itself and answers 403 naming "
					   "the grant. Routes you had before stay. Call egress-allow "
					   "again if you still need the access then.");
	return ret;
}

/* Act on an answer: apply approved routes, archive, describe. */
static int act_on_answer(struct tool_context *t, const char *id, struct queue_response *resp,
			 struct buf *result)
{
	const struct supervise_options *o = t->options;
	struct apply_result applied = { 0 };
	struct queue_proposal prop;
	struct route_grant grant;
	struct buf text;
	char err[1024];
	const char *yaml;
	bool is_error = false, bounded;
	int ret;

	memset(&prop, 0, sizeof(prop));
	buf_init(&text, 2 * SUPERVISE_BODY_MAX);
	ret = queue_read_proposal(o->queue_dir, id, &prop, err, sizeof(err));
	if (ret < 0) {
		ret = tools_text_result(result, true, err);
		goto out;
	}
	if (resp->verdict == QUEUE_REJECTED) {
		ret = buf_appendf(&text,
				  "Rejected: the operator turned down proposal %s. Their note: %s\n"
				  "Do not resubmit the same proposal; change your approach or ask the "
				  "user.",
				  id, resp->note && resp->note[0] ? resp->note : "(none)");
		goto archive;
	}
	yaml = resp->verdict == QUEUE_MODIFIED && resp->routes_yaml ? resp->routes_yaml
								    : prop.routes_yaml;
	if (!yaml) {
		ret = buf_appendf(&text, "Proposal %s was approved but holds no routes.yaml", id);
		is_error = true;
		goto archive;
	}
	bounded = grant_of(&prop, resp, &grant);
	ret = apply_routes(o, yaml, strlen(yaml), bounded ? &grant : NULL, &applied, err,
			   sizeof(err));
	if (applied.written)
		yaml = applied.written;
	if (ret < 0) {
		is_error = true;
		ret = buf_appendf(&text,
				  "The operator approved proposal %s, but applying it failed: %s. "
				  "The previous routes may still be in force: check with "
				  "list-egress-routes and tell the user.",
				  id, err);
		goto archive;
	}
	if (resp->verdict == QUEUE_MODIFIED)
		ret = buf_appendf(&text,
				  "Approved with changes: the operator edited proposal %s before "
				  "approving it. Egress has reloaded; this is the routes.yaml now in "
				  "force (it may allow less than you asked):\n%s",
				  id, yaml);
	else
		ret = buf_appendf(&text,
				  "Approved: the operator accepted proposal %s. Egress has reloaded "
				  "and enforces the new routes now: retry your request.",
				  id);
	if (ret == 0 && bounded)
		ret = append_grant(&text, &grant, applied.bounded);
	if (ret == 0 && resp->note && resp->note[0])
		ret = buf_appendf(&text, "\nOperator's note: %s", resp->note);
archive:
	if (queue_archive(o->queue_dir, id, err, sizeof(err)) < 0)
		log_warn("proposal %s: %s", id, err);
	if (ret == 0)
		ret = tools_text_result(result, is_error, text.p);
out:
	free(applied.written);
	queue_proposal_release(&prop);
	buf_release(&text);
	return ret;
}

/* The waiter gave up: withdraw, unless the operator answered first, in
 * which case the answer is acted on all the same. */
static void give_up(struct tool_context *t, const char *id)
{
	struct queue_response resp;
	struct buf ignored;
	char err[512];
	int ret;

	ret = queue_withdraw(t->options->queue_dir, id, err, sizeof(err));
	if (ret == 0) {
		log_info("proposal %s withdrawn: its client went away", id);
		return;
	}
	if (ret != -EALREADY) {
		log_warn("proposal %s: %s", id, err);
		return;
	}
	memset(&resp, 0, sizeof(resp));
	if (queue_poll_response(t->options->queue_dir, id, &resp, err, sizeof(err)) == 1) {
		buf_init(&ignored, 4 * SUPERVISE_BODY_MAX);
		(void)act_on_answer(t, id, &resp, &ignored);
		buf_release(&ignored);
	}
	queue_response_release(&resp);
}

/* A proposal no longer pending: say what became of it. */
static int describe_done(struct tool_context *t, const char *id, struct buf *result)
{
	struct queue_response resp;
	char err[512] = "", text[2048];
	int ret;

	memset(&resp, 0, sizeof(resp));
	ret = queue_status(t->options->queue_dir, id, err, sizeof(err));
	if (ret == QUEUE_WITHDRAWN) {
		snprintf(text, sizeof(text),
			 "Proposal %s was withdrawn (its caller went away before a decision); "
			 "submit a new one if you still need it.", id);
		return tools_text_result(result, true, text);
	}
	if (ret == QUEUE_PENDING)
		snprintf(err, sizeof(err), "it is still waiting for the operator");
	if ((ret != QUEUE_PROCESSED && ret != QUEUE_ANSWERED) ||
	    queue_read_response(t->options->queue_dir, id, &resp, err, sizeof(err)) < 0) {
		snprintf(text, sizeof(text), "No answer to read for proposal %s: %s", id,
			 err[0] ? err : "its files are missing");
		return tools_text_result(result, true, text);
	}
	if (resp.verdict == QUEUE_REJECTED)
		snprintf(text, sizeof(text),
			 "Rejected: the operator turned down proposal %s. Their note: %.1500s\n"
			 "Do not resubmit the same proposal.", id,
			 resp.note && resp.note[0] ? resp.note : "(none)");
	else
		snprintf(text, sizeof(text),
			 "Approved%s: the operator accepted proposal %s and it was applied then; "
			 "list-egress-routes shows the routes in force.%s%.1500s",
			 resp.verdict == QUEUE_MODIFIED ? " with changes" : "", id,
			 resp.note && resp.note[0] ? " Operator's note: " : "",
			 resp.note && resp.note[0] ? resp.note : "");
	queue_response_release(&resp);
	return tools_text_result(result, false, text);
}

static int wait_for_answer_locked(struct tool_context *t, const char *id, struct buf *result);

static int wait_for_answer(struct tool_context *t, const char *id, struct buf *result)
{
	struct active_proposal a;
	int ret;

	/* Another call (or the sweeper) is on it: wait for it to finish. */
	while (!active_add(&a, id)) {
		if (wait_client_gone(t, t->options->queue_poll_ms))
			return -ECANCELED;
	}
	ret = wait_for_answer_locked(t, id, result);
	active_remove(&a);
	return ret;
}

static int wait_for_answer_locked(struct tool_context *t, const char *id, struct buf *result)
{
	const struct supervise_options *o = t->options;
	uint64_t start = supervise_now_ms(), deadline = start + o->approval_timeout_ms;
	uint64_t next_progress = start;
	struct queue_response resp;
	char err[512], text[1024], dur[32];
	int ret;

	for (;;) {
		uint64_t now = supervise_now_ms(), wait;

		memset(&resp, 0, sizeof(resp));
		ret = queue_poll_response(o->queue_dir, id, &resp, err, sizeof(err));
		if (ret == 1) {
			ret = act_on_answer(t, id, &resp, result);
			queue_response_release(&resp);
			return ret;
		}
		queue_response_release(&resp);
		if (ret < 0)
			return describe_done(t, id, result);
		if (now >= deadline) {
			config_format_duration(o->approval_timeout_ms, dur, sizeof(dur));
			snprintf(text, sizeof(text),
				 "Timed out: the operator has not decided proposal %s within %s. It "
				 "is still pending. To wait again, call egress-proposal-status with "
				 "{\"proposal_id\": \"%s\"}; do not submit it again.",
				 id, dur, id);
			return tools_text_result(result, false, text);
		}
		if (now >= next_progress) {
			if (send_progress(t, id, now - start) < 0) {
				give_up(t, id);
				return -ECANCELED;
			}
			next_progress = now + (uint64_t)o->progress_interval_ms;
		}
		wait = (uint64_t)o->queue_poll_ms;
		if (next_progress - now < wait)
			wait = next_progress - now;
		if (deadline - now < wait)
			wait = deadline - now;
		if (wait_client_gone(t, (int)wait)) {
			give_up(t, id);
			return -ECANCELED;
		}
	}
}

int proposal_tool(struct tool_context *t, enum queue_kind kind, yyjson_val *args,
		  struct buf *result)
{
	const struct supervise_options *o = t->options;
	bool allow = kind == QUEUE_EGRESS_ALLOW;
	struct tool_proposal p;
	struct queue_proposal qp;
	struct buf live, proposed;
	yyjson_doc *live_doc = NULL;
	char msg[1024], err[512];
	int ret;

	buf_init(&live, 16 * 1024 * 1024);
	buf_init(&proposed, 16 * 1024 * 1024);
	ret = tools_validate_proposal(args, allow, &p, msg, sizeof(msg));
	if (ret < 0) {
		ret = tools_text_result(result, true, msg);
		goto out;
	}
	ret = egress_client_routes_canonical(o, &live, err, sizeof(err));
	if (ret < 0) {
		snprintf(msg, sizeof(msg), "cannot compare with the live routes: %s", err);
		ret = tools_text_result(result, true, msg);
		goto out;
	}
	live_doc = yyjson_read(live.p, live.len, 0);
	if (!live_doc) {
		ret = tools_text_result(result, true, "egress returned routes that are not JSON");
		goto out;
	}
	if (strcmp(live_log(live_doc), routes_log_name(p.routes->log)) != 0) {
		snprintf(msg, sizeof(msg),
			 "routes_yaml may not change logging: the live file says `log: %s`, yours "
			 "`log: %s`. Keep `log: %s`.",
			 live_log(live_doc), routes_log_name(p.routes->log), live_log(live_doc));
		ret = tools_text_result(result, true, msg);
		goto out;
	}
	if (grant_check_proposal(p.routes, live.p, msg, sizeof(msg)) < 0) {
		ret = tools_text_result(result, true, msg);
		goto out;
	}
	ret = routes_to_json(p.routes, &proposed);
	if (ret < 0)
		goto out;
	if (str_equal(buf_str(&proposed), buf_str(&live))) {
		ret = tools_text_result(result, true,
					"routes_yaml is the same as the live routes: nothing to ask "
					"for. Add or change a route first.");
		goto out;
	}
	if (!allow && !hosts_subset(proposed.p, live.p)) {
		ret = tools_text_result(result, true,
					"egress-block may only remove or narrow routes, and this "
					"proposal names a host the live routes do not: use "
					"egress-allow to add access");
		goto out;
	}
	memset(&qp, 0, sizeof(qp));
	qp.kind = kind;
	qp.bottle = (char *)(uintptr_t)o->bottle;
	qp.justification = (char *)(uintptr_t)p.justification;
	qp.routes_yaml = (char *)(uintptr_t)p.routes_yaml;
	qp.bounds.expires_in = p.expires_in;
	qp.bounds.max_requests = p.max_requests;
	ret = queue_submit(o->queue_dir, &qp, err, sizeof(err));
	if (ret < 0) {
		log_error("cannot queue a proposal: %s", err);
		ret = tools_text_result(result, true,
					"the proposal could not be queued for the operator (the "
					"supervise queue is unavailable); tell the user");
		goto out;
	}
	log_info("proposal %s queued (%s%s%s)", qp.id, queue_kind_name(kind),
		 t->client_name ? ", client " : "", t->client_name ? t->client_name : "");
	ret = wait_for_answer(t, qp.id, result);
out:
	if (p.routes)
		routes_unref(p.routes);
	yyjson_doc_free(live_doc);
	buf_release(&live);
	buf_release(&proposed);
	return ret;
}

int proposal_status_tool(struct tool_context *t, yyjson_val *args, struct buf *result)
{
	yyjson_val *v = yyjson_obj_get(args, "proposal_id");
	char err[512], msg[768];
	int ret;

	if (!yyjson_is_str(v) || !queue_id_valid(yyjson_get_str(v)) || yyjson_obj_size(args) != 1)
		return tools_text_result(result, true,
					 "egress-proposal-status takes one argument, proposal_id: "
					 "the id an earlier call returned ([A-Za-z0-9-]+)");
	ret = queue_status(t->options->queue_dir, yyjson_get_str(v), err, sizeof(err));
	if (ret == QUEUE_PENDING || ret == QUEUE_ANSWERED)
		return wait_for_answer(t, yyjson_get_str(v), result);
	if (ret > 0)
		return describe_done(t, yyjson_get_str(v), result);
	snprintf(msg, sizeof(msg), "No proposal %s: %s", yyjson_get_str(v), err);
	return tools_text_result(result, true, msg);
}

void proposal_sweep(const struct supervise_options *o)
{
	struct tool_context t = { .options = o, .fd = -1 };
	struct queue_list list;
	struct queue_response resp;
	struct buf ignored;
	char err[512];
	size_t i;

	if (queue_list_pending(o->queue_dir, &list, err, sizeof(err)) < 0) {
		log_warn("sweep: %s", err);
		return;
	}
	buf_init(&ignored, 4 * SUPERVISE_BODY_MAX);
	for (i = 0; i < list.n; i++) {
		struct active_proposal a;

		/* An answer nobody waits for any more (its call timed out, or
		 * the server restarted) still takes effect. */
		if (!list.items[i].answered || !active_add(&a, list.items[i].id))
			continue;
		memset(&resp, 0, sizeof(resp));
		if (queue_poll_response(o->queue_dir, list.items[i].id, &resp, err, sizeof(err)) == 1) {
			log_info("proposal %s answered with no call waiting: acting on it",
				 list.items[i].id);
			buf_clear(&ignored);
			(void)act_on_answer(&t, list.items[i].id, &resp, &ignored);
		}
		queue_response_release(&resp);
		active_remove(&a);
	}
	buf_release(&ignored);
	queue_list_release(&list);
}

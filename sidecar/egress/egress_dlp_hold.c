/* The supervise hold: a request carrying a secret waits (one sleeping
 * thread; other connections keep flowing) while the operator decides on an
 * egress-token-allow proposal (docs/supervise-queue.md).  The proposal holds
 * a preview and the value's SHA-256, never the value.  An approval exempts
 * the value in the engine for the proxy's life; a hold that times out
 * leaves its proposal pending, and a retry of the same value finds it
 * (answered or not) before proposing again. */
#include "egress_dlp_internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/log.h"

/* How often a held request looks for the operator's answer. */
#define HOLD_POLL_MS 200

/* An earlier egress-token-allow proposal for the same value, pending or
 * answered: 1 with id set, 0 when none. */
static int find_earlier(const char *dir, const char *hash, char *id)
{
	struct queue_list list = { 0 };
	char err[512];
	size_t i;
	int found = 0;

	if (queue_list_pending(dir, &list, err, sizeof(err)) < 0)
		return 0;
	for (i = 0; i < list.n && !found; i++) {
		const struct queue_proposal *p = &list.items[i];

		if (p->kind == QUEUE_EGRESS_TOKEN_ALLOW && p->value_hash &&
		    strcmp(p->value_hash, hash) == 0) {
			snprintf(id, QUEUE_ID_MAX, "%s", p->id);
			found = 1;
		}
	}
	queue_list_release(&list);
	return found;
}

static int propose(struct egress *egress, const struct egress_dlp_hold *h, const char *hash,
		   char *id, char *reason, size_t reason_len)
{
	const struct egress_options *o = &egress->options;
	const struct dlp_finding *f = h->finding;
	char where[128], preview[256], why[1024], err[512];
	struct queue_proposal p;
	int ret;

	egress_dlp_finding_where(f, where, sizeof(where));
	snprintf(preview, sizeof(preview), "%s: %s", where, f->preview);
	snprintf(why, sizeof(why),
		 "egress held %s %s%s: %s %s%s%s in the %s; approving lets this value out on every "
		 "route until egress restarts",
		 h->method, h->host, h->path, dlp_detector_name(f->detector), f->rule,
		 f->where != DLP_WHERE_HEADER && f->name[0] ? " " : "",
		 f->where != DLP_WHERE_HEADER ? f->name : "", where);
	memset(&p, 0, sizeof(p));
	p.kind = QUEUE_EGRESS_TOKEN_ALLOW;
	p.bottle = (char *)o->bottle;
	p.justification = why;
	p.host = (char *)h->host;
	p.method = (char *)h->method;
	p.path = (char *)h->path;
	p.detector = (char *)dlp_detector_name(f->detector);
	p.rule = (char *)f->rule;
	p.preview = preview;
	p.value_hash = (char *)hash;
	ret = queue_submit(o->queue_dir, &p, err, sizeof(err));
	if (ret < 0) {
		log_error("dlp: cannot write the proposal: %s", err);
		snprintf(reason, reason_len,
			 "dlp: %s %s in the %s: it was not sent (the proposal to the operator could not "
			 "be written: %s)", dlp_detector_name(f->detector), f->rule, where, err);
		return 403;
	}
	snprintf(id, QUEUE_ID_MAX, "%s", p.id);
	return 0;
}

/* Wait for the client's hang-up or the next poll, whichever is first. */
static bool client_left(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };
	int n;

	if (fd < 0) {
		poll(NULL, 0, ms);
		return false;
	}
	do
		n = poll(&pfd, 1, ms);
	while (n < 0 && errno == EINTR);
	return n > 0 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* The answer to id: 1 with r filled, 0 not yet, < 0 unreadable or gone. */
static int answer(const char *dir, const char *id, struct queue_response *r)
{
	char err[512];
	int ret = queue_poll_response(dir, id, r, err, sizeof(err));

	/* Another held request on the same value archived it first. */
	if (ret == -ENOENT && queue_read_response(dir, id, r, err, sizeof(err)) == 0)
		return 1;
	if (ret < 0)
		log_error("dlp: %s", err);
	return ret;
}

int egress_dlp_hold_value(struct egress *egress, const struct egress_dlp_hold *h, char *id,
			  char *reason, size_t reason_len)
{
	const struct egress_options *o = &egress->options;
	char hash[QUEUE_HASH_HEX], err[512];
	struct queue_response r;
	uint64_t deadline;
	int ret;

	id[0] = '\0';
	if (queue_sha256_hex(h->value, h->value_len, hash) < 0) {
		snprintf(reason, reason_len, "dlp: the held value could not be hashed: it was not sent");
		return 403;
	}
	/* One proposal per value, whatever number of requests wait on it. */
	pthread_mutex_lock(&egress->hold_lock);
	ret = find_earlier(o->queue_dir, hash, id) ? 0 : propose(egress, h, hash, id, reason,
								reason_len);
	pthread_mutex_unlock(&egress->hold_lock);
	if (ret)
		return ret;
	deadline = egress_start_clock() + (uint64_t)o->hold_timeout_ms;
	for (;;) {
		memset(&r, 0, sizeof(r));
		ret = answer(o->queue_dir, id, &r);
		if (ret != 0)
			break;
		if (egress_start_clock() >= deadline || h->no_wait) {
			snprintf(reason, reason_len,
				 "dlp: the request carries a secret (%s %s) and is held for the operator as proposal "
				 "%s, still pending: send the same request again once it is approved and "
				 "it will pass", dlp_detector_name(h->finding->detector), h->finding->rule,
				 id);
			return 403;
		}
		if (client_left(h->client_fd, HOLD_POLL_MS)) {
			snprintf(reason, reason_len,
				 "the client went away while the request was held as proposal %s", id);
			return 499;
		}
	}
	if (ret < 0) {
		snprintf(reason, reason_len,
			 "dlp: the operator's answer to proposal %s could not be read: it was not sent",
			 id);
		return 403;
	}
	if (r.verdict == QUEUE_REJECTED) {
		snprintf(reason, reason_len, "dlp: the operator rejected proposal %s: it was not sent",
			 id);
		ret = 403;
	} else if (dlp_engine_exempt(egress->dlp, h->value, h->value_len) < 0) {
		snprintf(reason, reason_len,
			 "dlp: proposal %s was approved but egress cannot remember more approvals: it "
			 "was not sent", id);
		ret = 403;
	} else if (h->no_wait) {
		snprintf(reason, reason_len,
			 "dlp: the operator approved proposal %s for the value this request carries: "
			 "send it again and it will pass", id);
		ret = 403;
	} else {
		ret = 0;
	}
	queue_response_release(&r);
	if (queue_archive(o->queue_dir, id, err, sizeof(err)) < 0 &&
	    queue_status(o->queue_dir, id, err, sizeof(err)) != QUEUE_PROCESSED)
		log_error("dlp: %s", err);
	return ret;
}

/* The raw bytes a finding's span covers in the request. */
static bool finding_value(const struct egress_dlp_request *d, const struct dlp_finding *f,
			  struct str *v)
{
	const struct http1_request *req = d->req;
	struct str part = { NULL, 0 };
	size_t i;

	switch (f->where) {
	case DLP_WHERE_PATH: part = req->target.path; break;
	case DLP_WHERE_QUERY: part = req->target.query; break;
	case DLP_WHERE_BODY: part = buf_str(&d->body); break;
	case DLP_WHERE_HEADER:
		for (i = 0; i < req->fields.n && !part.p; i++) {
			const struct http1_field *fl = &req->fields.v[i];

			if (fl->name.len == strlen(f->name) &&
			    strncasecmp(fl->name.p, f->name, fl->name.len) == 0 &&
			    f->offset + f->len <= fl->value.len)
				part = fl->value;
		}
		break;
	default:
		break;
	}
	if (!part.p || f->len == 0 || f->offset + f->len > part.len)
		return false;
	v->p = part.p + f->offset;
	v->len = (size_t)f->len;
	return true;
}

int egress_dlp_request_hold(struct egress_dlp_request *d, struct egress_connection *c)
{
	char method[32], path[512];
	struct egress_dlp_hold h;
	struct str value;

	if (!finding_value(d, d->verdict.finding, &value)) {
		d->verdict.action = EGRESS_DLP_BLOCK;
		snprintf(d->verdict.reason, sizeof(d->verdict.reason),
			 "dlp: %s %s was found where egress cannot hold it for approval: it was not sent",
			 dlp_detector_name(d->verdict.finding->detector), d->verdict.finding->rule);
		return 403;
	}
	snprintf(method, sizeof(method), "%.*s", (int)d->req->method_name.len, d->req->method_name.p);
	egress_dlp_request_log_path(d, path, sizeof(path));
	h = (struct egress_dlp_hold){
		.finding = d->verdict.finding,
		.value = value.p,
		.value_len = value.len,
		.method = method,
		.host = d->host,
		.path = path,
		.client_fd = c->client.fd,
	};
	return egress_dlp_hold_value(d->egress, &h, d->proposal_id, d->verdict.reason,
				     sizeof(d->verdict.reason));
}

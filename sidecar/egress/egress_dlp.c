/* DLP in egress: the engine's set-up, each route's policy, and what a
 * request's findings lead to (egress_dlp.h).  request.c calls in at three
 * points: the head (before the credential is injected, so what is scanned
 * is what the agent sent), the body (held or streamed), and the log.  The
 * streamed body is egress_dlp_stream.c, the supervise hold egress_dlp_hold.c,
 * websocket frames egress_ws.c. */
#include "egress_dlp.h"
#include "egress_dlp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/dlp_setup.h"
#include "../../shared/log.h"

/* ---- start-up ---- */

int egress_dlp_setup(struct egress *egress, char *const *envp, char *err, size_t err_len)
{
	struct egress_options *o = &egress->options;
	struct dlp_setup setup = {
		.canary_env = o->canary_env,
		.secret_prefixes = o->secret_prefixes,
		.rules_path = o->dlp_rules_path,
	};
	const char **names;
	size_t n = 0, i;
	int ret;

	if (o->dlp_off)
		return 0;
	/* The routes' credentials are secrets the agent must never send. */
	names = calloc(o->nsecret_envs + egress->routes->n + 1, sizeof(*names));
	if (!names) {
		error_format(err, err_len, "dlp: out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < o->nsecret_envs; i++)
		names[n++] = o->secret_envs[i];
	for (i = 0; i < egress->routes->n; i++)
		if (egress->routes->v[i].auth)
			names[n++] = egress->routes->v[i].auth->env;
	setup.secret_names = names;
	ret = dlp_setup_engine(&setup, envp, &egress->dlp, err, err_len);
	free(names);
	return ret;
}

/* ---- policy ---- */

enum route_outbound egress_dlp_policy(const struct egress_options *o, const struct route *route,
				      const char *host)
{
	size_t i;

	if (route && route->outbound_set)
		return route->outbound_on_match;
	/* The agent's own model provider sees the conversation, which quotes
	 * files and tool output: redacting keeps the agent working. */
	for (i = 0; i < o->nprovider_hosts; i++)
		if (strcasecmp(o->provider_hosts[i], host) == 0)
			return ROUTE_OUTBOUND_REDACT;
	return ROUTE_OUTBOUND_SUPERVISE;
}

const char *egress_dlp_action_name(enum egress_dlp_action a)
{
	switch (a) {
	case EGRESS_DLP_PASS: return "pass";
	case EGRESS_DLP_BLOCK: return "block";
	case EGRESS_DLP_REDACT: return "redact";
	case EGRESS_DLP_HOLD: return "hold";
	}
	return "unknown";
}

static const char *detector_phrase(enum dlp_detector d)
{
	switch (d) {
	case DLP_DETECTOR_KNOWN: return "a known secret";
	case DLP_DETECTOR_CANARY: return "the canary";
	case DLP_DETECTOR_RULE: return "a secret-shaped token";
	case DLP_DETECTOR_ENTROPY: return "a high-entropy token";
	case DLP_DETECTOR_CRLF: return "a CR or LF";
	case DLP_DETECTOR_UNICODE: return "unicode evasion";
	case DLP_DETECTOR_UNDECODABLE: return "a body egress cannot decode";
	}
	return "a finding";
}

void egress_dlp_finding_where(const struct dlp_finding *f, char *out, size_t len)
{
	/* A header name that matched is the value: it is not named. */
	bool header = f->where == DLP_WHERE_HEADER;

	snprintf(out, len, "%s%s%s", f->where == DLP_WHERE_HEADER_NAME ? "header name" :
				     dlp_where_name(f->where),
		 header ? " " : "", header ? f->name : "");
}

/* "a known secret (known:base64 GITHUB_TOKEN) in the query" */
static void finding_phrase(const struct dlp_finding *f, char *out, size_t len)
{
	bool header = f->where == DLP_WHERE_HEADER;
	char where[128];

	egress_dlp_finding_where(f, where, sizeof(where));
	snprintf(out, len, "%s (%s%s%s) in the %s", detector_phrase(f->detector), f->rule,
		 !header && f->name[0] ? " " : "", !header ? f->name : "", where);
}

static bool finding_in_host(const struct dlp_finding *f)
{
	return f->where == DLP_WHERE_HEADER && strcasecmp(f->name, "host") == 0;
}

void egress_dlp_decide(const struct dlp_findings *fs, enum route_outbound policy, bool queue,
		       struct egress_dlp_verdict *v)
{
	const struct dlp_finding *first = NULL, *unreachable = NULL;
	char what[384];
	size_t i;

	/* Not a memset of the 640-byte reason: this runs for every slice of a
	 * streamed body, and the reason is a string. */
	v->action = EGRESS_DLP_PASS;
	v->finding = NULL;
	v->reason[0] = '\0';
	for (i = 0; i < fs->n; i++) {
		const struct dlp_finding *f = &fs->v[i];

		if (f->warn_only)
			continue;
		if (dlp_finding_is_structural(f) || f->detector == DLP_DETECTOR_UNDECODABLE) {
			v->action = EGRESS_DLP_BLOCK;
			v->finding = f;
			finding_phrase(f, what, sizeof(what));
			snprintf(v->reason, sizeof(v->reason),
				 f->detector == DLP_DETECTOR_UNDECODABLE ?
					 "dlp: %s: it was not sent (send the body uncompressed)" :
					 "dlp: %s: it was not sent (this blocks under every policy)",
				 what);
			return;
		}
		if (!first)
			first = f;
		/* Neither redaction nor an approval can reach these: the host
		 * names the destination, a header name is not a value, a
		 * compressed body is forwarded as it came, and an empty span
		 * (a rule that ran out of steps) has no bytes to point at. */
		if (!unreachable && (finding_in_host(f) || f->where == DLP_WHERE_HEADER_NAME ||
				     f->where == DLP_WHERE_BODY_DECODED || f->len == 0))
			unreachable = f;
	}
	if (!first && fs->dropped == 0)
		return;
	if (!first) {
		v->action = EGRESS_DLP_BLOCK;
		snprintf(v->reason, sizeof(v->reason),
			 "dlp: more than %d findings in one request: it was not sent", DLP_FINDINGS_MAX);
		return;
	}
	v->finding = first;
	finding_phrase(first, what, sizeof(what));
	switch (policy) {
	case ROUTE_OUTBOUND_BLOCK:
		v->action = EGRESS_DLP_BLOCK;
		snprintf(v->reason, sizeof(v->reason),
			 "dlp: %s: it was not sent (the route's outbound_on_match is block)", what);
		return;
	case ROUTE_OUTBOUND_REDACT:
	case ROUTE_OUTBOUND_SUPERVISE:
		break;
	}
	if (unreachable) {
		v->action = EGRESS_DLP_BLOCK;
		v->finding = unreachable;
		finding_phrase(unreachable, what, sizeof(what));
		snprintf(v->reason, sizeof(v->reason),
			 "dlp: %s: it was not sent (%s cannot be %s there)", what,
			 unreachable->where == DLP_WHERE_BODY_DECODED ? "a compressed body's secret" :
									"a secret",
			 policy == ROUTE_OUTBOUND_REDACT ? "redacted" : "held for approval");
		return;
	}
	if (policy == ROUTE_OUTBOUND_REDACT) {
		v->action = EGRESS_DLP_REDACT;
		snprintf(v->reason, sizeof(v->reason), "dlp: %s: redacted", what);
		return;
	}
	if (!queue) {
		v->action = EGRESS_DLP_BLOCK;
		snprintf(v->reason, sizeof(v->reason),
			 "dlp: %s: it was not sent (the route supervises secrets but the operator loop "
			 "is not configured: egress has no --queue)", what);
		return;
	}
	v->action = EGRESS_DLP_HOLD;
	snprintf(v->reason, sizeof(v->reason), "dlp: %s: held for the operator", what);
}

/* The connection's DLP state with its scan ready and empty, or NULL. */
static struct egress_dlp_request *connection_dlp(struct egress_connection *c)
{
	struct egress_dlp_request *d = c->dlp;

	if (!d && !(d = c->dlp = calloc(1, sizeof(*d))))
		return NULL;
	if (!d->ready) {
		memset(d, 0, sizeof(*d));
		buf_init(&d->head, 64 * 1024);
		buf_init(&d->body, c->egress->options.dlp_body_max);
		d->ready = true;
	}
	if (d->scan_live)
		dlp_scan_reset(&d->scan);
	else if (dlp_scan_init(&d->scan, c->egress->dlp) < 0)
		return NULL;
	d->scan_live = true;
	return d;
}

void egress_dlp_connection_release(struct egress_connection *c)
{
	if (!c->dlp)
		return;
	egress_dlp_request_release(c->dlp);
	free(c->dlp);
	c->dlp = NULL;
}

bool egress_dlp_host_blocked(struct egress_connection *c, const char *host, char *reason,
			     size_t reason_len)
{
	struct egress_dlp_request *d = connection_dlp(c);
	struct egress_dlp_verdict v;

	if (!d || dlp_scan_part(&d->scan, DLP_WHERE_HEADER, "host", host, strlen(host)) < 0) {
		snprintf(reason, reason_len, "dlp: the CONNECT target could not be scanned");
		return true;
	}
	egress_dlp_decide(&d->scan.findings, ROUTE_OUTBOUND_BLOCK, false, &v);
	if (v.action == EGRESS_DLP_PASS)
		return false;
	snprintf(reason, reason_len, "%s", v.reason);
	return true;
}

/* ---- git pushes ---- */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static bool holds_needle(const char *p, size_t len, const char *needle, size_t n)
{
	size_t i;

	for (i = 0; i + n <= len; i++)
		if (strncasecmp(p + i, needle, n) == 0)
			return true;
	return false;
}

static bool holds_receive_pack(struct str s)
{
	static const char needle[] = "git-receive-pack";
	char *a;
	bool found;
	size_t len = s.len, round, i, j;

	if (s.len < sizeof(needle) - 1)
		return false;
	/* Most paths and values hold no escape: no copy for them. */
	if (!memchr(s.p, '%', s.len))
		return holds_needle(s.p, s.len, needle, sizeof(needle) - 1);
	a = malloc(s.len + 1);
	if (!a)
		return true; /* fail closed */
	memcpy(a, s.p, s.len);
	/* Percent-decode until nothing changes (double encoding too). */
	for (round = 0; round < 4; round++) {
		bool changed = false;
		int hi, lo;

		for (i = 0, j = 0; i < len; i++, j++) {
			if (a[i] == '%' && i + 2 < len && (hi = hex_value((unsigned char)a[i + 1])) >= 0 &&
			    (lo = hex_value((unsigned char)a[i + 2])) >= 0) {
				a[j] = (char)(hi << 4 | lo);
				i += 2;
				changed = true;
			} else {
				a[j] = a[i];
			}
		}
		len = j;
		if (!changed)
			break;
	}
	found = holds_needle(a, len, needle, sizeof(needle) - 1);
	free(a);
	return found;
}

bool egress_dlp_is_git_push(struct str path, struct str query, const struct http1_fields *fields)
{
	size_t i;

	if (holds_receive_pack(path) || holds_receive_pack(query))
		return true;
	for (i = 0; i < fields->n; i++)
		if (holds_receive_pack(fields->v[i].value))
			return true;
	return false;
}

/* ---- one request ---- */

/* Parse limits of a head already accepted once: only widen. */
static const struct http1_limits reparse_limits = {
	.flags = HTTP1_ALLOW_HTTPS_ABSOLUTE | HTTP1_ALLOW_HOST_MISMATCH,
};

static int scan_head(struct egress_dlp_request *d)
{
	const struct http1_request *req = d->req;
	int ret = dlp_scan_head(&d->scan, req->target.path, req->target.query, req->fields.v,
				req->fields.n);

	/* The destination itself, where no Host field names it. */
	if (ret == 0 && req->target.form == HTTP1_FORM_ABSOLUTE)
		ret = dlp_scan_part(&d->scan, DLP_WHERE_HEADER, "host", req->target.authority.host.p,
				    req->target.authority.host.len);
	return ret;
}

static int scan_body(struct egress_dlp_request *d)
{
	int ret;

	if (!d->body_held || d->body.len == 0)
		return 0;
	if ((ret = dlp_scan_begin(&d->scan, DLP_WHERE_BODY, NULL, d->encoding, 0)) < 0 ||
	    (ret = dlp_scan_feed(&d->scan, d->body.p, d->body.p + d->body.len)) < 0)
		return ret;
	return dlp_scan_end(&d->scan);
}

static int scan_again(struct egress_dlp_request *d)
{
	int ret;

	dlp_scan_reset(&d->scan);
	if ((ret = scan_head(d)) < 0)
		return ret;
	return scan_body(d);
}

static int fail_scan(struct egress_dlp_request *d, int ret)
{
	snprintf(d->verdict.reason, sizeof(d->verdict.reason),
		 "dlp: the request could not be scanned (%s): it was not sent", strerror(-ret));
	d->verdict.action = EGRESS_DLP_BLOCK;
	return 403;
}

int egress_dlp_request_begin(struct egress_dlp_request *d, struct egress_connection *c,
			     const struct http1_request *req, size_t head_len,
			     enum route_outbound policy, const char *host)
{
	const struct http1_field *ce;
	int ret;

	if (d != connection_dlp(c)) {
		d->verdict.action = EGRESS_DLP_BLOCK;
		return fail_scan(d, -ENOMEM);
	}
	d->egress = c->egress;
	d->policy = policy;
	d->host = host;
	buf_clear(&d->head);
	buf_clear(&d->body);
	d->body_held = d->spilled = d->redacted = false;
	memset(&d->verdict, 0, sizeof(d->verdict));
	d->proposal_id[0] = '\0';
	if (!d->req)
		d->req = malloc(sizeof(*d->req));
	if (d->req)
		http1_request_init(d->req); /* nothing of the last request stays */
	if (!d->req || buf_append(&d->head, c->in.p, head_len) < 0)
		return fail_scan(d, -ENOMEM);
	if (http1_request_parse(d->req, d->head.p, d->head.p + d->head.len, &reparse_limits) !=
	    (int)head_len)
		return fail_scan(d, -EPROTO);
	d->encoding = DLP_ENCODING_IDENTITY;
	if (http1_fields_count(&req->fields, "content-encoding") > 1)
		d->encoding = DLP_ENCODING_UNKNOWN;
	else if ((ce = http1_fields_find(&d->req->fields, "content-encoding")))
		d->encoding = dlp_encoding_parse(ce->value);
	if ((ret = scan_head(d)) < 0)
		return fail_scan(d, ret);
	egress_dlp_decide(&d->scan.findings, policy, c->egress->options.queue_dir != NULL,
			  &d->verdict);
	/* Block now whatever the body holds: nothing more could change it. */
	return d->verdict.action == EGRESS_DLP_BLOCK ? 403 : 0;
}

bool egress_dlp_request_holds_body(const struct egress_dlp_request *d)
{
	const struct http1_request *req = d->req;

	if (!http1_request_has_body(req))
		return false;
	if (d->encoding != DLP_ENCODING_IDENTITY || d->policy == ROUTE_OUTBOUND_REDACT)
		return true;
	if (d->policy == ROUTE_OUTBOUND_BLOCK)
		return false;
	/* Supervise: a client waiting for the upstream's 100, or a body
	 * declared too big to hold, streams instead. */
	return !req->expect_continue &&
	       !(req->body == HTTP1_BODY_LENGTH &&
		 (uint64_t)req->content_length > d->egress->options.dlp_body_max);
}

/* Whether an over-long body may stream rather than be refused. */
static bool may_spill(const struct egress_dlp_request *d)
{
	return d->policy == ROUTE_OUTBOUND_SUPERVISE && d->encoding == DLP_ENCODING_IDENTITY;
}

static int read_body(struct egress_dlp_request *d, struct egress_connection *c)
{
	const struct egress_options *o = &c->egress->options;
	struct str data;
	int ret;

	if (d->req->body == HTTP1_BODY_LENGTH && (uint64_t)d->req->content_length > o->dlp_body_max) {
		ret = -EMSGSIZE;
		goto too_big;
	}
	if (d->req->expect_continue && d->req->version_minor == 1 &&
	    stream_write(&c->client, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0)
		return fail_scan(d, -EPIPE);
	body_reader_init(&d->reader, &c->client, &c->in, d->req->body, d->req->content_length);
	c->client.timeout_ms = o->io_timeout_ms;
	while ((ret = body_reader_next(&d->reader, &data)) > 0) {
		if (d->body.len + data.len > o->dlp_body_max && may_spill(d)) {
			/* The rest streams: the reader stays as it is. */
			d->spilled = true;
			d->spill = data;
			return 0;
		}
		if ((ret = buf_append(&d->body, data.p, data.len)) < 0)
			break;
	}
	body_reader_compact(&d->reader);
	d->body_held = true;
too_big:
	if (ret == -EMSGSIZE) {
		snprintf(d->verdict.reason, sizeof(d->verdict.reason),
			 "the request body is over the %zu KiB egress holds to check for secrets on a "
			 "route whose outbound_on_match is %s (compressed bodies are held on every route)",
			 o->dlp_body_max / 1024, route_outbound_name(d->policy));
		return 413;
	}
	if (ret < 0) {
		char why[160];

		if (egress_stats_body_error(c->egress, &d->reader) == 408) {
			snprintf(d->verdict.reason, sizeof(d->verdict.reason),
				 "the request body stalled: nothing arrived for %ds",
				 o->io_timeout_ms / 1000);
			return 408;
		}
		if (!d->reader.chunked.err) {
			snprintf(d->verdict.reason, sizeof(d->verdict.reason),
				 "the request body did not arrive: %s", strerror(-ret));
			return 400;
		}
		snprintf(d->verdict.reason, sizeof(d->verdict.reason), "invalid chunked request body: %s",
			 http1_error_message(d->reader.chunked.err, NULL, why, sizeof(why)));
		return 400;
	}
	return 0;
}

/* Findings that block, as their own list: redaction leaves warnings be. */
static struct dlp_findings *blocking_only(const struct dlp_findings *all)
{
	struct dlp_findings *f = calloc(1, sizeof(*f));
	size_t i;

	if (!f)
		return NULL;
	for (i = 0; i < all->n; i++)
		if (!all->v[i].warn_only)
			f->v[f->n++] = all->v[i];
	return f;
}

/* Redact a part of the URL: the marker's brackets are not URL characters. */
static int redact_url_part(const struct dlp_findings *f, enum dlp_where where, struct str part,
			   struct buf *out)
{
	struct buf tmp;
	size_t i;
	int ret;

	buf_init(&tmp, out->max);
	ret = dlp_redact(f, where, NULL, 0, part.p, part.len, &tmp);
	for (i = 0; ret >= 0 && i < tmp.len; i++) {
		if (tmp.p[i] == '[' || tmp.p[i] == ']')
			ret = buf_append_str(out, tmp.p[i] == '[' ? "%5B" : "%5D");
		else
			ret = buf_append(out, tmp.p + i, 1);
	}
	buf_release(&tmp);
	return ret < 0 ? ret : 0;
}

/* Rewrite the head and the held body with every blocking span replaced,
 * then parse the rewritten head: what goes upstream is what was checked. */
static int redact_request(struct egress_dlp_request *d)
{
	const struct http1_request *req = d->req;
	const struct http1_target *t = &req->target;
	struct dlp_findings *f = blocking_only(&d->scan.findings);
	struct buf head, body;
	size_t prefix, i;
	int ret = -ENOMEM;

	buf_init(&head, d->head.max);
	buf_init(&body, d->body.max);
	if (!f)
		goto out;
	/* The target up to its path: "http://host:port" in absolute form. */
	prefix = t->path.len ? (size_t)(t->path.p - t->raw.p) :
		 t->has_query ? (size_t)(t->query.p - t->raw.p) - 1 : t->raw.len;
	if ((ret = buf_appendf(&head, "%.*s %.*s", (int)req->method_name.len, req->method_name.p,
			       (int)prefix, t->raw.p)) < 0 ||
	    (ret = redact_url_part(f, DLP_WHERE_PATH, t->path, &head)) < 0)
		goto out;
	if (t->has_query && ((ret = buf_append_str(&head, "?")) < 0 ||
			     (ret = redact_url_part(f, DLP_WHERE_QUERY, t->query, &head)) < 0))
		goto out;
	if ((ret = buf_appendf(&head, " HTTP/1.%u\r\n", req->version_minor)) < 0)
		goto out;
	for (i = 0; i < req->fields.n; i++) {
		const struct http1_field *fl = &req->fields.v[i];
		char name[64];

		snprintf(name, sizeof(name), "%.*s", (int)fl->name.len, fl->name.p);
		if ((ret = buf_appendf(&head, "%s: ", name)) < 0 ||
		    (ret = dlp_redact(f, DLP_WHERE_HEADER, name, 0, fl->value.p, fl->value.len,
				      &head)) < 0 ||
		    (ret = buf_append_str(&head, "\r\n")) < 0)
			goto out;
	}
	if ((ret = buf_append_str(&head, "\r\n")) < 0)
		goto out;
	if (d->body_held &&
	    (ret = dlp_redact(f, DLP_WHERE_BODY, NULL, 0, d->body.p, d->body.len, &body)) < 0)
		goto out;
	http1_request_init(d->req);
	ret = http1_request_parse(d->req, head.p, head.p + head.len, &reparse_limits);
	if (ret != (int)head.len) {
		ret = -EPROTO;
		goto out;
	}
	buf_release(&d->head);
	d->head = head;
	buf_init(&head, 0);
	if (d->body_held) {
		buf_release(&d->body);
		d->body = body;
		buf_init(&body, 0);
	}
	d->redacted = true;
	ret = 0;
out:
	buf_release(&head);
	buf_release(&body);
	free(f);
	return ret;
}

/* Rounds of scan, decide, act: a redaction is scanned again, an approval
 * exempts one value and the request is scanned again for the next. */
#define SETTLE_ROUNDS_MAX 8

int egress_dlp_request_settle(struct egress_dlp_request *d, struct egress_connection *c)
{
	const struct egress_options *o = &c->egress->options;
	int ret, round;

	if (egress_dlp_request_holds_body(d)) {
		if ((ret = read_body(d, c)) != 0)
			return ret;
		if ((ret = scan_body(d)) < 0)
			return fail_scan(d, ret);
	}
	/* A spilled body is checked as it streams; the head is decided now. */
	for (round = 0; round < SETTLE_ROUNDS_MAX; round++) {
		egress_dlp_decide(&d->scan.findings, d->policy, o->queue_dir != NULL, &d->verdict);
		switch (d->verdict.action) {
		case EGRESS_DLP_PASS:
			return 0;
		case EGRESS_DLP_BLOCK:
			return 403;
		case EGRESS_DLP_REDACT:
			if (d->redacted) {
				char what[384];

				finding_phrase(d->verdict.finding, what, sizeof(what));
				snprintf(d->verdict.reason, sizeof(d->verdict.reason),
					 "dlp: %s is still there after redaction: it was not sent", what);
				d->verdict.action = EGRESS_DLP_BLOCK;
				return 403;
			}
			if ((ret = redact_request(d)) < 0) {
				snprintf(d->verdict.reason, sizeof(d->verdict.reason),
					 "dlp: the request could not be redacted (%s): it was not sent",
					 ret == -EMSGSIZE || ret == -EPROTO ?
						 "the redacted head is over the limits" :
						 strerror(-ret));
				d->verdict.action = EGRESS_DLP_BLOCK;
				return 403;
			}
			break;
		case EGRESS_DLP_HOLD:
			if ((ret = egress_dlp_request_hold(d, c)) != 0)
				return ret;
			break;
		}
		if ((ret = scan_again(d)) < 0)
			return fail_scan(d, ret);
	}
	snprintf(d->verdict.reason, sizeof(d->verdict.reason),
		 "dlp: more than %d distinct values held in one request: it was not sent",
		 SETTLE_ROUNDS_MAX);
	d->verdict.action = EGRESS_DLP_BLOCK;
	return 403;
}

void egress_dlp_request_log_path(const struct egress_dlp_request *d, char *out, size_t len)
{
	const struct str path = d->req->target.path;
	struct dlp_findings *f;
	struct buf b;
	size_t i;

	for (i = 0; i < d->scan.findings.n; i++)
		if (d->scan.findings.v[i].where == DLP_WHERE_PATH && !d->scan.findings.v[i].warn_only)
			break;
	if (i == d->scan.findings.n) {
		/* Every request comes here: a copy, not a format. */
		struct str shown = path.len ? path : (struct str){ "/", 1 };
		size_t n;

		if (len == 0)
			return;
		n = shown.len < len ? shown.len : len - 1;
		memcpy(out, shown.p, n);
		out[n] = '\0';
		return;
	}
	f = blocking_only(&d->scan.findings);
	buf_init(&b, len);
	if (!f || dlp_redact(f, DLP_WHERE_PATH, NULL, 0, path.p, path.len, &b) < 0)
		snprintf(out, len, "%s", DLP_REDACTED);
	else
		snprintf(out, len, "%s", b.len ? b.p : "/");
	buf_release(&b);
	free(f);
}

bool egress_dlp_request_host_tainted(const struct egress_dlp_request *d)
{
	size_t i;

	for (i = 0; i < d->scan.findings.n; i++)
		if (finding_in_host(&d->scan.findings.v[i]))
			return true;
	return false;
}

/* A connection keeps a body buffer this big between requests. */
#define KEEP_BODY_MAX (64 * 1024)

void egress_dlp_request_end(struct egress_dlp_request *d)
{
	if (!d->ready)
		return;
	buf_clear(&d->head);
	if (d->body.cap > KEEP_BODY_MAX)
		buf_release(&d->body);
	buf_clear(&d->body);
	d->body_held = d->spilled = false;
}

void egress_dlp_request_release(struct egress_dlp_request *d)
{
	if (d->scan_live)
		dlp_scan_release(&d->scan);
	d->scan_live = false;
	buf_release(&d->head);
	buf_release(&d->body);
	free(d->req);
	d->req = NULL;
}

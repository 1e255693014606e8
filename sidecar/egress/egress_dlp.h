/* DLP in egress: what a request's findings call for under its route's
 * `outbound_on_match`, and the machinery for each answer (docs/egress.md,
 * "DLP"): block (streamed, only settled bytes forwarded), redact (the held
 * request rewritten and scanned again) and supervise (the held request
 * proposed to the operator through the supervise queue).
 *
 * The engine is built once at start-up and survives reloads, so the values
 * the operator approved stay approved for the proxy's life.  A scan's state
 * (about 60 KiB) exists only while a request is being checked. */
#ifndef SIDECAR_EGRESS_DLP_H
#define SIDECAR_EGRESS_DLP_H

#include "egress.h"

#include "../../shared/dlp.h"
#include "../../shared/queue.h"

/* Bodies held for redact / supervise routes (and compressed bodies on any
 * route) are capped: over it, 413. */
#define EGRESS_DLP_BODY_MAX_DEFAULT (8u * 1024 * 1024)
#define EGRESS_DLP_HOLD_TIMEOUT_DEFAULT_MS (300 * 1000)

/* Build the engine from the options: secrets named by --secret-env /
 * --secret-env-prefix and by every route's `auth`, the canary, the rules.
 * Start-up only: err says what is wrong (never a value). */
int egress_dlp_setup(struct egress *egress, char *const *envp, char *err, size_t err_len);

/* The route's policy: what it says, else `redact` for the agent's LLM
 * provider (--provider-host), else `supervise`. */
enum route_outbound egress_dlp_policy(const struct egress_options *o, const struct route *route,
				      const char *host);

enum egress_dlp_action {
	EGRESS_DLP_PASS = 0, /* nothing blocking (warnings are only logged) */
	EGRESS_DLP_BLOCK,    /* 403 */
	EGRESS_DLP_REDACT,   /* rewrite, scan again, forward if clean */
	EGRESS_DLP_HOLD,     /* ask the operator */
};

struct egress_dlp_verdict {
	enum egress_dlp_action action;
	const struct dlp_finding *finding; /* the finding the reason names */
	char reason[640];                  /* for the 403: detector and where, no value */
};

/* The policy's answer to a scan's findings.  `queue` says whether the
 * operator loop is configured (without it supervise fails closed). */
void egress_dlp_decide(const struct dlp_findings *f, enum route_outbound policy, bool queue,
		       struct egress_dlp_verdict *v);

/* A git push (git-receive-pack) in the path, query or a header, however
 * percent-encoded and in any case: pushes go through the git gate. */
bool egress_dlp_is_git_push(struct str path, struct str query, const struct http1_fields *fields);

const char *egress_dlp_action_name(enum egress_dlp_action a);

/* A CONNECT's host name: whether anything blocking is in it (reason set,
 * naming the detector, never the value).  Fails closed.  It uses the
 * connection's scan, which the tunnel's first request then reuses. */
bool egress_dlp_host_blocked(struct egress_connection *c, const char *host, char *reason,
			     size_t reason_len);
/* Free the connection's DLP state (c->dlp), if any. */
void egress_dlp_connection_release(struct egress_connection *c);

/* ---- one request ---- */

struct egress_dlp_request {
	bool ready;                  /* buffers set up; reused request after request */
	struct egress *egress;
	enum route_outbound policy;
	const char *host;            /* for proposals and reasons */
	struct buf head;             /* the agent's head, copied out of c->in */
	struct http1_request *req;   /* parsed from head (or its redacted rewrite) */
	struct buf body;             /* the whole body, when held */
	bool body_held;
	/* A supervise route's body that outgrew the hold: body holds its
	 * start, spill the slice that did not fit, reader the rest; it
	 * streams under block's rules, and a finding is proposed, not held. */
	bool spilled;
	struct str spill;
	struct body_reader reader;
	enum dlp_encoding encoding;
	struct dlp_scan scan;
	bool scan_live;
	struct egress_dlp_verdict verdict;
	bool redacted;
	char proposal_id[QUEUE_ID_MAX];
};

/* Copy the head out of c->in (req parsed from its first head_len bytes) and
 * scan it; the caller consumes it from c->in.  Returns 0, or an HTTP status with
 * d->verdict.reason set (the request must not go on). */
int egress_dlp_request_begin(struct egress_dlp_request *d, struct egress_connection *c,
			     const struct http1_request *req, size_t head_len,
			     enum route_outbound policy, const char *host);
/* Whether the body is read whole before anything is forwarded: on redact
 * routes, compressed bodies on any route (their findings are in decoded
 * offsets, which streaming cannot settle), and on supervise routes unless
 * the client waits for 100-continue or its Content-Length is over the cap
 * (those stream as under block, and a finding is proposed to the operator
 * for the retry). */
bool egress_dlp_request_holds_body(const struct egress_dlp_request *d);
/* Read the body whole (capped), scan it, and act on every finding of the
 * request: block, redact or hold for the operator.  Returns 0 to forward
 * d->req and, when d->body_held, d->body; or an HTTP status with
 * d->verdict.reason set. */
int egress_dlp_request_settle(struct egress_dlp_request *d, struct egress_connection *c);
/* Relay a streamed body forwarding only what the scan has settled (a
 * spilled body: its held start first, then d->reader instead of r).
 * Returns 0, a negative errno as body_relay(), or -EACCES when a finding
 * stopped it (d->verdict.reason says why, naming the proposal on a
 * supervise route; the body sent so far is cut short and the caller closes
 * the upstream). */
int egress_dlp_body_relay(struct egress_dlp_request *d, struct body_reader *r,
			  struct body_writer *w);
/* Whether a finding is in the host (the request is then refused, and its
 * host must not be logged). */
bool egress_dlp_request_host_tainted(const struct egress_dlp_request *d);
/* The path for logs and proposals: with every finding in it redacted. */
void egress_dlp_request_log_path(const struct egress_dlp_request *d, char *out, size_t len);
/* The request is done: drop what only it needed (a large held body), keep
 * the scan and small buffers for the connection's next request. */
void egress_dlp_request_end(struct egress_dlp_request *d);
/* Free everything (the connection idles or ends). */
void egress_dlp_request_release(struct egress_dlp_request *d);

/* ---- websocket frames, client to server ---- */

struct egress_ws_scan;
/* A filter for egress_relay's client-to-upstream side, or NULL (out of
 * memory).  Each message is held until its last frame, scanned, then
 * forwarded; a finding (or a protocol error) closes both sides. */
struct egress_ws_scan *egress_ws_scan_new(struct egress *egress, enum route_outbound policy,
					  const char *host, const char *path);
/* Take n bytes the client sent; write to `to` what may go.  0, or
 * negative to end the relay (reason in egress_ws_scan_reason). */
int egress_ws_scan_filter(struct egress_ws_scan *w, struct stream *to, const char *p, size_t n);
const char *egress_ws_scan_reason(const struct egress_ws_scan *w);
const struct dlp_findings *egress_ws_scan_findings(const struct egress_ws_scan *w);
void egress_ws_scan_free(struct egress_ws_scan *w);

#endif

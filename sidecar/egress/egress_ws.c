/* Websocket frames from the agent, scanned with the same engine as
 * requests.  Each data message is held whole (frames and all, capped)
 * until its last frame, scanned, and only then forwarded as it came; a
 * control frame is scanned on its own and forwarded at once (RFC 6455 lets
 * control frames go ahead of a fragmented message).  A finding ends the
 * websocket under block and redact (a frame cannot be redacted without
 * re-framing what the agent sent) and is held for the operator under
 * supervise. */
#include "egress_dlp_internal.h"
#include "ws_frame.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The largest message egress checks; larger ones end the websocket. */
#define WS_MESSAGE_MAX (1024 * 1024)

struct egress_ws_scan {
	struct egress *egress;
	enum route_outbound policy;
	char host[256], path[512];
	struct ws_reader reader;
	struct buf frame_raw;     /* the current frame as it came */
	struct buf frame_payload; /* its payload, unmasked */
	struct buf message_raw;   /* the held message's frames as they came */
	struct buf message;       /* its payload, unmasked */
	struct dlp_scan scan;
	bool scan_live;
	char reason[768];
	char proposal_id[QUEUE_ID_MAX];
};

struct egress_ws_scan *egress_ws_scan_new(struct egress *egress, enum route_outbound policy,
					  const char *host, const char *path)
{
	struct egress_ws_scan *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->egress = egress;
	w->policy = policy;
	snprintf(w->host, sizeof(w->host), "%s", host);
	snprintf(w->path, sizeof(w->path), "%s", path);
	ws_reader_init(&w->reader, WS_MESSAGE_MAX);
	buf_init(&w->frame_raw, WS_MESSAGE_MAX + 64);
	buf_init(&w->frame_payload, WS_MESSAGE_MAX + 1);
	/* Fragments cost a header each: room for many small ones. */
	buf_init(&w->message_raw, 2 * WS_MESSAGE_MAX);
	buf_init(&w->message, WS_MESSAGE_MAX + 1);
	if (dlp_scan_init(&w->scan, egress->dlp) < 0) {
		egress_ws_scan_free(w);
		return NULL;
	}
	w->scan_live = true;
	return w;
}

void egress_ws_scan_free(struct egress_ws_scan *w)
{
	if (!w)
		return;
	if (w->scan_live)
		dlp_scan_release(&w->scan);
	buf_release(&w->frame_raw);
	buf_release(&w->frame_payload);
	buf_release(&w->message_raw);
	buf_release(&w->message);
	free(w);
}

const char *egress_ws_scan_reason(const struct egress_ws_scan *w)
{
	return w->reason[0] ? w->reason : NULL;
}

const struct dlp_findings *egress_ws_scan_findings(const struct egress_ws_scan *w)
{
	return &w->scan.findings;
}

/* Empty a buffer; a large message's memory is not kept for the
 * websocket's life. */
static void ws_buf_empty(struct buf *b)
{
	if (b->cap > 64 * 1024)
		buf_release(b);
	else
		buf_clear(b);
}

/* Scan one payload and act: 0 to forward it, -EACCES to end. */
static int ws_check(struct egress_ws_scan *w, const struct buf *payload)
{
	struct egress_dlp_verdict v;
	int round, ret;

	for (round = 0; round < 8; round++) {
		struct egress_dlp_hold h;
		const struct dlp_finding *f;

		dlp_scan_reset(&w->scan);
		if ((ret = dlp_scan_part(&w->scan, DLP_WHERE_BODY, NULL, payload->p, payload->len)) <
		    0) {
			snprintf(w->reason, sizeof(w->reason),
				 "dlp: a websocket message could not be scanned: %s", strerror(-ret));
			return -EACCES;
		}
		/* Redaction would re-frame the agent's message: block instead. */
		egress_dlp_decide(&w->scan.findings,
				  w->policy == ROUTE_OUTBOUND_REDACT ? ROUTE_OUTBOUND_BLOCK : w->policy,
				  w->egress->options.queue_dir != NULL, &v);
		if (v.action == EGRESS_DLP_PASS)
			return 0;
		if (v.action != EGRESS_DLP_HOLD) {
			snprintf(w->reason, sizeof(w->reason), "%s (websocket message; closed)",
				 v.reason);
			return -EACCES;
		}
		f = v.finding;
		h = (struct egress_dlp_hold){
			.finding = f,
			.value = payload->p + f->offset,
			.value_len = (size_t)f->len,
			.method = "WEBSOCKET",
			.host = w->host,
			.path = w->path,
			.client_fd = -1,
		};
		if (f->offset + f->len > payload->len || f->len == 0) {
			snprintf(w->reason, sizeof(w->reason), "%s (websocket message; closed)",
				 v.reason);
			return -EACCES;
		}
		if (egress_dlp_hold_value(w->egress, &h, w->proposal_id, w->reason,
					  sizeof(w->reason)) != 0)
			return -EACCES;
	}
	snprintf(w->reason, sizeof(w->reason), "dlp: too many held values in one websocket message");
	return -EACCES;
}

int egress_ws_scan_filter(struct egress_ws_scan *w, struct stream *to, const char *p, size_t n)
{
	const char *end = p + n;
	int ret;

	while (p < end) {
		const char *start = p;

		ret = ws_reader_next(&w->reader, &p, end, &w->frame_payload);
		if (ret >= 0 && (size_t)(p - start) > 0 &&
		    buf_append(&w->frame_raw, start, (size_t)(p - start)) < 0)
			ret = WS_E_TOO_BIG;
		if (ret < 0) {
			snprintf(w->reason, sizeof(w->reason), "websocket: %s (closed)",
				 ws_strerror(ret));
			return -EPROTO;
		}
		if (ret == 0)
			break;
		if (ws_opcode_is_control(w->reader.opcode)) {
			if (ws_check(w, &w->frame_payload) < 0)
				return -EACCES;
			ret = stream_write(to, w->frame_raw.p, w->frame_raw.len);
		} else if ((ret = buf_append(&w->message_raw, w->frame_raw.p, w->frame_raw.len)) < 0 ||
			   (ret = buf_append(&w->message, w->frame_payload.p, w->frame_payload.len)) <
				   0) {
			snprintf(w->reason, sizeof(w->reason), "websocket: %s (closed)",
				 ws_strerror(WS_E_TOO_BIG));
			return -EPROTO;
		} else if (w->reader.fin) {
			if (ws_check(w, &w->message) < 0)
				return -EACCES;
			ret = stream_write(to, w->message_raw.p, w->message_raw.len);
			ws_buf_empty(&w->message_raw);
			ws_buf_empty(&w->message);
		}
		ws_buf_empty(&w->frame_raw);
		ws_buf_empty(&w->frame_payload);
		if (ret < 0)
			return ret;
	}
	return 0;
}

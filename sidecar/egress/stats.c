/* Counters for GET http://_egress.local/stats: connections open, accepted
 * and refused over the cap, every reason egress refused a client's bytes
 * for, and the decisions logged.  The hostile-client tests read them to
 * prove each attack was refused exactly once (docs/security.md). */
#include "egress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <yyjson.h>

#include "../../shared/log.h"

/* A flood over the cap gets one stderr line per this much time. */
#define EGRESS_REFUSAL_LOG_EVERY_MS (10 * 1000)

static const char *const reject_names[EGRESS_REJECT_COUNT] = {
	[EGRESS_REJECT_HEAD_TIMEOUT] = "head_timeout",
	[EGRESS_REJECT_BODY_TIMEOUT] = "body_timeout",
	[EGRESS_REJECT_TLS_ON_PROXY_PORT] = "tls_on_proxy_port",
	[EGRESS_REJECT_TLS_HANDSHAKE] = "tls_handshake",
	[EGRESS_REJECT_CLIENT_HELLO] = "client_hello",
};

static uint64_t counter_add(uint64_t *counter)
{
	return __atomic_add_fetch(counter, 1, __ATOMIC_RELAXED);
}

static uint64_t counter_get(const uint64_t *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

void egress_stats_http1(struct egress *egress, int code)
{
	if (code < 0 && code >= HTTP1_ELAST)
		counter_add(&egress->stats.http1[-code]);
}

void egress_stats_reject(struct egress *egress, enum egress_reject why)
{
	if (why < EGRESS_REJECT_COUNT)
		counter_add(&egress->stats.rejects[why]);
}

int egress_stats_body_error(struct egress *egress, const struct body_reader *r)
{
	if (r->chunked.err) {
		egress_stats_http1(egress, r->chunked.err);
		return 0;
	}
	if (r->stalled) {
		egress_stats_reject(egress, EGRESS_REJECT_BODY_TIMEOUT);
		return 408;
	}
	return 0;
}

void egress_stats_refused(struct egress *egress)
{
	struct egress_stats *s = &egress->stats;
	uint64_t refused = counter_add(&s->connections_refused);
	uint64_t now = egress_start_clock() + EGRESS_REFUSAL_LOG_EVERY_MS;
	uint64_t last = counter_get(&s->refusal_logged_ms);

	/* now is offset so that the first refusal (last == 0) always logs.
	 * Only the thread that moves the mark writes the line. */
	if (now - last < EGRESS_REFUSAL_LOG_EVERY_MS ||
	    !__atomic_compare_exchange_n(&s->refusal_logged_ms, &last, now, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return;
	log_warn("at the connection cap (--max-connections %u): new connections get a 503 "
		 "(%llu refused so far; this line repeats at most every %ds)",
		 egress->options.max_connections, (unsigned long long)refused,
		 EGRESS_REFUSAL_LOG_EVERY_MS / 1000);
}

void egress_stats_decision(struct egress *egress, const char *decision)
{
	struct egress_stats *s = &egress->stats;

	switch (decision[0]) {
	case 'a': counter_add(&s->decisions_allow); break;
	case 'd': counter_add(&s->decisions_deny); break;
	default: counter_add(&s->decisions_error); break;
	}
}

void egress_stats_dlp_body_thread(struct egress *egress)
{
	counter_add(&egress->stats.dlp_body_threads);
}

int egress_stats_to_json(struct egress *egress, struct buf *out)
{
	const struct egress_stats *s = &egress->stats;
	yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *root, *connections, *rejected, *decisions, *dlp;
	char *text = NULL;
	size_t len, i;
	unsigned spare_threads;
	uint64_t threads_reused;
	int ret = -ENOMEM;

	if (!doc)
		goto out;
	root = yyjson_mut_obj(doc);
	connections = yyjson_mut_obj(doc);
	rejected = yyjson_mut_obj(doc);
	decisions = yyjson_mut_obj(doc);
	dlp = yyjson_mut_obj(doc);
	if (!root || !connections || !rejected || !decisions || !dlp)
		goto out;
	yyjson_mut_doc_set_root(doc, root);
	yyjson_mut_obj_add_uint(doc, connections, "open",
				__atomic_load_n(&egress->active_connections, __ATOMIC_RELAXED));
	yyjson_mut_obj_add_uint(doc, connections, "max", egress->options.max_connections);
	yyjson_mut_obj_add_uint(doc, connections, "accepted", counter_get(&s->connections_accepted));
	yyjson_mut_obj_add_uint(doc, connections, "refused", counter_get(&s->connections_refused));
	egress_workers_counts(&spare_threads, &threads_reused);
	yyjson_mut_obj_add_uint(doc, connections, "spare_threads", spare_threads);
	yyjson_mut_obj_add_uint(doc, connections, "threads_reused", threads_reused);
	for (i = 1; i < sizeof(s->http1) / sizeof(s->http1[0]); i++)
		yyjson_mut_obj_add_uint(doc, rejected, http1_error_name(-(int)i),
					counter_get(&s->http1[i]));
	for (i = 0; i < EGRESS_REJECT_COUNT; i++)
		yyjson_mut_obj_add_uint(doc, rejected, reject_names[i], counter_get(&s->rejects[i]));
	yyjson_mut_obj_add_uint(doc, decisions, "allow", counter_get(&s->decisions_allow));
	yyjson_mut_obj_add_uint(doc, decisions, "deny", counter_get(&s->decisions_deny));
	yyjson_mut_obj_add_uint(doc, decisions, "error", counter_get(&s->decisions_error));
	yyjson_mut_obj_add_val(doc, root, "connections", connections);
	yyjson_mut_obj_add_val(doc, root, "rejected", rejected);
	yyjson_mut_obj_add_uint(doc, dlp, "body_threads", counter_get(&s->dlp_body_threads));
	yyjson_mut_obj_add_val(doc, root, "decisions", decisions);
	yyjson_mut_obj_add_val(doc, root, "dlp", dlp);
	text = yyjson_mut_write(doc, 0, &len);
	if (!text)
		goto out;
	ret = buf_append(out, text, len);
	if (ret == 0)
		ret = buf_append_str(out, "\n");
out:
	free(text);
	yyjson_mut_doc_free(doc);
	return ret;
}

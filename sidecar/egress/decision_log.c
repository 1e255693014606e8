/* One JSON line per decision on stdout, for the operator and the audit
 * trail.  What a line may hold is fixed here: who asked, where to, the path
 * without its query (queries carry tokens), the route, the outcome and the
 * byte counts.  Never a header value, a token or a body byte. */
#include "egress.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <yyjson.h>

#include "../../shared/dlp.h"

uint64_t egress_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void format_time(uint64_t ms, char *out, size_t len)
{
	time_t seconds = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&seconds, &tm);
	snprintf(out, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (unsigned)(ms % 1000));
}

static bool decision_wanted(enum routes_log mode, const struct egress_decision *d)
{
	switch (mode) {
	case ROUTES_LOG_OFF:
		return false;
	case ROUTES_LOG_ALL:
		return true;
	case ROUTES_LOG_BLOCKS:
	default:
		/* DLP warnings on an allowed request are worth a line too. */
		return strcmp(d->decision, "allow") != 0 || (d->dlp && d->dlp->n > 0) ||
		       (d->dlp_action && strcmp(d->dlp_action, "pass") != 0);
	}
}

#define LOG_WARNINGS_MAX 8

/* "dlp": {"action": "redact", "findings": ["known known:exact at query+6 len 40 gh…(40)"]}:
 * detector, rule, where and preview, never the value. */
static void add_dlp(yyjson_mut_doc *doc, yyjson_mut_val *root, const struct egress_decision *d)
{
	yyjson_mut_val *dlp = yyjson_mut_obj(doc), *list = yyjson_mut_arr(doc);
	char line[256];
	size_t i;

	yyjson_mut_obj_add_strcpy(doc, dlp, "action", d->dlp_action ? d->dlp_action : "pass");
	size_t more = 0;

	for (i = 0; d->dlp && i < d->dlp->n; i++) {
		/* Blocking findings first-class; warnings (a base64 blob is
		 * a run of them) only up to a few. */
		if (d->dlp->v[i].warn_only && i >= LOG_WARNINGS_MAX) {
			more++;
			continue;
		}
		dlp_finding_format(&d->dlp->v[i], line, sizeof(line));
		yyjson_mut_arr_add_strcpy(doc, list, line);
	}
	yyjson_mut_obj_add_val(doc, dlp, "findings", list);
	if (d->dlp_proposal)
		yyjson_mut_obj_add_strcpy(doc, dlp, "proposal", d->dlp_proposal);
	if (d->dlp && d->dlp->dropped + more)
		yyjson_mut_obj_add_uint(doc, dlp, "more", d->dlp->dropped + more);
	yyjson_mut_obj_add_val(doc, root, "dlp", dlp);
}

void egress_log_decision(struct egress *egress, enum routes_log mode,
			 const struct egress_decision *d)
{
	char when[64], route[300];
	yyjson_mut_doc *doc;
	yyjson_mut_val *root;
	char *line = NULL;
	size_t len = 0;

	egress_stats_decision(egress, d->decision);
	if (!decision_wanted(mode, d))
		return;
	doc = yyjson_mut_doc_new(NULL);
	if (!doc)
		return;
	root = yyjson_mut_obj(doc);
	yyjson_mut_doc_set_root(doc, root);
	format_time(egress_now_ms(), when, sizeof(when));
	yyjson_mut_obj_add_strcpy(doc, root, "time", when);
	yyjson_mut_obj_add_strcpy(doc, root, "client", d->client ? d->client : "");
	yyjson_mut_obj_add_strcpy(doc, root, "method", d->method ? d->method : "");
	yyjson_mut_obj_add_strcpy(doc, root, "host", d->host ? d->host : "");
	yyjson_mut_obj_add_uint(doc, root, "port", d->port);
	yyjson_mut_obj_add_strncpy(doc, root, "path", d->path.p ? d->path.p : "", d->path.len);
	if (d->route) {
		snprintf(route, sizeof(route), "%s%s (line %u)", d->route->wildcard ? "*." : "",
			 d->route->host, d->route->line);
		yyjson_mut_obj_add_strcpy(doc, root, "route", route);
	} else {
		yyjson_mut_obj_add_null(doc, root, "route");
	}
	yyjson_mut_obj_add_strcpy(doc, root, "decision", d->decision);
	yyjson_mut_obj_add_int(doc, root, "status", d->status);
	if (d->reason)
		yyjson_mut_obj_add_strcpy(doc, root, "reason", d->reason);
	yyjson_mut_obj_add_uint(doc, root, "bytes_sent", d->bytes_sent);
	yyjson_mut_obj_add_uint(doc, root, "bytes_received", d->bytes_received);
	yyjson_mut_obj_add_uint(doc, root, "duration_ms", monotonic_ms() - d->started_ms);
	yyjson_mut_obj_add_bool(doc, root, "bumped", d->bumped);
	yyjson_mut_obj_add_bool(doc, root, "passthrough", d->passthrough);
	if (d->dlp || d->dlp_action)
		add_dlp(doc, root, d);

	line = yyjson_mut_write(doc, 0, &len);
	yyjson_mut_doc_free(doc);
	if (!line)
		return;
	/* One write per line under a lock: lines from many threads never
	 * interleave, whatever stdout is (pipe, file, terminal). */
	pthread_mutex_lock(&egress->log_lock);
	line[len] = '\n';
	{
		const char *p = line;
		size_t left = len + 1;

		while (left > 0) {
			ssize_t n = write(STDOUT_FILENO, p, left);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			p += n;
			left -= (size_t)n;
		}
	}
	pthread_mutex_unlock(&egress->log_lock);
	free(line);
}

/* The clock decisions measure durations with (not the wall clock). */
uint64_t egress_start_clock(void)
{
	return monotonic_ms();
}

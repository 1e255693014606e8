/* Findings: how they are kept, shown and acted on (redaction).  Nothing
 * here ever sees more of a matched value than its first few characters. */
#include "dlp_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

void dlp_findings_add(struct dlp_findings *f, const struct dlp_finding *x)
{
	size_t i;

	if (f->n < DLP_FINDINGS_MAX) {
		f->v[f->n++] = *x;
		return;
	}
	/* Full: a warning makes room for what blocks, and is not missed. */
	if (x->warn_only)
		return;
	for (i = 0; i < f->n; i++)
		if (f->v[i].warn_only) {
			f->v[i] = *x;
			return;
		}
	f->dropped++;
}

void dlp_preview(char *out, size_t size, const char *p, size_t avail, uint64_t len,
		 size_t show)
{
	char head[8];
	size_t i, n = show < sizeof(head) - 1 ? show : sizeof(head) - 1;

	if (n > avail)
		n = avail;
	/* Never so much of a short value that little is left to guess. */
	if (len < 4 * (uint64_t)n)
		n = (size_t)(len / 4);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		head[i] = (c > 0x20 && c < 0x7f) ? (char)c : '?';
	}
	head[n] = '\0';
	snprintf(out, size, "%s\xe2\x80\xa6(%" PRIu64 ")", head, len);
}

const char *dlp_detector_name(enum dlp_detector d)
{
	switch (d) {
	case DLP_DETECTOR_KNOWN:
		return "known";
	case DLP_DETECTOR_CANARY:
		return "canary";
	case DLP_DETECTOR_RULE:
		return "rule";
	case DLP_DETECTOR_ENTROPY:
		return "entropy";
	case DLP_DETECTOR_CRLF:
		return "crlf";
	case DLP_DETECTOR_UNICODE:
		return "unicode";
	case DLP_DETECTOR_UNDECODABLE:
		return "undecodable";
	}
	return "?";
}

const char *dlp_where_name(enum dlp_where w)
{
	switch (w) {
	case DLP_WHERE_PATH:
		return "path";
	case DLP_WHERE_QUERY:
		return "query";
	case DLP_WHERE_HEADER:
		return "header";
	case DLP_WHERE_HEADER_NAME:
		return "header-name";
	case DLP_WHERE_BODY:
		return "body";
	case DLP_WHERE_BODY_DECODED:
		return "body-decoded";
	case DLP_WHERE_TEXT:
		return "text";
	}
	return "?";
}

void dlp_finding_format(const struct dlp_finding *f, char *out, size_t size)
{
	bool header = f->where == DLP_WHERE_HEADER || f->where == DLP_WHERE_HEADER_NAME;

	snprintf(out, size, "%s %s%s%s at %s%s%s+%" PRIu64 " len %" PRIu64 " %s%s",
		 dlp_detector_name(f->detector), f->rule,
		 f->name[0] && !header ? " " : "", !header ? f->name : "",
		 dlp_where_name(f->where), header ? ":" : "", header ? f->name : "", f->offset,
		 f->len, f->preview, f->warn_only ? " (warn)" : "");
}

bool dlp_finding_is_structural(const struct dlp_finding *f)
{
	return f->detector == DLP_DETECTOR_CRLF || f->detector == DLP_DETECTOR_UNICODE ||
	       f->detector == DLP_DETECTOR_CANARY;
}

bool dlp_findings_blocking(const struct dlp_findings *f)
{
	size_t i;

	if (f->dropped)
		return true;
	for (i = 0; i < f->n; i++)
		if (!f->v[i].warn_only)
			return true;
	return false;
}

static bool on_part(const struct dlp_finding *f, enum dlp_where where, const char *header)
{
	if (f->where != where || f->len == 0 || f->warn_only)
		return false;
	if (where == DLP_WHERE_HEADER || where == DLP_WHERE_HEADER_NAME)
		return header && strcasecmp(f->name, header) == 0;
	return true;
}

int dlp_redact(const struct dlp_findings *f, enum dlp_where where, const char *header,
	       uint64_t base, const char *p, size_t len, struct buf *out)
{
	uint64_t at = base, end = base + len;
	int replaced = 0, ret;

	/* Repeatedly take the earliest span starting at or after `at` (the
	 * list is short and not sorted across detectors). */
	for (;;) {
		uint64_t s = UINT64_MAX, e = 0;
		size_t i;

		for (i = 0; i < f->n; i++) {
			const struct dlp_finding *x = &f->v[i];
			uint64_t xs = x->offset, xe = x->offset + x->len;

			if (!on_part(x, where, header) || xe <= at || xs >= end)
				continue;
			if (xs < at)
				xs = at;
			if (xs < s || (xs == s && xe > e)) {
				s = xs;
				e = xe;
			}
		}
		if (s == UINT64_MAX)
			break;
		/* Merge every span overlapping [s, e). */
		for (i = 0; i < f->n; i++) {
			const struct dlp_finding *x = &f->v[i];

			if (on_part(x, where, header) && x->offset <= e && x->offset + x->len > e)
				e = x->offset + x->len, i = (size_t)-1;
		}
		if ((ret = buf_append(out, p + (at - base), (size_t)(s - at))) < 0 ||
		    (ret = buf_append_str(out, DLP_REDACTED)) < 0)
			return ret;
		replaced++;
		at = e;
		if (at >= end)
			return replaced;
	}
	if ((ret = buf_append(out, p + (at - base), (size_t)(end - at))) < 0)
		return ret;
	return replaced;
}

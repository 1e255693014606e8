/* The request head: path, query, header names and values.  Besides the
 * secret detectors, two structural checks that only make sense here: CR or
 * LF (raw or percent-encoded) can split a request only in its head, never
 * in a length-delimited body; zero-width and bidi controls in a URL or a
 * header hide what a reader sees.  Both are findings every policy blocks. */
#include "dlp_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static int hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static void structural_add(struct dlp_scan *s, enum dlp_where where, const char *header,
			   enum dlp_detector d, const char *rule, uint64_t at, uint64_t len)
{
	struct dlp_finding f;

	memset(&f, 0, sizeof(f));
	f.detector = d;
	f.where = where;
	snprintf(f.rule, sizeof(f.rule), "%s", rule);
	snprintf(f.name, sizeof(f.name), "%s", header ? header : "");
	f.offset = at;
	f.len = len;
	/* The bytes are control characters: name them, show nothing. */
	dlp_preview(f.preview, sizeof(f.preview), "", 0, len, 0);
	dlp_findings_add(&s->findings, &f);
}

/* One finding of each kind per part is enough to block it. */
static void structural_check(struct dlp_scan *s, enum dlp_where where, const char *header,
			     const char *p, size_t len)
{
	bool crlf = false, invisible = false;
	uint32_t cp = 0;
	unsigned need = 0;
	size_t i, cp_at = 0;

	for (i = 0; i < len && !(crlf && invisible); i++) {
		unsigned char b = (unsigned char)p[i];
		size_t at = i, step = 1;
		int hi, lo;

		if (b == '%' && i + 2 < len && (hi = hex_digit((unsigned char)p[i + 1])) >= 0 &&
		    (lo = hex_digit((unsigned char)p[i + 2])) >= 0) {
			b = (unsigned char)(hi << 4 | lo);
			step = 3;
		}
		if ((b == '\r' || b == '\n') && !crlf) {
			crlf = true;
			structural_add(s, where, header, DLP_DETECTOR_CRLF,
				       step == 3 ? "crlf:percent-encoded" : "crlf:raw", at, step);
		}
		if (b >= 0x80 && (b & 0xc0) != 0x80) {
			cp_at = at;
			need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : b >= 0xc0 ? 1 : 0;
			cp = b & (0x3fu >> need);
		} else if ((b & 0xc0) == 0x80 && need) {
			cp = cp << 6 | (b & 0x3f);
			if (--need == 0 && dlp_is_invisible(cp) && !invisible) {
				invisible = true;
				structural_add(s, where, header, DLP_DETECTOR_UNICODE,
					       "unicode:invisible", cp_at, i + step - cp_at);
			}
		} else {
			need = 0;
		}
		i += step - 1;
	}
}

int dlp_scan_part(struct dlp_scan *s, enum dlp_where where, const char *header,
		  const char *p, size_t len)
{
	int ret;

	if (where != DLP_WHERE_BODY && where != DLP_WHERE_BODY_DECODED &&
	    where != DLP_WHERE_TEXT)
		structural_check(s, where, header, p, len);
	if ((ret = dlp_scan_begin(s, where, header, DLP_ENCODING_IDENTITY, 0)) < 0 ||
	    (ret = dlp_scan_feed(s, p, p + len)) < 0)
		return ret;
	return dlp_scan_end(s);
}

int dlp_scan_head(struct dlp_scan *s, struct str path, struct str query,
		  const struct http1_field *fields, size_t nfields)
{
	char name[64];
	size_t i;
	int ret;

	if ((ret = dlp_scan_part(s, DLP_WHERE_PATH, NULL, path.p, path.len)) < 0 ||
	    (ret = dlp_scan_part(s, DLP_WHERE_QUERY, NULL, query.p, query.len)) < 0)
		return ret;
	for (i = 0; i < nfields; i++) {
		size_t n = fields[i].name.len < sizeof(name) - 1 ? fields[i].name.len :
								   sizeof(name) - 1;

		memcpy(name, fields[i].name.p, n);
		name[n] = '\0';
		if ((ret = dlp_scan_part(s, DLP_WHERE_HEADER_NAME, name, fields[i].name.p,
					 fields[i].name.len)) < 0 ||
		    (ret = dlp_scan_part(s, DLP_WHERE_HEADER, name, fields[i].value.p,
					 fields[i].value.len)) < 0)
			return ret;
	}
	return 0;
}

enum dlp_encoding dlp_encoding_parse(struct str v)
{
	while (v.len && (v.p[0] == ' ' || v.p[0] == '\t'))
		v.p++, v.len--;
	while (v.len && (v.p[v.len - 1] == ' ' || v.p[v.len - 1] == '\t'))
		v.len--;
	if (v.len == 0 || (v.len == 8 && strncasecmp(v.p, "identity", 8) == 0))
		return DLP_ENCODING_IDENTITY;
	if ((v.len == 4 && strncasecmp(v.p, "gzip", 4) == 0) ||
	    (v.len == 6 && strncasecmp(v.p, "x-gzip", 6) == 0))
		return DLP_ENCODING_GZIP;
	if (v.len == 7 && strncasecmp(v.p, "deflate", 7) == 0)
		return DLP_ENCODING_DEFLATE;
	if (v.len == 2 && strncasecmp(v.p, "br", 2) == 0)
		return DLP_ENCODING_BR;
	/* Anything else, a stack ("gzip, br") included. */
	return DLP_ENCODING_UNKNOWN;
}

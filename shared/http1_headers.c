/* Header-field rules every HTTP/1 message shares: the character table, the
 * field-line scanner (also used for chunked trailers), framing fields,
 * Connection options and hop-by-hop fields, error reasons. */
#include "http1.h"

#include <stdio.h>
#include <string.h>

/* Generated from the class definitions in http1.h; tests/unit/test_http1_request.c
 * recomputes every entry. */
const uint8_t http1_ctype[256] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x42, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x00 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* 0x10 */
	0x42, 0x47, 0x06, 0x43, 0x47, 0x47, 0x47, 0x47, 0x46, 0x46, 0x47, 0x47, 0x46, 0x67, 0x67, 0x46, /* 0x20 */
	0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x46, 0x46, 0x46, 0x46, 0x46, 0x46, /* 0x30 */
	0x46, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, /* 0x40 */
	0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x46, 0x02, 0x46, 0x47, 0x67, /* 0x50 */
	0x47, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x6f, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, /* 0x60 */
	0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x67, 0x46, 0x47, 0x46, 0x47, 0x00, /* 0x70 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0x80 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0x90 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0xa0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0xb0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0xc0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0xd0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0xe0 */
	0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, 0x42, /* 0xf0 */
};

struct http1_limits http1_limits_resolve(const struct http1_limits *limits)
{
	struct http1_limits l = { 0 };

	if (limits)
		l = *limits;
	if (!l.max_head)
		l.max_head = 32768;
	/* Head lengths travel in an int return value. */
	if (l.max_head > (size_t)1 << 30)
		l.max_head = (size_t)1 << 30;
	if (!l.max_start_line)
		l.max_start_line = 8192;
	if (!l.max_field_line)
		l.max_field_line = 8192;
	if (!l.max_fields)
		l.max_fields = 100;
	if (l.max_fields > HTTP1_MAX_FIELDS)
		l.max_fields = HTTP1_MAX_FIELDS;
	if (!l.max_chunk_line)
		l.max_chunk_line = 4096;
	if (!l.max_trailer)
		l.max_trailer = 8192;
	if (!l.max_trailers)
		l.max_trailers = 32;
	/* No line is longer than the head it is part of; this also keeps
	 * offset + limit sums far from overflow. */
	if (l.max_start_line > l.max_head)
		l.max_start_line = l.max_head;
	if (l.max_field_line > l.max_head)
		l.max_field_line = l.max_head;
	if (l.max_chunk_line > (size_t)1 << 30)
		l.max_chunk_line = (size_t)1 << 30;
	if (l.max_trailer > (size_t)1 << 30)
		l.max_trailer = (size_t)1 << 30;
	return l;
}

/* Indexed by -code.  Each reason says what to fix. */
static const char *const http1_reasons[] = {
	[0] = "no error",
	[-HTTP1_EINTERNAL] = "internal parser error",
	[-HTTP1_EBARE_LF] = "bare LF line ending (lines must end with CRLF)",
	[-HTTP1_EBARE_CR] = "CR not followed by LF",
	[-HTTP1_ELEADING_EMPTY_LINE] = "empty line before the request line",
	[-HTTP1_EREQUEST_LINE] = "malformed request line (want METHOD SP request-target SP HTTP/1.x, "
				 "single spaces, no space in the target)",
	[-HTTP1_EMETHOD] = "request method is not a token",
	[-HTTP1_ETARGET_CHAR] = "request-target holds a control character, backslash or non-ASCII "
				"byte (percent-encode it)",
	[-HTTP1_EFRAGMENT] = "request-target holds a '#' fragment",
	[-HTTP1_EPERCENT] = "request-target has a malformed percent-encoding (want %XX)",
	[-HTTP1_ETARGET] = "malformed request-target",
	[-HTTP1_EVERSION] = "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1)",
	[-HTTP1_ESCHEME] = "absolute-form request-target with a scheme other than http",
	[-HTTP1_EHTTPS_ABSOLUTE] = "https:// request-target sent to the proxy in the clear "
				   "(use CONNECT)",
	[-HTTP1_EUSERINFO] = "userinfo (user@) in the request-target authority",
	[-HTTP1_EHOST] = "invalid host in the request-target",
	[-HTTP1_EPORT] = "invalid port (want 1-65535 without leading zeros)",
	[-HTTP1_ECONNECT_TARGET] = "CONNECT needs an authority-form target host:port",
	[-HTTP1_EAUTHORITY_FORM] = "authority-form request-target (host:port) is only valid "
				   "with CONNECT",
	[-HTTP1_EASTERISK_FORM] = "asterisk-form request-target (*) is only valid with OPTIONS",
	[-HTTP1_EOBS_FOLD] = "header line starts with whitespace (obsolete line folding)",
	[-HTTP1_ESPACE_BEFORE_COLON] = "whitespace between header name and colon",
	[-HTTP1_EFIELD_NAME] = "empty or invalid header name (names are tokens)",
	[-HTTP1_ENO_COLON] = "header line without a colon",
	[-HTTP1_EFIELD_VALUE] = "control character or NUL in a header value",
	[-HTTP1_ESTART_LINE_TOO_LONG] = "start line too long",
	[-HTTP1_EFIELD_LINE_TOO_LONG] = "header line too long",
	[-HTTP1_EHEAD_TOO_LARGE] = "header block too large",
	[-HTTP1_ETOO_MANY_FIELDS] = "too many header lines",
	[-HTTP1_EDUP_CONTENT_LENGTH] = "more than one Content-Length (repeated header or list)",
	[-HTTP1_ECONTENT_LENGTH] = "Content-Length is not a plain decimal number below 2^62 "
				   "(no sign, no leading zero)",
	[-HTTP1_ECL_AND_TE] = "both Content-Length and Transfer-Encoding present",
	[-HTTP1_ETRANSFER_ENCODING] = "Transfer-Encoding other than exactly one 'chunked' "
				      "(no parameters, no trailing whitespace)",
	[-HTTP1_ETE_HTTP10] = "Transfer-Encoding in an HTTP/1.0 message",
	[-HTTP1_EHOST_MISSING] = "HTTP/1.1 request without a Host header",
	[-HTTP1_EHOST_DUP] = "more than one Host header",
	[-HTTP1_EHOST_HEADER] = "invalid Host header value",
	[-HTTP1_EHOST_MISMATCH] = "Host header disagrees with the request-target authority",
	[-HTTP1_ECONNECTION] = "malformed Connection header (want tokens; it may not name Host "
			       "or Content-Length)",
	[-HTTP1_EEXPECT] = "unsupported Expect (only one 100-continue)",
	[-HTTP1_EUPGRADE_DUP] = "more than one Upgrade header",
	[-HTTP1_ESTATUS_LINE] = "malformed status line (want HTTP/1.x SP 3DIGIT SP reason)",
	[-HTTP1_ESTATUS] = "status code outside 100-599",
	[-HTTP1_EREASON] = "control character in the reason phrase",
	[-HTTP1_ECHUNK_SIZE] = "malformed chunk size (want hex digits, then ';' or CRLF)",
	[-HTTP1_ECHUNK_TOO_LARGE] = "chunk size of 2^62 or more",
	[-HTTP1_ECHUNK_EXT] = "malformed chunk extension",
	[-HTTP1_ECHUNK_LINE_TOO_LONG] = "chunk size line too long",
	[-HTTP1_ECHUNK_CRLF] = "chunk data not followed by CRLF",
	[-HTTP1_ETRAILER_TOO_LARGE] = "trailer section too large",
	[-HTTP1_ETOO_MANY_TRAILERS] = "too many trailer lines",
};

const char *http1_strerror(int code)
{
	if (code > 0 || code < HTTP1_ELAST || !http1_reasons[-code])
		return "unknown error";
	return http1_reasons[-code];
}

/* Indexed by -code: the enum names, for counters (egress /stats). */
static const char *const http1_names[] = {
	[-HTTP1_EINTERNAL] = "internal",
	[-HTTP1_EBARE_LF] = "bare_lf",
	[-HTTP1_EBARE_CR] = "bare_cr",
	[-HTTP1_ELEADING_EMPTY_LINE] = "leading_empty_line",
	[-HTTP1_EREQUEST_LINE] = "request_line",
	[-HTTP1_EMETHOD] = "method",
	[-HTTP1_ETARGET_CHAR] = "target_char",
	[-HTTP1_EFRAGMENT] = "fragment",
	[-HTTP1_EPERCENT] = "percent",
	[-HTTP1_ETARGET] = "target",
	[-HTTP1_EVERSION] = "version",
	[-HTTP1_ESCHEME] = "scheme",
	[-HTTP1_EHTTPS_ABSOLUTE] = "https_absolute",
	[-HTTP1_EUSERINFO] = "userinfo",
	[-HTTP1_EHOST] = "host",
	[-HTTP1_EPORT] = "port",
	[-HTTP1_ECONNECT_TARGET] = "connect_target",
	[-HTTP1_EAUTHORITY_FORM] = "authority_form",
	[-HTTP1_EASTERISK_FORM] = "asterisk_form",
	[-HTTP1_EOBS_FOLD] = "obs_fold",
	[-HTTP1_ESPACE_BEFORE_COLON] = "space_before_colon",
	[-HTTP1_EFIELD_NAME] = "field_name",
	[-HTTP1_ENO_COLON] = "no_colon",
	[-HTTP1_EFIELD_VALUE] = "field_value",
	[-HTTP1_ESTART_LINE_TOO_LONG] = "start_line_too_long",
	[-HTTP1_EFIELD_LINE_TOO_LONG] = "field_line_too_long",
	[-HTTP1_EHEAD_TOO_LARGE] = "head_too_large",
	[-HTTP1_ETOO_MANY_FIELDS] = "too_many_fields",
	[-HTTP1_EDUP_CONTENT_LENGTH] = "dup_content_length",
	[-HTTP1_ECONTENT_LENGTH] = "content_length",
	[-HTTP1_ECL_AND_TE] = "cl_and_te",
	[-HTTP1_ETRANSFER_ENCODING] = "transfer_encoding",
	[-HTTP1_ETE_HTTP10] = "te_http10",
	[-HTTP1_EHOST_MISSING] = "host_missing",
	[-HTTP1_EHOST_DUP] = "host_dup",
	[-HTTP1_EHOST_HEADER] = "host_header",
	[-HTTP1_EHOST_MISMATCH] = "host_mismatch",
	[-HTTP1_ECONNECTION] = "connection",
	[-HTTP1_EEXPECT] = "expect",
	[-HTTP1_EUPGRADE_DUP] = "upgrade_dup",
	[-HTTP1_ESTATUS_LINE] = "status_line",
	[-HTTP1_ESTATUS] = "status",
	[-HTTP1_EREASON] = "reason",
	[-HTTP1_ECHUNK_SIZE] = "chunk_size",
	[-HTTP1_ECHUNK_TOO_LARGE] = "chunk_too_large",
	[-HTTP1_ECHUNK_EXT] = "chunk_ext",
	[-HTTP1_ECHUNK_LINE_TOO_LONG] = "chunk_line_too_long",
	[-HTTP1_ECHUNK_CRLF] = "chunk_crlf",
	[-HTTP1_ETRAILER_TOO_LARGE] = "trailer_too_large",
	[-HTTP1_ETOO_MANY_TRAILERS] = "too_many_trailers",
};

const char *http1_error_name(int code)
{
	if (code >= 0 || code < HTTP1_ELAST || !http1_names[-code])
		return "unknown";
	return http1_names[-code];
}

char *http1_error_message(int code, const struct http1_limits *limits, char *out, size_t out_len)
{
	struct http1_limits l = http1_limits_resolve(limits);
	const char *what = NULL, *unit = "bytes";
	size_t n = 0;

	switch (code) {
	case HTTP1_ESTART_LINE_TOO_LONG:
		what = "start line exceeds";
		n = l.max_start_line;
		break;
	case HTTP1_EFIELD_LINE_TOO_LONG:
		what = "header line exceeds";
		n = l.max_field_line;
		break;
	case HTTP1_EHEAD_TOO_LARGE:
		what = "header block exceeds";
		n = l.max_head;
		break;
	case HTTP1_ETOO_MANY_FIELDS:
		what = "more than";
		unit = "header lines";
		n = l.max_fields;
		break;
	case HTTP1_ECHUNK_LINE_TOO_LONG:
		what = "chunk size line exceeds";
		n = l.max_chunk_line;
		break;
	case HTTP1_ETRAILER_TOO_LARGE:
		what = "trailer section exceeds";
		n = l.max_trailer;
		break;
	case HTTP1_ETOO_MANY_TRAILERS:
		what = "more than";
		unit = "trailer lines";
		n = l.max_trailers;
		break;
	default:
		break;
	}
	if (!out_len)
		return out;
	if (what)
		snprintf(out, out_len, "%s %zu %s", what, n, unit);
	else
		snprintf(out, out_len, "%s", http1_strerror(code));
	return out;
}

int http1_error_status(int code)
{
	switch (code) {
	case HTTP1_EBARE_LF:
	case HTTP1_EBARE_CR:
	case HTTP1_ELEADING_EMPTY_LINE:
	case HTTP1_EREQUEST_LINE:
	case HTTP1_ETARGET_CHAR:
	case HTTP1_EUSERINFO:
	case HTTP1_EOBS_FOLD:
	case HTTP1_ESPACE_BEFORE_COLON:
	case HTTP1_EFIELD_NAME:
	case HTTP1_ENO_COLON:
	case HTTP1_EFIELD_VALUE:
	case HTTP1_EDUP_CONTENT_LENGTH:
	case HTTP1_ECONTENT_LENGTH:
	case HTTP1_ECL_AND_TE:
	case HTTP1_ETRANSFER_ENCODING:
	case HTTP1_ETE_HTTP10:
	case HTTP1_EHOST_DUP:
	case HTTP1_EHOST_MISMATCH:
	case HTTP1_ECONNECTION:
	case HTTP1_ECHUNK_SIZE:
	case HTTP1_ECHUNK_EXT:
	case HTTP1_ECHUNK_CRLF:
		return 403;
	case HTTP1_ESTART_LINE_TOO_LONG:
		return 414;
	case HTTP1_EFIELD_LINE_TOO_LONG:
	case HTTP1_EHEAD_TOO_LARGE:
	case HTTP1_ETOO_MANY_FIELDS:
		return 431;
	case HTTP1_ECHUNK_TOO_LARGE:
	case HTTP1_ECHUNK_LINE_TOO_LONG:
	case HTTP1_ETRAILER_TOO_LARGE:
	case HTTP1_ETOO_MANY_TRAILERS:
		return 413;
	case HTTP1_EVERSION:
		return 505;
	case HTTP1_EEXPECT:
		return 417;
	default:
		return 400;
	}
}

static inline unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c | 0x20) : c;
}

bool http1_str_ieq(struct str a, struct str b)
{
	size_t i;

	if (a.len != b.len)
		return false;
	for (i = 0; i < a.len; i++)
		if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool http1_str_ieq_cstr(struct str a, const char *b)
{
	return http1_str_ieq(a, str_from_cstr(b));
}

bool http1_is_token(struct str s)
{
	size_t i;

	if (!s.len)
		return false;
	for (i = 0; i < s.len; i++)
		if (!http1_is((unsigned char)s.p[i], HTTP1_C_TCHAR))
			return false;
	return true;
}

static struct str trim_ows(const char *p, const char *e)
{
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	return (struct str){ p, (size_t)(e - p) };
}

void http1_list_init(struct http1_list *l, struct str s)
{
	l->p = s.p;
	l->end = s.p + s.len;
	l->done = false;
}

bool http1_list_next(struct http1_list *l, struct str *elem)
{
	const char *comma;

	if (l->done)
		return false;
	comma = l->p < l->end ? memchr(l->p, ',', (size_t)(l->end - l->p)) : NULL;
	*elem = trim_ows(l->p, comma ? comma : l->end);
	if (comma)
		l->p = comma + 1;
	else
		l->done = true;
	return true;
}

int http1_fl_advance(uint8_t *state, const char **pos, const char *stop)
{
	const unsigned char *q = (const unsigned char *)*pos;
	const unsigned char *e = (const unsigned char *)stop;
	int ret = HTTP1_FL_MORE;
	unsigned char c;

	while (q < e) {
		c = *q;
		switch (*state) {
		case HTTP1_FL_LINE_START:
			if (c == '\r') {
				*state = HTTP1_FL_END_LF;
			} else if (http1_is(c, HTTP1_C_TCHAR)) {
				*state = HTTP1_FL_NAME;
			} else {
				ret = c == '\n' ? HTTP1_EBARE_LF
				      : c == ' ' || c == '\t' ? HTTP1_EOBS_FOLD
							      : HTTP1_EFIELD_NAME;
				goto out;
			}
			q++;
			break;
		case HTTP1_FL_NAME:
			while (q < e && http1_is(*q, HTTP1_C_TCHAR))
				q++;
			if (q == e)
				goto out;
			c = *q;
			if (c == ':') {
				*state = HTTP1_FL_VALUE;
			} else if (c == '\r') {
				*state = HTTP1_FL_NAME_CR;
			} else {
				ret = c == '\n' ? HTTP1_EBARE_LF
				      : c == ' ' || c == '\t' ? HTTP1_ESPACE_BEFORE_COLON
							      : HTTP1_EFIELD_NAME;
				goto out;
			}
			q++;
			break;
		case HTTP1_FL_NAME_CR:
			ret = c == '\n' ? HTTP1_ENO_COLON : HTTP1_EBARE_CR;
			goto out;
		case HTTP1_FL_VALUE:
			while (q < e && http1_is(*q, HTTP1_C_FVALUE))
				q++;
			if (q == e)
				goto out;
			if (*q != '\r') {
				ret = *q == '\n' ? HTTP1_EBARE_LF : HTTP1_EFIELD_VALUE;
				goto out;
			}
			*state = HTTP1_FL_VALUE_LF;
			q++;
			break;
		case HTTP1_FL_VALUE_LF:
			if (c != '\n') {
				ret = HTTP1_EBARE_CR;
				goto out;
			}
			*state = HTTP1_FL_LINE_START;
			ret = HTTP1_FL_LINE;
			q++;
			goto out;
		case HTTP1_FL_END_LF:
			if (c != '\n') {
				ret = HTTP1_EBARE_CR;
				goto out;
			}
			*state = HTTP1_FL_DONE;
			ret = HTTP1_FL_END;
			q++;
			goto out;
		default:
			ret = HTTP1_EINTERNAL;
			goto out;
		}
	}
out:
	*pos = (const char *)q;
	return ret;
}

static size_t min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Name and trimmed value of a complete field line [line, eol). */
static void split_field(const char *line, const char *eol, struct str *name, struct str *value)
{
	const char *colon = memchr(line, ':', (size_t)(eol - line));

	/* The scanner guaranteed a colon; be defensive anyway. */
	if (!colon)
		colon = eol;
	*name = (struct str){ line, (size_t)(colon - line) };
	*value = trim_ows(colon < eol ? colon + 1 : eol, eol);
}

int http1_scan_fields(struct http1_scan *s, const char *base, const char *end,
		      const struct http1_limits *lim,
		      int (*on_field)(struct http1_scan *s, struct str name, struct str value))
{
	size_t avail = (size_t)(end - base), stop, line_cap;
	const char *pos;
	struct str name, value;
	int r;

	for (;;) {
		if (s->state == HTTP1_FL_LINE_START) {
			s->line_start = s->off;
			if (s->off < avail && base[s->off] != '\r' && s->nfields >= lim->max_fields)
				return HTTP1_ETOO_MANY_FIELDS;
		}
		line_cap = s->line_start + lim->max_field_line + 2;
		stop = min3(avail, line_cap, lim->max_head);
		if (s->off > stop)
			return HTTP1_EINTERNAL;
		pos = base + s->off;
		r = http1_fl_advance(&s->state, &pos, base + stop);
		s->off = (size_t)(pos - base);
		if (r < 0)
			return r;
		if (r == HTTP1_FL_END) {
			s->head_len = s->off;
			return (int)s->off;
		}
		if (r == HTTP1_FL_LINE) {
			s->nfields++;
			split_field(base + s->line_start, base + s->off - 2, &name, &value);
			r = on_field(s, name, value);
			if (r < 0)
				return r;
			continue;
		}
		/* Stopped mid-line: at a limit, or out of bytes. */
		if (s->off == line_cap)
			return HTTP1_EFIELD_LINE_TOO_LONG;
		if (s->off == lim->max_head)
			return HTTP1_EHEAD_TOO_LARGE;
		return 0;
	}
}

static int content_length_parse(struct str v, int64_t *out)
{
	int64_t n = 0, d;
	size_t i;

	if (memchr(v.p, ',', v.len))
		return HTTP1_EDUP_CONTENT_LENGTH;
	/* "010" is 8 to a peer that reads C literals: egress forwards the
	 * field as it came, so only one reading may exist. */
	if (!v.len || (v.len > 1 && v.p[0] == '0'))
		return HTTP1_ECONTENT_LENGTH;
	for (i = 0; i < v.len; i++) {
		if (!http1_is((unsigned char)v.p[i], HTTP1_C_DIGIT))
			return HTTP1_ECONTENT_LENGTH;
		d = v.p[i] - '0';
		if (n > (HTTP1_MAX_LENGTH - 1 - d) / 10)
			return HTTP1_ECONTENT_LENGTH;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

/* RFC 9112 §6.1: we accept exactly one coding, "chunked", with no
 * parameters, across every Transfer-Encoding line; anything else is a
 * smuggling shape or a coding we cannot frame. */
static int transfer_encoding_check(struct http1_scan *s, struct str v)
{
	struct http1_list l;
	struct str e;

	/* Trailing OWS is not part of a field value (RFC 9110 §5.5), but
	 * parsers disagree on "chunked\t": some do not see chunked there.  v
	 * is a slice of a field line, so the byte after it is in the line
	 * (the trailing OWS or the CR). */
	if (v.p[v.len] == ' ' || v.p[v.len] == '\t')
		return HTTP1_ETRANSFER_ENCODING;
	http1_list_init(&l, v);
	while (http1_list_next(&l, &e)) {
		if (!http1_str_ieq_cstr(e, "chunked") || (s->flags & HTTP1_SEEN_TE))
			return HTTP1_ETRANSFER_ENCODING;
		s->flags |= HTTP1_SEEN_TE;
	}
	return 0;
}

static int connection_check(struct http1_scan *s, struct str v)
{
	struct http1_list l;
	struct str e;

	http1_list_init(&l, v);
	while (http1_list_next(&l, &e)) {
		if (!e.len)
			continue;
		if (!http1_is_token(e))
			return HTTP1_ECONNECTION;
		/* A proxy drops what Connection names: naming the framing or
		 * the routing field would make it strip them. */
		if (http1_str_ieq_cstr(e, "host") || http1_str_ieq_cstr(e, "content-length"))
			return HTTP1_ECONNECTION;
		if (http1_str_ieq_cstr(e, "close"))
			s->flags |= HTTP1_CONN_CLOSE;
		else if (http1_str_ieq_cstr(e, "keep-alive"))
			s->flags |= HTTP1_CONN_KEEPALIVE;
		else if (http1_str_ieq_cstr(e, "upgrade"))
			s->flags |= HTTP1_CONN_UPGRADE;
	}
	return 0;
}

int http1_field_common(struct http1_scan *s, struct str name, struct str value)
{
	int r;

	if (http1_str_ieq_cstr(name, "content-length")) {
		if (s->flags & HTTP1_SEEN_CL)
			return HTTP1_EDUP_CONTENT_LENGTH;
		r = content_length_parse(value, &s->content_length);
		if (r < 0)
			return r;
		s->flags |= HTTP1_SEEN_CL;
		if (s->flags & HTTP1_SEEN_TE)
			return HTTP1_ECL_AND_TE;
	} else if (http1_str_ieq_cstr(name, "transfer-encoding")) {
		r = transfer_encoding_check(s, value);
		if (r < 0)
			return r;
		if (s->version_minor == 0)
			return HTTP1_ETE_HTTP10;
		if (s->flags & HTTP1_SEEN_CL)
			return HTTP1_ECL_AND_TE;
	} else if (http1_str_ieq_cstr(name, "connection")) {
		return connection_check(s, value);
	} else if (http1_str_ieq_cstr(name, "upgrade")) {
		if (s->flags & HTTP1_SEEN_UPGRADE)
			return HTTP1_EUPGRADE_DUP;
		s->flags |= HTTP1_SEEN_UPGRADE;
	}
	return 0;
}

void http1_fields_collect(struct http1_fields *f, const char *line, const char *head_end)
{
	const char *eol;

	f->n = 0;
	while (line < head_end && *line != '\r' && f->n < HTTP1_MAX_FIELDS) {
		eol = memchr(line, '\r', (size_t)(head_end - line));
		if (!eol)
			break;
		split_field(line, eol, &f->v[f->n].name, &f->v[f->n].value);
		f->n++;
		line = eol + 2;
	}
}

int http1_scan_head(struct http1_scan *s, const char *p, const char *end,
		    const struct http1_limits *lim,
		    int (*start_line)(struct http1_scan *s, const char *base, const char *end,
				      const struct http1_limits *lim),
		    int (*on_field)(struct http1_scan *s, struct str name, struct str value))
{
	int r;

	if (end < p || (!p && end))
		return HTTP1_EINTERNAL;
	if (s->err)
		return s->err;
	if ((size_t)(end - p) < s->off)
		memset(s, 0, sizeof(*s));
	if (p == end)
		return 0;
	if (s->head_len)
		return 1;
	if (s->state < HTTP1_FL_LINE_START) {
		r = start_line(s, p, end, lim);
		if (r <= 0)
			goto out;
	}
	r = http1_scan_fields(s, p, end, lim, on_field);
	if (r > 0)
		r = 1;
out:
	if (r < 0)
		s->err = r;
	return r;
}

const struct http1_field *http1_fields_find(const struct http1_fields *f, const char *name)
{
	struct str n = str_from_cstr(name);
	size_t i;

	for (i = 0; i < f->n; i++)
		if (http1_str_ieq(f->v[i].name, n))
			return &f->v[i];
	return NULL;
}

size_t http1_fields_count(const struct http1_fields *f, const char *name)
{
	struct str n = str_from_cstr(name);
	size_t i, count = 0;

	for (i = 0; i < f->n; i++)
		count += http1_str_ieq(f->v[i].name, n);
	return count;
}

static const char *const hop_by_hop[] = {
	"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
	"proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade",
};

bool http1_fields_is_hop_by_hop(const struct http1_fields *f, struct str name)
{
	struct http1_list l;
	struct str e;
	size_t i;

	for (i = 0; i < sizeof(hop_by_hop) / sizeof(hop_by_hop[0]); i++)
		if (http1_str_ieq_cstr(name, hop_by_hop[i]))
			return true;
	for (i = 0; i < f->n; i++) {
		if (!http1_str_ieq_cstr(f->v[i].name, "connection"))
			continue;
		http1_list_init(&l, f->v[i].value);
		while (http1_list_next(&l, &e))
			if (e.len && http1_str_ieq(e, name))
				return true;
	}
	return false;
}

/* Response heads: the status line and the body framing of RFC 9112 §6.3. */
#include "http1.h"

#include <string.h>

enum {
	SL_VERSION = 0,
	SL_SP,
	SL_CODE,
	SL_AFTER_CODE,
	SL_REASON,
	SL_LF,
};

static int status_code(const char *line)
{
	return (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
}

/* Returns 1 when the status line is done, 0 for more bytes, or an error. */
static int scan_status_line(struct http1_scan *s, const char *base, const char *end,
			    const struct http1_limits *lim)
{
	static const char version[] = "HTTP/1.";
	size_t avail = (size_t)(end - base);
	size_t cap = lim->max_start_line + 2 < lim->max_head ? lim->max_start_line + 2 : lim->max_head;
	const unsigned char *q = (const unsigned char *)base + s->off;
	const unsigned char *e = (const unsigned char *)base + (avail < cap ? avail : cap);
	int ret = 0, status;
	unsigned char c;

	while (q < e) {
		c = *q;
		if (c == '\n' && s->state != SL_LF) {
			ret = HTTP1_EBARE_LF;
			goto out;
		}
		switch (s->state) {
		case SL_VERSION:
			if (s->aux < 7 ? c != version[s->aux] : c != '0' && c != '1') {
				ret = s->aux < 5 ? HTTP1_ESTATUS_LINE : HTTP1_EVERSION;
				goto out;
			}
			if (s->aux == 7) {
				s->version_minor = (uint8_t)(c - '0');
				s->state = SL_SP;
			}
			s->aux++;
			break;
		case SL_SP:
			if (c != ' ') {
				ret = http1_is(c, HTTP1_C_DIGIT) ? HTTP1_EVERSION : HTTP1_ESTATUS_LINE;
				goto out;
			}
			s->state = SL_CODE;
			s->aux = 0;
			break;
		case SL_CODE:
			if (!http1_is(c, HTTP1_C_DIGIT)) {
				ret = HTTP1_ESTATUS_LINE;
				goto out;
			}
			if (++s->aux == 3)
				s->state = SL_AFTER_CODE;
			break;
		case SL_AFTER_CODE:
			/* "HTTP/1.1 204\r\n" (no SP before an empty reason) is
			 * common and unambiguous: accepted. */
			if (c == ' ') {
				s->state = SL_REASON;
			} else if (c == '\r') {
				s->state = SL_LF;
			} else {
				ret = HTTP1_ESTATUS_LINE;
				goto out;
			}
			break;
		case SL_REASON:
			while (q < e && http1_is(*q, HTTP1_C_FVALUE))
				q++;
			if (q == e)
				goto out;
			c = *q;
			if (c == '\n') {
				ret = HTTP1_EBARE_LF;
				goto out;
			}
			if (c != '\r') {
				ret = HTTP1_EREASON;
				goto out;
			}
			s->state = SL_LF;
			break;
		case SL_LF:
			if (c != '\n') {
				ret = HTTP1_EBARE_CR;
				goto out;
			}
			q++;
			s->off = (size_t)((const char *)q - base);
			status = status_code(base);
			if (status < 100 || status > 599)
				return HTTP1_ESTATUS;
			s->state = HTTP1_FL_LINE_START;
			return 1;
		default:
			ret = HTTP1_EINTERNAL;
			goto out;
		}
		q++;
	}
out:
	s->off = (size_t)((const char *)q - base);
	if (ret == 0 && s->off == cap)
		ret = cap == lim->max_start_line + 2 ? HTTP1_ESTART_LINE_TOO_LONG : HTTP1_EHEAD_TOO_LARGE;
	return ret;
}

static int response_finish(struct http1_response *resp, const char *base, enum http1_method request_method)
{
	const struct http1_scan *s = &resp->scan;
	const char *eol = memchr(base, '\r', s->head_len);
	const struct http1_field *f;
	bool v11 = s->version_minor == 1;
	int st;

	if (!eol || eol - base < 12)
		return HTTP1_EINTERNAL;
	resp->version_minor = s->version_minor;
	resp->status = st = status_code(base);
	resp->reason = eol - base > 12 ? (struct str){ base + 13, (size_t)(eol - base - 13) }
				       : (struct str){ eol, 0 };
	http1_fields_collect(&resp->fields, eol + 2, base + s->head_len);
	resp->content_length = (s->flags & HTTP1_SEEN_CL) ? s->content_length : -1;

	if (st == 101)
		resp->body = HTTP1_BODY_TUNNEL;
	else if (request_method == HTTP1_M_HEAD || st < 200 || st == 204 || st == 304)
		resp->body = HTTP1_BODY_NONE;
	else if (request_method == HTTP1_M_CONNECT && st < 300)
		resp->body = HTTP1_BODY_TUNNEL;
	else if (s->flags & HTTP1_SEEN_TE)
		resp->body = HTTP1_BODY_CHUNKED;
	else if (s->flags & HTTP1_SEEN_CL)
		resp->body = HTTP1_BODY_LENGTH;
	else
		resp->body = HTTP1_BODY_CLOSE;

	resp->connection_close = (s->flags & HTTP1_CONN_CLOSE) != 0;
	resp->keep_alive = !resp->connection_close && (v11 || (s->flags & HTTP1_CONN_KEEPALIVE)) &&
			   resp->body != HTTP1_BODY_CLOSE && resp->body != HTTP1_BODY_TUNNEL;
	resp->upgrade = (struct str){ eol, 0 };
	if (st == 101) {
		f = http1_fields_find(&resp->fields, "upgrade");
		if (f)
			resp->upgrade = f->value;
	}
	resp->head_len = s->head_len;
	return (int)s->head_len;
}

void http1_response_init(struct http1_response *resp)
{
	memset(&resp->scan, 0, sizeof(resp->scan));
	resp->fields.n = 0;
	resp->head_len = 0;
}

int http1_response_parse(struct http1_response *resp, const char *p, const char *end,
			 const struct http1_limits *limits, enum http1_method request_method)
{
	struct http1_limits lim = http1_limits_resolve(limits);
	struct http1_scan *s = &resp->scan;
	int r;

	r = http1_scan_head(s, p, end, &lim, scan_status_line, http1_field_common);
	if (r <= 0)
		return r;
	r = response_finish(resp, p, request_method);
	if (r < 0)
		s->err = r;
	return r;
}

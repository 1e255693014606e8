/* Request heads: the request line, the request-target forms and their
 * authorities, Host and Expect, and the request's body framing. */
#include "http1.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static const char *const method_names[] = {
	[HTTP1_M_OTHER] = "",
	[HTTP1_M_GET] = "GET",
	[HTTP1_M_HEAD] = "HEAD",
	[HTTP1_M_POST] = "POST",
	[HTTP1_M_PUT] = "PUT",
	[HTTP1_M_DELETE] = "DELETE",
	[HTTP1_M_CONNECT] = "CONNECT",
	[HTTP1_M_OPTIONS] = "OPTIONS",
	[HTTP1_M_TRACE] = "TRACE",
	[HTTP1_M_PATCH] = "PATCH",
};

#define NMETHODS (sizeof(method_names) / sizeof(method_names[0]))

const char *http1_method_str(enum http1_method m)
{
	return (size_t)m < NMETHODS ? method_names[m] : "";
}

enum http1_method http1_method_from_str(struct str s)
{
	size_t i;

	for (i = 1; i < NMETHODS; i++)
		if (str_equal_cstr(s, method_names[i]))
			return (enum http1_method)i;
	return HTTP1_M_OTHER;
}

/* ---- authorities ---- */

static int port_parse(const char *p, size_t n, uint16_t *out)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 5 || (n > 1 && p[0] == '0'))
		return HTTP1_EPORT;
	for (i = 0; i < n; i++) {
		if (!http1_is((unsigned char)p[i], HTTP1_C_DIGIT))
			return HTTP1_EPORT;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return HTTP1_EPORT;
	*out = (uint16_t)v;
	return 0;
}

/* A label that URL parsers and inet_aton() read as a number (WHATWG
 * "ends in a number"): decimal digits, or 0x followed by hex digits. */
static bool numeric_label(const char *p, size_t n)
{
	size_t i = 0;
	unsigned cls = HTTP1_C_DIGIT;

	if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		i = 2;
		cls = HTTP1_C_HEX;
	} else if (n == 0) {
		return false;
	}
	for (; i < n; i++)
		if (!http1_is((unsigned char)p[i], cls))
			return false;
	return true;
}

/* Exactly four decimal parts 0-255 without leading zeros. */
static bool canonical_ipv4(const char *p, size_t n)
{
	size_t i, parts = 0, digits = 0;
	unsigned v = 0;

	for (i = 0; i <= n; i++) {
		if (i == n || p[i] == '.') {
			if (digits == 0 || v > 255 || (digits > 1 && p[i - digits] == '0'))
				return false;
			parts++;
			digits = 0;
			v = 0;
			continue;
		}
		if (!http1_is((unsigned char)p[i], HTTP1_C_DIGIT) || ++digits > 3)
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return parts == 4;
}

static int reg_name_check(struct str h, enum http1_host_kind *kind)
{
	size_t i, start = 0;

	if (!h.len || h.len > 253)
		return HTTP1_EHOST;
	for (i = 0; i < h.len; i++) {
		if (!http1_is((unsigned char)h.p[i], HTTP1_C_HOST))
			return HTTP1_EHOST;
		if (h.p[i] == '.') {
			if (i == start || i - start > 63)
				return HTTP1_EHOST;
			start = i + 1;
		}
	}
	/* The last label: empty means a trailing dot, which names the same
	 * host as without it and so slips past host matching. */
	if (i == start || i - start > 63)
		return HTTP1_EHOST;
	if (numeric_label(h.p + start, i - start)) {
		if (!canonical_ipv4(h.p, h.len))
			return HTTP1_EHOST;
		*kind = HTTP1_HOST_IPV4;
		return 0;
	}
	*kind = HTTP1_HOST_NAME;
	return 0;
}

static int ipv6_check(struct str h)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr addr;
	size_t i;

	if (h.len < 2 || h.len >= sizeof(buf))
		return HTTP1_EHOST;
	for (i = 0; i < h.len; i++)
		if (!http1_is((unsigned char)h.p[i], HTTP1_C_HEX) && h.p[i] != ':' && h.p[i] != '.')
			return HTTP1_EHOST;
	memcpy(buf, h.p, h.len);
	buf[h.len] = '\0';
	return inet_pton(AF_INET6, buf, &addr) == 1 ? 0 : HTTP1_EHOST;
}

int http1_authority_parse(struct str s, struct http1_authority *out)
{
	const char *p = s.p, *e = s.p + s.len, *colon, *close;
	int r;

	memset(out, 0, sizeof(*out));
	if (!s.len)
		return HTTP1_EHOST;
	if (memchr(p, '@', s.len))
		return HTTP1_EUSERINFO;
	if (p[0] == '[') {
		close = memchr(p, ']', s.len);
		if (!close)
			return HTTP1_EHOST;
		out->host = (struct str){ p + 1, (size_t)(close - p - 1) };
		if (ipv6_check(out->host) < 0)
			return HTTP1_EHOST;
		out->kind = HTTP1_HOST_IPV6;
		colon = close + 1 < e ? close + 1 : NULL;
		if (colon && *colon != ':')
			return HTTP1_EHOST;
	} else {
		colon = memchr(p, ':', s.len);
		out->host = (struct str){ p, (size_t)((colon ? colon : e) - p) };
		r = reg_name_check(out->host, &out->kind);
		if (r < 0)
			return r;
	}
	if (colon) {
		r = port_parse(colon + 1, (size_t)(e - colon - 1), &out->port);
		if (r < 0)
			return r;
		out->has_port = true;
	}
	return 0;
}

bool http1_host_equal(struct str a, struct str b)
{
	return http1_str_ieq(a, b);
}

/* ---- request-target ---- */

static void split_path_query(struct http1_target *t, const char *p, const char *e)
{
	const char *q = p < e ? memchr(p, '?', (size_t)(e - p)) : NULL;

	t->path = (struct str){ p, (size_t)((q ? q : e) - p) };
	if (q) {
		t->has_query = true;
		t->query = (struct str){ q + 1, (size_t)(e - q - 1) };
	}
}

static uint16_t default_port(enum http1_scheme scheme)
{
	return scheme == HTTP1_SCHEME_HTTPS ? 443 : 80;
}

int http1_target_parse(struct str raw, enum http1_method m, unsigned flags, struct http1_target *t)
{
	const char *p = raw.p, *e = raw.p + raw.len, *a, *ae;
	struct http1_authority tmp;
	struct str scheme;
	size_t i = 0;
	int r;

	memset(t, 0, sizeof(*t));
	t->raw = raw;
	if (!raw.len)
		return HTTP1_ETARGET;
	if (m == HTTP1_M_CONNECT) {
		t->form = HTTP1_FORM_AUTHORITY;
		if (memchr(p, '/', raw.len) || memchr(p, '?', raw.len) || p[0] == '*')
			return HTTP1_ECONNECT_TARGET;
		r = http1_authority_parse(raw, &t->authority);
		if (r < 0)
			return r;
		return t->authority.has_port ? 0 : HTTP1_ECONNECT_TARGET;
	}
	if (p[0] == '/') {
		t->form = HTTP1_FORM_ORIGIN;
		split_path_query(t, p, e);
		return 0;
	}
	if (raw.len == 1 && p[0] == '*') {
		t->form = HTTP1_FORM_ASTERISK;
		return m == HTTP1_M_OPTIONS ? 0 : HTTP1_EASTERISK_FORM;
	}
	/* scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) */
	if (http1_is((unsigned char)p[0], HTTP1_C_HOST) && !http1_is((unsigned char)p[0], HTTP1_C_DIGIT) &&
	    p[0] != '-' && p[0] != '.' && p[0] != '_') {
		for (i = 1; i < raw.len; i++)
			if (!(http1_is((unsigned char)p[i], HTTP1_C_HOST) && p[i] != '_') && p[i] != '+')
				break;
	}
	scheme = (struct str){ p, i };
	if (i > 0 && raw.len - i >= 3 && memcmp(p + i, "://", 3) == 0) {
		if (http1_str_ieq_cstr(scheme, "http"))
			t->scheme = HTTP1_SCHEME_HTTP;
		else if (http1_str_ieq_cstr(scheme, "https"))
			t->scheme = HTTP1_SCHEME_HTTPS;
		else
			return HTTP1_ESCHEME;
		t->form = HTTP1_FORM_ABSOLUTE;
		a = p + i + 3;
		for (ae = a; ae < e && *ae != '/' && *ae != '?'; ae++)
			;
		r = http1_authority_parse((struct str){ a, (size_t)(ae - a) }, &t->authority);
		if (r < 0)
			return r;
		if (!t->authority.has_port)
			t->authority.port = default_port(t->scheme);
		split_path_query(t, ae, e);
		if (t->scheme == HTTP1_SCHEME_HTTPS && !(flags & HTTP1_ALLOW_HTTPS_ABSOLUTE))
			return HTTP1_EHTTPS_ABSOLUTE;
		return 0;
	}
	if (http1_authority_parse(raw, &tmp) == 0 && tmp.has_port)
		return HTTP1_EAUTHORITY_FORM;
	if (i > 0 && i < raw.len && p[i] == ':' && !http1_str_ieq_cstr(scheme, "http") &&
	    !http1_str_ieq_cstr(scheme, "https"))
		return HTTP1_ESCHEME;
	return HTTP1_ETARGET;
}

/* ---- the request line ---- */

enum {
	RL_START = 0,
	RL_LEAD_CR,
	RL_METHOD,
	RL_TARGET_START,
	RL_TARGET,
	RL_PCT1,
	RL_PCT2,
	RL_VERSION,
	RL_CR,
	RL_LF,
	RL_BAD_CR, /* a CR before the version: CRLF means a short line */
};

/* The request line [base, eol) is complete and its bytes valid: check its
 * structure.  The version is the last 8 bytes, after a single SP. */
static int request_line_split(const char *base, const char *eol, struct str *method, struct str *target)
{
	const char *sp = memchr(base, ' ', (size_t)(eol - base));

	if (!sp || eol - sp < 10)
		return HTTP1_EINTERNAL;
	*method = (struct str){ base, (size_t)(sp - base) };
	*target = (struct str){ sp + 1, (size_t)(eol - 9 - (sp + 1)) };
	return 0;
}

static int request_line_done(struct http1_scan *s, const char *base, const struct http1_limits *lim)
{
	struct http1_target t;
	struct str method, target;
	int r;

	r = request_line_split(base, base + s->off - 2, &method, &target);
	if (r < 0)
		return r;
	return http1_target_parse(target, http1_method_from_str(method), lim->flags, &t);
}

/* Returns 1 when the request line is done, 0 for more bytes, or an error. */
static int scan_request_line(struct http1_scan *s, const char *base, const char *end,
			     const struct http1_limits *lim)
{
	static const char version[] = "HTTP/1.";
	size_t avail = (size_t)(end - base);
	size_t cap = lim->max_start_line + 2 < lim->max_head ? lim->max_start_line + 2 : lim->max_head;
	const unsigned char *q = (const unsigned char *)base + s->off;
	const unsigned char *e = (const unsigned char *)base + (avail < cap ? avail : cap);
	int ret = 0;
	unsigned char c;

	while (q < e) {
		c = *q;
		switch (s->state) {
		case RL_START:
			if (c == '\r') {
				s->state = RL_LEAD_CR;
			} else if (http1_is(c, HTTP1_C_TCHAR)) {
				s->state = RL_METHOD;
			} else {
				ret = c == '\n' ? HTTP1_EBARE_LF : c == ' ' ? HTTP1_EREQUEST_LINE : HTTP1_EMETHOD;
				goto out;
			}
			q++;
			break;
		case RL_LEAD_CR:
			ret = c == '\n' ? HTTP1_ELEADING_EMPTY_LINE : HTTP1_EBARE_CR;
			goto out;
		case RL_METHOD:
			while (q < e && http1_is(*q, HTTP1_C_TCHAR))
				q++;
			if (q == e)
				goto out;
			c = *q;
			if (c == ' ') {
				s->state = RL_TARGET_START;
			} else if (c == '\r') {
				s->state = RL_BAD_CR;
			} else {
				ret = c == '\n' ? HTTP1_EBARE_LF : HTTP1_EMETHOD;
				goto out;
			}
			q++;
			break;
		case RL_TARGET_START:
			if (c == ' ' || c == '\n') {
				ret = c == ' ' ? HTTP1_EREQUEST_LINE : HTTP1_EBARE_LF;
				goto out;
			}
			if (c == '\r') {
				s->state = RL_BAD_CR;
				q++;
			} else {
				s->state = RL_TARGET;
			}
			break;
		case RL_TARGET:
			while (q < e && http1_is(*q, HTTP1_C_TARGET) && *q != '%')
				q++;
			if (q == e)
				goto out;
			c = *q;
			if (c == '%') {
				s->state = RL_PCT1;
			} else if (c == ' ') {
				s->state = RL_VERSION;
				s->aux = 0;
			} else if (c == '\r') {
				s->state = RL_BAD_CR;
			} else {
				ret = c == '\n' ? HTTP1_EBARE_LF : c == '#' ? HTTP1_EFRAGMENT : HTTP1_ETARGET_CHAR;
				goto out;
			}
			q++;
			break;
		case RL_PCT1:
		case RL_PCT2:
			if (!http1_is(c, HTTP1_C_HEX)) {
				ret = c == '\n' ? HTTP1_EBARE_LF : HTTP1_EPERCENT;
				goto out;
			}
			s->state = s->state == RL_PCT1 ? RL_PCT2 : RL_TARGET;
			q++;
			break;
		case RL_VERSION:
			if (c == '\n') {
				ret = HTTP1_EBARE_LF;
				goto out;
			}
			/* Not even the start of a version: a space inside the target. */
			if (s->aux == 0 && c != 'H' && c != 'h') {
				ret = HTTP1_EREQUEST_LINE;
				goto out;
			}
			if (s->aux < 7 ? c != version[s->aux] : c != '0' && c != '1') {
				ret = HTTP1_EVERSION;
				goto out;
			}
			if (s->aux == 7) {
				s->version_minor = (uint8_t)(c - '0');
				s->state = RL_CR;
			}
			s->aux++;
			q++;
			break;
		case RL_CR:
			if (c != '\r') {
				ret = c == '\n'					  ? HTTP1_EBARE_LF
				      : http1_is(c, HTTP1_C_DIGIT) ? HTTP1_EVERSION
								   : HTTP1_EREQUEST_LINE;
				goto out;
			}
			s->state = RL_LF;
			q++;
			break;
		case RL_LF:
			if (c != '\n') {
				ret = HTTP1_EBARE_CR;
				goto out;
			}
			q++;
			s->off = (size_t)((const char *)q - base);
			ret = request_line_done(s, base, lim);
			if (ret < 0)
				return ret;
			s->state = HTTP1_FL_LINE_START;
			return 1;
		case RL_BAD_CR:
			ret = c == '\n' ? HTTP1_EREQUEST_LINE : HTTP1_EBARE_CR;
			goto out;
		default:
			ret = HTTP1_EINTERNAL;
			goto out;
		}
	}
out:
	s->off = (size_t)((const char *)q - base);
	if (ret == 0 && s->off == cap)
		ret = cap == lim->max_start_line + 2 ? HTTP1_ESTART_LINE_TOO_LONG : HTTP1_EHEAD_TOO_LARGE;
	return ret;
}

/* ---- fields a request adds ---- */

static int request_field(struct http1_scan *s, struct str name, struct str value)
{
	struct http1_authority a;

	if (http1_str_ieq_cstr(name, "host")) {
		if (s->flags & HTTP1_SEEN_HOST)
			return HTTP1_EHOST_DUP;
		s->flags |= HTTP1_SEEN_HOST;
		return http1_authority_parse(value, &a) < 0 ? HTTP1_EHOST_HEADER : 0;
	}
	if (http1_str_ieq_cstr(name, "expect")) {
		if ((s->flags & HTTP1_SEEN_EXPECT) || !http1_str_ieq_cstr(value, "100-continue"))
			return HTTP1_EEXPECT;
		s->flags |= HTTP1_SEEN_EXPECT | HTTP1_EXPECT_CONTINUE;
		return 0;
	}
	return http1_field_common(s, name, value);
}

/* The head is complete and every line valid: fill the result and apply the
 * rules that need the whole head. */
static int request_finish(struct http1_request *req, const char *base, const struct http1_limits *lim)
{
	const struct http1_scan *s = &req->scan;
	const char *head_end = base + s->head_len;
	const char *eol = memchr(base, '\r', s->head_len);
	const struct http1_field *f;
	struct http1_authority host;
	struct str target;
	bool v11 = s->version_minor == 1;
	int r;

	if (!eol)
		return HTTP1_EINTERNAL;
	r = request_line_split(base, eol, &req->method_name, &target);
	if (r < 0)
		return r;
	req->method = http1_method_from_str(req->method_name);
	req->version_minor = s->version_minor;
	r = http1_target_parse(target, req->method, lim->flags, &req->target);
	if (r < 0)
		return r;
	http1_fields_collect(&req->fields, eol + 2, head_end);

	f = http1_fields_find(&req->fields, "host");
	req->host_header = f ? f->value : (struct str){ base, 0 };
	req->authority = req->target.authority;
	if (!f) {
		if (v11)
			return HTTP1_EHOST_MISSING;
	} else if (http1_authority_parse(f->value, &host) < 0) {
		return HTTP1_EHOST_HEADER;
	} else if (req->target.form != HTTP1_FORM_ABSOLUTE && req->target.form != HTTP1_FORM_AUTHORITY) {
		req->authority = host;
	} else if (!(lim->flags & HTTP1_ALLOW_HOST_MISMATCH)) {
		/* RFC 9112 §3.2.2 lets the target win; unless the caller drops
		 * the received Host, a disagreement is how an agent would slip
		 * a second destination past the policy. */
		if (!http1_host_equal(host.host, req->target.authority.host))
			return HTTP1_EHOST_MISMATCH;
		if (host.has_port && host.port != req->target.authority.port)
			return HTTP1_EHOST_MISMATCH;
		if (!host.has_port && req->target.form == HTTP1_FORM_ABSOLUTE &&
		    req->target.authority.port != default_port(req->target.scheme))
			return HTTP1_EHOST_MISMATCH;
	}

	if (s->flags & HTTP1_SEEN_TE) {
		req->body = HTTP1_BODY_CHUNKED;
		req->content_length = -1;
	} else if (s->flags & HTTP1_SEEN_CL) {
		req->body = HTTP1_BODY_LENGTH;
		req->content_length = s->content_length;
	} else {
		req->body = HTTP1_BODY_NONE;
		req->content_length = -1;
	}
	req->connection_close = (s->flags & HTTP1_CONN_CLOSE) != 0;
	req->keep_alive = !req->connection_close && (v11 || (s->flags & HTTP1_CONN_KEEPALIVE));
	req->expect_continue = v11 && (s->flags & HTTP1_EXPECT_CONTINUE);
	req->upgrade = (struct str){ base, 0 };
	if (v11 && (s->flags & HTTP1_CONN_UPGRADE)) {
		f = http1_fields_find(&req->fields, "upgrade");
		if (f)
			req->upgrade = f->value;
	}
	req->head_len = s->head_len;
	return (int)s->head_len;
}

void http1_request_init(struct http1_request *req)
{
	memset(&req->scan, 0, sizeof(req->scan));
	req->fields.n = 0;
	req->head_len = 0;
}

int http1_request_parse(struct http1_request *req, const char *p, const char *end,
			const struct http1_limits *limits)
{
	struct http1_limits lim = http1_limits_resolve(limits);
	struct http1_scan *s = &req->scan;
	int r;

	r = http1_scan_head(s, p, end, &lim, scan_request_line, request_field);
	if (r <= 0)
		return r;
	r = request_finish(req, p, &lim);
	if (r < 0)
		s->err = r;
	return r;
}

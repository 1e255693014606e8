/* The chunked transfer coding (RFC 9112 §7.1): a streaming decoder that
 * hands out slices of its input, and the chunk header encoder. */
#include "http1.h"

#include <stdio.h>
#include <string.h>

enum {
	CK_SIZE_START = 0,
	CK_SIZE,
	CK_EXT_BWS,        /* BWS that must lead to ';' */
	CK_EXT_NAME_START, /* after ';': BWS then a token */
	CK_EXT_NAME,
	CK_EXT_AFTER_NAME, /* BWS after the name: '=' or ';' next */
	CK_EXT_VAL_START,  /* after '=': BWS then token or quoted-string */
	CK_EXT_VAL_TOKEN,
	CK_EXT_QS,
	CK_EXT_QS_ESC,
	CK_EXT_AFTER_VAL,
	CK_SIZE_LF,
	CK_DATA,
	CK_DATA_CR,
	CK_DATA_LF,
	CK_TRAILER,
	CK_DONE,
};

void http1_chunked_init(struct http1_chunked *c, const struct http1_limits *limits)
{
	struct http1_limits l = http1_limits_resolve(limits);

	memset(c, 0, sizeof(*c));
	c->max_chunk_line = l.max_chunk_line;
	c->max_trailer = l.max_trailer;
	c->max_trailers = l.max_trailers;
	c->max_field_line = l.max_field_line;
}

static unsigned hexval(unsigned char ch)
{
	if (ch <= '9')
		return ch - '0';
	return (unsigned)(ch | 0x20) - 'a' + 10;
}

static bool bws(unsigned char ch)
{
	return ch == ' ' || ch == '\t';
}

/* One byte of the chunk-size line after the size digits. */
static int ext_byte(struct http1_chunked *c, unsigned char ch)
{
	bool tchar = http1_is(ch, HTTP1_C_TCHAR);

	if (ch == '\n')
		return HTTP1_EBARE_LF;
	switch (c->state) {
	case CK_EXT_BWS:
		if (ch == ';')
			c->state = CK_EXT_NAME_START;
		else if (!bws(ch))
			return HTTP1_ECHUNK_EXT;
		return 0;
	case CK_EXT_NAME_START:
		if (tchar)
			c->state = CK_EXT_NAME;
		else if (!bws(ch))
			return HTTP1_ECHUNK_EXT;
		return 0;
	case CK_EXT_NAME:
	case CK_EXT_AFTER_NAME:
		if (tchar && c->state == CK_EXT_NAME)
			return 0;
		if (bws(ch))
			c->state = CK_EXT_AFTER_NAME;
		else if (ch == '=')
			c->state = CK_EXT_VAL_START;
		else if (ch == ';')
			c->state = CK_EXT_NAME_START;
		else if (ch == '\r' && c->state == CK_EXT_NAME)
			c->state = CK_SIZE_LF;
		else
			return HTTP1_ECHUNK_EXT;
		return 0;
	case CK_EXT_VAL_START:
		if (ch == '"')
			c->state = CK_EXT_QS;
		else if (tchar)
			c->state = CK_EXT_VAL_TOKEN;
		else if (!bws(ch))
			return HTTP1_ECHUNK_EXT;
		return 0;
	case CK_EXT_VAL_TOKEN:
	case CK_EXT_AFTER_VAL:
		if (tchar && c->state == CK_EXT_VAL_TOKEN)
			return 0;
		if (bws(ch))
			c->state = CK_EXT_BWS;
		else if (ch == ';')
			c->state = CK_EXT_NAME_START;
		else if (ch == '\r')
			c->state = CK_SIZE_LF;
		else
			return HTTP1_ECHUNK_EXT;
		return 0;
	case CK_EXT_QS:
		if (ch == '"')
			c->state = CK_EXT_AFTER_VAL;
		else if (ch == '\\')
			c->state = CK_EXT_QS_ESC;
		else if (!http1_is(ch, HTTP1_C_QDTEXT))
			return HTTP1_ECHUNK_EXT;
		return 0;
	case CK_EXT_QS_ESC:
		/* quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ) */
		if (!http1_is(ch, HTTP1_C_FVALUE))
			return HTTP1_ECHUNK_EXT;
		c->state = CK_EXT_QS;
		return 0;
	default:
		return HTTP1_EINTERNAL;
	}
}

/* The size line: hex digits, optional extensions, CRLF. */
static int size_byte(struct http1_chunked *c, unsigned char ch)
{
	if (c->line_len++ >= c->max_chunk_line && ch != '\r' && c->state != CK_SIZE_LF)
		return HTTP1_ECHUNK_LINE_TOO_LONG;
	switch (c->state) {
	case CK_SIZE_START:
		if (!http1_is(ch, HTTP1_C_HEX))
			return ch == '\n' ? HTTP1_EBARE_LF : HTTP1_ECHUNK_SIZE;
		c->size = hexval(ch);
		c->state = CK_SIZE;
		return 0;
	case CK_SIZE:
		if (http1_is(ch, HTTP1_C_HEX)) {
			/* Check before shifting: 2^60 * 16 wraps to 0, which
			 * would turn a huge size into the last chunk. */
			if (c->size > ((uint64_t)HTTP1_MAX_LENGTH - 1 - hexval(ch)) / 16)
				return HTTP1_ECHUNK_TOO_LARGE;
			c->size = c->size * 16 + hexval(ch);
		} else if (ch == '\r') {
			c->state = CK_SIZE_LF;
		} else if (ch == ';') {
			c->state = CK_EXT_NAME_START;
		} else if (bws(ch)) {
			c->state = CK_EXT_BWS;
		} else {
			return ch == '\n' ? HTTP1_EBARE_LF : HTTP1_ECHUNK_SIZE;
		}
		return 0;
	case CK_SIZE_LF:
		if (ch != '\n')
			return HTTP1_EBARE_CR;
		c->line_len = 0;
		if (c->size == 0) {
			c->state = CK_TRAILER;
			c->fstate = HTTP1_FL_LINE_START;
		} else {
			c->state = CK_DATA;
		}
		return 0;
	default:
		return ext_byte(c, ch);
	}
}

/* Trailer fields: same rules as header fields, bounded, then dropped. */
static int trailer_advance(struct http1_chunked *c, const char **p, const char *end)
{
	size_t avail, stop, room_line, room_total;
	const char *start;
	int r;

	for (;;) {
		if (*p == end)
			return HTTP1_CHUNKED_MORE;
		if (c->fstate == HTTP1_FL_LINE_START) {
			c->line_len = 0;
			if (**p != '\r' && c->ntrailers >= c->max_trailers)
				return HTTP1_ETOO_MANY_TRAILERS;
		}
		avail = (size_t)(end - *p);
		room_line = c->max_field_line + 2 - c->line_len;
		room_total = c->max_trailer - c->trailer_len;
		stop = avail < room_line ? avail : room_line;
		stop = stop < room_total ? stop : room_total;
		start = *p;
		r = http1_fl_advance(&c->fstate, p, *p + stop);
		c->line_len += (size_t)(*p - start);
		c->trailer_len += (size_t)(*p - start);
		if (r < 0)
			return r;
		if (r == HTTP1_FL_END) {
			c->state = CK_DONE;
			return HTTP1_CHUNKED_DONE;
		}
		if (r == HTTP1_FL_LINE) {
			c->ntrailers++;
			continue;
		}
		if (c->line_len == c->max_field_line + 2)
			return HTTP1_EFIELD_LINE_TOO_LONG;
		if (c->trailer_len == c->max_trailer)
			return HTTP1_ETRAILER_TOO_LARGE;
	}
}

static int decode(struct http1_chunked *c, const char **p, const char *end, struct str *data)
{
	const unsigned char *q;
	size_t n;
	int r;

	while (*p < end) {
		switch (c->state) {
		case CK_DATA:
			n = (size_t)(end - *p);
			if ((uint64_t)n > c->size)
				n = (size_t)c->size;
			*data = (struct str){ *p, n };
			*p += n;
			c->size -= n;
			if (c->size == 0)
				c->state = CK_DATA_CR;
			return HTTP1_CHUNKED_DATA;
		case CK_DATA_CR:
		case CK_DATA_LF:
			if (**p != (c->state == CK_DATA_CR ? '\r' : '\n'))
				return HTTP1_ECHUNK_CRLF;
			c->state = c->state == CK_DATA_CR ? CK_DATA_LF : CK_SIZE_START;
			c->line_len = 0;
			(*p)++;
			break;
		case CK_TRAILER:
			return trailer_advance(c, p, end);
		case CK_DONE:
			return HTTP1_CHUNKED_DONE;
		default:
			q = (const unsigned char *)*p;
			r = size_byte(c, *q);
			if (r < 0)
				return r;
			(*p)++;
			break;
		}
	}
	return c->state == CK_DONE ? HTTP1_CHUNKED_DONE : HTTP1_CHUNKED_MORE;
}

int http1_chunked_decode(struct http1_chunked *c, const char **p, const char *end, struct str *data)
{
	int r;

	*data = (struct str){ *p, 0 };
	if (c->err)
		return c->err;
	if (!*p || end < *p)
		return *p == end ? (c->state == CK_DONE ? HTTP1_CHUNKED_DONE : HTTP1_CHUNKED_MORE)
				 : HTTP1_EINTERNAL;
	r = decode(c, p, end, data);
	if (r < 0)
		c->err = r;
	return r;
}

size_t http1_chunked_encode_header(uint64_t len, char out[HTTP1_CHUNK_HEADER_MAX])
{
	int n = snprintf(out, HTTP1_CHUNK_HEADER_MAX, "%llx\r\n", (unsigned long long)len);

	return n > 0 ? (size_t)n : 0;
}

/* Strict HTTP/1.1 message heads (RFC 9110/9112) and the chunked codec.
 *
 * This is a security boundary: the egress proxy, the git gate and the MCP
 * server parse every byte an agent sends with it.  Anything ambiguous
 * (request smuggling shapes, bare CR/LF, obs-fold, duplicate framing) is
 * rejected with its own negative HTTP1_E* code, never guessed at.
 * docs/http1.md lists every rejection, the limits and an example.
 *
 * Zero-copy: every struct str in a parsed head points into the caller's
 * buffer, which must stay alive (and unchanged) while the result is used.
 *
 * Incremental: call http1_request_parse() (or _response_) again with the
 * same bytes plus whatever arrived since; the buffer may move between calls
 * (realloc), but the bytes already passed must not change.  The result is the
 * same as one call with all the bytes, and the total work stays linear: the
 * struct remembers how far the bytes were validated.  Call http1_*_init()
 * before the first call for each message. */
#ifndef BOTTLE_HTTP1_H
#define BOTTLE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Every rejection has its own code; http1_strerror() gives the reason. */
enum http1_error {
	HTTP1_EINTERNAL = -1,
	HTTP1_EBARE_LF = -2,
	HTTP1_EBARE_CR = -3,
	HTTP1_ELEADING_EMPTY_LINE = -4,
	HTTP1_EREQUEST_LINE = -5,
	HTTP1_EMETHOD = -6,
	HTTP1_ETARGET_CHAR = -7,
	HTTP1_EFRAGMENT = -8,
	HTTP1_EPERCENT = -9,
	HTTP1_ETARGET = -10,
	HTTP1_EVERSION = -11,
	HTTP1_ESCHEME = -12,
	HTTP1_EHTTPS_ABSOLUTE = -13,
	HTTP1_EUSERINFO = -14,
	HTTP1_EHOST = -15,
	HTTP1_EPORT = -16,
	HTTP1_ECONNECT_TARGET = -17,
	HTTP1_EAUTHORITY_FORM = -18,
	HTTP1_EASTERISK_FORM = -19,
	HTTP1_EOBS_FOLD = -20,
	HTTP1_ESPACE_BEFORE_COLON = -21,
	HTTP1_EFIELD_NAME = -22,
	HTTP1_ENO_COLON = -23,
	HTTP1_EFIELD_VALUE = -24,
	HTTP1_ESTART_LINE_TOO_LONG = -25,
	HTTP1_EFIELD_LINE_TOO_LONG = -26,
	HTTP1_EHEAD_TOO_LARGE = -27,
	HTTP1_ETOO_MANY_FIELDS = -28,
	HTTP1_EDUP_CONTENT_LENGTH = -29,
	HTTP1_ECONTENT_LENGTH = -30,
	HTTP1_ECL_AND_TE = -31,
	HTTP1_ETRANSFER_ENCODING = -32,
	HTTP1_ETE_HTTP10 = -33,
	HTTP1_EHOST_MISSING = -34,
	HTTP1_EHOST_DUP = -35,
	HTTP1_EHOST_HEADER = -36,
	HTTP1_EHOST_MISMATCH = -37,
	HTTP1_ECONNECTION = -38,
	HTTP1_EEXPECT = -39,
	HTTP1_EUPGRADE_DUP = -40,
	HTTP1_ESTATUS_LINE = -41,
	HTTP1_ESTATUS = -42,
	HTTP1_EREASON = -43,
	HTTP1_ECHUNK_SIZE = -44,
	HTTP1_ECHUNK_TOO_LARGE = -45,
	HTTP1_ECHUNK_EXT = -46,
	HTTP1_ECHUNK_LINE_TOO_LONG = -47,
	HTTP1_ECHUNK_CRLF = -48,
	HTTP1_ETRAILER_TOO_LARGE = -49,
	HTTP1_ETOO_MANY_TRAILERS = -50,
	HTTP1_ELAST = -50 /* the lowest code, for tables and tests */
};

/* Fields beyond this are never stored; limits.max_fields is clamped to it. */
#define HTTP1_MAX_FIELDS 128
/* Content-Length and chunk sizes above this are rejected (no overflow can
 * reach an int64_t or a size_t sum on the way). */
#define HTTP1_MAX_LENGTH ((int64_t)1 << 62)

/* Let http1_request_parse() accept "GET https://..." (absolute-form https). */
#define HTTP1_ALLOW_HTTPS_ABSOLUTE 0x1u
/* In absolute-form and authority-form (CONNECT) the target alone names the
 * destination and a Host field that disagrees is ignored, as RFC 9112
 * §3.2.2 asks of a proxy (Node's plain proxy requests and CONNECTs send the
 * proxy's own name in Host).  Only for a caller that never forwards the
 * received Host: egress writes Host from the target.  Without the flag a
 * disagreement is HTTP1_EHOST_MISMATCH. */
#define HTTP1_ALLOW_HOST_MISMATCH 0x2u

/* A zero member means "the default" (shown after each member). */
struct http1_limits {
	size_t max_head;           /* start line + fields + CRLFs: 32768 */
	size_t max_start_line;     /* request/status line without CRLF: 8192 */
	size_t max_field_line;     /* one field line without CRLF: 8192 */
	size_t max_fields;         /* field lines in a head: 100 */
	size_t max_chunk_line;     /* chunk size + extensions, no CRLF: 4096 */
	size_t max_trailer;        /* trailer section incl. CRLFs: 8192 */
	size_t max_trailers;       /* trailer field lines: 32 */
	unsigned flags;            /* HTTP1_ALLOW_* */
};

/* limits, or the defaults when limits is NULL, with zero members defaulted. */
struct http1_limits http1_limits_resolve(const struct http1_limits *limits);

/* A one-line reason, lowercase, no full stop ("bare LF line ending ..."). */
const char *http1_strerror(int code);
/* The code's short name for counters and logs: its enum name after
 * HTTP1_E, in lower case ("bare_lf", "cl_and_te"); "unknown" otherwise. */
const char *http1_error_name(int code);
/* The same reason with the limit that was exceeded, when there is one
 * ("header block exceeds 32768 bytes").  Returns out. */
char *http1_error_message(int code, const struct http1_limits *limits, char *out, size_t out_len);
/* The status a server should answer a request rejected with `code`:
 * 403 for structural attacks (smuggling shapes, CR/LF/CTL injection),
 * 414/431 for limits, 505 for the version, 417 for Expect, else 400. */
int http1_error_status(int code);

enum http1_method {
	HTTP1_M_OTHER = 0, /* any other token: see method_name */
	HTTP1_M_GET,
	HTTP1_M_HEAD,
	HTTP1_M_POST,
	HTTP1_M_PUT,
	HTTP1_M_DELETE,
	HTTP1_M_CONNECT,
	HTTP1_M_OPTIONS,
	HTTP1_M_TRACE,
	HTTP1_M_PATCH,
};

/* "GET", ...; "" for HTTP1_M_OTHER. */
const char *http1_method_str(enum http1_method m);
/* Case-sensitive (RFC 9110 §9.1): "get" is HTTP1_M_OTHER. */
enum http1_method http1_method_from_str(struct str s);

enum http1_form {
	HTTP1_FORM_ORIGIN = 0, /* /path?query */
	HTTP1_FORM_ABSOLUTE,   /* http://host:port/path?query (to a proxy) */
	HTTP1_FORM_AUTHORITY,  /* host:port (CONNECT only) */
	HTTP1_FORM_ASTERISK,   /* * (OPTIONS only) */
};

enum http1_scheme { HTTP1_SCHEME_NONE = 0, HTTP1_SCHEME_HTTP, HTTP1_SCHEME_HTTPS };

enum http1_host_kind {
	HTTP1_HOST_NONE = 0,
	HTTP1_HOST_NAME, /* reg-name: letters, digits, '-', '_', dot-separated labels */
	HTTP1_HOST_IPV4, /* canonical dotted quad */
	HTTP1_HOST_IPV6, /* the literal between the brackets */
};

struct http1_authority {
	struct str host; /* without the brackets of an IPv6 literal; original case */
	enum http1_host_kind kind;
	bool has_port;
	uint16_t port;   /* the explicit port, else the scheme's default, else 0 */
};

/* uri-host [ ":" port ] with our strict host rules (docs/http1.md): no
 * userinfo, no percent-encoding, no numeric host that is not a canonical
 * dotted quad ("127.1", "0x7f.1", "2130706433" are rejected), no trailing
 * dot, IPv6 literals checked with inet_pton and no zone id.  Returns 0 or
 * HTTP1_EUSERINFO, HTTP1_EHOST, HTTP1_EPORT. */
int http1_authority_parse(struct str s, struct http1_authority *out);
/* Hosts compared ASCII case-insensitively (IPv6 literals textually). */
bool http1_host_equal(struct str a, struct str b);

struct http1_target {
	struct str raw;        /* the request-target as received */
	enum http1_form form;
	enum http1_scheme scheme;          /* absolute-form only */
	struct http1_authority authority;  /* absolute- and authority-form */
	struct str path;       /* origin/absolute-form; "" in absolute-form means "/" */
	struct str query;      /* after the '?', without it */
	bool has_query;        /* a '?' was present (query may still be "") */
};

/* Parse a request-target whose bytes the request line already vetted
 * (http1_request_parse() does both); exposed for callers and the fuzzer.
 * flags: HTTP1_ALLOW_*. */
int http1_target_parse(struct str raw, enum http1_method m, unsigned flags, struct http1_target *out);

struct http1_field {
	struct str name;  /* a token, original case */
	struct str value; /* leading and trailing SP/HTAB trimmed */
};

struct http1_fields {
	size_t n;
	struct http1_field v[HTTP1_MAX_FIELDS];
};

/* First field named `name` (ASCII case-insensitive), or NULL. */
const struct http1_field *http1_fields_find(const struct http1_fields *f, const char *name);
/* How many fields are named `name`. */
size_t http1_fields_count(const struct http1_fields *f, const char *name);
/* Whether a proxy must drop the field `name` when forwarding the message:
 * the fixed hop-by-hop list of RFC 9110 §7.6.1 (Connection, Keep-Alive,
 * Proxy-Connection, Proxy-Authenticate, Proxy-Authorization, TE, Trailer,
 * Transfer-Encoding, Upgrade) plus every option named in the message's
 * Connection fields. */
bool http1_fields_is_hop_by_hop(const struct http1_fields *f, struct str name);

/* How the body that follows a head is delimited. */
enum http1_body {
	HTTP1_BODY_NONE = 0, /* no body: the next message starts right after the head */
	HTTP1_BODY_LENGTH,   /* content_length bytes (may be 0) */
	HTTP1_BODY_CHUNKED,  /* Transfer-Encoding: chunked, see struct http1_chunked */
	HTTP1_BODY_CLOSE,    /* response only: everything until the server closes */
	HTTP1_BODY_TUNNEL,   /* response only: 101 or 2xx to CONNECT; raw bytes both ways */
};

/* Private: how far an incremental parse got.  Only bytes decide it. */
struct http1_scan {
	size_t off;          /* bytes validated so far */
	size_t line_start;   /* offset of the line being scanned */
	size_t head_len;     /* set once the empty line was seen */
	int64_t content_length;
	int err;             /* sticky first error */
	uint16_t flags;      /* HTTP1_SEEN_* */
	uint16_t nfields;
	uint8_t state;
	uint8_t aux;
	uint8_t version_minor;
};

struct http1_request {
	enum http1_method method;
	struct str method_name;     /* the token as received */
	struct http1_target target;
	uint8_t version_minor;      /* 0 or 1: HTTP/1.0 or HTTP/1.1 */
	struct http1_fields fields;
	struct str host_header;     /* the Host value, or empty when absent */
	/* Where the request goes: the target's authority in absolute- and
	 * authority-form, else the Host header's (port 0 when it has none). */
	struct http1_authority authority;
	enum http1_body body;       /* NONE, LENGTH or CHUNKED */
	int64_t content_length;     /* -1 when there is no Content-Length */
	bool connection_close;      /* Connection: close */
	bool keep_alive;            /* the connection may carry another request */
	bool expect_continue;       /* Expect: 100-continue (HTTP/1.1 only) */
	struct str upgrade;         /* Upgrade value when Connection lists "upgrade" (1.1) */
	size_t head_len;
	struct http1_scan scan;
};

void http1_request_init(struct http1_request *req);
/* Parse the request head at the start of [p, end).  Returns the head length
 * (> 0, through the empty line) when it is complete, 0 when more bytes are
 * needed (those so far are valid and within limits), or a negative
 * HTTP1_E* code.  The bytes after the head (a body, a pipelined request)
 * are not looked at.  limits may be NULL (defaults). */
int http1_request_parse(struct http1_request *req, const char *p, const char *end,
			const struct http1_limits *limits);

static inline bool http1_request_has_body(const struct http1_request *req)
{
	return req->body == HTTP1_BODY_CHUNKED ||
	       (req->body == HTTP1_BODY_LENGTH && req->content_length > 0);
}

struct http1_response {
	uint8_t version_minor;
	int status;                 /* 100-599 */
	struct str reason;          /* may be empty; may hold obs-text */
	struct http1_fields fields;
	enum http1_body body;
	int64_t content_length;     /* -1 when there is no Content-Length */
	bool connection_close;
	bool keep_alive;
	struct str upgrade;         /* 101: the Upgrade value */
	size_t head_len;
	struct http1_scan scan;
};

void http1_response_init(struct http1_response *resp);
/* As http1_request_parse(); request_method decides the body framing
 * (RFC 9112 §6.3): HEAD responses and 1xx/204/304 have none, a 2xx to
 * CONNECT and a 101 are tunnels. */
int http1_response_parse(struct http1_response *resp, const char *p, const char *end,
			 const struct http1_limits *limits, enum http1_method request_method);

/* Streaming chunked decoder: never buffers body bytes, yields slices of the
 * input.  Trailer fields are checked with the header rules, then dropped. */
struct http1_chunked {
	uint64_t size;       /* chunk size being read, then bytes left in it */
	size_t line_len;     /* bytes in the current size or trailer line */
	size_t trailer_len;
	size_t ntrailers;
	size_t max_chunk_line, max_trailer, max_trailers, max_field_line;
	int err;
	uint8_t state;
	uint8_t fstate;
};

enum {
	HTTP1_CHUNKED_MORE = 0, /* every input byte consumed; call again with more */
	HTTP1_CHUNKED_DATA = 1, /* *data holds the next body bytes (never empty) */
	HTTP1_CHUNKED_DONE = 2, /* last chunk, trailers and final CRLF consumed */
};

void http1_chunked_init(struct http1_chunked *c, const struct http1_limits *limits);
/* Consume from *p (advancing it) up to end.  Returns HTTP1_CHUNKED_* or a
 * negative HTTP1_E* code (sticky).  After DONE, *p is just past the body. */
int http1_chunked_decode(struct http1_chunked *c, const char **p, const char *end,
			 struct str *data);

/* "<hex len>\r\n": the caller then writes the len bytes and "\r\n", and
 * finally HTTP1_CHUNKED_LAST.  Returns the length written (NUL not counted). */
#define HTTP1_CHUNK_HEADER_MAX 20
size_t http1_chunked_encode_header(uint64_t len, char out[HTTP1_CHUNK_HEADER_MAX]);
#define HTTP1_CHUNKED_LAST "0\r\n\r\n"

/* Comma-separated list walker (RFC 9110 §5.6.1): each element trimmed of
 * OWS; empty elements are reported (callers decide). */
struct http1_list {
	const char *p, *end;
	bool done;
};

void http1_list_init(struct http1_list *l, struct str s);
bool http1_list_next(struct http1_list *l, struct str *elem);
/* ASCII case-insensitive equality. */
bool http1_str_ieq(struct str a, struct str b);
bool http1_str_ieq_cstr(struct str a, const char *b);
bool http1_is_token(struct str s);

/* ---- internal: shared by the http1_*.c files ---- */

/* Character classes, one table (RFC 9110 §5.6.2, RFC 3986). */
enum {
	HTTP1_C_TCHAR = 0x01,  /* token character */
	HTTP1_C_FVALUE = 0x02, /* field-value / reason byte: HTAB SP VCHAR obs-text */
	HTTP1_C_TARGET = 0x04, /* raw in a request-target (see docs) */
	HTTP1_C_HEX = 0x08,
	HTTP1_C_DIGIT = 0x10,
	HTTP1_C_HOST = 0x20,   /* ALPHA DIGIT '-' '.' '_' */
	HTTP1_C_QDTEXT = 0x40, /* quoted-string text */
};
extern const uint8_t http1_ctype[256];

static inline bool http1_is(unsigned char c, unsigned cls)
{
	return (http1_ctype[c] & cls) != 0;
}

/* Field-line scanner states; start-line states are below HTTP1_FL_LINE_START. */
enum {
	HTTP1_FL_LINE_START = 0x40,
	HTTP1_FL_NAME,
	HTTP1_FL_NAME_CR,
	HTTP1_FL_VALUE,
	HTTP1_FL_VALUE_LF,
	HTTP1_FL_END_LF,
	HTTP1_FL_DONE,
};
/* http1_fl_advance() events */
enum { HTTP1_FL_MORE = 0, HTTP1_FL_LINE = 1, HTTP1_FL_END = 2 };

/* Semantic flags kept across calls in struct http1_scan. */
enum {
	HTTP1_SEEN_CL = 0x001,
	HTTP1_SEEN_TE = 0x002,       /* Transfer-Encoding: chunked, valid */
	HTTP1_SEEN_HOST = 0x004,
	HTTP1_SEEN_UPGRADE = 0x008,
	HTTP1_SEEN_EXPECT = 0x010,
	HTTP1_CONN_CLOSE = 0x020,
	HTTP1_CONN_KEEPALIVE = 0x040,
	HTTP1_CONN_UPGRADE = 0x080,
	HTTP1_EXPECT_CONTINUE = 0x100,
};

/* Advance the field-line machine over [*pos, stop): returns HTTP1_FL_MORE
 * when stop is reached mid-line, HTTP1_FL_LINE after a field line's LF,
 * HTTP1_FL_END after the empty line's LF, or an error (with *pos at the
 * offending byte). */
int http1_fl_advance(uint8_t *state, const char **pos, const char *stop);

/* Scan field lines from s->off on; the start line must be done.  Calls
 * on_field for each complete line (it returns 0 or an error).  Returns the
 * head length when the empty line is reached, 0 for more, or an error. */
int http1_scan_fields(struct http1_scan *s, const char *base, const char *end,
		      const struct http1_limits *lim,
		      int (*on_field)(struct http1_scan *s, struct str name, struct str value));
/* The rules every message shares: Content-Length, Transfer-Encoding,
 * Connection, Upgrade. */
int http1_field_common(struct http1_scan *s, struct str name, struct str value);
/* Split a validated head's field lines into f (lines after the start line). */
void http1_fields_collect(struct http1_fields *f, const char *line, const char *head_end);
/* The part of parsing a head that requests and responses share: resume where
 * the previous call stopped (from scratch if the caller now passes fewer
 * bytes than before), scan the start line with start_line, then the field
 * lines with on_field.  Returns 1 once the whole head is scanned (the caller
 * then derives its own fields), 0 for more bytes, or an error, which stays
 * in s->err and is returned again by every later call. */
int http1_scan_head(struct http1_scan *s, const char *p, const char *end,
		    const struct http1_limits *lim,
		    int (*start_line)(struct http1_scan *s, const char *base, const char *end,
				      const struct http1_limits *lim),
		    int (*on_field)(struct http1_scan *s, struct str name, struct str value));

#endif

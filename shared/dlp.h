/* The DLP engine: finds secrets in what the agent sends out (docs/dlp.md).
 *
 * Detectors: known secrets (every token the sidecar holds and the canary,
 * exactly and as base64 / hex / percent-encoded variants, with separators
 * stripped, by partial windows, through unicode confusables), regex rules
 * from a gitleaks-style YAML file (keyword prefilter, entropy floor,
 * allowlists), Shannon entropy (warn-only unless the caller opts in), and
 * structural checks on the request head (CRLF, zero-width and bidi controls).
 *
 * An engine is built once, then read-only: any number of threads scan with
 * it at once, each with its own struct dlp_scan.  The one mutable part is
 * the set of exempt values (an operator's approvals), which is internally
 * locked and consulted by every detector.
 *
 *     struct dlp_engine *e = dlp_engine_new(NULL);
 *     dlp_engine_add_secret(e, "GITHUB_TOKEN", value, len, false);
 *     dlp_engine_load_default_rules(e, err, sizeof(err));
 *     dlp_engine_build(e, err, sizeof(err));
 *
 *     struct dlp_scan s;                      // one per thread / connection
 *     dlp_scan_init(&s, e);
 *     dlp_scan_begin(&s, DLP_WHERE_BODY, NULL, DLP_ENCODING_IDENTITY, 0);
 *     while (more) dlp_scan_feed(&s, p, end); // any batch size; offsets absolute
 *     dlp_scan_end(&s);                        // s.findings holds the results
 *     dlp_scan_release(&s);
 *
 * Findings never hold a matched value: a detector, a rule id, where, the
 * span (for redaction, against the caller's own copy of the bytes) and a
 * preview of at most 4 leading characters and the length. */
#ifndef BOTTLE_DLP_H
#define BOTTLE_DLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "http1.h"

enum dlp_detector {
	DLP_DETECTOR_KNOWN = 0,   /* a token the sidecar holds, or a variant of it */
	DLP_DETECTOR_CANARY,      /* the per-bottle canary: exfiltration, never exempt */
	DLP_DETECTOR_RULE,        /* a regex rule */
	DLP_DETECTOR_ENTROPY,     /* high-entropy token; warn-only unless opted in */
	DLP_DETECTOR_CRLF,        /* CR or LF, raw or percent-encoded, in the head */
	DLP_DETECTOR_UNICODE,     /* zero-width/bidi control in the head, or a known
	                             secret disguised with confusables / invisibles */
	DLP_DETECTOR_UNDECODABLE, /* a body that could not be decoded for scanning */
};

/* Where a finding is.  Offsets are relative to the scanned part: the path,
 * the query, one header's value, or the body (absolute from its first byte;
 * for a compressed body, of the decoded bytes). */
enum dlp_where {
	DLP_WHERE_PATH = 0,
	DLP_WHERE_QUERY,
	DLP_WHERE_HEADER,      /* header names the field */
	DLP_WHERE_HEADER_NAME, /* the field name itself */
	DLP_WHERE_BODY,
	DLP_WHERE_BODY_DECODED, /* offsets into the decompressed body */
	DLP_WHERE_TEXT,         /* anything else (dlp-scan's file, a git blob) */
};

enum dlp_encoding {
	DLP_ENCODING_IDENTITY = 0,
	DLP_ENCODING_GZIP,
	DLP_ENCODING_DEFLATE,
	DLP_ENCODING_BR,        /* no decoder: always undecodable (docs/dlp.md) */
	DLP_ENCODING_UNKNOWN,   /* any other Content-Encoding, or a stack of them */
};

struct dlp_finding {
	enum dlp_detector detector;
	enum dlp_where where;
	bool warn_only;       /* entropy (or an entropy rule) the caller did not opt into */
	char rule[48];        /* rule id, or "known:<variant>", "crlf", ... */
	char name[64];        /* header name (in a header value), else the env var of a known secret */
	uint64_t offset, len; /* the span within the part (0/0 when none) */
	char preview[24];     /* "ghp_…(40)": never more than 4 leading characters */
};

#define DLP_FINDINGS_MAX 64 /* per scanned request; more only counts */

struct dlp_findings {
	struct dlp_finding v[DLP_FINDINGS_MAX];
	size_t n;
	size_t dropped; /* blocking findings past DLP_FINDINGS_MAX, counted not kept
	                   (a warning past it is dropped, or gives way to one that blocks) */
};

/* Tunables; dlp_options_default() fills the documented defaults. */
struct dlp_options {
	size_t partial_min;      /* shortest window of a secret found alone (16) */
	size_t secret_min;       /* shorter values are not added (8): they would match anything */
	double entropy_bits;     /* Shannon bits per char that flags a token (4.5) */
	size_t entropy_min_len;  /* token length range considered (20..128) */
	size_t entropy_max_len;
	uint64_t decode_max;     /* decoded-body bound in bytes (64 MiB) */
	bool entropy_enforce;    /* entropy findings are not warn-only */
};

void dlp_options_default(struct dlp_options *o);

struct dlp_engine;

/* NULL options: the defaults.  NULL on out of memory. */
struct dlp_engine *dlp_engine_new(const struct dlp_options *o);
void dlp_engine_free(struct dlp_engine *e);

#define DLP_SECRET_MAX 4096 /* bytes of one known secret */

/* Before dlp_engine_build().  `name` (an env var name) is shown in findings;
 * the value never is.  A value shorter than secret_min (or with fewer
 * letters and digits) is refused with -EINVAL, one longer than
 * DLP_SECRET_MAX with -E2BIG (the caller says so without the value); a value
 * already added is kept once, under its first name.  A canary is matched
 * like a secret but reported as DLP_DETECTOR_CANARY and never exempted. */
int dlp_engine_add_secret(struct dlp_engine *e, const char *name, const char *value,
			  size_t len, bool canary);
/* Add every variable of `envp` named `names[i]` exactly or starting with one
 * of `prefixes` (both NULL-terminated; either may be NULL).  Values refused
 * (too short or too long) are skipped and counted in *skipped. */
int dlp_engine_add_env(struct dlp_engine *e, char *const *envp, const char *const *names,
		       const char *const *prefixes, size_t *skipped);

/* Rules (docs/dlp.md for the schema).  Errors: "file:line:col: message". */
int dlp_engine_load_rules_file(struct dlp_engine *e, const char *path, char *err,
			       size_t err_len);
int dlp_engine_load_rules_string(struct dlp_engine *e, const char *name, const char *text,
				 size_t len, char *err, size_t err_len);
int dlp_engine_load_default_rules(struct dlp_engine *e, char *err, size_t err_len);

/* Compile the matchers.  After this the engine is read-only but for its
 * exempt set. */
int dlp_engine_build(struct dlp_engine *e, char *err, size_t err_len);

size_t dlp_engine_secret_count(const struct dlp_engine *e);
size_t dlp_engine_rule_count(const struct dlp_engine *e);

/* Remember an approved value for the engine's life: from now on every
 * detector passes it (a known secret it holds or encodes passes in every
 * variant, projection and window too).  Thread-safe.  -E2BIG when the set is
 * full or the value too long. */
int dlp_engine_exempt(struct dlp_engine *e, const char *value, size_t len);
/* Carry the exempt set over to a rebuilt engine (a rules reload). */
int dlp_engine_exempt_copy(struct dlp_engine *to, struct dlp_engine *from);

/* ---- scanning ---- */

struct dlp_scan_state;

struct dlp_scan {
	const struct dlp_engine *engine;
	struct dlp_findings findings;
	bool entropy_enforce;    /* this scan's route opted into entropy */
	struct dlp_scan_state *st; /* owned */
};

/* Allocate the per-scan state (bounded: dlp_scan_memory()). */
int dlp_scan_init(struct dlp_scan *s, const struct dlp_engine *e);
void dlp_scan_release(struct dlp_scan *s);
/* The most bytes the scan state can hold (its buffers' caps, and the
 * decoder's while a compressed part is open): bounded whatever is fed. */
size_t dlp_scan_memory(const struct dlp_scan *s);
/* Forget the findings, for the next request on the connection. */
void dlp_scan_reset(struct dlp_scan *s);

/* One part, fed in batches of any size; findings are appended to
 * s->findings.  `header` names the field for DLP_WHERE_HEADER.  A compressed
 * body is decoded up to decode_max; past that, or when corrupt, a
 * DLP_DETECTOR_UNDECODABLE finding is added and the rest is not scanned.
 * Returns 0 or -ENOMEM. */
int dlp_scan_begin(struct dlp_scan *s, enum dlp_where where, const char *header,
		   enum dlp_encoding encoding, uint64_t offset_base);
int dlp_scan_feed(struct dlp_scan *s, const char *p, const char *end);
int dlp_scan_end(struct dlp_scan *s);

/* The offset before which no finding of the current part can still start:
 * bytes before it may be forwarded under a block or supervise policy
 * without waiting for the end of the body.  Offsets of a compressed body
 * are the decoded body's: such a body must be held until dlp_scan_end(). */
uint64_t dlp_scan_settled(const struct dlp_scan *s);

/* begin + feed + end over one buffer, with the head's structural checks
 * (CRLF, zero-width/bidi) when `where` is not a body. */
int dlp_scan_part(struct dlp_scan *s, enum dlp_where where, const char *header,
		  const char *p, size_t len);

/* The whole head of a request: path, query, every header name and value. */
int dlp_scan_head(struct dlp_scan *s, struct str path, struct str query,
		  const struct http1_field *fields, size_t nfields);

/* Map a Content-Encoding value to an encoding ("" -> IDENTITY). */
enum dlp_encoding dlp_encoding_parse(struct str value);

/* Whether a finding blocks whatever the route's policy: CRLF, unicode
 * evasion, the canary. */
bool dlp_finding_is_structural(const struct dlp_finding *f);
/* Whether any finding is not warn-only. */
bool dlp_findings_blocking(const struct dlp_findings *f);

/* ---- redaction ---- */

#define DLP_REDACTED "[REDACTED]"

/* Append `len` bytes of a part starting at part offset `base` to out, with
 * every span of a finding on (where, header) replaced by DLP_REDACTED
 * (overlapping spans merged; a span reaching outside [base, base+len) is
 * cut at the edge).  Returns how many spans were replaced, or a negative
 * errno (-EMSGSIZE past out's cap). */
int dlp_redact(const struct dlp_findings *f, enum dlp_where where, const char *header,
	       uint64_t base, const char *p, size_t len, struct buf *out);

/* "known:base64 GITHUB_TOKEN at body+120 len 56 ghp_…(40)": for logs. */
void dlp_finding_format(const struct dlp_finding *f, char *out, size_t size);
const char *dlp_detector_name(enum dlp_detector d);
const char *dlp_where_name(enum dlp_where w);

#endif

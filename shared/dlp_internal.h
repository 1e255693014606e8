/* What the dlp_*.c files share and nobody else needs: the multi-pattern
 * matcher, the engine's layout and the per-scan state. */
#ifndef BOTTLE_DLP_INTERNAL_H
#define BOTTLE_DLP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dlp.h"

/* ---- Aho-Corasick (dlp_ac.c) ----
 *
 * Bytes map to classes first (class 0: a byte no pattern holds, which
 * always leads back to the root).  Shallow and branching states get a dense
 * row of the full transition function; the long single-child chains of
 * deep states keep one edge plus the failure link, so a thousand secrets
 * cost memory in proportion to their length, not times 256.
 *
 * A state is one 32-bit value laid out so that the common step is one
 * load with nothing on the dependency chain but the load itself: dense
 * states are the byte offsets of their rows, so a step is a load from the
 * byte's column (rows + class, computed off the chain) at offset s, with no
 * scaled index (whose extra cycle of load latency bounds a scan loop that
 * waits for each state); rows without patterns ending come first, so
 * `s >= out_min` is the one test for "maybe a match"; sparse states are
 * sparse_min + their node index. */
#define DLP_AC_NONE 0xffffffffu
#define DLP_AC_MAX_NODES (1u << 24)

struct dlp_ac_node {
	uint32_t fail;    /* build: plain index; after: encoded state */
	uint32_t row;     /* offset into rows, or DLP_AC_NONE */
	uint32_t child;   /* the one edge of a sparse state: encoded */
	uint32_t out;     /* first entry in outs + 1, 0: none ending exactly here */
	uint32_t dict;    /* nearest node on the failure chain with out, 0: none */
	uint32_t first;   /* build only: first child */
	uint32_t sibling; /* build only: next sibling */
	uint16_t depth;
	uint8_t ch;       /* build: class of the edge into this state */
	uint8_t next_ch;  /* sparse state: class of its one edge out */
	uint8_t nchildren;
};

struct dlp_ac_out {
	uint32_t pattern; /* caller's pattern id */
	uint32_t next;    /* next entry + 1, 0: end */
};

struct dlp_ac {
	uint8_t cls[256];
	unsigned nclasses;
	struct dlp_ac_node *nodes;
	size_t nnodes, cap;
	uint32_t *rows;
	uint32_t *row_node; /* node of each dense row */
	size_t nrows;
	/* Per byte, ASCII case folded: its class's column (dlp_ac_col), one
	 * load in the scan loop instead of a class and an add. */
	const uint32_t *byte_col[256];
	uint32_t out_min;    /* first state value with patterns ending (or sparse) */
	uint32_t sparse_min; /* first sparse state value */
	struct dlp_ac_out *outs;
	size_t nouts, outs_cap;
	bool stay0; /* class 0 keeps the state (a dropped separator), else goes to the root */
	bool built;
};

/* `alphabet` lists the bytes patterns may hold (others are class 0);
 * `fold` maps upper-case ASCII onto lower case. */
void dlp_ac_init(struct dlp_ac *a, const char *alphabet, bool fold);
void dlp_ac_release(struct dlp_ac *a);
/* Returns 0, -ENOMEM, -E2BIG (too many states) or -EINVAL (a byte outside
 * the alphabet, or an empty pattern).  Adding the same text twice with the
 * same id keeps one. */
int dlp_ac_add(struct dlp_ac *a, const char *p, size_t len, uint32_t pattern);
int dlp_ac_build(struct dlp_ac *a);
uint32_t dlp_ac_step_sparse(const struct dlp_ac *a, uint32_t s, unsigned c);

/* Class c's column of the dense rows; a dense state's step is
 * dlp_ac_next(column, state). */
static inline const uint32_t *dlp_ac_col(const struct dlp_ac *a, unsigned c)
{
	return a->rows + c;
}

static inline uint32_t dlp_ac_next(const uint32_t *col, uint32_t s)
{
	return *(const uint32_t *)(const void *)((const char *)col + s);
}

static inline uint32_t dlp_ac_step(const struct dlp_ac *a, uint32_t s, unsigned c)
{
	if (__builtin_expect(s < a->sparse_min, 1))
		return dlp_ac_next(dlp_ac_col(a, c), s);
	return dlp_ac_step_sparse(a, s, c);
}

static inline uint32_t dlp_ac_node_of(const struct dlp_ac *a, uint32_t s)
{
	return s >= a->sparse_min ? s - a->sparse_min :
				    a->row_node[s / (a->nclasses * sizeof(uint32_t))];
}

/* Whether patterns end in state s. */
static inline bool dlp_ac_has_out(const struct dlp_ac *a, uint32_t s)
{
	const struct dlp_ac_node *n;

	if (s < a->out_min)
		return false;
	if (s < a->sparse_min)
		return true;
	n = &a->nodes[s - a->sparse_min];
	return n->out || n->dict;
}

/* Every pattern ending in state s, into `pat`. */
#define DLP_AC_FOREACH_OUT(a, s, pat)                                                        \
	for (uint32_t dlp_n_ = dlp_ac_node_of((a), (s)); dlp_n_; dlp_n_ = (a)->nodes[dlp_n_].dict) \
		for (uint32_t dlp_o_ = (a)->nodes[dlp_n_].out;                                \
		     dlp_o_ && ((pat) = (a)->outs[dlp_o_ - 1].pattern, 1);                    \
		     dlp_o_ = (a)->outs[dlp_o_ - 1].next)

/* ---- the engine ---- */

enum dlp_variant {
	DLP_VARIANT_EXACT = 0, /* the value itself (any case, separators stripped) */
	DLP_VARIANT_BASE64,    /* base64, std or url alphabet, any alignment */
	DLP_VARIANT_HEX,
	DLP_VARIANT_PARTIAL,   /* a window of partial_min characters */
};

struct dlp_pattern {
	uint32_t secret;
	uint16_t len;     /* normalised length, what the matcher sees */
	uint16_t raw_len; /* length of the variant as written, 0 for windows */
	uint8_t variant;
};

struct dlp_secret {
	char *name;
	char *value;
	size_t len;
	size_t norm_len; /* its normalised form's length */
	bool canary;
};

struct dlp_rule {
	char *id;
	char *description;
	void *re;          /* pcre2_code * */
	bool jit;
	void **allow;      /* pcre2_code *, matched against the secret */
	bool *allow_jit;
	size_t nallow;
	double entropy;    /* floor in bits per char; 0: none */
	uint32_t group;    /* capture group holding the secret; 0: the match */
	size_t max_len;    /* longest match assumed (the streaming overlap) */
	char **keywords;   /* lower case */
	size_t nkeywords;
	bool has_keywords;
	bool warn_only;
};

#define DLP_EXEMPT_MAX 256
#define DLP_EXEMPT_VALUE_MAX 8192

struct dlp_exempt_value {
	char *raw, *norm;
	size_t raw_len, norm_len;
};

struct dlp_engine {
	struct dlp_options opt;
	struct dlp_secret *secrets;
	size_t nsecrets;
	struct dlp_pattern *patterns;
	size_t npatterns, patterns_cap;
	size_t max_norm_len; /* longest pattern, in normalised characters */
	struct dlp_rule *rules;
	size_t nrules;
	size_t max_rule_len;
	uint32_t *keyword_rule; /* keyword pattern id -> rule */
	size_t nkeywords;
	uint16_t *keyword_len;
	/* Per byte: its secret_ac class (ASCII alphanumerics; 0 for the
	 * separators the projection drops), or DLP_NORM_SLOW for a byte the
	 * normaliser must see ('%', '\\', non-ASCII).  One load tells the scan
	 * loop both. */
	uint8_t norm_step[256];
	bool token_char[256];     /* bytes an entropy token may hold */
	bool has_keywordless;     /* a rule without keywords: regexes run on every batch */
	struct dlp_ac secret_ac;  /* over the normalised stream */
	struct dlp_ac keyword_ac; /* over raw bytes, case folded */
	void *match_context;      /* pcre2_match_context * (limits), shared */
	bool built;

	pthread_mutex_t exempt_lock;
	struct dlp_exempt_value exempt[DLP_EXEMPT_MAX];
	size_t nexempt;             /* read under the lock */
	uint8_t *secret_exempt;     /* per secret, atomically read */
};

/* ---- normalisation (dlp_secrets.c) ----
 *
 * The stream the secret matcher sees: percent-escapes and JSON \uXXXX
 * escapes decoded, UTF-8
 * fullwidth forms and confusables folded to ASCII, zero-width and bidi
 * controls dropped, ASCII lower-cased, everything but [0-9a-z] dropped. */
#define DLP_NORM_ALPHABET "0123456789abcdefghijklmnopqrstuvwxyz"
#define DLP_NORM_SLOW 0xff /* in norm_step: not a class (there are 37) */

enum {
	DLP_NORM_PERCENT = 1,   /* the character came from a %XX escape */
	DLP_NORM_UNICODE = 2,   /* a folded confusable */
	DLP_NORM_INVISIBLE = 4, /* a zero-width or bidi control was dropped */
	DLP_NORM_ESCAPE = 8,    /* the character came from a \uXXXX escape */
};

struct dlp_norm {
	unsigned esc;        /* 0, 1 after '\\', 2 after "\\u", +1 per hex digit */
	uint32_t esc_cp;
	uint64_t esc_at;     /* offset of the backslash */
	unsigned pct;        /* 0, or 1/2 once '%' / '%X' was seen */
	unsigned pct_hi;
	uint64_t pct_at;     /* offset of the '%' */
	uint32_t cp;         /* UTF-8 code point being assembled */
	unsigned need;       /* continuation bytes still expected */
	uint64_t cp_at;      /* offset of its first byte */
	unsigned cp_flags;
};

/* Feed one byte at `offset`; calls emit(ctx, ch, offset_of_its_start, flags)
 * for each normalised character, and invisible(ctx, offset) for a dropped
 * control. */
struct dlp_norm_sink {
	void (*emit)(void *ctx, unsigned char c, uint64_t at, unsigned flags);
	void (*invisible)(void *ctx, uint64_t at);
	void *ctx;
};
void dlp_norm_byte(struct dlp_norm *n, const struct dlp_norm_sink *sink, unsigned char b,
		   uint64_t offset);
/* The whole normalised form of a buffer, into out (NUL-terminated). */
int dlp_normalise(const char *p, size_t len, struct buf *out);
/* Whether a code point is a zero-width or bidi control. */
bool dlp_is_invisible(uint32_t cp);

/* Exempt checks (dlp_secrets.c): the value's normalised form (or its raw
 * bytes) lies inside an exempt value. */
bool dlp_exempt_covers(struct dlp_engine *e, const char *raw, size_t raw_len,
		       const char *norm, size_t norm_len);
bool dlp_secret_is_exempt(const struct dlp_engine *e, uint32_t secret);
/* Mark the secrets the exempt values hold (once the matcher exists). */
void dlp_exempt_rescan(struct dlp_engine *e);

/* Whether the scan's per-batch byte masks (dlp_scan.c: written out by hand
 * for SSE2) put every byte value where the engine's token_char and
 * norm_step tables do.  dlp_engine_build() refuses an engine where they
 * disagree: an edit to one set and not the other must fail every build,
 * not quietly change what a scan finds. */
bool dlp_scan_masks_agree(const struct dlp_engine *e);

/* Rules (dlp_rules.c). */
void dlp_rules_release(struct dlp_engine *e);
int dlp_rules_build(struct dlp_engine *e, char *err, size_t err_len);
/* Secrets (dlp_secrets.c). */
int dlp_secrets_build(struct dlp_engine *e);

/* Findings (dlp_findings.c). */
void dlp_findings_add(struct dlp_findings *f, const struct dlp_finding *x);
/* "ab…(40)" from up to `show` leading bytes (non-printables as '?'). */
void dlp_preview(char *out, size_t size, const char *p, size_t avail, uint64_t len,
		 size_t show);

/* Decoding (dlp_decode.c). */
struct dlp_decoder;
int dlp_decoder_new(struct dlp_decoder **out, enum dlp_encoding enc, uint64_t max);
void dlp_decoder_free(struct dlp_decoder *d);
/* Decode input, calling sink for each decoded batch.  Returns 0, or
 * -EMSGSIZE past the bound, -EBADMSG for a corrupt stream, -ENOMEM. */
int dlp_decoder_feed(struct dlp_decoder *d, const char *p, size_t len,
		     int (*sink)(void *ctx, const char *p, size_t len), void *ctx);
/* What a decoder holds at most (zlib's state and window, the batch). */
size_t dlp_decoder_memory(void);
/* At the end: -EBADMSG if the stream stopped short. */
int dlp_decoder_finish(struct dlp_decoder *d);

#endif

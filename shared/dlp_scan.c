/* Scanning: one pass over each batch feeds both automatons (rule keywords
 * over the raw bytes, known secrets over the normalised stream) and the
 * entropy tokeniser; regex rules then run only on windows around keyword
 * hits.  A part is fed in batches of any size with absolute offsets; what
 * straddles two batches is still found because the automatons carry their
 * state and a bounded history keeps the bytes regex windows and previews
 * need. */
#include "dlp_internal.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Bytes processed between bookkeeping steps (regex windows, history). */
#define DLP_BATCH 16384
#define DLP_APPROVED_SPANS 16

struct dlp_pending {
	uint64_t from, to; /* match starts accepted in [from, to) */
	bool active;
};

/* Adjacent partial-window hits of one secret, reported once as a region
 * unless a whole match of that secret covers them. */
struct dlp_partial {
	uint64_t start, end;  /* raw offsets */
	uint64_t deadline;    /* normalised position past which no whole match can cover it */
	bool active;
};

struct dlp_scan_state {
	/* the part */
	enum dlp_where where;
	char header[64];
	bool active;
	size_t first_finding;
	struct dlp_decoder *decoder;
	bool decoding_failed;
	uint64_t base, pos; /* offset of the part's first byte, of the next byte */

	/* matchers */
	uint32_t kstate, sstate;
	struct dlp_norm norm;
	bool norm_busy;
	uint64_t npos;  /* normalised characters emitted */
	uint64_t *ring; /* raw offset of normalised character i at ring[i & ring_mask] */
	size_t ring_mask;
	uint64_t last_unicode, last_invisible, last_percent, last_escape; /* offset + 1, 0: none */
	struct dlp_partial *partials;
	size_t npartials_active;
	uint64_t *full_start, *full_end; /* per secret: the last whole match */
	/* Recent spans of approved known secrets: a rule or entropy match
	 * overlapping one is the same approved value seen another way. */
	struct {
		uint64_t start, end;
	} approved[DLP_APPROVED_SPANS];
	unsigned napproved;

	/* rules */
	struct dlp_pending *pending;
	size_t npending;     /* active entries of pending */
	uint64_t *rule_done; /* per rule: matches starting before this are handled */
	pcre2_match_data *md;

	/* Whether a part wrote the per-secret and per-rule arrays: the next
	 * part clears only what was written (egress scans a dozen small
	 * parts per request, most of which write nothing). */
	bool secrets_dirty, rules_dirty;

	/* entropy: the current token started here */
	uint64_t run_start;

	/* history: bytes [hist_start, hist_start + hist.len) of the part */
	struct buf hist;
	uint64_t hist_start;
	size_t hist_keep;

	struct buf tmp;
};

/* c * log2(c) for the counts a token can have: egress runs this on every
 * token-like run of every request, and log2 was a tenth of its DLP cost. */
#define COUNT_LOG_TABLE 257
static double count_log_table[COUNT_LOG_TABLE];
static pthread_once_t count_log_once = PTHREAD_ONCE_INIT;

static void count_log_fill(void)
{
	size_t c;

	for (c = 1; c < COUNT_LOG_TABLE; c++)
		count_log_table[c] = (double)c * log2((double)c);
}

static double count_log(unsigned c)
{
	return c < COUNT_LOG_TABLE ? count_log_table[c] : (double)c * log2((double)c);
}

/* Whether log2(k) < floor - 1e-9, from the table (log2 itself is slow):
 * k * log2(k) < k * (floor - 1e-9).  Past the table, false. */
static bool log2_below(size_t k, double floor)
{
	return k < COUNT_LOG_TABLE && count_log_table[k] < (double)k * (floor - 1e-9);
}

/* Whether p, all ASCII, holds too few distinct bytes to reach `floor`.
 * A set of bits in two words rather than counts in memory: egress meets
 * every git SHA and hex id of every request here, and a count's increment
 * waits for the one before when the byte repeats. */
static bool few_symbols(const unsigned char *p, size_t len, double floor)
{
	uint64_t low = 0, high = 0;
	unsigned char any = 0;
	size_t i;

	for (i = 0; i < len; i++) {
		uint64_t bit = (uint64_t)1 << (p[i] & 63);

		low |= p[i] < 64 ? bit : 0;
		high |= p[i] >= 64 ? bit : 0;
		any |= p[i];
	}
	if (any & 0x80)
		return false;
	return log2_below((size_t)(__builtin_popcountll(low) + __builtin_popcountll(high)),
			  floor);
}

/* Whether the Shannon entropy of p reaches `floor` bits per byte:
 * H = log2(n) - (1/n) * sum(c * log2(c)), visiting only the bytes present.
 * H is at most log2 of the number of distinct bytes (and of n), so a run
 * too short or of too few symbols, such as a git SHA's 16 hex digits
 * against 4.5 bits, is refused without the counts.  The margin keeps that
 * test on the safe side of H's rounding: it refuses only what the sum
 * would refuse too. */
static bool shannon_reaches(const unsigned char *p, size_t len, double floor)
{
	unsigned counts[256];
	double sum = 0, h;
	size_t i;

	if (len == 0)
		return 0 >= floor;
	pthread_once(&count_log_once, count_log_fill);
	if (log2_below(len, floor) || few_symbols(p, len, floor))
		return false;
	for (i = 0; i < len; i++)
		counts[p[i]] = 0;
	for (i = 0; i < len; i++)
		counts[p[i]]++;
	for (i = 0; i < len; i++)
		if (counts[p[i]]) {
			sum += count_log(counts[p[i]]);
			counts[p[i]] = 0;
		}
	h = count_log((unsigned)len) / (double)len - sum / (double)len;
	return !(h < floor);
}

/* ---- lifecycle ---- */

int dlp_scan_init(struct dlp_scan *s, const struct dlp_engine *e)
{
	struct dlp_scan_state *st;
	size_t ring = 64, maxraw;
	int ret = -ENOMEM;

	memset(s, 0, sizeof(*s));
	if (!e || !e->built)
		return -EINVAL;
	s->engine = e;
	s->entropy_enforce = e->opt.entropy_enforce;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->st = st;
	while (ring < e->max_norm_len + 1)
		ring *= 2;
	st->ring = malloc(ring * sizeof(*st->ring));
	st->ring_mask = ring - 1;
	st->partials = calloc(e->nsecrets + 1, sizeof(*st->partials));
	st->full_start = calloc(e->nsecrets + 1, sizeof(*st->full_start));
	st->full_end = calloc(e->nsecrets + 1, sizeof(*st->full_end));
	st->pending = calloc(e->nrules + 1, sizeof(*st->pending));
	st->rule_done = calloc(e->nrules + 1, sizeof(*st->rule_done));
	st->md = pcre2_match_data_create(16, NULL);
	if (!st->ring || !st->partials || !st->full_start || !st->full_end || !st->pending ||
	    !st->rule_done || !st->md)
		goto out;
	/* Enough history for a regex window and its context, a preview of the
	 * longest known-secret variant, and an entropy token. */
	maxraw = e->max_norm_len * 3 + 64;
	st->hist_keep = 2 * e->max_rule_len + 1024;
	if (st->hist_keep < maxraw)
		st->hist_keep = maxraw;
	if (st->hist_keep < e->opt.entropy_max_len + 64)
		st->hist_keep = e->opt.entropy_max_len + 64;
	buf_init(&st->hist, st->hist_keep + DLP_BATCH + 1);
	buf_init(&st->tmp, DLP_EXEMPT_VALUE_MAX * 4);
	if (buf_grow(&st->hist, st->hist_keep + DLP_BATCH) < 0)
		goto out;
	ret = 0;
out:
	if (ret < 0)
		dlp_scan_release(s);
	return ret;
}

void dlp_scan_release(struct dlp_scan *s)
{
	struct dlp_scan_state *st = s->st;

	if (st) {
		dlp_decoder_free(st->decoder);
		free(st->ring);
		free(st->partials);
		free(st->full_start);
		free(st->full_end);
		free(st->pending);
		free(st->rule_done);
		if (st->md)
			pcre2_match_data_free(st->md);
		buf_release(&st->hist);
		buf_release(&st->tmp);
		free(st);
	}
	s->st = NULL;
}

size_t dlp_scan_memory(const struct dlp_scan *s)
{
	const struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;

	if (!st)
		return 0;
	return sizeof(*st) + (st->ring_mask + 1) * sizeof(*st->ring) +
	       (e->nsecrets + 1) * (sizeof(*st->partials) + 2 * sizeof(uint64_t)) +
	       (e->nrules + 1) * (sizeof(*st->pending) + sizeof(uint64_t)) + st->hist.max +
	       st->tmp.max + (st->decoder ? dlp_decoder_memory() : 0);
}

void dlp_scan_reset(struct dlp_scan *s)
{
	s->findings.n = 0;
	s->findings.dropped = 0;
}

/* ---- findings ---- */

static const char *variant_name(const struct dlp_pattern *p, unsigned flags, uint64_t raw_len)
{
	static const char *const names[3][4] = {
		{ "known:exact", "known:percent", "known:escape", "known:projection" },
		{ "known:base64", "known:base64+percent", "known:base64+escape",
		  "known:base64+projection" },
		{ "known:hex", "known:hex+percent", "known:hex+escape", "known:hex+projection" },
	};
	unsigned how = (flags & DLP_NORM_PERCENT) ? 1 :
		       (flags & DLP_NORM_ESCAPE)  ? 2 :
		       raw_len != p->raw_len      ? 3 :
						    0;

	switch (p->variant) {
	case DLP_VARIANT_PARTIAL:
		return "known:partial";
	case DLP_VARIANT_BASE64:
		return names[1][how];
	case DLP_VARIANT_HEX:
		return names[2][how];
	default:
		return names[0][how];
	}
}

/* The raw bytes of [start, end) if still in the history. */
static const char *hist_at(const struct dlp_scan_state *st, uint64_t start, uint64_t end,
			   size_t *avail)
{
	uint64_t hist_end = st->hist_start + st->hist.len;

	*avail = 0;
	if (start < st->hist_start || start >= hist_end)
		return NULL;
	*avail = (size_t)((end < hist_end ? end : hist_end) - start);
	return st->hist.p + (start - st->hist_start);
}

static void add_finding(struct dlp_scan *s, enum dlp_detector detector, const char *rule,
			const char *name, uint64_t start, uint64_t end, size_t show, bool warn)
{
	struct dlp_scan_state *st = s->st;
	struct dlp_finding f;
	const char *raw;
	size_t avail;

	/* A warning past the cap would be dropped anyway: skip the formatting
	 * (random bytes make one every few dozen). */
	if (warn && s->findings.n >= DLP_FINDINGS_MAX)
		return;
	memset(&f, 0, sizeof(f));
	f.detector = detector;
	f.where = st->where;
	f.warn_only = warn;
	snprintf(f.rule, sizeof(f.rule), "%s", rule);
	/* In a header value the field's name wins over a secret's env var:
	 * dlp_redact() and the caller's checks (Host) find the part by it.  A
	 * header name that matched is the value itself: never copied. */
	if (st->where == DLP_WHERE_HEADER)
		snprintf(f.name, sizeof(f.name), "%s", st->header);
	else if (name)
		snprintf(f.name, sizeof(f.name), "%s", name);
	f.offset = start;
	f.len = end - start;
	raw = hist_at(st, start, end, &avail);
	dlp_preview(f.preview, sizeof(f.preview), raw, raw ? avail : 0, f.len, show);
	dlp_findings_add(&s->findings, &f);
}

/* Whether the raw bytes [start, end) lie inside an approved value. */
static bool span_exempt(struct dlp_scan *s, uint64_t start, uint64_t end)
{
	struct dlp_scan_state *st = s->st;
	struct dlp_engine *e = (struct dlp_engine *)s->engine; /* the exempt set is locked */
	const char *raw;
	size_t avail;

	if (__atomic_load_n(&e->nexempt, __ATOMIC_ACQUIRE) == 0)
		return false;
	raw = hist_at(st, start, end, &avail);
	if (!raw || avail != end - start)
		return false;
	buf_clear(&st->tmp);
	if (dlp_normalise(raw, avail, &st->tmp) < 0)
		return false;
	return dlp_exempt_covers(e, raw, avail, st->tmp.p, st->tmp.len);
}

static void approved_add(struct dlp_scan_state *st, uint64_t start, uint64_t end)
{
	unsigned i = st->napproved++ % DLP_APPROVED_SPANS;

	st->approved[i].start = start;
	st->approved[i].end = end;
}

static bool approved_overlaps(const struct dlp_scan_state *st, uint64_t start, uint64_t end)
{
	unsigned i, n = st->napproved < DLP_APPROVED_SPANS ? st->napproved : DLP_APPROVED_SPANS;

	for (i = 0; i < n; i++)
		if (st->approved[i].start < end && start < st->approved[i].end)
			return true;
	return false;
}

/* ---- known secrets ---- */

static void partial_flush(struct dlp_scan *s, uint32_t secret)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	struct dlp_partial *pr = &st->partials[secret];

	if (!pr->active)
		return;
	pr->active = false;
	st->npartials_active--;
	if (!e->secrets[secret].canary && span_exempt(s, pr->start, pr->end)) {
		approved_add(st, pr->start, pr->end);
		return;
	}
	add_finding(s, e->secrets[secret].canary ? DLP_DETECTOR_CANARY : DLP_DETECTOR_KNOWN,
		    "known:partial", e->secrets[secret].name, pr->start, pr->end, 2, false);
}

static void secret_hit(struct dlp_scan *s, uint32_t state, uint64_t end)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	uint32_t pat;

	st->secrets_dirty = true;
	DLP_AC_FOREACH_OUT(&e->secret_ac, state, pat)
	{
		const struct dlp_pattern *p = &e->patterns[pat];
		const struct dlp_secret *secret = &e->secrets[p->secret];
		uint64_t start = st->ring[(st->npos - p->len) & st->ring_mask];
		struct dlp_partial *pr = &st->partials[p->secret];
		enum dlp_detector detector;
		unsigned flags = 0;

		if (dlp_secret_is_exempt(e, p->secret)) {
			approved_add(st, start, end);
			continue;
		}
		if (p->variant == DLP_VARIANT_PARTIAL) {
			if (st->full_end[p->secret] >= end && st->full_start[p->secret] <= start)
				continue; /* inside a whole match already reported */
			if (pr->active && start <= pr->end) {
				if (end > pr->end)
					pr->end = end;
				/* Kept open as long as windows extend it, so when
				 * it is reported does not depend on batch sizes. */
				pr->deadline = st->npos + secret->norm_len;
				continue;
			}
			partial_flush(s, p->secret);
			pr->active = true;
			pr->start = start;
			pr->end = end;
			pr->deadline = st->npos + secret->norm_len;
			st->npartials_active++;
			continue;
		}
		if (start < st->full_end[p->secret])
			continue; /* the same occurrence through another variant */
		if (pr->active && pr->start >= start && pr->end <= end) {
			pr->active = false; /* the windows were this match */
			st->npartials_active--;
		}
		if (!secret->canary && span_exempt(s, start, end)) {
			approved_add(st, start, end);
			continue;
		}
		st->full_start[p->secret] = start;
		st->full_end[p->secret] = end;
		if (st->last_percent > start)
			flags |= DLP_NORM_PERCENT;
		if (st->last_escape > start)
			flags |= DLP_NORM_ESCAPE;
		detector = secret->canary ? DLP_DETECTOR_CANARY :
			   (st->last_unicode > start || st->last_invisible > start) ?
						    DLP_DETECTOR_UNICODE :
						    DLP_DETECTOR_KNOWN;
		add_finding(s, detector,
			    detector == DLP_DETECTOR_UNICODE ? "unicode:known-secret" :
							       variant_name(p, flags, end - start),
			    secret->name, start, end, 2, false);
	}
}

/* Partial regions no whole match can still cover. */
static void partials_expire(struct dlp_scan *s, bool all)
{
	struct dlp_scan_state *st = s->st;
	size_t i;

	for (i = 0; i < s->engine->nsecrets && st->npartials_active; i++)
		if (st->partials[i].active && (all || st->npos > st->partials[i].deadline))
			partial_flush(s, (uint32_t)i);
}

/* The slow path of the normalised stream (escapes, UTF-8). */
struct norm_ctx {
	struct dlp_scan *s;
	uint64_t end; /* raw offset just past the byte being fed */
};

static void norm_emit(void *ctx, unsigned char c, uint64_t at, unsigned flags)
{
	struct norm_ctx *n = ctx;
	struct dlp_scan_state *st = n->s->st;
	const struct dlp_ac *a = &n->s->engine->secret_ac;

	if (flags & DLP_NORM_UNICODE)
		st->last_unicode = n->end;
	if (flags & DLP_NORM_PERCENT)
		st->last_percent = n->end;
	if (flags & DLP_NORM_ESCAPE)
		st->last_escape = n->end;
	st->ring[st->npos & st->ring_mask] = at;
	st->npos++;
	st->sstate = dlp_ac_step(a, st->sstate, a->cls[c]);
	if (dlp_ac_has_out(a, st->sstate))
		secret_hit(n->s, st->sstate, n->end);
}

static void norm_invisible(void *ctx, uint64_t at)
{
	struct norm_ctx *n = ctx;

	(void)at;
	n->s->st->last_invisible = n->end;
}

/* ---- rules ---- */

static bool rule_allowed(const struct dlp_engine *e, const struct dlp_rule *r,
			 pcre2_match_data *md, const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < r->nallow; i++) {
		int rc = r->allow_jit[i] ?
				 pcre2_jit_match(r->allow[i], (PCRE2_SPTR)p, len, 0, 0, md,
						 e->match_context) :
				 pcre2_match(r->allow[i], (PCRE2_SPTR)p, len, 0, 0, md,
					     e->match_context);

		if (rc >= 0)
			return true;
	}
	return false;
}

/* Run rule r over match starts in [from, to), with the subject reaching
 * `avail` (past `to` by the rule's max_len when the data is there). */
static void rule_run(struct dlp_scan *s, uint32_t ri, uint64_t from, uint64_t to,
		     uint64_t avail)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	const struct dlp_rule *r = &e->rules[ri];
	PCRE2_SPTR subject = (PCRE2_SPTR)st->hist.p;
	uint64_t limit = to + r->max_len;
	size_t length, at;

	st->rules_dirty = true;
	if (from < st->rule_done[ri])
		from = st->rule_done[ri];
	if (from < st->hist_start)
		from = st->hist_start;
	if (from >= to)
		return;
	if (limit > avail)
		limit = avail;
	length = (size_t)(limit - st->hist_start);
	at = (size_t)(from - st->hist_start);
	while (at <= length) {
		PCRE2_SIZE *ov;
		uint64_t ms, me, ss, se;
		int rc = r->jit ? pcre2_jit_match(r->re, subject, length, at, 0, st->md,
						  e->match_context) :
				  pcre2_match(r->re, subject, length, at, 0, st->md,
					      e->match_context);

		if (rc == PCRE2_ERROR_NOMATCH)
			break;
		if (rc < 0) {
			/* Over the match limit: fail closed on the window. */
			add_finding(s, DLP_DETECTOR_RULE, r->id, NULL, st->hist_start + at,
				    st->hist_start + at, 0, r->warn_only);
			st->rule_done[ri] = to;
			return;
		}
		ov = pcre2_get_ovector_pointer(st->md);
		ms = st->hist_start + ov[0];
		me = st->hist_start + ov[1];
		if (ms >= to)
			break;
		ss = ms;
		se = me;
		if (r->group && (int)r->group < rc && ov[2 * r->group] != PCRE2_UNSET) {
			ss = st->hist_start + ov[2 * r->group];
			se = st->hist_start + ov[2 * r->group + 1];
		}
		at = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		st->rule_done[ri] = me > ms ? me : ms + 1;
		if (se == ss)
			continue;
		if (r->entropy > 0 &&
		    !shannon_reaches((const unsigned char *)st->hist.p + (ss - st->hist_start),
				     (size_t)(se - ss), r->entropy))
			continue;
		if (rule_allowed(e, r, st->md, st->hist.p + (ss - st->hist_start),
				 (size_t)(se - ss)))
			continue;
		if (approved_overlaps(st, ss, se) || span_exempt(s, ss, se))
			continue;
		add_finding(s, DLP_DETECTOR_RULE, r->id, NULL, ss, se, 4, r->warn_only);
	}
	if (st->rule_done[ri] < to)
		st->rule_done[ri] = to;
}

static void keyword_hit(struct dlp_scan *s, uint32_t state, uint64_t end)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	uint32_t k;

	st->rules_dirty = true;
	DLP_AC_FOREACH_OUT(&e->keyword_ac, state, k)
	{
		uint32_t ri = e->keyword_rule[k];
		const struct dlp_rule *r = &e->rules[ri];
		struct dlp_pending *pd = &st->pending[ri];
		uint64_t kw = end - e->keyword_len[k];
		uint64_t from = kw > r->max_len ? kw - r->max_len : 0;

		if (pd->active && from <= pd->to + r->max_len) {
			if (end > pd->to)
				pd->to = end;
			continue;
		}
		if (pd->active) /* entirely behind us: its data is all here */
			rule_run(s, ri, pd->from, pd->to, st->pos);
		else
			st->npending++;
		pd->active = true;
		pd->from = from;
		pd->to = end;
	}
}

/* After a batch: run the windows whose data is complete (or, at the end,
 * all of them), advance long ones, and the keyword-less rules. */
static void rules_advance(struct dlp_scan *s, uint64_t batch_start, bool final)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	uint64_t avail = st->pos;
	size_t i;

	if (!st->npending && !e->has_keywordless)
		return;
	for (i = 0; i < e->nrules; i++) {
		const struct dlp_rule *r = &e->rules[i];
		struct dlp_pending *pd = &st->pending[i];
		uint64_t safe = avail > r->max_len ? avail - r->max_len : 0;

		if (!r->has_keywords) {
			uint64_t from = batch_start > r->max_len ? batch_start - r->max_len : 0;

			rule_run(s, (uint32_t)i, from, final ? avail + 1 : safe, avail);
			continue;
		}
		if (!pd->active)
			continue;
		if (final || pd->to <= safe) {
			rule_run(s, (uint32_t)i, pd->from, pd->to + (final ? 1 : 0), avail);
			pd->active = false;
			st->npending--;
		} else if (pd->from < safe) {
			rule_run(s, (uint32_t)i, pd->from, safe, avail);
			pd->from = safe;
		}
	}
}

/* ---- entropy ---- */

/* Whether a finding of this part (not entropy) overlaps [start, end). */
static bool covered(const struct dlp_scan *s, uint64_t start, uint64_t end)
{
	const struct dlp_findings *f = &s->findings;
	size_t i;

	for (i = s->st->first_finding; i < f->n; i++)
		if (f->v[i].detector != DLP_DETECTOR_ENTROPY && f->v[i].offset < end &&
		    start < f->v[i].offset + f->v[i].len)
			return true;
	return false;
}

static void run_end(struct dlp_scan *s, uint64_t end)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_options *o = &s->engine->opt;
	uint64_t len = end - st->run_start;
	const char *raw;
	size_t avail;

	if (len < o->entropy_min_len || len > o->entropy_max_len)
		return;
	/* Warn-only and no room left for a warning: nothing to find. */
	if (!s->entropy_enforce && s->findings.n >= DLP_FINDINGS_MAX)
		return;
	raw = hist_at(st, st->run_start, end, &avail);
	if (!raw || avail != len)
		return;
	if (!shannon_reaches((const unsigned char *)raw, avail, o->entropy_bits))
		return;
	if (approved_overlaps(st, st->run_start, end) || covered(s, st->run_start, end) ||
	    span_exempt(s, st->run_start, end))
		return;
	add_finding(s, DLP_DETECTOR_ENTROPY, "entropy", NULL, st->run_start, end, 2,
		    !s->entropy_enforce);
}

/* ---- the pass ---- */

static void hist_trim(struct dlp_scan_state *st)
{
	size_t drop;

	if (st->hist.len <= st->hist_keep)
		return;
	drop = st->hist.len - st->hist_keep;
	memmove(st->hist.p, st->hist.p + drop, st->hist_keep);
	st->hist.len = st->hist_keep;
	st->hist_start += drop;
}

/* Per batch, one bit per byte (bit i % 64 of word i / 64): bytes that end
 * an entropy token, characters of the normalised stream (ASCII
 * alphanumerics: secret_ac classes 1-36) and bytes the normaliser must see
 * ('%', '\\', non-ASCII).  The sets are dlp_engine_build()'s token_char and
 * norm_step; the byte loop then steps only the two matchers, and the
 * tokeniser, npos and the ring catch up from these bits where something
 * needs them. */
#define DLP_MASK_WORDS (DLP_BATCH / 64)

struct scan_masks {
	uint64_t nontoken[DLP_MASK_WORDS];
	uint64_t alnum[DLP_MASK_WORDS];
	uint64_t slow[DLP_MASK_WORDS];
};

#ifndef __SSE2__
/* Up to 64 bytes' bits from the tables. */
static void masks_bytes(const struct dlp_engine *e, const unsigned char *p, size_t n,
			uint64_t *nontoken, uint64_t *alnum, uint64_t *slow)
{
	size_t i;

	*nontoken = *alnum = *slow = 0;
	for (i = 0; i < n; i++) {
		unsigned sc = e->norm_step[p[i]];

		*nontoken |= (uint64_t)!e->token_char[p[i]] << i;
		*alnum |= (uint64_t)(sc != 0 && sc != DLP_NORM_SLOW) << i;
		*slow |= (uint64_t)(sc == DLP_NORM_SLOW) << i;
	}
}
#else
/* Bytes in [lo, lo + span]: an unsigned compare SSE2 lacks, as
 * min(v - lo, span) == v - lo. */
static inline __m128i bytes_in(__m128i v, char lo, char span)
{
	__m128i d = _mm_sub_epi8(v, _mm_set1_epi8(lo));

	return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(span)), d);
}

/* Sixteen bytes' bits (the low 16 of each). */
static inline void masks_vec(__m128i v, uint64_t *nontoken, uint64_t *alnum, uint64_t *slow)
{
	__m128i a = _mm_or_si128(bytes_in(v, '0', 9),
				 bytes_in(_mm_or_si128(v, _mm_set1_epi8(0x20)), 'a', 25));
	/* '+' '-' '/' are '+' + 0, 2, 4 (6 is '1', alphanumeric) */
	__m128i d = _mm_sub_epi8(v, _mm_set1_epi8('+'));
	__m128i t = _mm_or_si128(
		_mm_or_si128(a, _mm_cmpeq_epi8(_mm_and_si128(d, _mm_set1_epi8((char)0xf9)),
					       _mm_setzero_si128())),
		_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('=')),
			     _mm_cmpeq_epi8(v, _mm_set1_epi8('_'))));
	__m128i s = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('%')),
					      _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
				 v);

	*nontoken = (uint64_t)(unsigned)_mm_movemask_epi8(t) ^ 0xffff;
	*alnum = (uint64_t)(unsigned)_mm_movemask_epi8(a);
	*slow = (uint64_t)(unsigned)_mm_movemask_epi8(s);
}

static inline uint64_t load_u64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static inline uint64_t load_u32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* p[0..n) (n < 16) in the low lanes, zeros above, without reading past
 * p + n: two overlapping loads, the second shifted down. */
static inline __m128i load_partial(const unsigned char *p, size_t n)
{
	uint64_t lo = 0, hi = 0;
	size_t i;

	if (n >= 8) {
		lo = load_u64(p);
		if (n > 8)
			hi = load_u64(p + n - 8) >> (8 * (16 - n));
	} else if (n >= 4) {
		lo = load_u32(p);
		if (n > 4)
			lo |= load_u32(p + n - 4) >> (8 * (8 - n)) << 32;
	} else {
		for (i = 0; i < n; i++)
			lo |= (uint64_t)p[i] << (8 * i);
	}
	return _mm_set_epi64x((long long)hi, (long long)lo);
}

/* Up to 64 bytes' bits. */
static void masks_bytes(const struct dlp_engine *e, const unsigned char *p, size_t n,
			uint64_t *nontoken, uint64_t *alnum, uint64_t *slow)
{
	uint64_t t, a, s;
	size_t c;

	(void)e;
	*nontoken = *alnum = *slow = 0;
	for (c = 0; 16 * c < n; c++) {
		if (n - 16 * c >= 16) {
			masks_vec(_mm_loadu_si128((const __m128i *)(const void *)(p + 16 * c)), &t,
				  &a, &s);
		} else {
			masks_vec(load_partial(p + 16 * c, n - 16 * c), &t, &a, &s);
			t &= ~(~(uint64_t)0 << (n - 16 * c)); /* the zeros above */
		}
		*nontoken |= t << (16 * c);
		*alnum |= a << (16 * c);
		*slow |= s << (16 * c);
	}
}
#endif

bool dlp_scan_masks_agree(const struct dlp_engine *e)
{
	unsigned char bytes[64];
	uint64_t nontoken, alnum, slow;
	unsigned c, i;

	for (c = 0; c < 256; c += 64) {
		for (i = 0; i < 64; i++)
			bytes[i] = (unsigned char)(c + i);
		masks_bytes(e, bytes, 64, &nontoken, &alnum, &slow);
		for (i = 0; i < 64; i++) {
			unsigned sc = e->norm_step[c + i];

			if (((nontoken >> i) & 1) != !e->token_char[c + i] ||
			    ((alnum >> i) & 1) != (sc != 0 && sc != DLP_NORM_SLOW) ||
			    ((slow >> i) & 1) != (sc == DLP_NORM_SLOW))
				return false;
		}
	}
	return true;
}

/* From the caller's bytes, not the history's copy just written: a 16-byte
 * load over the copy's smaller stores would wait for them (a request's
 * parts are a few bytes each). */
static void masks_fill(const struct dlp_engine *e, struct scan_masks *m, const unsigned char *p,
		       size_t n)
{
	size_t w;

	for (w = 0; 64 * w < n; w++)
		masks_bytes(e, p + 64 * w, n - 64 * w < 64 ? n - 64 * w : 64, &m->nontoken[w],
			    &m->alnum[w], &m->slow[w]);
}

/* Bits [lo, hi) of a mask, word w. */
static inline uint64_t mask_word(const uint64_t *m, size_t w, size_t lo, size_t hi)
{
	uint64_t v = m[w];

	if (lo > 64 * w)
		v &= ~(uint64_t)0 << (lo - 64 * w);
	if (hi < 64 * w + 64)
		v &= ~(~(uint64_t)0 << (hi - 64 * w));
	return v;
}

/* The first set bit at or past i, or n. */
static size_t mask_next(const uint64_t *m, size_t i, size_t n)
{
	size_t w;

	for (w = i / 64; 64 * w < n; w++) {
		uint64_t v = mask_word(m, w, i, n);

		if (v)
			return 64 * w + (size_t)__builtin_ctzll(v);
	}
	return n;
}

/* The entropy tokeniser over [*done, upto) of the batch: each byte that
 * cannot be in a token ends the one before it. */
static void tokens_flush(struct dlp_scan *s, const struct scan_masks *m, uint64_t base,
			 uint64_t *done, uint64_t upto)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	uint64_t min_run = e->opt.entropy_min_len ? e->opt.entropy_min_len : 1;
	size_t lo = (size_t)(*done - base), hi = (size_t)(upto - base), w;

	for (w = lo / 64; 64 * w < hi; w++) {
		uint64_t v = mask_word(m->nontoken, w, lo, hi);

		while (v) {
			uint64_t at = base + 64 * w + (uint64_t)__builtin_ctzll(v);

			if (at - st->run_start >= min_run)
				run_end(s, at);
			st->run_start = at + 1;
			v &= v - 1;
		}
	}
	*done = upto;
}

/* Without -mpopcnt, __builtin_popcountll is a libgcc call. */
static inline unsigned bits_count(uint64_t v)
{
	v -= (v >> 1) & 0x5555555555555555u;
	v = (v & 0x3333333333333333u) + ((v >> 2) & 0x3333333333333333u);
	v = (v + (v >> 4)) & 0x0f0f0f0f0f0f0f0fu;
	return (unsigned)((v * 0x0101010101010101u) >> 56);
}

/* npos and the ring over [*done, upto) of the batch, bytes the fast loop
 * stepped (characters and separators, no slow byte): as if each byte had
 * stored its offset at ring[npos] and a character had then advanced npos.
 * Only the last ring's worth of characters can still be read. */
static void ring_sync(struct dlp_scan_state *st, const struct scan_masks *m, uint64_t base,
		      uint64_t *done, uint64_t upto)
{
	size_t lo = (size_t)(*done - base), hi = (size_t)(upto - base), w, count = 0, fill;
	uint64_t slot;

	if (hi <= lo)
		return;
	for (w = lo / 64; 64 * w < hi; w++)
		count += bits_count(mask_word(m->alnum, w, lo, hi));
	slot = st->npos;
	st->npos += count;
	if (count <= st->ring_mask + 1) {
		/* All of them, in order (short stretches: a request's parts). */
		for (w = lo / 64; 64 * w < hi; w++) {
			uint64_t v = mask_word(m->alnum, w, lo, hi);

			for (; v; v &= v - 1)
				st->ring[slot++ & st->ring_mask] =
					base + 64 * w + (uint64_t)__builtin_ctzll(v);
		}
	} else {
		slot = st->npos;
		fill = st->ring_mask + 1;
		for (w = (hi - 1) / 64; fill; w--) {
			uint64_t v = mask_word(m->alnum, w, lo, hi);

			while (v && fill) {
				unsigned b = 63 - (unsigned)__builtin_clzll(v);

				st->ring[--slot & st->ring_mask] = base + 64 * w + b;
				v &= ~((uint64_t)1 << b);
				fill--;
			}
		}
	}
	/* A separator last: its offset in the next character's slot. */
	if (!(m->alnum[(hi - 1) / 64] >> ((hi - 1) % 64) & 1))
		st->ring[st->npos & st->ring_mask] = upto - 1;
	*done = upto;
}

/* One byte the normaliser must see, with the keyword matcher as the fast
 * loop would have stepped it. */
static void scan_slow_byte(struct dlp_scan *s, unsigned char b, uint64_t at)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_ac *ka = &s->engine->keyword_ac;
	struct norm_ctx nctx = { s, at + 1 };
	struct dlp_norm_sink sink = { norm_emit, norm_invisible, &nctx };

	st->kstate = dlp_ac_step(ka, st->kstate, ka->cls[b]);
	if (dlp_ac_has_out(ka, st->kstate)) {
		st->pos = at + 1;
		keyword_hit(s, st->kstate, at + 1);
	}
	dlp_norm_byte(&st->norm, &sink, b, at);
	st->norm_busy = st->norm.pct || st->norm.need || st->norm.esc;
}

/* A second lane for the fast loop: each step of a matcher waits for the
 * state the one before loaded, so two stretches of a batch stepped together
 * take little more time than one.  The scout starts from the roots
 * SCOUT_WARMUP bytes before the middle of what is left (h) and steps both
 * matchers there, in the fast loop beside the main lane's steps, and in
 * full (dlp_ac_step) where a state leaves the fast loop's.  It reports
 * nothing: past h it logs each byte after which a match may end, with its
 * states.  When the main lane reaches h, its states are the true ones: if
 * the scout's states at h are the same, so is every state the scout
 * stepped past h (a step depends on the state and the byte only, not on
 * what a match does), and the main lane handles the logged bytes in order
 * as it would have, then jumps to where the scout stopped (a slow byte, the
 * batch end, a full log).  Otherwise the scout's work is dropped. */
#define SCOUT_MIN 1024
#define SCOUT_WARMUP 64
#define SCOUT_LOG 32

struct scout {
	size_t h, j, stop;  /* batch indices: where it is checked, where it is, its bound */
	uint32_t ks, ss;    /* its states before byte j */
	uint32_t kh, sh;    /* its states at h, once past */
	bool active, past_h, parked;
	unsigned nlog;
	struct {
		uint32_t at; /* batch index */
		uint32_t ks, ss;
	} log[SCOUT_LOG];
};

/* The scout's next bound from j: h during the warm-up, then the next slow
 * byte.  In the warm-up a slow byte restarts it past that byte. */
static void scout_settle(struct scout *sc, const struct scan_masks *m, size_t n)
{
	for (;;) {
		if (sc->j == sc->h && !sc->past_h) {
			sc->kh = sc->ks;
			sc->sh = sc->ss;
			sc->past_h = true;
		}
		sc->stop = mask_next(m->slow, sc->j, sc->past_h ? n : sc->h);
		if (sc->j < sc->stop || sc->parked)
			return;
		if (sc->past_h) {
			sc->parked = true;
			return;
		}
		sc->j++;
		sc->ks = sc->ss = 0;
	}
}

/* The scout moved within its bound: only at the bound is there more to do. */
static inline void scout_moved(struct scout *sc, const struct scan_masks *m, size_t n)
{
	if (sc->j == sc->stop)
		scout_settle(sc, m, n);
}

static void scout_start(struct scout *sc, const struct scan_masks *m, size_t i, size_t n)
{
	sc->h = i + (n - i) / 2;
	sc->j = sc->h - SCOUT_WARMUP;
	sc->ks = sc->ss = 0;
	sc->active = true;
	sc->past_h = sc->parked = false;
	sc->nlog = 0;
	scout_settle(sc, m, n);
}

/* The scout stepped byte j - 1 into a state outside the fast loop's: log
 * it (past h), and step in full until both states are back in (or the
 * scout stops). */
static void scout_full(struct scout *sc, const struct dlp_engine *e, const unsigned char *q,
		       const struct scan_masks *m, size_t n)
{
	const struct dlp_ac *ka = &e->keyword_ac, *sa = &e->secret_ac;

	for (;;) {
		if (sc->past_h) {
			sc->log[sc->nlog].at = (uint32_t)(sc->j - 1);
			sc->log[sc->nlog].ks = sc->ks;
			sc->log[sc->nlog].ss = sc->ss;
			if (++sc->nlog == SCOUT_LOG)
				sc->parked = true;
		}
		scout_moved(sc, m, n);
		if (sc->parked || (sc->ks < ka->out_min && sc->ss < sa->out_min))
			return;
		sc->ks = dlp_ac_step(ka, sc->ks, ka->cls[q[sc->j]]);
		sc->ss = dlp_ac_step(sa, sc->ss, e->norm_step[q[sc->j]]);
		sc->j++;
		if (sc->ks < ka->out_min && sc->ss < sa->out_min) {
			scout_moved(sc, m, n);
			return;
		}
	}
}

/* Byte x stepped the matchers into states where a match may end: its
 * hits, after the tokeniser up to it (and, for a secret, the ring), in the
 * order a byte at a time would have them.  Most such states are only deep
 * in a prefix: nothing to catch up then. */
static void scan_hits(struct dlp_scan *s, const struct scan_masks *m, const unsigned char *q,
		      uint64_t base, uint64_t *ring_done, uint64_t *tok_done, size_t x, uint32_t ks,
		      uint32_t ss)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	uint64_t at = base + x;
	bool keyword = ks >= e->keyword_ac.out_min && dlp_ac_has_out(&e->keyword_ac, ks);
	bool secret = ss >= e->secret_ac.out_min && e->norm_step[q[x]] &&
		      dlp_ac_has_out(&e->secret_ac, ss);

	if (!keyword && !secret)
		return;
	tokens_flush(s, m, base, tok_done, at);
	if (keyword) {
		st->pos = at + 1;
		keyword_hit(s, ks, at + 1);
	}
	if (secret) {
		ring_sync(st, m, base, ring_done, at + 1);
		secret_hit(s, ss, at + 1);
	}
}

/* The fast loop, one lane, from i to stop or to a byte that steps a state
 * out of the fast loop's (*crossed then says which, so that the two tests
 * stay two branches: GCC folds them into setcc and or otherwise).  With
 * st, it stores the ring and advances npos as it goes. */
static inline size_t lane_run(const struct dlp_engine *e, const unsigned char *q, size_t i,
			      size_t stop, uint32_t *ks_out, uint32_t *ss_out, unsigned *crossed,
			      struct dlp_scan_state *st, uint64_t base)
{
	const uint32_t kout = e->keyword_ac.out_min, sout = e->secret_ac.out_min;
	uint32_t ks = *ks_out, ss = *ss_out;
	uint64_t *ring = st ? st->ring : NULL, npos = st ? st->npos : 0;
	size_t rmask = st ? st->ring_mask : 0;

	for (; i < stop; i++) {
		if (st) {
			ring[npos & rmask] = base + i;
			/* classes are below 64; slow bytes never come here */
			npos += (e->norm_step[q[i]] + 63u) >> 6;
		}
		ks = dlp_ac_next(e->keyword_ac.byte_col[q[i]], ks);
		ss = dlp_ac_next(e->secret_ac.byte_col[q[i]], ss);
		if (__builtin_expect(ks >= kout, 0)) {
			*crossed = 1;
			break;
		}
		if (__builtin_expect(ss >= sout, 0)) {
			*crossed = 2;
			break;
		}
	}
	if (st)
		st->npos = npos;
	*ks_out = ks;
	*ss_out = ss;
	return i;
}

/* One batch in one pass: the keyword matcher over the raw bytes and the
 * secret matcher over the normalised stream advance together, byte by
 * byte, so that their steps (each a load that waits for the state the one
 * before loaded: what bounds the pass) overlap.  The fast loop holds while
 * both matchers are in dense states where nothing ends (one compare each)
 * and runs up to the next byte the normaliser must see; separators step the
 * secret matcher with class 0 (which keeps its state), a byte outside every
 * keyword steps the keyword matcher to the root.  The entropy tokeniser,
 * npos and the ring follow from the batch's bit masks, brought up to date
 * before anything that reads them, so that findings come in the same order
 * as if every byte had advanced everything. */
static void scan_batch(struct dlp_scan *s, const char *p, size_t n)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	const uint32_t kout = e->keyword_ac.out_min, sout = e->secret_ac.out_min;
	const uint64_t min_run = e->opt.entropy_min_len ? e->opt.entropy_min_len : 1;
	const unsigned char *q;
	struct scan_masks m;
	struct scout sc;
	uint64_t base, at, end, tok_done, ring_done, batch_start = st->pos;

	sc.active = false;
	hist_trim(st);
	memcpy(st->hist.p + st->hist.len, p, n);
	st->hist.len += n;
	st->hist.p[st->hist.len] = '\0';
	q = (const unsigned char *)st->hist.p + (st->pos - st->hist_start);
	base = at = tok_done = ring_done = st->pos;
	end = base + n;
	masks_fill(e, &m, (const unsigned char *)p, n);
	while (at < end) {
		size_t i = (size_t)(at - base), stop, l;
		uint32_t ks = st->kstate, ss = st->sstate;
		/* Nonzero: byte i stepped a state out of the fast loop's. */
		unsigned crossed = 0;

		if (st->norm_busy || (m.slow[i / 64] >> (i % 64) & 1)) {
			/* Text of slow bytes (UTF-8, escapes) comes here byte
			 * after byte: the catch-up only when behind, and the
			 * byte's own token boundary at once. */
			if (ring_done < at)
				ring_sync(st, &m, base, &ring_done, at);
			if (tok_done < at)
				tokens_flush(s, &m, base, &tok_done, at);
			scan_slow_byte(s, q[i], at);
			if (m.nontoken[i / 64] >> (i % 64) & 1) {
				if (at - st->run_start >= min_run)
					run_end(s, at);
				st->run_start = at + 1;
			}
			ring_done = tok_done = ++at;
			continue;
		}
		if (ks >= kout || ss >= sout) {
			/* Outside the fast loop's states: a full step. */
			ks = dlp_ac_step(&e->keyword_ac, ks, e->keyword_ac.cls[q[i]]);
			ss = dlp_ac_step(&e->secret_ac, ss, e->norm_step[q[i]]);
			st->kstate = ks;
			st->sstate = ss;
			scan_hits(s, &m, q, base, &ring_done, &tok_done, i, ks, ss);
			at++;
			continue;
		}
		if (sc.active && i >= sc.h) {
			sc.active = false;
			if (i == sc.h && sc.past_h && ks == sc.kh && ss == sc.sh) {
				for (l = 0; l < sc.nlog; l++)
					scan_hits(s, &m, q, base, &ring_done, &tok_done, sc.log[l].at,
						  sc.log[l].ks, sc.log[l].ss);
				st->kstate = sc.ks;
				st->sstate = sc.ss;
				at = base + sc.j;
				continue;
			}
		}
		if (!sc.active && n - i >= SCOUT_MIN)
			scout_start(&sc, &m, i, n);
		stop = mask_next(m.slow, i, n);
		if (sc.active && stop > sc.h)
			stop = sc.h;
		/* Dense states only: each step is one load from the byte's
		 * column, looked up off the chain.  (The secret matcher's
		 * columns fold case as norm_step does; slow bytes do not come
		 * here.) */
		while (i < stop && !crossed) {
			if (sc.active && !sc.parked) {
				const unsigned char *qa = q + i, *qb = q + sc.j;
				size_t k, cnt = stop - i < sc.stop - sc.j ? stop - i : sc.stop - sc.j;
				uint32_t kb = sc.ks, sb = sc.ss;
				unsigned left = 0;

				for (k = 0; k < cnt; k++) {
					ks = dlp_ac_next(e->keyword_ac.byte_col[qa[k]], ks);
					ss = dlp_ac_next(e->secret_ac.byte_col[qa[k]], ss);
					kb = dlp_ac_next(e->keyword_ac.byte_col[qb[k]], kb);
					sb = dlp_ac_next(e->secret_ac.byte_col[qb[k]], sb);
					/* Four branches, each taken about never (each
					 * says which state left, so that the compiler
					 * does not fold them into one over four flags). */
					if (__builtin_expect(ks >= kout, 0)) {
						left = 1;
						break;
					}
					if (__builtin_expect(ss >= sout, 0)) {
						left = 2;
						break;
					}
					if (__builtin_expect(kb >= kout, 0)) {
						left = 3;
						break;
					}
					if (__builtin_expect(sb >= sout, 0)) {
						left = 4;
						break;
					}
				}
				sc.ks = kb;
				sc.ss = sb;
				if (k == cnt) {
					i += cnt;
					sc.j += cnt;
					scout_moved(&sc, &m, n);
					continue;
				}
				/* Both lanes stepped byte k. */
				sc.j += k + 1;
				if (kb >= kout || sb >= sout)
					scout_full(&sc, e, q, &m, n);
				else
					scout_moved(&sc, &m, n);
				i += k;
				if (left <= 2)
					crossed = 1;
				else
					i++;
				continue;
			}
			/* One lane.  With the ring caught up (a request's short
			 * parts) it keeps it itself: it waits on its chains with
			 * room to spare for that. */
			if (ring_done == base + i) {
				i = lane_run(e, q, i, stop, &ks, &ss, &crossed, st, base);
				ring_done = base + i + (crossed != 0);
			} else {
				i = lane_run(e, q, i, stop, &ks, &ss, &crossed, NULL, base);
			}
		}
		st->kstate = ks;
		st->sstate = ss;
		at = base + i;
		if (!crossed)
			continue;
		/* A match may end at byte i: what comes before it first. */
		scan_hits(s, &m, q, base, &ring_done, &tok_done, i, ks, ss);
		at++;
	}
	ring_sync(st, &m, base, &ring_done, end);
	tokens_flush(s, &m, base, &tok_done, end);
	st->pos = end;
	if (st->npartials_active)
		partials_expire(s, false);
	rules_advance(s, batch_start, false);
}

static int scan_bytes(void *ctx, const char *p, size_t len)
{
	struct dlp_scan *s = ctx;

	while (len) {
		size_t n = len < DLP_BATCH ? len : DLP_BATCH;

		scan_batch(s, p, n);
		p += n;
		len -= n;
	}
	return 0;
}

/* ---- parts ---- */

int dlp_scan_begin(struct dlp_scan *s, enum dlp_where where, const char *header,
		   enum dlp_encoding encoding, uint64_t offset_base)
{
	struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	size_t header_len = header ? strnlen(header, sizeof(st->header) - 1) : 0;
	int ret;

	if (!st)
		return -EINVAL;
	if (st->active && (ret = dlp_scan_end(s)) < 0)
		return ret;
	st->where = where;
	memcpy(st->header, header ? header : "", header_len);
	st->header[header_len] = '\0';
	st->active = true;
	st->first_finding = s->findings.n;
	st->decoding_failed = false;
	st->base = st->pos = st->hist_start = offset_base;
	st->hist.len = 0;
	st->kstate = st->sstate = 0;
	memset(&st->norm, 0, sizeof(st->norm));
	st->norm_busy = false;
	st->npos = 0;
	st->last_unicode = st->last_invisible = st->last_percent = st->last_escape = 0;
	if (st->secrets_dirty) {
		memset(st->partials, 0, (e->nsecrets + 1) * sizeof(*st->partials));
		memset(st->full_start, 0, (e->nsecrets + 1) * sizeof(*st->full_start));
		memset(st->full_end, 0, (e->nsecrets + 1) * sizeof(*st->full_end));
		st->secrets_dirty = false;
	}
	st->npartials_active = 0;
	st->napproved = 0;
	if (st->rules_dirty) {
		memset(st->pending, 0, (e->nrules + 1) * sizeof(*st->pending));
		memset(st->rule_done, 0, (e->nrules + 1) * sizeof(*st->rule_done));
		st->rules_dirty = false;
	}
	st->npending = 0;
	st->run_start = offset_base;
	if (encoding == DLP_ENCODING_GZIP || encoding == DLP_ENCODING_DEFLATE) {
		ret = dlp_decoder_new(&st->decoder, encoding, e->opt.decode_max);
		if (ret < 0)
			return ret;
		st->where = DLP_WHERE_BODY_DECODED;
	} else if (encoding != DLP_ENCODING_IDENTITY) {
		/* Scanned as it is, and reported: the caller's policy decides. */
		add_finding(s, DLP_DETECTOR_UNDECODABLE,
			    encoding == DLP_ENCODING_BR ? "decode:br-unsupported" :
							  "decode:unknown-encoding",
			    NULL, offset_base, offset_base, 0, false);
	}
	return 0;
}

uint64_t dlp_scan_settled(const struct dlp_scan *s)
{
	const struct dlp_scan_state *st = s->st;
	const struct dlp_engine *e = s->engine;
	uint64_t settled = st->pos, back = e->max_rule_len + 64, max = e->max_norm_len;
	size_t i;

	if (!st->active)
		return st->pos;
	/* A known secret still to end starts at most max_norm_len normalised
	 * characters back. */
	if (max)
		settled = st->npos + 1 >= max ? st->ring[(st->npos + 1 - max) & st->ring_mask] :
						st->base;
	for (i = 0; i < e->nsecrets && st->npartials_active; i++)
		if (st->partials[i].active && st->partials[i].start < settled)
			settled = st->partials[i].start;
	/* A rule match starts within max_len of a keyword not yet seen. */
	if (e->nrules && st->pos - st->base < back)
		settled = st->base;
	else if (e->nrules && st->pos - back < settled)
		settled = st->pos - back;
	for (i = 0; i < e->nrules; i++)
		if (st->pending[i].active && st->pending[i].from < settled)
			settled = st->pending[i].from;
	if (st->run_start < settled)
		settled = st->run_start;
	if (st->norm_busy) {
		uint64_t at = st->norm.esc ? st->norm.esc_at :
			      st->norm.pct ? st->norm.pct_at :
					     st->norm.cp_at;

		if (at < settled)
			settled = at;
	}
	return settled;
}

static void decode_failed(struct dlp_scan *s, int ret)
{
	struct dlp_scan_state *st = s->st;

	st->decoding_failed = true;
	add_finding(s, DLP_DETECTOR_UNDECODABLE,
		    ret == -EMSGSIZE ? "decode:over-bound" :
		    ret == -ENOMEM   ? "decode:out-of-memory" :
				       "decode:corrupt",
		    NULL, st->pos, st->pos, 0, false);
}

int dlp_scan_feed(struct dlp_scan *s, const char *p, const char *end)
{
	struct dlp_scan_state *st = s->st;
	int ret;

	if (!st || !st->active || end < p)
		return -EINVAL;
	if (!st->decoder)
		return scan_bytes(s, p, (size_t)(end - p));
	if (st->decoding_failed)
		return 0;
	ret = dlp_decoder_feed(st->decoder, p, (size_t)(end - p), scan_bytes, s);
	if (ret < 0)
		decode_failed(s, ret);
	return 0;
}

/* An entropy token that is part of another finding says nothing new. */
static void drop_covered_entropy(struct dlp_scan *s)
{
	struct dlp_findings *f = &s->findings;
	size_t i, j, k = s->st->first_finding;

	for (i = s->st->first_finding; i < f->n; i++) {
		bool covered = false;

		for (j = s->st->first_finding; j < f->n && f->v[i].detector == DLP_DETECTOR_ENTROPY;
		     j++)
			if (f->v[j].detector != DLP_DETECTOR_ENTROPY &&
			    f->v[j].offset < f->v[i].offset + f->v[i].len &&
			    f->v[i].offset < f->v[j].offset + f->v[j].len)
				covered = true;
		if (!covered)
			f->v[k++] = f->v[i];
	}
	f->n = k;
}

int dlp_scan_end(struct dlp_scan *s)
{
	struct dlp_scan_state *st = s->st;
	struct norm_ctx nctx = { s, 0 };
	struct dlp_norm_sink sink = { norm_emit, norm_invisible, &nctx };
	int ret;

	if (!st || !st->active)
		return -EINVAL;
	if (st->decoder) {
		if (!st->decoding_failed && (ret = dlp_decoder_finish(st->decoder)) < 0)
			decode_failed(s, ret);
		dlp_decoder_free(st->decoder);
		st->decoder = NULL;
	}
	/* A dangling "%X" is text. */
	nctx.end = st->pos;
	if (st->norm_busy)
		dlp_norm_byte(&st->norm, &sink, ' ', st->pos);
	if (st->pos - st->run_start >= s->engine->opt.entropy_min_len)
		run_end(s, st->pos);
	partials_expire(s, true);
	rules_advance(s, st->pos, true);
	drop_covered_entropy(s);
	st->active = false;
	return 0;
}

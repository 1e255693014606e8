/* Known secrets: the values, their variants as matcher patterns, the
 * normalised stream they are matched in, and the exempt set.
 *
 * Every variant is matched in one normalised stream (dlp_internal.h) rather
 * than as one pattern per spelling: percent-encoding is decoded, case is
 * folded, separators and invisibles are dropped, confusables are folded.
 * So `s-e-c-r-e-t`, `%73ecret`, `SECRET`, `sеcret` (Cyrillic е) and
 * `sec\u200bret` all reach the matcher as `secret`, and base64 in the std
 * and url alphabets becomes the same pattern once `+/-_=` are dropped. */
#include "dlp_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- normalisation ---- */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool dlp_is_invisible(uint32_t cp)
{
	return (cp >= 0x200b && cp <= 0x200f) || /* zero-width space/joiners, LRM, RLM */
	       (cp >= 0x202a && cp <= 0x202e) || /* bidi embeddings and overrides */
	       (cp >= 0x2060 && cp <= 0x2064) || /* word joiner, invisible operators */
	       (cp >= 0x2066 && cp <= 0x2069) || /* bidi isolates */
	       cp == 0xfeff || cp == 0x061c || cp == 0x00ad || cp == 0x180e;
}

/* Letters that render like ASCII ones (Cyrillic, Greek), sorted by code
 * point for bsearch.  Not all of Unicode's confusables: the ones a token
 * could be spelled with and still read the same. */
static const struct confusable {
	uint16_t cp;
	char ascii;
} confusables[] = {
	{ 0x0391, 'a' }, { 0x0392, 'b' }, { 0x0395, 'e' }, { 0x0396, 'z' }, { 0x0397, 'h' },
	{ 0x0399, 'i' }, { 0x039a, 'k' }, { 0x039c, 'm' }, { 0x039d, 'n' }, { 0x039f, 'o' },
	{ 0x03a1, 'p' }, { 0x03a4, 't' }, { 0x03a5, 'y' }, { 0x03a7, 'x' }, { 0x03b1, 'a' },
	{ 0x03b9, 'i' }, { 0x03ba, 'k' }, { 0x03bd, 'v' }, { 0x03bf, 'o' }, { 0x03c1, 'p' },
	{ 0x03c5, 'u' }, { 0x0405, 's' }, { 0x0406, 'i' }, { 0x0408, 'j' }, { 0x0410, 'a' },
	{ 0x0412, 'b' }, { 0x0415, 'e' }, { 0x041a, 'k' }, { 0x041c, 'm' }, { 0x041d, 'h' },
	{ 0x041e, 'o' }, { 0x0420, 'p' }, { 0x0421, 'c' }, { 0x0422, 't' }, { 0x0425, 'x' },
	{ 0x0430, 'a' }, { 0x0435, 'e' }, { 0x043e, 'o' }, { 0x0440, 'p' }, { 0x0441, 'c' },
	{ 0x0443, 'y' }, { 0x0445, 'x' }, { 0x0455, 's' }, { 0x0456, 'i' }, { 0x0458, 'j' },
	{ 0x04bb, 'h' }, { 0x04ae, 'y' }, { 0x0501, 'd' }, { 0x051b, 'q' }, { 0x051d, 'w' },
};

static int confusable_compare(const void *key, const void *item)
{
	uint32_t cp = *(const uint32_t *)key;
	uint32_t other = ((const struct confusable *)item)->cp;

	return cp < other ? -1 : cp > other;
}

/* The ASCII character a code point stands for, or 0. */
static unsigned char unicode_fold(uint32_t cp)
{
	const struct confusable *c;

	/* Fullwidth forms of ASCII. */
	if (cp >= 0xff10 && cp <= 0xff19)
		return (unsigned char)('0' + cp - 0xff10);
	if (cp >= 0xff21 && cp <= 0xff3a)
		return (unsigned char)('a' + cp - 0xff21);
	if (cp >= 0xff41 && cp <= 0xff5a)
		return (unsigned char)('a' + cp - 0xff41);
	c = bsearch(&cp, confusables, sizeof(confusables) / sizeof(confusables[0]),
		    sizeof(confusables[0]), confusable_compare);
	return c ? (unsigned char)c->ascii : 0;
}

static void norm_codepoint(const struct dlp_norm_sink *sink, uint32_t cp, uint64_t at,
			   unsigned flags)
{
	unsigned char c;

	if (dlp_is_invisible(cp)) {
		if (sink->invisible)
			sink->invisible(sink->ctx, at);
	} else if ((c = unicode_fold(cp)) != 0) {
		sink->emit(sink->ctx, c, at, flags | DLP_NORM_UNICODE);
	}
}

static void norm_decoded(struct dlp_norm *n, const struct dlp_norm_sink *sink,
			 unsigned char b, uint64_t at, unsigned flags)
{
	if (b < 0x80) {
		n->need = 0;
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b + 32);
		if ((b >= 'a' && b <= 'z') || (b >= '0' && b <= '9'))
			sink->emit(sink->ctx, b, at, flags);
		return;
	}
	if ((b & 0xc0) == 0x80) {
		if (!n->need)
			return;
		n->cp = (n->cp << 6) | (b & 0x3f);
		n->cp_flags |= flags;
		if (--n->need == 0)
			norm_codepoint(sink, n->cp, n->cp_at, n->cp_flags);
		return;
	}
	n->cp_at = at;
	n->cp_flags = flags;
	if (b >= 0xc0 && b < 0xe0) {
		n->cp = b & 0x1f;
		n->need = 1;
	} else if (b >= 0xe0 && b < 0xf0) {
		n->cp = b & 0x0f;
		n->need = 2;
	} else if (b >= 0xf0 && b < 0xf8) {
		n->cp = b & 0x07;
		n->need = 3;
	} else {
		n->need = 0;
	}
}

/* A JSON \uXXXX escape: the code point stands for its character. */
static bool norm_escape(struct dlp_norm *n, const struct dlp_norm_sink *sink, unsigned char b,
			uint64_t offset)
{
	unsigned i;
	int v;

	if (n->esc == 1 && (b == 'u' || b == '\\')) {
		/* "\\" is one escaped backslash: it starts nothing. */
		n->esc = b == 'u' ? 2 : 0;
		n->esc_cp = 0;
		return true;
	}
	if (n->esc >= 2 && (v = hex_value(b)) >= 0) {
		n->esc_cp = n->esc_cp << 4 | (unsigned)v;
		if (++n->esc < 6)
			return true;
		n->esc = 0;
		if (n->esc_cp < 0x80)
			norm_decoded(n, sink, (unsigned char)n->esc_cp, n->esc_at, DLP_NORM_ESCAPE);
		else
			norm_codepoint(sink, n->esc_cp, n->esc_at, DLP_NORM_ESCAPE);
		return true;
	}
	/* Not an escape after all: the 'u' and digits read are text. */
	if (n->esc >= 2) {
		norm_decoded(n, sink, 'u', n->esc_at + 1, 0);
		for (i = n->esc - 2; i > 0; i--)
			norm_decoded(n, sink,
				     (unsigned char)"0123456789abcdef"[(n->esc_cp >> (4 * (i - 1))) & 15],
				     offset - i, 0);
	}
	n->esc = 0;
	return false;
}

void dlp_norm_byte(struct dlp_norm *n, const struct dlp_norm_sink *sink, unsigned char b,
		   uint64_t offset)
{
	int v;

	if (n->esc && norm_escape(n, sink, b, offset))
		return;
	if (b == '\\' && !n->pct) {
		n->esc = 1;
		n->esc_at = offset;
		return;
	}
	if (n->pct) {
		v = hex_value(b);
		if (v >= 0 && n->pct == 1) {
			n->pct_hi = (unsigned)v;
			n->pct = 2;
			return;
		}
		if (v >= 0) {
			n->pct = 0;
			norm_decoded(n, sink, (unsigned char)(n->pct_hi << 4 | (unsigned)v),
				     n->pct_at, DLP_NORM_PERCENT);
			return;
		}
		/* Not an escape after all: what followed the '%' is text. */
		if (n->pct == 2)
			norm_decoded(n, sink, (unsigned char)"0123456789abcdef"[n->pct_hi],
				     offset - 1, 0);
		n->pct = 0;
	}
	if (b == '%') {
		n->pct = 1;
		n->pct_at = offset;
		return;
	}
	norm_decoded(n, sink, b, offset, 0);
}

static void normalise_emit(void *ctx, unsigned char c, uint64_t at, unsigned flags)
{
	struct buf *out = ctx;

	(void)at;
	(void)flags;
	/* A full buffer only shortens what an exempt value covers. */
	(void)buf_append(out, &c, 1);
}

int dlp_normalise(const char *p, size_t len, struct buf *out)
{
	struct dlp_norm n;
	struct dlp_norm_sink sink = { normalise_emit, NULL, out };
	size_t i;
	int ret = buf_grow(out, len);

	if (ret < 0)
		return ret;
	memset(&n, 0, sizeof(n));
	for (i = 0; i < len; i++)
		dlp_norm_byte(&n, &sink, (unsigned char)p[i], i);
	dlp_norm_byte(&n, &sink, ' ', len); /* flush a dangling "%X" */
	return 0;
}

/* ---- secrets ---- */

void dlp_options_default(struct dlp_options *o)
{
	o->partial_min = 16;
	o->secret_min = 8;
	o->entropy_bits = 4.5;
	o->entropy_min_len = 20;
	o->entropy_max_len = 128;
	o->decode_max = 64ull << 20;
	o->entropy_enforce = false;
}

int dlp_engine_add_secret(struct dlp_engine *e, const char *name, const char *value,
			  size_t len, bool canary)
{
	struct dlp_secret *v, *s;
	struct buf norm;
	int ret = -EINVAL;

	buf_init(&norm, 1 << 16);
	if (e->built || !name || !value || len < e->opt.secret_min)
		goto out;
	ret = -E2BIG;
	if (len > DLP_SECRET_MAX)
		goto out;
	/* The same value under two names: matched (and reported) once. */
	ret = 0;
	for (size_t i = 0; i < e->nsecrets; i++)
		if (e->secrets[i].len == len && memcmp(e->secrets[i].value, value, len) == 0 &&
		    e->secrets[i].canary == canary)
			goto out;
	ret = -EINVAL;
	if ((ret = dlp_normalise(value, len, &norm)) < 0)
		goto out;
	ret = -EINVAL;
	if (norm.len < e->opt.secret_min)
		goto out; /* mostly punctuation: its projection would match anything */
	ret = -ENOMEM;
	v = realloc(e->secrets, (e->nsecrets + 1) * sizeof(*v));
	if (!v)
		goto out;
	e->secrets = v;
	s = &v[e->nsecrets];
	memset(s, 0, sizeof(*s));
	s->name = strdup(name);
	s->value = malloc(len + 1);
	if (!s->name || !s->value) {
		free(s->name);
		free(s->value);
		goto out;
	}
	memcpy(s->value, value, len);
	s->value[len] = '\0';
	s->len = len;
	s->norm_len = norm.len;
	s->canary = canary;
	e->nsecrets++;
	ret = 0;
out:
	buf_release(&norm);
	return ret;
}

static bool name_listed(const char *name, size_t len, const char *const *names, bool prefix)
{
	size_t i;

	for (i = 0; names && names[i]; i++) {
		size_t n = strlen(names[i]);

		if (n == 0)
			continue;
		if (prefix ? (n <= len && memcmp(name, names[i], n) == 0)
			   : (n == len && memcmp(name, names[i], n) == 0))
			return true;
	}
	return false;
}

int dlp_engine_add_env(struct dlp_engine *e, char *const *envp, const char *const *names,
		       const char *const *prefixes, size_t *skipped)
{
	char name[256];
	size_t i;
	int ret;

	if (skipped)
		*skipped = 0;
	for (i = 0; envp && envp[i]; i++) {
		const char *eq = strchr(envp[i], '=');
		size_t len;

		if (!eq || (size_t)(eq - envp[i]) >= sizeof(name))
			continue;
		len = (size_t)(eq - envp[i]);
		if (!name_listed(envp[i], len, names, false) &&
		    !name_listed(envp[i], len, prefixes, true))
			continue;
		memcpy(name, envp[i], len);
		name[len] = '\0';
		ret = dlp_engine_add_secret(e, name, eq + 1, strlen(eq + 1), false);
		if ((ret == -EINVAL || ret == -E2BIG) && skipped)
			(*skipped)++;
		else if (ret < 0 && ret != -EINVAL && ret != -E2BIG)
			return ret;
	}
	return 0;
}

static int add_pattern(struct dlp_engine *e, uint32_t secret, enum dlp_variant variant,
		       const char *norm, size_t len, size_t raw_len)
{
	struct dlp_pattern *p;
	int ret;

	if (len == 0)
		return 0;
	if (len > UINT16_MAX || raw_len > UINT16_MAX)
		return -EINVAL;
	if (e->npatterns == e->patterns_cap) {
		size_t cap = e->patterns_cap ? e->patterns_cap * 2 : 64;

		p = realloc(e->patterns, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		e->patterns = p;
		e->patterns_cap = cap;
	}
	ret = dlp_ac_add(&e->secret_ac, norm, len, (uint32_t)e->npatterns);
	if (ret < 0)
		return ret;
	p = &e->patterns[e->npatterns++];
	p->secret = secret;
	p->len = (uint16_t)len;
	p->raw_len = (uint16_t)raw_len;
	p->variant = (uint8_t)variant;
	if (len > e->max_norm_len)
		e->max_norm_len = len;
	return 0;
}

/* See the windows in dlp_secrets_build(). */
#define DLP_PARTIAL_STRIDE 4

static const char b64_alphabet[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Base64 of the value as it would appear inside a longer encoded stream:
 * preceded by `shift` bytes (0..2), keeping only the characters the value
 * alone determines. */
static int add_base64(struct dlp_engine *e, uint32_t secret, const struct dlp_secret *s,
		      size_t shift, struct buf *tmp)
{
	size_t total = shift + s->len, nbits = total * 8, first, last, i;
	struct buf norm;
	int ret;

	buf_clear(tmp);
	first = (shift * 8 + 5) / 6;
	last = nbits / 6; /* exclusive */
	for (i = first; i < last; i++) {
		unsigned v = 0, bit;

		for (bit = 0; bit < 6; bit++) {
			size_t pos = i * 6 + bit, byte = pos / 8;
			unsigned char c = byte < shift ? 0 : (unsigned char)s->value[byte - shift];

			v = v << 1 | ((c >> (7 - pos % 8)) & 1u);
		}
		if ((ret = buf_append(tmp, &b64_alphabet[v], 1)) < 0)
			return ret;
	}
	buf_init(&norm, 1 << 16);
	ret = dlp_normalise(tmp->p, tmp->len, &norm);
	if (ret == 0 && norm.len >= e->opt.secret_min)
		ret = add_pattern(e, secret, DLP_VARIANT_BASE64, norm.p, norm.len, tmp->len);
	buf_release(&norm);
	return ret;
}

int dlp_secrets_build(struct dlp_engine *e)
{
	struct buf norm, tmp;
	size_t i, j, w = e->opt.partial_min;
	size_t stride = w >= 16 ? DLP_PARTIAL_STRIDE : 1, win = w - stride + 1;
	int ret = 0;

	buf_init(&norm, 1 << 16);
	buf_init(&tmp, 1 << 16);
	dlp_ac_init(&e->secret_ac, DLP_NORM_ALPHABET, false);
	/* Separators are dropped from the normalised stream: they keep the
	 * state (only the scan's fast path feeds class 0). */
	e->secret_ac.stay0 = true;
	for (i = 0; i < e->nsecrets && ret == 0; i++) {
		const struct dlp_secret *s = &e->secrets[i];

		buf_clear(&norm);
		if ((ret = dlp_normalise(s->value, s->len, &norm)) < 0)
			break;
		if ((ret = add_pattern(e, (uint32_t)i, DLP_VARIANT_EXACT, norm.p, norm.len,
				       s->len)) < 0)
			break;
		/* Windows: a secret sent in pieces, each piece at least
		 * partial_min long.  Windows of partial_min - stride + 1
		 * characters every stride characters: any piece that long holds
		 * one, at a quarter of the matcher's states (which is what keeps
		 * the hot rows in cache). */
		for (j = 0; w && norm.len > w && j + win <= norm.len && ret == 0; j += stride)
			ret = add_pattern(e, (uint32_t)i, DLP_VARIANT_PARTIAL, norm.p + j, win, 0);
		for (j = 0; j < 3 && ret == 0; j++)
			ret = add_base64(e, (uint32_t)i, s, j, &tmp);
		buf_clear(&tmp);
		for (j = 0; j < s->len && ret == 0; j++) {
			char hex[3];

			hex[0] = "0123456789abcdef"[(unsigned char)s->value[j] >> 4];
			hex[1] = "0123456789abcdef"[(unsigned char)s->value[j] & 15];
			ret = buf_append(&tmp, hex, 2);
		}
		if (ret == 0)
			ret = add_pattern(e, (uint32_t)i, DLP_VARIANT_HEX, tmp.p, tmp.len, tmp.len);
	}
	if (ret == 0)
		ret = dlp_ac_build(&e->secret_ac);
	buf_release(&norm);
	buf_release(&tmp);
	return ret;
}

size_t dlp_engine_secret_count(const struct dlp_engine *e)
{
	return e->nsecrets;
}

/* ---- exempt values ---- */

/* The secrets a newly exempt value holds or encodes, whole (not a window:
 * approving a piece of a token does not approve the token). */
static void exempt_mark_secrets(struct dlp_engine *e, const char *norm, size_t len)
{
	uint32_t s = 0, pat;
	size_t i;

	if (!e->built || !e->secret_exempt)
		return;
	for (i = 0; i < len; i++) {
		s = dlp_ac_step(&e->secret_ac, s, e->secret_ac.cls[(unsigned char)norm[i]]);
		if (!dlp_ac_has_out(&e->secret_ac, s))
			continue;
		DLP_AC_FOREACH_OUT(&e->secret_ac, s, pat)
		{
			const struct dlp_pattern *p = &e->patterns[pat];

			if (p->variant != DLP_VARIANT_PARTIAL && !e->secrets[p->secret].canary)
				__atomic_store_n(&e->secret_exempt[p->secret], 1, __ATOMIC_RELEASE);
		}
	}
}

void dlp_exempt_rescan(struct dlp_engine *e)
{
	size_t i;

	pthread_mutex_lock(&e->exempt_lock);
	for (i = 0; i < e->nexempt; i++)
		exempt_mark_secrets(e, e->exempt[i].norm, e->exempt[i].norm_len);
	pthread_mutex_unlock(&e->exempt_lock);
}

int dlp_engine_exempt(struct dlp_engine *e, const char *value, size_t len)
{
	struct dlp_exempt_value *x;
	struct buf norm;
	size_t i;
	int ret = -E2BIG;

	buf_init(&norm, DLP_EXEMPT_VALUE_MAX);
	if (len == 0 || len > DLP_EXEMPT_VALUE_MAX)
		goto out;
	if ((ret = dlp_normalise(value, len, &norm)) < 0)
		goto out;
	pthread_mutex_lock(&e->exempt_lock);
	for (i = 0; i < e->nexempt; i++)
		if (e->exempt[i].raw_len == len && memcmp(e->exempt[i].raw, value, len) == 0)
			break;
	if (i < e->nexempt) {
		ret = 0;
	} else if (e->nexempt == DLP_EXEMPT_MAX) {
		ret = -E2BIG;
	} else {
		x = &e->exempt[e->nexempt];
		x->raw = malloc(len);
		x->norm_len = norm.len;
		x->norm = buf_detach(&norm, NULL);
		if (!x->raw || !x->norm) {
			free(x->raw);
			free(x->norm);
			ret = -ENOMEM;
		} else {
			memcpy(x->raw, value, len);
			x->raw_len = len;
			exempt_mark_secrets(e, x->norm, x->norm_len);
			__atomic_store_n(&e->nexempt, e->nexempt + 1, __ATOMIC_RELEASE);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&e->exempt_lock);
out:
	buf_release(&norm);
	return ret;
}

int dlp_engine_exempt_copy(struct dlp_engine *to, struct dlp_engine *from)
{
	size_t i, n;
	int ret = 0;

	if (to == from)
		return 0;
	pthread_mutex_lock(&from->exempt_lock);
	n = from->nexempt;
	for (i = 0; i < n && ret == 0; i++)
		ret = dlp_engine_exempt(to, from->exempt[i].raw, from->exempt[i].raw_len);
	pthread_mutex_unlock(&from->exempt_lock);
	return ret;
}

bool dlp_secret_is_exempt(const struct dlp_engine *e, uint32_t secret)
{
	return e->secret_exempt && !e->secrets[secret].canary &&
	       __atomic_load_n(&e->secret_exempt[secret], __ATOMIC_ACQUIRE);
}

bool dlp_exempt_covers(struct dlp_engine *e, const char *raw, size_t raw_len,
		       const char *norm, size_t norm_len)
{
	bool found = false;
	size_t i;

	if (__atomic_load_n(&e->nexempt, __ATOMIC_ACQUIRE) == 0)
		return false;
	pthread_mutex_lock(&e->exempt_lock);
	for (i = 0; i < e->nexempt && !found; i++) {
		const struct dlp_exempt_value *x = &e->exempt[i];

		if (norm_len && memmem(x->norm, x->norm_len, norm, norm_len))
			found = true;
		else if (raw_len && memmem(x->raw, x->raw_len, raw, raw_len))
			found = true;
	}
	pthread_mutex_unlock(&e->exempt_lock);
	return found;
}

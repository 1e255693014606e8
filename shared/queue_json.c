/* Proposal and response files: strict JSON in, pretty JSON out.  Either
 * side of the queue may be the less trusted one (a compromised bundle
 * writes proposals, anyone with the host directory writes responses), so
 * every key is known, typed, capped and allowed only for its kind. */
#include "log.h"
#include "queue.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/sha256.h>
#include <yyjson.h>

#define KIND_BIT(k) (1u << (k))
#define EGRESS_ROUTES (KIND_BIT(QUEUE_EGRESS_ALLOW) | KIND_BIT(QUEUE_EGRESS_BLOCK))
#define TOKEN KIND_BIT(QUEUE_EGRESS_TOKEN_ALLOW)
#define LEAK KIND_BIT(QUEUE_GITLEAKS_ALLOW)
#define ALL_KINDS (EGRESS_ROUTES | TOKEN | LEAK)

/* How a string may look: one line of printable text, or several. */
enum text_shape { ONE_LINE, MULTI_LINE, HASH_HEX };

/* The proposal's string keys: where each lives, the kinds that may carry
 * it and the kinds that must. */
struct text_field {
	const char *key;
	size_t offset;
	size_t max;
	enum text_shape shape;
	unsigned allowed, required;
};

#define PROPOSAL_TEXT(name, max, shape, allowed, required) \
	{ #name, offsetof(struct queue_proposal, name), max, shape, allowed, required }

static const struct text_field proposal_texts[] = {
	PROPOSAL_TEXT(bottle, 63, ONE_LINE, ALL_KINDS, ALL_KINDS),
	PROPOSAL_TEXT(justification, QUEUE_TEXT_MAX, MULTI_LINE, ALL_KINDS, ALL_KINDS),
	PROPOSAL_TEXT(routes_yaml, QUEUE_FILE_MAX / 2, MULTI_LINE, EGRESS_ROUTES, EGRESS_ROUTES),
	PROPOSAL_TEXT(host, 255, ONE_LINE, TOKEN, TOKEN),
	PROPOSAL_TEXT(method, 32, ONE_LINE, TOKEN, TOKEN),
	PROPOSAL_TEXT(path, QUEUE_TEXT_MAX, ONE_LINE, TOKEN | LEAK, TOKEN | LEAK),
	PROPOSAL_TEXT(detector, 128, ONE_LINE, TOKEN | LEAK, TOKEN),
	PROPOSAL_TEXT(rule, 128, ONE_LINE, TOKEN | LEAK, TOKEN | LEAK),
	PROPOSAL_TEXT(preview, 1024, MULTI_LINE, TOKEN | LEAK, TOKEN | LEAK),
	PROPOSAL_TEXT(value_hash, QUEUE_HASH_HEX - 1, HASH_HEX, TOKEN | LEAK, TOKEN | LEAK),
	PROPOSAL_TEXT(repo, 1024, ONE_LINE, LEAK, LEAK),
	PROPOSAL_TEXT(ref, 1024, ONE_LINE, LEAK, LEAK),
	PROPOSAL_TEXT(commit, 64, ONE_LINE, LEAK, LEAK),
};

#define PROPOSAL_TEXT_COUNT (sizeof(proposal_texts) / sizeof(proposal_texts[0]))
#define BOUNDS_KINDS (EGRESS_ROUTES | TOKEN)

static const char *const kind_names[] = {
	[QUEUE_EGRESS_ALLOW] = "egress-allow",
	[QUEUE_EGRESS_BLOCK] = "egress-block",
	[QUEUE_EGRESS_TOKEN_ALLOW] = "egress-token-allow",
	[QUEUE_GITLEAKS_ALLOW] = "gitleaks-allow",
};

static const char *const verdict_names[] = {
	[QUEUE_APPROVED] = "approved",
	[QUEUE_MODIFIED] = "modified",
	[QUEUE_REJECTED] = "rejected",
};

const char *queue_kind_name(enum queue_kind kind)
{
	return (unsigned)kind < 4 ? kind_names[kind] : "unknown";
}

int queue_kind_parse(const char *name, enum queue_kind *kind)
{
	unsigned i;

	for (i = 0; i < 4; i++)
		if (strcmp(kind_names[i], name) == 0) {
			*kind = (enum queue_kind)i;
			return 0;
		}
	return -EINVAL;
}

const char *queue_verdict_name(enum queue_verdict verdict)
{
	return (unsigned)verdict < 3 ? verdict_names[verdict] : "unknown";
}

static int verdict_parse(const char *name, enum queue_verdict *verdict)
{
	unsigned i;

	for (i = 0; i < 3; i++)
		if (strcmp(verdict_names[i], name) == 0) {
			*verdict = (enum queue_verdict)i;
			return 0;
		}
	return -EINVAL;
}

const char *queue_state_name(enum queue_state state)
{
	switch (state) {
	case QUEUE_PENDING: return "pending";
	case QUEUE_ANSWERED: return "answered";
	case QUEUE_PROCESSED: return "processed";
	case QUEUE_WITHDRAWN: return "withdrawn";
	}
	return "unknown";
}

static bool id_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-';
}

bool queue_id_valid(const char *id)
{
	size_t i;

	for (i = 0; id[i]; i++)
		if (i >= QUEUE_ID_MAX - 1 || !id_char(id[i]))
			return false;
	return i > 0;
}

bool queue_bottle_valid(const char *name)
{
	size_t i;

	if (name[0] == '.' || name[0] == '\0')
		return false;
	for (i = 0; name[i]; i++)
		if (i >= 63 || !(id_char(name[i]) || name[i] == '_' || name[i] == '.'))
			return false;
	return true;
}

int queue_sha256_hex(const void *data, size_t len, char out[QUEUE_HASH_HEX])
{
	unsigned char digest[32];
	size_t i;

	if (mbedtls_sha256(data, len, digest, 0) != 0)
		return -EIO;
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return 0;
}

void queue_format_time(time_t t, char out[QUEUE_TIME_MAX])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, QUEUE_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, QUEUE_TIME_MAX, "1970-01-01T00:00:00Z");
}

static int digits_value(const char *s, size_t n)
{
	int v = 0;

	while (n--)
		v = v * 10 + (*s++ - '0');
	return v;
}

/* Exactly the form queue_format_time() writes; anything else is refused
 * rather than guessed at. */
static int time_parse(const char *s, time_t *out)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	struct tm tm = { 0 };
	size_t i;

	if (strlen(s) != sizeof(shape) - 1)
		return -EINVAL;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
			return -EINVAL;
#define DIGITS(at, n) digits_value(s + (at), (n))
	tm.tm_year = DIGITS(0, 4) - 1900;
	tm.tm_mon = DIGITS(5, 2) - 1;
	tm.tm_mday = DIGITS(8, 2);
	tm.tm_hour = DIGITS(11, 2);
	tm.tm_min = DIGITS(14, 2);
	tm.tm_sec = DIGITS(17, 2);
#undef DIGITS
	if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
	    tm.tm_min > 59 || tm.tm_sec > 60 || tm.tm_year < 70)
		return -EINVAL;
	*out = timegm(&tm);
	return 0;
}

int queue_parse_time(const char *s, time_t *out)
{
	return s && out ? time_parse(s, out) : -EINVAL;
}


/* A key from the file, fit for a one-line message: at most 64 bytes,
 * anything but printable ASCII shown as '?'. */
static const char *shown_key(const char *k, char out[68])
{
	size_t i;

	for (i = 0; k[i] && i < 64; i++)
		out[i] = (unsigned char)k[i] >= 0x20 && (unsigned char)k[i] < 0x7f ? k[i] : '?';
	out[i] = '\0';
	return out;
}

static int check_text(const char *name, const char *key, const char *s, size_t len, size_t max,
		      enum text_shape shape, char *err, size_t errlen)
{
	size_t i;

	if (len > max) {
		error_format(err, errlen, "%s: '%s' is longer than %zu bytes", name, key, max);
		return -EINVAL;
	}
	if (shape != MULTI_LINE && len == 0) {
		error_format(err, errlen, "%s: '%s' is empty", name, key);
		return -EINVAL;
	}
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (shape == HASH_HEX ? !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))
				      : (c < 0x20 && !(shape == MULTI_LINE &&
						       (c == '\n' || c == '\t' || c == '\r'))) ||
					c == 0x7f) {
			error_format(err, errlen, "%s: '%s' holds a %s byte at offset %zu", name, key,
				shape == HASH_HEX ? "non-hex" : "control", i);
			return -EINVAL;
		}
	}
	if (shape == HASH_HEX && len != QUEUE_HASH_HEX - 1) {
		error_format(err, errlen, "%s: '%s' is not a SHA-256 in hex", name, key);
		return -EINVAL;
	}
	return 0;
}

static char **text_slot(struct queue_proposal *p, const struct text_field *f)
{
	return (char **)((char *)p + f->offset);
}

/* name is what messages start with: the file being read, or the id. */
static int check_named(const char *name, const struct queue_proposal *p, char *err,
		       size_t errlen)
{
	unsigned bit;
	size_t i;
	int ret;

	if ((unsigned)p->kind >= 4) {
		error_format(err, errlen, "%s: unknown kind %d", name, (int)p->kind);
		return -EINVAL;
	}
	bit = KIND_BIT(p->kind);
	for (i = 0; i < PROPOSAL_TEXT_COUNT; i++) {
		const struct text_field *f = &proposal_texts[i];
		const char *s = *text_slot((struct queue_proposal *)p, f);

		if (!s) {
			if (f->required & bit) {
				error_format(err, errlen, "%s: %s needs '%s'", name,
					kind_names[p->kind], f->key);
				return -EINVAL;
			}
			continue;
		}
		if (!(f->allowed & bit)) {
			error_format(err, errlen, "%s: %s does not take '%s'", name,
				kind_names[p->kind], f->key);
			return -EINVAL;
		}
		ret = check_text(name, f->key, s, strlen(s), f->max, f->shape, err, errlen);
		if (ret < 0)
			return ret;
	}
	if (!queue_bottle_valid(p->bottle)) {
		error_format(err, errlen, "%s: 'bottle' is not a bottle name", name);
		return -EINVAL;
	}
	if (p->kind == QUEUE_GITLEAKS_ALLOW ? p->line == 0 : p->line != 0) {
		error_format(err, errlen, "%s: %s", name,
			p->kind == QUEUE_GITLEAKS_ALLOW ? "gitleaks-allow needs 'line' (from 1)"
							: "only gitleaks-allow takes 'line'");
		return -EINVAL;
	}
	if (!(BOUNDS_KINDS & bit) && (p->bounds.expires_in || p->bounds.max_requests)) {
		error_format(err, errlen, "%s: %s does not take 'bounds'", name, kind_names[p->kind]);
		return -EINVAL;
	}
	return 0;
}

int queue_proposal_check(const struct queue_proposal *p, char *err, size_t errlen)
{
	return check_named(p->id[0] ? p->id : "proposal", p, err, errlen);
}

/* ---- reading ---- */

static int get_text(const char *name, const char *key, yyjson_val *v, size_t max,
		    enum text_shape shape, char **out, char *err, size_t errlen)
{
	const char *s;
	size_t len;
	int ret;

	if (!yyjson_is_str(v)) {
		error_format(err, errlen, "%s: '%s' is not a string", name, key);
		return -EINVAL;
	}
	s = yyjson_get_str(v);
	len = yyjson_get_len(v);
	if (memchr(s, '\0', len)) {
		error_format(err, errlen, "%s: '%s' holds a NUL byte", name, key);
		return -EINVAL;
	}
	ret = check_text(name, key, s, len, max, shape, err, errlen);
	if (ret < 0)
		return ret;
	*out = strndup(s, len);
	return *out ? 0 : -ENOMEM;
}

/* Copy a short string value into a fixed array; the caller validates it. */
static int get_fixed(const char *name, const char *key, yyjson_val *v, char *out, size_t size,
		     char *err, size_t errlen)
{
	if (!yyjson_is_str(v) || yyjson_get_len(v) >= size ||
	    memchr(yyjson_get_str(v), '\0', yyjson_get_len(v))) {
		error_format(err, errlen, "%s: '%s' is not a string of at most %zu bytes", name, key,
			size - 1);
		return -EINVAL;
	}
	memcpy(out, yyjson_get_str(v), yyjson_get_len(v) + 1);
	return 0;
}

static int get_uint(const char *name, const char *key, yyjson_val *v, uint64_t *out, char *err,
		    size_t errlen)
{
	if (!yyjson_is_uint(v)) {
		error_format(err, errlen, "%s: '%s' is not a whole number", name, key);
		return -EINVAL;
	}
	*out = yyjson_get_uint(v);
	return 0;
}

static int get_bounds(const char *name, yyjson_val *v, struct queue_bounds *out, char *err,
		      size_t errlen)
{
	yyjson_obj_iter iter;
	yyjson_val *key;
	bool seen_expires = false, seen_max = false;
	int ret;

	if (!yyjson_is_obj(v)) {
		error_format(err, errlen, "%s: 'bounds' is not an object", name);
		return -EINVAL;
	}
	yyjson_obj_iter_init(v, &iter);
	while ((key = yyjson_obj_iter_next(&iter))) {
		const char *k = yyjson_get_str(key);
		bool *seen = strcmp(k, "expires_in") == 0	? &seen_expires
			     : strcmp(k, "max_requests") == 0 ? &seen_max
							       : NULL;

		if (!seen || *seen) {
			char shown[68];

			error_format(err, errlen, "%s: %s key 'bounds.%s'", name,
				seen ? "repeated" : "unknown", shown_key(k, shown));
			return -EINVAL;
		}
		*seen = true;
		ret = get_uint(name, k, yyjson_obj_iter_get_val(key),
			       seen == &seen_expires ? &out->expires_in : &out->max_requests, err,
			       errlen);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* A name ending in "<id>.json" (a path in the queue) must hold that id, so
 * a file cannot pass itself off as another proposal. */
static int check_id_matches_name(const char *name, const char *id, char *err, size_t errlen)
{
	const char *base = strrchr(name, '/');
	size_t len, id_len = strlen(id);

	base = base ? base + 1 : name;
	len = strlen(base);
	if (len < 5 || strcmp(base + len - 5, ".json") != 0)
		return 0;
	len -= 5;
	if (len > 9 && strncmp(base + len - 9, ".response", 9) == 0)
		len -= 9;
	else if (len > 10 && strncmp(base + len - 10, ".withdrawn", 10) == 0)
		len -= 10;
	if (len != id_len || strncmp(base, id, len) != 0) {
		error_format(err, errlen, "%s: holds id '%s', not the one its name gives", name, id);
		return -EINVAL;
	}
	return 0;
}

static yyjson_doc *read_object(const char *name, const char *text, size_t len, char *err,
			       size_t errlen)
{
	yyjson_read_err rerr;
	yyjson_doc *doc;

	if (len > QUEUE_FILE_MAX) {
		error_format(err, errlen, "%s: larger than %d bytes", name, QUEUE_FILE_MAX);
		return NULL;
	}
	/* yyjson reads from a const buffer unless told it may write in it. */
	doc = yyjson_read_opts((char *)text, len, 0, NULL, &rerr);
	if (!doc) {
		error_format(err, errlen, "%s: not JSON at byte %zu: %s", name, rerr.pos,
			rerr.msg ? rerr.msg : "unreadable");
		return NULL;
	}
	if (!yyjson_is_obj(yyjson_doc_get_root(doc))) {
		error_format(err, errlen, "%s: not a JSON object", name);
		yyjson_doc_free(doc);
		return NULL;
	}
	return doc;
}

int queue_proposal_parse(const char *name, const char *text, size_t len,
			 struct queue_proposal *out, char *err, size_t errlen)
{
	uint32_t seen = 0;
	yyjson_doc *doc;
	yyjson_val *root, *key, *v;
	yyjson_obj_iter iter;
	int ret = -EINVAL;
	size_t i;

	memset(out, 0, sizeof(*out));
	doc = read_object(name, text, len, err, errlen);
	if (!doc)
		return -EINVAL;
	root = yyjson_doc_get_root(doc);
	v = yyjson_obj_get(root, "kind");
	if (!yyjson_is_str(v) || queue_kind_parse(yyjson_get_str(v), &out->kind) < 0) {
		error_format(err, errlen, "%s: 'kind' is %s", name,
			v ? "not a known kind" : "missing");
		goto out;
	}
	yyjson_obj_iter_init(root, &iter);
	while ((key = yyjson_obj_iter_next(&iter))) {
		const char *k = yyjson_get_str(key);
		char shown[68];
		uint32_t bit;

		v = yyjson_obj_iter_get_val(key);
		for (i = 0; i < PROPOSAL_TEXT_COUNT; i++)
			if (strcmp(proposal_texts[i].key, k) == 0)
				break;
		if (i < PROPOSAL_TEXT_COUNT) {
			const struct text_field *f = &proposal_texts[i];

			bit = 1u << i;
			if (!(seen & bit) && !(f->allowed & KIND_BIT(out->kind))) {
				error_format(err, errlen, "%s: %s does not take '%s'", name,
					kind_names[out->kind], k);
				goto out;
			}
			if (!(seen & bit)) {
				seen |= bit;
				ret = get_text(name, k, v, f->max, f->shape, text_slot(out, f),
					       err, errlen);
				if (ret < 0)
					goto out;
				ret = -EINVAL;
				continue;
			}
		} else if (strcmp(k, "id") == 0) {
			bit = 1u << 20;
			if (!(seen & bit) &&
			    get_fixed(name, k, v, out->id, sizeof(out->id), err, errlen) < 0)
				goto out;
		} else if (strcmp(k, "kind") == 0) {
			bit = 1u << 21;
		} else if (strcmp(k, "created") == 0) {
			bit = 1u << 22;
			if (!(seen & bit) && get_fixed(name, k, v, out->created,
						       sizeof(out->created), err, errlen) < 0)
				goto out;
		} else if (strcmp(k, "bounds") == 0) {
			bit = 1u << 23;
			if (!(seen & bit) && get_bounds(name, v, &out->bounds, err, errlen) < 0)
				goto out;
		} else if (strcmp(k, "line") == 0) {
			bit = 1u << 24;
			if (!(seen & bit) && get_uint(name, k, v, &out->line, err, errlen) < 0)
				goto out;
		} else {
			error_format(err, errlen, "%s: unknown key '%s'", name, shown_key(k, shown));
			goto out;
		}
		if (seen & bit) {
			error_format(err, errlen, "%s: repeated key '%s'", name, shown_key(k, shown));
			goto out;
		}
		seen |= bit;
	}
	if (!(seen & (1u << 20)) || !queue_id_valid(out->id)) {
		error_format(err, errlen, "%s: 'id' is %s", name,
			seen & (1u << 20) ? "not a queue id" : "missing");
		goto out;
	}
	if (!(seen & (1u << 22)) || time_parse(out->created, &out->created_at) < 0) {
		error_format(err, errlen, "%s: 'created' is %s", name,
			seen & (1u << 22) ? "not a UTC time like 2026-11-29T19:47:00Z"
					  : "missing");
		goto out;
	}
	if (check_id_matches_name(name, out->id, err, errlen) < 0)
		goto out;
	ret = check_named(name, out, err, errlen);
out:
	yyjson_doc_free(doc);
	if (ret < 0)
		queue_proposal_release(out);
	return ret;
}

int queue_response_parse(const char *name, const char *text, size_t len,
			 struct queue_response *out, char *err, size_t errlen)
{
	static const char *const keys[] = { "id",     "verdict", "note",   "routes_yaml",
					    "bounds", "who",     "decided" };
	uint32_t seen = 0;
	yyjson_doc *doc;
	yyjson_val *root, *key, *v;
	yyjson_obj_iter iter;
	char verdict[16];
	time_t decided_at;
	int ret = -EINVAL;
	size_t i;

	memset(out, 0, sizeof(*out));
	doc = read_object(name, text, len, err, errlen);
	if (!doc)
		return -EINVAL;
	root = yyjson_doc_get_root(doc);
	yyjson_obj_iter_init(root, &iter);
	while ((key = yyjson_obj_iter_next(&iter))) {
		const char *k = yyjson_get_str(key);
		int r = 0;

		v = yyjson_obj_iter_get_val(key);
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strcmp(keys[i], k) == 0)
				break;
		if (i == sizeof(keys) / sizeof(keys[0]) || (seen & (1u << i))) {
			char shown[68];

			error_format(err, errlen, "%s: %s key '%s'", name,
				i == sizeof(keys) / sizeof(keys[0]) ? "unknown" : "repeated",
				shown_key(k, shown));
			goto out;
		}
		seen |= 1u << i;
		switch (i) {
		case 0: r = get_fixed(name, k, v, out->id, sizeof(out->id), err, errlen); break;
		case 1: r = get_fixed(name, k, v, verdict, sizeof(verdict), err, errlen); break;
		case 2:
			r = get_text(name, k, v, QUEUE_TEXT_MAX, MULTI_LINE, &out->note, err,
				     errlen);
			break;
		case 3:
			r = get_text(name, k, v, QUEUE_FILE_MAX / 2, MULTI_LINE, &out->routes_yaml,
				     err, errlen);
			break;
		case 4: r = get_bounds(name, v, &out->bounds, err, errlen); break;
		case 5: r = get_text(name, k, v, 64, ONE_LINE, &out->who, err, errlen); break;
		case 6:
			r = get_fixed(name, k, v, out->decided, sizeof(out->decided), err, errlen);
			break;
		}
		if (r < 0) {
			ret = r;
			goto out;
		}
	}
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!(seen & (1u << i)) && i != 2 && i != 3 && i != 4) {
			error_format(err, errlen, "%s: '%s' is missing", name, keys[i]);
			goto out;
		}
	if (!queue_id_valid(out->id)) {
		error_format(err, errlen, "%s: 'id' is not a queue id", name);
		goto out;
	}
	if (verdict_parse(verdict, &out->verdict) < 0) {
		error_format(err, errlen, "%s: 'verdict' is not approved, modified or rejected", name);
		goto out;
	}
	if ((out->verdict == QUEUE_MODIFIED) != (out->routes_yaml != NULL)) {
		error_format(err, errlen, "%s: 'routes_yaml' comes with a modified verdict and only then",
			name);
		goto out;
	}
	if (time_parse(out->decided, &decided_at) < 0) {
		error_format(err, errlen, "%s: 'decided' is not a UTC time like 2026-11-29T19:47:00Z",
			name);
		goto out;
	}
	ret = check_id_matches_name(name, out->id, err, errlen);
out:
	yyjson_doc_free(doc);
	if (ret < 0)
		queue_response_release(out);
	return ret;
}

/* ---- writing ---- */

static bool add_bounds(yyjson_mut_doc *doc, yyjson_mut_val *obj, const struct queue_bounds *b)
{
	yyjson_mut_val *bounds;

	if (!b->expires_in && !b->max_requests)
		return true;
	bounds = yyjson_mut_obj_add_obj(doc, obj, "bounds");
	if (!bounds)
		return false;
	if (b->expires_in && !yyjson_mut_obj_add_uint(doc, bounds, "expires_in", b->expires_in))
		return false;
	return !b->max_requests ||
	       yyjson_mut_obj_add_uint(doc, bounds, "max_requests", b->max_requests);
}

static int write_doc(yyjson_mut_doc *doc, bool ok, char **out, size_t *len)
{
	char *text = NULL, *line;
	size_t n = 0;

	if (ok)
		text = yyjson_mut_write(doc, YYJSON_WRITE_PRETTY_TWO_SPACES, &n);
	yyjson_mut_doc_free(doc);
	if (!text)
		return -ENOMEM;
	/* A newline at the end keeps the files friendly to cat and diff. */
	line = realloc(text, n + 2);
	if (!line) {
		free(text);
		return -ENOMEM;
	}
	line[n] = '\n';
	line[n + 1] = '\0';
	*out = line;
	*len = n + 1;
	return 0;
}

int queue_proposal_encode(const struct queue_proposal *p, char **out, size_t *len)
{
	yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *obj;
	bool ok;
	size_t i;

	if (!doc)
		return -ENOMEM;
	obj = yyjson_mut_obj(doc);
	yyjson_mut_doc_set_root(doc, obj);
	ok = obj && yyjson_mut_obj_add_strcpy(doc, obj, "id", p->id) &&
	     yyjson_mut_obj_add_str(doc, obj, "kind", queue_kind_name(p->kind)) &&
	     yyjson_mut_obj_add_strcpy(doc, obj, "created", p->created);
	for (i = 0; ok && i < PROPOSAL_TEXT_COUNT; i++) {
		const char *s = *text_slot((struct queue_proposal *)p, &proposal_texts[i]);

		if (s)
			ok = yyjson_mut_obj_add_strcpy(doc, obj, proposal_texts[i].key, s);
	}
	if (ok && p->line)
		ok = yyjson_mut_obj_add_uint(doc, obj, "line", p->line);
	ok = ok && add_bounds(doc, obj, &p->bounds);
	return write_doc(doc, ok, out, len);
}

int queue_response_encode(const struct queue_response *r, char **out, size_t *len)
{
	yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *obj;
	bool ok;

	if (!doc)
		return -ENOMEM;
	obj = yyjson_mut_obj(doc);
	yyjson_mut_doc_set_root(doc, obj);
	ok = obj && yyjson_mut_obj_add_strcpy(doc, obj, "id", r->id) &&
	     yyjson_mut_obj_add_str(doc, obj, "verdict", queue_verdict_name(r->verdict)) &&
	     yyjson_mut_obj_add_strcpy(doc, obj, "who", r->who ? r->who : "") &&
	     yyjson_mut_obj_add_strcpy(doc, obj, "decided", r->decided);
	if (ok && r->note)
		ok = yyjson_mut_obj_add_strcpy(doc, obj, "note", r->note);
	if (ok && r->routes_yaml)
		ok = yyjson_mut_obj_add_strcpy(doc, obj, "routes_yaml", r->routes_yaml);
	ok = ok && add_bounds(doc, obj, &r->bounds);
	return write_doc(doc, ok, out, len);
}

void queue_proposal_release(struct queue_proposal *p)
{
	size_t i;

	for (i = 0; i < PROPOSAL_TEXT_COUNT; i++) {
		char **slot = text_slot(p, &proposal_texts[i]);

		free(*slot);
		*slot = NULL;
	}
}

void queue_response_release(struct queue_response *r)
{
	free(r->note);
	free(r->routes_yaml);
	free(r->who);
	r->note = r->routes_yaml = r->who = NULL;
}

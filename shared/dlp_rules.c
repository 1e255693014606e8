/* The rules file (docs/dlp.md): gitleaks-style regex rules, every key
 * checked, every error at file:line:col; compiled with pcre2 JIT, their
 * keywords gathered into one Aho-Corasick prefilter. */
#include "dlp_internal.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config_yaml.h"

/* Work one regex may do on one window (pcre2 match-function calls or JIT
 * steps): a pathological rule fails closed instead of stalling a thread. */
#define DLP_MATCH_LIMIT 200000
#define DLP_MAX_RULES 1000
#define DLP_MAX_KEYWORDS 32 /* per rule */
#define DLP_MAX_ALLOW 32    /* per rule */
#define DLP_RULE_MAX_LEN_DEFAULT 256
#define DLP_RULE_MAX_LEN_CAP 4096

/* The file of defaults, built into the binary (shared/dlp_default_rules.c). */
extern const char dlp_default_rules_start[], dlp_default_rules_end[];

static const char *const top_keys[] = { "rules", NULL };
static const char *const rule_keys[] = {
	"id", "description", "regex", "keywords", "secret_group", "entropy", "max_len",
	"warn_only", "allowlist", NULL
};

static void rule_release(struct dlp_rule *r)
{
	size_t i;

	free(r->id);
	free(r->description);
	if (r->re)
		pcre2_code_free(r->re);
	for (i = 0; i < r->nallow; i++)
		pcre2_code_free(r->allow[i]);
	free(r->allow);
	free(r->allow_jit);
	for (i = 0; i < r->nkeywords; i++)
		free(r->keywords[i]);
	free(r->keywords);
}

void dlp_rules_release(struct dlp_engine *e)
{
	size_t i;

	for (i = 0; i < e->nrules; i++)
		rule_release(&e->rules[i]);
	free(e->rules);
	e->rules = NULL;
	e->nrules = 0;
	free(e->keyword_rule);
	free(e->keyword_len);
	dlp_ac_release(&e->keyword_ac);
	if (e->match_context)
		pcre2_match_context_free(e->match_context);
	e->match_context = NULL;
}

size_t dlp_engine_rule_count(const struct dlp_engine *e)
{
	return e->nrules;
}

/* Up to 40 bytes of a value for a message, control and non-ASCII bytes
 * shown as '?' so a file cannot forge a log line. */
static const char *printable(const char *s, char out[44])
{
	size_t i;

	for (i = 0; s[i] && i < 40; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
	return out;
}

static int compile(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		   const char *source, void **out, bool *jit)
{
	PCRE2_UCHAR message[160];
	PCRE2_SIZE offset;
	pcre2_code *re;
	int code;

	/* Bytes, not UTF-8: bodies are scanned byte-exact, binary or not. */
	re = pcre2_compile((PCRE2_SPTR)source, PCRE2_ZERO_TERMINATED, 0, &code, &offset, NULL);
	if (!re) {
		pcre2_get_error_message(code, message, sizeof(message));
		return config_yaml_error(cy, node, "%s: invalid regex at offset %zu: %s", what,
					 (size_t)offset, (const char *)message);
	}
	*jit = pcre2_jit_compile(re, PCRE2_JIT_COMPLETE) == 0;
	*out = re;
	return 0;
}

static int parse_entropy(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 double *out)
{
	const char *s;
	char *end, shown[44];
	int ret = config_yaml_string(cy, node, what, &s);

	if (ret < 0)
		return ret;
	*out = strtod(s, &end);
	if (end == s || *end || !isfinite(*out) || *out < 0 || *out > 8)
		return config_yaml_error(cy, node, "%s: '%s' is not a number of bits from 0 to 8",
					 what, printable(s, shown));
	return 0;
}

static bool valid_id(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return i > 0 && i < 40;
}

static int out_of_memory(struct config_yaml *cy)
{
	config_yaml_error(cy, NULL, "out of memory");
	return -ENOMEM;
}

static int copy(struct config_yaml *cy, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : out_of_memory(cy);
}

static int parse_keywords(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			  struct dlp_rule *r)
{
	char item_what[128];
	const char *s;
	size_t i, j, n;
	int ret = config_yaml_expect_sequence(cy, node, what);

	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n > DLP_MAX_KEYWORDS)
		return config_yaml_error(cy, node, "%s: more than %d keywords", what,
					 DLP_MAX_KEYWORDS);
	r->keywords = calloc(n ? n : 1, sizeof(*r->keywords));
	if (!r->keywords)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		const yaml_node_t *item = config_yaml_item(cy, node, i);

		snprintf(item_what, sizeof(item_what), "%s[%zu]", what, i);
		if ((ret = config_yaml_nonempty_string(cy, item, item_what, &s)) < 0)
			return ret;
		if (strlen(s) > 64)
			return config_yaml_error(cy, item, "%s: longer than 64 bytes", item_what);
		if ((ret = copy(cy, s, &r->keywords[r->nkeywords])) < 0)
			return ret;
		/* Keywords match case-insensitively. */
		for (j = 0; r->keywords[r->nkeywords][j]; j++)
			if (s[j] >= 'A' && s[j] <= 'Z')
				r->keywords[r->nkeywords][j] = (char)(s[j] + 32);
		r->nkeywords++;
	}
	r->has_keywords = r->nkeywords > 0;
	return 0;
}

static int parse_allowlist(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			   struct dlp_rule *r)
{
	char item_what[128];
	const char *s;
	size_t i, n;
	int ret = config_yaml_expect_sequence(cy, node, what);

	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n > DLP_MAX_ALLOW)
		return config_yaml_error(cy, node, "%s: more than %d regexes", what, DLP_MAX_ALLOW);
	r->allow = calloc(n ? n : 1, sizeof(*r->allow));
	r->allow_jit = calloc(n ? n : 1, sizeof(*r->allow_jit));
	if (!r->allow || !r->allow_jit)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		const yaml_node_t *item = config_yaml_item(cy, node, i);

		snprintf(item_what, sizeof(item_what), "%s[%zu]", what, i);
		if ((ret = config_yaml_nonempty_string(cy, item, item_what, &s)) < 0)
			return ret;
		ret = compile(cy, item, item_what, s, &r->allow[r->nallow], &r->allow_jit[i]);
		if (ret < 0)
			return ret;
		r->nallow++;
	}
	return 0;
}

static int parse_rule(struct config_yaml *cy, struct dlp_engine *e, const yaml_node_t *node,
		      size_t index, struct dlp_rule *r)
{
	char what[96], shown[44];
	const yaml_node_t *v;
	const char *s;
	long long n;
	uint32_t captures = 0;
	size_t i;
	int ret;

	snprintf(what, sizeof(what), "rules[%zu]", index);
	if ((ret = config_yaml_expect_mapping(cy, node, what)) < 0 ||
	    (ret = config_yaml_check_keys(cy, node, what, rule_keys)) < 0 ||
	    (ret = config_yaml_require_key(cy, node, what, "id")) < 0 ||
	    (ret = config_yaml_require_key(cy, node, what, "regex")) < 0)
		return ret;
	r->max_len = DLP_RULE_MAX_LEN_DEFAULT;

	v = config_yaml_get(cy, node, "id");
	snprintf(what, sizeof(what), "rules[%zu].id", index);
	if ((ret = config_yaml_nonempty_string(cy, v, what, &s)) < 0)
		return ret;
	if (!valid_id(s))
		return config_yaml_error(cy, v,
					 "%s: '%s' is not an id (1 to 39 of a-z, 0-9, '-', '_', '.')",
					 what, printable(s, shown));
	for (i = 0; i < e->nrules; i++)
		if (strcmp(e->rules[i].id, s) == 0)
			return config_yaml_error(cy, v, "%s: '%s' is defined twice", what, s);
	if ((ret = copy(cy, s, &r->id)) < 0)
		return ret;

	if ((v = config_yaml_get(cy, node, "description"))) {
		snprintf(what, sizeof(what), "%s.description", r->id);
		if ((ret = config_yaml_string(cy, v, what, &s)) < 0 ||
		    (ret = copy(cy, s, &r->description)) < 0)
			return ret;
	}

	v = config_yaml_get(cy, node, "regex");
	snprintf(what, sizeof(what), "%s.regex", r->id);
	if ((ret = config_yaml_nonempty_string(cy, v, what, &s)) < 0 ||
	    (ret = compile(cy, v, what, s, &r->re, &r->jit)) < 0)
		return ret;
	pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &captures);
	r->group = captures > 0 ? 1 : 0;

	if ((v = config_yaml_get(cy, node, "secret_group"))) {
		snprintf(what, sizeof(what), "%s.secret_group", r->id);
		if ((ret = config_yaml_integer(cy, v, what, 0, captures, &n)) < 0)
			return ret;
		r->group = (uint32_t)n;
	}
	if ((v = config_yaml_get(cy, node, "keywords"))) {
		snprintf(what, sizeof(what), "%s.keywords", r->id);
		if ((ret = parse_keywords(cy, v, what, r)) < 0)
			return ret;
	}
	if ((v = config_yaml_get(cy, node, "entropy"))) {
		snprintf(what, sizeof(what), "%s.entropy", r->id);
		if ((ret = parse_entropy(cy, v, what, &r->entropy)) < 0)
			return ret;
	}
	if ((v = config_yaml_get(cy, node, "max_len"))) {
		snprintf(what, sizeof(what), "%s.max_len", r->id);
		if ((ret = config_yaml_integer(cy, v, what, 8, DLP_RULE_MAX_LEN_CAP, &n)) < 0)
			return ret;
		r->max_len = (size_t)n;
	}
	if ((v = config_yaml_get(cy, node, "warn_only"))) {
		snprintf(what, sizeof(what), "%s.warn_only", r->id);
		if ((ret = config_yaml_boolean(cy, v, what, &r->warn_only)) < 0)
			return ret;
	}
	if ((v = config_yaml_get(cy, node, "allowlist"))) {
		snprintf(what, sizeof(what), "%s.allowlist", r->id);
		if ((ret = parse_allowlist(cy, v, what, r)) < 0)
			return ret;
	}
	return 0;
}

static int load(struct dlp_engine *e, struct config_yaml *cy, int ret, char *err,
		size_t err_len)
{
	const yaml_node_t *root, *rules;
	struct dlp_rule *v;
	size_t i, n, first = e->nrules;

	if (ret < 0)
		goto out;
	ret = -EINVAL;
	if (e->built) {
		config_yaml_error(cy, NULL, "rules loaded after the engine was built");
		goto out;
	}
	root = config_yaml_root(cy);
	if ((ret = config_yaml_expect_mapping(cy, root, "rules file")) < 0 ||
	    (ret = config_yaml_check_keys(cy, root, "rules file", top_keys)) < 0 ||
	    (ret = config_yaml_require_key(cy, root, "rules file", "rules")) < 0)
		goto out;
	rules = config_yaml_get(cy, root, "rules");
	if ((ret = config_yaml_expect_sequence(cy, rules, "rules")) < 0)
		goto out;
	n = config_yaml_length(rules);
	if (e->nrules + n > DLP_MAX_RULES) {
		ret = config_yaml_error(cy, rules, "rules: more than %d rules", DLP_MAX_RULES);
		goto out;
	}
	ret = -ENOMEM;
	v = realloc(e->rules, (e->nrules + n + 1) * sizeof(*v));
	if (!v) {
		out_of_memory(cy);
		goto out;
	}
	e->rules = v;
	for (i = 0; i < n; i++) {
		struct dlp_rule *r = &e->rules[e->nrules];

		memset(r, 0, sizeof(*r));
		ret = parse_rule(cy, e, config_yaml_item(cy, rules, i), i, r);
		if (ret < 0) {
			rule_release(r);
			goto out;
		}
		e->nrules++;
	}
	ret = 0;
out:
	if (ret < 0) {
		/* All of a file or none of it. */
		while (e->nrules > first)
			rule_release(&e->rules[--e->nrules]);
	}
	if (err && err_len)
		snprintf(err, err_len, "%s", ret < 0 ? config_yaml_message(cy) : "");
	config_yaml_release(cy);
	return ret;
}

int dlp_engine_load_rules_file(struct dlp_engine *e, const char *path, char *err,
			       size_t err_len)
{
	struct config_yaml cy;

	config_yaml_init(&cy);
	return load(e, &cy, config_yaml_load_file(&cy, path), err, err_len);
}

int dlp_engine_load_rules_string(struct dlp_engine *e, const char *name, const char *text,
				 size_t len, char *err, size_t err_len)
{
	struct config_yaml cy;

	config_yaml_init(&cy);
	if (len > CONFIG_YAML_MAX_FILE) {
		if (err && err_len)
			snprintf(err, err_len, "%s: larger than 1 MiB", name);
		return -EMSGSIZE;
	}
	return load(e, &cy, config_yaml_load_string(&cy, name, text ? text : "", len), err,
		    err_len);
}

int dlp_engine_load_default_rules(struct dlp_engine *e, char *err, size_t err_len)
{
	return dlp_engine_load_rules_string(e, "dlp_default_rules.yaml", dlp_default_rules_start,
					    (size_t)(dlp_default_rules_end - dlp_default_rules_start),
					    err, err_len);
}

/* The keyword prefilter: one automaton over every rule's keywords. */
int dlp_rules_build(struct dlp_engine *e, char *err, size_t err_len)
{
	char alphabet[256];
	bool seen[256] = { false };
	size_t i, j, k, n = 0, total = 0;
	int ret = -ENOMEM;

	e->match_context = pcre2_match_context_create(NULL);
	if (!e->match_context)
		goto out;
	pcre2_set_match_limit(e->match_context, DLP_MATCH_LIMIT);
	pcre2_set_depth_limit(e->match_context, DLP_MATCH_LIMIT / 10);
	for (i = 0; i < e->nrules; i++) {
		if (e->rules[i].max_len > e->max_rule_len)
			e->max_rule_len = e->rules[i].max_len;
		for (j = 0; j < e->rules[i].nkeywords; j++, total++)
			for (k = 0; e->rules[i].keywords[j][k]; k++) {
				unsigned char c = (unsigned char)e->rules[i].keywords[j][k];

				if (!seen[c] && n + 1 < sizeof(alphabet)) {
					seen[c] = true;
					alphabet[n++] = (char)c;
				}
			}
	}
	alphabet[n] = '\0';
	dlp_ac_init(&e->keyword_ac, alphabet, true);
	e->keyword_rule = calloc(total ? total : 1, sizeof(*e->keyword_rule));
	e->keyword_len = calloc(total ? total : 1, sizeof(*e->keyword_len));
	if (!e->keyword_rule || !e->keyword_len)
		goto out;
	for (i = 0; i < e->nrules; i++)
		for (j = 0; j < e->rules[i].nkeywords; j++) {
			const char *kw = e->rules[i].keywords[j];

			e->keyword_rule[e->nkeywords] = (uint32_t)i;
			e->keyword_len[e->nkeywords] = (uint16_t)strlen(kw);
			ret = dlp_ac_add(&e->keyword_ac, kw, strlen(kw), (uint32_t)e->nkeywords);
			if (ret < 0)
				goto out;
			e->nkeywords++;
		}
	ret = dlp_ac_build(&e->keyword_ac);
out:
	if (ret < 0 && err && err_len)
		snprintf(err, err_len, "dlp: unable to build the rule keywords: %s",
			 ret == -ENOMEM ? "out of memory" : "too many");
	return ret;
}

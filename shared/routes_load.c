/* routes.yaml into struct routes (docs/routes.md): every value checked,
 * every error at file:line:col.  Also the table's lifetime (ref/unref). */
#include "routes.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "config_yaml.h"
#include "queue.h"

/* Bounds the work one path_regex may do on one request path (pcre2 counts
 * calls of its internal match function, or JIT steps): a pathological
 * pattern fails closed instead of stalling a proxy thread. */
#define ROUTES_MATCH_LIMIT 100000

/* A budget for the whole table, checked before anything is compiled: YAML
 * aliases let a small file name one big list many times, and a proposal
 * from the agent is loaded with this code too. */
#define ROUTES_MAX_ITEMS 20000 /* routes, ports, matches, methods, headers, addresses */
#define ROUTES_MAX_REGEXES 1000

/* Longest piece of a value quoted in a message. */
#define ROUTES_QUOTE_MAX 60

static const char *const top_keys[] = { "log", "routes", NULL };
static const char *const route_keys[] = {
	"host", "ports", "outbound_on_match", "auth", "matches", "tls_passthrough",
	"websocket", "addresses", "grant", NULL
};
/* state and requests_used are egress's view of the grant (routes_json.c):
 * accepted and ignored, so what list-egress-routes shows loads as it is. */
static const char *const grant_keys[] = {
	"id", "expires_at", "max_requests", "state", "requests_used", NULL
};
/* queue_bounds' own limit on max_requests. */
#define ROUTES_GRANT_MAX_REQUESTS 1000000000LL
static const char *const auth_keys[] = { "header", "scheme", "env", NULL };
static const char *const match_keys[] = {
	"path", "path_prefix", "path_regex", "methods", "headers", NULL
};

/* Fields egress must own to frame and route a request: a credential put
 * there would corrupt the request rather than authenticate it. */
static const char *const auth_header_refused[] = {
	"host", "content-length", "transfer-encoding", "connection", "upgrade", "te",
	"trailer", "keep-alive", "proxy-connection", "proxy-authorization", "expect", NULL
};

const char *routes_log_name(enum routes_log log)
{
	switch (log) {
	case ROUTES_LOG_OFF:
		return "off";
	case ROUTES_LOG_BLOCKS:
		return "blocks";
	case ROUTES_LOG_ALL:
		return "all";
	}
	return "?";
}

const char *route_grant_state_name(enum route_grant_state state)
{
	switch (state) {
	case ROUTE_GRANT_ACTIVE:
		return "active";
	case ROUTE_GRANT_EXPIRED:
		return "ended: expired";
	case ROUTE_GRANT_USED_UP:
		return "ended: max_requests used";
	case ROUTE_GRANT_UNUSABLE:
		return "unusable: egress cannot count it";
	}
	return "?";
}

const char *route_outbound_name(enum route_outbound o)
{
	switch (o) {
	case ROUTE_OUTBOUND_SUPERVISE:
		return "supervise";
	case ROUTE_OUTBOUND_REDACT:
		return "redact";
	case ROUTE_OUTBOUND_BLOCK:
		return "block";
	}
	return "?";
}

/* ---- lifetime ---- */

static void strv_free(char **v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

static void route_match_release(struct route_match *m)
{
	size_t i;

	free(m->path);
	if (m->path_regex)
		pcre2_code_free(m->path_regex);
	strv_free(m->methods);
	for (i = 0; i < m->nheaders; i++) {
		free(m->headers[i].name);
		free(m->headers[i].value);
	}
	free(m->headers);
}

static void route_release(struct route *route)
{
	size_t i;

	free(route->host);
	free(route->ports);
	for (i = 0; i < route->nmatches; i++)
		route_match_release(&route->matches[i]);
	free(route->matches);
	if (route->auth) {
		free(route->auth->header);
		free(route->auth->scheme);
		free(route->auth->env);
		free(route->auth);
	}
	free(route->addresses);
	free(route->grant);
}

static void routes_free(struct routes *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		route_release(&r->v[i]);
	free(r->v);
	free(r->source);
	if (r->match_context)
		pcre2_match_context_free(r->match_context);
	free(r);
}

struct routes *routes_ref(struct routes *r)
{
	if (r)
		__atomic_add_fetch(&r->refcount, 1, __ATOMIC_RELAXED);
	return r;
}

void routes_unref(struct routes *r)
{
	/* Release ordering so every reader's accesses happen before the free;
	 * acquire on the last one so the free sees them. */
	if (r && __atomic_sub_fetch(&r->refcount, 1, __ATOMIC_ACQ_REL) == 0)
		routes_free(r);
}

/* ---- loading ---- */

/* A value for a message: shortened, with control and non-ASCII bytes
 * replaced so a hostile file cannot forge log lines. */
static const char *quote(const char *s, char *out, size_t size)
{
	size_t i, n = 0;

	for (i = 0; s[i] && n + 4 < size && i < ROUTES_QUOTE_MAX; i++) {
		unsigned char c = (unsigned char)s[i];

		out[n++] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	if (s[i] && n + 4 < size) {
		memcpy(out + n, "...", 3);
		n += 3;
	}
	out[n] = '\0';
	return out;
}

static int out_of_memory(struct config_yaml *cy)
{
	config_yaml_error(cy, NULL, "out of memory");
	return -ENOMEM;
}

static int copy_string(struct config_yaml *cy, const char *s, char **out)
{
	*out = strdup(s);
	return *out ? 0 : out_of_memory(cy);
}

/* The key node of `key` in `mapping` (for errors about the key itself). */
static yaml_node_t *key_node(struct config_yaml *cy, const yaml_node_t *mapping,
			     const char *key)
{
	yaml_node_t *k, *v;
	size_t i, n = config_yaml_length(mapping);

	for (i = 0; i < n; i++)
		if (config_yaml_pair(cy, mapping, i, &k, &v) == 0 && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return k;
	return NULL;
}

static bool valid_env_name(const char *s)
{
	size_t i;

	if (!((s[0] >= 'A' && s[0] <= 'Z') || (s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (i = 1; s[i]; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

static bool is_token(const char *s)
{
	return http1_is_token(str_from_cstr(s));
}

static void lower_in_place(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static int parse_log(struct config_yaml *cy, const yaml_node_t *node, enum routes_log *out)
{
	char quoted[ROUTES_QUOTE_MAX + 8];
	const char *s;
	int ret;

	ret = config_yaml_string(cy, node, "log", &s);
	if (ret < 0)
		return ret;
	if (strcmp(s, "off") == 0)
		*out = ROUTES_LOG_OFF;
	else if (strcmp(s, "blocks") == 0)
		*out = ROUTES_LOG_BLOCKS;
	else if (strcmp(s, "all") == 0)
		*out = ROUTES_LOG_ALL;
	else
		return config_yaml_error(cy, node, "log: '%s' is not one of off, blocks, all",
					 quote(s, quoted, sizeof(quoted)));
	return 0;
}

static int parse_host(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct route *route)
{
	char quoted[ROUTES_QUOTE_MAX + 8], bracketed[INET6_ADDRSTRLEN + 3];
	struct http1_authority a;
	const char *s, *name;
	struct str text;
	size_t colons = 0, i;
	int ret;

	ret = config_yaml_nonempty_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	quote(s, quoted, sizeof(quoted));
	route->wildcard = s[0] == '*' && s[1] == '.';
	name = route->wildcard ? s + 2 : s;
	if (strchr(name, '*'))
		return config_yaml_error(cy, node,
					 "%s: '%s': a wildcard is allowed only as a leading '*.' "
					 "(as in *.example.com)",
					 what, quoted);
	for (i = 0; name[i]; i++)
		colons += name[i] == ':';
	text = str_from_cstr(name);
	/* A bare IPv6 literal ("::1") is easier to write in YAML than "[::1]";
	 * one colon is a host:port. */
	if (name[0] != '[' && colons >= 2) {
		if (text.len + 2 >= sizeof(bracketed))
			return config_yaml_error(cy, node, "%s: '%s' is not a valid IPv6 address",
						 what, quoted);
		snprintf(bracketed, sizeof(bracketed), "[%s]", name);
		text = str_from_cstr(bracketed);
	}
	ret = http1_authority_parse(text, &a);
	if (ret == 0 && a.has_port)
		ret = HTTP1_EPORT;
	if (ret == HTTP1_EPORT)
		return config_yaml_error(cy, node,
					 "%s: '%s' names a port: list ports under 'ports', "
					 "not in the host",
					 what, quoted);
	if (ret < 0)
		return config_yaml_error(cy, node,
					 "%s: '%s' is not a valid host name or IP literal (letters, "
					 "digits, '-', '_' and dots, no trailing dot; IPv4 as a "
					 "dotted quad)",
					 what, quoted);
	if (route->wildcard && a.kind != HTTP1_HOST_NAME)
		return config_yaml_error(cy, node,
					 "%s: '%s': a wildcard needs a domain name after '*.'", what,
					 quoted);
	route->host_kind = a.kind;
	route->host = strndup(a.host.p, a.host.len);
	if (!route->host)
		return out_of_memory(cy);
	lower_in_place(route->host);
	return 0;
}

static int parse_ports(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       struct route *route)
{
	uint8_t seen[65536 / 8] = { 0 };
	char item_what[96];
	long long v;
	size_t i, n;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n == 0)
		return config_yaml_error(cy, node,
					 "%s: empty list; omit the key for the default (80 and 443)",
					 what);
	route->ports = calloc(n, sizeof(*route->ports));
	if (!route->ports)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = config_yaml_item(cy, node, i);

		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		ret = config_yaml_integer(cy, item, item_what, 1, 65535, &v);
		if (ret < 0)
			return ret;
		if (seen[v / 8] & (1u << (v % 8)))
			return config_yaml_error(cy, item, "%s: port %lld listed twice",
						 item_what, v);
		seen[v / 8] |= (uint8_t)(1u << (v % 8));
		route->ports[i] = (uint16_t)v;
		route->nports = i + 1;
	}
	return 0;
}

static int parse_outbound(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			  struct route *route)
{
	char quoted[ROUTES_QUOTE_MAX + 8];
	const char *s;
	int ret;

	ret = config_yaml_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	if (strcmp(s, "supervise") == 0)
		route->outbound_on_match = ROUTE_OUTBOUND_SUPERVISE;
	else if (strcmp(s, "redact") == 0)
		route->outbound_on_match = ROUTE_OUTBOUND_REDACT;
	else if (strcmp(s, "block") == 0)
		route->outbound_on_match = ROUTE_OUTBOUND_BLOCK;
	else
		return config_yaml_error(cy, node, "%s: '%s' is not one of supervise, redact, block",
					 what, quote(s, quoted, sizeof(quoted)));
	route->outbound_set = true;
	return 0;
}

static int parse_auth(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      struct route *route)
{
	char key_what[96], quoted[ROUTES_QUOTE_MAX + 8];
	struct route_auth *auth;
	yaml_node_t *v;
	const char *s;
	size_t i;
	int ret;

	ret = config_yaml_check_keys(cy, node, what, auth_keys);
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, node, what, "header");
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, node, what, "env");
	if (ret < 0)
		return ret;
	auth = calloc(1, sizeof(*auth));
	if (!auth)
		return out_of_memory(cy);
	route->auth = auth;

	v = config_yaml_get(cy, node, "header");
	config_yaml_describe(key_what, sizeof(key_what), "%s.header", what);
	ret = config_yaml_nonempty_string(cy, v, key_what, &s);
	if (ret < 0)
		return ret;
	if (!is_token(s))
		return config_yaml_error(cy, v, "%s: '%s' is not a valid header field name",
					 key_what, quote(s, quoted, sizeof(quoted)));
	for (i = 0; auth_header_refused[i]; i++)
		if (http1_str_ieq_cstr(str_from_cstr(s), auth_header_refused[i]))
			return config_yaml_error(cy, v,
						 "%s: '%s' cannot carry a credential: egress owns "
						 "it to frame or route the request",
						 key_what, s);
	ret = copy_string(cy, s, &auth->header);
	if (ret < 0)
		return ret;

	v = config_yaml_get(cy, node, "scheme");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.scheme", what);
		ret = config_yaml_nonempty_string(cy, v, key_what, &s);
		if (ret < 0)
			return ret;
		if (!is_token(s))
			return config_yaml_error(cy, v,
						 "%s: '%s' is not a valid scheme (one token, "
						 "such as Bearer)",
						 key_what, quote(s, quoted, sizeof(quoted)));
		ret = copy_string(cy, s, &auth->scheme);
		if (ret < 0)
			return ret;
	}

	v = config_yaml_get(cy, node, "env");
	config_yaml_describe(key_what, sizeof(key_what), "%s.env", what);
	ret = config_yaml_nonempty_string(cy, v, key_what, &s);
	if (ret < 0)
		return ret;
	if (!valid_env_name(s))
		return config_yaml_error(cy, v,
					 "%s: '%s' is not a variable name ([A-Za-z_][A-Za-z0-9_]*)",
					 key_what, quote(s, quoted, sizeof(quoted)));
	return copy_string(cy, s, &auth->env);
}

/* Bytes a request path can hold as received: visible ASCII.  '?' starts
 * the query and '#' a fragment, so a path holding them never matches. */
static int check_path(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		      const char *s)
{
	char quoted[ROUTES_QUOTE_MAX + 8];
	size_t i;

	if (s[0] != '/')
		return config_yaml_error(cy, node, "%s: '%s' must start with '/'", what,
					 quote(s, quoted, sizeof(quoted)));
	for (i = 0; s[i]; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c >= 0x7f || c == '?' || c == '#')
			return config_yaml_error(cy, node,
						 "%s: '%s' holds '%s' at offset %zu, which a request "
						 "path never does (the query is not part of the path; "
						 "write other bytes percent-encoded)",
						 what, quote(s, quoted, sizeof(quoted)),
						 c == '?' ? "?" : c == '#' ? "#" : "a space, control or non-ASCII byte",
						 i);
	}
	return 0;
}

static int compile_regex(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 const char *s, struct route_match *m)
{
	PCRE2_UCHAR message[256];
	PCRE2_SIZE offset;
	pcre2_code *code;
	int code_err;

	code = pcre2_compile((PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, &code_err, &offset, NULL);
	if (!code) {
		if (pcre2_get_error_message(code_err, message, sizeof(message)) < 0)
			snprintf((char *)message, sizeof(message), "error %d", code_err);
		return config_yaml_error(cy, node, "%s: %s at offset %zu of the pattern", what,
					 (const char *)message, (size_t)offset);
	}
	m->path_regex = code;
	/* Without JIT (no support, or no executable memory) pcre2_match
	 * interprets the same code. */
	m->path_jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
	return 0;
}

static int parse_methods(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct route_match *m)
{
	char item_what[128], quoted[ROUTES_QUOTE_MAX + 8];
	const char *s;
	size_t i, j, n;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n == 0)
		return config_yaml_error(cy, node,
					 "%s: empty list would allow no request; omit the key to "
					 "allow any method",
					 what);
	m->methods = calloc(n + 1, sizeof(*m->methods));
	if (!m->methods)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		yaml_node_t *item = config_yaml_item(cy, node, i);

		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		ret = config_yaml_nonempty_string(cy, item, item_what, &s);
		if (ret < 0)
			return ret;
		if (!is_token(s))
			return config_yaml_error(cy, item, "%s: '%s' is not a method name (a token)",
						 item_what, quote(s, quoted, sizeof(quoted)));
		for (j = 0; s[j]; j++)
			if (s[j] >= 'a' && s[j] <= 'z')
				return config_yaml_error(cy, item,
							 "%s: '%s' must be upper case (methods are "
							 "case-sensitive)",
							 item_what, quote(s, quoted, sizeof(quoted)));
		ret = copy_string(cy, s, &m->methods[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_headers(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct route_match *m)
{
	char pair_what[128], quoted[ROUTES_QUOTE_MAX + 8];
	yaml_node_t *key, *value;
	const char *k, *v;
	size_t i, j, n, len;
	int ret;

	ret = config_yaml_expect_mapping(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n == 0)
		return 0;
	m->headers = calloc(n, sizeof(*m->headers));
	if (!m->headers)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		if (config_yaml_pair(cy, node, i, &key, &value) < 0)
			return config_yaml_error(cy, node, "%s: malformed mapping", what);
		ret = config_yaml_nonempty_string(cy, key, what, &k);
		if (ret < 0)
			return ret;
		quote(k, quoted, sizeof(quoted));
		if (!is_token(k))
			return config_yaml_error(cy, key, "%s: '%s' is not a valid header field name",
						 what, quoted);
		for (j = 0; j < i; j++)
			if (http1_str_ieq_cstr(str_from_cstr(k), m->headers[j].name))
				return config_yaml_error(cy, key,
							 "%s: header '%s' given twice (names are "
							 "case-insensitive)",
							 what, quoted);
		config_yaml_describe(pair_what, sizeof(pair_what), "%s.%s", what, quoted);
		ret = config_yaml_string(cy, value, pair_what, &v);
		if (ret < 0)
			return ret;
		/* The value is not a secret, but it is not ours to echo either:
		 * messages name the header only. */
		len = strlen(v);
		for (j = 0; j < len; j++) {
			unsigned char c = (unsigned char)v[j];

			if ((c < 0x20 && c != '\t') || c == 0x7f)
				return config_yaml_error(cy, value,
							 "%s: the value holds a control byte at "
							 "offset %zu, so it can never match",
							 pair_what, j);
		}
		if (len && (v[0] == ' ' || v[0] == '\t' || v[len - 1] == ' ' || v[len - 1] == '\t'))
			return config_yaml_error(cy, value,
						 "%s: the value starts or ends with whitespace, "
						 "which a received field never does",
						 pair_what);
		ret = copy_string(cy, k, &m->headers[i].name);
		if (ret < 0)
			return ret;
		m->nheaders = i + 1;
		ret = copy_string(cy, v, &m->headers[i].value);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_match(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       struct route_match *m)
{
	static const char *const path_keys[] = { "path", "path_prefix", "path_regex" };
	static const enum route_path_kind path_kinds[] = { ROUTE_PATH_EXACT, ROUTE_PATH_PREFIX,
							   ROUTE_PATH_REGEX };
	char key_what[128];
	yaml_node_t *v, *first = NULL;
	const char *s;
	size_t i;
	int ret;

	m->line = (unsigned)config_yaml_line(node);
	ret = config_yaml_check_keys(cy, node, what, match_keys);
	if (ret < 0)
		return ret;
	for (i = 0; i < 3; i++) {
		v = config_yaml_get(cy, node, path_keys[i]);
		if (!v)
			continue;
		config_yaml_describe(key_what, sizeof(key_what), "%s.%s", what, path_keys[i]);
		if (first)
			return config_yaml_error(cy, key_node(cy, node, path_keys[i]),
						 "%s: give at most one of path, path_prefix, "
						 "path_regex in one entry (another is at line %lu)",
						 key_what, config_yaml_line(first));
		first = v;
		ret = config_yaml_nonempty_string(cy, v, key_what, &s);
		if (ret < 0)
			return ret;
		if (path_kinds[i] == ROUTE_PATH_REGEX)
			ret = compile_regex(cy, v, key_what, s, m);
		else
			ret = check_path(cy, v, key_what, s);
		if (ret < 0)
			return ret;
		m->path_kind = path_kinds[i];
		ret = copy_string(cy, s, &m->path);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "methods");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.methods", what);
		ret = parse_methods(cy, v, key_what, m);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "headers");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.headers", what);
		ret = parse_headers(cy, v, key_what, m);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int parse_matches(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct route *route)
{
	char item_what[96];
	size_t i, n;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n == 0)
		return config_yaml_error(cy, node,
					 "%s: empty list would read as 'any request'; omit the key "
					 "for that, or list the requests to allow",
					 what);
	route->matches = calloc(n, sizeof(*route->matches));
	if (!route->matches)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		route->nmatches = i + 1;
		ret = parse_match(cy, config_yaml_item(cy, node, i), item_what,
				  &route->matches[i]);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Decimal 0..max, digits only. */
static int parse_prefix_len(const char *s, unsigned max, uint8_t *out)
{
	unsigned v = 0;
	size_t i;

	if (!s[0] || (s[0] == '0' && s[1]))
		return -EINVAL;
	for (i = 0; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
		if (v > max)
			return -ERANGE;
	}
	*out = (uint8_t)v;
	return 0;
}

static int parse_address(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			 struct route_address *a)
{
	char text[INET6_ADDRSTRLEN + 8], quoted[ROUTES_QUOTE_MAX + 8];
	const char *s, *addr;
	size_t len, nbytes, i;
	unsigned max;
	char *slash;
	int ret;

	ret = config_yaml_nonempty_string(cy, node, what, &s);
	if (ret < 0)
		return ret;
	quote(s, quoted, sizeof(quoted));
	len = strlen(s);
	if (len >= sizeof(text))
		return config_yaml_error(cy, node, "%s: '%s' is not an IP address or network",
					 what, quoted);
	memcpy(text, s, len + 1);
	slash = strchr(text, '/');
	if (slash)
		*slash = '\0';
	addr = text;
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, addr, a->bytes) == 1) {
		a->family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, a->bytes) == 1) {
		a->family = AF_INET6;
		max = 128;
	} else {
		return config_yaml_error(cy, node,
					 "%s: '%s' is not an IP address or network (such as "
					 "10.0.0.0/8 or ::1)",
					 what, quoted);
	}
	a->prefix_len = (uint8_t)max;
	if (slash) {
		ret = parse_prefix_len(slash + 1, max, &a->prefix_len);
		if (ret == -ERANGE)
			return config_yaml_error(cy, node,
						 "%s: '%s': the prefix length must be 0 to %u", what,
						 quoted, max);
		if (ret < 0)
			return config_yaml_error(cy, node,
						 "%s: '%s': the prefix length is not a number", what,
						 quoted);
	}
	/* "10.1.2.3/8" is most likely a typo for a host or for 10.0.0.0/8:
	 * refuse to guess which. */
	nbytes = a->family == AF_INET ? 4 : 16;
	for (i = 0; i < nbytes; i++) {
		unsigned bit = (unsigned)i * 8;
		uint8_t mask;

		if (bit + 8 <= a->prefix_len)
			continue;
		mask = bit >= a->prefix_len ? 0xff : (uint8_t)(0xffu >> (a->prefix_len - bit));
		if (a->bytes[i] & mask)
			return config_yaml_error(cy, node,
						 "%s: '%s' has bits set after the /%u prefix; write "
						 "the network address or a single address",
						 what, quoted, a->prefix_len);
	}
	return 0;
}

static int parse_addresses(struct config_yaml *cy, const yaml_node_t *node, const char *what,
			   struct route *route)
{
	char item_what[96];
	size_t i, n;
	int ret;

	ret = config_yaml_expect_sequence(cy, node, what);
	if (ret < 0)
		return ret;
	n = config_yaml_length(node);
	if (n == 0)
		return config_yaml_error(cy, node, "%s: empty list; omit the key instead", what);
	route->addresses = calloc(n, sizeof(*route->addresses));
	if (!route->addresses)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		config_yaml_describe(item_what, sizeof(item_what), "%s[%zu]", what, i);
		ret = parse_address(cy, config_yaml_item(cy, node, i), item_what,
				    &route->addresses[i]);
		if (ret < 0)
			return ret;
		route->naddresses = i + 1;
	}
	return 0;
}

/* The informational keys egress adds: checked for shape, then ignored. */
static int check_grant_view(struct config_yaml *cy, const yaml_node_t *node, const char *what)
{
	char key_what[96], quoted[ROUTES_QUOTE_MAX + 8];
	yaml_node_t *v;
	long long used;
	const char *s;
	int ret, i;

	v = config_yaml_get(cy, node, "state");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.state", what);
		ret = config_yaml_string(cy, v, key_what, &s);
		if (ret < 0)
			return ret;
		for (i = ROUTE_GRANT_ACTIVE; i <= ROUTE_GRANT_UNUSABLE; i++)
			if (strcmp(s, route_grant_state_name((enum route_grant_state)i)) == 0)
				break;
		if (i > ROUTE_GRANT_UNUSABLE)
			return config_yaml_error(cy, v,
						 "%s: '%s' is not a state egress reports (it is "
						 "informational: omit it)",
						 key_what, quote(s, quoted, sizeof(quoted)));
	}
	v = config_yaml_get(cy, node, "requests_used");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.requests_used", what);
		ret = config_yaml_integer(cy, v, key_what, 0, ROUTES_GRANT_MAX_REQUESTS, &used);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* `grant: {id, expires_at, max_requests}`: written by supervise when it
 * applies a bounded approval. */
static int parse_grant(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       struct route *route)
{
	char key_what[96], quoted[ROUTES_QUOTE_MAX + 8];
	struct route_grant *g;
	yaml_node_t *v;
	long long max;
	const char *s;
	int ret;

	ret = config_yaml_expect_mapping(cy, node, what);
	if (ret < 0)
		return ret;
	ret = config_yaml_check_keys(cy, node, what, grant_keys);
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, node, what, "id");
	if (ret < 0)
		return ret;
	g = calloc(1, sizeof(*g));
	if (!g)
		return out_of_memory(cy);
	route->grant = g;

	v = config_yaml_get(cy, node, "id");
	config_yaml_describe(key_what, sizeof(key_what), "%s.id", what);
	ret = config_yaml_nonempty_string(cy, v, key_what, &s);
	if (ret < 0)
		return ret;
	if (!queue_id_valid(s) || strlen(s) >= sizeof(g->id))
		return config_yaml_error(cy, v,
					 "%s: '%s' is not a proposal id (letters, digits and '-', "
					 "at most %zu)",
					 key_what, quote(s, quoted, sizeof(quoted)), sizeof(g->id) - 1);
	snprintf(g->id, sizeof(g->id), "%s", s);

	v = config_yaml_get(cy, node, "expires_at");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.expires_at", what);
		ret = config_yaml_nonempty_string(cy, v, key_what, &s);
		if (ret < 0)
			return ret;
		if (queue_parse_time(s, &g->expires_at) < 0 || g->expires_at <= 0)
			return config_yaml_error(cy, v,
						 "%s: '%s' is not a UTC time such as "
						 "2026-11-29T19:47:00Z",
						 key_what, quote(s, quoted, sizeof(quoted)));
	}
	v = config_yaml_get(cy, node, "max_requests");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.max_requests", what);
		ret = config_yaml_integer(cy, v, key_what, 1, ROUTES_GRANT_MAX_REQUESTS, &max);
		if (ret < 0)
			return ret;
		g->max_requests = (uint64_t)max;
	}
	if (!g->expires_at && !g->max_requests)
		return config_yaml_error(cy, node,
					 "%s: a grant needs expires_at, max_requests or both "
					 "(without a bound, drop the grant key)",
					 what);
	return check_grant_view(cy, node, what);
}

/* Routes sharing a grant share its count, so they must agree on its
 * bounds. */
static int check_grants_agree(struct config_yaml *cy, const yaml_node_t *routes,
			      const struct routes *r)
{
	const struct route_grant *a, *b;
	size_t i, j;

	for (i = 0; i < r->n; i++) {
		b = r->v[i].grant;
		for (j = 0; b && j < i; j++) {
			a = r->v[j].grant;
			if (!a || strcmp(a->id, b->id) != 0)
				continue;
			if (a->expires_at != b->expires_at || a->max_requests != b->max_requests)
				return config_yaml_error(
					cy, config_yaml_get(cy, config_yaml_item(cy, routes, i), "grant"),
					"routes[%zu].grant: grant '%s' is on routes[%zu] too, with "
					"other bounds: one grant has one set of bounds",
					i, b->id, j);
			break;
		}
	}
	return 0;
}

static int parse_bool_key(struct config_yaml *cy, const yaml_node_t *mapping,
			  const char *route_what, const char *key, bool *out)
{
	yaml_node_t *v = config_yaml_get(cy, mapping, key);
	char what[96];

	if (!v)
		return 0;
	config_yaml_describe(what, sizeof(what), "%s.%s", route_what, key);
	return config_yaml_boolean(cy, v, what, out);
}

/* A passthrough CONNECT is spliced unread: conditions on what is inside
 * could never be checked, so writing them is a mistake to report. */
static int check_passthrough(struct config_yaml *cy, const yaml_node_t *node,
			     const char *what, const struct route *route)
{
	static const char *const unseen[] = { "matches", "auth", "outbound_on_match" };
	size_t i;

	if (!route->tls_passthrough)
		return 0;
	for (i = 0; i < 3; i++)
		if (config_yaml_get(cy, node, unseen[i]))
			return config_yaml_error(cy, key_node(cy, node, unseen[i]),
						 "%s: '%s' cannot be used with tls_passthrough: "
						 "egress never sees the requests inside a "
						 "passthrough tunnel",
						 what, unseen[i]);
	if (route->websocket)
		return config_yaml_error(cy, key_node(cy, node, "websocket"),
					 "%s: 'websocket' cannot be used with tls_passthrough: "
					 "egress never sees the requests inside a passthrough "
					 "tunnel",
					 what);
	return 0;
}

static int parse_route(struct config_yaml *cy, const yaml_node_t *node, const char *what,
		       struct route *route)
{
	char key_what[96];
	yaml_node_t *v;
	int ret;

	route->line = (unsigned)config_yaml_line(node);
	ret = config_yaml_check_keys(cy, node, what, route_keys);
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, node, what, "host");
	if (ret < 0)
		return ret;
	config_yaml_describe(key_what, sizeof(key_what), "%s.host", what);
	ret = parse_host(cy, config_yaml_get(cy, node, "host"), key_what, route);
	if (ret < 0)
		return ret;
	v = config_yaml_get(cy, node, "ports");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.ports", what);
		ret = parse_ports(cy, v, key_what, route);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "outbound_on_match");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.outbound_on_match", what);
		ret = parse_outbound(cy, v, key_what, route);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "auth");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.auth", what);
		ret = parse_auth(cy, v, key_what, route);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "matches");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.matches", what);
		ret = parse_matches(cy, v, key_what, route);
		if (ret < 0)
			return ret;
	}
	ret = parse_bool_key(cy, node, what, "tls_passthrough", &route->tls_passthrough);
	if (ret < 0)
		return ret;
	ret = parse_bool_key(cy, node, what, "websocket", &route->websocket);
	if (ret < 0)
		return ret;
	v = config_yaml_get(cy, node, "addresses");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.addresses", what);
		ret = parse_addresses(cy, v, key_what, route);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, node, "grant");
	if (v) {
		config_yaml_describe(key_what, sizeof(key_what), "%s.grant", what);
		ret = parse_grant(cy, v, key_what, route);
		if (ret < 0)
			return ret;
	}
	return check_passthrough(cy, node, what, route);
}

static int check_size(struct config_yaml *cy, const yaml_node_t *routes)
{
	static const char *const lists[] = { "ports", "addresses", "matches" };
	yaml_node_t *route, *matches, *m;
	size_t items = 0, regexes = 0, i, j, k, n = config_yaml_length(routes), nm;

	for (i = 0; i < n; i++) {
		route = config_yaml_item(cy, routes, i);
		items++;
		for (k = 0; k < 3; k++)
			items += config_yaml_length(config_yaml_get(cy, route, lists[k]));
		matches = config_yaml_get(cy, route, "matches");
		nm = matches && matches->type == YAML_SEQUENCE_NODE ? config_yaml_length(matches) : 0;
		for (j = 0; j < nm && items <= ROUTES_MAX_ITEMS; j++) {
			m = config_yaml_item(cy, matches, j);
			items += config_yaml_length(config_yaml_get(cy, m, "methods"));
			items += config_yaml_length(config_yaml_get(cy, m, "headers"));
			regexes += config_yaml_get(cy, m, "path_regex") != NULL;
		}
		if (items > ROUTES_MAX_ITEMS)
			return config_yaml_error(cy, route,
						 "routes[%zu]: the table holds more than %d entries "
						 "(routes, ports, matches, methods, headers and "
						 "addresses together)",
						 i, ROUTES_MAX_ITEMS);
		if (regexes > ROUTES_MAX_REGEXES)
			return config_yaml_error(cy, route,
						 "routes[%zu]: the table holds more than %d "
						 "path_regex entries",
						 i, ROUTES_MAX_REGEXES);
	}
	return 0;
}

static int parse_document(struct config_yaml *cy, struct routes *r)
{
	yaml_node_t *root = config_yaml_root(cy), *v;
	char what[64];
	size_t i, n;
	int ret;

	ret = config_yaml_check_keys(cy, root, "top level", top_keys);
	if (ret < 0)
		return ret;
	ret = config_yaml_require_key(cy, root, "top level", "routes");
	if (ret < 0)
		return ret;
	r->log = ROUTES_LOG_BLOCKS;
	v = config_yaml_get(cy, root, "log");
	if (v) {
		ret = parse_log(cy, v, &r->log);
		if (ret < 0)
			return ret;
	}
	v = config_yaml_get(cy, root, "routes");
	ret = config_yaml_expect_sequence(cy, v, "routes");
	if (ret < 0)
		return ret;
	ret = check_size(cy, v);
	if (ret < 0)
		return ret;
	n = config_yaml_length(v);
	if (n == 0)
		return 0;
	r->v = calloc(n, sizeof(*r->v));
	if (!r->v)
		return out_of_memory(cy);
	for (i = 0; i < n; i++) {
		config_yaml_describe(what, sizeof(what), "routes[%zu]", i);
		r->n = i + 1;
		ret = parse_route(cy, config_yaml_item(cy, v, i), what, &r->v[i]);
		if (ret < 0)
			return ret;
	}
	return check_grants_agree(cy, v, r);
}

/* After config_yaml loaded (or failed to load) the document. */
static int routes_build(struct config_yaml *cy, int loaded, const char *name,
			struct routes **out, char *err, size_t err_len)
{
	struct routes *r = NULL;
	int ret = loaded;

	if (ret < 0)
		goto out;
	ret = -ENOMEM;
	r = calloc(1, sizeof(*r));
	if (!r) {
		out_of_memory(cy);
		goto out;
	}
	r->refcount = 1;
	r->source = strdup(name);
	r->match_context = pcre2_match_context_create(NULL);
	if (!r->source || !r->match_context) {
		out_of_memory(cy);
		goto out;
	}
	pcre2_set_match_limit(r->match_context, ROUTES_MATCH_LIMIT);
	ret = parse_document(cy, r);
	if (ret < 0)
		goto out;
	*out = r;
	r = NULL;
out:
	if (ret < 0 && err && err_len)
		snprintf(err, err_len, "%s", config_yaml_message(cy));
	else if (err && err_len)
		err[0] = '\0';
	if (r)
		routes_free(r);
	config_yaml_release(cy);
	return ret;
}

int routes_load_file(const char *path, struct routes **out, char *err, size_t err_len)
{
	struct config_yaml cy;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	config_yaml_init(&cy);
	return routes_build(&cy, config_yaml_load_file(&cy, path), path, out, err, err_len);
}

int routes_load_string(const char *name, const char *text, size_t len, struct routes **out,
		       char *err, size_t err_len)
{
	struct config_yaml cy;

	if (!name || (!text && len) || !out)
		return -EINVAL;
	*out = NULL;
	config_yaml_init(&cy);
	/* The file limit holds for text that did not come from a file too
	 * (a proposal from the agent). */
	if (len > CONFIG_YAML_MAX_FILE) {
		if (err && err_len)
			snprintf(err, err_len, "%s: larger than 1 MiB", name);
		return -EMSGSIZE;
	}
	return routes_build(&cy, config_yaml_load_string(&cy, name, text ? text : "", len), name,
			    out, err, err_len);
}

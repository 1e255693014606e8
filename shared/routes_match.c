/* Deciding a request against a loaded table (docs/routes.md, "Matching").
 * Many proxy threads share one table: nothing here writes to it, and the
 * pcre2 match data is per call.  The one shared state a decision changes,
 * a grant's request count, is the caller's ledger (routes_request.grants). */
#include "routes.h"
#include "queue.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* The reason fits d->reason with room to spare, per the header's promise. */
#define REASON_MAX 380
/* How much of the agent's own host, method and path a reason repeats. */
#define ECHO_HOST_MAX 100
#define ECHO_METHOD_MAX 20
#define ECHO_PATH_MAX 80

static const char git_push_service[] = "git-receive-pack";

/* ---- hosts and ports ---- */

static struct str strip_brackets(struct str host)
{
	if (host.len >= 2 && host.p[0] == '[' && host.p[host.len - 1] == ']')
		return (struct str){ host.p + 1, host.len - 2 };
	return host;
}

static bool ipv6_parse(struct str s, struct in6_addr *out)
{
	char text[INET6_ADDRSTRLEN + 1];

	if (!s.len || s.len >= sizeof(text))
		return false;
	memcpy(text, s.p, s.len);
	text[s.len] = '\0';
	return inet_pton(AF_INET6, text, out) == 1;
}

static bool host_matches(const struct route *route, struct str host)
{
	struct str suffix;
	struct in6_addr a, b;

	if (route->host_kind == HTTP1_HOST_IPV6)
		return ipv6_parse(host, &a) && ipv6_parse(str_from_cstr(route->host), &b) &&
		       memcmp(&a, &b, sizeof(a)) == 0;
	if (!route->wildcard)
		return http1_str_ieq(host, str_from_cstr(route->host));
	/* "*.example.com": at least one label before ".example.com". */
	suffix = str_from_cstr(route->host);
	if (host.len < suffix.len + 2 || host.p[host.len - suffix.len - 1] != '.')
		return false;
	return http1_str_ieq((struct str){ host.p + host.len - suffix.len, suffix.len }, suffix);
}

static bool port_matches(const struct route *route, uint16_t port)
{
	size_t i;

	if (!route->ports)
		return port == 80 || port == 443;
	for (i = 0; i < route->nports; i++)
		if (route->ports[i] == port)
			return true;
	return false;
}

/* ---- grants ---- */

/* The first bounded route that would have served a request had its grant
 * not ended: the denial names it. */
struct grant_miss {
	const struct route *route;
	struct route_grant_status status;
};

/* Whether route's grant lets it serve the request (counting it when take);
 * a route without a grant always does.  Without a ledger a bounded route
 * never matches. */
static bool grant_allows(const struct routes_request *req, const struct route *route,
			 bool take, struct grant_miss *miss)
{
	struct route_grant_status status = { .state = ROUTE_GRANT_UNUSABLE };

	if (!route->grant)
		return true;
	if (req && req->grants &&
	    req->grants->use(req->grants, route->grant, take, &status) == 0 &&
	    status.state == ROUTE_GRANT_ACTIVE)
		return true;
	if (miss && !miss->route) {
		miss->route = route;
		miss->status = status;
	}
	return false;
}

/* The first route for host and port a CONNECT may use: a passthrough
 * tunnel is one request to its grant, a bumped one is counted request by
 * request inside. */
static const struct route *find_host(const struct routes *r, struct str host, uint16_t port,
				     const struct routes_request *req, struct grant_miss *miss)
{
	const struct route *route;
	size_t i;

	if (!r || (!host.p && host.len))
		return NULL;
	host = strip_brackets(host);
	for (i = 0; i < r->n; i++) {
		route = &r->v[i];
		if (port_matches(route, port) && host_matches(route, host) &&
		    grant_allows(req, route, route->tls_passthrough, miss))
			return route;
	}
	return NULL;
}

const struct route *routes_find_host(const struct routes *r, struct str host, uint16_t port)
{
	return find_host(r, host, port, NULL, NULL);
}

bool route_names_address(const struct route *route, int family, const uint8_t *addr)
{
	const struct route_address *a;
	size_t i, full;
	unsigned rest;

	if (!route || !addr)
		return false;
	for (i = 0; i < route->naddresses; i++) {
		a = &route->addresses[i];
		if (a->family != family)
			continue;
		full = a->prefix_len / 8;
		rest = a->prefix_len % 8;
		if (memcmp(a->bytes, addr, full) != 0)
			continue;
		if (rest && ((a->bytes[full] ^ addr[full]) & (uint8_t)(0xffu << (8 - rest))))
			continue;
		return true;
	}
	return false;
}

/* ---- the built-in git push rule ---- */

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool contains_service(const char *p, size_t len)
{
	size_t k, n = sizeof(git_push_service) - 1;

	for (k = 0; k + n <= len; k++)
		if (http1_str_ieq((struct str){ p + k, n }, (struct str){ git_push_service, n }))
			return true;
	return false;
}

/* Whether s, percent-decoded until nothing decodes any more, holds
 * "git-receive-pack" in any case.  Decoding "%HH" never overlaps another
 * "%HH", so every order of decoding ends at the same string; this one
 * reduces the tail of the output each time a byte lands, which reaches
 * that string in one linear pass (a server that decodes once, twice or k
 * times sees a prefix of that work, and the name, once formed, survives
 * further decoding: it holds no '%' and starts with 'g', not a hex digit). */
static int is_git_push(struct str s, bool *found)
{
	size_t i, n = 0;
	char *out;
	int hi, lo;

	*found = false;
	if (s.len < sizeof(git_push_service) - 1)
		return 0;
	if (!memchr(s.p, '%', s.len)) {
		*found = contains_service(s.p, s.len);
		return 0;
	}
	out = malloc(s.len);
	if (!out)
		return -ENOMEM;
	for (i = 0; i < s.len; i++) {
		out[n++] = s.p[i];
		while (n >= 3 && out[n - 3] == '%' && (hi = hex_value(out[n - 2])) >= 0 &&
		       (lo = hex_value(out[n - 1])) >= 0) {
			out[n - 3] = (char)(hi * 16 + lo);
			n -= 2;
		}
	}
	*found = contains_service(out, n);
	free(out);
	return 0;
}

/* ---- entries of `matches` ---- */

static bool prefix_matches(const char *prefix, struct str path)
{
	size_t len = strlen(prefix);

	if (path.len < len || memcmp(path.p, prefix, len) != 0)
		return false;
	/* Whole segments only: /v1 allows /v1 and /v1/x, never /v1x. */
	return path.len == len || prefix[len - 1] == '/' || path.p[len] == '/';
}

/* Fails closed: a pcre2 error (such as the match limit) is no match. */
static int regex_matches(const struct routes *r, const struct route_match *m, struct str path,
			 pcre2_match_data **md, bool *matched)
{
	PCRE2_SPTR subject = (PCRE2_SPTR)(path.p ? path.p : "");
	int rc;

	if (!*md) {
		*md = pcre2_match_data_create(1, NULL);
		if (!*md)
			return -ENOMEM;
	}
	if (m->path_jit)
		rc = pcre2_jit_match(m->path_regex, subject, path.len, 0, 0, *md,
				     r->match_context);
	else
		rc = pcre2_match(m->path_regex, subject, path.len, 0, 0, *md, r->match_context);
	*matched = rc >= 0;
	return 0;
}

static bool methods_match(const struct route_match *m, struct str method)
{
	size_t i;

	if (!m->methods)
		return true;
	for (i = 0; m->methods[i]; i++)
		if (str_equal_cstr(method, m->methods[i]))
			return true;
	return false;
}

/* Every field of that name must hold the value (and there must be one): a
 * second, different copy is a request the condition did not vouch for. */
static bool headers_match(const struct route_match *m, const struct http1_fields *fields)
{
	const struct route_header_match *h;
	size_t i, j, seen;

	for (i = 0; i < m->nheaders; i++) {
		h = &m->headers[i];
		if (!fields)
			return false;
		seen = 0;
		for (j = 0; j < fields->n; j++) {
			if (!http1_str_ieq_cstr(fields->v[j].name, h->name))
				continue;
			if (!str_equal_cstr(fields->v[j].value, h->value))
				return false;
			seen++;
		}
		if (!seen)
			return false;
	}
	return true;
}

static int entry_matches(const struct routes *r, const struct route_match *m,
			 const struct routes_request *req, pcre2_match_data **md, bool *matched)
{
	*matched = false;
	if (!methods_match(m, req->method))
		return 0;
	switch (m->path_kind) {
	case ROUTE_PATH_ANY:
		break;
	case ROUTE_PATH_EXACT:
		if (!str_equal_cstr(req->path, m->path))
			return 0;
		break;
	case ROUTE_PATH_PREFIX:
		if (!prefix_matches(m->path, req->path))
			return 0;
		break;
	case ROUTE_PATH_REGEX: {
		bool ok;
		int ret = regex_matches(r, m, req->path, md, &ok);

		if (ret < 0 || !ok)
			return ret;
		break;
	}
	}
	*matched = headers_match(m, req->fields);
	return 0;
}

/* ---- reasons ---- */

/* Agent-chosen and file text for a reason: printable ASCII only, cut at
 * max with "...". */
static void append_printable(struct buf *b, const char *p, size_t len, size_t max)
{
	size_t i;

	for (i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)p[i];
		char out = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;

		buf_append(b, &out, 1);
	}
	if (i < len)
		buf_append_str(b, "...");
}

static void append_str(struct buf *b, struct str s, size_t max)
{
	append_printable(b, s.p ? s.p : "", s.len, max);
}

static void append_route_host(struct buf *b, const struct route *route)
{
	if (route->wildcard)
		buf_append_str(b, "*.");
	append_printable(b, route->host, strlen(route->host), ECHO_HOST_MAX);
}

static const char *file_base(const struct routes *r)
{
	const char *slash = r->source ? strrchr(r->source, '/') : NULL;

	if (!r->source || !r->source[0])
		return "routes.yaml";
	return slash && slash[1] ? slash + 1 : r->source;
}

static void append_entry(struct buf *b, const struct route_match *m)
{
	size_t i;

	if (m->methods) {
		for (i = 0; m->methods[i]; i++) {
			if (i)
				buf_append_str(b, "|");
			append_printable(b, m->methods[i], strlen(m->methods[i]), ECHO_METHOD_MAX);
		}
		buf_append_str(b, " ");
	}
	switch (m->path_kind) {
	case ROUTE_PATH_ANY:
		buf_append_str(b, "any path");
		break;
	case ROUTE_PATH_EXACT:
		append_printable(b, m->path, strlen(m->path), ECHO_PATH_MAX);
		break;
	case ROUTE_PATH_PREFIX:
		append_printable(b, m->path, strlen(m->path), ECHO_PATH_MAX);
		buf_append_str(b, " and below");
		break;
	case ROUTE_PATH_REGEX:
		buf_append_str(b, "paths matching ");
		append_printable(b, m->path, strlen(m->path), ECHO_PATH_MAX);
		break;
	}
	for (i = 0; i < m->nheaders; i++) {
		buf_append_str(b, i ? ", " : " with header ");
		append_printable(b, m->headers[i].name, strlen(m->headers[i].name), ECHO_METHOD_MAX);
	}
}

/* Copy into d->reason, cut to REASON_MAX with "..." when longer. */
static void reason_set(struct route_decision *d, const struct buf *b)
{
	size_t len = b->len;

	if (len > REASON_MAX) {
		memcpy(d->reason, b->p, REASON_MAX - 3);
		memcpy(d->reason + REASON_MAX - 3, "...", 3);
		len = REASON_MAX;
	} else {
		memcpy(d->reason, b->p, len);
	}
	d->reason[len] = '\0';
}

static void deny_no_route(struct route_decision *d, const struct routes_request *req,
			  struct buf *b)
{
	buf_append_str(b, "no route allows host ");
	append_str(b, req->host, ECHO_HOST_MAX);
	buf_appendf(b, " port %u: add a route for ", (unsigned)req->port);
	append_str(b, req->host, ECHO_HOST_MAX);
	buf_append_str(b, " to routes.yaml (ask the operator with the egress-allow tool)");
	reason_set(d, b);
}

static void append_route_name(struct buf *b, const struct routes *r, const struct route *route)
{
	buf_append_str(b, "route for ");
	append_route_host(b, route);
	buf_appendf(b, " (%s line %u)", file_base(r), route->line);
}

static void deny_no_entry(struct route_decision *d, const struct routes *r,
			  const struct route *route, const struct routes_request *req,
			  struct buf *b)
{
	size_t i;

	append_route_name(b, r, route);
	buf_append_str(b, " does not allow ");
	append_str(b, req->method, ECHO_METHOD_MAX);
	buf_append_str(b, " ");
	append_str(b, req->path, ECHO_PATH_MAX);
	buf_append_str(b, ": its matches allow only ");
	for (i = 0; i < route->nmatches; i++) {
		if (i)
			buf_append_str(b, "; ");
		append_entry(b, &route->matches[i]);
	}
	reason_set(d, b);
}

static void deny_websocket(struct route_decision *d, const struct routes *r,
			   const struct route *route, struct buf *b)
{
	append_route_name(b, r, route);
	buf_append_str(b, " does not allow WebSocket upgrades: set `websocket: true` on it "
			  "(ask the operator with the egress-allow tool)");
	reason_set(d, b);
}

static void deny_grant_ended(struct route_decision *d, const struct routes *r,
			     const struct grant_miss *miss, struct buf *b)
{
	const struct route_grant *g = miss->route->grant;
	char when[QUEUE_TIME_MAX];

	buf_appendf(b, "grant %s on the ", g->id);
	append_route_name(b, r, miss->route);
	switch (miss->status.state) {
	case ROUTE_GRANT_EXPIRED:
		queue_format_time(g->expires_at, when);
		buf_appendf(b, " has ended: it expired at %s", when);
		break;
	case ROUTE_GRANT_USED_UP:
		buf_appendf(b, " has ended: its %llu requests (max_requests) are used",
			    (unsigned long long)g->max_requests);
		break;
	default:
		buf_append_str(b, " is closed: egress cannot count its requests (it runs "
				  "without a queue, or the count could not be kept)");
		break;
	}
	buf_append_str(b, "; ask the operator again with the egress-allow tool");
	reason_set(d, b);
}

static void deny_git_push(struct route_decision *d, struct buf *b)
{
	buf_append_str(b, "git pushes (git-receive-pack) never go out directly: push through "
			  "the sidecar's git gate, which scans and forwards them");
	reason_set(d, b);
}

/* ---- the decision ---- */

int routes_decide(const struct routes *r, const struct routes_request *req,
		  struct route_decision *d)
{
	const struct route *route, *host_route = NULL;
	struct grant_miss miss = { 0 };
	pcre2_match_data *md = NULL;
	struct str host;
	struct buf b;
	bool found, matched;
	size_t i, j;
	int ret = -EINVAL;

	if (!d)
		return -EINVAL;
	memset(d, 0, sizeof(*d));
	buf_init(&b, 4096);
	if (!r || !req)
		goto out;
	host = strip_brackets(req->host);

	ret = is_git_push(req->path, &found);
	if (ret == 0 && !found)
		ret = is_git_push(req->query, &found);
	if (ret < 0)
		goto out;
	if (found) {
		deny_git_push(d, &b);
		goto out;
	}

	if (str_equal_cstr(req->method, "CONNECT")) {
		d->route = find_host(r, host, req->port, req, &miss);
		d->allowed = d->route != NULL;
		if (!d->allowed && miss.route)
			deny_grant_ended(d, r, &miss, &b);
		else if (!d->allowed)
			deny_no_route(d, req, &b);
		goto out;
	}

	for (i = 0; i < r->n && !d->allowed; i++) {
		const struct route_match *entry = NULL;

		route = &r->v[i];
		if (!port_matches(route, req->port) || !host_matches(route, host))
			continue;
		if (!host_route)
			host_route = route;
		matched = !route->matches;
		for (j = 0; !matched && j < route->nmatches; j++) {
			ret = entry_matches(r, &route->matches[j], req, &md, &matched);
			if (ret < 0)
				goto out;
			if (matched)
				entry = &route->matches[j];
		}
		/* An ended grant's route is as good as absent: try the next. */
		if (!matched || !grant_allows(req, route, false, &miss))
			continue;
		/* The winning route decides upgrades (a later one is not tried). */
		if (req->upgrade_websocket && !route->websocket) {
			d->route = route;
			deny_websocket(d, r, route, &b);
			ret = 0;
			goto out;
		}
		/* Counted only now, when it is the one request allowed. */
		if (!grant_allows(req, route, true, &miss))
			continue;
		d->allowed = true;
		d->route = route;
		d->match = entry;
	}
	if (!d->allowed) {
		d->route = host_route;
		if (miss.route)
			deny_grant_ended(d, r, &miss, &b);
		else if (host_route)
			deny_no_entry(d, r, host_route, req, &b);
		else
			deny_no_route(d, req, &b);
	}
	ret = 0;
out:
	if (ret < 0)
		memset(d, 0, sizeof(*d));
	if (md)
		pcre2_match_data_free(md);
	buf_release(&b);
	return ret;
}

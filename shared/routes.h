/* Egress routes: the default-deny allowlist in routes.yaml.
 *
 * One loader for everyone who reads or proposes routes: the egress proxy
 * (sidecar egress), the MCP supervise server that validates an agent's
 * proposal, and the host CLI that renders and edits them.  docs/routes.md is
 * the schema; this header is the C view of it.
 *
 * A loaded table is immutable and reference-counted: egress swaps in a new
 * table on reload while requests in flight keep the one they started with.
 *
 *     struct routes *r;
 *     char err[512];
 *     if (routes_load_file("/etc/sidecar/routes.yaml", &r, err, sizeof(err)) < 0)
 *             log_error("%s", err);            // "routes.yaml:4:7: unknown key 'hots' ..."
 *     ...
 *     struct route_decision d;
 *     routes_decide(r, &request, &d);         // d.allowed, d.route, d.reason
 *     routes_unref(r);
 */
#ifndef BOTTLE_ROUTES_H
#define BOTTLE_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "http1.h"

enum routes_log {
	ROUTES_LOG_OFF = 0,    /* no decision lines */
	ROUTES_LOG_BLOCKS,     /* only denied requests (the default) */
	ROUTES_LOG_ALL,        /* every decision */
};

/* What egress does when DLP finds a secret in a request on this route
 * (acted on by the DLP engine; stored here). */
enum route_outbound {
	ROUTE_OUTBOUND_SUPERVISE = 0, /* hold for the operator (the default) */
	ROUTE_OUTBOUND_REDACT,
	ROUTE_OUTBOUND_BLOCK,
};

enum route_path_kind {
	ROUTE_PATH_ANY = 0,  /* no path condition */
	ROUTE_PATH_EXACT,    /* `path: /v1/messages` */
	ROUTE_PATH_PREFIX,   /* `path_prefix: /v1/` */
	ROUTE_PATH_REGEX,    /* `path_regex: '^/repos/[^/]+/issues$'` (pcre2, anchored by the author) */
};

struct route_header_match {
	char *name;  /* compared ASCII case-insensitively */
	char *value; /* compared exactly */
};

/* One entry of `matches`: every condition given must hold. */
struct route_match {
	enum route_path_kind path_kind;
	char *path;                    /* EXACT/PREFIX text, or the REGEX source */
	void *path_regex;              /* pcre2_code * when REGEX (JIT-compiled) */
	bool path_jit;                 /* JIT compilation succeeded: use pcre2_jit_match */
	char **methods;                /* NULL-terminated upper-case tokens; NULL: any */
	struct route_header_match *headers;
	size_t nheaders;
	unsigned line;                 /* where the entry starts in the file */
};

/* `auth`: replace the agent's value of `header` with "<scheme> <$env>". */
struct route_auth {
	char *header; /* e.g. "Authorization", "x-api-key" */
	char *scheme; /* e.g. "Bearer"; NULL: the token alone */
	char *env;    /* name of the sidecar environment variable holding the token */
};

/* An address or network a route names explicitly (`addresses:`): an upstream
 * that resolves into it may be connected to even when it is loopback,
 * private, link-local or otherwise refused by default. */
struct route_address {
	int family;          /* AF_INET or AF_INET6 */
	uint8_t bytes[16];   /* network order; the first 4 for AF_INET */
	uint8_t prefix_len;  /* 32/128 for a single address */
};

/* `grant:` on a route supervise added for a bounded approval: the route
 * holds only until the grant ends (docs/routes.md, "Grants").  Several
 * routes may carry one grant (one approval); they share its bounds and
 * its request count. */
struct route_grant {
	char id[64];         /* the proposal id: [A-Za-z0-9-], the count's file name */
	time_t expires_at;   /* 0: no time bound */
	uint64_t max_requests; /* 0: no request bound */
};

struct route {
	char *host;          /* lower case; for a wildcard the suffix after "*." */
	bool wildcard;       /* `*.example.com`: any name ending in .example.com (not the apex) */
	enum http1_host_kind host_kind; /* NAME, IPV4 or IPV6 */
	uint16_t *ports;     /* allowed ports; NULL means 80 and 443 */
	size_t nports;
	struct route_match *matches; /* NULL/0: any request to the host */
	size_t nmatches;
	bool tls_passthrough;        /* CONNECT spliced without bumping */
	bool websocket;              /* HTTP Upgrade: websocket allowed */
	struct route_auth *auth;     /* NULL: no injection */
	enum route_outbound outbound_on_match;
	bool outbound_set;           /* outbound_on_match was written in the file */
	struct route_address *addresses;
	size_t naddresses;
	struct route_grant *grant;   /* NULL: unbounded */
	unsigned line;               /* where the route starts in the file */
};

struct routes {
	int refcount;                /* atomically updated */
	enum routes_log log;
	struct route *v;
	size_t n;
	char *source;                /* the file name (or label) it was loaded from */
	void *match_context;         /* pcre2_match_context * with our match limit;
	                                read-only after load, so threads share it */
};

/* Load and validate.  On error returns a negative errno and writes one line
 * "file:line:col: message" to err (never a header value or a token: `auth`
 * names an env var, it does not hold a secret).  The new table has one
 * reference. */
int routes_load_file(const char *path, struct routes **out, char *err, size_t err_len);
int routes_load_string(const char *name, const char *text, size_t len,
		       struct routes **out, char *err, size_t err_len);

struct routes *routes_ref(struct routes *r);
void routes_unref(struct routes *r);

/* Where a grant stands, as egress's ledger of grants says. */
enum route_grant_state {
	ROUTE_GRANT_ACTIVE = 0,
	ROUTE_GRANT_EXPIRED,      /* expires_at passed */
	ROUTE_GRANT_USED_UP,      /* max_requests requests went through */
	ROUTE_GRANT_UNUSABLE,     /* no ledger (egress without --queue) or its
				     count cannot be kept: fail closed */
};

struct route_grant_status {
	enum route_grant_state state;
	uint64_t used;            /* requests counted so far */
};

/* The ledger that says whether a bounded route may still match (egress's
 * grants.c).  use() answers for the grant and, when take is set and the
 * grant is active, counts one request against it in the same step, so two
 * requests racing for the last one cannot both have it.  Returns 0 with
 * *status filled, or a negative errno (treated as unusable). */
struct routes_grants {
	int (*use)(struct routes_grants *self, const struct route_grant *grant, bool take,
		   struct route_grant_status *status);
};

const char *route_grant_state_name(enum route_grant_state state);

/* What a request looks like to the policy.  For a CONNECT (before any inner
 * request is known) method is "CONNECT" and path is empty. */
struct routes_request {
	struct str host;                    /* as the client named it */
	uint16_t port;
	struct str method;                  /* the token as received */
	struct str path;                    /* without the query */
	struct str query;
	const struct http1_fields *fields;  /* NULL for CONNECT */
	bool upgrade_websocket;             /* the request asks to Upgrade: websocket */
	/* The ledger for `grant:` routes; NULL: they never match.  A request
	 * a bounded route allows is counted against its grant (a CONNECT
	 * only when the route is tls_passthrough: a bumped tunnel's requests
	 * are counted one by one). */
	struct routes_grants *grants;
};

struct route_decision {
	bool allowed;
	const struct route *route;   /* the route that allowed it, or the one whose
	                                host matched but whose conditions did not */
	const struct route_match *match; /* the entry that allowed it, if any */
	/* When denied: one sentence an agent can act on, naming the rule that
	 * is missing, e.g. "no route allows host example.org port 443: add a
	 * route for it to routes.yaml (or ask the operator with egress-allow)". */
	char reason[384];
};

/* Decide a request.  Returns 0 (the decision is in *d) or a negative errno.
 * Built-in rules applied before the table: git pushes
 * (git-receive-pack anywhere in the path or the query, such as a service=
 * parameter, however percent-encoded and in any case) are denied: they go
 * through the git gate. */
int routes_decide(const struct routes *r, const struct routes_request *req,
		  struct route_decision *d);

/* The first route whose host and port match, ignoring its other conditions
 * (used for CONNECT: passthrough or bump); bounded routes are skipped (only
 * routes_decide() has a ledger for them).  NULL if none. */
const struct route *routes_find_host(const struct routes *r, struct str host, uint16_t port);

/* Whether `addr` (family AF_INET/AF_INET6, network-order bytes) lies in one
 * of the route's `addresses`. */
bool route_names_address(const struct route *route, int family, const uint8_t *addr);

/* The live table as JSON with the YAML schema's keys (for the introspection
 * endpoint and the MCP list-egress-routes tool): {"log": "...", "routes":
 * [{"host": "...", ...}]}.  Appends to out. */
int routes_to_json(const struct routes *r, struct buf *out);
/* The same, with each grant's state from the ledger added (`state`,
 * `requests_used`; the loader accepts and ignores them, so the text still
 * loads).  Nothing is counted. */
int routes_to_json_with_grants(const struct routes *r, struct routes_grants *grants,
			       struct buf *out);

const char *routes_log_name(enum routes_log log);
const char *route_outbound_name(enum route_outbound o);

#endif

/* The transport's header rules: protocol versions, Accept, Host and Origin
 * (the DNS-rebinding defence) and the bearer token. */
#include "supervise.h"

#include <string.h>

static const char *const versions[] = { MCP_V2026_07_28, MCP_V2025_11_25, MCP_V2025_06_18 };

static bool str_is(const char *v, size_t len, const char *s)
{
	return strlen(s) == len && memcmp(v, s, len) == 0;
}

bool protocol_version_supported(const char *v, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++)
		if (str_is(v, len, versions[i]))
			return true;
	return false;
}

bool protocol_version_is_legacy(const char *v, size_t len)
{
	return str_is(v, len, MCP_V2025_11_25) || str_is(v, len, MCP_V2025_06_18);
}

const char *protocol_negotiate(const char *requested)
{
	/* initialize opens a session, which only the legacy revisions have:
	 * a client asking for anything else gets the newest legacy one. */
	if (requested && protocol_version_is_legacy(requested, strlen(requested)))
		return strcmp(requested, MCP_V2025_06_18) == 0 ? MCP_V2025_06_18 : MCP_V2025_11_25;
	return MCP_LATEST_LEGACY;
}

const char *protocol_versions_json(void)
{
	return "[\"" MCP_V2026_07_28 "\",\"" MCP_V2025_11_25 "\",\"" MCP_V2025_06_18 "\"]";
}

/* The media type of one Accept element, without parameters. */
static struct str media_type(struct str elem)
{
	size_t n = 0;

	while (n < elem.len && elem.p[n] != ';' && elem.p[n] != ' ' && elem.p[n] != '\t')
		n++;
	return (struct str){ elem.p, n };
}

bool protocol_accept_ok(struct str accept)
{
	struct http1_list l;
	struct str elem;
	bool json = false, sse = false;

	http1_list_init(&l, accept);
	while (http1_list_next(&l, &elem)) {
		struct str t = media_type(elem);

		if (http1_str_ieq_cstr(t, "*/*"))
			json = sse = true;
		else if (http1_str_ieq_cstr(t, "application/json") ||
			 http1_str_ieq_cstr(t, "application/*"))
			json = true;
		else if (http1_str_ieq_cstr(t, "text/event-stream") || http1_str_ieq_cstr(t, "text/*"))
			sse = true;
	}
	return json && sse;
}

static bool name_allowed(const struct supervise_options *o, struct str host)
{
	size_t i;

	for (i = 0; i < o->nallowed_hosts; i++)
		if (http1_str_ieq_cstr(host, o->allowed_hosts[i]))
			return true;
	return false;
}

/* Host: an allowed name, or any IP literal.  DNS rebinding needs a name
 * (the attacker's, which resolves to us), so an address in Host is what a
 * client inside the bundle network sends, never a rebound page. */
bool protocol_host_allowed(const struct supervise_options *o, struct str host)
{
	struct http1_authority a;

	if (host.len == 0 || http1_authority_parse(host, &a) < 0)
		return false;
	return a.kind == HTTP1_HOST_IPV4 || a.kind == HTTP1_HOST_IPV6 || name_allowed(o, a.host);
}

bool protocol_origin_allowed(const struct supervise_options *o, struct str origin)
{
	struct http1_authority a;
	struct str rest;

	if (origin.len > 7 && http1_str_ieq_cstr((struct str){ origin.p, 7 }, "http://"))
		rest = (struct str){ origin.p + 7, origin.len - 7 };
	else if (origin.len > 8 && http1_str_ieq_cstr((struct str){ origin.p, 8 }, "https://"))
		rest = (struct str){ origin.p + 8, origin.len - 8 };
	else
		return false; /* "null", other schemes, garbage */
	/* An origin is scheme://host[:port] and nothing after it.  Only the
	 * listed names: a page served from some address is still a page. */
	if (memchr(rest.p, '/', rest.len) || http1_authority_parse(rest, &a) < 0)
		return false;
	return name_allowed(o, a.host);
}

bool protocol_bearer_ok(struct str authorization, const char *token)
{
	size_t tlen = strlen(token), i;
	unsigned char diff = 0;

	if (authorization.len != 7 + tlen ||
	    !http1_str_ieq_cstr((struct str){ authorization.p, 7 }, "bearer "))
		return false;
	for (i = 0; i < tlen; i++)
		diff |= (unsigned char)(authorization.p[7 + i] ^ token[i]);
	return diff == 0;
}

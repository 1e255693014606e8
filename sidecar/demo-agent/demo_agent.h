/* sidecar demo-agent: the agent of `bottle-host start demo` (docs/demo.md).
 *
 * It runs inside a real bottle and does what an agent does, with nothing
 * but what the launcher gave it (the proxy variables, the bottle CA in
 * SSL_CERT_FILE, BOTTLE_CANARY, git's GIT_CONFIG_* rewrites,
 * BOTTLE_MCP_URL): HTTPS requests through egress, a clone and pushes
 * through the git gate, an MCP call to supervise.  Each step prints what
 * the sidecar decided and whether that was the expected decision.
 *
 * demo_agent_http.c is a small HTTP/1.1 client (plain, or TLS through the
 * proxy's CONNECT) on the project's strict parser; demo_agent_git.c drives
 * libgit2; demo_agent_main.c runs the steps. */
#ifndef SIDECAR_DEMO_AGENT_H
#define SIDECAR_DEMO_AGENT_H

#include <stdbool.h>
#include <stddef.h>

#include "../../shared/buf.h"

/* What came back from one request: the sidecar's decision as the agent
 * sees it.  status 0 means no HTTP answer at all (`error` says why). */
struct demo_answer {
	int status;
	char egress[64];    /* X-Bottle-Egress, "" when absent */
	char session[128];  /* Mcp-Session-Id, "" when absent */
	char line[200];     /* the body's first line, control bytes replaced */
	char error[256];
	bool connect_refused; /* the proxy answered the CONNECT itself */
	struct buf body;    /* capped; demo_answer_release() frees it */
};

void demo_answer_init(struct demo_answer *a);
void demo_answer_release(struct demo_answer *a);

/* GET https://host:port/target through the proxy in `proxy_url`
 * ("http://HOST:PORT"), trusting the PEM bundle `ca_file`.  0 when an
 * answer (from egress or the origin) arrived, else -errno with a->error. */
int demo_https_get(const char *proxy_url, const char *ca_file, const char *host, int port,
		   const char *target, struct demo_answer *a);
/* POST `json` to the plain-HTTP `url` with the MCP headers (Accept of both
 * types; Mcp-Session-Id and MCP-Protocol-Version when given). */
int demo_mcp_post(const char *url, const char *session, const char *version, const char *json,
		  struct demo_answer *a);

/* ---- git (demo_agent_git.c) ---- */

struct demo_git_result {
	char url[512];      /* where git actually went, after insteadOf */
	char detail[512];   /* what the step found, one line */
	char refused[512];  /* a push the gate refused: its reason */
	bool ok;            /* the operation did what git says it did */
};

/* Clone `upstream` into `dir` with the GIT_CONFIG_* rules of the
 * environment applied to the clone's own config, as git would apply them
 * (libgit2 does not read GIT_CONFIG_COUNT).  0 or -errno; r says more. */
int demo_git_clone(const char *upstream, const char *dir, struct demo_git_result *r);
/* Commit `content` as `path` on a new commit over HEAD (or over the
 * branch's current tip), then push it to refs/heads/<branch> of origin.
 * r->ok: the gate accepted it; r->refused: the gate's reason. */
int demo_git_commit_push(const char *dir, const char *branch, const char *path,
			 const char *content, struct demo_git_result *r);

#endif

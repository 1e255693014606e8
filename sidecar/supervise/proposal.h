/* The tools that queue a proposal for the operator and wait for the answer
 * (proposal.c), and the validated arguments they share with tools.c. */
#ifndef SIDECAR_SUPERVISE_PROPOSAL_H
#define SIDECAR_SUPERVISE_PROPOSAL_H

#include "supervise.h"

#include "../../shared/queue.h"
#include "../../shared/routes.h"

struct tool_proposal {
	const char *routes_yaml;   /* borrowed from the request */
	size_t routes_len;
	const char *justification;
	uint64_t expires_in, max_requests; /* 0: not asked for */
	struct routes *routes;     /* the loaded proposal; the caller unrefs it */
};

/* Check egress-allow (allow) or egress-block arguments and load the routes
 * with the loader egress uses.  0, or -EINVAL with a message for the agent. */
int tools_validate_proposal(yyjson_val *args, bool allow, struct tool_proposal *p, char *msg,
			    size_t msg_len);

int proposal_tool(struct tool_context *t, enum queue_kind kind, yyjson_val *args,
		  struct buf *result);
int proposal_status_tool(struct tool_context *t, yyjson_val *args, struct buf *result);
/* Act on answers no call waits for (timed out, or given while the server
 * was down): apply approvals, archive.  Called every few seconds. */
void proposal_sweep(const struct supervise_options *o);

#endif

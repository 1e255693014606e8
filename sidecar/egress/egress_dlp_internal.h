/* Between egress_dlp.c, egress_dlp_hold.c and egress_ws.c. */
#ifndef SIDECAR_EGRESS_DLP_INTERNAL_H
#define SIDECAR_EGRESS_DLP_INTERNAL_H

#include "egress_dlp.h"

/* "query", "header x-api-key", "body" */
void egress_dlp_finding_where(const struct dlp_finding *f, char *out, size_t len);

/* What the operator is asked about one value. */
struct egress_dlp_hold {
	const struct dlp_finding *finding;
	const char *value;      /* the raw bytes of its span: never logged, never written */
	size_t value_len;
	const char *method, *host, *path; /* path: already redacted */
	int client_fd;          /* a client that leaves ends the wait */
	bool no_wait;           /* the request is gone already: propose, look once */
};

/* Propose the value to the operator (or find an earlier proposal for the
 * same value_hash) and wait for the answer.  0: approved, the value is
 * exempt from now on; else an HTTP status (403, 499) with reason set and
 * id naming the proposal (empty when none was made). */
int egress_dlp_hold_value(struct egress *egress, const struct egress_dlp_hold *h, char *id,
			  char *reason, size_t reason_len);

/* Hold the request on d->verdict.finding. */
int egress_dlp_request_hold(struct egress_dlp_request *d, struct egress_connection *c);

#endif

/* The transports: each turns a client into a struct gitgate_session. */
#ifndef SIDECAR_GITGATE_TRANSPORT_H
#define SIDECAR_GITGATE_TRANSPORT_H

#include "gitgate.h"

/* "version=2" (GIT_PROTOCOL, Git-Protocol, git:// extra parameters,
 * colon-separated): the highest version asked for, 0 when none. */
int transport_protocol_parse(const char *value);

/* One service over stdin/stdout.  0 or a negative errno (logged). */
int transport_stdio_serve(struct gitgate *gate, enum gitgate_service service,
			  const char *repo_name);

#endif

/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int push_scan(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
	      size_t n, struct buf *messages)
{
	/* Passes everything until push_scan.c lands, so receive-pack can be
	 * built and tested meanwhile. */
	(void)s; (void)repo; (void)cmds; (void)n; (void)messages;
	return 0;
}

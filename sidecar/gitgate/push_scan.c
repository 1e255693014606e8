/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int push_scan(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
	      size_t n, struct buf *messages)
{
	(void)repo; (void)cmds; (void)n; (void)messages;
	error_format(s->err, sizeof(s->err), "push scanning is not built yet");
	return -ENOSYS;
}

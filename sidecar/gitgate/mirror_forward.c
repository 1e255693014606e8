/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int mirror_forward(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
		   size_t n, struct buf *messages, char *err, size_t err_len)
{
	(void)s; (void)repo; (void)cmds; (void)n; (void)messages;
	error_format(err, err_len, "forwarding is not built yet");
	return -ENOSYS;
}

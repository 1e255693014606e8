/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int access_hook_check(struct gitgate_session *s, const char *repo_name, char *message,
		      size_t message_len)
{
	(void)s; (void)repo_name; (void)message; (void)message_len;
	return 0;
}

/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int mirror_refresh(struct gitgate *gate, struct gitgate_repo *repo, bool force, char *err,
		   size_t err_len)
{
	(void)gate; (void)repo; (void)force;
	error_format(err, err_len, "mirroring is not built yet");
	return -ENOSYS;
}

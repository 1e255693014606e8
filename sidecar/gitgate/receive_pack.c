/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int receive_pack_serve(struct gitgate_session *s)
{
	error_format(s->err, sizeof(s->err), "receive-pack is not built yet");
	return -ENOSYS;
}

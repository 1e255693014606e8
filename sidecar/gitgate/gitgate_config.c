/* PLACEHOLDER: replaced by the module's real implementation this session. */
#include "gitgate.h"

#include <errno.h>

#include "../../shared/log.h"

int gitgate_config_load(const char *path, struct gitgate_config *out, char *err, size_t err_len)
{
	(void)path; (void)out;
	error_format(err, err_len, "config loading is not built yet");
	return -ENOSYS;
}

void gitgate_config_release(struct gitgate_config *c)
{
	(void)c;
}

/* What every network transport does between naming a repository and
 * running the service (transport.h). */
#include "transport.h"

#include <errno.h>
#include <string.h>

#include "../../shared/log.h"

const char *transport_service_name(enum gitgate_service service)
{
	return service == GITGATE_UPLOAD_PACK ? "git-upload-pack" : "git-receive-pack";
}

int transport_session_open(struct gitgate_session *s, const char *name, size_t len,
			   char *message, size_t message_len)
{
	char err[256];
	int ret;

	s->repo = gitgate_repo_find(s->gate, name, len);
	if (!s->repo) {
		/* Only a well-formed name is echoed back. */
		if (gitgate_repo_name_valid(name, len))
			error_format(message, message_len, "repository '%.*s' not found", (int)len,
				     name);
		else
			error_format(message, message_len, "not a repository name");
		return -ENOENT;
	}
	ret = access_hook_check(s, s->repo->config->name, message, message_len);
	if (ret < 0)
		return -EACCES; /* a hook that could not run denies too */
	if (s->repo->config->upstream) {
		ret = mirror_refresh(s->gate, s->repo, false, err, sizeof(err));
		if (ret < 0) {
			error_format(message, message_len, "%s: no mirror of the upstream to serve: %s",
				     s->repo->config->name, err);
			return -EAGAIN;
		}
	}
	return 0;
}

int transport_session_run(struct gitgate_session *s)
{
	return s->service == GITGATE_UPLOAD_PACK ? upload_pack_serve(s) : receive_pack_serve(s);
}

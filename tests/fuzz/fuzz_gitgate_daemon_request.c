/* libFuzzer target: transport_daemon_request_parse(), the git:// request
 * line ("git-upload-pack /repo.git\0host=h:p\0\0version=2\0").
 *
 * Invariants checked:
 * - the answer is 0 or -EINVAL with a one-line reason free of control bytes;
 * - an accepted request's repo and host point inside the input, the repo
 *   is a valid repository name, the host holds no NUL, and the protocol is
 *   0, 1 or 2.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sidecar/gitgate/transport.h"
#include "fuzz.h"

static bool inside(struct str s, const char *p, size_t size)
{
	return s.len == 0 || (s.p >= p && s.p + s.len <= p + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct transport_daemon_request r;
	char err[256];
	int ret;

	err[0] = '\0';
	ret = transport_daemon_request_parse((struct str){ p, size }, &r, err, sizeof(err));
	CHECK(ret == 0 || ret == -EINVAL);
	if (ret < 0) {
		CHECK(err[0] != '\0');
		for (const char *c = err; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
		return 0;
	}
	CHECK(inside(r.repo, p, size) && inside(r.host, p, size));
	CHECK(gitgate_repo_name_valid(r.repo.p, r.repo.len));
	CHECK(r.host.len == 0 || !memchr(r.host.p, '\0', r.host.len));
	CHECK(r.protocol >= 0 && r.protocol <= 2);
	CHECK(r.service == GITGATE_UPLOAD_PACK || r.service == GITGATE_RECEIVE_PACK);
	return 0;
}

/* libFuzzer target: transport_http_target_parse(), the smart-HTTP path and
 * query the git gate takes from a client.
 *
 * Input: a path, then optionally '?' and a query.
 * Invariants checked:
 * - the answer is 0, -EINVAL or -ENOENT, with a one-line reason that holds
 *   no control byte whenever it is not 0 (or the kind is dumb HTTP);
 * - an accepted target names a valid repository name, NUL-terminated, of
 *   repo_len bytes, and the decoded path never holds a ".." segment.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../sidecar/gitgate/transport.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *question = memchr(p, '?', size);
	struct str path = { p, question ? (size_t)(question - p) : size };
	struct str query = question ? (struct str){ question + 1, size - path.len - 1 } :
				      (struct str){ "", 0 };
	struct transport_http_target t;
	char err[256];
	int ret;

	err[0] = '\0';
	ret = transport_http_target_parse(path, query, question != NULL, &t, err, sizeof(err));
	CHECK(ret == 0 || ret == -EINVAL || ret == -ENOENT);
	if (ret < 0 || t.kind == TRANSPORT_HTTP_DUMB) {
		CHECK(err[0] != '\0');
		for (const char *c = err; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	}
	if (ret == 0) {
		CHECK(t.repo_len > 0 && t.repo_len <= 100);
		CHECK(strlen(t.repo) == t.repo_len);
		CHECK(gitgate_repo_name_valid(t.repo, t.repo_len));
		CHECK(t.service == GITGATE_UPLOAD_PACK || t.service == GITGATE_RECEIVE_PACK);
	}
	return 0;
}

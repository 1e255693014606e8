/* libFuzzer target: gitgate.yaml, the git gate's config loader.
 *
 * The input is written to <tmpdir>/gitgate.yaml and loaded with
 * gitgate_config_load(), the one entry point the gate has.
 * Invariants checked:
 * - a load returns 0 with every default or value filled, or -EINVAL with
 *   the config left empty and a one-line message that starts with the
 *   file's name;
 * - a loaded config has unique, valid repository names, NULL-terminated
 *   protected lists whose entries start with "refs/", and at most one of
 *   token_env and deploy_key per repository.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <unistd.h>

#include "../../sidecar/gitgate/gitgate.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_write("gitgate.yaml", data, size);
	struct gitgate_config c;
	char err[1024];
	int ret;

	ret = gitgate_config_load(path, &c, err, sizeof(err));
	if (ret < 0) {
		CHECK(ret == -EINVAL || ret == -ENOMEM);
		CHECK(strncmp(err, path, strlen(path)) == 0);
		CHECK(!strchr(err, '\n'));
		CHECK(c.repos == NULL && c.path == NULL && c.data_dir == NULL);
		return 0;
	}
	CHECK(c.path && c.data_dir && c.data_dir[0] == '/');
	CHECK(c.hook_timeout_ms >= 100 && c.request_max >= 64 * 1024);
	for (size_t i = 0; i < c.nrepos; i++) {
		const struct gitgate_repo_config *r = &c.repos[i];

		CHECK(r->name && gitgate_repo_name_valid(r->name, strlen(r->name)));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(c.repos[j].name, r->name) != 0);
		CHECK(r->protected_refs);
		for (char **ref = r->protected_refs; *ref; ref++)
			CHECK(strncmp(*ref, "refs/", 5) == 0);
		CHECK(!(r->token_env && r->deploy_key));
	}
	gitgate_config_release(&c);
	return 0;
}

/* libFuzzer target: the DLP rules loader (shared/dlp_rules.c).
 *
 * Input: a rules file.  Invariants checked:
 * - a load returns 0 or a negative errno; on error the message starts with
 *   the file name, holds no control byte, and no rule was added;
 * - a loaded file builds, and its rules scan a fixed text without error;
 * - loading the same text a second time fails (every id is defined twice)
 *   unless the file has no rules.
 */
#include "../../shared/buf.h"
#include "../../shared/config_yaml.h"
#include "../../shared/dlp_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static const char text[] =
	"token ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5 key=AKIAIOSFODNN7EXAMPL3 "
	"postgres://u:s3cr3tpw@db/x secret=abcdefgh -----BEGIN PRIVATE KEY----- aaaa";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dlp_engine *e = dlp_engine_new(NULL);
	struct dlp_scan s;
	char err[512];
	size_t i, n;
	int ret;

	CHECK(e);
	ret = dlp_engine_load_rules_string(e, "fuzz.yaml", (const char *)data, size, err,
					   sizeof(err));
	for (i = 0; err[i]; i++)
		CHECK((unsigned char)err[i] >= 0x20);
	if (ret < 0) {
		CHECK(strncmp(err, "fuzz.yaml", 9) == 0);
		CHECK(dlp_engine_rule_count(e) == 0);
		dlp_engine_free(e);
		return 0;
	}
	CHECK(err[0] == '\0');
	n = dlp_engine_rule_count(e);
	ret = dlp_engine_load_rules_string(e, "again.yaml", (const char *)data, size, err,
					   sizeof(err));
	CHECK(n == 0 ? ret == 0 : ret < 0);
	CHECK(dlp_engine_rule_count(e) == n);
	CHECK(dlp_engine_build(e, err, sizeof(err)) == 0);
	CHECK(dlp_scan_init(&s, e) == 0);
	CHECK(dlp_scan_part(&s, DLP_WHERE_BODY, NULL, text, sizeof(text) - 1) == 0);
	for (i = 0; i < s.findings.n; i++)
		CHECK(s.findings.v[i].offset + s.findings.v[i].len <= sizeof(text) - 1);
	dlp_scan_release(&s);
	dlp_engine_free(e);
	return 0;
}

/* libFuzzer target: queue_proposal_parse(), queue_response_parse(),
 * queue_grant_end_parse() and queue_audit_verify().
 *
 * Input: the bytes of a proposal, response or grant-end file, or of an
 * audit log (every parser sees it).
 * Invariants checked:
 * - a parse returns 0 with every required field or -EINVAL with nothing
 *   allocated and a message that starts with the file name and holds no
 *   control byte;
 * - a parsed proposal passes queue_proposal_check(), and its encoding
 *   parses again to the same encoding (likewise for a response);
 * - a grant end fails with -EBADMSG and a message that starts with its
 *   file name and holds no control byte, or names the file's grant, one
 *   of the two reasons and a UTC time (grants/<id>.ended.json);
 * - the audit log (its lines all checked; there is no .head file, so only
 *   an empty log verifies) fails with -EBADMSG and a message free of
 *   control bytes, or holds: 0, never more entries than lines.
 */
#include "../../shared/log.h"
#include "../../shared/queue.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define NAME "q/pending/p1.json"
#define GRANT_END_NAME "q/grants/p1.ended.json"

static void check_message(const char *name, const char *err)
{
	size_t i;

	CHECK(strncmp(err, name, strlen(name)) == 0 && strncmp(err + strlen(name), ": ", 2) == 0);
	for (i = 0; err[i]; i++)
		CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
}

static void check_proposal(const char *text, size_t size)
{
	struct queue_proposal p, again;
	char err[512] = "", err2[512];
	char *out = NULL, *out2 = NULL;
	size_t len, len2;
	int ret = queue_proposal_parse(NAME, text, size, &p, err, sizeof(err));

	if (ret < 0) {
		CHECK(ret == -EINVAL);
		CHECK(!p.bottle && !p.justification && !p.routes_yaml && !p.value_hash);
		check_message(NAME, err);
		return;
	}
	CHECK(p.bottle && p.justification && queue_id_valid(p.id));
	CHECK(queue_proposal_check(&p, err, sizeof(err)) == 0);
	CHECK(queue_proposal_encode(&p, &out, &len) == 0);
	CHECK(queue_proposal_parse(NAME, out, len, &again, err2, sizeof(err2)) == 0);
	CHECK(queue_proposal_encode(&again, &out2, &len2) == 0);
	CHECK(len == len2 && memcmp(out, out2, len) == 0);
	free(out);
	free(out2);
	queue_proposal_release(&again);
	queue_proposal_release(&p);
}

static void check_response(const char *text, size_t size)
{
	struct queue_response r, again;
	char err[512] = "", err2[512];
	char *out = NULL, *out2 = NULL;
	size_t len, len2;
	int ret = queue_response_parse(NAME, text, size, &r, err, sizeof(err));

	if (ret < 0) {
		CHECK(ret == -EINVAL);
		CHECK(!r.note && !r.who && !r.routes_yaml);
		check_message(NAME, err);
		return;
	}
	CHECK(r.who && queue_id_valid(r.id));
	CHECK((r.verdict == QUEUE_MODIFIED) == (r.routes_yaml != NULL));
	CHECK(queue_response_encode(&r, &out, &len) == 0);
	CHECK(queue_response_parse(NAME, out, len, &again, err2, sizeof(err2)) == 0);
	CHECK(queue_response_encode(&again, &out2, &len2) == 0);
	CHECK(len == len2 && memcmp(out, out2, len) == 0);
	free(out);
	free(out2);
	queue_response_release(&again);
	queue_response_release(&r);
}

static void check_grant_end(const char *text, size_t size)
{
	struct queue_grant_end e;
	char err[512] = "";
	int ret = queue_grant_end_parse(GRANT_END_NAME, text, size, &e, err, sizeof(err));

	if (ret < 0) {
		CHECK(ret == -EBADMSG);
		check_message(GRANT_END_NAME, err);
		return;
	}
	CHECK(strcmp(e.id, "p1") == 0);
	CHECK(e.reason == QUEUE_GRANT_EXPIRED || e.reason == QUEUE_GRANT_MAX_REQUESTS);
	CHECK(queue_grant_end_reason_name(e.reason) != NULL);
	CHECK(e.ended[0] && memchr(e.ended, '\0', sizeof(e.ended)));
}

static void check_audit(const uint8_t *data, size_t size)
{
	const char *path = fuzz_file_write("audit.log", data, size);
	size_t entries, lines = 0;
	char err[512] = "";
	int ret = queue_audit_verify(path, &entries, err, sizeof(err));

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	CHECK(ret == 0 || ret == -EBADMSG);
	CHECK(entries <= lines);
	if (ret < 0) {
		CHECK(strncmp(err, "audit: ", 7) == 0);
		for (size_t i = 0; err[i]; i++)
			CHECK((unsigned char)err[i] >= 0x20 && err[i] != 0x7f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_proposal((const char *)data, size);
	check_response((const char *)data, size);
	check_grant_end((const char *)data, size);
	check_audit(data, size);
	return 0;
}

/* libFuzzer target: queue_proposal_parse() and queue_response_parse().
 *
 * Input: the bytes of a proposal or response file (both parsers see it).
 * Invariants checked:
 * - a parse returns 0 with every required field or -EINVAL with nothing
 *   allocated and a message that starts with the file name and holds no
 *   control byte;
 * - a parsed proposal passes queue_proposal_check(), and its encoding
 *   parses again to the same encoding (likewise for a response).
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

static void check_message(const char *err)
{
	size_t i;

	CHECK(strncmp(err, NAME ": ", sizeof(NAME ": ") - 1) == 0);
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
		check_message(err);
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
		check_message(err);
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_proposal((const char *)data, size);
	check_response((const char *)data, size);
	return 0;
}

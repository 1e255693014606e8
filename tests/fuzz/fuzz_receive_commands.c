/* libFuzzer target: receive-pack's request parser (receive_request_parse,
 * receive_pack_commands.c) over raw pkt-lines.
 *
 * Input: the bytes a client sends after the advertisement.
 * Invariants checked:
 * - the result is 1 (complete), 0 (incomplete) or -EPROTO / -E2BIG, with a
 *   one-line message free of control bytes on an error;
 * - the cursor never passes the end; on 0 every packet before it was taken;
 * - a complete request holds at most RECEIVE_MAX_COMMANDS commands, each
 *   with a ref under no control byte, a failed one with a reason, and the
 *   push options within their bounds;
 * - the same bytes offered one more byte at a time give the same result,
 *   the same stop and the same commands.
 */
#include "../../shared/buf.h"
#include "../../shared/log.h"
#include "../../sidecar/gitgate/gitgate.h"
#include "../../sidecar/gitgate/pkt_line.h"
#include "../../sidecar/gitgate/receive_pack.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

static void check_request(const struct receive_request *r, int ret)
{
	CHECK(r->ncmds <= RECEIVE_MAX_COMMANDS);
	CHECK(r->npush_options <= RECEIVE_MAX_PUSH_OPTIONS);
	CHECK(r->push_options_bytes <= RECEIVE_PUSH_OPTIONS_MAX_BYTES);
	CHECK((ret == 1) == (r->stage == RECEIVE_DONE));
	for (size_t i = 0; i < r->ncmds; i++) {
		const struct push_command *cmd = &r->cmds[i];
		CHECK(cmd->ref && cmd->ref[0]);
		for (const char *c = cmd->ref; *c; c++)
			CHECK((unsigned char)*c > ' ' && *c != 0x7f);
		CHECK(!cmd->failed || cmd->reason[0]);
		if (!cmd->failed)
			CHECK(strncmp(cmd->ref, "refs/", 5) == 0);
	}
	for (size_t i = 0; i < r->npush_options; i++)
		CHECK(r->push_options[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so ASan sees any read past the end. */
	char *text = malloc(size ? size : 1);
	struct receive_request whole, steps;
	char err[256] = "", err2[256] = "";
	const char *p, *q;
	int ret, ret2 = 0;

	memcpy(text, data, size);
	receive_request_init(&whole);
	p = text;
	ret = receive_request_parse(&whole, &p, text + size, err, sizeof(err));
	CHECK(ret == 1 || ret == 0 || ret == -EPROTO || ret == -E2BIG);
	CHECK(p >= text && p <= text + size);
	if (ret < 0) {
		CHECK(err[0]);
		for (const char *c = err; *c; c++)
			CHECK((unsigned char)*c >= 0x20 && *c != 0x7f);
	} else {
		check_request(&whole, ret);
	}

	/* One more byte at a time: the same end, unless the bytes ran out. */
	receive_request_init(&steps);
	q = text;
	for (size_t end = 0; end <= size && ret2 == 0; end++)
		ret2 = receive_request_parse(&steps, &q, text + end, err2, sizeof(err2));
	CHECK(ret2 == ret);
	CHECK(q == p);
	CHECK(steps.ncmds == whole.ncmds && steps.npush_options == whole.npush_options);
	for (size_t i = 0; i < whole.ncmds; i++) {
		CHECK(strcmp(steps.cmds[i].ref, whole.cmds[i].ref) == 0);
		CHECK(steps.cmds[i].failed == whole.cmds[i].failed);
	}
	receive_request_release(&steps);
	receive_request_release(&whole);
	free(text);
	return 0;
}

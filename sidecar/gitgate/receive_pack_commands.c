/* receive-pack's request (gitprotocol-pack(5), "Reference Update Request"):
 *
 *   shallow <id>                          zero or more, from a shallow clone
 *   <old-id> <new-id> <ref>\0<capabilities>
 *   <old-id> <new-id> <ref>               one or more
 *   0000
 *   <push option>...  0000                when push-options was negotiated
 *
 * then the pack when any command is not a delete. */
#include "receive_pack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/log.h"

#define REF_NAME_MAX 1024

void receive_request_init(struct receive_request *r)
{
	memset(r, 0, sizeof(*r));
	r->stage = RECEIVE_SHALLOW_OR_COMMANDS;
}

void receive_request_release(struct receive_request *r)
{
	for (size_t i = 0; i < r->ncmds; i++)
		free(r->cmds[i].ref);
	free(r->cmds);
	for (size_t i = 0; i < r->npush_options; i++)
		free(r->push_options[i]);
	free(r->push_options);
	receive_request_init(r);
}

void push_command_fail(struct push_command *cmd, const char *fmt, ...)
{
	va_list args;

	if (cmd->failed)
		return; /* the first reason is the one the client sees */
	cmd->failed = true;
	va_start(args, fmt);
	vsnprintf(cmd->reason, sizeof(cmd->reason), fmt, args);
	va_end(args);
}

void push_command_describe(const struct push_command *cmd, char *out, size_t out_len)
{
	char old_hex[8], new_hex[8];

	git_oid_tostr(old_hex, sizeof(old_hex), &cmd->old_id);
	git_oid_tostr(new_hex, sizeof(new_hex), &cmd->new_id);
	snprintf(out, out_len, "%s..%s", old_hex, new_hex);
}

bool receive_request_wants_pack(const struct receive_request *r)
{
	for (size_t i = 0; i < r->ncmds; i++)
		if (!git_oid_is_zero(&r->cmds[i].new_id))
			return true;
	return false;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1; /* git sends lowercase; anything else is not an id */
}

/* 40 lowercase hex digits at *p, then `sep`. */
static int parse_id(const char **p, const char *end, char sep, git_oid *out)
{
	const char *at = *p;

	if (end - at < GIT_OID_SHA1_HEXSIZE + 1 || at[GIT_OID_SHA1_HEXSIZE] != sep)
		return -EPROTO;
	memset(out, 0, sizeof(*out));
	for (int i = 0; i < GIT_OID_SHA1_SIZE; i++) {
		int high = hex_value(at[2 * i]), low = hex_value(at[2 * i + 1]);
		if (high < 0 || low < 0)
			return -EPROTO;
		out->id[i] = (unsigned char)(high << 4 | low);
	}
	*p = at + GIT_OID_SHA1_HEXSIZE + 1;
	return 0;
}

/* The capabilities after the first command's NUL.  Unknown ones are
 * ignored, as git does; an object format other than sha1 cannot work. */
static int parse_capabilities(struct receive_request *r, struct str list, char *err,
			      size_t err_len)
{
	struct str value;

	r->report_status = capability_find(list, "report-status", NULL);
	r->report_status_v2 = capability_find(list, "report-status-v2", NULL);
	r->side_band_64k = capability_find(list, "side-band-64k", NULL);
	r->quiet = capability_find(list, "quiet", NULL);
	r->atomic = capability_find(list, "atomic", NULL);
	r->push_options_asked = capability_find(list, "push-options", NULL);
	if (capability_find(list, "object-format", &value) && !str_equal_cstr(value, "sha1")) {
		/* not echoed: the client's bytes never reach a message */
		error_format(err, err_len, "the client asks for an object format other than "
			     "sha1; the gate serves sha1 repositories only");
		return -EPROTO;
	}
	return 0;
}

/* Bytes a ref name may never hold, whatever git's finer rules say: those
 * are checked with libgit2 later (receive_ref_name_valid). */
static bool ref_bytes_plain(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == 0x7f)
			return false;
	return true;
}

static int add_command(struct receive_request *r, struct str line, char *err, size_t err_len)
{
	const char *p = line.p, *end = line.p + line.len;
	const char *nul = memchr(p, '\0', line.len);
	struct push_command *cmd;
	int ret;

	if (r->ncmds == RECEIVE_MAX_COMMANDS) {
		error_format(err, err_len, "more than %d ref updates in one push",
			     RECEIVE_MAX_COMMANDS);
		return -E2BIG;
	}
	if (nul) {
		if (r->ncmds > 0) {
			error_format(err, err_len, "capabilities after the first command");
			return -EPROTO;
		}
		ret = parse_capabilities(r, (struct str){ nul + 1, (size_t)(end - nul - 1) }, err,
					 err_len);
		if (ret < 0)
			return ret;
		end = nul;
	}
	if (r->ncmds == r->cmds_cap) {
		size_t cap = r->cmds_cap ? r->cmds_cap * 2 : 8;
		struct push_command *grown = realloc(r->cmds, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		r->cmds = grown;
		r->cmds_cap = cap;
	}
	cmd = &r->cmds[r->ncmds];
	memset(cmd, 0, sizeof(*cmd));
	if (parse_id(&p, end, ' ', &cmd->old_id) < 0 || parse_id(&p, end, ' ', &cmd->new_id) < 0) {
		error_format(err, err_len, "malformed ref update (want '<old-id> <new-id> <ref>')");
		return -EPROTO;
	}
	if (p == end || (size_t)(end - p) > REF_NAME_MAX || !ref_bytes_plain(p, (size_t)(end - p))) {
		error_format(err, err_len, "malformed ref name in a ref update");
		return -EPROTO;
	}
	cmd->ref = strndup(p, (size_t)(end - p));
	if (!cmd->ref)
		return -ENOMEM;
	r->ncmds++;
	if (git_oid_is_zero(&cmd->old_id) && git_oid_is_zero(&cmd->new_id))
		push_command_fail(cmd, "nothing to do: both ids are zero");
	else if (strncmp(cmd->ref, "refs/", 5) != 0)
		push_command_fail(cmd, "refusing to update '%s': not under refs/", cmd->ref);
	for (size_t i = 0; i + 1 < r->ncmds; i++)
		if (strcmp(r->cmds[i].ref, cmd->ref) == 0) {
			push_command_fail(cmd, "the push updates this ref twice");
			break;
		}
	return 0;
}

static int add_push_option(struct receive_request *r, struct str option, char *err,
			   size_t err_len)
{
	char **grown;

	if (r->npush_options == RECEIVE_MAX_PUSH_OPTIONS ||
	    r->push_options_bytes + option.len > RECEIVE_PUSH_OPTIONS_MAX_BYTES) {
		error_format(err, err_len, "more than %d push options or %d bytes of them",
			     RECEIVE_MAX_PUSH_OPTIONS, RECEIVE_PUSH_OPTIONS_MAX_BYTES);
		return -E2BIG;
	}
	if (memchr(option.p, '\0', option.len)) {
		error_format(err, err_len, "a push option holds a NUL byte");
		return -EPROTO;
	}
	grown = realloc(r->push_options, (r->npush_options + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	r->push_options = grown;
	r->push_options[r->npush_options] = strndup(option.p, option.len);
	if (!r->push_options[r->npush_options])
		return -ENOMEM;
	r->npush_options++;
	r->push_options_bytes += option.len;
	return 0;
}

int receive_request_feed(struct receive_request *r, const struct pkt *pkt, char *err,
			 size_t err_len)
{
	struct str line = pkt_chomp(pkt->data);

	if (r->stage == RECEIVE_DONE) {
		error_format(err, err_len, "data after the end of the request");
		return -EPROTO;
	}
	if (pkt->kind == PKT_FLUSH) {
		if (r->stage == RECEIVE_PUSH_OPTIONS || r->ncmds == 0 || !r->push_options_asked) {
			/* A flush before any command: the client has nothing to
			 * push (git sends that when every ref is up to date). */
			r->stage = RECEIVE_DONE;
			return 1;
		}
		r->stage = RECEIVE_PUSH_OPTIONS;
		return 0;
	}
	if (pkt->kind != PKT_DATA) {
		error_format(err, err_len, "a protocol v2 delimiter in a push request");
		return -EPROTO;
	}
	if (r->stage == RECEIVE_PUSH_OPTIONS)
		return add_push_option(r, line, err, err_len);
	if (r->stage == RECEIVE_SHALLOW_OR_COMMANDS && line.len >= 8 &&
	    memcmp(line.p, "shallow ", 8) == 0) {
		const char *p = line.p + 8;
		git_oid id;
		/* parse_id wants a separator after the id: check the length
		 * and the digits with one made-up LF. */
		char copy[GIT_OID_SHA1_HEXSIZE + 1];
		if (line.len != 8 + GIT_OID_SHA1_HEXSIZE) {
			error_format(err, err_len, "malformed shallow line");
			return -EPROTO;
		}
		memcpy(copy, p, GIT_OID_SHA1_HEXSIZE);
		copy[GIT_OID_SHA1_HEXSIZE] = '\n';
		p = copy;
		if (parse_id(&p, copy + sizeof(copy), '\n', &id) < 0) {
			error_format(err, err_len, "malformed shallow line");
			return -EPROTO;
		}
		r->shallow = true;
		return 0;
	}
	r->stage = RECEIVE_COMMANDS;
	return add_command(r, line, err, err_len);
}

int receive_request_parse(struct receive_request *r, const char **p, const char *end, char *err,
			  size_t err_len)
{
	for (;;) {
		const char *at = *p;
		struct pkt pkt;
		int ret = pkt_parse(&at, end, &pkt, err, err_len);

		if (ret == -EAGAIN)
			return 0;
		if (ret < 0)
			return ret;
		*p = at;
		ret = receive_request_feed(r, &pkt, err, err_len);
		if (ret != 0)
			return ret;
	}
}

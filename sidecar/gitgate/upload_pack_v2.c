/* upload-pack, protocol v2 (gitprotocol-v2(5)): the capability
 * advertisement, then commands, each "command=NAME", capabilities, a
 * delimiter, arguments and a flush.  ls-refs lists refs; fetch negotiates
 * in sections (acknowledgments, shallow-info, packfile).  An unknown
 * command, capability or argument is an error the client sees ("ERR"),
 * never a hang.  Over stateless RPC (smart-HTTP) one request is one
 * command. */
#include "upload_pack.h"

#include <errno.h>
#include <string.h>

#include "bottle_version.h"
#include "../../shared/log.h"

enum v2_command { COMMAND_LS_REFS, COMMAND_FETCH };

static int advertise_v2(struct gitgate_io *out)
{
	static const char *const lines[] = {
		"version 2\n",
		"agent=bottle-gitgate/" BOTTLE_VERSION "\n",
		"ls-refs=unborn\n",
		"fetch=shallow\n",
		"server-option\n",
		"object-format=sha1\n",
	};
	int ret = 0;

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]) && ret == 0; i++)
		ret = pkt_write(out, lines[i], strlen(lines[i]));
	if (ret == 0)
		ret = pkt_write_flush(out);
	if (ret == 0)
		ret = gitgate_io_flush(out);
	return ret;
}

/* The client's line, cut short, in the error. */
static int unexpected(struct upload_pack *u, const char *what, struct str line)
{
	char text[64];

	return upload_fail(u, -EPROTO, "%s: '%s'", what,
			   upload_line_for_message(line, text, sizeof(text)));
}

static int next_packet(struct upload_pack *u, struct pkt *pkt)
{
	int ret = upload_read(u, pkt);

	if (ret == -ENODATA)
		return upload_fail(u, -EPIPE, "the request ended early");
	if (ret < 0)
		return upload_fail(u, ret, "%s", u->reader->err[0] ? u->reader->err :
						    "reading the request failed");
	return 0;
}

/* "command=NAME" and the capability lines after it.  1 with *command and
 * *has_args (a delimiter came: arguments follow) set; 0 when the client
 * ends the conversation (end of input or a lone flush). */
static int command_read(struct upload_pack *u, enum v2_command *command, bool *has_args)
{
	struct pkt pkt;
	struct str line;
	int ret = upload_read(u, &pkt);

	if (ret == -ENODATA)
		return 0;
	if (ret < 0)
		return upload_fail(u, ret, "%s", u->reader->err);
	if (pkt.kind == PKT_FLUSH)
		return 0;
	if (pkt.kind != PKT_DATA)
		return upload_fail(u, -EPROTO, "protocol error: expected a command");
	line = pkt_chomp(pkt.data);
	if (str_equal_cstr(line, "command=ls-refs"))
		*command = COMMAND_LS_REFS;
	else if (str_equal_cstr(line, "command=fetch"))
		*command = COMMAND_FETCH;
	else if (upload_skip_prefix(&line, "command="))
		return unexpected(u, "unknown command", line);
	else
		return unexpected(u, "protocol error: expected a command", line);
	for (;;) {
		ret = next_packet(u, &pkt);
		if (ret < 0)
			return ret;
		if (pkt.kind == PKT_DELIM || pkt.kind == PKT_FLUSH) {
			*has_args = pkt.kind == PKT_DELIM;
			return 1;
		}
		if (pkt.kind != PKT_DATA)
			return upload_fail(u, -EPROTO, "protocol error: unexpected response end");
		line = pkt_chomp(pkt.data);
		if (upload_skip_prefix(&line, "object-format=")) {
			if (!str_equal_cstr(line, "sha1"))
				return unexpected(u, "unsupported object format", line);
			continue;
		}
		if (upload_skip_prefix(&line, "agent=") || upload_skip_prefix(&line, "session-id=") ||
		    str_equal_cstr(line, "server-option") || upload_skip_prefix(&line, "server-option="))
			continue; /* server options carry nothing for us */
		return unexpected(u, "unknown capability", pkt.data);
	}
}

/* ---- ls-refs ---- */

struct ls_refs_args {
	bool peel, symrefs, unborn;
	struct str prefixes[UPLOAD_REF_PREFIXES_MAX];
	char *prefix_copies[UPLOAD_REF_PREFIXES_MAX];
	size_t nprefixes;
	bool too_many_prefixes; /* then none applies: the list must be complete */
};

static bool prefix_matches(const struct ls_refs_args *a, const char *name)
{
	if (a->nprefixes == 0 || a->too_many_prefixes)
		return true;
	for (size_t i = 0; i < a->nprefixes; i++)
		if (strncmp(name, a->prefix_copies[i], a->prefixes[i].len) == 0)
			return true;
	return false;
}

static int ls_refs_args_read(struct upload_pack *u, struct ls_refs_args *a)
{
	struct pkt pkt;
	struct str line;
	int ret;

	for (;;) {
		ret = next_packet(u, &pkt);
		if (ret < 0)
			return ret;
		if (pkt.kind == PKT_FLUSH)
			return 0;
		if (pkt.kind != PKT_DATA)
			return upload_fail(u, -EPROTO, "expected flush after ls-refs arguments");
		line = pkt_chomp(pkt.data);
		if (str_equal_cstr(line, "peel")) {
			a->peel = true;
		} else if (str_equal_cstr(line, "symrefs")) {
			a->symrefs = true;
		} else if (str_equal_cstr(line, "unborn")) {
			a->unborn = true;
		} else if (upload_skip_prefix(&line, "ref-prefix ")) {
			if (a->nprefixes == UPLOAD_REF_PREFIXES_MAX) {
				a->too_many_prefixes = true;
				continue;
			}
			a->prefix_copies[a->nprefixes] = strndup(line.p, line.len);
			if (!a->prefix_copies[a->nprefixes])
				return -ENOMEM;
			a->prefixes[a->nprefixes++] = line;
		} else {
			return unexpected(u, "unexpected ls-refs argument", pkt.data);
		}
	}
}

static int ls_refs(struct upload_pack *u, bool has_args)
{
	struct ls_refs_args a = { 0 };
	struct gitgate_io *out = u->s->out;
	char hex[GIT_OID_SHA1_HEXSIZE + 1];
	struct buf line;
	int ret = 0;

	buf_init(&line, PKT_DATA_MAX);
	if (has_args)
		ret = ls_refs_args_read(u, &a);
	if (ret == 0)
		ret = upload_mirror_refresh(u);
	if (ret == 0)
		ret = upload_refs_load(u);
	for (size_t i = 0; i < u->nrefs && ret == 0; i++) {
		const struct upload_ref *r = &u->refs[i];

		if (!prefix_matches(&a, r->name))
			continue;
		if (r->unborn && !(a.unborn && a.symrefs))
			continue;
		buf_clear(&line);
		if (r->unborn)
			ret = buf_appendf(&line, "unborn %s", r->name);
		else
			ret = buf_appendf(&line, "%s %s", git_oid_tostr(hex, sizeof(hex), &r->oid),
					  r->name);
		if (ret == 0 && a.symrefs && r->symref_target)
			ret = buf_appendf(&line, " symref-target:%s", r->symref_target);
		if (ret == 0 && a.peel && r->has_peeled)
			ret = buf_appendf(&line, " peeled:%s",
					  git_oid_tostr(hex, sizeof(hex), &r->peeled));
		if (ret == 0)
			ret = buf_append(&line, "\n", 1);
		if (ret == 0)
			ret = pkt_write(out, line.p, line.len);
	}
	if (ret == 0)
		ret = pkt_write_flush(out);
	if (ret == 0)
		ret = gitgate_io_flush(out);
	for (size_t i = 0; i < a.nprefixes; i++)
		free(a.prefix_copies[i]);
	buf_release(&line);
	return ret;
}

/* ---- fetch ---- */

static int fetch_args_read(struct upload_pack *u, size_t *nhaves)
{
	struct pkt pkt;
	struct str line;
	int ret;

	for (;;) {
		bool matched, common;

		ret = next_packet(u, &pkt);
		if (ret < 0)
			return ret;
		if (pkt.kind == PKT_FLUSH)
			return 0;
		if (pkt.kind != PKT_DATA)
			return upload_fail(u, -EPROTO, "expected flush after fetch arguments");
		line = pkt_chomp(pkt.data);
		if (upload_skip_prefix(&line, "want ")) {
			ret = upload_want_add(u, line);
		} else if (upload_skip_prefix(&line, "have ")) {
			ret = upload_have_add(u, line, &common);
			(*nhaves)++;
		} else if (str_equal_cstr(line, "done")) {
			u->done = true;
		} else if (str_equal_cstr(line, "thin-pack")) {
			u->thin_pack = true;
		} else if (str_equal_cstr(line, "ofs-delta")) {
			u->ofs_delta = true;
		} else if (str_equal_cstr(line, "no-progress")) {
			u->no_progress = true;
		} else if (str_equal_cstr(line, "include-tag")) {
			u->include_tag = true;
		} else {
			ret = upload_shallow_line(u, line, &matched);
			if (ret == 0 && !matched)
				return unexpected(u, "unexpected fetch argument", pkt.data);
		}
		if (ret < 0)
			return ret;
	}
}

/* acknowledgments: 1 when the pack follows ("ready"), 0 when the round
 * ends here. */
static int acknowledgments_send(struct upload_pack *u)
{
	struct gitgate_io *out = u->s->out;
	char hex[GIT_OID_SHA1_HEXSIZE + 1];
	int ret = pkt_writef(out, "acknowledgments\n");

	if (ret == 0 && u->commons.n == 0)
		ret = pkt_writef(out, "NAK\n");
	for (size_t i = 0; i < u->commons.n && ret == 0; i++)
		ret = pkt_writef(out, "ACK %s\n", git_oid_tostr(hex, sizeof(hex), &u->commons.v[i]));
	if (ret < 0)
		return ret;
	if (upload_ready(u)) {
		ret = pkt_writef(out, "ready\n");
		if (ret == 0)
			ret = pkt_write_delim(out);
		return ret < 0 ? ret : 1;
	}
	ret = pkt_write_flush(out);
	if (ret == 0)
		ret = gitgate_io_flush(out);
	return ret;
}

static int fetch(struct upload_pack *u, bool has_args)
{
	struct gitgate_io *out = u->s->out;
	size_t nhaves = 0;
	int ret = 0;

	u->sideband_max = PKT_SIDEBAND_MAX; /* v2 packs are always side-banded */
	if (!u->refs_loaded)
		ret = upload_refs_load(u);
	if (ret == 0 && has_args)
		ret = fetch_args_read(u, &nhaves);
	if (ret < 0 || u->wants.n == 0)
		return ret; /* nothing wanted, nothing said (as git) */
	if (nhaves > 0 && !u->done) {
		ret = acknowledgments_send(u);
		if (ret <= 0)
			return ret;
	}
	if (upload_shallow_requested(u) || u->client_shallows.n > 0) {
		ret = pkt_writef(out, "shallow-info\n");
		if (ret == 0)
			ret = upload_shallow_send(u);
		if (ret == 0)
			ret = pkt_write_delim(out);
		if (ret < 0)
			return ret;
	}
	ret = pkt_writef(out, "packfile\n");
	if (ret < 0)
		return ret;
	return upload_pack_send(u);
}

int upload_pack_v2(struct upload_pack *u)
{
	struct gitgate_session *s = u->s;
	int ret = 0;

	if (!s->stateless_rpc || s->advertise_refs) {
		ret = advertise_v2(s->out);
		if (ret < 0 || s->advertise_refs)
			return ret;
	}
	for (;;) {
		enum v2_command command = COMMAND_LS_REFS;
		bool has_args = false;

		ret = command_read(u, &command, &has_args);
		if (ret <= 0)
			return ret;
		ret = command == COMMAND_LS_REFS ? ls_refs(u, has_args) : fetch(u, has_args);
		upload_request_reset(u);
		if (ret < 0 || s->stateless_rpc)
			return ret;
	}
}

/* upload-pack: what `git clone` and `git fetch` talk to (gitprotocol-pack(5)).
 * This file holds the session, the refs, wants and haves shared by every
 * protocol version, and protocol v0/v1: the ref advertisement, the want
 * list, the have/ACK negotiation (multi_ack, multi_ack_detailed, no-done,
 * stateless RPC), then the pack.  Protocol v2 is upload_pack_v2.c. */
#include "upload_pack.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bottle_version.h"
#include "pack_merge.h"
#include "../../shared/log.h"

#define HEX_LEN GIT_OID_SHA1_HEXSIZE

int oid_array_push(struct oid_array *a, const git_oid *oid)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		git_oid *v;

		if (a->n >= a->max)
			return -EMSGSIZE;
		if (cap > a->max)
			cap = a->max;
		v = realloc(a->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	git_oid_cpy(&a->v[a->n++], oid);
	return 0;
}

void oid_array_release(struct oid_array *a)
{
	free(a->v);
	a->v = NULL;
	a->n = a->cap = 0;
}

const char *upload_git_error(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown libgit2 error";
}

int upload_fail(struct upload_pack *u, int ret, const char *fmt, ...)
{
	struct gitgate_session *s = u->s;
	va_list args;

	va_start(args, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, args);
	va_end(args);
	/* What the client shows: "remote error: ..." or "remote: ...".  A
	 * failure to tell it changes nothing: the session ends either way. */
	if (u->sideband_active) {
		char line[sizeof(s->err) + 16];
		int n = snprintf(line, sizeof(line), "upload-pack: %s\n", s->err);
		pkt_write_sideband(s->out, 3, line, (size_t)n, PKT_SIDEBAND_SMALL_MAX);
	} else {
		pkt_writef(s->out, "ERR upload-pack: %s\n", s->err);
	}
	gitgate_io_flush(s->out);
	return ret;
}

/* ---- refs ---- */

static int ref_compare(const void *a, const void *b)
{
	return strcmp(((const struct upload_ref *)a)->name, ((const struct upload_ref *)b)->name);
}

static void refs_release(struct upload_pack *u)
{
	for (size_t i = 0; i < u->nrefs; i++) {
		free(u->refs[i].name);
		free(u->refs[i].symref_target);
	}
	free(u->refs);
	u->refs = NULL;
	u->nrefs = 0;
	oid_map_release(&u->tips);
	free(u->tip_commits);
	u->tip_commits = NULL;
	u->ntip_commits = 0;
	u->refs_loaded = false;
}

/* Fill r from the reference called name: 1 when it is to be shown, 0
 * when it is skipped (dangling), negative on error. */
static int ref_read(struct upload_pack *u, const char *name, struct upload_ref *r)
{
	git_reference *ref = NULL, *resolved = NULL;
	git_object *object = NULL;
	int ret = -EIO;

	*r = (struct upload_ref){ 0 };
	if (git_reference_lookup(&ref, u->repo, name) < 0) {
		ret = 0;
		goto out;
	}
	if (git_reference_type(ref) == GIT_REFERENCE_SYMBOLIC) {
		r->symref_target = strdup(git_reference_symbolic_target(ref));
		if (!r->symref_target) {
			ret = -ENOMEM;
			goto out;
		}
		if (git_reference_resolve(&resolved, ref) < 0) {
			/* HEAD of an empty repository, or a dangling symref:
			 * only HEAD is shown (v2 "unborn"). */
			r->unborn = true;
			ret = strcmp(name, "HEAD") == 0;
			goto name;
		}
		git_oid_cpy(&r->oid, git_reference_target(resolved));
	} else {
		git_oid_cpy(&r->oid, git_reference_target(ref));
	}
	if (git_object_lookup(&object, u->repo, &r->oid, GIT_OBJECT_ANY) < 0) {
		ret = 0; /* points at nothing we have: not advertised */
		goto out;
	}
	if (git_object_type(object) == GIT_OBJECT_TAG) {
		git_object *target = NULL;
		if (git_tag_peel(&target, (git_tag *)object) < 0) {
			ret = 0;
			goto out;
		}
		git_oid_cpy(&r->peeled, git_object_id(target));
		r->has_peeled = true;
		git_object_free(target);
	}
	ret = 1;
name:
	r->name = strdup(name);
	if (!r->name)
		ret = -ENOMEM;
out:
	if (ret <= 0) {
		free(r->symref_target);
		free(r->name);
		*r = (struct upload_ref){ 0 };
	}
	git_object_free(object);
	git_reference_free(resolved);
	git_reference_free(ref);
	return ret;
}

static int tip_add(struct upload_pack *u, const git_oid *oid)
{
	bool added;
	int ret = oid_map_put(&u->tips, oid, 0, &added);
	git_object_t type;
	size_t size;
	git_odb *odb = NULL;

	if (ret < 0 || !added)
		return ret;
	if (git_repository_odb(&odb, u->repo) < 0)
		return -EIO;
	if (git_odb_read_header(&size, &type, odb, oid) == 0 && type == GIT_OBJECT_COMMIT) {
		git_oid *v = realloc(u->tip_commits, (u->ntip_commits + 1) * sizeof(*v));
		if (!v) {
			git_odb_free(odb);
			return -ENOMEM;
		}
		u->tip_commits = v;
		git_oid_cpy(&u->tip_commits[u->ntip_commits++], oid);
	}
	git_odb_free(odb);
	return 0;
}

int upload_refs_load(struct upload_pack *u)
{
	git_strarray names = { 0 };
	struct upload_ref head;
	size_t first = 0;
	int ret = -EIO;

	refs_release(u);
	if (git_reference_list(&names, u->repo) < 0) {
		ret = upload_fail(u, -EIO, "cannot list refs: %s", upload_git_error());
		goto out;
	}
	u->refs = calloc(names.count + 1, sizeof(*u->refs));
	if (!u->refs) {
		ret = -ENOMEM;
		goto out;
	}
	ret = ref_read(u, "HEAD", &head);
	if (ret < 0)
		goto out;
	if (ret == 1) {
		u->refs[0] = head;
		u->nrefs = first = 1;
	}
	for (size_t i = 0; i < names.count; i++) {
		ret = ref_read(u, names.strings[i], &u->refs[u->nrefs]);
		if (ret < 0)
			goto out;
		u->nrefs += (size_t)ret;
	}
	qsort(u->refs + first, u->nrefs - first, sizeof(*u->refs), ref_compare);
	for (size_t i = 0; i < u->nrefs; i++) {
		if (u->refs[i].unborn)
			continue;
		ret = tip_add(u, &u->refs[i].oid);
		if (ret == 0 && u->refs[i].has_peeled)
			ret = tip_add(u, &u->refs[i].peeled);
		if (ret < 0)
			goto out;
	}
	u->refs_loaded = true;
	ret = 0;
out:
	git_strarray_dispose(&names);
	return ret;
}

int upload_capabilities_v0(struct upload_pack *u, struct buf *out)
{
	int ret = buf_append_str(out, "multi_ack thin-pack side-band side-band-64k ofs-delta shallow "
				      "deepen-since deepen-not deepen-relative no-progress include-tag "
				      "multi_ack_detailed no-done allow-tip-sha1-in-want "
				      "allow-reachable-sha1-in-want");

	if (ret == 0 && u->nrefs > 0 && strcmp(u->refs[0].name, "HEAD") == 0 &&
	    !u->refs[0].unborn && u->refs[0].symref_target)
		ret = buf_appendf(out, " symref=HEAD:%s", u->refs[0].symref_target);
	if (ret == 0)
		ret = buf_append_str(out, " object-format=sha1 agent=bottle-gitgate/" BOTTLE_VERSION);
	return ret;
}

/* ---- wants and haves ---- */

/* An object id in hex; anything else is a protocol error for the client. */
static int oid_parse(struct upload_pack *u, struct str hex, git_oid *oid)
{
	char text[HEX_LEN + 1], shown[80];
	bool ok = hex.len == HEX_LEN;

	for (size_t i = 0; ok && i < HEX_LEN; i++)
		ok = (hex.p[i] >= '0' && hex.p[i] <= '9') || (hex.p[i] >= 'a' && hex.p[i] <= 'f');
	if (ok) {
		memcpy(text, hex.p, HEX_LEN);
		text[HEX_LEN] = '\0';
		ok = git_oid_fromstr(oid, text) == 0;
	}
	if (!ok)
		return upload_fail(u, -EPROTO, "protocol error: expected an object id, got '%s'",
				   upload_line_for_message(hex, shown, sizeof(shown)));
	return 0;
}

const char *upload_line_for_message(struct str line, char *out, size_t len)
{
	size_t n = 0;

	line = pkt_chomp(line);
	for (size_t i = 0; i < line.len && n + 4 < len; i++) {
		unsigned char c = (unsigned char)line.p[i];
		out[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (line.len > n && n >= 3)
		memcpy(out + n - 3, "...", 3);
	out[n] = '\0';
	return out;
}

bool upload_skip_prefix(struct str *s, const char *prefix)
{
	size_t n = strlen(prefix);

	if (s->len < n || memcmp(s->p, prefix, n) != 0)
		return false;
	s->p += n;
	s->len -= n;
	return true;
}

static bool want_reachable(struct upload_pack *u, const git_oid *oid)
{
	git_object *object = NULL;
	bool ok = false;

	if (oid_map_has(&u->tips, oid))
		return true;
	/* allow-reachable-sha1-in-want: a commit some tip leads to.  Trees
	 * and blobs by id are refused (fail closed): proving them reachable
	 * means walking every tree. */
	if (git_object_lookup(&object, u->repo, oid, GIT_OBJECT_COMMIT) == 0 &&
	    u->ntip_commits > 0)
		ok = git_graph_reachable_from_any(u->repo, oid, u->tip_commits, u->ntip_commits) == 1;
	git_object_free(object);
	return ok;
}

int upload_want_add(struct upload_pack *u, struct str hex)
{
	git_oid oid;
	bool added;
	int ret;

	ret = oid_parse(u, hex, &oid);
	if (ret < 0)
		return ret;
	if (oid_map_has(&u->wanted, &oid))
		return 0;
	if (!want_reachable(u, &oid)) {
		char text[HEX_LEN + 1];
		return upload_fail(u, -EACCES, "not our ref %s",
				   git_oid_tostr(text, sizeof(text), &oid));
	}
	ret = oid_map_put(&u->wanted, &oid, 0, &added);
	if (ret == 0)
		ret = oid_array_push(&u->wants, &oid);
	if (ret == -EMSGSIZE)
		return upload_fail(u, ret, "more than %d wants", UPLOAD_WANTS_MAX);
	return ret;
}

int upload_have_add(struct upload_pack *u, struct str hex, bool *common)
{
	git_odb *odb = NULL;
	git_oid oid;
	bool added;
	int ret;

	*common = false;
	ret = oid_parse(u, hex, &oid);
	if (ret < 0)
		return ret;
	if (git_repository_odb(&odb, u->repo) < 0)
		return upload_fail(u, -EIO, "cannot open the object store: %s", upload_git_error());
	*common = git_odb_exists(odb, &oid) == 1;
	git_odb_free(odb);
	if (!*common)
		return 0;
	ret = oid_map_put(&u->common_set, &oid, 0, &added);
	if (ret == 0 && added)
		ret = oid_array_push(&u->commons, &oid);
	if (ret == -EMSGSIZE)
		return upload_fail(u, ret, "more than %d haves", UPLOAD_HAVES_MAX);
	return ret;
}

/* The commit an id stands for (tags peeled), or false. */
static bool commit_of(git_repository *repo, const git_oid *oid, git_oid *out)
{
	git_object *object = NULL, *peeled = NULL;
	bool ok = false;

	if (git_object_lookup(&object, repo, oid, GIT_OBJECT_ANY) < 0)
		return false;
	if (git_object_peel(&peeled, object, GIT_OBJECT_COMMIT) == 0) {
		git_oid_cpy(out, git_object_id(peeled));
		ok = true;
	}
	git_object_free(peeled);
	git_object_free(object);
	return ok;
}

bool upload_ready(struct upload_pack *u)
{
	bool all = true;

	if (u->commons.n == 0 || u->wants.n == 0)
		return false;
	if (!u->want_ready) {
		u->want_ready = calloc(u->wants.n, sizeof(*u->want_ready));
		u->want_checked = calloc(u->wants.n, sizeof(*u->want_checked));
		if (!u->want_ready || !u->want_checked)
			return false; /* "ready" is an optimisation: without it, done */
	}
	for (size_t i = 0; i < u->wants.n; i++) {
		git_oid want;

		if (u->want_ready[i])
			continue;
		if (!commit_of(u->repo, &u->wants.v[i], &want)) {
			/* A tree or blob: ancestry cannot tell, so it does
			 * not hold the client back (as git does). */
			u->want_ready[i] = true;
			continue;
		}
		while (!u->want_ready[i] && u->want_checked[i] < u->commons.n) {
			const git_oid *have = &u->commons.v[u->want_checked[i]++];
			git_oid have_commit;

			if (u->ready_checks++ >= UPLOAD_READY_CHECKS_MAX)
				return false;
			if (!commit_of(u->repo, have, &have_commit))
				continue;
			u->want_ready[i] = git_oid_equal(&want, &have_commit) ||
					   git_graph_descendant_of(u->repo, &want, &have_commit) == 1;
		}
		if (!u->want_ready[i])
			all = false;
	}
	return all;
}

void upload_request_reset(struct upload_pack *u)
{
	oid_array_release(&u->wants);
	oid_map_release(&u->wanted);
	oid_array_release(&u->commons);
	oid_map_release(&u->common_set);
	oid_array_release(&u->client_shallows);
	oid_map_release(&u->client_shallow_set);
	oid_array_release(&u->deepen_not);
	oid_map_release(&u->shallow);
	oid_array_release(&u->unshallowed);
	free(u->want_ready);
	free(u->want_checked);
	u->want_ready = NULL;
	u->want_checked = NULL;
	u->ready_checks = 0;
	u->depth = 0;
	u->deepen_relative = false;
	u->deepen_since = 0;
	u->multi_ack = MULTI_ACK_NONE;
	u->no_done = u->thin_pack = u->ofs_delta = u->no_progress = u->include_tag = false;
	u->done = false;
	u->sideband_max = 0;
	u->sideband_active = false;
	u->shallow_mode = false;
}

int upload_mirror_refresh(struct upload_pack *u)
{
	struct gitgate_session *s = u->s;
	char err[256];
	int ret;

	if (!s->repo->config->upstream)
		return 0;
	/* Not a reader while a fetch and its merge may retire packs; then a
	 * fresh repository, which lists the packs as they are now. */
	pack_readers_unlock(s->repo->path, u->readers_fd);
	ret = mirror_refresh(s->gate, s->repo, false, err, sizeof(err));
	u->readers_fd = pack_readers_lock(s->repo->path);
	if (ret < 0)
		return upload_fail(u, ret, "%s", err);
	git_repository_free(u->repo);
	u->repo = NULL;
	if (git_repository_open_bare(&u->repo, s->repo->path) < 0)
		return upload_fail(u, -ENOENT, "cannot open the repository: %s",
				   upload_git_error());
	return 0;
}

/* ---- protocol v0 and v1 ---- */

static int advertise_v0(struct upload_pack *u)
{
	struct gitgate_io *out = u->s->out;
	struct buf caps;
	char hex[HEX_LEN + 1];
	bool first = true;
	int ret;

	buf_init(&caps, PKT_DATA_MAX);
	ret = upload_capabilities_v0(u, &caps);
	if (ret < 0)
		goto out;
	if (u->s->protocol == 1) {
		ret = pkt_writef(out, "version 1\n");
		if (ret < 0)
			goto out;
	}
	for (size_t i = 0; i < u->nrefs; i++) {
		const struct upload_ref *r = &u->refs[i];

		if (r->unborn)
			continue;
		git_oid_tostr(hex, sizeof(hex), &r->oid);
		if (first)
			ret = pkt_writef(out, "%s %s%c%s\n", hex, r->name, '\0', caps.p);
		else
			ret = pkt_writef(out, "%s %s\n", hex, r->name);
		first = false;
		if (ret == 0 && r->has_peeled)
			ret = pkt_writef(out, "%s %s^{}\n",
					 git_oid_tostr(hex, sizeof(hex), &r->peeled), r->name);
		if (ret < 0)
			goto out;
	}
	if (first) {
		/* An empty repository still says what it can do. */
		ret = pkt_writef(out, "%0*d capabilities^{}%c%s\n", HEX_LEN, 0, '\0', caps.p);
		if (ret < 0)
			goto out;
	}
	ret = pkt_write_flush(out);
	if (ret == 0)
		ret = gitgate_io_flush(out);
out:
	buf_release(&caps);
	return ret;
}

static void features_parse(struct upload_pack *u, struct str features)
{
	if (capability_find(features, "multi_ack_detailed", NULL))
		u->multi_ack = MULTI_ACK_DETAILED;
	else if (capability_find(features, "multi_ack", NULL))
		u->multi_ack = MULTI_ACK_PLAIN;
	u->no_done = capability_find(features, "no-done", NULL);
	u->thin_pack = capability_find(features, "thin-pack", NULL);
	u->ofs_delta = capability_find(features, "ofs-delta", NULL);
	if (capability_find(features, "side-band-64k", NULL))
		u->sideband_max = PKT_SIDEBAND_MAX;
	else if (capability_find(features, "side-band", NULL))
		u->sideband_max = PKT_SIDEBAND_SMALL_MAX;
	u->no_progress = capability_find(features, "no-progress", NULL);
	u->include_tag = capability_find(features, "include-tag", NULL);
	u->deepen_relative = capability_find(features, "deepen-relative", NULL);
}

int upload_read(struct upload_pack *u, struct pkt *pkt)
{
	const char *p = u->reader->buf + u->reader->start;
	struct pkt next;
	char err[8];
	int ret;

	/* Whatever we said must reach the client before we wait for it:
	 * push our output out unless its next packet is already here. */
	if (pkt_parse(&p, p + u->reader->len, &next, err, sizeof(err)) == -EAGAIN) {
		ret = gitgate_io_flush(u->s->out);
		if (ret < 0)
			return ret;
	}
	return pkt_read(u->reader, pkt);
}

static int read_packet(struct upload_pack *u, struct pkt *pkt)
{
	int ret = upload_read(u, pkt);

	if (ret == -ENODATA)
		return ret;
	if (ret < 0)
		return upload_fail(u, ret, "%s", u->reader->err[0] ? u->reader->err :
						    "reading the request failed");
	return 0;
}

/* The want list up to its flush: wants (capabilities on the first),
 * shallow and deepen lines. */
static int read_needs(struct upload_pack *u)
{
	bool first = true;
	struct pkt pkt;
	int ret;

	for (;;) {
		struct str line;
		bool matched;

		ret = read_packet(u, &pkt);
		if (ret == -ENODATA)
			return first ? 0 : upload_fail(u, -EPIPE, "the want list ended early");
		if (ret < 0)
			return ret;
		if (pkt.kind == PKT_FLUSH)
			return 0;
		if (pkt.kind != PKT_DATA)
			return upload_fail(u, -EPROTO, "protocol error: unexpected delimiter");
		line = pkt_chomp(pkt.data);
		ret = upload_shallow_line(u, line, &matched);
		if (ret < 0)
			return ret;
		if (matched)
			continue;
		if (!upload_skip_prefix(&line, "want ") || line.len < HEX_LEN ||
		    (line.len > HEX_LEN && line.p[HEX_LEN] != ' ' && line.p[HEX_LEN] != '\0')) {
			char text[80];
			return upload_fail(u, -EPROTO, "protocol error: expected a want, got '%s'",
					   upload_line_for_message(pkt.data, text, sizeof(text)));
		}
		if (first && line.len > HEX_LEN) {
			/* "want <id> cap cap ..." (a NUL is tolerated too) */
			struct str features = { line.p + HEX_LEN + 1, line.len - HEX_LEN - 1 };
			features_parse(u, features);
		}
		first = false;
		ret = upload_want_add(u, (struct str){ line.p, HEX_LEN });
		if (ret < 0)
			return ret;
	}
}

enum negotiation { NEGOTIATION_PACK, NEGOTIATION_ROUND_OVER };

/* git's get_common_commits(): haves, ACK/NAK per flush, until "done" (or
 * "ready" with no-done).  Over stateless RPC one request is one round. */
static int negotiate_v0(struct upload_pack *u, enum negotiation *result)
{
	struct gitgate_io *out = u->s->out;
	char last_hex[HEX_LEN + 1] = "";
	bool got_common = false, got_other = false, sent_ready = false;
	struct pkt pkt;
	int ret;

	for (;;) {
		struct str line;
		bool common;

		ret = read_packet(u, &pkt);
		if (ret == -ENODATA && u->s->stateless_rpc) {
			/* A shallow fetch's first smart-HTTP request ends after
			 * its want list: it asked for the boundary only, and
			 * gets nothing more (git's upload-pack stops there). */
			*result = NEGOTIATION_ROUND_OVER;
			return 0;
		}
		if (ret == -ENODATA)
			return upload_fail(u, -EPIPE, "the client hung up during negotiation");
		if (ret < 0)
			return ret;
		if (pkt.kind != PKT_DATA) {
			if (u->multi_ack == MULTI_ACK_DETAILED && got_common && !got_other &&
			    upload_ready(u)) {
				sent_ready = true;
				ret = pkt_writef(out, "ACK %s ready\n", last_hex);
			}
			if (ret == 0 && (u->commons.n == 0 || u->multi_ack != MULTI_ACK_NONE))
				ret = pkt_writef(out, "NAK\n");
			if (ret == 0 && u->no_done && sent_ready) {
				ret = pkt_writef(out, "ACK %s\n", last_hex);
				*result = NEGOTIATION_PACK;
				return ret;
			}
			if (ret == 0)
				ret = gitgate_io_flush(out);
			if (ret < 0)
				return ret;
			if (u->s->stateless_rpc) {
				*result = NEGOTIATION_ROUND_OVER;
				return 0;
			}
			got_common = got_other = false;
			continue;
		}
		line = pkt_chomp(pkt.data);
		if (upload_skip_prefix(&line, "have ")) {
			ret = upload_have_add(u, line, &common);
			if (ret < 0)
				return ret;
			if (!common) {
				got_other = true;
				if (u->multi_ack != MULTI_ACK_NONE && upload_ready(u)) {
					char hex[HEX_LEN + 1];
					memcpy(hex, line.p, HEX_LEN);
					hex[HEX_LEN] = '\0';
					if (u->multi_ack == MULTI_ACK_DETAILED) {
						sent_ready = true;
						ret = pkt_writef(out, "ACK %s ready\n", hex);
					} else {
						ret = pkt_writef(out, "ACK %s continue\n", hex);
					}
				}
			} else {
				got_common = true;
				memcpy(last_hex, line.p, HEX_LEN);
				last_hex[HEX_LEN] = '\0';
				if (u->multi_ack == MULTI_ACK_DETAILED)
					ret = pkt_writef(out, "ACK %s common\n", last_hex);
				else if (u->multi_ack == MULTI_ACK_PLAIN)
					ret = pkt_writef(out, "ACK %s continue\n", last_hex);
				else if (u->commons.n == 1)
					ret = pkt_writef(out, "ACK %s\n", last_hex);
			}
			if (ret < 0)
				return ret;
			continue;
		}
		if (str_equal_cstr(line, "done")) {
			if (u->commons.n > 0) {
				if (u->multi_ack != MULTI_ACK_NONE)
					ret = pkt_writef(out, "ACK %s\n", last_hex);
			} else {
				ret = pkt_writef(out, "NAK\n");
			}
			*result = NEGOTIATION_PACK;
			return ret;
		}
		char text[80];
		return upload_fail(u, -EPROTO, "protocol error: expected have or done, got '%s'",
				   upload_line_for_message(pkt.data, text, sizeof(text)));
	}
}

static int upload_pack_v0(struct upload_pack *u)
{
	struct gitgate_session *s = u->s;
	enum negotiation result = NEGOTIATION_PACK;
	int ret;

	if (!s->stateless_rpc || s->advertise_refs) {
		ret = upload_mirror_refresh(u);
		if (ret < 0)
			return ret;
	}
	ret = upload_refs_load(u);
	if (ret < 0)
		return ret;
	if (!s->stateless_rpc || s->advertise_refs) {
		ret = advertise_v0(u);
		if (ret < 0 || s->advertise_refs)
			return ret;
	}
	ret = read_needs(u);
	if (ret < 0 || u->wants.n == 0)
		return ret; /* nothing wanted: ls-remote, or up to date */
	if (upload_shallow_requested(u) || u->client_shallows.n > 0) {
		ret = upload_shallow_send(u);
		if (ret == 0 && upload_shallow_requested(u))
			ret = pkt_write_flush(s->out);
		if (ret < 0)
			return ret;
	}
	ret = negotiate_v0(u, &result);
	if (ret < 0 || result == NEGOTIATION_ROUND_OVER)
		return ret;
	return upload_pack_send(u);
}

int upload_pack_serve(struct gitgate_session *s)
{
	struct upload_pack *u = calloc(1, sizeof(*u));
	struct pkt_reader *reader = malloc(sizeof(*reader));
	int ret = -ENOMEM;

	if (u)
		u->readers_fd = -1;
	if (!u || !reader) {
		error_format(s->err, sizeof(s->err), "out of memory");
		goto out;
	}
	u->s = s;
	u->reader = reader;
	pkt_reader_init(reader, s->in);
	u->wants.max = UPLOAD_WANTS_MAX;
	u->commons.max = UPLOAD_HAVES_MAX;
	u->client_shallows.max = UPLOAD_SHALLOWS_MAX;
	u->deepen_not.max = UPLOAD_DEEPEN_NOT_MAX;
	u->unshallowed.max = UPLOAD_SHALLOWS_MAX;
	/* Every pack this session lists stays until it ends (pack_merge.h). */
	u->readers_fd = pack_readers_lock(s->repo->path);
	if (git_repository_open_bare(&u->repo, s->repo->path) < 0) {
		ret = upload_fail(u, -ENOENT, "cannot open the repository: %s", upload_git_error());
		goto out;
	}
	ret = s->protocol == 2 ? upload_pack_v2(u) : upload_pack_v0(u);
	if (ret == 0)
		ret = gitgate_io_flush(s->out);
out:
	if (u) {
		upload_request_reset(u);
		refs_release(u);
		git_repository_free(u->repo);
		pack_readers_unlock(s->repo->path, u->readers_fd);
	}
	free(u);
	free(reader);
	return ret;
}

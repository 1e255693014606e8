/* libFuzzer target: upload-pack's request parsing, driven whole through
 * upload_pack_serve() (upload_pack.c, upload_pack_v2.c, upload_shallow.c)
 * over an in-memory stream, against a small bare repository the harness
 * builds once with libgit2 (fixed times and names, so its object ids are
 * always the same: upload.dict and the corpus hold them).
 *
 * The request's lines are read between lookups in the repository (a want
 * is checked against the refs as it is read, a have against the object
 * store), so the parse has no entry point of its own: this drives the one
 * the transports call, with the repository as the fixed part.
 *
 * Input: byte 0 picks the session: bits 0-1 the protocol (0, 1, 2; 3 is
 * 2), bit 2 stateless RPC (smart-HTTP), bit 3 the advertisement only
 * (info/refs), bits 4-7 the read size (1..15 bytes a read, 0: all at
 * once).  The rest is what the client sends: want/have/shallow/deepen/
 * deepen-since/deepen-not/done lines, capabilities on the first want, v2
 * commands with capability and argument sections.
 * Invariants checked:
 * - the result is 0 or a negative errno, and a failure has a one-line
 *   reason free of control bytes (it goes to the log as is);
 * - what the gate writes is well-formed pkt-lines, up to a raw pack (v0
 *   without side-band) when one is sent;
 * - nothing is read past the input, nothing leaks (ASan, LeakSanitizer).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <git2.h>

#include "../../sidecar/gitgate/gitgate.h"
#include "../../sidecar/gitgate/pkt_line.h"
#include "fuzz.h"

/* The repository: main is c0..c3 then a merge of topic (t1 on c1); tag v1
 * (annotated) on c2, tag light on c1; HEAD is main.  Commit i is made at
 * 1700000000 + 100 * i, so deepen-since has a boundary to find.  c0 and c1
 * (with their trees and blobs) are also in a pack, the rest only loose: a
 * pack of light's history is written from the pack (pack_reuse.c), a pack
 * of main's with libgit2's packbuilder (pack_send.c). */
static char repo_dir[64];

static int commit_make(git_repository *repo, const char *text, int64_t when,
		       const git_oid *parents, size_t nparents, git_oid *out)
{
	git_treebuilder *builder = NULL;
	git_signature *sig = NULL;
	git_commit *parent_commits[2] = { NULL, NULL };
	git_tree *tree = NULL;
	git_oid blob, tree_id;
	int ret = -1;

	if (git_blob_create_from_buffer(&blob, repo, text, strlen(text)) < 0 ||
	    git_treebuilder_new(&builder, repo, NULL) < 0 ||
	    git_treebuilder_insert(NULL, builder, text[0] == 't' ? "topic" : "file", &blob,
				   GIT_FILEMODE_BLOB) < 0 ||
	    git_treebuilder_write(&tree_id, builder) < 0 ||
	    git_tree_lookup(&tree, repo, &tree_id) < 0 ||
	    git_signature_new(&sig, "Fuzz", "fuzz@example.invalid", when, 0) < 0)
		goto out;
	for (size_t i = 0; i < nparents; i++)
		if (git_commit_lookup(&parent_commits[i], repo, &parents[i]) < 0)
			goto out;
	const git_commit *parents_view[2] = { parent_commits[0], parent_commits[1] };
	if (git_commit_create(out, repo, NULL, sig, sig, NULL, text, tree, nparents,
			      parents_view) < 0)
		goto out;
	ret = 0;
out:
	for (size_t i = 0; i < 2; i++)
		git_commit_free(parent_commits[i]);
	git_signature_free(sig);
	git_tree_free(tree);
	git_treebuilder_free(builder);
	return ret;
}

static void repository_build(const char *dir)
{
	git_repository *repo = NULL;
	git_reference *ref = NULL;
	git_signature *sig = NULL;
	git_object *target = NULL;
	git_packbuilder *packer = NULL;
	git_oid c[4], topic, merge, tag, parents[2];

	CHECK(git_repository_init(&repo, dir, 1) == 0);
	CHECK(git_repository_set_head(repo, "refs/heads/main") == 0);
	for (int i = 0; i < 4; i++) {
		char text[32];

		snprintf(text, sizeof(text), "main %d\n", i);
		CHECK(commit_make(repo, text, 1700000000 + 100 * i, i ? &c[i - 1] : NULL,
				  i ? 1 : 0, &c[i]) == 0);
	}
	CHECK(commit_make(repo, "topic 1\n", 1700000150, &c[1], 1, &topic) == 0);
	parents[0] = c[3];
	parents[1] = topic;
	CHECK(commit_make(repo, "merge topic\n", 1700000400, parents, 2, &merge) == 0);
	CHECK(git_reference_create(&ref, repo, "refs/heads/main", &merge, 1, NULL) == 0);
	git_reference_free(ref);
	CHECK(git_reference_create(&ref, repo, "refs/heads/topic", &topic, 1, NULL) == 0);
	git_reference_free(ref);
	CHECK(git_reference_create(&ref, repo, "refs/tags/light", &c[1], 1, NULL) == 0);
	git_reference_free(ref);
	CHECK(git_signature_new(&sig, "Fuzz", "fuzz@example.invalid", 1700000500, 0) == 0);
	CHECK(git_object_lookup(&target, repo, &c[2], GIT_OBJECT_COMMIT) == 0);
	CHECK(git_tag_create(&tag, repo, "v1", target, sig, "version 1\n", 0) == 0);
	CHECK(git_packbuilder_new(&packer, repo) == 0);
	CHECK(git_packbuilder_insert_commit(packer, &c[0]) == 0);
	CHECK(git_packbuilder_insert_commit(packer, &c[1]) == 0);
	CHECK(git_packbuilder_write(packer, NULL, 0, NULL, NULL) == 0);
	git_packbuilder_free(packer);
	git_object_free(target);
	git_signature_free(sig);
	git_repository_free(repo);
}

static void repository_remove(void)
{
	char command[96];

	snprintf(command, sizeof(command), "rm -rf '%s'", repo_dir);
	if (system(command) != 0)
		fprintf(stderr, "fuzz_upload_pack: could not remove %s\n", repo_dir);
}

/* FUZZ_UPLOAD_PACK_REPO=DIR builds the repository in DIR and keeps it
 * (to capture a real client's requests against it for the corpus). */
static void repository_setup(void)
{
	const char *keep = getenv("FUZZ_UPLOAD_PACK_REPO");

	CHECK(git_libgit2_init() > 0);
	if (keep) {
		snprintf(repo_dir, sizeof(repo_dir), "%s", keep);
	} else {
		snprintf(repo_dir, sizeof(repo_dir), "/tmp/fuzz_upload_pack.XXXXXX");
		CHECK(mkdtemp(repo_dir));
		atexit(repository_remove);
	}
	repository_build(repo_dir);
}

/* ---- the client's side of the stream ---- */

struct client {
	const uint8_t *p;
	size_t len, at, step;
	char *out;
	size_t out_len, out_cap;
};

static ssize_t client_send(void *ctx, void *p, size_t len)
{
	struct client *c = ctx;
	size_t n = c->len - c->at;

	if (n > len)
		n = len;
	if (c->step && n > c->step)
		n = c->step;
	memcpy(p, c->p + c->at, n);
	c->at += n;
	return (ssize_t)n;
}

static int client_receive(void *ctx, const void *p, size_t len)
{
	struct client *c = ctx;

	if (c->out_len + len > c->out_cap) {
		size_t cap = (c->out_len + len) * 2;
		char *out = realloc(c->out, cap);

		if (!out)
			return -ENOMEM;
		c->out = out;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
	return 0;
}

/* The gate's output parses as pkt-lines to its end, or up to a raw pack. */
static void output_check(const struct client *c)
{
	const char *p = c->out, *end;
	char err[128];

	if (!c->out)
		return; /* nothing written (and NULL + 0 is undefined) */
	end = c->out + c->out_len;
	while (p < end) {
		struct pkt pkt;

		if (end - p >= 4 && memcmp(p, "PACK", 4) == 0)
			return;
		CHECK(pkt_parse(&p, end, &pkt, err, sizeof(err)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct gitgate_repo_config config = { .name = "fuzz" };
	struct gitgate_repo repo = { .config = &config };
	struct gitgate gate = { 0 };
	struct client c = { 0 };
	struct gitgate_io in = { .ctx = &c, .read = client_send };
	struct gitgate_io out = { .ctx = &c, .write = client_receive };
	struct gitgate_session s = { .gate = &gate, .repo = &repo, .in = &in, .out = &out };
	int ret;

	if (!ready) {
		repository_setup();
		ready = true;
	}
	if (size < 1)
		return 0;
	repo.path = repo_dir;
	s.service = GITGATE_UPLOAD_PACK;
	s.protocol = data[0] & 3;
	if (s.protocol == 3)
		s.protocol = 2;
	s.stateless_rpc = data[0] & 4;
	s.advertise_refs = data[0] & 8;
	c.step = data[0] >> 4;
	c.p = data + 1;
	c.len = size - 1;

	ret = upload_pack_serve(&s);
	CHECK(ret <= 0);
	if (ret < 0) {
		CHECK(s.err[0]);
		for (const char *e = s.err; *e; e++)
			CHECK((unsigned char)*e >= 0x20 && *e != 0x7f);
	}
	output_check(&c);
	free(c.out);
	return 0;
}

/* upload-pack against a repository built with libgit2, through an
 * in-memory stream: the v0 advertisement (HEAD first with its symref,
 * sorted refs, peeled tags), what the client's capabilities change in the
 * negotiation (multi_ack_detailed, multi_ack, none), a stateless round
 * that ends without a pack, wants refused, v2 ls-refs and fetch
 * sections, shallow-line errors, and the object-id map underneath. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <git2.h>

#include "../../sidecar/gitgate/gitgate.h"
#include "../../sidecar/gitgate/oid_map.h"
#include "../../sidecar/gitgate/pkt_line.h"

struct fixture {
	char dir[64];
	git_oid commits[4]; /* a line: commits[3] is main's tip */
	git_oid tag;        /* annotated v1, of commits[1] */
	char hex[4][GIT_OID_SHA1_HEXSIZE + 1];
	char tag_hex[GIT_OID_SHA1_HEXSIZE + 1];
};

static int build_repository(struct fixture *f)
{
	git_repository *repo = NULL;
	git_signature *sig = NULL;
	git_object *target = NULL;
	int ret = -1;

	if (git_repository_init(&repo, f->dir, 1) < 0 ||
	    git_repository_set_head(repo, "refs/heads/main") < 0 ||
	    git_signature_new(&sig, "Test", "test@example.com", 1700000000, 0) < 0)
		goto out;
	for (int i = 0; i < 4; i++) {
		git_treebuilder *tb = NULL;
		git_tree *tree = NULL;
		git_commit *parent = NULL;
		git_oid blob, tree_id;
		char content[32];
		int n = snprintf(content, sizeof(content), "version %d\n", i);

		if (git_blob_create_from_buffer(&blob, repo, content, (size_t)n) < 0 ||
		    git_treebuilder_new(&tb, repo, NULL) < 0 ||
		    git_treebuilder_insert(NULL, tb, "file", &blob, GIT_FILEMODE_BLOB) < 0 ||
		    git_treebuilder_write(&tree_id, tb) < 0 || git_tree_lookup(&tree, repo, &tree_id) < 0 ||
		    (i > 0 && git_commit_lookup(&parent, repo, &f->commits[i - 1]) < 0))
			goto out;
		const git_commit *parents[] = { parent };
		if (git_commit_create(&f->commits[i], repo, "refs/heads/main", sig, sig, NULL, "c",
				      tree, i > 0, parents) < 0)
			goto out;
		git_oid_tostr(f->hex[i], sizeof(f->hex[i]), &f->commits[i]);
		git_commit_free(parent);
		git_tree_free(tree);
		git_treebuilder_free(tb);
	}
	if (git_object_lookup(&target, repo, &f->commits[1], GIT_OBJECT_COMMIT) < 0 ||
	    git_tag_create(&f->tag, repo, "v1", target, sig, "tag\n", 0) < 0)
		goto out;
	git_oid_tostr(f->tag_hex, sizeof(f->tag_hex), &f->tag);
	ret = 0;
out:
	git_object_free(target);
	git_signature_free(sig);
	git_repository_free(repo);
	return ret;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	git_libgit2_init();
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_upload_pack.XXXXXX");
	if (!mkdtemp(f->dir) || build_repository(f) < 0)
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	git_libgit2_shutdown();
	return 0;
}

/* ---- a session over memory ---- */

struct memory_stream {
	char in[8192];
	size_t in_len, in_at;
	char *out;
	size_t out_len, out_cap;
};

static ssize_t memory_read(void *ctx, void *p, size_t len)
{
	struct memory_stream *m = ctx;
	size_t n = m->in_len - m->in_at;

	if (n > len)
		n = len;
	memcpy(p, m->in + m->in_at, n);
	m->in_at += n;
	return (ssize_t)n;
}

static int memory_write(void *ctx, const void *p, size_t len)
{
	struct memory_stream *m = ctx;

	if (m->out_len + len + 1 > m->out_cap) {
		size_t cap = (m->out_len + len + 1) * 2;
		char *out = realloc(m->out, cap);
		if (!out)
			return -ENOMEM;
		m->out = out;
		m->out_cap = cap;
	}
	memcpy(m->out + m->out_len, p, len);
	m->out_len += len;
	m->out[m->out_len] = '\0';
	return 0;
}

/* Append one pkt-line of text (with its newline); "-" a flush, "." a delimiter. */
static void request_line(struct memory_stream *m, const char *text)
{
	if (strcmp(text, "-") == 0) {
		memcpy(m->in + m->in_len, "0000", 4);
		m->in_len += 4;
	} else if (strcmp(text, ".") == 0) {
		memcpy(m->in + m->in_len, "0001", 4);
		m->in_len += 4;
	} else {
		m->in_len += (size_t)snprintf(m->in + m->in_len, sizeof(m->in) - m->in_len, "%04zx%s\n",
					      strlen(text) + 5, text);
	}
}

struct run {
	struct memory_stream m;
	struct gitgate_repo_config config;
	struct gitgate_repo repo;
	struct gitgate gate;
	struct gitgate_io in, out;
	struct gitgate_session s;
};

static struct run *run_new(struct fixture *f, int protocol, bool stateless)
{
	struct run *r = calloc(1, sizeof(*r));

	r->config.name = "test";
	r->repo = (struct gitgate_repo){ .config = &r->config, .path = f->dir };
	r->in = (struct gitgate_io){ .ctx = &r->m, .read = memory_read };
	r->out = (struct gitgate_io){ .ctx = &r->m, .write = memory_write };
	r->s = (struct gitgate_session){ .gate = &r->gate, .repo = &r->repo, .in = &r->in,
					 .out = &r->out, .protocol = protocol,
					 .stateless_rpc = stateless };
	return r;
}

static void run_free(struct run *r)
{
	free(r->m.out);
	free(r);
}

static bool has(const struct run *r, const char *needle)
{
	return r->m.out && memmem(r->m.out, r->m.out_len, needle, strlen(needle)) != NULL;
}

/* Offset of needle in the output, for order checks. */
static size_t at(const struct run *r, const char *needle)
{
	const char *p = r->m.out ? memmem(r->m.out, r->m.out_len, needle, strlen(needle)) : NULL;
	return p ? (size_t)(p - r->m.out) : SIZE_MAX;
}

/* ---- v0 ---- */

static void test_v0_advertisement(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 0, false);
	char line[200];

	r->s.advertise_refs = true;
	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "%s HEAD", f->hex[3]);
	assert_int_equal(at(r, line), 4);
	assert_true(has(r, "symref=HEAD:refs/heads/main"));
	assert_true(has(r, "multi_ack_detailed"));
	assert_true(has(r, "allow-reachable-sha1-in-want"));
	assert_true(has(r, "agent=bottle-gitgate/"));
	snprintf(line, sizeof(line), "%s refs/tags/v1^{}", f->hex[1]);
	assert_true(has(r, line));
	assert_true(at(r, "refs/heads/main\n") < at(r, "refs/tags/v1\n"));
	assert_true(at(r, "refs/tags/v1\n") < at(r, "refs/tags/v1^{}"));
	assert_memory_equal(r->m.out + r->m.out_len - 4, "0000", 4);
	run_free(r);
}

static void test_v1_says_its_version_first(void **state)
{
	struct run *r = run_new(*state, 1, false);

	r->s.advertise_refs = true;
	assert_int_equal(upload_pack_serve(&r->s), 0);
	assert_int_equal(at(r, "000eversion 1\n"), 0);
	run_free(r);
}

/* One stateless v0 round: wants, then haves, then a flush or done. */
static struct run *stateless_round(struct fixture *f, const char *caps, const char *const *haves,
				   size_t nhaves, bool done)
{
	struct run *r = run_new(f, 0, true);
	char line[200];

	snprintf(line, sizeof(line), "want %s %s", f->hex[3], caps);
	request_line(&r->m, line);
	request_line(&r->m, "-");
	for (size_t i = 0; i < nhaves; i++) {
		snprintf(line, sizeof(line), "have %s", haves[i]);
		request_line(&r->m, line);
	}
	request_line(&r->m, done ? "done" : "-");
	return r;
}

static const char unknown_hex[] = "1111111111111111111111111111111111111111";

static void test_multi_ack_detailed_round(void **state)
{
	struct fixture *f = *state;
	const char *haves[] = { f->hex[1], unknown_hex };
	struct run *r = stateless_round(f, "multi_ack_detailed side-band-64k", haves, 2, false);
	char line[200];

	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "ACK %s common\n", f->hex[1]);
	assert_true(has(r, line));
	/* The want descends from a common commit: ready, on the next have. */
	snprintf(line, sizeof(line), "ACK %s ready\n", unknown_hex);
	assert_true(has(r, line));
	assert_true(has(r, "NAK\n"));
	/* Stateless, no "done": the round ends without a pack. */
	assert_false(has(r, "PACK"));
	assert_false(has(r, "ERR"));
	run_free(r);
}

static void test_multi_ack_round(void **state)
{
	struct fixture *f = *state;
	const char *haves[] = { f->hex[0] };
	struct run *r = stateless_round(f, "multi_ack side-band-64k", haves, 1, false);
	char line[200];

	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "ACK %s continue\n", f->hex[0]);
	assert_true(has(r, line));
	assert_true(has(r, "NAK\n"));
	run_free(r);
}

static void test_no_multi_ack_then_done_sends_the_pack(void **state)
{
	struct fixture *f = *state;
	const char *haves[] = { f->hex[2], f->hex[1] };
	struct run *r = stateless_round(f, "ofs-delta", haves, 2, true);
	char line[200];

	assert_int_equal(upload_pack_serve(&r->s), 0);
	/* Only the first common have is ACKed, then the raw pack. */
	snprintf(line, sizeof(line), "ACK %s\n", f->hex[2]);
	assert_true(has(r, line));
	snprintf(line, sizeof(line), "ACK %s\n", f->hex[1]);
	assert_false(has(r, line));
	assert_false(has(r, "NAK"));
	assert_true(at(r, "PACK") != SIZE_MAX);
	/* One commit, its tree and blob: "PACK", version 2, 3 objects. */
	assert_memory_equal(r->m.out + at(r, "PACK") + 4, "\0\0\0\2\0\0\0\3", 8);
	run_free(r);
}

static void test_clone_is_nak_then_a_sidebanded_pack(void **state)
{
	struct fixture *f = *state;
	struct run *r = stateless_round(f, "multi_ack_detailed side-band-64k no-progress", NULL, 0,
					true);

	assert_int_equal(upload_pack_serve(&r->s), 0);
	assert_int_equal(at(r, "0008NAK\n"), 0);
	assert_true(has(r, "\1PACK\0\0\0\2"));
	assert_false(has(r, "Enumerating objects")); /* no-progress: none */
	assert_memory_equal(r->m.out + r->m.out_len - 4, "0000", 4);
	run_free(r);
}

static void test_unadvertised_want_is_refused(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 0, true);

	request_line(&r->m, "want 1111111111111111111111111111111111111111 side-band-64k");
	request_line(&r->m, "-");
	request_line(&r->m, "done");
	assert_int_equal(upload_pack_serve(&r->s), -EACCES);
	assert_true(has(r, "ERR upload-pack: not our ref 1111111111111111111111111111111111111111"));
	assert_false(has(r, "PACK"));
	run_free(r);
}

static void test_reachable_want_is_allowed(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 0, true);
	char line[200];

	snprintf(line, sizeof(line), "want %s", f->hex[0]);
	request_line(&r->m, line);
	request_line(&r->m, "-");
	request_line(&r->m, "done");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	assert_true(has(r, "PACK"));
	run_free(r);
}

/* The last five were found by fuzz_upload_pack: the client's bytes went to
 * the log as they came (control bytes too), and a 19-digit number
 * overflowed before its bound was checked. */
static void test_bad_shallow_lines(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {
		"deepen 0",
		"deepen -1",
		"deepen 1x",
		"deepen-since 0",
		"deepen-not refs/heads/nothere",
		"shallow 12",
		"deepen 1\x1b[2J",
		"shallow 0123456789012345678901234567890123456\x19\x19\x19",
		"deepen-not refs/heads/\x1b[2J",
		"deepen-since 9999999999999999999",
		"deepen 2147483648",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct run *r = run_new(f, 0, true);
		char line[200];

		snprintf(line, sizeof(line), "want %s", f->hex[3]);
		request_line(&r->m, line);
		request_line(&r->m, bad[i]);
		request_line(&r->m, "-");
		assert_true(upload_pack_serve(&r->s) < 0);
		assert_true(has(r, "ERR upload-pack: "));
		for (const char *e = r->s.err; *e; e++)
			assert_true((unsigned char)*e >= 0x20 && *e != 0x7f);
		run_free(r);
	}
}

static void test_depth_one_sends_one_shallow_line(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 0, true);
	char line[200];

	snprintf(line, sizeof(line), "want %s %s", f->hex[3], "side-band-64k shallow");
	request_line(&r->m, line);
	request_line(&r->m, "deepen 1");
	request_line(&r->m, "-");
	request_line(&r->m, "done");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "0035shallow %s\n0000", f->hex[3]);
	assert_int_equal(at(r, line), 0);
	/* The pack holds the one commit, its tree and blob. */
	assert_memory_equal(r->m.out + at(r, "PACK") + 4, "\0\0\0\2\0\0\0\3", 8);
	run_free(r);
}

/* git fetch --unshallow sends "deepen 2147483647" (git's INFINITE_DEPTH). */
static void test_infinite_depth_unshallows(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 0, true);
	char line[200];

	snprintf(line, sizeof(line), "want %s %s", f->hex[3], "side-band-64k shallow");
	request_line(&r->m, line);
	snprintf(line, sizeof(line), "shallow %s", f->hex[3]);
	request_line(&r->m, line);
	request_line(&r->m, "deepen 2147483647");
	request_line(&r->m, "-");
	request_line(&r->m, "done");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "unshallow %s\n", f->hex[3]);
	assert_true(has(r, line));
	assert_false(has(r, "0035shallow "));
	assert_true(has(r, "PACK"));
	run_free(r);
}

static void test_stateless_request_ending_after_the_wants(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 0, true);
	char line[200];

	/* A shallow fetch's first smart-HTTP round: the boundary only. */
	snprintf(line, sizeof(line), "want %s %s", f->hex[3], "multi_ack_detailed side-band-64k");
	request_line(&r->m, line);
	request_line(&r->m, "deepen 2");
	request_line(&r->m, "-");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "0035shallow %s\n0000", f->hex[2]);
	assert_string_equal(r->m.out, line);
	run_free(r);
}

/* ---- v2 ---- */

static void test_v2_ls_refs(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 2, true);
	char line[200];

	request_line(&r->m, "command=ls-refs");
	request_line(&r->m, "agent=git/2.39.5");
	request_line(&r->m, ".");
	request_line(&r->m, "symrefs");
	request_line(&r->m, "peel");
	request_line(&r->m, "ref-prefix refs/tags/");
	request_line(&r->m, "ref-prefix HEAD");
	request_line(&r->m, "-");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	snprintf(line, sizeof(line), "%s HEAD symref-target:refs/heads/main\n", f->hex[3]);
	assert_true(has(r, line));
	snprintf(line, sizeof(line), "%s refs/tags/v1 peeled:%s\n", f->tag_hex, f->hex[1]);
	assert_true(has(r, line));
	assert_false(has(r, " refs/heads/main\n"));
	assert_false(has(r, "version 2")); /* stateless: no advertisement */
	run_free(r);
}

static void test_v2_fetch_acknowledgments_ready(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 2, true);
	char line[200];

	request_line(&r->m, "command=fetch");
	request_line(&r->m, ".");
	snprintf(line, sizeof(line), "want %s", f->hex[3]);
	request_line(&r->m, line);
	snprintf(line, sizeof(line), "have %s", f->hex[2]);
	request_line(&r->m, line);
	request_line(&r->m, "have 1111111111111111111111111111111111111111");
	request_line(&r->m, "no-progress");
	request_line(&r->m, "-");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	assert_int_equal(at(r, "0014acknowledgments\n"), 0);
	snprintf(line, sizeof(line), "ACK %s\n", f->hex[2]);
	assert_true(has(r, line));
	assert_true(has(r, "000aready\n0001"));
	assert_true(at(r, "0001") < at(r, "packfile\n"));
	assert_true(has(r, "\1PACK"));
	run_free(r);
}

static void test_v2_fetch_without_common_is_nak_and_flush(void **state)
{
	struct fixture *f = *state;
	struct run *r = run_new(f, 2, true);
	char line[200];

	request_line(&r->m, "command=fetch");
	request_line(&r->m, ".");
	snprintf(line, sizeof(line), "want %s", f->hex[3]);
	request_line(&r->m, line);
	request_line(&r->m, "have 1111111111111111111111111111111111111111");
	request_line(&r->m, "-");
	assert_int_equal(upload_pack_serve(&r->s), 0);
	assert_string_equal(r->m.out, "0014acknowledgments\n0008NAK\n0000");
	run_free(r);
}

static void test_v2_unknown_object_format(void **state)
{
	struct run *r = run_new(*state, 2, true);

	request_line(&r->m, "command=ls-refs");
	request_line(&r->m, "object-format=sha256");
	request_line(&r->m, "-");
	assert_true(upload_pack_serve(&r->s) < 0);
	assert_true(has(r, "ERR upload-pack: unsupported object format"));
	run_free(r);
}

/* ---- the id map ---- */

static void test_oid_map(void **state)
{
	struct oid_map m = OID_MAP_INIT;
	git_oid oid = { { 0 } };
	bool added;

	(void)state;
	assert_null(oid_map_get(&m, &oid));
	for (int i = 0; i < 5000; i++) {
		memset(&oid, 0, sizeof(oid));
		memcpy(oid.id, &i, sizeof(i));
		oid.id[19] = (unsigned char)i;
		assert_int_equal(oid_map_put(&m, &oid, i, &added), 0);
		assert_true(added);
	}
	assert_int_equal(m.count, 5000);
	for (int i = 0; i < 5000; i++) {
		memset(&oid, 0, sizeof(oid));
		memcpy(oid.id, &i, sizeof(i));
		oid.id[19] = (unsigned char)i;
		assert_non_null(oid_map_get(&m, &oid));
		assert_int_equal(*oid_map_get(&m, &oid), i);
	}
	assert_int_equal(oid_map_put(&m, &oid, 7, &added), 0);
	assert_false(added);
	assert_int_equal(*oid_map_get(&m, &oid), 7);
	memset(&oid, 0xff, sizeof(oid));
	assert_false(oid_map_has(&m, &oid));
	oid_map_release(&m);
	assert_int_equal(m.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v0_advertisement),
		cmocka_unit_test(test_v1_says_its_version_first),
		cmocka_unit_test(test_multi_ack_detailed_round),
		cmocka_unit_test(test_multi_ack_round),
		cmocka_unit_test(test_no_multi_ack_then_done_sends_the_pack),
		cmocka_unit_test(test_clone_is_nak_then_a_sidebanded_pack),
		cmocka_unit_test(test_unadvertised_want_is_refused),
		cmocka_unit_test(test_reachable_want_is_allowed),
		cmocka_unit_test(test_bad_shallow_lines),
		cmocka_unit_test(test_depth_one_sends_one_shallow_line),
		cmocka_unit_test(test_infinite_depth_unshallows),
		cmocka_unit_test(test_stateless_request_ending_after_the_wants),
		cmocka_unit_test(test_v2_ls_refs),
		cmocka_unit_test(test_v2_fetch_acknowledgments_ready),
		cmocka_unit_test(test_v2_fetch_without_common_is_nak_and_flush),
		cmocka_unit_test(test_v2_unknown_object_format),
		cmocka_unit_test(test_oid_map),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}

/* receive-pack's parts: the request parser (whole, byte by byte, and its
 * refusals), the pack stream's end, the quarantine, the connectivity and
 * old-id checks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <git2/sys/commit.h>
#include <zlib.h>

#include "../../sidecar/gitgate/receive_pack.h"
#include "test_gitgate_helpers.h"

#define OLD "1111111111111111111111111111111111111111"
#define NEW "2222222222222222222222222222222222222222"
#define ZERO "0000000000000000000000000000000000000000"

/* "<len><data>" for a C string (no NUL inside). */
static size_t put_pkt(char *out, const char *data)
{
	size_t len = strlen(data);
	snprintf(out, 5, "%04zx", len + 4);
	memcpy(out + 4, data, len);
	return len + 4;
}

/* The first command: "old new ref\0caps\n". */
static size_t put_first(char *out, const char *old_id, const char *new_id, const char *ref,
			const char *caps)
{
	char line[512];
	int n = snprintf(line, sizeof(line), "%s %s %s", old_id, new_id, ref);
	size_t len = (size_t)n + 1 + strlen(caps) + 1;

	snprintf(out, 5, "%04zx", len + 4);
	memcpy(out + 4, line, (size_t)n);
	out[4 + n] = '\0';
	memcpy(out + 5 + n, caps, strlen(caps));
	out[4 + len - 1] = '\n';
	return len + 4;
}

static size_t put_command(char *out, const char *old_id, const char *new_id, const char *ref)
{
	char line[512];
	snprintf(line, sizeof(line), "%s %s %s\n", old_id, new_id, ref);
	return put_pkt(out, line);
}

/* Parse all of [p, p+len): the result, and *consumed. */
static int parse_all(struct receive_request *r, const char *p, size_t len, size_t *consumed,
		     char *err, size_t err_len)
{
	const char *at = p;
	int ret;

	receive_request_init(r);
	ret = receive_request_parse(r, &at, p + len, err, err_len);
	*consumed = (size_t)(at - p);
	return ret;
}

static void test_request_whole_and_byte_by_byte(void **state)
{
	char text[2048], err[256];
	size_t len = 0, used;
	struct receive_request r;
	(void)state;

	len += put_first(text + len, OLD, NEW, "refs/heads/main",
			 "report-status side-band-64k atomic push-options agent=git/2.39");
	len += put_command(text + len, ZERO, NEW, "refs/tags/v1");
	len += put_command(text + len, OLD, ZERO, "refs/heads/gone");
	memcpy(text + len, "0000", 4), len += 4;
	len += put_pkt(text + len, "ci.skip\n");
	len += put_pkt(text + len, "title=a b");
	memcpy(text + len, "0000PACK", 8), len += 8;

	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), 1);
	assert_int_equal(used, len - 4); /* the pack is not the request's */
	assert_int_equal(r.ncmds, 3);
	assert_string_equal(r.cmds[0].ref, "refs/heads/main");
	assert_int_equal(r.cmds[0].old_id.id[0], 0x11);
	assert_int_equal(r.cmds[0].new_id.id[19], 0x22);
	assert_true(git_oid_is_zero(&r.cmds[1].old_id));
	assert_true(git_oid_is_zero(&r.cmds[2].new_id));
	assert_true(r.report_status && r.side_band_64k && r.atomic && r.push_options_asked);
	assert_false(r.quiet || r.report_status_v2 || r.shallow);
	assert_int_equal(r.npush_options, 2);
	assert_string_equal(r.push_options[0], "ci.skip");
	assert_string_equal(r.push_options[1], "title=a b");
	for (size_t i = 0; i < r.ncmds; i++)
		assert_false(r.cmds[i].failed);
	assert_true(receive_request_wants_pack(&r));
	receive_request_release(&r);

	/* The same bytes one at a time: incomplete until the last flush. */
	receive_request_init(&r);
	const char *at = text;
	int ret = 0;
	for (size_t end = 0; end <= len - 4 && ret == 0; end++)
		ret = receive_request_parse(&r, &at, text + end, err, sizeof(err));
	assert_int_equal(ret, 1);
	assert_ptr_equal(at, text + len - 4);
	assert_int_equal(r.ncmds, 3);
	assert_int_equal(r.npush_options, 2);
	receive_request_release(&r);
}

static void test_request_empty_and_deletes(void **state)
{
	char text[512], err[256];
	size_t len = 0, used;
	struct receive_request r;
	(void)state;

	assert_int_equal(parse_all(&r, "0000", 4, &used, err, sizeof(err)), 1);
	assert_int_equal(r.ncmds, 0);
	receive_request_release(&r);

	/* push-options not negotiated: the first flush ends it */
	len += put_first(text + len, OLD, ZERO, "refs/heads/a", "report-status delete-refs");
	memcpy(text + len, "0000", 4), len += 4;
	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), 1);
	assert_int_equal(r.ncmds, 1);
	assert_false(receive_request_wants_pack(&r));
	receive_request_release(&r);
}

static void test_request_shallow_lines(void **state)
{
	char text[512], err[256];
	size_t len = 0, used;
	struct receive_request r;
	(void)state;

	len += put_pkt(text + len, "shallow " OLD "\n");
	len += put_pkt(text + len, "shallow " NEW);
	len += put_first(text + len, OLD, NEW, "refs/heads/a", "report-status");
	memcpy(text + len, "0000", 4), len += 4;
	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), 1);
	assert_true(r.shallow);
	assert_int_equal(r.ncmds, 1);
	receive_request_release(&r);

	/* after a command, "shallow ..." is a malformed command */
	len = put_first(text, OLD, NEW, "refs/heads/a", "report-status");
	len += put_pkt(text + len, "shallow " OLD);
	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), -EPROTO);
	receive_request_release(&r);
}

static void test_request_per_command_failures(void **state)
{
	char text[1024], err[256];
	size_t len = 0, used;
	struct receive_request r;
	(void)state;

	len += put_first(text + len, ZERO, NEW, "refs/heads/a", "report-status");
	len += put_command(text + len, ZERO, NEW, "refs/heads/a");
	len += put_command(text + len, ZERO, ZERO, "refs/heads/b");
	len += put_command(text + len, ZERO, NEW, "HEAD");
	memcpy(text + len, "0000", 4), len += 4;
	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), 1);
	assert_int_equal(r.ncmds, 4);
	assert_false(r.cmds[0].failed);
	assert_true(r.cmds[1].failed);
	assert_non_null(strstr(r.cmds[1].reason, "twice"));
	assert_true(r.cmds[2].failed);
	assert_true(r.cmds[3].failed);
	assert_non_null(strstr(r.cmds[3].reason, "not under refs/"));
	receive_request_release(&r);
}

/* One malformed request: its errno and a word of its message. */
static void expect_refused(const char *text, size_t len, int want, const char *word)
{
	char err[256] = "";
	size_t used;
	struct receive_request r;

	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), want);
	if (!strstr(err, word))
		fail_msg("error '%s' lacks '%s'", err, word);
	receive_request_release(&r);
}

static void test_request_refusals(void **state)
{
	char text[1024];
	size_t len;
	(void)state;

	len = put_pkt(text, OLD " " NEW "\n");
	expect_refused(text, len, -EPROTO, "malformed ref update");
	len = put_pkt(text, OLD " " NEW " \n");
	expect_refused(text, len, -EPROTO, "malformed ref name");
	len = put_pkt(text, "1111111111111111111111111111111111111ABC " NEW " refs/heads/a\n");
	expect_refused(text, len, -EPROTO, "malformed ref update");
	len = put_pkt(text, OLD NEW " refs/heads/a\n");
	expect_refused(text, len, -EPROTO, "malformed ref update");
	len = put_pkt(text, OLD " " NEW " refs/heads/a b\n");
	expect_refused(text, len, -EPROTO, "malformed ref name");
	len = put_command(text, OLD, NEW, "refs/heads/a");
	len += put_first(text + len, OLD, NEW, "refs/heads/b", "report-status");
	expect_refused(text, len, -EPROTO, "capabilities after the first");
	len = put_first(text, OLD, NEW, "refs/heads/b", "object-format=sha256");
	expect_refused(text, len, -EPROTO, "other than sha1");
	len = put_command(text, OLD, NEW, "refs/heads/a");
	memcpy(text + len, "0001", 4), len += 4;
	expect_refused(text, len, -EPROTO, "delimiter");
	len = put_pkt(text, "shallow 123\n");
	expect_refused(text, len, -EPROTO, "shallow");
	/* the parser stops at the request's end; a packet fed after it is refused */
	struct receive_request r;
	struct pkt flush = { .kind = PKT_FLUSH };
	char err[256] = "";
	receive_request_init(&r);
	assert_int_equal(receive_request_feed(&r, &flush, err, sizeof(err)), 1);
	assert_int_equal(receive_request_feed(&r, &flush, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "after the end"));
	receive_request_release(&r);
	expect_refused("zzzz", 4, -EPROTO, "pkt-line");
}

static void test_request_bounds(void **state)
{
	size_t size = (RECEIVE_MAX_COMMANDS + 2) * 128, len = 0, used;
	char *text = malloc(size), err[256] = "", ref[64];
	struct receive_request r;
	(void)state;

	assert_non_null(text);
	for (int i = 0; i <= RECEIVE_MAX_COMMANDS; i++) {
		snprintf(ref, sizeof(ref), "refs/heads/b%d", i);
		len += put_command(text + len, OLD, NEW, ref);
	}
	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), -E2BIG);
	assert_int_equal(r.ncmds, RECEIVE_MAX_COMMANDS);
	receive_request_release(&r);

	len = put_first(text, OLD, NEW, "refs/heads/a", "push-options");
	memcpy(text + len, "0000", 4), len += 4;
	for (int i = 0; i <= RECEIVE_MAX_PUSH_OPTIONS; i++)
		len += put_pkt(text + len, "o");
	assert_int_equal(parse_all(&r, text, len, &used, err, sizeof(err)), -E2BIG);
	receive_request_release(&r);
	free(text);
}

/* ---- the pack stream ---- */

/* A pack of hand-made objects: a blob, an ofs-delta and a ref-delta (the
 * stream only follows framing, so the deltas' data need not apply). */
static size_t make_pack(unsigned char *out, size_t cap)
{
	static const char *const bodies[] = { "hello, world\n", "delta one", "delta two" };
	size_t len = 0;

	memcpy(out, "PACK\0\0\0\2\0\0\0\3", 12);
	len = 12;
	for (int i = 0; i < 3; i++) {
		size_t size = strlen(bodies[i]);
		int type = i == 0 ? 3 : i == 1 ? 6 : 7;
		uLongf zlen = (uLongf)(cap - len - 64);

		/* a two-byte size header, to cross the varint's continuation */
		out[len++] = (unsigned char)(0x80 | type << 4 | (size & 0x0f));
		out[len++] = (unsigned char)(size >> 4);
		if (type == 6) {
			out[len++] = 0x81; /* a two-byte offset */
			out[len++] = 0x05;
		} else if (type == 7) {
			memset(out + len, 0xab, 20);
			len += 20;
		}
		assert_int_equal(compress(out + len, &zlen, (const Bytef *)bodies[i], size), Z_OK);
		len += zlen;
	}
	memset(out + len, 0xcd, 20); /* the trailer */
	return len + 20;
}

static void test_pack_stream_finds_the_end(void **state)
{
	unsigned char pack[1024];
	size_t len = make_pack(pack, sizeof(pack) - 16), used;
	struct pack_stream ps;
	char err[256];
	(void)state;

	memcpy(pack + len, "0000extra", 9);
	pack_stream_init(&ps);
	assert_int_equal(pack_stream_feed(&ps, pack, len + 9, &used, err, sizeof(err)), 1);
	assert_int_equal(used, len);
	pack_stream_release(&ps);

	/* byte by byte: 0 with everything used, then 1 on the last byte */
	pack_stream_init(&ps);
	for (size_t i = 0; i < len; i++) {
		int ret = pack_stream_feed(&ps, pack + i, 1, &used, err, sizeof(err));
		assert_int_equal(used, 1);
		assert_int_equal(ret, i + 1 == len ? 1 : 0);
	}
	pack_stream_release(&ps);

	/* an empty pack is its header and trailer */
	unsigned char empty[32] = "PACK\0\0\0\2\0\0\0\0";
	pack_stream_init(&ps);
	assert_int_equal(pack_stream_feed(&ps, empty, 32, &used, err, sizeof(err)), 1);
	assert_int_equal(used, 32);
	pack_stream_release(&ps);
}

static void expect_bad_pack(const unsigned char *p, size_t len, const char *word)
{
	struct pack_stream ps;
	char err[256] = "";
	size_t used;

	pack_stream_init(&ps);
	assert_int_equal(pack_stream_feed(&ps, p, len, &used, err, sizeof(err)), -EPROTO);
	if (!strstr(err, word))
		fail_msg("error '%s' lacks '%s'", err, word);
	pack_stream_release(&ps);
}

static void test_pack_stream_refusals(void **state)
{
	unsigned char pack[1024];
	size_t len = make_pack(pack, sizeof(pack));
	(void)state;

	expect_bad_pack((const unsigned char *)"PACX\0\0\0\2\0\0\0\1", 12, "not a pack");
	expect_bad_pack((const unsigned char *)"PACK\0\0\0\4\0\0\0\1", 12, "version 4");
	expect_bad_pack((const unsigned char *)"PACK\0\0\0\2\0\0\0\1\x05", 13, "unknown type");
	expect_bad_pack((const unsigned char *)"PACK\0\0\0\2\0\0\0\1\x50", 13, "unknown type");
	expect_bad_pack((const unsigned char *)"PACK\0\0\0\2\0\0\0\1"
			"\xb0\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80", 23, "too long");
	pack[14] ^= 0xff; /* the blob's zlib header */
	expect_bad_pack(pack, len, "corrupt");
}

/* ---- the quarantine ---- */

struct memory_input {
	const unsigned char *p;
	size_t len, at, step;
};

static ssize_t memory_read(void *ctx, void *p, size_t len)
{
	struct memory_input *in = ctx;
	size_t n = in->len - in->at;

	if (n > len)
		n = len;
	if (in->step && n > in->step)
		n = in->step;
	memcpy(p, in->p + in->at, n);
	in->at += n;
	return (ssize_t)n;
}

struct two_repos {
	struct scratch_repo source, target;
	git_oid base, child;
	git_buf pack; /* the child alone, as a push would send it */
};

static int count_incoming(const char *repo_path)
{
	char path[128];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/objects", repo_path);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += strncmp(e->d_name, "incoming-", 9) == 0;
	closedir(d);
	return n;
}

static int setup_two(void **state)
{
	struct two_repos *t = calloc(1, sizeof(*t));
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;

	if (!t || scratch_repo_open(&t->source) < 0 || scratch_repo_open(&t->target) < 0)
		return -1;
	t->base = scratch_commit(t->source.repo, "base\n", NULL);
	t->child = scratch_commit(t->source.repo, "child\n", &t->base);
	/* the target has the base, behind refs/heads/main */
	git_oid base = scratch_commit(t->target.repo, "base\n", NULL);
	if (!git_oid_equal(&base, &t->base) ||
	    scratch_ref(t->target.repo, "refs/heads/main", &base) < 0)
		return -1;
	if (git_packbuilder_new(&pb, t->source.repo) < 0 || git_revwalk_new(&walk, t->source.repo) < 0 ||
	    git_revwalk_push(walk, &t->child) < 0 || git_revwalk_hide(walk, &t->base) < 0 ||
	    git_packbuilder_insert_walk(pb, walk) < 0 || git_packbuilder_write_buf(&t->pack, pb) < 0)
		return -1;
	git_revwalk_free(walk);
	git_packbuilder_free(pb);
	*state = t;
	return 0;
}

static int teardown_two(void **state)
{
	struct two_repos *t = *state;

	git_buf_dispose(&t->pack);
	scratch_repo_close(&t->target);
	scratch_repo_close(&t->source);
	free(t);
	return 0;
}

static int receive(struct two_repos *t, struct quarantine *q, size_t len, size_t step,
		   uint64_t max, char *err, size_t err_len)
{
	struct memory_input in = { (const unsigned char *)t->pack.ptr, len, 0, step };
	struct gitgate_io io = { .ctx = &in, .read = memory_read };
	struct pkt_reader *reader = malloc(sizeof(*reader));
	struct quarantine_source src = { .reader = reader, .max_bytes = max };
	char objects[128];
	git_odb *odb = NULL;
	int ret;

	pkt_reader_init(reader, &io);
	snprintf(objects, sizeof(objects), "%s/objects", t->target.path);
	assert_int_equal(git_repository_odb(&odb, t->target.repo), 0);
	quarantine_init(q);
	ret = quarantine_receive(q, objects, odb, &src, err, err_len);
	if (ret == 0)
		ret = quarantine_attach(q, odb, err, err_len);
	git_odb_free(odb);
	free(reader);
	return ret;
}

static void test_quarantine_receive_and_migrate(void **state)
{
	struct two_repos *t = *state;
	struct quarantine q;
	char err[256] = "", path[256];
	struct stat st;
	git_commit *commit = NULL;

	/* in 7-byte reads, to cross every boundary */
	assert_int_equal(receive(t, &q, t->pack.size, 7, 1 << 20, err, sizeof(err)), 0);
	assert_non_null(q.pack_name);
	assert_int_equal(q.objects, 3); /* commit, tree, blob */
	assert_int_equal(count_incoming(t->target.path), 1);
	/* the session's repository sees the quarantined commit */
	assert_int_equal(git_commit_lookup(&commit, t->target.repo, &t->child), 0);
	git_commit_free(commit);
	assert_int_equal(quarantine_migrate(&q, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/objects/pack/%s.idx", t->target.path, q.pack_name);
	assert_int_equal(stat(path, &st), 0);
	quarantine_release(&q);
	assert_int_equal(count_incoming(t->target.path), 0);
}

static void test_quarantine_refusals_leave_nothing(void **state)
{
	struct two_repos *t = *state;
	struct quarantine q;
	char err[256] = "";

	assert_int_equal(receive(t, &q, t->pack.size - 5, 0, 1 << 20, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "ended early"));
	quarantine_release(&q);
	assert_int_equal(count_incoming(t->target.path), 0);

	assert_int_equal(receive(t, &q, t->pack.size, 0, 100, err, sizeof(err)), -EFBIG);
	assert_non_null(strstr(err, "limit of 100 bytes"));
	quarantine_release(&q);
	assert_int_equal(count_incoming(t->target.path), 0);

	/* a corrupt trailer: the indexer's own check */
	t->pack.ptr[t->pack.size - 1] ^= 1;
	assert_int_equal(receive(t, &q, t->pack.size, 0, 1 << 20, err, sizeof(err)), -EPROTO);
	assert_non_null(strstr(err, "index-pack"));
	quarantine_release(&q);
	assert_int_equal(count_incoming(t->target.path), 0);
}

/* A quarantine left by a push that was killed is removed by the next
 * push; one whose push still runs (its directory locked) is not. */
static void test_quarantine_sweeps_interrupted_pushes(void **state)
{
	struct two_repos *t = *state;
	struct quarantine q;
	char err[256] = "", stale[192], live[192], file[224];
	int live_fd, fd;

	snprintf(stale, sizeof(stale), "%s/objects/incoming-stale1", t->target.path);
	snprintf(live, sizeof(live), "%s/objects/incoming-live01", t->target.path);
	snprintf(file, sizeof(file), "%s/tmp_pack_half", stale);
	assert_int_equal(mkdir(stale, 0700), 0);
	assert_int_equal(mkdir(live, 0700), 0);
	fd = open(file, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "PACK", 4), 4);
	close(fd);
	live_fd = open(live, O_RDONLY | O_DIRECTORY);
	assert_true(live_fd >= 0);
	assert_int_equal(flock(live_fd, LOCK_EX), 0);

	assert_int_equal(receive(t, &q, t->pack.size, 0, 1 << 20, err, sizeof(err)), 0);
	assert_int_equal(access(stale, F_OK), -1);
	assert_int_equal(access(live, F_OK), 0);
	assert_int_equal(count_incoming(t->target.path), 2); /* live01 and q's own */
	quarantine_release(&q);
	assert_int_equal(count_incoming(t->target.path), 1);

	/* its push gone, the next one removes it */
	close(live_fd);
	assert_int_equal(receive(t, &q, t->pack.size, 0, 1 << 20, err, sizeof(err)), 0);
	assert_int_equal(access(live, F_OK), -1);
	quarantine_release(&q);
	assert_int_equal(count_incoming(t->target.path), 0);
}

/* ---- connectivity and the old id ---- */

static void expect_connected(git_repository *repo, const git_oid *id, const char *want_reason)
{
	struct push_command cmd = scratch_command("refs/heads/x", NULL, id);

	assert_int_equal(receive_check_connected(repo, &cmd), 0);
	if (!want_reason) {
		if (cmd.failed)
			fail_msg("unexpected failure: %s", cmd.reason);
		return;
	}
	assert_true(cmd.failed);
	if (!strstr(cmd.reason, want_reason))
		fail_msg("reason '%s' lacks '%s'", cmd.reason, want_reason);
}

/* A tree holding `entries` (name, id, mode), written without checking the
 * ids exist, as a hostile pack could carry it. */
static git_oid loose_tree(git_repository *repo, const char *name, const git_oid *id,
			  git_filemode_t mode)
{
	git_treebuilder *builder = NULL;
	git_oid tree_id;

	memset(&tree_id, 0, sizeof(tree_id));
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	if (git_treebuilder_new(&builder, repo, NULL) == 0 &&
	    git_treebuilder_insert(NULL, builder, name, id, mode) == 0)
		git_treebuilder_write(&tree_id, builder);
	git_treebuilder_free(builder);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
	return tree_id;
}

static git_oid loose_commit(git_repository *repo, const git_oid *tree, const git_oid *parent)
{
	git_signature *sig = NULL;
	git_oid id;
	const git_oid *parents[1] = { parent };

	memset(&id, 0, sizeof(id));
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 0);
	if (git_signature_new(&sig, "T", "t@example.invalid", 1700000000, 0) == 0)
		git_commit_create_from_ids(&id, repo, NULL, sig, sig, NULL, "loose", tree,
					   parent ? 1 : 0, parents);
	git_signature_free(sig);
	git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
	return id;
}

static void test_connectivity(void **state)
{
	struct scratch_repo *s = *state;
	git_repository *repo = s->repo;
	git_oid base = scratch_commit(repo, "base\n", NULL), child, missing, blob, tree, commit, tag;
	git_object *target = NULL;
	git_signature *sig = NULL;

	assert_int_equal(scratch_ref(repo, "refs/heads/main", &base), 0);
	child = scratch_commit(repo, "child\n", &base);
	expect_connected(repo, &child, NULL);
	expect_connected(repo, &base, NULL); /* already behind a ref */

	git_oid_fromstr(&missing, "1234567890123456789012345678901234567890");
	expect_connected(repo, &missing, "missing necessary objects (1234567890");

	/* a new commit whose tree names a blob that is not here */
	tree = loose_tree(repo, "file", &missing, GIT_FILEMODE_BLOB);
	commit = loose_commit(repo, &tree, &base);
	expect_connected(repo, &commit, "missing necessary objects (1234567890");
	/* a complete tree, but the parent is missing */
	assert_int_equal(git_blob_create_from_buffer(&blob, repo, "b", 1), 0);
	tree = loose_tree(repo, "file", &blob, GIT_FILEMODE_BLOB);
	commit = loose_commit(repo, &tree, &missing);
	expect_connected(repo, &commit, "missing necessary objects");
	commit = loose_commit(repo, &tree, &base);
	expect_connected(repo, &commit, NULL);
	/* a submodule's commit is never here, and need not be */
	tree = loose_tree(repo, "sub", &missing, GIT_FILEMODE_COMMIT);
	commit = loose_commit(repo, &tree, &base);
	expect_connected(repo, &commit, NULL);

	/* a blob, and an annotated tag of the child */
	expect_connected(repo, &blob, NULL);
	assert_int_equal(git_object_lookup(&target, repo, &child, GIT_OBJECT_COMMIT), 0);
	assert_int_equal(git_signature_new(&sig, "T", "t@example.invalid", 1700000000, 0), 0);
	assert_int_equal(git_tag_annotation_create(&tag, repo, "v1", target, sig, "v1"), 0);
	expect_connected(repo, &tag, NULL);
	git_signature_free(sig);
	git_object_free(target);
}

static void test_old_id(void **state)
{
	struct scratch_repo *s = *state;
	git_oid base = scratch_commit(s->repo, "base\n", NULL);
	git_oid child = scratch_commit(s->repo, "child\n", &base);
	struct push_command cmd;

	assert_int_equal(scratch_ref(s->repo, "refs/heads/main", &base), 0);
	cmd = scratch_command("refs/heads/main", &base, &child);
	assert_int_equal(receive_check_old_id(s->repo, &cmd), 0);
	assert_false(cmd.failed);
	cmd = scratch_command("refs/heads/main", &child, &base);
	receive_check_old_id(s->repo, &cmd);
	assert_non_null(strstr(cmd.reason, "stale info: the ref moved to"));
	cmd = scratch_command("refs/heads/main", NULL, &child);
	receive_check_old_id(s->repo, &cmd);
	assert_non_null(strstr(cmd.reason, "already exists"));
	cmd = scratch_command("refs/heads/other", &base, &child);
	receive_check_old_id(s->repo, &cmd);
	assert_non_null(strstr(cmd.reason, "no longer exists"));
	cmd = scratch_command("refs/heads/other", NULL, &child);
	receive_check_old_id(s->repo, &cmd);
	assert_false(cmd.failed);
}

static void test_ref_names(void **state)
{
	(void)state;
	git_libgit2_init();
	assert_true(receive_ref_name_valid("refs/heads/main"));
	assert_true(receive_ref_name_valid("refs/tags/v1.0"));
	assert_false(receive_ref_name_valid("HEAD"));
	assert_false(receive_ref_name_valid("refs/heads/a..b"));
	assert_false(receive_ref_name_valid("refs/heads/a.lock"));
	assert_false(receive_ref_name_valid("refs/heads/a/"));
	assert_false(receive_ref_name_valid("refs/heads/@{x}"));
	assert_false(receive_ref_name_valid("heads/main"));
	git_libgit2_shutdown();
}

static int setup_one(void **state)
{
	struct scratch_repo *s = calloc(1, sizeof(*s));

	if (!s || scratch_repo_open(s) < 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown_one(void **state)
{
	scratch_repo_close(*state);
	free(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_whole_and_byte_by_byte),
		cmocka_unit_test(test_request_empty_and_deletes),
		cmocka_unit_test(test_request_shallow_lines),
		cmocka_unit_test(test_request_per_command_failures),
		cmocka_unit_test(test_request_refusals),
		cmocka_unit_test(test_request_bounds),
		cmocka_unit_test(test_pack_stream_finds_the_end),
		cmocka_unit_test(test_pack_stream_refusals),
		cmocka_unit_test_setup_teardown(test_quarantine_receive_and_migrate, setup_two,
						teardown_two),
		cmocka_unit_test_setup_teardown(test_quarantine_refusals_leave_nothing, setup_two,
						teardown_two),
		cmocka_unit_test_setup_teardown(test_quarantine_sweeps_interrupted_pushes, setup_two,
						teardown_two),
		cmocka_unit_test_setup_teardown(test_connectivity, setup_one, teardown_one),
		cmocka_unit_test_setup_teardown(test_old_id, setup_one, teardown_one),
		cmocka_unit_test(test_ref_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

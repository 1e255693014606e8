/* Merging packs (sidecar/gitgate/pack_merge.c): which packs are chosen,
 * every object the same before and after (read back through libgit2,
 * deltas and objects held by two packs included), the readers lock
 * holding back removal, and what an interrupted merge leaves. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/gitgate/pack_merge.c"
#include "test_gitgate_helpers.h"

/* ---- choosing ---- */

static void sizes(struct pack_info *packs, const uint64_t *values, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&packs[i], 0, sizeof(packs[i]));
		snprintf(packs[i].name, sizeof(packs[i].name), "pack-%02zx", i);
		packs[i].size = values[i];
	}
}

static void test_no_merge_at_or_under_the_threshold(void **state)
{
	struct pack_info packs[16];
	uint64_t values[16];

	(void)state;
	for (size_t i = 0; i < 16; i++)
		values[i] = 100;
	sizes(packs, values, 16);
	assert_int_equal(merge_count(packs, 16, 16), 0);
	assert_int_equal(merge_count(packs, 1, 0), 0);
}

static void test_the_big_pack_stays(void **state)
{
	/* 16 pushes of about the same size and the mirror's first pack. */
	uint64_t values[17];
	struct pack_info packs[17];

	(void)state;
	for (size_t i = 0; i < 16; i++)
		values[i] = 200 + i;
	values[16] = 1000000;
	sizes(packs, values, 17);
	assert_int_equal(merge_count(packs, 17, 16), 16);
}

static void test_a_geometric_run_is_kept_down_to_half_the_threshold(void **state)
{
	/* Each pack twice the ones below it: only the count forces a merge. */
	uint64_t values[17];
	struct pack_info packs[17];

	(void)state;
	for (size_t i = 0; i < 17; i++)
		values[i] = (uint64_t)1 << (2 * i);
	sizes(packs, values, 17);
	/* 17 - 8 + 1: eight packs remain. */
	assert_int_equal(merge_count(packs, 17, 16), 10);
}

static void test_a_middle_pack_breaking_the_progression_goes_too(void **state)
{
	/* 3000 is over twice the 14 small ones below it, but 5000 is not over
	 * twice 3140: everything up to 5000 goes, the big one stays. */
	uint64_t values[17] = { 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10,
				3000, 5000, 1000000 };
	struct pack_info packs[17];

	(void)state;
	sizes(packs, values, 17);
	assert_int_equal(merge_count(packs, 17, 16), 16);
}

/* ---- merging a real repository ---- */

#define STEPS 20

struct fixture {
	struct scratch_repo source; /* every object, loose */
	struct scratch_repo target; /* the same objects, in STEPS packs only */
	git_oid commits[STEPS];
	char pack_dir[128];
};

/* About 3 KiB of text that changes a little at each step: deltas. */
static void step_content(char *out, size_t len, int step)
{
	size_t at = 0;

	for (int line = 0; line < 60 && at < len; line++)
		at += (size_t)snprintf(out + at, len - at, "line %d of the file, %s\n", line,
				       line == step % 60 ? "changed at this step" : "as it was");
	snprintf(out + (at < len ? at : len - 1), len - (at < len ? at : len - 1), "step %d\n",
		 step);
}

static size_t count_suffix(const char *dir_path, const char *suffix)
{
	DIR *dir = opendir(dir_path);
	struct dirent *d;
	size_t n = 0;

	if (!dir)
		return 0;
	while ((d = readdir(dir)) != NULL) {
		size_t len = strlen(d->d_name);
		if (len > strlen(suffix) && strcmp(d->d_name + len - strlen(suffix), suffix) == 0)
			n++;
	}
	closedir(dir);
	return n;
}

/* Each pack holds step i's commit and step i-1's too (its parent): the
 * same objects in two packs, and two similar blobs per pack for the
 * packbuilder to store one as a delta of the other. */
static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char content[4096];

	assert_non_null(f);
	assert_int_equal(scratch_repo_open(&f->source), 0);
	assert_int_equal(scratch_repo_open(&f->target), 0);
	snprintf(f->pack_dir, sizeof(f->pack_dir), "%s/objects/pack", f->target.path);
	for (int i = 0; i < STEPS; i++) {
		git_packbuilder *pb = NULL;

		step_content(content, sizeof(content), i);
		f->commits[i] = scratch_commit(f->source.repo, content, i ? &f->commits[i - 1] : NULL);
		assert_false(git_oid_is_zero(&f->commits[i]));
		assert_int_equal(git_packbuilder_new(&pb, f->source.repo), 0);
		assert_int_equal(git_packbuilder_insert_commit(pb, &f->commits[i]), 0);
		if (i)
			assert_int_equal(git_packbuilder_insert_commit(pb, &f->commits[i - 1]), 0);
		assert_int_equal(git_packbuilder_write(pb, f->pack_dir, 0, NULL, NULL), 0);
		git_packbuilder_free(pb);
	}
	assert_int_equal(scratch_ref(f->target.repo, "refs/heads/main", &f->commits[STEPS - 1]),
			 0);
	assert_int_equal(count_suffix(f->pack_dir, ".idx"), STEPS);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	scratch_repo_close(&f->target);
	scratch_repo_close(&f->source);
	free(f);
	return 0;
}

static int collect_id(const git_oid *id, void *payload)
{
	return oid_array_push(payload, id);
}

/* Every object of the source reads back from the target, byte for byte,
 * through a repository opened now (or through odb when given). */
static void assert_same_objects(struct fixture *f, git_odb *odb)
{
	struct oid_array ids = { .max = SIZE_MAX / sizeof(git_oid) };
	git_repository *fresh = NULL;
	git_odb *source = NULL, *target = odb;

	assert_int_equal(git_repository_odb(&source, f->source.repo), 0);
	assert_int_equal(git_odb_foreach(source, collect_id, &ids), 0);
	assert_true(ids.n >= 3 * STEPS);
	if (!target) {
		assert_int_equal(git_repository_open_bare(&fresh, f->target.path), 0);
		assert_int_equal(git_repository_odb(&target, fresh), 0);
	}
	for (size_t i = 0; i < ids.n; i++) {
		git_odb_object *a = NULL, *b = NULL;

		assert_int_equal(git_odb_read(&a, source, &ids.v[i]), 0);
		assert_int_equal(git_odb_read(&b, target, &ids.v[i]), 0);
		assert_int_equal(git_odb_object_type(a), git_odb_object_type(b));
		assert_int_equal(git_odb_object_size(a), git_odb_object_size(b));
		assert_memory_equal(git_odb_object_data(a), git_odb_object_data(b),
				    git_odb_object_size(a));
		git_odb_object_free(a);
		git_odb_object_free(b);
	}
	if (!odb)
		git_odb_free(target);
	git_repository_free(fresh);
	git_odb_free(source);
	oid_array_release(&ids);
}

static void test_merge_keeps_every_object(void **state)
{
	struct fixture *f = *state;
	struct pack_merge_stats stats;
	char err[256] = "", path[256];

	assert_int_equal(pack_merge_run(f->target.path, 16, &stats, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(stats.packs_before, STEPS);
	/* Packs of about one size: none is twice the others, all go. */
	assert_int_equal(stats.packs_merged, STEPS);
	assert_int_equal(stats.removed, STEPS);
	assert_int_equal(count_suffix(f->pack_dir, ".idx"), 1);
	assert_int_equal(count_suffix(f->pack_dir, ".pack"), 1);
	/* Each object once, though the packs held most of them twice. */
	assert_int_equal(stats.objects, 3 * STEPS);
	snprintf(path, sizeof(path), "%s/" RETIRED_DIR, f->target.path);
	assert_int_equal(access(path, F_OK), -1);
	assert_same_objects(f, NULL);

	/* Under the threshold now: nothing more to do. */
	assert_int_equal(pack_merge_run(f->target.path, 16, &stats, err, sizeof(err)), 0);
	assert_int_equal(stats.packs_merged, 0);
}

static void test_merge_everything_into_one(void **state)
{
	struct fixture *f = *state;
	struct pack_merge_stats stats;
	char err[256] = "";

	assert_int_equal(pack_merge_run(f->target.path, 1, &stats, err, sizeof(err)), 0);
	assert_int_equal(stats.packs_merged, STEPS);
	assert_int_equal(count_suffix(f->pack_dir, ".idx"), 1);
	assert_int_equal(stats.objects, 3 * STEPS);
	assert_same_objects(f, NULL);
}

static void test_a_reader_keeps_the_old_packs_until_it_leaves(void **state)
{
	struct fixture *f = *state;
	struct pack_merge_stats stats;
	git_repository *reader = NULL;
	git_odb *odb = NULL;
	char err[256] = "";
	int fd;

	/* A session that listed the packs (and read from them) before. */
	fd = pack_readers_lock(f->target.path);
	assert_true(fd >= 0);
	assert_int_equal(git_repository_open_bare(&reader, f->target.path), 0);
	assert_int_equal(git_repository_odb(&odb, reader), 0);
	assert_true(git_odb_exists(odb, &f->commits[0]));

	assert_int_equal(pack_merge_run(f->target.path, 1, &stats, err, sizeof(err)), 0);
	assert_int_equal(stats.packs_merged, STEPS);
	assert_int_equal(stats.removed, 0);
	/* Retired, not removed: the old packs and the new one. */
	assert_int_equal(count_suffix(f->pack_dir, ".idx"), STEPS + 1);
	assert_same_objects(f, odb);
	/* Retired packs are not merged again. */
	assert_int_equal(pack_merge_run(f->target.path, 1, &stats, err, sizeof(err)), 0);
	assert_int_equal(stats.packs_merged, 0);
	assert_int_equal(stats.packs_before, 1);

	/* The last reader out removes them. */
	pack_readers_unlock(f->target.path, fd);
	assert_int_equal(count_suffix(f->pack_dir, ".idx"), 1);
	assert_int_equal(count_suffix(f->pack_dir, ".pack"), 1);
	/* The old session's odb still finds everything (libgit2 refreshes). */
	assert_same_objects(f, odb);
	git_odb_free(odb);
	git_repository_free(reader);
	assert_same_objects(f, NULL);
}

static void touch(const char *dir, const char *name)
{
	char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x", 1), 1);
	close(fd);
}

static void test_what_an_interrupted_merge_left_is_removed(void **state)
{
	struct fixture *f = *state;
	struct pack_merge_stats stats;
	char err[256] = "", path[512];

	touch(f->pack_dir, TEMP_PREFIX "AbC123");
	touch(f->pack_dir, LIBGIT2_TEMP_PREFIX "XyZ789");
	/* A pack renamed in whose index never followed. */
	touch(f->pack_dir, "pack-0123456789abcdef0123456789abcdef01234567.pack");
	/* A pack retired whose files were not all removed yet. */
	snprintf(path, sizeof(path), "%s/" RETIRED_DIR, f->target.path);
	assert_int_equal(mkdir(path, 0700), 0);
	touch(path, "pack-89abcdef0123456789abcdef0123456789abcdef");
	touch(f->pack_dir, "pack-89abcdef0123456789abcdef0123456789abcdef.pack");

	assert_int_equal(pack_merge_run(f->target.path, 64, &stats, err, sizeof(err)), 0);
	/* The retired pack's .pack has no index either: a leftover too. */
	assert_int_equal(stats.leftovers, 4);
	assert_int_equal(stats.removed, 1);
	assert_int_equal(stats.packs_merged, 0);
	assert_int_equal(count_suffix(f->pack_dir, ".pack"), STEPS);
	assert_int_equal(count_suffix(f->pack_dir, "AbC123"), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_same_objects(f, NULL);
}

static void test_an_unreadable_pack_stops_the_merge(void **state)
{
	struct fixture *f = *state;
	struct pack_merge_stats stats;
	char err[256] = "";
	struct dirent *d;
	DIR *dir;

	/* Truncate one index: the merge must not retire what it cannot read. */
	dir = opendir(f->pack_dir);
	assert_non_null(dir);
	while ((d = readdir(dir)) != NULL) {
		char path[512];

		if (strstr(d->d_name, ".idx")) {
			snprintf(path, sizeof(path), "%s/%s", f->pack_dir, d->d_name);
			chmod(path, 0600);
			assert_int_equal(truncate(path, 100), 0);
			break;
		}
	}
	closedir(dir);
	assert_true(pack_merge_run(f->target.path, 1, &stats, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot read the pack"));
	assert_int_equal(count_suffix(f->pack_dir, ".idx"), STEPS);
	assert_int_equal(count_suffix(f->pack_dir, TEMP_PREFIX), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_merge_at_or_under_the_threshold),
		cmocka_unit_test(test_the_big_pack_stays),
		cmocka_unit_test(test_a_geometric_run_is_kept_down_to_half_the_threshold),
		cmocka_unit_test(test_a_middle_pack_breaking_the_progression_goes_too),
		cmocka_unit_test_setup_teardown(test_merge_keeps_every_object, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_merge_everything_into_one, fixture_setup,
						fixture_teardown),
		cmocka_unit_test_setup_teardown(test_a_reader_keeps_the_old_packs_until_it_leaves,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_what_an_interrupted_merge_left_is_removed,
						fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_an_unreadable_pack_stops_the_merge,
						fixture_setup, fixture_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* The routes diff bottle-host supervise shows: exact hunks for the cases
 * an operator sees, and for generated files, patch(1) turns the old file
 * into the new one with our diff and GNU diff finds as few changed lines
 * (both are minimal; they may align them differently). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../host/cmd_supervise.h"

/* Our diff of a against b as a string (caller frees). */
static char *diff_text(const char *a, const char *b, bool color, size_t *changed)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	*changed = supervise_diff(out, "a", a, "b", b, color);
	assert_int_equal(fclose(out), 0);
	return text;
}

static void expect_diff(const char *a, const char *b, const char *want, size_t want_changed)
{
	size_t changed;
	char *got = diff_text(a, b, false, &changed);

	if (strcmp(got, want) != 0)
		fail_msg("diff of\n%s---\n%s---\ngot\n%s---\nwant\n%s", a, b, got, want);
	assert_int_equal(changed, want_changed);
	free(got);
}

static void test_equal_files_print_nothing(void **state)
{
	(void)state;
	expect_diff("routes:\n  - host: a\n", "routes:\n  - host: a\n", "", 0);
	expect_diff("", "", "", 0);
}

static void test_hunks(void **state)
{
	(void)state;
	/* From nothing: the whole file added. */
	expect_diff("", "routes:\n  - host: a\n",
		    "--- a\n+++ b\n@@ -0,0 +1,2 @@\n+routes:\n+  - host: a\n", 2);
	/* An addition at the end keeps three lines of context. */
	expect_diff("1\n2\n3\n4\n5\n", "1\n2\n3\n4\n5\n6\n",
		    "--- a\n+++ b\n@@ -3,3 +3,4 @@\n 3\n 4\n 5\n+6\n", 1);
	/* Changes far apart make two hunks, close ones one. */
	expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n",
		    "x\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\ny\n",
		    "--- a\n+++ b\n@@ -1,4 +1,4 @@\n-1\n+x\n 2\n 3\n 4\n"
		    "@@ -9,4 +9,4 @@\n 9\n 10\n 11\n-12\n+y\n",
		    4);
	expect_diff("1\n2\n3\n4\n5\n6\n7\n8\n", "x\n2\n3\n4\n5\n6\n7\ny\n",
		    "--- a\n+++ b\n@@ -1,8 +1,8 @@\n-1\n+x\n 2\n 3\n 4\n 5\n 6\n 7\n-8\n+y\n", 4);
	/* A last line without a newline compares by its text. */
	expect_diff("a\nb", "a\nb\n", "", 0);
}

static void test_terminal_controls_do_not_pass(void **state)
{
	size_t changed;
	char *got;

	(void)state;
	expect_diff("a\n", "a\n\033]0;pwned\007\n",
		    "--- a\n+++ b\n@@ -1,1 +1,2 @@\n a\n+?]0;pwned?\n", 1);
	got = diff_text("a\n", "b\n", true, &changed);
	assert_non_null(strstr(got, "\033[31m-a\033[0m\n"));
	assert_non_null(strstr(got, "\033[32m+b\033[0m\n"));
	free(got);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 16);

	assert_non_null(f);
	assert_true(fread(text, 1, (1 << 16) - 1, f) < (1 << 16) - 1);
	fclose(f);
	return text;
}

/* A routes-like file of n lines drawn from a few values, so that random
 * pairs share many lines in shifting places. */
static char *random_file(unsigned *seed, size_t n)
{
	static const char *const lines[] = { "routes:", "  - host: a", "    ports: [443]",
					     "  - host: b", "    matches:",
					     "      - path: /v1", "", "  - host: c" };
	char *text = calloc(1, n * 24 + 1);
	size_t i, at = 0;

	for (i = 0; i < n; i++)
		at += (size_t)snprintf(text + at, 24, "%s\n", lines[rand_r(seed) % 8]);
	return text;
}

static void test_patch_and_gnu_diff_agree(void **state)
{
	char dir[] = "/tmp/test_queue_diff.XXXXXX", cmd[512], a_path[64], b_path[64];
	char d_path[64], out_path[64];
	unsigned seed = 20261129;
	int round;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(a_path, sizeof(a_path), "%s/a", dir);
	snprintf(b_path, sizeof(b_path), "%s/b", dir);
	snprintf(d_path, sizeof(d_path), "%s/d", dir);
	snprintf(out_path, sizeof(out_path), "%s/out", dir);
	for (round = 0; round < 40; round++) {
		char *a = random_file(&seed, (size_t)(rand_r(&seed) % 40));
		char *b = random_file(&seed, (size_t)(rand_r(&seed) % 40));
		size_t changed, gnu = 0;
		char *d = diff_text(a, b, false, &changed), *patched, line[256];
		FILE *p;

		write_file(a_path, a);
		write_file(b_path, b);
		write_file(d_path, d);
		snprintf(cmd, sizeof(cmd), "patch -s -o %s %s < %s", out_path, a_path, d_path);
		if (*d && system(cmd) != 0)
			fail_msg("patch refused our diff of round %d:\n%s", round, d);
		patched = *d ? read_all(out_path) : strdup(a);
		if (strcmp(patched, b) != 0)
			fail_msg("round %d: patched\n%s---\nwant\n%s", round, patched, b);
		snprintf(cmd, sizeof(cmd), "diff -d -U0 %s %s", a_path, b_path);
		p = popen(cmd, "r");
		assert_non_null(p);
		while (fgets(line, sizeof(line), p))
			if ((line[0] == '-' && strncmp(line, "---", 3) != 0) ||
			    (line[0] == '+' && strncmp(line, "+++", 3) != 0))
				gnu++;
		pclose(p);
		assert_int_equal(changed, gnu);
		free(a);
		free(b);
		free(d);
		free(patched);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_equal_files_print_nothing),
		cmocka_unit_test(test_hunks),
		cmocka_unit_test(test_terminal_controls_do_not_pass),
		cmocka_unit_test(test_patch_and_gnu_diff_agree),
	};

	return cmocka_run_group_tests_name("queue_diff", tests, NULL, NULL);
}

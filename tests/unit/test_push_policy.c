/* The push policy: which refs are protected, and which updates of the
 * others are refused (deletes, non-fast-forwards, moved tags). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../sidecar/gitgate/receive_pack.h"
#include "test_gitgate_helpers.h"

static void test_protected_patterns(void **state)
{
	char *patterns[] = { "main", "release/*", "refs/tags/v*", "refs/heads/exact", NULL };
	struct gitgate_repo_config config = { .protected_refs = patterns };
	struct gitgate_repo_config none = { 0 };
	(void)state;

	assert_true(push_policy_protected(&config, "refs/heads/main"));
	assert_false(push_policy_protected(&config, "refs/heads/main2"));
	assert_false(push_policy_protected(&config, "refs/heads/topic/main"));
	/* a short name is a branch, never a tag of that name */
	assert_false(push_policy_protected(&config, "refs/tags/main"));
	assert_true(push_policy_protected(&config, "refs/heads/release/1.0"));
	assert_true(push_policy_protected(&config, "refs/heads/release/"));
	assert_false(push_policy_protected(&config, "refs/heads/release"));
	assert_true(push_policy_protected(&config, "refs/tags/v1.0"));
	assert_false(push_policy_protected(&config, "refs/tags/x1.0"));
	assert_true(push_policy_protected(&config, "refs/heads/exact"));
	assert_false(push_policy_protected(&config, "refs/heads/exactly"));
	assert_false(push_policy_protected(&none, "refs/heads/main"));
}

struct history {
	struct scratch_repo scratch;
	git_oid base, child, sibling;
};

static int setup(void **state)
{
	struct history *h = calloc(1, sizeof(*h));

	if (!h || scratch_repo_open(&h->scratch) < 0)
		return -1;
	h->base = scratch_commit(h->scratch.repo, "base\n", NULL);
	h->child = scratch_commit(h->scratch.repo, "child\n", &h->base);
	h->sibling = scratch_commit(h->scratch.repo, "sibling\n", &h->base);
	if (git_oid_is_zero(&h->sibling))
		return -1;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct history *h = *state;

	scratch_repo_close(&h->scratch);
	free(h);
	return 0;
}

static void check(const struct gitgate_repo_config *config, git_repository *repo,
		  struct push_command cmd, const char *want_reason)
{
	assert_int_equal(push_policy_check(config, repo, &cmd), 0);
	if (!want_reason) {
		assert_false(cmd.failed);
		return;
	}
	assert_true(cmd.failed);
	assert_non_null(strstr(cmd.reason, want_reason));
}

static void test_updates(void **state)
{
	struct history *h = *state;
	git_repository *repo = h->scratch.repo;
	char *patterns[] = { "main", NULL };
	struct gitgate_repo_config strict = { .protected_refs = patterns };
	struct gitgate_repo_config loose = { .protected_refs = patterns, .allow_force_push = true,
					     .allow_delete = true };

	/* creating and fast-forwarding an unprotected branch */
	check(&strict, repo, scratch_command("refs/heads/topic", NULL, &h->base), NULL);
	check(&strict, repo, scratch_command("refs/heads/topic", &h->base, &h->child), NULL);
	check(&strict, repo, scratch_command("refs/heads/topic", &h->child, &h->child), NULL);
	/* rewinding or going sideways */
	check(&strict, repo, scratch_command("refs/heads/topic", &h->child, &h->base), "non-fast-forward");
	check(&strict, repo, scratch_command("refs/heads/topic", &h->child, &h->sibling),
	      "non-fast-forward");
	check(&loose, repo, scratch_command("refs/heads/topic", &h->child, &h->sibling), NULL);
	/* deleting */
	check(&strict, repo, scratch_command("refs/heads/topic", &h->child, NULL), "deleting refs");
	check(&loose, repo, scratch_command("refs/heads/topic", &h->child, NULL), NULL);
	/* a protected branch: never, whatever else is allowed */
	check(&loose, repo, scratch_command("refs/heads/main", NULL, &h->base), "protected ref");
	check(&loose, repo, scratch_command("refs/heads/main", &h->base, &h->child), "protected ref");
	check(&loose, repo, scratch_command("refs/heads/main", &h->base, NULL), "never deletes");
	/* a tag that moves, even forward, is a rewrite */
	check(&strict, repo, scratch_command("refs/tags/v1", &h->base, &h->child), "non-fast-forward");
	check(&loose, repo, scratch_command("refs/tags/v1", &h->base, &h->child), NULL);
	check(&strict, repo, scratch_command("refs/tags/v2", NULL, &h->child), NULL);
}

static void test_failed_command_is_left_alone(void **state)
{
	struct history *h = *state;
	struct gitgate_repo_config strict = { 0 };
	struct push_command cmd = scratch_command("refs/heads/x", &h->child, &h->base);

	push_command_fail(&cmd, "earlier reason");
	assert_int_equal(push_policy_check(&strict, h->scratch.repo, &cmd), 0);
	assert_string_equal(cmd.reason, "earlier reason");
}

static void test_unknown_objects(void **state)
{
	struct history *h = *state;
	struct gitgate_repo_config strict = { 0 };
	git_oid missing;
	struct push_command cmd;

	git_oid_fromstr(&missing, "1234567890123456789012345678901234567890");
	cmd = scratch_command("refs/heads/x", &missing, &h->base);
	assert_true(push_policy_check(&strict, h->scratch.repo, &cmd) < 0);
	assert_true(cmd.failed);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_protected_patterns),
		cmocka_unit_test_setup_teardown(test_updates, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_command_is_left_alone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_objects, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}

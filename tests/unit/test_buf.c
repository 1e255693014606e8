/* struct buf: the cap is never exceeded, failures leave the buffer as it
 * was, and the invariants (p never NULL, NUL-terminated) always hold. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../shared/buf.h"

static void test_init_gives_empty_c_string(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 16);
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	assert_int_equal(b.len, 0);
	buf_release(&b);
	assert_non_null(b.p);
	assert_int_equal(b.max, 16);
}

static void test_append_up_to_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "abcd"), 0);
	assert_int_equal(buf_append_str(&b, "efgh"), 0);
	assert_string_equal(b.p, "abcdefgh");
	assert_int_equal(b.len, 8);
	buf_release(&b);
}

static void test_append_past_cap_fails_and_changes_nothing(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_append_str(&b, "abcdef"), 0);
	assert_int_equal(buf_append_str(&b, "xyz"), -EMSGSIZE);
	assert_string_equal(b.p, "abcdef");
	assert_int_equal(b.len, 6);
	assert_int_equal(buf_appendf(&b, "%d", 123), -EMSGSIZE);
	assert_string_equal(b.p, "abcdef");
	buf_release(&b);
}

static void test_grow_rejects_overflowing_sizes(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, SIZE_MAX - 1);
	assert_int_equal(buf_append_str(&b, "a"), 0);
	assert_int_equal(buf_grow(&b, SIZE_MAX), -EMSGSIZE);
	assert_int_equal(buf_grow(&b, SIZE_MAX - 1), -EMSGSIZE);
	assert_string_equal(b.p, "a");
	buf_release(&b);
}

static void test_appendf_formats_and_grows(void **state)
{
	struct buf b;
	int i;

	(void)state;
	buf_init(&b, 4096);
	for (i = 0; i < 100; i++)
		assert_int_equal(buf_appendf(&b, "%02d,", i), 0);
	assert_int_equal(b.len, 300);
	assert_memory_equal(b.p, "00,01,02,", 9);
	assert_memory_equal(b.p + 297, "99,", 3);
	assert_int_equal(b.p[300], '\0');
	buf_release(&b);
}

static void test_clear_keeps_allocation(void **state)
{
	struct buf b;
	size_t cap;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append_str(&b, "hello"), 0);
	cap = b.cap;
	buf_clear(&b);
	assert_string_equal(b.p, "");
	assert_int_equal(b.cap, cap);
	buf_release(&b);
}

static void test_detach_hands_over_ownership(void **state)
{
	struct buf b;
	size_t len = 99;
	char *p;

	(void)state;
	buf_init(&b, 64);
	p = buf_detach(&b, &len);
	assert_non_null(p);
	assert_string_equal(p, "");
	assert_int_equal(len, 0);
	free(p);

	assert_int_equal(buf_append(&b, "a\0b", 3), 0);
	p = buf_detach(&b, &len);
	assert_int_equal(len, 3);
	assert_memory_equal(p, "a\0b", 4);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.p, "");
	free(p);
}

static void test_str_comparisons(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_append_str(&b, "egress"), 0);
	assert_true(str_equal_cstr(buf_str(&b), "egress"));
	assert_false(str_equal_cstr(buf_str(&b), "egres"));
	assert_false(str_equal_cstr(buf_str(&b), "egresss"));
	assert_true(str_equal(STR_LITERAL(""), str_from_cstr("")));
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_gives_empty_c_string),
		cmocka_unit_test(test_append_up_to_cap),
		cmocka_unit_test(test_append_past_cap_fails_and_changes_nothing),
		cmocka_unit_test(test_grow_rejects_overflowing_sizes),
		cmocka_unit_test(test_appendf_formats_and_grows),
		cmocka_unit_test(test_clear_keeps_allocation),
		cmocka_unit_test(test_detach_hands_over_ownership),
		cmocka_unit_test(test_str_comparisons),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}

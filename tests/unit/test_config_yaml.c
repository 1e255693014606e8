/* shared/config_yaml: the value parsers, the typed getters, and that every
 * error names file:line:col (1-based) of the node at fault. */
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

#include "../../shared/config_yaml.h"

static void load(struct config_yaml *cy, const char *text)
{
	config_yaml_init(cy);
	if (config_yaml_load_string(cy, "t.yaml", text, strlen(text)) != 0)
		fail_msg("load failed: %s", config_yaml_message(cy));
}

static int load_error(struct config_yaml *cy, const char *text)
{
	config_yaml_init(cy);
	return config_yaml_load_string(cy, "t.yaml", text, strlen(text));
}

static void test_parse_duration(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(config_parse_duration_ms("500ms", &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(config_parse_duration_ms("10s", &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(config_parse_duration_ms("2m", &ms), 0);
	assert_int_equal(ms, 120000);
	assert_int_equal(config_parse_duration_ms("1h", &ms), 0);
	assert_int_equal(ms, 3600000);
	assert_int_equal(config_parse_duration_ms("7", &ms), 0); /* plain: seconds */
	assert_int_equal(ms, 7000);
	assert_int_equal(config_parse_duration_ms("0", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(config_parse_duration_ms("007ms", &ms), 0);
	assert_int_equal(ms, 7);

	assert_int_equal(config_parse_duration_ms("", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("s", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("-1s", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("1.5s", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("10 s", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms(" 10s", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("10sec", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("10S", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("1d", &ms), -EINVAL);
	assert_int_equal(config_parse_duration_ms("99999999999999999999", &ms), -ERANGE);
	assert_int_equal(config_parse_duration_ms("9999999999999999h", &ms), -ERANGE);
}

static void test_parse_integer(void **state)
{
	long long v;

	(void)state;
	assert_int_equal(config_parse_integer("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(config_parse_integer("42", &v), 0);
	assert_int_equal(v, 42);
	assert_int_equal(config_parse_integer("-17", &v), 0);
	assert_int_equal(v, -17);
	assert_int_equal(config_parse_integer("9223372036854775807", &v), 0);
	assert_true(v == 9223372036854775807LL);
	assert_int_equal(config_parse_integer("-9223372036854775808", &v), 0);
	assert_true(v == -9223372036854775807LL - 1);

	assert_int_equal(config_parse_integer("9223372036854775808", &v), -ERANGE);
	assert_int_equal(config_parse_integer("", &v), -EINVAL);
	assert_int_equal(config_parse_integer("-", &v), -EINVAL);
	assert_int_equal(config_parse_integer("+1", &v), -EINVAL);
	assert_int_equal(config_parse_integer(" 1", &v), -EINVAL);
	assert_int_equal(config_parse_integer("1 ", &v), -EINVAL);
	assert_int_equal(config_parse_integer("0x10", &v), -EINVAL);
	assert_int_equal(config_parse_integer("1e3", &v), -EINVAL);
	assert_int_equal(config_parse_integer("99999999999999999999x", &v), -EINVAL);
}

static void test_parse_boolean(void **state)
{
	bool b = false;

	(void)state;
	assert_int_equal(config_parse_boolean("true", &b), 0);
	assert_true(b);
	assert_int_equal(config_parse_boolean("false", &b), 0);
	assert_false(b);
	assert_int_equal(config_parse_boolean("yes", &b), -EINVAL);
	assert_int_equal(config_parse_boolean("True", &b), -EINVAL);
	assert_int_equal(config_parse_boolean("1", &b), -EINVAL);
	assert_int_equal(config_parse_boolean("", &b), -EINVAL);
}

static void test_format_duration(void **state)
{
	char s[32];

	(void)state;
	config_format_duration(0, s, sizeof(s));
	assert_string_equal(s, "0s");
	config_format_duration(100, s, sizeof(s));
	assert_string_equal(s, "100ms");
	config_format_duration(1500, s, sizeof(s));
	assert_string_equal(s, "1.5s");
	config_format_duration(1250, s, sizeof(s));
	assert_string_equal(s, "1.25s");
	config_format_duration(1001, s, sizeof(s));
	assert_string_equal(s, "1.001s");
	config_format_duration(30000, s, sizeof(s));
	assert_string_equal(s, "30s");
	config_format_duration(120000, s, sizeof(s));
	assert_string_equal(s, "2m");
	config_format_duration(7200000, s, sizeof(s));
	assert_string_equal(s, "2h");
}

static void test_getters_read_values(void **state)
{
	struct config_yaml cy;
	yaml_node_t *root;
	uint64_t ms;
	long long n;
	bool b;
	const char *s;

	(void)state;
	load(&cy, "grace: 10s\ncount: 3\nflag: true\nname: \"egress\"\nlist: [a, b, c]\n");
	root = config_yaml_root(&cy);
	assert_int_equal(config_yaml_duration_ms(&cy, config_yaml_get(&cy, root, "grace"), "grace",
						 0, 60000, &ms), 0);
	assert_int_equal(ms, 10000);
	assert_int_equal(config_yaml_integer(&cy, config_yaml_get(&cy, root, "count"), "count", 1,
					     5, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(config_yaml_boolean(&cy, config_yaml_get(&cy, root, "flag"), "flag", &b), 0);
	assert_true(b);
	assert_int_equal(config_yaml_string(&cy, config_yaml_get(&cy, root, "name"), "name", &s), 0);
	assert_string_equal(s, "egress");
	assert_null(config_yaml_get(&cy, root, "absent"));
	assert_int_equal(config_yaml_length(config_yaml_get(&cy, root, "list")), 3);
	assert_int_equal(config_yaml_string(&cy,
					    config_yaml_item(&cy, config_yaml_get(&cy, root, "list"), 2),
					    "list[2]", &s), 0);
	assert_string_equal(s, "c");
	assert_null(config_yaml_item(&cy, config_yaml_get(&cy, root, "list"), 3));
	assert_string_equal(config_yaml_message(&cy), "");
	config_yaml_release(&cy);
}

static void test_errors_name_line_and_column(void **state)
{
	struct config_yaml cy;
	yaml_node_t *root;
	uint64_t ms;
	long long n;
	bool b;
	const char *s;

	(void)state;
	load(&cy, "a: 1\n"
		  "grace:   10 seconds\n"
		  "count: 9\n"
		  "flag: yes\n"
		  "nested:\n"
		  "  - x\n"
		  "word: abc\n"
		  "big: 10h\n");
	root = config_yaml_root(&cy);
	assert_int_equal(config_yaml_duration_ms(&cy, config_yaml_get(&cy, root, "grace"), "grace",
						 0, 60000, &ms), -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:2:10: grace: expected a duration such as 500ms, 10s, 2m or 1h, got '10 seconds'");
	assert_int_equal(config_yaml_integer(&cy, config_yaml_get(&cy, root, "count"), "count", 1,
					     5, &n), -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:3:8: count: 9 is out of range (1 to 5)");
	assert_int_equal(config_yaml_integer(&cy, config_yaml_get(&cy, root, "word"), "word", 1, 5,
					     &n), -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:7:7: word: expected an integer, got 'abc'");
	assert_int_equal(config_yaml_boolean(&cy, config_yaml_get(&cy, root, "flag"), "flag", &b),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:4:7: flag: expected true or false, got 'yes'");
	assert_int_equal(config_yaml_string(&cy, config_yaml_get(&cy, root, "nested"), "nested", &s),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:6:3: nested: expected a scalar, got a sequence");
	assert_int_equal(config_yaml_expect_mapping(&cy, config_yaml_get(&cy, root, "a"), "a"),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:1:4: a: expected a mapping, got a scalar");
	assert_int_equal(config_yaml_duration_ms(&cy, config_yaml_get(&cy, root, "big"), "big", 1,
						 3600000, &ms), -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:8:6: big: 10h is out of range (1ms to 1h)");
	assert_int_equal(config_yaml_error(&cy, config_yaml_get(&cy, root, "word"), "custom %d", 7),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:7:7: custom 7");
	assert_int_equal(config_yaml_line(config_yaml_get(&cy, root, "word")), 7);
	assert_int_equal(config_yaml_column(config_yaml_get(&cy, root, "word")), 7);
	config_yaml_release(&cy);
}

static void test_unknown_and_duplicate_keys(void **state)
{
	static const char *const allowed[] = { "name", "argv", "env", NULL };
	struct config_yaml cy;

	(void)state;
	load(&cy, "name: x\nargv: [a]\n");
	assert_int_equal(config_yaml_check_keys(&cy, config_yaml_root(&cy), "daemon", allowed), 0);
	config_yaml_release(&cy);

	load(&cy, "name: x\n  \nargs: [a]\n");
	assert_int_equal(config_yaml_check_keys(&cy, config_yaml_root(&cy), "daemons[0]", allowed),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:3:1: daemons[0]: unknown key 'args' (allowed: name, argv, env)");
	config_yaml_release(&cy);

	load(&cy, "name: x\nargv: [a]\nname: y\n");
	assert_int_equal(config_yaml_check_keys(&cy, config_yaml_root(&cy), "daemon", allowed),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:3:1: daemon: key 'name' given twice (first at line 1)");
	config_yaml_release(&cy);

	load(&cy, "? [a, b]\n: x\n");
	assert_int_equal(config_yaml_check_keys(&cy, config_yaml_root(&cy), "daemon", allowed),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:1:3: daemon: a key must be a scalar, got a sequence");
	config_yaml_release(&cy);

	load(&cy, "- a\n");
	assert_int_equal(config_yaml_check_keys(&cy, config_yaml_root(&cy), "config", allowed),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:1:1: config: expected a mapping, got a sequence");
	config_yaml_release(&cy);

	load(&cy, "argv: [a]\n");
	assert_int_equal(config_yaml_require_key(&cy, config_yaml_root(&cy), "daemons[2]", "name"),
			 -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:1:1: daemons[2]: missing key 'name'");
	config_yaml_release(&cy);
}

static void test_unknown_key_is_quoted_safely(void **state)
{
	static const char *const allowed[] = { "name", NULL };
	struct config_yaml cy;

	(void)state;
	load(&cy, "\"bad\\nkey\\u0007\": 1\n");
	assert_int_equal(config_yaml_check_keys(&cy, config_yaml_root(&cy), "x", allowed), -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:1:1: x: unknown key 'bad?key?' (allowed: name)");
	config_yaml_release(&cy);
}

static void test_document_errors(void **state)
{
	struct config_yaml cy;

	(void)state;
	assert_int_equal(load_error(&cy, ""), -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:1:1: empty document");
	config_yaml_release(&cy);

	assert_int_equal(load_error(&cy, "a: 1\n---\nb: 2\n"), -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:3:1: a second YAML document; only one is allowed");
	config_yaml_release(&cy);

	assert_int_equal(load_error(&cy, "a: [1, 2\nb: 3\n"), -EINVAL);
	assert_non_null(strstr(config_yaml_message(&cy), "t.yaml:2:2: "));
	assert_non_null(strstr(config_yaml_message(&cy), "did not find expected ',' or ']'"));
	config_yaml_release(&cy);

	assert_int_equal(load_error(&cy, "a: 1\n\tb: 2\n"), -EINVAL);
	assert_non_null(strstr(config_yaml_message(&cy), "t.yaml:2:"));
	config_yaml_release(&cy);

	assert_int_equal(load_error(&cy, "a: *nowhere\n"), -EINVAL);
	assert_non_null(strstr(config_yaml_message(&cy), "t.yaml:1:4: "));
	config_yaml_release(&cy);
}

static void test_load_file(void **state)
{
	char path[] = "/tmp/test_config_yaml.XXXXXX";
	struct config_yaml cy;
	yaml_node_t *value;
	long long n;
	int fd;

	(void)state;
	config_yaml_init(&cy);
	assert_int_equal(config_yaml_load_file(&cy, "/nonexistent/init.yaml"), -ENOENT);
	assert_string_equal(config_yaml_message(&cy),
			    "unable to open '/nonexistent/init.yaml': No such file or directory");
	assert_int_equal(config_yaml_load_file(&cy, "/tmp"), -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "'/tmp' is not a regular file");

	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x: 1\ny: nope\n", 13), 13);
	close(fd);
	assert_int_equal(config_yaml_load_file(&cy, path), 0);
	value = config_yaml_get(&cy, config_yaml_root(&cy), "y");
	assert_int_equal(config_yaml_integer(&cy, value, "y", 0, 9, &n), -EINVAL);
	assert_true(strncmp(config_yaml_message(&cy), path, strlen(path)) == 0);
	assert_string_equal(config_yaml_message(&cy) + strlen(path),
			    ":2:4: y: expected an integer, got 'nope'");
	/* Loading again replaces the document. */
	assert_int_equal(config_yaml_load_string(&cy, "s", "z: 2\n", 5), 0);
	assert_non_null(config_yaml_get(&cy, config_yaml_root(&cy), "z"));
	assert_null(config_yaml_get(&cy, config_yaml_root(&cy), "x"));
	config_yaml_release(&cy);
	unlink(path);
}

static void test_long_values_are_shortened(void **state)
{
	struct config_yaml cy;
	long long n;

	(void)state;
	load(&cy, "n: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
	assert_int_equal(config_yaml_integer(&cy, config_yaml_get(&cy, config_yaml_root(&cy), "n"),
					     "n", 0, 1, &n), -EINVAL);
	assert_string_equal(config_yaml_message(&cy),
			    "t.yaml:1:4: n: expected an integer, got 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...'");
	config_yaml_release(&cy);
}

static void test_nonempty_string(void **state)
{
	struct config_yaml cy;
	const char *s;

	(void)state;
	load(&cy, "a: ''\nb:\n");
	assert_int_equal(config_yaml_nonempty_string(&cy, config_yaml_get(&cy, config_yaml_root(&cy), "a"),
						     "a", &s), -EINVAL);
	assert_string_equal(config_yaml_message(&cy), "t.yaml:1:4: a: must not be empty");
	assert_int_equal(config_yaml_string(&cy, config_yaml_get(&cy, config_yaml_root(&cy), "b"), "b",
					    &s), 0);
	assert_string_equal(s, "");
	config_yaml_release(&cy);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_integer),
		cmocka_unit_test(test_parse_boolean),
		cmocka_unit_test(test_format_duration),
		cmocka_unit_test(test_getters_read_values),
		cmocka_unit_test(test_errors_name_line_and_column),
		cmocka_unit_test(test_unknown_and_duplicate_keys),
		cmocka_unit_test(test_unknown_key_is_quoted_safely),
		cmocka_unit_test(test_document_errors),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_long_values_are_shortened),
		cmocka_unit_test(test_nonempty_string),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* sidecar dlp-scan, run in a child process: secrets only from the
 * environment, findings on stdout without the values, the exit codes. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

int dlp_scan_main(int argc, char **argv);

#define SECRET "Zq8xT4vLp2Rm9WcY7bN3kHs6Jd5Fg1Aa"

static char dir[] = "/tmp/test_dlp_applet.XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Run dlp-scan with argv (NULL-terminated) in a child whose stdout and
 * stderr go to files; returns its exit code, output in out/err. */
static int run(char *const *argv, char *out, size_t out_len, char *err, size_t err_len)
{
	char path[128];
	int status, fd, argc = 0;
	pid_t pid;
	ssize_t n;

	while (argv[argc])
		argc++;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		snprintf(path, sizeof(path), "%s/out", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 1);
		snprintf(path, sizeof(path), "%s/err", dir);
		fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		dup2(fd, 2);
		status = dlp_scan_main(argc, (char **)argv);
		fflush(NULL);
		_exit(status);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	snprintf(path, sizeof(path), "%s/out", dir);
	fd = open(path, O_RDONLY);
	n = read(fd, out, out_len - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	snprintf(path, sizeof(path), "%s/err", dir);
	fd = open(path, O_RDONLY);
	n = read(fd, err, err_len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return WEXITSTATUS(status);
}

static int setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(chdir(dir), 0);
	write_file("leak.txt", "config:\n  token: " SECRET "\n  other: fine\n");
	write_file("clean.txt", "nothing to see here\n3f786850e387550fdab836ed7e6dc881de23001b\n");
	write_file("bad.yaml", "rules:\n  - id: x\n    regex: '('\n");
	setenv("DLP_TEST_TOKEN", SECRET, 1);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_finds_env_secret(void **state)
{
	char *const argv[] = { "dlp-scan", "--secret-env", "DLP_TEST_TOKEN", "leak.txt", NULL };
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
	assert_string_equal(out,
			    "leak.txt: known known:exact DLP_TEST_TOKEN at text+17 len 32 Zq\xe2\x80\xa6(32)\n");
	assert_null(strstr(err, SECRET));
}

static void test_prefix_and_stdin(void **state)
{
	char *const argv[] = { "dlp-scan", "--secret-env-prefix", "DLP_TEST_", "-", NULL };
	char out[4096], err[4096];
	int fd = open("leak.txt", O_RDONLY), saved = dup(0);

	(void)state;
	dup2(fd, 0);
	assert_int_equal(run(argv, out, sizeof(out), err, sizeof(err)), 1);
	dup2(saved, 0);
	close(fd);
	close(saved);
	assert_non_null(strstr(out, "-: known known:exact DLP_TEST_TOKEN at text+17"));
}

/* Without naming the variable, the value is just text. */
static void test_clean_and_unnamed(void **state)
{
	char *const clean[] = { "dlp-scan", "clean.txt", NULL };
	char *const unnamed[] = { "dlp-scan", "leak.txt", NULL };
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run(clean, out, sizeof(out), err, sizeof(err)), 0);
	assert_string_equal(out, "");
	/* The secret is high-entropy: a warning, not a block. */
	assert_int_equal(run(unnamed, out, sizeof(out), err, sizeof(err)), 0);
	assert_non_null(strstr(out, "entropy entropy at text+17 len 32 Zq\xe2\x80\xa6(32) (warn)"));
}

static void test_errors(void **state)
{
	char *const bad_rules[] = { "dlp-scan", "--rules", "bad.yaml", "clean.txt", NULL };
	char *const missing[] = { "dlp-scan", "no-such-file", NULL };
	char *const usage[] = { "dlp-scan", "--secret", SECRET, "clean.txt", NULL };
	char *const none[] = { "dlp-scan", NULL };
	char out[4096], err[4096];

	(void)state;
	assert_int_equal(run(bad_rules, out, sizeof(out), err, sizeof(err)), 3);
	assert_non_null(strstr(err, "bad.yaml:3:12: x.regex: invalid regex"));
	assert_int_equal(run(missing, out, sizeof(out), err, sizeof(err)), 111);
	assert_non_null(strstr(err, "unable to open 'no-such-file'"));
	/* There is no option that takes a secret value. */
	assert_int_equal(run(usage, out, sizeof(out), err, sizeof(err)), 2);
	assert_null(strstr(err, "Zq8x"));
	assert_int_equal(run(none, out, sizeof(out), err, sizeof(err)), 2);
	assert_non_null(strstr(err, "usage: sidecar dlp-scan"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finds_env_secret),
		cmocka_unit_test(test_prefix_and_stdin),
		cmocka_unit_test(test_clean_and_unnamed),
		cmocka_unit_test(test_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

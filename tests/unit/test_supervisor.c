/* The supervisor's pure decisions: backoff, the crash-loop rule, restart
 * policy, statuses (128+signal), init's exit status, bundle readiness; and
 * the /proc and fd helpers it relies on. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/init/init.h"

static void test_backoff_doubles_and_caps(void **state)
{
	(void)state;
	assert_int_equal(supervisor_backoff_ms(100, 30000, 0), 100);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 1), 100);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 2), 200);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 3), 400);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 4), 800);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 9), 25600);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 10), 30000);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 11), 30000);
	assert_int_equal(supervisor_backoff_ms(100, 30000, 100), 30000);
	/* Exactly reaching the cap, and an initial equal to it. */
	assert_int_equal(supervisor_backoff_ms(250, 1000, 3), 1000);
	assert_int_equal(supervisor_backoff_ms(1000, 1000, 1), 1000);
	assert_int_equal(supervisor_backoff_ms(1000, 1000, 5), 1000);
	/* No overflow with huge values. */
	assert_true(supervisor_backoff_ms(UINT64_MAX / 2, UINT64_MAX, 80) == UINT64_MAX);
}

static void test_give_up_counts_failures_within_window(void **state)
{
	struct failure_window w;

	(void)state;
	memset(&w, 0, sizeof(w));
	/* 5 quick failures within 60s: the fifth reaches the limit. */
	assert_int_equal(supervisor_note_failure(&w, 5, 1000, 10, 60000), 1);
	assert_int_equal(supervisor_note_failure(&w, 5, 1200, 10, 60000), 2);
	assert_int_equal(supervisor_note_failure(&w, 5, 1500, 10, 60000), 3);
	assert_int_equal(supervisor_note_failure(&w, 5, 2000, 10, 60000), 4);
	assert_int_equal(supervisor_note_failure(&w, 5, 3000, 10, 60000), 5);
}

static void test_give_up_window_slides(void **state)
{
	struct failure_window w;

	(void)state;
	memset(&w, 0, sizeof(w));
	/* Failures 50s apart never pile up to 3 within 60s. */
	assert_int_equal(supervisor_note_failure(&w, 3, 0, 10, 60000), 1);
	assert_int_equal(supervisor_note_failure(&w, 3, 50000, 10, 60000), 2);
	assert_int_equal(supervisor_note_failure(&w, 3, 100000, 10, 60000), 2);
	assert_int_equal(supervisor_note_failure(&w, 3, 150000, 10, 60000), 2);
	/* ... but three within a minute do, wherever the minute starts. */
	assert_int_equal(supervisor_note_failure(&w, 3, 151000, 10, 60000), 3);
}

static void test_give_up_long_run_resets(void **state)
{
	struct failure_window w;

	(void)state;
	memset(&w, 0, sizeof(w));
	assert_int_equal(supervisor_note_failure(&w, 5, 1000, 10, 60000), 1);
	assert_int_equal(supervisor_note_failure(&w, 5, 2000, 10, 60000), 2);
	assert_int_equal(supervisor_note_failure(&w, 5, 3000, 10, 60000), 3);
	/* It ran for a whole window: it can run, the count starts over. */
	assert_int_equal(supervisor_note_failure(&w, 5, 64000, 60000, 60000), 1);
	assert_int_equal(supervisor_note_failure(&w, 5, 64100, 59999, 60000), 2);
}

static void test_give_up_window_is_bounded(void **state)
{
	struct failure_window w;
	unsigned i, n = 0;

	(void)state;
	memset(&w, 0, sizeof(w));
	for (i = 0; i < 3 * INIT_GIVE_UP_MAX; i++)
		n = supervisor_note_failure(&w, INIT_GIVE_UP_MAX, 1000 + i, 0, 3600000);
	assert_int_equal(n, INIT_GIVE_UP_MAX);
	assert_int_equal(w.count, INIT_GIVE_UP_MAX);
	/* A limit of 1 gives up at the first failure. */
	memset(&w, 0, sizeof(w));
	assert_int_equal(supervisor_note_failure(&w, 1, 5, 0, 1000), 1);
	assert_int_equal(supervisor_note_failure(&w, 1, 6, 0, 1000), 1);
}

static void test_restart_policy(void **state)
{
	(void)state;
	assert_true(supervisor_should_restart(RESTART_ALWAYS, 0));
	assert_true(supervisor_should_restart(RESTART_ALWAYS, 1));
	assert_true(supervisor_should_restart(RESTART_ALWAYS, 137));
	assert_false(supervisor_should_restart(RESTART_ON_FAILURE, 0));
	assert_true(supervisor_should_restart(RESTART_ON_FAILURE, 1));
	assert_true(supervisor_should_restart(RESTART_ON_FAILURE, 139));
	assert_false(supervisor_should_restart(RESTART_NEVER, 0));
	assert_false(supervisor_should_restart(RESTART_NEVER, 1));
	assert_string_equal(init_restart_policy_name(RESTART_ON_FAILURE), "on-failure");
}

/* A real wait status from a real child. */
static int status_of_child(int exit_code, int sig)
{
	int wstatus = 0;
	pid_t pid = fork();

	if (pid == 0) {
		if (sig) {
			signal(sig, SIG_DFL);
			raise(sig);
		}
		_exit(exit_code);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	return wstatus;
}

static void test_wait_status_is_code_or_128_plus_signal(void **state)
{
	(void)state;
	assert_int_equal(supervisor_wait_status(status_of_child(0, 0)), 0);
	assert_int_equal(supervisor_wait_status(status_of_child(3, 0)), 3);
	assert_int_equal(supervisor_wait_status(status_of_child(255, 0)), 255);
	assert_int_equal(supervisor_wait_status(status_of_child(0, SIGKILL)), 137);
	assert_int_equal(supervisor_wait_status(status_of_child(0, SIGTERM)), 143);
	assert_int_equal(supervisor_wait_status(status_of_child(0, SIGUSR1)), 128 + SIGUSR1);
}

static void test_exit_status_mapping(void **state)
{
	(void)state;
	/* Signal or `initctl stop`: 0 if everything left in time, else 5. */
	assert_int_equal(supervisor_exit_status(STOP_SIGNAL, 0, false), 0);
	assert_int_equal(supervisor_exit_status(STOP_SIGNAL, 0, true), 5);
	assert_int_equal(supervisor_exit_status(STOP_REQUEST, 0, false), 0);
	assert_int_equal(supervisor_exit_status(STOP_REQUEST, 0, true), 5);
	/* A required daemon given up on: 4, even if stragglers were killed. */
	assert_int_equal(supervisor_exit_status(STOP_GAVE_UP, 1, false), 4);
	assert_int_equal(supervisor_exit_status(STOP_GAVE_UP, 139, true), 4);
	/* A required daemon failed for good: its own status. */
	assert_int_equal(supervisor_exit_status(STOP_REQUIRED_FAILED, 7, false), 7);
	assert_int_equal(supervisor_exit_status(STOP_REQUIRED_FAILED, 137, true), 137);
	/* All ended: the last failure's status, or 0/5. */
	assert_int_equal(supervisor_exit_status(STOP_ALL_ENDED, 0, false), 0);
	assert_int_equal(supervisor_exit_status(STOP_ALL_ENDED, 0, true), 5);
	assert_int_equal(supervisor_exit_status(STOP_ALL_ENDED, 42, false), 42);
	assert_int_equal(supervisor_exit_status(STOP_ALL_ENDED, 143, true), 143);
	assert_int_equal(INIT_EXIT_USAGE, 2);
	assert_int_equal(INIT_EXIT_CONFIG, 3);
	assert_int_equal(INIT_EXIT_SYSTEM, 111);
}

static void set(struct daemon *d, enum daemon_state s, bool ready, int last_status)
{
	memset(d, 0, sizeof(*d));
	d->state = s;
	d->ready = ready;
	d->last_status = last_status;
}

static void test_bundle_state(void **state)
{
	struct daemon d[3];

	(void)state;
	memset(d, 0, sizeof(d));
	/* No daemons: ready at once (a pure reaper). */
	assert_int_equal(supervisor_bundle_state(d, 0, false), BUNDLE_READY);
	assert_int_equal(supervisor_bundle_state(d, 0, true), BUNDLE_STOPPING);

	set(&d[0], DAEMON_RUNNING, true, -1);
	set(&d[1], DAEMON_RUNNING, false, -1);
	set(&d[2], DAEMON_RUNNING, true, -1);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_STARTING);
	d[1].ready = true;
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_READY);
	assert_int_equal(supervisor_bundle_state(d, 3, true), BUNDLE_STOPPING);

	/* Waiting to restart, or stopping for a restart: not ready. */
	set(&d[1], DAEMON_BACKOFF, false, 1);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_STARTING);
	set(&d[1], DAEMON_STOPPING, true, -1);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_STARTING);

	/* Finished cleanly (a one-shot job): fine.  Failed for good: degraded. */
	set(&d[1], DAEMON_EXITED, false, 0);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_READY);
	set(&d[1], DAEMON_EXITED, false, 2);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_DEGRADED);
	set(&d[1], DAEMON_FAILED, false, 139);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_DEGRADED);
	/* Degraded wins over starting. */
	set(&d[2], DAEMON_BACKOFF, false, 1);
	assert_int_equal(supervisor_bundle_state(d, 3, false), BUNDLE_DEGRADED);

	assert_string_equal(supervisor_bundle_state_name(BUNDLE_READY), "ready");
	assert_string_equal(supervisor_bundle_state_name(BUNDLE_STARTING), "starting");
	assert_string_equal(supervisor_bundle_state_name(BUNDLE_DEGRADED), "degraded");
	assert_string_equal(supervisor_bundle_state_name(BUNDLE_STOPPING), "stopping");
	assert_string_equal(supervisor_state_name(DAEMON_BACKOFF), "backoff");
	assert_string_equal(supervisor_state_name(DAEMON_FAILED), "failed");
}

static void test_close_fds_keeps_only_the_kept(void **state)
{
	int pipe_fds[2], status = -1;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pipe_fds), 0);
	pid = fork();
	if (pid == 0) {
		int a = dup2(pipe_fds[0], 10), b = dup2(pipe_fds[0], 20), c = dup2(pipe_fds[0], 30);
		int keep[2] = { 20, 5 };

		if (a != 10 || b != 20 || c != 30 || dup2(pipe_fds[0], 5) != 5)
			_exit(10);
		proc_close_fds_from(3, keep, 2);
		if (fcntl(10, F_GETFD) != -1 || fcntl(30, F_GETFD) != -1 ||
		    fcntl(pipe_fds[0], F_GETFD) != -1 || fcntl(pipe_fds[1], F_GETFD) != -1)
			_exit(11);
		if (fcntl(20, F_GETFD) < 0 || fcntl(5, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
			_exit(12);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	close(pipe_fds[0]);
	close(pipe_fds[1]);
}

static void test_proc_descendants_finds_grandchildren(void **state)
{
	int go[2], status;
	struct proc_entry *procs;
	size_t count, i;
	bool found_child = false, found_grandchild = false;
	pid_t child, grandchild = 0;
	char c;

	(void)state;
	assert_int_equal(pipe(go), 0);
	child = fork();
	if (child == 0) {
		pid_t g = fork();

		if (g == 0) {
			(void)!read(go[0], &c, 1); /* until the test is done */
			_exit(0);
		}
		(void)!read(go[0], &c, 1);
		waitpid(g, NULL, 0);
		_exit(0);
	}
	assert_true(child > 0);
	/* Wait until the grandchild exists. */
	for (i = 0; i < 200 && !found_grandchild; i++) {
		assert_int_equal(proc_descendants(getpid(), &procs, &count), 0);
		found_child = found_grandchild = false;
		for (size_t k = 0; k < count; k++) {
			if (procs[k].pid == child)
				found_child = true;
			else if (procs[k].ppid == child) {
				found_grandchild = true;
				grandchild = procs[k].pid;
			}
		}
		free(procs);
		if (!found_grandchild)
			usleep(10000);
	}
	assert_true(found_child);
	assert_true(found_grandchild);
	assert_true(grandchild > 0);
	assert_int_equal(write(go[1], "xx", 2), 2);
	assert_int_equal(waitpid(child, &status, 0), child);
	close(go[0]);
	close(go[1]);
}

static void test_pid_set(void **state)
{
	struct pid_set set = { NULL, 0, 0 };
	pid_t p;

	(void)state;
	for (p = 1; p <= 100; p++)
		assert_int_equal(pid_set_add(&set, p), 0);
	assert_int_equal(pid_set_add(&set, 50), 0);
	assert_int_equal(set.count, 100);
	assert_true(pid_set_has(&set, 1));
	assert_true(pid_set_has(&set, 100));
	assert_false(pid_set_has(&set, 101));
	pid_set_release(&set);
	assert_false(pid_set_has(&set, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_doubles_and_caps),
		cmocka_unit_test(test_give_up_counts_failures_within_window),
		cmocka_unit_test(test_give_up_window_slides),
		cmocka_unit_test(test_give_up_long_run_resets),
		cmocka_unit_test(test_give_up_window_is_bounded),
		cmocka_unit_test(test_restart_policy),
		cmocka_unit_test(test_wait_status_is_code_or_128_plus_signal),
		cmocka_unit_test(test_exit_status_mapping),
		cmocka_unit_test(test_bundle_state),
		cmocka_unit_test(test_close_fds_keeps_only_the_kept),
		cmocka_unit_test(test_proc_descendants_finds_grandchildren),
		cmocka_unit_test(test_pid_set),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

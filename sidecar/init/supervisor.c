/* The supervisor: the daemon table and its state machine, the event loop
 * (signalfd + epoll, timers from the nearest deadline), spawning, reaping,
 * and shutdown.  The decisions it takes are pure functions at the top of
 * this file so the unit tests can check them without processes. */
#include "init.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../shared/config_yaml.h"
#include "../../shared/log.h"

/* While stopping: how often to look for processes that were re-parented to
 * init since the stop began (to send them the stop signal), and, after the
 * grace period, for stragglers to SIGKILL. */
#define SCAN_INTERVAL_MS 200
#define KILL_SCAN_INTERVAL_MS 50

/* ---- pure decisions ---- */

uint64_t supervisor_backoff_ms(uint64_t initial_ms, uint64_t max_ms, unsigned failures)
{
	uint64_t delay = initial_ms;
	unsigned i;

	for (i = 1; i < failures && delay < max_ms; i++) {
		if (delay > max_ms / 2)
			return max_ms;
		delay *= 2;
	}
	return delay < max_ms ? delay : max_ms;
}

unsigned supervisor_note_failure(struct failure_window *window, unsigned limit,
				 uint64_t now_ms, uint64_t run_ms, uint64_t within_ms)
{
	unsigned i, kept = 0;

	if (limit < 1)
		limit = 1;
	if (limit > INIT_GIVE_UP_MAX)
		limit = INIT_GIVE_UP_MAX;
	if (run_ms >= within_ms)
		window->count = 0;
	/* Forget failures older than the window, and make room. */
	for (i = 0; i < window->count; i++) {
		uint64_t t = window->times_ms[i];

		if (now_ms - t > within_ms)
			continue;
		window->times_ms[kept++] = t;
	}
	window->count = kept;
	if (window->count == limit) {
		memmove(window->times_ms, window->times_ms + 1,
			(window->count - 1) * sizeof(window->times_ms[0]));
		window->count--;
	}
	window->times_ms[window->count++] = now_ms;
	return window->count;
}

bool supervisor_should_restart(enum restart_policy policy, int status)
{
	switch (policy) {
	case RESTART_ALWAYS:
		return true;
	case RESTART_ON_FAILURE:
		return status != 0;
	case RESTART_NEVER:
		return false;
	}
	return false;
}

int supervisor_wait_status(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return 255;
}

int supervisor_exit_status(enum stop_reason reason, int daemon_status, bool killed)
{
	switch (reason) {
	case STOP_GAVE_UP:
		return INIT_EXIT_GAVE_UP;
	case STOP_REQUIRED_FAILED:
	case STOP_ALL_ENDED:
		if (daemon_status != 0)
			return daemon_status;
		break;
	case STOP_NONE:
	case STOP_SIGNAL:
	case STOP_REQUEST:
		break;
	}
	return killed ? INIT_EXIT_KILLED : INIT_EXIT_OK;
}

const char *supervisor_state_name(enum daemon_state state)
{
	switch (state) {
	case DAEMON_BACKOFF:
		return "backoff";
	case DAEMON_RUNNING:
		return "running";
	case DAEMON_STOPPING:
		return "stopping";
	case DAEMON_EXITED:
		return "exited";
	case DAEMON_FAILED:
		return "failed";
	}
	return "?";
}

enum bundle_state supervisor_bundle_state(const struct daemon *daemons, size_t count,
					  bool stopping)
{
	bool pending = false, failed = false;
	size_t i;

	if (stopping)
		return BUNDLE_STOPPING;
	for (i = 0; i < count; i++) {
		switch (daemons[i].state) {
		case DAEMON_RUNNING:
			if (!daemons[i].ready)
				pending = true;
			break;
		case DAEMON_BACKOFF:
		case DAEMON_STOPPING:
			pending = true;
			break;
		case DAEMON_EXITED:
			/* A daemon that finished its job cleanly is fine. */
			if (daemons[i].last_status != 0)
				failed = true;
			break;
		case DAEMON_FAILED:
			failed = true;
			break;
		}
	}
	if (failed)
		return BUNDLE_DEGRADED;
	return pending ? BUNDLE_STARTING : BUNDLE_READY;
}

const char *supervisor_bundle_state_name(enum bundle_state state)
{
	switch (state) {
	case BUNDLE_STARTING:
		return "starting";
	case BUNDLE_READY:
		return "ready";
	case BUNDLE_DEGRADED:
		return "degraded";
	case BUNDLE_STOPPING:
		return "stopping";
	}
	return "?";
}

/* ---- helpers ---- */

uint64_t supervisor_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static const char *plural(size_t n)
{
	return n == 1 ? "" : "s";
}

static const char *plural_es(size_t n)
{
	return n == 1 ? "" : "es";
}

static const char *signame(int sig, char *scratch, size_t size)
{
	return init_signal_name(sig, scratch, size);
}

/* Signal a daemon's process group; if it left its group (setsid), the
 * daemon itself. */
static void daemon_signal(struct daemon *d, int sig)
{
	if (d->pid <= 0)
		return;
	if (kill(-d->pid, sig) < 0 && errno == ESRCH)
		kill(d->pid, sig);
}

static struct daemon *daemon_by_pid(struct supervisor *sv, pid_t pid)
{
	size_t i;

	for (i = 0; i < sv->daemon_count; i++)
		if (sv->daemons[i].pid == pid)
			return &sv->daemons[i];
	return NULL;
}

static bool is_daemon_group(struct supervisor *sv, pid_t pgid)
{
	return pgid > 0 && daemon_by_pid(sv, pgid) != NULL;
}

static size_t running_daemons(struct supervisor *sv)
{
	size_t i, n = 0;

	for (i = 0; i < sv->daemon_count; i++)
		if (sv->daemons[i].pid > 0)
			n++;
	return n;
}

struct daemon *supervisor_find(struct supervisor *sv, const char *name)
{
	size_t i;

	for (i = 0; i < sv->daemon_count; i++)
		if (strcmp(sv->daemons[i].config->name, name) == 0)
			return &sv->daemons[i];
	return NULL;
}

static void bundle_update(struct supervisor *sv)
{
	enum bundle_state state = supervisor_bundle_state(sv->daemons, sv->daemon_count,
							  sv->stopping);
	enum bundle_state before = sv->bundle;
	size_t i, failed = 0;

	if (state == before && sv->bundle_logged)
		return;
	sv->bundle = state;
	switch (state) {
	case BUNDLE_READY:
		log_info("bundle ready (%zu daemon%s)", sv->daemon_count, plural(sv->daemon_count));
		sv->bundle_logged = true;
		break;
	case BUNDLE_DEGRADED:
		for (i = 0; i < sv->daemon_count; i++)
			if (sv->daemons[i].state == DAEMON_FAILED ||
			    (sv->daemons[i].state == DAEMON_EXITED && sv->daemons[i].last_status))
				failed++;
		log_info("bundle degraded (%zu daemon%s failed for good)", failed, plural(failed));
		sv->bundle_logged = true;
		break;
	case BUNDLE_STARTING:
		/* Only worth a line when the bundle was ready before. */
		if (sv->bundle_logged)
			log_info("bundle not ready");
		sv->bundle_logged = true;
		break;
	case BUNDLE_STOPPING:
		sv->bundle_logged = true;
		break;
	}
}

/* A daemon's state changed: tell the control clients and the bundle. */
static void daemon_changed(struct supervisor *sv, struct daemon *d)
{
	control_daemon_changed(sv, d);
	bundle_update(sv);
}

static char **build_envp(const struct daemon_config *c)
{
	size_t count = 1, i, k = 0;
	bool path_set = false;
	struct buf entry;
	char **envp;
	const char *value;

	for (i = 0; c->env && c->env[i]; i++, count++)
		if (strncmp(c->env[i], "PATH=", 5) == 0)
			path_set = true;
	for (i = 0; c->env_inherit && c->env_inherit[i]; i++, count++)
		if (strcmp(c->env_inherit[i], "PATH") == 0 && getenv("PATH"))
			path_set = true;
	envp = calloc(count + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	if (!path_set && !(envp[k++] = strdup("PATH=" INIT_DEFAULT_PATH)))
		goto fail;
	for (i = 0; c->env && c->env[i]; i++)
		if (!(envp[k++] = strdup(c->env[i])))
			goto fail;
	for (i = 0; c->env_inherit && c->env_inherit[i]; i++) {
		value = getenv(c->env_inherit[i]);
		if (!value)
			continue;
		buf_init(&entry, (size_t)-1);
		if (buf_appendf(&entry, "%s=%s", c->env_inherit[i], value) < 0) {
			buf_release(&entry);
			goto fail;
		}
		if (!(envp[k++] = buf_detach(&entry, NULL)))
			goto fail;
	}
	return envp;
fail:
	for (i = 0; i < k; i++)
		free(envp[i]);
	free(envp);
	return NULL;
}

/* ---- stopping the bundle ---- */

/* Send `sig` to init's direct children that are neither daemons nor in a
 * daemon's process group (those had the group signal), once each. */
static size_t signal_other_children(struct supervisor *sv, int sig)
{
	struct proc_entry *procs;
	size_t count, i, n = 0;
	pid_t self = getpid();

	if (proc_descendants(self, &procs, &count) < 0)
		return 0;
	for (i = 0; i < count; i++) {
		if (procs[i].ppid != self || daemon_by_pid(sv, procs[i].pid) ||
		    is_daemon_group(sv, procs[i].pgid) || pid_set_has(&sv->signalled, procs[i].pid))
			continue;
		if (kill(procs[i].pid, sig) == 0) {
			pid_set_add(&sv->signalled, procs[i].pid);
			n++;
		}
	}
	free(procs);
	return n;
}

static void supervisor_reap(struct supervisor *sv);

static void supervisor_stop(struct supervisor *sv, enum stop_reason reason, int sig,
			    int status, const char *why)
{
	char grace[32], name[32];
	size_t i, daemons, others;

	if (sv->stopping) {
		/* A second signal is passed on as well; the deadline stays. */
		for (i = 0; i < sv->daemon_count; i++)
			daemon_signal(&sv->daemons[i], sig);
		log_info("received %s while stopping; forwarded to %zu daemon%s",
			 signame(sig, name, sizeof(name)), running_daemons(sv),
			 plural(running_daemons(sv)));
		return;
	}
	sv->stopping = true;
	sv->stop_reason = reason;
	sv->stop_signal = sig;
	sv->stop_status = status;
	daemons = 0;
	for (i = 0; i < sv->daemon_count; i++) {
		struct daemon *d = &sv->daemons[i];

		d->restart_requested = false;
		if (d->pid > 0) {
			daemon_signal(d, sig);
			d->state = DAEMON_STOPPING;
			daemons++;
		} else if (d->state == DAEMON_BACKOFF) {
			d->state = DAEMON_EXITED;
		}
	}
	others = signal_other_children(sv, sig);
	sv->grace_deadline_ms = supervisor_now_ms() + sv->config->grace_period_ms;
	sv->next_scan_ms = supervisor_now_ms() + SCAN_INTERVAL_MS;
	config_format_duration(sv->config->grace_period_ms, grace, sizeof(grace));
	if (others)
		log_info("%s; stopping %zu daemon%s and %zu other process%s with %s (grace %s)",
			 why, daemons, plural(daemons), others, plural_es(others),
			 signame(sig, name, sizeof(name)), grace);
	else
		log_info("%s; stopping %zu daemon%s with %s (grace %s)", why, daemons,
			 plural(daemons), signame(sig, name, sizeof(name)), grace);
	control_stopping(sv);
	bundle_update(sv);
	supervisor_reap(sv); /* nothing left at all: done now */
}

void supervisor_request_stop(struct supervisor *sv)
{
	if (!sv->stopping)
		supervisor_stop(sv, STOP_REQUEST, SIGTERM, 0, "stop requested");
}

/* SIGKILL what is left: every daemon group, then everything (as PID 1:
 * kill(-1) reaches the whole namespace) or each descendant found in /proc. */
static size_t kill_stragglers(struct supervisor *sv)
{
	struct proc_entry *procs = NULL;
	size_t count = 0, i;

	for (i = 0; i < sv->daemon_count; i++)
		daemon_signal(&sv->daemons[i], SIGKILL);
	if (proc_descendants(getpid(), &procs, &count) < 0)
		count = 0;
	if (sv->pid1)
		kill(-1, SIGKILL);
	for (i = 0; i < count; i++)
		kill(procs[i].pid, SIGKILL);
	free(procs);
	return count;
}

static void grace_over(struct supervisor *sv)
{
	struct proc_entry *procs = NULL;
	size_t count = 0;

	supervisor_reap(sv);
	if (sv->done)
		return;
	sv->killing = true;
	if (proc_descendants(getpid(), &procs, &count) < 0)
		count = running_daemons(sv);
	free(procs);
	if (count)
		log_info("grace period over; killing %zu remaining process%s", count,
			 plural_es(count));
	/* A zombie not yet reaped is no straggler: only a live one counts. */
	if (count) {
		sv->killed = true;
		kill_stragglers(sv);
	}
	sv->next_scan_ms = supervisor_now_ms() + KILL_SCAN_INTERVAL_MS;
}

/* ---- starting and ending daemons ---- */

static void daemon_start(struct supervisor *sv, struct daemon *d, uint64_t now);

static void check_all_ended(struct supervisor *sv)
{
	size_t i;

	if (sv->stopping || sv->daemon_count == 0)
		return;
	for (i = 0; i < sv->daemon_count; i++)
		if (sv->daemons[i].state != DAEMON_EXITED && sv->daemons[i].state != DAEMON_FAILED)
			return;
	supervisor_stop(sv, STOP_ALL_ENDED, SIGTERM, sv->last_failed_status,
			"every daemon has ended");
}

/* The end of a run (or of an attempt to start): decide what comes next
 * and log it in one line, `what` saying what happened. */
static void daemon_ended(struct supervisor *sv, struct daemon *d, uint64_t now, int status,
			 uint64_t run_ms, const char *what)
{
	const struct daemon_config *c = d->config;
	char delay_text[32], within_text[32], why[96];
	unsigned failures;
	uint64_t delay;

	d->last_status = status;
	if (sv->stopping) {
		d->state = DAEMON_EXITED;
		log_info("%s %s", c->name, what);
		return;
	}
	if (d->restart_requested) {
		d->restart_requested = false;
		log_info("%s %s; starting it again as requested", c->name, what);
		daemon_start(sv, d, now);
		return;
	}
	if (!supervisor_should_restart(c->restart, status)) {
		d->state = DAEMON_EXITED;
		log_info("%s %s; not restarting (restart: %s)", c->name, what,
			 init_restart_policy_name(c->restart));
		if (status != 0) {
			sv->last_failed_status = status;
			if (c->required) {
				snprintf(why, sizeof(why), "required daemon %s failed", c->name);
				supervisor_stop(sv, STOP_REQUIRED_FAILED, SIGTERM, status, why);
				return;
			}
		}
		check_all_ended(sv);
		return;
	}
	config_format_duration(c->give_up_within_ms, within_text, sizeof(within_text));
	if (status == 0) {
		delay = c->backoff_initial_ms;
		config_format_duration(delay, delay_text, sizeof(delay_text));
		log_info("%s %s; restarting in %s", c->name, what, delay_text);
	} else {
		failures = supervisor_note_failure(&d->failures, c->give_up_failures, now, run_ms,
						   c->give_up_within_ms);
		if (failures >= c->give_up_failures) {
			d->state = DAEMON_FAILED;
			sv->last_failed_status = status;
			log_info("%s %s (failure %u of %u within %s)", c->name, what, failures,
				 c->give_up_failures, within_text);
			log_info("%s crash-looping (%u failure%s within %s); giving up", c->name,
				 failures, plural(failures), within_text);
			if (c->required) {
				snprintf(why, sizeof(why), "required daemon %s given up on", c->name);
				supervisor_stop(sv, STOP_GAVE_UP, SIGTERM, status, why);
			} else {
				check_all_ended(sv);
			}
			return;
		}
		delay = supervisor_backoff_ms(c->backoff_initial_ms, c->backoff_max_ms, failures);
		config_format_duration(delay, delay_text, sizeof(delay_text));
		log_info("%s %s; restarting in %s (failure %u of %u within %s)", c->name, what,
			 delay_text, failures, c->give_up_failures, within_text);
	}
	d->state = DAEMON_BACKOFF;
	d->restart_at_ms = now + delay;
}

static void close_ready_fd(struct supervisor *sv, struct daemon *d)
{
	if (d->ready_read_fd < 0)
		return;
	epoll_ctl(sv->epoll_fd, EPOLL_CTL_DEL, d->ready_read_fd, NULL);
	close(d->ready_read_fd);
	d->ready_read_fd = -1;
}

static void daemon_start(struct supervisor *sv, struct daemon *d, uint64_t now)
{
	const struct daemon_config *c = d->config;
	int report[2] = { -1, -1 }, ready[2] = { -1, -1 };
	struct exec_failure failure = { 0, 0 };
	struct epoll_event ev;
	char what[512];
	ssize_t n;
	pid_t pid;

	if (!d->envp) {
		failure.error = ENOMEM;
		goto failed;
	}
	if (pipe2(report, O_CLOEXEC) < 0 ||
	    (c->ready_fd >= 0 && pipe2(ready, O_CLOEXEC) < 0)) {
		failure.error = errno;
		goto failed;
	}
	pid = fork();
	if (pid < 0) {
		failure.error = errno;
		goto failed;
	}
	if (pid == 0)
		proc_exec_child(c, d->envp, ready[1], report[1]);
	close(report[1]);
	report[1] = -1;
	if (ready[1] >= 0) {
		close(ready[1]);
		ready[1] = -1;
	}
	/* Also here, so no signal to the group can race the child's own call. */
	setpgid(pid, pid);
	/* Blocks until the child has exec'ed (EOF: the pipe was close-on-exec)
	 * or failed (it wrote why): a start failure is told from a crash. */
	do
		n = read(report[0], &failure, sizeof(failure));
	while (n < 0 && errno == EINTR);
	close(report[0]);
	report[0] = -1;
	if (n != 0) {
		if (n != (ssize_t)sizeof(failure)) {
			failure.step = 0;
			failure.error = EIO;
		}
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto failed;
	}

	d->pid = pid;
	d->state = DAEMON_RUNNING;
	d->started_ms = now;
	d->starts++;
	d->ready = false;
	if (ready[0] >= 0) {
		fcntl(ready[0], F_SETFL, O_NONBLOCK);
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = EV_TAG(EV_DAEMON_READY, (size_t)(d - sv->daemons));
		if (epoll_ctl(sv->epoll_fd, EPOLL_CTL_ADD, ready[0], &ev) < 0) {
			log_error_errno("%s: unable to watch its readiness fd", c->name);
			close(ready[0]);
		} else {
			d->ready_read_fd = ready[0];
		}
		ready[0] = -1;
	} else {
		d->ready = true;
		d->ready_count++;
	}
	log_info("%s started (pid %d)", c->name, (int)pid);
	daemon_changed(sv, d);
	return;

failed:
	for (int i = 0; i < 2; i++) {
		if (report[i] >= 0)
			close(report[i]);
		if (ready[i] >= 0)
			close(ready[i]);
	}
	if (failure.step == EXEC_STEP_EXEC)
		snprintf(what, sizeof(what), "failed to start: exec '%s': %s", c->argv[0],
			 strerror(failure.error));
	else if (failure.step == EXEC_STEP_CHDIR)
		snprintf(what, sizeof(what), "failed to start: chdir '%s': %s", c->workdir,
			 strerror(failure.error));
	else
		snprintf(what, sizeof(what), "failed to start: %s: %s",
			 proc_exec_step_name(failure.step), strerror(failure.error));
	d->pid = 0;
	/* As a shell reports it: 126 found but not runnable, 127 otherwise. */
	daemon_ended(sv, d, now,
		     failure.step == EXEC_STEP_EXEC &&
				     (failure.error == EACCES || failure.error == ENOEXEC)
			     ? 126
			     : 127,
		     0, what);
	daemon_changed(sv, d);
}

static void daemon_exited(struct supervisor *sv, struct daemon *d, int wstatus)
{
	uint64_t now = supervisor_now_ms(), run_ms = now - d->started_ms;
	int status = supervisor_wait_status(wstatus);
	char what[128], name[32];

	close_ready_fd(sv, d);
	d->pid = 0;
	d->ready = false;
	if (WIFSIGNALED(wstatus))
		snprintf(what, sizeof(what), "killed by %s (status %d) after %llu.%llus",
			 signame(WTERMSIG(wstatus), name, sizeof(name)), status,
			 (unsigned long long)(run_ms / 1000),
			 (unsigned long long)(run_ms % 1000 / 100));
	else
		snprintf(what, sizeof(what), "exited with status %d after %llu.%llus", status,
			 (unsigned long long)(run_ms / 1000),
			 (unsigned long long)(run_ms % 1000 / 100));
	daemon_ended(sv, d, now, status, run_ms, what);
	daemon_changed(sv, d);
}

static void supervisor_reap(struct supervisor *sv)
{
	struct daemon *d;
	char name[32];
	int wstatus;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &wstatus, WNOHANG);
		if (pid == 0)
			return;
		if (pid < 0) {
			if (errno == EINTR)
				continue;
			/* ECHILD: no process of ours is left.  Only then may a
			 * stopping init exit. */
			if (errno == ECHILD && sv->stopping)
				sv->done = true;
			return;
		}
		d = daemon_by_pid(sv, pid);
		if (d) {
			daemon_exited(sv, d, wstatus);
		} else if (WIFSIGNALED(wstatus)) {
			log_info("reaped orphan pid %d (killed by %s, status %d)", (int)pid,
				 signame(WTERMSIG(wstatus), name, sizeof(name)),
				 supervisor_wait_status(wstatus));
		} else {
			log_info("reaped orphan pid %d (status %d)", (int)pid,
				 supervisor_wait_status(wstatus));
		}
	}
}

static void daemon_ready_event(struct supervisor *sv, struct daemon *d)
{
	unsigned lines = 0;
	bool eof = false;
	char chunk[512];
	ssize_t n, i;

	for (;;) {
		n = read(d->ready_read_fd, chunk, sizeof(chunk));
		if (n > 0) {
			for (i = 0; i < n; i++)
				if (chunk[i] == '\n')
					lines++;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			eof = true;
		break;
	}
	if (lines) {
		d->ready_count += lines;
		if (!d->ready) {
			d->ready = true;
			log_info("%s ready", d->config->name);
		} else {
			log_info("%s notified readiness again", d->config->name);
		}
	}
	if (eof)
		close_ready_fd(sv, d);
	daemon_changed(sv, d);
}

/* ---- control requests ---- */

int supervisor_reload(struct supervisor *sv, struct daemon *d)
{
	char name[32];

	if (sv->stopping)
		return -ESHUTDOWN;
	if (d->state != DAEMON_RUNNING || d->pid <= 0)
		return -ESRCH;
	daemon_signal(d, d->config->reload_signal);
	log_info("reloading %s (%s to process group %d)", d->config->name,
		 signame(d->config->reload_signal, name, sizeof(name)), (int)d->pid);
	return 0;
}

int supervisor_restart(struct supervisor *sv, struct daemon *d)
{
	uint64_t now = supervisor_now_ms();

	if (sv->stopping)
		return -ESHUTDOWN;
	if (d->state == DAEMON_STOPPING)
		return 0; /* already on its way */
	if (d->pid > 0) {
		d->restart_requested = true;
		d->state = DAEMON_STOPPING;
		d->kill_at_ms = now + sv->config->grace_period_ms;
		log_info("restarting %s on request (SIGTERM to process group %d)",
			 d->config->name, (int)d->pid);
		daemon_signal(d, SIGTERM);
		daemon_changed(sv, d);
		return 0;
	}
	/* Not running (waiting, ended or given up on): start it now, with a
	 * clean failure record. */
	memset(&d->failures, 0, sizeof(d->failures));
	log_info("starting %s on request", d->config->name);
	daemon_start(sv, d, now);
	return 0;
}

int supervisor_format_status(struct supervisor *sv, struct buf *out)
{
	struct daemon *d;
	char pid[16];
	size_t i;
	int ret = 0;

	for (i = 0; i < sv->daemon_count && ret == 0; i++) {
		d = &sv->daemons[i];
		if (d->pid > 0)
			snprintf(pid, sizeof(pid), "%d", (int)d->pid);
		else
			snprintf(pid, sizeof(pid), "-");
		ret = buf_appendf(out, "%s %s %s %u %s\n", d->config->name,
				  supervisor_state_name(d->state), pid,
				  d->starts > 1 ? d->starts - 1 : 0, d->ready ? "ready" : "not-ready");
	}
	if (ret == 0)
		ret = buf_appendf(out, "bundle %s\n", supervisor_bundle_state_name(sv->bundle));
	return ret;
}

/* ---- signals and the loop ---- */

static void supervisor_signal_event(struct supervisor *sv)
{
	struct signalfd_siginfo info;
	char name[32], why[64];
	size_t i;
	ssize_t n;

	for (;;) {
		n = read(sv->signal_fd, &info, sizeof(info));
		if (n < 0 && errno == EINTR)
			continue;
		if (n != (ssize_t)sizeof(info))
			return;
		switch (info.ssi_signo) {
		case SIGCHLD:
			supervisor_reap(sv);
			break;
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			snprintf(why, sizeof(why), "received %s",
				 signame((int)info.ssi_signo, name, sizeof(name)));
			supervisor_stop(sv, STOP_SIGNAL, (int)info.ssi_signo, 0, why);
			break;
		default: /* SIGHUP, SIGUSR1, SIGUSR2: passed on */
			for (i = 0; i < sv->daemon_count; i++)
				daemon_signal(&sv->daemons[i], (int)info.ssi_signo);
			log_info("received %s; forwarded to %zu daemon%s",
				 signame((int)info.ssi_signo, name, sizeof(name)), running_daemons(sv),
				 plural(running_daemons(sv)));
			break;
		}
	}
}

static void supervisor_timers(struct supervisor *sv, uint64_t now)
{
	struct daemon *d;
	size_t i;

	for (i = 0; i < sv->daemon_count; i++) {
		d = &sv->daemons[i];
		if (!sv->stopping && d->state == DAEMON_BACKOFF && now >= d->restart_at_ms) {
			daemon_start(sv, d, now);
		} else if (!sv->stopping && d->state == DAEMON_STOPPING && d->restart_requested &&
			   d->kill_at_ms && now >= d->kill_at_ms) {
			log_info("%s did not stop within the grace period; killing it",
				 d->config->name);
			daemon_signal(d, SIGKILL);
			d->kill_at_ms = 0;
		}
	}
	if (sv->stopping && !sv->killing && now >= sv->grace_deadline_ms) {
		grace_over(sv);
	} else if (sv->stopping && now >= sv->next_scan_ms) {
		if (sv->killing)
			kill_stragglers(sv);
		else
			signal_other_children(sv, sv->stop_signal);
		sv->next_scan_ms = now + (sv->killing ? KILL_SCAN_INTERVAL_MS : SCAN_INTERVAL_MS);
	}
	control_timers(sv, now);
}

static int supervisor_timeout(struct supervisor *sv, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	size_t i;

	for (i = 0; i < sv->daemon_count; i++) {
		struct daemon *d = &sv->daemons[i];

		if (!sv->stopping && d->state == DAEMON_BACKOFF && d->restart_at_ms < next)
			next = d->restart_at_ms;
		if (!sv->stopping && d->state == DAEMON_STOPPING && d->kill_at_ms &&
		    d->kill_at_ms < next)
			next = d->kill_at_ms;
	}
	if (sv->stopping) {
		if (!sv->killing && sv->grace_deadline_ms < next)
			next = sv->grace_deadline_ms;
		if (sv->next_scan_ms < next)
			next = sv->next_scan_ms;
	}
	if (control_next_deadline(sv) < next)
		next = control_next_deadline(sv);
	if (next == UINT64_MAX)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}

int supervisor_init(struct supervisor *sv, const struct init_config *config)
{
	struct epoll_event ev;
	struct sigaction ignore;
	sigset_t mask;
	size_t i;
	int ret = -ENOMEM;

	memset(sv, 0, sizeof(*sv));
	sv->config = config;
	sv->epoll_fd = -1;
	sv->signal_fd = -1;
	sv->pid1 = getpid() == 1;
	sv->bundle = BUNDLE_STARTING;
	control_init(&sv->control);

	if (config->daemon_count) {
		sv->daemons = calloc(config->daemon_count, sizeof(*sv->daemons));
		if (!sv->daemons) {
			log_error("out of memory");
			goto out;
		}
	}
	sv->daemon_count = config->daemon_count;
	for (i = 0; i < sv->daemon_count; i++) {
		struct daemon *d = &sv->daemons[i];

		d->config = &config->daemons[i];
		d->state = DAEMON_BACKOFF;
		d->ready_read_fd = -1;
		d->last_status = -1;
		d->envp = build_envp(d->config);
		if (!d->envp) {
			log_error("out of memory");
			goto out;
		}
	}

	/* Signals arrive through the signalfd only.  Blocked signals are
	 * delivered to a PID 1 even from outside its namespace. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGQUIT);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGUSR2);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0) {
		ret = -errno;
		log_error_errno("unable to block signals");
		goto out;
	}
	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &ignore, NULL);

	/* Orphans of our descendants come to us even when we are not PID 1. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 && !sv->pid1)
		log_warn("unable to become a child subreaper (%s); orphans will not be reaped",
			 strerror(errno));

	sv->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	sv->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	if (sv->signal_fd < 0 || sv->epoll_fd < 0) {
		ret = -errno;
		log_error_errno("unable to set up the event loop");
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = EV_TAG(EV_SIGNAL, 0);
	if (epoll_ctl(sv->epoll_fd, EPOLL_CTL_ADD, sv->signal_fd, &ev) < 0) {
		ret = -errno;
		log_error_errno("unable to watch the signalfd");
		goto out;
	}
	ret = control_open(sv, config->control_socket);
out:
	return ret;
}

int supervisor_run(struct supervisor *sv)
{
	struct epoll_event events[16];
	uint64_t now = supervisor_now_ms();
	int n, i, status;

	for (size_t k = 0; k < sv->daemon_count && !sv->stopping; k++)
		daemon_start(sv, &sv->daemons[k], now);
	bundle_update(sv);

	while (!sv->done) {
		n = epoll_wait(sv->epoll_fd, events, (int)(sizeof(events) / sizeof(events[0])),
			       supervisor_timeout(sv, supervisor_now_ms()));
		if (n < 0 && errno != EINTR) {
			log_error_errno("epoll_wait");
			control_close(sv);
			return INIT_EXIT_SYSTEM;
		}
		for (i = 0; i < n; i++) {
			uint64_t tag = events[i].data.u64;

			switch (EV_KIND(tag)) {
			case EV_SIGNAL:
				supervisor_signal_event(sv);
				break;
			case EV_CONTROL_LISTEN:
				control_accept(sv);
				break;
			case EV_CONTROL_CLIENT:
				control_client_event(sv, EV_INDEX(tag), events[i].events);
				break;
			case EV_DAEMON_READY:
				if (EV_INDEX(tag) < sv->daemon_count &&
				    sv->daemons[EV_INDEX(tag)].ready_read_fd >= 0)
					daemon_ready_event(sv, &sv->daemons[EV_INDEX(tag)]);
				break;
			}
		}
		supervisor_timers(sv, supervisor_now_ms());
	}

	status = supervisor_exit_status(sv->stop_reason,
					sv->stop_reason == STOP_ALL_ENDED ? sv->last_failed_status
									  : sv->stop_status,
					sv->killed);
	control_close(sv);
	log_info("exiting with status %d", status);
	sv->exit_status = status;
	return status;
}

void supervisor_release(struct supervisor *sv)
{
	size_t i, j;

	control_close(sv);
	for (i = 0; i < sv->daemon_count; i++) {
		struct daemon *d = &sv->daemons[i];

		if (d->ready_read_fd >= 0)
			close(d->ready_read_fd);
		for (j = 0; d->envp && d->envp[j]; j++)
			free(d->envp[j]);
		free(d->envp);
	}
	free(sv->daemons);
	if (sv->signal_fd >= 0)
		close(sv->signal_fd);
	if (sv->epoll_fd >= 0)
		close(sv->epoll_fd);
	pid_set_release(&sv->signalled);
	memset(sv, 0, sizeof(*sv));
	sv->signal_fd = sv->epoll_fd = -1;
	control_init(&sv->control);
}

/* The child's side of starting a daemon, and reading the process tree
 * from /proc. */
#include "init.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/* close_range(2) where the kernel has it (5.9+); otherwise walk
 * /proc/self/fd; without /proc, every number up to the fd limit. */
static void close_range_fallback(unsigned first, unsigned last)
{
	struct rlimit limit;
	struct dirent *entry;
	DIR *dir;
	unsigned fd, end;

	if (first > last)
		return;
	if (syscall(SYS_close_range, first, last, 0) == 0)
		return;
	dir = opendir("/proc/self/fd");
	if (dir) {
		int dir_fd = dirfd(dir);

		while ((entry = readdir(dir))) {
			char *tail;
			unsigned long n = strtoul(entry->d_name, &tail, 10);

			if (*tail || entry->d_name[0] == '.' || (long)n == dir_fd)
				continue;
			if (n >= first && n <= last)
				close((int)n);
		}
		closedir(dir);
		return;
	}
	end = last;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
	    limit.rlim_cur - 1 < end)
		end = (unsigned)(limit.rlim_cur - 1);
	for (fd = first; fd <= end && fd >= first; fd++)
		close((int)fd);
}

void proc_close_fds_from(int from, const int *keep, size_t keep_count)
{
	int sorted[8];
	size_t i, j, n = 0;
	unsigned next = (unsigned)from;

	/* Keep list: tiny, so an insertion sort of the ones >= from. */
	for (i = 0; i < keep_count && n < sizeof(sorted) / sizeof(sorted[0]); i++) {
		if (keep[i] < from)
			continue;
		for (j = n; j > 0 && sorted[j - 1] > keep[i]; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = keep[i];
		n++;
	}
	for (i = 0; i < n; i++) {
		if ((unsigned)sorted[i] > next)
			close_range_fallback(next, (unsigned)sorted[i] - 1);
		if ((unsigned)sorted[i] + 1 > next)
			next = (unsigned)sorted[i] + 1;
	}
	close_range_fallback(next, ~0u);
}

const char *proc_exec_step_name(int step)
{
	switch (step) {
	case EXEC_STEP_SETPGID:
		return "setpgid";
	case EXEC_STEP_FDS:
		return "setting up its file descriptors";
	case EXEC_STEP_CHDIR:
		return "chdir";
	case EXEC_STEP_SETGROUPS:
		return "setgroups";
	case EXEC_STEP_SETGID:
		return "setgid";
	case EXEC_STEP_SETUID:
		return "setuid";
	case EXEC_STEP_PRIVILEGES:
		return "checking that root cannot be regained";
	case EXEC_STEP_EXEC:
		return "exec";
	}
	return "starting";
}

static _Noreturn void child_fail(int report_fd, int step)
{
	struct exec_failure failure = { step, errno };
	ssize_t n;

	do
		n = write(report_fd, &failure, sizeof(failure));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

/* Runs between fork() and execve() in the child: only this process exists
 * here, so ordinary calls are safe, but nothing may return to the caller. */
void proc_exec_child(const struct daemon_config *config, char **envp, int ready_write_fd,
		     int report_fd)
{
	struct sigaction action;
	sigset_t all;
	int sig, keep[2];
	size_t keep_count = 0;

	/* init blocks signals and ignores SIGPIPE; a daemon starts clean. */
	memset(&action, 0, sizeof(action));
	action.sa_handler = SIG_DFL;
	sigemptyset(&action.sa_mask);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &action, NULL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);

	/* Its own process group, so signals reach its children too. */
	if (setpgid(0, 0) < 0)
		child_fail(report_fd, EXEC_STEP_SETPGID);

	if (config->ready_fd >= 0) {
		/* Keep the report pipe out of the way of the notification fd. */
		if (report_fd == config->ready_fd) {
			int moved = fcntl(report_fd, F_DUPFD_CLOEXEC, INIT_READY_FD_MAX + 1);

			if (moved < 0)
				child_fail(report_fd, EXEC_STEP_FDS);
			report_fd = moved;
		}
		if (ready_write_fd == config->ready_fd) {
			if (fcntl(ready_write_fd, F_SETFD, 0) < 0)
				child_fail(report_fd, EXEC_STEP_FDS);
		} else if (dup2(ready_write_fd, config->ready_fd) < 0) {
			child_fail(report_fd, EXEC_STEP_FDS);
		}
		keep[keep_count++] = config->ready_fd;
	}
	/* Nothing else of init's, nor anything init inherited, goes along;
	 * the report pipe is close-on-exec and goes away with execve(). */
	keep[keep_count++] = report_fd;
	proc_close_fds_from(3, keep, keep_count);

	if (chdir(config->workdir) < 0)
		child_fail(report_fd, EXEC_STEP_CHDIR);
	if (config->has_user) {
		/* Only root may change its groups; a non-root init running a
		 * daemon as itself must not fail here. */
		if (setgroups(config->group_count, config->groups) < 0 &&
		    !(errno == EPERM && geteuid() != 0))
			child_fail(report_fd, EXEC_STEP_SETGROUPS);
		if (setgid(config->gid) < 0)
			child_fail(report_fd, EXEC_STEP_SETGID);
		if (setuid(config->uid) < 0)
			child_fail(report_fd, EXEC_STEP_SETUID);
		/* setuid() from root sets the real, effective and saved ids and
		 * clears the capabilities; prove it, so a daemon never starts
		 * with a way back to root (a kept capability, a saved uid). */
		if (getuid() != config->uid || geteuid() != config->uid ||
		    getgid() != config->gid || getegid() != config->gid || setuid(0) == 0) {
			errno = EPERM;
			child_fail(report_fd, EXEC_STEP_PRIVILEGES);
		}
	}
	execve(config->argv[0], config->argv, envp);
	child_fail(report_fd, EXEC_STEP_EXEC);
}

int pid_set_add(struct pid_set *set, pid_t pid)
{
	pid_t *grown;
	size_t cap;

	if (pid_set_has(set, pid))
		return 0;
	if (set->count == set->cap) {
		cap = set->cap ? set->cap * 2 : 32;
		grown = realloc(set->pids, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		set->pids = grown;
		set->cap = cap;
	}
	set->pids[set->count++] = pid;
	return 0;
}

bool pid_set_has(const struct pid_set *set, pid_t pid)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (set->pids[i] == pid)
			return true;
	return false;
}

void pid_set_release(struct pid_set *set)
{
	free(set->pids);
	set->pids = NULL;
	set->count = set->cap = 0;
}

/* "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses, so
 * parse from the last ')'. */
static int proc_read_stat(const char *pid_text, struct proc_entry *entry)
{
	char path[300], text[512], *close_paren;
	int fd, ret = -EINVAL;
	long ppid, pgid;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid_text);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, text, sizeof(text) - 1);
	if (n <= 0)
		goto out;
	text[n] = '\0';
	close_paren = strrchr(text, ')');
	if (!close_paren || sscanf(close_paren + 1, " %c %ld %ld", &entry->state, &ppid, &pgid) != 3)
		goto out;
	entry->pid = (pid_t)strtol(text, NULL, 10);
	entry->ppid = (pid_t)ppid;
	entry->pgid = (pid_t)pgid;
	ret = 0;
out:
	close(fd);
	return ret;
}

int proc_descendants(pid_t root, struct proc_entry **out, size_t *count)
{
	struct proc_entry *all = NULL, *grown, entry;
	size_t n = 0, cap = 0, i, found = 0;
	struct dirent *de;
	DIR *dir;
	bool changed;
	int ret = -ENOMEM;

	*out = NULL;
	*count = 0;
	dir = opendir("/proc");
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		if (proc_read_stat(de->d_name, &entry) < 0)
			continue; /* exited meanwhile */
		if (n == cap) {
			cap = cap ? cap * 2 : 256;
			grown = realloc(all, cap * sizeof(*grown));
			if (!grown)
				goto out;
			all = grown;
		}
		all[n++] = entry;
	}
	/* Mark descendants by moving them to the front, one generation per
	 * pass; the tree is shallow, so a few passes suffice. */
	do {
		changed = false;
		for (i = found; i < n; i++) {
			bool child = all[i].ppid == root;
			size_t j;

			for (j = 0; !child && j < found; j++)
				child = all[i].ppid == all[j].pid;
			if (child) {
				entry = all[found];
				all[found] = all[i];
				all[i] = entry;
				found++;
				changed = true;
			}
		}
	} while (changed);
	/* Zombies are gone already: only their parent's wait is missing. */
	for (i = 0; i < found;) {
		if (all[i].state == 'Z')
			all[i] = all[--found];
		else
			i++;
	}
	*out = all;
	*count = found;
	all = NULL;
	ret = 0;
out:
	free(all);
	closedir(dir);
	return ret;
}

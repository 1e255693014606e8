/* Running the engine: fork and exec an argv array, never a shell string,
 * so nothing in a manifest, a path or a name is ever parsed by a shell.
 * Secrets never go on an argv (they travel in 0600 env files). */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Engine output we parse (ids, addresses, inspect fields) is small. */
#define EXEC_OUTPUT_MAX (1024 * 1024)

void launch_argv_add(struct launch_argv *a, const char *s)
{
	char **grown, *copy;

	if (a->failed)
		return;
	if (a->n + 2 > a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 32;

		grown = realloc(a->v, cap * sizeof(*grown));
		if (!grown) {
			a->failed = true;
			return;
		}
		a->v = grown;
		a->cap = cap;
	}
	copy = strdup(s);
	if (!copy) {
		a->failed = true;
		return;
	}
	a->v[a->n++] = copy;
	a->v[a->n] = NULL;
}

void launch_argv_addf(struct launch_argv *a, const char *fmt, ...)
{
	struct buf b;
	va_list ap;
	int ret;

	buf_init(&b, (size_t)-1);
	va_start(ap, fmt);
	ret = buf_vappendf(&b, fmt, ap);
	va_end(ap);
	if (ret < 0)
		a->failed = true;
	else
		launch_argv_add(a, b.p);
	buf_release(&b);
}

void launch_argv_release(struct launch_argv *a)
{
	size_t i;

	for (i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof(*a));
}

static void child_exec(struct launch_argv *a, int out_fd, int flags)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	if (null_fd < 0)
		_exit(127);
	if (!(flags & LAUNCH_EXEC_TERMINAL))
		dup2(null_fd, STDIN_FILENO);
	if (out_fd >= 0)
		dup2(out_fd, STDOUT_FILENO);
	else if (flags & LAUNCH_EXEC_PROGRESS)
		dup2(STDERR_FILENO, STDOUT_FILENO);
	else if (!(flags & LAUNCH_EXEC_TERMINAL))
		dup2(null_fd, STDOUT_FILENO);
	if (flags & LAUNCH_EXEC_MERGE)
		dup2(STDOUT_FILENO, STDERR_FILENO);
	else if (flags & LAUNCH_EXEC_QUIET)
		dup2(null_fd, STDERR_FILENO);
	execvp(a->v[0], a->v);
	_exit(127);
}

static int read_all(int fd, struct buf *out)
{
	char chunk[4096];
	ssize_t r;
	int ret = 0;

	for (;;) {
		r = read(fd, chunk, sizeof(chunk));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : ret;
		/* Keep draining past the cap so the child never blocks. */
		if (ret == 0)
			ret = buf_append(out, chunk, (size_t)r);
	}
}

int launch_exec_tracked(struct launch_argv *a, struct buf *out, int flags,
			volatile pid_t *child)
{
	int pipefd[2] = { -1, -1 }, status, ret = -EINVAL, read_ret = 0;
	pid_t pid, r;

	if (a->failed || a->n == 0)
		return a->failed ? -ENOMEM : -EINVAL;
	if (out && pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		ret = -errno;
		goto out;
	}
	if (pid == 0)
		child_exec(a, pipefd[1], flags);
	if (child)
		*child = pid;
	if (out) {
		close(pipefd[1]);
		pipefd[1] = -1;
		read_ret = read_all(pipefd[0], out);
	}
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (child)
		*child = 0;
	if (r < 0) {
		ret = -errno;
		goto out;
	}
	if (WIFEXITED(status))
		ret = WEXITSTATUS(status);
	else
		ret = 128 + WTERMSIG(status);
	if (ret == 0 && read_ret < 0)
		ret = read_ret;
out:
	if (pipefd[0] >= 0)
		close(pipefd[0]);
	if (pipefd[1] >= 0)
		close(pipefd[1]);
	return ret;
}

int launch_exec_to_file(struct launch_argv *a, const char *path, int flags)
{
	int fd, status, ret;
	pid_t pid, r;

	if (a->failed || a->n == 0)
		return a->failed ? -ENOMEM : -EINVAL;
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	pid = fork();
	if (pid == 0)
		child_exec(a, fd, flags);
	ret = pid < 0 ? -errno : 0;
	close(fd);
	if (ret < 0)
		return ret;
	do
		r = waitpid(pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int launch_exec(struct launch_argv *a, struct buf *out, int flags)
{
	if (out && out->max > EXEC_OUTPUT_MAX)
		out->max = EXEC_OUTPUT_MAX;
	return launch_exec_tracked(a, out, flags, NULL);
}

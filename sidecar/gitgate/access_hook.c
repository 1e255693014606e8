/* The access hook (docs/gitgate.md, "Access hook"): the operator's program
 * asked before every upload-pack and receive-pack.
 *
 *   HOOK OPERATION REPO REMOTE PEER
 *
 * OPERATION is "upload-pack" or "receive-pack", REPO the configured name,
 * REMOTE the client's address as the transport reports it and PEER the
 * socket's peer (gitgate.h, struct gitgate_session).  It runs in its own
 * process group with stdin from /dev/null, a minimal environment (PATH
 * only: the gate's secrets stay out of it), and its output captured up to
 * HOOK_OUTPUT_MAX.  Exit 0 allows; anything else denies, and the first
 * line it printed is what the client is shown.  A hook that runs past
 * hook_timeout has its whole process group killed, and a hook that cannot
 * run denies too: the gate fails closed.
 *
 * Without a hook the built-in policy applies: every configured repository
 * may be read and pushed to (receive-pack enforces the ref rules). */
#include "gitgate.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "transport.h"
#include "../../shared/log.h"

#define HOOK_OUTPUT_MAX 4096 /* kept; more is read and dropped */
#define HOOK_MESSAGE_MAX 200 /* of the first line, shown to the client */

/* The first non-empty line of out, printable ASCII only, into message. */
static void first_line(const char *out, size_t len, char *message, size_t message_len)
{
	size_t i = 0, n = 0;

	while (i < len && (out[i] == '\n' || out[i] == '\r' || out[i] == ' ' || out[i] == '\t'))
		i++;
	for (; i < len && out[i] != '\n' && out[i] != '\r' && n < HOOK_MESSAGE_MAX &&
	       n + 1 < message_len; i++) {
		unsigned char ch = (unsigned char)out[i];
		message[n++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	while (n > 0 && message[n - 1] == ' ')
		n--;
	if (message_len > 0)
		message[n] = '\0';
}

static int spawn_hook(const char *hook, char *const argv[], int output_fd, pid_t *pid)
{
	static char *const envp[] = { "PATH=/usr/local/bin:/usr/bin:/bin", NULL };
	posix_spawn_file_actions_t actions;
	posix_spawnattr_t attr;
	sigset_t none, defaults;
	int ret;

	sigemptyset(&none);
	/* The gate ignores SIGPIPE and blocks the stop signals in its
	 * threads; neither may reach the hook. */
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGHUP);
	posix_spawn_file_actions_init(&actions);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
	posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					       POSIX_SPAWN_SETSIGDEF);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	ret = posix_spawn(pid, hook, &actions, &attr, argv, envp);
	posix_spawn_file_actions_destroy(&actions);
	posix_spawnattr_destroy(&attr);
	return -ret;
}

/* Read the hook's output until it closes it or the deadline: 0, or
 * -ETIMEDOUT. */
static int collect_output(int fd, int64_t deadline, char *out, size_t *len)
{
	char discard[512];

	for (;;) {
		int64_t left = deadline - transport_now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		int ready;

		if (left <= 0)
			return -ETIMEDOUT;
		ready = poll(&pfd, 1, (int)left);
		if (ready < 0 && errno != EINTR)
			return -errno;
		if (ready <= 0)
			continue;
		if (*len < HOOK_OUTPUT_MAX)
			n = read(fd, out + *len, HOOK_OUTPUT_MAX - *len);
		else
			n = read(fd, discard, sizeof(discard));
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (*len < HOOK_OUTPUT_MAX)
			*len += (size_t)n;
	}
}

/* The hook's exit status once it ends, or -ETIMEDOUT at the deadline (a
 * hook may close its output and go on running). */
static int wait_exit(pid_t pid, int64_t deadline, int *status)
{
	static const struct timespec step = { .tv_nsec = 5 * 1000 * 1000 };

	for (;;) {
		pid_t got = waitpid(pid, status, WNOHANG);

		if (got == pid)
			return 0;
		if (got < 0 && errno != EINTR)
			return -errno;
		if (transport_now_ms() >= deadline)
			return -ETIMEDOUT;
		nanosleep(&step, NULL);
	}
}

int access_hook_check(struct gitgate_session *s, const char *repo_name, char *message,
		      size_t message_len)
{
	const struct gitgate_config *config = &s->gate->config;
	const char *operation = s->service == GITGATE_UPLOAD_PACK ? "upload-pack" : "receive-pack";
	char *argv[] = { config->hook, (char *)operation, (char *)repo_name,
			 (char *)(s->remote_addr ? s->remote_addr : "unknown"),
			 (char *)(s->peer_addr ? s->peer_addr : "unknown"), NULL };
	char output[HOOK_OUTPUT_MAX];
	size_t output_len = 0;
	int pipe_fds[2] = { -1, -1 }, status = 0, ret = -EACCES;
	int64_t deadline;
	pid_t pid = -1;

	if (message_len > 0)
		message[0] = '\0';
	if (!config->hook)
		return 0;
	deadline = transport_now_ms() + (int64_t)config->hook_timeout_ms;
	if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
		ret = -errno;
		error_format(message, message_len, "the access hook cannot run: %s", strerror(errno));
		goto out;
	}
	ret = spawn_hook(config->hook, argv, pipe_fds[1], &pid);
	close(pipe_fds[1]);
	pipe_fds[1] = -1;
	if (ret < 0) {
		pid = -1;
		error_format(message, message_len, "the access hook cannot run: %s", strerror(-ret));
		goto out;
	}
	ret = collect_output(pipe_fds[0], deadline, output, &output_len);
	if (ret == 0)
		ret = wait_exit(pid, deadline, &status);
	if (ret < 0) {
		/* The whole group: a hook's own children go too. */
		kill(-pid, SIGKILL);
		waitpid(pid, &status, 0);
		pid = -1;
		if (ret == -ETIMEDOUT)
			error_format(message, message_len, "the access hook did not answer within %llu ms",
				     (unsigned long long)config->hook_timeout_ms);
		else
			error_format(message, message_len, "the access hook failed: %s", strerror(-ret));
		goto out;
	}
	pid = -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		ret = 0;
		goto out;
	}
	if (WIFSIGNALED(status)) {
		ret = -ECANCELED;
		error_format(message, message_len, "the access hook was killed by signal %d",
			     WTERMSIG(status));
		goto out;
	}
	ret = -EACCES;
	first_line(output, output_len, message, message_len);
	if (message_len > 0 && message[0] == '\0')
		error_format(message, message_len, "access denied by the access hook (exit %d)",
			     WEXITSTATUS(status));
out:
	if (pipe_fds[0] >= 0)
		close(pipe_fds[0]);
	if (pipe_fds[1] >= 0)
		close(pipe_fds[1]);
	return ret;
}

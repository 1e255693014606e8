/* Put approved routes in force: write the file egress reads (atomically,
 * through the queue's writer), run the reload command (`sidecar initctl
 * reload egress` in the bundle), and return only once egress serves
 * exactly these routes, so the agent's retry meets them.
 *
 * One apply at a time: two approvals landing together must not interleave
 * write, reload and check. */
#include "supervise.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../shared/queue.h"
#include "../../shared/routes.h"

#define APPLY_ARGV_MAX 16

static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;

/* Run the reload command (split on spaces, no shell) and wait for it,
 * bounded by timeout_ms; the child is killed after that. */
static int run_reload(const char *command, int timeout_ms, char *err, size_t err_len)
{
	char copy[1024], *argv[APPLY_ARGV_MAX + 1], *p;
	uint64_t deadline = supervise_now_ms() + (uint64_t)timeout_ms;
	int argc = 0, status = 0;
	pid_t pid, done;

	if (snprintf(copy, sizeof(copy), "%s", command) >= (int)sizeof(copy)) {
		snprintf(err, err_len, "the reload command is too long");
		return -E2BIG;
	}
	for (p = copy; *p && argc < APPLY_ARGV_MAX;) {
		while (*p == ' ' || *p == '\t')
			*p++ = '\0';
		if (!*p)
			break;
		argv[argc++] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
	}
	argv[argc] = NULL;
	if (argc == 0) {
		snprintf(err, err_len, "the reload command is empty");
		return -EINVAL;
	}
	pid = fork();
	if (pid < 0) {
		snprintf(err, err_len, "cannot start the reload command: %s", strerror(errno));
		return -errno;
	}
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
		sigset_t none;

		/* The server blocks SIGTERM for its signal thread; the
		 * command must not inherit that. */
		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);
		if (devnull >= 0)
			(void)dup2(devnull, STDIN_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		done = waitpid(pid, &status, WNOHANG);
		if (done == pid)
			break;
		if (done < 0 && errno != EINTR) {
			snprintf(err, err_len, "waiting for the reload command: %s", strerror(errno));
			return -errno;
		}
		if (supervise_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			snprintf(err, err_len, "the reload command '%s' did not finish in time",
				 argv[0]);
			return -ETIMEDOUT;
		}
		(void)poll(NULL, 0, 50);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, err_len, "the reload command '%s' failed (%s %d)", argv[0],
			 WIFEXITED(status) ? "exit status" : "signal",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		return -ECHILD;
	}
	return 0;
}

/* Split path into its directory and file name. */
static int split_path(const char *path, char *dir, size_t dir_len, const char **name)
{
	const char *slash = strrchr(path, '/');

	if (!slash) {
		snprintf(dir, dir_len, ".");
		*name = path;
		return 0;
	}
	if ((size_t)(slash - path) + 1 >= dir_len || slash[1] == '\0')
		return -EINVAL;
	if (slash == path)
		snprintf(dir, dir_len, "/");
	else
		snprintf(dir, dir_len, "%.*s", (int)(slash - path), path);
	*name = slash + 1;
	return 0;
}

int apply_routes(const struct supervise_options *o, const char *yaml, size_t len,
		 const struct route_grant *grant, struct apply_result *result, char *err,
		 size_t err_len)
{
	struct routes *r = NULL;
	struct buf want, live;
	char dir[1024], lerr[512], *bounded_text = NULL;
	const char *name;
	uint64_t deadline;
	int ret;

	buf_init(&want, 16 * 1024 * 1024);
	buf_init(&live, 16 * 1024 * 1024);
	memset(result, 0, sizeof(*result));
	pthread_mutex_lock(&apply_lock);
	/* Under the lock: the overlay is against the file no other apply is
	 * changing. */
	if (grant) {
		ret = grant_bound_routes(o, yaml, len, grant, &bounded_text, &len,
					 &result->bounded, err, err_len);
		if (ret < 0)
			goto out;
		if (result->bounded)
			yaml = bounded_text;
		else
			len = strlen(yaml);
	}
	/* The operator may have edited it: check again with egress's loader. */
	ret = routes_load_string("routes.yaml", yaml, len, &r, lerr, sizeof(lerr));
	if (ret < 0) {
		snprintf(err, err_len, "the approved routes do not load: %s", lerr);
		goto out;
	}
	ret = routes_to_json(r, &want);
	if (ret < 0) {
		snprintf(err, err_len, "cannot render the approved routes");
		goto out;
	}
	ret = split_path(o->routes_path, dir, sizeof(dir), &name);
	if (ret == 0)
		ret = queue_write_atomic(dir, name, yaml, len, false, lerr, sizeof(lerr));
	if (ret < 0) {
		snprintf(err, err_len, "cannot write %s: %s", o->routes_path, lerr);
		goto out;
	}
	ret = run_reload(o->reload_command, 2 * o->egress_timeout_ms + 30000, err, err_len);
	if (ret < 0)
		goto out;
	/* The reload took when egress serves what was written. */
	deadline = supervise_now_ms() + (uint64_t)o->egress_timeout_ms;
	for (;;) {
		ret = egress_client_routes_canonical(o, &live, lerr, sizeof(lerr));
		if (ret == 0 && str_equal(buf_str(&live), buf_str(&want)))
			break;
		if (supervise_now_ms() >= deadline) {
			if (ret < 0)
				snprintf(err, err_len, "egress did not come back after the reload: %s",
					 lerr);
			else
				snprintf(err, err_len,
					 "egress still serves the old routes after the reload");
			ret = -ETIMEDOUT;
			goto out;
		}
		(void)poll(NULL, 0, 100);
	}
	ret = 0;
	if (bounded_text && result->bounded) {
		result->written = bounded_text;
		bounded_text = NULL;
	}
out:
	pthread_mutex_unlock(&apply_lock);
	free(bounded_text);
	if (r)
		routes_unref(r);
	buf_release(&want);
	buf_release(&live);
	return ret;
}

/* sidecar initctl: one request to a running init's control socket.
 *
 * usage: sidecar initctl [--socket PATH] [--timeout SECONDS] COMMAND
 *
 * Prints init's reply; exits 0 when init said `ok` (or, for status, when
 * the bundle is ready), so `initctl status` serves as a health check. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../applet.h"
#include "../../shared/buf.h"
#include "../../shared/config_yaml.h"
#include "../../shared/exit_codes.h"
#include "../../shared/log.h"
#include "../init/init.h"

#define INITCTL_DEFAULT_TIMEOUT_S 90
#define INITCTL_REPLY_MAX (64 * 1024)

static const char initctl_usage[] =
	"usage: sidecar initctl [--socket PATH] [--timeout SECONDS] COMMAND\n"
	"\n"
	"Ask the running `sidecar init` through its control socket.  Commands:\n"
	"\n"
	"  status          one line per daemon: NAME STATE PID RESTARTS READY,\n"
	"                  then `bundle ready|starting|degraded|stopping`;\n"
	"                  exits 0 only if the bundle is ready (a health check)\n"
	"  reload NAME     send the daemon its reload signal; with a readiness fd,\n"
	"                  wait for its next readiness line (`ok reloaded NAME`)\n"
	"  restart NAME    stop the daemon and start it again, or start one that\n"
	"                  was given up on; waits until it is back and ready\n"
	"  stop            stop the bundle, as SIGTERM to init would\n"
	"\n"
	"  --socket PATH   the control socket (default " INIT_DEFAULT_SOCKET ")\n"
	"  --timeout SECS  give up waiting for the reply (default 90)\n"
	"\n"
	"Exit status: 0 ok (status: bundle ready), 1 an error reply, a bundle not\n"
	"ready, or init unreachable, 2 usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list args;

	fprintf(stderr, "initctl: ");
	va_start(args, fmt);
	vfprintf(stderr, fmt, args);
	va_end(args);
	fprintf(stderr, "\n\n%s", initctl_usage);
	return EXIT_USAGE;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Send the request and read the whole reply; 0 or -errno. */
static int initctl_ask(const char *path, const char *request, uint64_t timeout_ms,
		       struct buf *reply)
{
	struct sockaddr_un addr;
	uint64_t deadline = now_ms() + timeout_ms, now;
	size_t sent = 0, len = strlen(request);
	struct pollfd pfd;
	char chunk[4096];
	ssize_t n;
	int fd, ret;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		ret = -errno;
		goto out;
	}
	while (sent < len) {
		n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		sent += (size_t)n;
	}
	for (;;) {
		now = now_ms();
		if (now >= deadline) {
			ret = -ETIMEDOUT;
			goto out;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		pfd.revents = 0;
		n = poll(&pfd, 1, (int)(deadline - now > 60000 ? 60000 : deadline - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			continue;
		n = recv(fd, chunk, sizeof(chunk), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		ret = buf_append(reply, chunk, (size_t)n);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static bool has_line(const char *text, const char *line)
{
	size_t len = strlen(line);
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == '\0'))
			return true;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return false;
}

int initctl_main(int argc, char **argv)
{
	const char *socket_path = INIT_DEFAULT_SOCKET, *command = NULL, *name = NULL;
	long long timeout_s = INITCTL_DEFAULT_TIMEOUT_S;
	struct buf request, reply;
	int i, ret, status;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(initctl_usage, stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--socket") == 0) {
			if (++i >= argc)
				return usage_error("%s needs a path", "--socket");
			socket_path = argv[i];
		} else if (strcmp(argv[i], "--timeout") == 0) {
			if (++i >= argc)
				return usage_error("%s needs a number of seconds", "--timeout");
			if (config_parse_integer(argv[i], &timeout_s) < 0 || timeout_s < 1 ||
			    timeout_s > 3600)
				return usage_error("--timeout: '%s' is not 1 to 3600 seconds", argv[i]);
		} else if (argv[i][0] == '-') {
			return usage_error("unknown option '%s'", argv[i]);
		} else if (!command) {
			command = argv[i];
		} else if (!name) {
			name = argv[i];
		} else {
			return usage_error("unexpected argument '%s'", argv[i]);
		}
	}
	if (!command)
		return usage_error("%s", "no command given");
	if (strcmp(command, "status") == 0 || strcmp(command, "stop") == 0) {
		if (name)
			return usage_error("unexpected argument '%s'", name);
	} else if (strcmp(command, "reload") == 0 || strcmp(command, "restart") == 0) {
		if (!name)
			return usage_error("%s needs a daemon name", command);
		if (strchr(name, '\n') || strchr(name, ' '))
			return usage_error("'%s' is not a daemon name", name);
	} else {
		return usage_error("unknown command '%s'", command);
	}

	buf_init(&request, INIT_CONTROL_REQUEST_MAX);
	buf_init(&reply, INITCTL_REPLY_MAX);
	if (buf_appendf(&request, "%s%s%s\n", command, name ? " " : "", name ? name : "") < 0) {
		status = usage_error("'%s' is too long for a request", name ? name : command);
		goto out;
	}
	ret = initctl_ask(socket_path, request.p, (uint64_t)timeout_s * 1000, &reply);
	if (ret < 0) {
		if (ret == -ETIMEDOUT)
			log_error("no complete reply from init on '%s' within %llds", socket_path,
				  timeout_s);
		else
			log_error("unable to talk to init on '%s': %s", socket_path, strerror(-ret));
		fputs(reply.p, stdout);
		status = EXIT_FAILURE_GENERIC;
		goto out;
	}
	fputs(reply.p, stdout);
	if (strcmp(command, "status") == 0)
		status = has_line(reply.p, "bundle ready") ? EXIT_OK : EXIT_FAILURE_GENERIC;
	else
		status = strncmp(reply.p, "ok", 2) == 0 ? EXIT_OK : EXIT_FAILURE_GENERIC;
out:
	buf_release(&request);
	buf_release(&reply);
	return status;
}

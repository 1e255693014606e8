/* testproc: a process for init's integration tests to supervise, and a
 * few probes that work inside a FROM scratch image (no shell, no ps).
 *
 * usage: testproc run [options]     behave as a daemon, as the options say
 *        testproc ps                print "pid ppid pgid state name" per process
 *        testproc zombies           print how many processes are zombies
 *        testproc cat FILE...       print files
 *        testproc exit CODE         exit with CODE at once
 *        testproc ask SOCKET TEXT   send TEXT to a unix socket, print the reply
 *        testproc hold SOCKET MS    connect to a unix socket, send nothing; print
 *                                   "closed" if the server hangs up within MS,
 *                                   else "held"
 *        testproc kill SIG PID      send signal number SIG to PID
 *
 * run options (times in milliseconds):
 *   --log FILE              append one line per event: "NAME start pid=P
 *                           pgid=G ppid=PP", "NAME signal SIGTERM", "NAME
 *                           ready", "NAME exit CODE"; children log too
 *   --name NAME             the NAME in log lines (default main)
 *   --ignore-term           log SIGTERM, SIGINT, SIGQUIT and carry on
 *   --term-exit CODE        exit with CODE on SIGTERM (default 0)
 *   --term-delay MS         ... but only MS after it
 *   --exit-after MS CODE    exit with CODE after MS
 *   --crash-after MS        die of SIGSEGV after MS (no core file)
 *   --ready-fd N            readiness notification fd (s6 style)
 *   --ready-after MS        write "\n" to it after MS (default 0)
 *   --ready-on-file PATH    write "\n" to it once PATH exists instead
 *   --ready-on-hup          write "\n" to it again after each SIGHUP
 *   --close-ready           close it after the first notification
 *   --spawn-orphans N       fork a child that forks N processes and exits at
 *                           once, so they are orphaned; they log as "orphan"
 *   --orphan-life MS        the orphans exit after MS (default 200)
 *   --orphans-setsid        the orphans leave our process group (setsid)
 *   --spawn-grandchild      fork a child that stays in our process group,
 *                           logs as "grandchild", exits on SIGTERM
 *   --grandchild-ignores-term   ... and ignores SIGTERM
 *   --grandchild-setsid     ... in a session of its own instead
 *   --report-fds FILE       write "fds 0 1 2 ..." (our open fds) to FILE
 *   --report-env FILE       write our environment, one per line, to FILE
 *   --report-ids FILE       write "uid=U gid=G groups=A,B cwd=D" to FILE
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct role {
	const char *name;
	const char *log;
	bool ignore_term;
	int term_exit;
	long term_delay_ms; /* exit this long after SIGTERM */
	long exit_after_ms; /* -1: never */
	int exit_code;
	long crash_after_ms; /* -1: never */
	int ready_fd;        /* -1: none */
	long ready_after_ms;
	bool ready_on_hup;
	bool close_ready;
	const char *ready_file; /* notify once this exists */
};

static void usage(void)
{
	fputs("usage: testproc run [options] | ps | zombies | cat FILE... | exit CODE\n"
	      "(see the comment at the top of tests/helpers/testproc.c)\n",
	      stderr);
	exit(2);
}

static long number(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		usage();
	return v;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One write(2) per line on an O_APPEND file: lines from several
 * processes never mix. */
static void log_event(const struct role *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void log_event(const struct role *r, const char *fmt, ...)
{
	char line[512];
	va_list args;
	int n, m, fd;

	if (!r->log)
		return;
	n = snprintf(line, sizeof(line), "%s ", r->name);
	va_start(args, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, args);
	va_end(args);
	if (m < 0)
		return;
	n += m;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = open(r->log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* nothing to do: the test will notice the missing line */
	}
	close(fd);
}

static const char *sig_name(int sig)
{
	switch (sig) {
	case SIGTERM:
		return "SIGTERM";
	case SIGINT:
		return "SIGINT";
	case SIGQUIT:
		return "SIGQUIT";
	case SIGHUP:
		return "SIGHUP";
	case SIGUSR1:
		return "SIGUSR1";
	case SIGUSR2:
		return "SIGUSR2";
	default:
		return "SIGOTHER";
	}
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);

	if (fd < 0) {
		perror(path);
		exit(111);
	}
	if (write(fd, text, strlen(text)) < 0)
		perror(path);
	close(fd);
}

static void report_fds(const char *path)
{
	char text[4096];
	size_t len = 0;
	struct dirent *de;
	int dir_fd, fds[1024], n = 0, i, j;
	DIR *dir = opendir("/proc/self/fd");

	if (!dir) {
		perror("/proc/self/fd");
		exit(111);
	}
	dir_fd = dirfd(dir);
	while ((de = readdir(dir)) && n < 1024) {
		if (de->d_name[0] == '.')
			continue;
		if ((int)number(de->d_name) != dir_fd)
			fds[n++] = (int)number(de->d_name);
	}
	closedir(dir);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && fds[j - 1] > fds[j]; j--) {
			int t = fds[j];

			fds[j] = fds[j - 1];
			fds[j - 1] = t;
		}
	len += (size_t)snprintf(text, sizeof(text), "fds");
	for (i = 0; i < n && len < sizeof(text) - 16; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, " %d", fds[i]);
	snprintf(text + len, sizeof(text) - len, "\n");
	write_file(path, text);
}

static void report_env(const char *path)
{
	char text[8192];
	size_t len = 0;
	char **e;

	text[0] = '\0';
	for (e = environ; *e && len < sizeof(text) - 1; e++) {
		int n = snprintf(text + len, sizeof(text) - len, "%s\n", *e);

		if (n < 0)
			break;
		len += (size_t)n;
	}
	write_file(path, text);
}

static void report_ids(const char *path)
{
	char text[1024], cwd[PATH_MAX];
	gid_t groups[64];
	int n = getgroups(64, groups), i;
	size_t len;

	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "?");
	len = (size_t)snprintf(text, sizeof(text), "uid=%u gid=%u groups=", (unsigned)getuid(),
			       (unsigned)getgid());
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s%u", i ? "," : "",
					(unsigned)groups[i]);
	snprintf(text + len, sizeof(text) - len, " cwd=%s\n", cwd);
	write_file(path, text);
}

static void block_signals_into(sigset_t *mask)
{
	sigemptyset(mask);
	sigaddset(mask, SIGTERM);
	sigaddset(mask, SIGINT);
	sigaddset(mask, SIGQUIT);
	sigaddset(mask, SIGHUP);
	sigaddset(mask, SIGUSR1);
	sigaddset(mask, SIGUSR2);
	sigaddset(mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, mask, NULL);
}

static void block_signals(void)
{
	sigset_t mask;

	block_signals_into(&mask);
}

/* The event loop every testproc process runs: signals through a signalfd,
 * timers through poll's timeout. */
static _Noreturn void role_run(const struct role *r)
{
	uint64_t start = now_ms(), exit_at = UINT64_MAX, crash_at = UINT64_MAX,
		 ready_at = UINT64_MAX, next, now;
	struct signalfd_siginfo info;
	struct pollfd pfd;
	sigset_t mask;
	int sfd, ready_fd = r->ready_fd, timeout;
	bool waiting_for_file = ready_fd >= 0 && r->ready_file;

	block_signals_into(&mask);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	if (sfd < 0) {
		perror("signalfd");
		exit(111);
	}
	if (r->exit_after_ms >= 0)
		exit_at = start + (uint64_t)r->exit_after_ms;
	if (r->crash_after_ms >= 0)
		crash_at = start + (uint64_t)r->crash_after_ms;
	if (ready_fd >= 0 && !r->ready_file)
		ready_at = start + (uint64_t)r->ready_after_ms;

	for (;;) {
		now = now_ms();
		if (now >= crash_at) {
			struct rlimit no_core = { 0, 0 };

			log_event(r, "crash");
			setrlimit(RLIMIT_CORE, &no_core);
			signal(SIGSEGV, SIG_DFL);
			raise(SIGSEGV);
		}
		if (now >= exit_at) {
			int code = r->term_delay_ms > 0 && r->exit_after_ms < 0 ? r->term_exit
										  : r->exit_code;

			log_event(r, "exit %d", code);
			exit(code);
		}
		if (waiting_for_file && access(r->ready_file, F_OK) == 0) {
			waiting_for_file = false;
			ready_at = now;
		}
		if (now >= ready_at) {
			ready_at = UINT64_MAX;
			if (write(ready_fd, "\n", 1) == 1)
				log_event(r, "ready");
			if (r->close_ready) {
				close(ready_fd);
				ready_fd = -1;
			}
		}
		next = exit_at < crash_at ? exit_at : crash_at;
		next = ready_at < next ? ready_at : next;
		if (waiting_for_file && next > now + 50)
			next = now + 50;
		timeout = next == UINT64_MAX ? -1 : next <= now ? 0 : (int)(next - now);
		pfd.fd = sfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, timeout) <= 0)
			continue;
		if (read(sfd, &info, sizeof(info)) != (ssize_t)sizeof(info))
			continue;
		if (info.ssi_signo == SIGCHLD) {
			while (waitpid(-1, NULL, WNOHANG) > 0)
				;
			continue;
		}
		log_event(r, "signal %s", sig_name((int)info.ssi_signo));
		switch (info.ssi_signo) {
		case SIGTERM:
		case SIGINT:
		case SIGQUIT:
			if (r->ignore_term)
				break;
			if (r->term_delay_ms > 0) {
				exit_at = now_ms() + (uint64_t)r->term_delay_ms;
				continue;
			}
			log_event(r, "exit %d", r->term_exit);
			exit(r->term_exit);
		case SIGHUP:
			if (r->ready_on_hup && ready_fd >= 0 && write(ready_fd, "\n", 1) == 1)
				log_event(r, "ready");
			break;
		default:
			break;
		}
	}
}

static void log_start(const struct role *r)
{
	log_event(r, "start pid=%d pgid=%d ppid=%d", (int)getpid(), (int)getpgrp(),
		  (int)getppid());
}

static int cmd_run(int argc, char **argv)
{
	struct role main_role = { "main", NULL, false, 0, 0, -1, 0, -1, -1, 0, false, false, NULL };
	struct role child;
	long orphans = 0, orphan_life = 200;
	bool grandchild = false, grandchild_ignores = false, grandchild_setsid = false;
	bool orphans_setsid = false;
	const char *fds_file = NULL, *env_file = NULL, *ids_file = NULL;
	int i;
	pid_t pid;

	for (i = 2; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;

		if (strcmp(a, "--log") == 0 && more)
			main_role.log = argv[++i];
		else if (strcmp(a, "--name") == 0 && more)
			main_role.name = argv[++i];
		else if (strcmp(a, "--ignore-term") == 0)
			main_role.ignore_term = true;
		else if (strcmp(a, "--term-exit") == 0 && more)
			main_role.term_exit = (int)number(argv[++i]);
		else if (strcmp(a, "--term-delay") == 0 && more)
			main_role.term_delay_ms = number(argv[++i]);
		else if (strcmp(a, "--exit-after") == 0 && i + 2 < argc) {
			main_role.exit_after_ms = number(argv[++i]);
			main_role.exit_code = (int)number(argv[++i]);
		} else if (strcmp(a, "--crash-after") == 0 && more)
			main_role.crash_after_ms = number(argv[++i]);
		else if (strcmp(a, "--ready-fd") == 0 && more)
			main_role.ready_fd = (int)number(argv[++i]);
		else if (strcmp(a, "--ready-after") == 0 && more)
			main_role.ready_after_ms = number(argv[++i]);
		else if (strcmp(a, "--ready-on-file") == 0 && more)
			main_role.ready_file = argv[++i];
		else if (strcmp(a, "--ready-on-hup") == 0)
			main_role.ready_on_hup = true;
		else if (strcmp(a, "--close-ready") == 0)
			main_role.close_ready = true;
		else if (strcmp(a, "--spawn-orphans") == 0 && more)
			orphans = number(argv[++i]);
		else if (strcmp(a, "--orphan-life") == 0 && more)
			orphan_life = number(argv[++i]);
		else if (strcmp(a, "--orphans-setsid") == 0)
			orphans_setsid = true;
		else if (strcmp(a, "--spawn-grandchild") == 0)
			grandchild = true;
		else if (strcmp(a, "--grandchild-ignores-term") == 0)
			grandchild = grandchild_ignores = true;
		else if (strcmp(a, "--grandchild-setsid") == 0)
			grandchild = grandchild_setsid = true;
		else if (strcmp(a, "--report-fds") == 0 && more)
			fds_file = argv[++i];
		else if (strcmp(a, "--report-env") == 0 && more)
			env_file = argv[++i];
		else if (strcmp(a, "--report-ids") == 0 && more)
			ids_file = argv[++i];
		else
			usage();
	}
	/* Reports first: they describe what we were given, before we open
	 * anything ourselves. */
	if (fds_file)
		report_fds(fds_file);
	if (env_file)
		report_env(env_file);
	if (ids_file)
		report_ids(ids_file);
	/* Signals wait in the mask until role_run() reads them, so one that
	 * comes early is logged, not fatal; children inherit the mask. */
	block_signals();

	child = main_role;
	child.ready_fd = -1;
	child.exit_after_ms = -1;
	child.crash_after_ms = -1;
	child.term_exit = 0;
	child.term_delay_ms = 0;
	if (grandchild) {
		pid = fork();
		if (pid == 0) {
			if (main_role.ready_fd >= 0)
				close(main_role.ready_fd);
			if (grandchild_setsid)
				setsid();
			child.name = "grandchild";
			child.ignore_term = grandchild_ignores;
			log_start(&child);
			role_run(&child);
		}
	}
	if (orphans > 0) {
		pid = fork();
		if (pid == 0) {
			/* The middle process: fork the orphans, then leave them. */
			for (long k = 0; k < orphans; k++) {
				if (fork() == 0) {
					if (main_role.ready_fd >= 0)
						close(main_role.ready_fd);
					if (orphans_setsid)
						setsid();
					child.name = "orphan";
					child.ignore_term = false;
					child.exit_after_ms = orphan_life;
					child.exit_code = 0;
					log_start(&child);
					role_run(&child);
				}
			}
			_exit(0);
		}
		if (pid > 0)
			while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
				;
	}
	/* Logged last: once "start" is in the log, the grandchild exists and
	 * the orphans are orphans already. */
	log_start(&main_role);
	role_run(&main_role);
}

/* "pid ppid pgid state name" for each process in this /proc. */
static int cmd_ps(bool zombies_only)
{
	struct dirent *de;
	char path[300], text[512], *open_paren, *close_paren;
	long count = 0;
	DIR *dir = opendir("/proc");

	if (!dir) {
		perror("/proc");
		return 111;
	}
	while ((de = readdir(dir))) {
		int fd, ppid, pgid;
		char state;
		ssize_t n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, text, sizeof(text) - 1);
		close(fd);
		if (n <= 0)
			continue;
		text[n] = '\0';
		open_paren = strchr(text, '(');
		close_paren = strrchr(text, ')');
		if (!open_paren || !close_paren ||
		    sscanf(close_paren + 1, " %c %d %d", &state, &ppid, &pgid) != 3)
			continue;
		*close_paren = '\0';
		if (zombies_only) {
			count += state == 'Z';
			continue;
		}
		printf("%s %d %d %c %s\n", de->d_name, ppid, pgid, state, open_paren + 1);
	}
	closedir(dir);
	if (zombies_only)
		printf("%ld\n", count);
	return 0;
}

static int cmd_cat(int argc, char **argv)
{
	char chunk[4096];
	ssize_t n;
	int i, fd, status = 0;

	for (i = 2; i < argc; i++) {
		fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			perror(argv[i]);
			status = 1;
			continue;
		}
		while ((n = read(fd, chunk, sizeof(chunk))) > 0)
			if (write(STDOUT_FILENO, chunk, (size_t)n) < 0)
				break;
		close(fd);
	}
	return status;
}

static int unix_connect(const char *path)
{
	struct sockaddr_un addr;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* Send TEXT as is (no newline added) and print whatever comes back. */
static int cmd_ask(const char *path, const char *text)
{
	char chunk[4096];
	int fd = unix_connect(path);
	ssize_t n;

	if (write(fd, text, strlen(text)) < 0)
		perror("write");
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		if (write(STDOUT_FILENO, chunk, (size_t)n) < 0)
			break;
	close(fd);
	return 0;
}

/* Connect and stay silent for up to MS; print "closed" if the server hung
 * up first, "held" otherwise. */
static int cmd_hold(const char *path, long ms)
{
	struct pollfd pfd = { unix_connect(path), POLLIN, 0 };
	uint64_t end = now_ms() + (uint64_t)ms;
	char c;

	while (now_ms() < end) {
		if (poll(&pfd, 1, (int)(end - now_ms())) > 0) {
			if (read(pfd.fd, &c, 1) <= 0) {
				puts("closed");
				return 0;
			}
		}
	}
	close(pfd.fd);
	puts("held");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (strcmp(argv[1], "run") == 0)
		return cmd_run(argc, argv);
	if (strcmp(argv[1], "ps") == 0)
		return cmd_ps(false);
	if (strcmp(argv[1], "zombies") == 0)
		return cmd_ps(true);
	if (strcmp(argv[1], "cat") == 0)
		return cmd_cat(argc, argv);
	if (strcmp(argv[1], "exit") == 0 && argc == 3)
		return (int)number(argv[2]);
	if (strcmp(argv[1], "ask") == 0 && argc == 4)
		return cmd_ask(argv[2], argv[3]);
	if (strcmp(argv[1], "hold") == 0 && argc == 4)
		return cmd_hold(argv[2], number(argv[3]));
	if (strcmp(argv[1], "kill") == 0 && argc == 4)
		return kill((pid_t)number(argv[3]), (int)number(argv[2])) == 0 ? 0 : 1;
	usage();
}

/* sidecar init: PID 1 of the bundle (docs/init.md is the reference).
 *
 * init_main.c     arguments, start-up; the only file here that may die()
 * init_config.c   the YAML config into struct init_config
 * supervisor.c    the daemon table, its state machine, the event loop,
 *                 spawning, reaping, shutdown; the pure decisions it takes
 *                 (backoff, crash-loop rule, exit status, bundle state)
 * proc.c          child-side exec set-up and /proc scans
 * control.c       the control socket `sidecar initctl` talks to
 */
#ifndef SIDECAR_INIT_H
#define SIDECAR_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../../shared/buf.h"

struct config_yaml;

#define INIT_DEFAULT_CONFIG "/etc/sidecar/init.yaml"
#define INIT_DEFAULT_SOCKET "/run/sidecar/init.sock"
#define INIT_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* init's exit codes (docs/init.md).  A daemon's own status (its exit code,
 * or 128+signal) is propagated as well, see supervisor_exit_status(). */
enum {
	INIT_EXIT_OK = 0,       /* clean shutdown */
	INIT_EXIT_USAGE = 2,    /* bad arguments */
	INIT_EXIT_CONFIG = 3,   /* missing or invalid config */
	INIT_EXIT_GAVE_UP = 4,  /* a required daemon crash-looped and was given up on */
	INIT_EXIT_KILLED = 5,   /* processes outlived the grace period and were SIGKILLed */
	INIT_EXIT_SYSTEM = 111, /* init itself could not work (a system call failed) */
};

/* Limits of the config and of the control protocol. */
#define INIT_NAME_MAX 32
#define INIT_MAX_DAEMONS 64
#define INIT_READY_FD_MAX 255
#define INIT_RELOAD_TIMEOUT_MS (30 * 1000)
#define INIT_CONTROL_REQUEST_MAX 256
#define INIT_CONTROL_IO_TIMEOUT_MS (5 * 1000)
#define INIT_CONTROL_MAX_CLIENTS 16

/* ---- configuration (init_config.c) ---- */

enum restart_policy {
	RESTART_ALWAYS,
	RESTART_ON_FAILURE,
	RESTART_NEVER,
};

struct daemon_config {
	char *name;
	char **argv;        /* NULL-terminated; argv[0] is an absolute path */
	char **env;         /* "KEY=value" set by the config, NULL-terminated */
	char **env_inherit; /* names taken from init's environment, NULL-terminated */
	bool has_user;
	char *user;         /* as written, for messages */
	uid_t uid;
	gid_t gid;
	gid_t *groups;      /* supplementary groups; none for "uid:gid" */
	size_t group_count;
	char *workdir;
	enum restart_policy restart;
	int ready_fd;       /* -1: ready once exec succeeded */
	int reload_signal;
	bool required;
	uint64_t backoff_initial_ms;
	uint64_t backoff_max_ms;
	unsigned give_up_failures;
	uint64_t give_up_within_ms;
};

struct init_config {
	uint64_t grace_period_ms;
	char *control_socket;
	struct daemon_config *daemons;
	size_t daemon_count;
};

void init_config_init(struct init_config *config);
void init_config_release(struct init_config *config);
/* Load and check a file: 0, or a negative errno with `cy`'s message set. */
int init_config_load(struct init_config *config, struct config_yaml *cy, const char *path);
/* Read an already loaded document (tests load strings). */
int init_config_parse(struct init_config *config, struct config_yaml *cy);

/* "SIGHUP" or "HUP" -> 1; -EINVAL if unknown. */
int init_signal_from_name(const char *name);
/* "SIGHUP", or "signal 40" in `scratch` for one without a name. */
const char *init_signal_name(int sig, char *scratch, size_t size);
const char *init_restart_policy_name(enum restart_policy policy);

/* ---- supervisor: pure decisions (supervisor.c, unit-tested) ---- */

/* The times of a daemon's recent failures, for the crash-loop rule: a
 * sliding window of at most INIT_GIVE_UP_MAX entries, oldest first. */
#define INIT_GIVE_UP_MAX 100
struct failure_window {
	unsigned count;
	uint64_t times_ms[INIT_GIVE_UP_MAX];
};

/* Delay before restart number `failures` (1 = after the first failure):
 * initial, 2*initial, 4*initial ... capped at max. */
uint64_t supervisor_backoff_ms(uint64_t initial_ms, uint64_t max_ms, unsigned failures);
/* Record a failure at `now_ms` of a run that lasted `run_ms` and return how
 * many failures fall within the last `within_ms` (this one included; at
 * most `limit`, which is at most INIT_GIVE_UP_MAX).  A run that lasted
 * `within_ms` or longer proves the daemon can run: it clears the window. */
unsigned supervisor_note_failure(struct failure_window *window, unsigned limit,
				 uint64_t now_ms, uint64_t run_ms, uint64_t within_ms);
/* Whether a daemon that ended with `status` (0 = success) restarts. */
bool supervisor_should_restart(enum restart_policy policy, int status);
/* A wait(2) status as a shell would show it: the exit code, or 128+signal. */
int supervisor_wait_status(int wstatus);

enum stop_reason {
	STOP_NONE,
	STOP_SIGNAL,          /* SIGTERM, SIGINT or SIGQUIT */
	STOP_REQUEST,         /* `initctl stop` */
	STOP_GAVE_UP,         /* a required daemon crash-looped */
	STOP_REQUIRED_FAILED, /* a required daemon failed and may not restart */
	STOP_ALL_ENDED,       /* every daemon ended and none restarts */
};

/* init's exit status.  `daemon_status` is the status of the daemon that
 * caused the stop (STOP_REQUIRED_FAILED) or of the last daemon that failed
 * (STOP_ALL_ENDED; 0 if none did); `killed` says stragglers needed SIGKILL. */
int supervisor_exit_status(enum stop_reason reason, int daemon_status, bool killed);

enum daemon_state {
	DAEMON_BACKOFF,  /* waiting to start (again) */
	DAEMON_RUNNING,
	DAEMON_STOPPING, /* signalled to stop (restart request or shutdown) */
	DAEMON_EXITED,   /* ended; its restart policy does not restart it */
	DAEMON_FAILED,   /* crash-looped: given up on */
};

const char *supervisor_state_name(enum daemon_state state);

struct daemon {
	const struct daemon_config *config;
	char **envp;             /* built once: PATH + env + env_inherit */
	enum daemon_state state;
	pid_t pid;               /* > 0 while the daemon runs */
	bool ready;
	int ready_read_fd;       /* our end of its notification pipe, or -1 */
	unsigned starts;         /* successful execs */
	unsigned ready_count;    /* readiness notifications (each new line) */
	uint64_t started_ms;
	uint64_t restart_at_ms;  /* DAEMON_BACKOFF: when to start */
	uint64_t kill_at_ms;     /* DAEMON_STOPPING for a restart: SIGKILL then */
	bool restart_requested;
	struct failure_window failures;
	int last_status;         /* status of the last end, -1 if none */
};

enum bundle_state {
	BUNDLE_STARTING, /* some daemon is starting, restarting or not yet ready */
	BUNDLE_READY,    /* every daemon is ready (or finished cleanly) */
	BUNDLE_DEGRADED, /* some daemon failed for good; the bundle runs on */
	BUNDLE_STOPPING,
};

enum bundle_state supervisor_bundle_state(const struct daemon *daemons, size_t count,
					  bool stopping);
const char *supervisor_bundle_state_name(enum bundle_state state);

/* ---- supervisor: the running init ---- */

struct control_client {
	int fd; /* -1: slot free */
	/* root (or init's own user): every request.  A daemon's configured
	 * user: status and reload only (supervise reloads egress after the
	 * operator approves new routes). */
	bool privileged;
	enum { CLIENT_READING, CLIENT_WAITING, CLIENT_WRITING } phase;
	struct buf in;
	struct buf out;
	size_t out_done;
	uint64_t deadline_ms;
	/* CLIENT_WAITING: which daemon, for what, and its counters then. */
	size_t daemon;
	enum { WAIT_RELOAD, WAIT_RESTART } wait;
	unsigned starts_then;
	unsigned ready_count_then;
};

struct control {
	int listen_fd; /* -1 when closed */
	char *path;
	bool created;  /* we created the socket file: remove it at exit */
	struct control_client clients[INIT_CONTROL_MAX_CLIENTS];
};

/* A pid set: non-daemon processes already sent the stop signal. */
struct pid_set {
	pid_t *pids;
	size_t count, cap;
};

struct supervisor {
	const struct init_config *config;
	struct daemon *daemons;
	size_t daemon_count;
	int epoll_fd;
	int signal_fd;
	bool pid1;
	struct control control;
	enum bundle_state bundle;
	bool bundle_logged;        /* the current bundle state was logged */
	/* shutdown */
	bool stopping;
	enum stop_reason stop_reason;
	int stop_signal;
	int stop_status;           /* the daemon status the stop is about */
	int last_failed_status;    /* last daemon that ended in failure for good */
	uint64_t grace_deadline_ms;
	uint64_t next_scan_ms;     /* stopping: look for new orphans / stragglers */
	bool killing;              /* the grace period is over */
	bool killed;               /* something had to be SIGKILLed */
	struct pid_set signalled;
	bool done;
	int exit_status;
};

uint64_t supervisor_now_ms(void);
/* Set up the daemon table, signals and the control socket.  0 or -errno
 * (the error is logged). */
int supervisor_init(struct supervisor *sv, const struct init_config *config);
/* Start the daemons and run until every process has exited; returns init's
 * exit status. */
int supervisor_run(struct supervisor *sv);
void supervisor_release(struct supervisor *sv);

/* For the control socket. */
struct daemon *supervisor_find(struct supervisor *sv, const char *name);
int supervisor_reload(struct supervisor *sv, struct daemon *d);
int supervisor_restart(struct supervisor *sv, struct daemon *d);
void supervisor_request_stop(struct supervisor *sv);
int supervisor_format_status(struct supervisor *sv, struct buf *out);

/* ---- child side and /proc (proc.c) ---- */

/* What the child reports through its exec pipe when a step failed. */
struct exec_failure {
	int step;
	int error;
};

enum {
	EXEC_STEP_SETPGID = 1,
	EXEC_STEP_FDS,
	EXEC_STEP_CHDIR,
	EXEC_STEP_SETGROUPS,
	EXEC_STEP_SETGID,
	EXEC_STEP_SETUID,
	EXEC_STEP_PRIVILEGES,
	EXEC_STEP_EXEC,
};

/* In the forked child: set everything up and execve(); on failure write
 * a struct exec_failure to `report_fd` and _exit(127). Never returns. */
_Noreturn void proc_exec_child(const struct daemon_config *config,
			     char **envp, int ready_write_fd, int report_fd);
const char *proc_exec_step_name(int step);

/* Close every fd >= `from` except those in `keep` (close_range, with a
 * /proc/self/fd fallback). */
void proc_close_fds_from(int from, const int *keep, size_t keep_count);

struct proc_entry {
	pid_t pid;
	pid_t ppid;
	pid_t pgid;
	char state;
};

/* Every process under `root` (children, grandchildren ...), zombies
 * excluded.  0 or -errno. *out is malloc'ed; free it. */
int proc_descendants(pid_t root, struct proc_entry **out, size_t *count);

int pid_set_add(struct pid_set *set, pid_t pid);
bool pid_set_has(const struct pid_set *set, pid_t pid);
void pid_set_release(struct pid_set *set);

/* ---- control socket (control.c) ---- */

void control_init(struct control *control);
/* Create the socket (and its directory); 0 or -errno, logged. */
int control_open(struct supervisor *sv, const char *path);
void control_close(struct supervisor *sv);
void control_accept(struct supervisor *sv);
void control_client_event(struct supervisor *sv, size_t index, uint32_t events);
/* A daemon's readiness or state changed: answer clients waiting on it. */
void control_daemon_changed(struct supervisor *sv, struct daemon *d);
/* Shutdown began: answer every waiting client. */
void control_stopping(struct supervisor *sv);
void control_timers(struct supervisor *sv, uint64_t now_ms);
uint64_t control_next_deadline(const struct supervisor *sv);

/* epoll_event.data.u64 tags: kind in the high half, index in the low. */
enum {
	EV_SIGNAL = 1,
	EV_CONTROL_LISTEN,
	EV_CONTROL_CLIENT,
	EV_DAEMON_READY,
};
#define EV_TAG(kind, index) (((uint64_t)(kind) << 32) | (uint64_t)(index))
#define EV_KIND(tag) ((unsigned)((tag) >> 32))
#define EV_INDEX(tag) ((size_t)((tag) & 0xffffffffu))

#endif

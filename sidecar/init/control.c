/* The control socket: a unix stream socket, one request line in, reply
 * lines out, then close (docs/init.md, "Control socket").  Every client is
 * non-blocking with a deadline, and a request is capped, so no client can
 * hold up init. */
#include "init.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../shared/log.h"

#define CONTROL_REPLY_MAX (64 * 1024)

void control_init(struct control *control)
{
	size_t i;

	control->listen_fd = -1;
	control->path = NULL;
	control->created = false;
	for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++)
		control->clients[i].fd = -1;
}

/* mkdir -p of the socket's directory, 0755. */
static int make_parent_dirs(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t i, len;

	len = strlen(path);
	if (len >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, path, len + 1);
	while (len > 0 && dir[len - 1] != '/')
		len--;
	if (len <= 1)
		return 0;
	dir[len - 1] = '\0';
	for (i = 1; i <= len - 1; i++) {
		if (dir[i] != '/' && dir[i] != '\0')
			continue;
		dir[i] = '\0';
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (i < len - 1)
			dir[i] = '/';
	}
	return 0;
}

int control_open(struct supervisor *sv, const char *path)
{
	struct control *control = &sv->control;
	struct sockaddr_un addr;
	struct epoll_event ev;
	struct stat st;
	mode_t old_mask;
	int fd = -1, probe, ret;

	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("control socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	ret = make_parent_dirs(path);
	if (ret < 0) {
		log_error("unable to create the directory of '%s': %s", path, strerror(-ret));
		goto out;
	}
	/* A socket left by an init that died is replaced; a live one is not,
	 * and nothing that is not a socket is ever removed. */
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			ret = -EEXIST;
			log_error("'%s' exists and is not a socket; not replacing it", path);
			goto out;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe >= 0 && connect(probe, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			close(probe);
			ret = -EADDRINUSE;
			log_error("another init is listening on '%s'", path);
			goto out;
		}
		if (probe >= 0)
			close(probe);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ret = -errno;
		log_error_errno("unable to create the control socket");
		goto out;
	}
	/* Created 0666 from the start, so daemons running as their own users
	 * can connect; who may ask for what is decided per connection from
	 * the peer's credentials (control_accept). */
	old_mask = umask(0111);
	ret = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (ret < 0) {
		ret = -errno;
		log_error_errno("unable to bind the control socket '%s'", path);
		goto out;
	}
	control->created = true;
	control->path = strdup(path);
	if (!control->path) {
		ret = -ENOMEM;
		unlink(path);
		control->created = false;
		log_error("out of memory");
		goto out;
	}
	if (listen(fd, INIT_CONTROL_MAX_CLIENTS) < 0) {
		ret = -errno;
		log_error_errno("unable to listen on '%s'", path);
		goto out;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = EV_TAG(EV_CONTROL_LISTEN, 0);
	if (epoll_ctl(sv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		ret = -errno;
		log_error_errno("unable to watch the control socket");
		goto out;
	}
	control->listen_fd = fd;
	fd = -1;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

static void client_close(struct supervisor *sv, struct control_client *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(sv->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
	buf_release(&c->in);
	buf_release(&c->out);
}

void control_close(struct supervisor *sv)
{
	struct control *control = &sv->control;
	size_t i;

	for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++)
		client_close(sv, &control->clients[i]);
	if (control->listen_fd >= 0) {
		if (sv->epoll_fd >= 0)
			epoll_ctl(sv->epoll_fd, EPOLL_CTL_DEL, control->listen_fd, NULL);
		close(control->listen_fd);
		control->listen_fd = -1;
	}
	if (control->created && control->path)
		unlink(control->path);
	control->created = false;
	free(control->path);
	control->path = NULL;
}

static void client_watch(struct supervisor *sv, struct control_client *c, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = EV_TAG(EV_CONTROL_CLIENT, (size_t)(c - sv->control.clients));
	epoll_ctl(sv->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Write what we can; close once all is out.  A client that does not read
 * is dropped at its deadline. */
static void client_flush(struct supervisor *sv, struct control_client *c)
{
	ssize_t n;

	while (c->out_done < c->out.len) {
		n = send(c->fd, c->out.p + c->out_done, c->out.len - c->out_done, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		break; /* the client went away */
	}
	client_close(sv, c);
}

static void client_reply(struct supervisor *sv, struct control_client *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void client_reply(struct supervisor *sv, struct control_client *c, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	if (buf_vappendf(&c->out, fmt, args) < 0) {
		buf_clear(&c->out);
		buf_append_str(&c->out, "error reply too large\n");
	}
	va_end(args);
	c->phase = CLIENT_WRITING;
	c->out_done = 0;
	c->deadline_ms = supervisor_now_ms() + INIT_CONTROL_IO_TIMEOUT_MS;
	client_watch(sv, c, EPOLLOUT);
	client_flush(sv, c);
}

static void client_wait(struct supervisor *sv, struct control_client *c, struct daemon *d,
			int wait, unsigned starts_then, uint64_t timeout_ms)
{
	c->phase = CLIENT_WAITING;
	c->daemon = (size_t)(d - sv->daemons);
	c->wait = wait;
	c->starts_then = starts_then;
	c->ready_count_then = d->ready_count;
	c->deadline_ms = supervisor_now_ms() + timeout_ms;
	/* No events wanted; a hang-up still shows (EPOLLHUP). */
	client_watch(sv, c, 0);
}

/* Decide a waiting client's answer if the daemon's state allows one. */
static void client_check(struct supervisor *sv, struct control_client *c)
{
	struct daemon *d = &sv->daemons[c->daemon];
	const char *name = d->config->name;

	if (c->phase != CLIENT_WAITING)
		return;
	if (c->wait == WAIT_RELOAD) {
		if (d->starts != c->starts_then || d->pid <= 0)
			client_reply(sv, c, "error %s exited during the reload\n", name);
		else if (d->ready_count > c->ready_count_then)
			client_reply(sv, c, "ok reloaded %s\n", name);
		else if (d->ready_read_fd < 0)
			/* It closed its notification fd: nothing will confirm. */
			client_reply(sv, c, "ok signalled %s\n", name);
		return;
	}
	if (d->starts > c->starts_then && d->state == DAEMON_RUNNING && d->ready)
		client_reply(sv, c, "ok restarted %s (pid %d)\n", name, (int)d->pid);
	else if (!d->restart_requested && d->state != DAEMON_RUNNING &&
		 d->state != DAEMON_STOPPING)
		client_reply(sv, c, "error %s did not come back (%s)\n", name,
			     supervisor_state_name(d->state));
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

static void client_request(struct supervisor *sv, struct control_client *c, char *line)
{
	char *arg = strchr(line, ' ');
	struct daemon *d = NULL;
	struct buf status;
	unsigned starts;
	int ret;

	if (arg)
		*arg++ = '\0';
	if (!printable(line) || (arg && !printable(arg))) {
		client_reply(sv, c, "error malformed request\n");
		return;
	}
	if (!c->privileged && strcmp(line, "status") != 0 && strcmp(line, "reload") != 0) {
		client_reply(sv, c, "error permission denied: a daemon may ask for status and reload only\n");
		return;
	}
	if (strcmp(line, "status") == 0 && !arg) {
		buf_init(&status, CONTROL_REPLY_MAX);
		if (supervisor_format_status(sv, &status) < 0)
			client_reply(sv, c, "error out of memory\n");
		else
			client_reply(sv, c, "%s", status.p);
		buf_release(&status);
		return;
	}
	if (strcmp(line, "stop") == 0 && !arg) {
		client_reply(sv, c, "ok stopping\n");
		supervisor_request_stop(sv);
		return;
	}
	if (strcmp(line, "reload") != 0 && strcmp(line, "restart") != 0) {
		client_reply(sv, c, "error unknown request '%.40s' (status, reload NAME, restart NAME, stop)\n",
			     line);
		return;
	}
	if (!arg || !*arg) {
		client_reply(sv, c, "error %s needs a daemon name\n", line);
		return;
	}
	d = supervisor_find(sv, arg);
	if (!d) {
		client_reply(sv, c, "error no daemon named '%.40s'\n", arg);
		return;
	}
	if (sv->stopping) {
		client_reply(sv, c, "error init is stopping\n");
		return;
	}
	starts = d->starts;
	if (strcmp(line, "reload") == 0) {
		ret = supervisor_reload(sv, d);
		if (ret == -ESRCH)
			client_reply(sv, c, "error %s is not running (%s)\n", arg,
				     supervisor_state_name(d->state));
		else if (ret < 0)
			client_reply(sv, c, "error %s\n", strerror(-ret));
		else if (d->ready_read_fd >= 0)
			client_wait(sv, c, d, WAIT_RELOAD, starts, INIT_RELOAD_TIMEOUT_MS);
		else
			client_reply(sv, c, "ok signalled %s\n", arg);
		return;
	}
	ret = supervisor_restart(sv, d);
	if (ret < 0) {
		client_reply(sv, c, "error %s\n", strerror(-ret));
		return;
	}
	client_wait(sv, c, d, WAIT_RESTART, starts,
		    sv->config->grace_period_ms + INIT_RELOAD_TIMEOUT_MS);
	client_check(sv, c);
}

/* Whether uid is the configured user of one of the daemons. */
static bool uid_runs_a_daemon(const struct init_config *config, uid_t uid)
{
	size_t i;

	for (i = 0; i < config->daemon_count; i++)
		if (config->daemons[i].has_user && config->daemons[i].uid == uid)
			return true;
	return false;
}

void control_accept(struct supervisor *sv)
{
	struct control_client *c;
	struct epoll_event ev;
	struct ucred cred;
	socklen_t len;
	bool privileged;
	size_t i;
	int fd;

	for (;;) {
		fd = accept4(sv->control.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_warn("control socket: accept: %s", strerror(errno));
			return;
		}
		len = sizeof(cred);
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
			cred.uid = (uid_t)-1;
		privileged = cred.uid == 0 || cred.uid == geteuid();
		if (!privileged && !uid_runs_a_daemon(sv->config, cred.uid)) {
			send(fd, "error permission denied\n", 24, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c = NULL;
		for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++) {
			if (sv->control.clients[i].fd < 0) {
				c = &sv->control.clients[i];
				break;
			}
		}
		if (!c) {
			send(fd, "error busy\n", 11, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->privileged = privileged;
		c->phase = CLIENT_READING;
		buf_init(&c->in, INIT_CONTROL_REQUEST_MAX);
		buf_init(&c->out, CONTROL_REPLY_MAX);
		c->deadline_ms = supervisor_now_ms() + INIT_CONTROL_IO_TIMEOUT_MS;
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLIN;
		ev.data.u64 = EV_TAG(EV_CONTROL_CLIENT, i);
		if (epoll_ctl(sv->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			c->fd = -1;
		}
	}
}

static void client_read(struct supervisor *sv, struct control_client *c)
{
	char chunk[INIT_CONTROL_REQUEST_MAX + 1], *newline;
	bool eof = false;
	ssize_t n;

	for (;;) {
		n = recv(c->fd, chunk, sizeof(chunk), 0);
		if (n > 0) {
			if (buf_append(&c->in, chunk, (size_t)n) < 0) {
				client_reply(sv, c, "error request longer than %d bytes\n",
					     INIT_CONTROL_REQUEST_MAX);
				return;
			}
			if (memchr(c->in.p, '\n', c->in.len))
				break;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		eof = true;
		break;
	}
	newline = memchr(c->in.p, '\n', c->in.len);
	if (!newline && !eof)
		return; /* more to come, within the deadline */
	if (!newline && c->in.len == 0) {
		client_close(sv, c);
		return;
	}
	if (newline)
		*newline = '\0';
	if (memchr(c->in.p, '\0', newline ? (size_t)(newline - c->in.p) : c->in.len)) {
		client_reply(sv, c, "error malformed request\n");
		return;
	}
	if (newline && newline > c->in.p && newline[-1] == '\r')
		newline[-1] = '\0';
	client_request(sv, c, c->in.p);
}

void control_client_event(struct supervisor *sv, size_t index, uint32_t events)
{
	struct control_client *c;

	if (index >= INIT_CONTROL_MAX_CLIENTS)
		return;
	c = &sv->control.clients[index];
	if (c->fd < 0)
		return;
	switch (c->phase) {
	case CLIENT_READING:
		client_read(sv, c);
		break;
	case CLIENT_WAITING:
		if (events & (EPOLLHUP | EPOLLERR))
			client_close(sv, c);
		break;
	case CLIENT_WRITING:
		client_flush(sv, c);
		break;
	}
}

void control_daemon_changed(struct supervisor *sv, struct daemon *d)
{
	size_t i;

	for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &sv->control.clients[i];

		if (c->fd >= 0 && c->phase == CLIENT_WAITING && &sv->daemons[c->daemon] == d)
			client_check(sv, c);
	}
}

void control_stopping(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &sv->control.clients[i];

		if (c->fd >= 0 && c->phase == CLIENT_WAITING)
			client_reply(sv, c, "error init is stopping\n");
	}
}

void control_timers(struct supervisor *sv, uint64_t now_ms)
{
	size_t i;

	for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++) {
		struct control_client *c = &sv->control.clients[i];
		const char *name;

		if (c->fd < 0 || now_ms < c->deadline_ms)
			continue;
		if (c->phase != CLIENT_WAITING) {
			client_close(sv, c);
			continue;
		}
		name = sv->daemons[c->daemon].config->name;
		if (c->wait == WAIT_RELOAD)
			client_reply(sv, c, "error no readiness notification from %s within %ds\n",
				     name, INIT_RELOAD_TIMEOUT_MS / 1000);
		else
			client_reply(sv, c, "error %s was not back and ready in time\n", name);
	}
}

uint64_t control_next_deadline(const struct supervisor *sv)
{
	uint64_t next = UINT64_MAX;
	size_t i;

	for (i = 0; i < INIT_CONTROL_MAX_CLIENTS; i++)
		if (sv->control.clients[i].fd >= 0 && sv->control.clients[i].deadline_ms < next)
			next = sv->control.clients[i].deadline_ms;
	return next;
}

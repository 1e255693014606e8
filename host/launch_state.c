/* A bottle's names and its state directory: what `stop` and `list` need
 * to find a bottle again, whatever happened to the launcher. */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STATE_FILE_MAX 4096

bool launch_slug_valid(const char *slug)
{
	size_t i, len = strlen(slug);

	if (len == 0 || len >= LAUNCH_SLUG_MAX || slug[0] == '-')
		return false;
	for (i = 0; i < len; i++) {
		char c = slug[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	return true;
}

int launch_random_hex(char *out, size_t nbytes)
{
	unsigned char raw[64];
	size_t i, got = 0;
	ssize_t r;
	int fd;

	if (nbytes > sizeof(raw))
		return -EINVAL;
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (got < nbytes) {
		r = read(fd, raw + got, nbytes - got);
		if (r <= 0) {
			close(fd);
			return r < 0 ? -errno : -EIO;
		}
		got += (size_t)r;
	}
	close(fd);
	for (i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
	return 0;
}

int launch_slug_make(const char *agent, char *out, size_t len)
{
	char hex[9];
	int ret, n;

	if (len > LAUNCH_SLUG_MAX)
		len = LAUNCH_SLUG_MAX;
	ret = launch_random_hex(hex, 4);
	if (ret < 0)
		return ret;
	/* 40 of the agent's name leave room for "-" and the hex in a slug, and
	 * keep engine object names ("bottle-<slug>-internal") short. */
	n = snprintf(out, len, "%.40s-%s", agent, hex);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return launch_slug_valid(out) ? 0 : -EINVAL;
}

void launch_names_init(struct launch_names *n, const char *slug)
{
	snprintf(n->slug, sizeof(n->slug), "%s", slug);
	snprintf(n->bundle, sizeof(n->bundle), "bottle-%s-bundle", slug);
	snprintf(n->agent, sizeof(n->agent), "bottle-%s-agent", slug);
	snprintf(n->net_internal, sizeof(n->net_internal), "bottle-%s-internal", slug);
	snprintf(n->net_egress, sizeof(n->net_egress), "bottle-%s-egress", slug);
	snprintf(n->origin, sizeof(n->origin), "bottle-%s-origin", slug);
}

static int root_under_home(const char *env, const char *sub, char *out, size_t len)
{
	const char *home = getenv(env);
	struct passwd *pw;
	int n;

	if (home && home[0] == '/') {
		n = snprintf(out, len, "%s", home);
	} else {
		home = getenv("HOME");
		if (!home || home[0] != '/') {
			pw = getpwuid(getuid());
			home = pw ? pw->pw_dir : NULL;
		}
		if (!home)
			return -ENOENT;
		n = snprintf(out, len, "%s/.bottle/%s", home, sub);
	}
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int launch_state_root(char *out, size_t len)
{
	return root_under_home("BOTTLE_STATE_ROOT", "state", out, len);
}

int launch_queue_root(char *out, size_t len)
{
	return root_under_home("BOTTLE_QUEUE_ROOT", "queue", out, len);
}

int launch_mkdirs(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	size_t i, len = strlen(path);

	if (len == 0 || len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, len + 1);
	for (i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = i == len ? '\0' : '/';
	}
	return 0;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path) < 0 ? -1 : 0;
	return unlink(path) < 0 ? -1 : 0;
}

int launch_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return -errno;
	return 0;
}

int launch_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *p = data;
	ssize_t w;
	int fd, ret = -EIO;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	/* The umask must not widen nor narrow what the caller asked for. */
	if (fchmod(fd, mode) < 0) {
		ret = -errno;
		goto out;
	}
	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		p += w;
		len -= (size_t)w;
	}
	ret = 0;
out:
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		unlink(path);
	return ret;
}

unsigned long long launch_pid_start(pid_t pid)
{
	char path[64], text[1024], *p;
	unsigned long long start = 0;
	ssize_t r;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	text[r] = '\0';
	/* The command name may hold spaces and parentheses: count fields
	 * from the last ')'. */
	p = strrchr(text, ')');
	if (!p)
		return 0;
	for (field = 2; *p && field < 22; p++)
		if (*p == ' ')
			field++;
	if (field == 22)
		start = strtoull(p, NULL, 10);
	return start;
}

bool launch_state_alive(const struct launch_state *s)
{
	if (s->pid <= 0)
		return false;
	if (kill(s->pid, 0) < 0 && errno == ESRCH)
		return false;
	return launch_pid_start(s->pid) == s->pid_start;
}

int launch_state_write(const char *dir, const struct launch_state *s, char *err, size_t len)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	struct buf text;
	int ret = -ENOMEM;

	buf_init(&text, STATE_FILE_MAX);
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(tmp, sizeof(tmp), "%s/.state.tmp", dir);
	if (buf_appendf(&text,
			"slug %s\nagent %s\nengine %s\ncreated %lld\npid %d\npid_start %llu\nkeep %d\n",
			s->slug, s->agent, s->engine, (long long)s->created, (int)s->pid,
			s->pid_start, s->keep ? 1 : 0) < 0)
		goto out;
	unlink(tmp);
	ret = launch_write_file(tmp, text.p, text.len, 0600);
	if (ret == 0 && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		snprintf(err, len, "unable to write '%s': %s", path, strerror(-ret));
out:
	buf_release(&text);
	return ret;
}

static int copy_word(char *dst, size_t size, const char *value)
{
	size_t n = strcspn(value, "\n");

	if (n == 0 || n >= size)
		return -EINVAL;
	memcpy(dst, value, n);
	dst[n] = '\0';
	return 0;
}

static int parse_number(const char *value, long long *out)
{
	char *end;

	errno = 0;
	*out = strtoll(value, &end, 10);
	return errno || end == value || *end != '\n' ? -EINVAL : 0;
}

int launch_state_read(const char *dir, struct launch_state *s, char *err, size_t len)
{
	char path[PATH_MAX], text[STATE_FILE_MAX], *line, *next, *value;
	long long number;
	ssize_t r;
	int fd, ret = -EINVAL;

	memset(s, 0, sizeof(*s));
	snprintf(path, sizeof(path), "%s/state", dir);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, len, "unable to open '%s': %s", path, strerror(errno));
		return ret;
	}
	r = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (r <= 0) {
		snprintf(err, len, "'%s' is empty or unreadable", path);
		return -EINVAL;
	}
	text[r] = '\0';
	for (line = text; *line; line = next) {
		next = strchr(line, '\n');
		if (!next)
			goto bad;
		next++;
		value = strchr(line, ' ');
		if (!value || value > next)
			goto bad;
		*value++ = '\0';
		if (strcmp(line, "slug") == 0)
			ret = copy_word(s->slug, sizeof(s->slug), value);
		else if (strcmp(line, "agent") == 0)
			ret = copy_word(s->agent, sizeof(s->agent), value);
		else if (strcmp(line, "engine") == 0)
			ret = copy_word(s->engine, sizeof(s->engine), value);
		else if ((ret = parse_number(value, &number)) < 0)
			goto bad;
		else if (strcmp(line, "created") == 0)
			s->created = (time_t)number;
		else if (strcmp(line, "pid") == 0)
			s->pid = (pid_t)number;
		else if (strcmp(line, "pid_start") == 0)
			s->pid_start = (unsigned long long)number;
		else if (strcmp(line, "keep") == 0)
			s->keep = number != 0;
		if (ret < 0)
			goto bad;
	}
	if (!launch_slug_valid(s->slug) || !s->engine[0])
		goto bad;
	return 0;
bad:
	snprintf(err, len, "'%s' is not a bottle state file", path);
	return -EINVAL;
}

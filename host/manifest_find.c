/* Where manifests live: names, search directories, reading a file. */
#include "manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool manifest_name_valid(const char *name)
{
	size_t i;

	if (!name || !name[0] || name[0] == '-')
		return false;
	for (i = 0; name[i]; i++) {
		if (i >= MANIFEST_NAME_MAX)
			return false;
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '-'))
			return false;
	}
	return true;
}

void manifest_dirs_default(struct manifest_dirs *dirs)
{
	static char home_dir[4096];
	const char *home = getenv("HOME");

	if (!home || home[0] != '/') {
		struct passwd *pw = getpwuid(getuid());

		home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
	}
	dirs->local = "./.bottle";
	dirs->home = NULL;
	if (home && (size_t)snprintf(home_dir, sizeof(home_dir), "%s/.bottle",
				     strcmp(home, "/") == 0 ? "" : home) < sizeof(home_dir))
		dirs->home = home_dir;
}

static const char *kind_dir(enum manifest_kind kind)
{
	return kind == MANIFEST_AGENT ? "agents" : "bottles";
}

int manifest_find(const struct manifest_dirs *dirs, enum manifest_kind kind,
		  const char *name, char **path, char *err, size_t err_len)
{
	const char *roots[2] = { dirs->local, dirs->home };
	char candidate[4096], tried[2][4096];
	struct stat st;
	size_t i, ntried = 0;

	*path = NULL;
	if (!manifest_name_valid(name)) {
		snprintf(err, err_len,
			 "'%.*s' is not a valid %s name (1 to %d of a-z, 0-9 and '-', not "
			 "starting with '-')",
			 MANIFEST_NAME_MAX, name, kind == MANIFEST_AGENT ? "agent" : "bottle",
			 MANIFEST_NAME_MAX);
		return -EINVAL;
	}
	for (i = 0; i < 2; i++) {
		if (!roots[i])
			continue;
		if ((size_t)snprintf(candidate, sizeof(candidate), "%s/%s/%s.md", roots[i],
				     kind_dir(kind), name) >= sizeof(candidate))
			continue;
		/* stat, not access: a directory named x.md is not a manifest, and
		 * a dangling link is reported when the file is read. */
		if (lstat(candidate, &st) == 0) {
			*path = strdup(candidate);
			if (!*path) {
				snprintf(err, err_len, "out of memory");
				return -ENOMEM;
			}
			return 0;
		}
		memcpy(tried[ntried++], candidate, sizeof(candidate));
	}
	if ((size_t)snprintf(candidate, sizeof(candidate), "%s/%s/%s.md", MANIFEST_BUILTIN_DIR,
			     kind_dir(kind), name) < sizeof(candidate) &&
	    manifest_builtin_text(candidate)) {
		*path = strdup(candidate);
		if (!*path) {
			snprintf(err, err_len, "out of memory");
			return -ENOMEM;
		}
		return 0;
	}
	if (ntried == 2)
		snprintf(err, err_len, "no %s named '%s' (looked for %s and %s)",
			 kind == MANIFEST_AGENT ? "agent" : "bottle", name, tried[0], tried[1]);
	else if (ntried == 1)
		snprintf(err, err_len, "no %s named '%s' (looked for %s)",
			 kind == MANIFEST_AGENT ? "agent" : "bottle", name, tried[0]);
	else
		snprintf(err, err_len, "no %s named '%s' (no directory to look in)",
			 kind == MANIFEST_AGENT ? "agent" : "bottle", name);
	return -ENOENT;
}

int manifest_read_file(const char *path, struct buf *out, char *err, size_t err_len)
{
	const char *builtin = manifest_builtin_text(path);
	struct stat st;
	int fd, ret;

	buf_init(out, MANIFEST_MAX_FILE);
	if (builtin) {
		ret = buf_append_str(out, builtin);
		if (ret < 0) {
			snprintf(err, err_len, "%s: out of memory", path);
			buf_release(out);
		}
		return ret;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(err, err_len, "%s: unable to open: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		snprintf(err, err_len, "%s: not a regular file", path);
		goto out;
	}
	ret = buf_read_fd(out, fd);
	if (ret == -EMSGSIZE || ret == -ENOMEM) {
		snprintf(err, err_len, "%s: %s", path,
			 ret == -EMSGSIZE ? "larger than 1 MiB" : "out of memory");
		goto out;
	}
	if (ret < 0) {
		snprintf(err, err_len, "%s: unable to read: %s", path, strerror(-ret));
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		buf_release(out);
	return ret;
}

/* Test probe for the bundle's least privilege (t1200): run inside the
 * sidecar image with the credentials of one of its daemons (`podman exec
 * --user`), it reports what those credentials allow.  Static like every
 * helper, so it runs in the image, which has no shell.
 *
 *   privprobe ids                one line: uid=U gid=G groups=G1,G2 (sorted)
 *   privprobe read FILE...       per file: "FILE: readable" or "FILE: <error>"
 *   privprobe writable ROOT...   every directory under ROOT in which a new
 *                                file can be created, one a line (it is
 *                                removed again); /proc and /sys are skipped
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

static int compare_gids(const void *a, const void *b)
{
	gid_t x = *(const gid_t *)a, y = *(const gid_t *)b;

	return x < y ? -1 : x > y;
}

static int print_ids(void)
{
	gid_t groups[256];
	int n = getgroups(256, groups), i;

	if (n < 0) {
		perror("privprobe: getgroups");
		return 1;
	}
	qsort(groups, (size_t)n, sizeof(groups[0]), compare_gids);
	printf("uid=%u gid=%u groups=", (unsigned)geteuid(), (unsigned)getegid());
	for (i = 0; i < n; i++)
		printf("%s%u", i ? "," : "", (unsigned)groups[i]);
	printf("\n");
	return 0;
}

static int read_files(char **paths)
{
	char block[512];
	int fd;

	for (; *paths; paths++) {
		fd = open(*paths, O_RDONLY | O_CLOEXEC);
		/* Opening is not enough on every file system: read a block. */
		if (fd >= 0 && read(fd, block, sizeof(block)) >= 0)
			printf("%s: readable\n", *paths);
		else
			printf("%s: %s\n", *paths, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

/* Whether a new file can be created in dir (then removed again). */
static void probe_dir(const char *dir)
{
	char probe[4096];
	int fd;

	if (snprintf(probe, sizeof(probe), "%s/.privprobe-%d", strcmp(dir, "/") ? dir : "",
		     (int)getpid()) >= (int)sizeof(probe))
		return;
	fd = open(probe, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		printf("%s\n", dir);
		close(fd);
		unlink(probe);
	}
}

/* Depth first, without following symlinks; directories the probe cannot
 * list are probed but not entered. */
static void walk(const char *dir)
{
	char child[4096];
	struct dirent *e;
	struct stat st;
	DIR *d;

	if (strcmp(dir, "/proc") == 0 || strcmp(dir, "/sys") == 0)
		return;
	probe_dir(dir);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(child, sizeof(child), "%s/%s", strcmp(dir, "/") ? dir : "",
			     e->d_name) >= (int)sizeof(child))
			continue;
		if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
			walk(child);
	}
	closedir(d);
}

int main(int argc, char **argv)
{
	int i;

	if (argc == 2 && strcmp(argv[1], "ids") == 0)
		return print_ids();
	if (argc >= 3 && strcmp(argv[1], "read") == 0)
		return read_files(argv + 2);
	if (argc >= 3 && strcmp(argv[1], "writable") == 0) {
		for (i = 2; i < argc; i++)
			walk(argv[i]);
		return 0;
	}
	fputs("usage: privprobe ids | read FILE... | writable ROOT...\n", stderr);
	return 2;
}

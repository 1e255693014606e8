/* bottle-host list: the bottles this user started, from their state
 * directories: whether their launcher still runs, and how many proposals
 * wait for the operator. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host.h"
#include "launch.h"
#include "../shared/exit_codes.h"
#include "../shared/queue.h"

static const char list_usage[] =
	"usage: bottle-host list [--all]\n"
	"\n"
	"List running bottles: SLUG (what stop and supervise take), AGENT, ENGINE,\n"
	"AGE, PENDING (proposals waiting for `bottle-host supervise`) and STATUS:\n"
	"  running   its launcher runs\n"
	"  stale     its launcher is gone (crashed or killed) and left engine\n"
	"            objects or state behind: `bottle-host stop <slug>` cleans up\n"
	"  kept      ended with --keep; only its state directory is left (--all)\n"
	"\n"
	"Exit status: 0; 1 the state directory cannot be read; 2 bad arguments.\n";

static void format_age(time_t seconds, char *out, size_t len)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 120)
		snprintf(out, len, "%lds", (long)seconds);
	else if (seconds < 2 * 3600)
		snprintf(out, len, "%ldm", (long)seconds / 60);
	else if (seconds < 2 * 86400)
		snprintf(out, len, "%ldh", (long)seconds / 3600);
	else
		snprintf(out, len, "%ldd", (long)seconds / 86400);
}

static long pending_count(const char *queue_root, const char *slug)
{
	char dir[PATH_MAX], err[512];
	struct queue_list list;
	long n;

	if (snprintf(dir, sizeof(dir), "%s/%s", queue_root, slug) >= (int)sizeof(dir))
		return -1;
	memset(&list, 0, sizeof(list));
	if (queue_list_pending(dir, &list, err, sizeof(err)) < 0)
		return -1;
	n = (long)list.n;
	queue_list_release(&list);
	return n;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int cmd_list(int argc, char **argv)
{
	char root[PATH_MAX], queue_root[PATH_MAX], dir[PATH_MAX], err[512], age[32], pending[32];
	char **names = NULL, **grown;
	struct launch_state st;
	struct dirent *e;
	size_t n = 0, i;
	bool all = false;
	long count;
	DIR *d;

	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
			fputs(list_usage, stdout);
			return EXIT_OK;
		}
		if (strcmp(argv[k], "--all") != 0) {
			fputs(list_usage, stderr);
			return EXIT_USAGE;
		}
		all = true;
	}
	if (launch_state_root(root, sizeof(root)) < 0 ||
	    launch_queue_root(queue_root, sizeof(queue_root)) < 0) {
		fprintf(stderr, "bottle-host: list: cannot find your home directory (set HOME)\n");
		return EXIT_FAILURE_GENERIC;
	}
	printf("%-50s %-20s %-7s %5s %7s %s\n", "SLUG", "AGENT", "ENGINE", "AGE", "PENDING",
	       "STATUS");
	d = opendir(root);
	if (!d)
		return EXIT_OK; /* nothing was ever started */
	while ((e = readdir(d))) {
		if (!launch_slug_valid(e->d_name))
			continue;
		grown = realloc(names, (n + 1) * sizeof(*names));
		if (!grown || !(grown[n] = strdup(e->d_name))) {
			names = grown ? grown : names;
			break;
		}
		names = grown;
		n++;
	}
	closedir(d);
	if (names)
		qsort(names, n, sizeof(*names), compare_names);
	for (i = 0; i < n; i++) {
		if (snprintf(dir, sizeof(dir), "%s/%s", root, names[i]) >= (int)sizeof(dir))
			continue;
		if (launch_state_read(dir, &st, err, sizeof(err)) < 0) {
			/* A launcher killed before its state file was written. */
			printf("%-50s %-20s %-7s %5s %7s %s\n", names[i], "?", "?", "?", "-", "stale");
			continue;
		}
		if (!all && st.pid == 0 && st.keep)
			continue;
		format_age(time(NULL) - st.created, age, sizeof(age));
		count = pending_count(queue_root, st.slug);
		if (count < 0)
			snprintf(pending, sizeof(pending), "-");
		else
			snprintf(pending, sizeof(pending), "%ld", count);
		printf("%-50s %-20s %-7s %5s %7s %s\n", st.slug, st.agent, st.engine, age, pending,
		       launch_state_alive(&st) ? "running" : st.pid == 0 && st.keep ? "kept"
										: "stale");
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return EXIT_OK;
}

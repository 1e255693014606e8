/* bottle-host supervise watch, and the interactive loop a bare
 * `bottle-host supervise` runs on a terminal.  Both wake on inotify events
 * from the queue directories and rescan every few seconds anyway, so a
 * directory created after the watch began is still seen. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "cmd_supervise.h"
#include "../shared/exit_codes.h"

#define RESCAN_MS 2000

/* (Re)watch the root and every bottle's pending/; adding a watch twice
 * is harmless, so each scan simply adds them all. */
static void watch_dirs(int fd, const struct supervise *s, const struct supervise_items *items)
{
	char path[PATH_MAX + 80];
	size_t i;

	if (fd < 0)
		return;
	inotify_add_watch(fd, s->root, IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
	for (i = 0; i < items->n; i++) {
		snprintf(path, sizeof(path), "%s/%s/pending", s->root, items->v[i].bottle);
		inotify_add_watch(fd, path, IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MOVED_FROM);
	}
}

/* Wait for a queue event, input on stdin (when watch_stdin) or the rescan
 * period.  Returns 1 when stdin is readable. */
static int wait_event(int fd, bool watch_stdin)
{
	struct pollfd fds[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO,
								   .events = POLLIN } };
	char drain[4096];
	int n = poll(fds, watch_stdin ? 2 : 1, RESCAN_MS);

	if (n > 0 && (fds[0].revents & POLLIN))
		while (read(fd, drain, sizeof(drain)) > 0)
			;
	return n > 0 && watch_stdin && (fds[1].revents & (POLLIN | POLLHUP));
}

/* A proposal seen pending: where to look once it is gone. */
struct seen {
	char id[QUEUE_ID_MAX];
	char bottle[64];
};

static bool contains(const struct seen *v, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i].id, id) == 0)
			return true;
	return false;
}

static void ring(const struct supervise *s)
{
	if (s->tty)
		fputc('\a', stdout);
}

/* Print what arrived and what left since the last scan; true when
 * something arrived. */
static bool report_changes(const struct supervise *s, const struct supervise_items *items,
			   const struct seen *before, size_t nbefore, struct seen *now, bool first)
{
	char dir[PATH_MAX], err[512];
	bool fresh = false;
	size_t i;
	int state;

	for (i = 0; i < items->n; i++) {
		snprintf(now[i].id, sizeof(now[i].id), "%s", items->v[i].p.id);
		snprintf(now[i].bottle, sizeof(now[i].bottle), "%s", items->v[i].bottle);
		if (contains(before, nbefore, now[i].id))
			continue;
		printf("%s ", first ? "pending" : "new    ");
		supervise_list_line(&items->v[i], time(NULL));
		fresh = true;
	}
	for (i = 0; i < nbefore; i++) {
		if (contains(now, items->n, before[i].id))
			continue;
		supervise_queue_dir(s, before[i].bottle, dir);
		state = queue_status(dir, before[i].id, err, sizeof(err));
		printf("%-7s %s\n", state > 0 ? queue_state_name((enum queue_state)state) : "gone",
		       before[i].id);
	}
	return fresh;
}

int supervise_watch(const struct supervise *s)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	struct seen *seen = NULL, *now;
	size_t nseen = 0;
	bool first = true;

	printf("watching %s for proposals (Ctrl-C stops)\n", s->root);
	for (;;) {
		struct supervise_items items;

		supervise_log_grant_ends(s, true);
		if (supervise_collect(s, &items, first) < 0)
			break;
		now = calloc(items.n + 1, sizeof(*now));
		if (!now) {
			supervise_items_release(&items);
			break;
		}
		if (report_changes(s, &items, seen, nseen, now, first))
			ring(s);
		watch_dirs(fd, s, &items);
		free(seen);
		seen = now;
		nseen = items.n;
		supervise_items_release(&items);
		/* A closed pipe ends the watch. */
		if (fflush(stdout) == EOF || ferror(stdout))
			break;
		first = false;
		wait_event(fd, false);
	}
	free(seen);
	if (fd >= 0)
		close(fd);
	return EXIT_FAILURE_GENERIC;
}

/* One line from the terminal without its newline; -1 at end of input. */
static int read_line(const char *prompt, char *line, size_t len)
{
	size_t n = 0;
	char c;

	fputs(prompt, stdout);
	fflush(stdout);
	for (;;) {
		ssize_t r = read(STDIN_FILENO, &c, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return n ? 0 : -1;
		if (c == '\n')
			break;
		if (n + 1 < len)
			line[n++] = c;
	}
	line[n] = '\0';
	return 0;
}

/* Ask until the answer fits: empty keeps the proposal's bound. */
static int ask_bound(const char *prompt, uint64_t proposed, bool duration, uint64_t *out)
{
	char line[64], question[160];

	if (proposed)
		snprintf(question, sizeof(question), "%s [%llu%s, Enter keeps]: ", prompt,
			 (unsigned long long)proposed, duration ? "s" : "");
	else
		snprintf(question, sizeof(question), "%s [none, Enter keeps]: ", prompt);
	for (;;) {
		if (read_line(question, line, sizeof(line)) < 0)
			return -1;
		if (!*line)
			return 0;
		if ((duration ? supervise_parse_duration(line, out)
			      : supervise_parse_count(line, out)) < 0) {
			puts(duration ? "  a duration: 90, 90s, 15m, 2h, 7d" : "  a positive count");
			continue;
		}
		/* Asked here rather than refused by the queue after all the
		 * questions: a grant only ever narrows what was asked. */
		if (proposed && *out > proposed) {
			printf("  at most %llu: bounds only tighten\n", (unsigned long long)proposed);
			*out = 0;
			continue;
		}
		return 0;
	}
}

static int ask_note(const struct supervise_item *item, bool reject, char *note, size_t len)
{
	bool required = reject || item->p.kind == QUEUE_EGRESS_TOKEN_ALLOW ||
			item->p.kind == QUEUE_GITLEAKS_ALLOW;

	for (;;) {
		if (read_line(required ? "reason (required): " : "note (optional): ", note, len) < 0)
			return -1;
		if (!required || note[strspn(note, " \t")])
			return 0;
	}
}

/* Approve, edit or reject item; 1 for quit. */
static int answer(const struct supervise *s, const struct supervise_item *item, char action)
{
	struct queue_response r = { .verdict = action == 'r' ? QUEUE_REJECTED : QUEUE_APPROVED };
	char note[QUEUE_TEXT_MAX], line[16];
	char *edited = NULL;
	bool bounded = item->p.kind != QUEUE_GITLEAKS_ALLOW;

	if (action == 'e') {
		for (;;) {
			if (supervise_edit_routes(item, &edited) == EXIT_OK)
				break;
			if (read_line("edit again? [y/N] ", line, sizeof(line)) < 0)
				return 1;
			if (*line != 'y')
				return 0;
		}
		if (strcmp(edited, item->p.routes_yaml) != 0) {
			supervise_diff(stdout, "proposed routes.yaml", item->p.routes_yaml,
				       "edited routes.yaml", edited, s->color);
			r.verdict = QUEUE_MODIFIED;
			r.routes_yaml = edited;
		}
		if (read_line("approve these routes? [y/N] ", line, sizeof(line)) < 0 ||
		    *line != 'y') {
			free(edited);
			return 0;
		}
	}
	if (ask_note(item, action == 'r', note, sizeof(note)) < 0)
		goto quit;
	r.note = *note ? note : NULL;
	if (action != 'r' && bounded &&
	    (ask_bound("expires in", item->p.bounds.expires_in, true, &r.bounds.expires_in) < 0 ||
	     ask_bound("max requests", item->p.bounds.max_requests, false,
		       &r.bounds.max_requests) < 0))
		goto quit;
	supervise_decide(s, item, &r);
	free(edited);
	return 0;
quit:
	free(edited);
	return 1;
}

int supervise_interactive(const struct supervise *s)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	struct seen *skipped = NULL;
	char line[16];
	size_t nskipped = 0, i;
	bool first = true, waiting = false;
	int ret = EXIT_OK;

	for (;;) {
		struct supervise_items items;
		struct supervise_item *item = NULL;

		if (supervise_collect(s, &items, first) < 0) {
			ret = EXIT_FAILURE_GENERIC;
			break;
		}
		first = false;
		watch_dirs(fd, s, &items);
		for (i = 0; i < items.n && !item; i++)
			if (!contains(skipped, nskipped, items.v[i].p.id))
				item = &items.v[i];
		if (!item) {
			supervise_items_release(&items);
			if (!waiting) {
				printf("no pending proposals%s; waiting (q and Enter quits)\n",
				       nskipped ? " but the skipped ones" : "");
				fflush(stdout);
				waiting = true;
			}
			if (wait_event(fd, true)) {
				if (read_line("", line, sizeof(line)) < 0 || *line == 'q')
					break;
				/* Enter brings skipped proposals back. */
				nskipped = 0;
				waiting = false;
			}
			continue;
		}
		if (waiting)
			ring(s);
		waiting = false;
		putchar('\n');
		supervise_show(s, item);
		printf("\n%zu pending.  ", items.n);
		if (read_line("[a]pprove  [e]dit  [r]eject  [s]kip  [q]uit? ", line,
			      sizeof(line)) < 0 ||
		    *line == 'q') {
			supervise_items_release(&items);
			break;
		}
		if (*line == 's') {
			struct seen *grown = realloc(skipped, (nskipped + 1) * sizeof(*skipped));

			if (grown) {
				skipped = grown;
				snprintf(skipped[nskipped++].id, QUEUE_ID_MAX, "%s", item->p.id);
			}
		} else if (*line == 'a' || *line == 'e' || *line == 'r') {
			if (answer(s, item, *line)) {
				supervise_items_release(&items);
				break;
			}
		}
		supervise_items_release(&items);
	}
	free(skipped);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* bottle-host supervise: the operator's side of the supervise queue
 * (docs/supervise-queue.md).  Everything shown comes from a bottle and is
 * cleaned of terminal controls first; every decision goes to the bottle's
 * queue and then to the audit log. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd_supervise.h"
#include "host.h"
#include "../shared/buf.h"
#include "../shared/exit_codes.h"
#include "../shared/routes.h"

static const char supervise_usage[] =
	"usage: bottle-host supervise [--queue-root DIR] [--audit-log FILE] [COMMAND]\n"
	"\n"
	"Answer what bottles propose: route changes asked for by the agent, a\n"
	"token held by egress, a secret found in a push.\n"
	"\n"
	"Commands:\n"
	"  list                 pending proposals of every bottle, oldest first, then the\n"
	"                       grants egress ended\n"
	"  show ID              one proposal: the routes diff against the live file,\n"
	"                       or where a held secret was going (never its value)\n"
	"  approve ID [--note TEXT] [--expires-in DURATION] [--max-requests N]\n"
	"                       approve (a note is required for egress-token-allow and\n"
	"                       gitleaks-allow); bounds may only tighten the proposal's\n"
	"  edit ID [--note TEXT] [--expires-in DURATION] [--max-requests N]\n"
	"                       edit the proposed routes in $VISUAL or $EDITOR, then\n"
	"                       approve the edited file\n"
	"  reject ID --note TEXT\n"
	"  watch                print proposals as they arrive, ringing the bell\n"
	"  verify-log [FILE]    check the audit log's hash chain\n"
	"\n"
	"Without a command on a terminal: answer proposals one by one as they come.\n"
	"\n"
	"The queue root defaults to ~/.bottle/queue, one directory per bottle;\n"
	"<root>/<bottle>/routes.yaml is the live routes file the diff is against.\n"
	"The audit log defaults to <root>/audit.log.  DURATION: 90, 90s, 15m, 2h, 7d.\n"
	"Every command but verify-log first adds the grants egress ended to the audit log.\n";

void supervise_queue_dir(const struct supervise *s, const char *bottle, char out[PATH_MAX])
{
	snprintf(out, PATH_MAX, "%s/%s", s->root, bottle);
}

void supervise_who(char *out, size_t len)
{
	struct passwd *pw = getpwuid(getuid());
	const char *user = getenv("USER");

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(out, len, "%s", pw->pw_name);
	else if (user && *user && !strpbrk(user, "\n\r\t"))
		snprintf(out, len, "%s", user);
	else
		snprintf(out, len, "uid %u", (unsigned)getuid());
}

int supervise_parse_duration(const char *text, uint64_t *seconds)
{
	unsigned long long v;
	uint64_t unit = 1;
	char *end;

	if (!(*text >= '0' && *text <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || v == 0)
		return -EINVAL;
	switch (*end) {
	case '\0': break;
	case 's': unit = 1; end++; break;
	case 'm': unit = 60; end++; break;
	case 'h': unit = 3600; end++; break;
	case 'd': unit = 86400; end++; break;
	default: return -EINVAL;
	}
	/* Ten years is already "forever" for a grant. */
	if (*end || v > 315360000ull / unit)
		return -EINVAL;
	*seconds = v * unit;
	return 0;
}

int supervise_parse_count(const char *text, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!(*text >= '0' && *text <= '9'))
		return -EINVAL;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

void supervise_print_clean(FILE *out, const char *text, bool multi_line, const char *indent)
{
	const unsigned char *p = (const unsigned char *)text;

	fputs(indent, out);
	for (; *p; p++) {
		if (*p == '\n' && multi_line) {
			fputc('\n', out);
			if (p[1])
				fputs(indent, out);
		} else {
			fputc(*p == '\t' || (*p >= 0x20 && *p != 0x7f) ? *p : '?', out);
		}
	}
}

static void format_age(time_t seconds, char *out, size_t len)
{
	if (seconds < 0)
		seconds = 0;
	if (seconds < 120)
		snprintf(out, len, "%llds", (long long)seconds);
	else if (seconds < 7200)
		snprintf(out, len, "%lldm", (long long)seconds / 60);
	else if (seconds < 172800)
		snprintf(out, len, "%lldh", (long long)seconds / 3600);
	else
		snprintf(out, len, "%lldd", (long long)seconds / 86400);
}

static void format_duration(uint64_t seconds, char *out, size_t len)
{
	if (seconds % 86400 == 0)
		snprintf(out, len, "%llud", (unsigned long long)seconds / 86400);
	else if (seconds % 3600 == 0)
		snprintf(out, len, "%lluh", (unsigned long long)seconds / 3600);
	else if (seconds % 60 == 0)
		snprintf(out, len, "%llum", (unsigned long long)seconds / 60);
	else
		snprintf(out, len, "%llus", (unsigned long long)seconds);
}

void supervise_list_line(const struct supervise_item *item, time_t now)
{
	char age[32], first[61];
	const char *j = item->p.justification;
	size_t n = strcspn(j, "\n");

	format_age(now - item->p.created_at, age, sizeof(age));
	snprintf(first, sizeof(first), "%.*s", (int)(n < 60 ? n : 60), j);
	if (n > 60)
		memcpy(first + 56, "...", 4);
	printf("%-25s  %-12s  %-18s  %5s  ", item->p.id, item->bottle,
	       queue_kind_name(item->p.kind), age);
	supervise_print_clean(stdout, first, false, "");
	putchar('\n');
}

static int compare_items(const void *x, const void *y)
{
	const struct supervise_item *a = x, *b = y;

	if (a->p.created_at != b->p.created_at)
		return a->p.created_at < b->p.created_at ? -1 : 1;
	return strcmp(a->p.id, b->p.id);
}

void supervise_items_release(struct supervise_items *items)
{
	size_t i;

	for (i = 0; i < items->n; i++)
		queue_proposal_release(&items->v[i].p);
	free(items->v);
	items->v = NULL;
	items->n = 0;
}

/* Move the unanswered proposals of one bottle into items. */
static int collect_bottle(const struct supervise *s, const char *bottle,
			  struct supervise_items *items, size_t *cap, bool warn)
{
	char dir[PATH_MAX], err[512];
	struct queue_list list;
	size_t i;
	int ret;

	supervise_queue_dir(s, bottle, dir);
	ret = queue_list_pending(dir, &list, err, sizeof(err));
	if (ret < 0) {
		if (warn)
			fprintf(stderr, "bottle-host: warning: %s\n", err);
		return 0;
	}
	for (i = 0; warn && i < list.nproblems; i++) {
		fputs("bottle-host: warning: skipped ", stderr);
		supervise_print_clean(stderr, list.problems[i], false, "");
		fputc('\n', stderr);
	}
	for (i = 0; i < list.n; i++) {
		struct queue_proposal *p = &list.items[i];

		if (p->answered)
			continue;
		/* A bottle speaks for itself only. */
		if (strcmp(p->bottle, bottle) != 0) {
			if (warn) {
				fprintf(stderr, "bottle-host: warning: skipped %s/pending/%s.json: "
						"it names bottle '",
					dir, p->id);
				supervise_print_clean(stderr, p->bottle, false, "");
				fputs("'\n", stderr);
			}
			continue;
		}
		if (items->n == *cap) {
			size_t grown = *cap ? *cap * 2 : 16;
			struct supervise_item *v = realloc(items->v, grown * sizeof(*v));

			if (!v) {
				queue_list_release(&list);
				return -ENOMEM;
			}
			items->v = v;
			*cap = grown;
		}
		snprintf(items->v[items->n].bottle, sizeof(items->v[0].bottle), "%.63s", bottle);
		items->v[items->n++].p = *p;
		/* Ownership moved: the list must not free these strings. */
		memset(p, 0, sizeof(*p));
	}
	queue_list_release(&list);
	return 0;
}

int supervise_collect(const struct supervise *s, struct supervise_items *items, bool warn)
{
	size_t cap = 0;
	struct dirent *e;
	DIR *d;
	int ret = 0;

	items->v = NULL;
	items->n = 0;
	d = opendir(s->root);
	if (!d) {
		/* No bottle has asked anything yet. */
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		fprintf(stderr, "bottle-host: unable to read '%s': %s\n", s->root, strerror(errno));
		return ret;
	}
	while ((e = readdir(d)) && ret == 0) {
		char pending[PATH_MAX + 300];
		struct stat st;

		if (!queue_bottle_valid(e->d_name))
			continue;
		snprintf(pending, sizeof(pending), "%s/%s/pending", s->root, e->d_name);
		if (stat(pending, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		ret = collect_bottle(s, e->d_name, items, &cap, warn);
	}
	closedir(d);
	if (ret < 0) {
		supervise_items_release(items);
		return ret;
	}
	if (items->n)
		qsort(items->v, items->n, sizeof(*items->v), compare_items);
	return 0;
}

static void print_err(const char *err)
{
	fputs("bottle-host: supervise: ", stderr);
	supervise_print_clean(stderr, err, false, "");
	fputc('\n', stderr);
}

/* The bottle whose queue holds id, into bottle; -ENOENT when none does. */
static int locate(const struct supervise *s, const char *id, char bottle[64], int *state)
{
	char dir[PATH_MAX], err[512];
	struct dirent *e;
	DIR *d;
	int ret = -ENOENT;

	if (!queue_id_valid(id))
		return -EINVAL;
	d = opendir(s->root);
	if (!d)
		return -ENOENT;
	while ((e = readdir(d))) {
		if (!queue_bottle_valid(e->d_name))
			continue;
		supervise_queue_dir(s, e->d_name, dir);
		*state = queue_status(dir, id, err, sizeof(err));
		if (*state > 0) {
			snprintf(bottle, 64, "%.63s", e->d_name);
			ret = 0;
			break;
		}
	}
	closedir(d);
	return ret;
}

/* Read a pending proposal for show or a decision.  Returns 0 or an exit
 * code after saying why not. */
static int load_item(const struct supervise *s, const char *id, struct supervise_item *item,
		     bool must_be_pending)
{
	char dir[PATH_MAX], err[512];
	int state = 0, ret;

	memset(item, 0, sizeof(*item));
	ret = locate(s, id, item->bottle, &state);
	if (ret == -EINVAL) {
		fputs("bottle-host: supervise: not a proposal id (letters, digits and '-' only)\n",
		      stderr);
		return EXIT_USAGE;
	}
	if (ret < 0) {
		fprintf(stderr, "bottle-host: supervise: no proposal %s under '%s'\n", id, s->root);
		return EXIT_FAILURE_GENERIC;
	}
	if (must_be_pending && state != QUEUE_PENDING) {
		fprintf(stderr, "bottle-host: supervise: proposal %s %s\n", id,
			state == QUEUE_WITHDRAWN ? "was withdrawn: its caller stopped waiting"
			: state == QUEUE_ANSWERED ? "is already answered"
						  : "is already processed");
		return EXIT_FAILURE_GENERIC;
	}
	supervise_queue_dir(s, item->bottle, dir);
	ret = queue_read_proposal(dir, id, &item->p, err, sizeof(err));
	if (ret < 0) {
		print_err(err);
		return EXIT_FAILURE_GENERIC;
	}
	/* A bottle speaks for itself only (as in supervise_collect). */
	if (strcmp(item->p.bottle, item->bottle) != 0) {
		fprintf(stderr, "bottle-host: supervise: %s in the queue of bottle %s names another "
				"bottle; refused\n",
			id, item->bottle);
		queue_proposal_release(&item->p);
		return EXIT_FAILURE_GENERIC;
	}
	return EXIT_OK;
}

/* The live routes file a proposal is compared with, or NULL. */
static char *read_live_routes(const struct supervise *s, const char *bottle, char *path,
			      size_t path_len)
{
	struct buf text;
	char chunk[4096];
	size_t n;
	FILE *f;

	snprintf(path, path_len, "%s/%s/routes.yaml", s->root, bottle);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	buf_init(&text, QUEUE_FILE_MAX);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&text, chunk, n) < 0)
			break;
	fclose(f);
	return buf_detach(&text, &n);
}

static void show_field(const char *name, const char *value)
{
	if (!value)
		return;
	printf("  %-13s", name);
	supervise_print_clean(stdout, value, false, "");
	putchar('\n');
}

static void show_bounds(const char *title, const struct queue_bounds *b)
{
	char d[32];

	if (!b->expires_in && !b->max_requests)
		return;
	printf("  %-13s", title);
	if (b->expires_in) {
		format_duration(b->expires_in, d, sizeof(d));
		printf("expires in %s", d);
	}
	if (b->max_requests)
		printf("%s%llu requests", b->expires_in ? ", " : "",
		       (unsigned long long)b->max_requests);
	putchar('\n');
}

void supervise_show(const struct supervise *s, const struct supervise_item *item)
{
	const struct queue_proposal *p = &item->p;
	char age[32], live_path[PATH_MAX + 300], line[32];

	format_age(time(NULL) - p->created_at, age, sizeof(age));
	printf("%s%s%s  %s from bottle %s, %s ago (%s)\n", s->color ? "\033[1m" : "", p->id,
	       s->color ? "\033[0m" : "", queue_kind_name(p->kind), item->bottle, age,
	       p->created);
	puts("  justification:");
	supervise_print_clean(stdout, p->justification, true, "    ");
	putchar('\n');
	show_bounds("asks bounds", &p->bounds);
	if (p->kind == QUEUE_EGRESS_ALLOW || p->kind == QUEUE_EGRESS_BLOCK) {
		char *live = read_live_routes(s, item->bottle, live_path, sizeof(live_path));
		size_t changed;

		if (!live)
			printf("  (no live routes file at %s: the diff is against nothing)\n",
			       live_path);
		putchar('\n');
		changed = supervise_diff(stdout, live ? live_path : "/dev/null", live ? live : "",
					 "proposed routes.yaml", p->routes_yaml, s->color);
		if (!changed)
			puts("  (the proposed routes are the live routes)");
		free(live);
		return;
	}
	/* A held secret: where it was going and what matched, never the value. */
	show_field("host", p->host);
	show_field("method", p->method);
	show_field("repo", p->repo);
	show_field("ref", p->ref);
	show_field("commit", p->commit);
	show_field("path", p->path);
	if (p->line) {
		snprintf(line, sizeof(line), "%llu", (unsigned long long)p->line);
		show_field("line", line);
	}
	show_field("detector", p->detector);
	show_field("rule", p->rule);
	show_field("context", p->preview);
	printf("  %-13s%.16s...\n", "value sha256", p->value_hash);
}

int supervise_decide(const struct supervise *s, const struct supervise_item *item,
		     struct queue_response *r)
{
	char dir[PATH_MAX], err[512], who[65];
	int ret;

	supervise_who(who, sizeof(who));
	r->who = who;
	snprintf(r->id, sizeof(r->id), "%s", item->p.id);
	supervise_queue_dir(s, item->bottle, dir);
	ret = queue_respond(dir, r, err, sizeof(err));
	r->who = NULL;
	if (ret < 0) {
		print_err(err);
		return ret == -EINVAL ? EXIT_USAGE : EXIT_FAILURE_GENERIC;
	}
	r->who = who;
	ret = queue_audit_append(s->audit, &item->p, r, err, sizeof(err));
	r->who = NULL;
	if (ret < 0) {
		print_err(err);
		fprintf(stderr,
			"bottle-host: supervise: %s is %s in the queue but NOT in the audit log\n",
			item->p.id, queue_verdict_name(r->verdict));
		return EXIT_FAILURE_GENERIC;
	}
	printf("%s %s (%s from bottle %s)\n", queue_verdict_name(r->verdict), item->p.id,
	       queue_kind_name(item->p.kind), item->bottle);
	return EXIT_OK;
}

static int run_editor(const char *path)
{
	const char *editor = getenv("VISUAL");
	pid_t pid;
	int status;

	if (!editor || !*editor)
		editor = getenv("EDITOR");
	if (!editor || !*editor)
		editor = "vi";
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* $EDITOR may carry arguments ("code --wait"), as git allows. */
		char script[64];

		snprintf(script, sizeof(script), "%s", "exec $BOTTLE_EDITOR \"$1\"");
		setenv("BOTTLE_EDITOR", editor, 1);
		execl("/bin/sh", "sh", "-c", script, "sh", path, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -ECANCELED;
}

int supervise_edit_routes(const struct supervise_item *item, char **out)
{
	const char *tmpdir = getenv("TMPDIR");
	char path[PATH_MAX], err[512];
	struct routes *routes = NULL;
	struct buf text;
	char chunk[4096];
	size_t n, len;
	FILE *f;
	int fd, ret = EXIT_FAILURE_GENERIC;

	*out = NULL;
	if (item->p.kind != QUEUE_EGRESS_ALLOW && item->p.kind != QUEUE_EGRESS_BLOCK) {
		fprintf(stderr, "bottle-host: supervise: only a routes proposal can be edited, "
				"not %s\n",
			queue_kind_name(item->p.kind));
		return EXIT_USAGE;
	}
	snprintf(path, sizeof(path), "%s/bottle-routes-%s-XXXXXX.yaml",
		 tmpdir && *tmpdir ? tmpdir : "/tmp", item->p.id);
	fd = mkstemps(path, 5);
	if (fd < 0) {
		fprintf(stderr, "bottle-host: supervise: unable to create '%s': %s\n", path,
			strerror(errno));
		return EXIT_FAILURE_GENERIC;
	}
	len = strlen(item->p.routes_yaml);
	if (write(fd, item->p.routes_yaml, len) != (ssize_t)len) {
		close(fd);
		goto out;
	}
	close(fd);
	if (run_editor(path) < 0) {
		fputs("bottle-host: supervise: the editor failed; nothing decided\n", stderr);
		goto out;
	}
	f = fopen(path, "re");
	if (!f)
		goto out;
	buf_init(&text, QUEUE_FILE_MAX / 2);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_append(&text, chunk, n) < 0) {
			fputs("bottle-host: supervise: the edited file is too large\n", stderr);
			fclose(f);
			buf_release(&text);
			goto out;
		}
	fclose(f);
	if (routes_load_string("edited routes.yaml", text.p, text.len, &routes, err,
			       sizeof(err)) < 0) {
		print_err(err);
		buf_release(&text);
		goto out;
	}
	routes_unref(routes);
	*out = buf_detach(&text, &n);
	ret = EXIT_OK;
out:
	unlink(path);
	return ret;
}

enum decide_action { ACTION_APPROVE, ACTION_EDIT, ACTION_REJECT };

static int subcommand_decide(const struct supervise *s, enum decide_action action, int argc,
		      char **argv)
{
	static const struct option options[] = {
		{ "note", required_argument, NULL, 'n' },
		{ "expires-in", required_argument, NULL, 'e' },
		{ "max-requests", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct queue_response r = { .verdict = action == ACTION_REJECT ? QUEUE_REJECTED
								       : QUEUE_APPROVED };
	struct supervise_item item;
	char *edited = NULL;
	int c, ret;

	/* 0, not 1: a full restart after cmd_supervise()'s own parse, in
	 * musl and glibc alike (the second pass permutes, the first did not). */
	optind = 0;
	while ((c = getopt_long(argc, argv, "n:h", options, NULL)) != -1) {
		switch (c) {
		case 'n': r.note = optarg; break;
		case 'e':
			if (action == ACTION_REJECT ||
			    supervise_parse_duration(optarg, &r.bounds.expires_in) < 0) {
				fputs("bottle-host: supervise: --expires-in takes a duration "
				      "(90, 90s, 15m, 2h, 7d) and only on approval\n",
				      stderr);
				return EXIT_USAGE;
			}
			break;
		case 'm':
			if (action == ACTION_REJECT || supervise_parse_count(optarg, &r.bounds.max_requests) < 0) {
				fputs("bottle-host: supervise: --max-requests takes a positive count "
				      "and only on approval\n",
				      stderr);
				return EXIT_USAGE;
			}
			break;
		case 'h': fputs(supervise_usage, stdout); return EXIT_OK;
		default: fputs(supervise_usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(supervise_usage, stderr);
		return EXIT_USAGE;
	}
	ret = load_item(s, argv[optind], &item, true);
	if (ret != EXIT_OK)
		return ret;
	if (action == ACTION_EDIT) {
		ret = supervise_edit_routes(&item, &edited);
		if (ret != EXIT_OK)
			goto out;
		if (strcmp(edited, item.p.routes_yaml) != 0) {
			r.verdict = QUEUE_MODIFIED;
			r.routes_yaml = edited;
			supervise_diff(stdout, "proposed routes.yaml", item.p.routes_yaml,
				       "edited routes.yaml", edited, s->color);
		}
	}
	ret = supervise_decide(s, &item, &r);
out:
	free(edited);
	queue_proposal_release(&item.p);
	return ret;
}

/* Call fn for each bottle's queue directory under the root. */
static void each_bottle(const struct supervise *s,
			void (*fn)(const struct supervise *s, const char *bottle, void *ctx), void *ctx)
{
	struct dirent *e;
	DIR *d = opendir(s->root);

	if (!d)
		return;
	while ((e = readdir(d)))
		if (queue_bottle_valid(e->d_name))
			fn(s, e->d_name, ctx);
	closedir(d);
}

static void print_grant_end(const char *bottle, const struct queue_grant_end *e)
{
	printf("%-25s  %-12s  %-12s  %s  %llu requests\n", e->id, bottle,
	       queue_grant_end_reason_name(e->reason), e->ended, (unsigned long long)e->requests);
}

static void log_bottle_grant_ends(const struct supervise *s, const char *bottle, void *ctx)
{
	bool report = *(bool *)ctx;
	struct queue_grant_ends ends;
	char dir[PATH_MAX], err[768];
	size_t i, logged;

	supervise_queue_dir(s, bottle, dir);
	if (report && queue_grant_ends_list(dir, &ends, err, sizeof(err)) == 0) {
		for (i = 0; i < ends.n; i++) {
			if (ends.v[i].logged)
				continue;
			fputs("grant ended: ", stdout);
			print_grant_end(bottle, &ends.v[i]);
		}
		queue_grant_ends_release(&ends);
	}
	if (queue_grant_ends_log(dir, bottle, s->audit, &logged, err, sizeof(err)) < 0)
		print_err(err);
}

void supervise_log_grant_ends(const struct supervise *s, bool report)
{
	each_bottle(s, log_bottle_grant_ends, &report);
}

static void list_bottle_grant_ends(const struct supervise *s, const char *bottle, void *ctx)
{
	struct queue_grant_ends ends;
	char dir[PATH_MAX], err[768];
	size_t *shown = ctx, i;

	supervise_queue_dir(s, bottle, dir);
	if (queue_grant_ends_list(dir, &ends, err, sizeof(err)) < 0) {
		print_err(err);
		return;
	}
	for (i = 0; i < ends.nproblems; i++) {
		fputs("bottle-host: warning: skipped ", stderr);
		supervise_print_clean(stderr, ends.problems[i], false, "");
		fputc('\n', stderr);
	}
	for (i = 0; i < ends.n; i++) {
		if ((*shown)++ == 0)
			printf("\n%-25s  %-12s  %-12s  %-20s  %s\n", "ENDED GRANT", "BOTTLE",
			       "REASON", "ENDED", "USED");
		print_grant_end(bottle, &ends.v[i]);
	}
	queue_grant_ends_release(&ends);
}

static int subcommand_list(const struct supervise *s)
{
	struct supervise_items items;
	time_t now = time(NULL);
	size_t i, ended = 0;

	if (supervise_collect(s, &items, true) < 0)
		return EXIT_FAILURE_GENERIC;
	if (!items.n)
		puts("no pending proposals");
	else
		printf("%-25s  %-12s  %-18s  %5s  %s\n", "ID", "BOTTLE", "TOOL", "AGE",
		       "JUSTIFICATION");
	for (i = 0; i < items.n; i++)
		supervise_list_line(&items.v[i], now);
	supervise_items_release(&items);
	each_bottle(s, list_bottle_grant_ends, &ended);
	return EXIT_OK;
}

static int subcommand_show(const struct supervise *s, const char *id)
{
	struct supervise_item item;
	char dir[PATH_MAX], err[512];
	int ret = load_item(s, id, &item, false), state;

	if (ret != EXIT_OK)
		return ret;
	supervise_show(s, &item);
	supervise_queue_dir(s, item.bottle, dir);
	state = queue_status(dir, id, err, sizeof(err));
	if (state > 0 && state != QUEUE_PENDING)
		printf("\n  (%s)\n", queue_state_name((enum queue_state)state));
	queue_proposal_release(&item.p);
	return EXIT_OK;
}

static int subcommand_verify_log(const struct supervise *s, const char *path)
{
	char err[768];
	size_t entries;

	if (queue_audit_verify(path ? path : s->audit, &entries, err, sizeof(err)) < 0) {
		print_err(err);
		return EXIT_FAILURE_GENERIC;
	}
	printf("%s: %zu entries, chain intact\n", path ? path : s->audit, entries);
	return EXIT_OK;
}

int cmd_supervise(int argc, char **argv)
{
	static const struct option options[] = {
		{ "queue-root", required_argument, NULL, 'q' },
		{ "audit-log", required_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct supervise s = { 0 };
	char root[PATH_MAX];
	const char *audit = NULL, *command, *no_color = getenv("NO_COLOR");
	int c;

	/* '+': stop at the command, whose own options follow it. */
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'q': s.root = optarg; break;
		case 'a': audit = optarg; break;
		case 'h': fputs(supervise_usage, stdout); return EXIT_OK;
		default: fputs(supervise_usage, stderr); return EXIT_USAGE;
		}
	}
	if (!s.root) {
		const char *home = getenv("HOME");

		if (!home || !*home) {
			fputs("bottle-host: supervise: HOME is not set; give --queue-root\n", stderr);
			return EXIT_USAGE;
		}
		snprintf(root, sizeof(root), "%s/.bottle/queue", home);
		s.root = root;
	}
	if (audit)
		snprintf(s.audit, sizeof(s.audit), "%s", audit);
	else
		snprintf(s.audit, sizeof(s.audit), "%s/audit.log", s.root);
	s.color = isatty(STDOUT_FILENO) && !(no_color && *no_color);
	s.tty = isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);

	if (optind == argc) {
		if (!s.tty) {
			fputs("bottle-host: supervise: the interactive loop needs a terminal; "
			      "give a command\n",
			      stderr);
			return EXIT_USAGE;
		}
		supervise_log_grant_ends(&s, true);
		return supervise_interactive(&s);
	}
	command = argv[optind];
	argc -= optind;
	argv += optind;
	/* Grants egress ended go to the audit log whenever the operator looks
	 * (verify-log only reads). */
	if (strcmp(command, "verify-log") != 0)
		supervise_log_grant_ends(&s, false);
	if (strcmp(command, "list") == 0 && argc == 1)
		return subcommand_list(&s);
	if (strcmp(command, "show") == 0 && argc == 2)
		return subcommand_show(&s, argv[1]);
	if (strcmp(command, "approve") == 0)
		return subcommand_decide(&s, ACTION_APPROVE, argc, argv);
	if (strcmp(command, "edit") == 0)
		return subcommand_decide(&s, ACTION_EDIT, argc, argv);
	if (strcmp(command, "reject") == 0)
		return subcommand_decide(&s, ACTION_REJECT, argc, argv);
	if (strcmp(command, "watch") == 0 && argc == 1)
		return supervise_watch(&s);
	if (strcmp(command, "verify-log") == 0 && argc <= 2)
		return subcommand_verify_log(&s, argc == 2 ? argv[1] : NULL);
	fputs(supervise_usage, stderr);
	return EXIT_USAGE;
}

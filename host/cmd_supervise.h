/* bottle-host supervise: what its three files share (cmd_supervise.c the
 * commands, cmd_supervise_tty.c the watch and interactive loops,
 * cmd_supervise_diff.c the unified diff). */
#ifndef BOTTLE_CMD_SUPERVISE_H
#define BOTTLE_CMD_SUPERVISE_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "../shared/queue.h"

struct supervise {
	const char *root;       /* one queue directory per bottle under it */
	char audit[PATH_MAX];   /* the audit log */
	bool color;             /* stdout is a terminal and NO_COLOR is unset */
	bool tty;               /* stdin and stdout are terminals */
};

/* A pending proposal and the bottle whose directory holds it. */
struct supervise_item {
	char bottle[64];
	struct queue_proposal p;
};

struct supervise_items {
	struct supervise_item *v;
	size_t n;
};

/* A line-based unified diff of a against b with three lines of context,
 * coloured when color is set; nothing when they are equal.  Returns the
 * number of changed lines. */
size_t supervise_diff(FILE *out, const char *a_name, const char *a, const char *b_name,
		      const char *b, bool color);

/* Every unanswered proposal under the root, oldest first; problems (bad
 * files, a proposal naming another bottle) are printed as warnings when
 * warn is set.  0 or a negative errno. */
int supervise_collect(const struct supervise *s, struct supervise_items *items, bool warn);
void supervise_items_release(struct supervise_items *items);

/* The queue directory of a bottle. */
void supervise_queue_dir(const struct supervise *s, const char *bottle, char out[PATH_MAX]);

/* Print one proposal in full: header, then the routes diff against the
 * live file or the held secret's context. */
void supervise_show(const struct supervise *s, const struct supervise_item *item);
/* One table line of a pending proposal. */
void supervise_list_line(const struct supervise_item *item, time_t now);
/* Text from a queue file, made safe for a terminal: control bytes shown
 * as '?', newlines kept when multi_line (then each line indented). */
void supervise_print_clean(FILE *out, const char *text, bool multi_line, const char *indent);

/* Record a decision: respond in the bottle's queue, then append it to the
 * audit log.  Prints the outcome; returns an exit code. */
int supervise_decide(const struct supervise *s, const struct supervise_item *item,
		     struct queue_response *r);
/* Let the operator edit the proposed routes in $VISUAL/$EDITOR; *out is
 * the edited text (caller frees), checked with the routes loader.
 * Returns 0, or an exit code after printing why. */
int supervise_edit_routes(const struct supervise_item *item, char **out);
/* Parse "90", "90s", "15m", "2h", "7d" into seconds (> 0). */
int supervise_parse_duration(const char *text, uint64_t *seconds);
/* A positive decimal count. */
int supervise_parse_count(const char *text, uint64_t *out);
/* The operator's user name for a response. */
void supervise_who(char *out, size_t len);

/* Append a grant-ended entry to the audit log for each grant a bottle's
 * egress ended that is not logged yet; with report, print each. */
void supervise_log_grant_ends(const struct supervise *s, bool report);

int supervise_watch(const struct supervise *s);
int supervise_interactive(const struct supervise *s);

#endif

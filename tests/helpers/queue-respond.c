/* Test stand-in for the operator: answer supervise proposals through the
 * queue API (shared/queue.h), as `bottle-host supervise approve|reject`
 * does on the host.  Built by the Makefile with the other helpers; the
 * t31xx-supervise tests run it:
 *
 *   queue-respond DIR list                 pending ids, oldest first
 *   queue-respond DIR approve ID [NOTE]
 *   queue-respond DIR modify ID FILE       approve with FILE as the routes
 *   queue-respond DIR reject ID NOTE
 *   queue-respond DIR bounds ID SECS REQS  approve with tighter bounds
 *   queue-respond DIR status ID            pending|answered|processed|withdrawn
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/queue.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 20);
	size_t n;

	if (!f || !text) {
		fprintf(stderr, "queue-respond: cannot read %s\n", path);
		exit(1);
	}
	n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

int main(int argc, char **argv)
{
	struct queue_response r;
	struct queue_list list;
	char err[1024];
	const char *dir, *cmd;
	size_t i;
	int ret;

	if (argc < 3) {
		fprintf(stderr, "usage: queue-respond DIR list|approve|modify|reject|bounds|status ...\n");
		return 2;
	}
	dir = argv[1];
	cmd = argv[2];
	if (strcmp(cmd, "list") == 0) {
		if (queue_list_pending(dir, &list, err, sizeof(err)) < 0) {
			fprintf(stderr, "queue-respond: %s\n", err);
			return 1;
		}
		for (i = 0; i < list.n; i++)
			if (!list.items[i].answered)
				printf("%s\n", list.items[i].id);
		queue_list_release(&list);
		return 0;
	}
	if (argc < 4)
		return 2;
	if (strcmp(cmd, "status") == 0) {
		ret = queue_status(dir, argv[3], err, sizeof(err));
		if (ret < 0) {
			fprintf(stderr, "queue-respond: %s\n", err);
			return 1;
		}
		printf("%s\n", queue_state_name((enum queue_state)ret));
		return 0;
	}
	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "%s", argv[3]);
	r.who = "test-operator";
	if (strcmp(cmd, "approve") == 0) {
		r.verdict = QUEUE_APPROVED;
		r.note = argc > 4 ? argv[4] : NULL;
	} else if (strcmp(cmd, "modify") == 0 && argc > 4) {
		r.verdict = QUEUE_MODIFIED;
		r.routes_yaml = slurp(argv[4]);
		r.note = "narrowed";
	} else if (strcmp(cmd, "reject") == 0 && argc > 4) {
		r.verdict = QUEUE_REJECTED;
		r.note = argv[4];
	} else if (strcmp(cmd, "bounds") == 0 && argc > 5) {
		r.verdict = QUEUE_APPROVED;
		r.bounds.expires_in = strtoull(argv[4], NULL, 10);
		r.bounds.max_requests = strtoull(argv[5], NULL, 10);
	} else {
		fprintf(stderr, "queue-respond: bad command\n");
		return 2;
	}
	ret = queue_respond(dir, &r, err, sizeof(err));
	if (ret < 0) {
		fprintf(stderr, "queue-respond: %s\n", err);
		return 1;
	}
	return 0;
}

/* Bounded grants: egress's ledger of what each `grant:` route has let
 * through (docs/routes.md, "Grants").  routes_decide() asks it, through
 * struct routes_grants, whether a bounded route may still match and counts
 * the request it allows in the same step.
 *
 * Counts outlive a reload (the ledger is not part of a table) and a
 * restart (each grant's count is kept in <queue>/grants/<id>.count,
 * rewritten in place with every request; no fsync: a crash may forget the
 * last few, which only the operator's own bound could regret).  Without a
 * queue nothing can be kept, so bounded routes never match. */
#include "egress.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../shared/log.h"
#include "../../shared/queue.h"

/* "18446744073709551615\n" */
#define COUNT_TEXT_MAX 24

struct egress_grant {
	struct egress_grant *next;
	struct route_grant bounds;   /* as the newest table (or request) gave them */
	uint64_t used;
	int fd;                      /* grants/<id>.count; -1 once ended or unusable */
	enum route_grant_state state;
};

struct egress_grants {
	struct routes_grants ledger; /* what routes_decide() calls */
	pthread_mutex_t lock;        /* the list and every entry */
	const char *queue_dir;       /* NULL: every grant is unusable */
	struct egress_grant *head;
};

/* The count file's value: 0 when empty (just created). */
static int count_read(int fd, uint64_t *out)
{
	char text[COUNT_TEXT_MAX + 1], *end;
	unsigned long long n;
	ssize_t len;

	len = pread(fd, text, sizeof(text) - 1, 0);
	if (len < 0)
		return -errno;
	text[len] = '\0';
	if (len == 0) {
		*out = 0;
		return 0;
	}
	if (text[0] < '0' || text[0] > '9')
		return -EBADMSG;
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || (*end != '\n' && *end != '\0'))
		return -EBADMSG;
	*out = n;
	return 0;
}

/* Counts only grow, so the new text is never shorter than the old one. */
static int count_write(int fd, uint64_t n)
{
	char text[COUNT_TEXT_MAX];
	int len = snprintf(text, sizeof(text), "%llu\n", (unsigned long long)n);

	return pwrite(fd, text, (size_t)len, 0) == len ? 0 : -EIO;
}

static void grant_end(struct egress_grants *g, struct egress_grant *e,
		      enum route_grant_state state)
{
	struct queue_grant_end end = {
		.reason = state == ROUTE_GRANT_EXPIRED ? QUEUE_GRANT_EXPIRED
						       : QUEUE_GRANT_MAX_REQUESTS,
		.requests = e->used,
	};
	char err[512];
	int ret;

	e->state = state;
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	snprintf(end.id, sizeof(end.id), "%s", e->bounds.id);
	queue_format_time(time(NULL), end.ended);
	log_info("grant %s ended: %s after %llu requests; its routes no longer match",
		 e->bounds.id, queue_grant_end_reason_name(end.reason),
		 (unsigned long long)e->used);
	/* Once per grant: a restart that finds it ended finds the record too. */
	ret = queue_grant_end_write(g->queue_dir, &end, err, sizeof(err));
	if (ret < 0 && ret != -EEXIST)
		log_warn("grant %s: cannot record its end: %s", e->bounds.id, err);
}

/* End an active grant whose bound ran out by now. */
static void grant_check(struct egress_grants *g, struct egress_grant *e, time_t now)
{
	if (e->state != ROUTE_GRANT_ACTIVE)
		return;
	if (e->bounds.expires_at && now >= e->bounds.expires_at)
		grant_end(g, e, ROUTE_GRANT_EXPIRED);
	else if (e->bounds.max_requests && e->used >= e->bounds.max_requests)
		grant_end(g, e, ROUTE_GRANT_USED_UP);
}

/* Open (creating) the grant's count file and read it. */
static void grant_open(struct egress_grants *g, struct egress_grant *e)
{
	char path[PATH_MAX];
	int ret;

	if (!g->queue_dir) {
		e->state = ROUTE_GRANT_UNUSABLE;
		log_error("grant %s: egress runs without --queue, so it cannot count the "
			  "grant's requests: its routes never match",
			  e->bounds.id);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", g->queue_dir, QUEUE_GRANTS_DIR);
	if (mkdir(path, 0750) < 0 && errno != EEXIST) {
		ret = -errno;
		goto fail;
	}
	if (snprintf(path, sizeof(path), "%s/%s/%s.count", g->queue_dir, QUEUE_GRANTS_DIR,
		     e->bounds.id) >= (int)sizeof(path)) {
		ret = -ENAMETOOLONG;
		goto fail;
	}
	e->fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (e->fd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = count_read(e->fd, &e->used);
	if (ret < 0)
		goto fail;
	e->state = ROUTE_GRANT_ACTIVE;
	/* Ended before this process started: it stays ended, even if its
	 * bounds were edited since (a new approval makes a new grant). */
	snprintf(path, sizeof(path), "%s/%s/%s.ended.json", g->queue_dir, QUEUE_GRANTS_DIR,
		 e->bounds.id);
	if (access(path, F_OK) == 0) {
		e->state = e->bounds.expires_at && time(NULL) >= e->bounds.expires_at
				   ? ROUTE_GRANT_EXPIRED
				   : ROUTE_GRANT_USED_UP;
		close(e->fd);
		e->fd = -1;
		return;
	}
	grant_check(g, e, time(NULL));
	return;
fail:
	if (e->fd >= 0)
		close(e->fd);
	e->fd = -1;
	e->state = ROUTE_GRANT_UNUSABLE;
	log_error("grant %s: cannot keep its count in %s/%s: %s: its routes never match",
		  e->bounds.id, g->queue_dir, QUEUE_GRANTS_DIR,
		  ret == -EBADMSG ? "the count file holds no count" : strerror(-ret));
}

/* The entry for grant, made (and its count read) on first sight; NULL
 * when out of memory.  Under the lock. */
static struct egress_grant *grant_get(struct egress_grants *g, const struct route_grant *grant)
{
	struct egress_grant *e;

	for (e = g->head; e; e = e->next) {
		if (strcmp(e->bounds.id, grant->id) == 0) {
			/* The operator may have edited the bounds: the newest count. */
			e->bounds = *grant;
			return e;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->bounds = *grant;
	e->fd = -1;
	grant_open(g, e);
	e->next = g->head;
	g->head = e;
	return e;
}

static int ledger_use(struct routes_grants *self, const struct route_grant *grant, bool take,
		      struct route_grant_status *status)
{
	struct egress_grants *g = (struct egress_grants *)self;
	struct egress_grant *e;
	int ret = -ENOMEM;

	pthread_mutex_lock(&g->lock);
	e = grant_get(g, grant);
	if (!e)
		goto out;
	grant_check(g, e, time(NULL));
	*status = (struct route_grant_status){ .state = e->state, .used = e->used };
	ret = 0;
	if (!take || e->state != ROUTE_GRANT_ACTIVE)
		goto out;
	if (count_write(e->fd, e->used + 1) < 0) {
		log_error("grant %s: cannot write its count: %s: its routes no longer match",
			  e->bounds.id, strerror(errno));
		close(e->fd);
		e->fd = -1;
		e->state = status->state = ROUTE_GRANT_UNUSABLE;
		goto out;
	}
	status->used = ++e->used;
	/* This request had the last one: the grant ends with it. */
	grant_check(g, e, time(NULL));
out:
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int egress_grants_create(const char *queue_dir, struct egress_grants **out)
{
	struct egress_grants *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->ledger.use = ledger_use;
	g->queue_dir = queue_dir;
	pthread_mutex_init(&g->lock, NULL);
	*out = g;
	return 0;
}

void egress_grants_free(struct egress_grants *g)
{
	struct egress_grant *e, *next;

	if (!g)
		return;
	for (e = g->head; e; e = next) {
		next = e->next;
		if (e->fd >= 0)
			close(e->fd);
		free(e);
	}
	pthread_mutex_destroy(&g->lock);
	free(g);
}

struct routes_grants *egress_grants_ledger(struct egress_grants *g)
{
	return g ? &g->ledger : NULL;
}

void egress_grants_sync(struct egress_grants *g, const struct routes *r)
{
	struct egress_grant *e;
	size_t i;

	pthread_mutex_lock(&g->lock);
	for (i = 0; i < r->n; i++) {
		if (!r->v[i].grant)
			continue;
		e = grant_get(g, r->v[i].grant);
		/* A reload is the operator's way to retry a count that failed. */
		if (e && e->state == ROUTE_GRANT_UNUSABLE && g->queue_dir)
			grant_open(g, e);
	}
	pthread_mutex_unlock(&g->lock);
}

void egress_grants_tick(struct egress_grants *g)
{
	struct egress_grant *e;
	time_t now = time(NULL);

	pthread_mutex_lock(&g->lock);
	for (e = g->head; e; e = e->next)
		grant_check(g, e, now);
	pthread_mutex_unlock(&g->lock);
}

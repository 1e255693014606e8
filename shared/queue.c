/* The queue directory: atomic files, state changes under one lock, and
 * the listing an operator reads (queue.h, docs/supervise-queue.md). */
#include "log.h"
#include "queue.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

/* A runaway writer could fill pending/; past this many files the rest are
 * reported, not read. */
#define QUEUE_LIST_MAX 10000


/* dir/sub/name into path; -ENAMETOOLONG rather than a truncated path. */
static int join(char path[PATH_MAX], const char *dir, const char *sub, const char *name,
		char *err, size_t errlen)
{
	int n = snprintf(path, PATH_MAX, "%s/%s%s%s", dir, sub, *name ? "/" : "", name);

	if (n < 0 || n >= PATH_MAX) {
		error_format(err, errlen, "queue: path under '%s' is too long", dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

static int check_id(const char *id, char *err, size_t errlen)
{
	if (queue_id_valid(id))
		return 0;
	/* The id may be anything a client sent: do not echo it. */
	error_format(err, errlen, "queue: not a proposal id (letters, digits and '-' only)");
	return -EINVAL;
}

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* The whole of a regular file, at most QUEUE_FILE_MAX bytes; symlinks are
 * refused so a queue file cannot point the reader elsewhere. */
int queue_read_file(const char *path, struct buf *out, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret;

	buf_init(out, QUEUE_FILE_MAX);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		error_format(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	ret = -EINVAL;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		error_format(err, errlen, "%s: not a regular file", path);
		goto out;
	}
	if (st.st_size > QUEUE_FILE_MAX) {
		ret = -EFBIG;
		error_format(err, errlen, "%s: larger than %d bytes", path, QUEUE_FILE_MAX);
		goto out;
	}
	ret = buf_read_fd(out, fd);
	if (ret == -EMSGSIZE || ret == -ENOMEM) {
		ret = -EFBIG;
		error_format(err, errlen, "%s: larger than %d bytes", path, QUEUE_FILE_MAX);
		goto out;
	}
	if (ret < 0) {
		error_format(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	if (ret < 0)
		buf_release(out);
	return ret;
}

static int sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int queue_write_atomic(const char *dir, const char *name, const void *data, size_t len,
		       bool exclusive, char *err, size_t errlen)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	const char *p = data;
	int fd = -1, ret;

	ret = join(path, dir, name, "", err, errlen);
	if (ret < 0)
		return ret;
	if (snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, name) >= (int)sizeof(tmp)) {
		error_format(err, errlen, "queue: path under '%s' is too long", dir);
		return -ENAMETOOLONG;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		error_format(err, errlen, "queue: unable to create a file in '%s': %s", dir,
			strerror(errno));
		return ret;
	}
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		p += n;
		len -= (size_t)n;
	}
	/* The other side runs as another user (the operator on the host, the
	 * bundle's sidecar user inside); nothing in a queue file is secret
	 * (previews and hashes only), and the queue folder's own mode decides
	 * who may look in. */
	if (fchmod(fd, 0644) < 0 || fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (exclusive ? link(tmp, path) < 0 : rename(tmp, path) < 0)
		goto fail;
	if (exclusive)
		unlink(tmp);
	ret = sync_dir(dir);
	if (ret < 0)
		error_format(err, errlen, "queue: unable to sync '%s': %s", dir, strerror(-ret));
	return ret;
fail:
	ret = -errno;
	error_format(err, errlen, "queue: unable to write '%s': %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return ret;
}

/* Serialises respond, withdraw and archive across threads (each call
 * opens its own description) and processes on both sides. */
static int lock_queue(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX];
	int fd, ret;

	ret = join(path, dir, ".lock", "", err, errlen);
	if (ret < 0)
		return ret;
	/* flock needs no write access: whichever side creates it, both can lock. */
	fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		ret = -errno;
		error_format(err, errlen, "queue: unable to open '%s': %s", path, strerror(errno));
		return ret;
	}
	while (flock(fd, LOCK_EX) < 0) {
		if (errno == EINTR)
			continue;
		ret = -errno;
		error_format(err, errlen, "queue: unable to lock '%s': %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	return fd;
}

static int rename_synced(const char *from, const char *to, const char *dir, char *err,
			 size_t errlen)
{
	char sub[PATH_MAX];
	int ret;

	if (rename(from, to) < 0) {
		ret = -errno;
		error_format(err, errlen, "queue: unable to move '%s' to '%s': %s", from, to,
			strerror(errno));
		return ret;
	}
	if (join(sub, dir, "processed", "", err, errlen) == 0)
		sync_dir(sub);
	if (join(sub, dir, "pending", "", err, errlen) == 0)
		sync_dir(sub);
	return 0;
}

int queue_prepare(const char *dir, char *err, size_t errlen)
{
	static const char *const subs[] = { "", "pending", "responses", "processed" };
	char path[PATH_MAX];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		ret = *subs[i] ? join(path, dir, subs[i], "", err, errlen)
			       : (snprintf(path, sizeof(path), "%s", dir) < PATH_MAX ? 0
										    : -ENAMETOOLONG);
		if (ret < 0)
			return ret;
		if (mkdir(path, 0750) < 0 && errno != EEXIST) {
			ret = -errno;
			error_format(err, errlen, "queue: unable to create '%s': %s", path,
				strerror(errno));
			return ret;
		}
	}
	return 0;
}

static int new_id(char id[QUEUE_ID_MAX], time_t now)
{
	unsigned char random[4];
	struct tm tm;

	if (getrandom(random, sizeof(random), 0) != sizeof(random))
		return -EIO;
	if (!gmtime_r(&now, &tm))
		return -EINVAL;
	strftime(id, QUEUE_ID_MAX, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(id + 16, QUEUE_ID_MAX - 16, "-%02x%02x%02x%02x", random[0], random[1],
		 random[2], random[3]);
	return 0;
}

int queue_submit(const char *dir, struct queue_proposal *p, char *err, size_t errlen)
{
	char pending[PATH_MAX], name[QUEUE_ID_MAX + 8];
	time_t now = time(NULL);
	char *text = NULL;
	size_t len;
	int ret, tries;

	p->id[0] = '\0';
	ret = queue_proposal_check(p, err, errlen);
	if (ret < 0)
		return ret;
	ret = join(pending, dir, "pending", "", err, errlen);
	if (ret < 0)
		return ret;
	queue_format_time(now, p->created);
	p->created_at = now;
	/* 32 random bits per second: a clash is rare, and exclusive
	 * creation turns it into another try rather than an overwrite. */
	for (tries = 0; tries < 8; tries++) {
		ret = new_id(p->id, now);
		if (ret < 0) {
			error_format(err, errlen, "queue: no randomness for an id");
			goto out;
		}
		free(text);
		ret = queue_proposal_encode(p, &text, &len);
		if (ret < 0) {
			text = NULL;
			error_format(err, errlen, "queue: out of memory");
			goto out;
		}
		snprintf(name, sizeof(name), "%s.json", p->id);
		ret = queue_write_atomic(pending, name, text, len, true, err, errlen);
		if (ret != -EEXIST)
			break;
	}
out:
	free(text);
	if (ret < 0)
		p->id[0] = '\0';
	return ret;
}

static int read_proposal_at(const char *path, struct queue_proposal *out, char *err,
			    size_t errlen)
{
	struct buf text;
	int ret;

	ret = queue_read_file(path, &text, err, errlen);
	if (ret < 0)
		return ret;
	ret = queue_proposal_parse(path, text.p, text.len, out, err, errlen);
	buf_release(&text);
	return ret;
}

static int read_response_at(const char *path, struct queue_response *out, char *err,
			    size_t errlen)
{
	struct buf text;
	int ret;

	ret = queue_read_file(path, &text, err, errlen);
	if (ret < 0)
		return ret;
	ret = queue_response_parse(path, text.p, text.len, out, err, errlen);
	buf_release(&text);
	return ret;
}

/* The paths a proposal may have; all are built once per call. */
struct paths {
	char pending[PATH_MAX], response[PATH_MAX];
	char processed[PATH_MAX], processed_response[PATH_MAX], withdrawn[PATH_MAX];
};

static int paths_for(struct paths *ps, const char *dir, const char *id, char *err,
		     size_t errlen)
{
	char name[QUEUE_ID_MAX + 32];
	int ret = check_id(id, err, errlen);

	if (ret < 0)
		return ret;
	snprintf(name, sizeof(name), "%s.json", id);
	if ((ret = join(ps->pending, dir, "pending", name, err, errlen)) < 0 ||
	    (ret = join(ps->response, dir, "responses", name, err, errlen)) < 0 ||
	    (ret = join(ps->processed, dir, "processed", name, err, errlen)) < 0)
		return ret;
	snprintf(name, sizeof(name), "%s.response.json", id);
	if ((ret = join(ps->processed_response, dir, "processed", name, err, errlen)) < 0)
		return ret;
	snprintf(name, sizeof(name), "%s.withdrawn.json", id);
	return join(ps->withdrawn, dir, "processed", name, err, errlen);
}

static int state_of(const struct paths *ps, const char *id, char *err, size_t errlen)
{
	if (exists(ps->pending))
		return exists(ps->response) ? QUEUE_ANSWERED : QUEUE_PENDING;
	if (exists(ps->withdrawn))
		return QUEUE_WITHDRAWN;
	if (exists(ps->processed))
		return QUEUE_PROCESSED;
	error_format(err, errlen, "queue: no proposal %s", id);
	return -ENOENT;
}

int queue_status(const char *dir, const char *id, char *err, size_t errlen)
{
	struct paths ps;
	int ret = paths_for(&ps, dir, id, err, errlen);

	return ret < 0 ? ret : state_of(&ps, id, err, errlen);
}

int queue_read_proposal(const char *dir, const char *id, struct queue_proposal *out,
			char *err, size_t errlen)
{
	struct paths ps;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = paths_for(&ps, dir, id, err, errlen);
	if (ret < 0)
		return ret;
	ret = read_proposal_at(ps.pending, out, err, errlen);
	if (ret == 0)
		out->answered = exists(ps.response);
	if (ret == -ENOENT)
		ret = read_proposal_at(ps.processed, out, err, errlen);
	if (ret == -ENOENT)
		ret = read_proposal_at(ps.withdrawn, out, err, errlen);
	if (ret == -ENOENT)
		error_format(err, errlen, "queue: no proposal %s", id);
	return ret;
}

static int compare_proposals(const void *a, const void *b)
{
	const struct queue_proposal *x = a, *y = b;

	if (x->created_at != y->created_at)
		return x->created_at < y->created_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int add_problem(struct queue_list *list, const char *message)
{
	char **grown = realloc(list->problems, (list->nproblems + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	list->problems = grown;
	grown[list->nproblems] = strdup(message);
	if (!grown[list->nproblems])
		return -ENOMEM;
	list->nproblems++;
	return 0;
}

static bool is_proposal_name(const char *name)
{
	size_t len = strlen(name);
	char id[QUEUE_ID_MAX];

	if (len <= 5 || len - 5 >= QUEUE_ID_MAX || strcmp(name + len - 5, ".json") != 0)
		return false;
	memcpy(id, name, len - 5);
	id[len - 5] = '\0';
	return queue_id_valid(id);
}

/* Where a listed proposal's answer would be: responses/<id>.json for a
 * pending one, processed/<id>.response.json for an archived one. */
static int answer_path(char path[PATH_MAX], const char *dir, bool archived, const char *name,
		       char *err, size_t errlen)
{
	char response[QUEUE_ID_MAX + 16];
	size_t id_len = strlen(name) - 5; /* is_proposal_name(): "<id>.json" */

	if (!archived)
		return join(path, dir, "responses", name, err, errlen);
	snprintf(response, sizeof(response), "%.*s.response.json", (int)id_len, name);
	return join(path, dir, "processed", response, err, errlen);
}

/* Every proposal file in dir/sub: pending/ or processed/ (whose
 * <id>.response.json and <id>.withdrawn.json are not proposal names). */
static int list_proposals(const char *dir, bool archived, struct queue_list *list, char *err,
			  size_t errlen)
{
	char pending[PATH_MAX], path[PATH_MAX], problem[PATH_MAX + 768], response[PATH_MAX];
	size_t cap = 0;
	struct dirent *e;
	DIR *d;
	int ret;

	memset(list, 0, sizeof(*list));
	ret = join(pending, dir, archived ? "processed" : "pending", "", err, errlen);
	if (ret < 0)
		return ret;
	d = opendir(pending);
	if (!d) {
		ret = -errno;
		error_format(err, errlen, "queue: unable to read '%s': %s", pending, strerror(errno));
		return ret;
	}
	while ((e = readdir(d))) {
		struct queue_proposal p;

		/* Dot files are temporaries on their way in. */
		if (e->d_name[0] == '.')
			continue;
		if (archived && !is_proposal_name(e->d_name))
			continue; /* an answer or a withdrawn proposal */
		if (!is_proposal_name(e->d_name)) {
			snprintf(problem, sizeof(problem), "%s/%.200s: not a proposal file name",
				 pending, e->d_name);
			goto report;
		}
		if (list->n >= QUEUE_LIST_MAX) {
			snprintf(problem, sizeof(problem), "%s/%.200s: more than %d proposals, skipped",
				 pending, e->d_name, QUEUE_LIST_MAX);
			goto report;
		}
		if (join(path, pending, e->d_name, "", problem, sizeof(problem)) < 0)
			goto report;
		ret = read_proposal_at(path, &p, problem, sizeof(problem));
		if (ret == -ENOENT)
			continue; /* archived or withdrawn while we looked */
		if (ret < 0)
			goto report;
		if (list->n == cap) {
			size_t grown_cap = cap ? cap * 2 : 16;
			struct queue_proposal *grown =
				realloc(list->items, grown_cap * sizeof(*grown));

			if (!grown) {
				queue_proposal_release(&p);
				ret = -ENOMEM;
				error_format(err, errlen, "queue: out of memory");
				goto fail;
			}
			list->items = grown;
			cap = grown_cap;
		}
		if (answer_path(response, dir, archived, e->d_name, problem, sizeof(problem)) == 0)
			p.answered = exists(response);
		list->items[list->n++] = p;
		continue;
report:
		if (add_problem(list, problem) < 0) {
			ret = -ENOMEM;
			error_format(err, errlen, "queue: out of memory");
			goto fail;
		}
	}
	closedir(d);
	if (list->n)
		qsort(list->items, list->n, sizeof(*list->items), compare_proposals);
	return 0;
fail:
	closedir(d);
	queue_list_release(list);
	return ret;
}

int queue_list_pending(const char *dir, struct queue_list *list, char *err, size_t errlen)
{
	return list_proposals(dir, false, list, err, errlen);
}

int queue_list_processed(const char *dir, struct queue_list *list, char *err, size_t errlen)
{
	return list_proposals(dir, true, list, err, errlen);
}

void queue_list_release(struct queue_list *list)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		queue_proposal_release(&list->items[i]);
	for (i = 0; i < list->nproblems; i++)
		free(list->problems[i]);
	free(list->items);
	free(list->problems);
	memset(list, 0, sizeof(*list));
}

/* Fit r to p: what a decision must carry, and bounds that only tighten. */
static int check_response(const struct queue_proposal *p, struct queue_response *r, char *err,
			  size_t errlen)
{
	bool needs_reason = r->verdict == QUEUE_REJECTED || p->kind == QUEUE_EGRESS_TOKEN_ALLOW ||
			    p->kind == QUEUE_GITLEAKS_ALLOW;
	bool egress_file = p->kind == QUEUE_EGRESS_ALLOW || p->kind == QUEUE_EGRESS_BLOCK;
	const uint64_t proposed[2] = { p->bounds.expires_in, p->bounds.max_requests };
	uint64_t *decided[2] = { &r->bounds.expires_in, &r->bounds.max_requests };
	size_t i;

	if ((unsigned)r->verdict > QUEUE_REJECTED) {
		error_format(err, errlen, "queue: %s: unknown verdict", p->id);
		return -EINVAL;
	}
	if (!r->who || !*r->who || strlen(r->who) > 64 || strpbrk(r->who, "\n\r\t")) {
		error_format(err, errlen, "queue: %s: a decision names who made it (64 bytes at most)",
			p->id);
		return -EINVAL;
	}
	if (needs_reason && (!r->note || !r->note[strspn(r->note, " \t\n")])) {
		error_format(err, errlen, "queue: %s: %s needs a note giving the reason", p->id,
			r->verdict == QUEUE_REJECTED ? "a rejection" : queue_kind_name(p->kind));
		return -EINVAL;
	}
	if (r->note && strlen(r->note) > QUEUE_TEXT_MAX) {
		error_format(err, errlen, "queue: %s: the note is longer than %d bytes", p->id,
			QUEUE_TEXT_MAX);
		return -EINVAL;
	}
	if (r->verdict == QUEUE_MODIFIED ? !egress_file || !r->routes_yaml : r->routes_yaml != NULL) {
		error_format(err, errlen, "queue: %s: %s", p->id,
			r->verdict == QUEUE_MODIFIED
				? "only a routes proposal can be modified, and with a routes file"
				: "a routes file comes only with a modified verdict");
		return -EINVAL;
	}
	if (r->routes_yaml && strlen(r->routes_yaml) > QUEUE_FILE_MAX / 2) {
		error_format(err, errlen, "queue: %s: the routes file is larger than %d bytes", p->id,
			QUEUE_FILE_MAX / 2);
		return -EINVAL;
	}
	if (r->verdict == QUEUE_REJECTED) {
		r->bounds = (struct queue_bounds){ 0, 0 };
		return 0;
	}
	if ((r->bounds.expires_in || r->bounds.max_requests) &&
	    p->kind != QUEUE_EGRESS_ALLOW && p->kind != QUEUE_EGRESS_BLOCK &&
	    p->kind != QUEUE_EGRESS_TOKEN_ALLOW) {
		error_format(err, errlen, "queue: %s: %s takes no bounds", p->id,
			queue_kind_name(p->kind));
		return -EINVAL;
	}
	for (i = 0; i < 2; i++) {
		if (!*decided[i])
			*decided[i] = proposed[i];
		else if (proposed[i] && *decided[i] > proposed[i]) {
			error_format(err, errlen, "queue: %s: %s may only tighten the proposed %llu",
				p->id, i == 0 ? "expires_in" : "max_requests",
				(unsigned long long)proposed[i]);
			return -EINVAL;
		}
	}
	return 0;
}

int queue_respond(const char *dir, struct queue_response *r, char *err, size_t errlen)
{
	struct queue_proposal p = { 0 };
	char responses[PATH_MAX], name[QUEUE_ID_MAX + 8];
	struct paths ps;
	char *text = NULL;
	size_t len;
	int lock = -1, ret;

	ret = paths_for(&ps, dir, r->id, err, errlen);
	if (ret < 0)
		return ret;
	ret = join(responses, dir, "responses", "", err, errlen);
	if (ret < 0)
		return ret;
	lock = lock_queue(dir, err, errlen);
	if (lock < 0)
		return lock;
	ret = state_of(&ps, r->id, err, errlen);
	if (ret < 0)
		goto out;
	if (ret != QUEUE_PENDING) {
		error_format(err, errlen, "queue: proposal %s is %s", r->id,
			ret == QUEUE_ANSWERED ? "already answered"
			: ret == QUEUE_WITHDRAWN ? "withdrawn: its caller stopped waiting"
						 : "already processed");
		ret = ret == QUEUE_ANSWERED ? -EEXIST : -ENOENT;
		goto out;
	}
	ret = read_proposal_at(ps.pending, &p, err, errlen);
	if (ret < 0)
		goto out;
	ret = check_response(&p, r, err, errlen);
	if (ret < 0)
		goto out;
	queue_format_time(time(NULL), r->decided);
	ret = queue_response_encode(r, &text, &len);
	if (ret < 0) {
		text = NULL;
		error_format(err, errlen, "queue: out of memory");
		goto out;
	}
	snprintf(name, sizeof(name), "%s.json", r->id);
	ret = queue_write_atomic(responses, name, text, len, true, err, errlen);
	if (ret == -EEXIST)
		error_format(err, errlen, "queue: proposal %s is already answered", r->id);
out:
	free(text);
	queue_proposal_release(&p);
	close(lock);
	return ret;
}

int queue_read_response(const char *dir, const char *id, struct queue_response *out,
			char *err, size_t errlen)
{
	struct paths ps;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = paths_for(&ps, dir, id, err, errlen);
	if (ret < 0)
		return ret;
	ret = read_response_at(ps.response, out, err, errlen);
	if (ret == -ENOENT)
		ret = read_response_at(ps.processed_response, out, err, errlen);
	if (ret == -ENOENT)
		error_format(err, errlen, "queue: proposal %s has no answer", id);
	return ret;
}

int queue_poll_response(const char *dir, const char *id, struct queue_response *out,
			char *err, size_t errlen)
{
	int ret = queue_read_response(dir, id, out, err, errlen);

	if (ret == 0)
		return 1;
	if (ret != -ENOENT)
		return ret;
	ret = queue_status(dir, id, err, errlen);
	if (ret == QUEUE_PENDING)
		return 0;
	if (ret > 0) {
		error_format(err, errlen, "queue: proposal %s is %s", id,
			queue_state_name((enum queue_state)ret));
		ret = -ENOENT;
	}
	return ret;
}

int queue_archive(const char *dir, const char *id, char *err, size_t errlen)
{
	struct paths ps;
	int lock, ret;

	ret = paths_for(&ps, dir, id, err, errlen);
	if (ret < 0)
		return ret;
	lock = lock_queue(dir, err, errlen);
	if (lock < 0)
		return lock;
	ret = state_of(&ps, id, err, errlen);
	if (ret == QUEUE_PENDING) {
		error_format(err, errlen, "queue: proposal %s is not answered yet", id);
		ret = -EAGAIN;
	} else if (ret > 0 && ret != QUEUE_ANSWERED) {
		error_format(err, errlen, "queue: proposal %s is %s", id,
			queue_state_name((enum queue_state)ret));
		ret = -ENOENT;
	} else if (ret > 0) {
		/* Proposal first: were we to stop between the two, the answer
		 * is still where queue_read_response() looks. */
		ret = rename_synced(ps.pending, ps.processed, dir, err, errlen);
		if (ret == 0)
			ret = rename_synced(ps.response, ps.processed_response, dir, err, errlen);
	}
	close(lock);
	return ret;
}

int queue_withdraw(const char *dir, const char *id, char *err, size_t errlen)
{
	struct paths ps;
	int lock, ret;

	ret = paths_for(&ps, dir, id, err, errlen);
	if (ret < 0)
		return ret;
	lock = lock_queue(dir, err, errlen);
	if (lock < 0)
		return lock;
	ret = state_of(&ps, id, err, errlen);
	if (ret == QUEUE_ANSWERED) {
		error_format(err, errlen, "queue: proposal %s was answered before it was withdrawn", id);
		ret = -EALREADY;
	} else if (ret > 0 && ret != QUEUE_PENDING) {
		error_format(err, errlen, "queue: proposal %s is %s", id,
			queue_state_name((enum queue_state)ret));
		ret = -ENOENT;
	} else if (ret > 0) {
		ret = rename_synced(ps.pending, ps.withdrawn, dir, err, errlen);
	}
	close(lock);
	return ret;
}

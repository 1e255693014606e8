/* The ends of bounded grants in a bottle's queue (queue.h, "grants";
 * docs/supervise-queue.md): egress writes one record when a grant ends,
 * the operator's CLI reads them, logs each once in the audit log and
 * marks it logged.  Records come from the bundle, so reading is strict. */
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
#include <sys/stat.h>
#include <unistd.h>

#include <yyjson.h>

#include "buf.h"

/* A runaway writer could fill grants/; past this many records the rest
 * are reported, not read. */
#define GRANT_ENDS_MAX 10000
#define ENDED_SUFFIX ".ended.json"
#define LOGGED_SUFFIX ".logged"

const char *queue_grant_end_reason_name(enum queue_grant_end_reason reason)
{
	return reason == QUEUE_GRANT_EXPIRED ? "expired" : "max_requests";
}

static int grants_dir(const char *dir, char out[PATH_MAX], char *err, size_t errlen)
{
	if (snprintf(out, PATH_MAX, "%s/%s", dir, QUEUE_GRANTS_DIR) >= PATH_MAX) {
		error_format(err, errlen, "queue: path under '%s' is too long", dir);
		return -ENAMETOOLONG;
	}
	return 0;
}

int queue_grant_end_write(const char *dir, const struct queue_grant_end *e, char *err,
			  size_t errlen)
{
	char gdir[PATH_MAX], name[QUEUE_ID_MAX + sizeof(ENDED_SUFFIX)];
	char *text = NULL;
	int ret, len;

	if (!queue_id_valid(e->id)) {
		error_format(err, errlen, "queue: not a grant id");
		return -EINVAL;
	}
	ret = grants_dir(dir, gdir, err, errlen);
	if (ret < 0)
		return ret;
	if (mkdir(gdir, 0750) < 0 && errno != EEXIST) {
		ret = -errno;
		error_format(err, errlen, "queue: unable to create '%s': %s", gdir, strerror(errno));
		return ret;
	}
	len = asprintf(&text, "{\n  \"id\": \"%s\",\n  \"reason\": \"%s\",\n  \"ended\": \"%s\",\n"
			      "  \"requests\": %llu\n}\n",
		       e->id, queue_grant_end_reason_name(e->reason), e->ended,
		       (unsigned long long)e->requests);
	if (len < 0) {
		error_format(err, errlen, "queue: out of memory");
		return -ENOMEM;
	}
	snprintf(name, sizeof(name), "%s%s", e->id, ENDED_SUFFIX);
	ret = queue_write_atomic(gdir, name, text, (size_t)len, true, err, errlen);
	free(text);
	return ret;
}

int queue_grant_end_parse(const char *name, const char *text, size_t len,
			  struct queue_grant_end *out, char *err, size_t errlen)
{
	static const char *const keys[] = { "id", "reason", "ended", "requests" };
	yyjson_doc *doc = yyjson_read(text, len, 0);
	yyjson_val *root = yyjson_doc_get_root(doc), *key, *v;
	yyjson_obj_iter iter;
	const char *s, *base = strrchr(name, '/');
	unsigned seen = 0;
	size_t i, idlen;
	int ret = -EBADMSG;

	memset(out, 0, sizeof(*out));
	base = base ? base + 1 : name;
	if (!yyjson_is_obj(root)) {
		error_format(err, errlen, "%s: not a JSON object", name);
		goto out;
	}
	yyjson_obj_iter_init(root, &iter);
	while ((key = yyjson_obj_iter_next(&iter))) {
		for (i = 0; i < 4; i++)
			/* By length: "id\u0000" is not "id" (else the key
			 * counts as seen and the lookup by name finds nothing). */
			if (yyjson_equals_str(key, keys[i]))
				break;
		if (i == 4 || (seen & (1u << i))) {
			error_format(err, errlen, "%s: unknown or repeated key", name);
			goto out;
		}
		seen |= 1u << i;
		v = yyjson_obj_iter_get_val(key);
		if (i == 3 ? !yyjson_is_uint(v) : !yyjson_is_str(v)) {
			error_format(err, errlen, "%s: '%s' has the wrong type", name, keys[i]);
			goto out;
		}
	}
	if (seen != 0xf) {
		error_format(err, errlen, "%s: a key is missing", name);
		goto out;
	}
	s = yyjson_get_str(yyjson_obj_get(root, "id"));
	idlen = strlen(s);
	/* The file is named after its grant: <id>.ended.json. */
	if (!queue_id_valid(s) || strncmp(base, s, idlen) != 0 ||
	    strcmp(base + idlen, ENDED_SUFFIX) != 0) {
		error_format(err, errlen, "%s: its id does not name the file", name);
		goto out;
	}
	snprintf(out->id, sizeof(out->id), "%s", s);
	s = yyjson_get_str(yyjson_obj_get(root, "reason"));
	if (strcmp(s, "expired") == 0)
		out->reason = QUEUE_GRANT_EXPIRED;
	else if (strcmp(s, "max_requests") == 0)
		out->reason = QUEUE_GRANT_MAX_REQUESTS;
	else {
		error_format(err, errlen, "%s: reason is not expired or max_requests", name);
		goto out;
	}
	s = yyjson_get_str(yyjson_obj_get(root, "ended"));
	if (queue_parse_time(s, &out->ended_at) < 0) {
		error_format(err, errlen, "%s: ended is not a UTC time", name);
		goto out;
	}
	snprintf(out->ended, sizeof(out->ended), "%s", s);
	out->requests = yyjson_get_uint(yyjson_obj_get(root, "requests"));
	ret = 0;
out:
	yyjson_doc_free(doc);
	return ret;
}

static int add_problem(struct queue_grant_ends *ends, const char *message)
{
	char **grown = realloc(ends->problems, (ends->nproblems + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	ends->problems = grown;
	grown[ends->nproblems] = strdup(message);
	if (!grown[ends->nproblems])
		return -ENOMEM;
	ends->nproblems++;
	return 0;
}

static int add_end(struct queue_grant_ends *ends, const struct queue_grant_end *e)
{
	struct queue_grant_end *grown = realloc(ends->v, (ends->n + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	ends->v = grown;
	grown[ends->n++] = *e;
	return 0;
}

static int compare_ends(const void *a, const void *b)
{
	const struct queue_grant_end *x = a, *y = b;

	if (x->ended_at != y->ended_at)
		return x->ended_at < y->ended_at ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* One record: 0 when read or reported, negative only for a failure of
 * memory. */
static int read_end(const char *gdir, const char *name, struct queue_grant_ends *ends)
{
	char path[PATH_MAX], msg[PATH_MAX + 256];
	struct queue_grant_end e;
	struct stat st;
	struct buf text;
	int ret;

	if (snprintf(path, sizeof(path), "%s/%s", gdir, name) >= (int)sizeof(path))
		return add_problem(ends, "queue: a grant record's path is too long");
	ret = queue_read_file(path, &text, msg, sizeof(msg));
	if (ret == 0) {
		ret = queue_grant_end_parse(path, text.p ? text.p : "", text.len, &e, msg,
					    sizeof(msg));
		buf_release(&text);
	}
	if (ret < 0)
		return add_problem(ends, msg);
	e.logged = snprintf(path, sizeof(path), "%s/%s%s", gdir, e.id, LOGGED_SUFFIX) <
			   (int)sizeof(path) &&
		   lstat(path, &st) == 0;
	return add_end(ends, &e);
}

int queue_grant_ends_list(const char *dir, struct queue_grant_ends *out, char *err,
			  size_t errlen)
{
	char gdir[PATH_MAX];
	struct dirent *d;
	size_t len, seen = 0;
	DIR *listing;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = grants_dir(dir, gdir, err, errlen);
	if (ret < 0)
		return ret;
	listing = opendir(gdir);
	if (!listing) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		error_format(err, errlen, "queue: unable to read '%s': %s", gdir, strerror(errno));
		return ret;
	}
	while ((d = readdir(listing))) {
		len = strlen(d->d_name);
		if (d->d_name[0] == '.' || len <= sizeof(ENDED_SUFFIX) - 1 ||
		    strcmp(d->d_name + len - (sizeof(ENDED_SUFFIX) - 1), ENDED_SUFFIX) != 0)
			continue;
		if (++seen > GRANT_ENDS_MAX) {
			ret = add_problem(out, "queue: more ended grants than can be listed");
			break;
		}
		ret = read_end(gdir, d->d_name, out);
		if (ret < 0)
			break;
	}
	closedir(listing);
	if (ret < 0) {
		error_format(err, errlen, "queue: out of memory listing '%s'", gdir);
		queue_grant_ends_release(out);
		return ret;
	}
	if (out->n)
		qsort(out->v, out->n, sizeof(*out->v), compare_ends);
	return 0;
}

void queue_grant_ends_release(struct queue_grant_ends *ends)
{
	size_t i;

	for (i = 0; i < ends->nproblems; i++)
		free(ends->problems[i]);
	free(ends->problems);
	free(ends->v);
	memset(ends, 0, sizeof(*ends));
}

int queue_grant_ends_log(const char *dir, const char *bottle, const char *log_path,
			 size_t *logged, char *err, size_t errlen)
{
	char gdir[PATH_MAX], name[QUEUE_ID_MAX + sizeof(LOGGED_SUFFIX)];
	struct queue_grant_ends ends = { 0 };
	size_t i;
	int lock_fd, ret;

	*logged = 0;
	ret = grants_dir(dir, gdir, err, errlen);
	if (ret < 0)
		return ret;
	lock_fd = open(gdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (lock_fd < 0)
		return errno == ENOENT ? 0 : -errno;
	/* Two operators' CLIs at once must not log one end twice. */
	while ((ret = flock(lock_fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (ret < 0) {
		ret = -errno;
		error_format(err, errlen, "queue: unable to lock '%s': %s", gdir, strerror(errno));
		goto out;
	}
	ret = queue_grant_ends_list(dir, &ends, err, errlen);
	for (i = 0; ret == 0 && i < ends.n; i++) {
		if (ends.v[i].logged)
			continue;
		ret = queue_audit_append_grant_end(log_path, bottle, &ends.v[i], err, errlen);
		if (ret < 0)
			break;
		snprintf(name, sizeof(name), "%s%s", ends.v[i].id, LOGGED_SUFFIX);
		ret = queue_write_atomic(gdir, name, "", 0, false, err, errlen);
		if (ret == 0)
			(*logged)++;
	}
out:
	queue_grant_ends_release(&ends);
	close(lock_fd);
	return ret;
}

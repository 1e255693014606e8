/* The audit log of decisions and of grants' ends: JSON lines chained by hash, with a head file
 * naming the last link, so a line edited, removed, reordered or cut off
 * anywhere, the end included, is found by queue_audit_verify().  The chain
 * detects tampering by someone who does not also rewrite every later line
 * and the head; it is evidence, not a signature. */
#include "log.h"
#include "queue.h"

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

/* Longer lines cannot come from queue_audit_append() (notes are capped). */
#define AUDIT_LINE_MAX (64 * 1024)

static const char zero_hash[QUEUE_HASH_HEX] =
	"0000000000000000000000000000000000000000000000000000000000000000";


/* The log's directory and the head file's name in it. */
static int head_location(const char *log_path, char dir[PATH_MAX], char name[NAME_MAX + 1])
{
	const char *slash = strrchr(log_path, '/');
	const char *base = slash ? slash + 1 : log_path;

	if (slash == log_path)
		snprintf(dir, PATH_MAX, "/");
	else if (slash && (size_t)(slash - log_path) < PATH_MAX)
		snprintf(dir, PATH_MAX, "%.*s", (int)(slash - log_path), log_path);
	else if (!slash)
		snprintf(dir, PATH_MAX, ".");
	else
		return -ENAMETOOLONG;
	if (strlen(base) + 5 > NAME_MAX || !*base)
		return -ENAMETOOLONG;
	snprintf(name, NAME_MAX + 1, "%s.head", base);
	return 0;
}

/* "<entries> <hash>\n": 0 and filled, -ENOENT without a head, -EBADMSG
 * for anything else. */
static int head_read(const char *log_path, size_t *entries, char hash[QUEUE_HASH_HEX])
{
	char dir[PATH_MAX], name[NAME_MAX + 1], path[PATH_MAX + NAME_MAX + 2], text[128];
	unsigned long long n;
	char *end;
	ssize_t len;
	int fd, ret;

	ret = head_location(log_path, dir, name);
	if (ret < 0)
		return ret;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	len = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (len < 0)
		return -EIO;
	text[len] = '\0';
	errno = 0;
	n = strtoull(text, &end, 10);
	if (errno || end == text || *end != ' ' || strlen(end + 1) != QUEUE_HASH_HEX ||
	    end[QUEUE_HASH_HEX] != '\n')
		return -EBADMSG;
	memcpy(hash, end + 1, QUEUE_HASH_HEX - 1);
	hash[QUEUE_HASH_HEX - 1] = '\0';
	*entries = (size_t)n;
	return 0;
}

static int head_write(const char *log_path, size_t entries, const char *hash, char *err,
		      size_t errlen)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], text[128];
	int len, ret;

	ret = head_location(log_path, dir, name);
	if (ret < 0) {
		error_format(err, errlen, "audit: log path '%s' is too long", log_path);
		return ret;
	}
	len = snprintf(text, sizeof(text), "%zu %s\n", entries, hash);
	return queue_write_atomic(dir, name, text, (size_t)len, false, err, errlen);
}

/* What a decision is about, by hash: the routes file it approves (or
 * turns down), or the held value's own hash. */
static int content_hash(const struct queue_proposal *p, const struct queue_response *r,
			char out[QUEUE_HASH_HEX])
{
	const char *routes = r->routes_yaml ? r->routes_yaml : p->routes_yaml;

	if (p->value_hash) {
		snprintf(out, QUEUE_HASH_HEX, "%s", p->value_hash);
		return 0;
	}
	if (!routes)
		return -EINVAL;
	return queue_sha256_hex(routes, strlen(routes), out);
}

/* What an entry says, apart from seq, time and prev (encode_entry). */
struct audit_subject {
	/* A decision ... */
	const struct queue_proposal *p;
	const struct queue_response *r;
	/* ... or the end of a grant. */
	const char *bottle;
	const struct queue_grant_end *end;
};

static bool add_grant_end(yyjson_mut_doc *doc, yyjson_mut_val *obj, const struct audit_subject *s)
{
	return yyjson_mut_obj_add_str(doc, obj, "event", "grant-ended") &&
	       yyjson_mut_obj_add_strcpy(doc, obj, "bottle", s->bottle) &&
	       yyjson_mut_obj_add_strcpy(doc, obj, "id", s->end->id) &&
	       yyjson_mut_obj_add_str(doc, obj, "reason",
				      queue_grant_end_reason_name(s->end->reason)) &&
	       yyjson_mut_obj_add_strcpy(doc, obj, "ended", s->end->ended) &&
	       yyjson_mut_obj_add_uint(doc, obj, "requests", s->end->requests);
}

static int encode_entry(size_t seq, const struct audit_subject *s, const char *prev,
			struct buf *line)
{
	const struct queue_proposal *p = s->p;
	const struct queue_response *r = s->r;
	char now[QUEUE_TIME_MAX], hash[QUEUE_HASH_HEX];
	yyjson_mut_doc *doc = yyjson_mut_doc_new(NULL);
	yyjson_mut_val *obj, *bounds;
	char *text = NULL;
	size_t len = 0;
	int ret = -ENOMEM;
	bool ok;

	if (!doc)
		return -ENOMEM;
	queue_format_time(time(NULL), now);
	obj = yyjson_mut_obj(doc);
	yyjson_mut_doc_set_root(doc, obj);
	ok = obj && yyjson_mut_obj_add_uint(doc, obj, "seq", seq) &&
	     yyjson_mut_obj_add_str(doc, obj, "time", now);
	if (s->end) {
		ok = ok && add_grant_end(doc, obj, s);
		goto chain;
	}
	if (content_hash(p, r, hash) < 0) {
		ret = -EINVAL;
		goto out;
	}
	ok = ok && yyjson_mut_obj_add_strcpy(doc, obj, "who", r->who ? r->who : "") &&
	     yyjson_mut_obj_add_strcpy(doc, obj, "bottle", p->bottle ? p->bottle : "") &&
	     yyjson_mut_obj_add_strcpy(doc, obj, "id", p->id) &&
	     yyjson_mut_obj_add_str(doc, obj, "tool", queue_kind_name(p->kind)) &&
	     yyjson_mut_obj_add_str(doc, obj, "verdict", queue_verdict_name(r->verdict)) &&
	     yyjson_mut_obj_add_str(doc, obj, "content_sha256", hash) &&
	     yyjson_mut_obj_add_strcpy(doc, obj, "note", r->note ? r->note : "");
	if (ok && (r->bounds.expires_in || r->bounds.max_requests)) {
		bounds = yyjson_mut_obj_add_obj(doc, obj, "bounds");
		ok = bounds && yyjson_mut_obj_add_uint(doc, bounds, "expires_in",
						       r->bounds.expires_in) &&
		     yyjson_mut_obj_add_uint(doc, bounds, "max_requests", r->bounds.max_requests);
	}
chain:
	ok = ok && yyjson_mut_obj_add_str(doc, obj, "prev", prev);
	if (ok)
		text = yyjson_mut_write(doc, 0, &len);
	if (!text)
		goto out;
	buf_init(line, AUDIT_LINE_MAX);
	ret = buf_append(line, text, len);
	if (ret == 0)
		ret = buf_append(line, "\n", 1);
	if (ret < 0)
		buf_release(line);
out:
	free(text);
	yyjson_mut_doc_free(doc);
	return ret;
}

/* The log's last line (without its newline) into last; an empty log
 * leaves it empty.  -EBADMSG when the log does not end in a whole line. */
static int last_line(int fd, struct buf *last)
{
	struct stat st;
	off_t from;
	char *text, *nl;
	ssize_t n;
	size_t len;

	buf_init(last, AUDIT_LINE_MAX + 1);
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size == 0)
		return 0;
	len = st.st_size > AUDIT_LINE_MAX + 1 ? AUDIT_LINE_MAX + 1 : (size_t)st.st_size;
	from = st.st_size - (off_t)len;
	if (buf_grow(last, len) < 0)
		return -ENOMEM;
	n = pread(fd, last->p, len, from);
	if (n != (ssize_t)len) {
		buf_release(last);
		return -EIO;
	}
	text = last->p;
	if (text[len - 1] != '\n') {
		buf_release(last);
		return -EBADMSG;
	}
	text[len - 1] = '\0';
	nl = strrchr(text, '\n');
	if (!nl && from > 0) {
		buf_release(last);
		return -EBADMSG;
	}
	nl = nl ? nl + 1 : text;
	last->len = strlen(nl);
	memmove(last->p, nl, last->len + 1);
	return 0;
}

static int line_seq(const char *line, size_t *seq)
{
	yyjson_doc *doc = yyjson_read(line, strlen(line), 0);
	yyjson_val *v = yyjson_obj_get(yyjson_doc_get_root(doc), "seq");
	int ret = yyjson_is_uint(v) ? 0 : -EBADMSG;

	if (ret == 0)
		*seq = (size_t)yyjson_get_uint(v);
	yyjson_doc_free(doc);
	return ret;
}

static int append_entry(const char *log_path, const struct audit_subject *subject,
			const char *id, char *err, size_t errlen)
{
	char prev[QUEUE_HASH_HEX], head_hash[QUEUE_HASH_HEX], hash[QUEUE_HASH_HEX];
	struct buf last, line;
	size_t seq = 0, head_entries = 0;
	int fd, ret, head;

	buf_init(&line, AUDIT_LINE_MAX);
	fd = open(log_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		ret = -errno;
		error_format(err, errlen, "audit: unable to open '%s': %s", log_path, strerror(errno));
		return ret;
	}
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR) {
			ret = -errno;
			error_format(err, errlen, "audit: unable to lock '%s': %s", log_path,
				strerror(errno));
			goto out_fd;
		}
	ret = last_line(fd, &last);
	if (ret < 0) {
		error_format(err, errlen, "audit: '%s' does not end in a whole entry; run verify-log",
			log_path);
		goto out_fd;
	}
	head = head_read(log_path, &head_entries, head_hash);
	ret = -EBADMSG;
	if (last.len == 0) {
		memcpy(prev, zero_hash, sizeof(prev));
		if (head == 0 && head_entries != 0) {
			error_format(err, errlen, "audit: '%s' is empty but its head records %zu entries",
				log_path, head_entries);
			goto out;
		}
	} else {
		queue_sha256_hex(last.p, last.len, prev);
		if (line_seq(last.p, &seq) < 0 || head < 0 || head_entries != seq ||
		    strcmp(head_hash, prev) != 0) {
			error_format(err, errlen,
				"audit: '%s' does not match its head; run verify-log before adding",
				log_path);
			goto out;
		}
	}
	ret = encode_entry(seq + 1, subject, prev, &line);
	if (ret < 0) {
		error_format(err, errlen, "audit: unable to encode the entry for %s", id);
		goto out;
	}
	/* One write under the lock and O_APPEND: a line is whole or absent. */
	if (write(fd, line.p, line.len) != (ssize_t)line.len || fsync(fd) < 0) {
		ret = -EIO;
		error_format(err, errlen, "audit: unable to append to '%s'", log_path);
		goto out;
	}
	queue_sha256_hex(line.p, line.len - 1, hash);
	ret = head_write(log_path, seq + 1, hash, err, errlen);
out:
	buf_release(&last);
out_fd:
	buf_release(&line);
	close(fd);
	return ret;
}

int queue_audit_append(const char *log_path, const struct queue_proposal *p,
		       const struct queue_response *r, char *err, size_t errlen)
{
	struct audit_subject subject = { .p = p, .r = r };

	return append_entry(log_path, &subject, p->id, err, errlen);
}

int queue_audit_append_grant_end(const char *log_path, const char *bottle,
				 const struct queue_grant_end *e, char *err, size_t errlen)
{
	struct audit_subject subject = { .bottle = bottle, .end = e };

	return append_entry(log_path, &subject, e->id, err, errlen);
}

/* Strict shape of a grant-ended entry (add_grant_end). */
static int check_grant_end_entry(yyjson_val *root, char *why, size_t whylen)
{
	static const char *const keys[] = { "seq",    "time",  "event",    "bottle", "id",
					    "reason", "ended", "requests", "prev" };
	const size_t nkeys = sizeof(keys) / sizeof(keys[0]);
	yyjson_val *key, *v;
	yyjson_obj_iter iter;
	unsigned seen = 0;
	const char *reason;
	size_t i;

	yyjson_obj_iter_init(root, &iter);
	while ((key = yyjson_obj_iter_next(&iter))) {
		for (i = 0; i < nkeys; i++)
			/* By length: "id\u0000" is not "id" (else the key
			 * counts as seen and the lookup by name finds nothing). */
			if (yyjson_equals_str(key, keys[i]))
				break;
		if (i == nkeys || (seen & (1u << i))) {
			error_format(why, whylen, "unknown or repeated key");
			return -EBADMSG;
		}
		seen |= 1u << i;
		v = yyjson_obj_iter_get_val(key);
		if (i == 0 || i == 7 ? !yyjson_is_uint(v) : !yyjson_is_str(v)) {
			error_format(why, whylen, "'%s' has the wrong type", keys[i]);
			return -EBADMSG;
		}
	}
	if (seen != (1u << nkeys) - 1) {
		error_format(why, whylen, "a key is missing");
		return -EBADMSG;
	}
	reason = yyjson_get_str(yyjson_obj_get(root, "reason"));
	if (strcmp(reason, "expired") != 0 && strcmp(reason, "max_requests") != 0) {
		error_format(why, whylen, "unknown grant end reason");
		return -EBADMSG;
	}
	return 0;
}

/* Strict shape of one entry, as encode_entry() writes it. */
static int check_entry(const char *line, size_t len, size_t want_seq, const char *want_prev,
		       char *why, size_t whylen)
{
	static const char *const keys[] = { "seq",     "time",           "who",  "bottle",
					    "id",      "tool",           "verdict",
					    "content_sha256", "note", "bounds", "prev" };
	yyjson_doc *doc = yyjson_read(line, len, 0);
	yyjson_val *root = yyjson_doc_get_root(doc), *key, *v, *event;
	yyjson_obj_iter iter;
	unsigned seen = 0;
	enum queue_kind kind;
	size_t i;
	int ret = -EBADMSG;

	if (!yyjson_is_obj(root)) {
		error_format(why, whylen, "not a JSON object");
		goto out;
	}
	event = yyjson_obj_get(root, "event");
	if (event) {
		if (!yyjson_equals_str(event, "grant-ended")) {
			error_format(why, whylen, "unknown event");
			goto out;
		}
		if (check_grant_end_entry(root, why, whylen) < 0)
			goto out;
		goto chain;
	}
	yyjson_obj_iter_init(root, &iter);
	while ((key = yyjson_obj_iter_next(&iter))) {
		for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			/* By length: "id\u0000" is not "id" (else the key
			 * counts as seen and the lookup by name finds nothing). */
			if (yyjson_equals_str(key, keys[i]))
				break;
		if (i == sizeof(keys) / sizeof(keys[0]) || (seen & (1u << i))) {
			error_format(why, whylen, "unknown or repeated key");
			goto out;
		}
		seen |= 1u << i;
		v = yyjson_obj_iter_get_val(key);
		if (i == 0 ? !yyjson_is_uint(v) : i == 9 ? !yyjson_is_obj(v) : !yyjson_is_str(v)) {
			error_format(why, whylen, "'%s' has the wrong type", keys[i]);
			goto out;
		}
	}
	if ((seen | (1u << 9)) != (1u << (sizeof(keys) / sizeof(keys[0]))) - 1) {
		error_format(why, whylen, "a key is missing");
		goto out;
	}
	if (queue_kind_parse(yyjson_get_str(yyjson_obj_get(root, "tool")), &kind) < 0) {
		error_format(why, whylen, "unknown tool");
		goto out;
	}
chain:
	if (yyjson_get_uint(yyjson_obj_get(root, "seq")) != want_seq) {
		error_format(why, whylen, "seq is %llu, not %zu",
			(unsigned long long)yyjson_get_uint(yyjson_obj_get(root, "seq")), want_seq);
		goto out;
	}
	if (strcmp(yyjson_get_str(yyjson_obj_get(root, "prev")), want_prev) != 0) {
		error_format(why, whylen, "its prev is not the hash of the line before");
		goto out;
	}
	ret = 0;
out:
	yyjson_doc_free(doc);
	return ret;
}

int queue_audit_verify(const char *log_path, size_t *entries, char *err, size_t errlen)
{
	char prev[QUEUE_HASH_HEX], head_hash[QUEUE_HASH_HEX], why[160];
	size_t n = 0, head_entries = 0;
	struct buf line;
	FILE *f;
	int c, ret, head;

	*entries = 0;
	memcpy(prev, zero_hash, sizeof(prev));
	buf_init(&line, AUDIT_LINE_MAX);
	f = fopen(log_path, "re");
	if (!f) {
		ret = -errno;
		error_format(err, errlen, "audit: unable to open '%s': %s", log_path, strerror(errno));
		return ret;
	}
	ret = -EBADMSG;
	for (;;) {
		c = getc(f);
		if (c == EOF)
			break;
		if (c != '\n') {
			char ch = (char)c;

			if (c == '\0' || buf_append(&line, &ch, 1) < 0) {
				error_format(err, errlen, "audit: %s:%zu: %s", log_path, n + 1,
					c ? "line too long" : "NUL byte");
				goto out;
			}
			continue;
		}
		n++;
		if (check_entry(line.p, line.len, n, prev, why, sizeof(why)) < 0) {
			error_format(err, errlen, "audit: %s:%zu: %s", log_path, n, why);
			goto out;
		}
		queue_sha256_hex(line.p, line.len, prev);
		buf_clear(&line);
	}
	if (ferror(f)) {
		ret = -EIO;
		error_format(err, errlen, "audit: unable to read '%s'", log_path);
		goto out;
	}
	if (line.len) {
		error_format(err, errlen, "audit: %s:%zu: the last line is cut short", log_path, n + 1);
		goto out;
	}
	head = head_read(log_path, &head_entries, head_hash);
	if (head == -ENOENT && n == 0) {
		ret = 0;
		goto out;
	}
	if (head < 0) {
		error_format(err, errlen, "audit: %s.head: %s", log_path,
			head == -ENOENT ? "missing" : "unreadable");
		goto out;
	}
	if (head_entries != n || strcmp(head_hash, n ? prev : zero_hash) != 0) {
		error_format(err, errlen,
			"audit: %s: the head records %zu entries ending in %.12s, the log has %zu "
			"ending in %.12s: lines were removed or the head was not updated",
			log_path, head_entries, head_hash, n, prev);
		goto out;
	}
	*entries = n;
	ret = 0;
out:
	buf_release(&line);
	fclose(f);
	return ret;
}

/* The 2025-11-25 tasks utility for the tools that wait for the operator,
 * offered only in sessions whose client declared `tasks`: tools/call with
 * params.task answers at once with a task; a detached thread waits for the
 * operator; tasks/get, tasks/result (blocks until the task ends),
 * tasks/list and tasks/cancel (withdraws the proposal) follow it.
 *
 * A task names its session by pointer, as a key only (it takes no
 * reference, so sessions still expire); ids are random, so a later session
 * at the same address cannot reach it.  Finished tasks are dropped after
 * their ttl, and a session keeps at most TASKS_PER_SESSION. */
#include "tasks.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../../shared/log.h"

#define TASKS_PER_SESSION 64
#define TASK_POLL_MS 5000
#define TASK_DEFAULT_TTL_MS (60 * 60 * 1000)

enum task_status { TASK_WORKING, TASK_COMPLETED, TASK_FAILED, TASK_CANCELLED };

struct task {
	struct task *next;
	const struct session *session; /* the key, not a reference */
	uint64_t created_ms;         /* monotonic, for the ttl */
	char id[SUPERVISE_ID_LEN + 1];
	enum task_status status;
	bool running;                /* its thread still uses it: never freed then */
	char created[24], updated[24];
	uint64_t ttl_ms;
	struct buf result;           /* CallToolResult once completed */
	struct waiting_call waiting;
	bool waiting_registered;
	/* the call */
	const struct supervise_options *options;
	yyjson_doc *args;            /* a copy of the arguments */
	char name[64];
	char client_name[64];
};

static pthread_mutex_t tasks_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t tasks_changed = PTHREAD_COND_INITIALIZER;
static struct task *tasks;

static const char *status_name(enum task_status s)
{
	switch (s) {
	case TASK_WORKING: return "working";
	case TASK_COMPLETED: return "completed";
	case TASK_FAILED: return "failed";
	default: return "cancelled";
	}
}

static void now_rfc3339(char out[24])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 24, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void task_free(struct task *t)
{
	buf_release(&t->result);
	yyjson_doc_free(t->args);
	free(t);
}

/* Under tasks_lock. */
static struct task *task_find_locked(const struct session *s, const char *id)
{
	struct task *t;

	for (t = tasks; t; t = t->next)
		if (t->session == s && strcmp(t->id, id) == 0)
			return t;
	return NULL;
}

/* Drop finished tasks past their ttl, and the session's oldest finished
 * task when it has too many. */
static void tasks_trim_locked(const struct session *s)
{
	struct task **pp, **oldest = NULL;
	uint64_t now = supervise_now_ms();
	size_t n = 0;

	for (pp = &tasks; *pp;) {
		struct task *t = *pp;

		if (!t->running && now - t->created_ms > t->ttl_ms) {
			*pp = t->next;
			task_free(t);
			continue;
		}
		pp = &t->next;
	}
	for (pp = &tasks; *pp; pp = &(*pp)->next) {
		if ((*pp)->session != s)
			continue;
		n++;
		if (!(*pp)->running)
			oldest = pp; /* the list is newest first */
	}
	if (n >= TASKS_PER_SESSION && oldest) {
		struct task *dead = *oldest;

		*oldest = dead->next;
		task_free(dead);
	}
}

static int task_json(const struct task *t, struct buf *out)
{
	return buf_appendf(out,
			   "{\"taskId\":\"%s\",\"status\":\"%s\",\"statusMessage\":\"%s\","
			   "\"createdAt\":\"%s\",\"lastUpdatedAt\":\"%s\",\"ttl\":%llu,"
			   "\"pollInterval\":%d}",
			   t->id, status_name(t->status),
			   t->status == TASK_WORKING ? "waiting for the operator's decision"
			   : t->status == TASK_CANCELLED ? "cancelled; the proposal was withdrawn"
							 : "the operator's decision is in",
			   t->created, t->updated, (unsigned long long)t->ttl_ms, TASK_POLL_MS);
}

static void *task_main(void *arg)
{
	struct task *t = arg;
	struct tool_context ctx = {
		.options = t->options,
		.fd = -1,
		.waiting = &t->waiting,
		.client_name = t->client_name[0] ? t->client_name : NULL,
	};
	struct buf result;
	char err[256];
	int ret;

	buf_init(&result, 4 * SUPERVISE_BODY_MAX);
	ret = tools_call(&ctx, t->name, yyjson_doc_get_root(t->args), &result, err, sizeof(err));
	pthread_mutex_lock(&tasks_lock);
	if (t->status == TASK_WORKING) {
		if (ret == 0) {
			t->status = TASK_COMPLETED;
			buf_clear(&t->result);
			if (buf_append(&t->result, result.p, result.len) < 0)
				t->status = TASK_FAILED;
		} else {
			t->status = ret == -ECANCELED ? TASK_CANCELLED : TASK_FAILED;
		}
		now_rfc3339(t->updated);
	}
	waiting_call_unregister(&t->waiting);
	t->waiting_registered = false;
	t->running = false;
	pthread_cond_broadcast(&tasks_changed);
	pthread_mutex_unlock(&tasks_lock);
	buf_release(&result);
	return NULL;
}

int tasks_create(struct session *s, const struct supervise_options *o, const char *name,
		 yyjson_val *args, const char *client_name, yyjson_val *task_params,
		 struct buf *out)
{
	unsigned char bytes[SUPERVISE_ID_LEN / 2];
	static const char hex[] = "0123456789abcdef";
	yyjson_val *ttl = yyjson_obj_get(task_params, "ttl");
	pthread_attr_t attr;
	pthread_t thread;
	struct task *t;
	char id_text[64];
	size_t i;
	int ret = -ENOMEM;

	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	buf_init(&t->result, 4 * SUPERVISE_BODY_MAX);
	t->waiting.wake_fd = -1;
	if (getrandom(bytes, sizeof(bytes), 0) != (ssize_t)sizeof(bytes)) {
		ret = -EIO;
		goto fail;
	}
	for (i = 0; i < sizeof(bytes); i++) {
		t->id[2 * i] = hex[bytes[i] >> 4];
		t->id[2 * i + 1] = hex[bytes[i] & 15];
	}
	t->session = s;
	t->created_ms = supervise_now_ms();
	t->options = o;
	t->ttl_ms = yyjson_is_uint(ttl) && yyjson_get_uint(ttl) > 0 ? yyjson_get_uint(ttl)
								   : TASK_DEFAULT_TTL_MS;
	snprintf(t->name, sizeof(t->name), "%s", name);
	snprintf(t->client_name, sizeof(t->client_name), "%s", client_name ? client_name : "");
	{
		/* A private copy: the request's document dies with the request. */
		size_t len;
		char *json = args ? yyjson_val_write(args, 0, &len) : NULL;

		t->args = json ? yyjson_read(json, len, 0) : yyjson_read("{}", 2, 0);
		free(json);
		if (!t->args)
			goto fail;
	}
	now_rfc3339(t->created);
	memcpy(t->updated, t->created, sizeof(t->updated));
	snprintf(id_text, sizeof(id_text), "\"task:%s\"", t->id);
	ret = waiting_call_register(&t->waiting, s, id_text);
	if (ret < 0)
		goto fail;
	t->waiting_registered = true;
	pthread_mutex_lock(&tasks_lock);
	tasks_trim_locked(s);
	t->running = true;
	t->next = tasks;
	tasks = t;
	ret = buf_append_str(out, "{\"task\":");
	if (ret == 0)
		ret = task_json(t, out);
	pthread_mutex_unlock(&tasks_lock);
	if (ret == 0)
		ret = buf_append_str(out, ",\"_meta\":{\"io.modelcontextprotocol/model-immediate-response\":"
					  "\"The proposal is queued for the operator; the task ends with "
					  "their decision.\"}}");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	if (pthread_create(&thread, &attr, task_main, t) != 0) {
		pthread_mutex_lock(&tasks_lock);
		t->status = TASK_FAILED;
		t->running = false;
		waiting_call_unregister(&t->waiting);
		t->waiting_registered = false;
		pthread_cond_broadcast(&tasks_changed);
		pthread_mutex_unlock(&tasks_lock);
		log_error("cannot start a task thread");
	}
	pthread_attr_destroy(&attr);
	return ret;
fail:
	if (t->waiting_registered)
		waiting_call_unregister(&t->waiting);
	buf_release(&t->result);
	yyjson_doc_free(t->args);
	free(t);
	return ret;
}

int tasks_get(const struct session *s, const char *id, struct buf *out)
{
	struct task *t;
	int ret = -ENOENT;

	pthread_mutex_lock(&tasks_lock);
	t = task_find_locked(s, id);
	if (t)
		ret = task_json(t, out);
	pthread_mutex_unlock(&tasks_lock);
	return ret;
}

int tasks_result(const struct session *s, const char *id, struct buf *out)
{
	struct task *t;
	int ret = -ENOENT;

	pthread_mutex_lock(&tasks_lock);
	t = task_find_locked(s, id);
	/* The task's own wait is bounded by --approval-timeout. */
	while (t && t->status == TASK_WORKING) {
		pthread_cond_wait(&tasks_changed, &tasks_lock);
		t = task_find_locked(s, id);
	}
	if (t && t->status == TASK_COMPLETED && t->result.len > 1) {
		ret = buf_append(out, t->result.p, t->result.len - 1); /* without the '}' */
		if (ret == 0)
			ret = buf_appendf(out, ",\"_meta\":{\"io.modelcontextprotocol/related-task\":"
					       "{\"taskId\":\"%s\"}}}", t->id);
	} else if (t) {
		ret = t->status == TASK_CANCELLED ? -ECANCELED : -EIO;
	}
	pthread_mutex_unlock(&tasks_lock);
	return ret;
}

int tasks_cancel(const struct session *s, const char *id, struct buf *out)
{
	struct task *t;
	char id_text[64];
	int ret = -ENOENT;

	pthread_mutex_lock(&tasks_lock);
	t = task_find_locked(s, id);
	if (t && t->status != TASK_WORKING) {
		ret = -EALREADY;
	} else if (t) {
		t->status = TASK_CANCELLED;
		now_rfc3339(t->updated);
		ret = task_json(t, out);
	}
	pthread_mutex_unlock(&tasks_lock);
	if (ret >= 0) {
		/* The task thread withdraws the proposal. */
		snprintf(id_text, sizeof(id_text), "\"task:%s\"", id);
		(void)waiting_call_cancel(s, id_text);
	}
	return ret;
}

int tasks_list(const struct session *s, struct buf *out)
{
	struct task *t;
	bool first = true;
	int ret;

	pthread_mutex_lock(&tasks_lock);
	ret = buf_append_str(out, "{\"tasks\":[");
	for (t = tasks; t && ret == 0; t = t->next) {
		if (t->session != s)
			continue;
		if (!first)
			ret = buf_append_str(out, ",");
		if (ret == 0)
			ret = task_json(t, out);
		first = false;
	}
	pthread_mutex_unlock(&tasks_lock);
	return ret == 0 ? buf_append_str(out, "]}") : ret;
}

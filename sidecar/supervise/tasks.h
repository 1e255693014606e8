/* Tasks (2025-11-25) for the tools that wait for the operator (tasks.c).
 * Every function takes the session the task belongs to: a task is visible
 * only in its own session. */
#ifndef SIDECAR_SUPERVISE_TASKS_H
#define SIDECAR_SUPERVISE_TASKS_H

#include "supervise.h"

/* Start tool `name` as a task; *out gets the CreateTaskResult. */
int tasks_create(struct session *s, const struct supervise_options *o, const char *name,
		 yyjson_val *args, const char *client_name, yyjson_val *task_params,
		 struct buf *out);
/* The Task object; -ENOENT for an unknown id. */
int tasks_get(const struct session *s, const char *id, struct buf *out);
/* Block until the task ends; its CallToolResult with the related-task
 * _meta, -ECANCELED, -EIO (failed) or -ENOENT. */
int tasks_result(const struct session *s, const char *id, struct buf *out);
/* Cancel a working task (its proposal is withdrawn); -EALREADY when it
 * has ended, -ENOENT when unknown. */
int tasks_cancel(const struct session *s, const char *id, struct buf *out);
int tasks_list(const struct session *s, struct buf *out);

#endif

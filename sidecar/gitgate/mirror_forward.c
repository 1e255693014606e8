/* Forward a checked push to the upstream before the gate takes it: every
 * command not failed becomes one refspec "<new id>:<ref>" (":<ref>" for a
 * delete, "+" only where the update is not a fast-forward, which the push
 * policy allowed).  The upstream's per-ref verdict decides each command;
 * its hooks' output reaches the client as "upstream: " lines. */
#include "mirror.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../shared/log.h"

/* What the upstream may add to the client's messages. */
#define UPSTREAM_LINES_MAX 40
#define UPSTREAM_BYTES_MAX 4096
#define UPSTREAM_LINE_MAX 512

struct forward {
	struct mirror_auth auth;
	struct push_command *cmds;
	size_t n;
	bool *reported;     /* per command: the upstream gave its verdict */
	struct buf *messages;
	char line[UPSTREAM_LINE_MAX]; /* the sideband line being received */
	size_t line_len;
	size_t lines, bytes;
	bool cut;
};

/* The upstream's text in a client message or an `ng` reason: one line,
 * nothing a terminal would interpret. */
static void text_sanitise(char *p)
{
	for (; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = (*p == '\t') ? ' ' : '?';
}

static void forward_line_finish(struct forward *f)
{
	char *line = f->line;
	size_t len = f->line_len;

	f->line_len = 0;
	/* A progress meter rewrites its line with '\r': keep its last state. */
	char *cr = memrchr(line, '\r', len);
	if (cr) {
		len -= (size_t)(cr + 1 - line);
		line = cr + 1;
	}
	if (len == 0)
		return;
	line[len] = '\0';
	text_sanitise(line);
	if (f->lines >= UPSTREAM_LINES_MAX || f->bytes + len > UPSTREAM_BYTES_MAX) {
		if (!f->cut)
			buf_append_str(f->messages, "upstream: (more output cut)\n");
		f->cut = true;
		return;
	}
	if (buf_appendf(f->messages, "upstream: %s\n", line) == 0) {
		f->lines++;
		f->bytes += len;
	}
}

static int forward_sideband(const char *p, int len, void *payload)
{
	struct forward *f = payload;

	for (int i = 0; i < len; i++) {
		if (p[i] == '\n') {
			forward_line_finish(f);
			continue;
		}
		/* A longer line is cut, not split: its tail is dropped. */
		if (f->line_len < sizeof(f->line) - 1)
			f->line[f->line_len++] = p[i];
	}
	return 0;
}

static int forward_verdict(const char *refname, const char *status, void *payload)
{
	struct forward *f = payload;

	for (size_t i = 0; i < f->n; i++) {
		struct push_command *cmd = &f->cmds[i];

		if (cmd->failed || f->reported[i] || strcmp(cmd->ref, refname) != 0)
			continue;
		f->reported[i] = true;
		if (status) {
			cmd->failed = true;
			snprintf(cmd->reason, sizeof(cmd->reason), "upstream rejected: %s", status);
			text_sanitise(cmd->reason);
		}
		return 0;
	}
	return 0;
}

/* The upstream's current value of ref, zero when it has none. */
static void upstream_value(const git_remote_head **heads, size_t nheads, const char *ref,
			   git_oid *out)
{
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < nheads; i++)
		if (strcmp(heads[i]->name, ref) == 0) {
			git_oid_cpy(out, &heads[i]->oid);
			return;
		}
}

/* Whether updating old_id to new_id needs force: anything but a
 * fast-forward of a commit (a moved tag, a rewritten branch). */
static bool needs_force(git_repository *repo, const struct push_command *cmd)
{
	if (git_oid_is_zero(&cmd->old_id) || git_oid_is_zero(&cmd->new_id))
		return false;
	return git_graph_descendant_of(repo, &cmd->new_id, &cmd->old_id) != 1;
}

/* The refspecs for the commands still standing; each string is malloc'd. */
static int forward_refspecs(git_repository *repo, struct push_command *cmds, size_t n,
			    git_strarray *out)
{
	char hex[GIT_OID_MAX_HEXSIZE + 1];

	out->strings = calloc(n ? n : 1, sizeof(char *));
	out->count = 0;
	if (!out->strings)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct push_command *cmd = &cmds[i];
		struct buf spec;

		if (cmd->failed)
			continue;
		buf_init(&spec, 4096);
		if (git_oid_is_zero(&cmd->new_id)) {
			buf_appendf(&spec, ":%s", cmd->ref);
		} else {
			git_oid_tostr(hex, sizeof(hex), &cmd->new_id);
			buf_appendf(&spec, "%s%s:%s", needs_force(repo, cmd) ? "+" : "", hex, cmd->ref);
		}
		if (spec.len == 0) {
			buf_release(&spec);
			return -ENOMEM;
		}
		out->strings[out->count++] = buf_detach(&spec, NULL);
	}
	return 0;
}

int mirror_forward(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
		   size_t n, struct buf *messages, char *err, size_t err_len)
{
	const struct gitgate_repo_config *config = s->repo->config;
	git_remote_connect_options connect;
	git_push_options push;
	git_strarray refspecs = { NULL, 0 };
	const git_remote_head **heads = NULL;
	git_remote *remote = NULL;
	struct forward f = { .cmds = cmds, .n = n, .messages = messages };
	char url[256], reason[256];
	size_t nheads = 0;
	int ret = -EIO;

	mirror_libgit2_setup();
	git_remote_connect_options_init(&connect, GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	git_push_options_init(&push, GIT_PUSH_OPTIONS_VERSION);
	mirror_redact_userinfo(config->upstream, url, sizeof(url));
	mirror_auth_init(&f.auth, config);
	f.reported = calloc(n ? n : 1, sizeof(bool));
	if (!f.reported) {
		ret = -ENOMEM;
		error_format(err, err_len, "out of memory forwarding the push");
		goto out;
	}
	mirror_auth_set_callbacks(&f.auth, &push.callbacks);
	/* The callbacks share one payload: the forward holds the auth first. */
	push.callbacks.payload = &f;
	push.callbacks.sideband_progress = forward_sideband;
	push.callbacks.push_update_reference = forward_verdict;
	connect.callbacks = push.callbacks;
	if (git_remote_create_anonymous(&remote, repo, config->upstream) < 0 ||
	    git_remote_connect_ext(remote, GIT_DIRECTION_PUSH, &connect) < 0 ||
	    git_remote_ls(&heads, &nheads, remote) < 0) {
		mirror_failure_reason(&f.auth, reason, sizeof(reason));
		error_format(err, err_len, "cannot reach the upstream %s: %s", url, reason);
		goto out;
	}
	/* A lease: the upstream must still hold what the gate's mirror holds,
	 * so nothing pushed there since the last fetch is overwritten (forced
	 * or not) and the client hears why instead of a whole-push error. */
	for (size_t i = 0; i < n; i++) {
		git_oid now;

		if (cmds[i].failed)
			continue;
		upstream_value(heads, nheads, cmds[i].ref, &now);
		if (!git_oid_equal(&now, &cmds[i].old_id)) {
			cmds[i].failed = true;
			snprintf(cmds[i].reason, sizeof(cmds[i].reason),
				 "upstream rejected: the upstream's %s moved since the gate's "
				 "last fetch; fetch and try again", cmds[i].ref);
		}
	}
	if ((ret = forward_refspecs(repo, cmds, n, &refspecs)) < 0) {
		error_format(err, err_len, "out of memory forwarding the push");
		goto out;
	}
	ret = -EIO;
	if (refspecs.count == 0) {
		ret = 0;
		goto out;
	}
	if (git_remote_upload(remote, &refspecs, &push) < 0) {
		mirror_failure_reason(&f.auth, reason, sizeof(reason));
		error_format(err, err_len, "push to the upstream %s failed: %s", url, reason);
		goto out;
	}
	if (f.line_len > 0)
		forward_line_finish(&f);
	/* A ref the upstream said nothing about did not arrive there. */
	for (size_t i = 0; i < n; i++)
		if (!cmds[i].failed && !f.reported[i]) {
			cmds[i].failed = true;
			snprintf(cmds[i].reason, sizeof(cmds[i].reason),
				 "upstream rejected: no status for this ref");
		}
	ret = 0;
out:
	if (remote) {
		git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	for (size_t i = 0; i < refspecs.count; i++)
		free(refspecs.strings[i]);
	free(refspecs.strings);
	free(f.reported);
	return ret;
}

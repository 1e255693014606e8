/* git-receive-pack on libgit2 (gitprotocol-pack(5)), protocol v0 and v1:
 *
 *   advertise the refs and capabilities (not for a smart-HTTP POST)
 *   read the commands and push options (receive_pack_commands.c)
 *   index the pack into a quarantine (quarantine.c)
 *   per command: connectivity, then under the repository's push lock the
 *   old id, the push policy, push_scan(), mirror_forward()
 *   move the pack in, update the refs, report-status on side-band 1 with
 *   the scan's and the upstream's messages on side-band 2 before it;
 *   then, under the push lock again, merge packs when there are too many
 *   (pack_merge.h).
 *
 * A client asking for protocol v2 gets v0, as from git: there is no v2
 * push. */
#include "receive_pack.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bottle_version.h"
#include "pack_merge.h"
#include "../../shared/log.h"

/* no-thin: the agent is on the gate's own host, where a pack's size costs
 * little and libgit2 completing a thin pack from the repository costs most
 * of a push (docs/gitgate.md, "The pack and the quarantine").  A thin pack
 * a client sends anyway is still completed. */
#define CAPABILITIES                                                                  \
	"report-status report-status-v2 delete-refs side-band-64k quiet atomic ofs-delta " \
	"no-thin push-options object-format=sha1 agent=bottle-gitgate/" BOTTLE_VERSION
#define MESSAGES_MAX (256 * 1024)
#define LOG_LINE_MAX 4096

struct push {
	struct gitgate_session *s;
	git_repository *repo;
	struct pkt_reader *reader;
	struct receive_request request;
	struct quarantine quarantine;
	struct buf messages;   /* "remote:" lines from push_scan and mirror_forward */
	char unpack_err[256];  /* why the pack was refused; empty: "unpack ok" */
	bool locked;
	int lock_fd;           /* the repository's push lock file, held with flock */
	int readers_fd;        /* the packs' readers lock, shared (pack_merge.h) */
	bool pack_moved_in;    /* the pushed pack is in objects/pack */
};

static const char *libgit2_message(void)
{
	const git_error *e = git_error_last();
	return e && e->message ? e->message : "unknown error";
}

/* ---- the advertisement ---- */

static int advertise_ref(struct gitgate_io *out, const git_oid *id, const char *name, bool *first)
{
	char hex[GIT_OID_SHA1_HEXSIZE + 1];

	git_oid_tostr(hex, sizeof(hex), id);
	if (*first) {
		*first = false;
		return pkt_writef(out, "%s %s%c%s\n", hex, name, '\0', CAPABILITIES);
	}
	return pkt_writef(out, "%s %s\n", hex, name);
}

static int advertise(struct push *push)
{
	struct gitgate_session *s = push->s;
	git_reference_iterator *it = NULL;
	git_reference *ref;
	bool first = true;
	int ret = 0, next;

	if (s->protocol == 1)
		ret = pkt_writef(s->out, "version 1\n");
	if (ret < 0)
		goto out;
	if (git_reference_iterator_new(&it, push->repo) < 0) {
		ret = -EIO;
		error_format(s->err, sizeof(s->err), "unable to list the refs: %s",
			     libgit2_message());
		goto out;
	}
	while (ret == 0 && (next = git_reference_next(&ref, it)) == 0) {
		git_reference *resolved = NULL;
		/* A symbolic ref shows where it points; a dangling one not at all. */
		if (git_reference_resolve(&resolved, ref) == 0 &&
		    strncmp(git_reference_name(ref), "refs/", 5) == 0)
			ret = advertise_ref(s->out, git_reference_target(resolved),
					    git_reference_name(ref), &first);
		git_reference_free(resolved);
		git_reference_free(ref);
	}
	if (ret < 0)
		goto out;
	if (first) {
		git_oid zero;
		memset(&zero, 0, sizeof(zero));
		ret = advertise_ref(s->out, &zero, "capabilities^{}", &first);
		if (ret < 0)
			goto out;
	}
	ret = pkt_write_flush(s->out);
	if (ret == 0)
		ret = gitgate_io_flush(s->out);
out:
	git_reference_iterator_free(it);
	return ret;
}

/* ---- reading the request ---- */

/* 0 with the request read (maybe empty), or a negative errno with s->err. */
static int read_request(struct push *push)
{
	struct gitgate_session *s = push->s;
	struct pkt pkt;
	int ret;

	for (;;) {
		ret = pkt_read(push->reader, &pkt);
		if (ret == -ENODATA && push->request.ncmds == 0 &&
		    push->request.stage == RECEIVE_SHALLOW_OR_COMMANDS)
			return 0; /* the client hung up without a command: nothing to do */
		if (ret < 0) {
			error_format(s->err, sizeof(s->err), "%s",
				     push->reader->err[0] ? push->reader->err :
				     "the client's request ended early");
			return ret == -ENODATA ? -EPROTO : ret;
		}
		ret = receive_request_feed(&push->request, &pkt, s->err, sizeof(s->err));
		if (ret < 0)
			return ret;
		if (ret == 1)
			return 0;
	}
}

/* ---- the checks ---- */

static void fail_all(struct push *push, const char *reason)
{
	for (size_t i = 0; i < push->request.ncmds; i++)
		push_command_fail(&push->request.cmds[i], "%s", reason);
}

static size_t count_pending(const struct push *push)
{
	size_t n = 0;

	for (size_t i = 0; i < push->request.ncmds; i++)
		n += !push->request.cmds[i].failed;
	return n;
}

/* atomic: one failure fails every command. */
static void atomic_settle(struct push *push)
{
	if (push->request.atomic && count_pending(push) < push->request.ncmds)
		fail_all(push, "atomic push failed: another ref in the push was refused");
}

static int receive_objects(struct push *push)
{
	struct gitgate_session *s = push->s;
	const struct gitgate_config *config = &s->gate->config;
	struct quarantine_source src = {
		.reader = push->reader,
		.max_bytes = config->request_max ? config->request_max : RECEIVE_PACK_MAX_DEFAULT,
		.deadline_ms = config->operation_timeout_ms ?
				       receive_now_ms() + (int64_t)config->operation_timeout_ms : 0,
	};
	struct buf objects_dir;
	git_odb *odb = NULL;
	int ret = -ENOMEM;

	buf_init(&objects_dir, 4096);
	if (buf_appendf(&objects_dir, "%sobjects", git_repository_path(push->repo)) < 0)
		goto out;
	ret = -EIO;
	if (git_repository_odb(&odb, push->repo) < 0) {
		error_format(push->unpack_err, sizeof(push->unpack_err), "%s", libgit2_message());
		goto out;
	}
	ret = quarantine_receive(&push->quarantine, objects_dir.p, odb, &src, push->unpack_err,
				 sizeof(push->unpack_err));
	if (ret == 0)
		ret = quarantine_attach(&push->quarantine, odb, push->unpack_err,
					sizeof(push->unpack_err));
out:
	if (ret == -ENOMEM && !push->unpack_err[0])
		error_format(push->unpack_err, sizeof(push->unpack_err), "out of memory");
	git_odb_free(odb);
	buf_release(&objects_dir);
	return ret;
}

/* ---- updating the refs ---- */

static void update_ref(struct push *push, struct push_command *cmd)
{
	git_reference *ref = NULL;

	if (git_oid_is_zero(&cmd->new_id)) {
		if (git_reference_lookup(&ref, push->repo, cmd->ref) < 0 ||
		    git_reference_delete(ref) < 0)
			push_command_fail(cmd, "failed to delete the ref: %s", libgit2_message());
	} else if (git_oid_is_zero(&cmd->old_id)) {
		/* Not forced: a ref that appeared meanwhile is not overwritten. */
		if (git_reference_create(&ref, push->repo, cmd->ref, &cmd->new_id, 0, "push") < 0)
			push_command_fail(cmd, "failed to create the ref: %s", libgit2_message());
	} else if (git_reference_create_matching(&ref, push->repo, cmd->ref, &cmd->new_id, 1,
						 &cmd->old_id, "push") < 0) {
		push_command_fail(cmd, "failed to update the ref: %s", libgit2_message());
	}
	git_reference_free(ref);
}

/* Every pending command in one transaction: all or none. */
static void update_refs_atomic(struct push *push)
{
	git_transaction *tx = NULL;
	int ret = git_transaction_new(&tx, push->repo);

	for (size_t i = 0; ret == 0 && i < push->request.ncmds; i++) {
		struct push_command *cmd = &push->request.cmds[i];
		ret = git_transaction_lock_ref(tx, cmd->ref);
		/* Locked: the old id cannot change under us any more. */
		if (ret == 0) {
			receive_check_old_id(push->repo, cmd);
			if (cmd->failed)
				ret = -1;
		}
		if (ret == 0)
			ret = git_oid_is_zero(&cmd->new_id) ?
				      git_transaction_remove(tx, cmd->ref) :
				      git_transaction_set_target(tx, cmd->ref, &cmd->new_id, NULL,
								 "push");
	}
	if (ret == 0)
		ret = git_transaction_commit(tx);
	if (ret < 0) {
		char reason[200];
		snprintf(reason, sizeof(reason), "atomic update failed: %s", libgit2_message());
		fail_all(push, reason);
	}
	git_transaction_free(tx);
}

static void update_refs(struct push *push)
{
	if (push->request.atomic) {
		update_refs_atomic(push);
		return;
	}
	for (size_t i = 0; i < push->request.ncmds; i++)
		if (!push->request.cmds[i].failed)
			update_ref(push, &push->request.cmds[i]);
}

/* The repository's push lock: push_lock between the gate's threads, and a
 * flock on <repo>/gitgate-push.lock between processes (each --stdio push
 * is one; git's own ref locks would only make the later push fail on a
 * lock file instead of seeing the earlier push's refs). */
static void push_lock(struct push *push)
{
	struct gitgate_session *s = push->s;

	pthread_mutex_lock(&s->repo->push_lock);
	push->locked = true;
	push->lock_fd = pack_push_flock(git_repository_path(push->repo));
	if (push->lock_fd < 0)
		log_warn("%s: unable to take the push lock file: %s", s->repo->config->name,
			 strerror(-push->lock_fd));
}

static void push_unlock(struct push *push)
{
	if (push->lock_fd >= 0)
		close(push->lock_fd); /* drops the flock */
	push->lock_fd = -1;
	if (push->locked)
		pthread_mutex_unlock(&push->s->repo->push_lock);
	push->locked = false;
}

/* From the pack onwards: every command ends ok or failed with a reason. */
static void run_checks(struct push *push)
{
	struct gitgate_session *s = push->s;
	struct receive_request *r = &push->request;
	char err[256] = "";

	for (size_t i = 0; i < r->ncmds; i++)
		if (!r->cmds[i].failed && !receive_ref_name_valid(r->cmds[i].ref))
			push_command_fail(&r->cmds[i], "invalid ref name");
	if (receive_request_wants_pack(r) && receive_objects(push) < 0) {
		fail_all(push, "unpacker error");
		return;
	}
	for (size_t i = 0; i < r->ncmds; i++) {
		struct push_command *cmd = &r->cmds[i];
		if (cmd->failed)
			continue;
		if (receive_check_connected(push->repo, cmd) < 0)
			push_command_fail(cmd, "unable to check the objects: %s", libgit2_message());
		/* A shallow clone's push is fine while the gate has the history
		 * behind its boundary (it usually cloned from here); when it
		 * does not, the client must deepen. */
		if (cmd->failed && r->shallow)
			snprintf(cmd->reason, sizeof(cmd->reason),
				 "shallow update not allowed: the push needs history the gate "
				 "does not have (git fetch --unshallow, then push again)");
	}
	atomic_settle(push);
	if (!count_pending(push))
		return;

	/* Concurrent pushes to one repository take turns from here: each sees
	 * the refs the one before it left. */
	push_lock(push);
	for (size_t i = 0; i < r->ncmds; i++) {
		receive_check_old_id(push->repo, &r->cmds[i]);
		if (push_policy_check(s->repo->config, push->repo, &r->cmds[i]) < 0)
			push_command_fail(&r->cmds[i], "push policy: %s", libgit2_message());
	}
	atomic_settle(push);
	if (count_pending(push) && push_scan(s, push->repo, r->cmds, r->ncmds, &push->messages) < 0)
		fail_all(push, s->err[0] ? s->err : "the push could not be scanned");
	atomic_settle(push);
	if (count_pending(push) && s->repo->config->upstream &&
	    mirror_forward(s, push->repo, r->cmds, r->ncmds, &push->messages, err,
			   sizeof(err)) < 0)
		fail_all(push, err[0] ? err : "the upstream could not be reached");
	atomic_settle(push);
	if (!count_pending(push))
		goto unlock;
	if (quarantine_migrate(&push->quarantine, err, sizeof(err)) < 0) {
		fail_all(push, err);
		goto unlock;
	}
	push->pack_moved_in = push->quarantine.pack_name != NULL;
	update_refs(push);
unlock:
	push_unlock(push);
}

/* ---- the report ---- */

static int report_collect(void *ctx, const void *p, size_t len)
{
	return buf_append(ctx, p, len);
}

static int write_report(struct push *push)
{
	struct gitgate_session *s = push->s;
	struct receive_request *r = &push->request;
	struct buf report;
	struct gitgate_io collect;
	int ret = 0;

	if (r->side_band_64k && push->messages.len > 0)
		ret = pkt_write_sideband(s->out, 2, push->messages.p, push->messages.len,
					 PKT_SIDEBAND_MAX);
	if (ret < 0 || (!r->report_status && !r->report_status_v2))
		goto flush;

	/* The report's pkt-lines, then on side-band 1 when asked. */
	buf_init(&report, 16 * 1024 * 1024);
	collect = (struct gitgate_io){ .ctx = &report, .write = report_collect };
	struct gitgate_io *to = r->side_band_64k ? &collect : s->out;
	ret = push->unpack_err[0] ? pkt_writef(to, "unpack %s\n", push->unpack_err) :
				    pkt_writef(to, "unpack ok\n");
	for (size_t i = 0; ret == 0 && i < r->ncmds; i++) {
		const struct push_command *cmd = &r->cmds[i];
		ret = cmd->failed ? pkt_writef(to, "ng %s %s\n", cmd->ref, cmd->reason) :
				    pkt_writef(to, "ok %s\n", cmd->ref);
	}
	if (ret == 0)
		ret = pkt_write_flush(to);
	if (ret == 0 && r->side_band_64k)
		ret = pkt_write_sideband(s->out, 1, report.p, report.len, PKT_SIDEBAND_MAX);
	buf_release(&report);
flush:
	if (ret == 0 && r->side_band_64k)
		ret = pkt_write_flush(s->out);
	if (ret == 0)
		ret = gitgate_io_flush(s->out);
	return ret;
}

/* A failure that ends the session: on side-band 3 when the client can
 * show it ("remote error: ..."), else only in the log. */
static void report_fatal(struct push *push)
{
	struct gitgate_session *s = push->s;

	if (push->request.side_band_64k && s->err[0]) {
		pkt_writef(s->out, "%c%s\n", 3, s->err);
		gitgate_io_flush(s->out);
	}
}

static void log_push(struct push *push)
{
	struct receive_request *r = &push->request;
	struct buf line;
	char range[32];

	buf_init(&line, LOG_LINE_MAX);
	buf_appendf(&line, "receive-pack %s from %s:", push->s->repo->config->name,
		    push->s->remote_addr ? push->s->remote_addr : "?");
	if (push->unpack_err[0])
		buf_appendf(&line, " unpack failed (%s);", push->unpack_err);
	else if (push->quarantine.pack_name)
		buf_appendf(&line, " %u objects (%u thin-pack bases from the repository);",
			    push->quarantine.objects, push->quarantine.thin_bases);
	if (r->npush_options)
		buf_appendf(&line, " %zu push options;", r->npush_options);
	for (size_t i = 0; i < r->ncmds; i++) {
		push_command_describe(&r->cmds[i], range, sizeof(range));
		if (buf_appendf(&line, " %s %s %s%s%s", r->cmds[i].ref, range,
				r->cmds[i].failed ? "ng (" : "ok",
				r->cmds[i].failed ? r->cmds[i].reason : "",
				r->cmds[i].failed ? ")" : "") < 0) {
			buf_append_str(&line, " ...");
			break;
		}
	}
	log_info("%s", line.p);
	buf_release(&line);
}

int receive_pack_serve(struct gitgate_session *s)
{
	struct push push = { .s = s, .lock_fd = -1 };
	int ret = -ENOMEM;

	/* Packs this push reads (its checks) stay until it ends. */
	push.readers_fd = pack_readers_lock(s->repo->path);
	receive_request_init(&push.request);
	quarantine_init(&push.quarantine);
	buf_init(&push.messages, MESSAGES_MAX);
	if (git_repository_open_bare(&push.repo, s->repo->path) < 0) {
		ret = -EIO;
		error_format(s->err, sizeof(s->err), "unable to open the repository: %s",
			     libgit2_message());
		goto out;
	}
	/* A smart-HTTP POST (stateless) skips the advertisement: its
	 * info/refs request (advertise_refs) had it. */
	if (!s->stateless_rpc || s->advertise_refs) {
		ret = advertise(&push);
		if (ret < 0 || s->advertise_refs)
			goto out;
	}
	push.reader = malloc(sizeof(*push.reader));
	if (!push.reader) {
		ret = -ENOMEM;
		goto out;
	}
	pkt_reader_init(push.reader, s->in);
	ret = read_request(&push);
	if (ret < 0) {
		report_fatal(&push);
		goto out;
	}
	if (push.request.ncmds == 0)
		goto out; /* nothing to do: every ref was up to date */
	run_checks(&push);
	ret = write_report(&push);
	log_push(&push);
	if (push.pack_moved_in) {
		/* After the report, so the client does not wait for it (over
		 * smart-HTTP it still does, until the response ends), and no
		 * longer a reader: the merge may retire what this push read.
		 * The lock again: a push in between may have merged already. */
		pack_readers_unlock(s->repo->path, push.readers_fd);
		push.readers_fd = -1;
		push_lock(&push);
		pack_merge_after_write(s->repo->config->name, s->repo->path);
	}
	if (ret < 0 && !s->err[0])
		error_format(s->err, sizeof(s->err), "writing the report: %s", strerror(-ret));
out:
	push_unlock(&push);
	pack_readers_unlock(s->repo->path, push.readers_fd);
	quarantine_release(&push.quarantine);
	receive_request_release(&push.request);
	buf_release(&push.messages);
	free(push.reader);
	git_repository_free(push.repo);
	return ret;
}

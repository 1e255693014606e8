/* Push scanning: repositories built with libgit2, pushes described as the
 * commands receive-pack hands over, and what push_scan() makes of them:
 * the DLP findings on new lines only (rules, known secrets, the canary,
 * binaries byte-exact), the bounds, the identity rule, each blob scanned
 * once, and the operator loop (one proposal per finding across retries,
 * approved passes that finding only, rejected stays rejected). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../sidecar/gitgate/push_scan_internal.h"
#include "test_dlp_helpers.h"

#define AWS_ALPHABET "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

struct fixture {
	char dir[64], repo_path[96], queue[96];
	git_repository *repo;
	struct dlp_engine *engine;
	struct gitgate_repo_config repo_config;
	struct gitgate_repo gate_repo;
	struct gitgate gate;
	struct gitgate_session session;
	struct push_command cmd;
	struct buf messages;
	struct push_scan_stats stats;
	char aws_key[21], other_key[21], token[41], canary[33];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	const char *names[3] = { "DEPLOY_TOKEN", "CANARY_VALUE", NULL };
	const char *values[3];
	char err[256];

	snprintf(f->dir, sizeof(f->dir), "/tmp/test_push_scan.XXXXXX");
	if (!f || !mkdtemp(f->dir))
		return -1;
	snprintf(f->repo_path, sizeof(f->repo_path), "%s/project.git", f->dir);
	snprintf(f->queue, sizeof(f->queue), "%s/queue", f->dir);
	if (git_repository_init(&f->repo, f->repo_path, 1) < 0 ||
	    queue_prepare(f->queue, err, sizeof(err)) < 0)
		return -1;
	make_token(f->aws_key, "AKIA", 16, 7, AWS_ALPHABET);
	make_token(f->other_key, "AKIA", 16, 17, AWS_ALPHABET);
	make_token(f->token, "tok_", 36, 11, NULL);
	make_token(f->canary, "cnry", 28, 13, NULL);
	values[0] = f->token;
	values[1] = f->canary;
	f->engine = engine_new(names, values, true, NULL);
	f->repo_config.name = "project";
	f->gate_repo.config = &f->repo_config;
	f->gate_repo.path = f->repo_path;
	f->gate.repos = &f->gate_repo;
	f->gate.nrepos = 1;
	f->gate.dlp = f->engine;
	f->gate.queue_dir = f->queue;
	f->gate.bottle = "test";
	f->gate.config.scan_max_commits = 100;
	f->gate.config.scan_max_blob = 64 * 1024;
	f->session.gate = &f->gate;
	f->session.repo = &f->gate_repo;
	f->session.service = GITGATE_RECEIVE_PACK;
	buf_init(&f->messages, 64 * 1024);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	git_repository_free(f->repo);
	dlp_engine_free(f->engine);
	buf_release(&f->messages);
	free(f->cmd.ref);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

struct file {
	const char *path;
	const char *data;
	size_t len; /* 0: strlen(data) */
};

/* A commit on parent (NULL: a root) replacing or adding files, by who. */
static git_oid commit_as(struct fixture *f, const git_oid *parent, const struct file *files,
			 size_t n, const char *who, const char *email, const char *message)
{
	git_treebuilder *builder;
	git_commit *parent_commit = NULL;
	git_tree *base = NULL, *tree;
	git_signature *sig;
	git_oid blob, tree_id, id;
	size_t i;

	if (parent) {
		assert_int_equal(git_commit_lookup(&parent_commit, f->repo, parent), 0);
		assert_int_equal(git_commit_tree(&base, parent_commit), 0);
	}
	assert_int_equal(git_treebuilder_new(&builder, f->repo, base), 0);
	for (i = 0; i < n; i++) {
		size_t len = files[i].len ? files[i].len : strlen(files[i].data);

		assert_int_equal(git_blob_create_from_buffer(&blob, f->repo, files[i].data, len), 0);
		assert_int_equal(git_treebuilder_insert(NULL, builder, files[i].path, &blob,
							GIT_FILEMODE_BLOB), 0);
	}
	assert_int_equal(git_treebuilder_write(&tree_id, builder), 0);
	assert_int_equal(git_tree_lookup(&tree, f->repo, &tree_id), 0);
	assert_int_equal(git_signature_new(&sig, who, email, 1700000000, 0), 0);
	assert_int_equal(git_commit_create_v(&id, f->repo, NULL, sig, sig, NULL,
					     message ? message : "a change\n", tree,
					     parent ? 1 : 0, parent_commit), 0);
	git_signature_free(sig);
	git_tree_free(tree);
	git_tree_free(base);
	git_treebuilder_free(builder);
	git_commit_free(parent_commit);
	return id;
}

static git_oid commit_files(struct fixture *f, const git_oid *parent, const struct file *files,
			    size_t n)
{
	return commit_as(f, parent, files, n, "Agent", "agent@bottle.test", NULL);
}

/* A commit on parent adding or replacing one file, its text from fmt. */
static git_oid commit_text(struct fixture *f, const git_oid *parent, const char *path,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static git_oid commit_text(struct fixture *f, const git_oid *parent, const char *path,
			   const char *fmt, ...)
{
	char text[256];
	struct file file = { path, text, 0 };
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return commit_files(f, parent, &file, 1);
}

static void set_ref(struct fixture *f, const char *name, const git_oid *id)
{
	git_reference *ref;

	assert_int_equal(git_reference_create(&ref, f->repo, name, id, 1, NULL), 0);
	git_reference_free(ref);
}

/* An existing main with one clean commit: what pushes build on. */
static git_oid base(struct fixture *f)
{
	const struct file readme = { "README", "a project\n", 0 };
	git_oid id = commit_files(f, NULL, &readme, 1);

	set_ref(f, "refs/heads/main", &id);
	return id;
}

/* receive-pack's command for ref from old to new, scanned. */
static int push(struct fixture *f, const char *ref, const git_oid *old_id, const git_oid *new_id)
{
	free(f->cmd.ref);
	memset(&f->cmd, 0, sizeof(f->cmd));
	f->cmd.ref = strdup(ref);
	if (old_id)
		f->cmd.old_id = *old_id;
	f->cmd.new_id = *new_id;
	buf_clear(&f->messages);
	return push_scan_run(&f->session, f->repo, &f->cmd, 1, &f->messages, &f->stats);
}

static bool said(const struct fixture *f, const char *text)
{
	return strstr(f->messages.p, text) != NULL;
}

static size_t pending_count(const struct fixture *f)
{
	struct queue_list list;
	char err[256];
	size_t n;

	assert_int_equal(queue_list_pending(f->queue, &list, err, sizeof(err)), 0);
	n = list.n;
	queue_list_release(&list);
	return n;
}

/* The one pending proposal, read into p. */
static void only_proposal(const struct fixture *f, struct queue_proposal *p)
{
	struct queue_list list;
	char err[256];

	assert_int_equal(queue_list_pending(f->queue, &list, err, sizeof(err)), 0);
	assert_int_equal(list.n, 1);
	assert_int_equal(queue_read_proposal(f->queue, list.items[0].id, p, err, sizeof(err)), 0);
	queue_list_release(&list);
}

static void respond(const struct fixture *f, const char *id, enum queue_verdict verdict,
		    const char *note)
{
	struct queue_response r = { .verdict = verdict, .who = "alice", .note = (char *)note };
	char err[256];

	snprintf(r.id, sizeof(r.id), "%s", id);
	if (queue_respond(f->queue, &r, err, sizeof(err)) < 0)
		fail_msg("respond: %s", err);
}

static void test_clean_push_passes(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f);
	const struct file code = { "main.c", "int main(void) { return 0; }\n", 0 };
	git_oid new_id = commit_files(f, &old_id, &code, 1);

	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_false(f->cmd.failed);
	assert_int_equal(f->messages.len, 0);
	assert_int_equal(f->stats.commits, 1);
	assert_int_equal(pending_count(f), 0);
}

static void test_refs_at_blobs_do_not_stop_the_walk(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), blob, new_id;
	const struct file code = { "main.c", "int z;\n", 0 };

	/* git's own repository has one (junio-gpg-pub): hidden refs are
	 * whatever refs/ holds. */
	assert_int_equal(git_blob_create_from_buffer(&blob, f->repo, "key\n", 4), 0);
	set_ref(f, "refs/tags/a-blob", &blob);
	new_id = commit_files(f, &old_id, &code, 1);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_false(f->cmd.failed);
	assert_int_equal(f->stats.commits, 1);
	/* Pushing a ref at a blob is refused: there is no history to scan. */
	assert_int_equal(push(f, "refs/tags/b-blob", NULL, &blob), 0);
	assert_true(f->cmd.failed);
	assert_non_null(strstr(f->cmd.reason, "blob"));
}

static void test_aws_key_is_rejected_and_proposed(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f);
	char hash[QUEUE_HASH_HEX], hex[GIT_OID_SHA1_HEXSIZE + 1], line[256];
	struct queue_proposal p;
	git_oid new_id;

	new_id = commit_text(f, &old_id, "config.env", "REGION=eu-west-1\nAWS_ACCESS_KEY_ID=%s\n",
			     f->aws_key);
	git_oid_tostr(hex, sizeof(hex), &new_id);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_string_equal(f->cmd.reason, "secret found: see the remote: lines");
	snprintf(line, sizeof(line), "secret in config.env line 2 of commit %.12s: aws-access-key-id",
		 hex);
	assert_true(said(f, line));
	assert_true(said(f, "asks the operator to allow it"));
	assert_null(strstr(f->messages.p, f->aws_key));
	only_proposal(f, &p);
	assert_int_equal(p.kind, QUEUE_GITLEAKS_ALLOW);
	assert_string_equal(p.repo, "project");
	assert_string_equal(p.ref, "refs/heads/main");
	assert_string_equal(p.commit, hex);
	assert_string_equal(p.path, "config.env");
	assert_int_equal(p.line, 2);
	assert_string_equal(p.rule, "aws-access-key-id");
	assert_string_equal(p.detector, "rule");
	assert_string_equal(p.bottle, "test");
	assert_true(said(f, p.id));
	assert_int_equal(queue_sha256_hex(f->aws_key, strlen(f->aws_key), hash), 0);
	assert_string_equal(p.value_hash, hash);
	assert_null(strstr(p.preview, f->aws_key));
	assert_null(strstr(p.justification, f->aws_key));
	queue_proposal_release(&p);
}

static void test_retry_waits_then_approval_passes(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f);
	char err[256];
	struct queue_proposal p;
	git_oid new_id;

	new_id = commit_text(f, &old_id, "config.env", "key: %s\n", f->aws_key);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	only_proposal(f, &p);

	/* A retry before the operator answers: the same proposal, waiting. */
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "is waiting for the operator"));
	assert_true(said(f, p.id));
	assert_int_equal(pending_count(f), 1);
	assert_int_equal(f->stats.proposals, 0);

	respond(f, p.id, QUEUE_APPROVED, "a test fixture, revoked");
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_false(f->cmd.failed);
	assert_true(said(f, "approved by the operator"));
	/* The gate acted on the answer: archived, and still honoured. */
	assert_int_equal(queue_status(f->queue, p.id, err, sizeof(err)), QUEUE_PROCESSED);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_false(f->cmd.failed);
	assert_int_equal(pending_count(f), 0);
	queue_proposal_release(&p);
}

static void test_approval_covers_that_finding_only(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), first, second;
	struct queue_proposal p, q;

	first = commit_text(f, &old_id, "config.env", "key: %s\n", f->aws_key);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &first), 0);
	only_proposal(f, &p);
	respond(f, p.id, QUEUE_APPROVED, "a fixture");
	/* The same value in another file of a later commit is a new finding. */
	second = commit_text(f, &first, "other.env", "key: %s\n", f->aws_key);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &second), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "approved by the operator"));
	assert_true(said(f, "secret in other.env line 1"));
	only_proposal(f, &q);
	assert_string_equal(q.path, "other.env");
	assert_string_not_equal(q.id, p.id);
	queue_proposal_release(&p);
	queue_proposal_release(&q);
}

static void test_rejection_stays_with_the_note(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;
	struct queue_proposal p;
	int i;

	new_id = commit_text(f, &old_id, "config.env", "key: %s\n", f->aws_key);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	only_proposal(f, &p);
	respond(f, p.id, QUEUE_REJECTED, "a live key: rotate it");
	for (i = 0; i < 2; i++) {
		assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
		assert_true(f->cmd.failed);
		assert_string_equal(f->cmd.reason, "secret found: see the remote: lines");
		assert_true(said(f, "the operator rejected proposal"));
		assert_true(said(f, "a live key: rotate it"));
		assert_int_equal(pending_count(f), 0);
		assert_int_equal(f->stats.proposals, 0);
	}
	queue_proposal_release(&p);
}

static void test_known_secret_from_env(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;
	struct queue_proposal p;

	new_id = commit_text(f, &old_id, "deploy.sh",
			     "#!/bin/sh\n# deploy\ncurl -H 'X-Token: %s' host\n", f->token);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "secret in deploy.sh line 3"));
	assert_true(said(f, "DEPLOY_TOKEN"));
	assert_null(strstr(f->messages.p, f->token));
	only_proposal(f, &p);
	assert_string_equal(p.detector, "known");
	assert_int_equal(p.line, 3);
	queue_proposal_release(&p);
}

static void test_canary_never_passes(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;

	new_id = commit_text(f, &old_id, "notes.txt", "remember %s\n", f->canary);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "canary"));
	assert_null(strstr(f->messages.p, f->canary));
	/* Nothing to approve: no proposal. */
	assert_int_equal(pending_count(f), 0);
}

static void test_binary_blob_scanned_byte_exact(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;
	char data[512];
	struct file bin = { "image.bin", data, sizeof(data) };
	struct queue_proposal p;
	size_t i;

	for (i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 % 256);
	data[300] = '\0';
	memcpy(data + 301, f->aws_key, 20);
	data[321] = '\0';
	new_id = commit_files(f, &old_id, &bin, 1);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "secret in image.bin"));
	only_proposal(f, &p);
	assert_string_equal(p.path, "image.bin");
	queue_proposal_release(&p);
}

static void test_blob_over_the_bound_fails_closed(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;
	static char data[4096];
	struct file big = { "big.dat", data, sizeof(data) };

	memset(data, 'a', sizeof(data));
	f->gate.config.scan_max_blob = 1024;
	new_id = commit_files(f, &old_id, &big, 1);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_non_null(strstr(f->cmd.reason, "big.dat"));
	assert_non_null(strstr(f->cmd.reason, "1024"));
	assert_true(said(f, "scan_max_blob"));
	assert_int_equal(f->stats.blobs_scanned, 0);
}

static void test_identity_rule(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), good, bad;
	const struct file code = { "main.c", "int x;\n", 0 };

	f->gate.config.user_name = "Agent";
	f->gate.config.user_email = "Agent@Bottle.test";
	good = commit_files(f, &old_id, &code, 1);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &good), 0);
	assert_false(f->cmd.failed);
	bad = commit_as(f, &good, &code, 1, "Mallory", "mallory@example.test", NULL);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &bad), 0);
	assert_true(f->cmd.failed);
	assert_non_null(strstr(f->cmd.reason, "Mallory <mallory@example.test>"));
	assert_non_null(strstr(f->cmd.reason, "author"));
	assert_true(said(f, "--reset-author"));
}

static void test_too_many_commits(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), tip = old_id;
	char name[16];
	struct file file = { name, "x\n", 0 };
	int i;

	f->gate.config.scan_max_commits = 3;
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		tip = commit_files(f, &tip, &file, 1);
	}
	assert_int_equal(push(f, "refs/heads/main", &old_id, &tip), 0);
	assert_true(f->cmd.failed);
	assert_non_null(strstr(f->cmd.reason, "more than 3 new commits"));
	assert_true(said(f, "scan_max_commits"));
	/* Three is within the bound. */
	f->gate.config.scan_max_commits = 4;
	assert_int_equal(push(f, "refs/heads/main", &old_id, &tip), 0);
	assert_false(f->cmd.failed);
	assert_int_equal(f->stats.commits, 4);
}

static void test_same_blob_scanned_once(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), first, second;

	first = commit_text(f, &old_id, "a.env", "key=%s\n", f->aws_key);
	second = commit_text(f, &first, "b.env", "key=%s\n", f->aws_key);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &second), 0);
	assert_int_equal(f->stats.commits, 2);
	assert_int_equal(f->stats.blobs_scanned, 1);
	assert_int_equal(f->stats.blobs_reused, 1);
	/* Read once, yet told in each place it was added. */
	assert_true(said(f, "secret in a.env line 1"));
	assert_true(said(f, "secret in b.env line 1"));
	assert_int_equal(pending_count(f), 2);
}

static void test_old_secret_is_not_blamed(void **state)
{
	struct fixture *f = *state;
	char old_text[128], new_text[192];
	struct file before = { "config.env", old_text, 0 }, after = { "config.env", new_text, 0 };
	git_oid old_id, new_id;

	/* Already on main, so already upstream: not this push's doing. */
	snprintf(old_text, sizeof(old_text), "key=%s\n", f->aws_key);
	old_id = commit_files(f, NULL, &before, 1);
	set_ref(f, "refs/heads/main", &old_id);
	snprintf(new_text, sizeof(new_text), "# settings\nkey=%s\nregion=eu\n", f->aws_key);
	new_id = commit_files(f, &old_id, &after, 1);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_false(f->cmd.failed);
	assert_int_equal(f->stats.commits, 1);
	assert_int_equal(f->stats.blobs_scanned, 1);
	assert_int_equal(pending_count(f), 0);

	/* A key added to the middle of the changed file is this push's. */
	snprintf(new_text, sizeof(new_text), "# settings\nkey=%s\nnew=%s\nregion=eu\n", f->aws_key,
		 f->other_key);
	new_id = commit_files(f, &old_id, &after, 1);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "secret in config.env line 3"));
	assert_false(said(f, "line 2"));
	assert_int_equal(pending_count(f), 1);
}

static void test_commit_message_scanned(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;
	const struct file code = { "main.c", "int y;\n", 0 };
	char message[128];

	snprintf(message, sizeof(message), "fix\n\nused key %s to test\n", f->aws_key);
	new_id = commit_as(f, &old_id, &code, 1, "Agent", "agent@bottle.test", message);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "secret in (commit message) line 3"));
}

static void test_without_queue_only_rejects(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;

	f->gate.queue_dir = NULL;
	new_id = commit_text(f, &old_id, "config.env", "key=%s\n", f->aws_key);
	assert_int_equal(push(f, "refs/heads/main", &old_id, &new_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "remove it from the commit"));
	assert_int_equal(pending_count(f), 0);
}

static void test_two_refs_one_commit_one_proposal(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), new_id;
	struct push_command cmds[2];
	size_t i;

	new_id = commit_text(f, &old_id, "config.env", "key=%s\n", f->aws_key);
	memset(cmds, 0, sizeof(cmds));
	cmds[0].ref = "refs/heads/a";
	cmds[1].ref = "refs/heads/b";
	for (i = 0; i < 2; i++)
		cmds[i].new_id = new_id;
	assert_int_equal(push_scan_run(&f->session, f->repo, cmds, 2, &f->messages, &f->stats), 0);
	assert_true(cmds[0].failed);
	assert_true(cmds[1].failed);
	assert_int_equal(f->stats.blobs_scanned, 1);
	assert_int_equal(pending_count(f), 1);
}

static void test_deletes_and_failed_commands_skipped(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), zero;

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(push(f, "refs/heads/main", &old_id, &zero), 0);
	assert_false(f->cmd.failed);
	assert_int_equal(f->stats.commits, 0);
}

static void test_annotated_tag_message_scanned(void **state)
{
	struct fixture *f = *state;
	git_oid old_id = base(f), tag_id;
	git_object *target;
	git_signature *sig;
	char message[128];

	snprintf(message, sizeof(message), "release\n\nkey %s\n", f->aws_key);
	assert_int_equal(git_object_lookup(&target, f->repo, &old_id, GIT_OBJECT_COMMIT), 0);
	assert_int_equal(git_signature_new(&sig, "Agent", "agent@bottle.test", 1700000000, 0), 0);
	assert_int_equal(git_tag_annotation_create(&tag_id, f->repo, "v1", target, sig, message), 0);
	assert_int_equal(push(f, "refs/tags/v1", NULL, &tag_id), 0);
	assert_true(f->cmd.failed);
	assert_true(said(f, "secret in (tag message) line 3"));
	git_signature_free(sig);
	git_object_free(target);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clean_push_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refs_at_blobs_do_not_stop_the_walk, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_aws_key_is_rejected_and_proposed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry_waits_then_approval_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_approval_covers_that_finding_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rejection_stays_with_the_note, setup, teardown),
		cmocka_unit_test_setup_teardown(test_known_secret_from_env, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canary_never_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_binary_blob_scanned_byte_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_over_the_bound_fails_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_identity_rule, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_commits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_blob_scanned_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_old_secret_is_not_blamed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_message_scanned, setup, teardown),
		cmocka_unit_test_setup_teardown(test_without_queue_only_rejects, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_refs_one_commit_one_proposal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deletes_and_failed_commands_skipped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_annotated_tag_message_scanned, setup, teardown),
	};
	int ret;

	git_libgit2_init();
	ret = cmocka_run_group_tests_name("push_scan", tests, NULL, NULL);
	git_libgit2_shutdown();
	return ret;
}

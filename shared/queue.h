/* The supervise queue: proposals an agent (or egress, or the git gate)
 * makes, and the operator's answers, as one JSON file each in a directory
 * the bundle and the host share (docs/supervise-queue.md).
 *
 * One queue directory per bottle (/run/supervise/queue in the bundle,
 * <queue-root>/<bottle>/ on the host):
 *
 *   pending/<id>.json             a proposal awaiting its waiter
 *   responses/<id>.json           the operator's answer to it
 *   processed/<id>.json           archived by the waiter, with
 *   processed/<id>.response.json  its answer, or
 *   processed/<id>.withdrawn.json a proposal whose waiter gave up
 *
 * Every file is written to a temporary name in its final directory, synced
 * and renamed (or linked) into place, so a reader sees a whole file or none.
 * State changes (respond, withdraw, archive) take an flock on <dir>/.lock,
 * so several threads and processes on either side may share a queue.
 *
 * Reading is strict: unknown keys or kinds, missing fields, wrong types,
 * files over QUEUE_FILE_MAX give a negative errno and a one-line message
 * naming the file, never a crash.  Ids come from CLI users and MCP clients,
 * so every function taking one refuses anything but [A-Za-z0-9-].
 *
 * Every function returns 0 (or a documented positive value) or a negative
 * errno with a message in err; none exits, none keeps global state. */
#ifndef BOTTLE_QUEUE_H
#define BOTTLE_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A proposal or response file larger than this is refused unread. */
#define QUEUE_FILE_MAX (1024 * 1024)
/* "20261129T194700Z-0123abcd" and room for ids others choose. */
#define QUEUE_ID_MAX 64
/* "2026-11-29T19:47:00Z" */
#define QUEUE_TIME_MAX 24
/* Lowercase hex of a SHA-256 digest, plus NUL. */
#define QUEUE_HASH_HEX 65
/* Longest justification, note, preview or other free text, in bytes. */
#define QUEUE_TEXT_MAX 4096

enum queue_kind {
	QUEUE_EGRESS_ALLOW,       /* "egress-allow": routes_yaml, bounds */
	QUEUE_EGRESS_BLOCK,       /* "egress-block": routes_yaml */
	QUEUE_EGRESS_TOKEN_ALLOW, /* "egress-token-allow": a DLP hit held by egress */
	QUEUE_GITLEAKS_ALLOW,     /* "gitleaks-allow": a secret found in a push */
};

enum queue_verdict {
	QUEUE_APPROVED,
	QUEUE_MODIFIED, /* approved with the operator's routes_yaml */
	QUEUE_REJECTED,
};

/* Where a proposal stands (queue_status). */
enum queue_state {
	QUEUE_PENDING = 1,   /* in pending/, not answered */
	QUEUE_ANSWERED = 2,  /* in pending/ with a response, waiter not back yet */
	QUEUE_PROCESSED = 3, /* archived with its response */
	QUEUE_WITHDRAWN = 4, /* its waiter gave up before an answer */
};

/* Optional limits on a grant; 0 means none. */
struct queue_bounds {
	uint64_t expires_in;   /* seconds after the decision */
	uint64_t max_requests; /* requests the grant lets through */
};

/* A proposal.  The read functions fill the strings with heap copies that
 * queue_proposal_release() frees; queue_submit() only reads them, so a
 * caller may point them at its own storage.  Strings that do not apply to
 * the kind are NULL. */
struct queue_proposal {
	char id[QUEUE_ID_MAX];        /* set by queue_submit */
	char created[QUEUE_TIME_MAX]; /* RFC 3339 UTC, set by queue_submit */
	time_t created_at;            /* the same, parsed by the readers */
	enum queue_kind kind;
	char *bottle;
	char *justification;

	/* egress-allow, egress-block: the whole proposed routes.yaml */
	char *routes_yaml;
	struct queue_bounds bounds; /* egress-allow and egress-token-allow */

	/* egress-token-allow: the held request; gitleaks-allow: path is the
	 * file in the repository.  preview is redacted context, never the
	 * value; value_hash is queue_sha256_hex() of the value. */
	char *host, *method, *path, *detector, *rule, *preview, *value_hash;

	/* gitleaks-allow */
	char *repo, *ref, *commit;
	uint64_t line;

	/* Not in the file: set by queue_list_pending() and
	 * queue_read_proposal() when a response is waiting for it. */
	bool answered;
};

struct queue_response {
	char id[QUEUE_ID_MAX];
	enum queue_verdict verdict;
	char *note;
	char *routes_yaml; /* the final file, QUEUE_MODIFIED only */
	/* As decided; queue_respond() turns 0 into the proposal's bound and
	 * refuses a bound looser than the one proposed. */
	struct queue_bounds bounds;
	char *who;                    /* the operator's user name */
	char decided[QUEUE_TIME_MAX]; /* set by queue_respond */
};

/* Pending proposals, oldest first, and one message per file skipped. */
struct queue_list {
	struct queue_proposal *items;
	size_t n;
	char **problems;
	size_t nproblems;
};

const char *queue_kind_name(enum queue_kind kind);
/* 0 and *kind set, or -EINVAL for a name that is not a kind. */
int queue_kind_parse(const char *name, enum queue_kind *kind);
const char *queue_verdict_name(enum queue_verdict verdict);
const char *queue_state_name(enum queue_state state);

/* true for 1..QUEUE_ID_MAX-1 bytes of [A-Za-z0-9-]: safe as a file name. */
bool queue_id_valid(const char *id);
/* true for a bottle name: 1..63 bytes of [A-Za-z0-9_.-], not starting
 * with '.'. */
bool queue_bottle_valid(const char *name);
/* Lowercase hex SHA-256 of data into out (QUEUE_HASH_HEX bytes). */
int queue_sha256_hex(const void *data, size_t len, char out[QUEUE_HASH_HEX]);
/* "2026-11-29T19:47:00Z" for t. */
void queue_format_time(time_t t, char out[QUEUE_TIME_MAX]);
/* The reverse, for exactly that form: 0, or -EINVAL for anything else. */
int queue_parse_time(const char *s, time_t *out);

/* Write data to dir/name through a temporary file in dir, synced before
 * it appears under its name (then the directory is synced).  With
 * exclusive, an existing dir/name wins: -EEXIST. */
int queue_write_atomic(const char *dir, const char *name, const void *data, size_t len,
		       bool exclusive, char *err, size_t errlen);

/* The whole of a regular file of at most QUEUE_FILE_MAX bytes into out
 * (buf_init'ed here; released on error); symlinks are refused. */
struct buf;
int queue_read_file(const char *path, struct buf *out, char *err, size_t errlen);

/* Create dir and its pending/, responses/ and processed/ (mode 0750). */
int queue_prepare(const char *dir, char *err, size_t errlen);

/* Check p against its kind's required fields, give it a fresh id and
 * created time (written back into p) and write pending/<id>.json. */
int queue_submit(const char *dir, struct queue_proposal *p, char *err, size_t errlen);

/* Read pending/<id>.json, else the archived copy; -ENOENT if neither. */
int queue_read_proposal(const char *dir, const char *id, struct queue_proposal *out,
			char *err, size_t errlen);

/* Every proposal in pending/, answered or not, oldest first.  A malformed
 * or foreign file is skipped with a message in list->problems; the call
 * fails only when the directory cannot be read. */
int queue_list_pending(const char *dir, struct queue_list *list, char *err, size_t errlen);

/* Every archived proposal in processed/ (answered ones; withdrawn ones are
 * not listed), oldest first, answered set when its response is there: for
 * a proposer that must find its earlier proposal again (the git gate's
 * gitleaks-allow on a retried push).  Problems and failures as above. */
int queue_list_processed(const char *dir, struct queue_list *list, char *err, size_t errlen);

/* Where id stands: a positive enum queue_state, or -ENOENT. */
int queue_status(const char *dir, const char *id, char *err, size_t errlen);

/* Answer a pending proposal: -ENOENT if it is not pending (withdrawn,
 * archived or unknown: the message says which), -EEXIST if already
 * answered, -EINVAL if r does not fit the proposal (a reason is required
 * to reject and to allow a token or a leak; QUEUE_MODIFIED only for
 * egress kinds and with routes_yaml; bounds only tighten).  Fills in
 * r->decided and r->bounds as recorded. */
int queue_respond(const char *dir, struct queue_response *r, char *err, size_t errlen);

/* The answer to id from responses/ or processed/: 0 with out filled,
 * -ENOENT when there is none. */
int queue_read_response(const char *dir, const char *id, struct queue_response *out,
			char *err, size_t errlen);

/* Non-blocking wait: 1 and out filled when answered, 0 when still pending,
 * -ENOENT when id is neither pending nor answered (withdrawn, unknown). */
int queue_poll_response(const char *dir, const char *id, struct queue_response *out,
			char *err, size_t errlen);

/* The waiter, once it has acted on the answer, moves the proposal and its
 * response into processed/.  -ENOENT if id is not pending, -EAGAIN if it
 * has no response yet. */
int queue_archive(const char *dir, const char *id, char *err, size_t errlen);

/* A waiter that gives up moves its unanswered proposal to
 * processed/<id>.withdrawn.json.  -EALREADY when the operator answered
 * first (the caller then reads, acts on and archives the answer),
 * -ENOENT when it is not pending. */
int queue_withdraw(const char *dir, const char *id, char *err, size_t errlen);

/* ---- grants: the bounded approvals egress enforces ----
 *
 * Egress counts what each grant (a `grant:` key on routes, named by the
 * proposal id) lets through and notices when it ends, in the bottle's
 * queue directory:
 *
 *   grants/<id>.count       the requests counted, as decimal text (egress)
 *   grants/<id>.ended.json  written once, when the grant ends (egress)
 *   grants/<id>.logged      the operator's CLI put the end in the audit log
 */
#define QUEUE_GRANTS_DIR "grants"

enum queue_grant_end_reason {
	QUEUE_GRANT_EXPIRED,      /* "expired": its expires_at passed */
	QUEUE_GRANT_MAX_REQUESTS, /* "max_requests": its requests were used */
};

struct queue_grant_end {
	char id[QUEUE_ID_MAX];
	enum queue_grant_end_reason reason;
	char ended[QUEUE_TIME_MAX]; /* RFC 3339 UTC */
	time_t ended_at;            /* the same, parsed by the reader */
	uint64_t requests;          /* counted when it ended */
	bool logged;                /* not in the file: grants/<id>.logged exists */
};

/* Ended grants of one queue, oldest end first, and one message per file
 * skipped. */
struct queue_grant_ends {
	struct queue_grant_end *v;
	size_t n;
	char **problems;
	size_t nproblems;
};

const char *queue_grant_end_reason_name(enum queue_grant_end_reason reason);
/* Write grants/<id>.ended.json atomically (creating grants/): -EEXIST when
 * the grant's end is already recorded. */
int queue_grant_end_write(const char *dir, const struct queue_grant_end *e, char *err,
			  size_t errlen);
int queue_grant_end_parse(const char *name, const char *text, size_t len,
			  struct queue_grant_end *out, char *err, size_t errlen);
/* Every grants/<id>.ended.json, malformed ones reported in problems;
 * a queue without grants/ has none. */
int queue_grant_ends_list(const char *dir, struct queue_grant_ends *out, char *err,
			  size_t errlen);
void queue_grant_ends_release(struct queue_grant_ends *ends);
/* Append a "grant-ended" entry to the audit log for every end not logged
 * yet, marking each logged after its entry is written; *logged counts
 * them.  One process at a time per queue (an flock on grants/). */
int queue_grant_ends_log(const char *dir, const char *bottle, const char *log_path,
			 size_t *logged, char *err, size_t errlen);

void queue_proposal_release(struct queue_proposal *p);
void queue_response_release(struct queue_response *r);
void queue_list_release(struct queue_list *list);

/* Parse one proposal or response file's bytes (name is used in messages
 * and, when it ends in <id>.json, must match the id inside).  The readers
 * above use these; they are public for tests and fuzzing. */
int queue_proposal_parse(const char *name, const char *text, size_t len,
			 struct queue_proposal *out, char *err, size_t errlen);
int queue_response_parse(const char *name, const char *text, size_t len,
			 struct queue_response *out, char *err, size_t errlen);
/* Check p has what its kind requires and nothing malformed. */
int queue_proposal_check(const struct queue_proposal *p, char *err, size_t errlen);
/* The file's bytes (pretty JSON, newline-terminated) in *out, which the
 * caller frees.  No checks: queue_submit() and queue_respond() check. */
int queue_proposal_encode(const struct queue_proposal *p, char **out, size_t *len);
int queue_response_encode(const struct queue_response *r, char **out, size_t *len);

/* The audit log: one JSON line per decision, each holding the SHA-256 of
 * the line before it ("prev"), and <log>.head holding the last line's
 * hash and the count, so an edited, reordered or truncated log fails
 * queue_audit_verify().  Appends take an flock on the log. */
int queue_audit_append(const char *log_path, const struct queue_proposal *p,
		       const struct queue_response *r, char *err, size_t errlen);
/* A "grant-ended" entry (bottle, id, reason, ended, requests) on the
 * same chain. */
int queue_audit_append_grant_end(const char *log_path, const char *bottle,
				 const struct queue_grant_end *e, char *err, size_t errlen);
/* 0 and *entries set when the chain holds; -EBADMSG naming the first bad
 * line otherwise; -ENOENT when there is no log. */
int queue_audit_verify(const char *log_path, size_t *entries, char *err, size_t errlen);

#endif

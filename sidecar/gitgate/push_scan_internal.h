/* push_scan()'s parts (gitgate.h, docs/gitgate.md "Push scanning"):
 *
 *   push_scan.c          the commands: their new commits, the bounds, the
 *                        identity rule, and the messages for the client
 *   push_scan_diff.c     one commit: its diff against the first parent, each
 *                        new blob scanned once per push, findings kept to
 *                        the lines the commit added
 *   push_approval.c      a blocking finding and the operator: the earlier
 *                        gitleaks-allow proposal, its answer, or a new one
 *
 * Nothing here holds a matched value: a finding is kept as where it is,
 * what matched it, a 4-character preview and the value's SHA-256. */
#ifndef SIDECAR_GITGATE_PUSH_SCAN_INTERNAL_H
#define SIDECAR_GITGATE_PUSH_SCAN_INTERNAL_H

#include "gitgate.h"

#include "../../shared/dlp.h"
#include "../../shared/queue.h"

/* Blobs remembered per push; past this many a blob seen again is scanned
 * again (slower, never weaker). */
#define PUSH_SCAN_BLOBS_MAX 65536
/* Finding lines written to the client per push; the rest are counted. */
#define PUSH_SCAN_LINES_MAX 40
/* New proposals per push: a push full of secrets must not flood the
 * operator's queue.  Past it, a finding only fails its command. */
#define PUSH_SCAN_PROPOSALS_MAX 32
/* Longest path (after cleaning) kept in a message or a proposal. */
#define PUSH_SCAN_PATH_MAX 1024

/* The pseudo-paths of text that is not a file. */
#define PUSH_SCAN_COMMIT_MESSAGE "(commit message)"
#define PUSH_SCAN_TAG_MESSAGE "(tag message)"

/* One finding of one blob, as the push remembers it. */
struct scan_hit {
	enum dlp_detector detector;
	bool warn_only;
	bool structural;  /* the canary: never passes, never proposed */
	char rule[48];
	char name[64];    /* the env var of a known secret, else empty */
	char preview[24];
	uint64_t offset, len;
	uint64_t first_line, last_line; /* from 1 */
	char value_hash[QUEUE_HASH_HEX];
};

/* A blob scanned in this push and what it held. */
struct scanned_blob {
	git_oid id;
	bool used;
	bool overflow;          /* more blocking findings than the engine keeps */
	uint16_t nhits;
	struct scan_hit *hits;  /* owned; NULL when none */
};

/* A gitleaks-allow proposal for this repository, pending or archived,
 * or made by this push. */
struct known_proposal {
	char id[QUEUE_ID_MAX];
	char commit[GIT_OID_SHA1_HEXSIZE + 1];
	char *path;
	uint64_t line;
	char *rule;
	char value_hash[QUEUE_HASH_HEX];
	time_t created_at;
};

/* Counted for the log and the tests. */
struct push_scan_stats {
	size_t commits;       /* new commits walked */
	size_t blobs_scanned; /* blobs read and fed to the engine */
	size_t blobs_reused;  /* blobs seen again and not rescanned */
	size_t findings;      /* blocking findings on new lines */
	size_t proposals;     /* proposals written */
};

struct push_scan {
	struct gitgate_session *session;
	git_repository *repo;
	struct buf *messages;
	struct dlp_scan dlp;
	bool dlp_ready;
	struct scanned_blob *blobs; /* open addressing on the id */
	size_t blobs_cap, nblobs;
	struct known_proposal *known;
	size_t nknown, known_cap;
	bool known_loaded;
	git_odb *odb;
	size_t lines_shown, lines_hidden; /* findings told the client, and not */
	bool blocked;                     /* a finding failed a command */
	struct push_scan_stats stats;
};

/* Where an occurrence of a finding is, for messages and proposals. */
struct scan_place {
	struct push_command *cmd;
	const char *commit_hex;   /* full */
	const char *commit_short;
	const char *path;         /* cleaned: printable, one line */
};

/* push_scan() with the counts; the unit tests call it. */
int push_scan_run(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
		  size_t n, struct buf *messages, struct push_scan_stats *stats);

/* push_scan_diff.c */

/* Scan what commit adds against its first parent (the empty tree for a
 * root) and its message; fails cmd on a blocking finding or an oversized
 * file.  0, or a negative errno with s->err set when the scan cannot run. */
int push_scan_commit(struct push_scan *ps, struct push_command *cmd, git_commit *commit);
/* Scan an annotated tag's message as the tag's own text. */
int push_scan_tag(struct push_scan *ps, struct push_command *cmd, git_tag *tag);
void push_scan_blobs_release(struct push_scan *ps);

/* push_scan.c */

/* Fail cmd with reason (the first reason stays). */
void push_scan_fail(struct push_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append one line for the client (a newline is added); past the per-push
 * bound lines are counted instead.  Never fails: a full buffer drops it. */
void push_scan_say(struct push_scan *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s->err from libgit2's last error: "scan: what: why"; returns -EIO. */
int push_scan_git_failure(struct push_scan *ps, const char *what);
/* Copy src into dst (size bytes) with control bytes as '?': client- and
 * agent-made text (paths, names) must not forge lines. */
void push_scan_clean(char *dst, size_t size, const char *src, size_t len);
/* A blocking finding at place: logged, explained, failed or passed. */
void push_scan_finding(struct push_scan *ps, const struct scan_place *place,
		       const struct scan_hit *hit);

/* push_approval.c */

enum approval {
	APPROVAL_PASS,   /* the operator approved this exact finding */
	APPROVAL_BLOCK,  /* anything else; the next step is in messages */
};

/* What the operator loop says of a blocking, non-structural finding:
 * the earlier proposal's answer, or a new proposal.  Writes the
 * "what happens next" line to messages. */
enum approval push_approval_check(struct push_scan *ps, const struct scan_place *place,
				  const struct scan_hit *hit);
void push_approval_release(struct push_scan *ps);

#endif

/* receive-pack's parts (receive_pack.c runs them in order):
 *
 *   receive_pack_commands.c  the client's request: commands, capabilities,
 *                            shallow lines and push options
 *   quarantine.c             where the pack ends, the pack indexed into
 *                            objects/incoming-XXXXXX, moved in or removed
 *   receive_pack_checks.c    connectivity and the old-id check
 *   push_policy.c            protected refs, fast-forward and delete rules
 *
 * Everything returns 0 or a negative errno with a one-line reason. */
#ifndef SIDECAR_GITGATE_RECEIVE_PACK_H
#define SIDECAR_GITGATE_RECEIVE_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zlib.h>

#include "gitgate.h"
#include "pkt_line.h"

/* Bounds on what one client may ask for in one push. */
#define RECEIVE_MAX_COMMANDS 4096
#define RECEIVE_MAX_PUSH_OPTIONS 64
#define RECEIVE_PUSH_OPTIONS_MAX_BYTES (64 * 1024)
/* A pack's size when the config sets no request_max. */
#define RECEIVE_PACK_MAX_DEFAULT (2ULL * 1024 * 1024 * 1024)

/* ---- the request (receive_pack_commands.c) ---- */

enum receive_stage {
	RECEIVE_SHALLOW_OR_COMMANDS, /* shallow lines may come before the commands */
	RECEIVE_COMMANDS,
	RECEIVE_PUSH_OPTIONS,        /* after the commands' flush, when negotiated */
	RECEIVE_DONE,
};

struct receive_request {
	struct push_command *cmds;
	size_t ncmds, cmds_cap;
	char **push_options;
	size_t npush_options, push_options_bytes;
	/* The capabilities the client asked for on its first command. */
	bool report_status, report_status_v2, side_band_64k, quiet, atomic, push_options_asked;
	bool shallow;        /* shallow lines: a push from a shallow clone */
	enum receive_stage stage;
};

void receive_request_init(struct receive_request *r);
void receive_request_release(struct receive_request *r);
/* One packet of the request.  0: more wanted; 1: the request is complete
 * (a flush with no command at all is a complete, empty request); or a
 * negative errno (-EPROTO malformed, -E2BIG over a bound, -ENOMEM) with
 * err saying what. */
int receive_request_feed(struct receive_request *r, const struct pkt *pkt, char *err,
			 size_t err_len);
/* The request's pkt-lines at *p: 1 when complete (*p past the last flush,
 * where the pack starts), 0 when the bytes end first (*p past what was
 * used), or receive_request_feed()'s and pkt_parse()'s errors. */
int receive_request_parse(struct receive_request *r, const char **p, const char *end, char *err,
			  size_t err_len);
/* Whether the client sends a pack: any command that is not a delete. */
bool receive_request_wants_pack(const struct receive_request *r);
/* "abc1234..def5678" for the log, zero ids as "0000000". */
void push_command_describe(const struct push_command *cmd, char *out, size_t out_len);
void push_command_fail(struct push_command *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- where a pack ends (quarantine.c) ---- */

/* A pack's stream, followed byte by byte to find its end (the client does
 * not close its side after the pack, so the pack itself says where it
 * ends): the header, each object's header and zlib stream, the trailer. */
struct pack_stream {
	int state;
	unsigned char header[12];
	size_t got;              /* bytes of the current header or trailer */
	uint32_t objects_left;
	int object_type;
	bool in_size, in_offset; /* inside an object header's varints */
	z_stream zlib;
	bool zlib_ready;
	unsigned char sink[16384];
};

void pack_stream_init(struct pack_stream *ps);
void pack_stream_release(struct pack_stream *ps);
/* Follow len more bytes: 1 when the pack ended inside them (*used: how many
 * of them are the pack's), 0 when all are used and more are needed,
 * -EPROTO when they cannot be a pack (err says why), -ENOMEM. */
int pack_stream_feed(struct pack_stream *ps, const unsigned char *p, size_t len, size_t *used,
		     char *err, size_t err_len);

/* ---- the quarantine (quarantine.c) ---- */

struct quarantine {
	char *objects_dir; /* <repo>/objects */
	char *dir;         /* <repo>/objects/incoming-XXXXXX; NULL until created */
	char *pack_name;   /* "pack-<hash>" once indexed; NULL: no objects came */
	uint32_t objects;  /* in the pack, thin bases included */
	uint32_t thin_bases; /* objects a thin pack left out, copied from the repository */
	int lock_fd;       /* dir, flocked while the push lives; -1 until created */
};

/* Bytes of a pack, bounded: what quarantine_receive() reads from. */
struct quarantine_source {
	struct pkt_reader *reader;
	uint64_t max_bytes;
	int64_t deadline_ms; /* monotonic; 0: none */
};

void quarantine_init(struct quarantine *q);
/* Read the pack from src and index it with git_indexer into a new
 * quarantine directory, completing a thin pack from odb.  0, or a
 * negative errno with err holding the "unpack" reason the client sees. */
int quarantine_receive(struct quarantine *q, const char *objects_dir, git_odb *odb,
		       struct quarantine_source *src, char *err, size_t err_len);
/* Let odb (the session's repository) see the quarantined objects. */
int quarantine_attach(struct quarantine *q, git_odb *odb, char *err, size_t err_len);
/* Move the pack into objects/pack: the .pack first, the .idx last, so a
 * reader never sees an index without its pack. */
int quarantine_migrate(struct quarantine *q, char *err, size_t err_len);
/* Delete the quarantine directory (whatever is left of it) and free q. */
void quarantine_release(struct quarantine *q);

int64_t receive_now_ms(void);

/* ---- checks (receive_pack_checks.c) ---- */

/* Every object the new id needs that no existing ref reaches is present:
 * commits, trees, blobs and tags (gitlinks excepted).  Fails the command
 * with a reason; negative only when the check itself could not run. */
int receive_check_connected(git_repository *repo, struct push_command *cmd);
/* The ref is where the client says it is: fails the command otherwise. */
int receive_check_old_id(git_repository *repo, struct push_command *cmd);
/* A command's ref name is one git accepts and starts with refs/. */
bool receive_ref_name_valid(const char *ref);

/* ---- policy (push_policy.c) ---- */

/* Whether ref matches one of the patterns: an exact name, or a prefix
 * ending in "*".  A pattern without "refs/" names a branch: "main" is
 * refs/heads/main, "release/" followed by "*" every refs/heads/release/... */
bool push_policy_protected(const struct gitgate_repo_config *config, const char *ref);
/* The repository's rules for one command not yet failed: protected refs,
 * deletes and non-fast-forward updates.  Fails the command with a reason;
 * negative only when the check could not run (a fast-forward test). */
int push_policy_check(const struct gitgate_repo_config *config, git_repository *repo,
		      struct push_command *cmd);

#endif

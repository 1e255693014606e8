/* The git gate (`sidecar gitgate`): serves git smart-HTTP and git:// for
 * the repositories it mirrors, scans pushes with the DLP engine and
 * forwards clean ones upstream (docs/gitgate.md).
 *
 * How the modules meet:
 *
 *   gitgate_main.c     options, start-up, the listeners
 *   gitgate_config.c   gitgate.yaml -> struct gitgate_config
 *   transport_http.c   smart-HTTP (:9420)     } each turns a client into a
 *   transport_daemon.c git:// (:9418)         } struct gitgate_session and
 *   transport_stdio.c  stdin/stdout (--stdio) } calls a service
 *   access_hook.c      the operator's hook, run before every service
 *   pkt_line.c         framing (pkt_line.h)
 *   upload_pack.c      clone / fetch, protocol v0, v1, v2
 *   receive_pack.c     push: commands, the pack into quarantine, checks,
 *                      then push_scan(), mirror_forward(), ref updates
 *   push_policy.c      protected refs, fast-forward and delete rules
 *   push_scan.c        DLP over the new commits, identity rules,
 *                      gitleaks-allow proposals and their approvals
 *   mirror.c           fetch from upstream into the bare mirror
 *   pack_merge.c       after a push or fetch: more than 16 packs merged
 *                      into one; the readers lock that keeps packs in use
 *   mirror_forward.c   push upstream with the deploy key
 *
 * Library and per-connection code never exits: 0 or a negative errno, with
 * a one-line reason in the session's err (never a secret). */
#ifndef SIDECAR_GITGATE_H
#define SIDECAR_GITGATE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <git2.h>

#include "../../shared/buf.h"

struct dlp_engine;

/* ---- a byte stream to the client ---- */

/* A transport's two directions.  Services write through pkt_write*() and
 * call gitgate_io_flush() before every read that waits for the client and
 * when they finish: writes may be buffered until then. */
struct gitgate_io {
	void *ctx;
	/* Up to len bytes: count read, 0 at end of input, negative errno. */
	ssize_t (*read)(void *ctx, void *p, size_t len);
	/* All len bytes, or a negative errno. */
	int (*write)(void *ctx, const void *p, size_t len);
	/* Push buffered bytes out: 0 or a negative errno.  May be NULL. */
	int (*flush)(void *ctx);
};

static inline int gitgate_io_flush(struct gitgate_io *io)
{
	return io->flush ? io->flush(io->ctx) : 0;
}

/* ---- configuration (gitgate_config.c, docs/gitgate.md) ---- */

struct gitgate_repo_config {
	char *name;             /* [A-Za-z0-9][A-Za-z0-9._-]*, not ending ".git";
	                           served as /<name>.git and /<name> */
	char *upstream;         /* https://, ssh://, user@host:path, git://, or
	                           an absolute path (tests); NULL: no upstream,
	                           the gate's own repository */
	char *token_env;        /* https: the variable holding the token */
	char *deploy_key;       /* ssh: the private key file */
	char *known_hosts;      /* ssh: the pinned host key(s), known_hosts format */
	char **protected_refs;  /* NULL-terminated; exact names or a trailing "*" */
	bool allow_force_push;  /* non-fast-forward updates of unprotected refs */
	bool allow_delete;      /* deleting unprotected refs */
	unsigned long line;     /* where the entry starts in the config file */
};

struct gitgate_config {
	char *path;                 /* the file it was read from */
	char *http_listen;          /* "[addr]:port", default ":9420"; NULL: off */
	char *git_listen;           /* default ":9418"; NULL: off */
	char *data_dir;             /* mirrors live in <data_dir>/<name>.git */
	uint64_t mirror_max_age_ms; /* fetch before an upload-pack when older */
	char *hook;                 /* access hook program; NULL: the built-in policy */
	uint64_t hook_timeout_ms;
	uint64_t operation_timeout_ms; /* one upload-pack or receive-pack */
	uint64_t request_max;       /* bytes of one smart-HTTP request body */
	char *user_name;            /* identity rule: new commits must be */
	char *user_email;           /*   authored and committed by this user */
	uint64_t scan_max_commits;  /* new commits scanned per push; more fails closed */
	uint64_t scan_max_blob;     /* bytes of one file scanned; larger fails closed */
	struct gitgate_repo_config *repos;
	size_t nrepos;
};

/* 0, or -EINVAL with "file:line:col: message" in err. */
int gitgate_config_load(const char *path, struct gitgate_config *out, char *err, size_t err_len);
void gitgate_config_release(struct gitgate_config *c);
/* Whether a client-supplied name is a well-formed repository name. */
bool gitgate_repo_name_valid(const char *name, size_t len);

/* ---- the running gate ---- */

struct gitgate_repo {
	const struct gitgate_repo_config *config;
	char *path;               /* the bare repository */
	pthread_mutex_t push_lock; /* one receive-pack at a time */
	pthread_mutex_t fetch_lock;
	int64_t fetched_at_ms;    /* last successful fetch (monotonic), 0: never */
	bool fetch_failed;        /* the last fetch failed: serving the last good mirror */
	int64_t fetch_attempted_at_ms; /* last fetch attempt ended (monotonic), 0: never;
	                                  a failing upstream is retried once per max age */
};

struct gitgate {
	struct gitgate_config config;
	struct gitgate_repo *repos; /* one per config.repos[i] */
	size_t nrepos;
	struct dlp_engine *dlp;     /* NULL: --no-dlp */
	const char *queue_dir;      /* NULL: no operator loop; a finding only rejects */
	const char *bottle;
};

/* The configured repository called name[0..len), or NULL. */
struct gitgate_repo *gitgate_repo_find(struct gitgate *gate, const char *name, size_t len);

/* ---- one service run ---- */

enum gitgate_service {
	GITGATE_UPLOAD_PACK,  /* git-upload-pack: clone, fetch */
	GITGATE_RECEIVE_PACK, /* git-receive-pack: push */
};

struct gitgate_session {
	struct gitgate *gate;
	struct gitgate_repo *repo;
	enum gitgate_service service;
	struct gitgate_io *in, *out;
	int protocol;          /* 0, 1 or 2, as the client asked (GIT_PROTOCOL,
	                          Git-Protocol, git:// "version=N") */
	bool stateless_rpc;    /* smart-HTTP POST: one request and its response */
	bool advertise_refs;   /* smart-HTTP info/refs: the advertisement only */
	const char *remote_addr; /* who the client is, as the transport sees it */
	const char *peer_addr;   /* the socket's peer */
	char err[256];         /* why the service failed, one line, for the log */
};

int upload_pack_serve(struct gitgate_session *s);
int receive_pack_serve(struct gitgate_session *s);

/* ---- a push, between receive-pack and its checks ---- */

struct push_command {
	git_oid old_id, new_id; /* zero: create / delete */
	char *ref;
	bool failed;            /* set with reason; later stages skip it */
	char reason[256];       /* the `ng` reason the client shows */
};

/* The new commits of every command not failed, against `repo` (its odb
 * sees the quarantined objects): DLP findings and identity rules.  A
 * finding fails its command and adds `remote:` lines (file, line, commit,
 * rule, never the value) to messages, and proposes it to the operator.
 * A negative return means the scan could not run: the caller fails every
 * command closed with s->err. */
int push_scan(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
	      size_t n, struct buf *messages);

/* Bring the mirror up to date when older than the configured age (or
 * always, with force).  A failed fetch keeps the last good mirror: 0 with
 * a warning logged; negative only when there is no mirror to serve. */
int mirror_refresh(struct gitgate *gate, struct gitgate_repo *repo, bool force, char *err,
		   size_t err_len);
/* Push the commands not failed to the upstream, before the gate updates
 * its own refs.  An upstream's rejection of a ref fails that command with
 * the upstream's reason; negative when the upstream could not be reached
 * (the caller fails every command with err). */
int mirror_forward(struct gitgate_session *s, git_repository *repo, struct push_command *cmds,
		   size_t n, struct buf *messages, char *err, size_t err_len);

/* Run the access hook (or the built-in policy): 0 allowed; -EACCES
 * denied, message holding what the client is shown; another negative
 * errno when the hook could not run (denied too: fail closed). */
int access_hook_check(struct gitgate_session *s, const char *repo_name, char *message,
		      size_t message_len);

#endif

/* upload-pack's parts, shared between the protocol front ends
 * (upload_pack.c: v0/v1, upload_pack_v2.c: v2), the shallow boundary
 * (upload_shallow.c) and the pack itself (pack_send.c).  Internal to the
 * git gate; the entry point is upload_pack_serve() in gitgate.h. */
#ifndef SIDECAR_GITGATE_UPLOAD_PACK_H
#define SIDECAR_GITGATE_UPLOAD_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "gitgate.h"
#include "oid_map.h"
#include "pkt_line.h"

/* Caps on what one client may send: every list below is network-fed. */
#define UPLOAD_WANTS_MAX 100000
#define UPLOAD_HAVES_MAX 1000000
#define UPLOAD_SHALLOWS_MAX 100000
#define UPLOAD_DEEPEN_NOT_MAX 1000
#define UPLOAD_REF_PREFIXES_MAX 64
/* Want x common-have reachability checks spent deciding "ready": past it
 * the server stops offering "ready" and the client simply says "done". */
#define UPLOAD_READY_CHECKS_MAX 20000

struct oid_array {
	git_oid *v;
	size_t n, cap, max;
};

struct upload_ref {
	char *name;           /* "HEAD", "refs/heads/main" */
	char *symref_target;  /* a symbolic ref's target, else NULL */
	git_oid oid;          /* zero when unborn */
	git_oid peeled;       /* an annotated tag's final target */
	bool has_peeled;
	bool unborn;          /* HEAD pointing at a branch not yet born */
};

enum multi_ack {
	MULTI_ACK_NONE,
	MULTI_ACK_PLAIN,
	MULTI_ACK_DETAILED,
};

struct upload_pack {
	struct gitgate_session *s;
	git_repository *repo;
	struct pkt_reader *reader;
	int readers_fd;          /* the packs' readers lock, shared (pack_merge.h) */

	struct upload_ref *refs; /* HEAD first (when it exists), then sorted */
	size_t nrefs;
	struct oid_map tips;     /* every advertised id and peeled id */
	git_oid *tip_commits;    /* the tips that are commits, for reachability */
	size_t ntip_commits;
	bool refs_loaded;

	/* One request (a v0 conversation, one v2 fetch command). */
	struct oid_array wants;
	struct oid_map wanted;
	struct oid_array commons;      /* haves we have, in the order seen */
	struct oid_map common_set;
	struct oid_array client_shallows;
	struct oid_map client_shallow_set;
	struct oid_array deepen_not;   /* resolved ids of deepen-not refs */
	int depth;                     /* deepen N; 0: none */
	bool deepen_relative;
	int64_t deepen_since;          /* 0: none */
	enum multi_ack multi_ack;
	bool no_done, thin_pack, ofs_delta, no_progress, include_tag, done;
	size_t sideband_max;           /* 0: no side-band; else payload per packet */
	bool sideband_active;          /* errors go to band 3 from now on */

	/* "ready": for wants[i], whether it descends from a common have and
	 * how many commons were checked against it already. */
	bool *want_ready;
	size_t *want_checked;
	size_t ready_checks;

	/* The boundary computed for this request (upload_shallow_send). */
	struct oid_map shallow;        /* commits the client must treat as parentless */
	struct oid_array unshallowed;  /* client shallows whose parents are now sent */
	bool shallow_mode;             /* the walk must respect the boundary */
};

int oid_array_push(struct oid_array *a, const git_oid *oid);
void oid_array_release(struct oid_array *a);

/* Report a failure: s->err for the log, and the client told on side-band 3
 * or with "ERR ...".  Returns ret (a negative errno). */
int upload_fail(struct upload_pack *u, int ret, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The next packet from the client (pkt_read), after pushing out what we
 * wrote unless the packet is already buffered. */
int upload_read(struct upload_pack *u, struct pkt *pkt);
/* A client's line made printable and short (control bytes as '?', a cut
 * marked "..."), for an error message; returns out. */
const char *upload_line_for_message(struct str line, char *out, size_t len);
/* Whether *s starts with prefix; if so *s is moved past it. */
bool upload_skip_prefix(struct str *s, const char *prefix);
/* libgit2's last error, for messages. */
const char *upload_git_error(void);

/* The refs and their peeled ids, into u->refs and u->tips. */
int upload_refs_load(struct upload_pack *u);
/* The capability list advertised in protocol v0/v1. */
int upload_capabilities_v0(struct upload_pack *u, struct buf *out);

/* "want <hex>" payload: checked against the advertised refs (a tip, or a
 * commit reachable from one), added once.  Fails closed. */
int upload_want_add(struct upload_pack *u, struct str hex);
/* "have <hex>" payload: *common says whether we have it (it is recorded). */
int upload_have_add(struct upload_pack *u, struct str hex, bool *common);
/* Whether every want descends from a common have (git's ok_to_give_up). */
bool upload_ready(struct upload_pack *u);

/* shallow, deepen, deepen-since, deepen-not lines (and "deepen-relative"
 * as a v2 argument): *matched says whether line was one of them. */
int upload_shallow_line(struct upload_pack *u, struct str line, bool *matched);
/* Whether the request asks for a boundary (deepen, -since, -not). */
bool upload_shallow_requested(const struct upload_pack *u);
/* Compute the boundary and write the shallow / unshallow lines (not the
 * flush or delimiter after them).  Also sets up u->shallow for the walk
 * when the client is shallow and does not deepen. */
int upload_shallow_send(struct upload_pack *u);

/* Build the pack for the current request and stream it: on side-band 1
 * (progress on 2) when negotiated, raw otherwise; a flush after a
 * side-banded pack. */
int upload_pack_send(struct upload_pack *u);

/* Protocol v2: the capability advertisement, then commands. */
int upload_pack_v2(struct upload_pack *u);
/* Mirror freshness before refs are shown (no-op without an upstream). */
int upload_mirror_refresh(struct upload_pack *u);
/* Forget one request's wants, haves and options (a v2 command ends). */
void upload_request_reset(struct upload_pack *u);

#endif

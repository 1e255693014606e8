/* What mirror.c (fetch), mirror_forward.c (push upstream) and
 * mirror_credentials.c (libgit2's credential and host-key callbacks) share,
 * and the pure decisions the unit tests reach (tests/unit/test_mirror.c). */
#ifndef SIDECAR_GITGATE_MIRROR_H
#define SIDECAR_GITGATE_MIRROR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "gitgate.h"

/* One fetch's or push's callback state: what the callbacks need and why
 * one of them refused (libgit2 replaces a callback's error with its own
 * generic one, so the reason is kept here for the caller's err). */
struct mirror_auth {
	const struct gitgate_repo_config *config;
	int port;              /* the upstream's ssh port, for known_hosts */
	unsigned secret_asks;  /* times libgit2 asked for the token or the key */
	char reason[256];      /* why a callback refused; "" when none did */
};

/* Process-wide libgit2 settings the gate's upstream traffic needs, once:
 * a test CA from SSL_CERT_FILE / SSL_CERT_DIR, connect and read timeouts. */
void mirror_libgit2_setup(void);

void mirror_auth_init(struct mirror_auth *auth, const struct gitgate_repo_config *config);
/* Point callbacks->credentials and ->certificate_check at auth. */
void mirror_auth_set_callbacks(struct mirror_auth *auth, git_remote_callbacks *callbacks);
/* The reason a libgit2 call failed, for err: a callback's own reason, else
 * libgit2's last error with any URL's user:password@ cut out. */
void mirror_failure_reason(const struct mirror_auth *auth, char *out, size_t out_len);

/* url (or any text holding URLs) with every "user[:password]@" after a
 * "scheme://" removed, and an scp-like "user@host:path" made "host:path";
 * truncated to out_len. */
void mirror_redact_userinfo(const char *text, char *out, size_t out_len);
/* The host and port of an ssh upstream: ssh://[user@]host[:port]/path,
 * ssh://[user@][v6addr]:port/path or [user@]host:path.  0, or -EINVAL. */
int mirror_url_host_port(const char *url, char *host, size_t host_len, int *port);

/* Whether the known_hosts text [p, end) pins key (an SSH wire-format host
 * key blob, as libssh2 hands it over) for host:port: 1 pinned, 0 not
 * (*host_listed says whether any line named the host at all), -EKEYREVOKED
 * when a @revoked line lists the key.  Plain and hashed (|1|salt|hash) host
 * fields, comma lists, '*' / '?' patterns and '!' negation, as OpenSSH. */
int known_hosts_match(const char *p, const char *end, const char *host, int port,
		      const unsigned char *key, size_t key_len, bool *host_listed);

/* Whether a mirror needs a fetch now: when forced, never tried, or its last
 * fetch or failed attempt (whichever is later) is max_age_ms old. */
bool mirror_fetch_due(int64_t now_ms, int64_t fetched_at_ms, int64_t attempted_at_ms,
		      uint64_t max_age_ms, bool force);

#endif

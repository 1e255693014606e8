/* Who the gate is to the upstream, and who the upstream is to the gate:
 * libgit2's credential callback (an https token read from the environment
 * at use time, or the ssh deploy key) and its certificate callback (the ssh
 * host key pinned against the configured known_hosts; https left to
 * libgit2's verification against the CA bundle).  Secrets never reach a
 * log, a message, a URL or an argv: libgit2 gets them as credentials. */
#include "mirror.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>

#include "../../shared/buf.h"
#include "../../shared/log.h"

/* A known_hosts file is a handful of lines; more is a wrong path. */
#define KNOWN_HOSTS_MAX (1024 * 1024)
/* The largest host key blob (RSA 16384) is about 2 KiB. */
#define HOST_KEY_MAX 4096
#define SHA1_LEN 20

/* libgit2 waits forever on a silent upstream unless told otherwise. */
#define UPSTREAM_CONNECT_TIMEOUT_MS 15000
#define UPSTREAM_READ_TIMEOUT_MS 120000

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;

static void libgit2_setup(void)
{
	const char *file = getenv("SSL_CERT_FILE"), *dir = getenv("SSL_CERT_DIR");
	int timeout = 0;

	/* The variables OpenSSL honours: a private CA (tests, a forge behind a
	 * corporate CA) without rebuilding libgit2's compiled-in bundle path. */
	if ((file && *file) || (dir && *dir)) {
		if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, file && *file ? file : NULL,
				     dir && *dir ? dir : NULL) < 0)
			log_warn("cannot load the CA certificates from SSL_CERT_FILE / SSL_CERT_DIR: %s",
				 git_error_last()->message);
	}
	/* Only when nobody set them: the gate's main may choose its own. */
	if (git_libgit2_opts(GIT_OPT_GET_SERVER_CONNECT_TIMEOUT, &timeout) == 0 && timeout == 0)
		git_libgit2_opts(GIT_OPT_SET_SERVER_CONNECT_TIMEOUT, UPSTREAM_CONNECT_TIMEOUT_MS);
	timeout = 0;
	if (git_libgit2_opts(GIT_OPT_GET_SERVER_TIMEOUT, &timeout) == 0 && timeout == 0)
		git_libgit2_opts(GIT_OPT_SET_SERVER_TIMEOUT, UPSTREAM_READ_TIMEOUT_MS);
}

void mirror_libgit2_setup(void)
{
	pthread_once(&setup_once, libgit2_setup);
}

/* ---- URLs ---- */

static bool is_authority_end(char c)
{
	return c == '\0' || c == '/' || c == '?' || c == '#' || isspace((unsigned char)c) ||
	       c == '\'' || c == '"' || c == ')' || c == '>';
}

/* Append [p, p + len) to out[*used..], truncating at out_len - 1. */
static void append_truncated(char *out, size_t out_len, size_t *used, const char *p, size_t len)
{
	size_t room = out_len - 1 - *used;

	if (len > room)
		len = room;
	memcpy(out + *used, p, len);
	*used += len;
	out[*used] = '\0';
}

void mirror_redact_userinfo(const char *text, char *out, size_t out_len)
{
	const char *p = text, *scheme, *at = strchr(text, '@'), *colon = strchr(text, ':');
	size_t used = 0;

	if (out_len == 0)
		return;
	out[0] = '\0';
	/* scp-like "user@host:path" as the whole text: no scheme, '@' first. */
	if (!strstr(text, "://") && at && colon && at < colon && !strpbrk(text, " \t") &&
	    !memchr(text, '/', (size_t)(at - text)))
		p = at + 1;
	while ((scheme = strstr(p, "://")) != NULL) {
		const char *authority = scheme + 3, *end = authority, *last_at = NULL;

		while (!is_authority_end(*end)) {
			if (*end == '@')
				last_at = end;
			end++;
		}
		append_truncated(out, out_len, &used, p, (size_t)(authority - p));
		p = last_at ? last_at + 1 : authority;
		append_truncated(out, out_len, &used, p, (size_t)(end - p));
		p = end;
	}
	append_truncated(out, out_len, &used, p, strlen(p));
}

static int parse_port(const char *p, const char *end, int *port)
{
	long value = 0;

	if (p == end || end - p > 5)
		return -EINVAL;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		value = value * 10 + (*p - '0');
	}
	if (value < 1 || value > 65535)
		return -EINVAL;
	*port = (int)value;
	return 0;
}

static int copy_host(const char *p, const char *end, char *host, size_t host_len)
{
	if (p == end || (size_t)(end - p) >= host_len)
		return -EINVAL;
	memcpy(host, p, (size_t)(end - p));
	host[end - p] = '\0';
	return 0;
}

int mirror_url_host_port(const char *url, char *host, size_t host_len, int *port)
{
	static const char *const schemes[] = { "ssh://", "ssh+git://", "git+ssh://" };
	const char *authority = NULL, *end, *p;

	*port = 22;
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(url, schemes[i], strlen(schemes[i])) == 0)
			authority = url + strlen(schemes[i]);
	if (authority) {
		end = authority + strcspn(authority, "/");
		p = memrchr(authority, '@', (size_t)(end - authority));
		p = p ? p + 1 : authority;
		if (*p == '[') {
			const char *close = memchr(p, ']', (size_t)(end - p));
			if (!close)
				return -EINVAL;
			if (close + 1 < end && (close[1] != ':' || parse_port(close + 2, end, port) < 0))
				return -EINVAL;
			return copy_host(p + 1, close, host, host_len);
		}
		const char *colon = memchr(p, ':', (size_t)(end - p));
		if (colon && parse_port(colon + 1, end, port) < 0)
			return -EINVAL;
		return copy_host(p, colon ? colon : end, host, host_len);
	}
	/* scp-like: [user@]host:path, where no '/' comes before the ':'. */
	if (strstr(url, "://"))
		return -EINVAL;
	end = strchr(url, ':');
	if (!end || memchr(url, '/', (size_t)(end - url)))
		return -EINVAL;
	p = memrchr(url, '@', (size_t)(end - url));
	return copy_host(p ? p + 1 : url, end, host, host_len);
}

/* ---- known_hosts ---- */

/* OpenSSH's match_pattern: '*' any run, '?' one character, no case. */
static bool glob_match(const char *s, const char *s_end, const char *p, const char *p_end)
{
	const char *star = NULL, *star_s = NULL;

	while (s < s_end) {
		if (p < p_end && (*p == '?' || tolower((unsigned char)*p) == tolower((unsigned char)*s))) {
			p++;
			s++;
		} else if (p < p_end && *p == '*') {
			star = p++;
			star_s = s;
		} else if (star) {
			p = star + 1;
			s = ++star_s;
		} else {
			return false;
		}
	}
	while (p < p_end && *p == '*')
		p++;
	return p == p_end;
}

static int base64_decode(const char *p, const char *end, unsigned char *out, size_t out_len,
			 size_t *len)
{
	return mbedtls_base64_decode(out, out_len, len, (const unsigned char *)p, (size_t)(end - p)) ? -EINVAL
												     : 0;
}

/* "|1|base64(salt)|base64(HMAC-SHA1(salt, name))", as HashKnownHosts writes. */
static bool hashed_host_match(const char *p, const char *end, const char *name, size_t name_len)
{
	unsigned char salt[64], want[64], have[SHA1_LEN];
	size_t salt_len, want_len;
	const char *bar;

	p += 3;
	bar = memchr(p, '|', (size_t)(end - p));
	if (!bar || base64_decode(p, bar, salt, sizeof(salt), &salt_len) < 0 ||
	    base64_decode(bar + 1, end, want, sizeof(want), &want_len) < 0 || want_len != SHA1_LEN)
		return false;
	if (mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1), salt, salt_len,
			    (const unsigned char *)name, name_len, have) != 0)
		return false;
	return memcmp(have, want, SHA1_LEN) == 0;
}

/* A comma list of patterns: any '!' pattern that matches vetoes the line. */
static bool hosts_field_match(const char *p, const char *end, const char *name, size_t name_len)
{
	bool matched = false;

	if (end - p > 3 && memcmp(p, "|1|", 3) == 0)
		return hashed_host_match(p, end, name, name_len);
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *pattern_end = comma ? comma : end;
		bool negated = *p == '!';

		if (glob_match(name, name + name_len, p + negated, pattern_end)) {
			if (negated)
				return false;
			matched = true;
		}
		p = comma ? comma + 1 : end;
	}
	return matched;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *field_end(const char *p, const char *end)
{
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	return p;
}

/* One line: 1 pins the key, -EKEYREVOKED revokes it, 0 neither. */
static int known_hosts_line(const char *p, const char *end, const char *name, size_t name_len,
			    const unsigned char *key, size_t key_len, bool *host_listed)
{
	unsigned char blob[HOST_KEY_MAX];
	const char *hosts, *hosts_end, *type_end, *data, *data_end;
	bool revoked = false;
	size_t blob_len;

	p = skip_blanks(p, end);
	if (p == end || *p == '#')
		return 0;
	hosts_end = field_end(p, end);
	if (*p == '@') {
		/* Host certificates are not supported: such a line pins nothing. */
		if ((size_t)(hosts_end - p) != 8 || memcmp(p, "@revoked", 8) != 0)
			return 0;
		revoked = true;
		p = skip_blanks(hosts_end, end);
		hosts_end = field_end(p, end);
	}
	hosts = p;
	type_end = field_end(skip_blanks(hosts_end, end), end);
	data = skip_blanks(type_end, end);
	data_end = field_end(data, end);
	if (data == data_end || !hosts_field_match(hosts, hosts_end, name, name_len))
		return 0;
	if (!revoked)
		*host_listed = true;
	if (base64_decode(data, data_end, blob, sizeof(blob), &blob_len) < 0)
		return 0;
	if (blob_len != key_len || memcmp(blob, key, key_len) != 0)
		return 0;
	return revoked ? -EKEYREVOKED : 1;
}

int known_hosts_match(const char *p, const char *end, const char *host, int port,
		      const unsigned char *key, size_t key_len, bool *host_listed)
{
	char name[300];
	int n, found = 0;

	*host_listed = false;
	/* OpenSSH writes a host on another port than 22 as "[host]:port". */
	if (port == 22 || port == 0)
		n = snprintf(name, sizeof(name), "%s", host);
	else
		n = snprintf(name, sizeof(name), "[%s]:%d", host, port);
	if (n < 0 || (size_t)n >= sizeof(name))
		return 0;
	while (p < end) {
		const char *line_end = memchr(p, '\n', (size_t)(end - p));
		const char *next = line_end ? line_end + 1 : end;

		if (!line_end)
			line_end = end;
		if (line_end > p && line_end[-1] == '\r')
			line_end--;
		int r = known_hosts_line(p, line_end, name, (size_t)n, key, key_len, host_listed);
		if (r < 0)
			return r; /* a revocation wins over any pin */
		if (r > 0)
			found = 1;
		p = next;
	}
	return found;
}

/* ---- the callbacks ---- */

void mirror_auth_init(struct mirror_auth *auth, const struct gitgate_repo_config *config)
{
	char host[256];

	memset(auth, 0, sizeof(*auth));
	auth->config = config;
	if (mirror_url_host_port(config->upstream, host, sizeof(host), &auth->port) < 0)
		auth->port = 22;
}

static int read_known_hosts(const char *path, struct buf *text)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = buf_read_fd(text, fd);
	close(fd);
	return ret;
}

static int check_host_key(git_cert *cert, int valid, const char *host, void *payload)
{
	struct mirror_auth *auth = payload;
	const char *known_hosts = auth->config->known_hosts;
	const git_cert_hostkey *hostkey = (const git_cert_hostkey *)cert;
	struct buf text;
	bool host_listed;
	int ret = GIT_ECERTIFICATE, r;

	/* https: libgit2 has checked the chain against the CA bundle. */
	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return GIT_PASSTHROUGH;
	/* libgit2's own verdict comes from ~/.ssh/known_hosts, which is not
	 * the file the operator pinned for this repository. */
	(void)valid;
	buf_init(&text, KNOWN_HOSTS_MAX);
	if (!known_hosts) {
		error_format(auth->reason, sizeof(auth->reason),
			     "no known_hosts is configured for %s, so its ssh host key cannot be checked",
			     host);
		goto out;
	}
	if (!(hostkey->type & GIT_CERT_SSH_RAW)) {
		error_format(auth->reason, sizeof(auth->reason),
			     "the ssh library gave no host key of %s to check", host);
		goto out;
	}
	if ((r = read_known_hosts(known_hosts, &text)) < 0) {
		error_format(auth->reason, sizeof(auth->reason), "cannot read known_hosts %s: %s",
			     known_hosts, strerror(-r));
		goto out;
	}
	r = known_hosts_match(text.p, text.p + text.len, host, auth->port,
			      (const unsigned char *)hostkey->hostkey, hostkey->hostkey_len,
			      &host_listed);
	if (r == -EKEYREVOKED)
		error_format(auth->reason, sizeof(auth->reason),
			     "the ssh host key of %s is revoked in %s", host, known_hosts);
	else if (r == 0 && host_listed)
		error_format(auth->reason, sizeof(auth->reason),
			     "the ssh host key of %s does not match %s (a changed key, or a "
			     "key type not pinned there)", host, known_hosts);
	else if (r == 0)
		error_format(auth->reason, sizeof(auth->reason), "%s has no host key for %s",
			     known_hosts, host);
	else
		ret = 0;
out:
	buf_release(&text);
	return ret;
}

/* The deploy key and its public half, "<key>.pub": libssh2's mbedTLS
 * backend cannot derive the public key from every private key format. */
static int ssh_key_credential(git_credential **out, const char *user, struct mirror_auth *auth)
{
	const char *key = auth->config->deploy_key;
	char public_key[4096];
	int n = snprintf(public_key, sizeof(public_key), "%s.pub", key);

	if (n < 0 || (size_t)n >= sizeof(public_key) || access(public_key, R_OK) != 0) {
		error_format(auth->reason, sizeof(auth->reason),
			     "the deploy key's public half %s.pub is missing (ssh-keygen -y -f KEY "
			     "writes it)", key);
		return GIT_EAUTH;
	}
	return git_credential_ssh_key_new(out, user, public_key, key, NULL);
}

static int acquire_credential(git_credential **out, const char *url, const char *username_from_url,
			      unsigned int allowed_types, void *payload)
{
	struct mirror_auth *auth = payload;
	const struct gitgate_repo_config *config = auth->config;

	(void)url;
	if (config->deploy_key && (allowed_types & GIT_CREDENTIAL_SSH_KEY)) {
		/* Asked again: the upstream refused the key; asking forever
		 * would loop. */
		if (auth->secret_asks++ > 0) {
			error_format(auth->reason, sizeof(auth->reason),
				     "the upstream refused the deploy key %s", config->deploy_key);
			return GIT_EAUTH;
		}
		return ssh_key_credential(out, username_from_url ? username_from_url : "git", auth);
	}
	/* ssh asks for the user name first when the URL names none. */
	if (allowed_types & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, username_from_url ? username_from_url : "git");
	if (config->token_env && (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT)) {
		if (auth->secret_asks++ > 0) {
			error_format(auth->reason, sizeof(auth->reason),
				     "the upstream refused the token in $%s", config->token_env);
			return GIT_EAUTH;
		}
		/* Read at use time: a rotated token needs no restart. */
		const char *token = getenv(config->token_env);
		if (!token || !*token) {
			error_format(auth->reason, sizeof(auth->reason),
				     "$%s is empty or not set: no token for the upstream",
				     config->token_env);
			return GIT_EAUTH;
		}
		/* Forges take the token as the password whatever the user
		 * name; x-access-token is the name GitHub documents. */
		return git_credential_userpass_plaintext_new(
			out, username_from_url ? username_from_url : "x-access-token", token);
	}
	error_format(auth->reason, sizeof(auth->reason),
		     "the upstream asks for credentials and none fits (token_env for https, "
		     "deploy_key for ssh)");
	return GIT_EAUTH;
}

void mirror_auth_set_callbacks(struct mirror_auth *auth, git_remote_callbacks *callbacks)
{
	callbacks->credentials = acquire_credential;
	callbacks->certificate_check = check_host_key;
	callbacks->payload = auth;
}

void mirror_failure_reason(const struct mirror_auth *auth, char *out, size_t out_len)
{
	const git_error *e = git_error_last();

	if (auth && auth->reason[0])
		error_format(out, out_len, "%s", auth->reason);
	else if (e && e->message && *e->message)
		mirror_redact_userinfo(e->message, out, out_len);
	else
		error_format(out, out_len, "unknown error");
}

/* Egress TLS: loading the CA and the upstream bundle, the two mbedTLS
 * configurations, and the upstream (client) side with its session cache.
 * Minted leaves and the agent-facing side are in egress_tls_leaf.c;
 * docs/egress-tls.md describes the choices.
 *
 * Randomness comes from mbedtls_psa_get_random(): PSA's one DRBG, seeded
 * once, locked inside PSA (MBEDTLS_THREADING_C), and already initialised
 * for TLS 1.3.  A ctr_drbg of our own would be a second generator with a
 * second lock for no gain. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/psa_util.h>
#include <psa/crypto.h>

#include "../../shared/buf.h"
#include "../../shared/log.h"
#include "egress_tls_internal.h"

#define CA_FILE_MAX ((size_t)1 << 20)
#define BUNDLE_FILE_MAX ((size_t)16 << 20)
#define TICKET_LIFETIME_SECONDS 86400
/* Apple's ceiling for a TLS server certificate's lifetime (398 days). */
#define LEAF_VALIDITY_MAX_HOURS (398 * 24)

/* Cheap groups first; secp384r1 only for peers that insist. */
static const uint16_t tls_groups[] = {
	MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1,
	MBEDTLS_SSL_IANA_TLS_GROUP_NONE,
};

/* AEADs only, the same order on both sides.  The RSA suites matter
 * upstream; the agent side always presents an ECDSA leaf.  AES-128-GCM
 * first: with our AES-GCM inside mbedTLS (deps/mbedtls-gcm) it is the
 * fastest AEAD here, several times ChaCha20-Poly1305 (bench/egress/
 * crypto_ceiling.c), and a bumped transfer is bound by the AEAD
 * (docs/egress-bench.md).  Upstream, where we are the client, most
 * servers take our order; towards the agent mbedTLS takes the client's. */
static const int tls_ciphersuites[] = {
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	0,
};

static const char *tls_alpn[] = { "http/1.1", NULL };

/* ---- helpers ---- */

static const char *mbedtls_text(int code, char *text, size_t text_len)
{
	mbedtls_strerror(code, text, text_len);
	return text;
}

/* Read a whole regular file, NUL-terminated (mbedTLS's PEM parsers count
 * the terminator in the length).  0 or a negative errno. */
static int file_load(const char *path, size_t max, unsigned char **out, size_t *out_len)
{
	int ret = -EIO;
	int fd = -1;
	unsigned char *data = NULL;
	size_t len = 0, cap;
	struct stat st;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		ret = -EFBIG;
		goto out;
	}
	cap = (size_t)st.st_size + 1;
	data = malloc(cap);
	if (data == NULL) {
		ret = -ENOMEM;
		goto out;
	}
	while (len < cap - 1) {
		ssize_t n = read(fd, data + len, cap - 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	data[len] = '\0';
	*out = data;
	*out_len = len + 1;
	data = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(data);
	return ret;
}

static void file_free(unsigned char *data, size_t len)
{
	if (data == NULL)
		return;
	mbedtls_platform_zeroize(data, len);
	free(data);
}

static const char *file_error_text(int ret)
{
	return ret == -EINVAL ? "not a regular file" : strerror(-ret);
}

int egress_tls_host_normalize(const char *host, char *out, size_t out_len,
			      unsigned char ip[16], size_t *ip_len)
{
	size_t len = strlen(host), i;

	*ip_len = 0;
	if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
		host++;
		len -= 2;
	}
	if (len == 0 || len >= out_len || len > 253)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		char ch = host[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (char)(ch - 'A' + 'a');
		if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '.' || ch == '_' || ch == ':'))
			return -EINVAL;
		out[i] = ch;
	}
	out[len] = '\0';
	if (inet_pton(AF_INET, out, ip) == 1) {
		*ip_len = 4;
	} else if (inet_pton(AF_INET6, out, ip) == 1) {
		*ip_len = 16;
	} else if (strchr(out, ':') != NULL) {
		return -EINVAL;
	}
	return 0;
}

/* ---- loading the CA ---- */

/* The CA subject as a DN string whose values are hex DER ("2.5.4.3=#0c..."),
 * so the leaves' issuer keeps each attribute's string type byte for byte:
 * clients that match issuer to subject as raw bytes (Go) need that. */
static int issuer_name_build(struct egress_tls *tls, char *err, size_t err_len,
			     const char *path)
{
	int ret = -EINVAL;
	struct buf name;
	const mbedtls_x509_name *n;
	char oid[64];

	buf_init(&name, 16384);
	for (n = &tls->ca_crt.subject; n != NULL; n = n->next) {
		size_t i;

		if (n->oid.p == NULL)
			continue;
		if (mbedtls_oid_get_numeric_string(oid, sizeof(oid), &n->oid) < 0 ||
		    n->val.len > 0xffff) {
			error_format(err, err_len, "CA certificate %s has an unusable subject", path);
			goto out;
		}
		ret = buf_appendf(&name, "%s%s=#%02x", name.len ? "," : "", oid,
				  (unsigned)n->val.tag & 0xff);
		if (ret == 0 && n->val.len < 0x80)
			ret = buf_appendf(&name, "%02zx", n->val.len);
		else if (ret == 0 && n->val.len < 0x100)
			ret = buf_appendf(&name, "81%02zx", n->val.len);
		else if (ret == 0)
			ret = buf_appendf(&name, "82%04zx", n->val.len);
		for (i = 0; ret == 0 && i < n->val.len; i++)
			ret = buf_appendf(&name, "%02x", n->val.p[i]);
		if (ret < 0) {
			error_format(err, err_len, "CA certificate %s: subject too long", path);
			goto out;
		}
		ret = -EINVAL;
	}
	if (name.len == 0) {
		error_format(err, err_len, "CA certificate %s has an empty subject", path);
		goto out;
	}
	tls->issuer_name = buf_detach(&name, NULL);
	ret = 0;
out:
	buf_release(&name);
	return ret;
}

static int ca_load(struct egress_tls *tls, const struct egress_tls_options *o, char *err,
		   size_t err_len)
{
	int ret;
	unsigned char *data = NULL;
	size_t len = 0;
	char text[128];
	mbedtls_pk_type_t type;

	ret = file_load(o->ca_cert_path, CA_FILE_MAX, &data, &len);
	if (ret < 0) {
		error_format(err, err_len, "cannot read CA certificate %s: %s", o->ca_cert_path,
			file_error_text(ret));
		goto out;
	}
	ret = mbedtls_x509_crt_parse(&tls->ca_crt, data, len);
	if (ret != 0) {
		error_format(err, err_len, "cannot parse CA certificate %s: %s", o->ca_cert_path,
			ret < 0 ? mbedtls_text(ret, text, sizeof(text)) : "not a certificate");
		ret = -EINVAL;
		goto out;
	}
	ret = -EINVAL;
	if (tls->ca_crt.next != NULL) {
		error_format(err, err_len, "CA certificate %s holds more than one certificate",
			o->ca_cert_path);
		goto out;
	}
	if (mbedtls_x509_crt_get_ca_istrue(&tls->ca_crt) != 1) {
		error_format(err, err_len, "CA certificate %s is not a CA (basicConstraints)",
			o->ca_cert_path);
		goto out;
	}
	if (mbedtls_x509_crt_check_key_usage(&tls->ca_crt, MBEDTLS_X509_KU_KEY_CERT_SIGN) != 0) {
		error_format(err, err_len, "CA certificate %s may not sign certificates (keyUsage)",
			o->ca_cert_path);
		goto out;
	}
	if (mbedtls_x509_time_is_past(&tls->ca_crt.valid_to)) {
		error_format(err, err_len, "CA certificate %s has expired", o->ca_cert_path);
		goto out;
	}
	if (tls->ca_crt.subject_key_id.len > 0 &&
	    tls->ca_crt.subject_key_id.len <= sizeof(tls->ca_key_id)) {
		memcpy(tls->ca_key_id, tls->ca_crt.subject_key_id.p, tls->ca_crt.subject_key_id.len);
		tls->ca_key_id_len = tls->ca_crt.subject_key_id.len;
	}
	ret = issuer_name_build(tls, err, err_len, o->ca_cert_path);
	if (ret < 0)
		goto out;
	file_free(data, len);
	data = NULL;

	ret = file_load(o->ca_key_path, CA_FILE_MAX, &data, &len);
	if (ret < 0) {
		error_format(err, err_len, "cannot read CA key %s: %s", o->ca_key_path,
			file_error_text(ret));
		goto out;
	}
	ret = mbedtls_pk_parse_key(&tls->ca_key, data, len, NULL, 0, mbedtls_psa_get_random,
				   MBEDTLS_PSA_RANDOM_STATE);
	if (ret != 0) {
		error_format(err, err_len, "cannot parse CA key %s: %s", o->ca_key_path,
			ret == MBEDTLS_ERR_PK_PASSWORD_REQUIRED ?
				"it is encrypted (a plain PEM key is needed)" :
				mbedtls_text(ret, text, sizeof(text)));
		ret = -EINVAL;
		goto out;
	}
	ret = -EINVAL;
	type = mbedtls_pk_get_type(&tls->ca_key);
	if (type != MBEDTLS_PK_RSA && type != MBEDTLS_PK_ECKEY) {
		error_format(err, err_len, "CA key %s is neither RSA nor EC", o->ca_key_path);
		goto out;
	}
	if (mbedtls_pk_check_pair(&tls->ca_crt.pk, &tls->ca_key, mbedtls_psa_get_random,
				  MBEDTLS_PSA_RANDOM_STATE) != 0) {
		error_format(err, err_len, "CA key %s does not match CA certificate %s", o->ca_key_path,
			o->ca_cert_path);
		goto out;
	}
	ret = 0;
out:
	file_free(data, len);
	return ret;
}

static int bundle_load(struct egress_tls *tls, const char *path, char *err, size_t err_len)
{
	int ret;
	unsigned char *data = NULL;
	size_t len = 0;
	char text[128];

	ret = file_load(path, BUNDLE_FILE_MAX, &data, &len);
	if (ret < 0) {
		error_format(err, err_len, "cannot read upstream CA bundle %s: %s", path,
			file_error_text(ret));
		goto out;
	}
	/* > 0: that many certificates did not parse, the others did. */
	ret = mbedtls_x509_crt_parse(&tls->upstream_ca, data, len);
	if (tls->upstream_ca.version == 0) {
		error_format(err, err_len, "upstream CA bundle %s holds no usable certificate%s%s", path,
			ret < 0 ? ": " : "", ret < 0 ? mbedtls_text(ret, text, sizeof(text)) : "");
		ret = -EINVAL;
		goto out;
	}
	if (ret > 0)
		log_warn("upstream CA bundle %s: %d certificates skipped (unparsable)", path, ret);
	ret = 0;
out:
	file_free(data, len);
	return ret;
}

/* ---- configurations ---- */

static int conf_common(mbedtls_ssl_config *conf, int endpoint)
{
	int ret = mbedtls_ssl_config_defaults(conf, endpoint, MBEDTLS_SSL_TRANSPORT_STREAM,
					      MBEDTLS_SSL_PRESET_DEFAULT);

	if (ret != 0)
		return ret;
	mbedtls_ssl_conf_rng(conf, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
	mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
	mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
	mbedtls_ssl_conf_ciphersuites(conf, tls_ciphersuites);
	mbedtls_ssl_conf_groups(conf, tls_groups);
	return mbedtls_ssl_conf_alpn_protocols(conf, tls_alpn);
}

static int confs_setup(struct egress_tls *tls, char *err, size_t err_len)
{
	int ret;
	char text[128];

	ret = conf_common(&tls->server_conf, MBEDTLS_SSL_IS_SERVER);
	if (ret == 0)
		ret = mbedtls_ssl_ticket_setup(&tls->tickets, mbedtls_psa_get_random,
					       MBEDTLS_PSA_RANDOM_STATE, MBEDTLS_CIPHER_AES_256_GCM,
					       TICKET_LIFETIME_SECONDS);
	if (ret == 0) {
		mbedtls_ssl_conf_session_tickets_cb(&tls->server_conf, mbedtls_ssl_ticket_write,
						    mbedtls_ssl_ticket_parse, &tls->tickets);
		mbedtls_ssl_conf_cert_cb(&tls->server_conf, leaf_cert_cb);
		ret = conf_common(&tls->client_conf, MBEDTLS_SSL_IS_CLIENT);
	}
	if (ret == 0) {
		mbedtls_ssl_conf_authmode(&tls->client_conf, MBEDTLS_SSL_VERIFY_REQUIRED);
		mbedtls_ssl_conf_ca_chain(&tls->client_conf, &tls->upstream_ca, NULL);
		mbedtls_ssl_conf_session_tickets(&tls->client_conf,
						 MBEDTLS_SSL_SESSION_TICKETS_ENABLED);
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
			&tls->client_conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
		return 0;
	}
	error_format(err, err_len, "cannot configure TLS: %s", mbedtls_text(ret, text, sizeof(text)));
	return -EINVAL;
}

/* A leaf minted now must chain to the CA with the issuer bytes it has:
 * catches a subject we cannot reproduce and a mismatched key early. */
static int self_check(struct egress_tls *tls, const char *ca_path, char *err, size_t err_len)
{
	int ret;
	struct leaf_entry *leaf = NULL;
	uint32_t flags = 0;
	mbedtls_x509_crt *ca_next;
	char text[128];

	ret = leaf_mint(tls, "self-check.bottle.invalid", &leaf);
	if (ret < 0) {
		error_format(err, err_len, "cannot mint a leaf with CA certificate %s: %s", ca_path,
			strerror(-ret));
		goto out;
	}
	ret = -EINVAL;
	if (leaf->crt.issuer_raw.len != tls->ca_crt.subject_raw.len ||
	    memcmp(leaf->crt.issuer_raw.p, tls->ca_crt.subject_raw.p,
		   tls->ca_crt.subject_raw.len) != 0) {
		error_format(err, err_len,
			"CA certificate %s: its subject cannot be reproduced in leaf issuers "
			"(repeated or multi-valued attributes)", ca_path);
		goto out;
	}
	/* Verify the leaf alone, not the chain it carries. */
	ca_next = leaf->crt.next;
	leaf->crt.next = NULL;
	ret = mbedtls_x509_crt_verify(&leaf->crt, &tls->ca_crt, NULL, "self-check.bottle.invalid",
				      &flags, NULL, NULL);
	leaf->crt.next = ca_next;
	if (ret != 0) {
		mbedtls_x509_crt_verify_info(text, sizeof(text), "", flags);
		text[strcspn(text, "\n")] = '\0';
		error_format(err, err_len, "a leaf signed with CA %s does not verify: %s", ca_path, text);
		ret = -EINVAL;
		goto out;
	}
	ret = 0;
out:
	if (leaf != NULL)
		leaf_free(leaf);
	return ret;
}

int egress_tls_create(const struct egress_tls_options *options, struct egress_tls **out,
		      char *err, size_t err_len)
{
	int ret = -EINVAL;
	struct egress_tls *tls = NULL;
	unsigned hours = options->leaf_validity_hours ? options->leaf_validity_hours : 24;
	size_t cache_size = options->leaf_cache_size ? options->leaf_cache_size : 1024;
	psa_status_t status;
	char text[128];

	*out = NULL;
	error_format(err, err_len, "%s", "");
	if (options->ca_cert_path == NULL || options->ca_key_path == NULL ||
	    options->upstream_ca_path == NULL) {
		error_format(err, err_len, "egress TLS needs a CA certificate, its key and an "
				      "upstream CA bundle");
		goto out;
	}
	if (hours < 2 || hours > LEAF_VALIDITY_MAX_HOURS) {
		error_format(err, err_len, "leaf validity of %u hours is outside 2..%u", hours,
			LEAF_VALIDITY_MAX_HOURS);
		goto out;
	}
	status = psa_crypto_init();
	if (status != PSA_SUCCESS) {
		error_format(err, err_len, "cannot initialise PSA crypto (status %d)", (int)status);
		ret = -EIO;
		goto out;
	}
	tls = calloc(1, sizeof(*tls));
	if (tls == NULL) {
		ret = -ENOMEM;
		error_format(err, err_len, "out of memory");
		goto out;
	}
	mbedtls_x509_crt_init(&tls->ca_crt);
	mbedtls_pk_init(&tls->ca_key);
	mbedtls_pk_init(&tls->leaf_key);
	mbedtls_x509_crt_init(&tls->upstream_ca);
	mbedtls_ssl_config_init(&tls->server_conf);
	mbedtls_ssl_config_init(&tls->client_conf);
	mbedtls_ssl_ticket_init(&tls->tickets);
	pthread_mutex_init(&tls->leaf_lock, NULL);
	pthread_mutex_init(&tls->session_lock, NULL);
	tls->validity_hours = hours;

	ret = ca_load(tls, options, err, err_len);
	if (ret < 0)
		goto out;
	ret = mbedtls_pk_setup(&tls->leaf_key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (ret == 0)
		ret = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(tls->leaf_key),
					  mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
	if (ret != 0) {
		error_format(err, err_len, "cannot generate the leaf key: %s",
			mbedtls_text(ret, text, sizeof(text)));
		ret = -EIO;
		goto out;
	}
	ret = bundle_load(tls, options->upstream_ca_path, err, err_len);
	if (ret < 0)
		goto out;
	ret = confs_setup(tls, err, err_len);
	if (ret < 0)
		goto out;
	ret = leaf_cache_init(tls, cache_size);
	if (ret < 0) {
		error_format(err, err_len, "out of memory");
		goto out;
	}
	ret = self_check(tls, options->ca_cert_path, err, err_len);
	if (ret < 0)
		goto out;
	*out = tls;
	tls = NULL;
	ret = 0;
out:
	egress_tls_destroy(tls);
	return ret;
}

void egress_tls_destroy(struct egress_tls *tls)
{
	struct session_entry *s, *next;

	if (tls == NULL)
		return;
	leaf_cache_release(tls);
	for (s = tls->session_head; s != NULL; s = next) {
		next = s->next;
		mbedtls_ssl_session_free(&s->session);
		free(s);
	}
	mbedtls_ssl_config_free(&tls->server_conf);
	mbedtls_ssl_config_free(&tls->client_conf);
	mbedtls_ssl_ticket_free(&tls->tickets);
	mbedtls_x509_crt_free(&tls->upstream_ca);
	mbedtls_pk_free(&tls->leaf_key);
	mbedtls_pk_free(&tls->ca_key);
	mbedtls_x509_crt_free(&tls->ca_crt);
	free(tls->issuer_name);
	pthread_mutex_destroy(&tls->leaf_lock);
	pthread_mutex_destroy(&tls->session_lock);
	free(tls);
}

void egress_tls_stats(struct egress_tls *tls, struct egress_tls_stats *out)
{
	out->leaves_minted = __atomic_load_n(&tls->leaves_minted, __ATOMIC_RELAXED);
	out->leaf_cache_hits = __atomic_load_n(&tls->leaf_cache_hits, __ATOMIC_RELAXED);
	out->sessions_resumed = __atomic_load_n(&tls->sessions_resumed, __ATOMIC_RELAXED);
}

/* ---- upstream sessions ---- */

static void session_key(const struct egress_tls_client *client, char *key, size_t key_len)
{
	snprintf(key, key_len, client->ip_len == 16 ? "[%s]:%u" : "%s:%u", client->host,
		 (unsigned)client->port);
}

static void session_unlink(struct egress_tls *tls, struct session_entry *e)
{
	if (e->prev != NULL)
		e->prev->next = e->next;
	else
		tls->session_head = e->next;
	if (e->next != NULL)
		e->next->prev = e->prev;
	else
		tls->session_tail = e->prev;
	e->prev = e->next = NULL;
	tls->session_count--;
}

static struct session_entry *session_find(struct egress_tls *tls, const char *key)
{
	struct session_entry *e;

	for (e = tls->session_head; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void session_offer(struct egress_tls_client *client)
{
	struct egress_tls *tls = client->tls;
	struct session_entry *e;
	char key[sizeof(e->key)];

	session_key(client, key, sizeof(key));
	pthread_mutex_lock(&tls->session_lock);
	e = session_find(tls, key);
	/* set_session copies: the entry may be replaced while we handshake. */
	if (e != NULL && mbedtls_ssl_set_session(&client->ssl, &e->session) == 0)
		client->offered = true;
	pthread_mutex_unlock(&tls->session_lock);
}

/* Whether a session can resume anything: a TLS 1.3 session exported before
 * its NewSessionTicket arrived carries no ticket, and storing it would push
 * out a good one.  mbedTLS 3.6 has no public accessor for the client-side
 * ticket, hence the private field. */
static bool session_resumable(mbedtls_ssl_context *ssl, const mbedtls_ssl_session *s)
{
	if (s->MBEDTLS_PRIVATE(ticket_len) > 0)
		return true;
	return mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_2 &&
	       mbedtls_ssl_session_get_id_len(s) > 0;
}

/* Resumption shows as a finished handshake in which no certificate was
 * verified (mbedTLS 3.6 exposes no "resumed" flag): the verify callback runs
 * on every full handshake, TLS 1.2 and 1.3, and never on a resumed one. */
static void client_look(struct egress_tls_client *client)
{
	if (client->looked || !mbedtls_ssl_is_handshake_over(&client->ssl))
		return;
	client->looked = true;
	client->resumed = client->offered && !client->verified;
	if (client->resumed)
		__atomic_fetch_add(&client->tls->sessions_resumed, 1, __ATOMIC_RELAXED);
}

bool egress_tls_client_resumed(struct egress_tls_client *client)
{
	if (client->tls == NULL)
		return false;
	client_look(client);
	return client->resumed;
}

void egress_tls_client_save_session(struct egress_tls_client *client)
{
	struct egress_tls *tls = client->tls;
	struct session_entry *e = NULL, *old = NULL, *evicted = NULL;

	if (tls == NULL || !mbedtls_ssl_is_handshake_over(&client->ssl))
		return;
	client_look(client);
	e = calloc(1, sizeof(*e));
	if (e == NULL)
		return;
	mbedtls_ssl_session_init(&e->session);
	/* Fails at once (without copying) when this session was saved already. */
	if (mbedtls_ssl_get_session(&client->ssl, &e->session) != 0 ||
	    !session_resumable(&client->ssl, &e->session))
		goto out;
	session_key(client, e->key, sizeof(e->key));

	pthread_mutex_lock(&tls->session_lock);
	old = session_find(tls, e->key);
	if (old != NULL)
		session_unlink(tls, old);
	e->next = tls->session_head;
	if (tls->session_head != NULL)
		tls->session_head->prev = e;
	tls->session_head = e;
	if (tls->session_tail == NULL)
		tls->session_tail = e;
	tls->session_count++;
	if (tls->session_count > SESSION_CACHE_SIZE) {
		evicted = tls->session_tail;
		session_unlink(tls, evicted);
	}
	pthread_mutex_unlock(&tls->session_lock);
	e = NULL;
out:
	if (e != NULL) {
		mbedtls_ssl_session_free(&e->session);
		free(e);
	}
	if (old != NULL) {
		mbedtls_ssl_session_free(&old->session);
		free(old);
	}
	if (evicted != NULL) {
		mbedtls_ssl_session_free(&evicted->session);
		free(evicted);
	}
}

/* ---- upstream connections ---- */

static bool crt_has_ip(const mbedtls_x509_crt *crt, const unsigned char *ip, size_t ip_len)
{
	const mbedtls_x509_sequence *cur;

	for (cur = &crt->subject_alt_names; cur != NULL && cur->buf.p != NULL; cur = cur->next) {
		mbedtls_x509_subject_alternative_name san;
		bool match;

		if (mbedtls_x509_parse_subject_alt_name(&cur->buf, &san) != 0)
			continue;
		match = san.type == MBEDTLS_X509_SAN_IP_ADDRESS &&
			san.san.unstructured_name.len == ip_len &&
			memcmp(san.san.unstructured_name.p, ip, ip_len) == 0;
		mbedtls_x509_free_subject_alt_name(&san);
		if (match)
			return true;
	}
	return false;
}

/* Runs for each certificate of the chain on a full handshake.  For an IP
 * literal, mbedTLS was told no hostname (so it sends no SNI, which may not
 * carry an address); the leaf's IP SANs are checked here instead. */
static int client_verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct egress_tls_client *client = ctx;

	client->verified = true;
	if (depth == 0 && client->ip_len != 0 && !crt_has_ip(crt, client->ip, client->ip_len))
		*flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
	return 0;
}

int egress_tls_client_setup(struct egress_tls *tls, struct egress_tls_client *client,
			    const char *host, uint16_t port)
{
	int ret = -EINVAL;

	mbedtls_ssl_init(&client->ssl);
	client->tls = NULL;
	client->port = port;
	client->offered = client->verified = client->looked = client->resumed = false;
	if (egress_tls_host_normalize(host, client->host, sizeof(client->host), client->ip,
				      &client->ip_len) < 0)
		goto out;
	if (mbedtls_ssl_setup(&client->ssl, &tls->client_conf) != 0) {
		ret = -ENOMEM;
		goto out;
	}
	client->tls = tls;
	mbedtls_ssl_set_verify(&client->ssl, client_verify_cb, client);
	if (mbedtls_ssl_set_hostname(&client->ssl, client->ip_len ? NULL : client->host) != 0) {
		ret = -ENOMEM;
		goto out;
	}
	session_offer(client);
	ret = 0;
out:
	return ret;
}

/* mbedTLS offers only the cached session's TLS version when it resumes, so
 * a session from a server that has since changed versions fails every
 * handshake: a failed handshake that offered one forgets it. */
static void session_forget(struct egress_tls_client *client)
{
	struct egress_tls *tls = client->tls;
	struct session_entry *e;
	char key[sizeof(e->key)];

	session_key(client, key, sizeof(key));
	pthread_mutex_lock(&tls->session_lock);
	e = session_find(tls, key);
	if (e != NULL)
		session_unlink(tls, e);
	pthread_mutex_unlock(&tls->session_lock);
	if (e != NULL) {
		mbedtls_ssl_session_free(&e->session);
		free(e);
	}
}

void egress_tls_client_release(struct egress_tls_client *client)
{
	if (client->tls != NULL && client->offered && !mbedtls_ssl_is_handshake_over(&client->ssl))
		session_forget(client);
	if (client->tls != NULL)
		client_look(client);
	mbedtls_ssl_free(&client->ssl);
	client->tls = NULL;
}

static void failure_append(struct buf *b, const char *words)
{
	buf_appendf(b, "%s%s", b->len ? "; " : "", words);
}

const char *egress_tls_client_failure(struct egress_tls_client *client, int handshake_ret,
				      char *out, size_t out_len)
{
	struct buf why;
	uint32_t flags = mbedtls_ssl_get_verify_result(&client->ssl);
	char text[160];

	buf_init(&why, 512);
	if ((handshake_ret == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED ||
	     handshake_ret == MBEDTLS_ERR_SSL_BAD_CERTIFICATE) &&
	    flags != 0 && flags != UINT32_MAX) {
		uint32_t rest = flags;

		if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
			failure_append(&why, "certificate is not trusted by the upstream CA bundle");
		if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH)
			buf_appendf(&why, "%scertificate name does not match %s",
				    why.len ? "; " : "", client->host);
		if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCRL_EXPIRED))
			failure_append(&why, "certificate expired");
		if (flags & (MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCRL_FUTURE))
			failure_append(&why, "certificate is not yet valid");
		if (flags & MBEDTLS_X509_BADCERT_REVOKED)
			failure_append(&why, "certificate is revoked");
		if (flags & (MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_BAD_PK |
			     MBEDTLS_X509_BADCERT_BAD_MD))
			failure_append(&why, "certificate uses a rejected key or signature algorithm");
		rest &= ~(uint32_t)(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_CN_MISMATCH |
				    MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCRL_EXPIRED |
				    MBEDTLS_X509_BADCERT_FUTURE | MBEDTLS_X509_BADCRL_FUTURE |
				    MBEDTLS_X509_BADCERT_REVOKED | MBEDTLS_X509_BADCERT_BAD_KEY |
				    MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_MD);
		if (rest != 0 || why.len == 0) {
			snprintf(text, sizeof(text),
				 "certificate rejected for other reasons (flags 0x%x)", (unsigned)rest);
			failure_append(&why, text);
		}
	} else {
		failure_append(&why, mbedtls_text(handshake_ret, text, sizeof(text)));
	}
	snprintf(out, out_len, "upstream TLS handshake with %s%s%s:%u failed: %s",
		 client->ip_len == 16 ? "[" : "", client->host, client->ip_len == 16 ? "]" : "",
		 (unsigned)client->port, why.p);
	buf_release(&why);
	return out;
}

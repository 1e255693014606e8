/* Egress TLS: real handshakes in-process (socketpair, server in a thread)
 * against CAs made at run time, so no key material lives in the tree.
 *
 * Agent side: the minted leaf (SAN, CN, serial, validity, chain), the cache
 * (hits, LRU eviction while held, concurrency), SNI checks, ALPN, tickets.
 * Upstream side: trust, name and IP checks with their failure lines, and
 * session resumption over TLS 1.2 and 1.3.  The upstream servers are the
 * agent side of a second egress_tls with its own CA.  Also prints (does not
 * assert) mint time and handshake rates for docs/egress-tls.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/rsa.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "../../sidecar/egress/egress_tls.h"
#include "../../sidecar/egress/egress_tls_internal.h"

static char tmpdir[64];

struct test_ca {
	char cert_path[128], key_path[128];
	mbedtls_x509_crt crt;
};

/* Paths and the instances the tests share (made once in group setup). */
static struct test_ca ca_agent, ca_upstream, ca_rsa, ca_not_a_ca;
static char bundle_upstream[128];  /* holds ca_upstream */
static char bundle_mixed[128];     /* garbage, then ca_upstream */
static char bundle_garbage[128];   /* nothing usable */
static struct egress_tls *tls_main; /* agent CA ca_agent, upstream bundle ca_upstream */
static struct egress_tls *tls_up;   /* plays the upstream servers: CA ca_upstream */

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void validity_string(time_t t, char out[16])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 16, "%Y%m%d%H%M%S", &tm);
}

/* A self-signed certificate and its key, as PEM files under tmpdir. */
static void ca_make(struct test_ca *ca, const char *stem, bool rsa, bool is_ca)
{
	mbedtls_pk_context key;
	mbedtls_x509write_cert w;
	unsigned char pem[8192], serial[8] = { 0x11, 2, 3, 4, 5, 6, 7, 8 };
	char subject[128], nb[16], na[16];
	time_t now = time(NULL);

	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	if (rsa) {
		assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_RSA)), 0);
		assert_int_equal(mbedtls_rsa_gen_key(mbedtls_pk_rsa(key), mbedtls_psa_get_random,
						     MBEDTLS_PSA_RANDOM_STATE, 2048, 65537), 0);
	} else {
		assert_int_equal(mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)),
				 0);
		assert_int_equal(mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
						     mbedtls_psa_get_random,
						     MBEDTLS_PSA_RANDOM_STATE), 0);
	}
	/* PrintableString O (the string-type default for O differs from CN's
	 * UTF8String): leaves must copy the issuer byte for byte. */
	snprintf(subject, sizeof(subject), "CN=Test CA %s,O=bottle tests,OU=unit", stem);
	validity_string(now - 86400, nb);
	validity_string(now + 86400 * 3650, na);
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, &key);
	assert_int_equal(mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial)), 0);
	assert_int_equal(mbedtls_x509write_crt_set_subject_name(&w, subject), 0);
	assert_int_equal(mbedtls_x509write_crt_set_issuer_name(&w, subject), 0);
	assert_int_equal(mbedtls_x509write_crt_set_validity(&w, nb, na), 0);
	assert_int_equal(mbedtls_x509write_crt_set_basic_constraints(&w, is_ca, -1), 0);
	assert_int_equal(mbedtls_x509write_crt_set_key_usage(
				 &w, is_ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN :
					     MBEDTLS_X509_KU_DIGITAL_SIGNATURE), 0);
	assert_int_equal(mbedtls_x509write_crt_set_subject_key_identifier(&w), 0);
	assert_int_equal(mbedtls_x509write_crt_pem(&w, pem, sizeof(pem), mbedtls_psa_get_random,
						   MBEDTLS_PSA_RANDOM_STATE), 0);
	snprintf(ca->cert_path, sizeof(ca->cert_path), "%s/%s.crt", tmpdir, stem);
	write_file(ca->cert_path, pem, strlen((char *)pem));
	mbedtls_x509_crt_init(&ca->crt);
	assert_int_equal(mbedtls_x509_crt_parse(&ca->crt, pem, strlen((char *)pem) + 1), 0);
	assert_int_equal(mbedtls_pk_write_key_pem(&key, pem, sizeof(pem)), 0);
	snprintf(ca->key_path, sizeof(ca->key_path), "%s/%s.key", tmpdir, stem);
	write_file(ca->key_path, pem, strlen((char *)pem));
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
}

static struct egress_tls *tls_make(const struct test_ca *ca, const char *bundle, size_t cache)
{
	struct egress_tls_options o = {
		.ca_cert_path = ca->cert_path,
		.ca_key_path = ca->key_path,
		.upstream_ca_path = bundle,
		.leaf_cache_size = cache,
	};
	struct egress_tls *tls = NULL;
	char err[256];
	int ret = egress_tls_create(&o, &tls, err, sizeof(err));

	if (ret != 0)
		fprintf(stderr, "egress_tls_create: %s\n", err);
	assert_int_equal(ret, 0);
	assert_non_null(tls);
	return tls;
}

static int group_setup(void **state)
{
	char garbage[] = "-----BEGIN CERTIFICATE-----\nAAAAAAAA\n-----END CERTIFICATE-----\n";
	FILE *f;
	char pem[8192];
	size_t n;

	(void)state;
	if (psa_crypto_init() != PSA_SUCCESS)
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_egress_tls.XXXXXX");
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	ca_make(&ca_agent, "agent", false, true);
	ca_make(&ca_upstream, "upstream", false, true);
	ca_make(&ca_rsa, "rsa", true, true);
	ca_make(&ca_not_a_ca, "notca", false, false);

	snprintf(bundle_upstream, sizeof(bundle_upstream), "%s", ca_upstream.cert_path);
	f = fopen(ca_upstream.cert_path, "r");
	n = fread(pem, 1, sizeof(pem), f);
	fclose(f);
	snprintf(bundle_mixed, sizeof(bundle_mixed), "%s/mixed.pem", tmpdir);
	f = fopen(bundle_mixed, "w");
	fwrite(garbage, 1, strlen(garbage), f);
	fwrite(pem, 1, n, f);
	fclose(f);
	snprintf(bundle_garbage, sizeof(bundle_garbage), "%s/garbage.pem", tmpdir);
	write_file(bundle_garbage, garbage, strlen(garbage));

	tls_main = tls_make(&ca_agent, bundle_upstream, 0);
	tls_up = tls_make(&ca_upstream, bundle_upstream, 0);
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	egress_tls_destroy(tls_main);
	egress_tls_destroy(tls_up);
	mbedtls_x509_crt_free(&ca_agent.crt);
	mbedtls_x509_crt_free(&ca_upstream.crt);
	mbedtls_x509_crt_free(&ca_rsa.crt);
	mbedtls_x509_crt_free(&ca_not_a_ca.crt);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- a handshake between two in-process peers ---- */

static int fd_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);

	return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)n;
}

static int fd_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = recv(*(int *)ctx, buf, len, 0);

	return n < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : (int)n;
}

struct pair {
	mbedtls_ssl_context *server, *client;
	struct egress_tls_client *upstream; /* the client, when it is ours */
	int fds[2];                         /* server, client */
	int server_ret, client_ret;
	char got[16];                       /* what the client read */
	unsigned tickets;                   /* TLS 1.3 tickets the client saw */
	double server_cpu;                  /* seconds the server thread ran */
};

static void *server_run(void *arg)
{
	struct pair *p = arg;
	unsigned char b[64];
	struct timespec t0, t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	p->server_ret = mbedtls_ssl_handshake(p->server);
	if (p->server_ret == 0) {
		mbedtls_ssl_write(p->server, (const unsigned char *)"hello", 5);
		while (mbedtls_ssl_read(p->server, b, sizeof(b)) > 0)
			;
	}
	shutdown(p->fds[0], SHUT_WR);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	p->server_cpu = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	return NULL;
}

/* Handshake, then the client reads "hello" (saving sessions as tickets
 * arrive when it is an egress_tls_client) and closes. */
static void pair_run(struct pair *p)
{
	pthread_t thread;
	struct timeval tv = { .tv_sec = 10 };
	size_t got = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds), 0);
	setsockopt(p->fds[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(p->fds[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	mbedtls_ssl_set_bio(p->server, &p->fds[0], fd_send, fd_recv, NULL);
	mbedtls_ssl_set_bio(p->client, &p->fds[1], fd_send, fd_recv, NULL);
	assert_int_equal(pthread_create(&thread, NULL, server_run, p), 0);
	p->client_ret = mbedtls_ssl_handshake(p->client);
	if (p->client_ret == 0 && p->upstream != NULL)
		egress_tls_client_save_session(p->upstream);
	while (p->client_ret == 0 && got < 5) {
		int n = mbedtls_ssl_read(p->client, (unsigned char *)p->got + got,
					 sizeof(p->got) - 1 - got);

		/* WANT_READ even on a blocking socket: mbedTLS stops there when
		 * a NewSessionTicket starts, before it signals the ticket. */
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			continue;
		if (n == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
			p->tickets++;
			if (p->upstream != NULL)
				egress_tls_client_save_session(p->upstream);
			continue;
		}
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	p->got[got] = '\0';
	if (p->client_ret == 0 && p->upstream != NULL)
		egress_tls_client_save_session(p->upstream);
	if (p->client_ret == 0)
		mbedtls_ssl_close_notify(p->client);
	shutdown(p->fds[1], SHUT_WR);
	pthread_join(thread, NULL);
	close(p->fds[0]);
	close(p->fds[1]);
}

/* A plain mbedTLS client, as an agent would be. */
struct agent {
	mbedtls_ssl_config conf;
	mbedtls_ssl_context ssl;
	unsigned verifies; /* certificates checked: 0 after a resumed handshake */
};

static int agent_verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
	struct agent *a = ctx;

	(void)crt;
	(void)depth;
	(void)flags;
	a->verifies++;
	return 0;
}

static void agent_init(struct agent *a, int authmode, mbedtls_ssl_protocol_version max,
		       const char **alpn)
{
	mbedtls_ssl_config_init(&a->conf);
	mbedtls_ssl_init(&a->ssl);
	a->verifies = 0;
	assert_int_equal(mbedtls_ssl_config_defaults(&a->conf, MBEDTLS_SSL_IS_CLIENT,
						     MBEDTLS_SSL_TRANSPORT_STREAM,
						     MBEDTLS_SSL_PRESET_DEFAULT), 0);
	mbedtls_ssl_conf_rng(&a->conf, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
	mbedtls_ssl_conf_authmode(&a->conf, authmode);
	mbedtls_ssl_conf_ca_chain(&a->conf, &ca_agent.crt, NULL);
	mbedtls_ssl_conf_max_tls_version(&a->conf, max);
	mbedtls_ssl_conf_verify(&a->conf, agent_verify_cb, a);
	if (alpn != NULL)
		assert_int_equal(mbedtls_ssl_conf_alpn_protocols(&a->conf, alpn), 0);
	assert_int_equal(mbedtls_ssl_setup(&a->ssl, &a->conf), 0);
}

static void agent_free(struct agent *a)
{
	mbedtls_ssl_free(&a->ssl);
	mbedtls_ssl_config_free(&a->conf);
}

/* One bumped handshake: the agent (SNI sni, or none) against our server
 * side for connect_host.  Fills server; the caller releases it. */
static void bump(struct agent *a, struct egress_tls_server *server, struct egress_tls *tls,
		 const char *connect_host, const char *sni, struct pair *p)
{
	memset(server, 0, sizeof(*server));
	memset(p, 0, sizeof(*p));
	assert_int_equal(egress_tls_server_setup(tls, server, connect_host), 0);
	assert_int_equal(mbedtls_ssl_set_hostname(&a->ssl, sni), 0);
	p->server = &server->ssl;
	p->client = &a->ssl;
	pair_run(p);
}

static bool crt_has_san(const mbedtls_x509_crt *crt, int type, const void *value, size_t len)
{
	const mbedtls_x509_sequence *cur;

	for (cur = &crt->subject_alt_names; cur != NULL && cur->buf.p != NULL; cur = cur->next) {
		mbedtls_x509_subject_alternative_name san;
		bool match;

		if (mbedtls_x509_parse_subject_alt_name(&cur->buf, &san) != 0)
			continue;
		match = san.type == type && san.san.unstructured_name.len == len &&
			memcmp(san.san.unstructured_name.p, value, len) == 0;
		mbedtls_x509_free_subject_alt_name(&san);
		if (match)
			return true;
	}
	return false;
}

static time_t x509_time_to_t(const mbedtls_x509_time *t)
{
	struct tm tm = {
		.tm_year = t->year - 1900, .tm_mon = t->mon - 1, .tm_mday = t->day,
		.tm_hour = t->hour, .tm_min = t->min, .tm_sec = t->sec,
	};

	return timegm(&tm);
}

/* ---- create ---- */

static void expect_create_error(const char *cert, const char *key, const char *bundle,
				unsigned hours, const char *want)
{
	struct egress_tls_options o = {
		.ca_cert_path = cert, .ca_key_path = key, .upstream_ca_path = bundle,
		.leaf_validity_hours = hours,
	};
	struct egress_tls *tls = (struct egress_tls *)&o; /* must be reset to NULL */
	char err[256];
	int ret = egress_tls_create(&o, &tls, err, sizeof(err));

	assert_true(ret < 0);
	assert_null(tls);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err, want);
}

static void test_create_errors_name_file_and_reason(void **state)
{
	char missing[160], text[512];

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.pem", tmpdir);
	snprintf(text, sizeof(text), "cannot read CA certificate %s: No such file", missing);
	expect_create_error(missing, ca_agent.key_path, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "cannot read CA key %s: No such file", missing);
	expect_create_error(ca_agent.cert_path, missing, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "cannot read CA certificate %s: not a regular file", tmpdir);
	expect_create_error(tmpdir, ca_agent.key_path, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "cannot parse CA certificate %s", ca_agent.key_path);
	expect_create_error(ca_agent.key_path, ca_agent.key_path, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "cannot parse CA key %s", ca_agent.cert_path);
	expect_create_error(ca_agent.cert_path, ca_agent.cert_path, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "CA certificate %s is not a CA (basicConstraints)",
		 ca_not_a_ca.cert_path);
	expect_create_error(ca_not_a_ca.cert_path, ca_not_a_ca.key_path, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "CA key %s does not match CA certificate %s",
		 ca_upstream.key_path, ca_agent.cert_path);
	expect_create_error(ca_agent.cert_path, ca_upstream.key_path, bundle_upstream, 0, text);
	snprintf(text, sizeof(text), "cannot read upstream CA bundle %s: No such file", missing);
	expect_create_error(ca_agent.cert_path, ca_agent.key_path, missing, 0, text);
	snprintf(text, sizeof(text), "upstream CA bundle %s holds no usable certificate",
		 bundle_garbage);
	expect_create_error(ca_agent.cert_path, ca_agent.key_path, bundle_garbage, 0, text);
	expect_create_error(ca_agent.cert_path, ca_agent.key_path, bundle_upstream, 1,
			    "leaf validity of 1 hours is outside 2..");
	expect_create_error(NULL, ca_agent.key_path, bundle_upstream, 0, "needs a CA certificate");
}

static void test_create_rsa_ca_and_mixed_bundle(void **state)
{
	struct egress_tls *tls;
	struct leaf_entry *leaf = NULL;
	uint32_t flags = 0;
	mbedtls_x509_crt *next;

	(void)state;
	/* A bundle with an unparsable certificate still loads the good one. */
	tls = tls_make(&ca_rsa, bundle_mixed, 0);
	assert_non_null(tls->upstream_ca.raw.p);
	assert_null(tls->upstream_ca.next);
	assert_int_equal(leaf_cache_get(tls, "rsa.example", &leaf), 0);
	assert_int_equal(mbedtls_pk_get_type(&leaf->crt.pk), MBEDTLS_PK_ECKEY);
	assert_int_equal(MBEDTLS_OID_CMP(MBEDTLS_OID_PKCS1_SHA256, &leaf->crt.sig_oid), 0);
	next = leaf->crt.next;
	leaf->crt.next = NULL;
	assert_int_equal(mbedtls_x509_crt_verify(&leaf->crt, &ca_rsa.crt, NULL, "rsa.example",
						 &flags, NULL, NULL), 0);
	leaf->crt.next = next;
	leaf_cache_put(tls, leaf);
	egress_tls_destroy(tls);
}

/* ---- the agent-facing side ---- */

static void test_leaf_minted_with_san_and_chain(void **state)
{
	struct agent a;
	struct egress_tls_server server;
	struct pair p;
	struct egress_tls_stats before, after;
	const mbedtls_x509_crt *peer;
	char cn[128];
	time_t now = time(NULL);

	(void)state;
	egress_tls_stats(tls_main, &before);
	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
	bump(&a, &server, tls_main, "Example.ORG", "example.org", &p);
	assert_int_equal(p.server_ret, 0);
	assert_int_equal(p.client_ret, 0);
	assert_string_equal(p.got, "hello");
	assert_int_equal(mbedtls_ssl_get_verify_result(&a.ssl), 0);
	assert_string_equal(server.sni, "example.org");
	assert_false(server.sni_mismatch);
	assert_non_null(server.leaf);

	peer = mbedtls_ssl_get_peer_cert(&a.ssl);
	assert_non_null(peer);
	assert_true(crt_has_san(peer, MBEDTLS_X509_SAN_DNS_NAME, "example.org", 11));
	assert_true(mbedtls_x509_dn_gets(cn, sizeof(cn), &peer->subject) > 0);
	assert_string_equal(cn, "CN=example.org");
	assert_int_equal(peer->serial.len, 16);
	assert_int_equal(peer->serial.p[0] & 0x80, 0);
	assert_int_equal(mbedtls_pk_get_type(&peer->pk), MBEDTLS_PK_ECKEY);
	assert_int_equal(mbedtls_pk_get_bitlen(&peer->pk), 256);
	assert_int_equal(MBEDTLS_OID_CMP(MBEDTLS_OID_ECDSA_SHA256, &peer->sig_oid), 0);
	assert_int_equal(mbedtls_x509_crt_get_ca_istrue(peer), 0);
	assert_true(mbedtls_x509_crt_check_extended_key_usage(
			    peer, MBEDTLS_OID_SERVER_AUTH,
			    MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH)) == 0);
	/* Not before: an hour ago; not after: 24 hours on (the default). */
	assert_true(labs((long)(x509_time_to_t(&peer->valid_from) - (now - 3600))) <= 5);
	assert_true(labs((long)(x509_time_to_t(&peer->valid_to) - (now + 24 * 3600))) <= 5);
	/* The issuer is the CA's subject byte for byte; AKI is the CA's SKI. */
	assert_int_equal(peer->issuer_raw.len, ca_agent.crt.subject_raw.len);
	assert_memory_equal(peer->issuer_raw.p, ca_agent.crt.subject_raw.p, peer->issuer_raw.len);
	assert_int_equal(peer->authority_key_id.keyIdentifier.len,
			 ca_agent.crt.subject_key_id.len);
	assert_memory_equal(peer->authority_key_id.keyIdentifier.p, ca_agent.crt.subject_key_id.p,
			    ca_agent.crt.subject_key_id.len);
	/* The chain sent is the leaf and the CA. */
	assert_non_null(peer->next);
	assert_int_equal(peer->next->raw.len, ca_agent.crt.raw.len);
	assert_memory_equal(peer->next->raw.p, ca_agent.crt.raw.p, ca_agent.crt.raw.len);
	assert_null(peer->next->next);

	egress_tls_server_release(&server);
	assert_null(server.leaf);
	egress_tls_stats(tls_main, &after);
	assert_int_equal(after.leaves_minted, before.leaves_minted + 1);
	assert_int_equal(after.leaf_cache_hits, before.leaf_cache_hits);
	agent_free(&a);
}

static void test_second_connection_hits_cache(void **state)
{
	struct agent a;
	struct egress_tls_server server;
	struct pair p;
	struct egress_tls_stats before, after;
	unsigned char serial[16];
	int i;

	(void)state;
	egress_tls_stats(tls_main, &before);
	for (i = 0; i < 2; i++) {
		agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
		bump(&a, &server, tls_main, "cache.example", "cache.example", &p);
		assert_int_equal(p.client_ret, 0);
		/* The same leaf both times. */
		if (i == 0)
			memcpy(serial, mbedtls_ssl_get_peer_cert(&a.ssl)->serial.p, 16);
		else
			assert_memory_equal(serial, mbedtls_ssl_get_peer_cert(&a.ssl)->serial.p, 16);
		egress_tls_server_release(&server);
		agent_free(&a);
	}
	egress_tls_stats(tls_main, &after);
	assert_int_equal(after.leaves_minted, before.leaves_minted + 1);
	assert_int_equal(after.leaf_cache_hits, before.leaf_cache_hits + 1);
}

static void test_sni_mismatch_flagged(void **state)
{
	struct agent a;
	struct egress_tls_server server;
	struct pair p;

	(void)state;
	/* The leaf stays the CONNECT host's whatever the SNI: egress answers 403. */
	agent_init(&a, MBEDTLS_SSL_VERIFY_OPTIONAL, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
	bump(&a, &server, tls_main, "example.org", "evil.example", &p);
	assert_int_equal(p.server_ret, 0);
	assert_string_equal(server.sni, "evil.example");
	assert_true(server.sni_mismatch);
	assert_true(crt_has_san(mbedtls_ssl_get_peer_cert(&a.ssl), MBEDTLS_X509_SAN_DNS_NAME,
				"example.org", 11));
	egress_tls_server_release(&server);
	agent_free(&a);

	/* Case does not matter. */
	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_SSL_VERSION_TLS1_2, NULL);
	bump(&a, &server, tls_main, "example.org", "EXAMPLE.org", &p);
	assert_int_equal(p.client_ret, 0);
	assert_false(server.sni_mismatch);
	egress_tls_server_release(&server);
	agent_free(&a);

	/* No SNI at all is no mismatch. */
	agent_init(&a, MBEDTLS_SSL_VERIFY_OPTIONAL, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
	bump(&a, &server, tls_main, "example.org", NULL, &p);
	assert_int_equal(p.server_ret, 0);
	assert_string_equal(server.sni, "");
	assert_false(server.sni_mismatch);
	egress_tls_server_release(&server);
	agent_free(&a);
}

static void test_ip_literal_leaf(void **state)
{
	struct agent a;
	struct egress_tls_server server;
	struct pair p;
	const mbedtls_x509_crt *peer;
	unsigned char v4[4] = { 127, 0, 0, 1 }, v6[16] = { [15] = 1 };
	uint32_t flags = 0;
	mbedtls_x509_crt leaf;

	(void)state;
	agent_init(&a, MBEDTLS_SSL_VERIFY_OPTIONAL, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
	bump(&a, &server, tls_main, "127.0.0.1", NULL, &p);
	assert_int_equal(p.client_ret, 0);
	peer = mbedtls_ssl_get_peer_cert(&a.ssl);
	assert_true(crt_has_san(peer, MBEDTLS_X509_SAN_IP_ADDRESS, v4, 4));
	assert_false(crt_has_san(peer, MBEDTLS_X509_SAN_DNS_NAME, "127.0.0.1", 9));
	/* mbedTLS 3.6 matches an IP text against iPAddress SANs. */
	mbedtls_x509_crt_init(&leaf);
	assert_int_equal(mbedtls_x509_crt_parse_der(&leaf, peer->raw.p, peer->raw.len), 0);
	assert_int_equal(mbedtls_x509_crt_verify(&leaf, &ca_agent.crt, NULL, "127.0.0.1", &flags,
						 NULL, NULL), 0);
	assert_int_equal(mbedtls_x509_crt_verify(&leaf, &ca_agent.crt, NULL, "127.0.0.2", &flags,
						 NULL, NULL), MBEDTLS_ERR_X509_CERT_VERIFY_FAILED);
	assert_true(flags & MBEDTLS_X509_BADCERT_CN_MISMATCH);
	mbedtls_x509_crt_free(&leaf);
	egress_tls_server_release(&server);
	agent_free(&a);

	agent_init(&a, MBEDTLS_SSL_VERIFY_OPTIONAL, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
	bump(&a, &server, tls_main, "[::1]", NULL, &p);
	assert_int_equal(p.client_ret, 0);
	assert_string_equal(server.connect_host, "::1");
	assert_true(crt_has_san(mbedtls_ssl_get_peer_cert(&a.ssl), MBEDTLS_X509_SAN_IP_ADDRESS,
				v6, 16));
	egress_tls_server_release(&server);
	agent_free(&a);
}

static void test_bad_connect_host_refused(void **state)
{
	struct egress_tls_server server;
	char long_host[300];

	(void)state;
	memset(long_host, 'a', sizeof(long_host) - 1);
	long_host[sizeof(long_host) - 1] = '\0';
	memset(&server, 0, sizeof(server));
	assert_int_equal(egress_tls_server_setup(tls_main, &server, ""), -EINVAL);
	egress_tls_server_release(&server);
	assert_int_equal(egress_tls_server_setup(tls_main, &server, "a,b=c"), -EINVAL);
	egress_tls_server_release(&server);
	assert_int_equal(egress_tls_server_setup(tls_main, &server, "1:2:zz"), -EINVAL);
	egress_tls_server_release(&server);
	assert_int_equal(egress_tls_server_setup(tls_main, &server, long_host), -EINVAL);
	egress_tls_server_release(&server);
}

static void test_lru_eviction_keeps_held_entry(void **state)
{
	struct egress_tls *tls;
	struct leaf_entry *a, *b, *c, *a2, *b2;
	struct egress_tls_stats st;
	unsigned char serial[16];

	(void)state;
	tls = tls_make(&ca_agent, bundle_upstream, 2);
	assert_int_equal(leaf_cache_get(tls, "a.example", &a), 0);
	memcpy(serial, a->crt.serial.p, 16);
	assert_int_equal(leaf_cache_get(tls, "b.example", &b), 0);
	leaf_cache_put(tls, b);
	/* a is the least recently used and still held: evicted, not freed. */
	assert_int_equal(leaf_cache_get(tls, "c.example", &c), 0);
	leaf_cache_put(tls, c);
	assert_false(a->cached);
	assert_int_equal(a->refs, 1);
	assert_memory_equal(a->crt.serial.p, serial, 16);
	assert_string_equal(a->host, "a.example");
	assert_int_equal(tls->leaf_count, 2);
	/* b is still cached (a hit), a comes back freshly minted. */
	assert_int_equal(leaf_cache_get(tls, "b.example", &b2), 0);
	assert_ptr_equal(b2, b);
	leaf_cache_put(tls, b2);
	assert_int_equal(leaf_cache_get(tls, "a.example", &a2), 0);
	assert_ptr_not_equal(a2, a);
	assert_memory_not_equal(a2->crt.serial.p, serial, 16);
	leaf_cache_put(tls, a2);
	egress_tls_stats(tls, &st);
	assert_int_equal(st.leaves_minted, 4);
	assert_int_equal(st.leaf_cache_hits, 1);
	/* The last holder frees the evicted entry (ASan/valgrind see it). */
	leaf_cache_put(tls, a);
	egress_tls_destroy(tls);
}

static void test_expiring_leaf_reminted(void **state)
{
	struct egress_tls *tls;
	struct leaf_entry *a, *a2;

	(void)state;
	tls = tls_make(&ca_agent, bundle_upstream, 0);
	assert_int_equal(leaf_cache_get(tls, "soon.example", &a), 0);
	a->not_after = time(NULL) + LEAF_RENEW_MARGIN_SECONDS - 10;
	assert_int_equal(leaf_cache_get(tls, "soon.example", &a2), 0);
	assert_ptr_not_equal(a, a2);
	assert_false(a->cached);
	assert_true(a2->cached);
	leaf_cache_put(tls, a);
	leaf_cache_put(tls, a2);
	egress_tls_destroy(tls);
}

struct churn {
	struct egress_tls *tls;
	unsigned seed;
	int failures;
};

static void *churn_run(void *arg)
{
	struct churn *c = arg;
	char host[32];
	int i;

	for (i = 0; i < 150; i++) {
		struct leaf_entry *e;

		snprintf(host, sizeof(host), "h%u.example", (c->seed + (unsigned)i * 7) % 6);
		if (leaf_cache_get(c->tls, host, &e) != 0 || strcmp(e->host, host) != 0) {
			c->failures++;
			continue;
		}
		leaf_cache_put(c->tls, e);
	}
	return NULL;
}

static void test_cache_concurrent_use(void **state)
{
	struct egress_tls *tls;
	struct churn c[4];
	pthread_t t[4];
	int i;

	(void)state;
	tls = tls_make(&ca_agent, bundle_upstream, 3);
	for (i = 0; i < 4; i++) {
		c[i] = (struct churn){ .tls = tls, .seed = (unsigned)i };
		assert_int_equal(pthread_create(&t[i], NULL, churn_run, &c[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(c[i].failures, 0);
	}
	assert_true(tls->leaf_count <= 3);
	egress_tls_destroy(tls);
}

static void test_alpn(void **state)
{
	static const char *http11_h2[] = { "h2", "http/1.1", NULL };
	static const char *h2_only[] = { "h2", NULL };
	struct agent a;
	struct egress_tls_server server;
	struct pair p;

	(void)state;
	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_SSL_VERSION_TLS1_3, http11_h2);
	bump(&a, &server, tls_main, "alpn.example", "alpn.example", &p);
	assert_int_equal(p.client_ret, 0);
	assert_string_equal(mbedtls_ssl_get_alpn_protocol(&a.ssl), "http/1.1");
	egress_tls_server_release(&server);
	agent_free(&a);

	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_SSL_VERSION_TLS1_3, NULL);
	bump(&a, &server, tls_main, "alpn.example", "alpn.example", &p);
	assert_int_equal(p.client_ret, 0);
	assert_null(mbedtls_ssl_get_alpn_protocol(&a.ssl));
	egress_tls_server_release(&server);
	agent_free(&a);

	/* Only h2 offered: refused with a no_application_protocol alert. */
	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, MBEDTLS_SSL_VERSION_TLS1_3, h2_only);
	bump(&a, &server, tls_main, "alpn.example", "alpn.example", &p);
	assert_int_equal(p.server_ret, MBEDTLS_ERR_SSL_NO_APPLICATION_PROTOCOL);
	assert_int_not_equal(p.client_ret, 0);
	egress_tls_server_release(&server);
	agent_free(&a);
}

/* An agent that reconnects resumes with the ticket it was given. */
static void agent_resumes(mbedtls_ssl_protocol_version version)
{
	struct agent a;
	struct egress_tls_server server;
	struct pair p;
	mbedtls_ssl_session session;
	int tries;

	mbedtls_ssl_session_init(&session);
	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, version, NULL);
	if (version == MBEDTLS_SSL_VERSION_TLS1_3)
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
			&a.conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	bump(&a, &server, tls_main, "resume.example", "resume.example", &p);
	assert_int_equal(p.client_ret, 0);
	assert_int_equal(mbedtls_ssl_get_version_number(&a.ssl), version);
	if (version == MBEDTLS_SSL_VERSION_TLS1_3)
		assert_true(p.tickets >= 1);
	assert_true(a.verifies > 0);
	assert_int_equal(mbedtls_ssl_get_session(&a.ssl, &session), 0);
	egress_tls_server_release(&server);
	mbedtls_ssl_free(&a.ssl);

	for (tries = 0; tries < 1; tries++) {
		mbedtls_ssl_init(&a.ssl);
		assert_int_equal(mbedtls_ssl_setup(&a.ssl, &a.conf), 0);
		assert_int_equal(mbedtls_ssl_set_session(&a.ssl, &session), 0);
		a.verifies = 0;
		bump(&a, &server, tls_main, "resume.example", "resume.example", &p);
		assert_int_equal(p.client_ret, 0);
		assert_int_equal(a.verifies, 0); /* no certificate: resumed */
		assert_false(server.sni_mismatch);
		assert_string_equal(server.sni, "resume.example");
		egress_tls_server_release(&server);
	}
	mbedtls_ssl_session_free(&session);
	agent_free(&a);
}

static void test_agent_side_tickets_tls12(void **state)
{
	(void)state;
	agent_resumes(MBEDTLS_SSL_VERSION_TLS1_2);
}

static void test_agent_side_tickets_tls13(void **state)
{
	(void)state;
	agent_resumes(MBEDTLS_SSL_VERSION_TLS1_3);
}

/* ---- the upstream side ---- */

/* tls_main's client to host:port against tls_up's server side for
 * server_host (or tls_main's own, signed by a CA the bundle lacks). */
static void upstream(struct egress_tls_client *client, struct egress_tls *server_tls,
		     const char *server_host, const char *host, struct pair *p,
		     struct egress_tls_server *server)
{
	memset(server, 0, sizeof(*server));
	memset(client, 0, sizeof(*client));
	memset(p, 0, sizeof(*p));
	assert_int_equal(egress_tls_server_setup(server_tls, server, server_host), 0);
	assert_int_equal(egress_tls_client_setup(tls_main, client, host, 443), 0);
	p->server = &server->ssl;
	p->client = &client->ssl;
	p->upstream = client;
	pair_run(p);
}

static void expect_upstream_failure(struct egress_tls *server_tls, const char *server_host,
				    const char *host, const char *want)
{
	struct egress_tls_client client;
	struct egress_tls_server server;
	struct pair p;
	char why[512];

	upstream(&client, server_tls, server_host, host, &p, &server);
	assert_int_not_equal(p.client_ret, 0);
	egress_tls_client_failure(&client, p.client_ret, why, sizeof(why));
	if (strcmp(why, want) != 0)
		fail_msg("failure '%s', wanted '%s'", why, want);
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);
}

static void test_upstream_verification(void **state)
{
	struct egress_tls_client client;
	struct egress_tls_server server;
	struct pair p;

	(void)state;
	upstream(&client, tls_up, "good.example", "good.example", &p, &server);
	assert_int_equal(p.client_ret, 0);
	assert_string_equal(p.got, "hello");
	assert_string_equal(server.sni, "good.example");
	assert_string_equal(mbedtls_ssl_get_alpn_protocol(&client.ssl), "http/1.1");
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);

	expect_upstream_failure(tls_main, "good.example", "good.example",
				"upstream TLS handshake with good.example:443 failed: "
				"certificate is not trusted by the upstream CA bundle");
	/* A name that never connected: good.example's session would resume
	 * (tls_up plays every upstream, with one ticket key). */
	expect_upstream_failure(tls_up, "other.example", "wanted.example",
				"upstream TLS handshake with wanted.example:443 failed: "
				"certificate name does not match wanted.example");
}

static void test_upstream_ip_literal(void **state)
{
	struct egress_tls_client client;
	struct egress_tls_server server;
	struct pair p;

	(void)state;
	upstream(&client, tls_up, "127.0.0.1", "127.0.0.1", &p, &server);
	assert_int_equal(p.client_ret, 0);
	assert_string_equal(server.sni, ""); /* no SNI for an address */
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);

	upstream(&client, tls_up, "::1", "[::1]", &p, &server);
	assert_int_equal(p.client_ret, 0);
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);

	expect_upstream_failure(tls_up, "127.0.0.2", "127.0.0.3",
				"upstream TLS handshake with 127.0.0.3:443 failed: "
				"certificate name does not match 127.0.0.3");
	/* The name-mismatch check does not fall back to DNS names. */
	expect_upstream_failure(tls_up, "ip.example", "::2",
				"upstream TLS handshake with [::2]:443 failed: "
				"certificate name does not match ::2");
}

static void test_upstream_failure_text(void **state)
{
	struct egress_tls_client client;
	char why[256], text[128];

	(void)state;
	memset(&client, 0, sizeof(client));
	assert_int_equal(egress_tls_client_setup(tls_main, &client, "Example.ORG", 8443), 0);
	egress_tls_client_failure(&client, MBEDTLS_ERR_SSL_CONN_EOF, why, sizeof(why));
	mbedtls_strerror(MBEDTLS_ERR_SSL_CONN_EOF, text, sizeof(text));
	assert_true(strncmp(why, "upstream TLS handshake with example.org:8443 failed: ", 53) == 0);
	assert_string_equal(why + 53, text);
	egress_tls_client_release(&client);

	memset(&client, 0, sizeof(client));
	assert_int_equal(egress_tls_client_setup(tls_main, &client, "bad host", 443), -EINVAL);
	egress_tls_client_release(&client);
}

static void upstream_resumes(mbedtls_ssl_protocol_version version, const char *host)
{
	struct egress_tls_client client;
	struct egress_tls_server server;
	struct pair p;
	struct egress_tls_stats before, after;

	mbedtls_ssl_conf_max_tls_version(&tls_up->server_conf, version);
	egress_tls_stats(tls_main, &before);
	upstream(&client, tls_up, host, host, &p, &server);
	assert_int_equal(p.client_ret, 0);
	assert_int_equal(mbedtls_ssl_get_version_number(&client.ssl), version);
	assert_false(client.offered);
	assert_false(egress_tls_client_resumed(&client));
	if (version == MBEDTLS_SSL_VERSION_TLS1_3)
		assert_true(p.tickets >= 1);
	/* Saving again is a cheap no-op. */
	egress_tls_client_save_session(&client);
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);

	upstream(&client, tls_up, host, host, &p, &server);
	assert_int_equal(p.client_ret, 0);
	assert_true(client.offered);
	assert_false(client.verified);
	assert_true(egress_tls_client_resumed(&client));
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);
	egress_tls_stats(tls_main, &after);
	assert_int_equal(after.sessions_resumed, before.sessions_resumed + 1);

	/* Another port is another cache slot: a full handshake. */
	memset(&client, 0, sizeof(client));
	assert_int_equal(egress_tls_client_setup(tls_main, &client, host, 8443), 0);
	assert_false(client.offered);
	egress_tls_client_release(&client);
	mbedtls_ssl_conf_max_tls_version(&tls_up->server_conf, MBEDTLS_SSL_VERSION_TLS1_3);
}

/* A TLS 1.3 session offered to a server now limited to TLS 1.2 fails (mbedTLS
 * offers only the session's version); the failure forgets the session, so
 * the next connection makes a full handshake. */
static void test_upstream_version_change_forgets_session(void **state)
{
	struct egress_tls_client client;
	struct egress_tls_server server;
	struct pair p;
	const char *host = "downgrade.example";

	(void)state;
	upstream(&client, tls_up, host, host, &p, &server);
	assert_int_equal(p.client_ret, 0);
	assert_int_equal(mbedtls_ssl_get_version_number(&client.ssl), MBEDTLS_SSL_VERSION_TLS1_3);
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);

	mbedtls_ssl_conf_max_tls_version(&tls_up->server_conf, MBEDTLS_SSL_VERSION_TLS1_2);
	upstream(&client, tls_up, host, host, &p, &server);
	assert_true(client.offered);
	assert_int_not_equal(p.client_ret, 0);
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);

	upstream(&client, tls_up, host, host, &p, &server);
	assert_false(client.offered);
	assert_int_equal(p.client_ret, 0);
	assert_int_equal(mbedtls_ssl_get_version_number(&client.ssl), MBEDTLS_SSL_VERSION_TLS1_2);
	egress_tls_client_release(&client);
	egress_tls_server_release(&server);
	mbedtls_ssl_conf_max_tls_version(&tls_up->server_conf, MBEDTLS_SSL_VERSION_TLS1_3);
}

static void test_upstream_resumption_tls12(void **state)
{
	(void)state;
	upstream_resumes(MBEDTLS_SSL_VERSION_TLS1_2, "resume12.example");
}

static void test_upstream_resumption_tls13(void **state)
{
	(void)state;
	upstream_resumes(MBEDTLS_SSL_VERSION_TLS1_3, "resume13.example");
}

/* ---- figures (printed, not asserted) ---- */

/* CPU time of the whole process (both peers' threads): the box these run
 * on is shared, so wall-clock rates say more about the neighbours. */
static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ours: the CPU our side spent (-1: all of it is ours). */
static void report(const char *what, int n, double cpu0, double wall0, double ours)
{
	double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;

	if (ours < 0)
		ours = cpu;
	printf("# %-40s %6.3f ms CPU ours, %6.3f ms both ends, %5.0f/s wall\n", what,
	       ours * 1e3 / n, cpu * 1e3 / n, n / wall);
}

static void measure_mint(struct egress_tls *tls, const char *what, int n)
{
	struct leaf_entry *leaf;
	double c0 = cpu_seconds(), w0 = wall_seconds();
	int i;

	for (i = 0; i < n; i++) {
		assert_int_equal(leaf_mint(tls, "mint.example", &leaf), 0);
		leaf_free(leaf);
	}
	report(what, n, c0, w0, -1);
}

static void measure_agent(mbedtls_ssl_protocol_version version, bool resume, const char *what,
			  int n)
{
	struct agent a;
	struct egress_tls_server server;
	struct pair p;
	mbedtls_ssl_session session;
	double c0 = 0, w0 = 0, ours = 0;
	int i;

	mbedtls_ssl_session_init(&session);
	agent_init(&a, MBEDTLS_SSL_VERIFY_REQUIRED, version, NULL);
	if (version == MBEDTLS_SSL_VERSION_TLS1_3)
		mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
			&a.conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
	/* One round to warm the leaf cache (and get a ticket), untimed. */
	for (i = -1; i < n; i++) {
		if (i == 0) {
			c0 = cpu_seconds();
			w0 = wall_seconds();
		}
		mbedtls_ssl_free(&a.ssl);
		mbedtls_ssl_init(&a.ssl);
		assert_int_equal(mbedtls_ssl_setup(&a.ssl, &a.conf), 0);
		if (resume && i >= 0)
			assert_int_equal(mbedtls_ssl_set_session(&a.ssl, &session), 0);
		a.verifies = 0;
		bump(&a, &server, tls_main, "bench.example", "bench.example", &p);
		assert_int_equal(p.client_ret, 0);
		assert_true(!resume || i < 0 || a.verifies == 0);
		if (i < 0 && resume)
			assert_int_equal(mbedtls_ssl_get_session(&a.ssl, &session), 0);
		if (i >= 0)
			ours += p.server_cpu;
		egress_tls_server_release(&server);
	}
	report(what, n, c0, w0, ours);
	mbedtls_ssl_session_free(&session);
	agent_free(&a);
}

static void measure_upstream(mbedtls_ssl_protocol_version version, bool resume,
			     const char *what, int n)
{
	struct egress_tls_client client;
	struct egress_tls_server server;
	struct pair p;
	struct egress_tls_stats before, after;
	double c0 = 0, w0 = 0, theirs = 0;
	int i;

	mbedtls_ssl_conf_max_tls_version(&tls_up->server_conf, version);
	egress_tls_stats(tls_main, &before);
	for (i = -1; i < n; i++) {
		/* A fresh port per connection leaves nothing to resume. */
		uint16_t port = resume ? (uint16_t)(443 + version) :
					 (uint16_t)(20000 + version * 100 + i + 1);

		if (i == 0) {
			c0 = cpu_seconds();
			w0 = wall_seconds();
		}
		memset(&server, 0, sizeof(server));
		memset(&client, 0, sizeof(client));
		memset(&p, 0, sizeof(p));
		assert_int_equal(egress_tls_server_setup(tls_up, &server, "bench-up.example"), 0);
		assert_int_equal(egress_tls_client_setup(tls_main, &client, "bench-up.example", port),
				 0);
		p.server = &server.ssl;
		p.client = &client.ssl;
		p.upstream = &client;
		pair_run(&p);
		assert_int_equal(p.client_ret, 0);
		if (i >= 0)
			theirs += p.server_cpu;
		egress_tls_client_release(&client);
		egress_tls_server_release(&server);
	}
	egress_tls_stats(tls_main, &after);
	report(what, n, c0, w0, cpu_seconds() - c0 - theirs);
	if (resume)
		assert_true(after.sessions_resumed - before.sessions_resumed >= (uint64_t)n);
	mbedtls_ssl_conf_max_tls_version(&tls_up->server_conf, MBEDTLS_SSL_VERSION_TLS1_3);
}

static void test_measure(void **state)
{
	struct egress_tls *tls_r;
	int n = 50;

	(void)state;
	measure_mint(tls_main, "mint a leaf, EC P-256 CA", n);
	tls_r = tls_make(&ca_rsa, bundle_upstream, 0);
	measure_mint(tls_r, "mint a leaf, RSA-2048 CA", n);
	egress_tls_destroy(tls_r);
	measure_agent(MBEDTLS_SSL_VERSION_TLS1_3, false, "agent side TLS 1.3 full, cached leaf", n);
	measure_agent(MBEDTLS_SSL_VERSION_TLS1_3, true, "agent side TLS 1.3 resumed (ticket)", n);
	measure_agent(MBEDTLS_SSL_VERSION_TLS1_2, false, "agent side TLS 1.2 full, cached leaf", n);
	measure_agent(MBEDTLS_SSL_VERSION_TLS1_2, true, "agent side TLS 1.2 resumed (ticket)", n);
	measure_upstream(MBEDTLS_SSL_VERSION_TLS1_3, false, "upstream TLS 1.3 full", n);
	measure_upstream(MBEDTLS_SSL_VERSION_TLS1_3, true, "upstream TLS 1.3 resumed", n);
	measure_upstream(MBEDTLS_SSL_VERSION_TLS1_2, false, "upstream TLS 1.2 full", n);
	measure_upstream(MBEDTLS_SSL_VERSION_TLS1_2, true, "upstream TLS 1.2 resumed", n);
	printf("# (ours: the server thread on the agent side, the client on the upstream side)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_errors_name_file_and_reason),
		cmocka_unit_test(test_create_rsa_ca_and_mixed_bundle),
		cmocka_unit_test(test_leaf_minted_with_san_and_chain),
		cmocka_unit_test(test_second_connection_hits_cache),
		cmocka_unit_test(test_sni_mismatch_flagged),
		cmocka_unit_test(test_ip_literal_leaf),
		cmocka_unit_test(test_bad_connect_host_refused),
		cmocka_unit_test(test_lru_eviction_keeps_held_entry),
		cmocka_unit_test(test_expiring_leaf_reminted),
		cmocka_unit_test(test_cache_concurrent_use),
		cmocka_unit_test(test_alpn),
		cmocka_unit_test(test_agent_side_tickets_tls12),
		cmocka_unit_test(test_agent_side_tickets_tls13),
		cmocka_unit_test(test_upstream_verification),
		cmocka_unit_test(test_upstream_ip_literal),
		cmocka_unit_test(test_upstream_failure_text),
		cmocka_unit_test(test_upstream_version_change_forgets_session),
		cmocka_unit_test(test_upstream_resumption_tls12),
		cmocka_unit_test(test_upstream_resumption_tls13),
		cmocka_unit_test(test_measure),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

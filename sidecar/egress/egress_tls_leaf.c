/* Minted leaf certificates, their LRU cache, and the agent-facing side of a
 * bump.  A leaf is minted on the first CONNECT to a host and kept until it
 * is evicted or has less than an hour left; a connection holds a reference
 * for as long as it lives, so eviction only drops the cache's reference. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/x509_crt.h>

#include "egress_tls_internal.h"

/* DER of a leaf: an RSA-8192 CA's signature is 1 KiB, the rest is small. */
#define LEAF_DER_MAX 4096

static uint32_t host_hash(const char *host)
{
	uint32_t h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (unsigned char)*host) * 16777619u;
	return h;
}

static int validity_format(time_t t, char out[16])
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		return -EINVAL;
	if (strftime(out, 16, "%Y%m%d%H%M%S", &tm) != 14)
		return -EINVAL;
	return 0;
}

/* Attach AKI = the CA's own subjectKeyIdentifier: verifiers that build
 * chains by key id (OpenSSL) reject an AKI that differs from it, so one is
 * written only when the CA has an SKI to copy. */
static int leaf_set_aki(struct egress_tls *tls, mbedtls_x509write_cert *w)
{
	unsigned char der[80], *p = der + sizeof(der);
	int len = 0, n;

	if (tls->ca_key_id_len == 0)
		return 0;
	n = mbedtls_asn1_write_raw_buffer(&p, der, tls->ca_key_id, tls->ca_key_id_len);
	if (n < 0)
		return n;
	len += n;
	n = mbedtls_asn1_write_len(&p, der, (size_t)len);
	if (n < 0)
		return n;
	len += n;
	n = mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 0);
	if (n < 0)
		return n;
	len += n;
	n = mbedtls_asn1_write_len(&p, der, (size_t)len);
	if (n < 0)
		return n;
	len += n;
	n = mbedtls_asn1_write_tag(&p, der, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE);
	if (n < 0)
		return n;
	len += n;
	return mbedtls_x509write_crt_set_extension(w, MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER,
						   MBEDTLS_OID_SIZE(MBEDTLS_OID_AUTHORITY_KEY_IDENTIFIER),
						   0, p, (size_t)len);
}

void leaf_free(struct leaf_entry *leaf)
{
	if (leaf == NULL)
		return;
	leaf->crt.next = NULL; /* borrowed: the CA certificate */
	mbedtls_x509_crt_free(&leaf->crt);
	free(leaf);
}

int leaf_mint(struct egress_tls *tls, const char *host, struct leaf_entry **out)
{
	int ret = -ENOMEM;
	struct leaf_entry *leaf = NULL;
	mbedtls_x509write_cert w;
	mbedtls_x509_san_list san = { 0 };
	mbedtls_asn1_sequence eku = { 0 };
	unsigned char serial[16], ip[16];
	unsigned char *der = NULL;
	char subject[8 + 64], not_before[16], not_after[16], name[256];
	size_t ip_len = 0;
	time_t now = time(NULL);
	int len;

	mbedtls_x509write_crt_init(&w);
	*out = NULL;
	if (egress_tls_host_normalize(host, name, sizeof(name), ip, &ip_len) < 0) {
		ret = -EINVAL;
		goto out;
	}
	leaf = calloc(1, sizeof(*leaf));
	der = malloc(LEAF_DER_MAX);
	if (leaf == NULL || der == NULL)
		goto out;
	mbedtls_x509_crt_init(&leaf->crt);
	snprintf(leaf->host, sizeof(leaf->host), "%s", name);
	leaf->not_after = now + (time_t)tls->validity_hours * 3600;

	ret = -EIO;
	/* 16 random bytes, kept positive and minimally encoded in DER. */
	if (mbedtls_psa_get_random(MBEDTLS_PSA_RANDOM_STATE, serial, sizeof(serial)) != 0)
		goto out;
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);
	/* X.509 caps a CN at 64 characters; a longer name lives in the SAN only. */
	if (strlen(name) <= 64)
		snprintf(subject, sizeof(subject), "CN=%s", name);
	else
		snprintf(subject, sizeof(subject), "O=bottle egress");
	if (validity_format(now - 3600, not_before) < 0 ||
	    validity_format(leaf->not_after, not_after) < 0)
		goto out;

	san.node.type = ip_len ? MBEDTLS_X509_SAN_IP_ADDRESS : MBEDTLS_X509_SAN_DNS_NAME;
	san.node.san.unstructured_name.p = ip_len ? ip : (unsigned char *)name;
	san.node.san.unstructured_name.len = ip_len ? ip_len : strlen(name);
	eku.buf.tag = MBEDTLS_ASN1_OID;
	eku.buf.p = (unsigned char *)MBEDTLS_OID_SERVER_AUTH;
	eku.buf.len = MBEDTLS_OID_SIZE(MBEDTLS_OID_SERVER_AUTH);

	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &tls->leaf_key);
	mbedtls_x509write_crt_set_issuer_key(&w, &tls->ca_key);
	if (mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial)) != 0 ||
	    mbedtls_x509write_crt_set_subject_name(&w, subject) != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&w, tls->issuer_name) != 0 ||
	    mbedtls_x509write_crt_set_validity(&w, not_before, not_after) != 0 ||
	    mbedtls_x509write_crt_set_subject_alternative_name(&w, &san) != 0 ||
	    mbedtls_x509write_crt_set_basic_constraints(&w, 0, -1) != 0 ||
	    mbedtls_x509write_crt_set_key_usage(&w, MBEDTLS_X509_KU_DIGITAL_SIGNATURE) != 0 ||
	    mbedtls_x509write_crt_set_ext_key_usage(&w, &eku) != 0 ||
	    mbedtls_x509write_crt_set_subject_key_identifier(&w) != 0 ||
	    leaf_set_aki(tls, &w) != 0)
		goto out;
	/* Written at the end of the buffer. */
	len = mbedtls_x509write_crt_der(&w, der, LEAF_DER_MAX, mbedtls_psa_get_random,
					MBEDTLS_PSA_RANDOM_STATE);
	if (len <= 0)
		goto out;
	if (mbedtls_x509_crt_parse_der(&leaf->crt, der + LEAF_DER_MAX - len, (size_t)len) != 0)
		goto out;
	leaf->crt.next = &tls->ca_crt;
	*out = leaf;
	leaf = NULL;
	ret = 0;
out:
	mbedtls_x509write_crt_free(&w);
	free(der);
	leaf_free(leaf);
	return ret;
}

/* ---- the cache (callers hold leaf_lock) ---- */

static void lru_unlink(struct egress_tls *tls, struct leaf_entry *e)
{
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		tls->leaf_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		tls->leaf_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct egress_tls *tls, struct leaf_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = tls->leaf_head;
	if (tls->leaf_head != NULL)
		tls->leaf_head->lru_prev = e;
	tls->leaf_head = e;
	if (tls->leaf_tail == NULL)
		tls->leaf_tail = e;
}

static struct leaf_entry **bucket_of(struct egress_tls *tls, const char *host)
{
	return &tls->leaf_buckets[host_hash(host) & tls->leaf_bucket_mask];
}

static struct leaf_entry *cache_find(struct egress_tls *tls, const char *host)
{
	struct leaf_entry *e;

	for (e = *bucket_of(tls, host); e != NULL; e = e->hash_next)
		if (strcmp(e->host, host) == 0)
			return e;
	return NULL;
}

/* Take e out of the cache; returns it when that dropped the last reference
 * (the caller frees it outside the lock). */
static struct leaf_entry *cache_remove(struct egress_tls *tls, struct leaf_entry *e)
{
	struct leaf_entry **pp;

	for (pp = bucket_of(tls, e->host); *pp != NULL; pp = &(*pp)->hash_next) {
		if (*pp == e) {
			*pp = e->hash_next;
			break;
		}
	}
	e->hash_next = NULL;
	lru_unlink(tls, e);
	e->cached = false;
	tls->leaf_count--;
	return --e->refs == 0 ? e : NULL;
}

int leaf_cache_init(struct egress_tls *tls, size_t capacity)
{
	size_t buckets = 16;

	while (buckets < capacity && buckets < ((size_t)1 << 20))
		buckets <<= 1;
	tls->leaf_buckets = calloc(buckets, sizeof(*tls->leaf_buckets));
	if (tls->leaf_buckets == NULL)
		return -ENOMEM;
	tls->leaf_bucket_mask = buckets - 1;
	tls->leaf_capacity = capacity;
	return 0;
}

/* At destroy every connection is gone: whatever is still referenced is a
 * caller's bug, and freeing it anyway keeps destroy leak-free. */
void leaf_cache_release(struct egress_tls *tls)
{
	struct leaf_entry *e, *next;

	for (e = tls->leaf_head; e != NULL; e = next) {
		next = e->lru_next;
		leaf_free(e);
	}
	tls->leaf_head = tls->leaf_tail = NULL;
	tls->leaf_count = 0;
	free(tls->leaf_buckets);
	tls->leaf_buckets = NULL;
}

int leaf_cache_get(struct egress_tls *tls, const char *host, struct leaf_entry **out)
{
	int ret;
	struct leaf_entry *e, *minted = NULL, *dead[2] = { NULL, NULL };
	time_t now = time(NULL);

	pthread_mutex_lock(&tls->leaf_lock);
	e = cache_find(tls, host);
	if (e != NULL && e->not_after - now > LEAF_RENEW_MARGIN_SECONDS) {
		e->refs++;
		lru_unlink(tls, e);
		lru_push_front(tls, e);
		pthread_mutex_unlock(&tls->leaf_lock);
		__atomic_fetch_add(&tls->leaf_cache_hits, 1, __ATOMIC_RELAXED);
		*out = e;
		return 0;
	}
	pthread_mutex_unlock(&tls->leaf_lock);

	/* Mint unlocked: a signature is the slow part and other hosts should
	 * not wait for it.  Two threads minting the same host both succeed;
	 * the later one replaces the earlier in the cache. */
	ret = leaf_mint(tls, host, &minted);
	if (ret < 0)
		return ret;
	__atomic_fetch_add(&tls->leaves_minted, 1, __ATOMIC_RELAXED);

	pthread_mutex_lock(&tls->leaf_lock);
	e = cache_find(tls, host);
	if (e != NULL)
		dead[0] = cache_remove(tls, e);
	minted->refs = 2; /* the cache's and the caller's */
	minted->cached = true;
	minted->hash_next = *bucket_of(tls, host);
	*bucket_of(tls, host) = minted;
	lru_push_front(tls, minted);
	tls->leaf_count++;
	if (tls->leaf_count > tls->leaf_capacity)
		dead[1] = cache_remove(tls, tls->leaf_tail);
	pthread_mutex_unlock(&tls->leaf_lock);

	leaf_free(dead[0]);
	leaf_free(dead[1]);
	*out = minted;
	return 0;
}

void leaf_cache_put(struct egress_tls *tls, struct leaf_entry *leaf)
{
	bool last;

	if (leaf == NULL)
		return;
	pthread_mutex_lock(&tls->leaf_lock);
	last = --leaf->refs == 0;
	pthread_mutex_unlock(&tls->leaf_lock);
	if (last)
		leaf_free(leaf);
}

/* ---- the agent-facing side ---- */

static bool ascii_equal_nocase(const char *a, size_t a_len, const char *b)
{
	size_t i;

	if (strlen(b) != a_len)
		return false;
	for (i = 0; i < a_len; i++) {
		char x = a[i], y = b[i];

		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return false;
	}
	return true;
}

/* Called by mbedTLS after each ClientHello (TLS 1.2 and 1.3, resumed or
 * not), so sni and sni_mismatch are always set before the handshake ends. */
int leaf_cert_cb(mbedtls_ssl_context *ssl)
{
	struct egress_tls_server *server = mbedtls_ssl_get_user_data_p(ssl);
	const unsigned char *sni;
	size_t sni_len = 0;
	struct leaf_entry *leaf;

	if (server == NULL || server->tls == NULL)
		return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
	sni = mbedtls_ssl_get_hs_sni(ssl, &sni_len);
	server->sni[0] = '\0';
	server->sni_mismatch = false;
	if (sni != NULL) {
		/* A name we cannot hold, or one with a NUL in it, is not the host. */
		if (sni_len >= sizeof(server->sni) || memchr(sni, '\0', sni_len) != NULL) {
			server->sni_mismatch = true;
		} else {
			memcpy(server->sni, sni, sni_len);
			server->sni[sni_len] = '\0';
			server->sni_mismatch =
				!ascii_equal_nocase(server->sni, sni_len, server->connect_host);
		}
	}
	/* A HelloRetryRequest brings a second ClientHello: keep the leaf. */
	if (server->leaf == NULL) {
		if (leaf_cache_get(server->tls, server->connect_host, &leaf) < 0)
			return MBEDTLS_ERR_SSL_INTERNAL_ERROR;
		server->leaf = leaf;
	}
	leaf = server->leaf;
	return mbedtls_ssl_set_hs_own_cert(ssl, &leaf->crt, &server->tls->leaf_key);
}

int egress_tls_server_setup(struct egress_tls *tls, struct egress_tls_server *server,
			    const char *connect_host)
{
	int ret = -EINVAL;
	unsigned char ip[16];
	size_t ip_len;

	mbedtls_ssl_init(&server->ssl);
	server->tls = NULL;
	server->leaf = NULL;
	server->sni[0] = '\0';
	server->sni_mismatch = false;
	/* Lower-cased here, so the cache key and the SNI comparison agree. */
	if (egress_tls_host_normalize(connect_host, server->connect_host,
				      sizeof(server->connect_host), ip, &ip_len) < 0)
		goto out;
	if (mbedtls_ssl_setup(&server->ssl, &tls->server_conf) != 0) {
		ret = -ENOMEM;
		goto out;
	}
	server->tls = tls;
	mbedtls_ssl_set_user_data_p(&server->ssl, server);
	ret = 0;
out:
	return ret;
}

void egress_tls_server_release(struct egress_tls_server *server)
{
	mbedtls_ssl_free(&server->ssl);
	if (server->tls != NULL)
		leaf_cache_put(server->tls, server->leaf);
	server->leaf = NULL;
	server->tls = NULL;
}

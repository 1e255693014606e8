/* What egress_tls.c (set-up, upstream side) and egress_tls_leaf.c (minted
 * leaves and the agent-facing side) share.  Not for other modules: they use
 * egress_tls.h. */
#ifndef SIDECAR_EGRESS_TLS_INTERNAL_H
#define SIDECAR_EGRESS_TLS_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "egress_tls.h"

/* A re-mint is due when a cached leaf has less than this left. */
#define LEAF_RENEW_MARGIN_SECONDS 3600
/* Upstream sessions kept, one per host:port. */
#define SESSION_CACHE_SIZE 256

struct leaf_entry {
	struct leaf_entry *lru_prev, *lru_next; /* most recently used first */
	struct leaf_entry *hash_next;
	unsigned refs;        /* one for the cache while cached, one per holder */
	bool cached;
	time_t not_after;
	mbedtls_x509_crt crt; /* the leaf; crt.next borrows the CA certificate */
	char host[256];       /* lower-cased */
};

struct session_entry {
	struct session_entry *prev, *next; /* most recently stored first */
	mbedtls_ssl_session session;
	char key[264];                     /* lower-cased "host:port" */
};

struct egress_tls {
	mbedtls_x509_crt ca_crt;
	mbedtls_pk_context ca_key;
	mbedtls_pk_context leaf_key;  /* shared by every minted leaf */
	char *issuer_name;            /* the CA subject, byte-exact (hex DER values) */
	unsigned char ca_key_id[64];  /* the CA's subjectKeyIdentifier, for AKI */
	size_t ca_key_id_len;
	unsigned validity_hours;

	mbedtls_x509_crt upstream_ca;
	mbedtls_ssl_config server_conf, client_conf;
	mbedtls_ssl_ticket_context tickets;

	pthread_mutex_t leaf_lock;
	struct leaf_entry **leaf_buckets;
	size_t leaf_bucket_mask;
	struct leaf_entry *leaf_head, *leaf_tail;
	size_t leaf_count, leaf_capacity;

	pthread_mutex_t session_lock;
	struct session_entry *session_head, *session_tail;
	size_t session_count;

	uint64_t leaves_minted, leaf_cache_hits, sessions_resumed; /* atomics */
};

/* egress_tls_leaf.c */
int leaf_cache_init(struct egress_tls *tls, size_t capacity);
void leaf_cache_release(struct egress_tls *tls);
/* A reference to the leaf for host (lower-cased by the caller), minted when
 * absent or expiring soon.  0 or a negative errno. */
int leaf_cache_get(struct egress_tls *tls, const char *host, struct leaf_entry **out);
void leaf_cache_put(struct egress_tls *tls, struct leaf_entry *leaf);
/* Mint a leaf outside the cache (create's self-check uses it). */
int leaf_mint(struct egress_tls *tls, const char *host, struct leaf_entry **out);
void leaf_free(struct leaf_entry *leaf);
/* The server-side certificate callback, registered on server_conf. */
int leaf_cert_cb(mbedtls_ssl_context *ssl);

/* egress_tls.c */
/* host without brackets, lower-cased, into out; an IP literal's bytes into
 * ip (4 or 16, *ip_len; 0 for a name).  -EINVAL for an empty, too long or
 * oddly spelled host. */
int egress_tls_host_normalize(const char *host, char *out, size_t out_len,
			      unsigned char ip[16], size_t *ip_len);

/* egress_tls_x25519.c */
/* R = m * 9 on Curve25519 by Everest, for a clamped private key m; the
 * linker sends mbedtls_ecp_mul's base-point calls here (-Wl,--wrap). */
int egress_tls_x25519_base_mul(mbedtls_ecp_group *grp, mbedtls_ecp_point *R,
			       const mbedtls_mpi *m);

#endif

/*
 * crypto_handshake: what one agent-side TLS 1.3 handshake costs egress in
 * public-key operations, made the way mbedTLS 3.6's TLS 1.3 code makes them,
 * so that a change to how mbedTLS is built (Everest, p256-m, window sizes)
 * can be judged before a whole benchmark run.
 *
 * - key share: psa_generate_key + psa_export_public_key (what
 *   ssl_tls13_generic.c does for the server's share), then psa_destroy_key;
 * - agreement: psa_raw_key_agreement with the client's share
 *   (ssl_tls13_keys.c);
 * - CertificateVerify: mbedtls_pk_sign with the leaf key, an mbedtls_pk
 *   ECKEY context as egress makes it (egress_tls.c), and psa_sign_hash for
 *   comparison; the upstream side's verify too.
 *
 * Each figure is the calling thread's CPU time per operation (not wall time:
 * the machine is shared), measured REPEAT times; the line shows the median
 * and the spread (min..max).
 *
 *   crypto_handshake [--quick]
 *
 * Built by hand against build/sysroot.  As the sidecar links it (X25519
 * public keys by Everest, sidecar/egress/egress_tls_x25519.c):
 *   musl-gcc -std=c11 -D_GNU_SOURCE -O2 -isystem build/sysroot/include -static \
 *     -Lbuild/sysroot/lib -Wl,--wrap=mbedtls_ecp_mul -o /tmp/crypto_handshake \
 *     bench/egress/crypto_handshake.c sidecar/egress/egress_tls_x25519.c -lmbedcrypto
 * and without the last two additions for mbedTLS's own code paths.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecdsa.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <psa/crypto.h>

#define REPEAT 5

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* One operation under test; returns 0 on success. */
typedef int (*operation_fn)(void *context);

/* Run op until `secs` of CPU have gone by, REPEAT times; print the median
 * and the spread in microseconds per operation. */
static int measure(const char *name, operation_fn op, void *context, double secs)
{
	double per_op[REPEAT];

	for (int r = 0; r < REPEAT; r++) {
		uint64_t n = 0;
		double t0 = cpu_seconds(), t;

		do {
			if (op(context) != 0) {
				printf("%-40s failed\n", name);
				return -1;
			}
			n++;
			t = cpu_seconds() - t0;
		} while (t < secs);
		per_op[r] = 1e6 * t / (double)n;
	}
	qsort(per_op, REPEAT, sizeof(per_op[0]), compare_double);
	printf("%-40s %8.1f us  (%.1f..%.1f)  %6.0f /s\n", name, per_op[REPEAT / 2], per_op[0],
	       per_op[REPEAT - 1], 1e6 / per_op[REPEAT / 2]);
	return 0;
}

struct group {
	psa_key_type_t type;
	size_t bits;
	/* A standing key of our own and the peer's public share, for the
	 * agreement alone. */
	mbedtls_svc_key_id_t own;
	unsigned char peer[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
	size_t peer_len;
};

static int group_key_generate(const struct group *g, mbedtls_svc_key_id_t *key)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;

	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&attributes, PSA_ALG_ECDH);
	psa_set_key_type(&attributes, g->type);
	psa_set_key_bits(&attributes, g->bits);
	return psa_generate_key(&attributes, key) == PSA_SUCCESS ? 0 : -1;
}

/* The server's key share: generate, export the public half, destroy. */
static int key_share(void *context)
{
	struct group *g = context;
	mbedtls_svc_key_id_t key;
	unsigned char pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
	size_t pub_len;
	int ret = -1;

	if (group_key_generate(g, &key) != 0)
		return -1;
	if (psa_export_public_key(key, pub, sizeof(pub), &pub_len) == PSA_SUCCESS)
		ret = 0;
	psa_destroy_key(key);
	return ret;
}

static int key_agreement(void *context)
{
	struct group *g = context;
	unsigned char secret[PSA_RAW_KEY_AGREEMENT_OUTPUT_MAX_SIZE];
	size_t secret_len;

	return psa_raw_key_agreement(PSA_ALG_ECDH, g->own, g->peer, g->peer_len, secret,
				     sizeof(secret), &secret_len) == PSA_SUCCESS
		       ? 0
		       : -1;
}

/* All of a server's ECDHE in one: share, agreement, destroy. */
static int key_exchange(void *context)
{
	struct group *g = context;
	mbedtls_svc_key_id_t key;
	unsigned char pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE];
	unsigned char secret[PSA_RAW_KEY_AGREEMENT_OUTPUT_MAX_SIZE];
	size_t pub_len, secret_len;
	int ret = -1;

	if (group_key_generate(g, &key) != 0)
		return -1;
	if (psa_export_public_key(key, pub, sizeof(pub), &pub_len) == PSA_SUCCESS &&
	    psa_raw_key_agreement(PSA_ALG_ECDH, key, g->peer, g->peer_len, secret, sizeof(secret),
				  &secret_len) == PSA_SUCCESS)
		ret = 0;
	psa_destroy_key(key);
	return ret;
}

static int group_measure(const char *label, psa_key_type_t type, size_t bits, double secs)
{
	struct group g = { .type = type, .bits = bits };
	mbedtls_svc_key_id_t peer_key;
	char name[64];
	int ret = -1;

	if (group_key_generate(&g, &g.own) != 0)
		return -1;
	if (group_key_generate(&g, &peer_key) != 0)
		goto out;
	if (psa_export_public_key(peer_key, g.peer, sizeof(g.peer), &g.peer_len) != PSA_SUCCESS) {
		psa_destroy_key(peer_key);
		goto out;
	}
	psa_destroy_key(peer_key);
	snprintf(name, sizeof(name), "%s key share (generate+export)", label);
	if (measure(name, key_share, &g, secs) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s agreement", label);
	if (measure(name, key_agreement, &g, secs) != 0)
		goto out;
	snprintf(name, sizeof(name), "%s whole exchange", label);
	if (measure(name, key_exchange, &g, secs) != 0)
		goto out;
	ret = 0;
out:
	psa_destroy_key(g.own);
	return ret;
}

struct signer {
	mbedtls_pk_context pk;
	mbedtls_svc_key_id_t psa_key;
	unsigned char hash[32];
	unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t sig_len;
};

static int pk_sign(void *context)
{
	struct signer *s = context;

	return mbedtls_pk_sign(&s->pk, MBEDTLS_MD_SHA256, s->hash, sizeof(s->hash), s->sig,
			       sizeof(s->sig), &s->sig_len, mbedtls_psa_get_random,
			       MBEDTLS_PSA_RANDOM_STATE);
}

static int pk_verify(void *context)
{
	struct signer *s = context;

	return mbedtls_pk_verify(&s->pk, MBEDTLS_MD_SHA256, s->hash, sizeof(s->hash), s->sig,
				 s->sig_len);
}

static int psa_sign(void *context)
{
	struct signer *s = context;
	unsigned char sig[PSA_SIGNATURE_MAX_SIZE];
	size_t sig_len;

	return psa_sign_hash(s->psa_key, PSA_ALG_ECDSA(PSA_ALG_SHA_256), s->hash, sizeof(s->hash),
			     sig, sizeof(sig), &sig_len) == PSA_SUCCESS
		       ? 0
		       : -1;
}

static int signature_measure(double secs)
{
	struct signer s = { .hash = { 3 } };
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	int ret = -1;

	mbedtls_pk_init(&s.pk);
	/* As egress makes its shared leaf key (egress_tls.c). */
	if (mbedtls_pk_setup(&s.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(s.pk),
				mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE) != 0)
		goto out;
	if (measure("ECDSA P-256 sign (mbedtls_pk_sign)", pk_sign, &s, secs) != 0 ||
	    measure("ECDSA P-256 verify (mbedtls_pk_verify)", pk_verify, &s, secs) != 0)
		goto out;
	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_SIGN_HASH);
	psa_set_key_algorithm(&attributes, PSA_ALG_ECDSA(PSA_ALG_SHA_256));
	psa_set_key_type(&attributes, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1));
	psa_set_key_bits(&attributes, 256);
	if (psa_generate_key(&attributes, &s.psa_key) != PSA_SUCCESS)
		goto out;
	ret = measure("ECDSA P-256 sign (psa_sign_hash)", psa_sign, &s, secs);
	psa_destroy_key(s.psa_key);
out:
	mbedtls_pk_free(&s.pk);
	return ret;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 0.1 : 0.4;
	int failed = 0;

	if (psa_crypto_init() != PSA_SUCCESS) {
		fprintf(stderr, "crypto_handshake: psa_crypto_init failed\n");
		return 1;
	}
	printf("CPU per operation, median of %d (min..max), one thread:\n", REPEAT);
	failed |= group_measure("X25519", PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY), 255,
				secs);
	failed |= group_measure("P-256", PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 256,
				secs);
	failed |= group_measure("P-384", PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_SECP_R1), 384,
				secs);
	failed |= signature_measure(secs);
	return failed ? 1 : 0;
}

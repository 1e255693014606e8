/*
 * crypto_ceiling: what mbedTLS, as built in the sysroot egress links, can do
 * on this machine per core.  It bounds the egress figures: every byte of a
 * bumped download is decrypted once (upstream) and encrypted once (agent),
 * and every new bumped CONNECT costs a key exchange and signatures.
 *
 * Built by bench/egress/run.sh with musl-gcc against build/sysroot, the same
 * objects and configuration as build/sidecar.  One line per figure.  With
 * our GCM (deps/mbedtls-gcm, MBEDTLS_GCM_ALT) it also prints every path
 * this CPU has (AES-NI on xmm, VAES on ymm and zmm) and the portable one,
 * what a CPU without AES-NI or PCLMULQDQ would run; the first two lines
 * are the path egress takes here.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/chachapoly.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecdsa.h>
#include <mbedtls/gcm.h>
#include <mbedtls/sha256.h>
#include <psa/crypto.h>

#define RECORD 16384 /* a full TLS record, what a bulk transfer uses */

static unsigned char in[RECORD], out[RECORD];

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int rng(void *ctx, unsigned char *p, size_t n)
{
	(void)ctx;
	return psa_generate_random(p, n) == PSA_SUCCESS ? 0 : -1;
}

static void gcm(const char *name, unsigned keybits, double secs)
{
	mbedtls_gcm_context g;
	unsigned char key[32] = { 1 }, iv[12] = { 2 }, tag[16];
	uint64_t n = 0;
	double t0 = now(), t;

	mbedtls_gcm_init(&g);
	mbedtls_gcm_setkey(&g, MBEDTLS_CIPHER_ID_AES, key, keybits);
	do {
		for (int i = 0; i < 64; i++, n++)
			mbedtls_gcm_crypt_and_tag(&g, MBEDTLS_GCM_ENCRYPT, RECORD, iv,
						  sizeof(iv), NULL, 0, in, out, 16, tag);
		t = now() - t0;
	} while (t < secs);
	printf("%-34s %8.0f MB/s\n", name, n * RECORD / t / 1e6);
	mbedtls_gcm_free(&g);
}

static void chachapoly(double secs)
{
	mbedtls_chachapoly_context c;
	unsigned char key[32] = { 1 }, nonce[12] = { 2 }, tag[16];
	uint64_t n = 0;
	double t0 = now(), t;

	mbedtls_chachapoly_init(&c);
	mbedtls_chachapoly_setkey(&c, key);
	do {
		for (int i = 0; i < 64; i++, n++)
			mbedtls_chachapoly_encrypt_and_tag(&c, RECORD, nonce, NULL, 0,
							   in, out, tag);
		t = now() - t0;
	} while (t < secs);
	printf("%-34s %8.0f MB/s\n", "ChaCha20-Poly1305, 16 KiB records", n * RECORD / t / 1e6);
	mbedtls_chachapoly_free(&c);
}

/* One ECDHE as a TLS peer does it: make a key pair, derive the secret. */
static void ecdh(const char *name, mbedtls_ecp_group_id id, double secs)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d, z;
	mbedtls_ecp_point q, peer;
	mbedtls_mpi peer_d;
	uint64_t n = 0;
	double t0, t = 0;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&z);
	mbedtls_mpi_init(&peer_d);
	mbedtls_ecp_point_init(&q);
	mbedtls_ecp_point_init(&peer);
	mbedtls_ecp_group_load(&grp, id);
	mbedtls_ecdh_gen_public(&grp, &peer_d, &peer, rng, NULL);
	t0 = now();
	do {
		if (mbedtls_ecdh_gen_public(&grp, &d, &q, rng, NULL) != 0 ||
		    mbedtls_ecdh_compute_shared(&grp, &z, &peer, &d, rng, NULL) != 0) {
			printf("%s: failed\n", name);
			break;
		}
		n++;
		t = now() - t0;
	} while (t < secs);
	printf("%-34s %8.0f /s  (%.2f ms)\n", name, n / t, 1e3 * t / n);
	mbedtls_ecp_point_free(&q);
	mbedtls_ecp_point_free(&peer);
	mbedtls_mpi_free(&d);
	mbedtls_mpi_free(&z);
	mbedtls_mpi_free(&peer_d);
	mbedtls_ecp_group_free(&grp);
}

static void ecdsa(double secs)
{
	mbedtls_ecdsa_context k;
	unsigned char hash[32] = { 3 }, sig[MBEDTLS_ECDSA_MAX_LEN];
	size_t sig_len;
	uint64_t n = 0;
	double t0, t = 0;

	mbedtls_ecdsa_init(&k);
	mbedtls_ecdsa_genkey(&k, MBEDTLS_ECP_DP_SECP256R1, rng, NULL);
	t0 = now();
	do {
		mbedtls_ecdsa_write_signature(&k, MBEDTLS_MD_SHA256, hash, sizeof(hash), sig,
					      sizeof(sig), &sig_len, rng, NULL);
		n++;
		t = now() - t0;
	} while (t < secs);
	printf("%-34s %8.0f /s  (%.2f ms)\n", "ECDSA P-256 sign", n / t, 1e3 * t / n);
	n = 0;
	t0 = now();
	do {
		if (mbedtls_ecdsa_read_signature(&k, hash, sizeof(hash), sig, sig_len) != 0) {
			printf("ECDSA P-256 verify: failed\n");
			break;
		}
		n++;
		t = now() - t0;
	} while (t < secs);
	printf("%-34s %8.0f /s  (%.2f ms)\n", "ECDSA P-256 verify", n / t, 1e3 * t / n);
	mbedtls_ecdsa_free(&k);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 && strcmp(argv[1], "--quick") == 0 ? 0.3 : 1.0;

	if (psa_crypto_init() != PSA_SUCCESS) {
		fprintf(stderr, "crypto_ceiling: psa_crypto_init failed\n");
		return 1;
	}
	memset(in, 'x', sizeof(in));
	gcm("AES-128-GCM, 16 KiB records", 128, secs);
	gcm("AES-256-GCM, 16 KiB records", 256, secs);
#if defined(MBEDTLS_GCM_ALT)
	for (int path = MBEDTLS_GCM_ALT_VAES512; path > MBEDTLS_GCM_ALT_PORTABLE; path--) {
		static const char *const names[] = { "", "aesni", "vaes256", "vaes512" };
		char name[64];

		if (mbedtls_gcm_alt_set_path(path) != 0)
			continue;
		for (unsigned bits = 128; bits <= 256; bits += 128) {
			snprintf(name, sizeof(name), "AES-%u-GCM %s path", bits, names[path]);
			gcm(name, bits, secs);
		}
	}
	mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_PORTABLE);
	gcm("AES-128-GCM portable path", 128, secs);
	mbedtls_gcm_alt_set_path(MBEDTLS_GCM_ALT_BEST);
#endif
	chachapoly(secs);
	ecdh("ECDHE X25519 (keygen + derive)", MBEDTLS_ECP_DP_CURVE25519, secs);
	ecdh("ECDHE P-256 (keygen + derive)", MBEDTLS_ECP_DP_SECP256R1, secs);
	ecdsa(secs);
	return 0;
}

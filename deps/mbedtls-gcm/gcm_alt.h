/*
 * gcm_alt.h: the context of bottle's own AES-GCM, which replaces mbedTLS's
 * GCM when mbedtls_config.h defines MBEDTLS_GCM_ALT (scripts/build-deps.sh
 * does).  mbedtls/gcm.h includes this file instead of defining its own
 * context and declares the functions gcm_alt.c provides; everything that
 * uses GCM (the cipher layer, PSA, TLS) goes through that API unchanged.
 *
 * Why it lives in deps/ and not in shared/: it is not part of our program but
 * of the dependency.  build-deps.sh compiles it against mbedTLS's own
 * configuration and adds it to libmbedcrypto.a, and installs this header
 * next to gcm.h (include/mbedtls/), where gcm.h's #include "gcm_alt.h" finds
 * it first, so every user of the sysroot sees the same struct.
 * docs/egress-tls.md describes the implementation, docs/dependencies.md why
 * it exists.
 */
#ifndef MBEDTLS_GCM_ALT_H
#define MBEDTLS_GCM_ALT_H

#include <stdint.h>

#include "mbedtls/cipher.h"

/* How many powers of H the AES-NI path keeps: it hashes this many blocks
 * with one reduction. */
#define MBEDTLS_GCM_ALT_POWERS 8

typedef struct mbedtls_gcm_context {
	/* AES-NI path: the expanded AES key (up to 15 round keys) and
	 * H^1..H^8 in that path's byte-reversed form (unaligned loads cost
	 * nothing on the CPUs that have AES-NI). */
	unsigned char round_keys[15][16];
	unsigned char h_powers[MBEDTLS_GCM_ALT_POWERS][16];
	/* Portable path: the block cipher (AES, ARIA or Camellia through
	 * mbedTLS) and H in the specification's byte order. */
	mbedtls_cipher_context_t cipher;
	unsigned char h[16];
	/* The message in progress, in the specification's byte order. */
	unsigned char counter[16];   /* the counter block used last */
	unsigned char tag_mask[16];  /* E(K, J0), XORed into the tag */
	unsigned char ghash[16];     /* GHASH so far; a partial block is XORed in */
	unsigned char keystream[16]; /* the current partial block's keystream */
	uint64_t data_length;        /* bytes of plain/ciphertext so far */
	uint64_t ad_length;          /* bytes of additional data so far */
	int rounds;                  /* AES rounds (10, 12, 14) on the AES-NI path */
	int mode;                    /* MBEDTLS_GCM_ENCRYPT or _DECRYPT */
	int accelerated;             /* 1: AES-NI + PCLMULQDQ, 0: portable */
	int cipher_ready;            /* `cipher` was set up and must be freed */
} mbedtls_gcm_context;

/*
 * For tests and benchmarks: make every later mbedtls_gcm_setkey() use the
 * portable path even on a CPU with AES-NI and PCLMULQDQ (portable != 0), or
 * let it choose again (0).  Process-wide; contexts keyed before keep their
 * path.
 */
void mbedtls_gcm_alt_set_portable(int portable);

/* 1 if ctx was keyed for the AES-NI path, 0 for the portable one. */
int mbedtls_gcm_alt_is_accelerated(const mbedtls_gcm_context *ctx);

#endif /* MBEDTLS_GCM_ALT_H */

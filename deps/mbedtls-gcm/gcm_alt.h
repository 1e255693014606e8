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

/* How many powers of H the context keeps: the VAES paths hash 16 blocks
 * with one reduction (the AES-NI path the last 8 of them). */
#define MBEDTLS_GCM_ALT_POWERS 16

/* The implementations, slowest first; mbedtls_gcm_setkey() takes the last
 * one the CPU (and the OS, for the wide registers) supports, and the
 * portable one for keys other than AES. */
enum mbedtls_gcm_alt_path {
	MBEDTLS_GCM_ALT_PORTABLE = 0, /* mbedTLS's block cipher, bitwise GHASH */
	MBEDTLS_GCM_ALT_AESNI = 1,    /* AES-NI + PCLMULQDQ, 8 blocks on xmm */
	MBEDTLS_GCM_ALT_VAES256 = 2,  /* VAES + VPCLMULQDQ, 16 blocks on ymm */
	MBEDTLS_GCM_ALT_VAES512 = 3,  /* VAES + VPCLMULQDQ, 16 blocks on zmm */
};
/* mbedtls_gcm_alt_set_path(): back to the automatic choice. */
#define MBEDTLS_GCM_ALT_BEST (-1)

typedef struct mbedtls_gcm_context {
	/* AES-NI and VAES paths: the expanded AES key (up to 15 round keys)
	 * and H^16, H^15, ..., H^1 in that order, in those paths'
	 * byte-reversed form (so that a wide load picks up the powers for
	 * consecutive blocks; unaligned loads cost nothing on the CPUs that
	 * have AES-NI). */
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
	int rounds;                  /* AES rounds (10, 12, 14) on the AES-NI and VAES paths */
	int mode;                    /* MBEDTLS_GCM_ENCRYPT or _DECRYPT */
	int path;                    /* enum mbedtls_gcm_alt_path */
	int cipher_ready;            /* `cipher` was set up and must be freed */
} mbedtls_gcm_context;

/*
 * For tests and benchmarks: make every later mbedtls_gcm_setkey() of an AES
 * key use `path` (an enum mbedtls_gcm_alt_path), or choose again
 * (MBEDTLS_GCM_ALT_BEST).  Process-wide; contexts keyed before keep their
 * path.  Returns 0, or MBEDTLS_ERR_GCM_BAD_INPUT (and changes nothing) if
 * this CPU cannot run `path`.
 */
int mbedtls_gcm_alt_set_path(int path);

/* 1 if this CPU (and OS) can run `path`, else 0. */
int mbedtls_gcm_alt_path_available(int path);

/* The enum mbedtls_gcm_alt_path ctx was keyed for. */
int mbedtls_gcm_alt_path(const mbedtls_gcm_context *ctx);

#endif /* MBEDTLS_GCM_ALT_H */

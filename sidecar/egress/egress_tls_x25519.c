/* X25519 public keys by Everest instead of mbedTLS's generic ladder.
 *
 * Every agent-side TLS 1.3 handshake makes a fresh X25519 key share:
 * psa_generate_key draws the secret scalar and psa_export_public_key turns
 * it into the public key with mbedtls_ecp_mul(grp, Q, d, &grp->G).  mbedTLS
 * 3.6 routes X25519 *agreement* to Everest (HACL*'s verified Curve25519,
 * MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED, scripts/build-deps.sh) but not that
 * public key: it stays on the generic bignum Montgomery ladder, 430 us of
 * the handshake against 72 us for the same scalar multiplication in Everest
 * (bench/egress/crypto_handshake.c).  No configuration switch or PSA
 * setting changes that, so the link wraps mbedtls_ecp_mul
 * (-Wl,--wrap=mbedtls_ecp_mul, Makefile): a Curve25519 multiplication of
 * the base point by a valid private key is X25519(d, 9), which Everest
 * computes; everything else goes to mbedTLS unchanged.
 *
 * The result is the same point: RFC 7748's X25519 clamps the scalar, and
 * only scalars that are already clamped (what mbedTLS accepts as Curve25519
 * private keys, mbedtls_ecp_check_privkey) take this path, so both compute
 * d * 9 on the same curve; mbedtls_ecp_point_read_binary stores it as
 * ecp_mul does (X, Z = 1, no Y).  tests/unit/test_egress_tls_x25519.c checks
 * it against mbedTLS's own ladder and RFC 7748's vectors.  HACL*'s code is
 * constant-time, as the ladder it replaces. */
#include <mbedtls/ecp.h>
#include <mbedtls/platform_util.h>
/* After ecp.h: Everest's mbedTLS-facing X25519, what mbedtls_ecdh_calc_secret
 * calls for Curve25519. */
#include <everest/x25519.h>

#include "egress_tls_internal.h"

int __real_mbedtls_ecp_mul(mbedtls_ecp_group *grp, mbedtls_ecp_point *R, const mbedtls_mpi *m,
			   const mbedtls_ecp_point *P,
			   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng);
int __wrap_mbedtls_ecp_mul(mbedtls_ecp_group *grp, mbedtls_ecp_point *R, const mbedtls_mpi *m,
			   const mbedtls_ecp_point *P,
			   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng);

/* A Curve25519 private key as mbedtls_ecp_check_privkey wants it: positive,
 * bit 254 the highest set, bits 0..2 clear (RFC 7748, section 5). */
static int x25519_scalar_is_clamped(const mbedtls_mpi *m)
{
	return mbedtls_mpi_cmp_int(m, 0) > 0 && mbedtls_mpi_bitlen(m) == 255 &&
	       mbedtls_mpi_get_bit(m, 0) == 0 && mbedtls_mpi_get_bit(m, 1) == 0 &&
	       mbedtls_mpi_get_bit(m, 2) == 0;
}

int egress_tls_x25519_base_mul(mbedtls_ecp_group *grp, mbedtls_ecp_point *R,
			       const mbedtls_mpi *m)
{
	mbedtls_x25519_context x25519;
	unsigned char point[MBEDTLS_X25519_KEY_SIZE_BYTES];
	size_t point_len;
	int ret = MBEDTLS_ERR_ECP_BAD_INPUT_DATA;

	mbedtls_x25519_init(&x25519);
	if (grp->id != MBEDTLS_ECP_DP_CURVE25519 || !x25519_scalar_is_clamped(m))
		goto out;
	ret = mbedtls_mpi_write_binary_le(m, x25519.our_secret, sizeof(x25519.our_secret));
	if (ret != 0)
		goto out;
	/* The base point, u = 9, as the "peer's" public key. */
	x25519.peer_point[0] = 9;
	ret = mbedtls_x25519_calc_secret(&x25519, &point_len, point, sizeof(point), NULL, NULL);
	if (ret != 0)
		goto out;
	ret = mbedtls_ecp_point_read_binary(grp, R, point, point_len);
out:
	mbedtls_x25519_free(&x25519); /* zeroes the secret */
	return ret;
}

int __wrap_mbedtls_ecp_mul(mbedtls_ecp_group *grp, mbedtls_ecp_point *R, const mbedtls_mpi *m,
			   const mbedtls_ecp_point *P,
			   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
	if (grp->id == MBEDTLS_ECP_DP_CURVE25519 && x25519_scalar_is_clamped(m) &&
	    mbedtls_ecp_point_cmp(P, &grp->G) == 0)
		return egress_tls_x25519_base_mul(grp, R, m);
	return __real_mbedtls_ecp_mul(grp, R, m, P, f_rng, p_rng);
}

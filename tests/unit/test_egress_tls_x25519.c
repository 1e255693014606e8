/* X25519 public keys by Everest (sidecar/egress/egress_tls_x25519.c): the
 * wrapped mbedtls_ecp_mul must give exactly what mbedTLS's own ladder gives
 * for every Curve25519 private key, RFC 7748's vectors through PSA (the path
 * TLS 1.3 takes), and leave every other multiplication to mbedTLS.
 * Linked with -Wl,--wrap=mbedtls_ecp_mul like the sidecar (Makefile). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <mbedtls/ecp.h>
#include <mbedtls/psa_util.h>
#include <psa/crypto.h>

#include "../../sidecar/egress/egress_tls_internal.h"

int __real_mbedtls_ecp_mul(mbedtls_ecp_group *grp, mbedtls_ecp_point *R, const mbedtls_mpi *m,
			   const mbedtls_ecp_point *P,
			   int (*f_rng)(void *, unsigned char *, size_t), void *p_rng);

static void hex_decode(const char *hex, unsigned char *out, size_t out_len)
{
	assert_int_equal(strlen(hex), 2 * out_len);
	for (size_t i = 0; i < out_len; i++) {
		unsigned int byte;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (unsigned char)byte;
	}
}

/* RFC 7748, section 6.1: Alice's and Bob's keys and their shared secret. */
static const char *const rfc7748_private[2] = {
	"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
};
static const char *const rfc7748_public[2] = {
	"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
};
static const char *const rfc7748_shared =
	"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static mbedtls_svc_key_id_t x25519_import(const unsigned char *private_key)
{
	psa_key_attributes_t attributes = PSA_KEY_ATTRIBUTES_INIT;
	mbedtls_svc_key_id_t key;

	psa_set_key_usage_flags(&attributes, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&attributes, PSA_ALG_ECDH);
	psa_set_key_type(&attributes, PSA_KEY_TYPE_ECC_KEY_PAIR(PSA_ECC_FAMILY_MONTGOMERY));
	psa_set_key_bits(&attributes, 255);
	assert_int_equal(psa_import_key(&attributes, private_key, 32, &key), PSA_SUCCESS);
	return key;
}

/* psa_export_public_key is where TLS 1.3 makes its key share; it ends in
 * mbedtls_ecp_mul(grp, Q, d, &grp->G), the call the wrapper takes over. */
static void test_rfc7748_through_psa(void **state)
{
	unsigned char private_key[2][32], expected[32], public_key[2][32], shared[32];
	mbedtls_svc_key_id_t key[2];
	size_t len;

	(void)state;
	for (int i = 0; i < 2; i++) {
		hex_decode(rfc7748_private[i], private_key[i], sizeof(private_key[i]));
		key[i] = x25519_import(private_key[i]);
		assert_int_equal(psa_export_public_key(key[i], public_key[i], sizeof(public_key[i]),
						       &len),
				 PSA_SUCCESS);
		assert_int_equal(len, 32);
		hex_decode(rfc7748_public[i], expected, sizeof(expected));
		assert_memory_equal(public_key[i], expected, 32);
	}
	/* And the agreement (Everest through mbedtls_ecdh_calc_secret). */
	hex_decode(rfc7748_shared, expected, sizeof(expected));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(psa_raw_key_agreement(PSA_ALG_ECDH, key[i], public_key[1 - i], 32,
						       shared, sizeof(shared), &len),
				 PSA_SUCCESS);
		assert_int_equal(len, 32);
		assert_memory_equal(shared, expected, 32);
	}
	psa_destroy_key(key[0]);
	psa_destroy_key(key[1]);
}

/* Random private keys: Everest's point is mbedTLS's ladder's, X and Z. */
static void test_matches_mbedtls_ladder(void **state)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point ours, theirs;

	(void)state;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&ours);
	mbedtls_ecp_point_init(&theirs);
	assert_int_equal(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519), 0);
	for (int i = 0; i < 200; i++) {
		assert_int_equal(mbedtls_ecp_gen_privkey(&grp, &d, mbedtls_psa_get_random,
							 MBEDTLS_PSA_RANDOM_STATE),
				 0);
		assert_int_equal(egress_tls_x25519_base_mul(&grp, &ours, &d), 0);
		assert_int_equal(__real_mbedtls_ecp_mul(&grp, &theirs, &d, &grp.G,
							mbedtls_psa_get_random,
							MBEDTLS_PSA_RANDOM_STATE),
				 0);
		assert_int_equal(mbedtls_ecp_point_cmp(&ours, &theirs), 0);
		/* Through the wrapped name too. */
		mbedtls_ecp_point_free(&ours);
		mbedtls_ecp_point_init(&ours);
		assert_int_equal(mbedtls_ecp_mul(&grp, &ours, &d, &grp.G, mbedtls_psa_get_random,
						 MBEDTLS_PSA_RANDOM_STATE),
				 0);
		assert_int_equal(mbedtls_ecp_point_cmp(&ours, &theirs), 0);
	}
	mbedtls_ecp_point_free(&ours);
	mbedtls_ecp_point_free(&theirs);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
}

/* What is not a clamped Curve25519 key times the base point stays with
 * mbedTLS: the same result or the same error as unwrapped. */
static void test_other_multiplications_unchanged(void **state)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	mbedtls_ecp_point ours, theirs, other;

	(void)state;
	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_ecp_point_init(&ours);
	mbedtls_ecp_point_init(&theirs);
	mbedtls_ecp_point_init(&other);
	assert_int_equal(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_CURVE25519), 0);

	/* An unclamped scalar: refused by both, and by the Everest path. */
	assert_int_equal(mbedtls_mpi_lset(&d, 12345), 0);
	assert_int_equal(egress_tls_x25519_base_mul(&grp, &ours, &d), MBEDTLS_ERR_ECP_BAD_INPUT_DATA);
	assert_int_equal(mbedtls_ecp_mul(&grp, &ours, &d, &grp.G, mbedtls_psa_get_random,
					 MBEDTLS_PSA_RANDOM_STATE),
			 __real_mbedtls_ecp_mul(&grp, &theirs, &d, &grp.G, mbedtls_psa_get_random,
						MBEDTLS_PSA_RANDOM_STATE));

	/* A point other than the base point. */
	assert_int_equal(mbedtls_ecp_gen_privkey(&grp, &d, mbedtls_psa_get_random,
						 MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(__real_mbedtls_ecp_mul(&grp, &other, &d, &grp.G, mbedtls_psa_get_random,
						MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(mbedtls_ecp_mul(&grp, &ours, &d, &other, mbedtls_psa_get_random,
					 MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(__real_mbedtls_ecp_mul(&grp, &theirs, &d, &other, mbedtls_psa_get_random,
						MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(mbedtls_ecp_point_cmp(&ours, &theirs), 0);

	/* Another curve. */
	mbedtls_ecp_group_free(&grp);
	mbedtls_ecp_group_init(&grp);
	assert_int_equal(mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1), 0);
	assert_int_equal(mbedtls_ecp_gen_privkey(&grp, &d, mbedtls_psa_get_random,
						 MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(egress_tls_x25519_base_mul(&grp, &ours, &d), MBEDTLS_ERR_ECP_BAD_INPUT_DATA);
	assert_int_equal(mbedtls_ecp_mul(&grp, &ours, &d, &grp.G, mbedtls_psa_get_random,
					 MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(__real_mbedtls_ecp_mul(&grp, &theirs, &d, &grp.G, mbedtls_psa_get_random,
						MBEDTLS_PSA_RANDOM_STATE),
			 0);
	assert_int_equal(mbedtls_ecp_point_cmp(&ours, &theirs), 0);

	mbedtls_ecp_point_free(&ours);
	mbedtls_ecp_point_free(&theirs);
	mbedtls_ecp_point_free(&other);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7748_through_psa),
		cmocka_unit_test(test_matches_mbedtls_ladder),
		cmocka_unit_test(test_other_multiplications_unchanged),
	};

	if (psa_crypto_init() != PSA_SUCCESS)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}

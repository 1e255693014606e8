/* The per-bottle CA: egress signs the leaves it bumps with, and the agent
 * trusts it.  One per bottle, so a key that leaks from one bottle opens no
 * other; ECDSA P-256, as egress's leaves. */
#include "launch.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/error.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/x509_crt.h>

#define CA_PEM_MAX 4096

static int validity(time_t t, char out[16])
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || strftime(out, 16, "%Y%m%d%H%M%S", &tm) != 14)
		return -EINVAL;
	return 0;
}

static int fail(char *err, size_t len, const char *what, int code)
{
	char text[128];

	mbedtls_strerror(code, text, sizeof(text));
	snprintf(err, len, "cannot %s: %s", what, text);
	return -EIO;
}

int launch_ca_mint(const char *cert_path, const char *key_path, const char *cn, int days,
		   char *err, size_t len)
{
	unsigned char serial[16], key_pem[CA_PEM_MAX], crt_pem[CA_PEM_MAX];
	char subject[256], not_before[16], not_after[16];
	mbedtls_x509write_cert w;
	mbedtls_pk_context key;
	time_t now = time(NULL);
	int ret = -EIO, code;

	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&w);
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(err, len, "cannot initialise PSA crypto");
		goto out;
	}
	code = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
	if (code == 0)
		code = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
					   mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
	if (code != 0) {
		ret = fail(err, len, "generate the CA key", code);
		goto out;
	}
	code = psa_generate_random(serial, sizeof(serial)) == PSA_SUCCESS ? 0 : -1;
	/* A positive serial: DER integers are signed. */
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	snprintf(subject, sizeof(subject), "CN=%s,O=bottle", cn);
	/* Clocks of engine VMs drift: start an hour early. */
	if (code != 0 || validity(now - 3600, not_before) < 0 ||
	    validity(now + (time_t)days * 86400, not_after) < 0) {
		snprintf(err, len, "cannot pick the CA's serial and validity");
		goto out;
	}
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, &key);
	code = mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial));
	if (code == 0)
		code = mbedtls_x509write_crt_set_subject_name(&w, subject);
	if (code == 0)
		code = mbedtls_x509write_crt_set_issuer_name(&w, subject);
	if (code == 0)
		code = mbedtls_x509write_crt_set_validity(&w, not_before, not_after);
	/* pathlen 0: the CA signs leaves, never another CA. */
	if (code == 0)
		code = mbedtls_x509write_crt_set_basic_constraints(&w, 1, 0);
	if (code == 0)
		code = mbedtls_x509write_crt_set_key_usage(
			&w, MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN);
	if (code == 0)
		code = mbedtls_x509write_crt_set_subject_key_identifier(&w);
	if (code == 0)
		code = mbedtls_x509write_crt_set_authority_key_identifier(&w);
	if (code == 0)
		code = mbedtls_x509write_crt_pem(&w, crt_pem, sizeof(crt_pem),
						 mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
	if (code != 0) {
		ret = fail(err, len, "write the CA certificate", code);
		goto out;
	}
	code = mbedtls_pk_write_key_pem(&key, key_pem, sizeof(key_pem));
	if (code != 0) {
		ret = fail(err, len, "write the CA key", code);
		goto out;
	}
	ret = launch_write_file(key_path, key_pem, strlen((char *)key_pem), 0600);
	if (ret < 0) {
		snprintf(err, len, "unable to write '%s': %s", key_path, strerror(-ret));
		goto out;
	}
	ret = launch_write_file(cert_path, crt_pem, strlen((char *)crt_pem), 0644);
	if (ret < 0)
		snprintf(err, len, "unable to write '%s': %s", cert_path, strerror(-ret));
out:
	mbedtls_platform_zeroize(key_pem, sizeof(key_pem));
	mbedtls_x509write_crt_free(&w);
	mbedtls_pk_free(&key);
	return ret;
}

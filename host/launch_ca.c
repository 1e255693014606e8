/* The per-bottle CA: egress signs the leaves it bumps with, and the agent
 * trusts it.  One per bottle, so a key that leaks from one bottle opens no
 * other; ECDSA P-256, as egress's leaves.  Also the demo origin's CA and
 * its one server certificate (launch_leaf_mint). */
#include "launch.h"

#include <errno.h>
#include <stdbool.h>
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

/* What one certificate is: a CA signing itself, or a server leaf for
 * `dns_name` signed by `issuer_key` under `issuer_name`. */
struct mint {
	const char *subject;
	const char *issuer_name;          /* NULL: self-signed */
	mbedtls_pk_context *issuer_key;   /* NULL: self-signed */
	const char *dns_name;             /* a leaf's subjectAltName */
	int days;
};

static int mint(const struct mint *m, const char *cert_path, const char *key_path,
		mode_t key_mode, char *err, size_t len)
{
	unsigned char serial[16], key_pem[CA_PEM_MAX], crt_pem[CA_PEM_MAX];
	char not_before[16], not_after[16];
	mbedtls_x509write_cert w;
	mbedtls_pk_context key;
	mbedtls_x509_san_list san;
	time_t now = time(NULL);
	bool ca = !m->issuer_key;
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
		ret = fail(err, len, ca ? "generate the CA key" : "generate the key", code);
		goto out;
	}
	code = psa_generate_random(serial, sizeof(serial)) == PSA_SUCCESS ? 0 : -1;
	/* A positive serial: DER integers are signed. */
	serial[0] &= 0x7f;
	serial[0] |= 0x01;
	/* Clocks of engine VMs drift: start an hour early. */
	if (code != 0 || validity(now - 3600, not_before) < 0 ||
	    validity(now + (time_t)m->days * 86400, not_after) < 0) {
		snprintf(err, len, "cannot pick the certificate's serial and validity");
		goto out;
	}
	mbedtls_x509write_crt_set_version(&w, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&w, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&w, &key);
	mbedtls_x509write_crt_set_issuer_key(&w, ca ? &key : m->issuer_key);
	code = mbedtls_x509write_crt_set_serial_raw(&w, serial, sizeof(serial));
	if (code == 0)
		code = mbedtls_x509write_crt_set_subject_name(&w, m->subject);
	if (code == 0)
		code = mbedtls_x509write_crt_set_issuer_name(&w, ca ? m->subject : m->issuer_name);
	if (code == 0)
		code = mbedtls_x509write_crt_set_validity(&w, not_before, not_after);
	/* pathlen 0: the CA signs leaves, never another CA. */
	if (code == 0)
		code = mbedtls_x509write_crt_set_basic_constraints(&w, ca, 0);
	if (code == 0)
		code = mbedtls_x509write_crt_set_key_usage(
			&w, ca ? MBEDTLS_X509_KU_KEY_CERT_SIGN | MBEDTLS_X509_KU_CRL_SIGN
			       : MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
	if (code == 0 && m->dns_name) {
		memset(&san, 0, sizeof(san));
		san.node.type = MBEDTLS_X509_SAN_DNS_NAME;
		san.node.san.unstructured_name.p = (unsigned char *)m->dns_name;
		san.node.san.unstructured_name.len = strlen(m->dns_name);
		code = mbedtls_x509write_crt_set_subject_alternative_name(&w, &san);
	}
	if (code == 0)
		code = mbedtls_x509write_crt_set_subject_key_identifier(&w);
	if (code == 0)
		code = mbedtls_x509write_crt_set_authority_key_identifier(&w);
	if (code == 0)
		code = mbedtls_x509write_crt_pem(&w, crt_pem, sizeof(crt_pem),
						 mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE);
	if (code != 0) {
		ret = fail(err, len, "write the certificate", code);
		goto out;
	}
	code = mbedtls_pk_write_key_pem(&key, key_pem, sizeof(key_pem));
	if (code != 0) {
		ret = fail(err, len, "write the key", code);
		goto out;
	}
	ret = launch_write_file(key_path, key_pem, strlen((char *)key_pem), key_mode);
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

int launch_ca_mint(const char *cert_path, const char *key_path, const char *cn, int days,
		   char *err, size_t len)
{
	char subject[256];
	struct mint m = { .subject = subject, .days = days };

	snprintf(subject, sizeof(subject), "CN=%s,O=bottle", cn);
	return mint(&m, cert_path, key_path, 0600, err, len);
}

int launch_leaf_mint(const char *ca_cert_path, const char *ca_key_path, const char *dns_name,
		     int days, const char *cert_path, const char *key_path, mode_t key_mode,
		     char *err, size_t len)
{
	char subject[256], issuer[256];
	mbedtls_x509_crt ca;
	mbedtls_pk_context ca_key;
	struct mint m = { .subject = subject, .issuer_name = issuer, .issuer_key = &ca_key,
			  .dns_name = dns_name, .days = days };
	int ret = -EIO, code;

	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&ca_key);
	if (psa_crypto_init() != PSA_SUCCESS) {
		snprintf(err, len, "cannot initialise PSA crypto");
		goto out;
	}
	code = mbedtls_x509_crt_parse_file(&ca, ca_cert_path);
	if (code == 0)
		code = mbedtls_pk_parse_keyfile(&ca_key, ca_key_path, NULL, mbedtls_psa_get_random,
						MBEDTLS_PSA_RANDOM_STATE);
	if (code != 0) {
		ret = fail(err, len, "read the CA", code);
		goto out;
	}
	if (mbedtls_x509_dn_gets(issuer, sizeof(issuer), &ca.subject) < 0) {
		snprintf(err, len, "cannot read the CA's name");
		goto out;
	}
	snprintf(subject, sizeof(subject), "CN=%s,O=bottle", dns_name);
	ret = mint(&m, cert_path, key_path, key_mode, err, len);
out:
	mbedtls_pk_free(&ca_key);
	mbedtls_x509_crt_free(&ca);
	return ret;
}

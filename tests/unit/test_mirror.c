/* The pure parts of the mirror: known_hosts pinning (plain, [host]:port,
 * hashed, patterns, negation, revocation), user:password@ redaction, ssh
 * URL host/port parsing, and when a fetch is due. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <mbedtls/base64.h>

#include "../../sidecar/gitgate/mirror.h"

/* Two real public keys (ssh-keygen), as known_hosts and libssh2 carry them. */
#define KEY_ECDSA_TYPE "ecdsa-sha2-nistp256"
#define KEY_ECDSA                                                                           \
	"AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBOs8f50l5oSNd4j8wQLIf+AbdLWeireE2S" \
	"+7sZaEbH9LIu2nBTSmwg/gwUAJjG7stKUYniv3Cp+DQZirJ2YBhnA="
#define KEY_RSA_TYPE "ssh-rsa"
#define KEY_RSA                                                                             \
	"AAAAB3NzaC1yc2EAAAADAQABAAAAgQC++FrobScDs6BGpi3LYXCbh9+irhC8yfVyrt7mS6JqoxNVg2ojXw0ByZ" \
	"hHxovdzZ3CbVm18L0TDxWhyWDpNK9Wooct4INyeBYCO0+2QkkdkKt3qa5ZSsQJjDJh5OwF8sZ8M1o/rHS7brV0" \
	"4bZNxiGpzZooU8gGKbZRgAv4XXo32Q=="
/* ssh-keygen -H of "forge.example" and "[127.0.0.1]:2222", both KEY_ECDSA. */
#define HASHED_FORGE "|1|SbXhv8BaZTXUWuYAm2Nn+1i6SqA=|8tc9hkaZ5y05ewHJ/vk+0b5o6jI="
#define HASHED_LOOPBACK_2222 "|1|lZq1h7Ye/6QgAK6drA0IlWaUYOI=|BeLd+YBg2RQmRQ1p1eZNmJG3wkU="

struct key {
	unsigned char blob[1024];
	size_t len;
};

static struct key key_decode(const char *base64)
{
	struct key k;

	assert_int_equal(mbedtls_base64_decode(k.blob, sizeof(k.blob), &k.len,
					       (const unsigned char *)base64, strlen(base64)),
			 0);
	return k;
}

static int match(const char *text, const char *host, int port, const char *key_base64,
		 bool *listed)
{
	struct key k = key_decode(key_base64);

	return known_hosts_match(text, text + strlen(text), host, port, k.blob, k.len, listed);
}

static void test_known_hosts_plain_entry_pins_its_key(void **state)
{
	const char *text = "# forge\n\nforge.example " KEY_ECDSA_TYPE " " KEY_ECDSA " comment\n";
	bool listed;

	(void)state;
	assert_int_equal(match(text, "forge.example", 22, KEY_ECDSA, &listed), 1);
	assert_true(listed);
	/* Host names compare without case, as OpenSSH does. */
	assert_int_equal(match(text, "Forge.Example", 22, KEY_ECDSA, &listed), 1);
	/* Another key for a listed host: listed, not pinned. */
	assert_int_equal(match(text, "forge.example", 22, KEY_RSA, &listed), 0);
	assert_true(listed);
	/* Another host: not listed at all. */
	assert_int_equal(match(text, "other.example", 22, KEY_ECDSA, &listed), 0);
	assert_false(listed);
	/* Another port is another entry: [forge.example]:2222. */
	assert_int_equal(match(text, "forge.example", 2222, KEY_ECDSA, &listed), 0);
	assert_false(listed);
}

static void test_known_hosts_port_lists_and_crlf(void **state)
{
	const char *text = "other " KEY_RSA_TYPE " " KEY_RSA "\r\n"
			   "a.example,[127.0.0.1]:2222,b.example " KEY_ECDSA_TYPE " " KEY_ECDSA "\r\n"
			   "[127.0.0.1]:2222\t" KEY_RSA_TYPE "\t" KEY_RSA;
	bool listed;

	(void)state;
	assert_int_equal(match(text, "127.0.0.1", 2222, KEY_ECDSA, &listed), 1);
	assert_int_equal(match(text, "127.0.0.1", 2222, KEY_RSA, &listed), 1);
	assert_int_equal(match(text, "b.example", 22, KEY_ECDSA, &listed), 1);
	assert_int_equal(match(text, "127.0.0.1", 22, KEY_ECDSA, &listed), 0);
	assert_false(listed);
}

static void test_known_hosts_hashed_entries(void **state)
{
	const char *text = HASHED_FORGE " " KEY_ECDSA_TYPE " " KEY_ECDSA "\n" HASHED_LOOPBACK_2222
				    " " KEY_ECDSA_TYPE " " KEY_ECDSA "\n";
	bool listed;

	(void)state;
	assert_int_equal(match(text, "forge.example", 22, KEY_ECDSA, &listed), 1);
	assert_int_equal(match(text, "127.0.0.1", 2222, KEY_ECDSA, &listed), 1);
	assert_int_equal(match(text, "127.0.0.1", 2222, KEY_RSA, &listed), 0);
	assert_true(listed);
	assert_int_equal(match(text, "forge.example2", 22, KEY_ECDSA, &listed), 0);
	assert_false(listed);
}

static void test_known_hosts_patterns_and_negation(void **state)
{
	const char *text = "*.forge.example,!evil.forge.example " KEY_ECDSA_TYPE " " KEY_ECDSA "\n"
			   "git?.example " KEY_RSA_TYPE " " KEY_RSA "\n";
	bool listed;

	(void)state;
	assert_int_equal(match(text, "git.forge.example", 22, KEY_ECDSA, &listed), 1);
	assert_int_equal(match(text, "evil.forge.example", 22, KEY_ECDSA, &listed), 0);
	assert_false(listed);
	assert_int_equal(match(text, "forge.example", 22, KEY_ECDSA, &listed), 0);
	assert_int_equal(match(text, "git1.example", 22, KEY_RSA, &listed), 1);
	assert_int_equal(match(text, "git12.example", 22, KEY_RSA, &listed), 0);
}

static void test_known_hosts_revoked_and_cert_authority(void **state)
{
	const char *revoked = "forge.example " KEY_ECDSA_TYPE " " KEY_ECDSA "\n"
			      "@revoked * " KEY_ECDSA_TYPE " " KEY_ECDSA "\n";
	const char *ca = "@cert-authority forge.example " KEY_ECDSA_TYPE " " KEY_ECDSA "\n";
	bool listed;

	(void)state;
	assert_int_equal(match(revoked, "forge.example", 22, KEY_ECDSA, &listed), -EKEYREVOKED);
	/* A CA line vouches for certificates, which are not supported: it
	 * pins nothing. */
	assert_int_equal(match(ca, "forge.example", 22, KEY_ECDSA, &listed), 0);
	assert_false(listed);
}

static void test_known_hosts_malformed_lines_pin_nothing(void **state)
{
	const char *text = "forge.example\n"
			   "forge.example " KEY_ECDSA_TYPE "\n"
			   "forge.example " KEY_ECDSA_TYPE " not*base64\n"
			   "|1|bad forge " KEY_ECDSA_TYPE " " KEY_ECDSA "\n";
	bool listed;

	(void)state;
	assert_int_equal(match(text, "forge.example", 22, KEY_ECDSA, &listed), 0);
}

static void redacted(const char *in, const char *want)
{
	char out[256];

	mirror_redact_userinfo(in, out, sizeof(out));
	assert_string_equal(out, want);
}

static void test_redact_userinfo(void **state)
{
	(void)state;
	redacted("https://x-access-token:s3cret@forge.example/o/r.git",
		 "https://forge.example/o/r.git");
	redacted("https://user@forge.example:8443/r", "https://forge.example:8443/r");
	redacted("ssh://git@forge.example:2222/r.git", "ssh://forge.example:2222/r.git");
	redacted("git@forge.example:o/r.git", "forge.example:o/r.git");
	redacted("/srv/git/r.git", "/srv/git/r.git");
	redacted("git://127.0.0.1:9418/r.git", "git://127.0.0.1:9418/r.git");
	/* Inside a message: every URL, and only the userinfo. */
	redacted("failed to fetch 'https://a:b@h/x' and https://c:d@i/y: 401",
		 "failed to fetch 'https://h/x' and https://i/y: 401");
	/* An '@' in the path is not userinfo. */
	redacted("https://h/x@y", "https://h/x@y");
}

static void test_redact_truncates(void **state)
{
	char out[12];

	(void)state;
	mirror_redact_userinfo("https://u:p@forge.example/r", out, sizeof(out));
	assert_string_equal(out, "https://for");
}

static void host_port(const char *url, const char *want_host, int want_port)
{
	char host[64];
	int port;

	assert_int_equal(mirror_url_host_port(url, host, sizeof(host), &port), 0);
	assert_string_equal(host, want_host);
	assert_int_equal(port, want_port);
}

static void test_url_host_port(void **state)
{
	char host[64];
	int port;

	(void)state;
	host_port("ssh://git@forge.example/o/r.git", "forge.example", 22);
	host_port("ssh://forge.example:2222/r.git", "forge.example", 2222);
	host_port("ssh://git@[::1]:2200/r.git", "::1", 2200);
	host_port("git+ssh://127.0.0.1:22/r", "127.0.0.1", 22);
	host_port("git@forge.example:o/r.git", "forge.example", 22);
	host_port("forge.example:r.git", "forge.example", 22);
	assert_int_equal(mirror_url_host_port("ssh://h:0/r", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(mirror_url_host_port("ssh://h:99999/r", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(mirror_url_host_port("ssh://h:22x/r", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(mirror_url_host_port("https://h/r", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(mirror_url_host_port("/srv/r.git", host, sizeof(host), &port), -EINVAL);
	assert_int_equal(mirror_url_host_port("./a:b", host, sizeof(host), &port), -EINVAL);
}

static void test_fetch_due(void **state)
{
	(void)state;
	/* Never fetched or tried: due, whatever the age. */
	assert_true(mirror_fetch_due(5000, 0, 0, 60000, false));
	/* Fresh: not due; forced: due. */
	assert_false(mirror_fetch_due(5000, 4000, 4000, 60000, false));
	assert_true(mirror_fetch_due(5000, 4000, 4000, 60000, true));
	/* Exactly max age old: due. */
	assert_true(mirror_fetch_due(64000, 4000, 4000, 60000, false));
	assert_false(mirror_fetch_due(63999, 4000, 4000, 60000, false));
	/* A failed attempt after the last fetch holds the next one off for
	 * max age, so a dead upstream is not hammered. */
	assert_false(mirror_fetch_due(70000, 4000, 65000, 60000, false));
	assert_true(mirror_fetch_due(125000, 4000, 65000, 60000, false));
	/* Max age 0: every call fetches. */
	assert_true(mirror_fetch_due(5000, 5000, 5000, 0, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_hosts_plain_entry_pins_its_key),
		cmocka_unit_test(test_known_hosts_port_lists_and_crlf),
		cmocka_unit_test(test_known_hosts_hashed_entries),
		cmocka_unit_test(test_known_hosts_patterns_and_negation),
		cmocka_unit_test(test_known_hosts_revoked_and_cert_authority),
		cmocka_unit_test(test_known_hosts_malformed_lines_pin_nothing),
		cmocka_unit_test(test_redact_userinfo),
		cmocka_unit_test(test_redact_truncates),
		cmocka_unit_test(test_url_host_port),
		cmocka_unit_test(test_fetch_due),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

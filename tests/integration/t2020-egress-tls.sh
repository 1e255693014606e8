#!/usr/bin/env bash
# TLS at both ends of egress.  A tls_passthrough route splices the origin's
# own TLS to the client (the certificate it sees is the origin's, byte for
# byte), and a ClientHello whose server name is not the CONNECT host is
# refused before anything reaches the origin.  A bumped route verifies the
# upstream: a certificate from an unknown CA or for another name is a 502
# that names the verification failure.
. "$(dirname "$0")/egress-lib.sh"

PASS_PORT=$(free_port)
ROGUE_PORT=$(free_port)
WRONG_PORT=$(free_port)
ROUTES=$TEST_SCRATCH/routes.yaml

test_expect_success 'set up the PKI, three origins and egress' '
	egress_pki &&
	{
		printf "log: all\nroutes:\n" &&
		egress_route "$PASS_PORT" && echo "    tls_passthrough: true" &&
		egress_route "$ROGUE_PORT" "$WRONG_PORT"
	} >"$ROUTES" &&
	origin_start pass --tls-port "$PASS_PORT" --cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	origin_start rogue --tls-port "$ROGUE_PORT" --cert "$PKI/rogue.crt" --key "$PKI/rogue.key" &&
	origin_start wrong --tls-port "$WRONG_PORT" --cert "$PKI/wrong-name.crt" --key "$PKI/wrong-name.key" &&
	egress_start "$ROUTES"
'

ORIGIN_FP=$(cert_fingerprint <"$PKI/localhost.crt")

test_expect_success 'openssl: passthrough shows the origin certificate, verified by the origin CA' '
	egress_s_handshake "localhost:$PASS_PORT" -servername localhost -CAfile "$PKI/origin-ca.crt" \
		-verify_hostname localhost -verify_return_error >out.txt 2>err.txt &&
	grep -q "^Verify return code: 0 (ok)" out.txt &&
	test "$(cert_fingerprint <out.txt)" = "$ORIGIN_FP" &&
	! grep -q "bottle test CA" out.txt
'

test_expect_success 'openssl: a request through the passthrough reaches the origin' '
	egress_s_get "$PASS_PORT" /pass/openssl >out.txt &&
	grep -q "^HTTP/1.1 200" out.txt &&
	origin_requests pass | grep -qx "GET /pass/openssl"
'

test_expect_success 'curl: passthrough trusts the origin CA, not the bottle CA' '
	curl -sS --fail --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$PKI/origin-ca.crt" \
		"https://localhost:$PASS_PORT/pass/curl" -o body.json &&
	grep -q "\"path\":\"/pass/curl\"" body.json &&
	! egress_curl "https://localhost:$PASS_PORT/pass/bottle-ca" -o /dev/null 2>err.txt &&
	! origin_requests pass | grep -q /pass/bottle-ca
'

test_expect_success 'node: the peer certificate fingerprint is the origin'"'"'s' '
	EGRESS_NODE_CA=$PKI/origin-ca.crt egress_node request --url "https://localhost:$PASS_PORT/pass/node" >out.json &&
	grep -q "\"status\":200" out.json &&
	grep -q "\"fingerprint\":\"$ORIGIN_FP\"" out.json &&
	grep -q "\"issuer\":\"origin test CA\"" out.json
'

test_expect_success 'openssl: an SNI that disagrees with the CONNECT host is refused' '
	before=$(wc -l <"$TEST_SCRATCH/origin-pass/connections") &&
	! egress_s_handshake "localhost:$PASS_PORT" -servername other.test  >out.txt 2>err.txt &&
	! grep -q "BEGIN CERTIFICATE" out.txt &&
	test "$(wc -l <"$TEST_SCRATCH/origin-pass/connections")" = "$before" &&
	grep "\"passthrough\":true" "$EGRESS_DIR/stdout" | grep "\"decision\":\"deny\"" |
		grep -q "the TLS server name other.test does not match the CONNECT target localhost"
'

test_expect_success 'passthrough without SNI stands on the CONNECT host' '
	egress_s_handshake "localhost:$PASS_PORT" -noservername -CAfile "$PKI/origin-ca.crt" >out.txt 2>err.txt &&
	test "$(cert_fingerprint <out.txt)" = "$ORIGIN_FP"
'

test_expect_success 'the passthrough tunnel is logged with its byte counts' '
	grep "\"method\":\"CONNECT\"" "$EGRESS_DIR/stdout" | grep "\"passthrough\":true" |
		grep "\"decision\":\"allow\"" | grep -v "\"bytes_received\":0," | grep -q "\"bytes_sent\":[1-9]"
'

test_expect_success 'bumped: a TLS server name other than the CONNECT host is a 403' '
	printf "GET /bad-sni HTTP/1.1\r\nHost: localhost:$ROGUE_PORT\r\nConnection: close\r\n\r\n" |
		egress_s_client "localhost:$ROGUE_PORT" -servername other.test -quiet >out.txt 2>err.txt &&
	grep -q "^HTTP/1.1 403 " out.txt &&
	grep -qx "egress: the TLS server name other.test does not match the CONNECT target localhost" out.txt &&
	test ! -s "$TEST_SCRATCH/origin-rogue/connections"
'

# $1 port, $2 the verification failure egress must name.
expect_bad_upstream() {
	egress_curl -D head.txt -o body.txt "https://localhost:$1/bad" &&
	grep -q "^HTTP/1.1 502 " head.txt &&
	grep -qi "^X-Bottle-Egress: error" head.txt &&
	test "$(wc -l <body.txt)" = 1 &&
	grep -qx "egress: upstream TLS handshake with localhost:$1 failed: $2" body.txt &&
	egress_node request --url "https://localhost:$1/bad-node" >node.json &&
	grep -q "\"status\":502" node.json &&
	grep -q "failed: $2" node.json &&
	printf "GET /bad-openssl HTTP/1.1\r\nHost: localhost:$1\r\n\r\n" |
		egress_s_client "localhost:$1" -servername localhost -quiet >out.txt 2>err.txt &&
	grep -q "^HTTP/1.1 502 " out.txt &&
	grep -q "failed: $2" out.txt
}

test_expect_success 'an upstream certificate from an unknown CA is a 502 saying so' '
	expect_bad_upstream "$ROGUE_PORT" "certificate is not trusted by the upstream CA bundle" &&
	test ! -s "$TEST_SCRATCH/origin-rogue/requests"
'

test_expect_success 'an upstream certificate for another name is a 502 saying so' '
	expect_bad_upstream "$WRONG_PORT" "certificate name does not match localhost" &&
	test ! -s "$TEST_SCRATCH/origin-wrong/requests"
'

test_expect_success 'egress is still running' 'egress_alive'

test_done

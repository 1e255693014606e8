#!/usr/bin/env bash
# The key exchange groups of the agent-side handshake.  Egress offers
# X25519, secp256r1 and secp384r1 (sidecar/egress/egress_tls.c); as a TLS 1.3
# server mbedTLS takes the client's key share when it is one of those, so a
# client offering any one of them alone completes a bumped handshake and a
# request without a HelloRetryRequest (TLS 1.2 differs: see below).  X25519 runs on
# Everest (sidecar/egress/egress_tls_x25519.c), the others on mbedTLS's
# bignum code: each must work.  A share egress does not take (P-521) gets a
# HelloRetryRequest for one it does.
. "$(dirname "$0")/egress-lib.sh"

test_expect_success 'set up the PKI, an origin and egress' 'egress_setup'

# $1 openssl group name, $2 what s_client prints as the server's temporary
# key, $3 TLS version flag, more s_client options after.
expect_group() {
	local group=$1 temp_key=$2 version=$3
	shift 3
	egress_s_handshake "localhost:$TLS_PORT" -servername localhost -CAfile "$PKI/ca.crt" \
		-verify_return_error -msg "$version" -groups "$group" "$@" >out.txt 2>err.txt &&
	grep -q "^ *Verify return code: 0 (ok)" out.txt &&
	grep -q "^Server Temp Key: $temp_key" out.txt &&
	printf "GET /group/%s HTTP/1.1\r\nHost: localhost:%s\r\nConnection: close\r\n\r\n" \
		"$group" "$TLS_PORT" |
		egress_s_client "localhost:$TLS_PORT" -servername localhost -CAfile "$PKI/ca.crt" \
			-verify_return_error "$version" -groups "$group" -quiet >get.txt 2>err.txt &&
	grep -q "^HTTP/1.1 200" get.txt &&
	origin_requests o | grep -qx "GET /group/$group"
}

# ServerHello messages in s_client -msg output: a HelloRetryRequest is one.
server_hellos() {
	grep -c "^<<< .*ServerHello" out.txt
}

test_expect_success 'TLS 1.3 with X25519 alone' '
	expect_group X25519 "X25519" -tls1_3 && test "$(server_hellos)" = 1
'

test_expect_success 'TLS 1.3 with P-256 alone' '
	expect_group P-256 "ECDH, prime256v1" -tls1_3 && test "$(server_hellos)" = 1
'

test_expect_success 'TLS 1.3 with P-384 alone' '
	expect_group P-384 "ECDH, secp384r1" -tls1_3 && test "$(server_hellos)" = 1
'

# In TLS 1.2 the client's groups also bound the certificate's curve (RFC
# 8422, 5.1), so a client must list P-256 to accept the P-256 leaf; egress
# then picks the exchange's group in its own order (X25519, P-256, P-384),
# so P-384 is never chosen in TLS 1.2.
test_expect_success 'TLS 1.2: X25519 or P-256, in egress'"'"'s order' '
	expect_group X25519:P-256 "X25519" -tls1_2 &&
	expect_group P-256:X25519 "X25519" -tls1_2 &&
	expect_group P-256 "ECDH, prime256v1" -tls1_2 &&
	expect_group P-384:P-256 "ECDH, prime256v1" -tls1_2
'

test_expect_success 'TLS 1.2 without the certificate'"'"'s curve fails the handshake' '
	! egress_s_handshake "localhost:$TLS_PORT" -servername localhost -CAfile "$PKI/ca.crt" \
		-tls1_2 -groups X25519 >out.txt 2>err.txt &&
	grep -q "alert handshake failure" err.txt
'

test_expect_success 'OpenSSL'"'"'s default offer gets X25519 without a retry' '
	egress_s_handshake "localhost:$TLS_PORT" -servername localhost -CAfile "$PKI/ca.crt" \
		-verify_return_error -msg >out.txt 2>err.txt &&
	grep -q "^Server Temp Key: X25519" out.txt &&
	test "$(server_hellos)" = 1
'

test_expect_success 'a P-521 share gets a HelloRetryRequest for P-256' '
	expect_group P-521:P-256 "ECDH, prime256v1" -tls1_3 && test "$(server_hellos)" = 2
'

test_expect_success 'curl with each group alone' '
	for curve in X25519 P-256 P-384; do
		egress_curl --fail --curves "$curve" "https://localhost:$TLS_PORT/curl/$curve" -o body.json &&
		grep -q "\"path\":\"/curl/$curve\"" body.json || return 1
	done
'

test_expect_success 'node: its default offer gets X25519' '
	NODE_EXTRA_CA_CERTS=$PKI/ca.crt node -e "
		const http = require(\"http\"), tls = require(\"tls\");
		const req = http.request({ host: \"127.0.0.1\", port: $EGRESS_PORT, method: \"CONNECT\",
			path: \"localhost:$TLS_PORT\", headers: { Host: \"localhost:$TLS_PORT\" } });
		req.on(\"connect\", (res, socket) => {
			const s = tls.connect({ socket, servername: \"localhost\" }, () => {
				console.log(JSON.stringify(s.getEphemeralKeyInfo()));
				s.end();
			});
			s.on(\"error\", (e) => { console.error(e.message); process.exit(1); });
		});
		req.end();
	" >node.json &&
	grep -q "\"name\":\"X25519\"" node.json
'

test_expect_success 'egress is still running' 'egress_alive'

test_done

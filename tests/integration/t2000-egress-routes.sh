#!/usr/bin/env bash
# sidecar egress from the build, driven by curl, openssl s_client and Node:
# an allowed request is bumped with a leaf the bottle CA signed for the host
# and reaches the origin; an unlisted host, another path and another method
# are each a 403 whose body is the one-sentence reason, marked
# X-Bottle-Egress: denied, and the origin never sees them.  Plain HTTP
# in absolute form goes through the same decisions.
. "$(dirname "$0")/egress-lib.sh"

# A second route for localhost on another port, without addresses: its
# loopback address is refused.
NOADDR_PORT=$(free_port)

test_expect_success 'set up the PKI, the origin and egress' '
	egress_setup "    matches:
      - path_prefix: /allowed
      - path: /posts
        methods: [POST]
  - host: localhost
    ports: [$NOADDR_PORT]
" &&
	origin_start noaddr --tls-port "$NOADDR_PORT" --cert "$PKI/localhost.crt" --key "$PKI/localhost.key"
'

test_expect_success 'curl: an allowed path passes, bumped with the bottle CA' '
	egress_curl --fail "https://localhost:$TLS_PORT/allowed/curl?q=1" -o body.json &&
	grep -q "\"path\":\"/allowed/curl?q=1\"" body.json &&
	origin_requests o | grep -qx "GET /allowed/curl?q=1"
'

test_expect_success 'openssl: the chain is the bottle CA and its leaf for localhost' '
	printf "GET /allowed/openssl HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nConnection: close\r\n\r\n" |
		egress_s_client "localhost:$TLS_PORT" -servername localhost -showcerts \
			-CAfile "$PKI/ca.crt" -verify_hostname localhost -verify_return_error \
			>out.txt 2>err.txt &&
	grep -q "^Verify return code: 0 (ok)" out.txt &&
	grep -q "^HTTP/1.1 200" out.txt &&
	grep -Eq "^ 0 s: ?CN ?= ?localhost$" out.txt &&
	grep -Eq "^ +i: ?CN ?= ?bottle test CA" out.txt &&
	! grep -q "origin test CA" out.txt &&
	origin_requests o | grep -qx "GET /allowed/openssl"
'

test_expect_success 'node: the peer certificate is the leaf the bottle CA signed' '
	egress_node request --url "https://localhost:$TLS_PORT/allowed/node" >out.json &&
	grep -q "\"status\":200" out.json &&
	grep -q "\"issuer\":\"bottle test CA\"" out.json &&
	grep -q "\"subject\":\"localhost\"" out.json &&
	origin_requests o | grep -qx "GET /allowed/node"
'

test_expect_success 'curl: an unlisted host is refused at CONNECT' '
	! egress_curl "https://unlisted.test/allowed" -o /dev/null -w "%{http_connect}\n" >code.txt 2>err.txt &&
	test "$(cat code.txt)" = 403
'

test_expect_success 'raw CONNECT to an unlisted host: 403 with the one-sentence reason' '
	printf "CONNECT unlisted.test:443 HTTP/1.1\r\nHost: unlisted.test:443\r\n\r\n" | egress_raw >out.txt &&
	head -n 1 out.txt | grep -q "^HTTP/1.1 403 " &&
	grep -q "^X-Bottle-Egress: denied" out.txt &&
	sed "1,/^\r$/d" out.txt >body.txt &&
	test "$(wc -l <body.txt)" = 1 &&
	grep -qx "egress: no route allows host unlisted.test port 443: add a route for unlisted.test to routes.yaml (ask the operator with the egress-allow tool)" body.txt
'

test_expect_success 'node: CONNECT to an unlisted host fails with 403' '
	! egress_node request --url "https://unlisted.test/allowed" >out.json 2>err.txt &&
	grep -q "CONNECT answered 403" err.txt
'

test_expect_success 'openssl: no TLS session to an unlisted host' '
	! egress_s_handshake unlisted.test:443 -servername unlisted.test  >out.txt 2>err.txt &&
	grep -q "CONNECT failed, reason= 403" err.txt &&
	! grep -q "BEGIN CERTIFICATE" out.txt
'

test_expect_success 'curl, plain HTTP: an unlisted host is a 403 with the reason' '
	egress_curl -D head.txt -o body.txt "http://unlisted.test/x" &&
	head -n 1 head.txt | grep -q "^HTTP/1.1 403 " &&
	grep -qi "^X-Bottle-Egress: denied" head.txt &&
	test "$(wc -l <body.txt)" = 1 &&
	grep -q "^egress: no route allows host unlisted.test port 80: " body.txt
'

test_expect_success 'curl: another path on the allowed host is a 403 that names the route' '
	egress_curl -D head.txt -o body.txt "https://localhost:$TLS_PORT/other" &&
	grep -q "^HTTP/1.1 403 " head.txt &&
	grep -qi "^X-Bottle-Egress: denied" head.txt &&
	test "$(wc -l <body.txt)" = 1 &&
	grep -q "^egress: route for localhost (routes.yaml line 3) does not allow GET /other: " body.txt &&
	! origin_requests o | grep -q /other
'

test_expect_success 'a path that only shares a prefix string is not under the prefix' '
	egress_curl -o /dev/null -w "%{http_code}\n" "https://localhost:$TLS_PORT/allowedx" >code.txt &&
	test "$(cat code.txt)" = 403 &&
	! origin_requests o | grep -q /allowedx
'

test_expect_success 'curl: the wrong method on a method-limited path is a 403' '
	egress_curl -D head.txt -o body.txt "https://localhost:$TLS_PORT/posts" &&
	grep -q "^HTTP/1.1 403 " head.txt &&
	grep -q "does not allow GET /posts" body.txt &&
	! origin_requests o | grep -q "GET /posts" &&
	egress_curl --fail -X POST -d x=1 "https://localhost:$TLS_PORT/posts" -o body.json &&
	grep -q "\"method\":\"POST\"" body.json &&
	origin_requests o | grep -qx "POST /posts"
'

test_expect_success 'node: path and method mismatches are 403s from egress' '
	egress_node request --url "https://localhost:$TLS_PORT/other/node" >path.json &&
	grep -q "\"status\":403" path.json &&
	grep -q "\"x-bottle-egress\":\"denied\"" path.json &&
	egress_node request --url "https://localhost:$TLS_PORT/posts" --method PUT >method.json &&
	grep -q "\"status\":403" method.json &&
	grep -q "does not allow PUT /posts" method.json &&
	! origin_requests o | grep -Eq "/other/node|PUT /posts"
'

test_expect_success 'openssl: a denied request inside the tunnel gets the 403' '
	printf "DELETE /posts HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nConnection: close\r\n\r\n" |
		egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet >out.txt 2>err.txt &&
	head -n 1 out.txt | grep -q "^HTTP/1.1 403 " &&
	grep -q "does not allow DELETE /posts" out.txt &&
	! origin_requests o | grep -q "DELETE"
'

test_expect_success 'plain HTTP in absolute form: allowed passes, other paths are 403' '
	egress_curl --fail "http://localhost:$HTTP_PORT/allowed/plain" -o body.json &&
	grep -q "\"path\":\"/allowed/plain\"" body.json &&
	egress_node request --url "http://localhost:$HTTP_PORT/allowed/plain-node" >node.json &&
	grep -q "\"status\":200" node.json &&
	egress_curl -o body.txt -w "%{http_code}\n" "http://localhost:$HTTP_PORT/denied/plain" >code.txt &&
	test "$(cat code.txt)" = 403 &&
	origin_requests o | grep -qx "GET /allowed/plain" &&
	origin_requests o | grep -qx "GET /allowed/plain-node" &&
	! origin_requests o | grep -q /denied/plain
'

test_expect_success 'plain HTTP in origin form is refused' '
	printf "GET /allowed/origin-form HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\n\r\n" | egress_raw >out.txt &&
	head -n 1 out.txt | grep -Eq "^HTTP/1.1 4[0-9][0-9] " &&
	! origin_requests o | grep -q origin-form
'

test_expect_success 'a loopback address the route does not name is a 403 naming it' '
	egress_curl -D head.txt -o body.txt "https://localhost:$NOADDR_PORT/allowed" &&
	grep -q "^HTTP/1.1 403 " head.txt &&
	grep -qi "^X-Bottle-Egress: denied" head.txt &&
	test "$(wc -l <body.txt)" = 1 &&
	grep -Eq "^egress: localhost resolves only to .*127\.0\.0\.1.*: name the address in the route'"'"'s addresses to allow it$" body.txt &&
	egress_curl -o /dev/null -w "%{http_code}\n" "http://localhost:$NOADDR_PORT/allowed" >code.txt &&
	test "$(cat code.txt)" = 403 &&
	test ! -s "$TEST_SCRATCH/origin-noaddr/connections"
'

test_expect_success 'the decision log has one JSON line per decision, without the query' '
	grep "\"path\":\"/allowed/curl\"" "$EGRESS_DIR/stdout" | grep -q "\"decision\":\"allow\"" &&
	grep "\"path\":\"/other\"" "$EGRESS_DIR/stdout" | grep -q "\"decision\":\"deny\"" &&
	! grep -q "q=1" "$EGRESS_DIR/stdout" &&
	! grep -v "^{.*}$" "$EGRESS_DIR/stdout"
'

test_expect_success 'egress is still running' 'egress_alive'

test_done

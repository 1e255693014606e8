#!/usr/bin/env bash
# Credential injection: a route with `auth` replaces whatever the agent put
# in the header with `Bearer <token>`, the token read from egress's own
# environment.  The origin (which echoes the headers it received) sees the
# real token and never the agent's dummy; the token appears nowhere in
# egress's output, and an auth route is never served over plain HTTP.
. "$(dirname "$0")/egress-lib.sh"

ROUTES=$TEST_SCRATCH/routes.yaml
TOKEN=tok-$(openssl rand -hex 16)
DUMMY=dummy-agent-value

test_expect_success 'set up the PKI, the origin and egress holding the token' '
	EGRESS_TEST_TOKEN=$TOKEN egress_setup "    auth:
      header: Authorization
      scheme: Bearer
      env: EGRESS_TEST_TOKEN
"
'

# The values of one header in the origin's echo (rawHeaders is a flat
# name, value list), one a line.
echoed() {
	node -e "
		const h = JSON.parse(require(\"fs\").readFileSync(process.argv[1])).headers;
		for (let i = 0; i < h.length; i += 2)
			if (h[i].toLowerCase() === process.argv[2]) console.log(h[i + 1]);
	" "$1" "$2"
}

test_expect_success 'curl: the agent dummy is replaced by the real token' '
	egress_curl --fail -H "Authorization: Bearer $DUMMY" "https://localhost:$TLS_PORT/curl" -o body.json &&
	echoed body.json authorization >auth.txt &&
	test "$(cat auth.txt)" = "Bearer $TOKEN" &&
	! grep -q "$DUMMY" body.json
'

test_expect_success 'curl: the token is added when the agent sends no header' '
	egress_curl --fail "https://localhost:$TLS_PORT/none" -o body.json &&
	echoed body.json authorization >auth.txt &&
	test "$(cat auth.txt)" = "Bearer $TOKEN"
'

test_expect_success 'node: the origin sees one Authorization, the real one' '
	egress_node request --url "https://localhost:$TLS_PORT/node" \
		--header "authorization: Basic $DUMMY" >out.json &&
	grep -q "\"status\":200" out.json &&
	node -e "process.stdout.write(JSON.parse(require(\"fs\").readFileSync(\"out.json\")).body)" >body.json &&
	echoed body.json authorization >auth.txt &&
	test "$(cat auth.txt)" = "Bearer $TOKEN" &&
	! grep -q "$DUMMY" body.json
'

test_expect_success 'openssl: two agent values in odd case become the one real value' '
	printf "GET /twice HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nAUTHORIZATION: $DUMMY-1\r\nauthorization: $DUMMY-2\r\nConnection: close\r\n\r\n" |
		egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet >out.txt 2>err.txt &&
	grep -q "^HTTP/1.1 200" out.txt &&
	sed "1,/^\r$/d" out.txt >body.json &&
	test "$(echoed body.json authorization)" = "Bearer $TOKEN" &&
	! grep -q "$DUMMY" out.txt
'

test_expect_success 'an auth route is not served over plain HTTP' '
	egress_curl -H "Authorization: Bearer $DUMMY" -o body.txt -w "%{http_code}\n" \
		"http://localhost:$HTTP_PORT/plain" >code.txt &&
	test "$(cat code.txt)" = 403 &&
	test "$(wc -l <body.txt)" = 1 &&
	! origin_requests o | grep -q /plain
'

test_expect_success 'the token appears in no egress output nor its command line' '
	test -s "$EGRESS_DIR/stdout" &&
	! grep -q "$TOKEN" "$EGRESS_DIR/stdout" "$EGRESS_DIR/stderr" &&
	! grep -q "$DUMMY" "$EGRESS_DIR/stdout" "$EGRESS_DIR/stderr" &&
	! tr "\0" " " <"/proc/$(cat "$EGRESS_DIR/pid")/cmdline" | grep -q "$TOKEN"
'

test_expect_success 'without the variable the route fails closed with a 502 naming it' '
	EGRESS_PORT=$(free_port) &&
	EGRESS_DIR=$TEST_SCRATCH/egress-unset &&
	(unset EGRESS_TEST_TOKEN && egress_start "$ROUTES") &&
	egress_curl -H "Authorization: Bearer $DUMMY" -D head.txt -o body.txt \
		"https://localhost:$TLS_PORT/unset" &&
	grep -q "^HTTP/1.1 502 " head.txt &&
	grep -qi "^X-Bottle-Egress: error" head.txt &&
	grep -qx "egress: the route for localhost injects a credential from EGRESS_TEST_TOKEN, which is not set in the sidecar" body.txt &&
	! origin_requests o | grep -q /unset
'

test_expect_success 'egress is still running' 'egress_alive'

test_done

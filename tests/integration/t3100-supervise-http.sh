#!/usr/bin/env bash
# sidecar supervise: the Streamable HTTP transport's rules, driven with curl
# against build/sidecar (sessions, versions, headers, errors, limits).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise/lib.sh"

test_skip_unless curl
test_skip_unless openssl
[ -x "$SIDECAR" ] || { echo "# skip $TEST_NAME: build/sidecar missing (make all)"; exit 0; }

cat >"$TEST_SCRATCH/routes.in" <<'EOF'
log: blocks
routes:
  - host: example.com
EOF
sv_start_egress "$TEST_SCRATCH/routes.in"
sv_start_supervise --approval-timeout 2s

INIT='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}'
META='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}'

test_expect_success 'initialize issues a session id and negotiates the asked version' '
	out=$(sv_post "$INIT")
	case "$out" in "200 "*"\"protocolVersion\":\"2025-11-25\""*) ;; *) echo "$out"; false ;; esac
	sid=$(sv_initialize 2025-06-18)
	[ ${#sid} -eq 32 ]
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2099-01-01\",\"capabilities\":{}}}")
	case "$out" in *"\"protocolVersion\":\"2025-11-25\""*) ;; *) echo "$out"; false ;; esac
'

test_expect_success 'a session is required after initialize, unknown ones are 404, DELETE ends one' '
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}")
	case "$out" in "400 "*"Mcp-Session-Id"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}" "mcp-session-id: 0123456789abcdef0123456789abcdef")
	case "$out" in "404 "*) ;; *) echo "$out"; false ;; esac
	sid=$(sv_initialize)
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}" "mcp-session-id: $sid" "mcp-protocol-version: 2025-11-25")
	case "$out" in "200 "*"egress-allow"*) ;; *) echo "$out"; false ;; esac
	[ "$(curl -s -o /dev/null -w "%{http_code}" -X DELETE -H "mcp-session-id: $sid" "$SV_URL")" = 200 ]
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}" "mcp-session-id: $sid")
	case "$out" in "404 "*) ;; *) echo "$out"; false ;; esac
	[ "$(curl -s -o /dev/null -w "%{http_code}" -X DELETE -H "mcp-session-id: $sid" "$SV_URL")" = 404 ]
'

test_expect_success 'notifications and client responses are answered 202 with no body' '
	sid=$(sv_initialize)
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}" "mcp-session-id: $sid")
	[ "$out" = "202 " ]
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}" "mcp-session-id: $sid")
	[ "$out" = "202 " ]
'

test_expect_success 'JSON-RPC errors carry the right codes' '
	sid=$(sv_initialize)
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":" "mcp-session-id: $sid")
	case "$out" in "400 "*"-32700"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"1.0\",\"id\":7,\"method\":\"ping\"}" "mcp-session-id: $sid")
	case "$out" in "400 "*"\"id\":7"*"-32600"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]" "mcp-session-id: $sid")
	case "$out" in "400 "*"-32600"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}" "mcp-session-id: $sid")
	case "$out" in "400 "*"-32600"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"no/such\"}" "mcp-session-id: $sid")
	case "$out" in "200 "*"\"id\":8"*"-32601"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"nope\"}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"-32602"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"tools/call\",\"params\":{\"name\":42}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"-32602"*) ;; *) echo "$out"; false ;; esac
'

test_expect_success 'Accept, Content-Type, GET and other methods are checked' '
	code=$(curl -s -o /dev/null -w "%{http_code}" -X POST "$SV_URL" -H "content-type: application/json" -H "accept: application/json" --data-binary "$INIT")
	[ "$code" = 406 ]
	code=$(curl -s -o /dev/null -w "%{http_code}" -X POST "$SV_URL" -H "content-type: text/plain" -H "accept: application/json, text/event-stream" --data-binary "$INIT")
	[ "$code" = 415 ]
	[ "$(curl -s -o /dev/null -w "%{http_code}" -H "accept: text/event-stream" "$SV_URL")" = 405 ]
	[ "$(curl -s -o /dev/null -w "%{http_code}" -X PUT "$SV_URL")" = 405 ]
	[ "$(curl -s -o /dev/null -w "%{http_code}" http://127.0.0.1:$SV_PORT/other)" = 404 ]
'

test_expect_success 'Host and Origin are checked (DNS rebinding)' '
	out=$(sv_post "$INIT" "Host: evil.example:$SV_PORT")
	case "$out" in "403 "*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "$INIT" "Origin: http://evil.example")
	case "$out" in "403 "*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "$INIT" "Origin: null")
	case "$out" in "403 "*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "$INIT" "Origin: http://localhost:$SV_PORT" "Host: localhost:$SV_PORT")
	case "$out" in "200 "*) ;; *) echo "$out"; false ;; esac
'

test_expect_success 'a body over 1 MiB is refused from its Content-Length, unread' '
	printf "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: 2000000\r\n\r\n{" >head.txt
	timeout 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SV_PORT; cat head.txt >&3; head -1 <&3" >reply.txt
	grep -q "^HTTP/1.1 413 " reply.txt
	head -c 1100000 /dev/zero | tr "\0" " " >big.json
	code=$(curl -s -o /dev/null -w "%{http_code}" -X POST "$SV_URL" -H "content-type: application/json" -H "accept: application/json, text/event-stream" -H "transfer-encoding: chunked" --data-binary @big.json)
	[ "$code" = 413 ]
'

test_expect_success '2026-07-28: no session, headers mirror the body, unknown methods are 404' '
	h="mcp-protocol-version: 2026-07-28"
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{$META}}" "$h" "mcp-method: server/discover")
	case "$out" in "200 "*"\"resultType\":\"complete\""*"supportedVersions"*"2025-06-18"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{$META}}" "$h" "mcp-method: tools/list")
	case "$out" in "200 "*"list-egress-routes"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{$META}}" "$h" "mcp-method: tools/call")
	case "$out" in "400 "*"-32020"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/list\",\"params\":{}}" "$h" "mcp-method: tools/list")
	case "$out" in "400 "*"-32602"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"ping\",\"params\":{$META}}" "$h" "mcp-method: ping")
	case "$out" in "404 "*"-32601"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"nope/nothing\",\"params\":{$META}}" "$h" "mcp-method: nope/nothing")
	case "$out" in "404 "*"-32601"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"list-egress-routes\",\"arguments\":{},$META}}" "$h" "mcp-method: tools/call" "mcp-name: =?base64?bGlzdC1lZ3Jlc3Mtcm91dGVz?=")
	case "$out" in "200 "*"example.com"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"list-egress-routes\",\"arguments\":{},$META}}" "$h" "mcp-method: tools/call" "mcp-name: egress-allow")
	case "$out" in "400 "*"-32020"*) ;; *) echo "$out"; false ;; esac
'

test_expect_success 'an unsupported version gets UnsupportedProtocolVersion with the list' '
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}" "mcp-protocol-version: 1900-01-01")
	case "$out" in "400 "*"-32022"*"supported"*"2026-07-28"*"1900-01-01"*) ;; *) echo "$out"; false ;; esac
'

test_expect_success 'list-egress-routes returns the live routes; bad arguments are tool errors' '
	sid=$(sv_initialize)
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"list-egress-routes\",\"arguments\":{}}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"isError\":false"*) ;; *) echo "$out"; false ;; esac
	echo "$out" | grep -F "{\\\"log\\\":\\\"blocks\\\",\\\"routes\\\":[{\\\"host\\\":\\\"example.com\\\"}]}"
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":{\"routes_yaml\":\"routes:\\n  - hots: x\\n\",\"justification\":\"j\"}}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"does not load"*"hots"*"isError\":true"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":{\"routes_yaml\":\"log: all\\nroutes: []\\n\",\"justification\":\"j\"}}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"may not change logging"*"isError\":true"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":{\"routes_yaml\":\"routes: []\\n\",\"justification\":\"j\",\"expires_in\":-5}}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"expires_in"*"isError\":true"*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-block\",\"arguments\":{\"routes_yaml\":\"routes:\\n  - host: other.org\\n\",\"justification\":\"j\"}}}" "mcp-session-id: $sid")
	case "$out" in "200 "*"egress-allow to add access"*) ;; *) echo "$out"; false ;; esac
	[ -z "$(ls "$SV_QUEUE/pending")" ]
'

test_expect_success 'malformed requests never take the server down' '
	for req in "GET /mcp HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" \
		   "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" \
		   "POST /mcp HTTP/1.1\nHost: 127.0.0.1\n\n" "\x00\x01\x02garbage\r\n\r\n" \
		   "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nAccept: */*\r\n\r\nzz\r\n"; do
		printf "$req" | timeout 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$SV_PORT; cat >&3; timeout 2 cat <&3" >/dev/null 2>&1 || true
	done
	out=$(sv_post "$INIT")
	case "$out" in "200 "*) ;; *) echo "$out"; false ;; esac
	kill -0 "$SV_PID"
'

test_expect_success 'a bearer token is required when configured' '
	printf "%s\n" "0123456789abcdef-secret-token" >token
	SV_PORT=$((SV_PORT + 5))
	SV_URL=http://127.0.0.1:$SV_PORT/mcp
	sv_start_supervise --token-file "$TEST_DIR/token"
	trap "kill $SV_PID" EXIT
	out=$(sv_post "$INIT")
	case "$out" in "401 "*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "$INIT" "authorization: Bearer wrong-token-wrong-token-")
	case "$out" in "401 "*) ;; *) echo "$out"; false ;; esac
	out=$(sv_post "$INIT" "authorization: Bearer 0123456789abcdef-secret-token")
	case "$out" in "200 "*) ;; *) echo "$out"; false ;; esac
	! grep -q secret-token "$TEST_SCRATCH"/supervise-*.log
'

test_done

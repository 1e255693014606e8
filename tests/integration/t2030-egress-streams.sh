#!/usr/bin/env bash
# What flows through egress once a request is allowed: a WebSocket echo
# through a bumped CONNECT; 200 MB uploads, chunked and with a
# Content-Length, arriving whole while egress's peak memory stays flat;
# 64 MB downloads, alone and eight at once, arriving whole;
# keep-alive reuse on both sides; pipelined requests answered in order;
# HEAD; Expect: 100-continue.
. "$(dirname "$0")/egress-lib.sh"

NOWS_PORT=$(free_port)
ROUTES=$TEST_SCRATCH/routes.yaml
UPLOAD_BYTES=$((200 * 1024 * 1024))
# Peak resident memory egress may reach, in kB: generous and flat (it
# measured about 2.5 MB with the scan on the connection's thread, 5.5 MB
# since a large body's scan has a thread of its own: its 1 MiB ring and the
# bytes awaiting it), far below what buffering one upload would take.
VMHWM_LIMIT_KB=16384

test_expect_success 'set up the PKI, two origins and egress' '
	egress_pki &&
	{
		printf "log: all\nroutes:\n" &&
		egress_route "$TLS_PORT" "$HTTP_PORT" && echo "    websocket: true" &&
		egress_route "$NOWS_PORT" && printf "    matches:\n      - path_prefix: /ws\n"
	} >"$ROUTES" &&
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	origin_start nows --tls-port "$NOWS_PORT" --cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	egress_start "$ROUTES"
'

test_expect_success 'node: a WebSocket echo through a bumped CONNECT' '
	egress_node ws --url "wss://localhost:$TLS_PORT/ws/echo" --text "hello through egress" >out.txt &&
	test "$(cat out.txt)" = "hello through egress" &&
	origin_requests o | grep -qx "GET /ws/echo upgrade"
'

test_expect_success 'node: a ws:// echo sent to the proxy in absolute form' '
	egress_node ws --url "ws://localhost:$HTTP_PORT/ws/plain" --text "hello in the clear" >out.txt &&
	test "$(cat out.txt)" = "hello in the clear" &&
	origin_requests o | grep -qx "GET /ws/plain upgrade"
'

test_expect_success 'node: a WebSocket upgrade on a route without websocket: true is a 403' '
	! egress_node ws --url "wss://localhost:$NOWS_PORT/ws/denied" --text x >out.txt 2>err.txt &&
	grep -q "no upgrade: HTTP/1.1 403" err.txt &&
	! origin_requests nows | grep -q /ws/denied
'

# Bytes 0.. of a long non-repeating text, so that a lost, doubled or
# reordered block changes the digest.
upload_data() {
	seq 1 40000000 | head -c "$UPLOAD_BYTES"
}

test_expect_success 'curl: a 200 MB chunked upload from a pipe arrives whole' '
	upload_data | sha256sum | cut -d" " -f1 >"$TEST_SCRATCH/upload.sha256" &&
	upload_data | egress_curl --fail --max-time 120 -T - "https://localhost:$TLS_PORT/upload/chunked" -o got.json &&
	grep -q "\"bytes\":$UPLOAD_BYTES," got.json &&
	grep -q "\"sha256\":\"$(cat "$TEST_SCRATCH/upload.sha256")\"" got.json &&
	grep -q "\"chunked\":true" got.json
'

test_expect_success 'curl: a 200 MB upload with Content-Length arrives whole' '
	truncate -s "$UPLOAD_BYTES" sparse.bin &&
	sha256sum sparse.bin | cut -d" " -f1 >want.txt &&
	egress_curl --fail --max-time 120 -T sparse.bin "https://localhost:$TLS_PORT/upload/length" -o got.json &&
	grep -q "\"bytes\":$UPLOAD_BYTES," got.json &&
	grep -q "\"sha256\":\"$(cat want.txt)\"" got.json &&
	grep -q "\"content_length\":\"$UPLOAD_BYTES\"" got.json &&
	grep -q "\"chunked\":false" got.json
'

test_expect_success 'curl: a 200 MB chunked upload over plain HTTP arrives whole' '
	upload_data | egress_curl --fail --max-time 120 -T - "http://localhost:$HTTP_PORT/upload/plain" -o got.json &&
	grep -q "\"bytes\":$UPLOAD_BYTES," got.json &&
	grep -q "\"sha256\":\"$(cat "$TEST_SCRATCH/upload.sha256")\"" got.json &&
	grep -q "\"chunked\":true" got.json
'

test_expect_success_unless_sanitized "ASan shadow memory and quarantine count in VmHWM" \
	"egress peak memory stayed under $VMHWM_LIMIT_KB kB" '
	hwm=$(egress_vmhwm_kb) &&
	echo "VmHWM ${hwm} kB" &&
	test "$hwm" -gt 0 &&
	test "$hwm" -lt "$VMHWM_LIMIT_KB"
'
echo "# egress VmHWM after the uploads: $(egress_vmhwm_kb) kB"

# Large responses with a Content-Length: the bytes arrive whole and in
# order, one at a time and eight at once, bumped and plain.
DOWNLOAD_BYTES=$((64 * 1024 * 1024))
download_digest() {
	seq -f %010.0f 0 $((DOWNLOAD_BYTES / 11 + 1)) | head -c "$DOWNLOAD_BYTES" | sha256sum | cut -d" " -f1
}

test_expect_success 'curl: a 64 MB download through a bumped CONNECT arrives whole' '
	download_digest >"$TEST_SCRATCH/download.sha256" &&
	egress_curl --fail -o big.txt "https://localhost:$TLS_PORT/download/$DOWNLOAD_BYTES" &&
	test "$(wc -c <big.txt)" = "$DOWNLOAD_BYTES" &&
	test "$(sha256sum <big.txt | cut -d" " -f1)" = "$(cat "$TEST_SCRATCH/download.sha256")"
'

test_expect_success 'curl: eight 64 MB downloads at once, bumped and plain, each arrives whole' '
	for i in 1 2 3 4; do
		egress_curl --fail -o "tls-$i.txt" "https://localhost:$TLS_PORT/download/$DOWNLOAD_BYTES" &
		egress_curl --fail -o "plain-$i.txt" "http://localhost:$HTTP_PORT/download/$DOWNLOAD_BYTES" &
	done &&
	wait &&
	for f in tls-1 tls-2 tls-3 tls-4 plain-1 plain-2 plain-3 plain-4; do
		test "$(sha256sum <"$f.txt" | cut -d" " -f1)" = "$(cat "$TEST_SCRATCH/download.sha256")" || {
			echo "$f.txt differs"; exit 1; }
	done
'

# A streamed answer (server-sent events, a model's tokens) reaches the
# client as the origin writes it: egress reads whatever records are there
# and forwards them, and holds nothing back waiting for more.  The origin
# sends the rest only once the first line has arrived, so a proxy that held
# the first line would never see the rest (curl gives up after 20 s).
test_expect_success 'curl: a streamed answer'"'"'s first line arrives before the origin writes the next, bumped and plain' '
	for url in "https://localhost:$TLS_PORT/drip/tls" "http://localhost:$HTTP_PORT/drip/plain"; do
		name=${url##*/} &&
		{ egress_curl --fail -N --max-time 20 -o "drip-$name.txt" "$url" & } &&
		wait_for 15 "grep -qx \"first $name\" drip-$name.txt" &&
		! grep -q second "drip-$name.txt" &&
		touch "$TEST_SCRATCH/origin-o/release-$name" &&
		wait $! &&
		printf "first %s\nsecond %s\n" "$name" "$name" >expect &&
		diff -u expect "drip-$name.txt" || return 1
	done
'

test_expect_success 'curl: two requests share one client connection and at most one new upstream' '
	before=$(wc -l <"$TEST_SCRATCH/origin-o/connections") &&
	egress_curl --fail "https://localhost:$TLS_PORT/ka/1" -o one.json \
		"https://localhost:$TLS_PORT/ka/2" -o two.json -w "%{num_connects}\n" >connects.txt &&
	test "$(cat connects.txt)" = "$(printf "1\n0")" &&
	grep -q "\"path\":\"/ka/1\"" one.json &&
	grep -q "\"path\":\"/ka/2\"" two.json &&
	# At most one new upstream connection: the first request may even take
	# one an earlier test left in egress'"'"'s pool.
	test "$(wc -l <"$TEST_SCRATCH/origin-o/connections")" -le $((before + 1))
'

test_expect_success 'node: a keep-alive agent reuses its tunnel' '
	egress_node request --url "https://localhost:$TLS_PORT/ka/node" --count 3 >out.json &&
	test "$(grep -c "\"status\":200" out.json)" = 3 &&
	test "$(grep -c "\"reused\":true" out.json)" = 2
'

# The pipelined requests: GET, HEAD, GET, the last asks to close.
pipeline() {
	printf "GET /pipe/1 HTTP/1.1\r\nHost: %s\r\n\r\n" "$1"
	printf "HEAD /pipe/2 HTTP/1.1\r\nHost: %s\r\n\r\n" "$1"
	printf "GET /pipe/3 HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" "$1"
}

# Three answers in order, the HEAD one with a Content-Length but no body.
check_pipeline() {
	test "$(grep -c "^HTTP/1.1 200 " "$1")" = 3 &&
	grep -o "\"path\":\"/pipe/[0-9]\"" "$1" >order.txt &&
	test "$(cat order.txt)" = "$(printf "\"path\":\"/pipe/1\"\n\"path\":\"/pipe/3\"")" &&
	! grep -q "\"path\":\"/pipe/2\"" "$1"
}

test_expect_success 'openssl: pipelined requests in a bumped tunnel are answered in order' '
	pipeline "localhost:$TLS_PORT" |
		egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet >out.txt 2>err.txt &&
	check_pipeline out.txt &&
	origin_requests o | grep "/pipe/" >seen.txt &&
	test "$(cat seen.txt)" = "$(printf "GET /pipe/1\nHEAD /pipe/2\nGET /pipe/3")"
'

test_expect_success 'plain HTTP: pipelined absolute-form requests are answered in order' '
	: >"$TEST_SCRATCH/origin-o/requests" &&
	pipeline "localhost:$HTTP_PORT" | sed "s|^\([A-Z]*\) /|\1 http://localhost:$HTTP_PORT/|" |
		egress_raw >out.txt &&
	check_pipeline out.txt
'

test_expect_success 'openssl: pipelined requests with bodies keep their framing' '
	{
		printf "POST /pipe/length HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nContent-Length: 5\r\n\r\nhello"
		printf "POST /upload/pipe HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nTransfer-Encoding: chunked\r\n\r\n"
		printf "3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"
		printf "GET /pipe/last HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nConnection: close\r\n\r\n"
	} | egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet >out.txt 2>err.txt &&
	test "$(grep -c "^HTTP/1.1 200 " out.txt)" = 3 &&
	grep -q "\"bytes\":5,\"sha256\":\"$(printf abcde | sha256sum | cut -d" " -f1)\"" out.txt &&
	grep -o "\"path\":\"/pipe/[a-z]*\"" out.txt >order.txt &&
	test "$(cat order.txt)" = "$(printf "\"path\":\"/pipe/length\"\n\"path\":\"/pipe/last\"")"
'

test_expect_success 'a response ended by the upstream closing is re-chunked, the connection kept' '
	egress_curl --fail -D head.txt -o body.txt "https://localhost:$TLS_PORT/raw/close" \
		-o after.json "https://localhost:$TLS_PORT/after-close" -w "%{num_connects}\n" >connects.txt &&
	test "$(cat body.txt)" = "the body ends when the connection does" &&
	grep -qi "^Transfer-Encoding: chunked" head.txt &&
	grep -q "\"path\":\"/after-close\"" after.json &&
	test "$(cat connects.txt)" = "$(printf "1\n0")" &&
	egress_curl --fail -0 -D head10.txt -o body10.txt "http://localhost:$HTTP_PORT/raw/close" &&
	test "$(cat body10.txt)" = "the body ends when the connection does" &&
	! grep -qi "^Transfer-Encoding" head10.txt
'

test_expect_success 'curl: HEAD has the head of a GET and no body' '
	egress_curl --fail -I "https://localhost:$TLS_PORT/head" -o head.txt &&
	grep -q "^HTTP/1.1 200" head.txt &&
	grep -qi "^Content-Length: [1-9]" head.txt &&
	origin_requests o | grep -qx "HEAD /head"
'

test_expect_success 'curl: Expect: 100-continue gets the 100 and the body goes through' '
	head -c 100000 /dev/urandom >body.bin &&
	egress_curl --fail -v -H "Expect: 100-continue" --data-binary @body.bin \
		"https://localhost:$TLS_PORT/upload/expect" -o got.json 2>err.txt &&
	grep -q "^< HTTP/1.1 100 Continue" err.txt &&
	grep -q "\"bytes\":100000," got.json &&
	grep -q "\"sha256\":\"$(sha256sum <body.bin | cut -d" " -f1)\"" got.json
'

test_expect_success 'curl: the origin'"'"'s early final answer to Expect is relayed, the body not sent' '
	head -c 100000 /dev/urandom >body.bin &&
	egress_curl -v -H "Expect: 100-continue" --data-binary @body.bin -o body.txt \
		"https://localhost:$TLS_PORT/reject/curl" 2>err.txt &&
	grep -q "^< HTTP/1.1 403 " err.txt &&
	! grep -q "^< HTTP/1.1 100" err.txt &&
	! grep -qi "^< X-Bottle-Egress" err.txt &&
	origin_requests o | grep -qx "POST /reject/curl"
'

test_expect_success 'openssl: a body sent after an early final answer never reaches the origin as a request' '
	trap "" PIPE &&
	smuggled="GET /smuggled HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\n\r\n" &&
	mkfifo requests
	egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet <requests >out.txt 2>err.txt &
	exec 7>requests &&
	printf "POST /reject/raw HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n" \
		"$(printf "$smuggled" | wc -c)" >&7 &&
	wait_for 10 "grep -q \"^HTTP/1.1 403 \" out.txt" &&
	{ printf "$smuggled" >&7 2>/dev/null || true; } &&
	{ printf "GET /after HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\nConnection: close\r\n\r\n" >&7 2>/dev/null || true; } &&
	exec 7>&- &&
	wait &&
	origin_requests o | grep -qx "POST /reject/raw" &&
	! origin_requests o | grep -q /smuggled
'

test_expect_success 'curl: Expect: 100-continue on a denied path is a 403 without a 100' '
	head -c 100000 /dev/urandom >body.bin &&
	egress_curl -v -H "Expect: 100-continue" --data-binary @body.bin -o body.txt \
		"https://localhost:$NOWS_PORT/upload/denied" 2>err.txt &&
	grep -q "^< HTTP/1.1 403 " err.txt &&
	! grep -q "^< HTTP/1.1 100" err.txt &&
	grep -q "does not allow POST /upload/denied" body.txt &&
	! origin_requests nows | grep -q /upload/denied
'

test_expect_success 'egress is still running' 'egress_alive'

test_done

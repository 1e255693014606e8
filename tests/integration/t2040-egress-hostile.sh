#!/usr/bin/env bash
# Strict parsing against hostile requests, sent byte for byte: plain ones
# in absolute form over a raw socket, and the same inside a bumped tunnel
# through openssl s_client.  Duplicate Content-Length, Content-Length with
# Transfer-Encoding, bare LF, obs-fold and oversized heads are each answered
# with their status and a one-line reason, the connection is closed, and
# the origin (which notes every request it gets) never sees any of them.
. "$(dirname "$0")/egress-lib.sh"

test_expect_success 'set up the PKI, the origin and egress' '
	egress_setup
'

# hostile HOW STATUS REASON FORMAT: send the request FORMAT (printf, with
# TARGET where the request-target starts and HOST for the Host value)
# plainly (HOW=plain) or inside a bumped tunnel (HOW=tunnel); egress must
# answer STATUS with "egress: REASON" as the whole body, then close.
hostile() {
	local how=$1 status=$2 reason=$3 target host
	if [ "$how" = plain ]; then
		target=http://localhost:$HTTP_PORT host=localhost:$HTTP_PORT
	else
		target= host=localhost:$TLS_PORT
	fi
	# shellcheck disable=SC2059
	printf "$4" | sed "s|TARGET|$target|g; s|HOST|$host|g" >request.bin
	if [ "$how" = plain ]; then
		egress_raw <request.bin >out.txt
	else
		egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet <request.bin >out.txt 2>err.txt
	fi
	head -n 1 out.txt | grep -q "^HTTP/1.1 $status " &&
	grep -qi "^X-Bottle-Egress: " out.txt &&
	grep -q "^Connection: close" out.txt &&
	sed "1,/^\r$/d" out.txt >body.txt &&
	test "$(wc -l <body.txt)" = 1 &&
	grep -qxF "egress: $reason" body.txt
}

# Both ways.
hostile_both() {
	hostile plain "$@" && hostile tunnel "$@"
}

test_expect_success 'a control request reaches the origin both ways' '
	printf "GET http://localhost:$HTTP_PORT/control HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\nConnection: close\r\n\r\n" |
		egress_raw >out.txt &&
	grep -q "^HTTP/1.1 200 " out.txt &&
	egress_s_get "$TLS_PORT" /control >out.txt &&
	grep -q "^HTTP/1.1 200 " out.txt &&
	test "$(grep -c "^GET /control$" "$TEST_SCRATCH/origin-o/requests")" = 2
'

test_expect_success 'duplicate Content-Length is a 403' '
	hostile_both 403 "more than one Content-Length (repeated header or list)" \
		"POST TARGET/hostile/dup-cl HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"
'

test_expect_success 'a Content-Length list is a 403' '
	hostile_both 403 "more than one Content-Length (repeated header or list)" \
		"POST TARGET/hostile/cl-list HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5, 5\r\n\r\nhello"
'

test_expect_success 'Content-Length with Transfer-Encoding is a 403' '
	hostile_both 403 "both Content-Length and Transfer-Encoding present" \
		"POST TARGET/hostile/cl-te HTTP/1.1\r\nHost: HOST\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET TARGET/hostile/smuggled HTTP/1.1\r\nHost: HOST\r\n\r\n"
'

test_expect_success 'Transfer-Encoding before Content-Length is a 403 too' '
	hostile_both 403 "both Content-Length and Transfer-Encoding present" \
		"POST TARGET/hostile/te-cl HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n"
'

test_expect_success 'bare LF line endings are a 403' '
	hostile_both 403 "bare LF line ending (lines must end with CRLF)" \
		"GET TARGET/hostile/bare-lf HTTP/1.1\nHost: HOST\n\n"
'

test_expect_success 'a bare LF after the first field is a 403' '
	hostile_both 403 "bare LF line ending (lines must end with CRLF)" \
		"GET TARGET/hostile/bare-lf2 HTTP/1.1\r\nHost: HOST\nX-Injected: 1\r\n\r\n"
'

test_expect_success 'obs-fold is a 403' '
	hostile_both 403 "header line starts with whitespace (obsolete line folding)" \
		"GET TARGET/hostile/obs-fold HTTP/1.1\r\nHost: HOST\r\nX-Folded: a\r\n b\r\n\r\n"
'

test_expect_success 'a head over 32 KiB is a 431' '
	pad=$(head -c 1000 /dev/zero | tr "\0" a) &&
	fields=$(for i in $(seq 40); do printf "X-Pad-%d: %s\\\\r\\\\n" "$i" "$pad"; done) &&
	hostile_both 431 "header block exceeds 32768 bytes" \
		"GET TARGET/hostile/big-head HTTP/1.1\r\nHost: HOST\r\n$fields\r\n"
'

test_expect_success 'a header line over 8 KiB is a 431' '
	pad=$(head -c 9000 /dev/zero | tr "\0" a) &&
	hostile_both 431 "header line exceeds 8192 bytes" \
		"GET TARGET/hostile/long-line HTTP/1.1\r\nHost: HOST\r\nCookie: $pad\r\n\r\n"
'

test_expect_success 'more than 100 fields is a 431' '
	fields=$(for i in $(seq 101); do printf "X-F-%d: 1\\\\r\\\\n" "$i"; done) &&
	hostile_both 431 "more than 100 header lines" \
		"GET TARGET/hostile/many-fields HTTP/1.1\r\nHost: HOST\r\n$fields\r\n"
'

test_expect_success 'an HTTP/1.1 request without Host is a 400' '
	hostile_both 400 "HTTP/1.1 request without a Host header" \
		"GET TARGET/hostile/no-host HTTP/1.1\r\nX-A: 1\r\n\r\n"
'

test_expect_success 'in a tunnel, a Host that disagrees with the CONNECT target is a 403' '
	hostile tunnel 403 "the request'"'"'s host other.test does not match the CONNECT target localhost:$TLS_PORT" \
		"GET /hostile/host-tunnel HTTP/1.1\r\nHost: other.test\r\n\r\n"
'

test_expect_success 'the origin saw none of them' '
	! grep -v "^GET /control$" "$TEST_SCRATCH/origin-o/requests"
'

# RFC 9112 3.2.2: a proxy ignores Host when the target is absolute (Node
# sends the proxy's own name there); egress writes Host from the target.
test_expect_success 'a plain request or CONNECT naming the proxy in Host goes to the target' '
	printf "GET http://localhost:$HTTP_PORT/host-ignored HTTP/1.1\r\nHost: proxy.test:9099\r\nConnection: close\r\n\r\n" |
		egress_raw >out.txt &&
	grep -q "^HTTP/1.1 200 " out.txt &&
	grep -q "\"Host\",\"localhost:$HTTP_PORT\"" out.txt &&
	! grep -q proxy.test out.txt &&
	egress_curl --proxy-header "Host: proxy.test:9099" "https://localhost:$TLS_PORT/host-ignored" >out.txt &&
	grep -q "\"Host\",\"localhost:$TLS_PORT\"" out.txt &&
	! grep -q proxy.test out.txt
'

# A bad chunk can only be found once the body streams, so the origin may
# get the head and the good part; never a whole request.
test_expect_success 'a malformed chunk size is a 400 and no request completes' '
	hostile_both 400 "invalid chunked request body: malformed chunk size (want hex digits, then '"'"';'"'"' or CRLF)" \
		"POST TARGET/upload/bad-size HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\nGET TARGET/hostile/after-chunk HTTP/1.1\r\nHost: HOST\r\n\r\n"
'

test_expect_success 'chunk data longer than its size is a 400' '
	hostile_both 400 "invalid chunked request body: chunk data not followed by CRLF" \
		"POST TARGET/upload/bad-crlf HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n"
'

test_expect_success 'obs-fold in a trailer is a 400' '
	hostile_both 400 "invalid chunked request body: header line starts with whitespace (obsolete line folding)" \
		"POST TARGET/upload/bad-trailer HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: a\r\n b\r\n\r\n"
'

test_expect_success 'no bad chunked body reached the origin whole' '
	! grep -q "^complete" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -q "after-chunk" "$TEST_SCRATCH/origin-o/requests"
'

# upstream NAME REASON: the origin answers /raw/NAME with a broken response;
# egress must give the client a 502 naming REASON, and the client's
# connection stays usable for a request that needs a fresh upstream one.
upstream() {
	egress_curl -D head.txt -o body.txt "https://localhost:$TLS_PORT/raw/$1" \
		-o after.json "https://localhost:$TLS_PORT/after/$1" &&
	grep -q "^HTTP/1.1 502 " head.txt &&
	grep -qi "^X-Bottle-Egress: error" head.txt &&
	grep -qx "egress: upstream localhost:$TLS_PORT sent an invalid response: $2" body.txt &&
	grep -q "\"path\":\"/after/$1\"" after.json
}

test_expect_success 'an upstream response with bare LF is a 502' '
	upstream bare-lf "bare LF line ending (lines must end with CRLF)"
'

test_expect_success 'an upstream response with two Content-Lengths is a 502' '
	upstream dup-cl "more than one Content-Length (repeated header or list)"
'

test_expect_success 'an upstream response with Content-Length and chunked is a 502' '
	upstream cl-te "both Content-Length and Transfer-Encoding present"
'

test_expect_success 'an upstream response head over 32 KiB is a 502' '
	upstream big-head "header block exceeds 32768 bytes"
'

test_expect_success 'egress logged each refusal and is still running' '
	test "$(grep -Ec "\"status\":(400|403|431),\"reason\":" "$EGRESS_DIR/stdout")" = 29 &&
	egress_alive
'

test_done

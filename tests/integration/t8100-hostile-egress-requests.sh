#!/usr/bin/env bash
# Hostile requests against egress, each refused, counted once under its
# reason in GET http://_egress.local/stats and logged in one decision line
# (hostile-lib.sh's `attack`): request smuggling (CL.TE, TE.CL and the TE.TE
# obfuscations, odd Content-Lengths), header bombs, huge chunk sizes, and
# TLS handshake garbage on the proxy port and inside a CONNECT tunnel.  The
# origin sees none of these requests whole.
. "$(dirname "$0")/hostile-lib.sh"

test_expect_success 'set up the PKI, the origins and egress' '
	hostile_setup
'

test_expect_success 'the stats endpoint answers with every counter at zero' '
	egress_stats >stats.json &&
	test "$(jq "[.rejected[]] | add" stats.json)" = 0 &&
	test "$(jq .connections.refused stats.json)" = 0 &&
	jq -e ".rejected.cl_and_te == 0 and .rejected.head_timeout == 0" stats.json &&
	jq -e ".connections.max == 4096" stats.json
'

test_expect_success 'the stats endpoint answers only inside the bundle (loopback)' '
	curl -sS --proxy "http://127.0.0.1:$EGRESS_PORT" http://_egress.local/nothing >out.txt &&
	grep -qx "egress: the introspection endpoint serves only GET /routes and GET /stats" out.txt
'

# ---- request smuggling ----

test_expect_success 'CL.TE is refused' '
	attack cl_and_te 403 send_plain \
		"POST TARGET/upload/cl-te HTTP/1.1\r\nHost: HOST\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nG"
'

test_expect_success 'TE.CL is refused' '
	attack cl_and_te 403 send_plain \
		"POST TARGET/upload/te-cl HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGPOST / HTTP/1.1\r\n\r\n0\r\n\r\n"
'

test_expect_success 'TE.CL inside a bumped tunnel is refused' '
	attack cl_and_te 403 send_tunnel \
		"POST TARGET/upload/te-cl-tunnel HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n"
'

# TE.TE: one Transfer-Encoding that some parsers read as chunked and others
# do not.
test_expect_success 'Transfer-Encoding: xchunked is refused' '
	attack transfer_encoding 403 send_plain \
		"POST TARGET/upload/xchunked HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"
'

test_expect_success 'Transfer-Encoding: chunked, identity is refused' '
	attack transfer_encoding 403 send_plain \
		"POST TARGET/upload/chunked-identity HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n"
'

test_expect_success 'two Transfer-Encoding lines are refused' '
	attack transfer_encoding 403 send_plain \
		"POST TARGET/upload/dup-te HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
'

test_expect_success 'Transfer-Encoding: chunked with a trailing tab is refused' '
	attack transfer_encoding 403 send_plain \
		"POST TARGET/upload/te-tab HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\t\r\n\r\n0\r\n\r\n"
'

test_expect_success 'a space before the colon of Transfer-Encoding is refused' '
	attack space_before_colon 403 send_plain \
		"POST TARGET/upload/te-space HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding : chunked\r\nContent-Length: 5\r\n\r\nhello"
'

test_expect_success 'a tab before the colon of Transfer-Encoding is refused' '
	attack space_before_colon 403 send_plain \
		"POST TARGET/upload/te-tab-name HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding\t: chunked\r\nContent-Length: 5\r\n\r\nhello"
'

test_expect_success 'a Transfer-Encoding folded under another field is refused' '
	attack obs_fold 403 send_plain \
		"POST TARGET/upload/te-fold HTTP/1.1\r\nHost: HOST\r\nX-A: 1\r\n Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello"
'

test_expect_success 'a vertical tab before chunked is refused' '
	attack field_value 403 send_plain \
		"POST TARGET/upload/te-vt HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding:\vchunked\r\n\r\n0\r\n\r\n"
'

# Leading OWS is part of the syntax (RFC 9110 5.5): " chunked" is chunked to
# every parser, so the smuggling shape is " chunked" next to a length.
test_expect_success 'Transfer-Encoding: " chunked" with Content-Length is refused' '
	attack cl_and_te 403 send_plain \
		"POST TARGET/upload/te-ows HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nTransfer-Encoding:  \tchunked\r\n\r\nhello"
'

test_expect_success 'Transfer-Encoding in an HTTP/1.0 request is refused' '
	attack te_http10 403 send_plain \
		"POST TARGET/upload/te-10 HTTP/1.0\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
'

test_expect_success 'Content-Length: +5 is refused' '
	attack content_length 403 send_plain \
		"POST TARGET/upload/cl-plus HTTP/1.1\r\nHost: HOST\r\nContent-Length: +5\r\n\r\nhello"
'

test_expect_success 'Content-Length: -5 is refused' '
	attack content_length 403 send_plain \
		"POST TARGET/upload/cl-minus HTTP/1.1\r\nHost: HOST\r\nContent-Length: -5\r\n\r\nhello"
'

test_expect_success 'Content-Length with a leading zero is refused' '
	attack content_length 403 send_plain \
		"POST TARGET/upload/cl-zero HTTP/1.1\r\nHost: HOST\r\nContent-Length: 010\r\n\r\nhello1234\n"
'

test_expect_success 'Content-Length: 5, 5 is refused' '
	attack dup_content_length 403 send_plain \
		"POST TARGET/upload/cl-list HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5, 5\r\n\r\nhello"
'

test_expect_success 'two different Content-Lengths in a tunnel are refused' '
	attack dup_content_length 403 send_tunnel \
		"POST TARGET/upload/cl-dup HTTP/1.1\r\nHost: HOST\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
'

# ---- header bombs ----

test_expect_success 'many headers (101) are refused' '
	fields=$(for i in $(seq 101); do printf "X-F-%d: 1\\\\r\\\\n" "$i"; done) &&
	attack too_many_fields 431 send_plain "GET TARGET/bomb/many HTTP/1.1\r\nHost: HOST\r\n$fields\r\n"
'

test_expect_success 'one huge header (1 MiB) is refused' '
	pad=$(head -c 1048576 /dev/zero | tr "\0" a) &&
	attack field_line_too_long 431 send_plain "GET TARGET/bomb/huge HTTP/1.1\r\nHost: HOST\r\nCookie: $pad\r\n\r\n"
'

test_expect_success 'a head of 1000 small fields past 32 KiB is refused' '
	fields=$(for i in $(seq 90); do printf "X-Pad-%d: %0400d\\\\r\\\\n" "$i" 0; done) &&
	attack head_too_large 431 send_tunnel "GET TARGET/bomb/big HTTP/1.1\r\nHost: HOST\r\n$fields\r\n"
'

# Egress answers at 8 KiB while the client still writes: it drains the
# rest so that the close does not reset the answer away.
test_expect_success 'a request line of 1 MiB is refused' '
	pad=$(head -c 1048576 /dev/zero | tr "\0" a) &&
	attack start_line_too_long 414 send_plain "GET TARGET/$pad HTTP/1.1\r\nHost: HOST\r\n\r\n"
'

# ---- chunk sizes ----

test_expect_success 'a chunk size of 2^64 is refused (held body)' '
	attack chunk_too_large 400 send_plain \
		"POST TARGET/upload/chunk-2-64 HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\nabc\r\n0\r\n\r\n"
'

test_expect_success 'a chunk size of 2^62 is refused (streamed body)' '
	attack chunk_too_large 400 send_stream \
		"POST TARGET/upload/chunk-2-62 HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n4000000000000000\r\nabc\r\n0\r\n\r\n"
'

test_expect_success 'a chunk size of 40 hex digits is refused (streamed body)' '
	attack chunk_too_large 400 send_stream \
		"POST TARGET/upload/chunk-40 HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nffffffffffffffffffffffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"
'

test_expect_success 'a chunk size line without end is refused' '
	pad=$(head -c 8192 /dev/zero | tr "\0" 0) &&
	attack chunk_line_too_long 400 send_stream \
		"POST TARGET/upload/chunk-line HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n1;$pad\r\na\r\n0\r\n\r\n"
'

test_expect_success 'a negative chunk size is refused in a tunnel' '
	attack chunk_size 400 send_tunnel \
		"POST TARGET/upload/chunk-neg HTTP/1.1\r\nHost: HOST\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\na\r\n0\r\n\r\n"
'

test_expect_success 'no chunked attack reached the origins whole' '
	! grep -q "^complete /upload/chunk" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -q "^complete /upload/chunk" "$TEST_SCRATCH/origin-s/requests"
'

# ---- TLS garbage ----

test_expect_success 'a TLS ClientHello on the proxy port is told what the port is' '
	before=$(egress_stat rejected.tls_on_proxy_port) &&
	timeout 20 openssl s_client -connect "127.0.0.1:$EGRESS_PORT" -servername localhost \
		</dev/null >out.txt 2>&1 || true &&
	test "$(egress_stat rejected.tls_on_proxy_port)" = $((before + 1)) &&
	tail -n 1 "$EGRESS_DIR/stdout" | grep -q "a TLS handshake arrived on the proxy port"
'

test_expect_success 'a TLS record header with garbage on the proxy port is a 400' '
	attack tls_on_proxy_port 400 send_plain "\x16\x03\x01\x00\x20garbage garbage garbage garbage\r\n\r\n"
'

# A ClientHello record whose hello is four bytes of 0xff.
test_expect_success 'garbage in a TLS record in a CONNECT tunnel fails the handshake' '
	before=$(egress_stats) &&
	lines=$(wc -l <"$EGRESS_DIR/stdout") &&
	printf "CONNECT localhost:$TLS_PORT HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\n\r\n\x16\x03\x01\x00\x08\x01\x00\x00\x04\xff\xff\xff\xff" |
		egress_raw >out.txt &&
	grep -q "^HTTP/1.1 200 Connection established" out.txt &&
	after=$(egress_stats) &&
	test "$(jq -n --argjson a "$after" --argjson b "$before" "\$a.rejected.tls_handshake - \$b.rejected.tls_handshake")" = 1 &&
	test "$(jq -n --argjson a "$after" --argjson b "$before" "([\$a.rejected[]] | add) - ([\$b.rejected[]] | add)")" = 1 &&
	test "$(wc -l <"$EGRESS_DIR/stdout")" = $((lines + 1)) &&
	tail -n 1 "$EGRESS_DIR/stdout" | grep -q "TLS handshake with the client failed"
'

test_expect_success 'random bytes in a CONNECT tunnel are a 400 (not TLS: read as HTTP)' '
	head -c 4096 /dev/urandom | tr -d "\026" >noise.bin &&
	before=$(egress_stats) &&
	{ printf "CONNECT localhost:$TLS_PORT HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\n\r\n"; cat noise.bin; } |
		egress_raw >out.txt &&
	grep -q "^HTTP/1.1 200 Connection established" out.txt &&
	grep -Eq "^HTTP/1.1 (400|403|414|505) " out.txt &&
	after=$(egress_stats) &&
	test "$(jq -n --argjson a "$after" --argjson b "$before" "([\$a.rejected[]] | add) - ([\$b.rejected[]] | add)")" = 1
'

test_expect_success 'the origins saw only what they were allowed to see' '
	! grep -q "^complete" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -q "^complete" "$TEST_SCRATCH/origin-s/requests" &&
	! grep -q "GPOST\|/bomb/" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'a normal request still works and egress is alive' '
	egress_curl --fail "https://localhost:$TLS_PORT/after" >out.json &&
	grep -q "\"path\":\"/after\"" out.json &&
	egress_alive
'

test_done

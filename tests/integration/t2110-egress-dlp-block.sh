#!/usr/bin/env bash
# DLP in egress under `outbound_on_match: block`: a known secret (an env
# var egress is told about) in the query, a header, a JSON, multipart or
# gzip body, split with separators or base64'd, is a 403 naming the
# detector and where, never the value, and the request never reaches the
# origin.  A streamed body is cut short when the secret shows up late.
# The canary is refused under every policy, in every spelling.
. "$(dirname "$0")/egress-dlp-lib.sh"

test_expect_success 'set up the PKI, the origin and egress holding a secret and the canary' '
	dlp_setup
'

test_expect_success 'ordinary traffic on a block route passes' '
	test "$(dlp_status "https://localhost:$TLS_PORT/b/plain?q=hello")" = 200 &&
	test "$(dlp_status "https://localhost:$TLS_PORT/b/keep/ordinary" -H "Content-Type: application/json" \
		-d "{\"sha\":\"3f786850e387550fdab836ed7e6dc881de23001b\",\"id\":\"4b825dc6-42c4-4a0c-9a54-000000000000\"}")" = 200 &&
	grep -q "/b/plain" "$TEST_SCRATCH/origin-o/requests"
'

# blocked NAME WHERE CURL-ARGS...: a request to /b/NAME is a 403 from egress
# naming WHERE, the value is not in the answer, and the origin never saw it
# (a small body is settled only at its end, so not even its head went).
blocked() {
	local name=$1 where=$2
	shift 2
	test "$(dlp_status "https://localhost:$TLS_PORT/b/$name" -D head.txt "$@")" = 403 &&
	grep -qi "^X-Bottle-Egress: denied" head.txt &&
	grep -q "^egress: dlp: .* in the $where" body.txt &&
	! grep -qF "$SECRET" body.txt head.txt &&
	! grep -q "/b/$name" "$TEST_SCRATCH/origin-o/requests"
}

test_expect_success 'the secret in the query' '
	blocked query query -G --data-urlencode "key=$SECRET"
'
test_expect_success 'the secret in a header' '
	blocked header "header X-Note" -H "X-Note: token $SECRET"
'
test_expect_success 'the secret in a JSON body' '
	blocked keep/json body -H "Content-Type: application/json" -d "{\"token\":\"$SECRET\"}"
'
test_expect_success 'the secret in a multipart body' '
	printf "config\nkey = %s\n" "$SECRET" >upload.txt &&
	blocked keep/multipart body -F "file=@upload.txt"
'
test_expect_success 'the secret in a gzip body' '
	printf "{\"token\":\"%s\"}" "$SECRET" | gzip >body.gz &&
	blocked keep/gzip body-decoded -H "Content-Encoding: gzip" --data-binary @body.gz
'
test_expect_success 'the secret split with separators' '
	blocked keep/dashed body -d "t=$(dashed "$SECRET")"
'
test_expect_success 'the secret base64d' '
	blocked keep/base64 body -d "blob=$(b64 "$SECRET")"
'
test_expect_success 'the secret over plain HTTP (absolute form)' '
	test "$(dlp_status "http://localhost:$HTTP_PORT/b/plain-http?k=$SECRET")" = 403 &&
	! grep -q "/b/plain-http" "$TEST_SCRATCH/origin-o/requests"
'

# Streamed: the start goes out as it is settled, the secret and what
# follows never do, and the request never completes at the origin.
test_expect_success 'a secret 2 MiB into a streamed body: cut short, never complete' '
	{ head -c 2097152 /dev/zero | tr "\0" a | fold -w 99; printf "%s\n" "$SECRET"; head -c 65536 /dev/zero | tr "\0" b; } >late.bin &&
	test "$(dlp_status "https://localhost:$TLS_PORT/b/keep/late" -H "Transfer-Encoding: chunked" --data-binary @late.bin)" = 403 &&
	grep -q "^POST /b/keep/late" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -q "^complete /b/keep/late" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -qF "$SECRET" "$TEST_SCRATCH/origin-o/bodies"
'

test_expect_success 'a clean streamed body on a block route arrives whole' '
	head -c 3000000 /dev/urandom | base64 -w 76 >big.txt &&
	egress_curl --fail -H "Transfer-Encoding: chunked" --data-binary @big.txt \
		"https://localhost:$TLS_PORT/b/keep/big" >out.json &&
	grep -q "\"sha256\":\"$(sha256sum <big.txt | cut -d" " -f1)\"" out.json
'

# Bodies this large are scanned on a second thread (on a machine with more
# than one CPU) while the connection's thread reads and forwards: the two
# above were, and each still stopped at the secret or arrived whole.
test_expect_success 'large streamed bodies were scanned on a second thread' '
	if test "$(nproc)" -gt 1; then
		test "$(egress_stat dlp.body_threads)" -ge 2
	else
		test "$(egress_stat dlp.body_threads)" = 0
	fi
'

# A small body read in one piece goes out straight from egress's read
# buffer, its unsettled tail from the scan's pending bytes: both arrive,
# request after request on one connection.
test_expect_success 'small clean bodies on a block route arrive whole, request after request' '
	head -c 3000 /dev/urandom | base64 -w 76 >small.txt &&
	egress_curl --fail --data-binary @small.txt "https://localhost:$TLS_PORT/b/keep/small1" \
		"https://localhost:$TLS_PORT/b/keep/small2" >out.json &&
	test "$(grep -o "\"sha256\":\"$(sha256sum <small.txt | cut -d" " -f1)\"" out.json | wc -l)" = 2
'

# The same with a Content-Length: only what the scan has settled goes out.
test_expect_success 'a secret 2 MiB into a body with a length: cut short, never complete' '
	{ head -c 2097152 /dev/zero | tr "\0" a | fold -w 99; printf "%s\n" "$SECRET"; head -c 65536 /dev/zero | tr "\0" b; } >late.bin &&
	test "$(dlp_status "https://localhost:$TLS_PORT/b/keep/late-length" --data-binary @late.bin)" = 403 &&
	grep -q "^POST /b/keep/late-length" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -q "^complete /b/keep/late-length" "$TEST_SCRATCH/origin-o/requests" &&
	! grep -qF "$SECRET" "$TEST_SCRATCH/origin-o/bodies"
'

test_expect_success 'a clean body with a length on a block route arrives whole' '
	head -c 3000000 /dev/urandom | base64 -w 76 >big.txt &&
	egress_curl --fail --data-binary @big.txt "https://localhost:$TLS_PORT/b/keep/big-length" >out.json &&
	grep -q "\"sha256\":\"$(sha256sum <big.txt | cut -d" " -f1)\"" out.json &&
	grep -q "\"chunked\":false" out.json
'

# The canary blocks under every policy (block, redact, supervise), in
# every spelling, and never reaches the origin.
canary_case() {
	local prefix=$1 name=$2
	shift 2
	test "$(dlp_status "https://localhost:$TLS_PORT$prefix/$name" "$@")" = 403 &&
	grep -q "the canary" body.txt &&
	! grep -qF "$CANARY" body.txt
}
for prefix in /b /r /s; do
	test_expect_success "the canary on $prefix: query, header, bodies, spellings" '
		canary_case '"$prefix"' cq -G --data-urlencode "c=$CANARY" &&
		canary_case '"$prefix"' ch -H "X-C: $CANARY" &&
		canary_case '"$prefix"' keep/cj -H "Content-Type: application/json" -d "{\"c\":\"$CANARY\"}" &&
		printf "c=%s\n" "$CANARY" >c.txt &&
		canary_case '"$prefix"' keep/cm -F "file=@c.txt" &&
		printf "%s" "$CANARY" | gzip >c.gz &&
		canary_case '"$prefix"' keep/cg -H "Content-Encoding: gzip" --data-binary @c.gz &&
		canary_case '"$prefix"' keep/cd -d "c=$(dashed "$CANARY")" &&
		canary_case '"$prefix"' keep/cb -d "c=$(b64 "$CANARY")"
	'
done

test_expect_success 'the canary never reached the origin in any form' '
	! origin_saw | grep -qF "$CANARY" &&
	! origin_saw | grep -qF "$(b64 "$CANARY")" &&
	! origin_saw | grep -qF "$(dashed "$CANARY")"
'

test_expect_success 'the secret or the canary in a CONNECT host name: 403 before any lookup' '
	egress_curl -o /dev/null -w "%{http_connect}\n" "https://$SECRET.localhost:$TLS_PORT/x" >code.txt || :
	test "$(cat code.txt)" = 403 &&
	egress_curl -o /dev/null -w "%{http_connect}\n" "https://x$CANARY.localhost:$TLS_PORT/x" >code.txt || :
	test "$(cat code.txt)" = 403 &&
	egress_curl -o /dev/null -w "%{http_connect}\n" "https://ordinary.localhost:$TLS_PORT/x" >code.txt || :
	test "$(cat code.txt)" = 200 &&
	test "$(dlp_status "http://$SECRET.localhost:$HTTP_PORT/plain-host")" = 403 &&
	grep -qi "in the header host" body.txt
'

test_expect_success 'a supervise route without --queue fails closed, saying why' '
	test "$(dlp_status "https://localhost:$TLS_PORT/s/noqueue?k=$SECRET")" = 403 &&
	grep -q "operator loop is not configured" body.txt
'

test_expect_success 'git-receive-pack is refused however it is spelled' '
	test "$(dlp_status "https://localhost:$TLS_PORT/b/repo.git/info/refs?service=git-%72eceive-pack")" = 403 &&
	test "$(dlp_status "https://localhost:$TLS_PORT/b/repo.git/GIT-RECEIVE-PACK" -d x)" = 403 &&
	test "$(dlp_status "https://localhost:$TLS_PORT/b/repo.git/git-%2572eceive-pack" -d x)" = 403 &&
	test "$(dlp_status "https://localhost:$TLS_PORT/b/repo.git/x" -H "Content-Type: application/x-git-receive-pack-request" -d x)" = 403 &&
	! grep -qi "receive" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'every refusal is logged with its finding, never the value' '
	grep "\"path\":\"/b/header\"" "$EGRESS_DIR/stdout" >line.json &&
	grep -q "\"dlp\":{\"action\":\"block\",\"findings\":\\[\"known known:" line.json &&
	dlp_no_leak
'

test_expect_success 'egress is still running' '
	egress_alive
'

test_done

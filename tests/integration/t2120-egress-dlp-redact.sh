#!/usr/bin/env bash
# DLP in egress under `outbound_on_match: redact`: every match in the path,
# query, headers and body is replaced by [REDACTED] (percent-encoded in the
# URL), Content-Length follows, and the rewritten request goes out; the
# origin sees the marker and never the value.  Where redaction cannot
# reach (a compressed body, a secret spelled with invisible characters)
# the request fails closed with a 403.  --provider-host makes the agent's
# model provider redact on a route that says nothing.
. "$(dirname "$0")/egress-dlp-lib.sh"

test_expect_success 'set up the PKI, the origin and egress holding a secret' '
	dlp_setup
'

test_expect_success 'the query: the origin sees the marker' '
	egress_curl --fail "https://localhost:$TLS_PORT/r/q?key=$SECRET&keep=1" >out.json &&
	grep -q "\"path\":\"/r/q?key=%5BREDACTED%5D&keep=1\"" out.json &&
	! grep -qF "$SECRET" out.json
'

test_expect_success 'the path' '
	egress_curl --fail "https://localhost:$TLS_PORT/r/p/$SECRET/x" >out.json &&
	grep -q "\"path\":\"/r/p/%5BREDACTED%5D/x\"" out.json &&
	grep -qF "\"path\":\"/r/p/[REDACTED]/x\"" "$EGRESS_DIR/stdout"
'

test_expect_success 'a header: redacted, the other headers as sent' '
	egress_curl --fail -H "X-Note: token $SECRET here" -H "X-Other: kept" \
		"https://localhost:$TLS_PORT/r/h" >out.json &&
	grep -q "\"X-Note\",\"token \\[REDACTED\\] here\"" out.json &&
	grep -q "\"X-Other\",\"kept\"" out.json
'

# redacted_body NAME BODY-FILE CURL-ARGS...: the origin got BODY-FILE with
# the value replaced by the marker, with a Content-Length that says so.
redacted_body() {
	local name=$1 file=$2
	shift 2
	sed "s/$SECRET/[REDACTED]/g" "$file" >want.bin &&
	egress_curl --fail "$@" --data-binary @"$file" "https://localhost:$TLS_PORT/r/keep/$name" >out.json &&
	grep -q "\"sha256\":\"$(sha256sum <want.bin | cut -d" " -f1)\"" out.json &&
	grep -q "\"content_length\":\"$(wc -c <want.bin)\"" out.json
}

test_expect_success 'a JSON body' '
	printf "{\"token\":\"%s\",\"n\":1}" "$SECRET" >body.json &&
	redacted_body json body.json -H "Content-Type: application/json"
'

test_expect_success 'a chunked body goes out with a Content-Length' '
	printf "a=%s&b=%s" "$SECRET" "$SECRET" >body.txt &&
	redacted_body chunked body.txt -H "Transfer-Encoding: chunked"
'

test_expect_success 'a multipart body' '
	printf -- "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nkey=%s\r\n--XyZ--\r\n" "$SECRET" >body.mp &&
	redacted_body multipart body.mp -H "Content-Type: multipart/form-data; boundary=XyZ"
'

test_expect_success 'base64d and dashed: the encoded spans are redacted' '
	printf "a=%s b=%s" "$(b64 "$SECRET")" "$(dashed "$SECRET")" >body.txt &&
	egress_curl --fail --data-binary @body.txt "https://localhost:$TLS_PORT/r/keep/encoded" >out.json &&
	! grep -qF "$(b64 "$SECRET")" "$TEST_SCRATCH/origin-o/bodies" &&
	! grep -qF "$(dashed "$SECRET")" "$TEST_SCRATCH/origin-o/bodies" &&
	grep -qF "[REDACTED]" "$TEST_SCRATCH/origin-o/bodies"
'

test_expect_success 'a gzip body cannot be redacted: 403, nothing sent' '
	printf "{\"token\":\"%s\"}" "$SECRET" | gzip >body.gz &&
	test "$(dlp_status "https://localhost:$TLS_PORT/r/keep/gz" -H "Content-Encoding: gzip" --data-binary @body.gz)" = 403 &&
	grep -q "compressed body" body.txt &&
	! grep -q "/r/keep/gz" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'a secret hidden with a zero-width space fails closed' '
	zw=$(printf "%s\342\200\213%s" "${SECRET:0:10}" "${SECRET:10}") &&
	test "$(dlp_status "https://localhost:$TLS_PORT/r/keep/zw" --data-binary "t=$zw")" = 403 &&
	grep -q "unicode" body.txt &&
	! grep -q "/r/keep/zw" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'a body over --dlp-body-max on a redact route is a 413 saying why' '
	EGRESS_PORT=$(free_port) &&
	EGRESS_DIR=$TEST_SCRATCH/egress-small &&
	egress_start "$TEST_SCRATCH/routes.yaml" --secret-env DLP_TEST_SECRET --dlp-body-max 4096 &&
	head -c 10000 /dev/zero | tr "\0" x >big.txt &&
	test "$(dlp_status "https://localhost:$TLS_PORT/r/keep/big" --data-binary @big.txt)" = 413 &&
	grep -q "over the 4 KiB egress holds" body.txt
'

test_expect_success '--provider-host: a route that says nothing redacts' '
	EGRESS_PORT=$(free_port) &&
	EGRESS_DIR=$TEST_SCRATCH/egress-provider &&
	egress_start "$TEST_SCRATCH/routes.yaml" --secret-env DLP_TEST_SECRET --provider-host localhost &&
	egress_curl --fail "https://localhost:$TLS_PORT/s/provider?key=$SECRET" >out.json &&
	grep -q "%5BREDACTED%5D" out.json
'

test_expect_success 'the value never reached the origin, nor egress output' '
	! origin_saw | grep -qF "$SECRET" &&
	dlp_no_leak &&
	grep -q "\"action\":\"redacted\"" "$EGRESS_DIR/../egress/stdout"
'

test_expect_success 'egress is still running' '
	egress_alive
'

test_done

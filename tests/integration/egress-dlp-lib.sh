# Shared setup for the egress DLP tests (t21[1-9]x-egress-dlp-*.sh), on top
# of egress-lib.sh: a known secret and a canary held in egress's
# environment (never on its command line), an origin that keeps what
# reaches it, and one route per policy on that origin:
#
#   /b...  outbound_on_match: block
#   /r...  outbound_on_match: redact
#   other  no outbound_on_match: supervise, the default
#   and *.localhost (any name under it, to put things in a host name)
#
#   . "$(dirname "$0")/egress-dlp-lib.sh"
#   test_expect_success 'set up' 'dlp_setup [EGRESS-OPTIONS...]'
. "$(dirname "${BASH_SOURCE[0]}")/egress-lib.sh"
test_skip_unless gzip
test_skip_unless base64

SECRET=dlpT0k$(openssl rand -hex 16)
CANARY=canary$(openssl rand -hex 12)
export DLP_TEST_SECRET=$SECRET DLP_TEST_CANARY=$CANARY

# dlp_routes: the three routes, websockets allowed on each.
dlp_routes() {
	printf 'log: all\nroutes:\n'
	egress_route "$TLS_PORT" "$HTTP_PORT"
	printf '    outbound_on_match: block\n    websocket: true\n    matches:\n      - path_prefix: /b\n'
	egress_route "$TLS_PORT" "$HTTP_PORT"
	printf '    outbound_on_match: redact\n    websocket: true\n    matches:\n      - path_prefix: /r\n'
	egress_route "$TLS_PORT" "$HTTP_PORT"
	printf '    websocket: true\n'
	egress_route "$TLS_PORT" "$HTTP_PORT" | sed 's/host: localhost/host: "*.localhost"/'
}

# dlp_setup [EGRESS-OPTIONS...]: the PKI, origin "o", and egress told
# about the secret and the canary by name.
dlp_setup() {
	egress_pki &&
	dlp_routes >"$TEST_SCRATCH/routes.yaml" &&
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	egress_start "$TEST_SCRATCH/routes.yaml" --secret-env DLP_TEST_SECRET \
		--canary-env DLP_TEST_CANARY "$@"
}

# What reached the origin: request lines (with queries), kept bodies and
# websocket payloads.
origin_saw() {
	cat "$TEST_SCRATCH/origin-o/requests" "$TEST_SCRATCH/origin-o/bodies" \
		"$TEST_SCRATCH/origin-o/frames" 2>/dev/null
}

# dlp_status URL [CURL-ARGS...]: the status egress (or the origin) answered;
# the response body is in body.txt.
dlp_status() {
	local url=$1
	shift
	egress_curl -o body.txt -w "%{http_code}\n" "$@" "$url"
}

# Spellings of a value: the exact value, with dashes every 4 characters,
# base64.
dashed() {
	printf '%s' "$1" | sed 's/..../&-/g'
}
b64() {
	printf '%s' "$1" | base64 -w0
}

# Nothing secret in anything egress wrote, nor on its command line.
dlp_no_leak() {
	! grep -qF "$SECRET" "$EGRESS_DIR/stdout" "$EGRESS_DIR/stderr" &&
	! grep -qF "$CANARY" "$EGRESS_DIR/stdout" "$EGRESS_DIR/stderr" &&
	! tr "\0" " " <"/proc/$(cat "$EGRESS_DIR/pid")/cmdline" | grep -qF "$SECRET"
}

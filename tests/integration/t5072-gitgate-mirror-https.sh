#!/usr/bin/env bash
# An https upstream (git http-backend behind TLS and Basic auth,
# tests/helpers/git-https-upstream.py) with the token in token_env: fetched
# and pushed with the token read from the environment at use time; a wrong
# token is offered once, not in a loop; no token in the mirror, the output
# or an error; the certificate is verified (a CA not trusted: refused); and
# concurrent forced refreshes make one fetch, the others taking its result.
. "$(dirname "$0")/gitgate-mirror-lib.sh"
test_skip_unless python3

SERVER=$TEST_ROOT/tests/helpers/git-https-upstream.py
PKI=$TEST_SCRATCH/pki
TOKEN=tok-$(openssl rand -hex 16)
LOG=$TEST_SCRATCH/https.log
M=$TEST_SCRATCH/data/repo.git

# https_start [--hold FILE]: the server on $HTTPS_PORT with $TOKEN.
https_start() {
	HTTPS_PORT=$(free_port)
	UPSTREAM_TOKEN=$TOKEN python3 "$SERVER" --port "$HTTPS_PORT" --cert "$PKI/origin.crt" \
		--key "$PKI/origin.key" --root "$UPSTREAMS" --log "$LOG" "$@" \
		>"$TEST_SCRATCH/https.out" 2>&1 &
	HTTPS_PID=$!
	server_started "$HTTPS_PID"
	wait_for 10 "ss -Htln 'sport = :$HTTPS_PORT' | grep -q ."
	URL=https://localhost:$HTTPS_PORT/repo.git
}

# mirror_https ARGS...: the helper trusting the test CA, the token in
# $GATE_TOKEN (callers set it).
mirror_https() {
	SSL_CERT_FILE=$PKI/origin-ca.crt "$MIRROR" --token-env GATE_TOKEN "$@"
}

mkdir -p "$PKI"
"$TEST_ROOT/scripts/make-demo-pki.sh" "$PKI"
upstream_create repo
UP=$UPSTREAMS/repo.git
https_start

test_expect_success 'the token from the environment fetches the mirror' '
	: >"$LOG" &&
	GATE_TOKEN=$TOKEN mirror_https refresh "$M" "$URL" >out 2>err &&
	test "$(cat out)" = fetched &&
	refs_of "$UP" >want &&
	refs_of "$M" >have &&
	diff -u want have &&
	grep -q " good$" "$LOG"
'

test_expect_success 'the token is nowhere in the mirror' '
	! grep -rqF "$TOKEN" "$M"
'

test_expect_success 'a push is forwarded with the token' '
	agent_commit "$M" x &&
	GATE_TOKEN=$TOKEN mirror_https forward "$M" "$URL" "$AGENT_OLD" "$AGENT_NEW" \
		refs/heads/trunk >out 2>err &&
	grep -qx "ok refs/heads/trunk" out &&
	test "$(git -C "$UP" rev-parse trunk)" = "$AGENT_NEW" &&
	! grep -qF "$TOKEN" out err
'

test_expect_success 'a wrong token is offered once and the error names the variable, not a value' '
	: >"$LOG" &&
	! GATE_TOKEN=wrong-$TOKEN mirror_https refresh wrong.git "$URL" >out 2>err &&
	grep -q "failed (the upstream refused the token in \$GATE_TOKEN); no mirror to serve yet" err &&
	test "$(grep -c " bad$" "$LOG")" = 1 &&
	! grep -qF "$TOKEN" out err
'

test_expect_success 'a wrong token on a push fails it as unreachable, with the reason' '
	new=$(git -C "$UP" rev-parse trunk) &&
	! GATE_TOKEN=nope mirror_https forward "$M" "$URL" - "$new" refs/heads/other >out 2>err &&
	grep -q "cannot reach the upstream $URL: the upstream refused the token in \$GATE_TOKEN" err
'

test_expect_success 'an unset token variable is named' '
	! env -u GATE_TOKEN SSL_CERT_FILE=$PKI/origin-ca.crt "$MIRROR" --token-env GATE_TOKEN \
		refresh unset.git "$URL" >out 2>err &&
	grep -q "\$GATE_TOKEN is empty or not set: no token for the upstream" err
'

test_expect_success 'no token configured: the refresh fails saying what to configure' '
	! SSL_CERT_FILE=$PKI/origin-ca.crt "$MIRROR" refresh none.git "$URL" >out 2>err &&
	grep -q "the upstream asks for credentials and none fits" err
'

test_expect_success 'a token in the URL is never printed' '
	! GATE_TOKEN=$TOKEN mirror_https refresh userinfo.git \
		"https://x-access-token:$TOKEN@localhost:$(free_port)/repo.git" >out 2>err &&
	grep -q "fetch from https://localhost:[0-9]*/repo.git failed" err &&
	! grep -qF "$TOKEN" out err
'

test_expect_success 'a certificate from a CA not trusted is refused' '
	! GATE_TOKEN=$TOKEN SSL_CERT_FILE=$PKI/ca.crt "$MIRROR" --token-env GATE_TOKEN \
		refresh untrusted.git "$URL" >out 2>err &&
	grep -q "failed (the SSL certificate is invalid" err &&
	test ! -e untrusted.git/refs/heads/trunk
'

test_expect_success 'forced refreshes at once: one fetch, the others take its result' '
	kill "$HTTPS_PID" &&
	wait_for 10 "! ss -Htln \"sport = :$HTTPS_PORT\" | grep -q ." &&
	https_start --hold "$TEST_DIR/release" &&
	upstream_commit repo moved &&
	git -C "$TEST_SCRATCH/work/repo" push -q -f "$UP" HEAD:refs/heads/moved &&
	: >"$LOG" &&
	{ GATE_TOKEN=$TOKEN mirror_https refresh "$M" "$URL" parallel:4 >out 2>err & } &&
	pid=$! &&
	wait_for 30 "test \"\$(grep -c calling out)\" = 4 && grep -q held \"$LOG\"" &&
	touch release &&
	wait $pid &&
	grep -qx "parallel: 4 ok" out &&
	test "$(grep -c "^GET /repo.git/info/refs good" "$LOG")" = 1 &&
	test "$(grep -c "^POST /repo.git/git-upload-pack good" "$LOG")" = 1 &&
	test "$(git -C "$M" rev-parse moved)" = "$(git -C "$UP" rev-parse moved)"
'

test_done

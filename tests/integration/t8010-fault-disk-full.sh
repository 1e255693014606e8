#!/usr/bin/env bash
# The queue's disk is full (a 256 KiB tmpfs, filled): a proposal cannot be
# written, and what needed one fails closed with a reason that says so: a
# request egress would hold for the operator is refused (403/503) and
# never reaches the origin, and supervise's egress-allow is a tool error.
# No half-written proposal is left behind, and once space is back both
# work again.
. "$(dirname "$0")/egress-lib.sh"
. "$TEST_ROOT/tests/integration/supervise/lib.sh"
test_skip_unless jq
test_skip_unless mount
[ "$(id -u)" = 0 ] || { echo "# skip $TEST_NAME: mounting a tmpfs needs root"; exit 0; }

ROOT=$TEST_SCRATCH/queue
QUEUE=$ROOT/dev
SECRET=fullK3y$(openssl rand -hex 16)
export DLP_FULL_SECRET=$SECRET
SV_BASE=http://127.0.0.1:$SV_PORT/mcp

unmount_queue() {
	umount "$ROOT" 2>/dev/null
	return 0
}

test_expect_success 'set up a 256 KiB queue disk, the origin, egress and supervise' '
	mkdir -p "$ROOT" &&
	mount -t tmpfs -o size=256k tmpfs "$ROOT" &&
	mkdir -p "$QUEUE" &&
	egress_pki &&
	{
		printf "log: all\nroutes:\n"
		egress_route "$TLS_PORT" "$HTTP_PORT"
	} >"$TEST_SCRATCH/routes.yaml" &&
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	egress_start "$TEST_SCRATCH/routes.yaml" --queue "$QUEUE" --secret-env DLP_FULL_SECRET \
		--hold-timeout 5s &&
	{ "$SIDECAR" supervise --listen "127.0.0.1:$SV_PORT" --queue "$QUEUE" --bottle dev \
		--routes "$TEST_SCRATCH/routes.yaml" --egress-proxy "127.0.0.1:$EGRESS_PORT" \
		--reload-command "kill -HUP $(cat "$EGRESS_DIR/pid")" --approval-timeout 5s \
		>"$TEST_SCRATCH/supervise.log" 2>&1 &
	  echo $! >>"$TEST_SCRATCH/pids"; } &&
	wait_for 10 "grep -qs listening $TEST_SCRATCH/supervise.log"
'
test_at_exit unmount_queue

test_expect_success 'fill the queue disk' '
	! dd if=/dev/zero of="$ROOT/filler" bs=4k 2>dd.err &&
	grep -q "No space left on device" dd.err &&
	df "$ROOT" && cat dd.err && test "$(df --output=avail "$ROOT" | tail -n 1 | tr -d " ")" = 0
'

test_expect_success 'a request egress would hold is refused with a reason, never sent' '
	code=$(egress_curl -o body -w "%{http_code}" "https://localhost:$TLS_PORT/full?key=$SECRET") &&
	cat body &&
	case "$code" in 403|503) ;; *) false ;; esac &&
	grep -q "the proposal to the operator could not be written: .*No space left on device" body &&
	grep -q "cannot write the proposal: .*No space left on device" "$EGRESS_DIR/stderr" &&
	! grep -q "/full" "$TEST_SCRATCH/origin-o/requests" &&
	grep "\"path\":\"/full\"" "$EGRESS_DIR/stdout" | grep -q "\"decision\":\"deny\"\|\"decision\":\"error\""
'

mcp_session() {
	curl -s -D - -o /dev/null -X POST "$SV_BASE" -H "content-type: application/json" \
		-H "accept: application/json, text/event-stream" --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}" |
		tr -d "\r" | sed -n "s/^[Mm]cp-[Ss]ession-[Ii]d: //p"
}

# egress_allow SESSION HOST: call the tool; prints the answer.
egress_allow() {
	curl -s --max-time 30 -X POST "$SV_BASE" -H "content-type: application/json" \
		-H "accept: application/json, text/event-stream" -H "mcp-session-id: $1" \
		-H "mcp-protocol-version: 2025-11-25" --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":{\"routes_yaml\":\"log: all\\nroutes:\\n  - host: $2\\n    ports: [443]\\n\",\"justification\":\"disk full test\"}}}"
}

test_expect_success 'egress-allow is a tool error; supervise logs the cause' '
	sid=$(mcp_session) && test -n "$sid" &&
	egress_allow "$sid" full.test >answer &&
	cat answer &&
	grep -q "\"isError\":true" answer &&
	grep -q "the supervise queue is unavailable" answer &&
	grep -q "cannot queue a proposal: .*No space left on device" "$TEST_SCRATCH/supervise.log" &&
	! grep -q full.test "$TEST_SCRATCH/routes.yaml"
'

test_expect_success 'no proposal was left half-written' '
	find "$QUEUE" -type f -name "*.json" >files &&
	while read -r f; do jq -e . "$f" >/dev/null || { echo "half-written: $f"; exit 1; }; done <files &&
	! find "$QUEUE" -type f -size 0 | grep -q .
'

test_expect_success 'with space back, the same request is proposed (and times out unanswered)' '
	rm "$ROOT/filler" &&
	code=$(egress_curl -o body -w "%{http_code}" "https://localhost:$TLS_PORT/after?key=$SECRET") &&
	test "$code" = 403 &&
	grep -q "proposal" body &&
	test "$(ls "$QUEUE/pending" | wc -l)" -ge 1 &&
	for f in "$QUEUE"/pending/*.json; do jq -e . "$f" >/dev/null || exit 1; done
'

test_expect_success 'with space back, egress-allow makes its proposal' '
	sid=$(mcp_session) && test -n "$sid" &&
	before=$(ls "$QUEUE/pending" | wc -l) &&
	egress_allow "$sid" back.test >answer &&
	cat answer &&
	test "$(ls "$QUEUE/pending" | wc -l)" -gt "$before" &&
	egress_alive
'

test_done

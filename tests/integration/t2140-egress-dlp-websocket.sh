#!/usr/bin/env bash
# DLP on websocket frames from the agent: each message (one frame or many
# fragments) is scanned before any of it goes on.  A finding closes the
# websocket with 1008 under block and redact (a frame is not redacted),
# the canary under every policy; under supervise the message waits for the
# operator.  Ordinary messages echo as before.
. "$(dirname "$0")/egress-dlp-lib.sh"

HOST=$BUILD/bottle-host
ROOT=$TEST_SCRATCH/queue
QUEUE=$ROOT/dev
sv() { "$HOST" supervise --queue-root "$ROOT" "$@"; }

test_expect_success 'set up the PKI, the origin and egress with the queue' '
	mkdir -p "$QUEUE" &&
	dlp_setup --queue "$QUEUE" --hold-timeout 120s
'

# ws PATH TEXT [ARGS]: a wss:// message through egress; prints the echo.
ws() {
	egress_node ws --url "wss://localhost:$TLS_PORT$1" --text "$2" "${@:3}"
}

test_expect_success 'an ordinary message echoes, whole or in fragments' '
	test "$(ws /b/ws "hello there")" = "hello there" &&
	test "$(ws /b/ws "hello in three parts" --split 3)" = "hello i" &&
	grep -q "hello in three parts" "$TEST_SCRATCH/origin-o/frames"
'

# closed PATH TEXT [ARGS]: egress closed the websocket with its reason and
# the text never reached the origin.
closed() {
	! ws "$1" "$2" "${@:3}" >out.txt 2>err.txt &&
	grep -q "closed: egress: dlp" err.txt &&
	! grep -qF "$2" "$TEST_SCRATCH/origin-o/frames"
}

test_expect_success 'block: the secret in a frame closes the socket' '
	closed /b/ws "key=$SECRET"
'
test_expect_success 'block: the secret across fragments' '
	closed /b/ws "k=$SECRET end" --split 4
'
test_expect_success 'block: the secret base64d, and dashed' '
	closed /b/ws "$(b64 "$SECRET")" &&
	closed /b/ws "$(dashed "$SECRET")"
'
test_expect_success 'redact is block for frames' '
	closed /r/ws "key=$SECRET"
'
test_expect_success 'the canary closes the socket under supervise too' '
	closed /s/ws "c=$CANARY" &&
	test -z "$(ls "$QUEUE/pending")"
'

test_expect_success 'supervise: the message waits for the operator, then goes' '
	( ws /s/ws "held $SECRET" >held.txt 2>&1 ) &
	wait_for 30 "ls $QUEUE/pending | grep -q json" &&
	id=$(ls "$QUEUE/pending" | sed "s/\.json$//") &&
	! grep -qF "$SECRET" "$TEST_SCRATCH/origin-o/frames" &&
	sv approve "$id" --note "fixture" &&
	wait_for 30 "test -s held.txt" &&
	test "$(cat held.txt)" = "held $SECRET"
'

test_expect_success 'the log names the finding, never the value' '
	grep -q "\"method\":\"WEBSOCKET\".*\"status\":1008" "$EGRESS_DIR/stdout" &&
	! grep -qF "$CANARY" "$EGRESS_DIR/stdout" "$EGRESS_DIR/stderr"
'

test_expect_success 'egress is still running' '
	egress_alive
'

test_done

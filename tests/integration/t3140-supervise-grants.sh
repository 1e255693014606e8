#!/usr/bin/env bash
# Bounded grants end to end: egress-allow asked through build/sidecar
# supervise (curl as the MCP client), approved with bounds by build/bottle-host
# supervise, enforced by build/sidecar egress with --queue: a grant of two
# requests lets two through and refuses the third with a 403 naming it, and
# an egress restart between them does not reset the count; a grant of 2 s
# refuses after it, and the route it changed is back as it was; a grant
# nobody uses still ends (the signal thread's tick); each end is recorded,
# goes into the audit log once through bottle-host supervise, and the log
# verifies.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise/lib.sh"

test_skip_unless curl
test_skip_unless openssl
test_skip_unless node
test_skip_unless jq
[ -x "$SIDECAR" ] || { echo "# skip $TEST_NAME: build/sidecar missing (make all)"; exit 0; }
[ -x "$HOST_CLI" ] || { echo "# skip $TEST_NAME: build/bottle-host missing (make all)"; exit 0; }

UP1=$(free_port)
UP2=$(free_port)
UP3=$(free_port)
GRANTS=$SV_QUEUE/grants
PIDS=$TEST_SCRATCH/pids
: >"$PIDS"
test_at_exit 'while read -r pid; do kill "$pid"; done <"$PIDS"'

# Three plain HTTP upstreams on loopback that echo the path they got.
node -e "for (const p of process.argv.slice(1))
	require('http').createServer((q, s) => s.end('upstream ' + p + ' got ' + q.url + '\n'))
		.listen(+p, '127.0.0.1')" "$UP1" "$UP2" "$UP3" &
echo $! >>"$PIDS"
wait_for 10 "curl -s http://127.0.0.1:$UP1/ >/dev/null"

route() { # PORT [KEY-LINE]: one loopback route as routes.yaml lines
	printf '  - host: 127.0.0.1\n    ports: [%s]\n    addresses: [127.0.0.1]\n' "$1"
	if [ -n "${2:-}" ]; then printf '    %s\n' "$2"; fi
}
{
	printf 'log: blocks\nroutes:\n  - host: example.com\n'
	route "$UP2" 'matches: [{path: /old}]'
} >"$TEST_SCRATCH/routes.in"

# egress with the queue, restartable: its pid is in a file the reload
# script reads.
start_egress() {
	"$SIDECAR" egress --listen "127.0.0.1:$SV_EGRESS_PORT" --routes "$SV_ROUTES" \
		--ca-cert "$TEST_SCRATCH/ca.crt" --ca-key "$TEST_SCRATCH/ca.key" \
		--queue "$SV_QUEUE" --bottle "$SV_BOTTLE" >>"$TEST_SCRATCH/egress.log" 2>&1 &
	echo $! >"$TEST_SCRATCH/egress.pid"
	echo $! >>"$PIDS"
	wait_for 10 "curl -s -o /dev/null -x http://127.0.0.1:$SV_EGRESS_PORT http://_egress.local/routes"
}
cp "$TEST_SCRATCH/routes.in" "$SV_ROUTES"
sv_make_ca
mkdir -p "$SV_QUEUE"
start_egress
printf '#!/bin/sh\nexec kill -HUP "$(cat %s)"\n' "$TEST_SCRATCH/egress.pid" >"$TEST_SCRATCH/reload"
chmod +x "$TEST_SCRATCH/reload"
SV_EGRESS_PID=0 sv_start_supervise --approval-timeout 60s --queue-poll 100ms \
	--reload-command "$TEST_SCRATCH/reload"
SID=$(sv_initialize)

through_egress() { # PORT PATH: prints the status; the body goes to ./body
	curl -s -o body -w '%{http_code}' -x "http://127.0.0.1:$SV_EGRESS_PORT" \
		"http://127.0.0.1:$1$2"
}

# ask ID-FILE ARGS-JSON: call egress-allow (SSE, in the background), wait
# for its proposal, write its id to ID-FILE; the answer goes to ID-FILE.out.
ask() {
	local before
	before=$(ls "$SV_QUEUE/pending" 2>/dev/null | sort)
	curl -s -N -X POST "$SV_URL" -H 'content-type: application/json' \
		-H 'accept: application/json, text/event-stream' -H "mcp-session-id: $SID" \
		-H 'mcp-protocol-version: 2025-11-25' --data-binary \
		"{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/call\",\"params\":{\"name\":\"egress-allow\",\"arguments\":$2}}" \
		>"$1.out" &
	echo $! >"$1.pid"
	wait_for 20 "[ \"\$(ls '$SV_QUEUE/pending' | sort)\" != \"$before\" ]"
	comm -13 <(echo "$before") <(ls "$SV_QUEUE/pending" | sort) | sed -n 's/\.json$//p' | head -1 >"$1"
	[ -s "$1" ]
}

# The live routes as YAML lines plus what follows (for a proposal).
live_plus() {
	jq -Rs . <<EOF
$(cat "$TEST_SCRATCH/routes.in")
$1
EOF
}

test_expect_success 'a grant of two requests: two pass, an egress restart keeps the count, the third is a 403 naming it' '
	[ "$(through_egress "$UP1" /a)" = 403 ]
	ask id1 "{\"routes_yaml\":$(live_plus "$(route "$UP1")"),\"justification\":\"two requests\",\"max_requests\":2}"
	id=$(cat id1)
	sv_operator approve "$id" --note "two only"
	wait "$(cat id1.pid)" || true
	cat id1.out
	grep -q "This is grant $id, on the 1 route it adds: egress allows them for 2 requests in all" id1.out
	grep -q "\"id\": \"$id\"" "$SV_ROUTES"
	[ "$(through_egress "$UP1" /a)" = 200 ]
	[ "$(cat "$GRANTS/$id.count")" = 1 ]
	kill "$(cat "$TEST_SCRATCH/egress.pid")"
	wait_for 10 "! kill -0 $(cat "$TEST_SCRATCH/egress.pid") 2>/dev/null"
	start_egress
	[ "$(through_egress "$UP1" /b)" = 200 ]
	grep -q "got /b" body
	code=$(through_egress "$UP1" /c)
	cat body
	[ "$code" = 403 ]
	grep -q "grant $id on the route for 127.0.0.1 .* has ended: its 2 requests (max_requests) are used; ask the operator again with the egress-allow tool" body
	jq -e ".id == \"$id\" and .reason == \"max_requests\" and .requests == 2" "$GRANTS/$id.ended.json"
	grep -q "grant $id ended: max_requests after 2 requests" "$TEST_SCRATCH/egress.log"
'

test_expect_success 'list-egress-routes shows the grant and its state' '
	out=$(sv_post "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"tools/call\",\"params\":{\"name\":\"list-egress-routes\",\"arguments\":{}}}" "mcp-session-id: $SID" "mcp-protocol-version: 2025-11-25")
	echo "$out"
	echo "$out" | tr -d "\\\\" | grep -q "\"max_requests\":2,\"state\":\"ended: max_requests used\",\"requests_used\":2}"
'

test_expect_success 'a grant of 2 s on a changed route: after it, the new access is a 403 and the old route is back' '
	cp "$SV_ROUTES" live.yaml
	[ "$(through_egress "$UP2" /new)" = 403 ]
	[ "$(through_egress "$UP2" /old)" = 200 ]
	# The proposal: the live file with the /old route widened to any path.
	jq ".routes |= map(if .ports == [$UP2] then del(.matches) else . end)" live.yaml >proposed.json
	ask id2 "{\"routes_yaml\":$(jq -Rs . proposed.json),\"justification\":\"a short while\",\"expires_in\":2}"
	id=$(cat id2)
	sv_operator approve "$id"
	wait "$(cat id2.pid)" || true
	cat id2.out "$SV_ROUTES"
	grep -q "This is grant $id, on the 1 route it adds: egress allows them until 20" id2.out
	# The bounded route first, the one it changed kept after it.
	jq -e ".routes[] | select(.ports == [$UP2])" "$SV_ROUTES" >both
	jq -se "length == 2 and (.[0].grant.id == \"$id\") and (.[1].matches == [{\"path\":\"/old\"}]) and (.[1].grant == null)" both
	[ "$(through_egress "$UP2" /new)" = 200 ]
	sleep 3
	code=$(through_egress "$UP2" /new)
	cat body
	[ "$code" = 403 ]
	grep -q "grant $id on the route for 127.0.0.1 .* has ended: it expired at " body
	[ "$(through_egress "$UP2" /old)" = 200 ]
	jq -e ".reason == \"expired\" and .requests == 1" "$GRANTS/$id.ended.json"
'

test_expect_success 'a grant nobody uses still ends: egress records it on its own' '
	jq ".routes = [{host: \"127.0.0.1\", ports: [$UP3], addresses: [\"127.0.0.1\"]}] + .routes" "$SV_ROUTES" >proposed.json
	ask id3 "{\"routes_yaml\":$(jq -Rs . proposed.json),\"justification\":\"unused\",\"expires_in\":3}"
	id=$(cat id3)
	sv_operator approve "$id"
	wait "$(cat id3.pid)" || true
	cat id3.out
	grep -q "This is grant $id" id3.out
	wait_for 20 "test -f $GRANTS/$id.ended.json"
	jq -e ".reason == \"expired\" and .requests == 0" "$GRANTS/$id.ended.json"
'

test_expect_success 'bottle-host supervise logs each end once, lists them, and the log verifies' '
	sv_operator list >out
	cat out
	grep -q "^ENDED GRANT" out
	grep -q "^$(cat ../1/id1) *$SV_BOTTLE *max_requests .* 2 requests" out
	grep -q "^$(cat ../3/id2) *$SV_BOTTLE *expired " out
	[ "$(grep -c "\"event\":\"grant-ended\"" "$SV_QUEUE_ROOT/audit.log")" = 3 ]
	grep "\"event\":\"grant-ended\"" "$SV_QUEUE_ROOT/audit.log" | head -1 | jq -e ".bottle == \"$SV_BOTTLE\""
	test -f "$GRANTS/$(cat ../1/id1).logged"
	sv_operator list >/dev/null
	[ "$(grep -c "\"event\":\"grant-ended\"" "$SV_QUEUE_ROOT/audit.log")" = 3 ]
	sv_operator verify-log
	# An edited grant-ended entry breaks the chain.
	sed -i "s/\"requests\":2/\"requests\":9/" "$SV_QUEUE_ROOT/audit.log"
	! sv_operator verify-log
'

test_done

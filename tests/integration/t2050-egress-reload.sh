#!/usr/bin/env bash
# SIGHUP reloads egress's routes: a good file swaps the table (egress says
# so on --ready-fd) and new requests follow it, a broken file is rejected
# with its file:line and the old table stays, and a download in flight
# across both reloads finishes whole even though the new table would deny
# it.
. "$(dirname "$0")/egress-lib.sh"

ROUTES=$TEST_SCRATCH/routes.yaml

# write_routes PREFIX...: a route for the origin allowing those prefixes.
write_routes() {
	{
		printf "log: all\nroutes:\n" && egress_route "$TLS_PORT" && echo "    matches:"
		for prefix; do
			printf "      - path_prefix: %s\n" "$prefix"
		done
	} >"$ROUTES.new" && mv "$ROUTES.new" "$ROUTES"
}

code_of() {
	egress_curl -o /dev/null -w "%{http_code}\n" "https://localhost:$TLS_PORT$1"
}

test_expect_success 'set up the PKI, the origin and egress allowing /v1 and /slow' '
	egress_pki &&
	write_routes /v1 /slow &&
	origin_start o --tls-port "$TLS_PORT" --cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	egress_start "$ROUTES" &&
	test "$(code_of /v1/a)" = 200 &&
	test "$(code_of /v2/a)" = 403
'

test_expect_success 'a slow download starts and holds part of its body' '
	(
		curl -sS --fail --max-time 60 --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$PKI/ca.crt" \
			"https://localhost:$TLS_PORT/slow/download" -o "$TEST_SCRATCH/slow.bin" &
		echo $! >>"$TEST_SCRATCH/pids"
		wait $!
		echo $? >"$TEST_SCRATCH/slow.rc"
	) >/dev/null 2>&1 &
	wait_for 10 "test \$(stat -c %s $TEST_SCRATCH/slow.bin 2>/dev/null || echo 0) -ge 16384" &&
	test ! -f "$TEST_SCRATCH/slow.rc"
'

# The origin holds /slow/* after its first 64 KiB until released: these
# clients give up while egress waits on a silent upstream.
test_expect_success 'clients that give up on a silent upstream free their connections' '
	before=$(egress_threads) &&
	for i in 1 2 3; do
		egress_curl --max-time 1 "https://localhost:$TLS_PORT/slow/abandoned-$i" -o /dev/null &
	done 2>/dev/null &&
	wait_for 10 "test \$(grep -c \"the client went away\" $EGRESS_DIR/stdout) = 3" &&
	wait_for 10 "test \$(egress_threads) -le $before"
'

# A thread whose connection ended waits a moment for the next one
# (sidecar/egress/workers.c): at most 8 wait, none for long, and they serve
# later connections.
test_expect_success 'connection threads: a burst leaves at most 8 waiting, then none; later connections reuse them' '
	pids="" &&
	for i in $(seq 1 20); do
		egress_curl -o /dev/null "https://localhost:$TLS_PORT/v1/many-$i" &
		pids="$pids $!"
	done &&
	for i in 1 2 3 4 5 6 7 8 9 10; do
		spare=$(egress_stat connections.spare_threads) && test "$spare" -le 8 || return 1
	done &&
	wait $pids &&
	test "$(origin_requests o | grep -c "^GET /v1/many-")" = 20 &&
	wait_for 10 "test \$(egress_stat connections.spare_threads) = 0" &&
	reused_before=$(egress_stat connections.threads_reused) &&
	for i in 1 2 3 4 5; do
		test "$(code_of "/v1/again-$i")" = 200 || return 1
	done &&
	test "$(egress_stat connections.threads_reused)" -gt "$reused_before"
'

test_expect_success 'SIGHUP with a good file swaps the routes for new requests' '
	pid_before=$(cat "$EGRESS_DIR/pid") &&
	write_routes /v2 &&
	egress_reload &&
	test "$(code_of /v2/b)" = 200 &&
	test "$(code_of /v1/b)" = 403 &&
	test "$(code_of /slow/again)" = 403 &&
	egress_alive &&
	test "$(cat "$EGRESS_DIR/pid")" = "$pid_before" &&
	! origin_requests o | grep -Eq "/v1/b|/slow/again"
'

test_expect_success 'a keep-alive connection from before the reload follows the new routes' '
	write_routes /v2 /v4 &&
	egress_reload &&
	mkfifo requests
	egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet <requests >out.txt 2>err.txt &
	exec 7>requests &&
	printf "GET /v4/before HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\n\r\n" >&7 &&
	wait_for 10 "grep -q \"^HTTP/1.1 200 \" out.txt" &&
	write_routes /v2 &&
	egress_reload &&
	printf "GET /v4/after HTTP/1.1\r\nHost: localhost:$TLS_PORT\r\n\r\n" >&7 &&
	exec 7>&- &&
	wait &&
	grep -q "^HTTP/1.1 403 " out.txt &&
	grep -q "does not allow GET /v4/after" out.txt &&
	origin_requests o | grep -qx "GET /v4/before" &&
	! origin_requests o | grep -q "/v4/after"
'

test_expect_success 'node and openssl follow the new routes too' '
	egress_node request --url "https://localhost:$TLS_PORT/v2/node" >ok.json &&
	grep -q "\"status\":200" ok.json &&
	egress_node request --url "https://localhost:$TLS_PORT/v1/node" >denied.json &&
	grep -q "\"status\":403" denied.json &&
	egress_s_get "$TLS_PORT" /v2/openssl >out.txt &&
	grep -q "^HTTP/1.1 200 " out.txt
'

test_expect_success 'a broken file is rejected with its line and the old routes stay' '
	lines_before=$(wc -l <"$EGRESS_DIR/ready") &&
	printf "log: all\nroutes:\n  - hots: localhost\n" >"$ROUTES" &&
	kill -HUP "$(cat "$EGRESS_DIR/pid")" &&
	wait_for 10 "grep -q \"reload rejected\" $EGRESS_DIR/stderr" &&
	grep "reload rejected" "$EGRESS_DIR/stderr" | grep -q "routes.yaml:3:" &&
	test "$(wc -l <"$EGRESS_DIR/ready")" = "$lines_before" &&
	test "$(code_of /v2/c)" = 200 &&
	test "$(code_of /v1/c)" = 403
'

test_expect_success 'the download in flight across both reloads finishes whole' '
	test ! -f "$TEST_SCRATCH/slow.rc" &&
	touch "$TEST_SCRATCH/origin-o/release" &&
	wait_for 20 "test -f $TEST_SCRATCH/slow.rc" &&
	test "$(cat "$TEST_SCRATCH/slow.rc")" = 0 &&
	test "$(stat -c %s "$TEST_SCRATCH/slow.bin")" = 131072 &&
	test "$(grep -c "^GET /slow/download$" "$TEST_SCRATCH/origin-o/requests")" = 1
'

test_expect_success 'a later good file loads again' '
	write_routes /v3 &&
	egress_reload &&
	test "$(code_of /v3/d)" = 200 &&
	test "$(code_of /v2/d)" = 403
'

test_expect_success 'the introspection endpoint shows the live routes' '
	egress_curl --fail http://_egress.local/routes -o routes.json &&
	grep -q "\"matches\":\[{\"path_prefix\":\"/v3\"}\]" routes.json &&
	! grep -q "/v2" routes.json
'

test_expect_success 'egress is still running' 'egress_alive'

test_done

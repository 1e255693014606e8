#!/usr/bin/env bash
# Slow and many clients against egress: slowloris heads and bodies are cut
# at --io-timeout with a 408, counted and logged once each, and their
# threads end; a connection cap answers a clear 503, counts each refusal
# and logs one line for the flood; 10,000 connections at once meet the
# default cap without a crash or running out of descriptors, and egress
# gives every thread and descriptor back afterwards.
. "$(dirname "$0")/hostile-lib.sh"
# The 10,000-connection flood holds that many sockets in flood.py.
ulimit -n 12000 2>/dev/null

test_expect_success 'set up egress with a 2s I/O timeout and a cap of 50' '
	hostile_setup --io-timeout 2s --idle-timeout 3s --max-connections 50
'

test_expect_success 'egress idles with its base threads and descriptors' '
	sleep 1 &&
	egress_threads >"$TEST_SCRATCH/base-threads" &&
	egress_fds >"$TEST_SCRATCH/base-fds" &&
	test "$(cat "$TEST_SCRATCH/base-threads")" -le 3
'

# slow COUNT SEND TRICKLE: COUNT connections that send SEND, then one byte
# every TRICKLE seconds; prints flood.py's summary once egress closed them.
slow() {
	python3 "$FLOOD" --port "$EGRESS_PORT" --count "$1" --send "$2" --trickle "$3" --hold 30
}

test_expect_success 'a slowloris head (a byte every 0.3s) is cut at 2s with a 408' '
	before=$(egress_stats) &&
	lines=$(wc -l <"$EGRESS_DIR/stdout") &&
	slow 1 "GET http://localhost:$HTTP_PORT/slow-head HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\nX-A: " 0.3 >flood.json &&
	jq -e ".statuses[\"408\"] == 1" flood.json &&
	jq -r ".answers[\"408\"]" flood.json | grep -qx "egress: the request head did not arrive in time" &&
	after=$(egress_stats) &&
	test "$(jq -n --argjson a "$after" --argjson b "$before" "\$a.rejected.head_timeout - \$b.rejected.head_timeout")" = 1 &&
	test "$(wc -l <"$EGRESS_DIR/stdout")" = $((lines + 1)) &&
	tail -n 1 "$EGRESS_DIR/stdout" | grep -q "\"status\":408,"
'

test_expect_success '40 slowloris heads at once are each cut, counted and logged once' '
	before=$(egress_stat rejected.head_timeout) &&
	lines=$(wc -l <"$EGRESS_DIR/stdout") &&
	slow 40 "GET http://localhost:$HTTP_PORT/slow-many HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\nX-A: " 0.3 >flood.json &&
	jq -e ".statuses[\"408\"] == 40" flood.json &&
	test "$(egress_stat rejected.head_timeout)" = $((before + 40)) &&
	test "$(wc -l <"$EGRESS_DIR/stdout")" = $((lines + 40)) &&
	egress_settled "$(cat "$TEST_SCRATCH/base-threads")"
'

test_expect_success 'a connection that never sends is closed at the idle timeout, silently' '
	python3 "$FLOOD" --port "$EGRESS_PORT" --count 5 --hold 30 >flood.json &&
	jq -e ".closed_silently == 5" flood.json
'

# A body that stops: the held path (DLP reads it whole first) and the
# streamed path (forwarded as it comes) both give up at --io-timeout.
test_expect_success 'a held body that stalls is cut at 2s with a 408' '
	attack body_timeout 408 send_then_stall \
		"POST http://localhost:$HTTP_PORT/upload/held HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\nContent-Length: 100\r\n\r\n0123456789" &&
	grep -q "request body stalled" answer.txt
'

test_expect_success 'a streamed body that stalls is cut at 2s with a 408' '
	attack body_timeout 408 send_then_stall \
		"POST http://localhost:$STREAM_PORT/upload/streamed HTTP/1.1\r\nHost: localhost:$STREAM_PORT\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n" &&
	! grep -q "^complete /upload/streamed" "$TEST_SCRATCH/origin-s/requests"
'

test_expect_success 'threads and descriptors are back to their base' '
	egress_settled "$(cat "$TEST_SCRATCH/base-threads")" &&
	wait_for 10 "test \$(egress_fds) -le $(cat "$TEST_SCRATCH/base-fds")"
'

test_expect_success 'over the cap of 50, connections get a clear 503 and are counted' '
	before=$(egress_stat connections.refused) &&
	err=$(wc -l <"$EGRESS_DIR/stderr") &&
	python3 "$FLOOD" --port "$EGRESS_PORT" --count 70 --hold 1.5 \
		--send "GET http://localhost:$HTTP_PORT/held HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\n" >flood.json &&
	cat flood.json &&
	jq -e ".statuses[\"503\"] == 20 and .open == 50" flood.json &&
	jq -r ".answers[\"503\"]" flood.json | grep -qx "egress: too many connections at once; retry in a moment" &&
	test "$(egress_stat connections.refused)" = $((before + 20)) &&
	test "$(wc -l <"$EGRESS_DIR/stderr")" = $((err + 1)) &&
	tail -n 1 "$EGRESS_DIR/stderr" | grep -q "at the connection cap (--max-connections 50): new connections get a 503"
'

test_expect_success 'below the cap again, requests pass' '
	wait_for 10 "egress_curl --fail -o /dev/null https://localhost:$TLS_PORT/after-cap"
'

test_expect_success 'restart egress with the default cap (4096)' '
	kill "$(cat "$EGRESS_DIR/pid")" &&
	wait_for 10 "! kill -0 $(cat "$EGRESS_DIR/pid") 2>/dev/null" &&
	egress_start "$TEST_SCRATCH/routes.yaml" --io-timeout 60s &&
	sleep 1 &&
	egress_threads >"$TEST_SCRATCH/base-threads" &&
	egress_fds >"$TEST_SCRATCH/base-fds" &&
	test "$(egress_stat connections.max)" = 4096
'

# Egress is at its cap while the flood holds: even the stats request would
# get the 503, so the counters are read once the flood let go.
test_expect_success '10,000 connections at once: 4096 served, the rest a 503, no crash' '
	test "$(ulimit -n)" -ge 12000 || { echo "needs ulimit -n 12000 (the hard limit is lower)"; false; }
	refused=$(egress_stat connections.refused)
	python3 "$FLOOD" --port "$EGRESS_PORT" --count 10000 --hold 60 \
		--ready-file "$TEST_SCRATCH/flood-ready" --hold-file "$TEST_SCRATCH/flood-release" \
		--send "GET http://localhost:$HTTP_PORT/many HTTP/1.1\r\nHost: localhost:$HTTP_PORT\r\n" \
		>flood.json &
	flood=$! &&
	wait_for 60 "test -f $TEST_SCRATCH/flood-ready" &&
	sleep 1 &&
	fds=$(egress_fds) &&
	threads=$(egress_threads) &&
	egress_raw </dev/null >busy.txt &&
	touch "$TEST_SCRATCH/flood-release" &&
	wait "$flood" &&
	cat flood.json && echo "fds $fds threads $threads" &&
	jq -e ".connections == 10000 and .connect_failed == 0" flood.json &&
	jq -e ".open == 4096 and .statuses[\"503\"] == 5904" flood.json &&
	head -n 1 busy.txt | grep -q "^HTTP/1.1 503 " &&
	test "$(egress_stat connections.refused)" = $((refused + 5904 + 1)) &&
	test "$fds" -le $((4096 + $(cat "$TEST_SCRATCH/base-fds"))) &&
	test "$threads" -le $((4096 + $(cat "$TEST_SCRATCH/base-threads"))) &&
	egress_alive
'

test_expect_success 'after the flood: threads, descriptors and requests are back' '
	egress_settled "$(cat "$TEST_SCRATCH/base-threads")" &&
	wait_for 10 "test \$(egress_fds) -le $(cat "$TEST_SCRATCH/base-fds")" &&
	test "$(egress_stat connections.open)" = 1 &&
	egress_curl --fail -o /dev/null "https://localhost:$TLS_PORT/after-flood" &&
	egress_alive
'

test_done

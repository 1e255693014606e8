#!/usr/bin/env bash
# Faults around a request through egress, while other requests flow: the
# upstream resets mid-body, stalls before its head or in its body (cut at
# --upstream-timeout), the agent gives up mid-upload and mid-download.
# Each fails only its own request, with a reason in the log, and afterwards
# egress holds no more descriptors or threads than before and its resident
# memory is back near where it was.
. "$(dirname "$0")/hostile-lib.sh"

UP_PORT=$(free_port)
UP_DIR=$TEST_SCRATCH/upstream
UP=http://localhost:$UP_PORT

egress_rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$(cat "$EGRESS_DIR/pid")/status"
}

test_expect_success 'set up a failing upstream and egress with 2s timeouts' '
	egress_pki &&
	{
		printf "log: blocks\nroutes:\n"
		egress_route "$UP_PORT"
		printf "    outbound_on_match: block\n"
	} >"$TEST_SCRATCH/routes.yaml" &&
	mkdir -p "$UP_DIR" &&
	{ node "$TEST_ROOT/tests/integration/hostile/fault-upstream.js" --port "$UP_PORT" --dir "$UP_DIR" \
		>"$UP_DIR/out" 2>&1 & echo $! >>"$TEST_SCRATCH/pids"; } &&
	wait_for 10 "test -f $UP_DIR/ready" &&
	egress_start "$TEST_SCRATCH/routes.yaml" --io-timeout 2s --upstream-timeout 2s --upstream-pool 0 &&
	head -c 32M /dev/zero >"$TEST_SCRATCH/big"
'

# Every kind of request once, so that the base is taken with the code
# paths and allocator pools warm.
test_expect_success 'warm up, settle and take the base' '
	for i in 1 2 3; do
		egress_curl --fail -o /dev/null "$UP/warm" &&
		egress_curl --fail -o /dev/null -T "$TEST_SCRATCH/big" "$UP/upload/warm" &&
		egress_curl --fail -o /dev/null "$UP/download/warm" || exit 1
	done &&
	sleep 2 &&
	egress_threads >base-threads && egress_fds >base-fds && egress_rss_kb >base-rss &&
	cp base-* "$TEST_SCRATCH/" &&
	cat base-threads base-fds base-rss
'

# Traffic that must keep flowing through every fault below.
test_expect_success 'start background traffic' '
	( while test ! -f "$TEST_SCRATCH/stop"; do
		if egress_curl --fail -o /dev/null "$UP/background"; then echo ok; else echo fail; fi
		sleep 0.1
	  done >"$TEST_SCRATCH/background" 2>&1 ) &
	echo $! >>"$TEST_SCRATCH/pids" &&
	wait_for 10 "grep -q ok $TEST_SCRATCH/background"
'

test_expect_success 'an upstream reset mid-body cuts only that response' '
	for i in 1 2 3 4 5; do
		! egress_curl --fail -o body "$UP/reset/$i" 2>err || exit 1
		test "$(wc -c <body)" -lt 1048576 || exit 1
	done &&
	grep -q "\"path\":\"/reset/5\".*response relay failed" "$EGRESS_DIR/stdout"
'

test_expect_success 'an upstream that never answers is a 504 after the upstream timeout' '
	for i in 1 2 3; do
		egress_curl -o body -w "%{http_code}\n" "$UP/stall-head/$i" >code &&
		grep -qx 504 code &&
		grep -qx "egress: upstream localhost:$UP_PORT sent no response within 2s" body || exit 1
	done
'

test_expect_success 'an upstream that stalls mid-body is cut after the upstream timeout' '
	for i in 1 2 3; do
		! egress_curl --fail -o body "$UP/stall-body/$i" 2>err || exit 1
		test "$(wc -c <body)" = 65536 || exit 1
	done
'

test_expect_success 'an agent that gives up mid-upload frees the request' '
	for i in 1 2 3 4 5; do
		! egress_curl --max-time 1 --limit-rate 4M -o /dev/null -T "$TEST_SCRATCH/big" "$UP/upload/cut-$i" \
			2>/dev/null || exit 1
	done &&
	! grep -q "cut-" "$UP_DIR/uploads"
'

test_expect_success 'an agent that gives up mid-download frees the request' '
	for i in 1 2 3 4 5; do
		! egress_curl --max-time 1 --limit-rate 4M -o /dev/null "$UP/download/cut-$i" 2>/dev/null ||
			exit 1
	done
'

test_expect_success 'the same faults, twenty at once' '
	for i in $(seq 20); do
		egress_curl -o /dev/null "$UP/reset/many-$i" 2>/dev/null &
		egress_curl -o /dev/null "$UP/stall-head/many-$i" 2>/dev/null &
		egress_curl --max-time 1 --limit-rate 2M -o /dev/null "$UP/download/many-$i" 2>/dev/null &
		egress_curl --max-time 1 --limit-rate 2M -o /dev/null -T "$TEST_SCRATCH/big" \
			"$UP/upload/many-$i" 2>/dev/null &
	done
	wait
'

test_expect_success 'the background traffic never failed' '
	touch "$TEST_SCRATCH/stop" &&
	sleep 0.5 &&
	test "$(grep -c ok "$TEST_SCRATCH/background")" -gt 10 &&
	! grep -v "^ok$" "$TEST_SCRATCH/background"
'

test_expect_success 'threads, descriptors and memory are back to the base' '
	egress_settled "$(cat "$TEST_SCRATCH/base-threads")" &&
	wait_for 10 "test \$(egress_fds) -le $(cat "$TEST_SCRATCH/base-fds")" &&
	sleep 2 &&
	rss=$(egress_rss_kb) && base=$(cat "$TEST_SCRATCH/base-rss") &&
	echo "$base $rss" >"$TEST_SCRATCH/rss" &&
	{ test_sanitized || test "$rss" -le $((base + base / 2 + 1024)); } &&
	egress_alive
'

read -r base rss <"$TEST_SCRATCH/rss" 2>/dev/null &&
	echo "# egress VmRSS: base $base kB, after the faults $rss kB"
test_done

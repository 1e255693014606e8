# Shared setup for the hostile-client tests (t81NN-hostile-*.sh): egress
# from egress-lib.sh with two routes to one Node origin (one whose bodies
# DLP holds, one whose bodies stream), and `attack`, which proves one hostile
# request was refused with its status, counted once under its reason and
# logged in one line.
. "$(dirname "${BASH_SOURCE[0]}")/egress-lib.sh"
test_skip_unless jq
test_skip_unless python3

FLOOD=$TEST_ROOT/tests/integration/hostile/flood.py
# The origin's plain port whose route streams bodies (outbound_on_match:
# block); $HTTP_PORT's route holds them for DLP (supervise, the default).
STREAM_PORT=$(free_port)

# hostile_setup [EGRESS-OPTIONS...]: the PKI, origin "o" (HTTPS on
# $TLS_PORT, HTTP on $HTTP_PORT), origin "s" (HTTP on $STREAM_PORT), and
# egress logging refusals only, so that the stats requests leave no line.
hostile_setup() {
	egress_pki &&
	{
		printf 'log: blocks\nroutes:\n'
		egress_route "$TLS_PORT" "$HTTP_PORT"
		egress_route "$STREAM_PORT"
		printf '    outbound_on_match: block\n'
	} >"$TEST_SCRATCH/routes.yaml" &&
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	origin_start s --http-port "$STREAM_PORT" &&
	egress_start "$TEST_SCRATCH/routes.yaml" "$@"
}

egress_fds() {
	ls "/proc/$(cat "$EGRESS_DIR/pid")/fd" | wc -l
}

# egress_settled THREADS: wait until egress runs no more than THREADS
# threads (its count when idle: no connection thread left behind).
egress_settled() {
	wait_for 30 "test \$(egress_threads) -le $1"
}

# attack KEY STATUS COMMAND...: run COMMAND (which sends one hostile request
# and prints egress's answer); egress must answer STATUS, count exactly one
# rejection and under KEY ("rejected.KEY"), add exactly one decision line
# with that status, and write nothing on stderr.
attack() {
	local key=$1 status=$2 before after lines err
	shift 2
	before=$(egress_stats) &&
	lines=$(wc -l <"$EGRESS_DIR/stdout") &&
	err=$(wc -l <"$EGRESS_DIR/stderr") &&
	{ "$@" >answer.txt || true; } &&
	after=$(egress_stats) &&
	head -n 1 answer.txt | grep -q "^HTTP/1.1 $status " &&
	test "$(jq -n --argjson a "$after" --argjson b "$before" \
		"\$a.rejected.$key - \$b.rejected.$key")" = 1 &&
	test "$(jq -n --argjson a "$after" --argjson b "$before" \
		'([$a.rejected[]] | add) - ([$b.rejected[]] | add)')" = 1 &&
	wait_for 5 "test \$(wc -l <$EGRESS_DIR/stdout) -gt $lines" &&
	test "$(wc -l <"$EGRESS_DIR/stdout")" = $((lines + 1)) &&
	tail -n 1 "$EGRESS_DIR/stdout" | grep -q "\"status\":$status," &&
	test "$(wc -l <"$EGRESS_DIR/stderr")" = "$err"
}

# send_plain FORMAT: printf FORMAT (TARGET: the origin's absolute URL on
# $HTTP_PORT, HOST its Host value) on a plain connection to egress.
send_plain() {
	# shellcheck disable=SC2059
	printf "$1" | sed "s|TARGET|http://localhost:$HTTP_PORT|g; s|HOST|localhost:$HTTP_PORT|g" |
		egress_raw
}

# send_stream FORMAT: the same to the streaming route's origin.
send_stream() {
	# shellcheck disable=SC2059
	printf "$1" | sed "s|TARGET|http://localhost:$STREAM_PORT|g; s|HOST|localhost:$STREAM_PORT|g" |
		egress_raw
}

# send_tunnel FORMAT: the same inside a bumped CONNECT to $TLS_PORT (TARGET
# is empty: origin-form).
send_tunnel() {
	# shellcheck disable=SC2059
	printf "$1" | sed "s|TARGET||g; s|HOST|localhost:$TLS_PORT|g" >request.bin &&
	egress_s_client "localhost:$TLS_PORT" -servername localhost -quiet <request.bin 2>/dev/null
}

# send_then_stall FORMAT: send_plain's FORMAT, then nothing for 4 s while
# keeping the connection open; prints egress's answer.
send_then_stall() {
	# shellcheck disable=SC2059
	{ printf "$1"; sleep 4; } | egress_raw
}

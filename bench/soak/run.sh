#!/usr/bin/env bash
# Soak: the whole bundle under a steady, moderate, mixed load for a bounded
# time, on loopback.  One `sidecar init` runs egress, supervise and the git
# gate from a config in a scratch directory; a few clients send traffic
# while every daemon's RSS, descriptors and threads are sampled every 10 s.
# It fails when a request that must succeed fails (or a refusal is not one),
# when a daemon restarts, when RSS has a growth trend, or when descriptors
# or threads do not return to their baseline once traffic stops.
# docs/soak.md explains the bounds and records a full run.
#
#   bench/soak/run.sh                 30 minutes
#   bench/soak/run.sh --minutes N     N minutes of traffic
#   bench/soak/run.sh --quick         2 minutes
#   bench/soak/run.sh --out DIR       keep samples.csv, requests.log and
#                                     summary.txt in DIR (default build/soak)
#   bench/soak/run.sh --sidecar PATH  the binary to soak (default
#                                     build/sidecar; a copy lets you rebuild)
#   bench/soak/run.sh --analyze DIR   judge the run kept in DIR again
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

minutes=30
out=$root/build/soak
analyze=
while [ $# -gt 0 ]; do
	case $1 in
	--quick) minutes=2 ;;
	--minutes)
		minutes=${2:-}
		shift
		;;
	--minutes=*) minutes=${1#--minutes=} ;;
	--out)
		out=${2:-}
		shift
		;;
	--out=*) out=${1#--out=} ;;
	--analyze)
		analyze=${2:-}
		shift
		;;
	--analyze=*) analyze=${1#--analyze=} ;;
	--sidecar)
		export SIDECAR=${2:-}
		shift
		;;
	--sidecar=*) export SIDECAR=${1#--sidecar=} ;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "run.sh: unknown argument '$1' (try --help)" >&2
		exit 2
		;;
	esac
	shift
done
case $minutes in
'' | *[!0-9]* | 0)
	echo "run.sh: --minutes takes a whole number of minutes, at least 1" >&2
	exit 2
	;;
esac

die() {
	echo "run.sh: $*" >&2
	exit 1
}

# --- the numbers ----------------------------------------------------------

SAMPLE_EVERY=10          # seconds between samples
SETTLE_SECONDS=60        # how long fds and threads get to return to baseline
# RSS bound: the least-squares trend of the RSS floor over the second half
# of the traffic, carried over the whole traffic time, may add at most this
# much (docs/soak.md says why 1 MiB).
RSS_GROWTH_MAX_KB=1024
DAEMONS="egress supervise gitgate"
TRAFFIC_SECONDS=$((minutes * 60))

# --- the verdict ------------------------------------------------------------
#
# From the kept files alone (samples.csv, requests.log, run.txt), so that
# `--analyze DIR` judges a run again.

# rss_table: per daemon, RSS at the baseline, its floor (the least RSS of
# the last 6 samples: what the daemon holds between requests, not the
# working set of those in flight) at the start of the second half and at
# the end of the traffic, the floor's least-squares trend over the second
# half (past the warm-up of caches and pools, what is left is growth) per
# minute and over the whole traffic time, the RSS peak, and fds and
# threads at the baseline, at peak and once settled.
rss_table() {
	printf '%-9s %8s %8s %8s %9s %9s %8s %5s %5s %5s %4s %4s %4s\n' daemon "rss0" "floor½" "floorEnd" \
		"trend/min" "trend/run" "rssMax" fds0 fdsMax fdsEnd thr0 thrMax thrEnd
	for d in init $DAEMONS; do
		awk -F, -v n="$d" -v run="$traffic_seconds" -v bound="$RSS_GROWTH_MAX_KB" '
			$3 != n { next }
			$2 == "baseline" { rss0 = $5; fds0 = $7; thr0 = $8 }
			$2 == "traffic" {
				t[++k] = $1; r[k] = $5
				if ($5 > rssmax) rssmax = $5
				if ($7 > fdsmax) fdsmax = $7
				if ($8 > thrmax) thrmax = $8
			}
			$2 == "settle" { fdsend = $7; thrend = $8 }
			END {
				for (i = 1; i <= k; i++) {
					f[i] = r[i]
					for (j = i - 5; j < i; j++)
						if (j >= 1 && r[j] < f[i]) f[i] = r[j]
				}
				from = int(k / 2) + 1
				for (i = from; i <= k; i++) { sx += t[i]; sy += f[i]; m++ }
				for (i = from; i <= k; i++) {
					sxx += (t[i] - sx / m)^2
					sxy += (t[i] - sx / m) * (f[i] - sy / m)
				}
				slope = sxx > 0 ? sxy / sxx : 0
				growth = slope * run
				printf "%-9s %8d %8d %8d %9.1f %9.0f %8d %5d %5d %5d %4d %4d %4d%s\n", n, rss0, f[from],
					f[k], slope * 60, growth, rssmax, fds0, fdsmax, fdsend, thr0, thrmax, thrend,
					(growth > bound ? "  RSS GROWS" : "")
			}' "$CSV"
	done
}

# verdict: print the summary into $out/summary.txt and on stdout; false
# when the run failed.
verdict() {
	local failed=0 d col base end pids
	local traffic_seconds=0 run_date='' run_cores='' packs='' restarts_before='' restarts_after=''
	CSV=$out/samples.csv
	# shellcheck source=/dev/null
	. "$out/run.txt" || die "no $out/run.txt: not a directory this script wrote"
	{
		echo "soak: $traffic_seconds s of traffic ($run_date), $run_cores cores"
		echo
		echo "requests (kind: ok / failed):"
		awk '{ n[$3]++; if ($4 != "ok") f[$3]++ }
			END { for (k in n) printf "  %-16s %7d / %d\n", k, n[k] - f[k], f[k] + 0 }' \
			"$out/requests.log" | sort
		awk -v secs="$traffic_seconds" '{ n++ }
			END { printf "  %-16s %7d in %d s: %.1f requests/s\n", "total", n, secs, n / secs }' \
			"$out/requests.log"
		# The gate's repository grows by a pack per push: how clones fared.
		printf '  git repository: %d packs at the end; clone and fsck, mean of the first 20 / last 20: %s / %s ms\n' \
			"$packs" \
			"$(grep -h ' clone-' "$out/requests.log" | sort -n | head -n 20 | sed 's/.*ms=//' |
				awk '{ s += $1 } END { printf "%d", s / NR }')" \
			"$(grep -h ' clone-' "$out/requests.log" | sort -n | tail -n 20 | sed 's/.*ms=//' |
				awk '{ s += $1 } END { printf "%d", s / NR }')"
		echo
		echo "memory in kB, fds, threads:"
		rss_table
	} >"$out/summary.txt"

	if grep -q "RSS GROWS" "$out/summary.txt"; then
		echo "FAIL: an RSS floor trend over the run exceeds $RSS_GROWTH_MAX_KB kB" >>"$out/summary.txt"
		failed=1
	fi
	for d in $DAEMONS; do
		for col in 7 8; do
			base=$(awk -F, -v n="$d" -v c="$col" '$2 == "baseline" && $3 == n { print $c }' "$CSV")
			end=$(awk -F, -v n="$d" -v c="$col" '$2 == "settle" && $3 == n { v = $c } END { print v }' "$CSV")
			if [ -z "$end" ] || [ "$end" -gt "$base" ]; then
				echo "FAIL: $d's $([ "$col" = 7 ] && echo fds || echo threads) did not return to the" \
					"baseline ($base) within ${SETTLE_SECONDS}s: ${end:-none}" >>"$out/summary.txt"
				failed=1
			fi
		done
		# A restart shows as a second pid, or as none ("-") in a sample.
		pids=$(awk -F, -v n="$d" '$3 == n { print $4 }' "$CSV" | sort -u)
		if [ "$(wc -l <<<"$pids")" != 1 ] || [ "$pids" = - ]; then
			echo "FAIL: $d restarted (pids $(echo $pids))" >>"$out/summary.txt"
			failed=1
		fi
	done
	if [ "$restarts_before" != "$restarts_after" ]; then
		echo "FAIL: init restarted a daemon (restarts $restarts_before-> $restarts_after)" >>"$out/summary.txt"
		failed=1
	fi
	if awk '$4 != "ok" { bad = 1 } END { exit !bad }' "$out/requests.log"; then
		{
			echo "FAIL: requests failed; the first ones:"
			awk '$4 != "ok"' "$out/requests.log" | head -n 10 | sed 's/^/  /'
		} >>"$out/summary.txt"
		failed=1
	fi
	((failed)) || echo "PASS" >>"$out/summary.txt"
	cat "$out/summary.txt"
	return "$failed"
}

if [ -n "$analyze" ]; then
	out=$analyze
	verdict
	exit
fi

# The test library skips (exit 0) when a tool is missing; a soak that did
# not run must not look like one that passed.
for tool in openssl curl node ss git jq awk; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
if [ -n "${SIDECAR:-}" ]; then
	[ -x "$SIDECAR" ] || die "$SIDECAR is not an executable"
	SIDECAR=$(cd "$(dirname "$SIDECAR")" && pwd)/$(basename "$SIDECAR")
else
	[ -x "$root/build/sidecar" ] || make -C "$root" -j2 all >/dev/null || die "the build failed"
fi
mkdir -p "$out" || die "cannot create $out"
out=$(cd "$out" && pwd)

# Reuse the integration tests' PKI, origin and client helpers (and their
# scratch directory, removed at exit, with everything they started).
# shellcheck source=../../tests/integration/egress-lib.sh
. "$root/tests/integration/egress-lib.sh"
# Stopped early, it still tears everything down (the library's EXIT trap).
trap 'exit 130' INT TERM

# --- the bundle -----------------------------------------------------------

QUEUE=$TEST_SCRATCH/queue/soak
SOCKET=$TEST_SCRATCH/init.sock
GATE_DIR=$TEST_SCRATCH/gate
SV_PORT=$(free_port)
GATE_HTTP_PORT=$(free_port)
GATE_GIT_PORT=$(free_port)
DENIED_PORT=$(free_port)
SECRET=soakK3y$(openssl rand -hex 16)
export SOAK_SECRET=$SECRET
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH/home GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME" "$QUEUE" "$GATE_DIR"

ctl() {
	"$SIDECAR" initctl --socket "$SOCKET" --timeout 30 "$@"
}

init_stop() {
	local pid
	pid=$(cat "$TEST_SCRATCH/init.pid" 2>/dev/null) || return 0
	kill "$pid" 2>/dev/null
	wait_for 20 "! kill -0 $pid 2>/dev/null"
	return 0
}
test_at_exit init_stop

bundle_start() {
	egress_pki || return 1
	# One route on the origin's two ports: its bodies, frames and queries
	# are scanned and a finding is refused (block), websockets allowed.
	{
		printf 'log: all\nroutes:\n'
		egress_route "$TLS_PORT" "$HTTP_PORT"
		printf '    outbound_on_match: block\n    websocket: true\n'
	} >"$TEST_SCRATCH/routes.yaml"
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" || return 1
	cat >"$GATE_DIR/gitgate.yaml" <<-YAML
	listen: {http: "127.0.0.1:$GATE_HTTP_PORT", git: "127.0.0.1:$GATE_GIT_PORT"}
	data_dir: $GATE_DIR/data
	repos:
	  - name: app
	YAML
	cat >"$TEST_SCRATCH/init.yaml" <<-YAML
	grace_period: 5s
	control_socket: $SOCKET
	daemons:
	  - name: egress
	    argv: [$SIDECAR, egress, --listen, "127.0.0.1:$EGRESS_PORT", --routes, $TEST_SCRATCH/routes.yaml,
	           --ca-cert, $PKI/ca.crt, --ca-key, $PKI/ca.key, --upstream-ca, $PKI/origin-ca.crt,
	           --queue, $QUEUE, --secret-env, SOAK_SECRET, --ready-fd, "3"]
	    env_inherit: [SOAK_SECRET]
	    ready_fd: 3
	  - name: supervise
	    argv: [$SIDECAR, supervise, --listen, "127.0.0.1:$SV_PORT", --queue, $QUEUE, --bottle, soak,
	           --routes, $TEST_SCRATCH/routes.yaml, --egress-proxy, "127.0.0.1:$EGRESS_PORT",
	           --reload-command, "$SIDECAR initctl --socket $SOCKET reload egress", --ready-fd, "3"]
	    ready_fd: 3
	  - name: gitgate
	    argv: [$SIDECAR, gitgate, --config, $GATE_DIR/gitgate.yaml, --secret-env, SOAK_SECRET,
	           --ready-fd, "3"]
	    env_inherit: [SOAK_SECRET]
	    ready_fd: 3
	YAML
	"$SIDECAR" init --config "$TEST_SCRATCH/init.yaml" >"$TEST_SCRATCH/init.log" 2>&1 &
	echo $! >"$TEST_SCRATCH/init.pid"
	wait_for 30 "test \$(ctl status 2>/dev/null | awk '\$5 == \"ready\"' | wc -l) = 3" ||
		{ cat "$TEST_SCRATCH/init.log" >&2; return 1; }
}

# daemon_field NAME COLUMN: one column of NAME's line in `initctl status`
# (3: the pid, 4: the restarts).
daemon_field() {
	ctl status | awk -v n="$1" -v c="$2" '$1 == n { print $c }'
}

# --- the clients ----------------------------------------------------------
#
git_as() {
	git -c user.name=Soak -c user.email=soak@bottle.test "$@"
}

# round_done SECONDS: false once $TEST_SCRATCH/stop exists (the client
# ends after the round it is in: with the file already there, a client
# makes exactly one round), else sleep SECONDS.
round_done() {
	[ ! -f "$TEST_SCRATCH/stop" ] && sleep "$1"
}

# Each client loops until $TEST_SCRATCH/stop exists and appends one line per
# request to $TEST_SCRATCH/log-<client>: "<epoch> <client> <kind> ok|FAIL [detail]".
# A kind either must succeed, or must be refused (denied, dlp): a refusal
# that did not happen is a FAIL too.

note() {
	local client=$1 kind=$2 result=$3
	shift 3
	echo "$(date +%s) $client $kind $result $*" >>"$TEST_SCRATCH/log-$client"
}

# expect CLIENT KIND WANT COMMAND...: COMMAND prints a status code; it must
# be WANT.
expect() {
	local client=$1 kind=$2 want=$3 got
	shift 3
	got=$("$@" 2>/dev/null)
	if [ "$got" = "$want" ]; then
		note "$client" "$kind" ok
	else
		note "$client" "$kind" FAIL "wanted $want, got '${got:-nothing}'"
	fi
}

status_of() {
	egress_curl --max-time 30 -o /dev/null -w '%{http_code}' "$@"
}

# The CONNECT's own status (curl's http_code is 000 when the tunnel is refused).
connect_status_of() {
	egress_curl --max-time 30 -o /dev/null -w '%{http_connect}' "$@"
}

# HTTP: allowed GET and POST, bumped (CONNECT + TLS) and plain; a request
# to a port no route allows; DLP hits in a query and in a body.
client_http() {
	local name=$1 round=0 https=https://localhost:$TLS_PORT plain=http://localhost:$HTTP_PORT
	while :; do
		round=$((round + 1))
		expect "$name" get-tls 200 status_of "$https/get?c=$name&r=$round"
		expect "$name" post-tls 200 status_of "$https/upload/$name" -H 'Content-Type: application/json' \
			--data-binary "{\"client\":\"$name\",\"round\":$round,\"pad\":\"$(printf '%0512d' "$round")\"}"
		expect "$name" get-plain 200 status_of "$plain/get?c=$name&r=$round"
		expect "$name" post-plain 200 status_of "$plain/upload/$name" --data-binary "round=$round"
		expect "$name" denied-plain 403 status_of "http://localhost:$DENIED_PORT/nowhere"
		expect "$name" denied-connect 403 connect_status_of "https://localhost:$DENIED_PORT/nowhere"
		expect "$name" dlp-query 403 status_of "$https/get?key=$SECRET"
		expect "$name" dlp-body 403 status_of "$plain/keep/$name" --data-binary "token=$SECRET"
		round_done 0.5 || break
	done
}

# Websockets: an echo over wss:// (bumped) and ws:// (plain); a secret in
# a frame closes the socket (1008) and never reaches the origin.
client_ws() {
	local name=$1 round=0 echo
	while :; do
		round=$((round + 1))
		echo=$(egress_node ws --url "wss://localhost:$TLS_PORT/ws" --text "hello $round" 2>/dev/null)
		if [ "$echo" = "hello $round" ]; then note "$name" ws-tls ok; else note "$name" ws-tls FAIL "$echo"; fi
		echo=$(egress_node ws --url "ws://localhost:$HTTP_PORT/ws" --text "plain $round" 2>/dev/null)
		if [ "$echo" = "plain $round" ]; then note "$name" ws-plain ok; else note "$name" ws-plain FAIL "$echo"; fi
		echo=$(egress_node ws --url "wss://localhost:$TLS_PORT/ws" --text "k=$SECRET" 2>&1)
		if [[ $echo == *"closed: egress: dlp"* ]]; then
			note "$name" dlp-ws ok
		else
			note "$name" dlp-ws FAIL "not closed by egress"
		fi
		round_done 1 || break
	done
}

# Supervise: an MCP session opened, its tools listed, and ended.
mcp() {
	curl -sS --max-time 30 -X "$1" "http://127.0.0.1:$SV_PORT/mcp" -H 'content-type: application/json' \
		-H 'accept: application/json, text/event-stream' "${@:2}"
}
client_mcp() {
	local name=$1 sid
	while :; do
		sid=$(mcp POST -D - -o /dev/null --data-binary \
			'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"soak","version":"1"}}}' |
			tr -d '\r' | sed -n 's/^[Mm]cp-[Ss]ession-[Ii]d: //p')
		if [ -z "$sid" ]; then
			note "$name" mcp-session FAIL "no session id"
			round_done 1 || break
			continue
		fi
		note "$name" mcp-session ok
		if mcp POST -H "mcp-session-id: $sid" -H 'mcp-protocol-version: 2025-11-25' \
			--data-binary '{"jsonrpc":"2.0","id":2,"method":"tools/list"}' | grep -q egress-allow; then
			note "$name" mcp-tools ok
		else
			note "$name" mcp-tools FAIL
		fi
		expect "$name" mcp-end 200 mcp DELETE -o /dev/null -w '%{http_code}' -H "mcp-session-id: $sid"
		round_done 1 || break
	done
}

# git: a fresh clone, a commit pushed to the client's own branch (a
# fast-forward), and every third round a commit carrying the secret, which
# the gate's scan refuses.  The transport alternates between smart-HTTP and
# git://.  Every push that lands adds a pack to the repository (the gate
# does not repack), so the rate is kept low: one round per ~5 s per client.
client_git() {
	local name=$1 round=0 url work began
	while :; do
		round=$((round + 1))
		if ((round % 2)); then
			url=http://127.0.0.1:$GATE_HTTP_PORT/app.git
		else
			url=git://127.0.0.1:$GATE_GIT_PORT/app.git
		fi
		work=$TEST_SCRATCH/work-$name
		rm -rf "$work"
		began=$(date +%s%N)
		if git clone -q "$url" "$work" 2>"$TEST_SCRATCH/git-$name.err" &&
			git -C "$work" fsck --no-progress --no-dangling 2>>"$TEST_SCRATCH/git-$name.err"; then
			note "$name" "clone-${url%%:*}" ok "ms=$((($(date +%s%N) - began) / 1000000))"
		else
			note "$name" "clone-${url%%:*}" FAIL "$(tail -n 1 "$TEST_SCRATCH/git-$name.err")"
			round_done 2 || break
			continue
		fi
		git -C "$work" checkout -q -B "soak-$name" "origin/soak-$name" 2>/dev/null ||
			git -C "$work" checkout -q -b "soak-$name"
		echo "$name $round $(date +%s.%N)" >"$work/$name.txt"
		git -C "$work" add "$name.txt"
		git_as -C "$work" commit -q -m "soak $name $round"
		if git -C "$work" push -q origin "soak-$name" 2>"$TEST_SCRATCH/git-$name.err"; then
			note "$name" "push-${url%%:*}" ok
		else
			note "$name" "push-${url%%:*}" FAIL "$(tail -n 1 "$TEST_SCRATCH/git-$name.err")"
		fi
		if ((round % 3 == 0)); then
			echo "token = $SECRET" >"$work/leak.txt"
			git -C "$work" add leak.txt
			git_as -C "$work" commit -q -m "soak $name $round leak"
			if ! git -C "$work" push origin "HEAD:refs/heads/leak-$name" >"$TEST_SCRATCH/git-$name.err" 2>&1 &&
				grep -q "secret found" "$TEST_SCRATCH/git-$name.err"; then
				note "$name" "dlp-push-${url%%:*}" ok
			else
				note "$name" "dlp-push-${url%%:*}" FAIL "the push carrying the secret was not refused"
			fi
		fi
		round_done 4 || break
	done
}

# The first commit, pushed over smart-HTTP, so that clones have something.
seed_repository() {
	local work=$TEST_SCRATCH/seed
	git --git-dir="$GATE_DIR/data/app.git" symbolic-ref HEAD refs/heads/main &&
	git init -q -b main "$work" &&
	echo "soak" >"$work/README" &&
	git -C "$work" add README &&
	git_as -C "$work" commit -q -m seed &&
	git -C "$work" push -q "http://127.0.0.1:$GATE_HTTP_PORT/app.git" main
}

# --- the samples ----------------------------------------------------------

CSV=$out/samples.csv

# sample PHASE: one CSV row per daemon (and init itself):
# seconds since start,phase,daemon,pid,VmRSS kB,RssAnon kB,fds,threads
sample() {
	local phase=$1 name pid now
	now=$(($(date +%s) - start_time))
	for name in init $DAEMONS; do
		if [ "$name" = init ]; then
			pid=$(cat "$TEST_SCRATCH/init.pid")
		else
			pid=$(daemon_field "$name" 3)
		fi
		[ -n "$pid" ] && [ -r "/proc/$pid/status" ] || {
			echo "$now,$phase,$name,-,,,," >>"$CSV"
			continue
		}
		awk -v now="$now" -v phase="$phase" -v name="$name" -v pid="$pid" \
			-v fds="$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)" '
			/^VmRSS:/ { rss = $2 } /^RssAnon:/ { anon = $2 } /^Threads:/ { threads = $2 }
			END { printf "%s,%s,%s,%s,%s,%s,%s,%s\n", now, phase, name, pid, rss, anon, fds, threads }' \
			"/proc/$pid/status" >>"$CSV"
	done
}

# The last sample's value of COLUMN (7: fds, 8: threads) for NAME.
last_value() {
	awk -F, -v n="$1" -v c="$2" '$3 == n { v = $c } END { print v }' "$CSV"
}

# --- the run --------------------------------------------------------------

echo "soak: $minutes min of traffic, samples every ${SAMPLE_EVERY}s into $CSV"
bundle_start || die "the bundle did not start (its log is above)"
seed_repository || die "the first push through the gate failed"
start_time=$(date +%s)
echo "seconds,phase,daemon,pid,rss_kb,rss_anon_kb,fds,threads" >"$CSV"
rm -f "$TEST_SCRATCH"/log-*

# Warm-up: one round of every kind, so that what each daemon sets up once
# (the leaf certificate cache, libgit2's global state) is in the baseline;
# then the idle baseline itself.
touch "$TEST_SCRATCH/stop"
client_http warm
client_ws warm
client_mcp warm
client_git warm
rm -f "$TEST_SCRATCH/stop"
sleep 2
sample baseline
restarts_before=$(for d in $DAEMONS; do daemon_field "$d" 4; done | tr '\n' ' ')

client_pids=()
for c in http-1 http-2; do
	client_http "$c" &
	client_pids+=($!)
done
client_ws ws-1 &
client_pids+=($!)
client_mcp mcp-1 &
client_pids+=($!)
for c in git-1 git-2; do
	client_git "$c" &
	client_pids+=($!)
done

traffic_start=$(date +%s)
next=$((traffic_start + SAMPLE_EVERY))
while [ "$(date +%s)" -lt $((traffic_start + TRAFFIC_SECONDS)) ]; do
	sleep 1
	if [ "$(date +%s)" -ge "$next" ]; then
		sample traffic
		next=$((next + SAMPLE_EVERY))
	fi
done
touch "$TEST_SCRATCH/stop"
for pid in "${client_pids[@]}"; do
	wait "$pid"
done
traffic_seconds=$(($(date +%s) - traffic_start))

# After the traffic: fds and threads must come back to the baseline (idle
# keep-alive connections, session threads ending); sampled every second
# for at most SETTLE_SECONDS.
settled=0
for ((i = 0; i < SETTLE_SECONDS; i++)); do
	sample settle
	settled=1
	for d in $DAEMONS; do
		for col in 7 8; do
			base=$(awk -F, -v n="$d" -v c="$col" '$2 == "baseline" && $3 == n { print $c }' "$CSV")
			[ "$(last_value "$d" "$col")" -le "$base" ] || settled=0
		done
	done
	((settled)) && break
	sleep 1
done
restarts_after=$(for d in $DAEMONS; do daemon_field "$d" 4; done | tr '\n' ' ')
{
	echo "traffic_seconds=$traffic_seconds"
	echo "run_date=$(date -u +%Y-%m-%dT%H:%MZ)"
	echo "run_cores=$(nproc)"
	echo "packs=$(find "$GATE_DIR/data/app.git/objects/pack" -name '*.pack' | wc -l)"
	echo "restarts_before='$restarts_before'"
	echo "restarts_after='$restarts_after'"
} >"$out/run.txt"
cat "$TEST_SCRATCH"/log-* >"$out/requests.log"
verdict || { cp "$TEST_SCRATCH/init.log" "$out/init.log"; exit 1; }

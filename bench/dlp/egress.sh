#!/usr/bin/env bash
# Egress small-POST throughput with DLP on and off: one keep-alive client
# connection sends 4 KiB JSON POSTs through `sidecar egress` (plain HTTP,
# absolute form, so TLS does not blur the figure) to a minimal C origin,
# SECONDS (default 5) per run, RUNS rounds (default 3) alternating the modes,
# the best of each:
#   off        --no-dlp
#   block      DLP on, a route with outbound_on_match: block (body streamed)
#   supervise  DLP on, the default route (body held whole, then forwarded)
# DLP on means 50 known secrets (bench/dlp/gen.py's), a canary and the
# default rules.  Prints requests/s and egress's CPU time per request (from
# /proc: steadier than requests/s on a shared machine), and each DLP mode's
# ratios to off.  SIDECARS (default build/sidecar) may list several builds,
# for an A/B in one sitting: each gets its proxies, and every round runs
# every build's modes one after the other, so load from other work hits all
# alike; each build's rows then say its own ratios.
#   bench/dlp/egress.sh [SECONDS]
#   SIDECARS="build/base/sidecar build/sidecar" bench/dlp/egress.sh 3
# Not a test: it prints figures for docs/dlp.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-5}
runs=${RUNS:-3}
out=build/bench
read -ra sidecars <<<"${SIDECARS:-build/sidecar}"
mkdir -p "$out"
for sidecar in "${sidecars[@]}"; do
	[ -x "$sidecar" ] || { echo "bench/dlp/egress.sh: build $sidecar first (make all)" >&2; exit 2; }
done
cc -O2 -pthread -o "$out/egress_post" bench/dlp/egress_post.c
[ -f "$out/dlp-secrets.env" ] || python3 bench/dlp/gen.py "$out/dlp-mixed-1.txt" 1 "$out/dlp-secrets.env"
set -a
# shellcheck disable=SC1090,SC1091
. "$out/dlp-secrets.env"
BENCH_CANARY=canary$(od -An -tx1 -N12 /dev/urandom | tr -d " \n")
set +a
prefix=$(head -n1 "$out/dlp-secrets.env" | sed 's/[0-9]*=.*//')

# egress needs a CA to start, though plain HTTP never uses it.
[ -f "$out/bench-ca.key" ] || openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	-days 2 -keyout "$out/bench-ca.key" -out "$out/bench-ca.crt" -subj "/CN=bench CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" 2>/dev/null

origin_port=$((20000 + RANDOM % 5000))
routes=$out/egress-bench-routes.yaml
cat >"$routes" <<YAML
routes:
  - host: 127.0.0.1
    ports: [$origin_port]
    addresses: [127.0.0.1]
    outbound_on_match: block
    matches:
      - path_prefix: /block
  - host: 127.0.0.1
    ports: [$origin_port]
    addresses: [127.0.0.1]
YAML

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT
"$out/egress_post" serve "$origin_port" &
pids+=($!)

# Two proxies per build side by side (an idle one costs nothing), so that
# the runs can alternate and a busy neighbour on a shared machine hits all
# alike.
dlp=(--secret-env-prefix "$prefix" --canary-env BENCH_CANARY)
start_egress() {
	"$2" egress --listen "127.0.0.1:$1" --routes "$routes" --ca-cert "$out/bench-ca.crt" \
		--ca-key "$out/bench-ca.key" "${@:3}" >/dev/null 2>"$out/egress-bench-$1.err" &
	pids+=($!)
	eval "pid_$1=$!"
}
for k in "${!sidecars[@]}"; do
	port=$((origin_port + 1 + 2 * k))
	start_egress "$port" "${sidecars[$k]}" --no-dlp
	start_egress "$((port + 1))" "${sidecars[$k]}" "${dlp[@]}"
done
sleep 0.5

# CPU time (user + system, clock ticks) egress has used so far.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# measure PORT PATH: "REQ/S US-OF-CPU-PER-REQUEST" for one run.
measure() {
	local pid before after rate
	pid=$(eval echo "\$pid_$1")
	before=$(cpu_ticks "$pid")
	rate=$("$out/egress_post" client "$1" "$origin_port" "$seconds" "$2")
	after=$(cpu_ticks "$pid")
	echo "$rate $(awk -v t=$((after - before)) -v r="$rate" -v s="$seconds" -v hz="$(getconf CLK_TCK)" \
		'BEGIN { printf "%.1f", t / hz * 1e6 / (r * s) }')"
}

declare -A rate cpu
modes=(off block supervise)
for k in "${!sidecars[@]}"; do
	for mode in "${modes[@]}"; do rate[$k.$mode]=0; cpu[$k.$mode]=999999; done
done
for i in $(seq "$runs"); do
	for k in "${!sidecars[@]}"; do
		port=$((origin_port + 1 + 2 * k))
		for mode in "${modes[@]}"; do
			case $mode in
			off) m=$(measure "$port" supervise) ;;
			block) m=$(measure "$((port + 1))" block) ;;
			supervise) m=$(measure "$((port + 1))" supervise) ;;
			esac
			read -r r c <<<"$m"
			echo "round $i ${sidecars[$k]} $mode: $r req/s, $c us egress CPU/request" >&2
			[ "$r" -gt "${rate[$k.$mode]}" ] && rate[$k.$mode]=$r
			awk -v a="$c" -v b="${cpu[$k.$mode]}" 'BEGIN { exit !(a < b) }' && cpu[$k.$mode]=$c
		done
	done
done
for k in "${!sidecars[@]}"; do
	[ "${#sidecars[@]}" -gt 1 ] && echo "${sidecars[$k]}:"
	printf '%-10s %8s req/s  %6s us egress CPU/request\n' off "${rate[$k.off]}" "${cpu[$k.off]}"
	for mode in block supervise; do
		printf '%-10s %8s req/s  %6s us egress CPU/request  req/s %s of off, CPU %s of off\n' \
			"$mode" "${rate[$k.$mode]}" "${cpu[$k.$mode]}" \
			"$(awk -v a="${rate[$k.$mode]}" -v b="${rate[$k.off]}" 'BEGIN { printf "%.2f", a / b }')" \
			"$(awk -v a="${cpu[$k.$mode]}" -v b="${cpu[$k.off]}" 'BEGIN { printf "%.2f", a / b }')"
	done
done

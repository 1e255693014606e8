#!/usr/bin/env bash
# DLP scan throughput: `sidecar dlp-scan` over SIZE_MB (default 100) of mixed
# text with 50 known secrets and the default rules, best of RUNS (default 3),
# in MB/s of CPU time (one core's throughput, robust to a shared machine;
# the wall-clock figure is printed by dlp-scan --stats too).  The peer, measured in the same run over the same
# file: GNU grep -F with the 50 secret values (exact matching only, no
# variants, no rules) -- the floor of what one pass over the bytes costs.
#   bench/dlp/run.sh [SIZE_MB]
# SIDECAR names another build (an A/B: alternate the two, RUNS=1 each).
# Not a test: it prints figures for docs/dlp.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
size=${1:-100}
runs=${RUNS:-3}
out=build/bench
sidecar=${SIDECAR:-build/sidecar}
mkdir -p "$out"
[ -x "$sidecar" ] || { echo "bench/dlp/run.sh: build $sidecar first (make all)" >&2; exit 2; }
data=$out/dlp-mixed-$size.txt
if [ ! -f "$data" ]; then
	echo "generating $data ..."
	python3 bench/dlp/gen.py "$data" "$size" "$out/dlp-secrets.env"
fi
set -a
# shellcheck disable=SC1090,SC1091
. "$out/dlp-secrets.env"
set +a
cut -d= -f2- "$out/dlp-secrets.env" >"$out/dlp-secrets.txt"
bytes=$(stat -c %s "$data")

best() { sort -n | tail -n 1; }
mbps() { # command...: MB/s of one run, from its CPU time (user + system)
	local t
	t=$( { TIMEFORMAT='%U %S'; time "$@" >/dev/null 2>&1 || true; } 2>&1)
	echo "$bytes $t" | awk '{ printf "%.1f\n", $1 / 1e6 / ($2 + $3) }'
}

# dlp-scan exits 1 when it finds something, which it does here.
scan() { { "$sidecar" dlp-scan --stats "$@" "$data" 2>&1 >/dev/null || true; } |
	sed -nE 's/.* ([0-9.]+) MB\/s of CPU time.*/\1/p'; }

echo "data: $data ($bytes bytes), 50 known secrets, default rules, $runs runs, best"
full=$(for _ in $(seq "$runs"); do scan --secret-env-prefix BENCH_SECRET_; done | best)
bare=$(for _ in $(seq "$runs"); do scan --no-default-rules; done | best)
grepf=$(for _ in $(seq "$runs"); do mbps grep -c -F -f "$out/dlp-secrets.txt" "$data"; done | best)
echo "dlp-scan (50 secrets + variants + windows, default rules, entropy): $full MB/s"
echo "dlp-scan (no secrets, no rules: the pass itself):                   $bare MB/s"
echo "grep -F -f secrets (exact only, peer):                              $grepf MB/s"
awk -v a="$full" -v b="$grepf" 'BEGIN { printf "ratio dlp-scan / grep -F: %.2f\n", a / b }'

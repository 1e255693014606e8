#!/usr/bin/env bash
# The engine's cost per request alone, without the proxy: CPU time per
# 4 KiB body and per request head, scanned as egress scans them with the
# engine egress builds (bench/dlp/body_time.c).  Several builds of the
# engine (each a libbottle-testable.a) are timed in one sitting, round after
# round interleaved, so that load from other work hits all alike.
#   bench/dlp/body.sh [LIB.a...]     (default: build/libbottle-testable.a)
# RUNS rounds (default 5) of N requests (default 30000); BODY=FILE scans
# FILE's first 4096 bytes instead of bench/dlp/egress_post.c's JSON body.
# Prints, per build, the body's and the head's nanoseconds: min, median and
# max over the rounds.  Not a test: it prints figures for docs/dlp.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${RUNS:-5}
n=${N:-30000}
out=build/bench
sysroot=build/sysroot
mkdir -p "$out"
libs=("$@")
[ ${#libs[@]} -gt 0 ] || libs=(build/libbottle-testable.a)
[ -f "$out/dlp-secrets.env" ] || python3 bench/dlp/gen.py "$out/dlp-mixed-1.txt" 1 "$out/dlp-secrets.env"
body=${BODY:-}
if [ -z "$body" ]; then
	cc -O2 -pthread -o "$out/egress_post" bench/dlp/egress_post.c
	body=$out/egress-post-body.json
	"$out/egress_post" body >"$body"
fi
set -a
# shellcheck disable=SC1090,SC1091
. "$out/dlp-secrets.env"
BENCH_CANARY=canary$(od -An -tx1 -N12 /dev/urandom | tr -d " \n")
set +a
prefix=$(head -n1 "$out/dlp-secrets.env" | sed 's/[0-9]*=.*//')

for k in "${!libs[@]}"; do
	[ -f "${libs[$k]}" ] || { echo "bench/dlp/body.sh: ${libs[$k]}: no such library (make build/libbottle-testable.a)" >&2; exit 2; }
	musl-gcc -std=c11 -D_GNU_SOURCE -O2 -static -isystem "$sysroot/include" -Ishared \
		-o "$out/body_time-$k" bench/dlp/body_time.c "${libs[$k]}" -L"$sysroot/lib" \
		-lyaml -lpcre2-8 -lz
	: >"$out/body_time-$k.txt"
done
for _ in $(seq "$runs"); do
	for k in "${!libs[@]}"; do
		"$out/body_time-$k" -n "$n" "$body" "$prefix" BENCH_CANARY 2>/dev/null |
			awk '{ print $4, $9 }' >>"$out/body_time-$k.txt"
	done
done
# spread FIELD FILE: "min median max" of a column.
spread() {
	sort -n -k"$1" "$2" | awk -v f="$1" '{ v[NR] = $f } END { print v[1], v[int((NR + 1) / 2)], v[NR] }'
}
echo "body $(basename "$body") (4096 bytes), $runs rounds of $n requests, ns of CPU time: min median max"
for k in "${!libs[@]}"; do
	printf '%-40s body %s   head %s\n' "${libs[$k]}" "$(spread 1 "$out/body_time-$k.txt")" \
		"$(spread 2 "$out/body_time-$k.txt")"
done

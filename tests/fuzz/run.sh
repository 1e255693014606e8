#!/usr/bin/env bash
# Build every tests/fuzz/fuzz_*.c into build/fuzz/ with libFuzzer and run it.
#   tests/fuzz/run.sh [SECONDS]   fuzz each harness SECONDS (default 60) on a
#                                 copy of tests/fuzz/corpus/<harness>/
#   tests/fuzz/run.sh --replay    run every corpus file once through its
#                                 harness (a cheap regression check)
# Crash inputs land in build/fuzz/<harness>-crash-*; add them to the corpus
# (and a unit test) once fixed.  KEEP_CORPUS=1 keeps each grown corpus.
# FUZZ_CC overrides clang.  Ends with "fuzz: N passed, N failed"; exits
# non-zero on any build failure or crash.
set -uo pipefail
cd "$(dirname "$0")/../.."

CC=${FUZZ_CC:-clang}
OUT=build/fuzz
CFLAGS=(-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
	-D_GNU_SOURCE -std=c11)
mode=fuzz
seconds=60

case "${1:-}" in
--replay) mode=replay ;;
'') ;;
*[!0-9]* | 0)
	echo "usage: tests/fuzz/run.sh [SECONDS | --replay]" >&2
	exit 2
	;;
*) seconds=$1 ;;
esac

if ! command -v "$CC" >/dev/null; then
	echo "tests/fuzz/run.sh: $CC not found (clang 14 and libclang-rt-14-dev)" >&2
	exit 2
fi
mkdir -p "$OUT"
passed=0
failed=0

for src in tests/fuzz/fuzz_*.c; do
	name=$(basename "$src" .c)
	bin=$OUT/$name
	corpus=tests/fuzz/corpus/$name
	echo "== fuzz: $name"
	# A harness that needs libraries names them on a " * FUZZ_FLAGS:" line.
	read -ra extra <<<"$(sed -n 's/^ \* FUZZ_FLAGS: //p' "$src")"
	if ! "$CC" "${CFLAGS[@]}" "$src" "${extra[@]}" -o "$bin"; then
		echo "not ok - $name does not build"
		failed=$((failed + 1))
		continue
	fi
	dict=()
	# fuzz_http1_request uses http1.dict, fuzz_routes routes.dict.
	stem=${name#fuzz_}
	stem=${stem%%_*}
	[ -f "tests/fuzz/$stem.dict" ] && dict=(-dict="tests/fuzz/$stem.dict")
	if [ "$mode" = replay ]; then
		mapfile -t files < <(find "$corpus" -type f 2>/dev/null | sort)
		if [ ${#files[@]} -eq 0 ]; then
			echo "ok - $name (no corpus)"
			passed=$((passed + 1))
			continue
		fi
		if "$bin" -runs=1 "${files[@]}" >"$OUT/$name.log" 2>&1; then
			echo "ok - $name: ${#files[@]} corpus files"
			passed=$((passed + 1))
		else
			tail -n 40 "$OUT/$name.log"
			echo "not ok - $name: a corpus file fails (log: $OUT/$name.log)"
			failed=$((failed + 1))
		fi
		continue
	fi
	work=$(mktemp -d "$OUT/$name.corpus.XXXXXX")
	[ -d "$corpus" ] && cp -- "$corpus"/* "$work"/ 2>/dev/null
	if "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$OUT/$name-" \
		"$work" >"$OUT/$name.log" 2>&1; then
		runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/$name.log" | grep -oE '[0-9]+$')
		speed=$(grep -oE 'stat::average_exec_per_sec: *[0-9]+' "$OUT/$name.log" | grep -oE '[0-9]+$')
		cov=$(grep -oE 'cov: [0-9]+' "$OUT/$name.log" | tail -n 1)
		echo "ok - $name: ${runs:-?} runs, ${speed:-?} exec/s, $cov, corpus grew to $(ls "$work" | wc -l) files"
		passed=$((passed + 1))
		# KEEP_CORPUS=1 keeps the grown corpus (to merge with -merge=1).
		if [ "${KEEP_CORPUS:-0}" = 1 ]; then
			echo "   kept in $work"
		else
			rm -rf -- "$work"
		fi
	else
		tail -n 60 "$OUT/$name.log"
		echo "not ok - $name crashed (input: $(ls "$OUT/$name"-crash-* "$OUT/$name"-leak-* \
			"$OUT/$name"-timeout-* "$OUT/$name"-oom-* 2>/dev/null | tr '\n' ' '))"
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

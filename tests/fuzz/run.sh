#!/usr/bin/env bash
# Run every libFuzzer harness tests/fuzz/fuzz_*.c (built by `make fuzz-build`
# into build/fuzz/, linked against build/fuzz/libbottle-fuzz.a).
#   tests/fuzz/run.sh [SECONDS]   fuzz each harness SECONDS (default 60) on a
#                                 copy of tests/fuzz/corpus/<harness>/
#   tests/fuzz/run.sh --replay    run every corpus file once through its
#                                 harness (a cheap regression check)
#   ... HARNESS...                only those (fuzz_queue fuzz_routes)
# Prints per harness its executions, speed and coverage (edges, features).
# A crash, leak, timeout or out-of-memory input lands in
# build/fuzz/artifacts/<harness>-crash-* (the path is printed); add it to the
# corpus and a unit test once fixed.  KEEP_CORPUS=1 keeps each grown corpus.
# FUZZ_CC overrides clang.  Ends with "fuzz: N passed, N failed"; exits
# non-zero on any build failure or crash.
set -uo pipefail
cd "$(dirname "$0")/../.."

OUT=build/fuzz
ARTIFACTS=$OUT/artifacts
mode=fuzz
seconds=60

case "${1:-}" in
--replay) mode=replay ;;
'') ;;
*[!0-9]* | 0)
	echo "usage: tests/fuzz/run.sh [SECONDS | --replay] [HARNESS...]" >&2
	exit 2
	;;
*) seconds=$1 ;;
esac
[ $# -gt 0 ] && shift
sources=(tests/fuzz/fuzz_*.c)
if [ $# -gt 0 ]; then
	sources=()
	for name in "$@"; do
		if [ ! -f "tests/fuzz/$name.c" ]; then
			echo "tests/fuzz/run.sh: no harness tests/fuzz/$name.c" >&2
			exit 2
		fi
		sources+=("tests/fuzz/$name.c")
	done
fi

if ! command -v "${FUZZ_CC:-clang}" >/dev/null; then
	echo "tests/fuzz/run.sh: ${FUZZ_CC:-clang} not found (clang 14 and libclang-rt-14-dev)" >&2
	exit 2
fi
# Up to date in a second when `make fuzz` built them already.
mkdir -p "$OUT"
if ! make --no-print-directory fuzz-build >"$OUT/build.log" 2>&1; then
	tail -n 40 "$OUT/build.log"
	echo "not ok - the harnesses do not build (log: $OUT/build.log)"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
mkdir -p "$ARTIFACTS"
passed=0
failed=0

# The last value libFuzzer printed for a "stat::NAME:" or "NAME: N" field.
stat() {
	grep -oE "$1:? *[0-9]+" "$2" | tail -n 1 | grep -oE '[0-9]+$'
}

for src in "${sources[@]}"; do
	name=$(basename "$src" .c)
	bin=$OUT/$name
	corpus=tests/fuzz/corpus/$name
	log=$OUT/$name.log
	if [ "$mode" = replay ]; then
		mapfile -t files < <(find "$corpus" -type f 2>/dev/null | sort)
		if [ ${#files[@]} -eq 0 ]; then
			echo "ok - $name (no corpus)"
			passed=$((passed + 1))
			continue
		fi
		if "$bin" -runs=1 "${files[@]}" >"$log" 2>&1; then
			echo "ok - $name: ${#files[@]} corpus files"
			passed=$((passed + 1))
		else
			tail -n 40 "$log"
			echo "not ok - $name: a corpus file fails (log: $log)"
			failed=$((failed + 1))
		fi
		continue
	fi
	dict=()
	# fuzz_http1_request uses http1.dict, fuzz_routes routes.dict.
	stem=${name#fuzz_}
	stem=${stem%%_*}
	[ -f "tests/fuzz/$stem.dict" ] && dict=(-dict="tests/fuzz/$stem.dict")
	work=$(mktemp -d "$OUT/$name.corpus.XXXXXX")
	[ -d "$corpus" ] && cp -- "$corpus"/* "$work"/ 2>/dev/null
	rm -f -- "$ARTIFACTS/$name"-*
	echo "== fuzz: $name (${seconds}s)"
	if "$bin" "${dict[@]}" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$name-" \
		"$work" >"$log" 2>&1; then
		echo "ok - $name: $(stat stat::number_of_executed_units "$log") executions," \
			"$(stat stat::average_exec_per_sec "$log")/s, cov $(stat cov "$log") edges," \
			"ft $(stat ft "$log"), corpus $(find "$corpus" -type f 2>/dev/null | wc -l)" \
			"-> $(ls "$work" | wc -l) files"
		passed=$((passed + 1))
		# KEEP_CORPUS=1 keeps the grown corpus (to merge with -merge=1).
		if [ "${KEEP_CORPUS:-0}" = 1 ]; then
			echo "   kept in $work"
		else
			rm -rf -- "$work"
		fi
	else
		rm -rf -- "$work"
		tail -n 60 "$log"
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
		echo "not ok - $name failed after $(stat stat::number_of_executed_units "$log")" \
			"executions: input ${artifact:-not written} (log: $log)"
		failed=$((failed + 1))
	fi
done

echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

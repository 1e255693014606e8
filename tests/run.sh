#!/usr/bin/env bash
# Run the test suites and end with one summary line per suite.
#   tests/run.sh                 every suite
#   tests/run.sh unit style      just those
#   tests/run.sh hostile fault   the hostile-client (t81NN) or fault (t80NN)
#                                integration scripts alone (also in integration)
# Exits non-zero if any test in any suite failed.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit style fuzz-replay integration)
summary=()
overall=0

# UNIT_RUNNER, if set, is a command the unit programs run under
# (tests/sanitize.sh valgrind sets valgrind and its options).
run_unit() {
	local bin passed=0 failed=0 runner
	read -ra runner <<<"${UNIT_RUNNER:-}"
	for bin in "$BUILD"/tests/unit/test_*; do
		[ -x "$bin" ] || continue
		echo "== unit: $(basename "$bin")"
		if "${runner[@]}" "$bin"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	done
	summary+=("unit:        $passed programs passed, $failed failed")
	[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
}

run_style() {
	if tests/check-style.sh; then
		summary+=("style:       clean")
	else
		summary+=("style:       violations found (see above)")
		return 1
	fi
}

# Every fuzz corpus file once through its libFuzzer harness: crashes found
# by fuzzing stay fixed (the full fuzz run is `make fuzz`).
run_fuzz_replay() {
	if tests/fuzz/run.sh --replay; then
		summary+=("fuzz-replay: every corpus file replayed clean")
	else
		summary+=("fuzz-replay: a corpus file crashed a harness (see above)")
		return 1
	fi
}

# run_integration [NAME GLOB]: the integration scripts matching GLOB
# (default: all of them), summed up under NAME.
run_integration() {
	local name=${1:-integration} glob=${2:-t[0-9]*.sh}
	local script out passed=0 failed=0 skipped=0 skipped_tests=0 ok notok skip
	for script in tests/integration/$glob; do
		echo "== integration: $(basename "$script")"
		out=$(BUILD="$PWD/$BUILD" bash "$script" 2>&1)
		local status=$?
		echo "$out"
		# "ok N - what # skip why" is a test that did not run: not a pass.
		skip=$(grep -c '^ok .* # skip ' <<<"$out")
		ok=$(($(grep -c '^ok ' <<<"$out") - skip))
		notok=$(grep -c '^not ok ' <<<"$out")
		passed=$((passed + ok))
		skipped_tests=$((skipped_tests + skip))
		failed=$((failed + notok))
		grep -q '^# skip' <<<"$out" && skipped=$((skipped + 1))
		if [ "$status" -ne 0 ] && [ "$notok" -eq 0 ]; then
			echo "not ok - $(basename "$script") exited $status"
			failed=$((failed + 1))
		fi
	done
	summary+=("$(printf "%-12s" "$name:") $passed tests passed, $failed failed, $skipped_tests tests and $skipped scripts skipped")
	[ "$failed" -eq 0 ]
}

for suite in "${suites[@]}"; do
	case "$suite" in
	unit | style | integration) "run_$suite" || overall=1 ;;
	fuzz-replay) run_fuzz_replay || overall=1 ;;
	hostile) run_integration hostile "t81[0-9][0-9]-hostile-*.sh" || overall=1 ;;
	fault) run_integration fault "t80[0-9][0-9]-fault-*.sh" || overall=1 ;;
	*) echo "tests/run.sh: unknown suite '$suite' (unit, style, fuzz-replay, integration, hostile, fault)" >&2; exit 2 ;;
	esac
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$overall"

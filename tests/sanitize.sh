#!/usr/bin/env bash
# Run the test suites on a sanitizer build and fail on any report.
#   tests/sanitize.sh asan       unit and integration suites on build/asan
#                                (ASan + UBSan; `make asan` builds it first)
#   tests/sanitize.sh valgrind   the unit suite under valgrind memcheck on
#                                build/glibc (`make valgrind` builds it first)
# docs/testing.md says what runs, what is skipped and why, and how a
# suppression is added.  Exits non-zero if a test failed or a sanitizer
# reported anything, in any process, even one whose test passed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SUPPRESSIONS=$ROOT/tests/sanitizers

run_asan() {
	local reports=$ROOT/build/asan/reports status report count
	rm -rf "$reports"
	mkdir -p "$reports"
	# Daemons the tests start as other users (init's children, setpriv) write
	# their reports here too.
	chmod 1777 "$reports"
	export BOTTLE_SANITIZER=asan
	# ASAN_OPTIONS, UBSAN_OPTIONS and LSAN_OPTIONS are compiled into each
	# build/asan program (tests/sanitizers/default_options.c): one report
	# file per process in $reports, detect_leaks, abort_on_error,
	# halt_on_error, the suppressions.  Any set here would still win.
	BUILD=build/asan tests/run.sh unit integration
	status=$?
	count=0
	for report in "$reports"/*; do
		[ -f "$report" ] || continue
		count=$((count + 1))
		echo
		echo "== sanitizer report $report"
		cat "$report"
	done
	echo
	if [ "$count" -gt 0 ]; then
		echo "asan: $count sanitizer report(s) above (kept in $reports)"
		return 1
	fi
	echo "asan: no sanitizer reports"
	return "$status"
}

run_valgrind() {
	if ! command -v valgrind >/dev/null; then
		echo "tests/sanitize.sh: valgrind not found (scripts/install-build-tools.sh installs it)" >&2
		return 2
	fi
	# definite and indirect leaks are errors; "possibly lost" blocks are
	# pointers into the middle of a block that valgrind cannot tell from a
	# leak (pcre2's JIT, interior pointers): shown by --show-leak-kinds=all
	# if needed, not counted.
	local valgrind=(valgrind --quiet --error-exitcode=1 --leak-check=full
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
		--suppressions="$SUPPRESSIONS/valgrind.supp")
	export UNIT_RUNNER="${valgrind[*]}"
	export BOTTLE_SANITIZER=valgrind
	BUILD=build/glibc tests/run.sh unit
}

case "${1:-}" in
asan) run_asan ;;
valgrind) run_valgrind ;;
*)
	echo "usage: tests/sanitize.sh asan | valgrind" >&2
	exit 2
	;;
esac

# Shared helpers for integration tests, git-style.  Source it from a test
# script named tNNNN-area-detail.sh:
#
#   . "$(dirname "$0")/lib.sh"
#   test_expect_success 'what it proves' '
#       commands that fail the test by returning non-zero
#   '
#   test_done
#
# Each test runs in its own subshell inside a fresh scratch directory
# ($TEST_DIR), prints "ok N - ..." or "not ok N - ...", and shows the
# command's output only when it failed.  test_skip_unless CMD skips the whole
# script (exit 0, "# skip") when a prerequisite is missing.

set -u

TEST_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$TEST_ROOT/build}
SIDECAR=${SIDECAR:-$BUILD/sidecar}
HELPERS=${HELPERS:-$BUILD/tests/helpers}
export CONTAINERS_CONF=${CONTAINERS_CONF:-$TEST_ROOT/scripts/containers.conf}
TEST_NAME=$(basename "$0" .sh)
TEST_SCRATCH=$(mktemp -d "/tmp/bottle-$TEST_NAME.XXXXXX")
test_count=0
test_failed=0
test_cleanups=()

# Register a command to run when the script ends, whatever happened.
test_at_exit() {
	test_cleanups+=("$1")
}

test_run_cleanups() {
	local i
	for ((i = ${#test_cleanups[@]} - 1; i >= 0; i--)); do
		eval "${test_cleanups[$i]}" >/dev/null 2>&1 || true
	done
	rm -rf "$TEST_SCRATCH"
}
trap test_run_cleanups EXIT

test_expect_success() {
	local description=$1 body=$2 log status
	test_count=$((test_count + 1))
	TEST_DIR="$TEST_SCRATCH/$test_count"
	mkdir -p "$TEST_DIR"
	log="$TEST_DIR.log"
	(cd "$TEST_DIR" && set -e && eval "$body") >"$log" 2>&1
	status=$?
	if [ "$status" -eq 0 ]; then
		echo "ok $test_count - $description"
	else
		test_failed=$((test_failed + 1))
		echo "not ok $test_count - $description (exit $status)"
		sed 's/^/#   /' "$log"
	fi
}

test_skip_unless() {
	if ! command -v "$1" >/dev/null 2>&1; then
		echo "# skip $TEST_NAME: $1 is not installed"
		exit 0
	fi
}

# Under `make asan` (tests/sanitize.sh) BOTTLE_SANITIZER names the sanitizer
# and $BUILD holds dynamic glibc binaries: they cannot run in the FROM scratch
# image, and they are neither static nor stripped.  A script or a test that
# needs the shipped binary says so with one of these.
test_skip_if_sanitized() {
	if [ -n "${BOTTLE_SANITIZER:-}" ]; then
		echo "# skip $TEST_NAME: $1 (not under $BOTTLE_SANITIZER)"
		exit 0
	fi
}

# Whether this run is on a sanitizer build: for a single check that means
# nothing there (a memory bound: ASan's shadow and quarantine count in RSS).
test_sanitized() {
	[ -n "${BOTTLE_SANITIZER:-}" ]
}

# test_expect_success_unless_sanitized REASON DESCRIPTION BODY: the test,
# or under a sanitizer an "ok N - DESCRIPTION # skip REASON" line.
test_expect_success_unless_sanitized() {
	if [ -n "${BOTTLE_SANITIZER:-}" ]; then
		test_count=$((test_count + 1))
		echo "ok $test_count - $2 # skip $1 (not under $BOTTLE_SANITIZER)"
		return 0
	fi
	test_expect_success "$2" "$3"
}

test_done() {
	echo "# $TEST_NAME: $((test_count - test_failed)) passed, $test_failed failed"
	[ "$test_failed" -eq 0 ]
}

# A free TCP port on loopback, never one this script already handed out,
# and below the ephemeral range so no outgoing connection can hold it by
# the time a server binds it.
free_port_top=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
free_port_top=${free_port_top:-32768}
free_port() {
	local port
	while :; do
		port=$((10000 + RANDOM % (free_port_top - 10000)))
		grep -qx "$port" "$TEST_SCRATCH/ports" 2>/dev/null && continue
		ss -Htan "sport = :$port" | grep -q . && continue
		echo "$port" >>"$TEST_SCRATCH/ports"
		echo "$port"
		return
	done
}

# Poll CONDITION (a shell command) every 50 ms for at most SECONDS seconds.
wait_for() {
	local seconds=$1 condition=$2 tries
	tries=$((seconds * 20))
	while [ "$tries" -gt 0 ]; do
		if eval "$condition"; then
			return 0
		fi
		sleep 0.05
		tries=$((tries - 1))
	done
	echo "timed out after ${seconds}s waiting for: $condition" >&2
	return 1
}

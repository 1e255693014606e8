# Helpers for the init tests (t1000, t1010, t1100); source after lib.sh.
# Each test body runs in its own subshell and scratch directory: these
# helpers keep their state in shell variables of that subshell and leave
# nothing running when it ends (an EXIT trap).
#
#   init_start_ns CONFIG     init as PID 1 of a new PID namespace
#   init_start_plain CONFIG  init as an ordinary process (a subreaper)
#   init_wait_exit SECONDS   wait for init to end; its status in INIT_STATUS
#   ctl ARGS...              sidecar initctl on this test's socket
#   in_ns CMD...             run CMD in init's PID and mount namespaces
#   host_pid NSPID           the host pid of init's child NSPID (its pid
#                            inside the namespace)
#   log_count REGEX [FILE]   how many lines of FILE (default log) match
#   expect_status N CMD...   run CMD; succeed iff it exited with status N

TESTPROC=$HELPERS/testproc
INIT_PID=
INIT_JOB=
INIT_STATUS=

# Every process under $1 (children first), from ps.
tree_pids() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ parent[$1] = $2; pids[NR] = $1 }
		END {
			changed = 1; mark[root] = 1
			while (changed) {
				changed = 0
				for (i in pids) { p = pids[i]
					if (!(p in mark) && (parent[p] in mark)) { mark[p] = 1; changed = 1 } }
			}
			for (p in mark) if (p != root) print p
		}'
}

init_cleanup() {
	local pids
	if [ -n "$INIT_PID" ] && [ -d "/proc/$INIT_PID" ]; then
		kill -STOP "$INIT_PID" 2>/dev/null
		pids=$(tree_pids "$INIT_PID")
		kill -KILL $pids "$INIT_PID" 2>/dev/null
	fi
	[ -n "$INIT_JOB" ] && kill -KILL "$INIT_JOB" 2>/dev/null
	[ -n "$INIT_JOB" ] && wait "$INIT_JOB" 2>/dev/null
	return 0
}

# init's (or unshare's) process has ended: gone, or a zombie awaiting wait.
init_exited() {
	local state
	state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Z]).*/\1/' "/proc/$INIT_JOB/stat" 2>/dev/null) || return 0
	[ -z "$state" ] || [ "$state" = Z ]
}

init_start_ns() {
	unshare -fp --mount-proc "$SIDECAR" init --config "$1" >init.log 2>&1 &
	INIT_JOB=$!
	trap init_cleanup EXIT
	wait_for 5 'INIT_PID=$(cat /proc/$INIT_JOB/task/$INIT_JOB/children 2>/dev/null | tr -d " ") && [ -n "$INIT_PID" ]'
	wait_for 5 'grep -q "^init: starting as pid 1 " init.log'
}

init_start_plain() {
	"$SIDECAR" init --config "$1" >init.log 2>&1 &
	INIT_JOB=$!
	INIT_PID=$INIT_JOB
	trap init_cleanup EXIT
	wait_for 5 'grep -q "^init: starting as pid $INIT_PID " init.log'
}

init_wait_exit() {
	wait_for "$1" init_exited || { echo "init did not exit; its log:"; cat init.log; return 1; }
	INIT_STATUS=0
	wait "$INIT_JOB" || INIT_STATUS=$?
	INIT_PID=
	INIT_JOB=
	echo "init exited with status $INIT_STATUS"
}

ctl() {
	"$SIDECAR" initctl --socket "$PWD/init.sock" "$@"
}

in_ns() {
	nsenter -t "$INIT_PID" -p -m "$@"
}

host_pid() {
	local p
	for p in $(cat /proc/"$INIT_PID"/task/*/children); do
		if [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$p/status" 2>/dev/null)" = "$1" ]; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

log_count() {
	grep -cE "$1" "${2:-log}" 2>/dev/null || true
}

# Show init's log when a check fails: `check CONDITION` is `eval CONDITION`
# with the log printed on failure.
check() {
	if ! eval "$1"; then
		echo "check failed: $1"
		echo "--- init.log"; cat init.log 2>/dev/null
		echo "--- log"; cat log 2>/dev/null
		return 1
	fi
}

expect_status() {
	local want=$1 got=0
	shift
	"$@" || got=$?
	[ "$got" -eq "$want" ] || { echo "expected status $want, got $got from: $*" >&2; return 1; }
}

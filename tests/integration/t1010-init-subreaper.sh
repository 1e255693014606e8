#!/usr/bin/env bash
# sidecar init as an ordinary process (not PID 1): it makes itself a child
# subreaper, so orphans of its daemons come to it and are reaped; and it
# exits only when every descendant is gone, killing stragglers itself (no
# kernel tears down a namespace for it here, unlike tini's exit-early).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/init-lib.sh"

# pid=P from the first "NAME start" line of the log.
pid_of() {
	sed -n "s/^$1 start pid=\([0-9]*\) .*/\1/p" log | head -n1
}

ppid_of() {
	sed -E 's/^[0-9]+ \(.*\) [A-Z] ([0-9]+) .*/\1/' "/proc/$1/stat" 2>/dev/null
}

gone() {
	[ ! -e "/proc/$1" ]
}

test_expect_success 'not PID 1: orphans are re-parented to init and reaped' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: parent
	    argv: [$TESTPROC, run, --log, $PWD/log, --spawn-orphans, 3, --orphan-life, 1500, --orphans-setsid]
	EOF
	init_start_plain init.yaml &&
	[ "$INIT_PID" != 1 ] &&
	wait_for 5 "[ \$(log_count \"^orphan start\") -eq 3 ]" &&
	orphans=$(sed -n "s/^orphan start pid=\([0-9]*\) .*/\1/p" log) &&
	for pid in $orphans; do
		wait_for 5 "[ \"\$(ppid_of $pid)\" = $INIT_PID ]" || exit 1
	done &&
	wait_for 10 "[ \$(log_count \"^orphan exit 0\") -eq 3 ]" &&
	for pid in $orphans; do
		wait_for 5 "gone $pid" || exit 1
		grep -q "^init: reaped orphan pid $pid (status 0)$" init.log || exit 1
	done &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'not PID 1: a grandchild that left the group gets SIGTERM once orphaned, no SIGKILL needed' '
	cat >init.yaml <<-EOF &&
	grace_period: 20s
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha, --grandchild-setsid, --term-delay, 500]
	EOF
	init_start_plain init.yaml &&
	wait_for 5 "grep -q \"^grandchild start\" log" &&
	grandchild=$(pid_of grandchild) &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 15 &&
	cat log &&
	check "[ \$INIT_STATUS -eq 0 ]" &&
	grep -qx "alpha signal SIGTERM" log &&
	grep -qx "grandchild signal SIGTERM" log &&
	grep -qx "grandchild exit 0" log &&
	gone "$grandchild" &&
	grep -q "^init: reaped orphan pid $grandchild (status 0)$" init.log &&
	grep -q "^init: received SIGTERM; stopping 1 daemon with SIGTERM" init.log &&
	! grep -q "grace period over" init.log
'

test_expect_success 'not PID 1: init outlasts a SIGTERM-ignoring grandchild, kills it, exits 5' '
	cat >init.yaml <<-EOF &&
	grace_period: 1s
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha, --grandchild-setsid, --grandchild-ignores-term]
	EOF
	init_start_plain init.yaml &&
	wait_for 5 "grep -q \"^grandchild start\" log" &&
	grandchild=$(pid_of grandchild) &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 20 &&
	cat log &&
	check "[ \$INIT_STATUS -eq 5 ]" &&
	grep -qx "alpha exit 0" log &&
	grep -qx "grandchild signal SIGTERM" log &&
	gone "$grandchild" &&
	grep -q "^init: grace period over; killing 1 remaining process$" init.log &&
	grep -q "^init: reaped orphan pid $grandchild (killed by SIGKILL, status 137)$" init.log
'

test_expect_success 'not PID 1: a SIGTERM-ignoring daemon and its group are killed; nothing survives init' '
	cat >init.yaml <<-EOF &&
	grace_period: 1s
	control_socket: $PWD/init.sock
	daemons:
	  - name: stubborn
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, stubborn, --ignore-term, --grandchild-ignores-term]
	  - name: polite
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, polite]
	EOF
	init_start_plain init.yaml &&
	wait_for 5 "[ \$(log_count \"^(stubborn|grandchild|polite) start\") -eq 3 ]" &&
	pids="$(pid_of stubborn) $(pid_of grandchild) $(pid_of polite)" &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 20 &&
	check "[ \$INIT_STATUS -eq 5 ]" &&
	for pid in $pids; do gone "$pid" || { echo "$pid survived init"; exit 1; }; done &&
	grep -q "^init: grace period over; killing 2 remaining processes$" init.log
'

test_expect_success 'not PID 1: crashed daemons restart, statuses and initctl work the same' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: crashy
	    argv: [$TESTPROC, run, --log, $PWD/log, --crash-after, 200]
	    backoff: {initial: 50ms, max: 50ms}
	    give_up: {failures: 100, within: 1m}
	EOF
	init_start_plain init.yaml &&
	wait_for 10 "[ \$(grep -c \"^init: crashy started\" init.log) -ge 3 ]" &&
	grep -q "^init: crashy killed by SIGSEGV (status 139)" init.log &&
	ctl stop >reply && grep -qx "ok stopping" reply &&
	init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_done

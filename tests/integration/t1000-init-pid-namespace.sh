#!/usr/bin/env bash
# sidecar init as PID 1 of a fresh PID namespace (unshare -fp --mount-proc),
# supervising tests/helpers/testproc daemons: every behaviour of
# docs/init.md proved with real processes, signals and exit codes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/init-lib.sh"
test_skip_unless unshare
test_skip_unless nsenter
if ! unshare -fp --mount-proc true 2>/dev/null; then
	echo "# skip $TEST_NAME: cannot create PID namespaces here"
	exit 0
fi

test_expect_success 'no daemons: PID 1, ready at once, clean exit 0 on SIGTERM' '
	cat >init.yaml <<-EOF &&
	grace_period: 5s
	control_socket: $PWD/init.sock
	daemons: []
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "ctl status >status" &&
	check "grep -qx \"bundle ready\" status" &&
	check "grep -q \"^init: bundle ready (0 daemons)\" init.log" &&
	[ "$(stat -c %a init.sock)" = 666 ] &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 10 &&
	[ "$INIT_STATUS" -eq 0 ] &&
	[ ! -e init.sock ] &&
	grep -q "^init: received SIGTERM; stopping 0 daemons" init.log &&
	grep -q "^init: exiting with status 0" init.log
'

test_expect_success 'orphans re-parented to init are reaped: zero zombies' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: parent
	    argv: [$TESTPROC, run, --log, $PWD/log, --spawn-orphans, 4, --orphan-life, 300]
	EOF
	init_start_ns init.yaml &&
	wait_for 10 "[ \$(log_count \"^orphan exit 0\") -eq 4 ]" &&
	wait_for 10 "[ \$(grep -c \"^init: reaped orphan pid\" init.log) -eq 4 ]" &&
	wait_for 5 "[ \"\$(in_ns $TESTPROC zombies)\" = 0 ]" &&
	in_ns $TESTPROC ps >ps && cat ps &&
	! grep -q " Z " ps &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'SIGTERM reaches every daemon, its group (grandchild) and other children' '
	cat >init.yaml <<-EOF &&
	grace_period: 10s
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha, --spawn-grandchild]
	  - name: beta
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, beta, --spawn-orphans, 1, --orphan-life, 600000, --orphans-setsid]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "[ \$(log_count \"^(alpha|beta|grandchild|orphan) start\") -eq 4 ]" &&
	wait_for 5 "ctl status >/dev/null" &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 15 &&
	cat log &&
	check "[ \$INIT_STATUS -eq 0 ]" &&
	check "grep -qx \"alpha signal SIGTERM\" log" &&
	check "grep -qx \"beta signal SIGTERM\" log" &&
	check "grep -qx \"grandchild signal SIGTERM\" log" &&
	check "grep -qx \"orphan signal SIGTERM\" log" &&
	grep -q "^init: received SIGTERM; stopping 2 daemons and 1 other process with SIGTERM (grace 10s)" init.log
'

test_expect_success 'SIGINT and SIGQUIT stop the bundle with that same signal' '
	for sig in INT QUIT; do
		rm -f log init.log &&
		cat >init.yaml <<-EOF &&
		control_socket: $PWD/init.sock
		daemons:
		  - name: alpha
		    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha]
		EOF
		init_start_ns init.yaml &&
		wait_for 5 "grep -q \"^alpha start\" log" &&
		kill -$sig "$INIT_PID" &&
		init_wait_exit 10 &&
		[ "$INIT_STATUS" -eq 0 ] &&
		check "grep -qx \"alpha signal SIG$sig\" log" &&
		grep -q "^init: received SIG$sig; stopping 1 daemon with SIG$sig" init.log || exit 1
	done
'

test_expect_success 'SIGHUP is forwarded to every daemon group and init keeps running' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha, --spawn-grandchild]
	  - name: beta
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, beta]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "[ \$(log_count \"^(alpha|beta|grandchild) start\") -eq 3 ]" &&
	kill -HUP "$INIT_PID" &&
	wait_for 5 "[ \$(log_count \" signal SIGHUP\$\") -eq 3 ]" &&
	grep -qx "grandchild signal SIGHUP" log &&
	grep -q "^init: received SIGHUP; forwarded to 2 daemons" init.log &&
	ctl status >status && grep -qx "bundle ready" status &&
	[ "$(log_count " exit ")" -eq 0 ] &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'a crashed daemon is restarted (new pid), its crash reported as 128+signal' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: crashy
	    argv: [$TESTPROC, run, --log, $PWD/log, --crash-after, 300]
	    backoff: {initial: 100ms, max: 1s}
	    give_up: {failures: 100, within: 1m}
	EOF
	init_start_ns init.yaml &&
	wait_for 10 "[ \$(log_count \"^main start\") -ge 3 ]" &&
	[ "$(grep "^main start" log | sort -u | wc -l)" -ge 3 ] &&
	grep "^init: crashy killed by SIGSEGV (status 139) after [0-9.]*s; restarting in 100ms (failure 1 of 100 within 1m)" init.log &&
	grep "^init: crashy killed by SIGSEGV (status 139) after [0-9.]*s; restarting in 200ms (failure 2 of 100 within 1m)" init.log &&
	[ "$(grep -c "^init: crashy started (pid" init.log)" -ge 3 ] &&
	{ ctl status >status || true; } &&
	cat status &&
	grep -qE "^crashy (running|backoff) ([0-9]+|-) [1-9][0-9]* " status &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'a required daemon that crash-loops is given up on: bundle stops, exit 4' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: steady
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, steady]
	  - name: crashy
	    argv: [$TESTPROC, run, --exit-after, 10, 1]
	    backoff: {initial: 20ms, max: 100ms}
	    give_up: {failures: 3, within: 30s}
	EOF
	init_start_ns init.yaml &&
	init_wait_exit 15 &&
	check "[ \$INIT_STATUS -eq 4 ]" &&
	[ "$(grep -c "^init: crashy started" init.log)" -eq 3 ] &&
	grep -q "^init: crashy exited with status 1 after [0-9.]*s (failure 3 of 3 within 30s)$" init.log &&
	grep -q "^init: crashy crash-looping (3 failures within 30s); giving up$" init.log &&
	grep -q "^init: required daemon crashy given up on; stopping 1 daemon with SIGTERM" init.log &&
	grep -qx "steady signal SIGTERM" log &&
	grep -q "^init: exiting with status 4$" init.log
'

test_expect_success 'a non-required crash-looper is given up on; the bundle runs on, degraded' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: steady
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, steady]
	  - name: crashy
	    argv: [$TESTPROC, run, --crash-after, 10]
	    required: false
	    backoff: {initial: 20ms, max: 100ms}
	    give_up: {failures: 2, within: 30s}
	EOF
	init_start_ns init.yaml &&
	wait_for 10 "grep -q \"crashy crash-looping (2 failures within 30s); giving up\" init.log" &&
	wait_for 5 "grep -q \"^init: bundle degraded (1 daemon failed for good)\" init.log" &&
	expect_status 1 ctl status >status &&
	cat status &&
	grep -qE "^crashy failed - 1 not-ready$" status &&
	grep -qE "^steady running [0-9]+ 0 ready$" status &&
	grep -qx "bundle degraded" status &&
	ctl restart crashy >reply &&
	cat reply && grep -q "^ok restarted crashy (pid [0-9]*)$" reply &&
	grep -q "^init: starting crashy on request" init.log &&
	wait_for 10 "[ \$(grep -c \"crashy crash-looping\" init.log) -eq 2 ]" &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'a daemon ignoring SIGTERM is SIGKILLed after the grace period: exit 5' '
	cat >init.yaml <<-EOF &&
	grace_period: 1s
	control_socket: $PWD/init.sock
	daemons:
	  - name: stubborn
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, stubborn, --ignore-term]
	  - name: polite
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, polite]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "[ \$(log_count \"^(stubborn|polite) start\") -eq 2 ]" &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 20 &&
	check "[ \$INIT_STATUS -eq 5 ]" &&
	grep -qx "stubborn signal SIGTERM" log &&
	! grep -q "^stubborn exit" log &&
	grep -qx "polite exit 0" log &&
	grep -q "^init: grace period over; killing 1 remaining process$" init.log &&
	grep -q "^init: stubborn killed by SIGKILL (status 137)" init.log &&
	grep -q "^init: exiting with status 5$" init.log
'

test_expect_success 'a grandchild ignoring SIGTERM keeps init waiting, then is SIGKILLed' '
	cat >init.yaml <<-EOF &&
	grace_period: 1s
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha, --grandchild-ignores-term]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "grep -q \"^grandchild start\" log" &&
	kill -TERM "$INIT_PID" &&
	init_wait_exit 20 &&
	cat log &&
	check "[ \$INIT_STATUS -eq 5 ]" &&
	grep -qx "alpha exit 0" log &&
	grep -qx "grandchild signal SIGTERM" log &&
	grep -q "^init: alpha exited with status 0" init.log &&
	grep -q "^init: grace period over; killing 1 remaining process$" init.log &&
	grep -q "^init: reaped orphan pid [0-9]* (killed by SIGKILL, status 137)" init.log
'

test_expect_success 'exit codes: a required daemon exiting 7 ends the bundle with 7' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: other
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, other]
	  - name: job
	    argv: [$TESTPROC, run, --exit-after, 100, 7]
	    restart: never
	EOF
	init_start_ns init.yaml &&
	init_wait_exit 10 &&
	check "[ \$INIT_STATUS -eq 7 ]" &&
	grep -q "^init: job exited with status 7 after [0-9.]*s; not restarting (restart: never)$" init.log &&
	grep -q "^init: required daemon job failed; stopping 1 daemon" init.log &&
	grep -qx "other signal SIGTERM" log
'

test_expect_success 'exit codes: a daemon killed by a signal ends the bundle with 128+signal' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: job
	    argv: [$TESTPROC, run, --crash-after, 50]
	    restart: on-failure
	    give_up: {failures: 1, within: 10s}
	    required: false
	  - name: victim
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, victim]
	    restart: never
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "grep -q \"^victim start\" log" &&
	wait_for 5 "grep -q \"job crash-looping\" init.log" &&
	pid=$(sed -n "s/^victim start pid=\([0-9]*\) .*/\1/p" log) &&
	kill -KILL "$(host_pid "$pid")" &&
	init_wait_exit 10 &&
	check "[ \$INIT_STATUS -eq 137 ]" &&
	grep -q "^init: job killed by SIGSEGV (status 139) after [0-9.]*s (failure 1 of 1 within 10s)$" init.log &&
	grep -q "^init: victim killed by SIGKILL (status 137) after [0-9.]*s; not restarting (restart: never)$" init.log &&
	grep -q "^init: exiting with status 137$" init.log &&
	rm -f log &&
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: job
	    argv: [$TESTPROC, run, --crash-after, 50]
	    restart: never
	EOF
	init_start_ns init.yaml &&
	init_wait_exit 10 &&
	check "[ \$INIT_STATUS -eq 139 ]"
'

test_expect_success 'exit codes: all daemons done: 0 if all succeeded, else the last failure' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - {name: one, argv: [$TESTPROC, exit, 0], restart: never}
	  - {name: two, argv: [$TESTPROC, exit, 0], restart: on-failure}
	EOF
	init_start_ns init.yaml &&
	init_wait_exit 10 &&
	check "[ \$INIT_STATUS -eq 0 ]" &&
	grep -q "^init: every daemon has ended; stopping 0 daemons" init.log &&
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - {name: one, argv: [$TESTPROC, run, --exit-after, 100, 9], restart: never, required: false}
	  - {name: two, argv: [$TESTPROC, run, --exit-after, 400, 0], restart: never}
	EOF
	init_start_ns init.yaml &&
	init_wait_exit 10 &&
	check "[ \$INIT_STATUS -eq 9 ]"
'

test_expect_success 'exit codes: config errors exit 3 naming file:line:col; usage exits 2' '
	cat >bad.yaml <<-EOF &&
	daemons:
	  - name: a
	    argv: [/bin/true]
	    restart: sometimes
	EOF
	expect_status 3 "$SIDECAR" init --config bad.yaml 2>err &&
	cat err &&
	grep -qx "init: error: bad.yaml:4:14: daemons\[0\].restart: expected always, on-failure or never, got '"'"'sometimes'"'"'" err &&
	expect_status 3 "$SIDECAR" init --config missing.yaml 2>err &&
	grep -qx "init: error: unable to open '"'"'missing.yaml'"'"': No such file or directory" err &&
	expect_status 2 "$SIDECAR" init --bogus 2>err &&
	grep -q "^usage: sidecar init" err &&
	printf "daemons: []\n" >good.yaml &&
	"$SIDECAR" init --check --config good.yaml >out && grep -qx "good.yaml: ok, 0 daemons" out
'

test_expect_success 'a program that cannot be executed is a start failure, not a crash' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: ghost
	    argv: [/nonexistent/ghost, --flag]
	    restart: never
	EOF
	init_start_ns init.yaml &&
	init_wait_exit 10 &&
	check "[ \$INIT_STATUS -eq 127 ]" &&
	grep -q "^init: ghost failed to start: exec '"'"'/nonexistent/ghost'"'"': No such file or directory; not restarting (restart: never)$" init.log &&
	! grep -q "ghost started" init.log
'

test_expect_success 'readiness: starting until every daemon wrote its ready line, then ready' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: slow
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, slow, --ready-fd, 5, --ready-on-file, $PWD/go]
	    ready_fd: 5
	  - name: plain
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, plain]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "[ \$(log_count \"^(slow|plain) start\") -eq 2 ]" &&
	expect_status 1 ctl status >status &&
	cat status &&
	grep -qE "^slow running [0-9]+ 0 not-ready$" status &&
	grep -qE "^plain running [0-9]+ 0 ready$" status &&
	grep -qx "bundle starting" status &&
	! grep -q "bundle ready" init.log &&
	touch go &&
	wait_for 10 "ctl status >status" &&
	grep -qE "^slow running [0-9]+ 0 ready$" status &&
	grep -qx "bundle ready" status &&
	grep -q "^init: slow ready$" init.log &&
	grep -q "^init: bundle ready (2 daemons)$" init.log &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'reload: the reload signal reaches the group; an open ready fd confirms it' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: confirmer
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, confirmer, --ready-fd, 3, --ready-on-hup, --spawn-grandchild]
	    ready_fd: 3
	  - name: silent
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, silent]
	    reload_signal: SIGUSR1
	  - name: closer
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, closer, --ready-fd, 3, --close-ready]
	    ready_fd: 3
	EOF
	init_start_ns init.yaml &&
	wait_for 10 "ctl status >/dev/null" &&
	ctl reload confirmer >reply && cat reply &&
	grep -qx "ok reloaded confirmer" reply &&
	grep -qx "confirmer signal SIGHUP" log &&
	wait_for 5 "grep -qx \"grandchild signal SIGHUP\" log" &&
	[ "$(log_count "^confirmer ready")" -eq 2 ] &&
	ctl reload silent >reply && grep -qx "ok signalled silent" reply &&
	wait_for 5 "grep -qx \"silent signal SIGUSR1\" log" &&
	ctl reload closer >reply && grep -qx "ok signalled closer" reply &&
	wait_for 5 "grep -qx \"closer signal SIGHUP\" log" &&
	expect_status 1 ctl reload nosuch >reply &&
	grep -qx "error no daemon named '"'"'nosuch'"'"'" reply &&
	grep -q "^init: reloading confirmer (SIGHUP to process group [0-9]*)$" init.log &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'restart on request: a new pid, answered once it is ready again' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha, --ready-fd, 3, --ready-after, 200]
	    ready_fd: 3
	EOF
	init_start_ns init.yaml &&
	wait_for 10 "ctl status >status" &&
	old=$(sed -n "s/^alpha running \([0-9]*\) .*/\1/p" status) &&
	ctl restart alpha >reply && cat reply &&
	new=$(sed -n "s/^ok restarted alpha (pid \([0-9]*\))$/\1/p" reply) &&
	[ -n "$new" ] && [ "$new" != "$old" ] &&
	ctl status >status && grep -qE "^alpha running $new 1 ready$" status &&
	grep -qx "alpha signal SIGTERM" log &&
	[ "$(log_count "^alpha ready")" -eq 2 ] &&
	grep -q "^init: alpha exited with status 0 after [0-9.]*s; starting it again as requested$" init.log &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'initctl stop shuts the bundle down cleanly' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "ctl status >/dev/null" &&
	ctl stop >reply && grep -qx "ok stopping" reply &&
	init_wait_exit 10 &&
	[ "$INIT_STATUS" -eq 0 ] &&
	grep -qx "alpha signal SIGTERM" log &&
	grep -q "^init: stop requested; stopping 1 daemon" init.log
'

test_expect_success 'no fds leak into daemons: only 0, 1, 2 and the ready fd' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: first
	    argv: [$TESTPROC, run, --report-fds, $PWD/fds-first, --ready-fd, 4]
	    ready_fd: 4
	  - name: second
	    argv: [$TESTPROC, run, --report-fds, $PWD/fds-second]
	  - name: third
	    argv: [$TESTPROC, run, --report-fds, $PWD/fds-third, --ready-fd, 3]
	    ready_fd: 3
	EOF
	exec 7>leak 8<init.yaml &&
	init_start_ns init.yaml &&
	exec 7>&- 8<&- &&
	wait_for 10 "ctl status >/dev/null" &&
	cat fds-first fds-second fds-third &&
	grep -qx "fds 0 1 2 4" fds-first &&
	grep -qx "fds 0 1 2" fds-second &&
	grep -qx "fds 0 1 2 3" fds-third &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'a daemon environment is exactly PATH, env and the inherited names' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: a
	    argv: [$TESTPROC, run, --report-env, $PWD/env-a]
	    env: {MODE: strict, EMPTY: ""}
	    env_inherit: [KEEP_ME, NOT_SET_ANYWHERE]
	  - name: b
	    argv: [$TESTPROC, run, --report-env, $PWD/env-b]
	    env: {PATH: /only/here}
	EOF
	export KEEP_ME=kept DROP_ME=dropped &&
	unset NOT_SET_ANYWHERE &&
	init_start_ns init.yaml &&
	wait_for 10 "ctl status >/dev/null" &&
	sort env-a >got-a &&
	printf "%s\n" EMPTY= KEEP_ME=kept MODE=strict \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin | sort >want-a &&
	diff want-a got-a &&
	printf "PATH=/only/here\n" >want-b && diff want-b env-b &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'user and workdir: privileges dropped before exec' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: numeric
	    argv: [$TESTPROC, run, --report-ids, $PWD/ids-numeric]
	    user: "65534:65534"
	    workdir: /tmp
	  - name: named
	    argv: [$TESTPROC, run, --report-ids, $PWD/ids-named]
	    user: nobody
	EOF
	chmod 0711 "$TEST_SCRATCH" && chmod 0777 . &&
	init_start_ns init.yaml &&
	wait_for 10 "ctl status >/dev/null" &&
	cat ids-numeric ids-named &&
	grep -qx "uid=65534 gid=65534 groups= cwd=/tmp" ids-numeric &&
	grep -qE "^uid=$(id -u nobody) gid=$(id -g nobody) groups=[0-9,]* cwd=/$" ids-named &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'the control socket: a daemon user may ask status and reload only' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run, --log, $PWD/log, --name, alpha]
	  - name: unprivileged
	    argv: [$TESTPROC, run]
	    user: "65534:65534"
	EOF
	chmod 0711 "$TEST_SCRATCH" && chmod 0777 . &&
	init_start_ns init.yaml &&
	wait_for 10 "ctl status >/dev/null" &&
	as_daemon="setpriv --reuid 65534 --regid 65534 --clear-groups" &&
	as_stranger="setpriv --reuid 12345 --regid 12345 --clear-groups" &&
	$as_daemon "$SIDECAR" initctl --socket "$PWD/init.sock" status >status &&
	grep -q "^alpha running" status &&
	$as_daemon "$SIDECAR" initctl --socket "$PWD/init.sock" reload alpha >reply &&
	grep -qx "ok signalled alpha" reply &&
	! $as_daemon "$SIDECAR" initctl --socket "$PWD/init.sock" stop >reply 2>&1 &&
	grep -q "permission denied: a daemon may ask for status and reload only" reply &&
	! $as_daemon "$SIDECAR" initctl --socket "$PWD/init.sock" restart alpha >reply 2>&1 &&
	grep -q "permission denied" reply &&
	! $as_stranger "$SIDECAR" initctl --socket "$PWD/init.sock" status >reply 2>&1 &&
	! grep -q "^alpha" reply &&
	ctl status >/dev/null &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'the control socket: bounded requests, a silent client blocks nothing' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons:
	  - name: alpha
	    argv: [$TESTPROC, run]
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "ctl status >/dev/null" || exit 1
	$TESTPROC hold init.sock 8000 >held &
	holder=$!
	wait_for 5 "ctl status >status" && grep -qx "bundle ready" status &&
	$TESTPROC ask init.sock "$(head -c 600 /dev/zero | tr "\0" x)" >reply &&
	grep -qx "error request longer than 256 bytes" reply &&
	$TESTPROC ask init.sock "dance
" >reply && grep -q "^error unknown request '"'"'dance'"'"'" reply &&
	$TESTPROC ask init.sock "status
" >reply && grep -qx "bundle ready" reply &&
	wait "$holder" && grep -qx closed held &&
	expect_status 1 "$SIDECAR" initctl --socket "$PWD/nothere.sock" status 2>err &&
	grep -q "unable to talk to init" err &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_expect_success 'a second init refuses a live control socket' '
	cat >init.yaml <<-EOF &&
	control_socket: $PWD/init.sock
	daemons: []
	EOF
	init_start_ns init.yaml &&
	wait_for 5 "ctl status >/dev/null" &&
	expect_status 111 "$SIDECAR" init --config init.yaml 2>err &&
	cat err &&
	grep -q "another init is listening on" err &&
	ctl status >/dev/null &&
	kill -TERM "$INIT_PID" && init_wait_exit 10 && [ "$INIT_STATUS" -eq 0 ]
'

test_done

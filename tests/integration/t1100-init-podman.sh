#!/usr/bin/env bash
# sidecar init as PID 1 of the built sidecar image under podman, run the way
# bottle-host start runs the bundle (read-only, all capabilities dropped but
# setuid/setgid/kill, no-new-privileges).  The image under test is the real
# one (build/image/tag) plus tests/helpers/testproc as /bin/testproc; the
# test's config and log files come in through a bind mount at /t.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/init-lib.sh"
test_skip_if_sanitized "init runs as PID 1 of the image, which holds the static musl sidecar"
test_skip_unless podman
. "$TEST_ROOT/scripts/engine.sh"

if [ ! -f "$BUILD/image/tag" ]; then
	"$TEST_ROOT/scripts/build-image.sh" "$BUILD" >/dev/null || exit 1
fi
base=$(cat "$BUILD/image/tag")
image=localhost/bottle-init-test:$$
context=$TEST_SCRATCH/image
mkdir -p "$context"
cp "$HELPERS/testproc" "$context/testproc"
cat >"$context/Containerfile" <<EOF
FROM $base
COPY testproc /bin/testproc
EOF
$ENGINE build --quiet --tag "$image" --file "$context/Containerfile" "$context" >/dev/null || {
	echo "not ok - could not build the test image from $base"
	exit 1
}
test_at_exit "$ENGINE rmi -f $image"
# The daemons that run as the image's `sidecar` user write to /t too.
chmod 0711 "$TEST_SCRATCH"

# container_start NAME: run the image with ./init.yaml as init's config.
container_start() {
	CONTAINER=bottle-t1100-$$-$1
	chmod 0777 .
	trap '$ENGINE rm --force "$CONTAINER" >/dev/null 2>&1' EXIT
	$ENGINE run --detach --name "$CONTAINER" --read-only --cap-drop=all \
		--cap-add=setuid --cap-add=setgid --cap-add=kill \
		--security-opt=no-new-privileges --volume "$PWD:/t" \
		"$image" --config /t/init.yaml >/dev/null
}

cexec() {
	$ENGINE exec "$CONTAINER" "$@"
}

exit_code() {
	$ENGINE inspect --format '{{.State.ExitCode}}' "$CONTAINER"
}

# Wait (bounded) for the container to end by itself; print its exit code.
container_wait() {
	timeout "$1" $ENGINE wait "$CONTAINER" >/dev/null && exit_code
}

container_log() {
	$ENGINE logs "$CONTAINER" >init.log 2>&1
	cat init.log
}

test_expect_success 'podman stop: SIGTERM reaches daemons, grandchild and orphan; clean exit 0' '
	cat >init.yaml <<-EOF &&
	grace_period: 20s
	daemons:
	  - name: alpha
	    argv: [/bin/testproc, run, --log, /t/log, --name, alpha, --spawn-grandchild]
	  - name: beta
	    argv: [/bin/testproc, run, --log, /t/log, --name, beta, --spawn-orphans, 1, --orphan-life, 600000, --orphans-setsid]
	EOF
	container_start stop &&
	wait_for 20 "cexec /bin/initctl status >status" &&
	cat status &&
	grep -qx "bundle ready" status &&
	$ENGINE stop --time 30 "$CONTAINER" >/dev/null &&
	code=$(exit_code) && container_log && cat log &&
	[ "$code" -eq 0 ] &&
	grep -qx "alpha signal SIGTERM" log &&
	grep -qx "grandchild signal SIGTERM" log &&
	grep -qx "beta signal SIGTERM" log &&
	grep -qx "orphan signal SIGTERM" log &&
	grep -q "^init: starting as pid 1 " init.log &&
	grep -q "^init: received SIGTERM; stopping 2 daemons and 1 other process" init.log &&
	grep -q "^init: exiting with status 0$" init.log
'

test_expect_success 'orphans are reaped inside the container: zero zombies' '
	cat >init.yaml <<-EOF &&
	daemons:
	  - name: parent
	    argv: [/bin/testproc, run, --log, /t/log, --spawn-orphans, 3, --orphan-life, 300]
	EOF
	container_start zombies &&
	wait_for 20 "[ \$(log_count \"^orphan exit 0\") -eq 3 ]" &&
	wait_for 10 "[ \"\$(cexec /bin/testproc zombies)\" = 0 ]" &&
	cexec /bin/testproc ps &&
	container_log >/dev/null &&
	[ "$(grep -c "^init: reaped orphan pid" init.log)" -eq 3 ] &&
	$ENGINE stop --time 30 "$CONTAINER" >/dev/null &&
	[ "$(exit_code)" -eq 0 ]
'

test_expect_success 'a daemon ignoring SIGTERM: init SIGKILLs it after its grace period, exits 5' '
	cat >init.yaml <<-EOF &&
	grace_period: 1s
	daemons:
	  - name: stubborn
	    argv: [/bin/testproc, run, --log, /t/log, --name, stubborn, --ignore-term]
	EOF
	container_start stubborn &&
	wait_for 20 "cexec /bin/initctl status >/dev/null" &&
	$ENGINE stop --time 60 "$CONTAINER" >/dev/null &&
	code=$(exit_code) && container_log &&
	[ "$code" -eq 5 ] &&
	grep -qx "stubborn signal SIGTERM" log &&
	grep -q "^init: grace period over; killing 1 remaining process$" init.log &&
	grep -q "^init: exiting with status 5$" init.log
'

test_expect_success 'a crashed daemon comes back; a crash-looping required one ends the container with 4' '
	cat >init.yaml <<-EOF &&
	daemons:
	  - name: crashy
	    argv: [/bin/testproc, run, --log, /t/log, --crash-after, 200]
	    backoff: {initial: 100ms, max: 200ms}
	    give_up: {failures: 4, within: 1m}
	EOF
	container_start crashloop &&
	code=$(container_wait 60) && container_log &&
	[ "$code" -eq 4 ] &&
	[ "$(grep "^main start" log | sort -u | wc -l)" -eq 4 ] &&
	grep -q "^init: crashy killed by SIGSEGV (status 139) after [0-9.]*s; restarting in 100ms (failure 1 of 4 within 1m)$" init.log &&
	grep -q "^init: crashy crash-looping (4 failures within 1m); giving up$" init.log
'

test_expect_success 'a daemon killed by a signal: the container exits 128+signal' '
	cat >init.yaml <<-EOF &&
	daemons:
	  - name: job
	    argv: [/bin/testproc, run, --crash-after, 100]
	    restart: never
	EOF
	container_start signal &&
	code=$(container_wait 60) && container_log &&
	[ "$code" -eq 139 ]
'

test_expect_success 'daemons run as the image user sidecar, env and fds as configured' '
	cat >init.yaml <<-EOF &&
	daemons:
	  - name: unprivileged
	    argv: [/bin/testproc, run, --report-ids, /t/ids, --report-env, /t/env, --report-fds, /t/fds, --ready-fd, 3]
	    user: sidecar
	    ready_fd: 3
	    env: {MODE: test}
	EOF
	container_start user &&
	wait_for 20 "cexec /bin/initctl status >/dev/null" &&
	cat ids env fds &&
	grep -qx "uid=10001 gid=10001 groups=10001 cwd=/" ids &&
	printf "%s\n" MODE=test PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin >want &&
	sort env | diff want - &&
	grep -qx "fds 0 1 2 3" fds &&
	$ENGINE stop --time 30 "$CONTAINER" >/dev/null && [ "$(exit_code)" -eq 0 ]
'

test_expect_success 'readiness, reload and SIGHUP through the engine' '
	cat >init.yaml <<-EOF &&
	daemons:
	  - name: slow
	    argv: [/bin/testproc, run, --log, /t/log, --name, slow, --ready-fd, 3, --ready-on-file, /t/go, --ready-on-hup]
	    ready_fd: 3
	EOF
	container_start ready &&
	wait_for 20 "grep -q \"^slow start\" log" &&
	expect_status 1 cexec /bin/initctl status >status &&
	grep -qx "bundle starting" status &&
	touch go &&
	wait_for 20 "cexec /bin/initctl status >status" &&
	grep -qE "^slow running [0-9]+ 0 ready$" status &&
	cexec /bin/initctl reload slow >reply && grep -qx "ok reloaded slow" reply &&
	$ENGINE kill --signal HUP "$CONTAINER" >/dev/null &&
	wait_for 10 "[ \$(log_count \"^slow signal SIGHUP\") -eq 2 ]" &&
	$ENGINE stop --time 30 "$CONTAINER" >/dev/null && [ "$(exit_code)" -eq 0 ] &&
	container_log >/dev/null &&
	grep -q "^init: received SIGHUP; forwarded to 1 daemon$" init.log
'

test_done

#!/usr/bin/env bash
# Least privilege in the bundle, as `bottle-host start` runs it under
# podman (docs/security.md, "Least privilege"): init keeps only SETUID,
# SETGID and KILL; each daemon runs as its own uid with no capability and
# no-new-privileges; nothing but the queue is writable for a daemon; the CA
# key is readable by egress alone.  The agent (the host's own userland,
# the test-only `host-rootfs` image) just waits while the test looks at
# the bundle from the host (/proc) and from inside, through
# tests/helpers/privprobe run with each daemon's ids (`podman exec --user`).
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "the bundle runs inside the image, which holds the static musl sidecar"
test_skip_unless podman
. "$TEST_ROOT/scripts/engine.sh"
if [ "$(id -u)" != 0 ]; then
	# Rootless, the launcher cannot hand files to the bundle's ids.
	echo "# skip $TEST_NAME: needs root (rootful podman)"
	exit 0
fi

BOTTLE_HOST=$BUILD/bottle-host
export HOME=$TEST_SCRATCH/home
export BOTTLE_TEST_HOST_ROOTFS=1
export BOTTLE_TEST_GIT_TOKEN="git-token-$$-$RANDOM"
STATE=$HOME/.bottle/state
QUEUE=$HOME/.bottle/queue
mkdir -p "$HOME/.bottle/agents" "$HOME/.bottle/bottles"
chmod 0755 "$TEST_SCRATCH" "$HOME"

# The image's ids (rootfs/etc/passwd, host/launch.h).
BUNDLE_GID=10001
declare -A DAEMON_UID=([egress]=10002 [supervise]=10003 [gitgate]=10004)

test_expect_success 'start a bottle with the git gate, whose agent waits' '
	ssh-keygen -q -t ecdsa -N "" -f "$TEST_SCRATCH/deploy" &&
	echo "[upstream.invalid]:2222 $(cat "$TEST_SCRATCH/deploy.pub")" >"$TEST_SCRATCH/known_hosts" &&
	cat >"$HOME/.bottle/bottles/still.md" <<-EOF &&
	---
	egress:
	  routes: []
	supervise: true
	git:
	  repos:
	    - name: app
	      upstream: https://upstream.invalid/acme/app.git
	      token_env: BOTTLE_TEST_GIT_TOKEN
	    - name: lib
	      upstream: ssh://git@upstream.invalid:2222/acme/lib.git
	      deploy_key: $TEST_SCRATCH/deploy
	      known_hosts: $TEST_SCRATCH/known_hosts
	---
	EOF
	cat >"$HOME/.bottle/agents/still.md" <<-EOF &&
	---
	bottle: still
	provider:
	  image: host-rootfs
	  command: [sh, /workspace/agent.sh]
	---
	EOF
	cd "$TEST_SCRATCH" && mkdir -p ws &&
	cat >ws/agent.sh <<-"EOF"
	touch /workspace/started
	while [ ! -e /workspace/done ]; do sleep 0.2; done
	EOF
	# (Its own line: a trailing & would put the whole chain above in the
	# background.)
	("$BOTTLE_HOST" start still --cwd ws </dev/null >start.out 2>start.err
	 echo $? >start.code) &
	wait_for 120 "test -e ws/started -o -e start.code" &&
	cat start.err && test ! -e start.code &&
	slug=$(sed -n "s/^bottle-host: bottle \([a-z0-9-]*\) (state.*/\1/p" start.err | head -n 1) &&
	test -n "$slug" && echo "$slug" >slug &&
	echo "bottle-$slug-bundle" >bundle
'
test_at_exit "touch $TEST_SCRATCH/ws/done"
BUNDLE=$(cat "$TEST_SCRATCH/bundle" 2>/dev/null)
SLUG=$(cat "$TEST_SCRATCH/slug" 2>/dev/null)
test_at_exit "$ENGINE rm --force $BUNDLE bottle-$SLUG-agent >/dev/null 2>&1"

# status_field PID FIELD: the value of FIELD in /proc/PID/status, tabs as
# spaces.
status_field() {
	sed -n "s/^$2:[[:space:]]*//p" "/proc/$1/status" | tr -s "\t" " "
}

test_expect_success 'the bundle is read-only, with no-new-privileges' '
	$ENGINE inspect --format "{{.HostConfig.ReadonlyRootfs}}" "$BUNDLE" >ro.out &&
	grep -qx true ro.out &&
	$ENGINE inspect --format "{{.HostConfig.SecurityOpt}}" "$BUNDLE" >secopt.out &&
	grep -q no-new-privileges secopt.out
'

test_expect_success 'init is root with exactly SETUID, SETGID and KILL, no-new-privileges' '
	init=$($ENGINE inspect --format "{{.State.Pid}}" "$BUNDLE") &&
	echo "$init" >"$TEST_SCRATCH/init.pid" &&
	test "$(status_field "$init" Uid)" = "0 0 0 0" &&
	# CAP_KILL (5), CAP_SETGID (6), CAP_SETUID (7).
	test "$(status_field "$init" CapEff)" = 00000000000000e0 &&
	test "$(status_field "$init" CapPrm)" = 00000000000000e0 &&
	test "$(status_field "$init" NoNewPrivs)" = 1 ||
	{ grep -E "^(Uid|Cap|NoNewPrivs)" "/proc/$init/status"; false; }
'

test_expect_success 'each daemon runs as its own uid: no group but the bundle, no capability' '
	init=$(cat "$TEST_SCRATCH/init.pid") && : >daemons.out &&
	for pid in $(cat "/proc/$init/task/$init/children"); do
		name=$(tr "\0" "\n" <"/proc/$pid/cmdline" | sed -n 2p) &&
		uid=${DAEMON_UID[$name]:-} &&
		{ test -n "$uid" || { echo "unknown daemon $name"; false; }; } &&
		echo "$name $pid" >>daemons.out &&
		test "$(status_field "$pid" Uid)" = "$uid $uid $uid $uid" &&
		test "$(status_field "$pid" Gid)" = "$BUNDLE_GID $BUNDLE_GID $BUNDLE_GID $BUNDLE_GID" &&
		test -z "$(status_field "$pid" Groups)" &&
		test "$(status_field "$pid" CapEff)" = 0000000000000000 &&
		test "$(status_field "$pid" CapPrm)" = 0000000000000000 &&
		test "$(status_field "$pid" CapAmb)" = 0000000000000000 &&
		test "$(status_field "$pid" NoNewPrivs)" = 1 ||
		{ echo "daemon $name (pid $pid):"; cat "/proc/$pid/status"; false; }
	done &&
	cat daemons.out && cp daemons.out "$TEST_SCRATCH/daemons" &&
	grep -q "^egress " daemons.out && grep -q "^supervise " daemons.out &&
	grep -q "^gitgate " daemons.out
'

test_expect_success 'the probe runs with the very ids of each daemon' '
	cp "$HELPERS/privprobe" "$STATE/$SLUG/bundle/privprobe" &&
	while read -r name pid; do
		$ENGINE exec --user "${DAEMON_UID[$name]}:$BUNDLE_GID" "$BUNDLE" \
			/etc/sidecar/privprobe ids >ids.out &&
		echo "uid=${DAEMON_UID[$name]} gid=$BUNDLE_GID groups=" >ids.want &&
		diff -u ids.want ids.out || exit 1
	done <"$TEST_SCRATCH/daemons"
'

# probe USER ARGS...: run privprobe in the bundle as USER (uid:gid).
probe() {
	local user=$1
	shift
	$ENGINE exec --user "$user" "$BUNDLE" /etc/sidecar/privprobe "$@"
}

test_expect_success 'the CA key is 0400, owned by egress' '
	stat -c "%u:%g %a" "$STATE/$SLUG/bundle/ca.key" >key.out &&
	echo "${DAEMON_UID[egress]}:$BUNDLE_GID 400" >key.want &&
	diff -u key.want key.out
'

test_expect_success 'egress reads the CA key; supervise, the git gate and root in the bundle cannot' '
	probe "${DAEMON_UID[egress]}:$BUNDLE_GID" read /etc/sidecar/ca.key >egress.out &&
	grep -qx "/etc/sidecar/ca.key: readable" egress.out &&
	for who in "${DAEMON_UID[supervise]}:$BUNDLE_GID" "${DAEMON_UID[gitgate]}:$BUNDLE_GID" 0:0; do
		probe "$who" read /etc/sidecar/ca.key >other.out &&
		grep -qx "/etc/sidecar/ca.key: Permission denied" other.out ||
		{ echo "$who:"; cat other.out; exit 1; }
	done
'

test_expect_success 'the deploy key is 0400, owned by the git gate, which alone reads it' '
	key="$STATE/$SLUG/bundle/gitgate/lib.key" &&
	stat -c "%u:%g %a" "$key" >key.out &&
	echo "${DAEMON_UID[gitgate]}:$BUNDLE_GID 400" >key.want &&
	diff -u key.want key.out &&
	probe "${DAEMON_UID[gitgate]}:$BUNDLE_GID" read /etc/sidecar/gitgate/lib.key >gate.out &&
	grep -qx "/etc/sidecar/gitgate/lib.key: readable" gate.out &&
	for who in "${DAEMON_UID[egress]}:$BUNDLE_GID" "${DAEMON_UID[supervise]}:$BUNDLE_GID" 0:0; do
		probe "$who" read /etc/sidecar/gitgate/lib.key >other.out &&
		grep -qx "/etc/sidecar/gitgate/lib.key: Permission denied" other.out ||
		{ echo "$who:"; cat other.out; exit 1; }
	done
'

test_expect_success 'no daemon reads another daemon s environment (the secrets), each its own' '
	while read -r name pid; do
		inside=$(status_field "$pid" NSpid | awk "{print \$NF}") &&
		for other in egress supervise gitgate; do
			probe "${DAEMON_UID[$other]}:$BUNDLE_GID" read "/proc/$inside/environ" >env.out &&
			if [ "$other" = "$name" ]; then
				grep -qx "/proc/$inside/environ: readable" env.out
			else
				grep -qx "/proc/$inside/environ: Permission denied" env.out
			fi || { echo "$other reading $name s:"; cat env.out; exit 1; }
		done
	done <"$TEST_SCRATCH/daemons"
'

test_expect_success 'supervise and egress can write the queue folders and nothing else' '
	cat >queue.want <<-EOF &&
	/run/supervise/queue
	/run/supervise/queue/grants
	/run/supervise/queue/pending
	/run/supervise/queue/processed
	/run/supervise/queue/responses
	EOF
	for name in supervise egress; do
		probe "${DAEMON_UID[$name]}:$BUNDLE_GID" writable / >writable.out &&
		sort writable.out >writable.sorted &&
		diff -u queue.want writable.sorted || { echo "as $name"; exit 1; }
	done
'

test_expect_success 'the git gate can write the queue folders and its data directory only' '
	probe "${DAEMON_UID[gitgate]}:$BUNDLE_GID" writable / >writable.out &&
	cat writable.out &&
	grep -qx /var/lib/gitgate writable.out &&
	! grep -v "^/run/supervise/queue\(/[a-z]*\)\{0,1\}$" writable.out |
		grep -v "^/var/lib/gitgate\(/.*\)\{0,1\}$" | grep . &&
	# Nobody else writes the data directory.
	for who in "${DAEMON_UID[egress]}:$BUNDLE_GID" "${DAEMON_UID[supervise]}:$BUNDLE_GID"; do
		probe "$who" writable /var/lib/gitgate >other.out &&
		test ! -s other.out || { echo "$who:"; cat other.out; exit 1; }
	done
'

test_expect_success 'writing to / or the config fails for every daemon uid and for root' '
	for who in "${DAEMON_UID[egress]}:$BUNDLE_GID" "${DAEMON_UID[supervise]}:$BUNDLE_GID" \
		"${DAEMON_UID[gitgate]}:$BUNDLE_GID" 0:0; do
		probe "$who" writable / /etc/sidecar >writable.out &&
		! grep -qx "/" writable.out && ! grep -q "^/etc" writable.out &&
		! grep -q "^/tmp\|^/var/tmp\|^/bin\|^/usr\|^/dev/shm\|^/dev/mqueue" writable.out ||
		{ echo "as $who:"; cat writable.out; exit 1; }
	done
'

test_expect_success 'the agent ends, the bottle is torn down' '
	cd "$TEST_SCRATCH" && touch ws/done &&
	wait_for 60 "test -e start.code" &&
	test "$(cat start.code)" = 0 &&
	! $ENGINE container exists "$BUNDLE"
'

test_done

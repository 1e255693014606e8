#!/usr/bin/env bash
# The mirror behind the gate's own services, with the real git client
# talking to tests/helpers/gitgate-serve (through a fake ssh) and a
# git daemon upstream: a clone comes from the mirror; when the upstream
# moves, the next fetch through the gate sees it; a push arrives upstream
# before the gate takes it; an upstream's pre-receive refusal reaches the
# client as the ref's reason with the hook's output as "remote: upstream:"
# lines, and the gate keeps its old value; an unreachable upstream fails
# the push.  Each half skips itself while its service is a placeholder.
. "$(dirname "$0")/gitgate-mirror-lib.sh"

GATE_SERVE=$HELPERS/gitgate-serve
[ -x "$GATE_SERVE" ] || {
	echo "# skip $TEST_NAME: build $GATE_SERVE first"
	exit 0
}

upstream_create repo
git_daemon_start
UP=$UPSTREAMS/repo.git
GATE=$TEST_SCRATCH/gate/repo.git
GATE_LOG=$TEST_SCRATCH/gate.log
URL=git://127.0.0.1:$DAEMON_PORT/repo.git
"$MIRROR" refresh "$GATE" "$URL" >/dev/null

# git runs the fake ssh as `fake-ssh [-o SendEnv=GIT_PROTOCOL] HOST
# "git-upload-pack '/path'"`, and probes an unknown ssh with -G: say no.
cat >"$TEST_SCRATCH/fake-ssh" <<EOF
#!/bin/sh
[ "\$1" = -G ] && exit 1
for last; do :; done
eval "set -- \$last"
exec "$GATE_SERVE" --upstream "\$GATE_UPSTREAM" "\$1" "\$2" 2>>"$GATE_LOG"
EOF
chmod +x "$TEST_SCRATCH/fake-ssh"
export GIT_SSH_COMMAND=$TEST_SCRATCH/fake-ssh GATE_UPSTREAM=$URL
git config --global ssh.variant ssh
GATE_URL=gate:$GATE

# A service that is still a placeholder says so and does nothing else.
placeholder() {
	git init -q --bare "$TEST_SCRATCH/probe.git"
	"$GATE_SERVE" "$1" "$TEST_SCRATCH/probe.git" </dev/null 2>&1 >/dev/null |
		grep -q "is not built yet"
}

if placeholder upload-pack; then
	echo "# skip the fetch tests: upload-pack is still a placeholder"
else
	test_expect_success 'a clone through the gate has the upstream refs' '
		git clone -q "$GATE_URL" clone &&
		test "$(git -C clone rev-parse HEAD)" = "$(git -C "$UP" rev-parse trunk)" &&
		git -C clone rev-parse -q --verify refs/tags/v1
	'

	test_expect_success 'the upstream moves: the next fetch through the gate sees it' '
		git clone -q "$GATE_URL" clone &&
		upstream_commit repo moved &&
		git -C "$TEST_SCRATCH/work/repo" push -q origin trunk &&
		git -C clone fetch -q origin &&
		test "$(git -C clone rev-parse origin/trunk)" = "$(git -C "$UP" rev-parse trunk)"
	'

	test_expect_success 'the upstream is gone: the clone is served from the mirror, with a warning' '
		git_daemon_stop &&
		git clone -q "$GATE_URL" clone &&
		test "$(git -C clone rev-parse HEAD)" = "$(git -C "$GATE" rev-parse trunk)" &&
		grep -q "fetch from $URL failed (.*); serving the mirror" "$GATE_LOG" &&
		git_daemon_start &&
		URL=git://127.0.0.1:$DAEMON_PORT/repo.git &&
		echo "$URL" >"$TEST_SCRATCH/url"
	'
	[ -f "$TEST_SCRATCH/url" ] && URL=$(cat "$TEST_SCRATCH/url") && GATE_UPSTREAM=$URL
fi

if placeholder receive-pack; then
	echo "# skip the push tests: receive-pack is still a placeholder"
else
	test_expect_success 'a push through the gate arrives upstream, then in the gate' '
		"$MIRROR" refresh "$GATE" "$URL" >/dev/null &&
		git clone -q "$GATE" agent &&
		git -C agent checkout -q trunk &&
		echo pushed >agent/pushed && git -C agent add pushed && git -C agent commit -q -m pushed &&
		git -C agent push -q "$GATE_URL" trunk &&
		new=$(git -C agent rev-parse trunk) &&
		test "$(git -C "$UP" rev-parse trunk)" = "$new" &&
		test "$(git -C "$GATE" rev-parse trunk)" = "$new"
	'

	test_expect_success 'the upstream refuses: its reason and output reach the client, the gate keeps its value' '
		"$MIRROR" refresh "$GATE" "$URL" >/dev/null &&
		printf "#!/bin/sh\necho \"the forge says no\"\nexit 1\n" >"$UP/hooks/pre-receive" &&
		chmod +x "$UP/hooks/pre-receive" &&
		git clone -q "$GATE" agent &&
		git -C agent checkout -q trunk &&
		before=$(git -C "$GATE" rev-parse trunk) &&
		echo refused >agent/refused && git -C agent add refused && git -C agent commit -q -m refused &&
		! git -C agent push "$GATE_URL" trunk 2>err &&
		grep -q "^remote: upstream: the forge says no" err &&
		grep -q "\[remote rejected\] trunk -> trunk (upstream rejected: pre-receive hook declined)" err &&
		test "$(git -C "$GATE" rev-parse trunk)" = "$before" &&
		test "$(git -C "$UP" rev-parse trunk)" = "$before" &&
		rm "$UP/hooks/pre-receive"
	'

	test_expect_success 'an unreachable upstream fails the push, the gate keeps its value' '
		git clone -q "$GATE" agent &&
		git -C agent checkout -q trunk &&
		before=$(git -C "$GATE" rev-parse trunk) &&
		echo lost >agent/lost && git -C agent add lost && git -C agent commit -q -m lost &&
		port=$(free_port) &&
		! GATE_UPSTREAM=git://127.0.0.1:$port/repo.git git -C agent push "$GATE_URL" trunk 2>err &&
		grep -q "cannot reach the upstream git://127.0.0.1:$port/repo.git" err &&
		test "$(git -C "$GATE" rev-parse trunk)" = "$before"
	'
fi

test_done

#!/usr/bin/env bash
# sidecar gitgate inside the built image, as init's daemon, configured the
# way bottle-host start configures it (docs/launcher.md "The git gate"): the
# unprivileged sidecar user under a read-only root with capabilities
# dropped, gitgate.yaml and the config read-only, the data directory a host
# folder mounted read-write, the queue mounted too, the secrets and the
# canary from an env file (never an argv).  The container shares the host's
# network, as t2100's does: the real git client reaches the gate on
# loopback over http:// and git://, and the gate reaches its upstream, a
# `git daemon` on loopback.  Nothing outside this machine is used.
#
# The gate's services land on their own branches: a clone or push whose
# service is still a placeholder says so and skips itself.
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "the bundle runs inside the image, which holds the static musl sidecar"
test_skip_unless podman
test_skip_unless git
. "$TEST_ROOT/scripts/engine.sh"

if [ ! -f "$BUILD/image/tag" ]; then
	"$TEST_ROOT/scripts/build-image.sh" "$BUILD" >/dev/null || exit 1
fi
image=$(cat "$BUILD/image/tag")
config=$TEST_SCRATCH/config
data=$TEST_SCRATCH/data
queue=$TEST_SCRATCH/queue/t5100
upstream=$TEST_SCRATCH/upstream
CONTAINER=bottle-t5100-$$
HTTP_PORT=$(free_port)
GIT_PORT=$(free_port)
UPSTREAM_PORT=$(free_port)
GATE_HTTP=http://127.0.0.1:$HTTP_PORT
GATE_GIT=git://127.0.0.1:$GIT_PORT
SECRET="t5100-known-secret-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
# git as a fresh agent has it, with the identity the gate requires.
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH/home GIT_TERMINAL_PROMPT=0
export GIT_AUTHOR_NAME="Bottle Agent" GIT_AUTHOR_EMAIL=agent@bottle.test
export GIT_COMMITTER_NAME="Bottle Agent" GIT_COMMITTER_EMAIL=agent@bottle.test
mkdir -p "$HOME"

# skip_if_placeholder FILE: pass (skip) when git's stderr says the service
# is not built yet.
skip_if_placeholder() {
	if grep -q "is not built yet" "$1"; then
		echo "# skip: $(grep -o "[a-z-]* is not built yet" "$1" | head -n 1)"
		return 0
	fi
	cat "$1"
	return 1
}

upstream_has() {
	git --git-dir="$upstream/app.git" rev-parse --verify -q "$1"
}

test_expect_success 'set up the upstream, the configs and the bundle' '
	mkdir -p "$config" "$data" "$queue" "$upstream" &&
	chmod 0755 "$TEST_SCRATCH" "$config" &&
	git init -q --bare -b main "$upstream/app.git" &&
	git init -q -b main seed &&
	echo hello >seed/README &&
	git -C seed add README && git -C seed commit -q -m "first" &&
	git -C seed push -q "$upstream/app.git" main &&
	(exec git daemon --export-all --enable=receive-pack --reuseaddr --listen=127.0.0.1 \
		--port="$UPSTREAM_PORT" --base-path="$upstream" --informative-errors \
		"$upstream" >/dev/null 2>&1) &
	echo $! >"$TEST_SCRATCH/daemon.pid" &&
	wait_for 10 "ss -Htln \"sport = :$UPSTREAM_PORT\" | grep -q ." &&
	cat >"$config/gitgate.yaml" <<EOF &&
listen: {http: "127.0.0.1:$HTTP_PORT", git: "127.0.0.1:$GIT_PORT"}
data_dir: /var/lib/gitgate
user: {name: Bottle Agent, email: agent@bottle.test}
repos:
  - name: app
    upstream: git://127.0.0.1:$UPSTREAM_PORT/app.git
  - name: scratch
EOF
	cat >"$config/init.yaml" <<EOF &&
daemons:
  - name: gitgate
    argv: [/bin/sidecar, gitgate, --config, /etc/sidecar/gitgate.yaml, --ready-fd, "3",
           --canary-env, BOTTLE_CANARY, --secret-env, APP_SECRET,
           --queue, /run/supervise/queue, --bottle, t5100]
    user: "10001:10001"
    ready_fd: 3
    env_inherit: [BOTTLE_CANARY, APP_SECRET]
EOF
	# The sidecar user owns what the gate writes, as bottle-host start
	# arranges it.
	chown 10001:10001 "$data" "$queue" &&
	(umask 077 && printf "APP_SECRET=%s\nBOTTLE_CANARY=%s\n" "$SECRET" \
		"$(od -An -N32 -tx1 /dev/urandom | tr -d " \n")" >"$TEST_SCRATCH/bundle.env") &&
	$ENGINE run --detach --name "$CONTAINER" --network host --read-only \
		--cap-drop=all --cap-add=setuid --cap-add=setgid --cap-add=kill \
		--security-opt=no-new-privileges --volume "$config:/etc/sidecar:ro" \
		--volume "$data:/var/lib/gitgate:rw" --volume "$queue:/run/supervise/queue:rw" \
		--env-file "$TEST_SCRATCH/bundle.env" \
		"$image" --config /etc/sidecar/init.yaml >/dev/null &&
	rm "$TEST_SCRATCH/bundle.env"
'
test_at_exit "kill \$(cat $TEST_SCRATCH/daemon.pid)"
test_at_exit "$ENGINE rm --force $CONTAINER"

test_expect_success 'init reports the bundle ready once the gate listens' '
	wait_for 30 "$ENGINE exec $CONTAINER /bin/sidecar initctl status >status.out 2>&1" ||
		{ cat status.out; $ENGINE logs $CONTAINER; false; } &&
	grep -q "^gitgate running" status.out
'

test_expect_success 'the gate runs as the unprivileged sidecar user; no secret on its argv' '
	$ENGINE top $CONTAINER user args >top.out &&
	grep "gitgate" top.out | grep -q "^sidecar" &&
	grep -q -- "--secret-env APP_SECRET" top.out &&
	! grep -qF "$SECRET" top.out
'

test_expect_success 'the mirror was fetched at start into the host data directory' '
	test "$(git --git-dir="$data/app.git" rev-parse main)" = "$(upstream_has main)" &&
	test -d "$data/scratch.git"
'

for transport in http git; do
	test_expect_success "clone over $transport:// from the bundle" '
		url=$([ '$transport' = http ] && echo "$GATE_HTTP" || echo "$GATE_GIT") &&
		git clone -q "$url/app.git" clone >out 2>err ||
		{ skip_if_placeholder err && exit 0; false; } &&
		test "$(git -C clone rev-parse HEAD)" = "$(upstream_has main)" &&
		test "$(cat clone/README)" = hello
	'
done

# The work tree pushes come from: a clone of the upstream itself, so the
# pushes do not depend on the gate's clone.
test_expect_success 'a push over http:// arrives upstream' '
	git clone -q "$upstream/app.git" "$TEST_SCRATCH/work" &&
	cd "$TEST_SCRATCH/work" &&
	echo change >>README && git commit -q -am "a change from the agent" &&
	git push "$GATE_HTTP/app.git" HEAD:refs/heads/feature >out 2>err ||
	{ skip_if_placeholder err && exit 0; false; } &&
	test "$(upstream_has feature)" = "$(git rev-parse HEAD)" &&
	test "$(git --git-dir="$data/app.git" rev-parse feature)" = "$(git rev-parse HEAD)"
'

test_expect_success 'a push over git:// arrives upstream' '
	cd "$TEST_SCRATCH/work" &&
	echo more >>README && git commit -q -am "another change" &&
	git push "$GATE_GIT/app.git" HEAD:refs/heads/feature-git >out 2>err ||
	{ skip_if_placeholder err && exit 0; false; } &&
	test "$(upstream_has feature-git)" = "$(git rev-parse HEAD)"
'

test_expect_success 'a push carrying a secret of the bundle is refused with remote: lines' '
	cd "$TEST_SCRATCH/work" &&
	git checkout -q -b leak &&
	printf "token=%s\n" "$SECRET" >leak.txt &&
	git add leak.txt && git commit -q -m "add the config" &&
	! git push "$GATE_HTTP/app.git" leak >out 2>err &&
	{ ! skip_if_placeholder err >/dev/null || exit 0; } &&
	cat err &&
	grep -q "^remote: secret in leak.txt line 1 of commit $(git rev-parse --short=12 HEAD)" err &&
	grep -q "APP_SECRET" err &&
	grep -q "\[remote rejected\] leak -> leak" err &&
	! grep -qF "$SECRET" err &&
	! upstream_has leak &&
	# The operator is asked, through the bottle queue.
	grep -lq "gitleaks-allow" "$queue"/pending/* &&
	$ENGINE logs $CONTAINER >logs.out 2>&1 &&
	! grep -qF "$SECRET" logs.out
'

test_expect_success 'the operator approves the finding: the retried push arrives upstream' '
	cd "$TEST_SCRATCH/work" &&
	id=$(basename "$(grep -l "gitleaks-allow" "$queue"/pending/* | head -n 1)" .json) &&
	test -n "$id" &&
	"$BUILD/bottle-host" supervise --queue-root "$(dirname "$queue")" \
		--audit-log "$TEST_SCRATCH/audit.log" approve "$id" \
		--note "a test value, not a real secret" >approve.out &&
	git push "$GATE_HTTP/app.git" leak >out 2>err || { cat err; false; } &&
	grep -q "approved by the operator in proposal $id" err &&
	test "$(upstream_has leak)" = "$(git rev-parse HEAD)" &&
	test "$(git --git-dir="$data/app.git" rev-parse leak)" = "$(git rev-parse HEAD)" &&
	"$BUILD/bottle-host" supervise verify-log "$TEST_SCRATCH/audit.log"
'

test_expect_success 'the data directory outlives a restart of the gate' '
	$ENGINE exec $CONTAINER /bin/sidecar initctl restart gitgate >restart.out 2>&1 ||
		{ cat restart.out; false; } &&
	wait_for 30 "$ENGINE exec $CONTAINER /bin/sidecar initctl status >status.out 2>&1" &&
	grep -q "^gitgate running" status.out &&
	git --git-dir="$data/app.git" rev-parse --verify -q main >/dev/null &&
	git ls-remote "$GATE_GIT/scratch.git" >out 2>err ||
	{ skip_if_placeholder err && exit 0; false; }
'

test_done

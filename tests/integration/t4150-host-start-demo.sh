#!/usr/bin/env bash
# `bottle-host start demo`, as `make run` runs it: the built-in demo agent
# in a real bottle under podman, its stand-in internet on the egress
# network, each decision it prints, and the teardown (docs/demo.md).
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "the demo runs in the image, which holds the static musl sidecar"
test_skip_unless podman
. "$TEST_ROOT/scripts/engine.sh"

BOTTLE_HOST=$BUILD/bottle-host
export HOME=$TEST_SCRATCH/home
unset BOTTLE_UPSTREAM_CA BOTTLE_DEMO_GIT_TOKEN
STATE=$HOME/.bottle/state
QUEUE=$HOME/.bottle/queue
mkdir -p "$HOME"
chmod 0755 "$TEST_SCRATCH" "$HOME"

# Everything a bottle left in the engine, by our label and by name.
leftovers() {
	$ENGINE ps -a --filter "label=bottle.slug=$1" --format '{{.Names}}'
	$ENGINE ps -a --filter "name=bottle-$1-" --format '{{.Names}}'
	$ENGINE network ls --filter "label=bottle.slug=$1" --format '{{.Name}}'
}

# The slug a start printed ("bottle-host: bottle SLUG (state ...").
slug_of() {
	sed -n 's/^bottle-host: bottle \([a-z0-9-]*\) (state.*/\1/p' "$1" | head -n 1
}

# A step's line: "[expected]", the step name, then the rest as a regexp.
expect_line() {
	grep -E "^\[expected\] +$1 +$2" out >/dev/null || { echo "no expected '$1' line: $2"; false; }
}

test_expect_success 'info demo: the built-in agent and bottle' '
	"$BOTTLE_HOST" info demo >info.out && cat info.out &&
	grep -q "^agent  *demo  ((built-in)/agents/demo.md)" info.out &&
	grep -q "^bottle  *demo  ((built-in)/bottles/demo.md)" info.out &&
	grep -q "origin.demo.test port 8443" info.out &&
	"$BOTTLE_HOST" start --help | grep -q "start demo"
'

test_expect_success 'start demo: every decision printed, each the expected one, exit 0' '
	code=0 && { "$BOTTLE_HOST" start demo </dev/null >out 2>err || code=$?; } &&
	cat err out &&
	test "$code" = 0 &&
	expect_line allowed "GET https://origin.demo.test:8443/docs/welcome -> 200, \"demo origin: GET /docs/welcome reached the origin\"" &&
	expect_line denied "GET https://origin.demo.test:8443/admin -> 403, X-Bottle-Egress: denied, \"egress: route for origin.demo.test .* does not allow GET /admin" &&
	expect_line "no route" "CONNECT example.org:443 -> 403, X-Bottle-Egress: denied, \"egress: no route allows host example.org" &&
	expect_line canary "GET https://origin.demo.test:8443/docs/search\?q=\\\$BOTTLE_CANARY -> 403, X-Bottle-Egress: denied, \"egress: dlp: the canary" &&
	expect_line clone "https://origin.demo.test:9443/demo.git \(git sent it to http://sidecar:9420/demo.git\) -> main at [0-9a-f]{7}, README.md starts \"# demo\"" &&
	expect_line push "main to http://sidecar:9420/demo.git -> accepted by the gate and the upstream" &&
	expect_line "push canary" "demo-canary holding .* -> refused: secret found" &&
	expect_line mcp "tools/call list-egress-routes -> 1 route: origin.demo.test" &&
	grep -qx "demo-agent: 8 of 8 decisions as expected" out &&
	! grep -q UNEXPECTED out &&
	# The canary itself is never printed, only its name.
	! grep -qE "[0-9a-f]{64}" out &&
	slug=$(slug_of err) && test -n "$slug" && echo "$slug" >../slug
'

test_expect_success 'teardown: no container (origin included), network, state or env file left' '
	slug=$(cat ../slug) &&
	test -z "$(leftovers "$slug")" &&
	test ! -e "$STATE/$slug" &&
	! find "$STATE" "$QUEUE" -name "*.env" | grep -q . &&
	! ls /tmp | grep -q "$slug" &&
	# The bundle log stays: egress decided, the gate forwarded one push and
	# refused the other.
	log=$QUEUE/$slug/bundle.log &&
	grep -q "\"path\":\"/admin\",.*\"decision\":\"deny\"" "$log" &&
	grep -q "\"path\":\"/docs/welcome\",.*\"decision\":\"allow\",\"status\":200" "$log" &&
	grep -q "refs/heads/main [0-9a-f]*\.\.[0-9a-f]* ok" "$log" &&
	grep -q "refs/heads/demo-canary 0000000\.\.[0-9a-f]* ng (secret found" "$log"
'

test_expect_success 'a decision that is not the expected one fails the demo (exit 1), still torn down' '
	# A project bottle named demo replaces the built-in one for the
	# built-in agent: this one allows every path, so /admin goes through.
	mkdir -p .bottle/bottles &&
	cat >.bottle/bottles/demo.md <<-EOF &&
	---
	git:
	  user: {name: Bottle Demo, email: demo@bottle.test}
	  repos:
	    - {name: demo, upstream: "https://origin.demo.test:9443/demo.git", token_env: BOTTLE_DEMO_GIT_TOKEN}
	egress:
	  routes:
	    - host: origin.demo.test
	      ports: [8443]
	      addresses: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"]
	supervise: true
	---
	EOF
	"$BOTTLE_HOST" info demo | grep -q "^bottle  *demo  (./.bottle/bottles/demo.md)" &&
	code=0 && { "$BOTTLE_HOST" start demo </dev/null >out 2>err || code=$?; } &&
	cat err out &&
	test "$code" = 1 &&
	grep -qE "^\[UNEXPECTED\] +denied +GET https://origin.demo.test:8443/admin -> 200" out &&
	grep -qx "demo-agent: 7 of 8 decisions as expected" out &&
	slug=$(slug_of err) && test -n "$slug" &&
	test -z "$(leftovers "$slug")" && test ! -e "$STATE/$slug"
'

test_expect_success 'a launcher killed after the origin started: stop removes the origin too' '
	"$BOTTLE_HOST" start demo </dev/null >out 2>err &
	pid=$!
	wait_for 60 "grep -q \"^bottle-host: starting the bundle\" err" &&
	slug=$(slug_of err) &&
	# Its engine client finishes the run it started: wait for that.
	wait_for 30 "test \"\$($ENGINE inspect --format {{.State.Running}} bottle-$slug-bundle 2>/dev/null)\" = true" &&
	kill -KILL $pid && { wait $pid 2>/dev/null || :; } &&
	$ENGINE container exists "bottle-$slug-origin" &&
	"$BOTTLE_HOST" list | grep -q "^$slug .* stale$" &&
	"$BOTTLE_HOST" stop "$slug" &&
	test -z "$(leftovers "$slug")" && test ! -e "$STATE/$slug"
'

test_expect_success 'an agents/demo.md of the operator replaces the built-in agent' '
	mkdir -p "$HOME/.bottle/agents" &&
	printf -- "---\nbottle: demo\nprovider: claude\n---\n" >"$HOME/.bottle/agents/demo.md" &&
	"$BOTTLE_HOST" info demo >info.out &&
	rm "$HOME/.bottle/agents/demo.md" &&
	grep -q "^agent  *demo  ($HOME/.bottle/agents/demo.md)" info.out &&
	grep -q "^bottle  *demo  ((built-in)/bottles/demo.md)" info.out
'

test_done

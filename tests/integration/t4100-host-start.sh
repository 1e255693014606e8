#!/usr/bin/env bash
# bottle-host start / stop / list under podman, end to end.  The agent is
# the host's own userland (`--rootfs /:O`, the test-only `host-rootfs`
# image) running a script from its workspace; the "internet" is an HTTPS
# origin on this machine (tests/integration/launch/origin.py) that the
# bundle reaches through its egress network's gateway,
# host.containers.internal.  Real clients: curl, python's urllib, node's
# tls, git; nothing leaves this machine.
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "the bundle runs inside the image, which holds the static musl sidecar"
test_skip_unless podman
test_skip_unless openssl
test_skip_unless python3
. "$TEST_ROOT/scripts/engine.sh"

BOTTLE_HOST=$BUILD/bottle-host
export HOME=$TEST_SCRATCH/home
export BOTTLE_TEST_HOST_ROOTFS=1
export BOTTLE_UPSTREAM_CA=$TEST_SCRATCH/pki/origin-ca.crt
export BOTTLE_TEST_SECRET="s3cret-$$-$RANDOM$RANDOM"
STATE=$HOME/.bottle/state
QUEUE=$HOME/.bottle/queue
PKI=$TEST_SCRATCH/pki
mkdir -p "$HOME/.bottle/agents" "$HOME/.bottle/bottles" "$PKI"
chmod 0755 "$TEST_SCRATCH" "$HOME"

ORIGIN_PORT=$(free_port)

# Everything a bottle left in the engine, by our label.
leftovers() {
	$ENGINE ps -a --filter "label=bottle.slug=$1" --format '{{.Names}}'
	$ENGINE network ls --filter "label=bottle.slug=$1" --format '{{.Name}}'
}

exit_code() {
	"$@" >/dev/null 2>&1 && echo 0 || echo $?
}

# The slug a start printed ("bottle-host: bottle SLUG (state ...").
slug_of() {
	sed -n 's/^bottle-host: bottle \([a-z0-9-]*\) (state.*/\1/p' "$1" | head -n 1
}

# An agent whose command is the script WS/agent.sh.
write_agent() {
	local name=$1 bottle=$2
	cat >"$HOME/.bottle/agents/$name.md" <<EOF
---
bottle: $bottle
provider:
  image: host-rootfs
  command: [sh, /workspace/agent.sh]
---
EOF
}

test_expect_success 'set up the origin, its CA and the manifests' '
	cd "$PKI" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout origin-ca.key -out origin-ca.crt -subj "/CN=origin test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout origin.key \
		-out origin.csr -subj "/CN=host.containers.internal" 2>/dev/null &&
	printf "subjectAltName=DNS:host.containers.internal\n" >origin.ext &&
	openssl x509 -req -in origin.csr -CA origin-ca.crt -CAkey origin-ca.key \
		-CAcreateserial -days 2 -out origin.crt -extfile origin.ext 2>/dev/null || exit 1
	# On its own line: "a && b &" would background the whole list, and
	# $! would be a subshell that outlives nothing it could be killed for.
	python3 "$TEST_ROOT/tests/integration/launch/origin.py" origin.crt origin.key \
		"$ORIGIN_PORT" >/dev/null 2>&1 &
	echo $! >"$TEST_SCRATCH/origin.pid" &&
	# The bundle reaches the host through its egress network gateway
	# (podman hands out 10.89.0.0/16 here): the route names that range.
	cat >"$HOME/.bottle/bottles/probe.md" <<EOF &&
---
env:
  PROBE_LITERAL: hello
git:
  user: {name: Probe Agent, email: probe@example.com}
egress:
  log: all
  routes:
    - host: host.containers.internal
      ports: [$ORIGIN_PORT]
      addresses: ["10.89.0.0/16"]
      matches:
        - path_prefix: /allowed
    - host: host.containers.internal
      ports: [$ORIGIN_PORT]
      addresses: ["10.89.0.0/16"]
      auth: {header: X-Test-Token, env: BOTTLE_TEST_SECRET}
      matches:
        - path_prefix: /token
supervise: false
---
EOF
	write_agent probe probe &&
	wait_for 10 "ss -Htln \"sport = :$ORIGIN_PORT\" | grep -q ."
'
test_at_exit "kill \$(cat $TEST_SCRATCH/origin.pid)"

test_expect_success '--help of start, stop and list names every option' '
	"$BOTTLE_HOST" start --help >start.out &&
	for word in --cwd --engine --keep BOTTLE_SIDECAR BOTTLE_UPSTREAM_CA "Exit status"; do
		grep -q -- "$word" start.out || { echo "start --help lacks $word"; false; }
	done &&
	"$BOTTLE_HOST" stop --help >stop.out && grep -q "usage: bottle-host stop" stop.out &&
	grep -q -- --time stop.out &&
	"$BOTTLE_HOST" list --help >list.out &&
	grep -q -- --all list.out && grep -q PENDING list.out && grep -q stale list.out &&
	"$BOTTLE_HOST" --help >main.out &&
	grep -q "^  start " main.out && grep -q "^  stop " main.out && grep -q "^  list " main.out &&
	test "$(exit_code "$BOTTLE_HOST" start)" = 2 &&
	test "$(exit_code "$BOTTLE_HOST" stop)" = 2 &&
	test "$(exit_code "$BOTTLE_HOST" stop --time x y)" = 2 &&
	test "$(exit_code "$BOTTLE_HOST" list --bogus)" = 2
'

test_expect_success 'the agent reaches an allowed path, is denied another, exits with its code' '
	mkdir ws &&
	cat >ws/agent.sh <<"EOF" &&
o=https://host.containers.internal:'"$ORIGIN_PORT"'
curl -sS -o allowed.body -w "allowed %{http_code}\n" $o/allowed/x
curl -sS -D denied.head -o denied.body -w "denied %{http_code}\n" $o/other
curl -sS -o /dev/null -w "outside %{http_connect}\n" https://example.org/
curl -sS --noproxy "*" -m 5 -o /dev/null $o/allowed/x; echo "direct rc=$?"
exit 7
EOF
	code=0 && { "$BOTTLE_HOST" start probe --cwd ws </dev/null >out 2>err || code=$?; } &&
	cat out err &&
	test "$code" = 7 &&
	grep -qx "allowed 200" out &&
	grep -q "^path /allowed/x" ws/allowed.body &&
	grep -qx "denied 403" out &&
	grep -qi "^X-Bottle-Egress: denied" ws/denied.head &&
	grep -q "does not allow GET /other" ws/denied.body &&
	grep -qx "outside 403" out &&
	# No route to anything but the bundle: a direct connection fails.
	grep -q "^direct rc=" out && ! grep -qx "direct rc=0" out &&
	slug=$(slug_of err) && test -n "$slug" && echo "$slug" >../slug
'

test_expect_success 'teardown leaves no container, network, state or env file' '
	slug=$(cat ../slug) &&
	test -z "$(leftovers "$slug")" &&
	test ! -e "$STATE/$slug" &&
	! find "$STATE" "$QUEUE" -name "*.env" | grep -q . &&
	! ls /tmp | grep -q "$slug" &&
	# The queue and the bundle log stay, decisions in it.
	grep -q "\"path\":\"/other\",.*\"decision\":\"deny\"" "$QUEUE/$slug/bundle.log" &&
	test -f "$QUEUE/$slug/routes.yaml"
'

test_expect_success 'the agent trusts the bottle CA in curl, python, node and git; proxies and canary set' '
	mkdir ws &&
	cat >ws/agent.sh <<"EOF" &&
o=https://host.containers.internal:'"$ORIGIN_PORT"'
env | grep -E "^(HTTPS?_PROXY|https?_proxy|NO_PROXY|no_proxy|SSL_CERT_FILE|NODE_EXTRA_CA_CERTS|GIT_SSL_CAINFO|REQUESTS_CA_BUNDLE|BOTTLE_CANARY|PROBE_LITERAL|GIT_AUTHOR_NAME)=" | sort >env.out
/usr/bin/python3 -c "import urllib.request; print(\"python\", urllib.request.urlopen(\"$o/allowed/py\").status)"
node -e "
const http = require(\"http\"), tls = require(\"tls\");
const u = new URL(process.env.HTTPS_PROXY);
http.request({host: u.hostname, port: u.port, method: \"CONNECT\", path: \"host.containers.internal:'"$ORIGIN_PORT"'\",
  headers: {Host: \"host.containers.internal:'"$ORIGIN_PORT"'\"}})
  .on(\"connect\", (res, sock) => {
    const s = tls.connect({socket: sock, servername: \"host.containers.internal\"}, () => {
      console.log(\"node authorized\", s.authorized); s.end(); process.exit(0);
    });
    s.on(\"error\", e => { console.log(\"node error\", e.message); process.exit(1); });
  }).end();
"
git ls-remote $o/allowed/repo.git >/dev/null 2>git.err; echo "git done"
EOF
	{ "$BOTTLE_HOST" start probe --cwd ws </dev/null >out 2>err || :; } && cat out err &&
	grep -qx "python 200" out &&
	grep -qx "node authorized true" out &&
	# git got through TLS to egress (which logs the request only inside
	# the verified tunnel); the echo origin is no git server.
	grep -qx "git done" out && cat ws/git.err && ! grep -qi "certificate\|ssl" ws/git.err &&
	slug=$(slug_of err) &&
	grep -q "\"path\":\"/allowed/repo.git/info/refs\",.*\"decision\":\"allow\",\"status\":200" \
		"$QUEUE/$slug/bundle.log" &&
	grep -qx "HTTPS_PROXY=http://sidecar:9099" ws/env.out &&
	grep -qx "https_proxy=http://sidecar:9099" ws/env.out &&
	grep -qx "HTTP_PROXY=http://sidecar:9099" ws/env.out &&
	grep -q "^NO_PROXY=sidecar," ws/env.out &&
	grep -qx "SSL_CERT_FILE=/etc/bottle/ca-bundle.crt" ws/env.out &&
	grep -qx "NODE_EXTRA_CA_CERTS=/etc/bottle/ca.crt" ws/env.out &&
	grep -qx "GIT_SSL_CAINFO=/etc/bottle/ca-bundle.crt" ws/env.out &&
	grep -qx "REQUESTS_CA_BUNDLE=/etc/bottle/ca-bundle.crt" ws/env.out &&
	grep -qE "^BOTTLE_CANARY=[0-9a-f]{64}$" ws/env.out &&
	grep -qx "PROBE_LITERAL=hello" ws/env.out &&
	grep -qx "GIT_AUTHOR_NAME=Probe Agent" ws/env.out
'

test_expect_success 'egress injects the credential; the agent, argv and state never hold it' '
	mkdir ws &&
	cat >ws/agent.sh <<"EOF" &&
curl -sS -H "X-Test-Token: agent-dummy" -o token.body https://host.containers.internal:'"$ORIGIN_PORT"'/token
env >agent-env.out
sleep 2
EOF
	true
	"$BOTTLE_HOST" start probe --cwd ws </dev/null >out 2>err &
	pid=$!
	wait_for 30 "grep -q \"^bottle-host: starting the agent\" err" &&
	slug=$(slug_of err) &&
	# While it runs: no process argv and no state file holds the secret.
	printf "%s\n" "$BOTTLE_TEST_SECRET" >secret.pattern &&
	! grep -alFf secret.pattern /proc/[0-9]*/cmdline 2>/dev/null | grep -q . &&
	! grep -rqF "$BOTTLE_TEST_SECRET" "$STATE/$slug" &&
	wait $pid &&
	grep -qx "X-Test-Token: $BOTTLE_TEST_SECRET" ws/token.body &&
	! grep -q agent-dummy ws/token.body &&
	! grep -qF "$BOTTLE_TEST_SECRET" ws/agent-env.out &&
	! grep -qF "$BOTTLE_TEST_SECRET" "$QUEUE/$slug/bundle.log"
'

test_expect_success 'the git gate: git goes to it by the upstream URLs; it listens on the internal network only' '
	export BOTTLE_TEST_GIT_TOKEN="git-token-$$-$RANDOM$RANDOM" &&
	ssh-keygen -q -t ecdsa -N "" -f "$PKI/deploy" &&
	echo "[host.containers.internal]:2222 $(cat "$PKI/deploy.pub")" >"$PKI/known_hosts" &&
	cat >"$HOME/.bottle/bottles/gitprobe.md" <<EOF &&
---
extends: probe
git:
  repos:
    - name: app
      upstream: https://host.containers.internal:$ORIGIN_PORT/acme/app.git
      token_env: BOTTLE_TEST_GIT_TOKEN
    - name: lib
      upstream: ssh://git@host.containers.internal:2222/acme/lib.git
      deploy_key: $PKI/deploy
      known_hosts: $PKI/known_hosts
---
EOF
	write_agent gitprobe gitprobe &&
	mkdir ws &&
	cat >ws/agent.sh <<"EOF" &&
env | grep "^GIT_CONFIG_" | sort >git-env.out
git config --get-all url.http://sidecar:9420/app.git.insteadOf >insteadof.out
git config user.email >user.out
git ls-remote https://host.containers.internal:'"$ORIGIN_PORT"'/acme/app >ls-app.out 2>ls-app.err
echo "ls-remote app rc=$?"
git ls-remote git://sidecar:9418/lib >ls-lib.out 2>ls-lib.err
echo "ls-remote lib rc=$?"
sleep 3
EOF
	true
	"$BOTTLE_HOST" start gitprobe --cwd ws --keep </dev/null >out 2>err &
	pid=$!
	wait_for 60 "grep -q \"^bottle-host: starting the agent\" err" &&
	slug=$(slug_of err) &&
	# From the host, the bundle address on its egress network has no gate
	# (egress, which listens everywhere, shows the address is reachable).
	egress_ip=$($ENGINE inspect --format "{{(index .NetworkSettings.Networks \"bottle-$slug-egress\").IPAddress}}" \
		"bottle-$slug-bundle") &&
	test -n "$egress_ip" &&
	timeout 5 bash -c "echo >/dev/tcp/$egress_ip/9099" &&
	! timeout 5 bash -c "echo >/dev/tcp/$egress_ip/9418" 2>/dev/null &&
	! timeout 5 bash -c "echo >/dev/tcp/$egress_ip/9420" 2>/dev/null &&
	wait $pid &&
	cat out err ws/*.err &&
	# The rewrites: every spelling of each upstream, and the identity.
	grep -qx "https://host.containers.internal:$ORIGIN_PORT/acme/app.git" ws/insteadof.out &&
	grep -qx "https://host.containers.internal:$ORIGIN_PORT/acme/app" ws/insteadof.out &&
	grep -qx "GIT_CONFIG_VALUE_[0-9]*=ssh://git@host.containers.internal:2222/acme/lib" ws/git-env.out &&
	grep -qx "probe@example.com" ws/user.out &&
	# The agent reached the gate, not the origin: the gate names its
	# failed fetch (the origin is no git server); the ssh upstream is down.
	grep -q "^remote: .*app" ws/ls-app.err &&
	grep -q "remote error: .*lib" ws/ls-lib.err &&
	# The token reached the gate alone: not the agent, not a file.
	! grep -rqF "$BOTTLE_TEST_GIT_TOKEN" ws "$STATE/$slug" &&
	test "$(stat -c %a "$STATE/$slug/bundle/gitgate/lib.key")" = 400 &&
	cmp "$PKI/deploy.pub" "$STATE/$slug/bundle/gitgate/lib.key.pub" &&
	grep -q "\"deploy_key\": \"/etc/sidecar/gitgate/lib.key\"" "$STATE/$slug/bundle/gitgate.yaml" &&
	test -d "$STATE/$slug/gitgate-data" &&
	grep -q "app.*fetch" "$QUEUE/$slug/bundle.log" &&
	"$BOTTLE_HOST" stop "$slug" && test ! -e "$STATE/$slug"
'

test_expect_success 'a credential missing from the environment stops start before anything exists' '
	before=$(ls "$STATE" | wc -l) &&
	! env -u BOTTLE_TEST_SECRET "$BOTTLE_HOST" start probe --cwd . </dev/null 2>err &&
	grep -q "BOTTLE_TEST_SECRET is not set" err &&
	test "$(ls "$STATE" | wc -l)" = "$before" &&
	! env -u BOTTLE_TEST_HOST_ROOTFS "$BOTTLE_HOST" start probe </dev/null 2>err &&
	grep -q "is for tests only" err
'

test_expect_success 'two bottles at once: list shows both; neither agent reaches the other bundle' '
	mkdir wa wb &&
	cat >wa/agent.sh <<"EOF" &&
i=0; while [ ! -s peer ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
curl -sS --noproxy "*" -m 5 -o /dev/null http://$(cat peer):9099/; echo "peer rc=$?"
curl -sS -m 5 -o /dev/null -w "own %{http_code}\n" https://host.containers.internal:'"$ORIGIN_PORT"'/allowed/a
EOF
	cat >wb/agent.sh <<"EOF" &&
i=0; while [ ! -e done ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done
EOF
	true
	"$BOTTLE_HOST" start probe --cwd wa </dev/null >a.out 2>a.err &
	pa=$!
	"$BOTTLE_HOST" start probe --cwd wb </dev/null >b.out 2>b.err &
	pb=$!
	wait_for 60 "grep -q \"^bottle-host: starting the agent\" a.err" &&
	wait_for 60 "grep -q \"^bottle-host: starting the agent\" b.err" &&
	sa=$(slug_of a.err) && sb=$(slug_of b.err) && test "$sa" != "$sb" &&
	"$BOTTLE_HOST" list >list.out && cat list.out &&
	grep -q "^$sa .* running$" list.out && grep -q "^$sb .* running$" list.out &&
	$ENGINE inspect --format "{{(index .NetworkSettings.Networks \"bottle-$sb-internal\").IPAddress}}" \
		"bottle-$sb-bundle" >wa/peer &&
	test -s wa/peer &&
	wait $pa &&
	touch wb/done && wait $pb &&
	cat a.out &&
	grep -q "^peer rc=" a.out && ! grep -qx "peer rc=0" a.out &&
	grep -qx "own 200" a.out &&
	test -z "$(leftovers "$sa")" && test -z "$(leftovers "$sb")"
'

test_expect_success 'bottle-host stop ends a running bottle and cleans up' '
	mkdir ws &&
	echo "sleep 120" >ws/agent.sh
	"$BOTTLE_HOST" start probe --cwd ws </dev/null >out 2>err &
	pid=$!
	wait_for 60 "grep -q \"^bottle-host: starting the agent\" err" &&
	slug=$(slug_of err) &&
	wait_for 30 "test \"\$($ENGINE inspect --format {{.State.Running}} bottle-$slug-agent 2>/dev/null)\" = true" &&
	"$BOTTLE_HOST" stop --time 1 "$slug" 2>stop.err && cat stop.err &&
	code=0 && { wait $pid || code=$?; } && echo "start exited $code" &&
	test "$code" -ne 0 &&
	test -z "$(leftovers "$slug")" && test ! -e "$STATE/$slug" &&
	! "$BOTTLE_HOST" list | grep -q "^$slug "
'

test_expect_success 'a launcher killed mid-start is listed as stale and stop cleans it' '
	mkdir ws &&
	echo "sleep 120" >ws/agent.sh
	"$BOTTLE_HOST" start probe --cwd ws </dev/null >out 2>err &
	pid=$!
	wait_for 60 "grep -q \"^bottle-host: starting the bundle\" err" &&
	slug=$(slug_of err) &&
	wait_for 30 "$ENGINE container exists bottle-$slug-bundle" &&
	kill -KILL $pid && { wait $pid 2>/dev/null || :; } &&
	"$BOTTLE_HOST" list >list.out && cat list.out &&
	grep -q "^$slug .* stale$" list.out &&
	test -n "$(leftovers "$slug")" &&
	"$BOTTLE_HOST" stop "$slug" &&
	test -z "$(leftovers "$slug")" && test ! -e "$STATE/$slug"
'

test_expect_success '--keep keeps the state (CA key 0600), list --all shows it kept' '
	mkdir ws &&
	echo "exit 0" >ws/agent.sh &&
	"$BOTTLE_HOST" start probe --cwd ws --keep </dev/null 2>err &&
	slug=$(slug_of err) &&
	test "$(stat -c %a "$STATE/$slug/ca.key")" = 600 &&
	openssl x509 -in "$STATE/$slug/ca.crt" -noout -text >ca.txt &&
	grep -q "CA:TRUE" ca.txt && grep -q "prime256v1\|P-256" ca.txt &&
	! "$BOTTLE_HOST" list | grep -q "^$slug " &&
	"$BOTTLE_HOST" list --all | grep -q "^$slug .* kept$" &&
	test -z "$(leftovers "$slug")" &&
	"$BOTTLE_HOST" stop "$slug" && test ! -e "$STATE/$slug"
'

test_done

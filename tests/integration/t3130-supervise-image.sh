#!/usr/bin/env bash
# The approve flow end to end against the built image: init runs egress and
# supervise as the unprivileged sidecar user, the queue is a host folder
# mounted into the bundle (as bottle-host start mounts it), the official
# TypeScript SDK client and the MCP Inspector CLI are the agent, and
# build/bottle-host supervise is the operator.  After the approval,
# supervise writes the routes and asks init (as a daemon user may) to
# reload egress, and egress lets the new host through.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise/lib.sh"
test_skip_if_sanitized "the bundle runs inside the image, which holds the static musl sidecar"
test_skip_unless podman
test_skip_unless curl
[ -x "$HOST_CLI" ] || { echo "# skip $TEST_NAME: build/bottle-host missing (make all)"; exit 0; }
sv_need_clients
sv_build_responder
. "$TEST_ROOT/scripts/engine.sh"

if [ ! -f "$BUILD/image/tag" ]; then
	"$TEST_ROOT/scripts/build-image.sh" "$BUILD" >/dev/null || exit 1
fi
image=$(cat "$BUILD/image/tag")
config=$TEST_SCRATCH/config
CONTAINER=bottle-t3130-$$
CLIENT="$SV_NODE $SV_DIR/client.mjs $SV_URL"
INSPECTOR="$SV_NODE $SV_DIR/node_modules/@modelcontextprotocol/inspector/cli/build/cli.js --cli"
UP="127.0.0.1:$SV_UPSTREAM_PORT"
ALLOW_YAML="log: blocks\nroutes:\n  - host: example.com\n  - host: 127.0.0.1\n    ports: [$SV_UPSTREAM_PORT]\n    addresses: [127.0.0.1]\n"
ALLOW_ARGS="{\"routes_yaml\":\"$ALLOW_YAML\",\"justification\":\"the image test needs the local upstream\"}"

through_egress() {
	curl -s -o /dev/null -w '%{http_code}' -x "http://127.0.0.1:$SV_EGRESS_PORT" "http://$UP/"
}

test_expect_success 'set up the queue, the configs, the upstream and the bundle' '
	mkdir -p "$config" "$SV_QUEUE" &&
	chmod 0755 "$TEST_SCRATCH" "$config" &&
	"$TEST_ROOT/scripts/make-demo-pki.sh" "$config" &&
	printf "log: blocks\nroutes:\n  - host: example.com\n" >"$SV_QUEUE/routes.yaml" &&
	cat >"$config/init.yaml" <<EOF &&
daemons:
  - name: egress
    argv: [/bin/sidecar, egress, --listen, "127.0.0.1:$SV_EGRESS_PORT",
           --routes, /run/supervise/queue/routes.yaml,
           --ca-cert, /etc/sidecar/ca.crt, --ca-key, /etc/sidecar/ca.key, --ready-fd, "3"]
    user: sidecar
    ready_fd: 3
  - name: supervise
    argv: [/bin/sidecar, supervise, --listen, "127.0.0.1:$SV_PORT",
           --routes, /run/supervise/queue/routes.yaml, --queue, /run/supervise/queue,
           --bottle, $SV_BOTTLE, --egress-proxy, "127.0.0.1:$SV_EGRESS_PORT",
           --queue-poll, 100ms, --progress-interval, 1s, --ready-fd, "3"]
    user: sidecar
    ready_fd: 3
EOF
	# The sidecar user (uid 10001 in the image) owns the queue, as
	# bottle-host start arranges it.
	chown -R 10001:10001 "$SV_QUEUE_ROOT" &&
	$ENGINE run --detach --name "$CONTAINER" --network host --read-only \
		--cap-drop=all --cap-add=setuid --cap-add=setgid --cap-add=kill \
		--security-opt=no-new-privileges --volume "$config:/etc/sidecar:ro" \
		--volume "$SV_QUEUE:/run/supervise/queue" \
		"$image" --config /etc/sidecar/init.yaml >/dev/null
'
test_at_exit "$ENGINE rm --force $CONTAINER >/dev/null 2>&1"
sv_start_upstream

test_expect_success 'init reports egress and supervise ready' '
	wait_for 20 "$ENGINE exec $CONTAINER /bin/sidecar initctl status >status.out 2>&1" ||
		{ cat status.out; $ENGINE logs $CONTAINER; false; }
	grep -q "^egress running" status.out
	grep -q "^supervise running" status.out
'

test_expect_success 'SDK client and Inspector CLI: tools and the live routes from the image' '
	$CLIENT smoke >out.json
	grep -q "\"routesError\":false" out.json
	grep -q "example.com" out.json
	timeout 60 $INSPECTOR $SV_URL --transport http --method tools/list >tools.json
	grep -q "\"name\": \"egress-allow\"" tools.json
'

test_expect_success 'egress-allow approved by the operator: supervise reloads egress through init' '
	[ "$(through_egress)" = 403 ]
	$CLIENT call egress-allow "$ALLOW_ARGS" >out.json &
	client=$!
	id=$(sv_wait_pending 1)
	sv_operator approve "$id" --note "approved in the image test"
	wait $client
	cat out.json
	grep -q "\"isError\":false" out.json
	grep -q "Approved: the operator accepted proposal $id" out.json
	[ "$(through_egress)" = 200 ]
	sv_operator verify-log
	$ENGINE logs $CONTAINER 2>&1 | grep -q "init: reloading egress"
'

test_expect_success 'egress-allow rejected: the note comes back and the routes stay' '
	args=$(echo "$ALLOW_ARGS" | sed "s/ports: \[$SV_UPSTREAM_PORT\]/ports: [$SV_UPSTREAM_PORT, 9]/")
	$CLIENT call egress-allow "$args" >out.json &
	client=$!
	id=$(sv_wait_pending 1)
	sv_operator reject "$id" --note "port 9 is not needed"
	wait $client
	grep -q "port 9 is not needed" out.json
	! grep -q "ports: \[$SV_UPSTREAM_PORT, 9\]" "$SV_QUEUE/routes.yaml"
	[ "$(through_egress)" = 200 ]
'

test_done

#!/usr/bin/env bash
# sidecar egress inside the built image, as init's daemon: it runs as the
# unprivileged `sidecar` user under a read-only root with capabilities
# dropped, reports ready through init, answers curl through the bottle CA,
# and `initctl reload egress` swaps its routes without a restart.  The
# container shares the host's network so it can reach a loopback origin
# (openssl s_server with a test CA); nothing outside this machine is used.
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "egress runs inside the image, which holds the static musl sidecar"
test_skip_unless podman
test_skip_unless openssl
. "$TEST_ROOT/scripts/engine.sh"

if [ ! -f "$BUILD/image/tag" ]; then
	"$TEST_ROOT/scripts/build-image.sh" "$BUILD" >/dev/null || exit 1
fi
image=$(cat "$BUILD/image/tag")
config=$TEST_SCRATCH/config
mkdir -p "$config"
chmod 0755 "$TEST_SCRATCH" "$config"

make_pki() {
	"$TEST_ROOT/scripts/make-demo-pki.sh" "$config"
}

EGRESS_PORT=$(free_port)
ORIGIN_PORT=$(free_port)
CONTAINER=bottle-t2100-$$

write_routes() {
	cat >"$config/routes.yaml" <<EOF
log: all
routes:
  - host: localhost
    ports: [$ORIGIN_PORT]
    addresses: [127.0.0.1, "::1"]
    matches:
      - path_prefix: $1
EOF
}

test_expect_success 'set up the PKI, the origin and the container' '
	make_pki &&
	write_routes /allowed &&
	cat >"$config/init.yaml" <<EOF &&
daemons:
  - name: egress
    argv: [/bin/sidecar, egress, --listen, "127.0.0.1:$EGRESS_PORT",
           --routes, /etc/sidecar/routes.yaml,
           --ca-cert, /etc/sidecar/ca.crt, --ca-key, /etc/sidecar/ca.key,
           --upstream-ca, /etc/sidecar/origin-ca.crt, --ready-fd, "3"]
    user: sidecar
    ready_fd: 3
EOF
	(cd "$config" && exec openssl s_server -quiet -www -accept "$ORIGIN_PORT" \
		-cert origin.crt -key origin.key >/dev/null 2>&1) &
	echo $! >"$TEST_SCRATCH/origin.pid" &&
	$ENGINE run --detach --name "$CONTAINER" --network host --read-only \
		--cap-drop=all --cap-add=setuid --cap-add=setgid --cap-add=kill \
		--security-opt=no-new-privileges --volume "$config:/etc/sidecar:ro" \
		"$image" --config /etc/sidecar/init.yaml >/dev/null
'
test_at_exit "kill \$(cat $TEST_SCRATCH/origin.pid)"
test_at_exit "$ENGINE rm --force $CONTAINER"

test_expect_success 'init reports the bundle ready once egress listens' '
	wait_for 20 "$ENGINE exec $CONTAINER /bin/sidecar initctl status >status.out 2>&1" ||
		{ cat status.out; $ENGINE logs $CONTAINER; false; } &&
	grep -q "egress" status.out
'

test_expect_success 'egress runs as the unprivileged sidecar user' '
	$ENGINE top $CONTAINER user args >top.out &&
	grep "egress" top.out | grep -q "^sidecar"
'

test_expect_success 'an allowed path passes, bumped with the bottle CA' '
	curl -sS --fail --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$config/ca.crt" \
		"https://localhost:$ORIGIN_PORT/allowed" -o body.out &&
	grep -q "s_server" body.out
'

test_expect_success 'another path is a 403 that names the route' '
	code=$(curl -sS -o body.out -w "%{http_code}" --proxy "http://127.0.0.1:$EGRESS_PORT" \
		--cacert "$config/ca.crt" "https://localhost:$ORIGIN_PORT/other") &&
	test "$code" = 403 &&
	grep -q "does not allow GET /other" body.out
'

test_expect_success 'initctl reload egress applies new routes without a restart' '
	pid_before=$($ENGINE top $CONTAINER pid args | awk "/egress/ {print \$1}") &&
	write_routes /other &&
	$ENGINE exec $CONTAINER /bin/sidecar initctl reload egress >reload.out &&
	grep -q "reloaded" reload.out &&
	curl -sS --fail --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$config/ca.crt" \
		"https://localhost:$ORIGIN_PORT/other" -o /dev/null &&
	pid_after=$($ENGINE top $CONTAINER pid args | awk "/egress/ {print \$1}") &&
	test "$pid_before" = "$pid_after"
'

test_expect_success 'a broken routes file is refused on reload and the old routes stay' '
	printf "routes:\n  - hots: x\n" >"$config/routes.yaml" &&
	$ENGINE exec $CONTAINER /bin/sidecar initctl reload egress >reload.out 2>&1 || true &&
	curl -sS --fail --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$config/ca.crt" \
		"https://localhost:$ORIGIN_PORT/other" -o /dev/null &&
	$ENGINE logs $CONTAINER >logs.out 2>&1 &&
	grep -q "reload rejected.*routes.yaml:2" logs.out
'

test_expect_success 'decision lines are JSON without the query' '
	curl -sS --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$config/ca.crt" \
		"https://localhost:$ORIGIN_PORT/other?token=hunter2" -o /dev/null &&
	$ENGINE logs $CONTAINER >logs.out 2>/dev/null &&
	grep "^{" logs.out >decisions.out &&
	grep -q "\"path\":\"/other\"" decisions.out &&
	! grep -q hunter2 logs.out
'

test_done

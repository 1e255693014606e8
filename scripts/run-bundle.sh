#!/usr/bin/env bash
# Boot the sidecar bundle image with egress as init's daemon, show what the
# proxy decides for a few requests (allowed, denied by path, denied by host,
# and one carrying the bottle's canary, which DLP stops), then stop it the way an engine does
# (SIGTERM, grace period) and report how init exited.  KEEP=1 leaves the
# bundle running instead.
#
# Until `bottle-host start` wires agent containers (it will replace this),
# the demo plays the agent from the host: the bundle shares the host's
# network, a local HTTPS origin (openssl s_server, with its own test CA)
# stands in for "the internet", and curl sends requests through egress.
# Nothing leaves this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
. scripts/engine.sh

tag=$(cat "$build/image/tag")
name=bottle-sidecar-run-$$
grace=10
ready_timeout=20
demo=$(mktemp -d /tmp/bottle-run.XXXXXX)
chmod 0755 "$demo"
origin_pid=

cleanup() {
	[ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null
	if [ "${KEEP:-0}" != 1 ]; then
		$ENGINE rm --force "$name" >/dev/null 2>&1 || true
		rm -rf "$demo"
	fi
}
trap cleanup EXIT

free_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 20000))
		ss -Htln "sport = :$port" | grep -q . || { echo "$port"; return; }
	done
}

scripts/make-demo-pki.sh "$demo"
# The CA key for egress alone (uid 10002 in the image, group 10001), as
# bottle-host hands it over; a rootless engine maps ids, so without root
# the demo key stays readable to all (docs/security.md).
if [ "$(id -u)" = 0 ]; then
	chown 10002:10001 "$demo/ca.key"
	chmod 0400 "$demo/ca.key"
fi

egress_port=$(free_port)
origin_port=$(free_port)
cat >"$demo/routes.yaml" <<EOF
# The demo's routes: the local origin, under /docs/ only.
log: all
routes:
  - host: localhost
    ports: [$origin_port]
    addresses: [127.0.0.1]   # loopback is refused unless a route names it
    matches:
      - path_prefix: /docs/
EOF
cat >"$demo/init.yaml" <<EOF
grace_period: $grace
control_socket: /run/sidecar/init.sock
daemons:
  - name: egress
    argv: [/bin/sidecar, egress, --listen, "127.0.0.1:$egress_port",
           --routes, /etc/sidecar/routes.yaml,
           --ca-cert, /etc/sidecar/ca.crt, --ca-key, /etc/sidecar/ca.key,
           --upstream-ca, /etc/sidecar/origin-ca.crt, --ready-fd, "3",
           --canary-env, BOTTLE_CANARY]
    user: egress
    ready_fd: 3
    env_inherit: [BOTTLE_CANARY]
EOF
# The bottle's canary: a value no legitimate request carries.  It reaches
# the bundle through an env file (never an argv), removed once it started.
canary=bottle-canary-$(openssl rand -hex 16)
(umask 077 && printf 'BOTTLE_CANARY=%s\n' "$canary" >"$demo/bundle.env")

(cd "$demo" && exec openssl s_server -quiet -www -accept "$origin_port" \
	-cert origin.crt -key origin.key >/dev/null 2>&1) &
origin_pid=$!

echo "run: starting $tag as $name (egress on 127.0.0.1:$egress_port)"
# Confined as bottle-host confines it (host/launch_engine.c,
# launch_bundle_privilege_args): read-only, no writable tmpfs but init's
# socket folder, no shared memory, no capabilities but the three init
# needs to drop and signal its daemons, no-new-privileges.
read_only_tmpfs=()
[ "$ENGINE" = podman ] && read_only_tmpfs=(--read-only-tmpfs=false)
$ENGINE run --detach --name "$name" --network host --read-only "${read_only_tmpfs[@]}" \
	--tmpfs=/run/sidecar:mode=0755 --ipc=none --tmpfs=/dev/mqueue:ro --cap-drop=all \
	--cap-add=setuid --cap-add=setgid --cap-add=kill \
	--security-opt=no-new-privileges --volume "$demo:/etc/sidecar:ro" \
	--env-file "$demo/bundle.env" "$tag" --config /etc/sidecar/init.yaml >/dev/null
rm -f "$demo/bundle.env"

deadline=$((SECONDS + ready_timeout))
until status=$($ENGINE exec "$name" /bin/initctl status 2>&1); do
	if [ "$($ENGINE inspect --format '{{.State.Running}}' "$name")" != true ]; then
		echo "run: the bundle exited before it was ready; its log:" >&2
		$ENGINE logs "$name" >&2
		exit 1
	fi
	if [ "$SECONDS" -ge "$deadline" ]; then
		echo "run: the bundle was not ready after ${ready_timeout}s; status was:" >&2
		echo "$status" >&2
		exit 1
	fi
	sleep 0.2
done
echo "run: bundle status (sidecar initctl status):"
echo "$status" | sed 's/^/  /'

# One request as the agent would send it, through egress, trusting only
# the bottle CA; prints the URL (or SHOWN instead), the status and the
# first line of the body.
agent_request() {
	local url=$1 shown=${2:-$1} out code
	out=$(mktemp "$demo/body.XXXXXX")
	code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 10 \
		--proxy "http://127.0.0.1:$egress_port" --cacert "$demo/ca.crt" "$url" 2>&1) || true
	printf '  %-48s -> %s  %s\n' "$shown" "$code" "$(head -c 160 "$out" | head -n 1)"
}
echo "run: requests through egress (as the agent would send them):"
agent_request "https://localhost:$origin_port/docs/index.html"
agent_request "https://localhost:$origin_port/admin"
# A host no route names (a reserved name: egress refuses it before any
# lookup, and it could not resolve anyway).
unlisted_host=unlisted.invalid
agent_request "http://$unlisted_host/"
agent_request "https://localhost:$origin_port/docs/search?q=$canary" \
	"https://localhost:$origin_port/docs/search?q=<the canary>"

if [ "${KEEP:-0}" = 1 ]; then
	echo "run: left running; proxy: http://127.0.0.1:$egress_port, CA: $demo/ca.crt"
	echo "run: stop it with: $ENGINE rm --force $name; kill $origin_pid; rm -rf $demo"
	origin_pid=
	exit 0
fi

started=$(date +%s.%N)
$ENGINE stop --time "$grace" "$name" >/dev/null
stopped=$(date +%s.%N)
code=$($ENGINE inspect --format '{{.State.ExitCode}}' "$name")
echo "run: the bundle's log (init, and egress's decision lines):"
$ENGINE logs "$name" 2>&1 | sed 's/^/  /'
awk -v a="$started" -v b="$stopped" -v code="$code" -v grace="$grace" 'BEGIN {
	printf "run: stopped in %.2fs (grace period %ds), init exited with status %d\n", b - a, grace, code }'
[ "$code" -eq 0 ]

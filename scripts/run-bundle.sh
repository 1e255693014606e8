#!/usr/bin/env bash
# Boot the sidecar bundle image with its shipped default config, wait until
# init reports the bundle ready (a health check, not a sleep), print the
# status, then stop it the way an engine does (SIGTERM, grace period) and
# report how init exited.  KEEP=1 leaves the bundle running instead.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${BUILD:-build}
. scripts/engine.sh

tag=$(cat "$build/image/tag")
name=bottle-sidecar-run-$$
grace=10
ready_timeout=20

echo "run: starting $tag as $name"
$ENGINE run --detach --name "$name" --read-only --cap-drop=all \
	--cap-add=setuid --cap-add=setgid --cap-add=kill \
	--security-opt=no-new-privileges "$tag" \
	--config /usr/share/sidecar/init.yaml >/dev/null

cleanup() {
	if [ "${KEEP:-0}" != 1 ]; then
		$ENGINE rm --force "$name" >/dev/null 2>&1 || true
	fi
}
trap cleanup EXIT

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

if [ "${KEEP:-0}" = 1 ]; then
	echo "run: left running; stop it with: $ENGINE stop $name"
	exit 0
fi

started=$(date +%s.%N)
$ENGINE stop --time "$grace" "$name" >/dev/null
stopped=$(date +%s.%N)
code=$($ENGINE inspect --format '{{.State.ExitCode}}' "$name")
echo "run: init's log:"
$ENGINE logs "$name" 2>&1 | sed 's/^/  /'
awk -v a="$started" -v b="$stopped" -v code="$code" -v grace="$grace" 'BEGIN {
	printf "run: stopped in %.2fs (grace period %ds), init exited with status %d\n", b - a, grace, code }'
[ "$code" -eq 0 ]

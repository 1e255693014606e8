# Sourced by scripts that drive an OCI engine.  Sets ENGINE to the engine
# command: $BOTTLE_ENGINE if set, else podman, else a docker whose daemon
# answers (a docker client alone is not enough).  Exports CONTAINERS_CONF so
# podman uses the project's settings (scripts/containers.conf).
export CONTAINERS_CONF=${CONTAINERS_CONF:-$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/containers.conf}
if [ -n "${BOTTLE_ENGINE:-}" ]; then
	ENGINE=$BOTTLE_ENGINE
elif command -v podman >/dev/null 2>&1; then
	ENGINE=podman
elif command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
	ENGINE=docker
else
	echo "no container engine: install podman (scripts/install-build-tools.sh does) or start a docker daemon" >&2
	exit 1
fi
SIDECAR_IMAGE=${SIDECAR_IMAGE:-localhost/bottle-sidecar}

#!/usr/bin/env bash
# Build the sidecar image from Containerfile.sidecar and print its size.
#   scripts/build-image.sh [BUILD_DIR]
# SIDECAR names the binary to ship (default BUILD_DIR/sidecar); bottle-host
# start passes the one it found (docs/launcher.md).
# The image is tagged with a hash of its content (binary + rootfs) and as
# :latest; an image whose content tag already exists is not rebuilt.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
sidecar=${SIDECAR:-$build/sidecar}
. scripts/engine.sh

max_bytes=$((10 * 1000 * 1000))
context=$build/image/context

# Assemble the context from scratch each time so nothing stale gets in.
rm -rf "$context"
mkdir -p "$context/rootfs/bin" "$context/rootfs/run" "$context/rootfs/tmp"
cp -a rootfs/. "$context/rootfs/"
cp "$sidecar" "$context/rootfs/bin/sidecar"
chmod 0755 "$context/rootfs/bin/sidecar"
chmod 1777 "$context/rootfs/tmp"
# Egress verifies upstream certificates (and libgit2 its https remotes)
# against the system bundle unless told otherwise: ship Debian's.
mkdir -p "$context/rootfs/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$context/rootfs/etc/ssl/certs/ca-certificates.crt"
for applet in $("$sidecar" --list); do
	ln -s sidecar "$context/rootfs/bin/$applet"
done
cp Containerfile.sidecar "$context/Containerfile"

content_hash=$( (cd "$context" && find . -type f -o -type l | LC_ALL=C sort |
	while read -r f; do
		if [ -L "$f" ]; then echo "$f -> $(readlink "$f")"; else sha256sum "$f"; fi
	done) | sha256sum | cut -c1-16)
tag=$SIDECAR_IMAGE:$content_hash

if $ENGINE image exists "$tag" 2>/dev/null ||
	{ [ "$ENGINE" = docker ] && docker image inspect "$tag" >/dev/null 2>&1; }; then
	echo "image: $tag is up to date"
else
	echo "image: building $tag with $ENGINE"
	$ENGINE build --quiet --tag "$tag" --file "$context/Containerfile" "$context" >/dev/null
fi
$ENGINE tag "$tag" "$SIDECAR_IMAGE:latest"
echo "$tag" >"$build/image/tag"

size=$($ENGINE image inspect --format '{{.Size}}' "$tag")
awk -v tag="$tag" -v size="$size" -v max="$max_bytes" 'BEGIN {
	printf "image: %s is %d bytes (%.2f MB; limit %.0f MB)\n", tag, size, size / 1e6, max / 1e6 }'
if [ "$size" -gt "$max_bytes" ]; then
	echo "image: over the size limit; see what grew (sidecar --help, docs/dependencies.md)" >&2
	exit 1
fi

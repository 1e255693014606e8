#!/usr/bin/env bash
# The sidecar image as the engine runs it: its size and its behaviour
# without a config.  The README's main job, `bottle-host start demo`, is
# t4150.
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "the image holds the static musl sidecar"
test_skip_unless podman
. "$TEST_ROOT/scripts/engine.sh"
tag=$(cat "$BUILD/image/tag")

test_expect_success 'the image is under 10 MB' '
	size=$($ENGINE image inspect --format "{{.Size}}" "$tag") &&
	echo "size $size" && [ "$size" -lt 10000000 ]
'

test_expect_success 'the image holds only the binary, its applet links and rootfs/' '
	name=bottle-t0100-export-$$ &&
	$ENGINE create --name "$name" "$tag" >/dev/null &&
	$ENGINE export "$name" | tar -t | sed "s,/$,," | LC_ALL=C sort >files &&
	$ENGINE rm "$name" >/dev/null &&
	grep -qx "bin/sidecar" files &&
	for applet in $("$SIDECAR" --list); do grep -qx "bin/$applet" files; done &&
	! grep -E "^(usr/bin|lib|usr/lib)/" files
'

test_expect_success 'run without a config: a clear error naming the path, exit 3' '
	status=0 &&
	$ENGINE run --rm "$tag" >out 2>&1 || status=$? &&
	cat out && [ "$status" -eq 3 ] &&
	grep -q "/etc/sidecar/init.yaml" out
'

test_done

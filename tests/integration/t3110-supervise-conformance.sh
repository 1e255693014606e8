#!/usr/bin/env bash
# sidecar supervise against the official MCP conformance suite
# (`conformance server --url ...`).  The suite's fixture tools, resources and
# prompts are compiled in only for this test: the supervise objects are
# rebuilt with -DSUPERVISE_CONFORMANCE and linked with the rest of
# build/obj into a test-only sidecar.  Expected failures, with reasons:
# supervise/conformance-expected-failures.yaml.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/supervise/lib.sh"

test_skip_if_sanitized "it relinks build/obj into a static musl sidecar with the fixtures"
test_skip_unless curl
test_skip_unless openssl
test_skip_unless musl-gcc
[ -x "$SIDECAR" ] || { echo "# skip $TEST_NAME: build/sidecar missing (make all)"; exit 0; }
sv_need_clients

test_expect_success 'build the test-only sidecar with the conformance fixtures' '
	mkdir -p "$TEST_SCRATCH/obj"
	for src in "$TEST_ROOT"/sidecar/supervise/*.c; do
		musl-gcc -std=c11 -D_GNU_SOURCE -O1 -Wall -Wextra -Werror -DSUPERVISE_CONFORMANCE \
			-isystem "$BUILD/sysroot/include" -I"$BUILD/gen" -c \
			-o "$TEST_SCRATCH/obj/$(basename "$src" .c).o" "$src"
	done
	objs=$(find "$BUILD/obj/sidecar" "$BUILD/obj/shared" -name "*.o" ! -path "*/supervise/*")
	# The flags name the sysroot relative to the top of the tree.
	link=$(make -s -C "$TEST_ROOT" sidecar-link-flags) &&
	(cd "$TEST_ROOT" && musl-gcc -o "$TEST_SCRATCH/sidecar-conformance" $objs "$TEST_SCRATCH"/obj/*.o $link)
'

cat >"$TEST_SCRATCH/routes.in" <<'EOF2'
log: blocks
routes:
  - host: example.com
EOF2
sv_start_egress "$TEST_SCRATCH/routes.in"
SV_BINARY=$TEST_SCRATCH/sidecar-conformance sv_start_supervise

test_expect_success 'the shipped binary has no fixtures' '
	! grep -q test_simple_text "$SIDECAR"
	grep -q test_simple_text "$TEST_SCRATCH/sidecar-conformance"
'

test_expect_success 'conformance server suite passes, failures only as listed' '
	cd "$SV_DIR"
	"$SV_NODE" node_modules/@modelcontextprotocol/conformance/dist/index.js server \
		--url "$SV_URL" --expected-failures conformance-expected-failures.yaml \
		-o "$TEST_DIR/results" >"$TEST_DIR/conformance.txt" 2>&1 || {
		cat "$TEST_DIR/conformance.txt"; false; }
	grep -E "passed|Total|Baseline" "$TEST_DIR/conformance.txt"
'

test_done

#!/usr/bin/env bash
# The multi-call binary: dispatch by argument and by link name, help, the
# unknown-applet error, and what the binary is made of.
. "$(dirname "$0")/lib.sh"

test_expect_success_unless_sanitized "a sanitizer build is dynamic and keeps its symbols" \
	'sidecar is a static, stripped ELF' '
	file "$SIDECAR" >out &&
	grep -q "statically linked" out &&
	grep -q "stripped" out && ! grep -q "not stripped" out
'

test_expect_success 'sidecar --help lists every applet of the table, one line each' '
	"$SIDECAR" --help >out &&
	for applet in $(sed -nE "s/^APPLET\(([a-z0-9_-]+),.*/\1/p" "$TEST_ROOT/sidecar/applets.h"); do
		grep -qE "^  $applet +[^ ]" out || { echo "missing $applet"; exit 1; }
	done &&
	grep -qE "^  init +PID 1" out
'

test_expect_success 'sidecar --list prints the applet names the image links' '
	"$SIDECAR" --list >out &&
	grep -qx init out && grep -qx version out &&
	[ "$(wc -l <out)" -eq "$(grep -c "^APPLET(" "$TEST_ROOT/sidecar/applets.h")" ]
'

test_expect_success 'sidecar with no arguments prints usage to stderr and exits 2' '
	status=0 && "$SIDECAR" >out 2>err || status=$? &&
	[ "$status" -eq 2 ] && [ ! -s out ] && grep -q "^usage: sidecar" err
'

test_expect_success 'an unknown applet exits 2 and says what to do' '
	status=0 && "$SIDECAR" frobnicate 2>err || status=$? &&
	[ "$status" -eq 2 ] &&
	grep -q "'"'"'frobnicate'"'"' is not an applet; run '"'"'sidecar --help'"'"'" err
'

test_expect_success 'a link named after an applet runs that applet' '
	ln -s "$SIDECAR" version && ./version >out &&
	grep -q "^sidecar [0-9]" out
'

test_expect_success 'a link with an unknown name falls back to sidecar argv dispatch' '
	ln -s "$SIDECAR" bundle && ./bundle version >out &&
	grep -q "^sidecar [0-9]" out
'

test_expect_success 'sidecar version reports every linked library from the library itself' '
	"$SIDECAR" version >out &&
	grep -qE "^mbedtls 3\.6\." out &&
	grep -qE "^libgit2 1\.9\.[0-9]+ \(https ssh" out &&
	grep -qE "^libssh2 1\." out &&
	grep -qE "^libyaml 0\.2\." out &&
	grep -qE "^pcre2 10\.[0-9]+ .*\(jit\)$" out &&
	grep -qE "^yyjson 0\." out &&
	grep -qE "^zlib 1\." out &&
	grep -qE "^http-parser 2\." out
'

test_expect_success 'each applet answers --help with its usage on stdout' '
	for applet in $("$SIDECAR" --list); do
		"$SIDECAR" "$applet" --help >out || { echo "$applet --help failed"; exit 1; }
		grep -q "^usage: " out || { echo "$applet: no usage line"; exit 1; }
	done
'

test_expect_success 'bottle-host --help and version work' '
	"$BUILD/bottle-host" --help >out && grep -qE "^  version +" out &&
	"$BUILD/bottle-host" version >out && grep -qE "^bottle-host [0-9]" out &&
	status=0 && "$BUILD/bottle-host" nonsense 2>err || status=$? &&
	[ "$status" -eq 2 ] && grep -q "is not a command" err
'

test_done

#!/usr/bin/env bash
# Style rules the compiler cannot enforce (docs/style.md).  Prints each
# violation as file:line: rule, and exits non-zero if there is any.
set -uo pipefail
cd "$(dirname "$0")/.."
sources=(sidecar shared host)
[ -d tests/helpers ] && sources+=(tests/helpers)
status=0

report() { # rule, grep output
	[ -n "$2" ] || return 0
	sed "s/\$/  <- $1/" <<<"$2"
	status=1
}

# Unbounded copies and silent conversions: use buf_*, snprintf, strtol-based
# parsers instead.
report "banned function (see docs/style.md)" \
	"$(grep -rnE --include='*.[ch]' '(^|[^_a-z])(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok)\(' "${sources[@]}")"

# Per-connection and library code never exits; only *_main.c, main.c and
# cmd_*.c files (start-up and CLI code) may.  _exit() after fork() in a
# child that failed to exec is the one legitimate exception and not matched.
report "exit() outside start-up code" \
	"$(grep -rnE --include='*.c' '(^|[^_a-z])exit\(' shared sidecar host |
		grep -vE '^(sidecar/main\.c|host/main\.c|host/cmd_[a-z_]+\.c|sidecar/[a-z-]+/[a-z_]+_main\.c|shared/log\.c):' |
		grep -vE '^[^:]+:[0-9]+:\s*(/\*|\*)')"

# The applet table stays sorted so a newcomer finds a row at a glance.
table=$(grep -E '^APPLET\(' sidecar/applets.h | sed -E 's/^APPLET\(([a-z0-9_-]+),.*/\1/')
if [ "$table" != "$(LC_ALL=C sort <<<"$table")" ]; then
	echo "sidecar/applets.h: rows are not sorted by name"
	status=1
fi

exit $status

#!/usr/bin/env bash
# bottle-host supervise on a real terminal: the interactive loop and watch
# run in tmux windows, keys are typed with send-keys and the screen read
# back with capture-pane.  Proves the coloured diff (and NO_COLOR), the
# approve / edit / reject prompts with bounds and a required reason, the
# wake-up and bell when a proposal arrives, a proposal withdrawn while the
# operator looks at it, and quitting.
. "$(dirname "$0")/lib.sh"
test_skip_unless tmux
test_skip_unless jq

HOST=$BUILD/bottle-host
ROOT=$TEST_SCRATCH/queue
HASH=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
SOCKET=$TEST_SCRATCH/tmux.sock

tm() { tmux -S "$SOCKET" "$@"; }
test_at_exit 'tmux -S "$SOCKET" kill-server'

# propose BOTTLE ID KIND: a proposal renamed into pending/ as the bundle does.
propose() {
	local dir=$ROOT/$1
	mkdir -p "$dir/pending" "$dir/responses" "$dir/processed"
	case $3 in
	egress-allow)
		jq -n --arg id "$2" --arg bottle "$1" \
			'{id: $id, kind: "egress-allow", created: "2026-11-29T10:00:00Z",
			  bottle: $bottle, justification: "need the package index",
			  routes_yaml: "routes:\n  - host: api.anthropic.com\n  - host: pypi.org\n",
			  bounds: {expires_in: 3600, max_requests: 100}}' ;;
	egress-token-allow)
		jq -n --arg id "$2" --arg bottle "$1" --arg hash "$HASH" \
			'{id: $id, kind: "egress-token-allow", created: "2026-11-29T10:00:00Z",
			  bottle: $bottle, justification: "a fixture", host: "api.example.com",
			  method: "PUT", path: "/v1/keys", detector: "aws-access-key",
			  rule: "aws-access-key-id", preview: "AKIA************", value_hash: $hash}' ;;
	esac >"$dir/pending/.$2.tmp"
	mv "$dir/pending/.$2.tmp" "$dir/pending/$2.json"
}

screen() { tm capture-pane -p -J -t "$1" -S -300; }
# on_screen WINDOW REGEX: wait until the window shows a line matching REGEX.
on_screen() { wait_for 10 "tm capture-pane -p -J -t '$1' -S -300 | grep -qE -- '$2'"; }
response() { jq -r "$2" "$ROOT/web/responses/$1.json"; }

mkdir -p "$ROOT/web"
printf 'routes:\n  - host: api.anthropic.com\n' >"$ROOT/web/routes.yaml"
printf '#!/bin/sh\nsed -i s/pypi.org/files.pythonhosted.org/ "$1"\n' >"$TEST_SCRATCH/editor"
chmod +x "$TEST_SCRATCH/editor"
propose web 20261129T100000Z-000000c1 egress-allow
# Window 0 stays current so the supervise windows' bells are recorded.
tm -f /dev/null new-session -d -s t -x 160 -y 50 'sleep 600'
tm set-option -g -t t monitor-bell on
tm new-window -d -t t:1 "env -u NO_COLOR EDITOR='$TEST_SCRATCH/editor' \
	'$HOST' supervise --queue-root '$ROOT'; echo supervise-exit=\$?; sleep 600"

test_expect_success 'the loop shows the oldest proposal with a coloured diff' '
	on_screen t:1 "\\[a\\]pprove" &&
	screen t:1 >out && cat out &&
	grep -q "egress-allow from bottle web" out &&
	grep -qx "+  - host: pypi.org" out &&
	tm capture-pane -p -e -t t:1 -S -300 >coloured &&
	grep -q "$(printf "\033\\[32m+  - host: pypi.org")" coloured
'

test_expect_success 'approve asks for a note and bounds, and tightens on request' '
	tm send-keys -t t:1 a Enter &&
	on_screen t:1 "note \\(optional\\): $" &&
	tm send-keys -t t:1 "looks right" Enter &&
	on_screen t:1 "expires in \\[3600s, Enter keeps\\]: $" &&
	tm send-keys -t t:1 Enter &&
	on_screen t:1 "max requests \\[100, Enter keeps\\]: $" &&
	tm send-keys -t t:1 500 Enter &&
	on_screen t:1 "at most 100: bounds only tighten" &&
	tm send-keys -t t:1 10 Enter &&
	on_screen t:1 "^approved 20261129T100000Z-000000c1" &&
	[ "$(response 20261129T100000Z-000000c1 .bounds.max_requests)" = 10 ] &&
	[ "$(response 20261129T100000Z-000000c1 .bounds.expires_in)" = 3600 ] &&
	[ "$(response 20261129T100000Z-000000c1 .note)" = "looks right" ]
'

test_expect_success 'with nothing left it waits, then wakes and rings for a new proposal' '
	on_screen t:1 "no pending proposals; waiting" &&
	[ "$(tm display-message -p -t t:1 "#{window_bell_flag}")" = 0 ] &&
	propose web 20261129T100000Z-000000c2 egress-token-allow &&
	on_screen t:1 "egress-token-allow from bottle web" &&
	screen t:1 >out &&
	grep -q "method *PUT" out && grep -q "context *AKIA\*\*\*" out &&
	wait_for 5 "[ \"\$(tm display-message -p -t t:1 \"#{window_bell_flag}\")\" = 1 ]"
'

test_expect_success 'rejecting a held token insists on a reason' '
	tm send-keys -t t:1 r Enter &&
	on_screen t:1 "reason \\(required\\): $" &&
	tm send-keys -t t:1 Enter &&
	wait_for 5 "[ \"\$(screen t:1 | grep -c \"reason (required)\")\" -ge 2 ]" &&
	[ ! -e "$ROOT/web/responses/20261129T100000Z-000000c2.json" ] &&
	tm send-keys -t t:1 "real key, rotate it" Enter &&
	on_screen t:1 "^rejected 20261129T100000Z-000000c2" &&
	[ "$(response 20261129T100000Z-000000c2 .note)" = "real key, rotate it" ]
'

test_expect_success 'edit opens $EDITOR, shows the change and approves it as modified' '
	propose web 20261129T100000Z-000000c3 egress-allow &&
	on_screen t:1 "000000c3" &&
	on_screen t:1 "\\[a\\]pprove" &&
	tm send-keys -t t:1 e Enter &&
	on_screen t:1 "approve these routes\\? \\[y/N\\] $" &&
	screen t:1 >out &&
	grep -qx "+  - host: files.pythonhosted.org" out &&
	tm send-keys -t t:1 y Enter &&
	on_screen t:1 "note \\(optional\\): $" &&
	tm send-keys -t t:1 Enter &&
	on_screen t:1 "expires in \\[3600s, Enter keeps\\]: $" &&
	tm send-keys -t t:1 Enter &&
	on_screen t:1 "max requests \\[100, Enter keeps\\]: $" &&
	tm send-keys -t t:1 Enter &&
	on_screen t:1 "^modified 20261129T100000Z-000000c3" &&
	[ "$(response 20261129T100000Z-000000c3 .verdict)" = modified ] &&
	response 20261129T100000Z-000000c3 .routes_yaml | grep -qx "  - host: files.pythonhosted.org"
'

test_expect_success 'a proposal withdrawn while shown is reported, and the loop goes on' '
	propose web 20261129T100000Z-000000c4 egress-allow &&
	on_screen t:1 "egress-allow from bottle web, .*" &&
	on_screen t:1 "000000c4" &&
	mv "$ROOT/web/pending/20261129T100000Z-000000c4.json" \
		"$ROOT/web/processed/20261129T100000Z-000000c4.withdrawn.json" &&
	tm send-keys -t t:1 a Enter Enter Enter Enter &&
	on_screen t:1 "000000c4 is withdrawn: its caller stopped waiting" &&
	on_screen t:1 "no pending proposals; waiting"
'

test_expect_success 'q quits the loop with status 0' '
	tm send-keys -t t:1 q Enter &&
	on_screen t:1 "^supervise-exit=0$"
'

test_expect_success 'show is coloured on a terminal unless NO_COLOR is set' '
	propose web 20261129T100000Z-000000c5 egress-allow &&
	tm new-window -d -t t:2 "NO_COLOR=1 '"'$HOST'"' supervise --queue-root '"'$ROOT'"' \
		show 20261129T100000Z-000000c5; echo shown; sleep 600" &&
	on_screen t:2 "^shown$" &&
	tm capture-pane -p -e -t t:2 -S -300 >plain &&
	grep -qx "+  - host: pypi.org" plain &&
	! grep -q "$(printf "\033\\[3")" plain
'

test_expect_success 'watch lists what is pending, then each arrival with a bell' '
	tm new-window -d -t t:3 "'"'$HOST'"' supervise --queue-root '"'$ROOT'"' watch" &&
	on_screen t:3 "^pending 20261129T100000Z-000000c5 +web +egress-allow" &&
	tm select-window -t t:3 && tm select-window -t t:0 &&
	[ "$(tm display-message -p -t t:3 "#{window_bell_flag}")" = 0 ] &&
	propose web 20261129T100000Z-000000c6 egress-token-allow &&
	on_screen t:3 "^new +20261129T100000Z-000000c6 +web +egress-token-allow" &&
	wait_for 5 "[ \"\$(tm display-message -p -t t:3 \"#{window_bell_flag}\")\" = 1 ]" &&
	mv "$ROOT/web/pending/20261129T100000Z-000000c6.json" \
		"$ROOT/web/processed/20261129T100000Z-000000c6.withdrawn.json" &&
	on_screen t:3 "^withdrawn 20261129T100000Z-000000c6"
'

test_done

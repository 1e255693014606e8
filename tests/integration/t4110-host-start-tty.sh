#!/usr/bin/env bash
# bottle-host start with a terminal: run in a tmux window, the agent (the
# test-only host-rootfs image) gets a tty of the window's size, sees a
# resize, receives Ctrl-C as SIGINT on its own tty, reads what is typed,
# and start exits with the agent's code after removing everything.
. "$(dirname "$0")/lib.sh"
test_skip_if_sanitized "the bundle runs inside the image, which holds the static musl sidecar"
test_skip_unless podman
test_skip_unless tmux
. "$TEST_ROOT/scripts/engine.sh"

export HOME=$TEST_SCRATCH/home
export BOTTLE_TEST_HOST_ROOTFS=1
SOCKET=$TEST_SCRATCH/tmux.sock
WS=$TEST_SCRATCH/ws
tm() { tmux -S "$SOCKET" "$@"; }
test_at_exit 'tmux -S "$SOCKET" kill-server'
mkdir -p "$HOME/.bottle/agents" "$HOME/.bottle/bottles" "$WS"

test_expect_success 'a bottle runs in a tmux window with the agent on a tty' '
	printf -- "---\nsupervise: false\n---\n" >"$HOME/.bottle/bottles/tty.md" &&
	printf -- "---\nbottle: tty\nprovider: {image: host-rootfs, command: [sh, /workspace/agent.sh]}\n---\n" \
		>"$HOME/.bottle/agents/tty.md" &&
	cat >"$WS/agent.sh" <<"EOF" &&
trap "echo INT >>/workspace/signals" INT
stty size >/workspace/size1
echo "agent ready"
i=0
while [ $i -lt 5000 ]; do
	i=$((i + 1))
	read -r line || continue
	case $line in
	size) stty size >/workspace/size2 ;;
	quit) exit 5 ;;
	esac
done
exit 9
EOF
	tm new-session -d -x 100 -y 30 -s bottle \
		"env HOME=$HOME BOTTLE_TEST_HOST_ROOTFS=1 CONTAINERS_CONF=$CONTAINERS_CONF \
		$BUILD/bottle-host start tty --cwd $WS 2>$TEST_SCRATCH/start.err; \
		echo \$? >$WS/exit; sleep 60" &&
	wait_for 60 "tm capture-pane -p -t bottle | grep -q \"agent ready\"" &&
	test "$(cat "$WS/size1")" = "30 100"
'

# The engine forwards the resize asynchronously: ask again until it shows.
test_expect_success 'a resize of the terminal reaches the agent' '
	tm resize-window -t bottle -x 120 -y 40 &&
	wait_for 15 "tm send-keys -t bottle size Enter && grep -qx \"40 120\" \"$WS/size2\" 2>/dev/null"
'

test_expect_success 'Ctrl-C is SIGINT for the agent, not the end of the bottle' '
	tm send-keys -t bottle C-c &&
	wait_for 15 "grep -qx INT \"$WS/signals\" 2>/dev/null" &&
	test ! -e "$WS/exit"
'

test_expect_success 'start exits with the agent code and leaves nothing behind' '
	tm send-keys -t bottle quit Enter &&
	wait_for 60 "test -s \"$WS/exit\"" &&
	test "$(cat "$WS/exit")" = 5 &&
	slug=$(sed -n "s/^bottle-host: bottle \([a-z0-9-]*\) (state.*/\1/p" "$TEST_SCRATCH/start.err") &&
	test -n "$slug" &&
	test -z "$($ENGINE ps -a --filter "label=bottle.slug=$slug" --format "{{.Names}}")" &&
	test -z "$($ENGINE network ls --filter "label=bottle.slug=$slug" --format "{{.Name}}")" &&
	test ! -e "$HOME/.bottle/state/$slug"
'

test_done

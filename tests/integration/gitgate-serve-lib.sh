# Shared setup for the gate's applet tests (t5040-t5059): `sidecar gitgate`
# run straight from the build on loopback with a gitgate.yaml written by the
# test, driven by the real git client, curl and raw sockets.  Source it
# instead of lib.sh:
#
#   . "$(dirname "$0")/gitgate-serve-lib.sh"
#   test_expect_success 'start' 'gate_start "  - name: app"'
#   test_expect_success 'ls-remote' 'git ls-remote "$GATE_HTTP/app.git"'
#
# Everything started here is killed when the script ends.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_skip_unless git
test_skip_unless curl
test_skip_unless ss

GATE_DIR=$TEST_SCRATCH/gate
: >"$TEST_SCRATCH/pids"
: >"$TEST_SCRATCH/ports"
gate_kill_started() {
	local pid
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$TEST_SCRATCH/pids"
}
test_at_exit gate_kill_started

GATE_HTTP_PORT=$(free_port)
GATE_GIT_PORT=$(free_port)
GATE_HTTP=http://127.0.0.1:$GATE_HTTP_PORT
GATE_GIT=git://127.0.0.1:$GATE_GIT_PORT
# No user config, no credential helpers, no prompts: git as a fresh agent has it.
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH/home GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"

# gate_config REPOS-YAML [TOP-LEVEL-YAML]: $GATE_DIR/gitgate.yaml listening
# on the two loopback ports, data under $GATE_DIR/data.
gate_config() {
	mkdir -p "$GATE_DIR" &&
	{
		printf 'listen: {http: "127.0.0.1:%s", git: "127.0.0.1:%s"}\n' \
			"$GATE_HTTP_PORT" "$GATE_GIT_PORT"
		printf 'data_dir: %s/data\n' "$GATE_DIR"
		printf '%s' "${2:-}"
		[ -z "${2:-}" ] || printf '\n'
		printf 'repos:\n%s\n' "$1"
	} >"$GATE_DIR/gitgate.yaml"
}

# gate_start REPOS-YAML [TOP-LEVEL-YAML [GATE-OPTIONS...]]: write the config
# and run the gate; returns once it is listening.  Diagnostics go to
# $GATE_DIR/stderr.
gate_start() {
	gate_config "$1" "${2:-}" &&
	: >"$GATE_DIR/ready" &&
	{ "$SIDECAR" gitgate --config "$GATE_DIR/gitgate.yaml" --no-dlp --ready-fd 3 "${@:3}" \
		3>"$GATE_DIR/ready" >"$GATE_DIR/stdout" 2>"$GATE_DIR/stderr" & } &&
	echo $! >"$GATE_DIR/pid" &&
	echo $! >>"$TEST_SCRATCH/pids" &&
	wait_for 10 "test -s $GATE_DIR/ready" || { cat "$GATE_DIR/stderr" >&2; return 1; }
}

gate_stop() {
	local pid
	pid=$(cat "$GATE_DIR/pid") && kill "$pid" &&
	wait_for 10 "! kill -0 $pid 2>/dev/null"
}

# A commit in the gate's own repository NAME (no upstream), made with git
# straight in its bare directory, so tests can read before pushes exist.
gate_seed() {
	local repo=$GATE_DIR/data/$1.git work=$TEST_SCRATCH/seed-$1
	rm -rf "$work" &&
	git init -q -b main "$work" &&
	echo "hello from $1" >"$work/README" &&
	git -C "$work" add README &&
	git -C "$work" -c user.name=Seed -c user.email=seed@test commit -q -m seed &&
	git -C "$work" push -q "$repo" main
}

# gate_raw_http: send stdin as it is to the HTTP port and print the answer
# until the gate closes the connection.
gate_raw_http() {
	timeout 20 bash -c "exec 5<>/dev/tcp/127.0.0.1/$GATE_HTTP_PORT && cat >&5 && cat <&5"
}

# gate_raw_git: the same on the git:// port.
gate_raw_git() {
	timeout 20 bash -c "exec 5<>/dev/tcp/127.0.0.1/$GATE_GIT_PORT && cat >&5 && cat <&5"
}

# pkt STRING: STRING as one pkt-line (printf escapes such as \0 allowed).
pkt() {
	local len
	len=$(printf "$1" | wc -c)
	printf '%04x' $((len + 4))
	printf "$1"
}

# Whether upload-pack is built yet (it lands on its own branch): tests of a
# full clone skip themselves while it is a placeholder.
gate_has_upload_pack() {
	! git ls-remote "$GATE_HTTP/$1.git" 2>&1 | grep -q 'is not built yet'
}

# Fails, showing the diagnostics, unless the gate still runs: a test file
# ends with it so a crash anywhere shows up.
gate_alive() {
	kill -0 "$(cat "$GATE_DIR/pid")" 2>/dev/null || { cat "$GATE_DIR/stderr" >&2; return 1; }
}

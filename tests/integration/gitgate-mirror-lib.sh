# Shared set-up for the git gate's mirror and forwarding tests (t5070-t5089):
# an upstream bare repository served by the real git (git daemon, git
# http-backend behind TLS, sshd), and tests/helpers/gitgate-mirror to call
# mirror_refresh() / mirror_forward().
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MIRROR=$HELPERS/gitgate-mirror
UPSTREAMS=$TEST_SCRATCH/upstreams
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH/home
mkdir -p "$UPSTREAMS" "$HOME"
git config --global user.name "Upstream Author"
git config --global user.email upstream@example.invalid
git config --global init.defaultBranch master
git config --global advice.detachedHead false

# Servers started inside a test body run in its subshell, where
# test_at_exit would not reach the script's exit: their pids go to a file
# instead, and one cleanup stops them all.
SERVER_PIDS=$TEST_SCRATCH/server-pids
server_started() {
	echo "$1" >>"$SERVER_PIDS"
}
servers_stop() {
	local pid
	[ -f "$SERVER_PIDS" ] || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$SERVER_PIDS"
}
test_at_exit servers_stop

[ -x "$MIRROR" ] || {
	echo "# skip $TEST_NAME: build $MIRROR first (make $MIRROR)"
	exit 0
}

# upstream_create NAME: $UPSTREAMS/NAME.git with HEAD on "trunk" (not the
# default name, so a mirror following HEAD shows), two branches and an
# annotated tag; work/NAME is a clone to move it with.
upstream_create() {
	local name=$1 work=$TEST_SCRATCH/work/$1
	git init -q --bare "$UPSTREAMS/$name.git"
	git -C "$UPSTREAMS/$name.git" symbolic-ref HEAD refs/heads/trunk
	git -C "$UPSTREAMS/$name.git" config receive.denyDeleteCurrent false
	touch "$UPSTREAMS/$name.git/git-daemon-export-ok"
	git clone -q "$UPSTREAMS/$name.git" "$work" 2>/dev/null
	git -C "$work" checkout -q -b trunk
	upstream_commit "$name" one
	git -C "$work" tag -a v1 -m "version 1"
	git -C "$work" branch side
	git -C "$work" push -q origin trunk side v1
}

# upstream_commit NAME FILE: a commit on the work clone's current branch.
upstream_commit() {
	local work=$TEST_SCRATCH/work/$1
	echo "$2 $RANDOM" >"$work/$2"
	git -C "$work" add "$2"
	git -C "$work" commit -q -m "$2"
}

# git_daemon_start: serve $UPSTREAMS on git://127.0.0.1:$DAEMON_PORT, pushes
# allowed; stopped when the script ends.
git_daemon_start() {
	DAEMON_PORT=$(free_port)
	git daemon --reuseaddr --export-all --enable=receive-pack --base-path="$UPSTREAMS" \
		--listen=127.0.0.1 --port="$DAEMON_PORT" "$UPSTREAMS" \
		>"$TEST_SCRATCH/daemon.log" 2>&1 &
	DAEMON_PID=$!
	server_started "$DAEMON_PID"
	wait_for 10 "ss -Htln 'sport = :$DAEMON_PORT' | grep -q ."
}

git_daemon_stop() {
	kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null
	wait_for 10 "! ss -Htln 'sport = :$DAEMON_PORT' | grep -q ."
}

# agent_commit MIRROR FILE: clone MIRROR into ./agent, commit FILE on trunk
# and store the objects in MIRROR under refs/incoming/trunk (receive-pack's
# quarantine, as far as mirror_forward() can tell); AGENT_OLD / AGENT_NEW
# are trunk before and after.
agent_commit() {
	git clone -q "$1" agent &&
	git -C agent checkout -q trunk &&
	AGENT_OLD=$(git -C agent rev-parse HEAD) &&
	echo "$2" >"agent/$2" &&
	git -C agent add "$2" &&
	git -C agent commit -q -m "$2" &&
	AGENT_NEW=$(git -C agent rev-parse HEAD) &&
	git -C agent push -q "$1" HEAD:refs/incoming/trunk
}

# refs_of REPO: its refs, "<id> <name>" a line, for comparing two repos.
refs_of() {
	git -C "$1" for-each-ref --format='%(objectname) %(refname)'
}

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
	test_at_exit "kill $DAEMON_PID"
	wait_for 10 "ss -Htln 'sport = :$DAEMON_PORT' | grep -q ."
}

git_daemon_stop() {
	kill "$DAEMON_PID" && wait "$DAEMON_PID" 2>/dev/null
	wait_for 10 "! ss -Htln 'sport = :$DAEMON_PORT' | grep -q ."
}

# refs_of REPO: its refs, "<id> <name>" a line, for comparing two repos.
refs_of() {
	git -C "$1" for-each-ref --format='%(objectname) %(refname)'
}

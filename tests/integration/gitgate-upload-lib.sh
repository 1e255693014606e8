# Shared set-up for the upload-pack tests (t5000, t5010): the real git
# client against build/tests/helpers/gitgate-serve through a fake ssh
# (GIT_SSH_COMMAND), and against git's own upload-pack through another, so
# a result can be compared with the reference server's.
#
#   gate_url DIR      ssh:// URL served by the gate (gitgate-serve, stdio)
#   ref_url DIR       the same served by git upload-pack
#   make_source DIR   a bare repository with history, a branch and tags
#   commit_file REPO FILE TEXT   one commit in a work tree
# The gate's own daemon (gate_start, $GATE_HTTP) comes from the serve lib.
. "$(dirname "$0")/gitgate-serve-lib.sh"
test_skip_unless git

SERVE=$HELPERS/gitgate-serve
[ -x "$SERVE" ] || {
	echo "# skip $TEST_NAME: $SERVE is not built (make build/tests/helpers/gitgate-serve)"
	exit 0
}

# git runs "ssh [options] HOST 'git-upload-pack '\''/path'\'''".
cat >"$TEST_SCRATCH/ssh-gate" <<SH
#!/bin/bash
cmd="\${@: -1}"; path=\${cmd#* }; path=\${path#\\'}; path=\${path%\\'}
exec "$SERVE" "\${cmd%% *}" "\$path"
SH
cat >"$TEST_SCRATCH/ssh-ref" <<'SH'
#!/bin/bash
cmd="${@: -1}"; path=${cmd#* }; path=${path#\'}; path=${path%\'}
service=${cmd%% *}
exec git "${service#git-}" "$path"
SH
chmod +x "$TEST_SCRATCH/ssh-gate" "$TEST_SCRATCH/ssh-ref"
export GIT_SSH_COMMAND=$TEST_SCRATCH/ssh-gate
# OpenSSH-like: git then passes GIT_PROTOCOL (protocol v1, v2) to the script.
export GIT_SSH_VARIANT=ssh
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH
git config --global user.name "Test User"
git config --global user.email test@example.com
git config --global init.defaultBranch main
git config --global advice.detachedHead false

gate_url() {
	echo "ssh://gate$(cd "$1" && pwd)"
}

ref_url() {
	echo "ssh://ref$(cd "$1" && pwd)"
}

# git with the reference server instead of the gate.
git_ref() {
	GIT_SSH_COMMAND=$TEST_SCRATCH/ssh-ref git "$@"
}

commit_file() { # repo file text
	echo "$3" >>"$1/$2"
	git -C "$1" add "$2"
	git -C "$1" commit -q -m "$2: $3"
}

# DIR.git (bare) from a work tree DIR: six commits on main with a merge, a
# topic branch, an annotated tag and a lightweight one.
make_source() { # dir
	local dir=$1
	git init -q "$dir"
	for i in 1 2 3; do commit_file "$dir" a "main $i"; done
	git -C "$dir" checkout -q -b topic
	commit_file "$dir" b "topic 1"
	git -C "$dir" checkout -q main
	commit_file "$dir" c "main 4"
	git -C "$dir" merge -q --no-edit topic
	git -C "$dir" tag -a v1 -m "version 1" main~1
	git -C "$dir" tag light main~2
	git clone -q --bare "$dir" "$dir.git"
}

# A client's state in one comparable text: refs, shallow list, object count.
# CLIENT_STATE_NO_TAGS=1 leaves tag refs out: git's client follows tags
# differently per transport (over smart-HTTP a shallow fetch does not
# backfill them), so a comparison across transports only holds without.
client_state() { # repo
	git -C "$1" for-each-ref --format='%(objectname) %(refname)' |
		if [ "${CLIENT_STATE_NO_TAGS:-0}" = 1 ]; then grep -v " refs/tags/"; else cat; fi
	echo "shallow:"
	sort "$1/.git/shallow" 2>/dev/null || sort "$1/shallow" 2>/dev/null || true
	echo "commits: $(git -C "$1" rev-list --all | wc -l)"
}

# The command fails (not a crash, not a hang: it is killed after 60 s and
# that counts as a failure of the test).
test_must_fail_timeout() {
	local status=0
	timeout 60 "$@" || status=$?
	[ "$status" -ne 0 ] && [ "$status" -ne 124 ] && [ "$status" -le 128 ]
}

# One pkt-line holding TEXT and a newline; pkt_line - is a flush, pkt_line .
# a delimiter.
pkt_line() {
	case $1 in
	-) printf 0000 ;;
	.) printf 0001 ;;
	*) printf '%04x%s\n' $((${#1} + 5)) "$1" ;;
	esac
}

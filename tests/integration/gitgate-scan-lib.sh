# Shared setup for the push scanning tests (t506x-gitgate-push-scan*.sh):
# git pushes through a fake ssh (GIT_SSH_COMMAND) to gitgate-serve's
# receive-pack over $REPO, a bare repository, from the clone $WORK (remote
# "gate"), with generated secrets so no key-shaped literal sits in this
# repository.
#
#   . "$(dirname "$0")/gitgate-scan-lib.sh"
#   scan_gate OPTIONS...   gitgate-serve's options for every push ($GATE_OPTIONS
#                          is appended at push time)
#   test_expect_success 'set up' 'scan_setup'
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_skip_unless git

SERVE=$HELPERS/gitgate-serve
REPO=$TEST_SCRATCH/project.git
WORK=$TEST_SCRATCH/work
GATE_LOG=$TEST_SCRATCH/gate.log

# random_of ALPHABET LENGTH (tr's classes, e.g. 'A-Z2-7')
random_of() {
	head -c 4096 /dev/urandom | tr -dc "$1" | head -c "$2"
}
AWS_KEY=AKIA$(random_of 'A-Z2-7' 16)
export DEPLOY_TOKEN=tok_$(random_of 'A-Za-z0-9' 36)

export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@bottle.test
export GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@bottle.test
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH
export GATE_OPTIONS=

# The fake ssh: git runs it as `fake-ssh HOST "git-receive-pack '/path'"`.
scan_gate() {
	{
		echo '#!/usr/bin/env bash'
		echo 'eval "set -- $2"'
		printf 'exec %q' "$SERVE"
		printf ' %q' "$@"
		printf ' $GATE_OPTIONS "$1" "$2" 2>>%q\n' "$GATE_LOG"
	} >"$TEST_SCRATCH/fake-ssh"
	chmod +x "$TEST_SCRATCH/fake-ssh"
	export GIT_SSH_COMMAND=$TEST_SCRATCH/fake-ssh
}

# commit_file PATH TEXT: a commit in $WORK adding or replacing PATH.
commit_file() {
	mkdir -p "$WORK/$(dirname "$1")" &&
	printf '%s\n' "$2" >"$WORK/$1" &&
	git -C "$WORK" add "$1" &&
	git -C "$WORK" commit -q -m "change $1"
}

gate_push() { git -C "$WORK" push "$@" gate HEAD:refs/heads/main; }
arrived() { test "$(git -C "$REPO" rev-parse main)" = "$(git -C "$WORK" rev-parse HEAD)"; }

scan_setup() {
	git init -q --bare "$REPO" &&
	git init -q -b main "$WORK" &&
	commit_file README "a project" &&
	git -C "$WORK" push -q "$REPO" main &&
	git -C "$WORK" remote add gate "ssh://gate$REPO"
}

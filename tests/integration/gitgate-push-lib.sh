# Helpers for the receive-pack tests (t50N0-gitgate-*.sh): the real git
# client pushes over its ssh transport to a fake ssh that runs
# tests/helpers/gitgate-serve on the requested bare repository.
#
#   GATE_OPTS="--allow-delete" git push "$(gate_url server.git)" ...
#
# GATE_OPTS (options for gitgate-serve) is read by the fake ssh at each
# push; the gate's log lines go to $GATE_LOG.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

GATE_SERVE=$HELPERS/gitgate-serve
if [ ! -x "$GATE_SERVE" ]; then
	echo "not ok - $GATE_SERVE is missing (make build/tests/helpers/gitgate-serve)"
	exit 1
fi
GATE_LOG=$TEST_SCRATCH/gate.log
FAKE_SSH=$TEST_SCRATCH/fake-ssh
: >"$GATE_LOG"

# git passes "[-o SendEnv=GIT_PROTOCOL] host command"; the command is
# "git-receive-pack '/path'".  git probes an unknown ssh with -G: say no.
cat >"$FAKE_SSH" <<EOF
#!/bin/sh
[ "\$1" = -G ] && exit 1
for last; do :; done
eval "set -- \$last"
exec "$GATE_SERVE" \${GATE_OPTS:-} "\$1" "\$2" 2>>"$GATE_LOG"
EOF
chmod +x "$FAKE_SSH"

export GIT_SSH_COMMAND=$FAKE_SSH
export GIT_CONFIG_NOSYSTEM=1
export GIT_CONFIG_GLOBAL=$TEST_SCRATCH/gitconfig
git config --global user.name "Gate Tester"
git config --global user.email "tester@example.invalid"
git config --global init.defaultBranch main
# OpenSSH's variant passes GIT_PROTOCOL (protocol v1) to the fake ssh.
git config --global ssh.variant ssh
git config --global advice.detachedHead false
unset GATE_OPTS

gate_url() { # bare repository path -> a URL git reaches through the fake ssh
	echo "gate:$(cd "$1" && pwd)"
}

# A bare server and a work clone with one commit on main, pushed directly
# (not through the gate) so every test starts from a known state.
gate_setup() { # server work
	git init -q --bare "$1"
	git init -q "$2"
	(cd "$2" && echo one >file && git add file && git commit -q -m one &&
		git push -q "../$1" main)
}

commit_file() { # file content message
	echo "$2" >>"$1" && git add "$1" && git commit -q -m "$3"
}

# git fsck clean, and no quarantine left behind.
gate_check_repo() { # server
	git -C "$1" fsck --no-progress --no-dangling
	if ls "$1/objects" | grep -q '^incoming-'; then
		echo "a quarantine is left in $1/objects" >&2
		return 1
	fi
}

# One pkt-line: "0009data\n" for "data\n".
pkt() {
	printf '%04x%s' $((${#1} + 4)) "$1"
}

# The first command of a raw request, with capabilities after a NUL.
pkt_first_command() { # old new ref capabilities
	local line="$1 $2 $3"
	printf '%04x%s\0%s\n' $((${#line} + ${#4} + 6)) "$line" "$4"
}

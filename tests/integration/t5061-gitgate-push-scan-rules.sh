#!/usr/bin/env bash
# Push scanning's rules and bounds with the real git client, through the
# fake ssh and gitgate-serve: the identity rule, too many new commits, a
# file over the scan bound (all failing closed with a reason the git user
# can act on), a secret inside a binary file, a secret that was already in
# the repository (not blamed on the push), a commit message with a secret,
# and a push of several refs where only the one with the secret fails.
. "$(dirname "$0")/lib.sh"
test_skip_unless git

SERVE=$HELPERS/gitgate-serve
REPO=$TEST_SCRATCH/project.git
WORK=$TEST_SCRATCH/work

random_of() { # alphabet length
	head -c 4096 /dev/urandom | tr -dc "$1" | head -c "$2"
}
AWS_KEY=AKIA$(random_of 'A-Z2-7' 16)

export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@bottle.test
export GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@bottle.test
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH

# The gate's options for a push: GATE_OPTIONS, read by the fake ssh.
cat >"$TEST_SCRATCH/fake-ssh" <<EOF
#!/usr/bin/env bash
eval "set -- \$2"
exec "$SERVE" --secret-env DEPLOY_TOKEN \$GATE_OPTIONS "\$1" "\$2" 2>>"$TEST_SCRATCH/gate.log"
EOF
chmod +x "$TEST_SCRATCH/fake-ssh"
export GIT_SSH_COMMAND=$TEST_SCRATCH/fake-ssh
# The default rules and a known secret, no queue: a finding only rejects.
export DEPLOY_TOKEN=tok_$(random_of 'A-Za-z0-9' 36)
export GATE_OPTIONS="--scan-max-commits 5 --scan-max-blob 65536"

commit_file() {
	mkdir -p "$WORK/$(dirname "$1")" &&
	printf '%s\n' "$2" >"$WORK/$1" &&
	git -C "$WORK" add "$1" &&
	git -C "$WORK" commit -q -m "change $1"
}

gate_push() { git -C "$WORK" push "$@" gate HEAD:refs/heads/main; }
arrived() { test "$(git -C "$REPO" rev-parse main)" = "$(git -C "$WORK" rev-parse HEAD)"; }

test_expect_success 'a repository behind the gate and a clone of it' '
	git init -q --bare "$REPO" &&
	git init -q -b main "$WORK" &&
	commit_file README "a project" &&
	git -C "$WORK" push -q "$REPO" main &&
	git -C "$WORK" remote add gate "ssh://gate$REPO"
'

test_expect_success 'the identity rule names the commit and who made it' '
	GIT_AUTHOR_NAME=Mallory GIT_AUTHOR_EMAIL=mallory@example.test \
		commit_file a.txt "a" &&
	! GATE_OPTIONS="--user Agent --email agent@bottle.test" gate_push 2>err &&
	commit=$(git -C "$WORK" rev-parse --short=12 HEAD) &&
	grep -q "remote rejected.*commit $commit: author Mallory <mallory@example.test> is not Agent <agent@bottle.test>" err &&
	grep -q "^remote: .*--reset-author" err &&
	git -C "$WORK" commit -q --amend --no-edit --reset-author &&
	GATE_OPTIONS="--user Agent --email agent@bottle.test" gate_push 2>err &&
	arrived
'

test_expect_success 'more new commits than the bound fail closed, fewer pass' '
	for i in 1 2 3 4 5 6; do commit_file "n$i.txt" "$i" || return 1; done &&
	! gate_push 2>err &&
	grep -q "remote rejected.*more than 5 new commits to scan: push in smaller steps" err &&
	grep -q "^remote: .*scan_max_commits" err &&
	git -C "$WORK" push -q gate HEAD~1:refs/heads/main 2>err &&
	gate_push 2>err &&
	arrived
'

test_expect_success 'a file over the scan bound fails closed with its path and the bound' '
	head -c 100000 /dev/zero | tr "\0" "a" >"$WORK/big.dat" &&
	git -C "$WORK" add big.dat && git -C "$WORK" commit -q -m big &&
	! gate_push 2>err &&
	grep -q "remote rejected.*big.dat in commit .* is over the scan bound (65536 bytes)" err &&
	grep -q "^remote: big.dat in commit .* is 100000 bytes, more than the 65536 the gate scans" err &&
	git -C "$WORK" reset -q --hard HEAD~1
'

test_expect_success 'a secret inside a binary file is found byte-exact' '
	{ head -c 300 /dev/urandom; printf "\0%s\0" "$AWS_KEY"; head -c 300 /dev/urandom; } \
		>"$WORK/blob.bin" &&
	git -C "$WORK" add blob.bin && git -C "$WORK" commit -q -m binary &&
	! gate_push 2>err &&
	grep -q "^remote: secret in blob.bin line [0-9]* of commit .*: aws-access-key-id" err &&
	grep -q "^remote:   remove it from the commit and push again" err &&
	! grep -q "$AWS_KEY" err &&
	git -C "$WORK" reset -q --hard HEAD~1
'

test_expect_success 'a secret already in the repository is not blamed on a push' '
	printf "key=%s\n" "$AWS_KEY" >"$WORK/old.env" &&
	git -C "$WORK" add old.env && git -C "$WORK" commit -q -m old &&
	git -C "$WORK" push -q "$REPO" HEAD:main &&
	printf "# settings\nkey=%s\nregion=eu\n" "$AWS_KEY" >"$WORK/old.env" &&
	git -C "$WORK" commit -q -am "around the old key" &&
	gate_push 2>err &&
	! grep -q "secret in" err &&
	arrived
'

test_expect_success 'a commit message is scanned' '
	git -C "$WORK" commit -q --allow-empty -m "tried it with $AWS_KEY" &&
	! gate_push 2>err &&
	grep -q "^remote: secret in (commit message) line 1" err &&
	git -C "$WORK" commit -q --amend --allow-empty -m "tried it" &&
	gate_push 2>err &&
	arrived
'

test_expect_success 'only the ref with the secret fails; the clean one arrives' '
	git -C "$WORK" checkout -q -b clean &&
	commit_file clean.txt "clean" &&
	git -C "$WORK" checkout -q -b dirty main &&
	commit_file dirty.env "key=$AWS_KEY" &&
	! git -C "$WORK" push gate clean dirty 2>err &&
	grep -q "\[new branch\] *clean -> clean" err &&
	grep -q "remote rejected\] *dirty -> dirty (secret found: see the remote: lines)" err &&
	test "$(git -C "$REPO" rev-parse clean)" = "$(git -C "$WORK" rev-parse clean)" &&
	! git -C "$REPO" rev-parse -q --verify refs/heads/dirty
'

test_done

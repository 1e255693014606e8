#!/usr/bin/env bash
# Push scanning's rules and bounds with the real git client, through the
# fake ssh and gitgate-serve: the identity rule, too many new commits, a
# file over the scan bound (all failing closed with a reason the git user
# can act on), a secret inside a binary file, a secret that was already in
# the repository (not blamed on the push), a commit message with a secret,
# and a push of several refs where only the one with the secret fails.
. "$(dirname "$0")/gitgate-scan-lib.sh"

# The default rules and a known secret, no queue: a finding only rejects.
scan_gate --secret-env DEPLOY_TOKEN --scan-max-commits 5 --scan-max-blob 65536

test_expect_success 'a repository behind the gate and a clone of it' '
	scan_setup
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

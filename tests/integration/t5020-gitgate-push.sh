#!/usr/bin/env bash
# receive-pack with the real git client: new branches, fast-forwards,
# non-fast-forwards, force pushes, protected refs, deletes, tags, push
# options and an empty repository, over protocol v0 and v1.  The server
# repository is fsck-clean with no quarantine left after each.
. "$(dirname "$0")/gitgate-push-lib.sh"
test_skip_unless git

test_expect_success 'push to an empty repository' '
	git init -q --bare server.git &&
	git init -q work && cd work &&
	commit_file a one "one" && commit_file a two "two" &&
	git push "$(gate_url ../server.git)" main 2>err &&
	grep "\[new branch\]" err &&
	test "$(git -C ../server.git rev-parse main)" = "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

for version in 0 1 2; do
	test_expect_success "new branch and fast-forward (protocol.version=$version)" '
		gate_setup server.git work && cd work &&
		commit_file a two "two" &&
		git -c protocol.version='$version' push "$(gate_url ../server.git)" main:topic 2>err &&
		grep "\[new branch\]" err &&
		commit_file a three "three" &&
		git -c protocol.version='$version' push "$(gate_url ../server.git)" main 2>err &&
		grep "main -> main" err &&
		test "$(git -C ../server.git rev-parse main)" = "$(git rev-parse main)" &&
		test "$(git -C ../server.git rev-parse topic)" = "$(git rev-parse main~1)" &&
		gate_check_repo ../server.git
	'
done

test_expect_success 'the client asking for v1 gets "version 1"' '
	gate_setup server.git work &&
	GIT_TRACE_PACKET=$PWD/trace git -C work -c protocol.version=1 \
		push "$(gate_url server.git)" main:v1 &&
	grep "< version 1" trace &&
	grep "agent=bottle-gitgate/" trace
'

test_expect_success 'non-fast-forward refused when force pushes are not allowed' '
	gate_setup server.git work && cd work &&
	commit_file a two "two" && git push -q "$(gate_url ../server.git)" main &&
	before=$(git -C ../server.git rev-parse main) &&
	git reset -q --hard HEAD~1 && commit_file b other "rewritten" &&
	! git push --force "$(gate_url ../server.git)" main 2>err &&
	grep "remote rejected.*non-fast-forward: force pushes are not allowed" err &&
	test "$(git -C ../server.git rev-parse main)" = "$before" &&
	! git -C ../server.git cat-file -e "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

test_expect_success 'force push allowed with --allow-force-push' '
	gate_setup server.git work && cd work &&
	commit_file a two "two" && git push -q "$(gate_url ../server.git)" main &&
	git reset -q --hard HEAD~1 && commit_file b other "rewritten" &&
	GATE_OPTS=--allow-force-push git push --force "$(gate_url ../server.git)" main 2>err &&
	grep "forced update" err &&
	test "$(git -C ../server.git rev-parse main)" = "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

test_expect_success 'a protected ref is never pushed, force-pushed or deleted' '
	gate_setup server.git work && cd work &&
	before=$(git -C ../server.git rev-parse main) &&
	commit_file a two "two" &&
	! GATE_OPTS="--protected main --allow-force-push --allow-delete" \
		git push "$(gate_url ../server.git)" main 2>err &&
	grep "main -> main (protected ref: the gate does not accept pushes to it)" err &&
	! GATE_OPTS="--protected refs/heads/* --allow-delete" \
		git push "$(gate_url ../server.git)" :main 2>err &&
	grep "main (protected ref: the gate never deletes it)" err &&
	! GATE_OPTS="--protected release/*" \
		git push "$(gate_url ../server.git)" main:release/1.0 2>err &&
	grep "release/1.0 (protected ref" err &&
	GATE_OPTS="--protected release/*" git push "$(gate_url ../server.git)" main:topic &&
	test "$(git -C ../server.git rev-parse main)" = "$before" &&
	gate_check_repo ../server.git
'

test_expect_success 'delete a branch: refused by default, done with --allow-delete' '
	gate_setup server.git work && cd work &&
	git push -q "$(gate_url ../server.git)" main:topic &&
	! git push "$(gate_url ../server.git)" :topic 2>err &&
	grep "topic (deleting refs is not allowed on this gate)" err &&
	git -C ../server.git rev-parse --verify -q topic &&
	GATE_OPTS=--allow-delete git push "$(gate_url ../server.git)" :topic 2>err &&
	grep "\[deleted\]" err &&
	! git -C ../server.git rev-parse --verify -q topic &&
	gate_check_repo ../server.git
'

test_expect_success 'push lightweight and annotated tags' '
	gate_setup server.git work && cd work &&
	commit_file a two "two" &&
	git tag light && git tag -a -m "release one" v1.0 HEAD~1 &&
	git push "$(gate_url ../server.git)" --tags 2>err &&
	grep "\[new tag\] *light" err && grep "\[new tag\] *v1.0" err &&
	test "$(git -C ../server.git cat-file -t v1.0)" = tag &&
	test "$(git -C ../server.git rev-parse v1.0)" = "$(git rev-parse v1.0)" &&
	test "$(git -C ../server.git rev-parse light)" = "$(git rev-parse HEAD)" &&
	gate_check_repo ../server.git
'

test_expect_success 'a moved tag is a non-fast-forward, even onto a descendant' '
	gate_setup server.git work && cd work &&
	git tag t1 && git push -q "$(gate_url ../server.git)" t1 &&
	commit_file a two "two" && git tag -f t1 &&
	! git push --force "$(gate_url ../server.git)" t1 2>err &&
	grep "t1 -> t1 (non-fast-forward" err &&
	test "$(git -C ../server.git rev-parse t1)" = "$(git rev-parse HEAD~1)" &&
	gate_check_repo ../server.git
'

test_expect_success 'push options are accepted' '
	gate_setup server.git work && cd work &&
	commit_file a two "two" &&
	: >"$GATE_LOG" &&
	git push -o ci.skip -o "merge_request.title=a b" "$(gate_url ../server.git)" main 2>err &&
	grep "2 push options" "$GATE_LOG" &&
	gate_check_repo ../server.git
'

test_expect_success 'a branch at an existing commit (an empty pack)' '
	gate_setup server.git work && cd work &&
	git push "$(gate_url ../server.git)" main:same 2>err &&
	test "$(git -C ../server.git rev-parse same)" = "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

test_expect_success 'nothing to push is a clean no-op' '
	gate_setup server.git work && cd work &&
	git push "$(gate_url ../server.git)" main 2>err &&
	grep "Everything up-to-date" err
'

test_expect_success 'one log line per push names each ref' '
	gate_setup server.git work && cd work &&
	: >"$GATE_LOG" &&
	commit_file a two "two" &&
	git push -q "$(gate_url ../server.git)" main main:b2 &&
	test "$(grep -c "receive-pack server" "$GATE_LOG")" = 1 &&
	grep "refs/heads/main [0-9a-f]\{7\}\.\.[0-9a-f]\{7\} ok" "$GATE_LOG" &&
	grep "refs/heads/b2 0000000\.\.[0-9a-f]\{7\} ok" "$GATE_LOG"
'

test_done

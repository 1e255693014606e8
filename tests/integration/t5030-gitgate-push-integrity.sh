#!/usr/bin/env bash
# receive-pack's integrity: atomic pushes, thin packs, concurrent pushes,
# packs missing objects, stale old ids, size limits, malformed requests and
# the quarantine.  Raw sessions write the request (pkt-lines and a pack
# made with git pack-objects) straight into gitgate-serve.
. "$(dirname "$0")/gitgate-push-lib.sh"
test_skip_unless git

# A raw receive-pack session on server: the request from stdin, the
# server's answer in out (advertisement included), its log in log.
raw_push() { # server
	"$GATE_SERVE" ${GATE_OPTS:-} receive-pack "$1" >out 2>log
}

# Update refs/heads/main from old to new on server with the pack in a file.
raw_update_main() { # server old new pack-file
	{ pkt_first_command "$2" "$3" refs/heads/main "report-status"; printf 0000;
		cat "$4"; } | raw_push "$1"
}

test_expect_success 'atomic push with one refused ref fails every ref' '
	gate_setup server.git work && cd work &&
	commit_file a two "two" && git push -q "$(gate_url ../server.git)" main &&
	before=$(git -C ../server.git rev-parse main) &&
	git branch old HEAD~1 && commit_file b three "three" &&
	! git push --atomic --force "$(gate_url ../server.git)" main:fresh old:main 2>err &&
	grep "old -> main (non-fast-forward" err &&
	grep "main -> fresh (atomic push failed" err &&
	! git -C ../server.git rev-parse --verify -q fresh &&
	test "$(git -C ../server.git rev-parse main)" = "$before" &&
	gate_check_repo ../server.git
'

test_expect_success 'atomic push of good refs updates them all' '
	gate_setup server.git work && cd work &&
	commit_file a two "two" &&
	git push --atomic "$(gate_url ../server.git)" main main:b1 main:b2 &&
	for ref in main b1 b2; do
		test "$(git -C ../server.git rev-parse $ref)" = "$(git rev-parse main)" || exit 1
	done &&
	gate_check_repo ../server.git
'

test_expect_success 'git sends whole packs: the gate advertises no-thin' '
	git init -q --bare server.git && git init -q seed && (cd seed &&
		seq 1 20000 >big && git add big && git commit -q -m big &&
		git push -q ../server.git main) &&
	git clone -q server.git work && cd work &&
	echo 20001 >>big && git commit -q -am "one more line" &&
	: >"$GATE_LOG" &&
	git push "$(gate_url ../server.git)" main &&
	grep -E "[0-9]+ objects \(0 thin-pack bases from the repository\)" "$GATE_LOG" &&
	test "$(git -C ../server.git rev-parse main)" = "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

test_expect_success 'a thin pack sent anyway is completed from the repository' '
	git init -q --bare server.git && git init -q seed && (cd seed &&
		seq 1 20000 >big && git add big && git commit -q -m big &&
		git push -q ../server.git main) &&
	git clone -q server.git work &&
	old=$(git -C work rev-parse main) &&
	(cd work && echo 20001 >>big && git commit -q -am "one more line") &&
	new=$(git -C work rev-parse main) &&
	printf "%s\n^%s\n" "$new" "$old" |
		git -C work pack-objects --thin --stdout --revs >thin.pack &&
	: >"$GATE_LOG" &&
	raw_update_main server.git "$old" "$new" thin.pack &&
	grep -a "ok refs/heads/main" out &&
	grep -E "[0-9]+ objects \([1-9][0-9]* thin-pack bases from the repository\)" log &&
	test "$(git -C server.git rev-parse main)" = "$new" &&
	gate_check_repo server.git
'

test_expect_success 'concurrent pushes to one branch: one wins, the other is told why' '
	gate_setup server.git seed &&
	git clone -q server.git a && git clone -q server.git b &&
	for round in 1 2 3 4 5; do
		(cd a && git pull -q --rebase &&
			seq 1 3000 | sed "s/^/a$round /" >fa && git add fa && git commit -q -m "a$round") &&
		(cd b && git pull -q --rebase &&
			seq 1 3000 | sed "s/^/b$round /" >fb && git add fb && git commit -q -m "b$round") ||
			exit 1
		(cd a && if git push "$(gate_url ../server.git)" main 2>../err-a; then
			echo 0; else echo 1; fi >../rc-a) &
		(cd b && if git push "$(gate_url ../server.git)" main 2>../err-b; then
			echo 0; else echo 1; fi >../rc-b) &
		wait &&
		wins=0 &&
		for side in a b; do
			if [ "$(cat rc-$side)" = 0 ]; then
				wins=$((wins + 1))
			else
				# the loser: refused by the gate (stale info) or by
				# its own client (it saw the winner'"'"'s update)
				grep -E "stale info|fetch first|non-fast-forward" err-$side ||
					{ cat err-$side; exit 1; }
			fi
		done &&
		{ test "$wins" -ge 1 || { cat err-a err-b; exit 1; }; } &&
		main=$(git -C server.git rev-parse main) &&
		{ test "$main" = "$(git -C a rev-parse main)" ||
			test "$main" = "$(git -C b rev-parse main)"; } &&
		gate_check_repo server.git || exit 1
	done
'

test_expect_success 'concurrent pushes to different branches both land' '
	gate_setup server.git work &&
	git clone -q server.git a && git clone -q server.git b &&
	(cd a && commit_file fa a "a") && (cd b && commit_file fb b "b") || exit 1
	(cd a && git push -q "$(gate_url ../server.git)" main:from-a) &
	(cd b && git push -q "$(gate_url ../server.git)" main:from-b) &
	wait &&
	test "$(git -C server.git rev-parse from-a)" = "$(git -C a rev-parse main)" &&
	test "$(git -C server.git rev-parse from-b)" = "$(git -C b rev-parse main)" &&
	gate_check_repo server.git
'

test_expect_success 'a pack without a new blob is refused and quarantined away' '
	gate_setup server.git work &&
	old=$(git -C server.git rev-parse main) &&
	(cd work && echo secret >new-file && git add new-file && git commit -q -m two) &&
	new=$(git -C work rev-parse main) && tree=$(git -C work rev-parse main^{tree}) &&
	printf "%s\n" "$new" "$tree" | git -C work pack-objects --stdout >partial.pack &&
	raw_update_main server.git "$old" "$new" partial.pack &&
	grep -a "ng refs/heads/main missing necessary objects ($(git -C work rev-parse main:new-file)" out &&
	test "$(git -C server.git rev-parse main)" = "$old" &&
	! git -C server.git cat-file -e "$new" &&
	gate_check_repo server.git
'

test_expect_success 'a pack without the parent commit is refused' '
	gate_setup server.git work &&
	old=$(git -C server.git rev-parse main) &&
	(cd work && commit_file a two "two" && commit_file a three "three") &&
	new=$(git -C work rev-parse main) &&
	git -C work rev-list --objects main~1..main | cut -d" " -f1 |
		git -C work pack-objects --stdout >partial.pack &&
	raw_update_main server.git "$old" "$new" partial.pack &&
	grep -a "ng refs/heads/main missing necessary objects" out &&
	test "$(git -C server.git rev-parse main)" = "$old" &&
	gate_check_repo server.git
'

test_expect_success 'a wrong old id is stale info' '
	gate_setup server.git work &&
	(cd work && commit_file a two "two" && commit_file a three "three") &&
	git -C work push -q ../server.git main~1:main &&
	stale=$(git -C work rev-parse main~2) new=$(git -C work rev-parse main) &&
	printf "%s\n^%s\n" "$new" "$new~1" | git -C work pack-objects --revs --stdout >pack &&
	raw_update_main server.git "$stale" "$new" pack &&
	grep -a "ng refs/heads/main stale info: the ref moved to" out &&
	test "$(git -C server.git rev-parse main)" = "$(git -C work rev-parse main~1)" &&
	gate_check_repo server.git
'

test_expect_success 'creating a ref that exists is stale info' '
	gate_setup server.git work &&
	head=$(git -C server.git rev-parse main) &&
	{ pkt_first_command "$(printf %040d 0)" "$head" refs/heads/main "report-status";
		printf 0000; printf "" | git -C work pack-objects --stdout; } | raw_push server.git &&
	grep -a "ng refs/heads/main stale info: the ref already exists" out
'

test_expect_success 'bad ref names and duplicates are refused per ref' '
	gate_setup server.git work &&
	head=$(git -C server.git rev-parse main) zero=$(printf %040d 0) &&
	{ pkt_first_command "$zero" "$head" "refs/heads/a..b" "report-status";
		pkt "$zero $head refs/heads/ok"; pkt "$zero $head refs/heads/ok";
		pkt "$zero $head HEAD"; printf 0000;
		printf "" | git -C work pack-objects --stdout; } | raw_push server.git &&
	grep -a "ng refs/heads/a..b invalid ref name" out &&
	grep -a "ok refs/heads/ok" out &&
	grep -a "ng refs/heads/ok the push updates this ref twice" out &&
	grep -a "ng HEAD refusing to update .HEAD.: not under refs/" out &&
	test "$(git -C server.git rev-parse ok)" = "$head" &&
	gate_check_repo server.git
'

test_expect_success 'a malformed command ends the session with a side-band error' '
	gate_setup server.git work &&
	head=$(git -C server.git rev-parse main) &&
	{ pkt_first_command "$head" "$head" refs/heads/x "report-status side-band-64k";
		pkt "not a command"; printf 0000; } | { ! raw_push server.git; } &&
	grep -a "malformed ref update" out && grep "malformed ref update" log &&
	printf "zzzz" | { ! raw_push server.git; } &&
	grep "bad pkt-line length" log &&
	gate_check_repo server.git
'

test_expect_success 'data that is not a pack is an unpack error' '
	gate_setup server.git work &&
	head=$(git -C server.git rev-parse main) zero=$(printf %040d 0) &&
	{ pkt_first_command "$zero" "$head" refs/heads/x "report-status";
		printf 0000; printf "PACX not a pack at all"; } | raw_push server.git &&
	grep -a "unpack the data after the commands is not a pack" out &&
	grep -a "ng refs/heads/x unpacker error" out &&
	gate_check_repo server.git
'

test_expect_success 'a pack cut short is an unpack error' '
	gate_setup server.git work &&
	old=$(git -C server.git rev-parse main) &&
	(cd work && seq 1 5000 >big && git add big && git commit -q -m big) &&
	new=$(git -C work rev-parse main) &&
	printf "%s\n^%s\n" "$new" "$old" | git -C work pack-objects --revs --stdout >pack &&
	head -c $(($(wc -c <pack) - 30)) pack >cut.pack &&
	raw_update_main server.git "$old" "$new" cut.pack &&
	grep -a "unpack the pack ended early" out &&
	test "$(git -C server.git rev-parse main)" = "$old" &&
	gate_check_repo server.git
'

test_expect_success 'a pack over the size limit is refused' '
	gate_setup server.git work && cd work &&
	head -c 200000 /dev/urandom >random && git add random && git commit -q -m random &&
	! GATE_OPTS="--request-max 100000" git push "$(gate_url ../server.git)" main 2>err &&
	grep "over the gate.s limit of 100000 bytes" err &&
	! git -C ../server.git cat-file -e "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

test_expect_success 'a client asking for protocol v2 gets a v0 advertisement' '
	gate_setup server.git work &&
	GIT_PROTOCOL=version=2 "$GATE_SERVE" receive-pack server.git </dev/null >out &&
	head -c 64 out | grep -a "^[0-9a-f]\{4\}$(git -C server.git rev-parse main) refs/heads/main" &&
	grep -a "report-status report-status-v2 delete-refs side-band-64k quiet atomic" out
'

test_expect_success 'an empty repository advertises capabilities^{}' '
	git init -q --bare server.git &&
	"$GATE_SERVE" receive-pack server.git </dev/null >out &&
	grep -a "0000000000000000000000000000000000000000 capabilities^{}" out
'

test_expect_success 'a push from a shallow clone lands when the gate has the history' '
	gate_setup server.git seed &&
	(cd seed && commit_file a two "two" && git push -q ../server.git main) &&
	git clone -q --depth 1 "file://$PWD/server.git" shallow && cd shallow &&
	test -f .git/shallow &&
	commit_file c three "three" &&
	git push "$(gate_url ../server.git)" main &&
	test "$(git -C ../server.git rev-parse main)" = "$(git rev-parse main)" &&
	gate_check_repo ../server.git
'

test_done

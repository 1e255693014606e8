#!/usr/bin/env bash
# mirror_refresh() against a git:// upstream served by the real git daemon:
# the first fetch creates the bare mirror (branches, tags, HEAD on the
# upstream's default branch, no remote or URL in its config); later fetches
# follow the upstream (new commits, deleted branches and tags, a moved tag,
# a new default branch); a mirror younger than the max age is not fetched
# unless forced; a dead upstream keeps the last good mirror served with a
# warning, and with no mirror yet the refresh fails saying why.
. "$(dirname "$0")/gitgate-mirror-lib.sh"

upstream_create repo
git_daemon_start
URL=git://127.0.0.1:$DAEMON_PORT/repo.git
UP=$UPSTREAMS/repo.git
M=$TEST_SCRATCH/data/repo.git

test_expect_success 'the first refresh creates the mirror with every branch and tag' '
	"$MIRROR" refresh "$M" "$URL" >out &&
	test "$(cat out)" = fetched &&
	git -C "$M" rev-parse --is-bare-repository >bare &&
	test "$(cat bare)" = true &&
	refs_of "$UP" >want &&
	refs_of "$M" >have &&
	diff -u want have &&
	test "$(git -C "$M" cat-file -t refs/tags/v1)" = tag
'

test_expect_success 'HEAD follows the upstream default branch' '
	test "$(git -C "$M" symbolic-ref HEAD)" = refs/heads/trunk
'

test_expect_success 'the mirror config names no remote and no URL' '
	! git -C "$M" config --get-regexp "^remote\\." &&
	! grep -rq "127.0.0.1" "$M/config"
'

test_expect_success 'a clone of the mirror has the upstream history (fsck clean)' '
	git -C "$M" fsck --strict --no-dangling &&
	git clone -q "$M" clone &&
	test "$(git -C clone rev-parse HEAD)" = "$(git -C "$UP" rev-parse trunk)"
'

test_expect_success 'the upstream moves: new commits, a deleted branch, a moved tag, a new HEAD' '
	w=$TEST_SCRATCH/work/repo &&
	upstream_commit repo two &&
	git -C "$w" push -q origin trunk &&
	git -C "$w" push -q origin :side &&
	git -C "$w" tag -f -a v1 -m "version 1, again" >/dev/null &&
	git -C "$w" push -q -f origin v1 &&
	git -C "$w" checkout -q -b main &&
	upstream_commit repo three &&
	git -C "$w" push -q origin main &&
	git -C "$UP" symbolic-ref HEAD refs/heads/main &&
	"$MIRROR" refresh "$M" "$URL" >out &&
	test "$(cat out)" = fetched &&
	refs_of "$UP" >want &&
	refs_of "$M" >have &&
	diff -u want have &&
	! git -C "$M" rev-parse -q --verify refs/heads/side &&
	test "$(git -C "$M" symbolic-ref HEAD)" = refs/heads/main
'

test_expect_success 'a deleted tag is pruned from the mirror' '
	git -C "$UP" tag -d v1 >/dev/null &&
	"$MIRROR" refresh "$M" "$URL" >out &&
	! git -C "$M" rev-parse -q --verify refs/tags/v1
'

test_expect_success 'younger than the max age: no fetch; forced: fetched' '
	upstream_commit repo four &&
	git -C "$TEST_SCRATCH/work/repo" push -q origin main &&
	before=$(git -C "$M" rev-parse main) &&
	"$MIRROR" --max-age 3600000 refresh "$M" "$URL" refresh refresh force >out &&
	printf "fetched\nfresh\nfetched\n" >want &&
	diff -u want out &&
	test "$(git -C "$M" rev-parse main)" = "$(git -C "$UP" rev-parse main)" &&
	test "$before" != "$(git -C "$M" rev-parse main)"
'

test_expect_success 'max age 0: every refresh fetches' '
	"$MIRROR" --max-age 0 refresh "$M" "$URL" refresh refresh >out &&
	printf "fetched\nfetched\n" >want &&
	diff -u want out
'

test_expect_success 'an empty upstream gives an empty mirror, not an error' '
	git init -q --bare "$UPSTREAMS/empty.git" &&
	"$MIRROR" refresh "$TEST_SCRATCH/data/empty.git" "git://127.0.0.1:$DAEMON_PORT/empty.git" &&
	test -z "$(refs_of "$TEST_SCRATCH/data/empty.git")"
'

test_expect_success 'a local path upstream works too' '
	"$MIRROR" refresh "$TEST_SCRATCH/data/local.git" "$UP" >out &&
	refs_of "$UP" >want &&
	refs_of "$TEST_SCRATCH/data/local.git" >have &&
	diff -u want have
'

test_expect_success 'a missing upstream repository fails with no mirror to serve' '
	! "$MIRROR" refresh "$TEST_SCRATCH/data/nothing.git" \
		"git://127.0.0.1:$DAEMON_PORT/nothing.git" >out 2>err &&
	grep -q "fetch from git://127.0.0.1:$DAEMON_PORT/nothing.git failed (.*); no mirror to serve yet" err
'

test_expect_success 'the upstream goes away: the last good mirror is served, with a warning' '
	before=$(refs_of "$M") &&
	git_daemon_stop &&
	"$MIRROR" --max-age 0 refresh "$M" "$URL" refresh refresh >out 2>err &&
	printf "stale: serving the last good mirror\nstale: serving the last good mirror\n" >want &&
	diff -u want out &&
	grep -q "warning: mirror: fetch from $URL failed (.*); serving the mirror as it was before the gate started" err &&
	test "$before" = "$(refs_of "$M")"
'

test_expect_success 'once this process has fetched, the warning tells the mirror age' '
	git_daemon_start &&
	url=git://127.0.0.1:$DAEMON_PORT/repo.git &&
	mkfifo steps &&
	{ "$MIRROR" --max-age 0 refresh "$M" "$url" refresh wait refresh <steps >out 2>err & } &&
	pid=$! &&
	exec 3>steps &&
	wait_for 20 "grep -q fetched out" &&
	git_daemon_stop &&
	echo >&3 &&
	exec 3>&- &&
	wait $pid &&
	printf "fetched\nstale: serving the last good mirror\n" >want &&
	diff -u want out &&
	grep -Eq "warning: mirror: fetch from $url failed \(.*\); serving the mirror from [0-9]+ s ago" err
'

test_expect_success 'a dead upstream is retried once per max age, not on every refresh' '
	git_daemon_stop &&
	"$MIRROR" --max-age 3600000 refresh "$M" "$URL" refresh refresh refresh >out 2>err &&
	printf "stale: serving the last good mirror\nfresh\nfresh\n" >want &&
	diff -u want out &&
	test "$(grep -c "fetch from" err)" = 1
'

test_expect_success 'no mirror and no upstream: the refresh fails and says why' '
	! "$MIRROR" refresh "$TEST_SCRATCH/data/never.git" "$URL" >out 2>err &&
	grep -q "fetch from $URL failed (failed to connect to 127.0.0.1: Connection refused); no mirror to serve yet" err
'

test_done

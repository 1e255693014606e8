#!/usr/bin/env bash
# upload-pack with the real git client, protocol v0, v1 and v2: clone,
# ls-remote and the advertisement compared with git's own upload-pack, an
# empty repository, wants of objects no ref leads to refused, reachable
# ones allowed, and malformed or unknown requests answered with an error,
# never a hang.
. "$(dirname "$0")/gitgate-upload-lib.sh"

test_expect_success 'set up the source repository' '
	cd "$TEST_SCRATCH" && make_source src &&
	git -C src.git rev-parse main >/dev/null
'

for version in 0 1 2; do
	test_expect_success "clone (protocol.version=$version): same refs as git's server, fsck clean" '
		git -c protocol.version='$version' clone -q "$(gate_url "$TEST_SCRATCH/src.git")" gate &&
		git_ref -c protocol.version='$version' clone -q "$(ref_url "$TEST_SCRATCH/src.git")" ref &&
		git -C gate fsck --strict &&
		client_state gate >gate.txt && client_state ref >ref.txt &&
		diff ref.txt gate.txt &&
		test "$(git -C gate symbolic-ref HEAD)" = refs/heads/main &&
		test "$(git -C gate cat-file -t v1)" = tag
	'

	test_expect_success "ls-remote (protocol.version=$version) is git's, peeled tags included" '
		git -c protocol.version='$version' ls-remote "$(gate_url "$TEST_SCRATCH/src.git")" >gate.txt &&
		git_ref -c protocol.version='$version' ls-remote "$(ref_url "$TEST_SCRATCH/src.git")" >ref.txt &&
		diff ref.txt gate.txt &&
		grep -q "refs/tags/v1^{}" gate.txt
	'
done

test_expect_success 'v1: the advertisement starts with "version 1" and names the agent and HEAD' '
	GIT_TRACE_PACKET=$PWD/trace git -c protocol.version=1 ls-remote \
		"$(gate_url "$TEST_SCRATCH/src.git")" >/dev/null &&
	grep -q "< version 1" trace &&
	grep -q "symref=HEAD:refs/heads/main" trace &&
	grep -q "agent=bottle-gitgate/" trace
'

test_expect_success 'v2: the capability advertisement' '
	GIT_TRACE_PACKET=$PWD/trace git -c protocol.version=2 ls-remote \
		"$(gate_url "$TEST_SCRATCH/src.git")" >/dev/null &&
	grep -q "< version 2" trace &&
	grep -q "< ls-refs=unborn" trace &&
	grep -q "< fetch=shallow" trace &&
	grep -q "< object-format=sha1" trace
'

for version in 0 2; do
	test_expect_success "clone of an empty repository (protocol.version=$version)" '
		git init -q --bare empty.git &&
		git -C empty.git symbolic-ref HEAD refs/heads/trunk &&
		git -c protocol.version='$version' clone "$(gate_url empty.git)" clone 2>err &&
		grep -q "cloned an empty repository" err &&
		if [ '$version' = 2 ]; then
			test "$(git -C clone symbolic-ref HEAD)" = refs/heads/trunk
		fi
	'
done

test_expect_success 'v0 advertisement of an empty repository: capabilities^{}' '
	git init -q --bare empty.git &&
	printf 0000 | "$SERVE" upload-pack empty.git >out &&
	grep -q "0000000000000000000000000000000000000000 capabilities^{}" out
'

for version in 0 2; do
	test_expect_success "a want no ref leads to is refused (protocol.version=$version)" '
		git clone -q --bare "$TEST_SCRATCH/src.git" server.git &&
		dangling=$(git -C "$TEST_SCRATCH/src" commit-tree -m dangling "main^{tree}") &&
		git -C "$TEST_SCRATCH/src" cat-file commit $dangling >/dev/null &&
		git -C server.git fetch -q "$TEST_SCRATCH/src" $dangling &&
		git -C server.git cat-file -e $dangling &&
		git init -q client &&
		test_must_fail_timeout git -C client -c protocol.version='$version' fetch \
			"$(gate_url server.git)" $dangling 2>err &&
		grep "not our ref $dangling" err &&
		! git -C client cat-file -e $dangling 2>/dev/null
	'

	test_expect_success "a want of a commit a ref reaches is allowed (protocol.version=$version)" '
		git init -q client &&
		old=$(git -C "$TEST_SCRATCH/src.git" rev-parse main~3) &&
		git -C client -c protocol.version='$version' fetch -q \
			"$(gate_url "$TEST_SCRATCH/src.git")" $old &&
		test "$(git -C client rev-parse FETCH_HEAD)" = $old &&
		git -C client fsck
	'
done

# Raw requests: the answer is an ERR packet and a non-zero exit, promptly.
raw_request() { # protocol pkt_line-arguments...
	local protocol=$1 arg
	shift
	for arg in "$@"; do pkt_line "$arg"; done |
		GIT_PROTOCOL=version=$protocol timeout 20 "$SERVE" upload-pack \
			"$TEST_SCRATCH/src.git" >out 2>err
}

test_expect_success 'v2: an unknown command is an error' '
	! raw_request 2 command=frobnicate - &&
	grep -q "ERR upload-pack: unknown command: .frobnicate." out
'

test_expect_success 'v2: an unknown capability is an error' '
	! raw_request 2 command=ls-refs frobnicate=1 . - &&
	grep -q "ERR upload-pack: unknown capability" out
'

test_expect_success 'v2: an unknown fetch argument is an error' '
	! raw_request 2 command=fetch . "frobnicate 1" - &&
	grep -q "ERR upload-pack: unexpected fetch argument" out
'

test_expect_success 'v2: an unknown ls-refs argument is an error' '
	! raw_request 2 command=ls-refs . hello - &&
	grep -q "ERR upload-pack: unexpected ls-refs argument" out
'

test_expect_success 'v2: a request cut short is an error, not a hang' '
	! raw_request 2 command=ls-refs . &&
	grep -q "ERR upload-pack: the request ended early" out
'

test_expect_success 'v2: ls-refs with ref-prefix, symrefs and peel' '
	raw_request 2 command=ls-refs . symrefs peel "ref-prefix refs/tags/v" "ref-prefix HEAD" - &&
	grep -q "HEAD symref-target:refs/heads/main" out &&
	grep -q "refs/tags/v1 peeled:" out &&
	! grep -q "refs/tags/light" out &&
	! grep -q " refs/heads/main" out
'

test_expect_success 'v0: a malformed pkt-line is an error' '
	! printf "zzzzwant" | timeout 20 "$SERVE" upload-pack "$TEST_SCRATCH/src.git" >out &&
	grep -q "ERR upload-pack: bad pkt-line length" out
'

test_expect_success 'v0: a want that is not an object id is an error' '
	! raw_request 0 "want 0123456789012345678901234567890123456789x" - &&
	grep -q "ERR upload-pack: protocol error" out
'

test_expect_success 'v0: a want list cut short is an error' '
	want=$(git -C "$TEST_SCRATCH/src.git" rev-parse main) &&
	! raw_request 0 "want $want" &&
	grep -q "ERR upload-pack: the want list ended early" out
'

test_expect_success 'v0: an ls-remote-style hang-up after the advertisement is clean' '
	raw_request 0 - &&
	grep -q "refs/heads/main" out
'

test_done

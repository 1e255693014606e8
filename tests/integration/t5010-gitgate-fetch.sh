#!/usr/bin/env bash
# upload-pack fetches with the real git client, protocol v0, v1 and v2:
# after the source moved (new commits, a new tag), tags following their
# commits in the same pack (include-tag), a negotiation over many rounds,
# shallow clones (--depth 1), --deepen, --unshallow, --depth on a shallow clone,
# --shallow-since and --shallow-exclude.  Every shallow result (the
# client's refs, shallow list and commit count) equals git's own
# upload-pack's, and every client is fsck clean.
. "$(dirname "$0")/gitgate-upload-lib.sh"

test_expect_success 'set up the source repository' '
	cd "$TEST_SCRATCH" && make_source src
'

# A fresh bare server copy of src.git in the test's directory.
server_copy() {
	git clone -q --bare "$TEST_SCRATCH/src.git" server.git
}

compare() {
	git -C gate fsck >/dev/null &&
	client_state gate >gate.txt && client_state ref >ref.txt &&
	diff ref.txt gate.txt
}

for version in 0 1 2; do
	test_expect_success "fetch after the source moved: commits and a tag (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q "$(gate_url server.git)" client &&
		git clone -q server.git work &&
		commit_file work d "new 1" && commit_file work d "new 2" &&
		git -C work tag -a v2 -m "version 2" &&
		git -C work push -q origin main v2 &&
		git -C client -c protocol.version='$version' fetch -q 2>err &&
		test "$(git -C client rev-parse origin/main)" = "$(git -C server.git rev-parse main)" &&
		test "$(git -C client rev-parse v2)" = "$(git -C server.git rev-parse v2)" &&
		git -C client fsck --strict
	'

	test_expect_success "include-tag: a tag of a commit sent comes in the same pack (protocol.version=$version)" '
		server_copy &&
		git clone -q server.git work &&
		commit_file work e "tagged" && git -C work tag -a v3 -m "version 3" &&
		git -C work push -q origin main v3 &&
		tag=$(git -C server.git rev-parse v3) &&
		git init -q without && git init -q with &&
		git -C without -c protocol.version='$version' fetch-pack -q \
			"$(gate_url server.git)" refs/heads/main >/dev/null &&
		! git -C without cat-file -e $tag 2>/dev/null &&
		git -C with -c protocol.version='$version' fetch-pack -q --include-tag \
			"$(gate_url server.git)" refs/heads/main >/dev/null &&
		test "$(git -C with cat-file -t $tag)" = tag
	'

	test_expect_success "a fetch of deltas whose base stays behind gets them whole (protocol.version=$version)" '
		server_copy &&
		git -C server.git config receive.unpackLimit 1 &&
		git -c protocol.version='$version' clone -q "$(gate_url server.git)" client &&
		git clone -q server.git work &&
		seq 1 2000 >work/big && git -C work add big && git -C work commit -q -m big &&
		git -C work push -q origin main &&
		seq 1 2001 >work/big && git -C work commit -q -a -m bigger &&
		git -C work push -q origin main &&
		git -C client -c protocol.version='$version' fetch -q origin "$(git -C server.git rev-parse main~1):refs/heads/old" &&
		git -C client -c protocol.version='$version' fetch --progress 2>err &&
		grep -q "remote: Total .* compressed [1-9]" err &&
		test "$(git -C client rev-parse origin/main)" = "$(git -C server.git rev-parse main)" &&
		git -C client fsck --strict
	'

	test_expect_success "negotiation over many rounds with unknown haves (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q "$(gate_url server.git)" client &&
		git -C client checkout -q -b local &&
		for i in $(seq 1 80); do commit_file client local "local $i"; done &&
		git clone -q server.git work &&
		commit_file work f "upstream 1" && git -C work push -q origin main &&
		GIT_TRACE_PACKET=$PWD/trace git -C client -c protocol.version='$version' fetch -q &&
		grep -q "ACK" trace &&
		test "$(git -C client rev-parse origin/main)" = "$(git -C server.git rev-parse main)" &&
		git -C client fsck --strict
	'

	test_expect_success "shallow clone --depth 1 is git's (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q --depth 1 "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --depth 1 "$(ref_url server.git)" ref &&
		compare &&
		test "$(git -C gate rev-list --count HEAD)" = 1
	'

	test_expect_success "--deepen 2 after --depth 1 is git's (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q --depth 1 "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --depth 1 "$(ref_url server.git)" ref &&
		git -C gate -c protocol.version='$version' fetch -q --deepen 2 &&
		git_ref -C ref -c protocol.version='$version' fetch -q --deepen 2 &&
		compare &&
		test "$(git -C gate rev-list --count HEAD)" -gt 1
	'

	# --unshallow sends "deepen 2147483647" (git's INFINITE_DEPTH).
	test_expect_success "--unshallow after --depth 1 is git's (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q --depth 1 "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --depth 1 "$(ref_url server.git)" ref &&
		git -C gate -c protocol.version='$version' fetch -q --unshallow &&
		git_ref -C ref -c protocol.version='$version' fetch -q --unshallow &&
		compare &&
		test ! -e gate/.git/shallow &&
		test "$(git -C gate rev-list --count HEAD)" = "$(git -C server.git rev-list --count main)"
	'

	test_expect_success "--depth 3 on a shallow clone that moved (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q --depth 1 "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --depth 1 "$(ref_url server.git)" ref &&
		git clone -q server.git work && commit_file work g "more" && git -C work push -q origin main &&
		git -C gate -c protocol.version='$version' fetch -q --depth 3 &&
		git_ref -C ref -c protocol.version='$version' fetch -q --depth 3 &&
		compare
	'

	test_expect_success "a plain fetch into a shallow clone keeps it shallow (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q --depth 1 "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --depth 1 "$(ref_url server.git)" ref &&
		git clone -q server.git work && commit_file work h "more" && git -C work push -q origin main &&
		git -C gate -c protocol.version='$version' fetch -q &&
		git_ref -C ref -c protocol.version='$version' fetch -q &&
		compare
	'

	test_expect_success "--shallow-exclude and --shallow-since are git's (protocol.version=$version)" '
		server_copy &&
		git -c protocol.version='$version' clone -q --shallow-exclude=v1 "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --shallow-exclude=v1 "$(ref_url server.git)" ref &&
		compare &&
		rm -rf gate ref &&
		since=$(git -C server.git log -1 --format=%ct main~1) &&
		git -c protocol.version='$version' clone -q --shallow-since=$since "$(gate_url server.git)" gate &&
		git_ref -c protocol.version='$version' clone -q --shallow-since=$since "$(ref_url server.git)" ref &&
		compare
	'
done

# Over smart-HTTP every round is its own request (stateless RPC): the
# client sends its wants, shallow lines and haves again each time.
test_expect_success 'start the gate over HTTP with the source as a repository' '
	mkdir -p "$GATE_DIR/data" &&
	git clone -q --bare "$TEST_SCRATCH/src.git" "$GATE_DIR/data/app.git" &&
	gate_start "  - name: app"
'

for version in 0 2; do
	test_expect_success "HTTP: shallow clone, --deepen, a moved source, many rounds (protocol.version=$version)" '
		export CLIENT_STATE_NO_TAGS=1 &&
		git -c protocol.version='$version' clone -q --depth 1 "$GATE_HTTP/app.git" gate &&
		git_ref -c protocol.version='$version' clone -q --depth 1 \
			"$(ref_url "$GATE_DIR/data/app.git")" ref &&
		compare &&
		git -C gate -c protocol.version='$version' fetch -q --deepen 1 &&
		git_ref -C ref -c protocol.version='$version' fetch -q --deepen 1 &&
		compare &&
		git -c protocol.version='$version' clone -q "$GATE_HTTP/app.git" full &&
		git -C full checkout -q -b local &&
		for i in $(seq 1 80); do commit_file full local "local $i"; done &&
		git clone -q "$GATE_DIR/data/app.git" work &&
		commit_file work http "'$version'" && git -C work push -q origin main &&
		GIT_TRACE_PACKET=$PWD/trace git -C full -c protocol.version='$version' fetch -q &&
		grep -q "fetch.*< ACK " trace &&
		test "$(git -C full rev-parse origin/main)" = \
			"$(git --git-dir="$GATE_DIR/data/app.git" rev-parse main)" &&
		git -C full fsck --strict
	'
done

test_done

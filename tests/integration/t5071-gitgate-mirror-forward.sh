#!/usr/bin/env bash
# mirror_forward() against a git:// upstream served by the real git daemon:
# created, fast-forwarded, force-updated (where the gate allowed it) and
# deleted branches and an annotated tag arrive upstream exactly; the
# upstream's pre-receive hook rejecting one ref fails that ref alone with
# its reason, its output relayed as bounded "upstream: " lines with no
# terminal controls (an update hook rejecting one ref of two fails that one
# alone); an upstream that moved since the gate's last fetch is
# never overwritten; an unreachable upstream fails the whole push.
. "$(dirname "$0")/gitgate-mirror-lib.sh"

upstream_create repo
git_daemon_start
URL=git://127.0.0.1:$DAEMON_PORT/repo.git
UP=$UPSTREAMS/repo.git
M=$TEST_SCRATCH/data/repo.git
W=$TEST_SCRATCH/agent

# agent_push REFSPEC: the agent's objects into the gate's repository under
# refs/incoming/, standing in for receive-pack's quarantine.
agent_push() {
	git -C "$W" push -q -f "$M" "$1"
}

test_expect_success 'set up: the mirror and an agent clone of it' '
	"$MIRROR" refresh "$M" "$URL" >/dev/null &&
	git clone -q "$M" "$W" &&
	git -C "$W" checkout -q trunk
'

test_expect_success 'a new branch arrives upstream' '
	git -C "$W" checkout -q -b feature &&
	echo f >"$W/f" && git -C "$W" add f && git -C "$W" commit -q -m f &&
	new=$(git -C "$W" rev-parse HEAD) &&
	agent_push HEAD:refs/incoming/feature &&
	"$MIRROR" forward "$M" "$URL" - "$new" refs/heads/feature >out &&
	grep -qx "ok refs/heads/feature" out &&
	test "$(git -C "$UP" rev-parse refs/heads/feature)" = "$new"
'

test_expect_success 'a fast-forward arrives upstream' '
	git -C "$W" checkout -q trunk &&
	old=$(git -C "$W" rev-parse HEAD) &&
	echo g >"$W/g" && git -C "$W" add g && git -C "$W" commit -q -m g &&
	new=$(git -C "$W" rev-parse HEAD) &&
	agent_push HEAD:refs/incoming/trunk &&
	"$MIRROR" forward "$M" "$URL" "$old" "$new" refs/heads/trunk >out &&
	grep -qx "ok refs/heads/trunk" out &&
	test "$(git -C "$UP" rev-parse refs/heads/trunk)" = "$new"
'

test_expect_success 'an allowed non-fast-forward is forced upstream' '
	old=$(git -C "$UP" rev-parse refs/heads/side) &&
	git -C "$W" checkout -q -b rewrite "$old~0" &&
	git -C "$W" commit -q --amend -m "one, reworded" &&
	new=$(git -C "$W" rev-parse HEAD) &&
	! git -C "$W" merge-base --is-ancestor "$old" "$new" &&
	agent_push HEAD:refs/incoming/rewrite &&
	"$MIRROR" forward "$M" "$URL" "$old" "$new" refs/heads/side >out &&
	grep -qx "ok refs/heads/side" out &&
	test "$(git -C "$UP" rev-parse refs/heads/side)" = "$new"
'

test_expect_success 'a delete arrives upstream' '
	old=$(git -C "$UP" rev-parse refs/heads/feature) &&
	"$MIRROR" forward "$M" "$URL" "$old" - refs/heads/feature >out &&
	grep -qx "ok refs/heads/feature" out &&
	! git -C "$UP" rev-parse -q --verify refs/heads/feature
'

test_expect_success 'an annotated tag arrives upstream as the same tag object' '
	git -C "$W" tag -a v2 -m "version 2" trunk &&
	tag=$(git -C "$W" rev-parse v2) &&
	agent_push refs/tags/v2:refs/incoming/v2 &&
	"$MIRROR" forward "$M" "$URL" - "$tag" refs/tags/v2 >out &&
	grep -qx "ok refs/tags/v2" out &&
	test "$(git -C "$UP" rev-parse refs/tags/v2)" = "$tag" &&
	test "$(git -C "$UP" cat-file -t refs/tags/v2)" = tag &&
	git -C "$UP" fsck --no-dangling
'

test_expect_success 'the upstream pre-receive hook refuses: the reason and its output relayed' '
	cat >"$UP/hooks/pre-receive" <<-\EOF &&
	#!/bin/sh
	echo "policy check by the forge"
	while read old new ref; do
		if [ "$ref" = refs/heads/locked ]; then
			printf "\033[31mlocked is read-only\033[0m\n" >&2
			exit 1
		fi
	done
	EOF
	chmod +x "$UP/hooks/pre-receive" &&
	new=$(git -C "$W" rev-parse trunk) &&
	"$MIRROR" forward "$M" "$URL" - "$new" refs/heads/locked >out &&
	grep -qx "upstream: policy check by the forge" out &&
	grep -qx "upstream: ?\[31mlocked is read-only?\[0m" out &&
	grep -qx "ng refs/heads/locked upstream rejected: pre-receive hook declined" out &&
	! git -C "$UP" rev-parse -q --verify refs/heads/locked &&
	rm "$UP/hooks/pre-receive"
'

test_expect_success 'the upstream update hook refuses one ref: that ref fails, the other arrives' '
	cat >"$UP/hooks/update" <<-\EOF &&
	#!/bin/sh
	[ "$1" != refs/heads/locked ] || { echo "no pushes to $1" >&2; exit 1; }
	EOF
	chmod +x "$UP/hooks/update" &&
	new=$(git -C "$W" rev-parse trunk) &&
	"$MIRROR" forward "$M" "$URL" - "$new" refs/heads/locked - "$new" refs/heads/free >out &&
	grep -qx "upstream: no pushes to refs/heads/locked" out &&
	grep -qx "ng refs/heads/locked upstream rejected: hook declined" out &&
	grep -qx "ok refs/heads/free" out &&
	! git -C "$UP" rev-parse -q --verify refs/heads/locked &&
	test "$(git -C "$UP" rev-parse refs/heads/free)" = "$new" &&
	rm "$UP/hooks/update"
'

test_expect_success 'the upstream refuses a non-fast-forward: relayed as that ref s reason' '
	git -C "$UP" config receive.denyNonFastForwards true &&
	old=$(git -C "$UP" rev-parse refs/heads/side) &&
	git -C "$W" checkout -q rewrite &&
	git -C "$W" commit -q --amend -m "one, reworded twice" &&
	new=$(git -C "$W" rev-parse HEAD) &&
	agent_push HEAD:refs/incoming/rewrite &&
	"$MIRROR" forward "$M" "$URL" "$old" "$new" refs/heads/side >out &&
	grep -q "^ng refs/heads/side upstream rejected: .*non-fast-forward" out &&
	test "$(git -C "$UP" rev-parse refs/heads/side)" = "$old" &&
	git -C "$UP" config --unset receive.denyNonFastForwards
'

test_expect_success 'the upstream moved since the last fetch: not overwritten, even where force was allowed' '
	upstream_commit repo elsewhere &&
	git -C "$TEST_SCRATCH/work/repo" push -q -f origin HEAD:refs/heads/side &&
	theirs=$(git -C "$UP" rev-parse refs/heads/side) &&
	ours_old=$(git -C "$M" rev-parse refs/heads/side) &&
	new=$(git -C "$W" rev-parse rewrite) &&
	feature=$(git -C "$W" rev-parse feature) &&
	agent_push feature:refs/incoming/feature &&
	"$MIRROR" forward "$M" "$URL" "$ours_old" "$new" refs/heads/side \
		- "$feature" refs/heads/feature2 >out &&
	grep -qx "ng refs/heads/side upstream rejected: the upstream.s refs/heads/side moved since the gate.s last fetch; fetch and try again" out &&
	grep -qx "ok refs/heads/feature2" out &&
	test "$(git -C "$UP" rev-parse refs/heads/side)" = "$theirs"
'

test_expect_success 'a chatty upstream: its lines are bounded' '
	cat >"$UP/hooks/pre-receive" <<-\EOF &&
	#!/bin/sh
	i=0
	while [ $i -lt 500 ]; do echo "line $i"; i=$((i + 1)); done
	EOF
	chmod +x "$UP/hooks/pre-receive" &&
	new=$(git -C "$W" rev-parse trunk) &&
	"$MIRROR" forward "$M" "$URL" - "$new" refs/heads/chatty >out &&
	grep -qx "ok refs/heads/chatty" out &&
	test "$(grep -c "^upstream: line" out)" -le 40 &&
	grep -qx "upstream: (more output cut)" out &&
	rm "$UP/hooks/pre-receive"
'

test_expect_success 'an unreachable upstream fails the whole push and says so' '
	port=$(free_port) &&
	new=$(git -C "$W" rev-parse trunk) &&
	! "$MIRROR" forward "$M" "git://127.0.0.1:$port/repo.git" - "$new" refs/heads/x >out 2>err &&
	grep -q "cannot reach the upstream git://127.0.0.1:$port/repo.git: failed to connect" err &&
	! grep -q "^ok" out
'

test_done

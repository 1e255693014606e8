#!/usr/bin/env bash
# Pack merging (docs/gitgate.md, "Pack merging"), with the real git client
# against `sidecar gitgate`: 100 pushes never leave more than 16 packs,
# while clones run alongside and come out fsck-clean and complete; a clone
# held mid-pack holds no more pack files than there are packs; a gate
# killed with -9 in the middle of a merge leaves a usable repository that
# the next push tidies; mirror fetches are merged too.
. "$(dirname "$0")/gitgate-serve-lib.sh"
test_skip_unless python3

THRESHOLD=16
REPO=$GATE_DIR/data/app.git
PACKS=$REPO/objects/pack

live_packs() { # repo: indexed packs not retired
	local repo=$1 idx n=0
	for idx in "$repo"/objects/pack/pack-*.idx; do
		[ -e "$idx" ] || continue
		[ -e "$repo/gitgate-retired/$(basename "$idx" .idx)" ] || n=$((n + 1))
	done
	echo "$n"
}

# An 8 MiB incompressible file in the first commit: a clone's pack is then
# larger than the socket buffers, so a client that stops reading holds the
# session in the middle of its pack.
test_expect_success 'start the gate with a repository of its own' '
	gate_start "  - name: app" &&
	work=$TEST_SCRATCH/seed-app &&
	git init -q -b main "$work" &&
	head -c 8388608 /dev/urandom >"$work/big" &&
	git -C "$work" add big &&
	git -C "$work" -c user.name=Seed -c user.email=seed@test commit -q -m seed &&
	git -C "$REPO" symbolic-ref HEAD refs/heads/main &&
	git -C "$work" push -q "$GATE_HTTP/app.git" main &&
	git clone -q "$GATE_HTTP/app.git" "$TEST_SCRATCH/work" &&
	test -s "$TEST_SCRATCH/work/big"
'

test_expect_success '100 pushes, clones alongside: never more than 16 packs' '
	cd "$TEST_SCRATCH/work" &&
	git config user.name Pusher && git config user.email pusher@test &&
	: >"$TEST_SCRATCH/clones" || exit 1
	(
		n=0
		while [ ! -e "$TEST_SCRATCH/pushes-done" ]; do
			n=$((n + 1))
			rm -rf "$TEST_SCRATCH/clone"
			if git clone -q "$GATE_GIT/app.git" "$TEST_SCRATCH/clone" &&
			   git -C "$TEST_SCRATCH/clone" fsck --no-progress --no-dangling; then
				echo "ok $n" >>"$TEST_SCRATCH/clones"
			else
				echo "failed $n" >>"$TEST_SCRATCH/clones"
			fi
		done
	) &
	cloner=$! &&
	most=0 &&
	for i in $(seq 1 100); do
		echo "$i" >>counter && mkdir -p "dir$((i % 7))" &&
		echo "line $i" >>"dir$((i % 7))/file" &&
		git add -A && git commit -q -m "push $i" &&
		if [ $((i % 10)) -eq 0 ]; then url=$GATE_GIT; else url=$GATE_HTTP; fi &&
		git push -q "$url/app.git" main || { touch "$TEST_SCRATCH/pushes-done"; exit 1; }
		if [ "$i" -eq 50 ]; then
			# git'"'"'s own pack with OFS_DELTA chains: a file edited 12
			# times, pushed at once; later merges must rewrite the offsets.
			ls "$PACKS" >before-deltas &&
			git checkout -q -b deltas &&
			seq 1 400 | sed "s/$/ a line of text long enough to delta well/" >text &&
			for e in $(seq 1 12); do
				sed -i "$((e * 30))s/$/ edited $e/" text &&
				git add text && git commit -q -m "edit $e" || exit 1
			done &&
			git push -q "$GATE_HTTP/app.git" deltas &&
			git checkout -q main &&
			ls "$PACKS" | comm -13 before-deltas - | grep "\.idx$" >"$TEST_SCRATCH/delta-pack" &&
			test -s "$TEST_SCRATCH/delta-pack" &&
			git verify-pack -v "$PACKS/$(cat "$TEST_SCRATCH/delta-pack")" | grep -q "chain length" ||
				{ touch "$TEST_SCRATCH/pushes-done"; exit 1; }
		fi
		n=$(live_packs "$REPO") &&
		if [ "$n" -gt "$most" ]; then most=$n; fi &&
		[ "$n" -le "$THRESHOLD" ] || { echo "$n packs after push $i"; touch "$TEST_SCRATCH/pushes-done"; exit 1; }
	done &&
	touch "$TEST_SCRATCH/pushes-done" &&
	wait "$cloner" &&
	echo "at most $most live packs; clones: $(wc -l <"$TEST_SCRATCH/clones")" &&
	grep -q "^ok" "$TEST_SCRATCH/clones" &&
	! grep "^failed" "$TEST_SCRATCH/clones" &&
	grep -q "merged .* packs into one" "$GATE_DIR/stderr"
'

test_expect_success 'the repository is fsck-clean, without temporary or retired files' '
	git -C "$REPO" fsck --no-progress --no-dangling --strict &&
	for idx in "$PACKS"/*.idx; do git verify-pack "$idx"; done &&
	# The deltas pushed at push 50 are now in a merged pack, still deltas.
	test ! -e "$PACKS/$(cat "$TEST_SCRATCH/delta-pack")" &&
	for idx in "$PACKS"/*.idx; do git verify-pack -v "$idx"; done >verified &&
	grep -q "chain length" verified &&
	! ls "$PACKS" | grep -v "^pack-[0-9a-f]*\.\(pack\|idx\|rev\)$" &&
	test ! -e "$REPO/gitgate-retired" &&
	[ "$(live_packs "$REPO")" -le "$THRESHOLD" ]
'

test_expect_success 'a clone has every object and ref the repository has' '
	git clone -q --mirror "$GATE_HTTP/app.git" copy.git &&
	git -C copy.git fsck --no-progress --no-dangling &&
	test "$(git -C copy.git rev-parse main)" = "$(git -C "$TEST_SCRATCH/work" rev-parse main)" &&
	git -C "$REPO" rev-list --objects --all | sort >expected &&
	git -C copy.git rev-list --objects --all | sort >actual &&
	cmp expected actual &&
	test "$(wc -l <expected)" -gt 300
'

# A relay that passes the conversation until the pack starts, then stops
# reading until told to go on: the gate's session waits, mid-pack.
cat >"$TEST_SCRATCH/relay.py" <<'EOF'
import os, socket, sys, threading, time
listen_port, target_port, stalled, go = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind(("127.0.0.1", listen_port))
server.listen(1)
print("listening", flush=True)
client, _ = server.accept()
gate = socket.socket()
gate.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
gate.connect(("127.0.0.1", target_port))
def upwards():
    while True:
        data = client.recv(65536)
        if not data:
            gate.shutdown(socket.SHUT_WR)
            return
        gate.sendall(data)
threading.Thread(target=upwards, daemon=True).start()
seen = b""
while True:
    data = gate.recv(16384)
    if not data:
        break
    client.sendall(data)
    if seen is not None:
        window, seen = seen + data, (seen + data)[-3:]
        if b"PACK" in window:
            seen = None
            open(stalled, "w").close()
            while not os.path.exists(go):
                time.sleep(0.05)
client.shutdown(socket.SHUT_WR)
EOF

test_expect_success 'a clone held mid-pack holds no more pack files than there are packs' '
	port=$(free_port) || exit 1
	python3 "$TEST_SCRATCH/relay.py" "$port" "$GATE_GIT_PORT" "$PWD/stalled" "$PWD/go" >relay.out &
	relay=$!
	wait_for 10 "grep -q listening relay.out" || exit 1
	git clone -q "git://127.0.0.1:$port/app.git" held 2>clone.err &
	clone=$!
	wait_for 30 "test -e stalled" || { cat relay.out clone.err; ls; exit 1; }
	pid=$(cat "$GATE_DIR/pid") &&
	packs=$(live_packs "$REPO") &&
	open=$(ls -l /proc/$pid/fd | grep -c "\.pack" || true) &&
	echo "$open pack files open in the gate, $packs packs" &&
	touch go &&
	wait "$clone" && wait "$relay" &&
	git -C held fsck --no-progress --no-dangling &&
	[ "$open" -ge 1 ] && [ "$open" -le "$packs" ] && [ "$packs" -le "$THRESHOLD" ]
'

# SIGSTOP freezes the gate while a merge's temporary file is there, so the
# kill -9 lands mid-merge for sure; a merge done before the stop is retried.
test_expect_success 'kill -9 mid-merge: the repository stays usable, the next push tidies' '
	cd "$TEST_SCRATCH/work" &&
	pid=$(cat "$GATE_DIR/pid") && caught= &&
	for i in $(seq 1 60); do
		head -c 1048576 /dev/urandom >"blob$i" && git add "blob$i" &&
		git commit -q -m "blob $i" &&
		(
			for t in $(seq 1 4000); do
				if compgen -G "$PACKS/tmp_gitgate_merge_*" >/dev/null; then
					kill -STOP "$pid"
					if compgen -G "$PACKS/tmp_gitgate_merge_*" >/dev/null; then
						kill -9 "$pid"; kill -CONT "$pid"; exit 0
					fi
					kill -CONT "$pid"
				fi
			done
			exit 1
		) &
		watcher=$!
		git push -q "$GATE_HTTP/app.git" main 2>/dev/null || true
		sleep 0.2
		kill "$watcher" 2>/dev/null
		if wait "$watcher"; then caught=$i; break; fi
	done &&
	test -n "$caught" &&
	echo "killed mid-merge after push $caught" &&
	ls "$PACKS" | grep -q "^tmp_gitgate_merge_" &&
	git -C "$REPO" fsck --no-progress --no-dangling &&
	gate_start "  - name: app" &&
	echo after >>counter && git add counter && git commit -q -m "after the kill" &&
	git push -q "$GATE_HTTP/app.git" main &&
	! ls "$PACKS" | grep "^tmp_gitgate_merge_" &&
	git -C "$REPO" fsck --no-progress --no-dangling &&
	rm -rf ../again && git clone -q "$GATE_GIT/app.git" ../again &&
	test "$(git -C ../again rev-parse main)" = "$(git rev-parse main)" &&
	git -C ../again fsck --no-progress --no-dangling
'

test_expect_success 'mirror fetches are merged too' '
	gate_stop &&
	git init -q --bare -b main "$TEST_SCRATCH/upstream.git" &&
	git -C "$TEST_SCRATCH/work" branch -a &&
	git -C "$TEST_SCRATCH/work" push -q "$TEST_SCRATCH/upstream.git" main &&
	gate_start "  - name: app
  - name: mirrored
    upstream: $TEST_SCRATCH/upstream.git" "mirror_max_age: 0s" ||
		{ cat "$GATE_DIR/stderr" "$GATE_DIR/gitgate.yaml"; exit 1; }
	git clone -q "$TEST_SCRATCH/upstream.git" up && cd up &&
	git config user.name Upstream && git config user.email up@test &&
	for i in $(seq 1 30); do
		echo "$i" >>upstream-file && git add upstream-file && git commit -q -m "up $i" &&
		git push -q origin main &&
		git ls-remote "$GATE_HTTP/mirrored.git" main >seen &&
		grep -q "$(git rev-parse main)" seen &&
		n=$(live_packs "$GATE_DIR/data/mirrored.git") &&
		[ "$n" -le "$THRESHOLD" ] || { echo "$n packs after fetch $i"; exit 1; }
	done &&
	git -C "$GATE_DIR/data/mirrored.git" fsck --no-progress --no-dangling &&
	grep -q "mirrored: merged" "$GATE_DIR/stderr"
'

test_expect_success 'the gate is still running' 'gate_alive'

test_done

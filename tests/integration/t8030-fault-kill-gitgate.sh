#!/usr/bin/env bash
# kill -9 the git gate under `sidecar init` in the middle of clones and
# pushes: init starts it again and a new clone passes within a (generous)
# bound; the cut clone fails; a cut push moves no ref, and the quarantine it
# leaves in the repository is removed by the next push; the repository
# passes git fsck; every proposal the gate wrote before a kill parses whole.
#
# To kill the gate mid-transfer for sure, the client is stopped (SIGSTOP to
# its process group) once the transfer has begun: the gate then sits in a
# write (clone) or a read (push) of a 24 MiB pack, and is killed there.
. "$(dirname "$0")/lib.sh"
test_skip_unless git
test_skip_unless jq
test_skip_unless ss
test_skip_unless setsid

QUEUE=$TEST_SCRATCH/queue/dev
SOCKET=$TEST_SCRATCH/init.sock
DATA=$TEST_SCRATCH/data
HTTP_PORT=$(free_port)
GIT_PORT=$(free_port)
SECRET=faultG1t$(openssl rand -hex 16)
export DLP_FAULT_SECRET=$SECRET
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH/home GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME" "$QUEUE"

ctl() {
	"$SIDECAR" initctl --socket "$SOCKET" --timeout 30 "$@"
}

gate_pid() {
	ctl status | awk '$1 == "gitgate" && $3 != "-" { print $3 }'
}

gate_restarts() {
	ctl status | awk '$1 == "gitgate" { print $4 }'
}

# url TRANSPORT REPO: the gate's URL for REPO over http or git.
url() {
	if [ "$1" = http ]; then
		echo "http://127.0.0.1:$HTTP_PORT/$2.git"
	else
		echo "git://127.0.0.1:$GIT_PORT/$2.git"
	fi
}

git_as() {
	git -c user.name=Fault -c user.email=fault@bottle.test "$@"
}

init_stop() {
	[ -f "$TEST_SCRATCH/init.pid" ] && kill "$(cat "$TEST_SCRATCH/init.pid")" 2>/dev/null
	[ -f "$TEST_SCRATCH/background.pid" ] && kill "$(cat "$TEST_SCRATCH/background.pid")" 2>/dev/null
	return 0
}
test_at_exit init_stop

# The gate is back: a new pid, the restart counted.
gate_back() {
	local old=$1 restarts=$2
	wait_for 10 "new=\$(gate_pid) && test -n \"\$new\" && test \"\$new\" != $old" &&
	test "$(gate_restarts)" -gt "$restarts"
}

# passes_again EPOCH: a background clone begun after EPOCH passed, within 10 s.
passes_again() {
	wait_for 10 "awk -v t=$1 '\$1 > t && \$3 == \"ok\"' $TEST_SCRATCH/background | grep -q ."
}

# gate_connections: established connections on the gate's two ports.
gate_connections() {
	ss -Htn state established "( sport = :$HTTP_PORT or sport = :$GIT_PORT )" | wc -l
}

# group_of REGEX: the process group of the process whose command line
# matches REGEX (the client, started with setsid: its helpers share it).
group_of() {
	ps -eo pgid=,args= | awk -v re="$1" '{ g = $1; $1 = ""; sub(/^ /, "") } $0 ~ re { print g; exit }'
}

# incoming REPO: the quarantine directories in the gate's repository REPO.
incoming() {
	find "$DATA/$1.git/objects" -maxdepth 1 -name "incoming-*" | wc -l
}

test_expect_success 'set up init running the gate, a small and a big repository' '
	cat >"$TEST_SCRATCH/gitgate.yaml" <<-YAML &&
	listen: {http: "127.0.0.1:$HTTP_PORT", git: "127.0.0.1:$GIT_PORT"}
	data_dir: $DATA
	scan: {max_blob: 64M}
	repos:
	  - name: app
	  - name: big
	YAML
	cat >"$TEST_SCRATCH/init.yaml" <<-YAML &&
	grace_period: 2s
	control_socket: $SOCKET
	daemons:
	  - name: gitgate
	    argv: [$SIDECAR, gitgate, --config, $TEST_SCRATCH/gitgate.yaml, --secret-env, DLP_FAULT_SECRET,
	           --queue, $QUEUE, --ready-fd, "3"]
	    env_inherit: [DLP_FAULT_SECRET]
	    ready_fd: 3
	    backoff: {initial: 100ms, max: 1s}
	    give_up: {failures: 20, within: 60s}
	YAML
	{ "$SIDECAR" init --config "$TEST_SCRATCH/init.yaml" >"$TEST_SCRATCH/init.log" 2>&1 &
	  echo $! >"$TEST_SCRATCH/init.pid"; } &&
	wait_for 20 "ctl status | grep -q \"^gitgate running [0-9]* 0 ready\"" ||
		{ cat "$TEST_SCRATCH/init.log"; false; }
	for repo in app big; do
		git --git-dir="$DATA/$repo.git" symbolic-ref HEAD refs/heads/main || exit 1
	done &&
	git init -q -b main seed &&
	echo hello >seed/README &&
	git -C seed add README &&
	git_as -C seed commit -q -m seed &&
	git -C seed push -q "$(url http app)" main &&
	head -c 24M /dev/urandom >seed/blob &&
	git -C seed add blob &&
	git_as -C seed commit -q -m "24 MiB of noise" &&
	git -C seed push -q "$(url http big)" main
'

test_expect_success 'start background clones of the small repository, over both transports' '
	( n=0
	  while test ! -f "$TEST_SCRATCH/stop"; do
		n=$((n + 1))
		if [ $((n % 2)) = 0 ]; then transport=http; else transport=git; fi
		rm -rf "$TEST_SCRATCH/bg"
		began=$(date +%s.%N)
		if git clone -q "$(url $transport app)" "$TEST_SCRATCH/bg" 2>/dev/null; then
			echo "$began $transport ok"
		else
			echo "$began $transport fail"
		fi
		sleep 0.1
	  done >"$TEST_SCRATCH/background" 2>&1 ) &
	echo $! >"$TEST_SCRATCH/background.pid" &&
	wait_for 10 "grep -q \" http ok\" $TEST_SCRATCH/background" &&
	wait_for 10 "grep -q \" git ok\" $TEST_SCRATCH/background"
'

# cut_clone TRANSPORT: a clone of the big repository, stopped once its pack
# is arriving; the gate is killed under it, then the clone resumes and must
# fail; the gate must be back and a new clone pass.
cut_clone() {
	local old restarts killed_at pgid
	old=$(gate_pid) && restarts=$(gate_restarts) &&
	rm -rf cut clone.status || return 1
	# (set -e holds in the test body: the status is taken by if.)
	{ if setsid git clone -q "$(url "$1" big)" cut >clone.out 2>&1; then echo 0; else echo 1; fi \
		>clone.status; } &
	wait_for 20 "ls cut/.git/objects/pack/ 2>/dev/null | grep -q ^tmp_pack" &&
	pgid=$(group_of "git clone -q .*big.git cut$") &&
	test -n "$pgid" &&
	kill -STOP -- "-$pgid" &&
	test "$(gate_connections)" -ge 1 &&
	killed_at=$(date +%s.%N) &&
	kill -9 "$old" &&
	kill -CONT -- "-$pgid" &&
	{ wait_for 30 "test -s clone.status" || { ps -o pid,stat,args -g "$pgid"; cat clone.out; false; }; } &&
	test "$(cat clone.status)" != 0 &&
	gate_back "$old" "$restarts" &&
	passes_again "$killed_at" &&
	rm -rf again &&
	git clone -q "$(url "$1" big)" again &&
	git -C again fsck --no-dangling &&
	cmp again/blob "$TEST_SCRATCH/1/seed/blob"
}

test_expect_success 'kill -9 the gate mid-clone over smart-HTTP: the clone fails, the next passes' '
	cut_clone http
'

test_expect_success 'kill -9 the gate mid-clone over git://: the clone fails, the next passes' '
	cut_clone git
'

# cut_push TRANSPORT BRANCH: a push of 24 MiB more to BRANCH of the big
# repository, stopped once the gate is writing its quarantine; the gate is
# killed there, the push resumes and must fail.  The quarantine stays
# behind; the next push (of a small commit) removes it, and no ref moved.
cut_push() {
	local old restarts pgid before
	old=$(gate_pid) && restarts=$(gate_restarts) &&
	rm -rf work && git clone -q "$(url "$1" big)" work &&
	before=$(git --git-dir="$DATA/big.git" for-each-ref) &&
	head -c 24M /dev/urandom >work/more &&
	git -C work add more &&
	git_as -C work commit -q -m "24 MiB more" &&
	rm -f push.status || return 1
	{ if setsid git -C work push -q origin "HEAD:refs/heads/$2" >push.out 2>&1; then echo 0; else echo 1; fi \
		>push.status; } &
	wait_for 20 "test \$(incoming big) -ge 1" &&
	pgid=$(group_of "git -C work push -q origin HEAD:refs/heads/$2$") &&
	test -n "$pgid" &&
	kill -STOP -- "-$pgid" &&
	kill -9 "$old" &&
	kill -CONT -- "-$pgid" &&
	wait_for 30 "test -s push.status" &&
	test "$(cat push.status)" != 0 &&
	gate_back "$old" "$restarts" &&
	echo "left behind: $(incoming big)" &&
	test "$(incoming big)" -ge 1 &&
	test "$(git --git-dir="$DATA/big.git" for-each-ref)" = "$before" &&
	git -C work reset -q --hard HEAD^ &&
	echo "after the cut" >work/note &&
	git -C work add note &&
	git_as -C work commit -q -m "a small one" &&
	git -C work push -q origin "HEAD:refs/heads/$2" &&
	test "$(incoming big)" = 0 &&
	git --git-dir="$DATA/big.git" fsck --no-dangling &&
	test "$(git --git-dir="$DATA/big.git" rev-parse "refs/heads/$2")" = "$(git -C work rev-parse HEAD)"
}

test_expect_success 'kill -9 the gate mid-push over smart-HTTP: no ref moved, the quarantine goes with the next push' '
	cut_push http cut-http &&
	grep -q "left by an interrupted push" "$TEST_SCRATCH/init.log"
'

test_expect_success 'kill -9 the gate mid-push over git://: the same' '
	cut_push git cut-git
'

test_expect_success 'kill -9 the gate while pushes carrying a secret make proposals' '
	rm -rf leak && git clone -q "$(url http app)" leak &&
	( set +e
	  i=0
	  while test ! -f leak.stop; do
		i=$((i + 1))
		echo "token = $SECRET $i" >leak/config.txt
		git -C leak add config.txt
		git_as -C leak commit -q -m "leak $i"
		git -C leak push origin "HEAD:refs/heads/leak-$i" >>leak.out 2>&1
	  done
	  true ) &
	pusher=$! &&
	for round in 1 2 3; do
		count=$(ls "$QUEUE/pending" 2>/dev/null | grep -c "\.json$")
		wait_for 20 "test \$(ls $QUEUE/pending | grep -c \"\\.json\$\") -gt $count" &&
		old=$(gate_pid) && restarts=$(gate_restarts) &&
		kill -9 "$old" &&
		gate_back "$old" "$restarts" || { ctl status; tail -n 20 "$TEST_SCRATCH/init.log"; exit 1; }
	done &&
	touch leak.stop && wait "$pusher" &&
	grep -q "secret found" leak.out &&
	! git --git-dir="$DATA/app.git" for-each-ref | grep -q "refs/heads/leak-"
'

test_expect_success 'every proposal in the queue parses whole; the secret is nowhere in it' '
	find "$QUEUE" -type f >files &&
	cat files &&
	test "$(grep -c "/pending/[^/]*\.json$" files)" -ge 3 &&
	while read -r f; do
		case "$f" in
		*/.*) echo "a file being written: $f (not a proposal: readers skip it)" ;;
		*.json) jq -e ".kind == \"gitleaks-allow\" or (.decision != null)" "$f" >/dev/null ||
			{ echo "half-written: $f"; cat "$f"; exit 1; } ;;
		esac
	done <files &&
	! grep -rqF "$SECRET" "$QUEUE"
'

test_expect_success 'kill -9 three more times under clone traffic: back each time' '
	for i in 1 2 3; do
		old=$(gate_pid) && restarts=$(gate_restarts) && killed_at=$(date +%s.%N) &&
		kill -9 "$old" &&
		gate_back "$old" "$restarts" &&
		passes_again "$killed_at" || exit 1
	done
'

test_expect_success 'the gate is ready, clones flow, the repositories pass fsck, no quarantine is left' '
	touch "$TEST_SCRATCH/stop" &&
	ctl status | grep "^gitgate running [0-9]* [0-9]* ready" &&
	tail -n 3 "$TEST_SCRATCH/background" | grep -q " ok" &&
	for repo in app big; do
		git --git-dir="$DATA/$repo.git" fsck --no-dangling &&
		test "$(incoming $repo)" = 0 || exit 1
	done
'

test_done

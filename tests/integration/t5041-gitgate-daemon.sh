#!/usr/bin/env bash
# git:// on the gate: the request line checked strictly, every refusal an
# ERR packet git shows as "remote error", the connection cap and the
# request-line timeout.
. "$(dirname "$0")/gitgate-serve-lib.sh"

test_expect_success 'start' 'gate_start "  - name: app" "" --io-timeout 2s'

test_expect_success 'an unknown repository: git shows the ERR reason' '
	! git ls-remote "$GATE_GIT/nope.git" >out 2>err &&
	grep -q "fatal: remote error: repository .nope. not found" err &&
	! git -c protocol.version=2 ls-remote "$GATE_GIT/nope" >out 2>err &&
	grep -q "fatal: remote error: repository .nope. not found" err
'

test_expect_success 'a path that is no repository name is refused' '
	! git ls-remote "$GATE_GIT/a/../app.git" >out 2>err &&
	grep -q "remote error: not a repository name" err &&
	! git ls-remote "$GATE_GIT/~root/app.git" >out 2>err &&
	grep -q "remote error: the repository path must be /<name>.git" err
'

test_expect_success 'malformed request lines get an ERR packet naming the fault' '
	pkt "git-upload-archive /app.git\0host=x\0" | gate_raw_git >raw &&
	grep -aq "ERR unknown service" raw &&
	pkt "git-upload-pack /app.git\0hots=x\0" | gate_raw_git >raw &&
	grep -aq "ERR malformed request: expected host=<name>\[:port\]" raw &&
	pkt "git-upload-pack /app.git\0host=a b\0" | gate_raw_git >raw &&
	grep -aq "ERR malformed request: the host parameter" raw &&
	pkt "git-upload-pack /app.git\0host=x\0\0version=2" | gate_raw_git >raw &&
	grep -aq "ERR malformed request: an extra parameter" raw &&
	pkt "git-upload-pack /app.git\0host=x\0\0version=7\0" | gate_raw_git >raw &&
	grep -aq "ERR unsupported protocol version=7" raw &&
	printf "zzzzgit-upload-pack /app.git" | gate_raw_git >raw &&
	grep -aq "ERR malformed request: expected one pkt-line" raw &&
	printf "0000" | gate_raw_git >raw &&
	grep -aq "ERR malformed request" raw &&
	{ pkt "git-upload-pack /app.git\0host=x\0"; printf "0000"; } | gate_raw_git >raw &&
	grep -aq "ERR malformed request: bytes after the request line" raw
'

test_expect_success 'a connection that says nothing is closed at the io timeout' '
	sleep 4 | gate_raw_git >raw &&
	grep -aq "ERR timed out waiting for the request" raw
'

test_expect_success 'a request line cut short is closed too' '
	{ printf "0040git-upload"; sleep 4; } | gate_raw_git >raw &&
	grep -aq "ERR" raw
'

test_expect_success 'over the connection cap: an ERR packet with the reason' '
	gate_stop &&
	gate_start "  - name: app" "" --max-connections 1 &&
	exec 6<>/dev/tcp/127.0.0.1/$GATE_GIT_PORT &&
	wait_for 5 "ss -Htn state established \"( sport = :$GATE_GIT_PORT )\" | grep -q ." &&
	! git ls-remote "$GATE_GIT/app.git" >out 2>err &&
	exec 6>&- &&
	grep -q "remote error: gitgate: too many connections at once" err
'

test_expect_success 'gate_alive' 'gate_alive'

test_done

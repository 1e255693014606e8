#!/usr/bin/env bash
# sidecar gitgate: start-up, its config, and smart-HTTP's edges with curl
# and the real git client: unknown repositories, traversal, dumb HTTP,
# methods, content types, limits, malformed and slow requests, the
# connection cap, keep-alive and stopping.
. "$(dirname "$0")/gitgate-serve-lib.sh"

test_expect_success 'the applet is listed and has its usage as --help' '
	"$SIDECAR" --help >out &&
	grep -q "^  gitgate " out &&
	"$SIDECAR" gitgate --help >usage &&
	grep -q "^usage: sidecar gitgate" usage &&
	grep -q -- "--stdio SERVICE REPO" usage
'

test_expect_success 'a bad config stops it with file:line:col and exit 3' '
	printf "repos:\n  - name: app\n    branch: main\n" >bad.yaml &&
	{ "$SIDECAR" gitgate --config bad.yaml --no-dlp 2>err; status=$?; } &&
	test "$status" = 3 &&
	grep -q "bad.yaml:3:5: repos\[0\]: unknown key .branch." err &&
	{ "$SIDECAR" gitgate --config /nonexistent.yaml 2>err; status=$?; } &&
	test "$status" = 3 &&
	{ "$SIDECAR" gitgate --bogus 2>err; status=$?; } &&
	test "$status" = 2
'

test_expect_success 'it starts, creating the repositories without upstream' '
	gate_start "  - name: app
  - name: lib.core
  - name: mirrored
    upstream: $TEST_SCRATCH/no-such-upstream.git" &&
	git --git-dir="$GATE_DIR/data/app.git" rev-parse --is-bare-repository >bare &&
	grep -qx true bare &&
	test -d "$GATE_DIR/data/lib.core.git/objects" &&
	grep -q "listening: http 127.0.0.1:$GATE_HTTP_PORT, git 127.0.0.1:$GATE_GIT_PORT; 3 repositories" \
		"$GATE_DIR/stderr" &&
	grep -q "mirrored: no mirror of the upstream yet" "$GATE_DIR/stderr"
'

test_expect_success 'a repository whose mirror failed is refused with the reason' '
	! git ls-remote "$GATE_HTTP/mirrored.git" >out 2>err &&
	grep -q "remote: mirrored: no mirror of the upstream to serve" err &&
	curl -s -o body -w "%{http_code}" \
		"$GATE_HTTP/mirrored.git/info/refs?service=git-upload-pack" >code &&
	grep -qx 503 code
'

test_expect_success 'an unknown repository is a 404 git shows with its reason' '
	! git ls-remote "$GATE_HTTP/nope.git" >out 2>err &&
	grep -q "remote: repository .nope. not found" err &&
	grep -q "fatal: repository .*nope.git/. not found" err
'

test_expect_success 'traversal in any spelling is refused, never served' '
	for path in "/../etc/passwd" "/%2e%2e/info/refs" "/%2E%2E/app.git/info/refs" \
		"/app.git/../lib.core.git/info/refs" "//etc/passwd" "/app.git/%2e%2e/x" \
		"/app.git%2f..%2finfo/refs"; do
		curl -s --path-as-is -o body -w "%{http_code}" \
			"$GATE_HTTP$path?service=git-upload-pack" >code &&
		grep -qx 400 code || { echo "$path: $(cat code)"; return 1; }
		grep -q "malformed path" body || return 1
	done &&
	for path in "/etc/passwd" "/.git/info/refs" "/-x/info/refs" "/app.git.git/info/refs" \
		"/app.git"; do
		curl -s --path-as-is -o body -w "%{http_code}" \
			"$GATE_HTTP$path?service=git-upload-pack" >code &&
		grep -qx 404 code || { echo "$path: $(cat code)"; return 1; }
	done &&
	printf "GET http://127.0.0.1/app.git/info/refs?service=git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" |
		gate_raw_http >raw &&
	head -n 1 raw | grep -q "^HTTP/1.1 400 " &&
	grep -q "origin-form" raw
'

test_expect_success 'dumb HTTP gets a 404 that says why' '
	curl -s -o body -w "%{http_code}" "$GATE_HTTP/app.git/info/refs" >code &&
	grep -qx 404 code &&
	grep -q "smart HTTP protocol only" body &&
	curl -s -o body -w "%{http_code}" "$GATE_HTTP/app.git/HEAD" >code &&
	grep -qx 404 code &&
	curl -s -o body -w "%{http_code}" "$GATE_HTTP/app.git/objects/info/packs" >code &&
	grep -qx 404 code
'

test_expect_success 'an unknown service is a 400' '
	curl -s -o body -w "%{http_code}" \
		"$GATE_HTTP/app.git/info/refs?service=git-upload-archive" >code &&
	grep -qx 400 code &&
	grep -q "unsupported service" body
'

test_expect_success 'methods are checked: 405 with Allow' '
	curl -s -D head -o body -X POST -d x \
		"$GATE_HTTP/app.git/info/refs?service=git-upload-pack" &&
	head -n 1 head | grep -q " 405 " &&
	grep -qi "^Allow: GET" head &&
	curl -s -D head -o body "$GATE_HTTP/app.git/git-upload-pack" &&
	head -n 1 head | grep -q " 405 " &&
	grep -qi "^Allow: POST" head
'

test_expect_success 'a POST needs the service content type and a known encoding' '
	curl -s -o body -w "%{http_code}" -H "Content-Type: text/plain" --data-binary 0000 \
		"$GATE_HTTP/app.git/git-upload-pack" >code &&
	grep -qx 415 code &&
	grep -q "application/x-git-upload-pack-request" body &&
	curl -s -o body -w "%{http_code}" -H "Content-Type: application/x-git-upload-pack-request" \
		-H "Content-Encoding: br" --data-binary 0000 "$GATE_HTTP/app.git/git-upload-pack" >code &&
	grep -qx 415 code &&
	curl -s -o body -w "%{http_code}" -H "Content-Type: application/x-git-upload-pack-request" \
		--data-binary 0000 "$GATE_HTTP/app.git/git-receive-pack" >code &&
	grep -qx 415 code
'

test_expect_success 'a body announced over request_max is refused before it is read' '
	printf "POST /app.git/git-receive-pack HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Length: 99999999999\r\n\r\n" |
		gate_raw_http >raw &&
	head -n 1 raw | grep -q "^HTTP/1.1 413 " &&
	grep -q "over the gate.s 536870912-byte limit" raw
'

test_expect_success 'malformed requests get the parser'"'"'s status and reason' '
	printf "GET /app.git/info/refs HTTP/1.1\nHost: x\n\n" | gate_raw_http >raw &&
	head -n 1 raw | grep -q "^HTTP/1.1 403 " &&
	grep -q "bare LF" raw &&
	printf "GET /app.git/info/refs HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n" |
		gate_raw_http >raw &&
	head -n 1 raw | grep -q "^HTTP/1.1 403 " &&
	grep -q "both Content-Length and Transfer-Encoding" raw &&
	{ printf "GET /app.git/info/refs HTTP/1.1\r\nHost: x\r\nX-Big: "; head -c 40000 /dev/zero | tr "\0" a; printf "\r\n\r\n"; } |
		gate_raw_http >raw &&
	head -n 1 raw | grep -q "^HTTP/1.1 431 "
'

test_expect_success 'a connection carries several requests (keep-alive)' '
	curl -sv -o /dev/null -o /dev/null "$GATE_HTTP/nope.git/info/refs?service=git-upload-pack" \
		"$GATE_HTTP/app.git/HEAD" 2>verbose &&
	grep -q "Re-using existing connection" verbose
'

test_expect_success 'gate_alive' 'gate_alive'

test_expect_success 'a slow request head is cut off after the io timeout (slowloris)' '
	gate_stop &&
	gate_start "  - name: app" "" --io-timeout 1s &&
	{ printf "GET /app.git/info/refs HTTP/1.1\r\nHost: x\r\n"; sleep 3; } | gate_raw_http >raw &&
	head -n 1 raw | grep -q "^HTTP/1.1 408 "
'

test_expect_success 'over the connection cap: a 503 with a reason' '
	gate_stop &&
	gate_start "  - name: app" "" --max-connections 1 &&
	exec 6<>/dev/tcp/127.0.0.1/$GATE_HTTP_PORT &&
	wait_for 5 "ss -Htn state established \"( sport = :$GATE_HTTP_PORT )\" | grep -q ." &&
	curl -s -o body -w "%{http_code}" "$GATE_HTTP/app.git/HEAD" >code &&
	exec 6>&- &&
	grep -qx 503 code &&
	grep -q "too many connections" body
'

test_expect_success 'SIGTERM stops it, saying so' '
	pid=$(cat "$GATE_DIR/pid") &&
	kill -TERM "$pid" &&
	wait_for 10 "! kill -0 $pid 2>/dev/null" &&
	grep -q "stopping on SIGTERM" "$GATE_DIR/stderr"
'

test_done

#!/usr/bin/env bash
# Smart-HTTP keeps the connection after a POST whose body the service read
# to its last byte without asking for more: git's push sends such a request
# first ("0000", to probe for authentication before a body over
# http.postBuffer), then the push itself on the same connection.  When the
# gate closed it after a head that promised keep-alive, curl sometimes sent
# the push onto the dead connection: "RPC failed; curl 55 Send failure".
. "$(dirname "$0")/gitgate-serve-lib.sh"

test_expect_success 'start' '
	gate_start "  - name: app" &&
	gate_seed app
'

test_expect_success 'the connection carries the request after the push probe' '
	curl -sv -o probe.out -X POST --data-binary 0000 \
		-H "Content-Type: application/x-git-receive-pack-request" \
		-H "Accept: application/x-git-receive-pack-result" \
		"$GATE_HTTP/app.git/git-receive-pack" \
		--next -s -o refs.out "$GATE_HTTP/app.git/info/refs?service=git-receive-pack" \
		2>verbose &&
	grep -q "Re-using existing connection" verbose &&
	! grep -q "seems to be dead" verbose &&
	grep -q "service=git-receive-pack" refs.out
'

test_expect_success 'a push over http.postBuffer goes through (probe, then a chunked body)' '
	git clone -q "$GATE_DIR/data/app.git" work &&
	git -C work remote set-url origin "$GATE_HTTP/app.git" &&
	head -c 300000 /dev/urandom | base64 >work/big &&
	git -C work add big &&
	git -C work -c user.name=T -c user.email=t@test commit -q -m big &&
	git -C work -c http.postBuffer=65536 push -q origin HEAD:refs/heads/big &&
	test "$(git -C "$GATE_DIR/data/app.git" rev-parse big)" = "$(git -C work rev-parse HEAD)"
'

test_expect_success 'gate_alive' 'gate_alive'

test_done

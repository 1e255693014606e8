#!/usr/bin/env bash
# Whole transfers through the applet's transports with the real git client:
# pushes (chunked bodies, 100-continue) and clones over smart-HTTP and
# git://, protocol v0, v1 and v2, and a gzip'd request from curl.  The
# services land on their own branches: a test whose service is still a
# placeholder says so and skips itself.
. "$(dirname "$0")/gitgate-serve-lib.sh"

WORK=$TEST_SCRATCH/work

# skip_unless_built SERVICE: skip (pass) this test while SERVICE is a placeholder.
skip_unless_built() {
	if grep -q "$1 is not built yet" "$GATE_DIR/stderr"; then
		echo "# skip: $1 is not built yet"
		return 1
	fi
}

test_expect_success 'start' '
	gate_start "  - name: app
  - name: guarded
    protected: [refs/heads/main]" &&
	git init -q -b main "$WORK" &&
	git -C "$WORK" -c user.name=A -c user.email=a@test commit -q --allow-empty -m one
'

for transport in http git; do
	for version in 0 1; do
		test_expect_success "push a new branch over $transport, protocol v$version" '
			url=$([ '$transport' = http ] && echo "$GATE_HTTP" || echo "$GATE_GIT") &&
			git -C "$WORK" -c user.name=A -c user.email=a@test commit -q --allow-empty \
				-m "'$transport' v'$version'" &&
			git -C "$WORK" -c protocol.version='$version' push "$url/app.git" \
				HEAD:refs/heads/'$transport'-v'$version' >out 2>err ||
			{ skip_unless_built receive-pack || exit 0; cat err; false; } &&
			test "$(git --git-dir="$GATE_DIR/data/app.git" rev-parse '$transport'-v'$version')" = \
				"$(git -C "$WORK" rev-parse HEAD)"
		'
	done
done

test_expect_success 'a push of several MB goes as a chunked body' '
	head -c 3000000 /dev/urandom >"$WORK/big.bin" &&
	git -C "$WORK" add big.bin &&
	git -C "$WORK" -c user.name=A -c user.email=a@test commit -q -m big &&
	GIT_TRACE_CURL="$TEST_DIR/trace" git -C "$WORK" -c http.postBuffer=65536 \
		push "$GATE_HTTP/app" HEAD:refs/heads/big >out 2>err ||
	{ skip_unless_built receive-pack || exit 0; cat err; tail -20 "$GATE_DIR/stderr"; false; } &&
	grep -qi "Transfer-Encoding: chunked" "$TEST_DIR/trace" &&
	test "$(git --git-dir="$GATE_DIR/data/app.git" rev-parse big)" = \
		"$(git -C "$WORK" rev-parse HEAD)"
'

test_expect_success 'a push to a protected ref is refused with the reason' '
	! git -C "$WORK" push "$GATE_HTTP/guarded.git" HEAD:refs/heads/main >out 2>err &&
	{ skip_unless_built receive-pack || exit 0; } &&
	grep -q "\[remote rejected\] HEAD -> main (protected" err
'

for transport in http git; do
	for version in 0 1 2; do
		test_expect_success "clone over $transport, protocol v$version" '
			url=$([ '$transport' = http ] && echo "$GATE_HTTP" || echo "$GATE_GIT") &&
			gate_seed app-seed 2>/dev/null || true &&
			git -c protocol.version='$version' clone -q "$url/app.git" clone >out 2>err ||
			{ skip_unless_built upload-pack || exit 0; cat err; false; } &&
			test -n "$(git -C clone for-each-ref refs/remotes/origin)"
		'
	done
done

test_expect_success 'a gzip'"'"'d, chunked v2 ls-refs request from curl' '
	{ printf "0014command=ls-refs\n0001"; printf "0000"; } | gzip >req.gz &&
	curl -s -o body -w "%{http_code}" -H "Git-Protocol: version=2" \
		-H "Content-Type: application/x-git-upload-pack-request" \
		-H "Content-Encoding: gzip" -H "Transfer-Encoding: chunked" \
		--data-binary @req.gz "$GATE_HTTP/app.git/git-upload-pack" >code &&
	if grep -qx 500 code; then skip_unless_built upload-pack || exit 0; fi &&
	grep -qx 200 code &&
	grep -aq "refs/heads/" body
'

test_expect_success 'a gzip body that inflates past request_max is cut off' '
	gate_stop &&
	gate_start "  - name: app" "request_max: 64K" &&
	{ printf "0014command=ls-refs\n0001"; head -c 1000000 /dev/zero; } | gzip >bomb.gz &&
	test $(wc -c <bomb.gz) -lt 65536 &&
	curl -s -o body -w "%{http_code}" -H "Git-Protocol: version=2" \
		-H "Content-Type: application/x-git-upload-pack-request" \
		-H "Content-Encoding: gzip" --data-binary @bomb.gz \
		"$GATE_HTTP/app.git/git-upload-pack" >code || true &&
	if grep -q "upload-pack is not built yet" body; then exit 0; fi &&
	! grep -aq "refs/heads/" body
'

test_expect_success 'gate_alive' 'gate_alive'

test_done

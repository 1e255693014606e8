#!/usr/bin/env bash
# bottle-host supervise by flags, as a script drives it: proposals written
# into per-bottle queue directories the way the bundle writes them (JSON
# files renamed into pending/), answered with approve / edit / reject, the
# response files and the audit log checked with jq, and every refusal
# (missing reason, looser bounds, withdrawn proposal, path in an id, a
# proposal naming another bottle, a broken file, an edited log) seen.
. "$(dirname "$0")/lib.sh"
test_skip_unless jq

HOST=$BUILD/bottle-host
ROOT=$TEST_SCRATCH/queue
HASH=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08

sv() { "$HOST" supervise --queue-root "$ROOT" "$@"; }
# test_expect_code STATUS COMMAND...: COMMAND exits with exactly STATUS.
test_expect_code() {
	local want=$1 status=0
	shift
	"$@" || status=$?
	[ "$status" -eq "$want" ]
}

# propose BOTTLE ID KIND CREATED [extra jq args]: one proposal file, written
# to a temporary name and renamed into place as the queue code does.
propose() {
	local bottle=$1 id=$2 kind=$3 created=$4 dir=$ROOT/$1
	mkdir -p "$dir/pending" "$dir/responses" "$dir/processed"
	case $kind in
	egress-allow | egress-block)
		jq -n --arg id "$id" --arg kind "$kind" --arg created "$created" --arg bottle "$bottle" \
			'{id: $id, kind: $kind, created: $created, bottle: $bottle,
			  justification: "need the package index",
			  routes_yaml: "routes:\n  - host: api.anthropic.com\n    ports: [443]\n  - host: pypi.org\n",
			  bounds: {expires_in: 3600, max_requests: 100}}' ;;
	egress-token-allow)
		jq -n --arg id "$id" --arg created "$created" --arg bottle "$bottle" --arg hash "$HASH" \
			'{id: $id, kind: "egress-token-allow", created: $created, bottle: $bottle,
			  justification: "a test fixture, not a key", host: "api.example.com",
			  method: "POST", path: "/v1/upload", detector: "aws-access-key",
			  rule: "aws-access-key-id", preview: "key=AKIA************", value_hash: $hash}' ;;
	esac >"$dir/pending/.$id.tmp"
	mv "$dir/pending/.$id.tmp" "$dir/pending/$id.json"
}

live_routes() {
	printf 'routes:\n  - host: api.anthropic.com\n    ports: [443]\n' >"$ROOT/$1/routes.yaml"
}

test_expect_success 'an empty or missing queue root has nothing pending' '
	sv list >out &&
	grep -qx "no pending proposals" out
'

test_expect_success 'list shows every bottle, oldest first, and skips broken files' '
	propose web 20261129T100000Z-000000a1 egress-allow 2026-11-29T10:00:00Z &&
	propose api 20261129T090000Z-000000b1 egress-token-allow 2026-11-29T09:00:00Z &&
	printf "{\"kind\":" >"$ROOT/web/pending/20261129T080000Z-0000dead.json" &&
	propose web 20261129T070000Z-0000beef egress-allow 2026-11-29T07:00:00Z &&
	jq ".bottle = \"api\"" "$ROOT/web/pending/20261129T070000Z-0000beef.json" >x &&
	mv x "$ROOT/web/pending/20261129T070000Z-0000beef.json" &&
	sv list >out 2>err &&
	cat out err &&
	sed -n 2p out | grep -q "^20261129T090000Z-000000b1 *api *egress-token-allow" &&
	sed -n 3p out | grep -q "^20261129T100000Z-000000a1 *web *egress-allow .*need the package index" &&
	[ "$(wc -l <out)" -eq 3 ] &&
	grep -q "skipped .*/web/pending/20261129T080000Z-0000dead.json: not JSON" err &&
	grep -q "skipped .*20261129T070000Z-0000beef.json: it names bottle .api." err &&
	rm "$ROOT/web/pending/20261129T080000Z-0000dead.json" \
		"$ROOT/web/pending/20261129T070000Z-0000beef.json"
'

test_expect_success 'show diffs the proposed routes against the live file, uncoloured in a pipe' '
	live_routes web &&
	sv show 20261129T100000Z-000000a1 >out &&
	cat out &&
	grep -q "egress-allow from bottle web" out &&
	grep -q "asks bounds  expires in 1h, 100 requests" out &&
	grep -qx -- "--- $ROOT/web/routes.yaml" out &&
	grep -qx -- "@@ -1,3 +1,4 @@" out &&
	grep -qx -- "+  - host: pypi.org" out &&
	grep -qx -- "   - host: api.anthropic.com" out &&
	! grep -q "$(printf "\033")" out
'

test_expect_success 'show of a held token gives its context and never more than a hash prefix' '
	sv show 20261129T090000Z-000000b1 >out &&
	cat out &&
	grep -q "host *api.example.com" out &&
	grep -q "detector *aws-access-key" out &&
	grep -q "context *key=AKIA\*\*\*\*" out &&
	grep -q "value sha256 9f86d081884c7d65\.\.\.$" out &&
	! grep -q "$HASH" out
'

test_expect_success 'a token is not allowed without a reason, and bounds only tighten' '
	test_expect_code 2 sv approve 20261129T090000Z-000000b1 2>err &&
	grep -q "egress-token-allow needs a note giving the reason" err &&
	test_expect_code 2 sv approve 20261129T100000Z-000000a1 --expires-in 2h 2>err &&
	grep -q "expires_in may only tighten the proposed 3600" err &&
	test_expect_code 2 sv approve 20261129T100000Z-000000a1 --max-requests 0 2>err &&
	test_expect_code 2 sv reject 20261129T100000Z-000000a1 2>err &&
	grep -q "a rejection needs a note" err &&
	[ -z "$(find "$ROOT/web/responses" "$ROOT/api/responses" -type f)" ] &&
	[ ! -e "$ROOT/audit.log" ]
'

test_expect_success 'approve by flags writes the response and one audit line' '
	sv approve 20261129T100000Z-000000a1 --expires-in 30m --note "for the build" >out &&
	grep -qx "approved 20261129T100000Z-000000a1 (egress-allow from bottle web)" out &&
	r=$ROOT/web/responses/20261129T100000Z-000000a1.json &&
	[ "$(jq -r .verdict "$r")" = approved ] &&
	[ "$(jq -r .bounds.expires_in "$r")" = 1800 ] &&
	[ "$(jq -r .bounds.max_requests "$r")" = 100 ] &&
	[ "$(jq -r .note "$r")" = "for the build" ] &&
	[ "$(jq -r .who "$r")" = "$(id -un)" ] &&
	[ "$(wc -l <"$ROOT/audit.log")" -eq 1 ] &&
	[ "$(jq -r .tool "$ROOT/audit.log")" = egress-allow ] &&
	[ "$(jq -r .content_sha256 "$ROOT/audit.log")" = \
	  "$(jq -j .routes_yaml "$ROOT/web/pending/20261129T100000Z-000000a1.json" | sha256sum | cut -d" " -f1)" ] &&
	sv list >out && ! grep -q 000000a1 out &&
	test_expect_code 1 sv approve 20261129T100000Z-000000a1 2>err &&
	grep -q "is already answered" err
'

test_expect_success 'reject with a note; the token gets its reason' '
	sv approve 20261129T090000Z-000000b1 --note "fixture key, revoked" >out &&
	propose web 20261129T110000Z-000000a2 egress-block 2026-11-29T11:00:00Z &&
	sv reject 20261129T110000Z-000000a2 --note "keep pypi" >out &&
	grep -qx "rejected 20261129T110000Z-000000a2 (egress-block from bottle web)" out &&
	[ "$(jq -r .verdict "$ROOT/web/responses/20261129T110000Z-000000a2.json")" = rejected ] &&
	sv verify-log >out &&
	grep -qx "$ROOT/audit.log: 3 entries, chain intact" out
'

test_expect_success 'edit approves the operator'"'"'s file as modified, after checking it' '
	propose web 20261129T120000Z-000000a3 egress-allow 2026-11-29T12:00:00Z &&
	printf "#!/bin/sh\nsed -i s/pypi.org/files.pythonhosted.org/ \"\$1\"\n" >editor &&
	chmod +x editor &&
	EDITOR="$PWD/editor" sv edit 20261129T120000Z-000000a3 >out &&
	cat out &&
	grep -qx -- "-  - host: pypi.org" out &&
	grep -qx -- "+  - host: files.pythonhosted.org" out &&
	r=$ROOT/web/responses/20261129T120000Z-000000a3.json &&
	[ "$(jq -r .verdict "$r")" = modified ] &&
	jq -r .routes_yaml "$r" | grep -qx "  - host: files.pythonhosted.org"
'

test_expect_success 'an edit that breaks the routes file decides nothing' '
	propose web 20261129T130000Z-000000a4 egress-allow 2026-11-29T13:00:00Z &&
	printf "#!/bin/sh\nprintf \"routes:\\\\n  - hots: x\\\\n\" >\"\$1\"\n" >editor &&
	chmod +x editor &&
	! EDITOR="$PWD/editor" sv edit 20261129T130000Z-000000a4 >out 2>err &&
	cat err &&
	grep -q "edited routes.yaml:2:" err &&
	[ ! -e "$ROOT/web/responses/20261129T130000Z-000000a4.json" ] &&
	printf "#!/bin/sh\nexit 1\n" >editor &&
	! EDITOR="$PWD/editor" sv edit 20261129T130000Z-000000a4 2>err &&
	grep -q "the editor failed; nothing decided" err &&
	[ ! -e "$ROOT/web/responses/20261129T130000Z-000000a4.json" ]
'

test_expect_success 'a withdrawn proposal is reported as withdrawn' '
	propose web 20261129T140000Z-000000a5 egress-allow 2026-11-29T14:00:00Z &&
	mv "$ROOT/web/pending/20261129T140000Z-000000a5.json" \
		"$ROOT/web/processed/20261129T140000Z-000000a5.withdrawn.json" &&
	! sv approve 20261129T140000Z-000000a5 2>err &&
	grep -q "was withdrawn: its caller stopped waiting" err &&
	sv show 20261129T140000Z-000000a5 >out &&
	grep -q "(withdrawn)" out
'

test_expect_success 'ids with a path in them are refused before any file is touched' '
	for id in ../web/pending/x "a/b" ".." "x.json" ../../etc/passwd; do
		status=0
		sv approve "$id" --note x 2>err || status=$?
		[ "$status" -eq 2 ] && grep -q "not a proposal id" err || exit 1
		status=0
		sv show "$id" 2>err || status=$?
		[ "$status" -eq 2 ] && grep -q "not a proposal id" err || exit 1
	done
'

test_expect_success 'verify-log finds an edited, a cut and a shortened log' '
	cp "$ROOT/audit.log" good.log && cp "$ROOT/audit.log.head" good.log.head &&
	sv verify-log good.log &&
	sed -i "2s/fixture key/fixture KEY/" good.log &&
	! sv verify-log good.log 2>err && grep -q "good.log:3: its prev is not the hash" err &&
	cp "$ROOT/audit.log" good.log && head -n 2 "$ROOT/audit.log" >good.log &&
	! sv verify-log good.log 2>err && grep -q "the head records 4 entries" err &&
	cp "$ROOT/audit.log" good.log && truncate -s -5 good.log &&
	! sv verify-log good.log 2>err && grep -q "cut short" err &&
	! sv verify-log missing.log 2>err && grep -q "missing.log" err
'

test_expect_success 'the waiter archives; list and show follow' '
	mv "$ROOT/web/pending/20261129T120000Z-000000a3.json" "$ROOT/web/processed/" &&
	mv "$ROOT/web/responses/20261129T120000Z-000000a3.json" \
		"$ROOT/web/processed/20261129T120000Z-000000a3.response.json" &&
	sv show 20261129T120000Z-000000a3 >out && grep -q "(processed)" out &&
	! sv approve 20261129T120000Z-000000a3 2>err && grep -q "already processed" err
'

test_done

#!/usr/bin/env bash
# DLP in egress under `supervise`, the default: a request carrying a
# secret is held while an egress-token-allow proposal (preview and
# value_hash, never the value) waits in the bottle's supervise queue; the
# operator answers with `bottle-host supervise`.  Approved: the request goes
# out and the value passes from then on, on every route.  Rejected, timed
# out, or answered with a malformed file: 403.  A hold that timed out names
# its proposal, and a retry after a late approval passes.  Other
# connections flow while one request is held.
. "$(dirname "$0")/egress-dlp-lib.sh"

HOST=$BUILD/bottle-host
ROOT=$TEST_SCRATCH/queue
QUEUE=$ROOT/dev
export DLP_OTHER_REJECT=rej$(openssl rand -hex 16)
export DLP_OTHER_LATE=late$(openssl rand -hex 16)
export DLP_OTHER_JUNK=junk$(openssl rand -hex 16)
export DLP_OTHER_STREAM=strm$(openssl rand -hex 16)
sv() { "$HOST" supervise --queue-root "$ROOT" "$@"; }

test_expect_success 'set up the PKI, the origin and egress with the queue' '
	mkdir -p "$QUEUE" &&
	dlp_setup --secret-env-prefix DLP_OTHER_ --queue "$QUEUE" --hold-timeout 120s
'

# held NAME URL CURL-ARGS...: start the request in the background (status
# in NAME.code); returns once its proposal is pending, its id in NAME.id.
held() {
	local name=$1 url=$2 before
	shift 2
	before=$(ls "$QUEUE/pending" | sort)
	( dlp_status "$url" "$@" >"$name.code" 2>&1; cp body.txt "$name.body" ) &
	wait_for 30 "test \"\$(ls $QUEUE/pending | sort)\" != \"$before\"" &&
	comm -13 <(echo "$before") <(ls "$QUEUE/pending" | sort) | sed "s/\.json$//" >"$name.id" &&
	test "$(wc -l <"$name.id")" = 1
}

test_expect_success 'a held request: proposed, other connections flow, approved, sent' '
	held one "https://localhost:$TLS_PORT/s/one?key=$SECRET" &&
	id=$(cat one.id) &&
	test ! -s one.code &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/meanwhile")" = 200 &&
	grep -q "\"kind\": *\"egress-token-allow\"" "$QUEUE/pending/$id.json" &&
	grep -q "\"value_hash\": *\"$(printf %s "$SECRET" | sha256sum | cut -d" " -f1)\"" "$QUEUE/pending/$id.json" &&
	! grep -rqF "$SECRET" "$QUEUE" &&
	sv approve "$id" --note "test fixture token" &&
	wait_for 30 "test -s one.code" &&
	test "$(cat one.code)" = 200 &&
	grep -q "^GET /s/one?key=" "$TEST_SCRATCH/origin-o/requests" &&
	test -f "$QUEUE/processed/$id.response.json"
'

test_expect_success 'the approved value now passes on every route, without a proposal' '
	test "$(dlp_status "https://localhost:$TLS_PORT/b/later" -H "X-Key: $SECRET")" = 200 &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/later" -d "k=$(b64 "$SECRET")")" = 200 &&
	test -z "$(ls "$QUEUE/pending")"
'

test_expect_success 'a routes reload keeps the approval' '
	egress_reload &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/reloaded?k=$SECRET")" = 200 &&
	test -z "$(ls "$QUEUE/pending")"
'

test_expect_success 'rejected: 403, nothing sent' '
	held two "https://localhost:$TLS_PORT/s/two" -H "Content-Type: application/json" \
		-d "{\"k\":\"$DLP_OTHER_REJECT\"}" &&
	sv reject "$(cat two.id)" --note "not this one" &&
	wait_for 30 "test -s two.code" &&
	test "$(cat two.code)" = 403 &&
	grep -q "rejected proposal $(cat two.id)" two.body &&
	! grep -q "/s/two" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'a malformed answer: 403, nothing sent' '
	held three "https://localhost:$TLS_PORT/s/three?k=$DLP_OTHER_JUNK" &&
	echo "{\"id\": 12" >"$QUEUE/responses/$(cat three.id).json" &&
	wait_for 30 "test -s three.code" &&
	test "$(cat three.code)" = 403 &&
	grep -q "could not be read" three.body &&
	! grep -q "/s/three" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'a hold that times out names its proposal; approved later, the retry passes' '
	EGRESS_PORT=$(free_port) &&
	EGRESS_DIR=$TEST_SCRATCH/egress-short &&
	egress_start "$TEST_SCRATCH/routes.yaml" --secret-env-prefix DLP_OTHER_ --queue "$QUEUE" \
		--hold-timeout 1s &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/tardy?k=$DLP_OTHER_LATE")" = 403 &&
	id=$(sed -n "s/.*as proposal \([A-Za-z0-9-]*\), still pending.*/\1/p" body.txt) &&
	test -n "$id" && test -f "$QUEUE/pending/$id.json" &&
	grep -q "send the same request again once it is approved" body.txt &&
	! grep -q "/s/tardy" "$TEST_SCRATCH/origin-o/requests" &&
	sv approve "$id" --note "late but fine" &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/tardy?k=$DLP_OTHER_LATE")" = 200 &&
	test -f "$QUEUE/processed/$id.response.json" &&
	test ! -f "$QUEUE/pending/$id.json"
'

test_expect_success 'a retry while still pending waits on the same proposal' '
	export DLP_OTHER_AGAIN=again$(openssl rand -hex 16) &&
	EGRESS_PORT=$(free_port) &&
	EGRESS_DIR=$TEST_SCRATCH/egress-again &&
	egress_start "$TEST_SCRATCH/routes.yaml" --secret-env-prefix DLP_OTHER_ --queue "$QUEUE" \
		--hold-timeout 1s &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/again?k=$DLP_OTHER_AGAIN")" = 403 &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/again?k=$DLP_OTHER_AGAIN")" = 403 &&
	hash=$(printf %s "$DLP_OTHER_AGAIN" | sha256sum | cut -d" " -f1) &&
	test "$(grep -l "$hash" "$QUEUE"/pending/*.json | wc -l)" = 1
'

# A client waiting for 100-continue is not held: its body streams as under
# block, and a finding is proposed at once for the retry.
test_expect_success 'a streamed body: cut, proposed at once, the retry passes once approved' '
	printf "{\"k\":\"%s\"}" "$DLP_OTHER_STREAM" >body.json &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/keep/streamed" -H "Expect: 100-continue" \
		--data-binary @body.json)" = 403 &&
	id=$(sed -n "s/.*as proposal \([A-Za-z0-9-]*\), still pending.*/\1/p" body.txt) &&
	test -f "$QUEUE/pending/$id.json" &&
	! grep -q "^complete /s/keep/streamed" "$TEST_SCRATCH/origin-o/requests" &&
	sv approve "$id" --note "fine" &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/keep/streamed" -H "Expect: 100-continue" \
		--data-binary @body.json)" = 403 &&
	grep -q "approved proposal $id" body.txt &&
	test "$(dlp_status "https://localhost:$TLS_PORT/s/keep/streamed" -H "Expect: 100-continue" \
		--data-binary @body.json)" = 200 &&
	grep -q "^complete /s/keep/streamed" "$TEST_SCRATCH/origin-o/requests"
'

test_expect_success 'no value in the queue, the decision log or the errors' '
	! grep -rqF "$DLP_OTHER_REJECT" "$QUEUE" "$TEST_SCRATCH"/egress*/ &&
	! grep -rqF "$DLP_OTHER_LATE" "$QUEUE" "$TEST_SCRATCH"/egress*/ &&
	! grep -rqF "$SECRET" "$QUEUE" "$TEST_SCRATCH"/egress*/ &&
	grep -q "\"action\":\"hold\"" "$TEST_SCRATCH/egress/stdout" &&
	grep "\"path\":\"/s/one\"" "$TEST_SCRATCH/egress/stdout" >one.json &&
	grep -q "\"action\":\"approved\",\"findings\":\[\],\"proposal\":\"" one.json
'

test_expect_success 'egress is still running' '
	egress_alive
'

test_done

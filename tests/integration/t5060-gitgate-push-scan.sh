#!/usr/bin/env bash
# Push scanning with the real git client: git pushes through a fake ssh
# (GIT_SSH_COMMAND) to gitgate-serve's receive-pack over a bare repository,
# with the DLP engine (default rules, a known secret from a variable, the
# canary) and a supervise queue.  A push with a secret is rejected with
# `remote:` lines naming file, line, commit and rule (never the value) and
# a gitleaks-allow proposal appears; the operator answers through
# `bottle-host supervise` and queue-respond; a retry passes once approved,
# and a rejected one stays rejected with the note.
. "$(dirname "$0")/gitgate-scan-lib.sh"

RESPOND=$HELPERS/queue-respond
HOST=$BUILD/bottle-host
QUEUE_ROOT=$TEST_SCRATCH/queue
QUEUE=$QUEUE_ROOT/test
OTHER_KEY=AKIA$(random_of 'A-Z2-7' 16)
export BOTTLE_CANARY=cnry$(random_of 'A-Za-z0-9' 28)

scan_gate --secret-env DEPLOY_TOKEN --canary-env BOTTLE_CANARY --queue "$QUEUE" --bottle test

pending_ids() { "$RESPOND" "$QUEUE" list; }
pending_count() { pending_ids | wc -l; }

test_expect_success 'a repository behind the gate and a clone of it' '
	scan_setup &&
	mkdir -p "$QUEUE_ROOT"
'

test_expect_success 'a clean push passes and arrives' '
	commit_file src/main.c "int main(void) { return 0; }" &&
	gate_push 2>err &&
	arrived &&
	test "$(pending_count)" -eq 0
'

test_expect_success 'a push with a key is rejected with remote: lines and a proposal' '
	commit_file config/app.env "$(printf "REGION=eu-west-1\nAWS_ACCESS_KEY_ID=%s" "$AWS_KEY")" &&
	commit=$(git -C "$WORK" rev-parse --short=12 HEAD) &&
	! gate_push 2>err &&
	grep -q "^remote: secret in config/app.env line 2 of commit $commit: aws-access-key-id" err &&
	grep -q "remote rejected.*secret found: see the remote: lines" err &&
	grep -q "^remote:   proposal .* asks the operator to allow it" err &&
	! grep -q "$AWS_KEY" err &&
	! grep -q "$AWS_KEY" "$GATE_LOG" &&
	test "$(pending_count)" -eq 1 &&
	id=$(pending_ids) &&
	grep -q "$id" err &&
	file=$QUEUE/pending/$id.json &&
	grep -q "\"kind\": *\"gitleaks-allow\"" "$file" &&
	grep -q "\"path\": *\"config/app.env\"" "$file" &&
	grep -q "\"line\": *2" "$file" &&
	grep -q "\"commit\": *\"$(git -C "$WORK" rev-parse HEAD)\"" "$file" &&
	hash=$(printf "%s" "$AWS_KEY" | sha256sum | cut -d" " -f1) &&
	grep -q "\"value_hash\": *\"$hash\"" "$file" &&
	! grep -q "$AWS_KEY" "$file" &&
	test "$(git -C "$REPO" rev-parse main)" != "$(git -C "$WORK" rev-parse HEAD)"
'

test_expect_success 'a retry before the answer waits on the same proposal' '
	id=$(pending_ids) &&
	! gate_push 2>err &&
	grep -q "^remote:   proposal $id is waiting for the operator" err &&
	test "$(pending_count)" -eq 1
'

test_expect_success 'approved with bottle-host supervise: the retry passes and arrives' '
	id=$(pending_ids) &&
	"$HOST" supervise --queue-root "$QUEUE_ROOT" --audit-log "$TEST_SCRATCH/audit.log" \
		approve "$id" --note "a revoked test key" >out &&
	gate_push 2>err &&
	grep -q "approved by the operator in proposal $id" err &&
	arrived &&
	test "$("$RESPOND" "$QUEUE" status "$id")" = processed
'

test_expect_success 'a rejected finding stays rejected, with the note' '
	commit_file deploy.sh "curl -H \"X-Token: $DEPLOY_TOKEN\" https://deploy.invalid/" &&
	! gate_push 2>err &&
	grep -q "^remote: secret in deploy.sh line 1 of commit .*DEPLOY_TOKEN" err &&
	! grep -q "$DEPLOY_TOKEN" err &&
	id=$(pending_ids) &&
	"$RESPOND" "$QUEUE" reject "$id" "a live token: rotate it" &&
	! gate_push 2>err &&
	grep -q "^remote:   the operator rejected proposal $id: a live token: rotate it" err &&
	! gate_push 2>err2 &&
	grep -q "a live token: rotate it" err2 &&
	test "$(pending_count)" -eq 0
'

test_expect_success 'rewritten without the secret, the push passes' '
	git -C "$WORK" reset -q --hard HEAD~1 &&
	commit_file deploy.sh "curl -H \"X-Token: \$DEPLOY_TOKEN\" https://deploy.invalid/" &&
	gate_push 2>err &&
	arrived
'

test_expect_success 'the canary never passes and is never proposed' '
	commit_file notes.txt "remember $BOTTLE_CANARY" &&
	! gate_push 2>err &&
	grep -q "^remote: secret in notes.txt line 1" err &&
	grep -q "canary" err &&
	! grep -q "$BOTTLE_CANARY" err &&
	test "$(pending_count)" -eq 0 &&
	git -C "$WORK" reset -q --hard HEAD~1
'

test_expect_success 'one approval lets that finding only: the same key elsewhere is new' '
	commit_file a.env "key=$OTHER_KEY" &&
	! gate_push 2>err &&
	id=$(pending_ids) &&
	"$RESPOND" "$QUEUE" approve "$id" "a fixture" &&
	commit_file b.env "key=$OTHER_KEY" &&
	! gate_push 2>err &&
	grep -q "approved by the operator in proposal $id" err &&
	grep -q "^remote: secret in b.env line 1" err &&
	test "$(pending_count)" -eq 1
'

test_done

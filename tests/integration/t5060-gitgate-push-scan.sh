#!/usr/bin/env bash
# Push scanning with the real git client: git pushes through a fake ssh
# (GIT_SSH_COMMAND) to gitgate-serve's receive-pack over a bare repository,
# with the DLP engine (default rules, a known secret from a variable, the
# canary) and a supervise queue.  A push with a secret is rejected with
# `remote:` lines naming file, line, commit and rule (never the value) and
# a gitleaks-allow proposal appears; the operator answers through
# `bottle-host supervise` and queue-respond; a retry passes once approved,
# and a rejected one stays rejected with the note.
. "$(dirname "$0")/lib.sh"
test_skip_unless git

SERVE=$HELPERS/gitgate-serve
RESPOND=$HELPERS/queue-respond
HOST=$BUILD/bottle-host
REPO=$TEST_SCRATCH/project.git
QUEUE_ROOT=$TEST_SCRATCH/queue
QUEUE=$QUEUE_ROOT/test
WORK=$TEST_SCRATCH/work

# Generated, so no key-shaped literal sits in this repository.
random_of() { # alphabet length
	head -c 4096 /dev/urandom | tr -dc "$1" | head -c "$2"
}
AWS_KEY=AKIA$(random_of 'A-Z2-7' 16)
OTHER_KEY=AKIA$(random_of 'A-Z2-7' 16)
export DEPLOY_TOKEN=tok_$(random_of 'A-Za-z0-9' 36)
export BOTTLE_CANARY=cnry$(random_of 'A-Za-z0-9' 28)

export GIT_AUTHOR_NAME=Agent GIT_AUTHOR_EMAIL=agent@bottle.test
export GIT_COMMITTER_NAME=Agent GIT_COMMITTER_EMAIL=agent@bottle.test
export GIT_CONFIG_NOSYSTEM=1 HOME=$TEST_SCRATCH

# The fake ssh: git runs it as `fake-ssh HOST "git-receive-pack '/path'"`.
cat >"$TEST_SCRATCH/fake-ssh" <<EOF
#!/usr/bin/env bash
eval "set -- \$2"
exec "$SERVE" --secret-env DEPLOY_TOKEN --canary-env BOTTLE_CANARY \\
	--queue "$QUEUE" --bottle test "\$1" "\$2" 2>>"$TEST_SCRATCH/gate.log"
EOF
chmod +x "$TEST_SCRATCH/fake-ssh"
export GIT_SSH_COMMAND=$TEST_SCRATCH/fake-ssh

pending_ids() { "$RESPOND" "$QUEUE" list; }
pending_count() { pending_ids | wc -l; }

# commit_file PATH TEXT: a commit in $WORK adding or replacing PATH.
commit_file() {
	mkdir -p "$WORK/$(dirname "$1")" &&
	printf '%s\n' "$2" >"$WORK/$1" &&
	git -C "$WORK" add "$1" &&
	git -C "$WORK" commit -q -m "change $1"
}

gate_push() { git -C "$WORK" push "$@" gate HEAD:refs/heads/main; }

test_expect_success 'a repository behind the gate and a clone of it' '
	git init -q --bare "$REPO" &&
	git init -q -b main "$WORK" &&
	commit_file README "a project" &&
	git -C "$WORK" push -q "$REPO" main &&
	git -C "$WORK" remote add gate "ssh://gate$REPO" &&
	mkdir -p "$QUEUE_ROOT"
'

test_expect_success 'a clean push passes and arrives' '
	commit_file src/main.c "int main(void) { return 0; }" &&
	gate_push 2>err &&
	test "$(git -C "$REPO" rev-parse main)" = "$(git -C "$WORK" rev-parse HEAD)" &&
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
	! grep -q "$AWS_KEY" "$TEST_SCRATCH/gate.log" &&
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
	test "$(git -C "$REPO" rev-parse main)" = "$(git -C "$WORK" rev-parse HEAD)" &&
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
	test "$(git -C "$REPO" rev-parse main)" = "$(git -C "$WORK" rev-parse HEAD)"
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

#!/usr/bin/env bash
# A queue full of things that are not proposals: truncated and mutated
# JSON, random bytes, a file over the size cap, a FIFO, a directory and
# symlinks named like proposals, a response that is not JSON.  Every
# bottle-host supervise command still runs to completion, names each bad
# file, and keeps answering the one good proposal among them.
. "$(dirname "$0")/lib.sh"
test_skip_unless jq
test_skip_unless openssl

HOST=$BUILD/bottle-host
ROOT=$TEST_SCRATCH/queue
Q=$ROOT/dev
GOOD=20261129T100000Z-00000001
mkdir -p "$Q/pending" "$Q/responses" "$Q/processed"

sv() { "$HOST" supervise --queue-root "$ROOT" "$@"; }
# Deterministic pseudo-random bytes: the same junk every run.
junk() { openssl enc -aes-128-ctr -nosalt -pass "pass:$1" -pbkdf2 </dev/zero 2>/dev/null | head -c "$2"; }

jq -n --arg id "$GOOD" '{id: $id, kind: "egress-allow", created: "2026-11-29T10:00:00Z",
	bottle: "dev", justification: "the good one", routes_yaml: "routes: []\n"}' \
	>"$Q/pending/$GOOD.json"
good=$(cat "$Q/pending/$GOOD.json")

# Every prefix length of a good file is a truncated write.
for n in 0 1 17 60 120 $((${#good} - 2)); do
	printf '%s' "${good:0:$n}" >"$Q/pending/20261129T0100$(printf %02d $((n % 100)))Z-trunc$n.json"
done
# Mutations: wrong types, unknown keys and kinds, nested junk, huge numbers.
i=0
for filter in '.kind = "egress-delete"' '.bounds = {expires_in: -1}' '.bounds = [1]' \
	'.line = 3' '.justification = {a: 1}' '.routes_yaml = null' '.x = 1' \
	'.bounds = {max_requests: 1e400}' '.id = "../../etc/passwd"' '.created = "2026-13-45T99:99:99Z"' \
	'.bottle = "other"' '.bottle = ".."' '. + {host: "h"}' 'del(.id)' '[.]' '.justification = ("x" * 5000)'; do
	i=$((i + 1))
	id=20261129T0200$(printf %02d $i)Z-mut$i
	jq -c --arg id "$id" "if type == \"object\" and has(\"id\") then .id = \$id else . end | $filter" \
		<<<"$good" >"$Q/pending/$id.json"
done
for seed in 1 2 3 4 5; do
	junk "$seed" $((seed * 300)) >"$Q/pending/20261129T03000${seed}Z-junk$seed.json"
done
junk big $((1024 * 1024 + 1)) >"$Q/pending/20261129T040000Z-big.json"
mkfifo "$Q/pending/20261129T050000Z-fifo.json"
mkdir "$Q/pending/20261129T060000Z-dir.json"
ln -s /etc/passwd "$Q/pending/20261129T070000Z-link.json"
ln -s "$Q/pending/$GOOD.json" "$Q/pending/20261129T080000Z-00000001.json"
# A response for a proposal that is pending but unanswered... and junk.
junk resp 200 >"$Q/responses/20261129T020001Z-mut1.json"

test_expect_success 'list completes, names every bad file and shows the good one' '
	timeout 20 "$HOST" supervise --queue-root "$ROOT" list >out 2>err &&
	cat out err &&
	grep -q "^$GOOD  *dev  *egress-allow .*the good one" out &&
	[ "$(wc -l <out)" -eq 2 ] &&
	bad=$(find "$Q/pending" -mindepth 1 ! -name "$GOOD.json" | wc -l) &&
	[ "$(grep -c "skipped" err)" -eq "$bad" ] &&
	grep -q "20261129T040000Z-big.json: larger than 1048576 bytes" err &&
	grep -q "20261129T050000Z-fifo.json: not a regular file" err &&
	grep -q "20261129T070000Z-link.json: Symbolic link loop\|link.json: Too many levels of symbolic links\|link.json: .*symbolic link" err &&
	! grep -q "$(printf "[\001-\010\016-\037\177]")" err
'

test_expect_success 'show of each bad file refuses it in one line and exits 1' '
	for f in "$Q"/pending/*; do
		id=$(basename "$f" .json)
		[ "$id" = "$GOOD" ] && continue
		status=0
		timeout 10 "$HOST" supervise --queue-root "$ROOT" show "$id" >out 2>err || status=$?
		case $status in 1 | 2) ;; *) echo "show $id exited $status"; exit 1 ;; esac
		[ "$(wc -l <err)" -eq 1 ] || { cat err; exit 1; }
	done
'

test_expect_success 'approve of a bad file decides nothing' '
	! sv approve 20261129T020001Z-mut1 --note x 2>err &&
	! sv approve 20261129T030001Z-junk1 --note x 2>err &&
	[ "$(find "$Q/responses" -type f | wc -l)" -eq 1 ] &&
	[ ! -e "$ROOT/audit.log" ]
'

test_expect_success 'the good proposal is still answered' '
	sv approve "$GOOD" --note fine >out &&
	grep -qx "approved $GOOD (egress-allow from bottle dev)" out &&
	sv verify-log
'

test_expect_success 'watch survives the same directory and reports the good one' '
	jq --arg id 20261129T110000Z-00000002 ".id = \$id" <<<"$good" \
		>"$Q/pending/20261129T110000Z-00000002.json" &&
	{ timeout 3 "$HOST" supervise --queue-root "$ROOT" watch >out 2>err; [ $? -eq 124 ]; } &&
	grep -q "^pending 20261129T110000Z-00000002 " out
'

test_done

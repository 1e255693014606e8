#!/usr/bin/env bash
# bottle-host info on manifests in a temporary HOME and working directory:
# help, the resolved bottle (extends folded, ./.bottle over ~/.bottle per
# file name), env names without values, errors as file:line:col: key:
# message, and a rendered routes.yaml that the real `sidecar egress` loads
# and enforces against a loopback origin.
. "$(dirname "$0")/lib.sh"
HOST_CLI=$BUILD/bottle-host

HOME_DIR=$TEST_SCRATCH/home
PROJECT=$TEST_SCRATCH/project
mkdir -p "$HOME_DIR/.bottle/agents" "$HOME_DIR/.bottle/bottles" \
	"$PROJECT/.bottle/agents" "$PROJECT/.bottle/bottles"

ORIGIN_PORT=$(free_port)

cat >"$HOME_DIR/.bottle/bottles/base.md" <<EOF
---
env:
  LANG: literal-value-lang-7f3a
  GH_TOKEN_RO: \${BOTTLE_TEST_GH_RO}
egress:
  log: blocks
  routes:
    - host: 127.0.0.1
      ports: [$ORIGIN_PORT]
      addresses: [127.0.0.1]
      matches:
        - path_prefix: /allowed
          methods: [GET]
git:
  user: {name: Bottle Agent, email: agent@example.com}
---
The base every bottle of this operator starts from.
EOF
cat >"$HOME_DIR/.bottle/bottles/python.md" <<'EOF'
---
env:
  PIP_INDEX_URL: https://pypi.org/simple
egress:
  routes:
    - host: pypi.org
    - host: files.pythonhosted.org
---
EOF
# The home copy of dev is shadowed by the project's.
cat >"$HOME_DIR/.bottle/bottles/dev.md" <<'EOF'
---
env: {SHADOWED: yes}
---
EOF
cat >"$PROJECT/.bottle/bottles/dev.md" <<'EOF'
---
extends: [base, python]
env:
  LANG: C.UTF-8
egress:
  log: all
  routes:
    - host: registry.npmjs.org
git:
  repos:
    - name: app
      upstream: https://github.com/me/app
      token_env: BOTTLE_TEST_APP_TOKEN
supervise: false
---
EOF
cat >"$HOME_DIR/.bottle/agents/claude-dev.md" <<'EOF'
---
name: claude-dev
description: Works on the app
model: sonnet
tools: Read, Edit, Bash
color: green
bottle: dev
provider: claude
---
You are a careful engineer.
EOF
printf -- '---\r\nbottle: dev\r\nprovider: codex\r\n---\r\n' >"$PROJECT/.bottle/agents/codex-dev.md"

info() { # run bottle-host info in the project with the fixture HOME
	(cd "$PROJECT" && env HOME="$HOME_DIR" "$HOST_CLI" info "$@")
}

test_expect_success 'bottle-host --help lists info; info --help is complete' '
	"$HOST_CLI" --help >out && grep -qE "^  info +print an agent" out &&
	"$HOST_CLI" info --help >out &&
	grep -q "^usage: bottle-host info \[--routes\] <agent>" out &&
	grep -q -- "--routes" out && grep -q -- "--bottle NAME" out &&
	grep -q "./.bottle/ first, then ~/.bottle/" out && grep -q "Exit status" out
'

test_expect_success 'info without an agent, or with two, is a usage error' '
	status=0 && "$HOST_CLI" info 2>err || status=$? &&
	[ "$status" -eq 2 ] && grep -q "^usage: bottle-host info" err &&
	status=0 && "$HOST_CLI" info a b 2>err || status=$? && [ "$status" -eq 2 ]
'

test_expect_success 'info prints the folded bottle with env names and never a value' '
	BOTTLE_TEST_GH_RO=host-secret-9c1d info claude-dev >out &&
	cat out &&
	grep -qE "^agent +claude-dev +\(.*/home/.bottle/agents/claude-dev.md\)" out &&
	grep -qE "^provider +claude \(key for api.anthropic.com from \\\$ANTHROPIC_API_KEY" out &&
	grep -qE "^bottle +dev +\(./.bottle/bottles/dev.md\)" out &&
	grep -qE "^folds +base, python, dev$" out &&
	grep -qE "^supervise +false$" out &&
	grep -qE "^  LANG +literal +\(./.bottle/bottles/dev.md:4\)" out &&
	grep -qE "^  GH_TOKEN_RO +from \\\$BOTTLE_TEST_GH_RO \(set\)" out &&
	grep -qE "^  PIP_INDEX_URL +literal" out &&
	! grep -q SHADOWED out &&
	! grep -q "literal-value-lang" out && ! grep -q "C.UTF-8" out &&
	! grep -q "host-secret" out && ! grep -q "pypi.org/simple" out &&
	grep -qE "^git user +Bottle Agent <agent@example.com>" out &&
	grep -qE "^  app +https://github.com/me/app +token from \\\$BOTTLE_TEST_APP_TOKEN \(NOT SET\)" out &&
	grep -qE "^egress +log all, 5 routes$" out &&
	sed -n "/^egress/,\$p" out | sed 1d | awk "{print \$1}" >hosts &&
	printf "%s\n" api.anthropic.com registry.npmjs.org pypi.org files.pythonhosted.org 127.0.0.1 >expected &&
	diff expected hosts
'

test_expect_success 'an unset reference says so' '
	(unset BOTTLE_TEST_GH_RO; info claude-dev) >out &&
	grep -qE "^  GH_TOKEN_RO +from \\\$BOTTLE_TEST_GH_RO \(NOT SET\)" out
'

test_expect_success 'a project agent overrides nothing else; CRLF and codex work' '
	info codex-dev >out &&
	grep -qE "^provider +codex \(key for api.openai.com from \\\$OPENAI_API_KEY" out &&
	info --routes codex-dev >routes.yaml &&
	grep -q "\"scheme\": \"Bearer\"" routes.yaml
'

test_expect_success 'info --bottle resolves a bottle alone' '
	info --bottle python >out &&
	grep -qE "^folds +python$" out && grep -qE "^egress +log blocks, 2 routes$" out &&
	grep -qE "^supervise +true$" out
'

test_expect_success 'errors are one line, file:line:col: key: message, exit 3' '
	cp "$PROJECT/.bottle/bottles/dev.md" dev.saved &&
	sed -i "s/- host: registry.npmjs.org/- host: \"registry.npmjs.org:443\"/" \
		"$PROJECT/.bottle/bottles/dev.md" &&
	status=0 && info claude-dev 2>err >out || status=$? &&
	cp dev.saved "$PROJECT/.bottle/bottles/dev.md" &&
	[ "$status" -eq 3 ] && [ ! -s out ] && [ "$(wc -l <err)" -eq 1 ] &&
	grep -qx "bottle-host: info: ./.bottle/bottles/dev.md:8:13: egress.routes\[0\].host: .registry.npmjs.org:443. names a port: list ports under .ports., not in the host" err
'

test_expect_success 'an extends cycle names the file, the line and the cycle' '
	printf -- "---\nextends: [dev]\n---\n" >"$PROJECT/.bottle/bottles/python.md" &&
	status=0 && info claude-dev 2>err || status=$? &&
	rm "$PROJECT/.bottle/bottles/python.md" &&
	[ "$status" -eq 3 ] &&
	grep -qx "bottle-host: info: ./.bottle/bottles/python.md:2:11: extends: cycle: dev -> python -> dev" err
'

test_expect_success 'an agent without frontmatter says how to fix it' '
	echo "You are an agent." >"$PROJECT/.bottle/agents/plain.md" &&
	status=0 && info plain 2>err || status=$? &&
	[ "$status" -eq 3 ] &&
	grep -q "plain.md:1:1: frontmatter: missing: start the file with a line .---., then the YAML keys (bottle: NAME and provider: claude), then a line .---." err
'

test_expect_success 'a missing agent names both places looked in' '
	status=0 && info nobody 2>err || status=$? &&
	[ "$status" -eq 3 ] &&
	grep -q "no agent named .nobody. (looked for ./.bottle/agents/nobody.md and .*/home/.bottle/agents/nobody.md)" err
'

test_expect_success 'the complete examples of docs/manifests.md resolve' '
	mkdir -p ex/.bottle/agents ex/.bottle/bottles &&
	awk -v dir=ex/.bottle "
		/^<!-- example: .* -->\$/ { file = dir \"/\" \$3; next }
		file && /^\\\`\\\`\\\`markdown\$/ { inside = 1; next }
		inside && /^\\\`\\\`\\\`\$/ { inside = 0; file = \"\"; n++; next }
		inside { print > file }
		END { if (n != 5) exit 1 }
	" "$TEST_ROOT/docs/manifests.md" &&
	ls ex/.bottle/bottles/base.md ex/.bottle/bottles/claude-code.md ex/.bottle/bottles/codex.md &&
	(cd ex && HOME=/nonexistent "$HOST_CLI" info claude-webapp) >out &&
	grep -qE "^folds +base, claude-code$" out &&
	grep -qE "^egress +log blocks, 6 routes$" out &&
	(cd ex && HOME=/nonexistent "$HOST_CLI" info codex-engine) >out &&
	grep -qE "^image +docker.io/library/rust:1.83-bookworm$" out &&
	grep -qE "^  engine +https://github.com/acme/engine.git +token from" out
'

test_skip_unless openssl
test_skip_unless curl
test_skip_unless python3

# The rendered file under the real egress, in front of a loopback origin
# that only the inherited route (127.0.0.1, GET /allowed...) reaches.
EGRESS_DIR=$TEST_SCRATCH/egress
mkdir -p "$EGRESS_DIR/www/allowed"
echo hello >"$EGRESS_DIR/www/allowed/x"
echo no >"$EGRESS_DIR/www/denied"
info --routes claude-dev >"$EGRESS_DIR/routes.yaml"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-keyout "$EGRESS_DIR/ca.key" -out "$EGRESS_DIR/ca.crt" -subj "/CN=bottle test CA" \
	-addext "basicConstraints=critical,CA:TRUE" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
python3 -m http.server "$ORIGIN_PORT" --bind 127.0.0.1 --directory "$EGRESS_DIR/www" \
	>/dev/null 2>&1 &
test_at_exit "kill $!"
PROXY_PORT=$(free_port)
"$SIDECAR" egress --listen "127.0.0.1:$PROXY_PORT" --routes "$EGRESS_DIR/routes.yaml" \
	--ca-cert "$EGRESS_DIR/ca.crt" --ca-key "$EGRESS_DIR/ca.key" \
	>"$EGRESS_DIR/decisions.log" 2>"$EGRESS_DIR/egress.err" &
test_at_exit "kill $!"

test_expect_success 'sidecar egress loads the rendered routes.yaml' '
	wait_for 10 "grep -q listening $EGRESS_DIR/egress.err" &&
	grep -q "with 5 routes from .*routes.yaml" "$EGRESS_DIR/egress.err" &&
	grep -q "\"host\": \"api.anthropic.com\"" "$EGRESS_DIR/routes.yaml"
'

test_expect_success 'egress enforces the routes a parent bottle contributed' '
	wait_for 10 "curl -s -o /dev/null http://127.0.0.1:$ORIGIN_PORT/" &&
	curl -s -x "http://127.0.0.1:$PROXY_PORT" "http://127.0.0.1:$ORIGIN_PORT/allowed/x" >got &&
	[ "$(cat got)" = hello ] &&
	code=$(curl -s -o denied.out -w "%{http_code}" -x "http://127.0.0.1:$PROXY_PORT" \
		"http://127.0.0.1:$ORIGIN_PORT/denied") &&
	[ "$code" = 403 ] && grep -q "does not allow GET /denied" denied.out &&
	code=$(curl -s -o /dev/null -w "%{http_code}" -x "http://127.0.0.1:$PROXY_PORT" \
		"http://127.0.0.2:$ORIGIN_PORT/allowed/x") &&
	[ "$code" = 403 ] &&
	grep -q "\"path\":\"/allowed/x\".*\"decision\":\"allow\"" "$EGRESS_DIR/decisions.log"
'

test_done

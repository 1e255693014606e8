#!/usr/bin/env bash
# The access hook: asked before every service over both transports with
# the operation, the repository, the remote and the peer address; its
# first line is what git shows when it denies; a hook that hangs denies.
. "$(dirname "$0")/gitgate-serve-lib.sh"

HOOK=$TEST_SCRATCH/hook
HOOK_LOG=$TEST_SCRATCH/hook.log
cat >"$HOOK" <<HOOK_EOF
#!/bin/sh
# The test's policy: log the call; deny "secret", and pushes to "app".
echo "\$*" >>"$HOOK_LOG"
case "\$2" in
secret) echo "no access to secret from \$3"; exit 1 ;;
slow) sleep 30 ;;
esac
if [ "\$1" = receive-pack ] && [ "\$2" = app ]; then
	echo "pushes to app are closed today" >&2
	exit 2
fi
exit 0
HOOK_EOF
chmod +x "$HOOK"

test_expect_success 'start with the hook' '
	gate_start "  - name: app
  - name: secret
  - name: slow" "hook: $HOOK
hook_timeout: 500ms"
'

test_expect_success 'a denial over HTTP shows the hook'"'"'s line as remote:' '
	! git ls-remote "$GATE_HTTP/secret.git" >out 2>err &&
	grep -q "remote: no access to secret from 127.0.0.1" err &&
	curl -s -o body -w "%{http_code}" "$GATE_HTTP/secret.git/info/refs?service=git-upload-pack" >code &&
	grep -qx 403 code
'

test_expect_success 'a denied push over HTTP shows the hook'"'"'s stderr line' '
	git init -q -b main "$TEST_SCRATCH/work" &&
	git -C "$TEST_SCRATCH/work" -c user.name=A -c user.email=a@test commit -q --allow-empty -m one &&
	! git -C "$TEST_SCRATCH/work" push "$GATE_HTTP/app.git" main >out 2>err &&
	grep -q "remote: pushes to app are closed today" err
'

test_expect_success 'a denial over git:// is a remote error with the line' '
	! git ls-remote "$GATE_GIT/secret.git" >out 2>err &&
	grep -q "fatal: remote error: no access to secret from 127.0.0.1" err &&
	! git -C "$TEST_SCRATCH/work" push "$GATE_GIT/app.git" main >out 2>err &&
	grep -q "remote error: pushes to app are closed today" err
'

test_expect_success 'the hook gets operation, repository, remote and peer' '
	: >"$HOOK_LOG" &&
	git ls-remote "$GATE_HTTP/app.git" >out 2>err || true &&
	git ls-remote "$GATE_GIT/app.git" >out 2>err || true &&
	grep -E "^upload-pack app 127\.0\.0\.1 127\.0\.0\.1:[0-9]+$" "$HOOK_LOG" >calls &&
	test $(wc -l <calls) -ge 2
'

test_expect_success 'from a loopback proxy, X-Forwarded-For is the remote address' '
	: >"$HOOK_LOG" &&
	curl -s -o body -H "X-Forwarded-For: 10.1.2.3, 192.0.2.44" \
		"$GATE_HTTP/secret.git/info/refs?service=git-upload-pack" &&
	grep -q "no access to secret from 192.0.2.44" body &&
	grep -E "^upload-pack secret 192\.0\.2\.44 127\.0\.0\.1:[0-9]+$" "$HOOK_LOG" &&
	curl -s -o body -H "X-Forwarded-For: not-an-address" \
		"$GATE_HTTP/secret.git/info/refs?service=git-upload-pack" &&
	grep -q "no access to secret from 127.0.0.1" body
'

test_expect_success 'a hook that hangs is killed and denies (fail closed)' '
	! git ls-remote "$GATE_HTTP/slow.git" >out 2>err &&
	grep -q "remote: the access hook did not answer within 500 ms" err &&
	! git ls-remote "$GATE_GIT/slow.git" >out 2>err &&
	grep -q "remote error: the access hook did not answer within 500 ms" err
'

test_expect_success 'a hook that cannot run denies' '
	gate_stop &&
	gate_start "  - name: app" "hook: $TEST_SCRATCH/missing-hook" &&
	! git ls-remote "$GATE_HTTP/app.git" >out 2>err &&
	grep -q "remote: the access hook cannot run: No such file or directory" err
'

test_expect_success 'gate_alive' 'gate_alive'

test_done

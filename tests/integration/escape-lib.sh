# Shared set-up for the sandbox-escape suite (t4200, t4210; docs/security.md,
# "Sandbox escape"): real bottles started with `bottle-host start` under
# podman (supervise on, a git repository whose upstream is a forge the
# suite serves), an agent that runs the probes it is handed, and the
# targets it must not reach.  Every target is on this machine:
#
# - listeners on every address of the host (TCP, UDP, DNS on port 53);
# - a forge (git http-backend behind TLS, tests/helpers/git-https-upstream.py)
#   and an HTTPS sink that logs what reached it, both on the host, reached
#   by the bundle as host.containers.internal;
# - two network namespaces of the suite's own, each a test host behind a
#   veth pair with a /32 route on the host: "the internet" at 203.0.113.10
#   (TEST-NET-3, a documentation range) running TCP, UDP and DNS servers,
#   and a cloud metadata service at 169.254.169.254.  The route makes the
#   address ours while the suite runs; the suite checks it before any probe
#   and removes it after.
#
# The agent is the host's own userland (the test-only `host-rootfs` image).
# It runs agent.sh, which executes each script the test drops into its
# workspace's cmd/ folder (agent_run), so probes can use addresses known
# only once the bottles run.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_skip_if_sanitized "the bottles run the image, which holds the static musl sidecar"
test_skip_unless podman
test_skip_unless openssl
test_skip_unless python3
test_skip_unless ip
test_skip_unless nsenter
test_skip_unless iptables
if [ "$(id -u)" != 0 ]; then
	# Network namespaces, host routes and rootful podman need root.
	echo "# skip $TEST_NAME: needs root"
	exit 0
fi
. "$TEST_ROOT/scripts/engine.sh"
# t4200 and t4210 use the same test-host addresses and the host's port 53:
# one at a time (a lock on the suite's folder, so no lock file is left;
# every process the suite starts closes descriptor 9, so only the script
# holds it).
exec 9<"$(dirname "${BASH_SOURCE[0]}")/escape"
flock -w 600 9 || { echo "another sandbox-escape script holds the lock" >&2; exit 1; }

BOTTLE_HOST=$BUILD/bottle-host
ESCAPE=$TEST_ROOT/tests/integration/escape
PROBE="python3 $ESCAPE/probe.py"
export HOME=$TEST_SCRATCH/home
export BOTTLE_TEST_HOST_ROOTFS=1
export BOTTLE_UPSTREAM_CA=$TEST_SCRATCH/pki/ca.crt
export FORGE_TOKEN="forge-token-$$-$RANDOM$RANDOM"
# What egress injects on the forge's fetch-only route: Basic user:token.
FORGE_BASIC=$(printf "escape:%s" "$FORGE_TOKEN" | base64 -w0)
export FORGE_BASIC
STATE=$HOME/.bottle/state
QUEUE=$HOME/.bottle/queue
PKI=$TEST_SCRATCH/pki
mkdir -p "$HOME/.bottle/agents" "$HOME/.bottle/bottles" "$PKI" "$TEST_SCRATCH/logs"
chmod 0755 "$TEST_SCRATCH" "$HOME"

# The suite's own names: network namespaces and veth ends start with TAG.
TAG=esc$$
INTERNET=203.0.113.10
METADATA=169.254.169.254

# A run killed before its cleanup (Ctrl-C twice, a CI timeout) leaves its
# namespaces, veths and /32 routes behind, and the next run's "nothing of
# ours on the host" would fail on them.  Whoever holds the lock above is
# the only live run, so any esc<pid> object is such a leftover: remove it,
# and say so, before anything is asserted.
leftovers_remove() {
	local ns link
	for ns in $(ip netns list | grep -oE '^esc[0-9]+[a-z]*'); do
		echo "# removing network namespace $ns left by an earlier killed run"
		ip netns del "$ns" 2>/dev/null
	done
	for link in $(ip -o link | grep -oE 'esc[0-9]+[a-z]*-h' | sort -u); do
		echo "# removing veth $link left by an earlier killed run"
		ip link del "$link" 2>/dev/null
	done
	ip route | grep -E "^($INTERNET|$METADATA) .* dev esc[0-9]+[a-z]*-h" |
	while read -r route; do
		echo "# removing route $route left by an earlier killed run"
		# shellcheck disable=SC2086
		ip route del $route 2>/dev/null
	done
	return 0
}
leftovers_remove
HOST_PORT=$(free_port)
FORGE_PORT=$(free_port)
SINK_PORT=$(free_port)
LOGS=$TEST_SCRATCH/logs

# Servers started inside a test body run in its subshell, where
# test_at_exit would not reach the script's exit: their pids go to a file.
SERVER_PIDS=$TEST_SCRATCH/server-pids
server_started() {
	echo "$1" >>"$SERVER_PIDS"
}
servers_stop() {
	local pid
	[ -f "$SERVER_PIDS" ] || return 0
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$SERVER_PIDS"
	rm -f "$SERVER_PIDS"
}

# servers_run LOG [ip netns exec NS] -- ARGS...: servers.py with ARGS,
# in the background, until it printed "ready".
servers_run() {
	local log=$1 ready=$TEST_SCRATCH/ready.$RANDOM
	shift
	local prefix=()
	while [ "$1" != -- ]; do
		prefix+=("$1")
		shift
	done
	shift
	"${prefix[@]}" python3 "$ESCAPE/servers.py" --log "$LOGS/$log" "$@" >"$ready" 2>&1 9<&- &
	server_started $!
	wait_for 10 "grep -q ready $ready" || { cat "$ready"; return 1; }
}

# netns_host NS ADDRESS: a network namespace NS holding ADDRESS/32 behind a
# veth pair (NS-h on the host, NS-n inside), routed to from the host by a
# /32 route.  Fails unless the host's route to ADDRESS is then that veth.
netns_host() {
	local ns=$1 address=$2
	ip netns add "$ns" &&
	ip link add "$ns-h" type veth peer name "$ns-n" &&
	ip link set "$ns-n" netns "$ns" &&
	ip -n "$ns" link set lo up &&
	ip -n "$ns" link set "$ns-n" up &&
	ip -n "$ns" addr add "$address/32" dev "$ns-n" &&
	ip -n "$ns" route add default dev "$ns-n" &&
	ip link set "$ns-h" up &&
	ip route add "$address/32" dev "$ns-h" &&
	ip route get "$address" | grep -q " dev $ns-h " ||
	{ echo "the route to $address is not the suite's veth $ns-h"; ip route get "$address"; false; }
}

netns_remove() {
	local ns=$1 address=$2
	ip route del "$address/32" dev "$ns-h" 2>/dev/null
	ip link del "$ns-h" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	return 0
}

# What the suite adds to the host: routes, links, namespaces.
host_objects() {
	ip netns list | grep "^$TAG" || :
	ip -o link | grep -o "$TAG[a-z]*-[hn]" || :
	ip route | grep -E "^($INTERNET|$METADATA) " || :
}

# The CA the bundle's egress and gate trust for the host's servers
# (BOTTLE_UPSTREAM_CA), and one certificate for host.containers.internal.
pki_create() {
	(cd "$PKI" &&
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout ca.key -out ca.crt -subj "/CN=escape test CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null &&
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout host.key \
		-out host.csr -subj "/CN=host.containers.internal" 2>/dev/null &&
	printf "subjectAltName=DNS:host.containers.internal\n" >host.ext &&
	openssl x509 -req -in host.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
		-out host.crt -extfile host.ext 2>/dev/null)
}

# The forge: acme/app.git (one commit on main) served by git http-backend
# behind TLS and Basic auth (FORGE_TOKEN), on every IPv4 address.
forge_start() {
	local root=$TEST_SCRATCH/forge work=$TEST_SCRATCH/forge-work
	mkdir -p "$root/acme" &&
	git init -q --bare -b main "$root/acme/app.git" &&
	git -C "$root/acme/app.git" config http.receivepack true &&
	git init -q -b main "$work" &&
	echo "hello" >"$work/README" &&
	git -C "$work" add README &&
	git -C "$work" -c user.name=Forge -c user.email=forge@example.com commit -q -m one &&
	git -C "$work" push -q "$root/acme/app.git" main || return 1
	# (Its own line: a trailing & would put the whole chain in the
	# background, and $! would be that subshell, not the server.)
	UPSTREAM_TOKEN=$FORGE_TOKEN python3 "$TEST_ROOT/tests/helpers/git-https-upstream.py" \
		--address 0.0.0.0 --port "$FORGE_PORT" --cert "$PKI/host.crt" \
		--key "$PKI/host.key" --root "$root" --log "$LOGS/forge" >"$LOGS/forge.out" 2>&1 9<&- &
	server_started $!
	wait_for 10 "grep -q listening $LOGS/forge.out"
}

# The bottle "escape": supervise, the forge's repository through the gate,
# a sink route allowing /allowed only, and the forge named in the routes
# for fetches alone (egress injects its credential), never for pushes.
manifests_write() {
	cat >"$HOME/.bottle/bottles/escape.md" <<-EOF
	---
	git:
	  user: {name: Escape Agent, email: escape@example.com}
	  repos:
	    - name: app
	      upstream: https://host.containers.internal:$FORGE_PORT/acme/app.git
	      token_env: FORGE_TOKEN
	egress:
	  log: all
	  routes:
	    - host: host.containers.internal
	      ports: [$SINK_PORT]
	      addresses: ["10.89.0.0/16"]
	      outbound_on_match: block
	      matches:
	        - path_prefix: /allowed
	    - host: host.containers.internal
	      ports: [$FORGE_PORT]
	      addresses: ["10.89.0.0/16"]
	      auth: {header: Authorization, scheme: Basic, env: FORGE_BASIC}
	      matches:
	        - path: /acme/app.git/info/refs
	          methods: [GET]
	        - path: /acme/app.git/git-upload-pack
	          methods: [POST]
	supervise: true
	---
	EOF
	cat >"$HOME/.bottle/agents/escape.md" <<-EOF
	---
	bottle: escape
	provider:
	  image: host-rootfs
	  command: [sh, /workspace/agent.sh]
	---
	EOF
}

# bottle_start WS: start a bottle of agent "escape" with workspace WS in the
# background; returns once its agent runs (WS/started).  WS/slug names it.
bottle_start() {
	local ws=$1
	mkdir -p "$ws/cmd" &&
	cp "$ESCAPE/probe.py" "$ESCAPE/servers.py" "$ws/" &&
	cat >"$ws/agent.sh" <<-"EOF" &&
	# Run each cmd/NAME.sh dropped here (stdout and stderr to NAME.out, the
	# status to NAME.rc) until cmd/exit exists; at most 15 minutes.
	cd /workspace
	end=$(($(date +%s) + 900))
	touch started
	while [ ! -e cmd/exit ] && [ "$(date +%s)" -lt "$end" ]; do
		for f in cmd/*.sh; do
			[ -e "$f" ] || continue
			n=${f%.sh}
			sh "$f" >"$n.out" 2>&1 </dev/null
			echo $? >"$n.rc.tmp" && mv "$n.rc.tmp" "$n.rc" && rm "$f"
		done
		sleep 0.1
	done
	EOF
	("$BOTTLE_HOST" start escape --cwd "$ws" </dev/null >"$ws.out" 2>"$ws.err" 9<&-
	 echo $? >"$ws.code") 9<&- &
	wait_for 180 "test -e $ws/started -o -e $ws.code" &&
	test ! -e "$ws.code" || { cat "$ws.err"; return 1; }
	sed -n 's/^bottle-host: bottle \([a-z0-9-]*\) (state.*/\1/p' "$ws.err" | head -n 1 >"$ws/slug"
	test -s "$ws/slug"
}

# bottle_end WS: ask the agent to exit and wait for start to return.
bottle_end() {
	local ws=$1
	[ -d "$ws/cmd" ] || return 0
	touch "$ws/cmd/exit"
	wait_for 120 "test -e $ws.code"
}

# agent_run WS: run the script on stdin in WS's agent; prints its output,
# returns its status.
agent_run() {
	local ws=$1 name
	name=$(date +%s%N)
	cat >"$ws/cmd/$name.tmp" && mv "$ws/cmd/$name.tmp" "$ws/cmd/$name.sh" &&
	wait_for 600 "test -e $ws/cmd/$name.rc" &&
	cat "$ws/cmd/$name.out" &&
	return "$(cat "$ws/cmd/$name.rc")"
}

# inspect_ip CONTAINER NETWORK: the container's address on NETWORK.
inspect_ip() {
	$ENGINE inspect --format "{{(index .NetworkSettings.Networks \"$2\").IPAddress}}" "$1"
}

# bridge_of NETWORK: the host interface of a podman network.
bridge_of() {
	$ENGINE network inspect --format "{{.NetworkInterface}}" "$1"
}

# in_netns CONTAINER COMMAND...: COMMAND in CONTAINER's network namespace
# (the host's tools, the container's position on the network).
in_netns() {
	local pid
	pid=$($ENGINE inspect --format "{{.State.Pid}}" "$1") && shift &&
	nsenter --net="/proc/$pid/ns/net" "$@"
}

# Every line of FILE must end with a word other than WORDS (open, reply,
# answer ...): a probe that got through.
none_got_through() {
	if grep -E " (open|reply|answer [0-9.]+|route|opened)$" "$1"; then
		echo "^ got through"
		return 1
	fi
}

# Every line of FILE ends with open, reply or an answer: the control.
all_got_through() {
	if grep -vE " (open|reply|answer [0-9.]+)$" "$1"; then
		echo "^ control failed: the target is not there"
		return 1
	fi
}

# bottle_record WS: note what the engine made for WS's bottle (container
# ids and network namespaces, network names) for leftovers_none.
bottle_record() {
	local slug c
	slug=$(cat "$1/slug") &&
	for c in agent bundle; do
		$ENGINE inspect --format "{{.Id}} {{.NetworkSettings.SandboxKey}}" \
			"bottle-$slug-$c" >>"$TEST_SCRATCH/engine-objects" || return 1
	done &&
	echo "bottle-$slug-internal bottle-$slug-egress" >>"$TEST_SCRATCH/networks"
}

# leftovers_none SLUG...: nothing of these ended bottles is left: no
# container, network, state directory, env file, temp file, CNI config,
# address reservation, container storage, network namespace or firewall
# rule naming a container.  Prints what it finds.
leftovers_none() {
	local slug id sandbox
	for slug in "$@"; do
		$ENGINE ps -a --format "{{.Names}}" | grep "$slug" && return 1
		$ENGINE ps -a --filter "label=bottle.slug=$slug" --format "{{.Names}}" | grep . && return 1
		$ENGINE network ls --format "{{.Name}}" | grep "$slug" && return 1
		test ! -e "$STATE/$slug" || { echo "$STATE/$slug is left"; return 1; }
		ls /tmp /var/tmp /run | grep "$slug" && return 1
		ls /etc/cni/net.d 2>/dev/null | grep "$slug" && return 1
		# podman 4's CNI backend leaves host-local IPAM's bookkeeping
		# (last_reserved_ip.0, lock) of a removed network; no address
		# reservation may stay (docs/security.md, "Sandbox escape").
		ls /var/lib/cni/networks/bottle-$slug-* 2>/dev/null |
			grep -vE "^(/.*:|last_reserved_ip\.0|lock|)$" && return 1
	done
	find "$STATE" "$QUEUE" -name "*.env" | grep . && return 1
	while read -r id sandbox; do
		test -n "$id" || return 1
		if [ -n "$sandbox" ] && [ -e "$sandbox" ]; then
			echo "network namespace $sandbox is left"
			return 1
		fi
		find /var/lib/containers /run/containers /run/libpod /run/netns /tmp -maxdepth 4 \
			-name "*$id*" 2>/dev/null | grep . && return 1
		iptables-save | grep "$id" && return 1
	done <"$TEST_SCRATCH/engine-objects"
	return 0
}

# processes_none: no process left whose command line names the scratch
# directory (the servers, the launchers).  The pattern is read from a file
# so grep's own command line does not match.
processes_none() {
	printf "%s\n" "$TEST_SCRATCH" >"$TEST_SCRATCH/scratch.pattern"
	! grep -lFf "$TEST_SCRATCH/scratch.pattern" /proc/[0-9]*/cmdline 2>/dev/null
}

suite_cleanup() {
	local ws
	for ws in "$TEST_SCRATCH"/a "$TEST_SCRATCH"/b; do
		bottle_end "$ws" >/dev/null 2>&1
		[ -s "$ws/slug" ] && "$BOTTLE_HOST" stop --time 1 "$(cat "$ws/slug")" >/dev/null 2>&1
	done
	servers_stop
	netns_remove "${TAG}i" "$INTERNET"
	netns_remove "${TAG}m" "$METADATA"
}
test_at_exit suite_cleanup

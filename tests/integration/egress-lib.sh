# Shared setup for the egress integration tests (t20NN-egress-*.sh): a PKI
# made with openssl, Node origins on loopback, and `sidecar egress` run
# straight from the build on 127.0.0.1 (t2100 covers it in the image).
# Source it instead of lib.sh:
#
#   . "$(dirname "$0")/egress-lib.sh"
#   test_expect_success 'set up' 'egress_setup "    matches: ..."'
#   test_expect_success 'it passes' 'egress_curl --fail "https://localhost:$TLS_PORT/x"'
#
# or, for other layouts, egress_pki, origin_start NAME ARGS, egress_route
# and egress_start ROUTES-FILE.  Everything started here is killed when the
# script ends.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
test_skip_unless openssl
test_skip_unless curl
test_skip_unless node
test_skip_unless ss

EGRESS_JS=$TEST_ROOT/tests/integration/egress
PKI=$TEST_SCRATCH/pki
EGRESS_DIR=$TEST_SCRATCH/egress
# Tests run in subshells, so what they start is noted in files and killed
# from here, by process id.
: >"$TEST_SCRATCH/pids"
: >"$TEST_SCRATCH/ports"
egress_kill_started() {
	local pid
	while read -r pid; do
		kill "$pid" 2>/dev/null
	done <"$TEST_SCRATCH/pids"
}
test_at_exit egress_kill_started

EGRESS_PORT=$(free_port)

egress_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
		-keyout "$PKI/$1.key" -out "$PKI/$1.crt" -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

# egress_leaf NAME CA SAN-NAME: a leaf for SAN-NAME signed by CA.
egress_leaf() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$PKI/$1.key" -out "$PKI/$1.csr" -subj "/CN=$3" 2>/dev/null &&
	printf 'subjectAltName=DNS:%s\nextendedKeyUsage=serverAuth\n' "$3" >"$PKI/$1.ext" &&
	openssl x509 -req -in "$PKI/$1.csr" -CA "$PKI/$2.crt" -CAkey "$PKI/$2.key" \
		-CAcreateserial -days 2 -out "$PKI/$1.crt" -extfile "$PKI/$1.ext" 2>/dev/null
}

# The bottle CA (EC P-256, as bottle-host makes it), the origin CA egress
# trusts upstream, a leaf for localhost, a leaf that names another host, and
# a localhost leaf from a CA egress does not know.
egress_pki() {
	mkdir -p "$PKI" &&
	egress_ca ca "bottle test CA" &&
	egress_ca origin-ca "origin test CA" &&
	egress_ca rogue-ca "rogue test CA" &&
	egress_leaf localhost origin-ca localhost &&
	egress_leaf wrong-name origin-ca other.test &&
	egress_leaf rogue rogue-ca localhost
}

# origin_start NAME ARGS...: a Node origin (egress/origin.js) whose notes
# go to $TEST_SCRATCH/origin-NAME; returns once it listens.
origin_start() {
	local dir=$TEST_SCRATCH/origin-$1
	shift
	mkdir -p "$dir" && : >"$dir/requests" && : >"$dir/connections" || return 1
	node "$EGRESS_JS/origin.js" --dir "$dir" "$@" >"$dir/out" 2>&1 &
	echo $! >"$dir/pid"
	echo $! >>"$TEST_SCRATCH/pids"
	wait_for 10 "test -f $dir/ready" || { cat "$dir/out" >&2; return 1; }
}

origin_requests() {
	cat "$TEST_SCRATCH/origin-$1/requests"
}

# egress_route PORT...: a route for the loopback origin on those ports (as
# routes.yaml lines); more keys of it may follow, four spaces in.
egress_route() {
	local IFS=,
	printf '  - host: localhost\n    ports: [%s]\n    addresses: [127.0.0.1, "::1"]\n' "$*"
}

# egress_setup [ROUTE-KEYS]: the PKI, origin "o" serving HTTPS on
# $TLS_PORT and HTTP on $HTTP_PORT, and egress with one route for both
# ports, ROUTE-KEYS (YAML lines, four spaces in) added to it.
TLS_PORT=$(free_port)
HTTP_PORT=$(free_port)
egress_setup() {
	egress_pki &&
	{
		printf 'log: all\nroutes:\n'
		egress_route "$TLS_PORT" "$HTTP_PORT"
		printf '%s' "${1:-}"
	} >"$TEST_SCRATCH/routes.yaml" &&
	origin_start o --tls-port "$TLS_PORT" --http-port "$HTTP_PORT" \
		--cert "$PKI/localhost.crt" --key "$PKI/localhost.key" &&
	egress_start "$TEST_SCRATCH/routes.yaml"
}

# egress_start ROUTES-FILE [EGRESS-OPTIONS...]: run egress on $EGRESS_PORT
# (loopback) with the bottle CA, trusting only the origin CA upstream.
# Decision lines go to $EGRESS_DIR/stdout, diagnostics to
# $EGRESS_DIR/stderr.  The environment (auth tokens, DLP secrets) is
# inherited; nothing secret goes on the command line.
egress_start() {
	mkdir -p "$EGRESS_DIR" && : >"$EGRESS_DIR/ready" || return 1
	"$SIDECAR" egress --listen "127.0.0.1:$EGRESS_PORT" --routes "$1" \
		--ca-cert "$PKI/ca.crt" --ca-key "$PKI/ca.key" --upstream-ca "$PKI/origin-ca.crt" \
		--ready-fd 3 "${@:2}" 3>"$EGRESS_DIR/ready" >"$EGRESS_DIR/stdout" 2>"$EGRESS_DIR/stderr" &
	echo $! >"$EGRESS_DIR/pid"
	echo $! >>"$TEST_SCRATCH/pids"
	wait_for 10 "test -s $EGRESS_DIR/ready" || { cat "$EGRESS_DIR/stderr" >&2; return 1; }
}

# SIGHUP; returns once egress reports the new routes took (a line on
# --ready-fd), or fails.
egress_reload() {
	local before
	before=$(wc -l <"$EGRESS_DIR/ready")
	kill -HUP "$(cat "$EGRESS_DIR/pid")" &&
	wait_for 10 "test \$(wc -l <$EGRESS_DIR/ready) -gt $before"
}

# GET http://_egress.local/stats: egress's counters as JSON.
egress_stats() {
	curl -sS --max-time 10 --proxy "http://127.0.0.1:$EGRESS_PORT" http://_egress.local/stats
}

# egress_stat PATH: one counter ("rejected.cl_and_te", "connections.open");
# fails if there is none.
egress_stat() {
	egress_stats | python3 -c '
import json, sys
value = json.load(sys.stdin)
for key in sys.argv[1].split("."):
    value = value[key]
print(value)' "$1"
}

# How many threads egress runs now.
egress_threads() {
	ls "/proc/$(cat "$EGRESS_DIR/pid")/task" | wc -l
}

# The peak resident memory of egress so far, in kB.
egress_vmhwm_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$(cat "$EGRESS_DIR/pid")/status"
}

egress_curl() {
	curl -sS --max-time 60 --proxy "http://127.0.0.1:$EGRESS_PORT" --cacert "$PKI/ca.crt" "$@"
}

# egress_node MODE ARGS: egress/client.js through egress, trusting the
# bottle CA (or $EGRESS_NODE_CA).
egress_node() {
	NODE_EXTRA_CA_CERTS=${EGRESS_NODE_CA:-$PKI/ca.crt} node "$EGRESS_JS/client.js" "$1" \
		--proxy "127.0.0.1:$EGRESS_PORT" "${@:2}"
}

# egress_s_client HOST:PORT [openssl args]: a TLS session through a CONNECT
# tunnel; stdin is sent once the handshake is done, and the session lasts
# until the server closes it (send Connection: close).
egress_s_client() {
	local target=$1
	shift
	timeout 20 openssl s_client -proxy "127.0.0.1:$EGRESS_PORT" -connect "$target" \
		-ign_eof "$@"
}

# egress_s_get PORT PATH: GET https://localhost:PORT/PATH with openssl
# through a CONNECT tunnel; prints the response.
egress_s_get() {
	printf 'GET %s HTTP/1.1\r\nHost: localhost:%s\r\nConnection: close\r\n\r\n' "$2" "$1" |
		egress_s_client "localhost:$1" -servername localhost -quiet 2>/dev/null
}

# egress_s_handshake HOST:PORT [openssl args]: just the handshake through a
# CONNECT tunnel; prints what s_client saw (the certificates).
egress_s_handshake() {
	local target=$1
	shift
	timeout 20 openssl s_client -proxy "127.0.0.1:$EGRESS_PORT" -connect "$target" \
		"$@" </dev/null
}

# egress_raw: send stdin as it is on a plain connection to egress and
# print everything egress answers until it closes the connection.
egress_raw() {
	timeout 20 bash -c "exec 5<>/dev/tcp/127.0.0.1/$EGRESS_PORT && cat >&5 && cat <&5"
}

# The SHA-256 fingerprint of a PEM certificate, as openssl prints it.
cert_fingerprint() {
	openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}

# Fails, showing its diagnostics, unless egress is still running: a test
# file ends with it so that a crash anywhere shows up.
egress_alive() {
	kill -0 "$(cat "$EGRESS_DIR/pid")" 2>/dev/null || { cat "$EGRESS_DIR/stderr" >&2; return 1; }
}

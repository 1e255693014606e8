#!/usr/bin/env bash
# Egress benchmark: the same HTTPS load through egress, squid ssl-bump,
# mitmproxy, and straight to the origin, in one run.  Prints one table with
# the absolute figures and egress's ratios to the others; docs/egress-bench.md
# explains the figures and records a full run.
#
#   bench/egress/run.sh            full run (a few minutes)
#   bench/egress/run.sh --quick    a couple of seconds per figure
#
# Everything runs on loopback from a throwaway directory and is torn down on
# exit.  Missing tools are installed with apt-get (needs root).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=0
only=""
figures_only=""
perf_dir=""
secs_override=""
sidecar_override=""
secrets=0
egress_extra=()
for arg in "$@"; do
	case $arg in
	--quick) quick=1 ;;
	--only=*) only=${arg#--only=} ;; # e.g. --only=direct,egress while developing
	--figures=*) figures_only=${arg#--figures=} ;;
	--secs=*) secs_override=${arg#--secs=} ;;
	--sidecar=*) sidecar_override=${arg#--sidecar=} ;;
	--perf=*) perf_dir=$(mkdir -p "${arg#--perf=}" && cd "${arg#--perf=}" && pwd) ;;
	--no-dlp) egress_extra+=(--no-dlp) ;;
	--secrets=*) secrets=${arg#--secrets=} ;;
	-h | --help)
		sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
		echo "  --only=LIST    run only these of direct,egress,squid,mitmproxy"
		echo "  --figures=LIST measure only these of hold,get1,get16,handshake,download,upload"
		echo "  --secs=N       seconds per figure (default 10, 2 with --quick)"
		echo "  --sidecar=PATH the sidecar binary to measure (default build/sidecar)"
		echo "  --perf=DIR     run egress unstripped and record DIR/egress-FIGURE.data"
		echo "  --no-dlp       egress without its DLP scan (squid inspects nothing either)"
		echo "  --secrets=N    egress's DLP also looks for N known secrets (random 40-character"
		echo "                 tokens), as a bottle's injected credentials are; default 0"
		echo "                 with perf record -g for each figure"
		exit 0
		;;
	*)
		echo "run.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

if ((quick)); then
	secs=2 hold_n=200
else
	secs=10 hold_n=1000
fi
[ -n "$secs_override" ] && secs=$secs_override
handshake_conns=4

die() {
	echo "run.sh: $*" >&2
	exit 1
}

# --- tools ------------------------------------------------------------------

need_pkgs=()
command -v mitmdump >/dev/null || need_pkgs+=(mitmproxy)
[ -x /usr/lib/squid/security_file_certgen ] && command -v squid >/dev/null || need_pkgs+=(squid-openssl)
command -v nginx >/dev/null || need_pkgs+=(nginx-light)
command -v gcc >/dev/null || need_pkgs+=(gcc)
command -v musl-gcc >/dev/null || need_pkgs+=(musl-tools)
command -v pgrep >/dev/null || need_pkgs+=(procps)
[ -z "$perf_dir" ] || command -v perf >/dev/null || need_pkgs+=(linux-perf)
command -v openssl >/dev/null || need_pkgs+=(openssl)
[ -f /usr/include/openssl/ssl.h ] || need_pkgs+=(libssl-dev)
if ((${#need_pkgs[@]})); then
	[ "$(id -u)" = 0 ] || die "missing ${need_pkgs[*]} and not root to install them"
	echo "installing ${need_pkgs[*]}"
	export DEBIAN_FRONTEND=noninteractive
	# A stale package index is the usual reason an install fails.
	apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null ||
		{ apt-get update >/dev/null && apt-get install -y --no-install-recommends "${need_pkgs[@]}" >/dev/null; }
fi

[ -x "$root/build/sidecar" ] || make -C "$root" -j2 all >/dev/null
sidecar=$root/build/sidecar
# Symbols for perf; the code is the same.
[ -n "$perf_dir" ] && sidecar=$root/build/sidecar.unstripped
[ -n "$sidecar_override" ] && sidecar=$sidecar_override
[ -x "$sidecar" ] || die "no sidecar binary at $sidecar"

T=$(mktemp -d /tmp/bench-egress.XXXXXX)
# squid and nginx drop to their own users and must read their files.
chmod 755 "$T"
pgids=()
cleanup() {
	local g
	for g in "${pgids[@]}"; do
		kill -TERM -- "-$g" 2>/dev/null || true
	done
	sleep 0.5
	for g in "${pgids[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null || true
	done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ulimit -n 20000 2>/dev/null || true
gcc -O2 -Wall -Wextra -Werror -pthread -o "$T/loadgen" "$here/loadgen.c" -lssl -lcrypto
# The same mbedTLS objects and configuration as build/sidecar.
musl-gcc -std=c11 -D_GNU_SOURCE -O2 -Wall -Wextra -Werror -isystem "$root/build/sysroot/include" \
	-static -L"$root/build/sysroot/lib" -o "$T/crypto_ceiling" "$here/crypto_ceiling.c" -lmbedcrypto

# --- ports ------------------------------------------------------------------

port_free() {
	! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
pick_port() { # start
	local p=$1
	while ! port_free "$p"; do p=$((p + 1)); done
	echo "$p"
}
origin_port=$(pick_port 18443)
null_port=$(pick_port $((origin_port + 1)))
egress_port=$(pick_port $((null_port + 1)))
squid_port=$(pick_port $((egress_port + 1)))
mitm_port=$(pick_port $((squid_port + 1)))

wait_port() { # port what logfile [pid]
	local i
	for i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			# Another program may have taken the port between pick_port
			# and the start: then ours has exited.
			if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
				echo "run.sh: $2 exited, and port $1 answers for something else; its log:" >&2
				tail -20 "$3" >&2 || true
				return 1
			fi
			return 0
		fi
		sleep 0.1
	done
	echo "run.sh: $2 did not start listening on port $1; its log:" >&2
	tail -20 "$3" >&2 || true
	return 1
}

# start NAME LOG CMD...: runs CMD in its own process group so the group
# can be measured (squid's helpers count) and stopped as a whole.
start() {
	local name=$1 log=$2
	shift 2
	setsid "$@" >"$log" 2>&1 &
	local pid=$!
	pgids+=("$pid")
	eval "pgid_$name=$pid"
}

# --- PKI --------------------------------------------------------------------

ca() { # name subject
	openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
		-keyout "$T/$1.key" -out "$T/$1.crt" -days 2 -subj "/CN=$2" \
		-addext basicConstraints=critical,CA:true \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
ca egress-ca "bench bottle egress CA"
ca squid-ca "bench squid CA"
ca mitm-ca "bench mitmproxy CA"
ca origin-ca "bench origin CA"
openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
	-keyout "$T/origin.key" -out "$T/origin.csr" -subj "/CN=localhost" 2>/dev/null
openssl x509 -req -in "$T/origin.csr" -CA "$T/origin-ca.crt" -CAkey "$T/origin-ca.key" \
	-CAcreateserial -out "$T/origin.crt" -days 2 \
	-extfile <(printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
		"basicConstraints=CA:false" "keyUsage=digitalSignature" \
		"extendedKeyUsage=serverAuth") 2>/dev/null
chmod 644 "$T"/*.key

# --- origin -----------------------------------------------------------------

mkdir -p "$T/www" "$T/nginx-tmp"
chmod 777 "$T/nginx-tmp"
head -c 128 /dev/zero | tr '\0' 'x' >"$T/www/small"
head -c $((10 * 1024 * 1024)) /dev/urandom >"$T/www/10m"
chmod 644 "$T/www"/*
# /upload: nginx reads the whole body before it proxies (request buffering),
# so the 200 comes after the last byte, as from a real API; the body itself
# is not passed on (proxy_pass_request_body off) and stays in memory
# (client_body_buffer_size), so the origin adds no disk or second copy.
cat >"$T/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 20000;
pid $T/nginx.pid;
error_log $T/nginx-error.log error;
daemon off;
events { worker_connections 8192; }
http {
	access_log off;
	client_body_temp_path $T/nginx-tmp/body;
	proxy_temp_path $T/nginx-tmp/proxy;
	keepalive_timeout 600s;
	keepalive_requests 100000000;
	default_type application/octet-stream;
	upstream null { server 127.0.0.1:$null_port; keepalive 32; }
	server {
		listen 127.0.0.1:$origin_port ssl;
		listen [::1]:$origin_port ssl;
		server_name localhost;
		ssl_certificate $T/origin.crt;
		ssl_certificate_key $T/origin.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		root $T/www;
		location = /upload {
			client_max_body_size 64m;
			client_body_buffer_size 16m;
			proxy_pass http://null;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_pass_request_body off;
			proxy_set_header Content-Length "";
		}
	}
	server {
		listen 127.0.0.1:$null_port;
		location / { return 200 "ok\n"; }
	}
}
EOF
start nginx "$T/nginx.log" nginx -c "$T/nginx.conf"
wait_port "$origin_port" nginx "$T/nginx-error.log"

# --- proxies ----------------------------------------------------------------

start_egress() {
	local i
	for ((i = 1; i <= secrets; i++)); do
		export "BENCH_SECRET_$i=$(head -c 30 /dev/urandom | base64 | tr -d '/+=' | head -c 40)"
	done
	((secrets == 0)) || egress_extra+=(--secret-env-prefix BENCH_SECRET_)
	cat >"$T/routes.yaml" <<EOF
log: off
routes:
  - host: localhost
    ports: [$origin_port]
    addresses: [127.0.0.1, "::1"]
EOF
	start egress "$T/egress.log" "$sidecar" egress --listen "127.0.0.1:$egress_port" \
		--routes "$T/routes.yaml" --ca-cert "$T/egress-ca.crt" --ca-key "$T/egress-ca.key" \
		--upstream-ca "$T/origin-ca.crt" "${egress_extra[@]}"
	wait_port "$egress_port" egress "$T/egress.log" "$pgid_egress"
}

start_squid() {
	local certgen=/usr/lib/squid/security_file_certgen
	cat "$T/squid-ca.crt" "$T/squid-ca.key" >"$T/squid-ca.pem"
	"$certgen" -c -s "$T/squid-ssldb" -M 16MB >/dev/null
	# squid drops to the proxy user and must write these.
	: >"$T/squid-cache.log"
	chown -R proxy:proxy "$T/squid-ssldb" "$T/squid-cache.log"
	cat >"$T/squid.conf" <<EOF
http_port 127.0.0.1:$squid_port ssl-bump tls-cert=$T/squid-ca.pem generate-host-certificates=on dynamic_cert_mem_cache_size=16MB
sslcrtd_program $certgen -s $T/squid-ssldb -M 16MB
sslcrtd_children 8 startup=1 idle=1
ssl_bump bump all
tls_outgoing_options cafile=$T/origin-ca.crt
http_access allow all
cache deny all
cache_mem 0 MB
maximum_object_size_in_memory 0 KB
memory_pools off
access_log none
cache_store_log none
cache_log $T/squid-cache.log
logfile_rotate 0
pid_filename none
coredump_dir $T
max_filedescriptors 20000
via off
forwarded_for delete
shutdown_lifetime 1 seconds
pinger_enable off
EOF
	start squid "$T/squid.log" squid -N -f "$T/squid.conf"
	wait_port "$squid_port" squid "$T/squid-cache.log" "$pgid_squid"
}

start_mitmproxy() {
	mkdir -p "$T/mitm"
	cat "$T/mitm-ca.key" "$T/mitm-ca.crt" >"$T/mitm/mitmproxy-ca.pem"
	# To be fair to a proxy that inspects bodies: every request body is
	# scanned for a few credential shapes, as egress's DLP will.
	cat >"$T/scan.py" <<'EOF'
import re
from mitmproxy import http

SECRET = re.compile(rb"AKIA[0-9A-Z]{16}|sk-[A-Za-z0-9_-]{20,}|ghp_[A-Za-z0-9]{36}|-----BEGIN [A-Z ]*PRIVATE KEY-----")


class Scan:
    def request(self, flow: http.HTTPFlow) -> None:
        body = flow.request.raw_content
        if body and SECRET.search(body):
            flow.response = http.Response.make(403, b"secret in body\n")


addons = [Scan()]
EOF
	start mitmproxy "$T/mitmproxy.log" mitmdump -q --listen-host 127.0.0.1 \
		--listen-port "$mitm_port" --set confdir="$T/mitm" \
		--set ssl_verify_upstream_trusted_ca="$T/origin-ca.crt" -s "$T/scan.py"
	wait_port "$mitm_port" mitmproxy "$T/mitmproxy.log" "$pgid_mitmproxy"
}

# --- measuring --------------------------------------------------------------

declare -A R
targets=(direct egress squid mitmproxy)
[ -n "$only" ] && IFS=, read -r -a targets <<<"$only"

group_pids() { pgrep -g "$1" || true; }

# Sum of a /proc/PID/status field (kB) over a process group.
group_status_kb() { # pgid field
	local pid sum=0 v
	for pid in $(group_pids "$1"); do
		v=$(awk -v f="$2:" '$1 == f { print $2 }' "/proc/$pid/status" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

# CPU ticks (user+system) used so far by a process group.
group_ticks() {
	local pid sum=0 v
	for pid in $(group_pids "$1"); do
		v=$(awk '{ print $14 + $15 }' "/proc/$pid/stat" 2>/dev/null || true)
		sum=$((sum + ${v:-0}))
	done
	echo "$sum"
}

field() { # line key
	sed -n "s/.*\b$2=\([^ ]*\).*/\1/p" <<<"$1"
}

# wanted FIGURE: whether --figures (if given) names it.
wanted() {
	[ -z "$figures_only" ] || [[ ",$figures_only," == *",$1,"* ]]
}

# measure TARGET KEY LOADGEN-ARGS...: one loadgen run; its figures and the
# CPU the server side used meanwhile go into R.
measure() {
	local target=$1 key=$2 pgid t0 t1 w0 w1 line
	shift 2
	wanted "$key" || return 0
	pgid=$(eval echo "\$pgid_$target")
	t0=$(group_ticks "$pgid")
	local perf_pid=""
	if [ -n "$perf_dir" ] && [ "$target" = egress ]; then
		perf record -q -F 499 --call-graph dwarf,16384 -p "$pgid" -o "$perf_dir/egress-$key.data" 2>/dev/null &
		perf_pid=$!
		sleep 0.3
	fi
	w0=$(date +%s.%N)
	# A proxy that stops answering must not hang the run: loadgen gets
	# its seconds and a minute more.
	if ! line=$(timeout $((secs + 60)) "$T/loadgen" "$@" "${via[@]}" 2>"$T/loadgen.err"); then
		echo "  $key failed: $(tail -1 "$T/loadgen.err")" >&2
		line=""
	fi
	w1=$(date +%s.%N)
	if [ -n "$perf_pid" ]; then
		kill -INT "$perf_pid" 2>/dev/null || true
		wait "$perf_pid" 2>/dev/null || true
	fi
	[ -n "$line" ] || return 0
	t1=$(group_ticks "$pgid")
	R[$target,$key]=$line
	R[$target,$key,server_cpu]=$(awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" \
		-v w0="$w0" -v w1="$w1" 'BEGIN { printf "%.0f", 100 * t / hz / (w1 - w0) }')
	echo "  $key: $line server_cpu=${R[$target,$key,server_cpu]}%" >&2
	sed 's/^/    /' "$T/loadgen.err" >&2
}

# measure_hold TARGET: RSS of the server side before and while it holds
# hold_n idle keep-alive connections, each after one GET.
measure_hold() {
	local target=$1 pgid before after hwm line held lg
	pgid=$(eval echo "\$pgid_$target")
	[ "$target" = direct ] && pgid=$pgid_nginx
	sleep 1
	before=$(group_status_kb "$pgid" VmRSS)
	"$T/loadgen" hold -c "$hold_n" "${via[@]}" --path /small >"$T/hold.out" 2>"$T/loadgen.err" &
	lg=$!
	for _ in $(seq 1 600); do
		[ -s "$T/hold.out" ] && break
		kill -0 "$lg" 2>/dev/null || break
		sleep 0.1
	done
	# Idle means idle: egress gives back a connection's buffers and stack
	# pages after 1 s without a request, others may do the like.
	sleep 3
	after=$(group_status_kb "$pgid" VmRSS)
	hwm=$(group_status_kb "$pgid" VmHWM)
	kill -TERM "$lg" 2>/dev/null || true
	wait "$lg" 2>/dev/null || true
	line=$(cat "$T/hold.out")
	held=$(field "$line" held)
	if [ -n "$held" ] && [ "$held" -gt 0 ]; then
		R[$target,rss_per_conn]=$(awk -v a="$after" -v b="$before" -v n="$held" \
			'BEGIN { printf "%.1f", (a - b) / n }')
		R[$target,rss_peak]=$(awk -v h="$hwm" 'BEGIN { printf "%.1f", h / 1024 }')
		R[$target,rss_held]=$held
	fi
	echo "  hold: $line rss_before=${before}kB rss_after=${after}kB hwm=${hwm}kB" >&2
}

run_target() {
	local target=$1 pgid
	case $target in
	direct)
		pgid_direct=$pgid_nginx
		via=(--addr 127.0.0.1 --ca "$T/origin-ca.crt")
		;;
	egress)
		start_egress
		via=(--proxy "127.0.0.1:$egress_port" --ca "$T/egress-ca.crt")
		;;
	squid)
		start_squid
		via=(--proxy "127.0.0.1:$squid_port" --ca "$T/squid-ca.crt")
		;;
	mitmproxy)
		start_mitmproxy
		via=(--proxy "127.0.0.1:$mitm_port" --ca "$T/mitm-ca.crt")
		;;
	*) die "unknown target '$target'" ;;
	esac
	via+=(--host localhost --port "$origin_port")
	echo "== $target" >&2
	# One short run first: leaves minted, sessions cached, pools warm, as
	# in a proxy that has been up for a while.
	"$T/loadgen" get -c 2 -d 0.5 "${via[@]}" >/dev/null 2>"$T/loadgen.err" ||
		{ echo "  $target does not work: $(tail -1 "$T/loadgen.err")" >&2; return 0; }
	# Memory first, while the proxy holds nothing but the warm-up's state:
	# after the 10 MB transfers a proxy's heap (mitmproxy's above all) is
	# still shrinking, which would drown the per-connection figure.
	! wanted hold || measure_hold "$target"
	measure "$target" get1 get -c 1 -d "$secs" --path /small
	measure "$target" get16 get -c 16 -d "$secs" --path /small
	measure "$target" handshake handshake -c "$handshake_conns" -d "$secs" --path /small
	measure "$target" download download -c 1 -d "$secs" --path /10m
	measure "$target" upload upload -c 1 -d "$secs" --size $((10 * 1024 * 1024))

	pgid=$(eval echo "\$pgid_$target")
	case $target in
	direct) ;;
	*)
		kill -TERM -- "-$pgid" 2>/dev/null || true
		for _ in $(seq 1 30); do
			[ -z "$(group_pids "$pgid")" ] && break
			sleep 0.1
		done
		kill -KILL -- "-$pgid" 2>/dev/null || true
		;;
	esac
}

# Measured first, while nothing else of ours runs.
crypto=$("$T/crypto_ceiling" $( ((quick)) && echo --quick))

pkg_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }
echo "versions: nginx-light $(pkg_version nginx-light), squid-openssl $(pkg_version squid-openssl)," \
	"mitmproxy $(pkg_version mitmproxy), client libssl3 $(pkg_version libssl3)," \
	"mbedTLS $(sed -n 's/.*MBEDTLS_VERSION_STRING  *"\(.*\)".*/\1/p' "$root/build/sysroot/include/mbedtls/build_info.h")," \
	"kernel $(uname -r), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)" >&2
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) ($(nproc) cpus); $( ((quick)) && echo quick || echo full) run, ${secs}s per figure" >&2
for t in "${targets[@]}"; do
	run_target "$t"
done

# --- table ------------------------------------------------------------------

# value TARGET FIGURE: the number for one cell, empty if not measured.
value() {
	local line
	case $2 in
	rss_per_conn | rss_peak) echo "${R[$1,$2]:-}"; return ;;
	get1_rps) line=${R[$1,get1]:-}; field "$line" rps ;;
	get1_p50) line=${R[$1,get1]:-}; field "$line" p50_us ;;
	get1_p99) line=${R[$1,get1]:-}; field "$line" p99_us ;;
	get16_rps) line=${R[$1,get16]:-}; field "$line" rps ;;
	get16_p50) line=${R[$1,get16]:-}; field "$line" p50_us ;;
	get16_p99) line=${R[$1,get16]:-}; field "$line" p99_us ;;
	handshake) line=${R[$1,handshake]:-}; field "$line" hps ;;
	download) line=${R[$1,download]:-}; field "$line" mbps ;;
	upload) line=${R[$1,upload]:-}; field "$line" mbps ;;
	esac
}

ratio() { # a b
	if [ -z "$1" ] || [ -z "$2" ]; then echo "-"; return; fi
	awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "-"; else printf "%.2f", a / b }'
}

figures=(get1_rps get1_p50 get1_p99 get16_rps get16_p50 get16_p99 handshake download upload rss_per_conn rss_peak)
declare -A label=(
	[get1_rps]="GET 128 B, 1 conn, req/s"
	[get1_p50]="  p50 latency, us"
	[get1_p99]="  p99 latency, us"
	[get16_rps]="GET 128 B, 16 conns, req/s"
	[get16_p50]="  p50 latency, us"
	[get16_p99]="  p99 latency, us"
	[handshake]="CONNECT+TLS+GET, $handshake_conns conns, /s"
	[download]="10 MiB download, MB/s"
	[upload]="10 MiB upload, MB/s"
	[rss_per_conn]="RSS per idle conn, KiB"
	[rss_peak]="peak RSS (VmHWM), MiB"
)

print_table() {
	local f
	printf '\n%-32s %9s %9s %9s %9s | %8s %8s %8s\n' figure direct egress squid mitmproxy \
		eg/direct eg/squid eg/mitm
	for f in "${figures[@]}"; do
		local d e s m
		d=$(value direct "$f")
		e=$(value egress "$f")
		s=$(value squid "$f")
		m=$(value mitmproxy "$f")
		printf '%-32s %9s %9s %9s %9s | %8s %8s %8s\n' "${label[$f]}" \
			"${d:--}" "${e:--}" "${s:--}" "${m:--}" \
			"$(ratio "$e" "$d")" "$(ratio "$e" "$s")" "$(ratio "$e" "$m")"
	done
	echo "(latency and RSS: lower is better; RSS of direct is nginx's, for scale)"
	printf '\nCPU while measuring, %% of one core: server side (nginx for direct, the proxy otherwise) / load client\n'
	printf '%-32s %13s %13s %13s %13s\n' figure direct egress squid mitmproxy
	for f in get1 get16 handshake download upload; do
		local t cells=()
		for t in direct egress squid mitmproxy; do
			if [ -n "${R[$t,$f]:-}" ]; then
				cells+=("${R[$t,$f,server_cpu]}/$(field "${R[$t,$f]}" client_cpu | tr -d %)")
			else
				cells+=(-)
			fi
		done
		printf '%-32s %13s %13s %13s %13s\n' "$f" "${cells[@]}"
	done
	printf '\nTLS seen by the client: '
	for t in direct egress squid mitmproxy; do
		[ -n "${R[$t,get1]:-}" ] && printf '%s=%s ' "$t" "$(field "${R[$t,get1]}" tls)"
	done
	echo
}
print_table

# check WHAT OK: one line of the issue's "done means", met or missed.
check() {
	local verdict
	case $2 in
	1) verdict=met ;;
	0) verdict=MISSED ;;
	*) verdict=n/a ;;
	esac
	printf '  %-6s %s\n' "$verdict" "$1"
}
cmp_ge() { # a b factor: 1 if a >= factor * b, 0 if not, nothing if one is missing
	[ -n "$1" ] && [ -n "$2" ] || return 0
	awk -v a="$1" -v b="$2" -v f="$3" 'BEGIN { print (a >= f * b) ? 1 : 0 }'
}
print_targets() {
	local f better=1 e s
	[ -n "$(value egress get1_rps)" ] && [ -n "$(value squid get1_rps)" ] || better=""
	echo
	echo "targets (issue 3, point 9):"
	for f in "${figures[@]}"; do
		e=$(value egress "$f")
		s=$(value squid "$f")
		[ -n "$better" ] || break
		case $f in
		*_p50 | *_p99 | rss_*) [ "$(cmp_ge "$s" "$e" 1)" = 0 ] && better=0 ;;
		*) [ "$(cmp_ge "$e" "$s" 1)" = 0 ] && better=0 ;;
		esac
	done
	check "egress ahead of squid on every figure" "$better"
	check "GET req/s at 1 connection >= 50% of direct" "$(cmp_ge "$(value egress get1_rps)" "$(value direct get1_rps)" 0.5)"
	check "GET req/s at 16 connections >= 50% of direct" "$(cmp_ge "$(value egress get16_rps)" "$(value direct get16_rps)" 0.5)"
	check "CONNECT+TLS handshakes/s >= squid" "$(cmp_ge "$(value egress handshake)" "$(value squid handshake)" 1)"
	check "10 MiB download MB/s >= squid" "$(cmp_ge "$(value egress download)" "$(value squid download)" 1)"
	check "10 MiB upload MB/s >= squid" "$(cmp_ge "$(value egress upload)" "$(value squid upload)" 1)"
	check "RSS per idle connection < 64 KiB" "$(cmp_ge 64 "$(value egress rss_per_conn)" 1.0000001)"
	echo "  (download/upload against 50% of direct and the crypto ceiling: below)"
}
print_targets

# --- crypto ceiling -----------------------------------------------------------

# MB/s of one mbedTLS AEAD from crypto_ceiling's output, by TLS suite name.
aead_rate() {
	local name
	case $1 in
	*AES_128_GCM*) name=AES-128-GCM ;;
	*AES_256_GCM*) name=AES-256-GCM ;;
	*CHACHA20*) name=ChaCha20-Poly1305 ;;
	*) return 0 ;;
	esac
	awk -v n="$name," '$1 == n { print $(NF - 1) }' <<<"$crypto"
}

printf '\nmbedTLS on this machine, one core (bench/egress/crypto_ceiling.c):\n%s\n' "$crypto"
agent_suite=$(field "${R[egress,download]:-}" tls)
if [ -n "$agent_suite" ]; then
	# egress offers AES-128-GCM first upstream and nginx follows the
	# client's order; the agent side is what the load client chose.
	up=$(aead_rate TLS_AES_128_GCM_SHA256)
	down=$(aead_rate "$agent_suite")
	awk -v u="$up" -v d="$down" -v s="$agent_suite" -v e="$(value egress download)" \
		-v f="$(value egress upload)" 'BEGIN {
		c = 1 / (1 / u + 1 / d)
		printf "crypto ceiling of one bumped transfer on one core (AES-128-GCM upstream, %s agent side): %.0f MB/s\n", s, c
		printf "egress reached %.0f%% of it downloading and %.0f%% uploading\n", 100 * e / c, 100 * f / c
	}'
fi

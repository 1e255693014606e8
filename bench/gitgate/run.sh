#!/usr/bin/env bash
# Git gate benchmark: clone and push of one medium repository through the
# gate (git:// and smart-HTTP) against git's own servers (`git daemon`, and
# `git http-backend` behind a minimal CGI server) on copies of the same
# repository, in one run; pushes also without DLP, and forwarded upstream.  Prints one table with the times and the gate's
# ratios; docs/gitgate-bench.md explains the figures and records a run.
#
#   bench/gitgate/run.sh            full run (5 rounds per figure, the best shown)
#   bench/gitgate/run.sh --quick    1 round, v2 clones only
#
# The repository (5000 commits, about 26 MiB packed, plus a 200-commit
# branch to push) is generated deterministically by gen_repo.py and cached
# under build/bench/gitgate/.  Everything runs on loopback from a throwaway
# directory torn down on exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

quick=0
keep=0
standin=0
rounds=""
sidecar=$root/build/sidecar
commits=5000
push_commits=200
for arg in "$@"; do
	case $arg in
	--quick) quick=1 ;;
	--standin) standin=1 ;;
	--keep) keep=1 ;;
	--rounds=*) rounds=${arg#--rounds=} ;;
	--sidecar=*) sidecar=${arg#--sidecar=} ;;
	-h | --help)
		sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
		echo "  --rounds=N     rounds per figure (default 5, 1 with --quick); the best is shown"
		echo "  --sidecar=PATH the sidecar binary to measure (default build/sidecar)"
		echo "  --keep         keep the servers' directory and logs (/tmp/bench-gitgate.*)"
		echo "  --standin      git's own servers in the gate's place too: tests this"
		echo "                 harness (every ratio should be near 1.0)"
		exit 0
		;;
	*)
		echo "run.sh: unknown argument '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done
if [ -z "$rounds" ]; then
	rounds=5
	((quick)) && rounds=1
fi
protocols=(2 0)
((quick)) && protocols=(2)

die() {
	echo "run.sh: $*" >&2
	exit 1
}

for tool in git gcc python3 ss; do
	command -v "$tool" >/dev/null || die "$tool is not installed"
done
backend=$(git --exec-path)/git-http-backend
[ -x "$backend" ] || die "no git-http-backend at $backend"
if ((!standin)); then
	[ -x "$sidecar" ] || make -C "$root" -j2 all >/dev/null
	[ -x "$sidecar" ] || die "no sidecar binary at $sidecar"
fi

# --- the repository, cached -----------------------------------------------

cache=$root/build/bench/gitgate
mkdir -p "$cache"
source_repo=$cache/source-$commits-$push_commits.git # main + bench-push: the pushing client
server_repo=$cache/server-$commits.git                # main only, packed as a server keeps it
if [ ! -f "$server_repo/.complete" ]; then
	echo "generating the benchmark repository ($commits commits; cached in $cache)"
	rm -rf "$source_repo" "$server_repo"
	git init -q --bare "$source_repo"
	python3 "$here/gen_repo.py" "$commits" "$push_commits" |
		git -C "$source_repo" fast-import --quiet --done
	# What a served repository looks like after gc: one pack with deltas
	# found, which git's servers reuse.
	git clone -q --bare --no-local --single-branch --branch main "$source_repo" "$server_repo"
	git -C "$server_repo" repack -q -a -d -f
	git -C "$server_repo" config http.receivepack true
	touch "$server_repo/.complete"
fi
main_id=$(git -C "$server_repo" rev-parse main)
push_id=$(git -C "$source_repo" rev-parse bench-push)
pack_bytes=$(du -bc "$server_repo"/objects/pack/*.pack | tail -1 | cut -f1)

# --- the servers ----------------------------------------------------------

T=$(mktemp -d /tmp/bench-gitgate.XXXXXX)
pgids=()
cleanup() {
	local g
	for g in "${pgids[@]}"; do
		kill -TERM -- "-$g" 2>/dev/null || true
	done
	sleep 0.3
	for g in "${pgids[@]}"; do
		kill -KILL -- "-$g" 2>/dev/null || true
	done
	if ((keep)); then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -O2 -Wall -Wextra -Werror -o "$T/cgi_server" "$here/cgi_server.c"

pick_port() {
	local port
	while :; do
		port=$((20000 + RANDOM % 12000))
		ss -Htan "sport = :$port" | grep -q . || break
	done
	echo "$port"
}

wait_port() { # port what logfile
	local i
	for i in $(seq 1 200); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
			return 0
		fi
		sleep 0.05
	done
	echo "run.sh: $2 did not start listening on port $1; its log:" >&2
	tail -20 "$3" >&2 || true
	return 1
}

# start LOG CMD...: CMD in its own process group, stopped as a whole.
start() {
	local log=$1
	shift
	setsid "$@" >"$log" 2>&1 &
	pgids+=("$!")
}

# Every server serves from its own directory: "clone" for the clones and a
# fresh "push-TRANSPORT-N" per push, all copies of the cached repository (a
# push to a copy that already holds the branch would send nothing).
make_root() { # dir
	local i transport
	mkdir -p "$1"
	cp -a "$server_repo" "$1/clone.git"
	for i in $(seq 1 "$rounds"); do
		for transport in git http; do
			cp -a "$server_repo" "$1/push-$transport-$i.git"
		done
	done
}

# git's own: git daemon for git://, git http-backend for smart-HTTP.
start_git_servers() { # name dir
	local name=$1 dir=$2 git_port http_port
	git_port=$(pick_port)
	http_port=$(pick_port)
	start "$T/$name-daemon.log" git daemon --listen=127.0.0.1 --port="$git_port" --reuseaddr \
		--export-all --enable=receive-pack --base-path="$dir" "$dir"
	wait_port "$git_port" "$name git daemon" "$T/$name-daemon.log"
	start "$T/$name-http.log" env GIT_PROJECT_ROOT="$dir" GIT_HTTP_EXPORT_ALL=1 \
		"$T/cgi_server" "$http_port" "$backend"
	wait_port "$http_port" "$name http-backend" "$T/$name-http.log"
	url[$name,git]=git://127.0.0.1:$git_port
	url[$name,http]=http://127.0.0.1:$http_port
}

# The gate with its data dir holding the same copies; DLP on or off.
# Without UPSTREAM-DIR the repositories are the gate's own, as git's
# servers have theirs (a push is received, checked and scanned, not
# forwarded); with it each is a mirror of the same name there, and a push
# is forwarded to it before the gate takes it.
start_gate() { # name dir dlp(on|off) [upstream-dir]
	local name=$1 dir=$2 dlp=$3 upstream=${4:-} git_port http_port repo options=()
	git_port=$(pick_port)
	http_port=$(pick_port)
	{
		echo "listen:"
		echo "  git: \"127.0.0.1:$git_port\""
		echo "  http: \"127.0.0.1:$http_port\""
		echo "data_dir: \"$dir\""
		echo "scan:"
		# Room for the pushed branch: more commits would fail it closed.
		echo "  max_commits: $((push_commits * 2))"
		echo "repos:"
		for repo in "$dir"/*.git; do
			echo "  - name: $(basename "$repo" .git)"
			[ -z "$upstream" ] || echo "    upstream: \"$upstream/$(basename "$repo")\""
		done
	} >"$T/$name.yaml"
	[ "$dlp" = on ] || options+=(--no-dlp)
	# It writes a line to fd 3 once both listeners are up.
	mkfifo "$T/$name.ready"
	# (Not through start(): opening the fifo waits for the reader below.)
	setsid "$sidecar" gitgate --config "$T/$name.yaml" --ready-fd 3 "${options[@]}" \
		>"$T/$name.log" 2>&1 3>"$T/$name.ready" &
	pgids+=("$!")
	if ! read -r -t 20 _ <"$T/$name.ready"; then
		tail -20 "$T/$name.log" >&2
		die "$name did not start"
	fi
	url[$name,git]=git://127.0.0.1:$git_port
	url[$name,http]=http://127.0.0.1:$http_port
}

declare -A url=()
servers=(direct gate gate-nodlp gate-fwd)
for name in "${servers[@]}"; do
	make_root "$T/$name"
done
# gate-fwd's upstreams: copies too, so its start-up fetch has nothing to do.
make_root "$T/upstream"
start_git_servers direct "$T/direct"
if ((standin)); then
	start_git_servers gate "$T/gate"
	start_git_servers gate-nodlp "$T/gate-nodlp"
	start_git_servers gate-fwd "$T/gate-fwd"
else
	start_gate gate "$T/gate" on
	start_gate gate-nodlp "$T/gate-nodlp" off
	start_gate gate-fwd "$T/gate-fwd" on "$T/upstream"
fi

# --- measuring ------------------------------------------------------------

now() { echo "${EPOCHREALTIME/,/.}"; }
# The best of the rounds: on a shared machine other work only ever adds
# time, so the fastest round is the one least disturbed.
best() { sort -g | head -n 1 | awk '{ printf "%.3f\n", $1 }'; }
declare -A times=() bytes=() failures=()

# clone SERVER TRANSPORT PROTOCOL ROUND: one bare clone, timed.
clone_once() {
	local name=$1 transport=$2 protocol=$3 dest=$T/dest t0 t1
	rm -rf "$dest"
	t0=$(now)
	if ! git -c protocol.version="$protocol" clone -q --bare "${url[$name,$transport]}/clone.git" \
		"$dest" 2>"$T/client.log" || [ "$(git -C "$dest" rev-parse main 2>/dev/null)" != "$main_id" ]; then
		failures[$name,clone-$transport-v$protocol]=$(head -c 300 "$T/client.log")
		return
	fi
	t1=$(now)
	times[$name,clone-$transport-v$protocol]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') "
	bytes[$name,clone-$transport-v$protocol]=$(du -bc "$dest"/objects/pack/*.pack | tail -1 | cut -f1)
}

# push SERVER TRANSPORT ROUND: the 200-commit branch to a fresh copy.
push_once() {
	local name=$1 transport=$2 round=$3 t0 t1 target
	target=push-$transport-$round
	t0=$(now)
	if ! git -C "$source_repo" push -q "${url[$name,$transport]}/$target.git" \
		bench-push:refs/heads/bench-push 2>"$T/client.log" ||
		[ "$(git -C "$T/$name/$target.git" rev-parse bench-push 2>/dev/null)" != "$push_id" ] ||
		{ [ "$name" = gate-fwd ] && ((!standin)) &&
			[ "$(git -C "$T/upstream/$target.git" rev-parse bench-push 2>/dev/null)" != "$push_id" ]; }; then
		failures[$name,push-$transport]=$(head -c 300 "$T/client.log")
		return
	fi
	t1=$(now)
	times[$name,push-$transport]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') "
}

echo "repository: $commits commits on main, $((pack_bytes / 1024 / 1024)) MiB packed; push: $push_commits commits"
echo "rounds per figure: $rounds (the best shown)$( ((standin)) && echo '; STAND-IN: git servers in the gate role')"
figures=()
for protocol in "${protocols[@]}"; do
	for transport in git http; do
		figures+=("clone-$transport-v$protocol")
	done
done
figures+=(push-git push-http)

# Rounds interleave the servers so that drift on the machine hits all alike.
for round in $(seq 1 "$rounds"); do
	for protocol in "${protocols[@]}"; do
		for transport in git http; do
			for name in direct gate; do
				clone_once "$name" "$transport" "$protocol"
			done
		done
	done
	for transport in git http; do
		for name in "${servers[@]}"; do
			push_once "$name" "$transport" "$round"
		done
	done
	echo "round $round of $rounds done"
done

# --- the table ------------------------------------------------------------

seconds_of() { # server figure
	[ -n "${failures[$1,$2]:-}" ] && return 1
	[ -n "${times[$1,$2]:-}" ] || return 1
	tr ' ' '\n' <<<"${times[$1,$2]}" | grep . | best
}

# ratio_of SECONDS DIRECT: "1.23x", or "-" when either is not a time.
ratio_of() {
	[[ $1 =~ ^[0-9.]+$ && $2 =~ ^[0-9.]+$ ]] || { echo -; return; }
	awk -v g="$1" -v d="$2" 'BEGIN { printf "%.2fx", g / d }'
}

echo
row='%-16s %9s %9s %7s %9s %7s %9s %7s  %s\n'
# shellcheck disable=SC2059 # the format is the variable on purpose
printf "$row" figure "direct s" "gate s" ratio "no-DLP s" ratio "fwd s" ratio "pack MiB direct/gate"
status=0
for figure in "${figures[@]}"; do
	direct=$(seconds_of direct "$figure") || direct=FAILED
	gate=$(seconds_of gate "$figure") || gate=FAILED
	nodlp=- forwarded=- sizes=-
	if [[ $figure == push-* ]]; then
		nodlp=$(seconds_of gate-nodlp "$figure") || nodlp=FAILED
		forwarded=$(seconds_of gate-fwd "$figure") || forwarded=FAILED
	fi
	if [[ $figure == clone-* && -n ${bytes[direct,$figure]:-} && -n ${bytes[gate,$figure]:-} ]]; then
		sizes=$(awk -v d="${bytes[direct,$figure]}" -v g="${bytes[gate,$figure]}" \
			'BEGIN { printf "%.1f/%.1f", d / 1048576, g / 1048576 }')
	fi
	# shellcheck disable=SC2059
	printf "$row" "$figure" "$direct" "$gate" "$(ratio_of "$gate" "$direct")" \
		"$nodlp" "$(ratio_of "$nodlp" "$direct")" \
		"$forwarded" "$(ratio_of "$forwarded" "$direct")" "$sizes"
done
for key in "${!failures[@]}"; do
	echo "FAILED ${key/,/ }: ${failures[$key]}" >&2
	status=1
done
echo
echo "ratio: to direct (targets: clone <= 1.5x; push <= 1.5x plus the scan)."
echo "no-DLP: the gate with --no-dlp (push scan time = gate - no-DLP)."
echo "fwd: the gate with DLP forwarding each push to an upstream (a local bare repository) first."
exit "$status"

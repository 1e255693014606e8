#!/usr/bin/env bash
# Pack merging, before and after (docs/gitgate-bench.md, "Pack merging"):
# two gates side by side, one per sidecar binary, each given the same seed
# repository and then the same N pushes (one small commit each, over
# smart-HTTP).  Then clones from both, interleaved (A, B, A, B ...): the
# time of each and the most pack files the gate had open during it
# (sampled from /proc every few ms, so a floor of the true peak), and the
# gate's own time for it (its upload-pack sessions' "done in" log lines).
# Prints the packs left, the time per push, and per clone the median and
# the range of both times and the most descriptors.
#
#   bench/gitgate/pack-merge.sh --before=OLD_SIDECAR [--after=NEW] [--pushes=300] [--clones=7]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
before=""
after=$root/build/sidecar
pushes=300
clones=7
for arg in "$@"; do
	case $arg in
	--before=*) before=${arg#--before=} ;;
	--after=*) after=${arg#--after=} ;;
	--pushes=*) pushes=${arg#--pushes=} ;;
	--clones=*) clones=${arg#--clones=} ;;
	-h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "pack-merge.sh: unknown argument '$arg'" >&2; exit 2 ;;
	esac
done
[ -x "$before" ] || { echo "pack-merge.sh: --before=SIDECAR is required" >&2; exit 2; }

dir=$(mktemp -d /tmp/bench-pack-merge.XXXXXX)
pids=()
cleanup() {
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	rm -rf "$dir"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 HOME=$dir/home GIT_TERMINAL_PROMPT=0
mkdir -p "$HOME"
git config --global user.name Bench
git config --global user.email bench@example.invalid
git config --global init.defaultBranch main

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now_ms() { date +%s%3N; }

# The seed: 400 files of text over 50 commits, about what a small project
# holds, pushed straight into each gate's repository.
git init -q "$dir/seed"
for c in $(seq 1 50); do
	for f in $(seq 1 8); do
		seq $((c * f)) $((c * f + 200)) >"$dir/seed/file-$c-$f.txt"
	done
	git -C "$dir/seed" add -A && git -C "$dir/seed" commit -q -m "seed $c"
done

start_gate() { # name binary
	local name=$1 binary=$2 http git
	http=$(port) && git=$(port)
	mkdir -p "$dir/$name/data"
	printf 'listen: {http: "127.0.0.1:%s", git: "127.0.0.1:%s"}\ndata_dir: %s/data\nrepos:\n  - name: app\n' \
		"$http" "$git" "$dir/$name" >"$dir/$name/gitgate.yaml"
	: >"$dir/$name/ready"
	"$binary" gitgate --config "$dir/$name/gitgate.yaml" --no-dlp --ready-fd 3 \
		3>"$dir/$name/ready" 2>"$dir/$name/stderr" &
	pids+=($!)
	echo $! >"$dir/$name/pid"
	echo "http://127.0.0.1:$http/app.git" >"$dir/$name/url"
	for _ in $(seq 1 600); do
		[ -s "$dir/$name/ready" ] && break
		sleep 0.05
	done
	[ -s "$dir/$name/ready" ] || { cat "$dir/$name/stderr" >&2; exit 1; }
	git -C "$dir/$name/data/app.git" symbolic-ref HEAD refs/heads/main
	git -C "$dir/seed" push -q "$(cat "$dir/$name/url")" main
}

# One push of one more line; its time in ms added to <name>/push-ms.
push_once() { # name i
	local name=$1 i=$2 url t0 t1
	url=$(cat "$dir/$name/url")
	[ -d "$dir/$name/work" ] || git clone -q "$url" "$dir/$name/work"
	echo "$i" >>"$dir/$name/work/counter"
	git -C "$dir/$name/work" add counter
	git -C "$dir/$name/work" commit -q -m "push $i"
	t0=$(now_ms)
	git -C "$dir/$name/work" push -q "$url" main
	t1=$(now_ms)
	echo $(($(cat "$dir/$name/push-ms" 2>/dev/null || echo 0) + t1 - t0)) >"$dir/$name/push-ms"
}

# One clone: its time in ms and the most .pack descriptors seen meanwhile.
clone_once() { # name round
	local name=$1 round=$2 pid url t0 t1 most=0 n sampler lines served
	pid=$(cat "$dir/$name/pid")
	url=$(cat "$dir/$name/url")
	rm -rf "$dir/clone"
	(
		m=0
		while [ ! -e "$dir/clone-done" ]; do
			n=$(ls -l "/proc/$pid/fd" 2>/dev/null | grep -c '\.pack' || true)
			[ "$n" -gt "$m" ] && m=$n && echo "$m" >"$dir/fds"
		done
	) &
	sampler=$!
	echo 0 >"$dir/fds"
	lines=$(wc -l <"$dir/$name/stderr")
	t0=$(now_ms)
	git clone -q "$url" "$dir/clone"
	t1=$(now_ms)
	touch "$dir/clone-done"
	wait "$sampler" || true
	rm -f "$dir/clone-done"
	most=$(cat "$dir/fds")
	# The gate's own time: its upload-pack sessions of this clone.
	served=$(tail -n +"$((lines + 1))" "$dir/$name/stderr" |
		sed -n 's/.*git-upload-pack app.*done in \([0-9]*\) ms.*/\1/p' |
		awk '{ s += $1 } END { print s + 0 }')
	echo "$((t1 - t0)) $most $served" >>"$dir/$name/clones"
}

packs() { ls "$dir/$1/data/app.git/objects/pack/" | grep -c '\.idx$'; }

start_gate before "$before"
start_gate after "$after"
echo "pushing $pushes times into each gate ..." >&2
for i in $(seq 1 "$pushes"); do
	push_once before "$i"
	push_once after "$i"
done
for round in $(seq 1 "$clones"); do
	clone_once before "$round"
	clone_once after "$round"
done

# "median (min-max)" of column COLUMN of a file of numbers.
spread() { # file column
	cut -d" " -f"$2" "$1" | sort -n | awk '{ v[NR] = $1 }
		END { printf "%d ms (%d-%d)", v[int((NR + 1) / 2)], v[1], v[NR] }'
}

summary() { # name
	local name=$1 clones=$dir/$1/clones
	printf "%-7s %4d packs  %3d ms/push  clone %s, gate %s  pack fds up to %d\n" \
		"$name" "$(packs "$name")" $(($(cat "$dir/$name/push-ms") / pushes)) \
		"$(spread "$clones" 1)" "$(spread "$clones" 3)" \
		"$(cut -d" " -f2 "$clones" | sort -n | tail -1)"
}
summary before
summary after
grep -c "merged" "$dir/after/stderr" | sed 's/^/merges in the after gate: /'

#!/usr/bin/env bash
# Clone speed of the gate's upload-pack against git's own, on one generated
# medium repository (docs/gitgate.md, "Upload-pack"):
#
#   bench/upload-pack.sh [COMMITS [FILES]]   (default 3000 commits, 800 files)
#
# The repository is generated once under build/bench-upload/ (fast-import,
# deterministic).  Each round clones it through the real git client over
# a fake ssh, once served by build/tests/helpers/gitgate-serve and once by
# git-upload-pack, protocol v2 and v0; the best of ROUNDS (default 3) of each
# is kept, since other work on a shared machine only adds time.  Prints the
# clone times, the serving side's CPU time (git's counts pack-objects too),
# pack sizes and ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
commits=${1:-3000}
files=${2:-800}
rounds=${ROUNDS:-3}
work=$PWD/build/bench-upload
repo=$work/medium-$commits-$files.git
serve=$PWD/build/tests/helpers/gitgate-serve
[ -x "$serve" ] || { echo "bench/upload-pack.sh: build $serve first (make build/tests/helpers/gitgate-serve)" >&2; exit 2; }
mkdir -p "$work"

if [ ! -d "$repo" ]; then
	echo "generating $repo ..."
	git init -q --bare "$repo"
	python3 - "$commits" "$files" <<'PY' | git -C "$repo" fast-import --quiet
import random, sys
commits, files = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(42)
words = ["alpha", "beta", "gamma", "delta", "state", "buffer", "return", "error", "value",
         "commit", "object", "stream", "packet", "client", "server", "config", "update",
         "struct", "static", "const", "while", "int", "char", "size_t", "if", "else"]
for w in range(400):
    words.append("".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(3, 10))))
def line():
    return " ".join(rng.choice(words) for _ in range(rng.randint(3, 12)))
contents = {}
for f in range(files):
    contents[f] = [line() for _ in range(rng.randint(30, 300))]
out = sys.stdout
mark = 0
for c in range(commits):
    changed = range(files) if c == 0 else rng.sample(range(files), rng.randint(1, 6))
    blobs = []
    for f in changed:
        lines = contents[f]
        if c:
            for _ in range(rng.randint(1, 8)):
                i = rng.randrange(len(lines) + 1)
                if rng.random() < 0.6:
                    lines.insert(i, line())
                elif lines:
                    lines[min(i, len(lines) - 1)] = line()
        data = ("\n".join(lines) + "\n").encode()
        mark += 1
        out.write("blob\nmark :%d\ndata %d\n" % (mark, len(data)))
        out.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        out.write("\n")
        blobs.append((f, mark))
    msg = ("change %d\n" % c).encode()
    out.write("commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\ndata %d\n" % (1600000000 + c * 60, len(msg)))
    out.write(msg.decode())
    for f, m in blobs:
        out.write("M 100644 :%d dir%02d/file%04d.txt\n" % (m, f % 37, f))
    out.write("\n")
    if c % 500 == 499:
        out.write("tag v%d\nfrom refs/heads/main\ntagger Bench <bench@example.com> %d +0000\ndata 4\ntag\n\n" % (c + 1, 1600000000 + c * 60))
PY
	# Fresh deltas, as a well-kept mirror has (fast-import's are poor).
	git -C "$repo" repack -q -adf
fi

cat >"$work/ssh-gate" <<SH
#!/bin/bash
cmd="\${@: -1}"; path=\${cmd#* }; path=\${path#\\'}; path=\${path%\\'}
exec /usr/bin/time -f "%U %S" -o "$work/cpu-gate" "$serve" "\${cmd%% *}" "\$path"
SH
cat >"$work/ssh-git" <<'SH'
#!/bin/bash
cmd="${@: -1}"; path=${cmd#* }; path=${path#\'}; path=${path%\'}
service=${cmd%% *}
exec /usr/bin/time -f "%U %S" -o "$(dirname "$0")/cpu-git" git "${service#git-}" "$path"
SH
chmod +x "$work/ssh-gate" "$work/ssh-git"

# One clone: sets $t (seconds) and $size (the received pack's bytes).
clone_once() { # server protocol
	local dest=$work/clone-$1-$2 start end
	rm -rf "$dest"
	start=$(date +%s.%N)
	GIT_SSH_COMMAND=$work/ssh-$1 GIT_SSH_VARIANT=ssh git -c protocol.version=$2 clone -q --bare \
		--no-local "ssh://bench$repo" "$dest"
	end=$(date +%s.%N)
	t=$(echo "$end - $start" | bc)
	cpu=$(awk '{ print $1 + $2 }' "$work/cpu-$1")
	size=$(du -cb "$dest"/objects/pack/*.pack | tail -n 1 | cut -f1)
	git -C "$dest" fsck --connectivity-only >/dev/null 2>&1 ||
		{ echo "bench: the $1 clone fails git fsck" >&2; exit 1; }
}

best() { # server protocol: sets $best_time, $best_cpu (the server's) and $best_size
	best_time="" best_cpu=""
	for _ in $(seq "$rounds"); do
		clone_once "$1" "$2"
		if [ -z "$best_time" ] || [ "$(echo "$t < $best_time" | bc)" = 1 ]; then
			best_time=$t
		fi
		if [ -z "$best_cpu" ] || [ "$(echo "$cpu < $best_cpu" | bc)" = 1 ]; then
			best_cpu=$cpu
		fi
		best_size=$size
	done
}

echo "repository: $commits commits, $files files, $(git -C "$repo" count-objects -vH | sed -n 's/^size-pack: //p') packed"
for protocol in 2 0; do
	best git "$protocol"
	git_time=$best_time git_cpu=$best_cpu git_size=$best_size
	best gate "$protocol"
	gate_time=$best_time gate_cpu=$best_cpu gate_size=$best_size
	printf 'protocol v%s: git upload-pack %.2fs (server CPU %.2fs, %s MB pack), gate %.2fs (server CPU %.2fs, %s MB pack): %.2fx the time, %.2fx the size\n' \
		"$protocol" "$git_time" "$git_cpu" "$(echo "scale=1; $git_size / 1048576" | bc)" \
		"$gate_time" "$gate_cpu" "$(echo "scale=1; $gate_size / 1048576" | bc)" \
		"$(echo "scale=3; $gate_time / $git_time" | bc)" \
		"$(echo "scale=3; $gate_size / $git_size" | bc)"
done

#!/usr/bin/env bash
# The differential check for engine changes that must not change what is
# found: the engine of BASE (a commit, default: where this branch left main)
# and the working tree's scan the same corpus, in every way a caller feeds
# the engine, and must print the same findings (detector, where, rule, name,
# offset, length, preview) and the same dlp_scan_settled() answers.
#   bench/dlp/diff.sh [BASE]
# The corpus: bench/dlp/diff_corpus.py's inputs (every detector and variant,
# the unit tests' strings, random mixtures up to 40 KB, gzip bodies), the
# fuzz corpus, and 1 MB of bench/dlp/gen.py's mixed text whole and in 4 KB
# pieces.  Exit 0 when the outputs are identical, 1 (with the first
# differences) when not.  Needs the sysroot (make deps), not a full build.
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:-$(git merge-base main HEAD)}
root=$PWD
out=$root/build/dlp-diff
sysroot=$root/build/sysroot
rm -rf "$out/old"
mkdir -p "$out/old" "$out/gen"

corpus=$out/corpus
if [ ! -d "$corpus" ]; then
	python3 bench/dlp/diff_corpus.py "$corpus" tests/unit/test_dlp*.c
fi
if [ ! -f "$out/gen/mixed.txt" ]; then
	python3 bench/dlp/gen.py "$out/gen/mixed.txt" 1 "$out/gen/secrets.env"
	split -b 4096 -a 4 -d "$out/gen/mixed.txt" "$out/gen/piece-"
	# The first 64 pieces are plenty; the whole megabyte is scanned too.
	find "$out/gen" -name 'piece-*' | sort | tail -n +65 | xargs rm -f
fi
cat "$corpus/secrets.env" "$out/gen/secrets.env" >"$out/secrets.env"

git archive "$base" shared | tar -x -C "$out/old"

# build TREE NAME: the scanner with TREE's engine #included.
build() {
	local tree=$1 name=$2 unity=$out/$2-unity.h f
	: >"$unity"
	for f in "$tree"/shared/buf.c "$tree"/shared/config_yaml.c "$tree"/shared/dlp_*.c; do
		case $f in */dlp_setup.c) continue ;; esac
		echo "#include \"$f\"" >>"$unity"
	done
	# The default rules' .incbin names its file relative to the tree.
	(cd "$tree" && musl-gcc -std=c11 -D_GNU_SOURCE -O2 -w -static -isystem "$sysroot/include" \
		-I"$tree/shared" -DDIFF_UNITY="\"$unity\"" -o "$out/diff_scan-$name" \
		"$root/bench/dlp/diff_scan.c" -L"$sysroot/lib" -lyaml -lpcre2-8 -lz)
}
build "$out/old" old
build "$root" new

inputs=("$corpus"/in/* tests/fuzz/corpus/fuzz_dlp/* "$out/gen/mixed.txt" "$out/gen"/piece-*)
"$out/diff_scan-old" "$out/secrets.env" "$corpus/exempt.txt" "${inputs[@]}" >"$out/old.out" &
old_pid=$!
"$out/diff_scan-new" "$out/secrets.env" "$corpus/exempt.txt" "${inputs[@]}" >"$out/new.out"
wait "$old_pid"
findings=$(grep -ac '^  [a-z]* [a-z-]' "$out/new.out" || true)
rules=$(grep -a '^  [a-z]* [a-z-]' "$out/new.out" | awk '{ print $1, ($3 == "warn" ? $4 : $3) }' |
	sort -u | wc -l)
echo "${#inputs[@]} inputs, $findings findings of $rules kinds (detector, rule)"
if cmp -s "$out/old.out" "$out/new.out"; then
	echo "identical to $base ($(git rev-parse --short "$base"))"
	exit 0
fi
echo "DIFFERENT from $base: first differences (old <, new >):"
diff "$out/old.out" "$out/new.out" | head -n 40
exit 1

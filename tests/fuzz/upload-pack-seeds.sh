#!/usr/bin/env bash
# Capture what the real git client sends to upload-pack, as seeds for
# fuzz_upload_pack: clones (full, --depth, --shallow-since,
# --shallow-exclude, --filter), fetches with haves, deepen and unshallow,
# ls-remote, in protocols v0, v1 and v2, against the gate's own upload-pack
# (gitgate-serve over a fake ssh) serving the harness's repository.
#   tests/fuzz/upload-pack-seeds.sh [GITGATE_SERVE] [OUT_DIR]
# Each file is one connection's client bytes after the harness's control
# byte (the protocol).  Defaults: build/tests/helpers/gitgate-serve and
# tests/fuzz/corpus/fuzz_upload_pack.
set -euo pipefail
cd "$(dirname "$0")/../.."
serve=$(realpath "${1:-build/tests/helpers/gitgate-serve}")
out=$(realpath -m "${2:-tests/fuzz/corpus/fuzz_upload_pack}")
make --no-print-directory build/fuzz/fuzz_upload_pack >/dev/null
scratch=$(mktemp -d /tmp/upload-pack-seeds.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
FUZZ_UPLOAD_PACK_REPO=$scratch/repo.git build/fuzz/fuzz_upload_pack -runs=0 >/dev/null 2>&1
mkdir -p "$out"

# git runs "ssh [options] HOST 'git-upload-pack '\''/path'\'''".
cat >"$scratch/ssh" <<SH
#!/bin/bash
cmd="\${@: -1}"; path=\${cmd#* }; path=\${path#\\'}; path=\${path%\\'}
case "\${GIT_PROTOCOL:-}" in *version=2*) p=2 ;; *version=1*) p=1 ;; *) p=0 ;; esac
capture=\$(mktemp "$scratch/capture.\$p.XXXXXX")
printf "\\\\\$(printf %o \$p)" >"\$capture"
tee -a "\$capture" | exec "$serve" "\${cmd%% *}" "\$path"
SH
chmod +x "$scratch/ssh"
export GIT_SSH_COMMAND=$scratch/ssh GIT_SSH_VARIANT=ssh GIT_CONFIG_NOSYSTEM=1 HOME=$scratch
url=ssh://gate$scratch/repo.git

scenario() { # name protocol command...
	local name=$1 protocol=$2
	shift 2
	rm -f "$scratch"/capture.*
	rm -rf "$scratch/work"
	(cd "$scratch" && "$@" >"$scratch/log" 2>&1) ||
		echo "upload-pack-seeds: $name (v$protocol) failed: $(tail -n 1 "$scratch/log")" >&2
	local i=0 f sum
	for f in $(ls -tr "$scratch"/capture.* 2>/dev/null); do
		# A set-up clone is git's default, v2: named by what it spoke,
		# and kept once.
		sum=$(md5sum <"$f" | cut -c1-32)
		if [ -e "$scratch/seen.$sum" ]; then
			rm -f "$f"
			continue
		fi
		touch "$scratch/seen.$sum"
		i=$((i + 1))
		f_protocol=${f#"$scratch"/capture.}
		mv "$f" "$out/git-v${f_protocol%%.*}-$name-$i"
	done
}

for p in 0 1 2; do
	g=(git -c protocol.version=$p)
	scenario clone $p "${g[@]}" clone -q "$url" work
	scenario depth $p "${g[@]}" clone -q --depth 1 "$url" work
	scenario since $p "${g[@]}" clone -q --shallow-since=1700000250 "$url" work
	scenario exclude $p "${g[@]}" clone -q --shallow-exclude=topic "$url" work
	scenario filter $p "${g[@]}" clone -q --filter=blob:none "$url" work
	scenario ls-remote $p "${g[@]}" ls-remote "$url" 'refs/tags/*'
	scenario haves $p sh -c "git clone -q --single-branch --branch topic $url work &&
		${g[*]} -C work fetch -q origin main"
	scenario deepen $p sh -c "git clone -q --depth 1 $url work &&
		${g[*]} -C work fetch -q --deepen 1 && ${g[*]} -C work fetch -q --unshallow"
	scenario relative $p sh -c "git clone -q --depth 1 --no-single-branch $url work &&
		${g[*]} -C work fetch -q --depth 2 origin topic"
	scenario up-to-date $p sh -c "git clone -q $url work && ${g[*]} -C work fetch -q"
done
ls "$out" | wc -l

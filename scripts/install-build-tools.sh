#!/usr/bin/env bash
# Make sure the Debian packages the build and the tests need are installed.
#
#   scripts/install-build-tools.sh
#
# Silent and quick when everything is there (one dpkg-query call), since `make`
# runs it before every dependency build.  Otherwise installs only what is missing,
# with apt-get, as root.  A fresh machine starts with none of this: the project's
# own files have to install what it needs.
set -euo pipefail

# Why each is here:
PACKAGES=(
    musl-tools          # musl-gcc: everything we ship is linked statically against musl
    gcc binutils make   # compiler driver behind musl-gcc, ar/strip, the Makefile
    cmake pkg-config    # most dependencies build with CMake; libgit2 finds libssh2 via pkg-config
    tar xz-utils bzip2  # the pinned source tarballs are .tar.gz/.xz/.bz2
    debian-archive-keyring  # verifies the Debian source index the tarballs come from
    file                # tests check that binaries are statically linked
    git                 # version stamp; tests drive real repositories
    curl                # integration tests talk HTTP through the sidecar
    openssl             # integration tests make test CAs and drive s_client
    ca-certificates     # the image's upstream CA bundle (/etc/ssl/certs/ca-certificates.crt)
    podman runc uidmap  # build and run the sidecar image rootless or as root
    iproute2 util-linux # ip/unshare for network namespaces in the tests
    clang libclang-rt-14-dev  # libFuzzer harnesses (make fuzz)
    valgrind            # make valgrind: the unit suite under memcheck (on a glibc build: valgrind on static musl is unreliable)
    tmux                # the supervise operator loop is tested on a real terminal (send-keys, capture-pane)
    openssh-server      # the git gate's ssh upstream in tests: sshd checks the deploy key, serves the pinned host key
    python3             # the git gate's https upstream in tests: git http-backend behind TLS and Basic auth
)

# Status is "install ok installed" for an installed package; a package dpkg has
# never heard of is reported on stderr only, so anything not listed is missing.
declare -A installed=()
while read -r pkg want _ state; do
    [[ $want == install && $state == installed ]] && installed[$pkg]=1
done < <(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
missing=()
for p in "${PACKAGES[@]}"; do
    [[ -n ${installed[$p]:-} ]] || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ((EUID != 0)); then
    echo "tools: missing packages: ${missing[*]}" >&2
    echo "tools: this needs root; run: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi

echo "tools: installing ${missing[*]}"
log=$(mktemp /tmp/bottle-install-tools.XXXXXX.log)
export DEBIAN_FRONTEND=noninteractive
# Wait for another apt run (someone else installing) rather than failing at once.
try_install() {
    apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1
}
# Package lists on a machine that has not run `apt-get update` lately (or ever)
# can be stale or empty: update once, only when the first attempt fails.
if ! try_install; then
    echo "tools: first attempt failed; updating package lists and retrying"
    if ! { apt-get -o DPkg::Lock::Timeout=300 update -q >>"$log" 2>&1 && try_install; }; then
        tail -n 20 "$log" >&2
        echo "tools: error: could not install: ${missing[*]} (full log: $log)" >&2
        exit 1
    fi
fi
rm -f "$log"

#!/usr/bin/env bash
# Build the static musl sysroot the Makefile links against.
#
#   scripts/build-deps.sh <build-dir>
#   scripts/build-deps.sh --libc glibc <build-dir>
#
# Every library in scripts/deps.lock is built from its pinned, hash-checked
# tarball with CC=musl-gcc, static only, into <build-dir>/sysroot/{include,lib}.
# Work happens in <build-dir>/deps-work/<name> with a full log next to it
# (<name>.log) and a stamp (<name>.stamp) once it is installed, so an interrupted
# run resumes where it stopped.  <build-dir>/sysroot/.complete is written last and
# holds the sha256 of deps.lock and of this script: when it matches, a run does
# nothing; when it does not (a pin or a build flag changed), everything is rebuilt
# from scratch so that no library is left built with old settings.
#
# --libc glibc builds the same pinned sources with the host's gcc against glibc
# into <build-dir>/sysroot-glibc (work in <build-dir>/deps-work-glibc), for the
# sanitizer and valgrind builds (`make asan`, `make valgrind`): AddressSanitizer
# and valgrind need glibc.  Those libraries are position-independent (gcc makes
# PIE executables) and keep their debug info and frame pointers, so a report
# whose allocation or fault is inside one has its whole stack; they are not
# instrumented themselves.
# docs/dependencies.md explains the choices made here.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKFILE=$ROOT/scripts/deps.lock

die() { printf 'deps: error: %s\n' "$*" >&2; exit 1; }

LIBC=musl
if (($# == 3)) && [[ $1 == --libc ]]; then
    LIBC=$2
    shift 2
fi
(($# == 1)) || die "usage: scripts/build-deps.sh [--libc musl|glibc] <build-dir>"
mkdir -p "$1"
BUILD=$(cd "$1" && pwd)
case $LIBC in
    musl)
        SYSROOT=$BUILD/sysroot
        WORK=$BUILD/deps-work
        ;;
    glibc)
        SYSROOT=$BUILD/sysroot-glibc
        WORK=$BUILD/deps-work-glibc
        ;;
    *) die "--libc takes musl or glibc, not '$LIBC'" ;;
esac
STAMP=$SYSROOT/.complete

# What each dependency must leave in $SYSROOT/lib; the Makefile links these names.
declare -A PRODUCES=(
    [zlib]="libz.a"
    [mbedtls]="libmbedtls.a libmbedx509.a libmbedcrypto.a"
    [libssh2]="libssh2.a"
    [http-parser]="libhttp_parser.a"
    [pcre2]="libpcre2-8.a"
    [libgit2]="libgit2.a"
    [libyaml]="libyaml.a"
    [yyjson]="libyyjson.a"
    [cmocka]="libcmocka.a"
)

# Two builds of the same tree at once (two shells, or make -j running `deps`
# twice) would write the same sysroot; the second waits and then finds it done.
exec 8>"$BUILD/.build-deps.flock"
flock 8

# deps/ holds sources of ours built into a dependency (our AES-GCM inside
# mbedTLS): a change there rebuilds like a change of this script.
inputs=$(cd "$ROOT" && sha256sum scripts/deps.lock scripts/build-deps.sh deps/*/* && echo "libc $LIBC")

# Drop the stamp of any dependency whose library went missing, so that only it is
# rebuilt.  Cheap enough (a few stat calls) to do on the no-op path too.
all_present=1
for name in "${!PRODUCES[@]}"; do
    for lib in ${PRODUCES[$name]}; do
        if [[ ! -f $SYSROOT/lib/$lib ]]; then
            all_present=0
            rm -f "$WORK/$name.stamp"
        fi
    done
done

if ((all_present)) && [[ -f $STAMP && $(<"$STAMP") == "$inputs" ]]; then
    # Make calls us when a script is newer than the stamp even if its content is
    # the same (a checkout, a touch); refresh the stamp so it stops doing that.
    touch "$STAMP"
    exit 0
fi

# A different deps.lock or build script invalidates everything built so far:
# rebuild from scratch.  $WORK/.inputs remembers which inputs the stamps belong to.
if [[ ! -f $WORK/.inputs || $(<"$WORK/.inputs") != "$inputs" ]]; then
    if [[ -e $SYSROOT || -e $WORK ]]; then
        echo "deps: scripts/deps.lock, scripts/build-deps.sh or deps/ changed; rebuilding every dependency"
    fi
    rm -rf "$SYSROOT" "$WORK"
    mkdir -p "$WORK"
    printf '%s\n' "$inputs" >"$WORK/.inputs"
fi
rm -f "$STAMP"
mkdir -p "$SYSROOT/include" "$SYSROOT/lib"

# The libraries must see only each other and the C library: no libraries or
# pkg-config files from the build host (with musl-gcc no glibc headers either),
# and no settings from a calling make.
if [[ $LIBC == musl ]]; then
    export CC=musl-gcc
    export CFLAGS="-O2 -ffunction-sections -fdata-sections"
else
    export CC=gcc
    export CFLAGS="-O2 -g -fPIC -fno-omit-frame-pointer -ffunction-sections -fdata-sections"
fi
export PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig:$SYSROOT/share/pkgconfig
export PKG_CONFIG_PATH=
unset CPPFLAGS LDFLAGS CPATH C_INCLUDE_PATH LIBRARY_PATH MAKEFLAGS MFLAGS MAKELEVEL
JOBS=2

for tool in "$CC" cmake make ar pkg-config tar xz bzip2; do
    command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-build-tools.sh"
done

# CMake's find_* would otherwise happily return /usr/lib/x86_64-linux-gnu/libz.so
# and friends (glibc builds that do not link under musl, and for the glibc
# sysroot other versions than the pinned ones).  Re-rooting every
# library/header/package search at the sysroot makes that impossible; programs
# (pkg-config, the compiler) still come from the host.
cat >"$WORK/toolchain.cmake" <<EOF
set(CMAKE_C_COMPILER $CC)
set(CMAKE_FIND_ROOT_PATH "$SYSROOT")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_FIND_USE_PACKAGE_REGISTRY OFF)
set(CMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY OFF)
EOF

# cmake_build SRC-DIR [-DOPTION=...]: configure, build and install a CMake project.
cmake_build() {
    local src=$1
    shift
    cmake -S "$src" -B "$src/_build" -G "Unix Makefiles" \
        -DCMAKE_TOOLCHAIN_FILE="$WORK/toolchain.cmake" \
        -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS_RELEASE="-DNDEBUG" \
        -DCMAKE_INSTALL_PREFIX="$SYSROOT" \
        -DCMAKE_INSTALL_LIBDIR=lib \
        -DCMAKE_INSTALL_INCLUDEDIR=include \
        -DBUILD_SHARED_LIBS=OFF \
        "$@"
    cmake --build "$src/_build" -j"$JOBS"
    cmake --install "$src/_build"
}

# Per-dependency recipes.  Each runs in its own extracted source tree ($PWD) with
# output going to its log, and must install into $SYSROOT.

build_zlib() {
    # zlib's own configure; --static skips the shared library entirely.
    ./configure --static --prefix="$SYSROOT"
    make -j"$JOBS" libz.a
    make install
}

build_mbedtls() {
    # Default config (TLS 1.3 on, AES-NI/PCLMUL code with run-time CPU
    # detection) plus thread safety (egress serves each connection on its own
    # thread, and PSA's global key store and RNG are shared) and a pluggable
    # allocator (egress gives TLS record buffers lazily-touched pages, see
    # sidecar/egress/tls_memory.c), and PSA working on the caller's buffers
    # in place (MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS: nothing here shares
    # memory with another party, and the copies kept both TLS output record
    # buffers resident on every held connection: docs/egress-bench.md).
    # X25519 by Everest (MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED: HACL*'s
    # verified Curve25519 in 3rdparty/everest, Apache-2.0) instead of the
    # generic bignum ladder, 72 us instead of 440 per agreement here
    # (bench/egress/crypto_handshake.c, docs/egress-tls.md); its objects are
    # added to libmbedcrypto.a below.
    # The switches are made in the installed
    # mbedtls_config.h itself, so libssh2, libgit2 and our code all compile
    # against the same configuration.
    local config=include/mbedtls/mbedtls_config.h option
    for option in MBEDTLS_THREADING_C MBEDTLS_THREADING_PTHREAD MBEDTLS_PLATFORM_MEMORY \
                  MBEDTLS_PSA_ASSUME_EXCLUSIVE_BUFFERS MBEDTLS_ECDH_VARIANT_EVEREST_ENABLED; do
        grep -q "^//#define $option\$" "$config" || die "mbedtls: $option not found in $config"
        sed -i "s|^//#define $option\$|#define $option|" "$config"
    done
    # ---- our AES-GCM (deps/mbedtls-gcm, docs/egress-tls.md) ----
    # MBEDTLS_GCM_ALT makes mbedtls/gcm.h include "gcm_alt.h" (found next to
    # it, in include/mbedtls/, before any -I path) and leaves the GCM
    # functions to us; gcm.c keeps only its self-test.  The header goes into
    # the tree before mbedTLS compiles (cmake installs include/mbedtls/*.h
    # with it), and our object is added to libmbedcrypto.a afterwards, before
    # libssh2 and libgit2 link against it.
    grep -q '^//#define MBEDTLS_GCM_ALT$' "$config" || die "mbedtls: MBEDTLS_GCM_ALT not found in $config"
    sed -i 's|^//#define MBEDTLS_GCM_ALT$|#define MBEDTLS_GCM_ALT|' "$config"
    install -m 0644 "$ROOT/deps/mbedtls-gcm/gcm_alt.h" include/mbedtls/gcm_alt.h
    # ---- end of our AES-GCM ----
    # The release tarball ships its generated
    # sources, so no Python is needed with GEN_FILES off.  FATAL_WARNINGS off: a
    # newer compiler's new warning must not break a pinned release.
    cmake_build "$PWD" \
        -DENABLE_PROGRAMS=OFF -DENABLE_TESTING=OFF -DGEN_FILES=OFF \
        -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF \
        -DMBEDTLS_FATAL_WARNINGS=OFF
    # ---- our AES-GCM, continued ----
    # ($CFLAGS is a list of flags, split on purpose.)
    # shellcheck disable=SC2086
    $CC $CFLAGS -std=c99 -Wall -Wextra -Werror -Iinclude \
        -c "$ROOT/deps/mbedtls-gcm/gcm_alt.c" -o _build/gcm_alt.o
    ar rs "$SYSROOT/lib/libmbedcrypto.a" _build/gcm_alt.o
    [[ -f $SYSROOT/include/mbedtls/gcm_alt.h ]] || die "mbedtls: gcm_alt.h was not installed"
    # ---- end of our AES-GCM ----
    # Everest is built as its own libeverest.a; its objects go into
    # libmbedcrypto.a so that everything linking -lmbedcrypto (us, libssh2,
    # libgit2, the fuzzers) keeps working unchanged.
    mkdir -p _everest
    (cd _everest && ar x "$SYSROOT/lib/libeverest.a")
    ar rs "$SYSROOT/lib/libmbedcrypto.a" _everest/*.o
}

build_libssh2() {
    # Crypto through the same mbedTLS as everything else.  Paths are given
    # explicitly so its finder never falls back to a host copy.  SSH-level
    # compression stays off (libssh2's default; git packs are compressed anyway).
    cmake_build "$PWD" \
        -DCRYPTO_BACKEND=mbedTLS \
        -DMBEDTLS_INCLUDE_DIR="$SYSROOT/include" \
        -DMBEDCRYPTO_LIBRARY="$SYSROOT/lib/libmbedcrypto.a" \
        -DENABLE_ZLIB_COMPRESSION=OFF \
        -DBUILD_STATIC_LIBS=ON -DBUILD_EXAMPLES=OFF -DBUILD_TESTING=OFF
}

build_http_parser() {
    # A single C file; its Makefile only knows shared builds.  ($CFLAGS is a
    # list of flags, split on purpose.)
    # shellcheck disable=SC2086
    $CC $CFLAGS -DHTTP_PARSER_STRICT=0 -c http_parser.c -o http_parser.o
    ar rcs libhttp_parser.a http_parser.o
    install -m 0644 libhttp_parser.a "$SYSROOT/lib/"
    install -m 0644 http_parser.h "$SYSROOT/include/"
}

build_pcre2() {
    # 8-bit library only, with the JIT; no pcre2grep/pcre2test and therefore no
    # host zlib/bzip2/readline.
    cmake_build "$PWD" \
        -DBUILD_STATIC_LIBS=ON \
        -DPCRE2_BUILD_PCRE2_8=ON -DPCRE2_BUILD_PCRE2_16=OFF -DPCRE2_BUILD_PCRE2_32=OFF \
        -DPCRE2_SUPPORT_JIT=ON \
        -DPCRE2_BUILD_PCRE2GREP=OFF -DPCRE2_BUILD_TESTS=OFF \
        -DPCRE2_SUPPORT_LIBBZ2=OFF -DPCRE2_SUPPORT_LIBZ=OFF \
        -DPCRE2_SUPPORT_LIBREADLINE=OFF -DPCRE2_SUPPORT_LIBEDIT=OFF
}

build_libgit2() {
    # libgit2 insists that the default CA bundle path exists on the *build*
    # machine, and otherwise asks the host's `openssl` where its own is.  What
    # matters is the path at run time (the image's bundle), so bake that in and
    # drop the build-host check.  A missing file at run time is not an error in
    # libgit2; callers can set another with GIT_OPT_SET_SSL_CERT_LOCATIONS.
    local https=cmake/SelectHTTPSBackend.cmake
    # (The ${...} below is CMake's, not ours: single quotes on purpose.)
    # shellcheck disable=SC2016
    grep -q 'if(NOT EXISTS ${CERT_LOCATION})' "$https" ||
        die "libgit2: $https changed; review the CERT_LOCATION workaround in build-deps.sh"
    # shellcheck disable=SC2016
    sed -i 's/if(NOT EXISTS ${CERT_LOCATION})/if(FALSE)/' "$https"

    # The Debian (+ds) tarball has no bundled zlib, http-parser, pcre or
    # ntlmclient: all of them come from the sysroot or are turned off.  libssh2
    # is found through its pkg-config file in the sysroot, which also names
    # mbedcrypto, so libgit2's link probe for in-memory SSH keys succeeds.
    cmake_build "$PWD" \
        -DBUILD_TESTS=OFF -DBUILD_CLI=OFF -DBUILD_EXAMPLES=OFF -DBUILD_FUZZERS=OFF \
        -DUSE_THREADS=ON -DUSE_NSEC=ON -DUSE_ICONV=OFF \
        -DUSE_HTTPS=mbedTLS -DCERT_LOCATION=/etc/ssl/certs/ca-certificates.crt \
        -DMBEDTLS_INCLUDE_DIR="$SYSROOT/include" \
        -DMBEDTLS_LIBRARY="$SYSROOT/lib/libmbedtls.a" \
        -DMBEDX509_LIBRARY="$SYSROOT/lib/libmbedx509.a" \
        -DMBEDCRYPTO_LIBRARY="$SYSROOT/lib/libmbedcrypto.a" \
        -DUSE_SHA1=CollisionDetection -DUSE_SHA256=mbedTLS \
        -DUSE_SSH=libssh2 \
        -DUSE_NTLMCLIENT=OFF -DUSE_GSSAPI=OFF \
        -DUSE_HTTP_PARSER=http-parser \
        -DHTTP_PARSER_INCLUDE_DIR="$SYSROOT/include" \
        -DHTTP_PARSER_LIBRARY="$SYSROOT/lib/libhttp_parser.a" \
        -DREGEX_BACKEND=pcre2 \
        -DPCRE2_INCLUDE_DIR="$SYSROOT/include" \
        -DPCRE2_LIBRARY="$SYSROOT/lib/libpcre2-8.a" \
        -DUSE_BUNDLED_ZLIB=OFF \
        -DZLIB_INCLUDE_DIR="$SYSROOT/include" \
        -DZLIB_LIBRARY="$SYSROOT/lib/libz.a"
    # Without it libgit2 silently drops SSH keys held in memory (deploy keys).
    grep -q 'define GIT_SSH_LIBSSH2_MEMORY_CREDENTIALS 1' _build/src/util/git2_features.h ||
        die "libgit2: in-memory SSH credentials not enabled (libssh2 link probe failed)"
    # Belt and braces: the configure summary must not mention a host library.
    if grep -E '/usr/lib/[^ ]*\.(so|a)' _build/CMakeCache.txt | grep -v "$SYSROOT"; then
        die "libgit2: CMake picked up a library from the build host (above)"
    fi
}

build_libyaml() {
    cmake_build "$PWD" -DBUILD_TESTING=OFF -DINSTALL_CMAKE_DIR=lib/cmake/yaml
}

build_yyjson() {
    # The +ds tarball's build files are not needed: yyjson is one C file.
    # shellcheck disable=SC2086
    $CC $CFLAGS -c src/yyjson.c -o yyjson.o
    ar rcs libyyjson.a yyjson.o
    install -m 0644 libyyjson.a "$SYSROOT/lib/"
    install -m 0644 src/yyjson.h "$SYSROOT/include/"
}

build_cmocka() {
    # With BUILD_SHARED_LIBS off, 1.1.7's one library target becomes libcmocka.a.
    cmake_build "$PWD" -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF -DPICKY_DEVELOPER=OFF
}

lock_field() {
    awk -v n="$1" -v c="$2" '!/^[[:space:]]*(#|$)/ && $1 == n {print $c; exit}' "$LOCKFILE"
}

mapfile -t NAMES < <(awk '!/^[[:space:]]*(#|$)/ {print $1}' "$LOCKFILE")
for name in "${NAMES[@]}"; do
    [[ -n ${PRODUCES[$name]:-} ]] || die "scripts/deps.lock lists '$name' but build-deps.sh has no recipe for it"
done

# Fetch whatever is not built yet in one go (a single apt index update at most).
todo=()
for name in "${NAMES[@]}"; do
    [[ -f $WORK/$name.stamp ]] || todo+=("$name")
done
if ((${#todo[@]})); then
    "$ROOT/scripts/fetch-source.sh" --build-dir "$BUILD" "${todo[@]}"
fi

# build_one NAME: extract, build and install NAME, logging to $WORK/NAME.log.
build_one() {
    local name=$1 version orig sha tarball log dir start rc got lib
    version=$(lock_field "$name" 2)
    orig=$(lock_field "$name" 4)
    sha=$(lock_field "$name" 5)
    tarball=$BUILD/sources/$orig
    log=$WORK/$name.log
    dir=$WORK/$name
    printf 'deps: building %s %s ... ' "$name" "$version"
    start=$SECONDS

    # Never build from bytes we have not checked ourselves, even if the fetch did.
    got=$(sha256sum "$tarball" | cut -d' ' -f1)
    if [[ $got != "$sha" ]]; then
        echo "failed"
        die "sha256 mismatch for $tarball: expected $sha, got $got"
    fi

    # A leftover tree is from an interrupted run: start that dependency over.
    rm -rf "$dir"
    mkdir -p "$dir"
    set +e
    (
        set -e
        # Top-level directory names vary (yyjson's is a git hash): strip it.
        tar -xf "$tarball" -C "$dir" --strip-components=1
        cd "$dir"
        "build_${name//-/_}"
        for lib in ${PRODUCES[$name]}; do
            [[ -f $SYSROOT/lib/$lib ]] || die "$name finished but $SYSROOT/lib/$lib is missing"
        done
    ) >"$log" 2>&1 </dev/null
    rc=$?
    set -e
    if ((rc != 0)); then
        echo "FAILED"
        echo "---- last lines of $log ----" >&2
        tail -n 40 "$log" >&2
        echo "----" >&2
        die "building $name $version failed (exit $rc); full log: $log"
    fi
    printf '%s %s %ss\n' "$name" "$version" "$((SECONDS - start))" >"$WORK/$name.stamp"
    echo "done in $((SECONDS - start))s"
}

for name in "${NAMES[@]}"; do
    [[ -f $WORK/$name.stamp ]] || build_one "$name"
done

# Last: the Makefile's stamp.  Written via rename so it is never half there.
printf '%s\n' "$inputs" >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"

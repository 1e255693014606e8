#!/usr/bin/env bash
# Fetch pinned upstream source tarballs into <build-dir>/sources, verified.
#
#   scripts/fetch-source.sh [--build-dir DIR] [--lock FILE --suite SUITE] --all
#   scripts/fetch-source.sh [--build-dir DIR] [--lock FILE --suite SUITE] NAME...
#
# NAME is a first column of the lock file (default scripts/deps.lock, whose
# tarballs come from trixie).  Another lock file names its own suite: e.g.
# scripts/test-deps.lock holds the source of the machine's own git, which only
# bookworm carries.  Prints nothing when every
# requested tarball is already cached with the right hash; otherwise one line per
# download on stderr.  The path of each tarball is not printed: it is always
# <build-dir>/sources/<orig-tarball> as named in the lock file.
#
# Where the bytes come from: Debian's source index for $SUITE, through apt with a
# project-local configuration under <build-dir>/apt/ (<build-dir>/apt-SUITE/
# for another suite).  The machine's apt setup is
# only read (to learn which archive URI it uses), never changed, and no archive
# host is written down in this repository: every machine uses its own.
# BOTTLE_DEBIAN_URI=<uri> overrides the URI read from the machine's sources.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKFILE=$ROOT/scripts/deps.lock
SUITE=trixie
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# Where the machine's apt sources live; only overridden to test the parser.
APT_ETC=${BOTTLE_APT_ETC:-/etc/apt}

die() { printf 'fetch: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'fetch: %s\n' "$*" >&2; }

BUILD=$ROOT/build
names=()
all=0
while (($#)); do
    case $1 in
        --build-dir) BUILD=${2:?--build-dir needs a directory}; shift 2 ;;
        --lock) LOCKFILE=${2:?--lock needs a file}; shift 2 ;;
        --suite) SUITE=${2:?--suite needs a Debian suite name}; shift 2 ;;
        --all) all=1; shift ;;
        -h|--help) sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        -*) die "unknown option $1" ;;
        *) names+=("$1"); shift ;;
    esac
done
[[ -r $LOCKFILE ]] || die "$LOCKFILE: no such lock file"
((all)) && mapfile -t names < <(awk '!/^[[:space:]]*(#|$)/ {print $1}' "$LOCKFILE")
((${#names[@]})) || die "nothing to fetch: give dependency names from $LOCKFILE, or --all"
mkdir -p "$BUILD"
BUILD=$(cd "$BUILD" && pwd)
SOURCES=$BUILD/sources
# Each suite has its own index: switching would throw the other's away.
APTDIR=$BUILD/apt
[[ $SUITE == trixie ]] || APTDIR=$BUILD/apt-$SUITE

# lock_field NAME COLUMN: one column of NAME's line in the lock file.
lock_field() {
    local v
    v=$(awk -v n="$1" -v c="$2" '!/^[[:space:]]*(#|$)/ && $1 == n {print $c; exit}' "$LOCKFILE")
    [[ -n $v ]] || die "'$1' is not listed in $LOCKFILE"
    printf '%s\n' "$v"
}

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# Our own check, independent of apt's: a tarball is only ever used after this.
verify() {
    local file=$1 want=$2 got
    got=$(sha256_of "$file")
    [[ $got == "$want" ]] || die "sha256 mismatch for $file: expected $want, got $got"
}

# The archive URI this machine already uses for Debian itself.  deb822 first
# (Debian 12+ default), then the one-line format; security and updates suites live
# in other archives that do not carry $SUITE's sources, so they are skipped.
machine_debian_uri() {
    local f
    for f in "$APT_ETC"/sources.list.d/*.sources; do
        [[ -r $f ]] || continue
        # Stanzas are separated by blank lines; keep the first URI of the first
        # stanza that is enabled and whose suites include a plain release name.
        awk '
            function flush() {
                if (uri != "" && plain && enabled) { print uri; found = 1; exit }
                uri = ""; plain = 0; enabled = 1
            }
            BEGIN { enabled = 1 }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            tolower($1) == "uris:"    { if (uri == "") uri = $2 }
            tolower($1) == "suites:"  { for (i = 2; i <= NF; i++) if ($i !~ /[-\/]/) plain = 1 }
            tolower($1) == "enabled:" { enabled = (tolower($2) != "no") }
            END { if (!found) flush() }
        ' "$f" | grep -E '^https?://' | head -n1 && return 0
    done
    for f in "$APT_ETC"/sources.list "$APT_ETC"/sources.list.d/*.list; do
        [[ -r $f ]] || continue
        # "deb [opts] URI suite component..."; options in brackets may hold spaces.
        sed -E -n 's/^[[:space:]]*deb(-src)?[[:space:]]+(\[[^]]*\][[:space:]]+)?//p' "$f" |
            awk '$1 ~ /^https?:\/\// && $2 !~ /[-\/]/ {print $1; exit}' | grep . && return 0
    done
    return 1
}

APT_OPTS=()
apt_ready=0
# A private apt world under $APTDIR: our sources list, lists and cache, so that
# `apt-get update` here neither needs nor touches the machine's deb-src setup.
apt_setup() {
    ((apt_ready)) && return 0
    local uri
    if [[ -n ${BOTTLE_DEBIAN_URI:-} ]]; then
        uri=$BOTTLE_DEBIAN_URI
    else
        uri=$(machine_debian_uri) ||
            die "could not find a Debian archive URI in $APT_ETC/sources.list.d/*.sources or $APT_ETC/sources.list; set BOTTLE_DEBIAN_URI"
    fi
    [[ -r $KEYRING ]] || die "$KEYRING is missing (package debian-archive-keyring)"
    mkdir -p "$APTDIR/sources.list.d" "$APTDIR/lists/partial" "$APTDIR/cache/archives/partial"
    printf 'deb-src [signed-by=%s] %s %s main\n' "$KEYRING" "$uri" "$SUITE" >"$APTDIR/sources.list"
    # The machine's apt.conf.d may hook `apt-get update` (PackageKit, AppStream);
    # those act on the machine's own state, not ours, so drop them here.
    cat >"$APTDIR/apt.conf" <<'EOF'
#clear APT::Update::Pre-Invoke;
#clear APT::Update::Post-Invoke;
#clear APT::Update::Post-Invoke-Success;
EOF
    APT_OPTS=(
        -c "$APTDIR/apt.conf"
        -o "Dir::Etc::SourceList=$APTDIR/sources.list"
        -o "Dir::Etc::SourceParts=$APTDIR/sources.list.d"
        -o "Dir::State::Lists=$APTDIR/lists"
        -o "Dir::Cache=$APTDIR/cache"
    )
    say "updating the $SUITE source index (log: $APTDIR/update.log)"
    if ! apt-get "${APT_OPTS[@]}" -q update >"$APTDIR/update.log" 2>&1; then
        tail -n 20 "$APTDIR/update.log" >&2
        die "apt-get update for the $SUITE source index failed; full log: $APTDIR/update.log"
    fi
    # apt-get update exits 0 on some fetch failures; make sure we really have it.
    if grep -qE '^(W|E): ' "$APTDIR/update.log"; then
        grep -E '^(W|E): ' "$APTDIR/update.log" >&2
        ls "$APTDIR"/lists/*Sources* >/dev/null 2>&1 ||
            die "no $SUITE Sources index was downloaded; see $APTDIR/update.log"
    fi
    apt_ready=1
}

# orig_uri PKG VERSION ORIG SHA256: the archive URI of ORIG, from the version of PKG whose file
# list contains ORIG (we pin the upstream tarball, not a Debian revision, so any
# Debian revision built on the same orig is fine).
orig_uri() {
    local pkg=$1 pinned=$2 orig=$3 sha=$4 showsrc ver line
    showsrc=$(apt-cache "${APT_OPTS[@]}" showsrc --only-source "$pkg" 2>/dev/null) || showsrc=
    [[ -n $showsrc ]] || die "$pkg: no source package of that name in $SUITE's index"
    ver=$(awk -v f="$orig" '
        /^Version:/ { v = $2 }
        /^ [0-9a-f]+ [0-9]+ / && $3 == f { print v; exit }
    ' <<<"$showsrc")
    if [[ -z $ver ]]; then
        local offered
        offered=$(awk '
            /^Version:/ { v = $2 }
            /^ [0-9a-f]+ [0-9]+ / && $3 ~ /\.orig\.tar\./ && !seen[v $3]++ { printf "    %s (%s)\n", v, $3 }
        ' <<<"$showsrc")
        die "$pkg: the pinned version $pinned ($orig) is not in $SUITE's source index.
  The archive offers:
${offered:-    (no orig tarball at all)}
  Pick one of those in $LOCKFILE (new version, tarball name and sha256; see docs/dependencies.md)."
    fi
    line=$(apt-get "${APT_OPTS[@]}" -q source --print-uris --only-source "$pkg=$ver" 2>/dev/null |
        awk -v f="$orig" '$2 == f {print; exit}')
    [[ -n $line ]] || die "$pkg: apt-get source --print-uris $pkg=$ver did not list $orig"
    # Format: 'URI' FILE SIZE SHA256:HASH.  A pin that disagrees with the signed
    # index is an error in the pin (or a changed tarball): say so before fetching.
    local listed=${line##* }
    if [[ $listed == SHA256:* && ${listed#SHA256:} != "$sha" ]]; then
        die "sha256 mismatch for $orig: $LOCKFILE expects $sha, $SUITE's index ($pkg $ver) lists ${listed#SHA256:}"
    fi
    line=${line%% *}
    printf '%s\n' "${line//\'/}"
}

download() {
    local name=$1 pkg orig sha dest uri tmp
    pkg=$(lock_field "$name" 3)
    orig=$(lock_field "$name" 4)
    sha=$(lock_field "$name" 5)
    dest=$SOURCES/$orig
    if [[ -f $dest ]]; then
        [[ $(sha256_of "$dest") == "$sha" ]] && return 0
        say "$orig in the cache does not match its pin; fetching it again"
        rm -f "$dest"
    fi
    apt_setup
    uri=$(orig_uri "$pkg" "$(lock_field "$name" 2)" "$orig" "$sha")
    say "downloading $orig"
    mkdir -p "$SOURCES/.partial"
    tmp=$SOURCES/.partial/$orig
    rm -f "$tmp"
    # apt downloads as the unprivileged _apt user when run as root; let it write.
    if ((EUID == 0)) && id _apt >/dev/null 2>&1; then
        chown _apt "$SOURCES/.partial"
    fi
    # apt-helper is apt's own downloader: same proxy settings and it checks the
    # hash while writing.  We check again below with our own tool.
    if ! /usr/lib/apt/apt-helper -c "$APTDIR/apt.conf" download-file "$uri" "$tmp" "SHA256:$sha" \
        >"$APTDIR/download-$name.log" 2>&1; then
        tail -n 20 "$APTDIR/download-$name.log" >&2
        rm -f "$tmp"
        die "download of $orig failed (is the pinned sha256 $sha right?); log: $APTDIR/download-$name.log"
    fi
    verify "$tmp" "$sha"
    ((EUID == 0)) && chown 0:0 "$tmp"
    chmod 0644 "$tmp"
    mv -f "$tmp" "$dest"
}

# A build running in parallel (another shell, make -j) must not update the same
# apt lists or write the same partial file at the same time.
mkdir -p "$SOURCES"
exec 9>"$SOURCES/.fetch.lock"
flock 9

# download() leaves only tarballs whose hash it has just checked itself.
for n in "${names[@]}"; do
    download "$n"
done

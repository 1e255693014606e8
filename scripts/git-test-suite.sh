#!/usr/bin/env bash
# git's own tests of a git:// server, run against the git gate: a peer's
# test of our server (docs/gitgate.md, "Git's own test suite").
#
#   scripts/git-test-suite.sh [--server=gate|git-daemon] [--keep] [TEST...]
#   make git-test-suite
#
# TEST is a script of git's t/ directory ("t5570" will do); the default is
# t5570-git-daemon and t5702-protocol-v2.  git's test harness starts its
# server with $LIB_GIT_DAEMON_COMMAND in place of `git daemon` (see
# t/lib-git-daemon.sh); this script is that command too (--as-daemon), and
# starts `build/sidecar gitgate` serving git:// for the repositories the
# tests create.  --server=git-daemon runs the same tests against git's own
# daemon through the same wrapper: every test must pass there, which proves
# the plumbing.
#
# The tests are those of the installed git (Debian 12's 2.39.5): its source
# comes from Debian's archive, pinned in scripts/test-deps.lock and fetched
# by scripts/fetch-source.sh; only the test helpers are built, under
# build/git-tests/ (about a minute once, nothing on later runs).  The git
# under test as the client is the installed one (GIT_TEST_INSTALLED).
#
# Tests that fail against the gate for a known reason are listed in
# EXPECTED_FAILURES below, each with the reason.  The run fails when a test
# fails that is not listed, and also when a listed test passes (the list
# must stay true).  --keep keeps the trash directories and logs of a run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF=$ROOT/scripts/git-test-suite.sh

die() {
	printf 'git-test-suite: error: %s\n' "$*" >&2
	exit 1
}
say() { printf 'git-test-suite: %s\n' "$*"; }

# The repositories t5570 and t5702 serve through their daemon: the name the
# client asks for, and the directory under the harness's document root that
# holds it.  The gate serves only configured repositories, each a mirror of
# its upstream, and the tests create theirs after the daemon started and
# then change them directly: so each is configured with the test's
# directory as its upstream, mirrored before every upload-pack
# (mirror_max_age 0), and pushes go through to it.  t5570's "nowhere" and
# "escape" stay unknown; its "localhost/interp" exists only through git
# daemon's --interpolated-path.
GATE_REPOS=(
	"repo:repo.git"
	"repo_pack:repo_pack.git"
	"repo_bad1:repo_bad1.git"
	"repo_bad2:repo_bad2.git"
	"parent:parent"
)

# test-number|why it fails against the gate.  Numbers are those of the
# pinned git version; the run prints each listed test's title next to it.
EXPECTED_FAILURES=(
	"t5570.16|git daemon --informative-errors says 'no such repository: /nowhere.git'; the gate says \"repository 'nowhere' not found\" (it has one wording, not git daemon's two)"
	"t5570.17|the gate serves receive-pack over git:// (pushing through the gate is how the agent's work reaches the forge); git daemon refuses it unless --enable=receive-pack"
	"t5570.18|the gate serves a configured repository from its own mirror, whatever the mode of the upstream's directory (chmod -x); git daemon refuses it"
	"t5570.19|the gate serves the repositories of its config and has no git-daemon-export-ok files"
	"t5570.20|the gate has no --interpolated-path (virtual hosts): repository names come from its config"
	"t5570.22|the same: localhost/interp.git exists only through git daemon's --interpolated-path"
	"t5702.8|the test's upstream 'parent' is a non-bare repository, and the gate forwards pushes upstream with libgit2, whose local transport refuses to push into a non-bare one; the gate received and scanned the push (forges are bare)"
)

# ---- the daemon wrapper: what lib-git-daemon.sh starts -------------------
#
# Called as `git daemon` would be: --listen=ADDR --port=N --reuseaddr
# --verbose --pid-file=FILE --base-path=DIR [test-specific options] DIR.
# The harness reads the first line of stderr and wants "[pid] Ready to
# rumble"; it stops the daemon with SIGTERM and expects the process it
# started to die of that signal.

daemon_wrapper() {
	local server=$1 listen=127.0.0.1 port="" pid_file="" base="" arg
	shift
	if [[ $server == git-daemon ]]; then
		exec git daemon "$@"
	fi
	for arg in "$@"; do
		case $arg in
		--listen=*) listen=${arg#--listen=} ;;
		--port=*) port=${arg#--port=} ;;
		--pid-file=*) pid_file=${arg#--pid-file=} ;;
		--base-path=*) base=${arg#--base-path=} ;;
		# git daemon's access switches have no gate equivalent: the
		# gate serves every configured repository, for reading and
		# pushing alike (EXPECTED_FAILURES says which tests notice).
		--reuseaddr | --verbose | --export-all | --enable=* | --informative-errors | \
			--interpolated-path=*) ;;
		-*) die "--as-daemon: git daemon option '$arg' is not handled" ;;
		*) base=${base:-$arg} ;;
		esac
	done
	[[ -n $port && -n $base ]] || die "--as-daemon: --port and the base path are required"
	[[ -x ${BOTTLE_GIT_TEST_SIDECAR:-} ]] || die "--as-daemon: BOTTLE_GIT_TEST_SIDECAR is not set"

	# The gate's own data (its mirrors) lives outside the harness's tree.
	local state entry
	state=$(mktemp -d "${TMPDIR:-/tmp}/git-test-suite-gate.XXXXXX")
	{
		printf 'listen:\n  git: "%s:%s"\n  http: "off"\n' "$listen" "$port"
		printf 'data_dir: "%s"\n' "$state/data"
		printf 'mirror_max_age: 0s\n'
		printf 'repos:\n'
		for entry in "${GATE_REPOS[@]}"; do
			printf '  - name: %s\n    upstream: "%s"\n' "${entry%%:*}" "$base/${entry#*:}"
		done
	} >"$state/gitgate.yaml"

	# DLP on, with the built-in rules, as a bottle runs it.  The gate
	# writes a line to fd 3 once it listens.
	local gate_pid tail_pid=""
	mkfifo "$state/ready"
	"$BOTTLE_GIT_TEST_SIDECAR" gitgate --config "$state/gitgate.yaml" --ready-fd 3 \
		2>>"$state/gate.log" 3>"$state/ready" &
	gate_pid=$!
	# SIGTERM from the harness: stop the gate, then die of the same
	# signal, as git daemon would.
	trap 'kill -TERM "$gate_pid" 2>/dev/null; wait "$gate_pid" 2>/dev/null;
		[[ -z $tail_pid ]] || kill "$tail_pid" 2>/dev/null;
		rm -rf "$state"; trap - TERM; kill -TERM $$' TERM
	if ! read -r -t 20 _ <"$state/ready"; then
		kill "$gate_pid" 2>/dev/null
		cat "$state/gate.log" >&2
		echo "the gate did not start listening on $listen:$port" >&2
		rm -rf "$state"
		exit 1
	fi
	[[ -z $pid_file ]] || echo "$gate_pid" >"$pid_file"
	echo "[$gate_pid] Ready to rumble" >&2
	# The gate's log goes to the harness from here on (its verbose log).
	tail -n +1 -f "$state/gate.log" >&2 &
	tail_pid=$!
	wait "$gate_pid"
}

if [[ ${1:-} == --as-daemon=* ]]; then
	server=${1#--as-daemon=}
	shift
	daemon_wrapper "$server" "$@"
	exit
fi

# ---- the runner ----------------------------------------------------------

server=gate
keep=0
tests=()
for arg in "$@"; do
	case $arg in
	--server=gate | --server=git-daemon) server=${arg#--server=} ;;
	--keep) keep=1 ;;
	-h | --help)
		sed -n '2,26s/^# \{0,1\}//p' "$SELF"
		exit 0
		;;
	-*) die "unknown option '$arg' (try --help)" ;;
	*) tests+=("${arg%.sh}") ;;
	esac
done
((${#tests[@]})) || tests=(t5570-git-daemon t5702-protocol-v2)

BUILD=$ROOT/build
LOCK=$ROOT/scripts/test-deps.lock
version=$(awk '$1 == "git" {print $2}' "$LOCK")
orig=$(awk '$1 == "git" {print $4}' "$LOCK")
installed=$(git --version | awk '{print $3}')
# Another version's tests would test another client against our server,
# and may expect behaviour the installed git does not have.
[[ $installed == "$version" ]] ||
	die "the installed git is $installed but scripts/test-deps.lock pins git $version's tests"

start=$SECONDS
"$ROOT/scripts/fetch-source.sh" --build-dir "$BUILD" --lock "$LOCK" --suite bookworm git
src=$BUILD/git-tests/git-$version
stamp=$src/.bottle-built
if [[ ! -f $stamp ]]; then
	say "building git $version's test helpers (log: $BUILD/git-tests/build.log)"
	rm -rf "$src"
	mkdir -p "$src"
	tar -xf "$BUILD/sources/$orig" -C "$src" --strip-components=1
	# Only what t/test-lib.sh needs: test-tool, the templates and
	# GIT-BUILD-OPTIONS; the git under test is the installed one.  No
	# curl: the http parts of the tests are not about our server.
	if ! {
		make -C "$src" -j2 NO_CURL=YesPlease NO_GETTEXT=YesPlease NO_TCLTK=YesPlease \
			GIT-BUILD-OPTIONS t/helper/test-tool &&
			make -C "$src/templates" NO_GETTEXT=YesPlease
	} >"$BUILD/git-tests/build.log" 2>&1; then
		tail -n 30 "$BUILD/git-tests/build.log" >&2
		die "building git's test helpers failed; full log: $BUILD/git-tests/build.log"
	fi
	touch "$stamp"
fi
build_seconds=$((SECONDS - start))

if [[ $server == gate ]]; then
	sidecar=$BUILD/sidecar
	[[ -x $sidecar ]] || die "$sidecar is missing: run make all first"
	"$sidecar" gitgate --help >/dev/null 2>&1 ||
		die "$sidecar has no working gitgate applet"
	export BOTTLE_GIT_TEST_SIDECAR=$sidecar
fi

results=$BUILD/git-tests/results
rm -rf "$results"
mkdir -p "$results"
trash=$(mktemp -d "${TMPDIR:-/tmp}/git-test-suite.XXXXXX")
if ((keep)); then
	say "keeping trash directories under $trash"
else
	trap 'rm -rf "$trash"' EXIT
fi

# The expected failures as "t5570.13" -> reason.
declare -A expected=()
for entry in "${EXPECTED_FAILURES[@]}"; do
	expected[${entry%%|*}]=${entry#*|}
done

failed=0
run_start=$SECONDS
for test in "${tests[@]}"; do
	# "t5570" is enough when it names one script.
	if [[ ! -f $src/t/$test.sh ]]; then
		matches=("$src/t/$test"-*.sh)
		[[ ${#matches[@]} == 1 && -f ${matches[0]} ]] ||
			die "no single test script $test*.sh in git $version's t/"
		test=$(basename "${matches[0]}" .sh)
	fi
	number=${test%%-*}
	say "$test against $server"
	# The harness drops most GIT_* variables from the environment; these
	# names pass through.  The daemon's port is the harness's own choice
	# (10000 + the test's number).
	set +e
	(
		cd "$src/t" &&
			GIT_TEST_INSTALLED=/usr/bin \
			GIT_TEST_GIT_DAEMON=true \
			LIB_GIT_DAEMON_COMMAND="$SELF --as-daemon=$server" \
			./"$test.sh" --root="$trash" --verbose-log -x
	) >"$results/$test.tap" 2>&1
	set -e
	cp "$src/t/test-results/$test.out" "$results/$test.log" 2>/dev/null || true

	unexpected=0
	while IFS= read -r line; do
		if [[ $line =~ ^(not\ )?ok\ ([0-9]+)\ -\ (.*)$ ]]; then
			id=$number.${BASH_REMATCH[2]}
			title=${BASH_REMATCH[3]}
			reason=""
			[[ $server == gate ]] && reason=${expected[$id]:-}
			if [[ -n ${BASH_REMATCH[1]} ]]; then
				if [[ -n $reason ]]; then
					printf '  expected failure %s - %s\n      because %s\n' "$id" "$title" "$reason"
				else
					printf '  FAIL %s - %s\n' "$id" "$title"
					unexpected=1
				fi
			elif [[ -n $reason ]]; then
				printf '  PASSED %s - %s: listed as an expected failure; update EXPECTED_FAILURES\n' \
					"$id" "$title"
				unexpected=1
			fi
		fi
	done <"$results/$test.tap"
	grep -E '^# (passed|failed|still have|SKIP|skip)' "$results/$test.tap" | sed 's/^/  /' || true
	if ! grep -q '^1\.\.[0-9]' "$results/$test.tap"; then
		echo "  the script did not finish:"
		tail -n 5 "$results/$test.tap" | sed 's/^/    /'
		unexpected=1
	fi
	if ((unexpected)); then
		echo "  details: $results/$test.log"
		failed=1
	fi
done
say "build ${build_seconds}s, tests $((SECONDS - run_start))s"
if ((failed)); then
	say "FAILED against $server"
	exit 1
fi
say "all as expected against $server"

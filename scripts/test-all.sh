#!/bin/sh
# test-all.sh - every test of chapps, from a clean clone, as root on Debian 12:
#   1. install the dependencies (scripts/deps-debian.sh);
#   2. build and run `make check`: Check unit tests, store and policy-db contract tests
#      against private Redis/Sentinel/MariaDB servers on loopback, miltertest protocol
#      tests against the built milter, and end-to-end tests through a private Postfix with
#      Cyrus SASL on loopback;
#   3. the same suite again with AddressSanitizer + UBSan (--enable-asan);
#   4. the protocol tests once more with every milter under valgrind memcheck (no memory
#      error, no definite leak; tests/valgrind.supp explains each suppression);
#   5. a bounded libFuzzer run of every fuzz target (clang, --with-fuzzer=clang), 20 s each;
#   6. make distcheck;
#   7. the Debian package (tests/deb/test-deb.sh): build, lintian, install on this machine,
#      the service on 127.0.0.1:17225, reload, upgrade, remove and purge.  It skips (and the
#      step is counted as skipped) where chapps is already installed, e.g. by
#      scripts/setup-debian.sh: it purges what it installs.
# The long runs are not here: scripts/fuzz-long.sh and scripts/soak.sh (docs/ROBUSTNESS.md).
# The last line printed is "N passed, M failed" over all steps (", K skipped" when a step
# skipped); exit 0 only when none failed.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
work=${CHAPPS_TEST_DIR:-/tmp/chapps-test}
passed=0
failed=0
skipped=0
step() {	# step NAME COMMAND...: run one step, count it, keep its log (exit 77: skipped)
	name=$1; shift
	printf '=== %s\n' "$name"
	"$@" >"$work/$name.log" 2>&1
	rc=$?
	if [ $rc = 0 ]; then
		passed=$((passed + 1)); printf 'ok - %s\n' "$name"
	elif [ $rc = 77 ]; then
		skipped=$((skipped + 1)); printf 'skip - %s\n' "$name"	# its "# SKIP:" below
	else
		failed=$((failed + 1)); printf 'not ok - %s (log: %s/%s.log)\n' "$name" "$work" "$name"
		tail -n 60 "$work/$name.log" | sed 's/^/    /'
	fi
	# test-suite logs name every test: show their summaries
	grep -hE '^(PASS|FAIL|ERROR|XPASS|SKIP):|^# (TOTAL|PASS|SKIP|FAIL|ERROR):|[0-9]+ passed, [0-9]+ failed|^# (systemd|package build|second|lintian|test-deb)' \
		"$work/$name.log" 2>/dev/null | sed 's/^/    /' | tail -n 40
}
build() {	# build DIR CONFIGURE-ARGS...: configure and make in a fresh dir
	dir=$1; shift
	rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" &&
		"$here/configure" -q "$@" && make -j"$(nproc)"
}

rm -rf "$work" && mkdir -p "$work"
# CHAPPS_SKIP_DEPS=1: the dependencies are known to be installed (a run inside a network
# namespace of its own, which reaches no package archive)
if [ "${CHAPPS_SKIP_DEPS:-0}" != 1 ]; then
	"$here/scripts/deps-debian.sh" || { echo "0 passed, 1 failed"; exit 1; }
fi
(cd "$here" && autoreconf -fi) >"$work/autoreconf.log" 2>&1 ||
	{ cat "$work/autoreconf.log"; echo "0 passed, 1 failed"; exit 1; }

step build build "$work/plain" --enable-werror
step check sh -c "cd '$work/plain' && make check"
step asan-build build "$work/asan" --enable-asan CFLAGS="-O1 -g"
step asan-check sh -c "cd '$work/asan' && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 make check"
step valgrind sh -c "cd '$work/plain' && CHAPPS_MILTER_WRAPPER='valgrind -q --error-exitcode=1 \
	--leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--suppressions=$here/tests/valgrind.supp' \
	make check TESTS='tests/protocol/run.sh tests/protocol/inbound.sh tests/protocol/outbound.sh'"
step fuzz-build build "$work/fuzz" CC=clang --with-fuzzer=clang CFLAGS="-O1 -g"
step fuzz sh -c "cd '$work/fuzz' && '$here/tests/fuzz/run-fuzzers.sh' 20"
step distcheck sh -c "cd '$work/plain' && make distcheck"
step deb env CHAPPS_DEB_DIR="$work/deb" "$here/tests/deb/test-deb.sh"

if [ "$skipped" = 0 ]; then
	echo "$passed passed, $failed failed"
else
	echo "$passed passed, $failed failed, $skipped skipped"
fi
[ "$failed" = 0 ]

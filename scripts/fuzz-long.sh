#!/bin/bash
# fuzz-long.sh - run every libFuzzer target long: to 10 million executions or a time cap
#
# Usage: scripts/fuzz-long.sh [CAP_SECONDS] [TARGET...]
#	CAP_SECONDS	time cap per target (default $FUZZ_CAP or 3600)
#	TARGET		config addr reply spf spf-header greylist request milter (default: all)
# Environment:
#	FUZZ_BUILDDIR	build directory configured with `CC=clang ./configure --with-fuzzer=clang`
#			and built (default: .); `make fuzz-long` there runs this script
#	FUZZ_RUNS	executions per target (default 10000000)
#	FUZZ_LONG_DIR	where the grown corpora, logs and reproducers are kept
#			(default /tmp/chapps-fuzz-long; reused, so a second run continues)
#	FUZZ_MAX_LEN	libFuzzer's -max_len, the longest input tried (default: libFuzzer's
#			guess from the corpus, its longest input: 60,089 bytes for
#			fuzz-milter's big-header seed); 4096 is libFuzzer's own default for a
#			corpus of short inputs and makes fuzz-milter about twice as fast
#
# The targets run one after the other, one process each (-jobs=1, no fork mode), so the
# run takes at most CAP_SECONDS x targets of one core.  Each starts from its checked-in seed
# corpus (tests/fuzz/corpus-NAME, never modified) plus what an earlier run grew, with its
# dictionary, leak checking off while fuzzing (for speed; see tests/fuzz/run-fuzzers.sh);
# then every input of the grown corpus is run once more with leak checking on.  A crash,
# sanitizer report, timeout (10 s) or memory blow-up (2 GB) ends that target's run and
# leaves its reproducer in FUZZ_LONG_DIR/artifacts.
#
# Output, one line per target, then a summary line:
#	fuzz-NAME: EXECUTIONS executions in S s (N M reached | cap of C s hit | stopped by a
#	  crash), cov: N, ft: M,
#	  corpus: K inputs, crashes: X, leaks: Y
#	fuzz-long: T targets, R reached N M executions (N: FUZZ_RUNS in millions), X crashes, Y leaks, total S s
# Exit 0 when no target crashed or leaked.

export LC_ALL=C
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/tests/fuzz
build=${FUZZ_BUILDDIR:-.}
cap=${1:-${FUZZ_CAP:-3600}}
[ $# -gt 0 ] && shift
runs=${FUZZ_RUNS:-10000000}
dir=${FUZZ_LONG_DIR:-/tmp/chapps-fuzz-long}
maxlen=${FUZZ_MAX_LEN:+-max_len=$FUZZ_MAX_LEN}
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(config addr reply spf spf-header greylist request milter api)

case $cap in
'' | *[!0-9]*) echo "usage: $0 [CAP_SECONDS] [TARGET...]" >&2; exit 2 ;;
esac

mkdir -p "$dir/artifacts" "$dir/tmp" || exit 1
dir=$(cd "$dir" && pwd)
build=$(cd "$build" && pwd) || exit 1
export FUZZ_TMPDIR=$dir/tmp

n=0 reached=0 crashes=0 leaks=0 total=0
for name in "${targets[@]}"; do
	bin=$build/tests/fuzz/fuzz-$name
	if [ ! -x "$bin" ]; then
		echo "fuzz-$name: not built ($bin)"
		continue
	fi
	n=$((n + 1))
	corpus=$dir/corpus-$name
	mkdir -p "$corpus"
	cp -n "$src/corpus-$name"/* "$corpus"/ 2>/dev/null
	log=$dir/fuzz-$name.log
	start=$(date +%s)
	# -jobs=1 runs the fuzzer in one child process that writes fuzz-0.log in the current
	# directory (its output is copied into $log when it ends): keep that file in $dir
	(cd "$dir" && exec "$bin" -runs="$runs" -max_total_time="$cap" -jobs=1 -timeout=10 -rss_limit_mb=2048 \
		-detect_leaks=0 $maxlen -dict="$src/fuzz-$name.dict" -artifact_prefix="$dir/artifacts/fuzz-$name-" \
		-print_final_stats=1 "$corpus") >"$log" 2>&1
	rc=$?
	secs=$(($(date +%s) - start))
	total=$((total + secs))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
	crash=0 leak=0
	if [ $rc != 0 ]; then
		crash=1
		execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
		why=$(grep -m1 -oE 'ERROR: [A-Za-z]+: [A-Za-z -]+|ALARM: .*|out-of-memory.*|deadly signal' "$log")
		art=$(grep -m1 -oE 'Test unit written to [^ ]+' "$log" | sed 's/Test unit written to //')
	else
		# the grown corpus once more, with leak checks
		"$bin" -runs=0 -timeout=10 -rss_limit_mb=2048 -detect_leaks=1 \
			-artifact_prefix="$dir/artifacts/fuzz-$name-" "$corpus" >>"$log" 2>&1 || leak=1
	fi
	[ "${execs:-0}" -ge "$runs" ] && reached=$((reached + 1))
	crashes=$((crashes + crash))
	leaks=$((leaks + leak))
	if [ $crash = 1 ]; then end="stopped by a crash"
	elif [ "${execs:-0}" -ge "$runs" ]; then end="$((runs / 1000000)) M reached"
	else end="cap of $cap s hit"; fi
	echo "fuzz-$name: ${execs:-?} executions in $secs s ($end), ${cov:-cov: ?}," \
		"corpus: $(ls "$corpus" | wc -l) inputs, crashes: $crash, leaks: $leak"
	[ $crash = 1 ] && echo "  crash: ${why:-see $log}; reproducer: ${art:-none}"
	[ $leak = 1 ] && echo "  leak: $(grep -m1 -E 'SUMMARY' "$log"); see $log"
done
echo "fuzz-long: $n targets, $reached reached $((runs / 1000000)) M executions, $crashes crashes," \
	"$leaks leaks, total $total s (corpora, logs: $dir)"
[ $crashes = 0 ] && [ $leaks = 0 ]

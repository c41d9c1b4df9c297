# tests/protocol/lib.sh - what the protocol runners share (sourced by run.sh, inbound.sh and
# outbound.sh): tool checks, the temporary directory and its clean-up, TAP-like results,
# starting, watching and stopping milters by PID.
#
# The runner sets HERE (its directory) and PORT0, then calls
#	proto_init NAME [miltertest] [cli]
# which skips (exit 77) when a required tool is missing and creates $T.
#
# Environment:
#	CHAPPS_MILTER	the milter under test (default ./chapps-milter)
#	CHAPPS_CLI	chapps-cli (default: next to CHAPPS_MILTER)
#	MILTERTEST	miltertest (default: from PATH)
#	PROTO_VALGRIND=1  run every milter under valgrind --error-exitcode=1 --leak-check=full
#			(definite leaks only), with tests/valgrind.supp
#	CHAPPS_MILTER_WRAPPER	a command line to start every milter under instead (split at
#			spaces, e.g. "valgrind --error-exitcode=1 --leak-check=full"); a
#			wrapper must keep the milter's exit status; start and stop
#			bounds are then 30 s as for valgrind
#	PROTO_KEEP=1	keep the temporary directory

export LC_ALL=C
MILTER=${CHAPPS_MILTER:-./chapps-milter}
CLI=${CHAPPS_CLI:-$(dirname "$MILTER")/chapps-cli}
CLIENT="$HERE/milter-client.py"
MILTERTEST=${MILTERTEST:-$(command -v miltertest || echo /usr/bin/miltertest)}

N=0
PASS=0
FAIL=0
declare -A PID=() PORT=() RC=()
# STOP_TODO[NAME]: a reason to report NAME's stop checks as known failures
declare -A STOP_TODO=()
# TODO: set to a reason to mark the following checks as known failures (not counted)
TODO=

skip() { echo "# SKIP: $*"; exit 77; }

# proto_init NAME [miltertest] [cli] - check the tools, set up valgrind and $T
proto_init()
{
	local name=$1 need
	shift
	for need in "$@"; do
		case $need in
		miltertest) [ -x "$MILTERTEST" ] || skip "miltertest not found" ;;
		esac
	done
	command -v python3 >/dev/null || skip "python3 not found"
	# the interpreter itself: a pyenv shim costs about 0.4 s per start
	PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null)
	[ -x "$PY" ] || skip "python3 does not run"
	[ -x "$MILTER" ] || skip "milter binary $MILTER not found (set CHAPPS_MILTER)"
	for need in "$@"; do
		case $need in
		cli) [ -x "$CLI" ] || skip "chapps-cli $CLI not found (set CHAPPS_CLI)" ;;
		esac
	done
	MILTER=$(cd "$(dirname "$MILTER")" && pwd)/$(basename "$MILTER")

	VG=()
	START_BOUND=100		# x 50 ms
	STOP_BOUND=300
	if [ "${PROTO_VALGRIND:-0}" = 1 ]; then
		command -v valgrind >/dev/null || skip "valgrind not found"
		VG=(valgrind -q --error-exitcode=1 --leak-check=full --show-leak-kinds=definite
		    --errors-for-leak-kinds=definite --trace-children=no)
		[ -f "$HERE/../valgrind.supp" ] && VG+=(--suppressions="$HERE/../valgrind.supp")
		START_BOUND=600
		STOP_BOUND=600
	fi
	if [ -n "${CHAPPS_MILTER_WRAPPER:-}" ]; then
		read -r -a VG <<<"$CHAPPS_MILTER_WRAPPER"
		command -v "${VG[0]}" >/dev/null || skip "wrapper ${VG[0]} not found"
		START_BOUND=600
		STOP_BOUND=600
	fi

	T=$(mktemp -d "/tmp/$name.XXXXXX") || exit 1
	trap cleanup EXIT
}

cleanup()
{
	local name
	for name in "${!PID[@]}"; do
		kill -KILL "${PID[$name]}" 2>/dev/null
		wait "${PID[$name]}" 2>/dev/null
	done
	if [ "${PROTO_KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}

# ---- results -----------------------------------------------------------------

ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $*${TODO:+ # TODO $TODO}"; }

# notok DESC [DETAIL...] - a failed check; DETAIL lines are printed as comments
notok()
{
	N=$((N + 1))
	if [ -n "$TODO" ]; then
		echo "not ok $N - $1 # TODO $TODO"
	else
		FAIL=$((FAIL + 1))
		echo "not ok $N - $1"
	fi
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}

# has_line DESC TEXT LINE - TEXT holds LINE exactly
has_line()
{
	if grep -qxF -- "$3" <<<"$2"; then ok "$1"
	else notok "$1" "want the line: $3" "got:" "$(grep -v '^symlist' <<<"$2" | head -20)"; fi
}

# has_re DESC TEXT EREGEX - a line of TEXT matches EREGEX (anchor it yourself)
has_re()
{
	if grep -qE -- "$3" <<<"$2"; then ok "$1"
	else notok "$1" "want a line matching: $3" "got:" "$(grep -v '^symlist' <<<"$2" | head -20)"; fi
}

# eq DESC GOT WANT
eq()
{
	if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "got '$2', want '$3'"; fi
}

# log_has DESC NAME EREGEX - NAME's log has a line matching EREGEX
log_has()
{
	if grep -qE -- "$3" "$T/$2.log"; then ok "$1"
	else notok "$1" "no log line matches: $3" "$(tail -3 "$T/$2.log")"; fi
}

# ---- milters -----------------------------------------------------------------

# up NAME - start NAME's milter unless it runs; 0 when it is ready (logged its start line)
up()
{
	local name=$1 i
	[ -n "${PID[$name]}" ] && return 0
	[ -n "${RC[$name]}" ] && return 1
	"${VG[@]}" "$MILTER" -f -c "$T/$name.conf" 2>"$T/$name.log" &
	PID[$name]=$!
	for ((i = 0; i < START_BOUND; i++)); do
		grep -q 'starting on' "$T/$name.log" 2>/dev/null && return 0
		if ! kill -0 "${PID[$name]}" 2>/dev/null; then
			wait "${PID[$name]}"
			RC[$name]=$?
			unset "PID[$name]"
			notok "milter '$name' starts" "exit status ${RC[$name]}" "$(tail -5 "$T/$name.log")"
			return 1
		fi
		sleep 0.05
	done
	notok "milter '$name' starts within the bound" "$(tail -5 "$T/$name.log")"
	return 1
}

# alive NAME - has NAME's milter not exited?
alive()
{
	local st
	[ -n "${PID[$1]}" ] || return 1
	st=$(awk '{print $3}' "/proc/${PID[$1]}/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# check_alive DESC NAME
check_alive()
{
	if alive "$2"; then ok "$1"; else notok "$1" "the milter exited" "$(tail -5 "$T/$2.log")"; fi
}

# sock NAME - libmilter socket spec of NAME
sock() { echo "inet:${PORT[$1]}@127.0.0.1"; }

# raw NAME [TIMEOUT] - the raw protocol client on NAME's socket (script on stdin)
raw() { "$PY" "$CLIENT" -t "${2:-5}" -s "$(sock "$1")"; }

# proto_finish [NAME...] - the NAMEd milters must still run; then every milter must stop
# with status 0 on SIGTERM and leave no crash or memory error in its log; print the summary
# and return its status
proto_finish()
{
	local name pid i rc
	for name in "$@"; do
		if alive "$name"; then
			ok "milter '$name' still runs after its cases"
		elif [ -n "${PID[$name]}" ]; then
			notok "milter '$name' still runs after its cases" "$(tail -3 "$T/$name.log")"
		fi
	done
	for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null; done
	for name in $(printf '%s\n' "${!PID[@]}" | sort); do
		pid=${PID[$name]}
		TODO=${STOP_TODO[$name]}
		for ((i = 0; i < STOP_BOUND; i++)); do
			alive "$name" || break
			sleep 0.05
		done
		if alive "$name"; then
			kill -KILL "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			notok "milter '$name' exits within $((STOP_BOUND / 20)) s of SIGTERM" \
				"$(tail -3 "$T/$name.log")"
		else
			wait "$pid"
			rc=$?
			eq "milter '$name' exits 0 after SIGTERM${VG:+ (valgrind: no errors, no definite leaks)}" \
				"$rc" 0
		fi
		unset "PID[$name]"
		if grep -qiE 'panic|sanitizer|runtime error|segmentation|assert|Invalid (read|write)|definitely lost: [1-9]' \
			"$T/$name.log"; then
			notok "milter '$name': no crash or memory error in its log" \
				"$(grep -iE 'panic|sanitizer|runtime error|segmentation|assert|Invalid|lost' "$T/$name.log" | head -5)"
		else
			ok "milter '$name': no crash or memory error in its log"
		fi
		TODO=
	done
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}

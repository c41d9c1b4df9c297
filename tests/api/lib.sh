# tests/api/lib.sh - what the chapps-api tests share (sourced by each tests/api/*.sh)
#
# The test sets HERE (its directory) and calls
#	api_init NAME [cli] [curl] [jq] [milter] [miltertest]
# which skips (exit 77) when a tool is missing and creates $T (removed at exit, with every
# process started here killed by PID).  Then:
#	api_conf NAME PORT [SETTINGS]   write $T/NAME.conf (SQLite, LMDB, api on 127.0.0.1:PORT)
#	api_up NAME                     start chapps-api -f on it; wait for its start line
#	req NAME METHOD PATH [BODY] [TOKEN]  one request; $CODE and $BODY (TOKEN default $ADM)
#	ok/notok/eq/jq_eq ...           results; api_finish prints "N passed, M failed"
#
# Environment: CHAPPS_MILTER (default ./chapps-milter), CHAPPS_CLI and CHAPPS_API (default:
# next to CHAPPS_MILTER), API_KEEP=1 keeps $T.

export LC_ALL=C
MILTER=${CHAPPS_MILTER:-./chapps-milter}
CLI=${CHAPPS_CLI:-$(dirname "$MILTER")/chapps-cli}
API=${CHAPPS_API:-$(dirname "$MILTER")/chapps-api}
MILTERTEST=${MILTERTEST:-$(command -v miltertest || echo /usr/bin/miltertest)}

N=0
PASS=0
FAIL=0
declare -A PID=() APORT=()

skip() { echo "# SKIP: $*"; exit 77; }

# api_init NAME [TOOL...] - check the tools and create $T
api_init()
{
	local name=$1 need
	shift
	[ -x "$API" ] || skip "chapps-api $API not found (set CHAPPS_API)"
	for need in "$@"; do
		case $need in
		cli) [ -x "$CLI" ] || skip "chapps-cli $CLI not found" ;;
		curl) command -v curl >/dev/null || skip "curl not found" ;;
		jq) command -v jq >/dev/null || skip "jq not found" ;;
		milter) [ -x "$MILTER" ] || skip "chapps-milter $MILTER not found" ;;
		miltertest) [ -x "$MILTERTEST" ] || skip "miltertest not found" ;;
		esac
	done
	API=$(cd "$(dirname "$API")" && pwd)/$(basename "$API")
	T=$(mktemp -d "/tmp/$name.XXXXXX") || exit 1
	trap api_cleanup EXIT
}

api_cleanup()
{
	local name
	for name in "${!PID[@]}"; do
		kill -KILL "${PID[$name]}" 2>/dev/null
		wait "${PID[$name]}" 2>/dev/null
	done
	[ -n "${CLEANUP_HOOK:-}" ] && $CLEANUP_HOOK
	if [ "${API_KEEP:-0}" = 1 ]; then echo "# kept $T"; else rm -rf "$T"; fi
}

ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $*"; }

# notok DESC [DETAIL...] - a failed check; DETAIL lines printed as comments
notok()
{
	N=$((N + 1))
	FAIL=$((FAIL + 1))
	echo "not ok $N - $1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}

# eq DESC GOT WANT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "got '$2', want '$3'"; fi; }

# api_conf NAME PORT [SETTINGS] - a configuration with its own database, state and tokens
api_conf()
{
	local name=$1 port=$2
	APORT[$name]=$port
	cat >"$T/$name.conf" <<-EOF
		milter: { socket = "inet:$((port + 10))@127.0.0.1"; user = ""; group = "";
		          pidfile = "$T/$name.pid"; run_as_root = true; };
		store: { path = "$T/$name-state"; };
		policy_db: { path = "$T/$name.db"; };
		api: { listen = "127.0.0.1:$port"; tokens = "$T/$name.tokens"; $3 };
		$4
	EOF
}

# cli NAME ARGS... - chapps-cli on NAME's configuration
cli() { local name=$1; shift; "$CLI" -c "$T/$name.conf" "$@"; }

# api_up NAME - start chapps-api on NAME's configuration; 0 once it serves
api_up()
{
	local name=$1 i
	"$API" -f -c "$T/$name.conf" 2>"$T/$name-api.log" &
	PID[$name]=$!
	for ((i = 0; i < 200; i++)); do
		grep -q 'api: serving' "$T/$name-api.log" 2>/dev/null && return 0
		if ! kill -0 "${PID[$name]}" 2>/dev/null; then
			wait "${PID[$name]}"
			notok "chapps-api '$name' starts" "exit $?" "$(tail -5 "$T/$name-api.log")"
			unset "PID[$name]"
			return 1
		fi
		sleep 0.05
	done
	notok "chapps-api '$name' starts within 10 s" "$(tail -5 "$T/$name-api.log")"
	return 1
}

# api_alive NAME - does NAME's chapps-api still run?
api_alive()
{
	local st
	[ -n "${PID[$1]:-}" ] || return 1
	st=$(awk '{print $3}' "/proc/${PID[$1]}/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# api_down NAME DESC - SIGTERM; ok when it exits 0 within 10 s
api_down()
{
	local name=$1 i rc
	kill -TERM "${PID[$name]}" 2>/dev/null
	for ((i = 0; i < 200; i++)); do
		api_alive "$name" || break
		sleep 0.05
	done
	if api_alive "$name"; then
		kill -KILL "${PID[$name]}"
		notok "$2" "still running 10 s after SIGTERM"
	else
		wait "${PID[$name]}"
		rc=$?
		eq "$2" "$rc" 0
	fi
	unset "PID[$name]"
}

# req NAME METHOD PATH [BODY] [TOKEN] - one request to NAME's API: $CODE, $BODY
req()
{
	local name=$1 method=$2 path=$3 body=${4-} tok=${5-$ADM}
	local args=(-s -m 10 -o "$T/resp" -w '%{http_code}' -X "$method")
	[ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
	[ -n "$body" ] && args+=(-H 'Content-Type: application/json' --data-binary "$body")
	CODE=$(curl "${args[@]}" "http://127.0.0.1:${APORT[$name]}$path")
	BODY=$(cat "$T/resp" 2>/dev/null)
}

# check DESC WANT_CODE [JQ_FILTER WANT] - the last request's status (and a value of its body)
check()
{
	local desc=$1 code=$2 got
	if [ "$CODE" != "$code" ]; then
		notok "$desc" "status $CODE, want $code" "body: $BODY"
		return 1
	fi
	if [ $# -ge 4 ]; then
		got=$(jq -c "$3" <<<"$BODY" 2>&1)
		if [ "$got" != "$4" ]; then
			notok "$desc" "$3: got $got, want $4" "body: $BODY"
			return 1
		fi
	fi
	ok "$desc"
}

# token NAME TOKNAME ROLE - a new token (printed)
token() { cli "$1" api token add "$2" --role "$3" 2>/dev/null; }

# api_finish - the summary; exit status
api_finish()
{
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" = 0 ]
}

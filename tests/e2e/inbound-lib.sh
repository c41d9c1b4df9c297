# tests/e2e/inbound-lib.sh - helpers for the inbound (SPF, greylisting, HELO whitelist)
# end-to-end tests.  Source it after lib.sh:
#	. "$(dirname "$0")/lib.sh" || exit 99
#	. "$(dirname "$0")/inbound-lib.sh" || exit 99
#
# Every chapps configuration written here sets spf.test_zone: the milter then answers every
# DNS look-up of its SPF checks from a file, and never asks the system resolver.  HELO
# whitelist entries must name 127.0.0.1 or ::1 (accepted without DNS) for the same reason.

# ib_listener PORT MILTERS DAEMON_NAME - e2e_listener PORT MILTERS tempfail, whose smtpd
# sends {daemon_name}=DAEMON_NAME (milter_macro_daemon_name) to its milters
ib_listener()
{
	e2e_listener "$1" "$2" tempfail
	E2E_LISTENERS[-1]+=" -o milter_macro_daemon_name=$3"
}

# ib_zone FILE RECORD... - write an spf.test_zone file, one "name TYPE data" per RECORD
ib_zone() { local f=$1; shift; printf '%s\n' "# chapps e2e SPF test zone" "$@" >"$f"; }

# ib_conf FILE SOCKET STATE DB ZONE SPF [TEXT...] - a chapps config for both flows: the
# identity gate alone on outbound (no outbound policies), the default inbound policies, LMDB
# state at STATE, SQLite policy database DB; SPF answered from ZONE, SPF more settings of the
# spf group (e.g. "time_budget = 1;"); each TEXT is one more line of libconfig (inbound,
# greylisting, listeners sections, ...)
ib_conf()
{
	local file=$1 sock=$2 st=$3 db=$4 zone=$5 spf=$6; shift 6
	e2e_policy_conf "$file" "$sock" "lmdb:$st" "$db" "" \
		"spf:      { test_zone = $(e2e_cfgstr "$zone"); receiver = \"mx.e2e.test\"; $spf };" \
		"$@"
}

# ib_send OUT PORT FROM TO [SWAKS-ARGS...] - unauthenticated (inbound) SMTP message; TO may
# be a comma-separated list; returns swaks' exit code
ib_send()
{
	local out=$1 port=$2 from=$3 to=$4; shift 4
	e2e_swaks "$out" "$port" --from "$from" --to "$to" "$@"
}

# ib_retry SECS OUT PORT FROM TO [SWAKS-ARGS...] - send the message again every 250 ms until
# every recipient has been accepted or SECS have passed (bounded), as a sending MTA does: when
# an attempt is accepted for some recipients and deferred for others (the greylisting store
# counts whole seconds, so two tuples made by one message may be a second apart), the next
# attempts go to the deferred ones only.  Each attempt's transcript is OUT.N, the last also
# OUT.  Sets IB_TRIES (attempts made), IB_MS (milliseconds until the success), IB_PARTIAL
# (attempts accepted for some recipients only: each is one more message at the sink) and
# IB_DEFERS (the deferring RCPT replies of the attempts, one per line).  True on success.
ib_retry()
{
	local secs=$1 out=$2 port=$3 from=$4 to=$5 t0 rc left r i
	local -a rcpts replies
	shift 5
	t0=${EPOCHREALTIME/./}
	IB_TRIES=0 IB_PARTIAL=0
	IB_DEFERS=
	while :; do
		IB_TRIES=$((IB_TRIES + 1))
		ib_send "$out.$IB_TRIES" "$port" "$from" "$to" "$@"
		rc=$?
		cp "$out.$IB_TRIES" "$out"
		IB_MS=$(((10#${EPOCHREALTIME/./} - 10#$t0) / 1000))
		IFS=, read -r -a rcpts <<<"$to"
		mapfile -t replies < <(e2e_replies "$out" "RCPT TO")
		left=
		for i in "${!rcpts[@]}"; do
			r=${replies[i]:-}
			case $r in
			2*) ;;
			*) left+=${left:+,}${rcpts[i]} IB_DEFERS+=$r$'\n' ;;
			esac
		done
		[ $rc = 0 ] && [ -z "$left" ] && return 0
		if [ $rc = 0 ]; then
			IB_PARTIAL=$((IB_PARTIAL + 1))
			to=$left
		fi
		[ "$IB_MS" -ge $((secs * 1000)) ] && return 1
		sleep 0.25
	done
}

# ib_headers SENDER - the header section of the (first) message from SENDER at the sink as
# Postfix sent it (without smtp-sink's X-* lines and its own Received:), one header a line
ib_headers()
{
	local f
	f=$(e2e_sink_files "$1" | head -n 1)
	[ -n "$f" ] || return 1
	tr -d '\r' <"$f" | awk '
		!body && /^X-(Client-Addr|Client-Proto|Helo-Args|Mail-Args|Rcpt-Args): / && !seen { next }
		!body && /^$/ { if (cur != "") print cur; body = 1; next }
		body { next }
		/^[ \t]/ { cur = cur " " substr($0, match($0, /[^ \t]/)); next }
		{ seen = 1; if (cur != "") print cur; cur = $0 }
		END { if (!body && cur != "") print cur }' |
		awk 'NR == 1 && /^Received: .* by sink\.e2e\.test \(smtp-sink\)/ { next } { print }'
}

# ib_header_names SENDER - the names of the headers of SENDER's message, in order, one a line
ib_header_names() { ib_headers "$1" | sed 's/:.*//'; }

# ib_sink_rcpt_list SENDER - the recipients of SENDER's messages at the sink, sorted
ib_sink_rcpt_list()
{
	local f
	for f in $(e2e_sink_files "$1"); do
		sed -n 's/^X-Rcpt-Args: <\([^>]*\)>.*/\1/p' "$f" | tr -d '\r'
	done | sort
}

# ib_tally CONFIG IP - the "passes" of chapps-cli tally IP --json (empty on failure)
ib_tally() { e2e_cli "$1" --json tally "$2" | sed -n 's/.*"passes":\([0-9]*\).*/\1/p'; }

# ib_pids_of_log FILE - the distinct PIDs in chapps-milter[PID] prefixes of FILE
ib_pids_of_log() { sed -n 's/^chapps-milter\[\([0-9]*\)\].*/\1/p' "$1" | sort -u; }

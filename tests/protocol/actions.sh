#!/bin/bash
# tests/protocol/actions.sh - issue 11 over the milter protocol: quota's actions quarantine and
# lock, the lock check, monitor mode and its switch by reload, on the built chapps-milter
#
# miltertest + actions.lua and milter-client.py (a raw protocol v6 client, python3 stdlib) play
# Postfix's submission service; the policy databases are made with chapps-cli, which also reads
# the usage back and unlocks.  Each milter runs in the foreground in one `mktemp -d`
# directory, waited for by polling its log with a bound, and is stopped by PID with SIGTERM at
# the end (exit status and log checked).
#
#   1 quota.action = quarantine: the recipient over quota passes, DATA continues, EOM sends
#     SMFIR_QUARANTINE with "chapps: alice over 2 recipients per day" (miltertest checks the
#     reason; the raw client sees QUARANTINE[...] and the negotiated SMFIF_QUARANTINE); the
#     held message counts nothing; one "hold" line
#   2 quota.mode and sender_domain_auth.mode = monitor: a sender at another domain and
#     recipients over quota all pass (the raw client, and miltertest: DATA ACCEPT), each
#     would-be refusal logged as "would reject" with the queue id; nothing over the quota is
#     counted.  Then the configuration says enforce and
#     SIGUSR1 reloads it: the next message is refused
#   3 quota.action = lock, lock.after = 2: two milter processes on one store; a refused
#     message on each (two connections, two processes) locks alice; both then refuse her at
#     MAIL with lock.reply (the raw client and miltertest + outbound.lua); `chapps-cli unlock
#     alice` lets her through again at once
#   4 lock.hold = true: a locked user's message is accepted into the hold queue
#
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed".  Exit 0 when
# everything passed, 1 otherwise, 77 when miltertest, python3, chapps-cli or the milter is
# missing.
#
# Environment:
#	CHAPPS_MILTER	the milter under test (default ./chapps-milter)
#	CHAPPS_CLI	chapps-cli (default: next to CHAPPS_MILTER)
#	PROTO_VALGRIND=1  run every milter under valgrind --error-exitcode=1 --leak-check=full
#	PROTO_KEEP=1	keep the temporary directory
#	PROTO_ACTIONS_PORT  first TCP port (default 16740); five consecutive ports are used

HERE=$(cd "$(dirname "$0")" && pwd)
LUA="$HERE/actions.lua"
PORT0=${PROTO_ACTIONS_PORT:-16740}
. "$HERE/lib.sh"
proto_init chapps-proto-act miltertest cli

# config NAME STATE SETTINGS - write $T/NAME.conf for its own port, with the store and
# database $T/STATE-state and $T/STATE.db (two milters may share them); SETTINGS appended
config()
{
	local name=$1 port=$((PORT0 + ${#PORT[@]}))
	PORT[$name]=$port
	cat >"$T/$name.conf" <<-EOF
		milter: { socket = "inet:$port@127.0.0.1"; user = ""; group = "";
		          pidfile = "$T/$name.pid"; run_as_root = true; };
		inbound: { policies = [ ]; };
		store: { path = "$T/$2-state"; };
		policy_db: { path = "$T/$2.db"; };
		outbound: { policies = [ "sender_domain_auth", "quota" ]; };
		$3
	EOF
}

# cli NAME ARGS... - chapps-cli against NAME's configuration
cli() { local name=$1; shift; "$CLI" -c "$T/$name.conf" "$@"; }

# setup NAME DESC COMMAND... - each COMMAND (one string) through chapps-cli; one check
setup()
{
	local name=$1 desc=$2 c rc=0
	shift 2
	for c in "$@"; do
		# shellcheck disable=SC2086
		cli "$name" $c >>"$T/cli.out" 2>&1 || { rc=1; echo "# failed: chapps-cli $c"; }
	done
	if [ $rc = 0 ]; then ok "$desc"; else notok "$desc" "$(tail -5 "$T/cli.out")"; fi
	return $rc
}

# usage NAME USER - "used reserved" from chapps-cli show USER --quota --json
usage()
{
	cli "$1" --json show "$2" --quota 2>>"$T/cli.out" |
		sed -n 's/.*"used":\([0-9]*\),"reserved":\([0-9]*\).*/\1 \2/p'
}

# mt NAME DESC USER FROM RCPTS REASON - a miltertest run of actions.lua
mt()
{
	local name=$1 desc=$2 out rc
	out=$("$MILTERTEST" -D SOCK="inet:${PORT[$name]}@127.0.0.1" -D USER="$3" -D FROM="$4" \
		-D RCPTS="$5" -D REASON="$6" -s "$LUA" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "$desc"; else notok "$desc" "miltertest exit $rc" "$out"; fi
}

# session USER FROM - the start of a raw-client session of USER sending as FROM (queue id QID1)
session()
{
	printf '%s\n' "optneg" "macro C j=mx.proto.test {daemon_name}=submission" \
		"connect client.proto.test 192.0.2.7" "macro M {auth_authen}=$1 i=QID1" "mail $2"
}

# count_log NAME EREGEX - lines of NAME's log that match
count_log() { grep -cE -- "$2" "$T/$1.log"; }

QUOTA_REPLY="554 5.7.1 Rejected - outbound quota fulfilled"
LOCK_REPLY="554 5.7.1 Rejected - account locked"
SMFIF_QUARANTINE=0x20

config hold hold "quota: { margin = 0; action = \"quarantine\"; };"
config monitor monitor "quota: { margin = 0; mode = \"monitor\"; };
sender_domain_auth: { mode = \"monitor\"; };"
config lock1 lock "quota: { margin = 0; action = \"lock\"; };
lock: { after = 2; window = 3600; };"
config lock2 lock "quota: { margin = 0; action = \"lock\"; };
lock: { after = 2; window = 3600; };"
config lockhold lockhold "lock: { hold = true; };"

DB=("admin db-setup" "quota add q2 2" "user add alice --quota q2"
    "allow alice example.test --create")

# ---- 1: quarantine ----------------------------------------------------------------------------

if setup hold "1 chapps-cli: quota q2 = 2 for alice" "${DB[@]}" && up hold; then
	mt hold "1 miltertest: 3 recipients CONTINUE, DATA CONTINUE, EOM ACCEPT + SMFIR_QUARANTINE with the reason" \
		alice "<alice@example.test>" 3 "chapps: alice over 2 recipients per day"
	eq "1 the held message counted nothing: used 0, reserved 0" "$(usage hold alice)" "0 0"
	log_has "1 one hold line, keyed by the queue id, naming user and limit" hold \
		'4QACT1: hold: EOM from client\.proto\.test\[192\.0\.2\.7\]: user=<alice> from=<alice@example\.test> policy=quota key=sasl_username chapps: alice over 2 recipients per day$'
	out=$(raw hold <<-EOF
		$(session alice "<alice@example.test>")
		rcpts 2 <a%d@dest.test>
		data
		mail <alice@example.test>
		rcpts 3 <b%d@dest.test>
		data
		eom
	EOF
	)
	read -r act _ <<<"$(sed -n 's/^optneg version=6 actions=\(0x[0-9a-f]*\) .*/\1/p' <<<"$out")"
	eq "1 SMFIF_QUARANTINE is negotiated" "$((act & SMFIF_QUARANTINE))" "$((SMFIF_QUARANTINE))"
	has_line "1 raw client: two recipients under quota, DATA accepts (nothing held)" "$out" \
		"data ACCEPT"
	has_line "1 raw client: the next message of 3 is held at EOM" "$out" \
		"eom ACCEPT QUARANTINE[chapps: alice over 2 recipients per day]"
	eq "1 usage: the 2 delivered recipients count, the held message nothing" \
		"$(usage hold alice)" "2 0"
fi

# ---- 2: monitor mode, and enforce by reload ------------------------------------------------

if setup monitor "2 chapps-cli: quota q2 = 2 for alice" "${DB[@]}" && up monitor; then
	out=$(raw monitor <<-EOF
		$(session alice "<alice@elsewhere.test>")
		rcpts 4 <m%d@dest.test>
		data
	EOF
	)
	has_line "2 a sender at another domain passes MAIL" "$out" "mail CONTINUE"
	has_line "2 4 recipients against quota 2 all CONTINUE" "$out" \
		"rcpts 4 CONTINUE=4 first=CONTINUE last=CONTINUE"
	has_line "2 DATA accepts" "$out" "data ACCEPT"
	log_has "2 would reject at MAIL, keyed by the queue id, with the real line's fields" monitor \
		"QID1: would reject: MAIL from client\.proto\.test\[192\.0\.2\.7\]: 554 5\.7\.1 Rejected - not allowed to send mail from this domain; user=<alice> from=<alice@elsewhere\.test> policy=sender_domain_auth key=sasl_username domain=elsewhere\.test$"
	eq "2 would reject at RCPT for each recipient over quota (2)" \
		"$(count_log monitor "QID1: would reject: RCPT .*: $QUOTA_REPLY; user=<alice> .*to=<m[34]@dest\.test> policy=quota ")" 2
	eq "2 no real refusal is logged" "$(count_log monitor ': (reject|tempfail): ')" 0
	eq "2 usage: 2 counted (the recipients over quota are not)" "$(usage monitor alice)" "2 0"
	mt monitor "2 miltertest: 3 recipients over quota all CONTINUE, DATA ACCEPT, nothing held" \
		alice "<alice@elsewhere.test>" 3 ""
	eq "2 ... 3 more would-reject lines at RCPT (queue id 4QACT1)" \
		"$(count_log monitor "4QACT1: would reject: RCPT .*policy=quota ")" 3
	eq "2 usage still 2" "$(usage monitor alice)" "2 0"
	# enforce: the same file with the modes switched, then SIGUSR1
	sed -i 's/mode = "monitor"/mode = "enforce"/' "$T/monitor.conf"
	kill -USR1 "${PID[monitor]}"
	for ((i = 0; i < 100; i++)); do
		grep -q 'configuration reloaded' "$T/monitor.log" && break
		sleep 0.05
	done
	log_has "2 SIGUSR1 reloads the configuration" monitor 'configuration reloaded from'
	out=$(raw monitor <<-EOF
		$(session alice "<alice@elsewhere.test>")
		mail <alice@example.test>
		rcpt <e1@dest.test>
	EOF
	)
	has_line "2 after the reload: the other domain is refused" "$out" \
		"mail REPLYCODE 554 5.7.1 Rejected - not allowed to send mail from this domain"
	has_line "2 after the reload: the recipient over quota is refused" "$out" \
		"rcpt REPLYCODE $QUOTA_REPLY"
fi

# ---- 3: lock after 2 refused messages, seen by a second process; unlock -------------------------

if setup lock1 "3 chapps-cli: quota q2 = 2 for alice (one store, two milters)" "${DB[@]}" &&
	up lock1 && up lock2; then
	out=$(raw lock1 <<-EOF
		$(session alice "<alice@example.test>")
		rcpts 2 <l%d@dest.test>
		data
		mail <alice@example.test>
		rcpt <l3@dest.test>
		rcpt <l4@dest.test>
	EOF
	)
	has_line "3 milter 1: quota spent, the next message is refused with quota.reply" "$out" \
		"rcpt REPLYCODE $QUOTA_REPLY"
	log_has "3 milter 1: one strike for the message (two refused recipients)" lock1 \
		"reject: RCPT .*to=<l3@dest\.test> .*strikes=1$"
	log_has "3 ... the second refused recipient of it strikes no more" lock1 \
		"reject: RCPT .*to=<l4@dest\.test> .*margin=0$"
	out=$(raw lock2 <<-EOF
		$(session alice "<alice@example.test>")
		rcpt <l5@dest.test>
		mail <alice@example.test>
	EOF
	)
	has_line "3 milter 2 (another process): refused, strike 2" "$out" "rcpt REPLYCODE $QUOTA_REPLY"
	log_has "3 milter 2: the second strike locks alice" lock2 "strikes=2 locked$"
	has_line "3 milter 2: the next message of the same connection is refused at MAIL" "$out" \
		"mail REPLYCODE $LOCK_REPLY"
	out=$(raw lock1 <<<"$(session alice "<alice@example.test>")")
	has_line "3 milter 1, a new connection: refused at MAIL with lock.reply" "$out" \
		"mail REPLYCODE $LOCK_REPLY"
	log_has "3 the refusal names the lock and its reason" lock1 \
		"reject: MAIL .*: $LOCK_REPLY; user=<alice> .*policy=lock key=sasl_username locked: quota: 2 recipients per day$"
	out=$("$MILTERTEST" -D SOCK="$(sock lock2)" -D USER=alice -D FROM="<alice@example.test>" \
		-D PLAN="M:REPLYCODE" -s "$HERE/outbound.lua" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "3 miltertest, milter 2, a new connection: MAIL REPLYCODE (locked)"
	else notok "3 miltertest, milter 2, a new connection: MAIL REPLYCODE (locked)" "$out"; fi
	has_re "3 chapps-cli locked lists alice" "$(cli lock1 locked 2>&1)" 'alice'
	setup lock1 "3 chapps-cli unlock alice" "unlock alice"
	out=$(raw lock2 <<<"$(session alice "<alice@example.test>")")
	has_line "3 after unlock: milter 2 lets her MAIL through at once" "$out" "mail CONTINUE"
	out=$(raw lock1 <<<"$(session alice "<alice@example.test>")")
	has_line "3 after unlock: milter 1 too" "$out" "mail CONTINUE"
fi

# ---- 4: lock.hold ------------------------------------------------------------------------------

if setup lockhold "4 chapps-cli: alice, locked by hand" "${DB[@]}" "lock alice manual" &&
	up lockhold; then
	mt lockhold "4 a locked user's message is held (lock.hold): SMFIR_QUARANTINE" \
		alice "<alice@example.test>" 1 "chapps: user alice is locked"
	eq "4 the held message counted nothing" "$(usage lockhold alice)" "0 0"
fi

proto_finish hold monitor lock1 lock2 lockhold

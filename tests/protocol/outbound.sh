#!/bin/bash
# tests/protocol/outbound.sh - the outbound quota and sender-domain authorization policies of
# the built chapps-milter over the milter protocol
#
# miltertest + outbound.lua and milter-client.py (a raw protocol v6 client, python3 stdlib)
# play Postfix's submission service; the policy databases are made with chapps-cli, which
# also reads the usage back (show USER --quota --json).  Each milter is started in the
# foreground in one `mktemp -d` directory, waited for by polling its log with a bound, and
# stopped by PID with SIGTERM at the end (exit status and log checked).
#
#   1 quota 3: three messages pass (MAIL CONTINUE, RCPT CONTINUE, DATA ACCEPT), the fourth is
#     refused at RCPT with quota.reply; usage 3
#   2 counting_recipients: 3 + 3 recipients against quota 5 (the sixth refused); with
#     counting_recipients = false five recipients count 1
#   3 an aborted transaction releases its reservation: usage unchanged, nothing reserved
#   4 sender_domain_auth: linked domain, other domain, <>, a malformed sender, an unknown
#     user; `chapps-cli allow` takes effect at once; refusals at MAIL charge no quota
#   5 several limits (issue 10): the reply names the limit that refused (messages per hour,
#     recipients per message, distinct recipients per hour); a bytes limit and
#     max_message_bytes: headers and body negotiated without replies, the real size refused
#     at EOM or committed
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
#	PROTO_OUTBOUND_PORT  first TCP port (default 16710); five consecutive ports are used

HERE=$(cd "$(dirname "$0")" && pwd)
LUA="$HERE/outbound.lua"
PORT0=${PROTO_OUTBOUND_PORT:-16710}
. "$HERE/lib.sh"
proto_init chapps-proto-out miltertest cli

# ---- milters -----------------------------------------------------------------

# config NAME [SETTINGS] - write $T/NAME.conf for its own port, database and state;
# SETTINGS are appended
config()
{
	local name=$1 port=$((PORT0 + ${#PORT[@]}))
	PORT[$name]=$port
	cat >"$T/$name.conf" <<-EOF
		milter: { socket = "inet:$port@127.0.0.1"; user = ""; group = "";
		          pidfile = "$T/$name.pid"; run_as_root = true; };
		inbound: { policies = [ ]; };
		store: { path = "$T/$name-state"; };
		policy_db: { path = "$T/$name.db"; };
		quota: { margin = 0; $2 };
		outbound: { policies = [ "sender_domain_auth", "quota" ]; };
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




# mt NAME DESC USER FROM PLAN - a miltertest run of outbound.lua; ok when every step passed
mt()
{
	local name=$1 desc=$2 out rc
	out=$("$MILTERTEST" -D SOCK="inet:${PORT[$name]}@127.0.0.1" -D USER="$3" -D FROM="$4" \
		-D PLAN="$5" -s "$LUA" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "$desc"; else notok "$desc" "miltertest exit $rc" "$out"; fi
}

# mt_fails NAME DESC USER FROM PLAN - the same, ok when miltertest reports a failed step
# (outbound.lua does check the replies)
mt_fails()
{
	local out rc
	out=$("$MILTERTEST" -D SOCK="inet:${PORT[$1]}@127.0.0.1" -D USER="$3" -D FROM="$4" \
		-D PLAN="$5" -s "$LUA" 2>&1)
	rc=$?
	if [ $rc != 0 ] && grep -q '^FAIL - message 1: MAIL' <<<"$out"; then ok "$2"
	else notok "$2" "miltertest exit $rc" "$out"; fi
}

# session USER FROM - the start of a raw-client session of USER sending as FROM
session()
{
	printf '%s\n' "optneg" "macro C j=mx.proto.test {daemon_name}=submission" \
		"connect client.proto.test 192.0.2.7" "macro M {auth_authen}=$1" "mail $2"
}

QUOTA_REPLY="554 5.7.1 Rejected - outbound quota fulfilled"
SDA_REPLY="554 5.7.1 Rejected - not allowed to send mail from this domain"
MALFORMED_REPLY="553 5.1.7 Rejected - malformed sender address"
MSG="M:CONTINUE R:CONTINUE D:ACCEPT E?:ACCEPT"

config q3
config multi
config nocount "counting_recipients = false;"
config sda
config limits

# ---- 1: quota 3 ----------------------------------------------------------------------------

if setup q3 "1 chapps-cli: database, quota q3 = 3, alice linked to example.test" \
	"admin db-setup" "quota add q3 3" "user add alice --quota q3" \
	"allow alice example.test --create" && up q3; then
	mt q3 "1 miltertest: messages 1-3 pass (MAIL CONTINUE, RCPT CONTINUE, DATA ACCEPT)" \
		alice "<alice@example.test>" "$MSG/$MSG/$MSG"
	eq "1 after three messages: used 3, reserved 0" "$(usage q3 alice)" "3 0"
	mt_fails q3 "1 outbound.lua fails on a wrong expectation (MAIL ACCEPT wanted)" \
		alice "<alice@example.test>" "M:ACCEPT"
	mt q3 "1 miltertest: message 4 -> MAIL CONTINUE, RCPT REPLYCODE" \
		alice "<alice@example.test>" "M:CONTINUE R:REPLYCODE"
	out=$(raw q3 <<-EOF
		$(session alice "<alice@example.test>")
		rcpt <r1@dest.test>
	EOF
	)
	has_line "1 raw client: the fourth message gets quota.reply at RCPT" "$out" \
		"rcpt REPLYCODE $QUOTA_REPLY"
	log_has "1 the refusal is logged with policy=quota" q3 \
		'reject: RCPT .*: 554 5\.7\.1 Rejected - outbound quota fulfilled; user=<alice> .*policy=quota .*used=3 reserved=0 limit=3'
	eq "1 chapps-cli show alice --quota --json: used 3, nothing reserved" \
		"$(usage q3 alice)" "3 0"
fi

# ---- 2: counting_recipients ------------------------------------------------------------------

if setup multi "2/3 chapps-cli: quota q5 = 5, bob and dave linked to example.test" \
	"admin db-setup" "quota add q5 5" "user add bob --quota q5" "user add dave --quota q5" \
	"allow bob example.test --create" "allow dave example.test" && up multi; then
	mt multi "2 a message with 3 recipients: all CONTINUE, DATA ACCEPT (quota 5)" \
		bob "<bob@example.test>" "M:CONTINUE R:CONTINUE R:CONTINUE R:CONTINUE D:ACCEPT E?:ACCEPT"
	eq "2 ... counts 3" "$(usage multi bob)" "3 0"
	mt multi "2 the next message with 3 recipients: 2 CONTINUE, then REPLYCODE" \
		bob "<bob@example.test>" "M:CONTINUE R:CONTINUE R:CONTINUE R:REPLYCODE D:ACCEPT E?:ACCEPT"
	eq "2 ... its 2 accepted recipients count: used 5" "$(usage multi bob)" "5 0"
	out=$(raw multi <<-EOF
		$(session bob "<bob@example.test>")
		rcpts 3 <x%d@dest.test>
	EOF
	)
	has_line "2 raw client: quota 5 spent, every recipient gets quota.reply" "$out" \
		"rcpts 3 REPLYCODE=3 first=REPLYCODE $QUOTA_REPLY last=REPLYCODE $QUOTA_REPLY"
fi
if setup nocount "2 chapps-cli (counting_recipients = false): quota q5 = 5 for erin" \
	"admin db-setup" "quota add q5 5" "user add erin --quota q5" \
	"allow erin example.test --create" && up nocount; then
	mt nocount "2 counting_recipients = false: 5 recipients all CONTINUE, DATA ACCEPT" \
		erin "<erin@example.test>" \
		"M:CONTINUE R:CONTINUE R:CONTINUE R:CONTINUE R:CONTINUE R:CONTINUE D:ACCEPT E?:ACCEPT"
	eq "2 ... the message counts 1" "$(usage nocount erin)" "1 0"
	out=$(raw nocount <<-EOF
		$(session erin "<erin@example.test>")
		rcpts 20 <x%d@dest.test>
		data
	EOF
	)
	has_line "2 counting_recipients = false: 20 recipients all CONTINUE" "$out" \
		"rcpts 20 CONTINUE=20 first=CONTINUE last=CONTINUE"
	eq "2 ... and count 1 more (used 2)" "$(usage nocount erin)" "2 0"
fi

# ---- 3: an aborted transaction ---------------------------------------------------------------

if up multi; then
	before=$(usage multi dave)
	# the raw client as a coprocess: the usage is read while the transaction is open
	coproc RAWC { raw multi; }
	session dave "<dave@example.test>" >&"${RAWC[1]}"
	printf '%s\n' "rcpt <r1@dest.test>" "rcpt <r2@dest.test>" >&"${RAWC[1]}"
	got=()
	while [ ${#got[@]} -lt 3 ] && read -r -t 5 line <&"${RAWC[0]}"; do
		case $line in optneg*|symlist*|connect*) ;; *) got+=("$line") ;; esac
	done
	eq "3 MAIL + 2 RCPT: CONTINUE, CONTINUE, CONTINUE" "${got[*]}" \
		"mail CONTINUE rcpt CONTINUE rcpt CONTINUE"
	eq "3 while the transaction is open: 2 reserved" "$(usage multi dave)" "${before% *} 2"
	printf '%s\n' "abort" >&"${RAWC[1]}"
	# abort has no reply: poll the store with a bound
	for ((i = 0; i < 100; i++)); do
		after=$(usage multi dave)
		[ "$after" = "$before" ] && break
		sleep 0.05
	done
	eq "3 after abort: used unchanged, reserved 0" "$after" "${before% *} 0"
	printf '%s\n' "macro M {auth_authen}=dave" "mail <dave@example.test>" \
		"rcpts 5 <s%d@dest.test>" "quit" >&"${RAWC[1]}"
	wfd=${RAWC[1]}
	exec {wfd}>&-
	out=$(cat <&"${RAWC[0]}")
	wait "$RAWC_PID" 2>/dev/null
	has_line "3 the same connection then has the whole quota (5 of 5 recipients CONTINUE)" \
		"$out" "rcpts 5 CONTINUE=5 first=CONTINUE last=CONTINUE"
	eq "3 quit without DATA releases too: used unchanged, reserved 0" "$(usage multi dave)" \
		"${before% *} 0"
fi

# ---- 4: sender_domain_auth -----------------------------------------------------------------

if setup sda "4 chapps-cli: quota q9 = 9, carol linked to linked.test" \
	"admin db-setup" "quota add q9 9" "user add carol --quota q9" \
	"allow carol linked.test --create" "user add nolink --quota q9" && up sda; then
	mt sda "4 miltertest: a sender at a linked domain passes (MAIL CONTINUE ... DATA ACCEPT)" \
		carol "<carol@linked.test>" "$MSG"
	mt sda "4 miltertest: a sender at another domain -> MAIL REPLYCODE" \
		carol "<carol@other.test>" "M:REPLYCODE"
	out=$(raw sda <<-EOF
		$(session carol "<carol@other.test>")
		abort
		mail <>
		abort
		mail bareword
		abort
		mail <carol@new.test>
		abort
		macro M {auth_authen}=nobody
		mail <nobody@linked.test>
		abort
		macro M {auth_authen}=nolink
		mail <nolink@linked.test>
	EOF
	)
	mails=$(grep '^mail ' <<<"$out")
	eq "4 another domain: sender_domain_auth.reply" "$(sed -n 1p <<<"$mails")" \
		"mail REPLYCODE $SDA_REPLY"
	eq "4 the null sender <> is refused (null_sender_ok = false)" "$(sed -n 2p <<<"$mails")" \
		"mail REPLYCODE $SDA_REPLY"
	eq "4 bareword: sender_domain_auth.malformed_reply" "$(sed -n 3p <<<"$mails")" \
		"mail REPLYCODE $MALFORMED_REPLY"
	eq "4 new.test (not yet allowed) is refused" "$(sed -n 4p <<<"$mails")" \
		"mail REPLYCODE $SDA_REPLY"
	case $(sed -n 5p <<<"$mails") in
	"mail REPLYCODE "*) ok "4 an unknown user is refused at MAIL ($(sed -n 5p <<<"$mails"))" ;;
	*) notok "4 an unknown user is refused at MAIL" "$out" ;;
	esac
	eq "4 a user with no domain at all is refused" "$(sed -n 6p <<<"$mails")" \
		"mail REPLYCODE $SDA_REPLY"
	log_has "4 the refusal is logged with policy=sender_domain_auth" sda \
		'reject: MAIL .*user=<carol> from=<carol@other\.test> policy=sender_domain_auth .*domain=other\.test'
	eq "4 SDA refusals charge no quota: used 1 (the linked message), reserved 0" \
		"$(usage sda carol)" "1 0"
	setup sda "4 chapps-cli allow carol new.test --create" "allow carol new.test --create"
	mt sda "4 new.test passes at once, without a restart (its cached refusal forgotten)" \
		carol "<carol@new.test>" "$MSG"
	setup sda "4 chapps-cli deny carol new.test" "deny carol new.test"
	mt sda "4 ... and after deny it is refused again at once" \
		carol "<carol@new.test>" "M:REPLYCODE"
	eq "4 usage: used 2, reserved 0" "$(usage sda carol)" "2 0"
fi

# ---- 5: several limits -----------------------------------------------------------------------

if setup limits "5 chapps-cli: quotas of several limits for lim, dist and big" \
	"admin db-setup" "quota add ql 100" "limit add ql messages 1h 2" \
	"limit add ql max_recipients_per_message message 2" "user add lim --quota ql" \
	"allow lim example.test --create" \
	"quota add qd 101" "limit add qd distinct_recipients 1h 3" "user add dist --quota qd" \
	"allow dist example.test" \
	"quota add qb 102" "limit add qb max_message_bytes message 300" \
	"limit add qb bytes 1h 1000" "user add big --quota qb" "allow big example.test" &&
	up limits; then
	out=$(raw limits <<-EOF
		$(session lim "<lim@example.test>")
		rcpts 3 <x%d@dest.test>
		data
		macro M {auth_authen}=lim
		mail <lim@example.test>
		rcpt <y@dest.test>
		data
		macro M {auth_authen}=lim
		mail <lim@example.test>
		rcpt <z@dest.test>
	EOF
	)
	has_re "5 the third recipient of a message: refused naming the per-message cap" "$out" \
		"^rcpts 3 .*first=CONTINUE last=REPLYCODE $QUOTA_REPLY \\(2 recipients per message\\)\$"
	eq "5 the messages with room are accepted at DATA" "$(grep -c '^data ACCEPT$' <<<"$out")" 2
	has_line "5 the third message: refused naming 2 messages per hour" "$out" \
		"rcpt REPLYCODE $QUOTA_REPLY (2 messages per hour)"
	log_has "5 the refusal is logged naming the limit" limits \
		'reject: RCPT .*user=<lim> .*policy=quota .*refused by 2 messages per hour: used=2'

	out=$(raw limits <<-EOF
		$(session dist "<dist@example.test>")
		rcpt <d1@dest.test>
		rcpt <d2@dest.test>
		data
		macro M {auth_authen}=dist
		mail <dist@example.test>
		rcpt <D1@dest.test>
		rcpt <d2@dest.test>
		data
		macro M {auth_authen}=dist
		mail <dist@example.test>
		rcpt <d3@dest.test>
		data
		macro M {auth_authen}=dist
		mail <dist@example.test>
		rcpt <d4@dest.test>
	EOF
	)
	eq "5 distinct recipients: the same two addresses again count nothing, a third fits" \
		"$(grep -c '^data ACCEPT$' <<<"$out")" 3
	has_line "5 a fourth distinct address is refused naming the limit" "$out" \
		"rcpt REPLYCODE $QUOTA_REPLY (3 distinct recipients per hour)"

	out=$(raw limits <<-EOF
		$(session big "<big@example.test> SIZE=100")
		rcpt <b1@dest.test>
		data
		rawnr L Subject\0hello\0
		rawnr B \${290*x}
		eom
		macro M {auth_authen}=big
		mail <big@example.test>
		rcpt <b2@dest.test>
		data
		rawnr L Subject\0hello\0
		rawnr B \${200*x}
		eom
	EOF
	)
	proto=$(sed -n 's/^optneg .*protocol=\(0x[0-9a-f]*\).*/\1/p' <<<"$out")
	eq "5 with a size limit in the database: headers and body asked for, without replies" \
		"$(( (proto & 0x30) == 0 && (proto & 0x80080) == 0x80080 ))" 1
	eq "5 a message of a user with a bytes limit waits for EOM (quota.commit = data)" \
		"$(grep -c '^data CONTINUE$' <<<"$out")" 2
	has_line "5 18 bytes of header and 290 of body: refused at EOM naming max_message_bytes" \
		"$out" "eom REPLYCODE $QUOTA_REPLY (300 bytes per message)"
	has_line "5 a message of 218 bytes is accepted at EOM" "$out" "eom ACCEPT"
	eq "5 the bytes limit counts the real size (218), not SIZE= (100), nor the refused one" \
		"$(cli limits --json show big --quota 2>>"$T/cli.out" |
			grep -o '{"id":5,"pool":false,"kind":"bytes"[^}]*}' |
			sed -n 's/.*"use":\([0-9]*\),.*/\1/p')" 218
fi

# ---- end: every milter stops cleanly on SIGTERM ----------------------------------------------

proto_finish q3 multi nocount sda limits

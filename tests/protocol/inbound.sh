#!/bin/bash
# tests/protocol/inbound.sh - the inbound flow of the built chapps-milter (issue 5: SPF,
# greylisting, the HELO whitelist, one milter for both flows) over the milter protocol
#
# milter-client.py (a raw protocol v6 client, python3 stdlib) plays Postfix: {daemon_name}
# in the connect macros chooses the flow (smtpd = inbound, submission = outbound).  Every
# configuration sets spf.test_zone, so every SPF look-up is answered from a file and no DNS
# query leaves the machine; its domains' options are set with chapps-cli.  Each milter is
# started in the foreground in one `mktemp -d` directory, waited for by polling its log with a
# bound, and stopped by PID with SIGTERM at the end (exit status and log checked).
#
#   1 negotiation: HELO and RCPT asked for and SMFIF_ADDHDRS requested when inbound is
#     possible; none of them with inbound.policies = [ ]
#   2 SPF: pass/fail/softfail/none/temperror on an enforcing domain (reply texts), the HELO
#     identity deciding on its fail and for the null sender; Received-SPF inserted at index 0
#     at EOM, once per message; an unknown domain's recipient accepted with the header
#   3 greylisting: the configured reply; per recipient within one message
#   4 HELO whitelist: accepted at MAIL, no header; only for the listed name and address
#   5 one milter, both flows: {daemon_name}=submission gets the identity gate on the same
#     connection type; {daemon_port} names a listener; listeners.default
#   6 spf.add_header = false: a header only for enforcing domains
#
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed".  Exit 0 when
# everything passed, 1 otherwise, 77 when python3, chapps-cli or the milter is missing.
#
# Environment:
#	CHAPPS_MILTER	the milter under test (default ./chapps-milter)
#	CHAPPS_CLI	chapps-cli (default: next to CHAPPS_MILTER)
#	PROTO_VALGRIND=1  run every milter under valgrind --error-exitcode=1 --leak-check=full
#	PROTO_KEEP=1	keep the temporary directory
#	PROTO_INBOUND_PORT  first TCP port (default 16980); five consecutive ports are used

HERE=$(cd "$(dirname "$0")" && pwd)
PORT0=${PROTO_INBOUND_PORT:-16980}
. "$HERE/lib.sh"
proto_init chapps-proto-in cli

# ---- milters -----------------------------------------------------------------

# config NAME SPF SETTINGS - write $T/NAME.conf for its own port: the shared policy database
# and zone, its own state; SPF is more of the spf group, SETTINGS are appended
config()
{
	local name=$1 port=$((PORT0 + ${#PORT[@]}))
	PORT[$name]=$port
	mkdir -p "$T/$name"
	cat >"$T/$name.conf" <<-EOF
		milter: { user = ""; group = ""; pidfile = ""; run_as_root = true;
		          socket = "inet:$port@127.0.0.1"; };
		store: { path = "$T/$name/state"; };
		policy_db: { path = "$T/policy.db"; };
		outbound: { policies = [ ]; };
		spf: { test_zone = "$T/zone"; receiver = "mx.proto.test"; $2 };
		$3
	EOF
}




# conn DAEMON_NAME [ADDR] [HELO] - the start of a session: negotiation, connect macros with
# {daemon_name} (and {daemon_port} 25 for smtpd, 587 otherwise), CONNECT, HELO
conn()
{
	local port=587
	[ "$1" = smtpd ] && port=25
	printf '%s\n' "optneg" "macro C j=mx.proto.test {daemon_name}=$1 {daemon_port}=$port" \
		"connect client.proto.test ${2:-127.0.0.1}" "helo ${3:-client.proto.test}"
}

# hdr RESULT - the EOM line of an accepted message with one Received-SPF header of RESULT
# inserted at index 0, as an extended regex (milter-client prints the index and NULs as \x00)
hdr()
{
	printf '%s' "^eom ACCEPT INSHEADER\\[\\\\x00\\\\x00\\\\x00\\\\x00Received-SPF\\\\x00$1 \\(mx\\.proto\\.test: .*\\) client-ip=[0-9.]+; envelope-from=\"[^\"]*\"; helo=[^;]+; receiver=mx\\.proto\\.test; identity=$2\\]\$"
}

# ---- set-up --------------------------------------------------------------------------

GREY="450 4.7.1 Service temporarily unavailable - greylisted"
AUTH="554 5.7.1 Rejected - Authentication failed"
cat >"$T/zone" <<-'EOF'
	# chapps protocol tests: the SPF test zone
	pass.test TXT v=spf1 ip4:127.0.0.1 ip4:192.0.2.0/24 -all
	fail.test TXT v=spf1 -all
	soft.test TXT v=spf1 ~all
	neutral.test TXT v=spf1 ?all
	broken.test TXT v=spf1 foo:bar -all
	slow.test TXT TIMEOUT
	dnsfail.test TXT TEMPFAIL
EOF
config in "time_budget = 1;" 'inbound: { helo_whitelist = "trusted.test:127.0.0.1"; };
greylisting: { min_delay = 60; };'
config noin "" 'inbound: { policies = [ ]; };'
config nohdr "add_header = false;" ""
config ports "" 'listeners: { inbound = [ "mx-in", "25" ]; outbound = [ "587" ]; default = "outbound"; };'
config defin "" 'listeners: { inbound = [ ]; outbound = [ "submission" ]; default = "inbound"; };'

rc=0
for c in "admin db-setup" "domain add spf.test" "domain check-spf spf.test --enforce yes" \
	 "domain add grey.test" "domain greylist grey.test --enforce yes" "domain add plain.test"; do
	# shellcheck disable=SC2086
	"$CLI" -c "$T/in.conf" $c >>"$T/cli.out" 2>&1 || { rc=1; echo "# failed: chapps-cli $c"; }
done
eq "chapps-cli made the policy database and the domains" "$rc" 0

# ---- 1: negotiation --------------------------------------------------------------------

# flags OUT - "actions protocol" of the optneg line of OUT, as numbers
flags() { sed -n 's/^optneg version=6 actions=\(0x[0-9a-f]*\) protocol=\(0x[0-9a-f]*\).*/\1 \2/p' <<<"$1"; }
SMFIF_ADDHDRS=0x1
SMFIP_NOHELO=0x2
SMFIP_NORCPT=0x8
SMFIP_NR_HELO=0x2000

if up in; then
	out=$(raw in <<<"optneg")
	read -r act proto <<<"$(flags "$out")"
	eq "1 inbound possible: SMFIF_ADDHDRS requested" "$((act & SMFIF_ADDHDRS))" 1
	eq "1 inbound possible: the HELO stage is asked for (no SMFIP_NOHELO), without a reply" \
		"$((proto & SMFIP_NOHELO)):$((proto & SMFIP_NR_HELO))" "0:$((SMFIP_NR_HELO))"
	eq "1 inbound possible: RCPT is asked for (no SMFIP_NORCPT)" "$((proto & SMFIP_NORCPT))" 0
	has_re "1 the connect symbol list has {daemon_name} and {daemon_port}" "$out" \
		'^symlist connect .*\{daemon_name\}.*\{daemon_port\}'
fi
if up noin; then
	out=$(raw noin <<<"optneg")
	read -r act proto <<<"$(flags "$out")"
	eq "1 inbound.policies = [ ]: no SMFIF_ADDHDRS" "$((act & SMFIF_ADDHDRS))" 0
	eq "1 inbound.policies = [ ]: SMFIP_NOHELO and SMFIP_NORCPT" \
		"$((proto & SMFIP_NOHELO)):$((proto & SMFIP_NORCPT))" "$((SMFIP_NOHELO)):$((SMFIP_NORCPT))"
	out=$(raw noin <<-EOF
		$(conn smtpd)
		mail <a@fail.test>
	EOF
	)
	has_line "1 inbound.policies = [ ]: inbound mail accepted at MAIL" "$out" "mail ACCEPT"
fi

# ---- 2: SPF ------------------------------------------------------------------------------

if up in; then
	out=$(raw in <<-EOF
		$(conn smtpd)
		mail <a@pass.test>
		rcpt <u@unknown.test>
		data
		eom
	EOF
	)
	has_line "2 inbound, helo is asked without a reply" "$out" "helo NOREPLY"
	has_line "2 inbound: MAIL continues (recipients decide)" "$out" "mail CONTINUE"
	has_line "2 a recipient of a domain unknown to the database is accepted" "$out" "rcpt CONTINUE"
	has_line "2 DATA continues" "$out" "data CONTINUE"
	has_re "2 EOM: Received-SPF: Pass inserted at index 0 (add_header, unknown domain)" "$out" \
		"$(hdr Pass mailfrom)"
	has_re "2 ... with envelope-from and helo as sent" "$out" \
		'envelope-from="a@pass\.test"; helo=client\.proto\.test;'

	out=$(raw in <<-EOF
		$(conn smtpd 192.0.2.7)
		mail <b@pass.test>
		rcpt <u@spf.test>
		rcpt <v@spf.test>
		rcpt <w@plain.test>
		data
		eom
	EOF
	)
	if [ "$(grep -c '^rcpt CONTINUE$' <<<"$out")" = 3 ]; then
		ok "2 pass from 192.0.2.7: every recipient accepted"
	else
		notok "2 pass from 192.0.2.7: every recipient accepted" "$out"
	fi
	has_re "2 ... one header for the message, client-ip 192.0.2.7" "$out" \
		'^eom ACCEPT INSHEADER\[[^]]*client-ip=192\.0\.2\.7;[^]]*\]$'

	out=$(raw in <<-EOF
		$(conn smtpd)
		mail <c@fail.test>
		rcpt <u@spf.test>
		rcpt <u@plain.test>
		data
		eom
	EOF
	)
	has_line "2 fail on an enforcing domain: 550 5.7.1 SPF check failed: <reason>" "$out" \
		"rcpt REPLYCODE 550 5.7.1 SPF check failed: SPF fail - not authorized"
	has_line "2 ... the next recipient (plain domain) is accepted" "$out" "rcpt CONTINUE"
	has_re "2 ... and the message gets Received-SPF: Fail" "$out" "$(hdr Fail mailfrom)"
	log_has "2 the reject is logged with policy=spf spf=fail" in \
		'reject: RCPT from .*from=<c@fail\.test> to=<u@spf\.test> policy=spf spf=fail'

	out=$(raw in <<-EOF
		$(conn smtpd)
		mail <d@soft.test>
		rcpt <u@spf.test>
		abort
		mail <d@neutral.test>
		rcpt <u@spf.test>
		abort
		mail <d@none.test>
		rcpt <u@spf.test>
		abort
		mail <d@broken.test>
		rcpt <u@spf.test>
		abort
		mail <d@dnsfail.test>
		rcpt <u@spf.test>
	EOF
	)
	has_re "2 softfail: greylisted with the SPF reason appended" "$out" "^rcpt REPLYCODE $GREY .+"
	if [ "$(grep -c "^rcpt REPLYCODE $GREY" <<<"$out")" = 3 ]; then
		ok "2 softfail, neutral and none are all greylisted"
	else
		notok "2 softfail, neutral and none are all greylisted" "$out"
	fi
	has_re "2 permerror: 550 5.5.2 SPF record(s) are malformed: <reason>" "$out" \
		'^rcpt REPLYCODE 550 5\.5\.2 SPF record\(s\) are malformed: .+'
	has_re "2 temperror (SERVFAIL): 451 4.4.3 SPF record(s) temporarily unavailable: <reason>" \
		"$out" '^rcpt REPLYCODE 451 4\.4\.3 SPF record\(s\) temporarily unavailable: .+'
	log_has "2 the softfail deferral is logged with greylist=new spf=softfail" in \
		'tempfail: RCPT from .*from=<d@soft\.test> to=<u@spf\.test> policy=greylisting greylist=new spf=softfail'

	t0=${EPOCHREALTIME/./}
	out=$(raw in <<-EOF
		$(conn smtpd)
		mail <e@slow.test>
		rcpt <u@spf.test>
	EOF
	)
	ms=$(((10#${EPOCHREALTIME/./} - 10#$t0) / 1000))
	has_line "2 time budget 1 s, a TXT look-up that never answers: 451 4.4.3 ..." "$out" \
		"rcpt REPLYCODE 451 4.4.3 SPF record(s) temporarily unavailable: SPF Temporary Error: DNS time budget of 1000 ms exhausted"
	if [ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ]; then ok "2 ... after $ms ms (0.9 to 3 s)"
	else notok "2 ... after 0.9 to 3 s" "took $ms ms"; fi

	out=$(raw in <<-EOF
		$(conn smtpd 127.0.0.1 fail.test)
		mail <f@pass.test>
		rcpt <u@spf.test>
		abort
		mail <>
		rcpt <u@spf.test>
	EOF
	)
	if [ "$(grep -c '^rcpt REPLYCODE 550 5\.7\.1 SPF check failed: ' <<<"$out")" = 2 ]; then
		ok "2 a failing HELO identity decides, also for the null sender"
	else
		notok "2 a failing HELO identity decides, also for the null sender" "$out"
	fi
	out=$(raw in <<-EOF
		$(conn smtpd 127.0.0.1 pass.test)
		mail <>
		rcpt <u@spf.test>
		data
		eom
	EOF
	)
	has_re "2 the null sender: checked as postmaster@<helo>, identity=helo" "$out" \
		"$(hdr Pass helo)"
	has_re "2 ... envelope-from=\"postmaster@pass.test\"" "$out" \
		'envelope-from="postmaster@pass\.test"; helo=pass\.test;'

	out=$(raw in <<-EOF
		$(conn smtpd)
		mail <g@fail.test>
		rcpt <u@spf.test>
		abort
		mail <g@pass.test>
		rcpt <u@spf.test>
		data
		eom
		mail <h@fail.test>
		rcpt <u@plain.test>
		data
		eom
	EOF
	)
	if [ "$(grep -cE '^rcpt (CONTINUE|REPLYCODE)' <<<"$out")" = 3 ] &&
	   grep -qE "$(hdr Pass mailfrom)" <<<"$out" && grep -qE "$(hdr Fail mailfrom)" <<<"$out"; then
		ok "2 three messages on one connection: each checked afresh (fail, Pass header, Fail header)"
	else
		notok "2 three messages on one connection: each checked afresh" "$out"
	fi
fi

# ---- 3: greylisting -------------------------------------------------------------------------

if up in; then
	out=$(raw in <<-EOF
		$(conn smtpd)
		mail <k@pass.test>
		rcpt <u@grey.test>
		rcpt <u@plain.test>
		rcpt <U@GREY.TEST>
		data
		eom
	EOF
	)
	if [ "$(grep '^rcpt ' <<<"$out" | xargs -d '\n')" = \
	     "rcpt REPLYCODE $GREY rcpt CONTINUE rcpt REPLYCODE $GREY" ]; then
		ok "3 per recipient: grey.test deferred with the configured reply, plain.test accepted"
	else
		notok "3 per recipient: grey.test deferred, plain.test accepted" "$out"
	fi
	has_re "3 ... and the message gets its header" "$out" "$(hdr Pass mailfrom)"
	log_has "3 a second attempt before min_delay is early (the domain compared in lower case)" in \
		'tempfail: RCPT from .*from=<k@pass\.test> to=<U@GREY\.TEST> policy=greylisting greylist=early'
fi

# ---- 4: HELO whitelist --------------------------------------------------------------------

if up in; then
	out=$(raw in <<-EOF
		$(conn smtpd 127.0.0.1 trusted.test)
		mail <m@fail.test>
		abort
		mail <m2@fail.test>
	EOF
	)
	if [ "$(grep -c '^mail ACCEPT$' <<<"$out")" = 2 ]; then
		ok "4 HELO trusted.test from 127.0.0.1: every message accepted at MAIL"
	else
		notok "4 HELO trusted.test from 127.0.0.1: every message accepted at MAIL" "$out"
	fi
	log_has "4 ... logged with policy=helo_whitelist" in \
		'accept: MAIL from .*from=<m@fail\.test> policy=helo_whitelist'
	out=$(raw in <<-EOF
		$(conn smtpd 127.0.0.1 TRUSTED.test)
		mail <n@fail.test>
	EOF
	)
	has_line "4 the name compares without regard to case" "$out" "mail ACCEPT"
	out=$(raw in <<-EOF
		$(conn smtpd 192.0.2.7 trusted.test)
		mail <o@fail.test>
		rcpt <u@spf.test>
	EOF
	)
	has_line "4 the right name from another address: not whitelisted" "$out" \
		"rcpt REPLYCODE 550 5.7.1 SPF check failed: SPF fail - not authorized"
	out=$(raw in <<-EOF
		$(conn smtpd 127.0.0.1 other.test)
		mail <o@fail.test>
	EOF
	)
	has_line "4 another name from 127.0.0.1: not whitelisted (MAIL continues)" "$out" \
		"mail CONTINUE"
fi

# ---- 5: one milter, both flows; listeners ---------------------------------------------------

if up in; then
	out=$(raw in <<-EOF
		$(conn submission)
		mail <p@pass.test>
		abort
		macro M {auth_authen}=alice
		mail <p@pass.test>
	EOF
	)
	has_line "5 {daemon_name}=submission: outbound, unauthenticated gets the identity reply" \
		"$out" "mail REPLYCODE $AUTH"
	has_line "5 {daemon_name}=submission: authenticated is accepted at MAIL" "$out" \
		"mail ACCEPT"
fi
if up ports; then
	out=$(raw ports <<-EOF
		optneg
		macro C {daemon_name}=whatever {daemon_port}=25
		connect client.proto.test 127.0.0.1
		helo client.proto.test
		mail <q@pass.test>
		rcpt <u@plain.test>
		data
		eom
	EOF
	)
	has_re "5 {daemon_port}=25 listed in listeners.inbound: inbound (header at EOM)" "$out" \
		"$(hdr Pass mailfrom)"
	out=$(raw ports <<-EOF
		optneg
		macro C {daemon_name}=mx-in {daemon_port}=10025
		connect client.proto.test 127.0.0.1
		mail <q@fail.test>
		rcpt <u@spf.test>
	EOF
	)
	has_line "5 {daemon_name}=mx-in listed: inbound (SPF enforced)" "$out" \
		"rcpt REPLYCODE 550 5.7.1 SPF check failed: SPF fail - not authorized"
	out=$(raw ports <<-EOF
		optneg
		macro C {daemon_name}=mx-in {daemon_port}=587
		connect client.proto.test 127.0.0.1
		mail <q@pass.test>
	EOF
	)
	has_line "5 listeners.outbound is tried first ({daemon_port}=587)" "$out" "mail REPLYCODE $AUTH"
	out=$(raw ports <<-EOF
		optneg
		macro C {daemon_name}=smtpd {daemon_port}=2525
		connect client.proto.test 127.0.0.1
		mail <q@pass.test>
	EOF
	)
	has_line "5 in neither list: listeners.default (outbound)" "$out" "mail REPLYCODE $AUTH"
fi
if up defin; then
	out=$(raw defin <<-EOF
		optneg
		macro C {daemon_name}=unnamed {daemon_port}=2525
		connect client.proto.test 127.0.0.1
		helo client.proto.test
		mail <r@fail.test>
		rcpt <u@spf.test>
	EOF
	)
	has_line "5 listeners.default = inbound: an unnamed listener is inbound" "$out" \
		"rcpt REPLYCODE 550 5.7.1 SPF check failed: SPF fail - not authorized"
	out=$(raw defin <<<"optneg")
	read -r act proto <<<"$(flags "$out")"
	eq "5 listeners.inbound = [ ] with default inbound: inbound still possible (ADDHDRS, HELO)" \
		"$((act & SMFIF_ADDHDRS)):$((proto & SMFIP_NOHELO))" "1:0"
fi

# ---- 6: spf.add_header = false ------------------------------------------------------------

if up nohdr; then
	out=$(raw nohdr <<-EOF
		$(conn smtpd)
		mail <s@fail.test>
		rcpt <u@unknown.test>
		rcpt <u@plain.test>
		data
		eom
		mail <s@pass.test>
		rcpt <u@plain.test>
		rcpt <u@spf.test>
		data
		eom
	EOF
	)
	eoms=$(grep '^eom ' <<<"$out")
	eq "6 add_header = false: no header without an enforcing domain" "$(head -n 1 <<<"$eoms")" \
		"eom ACCEPT"
	if grep -qE "$(hdr Pass mailfrom)" <<<"$(sed -n 2p <<<"$eoms")"; then
		ok "6 add_header = false: a message with an enforcing domain's recipient gets it"
	else
		notok "6 add_header = false: a message with an enforcing domain's recipient gets it" "$out"
	fi
	out=$(raw nohdr <<-EOF
		$(conn smtpd)
		mail <s@fail.test>
		rcpt <u@spf.test>
	EOF
	)
	has_line "6 add_header = false: SPF still enforced" "$out" \
		"rcpt REPLYCODE 550 5.7.1 SPF check failed: SPF fail - not authorized"
	# the time budget is 10 s here: a check of slow.test would outlast the client's timeout
	out=$(raw nohdr 3 <<-EOF
		$(conn smtpd)
		mail <t@slow.test>
		rcpt <u@plain.test>
		data
		eom
	EOF
	)
	has_line "6 add_header = false: no look-up for a plain domain (slow.test answered at once)" \
		"$out" "eom ACCEPT"
fi

# ---- end: every milter stops cleanly on SIGTERM ----------------------------------------------

proto_finish in noin nohdr ports defin

#!/usr/bin/env bash
# t-inbound.sh - end-to-end tests of chapps-milter's inbound policies (issue 5: SPF,
# greylisting, the HELO whitelist) through a real Postfix on loopback relaying to smtp-sink.
# One chapps-milter serves an inbound listener ({daemon_name}=smtpd) and a submission
# listener ({daemon_name}=submission); domains are set up with chapps-cli.  SPF look-ups are
# answered from a test zone file (spf.test_zone): no DNS query leaves the machine.
#
#   1. one milter, two flows: the inbound port runs SPF (header added), the submission port
#      the identity gate (unauthenticated refused, authenticated delivered without SPF
#      header), a listener in neither list gets the default (outbound); one milter PID
#   2. SPF: a -all sender to an enforcing domain refused at RCPT with "550 5.7.1 SPF check
#      failed: ..."; a passing sender delivered with Received-SPF: Pass (identity=mailfrom)
#      at the top; a non-enforcing or unknown domain gets the header and the mail even from
#      a failing sender; with add_header = false only enforcing domains get a header
#   3. greylisting (min_delay 2): a new tuple deferred with exactly "450 4.7.1 Service
#      temporarily unavailable - greylisted", an immediate retry deferred (early), a retry
#      after the delay delivered; both recipients of a greylisting and a greylisting+SPF
#      domain; the tally counts one pass per message; a passed tuple passes at once later
#   4. SPF softfail on an enforcing domain: greylisted with the SPF reason, delivered after
#      the delay with Received-SPF: SoftFail
#   5. per recipient: a greylisting and a plain domain in one message: the first deferred,
#      the second accepted, the message delivered to the second only
#   6. HELO whitelist (trusted.test:127.0.0.1): delivered at once to greylisting and
#      enforcing domains even from a -all sender, no Received-SPF header
#   7. DNS time budget 1 s: a sender whose TXT look-up never answers, to an enforcing
#      domain: "451 4.4.3 SPF record(s) temporarily unavailable: ..." within 3 s; to a
#      plain domain: delivered with Received-SPF: TempError
#
# Needs root, postfix, saslpasswd2, smtp-sink and swaks (exit 77 otherwise).  CHAPPS_MILTER
# and CHAPPS_CLI are the programs under test.  Ports (127.0.0.1): smtpd 16950-16953, milters
# 16960-16961, sink 16969.  Prints "ok N - ..." lines and "N passed, M failed"; exits 1 on
# failure.

E2E_SINK_PORT=${E2E_SINK_PORT:-16969}
. "$(dirname "$0")/lib.sh" || exit 99
. "$(dirname "$0")/inbound-lib.sh" || exit 99

e2e_init
e2e_need_milter
e2e_need_cli
D=$E2E_DIR
O=$D/out

P_IN=16950	# {daemon_name}=smtpd: inbound, main milter
P_SUB=16951	# {daemon_name}=submission: outbound, main milter
P_OTHER=16952	# {daemon_name}=relay-in: in neither list -> listeners.default (outbound)
P_NOHDR=16953	# {daemon_name}=smtpd: inbound, milter with spf.add_header = false
M_MAIN=16960
M_NOHDR=16961

GREY_REPLY="450 4.7.1 Service temporarily unavailable - greylisted"
AUTH_REPLY="554 5.7.1 Rejected - Authentication failed"
MIN_DELAY=2

e2e_note "chapps-milter: $CHAPPS_MILTER; chapps-cli: $CHAPPS_CLI; work dir: $D"
T_START=$SECONDS

# ---- bring up --------------------------------------------------------------

ZONE=$D/zone
ib_zone "$ZONE" \
	"pass.test TXT v=spf1 ip4:127.0.0.1 -all" \
	"fail.test TXT v=spf1 -all" \
	"soft.test TXT v=spf1 ~all" \
	"slow.test TXT TIMEOUT"
CFG=$D/milter/main.conf
DB=$D/policy.db
ib_conf "$CFG" "inet:$M_MAIN@127.0.0.1" "$D/state-main" "$DB" "$ZONE" "time_budget = 1;" \
	"inbound:  { helo_whitelist = \"trusted.test:127.0.0.1\"; };" \
	"greylisting: { min_delay = $MIN_DELAY; };"
ib_conf "$D/milter/nohdr.conf" "inet:$M_NOHDR@127.0.0.1" "$D/state-nohdr" "$DB" "$ZONE" \
	"add_header = false;" "greylisting: { min_delay = $MIN_DELAY; };"

e2e_check "chapps-cli admin db-setup" e2e_cliq "$CFG" admin db-setup
rc=0
for c in "domain add spf.test" "domain check-spf spf.test --enforce yes" \
	 "domain add grey.test" "domain greylist grey.test --enforce yes" \
	 "domain add both.test" "domain greylist both.test --enforce yes" \
	 "domain check-spf both.test --enforce yes" \
	 "domain add plain.test" \
	 "domain add off.test" "domain greylist off.test --enforce yes" \
	 "domain greylist off.test --enforce no"; do
	# shellcheck disable=SC2086
	e2e_cliq "$CFG" $c || { rc=1; e2e_note "failed: chapps-cli $c"; }
done
e2e_eq "chapps-cli set up the domains" "$rc" 0
for d in spf.test:false:true grey.test:true:false both.test:true:true plain.test:false:false \
	 off.test:false:false; do
	IFS=: read -r n g s <<<"$d"
	e2e_eq "domain show $n --json" "$(e2e_cli "$CFG" --json domain show "$n")" \
		"{\"domain\":\"$n\",\"greylist\":$g,\"check_spf\":$s}"
done
e2e_eq "domain show of an unknown domain fails" \
	"$(e2e_cli "$CFG" domain show unknown.test >/dev/null; echo $?)" 1

e2e_check "chapps-milter (main) starts" e2e_milter_up main "$CFG"
e2e_check "chapps-milter (add_header = false) starts" e2e_milter_up nohdr "$D/milter/nohdr.conf"
ib_listener $P_IN "inet:127.0.0.1:$M_MAIN" smtpd
ib_listener $P_SUB "inet:127.0.0.1:$M_MAIN" submission
ib_listener $P_OTHER "inet:127.0.0.1:$M_MAIN" relay-in
ib_listener $P_NOHDR "inet:127.0.0.1:$M_NOHDR" smtpd
e2e_postfix_up
[ "$E2E_FAIL" = 0 ] || e2e_bail "setup failed"
LOG=$(e2e_milter_log main)
NLOG=$(e2e_milter_log nohdr)
MPID=$(e2e_milter_pid main)
e2e_eq "master.cf: two listeners name the same milter with their own daemon names" \
	"$(e2e_pc -M | grep -c "smtpd_milters=inet:127.0.0.1:$M_MAIN -o milter_default_action=tempfail -o milter_macro_daemon_name=\(smtpd\|submission\)")" 2

# ---- helpers -------------------------------------------------------------------

# delivered TAG FROM [RCPTS] - 250 after DATA, the message at the sink (to RCPTS, a sorted
# space-separated list, when given)
delivered()
{
	local tag=$1 from=$2 n=${4:-1}
	e2e_eq "$tag: 250 after DATA" "$(e2e_reply "$O/$tag" . | cut -c1-3)" 250
	if e2e_wait_sink "$from" "$n" 15; then
		e2e_ok "$tag: reached the sink"
		if [ -n "${3:-}" ]; then
			e2e_eq "$tag: delivered to $3" "$(ib_sink_rcpt_list "$from" | xargs)" "$3"
		fi
	else
		e2e_notok "$tag: reached the sink" "no sink file with X-Mail-Args: <$from>" \
			"$(grep -F "$from" "$D/log/maillog" | tail -n 5)"
	fi
}

# spf_header TAG FROM RESULT - the message has exactly one Received-SPF header, with RESULT,
# the client address, the envelope sender, the HELO name, receiver= and identity=mailfrom;
# it is the first header, above Postfix's own Received: (the milter inserts it at index 0,
# and Postfix puts that above its Received:, as RFC 7208 section 9.1 wants)
spf_header()
{
	local tag=$1 from=$2 res=$3 h first
	h=$(ib_headers "$from" | grep '^Received-SPF:')
	e2e_eq "$tag: one Received-SPF header" "$(printf '%s' "$h" | grep -c .)" 1
	case $h in
	"Received-SPF: $res ("*") client-ip=127.0.0.1; envelope-from=\"$from\"; helo=client.e2e.test; receiver=mx.e2e.test; identity=mailfrom")
		e2e_ok "$tag: Received-SPF: $res (...) client-ip, envelope-from, helo, receiver, identity=mailfrom" ;;
	*)	e2e_notok "$tag: Received-SPF: $res (...) client-ip, envelope-from, helo, receiver, identity=mailfrom" \
			"got: $h" ;;
	esac
	first=$(ib_headers "$from" | head -n 2 | cut -c1-80)
	case $first in
	"Received-SPF: "*$'\n'"Received: from client.e2e.test (unknown [127.0.0.1])"*)
		e2e_ok "$tag: Received-SPF is the first header, above Postfix's Received:" ;;
	*)	e2e_notok "$tag: Received-SPF is the first header, above Postfix's Received:" \
			"got the first headers:" "$first" ;;
	esac
}

# no_spf_header TAG FROM - the message has no Received-SPF header
no_spf_header()
{
	e2e_eq "$1: no Received-SPF header" "$(ib_headers "$2" | grep -c '^Received-SPF:')" 0
}

# ---- 1. one milter, two flows --------------------------------------------------
e2e_note "1. one milter, inbound and submission listeners"
ib_send "$O/t1" $P_IN t1@pass.test rcpt@plain.test
e2e_eq "t1 inbound: swaks exit code (no AUTH, accepted)" "$?" 0
delivered t1 t1@pass.test
spf_header t1 t1@pass.test Pass
e2e_check "t1 inbound: milter logged accept: EOM ... policy=spf spf=pass" \
	e2e_wait_file "$LOG" "^chapps-milter\\[$MPID\\]: info: [0-9A-Za-z]+: accept: EOM from .*from=<t1@pass\\.test> policy=spf spf=pass" 5

ib_send "$O/t1s" $P_SUB t1s@pass.test rcpt@plain.test
e2e_eq "t1 submission: swaks exit code (23 = MAIL refused)" "$?" 23
e2e_eq "t1 submission: reply to MAIL FROM" "$(e2e_reply "$O/t1s" "MAIL FROM")" "$AUTH_REPLY"
e2e_check "t1 submission: the same milter process logged the identity reject" \
	e2e_wait_file "$LOG" "^chapps-milter\\[$MPID\\]: info: NOQUEUE: reject: MAIL from .*$AUTH_REPLY; from=<t1s@pass\\.test> policy=identity" 5
e2e_send_plain "$O/t1a" $P_SUB alice alicepw t1a@e2e.test rcpt@plain.test
e2e_eq "t1 submission: AUTH PLAIN: swaks exit code" "$?" 0
delivered t1a t1a@e2e.test
no_spf_header t1a t1a@e2e.test
e2e_check "t1 submission: accepted at MAIL as alice by the same process" \
	e2e_wait_file "$LOG" "^chapps-milter\\[$MPID\\]: info: .*accept: MAIL from .*user=<alice@e2e\\.test> from=<t1a@e2e\\.test>" 5

ib_send "$O/t1o" $P_OTHER t1o@pass.test rcpt@plain.test
e2e_eq "t1 listener in neither list (default outbound): MAIL refused" \
	"$?:$(e2e_reply "$O/t1o" "MAIL FROM")" "23:$AUTH_REPLY"
e2e_eq "t1 every decision came from one milter process" "$(ib_pids_of_log "$LOG" | xargs)" "$MPID"
e2e_check "t1 that process is still running" e2e_is "$MPID" "$CHAPPS_MILTER"

# ---- 2. SPF ----------------------------------------------------------------------
e2e_note "2. SPF on an enforcing domain, a plain domain, an unknown domain"
ib_send "$O/t2a" $P_IN t2a@fail.test rcpt@spf.test
e2e_eq "t2 fail: swaks exit code (24 = RCPT refused)" "$?" 24
r=$(e2e_reply "$O/t2a" "RCPT TO")
case $r in
"550 5.7.1 SPF check failed: "?*) e2e_ok "t2 fail: RCPT refused with 550 5.7.1 SPF check failed: ... ($r)" ;;
*) e2e_notok "t2 fail: RCPT refused with 550 5.7.1 SPF check failed: ..." "got '$r'" ;;
esac
e2e_check "t2 fail: maillog shows the milter-reject at RCPT" \
	e2e_wait_maillog "milter-reject: RCPT from [^ ]*: 550 5\\.7\\.1 SPF check failed: .*from=<t2a@fail\\.test> to=<rcpt@spf\\.test>" 5
e2e_check "t2 fail: milter logged reject: RCPT ... policy=spf spf=fail" \
	e2e_wait_file "$LOG" "reject: RCPT from .*550 5\\.7\\.1 SPF check failed: .*from=<t2a@fail\\.test> to=<rcpt@spf\\.test> policy=spf spf=fail" 5

ib_send "$O/t2b" $P_IN t2b@pass.test rcpt@spf.test
e2e_eq "t2 pass: swaks exit code" "$?" 0
delivered t2b t2b@pass.test rcpt@spf.test
spf_header t2b t2b@pass.test Pass

ib_send "$O/t2c" $P_IN t2c@fail.test rcpt@plain.test
e2e_eq "t2 fail to a domain not enforcing SPF: swaks exit code" "$?" 0
delivered t2c t2c@fail.test rcpt@plain.test
spf_header t2c t2c@fail.test Fail

ib_send "$O/t2d" $P_IN t2d@fail.test rcpt@unknown.test
e2e_eq "t2 fail to a domain unknown to the database: swaks exit code" "$?" 0
delivered t2d t2d@fail.test rcpt@unknown.test
spf_header t2d t2d@fail.test Fail

ib_send "$O/t2e" $P_IN t2e@soft.test rcpt@off.test
e2e_eq "t2 greylist switched off again (--enforce no): delivered at once" "$?" 0
delivered t2e t2e@soft.test rcpt@off.test
spf_header t2e t2e@soft.test SoftFail

e2e_note "2. spf.add_header = false"
ib_send "$O/t2f" $P_NOHDR t2f@fail.test rcpt@plain.test
e2e_eq "t2 add_header=false, plain domain: swaks exit code" "$?" 0
delivered t2f t2f@fail.test rcpt@plain.test
no_spf_header t2f t2f@fail.test
ib_send "$O/t2g" $P_NOHDR t2g@pass.test rcpt@spf.test
e2e_eq "t2 add_header=false, enforcing domain: swaks exit code" "$?" 0
delivered t2g t2g@pass.test rcpt@spf.test
spf_header t2g t2g@pass.test Pass
ib_send "$O/t2h" $P_NOHDR t2h@fail.test rcpt@spf.test
e2e_eq "t2 add_header=false, enforcing domain, -all sender: RCPT refused" \
	"$?:$(e2e_reply "$O/t2h" "RCPT TO" | cut -c1-28)" "24:550 5.7.1 SPF check failed: "
# no DNS work at all for it: slow.test's TXT look-up never answers, so a check would hold
# the RCPT for this milter's whole time budget (10 s, the default)
t0=${EPOCHREALTIME/./}
ib_send "$O/t2i" $P_NOHDR t2i@slow.test rcpt@plain.test
rc=$?
ms=$(((10#${EPOCHREALTIME/./} - 10#$t0) / 1000))
e2e_eq "t2 add_header=false, plain domain, unanswerable sender: swaks exit code" "$rc" 0
if [ "$ms" -lt 5000 ]; then
	e2e_ok "t2 ... no SPF look-up was made (session took $ms ms)"
else
	e2e_notok "t2 ... no SPF look-up was made" "the session took $ms ms"
fi
delivered t2i t2i@slow.test rcpt@plain.test
no_spf_header t2i t2i@slow.test
for f in t2f@fail.test t2i@slow.test; do
	e2e_wait_file "$NLOG" "accept: EOM .*from=<$f>" 5
	e2e_eq "t2 add_header=false: <$f> accepted at EOM without an SPF result" \
		"$(e2e_log_count "$NLOG" "accept: EOM" "from=<$f>"):$(e2e_log_count "$NLOG" "from=<$f>" "spf=")" 1:0
done

# ---- 3. greylisting ----------------------------------------------------------------
e2e_note "3. greylisting, min_delay $MIN_DELAY s"
e2e_check "t3 tally --clear" e2e_cliq "$CFG" tally 127.0.0.1 --clear
e2e_eq "t3 tally is 0 after --clear" "$(ib_tally "$CFG" 127.0.0.1)" 0
t0=${EPOCHREALTIME/./}
ib_send "$O/t3a" $P_IN t3@pass.test a@grey.test,b@both.test
e2e_eq "t3 first attempt: swaks exit code (24 = every RCPT refused)" "$?" 24
e2e_eq "t3 first attempt: both recipients deferred with the greylisting reply" \
	"$(e2e_replies "$O/t3a" "RCPT TO")" "$GREY_REPLY"$'\n'"$GREY_REPLY"
e2e_check "t3 first attempt: milter logged greylist=new for a@grey.test" \
	e2e_wait_file "$LOG" "tempfail: RCPT from .*$GREY_REPLY; from=<t3@pass\\.test> to=<a@grey\\.test> policy=greylisting greylist=new" 5
e2e_check "t3 first attempt: ... and for b@both.test" \
	e2e_wait_file "$LOG" "tempfail: RCPT from .*$GREY_REPLY; from=<t3@pass\\.test> to=<b@both\\.test> policy=greylisting greylist=new" 5
e2e_check "t3 maillog shows Postfix's 450 from the milter" \
	e2e_wait_maillog "milter-reject: RCPT from [^ ]*: ${GREY_REPLY//./\\.}; from=<t3@pass\\.test> to=<a@grey\\.test>" 5
ib_send "$O/t3b" $P_IN t3@pass.test a@grey.test,b@both.test
e2e_eq "t3 immediate retry: deferred again" \
	"$?:$(e2e_replies "$O/t3b" "RCPT TO" | xargs)" "24:$GREY_REPLY $GREY_REPLY"
e2e_check "t3 immediate retry: milter logged greylist=early" \
	e2e_wait_file "$LOG" "from=<t3@pass\\.test> to=<a@grey\\.test> policy=greylisting greylist=early" 5
e2e_eq "t3 nothing delivered yet" "$(e2e_sink_count t3@pass.test)" 0
if ib_retry 10 "$O/t3c" $P_IN t3@pass.test a@grey.test,b@both.test; then
	ms=$(((10#${EPOCHREALTIME/./} - 10#$t0) / 1000))
	e2e_ok "t3 a retry after the delay is accepted (attempt $IB_TRIES, ${ms} ms after the first)"
	# the store counts whole seconds: the delay may look up to 1 s shorter than min_delay
	if [ "$ms" -ge $(((MIN_DELAY - 1) * 1000)) ]; then
		e2e_ok "t3 ... not before $((MIN_DELAY - 1)) s"
	else
		e2e_notok "t3 ... not before $((MIN_DELAY - 1)) s" "accepted after $ms ms"
	fi
	bad=$(printf '%s' "$IB_DEFERS" | grep -v "^$GREY_REPLY\$" | grep .)
	e2e_eq "t3 every earlier retry was deferred with the greylisting reply" "$bad" ""
else
	e2e_notok "t3 a retry after the delay is accepted" "$IB_TRIES attempts in $IB_MS ms" \
		"$(printf '%s' "$IB_DEFERS" | sort | uniq -c)"
fi
# IB_PARTIAL: the retry reached one recipient a second before the other (one more message)
delivered t3c t3@pass.test "a@grey.test b@both.test" $((1 + IB_PARTIAL))
spf_header t3c t3@pass.test Pass
e2e_eq "t3 tally counts one pass for the message (two recipients)" \
	"$(ib_tally "$CFG" 127.0.0.1)" $((1 + IB_PARTIAL))
e2e_eq "t3 tally --json" "$(e2e_cli "$CFG" --json tally 127.0.0.1)" \
	'{"client":"127.0.0.1","passes":1,"threshold":10}'
ib_send "$O/t3d" $P_IN t3@pass.test a@grey.test
e2e_eq "t3 a passed tuple passes at once next time" "$?" 0
e2e_check "t3 ... and is delivered" e2e_wait_sink t3@pass.test $((2 + IB_PARTIAL)) 15
e2e_eq "t3 tally counts the second message" "$(ib_tally "$CFG" 127.0.0.1)" $((2 + IB_PARTIAL))

# ---- 4. softfail on an enforcing domain --------------------------------------------
e2e_note "4. SPF softfail on an enforcing domain"
ib_send "$O/t4a" $P_IN t4@soft.test rcpt@spf.test
rc=$?
r=$(e2e_reply "$O/t4a" "RCPT TO")
e2e_eq "t4 first attempt: swaks exit code" "$rc" 24
case $r in
"$GREY_REPLY "?*) e2e_ok "t4 deferred with the greylisting reply plus the SPF reason ($r)" ;;
*) e2e_notok "t4 deferred with the greylisting reply plus the SPF reason" "got '$r'" ;;
esac
e2e_check "t4 milter logged greylist=new spf=softfail" \
	e2e_wait_file "$LOG" "from=<t4@soft\\.test> to=<rcpt@spf\\.test> policy=greylisting greylist=new spf=softfail" 5
if ib_retry 10 "$O/t4b" $P_IN t4@soft.test rcpt@spf.test; then
	e2e_ok "t4 a retry after the delay is accepted (attempt $IB_TRIES)"
else
	e2e_notok "t4 a retry after the delay is accepted" "$IB_TRIES attempts in $IB_MS ms" \
		"$(printf '%s' "$IB_DEFERS" | sort | uniq -c)"
fi
delivered t4b t4@soft.test rcpt@spf.test
spf_header t4b t4@soft.test SoftFail

# ---- 5. per recipient ----------------------------------------------------------------
e2e_note "5. one message, a greylisting and a plain domain"
ib_send "$O/t5" $P_IN t5@pass.test a@grey.test,b@plain.test
e2e_eq "t5 swaks exit code (one recipient accepted)" "$?" 0
e2e_eq "t5 RCPT replies: deferred, then accepted" \
	"$(e2e_replies "$O/t5" "RCPT TO" | cut -c1-54)" "$GREY_REPLY"$'\n'"250 2.1.5 Ok"
delivered t5 t5@pass.test b@plain.test
spf_header t5 t5@pass.test Pass

# ---- 6. HELO whitelist ---------------------------------------------------------------
e2e_note "6. HELO whitelist trusted.test:127.0.0.1"
ib_send "$O/t6" $P_IN t6@fail.test a@grey.test,c@spf.test --ehlo trusted.test
e2e_eq "t6 swaks exit code" "$?" 0
e2e_eq "t6 both recipients accepted at once" \
	"$(e2e_replies "$O/t6" "RCPT TO" | cut -c1-3 | xargs)" "250 250"
delivered t6 t6@fail.test "a@grey.test c@spf.test"
no_spf_header t6 t6@fail.test
e2e_check "t6 milter logged accept: MAIL ... policy=helo_whitelist" \
	e2e_wait_file "$LOG" "accept: MAIL from .*from=<t6@fail\\.test> policy=helo_whitelist" 5
ib_send "$O/t6n" $P_IN t6n@fail.test c@spf.test --ehlo untrusted.test
e2e_eq "t6 another HELO name from the same address is not whitelisted" \
	"$?:$(e2e_reply "$O/t6n" "RCPT TO" | cut -c1-28)" "24:550 5.7.1 SPF check failed: "

# ---- 7. DNS time budget -----------------------------------------------------------------
e2e_note "7. spf.time_budget = 1 and a TXT look-up that never answers"
t0=${EPOCHREALTIME/./}
ib_send "$O/t7" $P_IN t7@slow.test rcpt@spf.test
rc=$?
ms=$(((10#${EPOCHREALTIME/./} - 10#$t0) / 1000))
r=$(e2e_reply "$O/t7" "RCPT TO")
e2e_eq "t7 swaks exit code" "$rc" 24
case $r in
"451 4.4.3 SPF record(s) temporarily unavailable: "?*) e2e_ok "t7 RCPT deferred with 451 4.4.3 ... ($r)" ;;
*) e2e_notok "t7 RCPT deferred with 451 4.4.3 SPF record(s) temporarily unavailable: ..." "got '$r'" ;;
esac
if [ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ]; then
	e2e_ok "t7 the session took ${ms} ms (budget 1 s, bound 3 s)"
else
	e2e_notok "t7 the session took 0.9 to 3 s" "took $ms ms"
fi
e2e_check "t7 milter logged tempfail: RCPT ... spf=temperror" \
	e2e_wait_file "$LOG" "tempfail: RCPT from .*from=<t7@slow\\.test> to=<rcpt@spf\\.test> policy=spf spf=temperror" 5
ib_send "$O/t7p" $P_IN t7p@slow.test rcpt@plain.test
e2e_eq "t7 the same sender to a plain domain: swaks exit code" "$?" 0
delivered t7p t7p@slow.test rcpt@plain.test
spf_header t7p t7p@slow.test TempError

# ---- final checks ------------------------------------------------------------------------
for f in t1s@pass.test t1o@pass.test t2a@fail.test t2h@fail.test t4@soft.test t6n@fail.test \
	 t7@slow.test; do
	[ "$f" = t4@soft.test ] && { e2e_eq "t4 delivered exactly once" "$(e2e_sink_count "$f")" 1; continue; }
	e2e_eq "nothing from <$f> reached the sink" "$(e2e_sink_count "$f")" 0
done
e2e_eq "t5 a@grey.test never got t5's message" \
	"$(ib_sink_rcpt_list t5@pass.test | grep -c grey)" 0
e2e_milter_stop 15 main nohdr
rc=$?
for n in main nohdr; do
	e2e_eq "milter $n exits 0 within 15 s of SIGTERM" "$rc:${E2E_MILTER_RC[$n]}" 0:0
	e2e_check "milter $n log free of sanitizer reports" e2e_sanitizer_clean "$(e2e_milter_log $n)"
done
e2e_note "elapsed $((SECONDS - T_START)) s"
e2e_finish

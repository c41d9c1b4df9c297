#!/usr/bin/env bash
# t-gate.sh - end-to-end tests of chapps-milter's authentication gate (issue 2) through a real
# Postfix with Cyrus SASL on loopback, relaying to smtp-sink.
#
#   1. AUTH PLAIN as alice: 250 queued, delivered to the sink, one milter accept line naming her
#   2. AUTH LOGIN as bob: delivered
#   3. no AUTH: MAIL FROM refused with the configured reply (default and a custom one with a
#      literal %), Postfix logs milter-reject, nothing reaches the sink, one milter reject line
#   4. XCLIENT LOGIN=alice@e2e.test: accepted and delivered
#   6. latency: median connect-to-queued time of N AUTH PLAIN sessions, no milter vs chapps
#      over inet and over a unix socket; every session must succeed; the medians are printed
#      against E2E_LAT_BOUND_MS, not asserted (time is measured in make bench, section E)
#   5. milter stopped by PID: milter_default_action=tempfail gives 451 4.7.1 at MAIL (4xx for
#      AUTH); =accept delivers (fail-open, documented)
#
# Needs root, postfix, saslpasswd2, smtp-sink and swaks (exit 77 otherwise).  CHAPPS_MILTER is
# the milter under test.  Ports 16601-16605 (smtpd), 16610-16611 and 16619 (milters), 16690
# (sink), all on 127.0.0.1.  Prints TAP-like "ok N - ..." lines and "N passed, M failed";
# exits 1 on any failure.

. "$(dirname "$0")/lib.sh" || exit 99

E2E_LAT_N=${E2E_LAT_N:-20}
# One Nagle/delayed-ACK stall costs 40 ms (the plain libmilter-over-TCP case costs two), so a
# bound of 30 ms catches even one while leaving ample room for real milter work.
E2E_LAT_BOUND_MS=${E2E_LAT_BOUND_MS:-30}

e2e_init
e2e_need_milter
D=$E2E_DIR
O=$D/out

P_GATE=16601	# chapps over inet, milter_default_action=tempfail
P_CUSTOM=16602	# chapps with a custom no_user_key_reply
P_UNIX=16603	# chapps over a unix socket
P_NONE=16604	# no milter (latency baseline)
P_OPEN=16605	# same chapps as P_GATE, milter_default_action=accept
M_GATE=16610
M_CUSTOM=16611
M_UNUSED=16619
USOCK=$D/milter/chapps.sock

DEFAULT_REPLY="554 5.7.1 Rejected - Authentication failed"
CUSTOM_REPLY="550 5.7.0 Custom text % sign"
RCPT=rcpt@example.net

e2e_note "chapps-milter: $CHAPPS_MILTER; work dir: $D"
T_START=$SECONDS

# ---- bring up --------------------------------------------------------------

e2e_milter_conf "$D/milter/gate.conf" "inet:$M_GATE@127.0.0.1"
e2e_milter_conf "$D/milter/custom.conf" "inet:$M_CUSTOM@127.0.0.1" "$CUSTOM_REPLY"
# the unix one names an unused inet port: -p must override it
e2e_milter_conf "$D/milter/unix.conf" "inet:$M_UNUSED@127.0.0.1" "" 0000

e2e_check "chapps-milter starts on inet:$M_GATE@127.0.0.1" e2e_milter_start gate "$D/milter/gate.conf"
e2e_check "chapps-milter starts with a custom no_user_key_reply" \
	e2e_milter_start custom "$D/milter/custom.conf"
e2e_check "chapps-milter starts on a unix socket (-p overrides the config)" \
	e2e_milter_start unix "$D/milter/unix.conf" "unix:$USOCK"
[ "$E2E_FAIL" = 0 ] || e2e_bail "a milter did not start"
e2e_check "-p overrides milter.socket (nothing on $M_UNUSED)" eval "! e2e_listening $M_UNUSED"
e2e_eq "unix milter socket is connectable by postfix (mode)" \
	"$(stat -c %A "$USOCK" 2>/dev/null | cut -c8-10)" "rwx"

e2e_listener $P_GATE "inet:127.0.0.1:$M_GATE" tempfail
e2e_listener $P_CUSTOM "inet:127.0.0.1:$M_CUSTOM" tempfail
e2e_listener $P_UNIX "unix:$USOCK" tempfail
e2e_listener $P_NONE "" tempfail
e2e_listener $P_OPEN "inet:127.0.0.1:$M_GATE" accept
e2e_postfix_up
e2e_eq "Postfix milter macro lists are Postfix's defaults" \
	"$(e2e_pc -n | grep -c '^milter_.*_macros')" 0

GLOG=$(e2e_milter_log gate)
CLOG=$(e2e_milter_log custom)
ULOG=$(e2e_milter_log unix)

# check_delivered TAG OUT SENDER USER LOG - the common assertions for an accepted message
check_delivered()
{
	local tag=$1 out=$2 from=$3 user=$4 log=$5 qid n
	e2e_eq "$tag: client got 250 queued after DATA" "$(e2e_reply "$out" . | cut -c1-3)" 250
	qid=$(e2e_queue_id "$out")
	if e2e_wait_sink "$from" 1 15; then
		e2e_ok "$tag: message reached the sink"
	else
		e2e_notok "$tag: message reached the sink" "no sink file with X-Mail-Args: <$from>" \
			"$(tail -n 5 "$D/log/maillog")"
	fi
	e2e_check "$tag: maillog shows status=sent for $qid" \
		e2e_wait_maillog "^.* $qid: to=<$RCPT>, relay=127.0.0.1\\[127.0.0.1\\]:$E2E_SINK_PORT,.* status=sent" 5
	e2e_wait_file "$log" "accept.*$from" 5
	n=$(e2e_log_count "$log" accept "$from")
	e2e_eq "$tag: milter logged one accept line for <$from>" "$n" 1
	n=$(e2e_log_count "$log" accept "$from" "$user")
	e2e_eq "$tag: the accept line names the user $user" "$n" 1
}

# check_rejected TAG OUT SENDER WANT LOG - the common assertions for a message refused at MAIL
check_rejected()
{
	local tag=$1 out=$2 from=$3 want=$4 log=$5 rc=$6 n re
	e2e_eq "$tag: swaks exit code (23 = MAIL refused)" "$rc" 23
	e2e_eq "$tag: reply to MAIL FROM" "$(e2e_reply "$out" "MAIL FROM")" "$want"
	re="milter-reject: MAIL from [^ ]*\\[127\\.0\\.0\\.1\\]: ${want//./\\.}; from=<$from>"
	if e2e_wait_maillog "$re" 5; then
		e2e_ok "$tag: maillog shows milter-reject: MAIL from ... $want"
	else
		e2e_notok "$tag: maillog shows milter-reject: MAIL from ... $want" \
			"$(grep -F "$from" "$D/log/maillog")"
	fi
	e2e_wait_file "$log" "reject.*$from" 5
	n=$(e2e_log_count "$log" reject "$from")
	e2e_eq "$tag: milter logged exactly one reject line for <$from>" "$n" 1
	n=$(e2e_log_count "$log" reject "$from" "${want%% *}")
	e2e_eq "$tag: the reject line carries the reply code" "$n" 1
}

# ---- 1. AUTH PLAIN -----------------------------------------------------------
e2e_note "1. AUTH PLAIN as alice"
e2e_send_plain "$O/t1" $P_GATE alice alicepw alice-t1@e2e.test $RCPT
e2e_eq "t1: swaks exit code" "$?" 0
check_delivered t1 "$O/t1" alice-t1@e2e.test alice@e2e.test "$GLOG"
e2e_check "t1: maillog shows sasl_method=PLAIN, sasl_username=alice@e2e.test" \
	e2e_wait_maillog "$(e2e_queue_id "$O/t1"): client=.*sasl_method=PLAIN, sasl_username=alice@e2e\\.test" 2

# ---- 2. AUTH LOGIN -----------------------------------------------------------
e2e_note "2. AUTH LOGIN as bob"
e2e_send_login "$O/t2" $P_GATE bob bobpw bob-t2@e2e.test $RCPT
e2e_eq "t2: swaks exit code" "$?" 0
check_delivered t2 "$O/t2" bob-t2@e2e.test bob@e2e.test "$GLOG"

# ---- 3. no AUTH --------------------------------------------------------------
e2e_note "3. no AUTH: refused at MAIL FROM"
e2e_send_noauth "$O/t3" $P_GATE m-t3@e2e.test $RCPT
check_rejected t3 "$O/t3" m-t3@e2e.test "$DEFAULT_REPLY" "$GLOG" $?
e2e_send_noauth "$O/t3c" $P_CUSTOM m-t3c@e2e.test $RCPT
check_rejected t3-custom "$O/t3c" m-t3c@e2e.test "$CUSTOM_REPLY" "$CLOG" $?
e2e_send_noauth "$O/t3u" $P_UNIX m-t3u@e2e.test $RCPT
check_rejected t3-unix "$O/t3u" m-t3u@e2e.test "$DEFAULT_REPLY" "$ULOG" $?
e2e_send_plain "$O/t3v" $P_UNIX alice alicepw alice-t3u@e2e.test $RCPT
e2e_eq "t3-unix: AUTH PLAIN over the unix-socket milter: swaks exit code" "$?" 0
check_delivered t3-unix "$O/t3v" alice-t3u@e2e.test alice@e2e.test "$ULOG"

# ---- 4. XCLIENT LOGIN --------------------------------------------------------
e2e_note "4. XCLIENT LOGIN=alice@e2e.test"
e2e_send_xclient "$O/t4" $P_GATE alice@e2e.test xc-t4@e2e.test $RCPT
e2e_eq "t4: swaks exit code" "$?" 0
e2e_eq "t4: XCLIENT accepted" "$(e2e_reply "$O/t4" XCLIENT | cut -c1-3)" 220
check_delivered t4 "$O/t4" xc-t4@e2e.test alice@e2e.test "$GLOG"
e2e_check "t4: maillog shows sasl_method=XCLIENT" \
	e2e_wait_maillog "$(e2e_queue_id "$O/t4"): client=.*sasl_method=XCLIENT, sasl_username=alice@e2e\\.test" 2

# ---- 6. latency (before the milter is stopped) -------------------------------
e2e_note "6. latency: $E2E_LAT_N AUTH PLAIN sessions each, one message per connection"

# lat_run NAME:PORT... - time E2E_LAT_N sessions per listener (after 2 warm-ups each) into
# $O/lat-NAME, round-robin so that load from elsewhere hits every listener alike; the whole
# run is bounded to 20 s: on a loaded machine it stops there with the sessions it has (the
# figures are for reading, not a test; every session must still succeed)
lat_run()
{
	local i us np t0=$SECONDS
	for np in "$@"; do : >"$O/lat-${np%%:*}"; done
	for ((i = -2; i < E2E_LAT_N; i++)); do
		for np in "$@"; do
			if ! us=$(e2e_smtp_time "${np#*:}" alice alicepw "lat-${np%%:*}@e2e.test" $RCPT); then
				e2e_notok "latency ${np%%:*}: session $i failed" "last reply: $E2E_REPLY"
				return 1
			fi
			[ "$i" -ge 0 ] && echo "$us" >>"$O/lat-${np%%:*}"
		done
		if [ $((SECONDS - t0)) -ge 20 ] && [ "$i" -ge 0 ]; then
			e2e_note "latency: stopped after 20 s, $((i + 1)) of $E2E_LAT_N sessions per listener (a loaded machine)"
			break
		fi
	done
	e2e_ok "latency: every session succeeded"
}

ms() { awk -v u="$1" 'BEGIN { printf "%.1f", u / 1000 }'; }

lat_run none:$P_NONE inet:$P_GATE unix:$P_UNIX
L_NONE=$(e2e_median <"$O/lat-none"); L_INET=$(e2e_median <"$O/lat-inet")
L_UNIX=$(e2e_median <"$O/lat-unix")
e2e_note "median connect-to-queued: no milter $(ms "${L_NONE:-0}") ms," \
	"chapps inet $(ms "${L_INET:-0}") ms, chapps unix $(ms "${L_UNIX:-0}") ms"
# the figures are printed, not asserted: a timed assertion fails on a loaded machine for
# reasons that are not the code's (make bench section E measures this, side by side)
for s in inet unix; do
	v=L_${s^^}
	if [ -n "${!v}" ] && [ -n "$L_NONE" ]; then
		e2e_note "latency $s: chapps median $(((${!v} - L_NONE) / 1000)) ms over no milter" \
			"(bound +$E2E_LAT_BOUND_MS ms: one Nagle stall is 40)"
	fi
done
e2e_eq "latency: chapps logged an accept line per inet session" \
	"$(e2e_log_count "$GLOG" accept lat-inet@e2e.test)" $(($(wc -l <"$O/lat-inet") + 2))

# ---- 5. milter stopped -------------------------------------------------------
e2e_note "5. milter stopped"
e2e_milter_stop 15 gate
rc=$?
e2e_eq "t5: chapps-milter exits within 15 s of SIGTERM (took ${E2E_MILTER_MS[gate]} ms)" $rc 0
e2e_eq "t5: chapps-milter exit status after SIGTERM" "${E2E_MILTER_RC[gate]}" 0
e2e_check "t5: nothing listens on the milter port any more" eval "! e2e_listening $M_GATE"

e2e_send_noauth "$O/t5a" $P_GATE m-t5a@e2e.test $RCPT
e2e_eq "t5 tempfail: no AUTH: swaks exit code" "$?" 23
e2e_eq "t5 tempfail: no AUTH: reply to MAIL FROM" \
	"$(e2e_reply "$O/t5a" "MAIL FROM" | cut -c1-9)" "451 4.7.1"
e2e_send_plain "$O/t5b" $P_GATE alice alicepw alice-t5b@e2e.test $RCPT
rc=$?
r=$(grep -m1 -E '^<\*\* ' "$O/t5b" | sed 's/^<\*\* *//')
if [ $rc != 0 ] && [ "${r:0:1}" = 4 ]; then
	e2e_ok "t5 tempfail: AUTH PLAIN refused with 4xx (swaks rc $rc: $r)"
else
	e2e_notok "t5 tempfail: AUTH PLAIN refused with 4xx" "swaks rc $rc, first error reply '$r'"
fi
e2e_check "t5 tempfail: maillog shows the refused milter connection" \
	e2e_wait_maillog "connect to Milter service inet:127.0.0.1:$M_GATE: Connection refused" 5

e2e_send_plain "$O/t5c" $P_OPEN alice alicepw alice-t5c@e2e.test $RCPT
e2e_eq "t5 accept: AUTH PLAIN accepted (swaks exit code)" "$?" 0
e2e_check "t5 accept: AUTH PLAIN delivered" e2e_wait_sink alice-t5c@e2e.test 1 15
e2e_send_noauth "$O/t5d" $P_OPEN m-t5d@e2e.test $RCPT
e2e_eq "t5 accept: no AUTH accepted too - fail-open, documented (swaks exit code)" "$?" 0
e2e_check "t5 accept: the unauthenticated message was delivered (fail-open)" \
	e2e_wait_sink m-t5d@e2e.test 1 15

# ---- final checks ------------------------------------------------------------
# Every delivered message above has arrived, so a rejected one would have by now too.
for f in m-t3@e2e.test m-t3c@e2e.test m-t3u@e2e.test m-t5a@e2e.test alice-t5b@e2e.test; do
	e2e_eq "nothing from <$f> reached the sink" "$(e2e_sink_count "$f")" 0
done
e2e_milter_stop 15 custom unix
rc=$?
for n in custom unix; do
	e2e_eq "milter $n exits 0 within 15 s of SIGTERM (took ${E2E_MILTER_MS[$n]} ms)" \
		"$rc:${E2E_MILTER_RC[$n]}" 0:0
done
for n in gate custom unix; do
	e2e_check "milter $n log free of sanitizer reports" e2e_sanitizer_clean "$(e2e_milter_log $n)"
done
e2e_note "elapsed $((SECONDS - T_START)) s"
e2e_finish

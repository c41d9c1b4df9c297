#!/usr/bin/env bash
# t-sda.sh - end-to-end tests of chapps-milter's sender-domain authorization (issue 4) through
# a real Postfix with Cyrus SASL on loopback, relaying to smtp-sink; users, domains and
# addresses linked with chapps-cli.  Store: LMDB (where SDA caches its decisions).
#
#   1. an authenticated user sending as a linked domain passes, as a linked whole address
#      passes (another address of that domain does not), as another customer's domain is
#      refused at MAIL with "554 5.7.1 Rejected - not allowed to send mail from this
#      domain"; <> is refused by default and passes with null_sender_ok = true; the domain
#      compares case-insensitively, the local part as stored; senders that cannot be parsed
#      are refused with "553 5.1.7 Rejected - malformed sender address" (or by Postfix), and
#      never delivered; an authenticated user unknown to the database is refused
#   2. chapps-cli allow then send: passes at once; deny then send: refused at once (the
#      decisions cached in the store are cleared by the CLI; no restart)
#   3. quota is not charged for mail SDA refused (a user with quota 1 is refused three times
#      by SDA and can still send one message)
#
# Needs root, postfix, saslpasswd2, smtp-sink and swaks (exit 77 otherwise).  CHAPPS_MILTER
# and CHAPPS_CLI are the programs under test.  Ports (127.0.0.1): smtpd 16650-16651, milters
# 16654-16655, sink 16688.  Prints "ok N - ..." lines and "N passed, M failed"; exits 1 on
# failure.

E2E_SINK_PORT=${E2E_SINK_PORT:-16688}
# shellcheck disable=SC2034
E2E_USERS="alice:alicepw bob:bobpw carol:carolpw mallory:mallorypw"
. "$(dirname "$0")/lib.sh" || exit 99

e2e_init
e2e_need_milter
e2e_need_cli
D=$E2E_DIR
O=$D/out

P_SDA=16650	# sender_domain_auth + quota, defaults
P_NULL=16651	# the same with null_sender_ok = true
M_SDA=16654
M_NULL=16655

SDA_REPLY="554 5.7.1 Rejected - not allowed to send mail from this domain"
BAD_REPLY="553 5.1.7 Rejected - malformed sender address"
RCPT=rcpt@example.net

e2e_note "chapps-milter: $CHAPPS_MILTER; chapps-cli: $CHAPPS_CLI; work dir: $D"
T_START=$SECONDS

# ---- bring up --------------------------------------------------------------

CFG=$D/milter/sda.conf
e2e_policy_conf "$CFG" "inet:$M_SDA@127.0.0.1" "lmdb:$D/state" "$D/policy.db" \
	'"sender_domain_auth", "quota"'
e2e_policy_conf "$D/milter/null.conf" "inet:$M_NULL@127.0.0.1" "lmdb:$D/state" "$D/policy.db" \
	'"sender_domain_auth", "quota"' 'sender_domain_auth: { null_sender_ok = true; };'

e2e_check "chapps-cli admin db-setup" e2e_cliq "$CFG" admin db-setup
rc=0
for c in "quota add q100 100" "quota add q1 1" \
	 "user add alice@e2e.test --quota q100" "allow alice@e2e.test e2e.test --create" \
	 "allow alice@e2e.test shared@other.test --create" \
	 "user add bob@e2e.test --quota q100" "allow bob@e2e.test bob.test --create" \
	 "user add carol@e2e.test --quota q1" "allow carol@e2e.test carol.test --create"; do
	# shellcheck disable=SC2086
	e2e_cliq "$CFG" $c || { rc=1; e2e_note "failed: chapps-cli $c"; }
done
e2e_eq "chapps-cli linked the users, domains and addresses" "$rc" 0
e2e_eq "show alice --json lists her domain and address" \
	"$(e2e_cli "$CFG" --json show alice@e2e.test | sed -n 's/.*"domains":\(\[[^]]*\]\),"emails":\(\[[^]]*\]\).*/\1 \2/p')" \
	'["e2e.test"] ["shared@other.test"]'

e2e_check "chapps-milter (SDA) starts" e2e_milter_up sda "$CFG"
e2e_check "chapps-milter (null_sender_ok) starts" e2e_milter_up null "$D/milter/null.conf"
e2e_listener $P_SDA "inet:127.0.0.1:$M_SDA" tempfail
e2e_listener $P_NULL "inet:127.0.0.1:$M_NULL" tempfail
e2e_postfix_up
[ "$E2E_FAIL" = 0 ] || e2e_bail "setup failed"
LOG=$(e2e_milter_log sda)
MPID=$(e2e_milter_pid sda)

# ---- helpers -----------------------------------------------------------------

# send TAG PORT USER FROM - AUTH PLAIN (password USERpw) as USER@e2e.test; swaks' exit code
send()
{
	e2e_send_plain "$O/$1" "$2" "$3@e2e.test" "$3pw" "$4" "$RCPT"
}

# passes TAG PORT USER FROM - sent, 250 after DATA, at the sink, one milter accept line
passes()
{
	local tag=$1 port=$2 user=$3 from=$4 rc log=$LOG
	[ "$port" = $P_NULL ] && log=$(e2e_milter_log null)
	send "$tag" "$port" "$user" "$from"
	rc=$?
	e2e_eq "$tag: $user as <$from>: swaks exit code" "$rc" 0
	e2e_eq "$tag: 250 after DATA" "$(e2e_reply "$O/$tag" . | cut -c1-3)" 250
	e2e_check "$tag: reached the sink" e2e_wait_sink "$from" 1 15
	e2e_wait_file "$log" "accept: .*from=<$from>" 5
	e2e_eq "$tag: one milter accept line for user $user" \
		"$(e2e_log_count "$log" "accept: " "user=<$user@e2e.test>" "from=<$from>")" 1
}

# refused TAG PORT USER FROM WANT [POLICY] - refused at MAIL FROM with WANT, milter reject
# line (with policy=POLICY, default sender_domain_auth)
refused()
{
	local tag=$1 port=$2 user=$3 from=$4 want=$5 pol=${6:-sender_domain_auth} rc
	send "$tag" "$port" "$user" "$from"
	rc=$?
	[ "$from" = "<>" ] && from=
	e2e_eq "$tag: $user as <$from>: swaks exit code (23 = MAIL refused)" "$rc" 23
	e2e_eq "$tag: reply to MAIL FROM" "$(e2e_reply "$O/$tag" "MAIL FROM")" "$want"
	e2e_check "$tag: maillog shows the milter-reject" e2e_wait_maillog \
		"milter-reject: MAIL from [^ ]*: ${want//./\\.}; from=<$from>" 5
	e2e_check "$tag: milter logged the reject with policy=$pol" e2e_wait_file "$LOG" \
		"reject: MAIL .*${want//./\\.};.*from=<$from>.*policy=$pol" 5
}

REFUSED=()

# ---- 1. the rule -------------------------------------------------------------
e2e_note "1. linked domain, linked address, other domains, <>, case, malformed"
passes s1 $P_SDA alice alice-s1@e2e.test
passes s2 $P_SDA alice shared@other.test
refused s3 $P_SDA alice other-s3@other.test "$SDA_REPLY"; REFUSED+=(other-s3@other.test)
refused s4 $P_SDA alice alice-s4@bob.test "$SDA_REPLY"; REFUSED+=(alice-s4@bob.test)
e2e_check "s4: the reject line names the domain" \
	e2e_wait_file "$LOG" "reject: MAIL .*from=<alice-s4@bob\\.test>.*domain=bob\\.test" 1
passes s4b $P_SDA bob bob-s4b@bob.test

refused s5 $P_SDA alice "<>" "$SDA_REPLY"
e2e_eq "s5: the reject line says null sender" \
	"$(e2e_log_count "$LOG" "reject: MAIL" "from=<>" "null sender")" 1
send s5n $P_NULL alice "<>"
e2e_eq "s5 null_sender_ok: swaks exit code" "$?" 0
e2e_eq "s5 null_sender_ok: 250 after DATA" "$(e2e_reply "$O/s5n" . | cut -c1-3)" 250
e2e_check "s5 null_sender_ok: <> reached the sink" e2e_wait_sink "" 1 15

passes s6 $P_SDA alice ALICE-S6@E2E.TEST
passes s6b $P_SDA alice alice-s6b@E2e.Test
passes s6c $P_SDA alice shared@OTHER.test
refused s6d $P_SDA alice SHARED@other.test "$SDA_REPLY"; REFUSED+=(SHARED@other.test)

# senders that are malformed or odd: each has a defined outcome, none passes.  BAD = chapps's
# malformed reply; SDA = parsed, domain not linked; POSTFIX = Postfix refuses it itself
# (the milter never sees it); 5XX = refused, whoever by
n=0
for t in 'bareword BAD' 'two@at@e2e.test BAD' '@e2e.test BAD' 'alice@e2e.test. BAD' \
	 '@relay.test:alice@e2e.test BAD' '"alice@e2e.test"@bob.test SDA' 'alice@ POSTFIX' \
	 'alice@[127.0.0.1] 5XX'; do
	n=$((n + 1))
	bad=${t% *} want=${t##* }
	send "s7-$n" $P_SDA alice "$bad"
	rc=$?
	r=$(e2e_reply "$O/s7-$n" "MAIL FROM")
	case $want in
	BAD) e2e_eq "s7-$n: <$bad>: chapps refuses it as malformed" "$r" "$BAD_REPLY" ;;
	SDA) e2e_eq "s7-$n: <$bad>: chapps refuses the domain" "$r" "$SDA_REPLY" ;;
	POSTFIX)
		if [ "${r:0:1}" = 5 ] && [ "$(e2e_log_count "$LOG" "from=<$bad>")" = 0 ]; then
			e2e_ok "s7-$n: <$bad>: Postfix refuses it before chapps: $r"
		else
			e2e_notok "s7-$n: <$bad>: Postfix refuses it before chapps" "got '$r'"
		fi ;;
	*)
		if [ "${r:0:1}" = 5 ]; then
			e2e_ok "s7-$n: <$bad>: refused at MAIL: $r"
		else
			e2e_notok "s7-$n: <$bad>: refused at MAIL" "got '$r' (swaks rc $rc)"
		fi ;;
	esac
	REFUSED+=("$bad")
done
e2e_wait_file "$LOG" "reject: MAIL .*from=<bareword>" 5
e2e_eq "s7: the bareword reject line has policy=sender_domain_auth" \
	"$(e2e_log_count "$LOG" "reject: MAIL" "from=<bareword>" "policy=sender_domain_auth")" 1

refused s8 $P_SDA mallory mallory-s8@e2e.test "$SDA_REPLY"; REFUSED+=(mallory-s8@e2e.test)

# ---- 2. allow and deny take effect at once -----------------------------------
e2e_note "2. chapps-cli allow / deny without restarting anything"
refused s9a $P_SDA alice y-s9a@newdomain.test "$SDA_REPLY"; REFUSED+=(y-s9a@newdomain.test)
e2e_check "s9: chapps-cli allow alice@e2e.test newdomain.test --create" \
	e2e_cliq "$CFG" allow alice@e2e.test newdomain.test --create
passes s9b $P_SDA alice y-s9b@newdomain.test
passes s9c $P_SDA alice y-s9c@NewDomain.Test
e2e_check "s9: chapps-cli deny alice@e2e.test newdomain.test" \
	e2e_cliq "$CFG" deny alice@e2e.test newdomain.test
refused s9d $P_SDA alice y-s9d@newdomain.test "$SDA_REPLY"; REFUSED+=(y-s9d@newdomain.test)
refused s9e $P_SDA alice other2-s9e@other.test "$SDA_REPLY"; REFUSED+=(other2-s9e@other.test)
e2e_check "s9: chapps-cli allow alice@e2e.test other2-s9f@other.test --create" \
	e2e_cliq "$CFG" allow alice@e2e.test other2-s9f@other.test --create
passes s9f $P_SDA alice other2-s9f@other.test
e2e_check "s9: chapps-cli deny alice@e2e.test shared@other.test" \
	e2e_cliq "$CFG" deny alice@e2e.test shared@other.test
refused s9g $P_SDA alice shared@other.test "$SDA_REPLY"
e2e_eq "s9: still the same milter process" "$(e2e_milter_pid sda)" "$MPID"

# ---- 3. no quota charged for SDA refusals --------------------------------------
e2e_note "3. quota is not charged for mail SDA refused (carol, quota 1)"
for i in 1 2 3; do
	refused "s10-$i" $P_SDA carol "carol-s10-$i@e2e.test" "$SDA_REPLY"
	REFUSED+=("carol-s10-$i@e2e.test")
done
e2e_eq "s10: carol's usage after three SDA refusals" \
	"$(e2e_usage "$CFG" carol@e2e.test used):$(e2e_usage "$CFG" carol@e2e.test reserved)" 0:0
passes s10-ok $P_SDA carol carol-s10@carol.test
e2e_eq "s10: carol's usage after one delivered message" \
	"$(e2e_usage "$CFG" carol@e2e.test used)" 1
e2e_eq "s10: the SDA refusals logged no quota decision" \
	"$(e2e_log_count "$LOG" "carol-s10-" "policy=quota")" 0
# (the <> one of s5n is not counted: quota.count_null_sender = false, issue 10)
e2e_eq "alice's usage: her 9 delivered messages but the null sender's" \
	"$(e2e_usage "$CFG" alice@e2e.test used)" 8

# ---- final checks ------------------------------------------------------------
for f in "${REFUSED[@]}"; do
	e2e_eq "nothing from <$f> reached the sink" "$(e2e_sink_count "$f")" 0
done
e2e_milter_stop 15 sda null
rc=$?
e2e_eq "both milters exit 0 within 15 s of SIGTERM" \
	"$rc:${E2E_MILTER_RC[sda]}:${E2E_MILTER_RC[null]}" 0:0:0
for n in sda null; do
	e2e_check "milter $n log free of sanitizer reports" e2e_sanitizer_clean "$(e2e_milter_log $n)"
done
e2e_check "chapps-cli stderr free of sanitizer reports" e2e_sanitizer_clean "$D/log/cli.err"
e2e_note "elapsed $((SECONDS - T_START)) s"
e2e_finish

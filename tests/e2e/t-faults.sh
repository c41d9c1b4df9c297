#!/usr/bin/env bash
# t-faults.sh - end-to-end fault tests of chapps-milter through a real Postfix with Cyrus
# SASL on loopback, relaying to smtp-sink.
#
#   1. Redis store, Redis stopped mid-run: with quota.on_error = "tempfail" (default) the next
#      messages get "451 4.3.0 ..." at RCPT, each within 5 s, and the milter logs one error
#      line for the incident however many messages hit it; Redis restarted: mail flows again
#      without restarting the milter, and the recovery is logged once.  With on_error =
#      "accept" mail is delivered while Redis is down.  Redis hung (SIGSTOP): the same
#      tempfail, within the deadline; resumed: mail flows again.
#   2. SIGUSR1 reload: a changed no_user_key_reply is served after the signal; a broken
#      config (unknown section, then a syntax error) is refused, the running config stays
#      (old text still served) and the log names the problem with file:line; a good config
#      after that is taken again.
#
# Needs root, postfix, saslpasswd2, smtp-sink, swaks and redis-server (exit 77 otherwise).
# CHAPPS_MILTER and CHAPPS_CLI are the programs under test.  Ports (127.0.0.1): smtpd
# 16660-16662, milters 16663-16665, Redis 16666, sink 16687.  Prints "ok N - ..." lines and
# "N passed, M failed"; exits 1 on failure.

E2E_SINK_PORT=${E2E_SINK_PORT:-16687}
# shellcheck disable=SC2034
E2E_USERS="alice:alicepw"
. "$(dirname "$0")/lib.sh" || exit 99

e2e_init
e2e_need_milter
e2e_need_cli
e2e_need_redis || { echo "# SKIP: redis-server not installed"; exit 77; }
D=$E2E_DIR
O=$D/out

P_RT=16660	# Redis store, quota.on_error = tempfail (default)
P_RA=16661	# Redis store, quota.on_error = accept
P_RL=16662	# identity gate only, reloaded with SIGUSR1
M_RT=16663
M_RA=16664
M_RL=16665
REDIS_PORT=16666

TEMPFAIL_REPLY="451 4.3.0 Policy service temporarily unavailable - try again later"
DEFAULT_NOAUTH="554 5.7.1 Rejected - Authentication failed"
RCPT=rcpt@example.net
BOUND_US=5000000	# a reply must arrive within 5 s

e2e_note "chapps-milter: $CHAPPS_MILTER; chapps-cli: $CHAPPS_CLI; work dir: $D"
T_START=$SECONDS

# ---- bring up --------------------------------------------------------------

e2e_check "redis-server starts on $REDIS_PORT" e2e_redis_start store $REDIS_PORT
CFG=$D/milter/rt.conf
e2e_policy_conf "$CFG" "inet:$M_RT@127.0.0.1" "redis:$REDIS_PORT" "$D/policy.db" \
	'"sender_domain_auth", "quota"'
e2e_policy_conf "$D/milter/ra.conf" "inet:$M_RA@127.0.0.1" "redis:$REDIS_PORT" "$D/policy.db" \
	'"sender_domain_auth", "quota"' 'quota: { on_error = "accept"; };'
RCFG=$D/milter/reload.conf
e2e_milter_conf "$RCFG" "inet:$M_RL@127.0.0.1"

rc=0
for c in "admin db-setup" "quota add q1000 1000" "user add alice@e2e.test --quota q1000" \
	 "allow alice@e2e.test e2e.test --create"; do
	# shellcheck disable=SC2086
	e2e_cliq "$CFG" $c || { rc=1; e2e_note "failed: chapps-cli $c"; }
done
e2e_eq "chapps-cli set up alice with a quota of 1000" "$rc" 0
e2e_check "chapps-milter (on_error tempfail) starts" e2e_milter_up rt "$CFG"
e2e_check "chapps-milter (on_error accept) starts" e2e_milter_up ra "$D/milter/ra.conf"
e2e_check "chapps-milter (reload) starts" e2e_milter_up reload "$RCFG"
e2e_listener $P_RT "inet:127.0.0.1:$M_RT" tempfail
e2e_listener $P_RA "inet:127.0.0.1:$M_RA" tempfail
e2e_listener $P_RL "inet:127.0.0.1:$M_RL" tempfail
e2e_postfix_up
[ "$E2E_FAIL" = 0 ] || e2e_bail "setup failed"
RTLOG=$(e2e_milter_log rt)
RALOG=$(e2e_milter_log ra)
RLLOG=$(e2e_milter_log reload)
RTPID=$(e2e_milter_pid rt)
RAPID=$(e2e_milter_pid ra)

# ---- helpers -----------------------------------------------------------------

# delivered TAG PORT FROM - alice sends with swaks: 250 after DATA, at the sink
delivered()
{
	e2e_send_plain "$O/$1" "$2" alice@e2e.test alicepw "$3" $RCPT
	e2e_eq "$1: <$3> accepted (swaks exit code)" "$?" 0
	e2e_check "$1: <$3> reached the sink" e2e_wait_sink "$3" 1 15
}

# tempfailed TAG PORT FROM - alice sends with the bash client: MAIL accepted, RCPT gets the
# tempfail reply within 5 s, nothing delivered
tempfailed()
{
	local tag=$1 port=$2 from=$3 us
	if e2e_smtp_open "$O/$tag" "$port" && e2e_smtp_cmd "EHLO client.e2e.test" 250 &&
	   e2e_smtp_auth alice@e2e.test alicepw; then
		e2e_smtp_cmd "MAIL FROM:<$from>"
		us=$E2E_REPLY_US
		e2e_eq "$tag: MAIL FROM accepted" "${E2E_REPLY:0:3}" 250
		[ "$us" -lt $BOUND_US ] || e2e_notok "$tag: reply to MAIL within 5 s" "took $us us"
		e2e_smtp_cmd "RCPT TO:<$RCPT>"
		us=$E2E_REPLY_US
		e2e_eq "$tag: reply to RCPT" "$E2E_REPLY" "$TEMPFAIL_REPLY"
		if [ "$us" -lt $BOUND_US ]; then
			e2e_ok "$tag: the RCPT reply came within 5 s ($((us / 1000)) ms)"
		else
			e2e_notok "$tag: the RCPT reply came within 5 s" "took $((us / 1000)) ms"
		fi
		e2e_smtp_cmd QUIT
	else
		e2e_notok "$tag: session up to AUTH" "got '$E2E_REPLY'"
	fi
	e2e_smtp_close
}

# ---- 1. Redis faults ---------------------------------------------------------
e2e_note "1. Redis stopped mid-run"
delivered f1 $P_RT alice-f1@e2e.test
delivered f1a $P_RA alice-f1a@e2e.test
e2e_eq "f1: used 2 before the fault" "$(e2e_usage "$CFG" alice@e2e.test used)" 2

e2e_check "f2: redis-server stopped" e2e_redis_stop store
for i in 1 2 3; do
	tempfailed "f2-$i" $P_RT "alice-f2-$i@e2e.test"
done
e2e_check "f2: maillog shows the 451 milter-reject at RCPT" \
	e2e_wait_maillog "milter-reject: RCPT from [^ ]*: 451 4\\.3\\.0 .*from=<alice-f2-3@e2e\\.test>" 5
e2e_wait_file "$RTLOG" "tempfail: RCPT .*from=<alice-f2-3@e2e\\.test>" 5
e2e_eq "f2: the milter logged a tempfail line per message" \
	"$(e2e_log_count "$RTLOG" "tempfail: RCPT" "from=<alice-f2-" "on_error=tempfail")" 3
e2e_eq "f2: one error line for the incident (3 messages)" \
	"$(e2e_log_count "$RTLOG" "error: ")" 1
e2e_eq "f2: the error line names the state store" \
	"$(e2e_log_count "$RTLOG" "error: " "state store unavailable")" 1

delivered f3 $P_RA alice-f3@e2e.test
delivered f3b $P_RA alice-f3b@e2e.test
e2e_eq "f3 (on_error accept): one error line for the incident" \
	"$(e2e_log_count "$RALOG" "error: " "state store unavailable")" 1
e2e_eq "f3 (on_error accept): two accept lines" \
	"$(e2e_log_count "$RALOG" "accept: " "from=<alice-f3")" 2
e2e_eq "f3 (on_error accept): neither says it was counted" \
	"$(e2e_log_count "$RALOG" "accept: " "from=<alice-f3" "counted=")" 0

e2e_check "f4: redis-server started again" e2e_redis_start store $REDIS_PORT
delivered f4 $P_RT alice-f4@e2e.test
delivered f4a $P_RA alice-f4a@e2e.test
e2e_eq "f4: the same milter processes (no restart)" \
	"$(e2e_milter_pid rt) $(e2e_milter_pid ra)" "$RTPID $RAPID"
e2e_eq "f4: the recovery logged once (on_error tempfail milter)" \
	"$(e2e_log_count "$RTLOG" "state store available again")" 1
e2e_eq "f4: the recovery logged once (on_error accept milter)" \
	"$(e2e_log_count "$RALOG" "state store available again")" 1
delivered f4b $P_RT alice-f4b@e2e.test
e2e_eq "f4: still one error line and one recovery line" \
	"$(e2e_log_count "$RTLOG" "error: "):$(e2e_log_count "$RTLOG" "available again")" 1:1
e2e_eq "f4: usage counted again (fresh Redis: f4, f4a, f4b)" \
	"$(e2e_usage "$CFG" alice@e2e.test used)" 3

e2e_note "1b. Redis hung (SIGSTOP)"
RPID=$(e2e_redis_pid store)
if e2e_is "$RPID" redis-server && kill -STOP "$RPID"; then
	tempfailed f5 $P_RT alice-f5@e2e.test
	kill -CONT "$RPID"
	delivered f5b $P_RT alice-f5b@e2e.test
	e2e_eq "f5: a second incident: two error lines, two recoveries" \
		"$(e2e_log_count "$RTLOG" "error: "):$(e2e_log_count "$RTLOG" "available again")" 2:2
	e2e_note "f5: after the hang: $(e2e_cli "$CFG" show alice@e2e.test --quota | grep '^used')"
else
	e2e_notok "f5: SIGSTOP redis-server"
fi
for f in alice-f2-1 alice-f2-2 alice-f2-3 alice-f5; do
	e2e_eq "nothing from <$f@e2e.test> reached the sink" "$(e2e_sink_count "$f@e2e.test")" 0
done

# ---- 2. SIGUSR1 reload -------------------------------------------------------
e2e_note "2. SIGUSR1 reload"

# noauth_reply TAG - the reply to MAIL FROM of an unauthenticated message on P_RL
noauth_reply()
{
	e2e_send_noauth "$O/$1" $P_RL "m-$1@e2e.test" $RCPT
	e2e_reply "$O/$1" "MAIL FROM"
}

# reload WHAT STRING - SIGUSR1 the reload milter; wait for one more log line with STRING
reload()
{
	local n
	n=$(e2e_log_count "$RLLOG" "$2")
	if e2e_is "$(e2e_milter_pid reload)" "$CHAPPS_MILTER" &&
	   kill -USR1 "$(e2e_milter_pid reload)" && e2e_log_wait_more "$RLLOG" "$n" 5 "$2"; then
		e2e_ok "$1: SIGUSR1, the milter logged '$2'"
	else
		e2e_notok "$1: SIGUSR1, the milter logged '$2'"
	fi
}

RLPID=$(e2e_milter_pid reload)
TEXT1="550 5.7.0 Reloaded reply one"
TEXT2="550 5.7.0 Reloaded reply two"
e2e_eq "r1: the configured reply before any reload" "$(noauth_reply r1)" "$DEFAULT_NOAUTH"
e2e_milter_conf "$RCFG" "inet:$M_RL@127.0.0.1" "$TEXT1"
reload r2 "configuration reloaded"
e2e_eq "r2: the new no_user_key_reply is served" "$(noauth_reply r2)" "$TEXT1"

# broken 1: a valid new reply text, plus an unknown section on a known line
e2e_milter_conf "$RCFG" "inet:$M_RL@127.0.0.1" "550 5.7.0 Must never be served"
echo 'bogus:    { x = 1; };' >>"$RCFG"
LINE=$(wc -l <"$RCFG")
reload r3 "reload of"
e2e_check "r3: the log names the problem as $RCFG:$LINE" \
	e2e_wait_file "$RLLOG" "$RCFG:$LINE: .*bogus" 2
e2e_eq "r3: the running config stays (old text served)" "$(noauth_reply r3)" "$TEXT1"

# broken 2: a syntax error
e2e_milter_conf "$RCFG" "inet:$M_RL@127.0.0.1" "550 5.7.0 Must never be served"
echo 'identity_extra = ;' >>"$RCFG"
LINE=$(wc -l <"$RCFG")
n=$(e2e_log_count "$RLLOG" "syntax error")
reload r4 "reload of"
e2e_check "r4: the log names the syntax error as $RCFG:$LINE" \
	e2e_log_wait_more "$RLLOG" "$n" 2 "$RCFG:$LINE:" "syntax error"
e2e_eq "r4: the running config stays (old text served)" "$(noauth_reply r4)" "$TEXT1"

e2e_milter_conf "$RCFG" "inet:$M_RL@127.0.0.1" "$TEXT2"
reload r5 "configuration reloaded"
e2e_eq "r5: a good config after the failures is taken" "$(noauth_reply r5)" "$TEXT2"
e2e_eq "r5: the same milter process throughout" "$(e2e_milter_pid reload)" "$RLPID"

# ---- final checks ------------------------------------------------------------
e2e_milter_stop 15 rt ra reload
rc=$?
e2e_eq "every milter exits 0 within 15 s of SIGTERM" \
	"$rc:${E2E_MILTER_RC[rt]}:${E2E_MILTER_RC[ra]}:${E2E_MILTER_RC[reload]}" 0:0:0:0
for n in rt ra reload; do
	e2e_check "milter $n log free of sanitizer reports" e2e_sanitizer_clean "$(e2e_milter_log $n)"
done
e2e_check "chapps-cli stderr free of sanitizer reports" e2e_sanitizer_clean "$D/log/cli.err"
e2e_note "elapsed $((SECONDS - T_START)) s"
e2e_finish

#!/usr/bin/env bash
# t-quota.sh - end-to-end tests of chapps-milter's outbound quota (issue 3) through a real
# Postfix with Cyrus SASL on loopback, relaying to smtp-sink; users and quotas made with
# chapps-cli.  Everything below runs twice: on the embedded LMDB store and on Redis.
#
#   1. quota 3, four single-recipient messages: three delivered, the fourth refused at RCPT
#      with "554 5.7.1 Rejected - outbound quota fulfilled"; show --quota says used 3
#   6. the milter restarted mid-window (same state), after SIGTERM (LMDB pass) and after
#      SIGKILL: the user is still refused
#   5. set-quota to a bigger quota: the next message passes at once (SIGUSR2 via the pidfile)
#   2. multi-recipient accounting: counting_recipients = true (quota 5: 3 rcpts pass, then
#      2 of 3), = false (3 rcpts count 1), margin = 2 (quota 4: 3 + 3 pass, then nothing)
#   3. aborted transactions (RSET, QUIT, a dropped connection after RCPT) do not count and
#      leave no reservation
#   4. quota.commit = "eom": delivered and counted, the accept logged at EOM
#   7. authenticated user unknown to the policy database, SDA off: refused at MAIL with
#      "554 5.7.1 Rejected - no quota for this user"
#   8. two milter processes sharing the store behind two Postfix listeners, quota 10, 16
#      concurrent messages alternating between them: exactly 10 delivered
#
# Needs root, postfix, saslpasswd2, smtp-sink and swaks (exit 77 otherwise); the Redis pass
# needs redis-server (skipped with a note without it).  CHAPPS_MILTER and CHAPPS_CLI are the
# programs under test.  Ports (127.0.0.1): smtpd 16620-16631, milters 16632-16643, Redis
# 16649, sink 16689.  E2E_PASSES="lmdb" (or "redis") runs one pass only.  Prints "ok N - ..."
# lines and "N passed, M failed"; exits 1 on failure.

E2E_SINK_PORT=${E2E_SINK_PORT:-16689}
# shellcheck disable=SC2034
E2E_USERS="u1:u1pw u2:u2pw u3:u3pw u4:u4pw u5:u5pw u6:u6pw u7:u7pw mallory:mallorypw"
. "$(dirname "$0")/lib.sh" || exit 99

e2e_init
e2e_need_milter
e2e_need_cli
D=$E2E_DIR
O=$D/out

# set_ports OFFSET - the ports of a pass: smtpd 16620+OFFSET.., milters 16632+OFFSET..
# (the LMDB pass has offset 0, the Redis pass 6, so that the LMDB milters may still be
# shutting down while the Redis pass runs)
set_ports()
{
	P_MAIN=$((16620 + $1))		# counting_recipients, margin 0, commit at DATA; SDA + quota
	P_NOCOUNT=$((16621 + $1))	# counting_recipients = false
	P_MARGIN=$((16622 + $1))	# margin = 2
	P_EOM=$((16623 + $1))		# commit = "eom"
	P_NOSDA=$((16624 + $1))		# policies = [ "quota" ]
	P_TWIN=$((16625 + $1))		# a second milter process, same settings and state as MAIN
	M_MAIN=$((16632 + $1))
	M_NOCOUNT=$((16633 + $1))
	M_MARGIN=$((16634 + $1))
	M_EOM=$((16635 + $1))
	M_NOSDA=$((16636 + $1))
	M_TWIN=$((16637 + $1))
}
REDIS_PORT=16649
MILTERS="main twin nocount margin eom nosda"

QUOTA_REPLY="554 5.7.1 Rejected - outbound quota fulfilled"
UNKNOWN_REPLY="554 5.7.1 Rejected - no quota for this user"
R1=rcpt1@example.net
R2=rcpt2@example.net
R3=rcpt3@example.net

e2e_note "chapps-milter: $CHAPPS_MILTER; chapps-cli: $CHAPPS_CLI; work dir: $D"
T_START=$SECONDS

for off in 0 6; do
	set_ports $off
	e2e_listener $P_MAIN "inet:127.0.0.1:$M_MAIN" tempfail
	e2e_listener $P_NOCOUNT "inet:127.0.0.1:$M_NOCOUNT" tempfail
	e2e_listener $P_MARGIN "inet:127.0.0.1:$M_MARGIN" tempfail
	e2e_listener $P_EOM "inet:127.0.0.1:$M_EOM" tempfail
	e2e_listener $P_NOSDA "inet:127.0.0.1:$M_NOSDA" tempfail
	e2e_listener $P_TWIN "inet:127.0.0.1:$M_TWIN" tempfail
done
e2e_postfix_up

# ---- helpers -----------------------------------------------------------------

# send TAG PORT USER FROM RCPT... - AUTH PLAIN submission of one message, transcript $O/TAG;
# returns swaks' exit code
send()
{
	local tag=$1 port=$2 user=$3 from=$4 to; shift 4
	to=$(IFS=,; echo "$*")
	e2e_send_plain "$O/$tag" "$port" "$user" "${user}pw" "$from" "$to"
}

# u NAME - the full user name (SASL user NAME in realm e2e.test, password NAMEpw)
u() { echo "$1@e2e.test"; }

# delivered TAG FROM [NRCPT] - 250 after DATA and the message (with NRCPT recipients) at
# the sink
delivered()
{
	local tag=$1 from=$2 n=${3:-1}
	e2e_eq "$tag: 250 after DATA" "$(e2e_reply "$O/$tag" . | cut -c1-3)" 250
	if e2e_wait_sink "$from" 1 15; then
		e2e_eq "$tag: reached the sink with $n recipient(s)" "$(e2e_sink_rcpts "$from")" "$n"
	else
		e2e_notok "$tag: reached the sink" "no sink file with X-Mail-Args: <$from>"
	fi
}

# rcpt_refused TAG FROM RC LOG [N] - swaks rc 24 and each of the N (1) RCPTs got the quota
# reply; Postfix logged the milter-rejects, the milter one reject line per RCPT with
# policy=quota
rcpt_refused()
{
	local tag=$1 from=$2 rc=$3 log=$4 n=${5:-1} want i
	want=$(for ((i = 0; i < n; i++)); do echo "$QUOTA_REPLY"; done)
	e2e_eq "$tag: swaks exit code (24 = every RCPT refused)" "$rc" 24
	e2e_eq "$tag: MAIL FROM accepted" "$(e2e_reply "$O/$tag" "MAIL FROM" | cut -c1-3)" 250
	e2e_eq "$tag: reply to each RCPT" "$(e2e_replies "$O/$tag" "RCPT TO")" "$want"
	e2e_check "$tag: maillog shows milter-reject: RCPT ... $QUOTA_REPLY" e2e_wait_maillog \
		"milter-reject: RCPT from [^ ]*: ${QUOTA_REPLY//./\\.}; from=<$from>" 5
	e2e_wait_file "$log" "reject: RCPT.*from=<$from>" 5
	e2e_eq "$tag: milter logged $n RCPT reject(s) with policy=quota" \
		"$(e2e_log_count "$log" "reject: RCPT" "from=<$from>" "policy=quota")" "$n"
}

# used WHAT CONF USER WANT [RESERVED] - show --quota --json: used (and reserved) as wanted;
# on Redis the last commit may still be on its way (store.redis.defer_commit: within 10 ms
# of the message's DATA, its reservation holding the room meanwhile), so used is waited for
used()
{
	local got
	got=$(e2e_wait_usage 5 "$2" "$3" used "$4")
	e2e_eq "$1: chapps-cli show --quota: used" "$got" "$4"
	if [ -n "${5:-}" ]; then
		e2e_eq "$1: chapps-cli show --quota: reserved" "$(e2e_usage "$2" "$3" reserved)" "$5"
	fi
}

# ---- one pass over a store -----------------------------------------------------

# run_pass B STORE OFFSET - the tests on store STORE (lmdb:PATH or redis:PORT), tags prefixed
# B, ports set_ports OFFSET; the milters get SIGTERM at the end (reaped by finish)
run_pass()
{
	local B=$1 store=$2 dir=$D/$1 rc i n pids p t0 cfg from log fails=$E2E_FAIL
	set_ports "$3"
	local db=$D/$1/policy.db q0='quota: { margin = 0; };'
	mkdir -p "$dir"
	e2e_note "==== pass $B: store $store"

	e2e_policy_conf "$dir/main.conf" "inet:$M_MAIN@127.0.0.1" "$store" "$db" \
		'"sender_domain_auth", "quota"' "$q0"
	e2e_policy_conf "$dir/twin.conf" "inet:$M_TWIN@127.0.0.1" "$store" "$db" \
		'"sender_domain_auth", "quota"' "$q0"
	e2e_policy_conf "$dir/nocount.conf" "inet:$M_NOCOUNT@127.0.0.1" "$store" "$db" \
		'"sender_domain_auth", "quota"' 'quota: { margin = 0; counting_recipients = false; };'
	e2e_policy_conf "$dir/margin.conf" "inet:$M_MARGIN@127.0.0.1" "$store" "$db" \
		'"sender_domain_auth", "quota"' 'quota: { margin = 2; };'
	e2e_policy_conf "$dir/eom.conf" "inet:$M_EOM@127.0.0.1" "$store" "$db" \
		'"sender_domain_auth", "quota"' 'quota: { margin = 0; commit = "eom"; };'
	e2e_policy_conf "$dir/nosda.conf" "inet:$M_NOSDA@127.0.0.1" "$store" "$db" '"quota"' "$q0"
	cfg=$dir/main.conf

	# the administrator's part
	e2e_check "$B: chapps-cli admin db-setup" e2e_cliq "$cfg" admin db-setup
	rc=0
	for q in q3:3 q4:4 q5:5 q10:10; do
		e2e_cli "$cfg" quota add "${q%:*}" "${q#*:}" >/dev/null || rc=1
	done
	for p in u1:q3 u2:q5 u3:q5 u4:q4 u5:q5 u6:q5 u7:q10; do
		e2e_cli "$cfg" user add "$(u "${p%:*}")" --quota "${p#*:}" >/dev/null || rc=1
		e2e_cli "$cfg" allow "$(u "${p%:*}")" e2e.test --create >/dev/null || rc=1
	done
	e2e_eq "$B: chapps-cli made the quotas and users" "$rc" 0
	e2e_eq "$B: u1 has limit 3" "$(e2e_usage "$cfg" "$(u u1)" limit)" 3

	for m in $MILTERS; do
		e2e_check "$B: chapps-milter $m starts" e2e_milter_up "$B-$m" "$dir/$m.conf"
	done
	[ "$E2E_FAIL" = "$fails" ] || e2e_bail "$B: setup failed"
	log=$(e2e_milter_log "$B-main")

	# ---- 1. quota 3, four messages
	e2e_note "$B 1. quota 3: four single-recipient messages"
	for i in 1 2 3 4; do
		send "$B-t1-$i" $P_MAIN u1 "u1-$B-t1-$i@e2e.test" $R1
		rc=$?
		if [ $i -le 3 ]; then
			e2e_eq "$B-t1-$i: swaks exit code" "$rc" 0
			delivered "$B-t1-$i" "u1-$B-t1-$i@e2e.test"
		else
			rcpt_refused "$B-t1-$i" "u1-$B-t1-$i@e2e.test" "$rc" "$log"
		fi
	done
	used "$B-t1" "$cfg" "$(u u1)" 3 0
	e2e_eq "$B-t1: remaining 0" "$(e2e_usage "$cfg" "$(u u1)" remaining)" 0
	e2e_eq "$B-t1: the milter accepted at DATA (quota.commit = data), 3 times" \
		"$(e2e_log_count "$log" "accept: DATA" "user=<$(u u1)>")" 3

	# ---- 6. persistence
	e2e_note "$B 6. restart the milter mid-window"
	if [ "$B" = lmdb ]; then
		# (a clean stop takes libmilter up to 5 s: once is enough)
		e2e_milter_stop 15 "$B-main"
		e2e_eq "$B-t6: chapps-milter stopped cleanly" "${E2E_MILTER_RC[$B-main]}" 0
		e2e_check "$B-t6: chapps-milter starts again on the same state" \
			e2e_milter_up "$B-main" "$cfg"
		send "$B-t6" $P_MAIN u1 "u1-$B-t6@e2e.test" $R1
		rcpt_refused "$B-t6" "u1-$B-t6@e2e.test" "$?" "$log"
		used "$B-t6" "$cfg" "$(u u1)" 3
	fi
	e2e_check "$B-t6: chapps-milter killed (SIGKILL: a crash)" e2e_milter_kill "$B-main"
	e2e_check "$B-t6: chapps-milter starts again after the crash" \
		e2e_milter_up "$B-main" "$cfg"
	send "$B-t6k" $P_MAIN u1 "u1-$B-t6k@e2e.test" $R1
	rcpt_refused "$B-t6k" "u1-$B-t6k@e2e.test" "$?" "$log"
	used "$B-t6k" "$cfg" "$(u u1)" 3 0

	# ---- 5. a new quota without restarting the milter
	e2e_note "$B 5. set-quota u1 q10 takes effect at once"
	p=$(e2e_milter_pid "$B-main")
	n=$(e2e_log_count "$log" "caches flushed")
	e2e_check "$B-t5: chapps-cli set-quota u1@e2e.test q10" \
		e2e_cliq "$cfg" set-quota "$(u u1)" q10
	e2e_check "$B-t5: the milter flushed its caches (SIGUSR2 through the pidfile)" \
		e2e_log_wait_more "$log" "$n" 5 "caches flushed"
	send "$B-t5" $P_MAIN u1 "u1-$B-t5@e2e.test" $R1
	e2e_eq "$B-t5: swaks exit code" "$?" 0
	delivered "$B-t5" "u1-$B-t5@e2e.test"
	e2e_eq "$B-t5: same milter process" "$(e2e_milter_pid "$B-main")" "$p"
	used "$B-t5" "$cfg" "$(u u1)" 4

	# ---- 2. multi-recipient accounting
	e2e_note "$B 2a. counting_recipients = true, quota 5, margin 0"
	send "$B-t2a-1" $P_MAIN u2 "u2-$B-t2a-1@e2e.test" $R1 $R2 $R3
	e2e_eq "$B-t2a-1: swaks exit code" "$?" 0
	delivered "$B-t2a-1" "u2-$B-t2a-1@e2e.test" 3
	used "$B-t2a-1" "$cfg" "$(u u2)" 3
	send "$B-t2a-2" $P_MAIN u2 "u2-$B-t2a-2@e2e.test" $R1 $R2 $R3
	e2e_eq "$B-t2a-2: swaks exit code (some recipients accepted)" "$?" 0
	e2e_eq "$B-t2a-2: replies to the three RCPTs" \
		"$(e2e_replies "$O/$B-t2a-2" "RCPT TO" | cut -c1-3 | tr '\n' ' ')" "250 250 554 "
	e2e_eq "$B-t2a-2: the third RCPT got the quota reply" \
		"$(e2e_replies "$O/$B-t2a-2" "RCPT TO" | sed -n 3p)" "$QUOTA_REPLY"
	delivered "$B-t2a-2" "u2-$B-t2a-2@e2e.test" 2
	used "$B-t2a-2" "$cfg" "$(u u2)" 5 0

	e2e_note "$B 2b. counting_recipients = false"
	send "$B-t2b" $P_NOCOUNT u3 "u3-$B-t2b@e2e.test" $R1 $R2 $R3
	e2e_eq "$B-t2b: swaks exit code" "$?" 0
	delivered "$B-t2b" "u3-$B-t2b@e2e.test" 3
	used "$B-t2b" "$cfg" "$(u u3)" 1 0

	e2e_note "$B 2c. margin = 2, quota 4"
	send "$B-t2c-1" $P_MARGIN u4 "u4-$B-t2c-1@e2e.test" $R1 $R2 $R3
	e2e_eq "$B-t2c-1: swaks exit code" "$?" 0
	delivered "$B-t2c-1" "u4-$B-t2c-1@e2e.test" 3
	used "$B-t2c-1" "$cfg" "$(u u4)" 3
	send "$B-t2c-2" $P_MARGIN u4 "u4-$B-t2c-2@e2e.test" $R1 $R2 $R3
	e2e_eq "$B-t2c-2: swaks exit code" "$?" 0
	e2e_eq "$B-t2c-2: all three RCPTs accepted (3 + 3 <= 4 + 2)" \
		"$(e2e_replies "$O/$B-t2c-2" "RCPT TO" | cut -c1-3 | tr '\n' ' ')" "250 250 250 "
	delivered "$B-t2c-2" "u4-$B-t2c-2@e2e.test" 3
	used "$B-t2c-2" "$cfg" "$(u u4)" 6
	send "$B-t2c-3" $P_MARGIN u4 "u4-$B-t2c-3@e2e.test" $R1 $R2
	rc=$?
	rcpt_refused "$B-t2c-3" "u4-$B-t2c-3@e2e.test" "$rc" "$(e2e_milter_log "$B-margin")" 2
	used "$B-t2c-3" "$cfg" "$(u u4)" 6 0

	# ---- 3. aborted transactions
	# Postfix (3.7) does not flush the milter ABORT of an RSET by itself: the milter gets it
	# with Postfix's next milter command (the next MAIL, or the close at QUIT), so the
	# reservation is checked at those points.
	e2e_note "$B 3. RSET, QUIT and a dropped connection after RCPT"
	from=u5-$B-t3@e2e.test
	if e2e_smtp_open "$O/$B-t3" $P_MAIN && e2e_smtp_cmd "EHLO client.e2e.test" 250 &&
	   e2e_smtp_auth "$(u u5)" u5pw && e2e_smtp_cmd "MAIL FROM:<$from>" 250 &&
	   e2e_smtp_cmd "RCPT TO:<$R1>" 250 && e2e_smtp_cmd "RCPT TO:<$R2>" 250; then
		e2e_ok "$B-t3: MAIL and two RCPTs accepted"
		used "$B-t3 in the transaction" "$cfg" "$(u u5)" 0 2
		e2e_check "$B-t3: RSET answered 250" e2e_smtp_cmd RSET 250
		if e2e_smtp_cmd "MAIL FROM:<$from>" 250 && e2e_smtp_cmd "RCPT TO:<$R1>" 250; then
			e2e_ok "$B-t3: after RSET, MAIL and one RCPT accepted"
		else
			e2e_notok "$B-t3: after RSET, MAIL and one RCPT accepted" "got '$E2E_REPLY'"
		fi
		used "$B-t3 after RSET + MAIL + RCPT: the 2 of the reset transaction gone" \
			"$cfg" "$(u u5)" 0 1
		e2e_check "$B-t3: QUIT answered 221" e2e_smtp_cmd QUIT 221
	else
		e2e_notok "$B-t3: MAIL and two RCPTs accepted" "got '$E2E_REPLY'" "$(cat "$O/$B-t3")"
	fi
	e2e_smtp_close
	e2e_eq "$B-t3 after QUIT: reservation released" \
		"$(e2e_wait_usage 5 "$cfg" "$(u u5)" reserved 0)" 0
	used "$B-t3 after QUIT" "$cfg" "$(u u5)" 0
	if e2e_smtp_open "$O/$B-t3d" $P_MAIN && e2e_smtp_cmd "EHLO client.e2e.test" 250 &&
	   e2e_smtp_auth "$(u u5)" u5pw && e2e_smtp_cmd "MAIL FROM:<$from>" 250 &&
	   e2e_smtp_cmd "RCPT TO:<$R1>" 250 && e2e_smtp_cmd "RCPT TO:<$R2>" 250 &&
	   e2e_smtp_cmd "RCPT TO:<$R3>" 250; then
		e2e_eq "$B-t3 dropped: 3 reserved while open" "$(e2e_usage "$cfg" "$(u u5)" reserved)" 3
	else
		e2e_notok "$B-t3 dropped: MAIL and RCPTs accepted" "got '$E2E_REPLY'"
	fi
	e2e_smtp_close
	e2e_eq "$B-t3 after a dropped connection: reservation released" \
		"$(e2e_wait_usage 5 "$cfg" "$(u u5)" reserved 0)" 0
	used "$B-t3 after a dropped connection" "$cfg" "$(u u5)" 0
	send "$B-t3s" $P_MAIN u5 "u5-$B-t3s@e2e.test" $R1
	e2e_eq "$B-t3s: then a whole message: swaks exit code" "$?" 0
	delivered "$B-t3s" "u5-$B-t3s@e2e.test"
	used "$B-t3s" "$cfg" "$(u u5)" 1 0

	# ---- 4. commit at end of message
	e2e_note "$B 4. quota.commit = eom"
	send "$B-t4" $P_EOM u6 "u6-$B-t4@e2e.test" $R1 $R2
	e2e_eq "$B-t4: swaks exit code" "$?" 0
	delivered "$B-t4" "u6-$B-t4@e2e.test" 2
	used "$B-t4" "$cfg" "$(u u6)" 2 0
	e2e_eq "$B-t4: the milter accepted at EOM" \
		"$(e2e_log_count "$(e2e_milter_log "$B-eom")" "accept: EOM" "from=<u6-$B-t4@e2e.test>")" 1

	# ---- 7. unknown user, SDA off
	e2e_note "$B 7. authenticated but unknown user, policies = [ quota ]"
	send "$B-t7" $P_NOSDA mallory "mallory-$B-t7@e2e.test" $R1
	rc=$?
	e2e_eq "$B-t7: swaks exit code (23 = MAIL refused)" "$rc" 23
	e2e_eq "$B-t7: reply to MAIL FROM" "$(e2e_reply "$O/$B-t7" "MAIL FROM")" "$UNKNOWN_REPLY"
	e2e_check "$B-t7: the milter logged the reject with policy=quota" \
		e2e_wait_file "$(e2e_milter_log "$B-nosda")" \
		"reject: MAIL.*user=<mallory@e2e.test>.*from=<mallory-$B-t7@e2e.test>.*policy=quota" 5

	# ---- 8. two milter processes, one store, concurrent senders
	e2e_note "$B 8. quota 10, 16 concurrent messages through two milters"
	pids=()
	t0=$SECONDS
	for i in $(seq 1 16); do
		p=$P_MAIN
		[ $((i % 2)) = 0 ] && p=$P_TWIN
		send "$B-t8-$i" $p u7 "u7-$B-t8-$i@e2e.test" $R1 &
		pids+=($!)
	done
	if e2e_wait_gone 60 "${pids[@]}"; then
		e2e_ok "$B-t8: all 16 sessions ended ($((SECONDS - t0)) s)"
	else
		e2e_notok "$B-t8: all 16 sessions ended within 60 s"
		for p in "${pids[@]}"; do e2e_is "$p" bash && kill "$p" 2>/dev/null; done
	fi
	wait "${pids[@]}" 2>/dev/null
	n=0 m=0
	for i in $(seq 1 16); do
		[ "$(e2e_reply "$O/$B-t8-$i" . | cut -c1-3)" = 250 ] && n=$((n + 1))
		[ "$(e2e_reply "$O/$B-t8-$i" "RCPT TO")" = "$QUOTA_REPLY" ] && m=$((m + 1))
	done
	e2e_eq "$B-t8: 250 after DATA for exactly 10 sessions" "$n" 10
	e2e_eq "$B-t8: the quota reply at RCPT for the other 6" "$m" 6
	n=0
	for ((i = 0; i <= 300; i++)); do
		n=0
		for f in "$D"/sink/msg.*; do
			grep -qE "^X-Mail-Args: <u7-$B-t8-[0-9]+@e2e\\.test>" "$f" 2>/dev/null && n=$((n + 1))
		done
		[ "$n" -ge 10 ] && break
		sleep 0.05
	done
	e2e_eq "$B-t8: exactly 10 messages reached the sink" "$n" 10
	used "$B-t8" "$cfg" "$(u u7)" 10 0
	for m in main twin; do
		n=$(e2e_log_count "$(e2e_milter_log "$B-$m")" "accept: DATA" "user=<$(u u7)>")
		if [ "$n" -ge 2 ]; then
			e2e_ok "$B-t8: milter $m accepted some ($n)"
		else
			e2e_notok "$B-t8: milter $m accepted at least 2" "got $n"
		fi
	done

	# ---- end of the pass
	for f in "u1-$B-t1-4" "u1-$B-t6" "u1-$B-t6k" "u4-$B-t2c-3" "mallory-$B-t7"; do
		e2e_eq "$B: nothing from <$f@e2e.test> reached the sink" \
			"$(e2e_sink_count "$f@e2e.test")" 0
	done
	for m in $MILTERS; do e2e_milter_term "$B-$m"; done
	PASSES+=("$B")
}

# finish - reap the milters of every pass, check their exits and logs, print the summary
finish()
{
	local names=() B m
	for B in "${PASSES[@]}"; do for m in $MILTERS; do names+=("$B-$m"); done; done
	[ ${#names[@]} -gt 0 ] || e2e_finish
	e2e_milter_reap 15 "${names[@]}"
	e2e_eq "every milter exited within 15 s of SIGTERM" "$?" 0
	e2e_redis_stop quota
	for m in "${names[@]}"; do
		e2e_eq "milter $m exit status" "${E2E_MILTER_RC[$m]}" 0
		e2e_check "milter $m log free of sanitizer reports" \
			e2e_sanitizer_clean "$(e2e_milter_log "$m")"
	done
	e2e_check "chapps-cli stderr free of sanitizer reports" e2e_sanitizer_clean "$D/log/cli.err"
	e2e_note "elapsed $((SECONDS - T_START)) s"
	e2e_finish
}

PASSES=()
case " ${E2E_PASSES:-lmdb redis} " in *" lmdb "*) run_pass lmdb "lmdb:$D/lmdb/state" 0 ;; esac
if [[ " ${E2E_PASSES:-lmdb redis} " != *" redis "* ]]; then
	:
elif e2e_need_redis; then
	if e2e_redis_start quota $REDIS_PORT; then
		run_pass redis "redis:$REDIS_PORT" 6
	else
		e2e_notok "redis-server starts on $REDIS_PORT"
	fi
else
	e2e_note "SKIP the Redis pass: redis-server not installed"
fi

finish

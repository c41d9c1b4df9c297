#!/usr/bin/env bash
# t-limits.sh - end-to-end tests of issue 10's limits through a real Postfix with Cyrus SASL
# on loopback, relaying to smtp-sink; quotas, limits, domain defaults and pools made with
# chapps-cli.  Short windows stand for the hour and the day: a quota of 1000 (the CHAPPS
# number) with the limits "3 messages per 8 seconds" and "5 messages per minute":
#
#   1. three single-recipient messages pass; the fourth is refused at RCPT with
#      "554 5.7.1 Rejected - outbound quota fulfilled (3 messages per 8 seconds)", and the
#      refusal left no trace in the other limits (show --quota --json: the minute's use is 3)
#   2. once the 8 s limit has room again (polled with show --quota --json), two more pass and
#      the sixth is refused by the minute's limit: "... (5 messages per minute)"
#   3. a domain pool of 2 shared by two users of a domain's default quota: the third message
#      of the domain is refused with "... (2 messages per day, pool of pool.e2e.test)"
#   4. the null sender is not counted (quota.count_null_sender = false)
#   5. chapps-cli top: the heaviest sender first, the pool as pool:DOMAIN
#   6. bytes counted for real (issue 10): with max_message_bytes 2000 a message of about 5 kB
#      (swaks sends no SIZE=) is refused after DATA naming the cap; a small one passes and
#      its bytes limit counts at least its body
#
# Everything runs twice: on LMDB and on Redis (E2E_PASSES="lmdb" or "redis" for one; the
# Redis pass is skipped without redis-server).  Needs root, postfix, saslpasswd2, smtp-sink
# and swaks (exit 77 otherwise).  Ports (127.0.0.1): smtpd 16670-16671, milters 16674-16675,
# Redis 16679, sink 16686.  Prints "ok N - ..." lines and "N passed, M failed".

E2E_SINK_PORT=${E2E_SINK_PORT:-16686}
# shellcheck disable=SC2034
E2E_USERS="burst:burstpw p1@pool.e2e.test:p1pw p2@pool.e2e.test:p2pw big:bigpw"
. "$(dirname "$0")/lib.sh" || exit 99

e2e_init
e2e_need_milter
e2e_need_cli
D=$E2E_DIR
O=$D/out
REDIS_PORT=16679
QUOTA_REPLY="554 5.7.1 Rejected - outbound quota fulfilled"
R1=rcpt1@example.net

e2e_note "chapps-milter: $CHAPPS_MILTER; chapps-cli: $CHAPPS_CLI; work dir: $D"
T_START=$SECONDS
e2e_listener 16670 "inet:127.0.0.1:16674" tempfail
e2e_listener 16671 "inet:127.0.0.1:16675" tempfail
e2e_postfix_up

# send TAG PORT USER FROM - AUTH PLAIN submission of one message to R1 (USER's password is
# its local part + "pw"); swaks' exit code
send() { local u=$3; [[ $u == *@* ]] || u=$u@e2e.test; e2e_send_plain "$O/$1" "$2" "$u" "${3%@*}pw" "$4" "$R1"; }

# passes TAG PORT USER FROM - sent, 250 after DATA, at the sink
passes()
{
	send "$@"
	e2e_eq "$1: swaks exit code" "$?" 0
	e2e_eq "$1: 250 after DATA" "$(e2e_reply "$O/$1" . | cut -c1-3)" 250
	e2e_check "$1: reached the sink" e2e_wait_sink "$4" 1 15
}

# refused TAG PORT USER FROM REPLY - the RCPT refused with REPLY, nothing at the sink
refused()
{
	send "$1" "$2" "$3" "$4"
	e2e_eq "$1: swaks exit code (24 = every RCPT refused)" "$?" 24
	e2e_eq "$1: reply to RCPT" "$(e2e_replies "$O/$1" "RCPT TO")" "$5"
	REFUSED+=("$4")
}

# limit_field CONF USER ID FIELD - FIELD (use, room, ...) of the user's limit ID in
# show --quota --json
limit_field()
{
	e2e_cli "$1" --json show "$2" --quota | grep -o "{\"id\":$3,\"pool\":false[^}]*}" |
		sed -n "s/.*\"$4\":\\(-\\{0,1\\}[0-9]*\\).*/\\1/p"
}

# run_pass B STORE MILTER_PORT SMTPD_PORT - the tests on STORE (lmdb:PATH or redis:PORT)
run_pass()
{
	local B=$1 store=$2 mport=$3 P=$4 dir=$D/$1 cfg i fails=$E2E_FAIL t0 room used
	mkdir -p "$dir"
	cfg=$dir/limits.conf
	e2e_note "==== pass $B: store $store"
	e2e_policy_conf "$cfg" "inet:$mport@127.0.0.1" "$store" "$dir/policy.db" '"quota"' \
		'quota: { margin = 0; counting_recipients = false; };'
	e2e_check "$B: chapps-cli admin db-setup" e2e_cliq "$cfg" admin db-setup
	rc=0
	for c in "quota add q1000 1000" "limit add q1000 messages 8 3" \
		 "limit add q1000 messages 60 5" "user add burst@e2e.test --quota q1000" \
		 "quota add mailbox 10" "quota add pool2 2" "domain add pool.e2e.test" \
		 "domain quota pool.e2e.test mailbox" "domain quota pool.e2e.test pool2 --pool" \
		 "quota add qbig 1001" "limit add qbig max_message_bytes message 2000" \
		 "limit add qbig bytes 1d 100000" "user add big@e2e.test --quota qbig"; do
		# shellcheck disable=SC2086
		e2e_cliq "$cfg" $c || rc=1
	done
	e2e_eq "$B: chapps-cli made the quotas, limits, domain default and pool" "$rc" 0
	e2e_eq "$B: limit list q1000" "$(e2e_cli "$cfg" limit list q1000 | awk 'NR > 1 { print $2 "/" $3 "/" $4 }' | tr '\n' ' ')" \
		"messages/86400/1000 messages/8/3 messages/60/5 "
	e2e_check "$B: chapps-milter starts" e2e_milter_up "$B" "$cfg"
	[ "$E2E_FAIL" = "$fails" ] || e2e_bail "$B: setup failed"

	# ---- 1. the short limit first
	e2e_note "$B 1. three messages pass, the fourth is refused by 3 per 8 seconds"
	t0=$SECONDS
	for i in 1 2 3; do passes "$B-l1-$i" "$P" burst "burst-$B-l1-$i@e2e.test"; done
	refused "$B-l1-4" "$P" burst "burst-$B-l1-4@e2e.test" \
		"$QUOTA_REPLY (3 messages per 8 seconds)"
	e2e_eq "$B-l1: the 8 s limit: use 3" "$(limit_field "$cfg" burst@e2e.test 1 use)" 3
	e2e_eq "$B-l1: the minute's limit: use 3 (the refusal left no trace)" \
		"$(limit_field "$cfg" burst@e2e.test 2 use)" 3
	e2e_eq "$B-l1: the quota's own number: used 3" "$(e2e_usage "$cfg" burst@e2e.test used)" 3
	e2e_check "$B-l1: the milter logged the refusal naming the limit" \
		e2e_wait_file "$(e2e_milter_log "$B")" "reject: RCPT.*refused by 3 messages per 8 seconds" 5

	# ---- 2. then the longer one
	e2e_note "$B 2. when the 8 s window has room, two more pass, then 5 per minute refuses"
	room=0
	for ((i = 0; i < 200; i++)); do
		room=$(limit_field "$cfg" burst@e2e.test 1 room)
		[ "${room:-0}" -ge 3 ] && break
		sleep 0.1
	done
	e2e_eq "$B-l2: the 8 s limit is empty again" "$([ "${room:-0}" -ge 3 ] && echo yes)" yes
	passes "$B-l2-1" "$P" burst "burst-$B-l2-1@e2e.test"
	passes "$B-l2-2" "$P" burst "burst-$B-l2-2@e2e.test"
	refused "$B-l2-3" "$P" burst "burst-$B-l2-3@e2e.test" "$QUOTA_REPLY (5 messages per minute)"
	e2e_eq "$B-l2: all of it within the minute" "$([ $((SECONDS - t0)) -lt 55 ] && echo yes)" yes
	e2e_eq "$B-l2: the minute's limit: use 5" "$(limit_field "$cfg" burst@e2e.test 2 use)" 5

	# ---- 3. domain default and pool
	e2e_note "$B 3. two users of a domain with a pool of 2"
	passes "$B-l3-1" "$P" p1@pool.e2e.test "p1-$B-l3@pool.e2e.test"
	passes "$B-l3-2" "$P" p2@pool.e2e.test "p2-$B-l3@pool.e2e.test"
	refused "$B-l3-3" "$P" p1@pool.e2e.test "p1-$B-l3-3@pool.e2e.test" \
		"$QUOTA_REPLY (2 messages per day, pool of pool.e2e.test)"

	# ---- 4. the null sender
	e2e_note "$B 4. the null sender is not counted"
	send "$B-l4" "$P" p2@pool.e2e.test "<>"
	e2e_eq "$B-l4: <> passes although the pool is full" "$(e2e_reply "$O/$B-l4" . | cut -c1-3)" 250

	# ---- 5. the heaviest senders
	e2e_note "$B 5. chapps-cli top"
	e2e_eq "$B-l5: top --limit 1: burst with its 5 messages" \
		"$(e2e_cli "$cfg" top --limit 1 | awk 'NR > 1 { print $1 "=" $2 }' | tr '\n' ' ')" \
		"burst@e2e.test=5 "
	e2e_eq "$B-l5: top --json lists the pool as pool:DOMAIN with 2" \
		"$(e2e_cli "$cfg" --json top | grep -o '{"owner":"pool:pool.e2e.test","committed":[0-9]*}')" \
		'{"owner":"pool:pool.e2e.test","committed":2}'

	# ---- 6. the real size
	e2e_note "$B 6. max_message_bytes on the real size, the bytes limit counts it"
	e2e_swaks "$O/$B-l6-1" "$P" --auth PLAIN --auth-user big@e2e.test --auth-password bigpw \
		--from "big-$B-l6-1@e2e.test" --to "$R1" --body "$(printf '%.0sbig body line\n' {1..400})"
	e2e_eq "$B-l6-1: 5 kB without SIZE=: refused after DATA naming the cap" \
		"$(e2e_reply "$O/$B-l6-1" .)" "$QUOTA_REPLY (2000 bytes per message)"
	REFUSED+=("big-$B-l6-1@e2e.test")
	e2e_eq "$B-l6-1: nothing counted" "$(limit_field "$cfg" big@e2e.test 4 use)" 0
	e2e_swaks "$O/$B-l6-2" "$P" --auth PLAIN --auth-user big@e2e.test --auth-password bigpw \
		--from "big-$B-l6-2@e2e.test" --to "$R1" --body "$(printf '%.0ssmall body\n' {1..20})"
	e2e_eq "$B-l6-2: a small message: 250 after DATA" "$(e2e_reply "$O/$B-l6-2" . | cut -c1-3)" 250
	e2e_check "$B-l6-2: reached the sink" e2e_wait_sink "big-$B-l6-2@e2e.test" 1 15
	used=$(limit_field "$cfg" big@e2e.test 4 use)
	e2e_eq "$B-l6-2: the bytes limit counts headers and body ($used: 240 < used < 2000)" \
		"$([ "${used:-0}" -gt 240 ] && [ "${used:-0}" -lt 2000 ] && echo yes)" yes

	for f in "${REFUSED[@]}"; do
		e2e_eq "$B: nothing from <$f> reached the sink" "$(e2e_sink_count "$f")" 0
	done
	REFUSED=()
	e2e_milter_term "$B"
	PASSES+=("$B")
}

REFUSED=()
PASSES=()
case " ${E2E_PASSES:-lmdb redis} " in *" lmdb "*) run_pass lmdb "lmdb:$D/lmdb/state" 16674 16670 ;; esac
if [[ " ${E2E_PASSES:-lmdb redis} " != *" redis "* ]]; then
	:
elif e2e_need_redis; then
	if e2e_redis_start limits $REDIS_PORT; then
		run_pass redis "redis:$REDIS_PORT" 16675 16671
	else
		e2e_notok "redis-server starts on $REDIS_PORT"
	fi
else
	e2e_note "SKIP the Redis pass: redis-server not installed"
fi

if [ ${#PASSES[@]} -gt 0 ]; then
	e2e_milter_reap 15 "${PASSES[@]}"
	e2e_eq "every milter exited within 15 s of SIGTERM" "$?" 0
fi
e2e_redis_stop limits
for m in "${PASSES[@]}"; do
	e2e_eq "milter $m exit status" "${E2E_MILTER_RC[$m]}" 0
	e2e_check "milter $m log free of sanitizer reports" e2e_sanitizer_clean "$(e2e_milter_log "$m")"
done
e2e_check "chapps-cli stderr free of sanitizer reports" e2e_sanitizer_clean "$D/log/cli.err"
e2e_note "elapsed $((SECONDS - T_START)) s"
e2e_finish

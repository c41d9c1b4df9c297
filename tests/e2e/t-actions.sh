#!/usr/bin/env bash
# t-actions.sh - end-to-end tests of issue 11's actions and monitor mode through a real
# Postfix with Cyrus SASL on loopback, relaying to smtp-sink; quotas and users made with
# chapps-cli, on the LMDB store:
#
#   1. quota.action = "quarantine", quota 1: the first message is delivered; the second is
#      accepted (250 after DATA) but held: `postqueue -j` shows it in the hold queue, Postfix
#      logs "milter-hold" (Postfix keeps no reason: chapps-milter's hold line, keyed by the
#      same queue id, names user and limit), nothing reaches the sink and the held message
#      counts nothing; `postsuper -r` releases it and it is delivered
#   2. quota.action = "lock", lock.after = 2, two milter processes on one store behind two
#      listeners: a refused message through each (two connections, two processes) locks the
#      user; the next message is refused at MAIL FROM with "554 5.7.1 Rejected - account
#      locked" through both (the lock alert logged, and posted by milter B to a webhook
#      receiver the test runs on 127.0.0.1, signed with HMAC-SHA256); `chapps-cli unlock`
#      lets MAIL FROM through again at once
#   3. quota.mode and sender_domain_auth.mode = "monitor", quota 1: a message from another
#      domain to 3 recipients is delivered to all 3; chapps-milter logs each would-be refusal
#      ("would reject", MAIL and 2 RCPTs) and Postfix no milter-reject; only 1 recipient is
#      counted.  Then the configuration says "enforce" and SIGUSR1 reloads it: refused
#
# Needs root, postfix, saslpasswd2, smtp-sink and swaks (exit 77 otherwise).  Ports
# (127.0.0.1): smtpd 16900-16903, milters 16904-16907, sink 16909, milter B's webhook
# 16910.  Prints "ok N - ..." lines and "N passed, M failed"; exits 1 on failure.

E2E_SINK_PORT=${E2E_SINK_PORT:-16909}
# shellcheck disable=SC2034
E2E_USERS="holder:holderpw locker:lockerpw watcher:watcherpw"
. "$(dirname "$0")/lib.sh" || exit 99

e2e_init
e2e_need_milter
e2e_need_cli
D=$E2E_DIR
O=$D/out
QUOTA_REPLY="554 5.7.1 Rejected - outbound quota fulfilled"
LOCK_REPLY="554 5.7.1 Rejected - account locked"
R1=rcpt1@example.net
R2=rcpt2@example.net
R3=rcpt3@example.net

P_HOLD=16900 P_LOCKA=16901 P_LOCKB=16902 P_MON=16903
M_HOLD=16904 M_LOCKA=16905 M_LOCKB=16906 M_MON=16907
HOOK=16910	# milter B's webhook receiver

e2e_note "chapps-milter: $CHAPPS_MILTER; chapps-cli: $CHAPPS_CLI; work dir: $D"
T_START=$SECONDS
e2e_listener $P_HOLD "inet:127.0.0.1:$M_HOLD" tempfail
e2e_listener $P_LOCKA "inet:127.0.0.1:$M_LOCKA" tempfail
e2e_listener $P_LOCKB "inet:127.0.0.1:$M_LOCKB" tempfail
e2e_listener $P_MON "inet:127.0.0.1:$M_MON" tempfail
e2e_postfix_up

# send TAG PORT USER FROM RCPT... - AUTH PLAIN submission of one message, transcript $O/TAG;
# returns swaks' exit code
send()
{
	local tag=$1 port=$2 user=$3 from=$4 to; shift 4
	to=$(IFS=,; echo "$*")
	e2e_send_plain "$O/$tag" "$port" "$user@e2e.test" "${user}pw" "$from" "$to"
}

# delivered TAG FROM [NRCPT] - 250 after DATA and the message (with NRCPT recipients) at the sink
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

# queue_json ID - the `postqueue -j` line of queue id ID
queue_json() { postqueue -c "$D/etc" -j 2>/dev/null | grep -F "\"queue_id\": \"$1\""; }

# policy ROLE STORE DB EXTRA... - a config with outbound SDA + quota on LMDB STORE
policy()
{
	local file=$D/$1.conf sock=$2 store=$3 db=$4
	shift 4
	e2e_policy_conf "$file" "$sock" "lmdb:$store" "$db" '"sender_domain_auth", "quota"' "$@"
}

policy hold "inet:$M_HOLD@127.0.0.1" "$D/hold-state" "$D/hold.db" \
	'quota: { margin = 0; action = "quarantine"; };'
policy locka "inet:$M_LOCKA@127.0.0.1" "$D/lock-state" "$D/lock.db" \
	'quota: { margin = 0; action = "lock"; };' 'lock: { after = 2; window = 3600; };'
policy lockb "inet:$M_LOCKB@127.0.0.1" "$D/lock-state" "$D/lock.db" \
	'quota: { margin = 0; action = "lock"; };' 'lock: { after = 2; window = 3600; };' \
	"alerts: { webhook_url = \"http://127.0.0.1:$HOOK/hook\"; webhook_secret = \"s3cret\"; };"

# milter B's webhook: a receiver on 127.0.0.1 that keeps each POST's body and whether its
# X-Chapps-Signature is the HMAC-SHA256 of the body with the secret (hook-N.json, hook-N.sig)
cat > "$D/hook.py" <<'PY'
import hashlib, hmac, http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        want = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
        H.n += 1
        base = "%s/hook-%d" % (sys.argv[2], H.n)
        with open(base + ".json", "wb") as f:
            f.write(body + b"\n")
        with open(base + ".sig", "w") as f:
            f.write("ok\n" if self.headers.get("X-Chapps-Signature") == want else "bad\n")
        self.send_response(204)
        self.end_headers()
    def log_message(self, *a):
        pass
socketserver.TCPServer.allow_reuse_address = True
socketserver.TCPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$D/hook.py" $HOOK "$D" &
HOOK_PID=$!

# hook_wait KIND TEXT - a POST of kind KIND holding TEXT reached the receiver (within 5 s:
# delivery is the sender thread's, after the decision)
hook_wait()
{
	local i f
	for ((i = 0; i <= 100; i++)); do
		for f in $(grep -lF "\"kind\":\"$1\"" "$D"/hook-*.json 2>/dev/null); do
			grep -qF -- "$2" "$f" && return 0
		done
		sleep 0.05
	done
	return 1
}
policy mon "inet:$M_MON@127.0.0.1" "$D/mon-state" "$D/mon.db" \
	'quota: { margin = 0; mode = "monitor"; };' 'sender_domain_auth: { mode = "monitor"; };'

# the administrator's part: one database per arrangement, quota q1 = 1 for its user
rc=0
for p in hold:holder locka:locker mon:watcher; do
	cfg=$D/${p%:*}.conf
	e2e_cliq "$cfg" admin db-setup || rc=1
	e2e_cliq "$cfg" quota add q1 1 || rc=1
	e2e_cliq "$cfg" quota add q10 10 || rc=1
	e2e_cliq "$cfg" user add "${p#*:}@e2e.test" --quota q1 || rc=1
	e2e_cliq "$cfg" allow "${p#*:}@e2e.test" e2e.test --create || rc=1
done
e2e_eq "chapps-cli made the databases, quotas and users" "$rc" 0
for m in hold locka lockb mon; do
	e2e_check "chapps-milter $m starts" e2e_milter_up "$m" "$D/$m.conf"
done
[ "$E2E_FAIL" = 0 ] || e2e_bail "setup failed"

# ---- 1. quarantine ----------------------------------------------------------------------

e2e_note "1. quota.action = quarantine, quota 1"
log=$(e2e_milter_log hold)
send t1-1 $P_HOLD holder holder-t1-1@e2e.test $R1
e2e_eq "t1-1: swaks exit code" "$?" 0
delivered t1-1 holder-t1-1@e2e.test
send t1-2 $P_HOLD holder holder-t1-2@e2e.test $R1 $R2
e2e_eq "t1-2: swaks exit code (accepted)" "$?" 0
e2e_eq "t1-2: 250 after DATA" "$(e2e_reply "$O/t1-2" . | cut -c1-3)" 250
qid=$(e2e_queue_id "$O/t1-2")
e2e_check "t1-2: Postfix gave a queue id ($qid)" test -n "$qid"
e2e_check "t1-2: maillog shows milter-hold for $qid" e2e_wait_maillog \
	"$qid: milter-hold: END-OF-MESSAGE from [^ ]*: milter triggers HOLD action; from=<holder-t1-2@e2e\.test>" 10
e2e_check "t1-2: postqueue -j shows $qid in the hold queue" \
	bash -c "postqueue -c '$D/etc' -j | grep -F '\"queue_id\": \"$qid\"' | grep -qF '\"queue_name\": \"hold\"'"
e2e_eq "t1-2: postqueue -j lists both recipients" \
	"$(queue_json "$qid" | grep -o '"address": "[^"]*"' | tr '\n' ' ')" \
	"\"address\": \"$R1\" \"address\": \"$R2\" "
e2e_check "t1-2: chapps-milter's hold line has the queue id and names user and limit" \
	e2e_wait_file "$log" "$qid: hold: EOM from [^ ]*: user=<holder@e2e\.test> from=<holder-t1-2@e2e\.test> policy=quota key=sasl_username chapps: holder@e2e\.test over 1 recipients per day$" 5
e2e_eq "t1-2: nothing reached the sink" "$(e2e_sink_count holder-t1-2@e2e.test)" 0
e2e_check "t1-2: the refusal alert is logged" e2e_wait_file "$log" \
	'alert: kind=refusal user=<holder@e2e\.test> limit="1 recipients per day" used=1 max=1 client=127\.0\.0\.1 ' 5
e2e_eq "t1-2: the held message counts nothing (used 1, reserved 0)" \
	"$(e2e_usage "$D/hold.conf" holder@e2e.test used) $(e2e_usage "$D/hold.conf" holder@e2e.test reserved)" "1 0"
e2e_check "t1-2: postsuper -r $qid releases it" postsuper -c "$D/etc" -r "$qid"
# the released message waits in maildrop for pickup's next scan (up to 60 s): wake it now
postkick -c "$D/etc" public pickup W
if e2e_wait_sink holder-t1-2@e2e.test 1 20; then
	e2e_eq "t1-2: released, it reached the sink with 2 recipients" \
		"$(e2e_sink_rcpts holder-t1-2@e2e.test)" 2
else
	e2e_notok "t1-2: released, it reached the sink" "$(postqueue -c "$D/etc" -j)"
fi
e2e_eq "t1-2: the release counted nothing either" "$(e2e_usage "$D/hold.conf" holder@e2e.test used)" 1

# ---- 2. lock after 2 refused messages, two processes ---------------------------------------

e2e_note "2. quota.action = lock, lock.after = 2, two milter processes on one store"
loga=$(e2e_milter_log locka)
logb=$(e2e_milter_log lockb)
send t2-1 $P_LOCKA locker locker-t2-1@e2e.test $R1
e2e_eq "t2-1: swaks exit code" "$?" 0
delivered t2-1 locker-t2-1@e2e.test
send t2-2 $P_LOCKA locker locker-t2-2@e2e.test $R1 $R2
e2e_eq "t2-2 (milter A): every RCPT refused (swaks 24)" "$?" 24
e2e_eq "t2-2: RCPT replies" "$(e2e_replies "$O/t2-2" "RCPT TO" | sort -u)" "$QUOTA_REPLY"
e2e_check "t2-2: milter A counted one strike for the message" \
	e2e_wait_file "$loga" "reject: RCPT .*from=<locker-t2-2@e2e\.test> .*strikes=1$" 5
send t2-3 $P_LOCKB locker locker-t2-3@e2e.test $R1
e2e_eq "t2-3 (milter B, another process): RCPT refused" "$?" 24
e2e_check "t2-3: milter B's strike locked the user" \
	e2e_wait_file "$logb" "reject: RCPT .*from=<locker-t2-3@e2e\.test> .*strikes=2 locked$" 5
e2e_check "t2-3: milter B posted the lock alert" e2e_wait_file "$logb" \
	'alert: kind=lock user=<locker@e2e\.test> limit="1 recipients per day" used=2 max=2 ' 5
e2e_check "t2-3: the webhook received the lock event of locker@e2e.test" hook_wait lock \
	'"user":"locker@e2e.test"'
e2e_eq "t2-3: every webhook POST is signed with the secret" \
	"$(cat "$D"/hook-*.sig 2>/dev/null | sort -u)" ok
e2e_check "t2: chapps-cli locked lists locker@e2e.test" \
	bash -c "'$CHAPPS_CLI' -c '$D/locka.conf' locked | grep -qF locker@e2e.test"
for via in A:$P_LOCKA B:$P_LOCKB; do
	send "t2-4${via%:*}" "${via#*:}" locker "locker-t2-4${via%:*}@e2e.test" $R1
	e2e_eq "t2-4${via%:*}: refused at MAIL FROM through milter ${via%:*} (swaks 23)" "$?" 23
	e2e_eq "t2-4${via%:*}: the reply is lock.reply" \
		"$(e2e_reply "$O/t2-4${via%:*}" "MAIL FROM")" "$LOCK_REPLY"
done
e2e_check "t2-4: Postfix logged milter-reject: MAIL ... account locked" e2e_wait_maillog \
	"milter-reject: MAIL from [^ ]*: ${LOCK_REPLY//./\\.}; from=<locker-t2-4B@e2e\.test>" 5
e2e_check "t2: chapps-cli unlock locker@e2e.test" e2e_cliq "$D/locka.conf" unlock locker@e2e.test
send t2-5 $P_LOCKB locker locker-t2-5@e2e.test $R1
e2e_eq "t2-5: after unlock, MAIL FROM passes through milter B (quota still spent: RCPT refused)" \
	"$(e2e_reply "$O/t2-5" "MAIL FROM" | cut -c1-3) $(e2e_reply "$O/t2-5" "RCPT TO")" \
	"250 $QUOTA_REPLY"
e2e_check "t2: chapps-cli set-quota locker@e2e.test q10 (milter A's cache flushed)" \
	e2e_cliq "$D/locka.conf" set-quota locker@e2e.test q10
for ((i = 0; i < 100; i++)); do
	grep -q "caches flushed" "$loga" && break
	sleep 0.05
done
send t2-6 $P_LOCKA locker locker-t2-6@e2e.test $R1
e2e_eq "t2-6: after unlock and a bigger quota: delivered through milter A" "$?" 0
delivered t2-6 locker-t2-6@e2e.test

# ---- 3. monitor mode -------------------------------------------------------------------------

e2e_note "3. quota.mode and sender_domain_auth.mode = monitor, quota 1"
logm=$(e2e_milter_log mon)
send t3-1 $P_MON watcher watcher-t3-1@elsewhere.test $R1 $R2 $R3
e2e_eq "t3-1: swaks exit code (everything accepted)" "$?" 0
delivered t3-1 watcher-t3-1@elsewhere.test 3
e2e_check "t3-1: would reject at MAIL (sender_domain_auth) is logged" e2e_wait_file "$logm" \
	"would reject: MAIL from [^ ]*: 554 5\.7\.1 Rejected - not allowed to send mail from this domain; user=<watcher@e2e\.test> from=<watcher-t3-1@elsewhere\.test> policy=sender_domain_auth" 5
e2e_eq "t3-1: would reject at RCPT for the 2 recipients over quota, with the queue id" \
	"$(grep -cE "^.*[0-9A-Z]{6,}: would reject: RCPT from [^ ]*: ${QUOTA_REPLY//./\\.}; user=<watcher@e2e\.test> from=<watcher-t3-1@elsewhere\.test> to=<rcpt[23]@example\.net> policy=quota " "$logm")" 2
e2e_eq "t3-1: the milter refused nothing" "$(grep -cE ': (reject|tempfail): ' "$logm")" 0
e2e_eq "t3-1: Postfix logged no milter-reject for it" \
	"$(e2e_maillog_count "milter-reject: .*from=<watcher-t3-1@elsewhere\.test>")" 0
e2e_eq "t3-1: only the recipient within quota counted (used 1)" \
	"$(e2e_usage "$D/mon.conf" watcher@e2e.test used)" 1
sed -i 's/mode = "monitor"/mode = "enforce"/' "$D/mon.conf"
n=$(e2e_log_count "$logm" "configuration reloaded")
kill -USR1 "$(e2e_milter_pid mon)"
e2e_check "t3: SIGUSR1 reloads the configuration (monitor -> enforce)" \
	e2e_log_wait_more "$logm" "$n" 5 "configuration reloaded"
send t3-2 $P_MON watcher watcher-t3-2@elsewhere.test $R1
e2e_eq "t3-2: enforce: refused at MAIL FROM (swaks 23)" "$?" 23
send t3-3 $P_MON watcher watcher-t3-3@e2e.test $R1
e2e_eq "t3-3: enforce: the recipient over quota is refused" "$(e2e_reply "$O/t3-3" "RCPT TO")" \
	"$QUOTA_REPLY"

# ---- end ------------------------------------------------------------------------------------

e2e_milter_stop 15 hold locka lockb mon
kill "$HOOK_PID" 2>/dev/null
wait "$HOOK_PID" 2>/dev/null
for m in hold locka lockb mon; do
	e2e_eq "milter $m exit status" "${E2E_MILTER_RC[$m]}" 0
	e2e_check "milter $m log free of sanitizer reports" e2e_sanitizer_clean "$(e2e_milter_log "$m")"
done
e2e_note "elapsed $((SECONDS - T_START)) s"
e2e_finish

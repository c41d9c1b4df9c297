# bench/postfix.sh - a private, loopback-only Postfix for bench/run.sh (sourced, bash)
#
# One Postfix instance under $PF_DIR with one smtpd listener per milter arrangement (each
# with its own smtpd_milters, set with master.cf -o), relaying everything to an smtp-sink
# on 127.0.0.1 that keeps nothing.  No chroot, no DNS, no local delivery, log to a file
# through postlogd, XCLIENT allowed from 127.0.0.1 (the load generator names the user with
# XCLIENT LOGIN=, which chapps sees as {auth_authen}), anvil limits and in_flow_delay off.
# Loopback clients may relay (permit_mynetworks), so the milter is the only gate.
#
#	pf_listener PORT MILTERS	declare a listener ("" = no milter; Postfix syntax)
#	pf_up DIR SINK_PORT		write the configuration, start the sink and Postfix
#	pf_drain SECS			wait until the queue is empty; false on timeout
#	pf_down				stop Postfix and the sink by PID
#
# Needs root, postfix and smtp-sink; pf_available says whether they are there.

PF_LISTENERS=()
PF_PORTS=()
PF_DIR=
PF_MASTER_PID=
PF_SINK_PID=

# pf_available - true if a private Postfix can run here
pf_available()
{
	local b
	[ "$(id -u)" = 0 ] || return 1
	for b in postfix postconf smtp-sink ss; do
		command -v "$b" >/dev/null 2>&1 || return 1
	done
	getent passwd postfix >/dev/null && getent group postdrop >/dev/null
}

# pf_alive PID - PID exists and is not a zombie
pf_alive()
{
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pf_listening PORT - something listens on 127.0.0.1:PORT
pf_listening() { [ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]; }

# pf_wait_listen SECS PORT - poll every 50 ms until PORT listens
pf_wait_listen()
{
	local i
	for ((i = 0; i <= $1 * 20; i++)); do
		pf_listening "$2" && return 0
		sleep 0.05
	done
	return 1
}

# pf_listener PORT MILTERS - an smtpd on 127.0.0.1:PORT with these smtpd_milters
pf_listener()
{
	PF_PORTS+=("$1")
	PF_LISTENERS+=("127.0.0.1:$1 inet n - n - - smtpd -o syslog_name=postfix-bench/$1 -o smtpd_milters=$2")
}

# pf_up DIR SINK_PORT - configure and start; false (with the reason on stderr) on failure
pf_up()
{
	local d=$1 sink=$2 l p i
	PF_DIR=$d
	for p in "${PF_PORTS[@]}" "$sink"; do
		pf_listening "$p" && { echo "port 127.0.0.1:$p is in use" >&2; return 1; }
	done
	mkdir -p "$d"/{etc,queue,data,log} || return 1
	chmod 755 "$d" "$d/etc" "$d/queue"
	chown postfix:postfix "$d/data" && chmod 700 "$d/data" || return 1
	cat >"$d/etc/main.cf" <<EOF
# chapps bench/postfix.sh private instance: loopback only
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-bench
maillog_file = $d/log/maillog
maillog_file_prefixes = $d
myhostname = mx.bench.test
mydomain = bench.test
myorigin = \$mydomain
mydestination =
local_recipient_maps =
local_transport = error:5.1.1 local delivery disabled
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$sink
default_transport = smtp
relay_transport = smtp
smtp_dns_support_level = disabled
smtp_host_lookup = native
smtp_tls_security_level = none
notify_classes =
biff = no
smtpd_peername_lookup = no
smtpd_banner = \$myhostname ESMTP chapps-bench
smtpd_tls_security_level = none
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_recipient_restrictions =
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_error_sleep_time = 0
in_flow_delay = 0s
smtpd_milters =
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
milter_connect_timeout = 10s
milter_command_timeout = 10s
milter_content_timeout = 30s
minimal_backoff_time = 10s
maximal_backoff_time = 60s
queue_run_delay = 10s
EOF
	{
		echo "# chapps bench: no chroot anywhere"
		for l in "${PF_LISTENERS[@]}"; do echo "$l"; done
		cat <<'EOF'
pickup     unix  n - n 60   1 pickup
cleanup    unix  n - n -    0 cleanup
qmgr       unix  n - n 300  1 qmgr
tlsmgr     unix  - - n 1000? 1 tlsmgr
rewrite    unix  - - n -    - trivial-rewrite
bounce     unix  - - n -    0 bounce
defer      unix  - - n -    0 bounce
trace      unix  - - n -    0 bounce
verify     unix  - - n -    1 verify
flush      unix  n - n 1000? 0 flush
proxymap   unix  - - n -    - proxymap
proxywrite unix  - - n -    1 proxymap
smtp       unix  - - n -    - smtp
relay      unix  - - n -    - smtp
showq      unix  n - n -    - showq
error      unix  - - n -    - error
retry      unix  - - n -    - error
discard    unix  - - n -    - discard
anvil      unix  - - n -    1 anvil
scache     unix  - - n -    1 scache
postlog    unix-dgram n - n - 1 postlogd
EOF
	} >"$d/etc/master.cf"
	touch "$d/log/maillog"
	# the sink keeps nothing (no -d): it only answers
	smtp-sink -u postfix -h sink.bench.test "127.0.0.1:$sink" 256 </dev/null \
		>"$d/log/smtp-sink.out" 2>&1 &
	PF_SINK_PID=$!
	pf_wait_listen 5 "$sink" || { echo "smtp-sink did not start" >&2; return 1; }
	postfix -c "$d/etc" check >"$d/log/check.out" 2>&1 ||
		{ cat "$d/log/check.out" >&2; return 1; }
	postfix -c "$d/etc" start >"$d/log/start.out" 2>&1 ||
		{ cat "$d/log/start.out" >&2; return 1; }
	for ((i = 0; i < 200; i++)); do
		PF_MASTER_PID=$(tr -d ' \n' <"$d/queue/pid/master.pid" 2>/dev/null)
		[ -n "$PF_MASTER_PID" ] && pf_alive "$PF_MASTER_PID" && break
		PF_MASTER_PID=
		sleep 0.05
	done
	[ -n "$PF_MASTER_PID" ] || { echo "Postfix master did not start" >&2; return 1; }
	for p in "${PF_PORTS[@]}"; do
		pf_wait_listen 10 "$p" || { echo "smtpd not listening on $p" >&2; return 1; }
	done
}

# pf_queue_count - messages in the instance's queue
pf_queue_count()
{
	find "$PF_DIR/queue/maildrop" "$PF_DIR/queue/incoming" "$PF_DIR/queue/active" \
		"$PF_DIR/queue/deferred" "$PF_DIR/queue/hold" -type f 2>/dev/null | wc -l
}

# pf_drain SECS - poll every 50 ms until the queue is empty
pf_drain()
{
	local i
	for ((i = 0; i <= $1 * 20; i++)); do
		[ "$(pf_queue_count)" -eq 0 ] && return 0
		sleep 0.05
	done
	return 1
}

# pf_down - stop the master (and its children) and the sink by PID, wait until gone
pf_down()
{
	local kids p i
	if [ -n "$PF_MASTER_PID" ] && pf_alive "$PF_MASTER_PID" &&
	   tr '\0' ' ' <"/proc/$PF_MASTER_PID/cmdline" 2>/dev/null | grep -q master; then
		kids=$(ps -o pid= --ppid "$PF_MASTER_PID" 2>/dev/null)
		kill -TERM "$PF_MASTER_PID" 2>/dev/null
		for ((i = 0; i < 200; i++)); do
			local busy=0
			for p in $PF_MASTER_PID $kids; do pf_alive "$p" && { busy=1; break; }; done
			[ $busy = 0 ] && break
			sleep 0.05
		done
	fi
	PF_MASTER_PID=
	if [ -n "$PF_SINK_PID" ] && pf_alive "$PF_SINK_PID"; then
		kill -TERM "$PF_SINK_PID" 2>/dev/null
		wait "$PF_SINK_PID" 2>/dev/null
	fi
	PF_SINK_PID=
}

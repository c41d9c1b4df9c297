# bench/postfix.sh - a private, loopback-only Postfix for bench/run.sh (sourced, bash)
#
# One Postfix instance under $PF_DIR with one smtpd listener per milter arrangement (each
# with its own smtpd_milters, set with master.cf -o), relaying everything to an smtp-sink
# on 127.0.0.1 that keeps nothing.  The instance is tests/postfix-setup.sh's, the one the
# end-to-end tests use (no chroot, no DNS, no local delivery, log to a file through
# postlogd, XCLIENT allowed from 127.0.0.1 -- the load generator names the user with
# XCLIENT LOGIN=, which chapps sees as {auth_authen} --, anvil limits and in_flow_delay
# off, loopback clients may relay, so the milter is the only gate).  With users given to
# pf_up, Cyrus SASL is configured as the end-to-end tests do it (tests/postfix-setup.sh
# pfs_sasl) and offered on the listeners declared with -o smtpd_sasl_auth_enable=yes.
#
#	pf_listener PORT MILTERS [OPT]	declare a listener ("" = no milter; Postfix syntax),
#					OPT: more master.cf -o settings
#	pf_up DIR SINK_PORT [REALM USER:PASS...]  write the configuration (and the SASL
#					users), start the sink and Postfix
#	pf_drain SECS			wait until the queue is empty; false on timeout
#	pf_down				stop Postfix and the sink by PID
#
# Needs root, postfix and smtp-sink (and saslpasswd2 for users); pf_available says whether
# they are there, pf_sasl_available whether SASL can be set up.

. "$(dirname "${BASH_SOURCE[0]}")/../tests/postfix-setup.sh" || return 1

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

# pf_sasl_available - true if Cyrus SASL users can be made here
pf_sasl_available() { command -v saslpasswd2 >/dev/null 2>&1; }

# pf_listener PORT MILTERS [OPT] - an smtpd on 127.0.0.1:PORT with these smtpd_milters
pf_listener()
{
	PF_PORTS+=("$1")
	PF_LISTENERS+=("127.0.0.1:$1 inet n - n - - smtpd -o syslog_name=postfix-bench/$1 -o smtpd_milters=$2${3:+ $3}")
}

# pf_up DIR SINK_PORT - configure and start; false (with the reason on stderr) on failure
pf_up()
{
	local d=$1 sink=$2 realm=${3:-} p
	shift 2
	[ $# -gt 0 ] && shift
	PF_DIR=$d
	for p in "${PF_PORTS[@]}" "$sink"; do
		pfs_listening "$p" && { echo "port 127.0.0.1:$p is in use" >&2; return 1; }
	done
	pfs_dirs "$d" || return 1
	{
		# SASL only where a listener turns it on (-o smtpd_sasl_auth_enable=yes)
		[ -n "$realm" ] && pfs_sasl_main_cf "$d" "$realm" |
			sed 's/^smtpd_sasl_auth_enable = yes$/smtpd_sasl_auth_enable = no/'
		cat <<EOF
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
milter_connect_timeout = 10s
milter_command_timeout = 10s
milter_content_timeout = 30s
EOF
	} | pfs_main_cf "$d" bench mx.bench.test bench.test "$sink" || return 1
	pfs_master_cf "$d" bench "${PF_LISTENERS[@]}" || return 1
	if [ -n "$realm" ]; then
		pfs_sasl "$d" "$realm" "$@" || { echo "could not make the SASL users" >&2; return 1; }
	fi
	# the sink keeps nothing (no -d): it only answers
	smtp-sink -u postfix -h sink.bench.test "127.0.0.1:$sink" 256 </dev/null \
		>"$d/log/smtp-sink.out" 2>&1 &
	PF_SINK_PID=$!
	pfs_wait_listen 5 "$sink" "$PF_SINK_PID" || { echo "smtp-sink did not start" >&2; return 1; }
	PF_MASTER_PID=$(pfs_start "$d") || return 1
	for p in "${PF_PORTS[@]}"; do
		pfs_wait_listen 10 "$p" || { echo "smtpd not listening on $p" >&2; return 1; }
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
	pfs_stop "$PF_MASTER_PID"
	PF_MASTER_PID=
	if [ -n "$PF_SINK_PID" ] && pfs_alive "$PF_SINK_PID"; then
		kill -TERM "$PF_SINK_PID" 2>/dev/null
		wait "$PF_SINK_PID" 2>/dev/null
	fi
	PF_SINK_PID=
}

# tests/postfix-setup.sh - one private, loopback-only Postfix instance (sourced, bash)
#
# Shared by the end-to-end tests (tests/e2e/lib.sh) and the benchmark (bench/postfix.sh):
# what their instances have in common is written here once.  The instance lives in one
# directory DIR (DIR/etc, DIR/queue, DIR/data, DIR/log) and runs with `postfix -c DIR/etc`:
# no chroot, log to DIR/log/maillog through postlogd, no DNS, no local delivery, everything
# relayed to an smtp-sink on 127.0.0.1, XCLIENT allowed from 127.0.0.1, anvil limits and
# in_flow_delay off, loopback clients may relay (permit_mynetworks) so the milter is the
# only gate.  Each smtpd listener carries its own settings (master.cf -o), so one instance
# serves every milter arrangement without reloads.  Every process is stopped by its PID.
#
#	pfs_alive PID			PID exists and is not a zombie
#	pfs_is PID WORD			... and WORD is in its command line
#	pfs_wait_gone SECS PID...	poll until every PID is gone
#	pfs_listening PORT		something listens on 127.0.0.1:PORT
#	pfs_wait_listen SECS PORT [PID]	poll until PORT listens (false if PID died)
#	pfs_dirs DIR			make the instance's directories
#	pfs_main_cf DIR NAME HOST DOMAIN SINK_PORT	write main.cf; stdin: more settings
#	pfs_master_cf DIR NAME LISTENER...	write master.cf: the listeners, then the services
#	pfs_sasl_main_cf DIR REALM	the main.cf lines that turn Cyrus SASL on (stdout)
#	pfs_sasl DIR REALM USER:PASS...	Cyrus SASL's smtpd.conf and sasldb2 with these users
#	pfs_start DIR			postfix check and start; print the master's PID
#	pfs_stop PID			stop the master and its children, wait until gone
#
# Failures return non-zero with the reason on stderr; nothing here exits.  Readiness is
# polled every 50 ms with a bound, never awaited with a fixed sleep.

PATH=$PATH:/usr/sbin:/sbin

# pfs_alive PID - true if PID exists and is not a zombie
pfs_alive()
{
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# pfs_is PID WORD - true if PID is alive and WORD occurs in its command line (guards
# against PID reuse before a kill)
pfs_is()
{
	pfs_alive "$1" || return 1
	tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# pfs_wait_gone SECS PID... - poll until every PID is gone; false on timeout
pfs_wait_gone()
{
	local secs=$1 i p busy; shift
	for ((i = 0; i <= secs * 20; i++)); do
		busy=0
		for p in "$@"; do pfs_alive "$p" && { busy=1; break; }; done
		[ $busy = 0 ] && return 0
		sleep 0.05
	done
	return 1
}

# pfs_listening PORT - true if something listens on 127.0.0.1:PORT (no connection made)
pfs_listening() { [ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]; }

# pfs_wait_listen SECS PORT [PID] - poll until PORT listens; false on timeout or if PID died
pfs_wait_listen()
{
	local i
	for ((i = 0; i <= $1 * 20; i++)); do
		pfs_listening "$2" && return 0
		[ -n "${3:-}" ] && ! pfs_alive "$3" && return 1
		sleep 0.05
	done
	return 1
}

# pfs_dirs DIR - DIR/{etc,queue,data,log}, owned and moded as Postfix wants them
pfs_dirs()
{
	mkdir -p "$1"/{etc,queue,data,log} || return 1
	chmod 755 "$1" "$1/etc" "$1/queue" || return 1
	chown postfix:postfix "$1/data" && chmod 700 "$1/data" || return 1
	touch "$1/log/maillog"
}

# pfs_main_cf DIR NAME HOST DOMAIN SINK_PORT - write DIR/etc/main.cf for the instance
# "postfix-NAME" (syslog_name, banner "chapps-NAME") with myhostname HOST and mydomain
# DOMAIN, relaying to 127.0.0.1:SINK_PORT.  The lines on stdin are appended: each caller
# gives its smtpd_relay_restrictions and milter_*_timeout (and e2e its SASL settings).
pfs_main_cf()
{
	local d=$1 name=$2 host=$3 domain=$4 sink=$5
	{
		cat <<EOF
# chapps $name private instance (tests/postfix-setup.sh): loopback only
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
mail_owner = postfix
setgid_group = postdrop
syslog_name = postfix-$name
maillog_file = $d/log/maillog
maillog_file_prefixes = $d
myhostname = $host
mydomain = $domain
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
smtpd_banner = \$myhostname ESMTP chapps-$name
smtpd_tls_security_level = none
smtpd_recipient_restrictions =
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_error_sleep_time = 0
in_flow_delay = 0s
# milters are set per listener in master.cf; the macro lists stay at Postfix's defaults
smtpd_milters =
non_smtpd_milters =
milter_default_action = tempfail
milter_protocol = 6
minimal_backoff_time = 10s
maximal_backoff_time = 60s
queue_run_delay = 10s
EOF
		cat
	} >"$d/etc/main.cf"
}

# pfs_master_cf DIR NAME LISTENER... - write DIR/etc/master.cf: each LISTENER line (an
# smtpd on 127.0.0.1 with its -o settings), then Postfix's services, none chrooted
pfs_master_cf()
{
	local d=$1 name=$2 l
	shift 2
	{
		echo "# chapps $name: no chroot anywhere"
		for l in "$@"; do echo "$l"; done
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
}

# pfs_sasl_main_cf DIR REALM - the main.cf lines for Cyrus SASL (AUTH PLAIN and LOGIN
# against DIR/etc/sasl/sasldb2, local realm REALM), on stdout for pfs_main_cf's stdin
pfs_sasl_main_cf()
{
	cat <<EOF
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $1/etc/sasl
smtpd_sasl_local_domain = $2
smtpd_sasl_security_options = noanonymous
smtpd_sasl_authenticated_header = yes
broken_sasl_auth_clients = no
EOF
}

# pfs_sasl DIR REALM USER:PASS... - write DIR/etc/sasl/smtpd.conf and DIR/etc/sasl/sasldb2
# with these users (USER in REALM, or USER@OTHER_REALM), readable by Postfix only
pfs_sasl()
{
	local d=$1 realm0=$2 u user pass realm
	shift 2
	mkdir -p "$d/etc/sasl" && chmod 755 "$d/etc/sasl" || return 1
	cat >"$d/etc/sasl/smtpd.conf" <<EOF || return 1
pwcheck_method: auxprop
auxprop_plugin: sasldb
mech_list: PLAIN LOGIN
sasldb_path: $d/etc/sasl/sasldb2
EOF
	for u in "$@"; do
		user=${u%%:*}; pass=${u#*:}; realm=$realm0
		case $user in *@*) realm=${user#*@}; user=${user%@*} ;; esac
		printf '%s' "$pass" | saslpasswd2 -p -c -f "$d/etc/sasl/sasldb2" -u "$realm" "$user" ||
			return 1
	done
	chown root:postfix "$d/etc/sasl/sasldb2" && chmod 640 "$d/etc/sasl/sasldb2"
}

# pfs_start DIR - postfix check, postfix start, wait for the master; its PID on stdout.
# False with the reason (and postfix's output) on stderr.
pfs_start()
{
	local d=$1 i pid=
	if ! postfix -c "$d/etc" check >"$d/log/postfix-check.out" 2>&1; then
		cat "$d/log/postfix-check.out" >&2
		echo "postfix check failed" >&2
		return 1
	fi
	if ! postfix -c "$d/etc" start >"$d/log/postfix-start.out" 2>&1; then
		cat "$d/log/postfix-start.out" >&2
		echo "postfix start failed" >&2
		return 1
	fi
	for ((i = 0; i < 200; i++)); do
		pid=$(tr -d ' \n' <"$d/queue/pid/master.pid" 2>/dev/null)
		[ -n "$pid" ] && pfs_alive "$pid" && break
		pid=
		sleep 0.05
	done
	[ -n "$pid" ] || { echo "Postfix master did not start" >&2; return 1; }
	echo "$pid"
}

# pfs_stop PID - stop the master PID (if it still is one) and its children, wait until gone
pfs_stop()
{
	local kids
	[ -n "$1" ] || return 0
	pfs_is "$1" master || return 0
	kids=$(ps -o pid= --ppid "$1" 2>/dev/null)
	kill -TERM "$1" 2>/dev/null
	# shellcheck disable=SC2086
	pfs_wait_gone 10 "$1" $kids
}

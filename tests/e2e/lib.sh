# tests/e2e/lib.sh - end-to-end harness for chapps: a private Postfix with Cyrus SASL on
# loopback, relaying to smtp-sink, in front of chapps-milter.
#
# Source it from a bash test script:
#	. "$(dirname "$0")/lib.sh"
#	e2e_init			# skips (exit 77) unless root with postfix/saslpasswd2/swaks
#	e2e_listener 16601 inet:127.0.0.1:16610 tempfail
#	e2e_postfix_up
#	...
#	e2e_finish			# prints "N passed, M failed", exits 0/1
#
# Everything lives in one `mktemp -d` directory ($E2E_DIR) that is removed on exit (set
# E2E_KEEP=1 to keep it).  Every process is started in the background, recorded by PID and
# stopped by that PID; an EXIT trap stops whatever is still running.  Nothing listens
# anywhere but 127.0.0.1.  Readiness and results are polled every 50 ms with a bound, never
# awaited with a fixed sleep.
#
# The Postfix instance (`postfix -c $E2E_DIR/etc`) has no chroot, logs to a file through
# postlogd, uses Cyrus sasldb2 for AUTH PLAIN/LOGIN (realm $E2E_REALM), allows XCLIENT from
# 127.0.0.1, relays everything to the sink and has no DNS and no local delivery.  Loopback
# clients may relay without AUTH (permit_mynetworks), so the milter is the only gate.  Each
# smtpd listener carries its own smtpd_milters and milter_default_action (master.cf -o), so
# one instance serves every milter arrangement without reloads.  Postfix's default milter
# macro lists are left alone on purpose.
#
# Environment:
#	CHAPPS_MILTER	path of the milter under test (make check sets it)
#	CHAPPS_CLI	path of chapps-cli (default: next to CHAPPS_MILTER)
#	REDIS_SERVER	path of redis-server (default: from PATH)
#	E2E_SINK_PORT	port of smtp-sink (set it before sourcing: one per script)
#	E2E_KEEP	1 = keep $E2E_DIR after the run
#	E2E_VERBOSE	1 = print the tail of every log on failure even when E2E_KEEP is set

export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

# the Postfix instance itself, shared with bench/postfix.sh
. "$(dirname "${BASH_SOURCE[0]}")/../postfix-setup.sh" || exit 99

E2E_REALM=e2e.test
E2E_HOSTNAME=mx.e2e.test
E2E_USERS=${E2E_USERS:-"alice:alicepw bob:bobpw"}
E2E_SINK_PORT=${E2E_SINK_PORT:-16690}
E2E_MILTER_TIMEOUT=${E2E_MILTER_TIMEOUT:-10s}

E2E_DIR=
E2E_PASS=0
E2E_FAIL=0
E2E_N=0
E2E_LISTENERS=()
E2E_LISTEN_PORTS=()
E2E_SINK_PID=
E2E_MASTER_PID=
declare -A E2E_MPID=()
declare -A E2E_MILTER_RC=()
declare -A E2E_MILTER_MS=()
declare -A E2E_MILTER_T0=()
declare -A E2E_REDIS_PID=()
declare -A E2E_REDIS_PORT=()

# ---- results -------------------------------------------------------------

# e2e_ok DESC - record a passed check
e2e_ok() { E2E_N=$((E2E_N + 1)); E2E_PASS=$((E2E_PASS + 1)); echo "ok $E2E_N - $*"; }

# e2e_notok DESC [DETAIL...] - record a failed check; DETAIL lines are printed as comments
e2e_notok()
{
	E2E_N=$((E2E_N + 1)); E2E_FAIL=$((E2E_FAIL + 1))
	echo "not ok $E2E_N - $1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}

# e2e_check DESC CMD... - run CMD; ok if it succeeds
e2e_check()
{
	local d=$1; shift
	if "$@"; then e2e_ok "$d"; else e2e_notok "$d" "command failed: $*"; fi
}

# e2e_eq DESC GOT WANT - ok if GOT equals WANT
e2e_eq()
{
	if [ "$2" = "$3" ]; then e2e_ok "$1"; else e2e_notok "$1" "got '$2', want '$3'"; fi
}

# e2e_note TEXT - a TAP comment
e2e_note() { printf '# %s\n' "$*"; }

# e2e_bail MSG - fatal harness error: count a failure and exit through the trap
e2e_bail()
{
	e2e_notok "harness: $1"
	e2e_finish
}

# e2e_finish - print the summary and exit 0 (all passed) or 1
e2e_finish()
{
	echo "$E2E_PASS passed, $E2E_FAIL failed"
	[ "$E2E_FAIL" -eq 0 ] && exit 0
	exit 1
}

# ---- process helpers -----------------------------------------------------

# The process and port helpers are tests/postfix-setup.sh's, under the names the tests use:
#	e2e_alive PID, e2e_is PID WORD, e2e_wait_gone SECS PID..., e2e_listening PORT,
#	e2e_wait_listen SECS PORT [PID]
e2e_alive() { pfs_alive "$@"; }
e2e_is() { pfs_is "$@"; }
e2e_wait_gone() { pfs_wait_gone "$@"; }
e2e_listening() { pfs_listening "$@"; }
e2e_wait_listen() { pfs_wait_listen "$@"; }

# e2e_listening_unix PATH - true if a unix socket listens at PATH
e2e_listening_unix() { ss -Hlx 2>/dev/null | awk '{ print $5 }' | grep -qxF -- "$1"; }

# ---- setup and teardown --------------------------------------------------

# e2e_init - skip unless root with the tools; make the work directory and the EXIT trap
e2e_init()
{
	local b
	if [ "$(id -u)" != 0 ]; then echo "# SKIP: end-to-end tests need root"; exit 77; fi
	for b in postfix postconf postqueue smtp-sink saslpasswd2 swaks ss base64; do
		if ! command -v "$b" >/dev/null 2>&1; then
			echo "# SKIP: $b not installed (apt-get install postfix sasl2-bin libsasl2-modules swaks)"
			exit 77
		fi
	done
	if ! getent passwd postfix >/dev/null || ! getent group postdrop >/dev/null; then
		echo "# SKIP: postfix user or postdrop group missing"
		exit 77
	fi
	# /tmp, not $TMPDIR: unix socket paths must stay short
	E2E_DIR=$(mktemp -d /tmp/chapps-e2e.XXXXXX) || { echo "mktemp failed"; exit 99; }
	trap e2e_cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	pfs_dirs "$E2E_DIR" || e2e_bail "cannot make the Postfix directories"
	mkdir -p "$E2E_DIR"/{etc/sasl,sink,milter,out}
	chmod 755 "$E2E_DIR"/{etc/sasl,milter,out}
	chown postfix:postfix "$E2E_DIR/sink"
}

# e2e_need_milter - set CHAPPS_MILTER (default ./chapps-milter) or bail out
e2e_need_milter()
{
	CHAPPS_MILTER=${CHAPPS_MILTER:-$PWD/chapps-milter}
	[ -x "$CHAPPS_MILTER" ] || { echo "# chapps-milter not found at $CHAPPS_MILTER (set CHAPPS_MILTER)"; exit 99; }
}

# e2e_cleanup - EXIT trap: stop milters, Postfix and the sink by PID; remove the directory
e2e_cleanup()
{
	local rc=$? n
	trap - EXIT
	[ ${#E2E_MPID[@]} -gt 0 ] && e2e_milter_stop 10 "${!E2E_MPID[@]}" >/dev/null 2>&1
	e2e_postfix_down >/dev/null 2>&1
	e2e_sink_stop >/dev/null 2>&1
	for n in "${!E2E_REDIS_PID[@]}"; do e2e_redis_stop "$n" >/dev/null 2>&1; done
	[ -n "$E2E_DIR" ] && [ -d "$E2E_DIR" ] || exit $rc
	if [ "$rc" != 0 ] || [ "$E2E_FAIL" != 0 ]; then
		if [ "${E2E_KEEP:-0}" != 1 ] || [ "${E2E_VERBOSE:-0}" = 1 ]; then
			for n in "$E2E_DIR"/log/maillog "$E2E_DIR"/milter/*.log; do
				[ -f "$n" ] || continue
				echo "# ---- tail of $n"
				tail -n 25 "$n" | sed 's/^/#   /'
			done
		fi
	fi
	if [ "${E2E_KEEP:-0}" = 1 ]; then
		echo "# kept $E2E_DIR"
	else
		rm -rf "$E2E_DIR"
	fi
	exit $rc
}

# ---- Postfix -------------------------------------------------------------

# e2e_listener PORT MILTERS [DEFAULT_ACTION] - declare an smtpd on 127.0.0.1:PORT with these
# smtpd_milters (Postfix syntax inet:127.0.0.1:N or unix:/path; "" for none) and
# milter_default_action (default tempfail).  Call before e2e_postfix_up.
e2e_listener()
{
	local port=$1 milters=$2 action=${3:-tempfail}
	E2E_LISTEN_PORTS+=("$port")
	E2E_LISTENERS+=("127.0.0.1:$port inet n - n - - smtpd -o syslog_name=postfix-e2e/$port -o smtpd_milters=$milters -o milter_default_action=$action")
}

# e2e_pc ARGS... - postconf on the private instance
e2e_pc() { postconf -c "$E2E_DIR/etc" "$@"; }

# e2e_postfix_config - write main.cf, master.cf, the SASL config and sasldb2
e2e_postfix_config()
{
	local d=$E2E_DIR

	{
		pfs_sasl_main_cf "$d" "$E2E_REALM"
		cat <<EOF
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
milter_connect_timeout = $E2E_MILTER_TIMEOUT
milter_command_timeout = $E2E_MILTER_TIMEOUT
milter_content_timeout = $E2E_MILTER_TIMEOUT
EOF
	} | pfs_main_cf "$d" e2e "$E2E_HOSTNAME" "$E2E_REALM" "$E2E_SINK_PORT" || return 1
	pfs_master_cf "$d" tests/e2e "${E2E_LISTENERS[@]}" || return 1
	# shellcheck disable=SC2086 # one word per user
	pfs_sasl "$d" "$E2E_REALM" $E2E_USERS
}

# e2e_postfix_up - configure, start the sink and Postfix, wait for every listener
e2e_postfix_up()
{
	local p
	[ ${#E2E_LISTENERS[@]} -gt 0 ] || e2e_bail "e2e_postfix_up: no e2e_listener declared"
	for p in "${E2E_LISTEN_PORTS[@]}" "$E2E_SINK_PORT"; do
		e2e_listening "$p" && e2e_bail "port 127.0.0.1:$p is already in use"
	done
	e2e_postfix_config || e2e_bail "writing the Postfix configuration failed"
	e2e_sink_start || e2e_bail "smtp-sink did not start"
	E2E_MASTER_PID=$(pfs_start "$E2E_DIR") || e2e_bail "Postfix did not start"
	for p in "${E2E_LISTEN_PORTS[@]}"; do
		e2e_wait_listen 10 "$p" "$E2E_MASTER_PID" || e2e_bail "smtpd not listening on $p"
	done
}

# e2e_postfix_down - stop the master and its children by PID and wait until they are gone
e2e_postfix_down()
{
	pfs_stop "$E2E_MASTER_PID"
	E2E_MASTER_PID=
}

# e2e_maillog_count REGEX - number of maillog lines matching the extended REGEX
e2e_maillog_count() { grep -cE -- "$1" "$E2E_DIR/log/maillog" 2>/dev/null; }

# e2e_wait_maillog REGEX [SECS] - poll the maillog until a line matches; false on timeout
e2e_wait_maillog() { e2e_wait_file "$E2E_DIR/log/maillog" "$1" "${2:-10}"; }

# e2e_wait_file FILE REGEX SECS - poll FILE until a line matches the extended REGEX
e2e_wait_file()
{
	local i
	for ((i = 0; i <= $3 * 20; i++)); do
		grep -qE -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# ---- the sink ------------------------------------------------------------

# e2e_sink_start - start smtp-sink on 127.0.0.1:$E2E_SINK_PORT, one file per message
e2e_sink_start()
{
	[ -n "$E2E_SINK_PID" ] && e2e_alive "$E2E_SINK_PID" && return 0
	# -h: greeting name must differ from myhostname or Postfix reports a mail loop
	smtp-sink -u postfix -h sink.$E2E_REALM -d "$E2E_DIR/sink/msg." \
		"127.0.0.1:$E2E_SINK_PORT" 256 </dev/null >>"$E2E_DIR/log/smtp-sink.out" 2>&1 &
	E2E_SINK_PID=$!
	e2e_wait_listen 5 "$E2E_SINK_PORT" "$E2E_SINK_PID"
}

# e2e_sink_stop - stop smtp-sink by PID
e2e_sink_stop()
{
	[ -n "$E2E_SINK_PID" ] || return 0
	e2e_is "$E2E_SINK_PID" smtp-sink && kill -TERM "$E2E_SINK_PID" 2>/dev/null
	e2e_wait_gone 5 "$E2E_SINK_PID"
	wait "$E2E_SINK_PID" 2>/dev/null
	E2E_SINK_PID=
}

# e2e_sink_files SENDER - sink files of messages whose envelope sender is SENDER
e2e_sink_files()
{
	grep -lxF -- "X-Mail-Args: <$1>" "$E2E_DIR"/sink/msg.* 2>/dev/null
}

# e2e_sink_count SENDER - how many messages from SENDER reached the sink
e2e_sink_count() { e2e_sink_files "$1" | wc -l; }

# e2e_wait_sink SENDER [N] [SECS] - poll until N (1) messages from SENDER reached the sink
e2e_wait_sink()
{
	local n=${2:-1} secs=${3:-15} i
	for ((i = 0; i <= secs * 20; i++)); do
		[ "$(e2e_sink_count "$1")" -ge "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

# ---- SMTP clients --------------------------------------------------------

# e2e_swaks OUT PORT SWAKS-ARGS... - run swaks against 127.0.0.1:PORT, transcript to OUT;
# returns swaks' exit code (0 ok, 23 MAIL refused, 24 RCPT, 28 AUTH, 33 XCLIENT...)
e2e_swaks()
{
	local out=$1 port=$2; shift 2
	swaks --server 127.0.0.1 --port "$port" --ehlo client.$E2E_REALM --timeout 20 \
		--h-Subject "chapps e2e $(basename "$out")" --body "chapps e2e test message" \
		"$@" >"$out" 2>&1 </dev/null
}

# e2e_send_plain OUT PORT USER PASS FROM TO - AUTH PLAIN submission
e2e_send_plain() { e2e_swaks "$1" "$2" --auth PLAIN --auth-user "$3" --auth-password "$4" \
	--from "$5" --to "$6"; }

# e2e_send_login OUT PORT USER PASS FROM TO - AUTH LOGIN submission
e2e_send_login() { e2e_swaks "$1" "$2" --auth LOGIN --auth-user "$3" --auth-password "$4" \
	--from "$5" --to "$6"; }

# e2e_send_noauth OUT PORT FROM TO - submission without AUTH
e2e_send_noauth() { e2e_swaks "$1" "$2" --from "$3" --to "$4"; }

# e2e_send_xclient OUT PORT LOGIN FROM TO - XCLIENT LOGIN=..., no AUTH
e2e_send_xclient() { e2e_swaks "$1" "$2" --xclient-login "$3" --from "$4" --to "$5"; }

# e2e_reply OUT CMD - the server's reply (first line, marker stripped) to the client
# command starting with CMD (e.g. "MAIL FROM", "AUTH", "." for the end of DATA)
e2e_reply()
{
	awk -v cmd="$2" '
		!want && /^ -> / && index(substr($0, 5), cmd) == 1 { want = 1; next }
		want && /^(<-|<\*\*) / { sub(/^(<-|<\*\*) +/, ""); print; exit }
		want && /^\*\*\* / { sub(/^\*\*\* +/, ""); print; exit }' "$1"
}

# e2e_queue_id OUT - the Postfix queue id from "250 ... queued as ID", if any
e2e_queue_id() { sed -n 's/^<-  250 .* queued as \([0-9A-Za-z]*\).*/\1/p' "$1" | head -n 1; }

# e2e_smtp_time PORT USER PASS FROM TO - one AUTH PLAIN session over bash's /dev/tcp:
# prints the microseconds from connect to the 250 after DATA; false on any unexpected reply
# (E2E_REPLY then holds it).  The message goes out in a single write so that client-side
# Nagle cannot distort the figure.
e2e_smtp_time()
{
	local port=$1 tok t0 t1 rc=1 msg
	tok=$(printf '\0%s\0%s' "$2" "$3" | base64 -w0)
	msg=$(printf 'From: <%s>\r\nTo: <%s>\r\nSubject: chapps e2e latency\r\n\r\nlatency probe\r\n.\r\n' "$4" "$5"; echo x)
	msg=${msg%x}
	t0=${EPOCHREALTIME/./}
	exec 3<>"/dev/tcp/127.0.0.1/$port" || { E2E_REPLY="connect failed"; return 1; }
	if e2e__reply 220 &&
	   e2e__send "EHLO client.$E2E_REALM" && e2e__reply 250 &&
	   e2e__send "AUTH PLAIN $tok" && e2e__reply 235 &&
	   e2e__send "MAIL FROM:<$4>" && e2e__reply 250 &&
	   e2e__send "RCPT TO:<$5>" && e2e__reply 250 &&
	   e2e__send "DATA" && e2e__reply 354 &&
	   printf '%s' "$msg" >&3 && e2e__reply 250; then
		t1=${EPOCHREALTIME/./}
		rc=0
		e2e__send QUIT && e2e__reply 221
	fi
	exec 3>&-
	[ $rc = 0 ] && echo $((10#$t1 - 10#$t0))
	return $rc
}

# e2e__send LINE - write one SMTP command line to fd 3
e2e__send() { printf '%s\r\n' "$1" >&3; }

# e2e__reply CODE - read one (multi-line) reply from fd 3; true if it has CODE
e2e__reply()
{
	local line
	while IFS= read -r -t 15 line <&3; do
		line=${line%$'\r'}
		E2E_REPLY=$line
		case $line in [0-9][0-9][0-9]-*) continue ;; esac
		case $line in "$1"*) return 0 ;; *) return 1 ;; esac
	done
	E2E_REPLY="timeout or EOF"
	return 1
}

# e2e_median - median of the integers on stdin
e2e_median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }

# ---- chapps-milter -------------------------------------------------------

# e2e_cfgstr TEXT - TEXT as a libconfig string literal
e2e_cfgstr()
{
	local s=${1//\\/\\\\}
	printf '"%s"' "${s//\"/\\\"}"
}

# e2e_milter_conf FILE SOCKET [NO_USER_KEY_REPLY] [UMASK] - write a minimal chapps config:
# identity gate only (no outbound or inbound policies, so no policy database is needed), run
# as root, state under FILE.d.  A unix socket of a root milter is only usable by Postfix with
# a permissive UMASK (e.g. 0000).
e2e_milter_conf()
{
	local file=$1 sock=$2 reply=${3:-"554 5.7.1 Rejected - Authentication failed"}
	local st=$file.d um=""
	mkdir -p "$st"
	[ -n "${4:-}" ] && um=" umask = $(e2e_cfgstr "$4");"
	cat >"$file" <<EOF
milter:   { socket = $(e2e_cfgstr "$sock"); user = ""; group = ""; pidfile = "";
            run_as_root = true;$um };
log:      { level = "info"; };
identity: { user_key = "sasl_username"; require_user_key = true;
            no_user_key_reply = $(e2e_cfgstr "$reply"); };
outbound: { policies = [ ]; };
inbound:  { policies = [ ]; };
store:    { path = $(e2e_cfgstr "$st/state"); };
policy_db:{ path = $(e2e_cfgstr "$st/policy.db"); };
EOF
}

# e2e_milter_start NAME CONFIG [SOCKET] - start "$CHAPPS_MILTER -f -c CONFIG [-p SOCKET]"
# (libmilter socket syntax; without SOCKET it is read from CONFIG's milter.socket), stderr
# to $E2E_DIR/milter/NAME.log; wait until it listens
e2e_milter_start()
{
	local name=$1 cfg=$2 sock=${3:-} i pid ready=1 log=$E2E_DIR/milter/$1.log
	[ -n "$sock" ] || sock=$(sed -n 's/.*socket *= *"\([^"]*\)".*/\1/p' "$cfg" | head -n 1)
	case $sock in
	inet:*@127.0.0.1) e2e_listening "$(e2e_sock_port "$sock")" &&
		{ echo "# milter port of $sock already in use"; return 1; } ;;
	unix:/*) ;;
	*) echo "# e2e_milter_start: unsupported socket '$sock'"; return 1 ;;
	esac
	if [ -n "${3:-}" ]; then
		"$CHAPPS_MILTER" -f -c "$cfg" -p "$sock" </dev/null >>"$log" 2>&1 &
	else
		"$CHAPPS_MILTER" -f -c "$cfg" </dev/null >>"$log" 2>&1 &
	fi
	pid=$!
	E2E_MPID[$name]=$pid
	for ((i = 0; i <= 200; i++)); do
		case $sock in
		inet:*) e2e_listening "$(e2e_sock_port "$sock")" && { ready=0; break; } ;;
		unix:*) e2e_listening_unix "${sock#unix:}" && { ready=0; break; } ;;
		esac
		e2e_alive "$pid" || break
		sleep 0.05
	done
	if [ $ready != 0 ]; then
		echo "# chapps-milter $name did not come up on $sock; its log:"
		sed 's/^/#   /' "$log"
	fi
	return $ready
}

# e2e_sock_port inet:PORT@HOST - PORT
e2e_sock_port() { local s=${1#inet:}; echo "${s%@*}"; }

# e2e_milter_pid NAME - PID of milter NAME
e2e_milter_pid() { echo "${E2E_MPID[$1]:-}"; }

# e2e_milter_log NAME - its stderr log file
e2e_milter_log() { echo "$E2E_DIR/milter/$1.log"; }

# e2e_milter_stop SECS NAME... - SIGTERM the named milters by PID (all at once), then wait up
# to SECS for each to be really gone (not a zombie); SIGKILL and return 2 on timeout.  Sets
# E2E_MILTER_RC[NAME] to its exit status and E2E_MILTER_MS[NAME] to how long it took to go.
e2e_milter_stop()
{
	e2e_milter_term "${@:2}"
	e2e_milter_reap "$@"
}

# e2e_milter_term NAME... - SIGTERM the named milters by PID and return at once (collect them
# later with e2e_milter_reap, which does not signal them again)
e2e_milter_term()
{
	local name pid
	for name in "$@"; do
		pid=${E2E_MPID[$name]:-}
		[ -n "$pid" ] && e2e_is "$pid" "$CHAPPS_MILTER" && kill -TERM "$pid" 2>/dev/null
		E2E_MILTER_T0[$name]=${EPOCHREALTIME/./}
	done
	return 0
}

# e2e_milter_reap SECS NAME... - wait up to SECS for each named milter to be really gone (not
# a zombie), without signalling it; SIGKILL and return 2 on timeout.  Sets E2E_MILTER_RC and
# E2E_MILTER_MS (counted from e2e_milter_term, or from now) as e2e_milter_stop does.
e2e_milter_reap()
{
	local secs=$1 name pid t0 rc=0; shift
	for name in "$@"; do
		t0=${E2E_MILTER_T0[$name]:-${EPOCHREALTIME/./}}
		unset "E2E_MILTER_T0[$name]"
		pid=${E2E_MPID[$name]:-}
		[ -n "$pid" ] || continue
		unset "E2E_MPID[$name]"
		if ! e2e_wait_gone "$secs" "$pid"; then
			kill -KILL "$pid" 2>/dev/null
			e2e_wait_gone 5 "$pid"
			rc=2
		fi
		E2E_MILTER_MS[$name]=$(((10#${EPOCHREALTIME/./} - 10#$t0) / 1000))
		wait "$pid" 2>/dev/null
		E2E_MILTER_RC[$name]=$?
	done
	return $rc
}

# e2e_milter_kill NAME - SIGKILL milter NAME by PID (a crash) and wait until it is gone
e2e_milter_kill()
{
	local pid=${E2E_MPID[$1]:-}
	[ -n "$pid" ] || return 1
	e2e_is "$pid" "$CHAPPS_MILTER" && kill -KILL "$pid" 2>/dev/null
	unset "E2E_MPID[$1]"
	e2e_wait_gone 5 "$pid" || return 1
	wait "$pid" 2>/dev/null
	return 0
}

# e2e_log_count FILE STRING... - number of lines of FILE that contain every STRING
e2e_log_count()
{
	local f=$1; shift
	awk 'BEGIN { for (i = 1; i < ARGC; i++) s[i] = ARGV[i]; n = ARGC - 1; ARGC = 1 }
	     { for (i = 1; i <= n; i++) if (index($0, s[i]) == 0) next; c++ }
	     END { print c + 0 }' "$@" <"$f"
}

# e2e_sanitizer_clean FILE - true if FILE holds no ASan/UBSan/LSan report
e2e_sanitizer_clean() { ! grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$1"; }

# e2e_replies OUT CMD - every reply (first line, marker stripped) to client commands starting
# with CMD, one per line, in order (e.g. the reply to each RCPT TO of a message)
e2e_replies()
{
	awk -v cmd="$2" '
		/^ -> / { want = index(substr($0, 5), cmd) == 1; next }
		want && /^(<-|<\*\*) / { sub(/^(<-|<\*\*) +/, ""); print; want = 0; next }
		want && /^\*\*\* / { sub(/^\*\*\* +/, ""); print; want = 0 }' "$1"
}

# e2e_sink_rcpts SENDER - total recipients of the messages from SENDER that reached the sink
e2e_sink_rcpts()
{
	local f n=0
	for f in $(e2e_sink_files "$1"); do n=$((n + $(grep -c '^X-Rcpt-Args: ' "$f"))); done
	echo $n
}

# ---- a scriptable SMTP client (bash /dev/tcp, fd 3 of the calling shell) --------
#
# For what swaks cannot do: stop in the middle of a transaction, RSET, drop the connection,
# time one command.  The transcript uses swaks' markers so that e2e_reply works on it.
#	e2e_smtp_open OUT PORT && e2e_smtp_cmd "EHLO x" && e2e_smtp_auth alice alicepw &&
#	e2e_smtp_cmd "MAIL FROM:<a@e2e.test>" ... ; e2e_smtp_cmd QUIT; e2e_smtp_close

# e2e_smtp_open OUT PORT - connect to 127.0.0.1:PORT and read the greeting
e2e_smtp_open()
{
	E2E_SMTP_OUT=$1
	: >"$1"
	if ! exec 3<>"/dev/tcp/127.0.0.1/$2"; then
		E2E_REPLY="connect failed"
		echo "*** $E2E_REPLY" >>"$1"
		return 1
	fi
	echo "=== connected to 127.0.0.1:$2" >>"$1"
	e2e_smtp_read
}

# e2e_smtp_read - read one (multi-line) reply; E2E_REPLY = its last line; true if it
# arrived (whatever its code)
e2e_smtp_read()
{
	local line
	while IFS= read -r -t 15 line <&3; do
		line=${line%$'\r'}
		E2E_REPLY=$line
		case $line in
		[0-9][0-9][0-9]-*) echo "<-  $line" >>"$E2E_SMTP_OUT"; continue ;;
		[23]*) echo "<-  $line" >>"$E2E_SMTP_OUT" ;;
		*) echo "<** $line" >>"$E2E_SMTP_OUT" ;;
		esac
		return 0
	done
	E2E_REPLY="timeout or EOF"
	echo "*** $E2E_REPLY" >>"$E2E_SMTP_OUT"
	return 1
}

# e2e_smtp_cmd LINE [CODE] - send one command line and read its reply; E2E_REPLY_US is the
# time it took in microseconds.  True if a reply came (and, with CODE, starts with CODE).
e2e_smtp_cmd()
{
	local t0=${EPOCHREALTIME/./} rc
	echo " -> $1" >>"$E2E_SMTP_OUT"
	if ! printf '%s\r\n' "$1" >&3 2>/dev/null; then
		E2E_REPLY="write failed"
		echo "*** $E2E_REPLY" >>"$E2E_SMTP_OUT"
		return 1
	fi
	e2e_smtp_read
	rc=$?
	E2E_REPLY_US=$((10#${EPOCHREALTIME/./} - 10#$t0))
	[ $rc = 0 ] || return 1
	[ -z "${2:-}" ] || [ "${E2E_REPLY:0:${#2}}" = "$2" ]
}

# e2e_smtp_auth USER PASS - AUTH PLAIN; true on 235
e2e_smtp_auth()
{
	local tok
	tok=$(printf '\0%s\0%s' "$1" "$2" | base64 -w0)
	echo " -> AUTH PLAIN (credentials of $1)" >>"$E2E_SMTP_OUT"
	printf 'AUTH PLAIN %s\r\n' "$tok" >&3 2>/dev/null || return 1
	e2e_smtp_read && [ "${E2E_REPLY:0:3}" = 235 ]
}

# e2e_smtp_body FROM TO - after a 354: send a small message and read the reply to its end
e2e_smtp_body()
{
	local msg
	msg=$(printf 'From: <%s>\r\nTo: <%s>\r\nSubject: chapps e2e\r\n\r\nchapps e2e test message\r\n.\r\n' "$1" "$2"; echo x)
	echo " -> ." >>"$E2E_SMTP_OUT"
	printf '%s' "${msg%x}" >&3 2>/dev/null || return 1
	e2e_smtp_read && [ "${E2E_REPLY:0:3}" = 250 ]
}

# e2e_smtp_close - close fd 3 (without QUIT this is a lost connection)
e2e_smtp_close() { exec 3>&- 3<&-; echo "=== closed" >>"$E2E_SMTP_OUT"; }

# ---- Redis -----------------------------------------------------------------

# e2e_need_redis - true if redis-server ($REDIS_SERVER or from PATH) is available
e2e_need_redis()
{
	[ -n "${REDIS_SERVER:-}" ] && [ -x "$REDIS_SERVER" ] && return 0
	REDIS_SERVER=$(command -v redis-server 2>/dev/null) && [ -n "$REDIS_SERVER" ]
}

# e2e_redis_ping PORT - true if a Redis answers PONG on 127.0.0.1:PORT (falls back to "it
# listens" without redis-cli)
e2e_redis_ping()
{
	if command -v redis-cli >/dev/null 2>&1; then
		[ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$1" ping 2>/dev/null)" = PONG ]
	else
		e2e_listening "$1"
	fi
}

# e2e_redis_start NAME PORT - a throwaway redis-server on 127.0.0.1:PORT (no persistence,
# foreground child recorded by PID, files in $E2E_DIR/redis-NAME); wait until it answers
e2e_redis_start()
{
	local name=$1 port=$2 dir=$E2E_DIR/redis-$1 pid i
	e2e_listening "$port" && { echo "# port 127.0.0.1:$port is already in use"; return 1; }
	mkdir -p "$dir"
	"$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
		--dir "$dir" --daemonize no --logfile "$dir/redis.log" </dev/null >/dev/null 2>&1 &
	pid=$!
	E2E_REDIS_PID[$name]=$pid
	E2E_REDIS_PORT[$name]=$port
	for ((i = 0; i <= 100; i++)); do
		e2e_redis_ping "$port" && return 0
		e2e_alive "$pid" || break
		sleep 0.05
	done
	echo "# redis-server $name did not come up on $port; its log:"
	sed 's/^/#   /' "$dir/redis.log" 2>/dev/null
	return 1
}

# e2e_redis_stop NAME - stop redis-server NAME by PID (SIGCONT first, in case it was
# stopped) and wait until it and its port are gone
e2e_redis_stop()
{
	local name=$1 pid=${E2E_REDIS_PID[$1]:-} i
	[ -n "$pid" ] || return 0
	if e2e_is "$pid" redis-server; then
		kill -CONT "$pid" 2>/dev/null
		kill -TERM "$pid" 2>/dev/null
	fi
	e2e_wait_gone 10 "$pid" || { kill -KILL "$pid" 2>/dev/null; e2e_wait_gone 5 "$pid"; }
	wait "$pid" 2>/dev/null
	unset "E2E_REDIS_PID[$name]"
	for ((i = 0; i <= 100; i++)); do
		e2e_listening "${E2E_REDIS_PORT[$name]}" || return 0
		sleep 0.05
	done
	return 1
}

# e2e_redis_pid NAME - PID of redis-server NAME
e2e_redis_pid() { echo "${E2E_REDIS_PID[$1]:-}"; }

# ---- chapps with policies, and chapps-cli ------------------------------------

# e2e_need_cli - set CHAPPS_CLI (default: next to CHAPPS_MILTER) or bail out
e2e_need_cli()
{
	CHAPPS_CLI=${CHAPPS_CLI:-$(dirname "$CHAPPS_MILTER")/chapps-cli}
	[ -x "$CHAPPS_CLI" ] || { echo "# chapps-cli not found at $CHAPPS_CLI (set CHAPPS_CLI)"; exit 99; }
}

# e2e_policy_conf FILE SOCKET STORE DB POLICIES [TEXT...] - write a chapps config with
# outbound policies: STORE is lmdb:PATH or redis:PORT, DB the SQLite policy database,
# POLICIES the body of outbound.policies (e.g. '"sender_domain_auth", "quota"'), each TEXT
# one more line of libconfig (quota: {...}; and so on; not milter/log/outbound/store/
# policy_db).  The pidfile is FILE without .conf plus .pid: chapps-cli -c FILE signals it.
e2e_policy_conf()
{
	local file=$1 sock=$2 store=$3 db=$4 pol=$5 st l; shift 5
	case $store in
	lmdb:*) st="store:    { backend = \"lmdb\"; path = $(e2e_cfgstr "${store#lmdb:}"); };" ;;
	redis:*) st="store:    { backend = \"redis\"; redis: { server = \"127.0.0.1\"; port = ${store#redis:}; }; };" ;;
	*) echo "# e2e_policy_conf: bad store '$store'"; return 1 ;;
	esac
	{
		echo "milter:   { socket = $(e2e_cfgstr "$sock"); user = \"\"; group = \"\";"
		echo "            pidfile = $(e2e_cfgstr "${file%.conf}.pid"); run_as_root = true; };"
		echo "log:      { level = \"info\"; };"
		echo "outbound: { policies = [ $pol ]; };"
		echo "$st"
		echo "policy_db:{ path = $(e2e_cfgstr "$db"); cache_ttl = 300; };"
		for l in "$@"; do echo "$l"; done
	} >"$file"
}

# e2e_milter_up NAME CONFIG - e2e_milter_start, then wait for its "starting" log line (logged
# once its signal handling is in place, so that chapps-cli may signal it)
e2e_milter_up()
{
	local log=$E2E_DIR/milter/$1.log n i
	n=$(e2e_log_count "$log" "chapps-milter" "starting on" 2>/dev/null || echo 0)
	e2e_milter_start "$1" "$2" || return 1
	for ((i = 0; i <= 100; i++)); do
		[ "$(e2e_log_count "$log" "chapps-milter" "starting on")" -gt "$n" ] && return 0
		sleep 0.05
	done
	echo "# chapps-milter $1 listens but logged no start line"
	return 1
}

# e2e_cli CONFIG ARGS... - chapps-cli -c CONFIG ARGS (stderr to $E2E_DIR/log/cli.err)
e2e_cli()
{
	local cfg=$1; shift
	echo "+ chapps-cli $*" >>"$E2E_DIR/log/cli.err"
	"$CHAPPS_CLI" -c "$cfg" "$@" 2>>"$E2E_DIR/log/cli.err"
}

# e2e_cliq CONFIG ARGS... - e2e_cli with stdout to $E2E_DIR/log/cli.out
e2e_cliq() { e2e_cli "$@" >>"$E2E_DIR/log/cli.out"; }

# e2e_usage CONFIG USER FIELD - FIELD (used, reserved, remaining, limit) of
# "chapps-cli show USER --quota --json"; empty if the command failed
e2e_usage()
{
	e2e_cli "$1" --json show "$2" --quota |
		sed -n "s/.*\"$3\":\\([0-9a-z]*\\).*/\\1/p"
}

# e2e_wait_usage SECS CONFIG USER FIELD WANT - poll e2e_usage until it prints WANT; prints
# the last value; false on timeout
e2e_wait_usage()
{
	local i v
	for ((i = 0; i <= $1 * 10; i++)); do
		v=$(e2e_usage "$2" "$3" "$4")
		[ "$v" = "$5" ] && { echo "$v"; return 0; }
		sleep 0.1
	done
	echo "$v"
	return 1
}

# e2e_log_wait_more FILE COUNT SECS STRING... - poll until more than COUNT lines of FILE
# contain every STRING; false on timeout
e2e_log_wait_more()
{
	local f=$1 n=$2 secs=$3 i; shift 3
	for ((i = 0; i <= secs * 20; i++)); do
		[ "$(e2e_log_count "$f" "$@")" -gt "$n" ] && return 0
		sleep 0.05
	done
	return 1
}

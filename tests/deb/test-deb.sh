#!/bin/bash
# test-deb.sh - the Debian package, from build to purge, on this machine (as root)
#
#   1. copy the tree (git's files, committed or not) and build the package with
#      dpkg-buildpackage -us -uc -b (DEB_BUILD_OPTIONS=nocheck: the suite runs elsewhere);
#      build it a second time with a higher version (a temporary changelog entry,
#      dpkg-buildpackage -nc: the same binaries), to test an upgrade;
#   2. lintian on the source and the binary package: no error, no warning;
#   3. install the first build: the chapps user and group, /etc/chapps/chapps.conf
#      (a conffile, 0640 root:chapps), /var/lib/chapps, /run/chapps, the SQLite policy
#      database, the unit enabled; systemd-analyze security rates the unit OK or better;
#   4. start the service on 127.0.0.1:$PORT and talk the milter protocol to it
#      (tests/protocol/milter-client.py): the identity gate's reply, and a message of a user
#      added with chapps-cli, whose quota usage is then read back from the state store;
#   5. reload: a changed reply text applies, a bad file is refused and the old one stays;
#   6. the unix socket in Postfix's chroot as chapps-milter(8) describes it (when Postfix is
#      installed): /var/spool/postfix/chapps, group postfix, set-group-ID; the postfix
#      user can connect, nobody else;
#   7. upgrade to the second build: the changed configuration, the policy database and
#      the state stay; the milter restarts with them;
#   8. remove keeps the configuration and the state; purge removes them (the user stays).
#
# Where systemd is not PID 1 (containers, this project's CI), nothing starts the unit: the
# script then runs the unit's own ExecStartPre=, ExecStart= and ExecReload= lines by hand,
# as its User=/Group=, with no capability (bounding set empty), no_new_privs and its UMask=,
# through setpriv(1), and stops the milter itself before an upgrade restart or a removal,
# as the maintainer scripts would through systemctl.  It says so in its output.  The rest
# of the sandbox (ProtectSystem= and the other namespaces, the system call filter) is then
# not applied: systemd-analyze security --offline rates it instead.  Under systemd (or
# tests/deb/with-systemd.sh, which boots one in namespaces) the script also checks that the
# postinst starts and restarts the unit (unless /usr/sbin/policy-rc.d forbids it), that a
# system call filter is in force and /etc read-only to the milter, /var/lib/chapps not.
#
# It refuses to touch an existing chapps installation: it skips (exit 77) when the package
# is installed or /etc/chapps or /var/lib/chapps exist; at the end (and on any failure) it
# stops its milter and purges the package, so it can run again.  Binaries are used by full
# path (/usr/sbin), never from PATH, where a `make install` copy in /usr/local/sbin would
# come first.  Run it under `flock /tmp/chapps-check.lock` beside other tests.
#
# Environment: CHAPPS_DEB_DIR (work directory, default /tmp/chapps-deb-test),
# CHAPPS_DEB_PORT (milter port on 127.0.0.1, default 17225, used by no other test),
# CHAPPS_DEB_KEEP=1 (keep the work directory).
# Output: TAP-like lines, then "N passed, M failed"; exit 0 when all passed, 77 skipped,
# 99 when it cannot run at all.

set -u
export LC_ALL=C DEBIAN_FRONTEND=noninteractive

here=$(cd "$(dirname "$0")/../.." && pwd)
W=${CHAPPS_DEB_DIR:-/tmp/chapps-deb-test}
PORT=${CHAPPS_DEB_PORT:-17225}
SOCK="inet:$PORT@127.0.0.1"
UNIT=/lib/systemd/system/chapps-milter.service
CONF=/etc/chapps/chapps.conf
CLI=/usr/sbin/chapps-cli
DB=/var/lib/chapps/policy.db
PIDFILE=/run/chapps/chapps-milter.pid
CLIENT=$here/tests/protocol/milter-client.py
SPOOL=/var/spool/postfix/chapps
GATE_REPLY="554 5.7.1 Rejected - Authentication failed"
NEW_REPLY="554 5.7.1 chapps-deb-test reloaded"

N=0
PASS=0
FAIL=0
MAINPID=
started_by_us=0
made_spool=0
installed_by_us=0

# ---- results -------------------------------------------------------------------------------

ok() { N=$((N + 1)); PASS=$((PASS + 1)); echo "ok $N - $*"; }

# notok DESC [DETAIL...] - a failed check; DETAIL lines are printed as comments
notok()
{
	N=$((N + 1))
	FAIL=$((FAIL + 1))
	echo "not ok $N - $1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/#   /'; done
}

# eq DESC GOT WANT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else notok "$1" "got '$2', want '$3'"; fi; }

# has_line DESC TEXT LINE - TEXT holds LINE exactly
has_line()
{
	if grep -qxF -- "$3" <<<"$2"; then ok "$1"
	else notok "$1" "want the line: $3" "got:" "$(grep -v '^symlist' <<<"$2" | head -10)"; fi
}

# run DESC LOG COMMAND... - ok when COMMAND exits 0; its output goes to LOG
run()
{
	local desc=$1 log=$2
	shift 2
	if "$@" >"$log" 2>&1; then ok "$desc"; return 0; fi
	notok "$desc" "exit status $? of: $*" "$(tail -n 15 "$log")"
	return 1
}

skip() { echo "# SKIP: $*"; exit 77; }
hard_error() { echo "ERROR: $*"; exit 99; }

# stat_of PATH - "mode owner group", e.g. "640 root chapps"
stat_of() { stat -c '%a %U %G' "$1" 2>&1; }

# ---- the service: systemd, or the unit's commands by hand ------------------------------------

# unit_value KEY - every value of KEY= in the installed unit, one per line
unit_value() { sed -n "s/^$1=//p" "$UNIT"; }

# as_unit COMMAND - run one command line of the unit as systemd would: as User=/Group=,
# no capabilities, no_new_privs, UMask=, a clean environment, in /
as_unit()
{
	local user group umask
	user=$(unit_value User)
	group=$(unit_value Group)
	umask=$(unit_value UMask)
	(cd / && umask "${umask:-0022}" &&
		exec env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
			setpriv --reuid="$user" --regid="$group" --init-groups --no-new-privs \
			--bounding-set=-all --inh-caps=-all -- sh -c "exec $1")
}

# by_hand - true when systemd is not PID 1 here (nothing runs the unit)
by_hand() { [ ! -d /run/systemd/system ]; }

# policy_denies - does /usr/sbin/policy-rc.d forbid dpkg to start services (containers)?
policy_denies()
{
	[ -x /usr/sbin/policy-rc.d ] || return 1
	/usr/sbin/policy-rc.d chapps-milter.service start >/dev/null 2>&1
	[ $? = 101 ]
}

# service_start - start the service; sets MAINPID; false on failure.  Its output must go to a
# file: the milter's child keeps its standard error until it is ready
service_start()
{
	local cmd
	MAINPID=
	if ! by_hand; then
		systemctl restart chapps-milter.service || return 1
		MAINPID=$(systemctl show -p MainPID --value chapps-milter.service)
		[ -n "$MAINPID" ] && [ "$MAINPID" != 0 ]
		return
	fi
	while IFS= read -r cmd; do
		echo "+ $cmd"
		as_unit "$cmd" || return 1
	done < <(unit_value ExecStartPre; unit_value ExecStart)
	started_by_us=1
	MAINPID=$(cat "$PIDFILE" 2>/dev/null)
	[ -n "$MAINPID" ] && kill -0 "$MAINPID" 2>/dev/null
}

# service_reload - systemctl reload, or the unit's ExecReload= lines in order ($MAINPID set)
service_reload()
{
	local cmd
	if ! by_hand; then
		systemctl reload chapps-milter.service
		return
	fi
	while IFS= read -r cmd; do
		cmd=${cmd//\$MAINPID/$MAINPID}
		echo "+ $cmd"
		as_unit "$cmd" || return 1
	done < <(unit_value ExecReload)
}

# service_stop - stop the milter (SIGTERM, as systemd does; bounded wait for its exit)
service_stop()
{
	local i
	if ! by_hand; then
		systemctl stop chapps-milter.service
		return
	fi
	[ -n "$MAINPID" ] || return 0
	kill -TERM "$MAINPID" 2>/dev/null
	# libmilter notices SIGTERM within about 5 s
	for ((i = 0; i < 300; i++)); do
		kill -0 "$MAINPID" 2>/dev/null || { MAINPID=; return 0; }
		sleep 0.05
	done
	return 1
}

# service_restart - stop, then start (by hand: what a changed milter.socket needs)
service_restart() { service_stop && service_start; }

# milter_says SCRIPT-LINES... - the raw client's replies to optneg, connect, then the lines
milter_says()
{
	printf '%s\n' "optneg" "macro C j=mx.deb.test {daemon_name}=submission" \
		"connect client.deb.test 192.0.2.7" "$@" "quit" |
		python3 "$CLIENT" -t 5 -s "$SOCK" 2>&1
}

# gate_reply - the reply text to an unauthenticated MAIL FROM
gate_reply() { milter_says "macro M i=" "mail <mallory@example.com>" | sed -n 's/^mail //p'; }

# usage - "used reserved" of alice's quota, from the state store
usage()
{
	"$CLI" --json show alice --quota 2>>"$W/cli.log" |
		sed -n 's/.*"used":\([0-9]*\),"reserved":\([0-9]*\).*/\1 \2/p'
}

# users_in_db - the number of users in the SQLite policy database
users_in_db() { sqlite3 "$DB" 'SELECT count(*) FROM users;' 2>&1; }

# installed - does dpkg know chapps (installed, or its configuration files left)?
installed()
{
	local st
	st=$(dpkg-query -W -f='${Status}' chapps 2>/dev/null)
	[ -n "$st" ] && [ "${st% not-installed}" = "$st" ]
}

cleanup()
{
	if [ "$started_by_us" = 1 ] && [ -n "$MAINPID" ] && kill -0 "$MAINPID" 2>/dev/null; then
		service_stop || kill -KILL "$MAINPID" 2>/dev/null
	fi
	[ "$made_spool" = 1 ] && rm -rf "$SPOOL"
	if [ "$installed_by_us" = 1 ] && installed; then
		echo "# cleanup: dpkg --purge chapps"
		dpkg --purge chapps >"$W/cleanup.log" 2>&1 || cat "$W/cleanup.log"
	fi
	if [ "${CHAPPS_DEB_KEEP:-0}" = 1 ]; then echo "# kept $W"; else rm -rf "$W"; fi
}

# ---- preconditions ---------------------------------------------------------------------------

[ "$(id -u)" = 0 ] || skip "needs root (it installs and purges the package)"
for tool in dpkg-buildpackage dpkg-source lintian python3 setpriv sqlite3 ss systemd-analyze; do
	command -v "$tool" >/dev/null || hard_error "$tool not found (scripts/deps-debian.sh installs it)"
done
if installed || [ -e /etc/chapps ] || [ -e /var/lib/chapps ]; then
	skip "chapps is already installed here (package, /etc/chapps or /var/lib/chapps);" \
		"this test installs and purges the package, so it runs only where chapps is not" \
		"installed: dpkg --purge chapps (or move those directories away) first"
fi
[ -z "$(ss -Hltn "sport = :$PORT")" ] || hard_error "127.0.0.1:$PORT is already in use"

start_time=$(date +%s)
rm -rf "$W" && mkdir -p "$W/src/chapps" || hard_error "cannot create $W"
trap cleanup EXIT
if by_hand; then
	echo "# systemd is not PID 1 here: the unit's ExecStartPre=/ExecStart=/ExecReload= lines"
	echo "# run by hand as its User= (setpriv: no capabilities, no_new_privs, its UMask=)"
else
	echo "# systemd is PID 1: the unit runs under systemctl"
fi

# ---- 1: build twice ----------------------------------------------------------------------------

# the tree as git knows it (tracked and untracked, not ignored: no build products)
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	# (files deleted but not yet committed are left out)
	(cd "$here" && git ls-files -z --cached --others --exclude-standard |
		tar -cf - --null --ignore-failed-read -T - 2>/dev/null) | tar -xf - -C "$W/src/chapps"
else
	tar -C "$here" --exclude=./build --exclude='./build*' --exclude=autom4te.cache -cf - . |
		tar -xf - -C "$W/src/chapps"
fi
[ -f "$W/src/chapps/debian/control" ] || hard_error "no debian/control in the copy of $here"
cd "$W/src/chapps" || exit 99
v1=$(dpkg-parsechangelog -S Version)
v2="$v1+debtest1"
arch=$(dpkg --print-architecture)
deb1=$W/src/chapps_${v1}_$arch.deb
deb2=$W/src/chapps_${v2}_$arch.deb

run "dpkg-source -b: the source package builds" "$W/source.log" dpkg-source -b .
t0=$(date +%s)
if run "dpkg-buildpackage -us -uc -b builds $v1 (DEB_BUILD_OPTIONS=nocheck)" "$W/build1.log" \
	env DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b; then
	echo "# package build: $(($(date +%s) - t0)) s"
else
	echo "$PASS passed, $FAIL failed"
	exit 1
fi
maint=$(dpkg-parsechangelog -S Maintainer)
{
	printf 'chapps (%s) unstable; urgency=medium\n\n' "$v2"
	printf '  * tests/deb/test-deb.sh: the same sources, to test an upgrade.\n\n'
	printf ' -- %s  %s\n\n' "$maint" "$(date -R)"
	cat debian/changelog
} >"$W/changelog" && cp "$W/changelog" debian/changelog
t0=$(date +%s)
run "dpkg-buildpackage -b -nc builds $v2 from the same build" "$W/build2.log" \
	env DEB_BUILD_OPTIONS="nocheck" dpkg-buildpackage -us -uc -b -nc &&
	echo "# second (binary-only) build: $(($(date +%s) - t0)) s"
cd "$W" || exit 99
[ -f "$deb1" ] && [ -f "$deb2" ] || { notok "both .deb files exist" "$(ls "$W/src")"; exit 1; }

# ---- 2: lintian and the package's contents ---------------------------------------------------

t0=$(date +%s)
if lintian --fail-on error,warning --display-info "$W/src/chapps_$v1.dsc" \
	"$W/src/chapps_${v1}_$arch.changes" >"$W/lintian.log" 2>&1; then
	ok "lintian: no error, no warning (source and binary; overrides carry their reasons)"
else
	notok "lintian: no error, no warning" "$(grep -v 'root privileges' "$W/lintian.log")"
fi
grep -v 'root privileges' "$W/lintian.log" | sed 's/^/# lintian: /'
grep -qv 'root privileges' "$W/lintian.log" || echo "# lintian: no tag at all (--display-info)"
echo "# lintian: $(($(date +%s) - t0)) s"

contents=$(dpkg-deb -c "$deb1")
for f in ./usr/sbin/chapps-milter ./usr/sbin/chapps-cli ./lib/systemd/system/chapps-milter.service \
	./usr/lib/tmpfiles.d/chapps.conf ./etc/chapps/chapps.conf.sample \
	./usr/share/man/man8/chapps-milter.8.gz ./usr/share/man/man8/chapps-cli.8.gz \
	./usr/share/man/man5/chapps.conf.5.gz; do
	if grep -q " $f\$" <<<"$contents"; then ok "the package holds $f"
	else notok "the package holds $f"; fi
done
if grep -qE '^-rw-r----- root/root .* \./etc/chapps/chapps\.conf$' <<<"$contents"; then
	ok "chapps.conf is 0640 in the package (never world-readable)"
else
	notok "chapps.conf is 0640 in the package" "$(grep chapps.conf <<<"$contents")"
fi
has_line "chapps.conf is a conffile" "$(dpkg-deb -I "$deb1" conffiles)" /etc/chapps/chapps.conf

# ---- 3: install --------------------------------------------------------------------------------

installed_by_us=1
run "dpkg -i $v1 (a fresh install)" "$W/install1.log" dpkg -i "$deb1" || exit 1
eq "dpkg: chapps $v1 installed" "$(dpkg-query -W -f='${Status} ${Version}' chapps)" \
	"install ok installed $v1"

IFS=: read -r _ _ uid gid _ home shell <<<"$(getent passwd chapps)"
if [ -n "$uid" ] && [ "$uid" -lt 1000 ]; then ok "the chapps user is a system user (uid $uid)"
else notok "the chapps user is a system user" "getent passwd chapps: $(getent passwd chapps)"; fi
eq "its primary group is chapps" "$(getent group "$gid" | cut -d: -f1)" chapps
eq "its home is /var/lib/chapps, its shell nologin" "$home $shell" "/var/lib/chapps /usr/sbin/nologin"
eq "$CONF: 640 root chapps" "$(stat_of "$CONF")" "640 root chapps"
eq "... kept so by dpkg-statoverride" "$(dpkg-statoverride --list "$CONF")" "root chapps 640 $CONF"
eq "/var/lib/chapps: 750 chapps chapps (tmpfiles.d)" "$(stat_of /var/lib/chapps)" "750 chapps chapps"
eq "/run/chapps: 755 chapps chapps (tmpfiles.d)" "$(stat_of /run/chapps)" "755 chapps chapps"
eq "the policy database was created, owned by chapps" "$(stat -c %U "$DB" 2>&1)" chapps
eq "... with the schema and no user yet" "$(users_in_db)" 0
eq "the state directory belongs to chapps" "$(stat -c '%U %G' /var/lib/chapps/state 2>&1)" \
	"chapps chapps"
eq "chapps-milter.service is enabled" \
	"$(readlink /etc/systemd/system/multi-user.target.wants/chapps-milter.service)" "$UNIT"
eq "the unit runs as User=chapps" "$(unit_value User)" chapps
eq "the unit empties the capability bounding set" "$(unit_value CapabilityBoundingSet)" ""
eq "ExecStartPre= checks the file (chapps-milter -n)" "$(unit_value ExecStartPre)" \
	"/usr/sbin/chapps-milter -n -c $CONF"
eq "ExecReload= checks, then sends SIGUSR1" "$(unit_value ExecReload | tr '\n' '|')" \
	"/usr/sbin/chapps-milter -n -c $CONF|/bin/kill -USR1 \$MAINPID|"
score=$(systemd-analyze security --offline=yes "$UNIT" 2>"$W/analyze.log" |
	sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
echo "# systemd-analyze security --offline=yes: ${score:-no score}"
case $score in
*" SAFE" | *" OK") ok "systemd-analyze security rates the unit OK or better ($score)" ;;
*) notok "systemd-analyze security rates the unit OK or better" "got: $score" \
	"$(tail -5 "$W/analyze.log")" ;;
esac
if by_hand; then
	:
elif policy_denies; then
	echo "# /usr/sbin/policy-rc.d forbids starting services: the postinst did not start the unit"
else
	eq "the postinst started chapps-milter.service" \
		"$(systemctl is-active chapps-milter.service)" active
fi
where=$(command -v chapps-milter)
[ "$where" = /usr/sbin/chapps-milter ] ||
	echo "# note: chapps-milter in PATH is $where, not the package's; this test uses /usr/sbin"

# ---- 4: the service answers on its socket ------------------------------------------------------

# the test's port (the package's default, 10225, may be taken here)
printf 'milter: { socket = "%s"; };\n' "$SOCK" >>"$CONF"
if run "the service starts (ExecStartPre, then ExecStart: forks once it serves)" \
	"$W/start.log" service_start; then
	eq "the milter runs as chapps" "$(ps -o user= -p "$MAINPID")" chapps
	eq "... with no capability left (CapBnd, CapEff)" \
		"$(awk '/^Cap(Bnd|Eff):/ {printf "%s ", $2}' "/proc/$MAINPID/status")" \
		"0000000000000000 0000000000000000 "
	eq "... and no_new_privs" "$(awk '/^NoNewPrivs:/ {print $2}' "/proc/$MAINPID/status")" 1
	eq "the pidfile belongs to chapps" "$(stat -c %U "$PIDFILE")" chapps
	if ! by_hand; then
		eq "systemd: a system call filter is in force (Seccomp: 2)" \
			"$(awk '/^Seccomp:/ {print $2}' "/proc/$MAINPID/status")" 2
		if nsenter -t "$MAINPID" -m touch /etc/chapps/.rw 2>/dev/null; then
			rm -f /etc/chapps/.rw
			notok "systemd: /etc is read-only to the milter (ProtectSystem=strict)"
		else
			ok "systemd: /etc is read-only to the milter (ProtectSystem=strict)"
		fi
		run "systemd: /var/lib/chapps is writable to it (ReadWritePaths=)" "$W/rw.log" \
			nsenter -t "$MAINPID" -m sh -c 'touch /var/lib/chapps/.rw && rm /var/lib/chapps/.rw'
	fi
	eq "an unauthenticated MAIL FROM gets the identity gate's reply" "$(gate_reply)" \
		"REPLYCODE $GATE_REPLY"
	run "chapps-cli: quota debq = 10, alice linked to example.test" "$W/cli.log" sh -c \
		"$CLI quota add debq 10 && $CLI user add alice --quota debq &&
		 $CLI allow alice example.test --create"
	out=$(milter_says "macro M {auth_authen}=alice" "mail <alice@example.test>" \
		"rcpt <bob@dest.test>" "data")
	has_line "alice's message: MAIL CONTINUE" "$out" "mail CONTINUE"
	has_line "... RCPT CONTINUE" "$out" "rcpt CONTINUE"
	has_line "... DATA ACCEPT" "$out" "data ACCEPT"
	eq "its recipient is counted in the state store (used 1)" "$(usage)" "1 0"
fi

# ---- 5: reload -----------------------------------------------------------------------------------

printf 'identity: { no_user_key_reply = "%s"; };\n' "$NEW_REPLY" >>"$CONF"
if [ -n "$MAINPID" ] && run "reload with a changed reply text succeeds" "$W/reload.log" \
	service_reload; then
	# the milter reloads in its signal thread: poll, bounded (5 s)
	for ((i = 0; i < 100; i++)); do
		got=$(gate_reply)
		[ "$got" = "REPLYCODE $NEW_REPLY" ] && break
		sleep 0.05
	done
	eq "the new reply text applies" "$got" "REPLYCODE $NEW_REPLY"
	eq "the milter kept its PID" "$(cat "$PIDFILE")" "$MAINPID"
	cp "$CONF" "$W/good.conf"
	echo 'no_such_setting = 1;' >>"$CONF"
	if service_reload >"$W/reload-bad.log" 2>&1; then
		notok "reload refuses a bad file (chapps-milter -n fails)" "$(cat "$W/reload-bad.log")"
	else
		ok "reload refuses a bad file (chapps-milter -n fails)"
	fi
	eq "the milter still runs the last good configuration" "$(gate_reply)" \
		"REPLYCODE $NEW_REPLY"
	cat "$W/good.conf" >"$CONF"
fi

# ---- 6: a unix socket in Postfix's chroot (the recipe of chapps-milter(8), FILES) --------------

# (the system's python3: a pyenv shim in root's home is out of the other users' reach)
if [ -n "$MAINPID" ] && [ -d /var/spool/postfix ] && getent passwd postfix >/dev/null &&
	[ ! -e "$SPOOL" ] && [ -x /usr/bin/python3 ]; then
	made_spool=1
	install -d -o chapps -g postfix -m 2750 "$SPOOL"
	sed -i "s|socket = \"$SOCK\"|socket = \"unix:$SPOOL/chapps.sock\"|" "$CONF"
	run "the milter restarts on unix:$SPOOL/chapps.sock" "$W/start.log" \
		service_restart
	eq "the socket is 770 chapps postfix (set-group-ID directory, milter.umask 0007)" \
		"$(stat_of "$SPOOL/chapps.sock")" "770 chapps postfix"
	cp "$CLIENT" "$W/milter-client.py" && chmod 0644 "$W/milter-client.py"
	out=$(printf '%s\n' optneg "connect client.deb.test 192.0.2.7" "macro M i=" \
		"mail <mallory@example.com>" quit |
		setpriv --reuid=postfix --regid=postfix --init-groups \
		/usr/bin/python3 "$W/milter-client.py" -t 5 -s "unix:$SPOOL/chapps.sock" 2>&1)
	has_line "the postfix user connects and gets the milter's reply" "$out" \
		"mail REPLYCODE $NEW_REPLY"
	out=$(printf '%s\n' optneg quit |
		setpriv --reuid=nobody --regid=nogroup --clear-groups \
		/usr/bin/python3 "$W/milter-client.py" -t 5 -s "unix:$SPOOL/chapps.sock" 2>&1)
	has_line "another user (nobody) cannot connect" "$out" "error [Errno 13] Permission denied"
	cat "$W/good.conf" >"$CONF"
	run "the milter restarts on $SOCK" "$W/start.log" service_restart
	rm -rf "$SPOOL" && made_spool=0
else
	echo "# skipped the chroot socket: no milter, no Postfix spool or user, no /usr/bin/python3," \
		"or $SPOOL exists"
fi
conf_sum=$(md5sum <"$CONF")

# ---- 7: upgrade ---------------------------------------------------------------------------------

by_hand && echo "# upgrade: the old milter is restarted by hand after dpkg (the postinst would" &&
	echo "# do it through systemctl)"
run "dpkg -i $v2 (upgrade from $v1)" "$W/install2.log" dpkg -i "$deb2"
eq "dpkg: chapps $v2 installed" "$(dpkg-query -W -f='${Status} ${Version}' chapps)" \
	"install ok installed $v2"
eq "the changed chapps.conf is kept" "$(md5sum <"$CONF")" "$conf_sum"
eq "... still 640 root chapps" "$(stat_of "$CONF")" "640 root chapps"
eq "the policy database keeps alice" "$(users_in_db)" 1
eq "the state keeps alice's usage (used 1)" "$(usage)" "1 0"
if by_hand; then
	run "the milter stops (SIGTERM)" "$W/stop.log" service_stop
	run "... and starts again from the upgraded package" "$W/start.log" service_start
else
	old=$MAINPID
	MAINPID=$(systemctl show -p MainPID --value chapps-milter.service)
	if policy_denies; then
		echo "# policy-rc.d forbade the postinst's restart: systemctl restart"
		run "systemctl restart chapps-milter" "$W/start.log" service_start
	elif [ -n "$MAINPID" ] && [ "$MAINPID" != 0 ] && [ "$MAINPID" != "$old" ]; then
		ok "the postinst restarted the service (PID $old, now $MAINPID)"
	else
		notok "the postinst restarted the service" "PID $old before, $MAINPID after"
	fi
fi
eq "after the upgrade the milter answers with the kept configuration" "$(gate_reply)" \
	"REPLYCODE $NEW_REPLY"
out=$(milter_says "macro M {auth_authen}=alice" "mail <alice@example.test>" \
	"rcpt <carol@dest.test>" "data")
has_line "alice's next message is accepted" "$out" "data ACCEPT"
eq "... and counted on top of the kept usage (used 2)" "$(usage)" "2 0"

# ---- 8: remove, purge ---------------------------------------------------------------------------

run "the milter stops" "$W/stop.log" service_stop
run "dpkg -r chapps" "$W/remove.log" dpkg -r chapps
eq "dpkg: config-files remain" "$(dpkg-query -W -f='${Status}' chapps)" \
	"deinstall ok config-files"
if [ ! -e /usr/sbin/chapps-milter ] && [ ! -e "$UNIT" ]; then ok "remove: the programs are gone"
else notok "remove: the programs are gone"; fi
eq "remove keeps chapps.conf" "$(md5sum <"$CONF" 2>&1)" "$conf_sum"
eq "remove keeps the policy database" "$(users_in_db)" 1
if [ -f /var/lib/chapps/state/data.mdb ]; then ok "remove keeps the state"
else notok "remove keeps the state" "$(ls -la /var/lib/chapps/state 2>&1)"; fi
run "dpkg --purge chapps" "$W/purge.log" dpkg --purge chapps
for d in /etc/chapps /var/lib/chapps /run/chapps; do
	if [ ! -e "$d" ]; then ok "purge removes $d"; else notok "purge removes $d" "$(ls -la "$d")"; fi
done
if dpkg-statoverride --list "$CONF" >/dev/null; then
	notok "purge removes the statoverride of chapps.conf"
else
	ok "purge removes the statoverride of chapps.conf"
fi
if [ ! -e /etc/systemd/system/multi-user.target.wants/chapps-milter.service ]; then
	ok "purge removes the unit's enablement"
else
	notok "purge removes the unit's enablement"
fi
if installed; then notok "dpkg: chapps is gone" "$(dpkg-query -W -f='${Status}' chapps)"
else ok "dpkg: chapps is gone"; fi
if getent passwd chapps >/dev/null; then ok "the chapps user stays (Debian practice)"
else notok "the chapps user stays (Debian practice)"; fi

echo "# test-deb.sh: $(($(date +%s) - start_time)) s"
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]

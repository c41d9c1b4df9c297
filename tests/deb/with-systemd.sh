#!/bin/bash
# with-systemd.sh - run test-deb.sh under a real systemd where systemd is not PID 1
#
# Usage: tests/deb/with-systemd.sh [inner]      (as root; under flock /tmp/chapps-check.lock
#                                                beside other tests)
#
# test-deb.sh alone, where systemd is not PID 1 (containers, this project's CI), runs the
# unit's command lines by hand and cannot apply its sandbox.  This script boots the
# machine's own systemd as PID 1 of new mount, PID, cgroup, UTS and IPC namespaces (the
# network is shared), in container mode, with a private /run, a cgroup2 hierarchy of its own
# (a child of /sys/fs/cgroup/unified) and a unit path ($SYSTEMD_UNIT_PATH) of empty stub
# targets, /etc/systemd/system and an empty /lib/systemd/system (a tmpfs inside the
# namespace, where dpkg then installs the package's unit, the only one there; /etc's links
# to the machine's units dangle): nothing else of the machine is started.
# /usr/sbin/policy-rc.d, which forbids service starts in containers, is hidden inside the
# namespace only.  Then test-deb.sh runs inside: dpkg's postinst
# starts the unit, and every start, reload, restart and stop goes through systemctl, with
# the unit's whole sandbox (ProtectSystem=, the system call filter, ...).  At the end the
# namespace's PID 1 is killed, which ends everything in it, and its cgroup is removed.
#
# Needs a cgroup2 hierarchy mounted at /sys/fs/cgroup/unified (hybrid cgroups, as here) or
# at /sys/fs/cgroup.  Exit status: test-deb.sh's, or 99 when systemd cannot be booted.
set -u
here=$(cd "$(dirname "$0")/../.." && pwd)
units=/run/deb-units

if [ "${1:-}" = inner ]; then
	# PID 1 of the new namespaces: a private /run and cgroup2, stub units, then systemd
	set -e
	mount --make-rprivate /
	mount -t tmpfs -o mode=0755 tmpfs /run
	mkdir -p /run/lock "$units"
	mount -t cgroup2 cgroup2 /sys/fs/cgroup
	[ -e /usr/sbin/policy-rc.d ] && mount --bind /dev/null /usr/sbin/policy-rc.d
	for t in sysinit basic network network-online multi-user shutdown deb; do
		printf '[Unit]\nDescription=stub %s\nDefaultDependencies=no\n' "$t" >"$units/$t.target"
	done
	printf '[Unit]\nDescription=System Slice\nDefaultDependencies=no\n' >"$units/system.slice"
	# the machine's units out of sight (inside the namespace only): dpkg installs the
	# package's unit into this empty directory, and /etc's links to the others dangle
	mount -t tmpfs -o mode=0755 tmpfs /lib/systemd/system
	exec env -i container=chapps-deb-test \
		SYSTEMD_UNIT_PATH="$units:/etc/systemd/system:/lib/systemd/system" \
		PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
		/lib/systemd/systemd --system --unit=deb.target --show-status=no
fi

[ "$(id -u)" = 0 ] || { echo "# SKIP: needs root"; exit 77; }
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
	cg=/sys/fs/cgroup/chapps-deb-test
elif [ -f /sys/fs/cgroup/unified/cgroup.controllers ]; then
	cg=/sys/fs/cgroup/unified/chapps-deb-test
else
	echo "ERROR: no cgroup2 hierarchy"; exit 99
fi
mkdir -p "$cg" || exit 99
# the launcher moves itself into the new cgroup, then becomes unshare (and systemd)
sh -c "echo \$\$ >'$cg/cgroup.procs' && exec unshare --cgroup --mount --pid --fork --uts \
	--ipc --mount-proc '$here/tests/deb/with-systemd.sh' inner" >/tmp/chapps-deb-systemd.log 2>&1 &
launcher=$!
init=
for ((i = 0; i < 200; i++)); do
	init=$(pgrep -P "$launcher" -x systemd)
	[ -n "$init" ] && nsenter -t "$init" -m -p systemctl is-system-running 2>/dev/null |
		grep -qE 'running|degraded' && break
	sleep 0.05
done
finish()
{
	[ -n "$init" ] && kill -KILL "$init" 2>/dev/null
	wait "$launcher" 2>/dev/null
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
}
trap finish EXIT
if [ -z "$init" ] || ! nsenter -t "$init" -m -p systemctl is-system-running 2>/dev/null |
	grep -qE 'running|degraded'; then
	echo "ERROR: systemd did not boot in its namespaces"
	cat /tmp/chapps-deb-systemd.log
	exit 99
fi
echo "# systemd $(systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p') runs as PID 1" \
	"of its own namespaces (host PID $init)"
nsenter -t "$init" -m -p -C -u -i "$here/tests/deb/test-deb.sh"

#!/bin/sh
# setup-debian.sh - from a fresh clone on Debian 12: install the dependencies, build the
# Debian package (debian/) and install it, then run chapps-milter on the embedded defaults
# (LMDB state, SQLite policy data, socket inet:10225@127.0.0.1).
#
# The package creates the chapps user, /etc/chapps/chapps.conf (0640 root:chapps),
# /var/lib/chapps with the policy database, and enables and starts chapps-milter.service.
# Where systemd is not PID 1 (a container), nothing starts the service: this script then
# runs the unit's commands itself, as user chapps without any capability, in the
# foreground (Ctrl-C stops it).
#
# The package is built in build/deb/ (ignored by git) from a copy of the tree as git knows
# it, with DEB_BUILD_OPTIONS=nocheck (scripts/test-all.sh runs the tests); the .deb files
# stay there.  An existing /etc/chapps/chapps.conf is kept.  Run again to rebuild and
# reinstall; `dpkg --purge chapps` removes everything, state included.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps-debian.sh"

work=$here/build/deb
rm -rf "$work"
mkdir -p "$work/chapps"
if git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$here" && git ls-files -z --cached --others --exclude-standard |
		tar -cf - --null --ignore-failed-read -T - 2>/dev/null) | tar -xf - -C "$work/chapps"
else
	tar -C "$here" --exclude=./build --exclude=autom4te.cache -cf - . | tar -xf - -C "$work/chapps"
fi
echo "building the package in $work"
(cd "$work/chapps" &&
	DEB_BUILD_OPTIONS="nocheck parallel=$(nproc)" dpkg-buildpackage -us -uc -b) \
	>"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log"; exit 1; }
deb=$(ls "$work"/chapps_*.deb)
# --force-confold: a chapps.conf from an earlier `make install` stays as it is
DEBIAN_FRONTEND=noninteractive dpkg -i --force-confdef --force-confold "$deb"

for f in /usr/local/sbin/chapps-milter /usr/local/sbin/chapps-cli; do
	if [ -e "$f" ]; then
		echo "note: $f (an earlier make install) comes before the package's /usr/sbin" \
			"in PATH; remove it (make uninstall in its build directory)" >&2
	fi
done

if [ -d /run/systemd/system ]; then
	systemctl --no-pager status chapps-milter.service
	echo "chapps-milter runs as a service: systemctl reload|restart|stop chapps-milter"
	exit 0
fi
echo "systemd is not PID 1 here: running the unit's commands by hand, as user chapps"
echo "starting chapps-milter in the foreground (Ctrl-C stops it)"
cd /
umask 0077
setpriv --reuid=chapps --regid=chapps --init-groups --no-new-privs --bounding-set=-all \
	--inh-caps=-all /usr/sbin/chapps-milter -n
exec setpriv --reuid=chapps --regid=chapps --init-groups --no-new-privs --bounding-set=-all \
	--inh-caps=-all /usr/sbin/chapps-milter -f

#!/bin/sh
# setup-debian.sh - from a fresh clone on Debian 12: install the dependencies, build,
# install under /usr/local (config in /etc/chapps, state in /var/lib/chapps), create the
# chapps user and the policy database, and start chapps-milter in the foreground on the
# embedded defaults (LMDB state, SQLite policy data, socket inet:10225@127.0.0.1).
# Stop it with Ctrl-C.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps-debian.sh"
cd "$here"
autoreconf -fi >/dev/null
# build beside the sources (build/), so the tree stays clean for scripts/test-all.sh
mkdir -p build
cd build
../configure -q --sysconfdir=/etc --localstatedir=/var --runstatedir=/run
make -j"$(nproc)" >/dev/null
make install >/dev/null
getent group chapps >/dev/null || groupadd --system chapps
getent passwd chapps >/dev/null ||
	useradd --system --gid chapps --home-dir /var/lib/chapps --shell /usr/sbin/nologin chapps
install -d -o chapps -g chapps -m 0750 /var/lib/chapps
install -d -o chapps -g chapps -m 0755 /run/chapps
[ -f /etc/chapps/chapps.conf ] || install -m 0644 /dev/null /etc/chapps/chapps.conf
/usr/local/sbin/chapps-cli admin db-setup
/usr/local/sbin/chapps-milter -n
echo "starting chapps-milter in the foreground (Ctrl-C stops it)"
exec /usr/local/sbin/chapps-milter -f

#!/bin/sh
# deps-debian.sh - install everything chapps needs to build, run and test on Debian 12.
# Idempotent; needs root.  Services are NOT started here: the tests start private
# instances of Postfix, Redis and MariaDB on loopback themselves.  The Debian package
# (debian/, scripts/setup-debian.sh, tests/deb) needs debhelper, dh-autoreconf, lintian
# and fakeroot, all from Debian 12's archive; its test, systemd-analyze (systemd).
set -eu
if [ "$(id -u)" != 0 ]; then
	echo "deps-debian.sh: run as root (sudo)" >&2
	exit 1
fi
# Postfix must not ask questions nor write a system main.cf.
echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
echo "postfix postfix/mailname string chapps.invalid" | debconf-set-selections
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Recommended packages too: clang's fuzzer and sanitizer runtimes (libclang-rt-14-dev) and
# swaks' helpers come as recommendations; a fresh machine must get what this one has.
apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
	build-essential autoconf automake libtool pkg-config clang libclang-rt-14-dev \
	libmilter-dev libconfig-dev check libsubunit-dev liblmdb-dev lmdb-utils \
	libhiredis-dev libsqlite3-dev sqlite3 libmariadb-dev libspf2-dev \
	libmicrohttpd-dev libjansson-dev libsodium-dev libcurl4-gnutls-dev curl jq \
	redis-server redis-sentinel mariadb-server mariadb-client \
	postfix sasl2-bin libsasl2-modules swaks miltertest valgrind \
	python3 procps iproute2 groff-base man-db \
	debhelper dh-autoreconf lintian fakeroot dpkg-dev adduser systemd >/dev/null

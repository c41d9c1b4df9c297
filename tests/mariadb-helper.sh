#!/bin/sh
# mariadb-helper.sh - a private MariaDB server for the policydb tests
#
#   mariadb-helper.sh start DIR PORT   initialise DIR/data, start mariadbd on
#                                      127.0.0.1:PORT (socket DIR/sock), create
#                                      user chapps@127.0.0.1 (password "chapps")
#                                      allowed to create databases chapps_*
#   mariadb-helper.sh stop DIR         stop the server started in DIR
#
# start exits 77 when mariadbd or mariadb-install-db is not installed, 1 when
# the server does not come up (its log is printed).  Readiness is polled
# (a query every 20 ms, at most 15 s), never assumed after a fixed sleep.

set -u
PATH=$PATH:/usr/sbin:/usr/libexec:/usr/local/sbin

find_prog() {
	for p in "$@"; do
		if command -v "$p" >/dev/null 2>&1; then
			command -v "$p"
			return 0
		fi
	done
	return 1
}

# alive PID - is the process running (not gone, not a zombie)?
alive() {
	if [ -r "/proc/$1/stat" ]; then
		state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
		[ -n "$state" ] && [ "$state" != Z ]
	else
		kill -0 "$1" 2>/dev/null
	fi
}

start() {
	dir=$1 port=$2
	mysqld=$(find_prog mariadbd mysqld) || { echo "mariadbd not installed" >&2; exit 77; }
	installdb=$(find_prog mariadb-install-db mysql_install_db) ||
		{ echo "mariadb-install-db not installed" >&2; exit 77; }
	client=$(find_prog mariadb mysql) || { echo "mariadb client not installed" >&2; exit 77; }
	mkdir -p "$dir" || exit 1
	user_opt=
	[ "$(id -u)" = 0 ] && user_opt=--user=root
	if ! "$installdb" --no-defaults --datadir="$dir/data" $user_opt \
		--auth-root-authentication-method=normal --skip-test-db \
		>"$dir/install.log" 2>&1; then
		cat "$dir/install.log" >&2
		exit 1
	fi
	"$mysqld" --no-defaults --datadir="$dir/data" --socket="$dir/sock" \
		--port="$port" --bind-address=127.0.0.1 --pid-file="$dir/pid" \
		--log-error="$dir/error.log" --skip-name-resolve --skip-log-bin \
		--innodb-buffer-pool-size=16M --innodb-log-file-size=8M \
		--innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
		$user_opt </dev/null >/dev/null 2>&1 &
	echo $! >"$dir/server.pid"
	i=0
	until "$client" --no-defaults -S "$dir/sock" -u root -e 'SELECT 1' >/dev/null 2>&1; do
		i=$((i + 1))
		if [ $i -gt 750 ] || ! alive "$(cat "$dir/server.pid")"; then
			echo "mariadbd did not start:" >&2
			cat "$dir/error.log" >&2
			stop "$dir"
			exit 1
		fi
		sleep 0.02
	done
	"$client" --no-defaults -S "$dir/sock" -u root -e "
		CREATE USER 'chapps'@'127.0.0.1' IDENTIFIED BY 'chapps';
		GRANT ALL PRIVILEGES ON \`chapps\\_%\`.* TO 'chapps'@'127.0.0.1';" ||
		{ stop "$dir"; exit 1; }
}

stop() {
	dir=$1
	[ -f "$dir/server.pid" ] || return 0
	pid=$(cat "$dir/server.pid")
	kill "$pid" 2>/dev/null
	i=0
	while alive "$pid"; do
		i=$((i + 1))
		if [ $i -gt 500 ]; then
			kill -9 "$pid" 2>/dev/null
			break
		fi
		sleep 0.02
	done
	rm -f "$dir/server.pid"
}

case ${1-} in
start) [ $# -eq 3 ] || exit 2; start "$2" "$3" ;;
stop) [ $# -eq 2 ] || exit 2; stop "$2" ;;
*) echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac

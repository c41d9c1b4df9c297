#!/usr/bin/env bash
# soak.sh - chapps-milter under steady load for a long time: memory, descriptors, replies
#
# Usage: scripts/soak.sh [MINUTES]          (default 30; not part of CI)
#
# Starts a private redis-server (127.0.0.1:16875, no persistence) and chapps-milter
# (inet:16876@127.0.0.1; gate + sender-domain authorization + quota, quota state in that
# Redis, SQLite policy data with users u0..u999 allowed to send as bench.test), then drives
# the milter through the milter protocol with bench/chapps-bench at a steady paced load in
# runs of 30 seconds.  On the way:
#   - SIGUSR1 (reload the configuration) in the middle of every other run, under load; each
#     reload must log "configuration reloaded";
#   - at half time, a Redis restart: the load pauses, Redis is stopped, a 5-second run checks
#     that every recipient is refused with a temporary failure (quota.on_error = tempfail)
#     while Redis is away, Redis is started again on the same port, and every later run must
#     be accepted in full (the store reconnects by itself).
# Every other run must see only accepted messages.  After a 30-second warm-up run (caches
# and the Redis connection pool filled) the milter's RSS (VmRSS, kB) and open descriptors
# (/proc/PID/fd) are taken as the start figures; they are sampled after every run and taken
# again at the end, each time after the run has ended (so the load's own connections are
# closed).  The Redis connection pool (store.redis.pool_size, 16 here) and the SQLite
# handle pool (POLICYDB_POOL_MAX, 16) open connections when concurrency first needs them,
# at any time of the run, and keep them; so "no descriptor growth" means: every descriptor
# that is not a pooled one (not a socket, not policy.db*) is the same at the end as at the
# start, the sockets are at most the listener plus the Redis pool, the SQLite files at most
# two per pooled handle.  The count of each kind is printed at the start and the end.
#
# Environment:
#   SOAK_BUILDDIR  directory with chapps-milter, chapps-cli, bench/chapps-bench [$PWD];
#                  bench/chapps-bench is built there (make bench/chapps-bench) if missing
#   SOAK_RATE      messages per second [200]     SOAK_CONNS  connections [8]
#   SOAK_KEEP=1    keep the work directory (logs, configs)
#
# Output: one line per run (elapsed, messages, RSS, descriptors, unexpected replies), then
#   soak: M minutes, N messages, R reloads, 1 Redis restart, U unexpected; RSS start X kB end Y kB;
#   fds start A end B
# Exit 0 when every reply was the expected one, every reload was applied, the milter is
# still up, its descriptors did not grow (above) and its RSS grew by less than 20 %; 1
# otherwise.  RSS includes what the pools' connections hold, so it rises with them.
#
# Everything listens on 127.0.0.1 only; every process is started in the background,
# recorded by PID and stopped by that PID (also on failure, by the EXIT trap).

set -u
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

MINUTES=${1:-30}
case $MINUTES in '' | *[!0-9]* | 0) echo "usage: $0 [MINUTES]" >&2; exit 2 ;; esac
B=${SOAK_BUILDDIR:-$PWD}
MILTER=$B/chapps-milter
CLI=$B/chapps-cli
BENCH=$B/bench/chapps-bench
RATE=${SOAK_RATE:-200}
CONNS=${SOAK_CONNS:-8}
P_REDIS=16875 P_MILTER=16876
RUN_SECS=30

W=
declare -A PID=()
FAILURES=()

# alive PID - PID exists and is not a zombie
alive()
{
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# listening PORT - something listens on 127.0.0.1:PORT
listening() { [ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]; }

# start NAME PORT CMD... - start CMD in the background, record its PID, poll until PORT
# listens (10 s)
start()
{
	local name=$1 port=$2 i; shift 2
	if listening "$port"; then
		echo "soak: port 127.0.0.1:$port is already in use" >&2
		return 1
	fi
	"$@" </dev/null >>"$W/$name.log" 2>&1 &
	PID[$name]=$!
	for ((i = 0; i < 200; i++)); do
		listening "$port" && return 0
		alive "${PID[$name]}" || break
		sleep 0.05
	done
	echo "soak: $name did not come up on port $port:" >&2
	tail -n 20 "$W/$name.log" >&2
	return 1
}

# stop NAME - SIGTERM by its recorded PID, wait until gone (KILL after 15 s)
stop()
{
	local pid=${PID[$1]:-} i
	[ -n "$pid" ] || return 0
	alive "$pid" && kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 300; i++)); do
		alive "$pid" || break
		sleep 0.05
	done
	alive "$pid" && kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	unset "PID[$1]"
}

cleanup()
{
	local rc=$? name
	trap - EXIT
	for name in "${!PID[@]}"; do stop "$name"; done
	if [ -n "$W" ] && [ -d "$W" ]; then
		if [ "${SOAK_KEEP:-0}" = 1 ]; then echo "soak: kept $W"; else rm -rf "$W"; fi
	fi
	exit $rc
}

start_redis()
{
	start redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$W/redis" --protected-mode yes || return 1
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(redis-cli -p "$P_REDIS" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	return 1
}

# rss / fds - the milter's VmRSS (kB) and open descriptors
rss() { awk '$1 == "VmRSS:" { print $2 }' "/proc/${PID[milter]}/status" 2>/dev/null; }
fds() { ls "/proc/${PID[milter]}/fd" 2>/dev/null | wc -l; }

# fd_kinds - the milter's descriptors by kind: "COUNT TARGET" lines (sockets, pipes as one)
fd_kinds()
{
	ls -l "/proc/${PID[milter]}/fd" 2>/dev/null | awk 'NR > 1 { print $NF }' |
		sed 's/:\[[0-9]*\]//' | sort | uniq -c | awk '{ print $1, $2 }'
}

# fd_line - fd_kinds on stdin as one line
fd_line() { awk '{ printf "%s%s x%s", (NR > 1 ? ", " : ""), $2, $1 }'; }

# kv KEY LINE - the value of KEY in a chapps-bench -q line
kv()
{
	local s=" $2"
	case $s in *" $1="*) ;; *) echo 0; return ;; esac
	s=${s##* "$1"=}
	echo "${s%% *}"
}

# load SECONDS - one paced run; prints the -q line (stderr to bench.err)
load()
{
	"$BENCH" -q -l soak -s "inet:$P_MILTER@127.0.0.1" -c "$CONNS" -k 50 -u 1000 -R "$RATE" \
		-m "$((RATE * $1))" -t "$(($1 + 30))" 2>>"$W/bench.err"
}

main()
{
	local t0 end half restarted=0 reloads=0 msgs=0 unexpected=0 line rss0 fds0 other0 i n
	for f in "$MILTER" "$CLI"; do
		[ -x "$f" ] || { echo "soak: $f is missing (set SOAK_BUILDDIR)" >&2; exit 1; }
	done
	if [ ! -x "$BENCH" ]; then
		make -C "$B" bench/chapps-bench >/dev/null || { echo "soak: cannot build $BENCH" >&2; exit 1; }
	fi
	command -v redis-server >/dev/null && command -v redis-cli >/dev/null ||
		{ echo "soak: redis-server and redis-cli are needed" >&2; exit 1; }
	W=$(mktemp -d /tmp/chapps-soak.XXXXXX) || exit 1
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	chmod 755 "$W"
	mkdir -p "$W/redis"
	cat >"$W/chapps.conf" <<EOF
milter:    { socket = "inet:$P_MILTER@127.0.0.1"; user = ""; group = ""; pidfile = "";
             run_as_root = true; };
log:       { level = "info"; };
identity:  { user_key = "sasl_username"; require_user_key = true; };
outbound:  { policies = [ "sender_domain_auth", "quota" ]; };
quota:     { on_error = "tempfail"; };
store:     { backend = "redis"; redis: { server = "127.0.0.1"; port = $P_REDIS; }; };
policy_db: { backend = "sqlite"; path = "$W/policy.db"; };
EOF
	"$CLI" -c "$W/chapps.conf" admin db-setup >/dev/null &&
	"$CLI" -c "$W/chapps.conf" quota add soak 1000000000 >/dev/null &&
	"$CLI" -c "$W/chapps.conf" user add u0 --quota soak >/dev/null &&
	"$CLI" -c "$W/chapps.conf" allow u0 bench.test --create >/dev/null ||
		{ echo "soak: cannot build the policy database" >&2; exit 1; }
	if command -v sqlite3 >/dev/null; then
		sqlite3 "$W/policy.db" <<EOF || exit 1
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 999)
	INSERT INTO users (name) SELECT 'u' || x FROM c;
INSERT INTO quota_user (user_id, quota_id) SELECT u.id, q.id FROM users u, quotas q
	WHERE q.name = 'soak' AND u.name <> 'u0';
INSERT INTO domain_user (user_id, domain_id) SELECT u.id, d.id FROM users u, domains d
	WHERE d.name = 'bench.test' AND u.name <> 'u0';
COMMIT;
EOF
	else
		for ((i = 1; i < 1000; i++)); do
			"$CLI" -c "$W/chapps.conf" user add "u$i" --quota soak >/dev/null &&
			"$CLI" -c "$W/chapps.conf" allow "u$i" bench.test >/dev/null || exit 1
		done
	fi
	start_redis || { echo "soak: redis-server did not start" >&2; exit 1; }
	start milter "$P_MILTER" "$MILTER" -f -c "$W/chapps.conf" || exit 1

	echo "soak: $MINUTES min at $RATE msg/s over $CONNS connections, milter PID ${PID[milter]} ($W)"
	line=$(load 30)
	[ "$(kv unexpected "$line")" = 0 ] && [ "$(kv conn_errors "$line")" = 0 ] ||
		FAILURES+=("warm-up: $line")
	msgs=$(kv msgs "$line")
	rss0=$(rss) fds0=$(fds) other0=$(fd_kinds | awk '$2 != "socket" && $2 !~ /policy\.db/')
	echo "  descriptors at the start: $(fd_kinds | fd_line)"
	printf '%6s %9s %9s %5s %10s\n' "min" "messages" "RSS kB" "fds" "unexpected"
	printf '%6s %9s %9s %5s %10s\n' "0.0" "$msgs" "$rss0" "$fds0" 0
	t0=$SECONDS
	end=$((t0 + MINUTES * 60))
	half=$((t0 + MINUTES * 30))
	n=0
	while [ $SECONDS -lt "$end" ]; do
		n=$((n + 1))
		if [ $restarted = 0 ] && [ $SECONDS -ge "$half" ]; then
			# Redis away: every recipient refused with a temporary failure
			restarted=1
			stop redis
			line=$(load 5)
			if [ "$(kv accepted "$line")" != 0 ] ||
			   [ "$(kv rcpt_refused "$line")" != "$(kv msgs "$line")" ] ||
			   [ "$(kv msgs "$line")" = 0 ] ||
			   ! tail -n 3 "$W/bench.err" | grep -q tempfail; then
				FAILURES+=("Redis down: want every RCPT tempfailed, got: $line")
			fi
			echo "  Redis stopped: $(kv msgs "$line") messages, $(kv rcpt_refused "$line") recipients refused ($(tail -n 1 "$W/bench.err" | grep -oE 'tempfail|reject' | head -1))"
			start_redis || { FAILURES+=("redis-server did not restart"); break; }
			echo "  Redis restarted"
		fi
		local secs=$RUN_SECS
		[ $((end - SECONDS)) -lt $secs ] && secs=$((end - SECONDS))
		[ $secs -lt 1 ] && secs=1
		load "$secs" >"$W/run.out" &
		local bpid=$!
		if ((n % 2 == 1)); then
			sleep $((secs / 2))
			kill -USR1 "${PID[milter]}" && reloads=$((reloads + 1))
		fi
		wait "$bpid"
		line=$(cat "$W/run.out")
		msgs=$((msgs + $(kv msgs "$line")))
		i=$(( $(kv unexpected "$line") + $(kv conn_errors "$line") ))
		[ "$(kv msgs "$line")" -gt 0 ] || i=$((i + 1))
		unexpected=$((unexpected + i))
		[ $i = 0 ] || FAILURES+=("run $n: $line; $(tail -n 1 "$W/bench.err")")
		alive "${PID[milter]}" || { FAILURES+=("the milter died"); break; }
		printf '%6s %9s %9s %5s %10s\n' "$(awk -v s=$((SECONDS - t0)) 'BEGIN { printf "%.1f", s / 60 }')" \
			"$msgs" "$(rss)" "$(fds)" "$unexpected"
	done
	local rss1 fds1 applied
	rss1=$(rss) fds1=$(fds)
	applied=$(grep -c 'configuration reloaded' "$W/milter.log")
	[ "$applied" = "$reloads" ] || FAILURES+=("$reloads SIGUSR1 sent, $applied reloads logged")
	echo "  descriptors at the end: $(fd_kinds | fd_line)"
	[ "$(fd_kinds | awk '$2 != "socket" && $2 !~ /policy\.db/')" = "$other0" ] ||
		FAILURES+=("descriptors other than pooled connections changed")
	[ "$(fd_kinds | awk '$2 == "socket" { n = $1 } END { print n + 0 }')" -le 17 ] ||
		FAILURES+=("more sockets than the listener and a Redis pool of 16")
	[ "$(fd_kinds | awk '$2 ~ /policy\.db(-wal)?$/ { n += $1 } END { print n + 0 }')" -le 32 ] ||
		FAILURES+=("more SQLite files than 16 pooled handles hold")
	[ "${rss1:-0}" -gt 0 ] && [ $((rss1 * 100)) -lt $((rss0 * 120)) ] ||
		FAILURES+=("RSS grew by 20 % or more: $rss0 -> ${rss1:-?} kB")
	echo "soak: $(awk -v s=$((SECONDS - t0)) 'BEGIN { printf "%.1f", s / 60 }') minutes," \
		"$msgs messages, $reloads reloads ($applied logged), $restarted Redis restart," \
		"$unexpected unexpected; RSS start $rss0 kB end $rss1 kB; fds start $fds0 end $fds1"
	if [ ${#FAILURES[@]} -gt 0 ]; then
		printf 'FAILED: %s\n' "${FAILURES[@]}"
		return 1
	fi
	echo "every reply was the expected one"
}

main "$@"

#!/usr/bin/env bash
# farm.sh - three chapps-milter hosts sharing Redis behind Sentinel, under load, through faults
#
# Usage: tests/farm/farm.sh            (make check runs it with short phases)
#        FARM_PHASE=20 tests/farm/farm.sh   (the full run of docs/BENCHMARKS.md)
#
# The hosts are network namespaces the test makes itself: "db" holds Redis (a master and
# two replicas) and three sentinels (quorum 2), all on 10.231.0.1; "m1".."m3" each hold a
# chapps-milter (identity gate, sender-domain authorization, quota; quota.on_error =
# tempfail) on their own loopback, joined to "db" by a veth pair (10.231.N.2 <-> 10.231.N.1).
# Nothing is reachable from outside the namespaces and nothing in them reaches out.  The
# three milters share one SQLite policy file (users u0..u(USERS-1), one quota of QUOTA
# messages a day, all allowed to send as bench.test) and, through Sentinel, one Redis, so
# the users' quotas are shared by the farm.
#
# Each milter gets a steady paced load from bench/chapps-bench in its own namespace, in
# one-second ticks (RATE messages each, 4 connections, 5 messages per connection, every
# user in turn), while the test goes through the phases, PHASE seconds each:
#   steady         no fault
#   master-killed  SIGKILL of the Redis master; the sentinels promote a replica
#   partition      db drops what it would send to m2: m2's packets to Redis and the
#                  sentinels get no answer (no reset), so its calls run into their timeouts
#   healed         the route is back
#   replica-restart  one replica is stopped (SIGTERM) and started again
#   after          no fault
# Figures, per phase and milter (a tick counts in the phase in which it ends): messages accepted, refused by the quota (the users run
# out of quota during the run, on purpose), tempfailed (on_error while Redis is away),
# connection errors; the time from each fault to the first clean tick of each milter
# (one-second resolution); the failover's duration as the sentinels report it; and the
# quota overshoot: the milters' logs give every accepted message's user, and any user
# with more than QUOTA accepted messages is over by the difference.  An asynchronous
# replica may miss the last writes of a master killed with SIGKILL, so an overshoot is
# possible with FARM_WAIT=0 (it is reported); FARM_WAIT=1 sets store.redis.wait_replicas.
#
# Checked (exit 1 when not): every milter is still running at the end, no connection
# error (every message got a verdict, none hung beyond chapps-bench's own timeout), no
# message refused or tempfailed in the steady phase, every milter back to clean ticks in
# the last phase, the sentinels elected a new master, and with FARM_WAIT >= 1 no
# overshoot.  Exit 77 (skip) without root, ip netns, redis-server or redis-sentinel.
#
# Environment: CHAPPS_MILTER, CHAPPS_CLI (set by make check), CHAPPS_BENCH
# [dir of CHAPPS_MILTER/bench/chapps-bench]; FARM_PHASE [3] seconds per phase,
# FARM_RATE [100] messages per second per milter, FARM_USERS [60], FARM_WAIT [0],
# FARM_KEEP=1 keeps the work directory.

set -u
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

skip() { echo "SKIP: $*"; exit 77; }

MILTER=${CHAPPS_MILTER:-$PWD/chapps-milter}
CLI=${CHAPPS_CLI:-$(dirname "$MILTER")/chapps-cli}
BENCH=${CHAPPS_BENCH:-$(dirname "$MILTER")/bench/chapps-bench}
PHASE=${FARM_PHASE:-3}
RATE=${FARM_RATE:-100}
USERS=${FARM_USERS:-60}
WAITR=${FARM_WAIT:-0}
REDIS=${REDIS_SERVER:-$(command -v redis-server)}
SENTINEL=$(command -v redis-sentinel || echo "$(dirname "${REDIS:-/x}")/redis-sentinel")
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"
[ -n "$REDIS" ] && [ -x "$REDIS" ] && [ -x "$SENTINEL" ] || skip "needs redis-server and redis-sentinel"
command -v ip >/dev/null || skip "needs ip (iproute2)"
for f in "$MILTER" "$CLI" "$BENCH"; do
	[ -x "$f" ] || { echo "farm: $f is missing" >&2; exit 1; }
done
# each user runs out of quota about half-way through the run (after the master's death)
QUOTA=${FARM_QUOTA:-$((3 * RATE * PHASE * 3 / USERS))}
[ "$QUOTA" -ge 5 ] || QUOTA=5

NS=cf$$
DBNS=$NS-db
DB=10.231.0.1
PORTS_REDIS=(6379 6380 6381)
PORTS_SENT=(26379 26380 26381)
MPORT=16990
W=$(mktemp -d /tmp/chapps-farm.XXXXXX) || exit 1
chmod 755 "$W"
declare -A PID=() PORT_PID=()
FAILURES=()
T0=$(date +%s.%N)

cleanup()
{
	local rc=$? name i
	trap - EXIT
	touch "$W/stop"
	for name in "${!PID[@]}"; do kill -KILL "${PID[$name]}" 2>/dev/null; done
	wait 2>/dev/null
	for i in db m1 m2 m3; do ip netns del "$NS-$i" 2>/dev/null; done
	if [ "${FARM_KEEP:-0}" = 1 ]; then echo "farm: kept $W"; else rm -rf "$W"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# nsx NS CMD... - run CMD in namespace NS ("db", "m1"...)
nsx() { local n=$1; shift; ip netns exec "$NS-$n" "$@"; }

# now - seconds since the start, with milliseconds
now() { awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'; }

# rcli PORT ARGS... - redis-cli to a server in db
rcli() { local p=$1; shift; nsx db redis-cli -h "$DB" -p "$p" "$@" 2>/dev/null; }

# until_true TIMEOUT_S CMD... - poll CMD every 50 ms until it succeeds (TIMEOUT_S at most)
until_true()
{
	local end=$((SECONDS + $1)); shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# net - the four namespaces and their links
net()
{
	local i
	for i in db m1 m2 m3; do
		ip netns add "$NS-$i" || return 1
		nsx "$i" ip link set lo up || return 1
	done
	nsx db ip addr add "$DB/32" dev lo || return 1
	for i in 1 2 3; do
		ip -n "$DBNS" link add "v$i" type veth peer name vh netns "$NS-m$i" || return 1
		nsx db ip addr add "10.231.$i.1/24" dev "v$i" && nsx db ip link set "v$i" up &&
		nsx "m$i" ip addr add "10.231.$i.2/24" dev vh && nsx "m$i" ip link set vh up &&
		nsx "m$i" ip route add "$DB/32" via "10.231.$i.1" || return 1
	done
}

# redis_start I [MASTER_PORT] - Redis server I in db (0: the first master), a replica of
# MASTER_PORT (default: server 0's port; none for server 0)
redis_start()
{
	local i=$1 p=${PORTS_REDIS[$1]} extra=()
	mkdir -p "$W/redis$i"
	[ "$i" -gt 0 ] && extra=(--replicaof "$DB" "${2:-${PORTS_REDIS[0]}}")
	ip netns exec "$DBNS" "$REDIS" --bind "$DB" --port "$p" --save '' --appendonly no --dir "$W/redis$i" \
		--repl-diskless-sync yes --repl-diskless-sync-delay 0 --protected-mode no \
		"${extra[@]}" </dev/null >>"$W/redis$i.log" 2>&1 &
	PID[redis$i]=$!
	PORT_PID[$p]=$!
	until_true 10 rcli "$p" ping >/dev/null
}

# sentinel_start I
sentinel_start()
{
	local i=$1 p=${PORTS_SENT[$1]}
	mkdir -p "$W/sentinel$i"
	cat >"$W/sentinel$i/sentinel.conf" <<EOF
bind $DB
port $p
protected-mode no
dir $W/sentinel$i
sentinel monitor farm $DB ${PORTS_REDIS[0]} 2
sentinel down-after-milliseconds farm 2000
sentinel failover-timeout farm 10000
sentinel parallel-syncs farm 2
EOF
	ip netns exec "$DBNS" "$SENTINEL" "$W/sentinel$i/sentinel.conf" </dev/null >>"$W/sentinel$i.log" 2>&1 &
	PID[sentinel$i]=$!
	until_true 10 rcli "$p" ping >/dev/null
}

# master_port - the master's port as sentinel 0 says
master_port() { rcli "${PORTS_SENT[0]}" SENTINEL get-master-addr-by-name farm | sed -n 2p; }

# new_master OLD - the sentinels name a master other than port OLD
new_master() { local p; p=$(master_port); [ -n "$p" ] && [ "$p" != "$1" ]; }

# synced - both replicas of the first master are online and the sentinels know them
synced()
{
	[ "$(rcli "${PORTS_REDIS[0]}" INFO replication | grep -c 'state=online')" = 2 ] &&
	rcli "${PORTS_SENT[0]}" SENTINEL replicas farm | grep -q . &&
	[ "$(rcli "${PORTS_SENT[0]}" SENTINEL sentinels farm | grep -c '^name$')" = 2 ]
}

setup_policy()
{
	cat >"$W/chapps.conf" <<EOF
milter:    { socket = "inet:$MPORT@127.0.0.1"; user = ""; group = ""; pidfile = "";
             run_as_root = true; };
log:       { level = "info"; };
identity:  { user_key = "sasl_username"; require_user_key = true; };
outbound:  { policies = [ "sender_domain_auth", "quota" ]; };
quota:     { on_error = "tempfail"; };
sender_domain_auth: { on_error = "tempfail"; };
store:     { backend = "redis";
             redis: { sentinel_servers = [ "$DB:${PORTS_SENT[0]}", "$DB:${PORTS_SENT[1]}",
                                           "$DB:${PORTS_SENT[2]}" ];
                      sentinel_dataset = "farm"; wait_replicas = $WAITR;
                      connect_timeout_ms = 300; command_timeout_ms = 500; }; };
policy_db: { backend = "sqlite"; path = "$W/policy.db"; };
EOF
	# the policy data only: the CLI need not reach Redis (from outside the namespaces)
	cat >"$W/cli.conf" <<EOF
store:     { backend = "lmdb"; path = "$W/cli-state"; };
policy_db: { backend = "sqlite"; path = "$W/policy.db"; };
EOF
	local i c=("$CLI" -c "$W/cli.conf")
	"${c[@]}" admin db-setup >/dev/null &&
	"${c[@]}" quota add farm "$QUOTA" >/dev/null &&
	"${c[@]}" user add u0 --quota farm >/dev/null &&
	"${c[@]}" allow u0 bench.test --create >/dev/null || return 1
	for ((i = 1; i < USERS; i++)); do
		"${c[@]}" user add "u$i" --quota farm >/dev/null &&
		"${c[@]}" allow "u$i" bench.test >/dev/null || return 1
	done
}

# milter_start I - chapps-milter in mI
milter_start()
{
	local i=$1
	ip netns exec "$NS-m$i" "$MILTER" -f -c "$W/chapps.conf" </dev/null >>"$W/milter$i.log" 2>&1 &
	PID[milter$i]=$!
	until_true 10 nsx "m$i" sh -c "ss -Hltn 'src 127.0.0.1:$MPORT' | grep -q ."
}

# load I - one-second ticks against milter I until $W/stop exists: "START END -q line"
load()
{
	local i=$1 t line
	while [ ! -e "$W/stop" ]; do
		t=$(now)
		line=$(nsx "m$i" "$BENCH" -q -l "m$i" -s "inet:$MPORT@127.0.0.1" -c 4 -k 5 \
			-u "$USERS" -R "$RATE" -m "$RATE" -t 2 2>>"$W/bench$i.err")
		echo "$t $(now) $line"
	done >"$W/load$i"
}

# mark NAME - a phase starts now
mark() { echo "$(now) $1" >>"$W/phases"; echo "farm: $(now) s: $1"; }

# kv KEY LINE - a value of a chapps-bench -q line
kv() { local s=" $2"; case $s in *" $1="*) s=${s##* "$1"=}; echo "${s%% *}" ;; *) echo 0 ;; esac; }

main()
{
	local i mp old new t_kill t_new
	net || { echo "farm: cannot make the network namespaces" >&2; exit 77; }
	for i in 0 1 2; do redis_start "$i" || { echo "farm: redis $i did not start" >&2; exit 1; }; done
	for i in 0 1 2; do sentinel_start "$i" || { echo "farm: sentinel $i did not start" >&2; exit 1; }; done
	until_true 20 synced || { echo "farm: replicas or sentinels never in sync" >&2; exit 1; }
	echo "farm: $(now) s: Redis and sentinels in sync"
	setup_policy || { echo "farm: cannot build the policy database" >&2; exit 1; }
	for i in 1 2 3; do milter_start "$i" || { echo "farm: milter $i did not start" >&2; tail "$W/milter$i.log" >&2; exit 1; }; done
	echo "farm: $(now) s: milters up"
	echo "farm: 3 milters x $RATE msg/s, $USERS users with $QUOTA messages each," \
	     "phases of $PHASE s, wait_replicas = $WAITR ($W)"

	mark steady
	for i in 1 2 3; do load "$i" & PID[load$i]=$!; done
	sleep "$PHASE"

	# the master as the sentinels see it now (an overloaded machine can fail over on its own)
	old=$(master_port)
	[ "$old" = "${PORTS_REDIS[0]}" ] ||
		FAILURES+=("the sentinels failed over before the fault (to :$old): machine overloaded?")
	mark master-killed
	{ kill -KILL "${PORT_PID[$old]}"; wait "${PORT_PID[$old]}"; } 2>/dev/null
	t_kill=$(now)
	until_true 30 new_master "$old" ||
		FAILURES+=("the sentinels did not elect a new master in 30 s")
	t_new=$(now)
	new=$(master_port)
	echo "farm: new master :$new after $(awk -v a="$t_kill" -v b="$t_new" 'BEGIN { printf "%.1f", b - a }') s"
	echo "$t_kill $t_new" >"$W/failover"
	sleep "$PHASE"

	# silent: db loses its route to m2, so m2's packets arrive and nothing comes back (no
	# reset, no ICMP): every connect and command of m2 runs into its timeout
	mark partition
	nsx db ip route del 10.231.2.0/24 dev v2
	sleep "$PHASE"
	mark healed
	nsx db ip route add 10.231.2.0/24 dev v2 src 10.231.2.1
	sleep "$PHASE"

	# a replica of the new master: a server that is neither the new nor the killed master
	for i in 0 1 2; do
		[ "${PORTS_REDIS[$i]}" != "$new" ] && [ "${PORTS_REDIS[$i]}" != "$old" ] && break
	done
	mark replica-restart
	{ kill -TERM "${PID[redis$i]}"; wait "${PID[redis$i]}"; } 2>/dev/null
	redis_start "$i" "$new" || FAILURES+=("replica $i did not restart")
	sleep "$PHASE"
	mark after
	sleep "$PHASE"
	mark end
	touch "$W/stop"
	for i in 1 2 3; do wait "${PID[load$i]}"; unset "PID[load$i]"; done

	report
}

# report - the figures and the checks
report()
{
	local i p name start end
	for i in 1 2 3; do
		kill -0 "${PID[milter$i]}" 2>/dev/null || FAILURES+=("milter $i died")
	done
	printf '\n%-16s %5s %9s %9s %10s %11s %9s\n' phase host messages accepted "quota-refused" tempfailed "conn-err"
	while read -r start name; do
		[ "$name" = end ] && break
		end=$(awk -v s="$start" '$1 > s { print $1; exit }' "$W/phases")
		for i in 1 2 3; do
			awk -v s="$start" -v e="$end" -v ph="$name" -v h="m$i" '
				function kv(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return 0 }
				$2 >= s && $2 < e { m += kv("msgs"); a += kv("accepted"); t += kv("rcpt_tempfailed") + kv("tempfailed");
					q += kv("rcpt_refused") - kv("rcpt_tempfailed"); c += kv("conn_errors") }
				END { printf "%-16s %5s %9d %9d %10d %11d %9d\n", ph, h, m, a, q, t, c
					print ph, h, m, a, q, t, c > "/dev/stderr" }' \
				"$W/load$i" 2>>"$W/figures"
		done
	done <"$W/phases"
	# conn errors anywhere; a clean steady phase
	awk '$7 > 0 { bad = 1 } END { exit bad }' "$W/figures" ||
		FAILURES+=("connection errors (a message without a verdict)")
	awk '$1 == "steady" && ($5 > 0 || $6 > 0) { bad = 1 } END { exit bad }' "$W/figures" ||
		FAILURES+=("refusals or tempfails before any fault")

	# recovery: from each fault to the first tick that starts after it with no tempfail
	echo
	local f t
	while read -r t name; do
		case $name in master-killed | healed | replica-restart) ;; *) continue ;; esac
		for i in 1 2 3; do
			[ "$name" = healed ] && [ "$i" != 2 ] && continue
			r=$(awk -v t="$t" '
				function kv(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return 0 }
				$1 >= t && kv("tempfailed") + kv("rcpt_tempfailed") == 0 && kv("msgs") > 0 { printf "%.1f", $1 - t; found = 1; exit }
				END { if (!found) print "never" }' "$W/load$i")
			echo "farm: recovery after \"$name\" on m$i: $r s (first clean tick)"
		done
	done <"$W/phases"
	grep -q ' after$' "$W/phases" || FAILURES+=("the run did not reach its last phase")
	for i in 1 2 3; do
		awk -v s="$(awk '$2 == "after" { print $1 }' "$W/phases")" '
			function kv(k,   i) { for (i = 3; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return 0 }
			$1 >= s { n++; if (kv("tempfailed") + kv("rcpt_tempfailed") == 0 && kv("msgs") > 0) ok++ }
			END { exit !(n > 0 && ok > 0) }' "$W/load$i" ||
			FAILURES+=("m$i not back to clean ticks in the last phase")
	done

	# overshoot: accepted messages per user against the quota
	local over users_over acc
	acc=$(cat "$W"/milter[123].log | grep -c ': accept: DATA ')
	read -r over users_over < <(cat "$W"/milter[123].log | grep ': accept: DATA ' |
		sed -n 's/.* user=<\([^>]*\)>.*/\1/p' | sort | uniq -c |
		awk -v q="$QUOTA" '$1 > q { o += $1 - q; u++ } END { print o + 0, u + 0 }')
	echo "farm: $acc messages accepted in all; quota $QUOTA x $USERS users = $((QUOTA * USERS));" \
	     "overshoot: $over messages over quota ($users_over users)"
	[ "$WAITR" -ge 1 ] && [ "$over" -gt 0 ] &&
		FAILURES+=("overshoot of $over with wait_replicas = $WAITR")
	echo "farm: failover $(awk '{ printf "%.1f", $2 - $1 }' "$W/failover") s (kill to new master)"

	if [ ${#FAILURES[@]} -gt 0 ]; then
		printf 'FAIL: %s\n' "${FAILURES[@]}"
		exit 1
	fi
	echo "PASS: every message got a verdict; the farm came back after every fault"
}

main "$@"

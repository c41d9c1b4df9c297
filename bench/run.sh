#!/usr/bin/env bash
# bench/run.sh - run every chapps benchmark scenario and print one table
#
# Usage: make bench          (in the build directory), or
#        BENCH_BUILDDIR=/path/to/build bench/run.sh
#
# What it does (docs/BENCHMARKS.md explains every row):
#   A  milter protocol straight to the milter (bench/chapps-bench, loopback TCP), each
#      figure next to bench/noop-milter measured in the same run, best of BENCH_ROUNDS
#      rounds in alternating order: the identity gate alone; gate + SDA + quota on LMDB
#      and on Redis, at 1, 16 and 256 connections of 50 messages; the same at 16
#      connections with a quota of three limits (the day's own number, an hour's messages,
#      a day's distinct recipients, a new address every message) against the single limit;
#      on LMDB at 16 connections of 10 and of 1 message; then latency at a fixed load.
#   M  the cost of metrics: the same chapps (gate + SDA + quota, LMDB) with metrics.listen
#      on (scraped after every run) and off, BENCH_METRICS_ROUNDS interleaved rounds at
#      16 connections, best of each (target: on >= 0.97 of off); and bench/metrics-cost,
#      the metrics calls of one message timed in a loop, next to the milter's CPU/message.
#   B  quota cost against the window's contents: users whose window already holds 10,
#      1,000 and 100,000 messages (spread over every bucket of the window by
#      `chapps-cli usage import`, the worst case), and 100,000 sent through the milter itself.
#   C  memory: chapps-milter's RSS and the store's size for 1,000 and 100,000 active
#      users, LMDB and Redis; the bound per active user.
#   D  end to end through a private Postfix relaying to smtp-sink (bench/postfix.sh),
#      XCLIENT LOGIN= sessions: no milter, no-op milter, chapps (gate + SDA + quota) with
#      quota.commit = "data" and = "eom".
#   E  end to end as mail clients submit: real SMTP AUTH (Cyrus SASL, AUTH PLAIN), one
#      message per session: no milter, no-op milter, chapps (quota.commit = "data"),
#      interleaved (needs saslpasswd2 as well).
#
# Everything listens on 127.0.0.1 ports 16801-16830 only (and K's cluster buses on
# 26812-26814), every run is bounded in count and
# time, every process is started in the background, recorded by PID and stopped by that
# PID (also on failure, by the EXIT trap).  Needs root for D (skipped otherwise), and
# redis-server for the Redis rows (skipped without it).
#
# Environment:
#   BENCH_BUILDDIR  directory with chapps-milter, chapps-cli and bench/*  [$PWD]
#   BENCH_ROUNDS    rounds per comparison in A, the best is reported      [2]
#                   (B runs 6 interleaved rounds, the cheapest is kept; D runs 3 rounds
#                   of 1,500 messages, the median is reported)
#   BENCH_QUICK=1   smoke run: short runs, one round (the figures mean little)
#   BENCH_E2E=0     skip D (Postfix)
#   BENCH_METRICS_ROUNDS  rounds of M                                   [6]
#   BENCH_ONLY=metrics    run M alone (and print its rows only)
#   BENCH_ONLY=redis      run R alone: gate + SDA + quota on Redis, this build against
#                         no-op and, with BENCH_BASELINE=/path/to/other/chapps-milter (say
#                         main's), against that build, side by side in one run; milter and
#                         redis-server CPU and Redis round trips per message; then, with
#                         a replica attached, store.redis.wait_replicas = 1 against 0
#   BENCH_ONLY=lmdb       run L alone: section A's rows of gate + SDA + quota on LMDB at 16
#                         connections of 50, 10 and 1 message against the no-op (accepts
#                         at DATA) and, with BENCH_BASELINE=/path/to/other/chapps-milter,
#                         against that build, side by side in one run
#   BENCH_ONLY=cluster    run K alone: gate + SDA + quota on a Redis Cluster of three
#                         masters on this host (store.redis.cluster, no replicas) against
#                         the same on one Redis and the no-op, interleaved, 16 connections
#   BENCH_KEEP=1    keep the work directory (logs, configs, raw results)
#
# Exit status: 0 when every run saw only the replies it expected, 1 otherwise.  Targets
# that are missed are reported in the table, never turned into a failure.

set -u
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin

HERE=$(cd "$(dirname "$0")" && pwd)
B=${BENCH_BUILDDIR:-$PWD}
MILTER=$B/chapps-milter
CLI=$B/chapps-cli
BENCH=$B/bench/chapps-bench
NOOP=$B/bench/noop-milter
MCOST=$B/bench/metrics-cost

P_CHAPPS=16801 P_NOOP=16802 P_CHAPPS2=16803 P_NOOP2=16804 P_CHAPPS3=16805 P_REDIS=16810
P_SMTP_NONE=16820 P_SMTP_NOOP_DATA=16821 P_SMTP_CHAPPS_DATA=16822
P_SMTP_NOOP_EOM=16823 P_SMTP_CHAPPS_EOM=16824 P_SINK=16830
P_SMTP_AUTH_NONE=16825 P_SMTP_AUTH_NOOP=16826 P_SMTP_AUTH_CHAPPS=16827
P_METRICS_ON=16806 P_METRICS_HTTP=16807 P_CHAPPS_WAIT=16808 P_REPLICA=16811
P_CLUSTER=(16812 16813 16814)	# K: cluster nodes (bus ports: + 10000)

ROUNDS=${BENCH_ROUNDS:-2}
METRICS_ROUNDS=${BENCH_METRICS_ROUNDS:-6}
SECS=2.5		# one saturating run
WARM=3000		# warm-up messages after a milter starts
PACE_RATE=2000		# the fixed load of the latency rows, messages/s
WIN_SECS=0.8		# one window-cost run
WIN_ROUNDS=6		# window-cost rounds (interleaved; the cheapest of each is kept)
MEM_USERS=100000
E2E_COUNT=1500 E2E_CONNS=8 E2E_PER_CONN=20 E2E_ROUNDS=3
AUTH_COUNT=800 AUTH_USERS=200 AUTH_PASS=benchpw	# E: messages (= sessions) per run, users
if [ "${BENCH_QUICK:-0}" = 1 ]; then
	ROUNDS=1 SECS=0.5 WARM=300 WIN_SECS=0.3 WIN_ROUNDS=2 MEM_USERS=5000 E2E_COUNT=200 E2E_ROUNDS=1
	METRICS_ROUNDS=2
	AUTH_COUNT=100 AUTH_USERS=20
fi
CLK_TCK=$(getconf CLK_TCK)

W=
FAILURES=()
declare -A PID=()
declare -A BEST=() BEST_CPU=() BEST_CMDS=()
ROWS=()

# ---- processes ----------------------------------------------------------------

# alive PID - PID exists and is not a zombie
alive()
{
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# listening PORT - something listens on 127.0.0.1:PORT
listening() { [ -n "$(ss -Hltn "src 127.0.0.1:$1" 2>/dev/null)" ]; }

# start NAME PORT CMD... - start CMD in the background (output to $W/log/NAME.log), record
# its PID as NAME, poll until PORT listens (10 s); false if it does not
start()
{
	local name=$1 port=$2 i; shift 2
	if listening "$port"; then
		echo "bench: port 127.0.0.1:$port is already in use" >&2
		return 1
	fi
	"$@" </dev/null >>"$W/log/$name.log" 2>&1 &
	PID[$name]=$!
	for ((i = 0; i < 200; i++)); do
		listening "$port" && return 0
		alive "${PID[$name]}" || break
		sleep 0.05
	done
	echo "bench: $name did not come up on port $port; its log:" >&2
	tail -n 20 "$W/log/$name.log" >&2
	return 1
}

# stop NAME... - SIGTERM each by its recorded PID and wait until gone (KILL after 15 s)
stop()
{
	local name pid i
	for name in "$@"; do
		pid=${PID[$name]:-}
		[ -n "$pid" ] && alive "$pid" && kill -TERM "$pid" 2>/dev/null
	done
	for name in "$@"; do
		pid=${PID[$name]:-}
		[ -n "$pid" ] || continue
		for ((i = 0; i < 300; i++)); do
			alive "$pid" || break
			sleep 0.05
		done
		alive "$pid" && kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		unset "PID[$name]"
	done
}

# cleanup - EXIT trap: stop everything we started, remove the work directory
cleanup()
{
	local rc=$?
	trap - EXIT
	[ ${#PID[@]} -gt 0 ] && stop "${!PID[@]}"
	declare -F pf_down >/dev/null && pf_down
	if [ -n "$W" ] && [ -d "$W" ]; then
		if [ "${BENCH_KEEP:-0}" = 1 ]; then
			echo "bench: kept $W"
		else
			rm -rf "$W"
		fi
	fi
	exit $rc
}

# cpu_ticks PID - user + system CPU time of PID so far, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }

# status_kb PID FIELD - a /proc/PID/status field (VmRSS, RssAnon...) in kB
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }

# ---- results ------------------------------------------------------------------

# kv KEY LINE - the value of KEY in a chapps-bench -q line
kv()
{
	local s=" $2"
	case $s in *" $1="*) ;; *) echo 0; return ;; esac
	s=${s##* "$1"=}
	echo "${s%% *}"
}

# worst PCT LINE - the worst of the decision stages' (MAIL, RCPT, DATA, EOM) latency at
# percentile PCT (p50, p99, p999), microseconds
worst() { awk -v a="$(kv "mail_$1" "$2")" -v b="$(kv "rcpt_$1" "$2")" \
	-v c="$(kv "data_$1" "$2")" -v d="$(kv "eom_$1" "$2")" 'BEGIN { m = a; if (b > m) m = b;
	if (c > m) m = c; if (d > m) m = d; print m }'; }

# p99 LINE - the worst p99 of the decision stages, microseconds
p99() { worst p99 "$1"; }

# run_bench KEY PORT ARGS... - one chapps-bench run against 127.0.0.1:PORT; prints the -q
# line; an unexpected reply or a failed connection is recorded as a failure
run_bench()
{
	local key=$1 port=$2 out rc; shift 2
	out=$("$BENCH" -q -l "$key" -s "inet:$port@127.0.0.1" "$@" 2>>"$W/log/bench.err")
	rc=$?
	echo "$out" >>"$W/results.txt"
	if [ $rc != 0 ]; then
		# to a file: run_bench mostly runs in a $(...) subshell (print_table reads it)
		echo "$key: unexpected=$(kv unexpected "$out") conn_errors=$(kv conn_errors "$out"): $(tail -n 1 "$W/log/bench.err")" >>"$W/failures.txt"
	fi
	echo "$out"
}

# measure KEY PORT NAME ARGS... - run_bench, charging milter NAME's CPU time to it; keep
# the best run (highest rate) of KEY in BEST[KEY], its milter CPU us/message in BEST_CPU
measure()
{
	local key=$1 port=$2 name=$3 c0 c1 r0=0 r1=0 k0=0 k1=0 line n cpu p busy=0; shift 3
	local -A node0=()
	c0=$(cpu_ticks "${PID[$name]}")
	case $name in credis*) r0=$(cpu_ticks "${PID[redis]}") k0=$(redis_reads) ;;
		kcluster*) r0=$(cluster_ticks)
			for p in "${P_CLUSTER[@]}"; do node0[$p]=$(cpu_ticks "${PID[node$p]}"); done ;;
	esac
	line=$(run_bench "$key" "$port" "$@")
	c1=$(cpu_ticks "${PID[$name]}")
	case $name in credis*) r1=$(cpu_ticks "${PID[redis]}") k1=$(redis_reads) ;;
		kcluster*) r1=$(cluster_ticks)
			# the busiest master: what one core would have to carry
			for p in "${P_CLUSTER[@]}"; do
				k0=$(( $(cpu_ticks "${PID[node$p]}") - node0[$p] ))
				[ "$k0" -gt "$busy" ] && busy=$k0
			done
			k0=0 ;;
	esac
	n=$(kv msgs "$line")
	cpu=0
	[ "$n" -gt 0 ] && cpu=$(( (c1 - c0) * 1000000 / CLK_TCK / n ))
	# Redis: the server's CPU is part of the cost on this host ("milter+server")
	case $name in credis* | kcluster*)
		[ "$n" -gt 0 ] && cpu="$cpu+$(( (r1 - r0) * 1000000 / CLK_TCK / n ))" ;;
	esac
	if [ -z "${BEST[$key]:-}" ] ||
	   awk -v a="$(kv rate "$line")" -v b="$(kv rate "${BEST[$key]}")" 'BEGIN { exit !(a > b) }'
	then
		BEST[$key]=$line
		BEST_CPU[$key]=$cpu
		[ "$n" -gt 0 ] && BEST_BUSIEST[$key]=$(( busy * 1000000 / CLK_TCK / n ))
		# Redis round trips per message (the INFO call is about one more)
		[ "$n" -gt 0 ] && [ "$k1" -gt 0 ] &&
			BEST_CMDS[$key]=$(awk -v a="$((k1 - k0 - 1))" -v n="$n" \
				'BEGIN { printf "%.2f", a / n }')
	fi
	printf '  %-26s %9.0f msg/s  p99 %7.0f us  milter cpu %4s us/msg\n' "$key" \
		"$(kv rate "$line")" "$(p99 "$line")" "$cpu" >&2
}

# measure_cost KEY PORT NAME ARGS... - run_bench; the cost of the quota decisions is the
# median latency of RCPT (reserve) plus DATA (commit); keep the cheapest run of KEY in
# BEST[KEY] and COST[KEY] (us), the milter's CPU us/message in BEST_CPU[KEY]
declare -A COST=()
measure_cost()
{
	local key=$1 port=$2 name=$3 c0 c1 line n cpu cost; shift 3
	c0=$(cpu_ticks "${PID[$name]}")
	line=$(run_bench "$key" "$port" "$@")
	c1=$(cpu_ticks "${PID[$name]}")
	n=$(kv msgs "$line")
	cpu=0
	[ "$n" -gt 0 ] && cpu=$(( (c1 - c0) * 1000000 / CLK_TCK / n ))
	cost=$(awk -v a="$(kv rcpt_p50 "$line")" -v b="$(kv data_p50 "$line")" \
		'BEGIN { printf "%.1f", a + b }')
	if [ -z "${COST[$key]:-}" ] || awk -v a="$cost" -v b="${COST[$key]}" 'BEGIN { exit !(a < b) }'
	then
		BEST[$key]=$line
		BEST_CPU[$key]=$cpu
		COST[$key]=$cost
	fi
	printf '  %-26s %9.0f msg/s  reserve+commit p50 %6.1f us  milter cpu %4d us/msg\n' \
		"$key" "$(kv rate "$line")" "$cost" "$cpu" >&2
}

# ratio A B - A / B with two decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

# ge A B - true if A >= B (decimals)
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

# verdict OK - "met" or "MISSED"
verdict() { if "$@"; then echo met; else echo MISSED; fi; }

# row SCENARIO CHAPPS BASELINE RATIO TARGET RESULT - one line of the table
row() { ROWS+=("$(printf '%-46s %-25s %-22s %6s  %-15s %s' "$@")"); }

# section TITLE - a heading line inside the table
section() { ROWS+=("" "$1"); }

# fmt_rate LINE CPU - "12345/s 110us/msg"
fmt_rate() { printf "%.0f/s %sus/msg" "$(kv rate "$1")" "${2:-?}"; }

# ms US - microseconds as milliseconds
ms() { awk -v u="$1" 'BEGIN { printf "%.2f ms", u / 1000 }'; }

# ---- set-up ---------------------------------------------------------------------

# conf FILE PORT POLICIES BACKEND STATE_DIR [COMMIT] [LISTENERS] - a chapps-milter
# configuration of a submission server: every connection outbound, no inbound policy
# (chapps.conf(5), listeners), unless LISTENERS is "default" (an "smtpd" listener inbound,
# SPF and greylisting: HELO is asked for)
conf()
{
	local flows='listeners: { inbound = [ ]; }; inbound: { policies = [ ]; };'
	[ "${7:-}" = default ] && flows=
	cat >"$1" <<EOF
milter:    { socket = "inet:$2@127.0.0.1"; user = ""; group = ""; pidfile = "";
             run_as_root = true; };
log:       { level = "info"; };
identity:  { user_key = "sasl_username"; require_user_key = true; };
outbound:  { policies = [ $3 ]; };
quota:     { commit = "${6:-data}"; };
store:     { backend = "$4"; path = "$5"; redis: { server = "127.0.0.1"; port = $P_REDIS; }; };
policy_db: { backend = "sqlite"; path = "$W/policy.db"; };
$flows
EOF
}

# make_policy_db - the quota "bench", users u0..u(MEM_USERS-1) with it and bench.test,
# the window-cost users, and the quota "bench3" of three limits (its own number over
# quota.interval, the day; messages per hour; distinct recipients per day, none of them
# reached) for users l0..l999
make_policy_db()
{
	local c=$W/conf/lmdb.conf u i
	"$CLI" -c "$c" admin db-setup >/dev/null &&
	"$CLI" -c "$c" quota add bench 100000000 >/dev/null &&
	"$CLI" -c "$c" quota add bench3 99999999 >/dev/null &&
	"$CLI" -c "$c" limit add bench3 messages 1h 99999999 >/dev/null &&
	"$CLI" -c "$c" limit add bench3 distinct_recipients 1d 99999999 >/dev/null &&
	"$CLI" -c "$c" user add probe --quota bench >/dev/null &&
	"$CLI" -c "$c" allow probe bench.test --create >/dev/null || return 1
	for u in w10 w1000 w100000 m100000; do
		"$CLI" -c "$c" user add "$u" --quota bench >/dev/null &&
		"$CLI" -c "$c" allow "$u" bench.test >/dev/null || return 1
	done
	if command -v sqlite3 >/dev/null 2>&1; then
		# one transaction: the CLI would take about a minute for 100,000 users
		sqlite3 "$W/policy.db" <<EOF || return 1
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < $MEM_USERS - 1)
	INSERT INTO users (name) SELECT 'u' || x FROM c;
-- section E: Cyrus SASL names its users with the realm ({auth_authen} = u0@bench.test)
WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < $AUTH_USERS - 1)
	INSERT INTO users (name) SELECT 'u' || x || '@bench.test' FROM c;
WITH RECURSIVE c(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM c WHERE x < 999)
	INSERT INTO users (name) SELECT 'l' || x FROM c;
INSERT INTO quota_user (user_id, quota_id) SELECT u.id, q.id FROM users u, quotas q
	WHERE q.name = 'bench' AND u.name GLOB 'u[0-9]*';
INSERT INTO quota_user (user_id, quota_id) SELECT u.id, q.id FROM users u, quotas q
	WHERE q.name = 'bench3' AND u.name GLOB 'l[0-9]*';
INSERT INTO domain_user (user_id, domain_id) SELECT u.id, d.id FROM users u, domains d
	WHERE d.name = 'bench.test' AND u.name GLOB '[ul][0-9]*';
COMMIT;
EOF
	else
		for ((i = 0; i < MEM_USERS; i++)); do
			echo "allow:u$i:bench.test"
			echo "quota:u$i:bench"
			[ "$i" -lt "$AUTH_USERS" ] &&
				printf 'allow:u%d@bench.test:bench.test\nquota:u%d@bench.test:bench\n' "$i" "$i"
			[ "$i" -lt 1000 ] && printf 'allow:l%d:bench.test\nquota:l%d:bench3\n' "$i" "$i"
		done >"$W/users.txt"
		"$CLI" -c "$c" import-file "$W/users.txt" --create >/dev/null 2>&1 || return 1
	fi
	# what the milter will see: the last user exists with the quota and the domain
	"$CLI" -c "$c" show "u$((MEM_USERS - 1))" | grep -q 'bench.test' &&
	"$CLI" -c "$c" show "u$((MEM_USERS - 1))" | grep -q '^quota: *bench' &&
	[ "$("$CLI" -c "$c" show l999 --quota 2>/dev/null | grep -c '^  99999999 ')" = 3 ]
}

# start_redis - a private redis-server, no persistence
start_redis()
{
	mkdir -p "$W/redis"
	start redis "$P_REDIS" redis-server --port "$P_REDIS" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$W/redis" --protected-mode yes || return 1
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(redis-cli -p "$P_REDIS" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.05
	done
	return 1
}

# redis_reads - INFO stats total_reads_processed of the private server: the read events on
# client sockets, one per request or pipelined batch (a round trip; commands run inside a
# script are not counted, as total_commands_processed would)
redis_reads() { redis-cli -p "$P_REDIS" info stats 2>/dev/null | tr -d '\r' |
	awk -F: '$1 == "total_reads_processed" { print $2 }'; }

# redis_used_memory - INFO memory used_memory, bytes
redis_used_memory() { redis-cli -p "$P_REDIS" info memory | tr -d '\r' |
	awk -F: '$1 == "used_memory" { print $2 }'; }

# ---- A: throughput and latency over the milter protocol --------------------------

# compare CONNS ENTRIES... - ROUNDS rounds over ENTRIES ("key:port:name[:l]"; ":l" sends
# as the three-limit users l0..l999 to a new recipient address every message), the order
# reversed every other round; PER_CONN messages per connection (default 50)
compare()
{
	local conns=$1 r e key port name extra list; shift
	for ((r = 0; r < ROUNDS; r++)); do
		list=("$@")
		if ((r % 2 == 1)); then
			local rev=() i
			for ((i = ${#list[@]} - 1; i >= 0; i--)); do rev+=("${list[i]}"); done
			list=("${rev[@]}")
		fi
		for e in "${list[@]}"; do
			IFS=: read -r key port name extra <<<"$e"
			local users=(-u 1000)
			[ "$extra" = l ] && users=(-u 1000 --prefix l --unique-rcpts)
			measure "$key" "$port" "$name" -c "$conns" -k "${PER_CONN:-50}" "${users[@]}" \
				-m 10000000 -t "$SECS"
		done
	done
}

# warm PORT - fill the milter's caches (users u0..u999) before measuring
warm() { run_bench warm "$1" -c 16 -k 50 -u 1000 -m "$WARM" -t 30 >/dev/null; }

phase_a()
{
	local k c redis=$1
	echo "A: milter protocol throughput (${SECS}s runs, best of $ROUNDS)" >&2
	start noop "$P_NOOP" "$NOOP" -p "inet:$P_NOOP@127.0.0.1" -l mail || return 1
	start gate "$P_CHAPPS" "$MILTER" -f -c "$W/conf/gate.conf" || return 1
	warm "$P_NOOP"
	warm "$P_CHAPPS"
	compare 16 "gate16:$P_CHAPPS:gate" "noopmail16:$P_NOOP:noop"
	stop gate noop

	start noop "$P_NOOP" "$NOOP" -p "inet:$P_NOOP@127.0.0.1" -l data -r || return 1
	start lmdb "$P_CHAPPS" "$MILTER" -f -c "$W/conf/lmdb.conf" || return 1
	warm "$P_NOOP"
	warm "$P_CHAPPS"
	if [ "$redis" = 1 ]; then
		start credis "$P_CHAPPS2" "$MILTER" -f -c "$W/conf/redis.conf" || return 1
		warm "$P_CHAPPS2"
	fi
	for c in 16 1 256; do
		if [ "$redis" = 1 ]; then
			compare "$c" "noop$c:$P_NOOP:noop" "lmdb$c:$P_CHAPPS:lmdb" \
				"redis$c:$P_CHAPPS2:credis"
		else
			compare "$c" "noop$c:$P_NOOP:noop" "lmdb$c:$P_CHAPPS:lmdb"
		fi
	done
	# a quota of three limits against the single limit, interleaved with it and the no-op
	run_bench warm "$P_CHAPPS" -c 16 -k 50 -u 1000 --prefix l --unique-rcpts -m "$WARM" \
		-t 30 >/dev/null
	if [ "$redis" = 1 ]; then
		run_bench warm "$P_CHAPPS2" -c 16 -k 50 -u 1000 --prefix l --unique-rcpts \
			-m "$WARM" -t 30 >/dev/null
		compare 16 "noop16:$P_NOOP:noop" "lmdb16:$P_CHAPPS:lmdb" \
			"lim3lmdb16:$P_CHAPPS:lmdb:l" "redis16:$P_CHAPPS2:credis" \
			"lim3redis16:$P_CHAPPS2:credis:l"
	else
		compare 16 "noop16:$P_NOOP:noop" "lmdb16:$P_CHAPPS:lmdb" "lim3lmdb16:$P_CHAPPS:lmdb:l"
	fi
	# how mail clients submit: few messages per SMTP session, so per milter connection
	for k in 10 1; do
		PER_CONN=$k compare 16 "noop16k$k:$P_NOOP:noop" "lmdb16k$k:$P_CHAPPS:lmdb"
	done
	# the same with the default listeners (inbound possible: HELO is asked for)
	if start lmdbdef "$P_CHAPPS3" "$MILTER" -f -c "$W/conf/lmdb-default.conf"; then
		warm "$P_CHAPPS3"
		PER_CONN=1 compare 16 "noop16k1d:$P_NOOP:noop" "lmdbdef16k1:$P_CHAPPS3:lmdbdef"
		stop lmdbdef
	fi
	echo "A: latency at $PACE_RATE msg/s, 16 connections" >&2
	for k in noop lmdb credis; do
		[ -n "${PID[$k]:-}" ] || continue
		case $k in noop) c=$P_NOOP ;; lmdb) c=$P_CHAPPS ;; credis) c=$P_CHAPPS2 ;; esac
		measure "paced-$k" "$c" "$k" -c 16 -k 50 -u 1000 -R "$PACE_RATE" \
			-m "$(awk -v r="$PACE_RATE" -v s="$SECS" 'BEGIN { printf "%d", r * s }')" \
			-t 30
	done
	stop noop
}

# ---- L: LMDB per message, this build against another one, side by side ---------------

# start_baseline NAME BACKEND STATE - BENCH_BASELINE's chapps-milter, gate + SDA + quota on
# BACKEND (state in STATE), as NAME on P_CHAPPS3, warmed (phases L and R)
start_baseline()
{
	conf "$W/conf/$1.conf" "$P_CHAPPS3" '"sender_domain_auth", "quota"' "$2" "$3" &&
		start "$1" "$P_CHAPPS3" "$BENCH_BASELINE" -f -c "$W/conf/$1.conf" &&
		warm "$P_CHAPPS3"
}

# phase_l - BENCH_ONLY=lmdb: gate + SDA + quota on LMDB (quota.commit = "data") with this
# build's chapps-milter and, when BENCH_BASELINE names another build's chapps-milter, with
# that one (its own state directory, the same policy database), interleaved with the no-op
# (accepts at DATA) at 16 connections of 50, 10 and 1 message, BENCH_ROUNDS rounds
phase_l()
{
	local k base=()
	echo "L: LMDB, this build${BENCH_BASELINE:+ and $BENCH_BASELINE}, side by side" >&2
	start noop "$P_NOOP" "$NOOP" -p "inet:$P_NOOP@127.0.0.1" -l data -r || return 1
	start lmdb "$P_CHAPPS" "$MILTER" -f -c "$W/conf/lmdb.conf" || return 1
	warm "$P_NOOP"
	warm "$P_CHAPPS"
	if [ -n "${BENCH_BASELINE:-}" ]; then
		start_baseline lmdbbase lmdb "$W/state-lmdbbase" || return 1
	fi
	for k in 50 10 1; do
		base=()
		[ -n "${BENCH_BASELINE:-}" ] && base=("base16k$k:$P_CHAPPS3:lmdbbase")
		PER_CONN=$k compare 16 "noop16k$k:$P_NOOP:noop" "lmdb16k$k:$P_CHAPPS:lmdb" \
			"${base[@]}"
	done
	[ -n "${BENCH_BASELINE:-}" ] && stop lmdbbase
	stop noop lmdb
	return 0
}

# table_l - the rows of phase_l
table_l()
{
	local k l n b
	section "L. LMDB, gate+SDA+quota, 16 conns, this build${BENCH_BASELINE:+ vs $BENCH_BASELINE}, best of $ROUNDS interleaved rounds (msg/s, CPU us/msg of the milter)"
	for k in 50 10 1; do
		l=${BEST[lmdb16k$k]:-} n=${BEST[noop16k$k]:-} b=${BEST[base16k$k]:-}
		[ -n "$l" ] || continue
		row "this build, $k msg/conn, vs no-op" "$(fmt_rate "$l" "${BEST_CPU[lmdb16k$k]}")" \
			"$(fmt_rate "$n" "${BEST_CPU[noop16k$k]}")" \
			"$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" ">= 0.95" \
			"$(verdict ge "$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" 0.95)"
		[ -n "$b" ] || continue
		row "baseline, $k msg/conn, vs no-op" "$(fmt_rate "$b" "${BEST_CPU[base16k$k]}")" \
			"$(fmt_rate "$n" "${BEST_CPU[noop16k$k]}")" \
			"$(ratio "$(kv rate "$b")" "$(kv rate "$n")")" "-" "-"
		row "  this build vs baseline, $k msg/conn" "$(printf '%.0f/s' "$(kv rate "$l")")" \
			"$(printf '%.0f/s' "$(kv rate "$b")")" \
			"$(ratio "$(kv rate "$l")" "$(kv rate "$b")")" "-" "-"
	done
}

# ---- R: Redis, this build against another one, side by side -------------------------

# phase_r - BENCH_ONLY=redis: gate + SDA + quota on Redis with this build's chapps-milter
# and, when BENCH_BASELINE names another build's chapps-milter (main's), with that one,
# on the same Redis and policy database, interleaved with the no-op (accepts at DATA) at
# 16 and 1 connections, BENCH_ROUNDS rounds
phase_r()
{
	local c base=()
	echo "R: Redis, this build${BENCH_BASELINE:+ and $BENCH_BASELINE}, side by side" >&2
	start noop "$P_NOOP" "$NOOP" -p "inet:$P_NOOP@127.0.0.1" -l data -r || return 1
	start credis "$P_CHAPPS2" "$MILTER" -f -c "$W/conf/redis.conf" || return 1
	warm "$P_NOOP"
	warm "$P_CHAPPS2"
	if [ -n "${BENCH_BASELINE:-}" ]; then
		start_baseline credisbase redis "$W/unused" || return 1
	fi
	for c in 16 1; do
		base=()
		[ -n "${BENCH_BASELINE:-}" ] && base=("base$c:$P_CHAPPS3:credisbase")
		compare "$c" "noop$c:$P_NOOP:noop" "redis$c:$P_CHAPPS2:credis" "${base[@]}"
	done
	[ -n "${BENCH_BASELINE:-}" ] && stop credisbase
	phase_r_wait
	stop noop credis
	return 0
}

# phase_r_wait - store.redis.wait_replicas (issue 12): a replica of the private Redis on
# this host, then this build without and with wait_replicas = 1, interleaved, 16 conns
phase_r_wait()
{
	local i
	mkdir -p "$W/replica"
	start replica "$P_REPLICA" redis-server --port "$P_REPLICA" --bind 127.0.0.1 --save '' \
		--appendonly no --dir "$W/replica" --replicaof 127.0.0.1 "$P_REDIS" \
		--protected-mode yes || return 1
	# in sync, and its first ACK in (until then WAIT cannot count it)
	for ((i = 0; i < 200; i++)); do
		redis-cli -p "$P_REDIS" info replication | tr -d '\r' |
			grep -q '^slave0:.*state=online' &&
		! redis-cli -p "$P_REDIS" info replication | grep -q ',offset=0,' && break
		sleep 0.05
	done
	sed "s/port = $P_REDIS; }/port = $P_REDIS; wait_replicas = 1; }/" "$W/conf/redis.conf" |
		sed "s/inet:$P_CHAPPS2@/inet:$P_CHAPPS_WAIT@/" >"$W/conf/redis-wait.conf"
	start credisw "$P_CHAPPS_WAIT" "$MILTER" -f -c "$W/conf/redis-wait.conf" || return 1
	warm "$P_CHAPPS_WAIT"
	compare 16 "redisr16:$P_CHAPPS2:credis" "redisw16:$P_CHAPPS_WAIT:credisw"
	stop credisw replica
}

# phase_k - BENCH_ONLY=cluster (issue 12): three cluster-enabled redis-servers, one master
# each (redis-cli --cluster create, CLUSTER INFO polled until cluster_state:ok everywhere),
# this build on them (store.redis.cluster) against this build on the one private Redis and
# the no-op, interleaved, 16 connections, BENCH_ROUNDS rounds.  The bench users u0..u999
# have no domain: their keys spread over the three masters one by one.
phase_k()
{
	local p i ok seeds='' addrs=()
	echo "K: Redis Cluster of ${#P_CLUSTER[@]} masters against one Redis" >&2
	for p in "${P_CLUSTER[@]}"; do
		mkdir -p "$W/cluster$p"
		start "node$p" "$p" redis-server --port "$p" --bind 127.0.0.1 --save '' \
			--appendonly no --dir "$W/cluster$p" --cluster-enabled yes \
			--cluster-config-file nodes.conf --protected-mode yes || return 1
		seeds="$seeds${seeds:+, }\"127.0.0.1:$p\""
		addrs+=("127.0.0.1:$p")
	done
	redis-cli --cluster create "${addrs[@]}" --cluster-replicas 0 --cluster-yes \
		>>"$W/log/cluster.log" 2>&1 || return 1
	for ((i = 0; i < 600; i++)); do
		ok=1
		for p in "${P_CLUSTER[@]}"; do
			redis-cli -p "$p" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || ok=0
		done
		[ "$ok" = 1 ] && break
		sleep 0.05
	done
	[ "$ok" = 1 ] || { echo "bench: the cluster did not come up" >&2; return 1; }
	sed -e "s/redis: { server = \"127.0.0.1\"; port = $P_REDIS; }/redis: { cluster = [ $seeds ]; }/" \
		-e "s/inet:$P_CHAPPS2@/inet:$P_CHAPPS3@/" "$W/conf/redis.conf" >"$W/conf/cluster.conf"
	start noop "$P_NOOP" "$NOOP" -p "inet:$P_NOOP@127.0.0.1" -l data -r || return 1
	start credis "$P_CHAPPS2" "$MILTER" -f -c "$W/conf/redis.conf" || return 1
	start kcluster "$P_CHAPPS3" "$MILTER" -f -c "$W/conf/cluster.conf" || return 1
	warm "$P_NOOP"
	warm "$P_CHAPPS2"
	warm "$P_CHAPPS3"
	compare 16 "noop16:$P_NOOP:noop" "redis16:$P_CHAPPS2:credis" "cluster16:$P_CHAPPS3:kcluster"
	for p in "${P_CLUSTER[@]}"; do
		KEYS_ON[$p]=$(redis-cli -p "$p" dbsize 2>/dev/null)
	done
	stop noop credis kcluster
	for p in "${P_CLUSTER[@]}"; do stop "node$p"; done
	return 0
}
declare -A KEYS_ON=() BEST_BUSIEST=()

# cluster_ticks - the CPU ticks of phase K's cluster nodes, summed
cluster_ticks()
{
	local p t=0
	for p in "${P_CLUSTER[@]}"; do t=$((t + $(cpu_ticks "${PID[node$p]:-0}"))); done
	echo "$t"
}

# table_k - the rows of phase_k
table_k()
{
	local l k n p spread=''
	section "K. Redis Cluster (${#P_CLUSTER[@]} masters, one host) against one Redis, gate+SDA+quota, 16 conns, best of $ROUNDS interleaved rounds (msg/s, milter+redis-server CPU us/msg)"
	l=${BEST[redis16]:-} k=${BEST[cluster16]:-} n=${BEST[noop16]:-}
	[ -n "$l" ] && [ -n "$k" ] || return 0
	row "cluster vs one Redis, 16 conns" "$(fmt_rate "$k" "${BEST_CPU[cluster16]}")" \
		"$(fmt_rate "$l" "${BEST_CPU[redis16]}")" \
		"$(ratio "$(kv rate "$k")" "$(kv rate "$l")")" "-" "-"
	row "  cluster vs no-op, 16 conns" "$(printf '%.0f/s' "$(kv rate "$k")")" \
		"$(fmt_rate "$n" "${BEST_CPU[noop16]}")" \
		"$(ratio "$(kv rate "$k")" "$(kv rate "$n")")" "-" "-"
	for p in "${P_CLUSTER[@]}"; do spread="$spread${spread:+ / }${KEYS_ON[$p]:-?}"; done
	row "  keys per master after the runs" "$spread" "" "" "" ""
	# capacity: a Redis is one event loop on one core; with each master on a core of its own
	# the farm tops out when the busiest master's core is full (projected, not measured
	# here: this host's two cores are shared by every process of the run)
	local one=${BEST_CPU[redis16]#*+} busiest=${BEST_BUSIEST[cluster16]:-0}
	row "  server CPU/msg: busiest master vs one Redis" "${busiest}us/msg" "${one}us/msg" \
		"$(ratio "$one" "$busiest")" "-" "-"
	row "  projected capacity, a core per master" \
		"$(awk -v b="$busiest" 'BEGIN { if (b > 0) printf "%.0f/s", 1000000 / b; else print "-" }')" \
		"$(awk -v o="$one" 'BEGIN { if (o > 0) printf "%.0f/s", 1000000 / o; else print "-" }')" \
		"$(ratio "$one" "$busiest")" "> 1" \
		"$(awk -v o="$one" -v b="$busiest" 'BEGIN { print (b > 0 && o / b > 1) ? "met" : "MISSED" }')"
}

# table_r - the rows of phase_r
table_r()
{
	local c l n b w
	section "R. Redis, gate+SDA+quota, this build${BENCH_BASELINE:+ vs $BENCH_BASELINE}, best of $ROUNDS interleaved rounds (msg/s, CPU us/msg milter+redis-server, Redis round trips/msg)"
	for c in 16 1; do
		l=${BEST[redis$c]:-} n=${BEST[noop$c]:-} b=${BEST[base$c]:-}
		[ -n "$l" ] || continue
		row "this build, $c conns, vs no-op" "$(fmt_rate "$l" "${BEST_CPU[redis$c]}")" \
			"$(fmt_rate "$n" "${BEST_CPU[noop$c]}")" \
			"$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" \
			"$([ "$c" = 16 ] && echo ">= 0.60" || echo -)" \
			"$([ "$c" = 16 ] && verdict ge "$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" 0.60 || echo -)"
		row "  Redis round trips per message, $c conns" "${BEST_CMDS[redis$c]:-?}" \
			"${BEST_CMDS[base$c]:-?} (baseline)" "" "" ""
		[ -n "$b" ] || continue
		row "baseline, $c conns, vs no-op" "$(fmt_rate "$b" "${BEST_CPU[base$c]}")" \
			"$(fmt_rate "$n" "${BEST_CPU[noop$c]}")" \
			"$(ratio "$(kv rate "$b")" "$(kv rate "$n")")" "-" "-"
		row "  this build vs baseline, $c conns" "$(printf '%.0f/s' "$(kv rate "$l")")" \
			"$(printf '%.0f/s' "$(kv rate "$b")")" \
			"$(ratio "$(kv rate "$l")" "$(kv rate "$b")")" "-" "-"
	done
	l=${BEST[redisr16]:-} w=${BEST[redisw16]:-}
	if [ -n "$l" ] && [ -n "$w" ]; then
		row "with a replica: wait_replicas = 1, 16 conns" \
			"$(fmt_rate "$w" "${BEST_CPU[redisw16]}")" \
			"$(fmt_rate "$l" "${BEST_CPU[redisr16]}")" \
			"$(ratio "$(kv rate "$w")" "$(kv rate "$l")")" "-" "-"
		row "  ... its message p50 against wait_replicas = 0" \
			"$(kv msg_p50 "$w") us" "$(kv msg_p50 "$l") us" \
			"$(ratio "$(kv msg_p50 "$w")" "$(kv msg_p50 "$l")")" "-" "-"
	fi
}

# ---- M: the cost of metrics --------------------------------------------------------

# scrape_mail_count - chapps_stage_duration_seconds_count of MAIL of the metrics-on milter
scrape_mail_count()
{
	curl -s -m 5 "http://127.0.0.1:$P_METRICS_HTTP/metrics" 2>/dev/null |
		awk '$1 == "chapps_stage_duration_seconds_count{stage=\"MAIL\"}" { print $2 }'
}

# phase_m - two identical chapps (gate + SDA + quota, LMDB, each its own state), one with
# metrics.listen set, measured in turn at 16 connections; the metrics one is scraped after
# each of its runs, as Prometheus would (more often, in fact)
METRICS_SCRAPED= METRICS_COST=
phase_m()
{
	local r e key port name list
	echo "M: the cost of metrics, on vs off (${SECS}s runs, best of $METRICS_ROUNDS interleaved)" >&2
	conf "$W/conf/moff.conf" "$P_CHAPPS" '"sender_domain_auth", "quota"' lmdb "$W/state-moff"
	conf "$W/conf/mon.conf" "$P_METRICS_ON" '"sender_domain_auth", "quota"' lmdb \
		"$W/state-mon"
	echo "metrics:   { listen = \"127.0.0.1:$P_METRICS_HTTP\"; };" >>"$W/conf/mon.conf"
	start moff "$P_CHAPPS" "$MILTER" -f -c "$W/conf/moff.conf" || return 1
	start mon "$P_METRICS_ON" "$MILTER" -f -c "$W/conf/mon.conf" || return 1
	warm "$P_CHAPPS"
	warm "$P_METRICS_ON"
	for ((r = 0; r < METRICS_ROUNDS; r++)); do
		list=("moff16:$P_CHAPPS:moff" "mon16:$P_METRICS_ON:mon")
		((r % 2 == 1)) && list=("${list[1]}" "${list[0]}")
		for e in "${list[@]}"; do
			IFS=: read -r key port name <<<"$e"
			measure "$key" "$port" "$name" -c 16 -k 50 -u 1000 -m 10000000 -t "$SECS"
			[ "$name" = mon ] && METRICS_SCRAPED=$(scrape_mail_count)
		done
	done
	stop moff mon
	[ -x "$MCOST" ] && METRICS_COST=$("$MCOST" 2000000)
	echo "  metrics-cost: ${METRICS_COST:-not built}" >&2
}

# table_m - the rows of M
table_m()
{
	local l=${BEST[mon16]:-} n=${BEST[moff16]:-} r
	[ -n "$l" ] && [ -n "$n" ] || return 0
	section "M. the cost of metrics: gate+SDA+quota lmdb, 16 conns, metrics.listen on (scraped after each run) vs off, best of $METRICS_ROUNDS interleaved rounds"
	r=$(ratio "$(kv rate "$l")" "$(kv rate "$n")")
	row "metrics on vs off, 16 conns" "$(fmt_rate "$l" "${BEST_CPU[mon16]}")" \
		"$(fmt_rate "$n" "${BEST_CPU[moff16]}")" "$r" ">= 0.97" "$(verdict ge "$r" 0.97)"
	row "  MAIL stages counted by the last scrape" "${METRICS_SCRAPED:-none}" "" "" "" ""
	[ -n "$METRICS_COST" ] || return 0
	# the metrics calls of one message against the milter's CPU time per message (off)
	row "  metrics calls per message (metrics-cost)" \
		"$(printf '%.0f ns on, %.0f off' "$(kv on_ns "$METRICS_COST")" \
		"$(kv off_ns "$METRICS_COST")")" "milter ${BEST_CPU[moff16]:-?}us/msg" \
		"$(awk -v c="$(kv cost_ns "$METRICS_COST")" -v u="${BEST_CPU[moff16]:-0}" \
		'BEGIN { if (u > 0) printf "%.2f%%", c / (u * 10); else print "-" }')" "< 3%" \
		"$(verdict awk -v c="$(kv cost_ns "$METRICS_COST")" -v u="${BEST_CPU[moff16]:-0}" \
		'BEGIN { exit !(u > 0 && c / (u * 10) < 3) }')"
	row "  one scrape (render)" "$(kv scrape_us "$METRICS_COST") us" "" "" "" ""
}

# ---- B: quota cost against the contents of the window ------------------------------

declare -A REDIS_USER_BYTES=()
phase_b()
{
	local redis=$1 n r be port name
	echo "B: quota cost against the window's contents" >&2
	[ -n "${PID[lmdb]:-}" ] || return 1	# phase A did not get its milters up
	[ "$redis" = 1 ] && [ -z "${PID[credis]:-}" ] && return 1
	for be in lmdb redis; do
		[ "$be" = redis ] && [ "$redis" != 1 ] && continue
		for n in 10 1000 100000; do
			# over the whole window (quota.interval, its default 86400 s): every bucket live
			"$CLI" -c "$W/conf/$be.conf" usage import "w$n" "$n" --spread 86400 \
				>>"$W/log/fill.log" 2>&1 ||
				{ FAILURES+=("usage import $be w$n failed: $(tail -n 1 "$W/log/fill.log")"); return 1; }
		done
	done
	if [ "$redis" = 1 ]; then	# the size of one user's state, typical and worst
		REDIS_USER_BYTES[w10]=$(redis-cli -p "$P_REDIS" memory usage chapps:q:w10)
		REDIS_USER_BYTES[w100000]=$(redis-cli -p "$P_REDIS" memory usage chapps:q:w100000)
	fi
	# the brief's recipe too: 100,000 sent through the milter (all in the newest buckets)
	run_bench fill-m100000 "$P_CHAPPS" -c 4 -k 100 -r 100 -u 1 --prefix m \
		--user-base 100000 -m "$(( MEM_USERS >= 100000 ? 1000 : 50 ))" -t 120 >/dev/null
	for ((r = 0; r < WIN_ROUNDS; r++)); do
		for be in lmdb redis; do
			[ "$be" = redis ] && [ "$redis" != 1 ] && continue
			port=$P_CHAPPS name=lmdb
			[ "$be" = redis ] && port=$P_CHAPPS2 name=credis
			for n in 10 1000 100000; do
				measure_cost "win-$be-$n" "$port" "$name" -c 1 -k 1000 -u 1 \
					--prefix w --user-base "$n" -m 10000000 -t "$WIN_SECS"
			done
			[ "$be" = lmdb ] && measure_cost "win-lmdb-m100000" "$port" "$name" -c 1 \
				-k 1000 -u 1 --prefix m --user-base 100000 -m 10000000 -t "$WIN_SECS"
		done
	done
	stop lmdb credis
}

# ---- C: memory per active user -------------------------------------------------------

# mem_run BACKEND USERS - fresh milter, one message per user, then RSS and store size
mem_run()
{
	local be=$1 users=$2 name=mem-$1-$2 port=$P_CHAPPS rss anon store line
	if [ "$be" = redis ]; then
		redis-cli -p "$P_REDIS" flushall >/dev/null
		conf "$W/conf/$name.conf" "$port" '"sender_domain_auth", "quota"' redis "$W/unused"
	else
		conf "$W/conf/$name.conf" "$port" '"sender_domain_auth", "quota"' lmdb \
			"$W/state-$name"
	fi
	start "$name" "$port" "$MILTER" -f -c "$W/conf/$name.conf" || return 1
	line=$(run_bench "$name" "$port" -c 32 -k 500 -u "$users" -m "$users" -t 120)
	rss=$(status_kb "${PID[$name]}" VmRSS)
	anon=$(status_kb "${PID[$name]}" RssAnon)
	if [ "$be" = redis ]; then
		store=$(redis_used_memory)
	else
		store=$(du -sB1 "$W/state-$name" | awk '{ print $1 }')
	fi
	stop "$name"
	MEM[$be-$users]="$rss $anon $store $(kv msgs "$line")"
	printf '  %-26s rss %d kB (anon %d kB), store %d bytes\n' "$name" "$rss" "$anon" \
		"$store" >&2
}

declare -A MEM=()
phase_c()
{
	local redis=$1 be
	echo "C: memory for 1,000 and $MEM_USERS active users" >&2
	for be in lmdb redis; do
		[ "$be" = redis ] && [ "$redis" != 1 ] && continue
		mem_run "$be" 1000 && mem_run "$be" "$MEM_USERS" || return 1
	done
}

# ---- D: end to end through Postfix ----------------------------------------------------

declare -A E2E=() E2E_ALL=() E2E_LINES=() E2E_CPU=()
phase_d()
{
	local r k port line
	echo "D: end to end through Postfix ($E2E_COUNT messages, $E2E_CONNS connections)" >&2
	conf "$W/conf/e2e-data.conf" "$P_CHAPPS" '"sender_domain_auth", "quota"' lmdb \
		"$W/state-e2e-data" data
	conf "$W/conf/e2e-eom.conf" "$P_CHAPPS2" '"sender_domain_auth", "quota"' lmdb \
		"$W/state-e2e-eom" eom
	start noop-data "$P_NOOP" "$NOOP" -p "inet:$P_NOOP@127.0.0.1" -l data -r &&
	start noop-eom "$P_NOOP2" "$NOOP" -p "inet:$P_NOOP2@127.0.0.1" -l eom -r &&
	start chapps-data "$P_CHAPPS" "$MILTER" -f -c "$W/conf/e2e-data.conf" &&
	start chapps-eom "$P_CHAPPS2" "$MILTER" -f -c "$W/conf/e2e-eom.conf" || return 1
	pf_listener "$P_SMTP_NONE" ""
	pf_listener "$P_SMTP_NOOP_DATA" "inet:127.0.0.1:$P_NOOP"
	pf_listener "$P_SMTP_CHAPPS_DATA" "inet:127.0.0.1:$P_CHAPPS"
	pf_listener "$P_SMTP_NOOP_EOM" "inet:127.0.0.1:$P_NOOP2"
	pf_listener "$P_SMTP_CHAPPS_EOM" "inet:127.0.0.1:$P_CHAPPS2"
	local sasl=0 users=() i
	if pf_sasl_available; then
		sasl=1
		for ((i = 0; i < AUTH_USERS; i++)); do users+=("u$i:$AUTH_PASS"); done
		pf_listener "$P_SMTP_AUTH_NONE" "" "-o smtpd_sasl_auth_enable=yes"
		pf_listener "$P_SMTP_AUTH_NOOP" "inet:127.0.0.1:$P_NOOP" "-o smtpd_sasl_auth_enable=yes"
		pf_listener "$P_SMTP_AUTH_CHAPPS" "inet:127.0.0.1:$P_CHAPPS" \
			"-o smtpd_sasl_auth_enable=yes"
		pf_up "$W/pf" "$P_SINK" bench.test "${users[@]}" ||
			{ FAILURES+=("Postfix did not start"); return 1; }
	else
		echo "bench: saslpasswd2 not installed: no SMTP AUTH rows (E)" >&2
		pf_up "$W/pf" "$P_SINK" || { FAILURES+=("Postfix did not start"); return 1; }
	fi
	local list=("none:$P_SMTP_NONE" "noop-data:$P_SMTP_NOOP_DATA"
		    "chapps-data:$P_SMTP_CHAPPS_DATA" "noop-eom:$P_SMTP_NOOP_EOM"
		    "chapps-eom:$P_SMTP_CHAPPS_EOM")
	for k in "${list[@]}"; do	# warm up every path (processes, caches)
		run_bench "warm-${k%%:*}" "${k#*:}" --smtp --xclient -c "$E2E_CONNS" -k 5 -u 1000 \
			-m 100 -t 60 >/dev/null
	done
	pf_drain 60
	local rev=() i
	for ((i = ${#list[@]} - 1; i >= 0; i--)); do rev+=("${list[i]}"); done
	for ((r = 0; r < E2E_ROUNDS; r++)); do
		local order=("${list[@]}")
		((r % 2 == 1)) && order=("${rev[@]}")
		for k in "${order[@]}"; do
			port=${k#*:}
			k=${k%%:*}
			e2e_run "$k" "$port" "$k" --smtp --xclient -c "$E2E_CONNS" \
				-k "$E2E_PER_CONN" -u 1000 -m "$E2E_COUNT" -t 120
		done
	done
	[ "$sasl" = 1 ] && phase_e
	pf_down
	stop noop-data noop-eom chapps-data chapps-eom
	for k in "${list[@]}"; do e2e_median "${k%%:*}"; done
}

# e2e_run KEY PORT NAME ARGS... - one chapps-bench run (ARGS) against the smtpd on PORT,
# charging milter NAME's CPU time to it (NAME without a PID: no milter); the rate and CPU
# go to E2E_ALL[KEY], the line to E2E_LINES[KEY]; then the queue is drained
e2e_run()
{
	local k=$1 port=$2 name=$3 c0=0 c1=0 cpu=0 n line; shift 3
	[ -n "${PID[$name]:-}" ] && c0=$(cpu_ticks "${PID[$name]}")
	line=$(run_bench "e2e-$k" "$port" "$@")
	[ -n "${PID[$name]:-}" ] && c1=$(cpu_ticks "${PID[$name]}")
	n=$(kv msgs "$line")
	[ "$n" -gt 0 ] && cpu=$(( (c1 - c0) * 1000000 / CLK_TCK / n ))
	printf '  %-26s %7.1f msg/s  msg p50 %6.1f ms  p99 %6.1f ms  milter cpu %d us/msg\n' \
		"e2e-$k" "$(kv rate "$line")" "$(awk -v u="$(kv msg_p50 "$line")" \
		'BEGIN { print u / 1000 }')" "$(awk -v u="$(kv msg_p99 "$line")" \
		'BEGIN { print u / 1000 }')" "$cpu" >&2
	E2E_ALL[$k]+="$(kv rate "$line") $cpu|"
	E2E_LINES[$k]+="$line|"
	pf_drain 60 || FAILURES+=("Postfix queue did not drain after e2e-$k")
}

# e2e_median KEY - the median round of KEY (by rate) into E2E[KEY] and E2E_CPU[KEY] (the
# machine is shared: the best round is the luckiest)
e2e_median()
{
	local k=$1 med
	med=$(printf '%s' "${E2E_ALL[$k]:-}" | tr '|' '\n' | sed '/^$/d' | nl -ba |
		sort -k2,2g | awk '{ l[NR] = $0 } END { if (NR) print l[int((NR + 1) / 2)] }')
	[ -n "$med" ] || return 0
	E2E[$k]=$(printf '%s' "${E2E_LINES[$k]}" | tr '|' '\n' | sed -n "$(echo "$med" |
		awk '{ print $1 }')p")
	E2E_CPU[$k]=$(echo "$med" | awk '{ print $3 }')
}

# ---- E: end to end with SMTP AUTH, one message per session ------------------------------

# phase_e - called by phase_d with its Postfix and milters up: AUTH_COUNT sessions of one
# message each (AUTH PLAIN as u<n>), no milter / no-op at DATA / chapps with commit at
# DATA, E2E_ROUNDS interleaved rounds, the median round of each kept in E2E[auth-*]
phase_e()
{
	local list=("auth-none:$P_SMTP_AUTH_NONE:none" "auth-noop:$P_SMTP_AUTH_NOOP:noop-data"
		    "auth-chapps:$P_SMTP_AUTH_CHAPPS:chapps-data") rev=() e k port name r i
	echo "E: end to end with SMTP AUTH, 1 message per session ($AUTH_COUNT sessions)" >&2
	for e in "${list[@]}"; do	# warm up every path (smtpd processes, SASL, caches)
		IFS=: read -r k port name <<<"$e"
		run_bench "warm-$k" "$port" --smtp --auth "$AUTH_PASS" -c "$E2E_CONNS" -k 1 \
			-u "$AUTH_USERS" -m 100 -t 60 >/dev/null
	done
	pf_drain 60
	for ((i = ${#list[@]} - 1; i >= 0; i--)); do rev+=("${list[i]}"); done
	for ((r = 0; r < E2E_ROUNDS; r++)); do
		local order=("${list[@]}")
		((r % 2 == 1)) && order=("${rev[@]}")
		for e in "${order[@]}"; do
			IFS=: read -r k port name <<<"$e"
			e2e_run "$k" "$port" "$name" --smtp --auth "$AUTH_PASS" -c "$E2E_CONNS" -k 1 \
				-u "$AUTH_USERS" -m "$AUTH_COUNT" -t 120
		done
	done
	for e in "${list[@]}"; do e2e_median "${e%%:*}"; done
}

# ---- the table ------------------------------------------------------------------------

table()
{
	local redis=$1 l n c s

	if [ "${BENCH_ONLY:-}" = metrics ]; then
		table_m
		return 0
	fi
	if [ "${BENCH_ONLY:-}" = redis ]; then
		table_r
		return 0
	fi
	if [ "${BENCH_ONLY:-}" = lmdb ]; then
		table_l
		return 0
	fi
	if [ "${BENCH_ONLY:-}" = cluster ]; then
		table_k
		return 0
	fi

	section "A. milter protocol, loopback TCP, 1 recipient, 1,000 users, best of $ROUNDS (msg/s, CPU us/msg of the milter [+redis-server])"
	l=${BEST[gate16]:-} n=${BEST[noopmail16]:-}
	row "gate alone, 16 conns" "$(fmt_rate "$l" "${BEST_CPU[gate16]}")" \
		"$(fmt_rate "$n" "${BEST_CPU[noopmail16]}")" \
		"$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" "-" "-"
	for c in 16 1 256; do
		n=${BEST[noop$c]:-}
		for s in lmdb redis; do
			[ "$s" = redis ] && [ "$redis" != 1 ] && continue
			l=${BEST[$s$c]:-}
			local r tgt res
			r=$(ratio "$(kv rate "$l")" "$(kv rate "$n")")
			tgt="-" res="-"
			if [ "$c" = 16 ]; then
				if [ "$s" = lmdb ]; then tgt=">= 0.95"; res=$(verdict ge "$r" 0.95)
				else tgt=">= 0.50"; res=$(verdict ge "$r" 0.50); fi
			fi
			row "gate+SDA+quota $s, $c conns" "$(fmt_rate "$l" "${BEST_CPU[$s$c]}")" \
				"$(fmt_rate "$n" "${BEST_CPU[noop$c]}")" "$r" "$tgt" "$res"
		done
	done
	for s in lmdb redis; do	# a quota of three limits (issue 10)
		[ "$s" = redis ] && [ "$redis" != 1 ] && continue
		l=${BEST[lim3${s}16]:-} n=${BEST[noop16]:-}
		[ -n "$l" ] || continue
		row "gate+SDA+quota of 3 limits $s, 16 conns" \
			"$(fmt_rate "$l" "${BEST_CPU[lim3${s}16]}")" \
			"$(fmt_rate "$n" "${BEST_CPU[noop16]}")" \
			"$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" "-" "-"
		local c3 c1
		c3=$(awk -v x="${BEST_CPU[lim3${s}16]}" 'BEGIN { n = split(x, a, "+"); s = 0;
			for (i = 1; i <= n; i++) s += a[i]; print s }')
		c1=$(awk -v x="${BEST_CPU[${s}16]}" 'BEGIN { n = split(x, a, "+"); s = 0;
			for (i = 1; i <= n; i++) s += a[i]; print s }')
		r=$(ratio "$c3" "$c1")
		row "  3 limits vs 1: CPU per decision, $s" "${c3}us/msg" "${c1}us/msg (1 limit)" \
			"$r" "<= 1.15" "$(verdict awk -v x="$r" 'BEGIN { exit !(x <= 1.15) }')"
		row "  3 limits vs 1: throughput, $s" "$(printf '%.0f/s' "$(kv rate "$l")")" \
			"$(printf '%.0f/s (1 limit)' "$(kv rate "${BEST[${s}16]:-}")")" \
			"$(ratio "$(kv rate "$l")" "$(kv rate "${BEST[${s}16]:-}")")" "-" "-"
	done
	for k in 10 1; do	# fewer messages per connection (mail clients: one per session)
		l=${BEST[lmdb16k$k]:-} n=${BEST[noop16k$k]:-}
		[ -n "$l" ] || continue
		r=$(ratio "$(kv rate "$l")" "$(kv rate "$n")")
		row "gate+SDA+quota lmdb, 16 conns, $k msg/conn" \
			"$(fmt_rate "$l" "${BEST_CPU[lmdb16k$k]}")" \
			"$(fmt_rate "$n" "${BEST_CPU[noop16k$k]}")" "$r" ">= 0.95" \
			"$(verdict ge "$r" 0.95)"
	done
	l=${BEST[lmdbdef16k1]:-} n=${BEST[noop16k1d]:-}
	[ -n "$l" ] && row "  ... default listeners (HELO asked for)" \
		"$(fmt_rate "$l" "${BEST_CPU[lmdbdef16k1]}")" \
		"$(fmt_rate "$n" "${BEST_CPU[noop16k1d]}")" \
		"$(ratio "$(kv rate "$l")" "$(kv rate "$n")")" "-" "-"
	for c in 16 256; do
		for s in lmdb redis; do
			[ "$s" = redis ] && [ "$redis" != 1 ] && continue
			row "  p99 of a stage at saturation, $s, $c conns" \
				"$(ms "$(p99 "${BEST[$s$c]}")")" "$(ms "$(p99 "${BEST[noop$c]}")")" \
				"" "" ""
		done
	done
	section "   latency at a fixed $PACE_RATE msg/s, 16 conns (p50 / p99 / p99.9 of the worst stage; whole message p99)"
	for s in lmdb credis; do
		[ "$s" = credis ] && [ "$redis" != 1 ] && continue
		l=${BEST[paced-$s]:-} n=${BEST[paced-noop]:-}
		local lim=1000 name=lmdb
		[ "$s" = credis ] && lim=2000 name=redis
		row "  stage latency, $name" \
			"$(awk -v a="$(worst p50 "$l")" -v b="$(worst p99 "$l")" \
			-v c="$(worst p999 "$l")" \
			'BEGIN { printf "%.2f/%.2f/%.1f ms", a / 1000, b / 1000, c / 1000 }')" \
			"$(awk -v a="$(worst p50 "$n")" -v b="$(worst p99 "$n")" \
			-v c="$(worst p999 "$n")" \
			'BEGIN { printf "%.2f/%.2f/%.1f ms", a / 1000, b / 1000, c / 1000 }')" "" \
			"p99 < $((lim / 1000)) ms" "$(verdict awk -v b="$(p99 "$l")" -v m="$lim" \
			'BEGIN { exit !(b < m) }')"
		row "  whole message p99, $name" "$(ms "$(kv msg_p99 "$l")")" \
			"$(ms "$(kv msg_p99 "$n")")" "" "" ""
	done

	table_m

	section "B. quota cost vs the window's contents: 1 conn, one user, cheapest of $WIN_ROUNDS interleaved runs (median RCPT (reserve) + DATA (commit) latency, msg/s; ratio = cost / cost at 10)"
	for s in lmdb redis; do
		[ "$s" = redis ] && [ "$redis" != 1 ] && continue
		local base=${COST[win-$s-10]:-0}
		for c in 10 1000 100000 m100000; do
			[ "$c" = m100000 ] && [ "$s" != lmdb ] && continue
			l=${BEST[win-$s-$c]:-}
			[ -n "$l" ] || continue
			r=$(ratio "${COST[win-$s-$c]}" "$base")
			local what="window holds $c (every bucket live)"
			[ "$c" = 10 ] && what="window holds 10 (10 buckets)"
			[ "$c" = m100000 ] && what="window holds 100000 (sent just now)"
			tgt="-" res="-"
			if [ "$c" != 10 ]; then
				tgt="<= 1.10"
				res=$(verdict awk -v x="$r" 'BEGIN { exit !(x <= 1.10) }')
			fi
			row "$s: $what" "$(printf '%.0f us, %.0f/s' "${COST[win-$s-$c]}" "$(kv rate "$l")")" \
				"$(printf '%.0f us at 10' "$base")" "$r" "$tgt" "$res"
		done
	done

	section "C. memory for N active users (one message each): milter RSS (anon), store size"
	for s in lmdb redis; do
		[ "$s" = redis ] && [ "$redis" != 1 ] && continue
		local a z
		read -r -a a <<<"${MEM[$s-1000]:-0 0 0 0}"
		read -r -a z <<<"${MEM[$s-$MEM_USERS]:-0 0 0 0}"
		row "$s: 1,000 active users" "rss $((a[0] / 1024)) MB (anon $((a[1] / 1024)))" \
			"store $((a[2] / 1024)) kB" "" "" ""
		row "$s: $MEM_USERS active users" "rss $((z[0] / 1024)) MB (anon $((z[1] / 1024)))" \
			"store $((z[2] / 1024)) kB" "" "" ""
		if [ "$s" = lmdb ]; then
			# quota_record.h: 6-byte header, 12 bytes a bucket, at most
			# interval/resolution + 2 buckets; over ~2 kB LMDB stores it on its own pages
			row "lmdb: one user, every bucket live" "record $((6 + 12 * 290)) B (computed)" \
				"1 overflow page, 4 kB" "" "" ""
		else
			row "redis: one user, 10 buckets / all live" \
				"${REDIS_USER_BYTES[w10]:-?} B / ${REDIS_USER_BYTES[w100000]:-?} B" \
				"(MEMORY USAGE)" "" "" ""
		fi
		row "$s: per active user" \
			"milter $(( (z[1] - a[1]) * 1024 / (MEM_USERS - 1000) )) B (anon)" \
			"store $(( (z[2] - a[2]) / (MEM_USERS - 1000) )) B" "" "-" "-"
	done

	[ ${#E2E[@]} -gt 0 ] || return 0
	section "D. end to end: Postfix -> smtp-sink, XCLIENT LOGIN, $E2E_COUNT msgs, $E2E_CONNS conns, median of $E2E_ROUNDS rounds (accepted msg/s, message p50, milter CPU us/msg)"
	local none=${E2E[none]:-} k what base rb tg rs
	for k in none noop-data chapps-data noop-eom chapps-eom; do
		l=${E2E[$k]:-}
		[ -n "$l" ] || continue
		base="" rb="-" tg="-" rs="-"
		case $k in
		none) what="no milter" ;;
		noop-data) what="no-op milter, accepts at DATA"; base=$none ;;
		chapps-data) what="chapps, quota.commit = data"; base=${E2E[noop-data]:-} ;;
		noop-eom) what="no-op milter, accepts at EOM"; base=$none ;;
		chapps-eom) what="chapps, quota.commit = eom"; base=${E2E[noop-eom]:-} ;;
		esac
		if [ -n "$base" ]; then
			rb=$(ratio "$(kv rate "$l")" "$(kv rate "$base")")
			case $k in chapps-*) tg=">= 0.95"; rs=$(verdict ge "$rb" 0.95) ;; esac
		fi
		row "$what" "$(awk -v r="$(kv rate "$l")" -v u="$(kv msg_p50 "$l")" \
			-v c="${E2E_CPU[$k]:-0}" -v m="$k" 'BEGIN { printf "%.0f/s p50 %.1f ms", r, u / 1000;
			if (m != "none") printf " %dus", c }')" \
			"$( [ -n "$base" ] && awk -v r="$(kv rate "$base")" -v k="${base%% *}" \
			'BEGIN { sub(/^label=e2e-/, "", k); printf "%s %.0f/s", k, r }')" \
			"$rb" "$tg" "$rs"
	done
	for k in chapps-data chapps-eom; do
		[ -n "${E2E[$k]:-}" ] && [ -n "$none" ] || continue
		row "$k vs no milter" "" "" "$(ratio "$(kv rate "${E2E[$k]}")" "$(kv rate "$none")")" \
			"" ""
	done

	[ -n "${E2E[auth-none]:-}" ] || return 0
	section "E. end to end as clients submit: SMTP AUTH PLAIN (Cyrus SASL), 1 msg per session, $AUTH_COUNT sessions, $E2E_CONNS at a time, median of $E2E_ROUNDS interleaved rounds"
	none=${E2E[auth-none]:-}
	for k in auth-none auth-noop auth-chapps; do
		l=${E2E[$k]:-}
		[ -n "$l" ] || continue
		base="" rb="-" tg="-" rs="-"
		case $k in
		auth-none) what="no milter" ;;
		auth-noop) what="no-op milter, accepts at DATA"; base=$none ;;
		auth-chapps) what="chapps, quota.commit = data"; base=${E2E[auth-noop]:-}
			tg=">= 0.95" ;;
		esac
		if [ -n "$base" ]; then
			rb=$(ratio "$(kv rate "$l")" "$(kv rate "$base")")
			[ "$tg" != "-" ] && rs=$(verdict ge "$rb" 0.95)
		fi
		row "$what" "$(awk -v r="$(kv rate "$l")" -v u="$(kv msg_p50 "$l")" \
			-v c="${E2E_CPU[$k]:-0}" -v m="$k" 'BEGIN { printf "%.0f/s p50 %.1f ms", r, u / 1000;
			if (m != "auth-none") printf " %dus", c }')" \
			"$( [ -n "$base" ] && awk -v r="$(kv rate "$base")" -v k="${base%% *}" \
			'BEGIN { sub(/^label=e2e-/, "", k); printf "%s %.0f/s", k, r }')" \
			"$rb" "$tg" "$rs"
	done
	[ -n "${E2E[auth-chapps]:-}" ] && row "auth-chapps vs no milter" "" "" \
		"$(ratio "$(kv rate "${E2E[auth-chapps]}")" "$(kv rate "$none")")" "" ""
	return 0
}

print_table()
{
	local l
	[ -s "$W/failures.txt" ] && mapfile -t -O "${#FAILURES[@]}" FAILURES <"$W/failures.txt"
	echo
	echo "chapps benchmark, $(date -u +%Y-%m-%dT%H:%MZ): $(nproc) CPUs ($(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n 1)), $(awk '$1 == "MemTotal:" { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo), load at start $LOAD0"
	printf '%-46s %-25s %-22s %6s  %-15s %s\n' "scenario" "chapps" "baseline" "ratio" "target" "result"
	printf '%s\n' "----------------------------------------------------------------------------------------------------------------------------------"
	for l in "${ROWS[@]}"; do printf '%s\n' "$l"; done
	echo
	if [ ${#FAILURES[@]} -gt 0 ]; then
		echo "FAILURES (unexpected replies or broken runs):"
		printf '  %s\n' "${FAILURES[@]}"
	else
		echo "every reply was the expected one"
	fi
}

# ---- main ---------------------------------------------------------------------------

main()
{
	local f redis=0 t0=$SECONDS
	for f in "$MILTER" "$CLI" "$BENCH" "$NOOP"; do
		[ -x "$f" ] || { echo "bench: $f is missing (run make bench)" >&2; exit 1; }
	done
	if ldd "$MILTER" 2>/dev/null | grep -q 'libasan\|libubsan'; then
		echo "bench: WARNING: chapps-milter is built with sanitizers; the figures mean little" >&2
	fi
	W=$(mktemp -d /tmp/chapps-bench.XXXXXX) || exit 1
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	chmod 755 "$W"
	mkdir -p "$W/log" "$W/conf"
	: >"$W/results.txt"
	LOAD0=$(cut -d' ' -f1 /proc/loadavg)
	command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1 && redis=1
	[ "${BENCH_ONLY:-}" = metrics ] && redis=0	# M needs no Redis
	[ "${BENCH_ONLY:-}" = lmdb ] && redis=0		# nor does L

	conf "$W/conf/gate.conf" "$P_CHAPPS" "" lmdb "$W/state-gate"
	conf "$W/conf/lmdb.conf" "$P_CHAPPS" '"sender_domain_auth", "quota"' lmdb "$W/state-lmdb"
	conf "$W/conf/lmdb-default.conf" "$P_CHAPPS3" '"sender_domain_auth", "quota"' lmdb \
		"$W/state-lmdbdef" data default
	conf "$W/conf/redis.conf" "$P_CHAPPS2" '"sender_domain_auth", "quota"' redis "$W/unused"
	echo "bench: policy database with $MEM_USERS users ($W)" >&2
	make_policy_db || { echo "bench: could not build the policy database" >&2; exit 1; }
	if [ "$redis" = 1 ]; then
		start_redis || { echo "bench: redis-server did not start; no Redis rows" >&2; redis=0; }
	elif [ "${BENCH_ONLY:-}" != metrics ] && [ "${BENCH_ONLY:-}" != lmdb ]; then
		echo "bench: redis-server not installed; no Redis rows" >&2
	fi

	if [ "${BENCH_ONLY:-}" = cluster ]; then
		if [ "$redis" = 1 ]; then
			phase_k || FAILURES+=("phase K aborted")
			stop redis
		else
			FAILURES+=("BENCH_ONLY=cluster: no redis-server")
		fi
		table "$redis"
		print_table
		echo "(took $((SECONDS - t0)) s, load at the end $(cut -d' ' -f1 /proc/loadavg))"
		[ ${#FAILURES[@]} -eq 0 ]
		return
	fi
	if [ "${BENCH_ONLY:-}" = redis ]; then
		if [ "$redis" = 1 ]; then
			phase_r || FAILURES+=("phase R aborted")
			stop redis
		else
			FAILURES+=("BENCH_ONLY=redis: no redis-server")
		fi
		table "$redis"
		print_table
		echo "(took $((SECONDS - t0)) s, load at the end $(cut -d' ' -f1 /proc/loadavg))"
		[ ${#FAILURES[@]} -eq 0 ]
		return
	fi
	if [ "${BENCH_ONLY:-}" = lmdb ]; then
		phase_l || FAILURES+=("phase L aborted")
		table "$redis"
		print_table
		echo "(took $((SECONDS - t0)) s, load at the end $(cut -d' ' -f1 /proc/loadavg))"
		[ ${#FAILURES[@]} -eq 0 ]
		return
	fi
	if [ "${BENCH_ONLY:-}" = metrics ]; then
		phase_m || FAILURES+=("phase M aborted")
		[ "$redis" = 1 ] && stop redis
		table "$redis"
		print_table
		echo "(took $((SECONDS - t0)) s, load at the end $(cut -d' ' -f1 /proc/loadavg))"
		[ ${#FAILURES[@]} -eq 0 ]
		return
	fi
	phase_a "$redis" || FAILURES+=("phase A aborted")
	echo "  (A done at $((SECONDS - t0)) s)" >&2
	phase_b "$redis" || FAILURES+=("phase B aborted")
	stop lmdb credis
	echo "  (B done at $((SECONDS - t0)) s)" >&2
	phase_m || FAILURES+=("phase M aborted")
	echo "  (M done at $((SECONDS - t0)) s)" >&2
	phase_c "$redis" || FAILURES+=("phase C aborted")
	echo "  (C done at $((SECONDS - t0)) s)" >&2
	[ "$redis" = 1 ] && stop redis
	if [ "${BENCH_E2E:-1}" = 1 ]; then
		. "$HERE/postfix.sh"
		if pf_available; then
			phase_d || FAILURES+=("phase D aborted")
			echo "  (D done at $((SECONDS - t0)) s)" >&2
		else
			echo "bench: no root, postfix or smtp-sink: no end-to-end rows" >&2
		fi
	fi
	table "$redis"
	print_table
	echo "(took $((SECONDS - t0)) s, load at the end $(cut -d' ' -f1 /proc/loadavg)${BENCH_KEEP:+; raw chapps-bench -q lines in $W/results.txt})"
	[ ${#FAILURES[@]} -eq 0 ]
}

main "$@"

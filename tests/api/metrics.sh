#!/bin/bash
# tests/api/metrics.sh - chapps-milter's Prometheus endpoint (metrics.listen) during a protocol run
#
# One milter (outbound: sender_domain_auth, quota 2 for alice) with metrics on
# 127.0.0.1:17394 and a bearer token; miltertest (tests/protocol/outbound.lua) sends two
# messages that pass, a third refused at RCPT by quota and one refused at MAIL by
# sender_domain_auth, scraping between them.  The scraped counters must equal the decisions
# the milter logged (one line per accept and per refusal), and the expected values:
# 2 accepts, 1 quota reject at RCPT, 1 SDA reject at MAIL, 2 refusals 5xx, 4 connections.
# The latency histograms count each stage the milter answered (4 CONNECT, 4 MAIL, 3 RCPT,
# 2 DATA), the caches their hits and misses; a fifth message (metrics-inflight.lua) is
# scraped between RCPT and DATA: 1 connection open, 1 reservation in flight, both 0 after.
# A reload of a broken file bumps chapps_config_reload_failures_total and leaves
# chapps_config_generation at 1; a good one makes it 2.
# Every series etc/grafana's dashboard queries is served.  Then a second milter whose store
# (Redis on 127.0.0.1:1) refuses connections: two messages tempfailed at RCPT are two store
# errors, one incident, two 4xx refusals.
# Also: 401 without the token; a non-loopback metrics.listen stops the start.
# Ports: milter 127.0.0.1:17393, metrics 17394.  Exit 77 without miltertest.

HERE=$(cd "$(dirname "$0")" && pwd)
LUA="$HERE/../protocol/outbound.lua"
. "$HERE/lib.sh"
api_init chapps-metrics cli curl milter miltertest
MPORT=${API_METRICS_MILTER_PORT:-17393}
XPORT=${API_METRICS_PORT:-17394}
TOKEN=s3cret-scrape

# conf LISTEN - the milter's configuration with metrics on LISTEN
conf()
{
	cat >"$T/m.conf" <<-EOF
		milter: { socket = "inet:$MPORT@127.0.0.1"; user = ""; group = "";
		          pidfile = "$T/m.pid"; run_as_root = true; };
		inbound: { policies = [ ]; };
		outbound: { policies = [ "sender_domain_auth", "quota" ]; };
		quota: { margin = 0; };
		store: { path = "$T/state"; };
		policy_db: { path = "$T/p.db"; };
		metrics: { listen = "$1"; token = "$TOKEN"; };
	EOF
}

conf "127.0.0.1:$XPORT"
for c in "admin db-setup" "quota add q2 2" "user add alice --quota q2" \
	"allow alice example.test --create" "quota add q5 5" "user add bob --quota q5" \
	"allow bob example.test"; do
	# shellcheck disable=SC2086
	"$CLI" -c "$T/m.conf" $c >>"$T/cli.out" 2>&1 || { cat "$T/cli.out"; exit 1; }
done
conf "192.0.2.1:9101"
"$MILTER" -f -c "$T/m.conf" >"$T/bad.log" 2>&1
rc=$?
[ $rc != 0 ] && grep -q 'must be a loopback' "$T/bad.log" &&
	ok "a non-loopback metrics.listen stops the start (exit $rc)" ||
	notok "a non-loopback metrics.listen stops the start" "exit $rc" "$(cat "$T/bad.log")"

conf "127.0.0.1:$XPORT"
"$MILTER" -f -c "$T/m.conf" 2>"$T/milter.log" &
PID[milter]=$!
for ((i = 0; i < 200; i++)); do
	grep -q 'starting on' "$T/milter.log" && break
	sleep 0.05
done
grep -q 'starting on' "$T/milter.log" || { cat "$T/milter.log"; echo "milter did not start"; exit 1; }

# scrape - the metrics text (with the token)
scrape() { curl -s -m 5 -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$XPORT/metrics"; }
# value TEXT SERIES - the value of one series, 0 when absent
value() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print 0 }' <<<"$1"; }
# total TEXT REGEX - the sum of the chapps_decisions_total series matching REGEX
total() { awk -v r="$2" '/^chapps_decisions_total/ && $1 ~ r { n += $2 } END { print n + 0 }' <<<"$1"; }

mt()
{
	local out rc
	out=$("$MILTERTEST" -D SOCK="inet:$MPORT@127.0.0.1" -D USER=alice -D FROM="$2" \
		-D PLAN="$3" -s "$LUA" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "$1"; else notok "$1" "miltertest exit $rc" "$out"; fi
}
MSG="M:CONTINUE R:CONTINUE D:ACCEPT E?:ACCEPT"

code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$XPORT/metrics")
eq "GET /metrics without the token: 401" "$code" 401
m0=$(scrape)
grep -q '^chapps_build_info{version="' <<<"$m0" && ok "with the token: the exposition, build info" ||
	notok "with the token: the exposition, build info" "$m0"
eq "before any mail: 0 connections" "$(value "$m0" chapps_connections_total)" 0

mt "message 1 passes" "<alice@example.test>" "$MSG"
m1=$(scrape)
eq "scrape during the run: 1 accept so far" "$(total "$m1" 'result="accept"')" 1
mt "message 2 passes" "<alice@example.test>" "$MSG"
mt "message 3: refused at RCPT (quota 2)" "<alice@example.test>" "M:CONTINUE R:REPLYCODE"
mt "message 4: refused at MAIL (other.test not alice's)" "<alice@other.test>" "M:REPLYCODE"
m=$(scrape)

eq "2 accepts at DATA" "$(value "$m" 'chapps_decisions_total{stage="DATA",policy="quota",result="accept"}')" 2
eq "1 quota reject at RCPT" \
	"$(value "$m" 'chapps_decisions_total{stage="RCPT",policy="quota",result="reject"}')" 1
eq "1 sender_domain_auth reject at MAIL" \
	"$(value "$m" 'chapps_decisions_total{stage="MAIL",policy="sender_domain_auth",result="reject"}')" 1
eq "refusals 5xx: 2, 4xx: 0" "$(value "$m" 'chapps_refusals_total{class="5xx"}') $(value "$m" 'chapps_refusals_total{class="4xx"}')" "2 0"
eq "4 connections" "$(value "$m" chapps_connections_total)" 4
eq "no incidents" "$(value "$m" chapps_incidents_total)" 0
# the stage histograms: one count per stage answered, buckets cumulative up to +Inf
for sc in CONNECT:4 HELO:0 MAIL:4 RCPT:3 DATA:2 EOM:0; do
	st=${sc%:*} want=${sc#*:}
	eq "latency histogram of $st: count $want" \
		"$(value "$m" "chapps_stage_duration_seconds_count{stage=\"$st\"}")" "$want"
	eq "latency histogram of $st: le=+Inf = count" \
		"$(value "$m" "chapps_stage_duration_seconds_bucket{stage=\"$st\",le=\"+Inf\"}")" "$want"
done
sorted=$(awk '/^chapps_stage_duration_seconds_bucket\{stage="MAIL"/ { if ($2 < last) bad = 1;
	last = $2; n++ } END { print (n == 15 && !bad) ? "yes" : "no" }' <<<"$m")
eq "MAIL: 15 buckets (50us..1s, +Inf), cumulative" "$sorted" yes
gt0=$(awk '$1 == "chapps_stage_duration_seconds_sum{stage=\"MAIL\"}" { print ($2 > 0) ? "yes" : "no" }' <<<"$m")
eq "MAIL: the sum of durations is above 0" "$gt0" yes
# caches: SDA decisions (store) msg 1 misses, 2 and 3 hit; the quota limit the same
eq "SDA cache: 2 hits" "$(value "$m" 'chapps_cache_hits_total{cache="sda"}')" 2
eq "SDA cache: misses >= 2 (message 1, message 4)" \
	"$(awk '$1 == "chapps_cache_misses_total{cache=\"sda\"}" { print ($2 >= 2) ? "yes" : $2 }' <<<"$m")" yes
eq "quota cache: 2 hits, 1 miss" "$(value "$m" 'chapps_cache_hits_total{cache="quota"}') $(value "$m" 'chapps_cache_misses_total{cache="quota"}')" "2 1"
for b in store policy_db; do
	eq "backend $b: no errors, timeouts, reconnects" \
		"$(value "$m" "chapps_backend_errors_total{backend=\"$b\"}") $(value "$m" "chapps_backend_timeouts_total{backend=\"$b\"}") $(value "$m" "chapps_backend_reconnects_total{backend=\"$b\"}")" "0 0 0"
done
eq "no reservation in flight between messages" "$(value "$m" chapps_reservations_in_flight)" 0
eq "configuration generation 1" "$(value "$m" chapps_config_generation)" 1
eq "no reload failures" "$(value "$m" chapps_config_reload_failures_total)" 0

# a fifth message (bob's), scraped while it holds its reservation
out=$("$MILTERTEST" -D SOCK="inet:$MPORT@127.0.0.1" -D USER=bob -D FROM="<bob@example.test>" \
	-D HOOK="curl -s -m 5 -H 'Authorization: Bearer $TOKEN' -o '$T/mid.txt' http://127.0.0.1:$XPORT/metrics" \
	-s "$HERE/metrics-inflight.lua" 2>&1)
rc=$?
if [ $rc = 0 ]; then ok "message 5 passes, scraped between RCPT and DATA"; else
	notok "message 5 passes, scraped between RCPT and DATA" "miltertest exit $rc" "$out"; fi
mid=$(cat "$T/mid.txt" 2>/dev/null)
eq "between RCPT and DATA: 1 reservation in flight" "$(value "$mid" chapps_reservations_in_flight)" 1
eq "between RCPT and DATA: 1 connection open" "$(value "$mid" chapps_connections_open)" 1
m=$(scrape)
eq "after DATA: no reservation in flight" "$(value "$m" chapps_reservations_in_flight)" 0
eq "after message 5: MAIL count 5" "$(value "$m" 'chapps_stage_duration_seconds_count{stage="MAIL"}')" 5

# reloads: a broken file is refused (counted), a good one installed (generation 2)
cp "$T/m.conf" "$T/m.conf.good"
echo 'quota: { margin = "not a number"; };' >>"$T/m.conf"
kill -USR1 "${PID[milter]}"
for ((i = 0; i < 200; i++)); do
	[ "$(value "$(scrape)" chapps_config_reload_failures_total)" = 1 ] && break
	sleep 0.05
done
m=$(scrape)
eq "a broken reload: chapps_config_reload_failures_total 1" \
	"$(value "$m" chapps_config_reload_failures_total)" 1
eq "a broken reload: generation still 1" "$(value "$m" chapps_config_generation)" 1
cp "$T/m.conf.good" "$T/m.conf"
kill -USR1 "${PID[milter]}"
for ((i = 0; i < 200; i++)); do
	[ "$(value "$(scrape)" chapps_config_generation)" = 2 ] && break
	sleep 0.05
done
m=$(scrape)
eq "a good reload: generation 2, failures still 1" \
	"$(value "$m" chapps_config_generation) $(value "$m" chapps_config_reload_failures_total)" "2 1"

# every series the Grafana dashboard queries is in the exposition
missing=
for name in $(grep -o 'chapps_[a-z_]*' "$HERE/../../etc/grafana/chapps-dashboard.json" | sort -u); do
	grep -q "^$name[{ ]" <<<"$m" || missing="$missing $name"
done
eq "etc/grafana's dashboard: every series it queries is served" "${missing:-none}" none

# the counts match the decisions the milter logged
for r in accept reject tempfail; do
	logged=$(grep -c ": $r: " "$T/milter.log")
	eq "decisions logged as $r ($logged) = the counters' $r" "$(total "$m" "result=\"$r\"")" "$logged"
done
kill -0 "${PID[milter]}" 2>/dev/null && ok "the milter still runs" || notok "the milter still runs"
kill -TERM "${PID[milter]}"
wait "${PID[milter]}"
eq "the milter exits 0 on SIGTERM" "$?" 0
unset "PID[milter]"

# a store that does not answer (Redis on port 1: refused): each failed call is a store error,
# the outage one incident; quota.on_error (tempfail, a 4xx reply) answers the message
sed -i 's|^\(\s*\)store: {.*|\1store: { backend = "redis"; redis: { server = "127.0.0.1"; port = 1; }; };|' "$T/m.conf"
"$MILTER" -f -c "$T/m.conf" 2>"$T/milter2.log" &
PID[milter]=$!
for ((i = 0; i < 200; i++)); do
	grep -q 'starting on' "$T/milter2.log" && break
	sleep 0.05
done
if grep -q 'starting on' "$T/milter2.log"; then
	mt "with the store down: refused at RCPT (4xx reply)" "<alice@example.test>" "M:CONTINUE R:REPLYCODE"
	mt "again" "<alice@example.test>" "M:CONTINUE R:REPLYCODE"
	m=$(scrape)
	# per message two failed store calls: the lock check at MAIL (lock.check, which lets
	# the message go on) and the reservation at RCPT
	eq "store down: 4 store errors, 0 policy_db errors" \
		"$(value "$m" 'chapps_backend_errors_total{backend="store"}') $(value "$m" 'chapps_backend_errors_total{backend="policy_db"}')" "4 0"
	eq "store down: 1 incident (one outage)" "$(value "$m" chapps_incidents_total)" 1
	eq "store down: the two refusals are 4xx" "$(value "$m" 'chapps_refusals_total{class="4xx"}')" 2
	kill -TERM "${PID[milter]}"
	wait "${PID[milter]}"
	eq "the second milter exits 0 on SIGTERM" "$?" 0
else
	notok "a milter with the store down starts" "$(tail -5 "$T/milter2.log")"
fi
unset "PID[milter]"
api_finish

#!/bin/bash
# tests/api/grl-tuple.sh - GET /live/grl/tuple/ over the greylisting state of a running milter
#
# chapps-milter (inbound: greylisting alone, min_delay 60 s) and chapps-api share one
# configuration (SQLite, LMDB store).  milter-client.py plays Postfix's smtpd: a message from
# 192.0.2.7 to a recipient of grey.test (greylisted domain) is deferred; then the API answers
# for that tuple (recipient in another case, as the policy lower-cases it) with the epoch the
# attempt began, last_pass null, and 0.0 for tuples the store does not hold (another client,
# sender or recipient).  The look-up changes nothing: repeated, it answers the same, the
# client's tally stays 0, and the next attempt of the message is an early retry (the clock
# kept, greylist=early), not a new tuple.  Also: 422 for a missing field or a client that is
# not an IP address; a read token may use the route.
# Ports: chapps-api 127.0.0.1:17389, milter 17399.  Exit 77 without python3 or curl/jq.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
api_init chapps-api-grl cli curl jq milter
PY=$(command -v python3) || skip "python3 not found"
CLIENT="$HERE/../protocol/milter-client.py"
PORT=${API_GRL_PORT:-17389}
MPORT=$((PORT + 10))

api_conf g "$PORT" "" "outbound: { policies = [ ]; };
inbound: { policies = [ \"greylisting\" ]; };
greylisting: { min_delay = 60; };"
cli g admin db-setup >"$T/setup.out" 2>&1 &&
	cli g domain add grey.test >>"$T/setup.out" 2>&1 &&
	cli g domain greylist grey.test --enforce yes >>"$T/setup.out" 2>&1 ||
	{ cat "$T/setup.out"; exit 1; }
ADM=$(token g adm admin)
RD=$(token g rd read)

"$MILTER" -f -c "$T/g.conf" 2>"$T/milter.log" &
PID[milter]=$!
for ((i = 0; i < 200; i++)); do
	grep -q 'starting on' "$T/milter.log" && break
	sleep 0.05
done
grep -q 'starting on' "$T/milter.log" || { cat "$T/milter.log"; echo "milter did not start"; exit 1; }
api_up g || { api_finish; exit 1; }

# message - one inbound message from 192.0.2.7 to <U@Grey.Test>; prints the RCPT reply line
message()
{
	"$PY" "$CLIENT" -t 5 -s "inet:$MPORT@127.0.0.1" <<-EOF | grep '^rcpt '
		optneg
		macro C j=mx.proto.test {daemon_name}=smtpd {daemon_port}=25
		connect client.proto.test 192.0.2.7
		helo client.proto.test
		mail <s@sender.test>
		rcpt <U@Grey.Test>
		quit
	EOF
}

TUPLE='{"client_address": "192.0.2.7", "sender": "<s@sender.test>", "recipient": "<u@grey.test>"}'

req g GET /live/grl/tuple/ "$TUPLE"
check "before any mail: 0.0" 200 .response 0
t0=$(date +%s)
out=$(message)
case $out in
"rcpt REPLYCODE 450"*) ok "the message is greylisted at RCPT" ;;
*) notok "the message is greylisted at RCPT" "$out" "$(tail -3 "$T/milter.log")" ;;
esac
t1=$(date +%s)
req g GET /live/grl/tuple/ "$TUPLE"
check "after the deferral: 200" 200
first=$(jq -r .tuple.first_seen <<<"$BODY")
if [ "$first" -ge "$t0" ] 2>/dev/null && [ "$first" -le "$t1" ]; then
	ok "first_seen is when the message came ($first)"
else
	notok "first_seen is when the message came" "got '$first', want $t0..$t1" "$BODY"
fi
eq "response = first_seen (CHAPPS's epoch, as a number)" "$(jq -r '.response | floor' <<<"$BODY")" "$first"
eq "last_pass null, client 192.0.2.7" "$(jq -c '[.tuple.last_pass, .tuple.client]' <<<"$BODY")" \
	'[null,"192.0.2.7"]'
body1=$(jq -c .tuple <<<"$BODY")
req g GET /live/grl/tuple/ "$TUPLE" "$RD"
check "a read token may look (and the answer is the same)" 200 .tuple "$body1"
req g GET /live/grl/tuple/ '{"client_address": "192.0.2.7", "sender": "s@sender.test", "recipient": "U@GREY.TEST"}'
check "addresses without <>, the recipient in capitals: the same tuple" 200 .tuple "$body1"
for other in '"client_address": "192.0.2.8", "sender": "<s@sender.test>", "recipient": "<u@grey.test>"' \
	'"client_address": "192.0.2.7", "sender": "<t@sender.test>", "recipient": "<u@grey.test>"' \
	'"client_address": "192.0.2.7", "sender": "<s@sender.test>", "recipient": "<v@grey.test>"'; do
	req g GET /live/grl/tuple/ "{$other}"
	check "another tuple ({$other}): 0.0, first_seen null" 200 '[.response, .tuple.first_seen]' '[0,null]'
done
req g GET /live/grl/tally/192.0.2.7
check "the look-ups counted no pass" 200 .response.passes 0
out=$(message)
case $out in
"rcpt REPLYCODE 450"*) ok "the retry is deferred again" ;;
*) notok "the retry is deferred again" "$out" ;;
esac
grep -q 'greylist=early' "$T/milter.log" && ok "as an early retry: the look-ups kept the tuple's clock" ||
	notok "as an early retry: the look-ups kept the tuple's clock" "$(grep greylist= "$T/milter.log")"
req g GET /live/grl/tuple/ "$TUPLE"
check "still the first attempt's time" 200 .tuple.first_seen "$first"

req g GET /live/grl/tuple/ '{"client_address": "192.0.2.7", "sender": "<s@sender.test>"}'
check "no recipient: 422" 422 .status_code 10422
req g GET /live/grl/tuple/ '{"client_address": "mx.example", "sender": "", "recipient": "<u@grey.test>"}'
check "a client that is not an address: 422" 422
req g GET /live/grl/tuple/ '["192.0.2.7"]'
check "not an object: 422" 422
req g GET /live/grl/tuple/
check "no body: 422" 422
req g GET /live/grl/tuple/ "$TUPLE" ""
check "no token: 401" 401

api_down g "chapps-api exits 0 on SIGTERM"
kill -TERM "${PID[milter]}"
wait "${PID[milter]}"
eq "the milter exits 0 on SIGTERM" "$?" 0
unset "PID[milter]"
api_finish

#!/bin/bash
# tests/api/milter.sh - a change through chapps-api reaches a running chapps-milter's decision
#
# chapps-milter and chapps-api share one configuration (SQLite policy database, LMDB store,
# the milter's pidfile); miltertest plays Postfix's submission service with
# tests/protocol/outbound.lua.  Both caches the milter keeps are defeated by the API at once:
#   1 SDA: alice may send as example.test (linked through the API); unlinking it through the
#     API refuses her next MAIL at once, though the milter had cached the decision in the
#     store (sender_domain_auth.cache_ttl 300 s); linking it again lets her send again
#   2 quota: alice sent one message under quota 10; PUT /users/1/quota/{q1} through the API
#     gives her quota 1: the next message is refused at RCPT at once, though the milter
#     had cached her limit in process (policy_db.cache_ttl 300 s): the API signals it
#   3 DELETE /live/quota/1 (reset) lets her send again
# Ports: milter 127.0.0.1:17392, chapps-api 17382.  Exit 77 without miltertest.

HERE=$(cd "$(dirname "$0")" && pwd)
LUA="$HERE/../protocol/outbound.lua"
. "$HERE/lib.sh"
api_init chapps-api-milter cli curl jq milter miltertest
PORT=${API_MILTER_PORT:-17382}
MPORT=${API_MILTER_MILTER_PORT:-17392}

api_conf m "$PORT" "" "inbound: { policies = [ ]; };
outbound: { policies = [ \"sender_domain_auth\", \"quota\" ]; };
quota: { margin = 0; };
sender_domain_auth: { cache_ttl = 300; };"
sed -i -e "s/inet:$((PORT + 10))@/inet:$MPORT@/" -e 's/^\(\s*policy_db: {\)/\1 cache_ttl = 300;/' "$T/m.conf"
cli m admin db-setup >"$T/setup.out" 2>&1 || { cat "$T/setup.out"; exit 1; }
ADM=$(token m adm admin)

# milter_up - start the milter; wait for its start line
"$MILTER" -f -c "$T/m.conf" 2>"$T/milter.log" &
PID[milter]=$!
for ((i = 0; i < 200; i++)); do
	grep -q 'starting on' "$T/milter.log" && [ -s "$T/m.pid" ] && break
	sleep 0.05
done
grep -q 'starting on' "$T/milter.log" || { cat "$T/milter.log"; echo "milter did not start"; exit 1; }
api_up m || { api_finish; exit 1; }

# mt DESC PLAN - one miltertest run of alice sending as <alice@example.test>
mt()
{
	local out rc
	out=$("$MILTERTEST" -D SOCK="inet:$MPORT@127.0.0.1" -D USER=alice \
		-D FROM="<alice@example.test>" -D PLAN="$2" -s "$LUA" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "$1"; else notok "$1" "miltertest exit $rc" "$out"; fi
}
MSG="M:CONTINUE R:CONTINUE D:ACCEPT E?:ACCEPT"

req m POST /quotas/ '{"name":"ten","quota":10}'
check "API: quota ten = 10" 201
req m POST /quotas/ '{"name":"one","quota":1}'
check "API: quota one = 1" 201
req m POST /domains/ '{"name":"example.test"}'
check "API: domain example.test" 201
req m POST /users/ '{"name":"alice","quota":1,"domains":[1]}'
check "API: user alice, quota ten, linked to example.test" 201 .response.id 1

# ---- 1: SDA ---------------------------------------------------------------------------------
mt "1 alice sends as example.test (decision cached in the store)" "$MSG"
req m GET /live/sda/example.test/for/alice
check "1 /live/sda shows the milter's cached decision: AUTHORIZED" 200 .response '"AUTHORIZED"'
req m DELETE /users/1/domains/ '[1]'
check "1 API: unlink example.test from alice" 200
mt "1 ... her next MAIL is refused at once (cache invalidated)" "M:REPLYCODE"
req m PUT /users/1/domains/ '[1]'
check "1 API: link it again" 200
mt "1 ... she sends again at once" "$MSG"

# ---- 2: quota -------------------------------------------------------------------------------
req m GET /live/quota/1
check "2 /live/quota/1: two messages used, 8 left" 200 .response 8
req m PUT /users/1/quota/2
check "2 API: alice gets quota one (1)" 200
mt "2 ... her next message is refused at RCPT at once (milter signalled)" "M:CONTINUE R:REPLYCODE"
grep -q 'caches flushed (SIGUSR2)' "$T/milter.log" && ok "2 the milter logged the flush" ||
	notok "2 the milter logged the flush" "$(tail -3 "$T/milter.log")"

# ---- 3: reset -------------------------------------------------------------------------------
req m DELETE /live/quota/1
check "3 API: DELETE /live/quota/1 drops her 2 sends" 200 .response 2
mt "3 ... she sends one message again" "$MSG"

kill -0 "${PID[milter]}" 2>/dev/null && ok "the milter still runs" || notok "the milter still runs"
api_down m "chapps-api exits 0 on SIGTERM"
api_finish

#!/bin/bash
# tests/api/contract.sh BACKEND - CHAPPS's REST contract of the built chapps-api, over HTTP on
# 127.0.0.1, with the policy database on BACKEND (sqlite, or mariadb: a private mariadbd
# from tests/mariadb-helper.sh; skipped, exit 77, when it is not installed)
#
# Every route of `chapps-api --routes`: 401 without a token, 401 with a wrong one, 403 with a
# read token on each changing route (and not on reading ones).  Then per model: create (201),
# the clash (409), validation (422), get (200/404), list with q/skip/limit (an empty list is
# 200 []: CHAPPS's 404 fixed), update, the association routes, delete; the bulk routes (ids
# as integers); CHAPPS's bugs fixed: PUT /users/{id}/quota/{q} for a user without a quota,
# bulk SDA without domain/email ids -> 400, a malformed body -> 422; /v1 limits of a quota with
# their overrides (get, add, 422s, delete); /live routes; /v1/locks and /v1/events (seen by
# chapps-cli and the other way round); the audit line of a change.
#
# Ports: chapps-api 127.0.0.1:17380 (sqlite) / 17381 (mariadb), mariadbd 17390.
# Output "ok N - ..." lines and "N passed, M failed"; exit 0, 1, or 77.

HERE=$(cd "$(dirname "$0")" && pwd)
BACKEND=${1:-sqlite}
. "$HERE/lib.sh"
api_init "chapps-api-$BACKEND" cli curl jq

if [ "$BACKEND" = mariadb ]; then
	MYPORT=${API_MARIADB_PORT:-17390}
	sh "$HERE/../mariadb-helper.sh" start "$T/my" "$MYPORT" >"$T/my.log" 2>&1
	rc=$?
	[ $rc = 77 ] && skip "mariadbd not installed"
	[ $rc = 0 ] || { cat "$T/my.log"; echo "mariadbd did not start"; exit 1; }
	stop_my() { sh "$HERE/../mariadb-helper.sh" stop "$T/my"; }
	CLEANUP_HOOK=stop_my
	client=$(command -v mariadb || command -v mysql)
	"$client" --no-defaults -S "$T/my/sock" -u root -e "CREATE DATABASE chapps_api" ||
		{ echo "cannot create the database"; exit 1; }
	DBCONF="policy_db: { backend = \"mariadb\"; host = \"127.0.0.1\"; port = $MYPORT;
	        name = \"chapps_api\"; user = \"chapps\"; password = \"chapps\"; };"
	PORT=${API_CONTRACT_PORT:-17381}
else
	DBCONF=
	PORT=${API_CONTRACT_PORT:-17380}
fi

api_conf c "$PORT" "auth_fail_max = 100000;"
if [ -n "$DBCONF" ]; then
	# the MariaDB settings replace the SQLite path line
	sed -i "/^\s*policy_db:/d" "$T/c.conf"
	echo "$DBCONF" >>"$T/c.conf"
fi
cli c admin db-setup >"$T/setup.out" 2>&1 || { cat "$T/setup.out"; exit 1; }
ADM=$(token c adm admin)
RD=$(token c reader read)
[ ${#ADM} = 71 ] && [ ${#RD} = 71 ] || { echo "no tokens: '$ADM' '$RD'"; exit 1; }
api_up c || { api_finish; exit 1; }

# ---- authentication on every route ----------------------------------------------------------

routes=$("$API" --routes)
nroutes=$(wc -l <<<"$routes")
bad401=() bad403=() badread=()
while read -r method path; do
	p=$(sed 's/{[a-z_]*}/1/g' <<<"$path")
	req c "$method" "$p" '' ''
	[ "$CODE" = 401 ] && [ "$(jq -r .detail <<<"$BODY")" = "Not authenticated" ] ||
		bad401+=("$method $path: $CODE $BODY")
	req c "$method" "$p" '' "chapps_0000000000000000000000000000000000000000000000000000000000000000"
	[ "$CODE" = 401 ] || bad401+=("$method $path (wrong token): $CODE")
	req c "$method" "$p" '[]' "$RD"
	if [ "$method" = GET ]; then
		[ "$CODE" != 403 ] && [ "$CODE" != 401 ] || badread+=("$method $path: $CODE")
	else
		[ "$CODE" = 403 ] && jq -e .detail <<<"$BODY" >/dev/null || bad403+=("$method $path: $CODE")
	fi
done <<<"$routes"
eq "all $nroutes routes: 401 {detail} without a token or with a wrong one" "${bad401[*]}" ""
eq "every changing route: 403 {detail} for a read token" "${bad403[*]}" ""
eq "every GET route: a read token is let in" "${badread[*]}" ""
req c GET /v1/health '' "$RD"
check "GET /v1/health: 200 ok" 200 .status '"ok"'
req c GET /nothing/here
check "an unknown path: 404" 404 .detail '"Not Found"'
req c PATCH /users/
check "a known path, another method: 405" 405

# ---- quotas -------------------------------------------------------------------------------

req c POST /quotas/ '{"name":"10eph","quota":240}'
check "POST /quotas/: 201, the quota" 201 .response '{"id":1,"name":"10eph","quota":240}'
req c POST /quotas/ '{"name":"50eph","quota":1200}'
check "POST /quotas/ second: id 2" 201 .response.id 2
req c POST /quotas/ '{"name":"10eph","quota":7}'
check "POST /quotas/ same name: 409 CHAPPS's message" 409 .detail '"Unique key conflict creating quota."'
req c POST /quotas/ '{"name":"q","quota":7}'
check "POST /quotas/ name of 1 character: 422 CHAPPS's body" 422 '[.status_code, .data]' '[10422,null]'
req c POST /quotas/ '{"name":"qqq","quota":"x"}'
check "POST /quotas/ non-integer quota: 422" 422 .status_code 10422
req c POST /quotas/ '{"name":"qqq",'
check "POST /quotas/ malformed JSON: 422 at once (CHAPPS hung)" 422 .status_code 10422
req c GET /quotas/1
check "GET /quotas/1: 200" 200 .response.name '"10eph"'
req c GET /quotas/99
check "GET /quotas/99: 404 CHAPPS's message" 404 .detail '"Unable to find a matching Quota"'
req c GET /quotas/abc
check "GET /quotas/abc: 422" 422 .status_code 10422
req c PUT /quotas/ '{"id":2,"quota":1000}'
check "PUT /quotas/ partial: quota changed, name kept" 200 .response '{"id":2,"name":"50eph","quota":1000}'
req c PUT /quotas/ '{"id":2,"name":"10eph"}'
check "PUT /quotas/ to a taken name: 409" 409
req c PUT /quotas/ '{"id":99,"name":"zzzz"}'
check "PUT /quotas/ unknown id: 404" 404
req c GET '/quotas/?q=%25eph&skip=1&limit=5'
check "GET /quotas/?q=%eph&skip=1: the second" 200 '[.response[].name]' '["50eph"]'

# ---- /v1 limits of a quota (issues 10 and 11) -----------------------------------------------

req c GET /v1/quotas/1/limits '' "$RD"
check "GET /v1/quotas/1/limits: the quota's own number, id 0, the settings' overrides" 200 \
	'[.quota_id, .quota, .limits[0].id, .limits[0].max, .limits[0].action, .limits[0].warn_at, .limits[0].mode]' \
	'[1,"10eph",0,240,null,null,null]'
req c POST /v1/quotas/1/limits '{"kind":"messages","window":"1h","max":100,"action":"lock","warn_at":80,"mode":"monitor"}'
check "POST /v1/quotas/1/limits with overrides: 201, listed" 201 '.limits[1]' \
	'{"id":1,"kind":"messages","window":"3600","max":100,"action":"lock","warn_at":80,"mode":"monitor"}'
req c POST /v1/quotas/1/limits '{"kind":"max_message_bytes","max":5000000}'
check "POST a cap without window or overrides: 201, nulls" 201 '.limits[2] | [.id, .window, .action, .warn_at, .mode]' \
	'[2,"message",null,null,null]'
req c GET /v1/quotas/1/limits '' "$RD"
check "GET /v1/quotas/1/limits: three" 200 '[.limits[].id]' '[0,1,2]'
eq "chapps-cli limit list shows the API's limit" \
	"$(cli c limit list 10eph 2>&1 | awk '$1 == 1 { print $2, $5, $6, $7 }')" "messages lock 80 monitor"
req c POST /v1/quotas/1/limits '{"kind":"messages","window":"1h","max":5,"action":"hold"}'
check "POST an unknown action: 422 naming the actions" 422 .message \
	'"unknown action \"hold\" (reject, tempfail, quarantine, lock)"'
req c POST /v1/quotas/1/limits '{"kind":"messages","window":"1h","max":5,"warn_at":100}'
check "POST warn_at 100: 422" 422 .status_code 10422
req c POST /v1/quotas/1/limits '{"kind":"parcels","window":"1h","max":5}'
check "POST an unknown kind: 422" 422 .status_code 10422
req c POST /v1/quotas/1/limits '{"kind":"messages","window":"1h","max":[5]}'
check "POST a max that is not a number: 422" 422 .status_code 10422
req c POST /v1/quotas/99/limits '{"kind":"messages","window":"1h","max":5}'
check "POST to an unknown quota: 404" 404 .detail '"Unable to find a matching Quota"'
req c POST /v1/quotas/1/limits '{"kind":"messages","window":"1h","max":5}' "$RD"
check "POST with a read token: 403" 403
req c DELETE /v1/quotas/1/limits/1
check "DELETE /v1/quotas/1/limits/1: 200, the rest" 200 '[.limits[].id]' '[0,2]'
req c DELETE /v1/quotas/1/limits/1
check "DELETE it again: 404" 404 .detail '"Unable to find a matching Limit"'
req c DELETE /v1/quotas/2/limits/2
check "DELETE another quota's limit: 404" 404
req c DELETE /v1/quotas/1/limits/2
check "DELETE the cap: 200, the quota's own number alone" 200 '[.limits[].id]' '[0]'
has_audit=$(grep -c 'audit: token=adm .*route="POST /v1/quotas/{quota_id}/limits" object=quota:10eph:limits old=- new={"id":0,"kind":"messages"' "$T/c-api.log")
eq "the limit added is in the audit log" "$has_audit" 1

# ---- domains and emails -------------------------------------------------------------------

req c POST /domains/ '{"name":"Example.COM","greylist":true}'
check "POST /domains/: 201, lower-cased, flags" 201 .response \
	'{"id":1,"name":"example.com","greylist":true,"check_spf":false}'
req c POST /domains/ '{"name":"other.test"}'
check "POST /domains/ second" 201 .response.id 2
req c POST /domains/ '{"name":"example.com"}'
check "POST /domains/ clash: 409" 409 .detail '"Unique key conflict creating domain."'
req c POST /domains/ '{"name":"not a domain"}'
check "POST /domains/ invalid name: 422" 422 .status_code 10422
req c POST /domains/ '{"name":"ab.c","greylist":"yes"}'
check "POST /domains/ short name: 422" 422
req c POST /emails/ '{"name":"alice@example.com"}'
check "POST /emails/: 201" 201 .response '{"id":1,"name":"alice@example.com"}'
req c POST /emails/ '{"name":"alice@example.com"}'
check "POST /emails/ clash: 409" 409 .detail '"Unique key conflict creating email."'
req c POST /emails/ '{"name":"no-at-sign"}'
check "POST /emails/ not an address: 422" 422
req c GET /emails/1
check "GET /emails/1: + users" 200 '[.response.name, .users]' '["alice@example.com",[]]'
req c GET /emails/9
check "GET /emails/9: 404" 404 .detail '"Unable to find a matching Email"'
req c GET /domains/9
check "GET /domains/9: 404" 404 .detail '"Unable to find a matching Domain"'

# ---- users --------------------------------------------------------------------------------

req c POST /users/ '{"name":"alice.user","quota":1,"domains":[1],"emails":[1]}'
check "POST /users/ with quota, domains, emails: 201, UserResp" 201 \
	'[.response, .quota.id, [.domains[].id], [.emails[].id]]' '[{"id":1,"name":"alice.user"},1,[1],[1]]'
req c POST /users/ '{"name":"  bob.user  "}'
check "POST /users/ name stripped, no associations: quota null" 201 \
	'[.response.name, .quota, .domains, .emails]' '["bob.user",null,[],[]]'
req c POST /users/ '{"name":"alice.user"}'
check "POST /users/ clash: 409" 409 .detail '"Unique key conflict creating user."'
req c POST /users/ '{"name":"abc"}'
check "POST /users/ name too short: 422" 422
req c POST /users/ '{"name":"carol.user","domains":["x"]}'
check "POST /users/ non-integer domain id: 422" 422
req c POST /users/ '["x"]'
check "POST /users/ not an object: 422" 422
req c GET /users/1
check "GET /users/1: UserResp" 200 '[.response.name, .quota.name, .domains[0].name, .emails[0].name]' \
	'["alice.user","10eph","example.com","alice@example.com"]'
jq -e '.version and (.timestamp|type) == "number"' <<<"$BODY" >/dev/null &&
	ok "success bodies carry version and a numeric timestamp" ||
	notok "success bodies carry version and a numeric timestamp" "$BODY"
req c GET /users/99
check "GET /users/99: 404" 404 .detail '"Unable to find a matching User"'
req c GET /users/
check "GET /users/: both" 200 '[.response[].name]' '["alice.user","bob.user"]'
req c GET '/users/?q=nobody%25'
check "GET /users/?q=nobody%: 200 [] (CHAPPS: 404)" 200 .response '[]'
req c GET '/users/?limit=1&skip=1'
check "GET /users/?limit=1&skip=1" 200 '[.response[].name]' '["bob.user"]'
req c GET '/users/?skip=-1'
check "GET /users/?skip=-1: 422" 422
req c GET /users/quotas/ '[1,2,99]'
check "GET /users/quotas/: integer ids (CHAPPS: strings), no quota null" 200 .response \
	'[{"user_name":"alice.user","quota_id":1},{"user_name":"bob.user","quota_id":null}]'
req c GET /users/domains/ '[1,2]'
check "GET /users/domains/" 200 .response \
	'[{"user_name":"alice.user","domain_ids":[1]},{"user_name":"bob.user","domain_ids":[]}]'
req c GET /users/emails/ '[1]'
check "GET /users/emails/" 200 .response '[{"user_name":"alice.user","email_ids":[1]}]'
req c GET /users/emails/ '{"a":1}'
check "GET /users/emails/ body not a list: 422" 422

# PUT /users/{id}/quota/{q}: CHAPPS did nothing for a user without a quota
req c PUT /users/2/quota/2
check "PUT /users/2/quota/2 (bob had none): Updated." 200 .response '"Updated."'
req c GET /users/2
check "... bob now has quota 2 (CHAPPS bug fixed)" 200 .quota.id 2
req c PUT /users/2/quota/99
check "PUT /users/2/quota/99: 404 quota" 404 .detail '"Unable to find a matching Quota"'
req c PUT /users/99/quota/1
check "PUT /users/99/quota/1: 404 user" 404 .detail '"Unable to find a matching User"'

req c PUT /users/2/domains/ '[1,2,2,99]'
check "PUT /users/2/domains/ [1,2,2,99]: Updated. (duplicates, unknown ignored)" 200 .response '"Updated."'
req c GET /users/2/domains/
check "GET /users/2/domains/" 200 '[.response[].id]' '[1,2]'
req c GET '/users/2/domains/?skip=1&limit=1'
check "GET /users/2/domains/?skip=1&limit=1" 200 '[.response[].name]' '["other.test"]'
req c DELETE /users/2/domains/ '[2]'
check "DELETE /users/2/domains/ [2]" 200 .response '"Updated."'
req c GET /users/2/domains/
check "... one left" 200 '[.response[].id]' '[1]'
req c GET /users/99/domains/
check "GET /users/99/domains/: 404" 404
req c PUT /users/2/emails/ '[1]'
check "PUT /users/2/emails/ [1]" 200
req c GET /users/2/emails/
check "GET /users/2/emails/" 200 '[.response[].name]' '["alice@example.com"]'
req c DELETE /users/2/emails/ '[1]'
check "DELETE /users/2/emails/ [1]" 200
req c GET /users/2/emails/
check "... none left: 200 []" 200 .response '[]'
req c PUT /users/99/emails/ '[1]'
check "PUT /users/99/emails/: 404" 404

req c PUT /users/ '{"user":{"id":2,"name":"robert.user"},"emails":[1]}'
check "PUT /users/ rename + emails replace" 200 '[.response.name, [.emails[].id], [.domains[].id]]' \
	'["robert.user",[1],[1]]'
req c PUT /users/ '{"user":{"id":2,"name":"alice.user"}}'
check "PUT /users/ to a taken name: 409" 409
req c PUT /users/ '{"user":{"id":99,"name":"nobody.user"}}'
check "PUT /users/ unknown id: 404" 404
req c PUT /users/ '{"user":{"name":"x.user"}}'
check "PUT /users/ without id: 422" 422

req c GET /domains/1
check "GET /domains/1: + users" 200 '[.response.name, [.users[].name]]' '["example.com",["alice.user","robert.user"]]'
req c GET /domains/1/users/
check "GET /domains/1/users/" 200 '[.response[].id]' '[1,2]'
req c DELETE /domains/1/users/ '[2]'
check "DELETE /domains/1/users/ [2]" 200 .response '"Updated."'
req c PUT /domains/2/users/ '[2]'
check "PUT /domains/2/users/ [2]" 200
req c GET /users/2/domains/
check "... robert: other.test only" 200 '[.response[].name]' '["other.test"]'
req c PUT /domains/ '{"domain":{"id":2,"check_spf":true},"users":[1]}'
check "PUT /domains/ flag + users replace" 200 '[.response.check_spf, .response.greylist, [.users[].id]]' \
	'[true,false,[1]]'
req c PUT /domains/ '{"domain":{"id":2,"name":"example.com"}}'
check "PUT /domains/ to a taken name: 409" 409
req c GET /emails/1/users/
check "GET /emails/1/users/" 200 '[.response[].id]' '[1,2]'
req c DELETE /emails/1/users/ '[1]'
check "DELETE /emails/1/users/ [1]" 200
req c PUT /emails/1/users/ '[1]'
check "PUT /emails/1/users/ [1]" 200
req c PUT /emails/ '{"email":{"id":1,"name":"alice@other.test"}}'
check "PUT /emails/ rename" 200 '[.response.name, [.users[].id]]' '["alice@other.test",[1,2]]'
req c GET /emails/
check "GET /emails/" 200 '[.response[].name]' '["alice@other.test"]'
req c GET /domains/
check "GET /domains/" 200 '[.response[].name]' '["example.com","other.test"]'

# ---- live -----------------------------------------------------------------------------------

req c GET /live/quota/1
check "GET /live/quota/1: 240 left" 200 .response 240
req c GET /live/quota/0 '{"name":"alice.user"}'
check "GET /live/quota/0 + name: by name" 200 .response 240
req c GET /live/quota/99
check "GET /live/quota/99: 404" 404
req c GET /live/quota/ '[1,2]'
check "GET /live/quota/ [1,2]: integer quota_avail" 200 .response \
	'[{"user_name":"alice.user","quota_avail":240},{"user_name":"robert.user","quota_avail":1000}]'
req c DELETE /live/quota/1
check "DELETE /live/quota/1: 0 dropped, CHAPPS's remark" 200 '[.response, .remarks[0]]' \
	'[0,"No attempts to reset for alice.user: 0 xmits dropped"]'
req c POST /live/quota/1
check "POST /live/quota/1: refreshed, remaining" 200 .response 240
req c POST /users/ '{"name":"nobody.user"}'
# MariaDB's auto-increment skips the ids of failed inserts: take the one given
NOBODY=$(jq .response.id <<<"$BODY")
req c POST "/live/quota/$NOBODY"
check "POST /live/quota/{nobody} (no quota): 404" 404
req c GET "/live/quota/$NOBODY"
check "GET /live/quota/{nobody} (no quota): 0 and CHAPPS's remark" 200 '[.response, .remarks[0]]' \
	'[0,"There is no quota configured for user nobody.user."]'
req c GET /live/sda/ '{"user_ids":[1,2],"domain_ids":[1],"email_ids":[1]}'
check "GET /live/sda/: matrix, NOT CACHED" 200 .response \
	'{"example.com":{"alice.user":"NOT CACHED","robert.user":"NOT CACHED"},"alice@other.test":{"alice.user":"NOT CACHED","robert.user":"NOT CACHED"}}'
req c GET /live/sda/ '{"user_ids":[1]}'
check "GET /live/sda/ without domain/email ids: 400 (CHAPPS: 500)" 400
req c DELETE /live/sda/ '{"user_ids":[1],"domain_ids":[]}'
check "DELETE /live/sda/ without domain/email ids: 400 (CHAPPS: 500)" 400
req c DELETE /live/sda/ '{"user_ids":[1],"domain_ids":[1]}'
check "DELETE /live/sda/: CHAPPS's message" 200 .response \
	'"SDA cache cleared for specified domains and/or emails x users."'
req c GET /live/sda/example.com/for/alice.user
check "GET /live/sda/{domain}/for/{user}" 200 .response '"NOT CACHED"'
req c DELETE /live/sda/alice@other.test/for/alice.user
check "DELETE /live/sda/{email}/for/{user}" 200 .response '"NOT CACHED"'
req c GET /live/grl/tuple/ '{"client_address": "192.0.2.7", "sender": "a@b.test", "recipient": "c@d.test"}'
check "GET /live/grl/tuple/: an unknown tuple is 0.0" 200 '[.response, .tuple.first_seen]' '[0,null]'
req c GET /live/grl/tuple/ '{"client_address": "192.0.2.7"}'
check "GET /live/grl/tuple/ without sender and recipient: 422" 422 .status_code 10422
req c GET /live/grl/tally/192.0.2.7
check "GET /live/grl/tally/{ip}" 200 .response.passes 0
req c POST /live/config/write/ '"password"'
check "POST /live/config/write/: 501, never written" 501 .detail \
	'"Not served: chapps-api never writes the configuration; chapps-milter -d prints the effective configuration"'
req c GET /live/grl/tally/not-an-ip
check "GET /live/grl/tally/not-an-ip: 422" 422
req c DELETE /live/grl/tally/192.0.2.7
check "DELETE /live/grl/tally/{ip}: deleted" 200 .response '"deleted"'
req c DELETE /live/grl/option_cache/example.com
check "DELETE /live/grl/option_cache/{domain}: deleted" 200 .response '"deleted"'
req c DELETE /live/spf/option_cache/example.com
check "DELETE /live/spf/option_cache/{domain}: deleted" 200 .response '"deleted"'

# ---- /v1/locks and /v1/events (issue 11) ----------------------------------------------------

req c GET /v1/locks '' "$RD"
check "GET /v1/locks, no store yet: []" 200 .locks '[]'
req c GET /v1/events '' "$RD"
check "GET /v1/events, no store yet: []" 200 .events '[]'
req c PUT /v1/locks/bob@example.com
check "PUT /v1/locks/{user}: 201, the default reason" 201 '[.user,.reason]' \
	'["bob@example.com","locked by chapps-api"]'
req c PUT /v1/locks/bob@example.com '{"reason":"again"}'
check "PUT /v1/locks/{user} again: 200, the first lock kept" 200 .reason '"locked by chapps-api"'
req c PUT /v1/locks/eve '{"reason":"spam run \"x\""}'
check "PUT /v1/locks/eve with a reason" 201 .reason '"spam run \"x\""'
req c PUT '/v1/locks/a%20b:c' '{}'
check "PUT /v1/locks/{user}: a percent-encoded name" 201 .user '"a b:c"'
req c PUT /v1/locks/x '{"reason":5}'
check "PUT /v1/locks/x, reason not a string: 422" 422
req c PUT /v1/locks/x '["reason"]'
check "PUT /v1/locks/x, body not an object: 422" 422
req c PUT /v1/locks/x "{\"reason\":\"$(printf '%0256d' 0)\"}"
check "PUT /v1/locks/x, reason of 256 bytes: 422" 422
req c PUT /v1/locks/x '{"reason":'
check "PUT /v1/locks/x, malformed body: 422" 422
req c PUT "/v1/locks/$(printf '%0512d' 0)"
check "PUT /v1/locks/{user}, a name of 512 bytes: 422" 422
req c DELETE "/v1/locks/$(printf '%0512d' 0)"
check "DELETE /v1/locks/{user}, a name of 512 bytes: 404" 404
req c PUT /v1/locks/x '' "$RD"
check "PUT /v1/locks/x with a read token: 403" 403
req c GET /v1/locks '' "$RD"
check "GET /v1/locks: sorted by user, nothing from the refusals" 200 '[.locks[].user]' \
	'["a b:c","bob@example.com","eve"]'
got=$(cli c --json locked 2>&1 | jq -c '[.[].user]')
eq "chapps-cli locked sees the API's locks" "$got" '["a b:c","bob@example.com","eve"]'
cli c lock carol 'by the CLI' >/dev/null 2>&1
req c GET /v1/locks
check "... and the API sees the CLI's" 200 '[.locks[] | select(.user == "carol") | .reason]' \
	'["by the CLI"]'
req c DELETE /v1/locks/eve
check "DELETE /v1/locks/eve: 200" 200 '[.user,.unlocked]' '["eve",true]'
req c DELETE /v1/locks/eve
check "DELETE /v1/locks/eve again: 404" 404 .detail '"User eve is not locked"'
req c DELETE /v1/locks/eve '' "$RD"
check "DELETE /v1/locks/eve with a read token: 403" 403
req c GET '/v1/events?n=3' '' "$RD"
check "GET /v1/events?n=3: newest first" 200 '[.events[].event | .kind + " " + .user]' \
	'["unlock eve","lock carol","lock a b:c"]'
req c GET '/v1/events?n=1'
check "... the API's event names the token" 200 '.events[0].event | [.by,.token]' \
	'["chapps-api","adm"]'
req c GET /v1/events
check "GET /v1/events: every change, no more" 200 '.events | length' 5
for n in 0 1001 abc -1; do
	req c GET "/v1/events?n=$n"
	check "GET /v1/events?n=$n: 422" 422
done
grep -q 'audit: token=adm client=127.0.0.1 route="DELETE /v1/locks/{user}" object=lock old={"user":"eve"} new=-' \
	"$T/c-api.log" && ok "an unlock writes its audit line" ||
	notok "an unlock writes its audit line" "$(grep 'object=lock' "$T/c-api.log" | head -5)"

# ---- deletes --------------------------------------------------------------------------------

req c DELETE /emails/ '[1]'
check "DELETE /emails/ [1]: Deleted." 200 .response '"Deleted."'
req c DELETE /emails/ '[1]'
check "DELETE /emails/ [1] again: 404" 404
req c DELETE /domains/ '[2,99]'
check "DELETE /domains/ [2,99]" 200 .response '"Deleted."'
req c GET /users/1/domains/
check "... the link went with it (cascade)" 200 '[.response[].id]' '[1]'
req c DELETE /quotas/ '[1]'
check "DELETE /quotas/ [1]" 200
req c GET /users/1
check "... alice has no quota now (cascade)" 200 .quota null
req c DELETE /users/ "[1,2,$NOBODY]"
check "DELETE /users/ [1,2,nobody]" 200 .response '"Deleted."'
req c GET /users/
check "GET /users/: 200 []" 200 .response '[]'
req c DELETE /users/ '"x"'
check "DELETE /users/ body not a list: 422" 422

# ---- audit ----------------------------------------------------------------------------------

grep -q 'audit: token=adm client=127.0.0.1 route="PUT /quotas/" object=quota:2 old={"id":2,"name":"50eph","quota":1200} new={"id":2,"name":"50eph","quota":1000}' \
	"$T/c-api.log" && ok "a change writes its audit line: token, route, object, old -> new" ||
	notok "a change writes its audit line" "$(grep audit "$T/c-api.log" | head -5)"
n=$(grep -c 'audit: token=adm' "$T/c-api.log")
[ "$n" -ge 30 ] && ok "audit lines for every change ($n)" || notok "audit lines for every change" "only $n"
grep -q 'audit: token=reader' "$T/c-api.log" && notok "no audit line for refused changes" ||
	ok "no audit line for refused changes"

api_down c "chapps-api exits 0 on SIGTERM"
api_finish

#!/bin/bash
# tests/api/robust.sh - chapps-api's guards: listen rules, TLS, tokens, rate limit, bodies,
# slow clients
#
#   1 plain HTTP refused off loopback: `chapps-api -n` (and a start, which exits 78 before
#     binding anything) refuses a non-loopback api.listen without TLS; accepts it with
#     api.allow_plain_remote or a certificate and key; refuses a certificate without a key;
#     accepts loopback v4/v6 and unix sockets.  No socket is ever opened off loopback.
#   2 tokens: a token added while the daemon runs works at once; one revoked fails at its
#     very next request (401); a read token cannot change (403); a malformed token file
#     fails closed
#   3 failed authentications are limited per client address (429 after api.auth_fail_max,
#     even with a good token), other addresses (127.0.0.2) are not affected
#   4 bodies: a body over api.body_max is 413 (declared, and chunked), the daemon goes on
#   5 slow clients: 40 connections that send half a request and stall do not keep others
#     from being answered; after api.timeout the server closes them
#   6 HTTPS with api.tls_cert/api.tls_key (a self-signed certificate made with openssl),
#     and a unix socket
# Ports: chapps-api 127.0.0.1:17384 (plain), 17385 (TLS).

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
api_init chapps-api-robust cli curl jq
PORT=${API_ROBUST_PORT:-17384}
TLSPORT=${API_ROBUST_TLS_PORT:-17385}

# ---- 1: listen rules ------------------------------------------------------------------------

# ncheck DESC WANT LISTEN [SETTINGS] - chapps-api -n on a listen address
ncheck()
{
	local out rc
	api_conf n 1 "" ""
	sed -i "s|listen = \"127.0.0.1:1\";|listen = \"$3\"; $4|" "$T/n.conf"
	out=$("$API" -n -c "$T/n.conf" 2>&1)
	rc=$?
	if [ "$rc" = "$2" ]; then ok "$1"; else notok "$1" "exit $rc, want $2" "$out"; fi
	NOUT=$out
}
touch "$T/cert.pem" "$T/key.pem"
ncheck "1 -n: 192.0.2.1:8080 without TLS refused" 1 "192.0.2.1:8080"
grep -q 'not a loopback address' <<<"$NOUT" && ok "1 ... saying why" || notok "1 ... saying why" "$NOUT"
ncheck "1 -n: [2001:db8::1]:8080 without TLS refused" 1 "[2001:db8::1]:8080"
ncheck "1 -n: 0.0.0.0:8080 without TLS refused" 1 "0.0.0.0:8080"
ncheck "1 -n: 192.0.2.1:8080 with allow_plain_remote accepted" 0 "192.0.2.1:8080" \
	"allow_plain_remote = true;"
ncheck "1 -n: 192.0.2.1:8080 with a certificate and key accepted" 0 "192.0.2.1:8080" \
	"tls_cert = \"$T/cert.pem\"; tls_key = \"$T/key.pem\";"
ncheck "1 -n: a certificate without a key refused" 1 "127.0.0.1:8080" "tls_cert = \"$T/cert.pem\";"
ncheck "1 -n: 127.0.0.2:8080 accepted" 0 "127.0.0.2:8080"
ncheck "1 -n: [::1]:8080 accepted" 0 "[::1]:8080"
ncheck "1 -n: unix:$T/api.sock accepted" 0 "unix:$T/api.sock"
ncheck "1 -n: a host name refused" 1 "localhost:8080"
api_conf n 1 "" ""
sed -i 's|listen = "127.0.0.1:1";|listen = "192.0.2.1:8080";|' "$T/n.conf"
"$API" -f -c "$T/n.conf" >"$T/n.out" 2>&1
eq "1 starting on 192.0.2.1:8080 without TLS exits 78 (before binding)" "$?" 78

# ---- 2: tokens ------------------------------------------------------------------------------

api_conf r "$PORT" "auth_fail_max = 8; body_max = 2048; timeout = 2; threads = 2;"
cli r admin db-setup >/dev/null 2>&1
ADM=$(token r adm admin)
api_up r || { api_finish; exit 1; }
req r GET /v1/health
check "2 admin token: 200" 200
NEW=$(token r late read)
req r GET /users/ '' "$NEW"
check "2 a token added while the daemon runs works at once" 200
req r POST /quotas/ '{"name":"abc","quota":1}' "$NEW"
check "2 ... a read token cannot change: 403" 403
cli r api token list >"$T/list.out"
eq "2 chapps-cli api token list: names and roles" "$(awk '{print $1, $2}' "$T/list.out" | tr '\n' ' ')" "adm admin late read "
cli r api token revoke late >/dev/null
req r GET /users/ '' "$NEW"
check "2 revoked: its very next request is 401" 401 .detail '"Invalid or revoked token"'
cli r api token add adm --role admin >/dev/null 2>&1
eq "2 chapps-cli api token add of a taken name fails" "$?" 1
cli r api token add bad --role root >/dev/null 2>&1
eq "2 chapps-cli api token add --role root: usage error" "$?" 2
grep -q "$ADM" "$T/r.tokens" && notok "2 the token file holds no token in clear" ||
	ok "2 the token file holds no token in clear"
cp "$T/r.tokens" "$T/r.tokens.good"
echo "garbage line" >>"$T/r.tokens"
req r GET /v1/health
check "2 a malformed token file fails closed: 401" 401
grep -q 'token file: .*expected name:read|admin:hash' "$T/r-api.log" && ok "2 ... and says why" ||
	notok "2 ... and says why" "$(tail -3 "$T/r-api.log")"
mv "$T/r.tokens.good" "$T/r.tokens"
req r GET /v1/health
check "2 fixed: the admin token works again" 200

# ---- 3: rate limit of failed authentications ------------------------------------------------

# 2 failures so far (the revoked token, the broken file): 6 more reach api.auth_fail_max 8
for i in 1 2 3 4 5 6; do req r GET /v1/health '' "chapps_wrong$i"; done
check "3 six more wrong tokens (8 failures): the last is still 401" 401
req r GET /v1/health
check "3 then even a good token from 127.0.0.1 gets 429" 429
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
	-H "Authorization: Bearer $ADM" "http://127.0.0.1:$PORT/v1/health")
eq "3 another address (127.0.0.2) is not limited" "$code" 200
grep -q 'too many failed authentications' "$T/r-api.log" && ok "3 the refusal is logged" ||
	notok "3 the refusal is logged"

# from here on, 127.0.0.2 is the client
reqb() # METHOD PATH BODY-FILE [extra curl args] - from 127.0.0.2; $CODE
{
	CODE=$(curl -s -m 10 -o "$T/resp" -w '%{http_code}' --interface 127.0.0.2 -X "$1" \
		-H "Authorization: Bearer $ADM" "${@:4}" --data-binary @"$3" \
		"http://127.0.0.1:$PORT$2")
}

# ---- 4: bodies ------------------------------------------------------------------------------

head -c 100000 /dev/zero | tr '\0' 'x' >"$T/big"
reqb POST /users/ "$T/big"
eq "4 a 100000-byte body (Content-Length): 413" "$CODE" 413
reqb POST /users/ "$T/big" -H 'Transfer-Encoding: chunked'
eq "4 a 100000-byte chunked body: 413" "$CODE" 413
printf '{"name":"%s"}' "$(head -c 1900 /dev/zero | tr '\0' 'y')" >"$T/near"
reqb POST /users/ "$T/near"
eq "4 a body just under body_max is read (422: name too long)" "$CODE" 422
printf '%s' '{"name":"ok.user"}' >"$T/small"
reqb POST /users/ "$T/small"
eq "4 the daemon goes on: POST /users/ 201" "$CODE" 201

# ---- 5: slow clients --------------------------------------------------------------------------

fds=()
for i in $(seq 40); do
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" || break
	printf 'GET /v1/health HTTP/1.1\r\nHost: x\r\nAuthor' >&$fd
	fds+=("$fd")
done
eq "5 40 connections opened, each with half a request" "${#fds[@]}" 40
t0=$(date +%s%N)
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 \
	-H "Authorization: Bearer $ADM" "http://127.0.0.1:$PORT/v1/health")
t1=$(date +%s%N)
eq "5 meanwhile another client is answered" "$code" 200
[ $(((t1 - t0) / 1000000)) -lt 1000 ] && ok "5 ... within a second ($(((t1 - t0) / 1000000)) ms)" ||
	notok "5 ... within a second" "$(((t1 - t0) / 1000000)) ms"
closed=0
for fd in "${fds[@]}"; do
	# api.timeout is 2 s: the server closes the stalled connection (EOF) well within 10 s
	if timeout 10 cat <&"$fd" >/dev/null 2>&1; then closed=$((closed + 1)); fi
	exec {fd}>&-
done
eq "5 the server closed all 40 stalled connections after api.timeout" "$closed" 40
api_alive r && ok "5 chapps-api still runs" || notok "5 chapps-api still runs"
api_down r "chapps-api exits 0 on SIGTERM"

# ---- 6: HTTPS and a unix socket -------------------------------------------------------------

if command -v openssl >/dev/null; then
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$T/tls.key" -out "$T/tls.crt" \
		>/dev/null 2>&1
	api_conf s "$TLSPORT" "tls_cert = \"$T/tls.crt\"; tls_key = \"$T/tls.key\";"
	cp "$T/r.tokens" "$T/s.tokens"
	cp "$T/r.db" "$T/s.db"
	if api_up s; then
		code=$(curl -s -m 5 -o "$T/resp" -w '%{http_code}' --cacert "$T/tls.crt" \
			-H "Authorization: Bearer $ADM" "https://127.0.0.1:$TLSPORT/users/")
		eq "6 HTTPS: GET /users/ with the certificate verified: 200" "$code" 200
		code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ADM" \
			"http://127.0.0.1:$TLSPORT/v1/health")
		[ "$code" != 200 ] && ok "6 plain HTTP on the TLS port is not served ($code)" ||
			notok "6 plain HTTP on the TLS port is not served"
		api_down s "6 chapps-api (TLS) exits 0 on SIGTERM"
	fi
else
	ok "6 HTTPS # SKIP openssl not found"
fi
api_conf u 1 "" ""
sed -i "s|listen = \"127.0.0.1:1\";|listen = \"unix:$T/api.sock\";|" "$T/u.conf"
cp "$T/r.tokens" "$T/u.tokens"
cp "$T/r.db" "$T/u.db"
if api_up u; then
	code=$(curl -s -m 5 -o "$T/resp" -w '%{http_code}' --unix-socket "$T/api.sock" \
		-H "Authorization: Bearer $ADM" "http://localhost/users/")
	eq "6 unix socket: GET /users/ 200" "$code" 200
	api_down u "6 chapps-api (unix socket) exits 0 on SIGTERM"
	[ -e "$T/api.sock" ] && notok "6 ... and removes its socket" || ok "6 ... and removes its socket"
fi
api_finish

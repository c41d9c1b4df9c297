#!/bin/sh
# check-cli-locks.sh - `chapps-cli lock|unlock|locked|events` on the LMDB store
#
# Runs the built chapps-cli on an LMDB store in a temporary directory (no server, no network,
# and no policy database: these commands do not open it).  Each command is its own process,
# so a lock made by one is read back by another from the store.  The store functions
# themselves (strikes, races, both engines) are tested by check_store_lmdb/check_store_redis.
#
# Environment: CHAPPS_CLI (default ./chapps-cli, i.e. the top build directory, where make
# check runs tests).  Exit 0 when every check passes, 1 otherwise, 99 when the CLI is missing.

set -u

CHAPPS_CLI=${CHAPPS_CLI:-./chapps-cli}
failures=0

[ -x "$CHAPPS_CLI" ] || { echo "ERROR: $CHAPPS_CLI is not an executable"; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-cli-locks.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

# the policy database's directory does not exist: opening it would fail
cat > "$tmp/chapps.conf" <<EOF
milter: { user = ""; group = ""; pidfile = ""; run_as_root = true; };
store: { path = "$tmp/state"; };
policy_db: { path = "$tmp/no-such-dir/policy.db"; };
EOF

# cli ARGS... - run chapps-cli on the test configuration; output in $out, status in $st
cli()
{
	out=$("$CHAPPS_CLI" -c "$tmp/chapps.conf" "$@" 2>&1)
	st=$?
}

# notime - $out with the seconds since the epoch and the UTC dates replaced by T
notime()
{
	printf '%s\n' "$out" | sed -e 's/"\(since\|time\)":[0-9]*/"\1":T/g' \
		-e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]/T/g'
}

# eq WHAT GOT WANT - one check
eq()
{
	if [ "$2" = "$3" ]; then
		printf 'ok - %s\n' "$1"
	else
		printf 'FAIL: %s: got "%s", want "%s"\n' "$1" "$2" "$3"
		failures=$((failures + 1))
	fi
}

# before any store: nothing locked, no events, nothing created
cli locked
eq "locked, no store: status" "$st" 0
eq "locked, no store: output" "$out" "user                            since (UTC)          reason"
cli --json events
eq "--json events, no store" "$st/$out" "0/[]"
cli unlock bob
eq "unlock, no store" "$st/$out" "0/user bob was not locked"
eq "no store made by the read commands" "$(test -e "$tmp/state/data.mdb" || echo none)" none

cli lock bob
eq "lock bob: status" "$st" 0
eq "lock bob: output" "$out" "user bob locked: locked by chapps-cli"
eq "lock made the LMDB store" "$(test -e "$tmp/state/data.mdb" && echo yes)" yes
cli lock 'a:b "c"' 'too many "refusals"'
eq "lock a user with a colon, a space and quotes" "$st/$out" \
	'0/user a:b "c" locked: too many "refusals"'
cli lock bob 'other reason'
eq "lock bob again keeps the first lock" "$st/$(notime)" \
	"0/user bob was already locked since T UTC: locked by chapps-cli"

cli locked
eq "locked: a table sorted by user" "$(notime)" \
"user                            since (UTC)          reason
a:b \"c\"                         T  too many \"refusals\"
bob                             T  locked by chapps-cli"
cli --json locked
eq "--json locked" "$(notime)" \
'[{"user":"a:b \"c\"","since":T,"reason":"too many \"refusals\""},{"user":"bob","since":T,"reason":"locked by chapps-cli"}]'

cli --json unlock bob
eq "--json unlock bob" "$st/$out" '0/{"ok":true,"message":"user bob unlocked"}'
cli unlock bob
eq "unlock bob again" "$st/$out" "0/user bob was not locked"
cli --json locked
eq "--json locked after unlock" "$(notime)" \
	'[{"user":"a:b \"c\"","since":T,"reason":"too many \"refusals\""}]'

# the events of the changes (not of "already locked" or "was not locked"), newest first
cli --json events
eq "--json events" "$(notime)" \
'[{"time":T,"event":{"kind":"unlock","user":"bob","by":"chapps-cli","time":T}},{"time":T,"event":{"kind":"lock","user":"a:b \"c\"","by":"chapps-cli","reason":"too many \"refusals\"","time":T}},{"time":T,"event":{"kind":"lock","user":"bob","by":"chapps-cli","reason":"locked by chapps-cli","time":T}}]'
cli events -n 1
eq "events -n 1" "$(notime)" \
	'T  {"kind":"unlock","user":"bob","by":"chapps-cli","time":T}'
cli -n 2 --json events
eq "-n before the command" "$(printf '%s' "$out" | grep -o '"kind"' | wc -l)" 2

# refusals
cli events -n 0
eq "events -n 0: status" "$st" 1
eq "events -n 0: message" "$out" 'chapps-cli: -n must be a whole number 1..1000, not "0"'
cli events -n 1001
eq "events -n 1001: status" "$st" 1
cli events -n
eq "-n without a value: status" "$st" 2
cli lock
eq "lock without a user: status" "$st" 2
cli lock a b c
eq "lock with too many arguments: status" "$st" 2
cli unlock
eq "unlock without a user: status" "$st" 2
cli locked bob
eq "locked with an argument: status" "$st" 2
cli lock ''
eq "lock of an empty name: status" "$st" 1
cli --json locked
eq "nothing changed by the refusals" "$(printf '%s' "$out" | grep -o '"user"' | wc -l)" 1

# run as root, a store made by lock belongs to milter.user (who must write it)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	sed -e 's/user = ""; group = ""/user = "nobody"; group = ""/' \
	    -e "s|path = \"$tmp/state\"|path = \"$tmp/state2\"|" "$tmp/chapps.conf" > "$tmp/nobody.conf"
	mkdir "$tmp/state2"
	"$CHAPPS_CLI" -c "$tmp/nobody.conf" lock u >/dev/null 2>&1
	eq "as root: the new store's files belong to milter.user" \
		"$(stat -c %U "$tmp/state2/data.mdb" "$tmp/state2/lock.mdb" 2>&1 | tr '\n' ' ')" \
		"nobody nobody "
fi

# with alerts.webhook_url, lock and unlock by hand reach the webhook before the command
# returns (a receiver on 127.0.0.1, an ephemeral port, that answers two POSTs and stops)
cat > "$tmp/recv.py" <<'PY'
import http.server, socketserver, sys
class H(http.server.BaseHTTPRequestHandler):
    n = 0
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        H.n += 1
        with open("%s/body%d" % (sys.argv[1], H.n), "wb") as f:
            f.write(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = socketserver.TCPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
srv.handle_request()
srv.handle_request()
PY
python3 "$tmp/recv.py" "$tmp" > "$tmp/port" &
recv=$!
for i in $(seq 200); do [ -s "$tmp/port" ] && break; sleep 0.05; done
cp "$tmp/chapps.conf" "$tmp/alerts.conf"
echo "alerts: { webhook_url = \"http://127.0.0.1:$(cat "$tmp/port")/hook\"; retries = 0; };" \
	>> "$tmp/alerts.conf"
"$CHAPPS_CLI" -c "$tmp/alerts.conf" lock hooked "by the test" >/dev/null 2>&1
eq "webhook: the lock by hand is posted" \
	"$(grep -o '"kind":"lock"' "$tmp/body1" 2>&1)/$(grep -o '"user":"hooked"' "$tmp/body1" 2>&1)" \
	'"kind":"lock"/"user":"hooked"'
"$CHAPPS_CLI" -c "$tmp/alerts.conf" unlock hooked >/dev/null 2>&1
eq "webhook: the unlock by hand is posted" "$(grep -o '"kind":"unlock"' "$tmp/body2" 2>&1)" \
	'"kind":"unlock"'
kill "$recv" 2>/dev/null
wait "$recv" 2>/dev/null

if [ "$failures" -gt 0 ]; then
	echo "# $failures check(s) failed"
	exit 1
fi
exit 0

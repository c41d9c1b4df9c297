#!/bin/sh
# check-cli-usage.sh - `chapps-cli usage import`: usage recorded in the store, spread over the
# window, whatever the user's limit, and the refusals; `limit add` with per-limit overrides and
# `show --quota` of a user only a domain's default quota knows
#
# Runs the built chapps-cli on an LMDB store and an SQLite policy database in a temporary
# directory (no server, no network).  The spread over the buckets itself is checked against
# the store with a clock in tests/check_policy.c (test_quota_import).
#
# Environment: CHAPPS_CLI (default ./chapps-cli, i.e. the top build directory, where make
# check runs tests).  Exit 0 when every check passes, 1 otherwise, 99 when the CLI is missing.

set -u

CHAPPS_CLI=${CHAPPS_CLI:-./chapps-cli}
failures=0

[ -x "$CHAPPS_CLI" ] || { echo "ERROR: $CHAPPS_CLI is not an executable"; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/check-cli-usage.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

cat > "$tmp/chapps.conf" <<EOF
milter: { user = ""; group = ""; pidfile = ""; run_as_root = true; };
store: { path = "$tmp/state"; };
policy_db: { path = "$tmp/policy.db"; };
quota: { interval = 3600; resolution = 60; margin = 0; };
EOF

# cli ARGS... - run chapps-cli on the test configuration; output in $out, status in $st
cli()
{
	out=$("$CHAPPS_CLI" -c "$tmp/chapps.conf" "$@" 2>&1)
	st=$?
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

# used - the user u's usage and what remains, as "used/remaining"
used()
{
	cli --json show u --quota
	printf '%s\n' "$out" | sed -n 's/.*"used":\([0-9]*\),.*"remaining":\(-\{0,1\}[0-9]*\),.*/\1\/\2/p'
}

cli admin db-setup
eq "admin db-setup" "$st" 0
cli quota add q50 50
cli user add u --quota q50
eq "user add u --quota q50" "$st" 0
[ ! -e "$tmp/state/data.mdb" ]
eq "no store before the first import" "$?" 0

cli usage import u 30 --spread 600
eq "usage import u 30 --spread 600: status" "$st" 0
eq "usage import u 30 --spread 600: output" "$out" \
	"30 unit(s) of usage imported for u over 10 bucket(s); used now 30"
eq "the import made the LMDB store" "$(test -e "$tmp/state/data.mdb" && echo yes)" yes
eq "show --quota after 30" "$(used)" "30/20"

cli usage import u 5
eq "usage import u 5 (no --spread: one bucket, now)" "$out" \
	"5 unit(s) of usage imported for u over 1 bucket(s); used now 35"

cli usage import u 100 --spread 3600
eq "usage import past the limit: status" "$st" 0
eq "usage import past the limit: output" "$out" \
	"100 unit(s) of usage imported for u over 60 bucket(s); used now 135"
eq "show --quota after 135" "$(used)" "135/-85"

cli --json usage import u 0
eq "--json usage import u 0" "$out" \
	'{"ok":true,"message":"0 unit(s) of usage imported for u over 0 bucket(s); used now 135"}'

cli usage import u 10 --spread 3601
eq "--spread past quota.interval: status" "$st" 1
eq "--spread past quota.interval: message" "$out" \
	'chapps-cli: --spread must be a whole number of seconds 0..3600 (quota.interval), not "3601"'
cli usage import u ten
eq "a count that is not a number: status" "$st" 1
cli usage import u 100000001
eq "a count over 100000000: status" "$st" 1
eq "nothing imported by the refusals" "$(used)" "135/-85"
cli usage import u
eq "usage import without a count: status" "$st" 2
cli usage export u 1
eq "usage export: status" "$st" 2
cli usage import u 1 --spread
eq "--spread without a value: status" "$st" 2

# ---- limit add with per-limit overrides (issue 11), limit list, show --quota
cli limit add q50 messages 1h 10 --action lock --warn-at 80 --mode monitor
eq "limit add --action --warn-at --mode: output" "$out" \
	"quota q50: limit messages 1h 10 added [action lock, warn at 80%, mode monitor]"
cli limit add q50 recipients 1d 100
eq "limit add without overrides: output unchanged" "$out" "quota q50: limit recipients 1d 100 added"
cli limit add q50 bytes 1d 100 --action hold
eq "limit add --action hold: status" "$st" 2
eq "limit add --action hold: message" "$out" \
	'chapps-cli: unknown action "hold" (reject, tempfail, quarantine, lock)'
cli limit add q50 bytes 1d 100 --warn-at 100
eq "limit add --warn-at 100: status" "$st" 2
cli limit add q50 bytes 1d 100 --mode test
eq "limit add --mode test: status" "$st" 2
cli limit list q50 --action lock
eq "--action with limit list: status" "$st" 2
cli limit list q50
eq "limit list: the overrides, - for the defaults" "$(printf '%s\n' "$out" | awk '{ print $1 "/" $5 "/" $6 "/" $7 }' | tr '\n' ' ')" \
	"id/action/warn_at/mode 0/-/-/- 1/lock/80/monitor 2/-/-/- "
cli --json limit list q50
eq "limit list --json: the overriding limit" \
	"$(printf '%s\n' "$out" | grep -o '{"id":"1",[^}]*}')" \
	'{"id":"1","kind":"messages","window":"3600","max":"10","action":"lock","warn_at":"80","mode":"monitor"}'
cli --json show u --quota
eq "show --quota --json: the limit's overrides" \
	"$(printf '%s\n' "$out" | grep -o '"id":1,[^}]*"mode":"monitor"' | grep -o '"action".*')" \
	'"action":"lock","warn_at":80,"mode":"monitor"'
cli show u --quota
eq "show --quota: the limit's overrides" \
	"$(printf '%s\n' "$out" | grep -c '10 messages per hour .*\[action lock, warn at 80%, mode monitor\]$')" 1

# ---- show --quota of a user known only through the default quota of its domain
cli quota add dflt 20
cli domain add d.test
cli domain quota d.test dflt
cli limit add dflt messages 1h 5
cli show nobody@d.test --quota
eq "show --quota of a user only the domain default knows: status" "$st" 0
eq "show --quota of a user only the domain default knows: the quota" \
	"$(printf '%s\n' "$out" | grep '^quota:')" "quota:    dflt (20 per 3600 s), the default quota of d.test"
eq "show --quota of a user only the domain default knows: the limits" \
	"$(printf '%s\n' "$out" | grep -c -e '^  20 recipients per hour ' -e '^  5 messages per hour ')" 2
cli --json show nobody@d.test --quota
eq "show --quota --json of that user: quota, domain, limit" \
	"$(printf '%s\n' "$out" | grep -o '"quota":"dflt","default_of":"d.test","limit":20')" \
	'"quota":"dflt","default_of":"d.test","limit":20'
cli show nobody@e.test --quota
eq "show --quota of a user nobody knows: status" "$st" 1

# run as root, a store made by the import belongs to milter.user (who must write it)
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	sed -e 's/user = ""; group = ""/user = "nobody"; group = ""/' \
	    -e "s|path = \"$tmp/state\"|path = \"$tmp/state2\"|" "$tmp/chapps.conf" > "$tmp/nobody.conf"
	mkdir "$tmp/state2"
	"$CHAPPS_CLI" -c "$tmp/nobody.conf" usage import u 1 >/dev/null 2>&1
	eq "as root: the new store's files belong to milter.user" \
		"$(stat -c %U "$tmp/state2/data.mdb" "$tmp/state2/lock.mdb" 2>&1 | tr '\n' ' ')" \
		"nobody nobody "
fi

if [ "$failures" -gt 0 ]; then
	echo "# $failures check(s) failed"
	exit 1
fi
exit 0

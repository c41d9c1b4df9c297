#!/bin/sh
# tests/api/openapi.sh - docs/openapi.yaml describes exactly the routes chapps-api serves
#
# The daemon's route table comes from `chapps-api --routes` ("METHOD PATH" per line); the
# document's from its paths: block (a path is "  /...:" at two spaces, a method
# "    get:" at four).  Every route must be in the document and every path and method of the
# document must be a route.  Also: chapps-api(8) names every route's path.
# Exit 0, 1 on a difference (each listed), 77 without the binary.

set -u
srcdir=${srcdir:-$(dirname "$0")/../..}
MILTER=${CHAPPS_MILTER:-./chapps-milter}
API=${CHAPPS_API:-$(dirname "$MILTER")/chapps-api}
[ -x "$API" ] || { echo "# SKIP: $API not found"; exit 77; }
tmp=$(mktemp -d /tmp/chapps-openapi.XXXXXX) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0 pass=0

"$API" --routes | sort >"$tmp/daemon"
awk '
/^paths:/ { inpaths = 1; next }
/^[a-z]/ { inpaths = 0 }
inpaths && /^  \/[^ ]*:$/ { path = $1; sub(/:$/, "", path); next }
inpaths && /^    (get|put|post|delete|patch|head|options):$/ {
	m = $1; sub(/:$/, "", m); print toupper(m) " " path
}' "$srcdir/docs/openapi.yaml" | sort >"$tmp/doc"

if [ -s "$tmp/daemon" ] && cmp -s "$tmp/daemon" "$tmp/doc"; then
	echo "ok 1 - docs/openapi.yaml has exactly the $(wc -l <"$tmp/daemon") routes of chapps-api"
	pass=$((pass + 1))
else
	echo "not ok 1 - docs/openapi.yaml and chapps-api --routes differ (< daemon only, > document only)"
	diff "$tmp/daemon" "$tmp/doc" | grep '^[<>]' | sed 's/^/#   /'
	fail=$((fail + 1))
fi
missing=
for p in $(awk '{print $2}' "$tmp/daemon" | sort -u); do
	grep -qF -- "$(printf '%s' "$p" | sed 's/-/\\-/g')" "$srcdir/man/chapps-api.8.in" || missing="$missing $p"
done
if [ -z "$missing" ]; then
	echo "ok 2 - chapps-api(8) names every route"
	pass=$((pass + 1))
else
	echo "not ok 2 - chapps-api(8) lacks:$missing"
	fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ $fail = 0 ]

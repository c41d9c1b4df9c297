#!/bin/sh
# check-docs.sh - keep the manual pages and the sample configuration in step with the code
#
# The list of settings comes from the built milter itself: `chapps-milter -d` on an empty
# file prints every setting at its default, in libconfig syntax (section: { key = value; }),
# which is parsed here into full paths such as store.redis.port.  Then:
#   1. the dump is itself a valid configuration (chapps-milter -n accepts it);
#   2. etc/chapps.conf.sample is valid as shipped (all commented out) and with the leading
#      "# " of its setting and section lines removed; uncommented, it names every setting,
#      nothing else, each at its default (paths compared from their last "/chapps/" on, since
#      the sample shows Debian's paths and the binary has the configured ones);
#   3. man/chapps.conf.5.in has one entry (.TP / .B path / ... / Default: \fBvalue\fR.) per
#      setting, none for a setting that does not exist, and each Default is the dump's value
#      (@placeholders@ match any text);
#   4. every dotted name under a known section in the three manual pages and the sample's
#      explanations is a setting or a section;
#   5. every option letter of `chapps-milter -h` has an entry under OPTIONS in
#      man/chapps-milter.8.in, and every entry there is an option of -h;
#   6. every command of `chapps-cli --help` (a word, or a word and its subcommand, such
#      as "domain greylist") has an entry under COMMANDS in man/chapps-cli.8.in whose
#      bold words are exactly those, every entry there is a command of --help, and every
#      option of --help (-c, --json, ...) has an entry under OPTIONS.
#
# Environment: CHAPPS_MILTER (the built binary; default ./chapps-milter, i.e. the top build
# directory, where make check runs tests), CHAPPS_CLI (default: chapps-cli next to
# CHAPPS_MILTER), srcdir (set by make check; default the directory above this script).
# Exit 0 when everything agrees, 1 on a mismatch (every one is listed as "got X, want Y"),
# 99 when a binary is missing or does not run.

set -u

me=check-docs
srcdir=${srcdir:-$(dirname "$0")/..}
CHAPPS_MILTER=${CHAPPS_MILTER:-./chapps-milter}
CHAPPS_CLI=${CHAPPS_CLI:-$(dirname "$CHAPPS_MILTER")/chapps-cli}
CONF_MAN=$srcdir/man/chapps.conf.5.in
MILTER_MAN=$srcdir/man/chapps-milter.8.in
CLI_MAN=$srcdir/man/chapps-cli.8.in
SAMPLE=$srcdir/etc/chapps.conf.sample

failures=0

# fail TEXT - report one mismatch
fail()
{
	printf 'FAIL: %s\n' "$*"
	failures=$((failures + 1))
}

# ok TEXT - report one passed check
ok()
{
	printf 'ok - %s\n' "$*"
}

# hard_error TEXT - the test cannot run at all
hard_error()
{
	printf 'ERROR: %s\n' "$*"
	exit 99
}

# settings_of FILE - "path<TAB>value" for every setting of a libconfig file written one
# setting per line, as `chapps-milter -d` and the sample are ("name:" or "name: {", "{",
# "name = value;", "};"); comments and blank lines are skipped.  Exit 1 on any other line.
settings_of()
{
	awk '
	function full(n,   i, p) {
		p = ""
		for (i = 1; i <= depth; i++)
			p = p stack[i] "."
		return p n
	}
	{ line = $0; sub(/^[ \t]+/, "", line); sub(/[ \t]+$/, "", line) }
	line == "" || line ~ /^(#|\/\/)/ { next }
	line ~ /^[A-Za-z*][-A-Za-z0-9_*]*[ \t]*[:=][ \t]*\{?$/ {
		name = line; sub(/[ \t]*[:=].*$/, "", name)
		if (line ~ /\{$/)
			stack[++depth] = name
		else
			pending = name
		next
	}
	line == "{" { stack[++depth] = pending; pending = ""; next }
	line ~ /^\}[;,]?$/ { if (depth > 0) depth--; next }
	line ~ /^[A-Za-z*][-A-Za-z0-9_*]*[ \t]*[:=]/ {
		name = line; sub(/[ \t]*[:=].*$/, "", name)
		val = line; sub(/^[^:=]*[:=][ \t]*/, "", val); sub(/[ \t]*[;,]$/, "", val)
		print full(name) "\t" val
		next
	}
	{ print FILENAME ":" FNR ": cannot parse: " $0 > "/dev/stderr"; bad = 1 }
	END { exit bad }
	' "$1"
}

# uncomment FILE - the sample with the "# " in front of settings and sections removed
uncomment()
{
	sed 's/^\([[:space:]]*\)# /\1/' "$1"
}

# roff_text - plain text of roff input on stdin: font escapes dropped, \- \e \(dq \(aq ...
roff_text()
{
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\(dq/"/g' -e "s/\\\\(aq/'/g" \
	    -e 's/\\&//g' -e 's/\\%//g' -e 's/\\e/\\/g'
}

# ---- the settings, from the binary ------------------------------------------

[ -x "$CHAPPS_MILTER" ] || hard_error "$CHAPPS_MILTER is not an executable (set CHAPPS_MILTER)"
[ -x "$CHAPPS_CLI" ] || hard_error "$CHAPPS_CLI is not an executable (set CHAPPS_CLI)"
for f in "$CONF_MAN" "$MILTER_MAN" "$CLI_MAN" "$SAMPLE"; do
	[ -r "$f" ] || hard_error "cannot read $f (set srcdir)"
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$me.XXXXXX") || hard_error "mktemp failed"
trap 'rm -rf "$tmp"' EXIT
trap 'exit 99' HUP INT TERM

: > "$tmp/empty.conf"
"$CHAPPS_MILTER" -d -c "$tmp/empty.conf" > "$tmp/dump.conf" 2> "$tmp/err" ||
	hard_error "$CHAPPS_MILTER -d failed: $(cat "$tmp/err")"
settings_of "$tmp/dump.conf" > "$tmp/dump.tsv" || hard_error "cannot parse the -d output"
cut -f1 "$tmp/dump.tsv" | sort > "$tmp/names"
n=$(wc -l < "$tmp/names")
[ "$n" -ge 10 ] || hard_error "-d printed $n settings; that is not a configuration dump"
[ -z "$(uniq -d "$tmp/names")" ] || fail "-d prints a setting twice: $(uniq -d "$tmp/names")"
echo "# $n settings in the effective configuration of $CHAPPS_MILTER"

# sections and every group prefix ("store", "store.redis")
awk -F'\t' '{ n = split($1, p, "."); s = p[1]; print s; for (i = 2; i < n; i++) { s = s "." p[i]; print s } }' \
	"$tmp/dump.tsv" | sort -u > "$tmp/groups"
cut -d. -f1 "$tmp/names" | sort -u > "$tmp/sections"
sort -u "$tmp/names" "$tmp/groups" > "$tmp/known"

# compare_names WHAT FILE - FILE (sorted names) must be exactly the settings
compare_names()
{
	missing=$(comm -23 "$tmp/names" "$2" | tr '\n' ' ')
	extra=$(comm -13 "$tmp/names" "$2" | tr '\n' ' ')
	dups=$(uniq -d "$2" | tr '\n' ' ')
	[ -z "$missing" ] || fail "$1 does not describe: ${missing% }"
	[ -z "$extra" ] || fail "$1 describes settings that do not exist: ${extra% }"
	[ -z "$dups" ] || fail "$1 describes twice: ${dups% }"
	[ -n "$missing$extra$dups" ] || ok "$1 names every setting, once, and nothing else"
}

# ---- 1. the dump is a valid configuration -----------------------------------

if "$CHAPPS_MILTER" -n -c "$tmp/dump.conf" > "$tmp/out" 2>&1; then
	ok "chapps-milter -n accepts the output of -d"
else
	fail "chapps-milter -n -c <output of -d>: got exit $?, want 0: $(cat "$tmp/out")"
fi

# ---- 2. the sample ----------------------------------------------------------

if "$CHAPPS_MILTER" -n -c "$SAMPLE" > "$tmp/out" 2>&1; then
	ok "chapps-milter -n accepts the sample as shipped"
else
	fail "chapps-milter -n -c $SAMPLE: got exit $?, want 0: $(cat "$tmp/out")"
fi
uncomment "$SAMPLE" > "$tmp/sample.conf"
if "$CHAPPS_MILTER" -n -c "$tmp/sample.conf" > "$tmp/out" 2>&1; then
	ok "chapps-milter -n accepts the sample uncommented"
else
	fail "chapps-milter -n -c <sample uncommented>: got exit $?, want 0: $(cat "$tmp/out")"
fi
if settings_of "$tmp/sample.conf" > "$tmp/sample.tsv"; then
	cut -f1 "$tmp/sample.tsv" | sort > "$tmp/sample.names"
	compare_names "etc/chapps.conf.sample" "$tmp/sample.names"
else
	fail "etc/chapps.conf.sample uncommented has lines that are not one setting per line"
fi
if "$CHAPPS_MILTER" -d -c "$tmp/sample.conf" > "$tmp/sample.dump" 2> "$tmp/err" &&
   settings_of "$tmp/sample.dump" > "$tmp/sample.dump.tsv"; then
	awk -F'\t' '
	function tail(v,   i) {	# a path: from its last "/chapps/" on
		if (v !~ /^"\//)
			return v
		i = 0
		while (match(substr(v, i + 1), /\/chapps\//))
			i += RSTART
		return i ? substr(v, i) : v
	}
	NR == FNR { want[$1] = $2; next }
	($1 in want) && tail($2) != tail(want[$1]) {
		printf "etc/chapps.conf.sample: %s: got %s, want the default %s\n", $1, $2, want[$1]
	}' "$tmp/dump.tsv" "$tmp/sample.dump.tsv" > "$tmp/diff"
	if [ -s "$tmp/diff" ]; then
		while IFS= read -r line; do fail "$line"; done < "$tmp/diff"
	else
		ok "every setting of the sample is at its default"
	fi
else
	fail "chapps-milter -d -c <sample uncommented> failed: $(cat "$tmp/err")"
fi

# ---- 3. chapps.conf(5) -------------------------------------------------------

awk '
/^\.\\"/ { next }
/^\.(SH|SS|PP|RE)/ { if (cur != "") print "N\t" cur; cur = ""; tp = 0; next }
/^\.TP/ { if (cur != "") print "N\t" cur; cur = ""; tp = 1; next }
tp && /^\.B [a-z_]+(\.[a-z_0-9]+)+[ \t]*$/ { cur = $2; tp = 0; next }
{ tp = 0 }
cur != "" && /^Default: / {
	v = $0
	sub(/^Default: \\fB/, "", v)
	sub(/\\fR\.?[ \t]*$/, "", v)
	print "D\t" cur "\t" v
	cur = ""
}
END { if (cur != "") print "N\t" cur }
' "$CONF_MAN" > "$tmp/man.raw"
awk -F'\t' '{ print $2 }' "$tmp/man.raw" | sort > "$tmp/man.names"
compare_names "man/chapps.conf.5.in" "$tmp/man.names"
awk -F'\t' '$1 == "N" { print $2 }' "$tmp/man.raw" > "$tmp/nodefault"
if [ -s "$tmp/nodefault" ]; then
	fail "man/chapps.conf.5.in entries without a \"Default: \\fBvalue\\fR.\" line:" \
		"$(tr '\n' ' ' < "$tmp/nodefault" | sed 's/ $//')"
fi
awk -F'\t' '$1 == "D" { print $2 "\t" $3 }' "$tmp/man.raw" | roff_text > "$tmp/man.tsv"
awk -F'\t' '
function matches(pat, val,   n, parts, i, pos, k) {	# @name@ in pat matches any text
	n = split(pat, parts, /@[A-Za-z_]+@/)
	if (n == 1)
		return pat == val
	if (substr(val, 1, length(parts[1])) != parts[1])
		return 0
	pos = length(parts[1]) + 1
	for (i = 2; i < n; i++) {
		k = index(substr(val, pos), parts[i])
		if (k == 0)
			return 0
		pos += k - 1 + length(parts[i])
	}
	return length(val) - pos + 1 >= length(parts[n]) &&
	       substr(val, length(val) - length(parts[n]) + 1) == parts[n]
}
NR == FNR { want[$1] = $2; next }
($1 in want) && !matches($2, want[$1]) {
	printf "man/chapps.conf.5.in: %s: Default: got %s, want %s\n", $1, $2, want[$1]
}' "$tmp/dump.tsv" "$tmp/man.tsv" > "$tmp/diff"
if [ -s "$tmp/diff" ]; then
	while IFS= read -r line; do fail "$line"; done < "$tmp/diff"
else
	ok "every default in chapps.conf(5) is the one chapps-milter -d prints"
fi

# ---- 4. references to settings ----------------------------------------------

for f in "$CONF_MAN" "$MILTER_MAN" "$CLI_MAN" "$SAMPLE"; do
	case $f in
	*.sample) grep '^[[:space:]]*##' "$f" ;;
	*) grep -v '^\.\\"' "$f" | roff_text ;;
	esac > "$tmp/text"
	awk '
	FILENAME == ARGV[1] { section[$1] = 1; next }
	FILENAME == ARGV[2] { known[$1] = 1; next }
	{
		line = $0
		# a word with its dots; "-", "/" and "@" belong to it (chapps-milter.pid)
		while (match(line, /[-\/@A-Za-z0-9_]*[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_*]+)+/)) {
			tok = substr(line, RSTART, RLENGTH)
			line = substr(line, RSTART + RLENGTH)
			split(tok, p, ".")
			if (!(p[1] in section) || tok ~ /\*/)
				continue
			if (!(tok in known))
				printf "line %d: %s\n", FNR, tok
		}
	}' "$tmp/sections" "$tmp/known" "$tmp/text" > "$tmp/unknown"
	name=${f#"$srcdir"/}
	# another name of a setting (issue 11's quota.lock_after ...) is one the milter does not
	# call unknown: its value "x" is refused for its type instead
	while IFS= read -r line; do
		tok=${line#*: }
		printf '%s\n' "$tok" | awk -F. '{
			for (i = 1; i < NF; i++) printf "%s: { ", $i
			printf "%s = \"x\";", $NF
			for (i = 1; i < NF; i++) printf " };"
			print ""
		}' > "$tmp/alias.conf"
		"$CHAPPS_MILTER" -n -c "$tmp/alias.conf" 2>&1 | grep -q "unknown setting" ||
			continue
		printf '%s\n' "$line"
	done < "$tmp/unknown" > "$tmp/unknown2"
	mv "$tmp/unknown2" "$tmp/unknown"
	if [ -s "$tmp/unknown" ]; then
		while IFS= read -r line; do
			fail "$name names a setting that does not exist: $line"
		done < "$tmp/unknown"
	else
		ok "$name names only settings that exist"
	fi
done

# ---- 5. the options of chapps-milter(8) -------------------------------------

"$CHAPPS_MILTER" -h > "$tmp/help" 2>&1 || fail "chapps-milter -h: got exit $?, want 0"
sed -n 's/^[[:space:]]*-\([A-Za-z]\)\([[:space:]].*\)\{0,1\}$/\1/p' "$tmp/help" | sort -u \
	> "$tmp/opts.help"
[ -s "$tmp/opts.help" ] || fail "chapps-milter -h lists no option; got: $(cat "$tmp/help")"
awk '
/^\.SH / { in_opts = ($2 == "OPTIONS"); next }
in_opts && /^\.TP/ { tp = 1; next }
in_opts && tp && /^\.BI? \\-[A-Za-z]/ { print substr($2, 3, 1) }
{ tp = 0 }
' "$MILTER_MAN" | sort > "$tmp/opts.man"
missing=$(comm -23 "$tmp/opts.help" "$tmp/opts.man" | tr '\n' ' ')
extra=$(comm -13 "$tmp/opts.help" "$tmp/opts.man" | tr '\n' ' ')
[ -z "$missing" ] || fail "man/chapps-milter.8.in OPTIONS lacks: ${missing% } (from -h)"
[ -z "$extra" ] || fail "man/chapps-milter.8.in OPTIONS documents options -h does not have: ${extra% }"
[ -n "$missing$extra" ] || ok "chapps-milter.8 documents exactly the options of -h ($(tr -d '\n' < "$tmp/opts.help"))"

# ---- 6. the commands and options of chapps-cli(8) ----------------------------

"$CHAPPS_CLI" --help > "$tmp/cli.help" 2>&1 || fail "chapps-cli --help: got exit $?, want 0"
# the synopsis of each indented line (up to a gap of two spaces), bracketed options dropped,
# split into alternatives at " | "; an alternative's first word is the command, its second
# (when a lower-case word, "a|b" meaning both) the subcommand
awk '
/^  [a-z]/ {
	line = $0
	sub(/^  +/, "", line)
	sub(/  .*$/, "", line)
	gsub(/\[-[^]]*\]/, "", line)
	n = split(line, alt, / \| /)
	for (i = 1; i <= n; i++) {
		m = split(alt[i], w, " ")
		if (m == 0)
			continue
		if (m >= 2 && w[2] ~ /^[a-z][-a-z|]*$/) {
			k = split(w[2], sub_, "|")
			for (j = 1; j <= k; j++)
				print w[1] " " sub_[j]
		} else {
			print w[1]
		}
	}
}' "$tmp/cli.help" | sort -u > "$tmp/cmds.help"
[ -s "$tmp/cmds.help" ] || fail "chapps-cli --help lists no command; got: $(cat "$tmp/cli.help")"
# options of --help: "-c" and every "--word"
grep -o -e '\[-c ' -e '--[a-z][-a-z]*' "$tmp/cli.help" | sed 's/^\[//; s/ $//' | sort -u \
	> "$tmp/cliopts.help"
# entries of the man page: under COMMANDS, the bold words of the line after .TP (all of a
# .B line, the first argument of .BI/.BR); under OPTIONS, the text of that line
awk '
function unquote(s) { gsub(/\\-/, "-", s); gsub(/\\f[BIRP]/, "", s); return s }
/^\.SH / { sect = $2; next }
/^\.TP/ { tp = 1; next }
tp && sect == "COMMANDS" && /^\.B[IR]? / {
	line = substr($0, index($0, " ") + 1)
	if ($1 != ".B") {
		if (line ~ /^"/) {
			line = substr(line, 2)
			line = substr(line, 1, index(line, "\"") - 1)
		} else {
			sub(/ .*$/, "", line)
		}
	}
	gsub(/"/, "", line)
	line = unquote(line)
	gsub(/^ +| +$/, "", line)
	gsub(/  +/, " ", line)
	print "C\t" line
}
tp && sect == "OPTIONS" && /^\.B[IR]? / {
	line = $0
	gsub(/"/, "", line)
	print "O\t" unquote(line)
}
{ tp = 0 }
' "$CLI_MAN" > "$tmp/cli.man"
awk -F'\t' '$1 == "C" { print $2 }' "$tmp/cli.man" | sort > "$tmp/cmds.man"
sort -u "$tmp/cmds.man" > "$tmp/cmds.man.u"
missing=$(comm -23 "$tmp/cmds.help" "$tmp/cmds.man.u" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
extra=$(comm -13 "$tmp/cmds.help" "$tmp/cmds.man.u" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
dups=$(uniq -d "$tmp/cmds.man" | tr '\n' ',' | sed 's/,$//; s/,/, /g')
[ -z "$missing" ] || fail "man/chapps-cli.8.in COMMANDS lacks: $missing (from --help)"
[ -z "$extra" ] || fail "man/chapps-cli.8.in COMMANDS documents commands --help does not list: $extra"
[ -z "$dups" ] || fail "man/chapps-cli.8.in COMMANDS documents twice: $dups"
[ -n "$missing$extra$dups" ] ||
	ok "chapps-cli.8 documents exactly the commands of --help ($(wc -l < "$tmp/cmds.help" | tr -d ' '))"
awk -F'\t' '$1 == "O" { print $2 }' "$tmp/cli.man" > "$tmp/cliopts.man"
missing=
while IFS= read -r opt; do
	grep -q -e "^\.B[IR]* $opt\([ ,]\|\$\)" "$tmp/cliopts.man" || missing="$missing $opt"
done < "$tmp/cliopts.help"
[ -s "$tmp/cliopts.help" ] || fail "chapps-cli --help lists no option; got: $(cat "$tmp/cli.help")"
if [ -n "$missing" ]; then
	fail "man/chapps-cli.8.in OPTIONS lacks:$missing (from --help)"
else
	ok "chapps-cli.8 documents every option of --help ($(tr '\n' ' ' < "$tmp/cliopts.help" | sed 's/ $//'))"
fi

if [ "$failures" -gt 0 ]; then
	echo "# $failures mismatch(es) between the code and its documentation"
	exit 1
fi
echo "# the documentation matches the code"
exit 0

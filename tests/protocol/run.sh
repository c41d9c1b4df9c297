#!/bin/bash
# tests/protocol/run.sh - drive the built chapps-milter over the milter protocol
#
# Each configuration below is written into one `mktemp -d` directory; its milter is started
# in the foreground (`chapps-milter -f -c FILE`, stderr captured to a log), waited for by
# polling that log with a bound, and stopped by PID with SIGTERM at the end, when its exit
# status and log are checked too.  Two clients play the MTA:
#	miltertest + mail-stage.lua	reply codes at MAIL (miltertest cannot read reply texts
#					before EOM, and its macro buffer holds about 1 KiB)
#	milter-client.py		a raw protocol v6 client (python3 stdlib): reply texts,
#					negotiation flags and symbol lists, 64 KiB values, NUL
#					bytes, malformed packets, 10,000 recipients
# Output: "ok N - ..." / "not ok N - ..." lines, then "N passed, M failed" alone on a line.
# Exit 0 when everything passed, 1 otherwise, 77 when miltertest, python3 or the milter
# binary is missing.
#
# Environment:
#	CHAPPS_MILTER	the milter under test (default ./chapps-milter)
#	CHAPPS_CLI	chapps-cli, to create the policy database of the quota case
#			(default: next to CHAPPS_MILTER); without it the quota case is skipped
#	PROTO_VALGRIND=1  run every milter under valgrind --error-exitcode=1 --leak-check=full
#	PROTO_KEEP=1	keep the temporary directory
#	PROTO_PORT	first TCP port (default 16700); nine consecutive ports are used

HERE=$(cd "$(dirname "$0")" && pwd)
LUA="$HERE/mail-stage.lua"
PORT0=${PROTO_PORT:-16700}
. "$HERE/lib.sh"
proto_init chapps-proto miltertest


# ---- milters -----------------------------------------------------------------

# config NAME SETTINGS - write $T/NAME.conf for its own port; SETTINGS are appended.
# Inbound policies are off everywhere: these cases test the outbound (submission) flow.
config()
{
	local name=$1 port=$((PORT0 + ${#PORT[@]})) extra=$2
	PORT[$name]=$port
	mkdir -p "$T/$name"
	cat >"$T/$name.conf" <<-EOF
		milter: { user = ""; group = ""; pidfile = ""; run_as_root = true;
		          socket = "inet:$port@127.0.0.1"; };
		store: { path = "$T/$name/state"; };
		policy_db: { path = "$T/$name/policy.db"; };
		inbound: { policies = [ ]; };
		$extra
	EOF
}






# mt NAME DESC -D ... - a miltertest run of mail-stage.lua; ok when it passes
mt()
{
	local name=$1 desc=$2 out rc
	shift 2
	out=$("$MILTERTEST" -D SOCK="$(sock "$name")" "$@" -s "$LUA" 2>&1)
	rc=$?
	if [ $rc = 0 ]; then ok "$desc"; else notok "$desc" "miltertest exit $rc" "$out"; fi
}

# ---- configurations -------------------------------------------------------------

GATE_REPLY="550 5.7.1 proto-test: please authenticate"
LIMITS_REPLY="554 5.5.4 Rejected - SMTP parameter exceeds limits"
config gate "outbound: { policies = [ ]; };
identity: { no_user_key_reply = \"$GATE_REPLY\"; };"
config fallback "outbound: { policies = [ ]; };
identity: { require_user_key = false;
            search_order = [ \"sasl_username\", \"ccert_subject\", \"sender\", \"client_address\" ]; };"
config sasl_sender "outbound: { policies = [ ]; };
identity: { require_user_key = false; search_order = [ \"sasl_username\", \"sender\" ]; };"
config macro "outbound: { policies = [ ]; };
identity: { user_key = \"{my_user}\"; require_user_key = true; };"
config helo "outbound: { policies = [ ]; };
identity: { user_key = \"helo_name\"; require_user_key = true; };"
config limits "outbound: { policies = [ ]; };
limits: { value_max = 64; address_max = 64; };"
config quota "outbound: { policies = [ \"quota\" ]; };"
config fragile "outbound: { policies = [ ]; };"
config outonly "outbound: { policies = [ ]; };
listeners: { inbound = [ ]; };"

CONNECT='optneg
macro C j=mx.proto.test {daemon_name}=mx.proto.test
connect client.proto.test 192.0.2.7'

# ---- 1-3: the identity gate (miltertest) ------------------------------------------

if up gate; then
	mt gate "1 authenticated {auth_authen} -> ACCEPT at MAIL (gate only leaves the message)" \
		-D 'MAIL_MACROS={auth_authen}=alice1@example.com|{auth_type}=PLAIN' -D EXPECT=ACCEPT
	log_has "1 the accept is logged with the user and key=sasl_username" gate \
		'accept: MAIL from client\.proto\.test\[192\.0\.2\.7\]: user=<alice1@example\.com> from=<alice@example\.com> key=sasl_username'
	mt gate "2 no {auth_authen} -> REPLYCODE at MAIL" -D 'MAIL_MACROS=i=' -D EXPECT=REPLYCODE
	mt gate "3 empty {auth_authen} -> REPLYCODE" \
		-D 'MAIL_MACROS={auth_authen}=|{auth_type}=PLAIN' -D EXPECT=REPLYCODE
	mt gate "3 {auth_authen}=None -> REPLYCODE" -D 'MAIL_MACROS={auth_authen}=None' \
		-D EXPECT=REPLYCODE
	mt gate "3 a forged {auth_author} alone is no identity -> REPLYCODE" \
		-D 'MAIL_MACROS={auth_author}=<alice@example.com>' -D EXPECT=REPLYCODE
	mt gate "3 require_user_key ignores {cert_subject} -> REPLYCODE" \
		-D 'MAIL_MACROS={cert_subject}=alice' -D EXPECT=REPLYCODE

	# 2: the exact reply text, with the raw client
	out=$(raw gate <<-EOF
		$CONNECT
		macro M i=
		mail <mallory@example.com>
		abort
		macro M {auth_authen}=alice2
		mail <alice@example.com>
		quit
	EOF
	)
	has_line "2 no {auth_authen}: the configured no_user_key_reply text" "$out" \
		"mail REPLYCODE $GATE_REPLY"
	has_line "2 the same connection then accepts an authenticated message" "$out" "mail ACCEPT"
	log_has "2 the reject is logged with policy=identity" gate \
		"reject: MAIL from client\.proto\.test\[192\.0\.2\.7\]: $GATE_REPLY; from=<mallory@example\.com> policy=identity"
fi

# ---- 4: fallback keys (require_user_key = false) and a {macro} key ------------------

if up fallback; then
	mt fallback "4 cert-only ({cert_subject}) -> ACCEPT" \
		-D 'MAIL_MACROS={cert_subject}=cert-user-4a' -D EXPECT=ACCEPT
	log_has "4 the cert user is logged with key=ccert_subject" fallback \
		'accept: MAIL .* user=<cert-user-4a> .*key=ccert_subject'
	mt fallback "4 no AUTH, no cert, a sender -> ACCEPT" \
		-D 'FROM=<sender-4b@example.com>' -D EXPECT=ACCEPT
	log_has "4 ... logged with key=sender" fallback \
		'accept: MAIL .* user=<sender-4b@example\.com> .*key=sender'
	mt fallback "4 null sender, nothing else -> ACCEPT by client address" \
		-D 'FROM=<>' -D EXPECT=ACCEPT
	log_has "4 ... logged with user=<192.0.2.7> key=client_address" fallback \
		'accept: MAIL .* user=<192\.0\.2\.7> .*key=client_address'
	mt fallback "4 {auth_authen} still comes first -> ACCEPT" \
		-D 'MAIL_MACROS={auth_authen}=sasl-4c|{cert_subject}=cert-4c' -D EXPECT=ACCEPT
	log_has "4 ... logged with user=<sasl-4c> key=sasl_username" fallback \
		'user=<sasl-4c> .*key=sasl_username'
fi
if up sasl_sender; then
	mt sasl_sender "4 search_order [sasl_username, sender]: a sender -> ACCEPT" \
		-D 'FROM=<sender-4d@example.com>' -D EXPECT=ACCEPT
	log_has "4 ... logged with key=sender" sasl_sender \
		'user=<sender-4d@example\.com> .*key=sender'
	mt sasl_sender "4 search_order [sasl_username, sender]: null sender -> REPLYCODE" \
		-D 'FROM=<>' -D EXPECT=REPLYCODE
fi
if up macro; then
	mt macro "4 user_key {my_user} sent at MAIL -> ACCEPT" \
		-D 'MAIL_MACROS={my_user}=carol-4e' -D EXPECT=ACCEPT
	log_has "4 ... logged with key={my_user}" macro 'user=<carol-4e> .*key=\{my_user\}'
	mt macro "4 user_key {my_user} not sent -> REPLYCODE" -D 'MAIL_MACROS=i=' \
		-D EXPECT=REPLYCODE
	mt macro "4 user_key {my_user}: {auth_authen} alone -> REPLYCODE" \
		-D 'MAIL_MACROS={auth_authen}=alice' -D EXPECT=REPLYCODE
	out=$(raw macro <<<"optneg")
	if grep -qE '^symlist mail .*\{my_user\}' <<<"$out"; then
		ok "4/9 the MAIL symbol list asks for {my_user}"
	else
		notok "4/9 the MAIL symbol list asks for {my_user}" "$out"
	fi
fi

# ---- 5: connections that end before MAIL ------------------------------------------------

if up gate; then
	# a TCP connection that sends nothing, then ones that stop after each early step
	raw gate <<<"open" >/dev/null
	raw gate <<<"optneg" >/dev/null
	raw gate <<<"$CONNECT" >/dev/null
	printf '%s\nabort\nquit\n' "$CONNECT" | raw gate >/dev/null
	printf '%s\nmacro M {auth_authen}=x\nclose\n' "$CONNECT" | raw gate >/dev/null
	out=$(raw gate <<-EOF
		$CONNECT
		macro M {auth_authen}=alice5
		mail <alice@example.com>
	EOF
	)
	has_line "5 after five connections closed before MAIL, the next one is answered" \
		"$out" "mail ACCEPT"
	check_alive "5 the milter survives early disconnects" gate
fi

# ---- 6: 64 KiB values -------------------------------------------------------------------

if up gate; then
	# 65536 - 17 bytes: the 'D' packet is then exactly 64 KiB, the most libmilter reads
	out=$(raw gate <<-EOF
		$CONNECT
		macro M {auth_authen}=\${65519*a}
		mail <alice@example.com>
		abort
		macro M {auth_authen}=alice6
		mail <alice@example.com>
	EOF
	)
	has_line "6 a 65519-byte {auth_authen} -> the limits reply" "$out" "mail REPLYCODE $LIMITS_REPLY"
	has_line "6 the next message of that connection is judged afresh -> ACCEPT" "$out" \
		"mail ACCEPT"
	log_has "6 the limits reject names the field" gate \
		'reject: MAIL .*policy=limits \{auth_authen\} exceeds its limit'
	# 65536 bytes do not fit libmilter's 64 KiB packet: libmilter drops the connection
	out=$(raw gate <<-EOF
		$CONNECT
		macro M {auth_authen}=\${65536*a}
		mail <alice@example.com>
	EOF
	)
	case $(grep '^mail ' <<<"$out") in
	"mail EOF" | "mail REPLYCODE $LIMITS_REPLY") ok "6 a 65536-byte {auth_authen} is refused" \
		"($(grep '^mail ' <<<"$out"))" ;;
	*) notok "6 a 65536-byte {auth_authen} is refused" "got: $(grep '^mail ' <<<"$out")" ;;
	esac
	out=$(raw gate <<-EOF
		$CONNECT
		macro M {auth_authen}=alice6
		mail <\${65000*s}@example.com>
	EOF
	)
	has_line "6 a 64 KiB sender (authenticated) -> the limits reply" "$out" \
		"mail REPLYCODE $LIMITS_REPLY"
	out=$(raw gate <<-EOF
		$CONNECT
		macro M {auth_authen}=alice6
		mail <alice@example.com> \${65000*X}
	EOF
	)
	has_line "6 64 KiB of ESMTP arguments -> the limits reply" "$out" \
		"mail REPLYCODE $LIMITS_REPLY"
	check_alive "6 the milter survives 64 KiB values" gate
fi
if up helo; then
	out=$(raw helo <<-EOF
		$CONNECT
		helo \${65534*h}
		mail <alice@example.com>
		abort
		mail <alice@example.com>
	EOF
	)
	has_line "6/9 helo_name key: HELO is negotiated without a reply (NR_HELO)" "$out" \
		"helo NOREPLY"
	if [ "$(grep -cxF "mail REPLYCODE $LIMITS_REPLY" <<<"$out")" = 2 ]; then
		ok "6 a 64 KiB HELO -> the limits reply, for every message of the connection"
	else
		notok "6 a 64 KiB HELO -> the limits reply, for every message of the connection" \
			"$out"
	fi
	out=$(raw helo <<-EOF
		$CONNECT
		helo client6.proto.test
		mail <alice@example.com>
	EOF
	)
	has_line "6 helo_name key: a normal HELO -> ACCEPT" "$out" "mail ACCEPT"
	log_has "6 ... logged with key=helo_name" helo 'user=<client6\.proto\.test> .*key=helo_name'
	# miltertest's buffers stop at 1024 bytes, exactly limits.value_max
	mt helo "6/9 miltertest: a 1024-byte HELO (= limits.value_max) -> ACCEPT" -D 'HELO=*1024' \
		-D WANT_HELO=yes -D EXPECT=ACCEPT -D SECOND=yes
	out=$(raw helo <<-EOF
		$CONNECT
		helo \${1025*h}
		mail <alice@example.com>
	EOF
	)
	has_line "6 a 1025-byte HELO -> the limits reply" "$out" "mail REPLYCODE $LIMITS_REPLY"
	check_alive "6 the milter survives a 64 KiB HELO" helo
fi
if up limits; then
	mt limits "6 limits.value_max = 64: a 64-byte {auth_authen} -> ACCEPT" \
		-D 'MAIL_MACROS={auth_authen}=*64' -D EXPECT=ACCEPT
	mt limits "6 limits.value_max = 64: a 65-byte {auth_authen} -> REPLYCODE" \
		-D 'MAIL_MACROS={auth_authen}=*65' -D EXPECT=REPLYCODE
	a52=$(printf 'b%.0s' {1..52})
	mt limits "6 limits.address_max = 64: a 64-byte sender -> ACCEPT" \
		-D 'MAIL_MACROS={auth_authen}=alice' -D "FROM=<${a52}@example.com>" -D EXPECT=ACCEPT
	mt limits "6 limits.address_max = 64: a 65-byte sender -> REPLYCODE" \
		-D 'MAIL_MACROS={auth_authen}=alice' -D "FROM=<${a52}b@example.com>" \
		-D EXPECT=REPLYCODE
fi

# ---- 7: NUL bytes and malformed packets ---------------------------------------------------

if up gate; then
	# a 'D' packet is NUL-separated name/value strings: these values hold a NUL but keep
	# the count even, so libmilter pairs them up: {auth_authen}="al", ice7="x"
	nul_script="$CONNECT
macro M {auth_authen}=al\\0ice7\\0x
mail <alice@example.com>
abort
macro M {auth_authen}=\\0alice7\\0x
mail <alice@example.com>
abort
macro M {auth_authen}=bob7
mail <al\\0ice@example.com> SIZE=\\0\\0
quit"
	out1=$(raw gate <<<"$nul_script")
	out2=$(raw gate <<<"$nul_script")
	eq "7 embedded NULs give the same replies twice" "$out2" "$out1"
	eq "7 {auth_authen} al<NUL>ice7, <NUL>alice7, a NUL in the sender -> ACCEPT REPLYCODE ACCEPT" \
		"$(grep '^mail ' <<<"$out1" | cut -d' ' -f1-2 | tr '\n' ' ')" \
		"mail ACCEPT mail REPLYCODE mail ACCEPT "
	log_has "7 a value is cut at its first NUL (user=<al>)" gate 'accept: MAIL .* user=<al> '
	for pkt in 'rawnr D' 'rawnr M' 'rawnr C x' 'rawnr H' 'raw Z junk' 'bytes 00000000' \
		'bytes ffffffff41' 'raw O \x00' 'rawnr D M'; do
		printf '%s\n%s\nmacro M {auth_authen}=x\nmail <x@example.com>\n' "$CONNECT" "$pkt" |
			raw gate 0.5 >/dev/null
	done
	out=$(raw gate <<-EOF
		$CONNECT
		macro M {auth_authen}=alice7
		mail <alice@example.com>
	EOF
	)
	has_line "7 after nine malformed packets the next connection is answered" "$out" \
		"mail ACCEPT"
	check_alive "7 the milter survives NUL bytes and malformed packets" gate
fi

# ---- 8: 10,000 recipients (quota on) --------------------------------------------------------

if [ ! -x "$CLI" ]; then
	echo "# 8 skipped: no chapps-cli at $CLI to create the policy database"
elif ! { "$CLI" -c "$T/quota.conf" admin db-setup && "$CLI" -c "$T/quota.conf" quota add big 100000 &&
	 "$CLI" -c "$T/quota.conf" user add alice8 --quota big; } >"$T/cli.out" 2>&1; then
	notok "8 chapps-cli sets up the policy database" "$(cat "$T/cli.out")"
elif up quota; then
	out=$(raw quota <<-EOF
		$CONNECT
		macro M {auth_authen}=alice8
		mail <alice8@example.com>
		rcpts 10000 <r%d@example.net>
		data
	EOF
	)
	has_line "8 quota: an authenticated user with a quota -> CONTINUE at MAIL" "$out" \
		"mail CONTINUE"
	has_line "8 10,000 RCPTs: every one answered, 1000 kept, the rest get limits.recipients_reply" \
		"$out" "rcpts 10000 CONTINUE=1000 REPLYCODE=9000 first=CONTINUE last=REPLYCODE 452 4.5.3 Too many recipients"
	has_line "8 DATA commits and accepts" "$out" "data ACCEPT"
	used=$("$CLI" -c "$T/quota.conf" show alice8 --quota 2>&1 | awk '$1 == "used:" {print $2}')
	eq "8 the store counted the 1000 kept recipients" "$used" 1000
	out=$(raw quota <<-EOF
		$CONNECT
		macro M {auth_authen}=nobody8
		mail <nobody8@example.com>
	EOF
	)
	has_line "8 quota: a user without a quota -> quota.unknown_user_reply" "$out" \
		"mail REPLYCODE 554 5.7.1 Rejected - no quota for this user"
	out=$(raw quota <<<"optneg")
	if grep -qE '^optneg .*protocol=0x[0-9a-f]+$' <<<"$out" &&
	   ! (($(sed -n 's/.*protocol=//p' <<<"$out") & 0x8)); then
		ok "8/9 with quota on, RCPT is negotiated (no SMFIP_NORCPT)"
	else
		notok "8/9 with quota on, RCPT is negotiated (no SMFIP_NORCPT)" "$out"
	fi
	check_alive "8 the milter survives 10,000 recipients" quota
fi

# ---- 9: negotiation ----------------------------------------------------------------------------

if up gate; then
	out=$(raw gate <<<"optneg")
	p=$(sed -n 's/^optneg .*protocol=//p' <<<"$out")
	a=$(sed -n 's/^optneg .*actions=\(0x[0-9a-f]*\).*/\1/p' <<<"$out")
	if [ -z "$p" ]; then
		notok "9 OPTNEG answered" "$out"
	else
		# name:bit:want (1 = must be set, 0 = must be clear)
		for f in NOHDRS:0x20:1 NOEOH:0x40:1 NOBODY:0x10:1 NOUNKNOWN:0x100:1 NOHELO:0x2:1 \
			 NR_CONN:0x1000:1 NORCPT:0x8:1 NOMAIL:0x4:0 NOCONNECT:0x1:0 NODATA:0x200:0; do
			IFS=: read -r fname bit want <<<"$f"
			got=$(( (p & bit) != 0 ))
			eq "9 gate: SMFIP_$fname $([ "$want" = 1 ] && echo requested || echo not requested)" \
				"$got" "$want"
		done
		eq "9 gate: actions = SMFIF_SETSYMLIST only (chapps never modifies a message)" "$a" 0x100
	fi
	if grep -qE '^symlist mail (.* )?\{auth_authen\}( |$)' <<<"$out"; then
		ok "9 the MAIL symbol list includes {auth_authen}"
	else
		notok "9 the MAIL symbol list includes {auth_authen}" "$out"
	fi
	has_line "9 the CONNECT symbol list" "$out" "symlist connect {daemon_name} {daemon_addr} {daemon_port}"
	# an MTA that offers only the protocol-2 steps (no NR_* flags): connect needs a reply
	out=$(raw gate <<-EOF
		optneg 0x7f
		connect client.proto.test 192.0.2.9
		macro M {auth_authen}=alice9
		mail <alice@example.com>
	EOF
	)
	has_line "9 an MTA without SMFIP_NR_CONN gets a CONTINUE at connect" "$out" "connect CONTINUE"
	has_line "9 ... and the MAIL decision" "$out" "mail ACCEPT"
fi

# every connection outbound (issue 15): nothing negotiated that only inbound needs, and no
# listener macro at CONNECT -- an empty list replaces the MTA's default one
if up outonly; then
	out=$(raw outonly <<-EOF
		optneg
		connect client.proto.test 192.0.2.9
		macro M {auth_authen}=alice9
		mail <alice@example.com>
	EOF
	)
	p=$(sed -n 's/^optneg .*protocol=//p' <<<"$out")
	a=$(sed -n 's/^optneg .*actions=\(0x[0-9a-f]*\).*/\1/p' <<<"$out")
	if [ -z "$p" ]; then
		notok "9 outbound only: OPTNEG answered" "$out"
	else
		for f in NOHELO:0x2:1 NORCPT:0x8:1 NR_CONN:0x1000:1 NR_HELO:0x2000:0; do
			IFS=: read -r fname bit want <<<"$f"
			eq "9 outbound only: SMFIP_$fname $([ "$want" = 1 ] && echo requested ||
				echo not requested)" "$(( (p & bit) != 0 ))" "$want"
		done
		eq "9 outbound only: actions = SMFIF_SETSYMLIST only (no header to add)" "$a" 0x100
	fi
	if grep -qE '^symlist connect *$' <<<"$out"; then
		ok "9 outbound only: the CONNECT symbol list is empty"
	else
		notok "9 outbound only: the CONNECT symbol list is empty" "$out"
	fi
	has_line "9 outbound only: connect is not answered (NR_CONN, SMFIS_NOREPLY)" "$out" \
		"connect NOREPLY"
	has_line "9 outbound only: the gate decides at MAIL" "$out" "mail ACCEPT"
fi

# ---- 7 (known): an odd number of strings in a macro packet ------------------------------------
#
# libmilter 8.17.1.9's smfi_getsymval walks a stage's macro array two entries at a time and
# reads past its end when the 'D' packet held an odd number of strings; chapps cannot see
# the packet.  Postfix never sends one, but anyone who can connect to the socket can.  Run
# against a milter of its own, reported as TODO (not counted as a failure).

if up fragile; then
	printf '%s\nmacro M {auth_authen}=\\0alice7\nmail <alice@example.com>\n' "$CONNECT" |
		raw fragile >/dev/null
	printf '%s\nrawnr D Mno-nul-at-all\nmail <alice@example.com>\n' "$CONNECT" |
		raw fragile >/dev/null
	out=$(raw fragile <<-EOF
		$CONNECT
		macro M {auth_authen}=alice7
		mail <alice@example.com>
	EOF
	)
	TODO="libmilter smfi_getsymval reads past the macro array"
	if alive fragile && grep -qxF "mail ACCEPT" <<<"$out"; then
		ok "7 a macro packet with an odd number of strings does not crash the milter"
	else
		msg="the next connection got: $(grep '^mail\|^error' <<<"$out")"
		if ! alive fragile && [ -n "${PID[fragile]}" ]; then
			wait "${PID[fragile]}"
			msg="the milter died with exit status $?"
			unset "PID[fragile]"
		fi
		notok "7 a macro packet with an odd number of strings does not crash the milter" \
			"$msg"
	fi
	TODO=
fi

# ---- end: every milter stops cleanly on SIGTERM ----------------------------------------------

STOP_TODO[fragile]="the odd-string macro packet above (libmilter)"
proto_finish
